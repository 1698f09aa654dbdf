/* store_int.h -- private to src/store/: the local backend's shared state and helpers.
 *
 * Connections: a small pool of SQLite connections per struct store. A call takes one
 * (store_conn_get), uses it alone, and gives it back (store_conn_put); the pool mutex
 * is held only to pop/push, so concurrent readers never serialize on it. Each
 * connection caches its prepared statements (STORE_STMTS, prepared on first use).
 * Giving a connection back resets every statement still stepping (so no read snapshot
 * outlives the call) and rolls back an open transaction.
 *
 * Writes use BEGIN IMMEDIATE: the write lock is taken up front, so two writers never
 * deadlock upgrading a read lock, and busy_timeout does the waiting.
 *
 * Blob safety against store_gc: a writer publishes its blob (a hard link to its tmp,
 * or, when the blob already exists, a fresh mtime on it) and keeps its tmp; inside its
 * write transaction it checks the blob is there (store_blob_confirm) and links it
 * again if not; the tmp goes after the commit. store_gc unlinks only inside a write
 * transaction after re-checking no row references the blob. Write transactions
 * serialize, so either gc ran first (the writer sees the blob missing and links it
 * again) or the writer's row is visible to gc. This holds even with a grace of 0. */
#ifndef TG_STORE_INT_H
#define TG_STORE_INT_H

#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>

#include "crypto/crypto.h"
#include "store/store.h"

#define STORE_COPY_BUF (1u << 20) /* read/write loop buffer (multipart complete) */
#define STORE_POOL_IDLE_MAX 32    /* idle connections kept; more are closed */
#define STORE_BUSY_MS 10000       /* other threads and processes (the CLI) write too */
#define STORE_COMPLETED_KEEP_US (7LL * 24 * 3600 * 1000000) /* repeatable Complete */

/* Columns read into a store_obj_info (store_info_from_row); a write lists the first six:
 * INSERT OR REPLACE resets retired_us to 0, so a new PUT of a retired key makes it live. */
#define STORE_OBJ_WCOLS "size, etag, sha256, content_type, meta_json, mtime_us"
#define STORE_OBJ_COLS STORE_OBJ_WCOLS ", retired_us"

/* Every statement the store runs: id, SQL. Keys are BLOBs (byte order); bind them with
 * store_bind_key only. */
