/* portal_cache.c -- the two caches on the member hot path.
 *
 * Listings: a grant's listing (three store listings and the manifests) is built once
 * and shared, immutable and reference-counted, by every request until the store
 * changes: it is tagged with the store generation read before listing (store.h), so a
 * publish or a delete shows on the next page, from any process. Without a generation
 * it is reused for at most PORTAL_LIST_TTL_US (1 s) -- never for a remote store, whose
 * generation is unreadable only when it is down: the page then says so (503). A remote
 * store's generation costs one HEAD per page. Nothing else about a page is
 * cached (the token is checked and the links are minted for each request).
 *
 * Link memo: gate_link_mint is deterministic for (grant, token kind and id or period,
 * epoch, key, filename, ttl, now in seconds) and one portal key: the memo keeps each
 * link minted in the current second and hands the same bytes to the next request of
 * that second. A new second, an epoch bump or another token misses. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "portal/portal_int.h"

void portal_list_put(struct portal_listing_ref *r)
{
    if (r && atomic_fetch_sub(&r->refs, 1) == 1) {
        portal_listing_release(&r->l);
        free(r);
    }
}

int portal_list_get(struct portal *p, const struct gate_grant *gr, struct portal_listing_ref **out)
{
    int64_t mono = tg_monotonic_us();
    uint64_t gen = 0;
    bool exact = store_generation(p->cfg.store, &gen); /* read before listing */
    struct portal_lcache_ent *slot = NULL;
    pthread_mutex_lock(&p->cache_mu);
    for (size_t i = 0; i < PORTAL_LCACHE_SLOTS && !slot; i++)
        if (strcmp(p->lcache[i].grant, gr->name) == 0)
            slot = &p->lcache[i];
    if (slot && slot->ref &&
        (exact
             ? slot->ref->exact && slot->ref->gen == gen
             : !store_is_remote(p->cfg.store) && mono - slot->ref->made_us < PORTAL_LIST_TTL_US)) {
        atomic_fetch_add(&slot->ref->refs, 1);
        *out = slot->ref;
        pthread_mutex_unlock(&p->cache_mu);
        return 0;
    }
    pthread_mutex_unlock(&p->cache_mu);

    struct portal_listing_ref *r = calloc(1, sizeof *r);
    if (!r)
        return -ERR_NOMEM;
    int rc = portal_list(p, gr, &r->l);
    if (rc < 0) {
        free(r);
        return rc;
    }
    r->made_us = mono;
    r->gen = gen;
    r->exact = exact;
    atomic_init(&r->refs, 2); /* the caller's and the cache's */
    struct portal_listing_ref *old = NULL;
    pthread_mutex_lock(&p->cache_mu);
    slot = NULL;
    for (size_t i = 0; i < PORTAL_LCACHE_SLOTS && !slot; i++)
        if (strcmp(p->lcache[i].grant, gr->name) == 0 || !p->lcache[i].grant[0])
            slot = &p->lcache[i];
    if (slot) {
        snprintf(slot->grant, sizeof slot->grant, "%s", gr->name);
        old = slot->ref;
        slot->ref = r;
    } else {
        atomic_fetch_sub(&r->refs, 1); /* more grants than slots: not cached */
    }
    pthread_mutex_unlock(&p->cache_mu);
    portal_list_put(old);
    *out = r;
    return 0;
}

static uint32_t fnv1a(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

int portal_link_mint(struct portal *p, const struct gate_principal *pr, const char *key,
                     const char *filename, int64_t now, int64_t ttl, struct buf *url,
                     int64_t *expires_at, bool *fresh)
{
    *fresh = false;
    struct buf id = BUF_INIT;
    int rc = buf_printf(&id, "%s\n%c%" PRId64 "\n%" PRIu64 "\n%" PRId64 "\n%s\n%s", pr->grant->name,
                        pr->kind == GATE_TOKEN_NAMED ? 'n' : 'p',
                        pr->kind == GATE_TOKEN_NAMED ? pr->named_id : pr->period, pr->epoch, ttl,
                        filename ? filename : "", key);
    if (rc < 0) {
        buf_release(&id);
        return rc;
    }
    struct portal_memo_ent *e = &p->memo[fnv1a(buf_cstr(&id)) % PORTAL_MEMO_SLOTS];
    pthread_mutex_lock(&p->cache_mu);
    if (e->id && e->second == now && strcmp(e->id, buf_cstr(&id)) == 0) {
        rc = buf_adds(url, e->url);
        int64_t exp = e->expires_at;
        pthread_mutex_unlock(&p->cache_mu);
        if (rc == 0)
            *expires_at = exp;
        buf_release(&id);
        return rc;
    }
    pthread_mutex_unlock(&p->cache_mu);

    struct buf u = BUF_INIT;
    int64_t exp = 0;
    rc = gate_link_mint(p->cfg.gate, pr, str_c(key), filename, now, ttl, &u, &exp);
    *fresh = rc == 0;
    if (rc == 0)
        rc = buf_addstr(url, buf_str(&u));
    if (rc == 0) {
        *expires_at = exp;
        char *copy = strdup(buf_cstr(&u)), *idc = buf_take(&id);
        char *old_id = NULL, *old_url = NULL;
        if (copy && idc) {
            pthread_mutex_lock(&p->cache_mu);
            old_id = e->id;
            old_url = e->url;
            e->id = idc;
            e->url = copy;
            e->second = now;
            e->expires_at = exp;
            pthread_mutex_unlock(&p->cache_mu);
        } else {
            old_id = idc;
            old_url = copy;
        }
        free(old_id);
        free(old_url);
    }
    buf_release(&u);
    buf_release(&id);
    return rc;
}

void portal_cache_clear(struct portal *p)
{
    for (size_t i = 0; i < PORTAL_LCACHE_SLOTS; i++) {
        portal_list_put(p->lcache[i].ref);
        p->lcache[i].ref = NULL;
    }
    for (size_t i = 0; i < PORTAL_MEMO_SLOTS; i++) {
        free(p->memo[i].id);
        free(p->memo[i].url);
        p->memo[i].id = p->memo[i].url = NULL;
    }
}
