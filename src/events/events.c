/* events.c -- the operator event bus: a ring of the last EVENTS_RING_MAX events and the
 * SSE subscribers that read it by cursor.
 *
 * Invariants: sequence ids start at 1 and grow by one per event; event s sits in
 * ring[(s - 1) % EVENTS_RING_MAX] until event s + EVENTS_RING_MAX replaces it, so the
 * ring always holds exactly the events max(1, last - RING_MAX + 1) .. last. A subscriber
 * is a cursor (the last seq it was sent); it never blocks the emitter: when it falls
 * behind, the emitter overwrites and the subscriber is told how many it lost. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "events/events_int.h"

const char *const events_config_keys[] = {
    "webhook *.url",           "webhook *.secret",         "webhook *.events",
    "health.stale_after_hour", "health.lifecycle_max_age", NULL,
};

static const char *const KIND_NAMES[EV_KINDS] = {"published", "retired", "deleted", "rejected"};

const char *events_kind_name(enum events_kind k)
{
    return (unsigned)k < EV_KINDS ? KIND_NAMES[k] : "unknown";
}

int events_open(const struct cfg *c, struct events **out, char **err)
{
    struct events *ev = calloc(1, sizeof *ev);
    if (!ev)
        return -ERR_NOMEM;
    pthread_mutex_init(&ev->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&ev->cv, &ca);
    pthread_cond_init(&ev->wcv, &ca);
    pthread_condattr_destroy(&ca);
    int rc = c ? events_webhook_parse(c, ev, err) : 0;
    if (rc < 0) {
        events_close(ev);
        return rc;
    }
    *out = ev;
    return 0;
}

size_t events_webhook_count(const struct events *ev)
{
    return ev ? ev->n_hooks : 0;
}

void events_close(struct events *ev)
{
    if (!ev)
        return;
    events_webhook_stop(ev);
    if (ev->thread_running)
        return; /* the thread did not stop in time: it still uses ev, so ev stays */
    for (size_t i = 0; i < EVENTS_RING_MAX; i++)
        free(ev->ring[i].json);
    events_webhook_free(ev);
    pthread_cond_destroy(&ev->cv);
    pthread_cond_destroy(&ev->wcv);
    pthread_mutex_destroy(&ev->mu);
    free(ev);
}

static void notify_all(struct events *ev)
{
    for (size_t i = 0; i < EVENTS_SUBSCRIBERS_MAX; i++)
        if (ev->subs[i] && ev->subs[i]->notify)
            ev->subs[i]->notify(ev->subs[i]->notify_ctx);
}

uint64_t events_emit(struct events *ev, enum events_kind kind, void *payload)
{
    json_t *o = payload;
    if (!ev || (unsigned)kind >= EV_KINDS) {
        json_decref(o);
        return 0;
    }
    if (!o)
        o = json_object();
    if (!json_is_object(o)) {
        json_decref(o);
        return 0;
    }
    char when[TG_TIME_BUF];
    time_fmt_iso8601(tg_now(), when);
    pthread_mutex_lock(&ev->mu);
    uint64_t seq = ev->last + 1;
    json_object_set_new(o, "kind", json_string(KIND_NAMES[kind]));
    json_object_set_new(o, "id", json_integer((json_int_t)seq));
    json_object_set_new(o, "time", json_string(when));
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    if (s && strlen(s) > EVENTS_EVENT_MAX) {
        /* a payload that large is a bug upstream; keep the event, not its details */
        free(s);
        s = NULL;
        json_t *t = json_pack("{s:s, s:I, s:s, s:b}", "kind", KIND_NAMES[kind], "id",
                              (json_int_t)seq, "time", when, "truncated", 1);
        if (t)
            s = json_dumps(t, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(t);
    }
    json_decref(o);
    if (!s) {
        pthread_mutex_unlock(&ev->mu);
        return 0;
    }
    struct events_item *it = &ev->ring[(seq - 1) % EVENTS_RING_MAX];
    free(it->json);
    it->seq = seq;
    it->kind = kind;
    it->json = s;
    ev->last = seq;
    events_webhook_enqueue(ev, kind, seq, s);
    pthread_cond_broadcast(&ev->cv);
    notify_all(ev);
    pthread_mutex_unlock(&ev->mu);
    return seq;
}

void events_shutdown(struct events *ev)
{
    if (!ev)
        return;
    pthread_mutex_lock(&ev->mu);
    ev->closing = true;
    pthread_cond_broadcast(&ev->cv);
    notify_all(ev);
    pthread_mutex_unlock(&ev->mu);
}

uint64_t events_last_id(struct events *ev)
{
    pthread_mutex_lock(&ev->mu);
    uint64_t n = ev->last;
    pthread_mutex_unlock(&ev->mu);
    return n;
}

/* ---- subscribers ---- */

void events_probe(struct events *ev)
{
    pthread_mutex_lock(&ev->mu);
    for (size_t i = 0; i < EVENTS_SUBSCRIBERS_MAX; i++)
        if (ev->subs[i]) {
            ev->subs[i]->probe = true;
            if (ev->subs[i]->notify)
                ev->subs[i]->notify(ev->subs[i]->notify_ctx);
        }
    pthread_mutex_unlock(&ev->mu);
}

void events_heartbeat_due(struct events *ev, int64_t now_us)
{
    for (size_t i = 0; i < EVENTS_SUBSCRIBERS_MAX; i++) {
        struct events_sub *s = ev->subs[i];
        if (s && s->notify && now_us - s->last_out_us >= (int64_t)EVENTS_HEARTBEAT_S * 1000000)
            s->notify(s->notify_ctx);
    }
}

int events_sub_open(struct events *ev, bool has_last, uint64_t last_id, struct events_sub **out)
{
    struct events_sub *s = calloc(1, sizeof *s);
    if (!s)
        return -ERR_NOMEM;
    pthread_mutex_lock(&ev->mu);
    if (ev->n_subs >= EVENTS_SUBSCRIBERS_MAX) {
        pthread_mutex_unlock(&ev->mu);
        free(s);
        return -ERR_UNAVAILABLE;
    }
    ev->n_subs++;
    for (size_t i = 0; i < EVENTS_SUBSCRIBERS_MAX; i++)
        if (!ev->subs[i]) {
            ev->subs[i] = s;
            break;
        }
    s->ev = ev;
    s->last_out_us = tg_monotonic_us();
    if (!has_last)
        s->cursor = ev->last;
    else if (last_id > ev->last)
        s->cursor = 0; /* an id from before a restart: replay what the ring holds */
    else
        s->cursor = last_id;
    pthread_mutex_unlock(&ev->mu);
    *out = s;
    return 0;
}

void events_sub_notify(struct events_sub *s, void (*notify)(void *ctx), void *ctx)
{
    pthread_mutex_lock(&s->ev->mu);
    s->notify = notify;
    s->notify_ctx = ctx;
    pthread_mutex_unlock(&s->ev->mu);
}

void events_sub_close(struct events_sub *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->ev->mu);
    for (size_t i = 0; i < EVENTS_SUBSCRIBERS_MAX; i++)
        if (s->ev->subs[i] == s)
            s->ev->subs[i] = NULL;
    s->ev->n_subs--;
    pthread_mutex_unlock(&s->ev->mu);
    free(s);
}

