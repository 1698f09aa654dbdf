/* s3_int.h -- private to src/s3: the per-request state of the S3 API and the helpers
 * its operation files share (s3_api.c dispatches; s3_bucket.c, s3_object.c and
 * s3_multipart.c implement the operations). */
#ifndef TG_S3_INT_H
#define TG_S3_INT_H

#include <stdatomic.h>

#include "http/http.h"
#include "s3/s3.h"
#include "store/store.h"

/* A request refused before its body is answered at once only when the client waits
 * for that (Expect: 100-continue) or the body is big or of unknown length; a body up
 * to this size is read and dropped first (see s3_api.c on_headers). */
#define S3_DISCARD_MAX ((int64_t)16 << 20)

struct s3_api {
    struct s3_api_config cfg;
    char *region;
    const char **reserved;
    uint64_t reqid_base;
    atomic_uint_fast64_t reqid_next;
};

enum s3_op {
    OP_NONE,
    OP_LIST_BUCKETS,
    OP_CREATE_BUCKET,
    OP_HEAD_BUCKET,
    OP_DELETE_BUCKET,
    OP_GET_BUCKET_LOCATION,
    OP_GET_BUCKET_VERSIONING,
    OP_GET_BUCKET_ACL,
    OP_LIST_OBJECTS,
    OP_LIST_OBJECTS_V2,
    OP_LIST_OBJECT_VERSIONS,
    OP_LIST_UPLOADS,
    OP_DELETE_OBJECTS,
    OP_PUT_OBJECT,
    OP_COPY_OBJECT,
    OP_GET_OBJECT,
    OP_HEAD_OBJECT,
    OP_DELETE_OBJECT,
    OP_GET_OBJECT_ACL,
    OP_CREATE_UPLOAD,
    OP_UPLOAD_PART,
    OP_COMPLETE_UPLOAD,
    OP_ABORT_UPLOAD,
    OP_LIST_PARTS,
    OP_PUT_LIFECYCLE,
    OP_GET_LIFECYCLE,
    OP_DELETE_LIFECYCLE,
};

/* What S3 stores when a PUT has no Content-Type. */
#define S3_DEFAULT_CONTENT_TYPE "binary/octet-stream"

enum s3_body { BODY_NONE, BODY_DISCARD, BODY_XML, BODY_PUT };

struct s3_ctx {
    struct s3_api *api;
    struct http_req *req;
    enum s3_op op;
    const char *op_name;
    char reqid[20];
    struct buf bucket, key; /* percent-decoded, NUL-terminated */
    struct str query;       /* raw */
    struct s3_auth auth;
    int err; /* first error; answered in on_done */

    enum s3_body body;
    struct buf xml;
    struct store_put *put;
    struct s3_chunked *chunked;
    uint64_t body_max;      /* decoded bytes allowed */
    int64_t decoded_expect; /* x-amz-decoded-content-length or Content-Length; -1 unknown */
    uint64_t decoded;       /* decoded bytes seen */
    bool has_md5;
    uint8_t md5[16];
    enum s3_cksum_alg ck_alg; /* a checksum to verify, from a header or a trailer */
    bool ck_trailer;
    bool ck_by_decoder; /* the aws-chunked decoder verifies the trailer checksum itself */
    char ck_expect[64];
    struct s3_cksum ck;
    unsigned part;
    struct buf upload_id;
};

/* s3_api.c */
int s3_respond_error(struct s3_ctx *c, int rc);
/* Takes the buffer's memory. */
int s3_respond_xml(struct s3_ctx *c, int status, struct buf *xml);
struct http_resp *s3_resp_new(struct s3_ctx *c, struct http_resp *resp);
int s3_xml_begin(struct buf *b, const char *root);
int s3_xml_elem(struct buf *b, const char *name, struct str text);
int s3_xml_elem_c(struct buf *b, const char *name, const char *text);
int s3_xml_elem_u64(struct buf *b, const char *name, uint64_t v);
int s3_xml_owner(struct buf *b, const char *elem);
/* Checks the payload checks (MD5, x-amz-checksum-*, signed payload hash) against a
 * finished put; 0 or the error. Fills ck_out (base64) when a checksum was given. */
int s3_verify_put(struct s3_ctx *c, char *ck_out, size_t cap);
/* Builds the stored-headers JSON for a new object from the request. */
int s3_meta_from_req(struct s3_ctx *c, const char *ck_b64, char **json_out);

/* s3_xml.c: a PutBucketLifecycleConfiguration body -> rules (malloc'd; free with
 * meta_lc_rules_free). -ERR_MALFORMED_XML, -ERR_INVALID (Days, duplicate ID),
 * -ERR_INVALID_REQUEST (a rule without an action), -ERR_NOT_IMPLEMENTED (transitions,
 * dates, versions, tag and size filters). */
struct meta_lc_rule;
int s3_lc_parse(struct str body, struct meta_lc_rule **out, size_t *n);

/* s3_bucket.c */
void s3_op_list_buckets(struct s3_ctx *c);
void s3_op_create_bucket(struct s3_ctx *c);
void s3_op_head_bucket(struct s3_ctx *c);
void s3_op_delete_bucket(struct s3_ctx *c);
void s3_op_bucket_location(struct s3_ctx *c);
void s3_op_bucket_versioning(struct s3_ctx *c);
void s3_op_acl(struct s3_ctx *c);
void s3_op_list_objects(struct s3_ctx *c, int version);
void s3_op_delete_objects(struct s3_ctx *c);
void s3_op_put_lifecycle(struct s3_ctx *c);
void s3_op_get_lifecycle(struct s3_ctx *c);
void s3_op_delete_lifecycle(struct s3_ctx *c);

/* s3_object.c */
void s3_op_put_object(struct s3_ctx *c);
void s3_op_get_object(struct s3_ctx *c, bool head);
void s3_op_delete_object(struct s3_ctx *c);
void s3_op_copy_object(struct s3_ctx *c);

/* s3_multipart.c */
void s3_op_create_upload(struct s3_ctx *c);
void s3_op_upload_part(struct s3_ctx *c);
void s3_op_complete_upload(struct s3_ctx *c);
void s3_op_abort_upload(struct s3_ctx *c);
void s3_op_list_parts(struct s3_ctx *c);
void s3_op_list_uploads(struct s3_ctx *c);

#endif
