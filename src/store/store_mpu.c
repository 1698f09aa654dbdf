/* store_mpu.c -- multipart uploads: create, parts, complete, abort, listings.
 *
 * State: uploads (one row per upload in progress, with the object's attributes),
 * parts (upload_id, part -> blob, md5 etag, size; a part committed again replaces the
 * row), completed_uploads (upload_id -> bucket, key, etag, kept 7 days so a repeated
 * CompleteMultipartUpload answers as the first did, which S3 clients rely on when a
 * response was lost).
 *
 * Complete validates the client's list (ascending, every part exists with that etag,
 * all but the last >= 5 MiB), concatenates the part blobs into a new blob outside any
 * transaction (a 1-part upload reuses the part's blob as is), then in one write
 * transaction re-checks the upload and its parts, commits the object row, drops the
 * upload and its parts and records the completion. Part blobs stay referenced by
 * their rows until that transaction, so gc never collects them under us. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store_int.h"

/* "\x7f" sorts after every upload id (32 lowercase hex). */
#define UPLOAD_ID_TOP "\x7f"

/* Lenient: S3 passes etags unquoted, clients sometimes quoted. */
static int etag_parse(const char *etag, uint8_t md5[16])
{
    struct str s = str_trim(str_n(etag, strnlen(etag, STORE_ETAG_MAX)));
    while (s.len && s.ptr[0] == '"') {
        s.ptr++;
        s.len--;
    }
    while (s.len && s.ptr[s.len - 1] == '"')
        s.len--;
    if (s.len != 32 || hex_decode(s, md5, 16) != 16)
        return -ERR_INVALID_PART;
    return 0;
}

/* 0 if upload_id is an upload of bucket/key in progress; attrs copied if asked. */
static int upload_lookup(struct store_conn *c, struct str bucket, struct str key,
                         struct str upload_id, struct store_obj_info *attrs)
{
    sqlite3_stmt *s;
    int rc;

    if ((rc = store_stmt(c, S_UPLOAD_GET, &s)) < 0 || (rc = store_bind_text(s, 1, upload_id)) < 0)
        return rc;
    if ((rc = store_step(c, s, "upload lookup")) < 0)
        return rc;
    if (rc == SQLITE_ROW &&
        str_eq(bucket, str_n(sqlite3_column_text(s, 0), (size_t)sqlite3_column_bytes(s, 0))) &&
        str_eq(key, str_n(sqlite3_column_blob(s, 1), (size_t)sqlite3_column_bytes(s, 1)))) {
        if (attrs) {
            attrs->content_type = strdup((const char *)sqlite3_column_text(s, 2));
            attrs->meta_json = strdup((const char *)sqlite3_column_text(s, 3));
            if (!attrs->content_type || !attrs->meta_json) {
                sqlite3_reset(s);
                return -ERR_NOMEM;
            }
        }
        sqlite3_reset(s);
        return 0;
    }
    sqlite3_reset(s);
    rc = store_bucket_check_conn(c, bucket);
    return rc < 0 ? rc : -ERR_NO_SUCH_UPLOAD;
}

static int upload_drop(struct store_conn *c, struct str upload_id)
{
    static const enum store_stmt_id ids[] = {S_PARTS_DELETE, S_UPLOAD_DELETE};
    sqlite3_stmt *s;
    int rc;

    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        if ((rc = store_stmt(c, ids[i], &s)) < 0 || (rc = store_bind_text(s, 1, upload_id)) < 0 ||
            (rc = store_step(c, s, "upload delete")) < 0)
            return rc;
        sqlite3_reset(s);
    }
    return 0;
}

