/* test_stats.c -- the recorder and queries over a real meta.db: events recorded from
 * several clients across two days come back as exact numbers (downloads, bytes,
 * visitors per day, month = sum of daily uniques, top keys/tokens/referrers); the
 * pulse counts only its window; expiring raw events keeps the rollups; the data
 * directory holds no client address and no user agent; the buffer's limit drops and
 * counts; config errors name the key. */
#include <ftw.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "meta/meta.h"
#include "stats/stats.h"

struct t {
    char dir[64], conf[96];
    struct cfg cfg;
    struct meta *m;
    struct stats *st;
};

static int rm_one(const char *p, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb, (void)type, (void)ftw;
    return remove(p);
}

static void write_conf(struct t *t, const char *text)
{
    FILE *f = fopen(t->conf, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    cfg_release(&t->cfg);
    char *err = NULL;
    assert_int_equal(cfg_load(t->conf, &t->cfg, &err), 0);
}

static int setup(void **state)
{
    struct t *t = calloc(1, sizeof *t);
    uint8_t secret[32] = {1, 2, 3};
    snprintf(t->dir, sizeof t->dir, "/tmp/test_stats.XXXXXX");
    if (!mkdtemp(t->dir))
        return -1;
    snprintf(t->conf, sizeof t->conf, "%s/t.conf", t->dir);
    write_conf(t, "[stats]\ntrusted_proxies = 127.0.0.1\n");
    if (meta_open(t->dir, secret, &t->m) < 0)
        return -1;
    char *err = NULL;
    if (stats_open(&t->cfg, t->m, &t->st, &err) < 0) {
        fprintf(stderr, "%s\n", err ? err : "?");
        return -1;
    }
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct t *t = *state;
    stats_close(t->st);
    meta_close(t->m);
    cfg_release(&t->cfg);
    nftw(t->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(t);
    return 0;
}

static int64_t iso(const char *s)
{
    int64_t v;
    assert_int_equal(time_parse_iso8601(str_c(s), &v), 0);
    return v;
}

static void hit(struct t *t, const char *when, enum stats_kind kind, const char *grant,
                const char *key, int status, uint64_t bytes, const char *addr, const char *ua,
                const char *ref, const char *token)
{
    struct stats_hit h = {kind,
                          grant,
                          token,
                          key,
                          NULL,
                          status,
                          bytes,
                          false,
                          str_c(addr),
                          STR_NULL,
                          str_c(ua),
                          str_c(ref),
                          iso(when) * 1000000};
    stats_record(t->st, &h);
}

static json_t *query(struct t *t, enum stats_window w, const char *from, const char *to,
                     const char *grant, const char *now)
{
    json_t *j = NULL;
    char err[256] = "";
    int rc = stats_query(t->st, w, from, to, grant, iso(now), &j, err);
    if (rc < 0)
        fail_msg("query: %s", err);
    return j;
}

static json_int_t field(json_t *series, const char *start, const char *grant, const char *name)
{
    size_t i;
    json_t *v;
    json_array_foreach(series, i, v)
    {
        if (strcmp(json_string_value(json_object_get(v, "start")), start) == 0 &&
            strcmp(json_string_value(json_object_get(v, "grant")), grant) == 0)
            return json_integer_value(json_object_get(v, name));
    }
    fail_msg("no series entry %s %s", start, grant);
    return -1;
}

static const char *CURL = "curl/8.5.0", *FF = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) "
                                              "Gecko/20100101 Firefox/121.0";

static void traffic(struct t *t)
{
    /* day 1: two clients; one client twice (same visitor), one through a proxy */
    hit(t, "2026-02-27T10:00:00Z", STATS_PORTAL_VIEW, "tier2", "", 200, 0, "192.0.2.7", FF,
        "https://news.example.com/x?y", "tok#00000001");
    hit(t, "2026-02-27T10:00:05Z", STATS_LINK_MINTED, "tier2", "tier2/a.parquet", 200, 0,
        "192.0.2.7", FF, "", "tok#00000001");
    hit(t, "2026-02-27T10:00:09Z", STATS_DOWNLOAD, "tier2", "tier2/a.parquet", 200, 1000,
        "192.0.2.7", FF, "", "tok#00000001");
    hit(t, "2026-02-27T11:00:00Z", STATS_DOWNLOAD, "tier2", "tier2/a.parquet", 206, 500,
        "192.0.2.7", FF, "", "tok#00000001");
    hit(t, "2026-02-27T12:00:00Z", STATS_DOWNLOAD, "tier2", "tier2/b.parquet", 200, 300,
        "198.51.100.9", CURL, "", "tok#00000002");
    hit(t, "2026-02-27T12:30:00Z", STATS_REJECTED, "tier2", "", 403, 0, "203.0.113.5", CURL, "",
        "");
    hit(t, "2026-02-27T13:00:00Z", STATS_API_VIEW, "tier1", "", 200, 0, "198.51.100.9", CURL, "",
        "tok#00000003");
    /* day 2 (next month): the same client is a new visitor */
    hit(t, "2026-03-01T09:00:00Z", STATS_DOWNLOAD, "tier2", "tier2/a.parquet", 200, 1000,
        "192.0.2.7", FF, "https://news.example.com/", "tok#00000001");
    hit(t, "2026-03-01T09:01:00Z", STATS_DOWNLOAD, "tier2", "tier2/a.parquet", 404, 0, "192.0.2.7",
        FF, "", "tok#00000001");
    assert_int_equal(stats_flush(t->st), 0);
}

static void test_query(void **state)
{
    struct t *t = *state;
    traffic(t);
    json_t *j = query(t, STATS_WDAY, "2026-02-27", "2026-03-01", NULL, "2026-03-01T12:00:00Z");
    json_t *s = json_object_get(j, "series");
    assert_int_equal(json_array_size(s), 3 * 2); /* 3 days x (tier1, tier2) */
    const char *d1 = "2026-02-27T00:00:00Z", *d3 = "2026-03-01T00:00:00Z";
    assert_int_equal(field(s, d1, "tier2", "portal_views"), 1);
    assert_int_equal(field(s, d1, "tier2", "links_minted"), 1);
    assert_int_equal(field(s, d1, "tier2", "downloads"), 3);
    assert_int_equal(field(s, d1, "tier2", "bytes"), 1800);
    assert_int_equal(field(s, d1, "tier2", "rejections"), 1);
    assert_int_equal(field(s, d1, "tier2", "visitors"), 3); /* FF client, curl client, rejected */
    assert_int_equal(field(s, d1, "tier1", "api_views"), 1);
    assert_int_equal(field(s, d1, "tier1", "visitors"), 1);
    assert_int_equal(field(s, "2026-02-28T00:00:00Z", "tier2", "downloads"), 0);
    assert_int_equal(field(s, d3, "tier2", "downloads"), 1); /* the 404 is not a download */
    assert_int_equal(field(s, d3, "tier2", "visitors"), 1);
    json_t *tk = json_object_get(j, "top_keys");
    assert_string_equal(json_string_value(json_object_get(json_array_get(tk, 0), "key")),
                        "tier2/a.parquet");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(tk, 0), "downloads")), 4);
    json_t *tr = json_object_get(j, "top_referrers");
    assert_int_equal(json_array_size(tr), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(tr, 0), "domain")),
                        "news.example.com");
    json_t *tt = json_object_get(j, "top_tokens");
    assert_string_equal(json_string_value(json_object_get(json_array_get(tt, 0), "token")),
                        "tok#00000001");
    json_decref(j);

    /* months: visitors are the sum of daily uniques; the grant filter */
    j = query(t, STATS_WMONTH, "2026-02-01", "2026-03-31", "tier2", "2026-03-01T12:00:00Z");
    s = json_object_get(j, "series");
    assert_int_equal(json_array_size(s), 2);
    assert_int_equal(field(s, "2026-02-01T00:00:00Z", "tier2", "downloads"), 3);
    assert_int_equal(field(s, "2026-03-01T00:00:00Z", "tier2", "visitors"), 1);
    assert_string_equal(json_string_value(json_object_get(j, "visitors_are")),
                        "the sum of daily unique visitors");
    json_decref(j);
    j = query(t, STATS_WYEAR, "2026-01-01", "2026-12-31", "tier2", "2026-03-01T12:00:00Z");
    assert_int_equal(
        field(json_object_get(j, "series"), "2026-01-01T00:00:00Z", "tier2", "visitors"),
        4); /* 3 on Feb 27 + 1 on Mar 1 */
    json_decref(j);

    /* the pulse: the last 5 minutes only */
    hit(t, "2026-03-01T11:58:00Z", STATS_DOWNLOAD, "tier1", "tier1/x", 200, 77, "192.0.2.50", CURL,
        "", "");
    hit(t, "2026-03-01T11:50:00Z", STATS_DOWNLOAD, "tier1", "tier1/x", 200, 1, "192.0.2.51", CURL,
        "", "");
    json_t *p = NULL;
    assert_int_equal(stats_pulse(t->st, iso("2026-03-01T12:00:00Z"), &p), 0);
    assert_int_equal(json_integer_value(json_object_get(p, "window_minutes")), 5);
    assert_int_equal(json_integer_value(json_object_get(p, "requests")), 1);
    assert_int_equal(json_integer_value(json_object_get(p, "downloads")), 1);
    assert_int_equal(json_integer_value(json_object_get(p, "bytes")), 77);
    assert_int_equal(json_integer_value(json_object_get(p, "visitors")), 1);
    json_decref(p);

    /* bad ranges */
    char err[256];
    assert_int_equal(stats_query(t->st, STATS_WDAY, "2026-03-01", "2026-02-01", NULL, 0, &j, err),
                     -ERR_INVALID);
    assert_int_equal(stats_query(t->st, STATS_W30M, "2020-01-01", "2026-02-01", NULL, 0, &j, err),
                     -ERR_INVALID);
    assert_non_null(strstr(err, "more than"));
    assert_int_equal(stats_query(t->st, STATS_WDAY, "yesterday", "2026-02-01", NULL, 0, &j, err),
                     -ERR_INVALID);
}

