/* http_server.c -- the libmicrohttpd daemon behind http.h: configuration and limits,
 * binding, routing, the per-request life cycle (on_headers / on_body / on_done /
 * on_free), the head deadline watchdog, the access log and graceful drain.
 *
 * libmicrohttpd 0.9.75 pitfalls designed around (notes/http-perf.md):
 *  1. Queueing a response in the first access-handler call forces Connection: close.
 *     The first call only runs on_headers; an answer given there is queued at the
 *     final call when the request has no body (keep-alive kept), and at once only when
 *     a body would follow (an early reject: we would rather close than read it).
 *  2. MHD_epoll() blocks in a second epoll_wait() when one call returned exactly 128
 *     events, stalling those connections until the next timeout. We use poll mode
 *     (MHD_USE_POLL_INTERNAL_THREAD, a pool of one thread per CPU): MHD_poll_all()
 *     has no such loop. Measured here (2 vCPU, loaded): 4 KiB wrk -c128 about equal to
 *     epoll; new connections (Connection: close) 38-55 us of server CPU each vs
 *     110-170 us for the epoll alternative, whose 35 threads all wake on every accept;
 *     the cost of poll is a scan of every connection per wakeup: with 3,800 idle
 *     keep-alive connections, 4 KiB requests cost 24-35 us instead of 18-20. The
 *     epoll alternative (TOLLGATE_HTTP_MODE=epoll) sizes its pool so no thread can
 *     own more than HTTP_CONNS_PER_THREAD (120) connections: its epoll set is then at
 *     most 120 + listen + ITC < 128 fds and epoll_wait can never return 128 events.
 *     In both modes a finite MHD_OPTION_CONNECTION_TIMEOUT bounds any stall.
 *  3. MHD's timeout is an inactivity timeout: a client trickling one header byte per
 *     second is never cut. A watchdog thread shuts down (shutdown(2), MHD then closes)
 *     connections whose request head is not complete by their deadline: accept +
 *     header_timeout_s for the first request; for a kept-alive connection, the end of
 *     the previous request + max(idle, header timeout), and never later than
 *     header_timeout_s after the request line arrived.
 *
 * Invariants: a connection entry is in the table from NOTIFY_CONNECTION STARTED to
 * CLOSED, both under `mu`, and the watchdog touches fds only under `mu`, so it never
 * shuts an fd that was closed and reused. on_free runs exactly once for every request
 * whose on_headers ran. Nothing here logs headers, query strings or client addresses. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/http_int.h"

#define HTTP_CONNS_PER_THREAD 120
#define HTTP_ROUTES_MAX 32
#define HTTP_WATCHDOG_MS 500

struct http_route {
    char *prefix;
    size_t len;
    struct http_handler h;
};

struct http_conn {
    struct http_conn *prev, *next;
    int fd;
    bool cut;
    _Atomic bool head_done;
    _Atomic int64_t deadline_us; /* tg_monotonic_us */
    struct http_req *req;        /* the request in progress (touched by its thread only) */
};

struct http_server {
    struct http_config cfg;
    struct http_route routes[HTTP_ROUTES_MAX];
    size_t nroutes;
    struct http_handler dflt;
    bool has_dflt;
    struct MHD_Daemon *d;
    uint16_t port;
    unsigned threads;
    bool poll_mode;
    bool started, stopped;
    _Atomic int active; /* requests between request line and completion */
    _Atomic bool draining;
    int quiesced_fd;

    pthread_mutex_t mu; /* conns list, watchdog stop flag */
    pthread_cond_t cv;
    struct http_conn conns; /* list head */
    bool wd_stop;
    pthread_t wd;
    bool wd_running;
    struct http_waker *wakers; /* parked-stream handles, under mu */
    struct kind_counts {
        const char *name;
        _Atomic uint64_t n[6], bytes;
    } kinds[HTTP_KINDS_MAX + 1]; /* the last one: "none" and overflow */
    size_t nkinds;
};

static void kind_register(struct http_server *s, const char *name)
{
    for (size_t i = 0; i < s->nkinds; i++)
        if (strcmp(s->kinds[i].name, name) == 0)
            return;
    if (s->nkinds < HTTP_KINDS_MAX)
        s->kinds[s->nkinds++].name = name;
}

