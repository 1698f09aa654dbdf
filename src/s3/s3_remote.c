/* s3_remote.c -- the store's remote backend operations (store.h, struct
 * store_remote_ops) over the S3 client: what the store asks for, in S3 requests.
 *
 * A struct s3_client serves one thread at a time, so calls take a client from a small
 * pool (made on demand, at most S3_REMOTE_IDLE_MAX kept idle). Every failure the
 * client reports is logged here once with its sentence (endpoint, operation, key,
 * HTTP status, S3 code -- never a secret) and becomes -ERR_REMOTE (503), except what
 * the store must tell apart: a missing key, a failed If-Match, an unsatisfiable range
 * and the sink's own errors. Object headers map as store.h says: Content-Type, the
 * stored headers of meta_json, and x-amz-meta-tollgate-sha256. */
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "crypto/crypto.h"
#include "s3/s3.h"
#include "store/store.h"

#define S3_REMOTE_IDLE_MAX 32
#define SHA_HEADER "x-amz-meta-tollgate-sha256"
#define OWN_META "x-amz-meta-tollgate-" /* the store's own headers, never user metadata */
/* A checksum a client sent (x-amz-checksum-ALG) is kept as OWN_META "checksum-ALG": the
 * gateway has verified it, and every remote returns metadata (not all return checksums). */
#define CKSUM_META OWN_META "checksum-"
#define CKSUM_HDR "x-amz-checksum-"
#define CKSUMS_MAX 4
#define PUT_HDRS_MAX 40 /* name/value pairs sent with a PUT */

struct s3_remote {
    struct s3_client_config cfg; /* strings owned */
    pthread_mutex_t mu;
    struct s3_client *idle[S3_REMOTE_IDLE_MAX];
    unsigned n_idle;
};

static void client_put(struct s3_remote *r, struct s3_client *c);

/* A client addressing bucket (NULL: the configured one). */
static int client_get(struct s3_remote *r, const char *bucket, struct s3_client **out)
{
    struct s3_client *c = NULL;
    int rc = 0;
    pthread_mutex_lock(&r->mu);
    if (r->n_idle)
        c = r->idle[--r->n_idle];
    pthread_mutex_unlock(&r->mu);
    if (!c && (rc = s3_client_new(&r->cfg, &c)) < 0)
        return rc == -ERR_NOMEM ? rc : -ERR_REMOTE;
    if ((rc = s3_client_set_bucket(c, bucket ? bucket : r->cfg.bucket)) < 0) {
        client_put(r, c);
        return rc;
    }
    *out = c;
    return 0;
}

