/* cli_serve.c -- `tollgate serve`: opens the data directory and the gate, wires the
 * routes (S3 API as the default, /healthz, the portal's /downloads/, /api/downloads/,
 * /admin, /api/admin/ -- with status and events --, /static/), starts the scheduler
 * (cli_sched.c: inbox, lifecycle, events) and the webhook deliverer, serves until
 * SIGINT/SIGTERM, then stops the scheduler, ends the event streams and drains in-flight
 * requests for at most drain_timeout (default 5 s). Signals are taken with sigwait on
 * the main thread; every other thread has them blocked. */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <time.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "events/events.h"
#include "gate/gate.h"
#include "http/http.h"
#include "lifecycle/lifecycle.h"
#include "meta/meta.h"
#include "portal/portal.h"
#include "s3/s3.h"
#include "stats/stats.h"
#include "store/store.h"

static const char USAGE[] =
    "usage: tollgate serve [--config FILE] [--listen ADDR]\n"
    "\n"
    "Serves the S3 API (path-style: http://HOST:PORT/BUCKET/KEY), the member portal\n"
    "(/downloads/GRANT?t=TOKEN, /api/downloads/GRANT), the admin pages (/admin) and API\n"
    "(/api/admin/, with /api/admin/status and the event stream /api/admin/events), and\n"
    "/healthz from the data directory of the configuration. A scheduler publishes what\n"
    "lands in inbox/GRANT/DATE.EXT every 15 s and runs the lifecycle pass hourly and\n"
    "after each inbox publish; webhooks ([webhook NAME]) get the events.\n"
    "Listen address and data directory come from\n"
    "the config ([server] listen, data_dir); --listen overrides the address (port 0\n"
    "picks a free port; the bound address is logged as 'listening on ...').\n"
    "SIGINT or SIGTERM stop accepting, let in-flight requests finish for at most\n"
    "[server] drain_timeout (5s), and exit 0.\n";

/* Names other routes own: never S3 buckets. */
static const char *const RESERVED[] = {"downloads", "api",    "admin", "healthz",
                                       "metrics",   "static", NULL};

/* Links minted by the gate are checked again when redeemed through the S3 API. */
static int link_redeem(void *ctx, struct str query, bool count, int64_t now)
{
    return gate_link_redeem(ctx, query, count, now);
}

static int secret_lookup(void *ctx, struct str akid, char *secret, size_t cap)
{
    return meta_key_secret(ctx, akid, secret, cap);
}

struct health {
    struct store *store;
};

static int count_bucket(void *ctx, const struct store_bucket *b)
{
    (*(unsigned *)ctx)++;
    return 0;
}

static int health_headers(struct http_req *req, void *app)
{
    return 0;
}

static void health_done(struct http_req *req, void *app)
{
    struct health *h = app;
    unsigned n = 0;
    int rc = store_bucket_list(h->store, count_bucket, &n);
    if (rc < 0)
        http_respond_text(req, 503, "text/plain", "unavailable: the metadata database failed\n");
    else
        http_respond_text(req, 200, "text/plain", "ok\n");
}

/* GET /api/admin/status: the health JSON with the last lifecycle run. The status
 * handle is its own lifecycle (one caller at a time each): the scheduler owns the other. */
struct status {
    struct cli_app *app;
    struct lifecycle *lc;
    pthread_mutex_t mu;
};

static int status_build(void *ctx, int64_t now, void **out)
{
    struct status *st = ctx;
    char err[256] = "";
    pthread_mutex_lock(&st->mu);
    int rc = cli_health_json(st->app, st->lc, NULL, 0, true, now, out, err);
    pthread_mutex_unlock(&st->mu);
    if (rc < 0)
        tg_log_error("status: %s", err[0] ? err : err_message(rc));
    return rc;
}

/* /metrics: the HTTP server's counters (the server is made after the portal). */
static int http_counts(void *ctx,
                       int (*fn)(void *fctx, const char *kind, int status_class, uint64_t requests,
                                 uint64_t bytes),
                       void *fctx)
{
    struct http_server *const *srv = ctx;
    return *srv ? http_server_counts_each(*srv, fn, fctx) : 0;
}

/* /metrics: per grant the last successful publish (its MTD's built_at, else the newest
 * daily's date), and the last lifecycle run. */
