/* stats.c -- the recorder (a double buffer and a writer thread) and the queries over
 * meta's raw events and saved windows. */
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/crypto.h"
#include "meta/meta.h"
#include "stats/stats.h"
#include "stats/stats_int.h"

const char *const stats_config_keys[] = {
    "stats.enabled",         "stats.raw_events_keep", "stats.pulse_window",
    "stats.trusted_proxies", "stats.metrics_public",  NULL,
};

#define PKEY_MAX 512 /* key bytes kept per buffered event */
#define PUA_MAX 256  /* user-agent bytes hashed and reduced */

struct pending {
    int64_t t_us;
    uint64_t bytes;
    int status;
    uint8_t kind;
    bool range;
    char grant[STATS_GRANT_MAX], token[STATS_TOKEN_MAX], detail[STATS_DETAIL_MAX];
    char key[PKEY_MAX], addr[64], ua[PUA_MAX], referer[STATS_REFERRER_MAX];
};

struct stats {
    struct stats_settings set;
    struct meta_stats *ms;
    struct stats_salts *salts;
    struct stats_proxies *proxies;
    pthread_mutex_t mu; /* guards active/n/stop */
    pthread_cond_t cv;
    pthread_mutex_t drain_mu; /* one drain at a time */
    struct pending *buf[2];
    int active;
    size_t n;
    bool stop, thread_started;
    pthread_t thread;
    uint64_t dropped; /* under mu */
    _Atomic uint64_t recorded[STATS_KIND_COUNT];
};

uint64_t stats_recorded(const struct stats *st, enum stats_kind kind)
{
    return st && (unsigned)kind < STATS_KIND_COUNT
               ? atomic_load(&((struct stats *)st)->recorded[kind])
               : 0;
}

static void copy(char *dst, size_t cap, const char *s, size_t n)
{
    if (!s)
        n = 0;
    if (n >= cap)
        n = cap - 1;
    if (n)
        memcpy(dst, s, n);
    dst[n] = '\0';
}

static void copy_c(char *dst, size_t cap, const char *s)
{
    copy(dst, cap, s, s ? strlen(s) : 0);
}

void stats_record(struct stats *st, const struct stats_hit *h)
{
    if (!st || !st->set.enabled)
        return;
    if ((unsigned)h->kind < STATS_KIND_COUNT)
        atomic_fetch_add_explicit(&st->recorded[h->kind], 1, memory_order_relaxed);
    struct str addr = stats_client_addr(st->proxies, h->peer, h->xff);
    pthread_mutex_lock(&st->mu);
    if (st->n >= STATS_BUFFER_MAX) {
        st->dropped++;
        pthread_mutex_unlock(&st->mu);
        return;
    }
    struct pending *p = &st->buf[st->active][st->n++];
    p->t_us = h->t_us ? h->t_us : tg_now_us();
    p->bytes = h->bytes;
    p->status = h->status;
    p->kind = (uint8_t)h->kind;
    p->range = h->range;
    copy_c(p->grant, sizeof p->grant, h->grant);
    copy_c(p->token, sizeof p->token, h->token);
    copy_c(p->detail, sizeof p->detail, h->detail);
    copy_c(p->key, sizeof p->key, h->key);
    copy(p->addr, sizeof p->addr, addr.ptr, addr.len);
    copy(p->ua, sizeof p->ua, h->user_agent.ptr, h->user_agent.len);
    copy(p->referer, sizeof p->referer, h->referer.ptr, h->referer.len);
    bool wake = st->n == STATS_BUFFER_MAX / 2;
    pthread_mutex_unlock(&st->mu);
    if (wake)
        pthread_cond_signal(&st->cv);
}

uint64_t stats_dropped(const struct stats *st)
{
    if (!st)
        return 0;
    pthread_mutex_lock((pthread_mutex_t *)&st->mu);
    uint64_t d = st->dropped;
    pthread_mutex_unlock((pthread_mutex_t *)&st->mu);
    return d;
}

