/* lifecycle.h -- retention and lifecycle rules, link-horizon-aware deletion, multipart
 * abort and blob GC (DESIGN.md "Publishing", "Access model").
 *
 * What is kept (the policy), per bucket:
 *   - the data bucket, per grant and per grant prefix P: the newest keep_daily folders
 *     P daily/YYYY-MM-DD/, the newest P mtd/YYYY-MM/, the newest keep_monthly folders
 *     P monthly/YYYY-MM/ plus, among older ones, the December bundles of the newest
 *     keep_yearly years that have one (keep_yearly = all: every December bundle);
 *   - [lifecycle NAME] rules of the configuration (data bucket) and S3 lifecycle rules
 *     (their bucket): objects under `prefix` older than expire_after, or outside the
 *     newest keep_newest (both set: older than expire_after AND outside the newest N);
 *     multipart uploads under `prefix` older than abort_multipart_after are aborted.
 * _index/, inbox/ and inbox-rejected/ of the data bucket are never touched unless a
 * rule's prefix names them.
 *
 * The guarantee: no link handed out ever returns 404 before it expires. An object
 * outside the policy is RETIRED (store_obj_retire: still served, hidden from the
 * portal and the index) at once, and DELETED by a later pass, once its link horizon
 * (the gate's, pending horizons flushed first) has passed and it has been retired for
 * LIFECYCLE_SETTLE_S (longer than the gate's horizon flush interval, so a link minted
 * by another process a moment before the retirement is on record). A folder of the
 * layout (object + manifest.json) is retired and deleted as one unit.
 *
 * Thread-safe for one caller at a time per struct lifecycle; passes of several
 * processes on one data directory are safe (each step re-checks the store). */
#ifndef TG_LIFECYCLE_H
#define TG_LIFECYCLE_H

#include <stdbool.h>
#include <stdint.h>

#include "util/util.h"

struct store;
struct meta;
struct gate;

#define LIFECYCLE_SETTLE_S 10     /* a retired object is kept at least this long */
#define LIFECYCLE_GC_GRACE_S 3600 /* blob GC grace period (store_gc) */
#define LIFECYCLE_RULES_MAX 256   /* [lifecycle NAME] sections */

struct lifecycle;
/* Parses the [lifecycle NAME] sections of c (errors: "FILE:LINE: [lifecycle x] key =
 * v: why" in *err, caller frees). bucket: the data bucket. g may be NULL (no grants:
 * only rules apply); m may be NULL (no S3 rules, no run records). */
int lifecycle_open(const struct cfg *c, struct store *st, struct meta *m, struct gate *g,
                   const char *bucket, struct lifecycle **out, char **err);
void lifecycle_close(struct lifecycle *lc); /* NULL-safe */
/* The config keys lifecycle_open reads, for cfg_check_known (NULL-terminated). */
extern const char *const lifecycle_config_keys[];

enum lifecycle_act { LC_RETIRE, LC_DELETE, LC_WAIT, LC_ABORT_UPLOAD };
struct lifecycle_action {
    enum lifecycle_act act;
    const char *bucket, *key, *grant; /* grant: NULL when no grant's prefix holds the key */
    const char *why;
    int64_t horizon; /* link horizon (seconds), 0 none */
};
struct lifecycle_report {
    int64_t ran_at;
    unsigned retired, deleted, waiting, aborted_uploads, blobs_removed;
    uint64_t blob_bytes;
    unsigned grants_changed;
    bool skipped; /* apply: another process (node) held the lifecycle lease: nothing done */
};
/* The action's verb: "retire", "delete", "wait", "abort-upload". */
const char *lifecycle_act_name(enum lifecycle_act a);

/* plan: what apply would do at `now`, one call per action, nothing changed. fn
 * returning < 0 stops the pass with that value. */
int lifecycle_plan(struct lifecycle *lc, int64_t now,
                   int (*fn)(void *ctx, const struct lifecycle_action *a), void *ctx);
/* apply: one process at a time across every node sharing the metadata (the lease
 * LIFECYCLE_LEASE, LIFECYCLE_LEASE_TTL_S of wall-clock time, renewed as the pass goes;
 * a holder that died frees it when it expires): when another holds it, returns 0 with
 * rep->skipped. Otherwise does it (retire, delete after horizon, abort old uploads, blob GC), calls
 * `changed(ctx, grant_name)` once for each grant whose listing changed (the caller
 * rewrites that grant's index with publish_index), fn per action done; records the
 * run in meta. fn and changed may be NULL; rep may be NULL. */
#define LIFECYCLE_LEASE "lifecycle"
#define LIFECYCLE_LEASE_TTL_S 120
int lifecycle_apply(struct lifecycle *lc, int64_t now,
                    int (*fn)(void *ctx, const struct lifecycle_action *a),
                    void (*changed)(void *ctx, const char *grant), void *ctx,
                    struct lifecycle_report *rep);
/* The newest recorded run; -ERR_NOT_FOUND if never. */
int lifecycle_last_run(struct lifecycle *lc, struct lifecycle_report *out);
/* The sums over every recorded run (ran_at: the newest); -ERR_NOT_FOUND if never. */
int lifecycle_totals(struct lifecycle *lc, struct lifecycle_report *out);

#endif
