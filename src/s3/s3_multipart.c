/* s3_multipart.c -- multipart uploads: Create, UploadPart (the body was streamed into
 * a store put), Complete (XML list of parts; ETag "<md5 of md5s>-N"; a repeated
 * Complete of a finished upload answers the same result), Abort, ListParts and
 * ListMultipartUploads. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "s3/s3_int.h"

static int upload_id_param(struct s3_ctx *c)
{
    struct str v;
    if (c->upload_id.len)
        return 0;
    if (!query_get(c->query, "uploadId", &v) || uri_decode(&c->upload_id, v, true) < 0 ||
        c->upload_id.len == 0)
        return -ERR_NO_SUCH_UPLOAD;
    return 0;
}

void s3_op_create_upload(struct s3_ctx *c)
{
    char id[STORE_UPLOAD_ID_MAX], *meta = NULL, *ctype = NULL;
    struct str ct, acl;
    int rc = 0;
    if (http_req_header(c->req, "x-amz-acl", &acl) && !str_eq_c(acl, "private"))
        rc = -ERR_NOT_IMPLEMENTED;
    if (rc == 0)
        rc = s3_meta_from_req(c, NULL, &meta);
    if (rc == 0) {
        ctype = http_req_header(c->req, "content-type", &ct) ? str_dup(ct)
                                                             : strdup(S3_DEFAULT_CONTENT_TYPE);
        struct store_attrs attrs = {ctype, meta};
        rc = store_mpu_create(c->api->cfg.store, buf_str(&c->bucket), buf_str(&c->key), &attrs, id);
    }
    free(meta);
    free(ctype);
    if (rc < 0) {
        s3_respond_error(c, rc);
        return;
    }
    struct buf x = BUF_INIT;
    s3_xml_begin(&x, "InitiateMultipartUploadResult");
    s3_xml_elem(&x, "Bucket", buf_str(&c->bucket));
    s3_xml_elem(&x, "Key", buf_str(&c->key));
    s3_xml_elem_c(&x, "UploadId", id);
    buf_adds(&x, "</InitiateMultipartUploadResult>");
    s3_respond_xml(c, 200, &x);
}

void s3_op_upload_part(struct s3_ctx *c)
{
    char etag[STORE_ETAG_MAX], ck[64];
    int rc = s3_verify_put(c, ck, sizeof ck);
    if (rc == 0) {
        rc = store_mpu_part_commit(c->put, buf_str(&c->bucket), buf_str(&c->key),
                                   buf_str(&c->upload_id), c->part, etag);
        c->put = NULL;
    }
    if (rc < 0) {
        s3_respond_error(c, rc);
        return;
    }
    struct http_resp *r = s3_resp_new(c, http_resp_mem(200, NULL, 0, true));
    if (!r)
        return;
    char et[STORE_ETAG_MAX + 2];
    snprintf(et, sizeof et, "\"%s\"", etag);
    http_resp_header(r, "ETag", et);
    if (ck[0])
        http_resp_header(r, s3_cksum_header(c->ck_alg), ck);
    http_respond(c->req, r);
}

#define COMPLETE_PARTS_MAX STORE_PART_MAX

struct complete_ctx {
    struct store_mpu_part *parts;
    size_t n, cap;
    struct store_mpu_part cur;
    bool has_num, has_etag;
};

static int complete_visit(void *ctx, const char *path, const char *text)
{
    struct complete_ctx *cc = ctx;
    if (text) {
        if (strcmp(path, "CompleteMultipartUpload/Part/PartNumber") == 0) {
            uint64_t v;
            if (str_to_u64(str_trim(str_c(text)), &v) < 0 || v < 1 || v > STORE_PART_MAX)
                return -ERR_INVALID_PART;
            cc->cur.part = (unsigned)v;
            cc->has_num = true;
        } else if (strcmp(path, "CompleteMultipartUpload/Part/ETag") == 0) {
            struct str e = str_trim(str_c(text));
            /* Clients send the ETag quoted, sometimes as &quot;, sometimes bare. */
            if (e.len >= 2 && e.ptr[0] == '"' && e.ptr[e.len - 1] == '"') {
                e.ptr++;
                e.len -= 2;
            }
            if (str_copy(e, cc->cur.etag, sizeof cc->cur.etag) < 0)
                return -ERR_INVALID_PART;
            cc->has_etag = true;
        }
        return 0;
    }
    if (strcmp(path, "CompleteMultipartUpload/Part") != 0)
        return 0;
    if (!cc->has_num || !cc->has_etag)
        return -ERR_MALFORMED_XML;
    if (cc->n == COMPLETE_PARTS_MAX)
        return -ERR_MALFORMED_XML;
    if (cc->n == cc->cap) {
        size_t cap = cc->cap ? cc->cap * 2 : 16;
        struct store_mpu_part *p = realloc(cc->parts, cap * sizeof *p);
        if (!p)
            return -ERR_NOMEM;
        cc->parts = p;
        cc->cap = cap;
    }
    cc->parts[cc->n++] = cc->cur;
    memset(&cc->cur, 0, sizeof cc->cur);
    cc->has_num = cc->has_etag = false;
    return 0;
}

