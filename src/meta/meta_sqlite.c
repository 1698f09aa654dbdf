/* meta_sqlite.c -- the SQLite backend (meta_int.h): DIR/meta.db, its access keys,
 * admin key and leases, and the table of operations that names the gate's, the
 * analytics' and the lifecycle's SQLite functions (meta_gate.c, meta_stats.c,
 * meta_lifecycle.c). One connection guarded by a mutex: these lookups are short (one
 * indexed row); writers in other processes are waited for with busy_timeout. Key
 * secrets are derived on demand (meta.c) and never stored. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "meta/meta.h"
#include "meta/meta_int.h"

/* The metadata generation: DIR/keys.gen, a counter memory-mapped by every process
 * using DIR and bumped after every change a running server caches (meta.c), so
 * `tollgate key delete` in another process takes effect on the next request. */
#define META_GEN_FILE_SIZE 4096

struct sq {
    sqlite3 *db;
    pthread_mutex_t mu;
    sqlite3_stmt *q_key;
    uint64_t *gen; /* NULL: no cache */
};

static struct sq *SQ(const struct meta *m)
{
    return m->be;
}

static void gen_map(struct sq *m, const char *data_dir)
{
    char path[4096];
    struct stat stt;
    snprintf(path, sizeof path, "%s/keys.gen", data_dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    if (fstat(fd, &stt) == 0 &&
        (stt.st_size >= META_GEN_FILE_SIZE || ftruncate(fd, META_GEN_FILE_SIZE) == 0)) {
        void *p = mmap(NULL, META_GEN_FILE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p != MAP_FAILED)
            m->gen = p;
    }
    close(fd);
}

static bool sq_gen_enabled(const struct meta *pub)
{
    return SQ(pub)->gen != NULL;
}

static uint64_t sq_gen_load(const struct meta *pub)
{
    const struct sq *m = SQ(pub);
    return m->gen ? __atomic_load_n(m->gen, __ATOMIC_ACQUIRE) : 0;
}

static void sq_gen_bump(struct meta *pub)
{
    struct sq *m = SQ(pub);
    if (m->gen)
        __atomic_add_fetch(m->gen, 1, __ATOMIC_SEQ_CST);
}

static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS access_keys ("
    " akid TEXT PRIMARY KEY, kind TEXT NOT NULL, label TEXT NOT NULL DEFAULT '',"
    " created_us INTEGER NOT NULL, deleted_us INTEGER);"
    "CREATE TABLE IF NOT EXISTS admin_keys ("
    " id INTEGER PRIMARY KEY CHECK (id = 1), sha256 BLOB NOT NULL, created_us INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS leases ("
    " name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at INTEGER NOT NULL) WITHOUT ROWID;";

static int db_err(struct sq *m, const char *what)
{
    tg_log_error("meta: %s: %s", what, sqlite3_errmsg(m->db));
    return -ERR_DB;
}

static void sq_close(struct meta *pub)
{
    struct sq *m = SQ(pub);
    if (!m)
        return;
    sqlite3_finalize(m->q_key);
    sqlite3_close(m->db);
    pthread_mutex_destroy(&m->mu);
    if (m->gen)
        munmap(m->gen, META_GEN_FILE_SIZE);
    free(m);
    pub->be = NULL;
}

static int sq_open(struct meta *pub, const struct meta_config *cfg)
{
    char path[4096];
    struct sq *m = calloc(1, sizeof *m);
    if (!m)
        return -ERR_NOMEM;
    pub->be = m;
    pthread_mutex_init(&m->mu, NULL);
    gen_map(m, cfg->data_dir);
    snprintf(path, sizeof path, "%s/meta.db", cfg->data_dir);
    int rc = 0;
    if (sqlite3_open_v2(path, &m->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        rc = db_err(m, "open");
        goto out;
    }
    sqlite3_busy_timeout(m->db, 10000);
    if (sqlite3_exec(m->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", NULL, NULL,
                     NULL) != SQLITE_OK ||
        sqlite3_exec(m->db, SCHEMA, NULL, NULL, NULL) != SQLITE_OK) {
        rc = db_err(m, "schema");
        goto out;
    }
    if (sqlite3_prepare_v3(m->db, "SELECT 1 FROM access_keys WHERE akid = ? AND deleted_us IS NULL",
                           -1, SQLITE_PREPARE_PERSISTENT, &m->q_key, NULL) != SQLITE_OK) {
        rc = db_err(m, "prepare");
        goto out;
    }
    return 0;
out:
    sq_close(pub); /* meta_close() sees be == NULL */
    return rc;
}

const char *meta_sqlite_path(const struct meta *m)
{
    return sqlite3_db_filename(SQ(m)->db, "main");
}

static int sq_key_insert(struct meta *pub, const struct meta_key *k)
{
    struct sq *m = SQ(pub);
    sqlite3_stmt *st = NULL;
    int rc = 0;
    pthread_mutex_lock(&m->mu);
    if (sqlite3_prepare_v2(
            m->db, "INSERT INTO access_keys (akid, kind, label, created_us) VALUES (?,?,?,?)", -1,
            &st, NULL) != SQLITE_OK) {
        rc = db_err(m, "insert key");
        goto out;
    }
    sqlite3_bind_text(st, 1, k->akid, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, k->kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, k->label, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, k->created_us);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = db_err(m, "insert key");
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&m->mu);
    return rc;
}

static int sq_key_live(struct meta *pub, struct str akid)
{
    struct sq *m = SQ(pub);
    int rc;
    pthread_mutex_lock(&m->mu);
    sqlite3_bind_text(m->q_key, 1, akid.ptr, (int)akid.len, SQLITE_STATIC);
    int s = sqlite3_step(m->q_key);
    if (s == SQLITE_ROW)
        rc = 0;
    else if (s == SQLITE_DONE)
        rc = -ERR_INVALID_ACCESS_KEY;
    else
        rc = db_err(m, "key lookup");
    sqlite3_reset(m->q_key);
    sqlite3_clear_bindings(m->q_key);
    pthread_mutex_unlock(&m->mu);
    return rc;
}

static int sq_key_delete(struct meta *pub, struct str akid, int64_t now_us)
{
    struct sq *m = SQ(pub);
    sqlite3_stmt *st = NULL;
    int rc = 0;
    pthread_mutex_lock(&m->mu);
    if (sqlite3_prepare_v2(
            m->db, "UPDATE access_keys SET deleted_us = ? WHERE akid = ? AND deleted_us IS NULL",
            -1, &st, NULL) != SQLITE_OK) {
        rc = db_err(m, "delete key");
        goto out;
    }
    sqlite3_bind_int64(st, 1, now_us);
    sqlite3_bind_text(st, 2, akid.ptr, (int)akid.len, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = db_err(m, "delete key");
    else if (sqlite3_changes(m->db) == 0)
        rc = -ERR_NOT_FOUND;
    else
        sq_gen_bump(pub); /* every process drops its cached copy of the key */
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&m->mu);
    return rc;
}

static int sq_key_list(struct meta *pub, int (*fn)(void *ctx, const struct meta_key *k), void *ctx)
{
    struct sq *m = SQ(pub);
    sqlite3_stmt *st = NULL;
    int rc = 0;
    pthread_mutex_lock(&m->mu);
    if (sqlite3_prepare_v2(m->db,
                           "SELECT akid, kind, label, created_us FROM access_keys "
                           "WHERE deleted_us IS NULL ORDER BY created_us, akid",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = db_err(m, "list keys");
        goto out;
    }
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        struct meta_key k = {0};
        snprintf(k.akid, sizeof k.akid, "%s", (const char *)sqlite3_column_text(st, 0));
        snprintf(k.kind, sizeof k.kind, "%s", (const char *)sqlite3_column_text(st, 1));
        snprintf(k.label, sizeof k.label, "%s", (const char *)sqlite3_column_text(st, 2));
        k.created_us = sqlite3_column_int64(st, 3);
        if ((rc = fn(ctx, &k)) != 0)
            goto out;
    }
    if (s != SQLITE_DONE)
        rc = db_err(m, "list keys");
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&m->mu);
    return rc;
}

static int sq_admin_key_set(struct meta *pub, const uint8_t h[32], int64_t now_us)
{
    struct sq *m = SQ(pub);
    sqlite3_stmt *st = NULL;
    int rc = 0;
    pthread_mutex_lock(&m->mu);
    if (sqlite3_prepare_v2(
            m->db, "INSERT OR REPLACE INTO admin_keys (id, sha256, created_us) VALUES (1,?,?)", -1,
            &st, NULL) != SQLITE_OK) {
        rc = db_err(m, "admin key");
        goto out;
    }
    sqlite3_bind_blob(st, 1, h, 32, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now_us);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = db_err(m, "admin key");
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&m->mu);
    return rc;
}

