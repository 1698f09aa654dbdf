/* test_http_server.c -- a real http_server on 127.0.0.1:0 with a toy handler, driven
 * by libcurl and raw sockets: keep-alive reuse, body delivered in pieces, early
 * reject, Expect: 100-continue, raw path and query, the head deadline against a
 * slow client, oversized heads, HEAD/file responses, on_free exactly once, drain.
 * Every wait is bounded; the whole file runs in a few seconds. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "http/http.h"

#define FILE_SIZE (300 * 1024 + 7)

static struct http_server *srv;
static uint16_t port;
static char file_path[] = "/tmp/tg-http-test-XXXXXX";
static atomic_int n_headers, n_free, n_body_calls;

struct toy {
    uint64_t body;
    unsigned pieces;
};

/* ---- the toy handler -------------------------------------------------------- */

static int toy_headers(struct http_req *r, void *app)
{
    struct toy *t = calloc(1, sizeof *t);
    struct str p = http_req_path(r);

    (void)app;
    atomic_fetch_add(&n_headers, 1);
    if (!t)
        return -ERR_NOMEM;
    http_req_set_data(r, t);
    http_req_log_note(r, "op=Toy");
    if (str_starts(p, "/reject"))
        return http_respond_text(r, 403, "text/plain", "no\n");
    return 0;
}

static int toy_body(struct http_req *r, void *app, const uint8_t *p, size_t n)
{
    struct toy *t = http_req_data(r);

    (void)app;
    (void)p;
    atomic_fetch_add(&n_body_calls, 1);
    t->body += n;
    t->pieces++;
    return 0;
}

static void toy_done(struct http_req *r, void *app)
{
    struct toy *t = http_req_data(r);
    struct str v = STR_LIT("");
    char out[1024];

    (void)app;
    http_req_header(r, "X-Multi", &v);
    snprintf(out, sizeof out, "method=%.*s path=%.*s query=%.*s body=%llu pieces=%u multi=%.*s",
             STR_FMT(http_req_method(r)), STR_FMT(http_req_path(r)), STR_FMT(http_req_query(r)),
             (unsigned long long)t->body, t->pieces, STR_FMT(v));
    http_respond_text(r, 200, "text/plain", out);
}

static void toy_free(struct http_req *r, void *app)
{
    (void)app;
    atomic_fetch_add(&n_free, 1);
    free(http_req_data(r));
}

static int file_headers(struct http_req *r, void *app)
{
    int fd = open(file_path, O_RDONLY);
    struct http_range rg = {0, FILE_SIZE};
    struct str h;
    struct http_resp *resp;
    int status = 200;

    (void)app;
    atomic_fetch_add(&n_headers, 1);
    if (http_req_header(r, "Range", &h) && http_range_parse(h, FILE_SIZE, &rg) == 0)
        status = 206;
    resp = http_resp_fd(status, fd, rg.off, rg.len);
    http_resp_header(resp, "Content-Type", "application/octet-stream");
    return http_respond(r, resp);
}

static void file_free(struct http_req *r, void *app)
{
    (void)r;
    (void)app;
    atomic_fetch_add(&n_free, 1);
}

/* Streams "0123456789" repeated, unknown length, 1 MiB in all. */
static ssize_t digits_fill(void *ctx, uint64_t pos, char *out, size_t cap)
{
    (void)ctx;
    if (pos >= 1 << 20)
        return 0;
    if (cap > (1 << 20) - pos)
        cap = (1 << 20) - pos;
    for (size_t i = 0; i < cap; i++)
        out[i] = (char)('0' + (pos + i) % 10);
    return (ssize_t)cap;
}

static int stream_headers(struct http_req *r, void *app)
{
    (void)app;
    atomic_fetch_add(&n_headers, 1);
    return http_respond(r, http_resp_stream(200, UINT64_MAX, digits_fill, NULL, NULL));
}

/* 64 MiB of known length, for the stalled reader. */
static ssize_t zeros_fill(void *ctx, uint64_t pos, char *out, size_t cap)
{
    (void)ctx;
    (void)pos;
    memset(out, 'z', cap);
    return (ssize_t)cap;
}

static int big_headers(struct http_req *r, void *app)
{
    (void)app;
    atomic_fetch_add(&n_headers, 1);
    return http_respond(r, http_resp_stream(200, 64 << 20, zeros_fill, NULL, NULL));
}

