/* test_meta_pg.c -- meta.h on PostgreSQL. The group setup starts a throwaway
 * cluster (tests/pg/pgctl.sh, from the repo root, where tests/run.sh runs us) and
 * the teardown stops it by its PID; each test gets a fresh database.
 *
 * Runs every case of test_meta_cases.h (the same ones test_meta.c runs on SQLite),
 * then what only a shared database has: migrations applied twice and from four
 * threads at once; 8 threads on each of 2 connections charging one token with
 * max_downloads 5 (exactly 5 pass); a bump on one struct meta seen by another's
 * generation and caches (bounded poll); a lease raced by 8 holders (one wins);
 * every session killed with pg_terminate_backend and recovered, listener included;
 * a bad DSN failing without its password in the log; invalid UTF-8 in events. */
#include <fcntl.h>
#include <ftw.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "meta/meta_int.h" /* the generation: meta_gen_load/enabled */
#include "test_meta_cases.h"

static char cluster[64];
static char base_dsn[512];
static int db_counter;

static int rm_one(const char *p, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb, (void)type, (void)ftw;
    return remove(p);
}

/* Runs a shell command; its first output line into out. */
static int run_line(const char *cmd, char *out, size_t cap)
{
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    out[0] = '\0';
    if (!fgets(out, (int)cap, p))
        out[0] = '\0';
    int st = pclose(p);
    out[strcspn(out, "\n")] = '\0';
    return st == 0 && out[0] ? 0 : -1;
}

static int group_setup(void **state)
{
    (void)state;
    char cmd[256];
    snprintf(cluster, sizeof cluster, "/tmp/tollgate-pg.XXXXXX");
    if (!mkdtemp(cluster))
        return -1;
    snprintf(cmd, sizeof cmd, "sh tests/pg/pgctl.sh start %s %d", cluster, (int)getpid());
    if (run_line(cmd, base_dsn, sizeof base_dsn) < 0) {
        fprintf(stderr, "cannot start PostgreSQL (%s)\n", cmd);
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    char cmd[256];
    snprintf(cmd, sizeof cmd, "sh tests/pg/pgctl.sh stop %s", cluster);
    return system(cmd) == 0 ? 0 : -1;
}

static int new_db(char *dsn, size_t cap)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "sh tests/pg/pgctl.sh createdb %s t%d_%d", cluster, ++db_counter,
             (int)getpid());
    return run_line(cmd, dsn, cap);
}

static int open_pg(struct fx *f, struct meta **m)
{
    struct meta_config cfg = {f->dir, "postgres", f->dsn};
    return meta_open_cfg(&cfg, FX_SECRET, m);
}

static int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    f->backend = "postgres";
    snprintf(f->dir, sizeof f->dir, "/tmp/test_meta_pg.XXXXXX");
    if (!mkdtemp(f->dir) || new_db(f->dsn, sizeof f->dsn) < 0)
        return -1;
    if (open_pg(f, &f->m) < 0 || meta_gate_open(f->m, &f->mg) < 0 ||
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

/* ---- helpers ---- */

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Polls cond every 10 ms for at most 5 s. */
static bool poll_until(bool (*cond)(void *), void *ctx)
{
    for (int i = 0; i < 500; i++) {
        if (cond(ctx))
            return true;
        sleep_ms(10);
    }
    return cond(ctx);
}

/* One value from SQL on the test's database, through a connection of the test's. */
static long long sql_value(const char *dsn, const char *sql)
{
    PGconn *c = PQconnectdb(dsn);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, sql);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    assert_int_equal(PQntuples(r), 1);
    long long v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    PQfinish(c);
    return v;
}

/* ---- migrations ---- */

static void test_pg_migrations_twice(void **state)
{
    struct fx *f = *state;
    long long n = sql_value(f->dsn, "SELECT count(*) FROM schema_migrations");
    long long max = sql_value(f->dsn, "SELECT max(version) FROM schema_migrations");
    assert_true(n >= 1);
    assert_int_equal(n, max);
    struct meta *m2 = NULL;
    assert_int_equal(open_pg(f, &m2), 0); /* again: nothing to apply */
    meta_close(m2);
    assert_int_equal(sql_value(f->dsn, "SELECT count(*) FROM schema_migrations"), n);
}

