/* test_lifecycle.c -- the lifecycle policy as pure functions (lifecycle_policy.c):
 * keep_daily at and around its boundary (retired folders do not count), MTD leftovers,
 * keep_monthly/keep_yearly across year ends, rules (expire_after at the exact
 * boundary, keep_newest with ties, both together, protected areas), the unit of a
 * layout folder, and the wait-or-delete decision around the link horizon and the
 * settle time. Tables of cases; no store, no clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "lifecycle/lifecycle_int.h"

#define DAY 86400
#define NOW 1771200000 /* 2026-02-16T00:00:00Z */

static const char *const PFX[] = {"tier2/"};

/* objects named in a table, all live unless retired; returns how many */
static size_t load(struct lc_obj *o, const char *const *keys, int64_t mtime)
{
    size_t n = 0;
    for (; keys[n]; n++) {
        memset(&o[n], 0, sizeof o[n]);
        o[n].key = keys[n];
        o[n].mtime = mtime;
    }
    return n;
}

/* the set of OUT keys as one string "a b c" */
static void outs(const struct lc_obj *o, size_t n, char *buf, size_t cap)
{
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++)
        if (o[i].verdict == LC_OUT) {
            if (buf[0])
                strncat(buf, " ", cap - strlen(buf) - 1);
            strncat(buf, o[i].key, cap - strlen(buf) - 1);
        }
}

static const char *const DAILY[] = {
    "tier2/daily/2026-02-01/tier2_2026-02-01.parquet",
    "tier2/daily/2026-02-01/manifest.json",
    "tier2/daily/2026-02-02/tier2_2026-02-02.parquet",
    "tier2/daily/2026-02-02/manifest.json",
    "tier2/daily/2026-02-03/tier2_2026-02-03.parquet",
    "tier2/daily/2026-02-04/x.parquet",
    "tier2/daily/2026-02-05/x.parquet",
    "tier2/daily/2026-02-06/x.parquet",
    "tier2/daily/2026-02-07/x.parquet",
    "tier2/daily/2026-02-08/x.parquet",
    "tier2/daily/2026-02-09/x.parquet",
    "tier2/daily/2026-02-10/x.parquet",
    "tier2/daily/README",               /* off the layout: kept */
    "tier2/daily/2026-02-30/x.parquet", /* not a date: kept */
    "tier2/daily/2026-02-01/sub/x",     /* nested: kept */
    "other/daily/2026-01-01/x.parquet", /* no grant holds it */
    NULL,
};

