/* lifecycle_policy.c -- which objects are outside the policy, as pure functions over
 * a list of objects (key, mtime, retired?) and a time: no store, no clock, no I/O.
 *
 * Grants (data bucket), per grant prefix P and per kind, over LIVE objects only:
 *   P daily/YYYY-MM-DD/<file>  the newest keep_daily dates stay (by date, not by age:
 *                              a publisher who stops does not lose the last week)
 *   P mtd/YYYY-MM/<file>       the newest month stays (publish retires the previous one
 *                              on rollover; this catches leftovers)
 *   P monthly/YYYY-MM/<file>   the newest keep_monthly months stay; of the older ones,
 *                              the December bundles of the newest keep_yearly years
 *                              that have a December bundle (-1: all of them)
 * A folder (its files and manifest.json) is in or out as a whole. Keys off the layout
 * (bad dates, nested folders) are not the grant policy's business: kept.
 * Rules, over live objects under their prefix: out when older than expire_after
 * (now - mtime >= expire_after: the boundary itself is out), or outside the newest
 * keep_newest by mtime (ties: the greater key is newer); with both, out only when
 * both say so (keep_newest is a floor under the expiry).
 * In the data bucket _index/, inbox/ and inbox-rejected/ are out of reach unless the
 * rule's prefix starts inside them. The first reason found is kept. */
#include <stdio.h>
#include <stdlib.h>

#include "lifecycle/lifecycle_int.h"

static const char *const KIND_DIR[] = {"daily/", "mtd/", "monthly/"};
enum { K_DAILY, K_MTD, K_MONTHLY, K_N };
static const char *const PROTECTED[] = {"_index/", "inbox/", "inbox-rejected/", NULL};

#define PERIOD_MAX 11

static bool digits(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return false;
    return true;
}

static bool period_ok(struct str s, int kind)
{
    if (kind == K_DAILY) {
        int64_t t;
        return s.len == 10 && time_parse_date(s, &t) == 0;
    }
    if (s.len != 7 || !digits(s.ptr, 4) || s.ptr[4] != '-' || !digits(s.ptr + 5, 2))
        return false;
    int m = (s.ptr[5] - '0') * 10 + (s.ptr[6] - '0');
    return m >= 1 && m <= 12;
}

/* If key is "<prefix><kind dir><period>/<base>" (base without '/'), writes the period
 * and the folder length. */
static bool layout_match(const char *prefix, int kind, const char *key, char period[PERIOD_MAX],
                         size_t *folder_len)
{
    size_t pl = strlen(prefix), kl = strlen(KIND_DIR[kind]);
    if (strncmp(key, prefix, pl) != 0 || strncmp(key + pl, KIND_DIR[kind], kl) != 0)
        return false;
    struct str rest = str_c(key + pl + kl), per, base;
    if (!str_split(rest, '/', &per, &base) || !base.len || memchr(base.ptr, '/', base.len) ||
        !period_ok(per, kind))
        return false;
    memcpy(period, per.ptr, per.len);
    period[per.len] = '\0';
    if (folder_len)
        *folder_len = pl + kl + per.len + 1;
    return true;
}

const struct lc_grant *lc_grant_of(const struct lc_policy *p, const char *key)
{
    for (size_t g = 0; g < p->n_grants; g++)
        for (size_t i = 0; i < p->grants[g].n_prefixes; i++)
            if (strncmp(key, p->grants[g].prefixes[i], strlen(p->grants[g].prefixes[i])) == 0)
                return &p->grants[g];
    return NULL;
}

size_t lc_unit_len(const struct lc_policy *p, const char *key)
{
    char per[PERIOD_MAX];
    size_t fl;
    for (size_t g = 0; g < p->n_grants; g++)
        for (size_t i = 0; i < p->grants[g].n_prefixes; i++)
            for (int k = 0; k < K_N; k++)
                if (layout_match(p->grants[g].prefixes[i], k, key, per, &fl))
                    return fl;
    return strlen(key);
}

const char *lifecycle_act_name(enum lifecycle_act a)
{
    switch (a) {
    case LC_RETIRE:
        return "retire";
    case LC_DELETE:
        return "delete";
    case LC_WAIT:
        return "wait";
    case LC_ABORT_UPLOAD:
        return "abort-upload";
    }
    return "?";
}

enum lifecycle_act lc_retired_decide(int64_t retired_us_max, int64_t horizon, int64_t now_us)
{
    if (retired_us_max > now_us - (int64_t)LIFECYCLE_SETTLE_S * 1000000)
        return LC_WAIT;
    if (horizon > 0 && now_us < horizon * 1000000)
        return LC_WAIT;
    return LC_DELETE;
}

static void mark_out(struct lc_obj *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void mark_out(struct lc_obj *o, const char *fmt, ...)
{
    if (o->verdict == LC_OUT)
        return; /* the first reason stands */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->why, sizeof o->why, fmt, ap);
    va_end(ap);
    o->verdict = LC_OUT;
}

static int period_cmp_desc(const void *a, const void *b)
{
    return strcmp((const char *)b, (const char *)a);
}

