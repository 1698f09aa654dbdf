/* meta_stats.c -- analytics tables in meta.db: stats_events (raw events, indexed by
 * time) and stats_windows (closed rollup windows as JSON, written once). One
 * connection of its own behind a mutex: the batch writer and the queries share it. */
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "meta/meta.h"
#include "meta/meta_int.h"

enum { Q_INSERT, Q_SCAN, Q_VISITORS, Q_PULSE, Q_FIRST, Q_WGET, Q_WPUT, Q_DELETE, Q_COUNT };

#define EV_COLS                                                                                    \
    "t_us, kind, grant_name, token, key, status, bytes, range, visitor, family, os, device, "      \
    "referrer, detail"

static const char *const SQL[Q_COUNT] = {
    [Q_INSERT] = "INSERT INTO stats_events (" EV_COLS ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    [Q_SCAN] = "SELECT " EV_COLS " FROM stats_events WHERE t_us >= ? AND t_us < ? ORDER BY t_us",
    [Q_VISITORS] = "SELECT grant_name, COUNT(DISTINCT visitor) FROM stats_events "
                   "WHERE t_us >= ? AND t_us < ? GROUP BY grant_name",
    [Q_PULSE] = "SELECT COALESCE(SUM(kind != ?4), 0), COALESCE(SUM(kind = ?3), 0), "
                "COALESCE(SUM(CASE WHEN kind = ?3 THEN bytes ELSE 0 END), 0), "
                "COUNT(DISTINCT visitor) FROM stats_events WHERE t_us >= ?1 AND t_us < ?2",
    [Q_FIRST] = "SELECT MIN(t_us) FROM stats_events",
    [Q_WGET] = "SELECT data FROM stats_windows WHERE win = ? AND start = ?",
    [Q_WPUT] = "INSERT OR IGNORE INTO stats_windows (win, start, data) VALUES (?,?,?)",
    [Q_DELETE] = "DELETE FROM stats_events WHERE t_us < ?",
};

