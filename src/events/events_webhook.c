/* events_webhook.c -- [webhook NAME] sections and their delivery: the bus's one
 * background thread POSTs each event's JSON to every hook that wants its kind, signed
 * with HMAC-SHA256(secret, body), retried with exponential backoff and jitter. The same
 * thread wakes SSE subscribers whose heartbeat is due (checked once a second).
 *
 * Invariants: a delivery is either in the queue or held by the thread, never both; the
 * thread takes the earliest due one, sends it without the lock, and re-queues it (same
 * delivery id, attempt + 1) or frees it. A stop request aborts a transfer in flight
 * through curl's progress callback, so events_close does not wait for a slow peer.
 * Never logged: the secret, the signature, the URL (hooks are named in logs). */
#include <curl/curl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/crypto.h"
#include "events/events_int.h"

/* ---- configuration ---- */

static int hook_fail(const struct cfg *c, const char *sec, const char *key, char **err,
                     const char *why)
{
    const struct cfg_entry *e = cfg_find(c, sec, key);
    struct buf b = BUF_INIT;
    buf_printf(&b, "%s:%d: [%s] %s: %s", c->path, e ? e->line : 0, sec, key, why);
    *err = buf_take(&b);
    return -ERR_CONFIG;
}

static int hook_parse(const struct cfg *c, const char *sec, struct events_hook *h, char **err)
{
    const char *name = sec + 8; /* after "webhook " */
    if (!*name || strlen(name) >= sizeof h->name)
        return hook_fail(c, sec, "url", err, "the webhook needs a name of 1..63 characters");
    snprintf(h->name, sizeof h->name, "%s", name);
    const char *url = cfg_get(c, sec, "url", NULL), *secret = cfg_get(c, sec, "secret", NULL);
    if (!url || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0))
        return hook_fail(c, sec, "url", err, "expected an http:// or https:// URL");
    if (!secret || !*secret)
        return hook_fail(c, sec, "secret", err, "a non-empty secret is required (it signs)");
    h->kinds = 0;
    const char *evs = cfg_get(c, sec, "events", NULL);
    if (!evs) {
        h->kinds = (1u << EV_KINDS) - 1;
    } else {
        struct str rest = str_c(evs), item;
        while (rest.len) {
            bool more = str_split(rest, ' ', &item, &rest);
            item = str_trim(item);
            if (item.len) {
                unsigned k = 0;
                while (k < EV_KINDS && !str_eq_c(item, events_kind_name((enum events_kind)k)))
                    k++;
                if (k == EV_KINDS)
                    return hook_fail(c, sec, "events", err,
                                     "expected kinds among: published retired deleted rejected");
                h->kinds |= 1u << k;
            }
            if (!more)
                break;
        }
        if (!h->kinds)
            return hook_fail(c, sec, "events", err, "name at least one kind");
    }
    h->url = strdup(url);
    h->secret = strdup(secret);
    return h->url && h->secret ? 0 : -ERR_NOMEM;
}

int events_webhook_parse(const struct cfg *c, struct events *ev, char **err)
{
    for (size_t i = 0; i < c->n; i++) {
        const char *sec = c->entries[i].section;
        if (strncmp(sec, "webhook ", 8) != 0)
            continue;
        bool seen = false;
        for (size_t k = 0; k < ev->n_hooks && !seen; k++)
            seen = strcmp(ev->hooks[k].name, sec + 8) == 0;
        if (seen)
            continue;
        if (ev->n_hooks == EVENTS_WEBHOOKS_MAX)
            return hook_fail(c, sec, "url", err, "too many [webhook] sections (at most 16)");
        int rc = hook_parse(c, sec, &ev->hooks[ev->n_hooks], err);
        ev->n_hooks++; /* also on failure: events_webhook_free releases it */
        if (rc < 0)
            return rc;
    }
    return 0;
}

void events_webhook_free(struct events *ev)
{
    for (size_t i = 0; i < ev->n_hooks; i++) {
        free(ev->hooks[i].url);
        if (ev->hooks[i].secret)
            crypto_wipe(ev->hooks[i].secret, strlen(ev->hooks[i].secret));
        free(ev->hooks[i].secret);
    }
    ev->n_hooks = 0;
    while (ev->queue) {
        struct events_delivery *d = ev->queue;
        ev->queue = d->next;
        free(d->body);
        free(d);
    }
}

/* ---- signing and backoff ---- */

