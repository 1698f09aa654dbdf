/* http_req.c -- request accessors over libmicrohttpd: method, raw path and query
 * (split by us from the raw request target, never MHD's unescaped URL), headers
 * (case-insensitive, repeated ones joined with ","), body counters, client address,
 * per-request handler data and the log note.
 *
 * Every returned view lives until on_free: MHD keeps header strings in the
 * connection's memory pool for the whole request; joined values are allocated here
 * and released with the request. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/http_int.h"

struct str http_req_method(const struct http_req *r)
{
    return r->method;
}

struct str http_req_path(const struct http_req *r)
{
    return r->path;
}

struct str http_req_query(const struct http_req *r)
{
    return r->query;
}

struct hdr_find {
    const char *name;
    size_t name_len;
    unsigned count;
    struct str first;
    struct buf joined;
    int rc;
};

static enum MHD_Result hdr_find_cb(void *cls, enum MHD_ValueKind kind, const char *key,
                                   size_t key_size, const char *value, size_t value_size)
{
    struct hdr_find *f = cls;

    (void)kind;
    if (key_size != f->name_len || strncasecmp(key, f->name, key_size) != 0)
        return MHD_YES;
    if (++f->count == 1) {
        f->first = str_n(value ? value : "", value ? value_size : 0);
        return MHD_YES;
    }
    if (f->count == 2 && f->rc == 0)
        f->rc = buf_addstr(&f->joined, f->first);
    if (f->rc == 0)
        f->rc = buf_addc(&f->joined, ',');
    if (f->rc == 0 && value)
        f->rc = buf_add(&f->joined, value, value_size);
    return MHD_YES;
}

bool http_req_header(const struct http_req *r, const char *name, struct str *value)
{
    struct http_req *rw = (struct http_req *)r; /* joined values are cached on the request */
    struct hdr_find f = {.name = name, .name_len = strlen(name), .joined = BUF_INIT};
    struct http_req_alloc *a;

    if (!r->mc)
        return false;
    buf_init(&f.joined, 1 << 20);
    MHD_get_connection_values_n(r->mc, MHD_HEADER_KIND, hdr_find_cb, &f);
    if (f.count == 0) {
        buf_release(&f.joined);
        return false;
    }
    if (f.count == 1) {
        buf_release(&f.joined);
        *value = f.first;
        return true;
    }
    if (f.rc < 0 || !(a = malloc(sizeof *a + f.joined.len + 1))) {
        buf_release(&f.joined);
        *value = f.first; /* out of memory: the first value is still an honest answer */
        return true;
    }
    memcpy(a->data, f.joined.ptr, f.joined.len + 1);
    a->next = rw->allocs;
    rw->allocs = a;
    *value = str_n(a->data, f.joined.len);
    buf_release(&f.joined);
    return true;
}

struct hdr_each {
    int (*fn)(void *ctx, struct str name, struct str value);
    void *ctx;
    int rc;
};

static enum MHD_Result hdr_each_cb(void *cls, enum MHD_ValueKind kind, const char *key,
                                   size_t key_size, const char *value, size_t value_size)
{
    struct hdr_each *e = cls;

    (void)kind;
    e->rc = e->fn(e->ctx, str_n(key, key_size), str_n(value ? value : "", value ? value_size : 0));
    return e->rc ? MHD_NO : MHD_YES;
}

int http_req_headers_each(const struct http_req *r,
                          int (*fn)(void *ctx, struct str name, struct str value), void *ctx)
{
    struct hdr_each e = {fn, ctx, 0};

    if (r->mc)
        MHD_get_connection_values_n(r->mc, MHD_HEADER_KIND, hdr_each_cb, &e);
    return e.rc;
}

int64_t http_req_content_length(const struct http_req *r)
{
    struct str v;
    int64_t n;

    if (!http_req_header(r, "Content-Length", &v))
        return -1;
    if (str_to_i64(str_trim(v), &n) < 0 || n < 0)
        return -1; /* MHD rejects a malformed Content-Length before we get here */
    return n;
}

uint64_t http_req_body_received(const struct http_req *r)
{
    return r->body_received;
}

const char *http_req_client_addr(const struct http_req *r)
{
    struct http_req *rw = (struct http_req *)r;
    const union MHD_ConnectionInfo *ci;
    const struct sockaddr *sa;

    if (rw->client[0] || !r->mc)
        return rw->client;
    ci = MHD_get_connection_info(r->mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    sa = ci ? ci->client_addr : NULL;
    if (sa && sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, rw->client,
                  sizeof rw->client);
    } else if (sa && sa->sa_family == AF_INET6) {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a6)) /* dual-stack socket: show the IPv4 address */
            inet_ntop(AF_INET, &a6->s6_addr[12], rw->client, sizeof rw->client);
        else
            inet_ntop(AF_INET6, a6, rw->client, sizeof rw->client);
    }
    if (!rw->client[0])
        snprintf(rw->client, sizeof rw->client, "unknown");
    return rw->client;
}

void http_req_set_data(struct http_req *r, void *data)
{
    r->data = data;
}

void *http_req_data(const struct http_req *r)
{
    return r->data;
}

int64_t http_req_start_us(const struct http_req *r)
{
    return r->start_us;
}

void http_req_log_note(struct http_req *r, const char *note)
{
    size_t i;

    if (!note) {
        r->note[0] = 0;
        return;
    }
    /* Copied with control characters replaced so a note cannot forge log lines. */
    for (i = 0; note[i] && i + 1 < sizeof r->note; i++)
        r->note[i] = (unsigned char)note[i] < 0x20 || note[i] == 0x7f ? '?' : note[i];
    r->note[i] = 0;
}
