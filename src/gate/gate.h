/* gate.h -- who may download what: grants (from the config), rotating tier tokens
 * (derived, never stored), named tokens (stored as SHA-256, with limits), the links
 * (SigV4 presigned URLs carrying signed x-tollgate-* parameters) minted for a token,
 * their redemption checks, link horizons, and rate limiting of failed token checks.
 *
 * Tier token = base64url(HMAC-SHA256(secret, "tier|" grant "|" epoch "|" period)),
 * 43 characters (256 bits). period = floor((t - anchor) / rotation). The token of
 * period p is valid during p; the token of p+1 also during the `overlap` before p+1
 * starts. Bumping a grant's epoch (persisted in meta) kills every tier token and every
 * link minted under the old epoch, on every process using the data directory, at once.
 *
 * Named tokens: "tgn_" + 32 base64url characters; stored as SHA-256 with label, grant,
 * max_uses (portal opens), max_downloads (redeemed links), expiry, revocation, counters.
 * Counters are updated atomically (a single UPDATE ... WHERE count < max), so concurrent
 * use never exceeds a limit.
 *
 * Tokens are compared in constant time and never logged: logs show gate_token_tag()
 * ("tok#" + 8 hex of the token's SHA-256). All functions return 0 or a negative error
 * (util.h); out-params are written only on success. Thread-safe. */
#ifndef TG_GATE_H
#define TG_GATE_H

#include <stdbool.h>
#include <stdint.h>

#include "util/util.h"

struct meta;
struct store;

#define GATE_NAME_MAX 64         /* grant names: [a-z0-9_-], 1..63 */
#define GATE_TOKEN_MAX 64        /* any token as text, + NUL */
#define GATE_TAG_LEN 12          /* "tok#" + 8 hex */
#define GATE_LINK_TTL_MAX 604800 /* 7 days: SigV4's ceiling */
#define GATE_PREFIXES_MAX 16
#define GATE_FAIL_LIMIT 20 /* failed token checks per minute per address -> 429 */

enum gate_link_mode { GATE_LINK_PRESIGN, GATE_LINK_REDIRECT };

/* One [grant NAME] section. Keys: title, prefix (space-separated, each ending '/'),
 * rotation ("7d @ 1970-01-05T00:00:00Z"), overlap, link_ttl (capped at 7 d),
 * link_mode (presign|redirect), redirect_ttl (default 10m), and the retention the
 * lifecycle applies (lifecycle.h): keep_daily (default 7), keep_monthly (default 12),
 * keep_yearly (default all). */
struct gate_grant {
    char name[GATE_NAME_MAX];
    char *title;
    char *prefixes[GATE_PREFIXES_MAX];
    size_t n_prefixes;
    int64_t rotation_s, anchor, overlap_s;
    int64_t link_ttl_s, redirect_ttl_s;
    enum gate_link_mode link_mode;
    unsigned keep_daily;   /* newest daily folders kept, 1..3660 */
    unsigned keep_monthly; /* newest monthly bundles kept, 0..1200 */
    int keep_yearly;       /* older December bundles of the newest N years; -1 = all */
};
#define GATE_KEEP_ALL (-1)

/* What gate_open needs beyond meta and the secret. */
/* Gateway mode ([storage] backend = s3): links are presigned for the remote store
 * (endpoint, bucket, region, its keys) unless proxy_downloads sends them through
 * tollgate; redirect-mode grants answer the click with a 302 to such a remote link. */
struct gate_remote {
    const char *endpoint; /* http(s)://host[:port] */
    const char *region;
    bool virtual_host;
    const char *akid, *secret;
    bool proxy_downloads;
};
struct gate_config {
    const char *bucket;     /* the data bucket: links point into it */
    const char *public_url; /* http(s)://host[:port]: links and portal URLs */
    const char *region;
    const struct gate_remote *remote; /* NULL: local store */
};

struct gate;
/* Parses every [grant NAME] section of c (errors: "FILE:LINE: [grant x] key = v: why"
 * in *err), and opens the gate. The portal signing key (a meta key of kind "portal")
 * is created on first use. */
int gate_open(const struct cfg *c, const struct gate_config *gc, struct meta *m,
              const uint8_t secret[32], struct gate **out, char **err);
void gate_close(struct gate *g);
/* The config keys gate_open reads, for cfg_check_known (NULL-terminated, static). */
extern const char *const gate_config_keys[];

size_t gate_grant_count(const struct gate *g);
const struct gate_grant *gate_grant_at(const struct gate *g, size_t i);
const struct gate_grant *gate_grant_find(const struct gate *g, struct str name);