static struct kind_counts *kind_of(struct http_server *s, const struct http_handler *h)
{
    if (h && h->name)
        for (size_t i = 0; i < s->nkinds; i++)
            if (s->kinds[i].name == h->name || strcmp(s->kinds[i].name, h->name) == 0)
                return &s->kinds[i];
    return &s->kinds[HTTP_KINDS_MAX];
}

int http_server_counts_each(const struct http_server *s,
                            int (*fn)(void *ctx, const char *kind, int status_class,
                                      uint64_t requests, uint64_t bytes),
                            void *ctx)
{
    struct http_server *w = (struct http_server *)s;
    for (size_t i = 0; i <= HTTP_KINDS_MAX; i++) {
        if (i < HTTP_KINDS_MAX && i >= w->nkinds)
            continue;
        struct kind_counts *k = &w->kinds[i];
        uint64_t bytes = atomic_load_explicit(&k->bytes, memory_order_relaxed);
        for (int c = 0; c < 6; c++) {
            uint64_t n = atomic_load_explicit(&k->n[c], memory_order_relaxed);
            int rc;
            /* the byte total rides on the first class with requests (one per kind) */
            if (n && (rc = fn(ctx, i == HTTP_KINDS_MAX ? "none" : k->name, c, n, bytes)) < 0)
                return rc;
            if (n)
                bytes = 0;
        }
    }
    return 0;
}

int http_req_status(const struct http_req *r)
{
    return r->status;
}

uint64_t http_req_bytes_sent(const struct http_req *r)
{
    if (r->head)
        return 0;
    return r->resp_len == UINT64_MAX ? atomic_load(&((struct http_req *)r)->streamed)
           : r->finished_ok          ? r->resp_len
                                     : 0;
}

void http_server_waker_add(struct http_server *s, struct http_waker *w)
{
    pthread_mutex_lock(&s->mu);
    w->srv = s;
    w->prev = NULL;
    w->next = s->wakers;
    if (s->wakers)
        s->wakers->prev = w;
    s->wakers = w;
    pthread_mutex_unlock(&s->mu);
}

void http_server_waker_remove(struct http_server *s, struct http_waker *w)
{
    pthread_mutex_lock(&s->mu);
    if (w->prev)
        w->prev->next = w->next;
    else if (s->wakers == w)
        s->wakers = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->prev = w->next = NULL;
    pthread_mutex_unlock(&s->mu);
}

bool http_server_draining(const struct http_server *s)
{
    return atomic_load(&((struct http_server *)s)->draining);
}

/* ---- configuration ------------------------------------------------------------- */

static unsigned env_uint(const char *name, unsigned def)
{
    const char *v = getenv(name);
    uint64_t n;

    if (!v || str_to_u64(str_c(v), &n) < 0 || n > (1u << 30))
        return def;
    return (unsigned)n;
}

int http_server_new(const struct http_config *cfg, struct http_server **out)
{
    struct http_server *s = calloc(1, sizeof *s);
    const char *mode;

    if (!s)
        return -ERR_NOMEM;
    s->cfg = *cfg;
    if (!s->cfg.listen)
        s->cfg.listen = "127.0.0.1:8080";
    if (!(s->cfg.listen = strdup(s->cfg.listen))) {
        free(s);
        return -ERR_NOMEM;
    }
    if (!s->cfg.connection_limit)
        s->cfg.connection_limit = 4096;
    if (!s->cfg.header_timeout_s)
        s->cfg.header_timeout_s = 10;
    if (!s->cfg.idle_timeout_s)
        s->cfg.idle_timeout_s = 60;
    if (!s->cfg.max_header_bytes)
        s->cfg.max_header_bytes = 16 * 1024;
    if (!s->cfg.drain_timeout_s)
        s->cfg.drain_timeout_s = 5;
    /* Benchmark switches, not configuration: TOLLGATE_HTTP_MODE=poll|epoll,
     * TOLLGATE_HTTP_THREADS=N, TOLLGATE_HTTP_FD_MODE=sendfile|read,
     * TOLLGATE_HTTP_FD_BLOCK=bytes (read-mode buffer). */
    mode = getenv("TOLLGATE_HTTP_MODE");
    s->poll_mode = !mode || strcmp(mode, "epoll") != 0;
    if ((mode = getenv("TOLLGATE_HTTP_FD_MODE")) || getenv("TOLLGATE_HTTP_FD_BLOCK"))
        http_resp_set_fd_mode(!mode || strcmp(mode, "sendfile") != 0,
                              env_uint("TOLLGATE_HTTP_FD_BLOCK", 0));
    s->quiesced_fd = -1;
    s->conns.next = s->conns.prev = &s->conns;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    *out = s;
    return 0;
}

