/* meta.h -- the metadata interface: the server secret, S3 access keys and the admin
 * key, tokens, grant state, link horizons, analytics, lifecycle rules and leases.
 * Two backends behind the same functions: SQLite (DIR/meta.db, WAL; the default)
 * and PostgreSQL (`[meta] backend = postgres`, `dsn = ...`), so several nodes can
 * share one deployment. Every function behaves the same on both.
 *
 * Secrets on disk: DIR/secret (32 random bytes, 0600) is the only secret kept in the
 * clear, as DESIGN.md says. S3 secret access keys are derived from it
 * (HMAC(secret, "s3key|" id)), so meta.db holds only ids, labels and states; the
 * admin key is stored as its SHA-256. Deleting a key takes effect on the next
 * request of every process using DIR (no cache outlives a database change). */
#ifndef TG_META_H
#define TG_META_H

#include <stdbool.h>
#include <stdint.h>

#include "util/util.h"

#define META_SECRET_LEN 32
#define META_AKID_LEN 20       /* "TG" + 18 characters of [A-Z0-9] */
#define META_SECRET_KEY_LEN 40 /* like AWS secret access keys */
#define META_ADMIN_KEY_LEN 36  /* "tga_" + 32 base64url characters */
#define META_LABEL_MAX 128

/* DIR/secret: create (refuses to overwrite) / load (refuses a file readable by
 * group or others, or of the wrong size). */
int meta_secret_create(const char *data_dir);
int meta_secret_load(const char *data_dir, uint8_t out[META_SECRET_LEN], char **err);

struct meta;
/* Which database: backend NULL or "sqlite" is DIR/meta.db; "postgres" connects to dsn
 * (a libpq connection string or URI; it may hold a password: it is never logged)
 * and applies the schema migrations at open (serialized across nodes). DIR/secret
 * stays a file in both cases. */
struct meta_config {
    const char *data_dir;
    const char *backend; /* NULL/"sqlite" or "postgres" */
    const char *dsn;     /* postgres only */
};
/* The secret is copied and wiped on close. -ERR_CONFIG for an unknown backend or a
 * missing dsn; -ERR_UNAVAILABLE when the database cannot be reached. */
int meta_open_cfg(const struct meta_config *cfg, const uint8_t secret[META_SECRET_LEN],
                  struct meta **out);
/* meta_open_cfg with SQLite: opens DIR/meta.db (creating its tables). */
int meta_open(const char *data_dir, const uint8_t secret[META_SECRET_LEN], struct meta **out);
void meta_close(struct meta *m);                     /* NULL-safe */
const char *meta_backend_name(const struct meta *m); /* "sqlite" or "postgres" */

/* Access keys. kind: "s3" (full S3 access) or "portal" (used to sign member links). */
struct meta_key {
    char akid[META_AKID_LEN + 1];
    char kind[16];
    char label[META_LABEL_MAX];
    int64_t created_us;
};
int meta_key_create(struct meta *m, const char *kind, const char *label, struct meta_key *out,
                    char secret[META_SECRET_KEY_LEN + 1]);
/* The derived secret of a live key; -ERR_INVALID_ACCESS_KEY when unknown or deleted. */
int meta_key_secret(struct meta *m, struct str akid, char *secret, size_t cap);
int meta_key_delete(struct meta *m, struct str akid); /* -ERR_NOT_FOUND */
int meta_key_list(struct meta *m, int (*fn)(void *ctx, const struct meta_key *k), void *ctx);

/* Admin key: a new one replaces the old (printed once, stored hashed). */
int meta_admin_key_create(struct meta *m, char out[META_ADMIN_KEY_LEN + 1]);
bool meta_admin_key_check(struct meta *m, struct str key);

/* ---- gate: epochs, named tokens, link horizons ---- */

