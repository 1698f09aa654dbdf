/* meta_int.h -- private to the meta module: the backend interface and what the
 * implementation files share.
 *
 * meta.c holds every public function of meta.h and dispatches through a `const`
 * table of operations per backend (struct meta_ops): meta_sqlite*.c / meta_gate.c /
 * meta_stats.c / meta_lifecycle.c implement SQLite, meta_pg*.c PostgreSQL. The
 * caches that sit in front of the database (live access keys, grant epochs) live in
 * meta.c, once for both backends; they are keyed by the metadata generation, which
 * each backend provides (SQLite: DIR/keys.gen memory-mapped by every process;
 * PostgreSQL: a counter bumped by a LISTEN thread on every NOTIFY). */
#ifndef TG_META_INT_H
#define TG_META_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "meta/meta.h"

#define META_KEY_CACHE 64
struct meta_key_entry {
    char akid[META_AKID_LEN + 1];
    char secret[META_SECRET_KEY_LEN + 1];
    uint64_t gen;
};

#define META_EPOCH_CACHE 32
struct meta_epoch_entry {
    char grant[64];
    uint64_t epoch, gen;
};

struct meta_ops;

struct meta {
    const struct meta_ops *ops;
    void *be; /* the backend's state */
    uint8_t secret[META_SECRET_LEN];
    pthread_rwlock_t cache_lock;
    struct meta_key_entry cache[META_KEY_CACHE];
    unsigned cache_next;
};

struct meta_gate {
    const struct meta_ops *ops;
    struct meta *m;
    void *be;
    pthread_rwlock_t ec_lock;
    struct meta_epoch_entry ec[META_EPOCH_CACHE];
    unsigned ec_next;
};

struct meta_stats {
    const struct meta_ops *ops;
    void *be;
};

/* One backend. Functions take the public structs and find their state in ->be.
 * Contracts are meta.h's unless noted. */
struct meta_ops {
    const char *name;
    int (*open)(struct meta *m, const struct meta_config *cfg); /* sets m->be */
    void (*close)(struct meta *m);                              /* m->be may be NULL */
    /* The metadata generation: bumped after every change a running server caches
     * (access keys, grant epochs, named-token revocation). While !gen_enabled nothing
     * may be cached. */
    uint64_t (*gen_load)(const struct meta *m);
    void (*gen_bump)(struct meta *m);
    bool (*gen_enabled)(const struct meta *m);

    int (*key_insert)(struct meta *m, const struct meta_key *k);
    int (*key_live)(struct meta *m, struct str akid); /* 0, or -ERR_INVALID_ACCESS_KEY */
    int (*key_delete)(struct meta *m, struct str akid, int64_t now_us); /* bumps the gen */
    int (*key_list)(struct meta *m, int (*fn)(void *ctx, const struct meta_key *k), void *ctx);
    int (*admin_key_set)(struct meta *m, const uint8_t sha256[32], int64_t now_us);
    int (*admin_key_get)(struct meta *m, uint8_t sha256[32]); /* -ERR_NOT_FOUND */

    int (*lease_try)(struct meta *m, const char *name, const char *holder, int64_t now,
                     int64_t until, bool *got);
    int (*lease_release)(struct meta *m, const char *name, const char *holder);

    int (*lc_rules_put)(struct meta *m, const char *bucket, const struct meta_lc_rule *r, size_t n);
    int (*lc_rules_get)(struct meta *m, const char *bucket, struct meta_lc_rule **out, size_t *n);
    int (*lc_rules_delete)(struct meta *m, const char *bucket);
    int (*lc_buckets)(struct meta *m, int (*fn)(void *ctx, const char *bucket), void *ctx);
    int (*lc_run_record)(struct meta *m, const struct meta_lc_run *r);
    int (*lc_run_last)(struct meta *m, struct meta_lc_run *out);
    int (*lc_run_totals)(struct meta *m, struct meta_lc_run *out);

    int (*gate_open)(struct meta_gate *mg); /* sets mg->be */
    void (*gate_close)(struct meta_gate *mg);
    int (*epoch_read)(struct meta_gate *mg, const char *grant, uint64_t *out); /* no cache */
    int (*epoch_bump)(struct meta_gate *mg, const char *grant, int64_t now, uint64_t *e);
    int (*named_insert)(struct meta_gate *mg, const uint8_t sha256[32], const struct meta_named *in,
                        int64_t *id);
    int (*named_by_hash)(struct meta_gate *mg, const uint8_t sha256[32], struct meta_named *out);
    int (*named_by_id)(struct meta_gate *mg, int64_t id, struct meta_named *out);
    int (*named_charge)(struct meta_gate *mg, int64_t id, bool download, int64_t now);
    int (*named_use)(struct meta_gate *mg, const uint8_t sha256[32], const char *grant, int64_t now,
                     struct meta_named *out);
    int (*named_list)(struct meta_gate *mg, int (*fn)(void *ctx, const struct meta_named *n),
                      void *ctx);
    int (*named_revoke)(struct meta_gate *mg, int64_t id, int64_t now);
    int (*horizon_raise)(struct meta_gate *mg, const char *bucket, const struct meta_horizon *h,
                         size_t n);
    int (*horizon_get)(struct meta_gate *mg, const char *bucket, struct str key, int64_t *out);

