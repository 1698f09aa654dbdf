/* cli_publish.c -- `tollgate publish GRANT FILE`: one day's Parquet file for a grant,
 * through src/publish (daily object and manifest, MTD append or splice, monthly
 * bundle on month rollover, the grant's index). */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "gate/gate.h"
#include "publish/publish.h"
#include "store/store.h"

static const char USAGE[] =
    "usage: tollgate publish GRANT FILE [--date YYYY-MM-DD] [--schema-label L]\n"
    "                        [--allow-schema-change] [--json]\n"
    "\n"
    "Publishes FILE (Parquet) as GRANT's file for DATE (default: yesterday, UTC):\n"
    "the daily object and manifest, the month-to-date bundle (the day's row groups\n"
    "appended, or spliced in place when the day was published before), the monthly\n"
    "bundle of the previous month on the first publish of a new month, and the\n"
    "grant's index. Re-publishing identical bytes changes nothing.\n"
    "  --date D               the UTC date the file covers\n"
    "  --schema-label L       a label for the schema (kept in the manifests)\n"
    "  --allow-schema-change  accept a schema that differs from the previous days'\n"
    "  --json                 print the result as JSON\n";

int cmd_publish(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, 0, 'c'},
        {"date", required_argument, 0, 'd'},
        {"schema-label", required_argument, 0, 'l'},
        {"allow-schema-change", no_argument, 0, 'a'},
        {"json", no_argument, 0, 'j'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *config = NULL, *date = NULL, *label = NULL;
    bool allow = false, json = false;
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case 'c':
            config = optarg;
            break;
        case 'd':
            date = optarg;
            break;
        case 'l':
            label = optarg;
            break;
        case 'a':
            allow = true;
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            fputs(USAGE, stdout);
            return 0;
        default:
            return cli_usage_error("publish", "unknown option");
        }
    }
    if (optind != argc - 2)
        return cli_usage_error("publish", "expected GRANT FILE");
    int64_t t;
    char yesterday[TG_TIME_BUF];
    if (date && (strlen(date) != 10 || time_parse_date(str_c(date), &t) < 0))
        return cli_usage_error("publish", "--date must be YYYY-MM-DD");
    if (!date) {
        time_fmt_date(tg_now() - 86400, yesterday);
        date = yesterday;
    }
    const char *grant = argv[optind], *file = argv[optind + 1];

    struct cli_app app;
    if (cli_app_open(config, CLI_OPEN_STORE | CLI_OPEN_GATE, &app) < 0)
        return 1;
    int status = 1;
    const struct gate_grant *gr = gate_grant_find(app.gate, str_c(grant));
    if (!gr) {
        fprintf(stderr, "tollgate publish: no grant '%s' in the configuration\n", grant);
        goto out;
    }
    struct publish_opts po = {app.store, app.set.bucket, gr, file, date, label, allow, tg_now()};
    struct publish_result r;
    char err[PUBLISH_ERRMSG_MAX];
    if (publish_run(&po, &r, err) < 0) {
        fprintf(stderr, "tollgate publish: %s\n", err);
        goto out;
    }
    if (r.warning[0])
        fprintf(stderr, "tollgate publish: warning: %s\n", r.warning);
    if (json) {
        cli_print_json(json_pack(
            "{s:s, s:s, s:b, s:s, s:I, s:I, s:I, s:s, s:s, s:s?, s:s?, s:I, s:I, s:b}", "grant",
            grant, "date", date, "noop", r.noop, "sha256", r.sha256, "rows", (json_int_t)r.rows,
            "row_groups", (json_int_t)r.row_groups, "size", (json_int_t)r.size, "fingerprint",
            r.fingerprint, "daily_key", r.daily_key, "mtd_key", r.mtd_key[0] ? r.mtd_key : NULL,
            "monthly_key", r.monthly_key[0] ? r.monthly_key : NULL, "mtd_rows",
            (json_int_t)r.mtd_rows, "mtd_days", (json_int_t)r.mtd_days, "spliced", r.spliced));
    } else if (r.noop) {
        printf("%s %s: identical to the published file (sha256 %.12s...): nothing to do\n", grant,
               date, r.sha256);
    } else {
        printf("published %s (%" PRIu64 " rows, sha256 %.12s...)\n", r.daily_key, r.rows, r.sha256);
        if (r.monthly_key[0])
            printf("froze the previous month as %s\n", r.monthly_key);
        if (r.mtd_key[0])
            printf("%s %s: %zu days, %" PRIu64 " rows\n", r.spliced ? "spliced into" : "updated",
                   r.mtd_key, r.mtd_days, r.mtd_rows);
    }
    status = 0;
out:
    cli_app_close(&app);
    return status;
}
