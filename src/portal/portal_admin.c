/* portal_admin.c -- the admin API and pages.
 *
 * API (Authorization: Bearer <admin key>, JSON in and out):
 *   GET  /api/admin/grants                   grants, current/next links, next rotation
 *   GET  /api/admin/tokens                   named tokens with usage (never their secret)
 *   POST /api/admin/tokens                   {"grant","label","max_uses"?,"max_downloads"?,
 *                                             "expires"? ("30d") | "expires_at"? (ISO 8601)}
 *                                            -> 201 {"id","label","grant","token","url"}
 *   POST /api/admin/tokens/<id>/revoke
 *   POST /api/admin/grants/<grant>/rotate    epoch bump -> {"grant","epoch","current"}
 *   GET  /api/admin/status                   health: {"ok","grants":[...]} (events.h)
 *   GET  /api/admin/events                   Server-Sent Events: "event: KIND\ndata: JSON\n
 *                                            id: SEQ\n\n"; honours Last-Event-ID; a
 *                                            ": heartbeat" comment every 15 s; at most
 *                                            EVENTS_SUBSCRIBERS_MAX at once (then 503).
 *                                            These two also accept an admin session cookie.
 *
 * Pages: /admin (login form posting the admin key), /admin/grants, /admin/tokens, the
 * rotation confirmation. A login creates a session: a random id in an HttpOnly,
 * SameSite=Strict cookie scoped to /admin, kept in a small table in memory with an
 * expiry (a restart logs everybody out). Every POST form carries the session's CSRF
 * token (the login form: a double-submit token in a short-lived cookie), compared in
 * constant time. State changes are POSTs answered with 303 (or a page that must be
 * seen once: a new token). The admin key and session ids are never logged. */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "crypto/crypto.h"
#include "events/events.h"
#include "meta/meta.h"
#include "portal/portal_int.h"

#define LOGIN_COOKIE "tg_login"
#define SESSION_COOKIE "tg_session"
#define LOGIN_TTL 900

/* ---- small helpers ---- */

static void random_id(char out[PORTAL_ID_LEN + 1])
{
    uint8_t r[32];
    crypto_random(r, sizeof r);
    b64url_encode(r, sizeof r, out);
    crypto_wipe(r, sizeof r);
}

static bool ct_eq_str(struct str a, const char *b)
{
    size_t n = strlen(b);
    return a.len == n && n && crypto_ct_eq(a.ptr, b, n);
}

/* The value of cookie `name` in the Cookie header(s). */
static bool cookie_get(struct http_req *req, const char *name, struct str *out)
{
    struct str all, rest, item;
    if (!http_req_header(req, "cookie", &all))
        return false;
    rest = all;
    while (rest.len) {
        bool more = str_split(rest, ';', &item, &rest);
        struct str k, v;
        /* headers joined with ',' by the HTTP layer split here too */
        struct str sub = item, part;
        while (sub.len) {
            bool m2 = str_split(sub, ',', &part, &sub);
            if (str_split(str_trim(part), '=', &k, &v) && str_eq_c(str_trim(k), name)) {
                *out = str_trim(v);
                return true;
            }
            if (!m2)
                break;
        }
        if (!more)
            break;
    }
    return false;
}

static void time_json(json_t *o, const char *name, int64_t t)
{
    char s[TG_TIME_BUF];
    if (t > 0) {
        time_fmt_iso8601(t, s);
        json_object_set_new(o, name, json_string(s));
    } else {
        json_object_set_new(o, name, json_null());
    }
}

/* ---- sessions ---- */

void portal_sessions_clear(struct portal *p)
{
    crypto_wipe(p->sessions, sizeof p->sessions);
}

static int session_new(struct portal *p, int64_t now, struct portal_session *out)
{
    struct portal_session s;
    random_id(s.id);
    random_id(s.csrf);
    s.expires = now + PORTAL_SESSION_TTL;
    pthread_mutex_lock(&p->mu);
    size_t victim = 0;
    for (size_t i = 0; i < PORTAL_SESSIONS_MAX; i++) {
        struct portal_session *e = &p->sessions[i];
        if (!e->id[0] || e->expires <= now) {
            victim = i;
            break;
        }
        if (e->expires < p->sessions[victim].expires)
            victim = i; /* full: the one closest to its end goes */
    }
    p->sessions[victim] = s;
    pthread_mutex_unlock(&p->mu);
    *out = s;
    return 0;
}

static bool session_find(struct portal *p, struct http_req *req, int64_t now,
                         struct portal_session *out)
{
    struct str id;
    if (!cookie_get(req, SESSION_COOKIE, &id) || id.len != PORTAL_ID_LEN)
        return false;
    bool found = false;
    pthread_mutex_lock(&p->mu);
    for (size_t i = 0; i < PORTAL_SESSIONS_MAX && !found; i++) {
        struct portal_session *e = &p->sessions[i];
        if (e->id[0] && e->expires > now && ct_eq_str(id, e->id)) {
            *out = *e;
            found = true;
        }
    }
    pthread_mutex_unlock(&p->mu);
    return found;
}

static void session_drop(struct portal *p, const char *id)
{
    pthread_mutex_lock(&p->mu);
    for (size_t i = 0; i < PORTAL_SESSIONS_MAX; i++)
        if (strcmp(p->sessions[i].id, id) == 0)
            crypto_wipe(&p->sessions[i], sizeof p->sessions[i]);
    pthread_mutex_unlock(&p->mu);
}

