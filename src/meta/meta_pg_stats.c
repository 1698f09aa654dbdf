/* meta_pg_stats.c -- the analytics tables on PostgreSQL: stats_events and
 * stats_windows (schema: meta_pg.c). The same contract as meta_stats.c.
 *
 * A batch of events is one multi-row INSERT with parameters (up to ROWS_PER_INSERT
 * rows; a larger batch is several, in one transaction). Text is made valid UTF-8
 * first ('?' for a bad byte): PostgreSQL refuses invalid text and one bad referrer
 * must not lose a batch. Visitor hashes are bytea. A window is saved with ON
 * CONFLICT DO NOTHING, so rollups saved by two nodes keep the first and agree.
 * Scans stream rows (single-row mode): a month of events is not held in memory. */
#include <stdio.h>
#include <stdlib.h>

#include "meta/meta_pg_int.h"

#define ROWS_PER_INSERT 1000 /* 14 parameters a row; PostgreSQL allows 65535 */
#define EV_NCOLS 14

enum { Q_SCAN, Q_VISITORS, Q_PULSE, Q_FIRST, Q_WGET, Q_WPUT, Q_DELETE, Q_COUNT };

#define EV_COLS                                                                                    \
    "t_us, kind, grant_name, token, key, status, bytes, \"range\", visitor, family, os, device, "  \
    "referrer, detail"

static const struct meta_pgq SQL[Q_COUNT] = {
    [Q_SCAN] = {"SELECT t_us, kind, grant_name, token, key, status, bytes, \"range\", "
                "encode(visitor, 'hex'), family, os, device, referrer, detail "
                "FROM stats_events WHERE t_us >= $1 AND t_us < $2 ORDER BY t_us",
                true},
    [Q_VISITORS] = {"SELECT grant_name, COUNT(DISTINCT visitor) FROM stats_events "
                    "WHERE t_us >= $1 AND t_us < $2 GROUP BY grant_name",
                    true},
    [Q_PULSE] = {"SELECT COALESCE(SUM(CASE WHEN kind <> $4 THEN 1 ELSE 0 END), 0), "
                 "COALESCE(SUM(CASE WHEN kind = $3 THEN 1 ELSE 0 END), 0), "
                 "COALESCE(SUM(CASE WHEN kind = $3 THEN bytes ELSE 0 END), 0), "
                 "COUNT(DISTINCT visitor) FROM stats_events WHERE t_us >= $1 AND t_us < $2",
                 true},
    [Q_FIRST] = {"SELECT MIN(t_us) FROM stats_events", true},
    [Q_WGET] = {"SELECT data FROM stats_windows WHERE win = $1 AND start = $2", true},
    [Q_WPUT] = {"INSERT INTO stats_windows (win, start, data) VALUES ($1, $2, $3) "
                "ON CONFLICT DO NOTHING",
                true},
    [Q_DELETE] = {"DELETE FROM stats_events WHERE t_us < $1", false},
};

static struct meta_pgc *PGC(struct meta_stats *ms)
{
    return ms->be;
}

int meta_pg_stats_open(struct meta *m, struct meta_stats *ms)
{
    struct meta_pgc *pc = calloc(1, sizeof *pc);
    if (!pc)
        return -ERR_NOMEM;
    ms->be = pc;
    int rc = meta_pgc_open(pc, meta_pg_dsn(m), "stats", SQL, Q_COUNT);
    if (rc == 0 && (rc = meta_pgc_lock(pc)) == 0)
        meta_pgc_unlock(pc);
    return rc;
}

void meta_pg_stats_close(struct meta_stats *ms)
{
    struct meta_pgc *pc = ms->be;
    if (!pc)
        return;
    meta_pgc_close(pc);
    free(pc);
    ms->be = NULL;
}

static int run(struct meta_stats *ms, int i, int n, const char *const *v, PGresult **r)
{
    struct meta_pgc *pc = PGC(ms);
    int rc = meta_pgc_lock(pc);
    if (rc < 0)
        return rc;
    rc = meta_pgc_run(pc, i, n, v, NULL, NULL, r);
    meta_pgc_unlock(pc);
    return rc;
}

