/* test_lifecycle_pass.c -- the lifecycle pass against a real store, meta and gate in a
 * fresh directory (under ASan+UBSan): plan changes nothing; apply retires a daily
 * folder as one unit and reports the grant changed; a retired unit waits for the
 * settle time and for its link horizon, then is deleted; a key PUT again after its
 * retirement is live and never deleted; a [lifecycle] rule retires then deletes; an S3
 * rule in meta reaches its own bucket; the run is recorded. Times are passed to the
 * pass explicitly (its `now`), the store's own clock is the real one. */
#include "test_store_helpers.h"

#include "gate/gate.h"
#include "lifecycle/lifecycle.h"
#include "meta/meta.h"

struct t {
    char dir[64], conf[128];
    uint8_t secret[32];
    struct cfg cfg;
    struct meta *m;
    struct store *st;
    struct gate *g;
    struct lifecycle *lc;
};

static const char CONF[] = "[grant tier2]\n"
                           "prefix = tier2/\n"
                           "keep_daily = 2\n"
                           "[lifecycle scratch]\n"
                           "prefix = scratch/\n"
                           "expire_after = 1\n";

static int setup(void **state)
{
    struct t *t = calloc(1, sizeof *t);
    char *err = NULL;
    assert_non_null(t);
    snprintf(t->dir, sizeof t->dir, "/tmp/test_lc.XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    snprintf(t->conf, sizeof t->conf, "%s/t.conf", t->dir);
    FILE *f = fopen(t->conf, "w");
    assert_non_null(f);
    fputs(CONF, f);
    fclose(f);
    for (int i = 0; i < 32; i++)
        t->secret[i] = (uint8_t)(i * 7);
    struct gate_config gc = {"tollgate", "http://127.0.0.1:9", "us-east-1", NULL};
    if (cfg_load(t->conf, &t->cfg, &err) < 0 || meta_open(t->dir, t->secret, &t->m) < 0 ||
        store_open(t->dir, &t->st) < 0 ||
        gate_open(&t->cfg, &gc, t->m, t->secret, &t->g, &err) < 0 ||
        lifecycle_open(&t->cfg, t->st, t->m, t->g, "tollgate", &t->lc, &err) < 0) {
        fprintf(stderr, "setup: %s\n", err ? err : "?");
        free(err);
        return -1;
    }
    assert_int_equal(store_bucket_create(t->st, STR_LIT("tollgate")), 0);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct t *t = *state;
    lifecycle_close(t->lc);
    gate_close(t->g);
    store_close(t->st);
    meta_close(t->m);
    cfg_release(&t->cfg);
    rm_rf(t->dir);
    free(t);
    return 0;
}

struct seen {
    unsigned n[4];
    char keys[32][96];
    unsigned nk;
    char changed[64];
};
static int on_act(void *ctx, const struct lifecycle_action *a)
{
    struct seen *s = ctx;
    s->n[a->act]++;
    if (s->nk < 32)
        snprintf(s->keys[s->nk++], sizeof s->keys[0], "%s %s", lifecycle_act_name(a->act), a->key);
    return 0;
}
static void on_changed(void *ctx, const char *grant)
{
    struct seen *s = ctx;
    strncat(s->changed, grant, sizeof s->changed - strlen(s->changed) - 1);
    strncat(s->changed, ";", sizeof s->changed - strlen(s->changed) - 1);
}

static bool exists(struct t *t, const char *bucket, const char *key, int64_t *retired)
{
    struct store_obj_info info = {0};
    int rc = store_obj_head(t->st, str_c(bucket), str_c(key), &info);
    if (retired)
        *retired = info.retired_us;
    store_obj_info_release(&info);
    return rc == 0;
}

#define D1 "tier2/daily/2026-03-01/"
#define D2 "tier2/daily/2026-03-02/"
#define D3 "tier2/daily/2026-03-03/"
#define D4 "tier2/daily/2026-03-04/"

static void test_pass(void **state)
{
    struct t *t = *state;
    const char *const days[] = {D1, D2, D3, D4};
    char k[128];
    for (size_t i = 0; i < 4; i++) {
        snprintf(k, sizeof k, "%sf.parquet", days[i]);
        assert_int_equal(put_str(t->st, "tollgate", k, days[i]), 0);
        snprintf(k, sizeof k, "%smanifest.json", days[i]);
        assert_int_equal(put_str(t->st, "tollgate", k, "{}"), 0);
    }
    assert_int_equal(put_str(t->st, "tollgate", "inbox/tier2/2026-03-05.parquet", "x"), 0);
    int64_t now = tg_now();

    /* plan: the two oldest days (object + manifest), nothing changed */
    struct seen s = {0};
    assert_int_equal(lifecycle_plan(t->lc, now, on_act, &s), 0);
    assert_int_equal(s.n[LC_RETIRE], 4);
    assert_int_equal(s.n[LC_DELETE] + s.n[LC_WAIT] + s.n[LC_ABORT_UPLOAD], 0);
    int64_t r = 0;
    assert_true(exists(t, "tollgate", D1 "f.parquet", &r));
    assert_int_equal(r, 0);
    struct lifecycle_report rep;
    assert_int_equal(lifecycle_last_run(t->lc, &rep), -ERR_NOT_FOUND);

    /* a link to day 1 valid 100 s */
    struct meta_gate *mg = NULL;
    assert_int_equal(meta_gate_open(t->m, &mg), 0);
    struct meta_horizon h = {D1 "f.parquet", now + 100};
    assert_int_equal(meta_horizon_raise(mg, "tollgate", &h, 1), 0);
    meta_gate_close(mg);

    /* apply: retired, grant changed, nothing deleted in the same pass */
    memset(&s, 0, sizeof s);
    assert_int_equal(lifecycle_apply(t->lc, now, on_act, on_changed, &s, &rep), 0);
    assert_int_equal(rep.retired, 4);
    assert_int_equal(rep.deleted, 0);
    assert_int_equal(rep.grants_changed, 1);
    assert_string_equal(s.changed, "tier2;");
    assert_true(exists(t, "tollgate", D1 "manifest.json", &r));
    assert_true(r != 0);
    assert_true(exists(t, "tollgate", D3 "f.parquet", &r));
    assert_int_equal(r, 0);
    assert_true(exists(t, "tollgate", "inbox/tier2/2026-03-05.parquet", NULL));

    /* too soon after the retirement: everything waits */
    memset(&s, 0, sizeof s);
    assert_int_equal(lifecycle_apply(t->lc, now + LIFECYCLE_SETTLE_S - 1, on_act, NULL, &s, &rep),
                     0);
    assert_int_equal(rep.deleted, 0);
    assert_int_equal(rep.waiting, 4);

    /* settled: day 2 (no link) goes; day 1 (object and manifest, one unit) waits */
    memset(&s, 0, sizeof s);
    assert_int_equal(lifecycle_apply(t->lc, now + 20, on_act, on_changed, &s, &rep), 0);
    assert_int_equal(rep.deleted, 2);
    assert_int_equal(rep.waiting, 2);
    assert_string_equal(s.changed, ""); /* deleting retired objects changes no listing */
    assert_false(exists(t, "tollgate", D2 "f.parquet", NULL));
    assert_false(exists(t, "tollgate", D2 "manifest.json", NULL));
    assert_true(exists(t, "tollgate", D1 "f.parquet", NULL));
    assert_true(exists(t, "tollgate", D1 "manifest.json", NULL));

    /* one second before the horizon: still there; at the horizon: gone */
    assert_int_equal(lifecycle_apply(t->lc, now + 99, NULL, NULL, NULL, &rep), 0);
    assert_int_equal(rep.deleted, 0);
    assert_int_equal(lifecycle_apply(t->lc, now + 100, NULL, NULL, NULL, &rep), 0);
    assert_int_equal(rep.deleted, 2);
    assert_false(exists(t, "tollgate", D1 "manifest.json", NULL));
    assert_true(exists(t, "tollgate", D3 "f.parquet", NULL));
    assert_true(exists(t, "tollgate", D4 "manifest.json", NULL));
    assert_int_equal(lifecycle_last_run(t->lc, &rep), 0);
    assert_int_equal(rep.ran_at, now + 100);
    assert_int_equal(rep.deleted, 2);
}

static void test_rules_and_reput(void **state)
{
    struct t *t = *state;
    assert_int_equal(put_str(t->st, "tollgate", "scratch/a", "a"), 0);
    assert_int_equal(put_str(t->st, "tollgate", "scratch/b", "b"), 0);
    int64_t now = tg_now() + 86400; /* a day later: both expired */
    struct lifecycle_report rep;
    assert_int_equal(lifecycle_apply(t->lc, now, NULL, NULL, NULL, &rep), 0);
    assert_int_equal(rep.retired, 2);
    assert_int_equal(rep.grants_changed, 0);
    /* b is PUT again: live; the next pass deletes a but only retires the new b anew
     * (expired again by then), it never deletes what was live when listed */
    assert_int_equal(put_str(t->st, "tollgate", "scratch/b", "b2"), 0);
    int64_t r = -1;
    assert_true(exists(t, "tollgate", "scratch/b", &r));
    assert_int_equal(r, 0);
    assert_int_equal(lifecycle_apply(t->lc, now + 60, NULL, NULL, NULL, &rep), 0);
    assert_int_equal(rep.deleted, 1);
    assert_int_equal(rep.retired, 1);
    assert_false(exists(t, "tollgate", "scratch/a", NULL));
    assert_true(exists(t, "tollgate", "scratch/b", &r));
    assert_true(r != 0);
    size_t len = 0;
    char *body = get_all(t->st, "tollgate", "scratch/b", &len);
    assert_string_equal(body, "b2");
    free(body);

    /* an S3 rule in meta applies to its own bucket only */
    assert_int_equal(store_bucket_create(t->st, STR_LIT("other")), 0);
    assert_int_equal(put_str(t->st, "other", "tmp/x", "x"), 0);
    assert_int_equal(put_str(t->st, "other", "keep/y", "y"), 0);
    assert_int_equal(put_str(t->st, "tollgate", "tmp/z", "z"), 0);
    struct meta_lc_rule rule = {"t1", true, (char *)"tmp/", 1, 0};
    assert_int_equal(meta_lc_rules_put(t->m, "other", &rule, 1), 0);
    struct seen s = {0};
    assert_int_equal(lifecycle_plan(t->lc, tg_now() + 2 * 86400, on_act, &s), 0);
    assert_int_equal(s.n[LC_RETIRE], 1);
    assert_string_equal(s.keys[s.nk - 1], "retire tmp/x"); /* the data bucket comes first */
    /* a disabled rule is not applied */
    rule.enabled = false;
    assert_int_equal(meta_lc_rules_put(t->m, "other", &rule, 1), 0);
    memset(&s, 0, sizeof s);
    assert_int_equal(lifecycle_plan(t->lc, tg_now() + 2 * 86400, on_act, &s), 0);
    assert_int_equal(s.n[LC_RETIRE], 0);
}

static void test_config_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *conf, *err;
    } cases[] = {
        {"[lifecycle x]\nexpire_after = 3\n", "prefix is required"},
        {"[lifecycle x]\nprefix = a/\n", "a rule needs expire_after, keep_newest or"},
        {"[lifecycle x]\nprefix = a/\nexpire_after = soon\n", "expected a number of days"},
        {"[lifecycle x]\nprefix = a/\nkeep_newest = 0\n", "must be between 1 and"},
        {"[lifecycle x]\nprefix = a/\nexpire_after = 1\nbogus = 1\n", "unknown key 'bogus'"},
        {"[lifecycle]\nprefix = a/\n", "a rule needs a name"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char dir[] = "/tmp/test_lc_cfg.XXXXXX", path[64];
        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/c.conf", dir);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(cases[i].conf, f);
        fclose(f);
        struct cfg c;
        char *err = NULL;
        struct lifecycle *lc = NULL;
        assert_int_equal(cfg_load(path, &c, &err), 0);
        print_message("row %zu\n", i);
        assert_int_equal(lifecycle_open(&c, NULL, NULL, NULL, "tollgate", &lc, &err), -ERR_CONFIG);
        assert_non_null(err);
        assert_non_null(strstr(err, cases[i].err));
        free(err);
        cfg_release(&c);
        rm_rf(dir);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pass, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rules_and_reput, setup, teardown),
        cmocka_unit_test(test_config_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
