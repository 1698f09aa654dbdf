/* s3.h -- the S3 protocol: AWS Signature V4 (one implementation for signing and
 * verifying: header, presigned query, streaming chunk signatures and trailers) and
 * SigV2 (header and presigned query), checksums, and the S3 API request handler
 * that serves path-style requests from a struct store.
 *
 * S3 rules, not the generic SigV4 ones: the canonical URI is the path as sent (no
 * dot-segment or slash normalization, no double encoding), re-encoded per byte. */
#ifndef TG_S3_H
#define TG_S3_H

#include <stdbool.h>
#include <stdint.h>

#include "http/http.h"
#include "util/util.h"

/* ---- SigV4 / SigV2 ------------------------------------------------------------ */

#define S3_SIG_MAX_EXPIRES 604800 /* 7 days: X-Amz-Expires above this is refused */
#define S3_SIG_MAX_SKEW 900       /* 15 minutes of clock skew for header auth */
#define S3_AKID_MAX 128
#define S3_SECRET_MAX 128

/* The parts of an HTTP request that signing sees. `header` looks a header up by
 * lowercase name (false if absent). */
struct s3_sig_req {
    struct str method;
    struct str path;  /* raw, as on the wire (percent-encoded) */
    struct str query; /* raw, without '?' */
    bool (*header)(void *ctx, const char *lname, struct str *value);
    void *ctx;
    /* Optional (may be NULL): calls fn for every request header, name in any case.
     * SigV2 signs every x-amz-* header (x-amz-meta-* cannot be probed by name), and
     * with it SigV4 header auth refuses x-amz-* headers that are not signed. */
    void (*each_header)(void *ctx, void (*fn)(void *arg, struct str name, struct str value),
                        void *arg);
};

/* Finds the secret of an access key id: writes it NUL-terminated into secret and
 * returns 0, or -ERR_INVALID_ACCESS_KEY. */
typedef int (*s3_secret_fn)(void *ctx, struct str akid, char *secret, size_t cap);

enum s3_auth_kind {
    S3_AUTH_ANON, /* no credentials at all */
    S3_AUTH_V4_HEADER,
    S3_AUTH_V4_QUERY,
    S3_AUTH_V2_HEADER,
    S3_AUTH_V2_QUERY,
};
enum s3_payload {
    S3_PAYLOAD_UNSIGNED,          /* UNSIGNED-PAYLOAD, presigned, SigV2 */
    S3_PAYLOAD_SHA256,            /* x-amz-content-sha256 = hex digest: verify at end */
    S3_PAYLOAD_STREAMING,         /* STREAMING-AWS4-HMAC-SHA256-PAYLOAD */
    S3_PAYLOAD_STREAMING_TRAILER, /* STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER */
    S3_PAYLOAD_UNSIGNED_TRAILER,  /* STREAMING-UNSIGNED-PAYLOAD-TRAILER */
};
enum s3_cksum_alg {
    S3_CKSUM_NONE,
    S3_CKSUM_CRC32,
    S3_CKSUM_CRC32C,
    S3_CKSUM_SHA1,
    S3_CKSUM_SHA256
};

/* A verified request's authentication. */
struct s3_auth {
    enum s3_auth_kind kind;
    enum s3_payload payload;
    char akid[S3_AKID_MAX];
    uint8_t payload_sha256[32]; /* when payload == S3_PAYLOAD_SHA256 */
    /* For streaming: the seed signature and the material to verify chunks. */
    uint8_t seed_sig[32];
    uint8_t signing_key[32];
    char amz_date[20];         /* 20130524T000000Z */
    char scope[128];           /* 20130524/us-east-1/s3/aws4_request */
    int64_t expires_at;        /* presigned: when the URL stops working; else 0 */
    enum s3_cksum_alg trailer; /* aws-chunked: checksum named by x-amz-trailer */
};

/* Verify the request's signature, if it carries one (S3_AUTH_ANON otherwise, which
 * the caller may refuse). now: tg_now(). region: the server's region; a credential
 * scope naming another region is refused (AuthorizationHeaderMalformed).
 * Errors: -ERR_SIGNATURE, -ERR_INVALID_ACCESS_KEY, -ERR_TIME_SKEWED, -ERR_EXPIRED,
 * -ERR_AUTH_QUERY (bad presign parameters, X-Amz-Expires > 7 days), -ERR_AUTH_HEADER,
 * -ERR_MISSING_DATE. The derived signing key is cached per (key, date, region, service). */
