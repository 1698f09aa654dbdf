/* events.h -- operator events and health.
 *
 * The bus: an in-process, thread-safe ring of the last EVENTS_RING_MAX events
 * ("published", "retired", "deleted", "rejected"), each a JSON object carrying its own
 * "kind", "time" (ISO 8601 UTC, the tollgate clock) and "id" (sequence, 1, 2, ...)
 * beside the emitter's payload (grant, key, date, reason...).
 *   - SSE subscribers (GET /api/admin/events) read the ring by cursor. A subscriber that
 *     falls more than EVENTS_RING_MAX events behind loses the oldest ones; it is told so
 *     by an `event: dropped` whose data is {"dropped":N,"first_kept":SEQ} before the
 *     events it still gets. At most EVENTS_SUBSCRIBERS_MAX subscribers at once.
 *   - Webhooks ([webhook NAME] url, secret, events) get the same JSON, POSTed by one
 *     background thread (libcurl) with X-Tollgate-Event, X-Tollgate-Delivery and
 *     X-Tollgate-Signature: sha256=<hex HMAC-SHA256(secret, body)>; a failed delivery
 *     (no 2xx, or no answer within EVENTS_WEBHOOK_TIMEOUT_S) is retried after 1, 2, 4, 8,
 *     16 s (+ up to 25% jitter): EVENTS_WEBHOOK_TRIES attempts in all. The queue holds at
 *     most EVENTS_WEBHOOK_QUEUE_MAX deliveries; beyond, the oldest is dropped (logged).
 *     Secrets are never logged; URLs are logged without their query string.
 *
 * Health: events_health() builds the JSON of `tollgate health --json` and
 * GET /api/admin/status from what is stored (the grants' _index/<grant>.json and MTD
 * manifests) and the last lifecycle run the caller passes in (so this module does not
 * call lifecycle: it sits beside it). */
#ifndef TG_EVENTS_H
#define TG_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/util.h"

struct gate;
struct store;

#define EVENTS_RING_MAX 1024          /* events kept for SSE cursors */
#define EVENTS_SUBSCRIBERS_MAX 4      /* concurrent SSE subscribers; beyond: 503 */
#define EVENTS_HEARTBEAT_S 15         /* SSE comment when nothing happened */
#define EVENTS_EVENT_MAX (16u << 10)  /* one event's JSON, bytes */
#define EVENTS_WEBHOOKS_MAX 16        /* [webhook NAME] sections */
#define EVENTS_WEBHOOK_TRIES 6        /* attempts per delivery */
#define EVENTS_WEBHOOK_TIMEOUT_S 10   /* one attempt, connect + answer */
#define EVENTS_WEBHOOK_QUEUE_MAX 1024 /* deliveries waiting */
#define EVENTS_STOP_WAIT_S 5          /* events_close waits this long for the thread */

/* Config keys read by events_open and events_health_config (for cfg_check_known). */
extern const char *const events_config_keys[];

enum events_kind { EV_PUBLISHED, EV_RETIRED, EV_DELETED, EV_REJECTED, EV_KINDS };
const char *events_kind_name(enum events_kind k);

struct events;
/* Parses the [webhook NAME] sections (url http(s)://..., secret non-empty, events a
 * space-separated subset of the kinds; default all). Errors: "FILE:LINE: ..." in *err
 * (caller frees). Starts no thread. */
int events_open(const struct cfg *c, struct events **out, char **err);
/* Starts the bus's thread: webhook deliveries and the subscribers' heartbeats. */
int events_start(struct events *ev);
/* Stops the thread (waits at most EVENTS_STOP_WAIT_S: a delivery in flight is
 * abandoned) and frees. NULL-safe. Subscribers must be closed before. */
void events_close(struct events *ev);
size_t events_webhook_count(const struct events *ev);
/* Ends every subscriber's stream (their next read returns -ERR_UNAVAILABLE): call before
 * draining the HTTP server so SSE requests finish. Emitting still works. */