/* The gate's tables live in meta.db but are reached through a connection of their
 * own (struct meta_gate), so the gate's hot paths never wait on the S3 key lookups.
 * Every read goes to the database (no cache): an epoch bumped or a token revoked by
 * another process is seen by the next call. Counters are charged with one
 * conditional UPDATE, so concurrent callers (threads or processes) never exceed a
 * limit. */
struct meta_gate;
int meta_gate_open(struct meta *m, struct meta_gate **out);
void meta_gate_close(struct meta_gate *mg); /* NULL-safe */

/* A grant's epoch (0 when never bumped). */
int meta_epoch_get(struct meta_gate *mg, const char *grant, uint64_t *out);
int meta_epoch_bump(struct meta_gate *mg, const char *grant, int64_t now, uint64_t *new_epoch);

#define META_GRANT_MAX 64
struct meta_named {
    int64_t id;
    char grant[META_GRANT_MAX];
    char label[META_LABEL_MAX];
    int64_t max_uses, max_downloads; /* 0 = unlimited */
    int64_t uses, downloads;
    int64_t created, expires_at, revoked_at, last_used; /* seconds; 0 = never/none */
};
/* Inserts a named token by the SHA-256 of its secret; in->id is ignored, *id gets it. */
int meta_named_insert(struct meta_gate *mg, const uint8_t sha256[32], const struct meta_named *in,
                      int64_t *id);
int meta_named_by_hash(struct meta_gate *mg, const uint8_t sha256[32], struct meta_named *out);
int meta_named_by_id(struct meta_gate *mg, int64_t id, struct meta_named *out);
/* Charges one use (downloads = false) or one download: -ERR_ACCESS_DENIED when the
 * token is revoked, expired at `now`, or at its limit (then nothing changes). */
int meta_named_charge(struct meta_gate *mg, int64_t id, bool download, int64_t now);
/* A portal open in one statement (one round trip on PostgreSQL): charges one use of
 * the token with this hash when it belongs to `grant`, is not revoked, not expired
 * at `now` and under max_uses, and returns its row as charged. Otherwise
 * -ERR_ACCESS_DENIED (unknown token included) and nothing changes. */
int meta_named_use(struct meta_gate *mg, const uint8_t sha256[32], const char *grant, int64_t now,
                   struct meta_named *out);
int meta_named_list(struct meta_gate *mg, int (*fn)(void *ctx, const struct meta_named *n),
                    void *ctx);
int meta_named_revoke(struct meta_gate *mg, int64_t id, int64_t now); /* -ERR_NOT_FOUND */

/* Link horizons: for bucket/key, the latest expiry of any link minted for it. Raising
 * keeps the maximum; a batch is one transaction. */
struct meta_horizon {
    const char *key;
    int64_t horizon;
};
int meta_horizon_raise(struct meta_gate *mg, const char *bucket, const struct meta_horizon *h,
                       size_t n);
int meta_horizon_get(struct meta_gate *mg, const char *bucket, struct str key, int64_t *out);

/* ---- analytics (meta_stats.c): raw events and saved rollup windows ---- */

/* A raw analytics event as stored (no client address, no salt: only the visitor hash). */
struct meta_event {
    int64_t t_us;
    int kind, status;
    const char *grant, *token, *key;
    uint64_t bytes;
    bool range;
    const uint8_t *visitor; /* 16 bytes */
    const char *family, *os, *device, *referrer, *detail;
};
struct meta_stats; /* a connection of its own, guarded by a mutex */
int meta_stats_open(struct meta *m, struct meta_stats **out);
void meta_stats_close(struct meta_stats *ms); /* NULL-safe */
/* One transaction for the batch. */
int meta_stats_insert(struct meta_stats *ms, const struct meta_event *ev, size_t n);
/* Events with from_us <= t_us < to_us in time order; fn < 0 stops with it. */
int meta_stats_scan(struct meta_stats *ms, int64_t from_us, int64_t to_us,
                    int (*fn)(void *ctx, const struct meta_event *e), void *ctx);