/* Swaps the buffers and writes the full one. */
static int drain(struct stats *st)
{
    pthread_mutex_lock(&st->drain_mu);
    pthread_mutex_lock(&st->mu);
    struct pending *full = st->buf[st->active];
    size_t n = st->n;
    st->active ^= 1;
    st->n = 0;
    pthread_mutex_unlock(&st->mu);
    int rc = 0;
    if (n) {
        struct meta_event *ev = calloc(n, sizeof *ev);
        uint8_t(*vis)[STATS_VISITOR_LEN] = calloc(n, STATS_VISITOR_LEN);
        char(*ref)[STATS_REFERRER_MAX] = calloc(n, STATS_REFERRER_MAX);
        if (!ev || !vis || !ref) {
            rc = -ERR_NOMEM;
        } else {
            for (size_t i = 0; i < n; i++) {
                struct pending *p = &full[i];
                struct stats_ua ua;
                struct str uas = str_c(p->ua);
                stats_ua_reduce(uas, &ua);
                if (stats_visitor(st->salts, p->t_us / 1000000, str_c(p->addr), uas, vis[i]) < 0)
                    memset(vis[i], 0, STATS_VISITOR_LEN);
                stats_referrer_domain(str_c(p->referer), ref[i]);
                ev[i] = (struct meta_event){p->t_us, p->kind,   p->status, p->grant, p->token,
                                            p->key,  p->bytes,  p->range,  vis[i],   ua.family,
                                            ua.os,   ua.device, ref[i],    p->detail};
            }
            rc = meta_stats_insert(st->ms, ev, n);
            if (rc < 0)
                tg_log_error("stats: %zu events lost: the database refused them", n);
        }
        /* the addresses and agents go now */
        for (size_t i = 0; i < n; i++) {
            crypto_wipe(full[i].addr, sizeof full[i].addr);
            crypto_wipe(full[i].ua, sizeof full[i].ua);
        }
        free(ev);
        free(vis);
        free(ref);
    }
    pthread_mutex_unlock(&st->drain_mu);
    return rc;
}

int stats_flush(struct stats *st)
{
    return st && st->set.enabled ? drain(st) : 0;
}

static void *writer(void *arg)
{
    struct stats *st = arg;
    pthread_mutex_lock(&st->mu);
    while (!st->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += (long)STATS_FLUSH_INTERVAL_MS * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        while (!st->stop && st->n < STATS_BUFFER_MAX / 2 &&
               pthread_cond_timedwait(&st->cv, &st->mu, &ts) == 0)
            ;
        pthread_mutex_unlock(&st->mu);
        drain(st);
        pthread_mutex_lock(&st->mu);
    }
    pthread_mutex_unlock(&st->mu);
    return NULL;
}

