/* meta_pg_lifecycle.c -- the lifecycle's tables on PostgreSQL: lifecycle_rules and
 * lifecycle_runs (schema: meta_pg.c). The same contract as meta_lifecycle.c.
 *
 * A few calls per lifecycle pass and per S3 lifecycle request: they run unprepared
 * on struct meta's connection. A bucket's rules are replaced in one transaction
 * that first takes an advisory lock on the bucket's name, so two nodes replacing the
 * same bucket's rules at once serialize (last one wins whole) instead of failing
 * on the primary key. Rows are read into memory before any callback runs: a
 * callback may call back into meta. */
#include <stdio.h>
#include <stdlib.h>

#include "meta/meta_pg_int.h"

static int lc_sql(struct meta *m, const char *sql, bool retry, int n, const char *const *v,
                  PGresult **r)
{
    struct meta_pgc *pc = meta_pg_main(m);
    int rc = meta_pgc_lock(pc);
    if (rc < 0)
        return rc;
    rc = meta_pgc_sql(pc, sql, retry, n, v, NULL, NULL, r);
    meta_pgc_unlock(pc);
    return rc;
}

int meta_pg_lc_rules_put(struct meta *m, const char *bucket, const struct meta_lc_rule *r, size_t n)
{
    struct meta_pgc *pc = meta_pg_main(m);
    struct buf sql = BUF_INIT;
    size_t np = 1 + n * 6;
    const char **v = calloc(np, sizeof *v);
    char(*num)[3][META_PG_I64] = calloc(n ? n : 1, sizeof *num);
    char **owned = calloc(np, sizeof *owned);
    int rc = (v && num && owned) ? 0 : -ERR_NOMEM;
    bool locked = false;
    if (rc < 0)
        goto out;
    if (!(v[0] = meta_pg_utf8(bucket, &owned[0]))) {
        rc = -ERR_NOMEM;
        goto out;
    }
    rc = buf_adds(&sql, "INSERT INTO lifecycle_rules (bucket, pos, rule_id, enabled, prefix, "
                        "expire_days, abort_days) VALUES ");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        size_t b = 1 + i * 6;
        v[b + 0] = meta_pg_utf8(r[i].id, &owned[b + 0]);
        v[b + 1] = r[i].enabled ? "1" : "0";
        v[b + 2] = meta_pg_utf8(r[i].prefix ? r[i].prefix : "", &owned[b + 2]);
        v[b + 3] = meta_pg_i64(num[i][0], r[i].expire_days);
        v[b + 4] = meta_pg_i64(num[i][1], r[i].abort_days);
        v[b + 5] = meta_pg_i64(num[i][2], (int64_t)i);
        if (!v[b] || !v[b + 2])
            rc = -ERR_NOMEM;
        else
            rc = buf_printf(&sql, "%s($1,$%zu,$%zu,$%zu,$%zu,$%zu,$%zu)", i ? "," : "", b + 6,
                            b + 1, b + 2, b + 3, b + 4, b + 5);
    }
    if (rc < 0 || (rc = meta_pgc_lock(pc)) < 0)
        goto out;
    locked = true;
    if ((rc = meta_pgc_sql(pc, "BEGIN", false, 0, NULL, NULL, NULL, NULL)) < 0 ||
        (rc = meta_pgc_sql(pc, "SELECT pg_advisory_xact_lock(hashtext('tollgate.lc:' || $1))",
                           false, 1, v, NULL, NULL, NULL)) < 0 ||
        (rc = meta_pgc_sql(pc, "DELETE FROM lifecycle_rules WHERE bucket = $1", false, 1, v, NULL,
                           NULL, NULL)) < 0)
        goto out;
    if (n && (rc = meta_pgc_sql(pc, buf_cstr(&sql), false, (int)np, v, NULL, NULL, NULL)) < 0)
        goto out;
    rc = meta_pgc_sql(pc, "COMMIT", false, 0, NULL, NULL, NULL, NULL);
out:
    if (locked) {
        if (rc < 0 && PQstatus(pc->c) == CONNECTION_OK)
            PQclear(PQexec(pc->c, "ROLLBACK"));
        meta_pgc_unlock(pc);
    }
    for (size_t j = 0; owned && j < np; j++)
        free(owned[j]);
    free(owned);
    free(num);
    free(v);
    buf_release(&sql);
    return rc;
}

