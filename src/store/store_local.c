/* store_local.c -- the local backend: the data directory, the SQLite connection pool,
 * buckets, head/open/delete/copy/retire (the writes: store_put.c).
 *
 * Invariants (see store_int.h for the pool and the gc protocol):
 *   - a row of objects/parts names a blob that exists (blobs are published before the
 *     row commits and removed only by store_gc when no row names them);
 *   - tmp/ holds only files of live puts, each flock'ed by its writer; store_open
 *     removes the others (left by a crash), never a live one of another process;
 *   - an object row is replaced in one transaction: readers see old or new.
 * Workload: many concurrent reads (head/open on every GET, a few worker threads),
 * writes serialized by SQLite's single writer; each object commit fsyncs the blob,
 * its directory and the WAL (synchronous=FULL) before it is acknowledged. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store_int.h"

static const char *const stmt_sql[S__COUNT] = {
#define STORE_STMT_SQL(id, sql) [id] = sql,
    STORE_STMTS(STORE_STMT_SQL)
#undef STORE_STMT_SQL
};

/* Other modules keep their own tables in meta.db: only IF NOT EXISTS, no user_version. */
static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS buckets(name TEXT PRIMARY KEY, created_us INTEGER NOT NULL)"
    " WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS objects(bucket TEXT NOT NULL, key BLOB NOT NULL,"
    " size INTEGER NOT NULL, etag TEXT NOT NULL, sha256 BLOB NOT NULL,"
    " content_type TEXT NOT NULL, meta_json TEXT NOT NULL, mtime_us INTEGER NOT NULL,"
    " retired_us INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(bucket, key)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS objects_sha256 ON objects(sha256);"
    "CREATE TABLE IF NOT EXISTS uploads(upload_id TEXT PRIMARY KEY, bucket TEXT NOT NULL,"
    " key BLOB NOT NULL, content_type TEXT NOT NULL, meta_json TEXT NOT NULL,"
    " initiated_us INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS uploads_key ON uploads(bucket, key, upload_id);"
    "CREATE TABLE IF NOT EXISTS parts(upload_id TEXT NOT NULL, part INTEGER NOT NULL,"
    " sha256 BLOB NOT NULL, etag TEXT NOT NULL, size INTEGER NOT NULL,"
    " mtime_us INTEGER NOT NULL, PRIMARY KEY(upload_id, part)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS parts_sha256 ON parts(sha256);"
    "CREATE TABLE IF NOT EXISTS completed_uploads(upload_id TEXT PRIMARY KEY,"
    " bucket TEXT NOT NULL, key BLOB NOT NULL, etag TEXT NOT NULL,"
    " completed_us INTEGER NOT NULL) WITHOUT ROWID;";

/* ---- connections ----------------------------------------------------------- */

int store_db_error(struct store_conn *c, const char *what)
{
    tg_log_error("store: %s: %s", what, c && c->db ? sqlite3_errmsg(c->db) : "no connection");
    return -ERR_DB;
}

static void conn_close(struct store_conn *c)
{
    if (!c)
        return;
    for (int i = 0; i < S__COUNT; i++)
        sqlite3_finalize(c->stmt[i]);
    sqlite3_close_v2(c->db);
    free(c);
}