/* ---- grants and tokens as JSON (the API) ---- */

static json_t *grant_json(struct portal *p, const struct gate_grant *gr, int64_t now, int *rc)
{
    struct gate_links lk;
    uint64_t epoch = 0;
    struct buf url = BUF_INIT;
    if ((*rc = gate_links(p->cfg.gate, gr, now, &lk)) < 0 ||
        (*rc = gate_epoch(p->cfg.gate, gr, &epoch)) < 0)
        return NULL;
    json_t *o = json_object(), *pre = json_array();
    json_object_set_new(o, "grant", json_string(gr->name));
    json_object_set_new(o, "title", json_string(gr->title ? gr->title : gr->name));
    for (size_t i = 0; i < gr->n_prefixes; i++)
        json_array_append_new(pre, json_string(gr->prefixes[i]));
    json_object_set_new(o, "prefixes", pre);
    json_object_set_new(o, "link_mode",
                        json_string(gr->link_mode == GATE_LINK_REDIRECT ? "redirect" : "presign"));
    json_object_set_new(o, "epoch", json_integer((json_int_t)epoch));
    json_t *cur = json_object();
    json_object_set_new(cur, "token", json_string(lk.current));
    gate_portal_url(p->cfg.gate, gr, lk.current, &url);
    json_object_set_new(cur, "url", json_string(buf_cstr(&url)));
    time_json(cur, "valid_until", lk.current_valid_until);
    json_object_set_new(o, "current", cur);
    if (lk.has_next) {
        json_t *nx = json_object();
        json_object_set_new(nx, "token", json_string(lk.next));
        buf_reset(&url);
        gate_portal_url(p->cfg.gate, gr, lk.next, &url);
        json_object_set_new(nx, "url", json_string(buf_cstr(&url)));
        time_json(nx, "valid_from", lk.next_valid_from);
        time_json(nx, "required_from", lk.next_required_from);
        json_object_set_new(o, "next", nx);
    } else {
        json_object_set_new(o, "next", json_null());
    }
    time_json(o, "next_rotation", lk.current_valid_until);
    buf_release(&url);
    crypto_wipe(&lk, sizeof lk);
    return o;
}

static json_t *named_json(const struct gate_named *n)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(n->id));
    json_object_set_new(o, "label", json_string(n->label));
    json_object_set_new(o, "grant", json_string(n->grant));
    json_object_set_new(o, "status", json_string(n->status ? n->status : "active"));
    json_object_set_new(o, "uses", json_integer(n->uses));
    json_object_set_new(o, "max_uses", n->max_uses ? json_integer(n->max_uses) : json_null());
    json_object_set_new(o, "downloads", json_integer(n->downloads));
    json_object_set_new(o, "max_downloads",
                        n->max_downloads ? json_integer(n->max_downloads) : json_null());
    time_json(o, "created", n->created);
    time_json(o, "expires_at", n->expires_at);
    time_json(o, "revoked_at", n->revoked_at);
    time_json(o, "last_used", n->last_used);
    return o;
}

static int named_collect(void *ctx, const struct gate_named *n)
{
    json_array_append_new(ctx, named_json(n));
    return 0;
}

struct create_req {
    const struct gate_grant *gr;
    char label[128];
    int64_t max_uses, max_downloads, expires_at;
};

/* Creates the token; on success fills the response object. */
static int token_create(struct portal *p, const struct create_req *cr, json_t **out)
{
    struct gate_named n;
    char token[GATE_TOKEN_MAX];
    struct buf url = BUF_INIT;
    int rc = gate_named_create(p->cfg.gate, cr->gr, cr->label, cr->max_uses, cr->max_downloads,
                               cr->expires_at, &n, token);
    if (rc < 0)
        return rc;
    gate_portal_url(p->cfg.gate, cr->gr, token, &url);
    *out = json_pack("{s:I, s:s, s:s, s:s, s:s}", "id", (json_int_t)n.id, "label", n.label, "grant",
                     n.grant, "token", token, "url", buf_cstr(&url));
    tg_log_info("admin: named token %" PRId64 " created for grant %s", n.id, n.grant);
    crypto_wipe(token, sizeof token);
    buf_release(&url);
    return *out ? 0 : -ERR_NOMEM;
}

/* Validates the fields of a create request (from JSON or a form). expires: "30d" or "" */
static int create_parse(struct portal *p, const char *grant, const char *label, int64_t max_uses,
                        int64_t max_downloads, const char *expires, const char *expires_at,
                        int64_t now, struct create_req *out, const char **why)
{
    struct create_req cr = {0};
    if (!grant || !(cr.gr = gate_grant_find(p->cfg.gate, str_c(grant))))
        return *why = "unknown grant", -ERR_NOT_FOUND;
    if (!label || !*label || strlen(label) >= sizeof cr.label)
        return *why = "label must be 1..127 characters", -ERR_INVALID;
    for (const unsigned char *s = (const unsigned char *)label; *s; s++)
        if (*s < 0x20 || *s == 0x7f)
            return *why = "label must not contain control characters", -ERR_INVALID;
    snprintf(cr.label, sizeof cr.label, "%s", label);
    if (max_uses < 0 || max_downloads < 0)
        return *why = "limits must be 0 (none) or positive", -ERR_INVALID;
    cr.max_uses = max_uses;
    cr.max_downloads = max_downloads;
    if (expires && *expires) {
        int64_t d;
        if (duration_parse(str_c(expires), &d) < 0 || d <= 0)
            return *why = "expires must be a duration like 30d or 12h", -ERR_INVALID;
        cr.expires_at = now + d;
    } else if (expires_at && *expires_at) {
        if (time_parse_iso8601(str_c(expires_at), &cr.expires_at) < 0 || cr.expires_at <= now)
            return *why = "expires_at must be a future ISO 8601 UTC instant", -ERR_INVALID;
    }
    *out = cr;
    return 0;
}