int s3_auth_verify(const struct s3_sig_req *r, int64_t now, const char *region, s3_secret_fn secret,
                   void *secret_ctx, struct s3_auth *out);

/* Presign: build a SigV4 query-auth URL (path-style). `extra_query` is additional
 * query parameters that are signed too (e.g. response-content-disposition), given
 * as name/value pairs, unencoded; `n_extra` pairs. Result: full URL in out. */
struct s3_presign {
    const char *method; /* "GET" */
    const char *scheme; /* "http" or "https" */
    const char *host;   /* host[:port] as the client will send it */
    const char *bucket; /* unencoded; "": virtual-host style (the bucket is in host) */
    const char *key;    /* unencoded */
    const char *akid, *secret, *region;
    int64_t now;                    /* signing time */
    int64_t expires;                /* seconds, 1..S3_SIG_MAX_EXPIRES */
    const char *const *extra_query; /* name, value, name, value, ... */
    size_t n_extra;
};
int s3_presign_url(const struct s3_presign *p, struct buf *out);

/* Header signing for clients (tests, the remote backend): computes the Authorization
 * header for the canonical request described by r (its `header` callback must return
 * every header named in signed_headers, lowercase, ';'-separated, sorted), with the
 * given payload hash (hex or UNSIGNED-PAYLOAD). */
int s3_sign_header(const struct s3_sig_req *r, const char *signed_headers, const char *payload_hash,
                   const char *akid, const char *secret, const char *region, int64_t now,
                   struct buf *authorization);

/* Canonical request / string to sign, exposed for the unit tests of the vectors. */
int s3_sig_canonical_request(const struct s3_sig_req *r, const char *signed_headers,
                             const char *payload_hash, bool presigned, struct buf *out);
void s3_sig_signing_key(const char *secret, const char *date8, const char *region,
                        const char *service, uint8_t out[32]);

/* ---- streaming bodies (aws-chunked) -------------------------------------------- */

/* Decodes an aws-chunked body as it arrives: verifies each chunk's signature
 * (signed modes), passes the decoded data to sink, reads trailers (checksums and
 * x-amz-trailer-signature) and verifies them. Limits: chunk header line <= 4 KiB,
 * trailers <= 8 KiB. */
struct s3_chunked;
int s3_chunked_new(const struct s3_auth *auth, struct s3_chunked **out);
/* The checksum trailer to expect, from the x-amz-trailer header (s3_chunked_new
 * already takes auth->trailer): its value is computed over the decoded data and
 * compared at finish (-ERR_BAD_DIGEST). -ERR_INVALID for an unknown trailer. A
 * checksum trailer that was not announced makes finish fail (-ERR_BAD_CHUNK). */
int s3_chunked_expect_trailer(struct s3_chunked *c, struct str trailer_header_value);
int s3_chunked_feed(struct s3_chunked *c, const uint8_t *p, size_t n,
                    int (*sink)(void *ctx, const uint8_t *p, size_t n), void *sink_ctx);
/* At the end of the HTTP body: -ERR_INCOMPLETE_BODY unless the final chunk and trailers
 * were complete. */
int s3_chunked_finish(struct s3_chunked *c);
/* A trailer value by lowercase name (after finish). */
bool s3_chunked_trailer(const struct s3_chunked *c, const char *lname, struct str *value);
uint64_t s3_chunked_decoded_len(const struct s3_chunked *c);
void s3_chunked_free(struct s3_chunked *c);

/* ---- checksums (x-amz-checksum-*) ---------------------------------------------- */

struct s3_cksum {
    enum s3_cksum_alg alg;
    uint32_t crc;
    void *h; /* struct crypto_hash * for sha1/sha256 */
};
/* "crc32" / "x-amz-checksum-crc32" / "CRC32" -> alg; S3_CKSUM_NONE if unknown. */
enum s3_cksum_alg s3_cksum_alg_parse(struct str name);
const char *s3_cksum_header(enum s3_cksum_alg alg); /* "x-amz-checksum-crc32" */
int s3_cksum_init(struct s3_cksum *c, enum s3_cksum_alg alg);
void s3_cksum_update(struct s3_cksum *c, const void *p, size_t n);
/* Base64 of the digest into out (NUL-terminated, >= 48 bytes). Releases the state. */
int s3_cksum_final(struct s3_cksum *c, char *out, size_t cap);
void s3_cksum_release(struct s3_cksum *c);