static int conn_exec(struct store_conn *c, const char *sql, const char *what)
{
    char *msg = NULL;
    if (sqlite3_exec(c->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        tg_log_error("store: %s: %s", what, msg ? msg : sqlite3_errmsg(c->db));
        sqlite3_free(msg);
        return -ERR_DB;
    }
    return 0;
}

static int conn_open(struct store *st, struct store_conn **out)
{
    struct store_conn *c = calloc(1, sizeof *c);
    sqlite3_stmt *s = NULL;
    int rc;

    if (!c)
        return -ERR_NOMEM;
    c->st = st;
    /* NOMUTEX: a connection is used by one thread at a time (the pool hands it out). */
    if (sqlite3_open_v2(st->db_path, &c->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        rc = store_db_error(c, "cannot open meta.db");
        goto out;
    }
    sqlite3_busy_timeout(c->db, STORE_BUSY_MS);
    if (sqlite3_prepare_v2(c->db, "PRAGMA journal_mode=WAL", -1, &s, NULL) != SQLITE_OK ||
        sqlite3_step(s) != SQLITE_ROW) {
        rc = store_db_error(c, "journal_mode=WAL");
        goto out;
    }
    if (sqlite3_stricmp((const char *)sqlite3_column_text(s, 0), "wal") != 0) {
        tg_log_error("store: meta.db refused WAL mode (journal_mode=%s)",
                     (const char *)sqlite3_column_text(s, 0));
        rc = -ERR_DB;
        goto out;
    }
    /* FULL: a commit that acknowledges a PUT must survive power loss, not just kill -9. */
    if ((rc = conn_exec(c, "PRAGMA synchronous=FULL", "synchronous=FULL")) < 0)
        goto out;
    *out = c;
    c = NULL;
    rc = 0;
out:
    sqlite3_finalize(s);
    conn_close(c);
    return rc;
}

/* Data directories made before objects.retired_us existed gain the column. */
static int migrate(struct store_conn *c)
{
    sqlite3_stmt *s = NULL;
    bool have = false;
    if (sqlite3_prepare_v2(c->db, "PRAGMA table_info(objects)", -1, &s, NULL) != SQLITE_OK)
        return store_db_error(c, "table_info");
    while (sqlite3_step(s) == SQLITE_ROW)
        if (sqlite3_column_text(s, 1) &&
            strcmp((const char *)sqlite3_column_text(s, 1), "retired_us") == 0)
            have = true;
    sqlite3_finalize(s);
    if (have)
        return 0;
    return conn_exec(c, "ALTER TABLE objects ADD COLUMN retired_us INTEGER NOT NULL DEFAULT 0",
                     "add objects.retired_us");
}

int store_conn_get(struct store *st, struct store_conn **out)
{
    struct store_conn *c;

    pthread_mutex_lock(&st->lock);
    c = st->idle;
    if (c) {
        st->idle = c->next;
        st->nidle--;
    }
    pthread_mutex_unlock(&st->lock);
    if (!c) {
        int rc = conn_open(st, &c);
        if (rc < 0)
            return rc;
    }
    c->next = NULL;
    *out = c;
    return 0;
}

void store_conn_put(struct store *st, struct store_conn *c)
{
    sqlite3_stmt *s = NULL;

    if (!c)
        return;
    /* A statement left mid-step keeps a read snapshot open: end it now. */
    while ((s = sqlite3_next_stmt(c->db, s)) != NULL)
        if (sqlite3_stmt_busy(s))
            sqlite3_reset(s);
    store_tx_rollback(c);
    pthread_mutex_lock(&st->lock);
    if (st->nidle < STORE_POOL_IDLE_MAX) {
        c->next = st->idle;
        st->idle = c;
        st->nidle++;
        c = NULL;
    }
    pthread_mutex_unlock(&st->lock);
    conn_close(c);
}

int store_stmt(struct store_conn *c, enum store_stmt_id id, sqlite3_stmt **out)
{
    sqlite3_stmt *s = c->stmt[id];

    if (s) {
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
    } else {
        if (sqlite3_prepare_v3(c->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &s, NULL) !=
            SQLITE_OK)
            return store_db_error(c, stmt_sql[id]);
        c->stmt[id] = s;
    }
    *out = s;
    return 0;
}

int store_step(struct store_conn *c, sqlite3_stmt *s, const char *what)
{
    int rc = sqlite3_step(s);
    /* A write outside a transaction committed just now (a COMMIT ends in autocommit
     * mode too): cached rows of every process are stale. See store_cache.c. */
    if (rc == SQLITE_DONE && c->st && !sqlite3_stmt_readonly(s) && sqlite3_get_autocommit(c->db))
        store_gen_bump(c->st);
    if (rc == SQLITE_ROW || rc == SQLITE_DONE)
        return rc;
    rc = store_db_error(c, what);
    sqlite3_reset(s);
    return rc;
}

int store_run(struct store_conn *c, enum store_stmt_id id)
{
    sqlite3_stmt *s;
    int rc = store_stmt(c, id, &s);
    if (rc < 0)
        return rc;
    rc = store_step(c, s, stmt_sql[id]);
    sqlite3_reset(s);
    /* sqlite3_stmt_readonly() is true for COMMIT, so store_step cannot see this one. */
    if (rc >= 0 && id == S_COMMIT && c->st)
        store_gen_bump(c->st);
    return rc < 0 ? rc : 0;
}

void store_tx_rollback(struct store_conn *c)
{
    if (c && !sqlite3_get_autocommit(c->db))
        (void)store_run(c, S_ROLLBACK);
}

int store_bind_key(sqlite3_stmt *s, int idx, struct str key)
{
    /* A NULL pointer would bind SQL NULL, which compares with nothing. */
    const char *p = key.ptr ? key.ptr : "";
    return sqlite3_bind_blob(s, idx, p, (int)key.len, SQLITE_TRANSIENT) == SQLITE_OK ? 0 : -ERR_DB;
}

int store_bind_text(sqlite3_stmt *s, int idx, struct str v)
{
    const char *p = v.ptr ? v.ptr : "";
    return sqlite3_bind_text(s, idx, p, (int)v.len, SQLITE_TRANSIENT) == SQLITE_OK ? 0 : -ERR_DB;
}

int store_bind_cstr(sqlite3_stmt *s, int idx, const char *v)
{
    return store_bind_text(s, idx, str_c(v ? v : ""));
}

bool store_bytes_lt(const void *a, size_t alen, const void *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    return c < 0 || (c == 0 && alen < blen);
}

/* ---- open / close ------------------------------------------------------------ */

static char *path_join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", a, b);
    return p;
}

/* Remove tmp files whose writer is gone (its flock died with it). */
int store_tmp_clean(const char *tmp_dir)
{
    DIR *d = opendir(tmp_dir);
    struct dirent *e;

    if (!d)
        return -errno;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        int fd = openat(dirfd(d), e->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) {
            if (errno == ELOOP || errno == EISDIR) /* not ours: a symlink or directory */
                (void)unlinkat(dirfd(d), e->d_name, errno == EISDIR ? AT_REMOVEDIR : 0);
            continue;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
            (void)unlinkat(dirfd(d), e->d_name, 0); /* unlinked while locked: see put_begin */
        close(fd);
    }
    closedir(d);
    return 0;
}

/* blobs/00..ff exist from the start, so a new blob only ever creates blobs/ab/cd. */
static int blob_dirs_create(const char *blob_dir)
{
    char p[PATH_MAX];
    bool created = false;

    for (unsigned i = 0; i < 256; i++) {
        snprintf(p, sizeof p, "%s/%02x", blob_dir, i);
        if (mkdir(p, 0700) == 0)
            created = true;
        else if (errno != EEXIST)
            return -errno;
    }
    return created ? dir_fsync(blob_dir) : 0;
}

int store_open(const char *data_dir, struct store **out)
{
    struct store *st = calloc(1, sizeof *st);
    struct store_conn *c = NULL;
    int rc;

    if (!st)
        return -ERR_NOMEM;
    pthread_mutex_init(&st->lock, NULL);
    st->dir = strdup(data_dir);
    st->blob_dir = path_join(data_dir, "blobs");
    st->tmp_dir = path_join(data_dir, "tmp");
    st->db_path = path_join(data_dir, "meta.db");
    if (!st->dir || !st->blob_dir || !st->tmp_dir || !st->db_path) {
        rc = -ERR_NOMEM;
        goto out;
    }
    if ((rc = mkdir_p(st->blob_dir, 0700)) < 0 || (rc = mkdir_p(st->tmp_dir, 0700)) < 0 ||
        (rc = blob_dirs_create(st->blob_dir)) < 0 || (rc = dir_fsync(st->dir)) < 0) {
        tg_log_error("store: cannot create '%s': %s", st->dir, err_message(rc));
        goto out;
    }
    if ((rc = store_tmp_clean(st->tmp_dir)) < 0) {
        tg_log_error("store: cannot clean '%s': %s", st->tmp_dir, err_message(rc));
        goto out;
    }
    if ((rc = conn_open(st, &c)) < 0)
        goto out;
    if ((rc = conn_exec(c, "BEGIN IMMEDIATE", "schema")) < 0)
        goto out;
    if ((rc = conn_exec(c, schema_sql, "schema")) < 0 || (rc = migrate(c)) < 0 ||
        (rc = conn_exec(c, "COMMIT", "schema")) < 0) {
        (void)conn_exec(c, "ROLLBACK", "schema");
        goto out;
    }
    store_conn_put(st, c);
    c = NULL;
    store_cache_open(st);
    *out = st;
    st = NULL;
out:
    conn_close(c);
    store_close(st);
    return rc;
}

void store_close(struct store *st)
{
    if (st && st->remote) {
        store_remote_close(st);
        pthread_mutex_destroy(&st->lock);
        free(st->dir);
        free(st->tmp_dir);
        free(st);
        return;
    }
    if (!st)
        return;
    while (st->idle) {
        struct store_conn *c = st->idle;
        st->idle = c->next;
        conn_close(c);
    }
    store_cache_close(st);
    pthread_mutex_destroy(&st->lock);
    free(st->dir);
    free(st->blob_dir);
    free(st->tmp_dir);
    free(st->db_path);
    free(st);
}

/* ---- buckets ------------------------------------------------------------------ */

int store_bucket_check_conn(struct store_conn *c, struct str bucket)
{
    sqlite3_stmt *s;
    int rc;

    if ((rc = store_stmt(c, S_BUCKET_GET, &s)) < 0 || (rc = store_bind_text(s, 1, bucket)) < 0)
        return rc;
    rc = store_step(c, s, "bucket lookup");
    sqlite3_reset(s);
    if (rc < 0)
        return rc;
    return rc == SQLITE_ROW ? 0 : -ERR_NO_SUCH_BUCKET;
}

int store_bucket_create(struct store *st, struct str bucket)
{
    if (st->remote)
        return store_remote_bucket_create(st, bucket);
    struct store_conn *c = NULL;
    sqlite3_stmt *s;
    int rc;

    if ((rc = store_bucket_name_check(bucket)) < 0)
        return rc;
    if ((rc = store_conn_get(st, &c)) < 0)
        return rc;
    if ((rc = store_stmt(c, S_BUCKET_INSERT, &s)) < 0 || (rc = store_bind_text(s, 1, bucket)) < 0)
        goto out;
    sqlite3_bind_int64(s, 2, tg_now_us());
    if ((rc = store_step(c, s, "bucket create")) < 0)
        goto out;
    rc = sqlite3_changes(c->db) == 0 ? -ERR_EXISTS : 0;
out:
    store_conn_put(st, c);
    return rc;
}

static int exists_query(struct store_conn *c, enum store_stmt_id id, struct str bucket)
{
    sqlite3_stmt *s;
    int rc;

    if ((rc = store_stmt(c, id, &s)) < 0 || (rc = store_bind_text(s, 1, bucket)) < 0)
        return rc;
    rc = store_step(c, s, "bucket contents");
    sqlite3_reset(s);
    return rc < 0 ? rc : rc == SQLITE_ROW;
}

int store_bucket_delete(struct store *st, struct str bucket)
{
    if (st->remote)
        return store_remote_bucket_delete(st, bucket);
    struct store_conn *c = NULL;
    sqlite3_stmt *s;
    int rc;

    if ((rc = store_conn_get(st, &c)) < 0)
        return rc;
    if ((rc = store_tx_begin(c)) < 0 || (rc = store_bucket_check_conn(c, bucket)) < 0)
        goto out;
    if ((rc = exists_query(c, S_BUCKET_HAS_OBJ, bucket)) != 0 ||
        (rc = exists_query(c, S_BUCKET_HAS_UPLOAD, bucket)) != 0) {
        if (rc > 0)
            rc = -ERR_BUCKET_NOT_EMPTY;
        goto out;
    }
    if ((rc = store_stmt(c, S_BUCKET_DELETE, &s)) < 0 || (rc = store_bind_text(s, 1, bucket)) < 0 ||
        (rc = store_step(c, s, "bucket delete")) < 0)
        goto out;
    if ((rc = store_stmt(c, S_BUCKET_DROP_COMPLETED, &s)) < 0 ||
        (rc = store_bind_text(s, 1, bucket)) < 0 || (rc = store_step(c, s, "bucket delete")) < 0)
        goto out;
    rc = store_tx_commit(c);
out:
    store_conn_put(st, c); /* rolls back on failure */
    return rc;
}

int store_bucket_exists(struct store *st, struct str bucket)
{
    if (st->remote)
        return store_remote_bucket_exists(st, bucket);
    struct store_conn *c = NULL;
    int rc;

    if ((rc = store_conn_get(st, &c)) < 0)
        return rc;
    rc = store_bucket_check_conn(c, bucket);
    store_conn_put(st, c);
    return rc;
}

int store_bucket_list(struct store *st, int (*fn)(void *ctx, const struct store_bucket *b),
                      void *ctx)
{
    if (st->remote)
        return store_remote_bucket_list(st, fn, ctx);
    struct store_conn *c = NULL;
    sqlite3_stmt *s;
    int rc;

    if ((rc = store_conn_get(st, &c)) < 0)
        return rc;
    if ((rc = store_stmt(c, S_BUCKET_LIST, &s)) < 0)
        goto out;
    while ((rc = store_step(c, s, "bucket list")) == SQLITE_ROW) {
        struct store_bucket b = {(const char *)sqlite3_column_text(s, 0),
                                 sqlite3_column_int64(s, 1)};
        if (!b.name) {
            rc = -ERR_NOMEM;
            goto out;
        }
        if ((rc = fn(ctx, &b)) != 0)
            break;
    }
    rc = rc < 0 ? rc : 0;
out:
    store_conn_put(st, c);
    return rc;
}

/* ---- object rows -------------------------------------------------------------- */

void store_obj_info_release(struct store_obj_info *info)
{
    if (!info)
        return;
    free(info->content_type);
    free(info->meta_json);
    memset(info, 0, sizeof *info);
}

static char *col_dup(sqlite3_stmt *s, int col)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    return t ? strdup((const char *)t) : strdup("");
}

