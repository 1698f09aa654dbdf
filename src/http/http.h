/* http.h -- the HTTP server: libmicrohttpd hidden behind this interface so it could
 * be replaced. Owns: the listening socket and worker threads, routing by path prefix,
 * request accessors, responses (memory, file descriptor with sendfile/large reads,
 * streamed callback), Range and conditional-request helpers, limits and timeouts,
 * graceful drain, and the one access-log line per request.
 *
 * Request life cycle, per request, all calls on one worker thread:
 *   on_headers(req)         headers complete. Either answer now (http_respond) --
 *                           the body, if any, is then discarded and the connection
 *                           closed -- or return 0 to receive the body.
 *   on_body(req, p, n)*     body bytes as they arrive (already de-chunked if the
 *                           client used Transfer-Encoding: chunked). Return <0 to
 *                           stop: the handler must then have called http_respond.
 *   on_done(req)            body complete (also called for requests without body);
 *                           must call http_respond exactly once unless it already did.
 *   on_free(req)            always last, also after aborts and client disconnects:
 *                           release the per-request state (http_req_data).
 * `Expect: 100-continue` is answered at once when on_headers returns 0 without
 * responding. */
#ifndef TG_HTTP_H
#define TG_HTTP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/util.h"

struct http_server;
struct http_req;  /* opaque, lives from on_headers until on_free */
struct http_resp; /* opaque, built then handed to http_respond */

struct http_handler {
    const char *name; /* route kind for logs and metrics: "s3", "portal", "health" */
    int (*on_headers)(struct http_req *req, void *app);
    int (*on_body)(struct http_req *req, void *app, const uint8_t *p, size_t n);
    void (*on_done)(struct http_req *req, void *app);
    void (*on_free)(struct http_req *req, void *app);
    void *app;
};

struct http_config {
    const char *listen;        /* "127.0.0.1:8080", "[::1]:8080", ":8080" */
    unsigned threads;          /* worker threads; 0 = chosen from connection_limit */
    unsigned connection_limit; /* total connections; default 4096 */
    unsigned header_timeout_s; /* whole request head must arrive within; default 10 */
    unsigned idle_timeout_s;   /* no progress for this long closes; default 60 */
    size_t max_header_bytes;   /* request line + headers; default 16 KiB */
    unsigned drain_timeout_s;  /* on stop, in-flight requests get this long; default 5 */
    bool log_requests;         /* one line per request (default on) */
};

int http_server_new(const struct http_config *cfg, struct http_server **out);
/* Routes: the longest matching prefix wins ("/healthz" matches "/healthz" and
 * "/healthz?..." but a prefix ending in '/' matches a subtree). The default handler
 * takes everything else. Register before http_server_start. */
int http_server_route(struct http_server *s, const char *prefix, const struct http_handler *h);
void http_server_default(struct http_server *s, const struct http_handler *h);
int http_server_start(struct http_server *s);
uint16_t http_server_port(const struct http_server *s); /* the bound port (after start) */
/* Stop accepting, let in-flight requests finish for up to drain_timeout_s, close. */
void http_server_stop(struct http_server *s);
void http_server_free(struct http_server *s);

/* ---- request ------------------------------------------------------------------- */

struct str http_req_method(const struct http_req *r); /* "GET" */
struct str http_req_path(const struct http_req *r);   /* raw, still percent-encoded */
struct str http_req_query(const struct http_req *r);  /* raw, after '?', may be empty */
/* Header by case-insensitive name; false if absent. Several headers of one name are
 * joined with "," as HTTP allows. */
bool http_req_header(const struct http_req *r, const char *name, struct str *value);
/* Visit every header (name as sent, value trimmed). Stop early by returning non-zero. */
int http_req_headers_each(const struct http_req *r,
                          int (*fn)(void *ctx, struct str name, struct str value), void *ctx);
/* Content-Length, or -1 when absent (e.g. Transfer-Encoding: chunked). */
int64_t http_req_content_length(const struct http_req *r);
/* Bytes of body delivered so far. */
uint64_t http_req_body_received(const struct http_req *r);
/* Client address as text ("127.0.0.1"); never logged by this module. */
const char *http_req_client_addr(const struct http_req *r);
void http_req_set_data(struct http_req *r, void *data);
void *http_req_data(const struct http_req *r);
/* In on_free (and after): the status answered (0: none) and the body bytes sent -- the
 * whole body when the transfer completed, what a stream produced, 0 when a body of
 * known length was cut (the library does not report partial sendfile progress). */
