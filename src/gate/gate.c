/* gate.c -- opening the gate, tier tokens (derived from the server secret, the grant,
 * its epoch and the period; never stored), named tokens (stored as SHA-256), the
 * check of a presented token, and the rate limit of failed checks.
 *
 * Invariants: a token is only ever compared with crypto_ct_eq, and both candidate
 * tier tokens (current and next period) are always derived and compared, so the time
 * of a check does not depend on which one matched. Epochs are read from meta on every
 * check (one indexed row; no cache to go stale when `tollgate token rotate` runs in
 * another process). Client addresses are only kept as a keyed 64-bit hash. */
#include <stdio.h>
#include <stdlib.h>

#include "crypto/crypto.h"
#include "gate/gate_int.h"

#define NAMED_PREFIX "tgn_"
#define NAMED_RANDOM 24 /* bytes: 32 base64url characters, 192 bits */
#define NAMED_LEN (4 + 32)
#define TIER_LEN 43 /* base64url of 32 bytes, unpadded */

int gate_open(const struct cfg *c, const struct gate_config *gc, struct meta *m,
              const uint8_t secret[32], struct gate **out, char **err)
{
    struct gate *g = calloc(1, sizeof *g);
    int rc;
    if (!g)
        return -ERR_NOMEM;
    pthread_mutex_init(&g->key_mu, NULL);
    pthread_mutex_init(&g->rl_mu, NULL);
    pthread_mutex_init(&g->hz_mu, NULL);
    pthread_cond_init(&g->hz_cond, NULL);
    memcpy(g->secret, secret, 32);
    g->meta = m;
    if ((rc = gate_grants_parse(c, &g->grants, &g->n_grants, err)) < 0)
        goto out;
    const char *pub = gc && gc->public_url ? gc->public_url : "http://127.0.0.1:8080";
    const char *sep = strstr(pub, "://");
    g->bucket = strdup(gc && gc->bucket ? gc->bucket : "tollgate");
    g->region = strdup(gc && gc->region ? gc->region : "us-east-1");
    g->public_url = strdup(pub);
    g->scheme = sep ? str_dup((struct str){pub, (size_t)(sep - pub)}) : strdup("http");
    g->host = strdup(sep ? sep + 3 : pub);
    if (!g->bucket || !g->region || !g->public_url || !g->scheme || !g->host) {
        rc = -ERR_NOMEM;
        goto out;
    }
    size_t n = strlen(g->public_url);
    while (n && g->public_url[n - 1] == '/')
        g->public_url[--n] = '\0';
    if (gc && gc->remote && !gc->remote->proxy_downloads) {
        const struct gate_remote *r = gc->remote;
        const char *rs = strstr(r->endpoint, "://");
        struct buf h = BUF_INIT;
        if (!rs) {
            rc = -ERR_CONFIG;
            goto out;
        }
        struct str hp = str_c(rs + 3);
        while (hp.len && hp.ptr[hp.len - 1] == '/')
            hp.len--;
        if (r->virtual_host)
            rc = buf_printf(&h, "%s.%.*s", g->bucket, (int)hp.len, hp.ptr);
        else
            rc = buf_addstr(&h, hp);
        g->r_host = rc == 0 ? buf_take(&h) : NULL;
        buf_release(&h);
        g->r_scheme = str_dup((struct str){r->endpoint, (size_t)(rs - r->endpoint)});
        g->r_bucket = strdup(r->virtual_host ? "" : g->bucket);
        g->r_region = strdup(r->region);
        g->r_akid = strdup(r->akid);
        g->r_secret = strdup(r->secret);
        if (!g->r_host || !g->r_scheme || !g->r_bucket || !g->r_region || !g->r_akid ||
            !g->r_secret) {
            rc = -ERR_NOMEM;
            goto out;
        }
    }
    if ((rc = crypto_random(g->rl_key, sizeof g->rl_key)) < 0)
        goto out;
    if ((rc = meta_gate_open(m, &g->mg)) < 0) {
        struct buf b = BUF_INIT;
        buf_printf(&b, "cannot open the gate's tables: %s", err_message(rc));
        *err = buf_take(&b);
        goto out;
    }
    if ((rc = gate_hz_start(g)) < 0)
        goto out;
    *out = g;
    return 0;
out:
    gate_close(g);
    return rc;
}