int store_info_from_row(sqlite3_stmt *s, int col, struct store_obj_info *out)
{
    struct store_obj_info info = {0};
    const void *sha = sqlite3_column_blob(s, col + 2);

    info.size = (uint64_t)sqlite3_column_int64(s, col);
    if (str_copy(str_n(sqlite3_column_text(s, col + 1), (size_t)sqlite3_column_bytes(s, col + 1)),
                 info.etag, sizeof info.etag) < 0 ||
        !sha || sqlite3_column_bytes(s, col + 2) != 32) {
        tg_log_error("store: malformed object row");
        return -ERR_DB;
    }
    memcpy(info.sha256, sha, 32);
    info.content_type = col_dup(s, col + 3);
    info.meta_json = col_dup(s, col + 4);
    info.mtime_us = sqlite3_column_int64(s, col + 5);
    info.retired_us = sqlite3_column_int64(s, col + 6);
    if (!info.content_type || !info.meta_json) {
        store_obj_info_release(&info);
        return -ERR_NOMEM;
    }
    *out = info;
    return 0;
}

int store_obj_row_put(struct store_conn *c, struct str bucket, struct str key,
                      const struct store_obj_info *info)
{
    sqlite3_stmt *s;
    int rc;

    if ((rc = store_stmt(c, S_OBJ_PUT, &s)) < 0)
        return rc;
    if ((rc = store_bind_text(s, 1, bucket)) < 0 || (rc = store_bind_key(s, 2, key)) < 0 ||
        (rc = store_bind_cstr(s, 4, info->etag)) < 0 ||
        (rc = store_bind_cstr(s, 6, info->content_type)) < 0 ||
        (rc = store_bind_cstr(s, 7, info->meta_json)) < 0 ||
        sqlite3_bind_blob(s, 5, info->sha256, 32, SQLITE_TRANSIENT) != SQLITE_OK)
        return rc < 0 ? rc : -ERR_DB;
    sqlite3_bind_int64(s, 3, (sqlite3_int64)info->size);
    sqlite3_bind_int64(s, 8, info->mtime_us);
    rc = store_step(c, s, "object write");
    sqlite3_reset(s);
    return rc < 0 ? rc : 0;
}

