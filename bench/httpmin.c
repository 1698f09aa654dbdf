/* httpmin.c -- tollgate's HTTP layer (src/http) alone, for bench/serve.sh: what a GET
 * costs with no S3 work (no signature, no SQLite lookup), to tell the HTTP layer's
 * share of a presigned GET from the S3 layer's.
 *
 *   httpmin PORT ROOT [--no-log]
 *
 * GET /mem answers "ok\n" from memory; any other path is a file under ROOT (no "..")
 * sent with http_resp_fd exactly as the S3 GET sends an object. Same defaults as
 * `tollgate serve` (poll mode, one thread per CPU, one log line per request on stderr
 * unless --no-log). Runs until killed. */
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http/http.h"

static const char *root;

static void mem_done(struct http_req *req, void *app)
{
    (void)app;
    http_respond_text(req, 200, "text/plain", "ok\n");
}

static void file_done(struct http_req *req, void *app)
{
    struct str path = http_req_path(req);
    char full[PATH_MAX];
    struct stat st;
    struct http_resp *resp;
    int fd;

    (void)app;
    if (path.len > 512 || memmem(path.ptr, path.len, "..", 2)) {
        http_respond_text(req, 400, "text/plain", "bad path\n");
        return;
    }
    snprintf(full, sizeof full, "%s%.*s", root, (int)path.len, path.ptr);
    if ((fd = open(full, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) != 0) {
        if (fd >= 0)
            close(fd);
        http_respond_text(req, 404, "text/plain", "not found\n");
        return;
    }
    resp = http_resp_fd(200, fd, 0, (uint64_t)st.st_size);
    if (resp)
        http_resp_header(resp, "Content-Type", "application/octet-stream");
    http_respond(req, resp);
}

int main(int argc, char **argv)
{
    static const struct http_handler mem = {.name = "mem", .on_done = mem_done};
    static const struct http_handler file = {.name = "file", .on_done = file_done};
    char listen[64];
    struct http_server *srv = NULL;
    sigset_t set;
    int sig;

    if (argc < 3) {
        fprintf(stderr, "usage: httpmin PORT ROOT [--no-log]\n");
        return 2;
    }
    root = argv[2];
    snprintf(listen, sizeof listen, "127.0.0.1:%s", argv[1]);
    struct http_config hc = {
        .listen = listen,
        .log_requests = !(argc > 3 && strcmp(argv[3], "--no-log") == 0),
    };
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (http_server_new(&hc, &srv) < 0 || http_server_route(srv, "/mem", &mem) < 0)
        return 1;
    http_server_default(srv, &file);
    if (http_server_start(srv) < 0)
        return 1;
    sigwait(&set, &sig);
    http_server_free(srv);
    return 0;
}