static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS stats_events ("
    " t_us INTEGER NOT NULL, kind INTEGER NOT NULL, grant_name TEXT NOT NULL,"
    " token TEXT NOT NULL, key TEXT NOT NULL, status INTEGER NOT NULL, bytes INTEGER NOT NULL,"
    " range INTEGER NOT NULL, visitor BLOB NOT NULL, family TEXT NOT NULL, os TEXT NOT NULL,"
    " device TEXT NOT NULL, referrer TEXT NOT NULL, detail TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS stats_events_t ON stats_events(t_us);"
    "CREATE TABLE IF NOT EXISTS stats_windows ("
    " win INTEGER NOT NULL, start INTEGER NOT NULL, data TEXT NOT NULL,"
    " PRIMARY KEY (win, start)) WITHOUT ROWID;";

struct sq_stats {
    sqlite3 *db;
    pthread_mutex_t mu;
    sqlite3_stmt *q[Q_COUNT];
};

static int db_err(struct sq_stats *ms, const char *what)
{
    tg_log_error("meta: stats: %s: %s", what, sqlite3_errmsg(ms->db));
    return -ERR_DB;
}

int meta_sq_stats_open(struct meta *m, struct meta_stats *pub)
{
    struct sq_stats *ms = calloc(1, sizeof *ms);
    int rc = 0;
    if (!ms)
        return -ERR_NOMEM;
    pub->be = ms;
    pthread_mutex_init(&ms->mu, NULL);
    if (sqlite3_open_v2(meta_sqlite_path(m), &ms->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        rc = db_err(ms, "open");
        goto fail;
    }
    sqlite3_busy_timeout(ms->db, 10000);
    /* NORMAL: in WAL mode a crash loses at most the last batches, never corrupts;
     * analytics may lose the last second, object data is elsewhere. */
    if (sqlite3_exec(ms->db, "PRAGMA synchronous=NORMAL;", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(ms->db, SCHEMA, NULL, NULL, NULL) != SQLITE_OK) {
        rc = db_err(ms, "schema");
        goto fail;
    }
    for (int i = 0; i < Q_COUNT; i++)
        if (sqlite3_prepare_v3(ms->db, SQL[i], -1, SQLITE_PREPARE_PERSISTENT, &ms->q[i], NULL) !=
            SQLITE_OK) {
            rc = db_err(ms, "prepare");
            goto fail;
        }
    return 0;
fail:
    meta_sq_stats_close(pub);
    return rc;
}

void meta_sq_stats_close(struct meta_stats *pub)
{
    struct sq_stats *ms = pub->be;
    if (!ms)
        return;
    for (int i = 0; i < Q_COUNT; i++)
        sqlite3_finalize(ms->q[i]);
    sqlite3_close(ms->db);
    pthread_mutex_destroy(&ms->mu);
    free(ms);
    pub->be = NULL;
}

static sqlite3_stmt *take(struct sq_stats *ms, int i)
{
    pthread_mutex_lock(&ms->mu);
    return ms->q[i];
}

static void done(struct sq_stats *ms, sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    pthread_mutex_unlock(&ms->mu);
}

static void bind_s(sqlite3_stmt *st, int i, const char *s)
{
    sqlite3_bind_text(st, i, s ? s : "", -1, SQLITE_STATIC);
}

int meta_sq_stats_insert(struct meta_stats *pub, const struct meta_event *ev, size_t n)
{
    struct sq_stats *ms = pub->be;
    static const uint8_t zero[16];
    sqlite3_stmt *st = take(ms, Q_INSERT);
    int rc = 0;
    if (sqlite3_exec(ms->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        rc = db_err(ms, "begin");
        done(ms, st);
        return rc;
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        const struct meta_event *e = &ev[i];
        sqlite3_bind_int64(st, 1, e->t_us);
        sqlite3_bind_int(st, 2, e->kind);
        bind_s(st, 3, e->grant);
        bind_s(st, 4, e->token);
        bind_s(st, 5, e->key);
        sqlite3_bind_int(st, 6, e->status);
        sqlite3_bind_int64(st, 7, (sqlite3_int64)e->bytes);
        sqlite3_bind_int(st, 8, e->range);
        sqlite3_bind_blob(st, 9, e->visitor ? e->visitor : zero, 16, SQLITE_STATIC);
        bind_s(st, 10, e->family);
        bind_s(st, 11, e->os);
        bind_s(st, 12, e->device);
        bind_s(st, 13, e->referrer);
        bind_s(st, 14, e->detail);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = db_err(ms, "insert");
        sqlite3_reset(st);
    }
    if (sqlite3_exec(ms->db, rc == 0 ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL) != SQLITE_OK &&
        rc == 0)
        rc = db_err(ms, "commit");
    done(ms, st);
    return rc;
}

static const char *col_s(sqlite3_stmt *st, int i)
{
    const char *s = (const char *)sqlite3_column_text(st, i);
    return s ? s : "";
}

int meta_sq_stats_scan(struct meta_stats *pub, int64_t from_us, int64_t to_us,
                       int (*fn)(void *ctx, const struct meta_event *e), void *ctx)
{
    struct sq_stats *ms = pub->be;
    sqlite3_stmt *st = take(ms, Q_SCAN);
    int rc = 0, s;
    sqlite3_bind_int64(st, 1, from_us);
    sqlite3_bind_int64(st, 2, to_us);
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        struct meta_event e = {
            sqlite3_column_int64(st, 0),
            sqlite3_column_int(st, 1),
            sqlite3_column_int(st, 5),
            col_s(st, 2),
            col_s(st, 3),
            col_s(st, 4),
            (uint64_t)sqlite3_column_int64(st, 6),
            sqlite3_column_int(st, 7) != 0,
            sqlite3_column_bytes(st, 8) == 16 ? sqlite3_column_blob(st, 8) : NULL,
            col_s(st, 9),
            col_s(st, 10),
            col_s(st, 11),
            col_s(st, 12),
            col_s(st, 13),
        };
        if ((rc = fn(ctx, &e)) < 0)
            break;
    }
    if (rc == 0 && s != SQLITE_DONE)
        rc = db_err(ms, "scan");
    done(ms, st);
    return rc < 0 ? rc : 0;
}

int meta_sq_stats_visitors(struct meta_stats *pub, int64_t from_us, int64_t to_us,
                           int (*fn)(void *ctx, const char *grant, uint64_t n), void *ctx)
{
    struct sq_stats *ms = pub->be;
    sqlite3_stmt *st = take(ms, Q_VISITORS);
    int rc = 0, s;
    sqlite3_bind_int64(st, 1, from_us);
    sqlite3_bind_int64(st, 2, to_us);
    while ((s = sqlite3_step(st)) == SQLITE_ROW)
        if ((rc = fn(ctx, col_s(st, 0), (uint64_t)sqlite3_column_int64(st, 1))) < 0)
            break;
    if (rc == 0 && s != SQLITE_DONE)
        rc = db_err(ms, "visitors");
    done(ms, st);
    return rc < 0 ? rc : 0;
}

int meta_sq_stats_pulse(struct meta_stats *pub, int64_t from_us, int64_t to_us, int download_kind,
                        int not_request_kind, uint64_t out[4])
{
    struct sq_stats *ms = pub->be;
    sqlite3_stmt *st = take(ms, Q_PULSE);
    int rc = 0;
    sqlite3_bind_int64(st, 1, from_us);
    sqlite3_bind_int64(st, 2, to_us);
    sqlite3_bind_int(st, 3, download_kind);
    sqlite3_bind_int(st, 4, not_request_kind);
    if (sqlite3_step(st) == SQLITE_ROW)
        for (int i = 0; i < 4; i++)
            out[i] = (uint64_t)sqlite3_column_int64(st, i);
    else
        rc = db_err(ms, "pulse");
    done(ms, st);
    return rc;
}

int meta_sq_stats_first(struct meta_stats *pub, int64_t *t_us)
{
    struct sq_stats *ms = pub->be;
    sqlite3_stmt *st = take(ms, Q_FIRST);
    int rc = -ERR_NOT_FOUND;
    if (sqlite3_step(st) == SQLITE_ROW) {
        if (sqlite3_column_type(st, 0) != SQLITE_NULL) {
            *t_us = sqlite3_column_int64(st, 0);
            rc = 0;
        }
    } else {
        rc = db_err(ms, "first");
    }
    done(ms, st);
    return rc;
}

int meta_sq_stats_window_get(struct meta_stats *pub, int window, int64_t start, char **json)
{
    struct sq_stats *ms = pub->be;
    sqlite3_stmt *st = take(ms, Q_WGET);
    int rc = -ERR_NOT_FOUND, s;
    sqlite3_bind_int(st, 1, window);
    sqlite3_bind_int64(st, 2, start);
    if ((s = sqlite3_step(st)) == SQLITE_ROW)
        rc = (*json = strdup(col_s(st, 0))) ? 0 : -ERR_NOMEM;
    else if (s != SQLITE_DONE)
        rc = db_err(ms, "window get");
    done(ms, st);
    return rc;
}

int meta_sq_stats_window_put(struct meta_stats *pub, int window, int64_t start, const char *json)
{
    struct sq_stats *ms = pub->be;
    sqlite3_stmt *st = take(ms, Q_WPUT);
    int rc = 0;
    sqlite3_bind_int(st, 1, window);
    sqlite3_bind_int64(st, 2, start);
    bind_s(st, 3, json);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = db_err(ms, "window put");
    done(ms, st);
    return rc;
}

int meta_sq_stats_delete_before(struct meta_stats *pub, int64_t before_us, uint64_t *deleted)
{
    struct sq_stats *ms = pub->be;
    sqlite3_stmt *st = take(ms, Q_DELETE);
    int rc = 0;
    sqlite3_bind_int64(st, 1, before_us);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = db_err(ms, "delete");
    else if (deleted)
        *deleted = (uint64_t)sqlite3_changes(ms->db);
    done(ms, st);
    return rc;
}
