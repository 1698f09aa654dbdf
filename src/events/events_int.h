/* events_int.h -- module-private: the bus object shared by the ring (events.c) and the
 * webhook deliverer (events_webhook.c). One mutex guards the ring, the subscriber count
 * and the delivery queue; `cv` wakes SSE subscribers, `wcv` the webhook thread. */
#ifndef TG_EVENTS_INT_H
#define TG_EVENTS_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "events/events.h"

#define EVENTS_NAME_MAX 64

struct events_item {
    uint64_t seq; /* 0 = empty slot */
    enum events_kind kind;
    char *json; /* the event's JSON text, malloc'd */
};

struct events_hook {
    char name[EVENTS_NAME_MAX];
    char *url, *secret;
    unsigned kinds; /* bit per enum events_kind */
};

struct events_delivery {
    struct events_delivery *next;
    size_t hook;
    enum events_kind kind;
    uint64_t seq;
    char id[33]; /* X-Tollgate-Delivery: same for every attempt */
    char *body;
    unsigned attempt; /* attempts made so far */
    int64_t due_us;   /* tg_monotonic_us */
};

struct events_sub {
    struct events *ev;
    uint64_t cursor;     /* last seq sent */
    int64_t last_out_us; /* monotonic: last bytes written (heartbeat clock); under mu */
    bool hello_sent;
    bool probe; /* send a comment line now: is the client still there? */
    void (*notify)(void *ctx);
    void *notify_ctx;
};

struct events {
    pthread_mutex_t mu;
    pthread_cond_t cv;  /* new event (subscribers) */
    pthread_cond_t wcv; /* new delivery or stop (webhook thread) */
    struct events_item ring[EVENTS_RING_MAX];
    uint64_t last; /* newest seq; seq s lives in ring[(s - 1) % EVENTS_RING_MAX] */
    unsigned n_subs;
    struct events_sub *subs[EVENTS_SUBSCRIBERS_MAX];
    struct events_hook hooks[EVENTS_WEBHOOKS_MAX];
    size_t n_hooks;
    struct events_delivery *queue; /* unordered; the thread picks the earliest due */
    size_t n_queue;
    bool stop, thread_running;
    bool closing; /* events_shutdown: subscribers end their streams */
    pthread_t thread;
};

/* events_webhook.c: queue a delivery of `json` to every hook wanting `kind` (mu held). */
void events_webhook_enqueue(struct events *ev, enum events_kind kind, uint64_t seq,
                            const char *json);
int events_webhook_parse(const struct cfg *c, struct events *ev, char **err);
void events_webhook_stop(struct events *ev);
void events_webhook_free(struct events *ev);
/* events.c: wakes subscribers whose heartbeat is due (mu held). */
void events_heartbeat_due(struct events *ev, int64_t now_us);

#endif
