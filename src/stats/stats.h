/* stats.h -- download analytics without cookies (DESIGN.md "Analytics").
 *
 * Events (portal view, API view, token rejected, link minted, download, S3 call) carry a
 * grant, a token id (never the secret), a key, a status, bytes, a visitor hash, the
 * reduced user agent and the referrer's domain. They are aggregated into windows of 30
 * minutes, hours, UTC days, months and years; each window is computed from the one
 * below it (the 30-minute window from the raw events) and saved once it has closed.
 * Unique visitors are exact for windows up to a day (counted over the raw events);
 * a month or a year reports the sum of its days' uniques (visitors_summed).
 *
 * User agents are reduced to three words -- a family ("Chrome", "curl", "aws-cli",
 * "Googlebot", ...), an OS ("Windows", "macOS", "iOS", "Android", "Linux", ...) and a
 * device class ("desktop", "mobile", "tablet", "bot", "tool") -- by ordered tables of
 * case-insensitive substrings: the first row that matches wins, so specific names
 * (Edg/, OPR/, SamsungBrowser/) come before the engines they embed (Chrome/, Safari/).
 * The full string is never kept. Unknown agents reduce to "other". */
#ifndef TG_STATS_H
#define TG_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

#define STATS_UA_MAX 1024 /* bytes of a User-Agent looked at; the rest is ignored */

struct stats_ua {
    const char *family; /* static strings */
    const char *os;
    const char *device;
};
void stats_ua_reduce(struct str user_agent, struct stats_ua *out);

/* ---- events ---- */
enum stats_kind {
    STATS_PORTAL_VIEW,
    STATS_API_VIEW,
    STATS_REJECTED,
    STATS_LINK_MINTED,
    STATS_DOWNLOAD,
    STATS_S3_CALL,
    STATS_KIND_COUNT
};
extern const char *const stats_kind_name[STATS_KIND_COUNT]; /* "portal_view", ... */

#define STATS_GRANT_MAX 64
#define STATS_TOKEN_MAX 32 /* "tok#1a2b3c4d" or "named#42" */
#define STATS_KEY_MAX 1024 /* longer keys are cut */
#define STATS_REFERRER_MAX 256
#define STATS_DETAIL_MAX 64 /* S3 op name or rejection reason */
#define STATS_VISITOR_LEN 16

struct stats_event {
    int64_t t_us;
    enum stats_kind kind;
    char grant[STATS_GRANT_MAX]; /* "" for S3 calls outside any grant */
    char token[STATS_TOKEN_MAX];
    char key[STATS_KEY_MAX];
    int status;     /* HTTP status */
    uint64_t bytes; /* bytes actually sent */
    bool range;     /* a Range request */
    uint8_t visitor[STATS_VISITOR_LEN];
    const char *family, *os, *device;  /* static (stats_ua_reduce) */
    char referrer[STATS_REFERRER_MAX]; /* domain only */
    char detail[STATS_DETAIL_MAX];
};

/* The domain of a Referer header value ("https://Example.org:8443/a?b" ->
 * "example.org"); "" when there is none or it is not an http(s) URL. */
void stats_referrer_domain(struct str referer, char out[STATS_REFERRER_MAX]);

/* ---- windows ---- */
enum stats_window { STATS_W30M, STATS_WHOUR, STATS_WDAY, STATS_WMONTH, STATS_WYEAR, STATS_WCOUNT };
extern const char *const stats_window_name[STATS_WCOUNT]; /* "30m" "hour" "day" "month" "year" */
int stats_window_parse(struct str s, enum stats_window *out);
/* The start (UTC, seconds) of the window holding t, and of the next one. */
int64_t stats_window_start(enum stats_window w, int64_t t);
int64_t stats_window_next(enum stats_window w, int64_t start);

/* ---- aggregates ---- */
/* What a window holds, per grant: counts and bytes per (kind, status class 1..5),
 * downloads per key, events per token, events per referrer domain, unique visitors.
 * At most STATS_REFERRERS_MAX referrer domains per aggregate; more count as "(other)". */
#define STATS_REFERRERS_MAX 1000
enum stats_dim {
    STATS_DIM_CELL,
    STATS_DIM_KEY,
    STATS_DIM_TOKEN,
    STATS_DIM_REFERRER,
    STATS_DIM_VISITORS
};
struct stats_entry {
    enum stats_dim dim;
    const char *grant;
    enum stats_kind kind; /* STATS_DIM_CELL */
    int sclass;           /* STATS_DIM_CELL: status / 100 */
    const char *value;    /* key, token or domain ("" for cells and visitors) */
    uint64_t count, bytes;
};
struct stats_agg;
struct stats_agg *stats_agg_new(void);
void stats_agg_free(struct stats_agg *a); /* NULL-safe */
/* Adds count/bytes to an entry (visitors: count = the number of visitors). */
int stats_agg_add(struct stats_agg *a, const struct stats_entry *e);
/* One event: its cell; its key (downloads); its token; its referrer. Not visitors. */
int stats_agg_add_event(struct stats_agg *a, const struct stats_event *ev);
int stats_agg_add_fields(struct stats_agg *a, enum stats_kind kind, const char *grant,
                         const char *token, const char *key, int status, uint64_t bytes,
                         const char *referrer);