void gate_close(struct gate *g)
{
    if (!g)
        return;
    gate_hz_stop(g);
    meta_gate_close(g->mg);
    gate_grants_free(g->grants, g->n_grants);
    free(g->bucket);
    free(g->region);
    free(g->public_url);
    free(g->scheme);
    free(g->host);
    free(g->r_scheme);
    free(g->r_host);
    free(g->r_bucket);
    free(g->r_region);
    free(g->r_akid);
    if (g->r_secret)
        crypto_wipe(g->r_secret, strlen(g->r_secret));
    free(g->r_secret);
    crypto_wipe(g->secret, sizeof g->secret);
    crypto_wipe(g->key_secret, sizeof g->key_secret);
    crypto_wipe(g->rl_key, sizeof g->rl_key);
    pthread_mutex_destroy(&g->key_mu);
    pthread_mutex_destroy(&g->rl_mu);
    pthread_mutex_destroy(&g->hz_mu);
    pthread_cond_destroy(&g->hz_cond);
    free(g);
}

size_t gate_grant_count(const struct gate *g)
{
    return g->n_grants;
}

const struct gate_grant *gate_grant_at(const struct gate *g, size_t i)
{
    return i < g->n_grants ? &g->grants[i] : NULL;
}

const struct gate_grant *gate_grant_find(const struct gate *g, struct str name)
{
    for (size_t i = 0; i < g->n_grants; i++)
        if (str_eq_c(name, g->grants[i].name))
            return &g->grants[i];
    return NULL;
}

/* ---- tier tokens ---- */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

int64_t gate_period_of(const struct gate_grant *gr, int64_t t)
{
    return floor_div(t - gr->anchor, gr->rotation_s);
}

int64_t gate_period_start(const struct gate_grant *gr, int64_t period)
{
    return gr->anchor + period * gr->rotation_s;
}

int gate_epoch(struct gate *g, const struct gate_grant *gr, uint64_t *out)
{
    return meta_epoch_get(g->mg, gr->name, out);
}

int gate_epoch_bump(struct gate *g, const struct gate_grant *gr, uint64_t *new_epoch)
{
    return meta_epoch_bump(g->mg, gr->name, tg_now(), new_epoch);
}

int gate_tier_token(struct gate *g, const struct gate_grant *gr, uint64_t epoch, int64_t period,
                    char out[GATE_TOKEN_MAX])
{
    char msg[GATE_NAME_MAX + 64];
    uint8_t mac[32];
    int n = snprintf(msg, sizeof msg, "tier|%s|%llu|%lld", gr->name, (unsigned long long)epoch,
                     (long long)period);
    if (n < 0 || (size_t)n >= sizeof msg)
        return -ERR_INVALID;
    crypto_hmac_sha256(g->secret, sizeof g->secret, msg, (size_t)n, mac);
    b64url_encode(mac, sizeof mac, out);
    crypto_wipe(mac, sizeof mac);
    return 0;
}

int gate_links(struct gate *g, const struct gate_grant *gr, int64_t now, struct gate_links *out)
{
    struct gate_links l;
    uint64_t epoch;
    int rc;
    memset(&l, 0, sizeof l);
    if ((rc = gate_epoch(g, gr, &epoch)) < 0)
        return rc;
    int64_t p = gate_period_of(gr, now), next_start = gate_period_start(gr, p + 1);
    if ((rc = gate_tier_token(g, gr, epoch, p, l.current)) < 0)
        return rc;
    l.current_valid_until = next_start;
    l.next_valid_from = next_start - gr->overlap_s;
    l.next_required_from = next_start;
    if (gr->overlap_s > 0 && now >= l.next_valid_from) {
        l.has_next = true;
        if ((rc = gate_tier_token(g, gr, epoch, p + 1, l.next)) < 0)
            return rc;
    }
    *out = l;
    crypto_wipe(&l, sizeof l);
    return 0;
}

int gate_portal_url(const struct gate *g, const struct gate_grant *gr, const char *token,
                    struct buf *out)
{
    int rc = buf_printf(out, "%s/downloads/%s?t=", g->public_url, gr->name);
    return rc < 0 ? rc : uri_encode(out, str_c(token), false);
}

void gate_token_tag(struct str token, char out[GATE_TAG_LEN + 1])
{
    uint8_t h[32];
    crypto_sha256(token.ptr ? token.ptr : "", token.len, h);
    memcpy(out, "tok#", 4);
    hex_encode(h, 4, out + 4); /* 8 hex + NUL */
}

/* ---- rate limit of failures ---- */

static uint64_t client_hash(const struct gate *g, const char *client)
{
    uint8_t mac[32];
    uint64_t h = 0;
    crypto_hmac_sha256(g->rl_key, sizeof g->rl_key, client, strlen(client), mac);
    memcpy(&h, mac, sizeof h);
    return h ? h : 1;
}