int store_mpu_create(struct store *st, struct str bucket, struct str key,
                     const struct store_attrs *attrs, char upload_id[STORE_UPLOAD_ID_MAX])
{
    if (st->remote)
        return store_remote_mpu_create(st, bucket, key, attrs, upload_id);
    struct store_conn *c = NULL;
    sqlite3_stmt *s;
    uint8_t rnd[16];
    char id[33];
    int rc;

    if ((rc = store_key_check(key)) < 0 || (rc = crypto_random(rnd, sizeof rnd)) < 0)
        return rc;
    hex_encode(rnd, sizeof rnd, id);
    if ((rc = store_conn_get(st, &c)) < 0)
        return rc;
    /* In a transaction so a concurrent bucket delete sees the upload or refuses. */
    if ((rc = store_tx_begin(c)) < 0 || (rc = store_bucket_check_conn(c, bucket)) < 0 ||
        (rc = store_stmt(c, S_UPLOAD_INSERT, &s)) < 0)
        goto out;
    if ((rc = store_bind_cstr(s, 1, id)) < 0 || (rc = store_bind_text(s, 2, bucket)) < 0 ||
        (rc = store_bind_key(s, 3, key)) < 0 ||
        (rc = store_bind_cstr(s, 4,
                              attrs && attrs->content_type ? attrs->content_type
                                                           : "application/octet-stream")) < 0 ||
        (rc = store_bind_cstr(s, 5, attrs && attrs->meta_json ? attrs->meta_json : "{}")) < 0)
        goto out;
    sqlite3_bind_int64(s, 6, tg_now_us());
    if ((rc = store_step(c, s, "upload create")) < 0 || (rc = store_tx_commit(c)) < 0)
        goto out;
    memcpy(upload_id, id, sizeof id);
    rc = 0;
out:
    store_conn_put(st, c);
    return rc;
}

int store_mpu_part_commit(struct store_put *p, struct str bucket, struct str key,
                          struct str upload_id, unsigned part, char etag_out[STORE_ETAG_MAX])
{
    if (p->st->remote)
        return store_remote_part_commit(p, bucket, key, upload_id, part, etag_out);
    struct store_conn *c = NULL;
    sqlite3_stmt *s;
    char etag[33];
    int rc;

    if (part < STORE_PART_MIN || part > STORE_PART_MAX) {
        rc = -ERR_INVALID_PART_NUMBER;
        goto out;
    }
    if ((rc = store_blob_publish(p)) < 0)
        goto out;
    hex_encode(p->md5d, 16, etag);
    if ((rc = store_conn_get(p->st, &c)) < 0)
        goto out;
    if ((rc = store_tx_begin(c)) < 0 || (rc = upload_lookup(c, bucket, key, upload_id, NULL)) < 0 ||
        (rc = store_blob_confirm(p)) < 0 || (rc = store_stmt(c, S_PART_PUT, &s)) < 0)
        goto out;
    if ((rc = store_bind_text(s, 1, upload_id)) < 0 || (rc = store_bind_cstr(s, 4, etag)) < 0 ||
        sqlite3_bind_blob(s, 3, p->sha256, 32, SQLITE_TRANSIENT) != SQLITE_OK) {
        rc = rc < 0 ? rc : -ERR_DB;
        goto out;
    }
    sqlite3_bind_int(s, 2, (int)part);
    sqlite3_bind_int64(s, 5, (sqlite3_int64)p->size);
    sqlite3_bind_int64(s, 6, tg_now_us());
    if ((rc = store_step(c, s, "part write")) < 0 || (rc = store_tx_commit(c)) < 0)
        goto out;
    memcpy(etag_out, etag, sizeof etag);
    rc = 0;
out:
    if (p)
        store_conn_put(p->st, c);
    store_put_free(p);
    return rc;
}

/* One part as found in the parts table. */
struct part_row {
    uint8_t sha256[32], md5[16];
    uint64_t size;
};

static int part_get(struct store_conn *c, struct str upload_id, unsigned part, struct part_row *out)
{
    sqlite3_stmt *s;
    int rc;

    if ((rc = store_stmt(c, S_PART_GET, &s)) < 0 || (rc = store_bind_text(s, 1, upload_id)) < 0)
        return rc;
    sqlite3_bind_int(s, 2, (int)part);
    if ((rc = store_step(c, s, "part lookup")) < 0)
        return rc;
    if (rc == SQLITE_DONE) {
        rc = -ERR_INVALID_PART;
    } else if (sqlite3_column_bytes(s, 2) != 32 ||
               hex_decode(str_n(sqlite3_column_text(s, 0), (size_t)sqlite3_column_bytes(s, 0)),
                          out->md5, 16) != 16) {
        tg_log_error("store: malformed part row");
        rc = -ERR_DB;
    } else {
        memcpy(out->sha256, sqlite3_column_blob(s, 2), 32);
        out->size = (uint64_t)sqlite3_column_int64(s, 1);
        rc = 0;
    }
    sqlite3_reset(s);
    return rc;
}