struct race {
    struct fx *f;
    pthread_barrier_t *bar;
    int rc;
    struct meta *m;
};

static void *open_racer(void *arg)
{
    struct race *r = arg;
    pthread_barrier_wait(r->bar);
    r->rc = open_pg(r->f, &r->m);
    return NULL;
}

static void test_pg_migrations_race(void **state)
{
    struct fx *f = *state;
    struct fx fresh = *f; /* a database nobody has opened yet */
    assert_int_equal(new_db(fresh.dsn, sizeof fresh.dsn), 0);
    enum { N = 4 };
    pthread_t th[N];
    struct race r[N];
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, N);
    for (int i = 0; i < N; i++) {
        r[i] = (struct race){&fresh, &bar, -1, NULL};
        assert_int_equal(pthread_create(&th[i], NULL, open_racer, &r[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(r[i].rc, 0);
    }
    pthread_barrier_destroy(&bar);
    long long n = sql_value(fresh.dsn, "SELECT count(*) FROM schema_migrations");
    assert_int_equal(n, sql_value(fresh.dsn, "SELECT max(version) FROM schema_migrations"));
    /* and every one of them works */
    for (int i = 0; i < N; i++) {
        bool got = false;
        char name[16];
        snprintf(name, sizeof name, "n%d", i);
        assert_int_equal(meta_lease_try(r[i].m, name, "h", 1, 10, &got), 0);
        assert_true(got);
        meta_close(r[i].m);
    }
}

/* ---- counters across connections ---- */

struct charger {
    struct meta_gate *mg;
    int64_t id;
    pthread_barrier_t *bar;
    int ok, denied, other;
};

static void *charge_main(void *arg)
{
    struct charger *c = arg;
    pthread_barrier_wait(c->bar);
    for (int i = 0; i < 4; i++) {
        int rc = meta_named_charge(c->mg, c->id, true, 2000);
        if (rc == 0)
            c->ok++;
        else if (rc == -ERR_ACCESS_DENIED)
            c->denied++;
        else
            c->other++;
    }
    return NULL;
}

static void test_pg_charge_race(void **state)
{
    struct fx *f = *state;
    struct meta *m2 = NULL;
    struct meta_gate *g2 = NULL;
    assert_int_equal(open_pg(f, &m2), 0);
    assert_int_equal(meta_gate_open(m2, &g2), 0);
    int64_t id = named_add(f, "race", "race", 0, 5, 0);
    enum { T = 16 }; /* 8 threads on each of 2 connections */
    pthread_t th[T];
    struct charger c[T];
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, T);
    for (int i = 0; i < T; i++) {
        c[i] = (struct charger){i % 2 ? g2 : f->mg, id, &bar, 0, 0, 0};
        assert_int_equal(pthread_create(&th[i], NULL, charge_main, &c[i]), 0);
    }
    int ok = 0, denied = 0, other = 0;
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        ok += c[i].ok;
        denied += c[i].denied;
        other += c[i].other;
    }
    pthread_barrier_destroy(&bar);
    assert_int_equal(other, 0);
    assert_int_equal(ok, 5);
    assert_int_equal(denied, T * 4 - 5);
    struct meta_named n;
    assert_int_equal(meta_named_by_id(g2, id, &n), 0);
    assert_int_equal(n.downloads, 5);
    meta_gate_close(g2);
    meta_close(m2);
}

/* ---- notifications ---- */

struct gen_wait {
    struct meta *m;
    uint64_t was;
};
static bool gen_moved(void *ctx)
{
    struct gen_wait *w = ctx;
    return meta_gen_enabled(w->m) && meta_gen_load(w->m) != w->was;
}
static bool gen_live(void *ctx)
{
    return meta_gen_enabled(ctx);
}

