/* cli_publish.c -- `tollgate publish GRANT FILE`: one day's file for a grant through
 * src/publish (daily object and manifest, MTD append or splice, the monthly bundle of an
 * ended month, the grant's index), then one lifecycle pass (retention; indexes of the
 * grants it changed rewritten). `tollgate publish --inbox`: one scan of the inbox. */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "gate/gate.h"
#include "lifecycle/lifecycle.h"
#include "publish/publish.h"
#include "store/store.h"

static const char USAGE[] =
    "usage: tollgate publish GRANT FILE [--date YYYY-MM-DD] [--schema-label L]\n"
    "                        [--columns a,b,c] [--allow-schema-change] [--json]\n"
    "       tollgate publish --inbox [--json]\n"
    "\n"
    "Publishes FILE as GRANT's file for DATE (default: yesterday, UTC): the daily\n"
    "object and manifest, the month-to-date bundle (Parquet row groups appended or\n"
    "spliced; CSV and JSON-lines, gzip too, concatenated with one header), the\n"
    "monthly bundle of an ended month (frozen at rollover, rebuilt for a late day),\n"
    "and the grant's index; then one lifecycle pass. Other formats get a daily\n"
    "object and manifest only. Re-publishing identical bytes changes nothing unless\n"
    "something stored is out of line (it is repaired).\n"
    "  --date D               the UTC date the file covers\n"
    "  --schema-label L       a label for the schema (kept in the manifests)\n"
    "  --columns a,b,c        publish a projection of FILE (Parquet): these columns\n"
    "  --allow-schema-change  accept a schema that differs from the previous days'\n"
    "  --inbox                publish what waits under inbox/<grant>/<YYYY-MM-DD>.<ext>\n"
    "  --json                 print the result as JSON\n";

static json_t *result_json(const char *grant, const char *date, const struct publish_result *r)
{
    bool other = strcmp(r->format, "other") == 0; /* rows unknown */
    return json_pack("{s:s, s:s, s:b, s:s, s:s, s:o, s:I, s:I, s:s, s:s, s:s?, s:s?, s:I, s:I, "
                     "s:b, s:I, s:s?}",
                     "grant", grant, "date", date, "noop", r->noop, "format", r->format, "sha256",
                     r->sha256, "rows", other ? json_null() : json_integer((json_int_t)r->rows),
                     "row_groups", (json_int_t)r->row_groups, "size", (json_int_t)r->size,
                     "fingerprint", r->fingerprint, "daily_key", r->daily_key, "mtd_key",
                     r->mtd_key[0] ? r->mtd_key : NULL, "monthly_key",
                     r->monthly_key[0] ? r->monthly_key : NULL, "mtd_rows", (json_int_t)r->mtd_rows,
                     "mtd_days", (json_int_t)r->mtd_days, "spliced", r->spliced, "repaired",
                     (json_int_t)r->repaired, "warning", r->warning[0] ? r->warning : NULL);
}

struct lc_ctx {
    struct cli_app *app;
    int64_t now;
};
static void on_changed(void *ctx, const char *grant)
{
    struct lc_ctx *l = ctx;
    const struct gate_grant *gr = gate_grant_find(l->app->gate, str_c(grant));
    if (!gr)
        return;
    struct publish_opts po = {
        .store = l->app->store, .bucket = l->app->set.bucket, .grant = gr, .now = l->now};
    char err[PUBLISH_ERRMSG_MAX];
    if (publish_index(&po, err) < 0)
        fprintf(stderr, "tollgate publish: warning: %s\n", err);
}

/* Retention after a publish; a failure here is a warning: the publish itself stands. */
static void lifecycle_pass(struct cli_app *app, int64_t now)
{
    struct lifecycle *lc = NULL;
    char *lerr = NULL;
    if (lifecycle_open(&app->cfg, app->store, app->meta, app->gate, app->set.bucket, &lc, &lerr) <
        0) {
        fprintf(stderr, "tollgate publish: warning: lifecycle not run: %s\n",
                lerr ? lerr : "cannot open");
        free(lerr);
        return;
    }
    struct lc_ctx l = {app, now};
    if (lifecycle_apply(lc, now, NULL, on_changed, &l, NULL) < 0)
        fprintf(stderr, "tollgate publish: warning: the lifecycle pass failed\n");
    lifecycle_close(lc);
}

struct inbox_out {
    bool json;
    json_t *items;
    unsigned failed;
};
static void on_item(void *ctx, const struct publish_inbox_item *it)
{
    struct inbox_out *io = ctx;
    if (!it->ok)
        io->failed++;
    if (io->json) {
        json_t *j = json_pack("{s:s, s:s?, s:s?, s:b, s:s?}", "key", it->key, "grant", it->grant,
                              "date", it->date, "ok", it->ok, "error", it->error);
        if (it->res)
            json_object_set_new(j, "result", result_json(it->grant, it->date, it->res));
        json_array_append_new(io->items, j);
    } else if (it->ok) {
        printf("published %s as %s%s\n", it->key, it->res->daily_key,
               it->res->noop ? " (identical: nothing to do)" : "");
    } else {
        printf("rejected %s: %s\n", it->key, it->error);
    }
}