static int sq_admin_key_get(struct meta *pub, uint8_t h[32])
{
    struct sq *m = SQ(pub);
    sqlite3_stmt *st = NULL;
    int rc = -ERR_NOT_FOUND;
    pthread_mutex_lock(&m->mu);
    if (sqlite3_prepare_v2(m->db, "SELECT sha256 FROM admin_keys WHERE id = 1", -1, &st, NULL) ==
            SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) == 32) {
        memcpy(h, sqlite3_column_blob(st, 0), 32);
        rc = 0;
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&m->mu);
    return rc;
}

/* Leases: one upsert whose DO UPDATE applies only when the lease is expired or
 * already ours; changes() says whether we hold it (SQLite 3.24+ upsert). */
int meta_sq_lease_try(struct meta *pub, const char *name, const char *holder, int64_t now,
                      int64_t until, bool *got)
{
    struct sq *m = SQ(pub);
    sqlite3_stmt *st = NULL;
    int rc = 0;
    pthread_mutex_lock(&m->mu);
    if (sqlite3_prepare_v2(m->db,
                           "INSERT INTO leases (name, holder, expires_at) VALUES (?1, ?2, ?3) "
                           "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
                           "expires_at = excluded.expires_at "
                           "WHERE leases.expires_at <= ?4 OR leases.holder = excluded.holder",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = db_err(m, "lease");
        goto out;
    }
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, holder, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, until);
    sqlite3_bind_int64(st, 4, now);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = db_err(m, "lease");
    else
        *got = sqlite3_changes(m->db) > 0;
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&m->mu);
    return rc;
}