/* ---- reading ------------------------------------------------------------------ */

int store_head_conn(struct store_conn *c, struct str bucket, struct str key,
                    struct store_obj_info *out)
{
    sqlite3_stmt *s;
    int rc;

    if ((rc = store_stmt(c, S_OBJ_GET, &s)) < 0 || (rc = store_bind_text(s, 1, bucket)) < 0 ||
        (rc = store_bind_key(s, 2, key)) < 0)
        return rc;
    rc = store_step(c, s, "object lookup");
    if (rc == SQLITE_ROW)
        rc = out ? store_info_from_row(s, 0, out) : 0;
    else if (rc == SQLITE_DONE)
        rc = store_bucket_check_conn(c, bucket) < 0 ? -ERR_NO_SUCH_BUCKET : -ERR_NO_SUCH_KEY;
    sqlite3_reset(s);
    return rc;
}

int store_obj_head(struct store *st, struct str bucket, struct str key, struct store_obj_info *out)
{
    if (st->remote)
        return store_remote_head(st, bucket, key, out);
    struct store_conn *c = NULL;
    struct store_obj_info info = {0};
    uint64_t gen = store_gen_load(st); /* before the read: see store_cache.c */
    int rc;

    if (store_cache_get(st, bucket, key, gen, &info))
        goto done;
    if ((rc = store_conn_get(st, &c)) < 0)
        return rc;
    rc = store_head_conn(c, bucket, key, &info);
    store_conn_put(st, c);
    if (rc < 0)
        return rc;
    store_cache_put(st, bucket, key, gen, &info);
done:
    if (out)
        *out = info;
    else
        store_obj_info_release(&info);
    return 0;
}

