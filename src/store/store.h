/* store.h -- the object-store interface and its backends.
 *
 * Local backend (the embedded default), DESIGN.md "Storage":
 *   DIR/meta.db      SQLite in WAL mode: buckets, objects (key -> blob row),
 *                    multipart uploads and parts
 *   DIR/blobs/ab/cd/<sha256hex>   bodies, content-addressed, immutable
 *   DIR/tmp/         uploads in progress; emptied by store_open
 * A put streams to tmp/ while hashing (SHA-256 + MD5), fsyncs, renames into blobs/
 * (fsync of the directory), then commits the key -> blob row in one transaction.
 * Readers see the old object or the new one, never a prefix; an acknowledged put
 * survives kill -9 and power loss. Keys are rows, not paths: no key can escape DIR.
 * Unreferenced blobs are removed by store_gc (with a grace period so a put between
 * rename and commit is never collected).
 *
 * Thread safety: one struct store is shared by all server threads; every function
 * may be called concurrently (each thread uses its own SQLite connection). Other
 * processes (the CLI) may use the same DIR at the same time.
 * All functions return 0 or a negative error (util.h); out-params only on success. */
#ifndef TG_STORE_H
#define TG_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "util/util.h"

#define STORE_KEY_MAX 1024 /* bytes, as S3 */
#define STORE_BUCKET_MIN 3
#define STORE_BUCKET_MAX 63
#define STORE_PART_MIN 1
#define STORE_PART_MAX 10000
#define STORE_PART_SIZE_MIN (5u << 20) /* all parts but the last */
#define STORE_LIST_MAX 1000            /* keys per listing page */
#define STORE_ETAG_MAX 48              /* "<32 hex>-10000" + NUL, unquoted */
#define STORE_UPLOAD_ID_MAX 1024       /* with NUL; a remote's (R2, AWS) are long */

struct store;

/* What the S3 layer attaches to an object; the store keeps it verbatim. */
struct store_attrs {
    const char *content_type; /* NULL = application/octet-stream (binary/octet-stream for S3) */
    const char *meta_json;    /* JSON object of stored response headers, or NULL:
                                 x-amz-meta-*, content-disposition, cache-control, ... */
};

struct store_obj_info {
    uint64_t size;
    int64_t mtime_us;          /* last modified, microseconds since epoch */
    char etag[STORE_ETAG_MAX]; /* unquoted: 32 hex, or 32 hex "-" parts */
    uint8_t sha256[32];
    char *content_type; /* malloc'd */
    char *meta_json;    /* malloc'd, "{}" when none */
    int64_t retired_us; /* 0: live; else when it was retired (store_obj_retire) */
};
void store_obj_info_release(struct store_obj_info *info); /* NULL-safe, zeroes */

/* Validation (pure): S3 bucket naming rules; key 1..1024 bytes of valid UTF-8
 * without NUL. Return 0 or -ERR_INVALID_BUCKET_NAME / -ERR_KEY_TOO_LONG /
 * -ERR_INVALID_KEY. */
int store_bucket_name_check(struct str name);
int store_key_check(struct str key);

/* Opens DIR (creates blobs/, tmp/ and the tables if missing), cleans tmp/. */
int store_open(const char *data_dir, struct store **out);
void store_close(struct store *st); /* NULL-safe */

/* ---- buckets ---- */
/* -ERR_EXISTS when it exists already (S3 us-east-1 then answers 200). */
int store_bucket_create(struct store *st, struct str bucket);
int store_bucket_delete(struct store *st, struct str bucket); /* -ERR_BUCKET_NOT_EMPTY */
int store_bucket_exists(struct store *st, struct str bucket); /* 0 or -ERR_NO_SUCH_BUCKET */
struct store_bucket {
    const char *name;
    int64_t created_us;
};
int store_bucket_list(struct store *st, int (*fn)(void *ctx, const struct store_bucket *b),
                      void *ctx);

/* ---- writing ---- */
struct store_put;
int store_put_begin(struct store *st, struct store_put **out);
int store_put_write(struct store_put *p, const void *data, size_t n);
uint64_t store_put_size(const struct store_put *p);
/* Finish hashing (idempotent); digests of everything written. */
int store_put_digest(struct store_put *p, uint8_t sha256[32], uint8_t md5[16]);
/* fsync + rename into blobs/ + commit the row (replacing any previous object).
 * Frees p whatever the result. -ERR_NO_SUCH_BUCKET if the bucket is gone. */