int http_server_route(struct http_server *s, const char *prefix, const struct http_handler *h)
{
    struct http_route *rt;

    if (s->started || !prefix || prefix[0] != '/' || !h)
        return -ERR_INVALID;
    if (s->nroutes == HTTP_ROUTES_MAX)
        return -ERR_TOO_LONG;
    rt = &s->routes[s->nroutes];
    if (!(rt->prefix = strdup(prefix)))
        return -ERR_NOMEM;
    rt->len = strlen(prefix);
    rt->h = *h;
    s->nroutes++;
    kind_register(s, h->name ? h->name : "none");
    return 0;
}

void http_server_default(struct http_server *s, const struct http_handler *h)
{
    s->dflt = *h;
    s->has_dflt = true;
    kind_register(s, h->name ? h->name : "none");
}

static const struct http_handler *route_find(const struct http_server *s, struct str path)
{
    const struct http_route *best = NULL;

    for (size_t i = 0; i < s->nroutes; i++) {
        const struct http_route *rt = &s->routes[i];
        bool subtree = rt->prefix[rt->len - 1] == '/';
        bool hit = subtree ? str_starts(path, rt->prefix) : str_eq_c(path, rt->prefix);
        if (hit && (!best || rt->len > best->len))
            best = rt;
    }
    if (best)
        return &best->h;
    return s->has_dflt ? &s->dflt : NULL;
}

/* "127.0.0.1:8080", "[::1]:8080", ":8080" (all addresses, IPv6 dual stack when
 * available), "localhost:8080". Port 0 picks a free port. */
static int listen_parse(const char *listen, struct sockaddr_storage *ss, socklen_t *sslen)
{
    char host[256];
    const char *colon, *port;
    struct addrinfo hints = {0}, *ai = NULL;
    uint64_t pnum;
    size_t hlen;

    if (listen[0] == '[') {
        const char *end = strchr(listen, ']');
        if (!end || end[1] != ':')
            return -ERR_CONFIG;
        hlen = (size_t)(end - listen - 1);
        if (hlen == 0 || hlen >= sizeof host)
            return -ERR_CONFIG;
        memcpy(host, listen + 1, hlen);
        port = end + 2;
    } else {
        if (!(colon = strrchr(listen, ':')))
            return -ERR_CONFIG;
        hlen = (size_t)(colon - listen);
        if (hlen >= sizeof host || memchr(listen, ':', hlen))
            return -ERR_CONFIG; /* bare IPv6 addresses need brackets */
        memcpy(host, listen, hlen);
        port = colon + 1;
    }
    host[hlen] = 0;
    if (str_to_u64(str_c(port), &pnum) < 0 || pnum > 65535)
        return -ERR_CONFIG;
    if (hlen == 0) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
        memset(ss, 0, sizeof *ss);
        a6->sin6_family = AF_INET6;
        a6->sin6_addr = in6addr_any;
        a6->sin6_port = htons((uint16_t)pnum);
        *sslen = sizeof *a6;
        return 0;
    }
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    if (getaddrinfo(host, NULL, &hints, &ai) != 0 || !ai)
        return -ERR_CONFIG;
    memset(ss, 0, sizeof *ss);
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    *sslen = ai->ai_addrlen;
    freeaddrinfo(ai);
    if (ss->ss_family == AF_INET)
        ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)pnum);
    else if (ss->ss_family == AF_INET6)
        ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)pnum);
    else
        return -ERR_CONFIG;
    return 0;
}

