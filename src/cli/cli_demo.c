/* cli_demo.c -- `tollgate demo [DIR]`: a working portal in one command. Initialises DIR
 * (through `tollgate init`) unless it has a tollgate.conf, adds three grants (tier1 =
 * 3 columns of a market-data table, tier2 = 5, tier3 = all), generates a Parquet file
 * per day for the last N days (parquet.h pq_gen, deterministic per date), publishes
 * each day for each grant through the real pipeline (publish.h: daily, MTD, monthly,
 * index), then prints the portal links and the admin URL and serves (cmd_serve).
 * Running it again publishes only the days after the newest one already published
 * (a later day catches up), so it is idempotent. The keys init printed are kept in
 * DIR/demo-keys.json (0600) so every run can show them again. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "crypto/crypto.h"
#include "gate/gate.h"
#include "lifecycle/lifecycle.h"
#include "parquet/parquet.h"
#include "publish/publish.h"
#include "store/store.h"

static const char USAGE[] =
    "usage: tollgate demo [DIR] [--days N] [--rows N] [--port PORT] [--no-serve]\n"
    "\n"
    "A working portal in one command. Initialises DIR (default ./tollgate-demo) unless\n"
    "it has a tollgate.conf, adds the grants tier1 (3 columns), tier2 (5 columns) and\n"
    "tier3 (all 7 columns of a demo market-data table), generates a Parquet file per\n"
    "day for the last N days (ending yesterday, UTC) and publishes each day for each\n"
    "grant with the real pipeline (daily files, month-to-date, monthly bundles), then\n"
    "prints the three portal links, the admin URL and key, and serves until Ctrl-C.\n"
    "Running it again publishes only days newer than those already published.\n"
    "\n"
    "  --days N     days of data to publish (default 40)\n"
    "  --rows N     rows per day, about (default 20000)\n"
    "  --port PORT  serve on 127.0.0.1:PORT (default: the config's listen address,\n"
    "               127.0.0.1:8080 for a new DIR)\n"
    "  --no-serve   publish and print the links, then exit\n"
    "The keys init creates are kept in DIR/demo-keys.json (mode 0600).\n";

struct demo_tier {
    const char *name, *title, *columns, *extra;
};
static const struct demo_tier TIERS[] = {
    {"tier1", "Tier 1 - daily prices (3 columns)", "ts,symbol,price", ""},
    {"tier2", "Tier 2 - prices, volume and sentiment (5 columns)",
     "ts,symbol,price,volume,sentiment", ""},
    {"tier3", "Tier 3 - the full dataset, links checked at each click", NULL,
     "link_mode = redirect\nredirect_ttl = 10m\n"},
};
#define N_TIERS (sizeof TIERS / sizeof TIERS[0])
#define DEMO_DAYS_MAX 3660
#define DEMO_KEYS_FILE "demo-keys.json"

/* Runs `tollgate init DIR --listen L --json` with its stdout captured (a pipe: the
 * JSON is a few hundred bytes), so the keys can be kept and shown on every run. */
static int run_init(const char *dir, const char *listen, json_t **out)
{
    int p[2], saved, rc;
    char *argv[] = {"init", (char *)dir, "--listen", (char *)listen, "--json", NULL};
    if (pipe(p) < 0)
        return -1;
    fflush(stdout);
    if ((saved = dup(STDOUT_FILENO)) < 0 || dup2(p[1], STDOUT_FILENO) < 0) {
        close(p[0]);
        close(p[1]);
        if (saved >= 0)
            close(saved);
        return -1;
    }
    close(p[1]);
    rc = cmd_init(5, argv);
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    struct buf b = BUF_INIT;
    char chunk[4096];
    ssize_t n;
    while ((n = read(p[0], chunk, sizeof chunk)) > 0)
        buf_add(&b, chunk, (size_t)n);
    close(p[0]);
    *out = rc == 0 && b.len ? json_loadb(b.ptr, b.len, 0, NULL) : NULL;
    if (b.ptr)
        crypto_wipe(b.ptr, b.len);
    buf_release(&b);
    return rc == 0 && *out ? 0 : -1;
}