/* 20 pieces of 64 KiB, 10 ms apart: in flight when the server is stopped. */
static ssize_t slow_fill(void *ctx, uint64_t pos, char *out, size_t cap)
{
    (void)ctx;
    (void)pos;
    usleep(10000);
    if (cap > 65536)
        cap = 65536;
    memset(out, 's', cap);
    return (ssize_t)cap;
}

static int slow_headers(struct http_req *r, void *app)
{
    (void)app;
    atomic_fetch_add(&n_headers, 1);
    return http_respond(r, http_resp_stream(200, 20 * 65536, slow_fill, NULL, NULL));
}

static const struct http_handler toy = {"toy", toy_headers, toy_body, toy_done, toy_free, NULL};
static const struct http_handler filer = {"file", file_headers, NULL, NULL, file_free, NULL};
static const struct http_handler streamer = {"stream", stream_headers, NULL, NULL, file_free, NULL};

static const struct http_handler bigger = {"big", big_headers, NULL, NULL, file_free, NULL};
static const struct http_handler slower = {"slow", slow_headers, NULL, NULL, file_free, NULL};

static int setup(void **state)
{
    struct http_config cfg = {.listen = "127.0.0.1:0",
                              .threads = 2,
                              .header_timeout_s = 1,
                              .idle_timeout_s = 5,
                              .log_requests = true};
    int fd = mkstemp(file_path);
    char *data = malloc(FILE_SIZE);

    (void)state;
    if (fd < 0 || !data)
        return -1;
    for (size_t i = 0; i < FILE_SIZE; i++)
        data[i] = (char)(i * 7);
    if (write(fd, data, FILE_SIZE) != FILE_SIZE)
        return -1;
    close(fd);
    free(data);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (http_server_new(&cfg, &srv) < 0)
        return -1;
    http_server_default(srv, &toy);
    if (http_server_route(srv, "/file", &filer) < 0 ||
        http_server_route(srv, "/stream", &streamer) < 0 ||
        http_server_route(srv, "/big", &bigger) < 0 || http_server_start(srv) < 0)
        return -1;
    port = http_server_port(srv);
    return port ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    http_server_free(srv);
    unlink(file_path);
    curl_global_cleanup();
    return 0;
}

/* ---- clients ------------------------------------------------------------------ */

struct got {
    char body[4096];
    size_t len, total;
    char headers[4096];
    size_t hlen;
};

static size_t got_body(char *p, size_t sz, size_t n, void *ud)
{
    struct got *g = ud;
    size_t k = sz * n;

    size_t room = sizeof g->body - 1 - g->len, c = k < room ? k : room;

    memcpy(g->body + g->len, p, c);
    g->len += c;
    g->body[g->len] = 0;
    g->total += k;
    return k;
}

static size_t got_header(char *p, size_t sz, size_t n, void *ud)
{
    struct got *g = ud;
    size_t k = sz * n;

    if (g->hlen + k < sizeof g->headers) {
        memcpy(g->headers + g->hlen, p, k);
        g->hlen += k;
        g->headers[g->hlen] = 0;
    }
    return k;
}

static CURL *curl_for(const char *path, struct got *g)
{
    CURL *c = curl_easy_init();
    char url[512];

    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", port, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, got_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, g);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, got_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, g);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    return c;
}