void events_signature(const char *secret, const void *body, size_t n, char out[72])
{
    uint8_t mac[32];
    crypto_hmac_sha256(secret, strlen(secret), body, n, mac);
    memcpy(out, "sha256=", 7);
    hex_encode(mac, sizeof mac, out + 7);
    crypto_wipe(mac, sizeof mac);
}

int64_t events_backoff_ms(unsigned attempt, uint32_t rnd)
{
    if (attempt <= 1)
        return 0;
    unsigned shift = attempt - 2 < 20 ? attempt - 2 : 20;
    int64_t base = (int64_t)1000 << shift;
    return base + (int64_t)(rnd % 1000u) * base / 4000; /* [0, 25%) of base */
}

/* ---- the queue (mu held) ---- */

void events_webhook_enqueue(struct events *ev, enum events_kind kind, uint64_t seq,
                            const char *json)
{
    for (size_t i = 0; i < ev->n_hooks; i++) {
        if (!(ev->hooks[i].kinds & (1u << kind)))
            continue;
        if (ev->n_queue >= EVENTS_WEBHOOK_QUEUE_MAX) {
            /* drop the oldest event's delivery: the newest matter more */
            struct events_delivery **pp = &ev->queue, **old = NULL;
            for (; *pp; pp = &(*pp)->next)
                if (!old || (*pp)->seq < (*old)->seq)
                    old = pp;
            struct events_delivery *d = *old;
            *old = d->next;
            tg_log_warn("webhook %s: queue full, event #%" PRIu64 " not delivered",
                        ev->hooks[d->hook].name, d->seq);
            free(d->body);
            free(d);
            ev->n_queue--;
        }
        struct events_delivery *d = calloc(1, sizeof *d);
        if (!d || !(d->body = strdup(json))) {
            free(d);
            tg_log_error("webhook %s: out of memory, event #%" PRIu64 " not delivered",
                         ev->hooks[i].name, seq);
            continue;
        }
        uint8_t r[16];
        crypto_random(r, sizeof r);
        hex_encode(r, sizeof r, d->id);
        d->hook = i;
        d->kind = kind;
        d->seq = seq;
        d->due_us = tg_monotonic_us();
        d->next = ev->queue;
        ev->queue = d;
        ev->n_queue++;
    }
    if (ev->n_hooks)
        pthread_cond_signal(&ev->wcv);
}

/* ---- one attempt ---- */

static size_t discard(char *p, size_t sz, size_t n, void *ctx)
{
    return sz * n;
}

static int abort_on_stop(void *ctx, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    struct events *ev = ctx;
    pthread_mutex_lock(&ev->mu);
    bool stop = ev->stop;
    pthread_mutex_unlock(&ev->mu);
    return stop ? 1 : 0;
}