/* md5 of the concatenated binary part md5s, "-N". */
static int composite_etag(const uint8_t *md5s, size_t n, char out[STORE_ETAG_MAX])
{
    uint8_t d[16];
    crypto_md5(md5s, n * 16, d);
    hex_encode(d, 16, out);
    int w = snprintf(out + 32, STORE_ETAG_MAX - 32, "-%zu", n);
    return w > 0 && (size_t)w < STORE_ETAG_MAX - 32 ? 0 : -ERR_INTERNAL;
}

/* Append one part blob to p, checking its length. */
static int append_blob(struct store_put *p, const struct part_row *row, uint8_t *buf)
{
    char path[PATH_MAX];
    uint64_t total = 0;
    int rc = 0, fd;

    store_blob_path(p->st, row->sha256, path);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        rc = -errno;
        tg_log_error("store: cannot open part blob '%s': %s", path, strerror(errno));
        return rc;
    }
    (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    for (;;) {
        ssize_t r = read(fd, buf, STORE_COPY_BUF);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            tg_log_error("store: read '%s': %s", path, strerror(errno));
            break;
        }
        if (r == 0)
            break;
        if ((rc = store_put_write(p, buf, (size_t)r)) < 0)
            break;
        total += (uint64_t)r;
    }
    close(fd);
    if (rc == 0 && total != row->size) {
        tg_log_error("store: part blob '%s' has %llu bytes, expected %llu", path,
                     (unsigned long long)total, (unsigned long long)row->size);
        rc = -ERR_IO;
    }
    return rc;
}

/* A Complete repeated after success: same parts, and the key still holds that object. */
static int complete_again(struct store_conn *c, struct str bucket, struct str key,
                          struct str upload_id, const char *etag, struct store_obj_info *out)
{
    struct store_obj_info info = {0};
    sqlite3_stmt *s, *g;
    int rc;

    if ((rc = store_stmt(c, S_COMPLETED_GET, &s)) < 0 ||
        (rc = store_bind_text(s, 1, upload_id)) < 0 ||
        (rc = store_step(c, s, "completed lookup")) < 0)
        return rc;
    bool same =
        rc == SQLITE_ROW &&
        str_eq(bucket, str_n(sqlite3_column_text(s, 0), (size_t)sqlite3_column_bytes(s, 0))) &&
        str_eq(key, str_n(sqlite3_column_blob(s, 1), (size_t)sqlite3_column_bytes(s, 1))) &&
        str_eq_c(str_n(sqlite3_column_text(s, 2), (size_t)sqlite3_column_bytes(s, 2)), etag);
    sqlite3_reset(s);
    if (!same)
        return -ERR_NO_SUCH_UPLOAD;
    if ((rc = store_stmt(c, S_OBJ_GET, &g)) < 0 || (rc = store_bind_text(g, 1, bucket)) < 0 ||
        (rc = store_bind_key(g, 2, key)) < 0 || (rc = store_step(c, g, "object lookup")) < 0)
        return rc;
    rc = rc == SQLITE_ROW ? store_info_from_row(g, 0, &info) : -ERR_NO_SUCH_UPLOAD;
    sqlite3_reset(g);
    if (rc == 0 && strcmp(info.etag, etag) != 0)
        rc = -ERR_NO_SUCH_UPLOAD; /* overwritten since: the upload is gone for good */
    if (rc == 0 && out) {
        *out = info;
        memset(&info, 0, sizeof info);
    }
    store_obj_info_release(&info);
    return rc;
}