static int raw_connect(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

static void raw_send(int fd, const char *s)
{
    size_t n = strlen(s);
    assert_int_equal(send(fd, s, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Read until `stop` appears, EOF, or timeout_ms; returns bytes read. */
static size_t raw_recv(int fd, char *buf, size_t cap, const char *stop, int timeout_ms)
{
    size_t n = 0;

    buf[0] = 0;
    while (n + 1 < cap) {
        struct pollfd p = {fd, POLLIN, 0};
        ssize_t k;
        if (poll(&p, 1, timeout_ms) <= 0)
            break;
        if ((k = recv(fd, buf + n, cap - 1 - n, 0)) <= 0)
            break;
        n += (size_t)k;
        buf[n] = 0;
        if (stop && strstr(buf, stop))
            break;
    }
    return n;
}

/* ---- tests ---------------------------------------------------------------------- */

static void test_keepalive_reuse(void **state)
{
    struct got g = {0};
    CURL *c = curl_for("/hello", &g);
    long code = 0, conns = -1;

    (void)state;
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    assert_int_equal(code, 200);
    assert_non_null(strstr(g.body, "method=GET path=/hello query= body=0"));
    assert_non_null(strstr(g.headers, "Server: tollgate"));
    assert_non_null(strstr(g.headers, "Content-Type: text/plain"));
    assert_null(strcasestr(g.headers, "Connection: close"));
    memset(&g, 0, sizeof g);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &conns);
    assert_int_equal(conns, 0); /* the second request reused the connection */
    curl_easy_cleanup(c);
}

struct upload {
    size_t left;
};

static size_t upload_read(char *p, size_t sz, size_t n, void *ud)
{
    struct upload *u = ud;
    size_t k = sz * n;

    if (k > 10000)
        k = 10000; /* small pieces so the server sees several */
    if (k > u->left)
        k = u->left;
    memset(p, 'x', k);
    u->left -= k;
    return k;
}

static void test_upload_pieces(void **state)
{
    struct got g = {0};
    struct upload u = {1 << 20};
    CURL *c = curl_for("/up", &g);
    unsigned pieces = 0;
    unsigned long long body = 0;
    long code = 0;

    (void)state;
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, upload_read);
    curl_easy_setopt(c, CURLOPT_READDATA, &u);
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)(1 << 20));
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    assert_int_equal(code, 200);
    assert_non_null(strstr(g.body, "method=PUT path=/up"));
    assert_int_equal(sscanf(strstr(g.body, "body="), "body=%llu pieces=%u", &body, &pieces), 2);
    assert_int_equal(body, 1 << 20);
    assert_true(pieces > 1);
    curl_easy_cleanup(c);

    /* chunked transfer encoding is de-chunked before on_body */
    memset(&g, 0, sizeof g);
    u.left = 100000;
    c = curl_for("/chunked", &g);
    struct curl_slist *h = curl_slist_append(NULL, "Transfer-Encoding: chunked");
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, upload_read);
    curl_easy_setopt(c, CURLOPT_READDATA, &u);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    assert_non_null(strstr(g.body, "body=100000 "));
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
}

static void test_early_reject(void **state)
{
    int fd = raw_connect();
    char buf[2048];
    int before = atomic_load(&n_body_calls);

    (void)state;
    /* A PUT announcing 100 MB with Expect: the answer comes at once, no body read. */
    raw_send(fd, "PUT /reject/x HTTP/1.1\r\nHost: t\r\nContent-Length: 100000000\r\n"
                 "Expect: 100-continue\r\n\r\n");
    raw_recv(fd, buf, sizeof buf, "no\n", 2000);
    assert_non_null(strstr(buf, "HTTP/1.1 403"));
    assert_null(strstr(buf, "100 Continue"));
    /* the server closes the connection rather than read the body */
    raw_recv(fd, buf, sizeof buf, NULL, 2000);
    assert_int_equal(atomic_load(&n_body_calls), before);
    close(fd);

    /* early reject of a GET keeps the connection alive */
    fd = raw_connect();
    raw_send(fd, "GET /reject HTTP/1.1\r\nHost: t\r\n\r\n");
    raw_recv(fd, buf, sizeof buf, "no\n", 2000);
    assert_non_null(strstr(buf, "HTTP/1.1 403"));
    raw_send(fd, "GET /again HTTP/1.1\r\nHost: t\r\n\r\n");
    raw_recv(fd, buf, sizeof buf, "multi=", 2000);
    assert_non_null(strstr(buf, "path=/again"));
    close(fd);
}