static int rotate(struct portal *p, const struct gate_grant *gr, int64_t now, json_t **out)
{
    uint64_t epoch;
    int rc = gate_epoch_bump(p->cfg.gate, gr, &epoch);
    if (rc < 0)
        return rc;
    tg_log_info("admin: grant %s rotated to epoch %" PRIu64, gr->name, epoch);
    json_t *g = grant_json(p, gr, now, &rc);
    if (!g)
        return rc;
    *out = json_pack("{s:s, s:I, s:O}", "grant", gr->name, "epoch", (json_int_t)epoch, "current",
                     json_object_get(g, "current"));
    json_decref(g);
    return *out ? 0 : -ERR_NOMEM;
}

/* ---- the API ---- */

/* ---- status and events ---- */

#define SSE_PROBE_TRIES 4    /* when the subscribers are all taken */
#define SSE_PROBE_WAIT_MS 50 /* ... wait this long after each probe */

/* An SSE response: the subscriber, and the waker the bus calls to resume it. */
struct sse {
    struct events_sub *sub;
    struct http_waker *waker;
};

static ssize_t sse_fill(void *ctx, uint64_t pos, char *out, size_t cap)
{
    struct sse *x = ctx;
    ssize_t n = events_sub_read(x->sub, out, cap, 0);
    if (n > 0)
        return n;
    return n < 0 ? 0 /* the bus is closing: end the stream */ : HTTP_STREAM_WAIT;
}

static void sse_wake(void *ctx)
{
    http_waker_wake(ctx);
}

static void sse_free(void *ctx)
{
    struct sse *x = ctx;
    events_sub_close(x->sub); /* no wake after this */
    http_waker_release(x->waker);
    free(x);
}

static void events_stream(struct portal_req *c)
{
    struct portal *p = c->p;
    struct str v;
    uint64_t last = 0;
    bool has_last = http_req_header(c->req, "last-event-id", &v) && v.len &&
                    str_to_u64(str_trim(v), &last) == 0;
    struct events_sub *sub = NULL;
    int rc = events_sub_open(p->cfg.events, has_last, last, &sub);
    for (int i = 0; rc == -ERR_UNAVAILABLE && i < SSE_PROBE_TRIES; i++) {
        /* full: maybe of streams whose client left; make them write, and look again */
        events_probe(p->cfg.events);
        struct timespec ts = {0, SSE_PROBE_WAIT_MS * 1000000L};
        nanosleep(&ts, NULL);
        rc = events_sub_open(p->cfg.events, has_last, last, &sub);
    }
    if (rc < 0) {
        const char *const h[] = {"Retry-After", "30", NULL};
        struct buf body = BUF_INIT;
        buf_printf(&body,
                   "{\"error\":\"unavailable\",\"message\":\"At most %d event subscribers at "
                   "once.\"}\n",
                   EVENTS_SUBSCRIBERS_MAX);
        portal_send(c, rc == -ERR_UNAVAILABLE ? 503 : 500, "application/json", &body, h);
        return;
    }
    struct sse *x = calloc(1, sizeof *x);
    if (!x) {
        events_sub_close(sub);
        http_respond_text(c->req, 500, "text/plain", "out of memory\n");
        return;
    }
    x->sub = sub;
    struct http_resp *r = http_resp_stream_wait(200, sse_fill, x, sse_free, &x->waker);
    if (!r) { /* sse_free ran */
        http_respond_text(c->req, 500, "text/plain", "out of memory\n");
        return;
    }
    events_sub_notify(sub, sse_wake, x->waker);
    http_resp_header(r, "Content-Type", "text/event-stream; charset=utf-8");
    portal_harden(r);
    http_resp_header(r, "X-Accel-Buffering", "no");
    http_req_log_note(c->req, "op=events");
    http_respond(c->req, r);
}

static void status_json(struct portal_req *c, int64_t now)
{
    struct portal *p = c->p;
    void *j = NULL;
    int rc = p->cfg.status(p->cfg.status_ctx, now, &j);
    if (rc < 0) {
        tg_log_error("admin: status: %s", err_message(rc));
        portal_send_json_error(c, 500, "error", err_message(rc));
        return;
    }
    portal_send_json(c, 200, j);
}

static void api_error(struct portal_req *c, int rc, const char *why)
{
    int status = err_http_status(rc);
    const char *code = status == 404   ? "not_found"
                       : status == 400 ? "invalid"
                       : status == 409 ? "conflict"
                                       : "error";
    if (status >= 500)
        tg_log_error("admin: %s", err_message(rc));
    portal_send_json_error(c, status, code, why ? why : err_message(rc));
}