void events_shutdown(struct events *ev);

/* Emits an event: adds "kind", "time" and "id" to payload (taken, also on failure; NULL
 * = {}), appends it to the ring, wakes subscribers, queues webhook deliveries.
 * Returns the sequence id (>0), or 0 when ev is NULL or memory failed. */
uint64_t events_emit(struct events *ev, enum events_kind kind, void *payload /* json_t * */);
uint64_t events_last_id(struct events *ev);

/* ---- SSE subscribers ---- */
struct events_sub;
/* last_id: the Last-Event-ID the client sent (has_last false: only new events). A
 * last_id beyond the newest event (the server restarted) replays the whole ring.
 * -ERR_UNAVAILABLE (503) when EVENTS_SUBSCRIBERS_MAX are connected. */
int events_sub_open(struct events *ev, bool has_last, uint64_t last_id, struct events_sub **out);
/* notify(ctx) is called (from any thread, with the bus locked: it must not call back
 * into the bus) when the subscriber has something to read: an event, a heartbeat due
 * (the bus's thread checks every second), or the shutdown. NULL: no calls. */
void events_sub_notify(struct events_sub *s, void (*notify)(void *ctx), void *ctx);
void events_sub_close(struct events_sub *s); /* NULL-safe; no notify after it returns */
/* Makes every subscriber write a comment line (":") now, so streams whose client went
 * away (a parked stream notices only when it writes) are ended and free their slot:
 * the portal calls it when a subscriber is refused for lack of slots. */
void events_probe(struct events *ev);
/* Writes SSE text (whole frames, at most cap bytes) for the events after the cursor,
 * waiting at most wait_ms for one; ": heartbeat" when EVENTS_HEARTBEAT_S passed
 * without output. Returns bytes written (0: nothing yet), -ERR_UNAVAILABLE once
 * events_shutdown ran, -ERR_INVALID when cap < 256. */
ssize_t events_sub_read(struct events_sub *s, char *out, size_t cap, int wait_ms);

/* One event as SSE text: "event: KIND\ndata: JSON\nid: SEQ\n\n" (for tests and docs). */
int events_sse_frame(struct buf *b, const char *kind, const char *json, uint64_t id);

/* ---- webhook helpers (exposed for tests) ---- */
/* "sha256=" + lowercase hex HMAC-SHA256(secret, body): out needs 72 bytes. */
void events_signature(const char *secret, const void *body, size_t n, char out[72]);
/* Delay before attempt `attempt` (1-based; attempt 1 is immediate = 0 ms):
 * 1000 * 2^(attempt-2) ms plus jitter in [0, 25%) taken from `rnd`. */
int64_t events_backoff_ms(unsigned attempt, uint32_t rnd);

/* ---- health ---- */
struct events_health_opts {
    struct store *store;
    const char *bucket;
    struct gate *gate;
    int64_t now;
    unsigned stale_after_hour; /* [health] stale_after_hour, default 6 */
    int64_t lifecycle_max_age; /* [health] lifecycle_max_age, default 2 h; 0: no check */
    bool has_lifecycle;        /* last_lifecycle_run is known */
    int64_t last_lifecycle_run;
    bool serving; /* a server runs the scheduler: a missing/old lifecycle run is a problem */
    const char *const
        *grants; /* NULL or n_grants 0: all grants; else names (unknown: -ERR_NOT_FOUND) */
    size_t n_grants;
};
/* Reads [health] stale_after_hour (0..23) and lifecycle_max_age into o. */
int events_health_config(const struct cfg *c, struct events_health_opts *o, char **err);
/* Builds {"ok", "grants": [{"grant","ok","newest_daily","mtd_month","mtd_built_at",
 * "last_lifecycle_run","next_rotation","problems":[...]}]} into *out (json_t *).
 * err gets a sentence on failure (unknown grant). */
int events_health(const struct events_health_opts *o, void **out, char err[256]);

#endif