int store_put_commit(struct store_put *p, struct str bucket, struct str key,
                     const struct store_attrs *attrs, struct store_obj_info *out);
void store_put_abort(struct store_put *p); /* removes the temp file; NULL-safe */

/* ---- reading ---- */
int store_obj_head(struct store *st, struct str bucket, struct str key,
                   struct store_obj_info *out); /* -ERR_NO_SUCH_KEY / -ERR_NO_SUCH_BUCKET */
/* Head + an open read-only fd of the body (caller closes). The fd stays readable even
 * if the object is replaced or deleted meanwhile. */
int store_obj_open(struct store *st, struct str bucket, struct str key, struct store_obj_info *out,
                   int *fd_out);
/* Deleting a missing key succeeds (as S3). */
int store_obj_delete(struct store *st, struct str bucket, struct str key);
/* Server-side copy (no byte copy: blobs are shared). attrs NULL = keep source's. */
int store_obj_copy(struct store *st, struct str src_bucket, struct str src_key,
                   struct str dst_bucket, struct str dst_key, const struct store_attrs *attrs,
                   struct store_obj_info *out);

/* ---- retirement (lifecycle) ---- */
/* A retired object still answers GET/HEAD (links handed out keep working) but is left
 * out of listings that set skip_retired (the portal, the publisher's index); the
 * lifecycle pass deletes it once its link horizon has passed. A later PUT, copy or
 * multipart complete of the key makes it live again. Retiring a retired object keeps
 * the first time. -ERR_NO_SUCH_KEY when absent. */
int store_obj_retire(struct store *st, struct str bucket, struct str key, int64_t at_us);
/* Deletes bucket/key only if it is still the object retired at retired_us (not written
 * again since): 0 when deleted, -ERR_NO_SUCH_KEY when it is gone or live again. */
int store_obj_delete_retired(struct store *st, struct str bucket, struct str key,
                             int64_t retired_us);
/* Calls fn for every retired object of bucket in key order (fn < 0 stops with it). */
int store_retired_list(struct store *st, struct str bucket,
                       int (*fn)(void *ctx, const char *key, size_t key_len, int64_t retired_us),
                       void *ctx);

/* ---- listing ---- */
struct store_list_req {
    struct str bucket, prefix, delimiter;
    struct str after;  /* exclusive start: marker / start-after / continuation */
    unsigned max_keys; /* 0..STORE_LIST_MAX; 0 lists nothing but is valid */
    bool skip_retired; /* leave retired objects out (and prefixes made only of them) */
    bool with_digest;  /* remote: the caller reads info->sha256 (costs a HEAD per new object) */
};
struct store_list_entry {
    const char *key;           /* set for an object */
    const char *common_prefix; /* set for a CommonPrefixes entry (then info is NULL) */
    const struct store_obj_info *info;
};
struct store_list_res {
    bool truncated;
    char *next_after; /* malloc'd: the last key or common prefix returned, when truncated */
    unsigned count;   /* keys + common prefixes returned */
};
/* Calls fn for each entry in key order (UTF-8 byte order). Each common prefix counts as
 * one entry against max_keys, as S3. */
int store_obj_list(struct store *st, const struct store_list_req *req,
                   int (*fn)(void *ctx, const struct store_list_entry *e), void *ctx,
                   struct store_list_res *res);
void store_list_res_release(struct store_list_res *res);

/* ---- multipart ---- */
int store_mpu_create(struct store *st, struct str bucket, struct str key,
                     const struct store_attrs *attrs, char upload_id[STORE_UPLOAD_ID_MAX]);
/* Writes everything read from fd (to its end) into the put. */
int store_put_write_fd(struct store_put *p, int fd);
/* A conditional write (S3 If-None-Match / If-Match on PUT), checked inside the commit's
 * write transaction, so two racing writers cannot both win: if_none_match_any: only if
 * the key does not exist; if_match (an unquoted ETag, or "*"): only if it exists with
 * that ETag. -ERR_PRECONDITION (412) when the condition fails, -ERR_NO_SUCH_KEY for
 * If-Match on a missing key (as S3); nothing is written then. */
struct store_write_cond {
    bool if_none_match_any;
    const char *if_match; /* NULL: none */
};
int store_put_commit_if(struct store_put *p, struct str bucket, struct str key,
                        const struct store_attrs *attrs, const struct store_write_cond *cond,
                        struct store_obj_info *out);