int stats_open(const struct cfg *c, struct meta *m, struct stats **out, char **err)
{
    struct stats *st = calloc(1, sizeof *st);
    if (!st)
        return -ERR_NOMEM;
    int rc;
    pthread_mutex_init(&st->mu, NULL);
    pthread_mutex_init(&st->drain_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&st->cv, &ca);
    pthread_condattr_destroy(&ca);
    if ((rc = cfg_get_bool(c, "stats", "enabled", true, &st->set.enabled, err)) < 0 ||
        (rc = cfg_get_bool(c, "stats", "metrics_public", false, &st->set.metrics_public, err)) <
            0 ||
        (rc = cfg_get_duration(c, "stats", "raw_events_keep", 90 * 86400, &st->set.raw_keep_s,
                               err)) < 0 ||
        (rc = cfg_get_duration(c, "stats", "pulse_window", 300, &st->set.pulse_window_s, err)) < 0)
        goto fail;
    if (st->set.raw_keep_s < 86400 || st->set.pulse_window_s < 60 ||
        st->set.pulse_window_s > 86400) {
        const struct cfg_entry *e =
            cfg_find(c, "stats", st->set.raw_keep_s < 86400 ? "raw_events_keep" : "pulse_window");
        struct buf b = BUF_INIT;
        buf_printf(&b, "%s:%d: [stats] %s: %s", c->path, e ? e->line : 0,
                   st->set.raw_keep_s < 86400 ? "raw_events_keep" : "pulse_window",
                   st->set.raw_keep_s < 86400 ? "must be at least 1d"
                                              : "must be between 1m and 1d");
        *err = buf_take(&b);
        rc = -ERR_CONFIG;
        goto fail;
    }
    const char *px = cfg_get(c, "stats", "trusted_proxies", "");
    char bad[160];
    if ((rc = stats_proxies_parse(str_c(px), &st->proxies, bad, sizeof bad)) < 0) {
        const struct cfg_entry *e = cfg_find(c, "stats", "trusted_proxies");
        struct buf b = BUF_INIT;
        buf_printf(&b, "%s:%d: [stats] trusted_proxies: %s", c->path, e ? e->line : 0, bad);
        *err = buf_take(&b);
        rc = -ERR_CONFIG;
        goto fail;
    }
    if ((rc = stats_salts_new(&st->salts)) < 0 || (rc = meta_stats_open(m, &st->ms)) < 0)
        goto fail;
    if (st->set.enabled) {
        st->buf[0] = calloc(STATS_BUFFER_MAX, sizeof *st->buf[0]);
        st->buf[1] = calloc(STATS_BUFFER_MAX, sizeof *st->buf[1]);
        if (!st->buf[0] || !st->buf[1]) {
            rc = -ERR_NOMEM;
            goto fail;
        }
        if (pthread_create(&st->thread, NULL, writer, st) != 0) {
            rc = -ERR_INTERNAL;
            goto fail;
        }
        st->thread_started = true;
    }
    *out = st;
    return 0;
fail:
    stats_close(st);
    return rc;
}

void stats_close(struct stats *st)
{
    if (!st)
        return;
    if (st->thread_started) {
        pthread_mutex_lock(&st->mu);
        st->stop = true;
        pthread_mutex_unlock(&st->mu);
        pthread_cond_signal(&st->cv);
        pthread_join(st->thread, NULL);
        drain(st);
    }
    meta_stats_close(st->ms);
    stats_salts_free(st->salts);
    stats_proxies_free(st->proxies);
    free(st->buf[0]);
    free(st->buf[1]);
    pthread_cond_destroy(&st->cv);
    pthread_mutex_destroy(&st->mu);
    pthread_mutex_destroy(&st->drain_mu);
    free(st);
}

const struct stats_settings *stats_settings(const struct stats *st)
{
    return &st->set;
}

/* ---- the source over meta ---- */

static int64_t src_first(void *ctx)
{
    int64_t t;
    return meta_stats_first(ctx, &t) == 0 ? (t >= 0 ? t / 1000000 : -((-t + 999999) / 1000000))
                                          : INT64_MAX;
}

static int add_row(void *ctx, const struct meta_event *e)
{
    if ((unsigned)e->kind >= STATS_KIND_COUNT)
        return 0;
    return stats_agg_add_fields(ctx, (enum stats_kind)e->kind, e->grant, e->token, e->key,
                                e->status, e->bytes, e->referrer);
}

static int src_raw(void *ctx, int64_t from, int64_t to, struct stats_agg *into)
{
    return meta_stats_scan(ctx, from * 1000000, to * 1000000, add_row, into);
}

static int add_vis(void *ctx, const char *grant, uint64_t n)
{
    struct stats_entry e = {STATS_DIM_VISITORS, grant, 0, 0, "", n, 0};
    return stats_agg_add(ctx, &e);
}

static int src_vis(void *ctx, int64_t from, int64_t to, struct stats_agg *into)
{
    return meta_stats_visitors(ctx, from * 1000000, to * 1000000, add_vis, into);
}