/* Appends the [grant tierN] sections the config does not have yet. */
static int add_grants(const char *conf)
{
    struct buf text = BUF_INIT;
    int rc = file_read_all(conf, &text, 1 << 20);
    if (rc < 0) {
        fprintf(stderr, "tollgate demo: cannot read '%s': %s\n", conf, strerror(-rc));
        return -1;
    }
    bool changed = false;
    for (size_t i = 0; i < N_TIERS; i++) {
        char head[64];
        snprintf(head, sizeof head, "[grant %s]", TIERS[i].name);
        const char *s = buf_cstr(&text), *hit = s;
        bool found = false;
        while ((hit = strstr(hit, head))) {
            if (hit == s || hit[-1] == '\n') {
                found = true;
                break;
            }
            hit++;
        }
        if (found)
            continue;
        if (text.len && text.ptr[text.len - 1] != '\n')
            buf_addc(&text, '\n');
        buf_printf(&text,
                   "\n; added by 'tollgate demo'\n%s\ntitle     = %s\nprefix    = %s/\n"
                   "rotation  = 7d @ 1970-01-05T00:00:00Z\noverlap   = 24h\n"
                   "link_ttl  = 6d20h\n%s",
                   head, TIERS[i].title, TIERS[i].name, TIERS[i].extra);
        changed = true;
    }
    rc = 0;
    if (changed && (rc = file_write_atomic(conf, text.ptr, text.len, 0600)) < 0)
        fprintf(stderr, "tollgate demo: cannot write '%s': %s\n", conf, strerror(-rc));
    buf_release(&text);
    return rc < 0 ? -1 : 0;
}

/* The newest date D with an object under PREFIXdaily/D/ (retired ones count: the day
 * was published), as days since the epoch; -1 when none. */
struct newest {
    int64_t day;
};
static int newest_fn(void *ctx, const struct store_list_entry *e)
{
    struct newest *n = ctx;
    const char *cp = e->common_prefix;
    if (!cp)
        return 0;
    const char *d = strstr(cp, "daily/");
    int64_t t;
    if (d && strlen(d + 6) == 11 && time_parse_date((struct str){d + 6, 10}, &t) == 0 &&
        t / 86400 > n->day)
        n->day = t / 86400;
    return 0;
}

static int newest_daily(struct cli_app *app, const struct gate_grant *gr, int64_t *day)
{
    char prefix[512];
    snprintf(prefix, sizeof prefix, "%sdaily/", gr->prefixes[0]);
    struct newest n = {-1};
    struct store_list_req req = {str_c(app->set.bucket), str_c(prefix), str_c("/"), {0, 0},
                                 STORE_LIST_MAX,         false,         false};
    char *after = NULL;
    int rc;
    for (int guard = 0; guard < 10000; guard++) {
        struct store_list_res res = {0};
        req.after = after ? str_c(after) : (struct str){0, 0};
        rc = store_obj_list(app->store, &req, newest_fn, &n, &res);
        free(after);
        after = NULL;
        if (rc < 0) {
            store_list_res_release(&res);
            return rc;
        }
        if (res.truncated && res.next_after)
            after = strdup(res.next_after);
        store_list_res_release(&res);
        if (!after)
            break;
    }
    free(after);
    *day = n.day;
    return 0;
}

/* A temp directory under $TMPDIR (or /tmp), removed by rm_tmp. */
static int make_tmp(char *out, size_t cap)
{
    const char *t = getenv("TMPDIR");
    snprintf(out, cap, "%s/tollgate-demo.XXXXXX", t && *t ? t : "/tmp");
    return mkdtemp(out) ? 0 : -1;
}

static void rm_tmp(const char *dir)
{
    char p[PATH_MAX + 32];
    snprintf(p, sizeof p, "%s/master.parquet", dir);
    unlink(p);
    rmdir(dir);
}

/* Rows for a day: about `rows`, varying by +-10% from day to day. */
static uint64_t day_rows(uint64_t rows, int64_t day)
{
    uint64_t spread = rows / 5 + 1;
    uint64_t h = (uint64_t)day * 0x9E3779B97F4A7C15ull;
    return rows - rows / 10 + (h >> 33) % spread;
}