static void client_put(struct s3_remote *r, struct s3_client *c)
{
    pthread_mutex_lock(&r->mu);
    if (r->n_idle < S3_REMOTE_IDLE_MAX) {
        r->idle[r->n_idle++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&r->mu);
    s3_client_free(c);
}

/* What the store sees of a client failure: the remote's answer to a client's mistake
 * (4xx: a missing key, bucket or upload, a failed condition, a bad part list, ...) as
 * the same error; the remote failing or refusing the gateway's own keys as -ERR_REMOTE,
 * logged. */
static int mapped(struct s3_client *c, int rc)
{
    if (rc >= 0)
        return rc;
    if (rc == -ERR_NO_SUCH_KEY || rc == -ERR_NOT_FOUND)
        return -ERR_NO_SUCH_KEY;
    int st = rc > -ERR_NONE ? 0 : err_http_status(rc);
    if (rc == -ERR_NOMEM || rc == -ERR_EXISTS ||
        (st >= 400 && st < 500 && st != 401 && st != 403 && rc != -ERR_RATE_LIMITED))
        return rc;
    tg_log_warn("store: %s", s3_client_error(c)[0] ? s3_client_error(c) : err_message(rc));
    return -ERR_REMOTE;
}

/* ---- HEAD ---- */

static bool line_header(struct str line, const char *name, struct str *value)
{
    size_t n = strlen(name);
    if (line.len <= n || line.ptr[n] != ':' || !str_case_eq_c(str_n(line.ptr, n), name))
        return false;
    *value = str_trim(str_n(line.ptr + n + 1, line.len - n - 1));
    return true;
}

static const char *const KEPT[] = {"cache-control",    "content-disposition",
                                   "content-encoding", "content-language",
                                   "expires",          NULL};

static void etag_unquote(const char *in, char out[STORE_ETAG_MAX])
{
    struct str et = str_c(in);
    if (et.len >= 2 && et.ptr[0] == '"' && et.ptr[et.len - 1] == '"')
        et = str_n(et.ptr + 1, et.len - 2);
    if (str_copy(et, out, STORE_ETAG_MAX) < 0)
        out[0] = '\0';
}

static int info_from_headers(struct str lines, const struct s3_client_obj *o,
                             struct store_obj_info *out)
{
    json_t *obj = json_object();
    struct str line, rest = lines, v;
    char *ct = NULL;
    if (!obj)
        return -ERR_NOMEM;
    memset(out, 0, sizeof *out);
    out->size = o->size;
    out->mtime_us = o->mtime * 1000000;
    etag_unquote(o->etag, out->etag);
    while (rest.len) {
        str_split(rest, '\n', &line, &rest);
        struct str name, val;
        if (!str_split(line, ':', &name, &val))
            continue;
        name = str_trim(name);
        if (line_header(line, SHA_HEADER, &v)) {
            if (v.len != 64 || hex_decode(v, out->sha256, 32) != 32)
                memset(out->sha256, 0, 32);
        } else if (line_header(line, "content-type", &v)) {
            free(ct);
            ct = str_dup(v);
        } else {
            char lname[256];
            if (name.len == 0 || name.len >= sizeof lname)
                continue;
            for (size_t i = 0; i < name.len; i++)
                lname[i] = (char)(name.ptr[i] >= 'A' && name.ptr[i] <= 'Z' ? name.ptr[i] + 32
                                                                           : name.ptr[i]);
            lname[name.len] = '\0';
            val = str_trim(val);
            if (strncmp(lname, CKSUM_META, strlen(CKSUM_META)) == 0) {
                char cname[300];
                snprintf(cname, sizeof cname, CKSUM_HDR "%s", lname + strlen(CKSUM_META));
                json_object_set_new(obj, cname, json_stringn(val.ptr, val.len));
                continue;
            }
            bool keep = strncmp(lname, "x-amz-meta-", 11) == 0 &&
                        strncmp(lname, OWN_META, strlen(OWN_META)) != 0;
            for (const char *const *k = KEPT; !keep && *k; k++)
                keep = strcmp(lname, *k) == 0;
            if (keep)
                json_object_set_new(obj, lname, json_stringn(val.ptr, val.len));
        }
    }
    out->content_type = ct ? ct : strdup("application/octet-stream");
    out->meta_json = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(obj);
    if (!out->content_type || !out->meta_json) {
        store_obj_info_release(out);
        return -ERR_NOMEM;
    }
    return 0;
}

static int op_head(void *impl, const char *bucket, const char *key, struct store_obj_info *out)
{
    struct s3_remote *r = impl;
    struct s3_client *c;
    struct buf lines = BUF_INIT;
    struct s3_client_obj o;
    int rc = client_get(r, bucket, &c);
    if (rc < 0)
        return rc;
    buf_init(&lines, 64 * 1024);
    rc = mapped(c, s3_client_head_hdrs(c, key, &o, &lines));
    if (rc == 0)
        rc = info_from_headers(buf_str(&lines), &o, out);
    buf_release(&lines);
    client_put(r, c);
    return rc;
}

/* ---- GET ---- */

struct sink_wrap {
    int (*sink)(void *ctx, const void *p, size_t n);
    void *ctx;
    int rc;
};

static int wrap_sink(void *ctx, const void *p, size_t n)
{
    struct sink_wrap *w = ctx;
    int rc = w->sink(w->ctx, p, n);
    if (rc < 0)
        w->rc = rc;
    return rc;
}

static int op_get(void *impl, const char *bucket, const char *key, uint64_t off, uint64_t len,
                  const char *if_match, int (*sink)(void *ctx, const void *p, size_t n), void *ctx)
{
    struct s3_remote *r = impl;
    struct s3_client *c;
    struct sink_wrap w = {sink, ctx, 0};
    int rc = client_get(r, bucket, &c);
    if (rc < 0)
        return rc;
    rc = s3_client_get_if(c, key, off, len, if_match, wrap_sink, &w, NULL);
    rc = w.rc < 0 ? w.rc : mapped(c, rc);
    client_put(r, c);
    return rc;
}

/* ---- PUT ---- */

/* The request headers an object is written with: Content-Type, the SHA-256 when known
 * (shahex), the stored headers of attrs->meta_json (*obj holds their strings; ck the
 * names of the checksums, as CKSUM_META). */
static int attrs_headers(const struct store_attrs *attrs, const char *shahex,
                         const char *hdrs[2 * PUT_HDRS_MAX], size_t *n_out, json_t **obj,
                         char ck[CKSUMS_MAX][64])
{
    size_t n = 0, nck = 0;
    *obj = NULL;
    hdrs[2 * n] = "Content-Type";
    hdrs[2 * n + 1] =
        attrs && attrs->content_type ? attrs->content_type : "application/octet-stream";
    n++;
    if (shahex) {
        hdrs[2 * n] = SHA_HEADER;
        hdrs[2 * n + 1] = shahex;
        n++;
    }
    if (attrs && attrs->meta_json && strcmp(attrs->meta_json, "{}") != 0) {
        if (!(*obj = json_loads(attrs->meta_json, 0, NULL)))
            return -ERR_INTERNAL;
        const char *name;
        json_t *v;
        json_object_foreach(*obj, name, v)
        {
            if (!json_is_string(v) || strncasecmp(name, OWN_META, strlen(OWN_META)) == 0)
                continue;
            if (n == PUT_HDRS_MAX)
                return -ERR_METADATA_TOO_LARGE;
            const char *hname = name; /* (name itself drives the iteration) */
            if (strncasecmp(name, CKSUM_HDR, strlen(CKSUM_HDR)) == 0) {
                if (nck == CKSUMS_MAX || strlen(name) - strlen(CKSUM_HDR) > 20)
                    continue;
                snprintf(ck[nck], sizeof ck[nck], CKSUM_META "%s", name + strlen(CKSUM_HDR));
                hname = ck[nck++];
            }
            hdrs[2 * n] = hname;
            hdrs[2 * n + 1] = json_string_value(v);
            n++;
        }
    }
    *n_out = n;
    return 0;
}

static int op_put(void *impl, const char *bucket, const char *key, int fd, uint64_t size,
                  const uint8_t sha256[32], const struct store_attrs *attrs,
                  const struct store_write_cond *cond, char etag_out[STORE_ETAG_MAX])
{
    struct s3_remote *r = impl;
    struct s3_client *c = NULL;
    const char *hdrs[2 * (PUT_HDRS_MAX + 1)];
    size_t n = 0;
    char shahex[65], ck[CKSUMS_MAX][64], quoted[STORE_ETAG_MAX + 2];
    json_t *obj = NULL;
    struct s3_client_obj o;
    int rc;

    hex_encode(sha256, 32, shahex);
    if ((rc = attrs_headers(attrs, shahex, hdrs, &n, &obj, ck)) < 0 ||
        (rc = client_get(r, bucket, &c)) < 0)
        goto out;
    /* the remote checks the condition as it writes: atomic where it supports them */
    if (cond && cond->if_none_match_any) {
        hdrs[2 * n] = "If-None-Match";
        hdrs[2 * n++ + 1] = "*";
    } else if (cond && cond->if_match) {
        snprintf(quoted, sizeof quoted, strcmp(cond->if_match, "*") ? "\"%s\"" : "%s",
                 cond->if_match);
        hdrs[2 * n] = "If-Match";
        hdrs[2 * n++ + 1] = quoted;
    }
    rc = mapped(c, s3_client_put_fd_hdrs(c, key, fd, size, sha256, hdrs, n, &o));
    if (rc == 0)
        etag_unquote(o.etag, etag_out);
    client_put(r, c);
out:
    json_decref(obj);
    return rc;
}

static int op_del(void *impl, const char *bucket, const char *key)
{
    struct s3_remote *r = impl;
    struct s3_client *c;
    int rc = client_get(r, bucket, &c);
    if (rc < 0)
        return rc;
    rc = s3_client_delete(c, key);
    rc = rc == -ERR_NO_SUCH_KEY || rc == -ERR_NOT_FOUND ? 0 : mapped(c, rc);
    client_put(r, c);
    return rc;
}

/* ---- listing ---- */

struct list_wrap {
    int (*fn)(void *ctx, const struct store_remote_obj *o);
    void *ctx;
    int rc;
};

static int list_visit(void *ctx, const char *key, uint64_t size, const char *etag, int64_t mtime_us)
{
    struct list_wrap *w = ctx;
    char e[STORE_ETAG_MAX];
    etag_unquote(etag, e);
    struct store_remote_obj o = {key, size, mtime_us, e};
    int rc = w->fn(w->ctx, &o);
    if (rc < 0)
        w->rc = rc;
    return rc;
}

static int op_list(void *impl, const char *bucket, const char *prefix, const char *after,
                   unsigned max, int (*fn)(void *ctx, const struct store_remote_obj *o), void *ctx,
                   bool *truncated)
{
    struct s3_remote *r = impl;
    struct s3_client *c;
    struct list_wrap w = {fn, ctx, 0};
    int rc = client_get(r, bucket, &c);
    if (rc < 0)
        return rc;
    rc = s3_client_list_page(c, prefix, after, max, list_visit, &w, truncated);
    rc = w.rc < 0 ? w.rc : mapped(c, rc);
    client_put(r, c);
    return rc;
}

/* ---- buckets ---- */

/* One call on a bucket (a HEAD's 404 is NoSuchBucket: the client names it so). */
static int bucket_call(void *impl, const char *bucket, int (*call)(struct s3_client *c))
{
    struct s3_remote *r = impl;
    struct s3_client *c;
    int rc = client_get(r, bucket, &c);
    if (rc < 0)
        return rc;
    rc = mapped(c, call(c));
    client_put(r, c);
    return rc;
}

static int op_bucket_create(void *impl, const char *bucket)
{
    return bucket_call(impl, bucket, s3_client_bucket_create);
}

static int op_bucket_head(void *impl, const char *bucket)
{
    return bucket_call(impl, bucket, s3_client_bucket_head);
}

static int op_bucket_delete(void *impl, const char *bucket)
{
    return bucket_call(impl, bucket, s3_client_bucket_delete);
}

struct bucket_wrap {
    int (*fn)(void *ctx, const char *name, int64_t created_us);
    void *ctx;
};

static int bucket_visit(void *ctx, const char *name, int64_t created)
{
    struct bucket_wrap *w = ctx;
    return w->fn(w->ctx, name, created * 1000000);
}

static int op_buckets(void *impl, int (*fn)(void *ctx, const char *name, int64_t created_us),
                      void *ctx)
{
    struct s3_remote *r = impl;
    struct s3_client *c;
    struct bucket_wrap w = {fn, ctx};
    int rc = client_get(r, NULL, &c);
    if (rc < 0)
        return rc;
    rc = mapped(c, s3_client_buckets(c, bucket_visit, &w));
    client_put(r, c);
    return rc;
}

/* ---- multipart uploads ---- */

struct up_wrap {
    int (*fn)(void *ctx, const char *key, const char *upload_id, int64_t initiated_us);
    void *ctx;
};

static int up_visit(void *ctx, const char *key, const char *upload_id, int64_t initiated)
{
    struct up_wrap *w = ctx;
    return w->fn(w->ctx, key, upload_id, initiated * 1000000);
}

static int op_uploads(void *impl, const char *bucket,
                      int (*fn)(void *ctx, const char *key, const char *upload_id,
                                int64_t initiated_us),
                      void *ctx)
{
    struct s3_remote *r = impl;
    struct s3_client *c;
    struct up_wrap w = {fn, ctx};
    int rc = client_get(r, bucket, &c);
    if (rc < 0)
        return rc;
    rc = mapped(c, s3_client_uploads(c, NULL, up_visit, &w));
    client_put(r, c);
    return rc;
}

static int op_abort(void *impl, const char *bucket, const char *key, const char *upload_id)
{
    struct s3_remote *r = impl;
    struct s3_client *c;
    int rc = client_get(r, bucket, &c);
    if (rc < 0)
        return rc;
    rc = mapped(c, s3_client_mpu_abort(c, key, upload_id));
    client_put(r, c);
    return rc == -ERR_NO_SUCH_KEY ? -ERR_NO_SUCH_UPLOAD : rc;
}

static int op_mpu_create(void *impl, const char *bucket, const char *key,
                         const struct store_attrs *attrs, char upload_id[STORE_UPLOAD_ID_MAX])
{
    struct s3_remote *r = impl;
    struct s3_client *c = NULL;
    const char *hdrs[2 * PUT_HDRS_MAX];
    size_t n = 0;
    json_t *obj = NULL;
    char ck[CKSUMS_MAX][64];
    int rc;
    if ((rc = attrs_headers(attrs, NULL, hdrs, &n, &obj, ck)) == 0 &&
        (rc = client_get(r, bucket, &c)) == 0) {
        rc = mapped(c, s3_client_mpu_create(c, key, hdrs, n, upload_id, STORE_UPLOAD_ID_MAX));
        client_put(r, c);
    }
    json_decref(obj);
    return rc;
}

static int op_mpu_part(void *impl, const char *bucket, const char *key, const char *upload_id,
                       unsigned part, int fd, uint64_t size, const uint8_t sha256[32],
                       char etag_out[STORE_ETAG_MAX])
{
    struct s3_remote *r = impl;
    struct s3_client *c;
    struct s3_client_obj o;
    int rc = client_get(r, bucket, &c);
    if (rc < 0)
        return rc;
    rc = mapped(c, s3_client_mpu_part(c, key, upload_id, part, fd, size, sha256, &o));
    if (rc == 0)
        etag_unquote(o.etag, etag_out);
    client_put(r, c);
    return rc == -ERR_NO_SUCH_KEY ? -ERR_NO_SUCH_UPLOAD : rc;
}

static int op_mpu_complete(void *impl, const char *bucket, const char *key, const char *upload_id,
                           const struct store_mpu_part *parts, size_t n,
                           char etag_out[STORE_ETAG_MAX])
{
    struct s3_remote *r = impl;
    struct s3_client *c = NULL;
    struct s3_client_obj o;
    struct s3_client_part *cp = calloc(n, sizeof *cp);
    int rc = cp ? client_get(r, bucket, &c) : -ERR_NOMEM;
    if (rc == 0) {
        for (size_t i = 0; i < n; i++) {
            cp[i].number = parts[i].part;
            snprintf(cp[i].etag, sizeof cp[i].etag, "\"%s\"", parts[i].etag);
        }
        rc = mapped(c, s3_client_mpu_complete(c, key, upload_id, cp, n, &o));
        if (rc == 0)
            etag_unquote(o.etag, etag_out);
        client_put(r, c);
    }
    free(cp);
    return rc == -ERR_NO_SUCH_KEY ? -ERR_NO_SUCH_UPLOAD : rc;
}

struct part_wrap {
    int (*fn)(void *ctx, const struct store_mpu_part *p);
    void *ctx;
    int rc;
};

static int part_visit(void *ctx, const struct s3_client_part *p)
{
    struct part_wrap *w = ctx;
    struct store_mpu_part sp = {.part = p->number, .size = p->size, .mtime_us = p->mtime * 1000000};
    etag_unquote(p->etag, sp.etag);
    int rc = w->fn(w->ctx, &sp);
    if (rc < 0)
        w->rc = rc;
    return rc;
}

static int op_mpu_parts(void *impl, const char *bucket, const char *key, const char *upload_id,
                        unsigned marker, unsigned max,
                        int (*fn)(void *ctx, const struct store_mpu_part *p), void *ctx,
                        bool *truncated)
{
    struct s3_remote *r = impl;
    struct s3_client *c;
    struct part_wrap w = {fn, ctx, 0};
    int rc = client_get(r, bucket, &c);
    if (rc < 0)
        return rc;
    rc = s3_client_mpu_parts(c, key, upload_id, marker, max, part_visit, &w, truncated);
    rc = w.rc < 0 ? w.rc : mapped(c, rc);
    client_put(r, c);
    return rc == -ERR_NO_SUCH_KEY ? -ERR_NO_SUCH_UPLOAD : rc;
}

static void op_free(void *impl)
{
    struct s3_remote *r = impl;
    if (!r)
        return;
    for (unsigned i = 0; i < r->n_idle; i++)
        s3_client_free(r->idle[i]);
    pthread_mutex_destroy(&r->mu);
    free((char *)r->cfg.endpoint);
    free((char *)r->cfg.region);
    free((char *)r->cfg.bucket);
    free((char *)r->cfg.akid);
    if (r->cfg.secret) {
        crypto_wipe((char *)r->cfg.secret, strlen(r->cfg.secret));
        free((char *)r->cfg.secret);
    }
    free(r);
}

const struct store_remote_ops s3_remote_ops = {
    .head = op_head,
    .get = op_get,
    .put = op_put,
    .del = op_del,
    .list = op_list,
    .bucket_create = op_bucket_create,
    .bucket_head = op_bucket_head,
    .bucket_delete = op_bucket_delete,
    .buckets = op_buckets,
    .uploads = op_uploads,
    .abort = op_abort,
    .mpu_create = op_mpu_create,
    .mpu_part = op_mpu_part,
    .mpu_complete = op_mpu_complete,
    .mpu_parts = op_mpu_parts,
    .free = op_free,
};

int s3_remote_new(const struct s3_client_config *cfg, void **out)
{
    struct s3_client *probe = NULL;
    int rc = s3_client_new(cfg, &probe); /* validates the configuration */
    if (rc < 0)
        return rc;
    struct s3_remote *r = calloc(1, sizeof *r);
    if (!r) {
        s3_client_free(probe);
        return -ERR_NOMEM;
    }
    pthread_mutex_init(&r->mu, NULL);
    r->cfg = *cfg;
    r->cfg.endpoint = strdup(cfg->endpoint);
    r->cfg.region = strdup(cfg->region);
    r->cfg.bucket = strdup(cfg->bucket);
    r->cfg.akid = strdup(cfg->akid);
    r->cfg.secret = strdup(cfg->secret);
    r->idle[r->n_idle++] = probe;
    if (!r->cfg.endpoint || !r->cfg.region || !r->cfg.bucket || !r->cfg.akid || !r->cfg.secret) {
        op_free(r);
        return -ERR_NOMEM;
    }
    *out = r;
    return 0;
}
