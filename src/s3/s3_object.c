/* s3_object.c -- object operations: PutObject (the body was streamed into a store
 * put by s3_api.c; here it is verified and committed), GetObject/HeadObject (Range,
 * conditional headers, response-* overrides, the body sent from the blob's fd),
 * DeleteObject and CopyObject. */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "s3/s3_int.h"

static void etag_quoted(const char *etag, char *out, size_t cap)
{
    snprintf(out, cap, "\"%s\"", etag);
}

void s3_op_put_object(struct s3_ctx *c)
{
    char ck[64], *meta = NULL;
    struct store_obj_info info = {0};
    struct str ct, acl;
    int rc = s3_verify_put(c, ck, sizeof ck);
    if (rc == 0 && http_req_header(c->req, "x-amz-acl", &acl) && !str_eq_c(acl, "private"))
        rc = -ERR_NOT_IMPLEMENTED;
    if (rc == 0)
        rc = s3_meta_from_req(c, ck, &meta);
    if (rc == 0) {
        char *ctype = http_req_header(c->req, "content-type", &ct)
                          ? str_dup(ct)
                          : strdup(S3_DEFAULT_CONTENT_TYPE);
        struct store_attrs attrs = {ctype, meta};
        struct store_write_cond cond = {false, NULL};
        char want[STORE_ETAG_MAX + 2] = "";
        struct str inm, im;
        if (http_req_header(c->req, "if-none-match", &inm)) {
            /* S3 takes only "*" here */
            if (str_eq_c(str_trim(inm), "*"))
                cond.if_none_match_any = true;
            else
                rc = -ERR_NOT_IMPLEMENTED;
        }
        if (rc == 0 && http_req_header(c->req, "if-match", &im)) {
            im = str_trim(im);
            if (im.len >= 2 && im.ptr[0] == '"' && im.ptr[im.len - 1] == '"')
                im = str_n(im.ptr + 1, im.len - 2);
            if (str_copy(im, want, sizeof want) < 0)
                rc = -ERR_PRECONDITION; /* longer than any ETag: cannot match */
            cond.if_match = want;
        }
        if (rc == 0)
            rc = store_put_commit_if(c->put, buf_str(&c->bucket), buf_str(&c->key), &attrs, &cond,
                                     &info);
        else
            store_put_abort(c->put);
        c->put = NULL; /* commit frees it whatever the result */
        free(ctype);
    }
    free(meta);
    if (rc < 0) {
        s3_respond_error(c, rc);
        return;
    }
    struct http_resp *r = s3_resp_new(c, http_resp_mem(200, NULL, 0, true));
    if (r) {
        char et[STORE_ETAG_MAX + 2];
        etag_quoted(info.etag, et, sizeof et);
        http_resp_header(r, "ETag", et);
        if (ck[0])
            http_resp_header(r, s3_cksum_header(c->ck_alg), ck);
        http_respond(c->req, r);
    }
    store_obj_info_release(&info);
}

/* response-* query parameters override stored headers (signed requests only). */
static const struct {
    const char *param, *header;
} OVERRIDES[] = {
    {"response-content-type", "Content-Type"},
    {"response-content-disposition", "Content-Disposition"},
    {"response-cache-control", "Cache-Control"},
    {"response-content-encoding", "Content-Encoding"},
    {"response-content-language", "Content-Language"},
    {"response-expires", "Expires"},
};

static void add_stored_headers(struct s3_ctx *c, struct http_resp *r,
                               const struct store_obj_info *info, bool with_checksum)
{
    /* Most objects store no headers: skip the parse on the GET hot path. */
    if (!info->meta_json || strcmp(info->meta_json, "{}") == 0)
        return;
    json_t *obj = json_loads(info->meta_json, 0, NULL);
    const char *name;
    json_t *v;
    json_object_foreach(obj, name, v)
    {
        if (!json_is_string(v))
            continue;
        if (strncmp(name, "x-amz-checksum-", 15) == 0 && !with_checksum)
            continue;
        bool overridden = false;
        for (size_t i = 0; i < sizeof OVERRIDES / sizeof OVERRIDES[0]; i++) {
            struct str q;
            if (strcasecmp(name, OVERRIDES[i].header) == 0 &&
                query_get(c->query, OVERRIDES[i].param, &q))
                overridden = true;
        }
        if (!overridden)
            http_resp_header(r, name, json_string_value(v));
    }
    json_decref(obj);
}

