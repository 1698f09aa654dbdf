/* meta_gate.c -- the gate's tables in meta.db: grant_epochs (a per-grant counter),
 * named_tokens (SHA-256 of the secret, limits, counters), link_horizons (per object,
 * the latest expiry of a link minted for it).
 *
 * One connection of its own (opened on meta.db's path) guarded by a mutex, with
 * persistent prepared statements: every lookup is one indexed row. Nothing is cached
 * here (the epoch cache in meta.c is retired by the generation this file bumps):
 * another process (`tollgate token rotate`, `token revoke`) is seen by the next call.
 * Limits are enforced inside the UPDATE's WHERE clause and checked with changes(),
 * so concurrent charges from any number of threads or processes never exceed them. */
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

#include "meta/meta.h"
#include "meta/meta_int.h"

enum {
    Q_EPOCH_GET,
    Q_EPOCH_BUMP,
    Q_NAMED_INSERT,
    Q_NAMED_BY_HASH,
    Q_NAMED_BY_ID,
    Q_CHARGE_USE,
    Q_CHARGE_DOWNLOAD,
    Q_NAMED_REVOKE,
    Q_NAMED_USE,
    Q_HORIZON_RAISE,
    Q_HORIZON_GET,
    Q_COUNT
};

#define NAMED_COLS                                                                                 \
    "id, grant_name, label, max_uses, max_downloads, uses, downloads, created, expires_at, "       \
    "revoked_at, last_used"

static const char *const SQL[Q_COUNT] = {
    [Q_EPOCH_GET] = "SELECT epoch FROM grant_epochs WHERE grant_name = ?",
    [Q_EPOCH_BUMP] = "INSERT INTO grant_epochs (grant_name, epoch, bumped_at) VALUES (?, 1, ?) "
                     "ON CONFLICT (grant_name) DO UPDATE SET epoch = epoch + 1, "
                     "bumped_at = excluded.bumped_at RETURNING epoch",
    [Q_NAMED_INSERT] = "INSERT INTO named_tokens (sha256, grant_name, label, max_uses, "
                       "max_downloads, created, expires_at) VALUES (?,?,?,?,?,?,?)",
    [Q_NAMED_BY_HASH] = "SELECT " NAMED_COLS " FROM named_tokens WHERE sha256 = ?",
    [Q_NAMED_BY_ID] = "SELECT " NAMED_COLS " FROM named_tokens WHERE id = ?",
    [Q_CHARGE_USE] = "UPDATE named_tokens SET uses = uses + 1, last_used = ?2 WHERE id = ?1 "
                     "AND (max_uses = 0 OR uses < max_uses) AND revoked_at IS NULL "
                     "AND (expires_at = 0 OR expires_at > ?2)",
    [Q_CHARGE_DOWNLOAD] = "UPDATE named_tokens SET downloads = downloads + 1, last_used = ?2 "
                          "WHERE id = ?1 AND (max_downloads = 0 OR downloads < max_downloads) "
                          "AND revoked_at IS NULL AND (expires_at = 0 OR expires_at > ?2)",
    [Q_NAMED_REVOKE] = "UPDATE named_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
    [Q_NAMED_USE] = "UPDATE named_tokens SET uses = uses + 1, last_used = ?3 WHERE sha256 = ?1 "
                    "AND grant_name = ?2 AND (max_uses = 0 OR uses < max_uses) "
                    "AND revoked_at IS NULL AND (expires_at = 0 OR expires_at > ?3) "
                    "RETURNING " NAMED_COLS,
    [Q_HORIZON_RAISE] = "INSERT INTO link_horizons (bucket, key, horizon) VALUES (?,?,?) "
                        "ON CONFLICT (bucket, key) DO UPDATE SET "
                        "horizon = max(horizon, excluded.horizon)",
    [Q_HORIZON_GET] = "SELECT horizon FROM link_horizons WHERE bucket = ? AND key = ?",
};

