/* portal.h -- what people see: the member portal (an HTML page that needs no JavaScript
 * and the same as JSON) listing a grant's daily, month-to-date and monthly files with
 * time-limited links, the click-time redirect of link_mode = redirect, the admin API
 * (Bearer admin key) and the admin pages (login form, in-memory sessions, CSRF-checked
 * forms), and the CSS under /static/, compiled in.
 *
 *   GET  /downloads/<grant>?t=TOKEN                   member page (HEAD: no use charged)
 *   GET  /api/downloads/<grant>?t=TOKEN               the same as JSON
 *   GET  /downloads/<grant>/file/<key-suffix>?t=TOKEN redirect mode: 302 to a fresh link
 *   GET  /api/admin/grants | /api/admin/tokens        admin API (Authorization: Bearer)
 *   POST /api/admin/tokens, /api/admin/tokens/<id>/revoke, /api/admin/grants/<g>/rotate
 *   GET  /api/admin/status | /api/admin/events        health JSON; events (SSE)
 *   GET  /admin, /admin/grants, /admin/tokens ...     admin pages
 *   GET  /static/portal.css
 *   GET  /metrics                                      Prometheus text format
 *   GET  /api/admin/stats | /api/admin/pulse | /admin/stats   analytics
 *
 * Every answer that carries a token or a link is no-store, no-referrer, under a strict
 * CSP. Tokens never reach a log: the request's log note names gate_token_tag().
 * The portal keeps no state but the admin sessions (memory: a restart logs admins out)
 * and a cache of parsed manifest.json files keyed by key + ETag. */
#ifndef TG_PORTAL_H
#define TG_PORTAL_H

#include "http/http.h"
#include "util/util.h"

struct events;
struct gate;
struct stats;
struct meta;
struct store;

#define PORTAL_KEEP_DAILY 7    /* daily files listed, newest first */
#define PORTAL_KEEP_MONTHLY 24 /* monthly bundles listed, newest first */

struct portal_config {
    struct gate *gate;
    struct store *store;
    struct meta *meta;      /* admin key check */
    const char *bucket;     /* the data bucket ([storage] bucket) */
    const char *public_url; /* base of redirect-mode links; https => Secure cookies */
    unsigned keep_daily;    /* 0 = PORTAL_KEEP_DAILY */
    unsigned keep_monthly;  /* 0 = PORTAL_KEEP_MONTHLY */
    struct events *events;  /* GET /api/admin/events (SSE); NULL: 404 */
    /* GET /api/admin/status: builds the health JSON (json_t *) at `now`; NULL: 404 */
    int (*status)(void *ctx, int64_t now, void **json_out);
    void *status_ctx;
    /* Analytics: portal and API views, rejected tokens, links minted; /admin/stats,
     * /api/admin/stats, /api/admin/pulse. NULL: no events, those pages 404. */
    struct stats *stats;
    /* /metrics: the HTTP server's request counters (http_server_counts_each's shape),
     * and more metric families appended by the caller (publish, lifecycle); NULL: none. */
    int (*http_counts)(void *ctx,
                       int (*fn)(void *fctx, const char *kind, int status_class, uint64_t requests,
                                 uint64_t bytes),
                       void *fctx);
    void *http_counts_ctx;
    int (*metrics_extra)(void *ctx, int64_t now, struct buf *out);
    void *metrics_extra_ctx;
    bool metrics_public; /* /metrics without the admin key */
};

struct portal;
int portal_new(const struct portal_config *cfg, struct portal **out);
void portal_free(struct portal *p); /* NULL-safe */

/* Handlers to route (they share one implementation; the name is for logs):
 *   member: "/downloads/", "/api/downloads/"
 *   admin:  "/admin", "/admin/", "/api/admin/"
 *   static: "/static/" */
void portal_member_handler(struct portal *p, struct http_handler *out);
void portal_admin_handler(struct portal *p, struct http_handler *out);
void portal_static_handler(struct portal *p, struct http_handler *out);
/* "/metrics": Prometheus text; the admin key (Bearer) unless metrics_public. */
void portal_metrics_handler(struct portal *p, struct http_handler *out);

/* HTML text escaping (& < > " ') appended to b. */
int portal_html_escape(struct buf *b, struct str s);

#endif