int store_mpu_complete(struct store *st, struct str bucket, struct str key, struct str upload_id,
                       const struct store_mpu_part *parts, size_t nparts,
                       struct store_obj_info *out)
{
    if (st->remote)
        return store_remote_mpu_complete(st, bucket, key, upload_id, parts, nparts, out);
    struct store_obj_info info = {0};
    struct store_conn *c = NULL;
    struct store_put *p = NULL;
    struct part_row *rows = NULL;
    uint8_t *md5s = NULL, *buf = NULL;
    char blob[PATH_MAX];
    sqlite3_stmt *s;
    int rc;

    if (nparts == 0)
        return -ERR_MALFORMED_XML;
    if (nparts > STORE_PART_MAX)
        return -ERR_INVALID_PART;
    rows = calloc(nparts, sizeof *rows);
    md5s = malloc(nparts * 16);
    if (!rows || !md5s) {
        rc = -ERR_NOMEM;
        goto out;
    }
    /* A malformed ETag is InvalidPart, but only for an upload that exists: an unknown
     * upload answers NoSuchUpload whatever the list says. */
    int etag_rc = 0;
    for (size_t i = 0; i < nparts; i++) {
        if (parts[i].part < STORE_PART_MIN || parts[i].part > STORE_PART_MAX) {
            rc = -ERR_INVALID_PART_NUMBER;
            goto out;
        }
        if (i > 0 && parts[i].part <= parts[i - 1].part) {
            rc = -ERR_INVALID_PART_ORDER;
            goto out;
        }
        if (etag_rc == 0)
            etag_rc = etag_parse(parts[i].etag, md5s + 16 * i);
    }
    if (etag_rc == 0 && (rc = composite_etag(md5s, nparts, info.etag)) < 0)
        goto out;

    if ((rc = store_conn_get(st, &c)) < 0)
        goto out;
    if ((rc = upload_lookup(c, bucket, key, upload_id, &info)) < 0) {
        if (rc == -ERR_NO_SUCH_UPLOAD && etag_rc == 0)
            rc = complete_again(c, bucket, key, upload_id, info.etag, out);
        goto out;
    }
    if ((rc = etag_rc) < 0)
        goto out;
    for (size_t i = 0; i < nparts; i++) {
        if ((rc = part_get(c, upload_id, parts[i].part, &rows[i])) < 0)
            goto out;
        if (memcmp(rows[i].md5, md5s + 16 * i, 16) != 0) {
            rc = -ERR_INVALID_PART;
            goto out;
        }
    }
    for (size_t i = 0; i < nparts; i++) { /* sizes only once every part is known good */
        if (i + 1 < nparts && rows[i].size < STORE_PART_SIZE_MIN) {
            rc = -ERR_ENTITY_TOO_SMALL;
            goto out;
        }
        info.size += rows[i].size;
    }
    /* No connection held during the copy: it may take a while. */
    store_conn_put(st, c);
    c = NULL;

    if (nparts == 1) {
        memcpy(info.sha256, rows[0].sha256, 32); /* the object is the part's blob */
    } else {
        if (!(buf = malloc(STORE_COPY_BUF))) {
            rc = -ERR_NOMEM;
            goto out;
        }
        if ((rc = store_put_begin_int(st, false, &p)) < 0)
            goto out;
        for (size_t i = 0; i < nparts; i++)
            if ((rc = append_blob(p, &rows[i], buf)) < 0)
                goto out;
        if ((rc = store_blob_publish(p)) < 0)
            goto out;
        memcpy(info.sha256, p->sha256, 32);
    }