static void api_done(struct portal_req *c, struct str path, bool get, bool post)
{
    struct portal *p = c->p;
    int64_t now = tg_now();
    struct str rest = str_n(path.ptr + 11, path.len - 11), a, b;
    bool more = str_split(rest, '/', &a, &b);
    bool ops = !more && (str_eq_c(a, "events") || str_eq_c(a, "status"));
    bool analytics = !more && (str_eq_c(a, "stats") || str_eq_c(a, "pulse"));
    struct portal_session sess;
    if (!portal_bearer_ok(p, c->req) &&
        !((ops || analytics) && session_find(p, c->req, now, &sess))) {
        http_req_log_note(c->req, "err=admin-auth");
        const char *const h[] = {"WWW-Authenticate", "Bearer realm=\"tollgate admin\"", NULL};
        struct buf body = BUF_INIT;
        buf_adds(&body, "{\"error\":\"unauthorized\",\"message\":\"Send Authorization: Bearer "
                        "<admin key>.\"}\n");
        portal_send(c, 401, "application/json", &body, h);
        return;
    }
    if (analytics && portal_stats_api(c, path, now))
        return;
    if (ops) {
        if (!get)
            goto method;
        if (str_eq_c(a, "events") ? !p->cfg.events : !p->cfg.status)
            goto notfound;
        if (str_eq_c(a, "events"))
            events_stream(c);
        else
            status_json(c, now);
        return;
    }
    if (str_eq_c(a, "grants") && !more) {
        if (!get)
            goto method;
        json_t *arr = json_array();
        int rc = 0;
        for (size_t i = 0; i < gate_grant_count(p->cfg.gate) && rc == 0; i++) {
            json_t *g = grant_json(p, gate_grant_at(p->cfg.gate, i), now, &rc);
            if (g)
                json_array_append_new(arr, g);
        }
        if (rc < 0) {
            json_decref(arr);
            api_error(c, rc, NULL);
            return;
        }
        portal_send_json(c, 200, arr);
        return;
    }
    if (str_eq_c(a, "grants") && more) {
        struct str name, action;
        if (!str_split(b, '/', &name, &action) || !str_eq_c(action, "rotate"))
            goto notfound;
        if (!post)
            goto method;
        const struct gate_grant *gr = gate_grant_find(p->cfg.gate, name);
        if (!gr)
            goto notfound;
        json_t *out = NULL;
        int rc = rotate(p, gr, now, &out);
        if (rc < 0)
            api_error(c, rc, NULL);
        else
            portal_send_json(c, 200, out);
        return;
    }
    if (str_eq_c(a, "tokens") && !more) {
        if (get) {
            json_t *arr = json_array();
            int rc = gate_named_list(p->cfg.gate, now, named_collect, arr);
            if (rc < 0) {
                json_decref(arr);
                api_error(c, rc, NULL);
            } else {
                portal_send_json(c, 200, arr);
            }
            return;
        }
        if (!post)
            goto method;
        json_error_t je;
        json_t *in = json_loadb(buf_cstr(&c->body), c->body.len, 0, &je);
        const char *why = "body must be a JSON object";
        struct create_req cr;
        int rc = -ERR_INVALID;
        if (json_is_object(in)) {
            json_t *mu = json_object_get(in, "max_uses"),
                   *md = json_object_get(in, "max_downloads");
            if ((mu && !json_is_integer(mu) && !json_is_null(mu)) ||
                (md && !json_is_integer(md) && !json_is_null(md)))
                why = "max_uses and max_downloads must be integers";
            else
                rc = create_parse(
                    p, json_string_value(json_object_get(in, "grant")),
                    json_string_value(json_object_get(in, "label")), json_integer_value(mu),
                    json_integer_value(md), json_string_value(json_object_get(in, "expires")),
                    json_string_value(json_object_get(in, "expires_at")), now, &cr, &why);
        }
        json_decref(in);
        json_t *out = NULL;
        if (rc == 0)
            rc = token_create(p, &cr, &out);
        if (rc < 0)
            api_error(c, rc == -ERR_NOT_FOUND ? -ERR_INVALID : rc, why);
        else
            portal_send_json(c, 201, out);
        return;
    }
    if (str_eq_c(a, "tokens") && more) {
        struct str id_s, action;
        int64_t id;
        if (!str_split(b, '/', &id_s, &action) || !str_eq_c(action, "revoke") ||
            str_to_i64(id_s, &id) < 0)
            goto notfound;
        if (!post)
            goto method;
        int rc = gate_named_revoke(p->cfg.gate, id);
        if (rc < 0) {
            api_error(c, rc, rc == -ERR_NOT_FOUND ? "no such token" : NULL);
            return;
        }
        tg_log_info("admin: named token %" PRId64 " revoked", id);
        portal_send_json(c, 200,
                         json_pack("{s:I, s:s}", "id", (json_int_t)id, "status", "revoked"));
        return;
    }
notfound:
    portal_send_json_error(c, 404, "not_found", "No such admin API.");
    return;
method : {
    const char *const h[] = {"Allow", get ? "POST" : "GET", NULL};
    struct buf body = BUF_INIT;
    buf_adds(&body, "{\"error\":\"method_not_allowed\",\"message\":\"Method not allowed.\"}\n");
    portal_send(c, 405, "application/json", &body, h);
}
}

/* ---- pages ---- */

static void see_other(struct portal_req *c, const char *where, const char *cookie)
{
    const char *const h[] = {"Location", where, cookie ? "Set-Cookie" : NULL, cookie, NULL};
    portal_send(c, 303, NULL, NULL, h);
}