/* The slot of h (found, or taken over: a free, stale or the oldest one). */
static struct gate_rl_slot *rl_slot(struct gate *g, uint64_t h, int64_t now, bool take)
{
    struct gate_rl_slot *set = g->rl[h % GATE_RL_SETS], *victim = &set[0];
    for (int i = 0; i < GATE_RL_WAYS; i++) {
        if (set[i].h == h)
            return &set[i];
        if (set[i].h == 0 || now - set[i].window_start >= GATE_RL_WINDOW)
            victim = &set[i];
        else if (victim->h != 0 && now - victim->window_start < GATE_RL_WINDOW &&
                 set[i].window_start < victim->window_start)
            victim = &set[i];
    }
    if (!take)
        return NULL;
    victim->h = h;
    victim->window_start = now;
    victim->fails = 0;
    return victim;
}

/* Seconds until the client may try again, 0 when it is not limited. */
static int64_t rl_blocked(struct gate *g, uint64_t h, int64_t now)
{
    int64_t wait = 0;
    pthread_mutex_lock(&g->rl_mu);
    struct gate_rl_slot *s = rl_slot(g, h, now, false);
    if (s && s->fails >= GATE_FAIL_LIMIT && now - s->window_start < GATE_RL_WINDOW)
        wait = s->window_start + GATE_RL_WINDOW - now;
    pthread_mutex_unlock(&g->rl_mu);
    return wait;
}

static void rl_fail(struct gate *g, uint64_t h, int64_t now)
{
    pthread_mutex_lock(&g->rl_mu);
    struct gate_rl_slot *s = rl_slot(g, h, now, true);
    if (now - s->window_start >= GATE_RL_WINDOW) {
        s->window_start = now;
        s->fails = 0;
    }
    if (s->fails < UINT32_MAX)
        s->fails++;
    pthread_mutex_unlock(&g->rl_mu);
}

int64_t gate_retry_after(struct gate *g, const char *client, int64_t now)
{
    return client ? rl_blocked(g, client_hash(g, client), now) : 0;
}

/* ---- checking a token ---- */

static const char *named_status(const struct meta_named *n, int64_t now)
{
    if (n->revoked_at)
        return "revoked";
    if (n->expires_at && now >= n->expires_at)
        return "expired";
    if ((n->max_uses && n->uses >= n->max_uses) ||
        (n->max_downloads && n->downloads >= n->max_downloads))
        return "exhausted";
    return "active";
}

static int check_tier(struct gate *g, const struct gate_grant *gr, struct str token, int64_t now,
                      struct gate_principal *p)
{
    char cur[GATE_TOKEN_MAX], next[GATE_TOKEN_MAX], given[TIER_LEN];
    uint64_t epoch;
    int rc;
    if ((rc = gate_epoch(g, gr, &epoch)) < 0)
        return rc;
    int64_t per = gate_period_of(gr, now);
    bool in_overlap = gr->overlap_s > 0 && now >= gate_period_start(gr, per + 1) - gr->overlap_s;
    gate_tier_token(g, gr, epoch, per, cur);
    gate_tier_token(g, gr, epoch, per + 1, next);
    /* a token of another length is compared against a fixed buffer all the same */
    memset(given, 0, sizeof given);
    memcpy(given, token.ptr, token.len < TIER_LEN ? token.len : TIER_LEN);
    int m_cur = crypto_ct_eq(given, cur, TIER_LEN);
    int m_next = crypto_ct_eq(given, next, TIER_LEN);
    bool len_ok = token.len == TIER_LEN;
    crypto_wipe(cur, sizeof cur);
    crypto_wipe(next, sizeof next);
    crypto_wipe(given, sizeof given);
    if (len_ok && m_cur)
        p->period = per;
    else if (len_ok && m_next && in_overlap)
        p->period = per + 1;
    else
        return -ERR_ACCESS_DENIED;
    p->kind = GATE_TOKEN_TIER;
    p->epoch = epoch;
    return 0;
}

static int check_named(struct gate *g, const struct gate_grant *gr, struct str token, int64_t now,
                       bool count_use, struct gate_principal *p)
{
    uint8_t h[32];
    struct meta_named n;
    int rc;
    crypto_sha256(token.ptr, token.len, h);
    /* max_uses limits charged portal opens only: a token whose opens are used up
     * still redeems its download links (redirect mode re-checks it at each click,
     * uncharged); max_downloads limits those. A charged open is one statement
     * (meta_named_use: one database round trip on PostgreSQL). */
    if (count_use) {
        if ((rc = meta_named_use(g->mg, h, gr->name, now, &n)) < 0)
            return rc;
    } else {
        if ((rc = meta_named_by_hash(g->mg, h, &n)) < 0)
            return rc == -ERR_NOT_FOUND ? -ERR_ACCESS_DENIED : rc;
        if (strcmp(n.grant, gr->name) != 0 || n.revoked_at || (n.expires_at && now >= n.expires_at))
            return -ERR_ACCESS_DENIED;
    }
    uint64_t epoch;
    if ((rc = gate_epoch(g, gr, &epoch)) < 0)
        return rc;
    p->kind = GATE_TOKEN_NAMED;
    p->epoch = epoch;
    p->named_id = n.id;
    p->expires_at = n.expires_at;
    return 0;
}

