/* test_meta.c -- meta.h on SQLite: every case of test_meta_cases.h (keys, admin key,
 * epochs, named tokens, horizons, analytics, lifecycle, leases) on a fresh data
 * directory each; and the backend choice of meta_open_cfg. test_meta_pg.c runs the
 * same cases on PostgreSQL. */
#include <ftw.h>
#include <unistd.h>

#include "test_meta_cases.h"

static int rm_one(const char *p, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb, (void)type, (void)ftw;
    return remove(p);
}

static int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    f->backend = "sqlite";
    snprintf(f->dir, sizeof f->dir, "/tmp/test_meta.XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    struct meta_config cfg = {f->dir, "sqlite", NULL};
    if (meta_open_cfg(&cfg, FX_SECRET, &f->m) < 0 || meta_gate_open(f->m, &f->mg) < 0 ||
        meta_stats_open(f->m, &f->ms) < 0)
        return -1;
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    meta_stats_close(f->ms);
    meta_gate_close(f->mg);
    meta_close(f->m);
    nftw(f->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static void test_backend_choice(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_meta.XXXXXX";
    struct meta *m = NULL;
    assert_non_null(mkdtemp(dir));
    static const struct {
        const char *backend, *dsn;
        int rc;
        const char *name;
    } rows[] = {
        {NULL, NULL, 0, "sqlite"},
        {"", NULL, 0, "sqlite"},
        {"sqlite", NULL, 0, "sqlite"},
        {"mysql", NULL, -ERR_CONFIG, NULL},
        {"postgres", NULL, -ERR_CONFIG, NULL}, /* no dsn */
        {"postgres", "", -ERR_CONFIG, NULL},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct meta_config cfg = {dir, rows[i].backend, rows[i].dsn};
        print_message("row %zu: %s\n", i, rows[i].backend ? rows[i].backend : "(null)");
        m = NULL;
        assert_int_equal(meta_open_cfg(&cfg, FX_SECRET, &m), rows[i].rc);
        if (rows[i].name) {
            assert_string_equal(meta_backend_name(m), rows[i].name);
            meta_close(m);
        } else {
            assert_null(m);
        }
    }
    nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

#define REG(c) cmocka_unit_test_setup_teardown(c, fx_setup, fx_teardown),

int main(void)
{
    const struct CMUnitTest tests[] = {META_CASES(REG) cmocka_unit_test(test_backend_choice)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
