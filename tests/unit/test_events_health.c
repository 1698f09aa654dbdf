/* test_events_health.c -- events_health(): the freshness rules as a table (stale only
 * from [health] stale_after_hour, yesterday's daily, the MTD's month and days, the
 * lifecycle run's age, lifecycle_max_age = 0), a grant with no index, an unknown grant,
 * next_rotation, and the JSON fields. A real store, meta and gate in a temp directory. */
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "events/events.h"
#include "gate/gate.h"
#include "meta/meta.h"
#include "store/store.h"

struct th {
    char dir[64], conf[128];
    uint8_t secret[32];
    struct cfg cfg;
    struct meta *m;
    struct store *st;
    struct gate *g;
};

static int rm_one(const char *p, const struct stat *s, int f, struct FTW *w)
{
    (void)s, (void)f, (void)w;
    return remove(p);
}

static void put(struct th *t, const char *key, const char *body)
{
    struct store_put *p;
    struct store_obj_info info = {0};
    assert_int_equal(store_put_begin(t->st, &p), 0);
    assert_int_equal(store_put_write(p, body, strlen(body)), 0);
    assert_int_equal(store_put_commit(p, STR_LIT("tollgate"), str_c(key), NULL, &info), 0);
    store_obj_info_release(&info);
}

static int setup(void **state)
{
    struct th *t = calloc(1, sizeof *t);
    char *err = NULL;
    snprintf(t->dir, sizeof t->dir, "/tmp/test_health.XXXXXX");
    if (!t || !mkdtemp(t->dir))
        return -1;
    snprintf(t->conf, sizeof t->conf, "%s/t.conf", t->dir);
    FILE *f = fopen(t->conf, "w");
    fputs("[grant tier1]\nprefix = tier1/\n\n[grant tier2]\nprefix = tier2/\n", f);
    fclose(f);
    for (int i = 0; i < 32; i++)
        t->secret[i] = (uint8_t)(i * 7);
    struct gate_config gc = {"tollgate", "http://127.0.0.1:1", "us-east-1", NULL};
    if (cfg_load(t->conf, &t->cfg, &err) < 0 || meta_open(t->dir, t->secret, &t->m) < 0 ||
        store_open(t->dir, &t->st) < 0 || store_bucket_create(t->st, STR_LIT("tollgate")) < 0 ||
        gate_open(&t->cfg, &gc, t->m, t->secret, &t->g, &err) < 0) {
        fprintf(stderr, "setup: %s\n", err ? err : "?");
        return -1;
    }
    /* tier1: dailies up to 2026-03-01, the March MTD holding it */
    put(t, "_index/tier1.json",
        "{\"grant\":\"tier1\",\"daily\":[\"tier1/daily/2026-03-01/tier1_2026-03-01.parquet\","
        "\"tier1/daily/2026-02-28/tier1_2026-02-28.parquet\"],"
        "\"mtd\":\"tier1/mtd/2026-03/tier1_2026-03_mtd.parquet\",\"monthly\":[]}");
    put(t, "tier1/mtd/2026-03/manifest.json",
        "{\"kind\":\"mtd\",\"built_at\":\"2026-03-02T01:00:00Z\",\"days\":[{\"date\":"
        "\"2026-03-01\"}]}");
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct th *t = *state;
    gate_close(t->g);
    store_close(t->st);
    meta_close(t->m);
    cfg_release(&t->cfg);
    nftw(t->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(t);
    return 0;
}

static int64_t iso(const char *s)
{
    int64_t t;
    assert_int_equal(time_parse_iso8601(str_c(s), &t), 0);
    return t;
}

static json_t *run(struct th *t, const char *now, int64_t lc_ago, int64_t max_age,
                   const char *grant)
{
    const char *names[1] = {grant};
    struct events_health_opts o = {
        .store = t->st,
        .bucket = "tollgate",
        .gate = t->g,
        .now = iso(now),
        .stale_after_hour = 6,
        .lifecycle_max_age = max_age,
        .has_lifecycle = lc_ago >= 0,
        .last_lifecycle_run = iso(now) - lc_ago,
        .serving = true,
        .grants = grant ? names : NULL,
        .n_grants = grant ? 1 : 0,
    };
    void *out = NULL;
    char err[256] = "";
    assert_int_equal(events_health(&o, &out, err), 0);
    return out;
}

static void test_freshness_table(void **state)
{
    struct th *t = *state;
    static const struct {
        const char *now;
        int64_t lc_ago, max_age; /* lc_ago < 0: never ran */
        bool ok;
        const char *problem; /* substring of the only problem, or NULL */
    } rows[] = {
        {"2026-03-02T07:00:00Z", 600, 7200, true, NULL}, /* yesterday is there */
        {"2026-03-02T00:30:00Z", 600, 7200, true, NULL}, /* ... and today too early */
        {"2026-03-03T05:59:59Z", 600, 7200, true, NULL}, /* before 06:00: 03-01 still ok */
        {"2026-03-03T06:00:00Z", 600, 7200, false, "tier1: the daily for 2026-03-02 is missing"},
        {"2026-03-05T12:00:00Z", 600, 7200, false, "(newest daily: 2026-03-01)"},
        {"2026-03-02T07:00:00Z", -1, 7200, false,
         "tier1: the lifecycle pass (retention) has never"},
        {"2026-03-02T07:00:00Z", 7201, 7200, false, "last ran 120 min ago"},
        {"2026-03-02T07:00:00Z", 7200, 7200, true, NULL}, /* exactly the limit is fine */
        {"2026-03-02T07:00:00Z", -1, 0, true, NULL},      /* lifecycle_max_age 0: no check */
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        print_message("row %zu: %s\n", i, rows[i].now);
        json_t *r = run(t, rows[i].now, rows[i].lc_ago, rows[i].max_age, "tier1");
        json_t *g = json_array_get(json_object_get(r, "grants"), 0);
        json_t *probs = json_object_get(g, "problems");
        if (json_array_size(probs))
            print_message("  problem: %s\n", json_string_value(json_array_get(probs, 0)));
        assert_int_equal(json_is_true(json_object_get(r, "ok")), rows[i].ok);
        assert_int_equal(json_is_true(json_object_get(g, "ok")), rows[i].ok);
        assert_int_equal(json_array_size(probs), rows[i].problem ? 1 : 0);
        if (rows[i].problem)
            assert_non_null(strstr(json_string_value(json_array_get(probs, 0)), rows[i].problem));
        assert_string_equal(json_string_value(json_object_get(g, "newest_daily")), "2026-03-01");
        assert_string_equal(json_string_value(json_object_get(g, "mtd_month")), "2026-03");
        assert_string_equal(json_string_value(json_object_get(g, "mtd_built_at")),
                            "2026-03-02T01:00:00Z");
        json_decref(r);
    }
}

static void test_fields_and_grants(void **state)
{
    struct th *t = *state;
    json_t *r = run(t, "2026-03-02T07:00:00Z", 60, 7200, NULL);
    json_t *gs = json_object_get(r, "grants");
    assert_int_equal(json_array_size(gs), 2);
    json_t *g1 = json_array_get(gs, 0), *g2 = json_array_get(gs, 1);
    static const char *const KEYS[] = {"grant",         "ok",           "newest_daily",
                                       "mtd_month",     "mtd_built_at", "last_lifecycle_run",
                                       "next_rotation", "problems"};
    assert_int_equal(json_object_size(g1), 8);
    for (size_t i = 0; i < 8; i++)
        assert_non_null(json_object_get(g1, KEYS[i]));
    /* default rotation: weeks from Monday 00:00 UTC; 2026-03-02 is a Monday */
    assert_string_equal(json_string_value(json_object_get(g1, "next_rotation")),
                        "2026-03-09T00:00:00Z");
    assert_string_equal(json_string_value(json_object_get(g1, "last_lifecycle_run")),
                        "2026-03-02T06:59:00Z");
    /* tier2 has published nothing: the whole report is red */
    assert_false(json_is_true(json_object_get(r, "ok")));
    assert_string_equal(json_string_value(json_object_get(g2, "grant")), "tier2");
    assert_true(json_is_null(json_object_get(g2, "newest_daily")));
    assert_non_null(strstr(json_string_value(json_array_get(json_object_get(g2, "problems"), 0)),
                           "tier2: nothing published yet (no _index/tier2.json)"));
    json_decref(r);

    /* an unknown grant: an error, no report */
    const char *names[1] = {"nope"};
    struct events_health_opts o = {.store = t->st,
                                   .bucket = "tollgate",
                                   .gate = t->g,
                                   .now = iso("2026-03-02T07:00:00Z"),
                                   .grants = names,
                                   .n_grants = 1};
    void *out = NULL;
    char err[256] = "";
    assert_int_equal(events_health(&o, &out, err), -ERR_NOT_FOUND);
    assert_null(out);
    assert_non_null(strstr(err, "'nope'"));
}

static void test_mtd_problems(void **state)
{
    struct th *t = *state;
    /* the MTD named is last month's */
    put(t, "_index/tier2.json",
        "{\"daily\":[\"tier2/daily/2026-03-01/tier2_2026-03-01.parquet\"],"
        "\"mtd\":\"tier2/mtd/2026-02/tier2_2026-02_mtd.parquet\"}");
    put(t, "tier2/mtd/2026-02/manifest.json",
        "{\"built_at\":\"2026-03-01T01:00:00Z\",\"days\":[{\"date\":\"2026-02-28\"}]}");
    json_t *r = run(t, "2026-03-02T07:00:00Z", 60, 7200, "tier2");
    json_t *p = json_object_get(json_array_get(json_object_get(r, "grants"), 0), "problems");
    assert_int_equal(json_array_size(p), 1);
    assert_non_null(strstr(json_string_value(json_array_get(p, 0)),
                           "tier2: the MTD is for 2026-02, not for the month of the newest daily"));
    json_decref(r);
    /* the MTD of the right month without the newest day */
    put(t, "_index/tier2.json",
        "{\"daily\":[\"tier2/daily/2026-03-01/tier2_2026-03-01.parquet\"],"
        "\"mtd\":\"tier2/mtd/2026-03/tier2_2026-03_mtd.parquet\"}");
    put(t, "tier2/mtd/2026-03/manifest.json",
        "{\"built_at\":\"2026-03-01T01:00:00Z\",\"days\":[]}");
    r = run(t, "2026-03-02T07:00:00Z", 60, 7200, "tier2");
    p = json_object_get(json_array_get(json_object_get(r, "grants"), 0), "problems");
    assert_int_equal(json_array_size(p), 1);
    assert_non_null(strstr(json_string_value(json_array_get(p, 0)),
                           "does not include the newest daily 2026-03-01"));
    json_decref(r);
    /* no MTD for a Parquet grant is a problem; for a format without bundles it is not */
    put(t, "_index/tier2.json",
        "{\"daily\":[\"tier2/daily/2026-03-01/tier2_2026-03-01.parquet\"],\"mtd\":null}");
    r = run(t, "2026-03-02T07:00:00Z", 60, 7200, "tier2");
    p = json_object_get(json_array_get(json_object_get(r, "grants"), 0), "problems");
    assert_int_equal(json_array_size(p), 1);
    assert_non_null(strstr(json_string_value(json_array_get(p, 0)), "no month-to-date bundle"));
    json_decref(r);
    put(t, "_index/tier2.json",
        "{\"daily\":[\"tier2/daily/2026-03-01/tier2_2026-03-01.zip\"],\"mtd\":null}");
    r = run(t, "2026-03-02T07:00:00Z", 60, 7200, "tier2");
    assert_true(json_is_true(json_object_get(r, "ok")));
    json_decref(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_freshness_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fields_and_grants, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mtd_problems, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