    int (*stats_open)(struct meta *m, struct meta_stats *ms); /* sets ms->be */
    void (*stats_close)(struct meta_stats *ms);
    int (*stats_insert)(struct meta_stats *ms, const struct meta_event *ev, size_t n);
    int (*stats_scan)(struct meta_stats *ms, int64_t from_us, int64_t to_us,
                      int (*fn)(void *ctx, const struct meta_event *e), void *ctx);
    int (*stats_visitors)(struct meta_stats *ms, int64_t from_us, int64_t to_us,
                          int (*fn)(void *ctx, const char *grant, uint64_t n), void *ctx);
    int (*stats_pulse)(struct meta_stats *ms, int64_t from_us, int64_t to_us, int download_kind,
                       int not_request_kind, uint64_t out[4]);
    int (*stats_first)(struct meta_stats *ms, int64_t *t_us);
    int (*stats_window_get)(struct meta_stats *ms, int window, int64_t start, char **json);
    int (*stats_window_put)(struct meta_stats *ms, int window, int64_t start, const char *json);
    int (*stats_delete_before)(struct meta_stats *ms, int64_t before_us, uint64_t *deleted);
};

extern const struct meta_ops meta_sqlite_ops; /* meta_sqlite.c */
extern const struct meta_ops meta_pg_ops;     /* meta_pg.c */

/* ---- SQLite: the per-area implementations the table in meta_sqlite.c names ---- */

/* The absolute path of meta.db. */
const char *meta_sqlite_path(const struct meta *m);

int meta_sq_lease_try(struct meta *m, const char *name, const char *holder, int64_t now,
                      int64_t until, bool *got);
int meta_sq_lease_release(struct meta *m, const char *name, const char *holder);

int meta_sq_lc_rules_put(struct meta *m, const char *bucket, const struct meta_lc_rule *r,
                         size_t n);
int meta_sq_lc_rules_get(struct meta *m, const char *bucket, struct meta_lc_rule **out, size_t *n);
int meta_sq_lc_rules_delete(struct meta *m, const char *bucket);
int meta_sq_lc_buckets(struct meta *m, int (*fn)(void *ctx, const char *bucket), void *ctx);
int meta_sq_lc_run_record(struct meta *m, const struct meta_lc_run *r);
int meta_sq_lc_run_last(struct meta *m, struct meta_lc_run *out);
int meta_sq_lc_run_totals(struct meta *m, struct meta_lc_run *out);

int meta_sq_gate_open(struct meta_gate *mg);
void meta_sq_gate_close(struct meta_gate *mg);
int meta_sq_epoch_read(struct meta_gate *mg, const char *grant, uint64_t *out);
int meta_sq_epoch_bump(struct meta_gate *mg, const char *grant, int64_t now, uint64_t *e);
int meta_sq_named_insert(struct meta_gate *mg, const uint8_t sha256[32],
                         const struct meta_named *in, int64_t *id);
int meta_sq_named_by_hash(struct meta_gate *mg, const uint8_t sha256[32], struct meta_named *out);
int meta_sq_named_by_id(struct meta_gate *mg, int64_t id, struct meta_named *out);
int meta_sq_named_charge(struct meta_gate *mg, int64_t id, bool download, int64_t now);
int meta_sq_named_use(struct meta_gate *mg, const uint8_t sha256[32], const char *grant,
                      int64_t now, struct meta_named *out);
int meta_sq_named_list(struct meta_gate *mg, int (*fn)(void *ctx, const struct meta_named *n),
                       void *ctx);
int meta_sq_named_revoke(struct meta_gate *mg, int64_t id, int64_t now);
int meta_sq_horizon_raise(struct meta_gate *mg, const char *bucket, const struct meta_horizon *h,
                          size_t n);
int meta_sq_horizon_get(struct meta_gate *mg, const char *bucket, struct str key, int64_t *out);

int meta_sq_stats_open(struct meta *m, struct meta_stats *ms);
void meta_sq_stats_close(struct meta_stats *ms);
int meta_sq_stats_insert(struct meta_stats *ms, const struct meta_event *ev, size_t n);
int meta_sq_stats_scan(struct meta_stats *ms, int64_t from_us, int64_t to_us,
                       int (*fn)(void *ctx, const struct meta_event *e), void *ctx);
int meta_sq_stats_visitors(struct meta_stats *ms, int64_t from_us, int64_t to_us,
                           int (*fn)(void *ctx, const char *grant, uint64_t n), void *ctx);
int meta_sq_stats_pulse(struct meta_stats *ms, int64_t from_us, int64_t to_us, int download_kind,
                        int not_request_kind, uint64_t out[4]);
int meta_sq_stats_first(struct meta_stats *ms, int64_t *t_us);
int meta_sq_stats_window_get(struct meta_stats *ms, int window, int64_t start, char **json);
int meta_sq_stats_window_put(struct meta_stats *ms, int window, int64_t start, const char *json);
int meta_sq_stats_delete_before(struct meta_stats *ms, int64_t before_us, uint64_t *deleted);

/* The generation, dispatched (used by the caches in meta.c). */
uint64_t meta_gen_load(const struct meta *m);
void meta_gen_bump(struct meta *m);
bool meta_gen_enabled(const struct meta *m);

#endif