static void admin_begin(struct buf *b, const char *title, const struct portal_session *s)
{
    portal_html_begin(b, title, true);
    buf_adds(b,
             "<header class=\"top\"><div class=\"wrap\"><a class=\"brand\" href=\"/admin/grants\">"
             "toll<span>gate</span> admin</a>");
    if (s)
        buf_printf(b,
                   "<nav><a href=\"/admin/grants\">Grants</a><a href=\"/admin/tokens\">Named "
                   "tokens</a><a href=\"/admin/stats\">Statistics</a><form class=\"inline\" "
                   "method=\"post\" action=\"/admin/logout\">"
                   "<input type=\"hidden\" name=\"csrf\" value=\"%s\"><button class=\"btn "
                   "small secondary\" type=\"submit\">Log out</button></form></nav>",
                   s->csrf);
    buf_adds(b, "</div></header>\n<div class=\"wrap\"><main>");
}

static void admin_end(struct buf *b)
{
    buf_adds(b, "</main>");
    portal_html_end(b);
}

static void page(struct portal_req *c, int status, struct buf *b, const char *cookie)
{
    const char *const h[] = {cookie ? "Set-Cookie" : NULL, cookie, NULL};
    portal_send(c, status, "text/html; charset=utf-8", b, h);
}

static void login_page(struct portal_req *c, int status, const char *error)
{
    struct portal *p = c->p;
    char token[PORTAL_ID_LEN + 1], cookie[160];
    random_id(token);
    snprintf(cookie, sizeof cookie,
             LOGIN_COOKIE "=%s; Path=/admin; HttpOnly; SameSite=Strict; "
                          "Max-Age=%d%s",
             token, LOGIN_TTL, p->secure_cookies ? "; Secure" : "");
    struct buf b = BUF_INIT;
    admin_begin(&b, "Admin login", NULL);
    buf_adds(&b, "<div class=\"notice\"><h1>Admin login</h1>");
    if (error) {
        buf_adds(&b, "<p class=\"note warn\">");
        portal_html_escape(&b, str_c(error));
        buf_adds(&b, "</p>");
    }
    buf_printf(&b,
               "<form class=\"stack\" method=\"post\" action=\"/admin/login\">"
               "<input type=\"hidden\" name=\"login\" value=\"%s\">"
               "<label>Admin key<input type=\"password\" name=\"key\" autocomplete="
               "\"current-password\" required autofocus placeholder=\"tga_…\"></label>"
               "<button class=\"btn\" type=\"submit\">Log in</button></form>"
               "<p class=\"sub\">The admin key was printed once by <code>tollgate init</code>."
               "</p></div>",
               token);
    admin_end(&b);
    page(c, status, &b, cookie);
}

static bool form_get(struct portal_req *c, const char *name, struct buf *out)
{
    return query_get_decoded(buf_str(&c->body), name, out) == 0;
}

static bool csrf_ok(struct portal_req *c, const struct portal_session *s)
{
    struct str v;
    return query_get(buf_str(&c->body), "csrf", &v) && ct_eq_str(v, s->csrf);
}

static void do_login(struct portal_req *c, int64_t now)
{
    struct portal *p = c->p;
    struct str cookie, field;
    struct buf key = BUF_INIT;
    buf_init(&key, 256);
    if (!cookie_get(c->req, LOGIN_COOKIE, &cookie) ||
        !query_get(buf_str(&c->body), "login", &field) || cookie.len != PORTAL_ID_LEN ||
        !str_eq(cookie, field) || !crypto_ct_eq(cookie.ptr, field.ptr, cookie.len)) {
        http_req_log_note(c->req, "err=login-csrf");
        login_page(c, 403, "The login form expired. Please try again.");
        goto out;
    }
    if (!form_get(c, "key", &key) || !key.len ||
        !meta_admin_key_check(p->cfg.meta, buf_str(&key))) {
        http_req_log_note(c->req, "err=admin-auth");
        login_page(c, 403, "That is not the admin key.");
        goto out;
    }
    struct portal_session s;
    session_new(p, now, &s);
    char set[200];
    snprintf(set, sizeof set,
             SESSION_COOKIE "=%s; Path=/admin; HttpOnly; SameSite=Strict; "
                            "Max-Age=%d%s",
             s.id, PORTAL_SESSION_TTL, p->secure_cookies ? "; Secure" : "");
    tg_log_info("admin: login");
    see_other(c, "/admin/grants", set);
    crypto_wipe(&s, sizeof s);
out:
    if (key.ptr)
        crypto_wipe(key.ptr, key.len);
    buf_release(&key);
}

static void link_cell(struct buf *b, const char *url)
{
    buf_adds(b, "<a class=\"link mono\" href=\"");
    portal_html_escape(b, str_c(url));
    buf_adds(b, "\">");
    portal_html_escape(b, str_c(url));
    buf_adds(b, "</a>");
}

