/* meta_sqlite.c -- the SQLite implementation of meta.h. One connection guarded by a
 * mutex: these lookups are short (one indexed row); writers in other processes are
 * waited for with busy_timeout. Key secrets are derived on demand and never stored. */
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

/* Live access keys seen recently, so a signed request costs no database read and no
 * lock shared by the server threads. An entry is used only while the key generation
 * (DIR/keys.gen, a counter memory-mapped by every process using DIR and bumped after
 * every key change) is the one it was read at: `tollgate key delete` in another
 * process takes effect on the next request. */
#define META_KEY_CACHE 64
#define META_GEN_FILE_SIZE 4096
struct key_entry {
    char akid[META_AKID_LEN + 1];
    char secret[META_SECRET_KEY_LEN + 1];
    uint64_t gen;
};

struct meta {
    sqlite3 *db;
    pthread_mutex_t mu;
    sqlite3_stmt *q_key;
    uint8_t secret[META_SECRET_LEN];
    uint64_t *gen; /* NULL: no cache */
    pthread_rwlock_t cache_lock;
    struct key_entry cache[META_KEY_CACHE];
    unsigned cache_next;
};

static void gen_map(struct meta *m, const char *data_dir)
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

bool meta_gen_enabled(const struct meta *m)
{
    return m->gen != NULL;
}

uint64_t meta_gen_load(const struct meta *m)
{
    return m->gen ? __atomic_load_n(m->gen, __ATOMIC_ACQUIRE) : 0;
}

void meta_gen_bump(struct meta *m)
{
    if (m->gen)
        __atomic_add_fetch(m->gen, 1, __ATOMIC_SEQ_CST);
}

