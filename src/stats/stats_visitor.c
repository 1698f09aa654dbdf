/* stats_visitor.c -- daily salts and visitor hashes, referrer domains, and the
 * client address behind trusted proxies.
 *
 * Salts live in memory only: a salt is made (32 random bytes) by the first event of its
 * UTC day and wiped when the day two days later begins, so not even the operator can
 * link a visitor across days. A restarted server starts a new salt for the day: the
 * same person before and after the restart counts as two visitors that day. */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>

#include "crypto/crypto.h"
#include "stats/stats.h"
#include "stats/stats_int.h"

#define SALTS 2 /* today and yesterday */

struct stats_salts {
    pthread_mutex_t mu;
    struct {
        int64_t day; /* days since 1970; 0 and unused when !set */
        bool set;
        uint8_t salt[32];
    } s[SALTS];
};

int stats_salts_new(struct stats_salts **out)
{
    struct stats_salts *s = calloc(1, sizeof *s);
    if (!s)
        return -ERR_NOMEM;
    pthread_mutex_init(&s->mu, NULL);
    *out = s;
    return 0;
}

void stats_salts_free(struct stats_salts *s)
{
    if (!s)
        return;
    crypto_wipe(s->s, sizeof s->s);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

unsigned stats_salts_live(struct stats_salts *s)
{
    unsigned n = 0;
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < SALTS; i++)
        n += s->s[i].set;
    pthread_mutex_unlock(&s->mu);
    return n;
}

int stats_visitor(struct stats_salts *s, int64_t t, struct str addr, struct str ua,
                  uint8_t out[STATS_VISITOR_LEN])
{
    int64_t day = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
    uint8_t salt[32];
    int rc = 0, slot = -1;
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < SALTS; i++) /* destroyed two days after their day */
        if (s->s[i].set && s->s[i].day <= day - 2) {
            crypto_wipe(s->s[i].salt, sizeof s->s[i].salt);
            s->s[i].set = false;
        }
    for (int i = 0; i < SALTS && slot < 0; i++)
        if (s->s[i].set && s->s[i].day == day)
            slot = i;
    if (slot < 0) {
        /* a free slot, else the oldest (a clock that went back: keep it simple) */
        slot = !s->s[0].set ? 0 : !s->s[1].set ? 1 : s->s[0].day < s->s[1].day ? 0 : 1;
        if ((rc = crypto_random(s->s[slot].salt, 32)) == 0) {
            s->s[slot].day = day;
            s->s[slot].set = true;
        }
    }
    if (rc == 0)
        memcpy(salt, s->s[slot].salt, 32);
    pthread_mutex_unlock(&s->mu);
    if (rc < 0)
        return rc;
    struct crypto_hash h;
    uint8_t d[32];
    uint8_t sep = 0;
    if ((rc = crypto_hash_init(&h, CRYPTO_SHA256)) == 0) {
        crypto_hash_update(&h, salt, 32);
        crypto_hash_update(&h, addr.ptr ? addr.ptr : "", addr.len);
        crypto_hash_update(&h, &sep, 1); /* "1.2.3.4" + "5x" != "1.2.3.45" + "x" */
        crypto_hash_update(&h, ua.ptr ? ua.ptr : "", ua.len);
        rc = crypto_hash_final(&h, d);
        crypto_hash_release(&h);
    }
    crypto_wipe(salt, sizeof salt);
    if (rc == 0)
        memcpy(out, d, STATS_VISITOR_LEN);
    return rc;
}

void stats_referrer_domain(struct str r, char out[STATS_REFERRER_MAX])
{
    out[0] = '\0';
    r = str_trim(r);
    size_t skip;
    if (r.len >= 7 && strncasecmp(r.ptr, "http://", 7) == 0)
        skip = 7;
    else if (r.len >= 8 && strncasecmp(r.ptr, "https://", 8) == 0)
        skip = 8;
    else
        return;
    const char *p = r.ptr + skip, *end = r.ptr + r.len;
    const char *q = p;
    while (q < end && *q != '/' && *q != '?' && *q != '#')
        q++;
    const char *at = memrchr(p, '@', (size_t)(q - p)); /* user:pass@ is never kept */
    if (at)
        p = at + 1;
    const char *host_end = q;
    if (p < q && *p == '[') { /* [v6]:port */
        const char *rb = memchr(p, ']', (size_t)(q - p));
        if (!rb)
            return;
        host_end = rb + 1;
    } else {
        const char *colon = memchr(p, ':', (size_t)(q - p));
        if (colon)
            host_end = colon;
    }
    size_t n = (size_t)(host_end - p);
    if (n == 0 || n >= STATS_REFERRER_MAX)
        return;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == '[' || c == ']' || c == ':' || c == '_')) {
            out[0] = '\0';
            return;
        }
        out[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    out[n] = '\0';
    if (out[n - 1] == '.') /* "example.org." */
        out[n - 1] = '\0';
}