static void grants_page(struct portal_req *c, const struct portal_session *s, int64_t now,
                        const char *flash)
{
    struct portal *p = c->p;
    struct buf b = BUF_INIT, url = BUF_INIT;
    char w1[TG_TIME_BUF], w2[TG_TIME_BUF];
    admin_begin(&b, "Grants", s);
    buf_adds(&b, "<h1>Grants</h1><p class=\"lede\">The links to paste into each audience's "
                 "members-only post. Tier links rotate by themselves; post the next link during "
                 "the overlap.</p>");
    if (flash) {
        buf_adds(&b, "<p class=\"note ok\">");
        portal_html_escape(&b, str_c(flash));
        buf_adds(&b, "</p>");
    }
    for (size_t i = 0; i < gate_grant_count(p->cfg.gate); i++) {
        const struct gate_grant *gr = gate_grant_at(p->cfg.gate, i);
        struct gate_links lk;
        uint64_t epoch = 0;
        buf_adds(&b, "<section><h2>");
        portal_html_escape(&b, str_c(gr->title ? gr->title : gr->name));
        buf_adds(&b, "</h2><p class=\"sub\"><code>");
        portal_html_escape(&b, str_c(gr->name));
        buf_adds(&b, "</code> &middot; ");
        for (size_t k = 0; k < gr->n_prefixes; k++) {
            buf_adds(&b, k ? ", <code>" : "<code>");
            portal_html_escape(&b, str_c(gr->prefixes[k]));
            buf_adds(&b, "</code>");
        }
        if (gate_links(p->cfg.gate, gr, now, &lk) < 0 || gate_epoch(p->cfg.gate, gr, &epoch) < 0) {
            buf_adds(&b, "</p><p class=\"note warn\">Cannot compute this grant's links.</p>"
                         "</section>");
            continue;
        }
        buf_printf(&b, " &middot; %s links &middot; epoch %" PRIu64 "</p>",
                   gr->link_mode == GATE_LINK_REDIRECT ? "redirect" : "presigned", epoch);
        buf_adds(&b, "<div class=\"wide\"><table><tbody><tr><th>Current link</th><td>");
        buf_reset(&url);
        gate_portal_url(p->cfg.gate, gr, lk.current, &url);
        link_cell(&b, buf_cstr(&url));
        portal_fmt_when(lk.current_valid_until, w1);
        buf_printf(&b, "</td></tr><tr><th>Next rotation</th><td>%s</td></tr>", w1);
        if (lk.has_next) {
            buf_reset(&url);
            gate_portal_url(p->cfg.gate, gr, lk.next, &url);
            buf_adds(&b, "<tr><th>Next link</th><td>");
            link_cell(&b, buf_cstr(&url));
            portal_fmt_when(lk.next_valid_from, w1);
            portal_fmt_when(lk.next_required_from, w2);
            buf_printf(&b,
                       "<br><span class=\"sub\">works from %s, required from %s: post it "
                       "now</span></td></tr>",
                       w1, w2);
        } else {
            portal_fmt_when(lk.current_valid_until - gr->overlap_s, w1);
            buf_printf(&b,
                       "<tr><th>Next link</th><td><span class=\"sub\">shown here from %s"
                       "</span></td></tr>",
                       w1);
        }
        buf_adds(&b,
                 "</tbody></table></div><p><a class=\"btn small danger\" href=\"/admin/grants/");
        portal_html_escape(&b, str_c(gr->name));
        buf_adds(&b, "/rotate\">Emergency rotation&hellip;</a></p></section>");
        crypto_wipe(&lk, sizeof lk);
    }
    admin_end(&b);
    buf_release(&url);
    page(c, 200, &b, NULL);
}

static void rotate_confirm_page(struct portal_req *c, const struct portal_session *s,
                                const struct gate_grant *gr, const char *error)
{
    struct buf b = BUF_INIT;
    admin_begin(&b, "Emergency rotation", s);
    buf_adds(&b, "<div class=\"notice\"><h1>Rotate ");
    portal_html_escape(&b, str_c(gr->name));
    buf_adds(&b, " now?</h1>");
    if (error) {
        buf_adds(&b, "<p class=\"note warn\">");
        portal_html_escape(&b, str_c(error));
        buf_adds(&b, "</p>");
    }
    buf_adds(&b, "<p class=\"big\">This bumps the grant's epoch: <strong>every current link and "
                 "every download link already handed out stops working at once</strong>. "
                 "Members need the new link from a new post.</p>"
                 "<form class=\"stack\" method=\"post\" action=\"/admin/grants/");
    portal_html_escape(&b, str_c(gr->name));
    buf_printf(&b,
               "/rotate\"><input type=\"hidden\" name=\"csrf\" value=\"%s\">"
               "<label>Type the grant's name to confirm<input name=\"confirm\" "
               "autocomplete=\"off\" required></label>"
               "<button class=\"btn danger\" type=\"submit\">Rotate now</button>"
               "<a href=\"/admin/grants\">Cancel</a></form></div>",
               s->csrf);
    admin_end(&b);
    page(c, error ? 400 : 200, &b, NULL);
}

static const char *named_when(int64_t t, char out[TG_TIME_BUF])
{
    if (t <= 0)
        return "\xe2\x80\x94";
    portal_fmt_when(t, out);
    return out;
}

struct tok_page {
    struct buf *b;
    const struct portal_session *s;
    size_t n;
};