/* An open day: the half hour in progress is computed fresh, with what just happened. */
static void test_open_windows(void **state)
{
    struct t *t = *state;
    hit(t, "2026-03-01T09:00:01Z", STATS_DOWNLOAD, "tier2", "tier2/a", 200, 10, "192.0.2.7", FF, "",
        "");
    hit(t, "2026-03-01T09:00:02Z", STATS_API_VIEW, "tier2", "", 200, 0, "192.0.2.7", FF, "", "");
    assert_int_equal(stats_flush(t->st), 0);
    json_t *j = query(t, STATS_WDAY, "2026-03-01", "2026-03-01", "tier2", "2026-03-01T09:00:05Z");
    json_t *s = json_object_get(j, "series");
    assert_int_equal(field(s, "2026-03-01T00:00:00Z", "tier2", "downloads"), 1);
    assert_int_equal(field(s, "2026-03-01T00:00:00Z", "tier2", "api_views"), 1);
    json_decref(j);
    /* later the same day, more; the day is still right (nothing open was saved) */
    hit(t, "2026-03-01T15:00:00Z", STATS_DOWNLOAD, "tier2", "tier2/a", 200, 10, "192.0.2.8", FF, "",
        "");
    assert_int_equal(stats_flush(t->st), 0);
    j = query(t, STATS_WDAY, "2026-03-01", "2026-03-01", "tier2", "2026-03-01T15:00:05Z");
    s = json_object_get(j, "series");
    assert_int_equal(field(s, "2026-03-01T00:00:00Z", "tier2", "downloads"), 2);
    assert_int_equal(field(s, "2026-03-01T00:00:00Z", "tier2", "visitors"), 2);
    json_decref(j);
}

