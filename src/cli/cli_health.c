/* cli_health.c -- `tollgate health [GRANT...] [--json]`: is every grant fresh (its
 * newest daily, its MTD), did retention run, when is the next rotation. Exit status 1
 * when any grant has a problem, 2 on usage errors. The same JSON is served at
 * GET /api/admin/status by `tollgate serve` (cli_health_json, shared). */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "events/events.h"
#include "gate/gate.h"
#include "lifecycle/lifecycle.h"

static const char USAGE[] =
    "usage: tollgate health [GRANT...] [--json] [--config FILE]\n"
    "\n"
    "Checks every grant (or the ones named): the newest daily file listed in its index\n"
    "must be yesterday's (UTC) once the hour [health] stale_after_hour (6) has passed,\n"
    "the month-to-date bundle must be the newest daily's month and include it, and the\n"
    "lifecycle pass (retention) must have run within [health] lifecycle_max_age (2h).\n"
    "Prints a table (or JSON with --json: {\"ok\", \"grants\": [...]}, the same as\n"
    "GET /api/admin/status). Exit status: 0 all fresh, 1 a problem, 2 usage error.\n";

int cli_health_json(struct cli_app *app, struct lifecycle *lc, const char *const *grants,
                    size_t n_grants, bool serving, int64_t now, void **out, char err[256])
{
    struct events_health_opts o = {0};
    char *cerr = NULL;
    int rc = events_health_config(&app->cfg, &o, &cerr);
    if (rc < 0) {
        snprintf(err, 256, "%s", cerr ? cerr : err_message(rc));
        free(cerr);
        return rc;
    }
    o.store = app->store;
    o.bucket = app->set.bucket;
    o.gate = app->gate;
    o.now = now;
    o.serving = serving;
    o.grants = grants;
    o.n_grants = n_grants;
    struct lifecycle_report rep;
    if (lc && lifecycle_last_run(lc, &rep) == 0) {
        o.has_lifecycle = true;
        o.last_lifecycle_run = rep.ran_at;
    }
    return events_health(&o, out, err);
}

static const char *str_or_dash(json_t *v)
{
    return json_is_string(v) ? json_string_value(v) : "-";
}

static void print_table(json_t *r)
{
    printf("%-16s %-8s %-12s %-8s %-21s %-21s %s\n", "GRANT", "STATUS", "NEWEST DAILY", "MTD",
           "MTD BUILT", "LIFECYCLE RUN", "NEXT ROTATION");
    size_t i;
    json_t *g;
    json_array_foreach(json_object_get(r, "grants"), i, g)
    {
        printf("%-16s %-8s %-12s %-8s %-21s %-21s %s\n",
               json_string_value(json_object_get(g, "grant")),
               json_is_true(json_object_get(g, "ok")) ? "ok" : "PROBLEM",
               str_or_dash(json_object_get(g, "newest_daily")),
               str_or_dash(json_object_get(g, "mtd_month")),
               str_or_dash(json_object_get(g, "mtd_built_at")),
               str_or_dash(json_object_get(g, "last_lifecycle_run")),
               str_or_dash(json_object_get(g, "next_rotation")));
    }
    json_array_foreach(json_object_get(r, "grants"), i, g)
    {
        size_t k;
        json_t *p;
        json_array_foreach(json_object_get(g, "problems"), k, p)
            printf("problem: %s\n", json_string_value(p));
    }
    if (json_is_true(json_object_get(r, "ok")))
        printf("all grants fresh\n");
}

int cmd_health(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, 0, 'c'},
        {"json", no_argument, 0, 'j'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *config = NULL;
    bool as_json = false;
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case 'c':
            config = optarg;
            break;
        case 'j':
            as_json = true;
            break;
        case 'h':
            fputs(USAGE, stdout);
            return 0;
        default:
            return cli_usage_error("health", "unknown option");
        }
    }
    struct cli_app app;
    if (cli_app_open(config, CLI_OPEN_STORE | CLI_OPEN_GATE, &app) < 0)
        return 1;
    for (int i = optind; i < argc; i++) {
        if (!gate_grant_find(app.gate, str_c(argv[i]))) {
            cli_app_close(&app);
            return cli_usage_error("health", "no grant named '%s' in the configuration", argv[i]);
        }
    }
    struct lifecycle *lc = NULL;
    char *lerr = NULL, err[256] = "";
    int status = 1;
    int rc = lifecycle_open(&app.cfg, app.store, app.meta, app.gate, app.set.bucket, &lc, &lerr);
    if (rc < 0) {
        fprintf(stderr, "tollgate health: %s\n", lerr ? lerr : err_message(rc));
        free(lerr);
        goto out;
    }
    void *r = NULL;
    rc = cli_health_json(&app, lc, (const char *const *)argv + optind, (size_t)(argc - optind),
                         true, tg_now(), &r, err);
    if (rc < 0) {
        fprintf(stderr, "tollgate health: %s\n", err[0] ? err : err_message(rc));
        goto out;
    }
    status = json_is_true(json_object_get(r, "ok")) ? 0 : 1;
    if (as_json)
        cli_print_json(r);
    else {
        print_table(r);
        json_decref(r);
    }
out:
    lifecycle_close(lc);
    cli_app_close(&app);
    return status;
}
