/* s3_bucket.c -- bucket operations and listings: ListBuckets, CreateBucket,
 * HeadBucket, DeleteBucket, GetBucketLocation/Versioning/Acl, ListObjects (V1),
 * ListObjectsV2, ListObjectVersions (an unversioned bucket: VersionId "null"),
 * and DeleteObjects. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "crypto/crypto.h"
#include "meta/meta.h"
#include "s3/s3_int.h"

static void respond_empty(struct s3_ctx *c, int status)
{
    struct http_resp *r = s3_resp_new(c, http_resp_mem(status, NULL, 0, true));
    if (r)
        http_respond(c->req, r);
}

static int bucket_visit(void *ctx, const struct store_bucket *b)
{
    struct buf *x = ctx;
    char t[TG_TIME_BUF];
    time_fmt_iso8601_ms(b->created_us, t);
    buf_adds(x, "<Bucket>");
    s3_xml_elem_c(x, "Name", b->name);
    s3_xml_elem_c(x, "CreationDate", t);
    return buf_adds(x, "</Bucket>");
}

void s3_op_list_buckets(struct s3_ctx *c)
{
    struct buf x = BUF_INIT;
    s3_xml_begin(&x, "ListAllMyBucketsResult");
    s3_xml_owner(&x, "Owner");
    buf_adds(&x, "<Buckets>");
    int rc = store_bucket_list(c->api->cfg.store, bucket_visit, &x);
    buf_adds(&x, "</Buckets></ListAllMyBucketsResult>");
    if (rc < 0) {
        buf_release(&x);
        s3_respond_error(c, rc);
        return;
    }
    s3_respond_xml(c, 200, &x);
}

struct create_cfg {
    char location[64];
    int rc;
};

static int create_visit(void *ctx, const char *path, const char *text)
{
    struct create_cfg *cc = ctx;
    if (text && strcmp(path, "CreateBucketConfiguration/LocationConstraint") == 0 &&
        str_copy(str_c(text), cc->location, sizeof cc->location) < 0)
        return -ERR_MALFORMED_XML;
    return 0;
}

void s3_op_create_bucket(struct s3_ctx *c)
{
    struct create_cfg cc = {{0}, 0};
    int rc = s3_verify_put(c, NULL, 0);
    if (rc == 0 && c->xml.len)
        rc = s3_xml_parse(buf_str(&c->xml), create_visit, &cc);
    if (rc == 0 && cc.location[0] && strcmp(cc.location, c->api->region) != 0 &&
        !(strcmp(cc.location, "US") == 0 && strcmp(c->api->region, "us-east-1") == 0))
        rc = -ERR_INVALID_REQUEST; /* a bucket in another region than this server's */
    if (rc == 0) {
        struct str acl;
        if (http_req_header(c->req, "x-amz-acl", &acl) && !str_eq_c(acl, "private"))
            rc = -ERR_NOT_IMPLEMENTED;
    }
    if (rc == 0) {
        rc = store_bucket_create(c->api->cfg.store, buf_str(&c->bucket));
        if (rc == -ERR_EXISTS)
            rc = 0; /* a bucket you already own: 200, as us-east-1 answers */
    }
    if (rc < 0) {
        s3_respond_error(c, rc);
        return;
    }
    struct http_resp *r = s3_resp_new(c, http_resp_mem(200, NULL, 0, true));
    if (!r)
        return;
    char loc[320];
    snprintf(loc, sizeof loc, "/%s", buf_cstr(&c->bucket));
    http_resp_header(r, "Location", loc);
    http_respond(c->req, r);
}

void s3_op_head_bucket(struct s3_ctx *c)
{
    int rc = store_bucket_exists(c->api->cfg.store, buf_str(&c->bucket));
    if (rc < 0) {
        s3_respond_error(c, rc);
        return;
    }
    struct http_resp *r = s3_resp_new(c, http_resp_mem(200, NULL, 0, true));
    if (!r)
        return;
    http_resp_header(r, "x-amz-bucket-region", c->api->region);
    http_respond(c->req, r);
}

