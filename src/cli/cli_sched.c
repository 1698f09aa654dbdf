/* cli_sched.c -- the scheduler of `tollgate serve`: one thread that, with no cron,
 *   - scans the inbox (publish_inbox_scan) every SCHED_INBOX_S seconds
 *     (TOLLGATE_SCHED_INTERVAL=<seconds> overrides it, for tests);
 *   - runs the lifecycle pass (retention, link-horizon-aware deletion, multipart abort,
 *     blob GC: lifecycle_apply) at start, hourly, and right after an inbox scan that
 *     published something, then rewrites the index of every grant whose listing
 *     changed (publish_index);
 *   - emits the events: published / rejected per inbox file, retired / deleted per
 *     lifecycle action;
 *   - logs one line per run with its counts (never a secret, a token or a URL query).
 * Decisions use the tollgate clock (tg_now: TOLLGATE_NOW-aware); only the wakeups use
 * real time. Stopping is bounded: the thread checks the stop flag between steps and
 * cli_sched_stop waits at most SCHED_STOP_WAIT_S for it. */
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "events/events.h"
#include "gate/gate.h"
#include "lifecycle/lifecycle.h"
#include "publish/publish.h"
#include "stats/stats.h"
#include "store/store.h"

#define SCHED_INBOX_S 15
#define SCHED_LIFECYCLE_S 3600
#define SCHED_STOP_WAIT_S 30 /* an inbox publish in flight finishes first */
#define SCHED_CHANGED_MAX 256

struct cli_sched {
    struct cli_app *app;
    struct lifecycle *lc;
    struct events *ev;
    struct stats *stats; /* raw analytics events expire with the lifecycle pass */
    int64_t inbox_s;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop, running;
    pthread_t thread;
    /* per run */
    unsigned published, noop, rejected;
    char *changed[SCHED_CHANGED_MAX];
    size_t n_changed;
};

static bool stopping(struct cli_sched *s)
{
    pthread_mutex_lock(&s->mu);
    bool v = s->stop;
    pthread_mutex_unlock(&s->mu);
    return v;
}

/* ---- inbox ---- */

static void on_inbox_item(void *ctx, const struct publish_inbox_item *it)
{
    struct cli_sched *s = ctx;
    json_t *p = json_object();
    json_object_set_new(p, "grant", json_string(it->grant ? it->grant : ""));
    json_object_set_new(p, "date", json_string(it->date ? it->date : ""));
    json_object_set_new(p, "source", json_string(it->key ? it->key : ""));
    json_object_set_new(p, "via", json_string("inbox"));
    if (it->ok && it->res) {
        const struct publish_result *r = it->res;
        json_object_set_new(p, "key", json_string(r->daily_key));
        json_object_set_new(p, "sha256", json_string(r->sha256));
        json_object_set_new(p, "rows", json_integer((json_int_t)r->rows));
        json_object_set_new(p, "size", json_integer((json_int_t)r->size));
        json_object_set_new(p, "noop", json_boolean(r->noop));
        if (r->mtd_key[0])
            json_object_set_new(p, "mtd_key", json_string(r->mtd_key));
        if (r->monthly_key[0])
            json_object_set_new(p, "monthly_key", json_string(r->monthly_key));
        if (r->noop)
            s->noop++;
        else
            s->published++;
        events_emit(s->ev, EV_PUBLISHED, p);
    } else if (it->ok) {
        s->published++;
        events_emit(s->ev, EV_PUBLISHED, p);
    } else {
        json_object_set_new(p, "reason", json_string(it->error ? it->error : "unknown error"));
        s->rejected++;
        events_emit(s->ev, EV_REJECTED, p);
    }
}

static void inbox_run(struct cli_sched *s)
{
    struct cli_app *app = s->app;
    struct publish_opts o = {0};
    o.store = app->store;
    o.bucket = app->set.bucket;
    o.now = tg_now();
    char err[PUBLISH_ERRMSG_MAX] = "";
    unsigned handled = 0;
    s->published = s->noop = s->rejected = 0;
    int64_t t0 = tg_monotonic_us();
    int rc = publish_inbox_scan(&o, app->gate, on_inbox_item, s, &handled, err);
    long long ms = (long long)(tg_monotonic_us() - t0) / 1000;
    if (rc < 0)
        tg_log_error("scheduler: inbox scan failed after %u files: %s", handled,
                     err[0] ? err : err_message(rc));
    else if (handled)
        tg_log_info("scheduler: inbox scan: %u files: %u published, %u unchanged, %u rejected "
                    "in %lldms",
                    handled, s->published, s->noop, s->rejected, ms);
    else
        tg_log_debug("scheduler: inbox scan: nothing to do (%lldms)", ms);
}

/* ---- lifecycle ---- */

static int on_action(void *ctx, const struct lifecycle_action *a)
{
    struct cli_sched *s = ctx;
    if (a->act != LC_RETIRE && a->act != LC_DELETE)
        return 0;
    json_t *p = json_object();
    json_object_set_new(p, "grant", a->grant ? json_string(a->grant) : json_null());
    json_object_set_new(p, "bucket", json_string(a->bucket ? a->bucket : ""));
    json_object_set_new(p, "key", json_string(a->key ? a->key : ""));
    json_object_set_new(p, "reason", json_string(a->why ? a->why : ""));
    if (a->horizon > 0) {
        char h[TG_TIME_BUF];
        time_fmt_iso8601(a->horizon, h);
        json_object_set_new(p, "link_horizon", json_string(h));
    }
    events_emit(s->ev, a->act == LC_RETIRE ? EV_RETIRED : EV_DELETED, p);
    return 0;
}