/* One INSERT of ev[0..n) (n <= ROWS_PER_INSERT); caller holds the lock. */
static int insert_rows(struct meta_pgc *pc, const struct meta_event *ev, size_t n)
{
    static const uint8_t zero[16];
    struct buf sql = BUF_INIT;
    size_t np = n * EV_NCOLS;
    const char **v = calloc(np, sizeof *v);
    int *len = calloc(np, sizeof *len), *fmt = calloc(np, sizeof *fmt);
    char(*num)[5][META_PG_I64] = calloc(n, sizeof *num);
    char **owned = calloc(np, sizeof *owned);
    int rc = (v && len && fmt && num && owned) ? 0 : -ERR_NOMEM;
    if (rc == 0)
        rc = buf_adds(&sql, "INSERT INTO stats_events (" EV_COLS ") VALUES ");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const struct meta_event *e = &ev[i];
        const char *const text[] = {e->grant, e->token,  e->key,      e->family,
                                    e->os,    e->device, e->referrer, e->detail};
        static const int tcol[] = {2, 3, 4, 9, 10, 11, 12, 13};
        size_t b = i * EV_NCOLS;
        v[b + 0] = meta_pg_i64(num[i][0], e->t_us);
        v[b + 1] = meta_pg_i64(num[i][1], e->kind);
        v[b + 5] = meta_pg_i64(num[i][2], e->status);
        v[b + 6] = meta_pg_i64(num[i][3], (int64_t)e->bytes);
        v[b + 7] = meta_pg_i64(num[i][4], e->range ? 1 : 0);
        v[b + 8] = (const char *)(e->visitor ? e->visitor : zero);
        len[b + 8] = 16;
        fmt[b + 8] = 1;
        for (size_t k = 0; k < sizeof tcol / sizeof tcol[0]; k++) {
            size_t j = b + (size_t)tcol[k];
            if (!(v[j] = meta_pg_utf8(text[k] ? text[k] : "", &owned[j])))
                rc = -ERR_NOMEM;
        }
        if (rc == 0)
            rc = buf_addc(&sql, i ? ',' : ' ');
        for (int k = 0; rc == 0 && k < EV_NCOLS; k++)
            rc = buf_printf(&sql, "%s$%zu", k ? "," : "(", b + (size_t)k + 1);
        if (rc == 0)
            rc = buf_addc(&sql, ')');
    }
    if (rc == 0)
        rc = meta_pgc_sql(pc, buf_cstr(&sql), false, (int)np, v, len, fmt, NULL);
    for (size_t j = 0; owned && j < np; j++)
        free(owned[j]);
    free(owned);
    free(num);
    free(fmt);
    free(len);
    free(v);
    buf_release(&sql);
    return rc;
}

int meta_pg_stats_insert(struct meta_stats *ms, const struct meta_event *ev, size_t n)
{
    struct meta_pgc *pc = PGC(ms);
    bool tx = n > ROWS_PER_INSERT;
    int rc;
    if (n == 0)
        return 0;
    if ((rc = meta_pgc_lock(pc)) < 0)
        return rc;
    if (tx)
        rc = meta_pgc_sql(pc, "BEGIN", false, 0, NULL, NULL, NULL, NULL);
    for (size_t i = 0; rc == 0 && i < n; i += ROWS_PER_INSERT)
        rc = insert_rows(pc, ev + i, n - i < ROWS_PER_INSERT ? n - i : ROWS_PER_INSERT);
    if (tx && rc == 0)
        rc = meta_pgc_sql(pc, "COMMIT", false, 0, NULL, NULL, NULL, NULL);
    else if (tx && PQstatus(pc->c) == CONNECTION_OK)
        PQclear(PQexec(pc->c, "ROLLBACK"));
    meta_pgc_unlock(pc);
    return rc;
}

/* Streams the scan: fn runs per row under the lock (as the SQLite version). */
static int scan_stream(struct meta_pgc *pc, const char *const *v,
                       int (*fn)(void *ctx, const struct meta_event *e), void *ctx, bool *sent)
{
    int rc = 0;
    *sent = false;
    if (!PQsendQueryPrepared(pc->c, "q0", 2, v, NULL, NULL, 0) || !PQsetSingleRowMode(pc->c))
        return meta_pg_fail(pc->c, NULL, pc->what, "scan");
    *sent = true;
    PGresult *r;
    bool stopped = false;
    while ((r = PQgetResult(pc->c)) != NULL) {
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_SINGLE_TUPLE && !stopped && rc == 0) {
            uint8_t vis[16];
            bool has_vis = hex_decode(str_c(PQgetvalue(r, 0, 8)), vis, sizeof vis) == 16;
            struct meta_event e = {
                meta_pg_get_i64(r, 0, 0),
                (int)meta_pg_get_i64(r, 0, 1),
                (int)meta_pg_get_i64(r, 0, 5),
                PQgetvalue(r, 0, 2),
                PQgetvalue(r, 0, 3),
                PQgetvalue(r, 0, 4),
                (uint64_t)meta_pg_get_i64(r, 0, 6),
                meta_pg_get_i64(r, 0, 7) != 0,
                has_vis ? vis : NULL,
                PQgetvalue(r, 0, 9),
                PQgetvalue(r, 0, 10),
                PQgetvalue(r, 0, 11),
                PQgetvalue(r, 0, 12),
                PQgetvalue(r, 0, 13),
            };
            int f = fn(ctx, &e);
            if (f < 0) {
                rc = f;
                /* Stop the server sending the rest; what is in flight is drained. */
                PGcancel *cn = PQgetCancel(pc->c);
                char err[256];
                if (cn) {
                    PQcancel(cn, err, sizeof err);
                    PQfreeCancel(cn);
                }
                stopped = true;
            }
        } else if (st != PGRES_SINGLE_TUPLE && st != PGRES_TUPLES_OK && !stopped && rc == 0) {
            rc = meta_pg_fail(pc->c, r, pc->what, "scan");
        }
        PQclear(r);
    }
    return rc;
}

