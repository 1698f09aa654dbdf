/* util.h -- the bottom layer every module uses: string views and bounded buffers,
 * the project's error codes (one table), hex/base64/URI coding, UTC time with the
 * TOLLGATE_NOW override, calendar math, logging, and the INI configuration.
 *
 * Conventions: fallible functions return 0 (or a count) on success and a negative
 * value on failure: -errno from the system or -ERR_* from the table below.
 * Out-parameters are written only on success. Nothing here allocates behind the
 * caller's back except struct buf and struct cfg, which have explicit release calls. */
#ifndef TG_UTIL_H
#define TG_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ---- string views --------------------------------------------------------- */

/* A borrowed view: not NUL-terminated, not owned. */
struct str {
    const char *ptr;
    size_t len;
};
#define STR_LIT(s) ((struct str){(s), sizeof(s) - 1})
#define STR_NULL ((struct str){NULL, 0})
#define STR_FMT(s) (int)(s).len, (s).ptr /* printf("%.*s", STR_FMT(s)) */

static inline struct str str_c(const char *s)
{
    return (struct str){s, s ? strlen(s) : 0};
}
static inline struct str str_n(const void *p, size_t n)
{
    return (struct str){(const char *)p, n};
}
bool str_eq(struct str a, struct str b);
bool str_eq_c(struct str a, const char *b);
bool str_case_eq_c(struct str a, const char *b); /* ASCII case-insensitive */
bool str_starts(struct str s, const char *prefix);
bool str_ends(struct str s, const char *suffix);
struct str str_trim(struct str s); /* strip leading/trailing spaces and tabs */
/* Split s at the first `sep`: *head is before it, *tail after; false if absent
 * (then *head = s and *tail is empty). */
bool str_split(struct str s, char sep, struct str *head, struct str *tail);
/* Copy into a NUL-terminated array; -ERR_TOO_LONG if it does not fit. */
int str_copy(struct str s, char *dst, size_t cap);
/* FNV-1a, 64 bits, of n bytes (hash tables; not for anything a peer may attack). */
uint64_t fnv1a64(const void *p, size_t n);
/* Parse a whole decimal unsigned integer (no sign, no spaces); -ERR_INVALID otherwise. */
int str_to_u64(struct str s, uint64_t *out);
int str_to_i64(struct str s, int64_t *out);
char *str_dup(struct str s); /* malloc'd, NUL-terminated; NULL on ENOMEM */

/* ---- growable buffer with a hard ceiling ---------------------------------- */

/* Owning, growable, overflow-checked. `max` bounds the length (0 = 64 MiB).
 * The memory is always NUL-terminated past len (when ptr != NULL). */
struct buf {
    char *ptr;
    size_t len, cap, max;
};
#define BUF_INIT                                                                                   \
    {                                                                                              \
        NULL, 0, 0, 0                                                                              \
    }
