/* stats_rollup.c -- windows, aggregates and the rollup cascade (see stats.h).
 *
 * An aggregate is an open-addressing hash table of entries keyed by one string:
 * dim letter, grant, US (0x1f), then the kind and status class (cells) or the value.
 * Merging adds entries; visitors are not merged but recounted (up to a day) or summed
 * (month, year) by stats_window_get. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stats/stats.h"

const char *const stats_kind_name[STATS_KIND_COUNT] = {
    "portal_view", "api_view", "rejected", "link_minted", "download", "s3_call",
};
const char *const stats_window_name[STATS_WCOUNT] = {"30m", "hour", "day", "month", "year"};
static const char DIM_CHAR[] = "cktrv";
#define US '\x1f'
#define OTHER "(other)"

/* ---- windows ---- */

int stats_window_parse(struct str s, enum stats_window *out)
{
    for (int w = 0; w < STATS_WCOUNT; w++)
        if (str_eq_c(s, stats_window_name[w])) {
            *out = (enum stats_window)w;
            return 0;
        }
    if (str_eq_c(s, "30min")) {
        *out = STATS_W30M;
        return 0;
    }
    return -ERR_INVALID;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

int64_t stats_window_start(enum stats_window w, int64_t t)
{
    int y, m, d;
    switch (w) {
    case STATS_W30M:
        return floor_div(t, 1800) * 1800;
    case STATS_WHOUR:
        return floor_div(t, 3600) * 3600;
    case STATS_WDAY:
        return floor_div(t, 86400) * 86400;
    case STATS_WMONTH:
        civil_from_days(floor_div(t, 86400), &y, &m, &d);
        return days_from_civil(y, m, 1) * 86400;
    default:
        civil_from_days(floor_div(t, 86400), &y, &m, &d);
        return days_from_civil(y, 1, 1) * 86400;
    }
}

int64_t stats_window_next(enum stats_window w, int64_t start)
{
    int y, m, d;
    switch (w) {
    case STATS_W30M:
        return start + 1800;
    case STATS_WHOUR:
        return start + 3600;
    case STATS_WDAY:
        return start + 86400;
    case STATS_WMONTH:
        civil_from_days(floor_div(start, 86400), &y, &m, &d);
        return days_from_civil(m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1, 1) * 86400;
    default:
        civil_from_days(floor_div(start, 86400), &y, &m, &d);
        return days_from_civil(y + 1, 1, 1) * 86400;
    }
}

/* ---- the hash table ---- */

struct slot {
    char *k; /* NULL = empty */
    size_t klen;
    uint64_t h, count, bytes;
};
struct stats_agg {
    struct slot *s;
    size_t cap, n; /* cap: a power of two */
    size_t referrers;
    bool summed;
};

static uint64_t hash(const char *p, size_t n)
{
    return fnv1a64(p, n);
}

struct stats_agg *stats_agg_new(void)
{
    struct stats_agg *a = calloc(1, sizeof *a);
    if (a && !(a->s = calloc(a->cap = 64, sizeof *a->s))) {
        free(a);
        return NULL;
    }
    return a;
}

void stats_agg_free(struct stats_agg *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->cap; i++)
        free(a->s[i].k);
    free(a->s);
    free(a);
}

static struct slot *find(const struct stats_agg *a, const char *k, size_t klen, uint64_t h)
{
    for (size_t i = h & (a->cap - 1);; i = (i + 1) & (a->cap - 1)) {
        struct slot *s = &a->s[i];
        if (!s->k || (s->h == h && s->klen == klen && memcmp(s->k, k, klen) == 0))
            return s;
    }
}

static int grow(struct stats_agg *a)
{
    struct slot *old = a->s;
    size_t ocap = a->cap;
    struct slot *ns = calloc(ocap * 2, sizeof *ns);
    if (!ns)
        return -ERR_NOMEM;
    a->s = ns;
    a->cap = ocap * 2;
    for (size_t i = 0; i < ocap; i++)
        if (old[i].k)
            *find(a, old[i].k, old[i].klen, old[i].h) = old[i];
    free(old);
    return 0;
}