/* A remote object's body (gateway mode), streamed in chunks read with If-Match on the
 * ETag the answer announced: a replacement half way fails the transfer, it never mixes
 * two versions. One chunk of memory per download. */
#define REMOTE_CHUNK (4u << 20)
struct rstream {
    struct store *st;
    char *bucket, *key;
    char etag[STORE_ETAG_MAX];
    uint64_t off, len; /* the range served */
    char *buf;
    uint64_t buf_at; /* range position of buf[0] */
    size_t have;
};

static void rstream_free(void *ctx)
{
    struct rstream *r = ctx;
    free(r->bucket);
    free(r->key);
    free(r->buf);
    free(r);
}

static ssize_t rstream_fill(void *ctx, uint64_t pos, char *out, size_t cap)
{
    struct rstream *r = ctx;
    if (pos >= r->len)
        return -1;
    if (pos < r->buf_at || pos >= r->buf_at + r->have) {
        uint64_t left = r->len - pos;
        size_t n = left < REMOTE_CHUNK ? (size_t)left : REMOTE_CHUNK;
        r->have = 0;
        int rc = store_obj_pread(r->st, str_c(r->bucket), str_c(r->key), r->etag, r->off + pos,
                                 r->buf, n);
        if (rc < 0) {
            tg_log_warn("s3: a remote body stopped after %llu bytes: %s", (unsigned long long)pos,
                        err_message(rc));
            return -1;
        }
        r->buf_at = pos;
        r->have = n;
    }
    size_t in = (size_t)(r->buf_at + r->have - pos);
    size_t k = in < cap ? in : cap;
    memcpy(out, r->buf + (pos - r->buf_at), k);
    return (ssize_t)k;
}

static struct http_resp *remote_body(struct s3_ctx *c, const struct store_obj_info *info,
                                     int status, uint64_t off, uint64_t len)
{
    struct rstream *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->st = c->api->cfg.store;
    r->bucket = str_dup(buf_str(&c->bucket));
    r->key = str_dup(buf_str(&c->key));
    r->buf = len ? malloc(len < REMOTE_CHUNK ? (size_t)len : REMOTE_CHUNK) : malloc(1);
    snprintf(r->etag, sizeof r->etag, "%s", info->etag);
    r->off = off;
    r->len = len;
    if (!r->bucket || !r->key || !r->buf) {
        rstream_free(r);
        return NULL;
    }
    return http_resp_stream(status, len, rstream_fill, r, rstream_free);
}

