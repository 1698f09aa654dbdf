/* http_resp.c -- responses: from memory, from a file descriptor, streamed through a
 * callback; response headers; http_respond and the deferred queueing the server does.
 *
 * Invariants: every constructor takes ownership of what it is given (body, fd, ctx)
 * also when it fails; a response is queued at most once and then released with
 * MHD_destroy_response (MHD keeps its own reference while sending).
 *
 * File bodies have two strategies, chosen once per process (http_resp_set_fd_mode,
 * env TOLLGATE_HTTP_FD_MODE=sendfile|read): MHD's own fd response, which in epoll mode
 * calls sendfile() 128 KiB at a time, or a content callback that pread()s into a
 * HTTP_FD_BLOCK buffer that MHD then send()s (the default). On loopback read/send
 * with big buffers measured ~2x sendfile per connection (notes/http-perf.md). Small
 * files are always read into memory: MHD then sends head and body in one writev(). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http/http_int.h"

/* Bodies up to this size are read into memory (one writev with the head). */
#define HTTP_FD_SMALL (64 * 1024)
/* Read-mode buffer per response (malloc'd with it, freed when it is done). 1 MiB
 * measured best on loopback with 2 connections (1 MiB files 3.5-4.9 GiB/s vs 1.5-3.3
 * with 256-512 KiB; 64 MiB 2.4-2.8 GiB/s; sendfile 1.8 GiB/s). The cost is memory:
 * 1 MiB per download in progress; past HTTP_FD_READ_ACTIVE_MAX of them new downloads
 * use sendfile, so these buffers never hold more than 32 MiB. */
#define HTTP_FD_BLOCK (1024 * 1024)
#define HTTP_FD_READ_ACTIVE_MAX 32

static atomic_bool fd_use_read = true;
static _Atomic size_t fd_block = HTTP_FD_BLOCK;
static atomic_int fd_read_active; /* read-mode bodies alive now */

void http_resp_set_fd_mode(bool use_read, size_t block)
{
    atomic_store(&fd_use_read, use_read);
    if (block >= 4096)
        atomic_store(&fd_block, block);
}

static struct http_resp *resp_wrap(struct MHD_Response *mr, int status, enum http_resp_kind kind,
                                   uint64_t len)
{
    struct http_resp *resp;

    if (!mr)
        return NULL;
    if (!(resp = calloc(1, sizeof *resp))) {
        MHD_destroy_response(mr);
        return NULL;
    }
    resp->mr = mr;
    resp->status = status;
    resp->kind = kind;
    resp->len = len;
    return resp;
}

void http_resp_free(struct http_resp *resp)
{
    if (!resp)
        return;
    if (resp->mr)
        MHD_destroy_response(resp->mr);
    free(resp);
}

struct http_resp *http_resp_mem(int status, void *body, size_t len, bool copy)
{
    struct MHD_Response *mr;

    if (len == 0 || !body) {
        mr = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        if (!copy)
            free(body);
    } else {
        mr = MHD_create_response_from_buffer(len, body,
                                             copy ? MHD_RESPMEM_MUST_COPY : MHD_RESPMEM_MUST_FREE);
        if (!mr && !copy)
            free(body);
    }
    return resp_wrap(mr, status, HTTP_RESP_MEM, len);
}

/* ---- file descriptor bodies ---------------------------------------------------- */

struct fd_body {
    int fd;
    uint64_t off;
};

static ssize_t fd_read_cb(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct fd_body *b = cls;
    ssize_t n;

    do
        n = pread(b->fd, buf, max, (off_t)(b->off + pos));
    while (n < 0 && errno == EINTR);
    if (n <= 0) /* a file that shrank under us: cut the connection, never pad */
        return MHD_CONTENT_READER_END_WITH_ERROR;
    return n;
}

static void fd_free_cb(void *cls)
{
    struct fd_body *b = cls;

    close(b->fd);
    free(b);
    atomic_fetch_sub(&fd_read_active, 1);
}

/* Small bodies: one pread into memory. Returns NULL (fd untouched) if it fails. */
static struct http_resp *fd_small(int status, int fd, uint64_t off, uint64_t len)
{
    char *p = malloc(len ? len : 1);
    size_t got = 0;

