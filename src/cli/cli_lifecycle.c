/* cli_lifecycle.c -- `tollgate lifecycle plan|apply|status`: what the lifecycle pass
 * would do and why (plan), doing it and rewriting the index of every grant whose
 * listing changed (apply), and the last recorded run (status). Honours TOLLGATE_NOW. */
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
#include "stats/stats.h"
#include "store/store.h"

static const char USAGE[] =
    "usage: tollgate lifecycle plan|apply|status [--json]\n"
    "\n"
    "Retention (keep_daily, keep_monthly, keep_yearly of each [grant]), the [lifecycle NAME]\n"
    "rules and the S3 lifecycle configurations of the buckets:\n"
    "  plan    print what apply would do now, and why; changes nothing\n"
    "  apply   retire what is outside the policy (hidden at once, still downloadable),\n"
    "          delete what was retired once its last link has expired, abort old\n"
    "          multipart uploads, remove unreferenced blobs, rewrite changed indexes\n"
    "  status  the last recorded run\n"
    "  --json  print JSON\n";

struct out {
    const char *data_bucket;
    bool json;
    json_t *actions;
    unsigned n[4];
    char **changed;
    size_t n_changed;
};

static int on_action(void *ctx, const struct lifecycle_action *a)
{
    struct out *o = ctx;
    o->n[a->act]++;
    if (o->json) {
        json_t *j = json_pack("{s:s, s:s, s:s, s:s?, s:s}", "action", lifecycle_act_name(a->act),
                              "bucket", a->bucket, "key", a->key, "grant", a->grant, "why", a->why);
        if (!j)
            return -ERR_NOMEM;
        if (a->horizon) {
            char t[TG_TIME_BUF];
            time_fmt_iso8601(a->horizon, t);
            json_object_set_new(j, "link_horizon", json_string(t));
        }
        return json_array_append_new(o->actions, j) == 0 ? 0 : -ERR_NOMEM;
    }
    bool other = strcmp(a->bucket, o->data_bucket) != 0;
    printf("%-12s %s%s%s%s : %s\n", lifecycle_act_name(a->act), other ? "s3://" : "",
           other ? a->bucket : "", other ? "/" : "", a->key, a->why);
    return 0;
}

static void on_changed(void *ctx, const char *grant)
{
    struct out *o = ctx;
    char **n = realloc(o->changed, (o->n_changed + 1) * sizeof *n);
    if (!n)
        return;
    o->changed = n;
    if ((o->changed[o->n_changed] = strdup(grant)))
        o->n_changed++;
}

static json_t *report_json(const struct lifecycle_report *r)
{
    char t[TG_TIME_BUF];
    time_fmt_iso8601(r->ran_at, t);
    return json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b}", "ran_at", t, "retired",
                     (json_int_t)r->retired, "deleted", (json_int_t)r->deleted, "waiting",
                     (json_int_t)r->waiting, "aborted_uploads", (json_int_t)r->aborted_uploads,
                     "blobs_removed", (json_int_t)r->blobs_removed, "blob_bytes",
                     (json_int_t)r->blob_bytes, "grants_changed", (json_int_t)r->grants_changed,
                     "skipped", r->skipped ? 1 : 0);
}

