/* s3_api.c -- the S3 API over http: parses the path-style request, verifies its
 * signature, classifies the operation, prepares and receives the body (plain or
 * aws-chunked, hashed on the way into the store), and answers in on_done.
 *
 * Invariants: an operation's answer is queued in on_done (so keep-alive survives),
 * except an early refusal of a request whose client waits for it (Expect:
 * 100-continue) or whose body is large or of unknown length (the connection then
 * closes without the body being read: what a client sending 5 GiB wants to hear
 * before it sends); a small body is read and dropped before the refusal. Nothing is committed
 * before every check of the body passed. No signature, secret or query string is ever logged. */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "crypto/crypto.h"
#include "s3/s3_int.h"
#include "stats/stats.h"

static const char XML_DECL[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
#define S3_NS "http://s3.amazonaws.com/doc/2006-03-01/"

int s3_api_new(const struct s3_api_config *cfg, struct s3_api **out)
{
    struct s3_api *api = calloc(1, sizeof *api);
    size_t n = 0;
    if (!api)
        return -ERR_NOMEM;
    api->cfg = *cfg;
    api->region = strdup(cfg->region ? cfg->region : "us-east-1");
    while (cfg->reserved && cfg->reserved[n])
        n++;
    api->reserved = calloc(n + 1, sizeof *api->reserved);
    if (!api->region || !api->reserved) {
        s3_api_free(api);
        return -ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++)
        api->reserved[i] = cfg->reserved[i];
    api->cfg.region = api->region;
    api->cfg.reserved = api->reserved;
    if (!api->cfg.max_put_size)
        api->cfg.max_put_size = (uint64_t)5 << 30;
    crypto_random(&api->reqid_base, sizeof api->reqid_base);
    *out = api;
    return 0;
}

void s3_api_free(struct s3_api *api)
{
    if (!api)
        return;
    free(api->region);
    free(api->reserved);
    free(api);
}

/* ---- XML and error responses ---------------------------------------------------- */

int s3_xml_begin(struct buf *b, const char *root)
{
    return buf_printf(b, "%s<%s xmlns=\"" S3_NS "\">", XML_DECL, root);
}

int s3_xml_elem(struct buf *b, const char *name, struct str text)
{
    int rc = buf_printf(b, "<%s>", name);
    if (rc == 0)
        rc = s3_xml_escape(b, text);
    if (rc == 0)
        rc = buf_printf(b, "</%s>", name);
    return rc;
}

int s3_xml_elem_c(struct buf *b, const char *name, const char *text)
{
    return s3_xml_elem(b, name, str_c(text));
}

int s3_xml_elem_u64(struct buf *b, const char *name, uint64_t v)
{
    return buf_printf(b, "<%s>%" PRIu64 "</%s>", name, v, name);
}

int s3_xml_owner(struct buf *b, const char *elem)
{
    return buf_printf(b, "<%s><ID>tollgate</ID><DisplayName>tollgate</DisplayName></%s>", elem,
                      elem);
}

struct http_resp *s3_resp_new(struct s3_ctx *c, struct http_resp *resp)
{
    if (resp)
        http_resp_header(resp, "x-amz-request-id", c->reqid);
    return resp;
}

int s3_respond_xml(struct s3_ctx *c, int status, struct buf *xml)
{
    size_t len = xml->len;
    char *body = buf_take(xml);
    if (!body)
        return http_respond_text(c->req, 500, "text/plain", "out of memory\n");
    struct http_resp *r = s3_resp_new(c, http_resp_mem(status, body, len, false));
    if (!r)
        return -ERR_NOMEM;
    http_resp_header(r, "Content-Type", "application/xml");
    return http_respond(c->req, r);
}

int s3_respond_error(struct s3_ctx *c, int rc)
{
    struct buf b = BUF_INIT;
    int status = err_http_status(rc);
    if (status == 304) {
        /* 304 carries no body. */
        struct http_resp *r = s3_resp_new(c, http_resp_mem(304, NULL, 0, true));
        return r ? http_respond(c->req, r) : -ERR_NOMEM;
    }
    if (status >= 500)
        tg_log_error("s3 %s: %s (%s)", c->op_name ? c->op_name : "request", err_message(rc),
                     err_name(rc));
    buf_printf(&b, "%s<Error><Code>%s</Code>", XML_DECL, err_s3_code(rc));
    s3_xml_elem_c(&b, "Message", err_message(rc));
    if (c->bucket.len)
        s3_xml_elem(&b, "BucketName", buf_str(&c->bucket));
    if (c->key.len)
        s3_xml_elem(&b, "Key", buf_str(&c->key));
    struct buf res = BUF_INIT;
    buf_addc(&res, '/');
    buf_addstr(&res, buf_str(&c->bucket));
    if (c->key.len) {
        buf_addc(&res, '/');
        buf_addstr(&res, buf_str(&c->key));
    }
    s3_xml_elem(&b, "Resource", buf_str(&res));
    buf_release(&res);
    s3_xml_elem_c(&b, "RequestId", c->reqid);
    buf_adds(&b, "</Error>");
    char note[96];
    snprintf(note, sizeof note, "op=%s err=%s", c->op_name ? c->op_name : "-", err_s3_code(rc));
    http_req_log_note(c->req, note);
    return s3_respond_xml(c, status, &b);
}

/* ---- request parsing ------------------------------------------------------------ */

static bool hdr(void *ctx, const char *lname, struct str *v)
{
    return http_req_header(ctx, lname, v);
}

struct each_adapter {
    void (*fn)(void *arg, struct str name, struct str value);
    void *arg;
};

static int each_visit(void *ctx, struct str name, struct str value)
{
    struct each_adapter *a = ctx;
    a->fn(a->arg, name, value);
    return 0;
}

static void each_header(void *ctx, void (*fn)(void *arg, struct str name, struct str value),
                        void *arg)
{
    struct each_adapter a = {fn, arg};
    http_req_headers_each(ctx, each_visit, &a);
}

static bool has_sub(const struct s3_ctx *c, const char *name)
{
    struct str v;
    return query_get(c->query, name, &v);
}

struct op_name {
    enum s3_op op;
    const char *name;
};
static const struct op_name OP_NAMES[] = {
    {OP_LIST_BUCKETS, "ListBuckets"},
    {OP_CREATE_BUCKET, "CreateBucket"},
    {OP_HEAD_BUCKET, "HeadBucket"},
    {OP_DELETE_BUCKET, "DeleteBucket"},
    {OP_GET_BUCKET_LOCATION, "GetBucketLocation"},
    {OP_GET_BUCKET_VERSIONING, "GetBucketVersioning"},
    {OP_GET_BUCKET_ACL, "GetBucketAcl"},
    {OP_LIST_OBJECTS, "ListObjects"},
    {OP_LIST_OBJECTS_V2, "ListObjectsV2"},
    {OP_LIST_OBJECT_VERSIONS, "ListObjectVersions"},
    {OP_LIST_UPLOADS, "ListMultipartUploads"},
    {OP_DELETE_OBJECTS, "DeleteObjects"},
    {OP_PUT_LIFECYCLE, "PutBucketLifecycleConfiguration"},
    {OP_GET_LIFECYCLE, "GetBucketLifecycleConfiguration"},
    {OP_DELETE_LIFECYCLE, "DeleteBucketLifecycle"},
    {OP_PUT_OBJECT, "PutObject"},
    {OP_COPY_OBJECT, "CopyObject"},
    {OP_GET_OBJECT, "GetObject"},
    {OP_HEAD_OBJECT, "HeadObject"},
    {OP_DELETE_OBJECT, "DeleteObject"},
    {OP_GET_OBJECT_ACL, "GetObjectAcl"},
    {OP_CREATE_UPLOAD, "CreateMultipartUpload"},
    {OP_UPLOAD_PART, "UploadPart"},
    {OP_COMPLETE_UPLOAD, "CompleteMultipartUpload"},
    {OP_ABORT_UPLOAD, "AbortMultipartUpload"},
    {OP_LIST_PARTS, "ListParts"},
};

/* Sub-resources we do not implement: answered NotImplemented at once. */
static const char *const UNSUPPORTED[] = {
    "accelerate",  "analytics",         "cors",    "encryption",   "intelligent-tiering",
    "inventory",   "legal-hold",        "logging", "metrics",      "notification",
    "object-lock", "ownershipControls", "policy",  "policyStatus", "publicAccessBlock",
    "replication", "requestPayment",    "restore", "retention",    "select",
    "tagging",     "torrent",           "website", "attributes",   NULL,
};

static int classify(struct s3_ctx *c)
{
    struct str m = http_req_method(c->req);
    bool get = str_eq_c(m, "GET"), head = str_eq_c(m, "HEAD"), put = str_eq_c(m, "PUT"),
         post = str_eq_c(m, "POST"), del = str_eq_c(m, "DELETE");
    struct str v;
    /* One pass over the query's names (a presigned URL has ~8, ~400 bytes), not one scan
     * of the whole query per unsupported name: this runs on every request. */
    struct str rest = c->query, item, name, val;
    while (rest.len) {
        str_split(rest, '&', &item, &rest);
        str_split(item, '=', &name, &val);
        if (name.len == 0 || name.ptr[0] == 'X' || name.ptr[0] == 'x')
            continue; /* X-Amz-*, x-id, x-tollgate-*: never a sub-resource here */
        for (const char *const *u = UNSUPPORTED; *u; u++)
            if (str_eq_c(name, *u))
                return -ERR_NOT_IMPLEMENTED;
    }
    if (c->bucket.len == 0) {
        if (get)
            c->op = OP_LIST_BUCKETS;
        else
            return -ERR_METHOD_NOT_ALLOWED;
    } else if (c->key.len == 0 && has_sub(c, "lifecycle")) {
        if (!c->api->cfg.meta)
            return -ERR_NOT_IMPLEMENTED;
        c->op = put   ? OP_PUT_LIFECYCLE
                : get ? OP_GET_LIFECYCLE
                : del ? OP_DELETE_LIFECYCLE
                      : OP_NONE;
        if (c->op == OP_NONE)
            return -ERR_METHOD_NOT_ALLOWED;
    } else if (c->key.len == 0) {
        if (put)
            c->op = has_sub(c, "acl")          ? OP_NONE
                    : has_sub(c, "versioning") ? OP_NONE
                                               : OP_CREATE_BUCKET;
        else if (head)
            c->op = OP_HEAD_BUCKET;
        else if (del)
            c->op = OP_DELETE_BUCKET;
        else if (post && has_sub(c, "delete"))
            c->op = OP_DELETE_OBJECTS;
        else if (get && has_sub(c, "location"))
            c->op = OP_GET_BUCKET_LOCATION;
        else if (get && has_sub(c, "versioning"))
            c->op = OP_GET_BUCKET_VERSIONING;
        else if (get && has_sub(c, "acl"))
            c->op = OP_GET_BUCKET_ACL;
        else if (get && has_sub(c, "versions"))
            c->op = OP_LIST_OBJECT_VERSIONS;
        else if (get && has_sub(c, "uploads"))
            c->op = OP_LIST_UPLOADS;
        else if (get && query_get(c->query, "list-type", &v))
            c->op = str_eq_c(v, "2") ? OP_LIST_OBJECTS_V2 : OP_NONE;
        else if (get)
            c->op = OP_LIST_OBJECTS;
        else
            return -ERR_METHOD_NOT_ALLOWED;
    } else {
        bool upload = has_sub(c, "uploadId");
        if (put && upload && (http_req_header(c->req, "x-amz-copy-source", &v)))
            c->op = OP_NONE; /* UploadPartCopy */
        else if (put && upload)
            c->op = OP_UPLOAD_PART;
        else if (put && has_sub(c, "acl"))
            c->op = OP_NONE;
        else if (put && http_req_header(c->req, "x-amz-copy-source", &v))
            c->op = OP_COPY_OBJECT;
        else if (put)
            c->op = OP_PUT_OBJECT;
        else if (get && upload)
            c->op = OP_LIST_PARTS;
        else if (get && has_sub(c, "acl"))
            c->op = OP_GET_OBJECT_ACL;
        else if (get)
            c->op = OP_GET_OBJECT;
        else if (head)
            c->op = OP_HEAD_OBJECT;
        else if (del && upload)
            c->op = OP_ABORT_UPLOAD;
        else if (del)
            c->op = OP_DELETE_OBJECT;
        else if (post && has_sub(c, "uploads"))
            c->op = OP_CREATE_UPLOAD;
        else if (post && upload)
            c->op = OP_COMPLETE_UPLOAD;
        else
            return -ERR_METHOD_NOT_ALLOWED;
    }
    if (c->op == OP_NONE)
        return -ERR_NOT_IMPLEMENTED;
    /* Conditional writes (If-None-Match: * to create only, If-Match to replace only a
     * known version) are checked atomically for PutObject (s3_object.c); for copies and
     * multipart completion they are refused, not ignored: a client relying on one (a lock
     * file) must never be told it won when the condition was not checked. */
    if ((c->op == OP_COPY_OBJECT || c->op == OP_COMPLETE_UPLOAD) &&
        (http_req_header(c->req, "if-none-match", &v) || http_req_header(c->req, "if-match", &v)))
        return -ERR_NOT_IMPLEMENTED;
    for (size_t i = 0; i < sizeof OP_NAMES / sizeof OP_NAMES[0]; i++)
        if (OP_NAMES[i].op == c->op)
            c->op_name = OP_NAMES[i].name;
    return 0;
}

static int parse_path(struct s3_ctx *c)
{
    struct str path = http_req_path(c->req), b, k;
    int rc;
    if (path.len == 0 || path.ptr[0] != '/')
        return -ERR_INVALID_REQUEST;
    path.ptr++;
    path.len--;
    bool has_key = str_split(path, '/', &b, &k);
    if ((rc = uri_decode(&c->bucket, b, false)) < 0)
        return -ERR_INVALID_REQUEST;
    if (has_key && (rc = uri_decode(&c->key, k, false)) < 0)
        return -ERR_INVALID_REQUEST;
    if (c->bucket.len) {
        if ((rc = store_bucket_name_check(buf_str(&c->bucket))) < 0)
            return rc;
        for (const char **r = c->api->reserved; *r; r++)
            if (str_eq_c(buf_str(&c->bucket), *r))
                return -ERR_INVALID_BUCKET_NAME;
    }
    if (has_key && k.len) {
        /* Length is checked on the decoded key, as S3 does. */
        if ((rc = store_key_check(buf_str(&c->key))) < 0)
            return rc;
    }
    return 0;
}

/* ---- body ---------------------------------------------------------------------- */

static int sink(void *ctx, const uint8_t *p, size_t n)
{
    struct s3_ctx *c = ctx;
    if (c->decoded + n > c->body_max)
        return c->body == BODY_XML ? -ERR_MALFORMED_XML : -ERR_ENTITY_TOO_LARGE;
    c->decoded += n;
    if (c->ck_alg != S3_CKSUM_NONE && c->ck_alg != S3_CKSUM_SHA256 && !c->ck_by_decoder)
        s3_cksum_update(&c->ck, p, n);
    if (c->body == BODY_PUT)
        return store_put_write(c->put, p, n);
    if (c->body == BODY_XML)
        return buf_add(&c->xml, p, n);
    return 0;
}

static bool header_has_token(struct http_req *r, const char *name, const char *token)
{
    struct str v, item, rest;
    if (!http_req_header(r, name, &v))
        return false;
    rest = v;
    while (rest.len) {
        str_split(rest, ',', &item, &rest);
        if (str_case_eq_c(str_trim(item), token))
            return true;
    }
    return false;
}

static int prepare_body(struct s3_ctx *c)
{
    struct str v;
    int rc;
    int64_t clen = http_req_content_length(c->req);
    bool chunked = c->auth.payload == S3_PAYLOAD_STREAMING ||
                   c->auth.payload == S3_PAYLOAD_STREAMING_TRAILER ||
                   c->auth.payload == S3_PAYLOAD_UNSIGNED_TRAILER ||
                   header_has_token(c->req, "content-encoding", "aws-chunked");
    c->decoded_expect = -1;
    if (http_req_header(c->req, "x-amz-decoded-content-length", &v)) {
        uint64_t d;
        if (str_to_u64(v, &d) < 0)
            return -ERR_INVALID_REQUEST;
        c->decoded_expect = (int64_t)d;
    } else if (!chunked) {
        c->decoded_expect = clen;
    }

    switch (c->op) {
    case OP_PUT_OBJECT:
    case OP_UPLOAD_PART:
        c->body = BODY_PUT;
        c->body_max = c->api->cfg.max_put_size;
        if (c->op == OP_UPLOAD_PART && c->body_max > ((uint64_t)5 << 30))
            c->body_max = (uint64_t)5 << 30;
        if (clen < 0 && !chunked && !http_req_header(c->req, "transfer-encoding", &v))
            return -ERR_MISSING_LENGTH;
        break;
    case OP_CREATE_BUCKET:
    case OP_DELETE_OBJECTS:
    case OP_COMPLETE_UPLOAD:
    case OP_PUT_LIFECYCLE:
        c->body = BODY_XML;
        c->body_max = S3_XML_BODY_MAX;
        buf_init(&c->xml, S3_XML_BODY_MAX + 1);
        break;
    default:
        c->body = BODY_DISCARD;
        c->body_max = UINT64_MAX;
        break;
    }
    if (c->decoded_expect >= 0 && (uint64_t)c->decoded_expect > c->body_max)
        return c->body == BODY_XML ? -ERR_MALFORMED_XML : -ERR_ENTITY_TOO_LARGE;

    if (http_req_header(c->req, "content-md5", &v)) {
        if (b64_decode(str_trim(v), c->md5, sizeof c->md5) != 16)
            return -ERR_INVALID_DIGEST;
        c->has_md5 = true;
    }
    /* A checksum in a header, or announced for the trailer. */
    static const char *const ALGS[] = {"x-amz-checksum-crc32", "x-amz-checksum-crc32c",
                                       "x-amz-checksum-sha1", "x-amz-checksum-sha256", NULL};
    for (const char *const *a = ALGS; *a; a++) {
        if (http_req_header(c->req, *a, &v)) {
            c->ck_alg = s3_cksum_alg_parse(str_c(*a));
            if ((rc = str_copy(str_trim(v), c->ck_expect, sizeof c->ck_expect)) < 0)
                return -ERR_INVALID_DIGEST;
            break;
        }
    }
    if (c->ck_alg == S3_CKSUM_NONE && http_req_header(c->req, "x-amz-trailer", &v)) {
        c->ck_alg = s3_cksum_alg_parse(str_trim(v));
        if (c->ck_alg == S3_CKSUM_NONE)
            return -ERR_INVALID_REQUEST;
        c->ck_trailer = true;
        if (!chunked)
            return -ERR_INVALID_REQUEST;
    }
    /* An announced trailer checksum is computed and compared by the aws-chunked
     * decoder (s3_chunked_finish): computing it here too would hash every byte twice. */
    c->ck_by_decoder = c->ck_trailer && c->auth.trailer == c->ck_alg;
    if (c->ck_alg != S3_CKSUM_NONE && c->ck_alg != S3_CKSUM_SHA256 && !c->ck_by_decoder &&
        (rc = s3_cksum_init(&c->ck, c->ck_alg)) < 0)
        return rc;

    if (chunked && (rc = s3_chunked_new(&c->auth, &c->chunked)) < 0)
        return rc;
    if (c->body == BODY_PUT && (rc = store_put_begin(c->api->cfg.store, &c->put)) < 0)
        return rc;
    return 0;
}

int s3_verify_put(struct s3_ctx *c, char *ck_out, size_t cap)
{
    uint8_t sha[32], md5[16];
    int rc;
    if (c->body == BODY_PUT) {
        if ((rc = store_put_digest(c->put, sha, md5)) < 0)
            return rc;
    } else {
        crypto_sha256(c->xml.ptr ? c->xml.ptr : "", c->xml.len, sha);
        crypto_md5(c->xml.ptr ? c->xml.ptr : "", c->xml.len, md5);
    }
    if (c->decoded_expect >= 0 && c->decoded != (uint64_t)c->decoded_expect)
        return -ERR_INCOMPLETE_BODY;
    if (c->auth.payload == S3_PAYLOAD_SHA256 && !crypto_ct_eq(sha, c->auth.payload_sha256, 32))
        return -ERR_CONTENT_SHA256_MISMATCH;
    if (c->has_md5 && !crypto_ct_eq(md5, c->md5, 16))
        return -ERR_BAD_DIGEST;
    if (ck_out && cap)
        ck_out[0] = '\0';
    if (c->ck_alg != S3_CKSUM_NONE) {
        char got[64];
        struct str want = str_c(c->ck_expect);
        if (c->ck_trailer && !s3_chunked_trailer(c->chunked, s3_cksum_header(c->ck_alg), &want))
            return -ERR_BAD_DIGEST;
        if (c->ck_by_decoder) {
            /* s3_chunked_finish already compared it with the decoded bytes */
            if (str_copy(str_trim(want), got, sizeof got) < 0)
                return -ERR_BAD_DIGEST;
        } else if (c->ck_alg == S3_CKSUM_SHA256) {
            b64_encode(sha, 32, got);
        } else if ((rc = s3_cksum_final(&c->ck, got, sizeof got)) < 0) {
            return rc;
        }
        if (!str_eq_c(str_trim(want), got))
            return -ERR_BAD_DIGEST;
        if (ck_out && strlen(got) < cap)
            memcpy(ck_out, got, strlen(got) + 1);
    }
    return 0;
}

/* Stored response headers: x-amz-meta-* and the standard ones S3 keeps. */
static const char *const KEPT[] = {"cache-control", "content-disposition", "content-language",
                                   "expires", NULL};

struct meta_ctx {
    json_t *obj;
    size_t user_bytes;
    int rc;
};

static int meta_visit(void *ctx, struct str name, struct str value)
{
    struct meta_ctx *m = ctx;
    if (name.len > 11 && str_case_eq_c((struct str){name.ptr, 11}, "x-amz-meta-")) {
        char lname[256];
        if (name.len >= sizeof lname) {
            m->rc = -ERR_METADATA_TOO_LARGE;
            return 1;
        }
        for (size_t i = 0; i < name.len; i++)
            lname[i] =
                (char)(name.ptr[i] >= 'A' && name.ptr[i] <= 'Z' ? name.ptr[i] + 32 : name.ptr[i]);
        lname[name.len] = '\0';
        m->user_bytes += name.len - 11 + value.len;
        if (m->user_bytes > S3_USER_META_MAX) {
            m->rc = -ERR_METADATA_TOO_LARGE;
            return 1;
        }
        json_object_set_new(m->obj, lname, json_stringn(value.ptr, value.len));
    }
    return 0;
}

int s3_meta_from_req(struct s3_ctx *c, const char *ck_b64, char **json_out)
{
    struct meta_ctx m = {json_object(), 0, 0};
    struct str v;
    if (!m.obj)
        return -ERR_NOMEM;
    http_req_headers_each(c->req, meta_visit, &m);
    if (m.rc < 0) {
        json_decref(m.obj);
        return m.rc;
    }
    for (const char *const *k = KEPT; *k; k++)
        if (http_req_header(c->req, *k, &v))
            json_object_set_new(m.obj, *k, json_stringn(v.ptr, v.len));
    if (http_req_header(c->req, "content-encoding", &v)) {
        /* Drop the transfer coding aws-chunked; keep what the object really is. */
        struct buf enc = BUF_INIT;
        struct str item, rest = v;
        while (rest.len) {
            str_split(rest, ',', &item, &rest);
            item = str_trim(item);
            if (item.len == 0 || str_case_eq_c(item, "aws-chunked"))
                continue;
            if (enc.len)
                buf_addc(&enc, ',');
            buf_addstr(&enc, item);
        }
        if (enc.len)
            json_object_set_new(m.obj, "content-encoding", json_string(buf_cstr(&enc)));
        buf_release(&enc);
    }
    if (ck_b64 && ck_b64[0])
        json_object_set_new(m.obj, s3_cksum_header(c->ck_alg), json_string(ck_b64));
    char *s = json_dumps(m.obj, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(m.obj);
    if (!s)
        return -ERR_NOMEM;
    *json_out = s;
    return 0;
}

/* ---- handler ------------------------------------------------------------------- */

static int secret_fn(void *ctx, struct str akid, char *secret, size_t cap)
{
    struct s3_api *api = ctx;
    return api->cfg.secret(api->cfg.secret_ctx, akid, secret, cap);
}

static int no_part(void *ctx, const struct store_mpu_part *p)
{
    return 0;
}

static bool request_has_body(struct http_req *r)
{
    int64_t cl = http_req_content_length(r);
    struct str v;
    return cl > 0 || (cl < 0 && http_req_header(r, "transfer-encoding", &v));
}

/* Refusing before the body closes the connection with the body unread. A client that
 * sent Expect: 100-continue waits for exactly that answer; one that did not is already
 * writing the body and may get EPIPE/ECONNRESET instead of the error (the JS SDK sends
 * no Expect under 2 MiB; browsers and fetch() never do). So a body of known length up
 * to S3_DISCARD_MAX is read and dropped, and the error answered after it, keep-alive. */
static bool refuse_before_body(struct http_req *r)
{
    int64_t cl = http_req_content_length(r);
    struct str v;
    if (http_req_header(r, "expect", &v) && str_case_eq_c(str_trim(v), "100-continue"))
        return true;
    return cl < 0 || cl > S3_DISCARD_MAX;
}

static int on_headers(struct http_req *req, void *app)
{
    struct s3_api *api = app;
    struct s3_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return http_respond_text(req, 503, "text/plain", "out of memory\n");
    c->api = api;
    c->req = req;
    buf_init(&c->bucket, 256);
    buf_init(&c->key, 4 * STORE_KEY_MAX);
    buf_init(&c->upload_id, STORE_UPLOAD_ID_MAX);
    snprintf(c->reqid, sizeof c->reqid, "%016" PRIX64,
             api->reqid_base ^ atomic_fetch_add(&api->reqid_next, 1));
    http_req_set_data(req, c);
    c->query = http_req_query(req);

    int rc = parse_path(c);
    if (rc == 0)
        rc = classify(c);
    if (rc == 0) {
        struct s3_sig_req sr = {http_req_method(req), http_req_path(req), c->query, hdr, req,
                                each_header};
        rc = s3_auth_verify(&sr, tg_now(), api->region, secret_fn, api, &c->auth);
        if (rc == 0 && c->auth.kind == S3_AUTH_ANON)
            rc = -ERR_ANONYMOUS;
    }
    if (rc == 0 && (c->op == OP_PUT_OBJECT || c->op == OP_UPLOAD_PART ||
                    c->op == OP_CREATE_UPLOAD || c->op == OP_COPY_OBJECT))
        rc = store_bucket_exists(api->cfg.store, buf_str(&c->bucket));
    if (rc == 0 && c->op == OP_UPLOAD_PART) {
        struct str pn, uid;
        uint64_t part = 0;
        if (!query_get(c->query, "partNumber", &pn) || str_to_u64(pn, &part) < 0 ||
            part < STORE_PART_MIN || part > STORE_PART_MAX)
            rc = -ERR_INVALID_PART_NUMBER;
        else if (!query_get(c->query, "uploadId", &uid) || uri_decode(&c->upload_id, uid, true) < 0)
            rc = -ERR_NO_SUCH_UPLOAD;
        c->part = (unsigned)part;
        bool more;
        /* An unknown upload is refused before its body is sent (max = 0: existence). */
        if (rc == 0)
            rc = store_mpu_list_parts(api->cfg.store, buf_str(&c->bucket), buf_str(&c->key),
                                      buf_str(&c->upload_id), 0, 0, no_part, NULL, &more);
    }
    if (rc == 0)
        rc = prepare_body(c);
    if (rc < 0) {
        c->err = rc;
        if (request_has_body(req) && refuse_before_body(req))
            return s3_respond_error(c, rc); /* before the client sends the body */
    }
    return 0;
}

static int on_body(struct http_req *req, void *app, const uint8_t *p, size_t n)
{
    struct s3_ctx *c = http_req_data(req);
    int rc;
    if (!c || c->err)
        return 0; /* discard what follows an error; answered in on_done */
    if (c->chunked)
        rc = s3_chunked_feed(c->chunked, p, n, sink, c);
    else
        rc = sink(c, p, n);
    if (rc < 0)
        c->err = rc;
    return 0;
}

static void run_op(struct s3_ctx *c)
{
    switch (c->op) {
    case OP_LIST_BUCKETS:
        s3_op_list_buckets(c);
        break;
    case OP_CREATE_BUCKET:
        s3_op_create_bucket(c);
        break;
    case OP_HEAD_BUCKET:
        s3_op_head_bucket(c);
        break;
    case OP_DELETE_BUCKET:
        s3_op_delete_bucket(c);
        break;
    case OP_GET_BUCKET_LOCATION:
        s3_op_bucket_location(c);
        break;
    case OP_GET_BUCKET_VERSIONING:
        s3_op_bucket_versioning(c);
        break;
    case OP_GET_BUCKET_ACL:
    case OP_GET_OBJECT_ACL:
        s3_op_acl(c);
        break;
    case OP_LIST_OBJECTS:
        s3_op_list_objects(c, 1);
        break;
    case OP_LIST_OBJECTS_V2:
        s3_op_list_objects(c, 2);
        break;
    case OP_LIST_OBJECT_VERSIONS:
        s3_op_list_objects(c, 0);
        break;
    case OP_LIST_UPLOADS:
        s3_op_list_uploads(c);
        break;
    case OP_DELETE_OBJECTS:
        s3_op_delete_objects(c);
        break;
    case OP_PUT_LIFECYCLE:
        s3_op_put_lifecycle(c);
        break;
    case OP_GET_LIFECYCLE:
        s3_op_get_lifecycle(c);
        break;
    case OP_DELETE_LIFECYCLE:
        s3_op_delete_lifecycle(c);
        break;
    case OP_PUT_OBJECT:
        s3_op_put_object(c);
        break;
    case OP_COPY_OBJECT:
        s3_op_copy_object(c);
        break;
    case OP_GET_OBJECT:
        s3_op_get_object(c, false);
        break;
    case OP_HEAD_OBJECT:
        s3_op_get_object(c, true);
        break;
    case OP_DELETE_OBJECT:
        s3_op_delete_object(c);
        break;
    case OP_CREATE_UPLOAD:
        s3_op_create_upload(c);
        break;
    case OP_UPLOAD_PART:
        s3_op_upload_part(c);
        break;
    case OP_COMPLETE_UPLOAD:
        s3_op_complete_upload(c);
        break;
    case OP_ABORT_UPLOAD:
        s3_op_abort_upload(c);
        break;
    case OP_LIST_PARTS:
        s3_op_list_parts(c);
        break;
    case OP_NONE:
        s3_respond_error(c, -ERR_NOT_IMPLEMENTED);
        break;
    }
}

static void on_done(struct http_req *req, void *app)
{
    struct s3_ctx *c = http_req_data(req);
    if (!c || http_req_responded(req))
        return;
    if (!c->err && c->chunked)
        c->err = s3_chunked_finish(c->chunked);
    if (c->err) {
        s3_respond_error(c, c->err);
        return;
    }
    if (c->op_name) {
        char note[64];
        snprintf(note, sizeof note, "op=%s", c->op_name);
        http_req_log_note(req, note);
    }
    run_op(c);
    if (!http_req_responded(req))
        s3_respond_error(c, -ERR_INTERNAL);
}

/* The request's analytics event: a download when a GET came through a gate link, a
 * rejection when such a link was refused, an S3 call otherwise. */
static void record(struct s3_ctx *c)
{
    struct http_req *req = c->req;
    struct buf grant = BUF_INIT, tok = BUF_INIT;
    char token[STATS_TOKEN_MAX] = "";
    struct str ua = STR_NULL, ref = STR_NULL, xff = STR_NULL, rh;
    int status = http_req_status(req);
    bool link = (c->op == OP_GET_OBJECT || c->op == OP_HEAD_OBJECT) &&
                query_get_decoded(c->query, "x-tollgate-grant", &grant) == 0;
    http_req_header(req, "user-agent", &ua);
    http_req_header(req, "referer", &ref);
    http_req_header(req, "x-forwarded-for", &xff);
    if (link && query_get_decoded(c->query, "x-tollgate-token", &tok) == 0 && tok.len > 1)
        snprintf(token, sizeof token, "%s#%s", tok.ptr[0] == 'n' ? "named" : "period", tok.ptr + 1);
    enum stats_kind kind = STATS_S3_CALL;
    if (link && status == 403)
        kind = STATS_REJECTED;
    else if (link && c->op == OP_GET_OBJECT && !ua_is_link_preview(ua))
        kind = STATS_DOWNLOAD;
    struct stats_hit h = {kind,
                          link ? buf_cstr(&grant) : "",
                          token,
                          buf_cstr(&c->key),
                          kind == STATS_REJECTED ? "link" : c->op_name,
                          status,
                          http_req_bytes_sent(req),
                          http_req_header(req, "range", &rh),
                          str_c(http_req_client_addr(req)),
                          xff,
                          ua,
                          ref,
                          0};
    stats_record(c->api->cfg.stats, &h);
    buf_release(&grant);
    buf_release(&tok);
}

static void on_free(struct http_req *req, void *app)
{
    struct s3_ctx *c = http_req_data(req);
    if (!c)
        return;
    if (c->api->cfg.stats)
        record(c);
    store_put_abort(c->put);
    s3_chunked_free(c->chunked);
    s3_cksum_release(&c->ck);
    buf_release(&c->bucket);
    buf_release(&c->key);
    buf_release(&c->xml);
    buf_release(&c->upload_id);
    crypto_wipe(&c->auth, sizeof c->auth);
    free(c);
    http_req_set_data(req, NULL);
}

void s3_api_handler(struct s3_api *api, struct http_handler *out)
{
    *out = (struct http_handler){"s3", on_headers, on_body, on_done, on_free, api};
}
