/* test_meta_cases.h -- the cases every metadata backend must pass, written once
 * against meta.h and run by test_meta.c (SQLite) and test_meta_pg.c (PostgreSQL).
 * A case gets a fixture with an open struct meta, a gate and a stats connection on
 * an empty database. The includer defines fx_setup()/fx_teardown() and the
 * META_CASES list's registration. */
#ifndef TEST_META_CASES_H
#define TEST_META_CASES_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/crypto.h"
#include "meta/meta.h"

struct fx {
    const char *backend; /* "sqlite" or "postgres" */
    char dir[128];       /* a fresh data directory */
    char dsn[512];       /* postgres: a fresh database */
    struct meta *m;
    struct meta_gate *mg;
    struct meta_stats *ms;
};

static const uint8_t FX_SECRET[META_SECRET_LEN] = {7, 7, 7};

/* ---- access keys, admin key ---- */

static int count_keys(void *ctx, const struct meta_key *k)
{
    (void)k;
    (*(int *)ctx)++;
    return 0;
}

static void case_keys(void **state)
{
    struct fx *f = *state;
    struct meta_key k1, k2;
    char s1[META_SECRET_KEY_LEN + 1], s2[META_SECRET_KEY_LEN + 1], got[64];
    assert_int_equal(meta_key_create(f->m, "s3", "first", &k1, s1), 0);
    assert_int_equal(meta_key_create(f->m, "portal", "sëcond \"quoted\"", &k2, s2), 0);
    assert_int_equal(strlen(k1.akid), META_AKID_LEN);
    assert_int_equal(strlen(s1), META_SECRET_KEY_LEN);
    for (int i = 0; i < 2; i++) { /* the second read may come from the cache */
        assert_int_equal(meta_key_secret(f->m, str_c(k1.akid), got, sizeof got), 0);
        assert_string_equal(got, s1);
    }
    int n = 0;
    assert_int_equal(meta_key_list(f->m, count_keys, &n), 0);
    assert_int_equal(n, 2);
    uint64_t g0 = meta_key_secret(f->m, str_c(k2.akid), got, sizeof got) == 0 ? 1 : 0;
    assert_int_equal(g0, 1);
    assert_int_equal(meta_key_delete(f->m, str_c(k2.akid)), 0);
    /* deleted: the cached copy is gone at once in this process */
    assert_int_equal(meta_key_secret(f->m, str_c(k2.akid), got, sizeof got),
                     -ERR_INVALID_ACCESS_KEY);
    assert_int_equal(meta_key_delete(f->m, str_c(k2.akid)), -ERR_NOT_FOUND);
    assert_int_equal(meta_key_secret(f->m, STR_LIT("TGAAAAAAAAAAAAAAAAAA"), got, sizeof got),
                     -ERR_INVALID_ACCESS_KEY);
    assert_int_equal(meta_key_secret(f->m, STR_LIT("short"), got, sizeof got),
                     -ERR_INVALID_ACCESS_KEY);
    /* peer bytes that are not text: refused like any unknown key, not a 500 */
    assert_int_equal(meta_key_secret(f->m,
                                     str_n("TG\xff\xfe"
                                           "AAAAAAAAAAAAAAA\0",
                                           20),
                                     got, sizeof got),
                     -ERR_INVALID_ACCESS_KEY);
    assert_int_equal(meta_key_delete(f->m, str_n("TG\xff\0", 4)), -ERR_NOT_FOUND);
    n = 0;
    assert_int_equal(meta_key_list(f->m, count_keys, &n), 0);
    assert_int_equal(n, 1);
}

static void case_admin_key(void **state)
{
    struct fx *f = *state;
    char a1[META_ADMIN_KEY_LEN + 1], a2[META_ADMIN_KEY_LEN + 1];
    assert_false(meta_admin_key_check(f->m, STR_LIT("tga_nothing")));
    assert_int_equal(meta_admin_key_create(f->m, a1), 0);
    assert_true(meta_admin_key_check(f->m, str_c(a1)));
    assert_false(meta_admin_key_check(f->m, STR_LIT("tga_wrong")));
    assert_int_equal(meta_admin_key_create(f->m, a2), 0);
    assert_false(meta_admin_key_check(f->m, str_c(a1))); /* replaced */
    assert_true(meta_admin_key_check(f->m, str_c(a2)));
}

