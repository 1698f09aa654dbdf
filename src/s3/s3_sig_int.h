/* s3_sig_int.h -- private to the signature code (s3_sigv4.c, s3_sigv2.c): limits, the
 * stack-first string builder with a sticky error, and the canonicalization helpers both
 * signature versions use. */
#ifndef TG_S3_SIG_INT_H
#define TG_S3_SIG_INT_H

#include "s3/s3.h"

#define V4_ALGORITHM "AWS4-HMAC-SHA256"
#define V4_TERMINATOR "aws4_request"
#define V4_SERVICE "s3"
#define UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

#define SIG_STACK_BUF 4096          /* canonical requests up to this size never malloc */
#define SIG_CANON_MAX (1024 * 1024) /* hard ceiling for any canonical string */
#define SIG_QUERY_PARAMS_MAX 128    /* query parameters in one request */
#define SIG_SIGNED_HEADERS_MAX 64   /* names in SignedHeaders */
#define SIG_HEADER_NAME_MAX 128     /* one header name */
#define SIG_AMZ_HEADERS_MAX 64      /* x-amz-* headers SigV2 signs */
#define SIG_PARAM_MAX 1024          /* one decoded auth query parameter */
#define SIG_REGION_MAX 64
#define SIG_KEY_CACHE_SLOTS 32

struct sb {
    char *p;
    size_t len, cap;
    char *heap; /* set once grown past the caller's stack array */
    int err;
};
void s3_sb_init(struct sb *s, char *stack, size_t cap);
void s3_sb_release(struct sb *s);
void s3_sb_add(struct sb *s, const void *p, size_t n);
void s3_sb_addc(struct sb *s, char c);
void s3_sb_addstr(struct sb *s, struct str v);

/* Percent-decode raw into out (cap bytes); *val views it. */
int s3_sig_uri_decode(struct str raw, bool plus_space, char *out, size_t cap, struct str *val);
/* A query parameter, decoded into out; -ERR_NOT_FOUND when absent. */
int s3_sig_query_param(struct str query, const char *name, char *out, size_t cap, struct str *val);
int s3_sig_lower_name(struct str n, char out[SIG_HEADER_NAME_MAX]);
bool s3_sig_req_header(const struct s3_sig_req *r, const char *lname, struct str *v);

/* SigV2 (s3_sigv2.c): header auth ("AWS id:sig") and query auth (AWSAccessKeyId). */
int s3_sigv2_header_verify(const struct s3_sig_req *r, struct str authz, int64_t now,
                           s3_secret_fn secret_fn, void *secret_ctx, struct s3_auth *out);
int s3_sigv2_query_verify(const struct s3_sig_req *r, int64_t now, s3_secret_fn secret_fn,
                          void *secret_ctx, struct s3_auth *out);

#endif
