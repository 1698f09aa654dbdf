/* s3_client_int.h -- private to the S3 client (s3_client.c: the request engine and the
 * object operations; s3_client_mpu.c: multipart uploads). */
#ifndef TG_S3_CLIENT_INT_H
#define TG_S3_CLIENT_INT_H

#include <curl/curl.h>

#include "s3/s3_sig_int.h"

#define HDRS_MAX 48 /* request headers a caller may add */

struct s3_client {
    struct s3_client_config cfg; /* strings below are owned copies */
    char *endpoint, *region, *bucket, *akid, *secret;
    const char *scheme; /* points into endpoint */
    char hostport[256];
    char err[S3_CLIENT_ERR_MAX];
    CURL *curl;
};

/* ---- one request, with retries ---- */

struct req {
    const char *op, *method, *key, *query;
    bool service;            /* the endpoint's root (ListBuckets), no bucket */
    const char *const *hdrs; /* name, value pairs */
    size_t n_hdrs;
    int fd; /* >= 0: the body is fd[off, off+len) */
    uint64_t off, len;
    const char *mem; /* or this body (POST) */
    size_t mem_len;
    bool has_mem;
    const char *payload_hash;
    s3_client_sink_fn sink; /* a 2xx body goes here, else into resp */
    void *sink_ctx;
    /* per attempt */
    CURL *curl;
    uint64_t sent;
    struct buf resp;
    struct s3_client_obj obj;
    bool delivered;
    int sink_rc;
    struct buf *hdr_out; /* every response header line "name: value\n", when set */
    /* where the error sentence goes */
    char *err;
    size_t err_cap;
};

#define REQ_INIT(c_op, c_method, c_key)                                                            \
    {                                                                                              \
        .op = (c_op), .method = (c_method), .key = (c_key), .fd = -1, .payload_hash = EMPTY_SHA256 \
    }

/* One request with c's handle; the failure's sentence in c->err. */
int s3c_run(struct s3_client *c, struct req *rq);
/* One request with rq->curl (a part worker's own handle); the sentence in rq->err. */
int s3c_perform(struct s3_client *c, struct req *rq);
void s3c_cerr(struct s3_client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void s3c_copy_trunc(char *dst, size_t cap, const char *src);
/* The error of an S3 error Code (may be empty) with an HTTP status. */
int s3c_err_from(const char *code, long status);
int s3c_put_multipart(struct s3_client *c, const char *key, int fd, uint64_t size,
                      const char *const *hdrs, size_t n_hdrs, struct s3_client_obj *out);

#endif