int cmd_lifecycle(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, 0, 'c'},
        {"json", no_argument, 0, 'j'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *config = NULL;
    bool json = false;
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case 'c':
            config = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            fputs(USAGE, stdout);
            return 0;
        default:
            return cli_usage_error("lifecycle", "unknown option");
        }
    }
    if (optind != argc - 1)
        return cli_usage_error("lifecycle", "expected plan, apply or status");
    const char *verb = argv[optind];
    if (strcmp(verb, "plan") != 0 && strcmp(verb, "apply") != 0 && strcmp(verb, "status") != 0)
        return cli_usage_error("lifecycle", "'%s': expected plan, apply or status", verb);

    struct cli_app app;
    if (cli_app_open(config, CLI_OPEN_STORE | CLI_OPEN_GATE, &app) < 0)
        return 1;
    struct lifecycle *lc = NULL;
    struct out out = {app.set.bucket, json, json ? json_array() : NULL, {0}, NULL, 0};
    char *err = NULL;
    int status = 1, rc;
    int64_t now = tg_now();
    if ((rc = lifecycle_open(&app.cfg, app.store, app.meta, app.gate, app.set.bucket, &lc, &err)) <
        0) {
        fprintf(stderr, "tollgate lifecycle: %s\n", err ? err : err_message(rc));
        goto out;
    }
    if (strcmp(verb, "status") == 0) {
        struct lifecycle_report r;
        rc = lifecycle_last_run(lc, &r);
        if (rc == -ERR_NOT_FOUND) {
            if (json)
                cli_print_json(json_pack("{s:n}", "last_run"));
            else
                printf("the lifecycle has never run\n");
            status = 0;
            goto out;
        }
        if (rc < 0) {
            fprintf(stderr, "tollgate lifecycle: %s\n", err_message(rc));
            goto out;
        }
        if (json) {
            cli_print_json(json_pack("{s:o}", "last_run", report_json(&r)));
        } else {
            char t[TG_TIME_BUF];
            time_fmt_iso8601(r.ran_at, t);
            printf("last run %s: retired %u, deleted %u, waiting %u, aborted %u uploads, "
                   "removed %u blobs (%" PRIu64 " bytes)\n",
                   t, r.retired, r.deleted, r.waiting, r.aborted_uploads, r.blobs_removed,
                   r.blob_bytes);
        }
        status = 0;
        goto out;
    }
    if (strcmp(verb, "plan") == 0) {
        if ((rc = lifecycle_plan(lc, now, on_action, &out)) < 0) {
            fprintf(stderr, "tollgate lifecycle plan: %s\n", err_message(rc));
            goto out;
        }
        if (json) {
            char t[TG_TIME_BUF];
            time_fmt_iso8601(now, t);
            cli_print_json(json_pack("{s:s, s:O, s:{s:I, s:I, s:I, s:I}}", "now", t, "actions",
                                     out.actions, "counts", "retire", (json_int_t)out.n[LC_RETIRE],
                                     "delete", (json_int_t)out.n[LC_DELETE], "wait",
                                     (json_int_t)out.n[LC_WAIT], "abort_upload",
                                     (json_int_t)out.n[LC_ABORT_UPLOAD]));
        } else {
            printf("plan: %u to retire, %u to delete, %u waiting for their links to expire, "
                   "%u uploads to abort\n",
                   out.n[LC_RETIRE], out.n[LC_DELETE], out.n[LC_WAIT], out.n[LC_ABORT_UPLOAD]);
        }
        status = 0;
        goto out;
    }

    struct lifecycle_report r;
    if ((rc = lifecycle_apply(lc, now, on_action, on_changed, &out, &r)) < 0) {
        fprintf(stderr, "tollgate lifecycle apply: %s\n", err_message(rc));
        goto out;
    }
    status = 0;
    json_t *idx = json ? json_array() : NULL;
    for (size_t i = 0; i < out.n_changed; i++) {
        const struct gate_grant *gr = gate_grant_find(app.gate, str_c(out.changed[i]));
        if (!gr)
            continue;
        struct publish_opts po = {
            .store = app.store, .bucket = app.set.bucket, .grant = gr, .now = now};
        char perr[PUBLISH_ERRMSG_MAX];
        if (publish_index(&po, perr) < 0) {
            fprintf(stderr, "tollgate lifecycle apply: the index of %s: %s\n", gr->name, perr);
            status = 1;
            continue;
        }
        if (idx)
            json_array_append_new(idx, json_string(gr->name));
        else
            printf("rewrote _index/%s.json\n", gr->name);
    }
    /* raw analytics events past [stats] raw_events_keep go with the pass (their windows
     * are saved first) */
    uint64_t expired = 0;
    struct stats *st = NULL;
    char *serr = NULL;
    if (stats_open(&app.cfg, app.meta, &st, &serr) < 0 || stats_expire(st, now, &expired) < 0) {
        fprintf(stderr, "tollgate lifecycle apply: analytics expiry: %s\n", serr ? serr : "failed");
        status = 1;
    }
    free(serr);
    stats_close(st);
    if (json) {
        json_t *j = report_json(&r);
        json_object_set_new(j, "indexes", idx);
        json_object_set_new(j, "analytics_events_expired", json_integer((json_int_t)expired));
        json_object_set(j, "actions", out.actions);
        cli_print_json(j);
    } else if (r.skipped) {
        printf("skipped: another process (or node) is running the lifecycle pass\n");
    } else {
        printf("applied: retired %u, deleted %u, waiting %u, aborted %u uploads, "
               "removed %u blobs (%" PRIu64 " bytes), %u grants changed\n",
               r.retired, r.deleted, r.waiting, r.aborted_uploads, r.blobs_removed, r.blob_bytes,
               r.grants_changed);
        if (expired)
            printf("analytics: %" PRIu64 " raw events past raw_events_keep deleted (their "
                   "windows are kept)\n",
                   expired);
    }
out:
    free(err);
    for (size_t i = 0; i < out.n_changed; i++)
        free(out.changed[i]);
    free(out.changed);
    json_decref(out.actions);
    lifecycle_close(lc);
    cli_app_close(&app);
    return status;
}