static int add_raw(struct stats_agg *a, const char *k, size_t klen, uint64_t count, uint64_t bytes)
{
    uint64_t h = hash(k, klen);
    struct slot *s = find(a, k, klen, h);
    if (!s->k) {
        if ((a->n + 1) * 4 > a->cap * 3) {
            int rc = grow(a);
            if (rc < 0)
                return rc;
            s = find(a, k, klen, h);
        }
        if (!(s->k = malloc(klen + 1)))
            return -ERR_NOMEM;
        memcpy(s->k, k, klen);
        s->k[klen] = '\0';
        s->klen = klen;
        s->h = h;
        a->n++;
        if (k[0] == 'r')
            a->referrers++;
    }
    s->count += count;
    s->bytes += bytes;
    return 0;
}

static bool exists(const struct stats_agg *a, const char *k, size_t klen)
{
    return find(a, k, klen, hash(k, klen))->k != NULL;
}

static int make_key(struct buf *b, const struct stats_entry *e, const char *value)
{
    buf_reset(b);
    int rc = buf_addc(b, DIM_CHAR[e->dim]);
    if (rc == 0)
        rc = buf_adds(b, e->grant ? e->grant : "");
    if (rc == 0)
        rc = buf_addc(b, US);
    if (rc == 0 && e->dim == STATS_DIM_CELL)
        rc = buf_printf(b, "%d%c%d", (int)e->kind, US, e->sclass);
    else if (rc == 0 && e->dim != STATS_DIM_VISITORS)
        rc = buf_adds(b, value ? value : "");
    return rc;
}

int stats_agg_add(struct stats_agg *a, const struct stats_entry *e)
{
    if ((unsigned)e->dim > STATS_DIM_VISITORS ||
        (e->dim == STATS_DIM_CELL &&
         ((unsigned)e->kind >= STATS_KIND_COUNT || e->sclass < 0 || e->sclass > 9)))
        return -ERR_INVALID;
    struct buf b = BUF_INIT;
    int rc = make_key(&b, e, e->value);
    if (rc == 0 && e->dim == STATS_DIM_REFERRER && a->referrers >= STATS_REFERRERS_MAX &&
        !exists(a, b.ptr, b.len))
        rc = make_key(&b, e, OTHER); /* (other) itself may pass the cap by one */
    if (rc == 0)
        rc = add_raw(a, b.ptr, b.len, e->count, e->bytes);
    buf_release(&b);
    return rc;
}

int stats_agg_add_fields(struct stats_agg *a, enum stats_kind kind, const char *grant,
                         const char *token, const char *key, int status, uint64_t bytes,
                         const char *referrer)
{
    struct stats_entry e = {STATS_DIM_CELL, grant, kind, status / 100, "", 1, bytes};
    int rc = stats_agg_add(a, &e);
    if (rc == 0 && kind == STATS_DOWNLOAD && key && key[0]) {
        e.dim = STATS_DIM_KEY;
        e.value = key;
        rc = stats_agg_add(a, &e);
    }
    if (rc == 0 && token && token[0]) {
        e.dim = STATS_DIM_TOKEN;
        e.value = token;
        rc = stats_agg_add(a, &e);
    }
    if (rc == 0 && referrer && referrer[0]) {
        e.dim = STATS_DIM_REFERRER;
        e.value = referrer;
        rc = stats_agg_add(a, &e);
    }
    return rc;
}

int stats_agg_add_event(struct stats_agg *a, const struct stats_event *ev)
{
    return stats_agg_add_fields(a, ev->kind, ev->grant, ev->token, ev->key, ev->status, ev->bytes,
                                ev->referrer);
}