static int token_row(void *ctx, const struct gate_named *n)
{
    struct tok_page *tp = ctx;
    struct buf *b = tp->b;
    char u[32], mu[32], d[32], md[32], w1[TG_TIME_BUF], w2[TG_TIME_BUF], w3[TG_TIME_BUF];
    const char *status = n->status ? n->status : "active";
    portal_fmt_count(n->uses, u);
    portal_fmt_count(n->max_uses ? n->max_uses : -1, mu);
    portal_fmt_count(n->downloads, d);
    portal_fmt_count(n->max_downloads ? n->max_downloads : -1, md);
    buf_printf(b, "<tr><td class=\"num\">%" PRId64 "</td><td>", n->id);
    portal_html_escape(b, str_c(n->label));
    buf_adds(b, "</td><td><code>");
    portal_html_escape(b, str_c(n->grant));
    buf_printf(b,
               "</code></td><td class=\"num\">%s / %s</td><td class=\"num\">%s / %s</td>"
               "<td><span class=\"pill %s\">%s</span></td><td>%s</td><td>%s</td><td>%s</td>"
               "<td class=\"act\">",
               u, mu, d, md, status, status, named_when(n->created, w1),
               named_when(n->expires_at, w2), named_when(n->last_used, w3));
    if (!n->revoked_at)
        buf_printf(b,
                   "<form class=\"inline\" method=\"post\" action=\"/admin/tokens/%" PRId64
                   "/revoke\"><input type=\"hidden\" name=\"csrf\" value=\"%s\"><button "
                   "class=\"btn small danger\" type=\"submit\">Revoke</button></form>",
                   n->id, tp->s->csrf);
    buf_adds(b, "</td></tr>\n");
    tp->n++;
    return 0;
}

static void tokens_page(struct portal_req *c, const struct portal_session *s, int64_t now,
                        int status, const char *error, json_t *created)
{
    struct portal *p = c->p;
    struct buf b = BUF_INIT;
    admin_begin(&b, "Named tokens", s);
    buf_adds(&b, "<h1>Named tokens</h1><p class=\"lede\">Tokens with a name, optional limits and "
                 "an expiry: for a partner, a community, a single share.</p>");
    if (error) {
        buf_adds(&b, "<p class=\"note warn\">");
        portal_html_escape(&b, str_c(error));
        buf_adds(&b, "</p>");
    }
    if (created) {
        buf_adds(&b, "<section><h2>Token created</h2><p class=\"note ok\">Copy the link now: "
                     "the token is shown only this once.</p><p>");
        link_cell(&b, json_string_value(json_object_get(created, "url")));
        buf_adds(&b, "</p></section>");
    }
    buf_adds(&b, "<section><h2>Create</h2><form method=\"post\" action=\"/admin/tokens\">");
    buf_printf(&b,
               "<input type=\"hidden\" name=\"csrf\" value=\"%s\"><div class=\"grid\">"
               "<label>Grant<select name=\"grant\">",
               s->csrf);
    for (size_t i = 0; i < gate_grant_count(p->cfg.gate); i++) {
        const struct gate_grant *gr = gate_grant_at(p->cfg.gate, i);
        buf_adds(&b, "<option value=\"");
        portal_html_escape(&b, str_c(gr->name));
        buf_adds(&b, "\">");
        portal_html_escape(&b, str_c(gr->name));
        buf_adds(&b, "</option>");
    }
    buf_adds(&b, "</select></label><label>Label<input name=\"label\" required maxlength=\"127\" "
                 "placeholder=\"community-x\"></label><label>Max portal opens<input "
                 "name=\"max_uses\" inputmode=\"numeric\" placeholder=\"unlimited\"></label>"
                 "<label>Max downloads<input name=\"max_downloads\" inputmode=\"numeric\" "
                 "placeholder=\"unlimited\"></label><label>Expires after<input name=\"expires\" "
                 "placeholder=\"30d (blank: never)\"></label></div><button class=\"btn\" "
                 "type=\"submit\">Create token</button></form></section>");
    buf_adds(&b, "<section><h2>Tokens</h2><div class=\"wide\"><table><thead><tr><th class=\"num\">"
                 "Id</th><th>Label</th><th>Grant</th><th class=\"num\">Opens</th><th "
                 "class=\"num\">Downloads</th><th>Status</th><th>Created</th><th>Expires</th>"
                 "<th>Last used</th><th></th></tr></thead><tbody>\n");
    struct tok_page tp = {&b, s, 0};
    int rc = gate_named_list(p->cfg.gate, now, token_row, &tp);
    buf_adds(&b, "</tbody></table></div>");
    if (rc < 0)
        buf_adds(&b, "<p class=\"note warn\">The token list could not be read.</p>");
    else if (!tp.n)
        buf_adds(&b, "<p class=\"empty\">No named tokens yet.</p>");
    buf_adds(&b, "</section>");
    admin_end(&b);
    page(c, status, &b, NULL);
}

static int64_t form_int(struct portal_req *c, const char *name, bool *bad)
{
    struct buf v = BUF_INIT;
    int64_t n = 0;
    if (form_get(c, name, &v) && str_trim(buf_str(&v)).len &&
        str_to_i64(str_trim(buf_str(&v)), &n) < 0)
        *bad = true;
    buf_release(&v);
    return n;
}