/* ---- trusted proxies ---- */

struct net {
    int family;
    uint8_t addr[16];
    unsigned bits;
};
struct stats_proxies {
    struct net *n;
    size_t count;
};

static int parse_net(struct str s, struct net *out)
{
    char tmp[64];
    struct str a, b;
    bool has_bits = str_split(s, '/', &a, &b);
    if (str_copy(a, tmp, sizeof tmp) < 0)
        return -ERR_INVALID;
    memset(out, 0, sizeof *out);
    if (inet_pton(AF_INET, tmp, out->addr) == 1) {
        out->family = AF_INET;
        out->bits = 32;
    } else if (inet_pton(AF_INET6, tmp, out->addr) == 1) {
        out->family = AF_INET6;
        out->bits = 128;
    } else {
        return -ERR_INVALID;
    }
    if (has_bits) {
        uint64_t v;
        if (str_to_u64(b, &v) < 0 || v > out->bits)
            return -ERR_INVALID;
        out->bits = (unsigned)v;
    }
    return 0;
}

int stats_proxies_parse(struct str list, struct stats_proxies **out, char *bad, size_t cap)
{
    struct stats_proxies *p = calloc(1, sizeof *p);
    if (!p)
        return -ERR_NOMEM;
    struct str rest = list, w;
    while (rest.len) {
        rest = str_trim(rest);
        size_t i = 0;
        while (i < rest.len && rest.ptr[i] != ' ' && rest.ptr[i] != ',' && rest.ptr[i] != '\t')
            i++;
        w = str_n(rest.ptr, i);
        rest = str_n(rest.ptr + i + (i < rest.len), rest.len - i - (i < rest.len));
        if (!w.len)
            continue;
        struct net n;
        struct net *grown = realloc(p->n, (p->count + 1) * sizeof *grown);
        if (!grown) {
            stats_proxies_free(p);
            return -ERR_NOMEM;
        }
        p->n = grown;
        if (parse_net(w, &n) < 0) {
            snprintf(bad, cap, "'%.*s' is not an IP address or CIDR range", (int)w.len, w.ptr);
            stats_proxies_free(p);
            return -ERR_INVALID;
        }
        p->n[p->count++] = n;
    }
    *out = p;
    return 0;
}

void stats_proxies_free(struct stats_proxies *p)
{
    if (p) {
        free(p->n);
        free(p);
    }
}

static bool in_net(const struct net *n, const struct net *a)
{
    if (n->family != a->family)
        return false;
    unsigned full = n->bits / 8, rem = n->bits % 8;
    if (memcmp(n->addr, a->addr, full) != 0)
        return false;
    if (rem) {
        uint8_t mask = (uint8_t)(0xff << (8 - rem));
        if ((n->addr[full] & mask) != (a->addr[full] & mask))
            return false;
    }
    return true;
}

static bool trusted(const struct stats_proxies *p, struct str addr)
{
    struct net a;
    if (!p || parse_net(addr, &a) < 0)
        return false;
    for (size_t i = 0; i < p->count; i++)
        if (in_net(&p->n[i], &a))
            return true;
    return false;
}

/* Right to left through X-Forwarded-For while the hop is a trusted proxy. */
struct str stats_client_addr(const struct stats_proxies *p, struct str peer, struct str xff)
{
    struct str client = peer;
    if (!trusted(p, peer))
        return peer;
    while (xff.len) {
        size_t i = xff.len;
        while (i > 0 && xff.ptr[i - 1] != ',')
            i--;
        struct str hop = str_trim(str_n(xff.ptr + i, xff.len - i));
        xff.len = i ? i - 1 : 0;
        struct net tmp;
        if (!hop.len || parse_net(hop, &tmp) < 0)
            return client; /* garbage: stop at the last address we could trust */
        client = hop;
        if (!trusted(p, hop))
            break;
    }
    return client;
}