/* ---- gate ---- */

static void case_epochs(void **state)
{
    struct fx *f = *state;
    uint64_t e = 99;
    assert_int_equal(meta_epoch_get(f->mg, "tier1", &e), 0);
    assert_int_equal(e, 0);
    assert_int_equal(meta_epoch_get(f->mg, "tier1", &e), 0); /* cached now */
    assert_int_equal(meta_epoch_bump(f->mg, "tier1", 1000, &e), 0);
    assert_int_equal(e, 1);
    assert_int_equal(meta_epoch_get(f->mg, "tier1", &e), 0); /* the bump retired the entry */
    assert_int_equal(e, 1);
    assert_int_equal(meta_epoch_bump(f->mg, "tier1", 1001, &e), 0);
    assert_int_equal(e, 2);
    assert_int_equal(meta_epoch_get(f->mg, "tier1", &e), 0);
    assert_int_equal(e, 2);
    assert_int_equal(meta_epoch_get(f->mg, "tier2", &e), 0);
    assert_int_equal(e, 0);
}

static int64_t named_add(struct fx *f, const char *secret, const char *label, int64_t max_uses,
                         int64_t max_downloads, int64_t expires_at)
{
    uint8_t h[32];
    struct meta_named n = {0};
    int64_t id = -1;
    crypto_sha256(secret, strlen(secret), h);
    snprintf(n.grant, sizeof n.grant, "tier1");
    snprintf(n.label, sizeof n.label, "%s", label);
    n.max_uses = max_uses;
    n.max_downloads = max_downloads;
    n.created = 1000;
    n.expires_at = expires_at;
    assert_int_equal(meta_named_insert(f->mg, h, &n, &id), 0);
    return id;
}

struct named_seen {
    int n;
    int64_t ids[8];
};
static int named_collect(void *ctx, const struct meta_named *n)
{
    struct named_seen *s = ctx;
    if (s->n < 8)
        s->ids[s->n] = n->id;
    s->n++;
    return 0;
}

static void case_named(void **state)
{
    struct fx *f = *state;
    struct meta_named n;
    uint8_t h[32];
    int64_t a = named_add(f, "secret-a", "Alice's ünïcode label", 2, 0, 0);
    int64_t b = named_add(f, "secret-b", "bob", 0, 1, 5000);
    assert_true(b > a);
    crypto_sha256("secret-a", 8, h);
    assert_int_equal(meta_named_by_hash(f->mg, h, &n), 0);
    assert_int_equal(n.id, a);
    assert_string_equal(n.grant, "tier1");
    assert_string_equal(n.label, "Alice's ünïcode label");
    assert_int_equal(n.max_uses, 2);
    assert_int_equal(n.revoked_at, 0);
    assert_int_equal(n.last_used, 0);
    /* a duplicate secret is refused */
    struct meta_named dup = n;
    int64_t id;
    assert_int_not_equal(meta_named_insert(f->mg, h, &dup, &id), 0);
    crypto_sha256("nope", 4, h);
    assert_int_equal(meta_named_by_hash(f->mg, h, &n), -ERR_NOT_FOUND);
    assert_int_equal(meta_named_by_id(f->mg, 424242, &n), -ERR_NOT_FOUND);
    /* uses: limit 2 */
    assert_int_equal(meta_named_charge(f->mg, a, false, 2000), 0);
    assert_int_equal(meta_named_charge(f->mg, a, false, 2001), 0);
    assert_int_equal(meta_named_charge(f->mg, a, false, 2002), -ERR_ACCESS_DENIED);
    assert_int_equal(meta_named_charge(f->mg, a, true, 2003), 0); /* downloads unlimited */
    assert_int_equal(meta_named_by_id(f->mg, a, &n), 0);
    assert_int_equal(n.uses, 2);
    assert_int_equal(n.downloads, 1);
    assert_int_equal(n.last_used, 2003);
    /* b: one download, expires at 5000 */
    assert_int_equal(meta_named_charge(f->mg, b, false, 5000), -ERR_ACCESS_DENIED);
    assert_int_equal(meta_named_charge(f->mg, b, true, 4999), 0);
    assert_int_equal(meta_named_charge(f->mg, b, true, 4999), -ERR_ACCESS_DENIED);
    assert_int_equal(meta_named_charge(f->mg, b, false, 4999), 0);
    /* revocation */
    assert_int_equal(meta_named_revoke(f->mg, b, 4000), 0);
    assert_int_equal(meta_named_revoke(f->mg, b, 4001), -ERR_NOT_FOUND);
    assert_int_equal(meta_named_revoke(f->mg, 424242, 4001), -ERR_NOT_FOUND);
    assert_int_equal(meta_named_charge(f->mg, b, false, 4002), -ERR_ACCESS_DENIED);
    assert_int_equal(meta_named_by_id(f->mg, b, &n), 0);
    assert_int_equal(n.revoked_at, 4000);
    assert_int_equal(n.expires_at, 5000);
    assert_int_equal(meta_named_charge(f->mg, 424242, false, 1), -ERR_ACCESS_DENIED);
    struct named_seen s = {0};
    assert_int_equal(meta_named_list(f->mg, named_collect, &s), 0);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.ids[0], a);
    assert_int_equal(s.ids[1], b);
}