void s3_op_delete_bucket(struct s3_ctx *c)
{
    int rc = store_bucket_delete(c->api->cfg.store, buf_str(&c->bucket));
    if (rc == 0 && c->api->cfg.meta) /* a bucket made again later starts without rules */
        meta_lc_rules_delete(c->api->cfg.meta, buf_cstr(&c->bucket));
    if (rc < 0)
        s3_respond_error(c, rc);
    else
        respond_empty(c, 204);
}

void s3_op_bucket_location(struct s3_ctx *c)
{
    int rc = store_bucket_exists(c->api->cfg.store, buf_str(&c->bucket));
    if (rc < 0) {
        s3_respond_error(c, rc);
        return;
    }
    struct buf x = BUF_INIT;
    buf_adds(&x, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LocationConstraint "
                 "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
    /* us-east-1 is written as an empty constraint, as S3 does. */
    if (strcmp(c->api->region, "us-east-1") != 0)
        s3_xml_escape(&x, str_c(c->api->region));
    buf_adds(&x, "</LocationConstraint>");
    s3_respond_xml(c, 200, &x);
}

void s3_op_bucket_versioning(struct s3_ctx *c)
{
    int rc = store_bucket_exists(c->api->cfg.store, buf_str(&c->bucket));
    if (rc < 0) {
        s3_respond_error(c, rc);
        return;
    }
    struct buf x = BUF_INIT;
    s3_xml_begin(&x, "VersioningConfiguration");
    buf_adds(&x, "</VersioningConfiguration>");
    s3_respond_xml(c, 200, &x);
}

void s3_op_acl(struct s3_ctx *c)
{
    struct store_obj_info info = {0};
    int rc = c->key.len
                 ? store_obj_head(c->api->cfg.store, buf_str(&c->bucket), buf_str(&c->key), &info)
                 : store_bucket_exists(c->api->cfg.store, buf_str(&c->bucket));
    store_obj_info_release(&info);
    if (rc < 0) {
        s3_respond_error(c, rc);
        return;
    }
    struct buf x = BUF_INIT;
    s3_xml_begin(&x, "AccessControlPolicy");
    s3_xml_owner(&x, "Owner");
    buf_adds(&x, "<AccessControlList><Grant><Grantee "
                 "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
                 "xsi:type=\"CanonicalUser\"><ID>tollgate</ID><DisplayName>tollgate</"
                 "DisplayName></Grantee><Permission>FULL_CONTROL</Permission></Grant></"
                 "AccessControlList></AccessControlPolicy>");
    s3_respond_xml(c, 200, &x);
}

/* ---- listings ---- */

struct list_ctx {
    struct buf *x;
    bool url;    /* encoding-type=url */
    int version; /* 0 = versions, 1 = V1, 2 = V2 */
    bool owner;
    struct buf prefixes;
};

static void elem_key(struct list_ctx *l, const char *name, struct str v)
{
    if (l->url) {
        struct buf enc = BUF_INIT;
        uri_encode(&enc, v, true);
        s3_xml_elem(l->x, name, buf_str(&enc));
        buf_release(&enc);
    } else {
        s3_xml_elem(l->x, name, v);
    }
}

static int list_visit(void *ctx, const struct store_list_entry *e)
{
    struct list_ctx *l = ctx;
    struct buf *x = l->x;
    if (e->common_prefix) {
        struct buf *save = l->x;
        l->x = &l->prefixes;
        buf_adds(&l->prefixes, "<CommonPrefixes>");
        elem_key(l, "Prefix", str_c(e->common_prefix));
        buf_adds(&l->prefixes, "</CommonPrefixes>");
        l->x = save;
        return 0;
    }
    char t[TG_TIME_BUF];
    time_fmt_iso8601_ms(e->info->mtime_us, t);
    buf_adds(x, l->version == 0 ? "<Version>" : "<Contents>");
    elem_key(l, "Key", str_c(e->key));
    if (l->version == 0)
        buf_adds(x, "<VersionId>null</VersionId><IsLatest>true</IsLatest>");
    s3_xml_elem_c(x, "LastModified", t);
    buf_printf(x, "<ETag>&quot;%s&quot;</ETag>", e->info->etag);
    s3_xml_elem_u64(x, "Size", e->info->size);
    buf_adds(x, "<StorageClass>STANDARD</StorageClass>");
    if (l->owner)
        s3_xml_owner(x, "Owner");
    return buf_adds(x, l->version == 0 ? "</Version>" : "</Contents>");
}

static int qparam(struct s3_ctx *c, const char *name, struct buf *out)
{
    int rc = query_get_decoded(c->query, name, out);
    return rc == -ERR_NOT_FOUND ? 0 : rc < 0 ? -ERR_INVALID : 0;
}

void s3_op_list_objects(struct s3_ctx *c, int version)
{
    struct buf prefix = BUF_INIT, delim = BUF_INIT, marker = BUF_INIT, token = BUF_INIT,
               start_after = BUF_INIT, maxk = BUF_INIT, enc = BUF_INIT, owner = BUF_INIT,
               after = BUF_INIT, x = BUF_INIT;
    struct store_list_res res = {0};
    struct list_ctx l = {&x, false, version, version != 2, BUF_INIT};
    uint64_t max_keys = 1000;
    int rc = 0;
    const char *root = version == 2   ? "ListBucketResult"
                       : version == 1 ? "ListBucketResult"
                                      : "ListVersionsResult";

    if ((rc = qparam(c, "prefix", &prefix)) < 0 || (rc = qparam(c, "delimiter", &delim)) < 0 ||
        (rc = qparam(c, version == 0 ? "key-marker" : "marker", &marker)) < 0 ||
        (rc = qparam(c, "continuation-token", &token)) < 0 ||
        (rc = qparam(c, "start-after", &start_after)) < 0 ||
        (rc = qparam(c, "max-keys", &maxk)) < 0 || (rc = qparam(c, "encoding-type", &enc)) < 0 ||
        (rc = qparam(c, "fetch-owner", &owner)) < 0)
        goto out;
    if (maxk.len && str_to_u64(buf_str(&maxk), &max_keys) < 0) {
        rc = -ERR_INVALID;
        goto out;
    }
    if (max_keys > STORE_LIST_MAX)
        max_keys = STORE_LIST_MAX;
    if (enc.len && !str_eq_c(buf_str(&enc), "url")) {
        rc = -ERR_INVALID;
        goto out;
    }
    l.url = enc.len > 0;
    if (version == 2)
        l.owner = str_eq_c(buf_str(&owner), "true");
    if (version == 2 && token.len) {
        /* Our continuation token is the base64url of the last key returned. */
        uint8_t raw[STORE_KEY_MAX + 8];
        int n = b64url_decode(buf_str(&token), raw, sizeof raw);
        if (n < 0) {
            rc = -ERR_INVALID;
            goto out;
        }
        buf_add(&after, raw, (size_t)n);
    } else if (version == 2) {
        buf_addstr(&after, buf_str(&start_after));
    } else {
        buf_addstr(&after, buf_str(&marker));
    }

    s3_xml_begin(&x, root);
    struct store_list_req req = {buf_str(&c->bucket),
                                 buf_str(&prefix),
                                 buf_str(&delim),
                                 buf_str(&after),
                                 (unsigned)max_keys,
                                 false,
                                 false};
    struct buf body = BUF_INIT;
    l.x = &body;
    rc = store_obj_list(c->api->cfg.store, &req, list_visit, &l, &res);
    l.x = &x;
    if (rc < 0) {
        buf_release(&body);
        goto out;
    }
    s3_xml_elem(&x, "Name", buf_str(&c->bucket));
    elem_key(&l, "Prefix", buf_str(&prefix));
    if (version == 2) {
        if (token.len)
            s3_xml_elem(&x, "ContinuationToken", buf_str(&token));
        if (start_after.len)
            elem_key(&l, "StartAfter", buf_str(&start_after));
        s3_xml_elem_u64(&x, "KeyCount", res.count);
    } else if (version == 1) {
        elem_key(&l, "Marker", buf_str(&marker));
    } else {
        elem_key(&l, "KeyMarker", buf_str(&marker));
        buf_adds(&x, "<VersionIdMarker></VersionIdMarker>");
    }
    s3_xml_elem_u64(&x, "MaxKeys", max_keys);
    if (delim.len)
        elem_key(&l, "Delimiter", buf_str(&delim));
    if (l.url)
        buf_adds(&x, "<EncodingType>url</EncodingType>");
    buf_printf(&x, "<IsTruncated>%s</IsTruncated>", res.truncated ? "true" : "false");
    if (res.truncated && res.next_after) {
        if (version == 2) {
            size_t n = strlen(res.next_after);
            char *t = malloc(b64_encoded_len(n) + 1);
            if (t) {
                b64url_encode(res.next_after, n, t);
                s3_xml_elem_c(&x, "NextContinuationToken", t);
                free(t);
            }
        } else if (version == 1) {
            elem_key(&l, "NextMarker", str_c(res.next_after));
        } else {
            elem_key(&l, "NextKeyMarker", str_c(res.next_after));
            buf_adds(&x, "<NextVersionIdMarker>null</NextVersionIdMarker>");
        }
    }
    buf_addstr(&x, buf_str(&body));
    buf_addstr(&x, buf_str(&l.prefixes));
    buf_printf(&x, "</%s>", root);
    buf_release(&body);
    rc = s3_respond_xml(c, 200, &x);
    if (rc < 0)
        rc = 0; /* already answered or connection gone */
out:
    if (rc < 0)
        s3_respond_error(c, rc);
    store_list_res_release(&res);
    buf_release(&prefix);
    buf_release(&delim);
    buf_release(&marker);
    buf_release(&token);
    buf_release(&start_after);
    buf_release(&maxk);
    buf_release(&enc);
    buf_release(&owner);
    buf_release(&after);
    buf_release(&x);
    buf_release(&l.prefixes);
}

/* ---- DeleteObjects ---- */

#define DELETE_MAX 1000

struct del_ctx {
    struct s3_ctx *c;
    struct buf *x;
    bool quiet;
    unsigned n;
    struct buf key;
    bool has_key;
    int rc;
};

static int del_visit(void *ctx, const char *path, const char *text)
{
    struct del_ctx *d = ctx;
    if (text) {
        if (strcmp(path, "Delete/Object/Key") == 0) {
            buf_reset(&d->key);
            if (buf_adds(&d->key, text) < 0)
                return -ERR_MALFORMED_XML;
            d->has_key = true;
        }
        return 0;
    }
    if (strcmp(path, "Delete/Object") != 0)
        return 0;
    if (!d->has_key)
        return -ERR_MALFORMED_XML;
    if (++d->n > DELETE_MAX)
        return -ERR_TOO_MANY_KEYS;
    d->has_key = false;
    struct str key = buf_str(&d->key);
    int rc = store_key_check(key);
    if (rc == 0)
        rc = store_obj_delete(d->c->api->cfg.store, buf_str(&d->c->bucket), key);
    if (rc < 0) {
        buf_adds(d->x, "<Error>");
        s3_xml_elem(d->x, "Key", key);
        s3_xml_elem_c(d->x, "Code", err_s3_code(rc));
        s3_xml_elem_c(d->x, "Message", err_message(rc));
        buf_adds(d->x, "</Error>");
    } else if (!d->quiet) {
        buf_adds(d->x, "<Deleted>");
        s3_xml_elem(d->x, "Key", key);
        buf_adds(d->x, "</Deleted>");
    }
    return 0;
}

/* A first pass counts the keys, so a request over the limit deletes nothing, and
 * reads Quiet, which botocore serializes after the Objects. */
struct count_ctx {
    unsigned n;
    bool quiet;
};

static int count_visit(void *ctx, const char *path, const char *text)
{
    struct count_ctx *cc = ctx;
    if (text && strcmp(path, "Delete/Quiet") == 0)
        cc->quiet = strcmp(text, "true") == 0;
    if (!text && strcmp(path, "Delete/Object") == 0 && ++cc->n > DELETE_MAX)
        return -ERR_TOO_MANY_KEYS;
    return 0;
}

void s3_op_delete_objects(struct s3_ctx *c)
{
    struct buf x = BUF_INIT;
    struct del_ctx d = {c, &x, false, 0, BUF_INIT, false, 0};
    struct count_ctx cc = {0, false};
    int rc = 0;
    if (!c->has_md5 && c->ck_alg == S3_CKSUM_NONE)
        rc = -ERR_MISSING_CONTENT_MD5;
    if (rc == 0)
        rc = s3_verify_put(c, NULL, 0);
    if (rc == 0)
        rc = store_bucket_exists(c->api->cfg.store, buf_str(&c->bucket));
    if (rc == 0)
        rc = s3_xml_parse(buf_str(&c->xml), count_visit, &cc);
    if (rc == 0 && cc.n == 0)
        rc = -ERR_MALFORMED_XML;
    if (rc == 0) {
        d.quiet = cc.quiet;
        s3_xml_begin(&x, "DeleteResult");
        rc = s3_xml_parse(buf_str(&c->xml), del_visit, &d);
        buf_adds(&x, "</DeleteResult>");
    }
    buf_release(&d.key);
    if (rc < 0) {
        buf_release(&x);
        s3_respond_error(c, rc);
        return;
    }
    s3_respond_xml(c, 200, &x);
}

/* ---- lifecycle configuration (parsed by s3_lc_parse, s3_xml.c) ---- */

void s3_op_put_lifecycle(struct s3_ctx *c)
{
    struct meta_lc_rule *rules = NULL;
    size_t n = 0;
    int rc = 0;
    if (!c->has_md5 && c->ck_alg == S3_CKSUM_NONE)
        rc = -ERR_MISSING_CONTENT_MD5;
    if (rc == 0)
        rc = s3_verify_put(c, NULL, 0);
    if (rc == 0)
        rc = store_bucket_exists(c->api->cfg.store, buf_str(&c->bucket));
    if (rc == 0)
        rc = s3_lc_parse(buf_str(&c->xml), &rules, &n);
    if (rc == 0)
        rc = meta_lc_rules_put(c->api->cfg.meta, buf_cstr(&c->bucket), rules, n);
    meta_lc_rules_free(rules, n);
    if (rc < 0) {
        s3_respond_error(c, rc);
        return;
    }
    struct http_resp *r = s3_resp_new(c, http_resp_mem(200, NULL, 0, true));
    if (r)
        http_respond(c->req, r);
}

void s3_op_get_lifecycle(struct s3_ctx *c)
{
    struct meta_lc_rule *rules = NULL;
    size_t n = 0;
    int rc = store_bucket_exists(c->api->cfg.store, buf_str(&c->bucket));
    if (rc == 0)
        rc = meta_lc_rules_get(c->api->cfg.meta, buf_cstr(&c->bucket), &rules, &n);
    if (rc == -ERR_NOT_FOUND)
        rc = -ERR_NO_SUCH_LIFECYCLE;
    if (rc < 0) {
        s3_respond_error(c, rc);
        return;
    }
    struct buf x = BUF_INIT;
    s3_xml_begin(&x, "LifecycleConfiguration");
    for (size_t i = 0; i < n; i++) {
        buf_adds(&x, "<Rule>");
        s3_xml_elem_c(&x, "ID", rules[i].id);
        buf_adds(&x, "<Filter>");
        s3_xml_elem_c(&x, "Prefix", rules[i].prefix);
        buf_adds(&x, "</Filter>");
        s3_xml_elem_c(&x, "Status", rules[i].enabled ? "Enabled" : "Disabled");
        if (rules[i].expire_days) {
            buf_adds(&x, "<Expiration>");
            s3_xml_elem_u64(&x, "Days", (uint64_t)rules[i].expire_days);
            buf_adds(&x, "</Expiration>");
        }
        if (rules[i].abort_days) {
            buf_adds(&x, "<AbortIncompleteMultipartUpload>");
            s3_xml_elem_u64(&x, "DaysAfterInitiation", (uint64_t)rules[i].abort_days);
            buf_adds(&x, "</AbortIncompleteMultipartUpload>");
        }
        buf_adds(&x, "</Rule>");
    }
    buf_adds(&x, "</LifecycleConfiguration>");
    meta_lc_rules_free(rules, n);
    s3_respond_xml(c, 200, &x);
}

void s3_op_delete_lifecycle(struct s3_ctx *c)
{
    int rc = store_bucket_exists(c->api->cfg.store, buf_str(&c->bucket));
    if (rc == 0)
        rc = meta_lc_rules_delete(c->api->cfg.meta, buf_cstr(&c->bucket));
    if (rc < 0)
        s3_respond_error(c, rc);
    else
        respond_empty(c, 204);
}