int http_req_status(const struct http_req *r);
uint64_t http_req_bytes_sent(const struct http_req *r);
/* Requests finished so far, per route kind (the handler's name, "none" when unrouted)
 * and status class (0: no status, 1..5: 1xx..5xx), with the body bytes sent. */
#define HTTP_KINDS_MAX 16
int http_server_counts_each(const struct http_server *s,
                            int (*fn)(void *ctx, const char *kind, int status_class,
                                      uint64_t requests, uint64_t bytes),
                            void *ctx);
/* Received time of the request head (tg_now_us clock). */
int64_t http_req_start_us(const struct http_req *r);
/* Set text added to this request's log line (e.g. "op=PutObject"); copied. Never put a
 * secret, token or signature here. */
void http_req_log_note(struct http_req *r, const char *note);

/* ---- responses ----------------------------------------------------------------- */

/* From memory. copy=true copies; otherwise `body` must be malloc'd and is freed by
 * the response (ownership passes on success and on failure). */
struct http_resp *http_resp_mem(int status, void *body, size_t len, bool copy);
/* The bytes [off, off+len) of an open file; the response owns fd and closes it. */
struct http_resp *http_resp_fd(int status, int fd, uint64_t off, uint64_t len);
/* Streamed: fill(ctx, pos, out, cap) returns bytes written (>0), 0 at the end
 * (only when len is unknown: len = UINT64_MAX), or <0 to abort the connection.
 * free_ctx is called once when the response is destroyed. */
struct http_resp *http_resp_stream(int status, uint64_t len,
                                   ssize_t (*fill)(void *ctx, uint64_t pos, char *out, size_t cap),
                                   void *ctx, void (*free_ctx)(void *ctx));
/* Streams that wait (Server-Sent Events): like http_resp_stream with an unknown length,
 * but fill may also return HTTP_STREAM_WAIT when it has nothing to send yet. The
 * connection is then parked -- no thread blocked, no idle timeout -- until the producer
 * calls http_waker_wake() (from any thread; a wake that comes before the park is kept).
 * *waker gets one reference for the producer, released with http_waker_release(); the
 * response holds the other. When the server stops, parked streams are woken and ended. */
#define HTTP_STREAM_WAIT (-11)
struct http_waker;
struct http_resp *
http_resp_stream_wait(int status, ssize_t (*fill)(void *ctx, uint64_t pos, char *out, size_t cap),
                      void *ctx, void (*free_ctx)(void *ctx), struct http_waker **waker);
void http_waker_wake(struct http_waker *w);    /* NULL-safe */
void http_waker_release(struct http_waker *w); /* NULL-safe */
/* Headers: name/value copied. Content-Length is set by the library. */
int http_resp_header(struct http_resp *resp, const char *name, const char *value);
/* Queue the response (takes ownership of resp, also on failure). Returns 0 or <0. */
int http_respond(struct http_req *r, struct http_resp *resp);
/* Shortcut: status + body text + content type. */
int http_respond_text(struct http_req *r, int status, const char *content_type, const char *body);
bool http_req_responded(const struct http_req *r);

/* ---- helpers --------------------------------------------------------------------- */

/* Range: a single "bytes=a-b", "bytes=a-" or "bytes=-n" against an object of `size`
 * bytes. -ERR_RANGE when unsatisfiable (416), -ERR_INVALID when malformed (the caller
 * then ignores the header and sends the whole object, as S3 does). Multiple ranges
 * give -ERR_NOT_IMPLEMENTED. */
struct http_range {
    uint64_t off, len;
};
int http_range_parse(struct str header, uint64_t size, struct http_range *out);

/* Conditional request evaluation (RFC 9110 section 13.2.2 order as S3 applies it):
 * If-Match, If-Unmodified-Since, If-None-Match, If-Modified-Since. etag is the quoted
 * ETag. Returns 0 to proceed, -ERR_PRECONDITION (412) or -ERR_NOT_MODIFIED (304). */
struct http_cond {
    struct str if_match, if_none_match, if_modified_since, if_unmodified_since;
};
int http_cond_eval(const struct http_cond *c, struct str etag, int64_t mtime_s);
/* Fill a http_cond from the request's headers (names as HTTP; S3 copy uses its own). */
void http_cond_from_req(const struct http_req *r, struct http_cond *c);

#endif
