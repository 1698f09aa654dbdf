/* s3_client_mpu.c -- the S3 client's multipart uploads: a large PUT as parts in
 * parallel (s3_client_put_fd), and each multipart call on its own for the gateway's
 * pass-through (create, part, complete, list parts, list uploads, abort). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "crypto/crypto.h"
#include "s3/s3_client_int.h"

struct upload_id_parse {
    char id[S3_CLIENT_UPLOAD_ID_MAX];
    char etag[80];
};
static int upload_visit(void *ctx, const char *path, const char *text)
{
    struct upload_id_parse *u = ctx;
    if (text && strcmp(path, "InitiateMultipartUploadResult/UploadId") == 0)
        s3c_copy_trunc(u->id, sizeof u->id, text);
    if (text && strcmp(path, "CompleteMultipartUploadResult/ETag") == 0)
        s3c_copy_trunc(u->etag, sizeof u->etag, text);
    return 0;
}

struct mp {
    struct s3_client *c;
    const char *key;
    int fd;
    uint64_t size, part;
    size_t n_parts;
    const char *upload_q; /* "uploadId=<encoded>" */
    char (*etags)[80];
    pthread_mutex_t mu;
    size_t next;
    int rc; /* first failure */
    char err[S3_CLIENT_ERR_MAX];
};

static void *part_worker(void *arg)
{
    struct mp *m = arg;
    CURL *h = curl_easy_init();
    char q[1200], err[S3_CLIENT_ERR_MAX];
    for (;;) {
        pthread_mutex_lock(&m->mu);
        size_t i = m->next++;
        bool stop = i >= m->n_parts || m->rc < 0 || !h;
        if (!h && m->rc == 0) {
            m->rc = -ERR_NOMEM;
            snprintf(m->err, sizeof m->err, "S3 UploadPart: out of memory");
        }
        pthread_mutex_unlock(&m->mu);
        if (stop)
            break;
        struct req rq = REQ_INIT("UploadPart", "PUT", m->key);
        snprintf(q, sizeof q, "partNumber=%zu&%s", i + 1, m->upload_q);
        rq.query = q;
        rq.fd = m->fd;
        rq.off = i * m->part;
        rq.len = i + 1 == m->n_parts ? m->size - rq.off : m->part;
        rq.payload_hash = UNSIGNED_PAYLOAD;
        rq.curl = h;
        rq.err = err;
        rq.err_cap = sizeof err;
        int rc = s3c_perform(m->c, &rq);
        if (rc == 0 && !rq.obj.etag[0]) {
            rc = -ERR_IO;
            snprintf(err, sizeof err, "S3 UploadPart of '%s' at %s failed: no ETag in the answer",
                     m->key, m->c->endpoint);
        }
        buf_release(&rq.resp);
        pthread_mutex_lock(&m->mu);
        if (rc == 0)
            memcpy(m->etags[i], rq.obj.etag, sizeof m->etags[i]);
        else if (m->rc == 0) {
            m->rc = rc;
            s3c_copy_trunc(m->err, sizeof m->err, err);
        }
        pthread_mutex_unlock(&m->mu);
    }
    if (h)
        curl_easy_cleanup(h);
    return NULL;
}

/* CreateMultipartUpload: the upload id into id (cap bytes). */
static int mpu_create(struct s3_client *c, const char *key, const char *const *hdrs, size_t n_hdrs,
                      char *id, size_t cap)
{
    struct upload_id_parse u = {0};
    struct req cr = REQ_INIT("CreateMultipartUpload", "POST", key);
    cr.query = "uploads";
    cr.hdrs = hdrs;
    cr.n_hdrs = n_hdrs;
    int rc = s3c_run(c, &cr);
    if (rc == 0 && (rc = s3_xml_parse(buf_str(&cr.resp), upload_visit, &u)) == 0 && !u.id[0])
        rc = -ERR_MALFORMED_XML;
    buf_release(&cr.resp);
    if (rc == 0 && strlen(u.id) >= cap)
        rc = -ERR_TOO_LONG;
    if (rc < 0) {
        if (!c->err[0])
            s3c_cerr(c,
                     "S3 CreateMultipartUpload of '%s' at %s failed: no usable UploadId in "
                     "the answer",
                     key, c->endpoint);
        return rc;
    }
    s3c_copy_trunc(id, cap, u.id);
    return 0;
}