/* ---- tier tokens ---- */
int64_t gate_period_of(const struct gate_grant *gr, int64_t t);
int64_t gate_period_start(const struct gate_grant *gr, int64_t period);
int gate_epoch(struct gate *g, const struct gate_grant *gr, uint64_t *out);
/* Bumps the epoch; every tier token and link of the old epoch dies. */
int gate_epoch_bump(struct gate *g, const struct gate_grant *gr, uint64_t *new_epoch);
int gate_tier_token(struct gate *g, const struct gate_grant *gr, uint64_t epoch, int64_t period,
                    char out[GATE_TOKEN_MAX]);

/* The links to post: the current token and, inside the overlap, the next one. */
struct gate_links {
    char current[GATE_TOKEN_MAX];
    int64_t current_valid_until; /* end of the current period + 0 (the next is required) */
    bool has_next;
    char next[GATE_TOKEN_MAX];
    int64_t next_valid_from;    /* start of the overlap */
    int64_t next_required_from; /* start of the next period */
};
int gate_links(struct gate *g, const struct gate_grant *gr, int64_t now, struct gate_links *out);
/* The portal URL of a token: <public_url>/downloads/<grant>?t=<token> */
int gate_portal_url(const struct gate *g, const struct gate_grant *gr, const char *token,
                    struct buf *out);

/* ---- checking a presented token ---- */
enum gate_token_kind { GATE_TOKEN_TIER, GATE_TOKEN_NAMED };
struct gate_principal {
    const struct gate_grant *grant;
    enum gate_token_kind kind;
    uint64_t epoch;
    int64_t period;     /* tier: the period the token belongs to */
    int64_t named_id;   /* named: its id */
    int64_t expires_at; /* named: 0 = none */
    char tag[GATE_TAG_LEN + 1];
};
/* Checks `token` for `grant` at `now`. count_use: a named token's max_uses is charged
 * (a portal open; not for HEAD or link-preview bots). client: the address for the
 * failure rate limit (never stored or logged).
 * Errors: -ERR_NOT_FOUND (unknown grant: 404), -ERR_ACCESS_DENIED (bad, old, other
 * grant, revoked, expired, exhausted: one answer for all), -ERR_RATE_LIMITED (429). */
int gate_token_check(struct gate *g, struct str grant, struct str token, const char *client,
                     int64_t now, bool count_use, struct gate_principal *out);
/* "tok#" + 8 hex of sha256(token). */
void gate_token_tag(struct str token, char out[GATE_TAG_LEN + 1]);
/* Seconds until a rate-limited client may try again (for Retry-After). */
int64_t gate_retry_after(struct gate *g, const char *client, int64_t now);

/* ---- links ---- */
/* A presigned GET for bucket/key, minted for p: expiry min(link_ttl, 7 d) from now
 * (redirect mode: redirect_ttl), response-content-disposition with `filename`, signed
 * x-tollgate-grant, x-tollgate-token (named id, or "p<period>"), x-tollgate-epoch.
 * Gateway mode without proxy_downloads: signed for the remote store with its keys and
 * only the filename (the remote cannot check a token: such a link lives until it
 * expires). Raises the object's link horizon (batched). */
int gate_link_mint(struct gate *g, const struct gate_principal *p, struct str key,
                   const char *filename, int64_t now, int64_t ttl, struct buf *url,
                   int64_t *expires_at);
/* The S3 layer calls this for a GET/HEAD whose signed query carries x-tollgate-*:
 * refuses a link of an old epoch, of a revoked/expired named token, or past its
 * max_downloads (charged when count is true: a GET, not HEAD, not a bot).
 * -ERR_ACCESS_DENIED when refused. */
int gate_link_redeem(struct gate *g, struct str query, bool count, int64_t now);
/* The latest expiry of any link minted for bucket/key (0 = none). */
int gate_link_horizon(struct gate *g, struct str key, int64_t *out);
/* Writes pending horizon updates (also done by a background flush every second). */
int gate_flush(struct gate *g);

/* ---- named tokens ---- */
struct gate_named {
    int64_t id;
    char grant[GATE_NAME_MAX];
    char label[128];
    int64_t max_uses, max_downloads; /* 0 = unlimited */
    int64_t uses, downloads;
    int64_t created, expires_at, revoked_at, last_used; /* 0 = never/none */
    const char *status; /* "active", "exhausted", "expired", "revoked" */
};
int gate_named_create(struct gate *g, const struct gate_grant *gr, const char *label,
                      int64_t max_uses, int64_t max_downloads, int64_t expires_at,
                      struct gate_named *out, char token[GATE_TOKEN_MAX]);
int gate_named_list(struct gate *g, int64_t now, int (*fn)(void *ctx, const struct gate_named *n),
                    void *ctx);
int gate_named_revoke(struct gate *g, int64_t id); /* -ERR_NOT_FOUND */

#endif