static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS access_keys ("
    " akid TEXT PRIMARY KEY, kind TEXT NOT NULL, label TEXT NOT NULL DEFAULT '',"
    " created_us INTEGER NOT NULL, deleted_us INTEGER);"
    "CREATE TABLE IF NOT EXISTS admin_keys ("
    " id INTEGER PRIMARY KEY CHECK (id = 1), sha256 BLOB NOT NULL, created_us INTEGER NOT NULL);";

int meta_secret_create(const char *data_dir)
{
    char path[4096];
    uint8_t s[META_SECRET_LEN];
    snprintf(path, sizeof path, "%s/secret", data_dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    int rc = crypto_random(s, sizeof s);
    if (rc == 0 && write(fd, s, sizeof s) != (ssize_t)sizeof s)
        rc = -EIO;
    if (rc == 0 && fsync(fd) < 0)
        rc = -errno;
    close(fd);
    crypto_wipe(s, sizeof s);
    if (rc < 0)
        unlink(path);
    return rc;
}

int meta_secret_load(const char *data_dir, uint8_t out[META_SECRET_LEN], char **err)
{
    char path[4096];
    struct stat stt;
    struct buf e = BUF_INIT;
    snprintf(path, sizeof path, "%s/secret", data_dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int rc = -errno;
        buf_printf(&e, "cannot open '%s': %s (run 'tollgate init DIR' first)", path,
                   strerror(errno));
        *err = buf_take(&e);
        return rc;
    }
    int rc = 0;
    if (fstat(fd, &stt) < 0) {
        rc = -errno;
        buf_printf(&e, "cannot stat '%s': %s", path, strerror(errno));
    } else if (stt.st_mode & 077) {
        rc = -ERR_CONFIG;
        buf_printf(&e, "'%s' is readable by others (mode %03o): refusing it; run 'chmod 600 %s'",
                   path, stt.st_mode & 0777, path);
    } else if (stt.st_size != META_SECRET_LEN ||
               read(fd, out, META_SECRET_LEN) != META_SECRET_LEN) {
        rc = -ERR_CONFIG;
        buf_printf(&e, "'%s' must hold exactly %d bytes", path, META_SECRET_LEN);
    }
    close(fd);
    if (rc < 0)
        *err = buf_take(&e);
    return rc;
}

static int db_err(struct meta *m, const char *what)
{
    tg_log_error("meta: %s: %s", what, sqlite3_errmsg(m->db));
    return -ERR_DB;
}

int meta_open(const char *data_dir, const uint8_t secret[META_SECRET_LEN], struct meta **out)
{
    char path[4096];
    struct meta *m = calloc(1, sizeof *m);
    if (!m)
        return -ERR_NOMEM;
    pthread_mutex_init(&m->mu, NULL);
    pthread_rwlock_init(&m->cache_lock, NULL);
    memcpy(m->secret, secret, META_SECRET_LEN);
    gen_map(m, data_dir);
    snprintf(path, sizeof path, "%s/meta.db", data_dir);
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
    *out = m;
    return 0;
out:
    meta_close(m);
    return rc;
}

const char *meta_sqlite_path(const struct meta *m)
{
    return sqlite3_db_filename(m->db, "main");
}

void meta_close(struct meta *m)
{
    if (!m)
        return;
    sqlite3_finalize(m->q_key);
    sqlite3_close(m->db);
    pthread_mutex_destroy(&m->mu);
    crypto_wipe(m->secret, sizeof m->secret);
    if (m->gen)
        munmap(m->gen, META_GEN_FILE_SIZE);
    crypto_wipe(m->cache, sizeof m->cache);
    pthread_rwlock_destroy(&m->cache_lock);
    free(m);
}

static void derive_secret(const struct meta *m, struct str akid, char out[META_SECRET_KEY_LEN + 1])
{
    uint8_t mac[32];
    char b64[48];
    char msg[META_AKID_LEN + 16];
    int n = snprintf(msg, sizeof msg, "s3key|%.*s", STR_FMT(akid));
    crypto_hmac_sha256(m->secret, META_SECRET_LEN, msg, (size_t)n, mac);
    b64_encode(mac, sizeof mac, b64); /* 44 chars; AWS secrets are 40 of [A-Za-z0-9+/] */
    memcpy(out, b64, META_SECRET_KEY_LEN);
    out[META_SECRET_KEY_LEN] = '\0';
    crypto_wipe(mac, sizeof mac);
    crypto_wipe(b64, sizeof b64);
}

int meta_key_create(struct meta *m, const char *kind, const char *label, struct meta_key *out,
                    char secret[META_SECRET_KEY_LEN + 1])
{
    static const char AL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    struct meta_key k = {0};
    uint8_t rnd[META_AKID_LEN];
    sqlite3_stmt *st = NULL;
    int rc;
    if (strlen(label) >= META_LABEL_MAX || strlen(kind) >= sizeof k.kind)
        return -ERR_TOO_LONG;
    if ((rc = crypto_random(rnd, sizeof rnd)) < 0)
        return rc;
    memcpy(k.akid, "TG", 2);
    for (int i = 2; i < META_AKID_LEN; i++)
        k.akid[i] = AL[rnd[i] & 31];
    snprintf(k.kind, sizeof k.kind, "%s", kind);
    snprintf(k.label, sizeof k.label, "%s", label);
    k.created_us = tg_now_us();
    pthread_mutex_lock(&m->mu);
    if (sqlite3_prepare_v2(
            m->db, "INSERT INTO access_keys (akid, kind, label, created_us) VALUES (?,?,?,?)", -1,
            &st, NULL) != SQLITE_OK) {
        rc = db_err(m, "insert key");
        goto out;
    }
    sqlite3_bind_text(st, 1, k.akid, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, k.kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, k.label, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, k.created_us);
    if (sqlite3_step(st) != SQLITE_DONE) {
        rc = db_err(m, "insert key");
        goto out;
    }
    derive_secret(m, str_c(k.akid), secret);
    *out = k;
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&m->mu);
    return rc;
}

int meta_key_secret(struct meta *m, struct str akid, char *secret, size_t cap)
{
    int rc;
    if (akid.len != META_AKID_LEN || cap < META_SECRET_KEY_LEN + 1)
        return -ERR_INVALID_ACCESS_KEY;
    uint64_t gen = meta_gen_load(m); /* before the read: a later change retires the entry */
    if (m->gen) {
        bool hit = false;
        pthread_rwlock_rdlock(&m->cache_lock);
        for (unsigned i = 0; i < META_KEY_CACHE && !hit; i++) {
            const struct key_entry *e = &m->cache[i];
            if (e->gen == gen && e->akid[0] && memcmp(e->akid, akid.ptr, META_AKID_LEN) == 0) {
                memcpy(secret, e->secret, META_SECRET_KEY_LEN + 1);
                hit = true;
            }
        }
        pthread_rwlock_unlock(&m->cache_lock);
        if (hit)
            return 0;
    }
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
    if (rc < 0)
        return rc;
    derive_secret(m, akid, secret);
    if (m->gen) {
        pthread_rwlock_wrlock(&m->cache_lock);
        struct key_entry *e = &m->cache[m->cache_next++ % META_KEY_CACHE];
        memcpy(e->akid, akid.ptr, META_AKID_LEN);
        e->akid[META_AKID_LEN] = '\0';
        memcpy(e->secret, secret, META_SECRET_KEY_LEN + 1);
        e->gen = gen;
        pthread_rwlock_unlock(&m->cache_lock);
    }
    return 0;
}

int meta_key_delete(struct meta *m, struct str akid)
{
    sqlite3_stmt *st = NULL;
    int rc = 0;
    pthread_mutex_lock(&m->mu);
    if (sqlite3_prepare_v2(
            m->db, "UPDATE access_keys SET deleted_us = ? WHERE akid = ? AND deleted_us IS NULL",
            -1, &st, NULL) != SQLITE_OK) {
        rc = db_err(m, "delete key");
        goto out;
    }
    sqlite3_bind_int64(st, 1, tg_now_us());
    sqlite3_bind_text(st, 2, akid.ptr, (int)akid.len, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = db_err(m, "delete key");
    else if (sqlite3_changes(m->db) == 0)
        rc = -ERR_NOT_FOUND;
    else
        meta_gen_bump(m); /* every process drops its cached copy of the key */
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&m->mu);
    return rc;
}

int meta_key_list(struct meta *m, int (*fn)(void *ctx, const struct meta_key *k), void *ctx)
{
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

int meta_admin_key_create(struct meta *m, char out[META_ADMIN_KEY_LEN + 1])
{
    uint8_t rnd[24], h[32];
    char key[META_ADMIN_KEY_LEN + 1];
    sqlite3_stmt *st = NULL;
    int rc = crypto_random(rnd, sizeof rnd);
    if (rc < 0)
        return rc;
    memcpy(key, "tga_", 4);
    b64url_encode(rnd, sizeof rnd, key + 4);
    crypto_sha256(key, strlen(key), h);
    pthread_mutex_lock(&m->mu);
    if (sqlite3_prepare_v2(
            m->db, "INSERT OR REPLACE INTO admin_keys (id, sha256, created_us) VALUES (1,?,?)", -1,
            &st, NULL) != SQLITE_OK) {
        rc = db_err(m, "admin key");
        goto out;
    }
    sqlite3_bind_blob(st, 1, h, sizeof h, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, tg_now_us());
    if (sqlite3_step(st) != SQLITE_DONE) {
        rc = db_err(m, "admin key");
        goto out;
    }
    memcpy(out, key, sizeof key);
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&m->mu);
    crypto_wipe(rnd, sizeof rnd);
    crypto_wipe(key, sizeof key);
    return rc;
}

bool meta_admin_key_check(struct meta *m, struct str key)
{
    uint8_t h[32];
    sqlite3_stmt *st = NULL;
    bool ok = false;
    crypto_sha256(key.ptr, key.len, h);
    pthread_mutex_lock(&m->mu);
    if (sqlite3_prepare_v2(m->db, "SELECT sha256 FROM admin_keys WHERE id = 1", -1, &st, NULL) ==
            SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) == 32)
        ok = crypto_ct_eq(sqlite3_column_blob(st, 0), h, 32);
    sqlite3_finalize(st);
    pthread_mutex_unlock(&m->mu);
    return ok;
}