static void test_continue(void **state)
{
    int fd = raw_connect();
    char buf[2048];

    (void)state;
    raw_send(fd, "PUT /c HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    raw_recv(fd, buf, sizeof buf, "\r\n\r\n", 1000);
    assert_non_null(strstr(buf, "HTTP/1.1 100 Continue"));
    raw_send(fd, "hello");
    raw_recv(fd, buf, sizeof buf, "multi=", 2000);
    assert_non_null(strstr(buf, "HTTP/1.1 200"));
    assert_non_null(strstr(buf, "body=5 "));
    close(fd);
}

static void test_raw_target(void **state)
{
    int fd = raw_connect();
    char buf[2048];

    (void)state;
    raw_send(fd,
             "GET /b/a%2Fb%20c?x=%2F&y HTTP/1.1\r\nHost: t\r\nX-Multi: 1\r\nx-multi: 2\r\n\r\n");
    raw_recv(fd, buf, sizeof buf, "multi=1,2", 2000);
    assert_non_null(strstr(buf, "path=/b/a%2Fb%20c query=x=%2F&y body=0"));
    assert_non_null(strstr(buf, "multi=1,2"));
    close(fd);
}

static void test_slow_client_cut(void **state)
{
    static const char req[] =
        "GET /slow HTTP/1.1\r\nHost: t\r\nX-Pad: aaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    int fd = raw_connect();
    size_t i;
    bool cut = false;

    (void)state;
    /* one byte per 300 ms; header_timeout_s = 1 must cut it within ~2 s */
    for (i = 0; i < 12 && !cut; i++) {
        char b;
        struct pollfd p = {fd, POLLIN, 0};
        if (send(fd, req + i, 1, MSG_NOSIGNAL) != 1)
            cut = true;
        else if (poll(&p, 1, 300) == 1 && recv(fd, &b, 1, MSG_DONTWAIT) <= 0)
            cut = true;
        /* others are served meanwhile */
        if (i == 3) {
            struct got g = {0};
            CURL *c = curl_for("/other", &g);
            assert_int_equal(curl_easy_perform(c), CURLE_OK);
            curl_easy_cleanup(c);
        }
    }
    print_message("cut after %zu bytes\n", i);
    assert_true(cut);
    assert_true(i >= 3 && i <= 9);
    close(fd);
}

static void test_oversized_head(void **state)
{
    char *req = malloc(200 * 1024);
    char buf[4096];
    int fd;

    (void)state;
    /* over max_header_bytes (16 KiB) but within MHD's pool: our 400 */
    fd = raw_connect();
    strcpy(req, "GET /big HTTP/1.1\r\nHost: t\r\nX-Big: ");
    memset(req + strlen(req), 'b', 20 * 1024);
    strcpy(req + strlen(req) - 0, "\r\n\r\n");
    raw_send(fd, req);
    raw_recv(fd, buf, sizeof buf, "\r\n\r\n", 2000);
    print_message("%.*s\n", (int)strcspn(buf, "\r"), buf);
    assert_non_null(strstr(buf, "HTTP/1.1 400"));
    close(fd);

    /* far over: MHD refuses it itself */
    fd = raw_connect();
    strcpy(req, "GET /huge HTTP/1.1\r\nHost: t\r\nX-Big: ");
    memset(req + strlen(req), 'b', 150 * 1024);
    req[37 + 150 * 1024] = 0;
    strcat(req, "\r\n\r\n");
    (void)send(fd, req, strlen(req), MSG_NOSIGNAL); /* may be cut before all is sent */
    raw_recv(fd, buf, sizeof buf, "\r\n\r\n", 2000);
    print_message("%.*s\n", (int)strcspn(buf, "\r"), buf);
    assert_true(strncmp(buf, "HTTP/1.1 4", 10) == 0);
    close(fd);
    free(req);
}

static void test_file_and_head(void **state)
{
    struct got g = {0};
    CURL *c = curl_for("/file", &g);
    curl_off_t cl = -1;
    long code = 0;

    (void)state;
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    assert_int_equal(code, 200);
    assert_int_equal(g.total, FILE_SIZE);

    memset(&g, 0, sizeof g);
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
    assert_int_equal(cl, FILE_SIZE);
    assert_int_equal(g.total, 0);

    memset(&g, 0, sizeof g);
    curl_easy_setopt(c, CURLOPT_NOBODY, 0L);
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(c, CURLOPT_RANGE, "10-19");
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    assert_int_equal(code, 206);
    assert_int_equal(g.total, 10);
    assert_int_equal((unsigned char)g.body[0], (unsigned char)(10 * 7));
    curl_easy_cleanup(c);

    memset(&g, 0, sizeof g);
    c = curl_for("/stream", &g);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    assert_int_equal(g.total, 1 << 20);
    assert_int_equal(memcmp(g.body, "0123456789", 10), 0);
    curl_easy_cleanup(c);
}

static void test_stalled_reader(void **state)
{
    int fd = raw_connect();
    char buf[512];

    (void)state;
    /* a client that asks for 64 MiB and stops reading holds no thread */
    raw_send(fd, "GET /big HTTP/1.1\r\nHost: t\r\n\r\n");
    raw_recv(fd, buf, sizeof buf, "\r\n\r\n", 2000);
    assert_non_null(strstr(buf, "HTTP/1.1 200"));
    usleep(100000); /* the server fills the socket buffers and waits */
    for (int i = 0; i < 8; i++) {
        struct got g = {0};
        CURL *c = curl_for("/other", &g);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 1000L);
        assert_int_equal(curl_easy_perform(c), CURLE_OK);
        curl_easy_cleanup(c);
    }
    close(fd);
}