int stats_agg_merge(struct stats_agg *dst, const struct stats_agg *src);
/* Drops every STATS_DIM_VISITORS entry. */
void stats_agg_clear_visitors(struct stats_agg *a);
bool stats_agg_visitors_summed(const struct stats_agg *a);
void stats_agg_set_visitors_summed(struct stats_agg *a, bool v);
size_t stats_agg_size(const struct stats_agg *a);
/* In no particular order; fn < 0 stops with it. */
int stats_agg_each(const struct stats_agg *a, int (*fn)(void *ctx, const struct stats_entry *e),
                   void *ctx);
/* 0 if equal, else -1 and a sentence in why (for tests and checks). */
int stats_agg_compare(const struct stats_agg *a, const struct stats_agg *b, char *why, size_t cap);
/* Compact JSON (what is saved for a closed window) and back. */
char *stats_agg_to_json(const struct stats_agg *a);
int stats_agg_from_json(const char *json, struct stats_agg **out);

/* Where the cascade reads raw events and keeps closed windows (meta in the server, an
 * array in the tests). raw_agg adds the events of [from, to) (stats_agg_add_event);
 * raw_visitors adds each grant's exact number of distinct visitors in [from, to);
 * load returns -ERR_NOT_FOUND for a window never saved; raw_first gives the time (s)
 * of the oldest raw event kept (INT64_MAX when none): a window that ends before it and
 * was never saved is empty (raw events are deleted only after their days are saved). */
struct stats_source {
    int64_t (*raw_first)(void *ctx);
    int (*raw_agg)(void *ctx, int64_t from, int64_t to, struct stats_agg *into);
    int (*raw_visitors)(void *ctx, int64_t from, int64_t to, struct stats_agg *into);
    int (*load)(void *ctx, enum stats_window w, int64_t start, struct stats_agg **out);
    int (*save)(void *ctx, enum stats_window w, int64_t start, const struct stats_agg *a);
    void *ctx;
};
/* The aggregate of window w starting at `start` (a window start), as of `now`: a
 * closed window is loaded, or computed from the windows below it and saved; an open
 * one is computed fresh and not saved. */
int stats_window_get(const struct stats_source *src, enum stats_window w, int64_t start,
                     int64_t now, struct stats_agg **out);

/* ---- the recorder and queries (stats.c) ---- */

struct cfg;
struct meta;
typedef struct json_t json_t;

/* [stats] enabled (on), raw_events_keep (90d), pulse_window (5m), trusted_proxies (none),
 * metrics_public (off). */
extern const char *const stats_config_keys[];
#define STATS_BUFFER_MAX 2048        /* events buffered per flush; more are dropped, counted */
#define STATS_FLUSH_INTERVAL_MS 1000 /* a crash loses at most this much */
#define STATS_QUERY_WINDOWS_MAX 2000 /* windows one query may cover */
#define STATS_TOP_MAX 10

struct stats_settings {
    bool enabled, metrics_public;
    int64_t raw_keep_s, pulse_window_s;
};
struct stats;
/* Opens the analytics (a writer thread when enabled). */
int stats_open(const struct cfg *c, struct meta *m, struct stats **out, char **err);
void stats_close(struct stats *st); /* flushes; NULL-safe */
const struct stats_settings *stats_settings(const struct stats *st);

/* What the request path knows. Copied into the buffer (no I/O, no hashing here); the
 * writer thread hashes the visitor, reduces the agent and the referrer, and writes
 * batches. Client addresses and agents never leave memory. */
struct stats_hit {
    enum stats_kind kind;
    const char *grant, *token, *key, *detail; /* NULL = "" */
    int status;
    uint64_t bytes;
    bool range;
    struct str peer, xff, user_agent, referer;
    int64_t t_us; /* 0 = now */
};
void stats_record(struct stats *st, const struct stats_hit *h); /* NULL-safe */
int stats_flush(struct stats *st);                              /* what is buffered, now */
uint64_t stats_dropped(const struct stats *st);
/* Events recorded by this process since it started, per kind (for /metrics). */
uint64_t stats_recorded(const struct stats *st, enum stats_kind kind);

/* {"window", "from", "to", "visitors_are", "series": [...], "top_keys", "top_tokens",
 * "top_referrers"}; from/to: dates or ISO times (to inclusive for a date); grant NULL =
 * every grant seen. -ERR_INVALID with a sentence in err (256 bytes) for bad ranges. */
int stats_query(struct stats *st, enum stats_window w, const char *from, const char *to,
                const char *grant, int64_t now, json_t **out, char *err);
/* {"window_minutes", "requests", "downloads", "bytes", "visitors"} over the pulse window. */
int stats_pulse(struct stats *st, int64_t now, json_t **out);
/* Saves every closed day (and month) older than raw_events_keep, then deletes those raw
 * events. Run by the lifecycle pass. */
int stats_expire(struct stats *st, int64_t now, uint64_t *deleted);

#endif