/* HEAD is answered like GET: the library suppresses the body of a HEAD itself. */
void s3_op_get_object(struct s3_ctx *c, bool head)
{
    struct store_obj_info info = {0};
    struct http_cond cond;
    struct http_range range = {0, 0};
    struct str rh, pn;
    bool ranged = false;
    int fd = -1, rc;
    char et[STORE_ETAG_MAX + 2], lm[TG_TIME_BUF];

    if (query_get(c->query, "partNumber", &pn)) {
        rc = -ERR_NOT_IMPLEMENTED;
        goto out;
    }
    /* HEAD opens the body too: the library then reports its length and sends none.
     * A remote store's body is streamed from it instead (remote_body). */
    bool remote = store_is_remote(c->api->cfg.store);
    if (remote)
        rc = store_obj_head(c->api->cfg.store, buf_str(&c->bucket), buf_str(&c->key), &info);
    else
        rc = store_obj_open(c->api->cfg.store, buf_str(&c->bucket), buf_str(&c->key), &info, &fd);
    if (rc < 0)
        goto out;
    etag_quoted(info.etag, et, sizeof et);
    time_fmt_http(info.mtime_us / 1000000, lm);
    http_cond_from_req(c->req, &cond);
    if ((rc = http_cond_eval(&cond, str_c(et), info.mtime_us / 1000000)) < 0)
        goto out;
    if (http_req_header(c->req, "range", &rh)) {
        rc = http_range_parse(rh, info.size, &range);
        if (rc == 0)
            ranged = true;
        else if (rc == -ERR_RANGE)
            goto out;
        rc = 0; /* malformed or multiple ranges: the whole object, as S3 */
    }
    if (!ranged)
        range = (struct http_range){0, info.size};

    /* A link minted by the gate: its grant, epoch and token must still hold. Checked
     * (and a download charged) only once the answer is known to be the object. */
    struct str tg;
    if (c->api->cfg.redeem && query_get(c->query, "x-tollgate-grant", &tg)) {
        struct str ua = STR_NULL, r0;
        http_req_header(c->req, "user-agent", &ua);
        bool from_start = !http_req_header(c->req, "range", &r0) || str_starts(r0, "bytes=0-");
        bool count = !head && from_start && !ua_is_link_preview(ua);
        if ((rc = c->api->cfg.redeem(c->api->cfg.redeem_ctx, c->query, count, tg_now())) < 0)
            goto out;
    }
    struct http_resp *r = remote ? remote_body(c, &info, ranged ? 206 : 200, range.off, range.len)
                                 : http_resp_fd(ranged ? 206 : 200, fd, range.off, range.len);
    fd = -1; /* owned by the response now */
    if (!s3_resp_new(c, r)) {
        rc = -ERR_NOMEM;
        goto out;
    }
    struct str mode;
    bool ck = !ranged && http_req_header(c->req, "x-amz-checksum-mode", &mode) &&
              str_case_eq_c(mode, "ENABLED");
    http_resp_header(r, "ETag", et);
    http_resp_header(r, "Last-Modified", lm);
    http_resp_header(r, "Accept-Ranges", "bytes");
    if (ranged) {
        char cr[80];
        snprintf(cr, sizeof cr, "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, range.off,
                 range.off + range.len - 1, info.size);
        http_resp_header(r, "Content-Range", cr);
    }
    struct str q;
    if (!query_get(c->query, "response-content-type", &q))
        http_resp_header(r, "Content-Type",
                         info.content_type && info.content_type[0] ? info.content_type
                                                                   : "binary/octet-stream");
    add_stored_headers(c, r, &info, ck);
    for (size_t i = 0; i < sizeof OVERRIDES / sizeof OVERRIDES[0]; i++) {
        struct buf v = BUF_INIT;
        if (query_get_decoded(c->query, OVERRIDES[i].param, &v) == 0)
            http_resp_header(r, OVERRIDES[i].header, buf_cstr(&v));
        buf_release(&v);
    }
    rc = 0;
    http_respond(c->req, r);
out:
    if (rc < 0) {
        if (rc == -ERR_NOT_MODIFIED) {
            /* 304 keeps the validators. */
            struct http_resp *r304 = s3_resp_new(c, http_resp_mem(304, NULL, 0, true));
            if (r304) {
                http_resp_header(r304, "ETag", et);
                http_resp_header(r304, "Last-Modified", lm);
                http_respond(c->req, r304);
            }
        } else {
            s3_respond_error(c, rc);
        }
    }
    if (fd >= 0)
        close(fd);
    store_obj_info_release(&info);
}

void s3_op_delete_object(struct s3_ctx *c)
{
    int rc = store_bucket_exists(c->api->cfg.store, buf_str(&c->bucket));
    if (rc == 0)
        rc = store_obj_delete(c->api->cfg.store, buf_str(&c->bucket), buf_str(&c->key));
    if (rc < 0) {
        s3_respond_error(c, rc);
        return;
    }
    struct http_resp *r = s3_resp_new(c, http_resp_mem(204, NULL, 0, true));
    if (r)
        http_respond(c->req, r);
}