int store_obj_open(struct store *st, struct str bucket, struct str key, struct store_obj_info *out,
                   int *fd_out)
{
    if (st->remote)
        return store_remote_open(st, bucket, key, out, fd_out);
    struct store_obj_info info = {0};
    struct store_conn *c = NULL;
    char path[PATH_MAX];
    int rc, fd = -1;

    /* Fast path: a row cached at the current generation names a live blob. */
    uint64_t gen = store_gen_load(st);
    if (store_cache_get(st, bucket, key, gen, &info)) {
        store_blob_path(st, info.sha256, path);
        if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
            *fd_out = fd;
            if (out)
                *out = info;
            else
                store_obj_info_release(&info);
            return 0;
        }
        store_obj_info_release(&info); /* fall back to the database */
    }
    if ((rc = store_conn_get(st, &c)) < 0)
        return rc;
    /* The row may be replaced and its old blob collected between the lookup and the
     * open: look again, the new row names a blob that exists. */
    for (int attempt = 0; attempt < 4; attempt++) {
        store_obj_info_release(&info);
        if ((rc = store_head_conn(c, bucket, key, &info)) < 0)
            goto out;
        store_blob_path(st, info.sha256, path);
        if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0)
            break;
        rc = -errno;
        if (errno != ENOENT)
            break;
    }
    if (fd < 0) {
        tg_log_error("store: cannot open blob '%s': %s", path, err_message(rc));
        rc = rc == -ENOENT ? -ERR_IO : rc;
        goto out;
    }
    *fd_out = fd;
    store_cache_put(st, bucket, key, gen, &info);
    if (out) {
        *out = info;
        memset(&info, 0, sizeof info);
    }
    rc = 0;
