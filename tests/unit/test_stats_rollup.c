/* test_stats_rollup.c -- the rollup cascade equals a direct computation over the raw
 * events (random event sets, fixed seeds, crossing a month end and a year end, asked
 * in random order so windows are saved at every level and then reused); window
 * boundaries; aggregate JSON round trip; the referrer cap; daily salts (same client:
 * same visitor within a day, another on the next day; a salt is wiped two days
 * later); referrer domains; X-Forwarded-For only from trusted proxies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "stats/stats.h"
#include "stats/stats_int.h"

/* ---- an in-memory source ---- */

#define MAXEV 6000
struct mem {
    struct stats_event *ev; /* sorted by time */
    size_t n;
    struct {
        int w;
        int64_t start;
        char *json;
    } saved[40000];
    size_t nsaved;
    unsigned raw_calls, loads;
};

static size_t lower(const struct mem *m, int64_t t_us)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (m->ev[mid].t_us < t_us)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int64_t mem_first(void *ctx)
{
    struct mem *m = ctx;
    return m->n ? m->ev[0].t_us / 1000000 : INT64_MAX;
}

static int mem_raw(void *ctx, int64_t from, int64_t to, struct stats_agg *into)
{
    struct mem *m = ctx;
    m->raw_calls++;
    for (size_t i = lower(m, from * 1000000); i < m->n && m->ev[i].t_us < to * 1000000; i++) {
        int rc = stats_agg_add_event(into, &m->ev[i]);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int mem_vis(void *ctx, int64_t from, int64_t to, struct stats_agg *into)
{
    struct mem *m = ctx;
    size_t a = lower(m, from * 1000000), b = lower(m, to * 1000000);
    for (size_t i = a; i < b; i++) {
        bool seen = false; /* first occurrence of (grant, visitor) in range */
        for (size_t j = a; j < i && !seen; j++)
            seen = strcmp(m->ev[j].grant, m->ev[i].grant) == 0 &&
                   memcmp(m->ev[j].visitor, m->ev[i].visitor, STATS_VISITOR_LEN) == 0;
        if (!seen) {
            struct stats_entry e = {STATS_DIM_VISITORS, m->ev[i].grant, 0, 0, "", 1, 0};
            int rc = stats_agg_add(into, &e);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

static int mem_load(void *ctx, enum stats_window w, int64_t start, struct stats_agg **out)
{
    struct mem *m = ctx;
    for (size_t i = 0; i < m->nsaved; i++)
        if (m->saved[i].w == (int)w && m->saved[i].start == start) {
            m->loads++;
            return stats_agg_from_json(m->saved[i].json, out);
        }
    return -ERR_NOT_FOUND;
}

static int mem_save(void *ctx, enum stats_window w, int64_t start, const struct stats_agg *a)
{
    struct mem *m = ctx;
    assert_true(m->nsaved < sizeof m->saved / sizeof m->saved[0]);
    for (size_t i = 0; i < m->nsaved; i++)
        assert_false(m->saved[i].w == (int)w && m->saved[i].start == start); /* saved once */
    m->saved[m->nsaved].w = (int)w;
    m->saved[m->nsaved].start = start;
    assert_non_null(m->saved[m->nsaved].json = stats_agg_to_json(a));
    m->nsaved++;
    return 0;
}

/* ---- direct computation ---- */

static struct stats_agg *direct(struct mem *m, enum stats_window w, int64_t start, int64_t now)
{
    int64_t end = stats_window_next(w, start);
    struct stats_agg *a = stats_agg_new();
    assert_int_equal(mem_raw(m, start, end < now ? end : now, a), 0);
    if (w <= STATS_WDAY) {
        assert_int_equal(mem_vis(m, start, end, a), 0);
    } else {
        for (int64_t d = start; d < end && d < now; d += 86400)
            assert_int_equal(mem_vis(m, d, d + 86400, a), 0);
        stats_agg_set_visitors_summed(a, true);
    }
    return a;
}

static int cmp_ev(const void *x, const void *y)
{
    const struct stats_event *a = x, *b = y;
    return a->t_us < b->t_us ? -1 : a->t_us > b->t_us;
}

static uint64_t rnd_state;
static uint64_t rnd(void)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return rnd_state;
}

static void gen(struct mem *m, uint64_t seed, size_t n, int64_t t0, int64_t t1)
{
    static const char *const grants[] = {"tier1", "tier2", "tier3", ""};
    static const int status[] = {200, 200, 200, 206, 304, 403, 404, 429, 500};
    static const char *const refs[] = {
        "", "", "", "example.org", "news.ycombinator.com", "t.co", "mail.google.com"};
    rnd_state = seed;
    m->ev = calloc(n, sizeof *m->ev);
    m->n = n;
    uint8_t visitors[40][STATS_VISITOR_LEN];
    for (size_t v = 0; v < 40; v++)
        for (size_t k = 0; k < STATS_VISITOR_LEN; k++)
            visitors[v][k] = (uint8_t)rnd();
    for (size_t i = 0; i < n; i++) {
        struct stats_event *e = &m->ev[i];
        e->t_us = t0 * 1000000 + (int64_t)(rnd() % (uint64_t)((t1 - t0) * 1000000));
        e->kind = (enum stats_kind)(rnd() % STATS_KIND_COUNT);
        snprintf(e->grant, sizeof e->grant, "%s", grants[rnd() % 4]);
        if (rnd() % 3)
            snprintf(e->token, sizeof e->token, "tok#%08x", (unsigned)(rnd() % 6));
        snprintf(e->key, sizeof e->key, "%s/daily/2026-12-%02u/f.parquet", e->grant,
                 (unsigned)(1 + rnd() % 20));
        e->status = status[rnd() % 9];
        e->bytes = rnd() % 100000;
        memcpy(e->visitor, visitors[rnd() % 40], STATS_VISITOR_LEN);
        snprintf(e->referrer, sizeof e->referrer, "%s", refs[rnd() % 7]);
    }
    qsort(m->ev, n, sizeof *m->ev, cmp_ev);
}

static void check(struct mem *m, enum stats_window w, int64_t start, int64_t now)
{
    struct stats_agg *c = NULL, *d = direct(m, w, start, now);
    char why[512] = "";
    assert_int_equal(
        stats_window_get(&(struct stats_source){mem_first, mem_raw, mem_vis, mem_load, mem_save, m},
                         w, start, now, &c),
        0);
    if (stats_agg_compare(c, d, why, sizeof why) != 0) {
        char t[32];
        time_fmt_iso8601(start, t);
        fail_msg("%s window at %s: cascade vs direct: %s", stats_window_name[w], t, why);
    }
    stats_agg_free(c);
    stats_agg_free(d);
}

static void run_seed(uint64_t seed)
{
    struct mem *m = calloc(1, sizeof *m);
    int64_t t0, t1, now;
    time_parse_iso8601(str_c("2026-11-20T00:00:00Z"), &t0);
    time_parse_iso8601(str_c("2027-02-10T13:17:00Z"), &t1);
    now = t1; /* the year 2027, February, its day and hour are open */
    gen(m, seed, MAXEV, t0, t1);
    rnd_state = seed * 7 + 1;
    /* random order over all levels: days, months, years, some hours and half hours */
    for (int round = 0; round < 120; round++) {
        enum stats_window w = (enum stats_window)(rnd() % STATS_WCOUNT);
        int64_t t = t0 + (int64_t)(rnd() % (uint64_t)(t1 - t0));
        check(m, w, stats_window_start(w, t), now);
    }
    for (int64_t mo = stats_window_start(STATS_WMONTH, t0); mo < now;
         mo = stats_window_next(STATS_WMONTH, mo))
        check(m, STATS_WMONTH, mo, now);
    check(m, STATS_WYEAR, stats_window_start(STATS_WYEAR, t0), now);
    check(m, STATS_WYEAR, stats_window_start(STATS_WYEAR, now), now);
    check(m, STATS_WDAY, stats_window_start(STATS_WDAY, now), now); /* open: not saved */
    unsigned raw_before = m->raw_calls;
    check(m, STATS_WYEAR, stats_window_start(STATS_WYEAR, t0), now); /* saved: loaded */
    assert_int_equal(m->raw_calls, raw_before + 1);                  /* only direct() */
    for (size_t i = 0; i < m->nsaved; i++) {                         /* nothing open was saved */
        assert_true(stats_window_next((enum stats_window)m->saved[i].w, m->saved[i].start) <= now);
        free(m->saved[i].json);
    }
    free(m->ev);
    free(m);
}

static void test_cascade_equals_direct(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 4; seed++)
        run_seed(seed * 0x9E3779B97F4A7C15ull);
}

static int64_t iso(const char *s)
{
    int64_t t;
    assert_int_equal(time_parse_iso8601(str_c(s), &t), 0);
    return t;
}

static void test_windows(void **state)
{
    (void)state;
    int64_t t = iso("2026-12-31T23:59:59Z");
    assert_int_equal(stats_window_start(STATS_W30M, t), iso("2026-12-31T23:30:00Z"));
    assert_int_equal(stats_window_start(STATS_WHOUR, t), iso("2026-12-31T23:00:00Z"));
    assert_int_equal(stats_window_start(STATS_WDAY, t), iso("2026-12-31T00:00:00Z"));
    assert_int_equal(stats_window_start(STATS_WMONTH, t), iso("2026-12-01T00:00:00Z"));
    assert_int_equal(stats_window_start(STATS_WYEAR, t), iso("2026-01-01T00:00:00Z"));
    assert_int_equal(stats_window_next(STATS_WMONTH, iso("2026-12-01T00:00:00Z")),
                     iso("2027-01-01T00:00:00Z"));
    assert_int_equal(stats_window_next(STATS_WYEAR, iso("2026-01-01T00:00:00Z")),
                     iso("2027-01-01T00:00:00Z"));
    assert_int_equal(stats_window_next(STATS_WMONTH, iso("2028-02-01T00:00:00Z")),
                     iso("2028-03-01T00:00:00Z"));
    assert_int_equal(stats_window_next(STATS_WMONTH, iso("2027-02-01T00:00:00Z")) -
                         iso("2027-02-01T00:00:00Z"),
                     28 * 86400);
    assert_int_equal(stats_window_start(STATS_WMONTH, iso("2027-01-01T00:00:00Z")),
                     iso("2027-01-01T00:00:00Z"));
    assert_int_equal(stats_window_start(STATS_WDAY, -1), -86400); /* before 1970 */
    assert_int_equal(stats_window_start(STATS_WYEAR, -1), iso("1969-01-01T00:00:00Z"));
    enum stats_window w;
    assert_int_equal(stats_window_parse(str_c("month"), &w), 0);
    assert_int_equal(w, STATS_WMONTH);
    assert_int_equal(stats_window_parse(str_c("30m"), &w), 0);
    assert_int_equal(w, STATS_W30M);
    assert_int_equal(stats_window_parse(str_c("week"), &w), -ERR_INVALID);
}

static void test_agg_json_and_cap(void **state)
{
    (void)state;
    struct stats_agg *a = stats_agg_new(), *b = NULL;
    char ref[32], why[256];
    for (int i = 0; i < STATS_REFERRERS_MAX + 50; i++) {
        snprintf(ref, sizeof ref, "r%d.example", i);
        struct stats_entry e = {STATS_DIM_REFERRER, "g", 0, 0, ref, 1, 10};
        assert_int_equal(stats_agg_add(a, &e), 0);
    }
    struct stats_entry v = {STATS_DIM_VISITORS, "g", 0, 0, "", 7, 0};
    assert_int_equal(stats_agg_add(a, &v), 0);
    assert_int_equal(stats_agg_size(a), STATS_REFERRERS_MAX + 2); /* + (other) + visitors */
    char *j = stats_agg_to_json(a);
    assert_int_equal(stats_agg_from_json(j, &b), 0);
    assert_int_equal(stats_agg_compare(a, b, why, sizeof why), 0);
    stats_agg_clear_visitors(b);
    assert_int_not_equal(stats_agg_compare(a, b, why, sizeof why), 0);
    assert_int_equal(stats_agg_size(b), STATS_REFERRERS_MAX + 1);
    free(j);
    struct stats_agg *bad = NULL;
    assert_int_equal(stats_agg_from_json("{\"e\":[[\"zz\",1,1]]}", &bad), -ERR_INVALID);
    assert_int_equal(stats_agg_from_json("nope", &bad), -ERR_INVALID);
    struct stats_entry e = {STATS_DIM_CELL, "g", STATS_KIND_COUNT, 2, "", 1, 1};
    assert_int_equal(stats_agg_add(a, &e), -ERR_INVALID);
    stats_agg_free(a);
    stats_agg_free(b);
}

static void test_salts(void **state)
{
    (void)state;
    struct stats_salts *s = NULL;
    uint8_t v1[16], v2[16], v3[16], v4[16], v5[16];
    int64_t day1 = iso("2026-03-01T10:00:00Z");
    assert_int_equal(stats_salts_new(&s), 0);
    assert_int_equal(stats_visitor(s, day1, str_c("192.0.2.7"), str_c("curl/8"), v1), 0);
    assert_int_equal(stats_visitor(s, day1 + 3600, str_c("192.0.2.7"), str_c("curl/8"), v2), 0);
    assert_memory_equal(v1, v2, 16); /* same day, same client */
    assert_int_equal(stats_visitor(s, day1, str_c("192.0.2.7"), str_c("Wget/1"), v3), 0);
    assert_memory_not_equal(v1, v3, 16); /* another user agent */
    assert_int_equal(stats_visitor(s, day1, str_c("192.0.2.8"), str_c("curl/8"), v3), 0);
    assert_memory_not_equal(v1, v3, 16); /* another address */
    assert_int_equal(stats_visitor(s, day1 + 86400, str_c("192.0.2.7"), str_c("curl/8"), v4), 0);
    assert_memory_not_equal(v1, v4, 16); /* the next day: another visitor */
    assert_int_equal(stats_salts_live(s), 2);
    assert_int_equal(stats_visitor(s, day1 + 2 * 86400, str_c("192.0.2.7"), str_c("curl/8"), v5),
                     0);
    assert_int_equal(stats_salts_live(s), 2); /* day 1's salt is gone */
    assert_int_equal(stats_visitor(s, day1 + 3600, str_c("192.0.2.7"), str_c("curl/8"), v2), 0);
    assert_memory_not_equal(v1, v2, 16); /* day 1 again: a new salt, never the old one */
    stats_salts_free(s);
    /* two servers (or a restart): different salts */
    struct stats_salts *s2 = NULL;
    assert_int_equal(stats_salts_new(&s2), 0);
    assert_int_equal(stats_visitor(s2, day1, str_c("192.0.2.7"), str_c("curl/8"), v3), 0);
    assert_memory_not_equal(v1, v3, 16);
    stats_salts_free(s2);
}

static void test_referrer(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"https://Example.org:8443/a/b?c=d#e", "example.org"},
        {"http://news.ycombinator.com/item?id=1", "news.ycombinator.com"},
        {"https://user:pw@secret.example/x", "secret.example"},
        {"https://[2001:db8::1]:443/x", "[2001:db8::1]"},
        {"https://example.org./", "example.org"},
        {"android-app://com.slack/", ""},
        {"", ""},
        {"https://", ""},
        {"https://bad host/", ""},
        {"  https://t.co/abc  ", "t.co"},
    };
    char out[STATS_REFERRER_MAX];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        stats_referrer_domain(str_c(cases[i][0]), out);
        assert_string_equal(out, cases[i][1]);
    }
}