static int src_load(void *ctx, enum stats_window w, int64_t start, struct stats_agg **out)
{
    char *j = NULL;
    int rc = meta_stats_window_get(ctx, (int)w, start, &j);
    if (rc < 0)
        return rc;
    rc = stats_agg_from_json(j, out);
    free(j);
    return rc;
}

static int src_save(void *ctx, enum stats_window w, int64_t start, const struct stats_agg *a)
{
    char *j = stats_agg_to_json(a);
    int rc = j ? meta_stats_window_put(ctx, (int)w, start, j) : -ERR_NOMEM;
    free(j);
    return rc;
}

static struct stats_source source(struct stats *st)
{
    return (struct stats_source){src_first, src_raw, src_vis, src_load, src_save, st->ms};
}

/* ---- queries ---- */

struct row {
    char grant[STATS_GRANT_MAX];
    uint64_t v[8]; /* portal, api, links, downloads, bytes, rejections, visitors, s3 */
};
struct collect {
    struct row *r;
    size_t n, cap;
    const char *only;
};

static struct row *row_for(struct collect *c, const char *grant)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->r[i].grant, grant) == 0)
            return &c->r[i];
    if (c->n == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 8;
        struct row *nr = realloc(c->r, nc * sizeof *nr);
        if (!nr)
            return NULL;
        c->r = nr;
        c->cap = nc;
    }
    struct row *r = &c->r[c->n++];
    memset(r, 0, sizeof *r);
    snprintf(r->grant, sizeof r->grant, "%s", grant);
    return r;
}

static int on_cell(void *ctx, const struct stats_entry *e)
{
    struct collect *c = ctx;
    if ((c->only && strcmp(e->grant, c->only) != 0) ||
        (e->dim != STATS_DIM_CELL && e->dim != STATS_DIM_VISITORS))
        return 0;
    if (!e->grant[0] && !(e->dim == STATS_DIM_CELL && e->kind == STATS_S3_CALL))
        return 0;
    struct row *r = row_for(c, e->grant);
    if (!r)
        return -ERR_NOMEM;
    if (e->dim == STATS_DIM_VISITORS) {
        r->v[6] += e->count;
        return 0;
    }
    switch (e->kind) {
    case STATS_PORTAL_VIEW:
        r->v[0] += e->count;
        break;
    case STATS_API_VIEW:
        r->v[1] += e->count;
        break;
    case STATS_LINK_MINTED:
        r->v[2] += e->count;
        break;
    case STATS_DOWNLOAD:
        if (e->sclass == 2)
            r->v[3] += e->count;
        r->v[4] += e->bytes;
        break;
    case STATS_REJECTED:
        r->v[5] += e->count;
        break;
    default:
        r->v[7] += e->count;
        break;
    }
    return 0;
}

static int row_cmp(const void *a, const void *b)
{
    return strcmp(((const struct row *)a)->grant, ((const struct row *)b)->grant);
}

struct top {
    enum stats_dim dim;
    const char *only;
    json_t *acc; /* value -> [count, bytes] */
};

static int on_top(void *ctx, const struct stats_entry *e)
{
    struct top *t = ctx;
    if (e->dim != t->dim || (t->only && strcmp(e->grant, t->only) != 0))
        return 0;
    json_t *cur = json_object_get(t->acc, e->value);
    json_int_t c = json_integer_value(json_array_get(cur, 0)) + (json_int_t)e->count;
    json_int_t b = json_integer_value(json_array_get(cur, 1)) + (json_int_t)e->bytes;
    return json_object_set_new(t->acc, e->value, json_pack("[I, I]", c, b)) == 0 ? 0 : -ERR_NOMEM;
}

struct tv {
    const char *k;
    json_int_t c, b;
};
static int tv_cmp(const void *x, const void *y)
{
    const struct tv *a = x, *b = y;
    if (a->c != b->c)
        return a->c > b->c ? -1 : 1;
    return strcmp(a->k, b->k);
}