/* A put of a finished file: the file at `path` becomes the put's body without being
 * copied when it is on the store's filesystem (it is moved into DIR/tmp, hashed -- SHA-256
 * and MD5 at once, on two threads -- and later linked into blobs/ by store_put_commit);
 * on another filesystem it is copied as store_put_write would. Either way `path` is gone
 * afterwards on success (moved, or copied then removed). Commit or abort as any put. */
int store_put_adopt(struct store *st, const char *path, struct store_put **out);
/* Commits a put as part `part` (replacing an earlier one of that number); frees p.
 * etag_out: unquoted md5 hex. */
int store_mpu_part_commit(struct store_put *p, struct str bucket, struct str key,
                          struct str upload_id, unsigned part, char etag_out[STORE_ETAG_MAX]);
struct store_mpu_part {
    unsigned part;
    char etag[STORE_ETAG_MAX]; /* unquoted */
    uint64_t size;
    int64_t mtime_us;
};
/* parts: as the client sent them (must be ascending, etags must match, all but the
 * last >= STORE_PART_SIZE_MIN). Concatenates into one blob, commits the object, drops
 * the upload. Completing an upload that was already completed with the same parts
 * returns the object's info again (idempotent, as S3). */
int store_mpu_complete(struct store *st, struct str bucket, struct str key, struct str upload_id,
                       const struct store_mpu_part *parts, size_t nparts,
                       struct store_obj_info *out);
int store_mpu_abort(struct store *st, struct str bucket, struct str key, struct str upload_id);
/* Parts with number > marker, up to max; *truncated set when more exist. */
int store_mpu_list_parts(struct store *st, struct str bucket, struct str key, struct str upload_id,
                         unsigned marker, unsigned max,
                         int (*fn)(void *ctx, const struct store_mpu_part *p), void *ctx,
                         bool *truncated);
struct store_mpu {
    const char *key, *upload_id;
    int64_t initiated_us;
};
int store_mpu_list(struct store *st, struct str bucket, struct str prefix, struct str key_marker,
                   struct str upload_id_marker, unsigned max,
                   int (*fn)(void *ctx, const struct store_mpu *u), void *ctx, bool *truncated);
/* Abort uploads initiated before `before_us` (lifecycle). */
int store_mpu_abort_older(struct store *st, int64_t before_us, unsigned *aborted);

/* ---- the remote backend ([storage] backend = s3) ---- */

/* A store whose objects live in a remote S3-compatible store (R2, S3, MinIO, another
 * tollgate). The store knows nothing of S3: it calls the operations it is given (the
 * s3 module's adapter, wired by the CLI). Its buckets are the remote's buckets, under
 * the same names (create, delete and list pass through); keys map one to one; the
 * configured bucket is the home bucket, which holds the store generation. What the
 * local backend keeps in SQLite lives in the remote buckets themselves, so any number
 * of nodes share it:
 *   - content type, stored response headers and x-amz-meta-* as the object's headers,
 *     the SHA-256 as x-amz-meta-tollgate-sha256 (absent for an object completed from a
 *     multipart upload: its bytes are not known when its headers are set);
 *   - retirement as a marker object STORE_REMOTE_SYS "retired/" KEY (in the object's
 *     bucket) holding "<retired_us> <etag>" (valid while the object still has that ETag);
 *   - the store generation as the ETag of STORE_REMOTE_SYS "gen" in the home bucket,
 *     rewritten after every write (store_generation costs a HEAD; false while the
 *     remote is down).
 * Keys under STORE_REMOTE_SYS are the store's own: refused for writes, never listed
 * (and deleted with their bucket). A put is streamed to a scratch file in DIR/tmp
 * (hashed), then uploaded (multipart above the client's threshold); a multipart upload
 * is passed through (the remote's upload ids, part ETags and checks); store_obj_open
 * downloads into an unlinked scratch file. Listings add the SHA-256 and headers of each
 * object from a HEAD, cached per (bucket, key, ETag). Remote failures (unreachable, 5xx
 * after retries) are -ERR_REMOTE (503); the operation's sentence is logged by the
 * adapter. */
#define STORE_REMOTE_SYS ".tollgate/"
struct store_remote_obj {
    const char *key;
    uint64_t size;
    int64_t mtime_us;
    const char *etag; /* unquoted */
};
/* Every operation names its bucket; a missing one is -ERR_NO_SUCH_BUCKET (but a HEAD's:
 * -ERR_NO_SUCH_KEY). Errors the remote answers for a client's mistake (4xx) come back
 * as the store's codes; the remote failing is -ERR_REMOTE. */
