/* cli_stats.c -- `tollgate stats`: the analytics of the data directory as a table, CSV
 * or JSON (the same numbers as GET /api/admin/stats and /api/admin/pulse). */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "gate/gate.h"
#include "stats/stats.h"

static const char USAGE[] =
    "usage: tollgate stats [--window 30m|hour|day|month|year] [--from D] [--to D]\n"
    "                      [--grant G] [--format table|csv|json] [--pulse] [--config FILE]\n"
    "\n"
    "Prints downloads, bytes, views, links minted, rejected tokens and unique visitors per\n"
    "window and grant, then the top files, tokens and referrers of the range. D is a date\n"
    "(YYYY-MM-DD, 'to' inclusive) or an ISO 8601 UTC time; default: the last 30 days by day.\n"
    "Visitors are exact per window up to a day; months and years show the sum of daily\n"
    "unique visitors. --pulse prints the last minutes instead (requests, downloads, bytes,\n"
    "visitors). Closed windows are saved the first time they are computed.\n";

enum fmt { F_TABLE, F_CSV, F_JSON };

static const char *const COLS[] = {"portal_views", "api_views",  "links_minted", "downloads",
                                   "bytes",        "rejections", "visitors"};

static void print_tops(json_t *j, const char *field, const char *title, const char *name,
                       const char *count)
{
    json_t *a = json_object_get(j, field);
    printf("\n%s\n", title);
    if (!json_array_size(a)) {
        printf("  (none)\n");
        return;
    }
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v)
    {
        printf("  %10" PRId64 "  %s\n", (int64_t)json_integer_value(json_object_get(v, count)),
               json_string_value(json_object_get(v, name)));
    }
}

int cmd_stats(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, 0, 'c'},
        {"window", required_argument, 0, 'w'},
        {"from", required_argument, 0, 'f'},
        {"to", required_argument, 0, 't'},
        {"grant", required_argument, 0, 'g'},
        {"format", required_argument, 0, 'o'},
        {"pulse", no_argument, 0, 'p'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *config = NULL, *from = NULL, *to = NULL, *grant = NULL;
    enum stats_window w = STATS_WDAY;
    enum fmt f = F_TABLE;
    bool pulse = false;
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case 'c':
            config = optarg;
            break;
        case 'w':
            if (stats_window_parse(str_c(optarg), &w) < 0)
                return cli_usage_error("stats", "--window must be 30m, hour, day, month or year");
            break;
        case 'f':
            from = optarg;
            break;
        case 't':
            to = optarg;
            break;
        case 'g':
            grant = optarg;
            break;
        case 'o':
            if (strcmp(optarg, "table") == 0)
                f = F_TABLE;
            else if (strcmp(optarg, "csv") == 0)
                f = F_CSV;
            else if (strcmp(optarg, "json") == 0)
                f = F_JSON;
            else
                return cli_usage_error("stats", "--format must be table, csv or json");
            break;
        case 'p':
            pulse = true;
            break;
        case 'h':
            fputs(USAGE, stdout);
            return 0;
        default:
            fputs(USAGE, stderr);
            return 2;
        }
    }
    if (optind < argc)
        return cli_usage_error("stats", "unexpected argument '%s'", argv[optind]);
    struct cli_app app;
    if (cli_app_open(config, CLI_OPEN_GATE, &app) < 0)
        return 1;
    int ret = 1;
    struct stats *st = NULL;
    char *err = NULL, e2[256] = "";
    int64_t now = tg_now();
    json_t *j = NULL;
    if (stats_open(&app.cfg, app.meta, &st, &err) < 0) {
        fprintf(stderr, "tollgate: %s\n", err ? err : "cannot open the analytics");
        goto out;
    }
    if (grant && !gate_grant_find(app.gate, str_c(grant))) {
        fprintf(stderr, "tollgate: stats: no grant '%s' in %s\n", grant, app.cfg.path);
        goto out;
    }
    char dfrom[16], dto[16];
    time_fmt_date(now - 29 * 86400, dfrom);
    time_fmt_date(now, dto);
    int rc = pulse ? stats_pulse(st, now, &j)
                   : stats_query(st, w, from ? from : dfrom, to ? to : dto, grant, now, &j, e2);
    if (rc < 0) {
        fprintf(stderr, "tollgate: stats: %s\n", e2[0] ? e2 : err_message(rc));
        goto out;
    }
    if (f == F_JSON) {
        cli_print_json(j);
        j = NULL;
    } else if (pulse) {
        const char *k[] = {"window_minutes", "requests", "downloads", "bytes", "visitors"};
        for (size_t i = 0; i < 5; i++)
            printf(f == F_CSV ? "%s%s" : "%-16s", f == F_CSV && i ? "," : "", k[i]);
        printf("\n");
        for (size_t i = 0; i < 5; i++)
            printf(f == F_CSV ? "%s%" PRId64 : "%s%-16" PRId64, f == F_CSV && i ? "," : "",
                   (int64_t)json_integer_value(json_object_get(j, k[i])));
        printf("\n");
    } else {
        json_t *s = json_object_get(j, "series");
        if (f == F_CSV)
            printf("start,grant,portal_views,api_views,links_minted,downloads,bytes,rejections,"
                   "visitors\n");
        else
            printf("%-21s %-12s %8s %8s %8s %9s %14s %8s %8s\n", "start", "grant", "views", "api",
                   "links", "downloads", "bytes", "rejected", "visitors");
        size_t i;
        json_t *v;
        json_array_foreach(s, i, v)
        {
            const char *st_ = json_string_value(json_object_get(v, "start"));
            const char *g = json_string_value(json_object_get(v, "grant"));
            int64_t x[7];
            for (size_t k = 0; k < 7; k++)
                x[k] = (int64_t)json_integer_value(json_object_get(v, COLS[k]));
            if (f == F_CSV)
                printf("%s,%s,%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64
                       ",%" PRId64 "\n",
                       st_, g, x[0], x[1], x[2], x[3], x[4], x[5], x[6]);
            else
                printf("%-21s %-12s %8" PRId64 " %8" PRId64 " %8" PRId64 " %9" PRId64 " %14" PRId64
                       " %8" PRId64 " %8" PRId64 "\n",
                       st_, g, x[0], x[1], x[2], x[3], x[4], x[5], x[6]);
        }
        if (f == F_TABLE) {
            printf("(visitors: %s)\n", json_string_value(json_object_get(j, "visitors_are")));
            print_tops(j, "top_keys", "Top files (downloads)", "key", "downloads");
            print_tops(j, "top_tokens", "Top tokens (requests)", "token", "events");
            print_tops(j, "top_referrers", "Top referrers (requests)", "domain", "events");
        }
    }
    ret = 0;
out:
    json_decref(j);
    free(err);
    stats_close(st);
    cli_app_close(&app);
    return ret;
}