/* ---- connection table and head deadline ------------------------------------------ */

static void conn_notify(void *cls, struct MHD_Connection *mc, void **socket_context,
                        enum MHD_ConnectionNotificationCode toe)
{
    struct http_server *s = cls;
    struct http_conn *c = *socket_context;

    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (!(c = calloc(1, sizeof *c)))
            return; /* untracked: only MHD's idle timeout applies to it */
        c->fd = ci ? ci->connect_fd : -1;
        atomic_store(&c->deadline_us,
                     tg_monotonic_us() + (int64_t)s->cfg.header_timeout_s * 1000000);
        pthread_mutex_lock(&s->mu);
        c->next = s->conns.next;
        c->prev = &s->conns;
        c->next->prev = c;
        s->conns.next = c;
        pthread_mutex_unlock(&s->mu);
        *socket_context = c;
        return;
    }
    if (!c)
        return;
    /* CLOSED. MHD closes the socket after this returns. */
    pthread_mutex_lock(&s->mu);
    c->prev->next = c->next;
    c->next->prev = c->prev;
    pthread_mutex_unlock(&s->mu);
    if (c->req) {
        /* A request MHD never presented to us (it answered a malformed or oversized
         * head itself): NOTIFY_COMPLETED will not come for it. */
        const union MHD_ConnectionInfo *si =
            MHD_get_connection_info(mc, MHD_CONNECTION_INFO_HTTP_STATUS);
        if (si && !c->req->status)
            c->req->status = (int)si->http_status;
        http_req_finish(c->req, MHD_REQUEST_TERMINATED_WITH_ERROR);
    }
    free(c);
    *socket_context = NULL;
}

