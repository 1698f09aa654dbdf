/* portal_int.h -- module-private: the portal object, the per-request context, the
 * listing model (what a member page shows, before links are minted), admin sessions,
 * and the helpers the portal_*.c files share. */
#ifndef TG_PORTAL_INT_H
#define TG_PORTAL_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "gate/gate.h"
#include "portal/portal.h"
#include "store/store.h"

#define PORTAL_BODY_MAX (16u << 10) /* admin POST bodies */
#define PORTAL_PARAM_MAX 256        /* one query parameter, name=value, raw */
#define PORTAL_PARAMS_MAX 16
#define PORTAL_SESSIONS_MAX 64
#define PORTAL_SESSION_TTL (12 * 3600)
#define PORTAL_ID_LEN 43 /* 32 random bytes, base64url */
#define PORTAL_MANIFEST_MAX (256u << 10)
#define PORTAL_MCACHE_SLOTS 512
#define PORTAL_SCAN_MAX 20000      /* objects looked at per prefix and kind */
#define PORTAL_LCACHE_SLOTS 64     /* grants whose listing is cached */
#define PORTAL_LIST_TTL_US 1000000 /* a listing is reused for at most 1 s */
#define PORTAL_MEMO_SLOTS 1024     /* links minted this second */

enum portal_route { ROUTE_MEMBER, ROUTE_ADMIN, ROUTE_STATIC, ROUTE_METRICS };

struct portal_session {
    char id[PORTAL_ID_LEN + 1]; /* cookie value; "" = free slot */
    char csrf[PORTAL_ID_LEN + 1];
    int64_t expires;
};

struct portal_mcache_ent {
    char *key; /* manifest.json key */
    char etag[STORE_ETAG_MAX];
    char *file;      /* the manifest's "key" (basename), or NULL */
    int64_t rows;    /* -1 = unknown */
    char sha256[65]; /* "" = unknown */
};

struct portal_listing_ref;
struct portal_lcache_ent {
    char grant[GATE_NAME_MAX];
    struct portal_listing_ref *ref;
};
struct portal_memo_ent {
    char *id;       /* grant, token kind/id, epoch, ttl, key, filename */
    int64_t second; /* the mint's `now` */
    char *url;
    int64_t expires_at;
};

struct portal {
    struct portal_config cfg;
    char *bucket, *public_url;
    bool secure_cookies;
    pthread_mutex_t mu; /* sessions and the manifest cache */
    struct portal_session sessions[PORTAL_SESSIONS_MAX];
    struct portal_mcache_ent mcache[PORTAL_MCACHE_SLOTS];
    pthread_mutex_t cache_mu; /* listings and link memos */
    struct portal_lcache_ent lcache[PORTAL_LCACHE_SLOTS];
    struct portal_memo_ent memo[PORTAL_MEMO_SLOTS];
    struct http_handler h_member, h_admin, h_static;
};

struct portal_req {
    struct portal *p;
    struct http_req *req;
    enum portal_route route;
    struct buf body;
    bool body_too_large;
};

/* ---- the listing model ---- */
enum portal_kind { KIND_DAILY, KIND_MTD, KIND_MONTHLY };
struct portal_file {
    enum portal_kind kind;
    char period[11]; /* "2026-02-13" or "2026-02" */
    char *key;       /* full key in the bucket */
    char *filename;  /* friendly: tier2_2026-02-13.parquet */
    uint64_t size;
    int64_t mtime; /* seconds */
    int64_t rows;  /* -1 = unknown */
    char sha256[65];
};
struct portal_listing {
    struct portal_file *daily; /* newest first, at most keep_daily */
    size_t n_daily;
    struct portal_file *mtd;     /* NULL or one */
    struct portal_file *monthly; /* newest first */
    size_t n_monthly;
    int64_t updated; /* newest mtime of a listed file; 0 = none */
};
int portal_list(struct portal *p, const struct gate_grant *gr, struct portal_listing *out);
void portal_listing_release(struct portal_listing *l);

/* ---- caches (portal_cache.c) ---- */
/* A grant's listing, shared and immutable, reused while the store generation is
 * unchanged (or, without one, for PORTAL_LIST_TTL_US). Release with portal_list_put. */
struct portal_listing_ref {
    atomic_int refs;
    int64_t made_us; /* tg_monotonic_us */
    uint64_t gen;    /* store generation read before listing */
    bool exact;      /* gen is meaningful: valid while the store generation is gen */
    struct portal_listing l;
};
int portal_list_get(struct portal *p, const struct gate_grant *gr, struct portal_listing_ref **out);
void portal_list_put(struct portal_listing_ref *r); /* NULL-safe */
/* gate_link_mint, memoised for the current second: a mint is a pure function of the
 * principal, the object, the ttl and `now` in seconds, so two mints in one second give
 * the same URL byte for byte; the memo only skips recomputing it. */
int portal_link_mint(struct portal *p, const struct gate_principal *pr, const char *key,
                     const char *filename, int64_t now, int64_t ttl, struct buf *url,
                     int64_t *expires_at, bool *fresh); /* fresh: not from the memo */
void portal_cache_clear(struct portal *p);

/* ---- responses (portal_http.c) ---- */
/* Security headers for anything carrying a token or a link (and every portal page). */
void portal_harden(struct http_resp *resp);
int portal_send(struct portal_req *c, int status, const char *ctype, struct buf *body,
                const char *const *headers); /* name, value, ..., NULL; takes body */
int portal_send_json(struct portal_req *c, int status, void *json); /* json_t *, decref'd */
int portal_send_json_error(struct portal_req *c, int status, const char *code, const char *message);
/* Query strings: no repeated parameter, none longer than PORTAL_PARAM_MAX. */
int portal_query_check(struct str query);

/* ---- html (portal_html.c) ---- */
void portal_html_begin(struct buf *b, const char *title, bool admin);
void portal_html_end(struct buf *b);
void portal_fmt_size(uint64_t n, char out[32]);
void portal_fmt_count(int64_t n, char out[32]);
void portal_fmt_when(int64_t t, char out[TG_TIME_BUF]); /* 2026-02-13 06:00 UTC */
/* A JSON string literal (quotes included) of s: RFC 8259 escapes; bytes that are not
 * UTF-8 become U+FFFD, so the output is always valid JSON. */
int portal_json_str(struct buf *b, struct str s);
extern const char PORTAL_CSS[];
extern const size_t PORTAL_CSS_LEN;

/* ---- routes ---- */
void portal_member_done(struct portal_req *c);
void portal_admin_done(struct portal_req *c);
void portal_static_done(struct portal_req *c);
void portal_metrics_done(struct portal_req *c);
/* The admin key as "Authorization: Bearer <key>" (constant time; portal_admin.c). */
bool portal_bearer_ok(struct portal *p, struct http_req *req);

/* ---- analytics (portal_stats.c) ---- */
/* /api/admin/stats and /api/admin/pulse (already authenticated); false: not these. */
bool portal_stats_api(struct portal_req *c, struct str path, int64_t now);
/* The /admin/stats page's content (between the admin header and footer). */
int portal_stats_html(struct portal *p, struct str query, int64_t now, struct buf *b);
/* The Prometheus text of /metrics. */
int portal_metrics_text(struct portal *p, int64_t now, struct buf *b);
void portal_sessions_clear(struct portal *p);

#endif
