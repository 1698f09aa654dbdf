/* bigget.c -- a small large-buffer HTTP/1.1 download client for benchmarks of big
 * files (wrk reads 8 KiB at a time and cannot measure serving of >= 1 MiB bodies).
 *
 *   bigget [-c CONNS] [-d SECONDS] [-b BUFSIZE] URL [URL...]
 *
 * Each connection is a thread with its own keep-alive socket that GETs the URLs in
 * turn for the duration, reading each body to its Content-Length with recv() into a
 * BUFSIZE buffer (default 1 MiB); bodies are discarded. Only http://, only
 * Content-Length bodies (no chunked). Prints one line:
 *   requests=N bytes=N secs=S req_s=X mib_s=X errors=N
 * and exits non-zero if any request failed or a status was not 2xx. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HEAD_MAX 16384

struct target {
    char host[256], port[16];
    char *request; /* "GET /p?q HTTP/1.1\r\nHost: ...\r\n\r\n" */
    size_t request_len;
};

static struct target *targets;
static int ntargets;
static size_t bufsize = 1 << 20;
static double deadline;
static atomic_uint_fast64_t total_requests, total_bytes, total_errors;

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int parse_url(const char *url, struct target *t)
{
    const char *p, *slash, *colon;
    size_t hlen;
    char hosthdr[256];
    const char *path;

    if (strncmp(url, "http://", 7) != 0)
        return -1;
    p = url + 7;
    slash = strchr(p, '/');
    hlen = slash ? (size_t)(slash - p) : strlen(p);
    path = slash ? slash : "/";
    if (hlen == 0 || hlen >= sizeof t->host)
        return -1;
    memcpy(hosthdr, p, hlen);
    hosthdr[hlen] = 0;
    colon = strrchr(hosthdr, ':');
    if (colon && !strchr(hosthdr, ']')) {
        memcpy(t->host, hosthdr, (size_t)(colon - hosthdr));
        t->host[colon - hosthdr] = 0;
        snprintf(t->port, sizeof t->port, "%s", colon + 1);
    } else {
        snprintf(t->host, sizeof t->host, "%s", hosthdr);
        snprintf(t->port, sizeof t->port, "80");
    }
    t->request_len = strlen(path) + strlen(hosthdr) + 64;
    if (!(t->request = malloc(t->request_len)))
        return -1;
    t->request_len = (size_t)snprintf(t->request, t->request_len,
                                      "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, hosthdr);
    return 0;
}

static int dial(const struct target *t)
{
    struct addrinfo hints = {0}, *ai;
    int fd, one = 1;

    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(t->host, t->port, &hints, &ai) != 0)
        return -1;
    fd = socket(ai->ai_family, SOCK_STREAM, 0);
    if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    if (fd >= 0)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* One request on fd. Returns body bytes, or -1 (connection unusable). *keep is
 * cleared when the server will close. buf holds bufsize bytes. */
static int64_t get_one(int fd, const struct target *t, char *buf, bool *keep)
{
    size_t have = 0, head_len;
    char *end, *cl;
    int status;
    uint64_t clen, got;

    for (size_t off = 0; off < t->request_len;) {
        ssize_t n = send(fd, t->request + off, t->request_len - off, MSG_NOSIGNAL);
        if (n <= 0)
            return -1;
        off += (size_t)n;
    }
    for (;;) {
        ssize_t n = recv(fd, buf + have, bufsize - 1 - have, 0);
        if (n <= 0)
            return -1;
        have += (size_t)n;
        buf[have] = 0;
        if ((end = strstr(buf, "\r\n\r\n")))
            break;
        if (have >= HEAD_MAX)
            return -1;
    }
    head_len = (size_t)(end + 4 - buf);
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1 || status < 200 || status > 299)
        return -1;
    *end = 0;
    if (!(cl = strcasestr(buf, "\r\nContent-Length:")))
        return -1;
    clen = strtoull(cl + 17, NULL, 10);
    *keep = !strcasestr(buf, "\r\nConnection: close");
    got = have - head_len;
    while (got < clen) {
        size_t want = clen - got < bufsize ? (size_t)(clen - got) : bufsize;
        ssize_t n = recv(fd, buf, want, 0);
        if (n <= 0)
            return -1;
        got += (uint64_t)n;
    }
    if (got != clen)
        return -1; /* pipelined bytes past the body: not expected from a GET */
    return (int64_t)got;
}

static void *worker(void *arg)
{
    char *buf = malloc(bufsize);
    int fd = -1, i = (int)(intptr_t)arg % ntargets;

    if (!buf)
        return NULL;
    while (now_s() < deadline) {
        const struct target *t = &targets[i];
        bool keep = true;
        int64_t n;
        if (fd < 0 && (fd = dial(t)) < 0) {
            atomic_fetch_add(&total_errors, 1);
            usleep(10000);
            continue;
        }
        n = get_one(fd, t, buf, &keep);
        if (n < 0) {
            atomic_fetch_add(&total_errors, 1);
            keep = false;
        } else {
            atomic_fetch_add(&total_requests, 1);
            atomic_fetch_add(&total_bytes, (uint64_t)n);
        }
        if (!keep) {
            close(fd);
            fd = -1;
        }
        i = (i + 1) % ntargets;
    }
    if (fd >= 0)
        close(fd);
    free(buf);
    return NULL;
}

int main(int argc, char **argv)
{
    int conns = 4, opt;
    double secs = 10, start, took;
    pthread_t *th;

    while ((opt = getopt(argc, argv, "c:d:b:")) != -1) {
        if (opt == 'c')
            conns = atoi(optarg);
        else if (opt == 'd')
            secs = atof(optarg);
        else if (opt == 'b')
            bufsize = (size_t)strtoull(optarg, NULL, 10);
        else
            goto usage;
    }
    if (optind >= argc || conns < 1 || secs <= 0 || bufsize < HEAD_MAX * 2)
        goto usage;
    ntargets = argc - optind;
    if (!(targets = calloc((size_t)ntargets, sizeof *targets)))
        return 2;
    for (int i = 0; i < ntargets; i++)
        if (parse_url(argv[optind + i], &targets[i]) < 0) {
            fprintf(stderr, "bigget: bad URL '%s' (http://host:port/path only)\n",
                    argv[optind + i]);
            return 2;
        }
    if (!(th = calloc((size_t)conns, sizeof *th)))
        return 2;
    start = now_s();
    deadline = start + secs;
    for (int i = 0; i < conns; i++)
        if (pthread_create(&th[i], NULL, worker, (void *)(intptr_t)i) != 0)
            return 2;
    for (int i = 0; i < conns; i++)
        pthread_join(th[i], NULL);
    took = now_s() - start;
    printf("requests=%llu bytes=%llu secs=%.2f req_s=%.1f mib_s=%.1f errors=%llu\n",
           (unsigned long long)total_requests, (unsigned long long)total_bytes, took,
           (double)total_requests / took, (double)total_bytes / took / (1024.0 * 1024.0),
           (unsigned long long)total_errors);
    for (int i = 0; i < ntargets; i++)
        free(targets[i].request);
    free(targets);
    free(th);
    return total_errors ? 1 : 0;
usage:
    fprintf(stderr, "usage: bigget [-c CONNS] [-d SECONDS] [-b BUFSIZE] URL [URL...]\n");
    return 2;
}