static void on_changed(void *ctx, const char *grant)
{
    struct cli_sched *s = ctx;
    for (size_t i = 0; i < s->n_changed; i++)
        if (strcmp(s->changed[i], grant) == 0)
            return;
    if (s->n_changed < SCHED_CHANGED_MAX) {
        char *g = strdup(grant);
        if (g)
            s->changed[s->n_changed++] = g;
    }
}

static void lifecycle_run(struct cli_sched *s, const char *why)
{
    struct cli_app *app = s->app;
    struct lifecycle_report rep = {0};
    int64_t t0 = tg_monotonic_us(), now = tg_now();
    s->n_changed = 0;
    int rc = lifecycle_apply(s->lc, now, on_action, on_changed, s, &rep);
    unsigned reindexed = 0, failed = 0;
    /* the indexes are rewritten after the pass, not from inside its callback */
    for (size_t i = 0; i < s->n_changed; i++) {
        const struct gate_grant *gr = gate_grant_find(app->gate, str_c(s->changed[i]));
        if (gr) {
            struct publish_opts o = {0};
            char err[PUBLISH_ERRMSG_MAX] = "";
            o.store = app->store;
            o.bucket = app->set.bucket;
            o.grant = gr;
            o.now = now;
            int irc = publish_index(&o, err);
            if (irc < 0) {
                failed++;
                tg_log_error("scheduler: cannot rewrite the index of %s: %s", gr->name,
                             err[0] ? err : err_message(irc));
            } else {
                reindexed++;
            }
        }
        free(s->changed[i]);
    }
    s->n_changed = 0;
    long long ms = (long long)(tg_monotonic_us() - t0) / 1000;
    if (rc < 0)
        tg_log_error("scheduler: lifecycle (%s) failed: %s", why, err_message(rc));
    else
        tg_log_info("scheduler: lifecycle (%s): %u retired, %u deleted, %u waiting for their "
                    "link horizon, %u uploads aborted, %u blobs removed (%" PRIu64
                    " bytes), %u indexes rewritten%s in %lldms",
                    why, rep.retired, rep.deleted, rep.waiting, rep.aborted_uploads,
                    rep.blobs_removed, rep.blob_bytes, reindexed, failed ? " (some failed)" : "",
                    ms);
    if (s->stats) {
        uint64_t gone = 0;
        int src = stats_expire(s->stats, now, &gone);
        if (src < 0)
            tg_log_error("scheduler: analytics expiry failed: %s", err_message(src));
        else if (gone)
            tg_log_info("scheduler: analytics: %" PRIu64 " raw events past raw_events_keep "
                        "deleted (their windows are kept)",
                        gone);
    }
}

/* ---- the thread ---- */

static void *sched_main(void *arg)
{
    struct cli_sched *s = arg;
    int64_t next_lc = 0; /* monotonic us: due at start */
    while (!stopping(s)) {
        inbox_run(s);
        if (stopping(s))
            break;
        if (s->published)
            lifecycle_run(s, "after publish");
        else if (tg_monotonic_us() >= next_lc)
            lifecycle_run(s, next_lc ? "hourly" : "start");
        else
            goto wait;
        next_lc = tg_monotonic_us() + (int64_t)SCHED_LIFECYCLE_S * 1000000;
    wait:
        pthread_mutex_lock(&s->mu);
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += s->inbox_s;
        while (!s->stop && pthread_cond_timedwait(&s->cv, &s->mu, &until) == 0)
            ;
        pthread_mutex_unlock(&s->mu);
    }
    return NULL;
}

int cli_sched_start(struct cli_app *app, struct lifecycle *lc, struct events *ev, struct stats *st,
                    struct cli_sched **out)
{
    struct cli_sched *s = calloc(1, sizeof *s);
    if (!s)
        return -ERR_NOMEM;
    s->app = app;
    s->lc = lc;
    s->ev = ev;
    s->stats = st;
    s->inbox_s = SCHED_INBOX_S;
    const char *iv = getenv("TOLLGATE_SCHED_INTERVAL");
    uint64_t v;
    if (iv && *iv) {
        if (str_to_u64(str_c(iv), &v) < 0 || v < 1 || v > 86400)
            tg_log_warn("scheduler: TOLLGATE_SCHED_INTERVAL=%s ignored (1..86400 seconds)", iv);
        else
            s->inbox_s = (int64_t)v;
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&s->thread, NULL, sched_main, s) != 0) {
        pthread_cond_destroy(&s->cv);
        pthread_mutex_destroy(&s->mu);
        free(s);
        return -ERR_INTERNAL;
    }
    s->running = true;
    tg_log_info("scheduler: inbox every %llds, lifecycle hourly and after each inbox publish",
                (long long)s->inbox_s);
    *out = s;
    return 0;
}

int cli_sched_stop(struct cli_sched *s)
{
    if (!s)
        return 0;
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += SCHED_STOP_WAIT_S;
    if (pthread_timedjoin_np(s->thread, NULL, &until) != 0) {
        tg_log_warn("scheduler: still busy after %ds; exiting without it", SCHED_STOP_WAIT_S);
        return -ERR_UNAVAILABLE; /* s stays allocated: the thread still uses it */
    }
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
    return 0;
}