    if ((rc = store_conn_get(st, &c)) < 0 || (rc = store_tx_begin(c)) < 0)
        goto out;
    if ((rc = upload_lookup(c, bucket, key, upload_id, NULL)) < 0) {
        if (rc == -ERR_NO_SUCH_UPLOAD) { /* completed by a concurrent request? */
            store_tx_rollback(c);
            rc = complete_again(c, bucket, key, upload_id, info.etag, out);
        }
        goto out;
    }
    for (size_t i = 0; i < nparts; i++) { /* a part re-uploaded meanwhile? */
        struct part_row now;
        if ((rc = part_get(c, upload_id, parts[i].part, &now)) < 0)
            goto out;
        if (memcmp(now.sha256, rows[i].sha256, 32) != 0) {
            rc = -ERR_INVALID_PART;
            goto out;
        }
    }
    if (p) {
        if ((rc = store_blob_confirm(p)) < 0)
            goto out;
    } else {
        struct stat sb;
        store_blob_path(st, info.sha256, blob);
        if (stat(blob, &sb) < 0) {
            rc = -errno;
            tg_log_error("store: part blob '%s': %s", blob, strerror(errno));
            goto out;
        }
    }
    info.mtime_us = tg_now_us();
    if ((rc = store_obj_row_put(c, bucket, key, &info)) < 0 || (rc = upload_drop(c, upload_id)) < 0)
        goto out;
    if ((rc = store_stmt(c, S_COMPLETED_PUT, &s)) < 0 ||
        (rc = store_bind_text(s, 1, upload_id)) < 0 || (rc = store_bind_text(s, 2, bucket)) < 0 ||
        (rc = store_bind_key(s, 3, key)) < 0 || (rc = store_bind_cstr(s, 4, info.etag)) < 0)
        goto out;
    sqlite3_bind_int64(s, 5, info.mtime_us);
    if ((rc = store_step(c, s, "completed write")) < 0)
        goto out;
    if ((rc = store_stmt(c, S_COMPLETED_PRUNE, &s)) < 0)
        goto out;
    sqlite3_bind_int64(s, 1, info.mtime_us - STORE_COMPLETED_KEEP_US);
    if ((rc = store_step(c, s, "completed prune")) < 0 || (rc = store_tx_commit(c)) < 0)
        goto out;
    if (out) {
        *out = info;
        memset(&info, 0, sizeof info);
    }
    rc = 0;
out:
    store_conn_put(st, c);
    store_put_free(p);
    store_obj_info_release(&info);
    free(rows);
    free(md5s);
    free(buf);
    return rc;
}

int store_mpu_abort(struct store *st, struct str bucket, struct str key, struct str upload_id)
{
    if (st->remote)
        return store_remote_mpu_abort(st, bucket, key, upload_id);
    struct store_conn *c = NULL;
    int rc;

    if ((rc = store_conn_get(st, &c)) < 0)
        return rc;
    if ((rc = store_tx_begin(c)) < 0 || (rc = upload_lookup(c, bucket, key, upload_id, NULL)) < 0 ||
        (rc = upload_drop(c, upload_id)) < 0)
        goto out;
    rc = store_tx_commit(c);
out:
    store_conn_put(st, c);
    return rc;
}

int store_mpu_list_parts(struct store *st, struct str bucket, struct str key, struct str upload_id,
                         unsigned marker, unsigned max,
                         int (*fn)(void *ctx, const struct store_mpu_part *p), void *ctx,
                         bool *truncated)
{
    if (st->remote)
        return store_remote_mpu_list_parts(st, bucket, key, upload_id, marker, max, fn, ctx,
                                           truncated);
    struct store_conn *c = NULL;
    sqlite3_stmt *s;
    bool more = false;
    unsigned n = 0;
    int rc;

    if ((rc = store_conn_get(st, &c)) < 0)
        return rc;
    if ((rc = upload_lookup(c, bucket, key, upload_id, NULL)) < 0 ||
        (rc = store_stmt(c, S_PART_LIST, &s)) < 0 || (rc = store_bind_text(s, 1, upload_id)) < 0)
        goto out;
    sqlite3_bind_int64(s, 2, marker);
    while ((rc = store_step(c, s, "part list")) == SQLITE_ROW) {
        if (n == max) {
            more = true;
            break;
        }
        struct store_mpu_part part = {0};
        part.part = (unsigned)sqlite3_column_int(s, 0);
        str_copy(str_n(sqlite3_column_text(s, 1), (size_t)sqlite3_column_bytes(s, 1)), part.etag,
                 sizeof part.etag);
        part.size = (uint64_t)sqlite3_column_int64(s, 2);
        part.mtime_us = sqlite3_column_int64(s, 3);
        n++;
        int stop = fn(ctx, &part);
        if (stop < 0) {
            rc = stop;
            goto out;
        }
        if (stop > 0) {
            more = true;
            break;
        }
    }
    if (rc < 0)
        goto out;
    if (truncated)
        *truncated = more;
    rc = 0;
out:
    store_conn_put(st, c);
    return rc;
}