static int parse_slot(const struct slot *s, struct stats_entry *e, char *tmp, size_t cap)
{
    const char *d = strchr(DIM_CHAR, s->k[0]);
    const char *us = memchr(s->k, US, s->klen);
    if (!d || !*d || !us || s->klen >= cap)
        return -ERR_INVALID;
    memcpy(tmp, s->k, s->klen + 1);
    tmp[us - s->k] = '\0';
    memset(e, 0, sizeof *e);
    e->dim = (enum stats_dim)(d - DIM_CHAR);
    e->grant = tmp + 1;
    e->value = tmp + (us - s->k) + 1;
    e->count = s->count;
    e->bytes = s->bytes;
    if (e->dim == STATS_DIM_CELL) {
        int kind = 0, sc = 0;
        if (sscanf(e->value, "%d\x1f%d", &kind, &sc) != 2)
            return -ERR_INVALID;
        e->kind = (enum stats_kind)kind;
        e->sclass = sc;
        e->value = "";
    }
    return 0;
}

int stats_agg_each(const struct stats_agg *a, int (*fn)(void *ctx, const struct stats_entry *e),
                   void *ctx)
{
    char tmp[STATS_KEY_MAX + STATS_GRANT_MAX + 16];
    for (size_t i = 0; i < a->cap; i++) {
        if (!a->s[i].k)
            continue;
        struct stats_entry e;
        if (parse_slot(&a->s[i], &e, tmp, sizeof tmp) < 0)
            continue; /* cannot happen: keys are made by make_key */
        int rc = fn(ctx, &e);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int merge_one(void *ctx, const struct stats_entry *e)
{
    return e->dim == STATS_DIM_VISITORS ? 0 : stats_agg_add(ctx, e);
}

int stats_agg_merge(struct stats_agg *dst, const struct stats_agg *src)
{
    return stats_agg_each(src, merge_one, dst);
}

void stats_agg_clear_visitors(struct stats_agg *a)
{
    /* rebuild without them: open addressing has no simple delete */
    struct stats_agg tmp = *a;
    struct slot *ns = calloc(a->cap, sizeof *ns);
    if (!ns)
        return;
    a->s = ns;
    a->n = 0;
    for (size_t i = 0; i < tmp.cap; i++) {
        if (!tmp.s[i].k)
            continue;
        if (tmp.s[i].k[0] == 'v') {
            free(tmp.s[i].k);
            continue;
        }
        *find(a, tmp.s[i].k, tmp.s[i].klen, tmp.s[i].h) = tmp.s[i];
        a->n++;
    }
    free(tmp.s);
}

bool stats_agg_visitors_summed(const struct stats_agg *a)
{
    return a->summed;
}
void stats_agg_set_visitors_summed(struct stats_agg *a, bool v)
{
    a->summed = v;
}
size_t stats_agg_size(const struct stats_agg *a)
{
    return a->n;
}

int stats_agg_compare(const struct stats_agg *a, const struct stats_agg *b, char *why, size_t cap)
{
    const struct stats_agg *x = a, *y = b;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < x->cap; i++) {
            const struct slot *s = &x->s[i];
            if (!s->k)
                continue;
            const struct slot *t = find(y, s->k, s->klen, s->h);
            if (!t->k || t->count != s->count || t->bytes != s->bytes) {
                char tmp[STATS_KEY_MAX + STATS_GRANT_MAX + 16];
                struct stats_entry e;
                parse_slot(s, &e, tmp, sizeof tmp);
                snprintf(why, cap,
                         "%c grant '%s' kind %d class %d value '%s': %llu/%llu vs %llu/%llu",
                         s->k[0], e.grant, (int)e.kind, e.sclass, e.value,
                         (unsigned long long)(pass ? (t->k ? t->count : 0) : s->count),
                         (unsigned long long)(pass ? (t->k ? t->bytes : 0) : s->bytes),
                         (unsigned long long)(pass ? s->count : (t->k ? t->count : 0)),
                         (unsigned long long)(pass ? s->bytes : (t->k ? t->bytes : 0)));
                return -1;
            }
        }
        x = b;
        y = a;
    }
    if (a->summed != b->summed) {
        snprintf(why, cap, "visitors_summed differs");
        return -1;
    }
    return 0;
}