static void pages_done(struct portal_req *c, struct str path, bool get, bool post)
{
    struct portal *p = c->p;
    int64_t now = tg_now();
    struct portal_session s;
    bool logged_in = session_find(p, c->req, now, &s);

    if (str_eq_c(path, "/admin") || str_eq_c(path, "/admin/")) {
        if (!get)
            goto method;
        if (logged_in)
            see_other(c, "/admin/grants", NULL);
        else
            login_page(c, 200, NULL);
        return;
    }
    if (str_eq_c(path, "/admin/login")) {
        if (!post)
            goto method;
        do_login(c, now);
        return;
    }
    if (!logged_in) {
        see_other(c, "/admin", NULL);
        return;
    }
    if (post && !csrf_ok(c, &s)) {
        http_req_log_note(c->req, "err=csrf");
        portal_send_json_error(c, 403, "csrf", "The form expired; reload the page.");
        return;
    }
    if (str_eq_c(path, "/admin/logout")) {
        if (!post)
            goto method;
        session_drop(p, s.id);
        see_other(c, "/admin",
                  SESSION_COOKIE "=; Path=/admin; HttpOnly; SameSite=Strict; "
                                 "Max-Age=0");
        return;
    }
    if (str_eq_c(path, "/admin/grants")) {
        if (!get)
            goto method;
        grants_page(c, &s, now, NULL);
        return;
    }
    if (str_eq_c(path, "/admin/stats")) {
        if (!get)
            goto method;
        struct buf b = BUF_INIT;
        admin_begin(&b, "Statistics", &s);
        int src = portal_stats_html(p, http_req_query(c->req), now, &b);
        admin_end(&b);
        if (src < 0) {
            buf_release(&b);
            portal_send_json_error(c, 500, "error", err_message(src));
        } else {
            page(c, 200, &b, NULL);
        }
        return;
    }
    if (str_eq_c(path, "/admin/tokens")) {
        if (get) {
            tokens_page(c, &s, now, 200, NULL, NULL);
            return;
        }
        struct buf grant = BUF_INIT, label = BUF_INIT, expires = BUF_INIT;
        bool bad = false;
        form_get(c, "grant", &grant);
        form_get(c, "label", &label);
        form_get(c, "expires", &expires);
        int64_t mu = form_int(c, "max_uses", &bad), md = form_int(c, "max_downloads", &bad);
        const char *why = "max opens and max downloads must be whole numbers";
        struct create_req cr;
        json_t *out = NULL;
        int rc = bad ? -ERR_INVALID
                     : create_parse(p, buf_cstr(&grant), buf_cstr(&label), mu, md,
                                    buf_cstr(&expires), NULL, now, &cr, &why);
        if (rc == 0 && (rc = token_create(p, &cr, &out)) < 0)
            why = err_message(rc);
        if (rc < 0)
            tokens_page(c, &s, now, 400, why, NULL);
        else
            tokens_page(c, &s, now, 200, NULL, out);
        json_decref(out);
        buf_release(&grant);
        buf_release(&label);
        buf_release(&expires);
        return;
    }
    struct str rest, a, b;
    if (str_starts(path, "/admin/tokens/")) {
        int64_t id;
        rest = str_n(path.ptr + 14, path.len - 14);
        if (!str_split(rest, '/', &a, &b) || !str_eq_c(b, "revoke") || str_to_i64(a, &id) < 0)
            goto notfound;
        if (!post)
            goto method;
        int rc = gate_named_revoke(p->cfg.gate, id);
        if (rc < 0 && rc != -ERR_NOT_FOUND) {
            tokens_page(c, &s, now, 500, err_message(rc), NULL);
            return;
        }
        if (rc == 0)
            tg_log_info("admin: named token %" PRId64 " revoked", id);
        see_other(c, "/admin/tokens", NULL);
        return;
    }
    if (str_starts(path, "/admin/grants/")) {
        rest = str_n(path.ptr + 14, path.len - 14);
        const struct gate_grant *gr;
        if (!str_split(rest, '/', &a, &b) || !str_eq_c(b, "rotate") ||
            !(gr = gate_grant_find(p->cfg.gate, a)))
            goto notfound;
        if (get) {
            rotate_confirm_page(c, &s, gr, NULL);
            return;
        }
        if (!post)
            goto method;
        struct buf confirm = BUF_INIT;
        form_get(c, "confirm", &confirm);
        bool ok = str_eq_c(str_trim(buf_str(&confirm)), gr->name);
        buf_release(&confirm);
        if (!ok) {
            rotate_confirm_page(c, &s, gr, "The name did not match: nothing was rotated.");
            return;
        }
        json_t *out = NULL;
        int rc = rotate(p, gr, now, &out);
        json_decref(out);
        if (rc < 0) {
            rotate_confirm_page(c, &s, gr, err_message(rc));
            return;
        }
        char flash[160];
        snprintf(flash, sizeof flash,
                 "%s was rotated: old links no longer work. Post the new "
                 "current link below.",
                 gr->name);
        grants_page(c, &s, now, flash);
        return;
    }
notfound : {
    struct buf b404 = BUF_INIT;
    admin_begin(&b404, "Not found", &s);
    buf_adds(&b404, "<div class=\"notice\"><h1>Not found</h1><p><a href=\"/admin/grants\">Back "
                    "to the grants</a></p></div>");
    admin_end(&b404);
    page(c, 404, &b404, NULL);
    return;
}
method : {
    const char *const h[] = {"Allow", get ? "POST" : "GET", NULL};
    portal_send(c, 405, "text/plain", NULL, h);
}
}

void portal_admin_done(struct portal_req *c)
{
    struct str path = http_req_path(c->req), m = http_req_method(c->req);
    bool get = str_eq_c(m, "GET") || str_eq_c(m, "HEAD"), post = str_eq_c(m, "POST");
    if (str_starts(path, "/api/admin/"))
        api_done(c, path, get, post);
    else
        pages_done(c, path, get, post);
}