static void test_keep_daily(void **state)
{
    (void)state;
    static const struct {
        unsigned keep;
        int retire_idx; /* an object retired before the pass, -1 none */
        const char *out;
    } cases[] = {
        {7, -1,
         "tier2/daily/2026-02-01/tier2_2026-02-01.parquet tier2/daily/2026-02-01/manifest.json "
         "tier2/daily/2026-02-02/tier2_2026-02-02.parquet tier2/daily/2026-02-02/manifest.json "
         "tier2/daily/2026-02-03/tier2_2026-02-03.parquet"},
        {8, -1,
         "tier2/daily/2026-02-01/tier2_2026-02-01.parquet tier2/daily/2026-02-01/manifest.json "
         "tier2/daily/2026-02-02/tier2_2026-02-02.parquet tier2/daily/2026-02-02/manifest.json"},
        {9, -1,
         "tier2/daily/2026-02-01/tier2_2026-02-01.parquet tier2/daily/2026-02-01/manifest.json"},
        {10, -1, ""}, /* exactly as many as kept */
        {11, -1, ""},
        {1, -1, NULL}, /* checked below: everything but 02-10 */
        /* a retired folder (02-10) does not count: 02-03..02-09 are the newest 7 */
        {7, 11,
         "tier2/daily/2026-02-01/tier2_2026-02-01.parquet tier2/daily/2026-02-01/manifest.json "
         "tier2/daily/2026-02-02/tier2_2026-02-02.parquet tier2/daily/2026-02-02/manifest.json"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct lc_obj o[32];
        size_t n = load(o, DAILY, NOW - DAY);
        if (cases[i].retire_idx >= 0)
            o[cases[i].retire_idx].retired_us = (int64_t)(NOW - 3600) * 1000000;
        struct lc_grant g = {"tier2", PFX, 1, cases[i].keep, 12, -1};
        struct lc_policy p = {&g, 1, NULL, 0, true};
        print_message("row %zu: keep_daily=%u\n", i, cases[i].keep);
        assert_int_equal(lc_policy_select(&p, o, n, NOW), 0);
        char got[4096];
        outs(o, n, got, sizeof got);
        if (cases[i].out) {
            assert_string_equal(got, cases[i].out);
        } else {
            size_t nout = 0;
            for (size_t k = 0; k < n; k++)
                nout += o[k].verdict == LC_OUT;
            assert_int_equal(nout, 11); /* 12 layout files, 02-10 kept */
            assert_int_equal(o[11].verdict, LC_KEEP);
        }
        for (size_t k = 0; k < n; k++)
            if (o[k].verdict == LC_OUT)
                assert_non_null(strstr(o[k].why, "keep_daily="));
    }
}

static void test_mtd_leftover(void **state)
{
    (void)state;
    static const char *const K[] = {
        "tier2/mtd/2025-12/tier2_2025-12_mtd.parquet",
        "tier2/mtd/2026-01/tier2_2026-01_mtd.parquet",
        "tier2/mtd/2026-01/manifest.json",
        "tier2/mtd/2026-02/tier2_2026-02_mtd.parquet",
        "tier2/mtd/2026-02/manifest.json",
        NULL,
    };
    struct lc_obj o[8];
    size_t n = load(o, K, NOW - DAY);
    struct lc_grant g = {"tier2", PFX, 1, 7, 12, -1};
    struct lc_policy p = {&g, 1, NULL, 0, true};
    assert_int_equal(lc_policy_select(&p, o, n, NOW), 0);
    char got[1024];
    outs(o, n, got, sizeof got);
    assert_string_equal(got, "tier2/mtd/2025-12/tier2_2025-12_mtd.parquet "
                             "tier2/mtd/2026-01/tier2_2026-01_mtd.parquet "
                             "tier2/mtd/2026-01/manifest.json");
    assert_non_null(strstr(o[0].why, "newest month-to-date 2026-02"));
}

/* monthly/2023-11 .. monthly/2026-01: 27 months across three year ends */
static size_t monthly(struct lc_obj *o, char keys[][96])
{
    size_t n = 0;
    for (int y = 2023; y <= 2026; y++)
        for (int m = 1; m <= 12; m++) {
            if ((y == 2023 && m < 11) || (y == 2026 && m > 1))
                continue;
            snprintf(keys[n], 96, "tier2/monthly/%04d-%02d/tier2_%04d-%02d.parquet", y, m, y, m);
            memset(&o[n], 0, sizeof o[n]);
            o[n].key = keys[n];
            o[n].mtime = NOW - 400 * DAY;
            n++;
        }
    return n;
}

static void test_keep_monthly_yearly(void **state)
{
    (void)state;
    static const struct {
        unsigned keep_monthly;
        int keep_yearly;
        const char *kept; /* the months kept, in order */
    } cases[] = {
        /* the newest 12 are 2025-02..2026-01; older Decembers: 2024-12, 2023-12 */
        {12, -1,
         "2023-12 2024-12 2025-02 2025-03 2025-04 2025-05 2025-06 2025-07 2025-08 "
         "2025-09 2025-10 2025-11 2025-12 2026-01"},
        {12, 0,
         "2025-02 2025-03 2025-04 2025-05 2025-06 2025-07 2025-08 2025-09 2025-10 "
         "2025-11 2025-12 2026-01"},
        /* the newest year with a December bundle is 2025 (already kept by keep_monthly) */
        {12, 1,
         "2025-02 2025-03 2025-04 2025-05 2025-06 2025-07 2025-08 2025-09 2025-10 "
         "2025-11 2025-12 2026-01"},
        {12, 2,
         "2024-12 2025-02 2025-03 2025-04 2025-05 2025-06 2025-07 2025-08 2025-09 "
         "2025-10 2025-11 2025-12 2026-01"},
        {12, 3,
         "2023-12 2024-12 2025-02 2025-03 2025-04 2025-05 2025-06 2025-07 2025-08 "
         "2025-09 2025-10 2025-11 2025-12 2026-01"},
        {1, 0, "2026-01"},
        /* across the year end: the newest two are 2025-12 and 2026-01 */
        {2, 0, "2025-12 2026-01"},
        {0, 1, "2025-12"},
        {0, -1, "2023-12 2024-12 2025-12"},
        {27, 0, NULL}, /* everything */
        {100, 0, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct lc_obj o[40];
        char keys[40][96];
        size_t n = monthly(o, keys);
        assert_int_equal(n, 27);
        struct lc_grant g = {"tier2", PFX, 1, 7, cases[i].keep_monthly, cases[i].keep_yearly};
        struct lc_policy p = {&g, 1, NULL, 0, true};
        print_message("row %zu: keep_monthly=%u keep_yearly=%d\n", i, cases[i].keep_monthly,
                      cases[i].keep_yearly);
        assert_int_equal(lc_policy_select(&p, o, n, NOW), 0);
        char kept[1024] = "";
        size_t nk = 0;
        for (size_t k = 0; k < n; k++)
            if (o[k].verdict == LC_KEEP) {
                if (kept[0])
                    strcat(kept, " ");
                strncat(kept, o[k].key + strlen("tier2/monthly/"), 7);
                nk++;
            } else {
                assert_non_null(strstr(o[k].why, "keep_monthly="));
            }
        if (cases[i].kept)
            assert_string_equal(kept, cases[i].kept);
        else
            assert_int_equal(nk, n);
    }
}

static void test_rules(void **state)
{
    (void)state;
    /* mtimes: a = now-3d, b = now-2d, c = now-1d exactly, d = now-1d+1s, e = now, and f
     * ties with e (greater key = newer) */
    static const struct {
        const char *key;
        int64_t age;
    } objs[] = {
        {"scratch/a", 3 * DAY},
        {"scratch/b", 2 * DAY},
        {"scratch/c", DAY},
        {"scratch/d", DAY - 1},
        {"scratch/e", 0},
        {"scratch/f", 0},
        {"inbox/tier2/x", 5 * DAY},
        {"_index/tier2.json", 5 * DAY},
        {"inbox-rejected/tier2/y", 5 * DAY},
        {"keep/z", 5 * DAY},
    };
    static const struct {
        const char *prefix;
        int64_t expire_s;
        unsigned keep_newest;
        bool data_bucket;
        const char *out;
    } cases[] = {
        {"scratch/", DAY, 0, true, "scratch/a scratch/b scratch/c"}, /* c: exactly 1 day */
        {"scratch/", DAY + 1, 0, true, "scratch/a scratch/b"},
        {"scratch/", 3 * DAY, 0, true, "scratch/a"},
        {"scratch/", 3 * DAY + 1, 0, true, ""},
        {"scratch/", 0, 3, true, "scratch/a scratch/b scratch/c"}, /* keeps f, e, d */
        {"scratch/", 0, 1, true, "scratch/a scratch/b scratch/c scratch/d scratch/e"},
        {"scratch/", 0, 6, true, ""},
        /* both: expired AND outside the newest 5 -> only a */
        {"scratch/", DAY, 5, true, "scratch/a"},
        {"scratch/", 2 * DAY, 1, true, "scratch/a scratch/b"},
        /* the whole bucket: the protected areas stay */
        {"", 4 * DAY, 0, true, "keep/z"},
        /* ... unless the rule names them */
        {"inbox/", 4 * DAY, 0, true, "inbox/tier2/x"},
        {"inbox-rejected/", DAY, 0, true, "inbox-rejected/tier2/y"},
        {"_index/", DAY, 0, true, "_index/tier2.json"},
        /* another bucket has no protected areas */
        {"", 4 * DAY, 0, false, "inbox/tier2/x _index/tier2.json inbox-rejected/tier2/y keep/z"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct lc_obj o[16];
        size_t n = sizeof objs / sizeof objs[0];
        for (size_t k = 0; k < n; k++) {
            memset(&o[k], 0, sizeof o[k]);
            o[k].key = objs[k].key;
            o[k].mtime = NOW - objs[k].age;
        }
        struct lc_rule r = {
            "scratch", (char *)cases[i].prefix, cases[i].expire_s, cases[i].keep_newest, 0, false};
        struct lc_policy p = {NULL, 0, &r, 1, cases[i].data_bucket};
        print_message("row %zu: prefix '%s' expire %lld keep_newest %u\n", i, cases[i].prefix,
                      (long long)cases[i].expire_s, cases[i].keep_newest);
        assert_int_equal(lc_policy_select(&p, o, n, NOW), 0);
        char got[1024];
        outs(o, n, got, sizeof got);
        assert_string_equal(got, cases[i].out);
        for (size_t k = 0; k < n; k++)
            if (o[k].verdict == LC_OUT)
                assert_non_null(strstr(o[k].why, "(rule scratch)"));
    }
}

static void test_retired_decide(void **state)
{
    (void)state;
    const int64_t now_us = (int64_t)NOW * 1000000;
    static const struct {
        int64_t retired_ago_s, horizon_rel; /* horizon: NOW + rel, or 0 for none */
        bool has_horizon;
        enum lifecycle_act want;
    } cases[] = {
        {3600, 0, false, LC_DELETE},                 /* no link ever */
        {3600, 1, true, LC_WAIT},                    /* a link valid one more second */
        {3600, 0, true, LC_DELETE},                  /* expires exactly now */
        {3600, -1, true, LC_DELETE},                 /* expired */
        {3600, 7 * DAY, true, LC_WAIT},              /* minted just now for 7 days */
        {LIFECYCLE_SETTLE_S, 0, false, LC_DELETE},   /* settled exactly */
        {LIFECYCLE_SETTLE_S - 1, 0, false, LC_WAIT}, /* retired too recently */
        {0, -DAY, true, LC_WAIT},                    /* retired by this pass */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t h = cases[i].has_horizon ? NOW + cases[i].horizon_rel : 0;
        print_message("row %zu\n", i);
        assert_int_equal(lc_retired_decide(now_us - cases[i].retired_ago_s * 1000000, h, now_us),
                         cases[i].want);
    }
}

static void test_units(void **state)
{
    (void)state;
    static const char *const P2[] = {"tier2/", "extra/"};
    struct lc_grant g = {"tier2", P2, 2, 7, 12, -1};
    struct lc_policy p = {&g, 1, NULL, 0, true};
    static const struct {
        const char *key;
        size_t unit;
    } cases[] = {
        {"tier2/daily/2026-02-01/manifest.json", 23},
        {"tier2/daily/2026-02-01/f.parquet", 23},
        {"extra/mtd/2026-02/f.parquet", 18},
        {"tier2/monthly/2025-12/manifest.json", 22},
        {"tier2/daily/2026-02-01/sub/f", 28}, /* off the layout: itself */
        {"scratch/x", 9},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        print_message("row %zu: %s\n", i, cases[i].key);
        assert_int_equal(lc_unit_len(&p, cases[i].key), cases[i].unit);
    }
    assert_ptr_equal(lc_grant_of(&p, "extra/x"), &g);
    assert_null(lc_grant_of(&p, "tier3/x"));
    assert_string_equal(lifecycle_act_name(LC_ABORT_UPLOAD), "abort-upload");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keep_daily),          cmocka_unit_test(test_mtd_leftover),
        cmocka_unit_test(test_keep_monthly_yearly), cmocka_unit_test(test_rules),
        cmocka_unit_test(test_retired_decide),      cmocka_unit_test(test_units),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