    if (!p)
        return NULL;
    while (got < len) {
        ssize_t n = pread(fd, p + got, len - got, (off_t)(off + got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            free(p);
            return NULL;
        }
        got += (size_t)n;
    }
    close(fd);
    return http_resp_mem(status, p, len, false);
}

struct http_resp *http_resp_fd(int status, int fd, uint64_t off, uint64_t len)
{
    struct MHD_Response *mr;
    struct fd_body *b;
    struct http_resp *resp;
    size_t block;

    if (fd < 0)
        return NULL;
    if (len <= HTTP_FD_SMALL && (resp = fd_small(status, fd, off, len)))
        return resp;
    if (!atomic_load(&fd_use_read) || atomic_load(&fd_read_active) >= HTTP_FD_READ_ACTIVE_MAX) {
        mr = MHD_create_response_from_fd_at_offset64(len, fd, off);
        if (!mr)
            close(fd);
        return resp_wrap(mr, status, HTTP_RESP_FD, len);
    }
    if (!(b = malloc(sizeof *b))) {
        close(fd);
        return NULL;
    }
    b->fd = fd;
    b->off = off;
    atomic_fetch_add(&fd_read_active, 1); /* fd_free_cb undoes it */
    block = atomic_load(&fd_block);
    mr = MHD_create_response_from_callback(len, len < block ? (size_t)len : block, fd_read_cb, b,
                                           fd_free_cb);
    if (!mr) {
        fd_free_cb(b);
        return NULL;
    }
    return resp_wrap(mr, status, HTTP_RESP_FD, len);
}

/* ---- streamed bodies ------------------------------------------------------------- */

#define HTTP_STREAM_BLOCK (64 * 1024)

static ssize_t stream_cb(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct http_stream *st = cls;
    ssize_t n;

    if (st->len != UINT64_MAX && pos >= st->len)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (st->waker && st->waker->srv && http_server_draining(st->waker->srv))
        return MHD_CONTENT_READER_END_OF_STREAM;
    n = st->fill(st->ctx, pos, buf, max);
    if (n == HTTP_STREAM_WAIT && st->waker) {
        struct http_waker *w = st->waker;
        pthread_mutex_lock(&w->mu);
        if (w->pending) /* woken before we could park: try again at once */
            w->pending = false;
        else if (w->mc) {
            MHD_suspend_connection(w->mc);
            w->parked = true;
        }
        pthread_mutex_unlock(&w->mu);
        return 0; /* nothing now; MHD calls again when resumed */
    }
    if (n == 0 && st->len == UINT64_MAX)
        return MHD_CONTENT_READER_END_OF_STREAM;
    /* 0 with a known length would make MHD poll us forever: treat as an error. */
    if (n <= 0 || (size_t)n > max)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    if (st->counter)
        atomic_fetch_add(st->counter, (uint64_t)n);
    return n;
}

static void waker_unref(struct http_waker *w)
{
    pthread_mutex_lock(&w->mu);
    bool last = --w->refs == 0;
    pthread_mutex_unlock(&w->mu);
    if (last) {
        pthread_mutex_destroy(&w->mu);
        free(w);
    }
}

static void stream_free_cb(void *cls)
{
    struct http_stream *st = cls;
    struct http_waker *w = st->waker;

    if (w) {
        if (w->srv)
            http_server_waker_remove(w->srv, w);
        pthread_mutex_lock(&w->mu);
        w->dead = true;
        w->mc = NULL;
        pthread_mutex_unlock(&w->mu);
    }
    if (st->free_ctx)
        st->free_ctx(st->ctx);
    if (w)
        waker_unref(w);
    free(st);
}

void http_waker_wake(struct http_waker *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    if (!w->dead) {
        if (w->parked) {
            w->parked = false;
            MHD_resume_connection(w->mc);
        } else {
            w->pending = true;
        }
    }
    pthread_mutex_unlock(&w->mu);
}

void http_waker_release(struct http_waker *w)
{
    if (w)
        waker_unref(w);
}

struct http_resp *
http_resp_stream_wait(int status, ssize_t (*fill)(void *ctx, uint64_t pos, char *out, size_t cap),
                      void *ctx, void (*free_ctx)(void *ctx), struct http_waker **waker)
{
    struct http_waker *w = calloc(1, sizeof *w);
    if (!w) {
        if (free_ctx)
            free_ctx(ctx);
        return NULL;
    }
    pthread_mutex_init(&w->mu, NULL);
    w->refs = 2;
    struct http_resp *resp = http_resp_stream(status, UINT64_MAX, fill, ctx, free_ctx);
    if (!resp) {
        pthread_mutex_destroy(&w->mu);
        free(w);
        return NULL;
    }
    resp->stream->waker = w;
    *waker = w;
    return resp;
}

struct http_resp *http_resp_stream(int status, uint64_t len,
                                   ssize_t (*fill)(void *ctx, uint64_t pos, char *out, size_t cap),
                                   void *ctx, void (*free_ctx)(void *ctx))
{
    struct http_stream *st = calloc(1, sizeof *st);
    struct MHD_Response *mr;
    struct http_resp *resp;

    if (!st || !fill) {
        free(st);
        if (free_ctx)
            free_ctx(ctx);
        return NULL;
    }
    st->fill = fill;
    st->free_ctx = free_ctx;
    st->ctx = ctx;
    st->len = len;
    mr = MHD_create_response_from_callback(len == UINT64_MAX ? MHD_SIZE_UNKNOWN : len,
                                           HTTP_STREAM_BLOCK, stream_cb, st, stream_free_cb);
    if (!mr) {
        stream_free_cb(st);
        return NULL;
    }
    if (!(resp = resp_wrap(mr, status, HTTP_RESP_STREAM, len)))
        return NULL; /* resp_wrap destroyed mr, which freed st */
    resp->stream = st;
    return resp;
}

int http_resp_header(struct http_resp *resp, const char *name, const char *value)
{
    if (!resp || !name || !value)
        return -ERR_INVALID;
    /* MHD refuses CR/LF in names and values, so a header cannot be split here. */
    if (MHD_add_response_header(resp->mr, name, value) != MHD_YES)
        return -ERR_INVALID;
    if (strcasecmp(name, "Server") == 0)
        resp->has_server = true;
    return 0;
}

/* ---- answering ------------------------------------------------------------------- */

int http_respond(struct http_req *r, struct http_resp *resp)
{
    if (!r || r->responded) {
        http_resp_free(resp); /* a second answer is a handler bug: keep the first */
        return -ERR_INVALID;
    }
    r->responded = true;
    r->body_stopped = true;
    if (!resp) {
        /* Out of memory building the answer: the connection is closed without one. */
        r->status = 500;
        return -ERR_NOMEM;
    }
    if (!resp->has_server)
        (void)MHD_add_response_header(resp->mr, "Server", "tollgate");
    if (http_server_draining(r->srv))
        (void)MHD_add_response_header(resp->mr, MHD_HTTP_HEADER_CONNECTION, "close");
    r->pending = resp;
    r->status = resp->status;
    r->resp_len = r->head ? 0 : resp->len;
    return 0;
}

int http_respond_text(struct http_req *r, int status, const char *content_type, const char *body)
{
    size_t n = body ? strlen(body) : 0;
    struct http_resp *resp = http_resp_mem(status, (void *)(body ? body : ""), n, true);

    if (resp && content_type && http_resp_header(resp, "Content-Type", content_type) < 0) {
        http_resp_free(resp);
        resp = NULL;
    }
    return http_respond(r, resp);
}

bool http_req_responded(const struct http_req *r)
{
    return r->responded;
}

enum MHD_Result http_req_queue(struct http_req *r)
{
    struct http_resp *resp = r->pending;
    enum MHD_Result ok;

    r->pending = NULL;
    r->state = HTTP_REQ_QUEUED;
    if (!resp)
        return MHD_NO; /* http_respond(NULL): close without an answer */
    if (resp->stream && resp->len == UINT64_MAX)
        resp->stream->counter = &r->streamed;
    if (resp->stream && resp->stream->waker) {
        struct http_waker *w = resp->stream->waker;
        pthread_mutex_lock(&w->mu);
        w->mc = r->mc;
        pthread_mutex_unlock(&w->mu);
        http_server_waker_add(r->srv, w);
    }
    ok = MHD_queue_response(r->mc, (unsigned)resp->status, resp->mr);
    http_resp_free(resp); /* MHD holds its own reference */
    return ok;
}