/* After a day: the lifecycle pass (retention, blob GC), as the server's scheduler
 * runs it after each publish; the indexes of grants whose listing changed are
 * rewritten. */
struct lc_ctx {
    struct cli_app *app;
    int rc;
};
static void lc_changed(void *ctx, const char *grant)
{
    struct lc_ctx *c = ctx;
    char err[PUBLISH_ERRMSG_MAX];
    const struct gate_grant *gr = gate_grant_find(c->app->gate, str_c(grant));
    if (!gr)
        return;
    struct publish_opts po = {
        .store = c->app->store, .bucket = c->app->set.bucket, .grant = gr, .now = tg_now()};
    int rc = publish_index(&po, err);
    if (rc < 0) {
        fprintf(stderr, "tollgate demo: index of %s: %s\n", grant, err);
        c->rc = rc;
    }
}

static int lifecycle_pass(struct cli_app *app, struct lifecycle *lc)
{
    struct lc_ctx c = {app, 0};
    struct lifecycle_report rep = {0};
    int rc = lifecycle_apply(lc, tg_now(), NULL, lc_changed, &c, &rep);
    if (rc < 0) {
        fprintf(stderr, "tollgate demo: lifecycle: %s\n", err_message(rc));
        return rc;
    }
    return c.rc;
}

static int publish_day(struct cli_app *app, const char *tmp, int64_t day, uint64_t rows,
                       const bool *want, unsigned *published, unsigned *noop)
{
    char master[PATH_MAX + 32], date[TG_TIME_BUF], err[PUBLISH_ERRMSG_MAX];
    struct pq_result pr;
    int rc;
    snprintf(master, sizeof master, "%s/master.parquet", tmp);
    time_fmt_date(day * 86400, date);
    struct pq_gen_opts go = {
        .rows = day_rows(rows, day), .seed = (uint64_t)day, .day = (int32_t)day};
    if ((rc = pq_gen(master, &go, &pr, err)) < 0) {
        fprintf(stderr, "tollgate demo: generating %s: %s\n", date, err);
        return rc;
    }
    printf("  %s  %7" PRIu64 " rows ", date, pr.rows);
    for (size_t i = 0; i < N_TIERS; i++) {
        if (!want[i])
            continue;
        const struct gate_grant *gr = gate_grant_find(app->gate, str_c(TIERS[i].name));
        /* tier1 and tier2 get a projection of the master (publish --columns) */
        struct publish_opts po = {.store = app->store,
                                  .bucket = app->set.bucket,
                                  .grant = gr,
                                  .file = master,
                                  .date = date,
                                  .schema_label = "demo-v1",
                                  .now = tg_now(),
                                  .columns = TIERS[i].columns};
        struct publish_result r;
        if ((rc = publish_run(&po, &r, err)) < 0) {
            fprintf(stderr, "\ntollgate demo: publishing %s for %s: %s\n", date, gr->name, err);
            return rc;
        }
        if (r.noop)
            ++*noop;
        else
            ++*published;
        printf(" %s%s", gr->name, r.noop ? " (same)" : r.monthly_key[0] ? " (+monthly)" : "");
    }
    printf("\n");
    unlink(master);
    return 0;
}

/* The URL with its base (public_url) replaced by `base`, when one is given. */
static void print_url(const char *label, const char *url, const char *public_url, const char *base)
{
    size_t n = strlen(public_url);
    if (base && strncmp(url, public_url, n) == 0)
        printf("  %-8s %s%s\n", label, base, url + n);
    else
        printf("  %-8s %s\n", label, url);
}