static int run_inbox(struct cli_app *app, bool json)
{
    struct publish_opts po = {.store = app->store, .bucket = app->set.bucket, .now = tg_now()};
    struct inbox_out io = {json, json_array(), 0};
    unsigned handled = 0;
    char err[PUBLISH_ERRMSG_MAX];
    int rc = publish_inbox_scan(&po, app->gate, on_item, &io, &handled, err);
    if (rc < 0) {
        fprintf(stderr, "tollgate publish: %s\n", err);
        json_decref(io.items);
        return 1;
    }
    if (handled > io.failed)
        lifecycle_pass(app, po.now);
    if (json)
        cli_print_json(json_pack("{s:I, s:I, s:o}", "handled", (json_int_t)handled, "rejected",
                                 (json_int_t)io.failed, "items", io.items));
    else {
        json_decref(io.items);
        if (!handled)
            printf("the inbox is empty\n");
    }
    return 0;
}

int cmd_publish(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, 0, 'c'},
        {"date", required_argument, 0, 'd'},
        {"schema-label", required_argument, 0, 'l'},
        {"columns", required_argument, 0, 'C'},
        {"allow-schema-change", no_argument, 0, 'a'},
        {"inbox", no_argument, 0, 'i'},
        {"json", no_argument, 0, 'j'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *config = NULL, *date = NULL, *label = NULL, *columns = NULL;
    bool allow = false, json = false, inbox = false;
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
        case 'C':
            columns = optarg;
            break;
        case 'a':
            allow = true;
            break;
        case 'i':
            inbox = true;
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
    if (inbox && optind != argc)
        return cli_usage_error("publish", "--inbox takes no GRANT or FILE");
    if (!inbox && optind != argc - 2)
        return cli_usage_error("publish", "expected GRANT FILE");
    int64_t t;
    char yesterday[TG_TIME_BUF];
    if (date && (strlen(date) != 10 || time_parse_date(str_c(date), &t) < 0))
        return cli_usage_error("publish", "--date must be YYYY-MM-DD");
    if (!date) {
        time_fmt_date(tg_now() - 86400, yesterday);
        date = yesterday;
    }

    struct cli_app app;
    if (cli_app_open(config, CLI_OPEN_STORE | CLI_OPEN_GATE, &app) < 0)
        return 1;
    int status = 1;
    if (inbox) {
        status = run_inbox(&app, json);
        goto out;
    }
    const char *grant = argv[optind], *file = argv[optind + 1];
    const struct gate_grant *gr = gate_grant_find(app.gate, str_c(grant));
    if (!gr) {
        fprintf(stderr, "tollgate publish: no grant '%s' in the configuration\n", grant);
        goto out;
    }
    struct publish_opts po = {.store = app.store,
                              .bucket = app.set.bucket,
                              .grant = gr,
                              .file = file,
                              .date = date,
                              .schema_label = label,
                              .allow_schema_change = allow,
                              .now = tg_now(),
                              .columns = columns};
    struct publish_result r;
    char err[PUBLISH_ERRMSG_MAX];
    if (publish_run(&po, &r, err) < 0) {
        fprintf(stderr, "tollgate publish: %s\n", err);
        goto out;
    }
    if (r.warning[0])
        fprintf(stderr, "tollgate publish: warning: %s\n", r.warning);
    if (json) {
        cli_print_json(result_json(grant, date, &r));
    } else if (r.noop) {
        printf("%s %s: identical to the published file (sha256 %.12s...): nothing to do\n", grant,
               date, r.sha256);
    } else {
        if (strcmp(r.format, "other") == 0)
            printf("published %s (sha256 %.12s...)\n", r.daily_key, r.sha256);
        else
            printf("published %s (%" PRIu64 " rows, sha256 %.12s...)\n", r.daily_key, r.rows,
                   r.sha256);
        if (r.mtd_key[0])
            printf("%s %s: %zu days, %" PRIu64 " rows\n", r.spliced ? "spliced into" : "updated",
                   r.mtd_key, r.mtd_days, r.mtd_rows);
        if (r.monthly_key[0])
            printf("monthly bundle %s%s\n", r.monthly_key,
                   r.mtd_key[0] ? " (the previous month, frozen)" : " (rebuilt with the late day)");
        if (r.repaired)
            printf("repaired %u object(s) left out of line by an earlier publish\n", r.repaired);
    }
    lifecycle_pass(&app, po.now);
    status = 0;
out:
    cli_app_close(&app);
    return status;
}
