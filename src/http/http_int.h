/* http_int.h -- private to src/http: the request and response objects shared by
 * http_server.c (life cycle, MHD callbacks), http_req.c (accessors) and http_resp.c
 * (responses). Nothing outside src/http includes this.
 *
 * Ownership: a struct http_req is created by the URI-log callback when MHD has read a
 * request line, and freed by http_req_finish() exactly once: at MHD's
 * NOTIFY_COMPLETED if the access handler saw it, otherwise when the connection closes.
 * A struct http_resp is owned by the caller until http_respond(), then by the request
 * until it is queued, then by MHD (refcounted). */
#ifndef TG_HTTP_INT_H
#define TG_HTTP_INT_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>

#include "http/http.h"

#define HTTP_LOG_NOTE_MAX 160
#define HTTP_LOG_PATH_MAX 512

struct http_conn; /* per TCP connection, http_server.c */

enum http_req_state {
    HTTP_REQ_NEW,    /* request line seen, access handler not yet called */
    HTTP_REQ_HEAD,   /* on_headers ran; receiving body or waiting for the final call */
    HTTP_REQ_QUEUED, /* a response was handed to MHD */
};

/* Strings the request must keep until it is freed (joined header values). */
struct http_req_alloc {
    struct http_req_alloc *next;
    char data[];
};

struct http_req {
    struct http_server *srv;
    struct http_conn *conn;
    struct MHD_Connection *mc;
    const struct http_handler *h; /* NULL until routed */
    enum http_req_state state;
    bool presented;    /* MHD called the access handler: NOTIFY_COMPLETED will follow */
    bool responded;    /* http_respond was called */
    bool body_stopped; /* on_body returned <0 or the handler answered: discard the rest */
    char *uri;         /* raw request target as sent, NUL-terminated (owned) */
    struct str method, path, query;
    int64_t start_us, start_mono_us;
    uint64_t body_received;
    struct http_resp *pending; /* answered but not yet queued */
    int status;
    uint64_t resp_len;         /* body length of the answer (UINT64_MAX unknown) */
    _Atomic uint64_t streamed; /* bytes produced by a stream of unknown length */
    bool finished_ok;          /* set before on_free */
    bool head;                 /* HEAD: no body is sent */
    void *data;
    char client[64];
    char note[HTTP_LOG_NOTE_MAX];
    struct http_req_alloc *allocs;
};

enum http_resp_kind { HTTP_RESP_MEM, HTTP_RESP_FD, HTTP_RESP_STREAM };

struct http_resp {
    struct MHD_Response *mr;
    int status;
    enum http_resp_kind kind;
    uint64_t len; /* UINT64_MAX: unknown */
    bool has_server;
    struct http_stream *stream; /* HTTP_RESP_STREAM only: to count bytes */
};

/* Stream adapter (http_resp.c); `req` is set when the response is queued. */
struct http_stream {
    ssize_t (*fill)(void *ctx, uint64_t pos, char *out, size_t cap);
    void (*free_ctx)(void *ctx);
    void *ctx;
    uint64_t len;
    _Atomic uint64_t *counter; /* &req->streamed once queued; fill runs only while live */
    struct http_waker *waker;  /* http_resp_stream_wait only */
};

/* A parked-stream handle (http_resp.c): refs = the response + the producer. Lock order:
 * the server's mu, then the waker's mu. */
struct http_waker {
    pthread_mutex_t mu;
    int refs;
    bool dead, parked, pending;
    struct MHD_Connection *mc;
    struct http_server *srv; /* set when queued; the waker is then on the server's list */
    struct http_waker *prev, *next;
};
/* http_server.c: the server's list of queued wakers (woken and ended on stop). */
void http_server_waker_add(struct http_server *s, struct http_waker *w);
void http_server_waker_remove(struct http_server *s, struct http_waker *w);

/* http_resp.c */
void http_resp_free(struct http_resp *resp);
/* Queue r->pending with MHD. Returns MHD_YES / MHD_NO. */
enum MHD_Result http_req_queue(struct http_req *r);
/* Whether large fd bodies are sent with read()/send() instead of sendfile(). */
void http_resp_set_fd_mode(bool use_read, size_t block);
bool http_server_draining(const struct http_server *s);
/* http_server.c: log the request, run on_free, release it. Exactly once per request. */
void http_req_finish(struct http_req *r, enum MHD_RequestTerminationCode toe);

#endif