#define STORE_STMTS(X)                                                                             \
    X(S_BEGIN, "BEGIN IMMEDIATE")                                                                  \
    X(S_COMMIT, "COMMIT")                                                                          \
    X(S_ROLLBACK, "ROLLBACK")                                                                      \
    X(S_BUCKET_INSERT, "INSERT OR IGNORE INTO buckets(name, created_us) VALUES (?1, ?2)")          \
    X(S_BUCKET_GET, "SELECT created_us FROM buckets WHERE name = ?1")                              \
    X(S_BUCKET_DELETE, "DELETE FROM buckets WHERE name = ?1")                                      \
    X(S_BUCKET_LIST, "SELECT name, created_us FROM buckets ORDER BY name")                         \
    X(S_BUCKET_HAS_OBJ, "SELECT 1 FROM objects WHERE bucket = ?1 LIMIT 1")                         \
    X(S_BUCKET_HAS_UPLOAD, "SELECT 1 FROM uploads WHERE bucket = ?1 LIMIT 1")                      \
    X(S_BUCKET_DROP_COMPLETED, "DELETE FROM completed_uploads WHERE bucket = ?1")                  \
    X(S_OBJ_GET, "SELECT " STORE_OBJ_COLS " FROM objects WHERE bucket = ?1 AND key = ?2")          \
    X(S_OBJ_PUT, "INSERT OR REPLACE INTO objects(bucket, key, " STORE_OBJ_WCOLS                    \
                 ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")                                      \
    X(S_OBJ_DELETE, "DELETE FROM objects WHERE bucket = ?1 AND key = ?2")                          \
    X(S_OBJ_LIST, "SELECT key, " STORE_OBJ_COLS " FROM objects WHERE bucket = ?1 AND key >= ?2 "   \
                  "AND key < ?3 ORDER BY key")                                                     \
    X(S_OBJ_LIST_LIVE, "SELECT key, " STORE_OBJ_COLS " FROM objects WHERE bucket = ?1 AND "        \
                       "key >= ?2 AND key < ?3 AND retired_us = 0 ORDER BY key")                   \
    X(S_OBJ_RETIRE, "UPDATE objects SET retired_us = ?3 WHERE bucket = ?1 AND key = ?2 AND "       \
                    "retired_us = 0")                                                              \
    X(S_OBJ_DELETE_RETIRED, "DELETE FROM objects WHERE bucket = ?1 AND key = ?2 AND "              \
                            "retired_us = ?3 AND retired_us > 0")                                  \
    X(S_OBJ_RETIRED, "SELECT key, retired_us FROM objects WHERE bucket = ?1 AND retired_us > 0 "   \
                     "AND key > ?2 ORDER BY key LIMIT 1000")                                       \
    X(S_OBJ_REF, "SELECT 1 FROM objects WHERE sha256 = ?1 LIMIT 1")                                \
    X(S_PART_REF, "SELECT 1 FROM parts WHERE sha256 = ?1 LIMIT 1")                                 \
    X(S_UPLOAD_INSERT, "INSERT INTO uploads(upload_id, bucket, key, content_type, meta_json, "     \
                       "initiated_us) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")                            \
    X(S_UPLOAD_GET, "SELECT bucket, key, content_type, meta_json, initiated_us FROM uploads "      \
                    "WHERE upload_id = ?1")                                                        \
    X(S_UPLOAD_DELETE, "DELETE FROM uploads WHERE upload_id = ?1")                                 \
    X(S_UPLOAD_LIST, "SELECT key, upload_id, initiated_us FROM uploads WHERE bucket = ?1 AND "     \
                     "key >= ?2 AND key < ?3 AND (key > ?4 OR (key = ?4 AND upload_id > ?5)) "     \
                     "ORDER BY key, upload_id")                                                    \
    X(S_PARTS_DELETE_OLDER, "DELETE FROM parts WHERE upload_id IN (SELECT upload_id FROM uploads " \
                            "WHERE initiated_us < ?1)")                                            \
    X(S_UPLOADS_DELETE_OLDER, "DELETE FROM uploads WHERE initiated_us < ?1")                       \
    X(S_PART_PUT, "INSERT OR REPLACE INTO parts(upload_id, part, sha256, etag, size, mtime_us) "   \
                  "VALUES (?1, ?2, ?3, ?4, ?5, ?6)")                                               \
    X(S_PART_LIST, "SELECT part, etag, size, mtime_us, sha256 FROM parts WHERE upload_id = ?1 "    \
                   "AND part > ?2 ORDER BY part")                                                  \
    X(S_PART_GET, "SELECT etag, size, sha256 FROM parts WHERE upload_id = ?1 AND part = ?2")       \
    X(S_PARTS_DELETE, "DELETE FROM parts WHERE upload_id = ?1")                                    \
    X(S_COMPLETED_PUT, "INSERT OR REPLACE INTO completed_uploads(upload_id, bucket, key, etag, "   \
                       "completed_us) VALUES (?1, ?2, ?3, ?4, ?5)")                                \
    X(S_COMPLETED_GET, "SELECT bucket, key, etag FROM completed_uploads WHERE upload_id = ?1")     \
    X(S_COMPLETED_PRUNE, "DELETE FROM completed_uploads WHERE completed_us < ?1")

enum store_stmt_id {
#define STORE_STMT_ENUM(id, sql) id,
    STORE_STMTS(STORE_STMT_ENUM)
#undef STORE_STMT_ENUM
        S__COUNT
};

struct store_conn {
    struct store *st;
    sqlite3 *db;
    sqlite3_stmt *stmt[S__COUNT];
    struct store_conn *next; /* idle list */
};

struct store_cache;
struct store {
    char *dir, *blob_dir, *tmp_dir, *db_path;
    pthread_mutex_t lock; /* guards idle, nidle */
    struct store_conn *idle;
    unsigned nidle;
    uint64_t *gen;               /* DIR/store.gen, shared by every process (store_cache.c) */
    struct store_cache *cache;   /* object rows by (bucket, key), tagged with gen */
    struct store_remote *remote; /* set: the remote backend (store_remote.c) answers */
};

/* A body being written: tmp/<32 hex>, locked with flock(LOCK_EX) so store_open in
 * another process never removes it while we live. */
struct store_put {
    struct store *st;
    int fd;
    bool with_md5, final, tmp_present, published;
    struct crypto_hash sha, md5;
    uint64_t size;
    uint8_t sha256[32], md5d[16];
    char tmp[PATH_MAX], blob[PATH_MAX];
};

/* ---- the read cache and the cross-process generation (store_cache.c) ---- */
int store_cache_open(struct store *st); /* never fails: without the file, no cache */
void store_cache_close(struct store *st);
uint64_t store_gen_load(const struct store *st);
void store_gen_bump(struct store *st); /* after every committed write (store_step) */
bool store_cache_get(struct store *st, struct str bucket, struct str key, uint64_t gen,
                     struct store_obj_info *out);
void store_cache_put(struct store *st, struct str bucket, struct str key, uint64_t gen,
                     const struct store_obj_info *info);

/* ---- connections, statements, transactions (store_local.c) ---- */
int store_conn_get(struct store *st, struct store_conn **out);
void store_conn_put(struct store *st, struct store_conn *c); /* NULL-safe */
/* The cached statement, reset with its bindings cleared; -ERR_DB if it cannot be prepared. */
int store_stmt(struct store_conn *c, enum store_stmt_id id, sqlite3_stmt **out);
/* sqlite3_step: SQLITE_ROW, SQLITE_DONE, or -ERR_DB (logged with what). */
int store_step(struct store_conn *c, sqlite3_stmt *s, const char *what);
/* Prepare, bind nothing, step to DONE: BEGIN/COMMIT/ROLLBACK and friends. */
int store_run(struct store_conn *c, enum store_stmt_id id);
int store_db_error(struct store_conn *c, const char *what); /* logs, returns -ERR_DB */
#define store_tx_begin(c) store_run((c), S_BEGIN)
#define store_tx_commit(c) store_run((c), S_COMMIT)
void store_tx_rollback(struct store_conn *c); /* no-op outside a transaction */

int store_bind_key(sqlite3_stmt *s, int idx, struct str key); /* BLOB, never NULL */
int store_bind_text(sqlite3_stmt *s, int idx, struct str v);
int store_bind_cstr(sqlite3_stmt *s, int idx, const char *v);

/* 0 if the bucket exists, -ERR_NO_SUCH_BUCKET, or -ERR_DB. */
int store_bucket_check_conn(struct store_conn *c, struct str bucket);
/* Fill info from an S_OBJ_GET-shaped row starting at column col (copies strings). */
int store_info_from_row(sqlite3_stmt *s, int col, struct store_obj_info *out);
#define STORE_DEFAULT_CONTENT_TYPE "application/octet-stream" /* attrs without one */
/* The object row of bucket/key (store_local.c); -ERR_NO_SUCH_KEY when none. */
int store_head_conn(struct store_conn *c, struct str bucket, struct str key,
                    struct store_obj_info *out);
/* info's content type and stored headers from attrs (defaults when NULL). */
int store_info_attrs(struct store_obj_info *info, const struct store_attrs *attrs);
/* Insert or replace an object row. */
int store_obj_row_put(struct store_conn *c, struct str bucket, struct str key,
                      const struct store_obj_info *info);

/* ---- blobs ---- */
void store_blob_path(const struct store *st, const uint8_t sha256[32], char out[PATH_MAX]);
int store_put_begin_int(struct store *st, bool with_md5, struct store_put **out);
int store_put_finish(struct store_put *p); /* finalize digests (idempotent) */
/* fsync, link into blobs/ (dedup when it exists), fresh mtime. Outside any transaction;
 * once done, later calls return 0 at once. */
int store_blob_publish(struct store_put *p);
/* Inside the write transaction: make sure the blob still exists (see top). */
int store_blob_confirm(struct store_put *p);
void store_put_free(struct store_put *p); /* closes, unlinks tmp if still there; NULL-safe */
/* Removes the files of tmp/ whose writer is gone (a put holds flock on its file); both
 * backends, at open. */
int store_tmp_clean(const char *tmp_dir);
/* Set a file's mtime to tg_now (the gc clock). */
int store_touch(int fd, const char *path);

bool store_bytes_lt(const void *a, size_t alen, const void *b, size_t blen);

/* Listing (store_list.c), shared by both backends: the length of the common prefix key
 * rolls up into (prefix + up to the first delimiter after it, inclusive), 0 when none;
 * and whether a group with prefix cp is left out because `after` is at or past it -- an
 * earlier page returned it -- unless `after` lies inside the group (then S3 returns the
 * group's prefix when a key follows `after`). */
size_t store_list_cp_len(const struct store_list_req *req, struct str key);
bool store_list_cp_done(struct str after, struct str cp);

/* ---- the remote backend (store_remote.c): the public functions hand over to these
 * when st->remote is set ---- */
void store_remote_close(struct store *st);
int store_remote_bucket_create(struct store *st, struct str bucket);
int store_remote_bucket_exists(struct store *st, struct str bucket);
int store_remote_bucket_delete(struct store *st, struct str bucket);
int store_remote_bucket_list(struct store *st, int (*fn)(void *ctx, const struct store_bucket *b),
                             void *ctx);
int store_remote_head(struct store *st, struct str bucket, struct str key,
                      struct store_obj_info *out);
int store_remote_open(struct store *st, struct str bucket, struct str key,
                      struct store_obj_info *out, int *fd_out);
int store_remote_pread(struct store *st, struct str bucket, struct str key, const char *etag,
                       uint64_t off, void *buf, size_t n);
int store_remote_commit(struct store_put *p, struct str bucket, struct str key,
                        const struct store_attrs *attrs, const struct store_write_cond *cond,
                        struct store_obj_info *out);
int store_remote_delete(struct store *st, struct str bucket, struct str key);
int store_remote_copy(struct store *st, struct str src_bucket, struct str src_key,
                      struct str dst_bucket, struct str dst_key, const struct store_attrs *attrs,
                      struct store_obj_info *out);
int store_remote_retire(struct store *st, struct str bucket, struct str key, int64_t at_us);
int store_remote_delete_retired(struct store *st, struct str bucket, struct str key,
                                int64_t retired_us);
int store_remote_retired_list(struct store *st, struct str bucket,
                              int (*fn)(void *ctx, const char *key, size_t key_len,
                                        int64_t retired_us),
                              void *ctx);
int store_remote_list(struct store *st, const struct store_list_req *req,
                      int (*fn)(void *ctx, const struct store_list_entry *e), void *ctx,
                      struct store_list_res *res);
bool store_remote_generation(const struct store *st, uint64_t *out);
int store_remote_abort_older(struct store *st, int64_t before_us, unsigned *aborted);
int store_remote_mpu_abort(struct store *st, struct str bucket, struct str key,
                           struct str upload_id);
int store_remote_mpu_create(struct store *st, struct str bucket, struct str key,
                            const struct store_attrs *attrs, char upload_id[STORE_UPLOAD_ID_MAX]);
int store_remote_part_commit(struct store_put *p, struct str bucket, struct str key,
                             struct str upload_id, unsigned part, char etag_out[STORE_ETAG_MAX]);
int store_remote_mpu_complete(struct store *st, struct str bucket, struct str key,
                              struct str upload_id, const struct store_mpu_part *parts,
                              size_t nparts, struct store_obj_info *out);
int store_remote_mpu_list_parts(struct store *st, struct str bucket, struct str key,
                                struct str upload_id, unsigned marker, unsigned max,
                                int (*fn)(void *ctx, const struct store_mpu_part *p), void *ctx,
                                bool *truncated);
int store_remote_mpu_list(struct store *st, struct str bucket, struct str prefix,
                          struct str key_marker, struct str upload_id_marker, unsigned max,
                          int (*fn)(void *ctx, const struct store_mpu *u), void *ctx,
                          bool *truncated);

#endif