struct store_remote_ops {
    /* size, etag (unquoted), mtime, content_type, meta_json, sha256 (zeros if unknown). */
    int (*head)(void *impl, const char *bucket, const char *key, struct store_obj_info *out);
    /* Bytes off..off+len-1 (len 0: to the end) to sink; if_match: fail with
     * -ERR_PRECONDITION when the object's ETag is no longer this. */
    int (*get)(void *impl, const char *bucket, const char *key, uint64_t off, uint64_t len,
               const char *if_match, int (*sink)(void *ctx, const void *p, size_t n), void *ctx);
    /* Upload fd's size bytes; etag_out: unquoted. cond (may be NULL): sent with the
     * write (If-None-Match / If-Match), -ERR_PRECONDITION when it fails. */
    int (*put)(void *impl, const char *bucket, const char *key, int fd, uint64_t size,
               const uint8_t sha256[32], const struct store_attrs *attrs,
               const struct store_write_cond *cond, char etag_out[STORE_ETAG_MAX]);
    int (*del)(void *impl, const char *bucket, const char *key); /* a missing key: not an error */
    /* One page: keys under prefix strictly after `after`, at most max, in byte order. */
    int (*list)(void *impl, const char *bucket, const char *prefix, const char *after, unsigned max,
                int (*fn)(void *ctx, const struct store_remote_obj *o), void *ctx, bool *truncated);
    /* Buckets: create (-ERR_EXISTS when owned already), 0 if it exists, delete, list. */
    int (*bucket_create)(void *impl, const char *bucket);
    int (*bucket_head)(void *impl, const char *bucket);
    int (*bucket_delete)(void *impl, const char *bucket);
    int (*buckets)(void *impl, int (*fn)(void *ctx, const char *name, int64_t created_us),
                   void *ctx);
    /* Multipart uploads: in progress (fn per upload), abort one, and each step of one. */
    int (*uploads)(void *impl, const char *bucket,
                   int (*fn)(void *ctx, const char *key, const char *upload_id,
                             int64_t initiated_us),
                   void *ctx);
    int (*abort)(void *impl, const char *bucket, const char *key, const char *upload_id);
    int (*mpu_create)(void *impl, const char *bucket, const char *key,
                      const struct store_attrs *attrs, char upload_id[STORE_UPLOAD_ID_MAX]);
    int (*mpu_part)(void *impl, const char *bucket, const char *key, const char *upload_id,
                    unsigned part, int fd, uint64_t size, const uint8_t sha256[32],
                    char etag_out[STORE_ETAG_MAX]);
    int (*mpu_complete)(void *impl, const char *bucket, const char *key, const char *upload_id,
                        const struct store_mpu_part *parts, size_t n,
                        char etag_out[STORE_ETAG_MAX]);
    int (*mpu_parts)(void *impl, const char *bucket, const char *key, const char *upload_id,
                     unsigned marker, unsigned max,
                     int (*fn)(void *ctx, const struct store_mpu_part *p), void *ctx,
                     bool *truncated);
    void (*free)(void *impl);
};
/* Takes ownership of impl (freed by store_close, or here on failure). scratch_dir gets
 * tmp/ for puts in progress. */
int store_open_remote(const char *scratch_dir, const char *bucket,
                      const struct store_remote_ops *ops, void *impl, struct store **out);
bool store_is_remote(const struct store *st);
/* Reads exactly n bytes at off of the object, only while its ETag is still etag
 * (-ERR_PRECONDITION otherwise). Local: pread of its blob. For streaming remote bodies. */
int store_obj_pread(struct store *st, struct str bucket, struct str key, const char *etag,
                    uint64_t off, void *buf, size_t n);

/* ---- change detection ---- */
/* A counter bumped after every committed write to the store, by any process using
 * DIR. A reader that saw value g before reading may reuse what it derived while the
 * counter still reads g. False when unavailable (then cache by time, or not at all). */
bool store_generation(const struct store *st, uint64_t *out);

/* ---- maintenance ---- */
/* Removes blobs no object or part references and older than grace_s; counts. */
int store_gc(struct store *st, int64_t grace_s, unsigned *removed, uint64_t *bytes);

#endif