/* JSON: {"summed": bool, "e": [[key, count, bytes], ...]} with the raw keys. */
char *stats_agg_to_json(const struct stats_agg *a)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < a->cap; i++)
        if (a->s[i].k)
            json_array_append_new(arr,
                                  json_pack("[s#, I, I]", a->s[i].k, a->s[i].klen,
                                            (json_int_t)a->s[i].count, (json_int_t)a->s[i].bytes));
    json_t *o = json_pack("{s:b, s:o}", "summed", a->summed, "e", arr);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

int stats_agg_from_json(const char *text, struct stats_agg **out)
{
    json_t *o = json_loads(text, 0, NULL);
    json_t *arr = json_object_get(o, "e");
    struct stats_agg *a = json_is_array(arr) ? stats_agg_new() : NULL;
    int rc = a ? 0 : json_is_array(arr) ? -ERR_NOMEM : -ERR_INVALID;
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        const char *k = json_string_value(json_array_get(v, 0));
        size_t kl = json_string_length(json_array_get(v, 0));
        json_int_t c = json_integer_value(json_array_get(v, 1)),
                   b = json_integer_value(json_array_get(v, 2));
        if (rc < 0)
            break;
        if (!k || kl < 2 || !strchr(DIM_CHAR, k[0]) || !memchr(k, US, kl) || c < 0 || b < 0)
            rc = -ERR_INVALID;
        else
            rc = add_raw(a, k, kl, (uint64_t)c, (uint64_t)b);
    }
    if (rc == 0)
        a->summed = json_is_true(json_object_get(o, "summed"));
    json_decref(o);
    if (rc < 0) {
        stats_agg_free(a);
        return rc;
    }
    *out = a;
    return 0;
}

/* ---- the cascade ---- */

static int sum_visitors(void *ctx, const struct stats_entry *e)
{
    return e->dim == STATS_DIM_VISITORS ? stats_agg_add(ctx, e) : 0;
}

int stats_window_get(const struct stats_source *src, enum stats_window w, int64_t start,
                     int64_t now, struct stats_agg **out)
{
    int64_t end = stats_window_next(w, start);
    bool closed = end <= now;
    if (closed) {
        int rc = src->load(src->ctx, w, start, out);
        if (rc != -ERR_NOT_FOUND)
            return rc;
    }
    struct stats_agg *a = stats_agg_new();
    if (!a)
        return -ERR_NOMEM;
    int rc = 0;
    if (end <= src->raw_first(src->ctx)) { /* nothing recorded then: empty, not saved */
        stats_agg_set_visitors_summed(a, w > STATS_WDAY);
        *out = a;
        return 0;
    }
    if (w == STATS_W30M) {
        rc = src->raw_agg(src->ctx, start, end, a);
    } else {
        enum stats_window below = (enum stats_window)(w - 1);
        for (int64_t t = start; rc == 0 && t < end && t <= now; t = stats_window_next(below, t)) {
            struct stats_agg *c = NULL;
            if ((rc = stats_window_get(src, below, t, now, &c)) < 0)
                break;
            rc = stats_agg_merge(a, c);
            if (rc == 0 && w > STATS_WDAY) /* months and years: the sum of daily uniques */
                rc = stats_agg_each(c, sum_visitors, a);
            stats_agg_free(c);
        }
    }
    if (rc == 0 && w <= STATS_WDAY)
        rc = src->raw_visitors(src->ctx, start, end, a);
    stats_agg_set_visitors_summed(a, w > STATS_WDAY);
    if (rc == 0 && closed)
        rc = src->save(src->ctx, w, start, a);
    if (rc < 0) {
        stats_agg_free(a);
        return rc;
    }
    *out = a;
    return 0;
}
