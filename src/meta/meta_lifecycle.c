/* meta_lifecycle.c -- the lifecycle's tables in meta.db: lifecycle_rules (the rules
 * S3 PutBucketLifecycleConfiguration set, per bucket, in order) and lifecycle_runs
 * (one row per lifecycle apply, with its counts).
 *
 * Workload: a few calls per lifecycle pass (hourly) and per S3 lifecycle request, so
 * each call opens its own short-lived connection (WAL, busy timeout) rather than
 * keeping one: nothing here is on a hot path, and nothing is cached, so a change made
 * by another process is seen by the next call. A bucket's rules are replaced in one
 * transaction: a reader sees the old set or the new one. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

#include "meta/meta.h"
#include "meta/meta_int.h"

static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS lifecycle_rules ("
    " bucket TEXT NOT NULL, pos INTEGER NOT NULL, rule_id TEXT NOT NULL,"
    " enabled INTEGER NOT NULL, prefix TEXT NOT NULL,"
    " expire_days INTEGER NOT NULL DEFAULT 0, abort_days INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY (bucket, pos)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS lifecycle_runs ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, ran_at INTEGER NOT NULL,"
    " retired INTEGER NOT NULL, deleted INTEGER NOT NULL, waiting INTEGER NOT NULL,"
    " aborted_uploads INTEGER NOT NULL, blobs_removed INTEGER NOT NULL,"
    " blob_bytes INTEGER NOT NULL, grants_changed INTEGER NOT NULL);";

static int db_fail(sqlite3 *db, const char *what)
{
    tg_log_error("meta: lifecycle %s: %s", what, db ? sqlite3_errmsg(db) : "no connection");
    return -ERR_DB;
}

static int conn_open(struct meta *m, sqlite3 **out)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(meta_sqlite_path(m), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        int rc = db_fail(db, "open");
        sqlite3_close(db);
        return rc;
    }
    sqlite3_busy_timeout(db, 10000);
    if (sqlite3_exec(db, "PRAGMA synchronous=FULL;", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(db, SCHEMA, NULL, NULL, NULL) != SQLITE_OK) {
        int rc = db_fail(db, "schema");
        sqlite3_close(db);
        return rc;
    }
    *out = db;
    return 0;
}

int meta_sq_lc_rules_put(struct meta *m, const char *bucket, const struct meta_lc_rule *r, size_t n)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *del = NULL, *ins = NULL;
    int rc;
    if ((rc = conn_open(m, &db)) < 0)
        return rc;
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "DELETE FROM lifecycle_rules WHERE bucket = ?", -1, &del, NULL) !=
            SQLITE_OK ||
        sqlite3_prepare_v2(db,
                           "INSERT INTO lifecycle_rules (bucket, pos, rule_id, enabled, prefix, "
                           "expire_days, abort_days) VALUES (?,?,?,?,?,?,?)",
                           -1, &ins, NULL) != SQLITE_OK) {
        rc = db_fail(db, "put");
        goto out;
    }
    sqlite3_bind_text(del, 1, bucket, -1, SQLITE_STATIC);
    if (sqlite3_step(del) != SQLITE_DONE) {
        rc = db_fail(db, "put");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        sqlite3_reset(ins);
        sqlite3_bind_text(ins, 1, bucket, -1, SQLITE_STATIC);
        sqlite3_bind_int64(ins, 2, (int64_t)i);
        sqlite3_bind_text(ins, 3, r[i].id, -1, SQLITE_STATIC);
        sqlite3_bind_int(ins, 4, r[i].enabled ? 1 : 0);
        sqlite3_bind_text(ins, 5, r[i].prefix ? r[i].prefix : "", -1, SQLITE_STATIC);
        sqlite3_bind_int64(ins, 6, r[i].expire_days);
        sqlite3_bind_int64(ins, 7, r[i].abort_days);
        if (sqlite3_step(ins) != SQLITE_DONE) {
            rc = db_fail(db, "put");
            goto out;
        }
    }
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        rc = db_fail(db, "commit");
out:
    sqlite3_finalize(del);
    sqlite3_finalize(ins);
    if (rc < 0)
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(db);
    return rc;
}

int meta_sq_lc_rules_get(struct meta *m, const char *bucket, struct meta_lc_rule **out, size_t *n)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    struct meta_lc_rule *r = NULL;
    size_t nr = 0, cap = 0;
    int rc, s;
    if ((rc = conn_open(m, &db)) < 0)
        return rc;
    if (sqlite3_prepare_v2(db,
                           "SELECT rule_id, enabled, prefix, expire_days, abort_days FROM "
                           "lifecycle_rules WHERE bucket = ? ORDER BY pos",
                           -1, &q, NULL) != SQLITE_OK) {
        rc = db_fail(db, "get");
        goto out;
    }
    sqlite3_bind_text(q, 1, bucket, -1, SQLITE_STATIC);
    while ((s = sqlite3_step(q)) == SQLITE_ROW) {
        if (nr == cap) {
            size_t nc = cap ? cap * 2 : 8;
            struct meta_lc_rule *g = realloc(r, nc * sizeof *g);
            if (!g) {
                rc = -ERR_NOMEM;
                goto out;
            }
            r = g;
            cap = nc;
        }
        struct meta_lc_rule *e = &r[nr];
        memset(e, 0, sizeof *e);
        const char *id = (const char *)sqlite3_column_text(q, 0);
        snprintf(e->id, sizeof e->id, "%s", id ? id : "");
        e->enabled = sqlite3_column_int(q, 1) != 0;
        const char *p = (const char *)sqlite3_column_text(q, 2);
        e->expire_days = sqlite3_column_int64(q, 3);
        e->abort_days = sqlite3_column_int64(q, 4);
        nr++;
        if (!(e->prefix = strdup(p ? p : ""))) {
            rc = -ERR_NOMEM;
            goto out;
        }
    }
    if (s != SQLITE_DONE) {
        rc = db_fail(db, "get");
        goto out;
    }
    if (nr == 0) {
        rc = -ERR_NOT_FOUND;
        goto out;
    }
    *out = r;
    *n = nr;
    r = NULL;
out:
    meta_lc_rules_free(r, nr);
    sqlite3_finalize(q);
    sqlite3_close(db);
    return rc;
}

int meta_sq_lc_rules_delete(struct meta *m, const char *bucket)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    int rc;
    if ((rc = conn_open(m, &db)) < 0)
        return rc;
    if (sqlite3_prepare_v2(db, "DELETE FROM lifecycle_rules WHERE bucket = ?", -1, &q, NULL) !=
        SQLITE_OK) {
        rc = db_fail(db, "delete");
        goto out;
    }
    sqlite3_bind_text(q, 1, bucket, -1, SQLITE_STATIC);
    if (sqlite3_step(q) != SQLITE_DONE)
        rc = db_fail(db, "delete");
out:
    sqlite3_finalize(q);
    sqlite3_close(db);
    return rc;
}

int meta_sq_lc_buckets(struct meta *m, int (*fn)(void *ctx, const char *bucket), void *ctx)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    int rc, s;
    if ((rc = conn_open(m, &db)) < 0)
        return rc;
    if (sqlite3_prepare_v2(db, "SELECT DISTINCT bucket FROM lifecycle_rules ORDER BY bucket", -1,
                           &q, NULL) != SQLITE_OK) {
        rc = db_fail(db, "buckets");
        goto out;
    }
    while (rc == 0 && (s = sqlite3_step(q)) == SQLITE_ROW) {
        const char *b = (const char *)sqlite3_column_text(q, 0);
        if (b && (rc = fn(ctx, b)) > 0)
            rc = 0;
    }
    if (rc == 0 && s != SQLITE_DONE)
        rc = db_fail(db, "buckets");
out:
    sqlite3_finalize(q);
    sqlite3_close(db);
    return rc;
}

int meta_sq_lc_run_record(struct meta *m, const struct meta_lc_run *r)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    int rc;
    if ((rc = conn_open(m, &db)) < 0)
        return rc;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO lifecycle_runs (ran_at, retired, deleted, waiting, "
                           "aborted_uploads, blobs_removed, blob_bytes, grants_changed) "
                           "VALUES (?,?,?,?,?,?,?,?)",
                           -1, &q, NULL) != SQLITE_OK) {
        rc = db_fail(db, "run record");
        goto out;
    }
    sqlite3_bind_int64(q, 1, r->ran_at);
    sqlite3_bind_int64(q, 2, r->retired);
    sqlite3_bind_int64(q, 3, r->deleted);
    sqlite3_bind_int64(q, 4, r->waiting);
    sqlite3_bind_int64(q, 5, r->aborted_uploads);
    sqlite3_bind_int64(q, 6, r->blobs_removed);
    sqlite3_bind_int64(q, 7, (int64_t)r->blob_bytes);
    sqlite3_bind_int64(q, 8, r->grants_changed);
    if (sqlite3_step(q) != SQLITE_DONE)
        rc = db_fail(db, "run record");
out:
    sqlite3_finalize(q);
    sqlite3_close(db);
    return rc;
}

/* One row of the run columns (the newest run, or the sums of all). */
static int run_row(struct meta *m, const char *sql, const char *what, struct meta_lc_run *out)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    int rc, s;
    if ((rc = conn_open(m, &db)) < 0)
        return rc;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK) {
        rc = db_fail(db, what);
        goto out;
    }
    s = sqlite3_step(q);
    if (s == SQLITE_ROW && sqlite3_column_type(q, 0) != SQLITE_NULL) {
        struct meta_lc_run r = {
            .ran_at = sqlite3_column_int64(q, 0),
            .retired = (unsigned)sqlite3_column_int64(q, 1),
            .deleted = (unsigned)sqlite3_column_int64(q, 2),
            .waiting = (unsigned)sqlite3_column_int64(q, 3),
            .aborted_uploads = (unsigned)sqlite3_column_int64(q, 4),
            .blobs_removed = (unsigned)sqlite3_column_int64(q, 5),
            .blob_bytes = (uint64_t)sqlite3_column_int64(q, 6),
            .grants_changed = (unsigned)sqlite3_column_int64(q, 7),
        };
        *out = r;
    } else if (s == SQLITE_DONE || s == SQLITE_ROW) {
        rc = -ERR_NOT_FOUND;
    } else {
        rc = db_fail(db, what);
    }
out:
    sqlite3_finalize(q);
    sqlite3_close(db);
    return rc;
}

int meta_sq_lc_run_last(struct meta *m, struct meta_lc_run *out)
{
    /* by id, not ran_at: TOLLGATE_NOW may move the clock backwards between runs */
    return run_row(m,
                   "SELECT ran_at, retired, deleted, waiting, aborted_uploads, blobs_removed, "
                   "blob_bytes, grants_changed FROM lifecycle_runs ORDER BY id DESC LIMIT 1",
                   "last run", out);
}

int meta_sq_lc_run_totals(struct meta *m, struct meta_lc_run *out)
{
    return run_row(m,
                   "SELECT MAX(ran_at), SUM(retired), SUM(deleted), SUM(waiting), "
                   "SUM(aborted_uploads), SUM(blobs_removed), SUM(blob_bytes), "
                   "SUM(grants_changed) FROM lifecycle_runs",
                   "run totals", out);
}