static int metrics_extra(void *ctx, int64_t now, struct buf *b)
{
    struct status *st = ctx;
    json_t *h = NULL;
    int rc = status_build(st, now, (void **)&h);
    if (rc < 0)
        return 0; /* logged; the other metrics still go out */
    buf_adds(b, "# HELP tollgate_publish_last_success_timestamp_seconds When a grant was last "
                "published (its month-to-date bundle's built_at, else its newest daily date).\n"
                "# TYPE tollgate_publish_last_success_timestamp_seconds gauge\n");
    size_t i;
    json_t *g;
    json_array_foreach(json_object_get(h, "grants"), i, g)
    {
        const char *built = json_string_value(json_object_get(g, "mtd_built_at"));
        const char *day = json_string_value(json_object_get(g, "newest_daily"));
        int64_t t = 0;
        if (!(built && time_parse_iso8601(str_c(built), &t) == 0) && day)
            time_parse_date(str_c(day), &t);
        if (t)
            buf_printf(
                b, "tollgate_publish_last_success_timestamp_seconds{grant=\"%s\"} %" PRId64 "\n",
                json_string_value(json_object_get(g, "grant")), t);
    }
    json_decref(h);
    struct lifecycle_report rep, tot;
    pthread_mutex_lock(&st->mu);
    rc = lifecycle_last_run(st->lc, &rep);
    int trc = lifecycle_totals(st->lc, &tot);
    pthread_mutex_unlock(&st->mu);
    if (trc == 0)
        buf_printf(b,
                   "# HELP tollgate_lifecycle_objects_total Objects retired and deleted by "
                   "every lifecycle pass recorded in the data directory.\n"
                   "# TYPE tollgate_lifecycle_objects_total counter\n"
                   "tollgate_lifecycle_objects_total{action=\"retired\"} %u\n"
                   "tollgate_lifecycle_objects_total{action=\"deleted\"} %u\n"
                   "# HELP tollgate_lifecycle_blobs_removed_total Blobs collected by the "
                   "lifecycle passes.\n# TYPE tollgate_lifecycle_blobs_removed_total counter\n"
                   "tollgate_lifecycle_blobs_removed_total %u\n",
                   tot.retired, tot.deleted, tot.blobs_removed);
    if (rc == 0)
        buf_printf(b,
                   "# HELP tollgate_lifecycle_last_run_timestamp_seconds When the lifecycle pass "
                   "last ran.\n# TYPE tollgate_lifecycle_last_run_timestamp_seconds gauge\n"
                   "tollgate_lifecycle_last_run_timestamp_seconds %" PRId64 "\n"
                   "# HELP tollgate_lifecycle_last_run_objects Objects the last lifecycle pass "
                   "retired, deleted, or left for their link horizon.\n"
                   "# TYPE tollgate_lifecycle_last_run_objects gauge\n"
                   "tollgate_lifecycle_last_run_objects{action=\"retired\"} %u\n"
                   "tollgate_lifecycle_last_run_objects{action=\"deleted\"} %u\n"
                   "tollgate_lifecycle_last_run_objects{action=\"waiting\"} %u\n",
                   rep.ran_at, rep.retired, rep.deleted, rep.waiting);
    return 0;
}

static int open_lifecycle(struct cli_app *app, struct lifecycle **out)
{
    char *err = NULL;
    int rc =
        lifecycle_open(&app->cfg, app->store, app->meta, app->gate, app->set.bucket, out, &err);
    if (rc < 0) {
        fprintf(stderr, "tollgate serve: %s\n", err ? err : err_message(rc));
        free(err);
    }
    return rc;
}