out:
    store_conn_put(st, c);
    store_obj_info_release(&info);
    return rc;
}

int store_obj_delete(struct store *st, struct str bucket, struct str key)
{
    if (st->remote)
        return store_remote_delete(st, bucket, key);
    struct store_conn *c = NULL;
    sqlite3_stmt *s;
    int rc;

    if ((rc = store_conn_get(st, &c)) < 0)
        return rc;
    if ((rc = store_bucket_check_conn(c, bucket)) < 0)
        goto out;
    if ((rc = store_stmt(c, S_OBJ_DELETE, &s)) < 0 || (rc = store_bind_text(s, 1, bucket)) < 0 ||
        (rc = store_bind_key(s, 2, key)) < 0 || (rc = store_step(c, s, "object delete")) < 0)
        goto out;
    rc = 0;
out:
    store_conn_put(st, c);
    return rc;
}

int store_obj_retire(struct store *st, struct str bucket, struct str key, int64_t at_us)
{
    if (st->remote)
        return store_remote_retire(st, bucket, key, at_us);
    struct store_conn *c = NULL;
    sqlite3_stmt *s;
    int rc;

    if (at_us <= 0)
        return -ERR_INVALID;
    if ((rc = store_conn_get(st, &c)) < 0)
        return rc;
    if ((rc = store_tx_begin(c)) < 0 || (rc = store_bucket_check_conn(c, bucket)) < 0)
        goto out;
    if ((rc = store_stmt(c, S_OBJ_GET, &s)) < 0 || (rc = store_bind_text(s, 1, bucket)) < 0 ||
        (rc = store_bind_key(s, 2, key)) < 0 || (rc = store_step(c, s, "object get")) < 0)
        goto out;
    sqlite3_reset(s);
    if (rc != SQLITE_ROW) {
        rc = -ERR_NO_SUCH_KEY;
        goto out;
    }
    if ((rc = store_stmt(c, S_OBJ_RETIRE, &s)) < 0 || (rc = store_bind_text(s, 1, bucket)) < 0 ||
        (rc = store_bind_key(s, 2, key)) < 0 ||
        (rc = sqlite3_bind_int64(s, 3, at_us) == SQLITE_OK ? 0 : -ERR_DB) < 0 ||
        (rc = store_step(c, s, "object retire")) < 0)
        goto out;
    sqlite3_reset(s);
    rc = store_tx_commit(c);
out:
    store_conn_put(st, c); /* rolls back an open transaction */
    return rc;
}