static void *download_slow(void *arg)
{
    struct got *g = arg;
    CURL *c = curl_for("/slow", g);

    curl_easy_perform(c);
    curl_easy_cleanup(c);
    return NULL;
}

static void test_drain(void **state)
{
    struct http_config cfg = {.listen = "127.0.0.1:0", .threads = 1, .drain_timeout_s = 2};
    struct http_server *s;
    uint16_t saved = port;
    struct got g = {0};
    pthread_t th;

    (void)state;
    assert_int_equal(http_server_new(&cfg, &s), 0);
    assert_int_equal(http_server_route(s, "/slow", &slower), 0);
    http_server_default(s, &toy);
    assert_int_equal(http_server_start(s), 0);
    port = http_server_port(s);
    assert_int_equal(pthread_create(&th, NULL, download_slow, &g), 0);
    usleep(60000);
    http_server_stop(s); /* waits for the download in flight */
    pthread_join(th, NULL);
    assert_int_equal(g.total, 20 * 65536);
    /* no longer accepting */
    memset(&g, 0, sizeof g);
    CURL *c = curl_for("/x", &g);
    assert_int_not_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_cleanup(c);
    http_server_free(s);
    port = saved;
}

/* ---- a parked stream (Server-Sent Events style) ---- */

static struct {
    pthread_mutex_t mu;
    char data[256];
    size_t len, sent;
    bool done;
    struct http_waker *w;
    atomic_int fills_waiting;
} park = {.mu = PTHREAD_MUTEX_INITIALIZER};

static ssize_t park_fill(void *ctx, uint64_t pos, char *out, size_t cap)
{
    (void)ctx, (void)pos;
    ssize_t n;
    pthread_mutex_lock(&park.mu);
    if (park.sent < park.len) {
        n = (ssize_t)(park.len - park.sent < cap ? park.len - park.sent : cap);
        memcpy(out, park.data + park.sent, (size_t)n);
        park.sent += (size_t)n;
    } else if (park.done) {
        n = 0;
    } else {
        atomic_fetch_add(&park.fills_waiting, 1);
        n = HTTP_STREAM_WAIT;
    }
    pthread_mutex_unlock(&park.mu);
    return n;
}

static int park_headers(struct http_req *r, void *app)
{
    (void)app;
    struct http_waker *w = NULL;
    struct http_resp *resp = http_resp_stream_wait(200, park_fill, NULL, NULL, &w);
    pthread_mutex_lock(&park.mu);
    park.w = w;
    pthread_mutex_unlock(&park.mu);
    return http_respond(r, resp);
}
static const struct http_handler parker = {"park", park_headers, NULL, NULL, NULL, NULL};

static void park_push(const char *text, bool done)
{
    pthread_mutex_lock(&park.mu);
    size_t n = strlen(text);
    memcpy(park.data + park.len, text, n);
    park.len += n;
    park.done = done;
    struct http_waker *w = park.w;
    pthread_mutex_unlock(&park.mu);
    http_waker_wake(w);
}

/* Waits (bounded, 2 s) until the stream has parked more than `seen` times. */
static void wait_parked(int seen)
{
    for (int i = 0; i < 400 && atomic_load(&park.fills_waiting) <= seen; i++)
        usleep(5000);
    assert_true(atomic_load(&park.fills_waiting) > seen);
}