int cmd_serve(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, 0, 'c'},
        {"listen", required_argument, 0, 'l'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *config = NULL, *listen = NULL;
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case 'c':
            config = optarg;
            break;
        case 'l':
            listen = optarg;
            break;
        case 'h':
            fputs(USAGE, stdout);
            return 0;
        default:
            return cli_usage_error("serve", "unknown option");
        }
    }
    if (optind != argc)
        return cli_usage_error("serve", "unexpected argument '%s'", argv[optind]);

    /* Block the stop signals before any thread starts, so only sigwait sees them. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct cli_app app;
    if (cli_app_open(config, CLI_OPEN_STORE | CLI_OPEN_GATE, &app) < 0)
        return 1;
    struct s3_api *api = NULL;
    struct portal *portal = NULL;
    struct http_server *srv = NULL;
    struct events *ev = NULL;
    struct lifecycle *lc_sched = NULL;
    struct status stat = {&app, NULL, PTHREAD_MUTEX_INITIALIZER};
    struct cli_sched *sched = NULL;
    struct stats *st = NULL;
    int rc, status = 1;
    char *err = NULL;
    if ((rc = events_open(&app.cfg, &ev, &err)) < 0 ||
        (rc = stats_open(&app.cfg, app.meta, &st, &err)) < 0) {
        fprintf(stderr, "tollgate serve: %s\n", err ? err : err_message(rc));
        free(err);
        goto out;
    }
    void *probe = NULL; /* the [health] keys are checked now, not at the first request */
    char herr[256] = "";
    if ((rc = cli_health_json(&app, NULL, NULL, 0, false, tg_now(), &probe, herr)) < 0) {
        fprintf(stderr, "tollgate serve: %s\n", herr);
        goto out;
    }
    json_decref(probe);
    if ((rc = open_lifecycle(&app, &lc_sched)) < 0 || (rc = open_lifecycle(&app, &stat.lc)) < 0)
        goto out;
    struct s3_api_config s3c = {
        .store = app.store,
        .secret = secret_lookup,
        .secret_ctx = app.meta,
        .region = app.set.region,
        .max_put_size = app.set.max_put_size,
        .reserved = RESERVED,
        .redeem = link_redeem,
        .redeem_ctx = app.gate,
        .meta = app.meta,
        .stats = stats_settings(st)->enabled ? st : NULL, /* off: no per-request work */
    };
    if ((rc = s3_api_new(&s3c, &api)) < 0)
        goto out;
    struct portal_config pc = {
        .gate = app.gate,
        .store = app.store,
        .meta = app.meta,
        .bucket = app.set.bucket,
        .public_url = app.set.public_url,
        .events = ev,
        .status = status_build,
        .status_ctx = &stat,
        .stats = st,
        .http_counts = http_counts,
        .http_counts_ctx = &srv,
        .metrics_extra = metrics_extra,
        .metrics_extra_ctx = &stat,
        .metrics_public = stats_settings(st)->metrics_public,
    };
    if ((rc = portal_new(&pc, &portal)) < 0)
        goto out;
    struct http_config hc = {
        .listen = listen ? listen : app.set.listen,
        .threads = (unsigned)app.set.threads,
        .connection_limit = (unsigned)app.set.connection_limit,
        .header_timeout_s = (unsigned)app.set.header_timeout,
        .idle_timeout_s = (unsigned)app.set.idle_timeout,
        .drain_timeout_s = (unsigned)app.set.drain_timeout,
        .log_requests = app.set.log_requests,
    };
    if ((rc = http_server_new(&hc, &srv)) < 0) {
        fprintf(stderr, "tollgate serve: %s: %s\n", hc.listen, err_message(rc));
        goto out;
    }
    struct http_handler s3h;
    s3_api_handler(api, &s3h);
    struct health health = {app.store};
    struct http_handler hh = {"health", health_headers, NULL, health_done, NULL, &health};
    http_server_default(srv, &s3h);
    http_server_route(srv, "/healthz", &hh);
    /* Portal routes: member pages and API, admin, the compiled-in CSS. */
    struct http_handler pm, pa, ps, pmet;
    portal_member_handler(portal, &pm);
    portal_admin_handler(portal, &pa);
    portal_static_handler(portal, &ps);
    portal_metrics_handler(portal, &pmet);
    http_server_route(srv, "/metrics", &pmet);
    http_server_route(srv, "/downloads/", &pm);
    http_server_route(srv, "/api/downloads/", &pm);
    http_server_route(srv, "/admin", &pa);
    http_server_route(srv, "/admin/", &pa);
    http_server_route(srv, "/api/admin/", &pa);
    http_server_route(srv, "/static/", &ps);
    if ((rc = http_server_start(srv)) < 0) {
        fprintf(stderr, "tollgate serve: cannot listen on %s: %s\n", hc.listen, err_message(rc));
        goto out;
    }
    char host[128];
    snprintf(host, sizeof host, "%s", hc.listen);
    char *colon = strrchr(host, ':');
    if (colon)
        *colon = '\0';
    tg_log_info("tollgate listening on http://%s:%u (data %s, region %s, bucket %s)",
                host[0] ? host : "0.0.0.0", http_server_port(srv), app.set.data_dir, app.set.region,
                app.set.bucket);
    if ((rc = events_start(ev)) < 0)
        tg_log_error("webhooks: cannot start the delivery thread: %s", err_message(rc));
    if ((rc = cli_sched_start(&app, lc_sched, ev, st, &sched)) < 0)
        tg_log_error("scheduler: cannot start: %s", err_message(rc));
    int sig = 0;
    sigwait(&sigs, &sig);
    bool sched_stuck = cli_sched_stop(sched) < 0;
    events_shutdown(ev); /* event streams end, so the drain does not wait for them */
    tg_log_info("tollgate: %s received: draining (at most %llds)",
                sig == SIGINT ? "SIGINT" : "SIGTERM", (long long)app.set.drain_timeout);
    http_server_stop(srv);
    if (!sched_stuck) {  /* a stuck scheduler may still record: then stats stay open */
        stats_close(st); /* the last events */
        st = NULL;
    }
    tg_log_info("tollgate: stopped");
    status = 0;
    if (sched_stuck) {
        /* the scheduler thread still uses the store: leave everything to the exit */
        http_server_free(srv);
        return status;
    }
out:
    http_server_free(srv);
    portal_free(portal);
    s3_api_free(api);
    stats_close(st);
    events_close(ev);
    lifecycle_close(stat.lc);
    lifecycle_close(lc_sched);
    cli_app_close(&app);
    return status;
}