int store_obj_delete_retired(struct store *st, struct str bucket, struct str key,
                             int64_t retired_us)
{
    if (st->remote)
        return store_remote_delete_retired(st, bucket, key, retired_us);
    struct store_conn *c = NULL;
    sqlite3_stmt *s;
    int rc;

    if (retired_us <= 0)
        return -ERR_INVALID;
    if ((rc = store_conn_get(st, &c)) < 0)
        return rc;
    if ((rc = store_bucket_check_conn(c, bucket)) < 0)
        goto out;
    if ((rc = store_stmt(c, S_OBJ_DELETE_RETIRED, &s)) < 0 ||
        (rc = store_bind_text(s, 1, bucket)) < 0 || (rc = store_bind_key(s, 2, key)) < 0 ||
        (rc = sqlite3_bind_int64(s, 3, retired_us) == SQLITE_OK ? 0 : -ERR_DB) < 0 ||
        (rc = store_step(c, s, "object delete retired")) < 0)
        goto out;
    rc = sqlite3_changes(c->db) == 1 ? 0 : -ERR_NO_SUCH_KEY;
out:
    store_conn_put(st, c);
    return rc;
}

int store_retired_list(struct store *st, struct str bucket,
                       int (*fn)(void *ctx, const char *key, size_t key_len, int64_t retired_us),
                       void *ctx)
{
    if (st->remote)
        return store_remote_retired_list(st, bucket, fn, ctx);
    struct buf after = BUF_INIT, cur = BUF_INIT;
    int rc = 0;
    for (bool more = true; more && rc >= 0;) {
        struct store_conn *c = NULL;
        sqlite3_stmt *s;
        more = false;
        if ((rc = store_conn_get(st, &c)) < 0)
            break;
        if ((rc = store_stmt(c, S_OBJ_RETIRED, &s)) < 0 ||
            (rc = store_bind_text(s, 1, bucket)) < 0 ||
            (rc = store_bind_key(s, 2, buf_str(&after))) < 0) {
            store_conn_put(st, c);
            break;
        }
        /* One page of 1000 rows per connection use: fn may write to the store. */
        struct {
            struct buf keys;
            int64_t at[1000];
            size_t len[1000];
        } page = {BUF_INIT, {0}, {0}};
        size_t n = 0;
        while ((rc = store_step(c, s, "retired list")) == SQLITE_ROW) {
            size_t kl = (size_t)sqlite3_column_bytes(s, 0);
            if ((rc = buf_add(&page.keys,
                              sqlite3_column_blob(s, 0) ? sqlite3_column_blob(s, 0) : "", kl)) < 0)
                break;
            page.len[n] = kl;
            page.at[n++] = sqlite3_column_int64(s, 1);
        }
        sqlite3_reset(s);
        store_conn_put(st, c);
        if (rc < 0) {
            buf_release(&page.keys);
            break;
        }
        rc = 0;
        size_t off = 0;
        for (size_t i = 0; i < n && rc >= 0; i++) {
            buf_reset(&cur);
            if ((rc = buf_add(&cur, page.keys.ptr + off, page.len[i])) < 0)
                break;
            off += page.len[i];
            rc = fn(ctx, buf_cstr(&cur), page.len[i], page.at[i]);
        }
        if (rc >= 0 && n == 1000) {
            buf_reset(&after);
            rc = buf_add(&after, cur.ptr, cur.len);
            more = true;
        }
        buf_release(&page.keys);
    }
    buf_release(&after);
    buf_release(&cur);
    return rc < 0 ? rc : 0;
}