int meta_sq_lease_release(struct meta *pub, const char *name, const char *holder)
{
    struct sq *m = SQ(pub);
    sqlite3_stmt *st = NULL;
    int rc = 0;
    pthread_mutex_lock(&m->mu);
    if (sqlite3_prepare_v2(m->db, "DELETE FROM leases WHERE name = ? AND holder = ?", -1, &st,
                           NULL) != SQLITE_OK) {
        rc = db_err(m, "lease release");
        goto out;
    }
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, holder, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = db_err(m, "lease release");
    else if (sqlite3_changes(m->db) == 0)
        rc = -ERR_NOT_FOUND;
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&m->mu);
    return rc;
}

const struct meta_ops meta_sqlite_ops = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .gen_load = sq_gen_load,
    .gen_bump = sq_gen_bump,
    .gen_enabled = sq_gen_enabled,
    .key_insert = sq_key_insert,
    .key_live = sq_key_live,
    .key_delete = sq_key_delete,
    .key_list = sq_key_list,
    .admin_key_set = sq_admin_key_set,
    .admin_key_get = sq_admin_key_get,
    .lease_try = meta_sq_lease_try,
    .lease_release = meta_sq_lease_release,
    .lc_rules_put = meta_sq_lc_rules_put,
    .lc_rules_get = meta_sq_lc_rules_get,
    .lc_rules_delete = meta_sq_lc_rules_delete,
    .lc_buckets = meta_sq_lc_buckets,
    .lc_run_record = meta_sq_lc_run_record,
    .lc_run_last = meta_sq_lc_run_last,
    .lc_run_totals = meta_sq_lc_run_totals,
    .gate_open = meta_sq_gate_open,
    .gate_close = meta_sq_gate_close,
    .epoch_read = meta_sq_epoch_read,
    .epoch_bump = meta_sq_epoch_bump,
    .named_insert = meta_sq_named_insert,
    .named_by_hash = meta_sq_named_by_hash,
    .named_by_id = meta_sq_named_by_id,
    .named_charge = meta_sq_named_charge,
    .named_use = meta_sq_named_use,
    .named_list = meta_sq_named_list,
    .named_revoke = meta_sq_named_revoke,
    .horizon_raise = meta_sq_horizon_raise,
    .horizon_get = meta_sq_horizon_get,
    .stats_open = meta_sq_stats_open,
    .stats_close = meta_sq_stats_close,
    .stats_insert = meta_sq_stats_insert,
    .stats_scan = meta_sq_stats_scan,
    .stats_visitors = meta_sq_stats_visitors,
    .stats_pulse = meta_sq_stats_pulse,
    .stats_first = meta_sq_stats_first,
    .stats_window_get = meta_sq_stats_window_get,
    .stats_window_put = meta_sq_stats_window_put,
    .stats_delete_before = meta_sq_stats_delete_before,
};