static void *watchdog_main(void *arg)
{
    struct http_server *s = arg;
    struct timespec ts;

    pthread_mutex_lock(&s->mu);
    while (!s->wd_stop) {
        int64_t now = tg_monotonic_us();
        for (struct http_conn *c = s->conns.next; c != &s->conns; c = c->next) {
            if (c->cut || c->fd < 0 || atomic_load(&c->head_done) ||
                now < atomic_load(&c->deadline_us))
                continue;
            /* MHD sees EOF/errors on its next wakeup and closes the connection itself;
             * the fd stays valid until CLOSED, which needs `mu`. */
            shutdown(c->fd, SHUT_RDWR);
            c->cut = true;
        }
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += HTTP_WATCHDOG_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&s->cv, &s->mu, &ts);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* ---- requests -------------------------------------------------------------------- */

static struct http_conn *conn_of(struct MHD_Connection *mc)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* Called with the raw request target before MHD splits and unescapes it; the return
 * value becomes the request's con_cls. */
static void *uri_log(void *cls, const char *uri, struct MHD_Connection *mc)
{
    struct http_server *s = cls;
    struct http_req *r = calloc(1, sizeof *r);
    struct http_conn *c = conn_of(mc);
    struct str target, path, query;

    if (!r)
        return NULL;
    if (!(r->uri = strdup(uri ? uri : ""))) {
        free(r);
        return NULL;
    }
    r->srv = s;
    r->mc = mc;
    r->conn = c;
    r->start_us = tg_now_us();
    r->start_mono_us = tg_monotonic_us();
    r->resp_len = 0;
    target = str_c(r->uri);
    /* absolute-form "http://host/p?q": keep from the path on */
    if (str_starts(target, "http://") || str_starts(target, "https://")) {
        const char *p = strchr(strstr(r->uri, "//") + 2, '/');
        target = p ? str_c(p) : STR_LIT("/");
    }
    str_split(target, '?', &path, &query);
    r->path = path;
    r->query = query;
    atomic_fetch_add(&s->active, 1);
    if (c) {
        int64_t dl = r->start_mono_us + (int64_t)s->cfg.header_timeout_s * 1000000;
        if (dl < atomic_load(&c->deadline_us))
            atomic_store(&c->deadline_us, dl);
        c->req = r;
    }
    return r;
}

static void log_path(const struct http_req *r, char *out, size_t cap)
{
    size_t n = 0;

    for (size_t i = 0; i < r->path.len && n + 4 < cap; i++) {
        unsigned char ch = (unsigned char)r->path.ptr[i];
        out[n++] = ch < 0x21 || ch >= 0x7f ? '?' : (char)ch;
    }
    if (n < r->path.len)
        out[n++] = '.', out[n++] = '.', out[n++] = '.';
    out[n] = 0;
}

void http_req_finish(struct http_req *r, enum MHD_RequestTerminationCode toe)
{
    struct http_server *s = r->srv;
    bool ok = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK;
    r->finished_ok = ok;
    struct kind_counts *k = kind_of(s, r->h);
    int sc = r->status >= 100 && r->status < 600 ? r->status / 100 : 0;
    atomic_fetch_add_explicit(&k->n[sc], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&k->bytes, http_req_bytes_sent(r), memory_order_relaxed);

    if (s->cfg.log_requests) {
        char path[HTTP_LOG_PATH_MAX + 4];
        uint64_t bytes = http_req_bytes_sent(r);
        log_path(r, path, sizeof path);
        char status[16] = "-"; /* "-": MHD refused the head itself (431, 400) */
        if (r->status)
            snprintf(status, sizeof status, "%d", r->status);
        tg_log_info("http %.*s %s %s %s %llub %lldus%s%s%s",
                    STR_FMT(r->method.len ? r->method : STR_LIT("-")), r->h ? r->h->name : "-",
                    path, status, (unsigned long long)bytes,
                    (long long)(tg_monotonic_us() - r->start_mono_us), ok ? "" : " aborted",
                    r->note[0] ? " " : "", r->note);
    }
    if (r->h && r->h->on_free)
        r->h->on_free(r, r->h->app);
    if (r->conn && r->conn->req == r)
        r->conn->req = NULL;
    http_resp_free(r->pending);
    while (r->allocs) {
        struct http_req_alloc *a = r->allocs;
        r->allocs = a->next;
        free(a);
    }
    free(r->uri);
    free(r);
    atomic_fetch_sub(&s->active, 1);
}

static void req_completed(void *cls, struct MHD_Connection *mc, void **con_cls,
                          enum MHD_RequestTerminationCode toe)
{
    struct http_server *s = cls;
    struct http_req *r = *con_cls;
    struct http_conn *c = conn_of(mc);

    if (c) {
        /* The next request on this kept-alive connection gets a fresh head deadline. */
        unsigned t = s->cfg.idle_timeout_s > s->cfg.header_timeout_s ? s->cfg.idle_timeout_s
                                                                     : s->cfg.header_timeout_s;
        atomic_store(&c->deadline_us, tg_monotonic_us() + (int64_t)t * 1000000);
        atomic_store(&c->head_done, false);
    }
    if (!r)
        return;
    *con_cls = NULL;
    http_req_finish(r, toe);
}

static bool req_has_body(struct http_req *r)
{
    struct str v;
    int64_t n = http_req_content_length(r);

    if (n > 0)
        return true;
    return http_req_header(r, "Transfer-Encoding", &v);
}

static enum MHD_Result first_call(struct http_server *s, struct http_req *r)
{
    const union MHD_ConnectionInfo *ci;
    int rc;

    if (r->conn)
        atomic_store(&r->conn->head_done, true);
    r->state = HTTP_REQ_HEAD;
    r->presented = true;
    r->head = str_eq_c(r->method, "HEAD");
    ci = MHD_get_connection_info(r->mc, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    if (ci && ci->header_size > s->cfg.max_header_bytes) {
        http_respond_text(r, err_http_status(-ERR_HEADERS_TOO_LARGE), "text/plain",
                          "Request header section too large.\n");
        return http_req_queue(r);
    }
    if (!(r->h = route_find(s, r->path))) {
        http_respond_text(r, 404, "text/plain", "Not found.\n");
    } else if (r->h->on_headers && (rc = r->h->on_headers(r, r->h->app)) < 0 && !r->responded) {
        http_respond_text(r, err_http_status(rc), "text/plain", "Bad request.\n");
    }
    /* An answer before the body: queue now only if a body would follow (we refuse to
     * read it; MHD closes the connection). Otherwise wait for the final call so MHD
     * keeps the connection alive (pitfall 1). Returning MHD_YES without a response
     * also makes MHD answer "Expect: 100-continue". */
    if (r->responded && req_has_body(r))
        return http_req_queue(r);
    return MHD_YES;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *mc, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
    struct http_server *s = cls;
    struct http_req *r = *con_cls;

    (void)url;
    (void)version;
    if (!r) {
        /* uri_log could not allocate: refuse. Queueing here closes the connection. */
        static char msg[] = "Server out of memory.\n";
        struct MHD_Response *mr =
            MHD_create_response_from_buffer(sizeof msg - 1, msg, MHD_RESPMEM_PERSISTENT);
        enum MHD_Result ok = mr ? MHD_queue_response(mc, 503, mr) : MHD_NO;
        if (mr)
            MHD_destroy_response(mr);
        return ok;
    }
    if (r->state == HTTP_REQ_NEW) {
        r->method = str_c(method); /* MHD keeps it for the whole request */
        return first_call(s, r);
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (r->state == HTTP_REQ_QUEUED || r->body_stopped)
            return MHD_YES; /* answered already: discard */
        r->body_received += n;
        if (r->h->on_body && r->h->on_body(r, r->h->app, (const uint8_t *)upload_data, n) < 0) {
            r->body_stopped = true;
            if (!r->responded)
                http_respond_text(r, 500, "text/plain", "Request body refused.\n");
        }
        if (r->responded)
            return http_req_queue(r);
        return MHD_YES;
    }
    /* Final call: the body (if any) is complete. */
    if (r->state == HTTP_REQ_QUEUED)
        return MHD_YES;
    if (!r->responded && r->h->on_done)
        r->h->on_done(r, r->h->app);
    if (!r->responded) {
        tg_log_error("http: handler %s gave no response", r->h->name);
        http_respond_text(r, 500, "text/plain", "Internal error.\n");
    }
    return http_req_queue(r);
}

/* No-op unescaper: the handler sees the raw, still percent-encoded path (SigV4 signs
 * it as sent). We never read MHD's argument table, which this would also affect. */
static size_t unescape_none(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    return strlen(s);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[512];

    (void)cls;
    /* MHD's messages can name the request path; debug level only. */
    vsnprintf(line, sizeof line, fmt, ap);
    line[strcspn(line, "\r\n")] = 0;
    tg_log_debug("mhd: %s", line);
}

/* ---- start / stop ---------------------------------------------------------------- */

static unsigned raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 1024;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
        (void)getrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur > 1u << 30 ? 1u << 30 : (unsigned)rl.rlim_cur;
}

static long ncpu(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? n : 1;
}

int http_server_start(struct http_server *s)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    unsigned flags, limit, nofile, threads, forced;
    size_t mem;
    const union MHD_DaemonInfo *di;
    int rc;

    if (s->started)
        return -ERR_INVALID;
    if ((rc = listen_parse(s->cfg.listen, &ss, &sslen)) < 0) {
        tg_log_error("http: cannot parse listen address '%s'", s->cfg.listen);
        return rc;
    }
    /* Each connection needs one fd; keep 64 for files, the database and logs. */
    nofile = raise_nofile();
    limit = s->cfg.connection_limit;
    if (nofile < 128)
        return -ERR_CONFIG;
    if (limit > nofile - 64) {
        tg_log_warn("http: connection limit %u lowered to %u (RLIMIT_NOFILE)", limit, nofile - 64);
        limit = nofile - 64;
    }
    threads = s->cfg.threads ? s->cfg.threads : (unsigned)ncpu();
    if (!s->poll_mode && (limit + threads - 1) / threads > HTTP_CONNS_PER_THREAD)
        threads = (limit + HTTP_CONNS_PER_THREAD - 1) / HTTP_CONNS_PER_THREAD;
    if ((forced = env_uint("TOLLGATE_HTTP_THREADS", 0))) {
        /* benchmark switch: the thread count wins, the limit shrinks to stay safe */
        threads = forced;
        if (!s->poll_mode && limit > threads * HTTP_CONNS_PER_THREAD)
            limit = threads * HTTP_CONNS_PER_THREAD;
    }
    s->threads = threads;
    /* The head lives in MHD's per-connection pool with the parsed header table and
     * the response head. Pools over 32 KiB are mmap()ed by MHD (memorypool.c) and
     * munmap()ed at close: measured 470 us of server CPU per new connection instead
     * of 43 us, so stay at 32 KiB unless the head limit needs more. A 28 KiB head
     * still fits a 32 KiB pool: heads over max_header_bytes get our 400 in
     * first_call(); heads over the pool get MHD's own 431. */
    mem = s->cfg.max_header_bytes + 16 * 1024;
    if (mem < 32 * 1024)
        mem = 32 * 1024;

    flags = (s->poll_mode ? MHD_USE_POLL_INTERNAL_THREAD : MHD_USE_EPOLL_INTERNAL_THREAD) |
            MHD_USE_ITC | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_DUAL_STACK;
    struct MHD_OptionItem opts[] = {
        {MHD_OPTION_SOCK_ADDR, 0, &ss},
        {MHD_OPTION_CONNECTION_LIMIT, limit, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, s->cfg.idle_timeout_s, NULL},
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)mem, NULL},
        {MHD_OPTION_PER_IP_CONNECTION_LIMIT, 0, NULL},
        {MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024, NULL},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)req_completed, s},
        {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)conn_notify, s},
        {MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)uri_log, s},
        {MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)unescape_none, NULL},
        {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, NULL},
        /* MHD warns and ignores a pool of 1: pass the option only for >1 */
        {threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, threads, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    s->d = MHD_start_daemon(flags, 0, NULL, NULL, on_access, s, MHD_OPTION_ARRAY, opts,
                            MHD_OPTION_END);
    if (!s->d) {
        tg_log_error("http: cannot listen on %s: %s", s->cfg.listen, strerror(errno));
        return errno == EADDRINUSE ? -EADDRINUSE : -ERR_IO;
    }
    di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : 0;
    s->wd_stop = false;
    if (pthread_create(&s->wd, NULL, watchdog_main, s) == 0)
        s->wd_running = true;
    else
        tg_log_warn("http: no head-deadline watchdog (thread creation failed)");
    s->started = true;
    tg_log_info("http: listening on %s port %u (%s, %u threads, %u connections)", s->cfg.listen,
                s->port, s->poll_mode ? "poll" : "epoll", threads, limit);
    return 0;
}