void s3_op_complete_upload(struct s3_ctx *c)
{
    struct complete_ctx cc = {0};
    struct store_obj_info info = {0};
    int rc = upload_id_param(c);
    if (rc == 0)
        rc = s3_verify_put(c, NULL, 0);
    if (rc == 0)
        rc = s3_xml_parse(buf_str(&c->xml), complete_visit, &cc);
    if (rc == 0 && cc.n == 0)
        rc = -ERR_MALFORMED_XML;
    if (rc == 0)
        rc = store_mpu_complete(c->api->cfg.store, buf_str(&c->bucket), buf_str(&c->key),
                                buf_str(&c->upload_id), cc.parts, cc.n, &info);
    free(cc.parts);
    if (rc < 0) {
        s3_respond_error(c, rc);
        return;
    }
    struct buf x = BUF_INIT, loc = BUF_INIT;
    s3_xml_begin(&x, "CompleteMultipartUploadResult");
    buf_printf(&loc, "/%s/", buf_cstr(&c->bucket));
    uri_encode(&loc, buf_str(&c->key), true);
    s3_xml_elem(&x, "Location", buf_str(&loc));
    s3_xml_elem(&x, "Bucket", buf_str(&c->bucket));
    s3_xml_elem(&x, "Key", buf_str(&c->key));
    buf_printf(&x, "<ETag>&quot;%s&quot;</ETag></CompleteMultipartUploadResult>", info.etag);
    buf_release(&loc);
    store_obj_info_release(&info);
    s3_respond_xml(c, 200, &x);
}

void s3_op_abort_upload(struct s3_ctx *c)
{
    int rc = upload_id_param(c);
    if (rc == 0)
        rc = store_mpu_abort(c->api->cfg.store, buf_str(&c->bucket), buf_str(&c->key),
                             buf_str(&c->upload_id));
    if (rc < 0) {
        s3_respond_error(c, rc);
        return;
    }
    struct http_resp *r = s3_resp_new(c, http_resp_mem(204, NULL, 0, true));
    if (r)
        http_respond(c->req, r);
}

struct parts_ctx {
    struct buf *x;
    unsigned last;
};

static int part_visit(void *ctx, const struct store_mpu_part *p)
{
    struct parts_ctx *pc = ctx;
    char t[TG_TIME_BUF];
    time_fmt_iso8601_ms(p->mtime_us, t);
    buf_adds(pc->x, "<Part>");
    buf_printf(pc->x, "<PartNumber>%u</PartNumber>", p->part);
    s3_xml_elem_c(pc->x, "LastModified", t);
    buf_printf(pc->x, "<ETag>&quot;%s&quot;</ETag>", p->etag);
    s3_xml_elem_u64(pc->x, "Size", p->size);
    pc->last = p->part;
    return buf_adds(pc->x, "</Part>");
}

static int uint_param(struct s3_ctx *c, const char *name, uint64_t def, uint64_t max, uint64_t *out)
{
    struct str v;
    *out = def;
    if (!query_get(c->query, name, &v))
        return 0;
    if (str_to_u64(v, out) < 0)
        return -ERR_INVALID;
    if (*out > max)
        *out = max;
    return 0;
}

void s3_op_list_parts(struct s3_ctx *c)
{
    struct buf x = BUF_INIT, parts = BUF_INIT;
    struct parts_ctx pc = {&parts, 0};
    uint64_t marker, max;
    bool truncated = false;
    int rc = upload_id_param(c);
    if (rc == 0)
        rc = uint_param(c, "part-number-marker", 0, STORE_PART_MAX, &marker);
    if (rc == 0)
        rc = uint_param(c, "max-parts", 1000, 1000, &max);
    if (rc == 0)
        rc = store_mpu_list_parts(c->api->cfg.store, buf_str(&c->bucket), buf_str(&c->key),
                                  buf_str(&c->upload_id), (unsigned)marker, (unsigned)max,
                                  part_visit, &pc, &truncated);
    if (rc < 0) {
        buf_release(&parts);
        s3_respond_error(c, rc);
        return;
    }
    s3_xml_begin(&x, "ListPartsResult");
    s3_xml_elem(&x, "Bucket", buf_str(&c->bucket));
    s3_xml_elem(&x, "Key", buf_str(&c->key));
    s3_xml_elem(&x, "UploadId", buf_str(&c->upload_id));
    s3_xml_owner(&x, "Initiator");
    s3_xml_owner(&x, "Owner");
    buf_adds(&x, "<StorageClass>STANDARD</StorageClass>");
    buf_printf(&x, "<PartNumberMarker>%" PRIu64 "</PartNumberMarker>", marker);
    if (truncated)
        buf_printf(&x, "<NextPartNumberMarker>%u</NextPartNumberMarker>", pc.last);
    buf_printf(&x, "<MaxParts>%" PRIu64 "</MaxParts><IsTruncated>%s</IsTruncated>", max,
               truncated ? "true" : "false");
    buf_addstr(&x, buf_str(&parts));
    buf_adds(&x, "</ListPartsResult>");
    buf_release(&parts);
    s3_respond_xml(c, 200, &x);
}