static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS grant_epochs ("
    " grant_name TEXT PRIMARY KEY, epoch INTEGER NOT NULL, bumped_at INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS named_tokens ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, sha256 BLOB NOT NULL UNIQUE,"
    " grant_name TEXT NOT NULL, label TEXT NOT NULL,"
    " max_uses INTEGER NOT NULL DEFAULT 0, max_downloads INTEGER NOT NULL DEFAULT 0,"
    " uses INTEGER NOT NULL DEFAULT 0, downloads INTEGER NOT NULL DEFAULT 0,"
    " created INTEGER NOT NULL, expires_at INTEGER NOT NULL DEFAULT 0,"
    " revoked_at INTEGER, last_used INTEGER);"
    "CREATE TABLE IF NOT EXISTS link_horizons ("
    " bucket TEXT NOT NULL, key TEXT NOT NULL, horizon INTEGER NOT NULL,"
    " PRIMARY KEY (bucket, key)) WITHOUT ROWID;";

/* The epoch cache is in meta.c, in front of every backend. */
struct sq_gate {
    sqlite3 *db;
    pthread_mutex_t mu;
    sqlite3_stmt *q[Q_COUNT];
};

static int db_err(struct sq_gate *mg, const char *what)
{
    tg_log_error("meta: %s: %s", what, sqlite3_errmsg(mg->db));
    return -ERR_DB;
}

int meta_sq_gate_open(struct meta_gate *pub)
{
    struct sq_gate *mg = calloc(1, sizeof *mg);
    int rc = 0;
    if (!mg)
        return -ERR_NOMEM;
    pub->be = mg;
    pthread_mutex_init(&mg->mu, NULL);
    if (sqlite3_open_v2(meta_sqlite_path(pub->m), &mg->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        rc = db_err(mg, "open");
        goto out;
    }
    sqlite3_busy_timeout(mg->db, 10000);
    if (sqlite3_exec(mg->db, "PRAGMA synchronous=FULL;", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(mg->db, SCHEMA, NULL, NULL, NULL) != SQLITE_OK) {
        rc = db_err(mg, "gate schema");
        goto out;
    }
    for (int i = 0; i < Q_COUNT; i++)
        if (sqlite3_prepare_v3(mg->db, SQL[i], -1, SQLITE_PREPARE_PERSISTENT, &mg->q[i], NULL) !=
            SQLITE_OK) {
            rc = db_err(mg, "gate prepare");
            goto out;
        }
    return 0;
out:
    meta_sq_gate_close(pub);
    return rc;
}

void meta_sq_gate_close(struct meta_gate *pub)
{
    struct sq_gate *mg = pub->be;
    if (!mg)
        return;
    for (int i = 0; i < Q_COUNT; i++)
        sqlite3_finalize(mg->q[i]);
    sqlite3_close(mg->db);
    pthread_mutex_destroy(&mg->mu);
    free(mg);
    pub->be = NULL;
}

/* Take statement i, locked; done() resets it and unlocks. */
static sqlite3_stmt *take(struct sq_gate *mg, int i)
{
    pthread_mutex_lock(&mg->mu);
    return mg->q[i];
}

static void done(struct sq_gate *mg, sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    pthread_mutex_unlock(&mg->mu);
}

int meta_sq_epoch_read(struct meta_gate *pub, const char *grant, uint64_t *out)
{
    struct sq_gate *mg = pub->be;
    sqlite3_stmt *st = take(mg, Q_EPOCH_GET);
    int rc = 0;
    uint64_t e = 0;
    sqlite3_bind_text(st, 1, grant, -1, SQLITE_STATIC);
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW)
        e = (uint64_t)sqlite3_column_int64(st, 0);
    else if (s != SQLITE_DONE)
        rc = db_err(mg, "epoch");
    done(mg, st);
    if (rc == 0)
        *out = e;
    return rc;
}

int meta_sq_epoch_bump(struct meta_gate *pub, const char *grant, int64_t now, uint64_t *new_epoch)
{
    struct sq_gate *mg = pub->be;
    sqlite3_stmt *st = take(mg, Q_EPOCH_BUMP);
    int rc = 0;
    uint64_t e = 0;
    sqlite3_bind_text(st, 1, grant, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    if (sqlite3_step(st) != SQLITE_ROW) {
        rc = db_err(mg, "epoch bump");
    } else {
        e = (uint64_t)sqlite3_column_int64(st, 0);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = db_err(mg, "epoch bump");
    }
    done(mg, st);
    if (rc == 0) {
        meta_gen_bump(pub->m); /* every process drops its cached epochs */
        *new_epoch = e;
    }
    return rc;
}

int meta_sq_named_insert(struct meta_gate *pub, const uint8_t sha256[32],
                         const struct meta_named *in, int64_t *id)
{
    struct sq_gate *mg = pub->be;
    sqlite3_stmt *st = take(mg, Q_NAMED_INSERT);
    int rc = 0;
    sqlite3_bind_blob(st, 1, sha256, 32, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, in->grant, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, in->label, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, in->max_uses);
    sqlite3_bind_int64(st, 5, in->max_downloads);
    sqlite3_bind_int64(st, 6, in->created);
    sqlite3_bind_int64(st, 7, in->expires_at);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = db_err(mg, "named token insert");
    else
        *id = sqlite3_last_insert_rowid(mg->db);
    done(mg, st);
    return rc;
}

static void named_row(sqlite3_stmt *st, struct meta_named *n)
{
    memset(n, 0, sizeof *n);
    n->id = sqlite3_column_int64(st, 0);
    snprintf(n->grant, sizeof n->grant, "%s", (const char *)sqlite3_column_text(st, 1));
    snprintf(n->label, sizeof n->label, "%s", (const char *)sqlite3_column_text(st, 2));
    n->max_uses = sqlite3_column_int64(st, 3);
    n->max_downloads = sqlite3_column_int64(st, 4);
    n->uses = sqlite3_column_int64(st, 5);
    n->downloads = sqlite3_column_int64(st, 6);
    n->created = sqlite3_column_int64(st, 7);
    n->expires_at = sqlite3_column_int64(st, 8);
    n->revoked_at = sqlite3_column_int64(st, 9); /* NULL reads as 0 */
    n->last_used = sqlite3_column_int64(st, 10);
}

static int named_one(struct sq_gate *mg, sqlite3_stmt *st, struct meta_named *out)
{
    int rc = 0, s = sqlite3_step(st);
    if (s == SQLITE_ROW)
        named_row(st, out);
    else if (s == SQLITE_DONE)
        rc = -ERR_NOT_FOUND;
    else
        rc = db_err(mg, "named token");
    done(mg, st);
    return rc;
}

int meta_sq_named_by_hash(struct meta_gate *pub, const uint8_t sha256[32], struct meta_named *out)
{
    struct sq_gate *mg = pub->be;
    sqlite3_stmt *st = take(mg, Q_NAMED_BY_HASH);
    sqlite3_bind_blob(st, 1, sha256, 32, SQLITE_STATIC);
    return named_one(mg, st, out);
}

int meta_sq_named_by_id(struct meta_gate *pub, int64_t id, struct meta_named *out)
{
    struct sq_gate *mg = pub->be;
    sqlite3_stmt *st = take(mg, Q_NAMED_BY_ID);
    sqlite3_bind_int64(st, 1, id);
    return named_one(mg, st, out);
}

int meta_sq_named_charge(struct meta_gate *pub, int64_t id, bool download, int64_t now)
{
    struct sq_gate *mg = pub->be;
    sqlite3_stmt *st = take(mg, download ? Q_CHARGE_DOWNLOAD : Q_CHARGE_USE);
    int rc = 0;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, now);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = db_err(mg, "named token charge");
    else if (sqlite3_changes(mg->db) == 0)
        rc = -ERR_ACCESS_DENIED;
    done(mg, st);
    return rc;
}

int meta_sq_named_use(struct meta_gate *pub, const uint8_t sha256[32], const char *grant,
                      int64_t now, struct meta_named *out)
{
    struct sq_gate *mg = pub->be;
    sqlite3_stmt *st = take(mg, Q_NAMED_USE);
    sqlite3_bind_blob(st, 1, sha256, 32, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, grant, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now);
    int rc = 0, s = sqlite3_step(st);
    if (s == SQLITE_ROW) {
        named_row(st, out);
        if (sqlite3_step(st) != SQLITE_DONE) /* runs the statement to its end */
            rc = db_err(mg, "named token use");
    } else if (s == SQLITE_DONE) {
        rc = -ERR_ACCESS_DENIED;
    } else {
        rc = db_err(mg, "named token use");
    }
    done(mg, st);
    return rc;
}

int meta_sq_named_list(struct meta_gate *pub, int (*fn)(void *ctx, const struct meta_named *n),
                       void *ctx)
{
    struct sq_gate *mg = pub->be;
    sqlite3_stmt *st = NULL;
    int rc = 0, s;
    /* Rows are copied out first: fn may call back into the gate. */
    struct meta_named *rows = NULL;
    size_t n = 0, cap = 0;
    pthread_mutex_lock(&mg->mu);
    if (sqlite3_prepare_v2(mg->db, "SELECT " NAMED_COLS " FROM named_tokens ORDER BY id", -1, &st,
                           NULL) != SQLITE_OK) {
        rc = db_err(mg, "named token list");
        goto unlock;
    }
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            struct meta_named *r = realloc(rows, nc * sizeof *r);
            if (!r) {
                rc = -ERR_NOMEM;
                goto unlock;
            }
            rows = r;
            cap = nc;
        }
        named_row(st, &rows[n++]);
    }
    if (s != SQLITE_DONE)
        rc = db_err(mg, "named token list");
unlock:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&mg->mu);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = fn(ctx, &rows[i]);
    free(rows);
    return rc;
}

