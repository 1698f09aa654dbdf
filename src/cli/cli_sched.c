/* cli_sched.c -- the scheduler of `tollgate serve`: one thread that, with no cron,
 *   - scans the inbox (publish_inbox_scan) every SCHED_INBOX_S seconds
 *     (TOLLGATE_SCHED_INTERVAL=<seconds> overrides it, for tests);
 *   - runs the lifecycle pass (retention, link-horizon-aware deletion, multipart abort,
 *     blob GC: lifecycle_apply) at start, hourly, and right after an inbox scan that
 *     published something, then rewrites the index of every grant whose listing
 *     changed (publish_index);
 *   - emits the events: published / rejected per inbox file, retired / deleted per
 *     lifecycle action, and published for a daily that appeared in a grant's index
 *     without the inbox (`tollgate publish` in another process);
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
#include <unistd.h>

#include "cli/cli.h"
#include "events/events.h"
#include "gate/gate.h"
#include "lifecycle/lifecycle.h"
#include "meta/meta.h"
#include "publish/publish.h"
#include "stats/stats.h"
#include "store/store.h"

#define SCHED_INBOX_S 15
#define SCHED_LIFECYCLE_S 3600
#define SCHED_STOP_WAIT_S 30 /* an inbox publish in flight finishes first */
#define SCHED_CHANGED_MAX 256
#define SCHED_INBOX_LEASE "inbox"
#define SCHED_INBOX_LEASE_S 600 /* longer than a scan of a full inbox */

#define SCHED_INDEX_MAX (4u << 20) /* an _index/<grant>.json read to watch it */

struct sched_watch {
    bool seen;
    char etag[STORE_ETAG_MAX];
    json_t *daily; /* array of keys */
};

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
    /* the dailies each grant's index listed at the last look (watch_indexes) */
    struct sched_watch *watch;
    size_t n_watch;
    json_t *inbox_keys; /* daily keys the inbox published this run: already announced */
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
        json_array_append_new(s->inbox_keys, json_string(r->daily_key));
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
    /* one node at a time scans the inbox (a lease, wall clock; a dead holder's expires) */
    char holder[128], host[64] = "";
    bool got = false;
    gethostname(host, sizeof host - 1);
    snprintf(holder, sizeof holder, "%s:%ld", host, (long)getpid());
    int lrc = meta_lease_try(app->meta, SCHED_INBOX_LEASE, holder, (int64_t)time(NULL),
                             SCHED_INBOX_LEASE_S, &got);
    if (lrc < 0 || !got) {
        if (lrc < 0)
            tg_log_warn("scheduler: inbox lease: %s", err_message(lrc));
        else
            tg_log_debug("scheduler: inbox scan: another node holds the lease");
        return;
    }
    int rc = publish_inbox_scan(&o, app->gate, on_inbox_item, s, &handled, err);
    meta_lease_release(app->meta, SCHED_INBOX_LEASE, holder);
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
    else if (rep.skipped)
        tg_log_info("scheduler: lifecycle (%s): skipped, another node holds the lease", why);
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

/* ---- publishes by other processes ---- */

/* `tollgate publish` runs in its own process, so its events cannot reach this bus
 * directly; the grants' indexes tell. A daily key that appears in an index (and that the
 * inbox did not just publish) is announced as published, via "publish". The first look
 * after start only records: what was there before is not news. */
static json_t *index_read(struct cli_sched *s, const char *key, struct store_obj_info *info)
{
    int fd = -1;
    json_t *j = NULL;
    if (store_obj_open(s->app->store, str_c(s->app->set.bucket), str_c(key), info, &fd) < 0)
        return NULL;
    char *p = info->size <= SCHED_INDEX_MAX ? malloc(info->size + 1) : NULL;
    size_t got = 0;
    while (p && got < info->size) {
        ssize_t n = pread(fd, p + got, info->size - got, (off_t)got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    if (p && got == info->size)
        j = json_loadb(p, got, 0, NULL);
    free(p);
    close(fd);
    return j;
}

static bool has_key(json_t *arr, const char *k)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        const char *x =
            json_is_string(v) ? json_string_value(v) : json_string_value(json_object_get(v, "key"));
        if (x && strcmp(x, k) == 0)
            return true;
    }
    return false;
}