static json_t *top_list(const struct stats_agg *total, enum stats_dim dim, const char *only,
                        const char *name, const char *count_name, bool with_bytes)
{
    struct top t = {dim, only, json_object()};
    json_t *out = json_array();
    if (!t.acc || !out || stats_agg_each(total, on_top, &t) < 0) {
        json_decref(t.acc);
        json_decref(out);
        return NULL;
    }
    size_t n = json_object_size(t.acc), i = 0;
    struct tv *v = calloc(n ? n : 1, sizeof *v);
    const char *k;
    json_t *val;
    json_object_foreach(t.acc, k, val)
    {
        v[i].k = k;
        v[i].c = json_integer_value(json_array_get(val, 0));
        v[i++].b = json_integer_value(json_array_get(val, 1));
    }
    qsort(v, n, sizeof *v, tv_cmp);
    for (i = 0; i < n && i < STATS_TOP_MAX; i++) {
        json_t *o = json_pack("{s:s, s:I}", name, v[i].k, count_name, v[i].c);
        if (with_bytes)
            json_object_set_new(o, "bytes", json_integer(v[i].b));
        json_array_append_new(out, o);
    }
    free(v);
    json_decref(t.acc);
    return out;
}

static int parse_bound(const char *s, bool is_to, int64_t *out)
{
    int64_t t;
    if (!s || !*s)
        return -ERR_INVALID;
    if (strlen(s) == 10 && time_parse_date(str_c(s), &t) == 0) {
        *out = is_to ? t + 86400 : t; /* a date: the whole day */
        return 0;
    }
    if (time_parse_iso8601(str_c(s), &t) == 0) {
        *out = t;
        return 0;
    }
    return -ERR_INVALID;
}