uint16_t http_server_port(const struct http_server *s)
{
    return s->port;
}

void http_server_stop(struct http_server *s)
{
    int64_t until;

    if (!s || !s->started || s->stopped)
        return;
    s->stopped = true;
    atomic_store(&s->draining, true);
    s->quiesced_fd = MHD_quiesce_daemon(s->d);
    /* parked streams: wake them, they end (stream_cb sees draining) */
    pthread_mutex_lock(&s->mu);
    for (struct http_waker *w = s->wakers; w; w = w->next)
        http_waker_wake(w);
    pthread_mutex_unlock(&s->mu);
    until = tg_monotonic_us() + (int64_t)s->cfg.drain_timeout_s * 1000000;
    while (atomic_load(&s->active) > 0 && tg_monotonic_us() < until)
        usleep(10000);
    if (atomic_load(&s->active) > 0)
        tg_log_warn("http: drain timeout, %d requests cut", atomic_load(&s->active));
    MHD_stop_daemon(s->d);
    s->d = NULL;
    if (s->quiesced_fd >= 0)
        close(s->quiesced_fd);
    s->quiesced_fd = -1;
    if (s->wd_running) {
        pthread_mutex_lock(&s->mu);
        s->wd_stop = true;
        pthread_cond_signal(&s->cv);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->wd, NULL);
        s->wd_running = false;
    }
}

void http_server_free(struct http_server *s)
{
    if (!s)
        return;
    http_server_stop(s);
    for (size_t i = 0; i < s->nroutes; i++)
        free(s->routes[i].prefix);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free((char *)s->cfg.listen);
    free(s);
}