/* The one-statement portal open: the same refusals as by_hash + charge. */
static void case_named_use(void **state)
{
    struct fx *f = *state;
    struct meta_named n;
    uint8_t ha[32], hb[32], hx[32];
    int64_t a = named_add(f, "use-a", "a", 2, 0, 0);
    int64_t b = named_add(f, "use-b", "b", 0, 0, 3000);
    crypto_sha256("use-a", 5, ha);
    crypto_sha256("use-b", 5, hb);
    crypto_sha256("use-x", 5, hx);
    static const struct {
        int which; /* 0: a, 1: b, 2: unknown */
        const char *grant;
        int64_t now;
        int rc;
        int64_t uses_after;
    } rows[] = {
        {0, "tier1", 2000, 0, 1},
        {0, "tier2", 2000, -ERR_ACCESS_DENIED, 0}, /* another grant's token */
        {0, "tier1", 2001, 0, 2},
        {0, "tier1", 2002, -ERR_ACCESS_DENIED, 0}, /* max_uses 2 */
        {1, "tier1", 2999, 0, 1},
        {1, "tier1", 3000, -ERR_ACCESS_DENIED, 0}, /* expired */
        {2, "tier1", 1, -ERR_ACCESS_DENIED, 0},    /* unknown */
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const uint8_t *h = rows[i].which == 0 ? ha : rows[i].which == 1 ? hb : hx;
        print_message("row %zu\n", i);
        memset(&n, 0, sizeof n);
        assert_int_equal(meta_named_use(f->mg, h, rows[i].grant, rows[i].now, &n), rows[i].rc);
        if (rows[i].rc == 0) {
            assert_int_equal(n.id, rows[i].which == 0 ? a : b);
            assert_int_equal(n.uses, rows[i].uses_after);
            assert_int_equal(n.last_used, rows[i].now);
            assert_string_equal(n.grant, "tier1");
        }
    }
    assert_int_equal(meta_named_revoke(f->mg, b, 2500), 0);
    assert_int_equal(meta_named_use(f->mg, hb, "tier1", 2600, &n), -ERR_ACCESS_DENIED);
    assert_int_equal(meta_named_by_id(f->mg, b, &n), 0);
    assert_int_equal(n.uses, 1);
}

