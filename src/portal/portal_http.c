/* portal_http.c -- the portal's plumbing over http.h: one implementation behind the
 * member, admin and static handlers (the name differs for logs), admin POST bodies
 * read into a bounded buffer (PORTAL_BODY_MAX; larger bodies are dropped and refused
 * with 413 in on_done, so keep-alive survives), the hardening headers and the
 * query-string check.
 *
 * Every answer is queued in on_done. Nothing here logs a query string or a header. */
#include <jansson.h>
#include <stdlib.h>

#include "crypto/crypto.h"
#include "portal/portal_int.h"

int portal_new(const struct portal_config *cfg, struct portal **out)
{
    struct portal *p = calloc(1, sizeof *p);
    if (!p)
        return -ERR_NOMEM;
    p->cfg = *cfg;
    p->bucket = strdup(cfg->bucket ? cfg->bucket : "tollgate");
    p->public_url = strdup(cfg->public_url ? cfg->public_url : "");
    if (!p->bucket || !p->public_url) {
        portal_free(p);
        return -ERR_NOMEM;
    }
    /* drop a trailing '/' so "<public_url>/downloads/..." has one slash */
    size_t n = strlen(p->public_url);
    while (n && p->public_url[n - 1] == '/')
        p->public_url[--n] = '\0';
    p->cfg.bucket = p->bucket;
    p->cfg.public_url = p->public_url;
    if (!p->cfg.keep_daily)
        p->cfg.keep_daily = PORTAL_KEEP_DAILY;
    if (!p->cfg.keep_monthly)
        p->cfg.keep_monthly = PORTAL_KEEP_MONTHLY;
    p->secure_cookies = strncmp(p->public_url, "https://", 8) == 0;
    pthread_mutex_init(&p->mu, NULL);
    pthread_mutex_init(&p->cache_mu, NULL);
    *out = p;
    return 0;
}

void portal_free(struct portal *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < PORTAL_MCACHE_SLOTS; i++) {
        free(p->mcache[i].key);
        free(p->mcache[i].file);
    }
    portal_sessions_clear(p);
    portal_cache_clear(p);
    pthread_mutex_destroy(&p->mu);
    pthread_mutex_destroy(&p->cache_mu);
    free(p->bucket);
    free(p->public_url);
    free(p);
}

/* ---- html escaping ---- */

int portal_html_escape(struct buf *b, struct str s)
{
    int rc = 0;
    size_t run = 0;
    for (size_t i = 0; i < s.len && rc == 0; i++) {
        const char *rep = NULL;
        switch (s.ptr[i]) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&#39;";
            break;
        default:
            continue;
        }
        rc = buf_add(b, s.ptr + run, i - run);
        if (rc == 0)
            rc = buf_adds(b, rep);
        run = i + 1;
    }
    if (rc == 0)
        rc = buf_add(b, s.ptr + run, s.len - run);
    return rc;
}

/* ---- responses ---- */

static const char CSP[] = "default-src 'none'; style-src 'self'; img-src 'self' data:; "
                          "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

void portal_harden(struct http_resp *resp)
{
    http_resp_header(resp, "Cache-Control", "no-store");
    http_resp_header(resp, "Referrer-Policy", "no-referrer");
    http_resp_header(resp, "Content-Security-Policy", CSP);
    http_resp_header(resp, "X-Content-Type-Options", "nosniff");
    http_resp_header(resp, "X-Frame-Options", "DENY");
}

int portal_send(struct portal_req *c, int status, const char *ctype, struct buf *body,
                const char *const *headers)
{
    size_t len = body ? body->len : 0;
    char *mem = body ? buf_take(body) : NULL;
    struct http_resp *r =
        mem ? http_resp_mem(status, mem, len, false) : http_resp_mem(status, "", 0, true);
    if (!r)
        return http_respond_text(c->req, 500, "text/plain", "out of memory\n");
    if (ctype)
        http_resp_header(r, "Content-Type", ctype);
    portal_harden(r);
    for (size_t i = 0; headers && headers[i]; i += 2)
        http_resp_header(r, headers[i], headers[i + 1]);
    return http_respond(c->req, r);
}

int portal_send_json(struct portal_req *c, int status, void *json)
{
    char *s = json ? json_dumps(json, JSON_COMPACT) : NULL;
    json_decref(json);
    if (!s)
        return portal_send_json_error(c, 500, "internal", "out of memory");
    struct buf b = {s, strlen(s), strlen(s) + 1, 0};
    buf_addc(&b, '\n');
    return portal_send(c, status, "application/json", &b, NULL);
}

int portal_send_json_error(struct portal_req *c, int status, const char *code, const char *message)
{
    json_t *j = json_pack("{s:s, s:s}", "error", code, "message", message);
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!s)
        return http_respond_text(c->req, 500, "text/plain", "out of memory\n");
    struct buf b = {s, strlen(s), strlen(s) + 1, 0};
    buf_addc(&b, '\n');
    return portal_send(c, status, "application/json", &b, NULL);
}