/* 0 when the peer answered 2xx; else <0 with why (a sentence without secrets). */
static int post_once(struct events *ev, const struct events_hook *h,
                     const struct events_delivery *d, char *why, size_t whycap)
{
    CURL *cu = curl_easy_init();
    if (!cu) {
        snprintf(why, whycap, "curl_easy_init failed");
        return -ERR_INTERNAL;
    }
    char sig[72], hdr[3][128];
    events_signature(h->secret, d->body, strlen(d->body), sig);
    struct curl_slist *hl = curl_slist_append(NULL, "Content-Type: application/json");
    snprintf(hdr[0], sizeof hdr[0], "X-Tollgate-Event: %s", events_kind_name(d->kind));
    snprintf(hdr[1], sizeof hdr[1], "X-Tollgate-Delivery: %s", d->id);
    snprintf(hdr[2], sizeof hdr[2], "X-Tollgate-Signature: %s", sig);
    for (int i = 0; i < 3; i++)
        hl = curl_slist_append(hl, hdr[i]);
    hl = curl_slist_append(hl, "Expect:");
    curl_easy_setopt(cu, CURLOPT_URL, h->url);
    curl_easy_setopt(cu, CURLOPT_POSTFIELDS, d->body);
    curl_easy_setopt(cu, CURLOPT_POSTFIELDSIZE, (long)strlen(d->body));
    curl_easy_setopt(cu, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(cu, CURLOPT_USERAGENT, "tollgate-webhook/1");
    curl_easy_setopt(cu, CURLOPT_TIMEOUT, (long)EVENTS_WEBHOOK_TIMEOUT_S);
    curl_easy_setopt(cu, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(cu, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(cu, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(cu, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(cu, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(cu, CURLOPT_XFERINFOFUNCTION, abort_on_stop);
    curl_easy_setopt(cu, CURLOPT_XFERINFODATA, ev);
    CURLcode cc = curl_easy_perform(cu);
    long status = 0;
    int rc = 0;
    if (cc != CURLE_OK) {
        snprintf(why, whycap, "%s", curl_easy_strerror(cc));
        rc = -ERR_IO;
    } else {
        curl_easy_getinfo(cu, CURLINFO_RESPONSE_CODE, &status);
        if (status < 200 || status > 299) {
            snprintf(why, whycap, "HTTP %ld", status);
            rc = -ERR_IO;
        }
    }
    curl_slist_free_all(hl);
    curl_easy_cleanup(cu);
    crypto_wipe(sig, sizeof sig);
    crypto_wipe(hdr[2], sizeof hdr[2]);
    return rc;
}

static void *hook_main(void *arg)
{
    struct events *ev = arg;
    pthread_mutex_lock(&ev->mu);
    while (!ev->stop) {
        struct events_delivery **best = NULL;
        for (struct events_delivery **pp = &ev->queue; *pp; pp = &(*pp)->next)
            if (!best || (*pp)->due_us < (*best)->due_us)
                best = pp;
        int64_t now = tg_monotonic_us();
        events_heartbeat_due(ev, now);
        if (!best || (*best)->due_us > now) {
            /* at most a second: the heartbeats are checked once a second */
            struct timespec until;
            clock_gettime(CLOCK_MONOTONIC, &until);
            int64_t wait_us = best ? (*best)->due_us - now : 1000000;
            if (wait_us > 1000000)
                wait_us = 1000000;
            until.tv_sec += wait_us / 1000000;
            until.tv_nsec += (long)(wait_us % 1000000) * 1000L;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&ev->wcv, &ev->mu, &until);
            continue;
        }
        struct events_delivery *d = *best;
        *best = d->next;
        ev->n_queue--;
        pthread_mutex_unlock(&ev->mu);

        const struct events_hook *h = &ev->hooks[d->hook];
        char why[256] = "";
        d->attempt++;
        int rc = post_once(ev, h, d, why, sizeof why);
        bool again = false;
        if (rc == 0) {
            tg_log_info("webhook %s: delivered %s #%" PRIu64 " (attempt %u)", h->name,
                        events_kind_name(d->kind), d->seq, d->attempt);
        } else if (d->attempt < EVENTS_WEBHOOK_TRIES) {
            uint32_t r = 0;
            crypto_random(&r, sizeof r);
            int64_t ms = events_backoff_ms(d->attempt + 1, r);
            tg_log_warn("webhook %s: %s #%" PRIu64 " attempt %u of %d failed (%s); retry in "
                        "%lld ms",
                        h->name, events_kind_name(d->kind), d->seq, d->attempt,
                        EVENTS_WEBHOOK_TRIES, why, (long long)ms);
            d->due_us = tg_monotonic_us() + ms * 1000;
            again = true;
        } else {
            tg_log_error("webhook %s: %s #%" PRIu64 " given up after %u attempts (%s)", h->name,
                         events_kind_name(d->kind), d->seq, d->attempt, why);
        }
        pthread_mutex_lock(&ev->mu);
        if (again && !ev->stop) {
            d->next = ev->queue;
            ev->queue = d;
            ev->n_queue++;
        } else {
            free(d->body);
            free(d);
        }
    }
    pthread_mutex_unlock(&ev->mu);
    return NULL;
}

int events_start(struct events *ev)
{
    if (!ev || ev->thread_running)
        return 0;
    if (ev->n_hooks && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return -ERR_INTERNAL;
    if (pthread_create(&ev->thread, NULL, hook_main, ev) != 0)
        return -ERR_INTERNAL;
    ev->thread_running = true;
    if (ev->n_hooks)
        tg_log_info("webhooks: %zu configured, delivery thread started", ev->n_hooks);
    return 0;
}

void events_webhook_stop(struct events *ev)
{
    if (!ev->thread_running)
        return;
    pthread_mutex_lock(&ev->mu);
    ev->stop = true;
    pthread_cond_broadcast(&ev->wcv);
    pthread_cond_broadcast(&ev->cv);
    pthread_mutex_unlock(&ev->mu);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += EVENTS_STOP_WAIT_S;
    if (pthread_timedjoin_np(ev->thread, NULL, &until) != 0) {
        tg_log_warn("webhooks: the delivery thread did not stop within %ds", EVENTS_STOP_WAIT_S);
        return; /* thread_running stays true: events_close keeps ev alive */
    }
    ev->thread_running = false;
    if (ev->n_queue)
        tg_log_warn("webhooks: %zu deliveries not made at shutdown", ev->n_queue);
}
