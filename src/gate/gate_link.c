/* gate_link.c -- links: SigV4 presigned GETs minted for a checked token, signed with
 * the portal key and carrying signed x-tollgate-grant/-token/-epoch parameters; their
 * redemption checks; and link horizons.
 *
 * A mint never writes to the database: it raises the object's horizon in a pending
 * in-memory table (key -> max expiry), which gate_flush writes in one transaction; a
 * background thread flushes every second and gate_close flushes what is left. A
 * horizon read takes the larger of the pending and the stored value, so it is never
 * below a minted link's expiry in this process. Redemption reads the epoch and the
 * named token from meta every time. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "crypto/crypto.h"
#include "gate/gate_int.h"
#include "s3/s3.h"

#define HZ_PENDING_MAX 65536
#define PORTAL_KEY_RECHECK_US                                                                      \
    5000000 /* a deleted portal key is replaced within 5 s */ /* more distinct keys than this      \
                                                                 between flushes: flush inline */

/* ---- the portal signing key ---- */

static int find_portal(void *ctx, const struct meta_key *k)
{
    char *out = ctx;
    if (strcmp(k->kind, "portal") != 0)
        return 0;
    snprintf(out, META_AKID_LEN + 1, "%s", k->akid);
    return 1;
}

static int portal_key(struct gate *g, char akid[META_AKID_LEN + 1],
                      char secret[META_SECRET_KEY_LEN + 1])
{
    int rc = 0;
    pthread_mutex_lock(&g->key_mu);
    int64_t mono = tg_monotonic_us();
    if (g->have_key && mono - g->key_checked_us > PORTAL_KEY_RECHECK_US) {
        /* `tollgate key delete` of the portal key kills every link signed with it: a
         * new key is made rather than minting links that cannot verify */
        char s[META_SECRET_KEY_LEN + 1];
        if (meta_key_secret(g->meta, str_c(g->akid), s, sizeof s) == -ERR_INVALID_ACCESS_KEY)
            g->have_key = false;
        else
            g->key_checked_us = mono;
        crypto_wipe(s, sizeof s);
    }
    if (!g->have_key) {
        char id[META_AKID_LEN + 1] = "";
        if ((rc = meta_key_list(g->meta, find_portal, id)) < 0)
            goto out;
        if (id[0]) {
            rc = meta_key_secret(g->meta, str_c(id), g->key_secret, sizeof g->key_secret);
            if (rc < 0)
                goto out;
            memcpy(g->akid, id, sizeof id);
        } else {
            struct meta_key k;
            rc = meta_key_create(g->meta, "portal", "portal links (created by the gate)", &k,
                                 g->key_secret);
            if (rc < 0)
                goto out;
            memcpy(g->akid, k.akid, sizeof g->akid);
        }
        g->have_key = true;
        g->key_checked_us = mono;
    }
    memcpy(akid, g->akid, META_AKID_LEN + 1);
    memcpy(secret, g->key_secret, META_SECRET_KEY_LEN + 1);
out:
    pthread_mutex_unlock(&g->key_mu);
    return rc;
}

/* ---- link horizons ---- */

static uint64_t hz_hash(const char *s, size_t n)
{
    return fnv1a64(s, n);
}

/* Finds key's slot in t (cap a power of two): existing or empty. */
static struct gate_hz *hz_slot(struct gate_hz *t, size_t cap, struct str key)
{
    size_t i = (size_t)hz_hash(key.ptr, key.len) & (cap - 1);
    for (;; i = (i + 1) & (cap - 1))
        if (!t[i].key || (strlen(t[i].key) == key.len && memcmp(t[i].key, key.ptr, key.len) == 0))
            return &t[i];
}

static int hz_grow(struct gate *g)
{
    size_t cap = g->hz_cap ? g->hz_cap * 2 : 256;
    struct gate_hz *t = calloc(cap, sizeof *t);
    if (!t)
        return -ERR_NOMEM;
    for (size_t i = 0; i < g->hz_cap; i++)
        if (g->hz[i].key)
            *hz_slot(t, cap, str_c(g->hz[i].key)) = g->hz[i];
    free(g->hz);
    g->hz = t;
    g->hz_cap = cap;
    return 0;
}

/* Under hz_mu. */
static int hz_raise_locked(struct gate *g, struct str key, int64_t horizon)
{
    int rc;
    if ((g->hz_n + 1) * 2 > g->hz_cap && (rc = hz_grow(g)) < 0)
        return rc;
    struct gate_hz *s = hz_slot(g->hz, g->hz_cap, key);
    if (!s->key) {
        if (!(s->key = str_dup(key)))
            return -ERR_NOMEM;
        s->horizon = horizon;
        g->hz_n++;
    } else if (horizon > s->horizon) {
        s->horizon = horizon;
    }
    return 0;
}