/* "a=1&b=2": every parameter at most PORTAL_PARAM_MAX bytes raw, no name twice, at
 * most PORTAL_PARAMS_MAX of them. Two `t=` would let a proxy and tollgate disagree on
 * which token was presented. */
int portal_query_check(struct str q)
{
    struct str names[PORTAL_PARAMS_MAX];
    size_t n = 0;
    struct str rest = q, item;
    while (rest.len) {
        str_split(rest, '&', &item, &rest);
        if (item.len > PORTAL_PARAM_MAX)
            return -ERR_INVALID;
        if (!item.len)
            continue;
        struct str k, v;
        str_split(item, '=', &k, &v);
        for (size_t i = 0; i < n; i++)
            if (str_eq(names[i], k))
                return -ERR_INVALID;
        if (n == PORTAL_PARAMS_MAX)
            return -ERR_INVALID;
        names[n++] = k;
    }
    return 0;
}

/* ---- handler plumbing ---- */

static int on_headers_route(struct http_req *req, struct portal *p, enum portal_route route)
{
    struct portal_req *c = calloc(1, sizeof *c);
    if (!c)
        return http_respond_text(req, 503, "text/plain", "out of memory\n");
    c->p = p;
    c->req = req;
    c->route = route;
    buf_init(&c->body, PORTAL_BODY_MAX);
    http_req_set_data(req, c);
    return 0;
}

static int member_headers(struct http_req *req, void *app)
{
    return on_headers_route(req, app, ROUTE_MEMBER);
}
static int admin_headers(struct http_req *req, void *app)
{
    return on_headers_route(req, app, ROUTE_ADMIN);
}
static int static_headers(struct http_req *req, void *app)
{
    return on_headers_route(req, app, ROUTE_STATIC);
}
static int metrics_headers(struct http_req *req, void *app)
{
    return on_headers_route(req, app, ROUTE_METRICS);
}

static int on_body(struct http_req *req, void *app, const uint8_t *data, size_t n)
{
    struct portal_req *c = http_req_data(req);
    if (!c || c->body_too_large)
        return 0;
    if (c->route != ROUTE_ADMIN || buf_add(&c->body, data, n) < 0) {
        c->body_too_large = c->route == ROUTE_ADMIN;
        buf_release(&c->body);
    }
    return 0;
}

static void on_done(struct http_req *req, void *app)
{
    struct portal_req *c = http_req_data(req);
    if (!c || http_req_responded(req))
        return;
    if (c->body_too_large) {
        portal_send_json_error(c, 413, "too_large", "The request body is too large.");
        return;
    }
    if (portal_query_check(http_req_query(req)) < 0) {
        http_req_log_note(req, "err=bad-query");
        if (c->route == ROUTE_MEMBER && str_starts(http_req_path(req), "/downloads/")) {
            struct buf b = BUF_INIT;
            portal_html_begin(&b, "Bad request", false);
            buf_adds(&b, "<main class=\"notice\"><h1>Bad request</h1><p>This address is "
                         "malformed. Open the link from the members' post again.</p></main>");
            portal_html_end(&b);
            portal_send(c, 400, "text/html; charset=utf-8", &b, NULL);
        } else {
            portal_send_json_error(c, 400, "bad_query", "Repeated or oversized query parameters.");
        }
        return;
    }
    switch (c->route) {
    case ROUTE_MEMBER:
        portal_member_done(c);
        break;
    case ROUTE_ADMIN:
        portal_admin_done(c);
        break;
    case ROUTE_STATIC:
        portal_static_done(c);
        break;
    case ROUTE_METRICS:
        portal_metrics_done(c);
        break;
    }
    if (!http_req_responded(req))
        http_respond_text(req, 500, "text/plain", "internal error\n");
}

static void on_free(struct http_req *req, void *app)
{
    struct portal_req *c = http_req_data(req);
    if (!c)
        return;
    if (c->body.ptr)
        crypto_wipe(c->body.ptr, c->body.cap); /* admin keys travel in bodies */
    buf_release(&c->body);
    free(c);
    http_req_set_data(req, NULL);
}

void portal_member_handler(struct portal *p, struct http_handler *out)
{
    *out = (struct http_handler){"portal", member_headers, on_body, on_done, on_free, p};
}

void portal_admin_handler(struct portal *p, struct http_handler *out)
{
    *out = (struct http_handler){"admin", admin_headers, on_body, on_done, on_free, p};
}

void portal_static_handler(struct portal *p, struct http_handler *out)
{
    *out = (struct http_handler){"static", static_headers, on_body, on_done, on_free, p};
}

void portal_metrics_handler(struct portal *p, struct http_handler *out)
{
    *out = (struct http_handler){"metrics", metrics_headers, on_body, on_done, on_free, p};
}