int gate_token_check(struct gate *g, struct str grant, struct str token, const char *client,
                     int64_t now, bool count_use, struct gate_principal *out)
{
    struct gate_principal p;
    uint64_t ch = client ? client_hash(g, client) : 0;
    int rc;
    if (ch && rl_blocked(g, ch, now) > 0)
        return -ERR_RATE_LIMITED;
    memset(&p, 0, sizeof p);
    const struct gate_grant *gr = gate_grant_find(g, grant);
    if (!gr)
        rc = -ERR_NOT_FOUND;
    else if (token.len == NAMED_LEN && str_starts(token, NAMED_PREFIX))
        rc = check_named(g, gr, token, now, count_use, &p);
    else if (token.len > 0 && token.len < GATE_TOKEN_MAX)
        rc = check_tier(g, gr, token, now, &p);
    else
        rc = -ERR_ACCESS_DENIED;
    if (rc == -ERR_NOT_FOUND || rc == -ERR_ACCESS_DENIED) {
        if (ch)
            rl_fail(g, ch, now);
        return rc;
    }
    if (rc < 0)
        return rc;
    p.grant = gr;
    gate_token_tag(token, p.tag);
    *out = p;
    return 0;
}

/* ---- named tokens ---- */

static void named_public(const struct meta_named *m, int64_t now, struct gate_named *n)
{
    memset(n, 0, sizeof *n);
    n->id = m->id;
    snprintf(n->grant, sizeof n->grant, "%s", m->grant);
    snprintf(n->label, sizeof n->label, "%s", m->label);
    n->max_uses = m->max_uses;
    n->max_downloads = m->max_downloads;
    n->uses = m->uses;
    n->downloads = m->downloads;
    n->created = m->created;
    n->expires_at = m->expires_at;
    n->revoked_at = m->revoked_at;
    n->last_used = m->last_used;
    n->status = named_status(m, now);
}

int gate_named_create(struct gate *g, const struct gate_grant *gr, const char *label,
                      int64_t max_uses, int64_t max_downloads, int64_t expires_at,
                      struct gate_named *out, char token[GATE_TOKEN_MAX])
{
    struct meta_named m;
    uint8_t rnd[NAMED_RANDOM], h[32];
    char tok[GATE_TOKEN_MAX];
    int rc;
    if (!label || !*label || strlen(label) >= sizeof m.label || max_uses < 0 || max_downloads < 0 ||
        expires_at < 0)
        return -ERR_INVALID;
    memset(&m, 0, sizeof m);
    snprintf(m.grant, sizeof m.grant, "%s", gr->name);
    snprintf(m.label, sizeof m.label, "%s", label);
    m.max_uses = max_uses;
    m.max_downloads = max_downloads;
    m.expires_at = expires_at;
    m.created = tg_now();
    if ((rc = crypto_random(rnd, sizeof rnd)) < 0)
        return rc;
    memcpy(tok, NAMED_PREFIX, 4);
    b64url_encode(rnd, sizeof rnd, tok + 4);
    crypto_sha256(tok, strlen(tok), h);
    if ((rc = meta_named_insert(g->mg, h, &m, &m.id)) == 0) {
        named_public(&m, m.created, out);
        memcpy(token, tok, strlen(tok) + 1);
    }
    crypto_wipe(rnd, sizeof rnd);
    crypto_wipe(tok, sizeof tok);
    return rc;
}

struct list_ctx {
    int64_t now;
    int (*fn)(void *ctx, const struct gate_named *n);
    void *ctx;
};

static int list_visit(void *ctx, const struct meta_named *m)
{
    struct list_ctx *lc = ctx;
    struct gate_named n;
    named_public(m, lc->now, &n);
    return lc->fn(lc->ctx, &n);
}

int gate_named_list(struct gate *g, int64_t now, int (*fn)(void *ctx, const struct gate_named *n),
                    void *ctx)
{
    struct list_ctx lc = {now, fn, ctx};
    return meta_named_list(g->mg, list_visit, &lc);
}

int gate_named_revoke(struct gate *g, int64_t id)
{
    return meta_named_revoke(g->mg, id, tg_now());
}