int gate_flush(struct gate *g)
{
    pthread_mutex_lock(&g->hz_mu);
    struct gate_hz *t = g->hz;
    size_t cap = g->hz_cap, n = g->hz_n;
    g->hz = NULL;
    g->hz_cap = g->hz_n = 0;
    pthread_mutex_unlock(&g->hz_mu);
    if (n == 0) {
        free(t);
        return 0;
    }
    struct meta_horizon *batch = malloc(n * sizeof *batch);
    int rc = batch ? 0 : -ERR_NOMEM;
    size_t k = 0;
    for (size_t i = 0; batch && i < cap; i++)
        if (t[i].key)
            batch[k++] = (struct meta_horizon){t[i].key, t[i].horizon};
    if (rc == 0)
        rc = meta_horizon_raise(g->mg, g->bucket, batch, k);
    free(batch);
    /* on failure, put them back: a horizon is never lost, only written later */
    pthread_mutex_lock(&g->hz_mu);
    for (size_t i = 0; i < cap; i++) {
        if (!t[i].key)
            continue;
        if (rc < 0)
            hz_raise_locked(g, str_c(t[i].key), t[i].horizon);
        free(t[i].key);
    }
    pthread_mutex_unlock(&g->hz_mu);
    free(t);
    return rc;
}

static void *hz_thread(void *arg)
{
    struct gate *g = arg;
    pthread_mutex_lock(&g->hz_mu);
    while (!g->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&g->hz_cond, &g->hz_mu, &ts);
        if (g->stopping || g->hz_n == 0)
            continue;
        pthread_mutex_unlock(&g->hz_mu);
        if (gate_flush(g) < 0)
            tg_log_warn("gate: link horizons not written yet; retrying in 1 s");
        pthread_mutex_lock(&g->hz_mu);
    }
    pthread_mutex_unlock(&g->hz_mu);
    return NULL;
}

int gate_hz_start(struct gate *g)
{
    if (pthread_create(&g->thread, NULL, hz_thread, g) != 0)
        return -ERR_INTERNAL;
    g->thread_started = true;
    return 0;
}

void gate_hz_stop(struct gate *g)
{
    if (g->thread_started) {
        pthread_mutex_lock(&g->hz_mu);
        g->stopping = true;
        pthread_cond_signal(&g->hz_cond);
        pthread_mutex_unlock(&g->hz_mu);
        pthread_join(g->thread, NULL);
        g->thread_started = false;
    }
    if (g->mg && gate_flush(g) < 0)
        tg_log_error("gate: link horizons could not be written at close");
    for (size_t i = 0; i < g->hz_cap; i++)
        free(g->hz[i].key);
    free(g->hz);
    g->hz = NULL;
    g->hz_cap = g->hz_n = 0;
}

int gate_link_horizon(struct gate *g, struct str key, int64_t *out)
{
    int64_t pending = 0, stored;
    pthread_mutex_lock(&g->hz_mu);
    if (g->hz_cap) {
        struct gate_hz *s = hz_slot(g->hz, g->hz_cap, key);
        if (s->key)
            pending = s->horizon;
    }
    pthread_mutex_unlock(&g->hz_mu);
    int rc = meta_horizon_get(g->mg, g->bucket, key, &stored);
    if (rc < 0)
        return rc;
    *out = pending > stored ? pending : stored;
    return 0;
}

/* ---- minting ---- */

static bool under_prefix(const struct gate_grant *gr, struct str key)
{
    for (size_t i = 0; i < gr->n_prefixes; i++)
        if (str_starts(key, gr->prefixes[i]) && key.len > strlen(gr->prefixes[i]))
            return true;
    return false;
}

/* attachment; filename="ascii"; filename*=UTF-8''percent-encoded (RFC 6266, 5987) */
static int disposition(const char *name, struct buf *out)
{
    int rc = buf_adds(out, "attachment; filename=\"");
    for (const unsigned char *p = (const unsigned char *)name; rc == 0 && *p; p++) {
        if ((*p & 0xc0) == 0x80)
            continue; /* one '_' per non-ASCII character, not per byte */
        rc = buf_addc(out, (*p < 0x20 || *p >= 0x7f || *p == '"' || *p == '\\') ? '_' : (char)*p);
    }
    if (rc == 0)
        rc = buf_adds(out, "\"; filename*=UTF-8''");
    return rc < 0 ? rc : uri_encode(out, str_c(name), false);
}