/* ---- XML (s3_xml.c) ------------------------------------------------------------ */

/* Escape text for XML element content and attribute values (&, <, >, ", '). */
int s3_xml_escape(struct buf *b, struct str s);
/* Parse a request body with expat. For every element with text, calls
 * fn(ctx, path, text) where path is the element path without the root's namespace,
 * e.g. "Delete/Object/Key"; also at the end of every element with text = NULL
 * (so a caller can close a record, e.g. "Delete/Object"). Limits: depth 8, text of an
 * element 4 KiB. Returns 0 or -ERR_MALFORMED_XML (or fn's negative result). */
int s3_xml_parse(struct str body, int (*fn)(void *ctx, const char *path, const char *text),
                 void *ctx);

/* ---- the S3 API request handler (s3_api.c) -------------------------------------- */

struct store;
struct meta;
struct stats;
struct s3_api_config {
    struct store *store;
    s3_secret_fn secret; /* access keys */
    void *secret_ctx;
    const char *region;    /* "us-east-1" */
    uint64_t max_put_size; /* single PUT and part ceiling, default 5 GiB */
    /* Names the S3 API must refuse as buckets because other routes own them. */
    const char *const *reserved; /* NULL-terminated */
    /* Links minted by the gate carry signed x-tollgate-* parameters: a GET or HEAD
     * with them is also checked here (epoch, revocation, max_downloads). count is true
     * for a download that counts (a GET from the start of the object, not a HEAD, not
     * a link-preview bot). Returns 0 or -ERR_ACCESS_DENIED. NULL: no gate. */
    int (*redeem)(void *ctx, struct str query, bool count, int64_t now);
    void *redeem_ctx;
    /* Where bucket lifecycle configurations are kept (meta_lc_rules_*); NULL: the
     * lifecycle sub-resource answers NotImplemented. */
    struct meta *meta;
    /* Analytics: one event per request (a download for a GET through a gate link, an
     * S3 call otherwise; a refused link is a rejection). NULL: none. */
    struct stats *stats;
};
struct s3_api;
int s3_api_new(const struct s3_api_config *cfg, struct s3_api **out);
void s3_api_free(struct s3_api *api);
/* The http handler that serves path-style S3 requests. */
void s3_api_handler(struct s3_api *api, struct http_handler *out);

#define S3_XML_BODY_MAX (4u << 20) /* DeleteObjects of 1000 long keys fits */
#define S3_USER_META_MAX 2048      /* x-amz-meta-* names + values, as S3 */

/* ---- the S3 client (s3_client.c) ----------------------------------------------- */

/* A client for a remote S3-compatible store over libcurl, signing with the SigV4 code
 * above (the same canonical request and signing key the server verifies with). One
 * struct s3_client may be used by one thread at a time; a multipart upload runs its
 * parts on up to S3_CLIENT_PARALLEL_MAX threads of its own. Every failure leaves a
 * sentence in s3_client_error(): endpoint, operation, key, HTTP status and the S3
 * error Code/Message -- never the secret nor the Authorization header. */
#define S3_CLIENT_RETRIES_DEFAULT 4 /* attempts after the first */
#define S3_CLIENT_RETRIES_MAX 10
#define S3_CLIENT_BACKOFF_BASE_MS 100u  /* first retry waits up to this */
#define S3_CLIENT_BACKOFF_CAP_MS 10000u /* no single wait is longer */
#define S3_CLIENT_PART_MIN (5ull << 20) /* S3's smallest part (but the last) */
#define S3_CLIENT_PART_DEFAULT (8ull << 20)
#define S3_CLIENT_THRESHOLD_DEFAULT (64ull << 20)
#define S3_CLIENT_PARTS_MAX 10000
#define S3_CLIENT_PARALLEL_MAX 4
#define S3_CLIENT_DELETE_BATCH 1000   /* keys per DeleteObjects request */
#define S3_CLIENT_XML_MAX (16u << 20) /* a response body the client parses */
#define S3_CLIENT_ERR_MAX 512
#define S3_CLIENT_UPLOAD_ID_MAX 1024 /* AWS's are ~100 bytes, R2's ~200 */