static bool file_has(const char *path, const char *needle)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    static char buf[1 << 22];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    return memmem(buf, n, needle, strlen(needle)) != NULL;
}

static void test_expire_and_privacy(void **state)
{
    struct t *t = *state;
    traffic(t);
    uint64_t deleted = 0;
    /* 90 days later, Feb 27's events go; Mar 1's stay */
    assert_int_equal(stats_expire(t->st, iso("2026-05-29T00:00:00Z"), &deleted), 0);
    assert_int_equal(deleted, 7);
    json_t *j = query(t, STATS_WDAY, "2026-02-27", "2026-02-28", "tier2", "2026-05-29T00:00:00Z");
    json_t *s = json_object_get(j, "series");
    assert_int_equal(json_array_size(s), 2);
    assert_int_equal(field(s, "2026-02-27T00:00:00Z", "tier2", "downloads"), 3);
    assert_int_equal(field(s, "2026-02-27T00:00:00Z", "tier2", "visitors"), 3);
    json_decref(j);
    j = query(t, STATS_WHOUR, "2026-02-27T12:00:00Z", "2026-02-27T12:59:59Z", "tier2",
              "2026-05-29T00:00:00Z");
    assert_int_equal(
        field(json_object_get(j, "series"), "2026-02-27T12:00:00Z", "tier2", "downloads"), 1);
    json_decref(j);
    /* nothing identifying on disk */
    char p[160];
    static const char *const files[] = {"meta.db", "meta.db-wal"};
    for (int i = 0; i < 2; i++) {
        snprintf(p, sizeof p, "%s/%s", t->dir, files[i]);
        assert_false(file_has(p, "192.0.2.7"));
        assert_false(file_has(p, "198.51.100.9"));
        assert_false(file_has(p, "Gecko/20100101"));
        assert_false(file_has(p, "news.example.com/x"));
    }
    snprintf(p, sizeof p, "%s/meta.db", t->dir);
    bool any = file_has(p, "news.example.com");
    snprintf(p, sizeof p, "%s/meta.db-wal", t->dir);
    /* positive control: the domain is kept, so the searches above could have found */
    assert_true(any || file_has(p, "news.example.com"));
}