static void watch_indexes(struct cli_sched *s)
{
    struct gate *g = s->app->gate;
    size_t n = gate_grant_count(g);
    if (s->n_watch < n) {
        struct sched_watch *w = realloc(s->watch, n * sizeof *w);
        if (!w)
            return;
        memset(w + s->n_watch, 0, (n - s->n_watch) * sizeof *w);
        s->watch = w;
        s->n_watch = n;
    }
    unsigned announced = 0;
    for (size_t i = 0; i < n; i++) {
        const struct gate_grant *gr = gate_grant_at(g, i);
        struct sched_watch *w = &s->watch[i];
        char key[GATE_NAME_MAX + 16];
        snprintf(key, sizeof key, "_index/%s.json", gr->name);
        struct store_obj_info info = {0};
        json_t *idx = index_read(s, key, &info);
        if (idx && w->seen && strcmp(info.etag, w->etag) == 0) {
            json_decref(idx);
            store_obj_info_release(&info);
            continue;
        }
        json_t *daily = idx ? json_incref(json_object_get(idx, "daily")) : NULL;
        if (!json_is_array(daily)) {
            json_decref(daily);
            daily = json_array();
        }
        size_t k;
        json_t *v;
        json_array_foreach(daily, k, v)
        {
            const char *dk = json_is_string(v) ? json_string_value(v)
                                               : json_string_value(json_object_get(v, "key"));
            if (!w->seen || !dk || has_key(w->daily, dk) || has_key(s->inbox_keys, dk))
                continue;
            const char *d = strstr(dk, "daily/");
            char date[11] = "";
            if (d && strlen(d + 6) >= 10)
                snprintf(date, sizeof date, "%.10s", d + 6);
            json_t *p = json_pack("{s:s, s:s, s:s, s:s}", "grant", gr->name, "date", date, "key",
                                  dk, "via", "publish");
            events_emit(s->ev, EV_PUBLISHED, p);
            announced++;
        }
        json_decref(w->daily);
        w->daily = daily;
        w->seen = true;
        snprintf(w->etag, sizeof w->etag, "%s", idx ? info.etag : "");
        json_decref(idx);
        store_obj_info_release(&info);
    }
    if (announced)
        tg_log_info("scheduler: %u dailies published by another process announced", announced);
}

/* ---- the thread ---- */

static void *sched_main(void *arg)
{
    struct cli_sched *s = arg;
    int64_t next_lc = 0; /* monotonic us: due at start */
    while (!stopping(s)) {
        json_array_clear(s->inbox_keys);
        inbox_run(s);
        if (stopping(s))
            break;
        if (s->published) {
            lifecycle_run(s, "after publish");
            next_lc = tg_monotonic_us() + (int64_t)SCHED_LIFECYCLE_S * 1000000;
        } else if (tg_monotonic_us() >= next_lc) {
            lifecycle_run(s, next_lc ? "hourly" : "start");
            next_lc = tg_monotonic_us() + (int64_t)SCHED_LIFECYCLE_S * 1000000;
        }
        watch_indexes(s);
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

static void sched_free(struct cli_sched *s)
{
    for (size_t i = 0; i < s->n_watch; i++)
        json_decref(s->watch[i].daily);
    free(s->watch);
    json_decref(s->inbox_keys);
    free(s);
}

int cli_sched_start(struct cli_app *app, struct lifecycle *lc, struct events *ev, struct stats *st,
                    struct cli_sched **out)
{
    struct cli_sched *s = calloc(1, sizeof *s);
    if (!s || !(s->inbox_keys = json_array())) {
        free(s);
        return -ERR_NOMEM;
    }
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
        sched_free(s);
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
    sched_free(s);
    return 0;
}