int cmd_demo(int argc, char **argv)
{
    static const struct option opts[] = {
        {"days", required_argument, 0, 'd'}, {"rows", required_argument, 0, 'r'},
        {"port", required_argument, 0, 'p'}, {"no-serve", no_argument, 0, 'n'},
        {"help", no_argument, 0, 'h'},       {0, 0, 0, 0},
    };
    uint64_t days = 40, rows = 20000, port = 0;
    bool serve = true;
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case 'd':
            if (str_to_u64(str_c(optarg), &days) < 0 || days < 1 || days > DEMO_DAYS_MAX)
                return cli_usage_error("demo", "--days must be 1..%d", DEMO_DAYS_MAX);
            break;
        case 'r':
            if (str_to_u64(str_c(optarg), &rows) < 0 || rows < 10 || rows > 10000000)
                return cli_usage_error("demo", "--rows must be 10..10000000");
            break;
        case 'p':
            if (str_to_u64(str_c(optarg), &port) < 0 || port < 1 || port > 65535)
                return cli_usage_error("demo", "--port must be 1..65535");
            break;
        case 'n':
            serve = false;
            break;
        case 'h':
            fputs(USAGE, stdout);
            return 0;
        default:
            return cli_usage_error("demo", "unknown option");
        }
    }
    if (optind < argc - 1)
        return cli_usage_error("demo", "expected at most one directory");
    const char *dir = optind < argc ? argv[optind] : "./tollgate-demo";
    char conf[PATH_MAX], keys_path[PATH_MAX], listen[64], base[80], absdir[PATH_MAX];
    snprintf(listen, sizeof listen, "127.0.0.1:%u", port ? (unsigned)port : 8080u);
    snprintf(base, sizeof base, "http://%s", listen);
    snprintf(conf, sizeof conf, "%s/tollgate.conf", dir);
    int64_t t0 = tg_monotonic_us();
    struct stat st;
    json_t *keys = NULL;
    if (stat(conf, &st) < 0) {
        if (run_init(dir, listen, &keys) < 0) {
            fprintf(stderr, "tollgate demo: 'tollgate init %s' failed\n", dir);
            return 1;
        }
        snprintf(keys_path, sizeof keys_path, "%s/" DEMO_KEYS_FILE, dir);
        char *s = json_dumps(keys, JSON_INDENT(2));
        if (!s || file_write_atomic(keys_path, s, strlen(s), 0600) < 0)
            fprintf(stderr, "tollgate demo: warning: cannot write '%s'\n", keys_path);
        if (s) {
            crypto_wipe(s, strlen(s));
            free(s);
        }
        printf("tollgate demo: initialised %s\n", dir);
    } else {
        snprintf(keys_path, sizeof keys_path, "%s/" DEMO_KEYS_FILE, dir);
        keys = json_load_file(keys_path, 0, NULL); /* NULL: the dir was not made by the demo */
    }
    if (!realpath(dir, absdir))
        snprintf(absdir, sizeof absdir, "%s", dir);
    if (add_grants(conf) < 0) {
        json_decref(keys);
        return 1;
    }

    struct cli_app app;
    if (cli_app_open(conf, CLI_OPEN_STORE | CLI_OPEN_GATE, &app) < 0) {
        json_decref(keys);
        return 1;
    }
    int status = 1, rc;
    char tmp[PATH_MAX] = "";
    struct lifecycle *lc = NULL;
    int64_t now = tg_now();
    int64_t today = (now - ((now % 86400) + 86400) % 86400) / 86400;
    int64_t first = today - (int64_t)days, last = today - 1;
    int64_t from[N_TIERS], start = last + 1;
    for (size_t i = 0; i < N_TIERS; i++) {
        const struct gate_grant *gr = gate_grant_find(app.gate, str_c(TIERS[i].name));
        int64_t newest;
        if (!gr || gr->n_prefixes == 0) {
            fprintf(stderr, "tollgate demo: no grant '%s' in %s\n", TIERS[i].name, conf);
            goto out;
        }
        if ((rc = newest_daily(&app, gr, &newest)) < 0) {
            fprintf(stderr, "tollgate demo: listing %s: %s\n", gr->name, err_message(rc));
            goto out;
        }
        from[i] = newest >= first ? newest + 1 : first;
        if (from[i] < start)
            start = from[i];
    }
    unsigned published = 0, noop = 0;
    char *lerr = NULL;
    if ((rc = lifecycle_open(&app.cfg, app.store, app.meta, app.gate, app.set.bucket, &lc, &lerr)) <
        0) {
        fprintf(stderr, "tollgate demo: %s\n", lerr ? lerr : err_message(rc));
        free(lerr);
        goto out;
    }
    tg_log_set_level(TG_LOG_WARN); /* one line a day here, not the passes' log lines */
    if (start <= last) {
        if (make_tmp(tmp, sizeof tmp) < 0) {
            fprintf(stderr, "tollgate demo: cannot create a temp directory: %s\n", strerror(errno));
            tmp[0] = '\0';
            goto out;
        }
        char a[TG_TIME_BUF], b[TG_TIME_BUF];
        time_fmt_date(start * 86400, a);
        time_fmt_date(last * 86400, b);
        printf("tollgate demo: publishing %s .. %s for %zu grants\n", a, b, N_TIERS);
        for (int64_t d = start; d <= last; d++) {
            bool want[N_TIERS];
            for (size_t i = 0; i < N_TIERS; i++)
                want[i] = d >= from[i];
            if (publish_day(&app, tmp, d, rows, want, &published, &noop) < 0 ||
                lifecycle_pass(&app, lc) < 0)
                goto out;
        }
    } else {
        printf("tollgate demo: every day up to yesterday is published already\n");
        if (lifecycle_pass(&app, lc) < 0)
            goto out;
    }
    tg_log_set_level(app.set.log_level);

    /* The links, the admin page and the S3 endpoint. */
    const char *pub = app.set.public_url;
    bool rebase = port && !cfg_get(&app.cfg, "server", "public_url", NULL);
    printf("\ntollgate demo: %s (%u files published, %u unchanged, %.1f s)\n\n", absdir, published,
           noop, (double)(tg_monotonic_us() - t0) / 1e6);
    printf("Member portals (paste these links into each tier's members-only post):\n");
    for (size_t i = 0; i < N_TIERS; i++) {
        const struct gate_grant *gr = gate_grant_find(app.gate, str_c(TIERS[i].name));
        struct gate_links l;
        struct buf url = BUF_INIT;
        if ((rc = gate_links(app.gate, gr, now, &l)) < 0 ||
            (rc = gate_portal_url(app.gate, gr, l.current, &url)) < 0) {
            fprintf(stderr, "tollgate demo: links of %s: %s\n", gr->name, err_message(rc));
            buf_release(&url);
            goto out;
        }
        printf("  %s\n", gr->title);
        print_url("", buf_cstr(&url), pub, rebase ? base : NULL);
        crypto_wipe(&l, sizeof l);
        buf_release(&url);
    }
    char admin_url[PATH_MAX];
    snprintf(admin_url, sizeof admin_url, "%s/admin", pub);
    printf("\nAdmin:\n");
    print_url("page", admin_url, pub, rebase ? base : NULL);
    json_t *ak = keys ? json_object_get(keys, "admin_key") : NULL;
    if (json_is_string(ak))
        printf("  %-8s %s\n", "key", json_string_value(ak));
    else
        printf("  %-8s printed by 'tollgate init' (a new one: tollgate key admin-reset)\n", "key");
    printf("\nS3 API (region %s, path-style):\n", app.set.region);
    print_url("endpoint", pub, pub, rebase ? base : NULL);
    json_t *id = keys ? json_object_get(keys, "access_key_id") : NULL;
    json_t *sk = keys ? json_object_get(keys, "secret_access_key") : NULL;
    if (json_is_string(id) && json_is_string(sk))
        printf("  %-8s AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s\n", "keys",
               json_string_value(id), json_string_value(sk));
    else
        printf("  %-8s tollgate key list / key create --config %s\n", "keys", conf);
    if (keys)
        printf("\nThese keys are kept in %s/" DEMO_KEYS_FILE " (mode 0600).\n", absdir);
    status = 0;
out:
    if (tmp[0])
        rm_tmp(tmp);
    lifecycle_close(lc);
    cli_app_close(&app);
    json_decref(keys);
    if (status != 0 || !serve)
        return status;
    printf("Serving (Ctrl-C stops)...\n");
    fflush(stdout);
    char *sargv[] = {"serve", "--config", conf, "--listen", listen, NULL};
    return cmd_serve(port ? 5 : 3, sargv);
}