struct s3_client_config {
    const char *endpoint; /* "https://host[:port]", no path */
    const char *region;   /* "us-east-1"; R2: "auto" */
    const char *bucket;
    bool virtual_host; /* bucket.host/key instead of host/bucket/key */
    const char *akid, *secret;
    long connect_timeout_ms; /* 0: 10 s */
    long timeout_ms;         /* a whole request, 0: none (a low-speed limit applies) */
    int retries; /* 0: S3_CLIENT_RETRIES_DEFAULT; < 0: none; at most S3_CLIENT_RETRIES_MAX */
    uint64_t multipart_threshold; /* 0: S3_CLIENT_THRESHOLD_DEFAULT; bodies >= go multipart */
    uint64_t part_size;           /* 0: S3_CLIENT_PART_DEFAULT; >= S3_CLIENT_PART_MIN */
    int parallel;                 /* 0: S3_CLIENT_PARALLEL_MAX */
};
struct s3_client;
int s3_client_new(const struct s3_client_config *cfg, struct s3_client **out);
void s3_client_free(struct s3_client *c);               /* NULL-safe; wipes the secret */
const char *s3_client_error(const struct s3_client *c); /* "" when none */

struct s3_client_obj {
    uint64_t size; /* HEAD: Content-Length; GET: bytes delivered */
    char etag[80]; /* as sent, with quotes */
    int64_t mtime; /* Last-Modified, 0 if absent */
};
/* PUT a body of `size` bytes read from fd at offset 0 (pread: fd need not be at 0).
 * sha256: the body's digest, signed as x-amz-content-sha256; NULL: UNSIGNED-PAYLOAD.
 * At or above the multipart threshold it becomes a multipart upload (aborted on
 * failure). */
int s3_client_put_fd(struct s3_client *c, const char *key, int fd, uint64_t size,
                     const uint8_t *sha256, struct s3_client_obj *out);
/* GET: the whole object (len == 0) or bytes off..off+len-1, to sink. A retry happens
 * only while nothing has reached the sink. */
typedef int (*s3_client_sink_fn)(void *ctx, const void *p, size_t n);
int s3_client_get(struct s3_client *c, const char *key, uint64_t off, uint64_t len,
                  s3_client_sink_fn sink, void *ctx, struct s3_client_obj *out);
int s3_client_get_fd(struct s3_client *c, const char *key, uint64_t off, uint64_t len, int fd,
                     struct s3_client_obj *out);
int s3_client_head(struct s3_client *c, const char *key, struct s3_client_obj *out);
int s3_client_delete(struct s3_client *c, const char *key);
/* DeleteObjects in batches of S3_CLIENT_DELETE_BATCH; a key S3 reports as not deleted
 * fails the call (missing keys are not an error, as in S3). */
int s3_client_delete_many(struct s3_client *c, const char *const *keys, size_t n);
/* ListObjectsV2 under prefix (NULL: all), every page; fn per object, in order. */
typedef int (*s3_client_list_fn)(void *ctx, const char *key, uint64_t size, const char *etag);
int s3_client_list(struct s3_client *c, const char *prefix, s3_client_list_fn fn, void *ctx);

/* HEAD, also collecting every response header as "Name: value\n" lines in hdr_lines. */
int s3_client_head_hdrs(struct s3_client *c, const char *key, struct s3_client_obj *out,
                        struct buf *hdr_lines);
/* GET as s3_client_get, sent with If-Match: etag (quoted or not) when if_match is set: a
 * changed object fails with -ERR_PRECONDITION. */
int s3_client_get_if(struct s3_client *c, const char *key, uint64_t off, uint64_t len,
                     const char *if_match, s3_client_sink_fn sink, void *ctx,
                     struct s3_client_obj *out);
/* PUT as s3_client_put_fd with extra request headers (name, value pairs: Content-Type,
 * x-amz-meta-*, Content-Disposition, ...), signed; at most 40 pairs. A condition
 * (If-None-Match: *, If-Match: "etag") goes on the PUT, or on the Complete of a
 * multipart upload; a remote that lost a conditional race answers -ERR_PRECONDITION. */
int s3_client_put_fd_hdrs(struct s3_client *c, const char *key, int fd, uint64_t size,
                          const uint8_t *sha256, const char *const *hdrs, size_t n_hdrs,
                          struct s3_client_obj *out);
/* One ListObjectsV2 page: keys under prefix strictly after `after` (start-after), at
 * most max (1..1000), with LastModified (microseconds: the listing's milliseconds are
 * kept); *truncated when more follow. */
typedef int (*s3_client_list2_fn)(void *ctx, const char *key, uint64_t size, const char *etag,
                                  int64_t mtime_us);
int s3_client_list_page(struct s3_client *c, const char *prefix, const char *after, unsigned max,
                        s3_client_list2_fn fn, void *ctx, bool *truncated);