int meta_sq_named_revoke(struct meta_gate *pub, int64_t id, int64_t now)
{
    struct sq_gate *mg = pub->be;
    sqlite3_stmt *st = take(mg, Q_NAMED_REVOKE);
    int rc = 0;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int64(st, 2, id);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = db_err(mg, "named token revoke");
    else if (sqlite3_changes(mg->db) == 0)
        rc = -ERR_NOT_FOUND;
    done(mg, st);
    return rc;
}

int meta_sq_horizon_raise(struct meta_gate *pub, const char *bucket, const struct meta_horizon *h,
                          size_t n)
{
    struct sq_gate *mg = pub->be;
    int rc = 0;
    pthread_mutex_lock(&mg->mu);
    if (sqlite3_exec(mg->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        rc = db_err(mg, "horizon begin");
        pthread_mutex_unlock(&mg->mu);
        return rc;
    }
    sqlite3_stmt *st = mg->q[Q_HORIZON_RAISE];
    for (size_t i = 0; i < n && rc == 0; i++) {
        sqlite3_bind_text(st, 1, bucket, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, h[i].key, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, h[i].horizon);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = db_err(mg, "horizon raise");
        sqlite3_reset(st);
    }
    sqlite3_clear_bindings(st);
    if (sqlite3_exec(mg->db, rc == 0 ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL) != SQLITE_OK &&
        rc == 0) {
        rc = db_err(mg, "horizon commit");
        sqlite3_exec(mg->db, "ROLLBACK", NULL, NULL, NULL);
    }
    pthread_mutex_unlock(&mg->mu);
    return rc;
}

int meta_sq_horizon_get(struct meta_gate *pub, const char *bucket, struct str key, int64_t *out)
{
    struct sq_gate *mg = pub->be;
    sqlite3_stmt *st = take(mg, Q_HORIZON_GET);
    int rc = 0;
    sqlite3_bind_text(st, 1, bucket, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, key.ptr ? key.ptr : "", (int)key.len, SQLITE_STATIC);
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    else if (s == SQLITE_DONE)
        *out = 0;
    else
        rc = db_err(mg, "horizon");
    done(mg, st);
    return rc;
}