static int upload_query(struct buf *q, const char *upload_id)
{
    int rc = buf_adds(q, "uploadId=");
    return rc < 0 ? rc : uri_encode(q, str_c(upload_id), false);
}

/* CompleteMultipartUpload of parts (number, etag as the remote gave it); etag_out: the
 * object's ETag as sent (quoted). */
static int mpu_complete(struct s3_client *c, const char *key, const char *upload_q,
                        const struct s3_client_part *parts, size_t n, const char *const *cond,
                        size_t n_cond, char etag_out[80])
{
    struct buf xml = BUF_INIT;
    struct upload_id_parse u = {0};
    int rc = buf_adds(&xml, "<CompleteMultipartUpload>");
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = buf_printf(&xml, "<Part><PartNumber>%u</PartNumber><ETag>", parts[i].number);
        if (rc == 0)
            rc = s3_xml_escape(&xml, str_c(parts[i].etag));
        if (rc == 0)
            rc = buf_adds(&xml, "</ETag></Part>");
    }
    if (rc == 0)
        rc = buf_adds(&xml, "</CompleteMultipartUpload>");
    if (rc < 0) {
        buf_release(&xml);
        return rc;
    }
    char hash[65];
    const char *xml_hdrs[6] = {"Content-Type", "application/xml"};
    for (size_t i = 0; i < 2 * n_cond && i < 4; i++)
        xml_hdrs[2 + i] = cond[i];
    crypto_sha256_hex(xml.ptr, xml.len, hash);
    struct req co = REQ_INIT("CompleteMultipartUpload", "POST", key);
    co.query = upload_q;
    co.mem = xml.ptr;
    co.mem_len = xml.len;
    co.has_mem = true;
    co.payload_hash = hash;
    co.hdrs = xml_hdrs;
    co.n_hdrs = 1 + (n_cond < 2 ? n_cond : 2);
    rc = s3c_run(c, &co);
    if (rc == 0) {
        /* S3 may answer 200 and put the failure in the body. */
        char code[128], msg[S3_CLIENT_ERR_MAX];
        if (s3_client_error_parse(buf_str(&co.resp), code, sizeof code, msg, sizeof msg) == 0) {
            rc = s3c_err_from(code, 500);
            s3c_cerr(c,
                     "S3 CompleteMultipartUpload of '%s' in bucket '%s' at %s failed: HTTP 200 "
                     "%s: %s",
                     key, c->bucket, c->endpoint, code, msg);
        } else {
            s3_xml_parse(buf_str(&co.resp), upload_visit, &u);
            s3c_copy_trunc(etag_out, 80, u.etag);
        }
    }
    buf_release(&co.resp);
    buf_release(&xml);
    return rc;
}