int meta_pg_stats_scan(struct meta_stats *ms, int64_t from_us, int64_t to_us,
                       int (*fn)(void *ctx, const struct meta_event *e), void *ctx)
{
    struct meta_pgc *pc = PGC(ms);
    char a[META_PG_I64], b[META_PG_I64];
    const char *v[2] = {meta_pg_i64(a, from_us), meta_pg_i64(b, to_us)};
    bool sent;
    int rc = meta_pgc_lock(pc);
    if (rc < 0)
        return rc;
    rc = scan_stream(pc, v, fn, ctx, &sent);
    if (rc == -ERR_UNAVAILABLE && !sent) {
        /* The connection was found broken before anything ran: once more. */
        meta_pgc_unlock(pc);
        if ((rc = meta_pgc_lock(pc)) < 0)
            return rc;
        rc = scan_stream(pc, v, fn, ctx, &sent);
    }
    meta_pgc_unlock(pc);
    return rc < 0 ? rc : 0;
}

int meta_pg_stats_visitors(struct meta_stats *ms, int64_t from_us, int64_t to_us,
                           int (*fn)(void *ctx, const char *grant, uint64_t n), void *ctx)
{
    char a[META_PG_I64], b[META_PG_I64];
    const char *v[2] = {meta_pg_i64(a, from_us), meta_pg_i64(b, to_us)};
    PGresult *r = NULL;
    int rc = run(ms, Q_VISITORS, 2, v, &r);
    for (int i = 0; rc == 0 && i < PQntuples(r); i++)
        if ((rc = fn(ctx, PQgetvalue(r, i, 0), (uint64_t)meta_pg_get_i64(r, i, 1))) > 0)
            rc = 0;
    PQclear(r);
    return rc < 0 ? rc : 0;
}

int meta_pg_stats_pulse(struct meta_stats *ms, int64_t from_us, int64_t to_us, int download_kind,
                        int not_request_kind, uint64_t out[4])
{
    char a[META_PG_I64], b[META_PG_I64], c[META_PG_I64], d[META_PG_I64];
    const char *v[4] = {meta_pg_i64(a, from_us), meta_pg_i64(b, to_us),
                        meta_pg_i64(c, download_kind), meta_pg_i64(d, not_request_kind)};
    PGresult *r = NULL;
    int rc = run(ms, Q_PULSE, 4, v, &r);
    if (rc == 0 && PQntuples(r) == 1)
        for (int i = 0; i < 4; i++)
            out[i] = (uint64_t)meta_pg_get_i64(r, 0, i);
    else if (rc == 0)
        rc = -ERR_DB;
    PQclear(r);
    return rc;
}

int meta_pg_stats_first(struct meta_stats *ms, int64_t *t_us)
{
    PGresult *r = NULL;
    int rc = run(ms, Q_FIRST, 0, NULL, &r);
    if (rc == 0 && (PQntuples(r) != 1 || PQgetisnull(r, 0, 0)))
        rc = -ERR_NOT_FOUND;
    else if (rc == 0)
        *t_us = meta_pg_get_i64(r, 0, 0);
    PQclear(r);
    return rc;
}

int meta_pg_stats_window_get(struct meta_stats *ms, int window, int64_t start, char **json)
{
    char a[META_PG_I64], b[META_PG_I64];
    const char *v[2] = {meta_pg_i64(a, window), meta_pg_i64(b, start)};
    PGresult *r = NULL;
    int rc = run(ms, Q_WGET, 2, v, &r);
    if (rc == 0 && PQntuples(r) == 0)
        rc = -ERR_NOT_FOUND;
    else if (rc == 0)
        rc = (*json = strdup(PQgetvalue(r, 0, 0))) ? 0 : -ERR_NOMEM;
    PQclear(r);
    return rc;
}

int meta_pg_stats_window_put(struct meta_stats *ms, int window, int64_t start, const char *json)
{
    char a[META_PG_I64], b[META_PG_I64];
    char *owned = NULL;
    const char *v[3] = {meta_pg_i64(a, window), meta_pg_i64(b, start),
                        meta_pg_utf8(json ? json : "", &owned)};
    PGresult *r = NULL;
    int rc = v[2] ? run(ms, Q_WPUT, 3, v, &r) : -ERR_NOMEM;
    PQclear(r);
    free(owned);
    return rc;
}

int meta_pg_stats_delete_before(struct meta_stats *ms, int64_t before_us, uint64_t *deleted)
{
    char a[META_PG_I64];
    const char *v[1] = {meta_pg_i64(a, before_us)};
    PGresult *r = NULL;
    int rc = run(ms, Q_DELETE, 1, v, &r);
    if (rc == 0 && deleted)
        *deleted = (uint64_t)meta_pg_changes(r);
    PQclear(r);
    return rc;
}