void buf_init(struct buf *b, size_t max);
void buf_release(struct buf *b); /* frees; leaves an empty buffer; NULL-safe */
void buf_reset(struct buf *b);   /* length 0, keeps memory */
int buf_reserve(struct buf *b, size_t extra);
int buf_add(struct buf *b, const void *p, size_t n);
int buf_adds(struct buf *b, const char *s);
int buf_addstr(struct buf *b, struct str s);
int buf_addc(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* Take the memory out (caller frees); the buffer becomes empty. Never NULL on
 * success: an empty buffer yields "". */
char *buf_take(struct buf *b);

/* A growable list of owned strings. */
struct strv {
    char **v;
    size_t n, cap;
};
int strv_add(struct strv *sv, const char *s); /* copies s; -ERR_NOMEM */
void strv_release(struct strv *sv);           /* frees all; empty again; NULL-safe */
static inline struct str buf_str(const struct buf *b)
{
    return (struct str){b->ptr ? b->ptr : "", b->len};
}
static inline const char *buf_cstr(const struct buf *b)
{
    return b->ptr ? b->ptr : "";
}

/* ---- errors --------------------------------------------------------------- */

/* One table: project error code, HTTP status, S3 error code, message. The S3 API,
 * the portal and the CLI all map through it, so each mapping exists once.
 * Functions return -ERR_x. */
#define TG_ERRORS(X)                                                                               \
    X(ERR_INTERNAL, 500, "InternalError", "We encountered an internal error. Please try again.")   \
    X(ERR_NOMEM, 500, "InternalError", "Out of memory.")                                           \
    X(ERR_IO, 500, "InternalError", "An I/O error occurred on the server.")                        \
    X(ERR_DB, 500, "InternalError", "The metadata database failed.")                               \
    X(ERR_INVALID, 400, "InvalidArgument", "Invalid argument.")                                    \
    X(ERR_TOO_LONG, 400, "InvalidArgument", "Value too long.")                                     \
    X(ERR_NOT_FOUND, 404, "NotFound", "Not found.")                                                \
    X(ERR_EXISTS, 409, "Conflict", "Already exists.")                                              \
    X(ERR_CONFIG, 500, "InternalError", "Invalid configuration.")                                  \
    X(ERR_ACCESS_DENIED, 403, "AccessDenied", "Access Denied")                                     \
    X(ERR_EXPIRED, 403, "AccessDenied", "Request has expired")                                     \
    X(ERR_NOT_YET_VALID, 403, "AccessDenied", "Request is not valid yet")                          \
    X(ERR_SIGNATURE, 403, "SignatureDoesNotMatch",                                                 \
      "The request signature we calculated does not match the signature you provided. Check "      \
      "your key and signing method.")                                                              \
    X(ERR_INVALID_ACCESS_KEY, 403, "InvalidAccessKeyId",                                           \
      "The AWS Access Key Id you provided does not exist in our records.")                         \
    X(ERR_TIME_SKEWED, 403, "RequestTimeTooSkewed",                                                \
      "The difference between the request time and the current time is too large.")                \
    X(ERR_AUTH_QUERY, 400, "AuthorizationQueryParametersError",                                    \
      "Query-string authentication parameters are invalid.")                                       \
    X(ERR_AUTH_HEADER, 400, "AuthorizationHeaderMalformed",                                        \
      "The authorization header is malformed.")                                                    \
    X(ERR_MISSING_AUTH, 403, "AccessDenied", "Access Denied")                                      \
    X(ERR_MISSING_DATE, 403, "AccessDenied",                                                       \
      "AWS authentication requires a valid Date or x-amz-date header")                             \
    X(ERR_CONTENT_SHA256_MISMATCH, 400, "XAmzContentSHA256Mismatch",                               \
      "The provided 'x-amz-content-sha256' header does not match what was computed.")              \
    X(ERR_BAD_DIGEST, 400, "BadDigest",                                                            \
      "The Content-MD5 or checksum you specified did not match what we received.")                 \
    X(ERR_INVALID_DIGEST, 400, "InvalidDigest", "The Content-MD5 you specified is not valid.")     \
    X(ERR_MISSING_CONTENT_MD5, 400, "InvalidRequest",                                              \
      "Missing required header for this request: Content-MD5")                                     \
    X(ERR_CHUNK_SIGNATURE, 403, "SignatureDoesNotMatch",                                           \
      "The chunk signature we calculated does not match the signature you provided.")              \
    X(ERR_BAD_CHUNK, 400, "IncompleteBody", "The chunked request body is malformed.")              \
    X(ERR_INCOMPLETE_BODY, 400, "IncompleteBody",                                                  \
      "You did not provide the number of bytes specified by the Content-Length HTTP header.")      \
    X(ERR_MISSING_LENGTH, 411, "MissingContentLength",                                             \
      "You must provide the Content-Length HTTP header.")                                          \
    X(ERR_ENTITY_TOO_LARGE, 400, "EntityTooLarge",                                                 \
      "Your proposed upload exceeds the maximum allowed object size.")                             \
    X(ERR_ENTITY_TOO_SMALL, 400, "EntityTooSmall",                                                 \
      "Your proposed upload is smaller than the minimum allowed object size.")                     \
    X(ERR_KEY_TOO_LONG, 400, "KeyTooLongError", "Your key is too long.")                           \
    X(ERR_INVALID_KEY, 400, "InvalidArgument", "Object key is not valid.")                         \
    X(ERR_INVALID_BUCKET_NAME, 400, "InvalidBucketName", "The specified bucket is not valid.")     \
    X(ERR_NO_SUCH_BUCKET, 404, "NoSuchBucket", "The specified bucket does not exist.")             \
    X(ERR_NO_SUCH_KEY, 404, "NoSuchKey", "The specified key does not exist.")                      \
    X(ERR_NO_SUCH_UPLOAD, 404, "NoSuchUpload",                                                     \
      "The specified multipart upload does not exist. The upload ID may be invalid, or the "       \
      "upload may have been aborted or completed.")                                                \
    X(ERR_BUCKET_NOT_EMPTY, 409, "BucketNotEmpty", "The bucket you tried to delete is not empty.") \
    X(ERR_BUCKET_EXISTS, 409, "BucketAlreadyExists",                                               \
      "The requested bucket name is not available.")                                               \
    X(ERR_INVALID_PART, 400, "InvalidPart",                                                        \
      "One or more of the specified parts could not be found or its entity tag did not match.")    \
    X(ERR_INVALID_PART_ORDER, 400, "InvalidPartOrder",                                             \
      "The list of parts was not in ascending order.")                                             \
    X(ERR_INVALID_PART_NUMBER, 400, "InvalidArgument",                                             \
      "Part number must be an integer between 1 and 10000, inclusive.")                            \
    X(ERR_MALFORMED_XML, 400, "MalformedXML",                                                      \
      "The XML you provided was not well-formed or did not validate against our published "        \
      "schema.")                                                                                   \
    X(ERR_RANGE, 416, "InvalidRange", "The requested range is not satisfiable")                    \
    X(ERR_PRECONDITION, 412, "PreconditionFailed",                                                 \
      "At least one of the pre-conditions you specified did not hold")                             \
    X(ERR_NOT_MODIFIED, 304, "NotModified", "Not Modified")                                        \
    X(ERR_NOT_IMPLEMENTED, 501, "NotImplemented",                                                  \
      "A header or query you provided implies functionality that is not implemented.")             \
    X(ERR_METHOD_NOT_ALLOWED, 405, "MethodNotAllowed",                                             \
      "The specified method is not allowed against this resource.")                                \
    X(ERR_INVALID_REQUEST, 400, "InvalidRequest", "Invalid request.")                              \
    X(ERR_HEADERS_TOO_LARGE, 400, "RequestHeaderSectionTooLarge",                                  \
      "Your request header section exceeds the maximum allowed size.")                             \
    X(ERR_TOO_MANY_KEYS, 400, "MalformedXML",                                                      \
      "A DeleteObjects request may name at most 1000 keys.")                                       \
    X(ERR_COPY_SOURCE, 400, "InvalidArgument",                                                     \
      "Copy Source must mention the source bucket and key.")                                       \
    X(ERR_METADATA_TOO_LARGE, 400, "MetadataTooLarge",                                             \
      "Your metadata headers exceed the maximum allowed metadata size.")                           \
    X(ERR_COPY_TO_ITSELF, 400, "InvalidRequest",                                                   \
      "This copy request is illegal because it is trying to copy an object to itself without "     \
      "changing the object's metadata.")                                                           \
    X(ERR_ANONYMOUS, 403, "AccessDenied", "Anonymous access is not allowed; sign the request.")    \
    X(ERR_RATE_LIMITED, 429, "SlowDown", "Please reduce your request rate.")                       \
    X(ERR_UNAVAILABLE, 503, "ServiceUnavailable",                                                  \
      "The service is temporarily unavailable (shutting down, or its database is unreachable).")   \
    X(ERR_REMOTE, 503, "ServiceUnavailable",                                                       \
      "The object store behind this server cannot be reached; please try again shortly.")          \
    X(ERR_NO_SUCH_LIFECYCLE, 404, "NoSuchLifecycleConfiguration",                                  \
      "The lifecycle configuration does not exist.")

enum tg_err {
    ERR_NONE = 1000, /* project codes start above any errno */
#define TG_ERR_ENUM(name, status, code, msg) name,
    TG_ERRORS(TG_ERR_ENUM)
#undef TG_ERR_ENUM
        ERR_LAST
};
/* rc is a negative return value: -ERR_x or -errno. */
int err_http_status(int rc);
const char *err_s3_code(int rc);
const char *err_message(int rc); /* for -errno: strerror() */
const char *err_name(int rc);    /* "ERR_NO_SUCH_KEY" or "errno N" */

/* ---- hex, base64, URI ------------------------------------------------------ */

void hex_encode(const void *in, size_t n, char *out);    /* writes 2n chars + NUL */
int hex_decode(struct str in, uint8_t *out, size_t cap); /* returns bytes written */
size_t b64_encoded_len(size_t n);                        /* without NUL */
void b64_encode(const void *in, size_t n, char *out);    /* standard, padded, NUL-terminated */
int b64_decode(struct str in, uint8_t *out, size_t cap); /* standard; returns bytes */
void b64url_encode(const void *in, size_t n, char *out); /* URL-safe, unpadded */
int b64url_decode(struct str in, uint8_t *out, size_t cap);
/* RFC 3986 percent-encoding as SigV4 wants it: unreserved kept, everything else %XX
 * (uppercase); '/' kept when keep_slash. */
int uri_encode(struct buf *b, struct str s, bool keep_slash);
/* Percent-decode into b; '+' is kept as '+' (S3 paths), unless plus_space. */
int uri_decode(struct buf *b, struct str s, bool plus_space);
/* Find a query parameter in a raw query string ("a=1&b=2"); value is raw
 * (still encoded). Returns true if present (value may be empty). */
bool query_get(struct str query, const char *name, struct str *value);
/* The same, percent-decoded into out (NUL-terminated); -ERR_NOT_FOUND if absent. */
int query_get_decoded(struct str query, const char *name, struct buf *out);

/* ---- time ------------------------------------------------------------------ */

/* Current UTC time. Honours TOLLGATE_NOW=<ISO 8601 UTC>: the clock starts at that
 * instant when tg_time_init() runs and advances with real elapsed time. */
int tg_time_init(void); /* reads TOLLGATE_NOW once; warns on stderr; -ERR_INVALID if bad */
int64_t tg_now_us(void);
int64_t tg_now(void);          /* seconds */
int64_t tg_monotonic_us(void); /* for durations */

/* Calendar math on the proleptic Gregorian calendar (UTC, no leap seconds). */
int64_t days_from_civil(int y, int m, int d);
void civil_from_days(int64_t days, int *y, int *m, int *d);
int weekday_from_days(int64_t days); /* 0 = Monday */
/* Formats; every out buffer needs TG_TIME_BUF bytes. */
#define TG_TIME_BUF 40
void time_fmt_iso8601(int64_t t, char *out);     /* 2026-02-13T00:00:00Z */
void time_fmt_iso8601_ms(int64_t us, char *out); /* 2026-02-13T00:00:00.000Z (S3 XML) */
void time_fmt_http(int64_t t, char *out);        /* Fri, 13 Feb 2026 00:00:00 GMT */
void time_fmt_amz(int64_t t, char *out);         /* 20260213T000000Z */
void time_fmt_date(int64_t t, char *out);        /* 2026-02-13 */
/* Parsers accept exactly their format; -ERR_INVALID otherwise. */
int time_parse_iso8601(struct str s, int64_t *out);       /* ...Z, optional .fraction, or +00:00 */
int time_parse_iso8601_us(struct str s, int64_t *out_us); /* the same, in microseconds */
int time_parse_http(struct str s, int64_t *out);          /* RFC 1123 (and RFC 850 / asctime) */
int time_parse_amz(struct str s, int64_t *out);           /* 20260213T000000Z */
int time_parse_date(struct str s, int64_t *out);          /* 2026-02-13 -> 00:00:00 that day */
/* Durations like "90", "30s", "15m", "24h", "7d", "6d20h" -> seconds. */
int duration_parse(struct str s, int64_t *out);
/* Sizes like "5GiB", "5G", "100MiB", "4096" -> bytes. */
int size_parse(struct str s, uint64_t *out);

/* ---- user agents ------------------------------------------------------------- */

/* True for the crawlers that fetch a URL to draw a link preview (Slack, Discord,
 * Telegram, Twitter/X, Facebook, WhatsApp, LinkedIn, Skype, iMessage) and search
 * bots: their fetches never count as a use or a download. */
bool ua_is_link_preview(struct str user_agent);

/* ---- logging ---------------------------------------------------------------- */

enum tg_log_level { TG_LOG_DEBUG, TG_LOG_INFO, TG_LOG_WARN, TG_LOG_ERROR };
void tg_log_set_level(enum tg_log_level lvl);
void tg_log(enum tg_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define tg_log_debug(...) tg_log(TG_LOG_DEBUG, __VA_ARGS__)
#define tg_log_info(...) tg_log(TG_LOG_INFO, __VA_ARGS__)
#define tg_log_warn(...) tg_log(TG_LOG_WARN, __VA_ARGS__)
#define tg_log_error(...) tg_log(TG_LOG_ERROR, __VA_ARGS__)

/* ---- configuration (INI, via inih) ----------------------------------------- */

/* All entries of a file, in order. Sections may repeat a kind with a name:
 * "[grant tier2]" has section "grant tier2". Lookups are exact and
 * case-sensitive. Modules read what they own and validate it themselves;
 * cfg_check_known() reports keys nobody reads. */
struct cfg_entry {
    char *section, *key, *value;
    int line;
};
struct cfg {
    char *path; /* the file, absolute */
    char *dir;  /* its directory: relative paths in the file resolve from here */
    struct cfg_entry *entries;
    size_t n;
};
/* Loads a file. On error *err gets "FILE:LINE: reason" (caller frees). */
int cfg_load(const char *path, struct cfg *out, char **err);
void cfg_release(struct cfg *c);
const struct cfg_entry *cfg_find(const struct cfg *c, const char *section, const char *key);
const char *cfg_get(const struct cfg *c, const char *section, const char *key, const char *def);
/* Typed getters: on a bad value they return -ERR_CONFIG and set *err to
 * "FILE:LINE: [section] key: reason" (caller frees). Absent keys give def. */
int cfg_get_u64(const struct cfg *c, const char *section, const char *key, uint64_t def,
                uint64_t *out, char **err);
int cfg_get_size(const struct cfg *c, const char *section, const char *key, uint64_t def,
                 uint64_t *out, char **err);
int cfg_get_duration(const struct cfg *c, const char *section, const char *key, int64_t def,
                     int64_t *out, char **err);
int cfg_get_bool(const struct cfg *c, const char *section, const char *key, bool def, bool *out,
                 char **err);
/* Resolve a path from the config relative to the config file's directory (malloc'd). */
char *cfg_path(const struct cfg *c, const char *value);
/* Allowed keys: a NULL-terminated list of "section.key" ("grant *.title" matches any
 * named grant section). The first unknown key gives -ERR_CONFIG with *err set. */
int cfg_check_known(const struct cfg *c, const char *const *allowed, char **err);

/* ---- files ------------------------------------------------------------------- */

/* Write all n bytes to fd (retrying short writes and EINTR): 0 or -errno (-ERR_IO on 0). */
int fd_write_all(int fd, const void *p, size_t n);
/* Write a whole file atomically: tmp in the same directory, fsync, rename, fsync dir. */
int file_write_atomic(const char *path, const void *data, size_t n, int mode);
int file_read_all(const char *path, struct buf *out, size_t max);
int dir_fsync(const char *dir);
int mkdir_p(const char *path, int mode);

#endif