static void test_buffer_limit(void **state)
{
    struct t *t = *state;
    /* the writer flushes at half; hold the drain by recording faster than it can wake:
     * record far more than the buffer in one go and count what arrived + dropped */
    for (int i = 0; i < STATS_BUFFER_MAX * 4; i++)
        hit(t, "2026-02-27T10:00:00Z", STATS_S3_CALL, "", "k", 200, 1, "192.0.2.1", CURL, "", "");
    assert_int_equal(stats_flush(t->st), 0);
    json_t *j = NULL;
    assert_int_equal(stats_pulse(t->st, iso("2026-02-27T10:01:00Z"), &j), 0);
    json_int_t got = json_integer_value(json_object_get(j, "requests"));
    json_decref(j);
    assert_int_equal((uint64_t)got + stats_dropped(t->st), STATS_BUFFER_MAX * 4);
}

static void test_config_errors(void **state)
{
    struct t *t = *state;
    struct stats *st = NULL;
    char *err = NULL;
    write_conf(t, "[stats]\ntrusted_proxies = 10.0.0.0/99\n");
    assert_int_equal(stats_open(&t->cfg, t->m, &st, &err), -ERR_CONFIG);
    assert_non_null(strstr(err, "t.conf:2: [stats] trusted_proxies"));
    free(err);
    err = NULL;
    write_conf(t, "[stats]\nraw_events_keep = 1h\n");
    assert_int_equal(stats_open(&t->cfg, t->m, &st, &err), -ERR_CONFIG);
    assert_non_null(strstr(err, "raw_events_keep"));
    free(err);
    err = NULL;
    write_conf(t, "[stats]\nenabled = off\n");
    assert_int_equal(stats_open(&t->cfg, t->m, &st, &err), 0);
    struct stats_hit h = {.kind = STATS_DOWNLOAD, .t_us = 1};
    stats_record(st, &h); /* ignored */
    assert_int_equal(stats_flush(st), 0);
    stats_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_query, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_windows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expire_and_privacy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_buffer_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