struct uploads_ctx {
    struct buf *x;
    struct buf last_key, last_id;
    bool url; /* encoding-type=url: keys URL-encoded, as S3 does */
};

static void elem_key(struct buf *x, bool url, const char *name, struct str v)
{
    if (url) {
        struct buf enc = BUF_INIT;
        uri_encode(&enc, v, true);
        s3_xml_elem(x, name, buf_str(&enc));
        buf_release(&enc);
    } else {
        s3_xml_elem(x, name, v);
    }
}

static int upload_visit(void *ctx, const struct store_mpu *u)
{
    struct uploads_ctx *uc = ctx;
    char t[TG_TIME_BUF];
    time_fmt_iso8601_ms(u->initiated_us, t);
    buf_adds(uc->x, "<Upload>");
    elem_key(uc->x, uc->url, "Key", str_c(u->key));
    s3_xml_elem_c(uc->x, "UploadId", u->upload_id);
    s3_xml_owner(uc->x, "Initiator");
    s3_xml_owner(uc->x, "Owner");
    buf_adds(uc->x, "<StorageClass>STANDARD</StorageClass>");
    s3_xml_elem_c(uc->x, "Initiated", t);
    buf_reset(&uc->last_key);
    buf_adds(&uc->last_key, u->key);
    buf_reset(&uc->last_id);
    buf_adds(&uc->last_id, u->upload_id);
    return buf_adds(uc->x, "</Upload>");
}

void s3_op_list_uploads(struct s3_ctx *c)
{
    struct buf x = BUF_INIT, ups = BUF_INIT, prefix = BUF_INIT, km = BUF_INIT, um = BUF_INIT,
               enc = BUF_INIT;
    struct uploads_ctx uc = {&ups, BUF_INIT, BUF_INIT, false};
    uint64_t max;
    bool truncated = false;
    int rc = store_bucket_exists(c->api->cfg.store, buf_str(&c->bucket));
    if (rc == 0)
        rc = uint_param(c, "max-uploads", 1000, 1000, &max);
    if (rc == 0) {
        int r1 = query_get_decoded(c->query, "prefix", &prefix);
        int r2 = query_get_decoded(c->query, "key-marker", &km);
        int r3 = query_get_decoded(c->query, "upload-id-marker", &um);
        int r4 = query_get_decoded(c->query, "encoding-type", &enc);
        if ((r1 < 0 && r1 != -ERR_NOT_FOUND) || (r2 < 0 && r2 != -ERR_NOT_FOUND) ||
            (r3 < 0 && r3 != -ERR_NOT_FOUND) || (r4 < 0 && r4 != -ERR_NOT_FOUND) ||
            (enc.len && !str_eq_c(buf_str(&enc), "url")))
            rc = -ERR_INVALID;
        uc.url = enc.len > 0;
    }
    if (rc == 0)
        rc = store_mpu_list(c->api->cfg.store, buf_str(&c->bucket), buf_str(&prefix), buf_str(&km),
                            buf_str(&um), (unsigned)max, upload_visit, &uc, &truncated);
    if (rc < 0) {
        s3_respond_error(c, rc);
        goto out;
    }
    s3_xml_begin(&x, "ListMultipartUploadsResult");
    s3_xml_elem(&x, "Bucket", buf_str(&c->bucket));
    elem_key(&x, uc.url, "KeyMarker", buf_str(&km));
    s3_xml_elem(&x, "UploadIdMarker", buf_str(&um));
    if (truncated) {
        elem_key(&x, uc.url, "NextKeyMarker", buf_str(&uc.last_key));
        s3_xml_elem(&x, "NextUploadIdMarker", buf_str(&uc.last_id));
    }
    elem_key(&x, uc.url, "Prefix", buf_str(&prefix));
    if (uc.url)
        buf_adds(&x, "<EncodingType>url</EncodingType>");
    buf_printf(&x, "<MaxUploads>%" PRIu64 "</MaxUploads><IsTruncated>%s</IsTruncated>", max,
               truncated ? "true" : "false");
    buf_addstr(&x, buf_str(&ups));
    buf_adds(&x, "</ListMultipartUploadsResult>");
    s3_respond_xml(c, 200, &x);
out:
    buf_release(&x);
    buf_release(&ups);
    buf_release(&prefix);
    buf_release(&km);
    buf_release(&um);
    buf_release(&enc);
    buf_release(&uc.last_key);
    buf_release(&uc.last_id);
}
