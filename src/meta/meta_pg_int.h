/* meta_pg_int.h -- private to the PostgreSQL backend (meta_pg*.c): the guarded
 * connection every struct of the backend uses, and small codecs.
 *
 * A struct meta_pgc is one libpq connection behind a mutex, with the statements of
 * its owner prepared on it (named "q0", "q1", ... by index). Each call is one round
 * trip. When the server or the network dropped the connection (PQstatus !=
 * CONNECTION_OK), it is reset once (then the statements are prepared again) and a
 * statement marked `retry` (a read or an idempotent write) runs again; otherwise the
 * call fails with -ERR_UNAVAILABLE and the next call starts on the new connection.
 * A failed reset is tried again at most once a second, so a database that is down
 * costs callers an error, not a connect timeout each. Errors are logged with libpq's
 * message (host, port, user at most), never the connection string. */
#ifndef TG_META_PG_INT_H
#define TG_META_PG_INT_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "meta/meta_int.h"

struct meta_pgq {
    const char *sql;
    bool retry; /* safe to run again after a reconnect */
};

struct meta_pgc {
    PGconn *c;
    pthread_mutex_t mu;
    const struct meta_pgq *q;
    int nq;
    bool prepared;
    int64_t failed_us; /* when the last reset failed; 0: none */
    const char *what;  /* for the logs: "meta", "gate", "stats" */
};

/* Connects (libpq connection string or URI). -ERR_UNAVAILABLE when it cannot. */
PGconn *meta_pg_connect(const char *dsn, const char *what, int *rc);
int meta_pgc_open(struct meta_pgc *pc, const char *dsn, const char *what, const struct meta_pgq *q,
                  int nq);
void meta_pgc_close(struct meta_pgc *pc); /* a zeroed struct is fine */
/* Locks the connection, restoring it when broken; on failure it is left unlocked. */
int meta_pgc_lock(struct meta_pgc *pc);
void meta_pgc_unlock(struct meta_pgc *pc);
/* Runs prepared statement i (caller holds the lock). Parameters are text unless
 * fmt[k] == 1 (binary, len[k] bytes); v[k] NULL is SQL NULL. On success *res is a
 * result (PGRES_COMMAND_OK or PGRES_TUPLES_OK) the caller PQclear()s. */
int meta_pgc_run(struct meta_pgc *pc, int i, int n, const char *const *v, const int *len,
                 const int *fmt, PGresult **res);
/* The same for SQL text that is not prepared; res may be NULL. Inside a
 * transaction (BEGIN ... COMMIT) pass retry = false: a reset ends the transaction. */
int meta_pgc_sql(struct meta_pgc *pc, const char *sql, bool retry, int n, const char *const *v,
                 const int *len, const int *fmt, PGresult **res);
/* Logs a failure of `what` and returns -ERR_DB (or -ERR_UNAVAILABLE when the
 * connection is gone). */
int meta_pg_fail(PGconn *c, const PGresult *res, const char *who, const char *what);

/* Codecs. */
#define META_PG_I64 24
const char *meta_pg_i64(char b[META_PG_I64], int64_t v);
int64_t meta_pg_get_i64(const PGresult *r, int row, int col); /* NULL reads as 0 */
/* The affected-row count of an INSERT/UPDATE/DELETE. */
int64_t meta_pg_changes(const PGresult *r);
/* s is valid UTF-8 without NUL: PostgreSQL can take it as text (peer input that is
 * not can match no stored row). */
bool meta_pg_text_ok(struct str s);
/* s when it is valid UTF-8; else a malloc'd copy with '?' for each bad byte, added to
 * *owned (freed by the caller). NULL on ENOMEM. */
const char *meta_pg_utf8(const char *s, char **owned);

/* Gen notifications: bumps sent through the owner's connection inside the change's
 * statement (pg_notify), delivered at commit. */
#define META_PG_CHANNEL "tollgate_gen"
/* This process saw its own change commit: bump the local generation at once (the
 * notification comes back later through the listener, for every node). */
void meta_pg_gen_changed(struct meta *m);
/* The DSN of a struct meta (for the gate's and the stats' own connections). */
const char *meta_pg_dsn(const struct meta *m);

/* meta_pg_gate.c, meta_pg_stats.c, meta_pg_lifecycle.c */
int meta_pg_gate_open(struct meta_gate *mg);
void meta_pg_gate_close(struct meta_gate *mg);
int meta_pg_epoch_read(struct meta_gate *mg, const char *grant, uint64_t *out);
int meta_pg_epoch_bump(struct meta_gate *mg, const char *grant, int64_t now, uint64_t *e);
int meta_pg_named_insert(struct meta_gate *mg, const uint8_t sha256[32],
                         const struct meta_named *in, int64_t *id);
int meta_pg_named_by_hash(struct meta_gate *mg, const uint8_t sha256[32], struct meta_named *out);
int meta_pg_named_by_id(struct meta_gate *mg, int64_t id, struct meta_named *out);
int meta_pg_named_charge(struct meta_gate *mg, int64_t id, bool download, int64_t now);
int meta_pg_named_use(struct meta_gate *mg, const uint8_t sha256[32], const char *grant,
                      int64_t now, struct meta_named *out);
int meta_pg_named_list(struct meta_gate *mg, int (*fn)(void *ctx, const struct meta_named *n),
                       void *ctx);
int meta_pg_named_revoke(struct meta_gate *mg, int64_t id, int64_t now);
int meta_pg_horizon_raise(struct meta_gate *mg, const char *bucket, const struct meta_horizon *h,
                          size_t n);
int meta_pg_horizon_get(struct meta_gate *mg, const char *bucket, struct str key, int64_t *out);

int meta_pg_stats_open(struct meta *m, struct meta_stats *ms);
void meta_pg_stats_close(struct meta_stats *ms);
int meta_pg_stats_insert(struct meta_stats *ms, const struct meta_event *ev, size_t n);
int meta_pg_stats_scan(struct meta_stats *ms, int64_t from_us, int64_t to_us,
                       int (*fn)(void *ctx, const struct meta_event *e), void *ctx);
int meta_pg_stats_visitors(struct meta_stats *ms, int64_t from_us, int64_t to_us,
                           int (*fn)(void *ctx, const char *grant, uint64_t n), void *ctx);
int meta_pg_stats_pulse(struct meta_stats *ms, int64_t from_us, int64_t to_us, int download_kind,
                        int not_request_kind, uint64_t out[4]);
int meta_pg_stats_first(struct meta_stats *ms, int64_t *t_us);
int meta_pg_stats_window_get(struct meta_stats *ms, int window, int64_t start, char **json);
int meta_pg_stats_window_put(struct meta_stats *ms, int window, int64_t start, const char *json);
int meta_pg_stats_delete_before(struct meta_stats *ms, int64_t before_us, uint64_t *deleted);

/* The lifecycle's statements run on the struct meta's connection. */
struct meta_pgc *meta_pg_main(struct meta *m);
int meta_pg_lc_rules_put(struct meta *m, const char *bucket, const struct meta_lc_rule *r,
                         size_t n);
int meta_pg_lc_rules_get(struct meta *m, const char *bucket, struct meta_lc_rule **out, size_t *n);
int meta_pg_lc_rules_delete(struct meta *m, const char *bucket);
int meta_pg_lc_buckets(struct meta *m, int (*fn)(void *ctx, const char *bucket), void *ctx);
int meta_pg_lc_run_record(struct meta *m, const struct meta_lc_run *r);
int meta_pg_lc_run_last(struct meta *m, struct meta_lc_run *out);
int meta_pg_lc_run_totals(struct meta *m, struct meta_lc_run *out);

#endif