static void case_horizons(void **state)
{
    struct fx *f = *state;
    static const char *const odd = "dir/quote\"back\\slash {brace},comma ü.parquet";
    const struct meta_horizon h[] = {
        {"tier1/a.parquet", 100}, {"tier1/a.parquet", 50}, {"tier1/b.parquet", 10}, {odd, 7}};
    int64_t v = -1;
    assert_int_equal(meta_horizon_raise(f->mg, "tollgate", h, 4), 0);
    assert_int_equal(meta_horizon_get(f->mg, "tollgate", STR_LIT("tier1/a.parquet"), &v), 0);
    assert_int_equal(v, 100);
    assert_int_equal(meta_horizon_get(f->mg, "tollgate", str_c(odd), &v), 0);
    assert_int_equal(v, 7);
    const struct meta_horizon lower[] = {{"tier1/a.parquet", 60}, {"tier1/b.parquet", 20}};
    assert_int_equal(meta_horizon_raise(f->mg, "tollgate", lower, 2), 0);
    assert_int_equal(meta_horizon_get(f->mg, "tollgate", STR_LIT("tier1/a.parquet"), &v), 0);
    assert_int_equal(v, 100); /* never lowered */
    assert_int_equal(meta_horizon_get(f->mg, "tollgate", STR_LIT("tier1/b.parquet"), &v), 0);
    assert_int_equal(v, 20);
    assert_int_equal(meta_horizon_get(f->mg, "other", STR_LIT("tier1/a.parquet"), &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(meta_horizon_get(f->mg, "tollgate", STR_LIT("none"), &v), 0);
    assert_int_equal(v, 0);
    v = -1;
    assert_int_equal(meta_horizon_get(f->mg, "tollgate",
                                      str_n("bad\xff\0"
                                            "x",
                                            6),
                                      &v),
                     0);
    assert_int_equal(v, 0);
    assert_int_equal(meta_horizon_raise(f->mg, "tollgate", NULL, 0), 0);
}

/* ---- analytics ---- */

static const uint8_t VIS_A[16] = {1, 2, 3}, VIS_B[16] = {0xff, 0, 0x5c, 0x22};

struct scan_seen {
    int n, stop_at;
    int64_t t[8];
    char keys[8][32];
    bool vis_ok;
};
static int scan_collect(void *ctx, const struct meta_event *e)
{
    struct scan_seen *s = ctx;
    if (s->n < 8) {
        s->t[s->n] = e->t_us;
        snprintf(s->keys[s->n], sizeof s->keys[0], "%s", e->key);
    }
    if (e->t_us == 3000 &&
        !(e->visitor && memcmp(e->visitor, VIS_B, 16) == 0 && e->range &&
          e->bytes == 5000000000ull && e->status == 206 &&
          strcmp(e->referrer, "example.org") == 0 && strcmp(e->family, "Firefox") == 0))
        s->vis_ok = false;
    s->n++;
    return s->stop_at && s->n >= s->stop_at ? -ERR_INTERNAL : 0;
}

static int visitors_collect(void *ctx, const char *grant, uint64_t n)
{
    uint64_t *v = ctx;
    if (strcmp(grant, "tier1") == 0)
        v[0] = n;
    else if (strcmp(grant, "tier2") == 0)
        v[1] = n;
    return 0;
}

static void case_stats(void **state)
{
    struct fx *f = *state;
    const struct meta_event ev[] = {
        {2000, 1, 200, "tier1", "tok#1", "k2", 0, false, VIS_A, "Chrome", "Linux", "desktop", "",
         ""},
        {1000, 1, 200, "tier1", "tok#1", "k1", 0, false, VIS_A, "Chrome", "Linux", "desktop", "",
         ""},
        {3000, 3, 206, "tier1", "tok#2", "k3", 5000000000ull, true, VIS_B, "Firefox", "Windows",
         "desktop", "example.org", "detail"},
        {4000, 2, 403, "tier2", "", "", 0, false, NULL, NULL, NULL, NULL, NULL, NULL},
    };
    int64_t first;
    assert_int_equal(meta_stats_first(f->ms, &first), -ERR_NOT_FOUND);
    assert_int_equal(meta_stats_insert(f->ms, ev, 4), 0);
    assert_int_equal(meta_stats_insert(f->ms, ev, 0), 0);
    assert_int_equal(meta_stats_first(f->ms, &first), 0);
    assert_int_equal(first, 1000);
    struct scan_seen s = {.vis_ok = true};
    assert_int_equal(meta_stats_scan(f->ms, 1000, 4000, scan_collect, &s), 0);
    assert_int_equal(s.n, 3); /* [from, to) */
    assert_int_equal(s.t[0], 1000);
    assert_int_equal(s.t[1], 2000);
    assert_int_equal(s.t[2], 3000);
    assert_string_equal(s.keys[0], "k1");
    assert_true(s.vis_ok);
    struct scan_seen stop = {.stop_at = 2, .vis_ok = true};
    assert_int_equal(meta_stats_scan(f->ms, 0, 10000, scan_collect, &stop), -ERR_INTERNAL);
    assert_int_equal(stop.n, 2);
    uint64_t vis[2] = {0, 0};
    assert_int_equal(meta_stats_visitors(f->ms, 0, 10000, visitors_collect, vis), 0);
    assert_int_equal(vis[0], 2);
    assert_int_equal(vis[1], 1); /* the zero hash of an event without one */
    uint64_t p[4];
    assert_int_equal(meta_stats_pulse(f->ms, 0, 10000, 3, 2, p), 0);
    assert_int_equal(p[0], 3); /* requests: not kind 2 */
    assert_int_equal(p[1], 1); /* downloads: kind 3 */
    assert_int_equal(p[2], 5000000000ull);
    assert_int_equal(p[3], 3);
    assert_int_equal(meta_stats_pulse(f->ms, 5000, 6000, 3, 2, p), 0);
    assert_int_equal(p[0] + p[1] + p[2] + p[3], 0);
    /* windows: the first put wins */
    char *json = NULL;
    assert_int_equal(meta_stats_window_get(f->ms, 1, 3600, &json), -ERR_NOT_FOUND);
    assert_int_equal(meta_stats_window_put(f->ms, 1, 3600, "{\"n\":1,\"s\":\"ü\"}"), 0);
    assert_int_equal(meta_stats_window_put(f->ms, 1, 3600, "{\"n\":2}"), 0);
    assert_int_equal(meta_stats_window_get(f->ms, 1, 3600, &json), 0);
    assert_string_equal(json, "{\"n\":1,\"s\":\"ü\"}");
    free(json);
    uint64_t del = 0;
    assert_int_equal(meta_stats_delete_before(f->ms, 3000, &del), 0);
    assert_int_equal(del, 2);
    assert_int_equal(meta_stats_first(f->ms, &first), 0);
    assert_int_equal(first, 3000);
}

static int count_events(void *ctx, const struct meta_event *e)
{
    (void)e;
    (*(size_t *)ctx)++;
    return 0;
}

/* A batch larger than one statement's worth of rows (PostgreSQL splits it). */
static void case_stats_big_batch(void **state)
{
    struct fx *f = *state;
    enum { N = 2500 };
    struct meta_event *ev = calloc(N, sizeof *ev);
    assert_non_null(ev);
    for (size_t i = 0; i < N; i++)
        ev[i] = (struct meta_event){(int64_t)i, 1,     200, "tier1", "tok", "key", i,
                                    false,      VIS_A, "f", "o",     "d",   "r",   ""};
    assert_int_equal(meta_stats_insert(f->ms, ev, N), 0);
    free(ev);
    size_t n = 0;
    assert_int_equal(meta_stats_scan(f->ms, 0, N, count_events, &n), 0);
    assert_int_equal(n, N);
}

/* ---- lifecycle ---- */

static int bucket_collect(void *ctx, const char *b)
{
    char *out = ctx;
    strcat(out, b);
    strcat(out, ";");
    return 0;
}

static void case_lifecycle(void **state)
{
    struct fx *f = *state;
    struct meta_lc_rule r[] = {{"keep-tmp", true, (char *)"tmp/", 1, 0},
                               {"mpu", false, (char *)"", 0, 3},
                               {"ü \"odd\"", true, (char *)"a\\b/", 30, 7}};
    struct meta_lc_rule *got = NULL;
    size_t n = 0;
    assert_int_equal(meta_lc_rules_get(f->m, "data", &got, &n), -ERR_NOT_FOUND);
    assert_int_equal(meta_lc_rules_put(f->m, "data", r, 3), 0);
    assert_int_equal(meta_lc_rules_put(f->m, "Zeta", r, 1), 0);
    assert_int_equal(meta_lc_rules_put(f->m, "alpha", r + 1, 1), 0);
    assert_int_equal(meta_lc_rules_get(f->m, "data", &got, &n), 0);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(got[i].id, r[i].id);
        assert_string_equal(got[i].prefix, r[i].prefix);
        assert_int_equal(got[i].enabled, r[i].enabled);
        assert_int_equal(got[i].expire_days, r[i].expire_days);
        assert_int_equal(got[i].abort_days, r[i].abort_days);
    }
    meta_lc_rules_free(got, n);
    /* replaced as a whole */
    assert_int_equal(meta_lc_rules_put(f->m, "data", r + 2, 1), 0);
    assert_int_equal(meta_lc_rules_get(f->m, "data", &got, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(got[0].id, r[2].id);
    meta_lc_rules_free(got, n);
    char list[128] = "";
    assert_int_equal(meta_lc_buckets(f->m, bucket_collect, list), 0);
    assert_string_equal(list, "Zeta;alpha;data;"); /* byte order */
    assert_int_equal(meta_lc_rules_delete(f->m, "data"), 0);
    assert_int_equal(meta_lc_rules_delete(f->m, "data"), 0);
    assert_int_equal(meta_lc_rules_get(f->m, "data", &got, &n), -ERR_NOT_FOUND);
    assert_int_equal(meta_lc_rules_put(f->m, "data", r, META_LC_RULES_MAX + 1), -ERR_INVALID);
    /* runs */
    struct meta_lc_run run, tot;
    assert_int_equal(meta_lc_run_last(f->m, &run), -ERR_NOT_FOUND);
    assert_int_equal(meta_lc_run_totals(f->m, &tot), -ERR_NOT_FOUND);
    struct meta_lc_run r1 = {500, 1, 2, 3, 4, 5, 6000000000ull, 7};
    struct meta_lc_run r2 = {400, 10, 20, 30, 40, 50, 60, 70}; /* the clock went back */
    assert_int_equal(meta_lc_run_record(f->m, &r1), 0);
    assert_int_equal(meta_lc_run_record(f->m, &r2), 0);
    assert_int_equal(meta_lc_run_last(f->m, &run), 0);
    assert_int_equal(run.ran_at, 400);
    assert_int_equal(run.retired, 10);
    assert_int_equal(meta_lc_run_totals(f->m, &tot), 0);
    assert_int_equal(tot.ran_at, 500);
    assert_int_equal(tot.retired, 11);
    assert_int_equal(tot.grants_changed, 77);
    assert_int_equal(tot.blob_bytes, 6000000060ull);
}

/* ---- leases (time moves through `now`, never by sleeping) ---- */

static void case_leases(void **state)
{
    struct fx *f = *state;
    bool got = false;
    assert_int_equal(meta_lease_try(f->m, "lifecycle", "node-a", 1000, 60, &got), 0);
    assert_true(got);
    assert_int_equal(meta_lease_try(f->m, "lifecycle", "node-b", 1001, 60, &got), 0);
    assert_false(got);
    assert_int_equal(meta_lease_try(f->m, "inbox", "node-b", 1001, 60, &got), 0);
    assert_true(got); /* another name is another lease */
    assert_int_equal(meta_lease_try(f->m, "lifecycle", "node-a", 1030, 60, &got), 0);
    assert_true(got); /* ours: extended to 1090 */
    assert_int_equal(meta_lease_try(f->m, "lifecycle", "node-b", 1089, 60, &got), 0);
    assert_false(got);
    assert_int_equal(meta_lease_try(f->m, "lifecycle", "node-b", 1090, 60, &got), 0);
    assert_true(got); /* expired at 1090 */
    assert_int_equal(meta_lease_try(f->m, "lifecycle", "node-a", 1091, 60, &got), 0);
    assert_false(got);
    assert_int_equal(meta_lease_release(f->m, "lifecycle", "node-a"), -ERR_NOT_FOUND);
    assert_int_equal(meta_lease_release(f->m, "lifecycle", "node-b"), 0);
    assert_int_equal(meta_lease_release(f->m, "lifecycle", "node-b"), -ERR_NOT_FOUND);
    assert_int_equal(meta_lease_try(f->m, "lifecycle", "node-a", 1092, 60, &got), 0);
    assert_true(got);
    assert_int_equal(meta_lease_try(f->m, "", "node-a", 1, 60, &got), -ERR_INVALID);
    assert_int_equal(meta_lease_try(f->m, "x", "node-a", 1, 0, &got), -ERR_INVALID);
    assert_int_equal(meta_lease_try(f->m, "x", "node-a", 1, INT64_MAX, &got), -ERR_INVALID);
    char longname[META_LEASE_NAME_MAX + 1];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_int_equal(meta_lease_try(f->m, longname, "node-a", 1, 60, &got), -ERR_TOO_LONG);
}

/* The registration list: X(case) for each. */
#define META_CASES(X)                                                                              \
    X(case_keys)                                                                                   \
    X(case_admin_key)                                                                              \
    X(case_epochs)                                                                                 \
    X(case_named)                                                                                  \
    X(case_named_use)                                                                              \
    X(case_horizons)                                                                               \
    X(case_stats)                                                                                  \
    X(case_stats_big_batch)                                                                        \
    X(case_lifecycle)                                                                              \
    X(case_leases)

#endif