int gate_link_mint(struct gate *g, const struct gate_principal *p, struct str key,
                   const char *filename, int64_t now, int64_t ttl, struct buf *url,
                   int64_t *expires_at)
{
    char akid[META_AKID_LEN + 1], secret[META_SECRET_KEY_LEN + 1];
    char tokp[32], epoch[24];
    struct buf disp = BUF_INIT, u = BUF_INIT;
    char *k = NULL;
    int rc;
    const struct gate_grant *gr = p->grant;
    if (!gr || !under_prefix(gr, key))
        return -ERR_ACCESS_DENIED;
    if (ttl <= 0)
        ttl = gr->link_mode == GATE_LINK_REDIRECT ? gr->redirect_ttl_s : gr->link_ttl_s;
    if (ttl > GATE_LINK_TTL_MAX)
        ttl = GATE_LINK_TTL_MAX;
    if (p->kind == GATE_TOKEN_NAMED && p->expires_at > 0) {
        if (p->expires_at <= now)
            return -ERR_ACCESS_DENIED;
        if (p->expires_at - now < ttl)
            ttl = p->expires_at - now; /* a link never outlives its token */
    }
    if (g->r_scheme)
        akid[0] = secret[0] = '\0'; /* the remote's keys sign below */
    else if ((rc = portal_key(g, akid, secret)) < 0)
        return rc;
    if (p->kind == GATE_TOKEN_NAMED)
        snprintf(tokp, sizeof tokp, "n%lld", (long long)p->named_id);
    else
        snprintf(tokp, sizeof tokp, "p%lld", (long long)p->period);
    snprintf(epoch, sizeof epoch, "%llu", (unsigned long long)p->epoch);
    const char *extra[8];
    size_t n = 0;
    if (filename && *filename) {
        if ((rc = disposition(filename, &disp)) < 0)
            goto out;
        extra[2 * n] = "response-content-disposition";
        extra[2 * n + 1] = buf_cstr(&disp);
        n++;
    }
    extra[2 * n] = "x-tollgate-epoch";
    extra[2 * n + 1] = epoch;
    n++;
    extra[2 * n] = "x-tollgate-grant";
    extra[2 * n + 1] = gr->name;
    n++;
    extra[2 * n] = "x-tollgate-token";
    extra[2 * n + 1] = tokp;
    n++;
    if (!(k = str_dup(key))) {
        rc = -ERR_NOMEM;
        goto out;
    }
    struct s3_presign ps = {"GET",  g->scheme, g->host, g->bucket, k,     akid,
                            secret, g->region, now,     ttl,       extra, n};
    /* gateway: the remote verifies it (against the wall clock, not TOLLGATE_NOW); only
     * the filename goes along */
    if (g->r_scheme)
        ps = (struct s3_presign){"GET",       g->r_scheme, g->r_host,
                                 g->r_bucket, k,           g->r_akid,
                                 g->r_secret, g->r_region, (int64_t)time(NULL),
                                 ttl,         extra,       filename && *filename};
    if ((rc = s3_presign_url(&ps, &u)) < 0)
        goto out;
    bool flush_now = false;
    pthread_mutex_lock(&g->hz_mu);
    rc = hz_raise_locked(g, key, now + ttl);
    flush_now = g->hz_n >= HZ_PENDING_MAX;
    pthread_mutex_unlock(&g->hz_mu);
    if (rc < 0)
        goto out;
    if (flush_now)
        gate_flush(g);
    if ((rc = buf_addstr(url, buf_str(&u))) < 0)
        goto out;
    *expires_at = now + ttl;
out:
    crypto_wipe(secret, sizeof secret);
    free(k);
    buf_release(&disp);
    buf_release(&u);
    return rc;
}

/* ---- redemption ---- */

int gate_link_redeem(struct gate *g, struct str query, bool count, int64_t now)
{
    struct buf gname = BUF_INIT, tok = BUF_INIT, ep = BUF_INIT;
    uint64_t epoch, cur;
    int64_t id = 0;
    int rc = -ERR_ACCESS_DENIED;
    const struct gate_grant *gr;
    if (query_get_decoded(query, "x-tollgate-grant", &gname) < 0 ||
        query_get_decoded(query, "x-tollgate-token", &tok) < 0 ||
        query_get_decoded(query, "x-tollgate-epoch", &ep) < 0)
        goto out;
    if (!(gr = gate_grant_find(g, buf_str(&gname))) || str_to_u64(buf_str(&ep), &epoch) < 0)
        goto out;
    struct str t = buf_str(&tok);
    if (t.len < 2 || (t.ptr[0] != 'n' && t.ptr[0] != 'p'))
        goto out;
    struct str num = {t.ptr + 1, t.len - 1};
    if (num.ptr[0] == '-') {
        if (t.ptr[0] != 'p' || num.len < 2)
            goto out;
        num.ptr++;
        num.len--;
    }
    uint64_t u;
    if (str_to_u64(num, &u) < 0 || u > INT64_MAX)
        goto out;
    id = (int64_t)u;
    int r2 = gate_epoch(g, gr, &cur);
    if (r2 < 0) {
        rc = r2;
        goto out;
    }
    if (cur != epoch)
        goto out;
    if (t.ptr[0] == 'p') {
        rc = 0;
        goto out;
    }
    struct meta_named n;
    if ((r2 = meta_named_by_id(g->mg, id, &n)) < 0) {
        rc = r2 == -ERR_NOT_FOUND ? -ERR_ACCESS_DENIED : r2;
        goto out;
    }
    if (strcmp(n.grant, gr->name) != 0 || n.revoked_at || (n.expires_at && now >= n.expires_at))
        goto out;
    if (count)
        rc = meta_named_charge(g->mg, id, true, now);
    else
        rc = (n.max_downloads && n.downloads >= n.max_downloads) ? -ERR_ACCESS_DENIED : 0;
out:
    buf_release(&gname);
    buf_release(&tok);
    buf_release(&ep);
    return rc;
}