int meta_pg_lc_rules_get(struct meta *m, const char *bucket, struct meta_lc_rule **out, size_t *n)
{
    const char *v[1] = {bucket};
    PGresult *res = NULL;
    struct meta_lc_rule *r = NULL;
    size_t nr = 0;
    int rc = lc_sql(m,
                    "SELECT rule_id, enabled, prefix, expire_days, abort_days FROM "
                    "lifecycle_rules WHERE bucket = $1 ORDER BY pos",
                    true, 1, v, &res);
    if (rc < 0)
        return rc;
    int rows = PQntuples(res);
    if (rows == 0) {
        rc = -ERR_NOT_FOUND;
        goto out;
    }
    if (!(r = calloc((size_t)rows, sizeof *r))) {
        rc = -ERR_NOMEM;
        goto out;
    }
    for (int i = 0; i < rows; i++) {
        struct meta_lc_rule *e = &r[nr];
        snprintf(e->id, sizeof e->id, "%s", PQgetvalue(res, i, 0));
        e->enabled = meta_pg_get_i64(res, i, 1) != 0;
        e->expire_days = meta_pg_get_i64(res, i, 3);
        e->abort_days = meta_pg_get_i64(res, i, 4);
        nr++;
        if (!(e->prefix = strdup(PQgetvalue(res, i, 2)))) {
            rc = -ERR_NOMEM;
            goto out;
        }
    }
    *out = r;
    *n = nr;
    r = NULL;
out:
    meta_lc_rules_free(r, nr);
    PQclear(res);
    return rc;
}

int meta_pg_lc_rules_delete(struct meta *m, const char *bucket)
{
    const char *v[1] = {bucket};
    return lc_sql(m, "DELETE FROM lifecycle_rules WHERE bucket = $1", true, 1, v, NULL);
}

int meta_pg_lc_buckets(struct meta *m, int (*fn)(void *ctx, const char *bucket), void *ctx)
{
    PGresult *r = NULL;
    /* COLLATE "C": byte order, as SQLite's (the database's collation may differ) */
    int rc = lc_sql(m, "SELECT DISTINCT bucket COLLATE \"C\" AS b FROM lifecycle_rules ORDER BY b",
                    true, 0, NULL, &r);
    for (int i = 0; rc == 0 && i < PQntuples(r); i++)
        if ((rc = fn(ctx, PQgetvalue(r, i, 0))) > 0)
            rc = 0;
    PQclear(r);
    return rc;
}

int meta_pg_lc_run_record(struct meta *m, const struct meta_lc_run *r)
{
    char s[8][META_PG_I64];
    const char *v[8] = {meta_pg_i64(s[0], r->ran_at),
                        meta_pg_i64(s[1], r->retired),
                        meta_pg_i64(s[2], r->deleted),
                        meta_pg_i64(s[3], r->waiting),
                        meta_pg_i64(s[4], r->aborted_uploads),
                        meta_pg_i64(s[5], r->blobs_removed),
                        meta_pg_i64(s[6], (int64_t)r->blob_bytes),
                        meta_pg_i64(s[7], r->grants_changed)};
    return lc_sql(m,
                  "INSERT INTO lifecycle_runs (ran_at, retired, deleted, waiting, "
                  "aborted_uploads, blobs_removed, blob_bytes, grants_changed) "
                  "VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
                  false, 8, v, NULL);
}

static int run_row(struct meta *m, const char *sql, struct meta_lc_run *out)
{
    PGresult *res = NULL;
    int rc = lc_sql(m, sql, true, 0, NULL, &res);
    if (rc < 0)
        return rc;
    if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0)) {
        struct meta_lc_run r = {
            .ran_at = meta_pg_get_i64(res, 0, 0),
            .retired = (unsigned)meta_pg_get_i64(res, 0, 1),
            .deleted = (unsigned)meta_pg_get_i64(res, 0, 2),
            .waiting = (unsigned)meta_pg_get_i64(res, 0, 3),
            .aborted_uploads = (unsigned)meta_pg_get_i64(res, 0, 4),
            .blobs_removed = (unsigned)meta_pg_get_i64(res, 0, 5),
            .blob_bytes = (uint64_t)meta_pg_get_i64(res, 0, 6),
            .grants_changed = (unsigned)meta_pg_get_i64(res, 0, 7),
        };
        *out = r;
    } else {
        rc = -ERR_NOT_FOUND;
    }
    PQclear(res);
    return rc;
}

int meta_pg_lc_run_last(struct meta *m, struct meta_lc_run *out)
{
    return run_row(m,
                   "SELECT ran_at, retired, deleted, waiting, aborted_uploads, blobs_removed, "
                   "blob_bytes, grants_changed FROM lifecycle_runs ORDER BY id DESC LIMIT 1",
                   out);
}

int meta_pg_lc_run_totals(struct meta *m, struct meta_lc_run *out)
{
    return run_row(m,
                   "SELECT MAX(ran_at), SUM(retired), SUM(deleted), SUM(waiting), "
                   "SUM(aborted_uploads), SUM(blobs_removed), SUM(blob_bytes), "
                   "SUM(grants_changed) FROM lifecycle_runs",
                   out);
}