int stats_query(struct stats *st, enum stats_window w, const char *from, const char *to,
                const char *grant, int64_t now, json_t **out, char *err)
{
    int64_t a, b;
    if (parse_bound(from, false, &a) < 0 || parse_bound(to, true, &b) < 0) {
        snprintf(err, 256, "from and to must be dates (YYYY-MM-DD) or ISO 8601 UTC times");
        return -ERR_INVALID;
    }
    if (b <= a) {
        snprintf(err, 256, "to must not be before from");
        return -ERR_INVALID;
    }
    int64_t s0 = stats_window_start(w, a);
    size_t nw = 0;
    for (int64_t t = s0; t < b && nw <= STATS_QUERY_WINDOWS_MAX; t = stats_window_next(w, t))
        nw++;
    if (nw > STATS_QUERY_WINDOWS_MAX) {
        snprintf(err, 256, "the range covers more than %d %s windows; ask for a longer window",
                 STATS_QUERY_WINDOWS_MAX, stats_window_name[w]);
        return -ERR_INVALID;
    }
    stats_flush(st);
    struct stats_source src = source(st);
    struct stats_agg *total = stats_agg_new();
    json_t *series = json_array();
    struct collect all = {0};
    int rc = total && series ? 0 : -ERR_NOMEM;
    /* first pass: which grants appear anywhere (so every window lists each) */
    struct stats_agg **aggs = calloc(nw, sizeof *aggs);
    size_t i = 0;
    for (int64_t t = s0; rc == 0 && t < b; t = stats_window_next(w, t), i++) {
        if (t > now) /* the future holds nothing: an empty aggregate */
            rc = (aggs[i] = stats_agg_new()) ? 0 : -ERR_NOMEM;
        else
            rc = stats_window_get(&src, w, t, now, &aggs[i]);
        if (rc == 0)
            rc = stats_agg_merge(total, aggs[i]);
    }
    all.only = grant;
    if (rc == 0)
        rc = stats_agg_each(total, on_cell, &all);
    if (grant && rc == 0 && !row_for(&all, grant))
        rc = -ERR_NOMEM;
    if (all.n)
        qsort(all.r, all.n, sizeof *all.r, row_cmp);
    i = 0;
    for (int64_t t = s0; rc == 0 && t < b; t = stats_window_next(w, t), i++) {
        struct collect c = {0};
        c.only = grant;
        for (size_t g = 0; g < all.n && rc == 0; g++)
            rc = row_for(&c, all.r[g].grant) ? 0 : -ERR_NOMEM;
        if (rc == 0)
            rc = stats_agg_each(aggs[i], on_cell, &c);
        char ts[TG_TIME_BUF];
        time_fmt_iso8601(t, ts);
        for (size_t g = 0; g < c.n && rc == 0; g++) {
            struct row *r = &c.r[g];
            json_array_append_new(series,
                                  json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
                                            "start", ts, "grant", r->grant, "portal_views",
                                            (json_int_t)r->v[0], "api_views", (json_int_t)r->v[1],
                                            "links_minted", (json_int_t)r->v[2], "downloads",
                                            (json_int_t)r->v[3], "bytes", (json_int_t)r->v[4],
                                            "rejections", (json_int_t)r->v[5], "visitors",
                                            (json_int_t)r->v[6], "s3_calls", (json_int_t)r->v[7]));
        }
        free(c.r);
    }
    if (rc == 0) {
        char fs[TG_TIME_BUF], ts[TG_TIME_BUF];
        time_fmt_iso8601(a, fs);
        time_fmt_iso8601(b, ts);
        *out = json_pack(
            "{s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o}", "window", stats_window_name[w], "from", fs,
            "to", ts, "visitors_are",
            w <= STATS_WDAY ? "exact unique visitors per window"
                            : "the sum of daily unique visitors",
            "series", series, "top_keys",
            top_list(total, STATS_DIM_KEY, grant, "key", "downloads", true), "top_tokens",
            top_list(total, STATS_DIM_TOKEN, grant, "token", "events", false), "top_referrers",
            top_list(total, STATS_DIM_REFERRER, grant, "domain", "events", false));
        series = NULL;
        if (!*out)
            rc = -ERR_NOMEM;
    }
    for (i = 0; i < nw; i++)
        stats_agg_free(aggs[i]);
    free(aggs);
    free(all.r);
    json_decref(series);
    stats_agg_free(total);
    return rc;
}

int stats_pulse(struct stats *st, int64_t now, json_t **out)
{
    stats_flush(st);
    uint64_t v[4] = {0};
    int64_t to = now * 1000000 + 1000000;
    int rc = meta_stats_pulse(st->ms, to - st->set.pulse_window_s * 1000000 - 1000000, to,
                              STATS_DOWNLOAD, STATS_LINK_MINTED, v);
    if (rc < 0)
        return rc;
    *out = json_pack("{s:I, s:I, s:I, s:I, s:I}", "window_minutes",
                     (json_int_t)(st->set.pulse_window_s / 60), "requests", (json_int_t)v[0],
                     "downloads", (json_int_t)v[1], "bytes", (json_int_t)v[2], "visitors",
                     (json_int_t)v[3]);
    return *out ? 0 : -ERR_NOMEM;
}

int stats_expire(struct stats *st, int64_t now, uint64_t *deleted)
{
    int64_t cut = stats_window_start(STATS_WDAY, now - st->set.raw_keep_s);
    int64_t first = src_first(st->ms);
    *deleted = 0;
    if (first == INT64_MAX || first >= cut)
        return 0;
    struct stats_source src = source(st);
    /* computing a month saves each of its closed days, hours and half hours */
    for (int64_t m = stats_window_start(STATS_WMONTH, first); m < cut;
         m = stats_window_next(STATS_WMONTH, m)) {
        struct stats_agg *a = NULL;
        int rc = stats_window_get(&src, STATS_WMONTH, m, now, &a);
        stats_agg_free(a);
        if (rc < 0)
            return rc;
    }
    return meta_stats_delete_before(st->ms, cut * 1000000, deleted);
}