int s3c_put_multipart(struct s3_client *c, const char *key, int fd, uint64_t size,
                      const char *const *hdrs, size_t n_hdrs, struct s3_client_obj *out)
{
    char id[S3_CLIENT_UPLOAD_ID_MAX];
    struct buf q = BUF_INIT;
    struct s3_client_part *parts = NULL;
    struct mp m = {.c = c, .key = key, .fd = fd, .size = size, .part = c->cfg.part_size};
    pthread_t th[S3_CLIENT_PARALLEL_MAX];
    int nth = 0, rc;
    bool created = false;

    pthread_mutex_init(&m.mu, NULL);
    while ((size + m.part - 1) / m.part > S3_CLIENT_PARTS_MAX)
        m.part *= 2;
    m.n_parts = (size_t)((size + m.part - 1) / m.part);

    /* A condition (If-None-Match, If-Match) belongs on the Complete, which is when the
     * object appears; the other headers on the Create. */
    const char *create_h[2 * (HDRS_MAX + 2)], *cond_h[4];
    size_t n_create = 0, n_cond = 0;
    for (size_t i = 0; i < n_hdrs && i < HDRS_MAX; i++) {
        bool cond = strcasecmp(hdrs[2 * i], "If-None-Match") == 0 ||
                    strcasecmp(hdrs[2 * i], "If-Match") == 0;
        if (cond && n_cond < 2) {
            cond_h[2 * n_cond] = hdrs[2 * i];
            cond_h[2 * n_cond++ + 1] = hdrs[2 * i + 1];
        } else if (!cond) {
            create_h[2 * n_create] = hdrs[2 * i];
            create_h[2 * n_create++ + 1] = hdrs[2 * i + 1];
        }
    }
    if ((rc = mpu_create(c, key, create_h, n_create, id, sizeof id)) < 0)
        goto out;
    created = true;
    if ((rc = upload_query(&q, id)) < 0)
        goto out;
    m.upload_q = buf_cstr(&q);
    if (!(m.etags = calloc(m.n_parts, sizeof *m.etags)) ||
        !(parts = calloc(m.n_parts, sizeof *parts))) {
        rc = -ERR_NOMEM;
        goto out;
    }
    for (int i = 0; i < c->cfg.parallel && (size_t)i < m.n_parts; i++) {
        if (pthread_create(&th[nth], NULL, part_worker, &m) != 0)
            break;
        nth++;
    }
    if (nth == 0)
        part_worker(&m); /* no thread to be had: the parts go one by one here */
    for (int i = 0; i < nth; i++)
        pthread_join(th[i], NULL);
    if ((rc = m.rc) < 0) {
        s3c_copy_trunc(c->err, sizeof c->err, m.err);
        goto out;
    }
    for (size_t i = 0; i < m.n_parts; i++) {
        parts[i].number = (unsigned)(i + 1);
        memcpy(parts[i].etag, m.etags[i], sizeof parts[i].etag);
    }
    char etag[80] = "";
    if ((rc = mpu_complete(c, key, m.upload_q, parts, m.n_parts, cond_h, n_cond, etag)) == 0 &&
        out) {
        memset(out, 0, sizeof *out);
        out->size = size;
        memcpy(out->etag, etag, sizeof out->etag);
    }
out:
    if (rc < 0 && created) {
        char keep[S3_CLIENT_ERR_MAX];
        s3c_copy_trunc(keep, sizeof keep, c->err);
        struct req ab = REQ_INIT("AbortMultipartUpload", "DELETE", key);
        ab.query = buf_cstr(&q);
        if (q.len)
            s3c_run(c, &ab);
        buf_release(&ab.resp);
        s3c_copy_trunc(c->err, sizeof c->err, keep); /* the first failure is the story */
    }
    pthread_mutex_destroy(&m.mu);
    free(m.etags);
    free(parts);
    buf_release(&q);
    return rc;
}

/* ---- each call on its own (the gateway passes a client's multipart upload through) ---- */

int s3_client_mpu_create(struct s3_client *c, const char *key, const char *const *hdrs,
                         size_t n_hdrs, char *upload_id, size_t cap)
{
    return mpu_create(c, key, hdrs, n_hdrs, upload_id, cap);
}

int s3_client_mpu_part(struct s3_client *c, const char *key, const char *upload_id, unsigned part,
                       int fd, uint64_t size, const uint8_t *sha256, struct s3_client_obj *out)
{
    struct buf q = BUF_INIT;
    char hash[65];
    int rc = buf_printf(&q, "partNumber=%u&", part);
    if (rc == 0)
        rc = upload_query(&q, upload_id);
    if (rc < 0) {
        buf_release(&q);
        return rc;
    }
    if (sha256)
        hex_encode(sha256, 32, hash);
    struct req rq = REQ_INIT("UploadPart", "PUT", key);
    rq.query = buf_cstr(&q);
    rq.fd = fd;
    rq.len = size;
    rq.payload_hash = sha256 ? hash : UNSIGNED_PAYLOAD;
    rc = s3c_run(c, &rq);
    if (rc == 0 && !rq.obj.etag[0]) {
        rc = -ERR_IO;
        s3c_cerr(c, "S3 UploadPart of '%s' at %s failed: no ETag in the answer", key, c->endpoint);
    }
    if (rc == 0 && out) {
        *out = rq.obj;
        out->size = size;
    }
    buf_release(&rq.resp);
    buf_release(&q);
    return rc;
}

int s3_client_mpu_complete(struct s3_client *c, const char *key, const char *upload_id,
                           const struct s3_client_part *parts, size_t n, struct s3_client_obj *out)
{
    struct buf q = BUF_INIT;
    char etag[80] = "";
    int rc = upload_query(&q, upload_id);
    if (rc == 0)
        rc = mpu_complete(c, key, buf_cstr(&q), parts, n, NULL, 0, etag);
    if (rc == 0 && out) {
        memset(out, 0, sizeof *out);
        memcpy(out->etag, etag, sizeof out->etag);
    }
    buf_release(&q);
    return rc;
}