int events_sse_frame(struct buf *b, const char *kind, const char *json, uint64_t id)
{
    return buf_printf(b, "event: %s\ndata: %s\nid: %llu\n\n", kind, json, (unsigned long long)id);
}

/* Appends `text` to out if it fits. */
static bool put(char *out, size_t cap, size_t *n, const char *text, size_t len)
{
    if (*n + len > cap)
        return false;
    memcpy(out + *n, text, len);
    *n += len;
    return true;
}

ssize_t events_sub_read(struct events_sub *s, char *out, size_t cap, int wait_ms)
{
    struct events *ev = s->ev;
    size_t n = 0;
    char line[160];
    if (cap < 256)
        return -ERR_INVALID;
    if (!s->hello_sent) {
        /* an immediate first chunk: the client sees the headers and knows it is in */
        int k = snprintf(line, sizeof line, "retry: 3000\n: tollgate events, last id %llu\n\n",
                         (unsigned long long)events_last_id(ev));
        put(out, cap, &n, line, (size_t)k);
        s->hello_sent = true;
        pthread_mutex_lock(&ev->mu);
        s->last_out_us = tg_monotonic_us();
        pthread_mutex_unlock(&ev->mu);
        return (ssize_t)n;
    }
    struct buf fr = BUF_INIT;
    pthread_mutex_lock(&ev->mu);
    if (ev->closing) {
        pthread_mutex_unlock(&ev->mu);
        return -ERR_UNAVAILABLE;
    }
    if (s->cursor >= ev->last && wait_ms > 0) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += wait_ms / 1000;
        until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (s->cursor >= ev->last && !ev->closing &&
               pthread_cond_timedwait(&ev->cv, &ev->mu, &until) == 0)
            ;
    }
    uint64_t oldest = ev->last > EVENTS_RING_MAX ? ev->last - EVENTS_RING_MAX + 1 : 1;
    if (ev->last && s->cursor + 1 < oldest) {
        int k = snprintf(line, sizeof line,
                         "event: dropped\ndata: {\"dropped\":%llu,\"first_kept\":%llu}\n\n",
                         (unsigned long long)(oldest - s->cursor - 1), (unsigned long long)oldest);
        put(out, cap, &n, line, (size_t)k);
        s->cursor = oldest - 1;
    }
    while (s->cursor < ev->last) {
        const struct events_item *it = &ev->ring[s->cursor % EVENTS_RING_MAX];
        buf_reset(&fr);
        if (events_sse_frame(&fr, KIND_NAMES[it->kind], it->json, it->seq) < 0 ||
            !put(out, cap, &n, fr.ptr, fr.len))
            break; /* the rest goes in the next call */
        s->cursor++;
    }
    int64_t now = tg_monotonic_us();
    if (n == 0 && now - s->last_out_us >= (int64_t)EVENTS_HEARTBEAT_S * 1000000)
        put(out, cap, &n, ": heartbeat\n\n", 13);
    else if (n == 0 && s->probe)
        put(out, cap, &n, ":\n", 2);
    s->probe = false;
    if (n)
        s->last_out_us = now;
    pthread_mutex_unlock(&ev->mu);
    buf_release(&fr);
    return (ssize_t)n;
}