/* x-amz-copy-source: "/bucket/key" or "bucket/key", URL-encoded, maybe "?versionId=". */
static int parse_copy_source(struct str v, struct buf *bucket, struct buf *key)
{
    struct str path, ver, b, k;
    str_split(v, '?', &path, &ver);
    if (ver.len && !str_eq_c(ver, "versionId=null"))
        return -ERR_NOT_IMPLEMENTED;
    if (path.len && path.ptr[0] == '/') {
        path.ptr++;
        path.len--;
    }
    if (!str_split(path, '/', &b, &k) || b.len == 0 || k.len == 0)
        return -ERR_COPY_SOURCE;
    if (uri_decode(bucket, b, false) < 0 || uri_decode(key, k, false) < 0)
        return -ERR_COPY_SOURCE;
    int rc = store_bucket_name_check(buf_str(bucket));
    return rc < 0 ? rc : store_key_check(buf_str(key));
}

void s3_op_copy_object(struct s3_ctx *c)
{
    struct buf sb = BUF_INIT, sk = BUF_INIT;
    struct store_obj_info src = {0}, info = {0};
    struct str v, directive = STR_LIT("COPY");
    char *meta = NULL, *ctype = NULL;
    int rc = 0;

    http_req_header(c->req, "x-amz-copy-source", &v);
    if ((rc = parse_copy_source(v, &sb, &sk)) < 0)
        goto out;
    if (http_req_header(c->req, "x-amz-metadata-directive", &directive) &&
        !str_eq_c(directive, "COPY") && !str_eq_c(directive, "REPLACE")) {
        rc = -ERR_INVALID;
        goto out;
    }
    bool replace = str_eq_c(directive, "REPLACE");
    if ((rc = store_obj_head(c->api->cfg.store, buf_str(&sb), buf_str(&sk), &src)) < 0)
        goto out;
    /* Conditions on the source. */
    struct http_cond cond = {STR_NULL, STR_NULL, STR_NULL, STR_NULL};
    http_req_header(c->req, "x-amz-copy-source-if-match", &cond.if_match);
    http_req_header(c->req, "x-amz-copy-source-if-none-match", &cond.if_none_match);
    http_req_header(c->req, "x-amz-copy-source-if-modified-since", &cond.if_modified_since);
    http_req_header(c->req, "x-amz-copy-source-if-unmodified-since", &cond.if_unmodified_since);
    char et[STORE_ETAG_MAX + 2];
    etag_quoted(src.etag, et, sizeof et);
    if ((rc = http_cond_eval(&cond, str_c(et), src.mtime_us / 1000000)) < 0) {
        rc = -ERR_PRECONDITION; /* a copy answers 412 for every failed condition */
        goto out;
    }
    if (!replace && str_eq(buf_str(&sb), buf_str(&c->bucket)) &&
        str_eq(buf_str(&sk), buf_str(&c->key))) {
        rc = -ERR_COPY_TO_ITSELF;
        goto out;
    }
    struct store_attrs attrs;
    if (replace) {
        struct str ct;
        if ((rc = s3_meta_from_req(c, NULL, &meta)) < 0)
            goto out;
        ctype = http_req_header(c->req, "content-type", &ct) ? str_dup(ct)
                                                             : strdup(S3_DEFAULT_CONTENT_TYPE);
        attrs = (struct store_attrs){ctype, meta};
    }
    rc = store_obj_copy(c->api->cfg.store, buf_str(&sb), buf_str(&sk), buf_str(&c->bucket),
                        buf_str(&c->key), replace ? &attrs : NULL, &info);
    if (rc < 0)
        goto out;
    struct buf x = BUF_INIT;
    char t[TG_TIME_BUF];
    time_fmt_iso8601_ms(info.mtime_us, t);
    s3_xml_begin(&x, "CopyObjectResult");
    s3_xml_elem_c(&x, "LastModified", t);
    buf_printf(&x, "<ETag>&quot;%s&quot;</ETag></CopyObjectResult>", info.etag);
    s3_respond_xml(c, 200, &x);
out:
    if (rc < 0)
        s3_respond_error(c, rc);
    free(meta);
    free(ctype);
    buf_release(&sb);
    buf_release(&sk);
    store_obj_info_release(&src);
    store_obj_info_release(&info);
}