static void test_parked_stream(void **state)
{
    struct http_config cfg = {.listen = "127.0.0.1:0", .threads = 1, .drain_timeout_s = 5};
    struct http_server *s;
    uint16_t saved = port;
    char buf[4096];

    (void)state;
    assert_int_equal(http_server_new(&cfg, &s), 0);
    assert_int_equal(http_server_route(s, "/park", &parker), 0);
    http_server_default(s, &toy);
    assert_int_equal(http_server_start(s), 0);
    port = http_server_port(s);

    int fd = raw_connect();
    raw_send(fd, "GET /park HTTP/1.1\r\nHost: x\r\n\r\n");
    wait_parked(0);
    /* the only worker thread is free while the stream is parked */
    for (int i = 0; i < 3; i++) {
        struct got g = {0};
        CURL *c = curl_for("/x", &g);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 3000L);
        assert_int_equal(curl_easy_perform(c), CURLE_OK);
        curl_easy_cleanup(c);
    }
    /* counted before the push: the stream may park again before raw_recv returns */
    int seen = atomic_load(&park.fills_waiting);
    park_push("event: one\n\n", false);
    raw_recv(fd, buf, sizeof buf, "event: one", 3000);
    assert_non_null(strstr(buf, "200"));
    assert_non_null(strstr(buf, "event: one"));
    wait_parked(seen); /* parked again */
    park_push("event: two\n\n", true);
    raw_recv(fd, buf, sizeof buf, "0\r\n\r\n", 3000); /* the chunked end */
    assert_non_null(strstr(buf, "event: two"));
    assert_non_null(strstr(buf, "0\r\n\r\n"));
    close(fd);

    /* a stream still parked when the server stops is ended, not waited for */
    pthread_mutex_lock(&park.mu);
    http_waker_release(park.w);
    park.w = NULL;
    park.len = park.sent = 0;
    park.done = false;
    pthread_mutex_unlock(&park.mu);
    seen = atomic_load(&park.fills_waiting);
    fd = raw_connect();
    raw_send(fd, "GET /park HTTP/1.1\r\nHost: x\r\n\r\n");
    wait_parked(seen);
    http_server_stop(s);
    /* ended properly (a stream cut at the drain timeout would have no chunked end) */
    raw_recv(fd, buf, sizeof buf, "0\r\n\r\n", 2000);
    assert_non_null(strstr(buf, "0\r\n\r\n"));
    close(fd);
    http_server_free(s);
    pthread_mutex_lock(&park.mu);
    http_waker_release(park.w);
    park.w = NULL;
    pthread_mutex_unlock(&park.mu);
    port = saved;
}

static void test_listen_parse(void **state)
{
    static const struct {
        const char *listen;
        int ok;
    } rows[] = {
        {"127.0.0.1:0", 1}, {"[::1]:0", 1},
        {":0", 1},          {"localhost:0", 1},
        {"127.0.0.1", 0},   {"::1:0", 0},
        {"[::1]0", 0},      {"127.0.0.1:99999", 0},
        {"127.0.0.1:x", 0}, {"no.such.host.invalid:0", 0},
    };
    (void)state;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct http_config cfg = {.listen = rows[i].listen, .threads = 1};
        struct http_server *s;
        print_message("listen %s\n", rows[i].listen);
        assert_int_equal(http_server_new(&cfg, &s), 0);
        if (rows[i].ok) {
            assert_int_equal(http_server_start(s), 0);
            assert_true(http_server_port(s) > 0);
        } else {
            assert_true(http_server_start(s) < 0);
        }
        http_server_free(s);
    }
}

static void test_free_once(void **state)
{
    (void)state;
    /* all requests of the tests above are complete: one on_free per on_headers */
    for (int i = 0; i < 100 && atomic_load(&n_free) != atomic_load(&n_headers); i++)
        usleep(10000);
    assert_int_equal(atomic_load(&n_free), atomic_load(&n_headers));
    assert_true(atomic_load(&n_headers) > 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keepalive_reuse), cmocka_unit_test(test_upload_pieces),
        cmocka_unit_test(test_early_reject),    cmocka_unit_test(test_continue),
        cmocka_unit_test(test_raw_target),      cmocka_unit_test(test_slow_client_cut),
        cmocka_unit_test(test_oversized_head),  cmocka_unit_test(test_file_and_head),
        cmocka_unit_test(test_stalled_reader),  cmocka_unit_test(test_drain),
        cmocka_unit_test(test_parked_stream),   cmocka_unit_test(test_listen_parse),
        cmocka_unit_test(test_free_once),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