int store_mpu_list(struct store *st, struct str bucket, struct str prefix, struct str key_marker,
                   struct str upload_id_marker, unsigned max,
                   int (*fn)(void *ctx, const struct store_mpu *u), void *ctx, bool *truncated)
{
    if (st->remote)
        return store_remote_mpu_list(st, bucket, prefix, key_marker, upload_id_marker, max, fn, ctx,
                                     truncated);
    struct store_conn *c = NULL;
    struct buf key = BUF_INIT;
    char hi_mem[STORE_KEY_MAX + 1];
    struct str hi = str_n("\xff", 1);
    sqlite3_stmt *s;
    bool more = false;
    unsigned n = 0;
    int rc;

    if ((rc = store_conn_get(st, &c)) < 0)
        return rc;
    if ((rc = store_bucket_check_conn(c, bucket)) < 0)
        goto out;
    if (prefix.len > STORE_KEY_MAX)
        goto done;
    if (prefix.len > 0) {
        size_t len = prefix.len;
        memcpy(hi_mem, prefix.ptr, len);
        while (len > 0 && (unsigned char)hi_mem[len - 1] == 0xFF)
            len--;
        if (len == 0)
            goto done;
        hi_mem[len - 1] = (char)((unsigned char)hi_mem[len - 1] + 1);
        hi = str_n(hi_mem, len);
    }
    if ((rc = store_stmt(c, S_UPLOAD_LIST, &s)) < 0 || (rc = store_bind_text(s, 1, bucket)) < 0 ||
        (rc = store_bind_key(s, 2, prefix)) < 0 || (rc = store_bind_key(s, 3, hi)) < 0 ||
        (rc = store_bind_key(s, 4, key_marker)) < 0 ||
        (rc = store_bind_text(s, 5,
                              key_marker.len && upload_id_marker.len ? upload_id_marker
                                                                     : str_c(UPLOAD_ID_TOP))) < 0)
        goto out;
    while ((rc = store_step(c, s, "upload list")) == SQLITE_ROW) {
        if (n == max) {
            more = true;
            break;
        }
        buf_reset(&key);
        if ((rc = buf_add(&key, sqlite3_column_blob(s, 0) ? sqlite3_column_blob(s, 0) : "",
                          (size_t)sqlite3_column_bytes(s, 0))) < 0)
            goto out;
        struct store_mpu u = {buf_cstr(&key), (const char *)sqlite3_column_text(s, 1),
                              sqlite3_column_int64(s, 2)};
        n++;
        int stop = fn(ctx, &u);
        if (stop < 0) {
            rc = stop;
            goto out;
        }
        if (stop > 0) {
            more = true;
            break;
        }
    }
    if (rc < 0)
        goto out;
done:
    if (truncated)
        *truncated = more;
    rc = 0;
out:
    store_conn_put(st, c);
    buf_release(&key);
    return rc;
}

int store_mpu_abort_older(struct store *st, int64_t before_us, unsigned *aborted)
{
    if (st->remote)
        return store_remote_abort_older(st, before_us, aborted);
    struct store_conn *c = NULL;
    sqlite3_stmt *s;
    unsigned n = 0;
    int rc;

    if ((rc = store_conn_get(st, &c)) < 0)
        return rc;
    if ((rc = store_tx_begin(c)) < 0 || (rc = store_stmt(c, S_PARTS_DELETE_OLDER, &s)) < 0)
        goto out;
    sqlite3_bind_int64(s, 1, before_us);
    if ((rc = store_step(c, s, "abort older")) < 0 ||
        (rc = store_stmt(c, S_UPLOADS_DELETE_OLDER, &s)) < 0)
        goto out;
    sqlite3_bind_int64(s, 1, before_us);
    if ((rc = store_step(c, s, "abort older")) < 0)
        goto out;
    n = (unsigned)sqlite3_changes(c->db);
    if ((rc = store_tx_commit(c)) < 0)
        goto out;
    if (aborted)
        *aborted = n;
out:
    store_conn_put(st, c);
    return rc;
}