static void test_pg_notify(void **state)
{
    struct fx *f = *state;
    struct meta *m2 = NULL;
    struct meta_gate *g2 = NULL;
    char s[META_SECRET_KEY_LEN + 1], got[64];
    struct meta_key k;
    uint64_t e = 9;
    assert_int_equal(open_pg(f, &m2), 0);
    assert_int_equal(meta_gate_open(m2, &g2), 0);
    assert_true(poll_until(gen_live, m2));
    /* node 2 caches epoch 0 and the key */
    assert_int_equal(meta_epoch_get(g2, "tier1", &e), 0);
    assert_int_equal(e, 0);
    assert_int_equal(meta_key_create(f->m, "s3", "k", &k, s), 0);
    assert_int_equal(meta_key_secret(m2, str_c(k.akid), got, sizeof got), 0);
    /* node 1 rotates: node 2's generation moves, its cache is retired */
    struct gen_wait w = {m2, meta_gen_load(m2)};
    assert_int_equal(meta_epoch_bump(f->mg, "tier1", 1000, &e), 0);
    assert_true(poll_until(gen_moved, &w));
    assert_int_equal(meta_epoch_get(g2, "tier1", &e), 0);
    assert_int_equal(e, 1);
    /* node 1 deletes the key */
    w.was = meta_gen_load(m2);
    assert_int_equal(meta_key_delete(f->m, str_c(k.akid)), 0);
    assert_true(poll_until(gen_moved, &w));
    assert_int_equal(meta_key_secret(m2, str_c(k.akid), got, sizeof got), -ERR_INVALID_ACCESS_KEY);
    /* a revocation notifies too */
    int64_t id = named_add(f, "rev", "rev", 0, 0, 0);
    w.was = meta_gen_load(m2);
    assert_int_equal(meta_named_revoke(f->mg, id, 1500), 0);
    assert_true(poll_until(gen_moved, &w));
    assert_int_equal(meta_named_charge(g2, id, false, 1600), -ERR_ACCESS_DENIED);
    meta_gate_close(g2);
    meta_close(m2);
}

/* ---- leases across connections ---- */

struct leaser {
    struct meta *m;
    char holder[24];
    pthread_barrier_t *bar;
    int rc;
    bool got;
};

static void *lease_main(void *arg)
{
    struct leaser *l = arg;
    pthread_barrier_wait(l->bar);
    l->rc = meta_lease_try(l->m, "lifecycle", l->holder, 5000, 60, &l->got);
    return NULL;
}

static void test_pg_lease_race(void **state)
{
    struct fx *f = *state;
    enum { T = 8 };
    struct meta *ms[T];
    pthread_t th[T];
    struct leaser l[T];
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, T);
    for (int i = 0; i < T; i++) {
        assert_int_equal(open_pg(f, &ms[i]), 0);
        l[i] = (struct leaser){ms[i], "", &bar, -1, false};
        snprintf(l[i].holder, sizeof l[i].holder, "node-%d", i);
        assert_int_equal(pthread_create(&th[i], NULL, lease_main, &l[i]), 0);
    }
    int won = 0;
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(l[i].rc, 0);
        won += l[i].got;
    }
    pthread_barrier_destroy(&bar);
    assert_int_equal(won, 1);
    for (int i = 0; i < T; i++)
        meta_close(ms[i]);
}

/* ---- a killed connection is recovered ---- */

static int terminate_all(const char *dsn)
{
    PGconn *c = PQconnectdb(dsn);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                            "AND application_name = 'tollgate'");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    int n = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    /* bounded: until the killed sessions are gone */
    for (int i = 0; i < 500; i++) {
        r = PQexec(c, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                      "AND pid <> pg_backend_pid() AND application_name = 'tollgate'");
        int left = atoi(PQgetvalue(r, 0, 0));
        PQclear(r);
        if (left == 0)
            break;
        sleep_ms(10);
    }
    PQfinish(c);
    return n;
}