/* One grant prefix and kind. */
static int select_kind(const struct lc_grant *g, const char *prefix, int kind, struct lc_obj *objs,
                       size_t n)
{
    char(*per)[PERIOD_MAX] = NULL;
    size_t np = 0;
    char cur[PERIOD_MAX];
    int rc = 0;
    for (size_t i = 0; i < n; i++)
        if (!objs[i].retired_us && layout_match(prefix, kind, objs[i].key, cur, NULL))
            np++;
    if (np == 0)
        return 0;
    if (!(per = malloc(np * sizeof *per)))
        return -ERR_NOMEM;
    np = 0;
    for (size_t i = 0; i < n; i++)
        if (!objs[i].retired_us && layout_match(prefix, kind, objs[i].key, cur, NULL))
            memcpy(per[np++], cur, PERIOD_MAX);
    qsort(per, np, sizeof *per, period_cmp_desc);
    size_t nu = 0; /* distinct, newest first */
    for (size_t i = 0; i < np; i++)
        if (nu == 0 || strcmp(per[nu - 1], per[i]) != 0)
            memcpy(per[nu++], per[i], PERIOD_MAX);

    size_t keep = kind == K_DAILY ? g->keep_daily : kind == K_MTD ? 1 : g->keep_monthly;
    /* keep_yearly: the years of the newest N December bundles */
    char years[1000][5];
    size_t ny = 0;
    if (kind == K_MONTHLY)
        for (size_t i = 0; i < nu && ny < 1000; i++)
            if (strcmp(per[i] + 5, "12") == 0 &&
                (g->keep_yearly < 0 || ny < (size_t)g->keep_yearly)) {
                memcpy(years[ny], per[i], 4);
                years[ny++][4] = '\0';
            }

    for (size_t i = 0; i < n; i++) {
        struct lc_obj *o = &objs[i];
        if (o->retired_us || !layout_match(prefix, kind, o->key, cur, NULL))
            continue;
        /* per[] is sorted newest first: the rank is the index found */
        char(*hit)[PERIOD_MAX] = bsearch(cur, per, nu, sizeof *per, period_cmp_desc);
        size_t rank = hit ? (size_t)(hit - per) : nu;
        if (rank < keep)
            continue;
        if (kind == K_DAILY) {
            mark_out(o, "older than keep_daily=%u (newest daily %s)", g->keep_daily, per[0]);
        } else if (kind == K_MTD) {
            mark_out(o, "month-to-date of an ended month (newest month-to-date %s)", per[0]);
        } else {
            bool year_end = false;
            for (size_t y = 0; y < ny && !year_end; y++)
                year_end = strncmp(cur, years[y], 4) == 0 && strcmp(cur + 5, "12") == 0;
            if (year_end)
                continue;
            char ky[16];
            if (g->keep_yearly < 0)
                snprintf(ky, sizeof ky, "all");
            else
                snprintf(ky, sizeof ky, "%d", g->keep_yearly);
            mark_out(o,
                     "older than keep_monthly=%u and not a year-end bundle kept by keep_yearly=%s",
                     g->keep_monthly, ky);
        }
    }
    free(per);
    return rc;
}

static bool protected_key(const struct lc_policy *p, const struct lc_rule *r, const char *key)
{
    if (!p->data_bucket)
        return false;
    for (const char *const *a = PROTECTED; *a; a++)
        if (strncmp(key, *a, strlen(*a)) == 0)
            return strncmp(r->prefix, *a, strlen(*a)) != 0; /* unless the rule names it */
    return false;
}

struct cand {
    struct lc_obj *o;
};
static int cand_newest_first(const void *a, const void *b)
{
    const struct lc_obj *x = ((const struct cand *)a)->o, *y = ((const struct cand *)b)->o;
    if (x->mtime != y->mtime)
        return x->mtime > y->mtime ? -1 : 1;
    return strcmp(y->key, x->key);
}

static void fmt_days(int64_t s, char *out, size_t cap)
{
    if (s % 86400 == 0)
        snprintf(out, cap, "%lldd", (long long)(s / 86400));
    else
        snprintf(out, cap, "%llds", (long long)s);
}

static int select_rule(const struct lc_policy *p, const struct lc_rule *r, struct lc_obj *objs,
                       size_t n, int64_t now)
{
    if (!r->expire_s && !r->keep_newest)
        return 0; /* an abort-only rule */
    size_t pl = strlen(r->prefix), nc = 0;
    struct cand *c = malloc((n ? n : 1) * sizeof *c);
    if (!c)
        return -ERR_NOMEM;
    for (size_t i = 0; i < n; i++)
        if (!objs[i].retired_us && strncmp(objs[i].key, r->prefix, pl) == 0 &&
            !protected_key(p, r, objs[i].key))
            c[nc++].o = &objs[i];
    if (r->keep_newest && nc)
        qsort(c, nc, sizeof *c, cand_newest_first);
    const char *kind = r->s3 ? "S3 rule" : "rule";
    char d[32];
    fmt_days(r->expire_s, d, sizeof d);
    for (size_t i = 0; i < nc; i++) {
        struct lc_obj *o = c[i].o;
        bool floor = r->keep_newest && i < r->keep_newest;
        bool expired = r->expire_s && now - o->mtime >= r->expire_s;
        if (floor)
            continue;
        if (expired)
            mark_out(o, "older than expire_after=%s (%s %s)", d, kind, r->name);
        else if (!r->expire_s)
            mark_out(o, "not among the newest keep_newest=%u (%s %s)", r->keep_newest, kind,
                     r->name);
    }
    free(c);
    return 0;
}

int lc_policy_select(const struct lc_policy *p, struct lc_obj *objs, size_t n, int64_t now)
{
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        objs[i].verdict = LC_KEEP;
        objs[i].why[0] = '\0';
    }
    for (size_t g = 0; g < p->n_grants && rc == 0; g++)
        for (size_t i = 0; i < p->grants[g].n_prefixes && rc == 0; i++)
            for (int k = 0; k < K_N && rc == 0; k++)
                rc = select_kind(&p->grants[g], p->grants[g].prefixes[i], k, objs, n);
    for (size_t r = 0; r < p->n_rules && rc == 0; r++)
        rc = select_rule(p, &p->rules[r], objs, n, now);
    return rc;
}
