/* gate_int.h -- private to the gate module: struct gate and what its files share.
 * gate_config.c parses grants; gate.c opens and closes the gate and owns the tier and
 * named tokens and the failure rate limit; gate_link.c mints and redeems links and
 * batches link horizons. */
#ifndef TG_GATE_INT_H
#define TG_GATE_INT_H

#include <pthread.h>

#include "gate/gate.h"
#include "meta/meta.h"

/* Failure rate limit: a fixed table of hashed addresses (never the address itself),
 * 4-way set-associative so one busy set cannot evict everyone. */
#define GATE_RL_SETS 1024
#define GATE_RL_WAYS 4
#define GATE_RL_WINDOW 60
struct gate_rl_slot {
    uint64_t h; /* 0 = free */
    int64_t window_start;
    uint32_t fails;
};

/* Pending link horizons: an open-addressing table of key -> max expiry, swapped out
 * and written in one transaction by gate_flush. */
struct gate_hz {
    char *key;
    int64_t horizon;
};

struct gate {
    struct gate_grant *grants;
    size_t n_grants;
    uint8_t secret[32];
    uint8_t rl_key[32]; /* random per process: the address hash cannot be reversed */
    char *bucket, *public_url, *region, *scheme, *host;
    /* gateway mode: links signed for the remote store (NULL scheme: local links) */
    char *r_scheme, *r_host, *r_bucket, *r_region, *r_akid, *r_secret;
    struct meta *meta;
    struct meta_gate *mg;

    pthread_mutex_t key_mu; /* the portal signing key, found or created on first mint */
    bool have_key;
    int64_t key_checked_us; /* monotonic: when the key was last seen live */
    char akid[META_AKID_LEN + 1];
    char key_secret[META_SECRET_KEY_LEN + 1];

    pthread_mutex_t rl_mu;
    struct gate_rl_slot rl[GATE_RL_SETS][GATE_RL_WAYS];

    pthread_mutex_t hz_mu;
    pthread_cond_t hz_cond;
    struct gate_hz *hz;
    size_t hz_n, hz_cap;
    bool stopping;
    bool thread_started;
    pthread_t thread;
};

/* gate_config.c */
int gate_grants_parse(const struct cfg *c, struct gate_grant **out, size_t *n, char **err);
void gate_grants_free(struct gate_grant *g, size_t n);
/* "7d", "3d12h", "3.5d", "84h" -> seconds */

/* gate_link.c */
int gate_hz_start(struct gate *g);
void gate_hz_stop(struct gate *g); /* flushes what is pending */

#endif