int store_obj_copy(struct store *st, struct str src_bucket, struct str src_key,
                   struct str dst_bucket, struct str dst_key, const struct store_attrs *attrs,
                   struct store_obj_info *out)
{
    if (st->remote)
        return store_remote_copy(st, src_bucket, src_key, dst_bucket, dst_key, attrs, out);
    struct store_obj_info info = {0};
    struct store_conn *c = NULL;
    int rc;

    if ((rc = store_key_check(dst_key)) < 0)
        return rc;
    if ((rc = store_conn_get(st, &c)) < 0)
        return rc;
    /* One write transaction: the source row keeps the shared blob referenced. */
    if ((rc = store_tx_begin(c)) < 0 || (rc = store_head_conn(c, src_bucket, src_key, &info)) < 0 ||
        (rc = store_bucket_check_conn(c, dst_bucket)) < 0)
        goto out;
    if (attrs && (rc = store_info_attrs(&info, attrs)) < 0)
        goto out;
    info.mtime_us = tg_now_us();
    if ((rc = store_obj_row_put(c, dst_bucket, dst_key, &info)) < 0 ||
        (rc = store_tx_commit(c)) < 0)
        goto out;
    if (out) {
        *out = info;
        memset(&info, 0, sizeof info);
    }
out:
    store_conn_put(st, c);
    store_obj_info_release(&info);
    return rc;
}