/* ListMultipartUploads under prefix, every page: fn per upload in progress. */
typedef int (*s3_client_upload_fn)(void *ctx, const char *key, const char *upload_id,
                                   int64_t initiated);
int s3_client_uploads(struct s3_client *c, const char *prefix, s3_client_upload_fn fn, void *ctx);
int s3_client_mpu_abort(struct s3_client *c, const char *key, const char *upload_id);

/* Multipart calls one by one (the gateway passes a client's upload through). */
int s3_client_mpu_create(struct s3_client *c, const char *key, const char *const *hdrs,
                         size_t n_hdrs, char *upload_id, size_t cap);
/* UploadPart of fd's first size bytes; sha256 NULL: UNSIGNED-PAYLOAD. out->etag quoted. */
int s3_client_mpu_part(struct s3_client *c, const char *key, const char *upload_id, unsigned part,
                       int fd, uint64_t size, const uint8_t *sha256, struct s3_client_obj *out);
struct s3_client_part {
    unsigned number;
    char etag[80]; /* as the remote sent it */
    uint64_t size;
    int64_t mtime; /* seconds */
};
/* out->etag: the object's (quoted); a failure S3 puts in a 200 answer is a failure. */
int s3_client_mpu_complete(struct s3_client *c, const char *key, const char *upload_id,
                           const struct s3_client_part *parts, size_t n, struct s3_client_obj *out);
/* One ListParts page: parts numbered above marker, at most max (1..1000). */
typedef int (*s3_client_part_fn)(void *ctx, const struct s3_client_part *p);
int s3_client_mpu_parts(struct s3_client *c, const char *key, const char *upload_id,
                        unsigned marker, unsigned max, s3_client_part_fn fn, void *ctx,
                        bool *truncated);

/* Buckets. The client addresses one bucket at a time: cfg's, or the last set here. */
int s3_client_set_bucket(struct s3_client *c, const char *bucket);
int s3_client_bucket_create(struct s3_client *c); /* -ERR_EXISTS: owned already */
int s3_client_bucket_head(struct s3_client *c);   /* -ERR_NO_SUCH_BUCKET when missing */
int s3_client_bucket_delete(struct s3_client *c);
/* ListBuckets: fn per bucket the keys can see (created: seconds). */
typedef int (*s3_client_bucket_fn)(void *ctx, const char *name, int64_t created);
int s3_client_buckets(struct s3_client *c, s3_client_bucket_fn fn, void *ctx);

/* ---- the store's remote backend over the client (s3_remote.c) ---- */
/* The operations of store.h's remote backend on cfg's bucket; impl for
 * store_open_remote (which then owns it). Checks cfg as s3_client_new does. */
struct store_remote_ops;
extern const struct store_remote_ops s3_remote_ops;
int s3_remote_new(const struct s3_client_config *cfg, void **impl);

/* Pure parts, exposed for the unit tests. */
/* The headers of a signed request, one "Name: value\n" line each: the caller's headers
 * (name, value pairs, any case), then Host, x-amz-content-sha256, x-amz-date and
 * Authorization; every header is signed. path/query: raw, as sent. */
int s3_client_sign_headers(const struct s3_client_config *cfg, const char *method, const char *path,
                           const char *query, const char *const *hdrs, size_t n_hdrs,
                           const char *payload_hash, int64_t now, struct buf *out);
/* The host (host[:port] or bucket.host[:port]) and path ("/bucket/key" or "/key",
 * percent-encoded) a key is addressed at. */
int s3_client_target(const struct s3_client_config *cfg, const char *key, struct buf *host,
                     struct buf *path);
/* A ListObjectsV2 page: fn per Contents; *truncated and the next token (may be empty). */
int s3_client_list_parse(struct str body, s3_client_list_fn fn, void *ctx, bool *truncated,
                         struct buf *next_token);
/* An S3 error body: Code and Message (NUL-terminated, truncated to cap). -ERR_NOT_FOUND
 * when the body is not an <Error>. */
int s3_client_error_parse(struct str body, char *code, size_t code_cap, char *msg, size_t msg_cap);
/* The wait before retry `attempt` (1, 2, ...): full jitter, rnd picks a point in
 * [0, min(S3_CLIENT_BACKOFF_CAP_MS, S3_CLIENT_BACKOFF_BASE_MS << (attempt - 1))]. */
uint32_t s3_client_backoff_ms(int attempt, uint32_t rnd);

#endif