static void test_proxies(void **state)
{
    (void)state;
    struct stats_proxies *p = NULL;
    char bad[128];
    assert_int_equal(stats_proxies_parse(str_c("127.0.0.1, 10.0.0.0/8 ::1"), &p, bad, sizeof bad),
                     0);
    struct str c;
    c = stats_client_addr(p, str_c("127.0.0.1"), str_c("198.51.100.4, 10.1.2.3"));
    assert_true(str_eq_c(c, "198.51.100.4"));
    c = stats_client_addr(p, str_c("192.0.2.1"), str_c("198.51.100.4")); /* untrusted peer */
    assert_true(str_eq_c(c, "192.0.2.1"));
    c = stats_client_addr(p, str_c("127.0.0.1"), str_c("6.6.6.6, 198.51.100.4"));
    assert_true(str_eq_c(c, "198.51.100.4")); /* a spoofed left-most entry is not believed */
    c = stats_client_addr(p, str_c("127.0.0.1"), str_c("garbage"));
    assert_true(str_eq_c(c, "127.0.0.1"));
    c = stats_client_addr(p, str_c("127.0.0.1"), STR_NULL);
    assert_true(str_eq_c(c, "127.0.0.1"));
    c = stats_client_addr(NULL, str_c("127.0.0.1"), str_c("198.51.100.4"));
    assert_true(str_eq_c(c, "127.0.0.1")); /* no proxies configured */
    stats_proxies_free(p);
    assert_int_equal(stats_proxies_parse(str_c("10.0.0.0/33"), &p, bad, sizeof bad), -ERR_INVALID);
    assert_non_null(strstr(bad, "10.0.0.0/33"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cascade_equals_direct),
        cmocka_unit_test(test_windows),
        cmocka_unit_test(test_agg_json_and_cap),
        cmocka_unit_test(test_salts),
        cmocka_unit_test(test_referrer),
        cmocka_unit_test(test_proxies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