/* Distinct visitors per grant in [from_us, to_us). */
int meta_stats_visitors(struct meta_stats *ms, int64_t from_us, int64_t to_us,
                        int (*fn)(void *ctx, const char *grant, uint64_t n), void *ctx);
/* Requests (events not of not_request_kind), downloads (of download_kind), their bytes,
 * distinct visitors in the range. */
int meta_stats_pulse(struct meta_stats *ms, int64_t from_us, int64_t to_us, int download_kind,
                     int not_request_kind, uint64_t out[4]);
int meta_stats_first(struct meta_stats *ms, int64_t *t_us); /* -ERR_NOT_FOUND when none */
/* Saved windows (JSON text): get is -ERR_NOT_FOUND when never saved; put keeps the first. */
int meta_stats_window_get(struct meta_stats *ms, int window, int64_t start, char **json);
int meta_stats_window_put(struct meta_stats *ms, int window, int64_t start, const char *json);
int meta_stats_delete_before(struct meta_stats *ms, int64_t before_us, uint64_t *deleted);

/* ---- lifecycle (meta_lifecycle.c): S3 bucket lifecycle rules, lifecycle runs ---- */

/* One rule set by S3 PutBucketLifecycleConfiguration. A bucket's rules are replaced
 * as a whole (one transaction) and keep their order. */
#define META_LC_ID_MAX 256 /* S3: at most 255 characters */
#define META_LC_RULES_MAX 1000
struct meta_lc_rule {
    char id[META_LC_ID_MAX];
    bool enabled;
    char *prefix;        /* malloc'd by meta_lc_rules_get; "" = the whole bucket */
    int64_t expire_days; /* Expiration/Days; 0 = none */
    int64_t abort_days;  /* AbortIncompleteMultipartUpload/DaysAfterInitiation; 0 = none */
};
int meta_lc_rules_put(struct meta *m, const char *bucket, const struct meta_lc_rule *r, size_t n);
/* -ERR_NOT_FOUND when the bucket has no configuration. */
int meta_lc_rules_get(struct meta *m, const char *bucket, struct meta_lc_rule **out, size_t *n);
void meta_lc_rules_free(struct meta_lc_rule *r, size_t n);    /* NULL-safe */
int meta_lc_rules_delete(struct meta *m, const char *bucket); /* none: still 0 */
/* The buckets that have a configuration, in name order. */
int meta_lc_buckets(struct meta *m, int (*fn)(void *ctx, const char *bucket), void *ctx);

/* One lifecycle apply run (table lifecycle_runs). */
struct meta_lc_run {
    int64_t ran_at; /* seconds */
    unsigned retired, deleted, waiting, aborted_uploads, blobs_removed;
    uint64_t blob_bytes;
    unsigned grants_changed;
};
int meta_lc_run_record(struct meta *m, const struct meta_lc_run *r);
int meta_lc_run_last(struct meta *m, struct meta_lc_run *out); /* -ERR_NOT_FOUND if never */
/* The sums of every run recorded (ran_at: the newest); -ERR_NOT_FOUND if never. */
int meta_lc_run_totals(struct meta *m, struct meta_lc_run *out);

/* ---- leases: so two nodes never do the same work twice ---- */

#define META_LEASE_NAME_MAX 128
#define META_LEASE_HOLDER_MAX 128
/* Takes the named lease until now + ttl_s when it is free, expired at `now`, or
 * already held by `holder` (then it is extended): *got = true. Held by another
 * holder and not expired: *got = false, nothing changes. One statement, atomic
 * across processes and nodes. Times are seconds. */
int meta_lease_try(struct meta *m, const char *name, const char *holder, int64_t now, int64_t ttl_s,
                   bool *got);
/* Gives the lease up; -ERR_NOT_FOUND when `holder` does not hold it. */
int meta_lease_release(struct meta *m, const char *name, const char *holder);

#endif