static void test_pg_terminate(void **state)
{
    struct fx *f = *state;
    char a[META_ADMIN_KEY_LEN + 1];
    char *json = NULL;
    assert_int_equal(meta_admin_key_create(f->m, a), 0);
    int64_t id = named_add(f, "kill", "kill", 0, 0, 0);
    assert_int_equal(meta_stats_window_put(f->ms, 1, 60, "{}"), 0);
    assert_true(poll_until(gen_live, f->m));
    uint64_t before = meta_gen_load(f->m);
    /* meta, gate, stats and the listener: 4 sessions */
    assert_int_equal(terminate_all(f->dsn), 4);
    /* reads are retried on the new session: no error at all */
    assert_true(meta_admin_key_check(f->m, str_c(a)));
    struct meta_named n;
    assert_int_equal(meta_named_by_id(f->mg, id, &n), 0);
    assert_int_equal(meta_stats_window_get(f->ms, 1, 60, &json), 0);
    assert_string_equal(json, "{}");
    free(json);
    /* a write is not retried: it may fail once with 503, then works */
    assert_int_equal(terminate_all(f->dsn), 4);
    int rc = meta_named_charge(f->mg, id, false, 2000);
    assert_true(rc == 0 || rc == -ERR_UNAVAILABLE);
    if (rc == -ERR_UNAVAILABLE)
        assert_int_equal(meta_named_charge(f->mg, id, false, 2000), 0);
    /* the listener came back and bumped the generation (it may have missed some) */
    struct gen_wait w = {f->m, before};
    assert_true(poll_until(gen_moved, &w));
    assert_true(poll_until(gen_live, f->m));
    /* and it hears notifications again */
    struct meta *m2 = NULL;
    struct meta_gate *g2 = NULL;
    uint64_t e;
    assert_int_equal(open_pg(f, &m2), 0);
    assert_int_equal(meta_gate_open(m2, &g2), 0);
    sleep_ms(0);
    w.was = meta_gen_load(f->m);
    assert_int_equal(meta_epoch_bump(g2, "tier9", 1, &e), 0);
    assert_true(poll_until(gen_moved, &w));
    meta_gate_close(g2);
    meta_close(m2);
}

/* ---- errors never show the DSN's password ---- */

static void test_pg_bad_dsn(void **state)
{
    struct fx *f = *state;
    char log[] = "/tmp/test_meta_pg_log.XXXXXX";
    int fd = mkstemp(log);
    assert_true(fd >= 0);
    int saved = dup(2);
    dup2(fd, 2);
    static const char *const dsns[] = {
        "host=127.0.0.1 port=1 user=tollgate password=Pw-S3cret-1 connect_timeout=3",
        "postgresql://tollgate:Pw-S3cret-2@127.0.0.1:1/x?connect_timeout=3",
        NULL, /* the real server, a database that does not exist */
    };
    char nodb[600];
    snprintf(nodb, sizeof nodb, "%s password=Pw-S3cret-3", base_dsn);
    char *p = strstr(nodb, "dbname=postgres");
    assert_non_null(p);
    memcpy(p, "dbname=nosuchdb", 15);
    int rcs[3];
    for (int i = 0; i < 3; i++) {
        struct meta_config cfg = {f->dir, "postgres", dsns[i] ? dsns[i] : nodb};
        struct meta *m = NULL;
        rcs[i] = meta_open_cfg(&cfg, FX_SECRET, &m);
        assert_null(m);
    }
    dup2(saved, 2);
    close(saved);
    char text[8192] = "";
    ssize_t n = pread(fd, text, sizeof text - 1, 0);
    close(fd);
    unlink(log);
    assert_true(n > 0);
    text[n] = '\0';
    print_message("%s", text);
    for (int i = 0; i < 3; i++)
        assert_int_equal(rcs[i], -ERR_UNAVAILABLE);
    assert_null(strstr(text, "Pw-S3cret"));
    assert_non_null(strstr(text, "cannot connect"));
}

/* ---- PostgreSQL refuses invalid UTF-8: events keep everything else ---- */

static int first_event(void *ctx, const struct meta_event *e)
{
    snprintf(ctx, 64, "%s|%s", e->referrer, e->key);
    return 0;
}

static void test_pg_utf8(void **state)
{
    struct fx *f = *state;
    const struct meta_event ev = {1,     1,    200, "tier1", "t", "ok-ü",        0,
                                  false, NULL, "f", "o",     "d", "bad\xff\xc3", ""};
    char seen[64] = "";
    assert_int_equal(meta_stats_insert(f->ms, &ev, 1), 0);
    assert_int_equal(meta_stats_scan(f->ms, 0, 10, first_event, seen), 0);
    assert_string_equal(seen, "bad??|ok-ü");
}

#define REG(c) cmocka_unit_test_setup_teardown(c, fx_setup, fx_teardown),

int main(void)
{
    const struct CMUnitTest tests[] = {
        META_CASES(REG) REG(test_pg_migrations_twice) REG(test_pg_migrations_race)
            REG(test_pg_charge_race) REG(test_pg_notify) REG(test_pg_lease_race)
                REG(test_pg_terminate) REG(test_pg_bad_dsn) REG(test_pg_utf8)};
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