#define PARTS_PATH "ListPartsResult/"
struct parts_parse {
    s3_client_part_fn fn;
    void *ctx;
    struct s3_client_part cur;
    bool truncated;
};

static int parts_visit(void *ctx, const char *path, const char *text)
{
    struct parts_parse *pp = ctx;
    uint64_t v;
    if (strcmp(path, PARTS_PATH "Part") == 0) {
        if (text)
            return 0;
        int rc = pp->cur.number ? pp->fn(pp->ctx, &pp->cur) : 0;
        memset(&pp->cur, 0, sizeof pp->cur);
        return rc;
    }
    if (!text)
        return 0;
    if (strcmp(path, PARTS_PATH "Part/PartNumber") == 0) {
        if (str_to_u64(str_c(text), &v) < 0 || v < 1 || v > S3_CLIENT_PARTS_MAX)
            return -ERR_MALFORMED_XML;
        pp->cur.number = (unsigned)v;
    } else if (strcmp(path, PARTS_PATH "Part/ETag") == 0) {
        s3c_copy_trunc(pp->cur.etag, sizeof pp->cur.etag, text);
    } else if (strcmp(path, PARTS_PATH "Part/Size") == 0) {
        if (str_to_u64(str_c(text), &pp->cur.size) < 0)
            return -ERR_MALFORMED_XML;
    } else if (strcmp(path, PARTS_PATH "Part/LastModified") == 0) {
        if (time_parse_iso8601(str_c(text), &pp->cur.mtime) < 0)
            pp->cur.mtime = 0;
    } else if (strcmp(path, PARTS_PATH "IsTruncated") == 0) {
        pp->truncated = strcmp(text, "true") == 0;
    }
    return 0;
}

int s3_client_mpu_parts(struct s3_client *c, const char *key, const char *upload_id,
                        unsigned marker, unsigned max, s3_client_part_fn fn, void *ctx,
                        bool *truncated)
{
    struct buf q = BUF_INIT;
    int rc = buf_printf(&q, "max-parts=%u&part-number-marker=%u&", max ? max : 1000, marker);
    if (rc == 0)
        rc = upload_query(&q, upload_id);
    if (rc < 0) {
        buf_release(&q);
        return rc;
    }
    struct req rq = REQ_INIT("ListParts", "GET", key);
    rq.query = buf_cstr(&q);
    rc = s3c_run(c, &rq);
    if (rc == 0) {
        struct parts_parse pp = {.fn = fn, .ctx = ctx};
        rc = s3_xml_parse(buf_str(&rq.resp), parts_visit, &pp);
        if (rc == -ERR_MALFORMED_XML)
            s3c_cerr(c,
                     "S3 ListParts of '%s' in bucket '%s' at %s failed: the answer is not a "
                     "ListPartsResult",
                     key, c->bucket, c->endpoint);
        if (rc == 0)
            *truncated = pp.truncated;
    }
    buf_release(&rq.resp);
    buf_release(&q);
    return rc;
}

#define UPLOADS_PATH "ListMultipartUploadsResult/"
struct uploads_parse {
    s3_client_upload_fn fn;
    void *ctx;
    char key[1100], id[1024];
    int64_t initiated;
    bool truncated;
    struct buf next_key, next_id;
};

static int uploads_visit(void *ctx, const char *path, const char *text)
{
    struct uploads_parse *u = ctx;
    if (strcmp(path, UPLOADS_PATH "Upload") == 0) {
        if (text)
            return 0;
        int rc = u->key[0] && u->id[0] ? u->fn(u->ctx, u->key, u->id, u->initiated) : 0;
        u->key[0] = u->id[0] = '\0';
        u->initiated = 0;
        return rc;
    }
    if (!text)
        return 0;
    if (strcmp(path, UPLOADS_PATH "Upload/Key") == 0)
        s3c_copy_trunc(u->key, sizeof u->key, text);
    else if (strcmp(path, UPLOADS_PATH "Upload/UploadId") == 0)
        s3c_copy_trunc(u->id, sizeof u->id, text);
    else if (strcmp(path, UPLOADS_PATH "Upload/Initiated") == 0 &&
             time_parse_iso8601(str_c(text), &u->initiated) < 0)
        u->initiated = 0;
    else if (strcmp(path, UPLOADS_PATH "IsTruncated") == 0)
        u->truncated = strcmp(text, "true") == 0;
    else if (strcmp(path, UPLOADS_PATH "NextKeyMarker") == 0) {
        buf_reset(&u->next_key);
        return buf_adds(&u->next_key, text);
    } else if (strcmp(path, UPLOADS_PATH "NextUploadIdMarker") == 0) {
        buf_reset(&u->next_id);
        return buf_adds(&u->next_id, text);
    }
    return 0;
}

int s3_client_uploads(struct s3_client *c, const char *prefix, s3_client_upload_fn fn, void *ctx)
{
    struct uploads_parse u = {.fn = fn, .ctx = ctx, .truncated = true};
    struct buf q = BUF_INIT, km = BUF_INIT, im = BUF_INIT;
    int rc = 0;
    buf_init(&u.next_key, 4096);
    buf_init(&u.next_id, 4096);
    for (int page = 0; u.truncated && rc == 0; page++) {
        buf_reset(&q);
        if (km.len) {
            rc = buf_adds(&q, "key-marker=");
            if (rc == 0)
                rc = uri_encode(&q, buf_str(&km), false);
            if (rc == 0)
                rc = buf_addc(&q, '&');
        }
        if (rc == 0 && prefix && *prefix) {
            rc = buf_adds(&q, "prefix=");
            if (rc == 0)
                rc = uri_encode(&q, str_c(prefix), false);
            if (rc == 0)
                rc = buf_addc(&q, '&');
        }
        if (rc == 0 && im.len) {
            rc = buf_adds(&q, "upload-id-marker=");
            if (rc == 0)
                rc = uri_encode(&q, buf_str(&im), false);
            if (rc == 0)
                rc = buf_addc(&q, '&');
        }
        if (rc == 0)
            rc = buf_adds(&q, "uploads=");
        if (rc < 0)
            break;
        struct req rq = REQ_INIT("ListMultipartUploads", "GET", NULL);
        rq.query = buf_cstr(&q);
        rc = s3c_run(c, &rq);
        if (rc == 0) {
            u.truncated = false;
            buf_reset(&u.next_key);
            buf_reset(&u.next_id);
            rc = s3_xml_parse(buf_str(&rq.resp), uploads_visit, &u);
            if (rc == -ERR_MALFORMED_XML)
                s3c_cerr(c,
                         "S3 ListMultipartUploads in bucket '%s' at %s failed: the answer is not "
                         "XML",
                         c->bucket, c->endpoint);
            if (rc == 0 && u.truncated) {
                if (!u.next_key.len || (buf_str(&u.next_key).len == km.len &&
                                        memcmp(u.next_key.ptr, km.ptr, km.len) == 0 &&
                                        buf_str(&u.next_id).len == im.len &&
                                        memcmp(u.next_id.ptr ? u.next_id.ptr : "",
                                               im.ptr ? im.ptr : "", im.len) == 0)) {
                    rc = -ERR_MALFORMED_XML;
                    s3c_cerr(c,
                             "S3 ListMultipartUploads in bucket '%s' at %s failed: truncated "
                             "without a new marker",
                             c->bucket, c->endpoint);
                } else {
                    buf_reset(&km);
                    buf_reset(&im);
                    rc = buf_addstr(&km, buf_str(&u.next_key));
                    if (rc == 0 && u.next_id.len)
                        rc = buf_addstr(&im, buf_str(&u.next_id));
                }
            }
        }
        buf_release(&rq.resp);
    }
    buf_release(&u.next_key);
    buf_release(&u.next_id);
    buf_release(&q);
    buf_release(&km);
    buf_release(&im);
    return rc;
}

int s3_client_mpu_abort(struct s3_client *c, const char *key, const char *upload_id)
{
    struct buf q = BUF_INIT;
    int rc = buf_adds(&q, "uploadId=");
    if (rc == 0)
        rc = uri_encode(&q, str_c(upload_id), false);
    if (rc == 0) {
        struct req rq = REQ_INIT("AbortMultipartUpload", "DELETE", key);
        rq.query = buf_cstr(&q);
        rc = s3c_run(c, &rq);
        buf_release(&rq.resp);
    }
    buf_release(&q);
    return rc;
}
