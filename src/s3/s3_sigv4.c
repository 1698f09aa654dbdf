/* s3_sigv4.c -- AWS Signature V4 (header and presigned query auth, signing and
 * verifying with one canonicalizer), a small cache of derived signing keys, and the
 * entry point that dispatches to SigV4 or SigV2 (s3_sigv2.c).
 *
 * S3 rules, not the generic SigV4 ones: the canonical URI is the path as sent, with
 * no dot-segment or slash normalization and no double encoding, but percent-decoded
 * and re-encoded per byte so that a client sending '!' raw or as %21 verifies either
 * way. Query names and values are decoded ('+' is a space) and re-encoded, sorted by
 * name then value. Header values are trimmed and inner whitespace runs collapsed.
 *
 * Hot path: with a cached signing key a verification is two SHA-256 and one HMAC,
 * all into stack buffers (heap only for canonical requests over SIG_STACK_BUF).
 * Secrets live on the stack only for the duration of a call and are wiped; the key
 * cache holds derived keys and a keyed hash of the secret, never the secret. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "s3/s3.h"
#include "s3/s3_sig_int.h"

/* ---- a stack-first string builder with a sticky error ------------------------- */

void s3_sb_init(struct sb *s, char *stack, size_t cap)
{
    *s = (struct sb){.p = stack, .cap = cap};
}

void s3_sb_release(struct sb *s)
{
    free(s->heap);
    s->heap = NULL;
}

static bool sb_room(struct sb *s, size_t n)
{
    if (s->err)
        return false;
    if (s->len + n <= s->cap)
        return true;
    if (s->len + n > SIG_CANON_MAX) {
        s->err = -ERR_TOO_LONG;
        return false;
    }
    size_t cap = s->cap * 2;
    while (cap < s->len + n)
        cap *= 2;
    char *np = s->heap ? realloc(s->heap, cap) : malloc(cap);
    if (!np) {
        s->err = -ERR_NOMEM;
        return false;
    }
    if (!s->heap)
        memcpy(np, s->p, s->len);
    s->p = s->heap = np;
    s->cap = cap;
    return true;
}

void s3_sb_add(struct sb *s, const void *p, size_t n)
{
    if (n && sb_room(s, n)) {
        memcpy(s->p + s->len, p, n);
        s->len += n;
    }
}

void s3_sb_addc(struct sb *s, char c)
{
    if (sb_room(s, 1))
        s->p[s->len++] = c;
}

void s3_sb_addstr(struct sb *s, struct str v)
{
    s3_sb_add(s, v.ptr, v.len);
}

/* ---- canonical forms ------------------------------------------------------------ */

static bool unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Next byte of a raw URI component: decodes %XX (a malformed escape is a literal
 * '%'), and '+' as space when plus_space. *escaped tells a decoded byte apart. */
static unsigned char uri_next(struct str raw, size_t *i, bool plus_space, bool *escaped)
{
    char c = raw.ptr[*i];
    *escaped = false;
    if (c == '%' && *i + 2 < raw.len && hexval(raw.ptr[*i + 1]) >= 0 &&
        hexval(raw.ptr[*i + 2]) >= 0) {
        *escaped = true;
        unsigned char v = (unsigned char)(hexval(raw.ptr[*i + 1]) << 4 | hexval(raw.ptr[*i + 2]));
        *i += 3;
        return v;
    }
    (*i)++;
    if (c == '+' && plus_space)
        return ' ';
    return (unsigned char)c;
}

/* Canonical re-encoding of a raw component. In a path a literal '/' stays a
 * separator while an encoded %2F stays encoded (it is part of a name). */
static void sb_canon(struct sb *s, struct str raw, bool is_path)
{
    static const char HEXU[] = "0123456789ABCDEF";
    size_t i = 0;
    if (!sb_room(s, raw.len * 3))
        return;
    while (i < raw.len) {
        bool esc;
        unsigned char c = uri_next(raw, &i, !is_path, &esc);
        if (unreserved(c) || (is_path && c == '/' && !esc)) {
            s->p[s->len++] = (char)c;
        } else {
            s->p[s->len++] = '%';
            s->p[s->len++] = HEXU[c >> 4];
            s->p[s->len++] = HEXU[c & 15];
        }
    }
}

/* Percent-decode into out, NUL-terminated. */
int s3_sig_uri_decode(struct str raw, bool plus_space, char *out, size_t cap, struct str *val)
{
    size_t i = 0, o = 0;
    while (i < raw.len) {
        bool esc;
        unsigned char c = uri_next(raw, &i, plus_space, &esc);
        if (o + 1 >= cap)
            return -ERR_TOO_LONG;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    *val = str_n(out, o);
    return 0;
}

/* A decoded query parameter ('+' is a space), -ERR_NOT_FOUND if absent. */
int s3_sig_query_param(struct str query, const char *name, char *out, size_t cap, struct str *val)
{
    struct str raw;
    if (!query_get(query, name, &raw))
        return -ERR_NOT_FOUND;
    return s3_sig_uri_decode(raw, true, out, cap, val);
}

struct qparam {
    size_t n_off, n_len, v_off, v_len;
};

static int qparam_cmp(const char *base, const struct qparam *a, const struct qparam *b)
{
    size_t n = a->n_len < b->n_len ? a->n_len : b->n_len;
    int c = memcmp(base + a->n_off, base + b->n_off, n);
    if (c || a->n_len != b->n_len)
        return c ? c : (a->n_len < b->n_len ? -1 : 1);
    n = a->v_len < b->v_len ? a->v_len : b->v_len;
    c = memcmp(base + a->v_off, base + b->v_off, n);
    if (c || a->v_len == b->v_len)
        return c;
    return a->v_len < b->v_len ? -1 : 1;
}

static void canon_query(struct sb *out, struct str query, bool presigned)
{
    struct qparam ps[SIG_QUERY_PARAMS_MAX];
    size_t np = 0;
    char stack[1024];
    struct sb enc;
    struct str rest = query, item, name, value;

    s3_sb_init(&enc, stack, sizeof stack);
    while (rest.len) {
        str_split(rest, '&', &item, &rest);
        if (!item.len)
            continue;
        str_split(item, '=', &name, &value);
        if (presigned && str_eq_c(name, "X-Amz-Signature"))
            continue;
        if (np == SIG_QUERY_PARAMS_MAX) {
            out->err = -ERR_INVALID_REQUEST;
            goto out;
        }
        ps[np].n_off = enc.len;
        sb_canon(&enc, name, false);
        ps[np].n_len = enc.len - ps[np].n_off;
        ps[np].v_off = enc.len;
        sb_canon(&enc, value, false);
        ps[np].v_len = enc.len - ps[np].v_off;
        np++;
    }
    if (enc.err) {
        out->err = enc.err;
        goto out;
    }
    for (size_t i = 1; i < np; i++) { /* insertion sort: few params, stable */
        struct qparam t = ps[i];
        size_t j = i;
        while (j > 0 && qparam_cmp(enc.p, &ps[j - 1], &t) > 0) {
            ps[j] = ps[j - 1];
            j--;
        }
        ps[j] = t;
    }
    for (size_t i = 0; i < np; i++) {
        if (i)
            s3_sb_addc(out, '&');
        s3_sb_add(out, enc.p + ps[i].n_off, ps[i].n_len);
        s3_sb_addc(out, '=');
        s3_sb_add(out, enc.p + ps[i].v_off, ps[i].v_len);
    }
out:
    s3_sb_release(&enc);
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* Value trimmed, inner runs of spaces/tabs collapsed to one space. */
static void sb_header_value(struct sb *s, struct str v)
{
    size_t i = 0, end = v.len;
    bool gap = false;
    while (i < end && is_space(v.ptr[i]))
        i++;
    while (end > i && is_space(v.ptr[end - 1]))
        end--;
    if (!sb_room(s, end - i))
        return;
    for (; i < end; i++) {
        if (is_space(v.ptr[i])) {
            gap = true;
            continue;
        }
        if (gap)
            s->p[s->len++] = ' ';
        gap = false;
        s->p[s->len++] = v.ptr[i];
    }
}

/* Lowercase copy of a header name; -1 if empty or too long. */
int s3_sig_lower_name(struct str n, char out[SIG_HEADER_NAME_MAX])
{
    if (!n.len || n.len >= SIG_HEADER_NAME_MAX)
        return -1;
    for (size_t i = 0; i < n.len; i++) {
        char c = n.ptr[i];
        out[i] = c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
    }
    out[n.len] = '\0';
    return 0;
}

bool s3_sig_req_header(const struct s3_sig_req *r, const char *lname, struct str *v)
{
    return r->header && r->header(r->ctx, lname, v);
}

static int canon_headers(struct sb *out, const struct s3_sig_req *r, struct str signed_headers)
{
    char lname[SIG_HEADER_NAME_MAX];
    struct str rest = signed_headers, name, v;
    size_t n = 0;
    bool host = false;
    while (rest.len) {
        str_split(rest, ';', &name, &rest);
        if (s3_sig_lower_name(name, lname) < 0 || ++n > SIG_SIGNED_HEADERS_MAX)
            return -ERR_AUTH_HEADER;
        if (!s3_sig_req_header(r, lname, &v)) {
            /* HTTP stacks swallow Expect; clients sign what they sent. */
            v = strcmp(lname, "expect") == 0 ? STR_LIT("100-continue") : STR_LIT("");
        }
        host |= strcmp(lname, "host") == 0;
        s3_sb_add(out, lname, name.len);
        s3_sb_addc(out, ':');
        sb_header_value(out, v);
        s3_sb_addc(out, '\n');
    }
    return host ? 0 : -ERR_AUTH_HEADER;
}

static int canon_request(struct sb *out, const struct s3_sig_req *r, struct str signed_headers,
                         struct str payload_hash, bool presigned)
{
    int rc;
    s3_sb_addstr(out, r->method);
    s3_sb_addc(out, '\n');
    if (r->path.len)
        sb_canon(out, r->path, true);
    else
        s3_sb_addc(out, '/');
    s3_sb_addc(out, '\n');
    canon_query(out, r->query, presigned);
    s3_sb_addc(out, '\n');
    if ((rc = canon_headers(out, r, signed_headers)) < 0)
        return rc;
    s3_sb_addc(out, '\n');
    s3_sb_addstr(out, signed_headers);
    s3_sb_addc(out, '\n');
    s3_sb_addstr(out, payload_hash);
    return out->err;
}

int s3_sig_canonical_request(const struct s3_sig_req *r, const char *signed_headers,
                             const char *payload_hash, bool presigned, struct buf *out)
{
    char stack[SIG_STACK_BUF];
    struct sb s;
    int rc;
    s3_sb_init(&s, stack, sizeof stack);
    if ((rc = canon_request(&s, r, str_c(signed_headers), str_c(payload_hash), presigned)) < 0)
        goto out;
    rc = buf_add(out, s.p, s.len);
out:
    s3_sb_release(&s);
    return rc;
}

/* ---- signing keys and the cache ------------------------------------------------- */

void s3_sig_signing_key(const char *secret, const char *date8, const char *region,
                        const char *service, uint8_t out[32])
{
    char k0[4 + S3_SECRET_MAX + 1];
    uint8_t k[32];
    size_t n = strlen(secret);
    if (n > S3_SECRET_MAX)
        n = S3_SECRET_MAX; /* secrets come from our own store; never this long */
    memcpy(k0, "AWS4", 4);
    memcpy(k0 + 4, secret, n);
    crypto_hmac_sha256(k0, 4 + n, date8, strlen(date8), k);
    crypto_hmac_sha256(k, 32, region, strlen(region), k);
    crypto_hmac_sha256(k, 32, service, strlen(service), k);
    crypto_hmac_sha256(k, 32, V4_TERMINATOR, strlen(V4_TERMINATOR), out);
    crypto_wipe(k0, sizeof k0);
    crypto_wipe(k, sizeof k);
}

/* The cache tells a rotated secret apart by a keyed 64-bit hash of it (SipHash-2-4,
 * random key per process): a SHA-256 of the secret would cost a quarter of a
 * cached verification, and the entry holds a secret-equivalent derived key anyway. */
static uint64_t sip_key[2];
static pthread_once_t sip_once = PTHREAD_ONCE_INIT;

static void sip_init(void)
{
    if (crypto_random(sip_key, sizeof sip_key) < 0)
        sip_key[0] = sip_key[1] = 0x736f6d6570736575ull; /* still a hash; only weaker */
}

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                   \
    do {                                                                                           \
        v0 += v1, v1 = ROTL(v1, 13), v1 ^= v0, v0 = ROTL(v0, 32);                                  \
        v2 += v3, v3 = ROTL(v3, 16), v3 ^= v2;                                                     \
        v0 += v3, v3 = ROTL(v3, 21), v3 ^= v0;                                                     \
        v2 += v1, v1 = ROTL(v1, 17), v1 ^= v2, v2 = ROTL(v2, 32);                                  \
    } while (0)

static uint64_t siphash(const void *p, size_t n)
{
    const uint8_t *in = p;
    uint64_t k0 = sip_key[0], k1 = sip_key[1];
    uint64_t v0 = 0x736f6d6570736575ull ^ k0, v1 = 0x646f72616e646f6dull ^ k1;
    uint64_t v2 = 0x6c7967656e657261ull ^ k0, v3 = 0x7465646279746573ull ^ k1;
    uint64_t b = (uint64_t)n << 56, m;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        m = 0;
        for (int k = 7; k >= 0; k--)
            m = m << 8 | in[i + (size_t)k];
        v3 ^= m;
        SIPROUND;
        SIPROUND;
        v0 ^= m;
    }
    for (size_t k = 0; i + k < n; k++)
        b |= (uint64_t)in[i + k] << (8 * k);
    v3 ^= b;
    SIPROUND;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

struct key_slot {
    uint64_t last_use; /* 0: empty */
    char akid[S3_AKID_MAX];
    uint64_t secret_hash;
    char date8[9], region[SIG_REGION_MAX], service[8];
    uint8_t key[32];
};
static struct key_slot key_cache[SIG_KEY_CACHE_SLOTS];
static uint64_t key_cache_tick;
static pthread_mutex_t key_cache_mu = PTHREAD_MUTEX_INITIALIZER;

static bool slot_matches(const struct key_slot *s, const char *akid, uint64_t h, const char *date8,
                         const char *region, const char *service)
{
    return s->last_use && s->secret_hash == h && strcmp(s->akid, akid) == 0 &&
           strcmp(s->date8, date8) == 0 && strcmp(s->region, region) == 0 &&
           strcmp(s->service, service) == 0;
}

static void signing_key_cached(const char *akid, const char *secret, const char *date8,
                               const char *region, const char *service, uint8_t out[32])
{
    uint64_t h;
    struct key_slot *victim = &key_cache[0];
    if (strlen(akid) >= S3_AKID_MAX || strlen(date8) != 8 || strlen(region) >= SIG_REGION_MAX ||
        strlen(service) >= sizeof victim->service) {
        s3_sig_signing_key(secret, date8, region, service, out);
        return;
    }
    pthread_once(&sip_once, sip_init);
    h = siphash(secret, strlen(secret));
    pthread_mutex_lock(&key_cache_mu);
    for (size_t i = 0; i < SIG_KEY_CACHE_SLOTS; i++) {
        struct key_slot *s = &key_cache[i];
        if (slot_matches(s, akid, h, date8, region, service)) {
            s->last_use = ++key_cache_tick;
            memcpy(out, s->key, 32);
            pthread_mutex_unlock(&key_cache_mu);
            return;
        }
    }
    pthread_mutex_unlock(&key_cache_mu);

    s3_sig_signing_key(secret, date8, region, service, out);

    pthread_mutex_lock(&key_cache_mu);
    for (size_t i = 0; i < SIG_KEY_CACHE_SLOTS; i++)
        if (key_cache[i].last_use < victim->last_use)
            victim = &key_cache[i];
    crypto_wipe(victim, sizeof *victim);
    strcpy(victim->akid, akid);
    victim->secret_hash = h;
    strcpy(victim->date8, date8);
    strcpy(victim->region, region);
    strcpy(victim->service, service);
    memcpy(victim->key, out, 32);
    victim->last_use = ++key_cache_tick;
    pthread_mutex_unlock(&key_cache_mu);
}

/* ---- SigV4 ----------------------------------------------------------------------- */

/* hex(sha256(canonical request)) into the string to sign, then HMAC. */
static void v4_sign(const uint8_t key[32], const char *amz_date, const char *scope,
                    const char *canon, size_t canon_len, uint8_t sig[32])
{
    char sts[sizeof V4_ALGORITHM + 20 + 128 + 66];
    size_t dl = strlen(amz_date), sl = strlen(scope), n = sizeof V4_ALGORITHM;
    uint8_t d[32];
    crypto_sha256(canon, canon_len, d);
    if (n + dl + 1 + sl + 1 + 65 > sizeof sts) {
        memset(sig, 0, 32); /* both are bounded by the callers; fail closed */
        return;
    }
    memcpy(sts, V4_ALGORITHM "\n", n); /* no snprintf: this is the hot path */
    memcpy(sts + n, amz_date, dl);
    n += dl;
    sts[n++] = '\n';
    memcpy(sts + n, scope, sl);
    n += sl;
    sts[n++] = '\n';
    hex_encode(d, 32, sts + n);
    crypto_hmac_sha256(key, 32, sts, n + 64, sig);
}

struct v4_cred {
    struct str akid, date8, region, service;
};

/* akid/date8/region/service/aws4_request, split from the right. */
static int parse_credential(struct str c, struct v4_cred *out)
{
    struct str part[4];
    for (int i = 3; i >= 0; i--) {
        const char *slash = NULL;
        for (size_t k = c.len; k > 0; k--)
            if (c.ptr[k - 1] == '/') {
                slash = c.ptr + k - 1;
                break;
            }
        if (!slash)
            return -1;
        part[i] = str_n(slash + 1, (size_t)(c.ptr + c.len - slash - 1));
        c.len = (size_t)(slash - c.ptr);
    }
    if (!c.len || c.len >= S3_AKID_MAX || part[0].len != 8 || !part[1].len ||
        part[1].len >= SIG_REGION_MAX || !str_eq_c(part[3], V4_TERMINATOR))
        return -1;
    for (size_t i = 0; i < 8; i++)
        if (part[0].ptr[i] < '0' || part[0].ptr[i] > '9')
            return -1;
    *out = (struct v4_cred){c, part[0], part[1], part[2]};
    return 0;
}

static int payload_parse(struct str v, struct s3_auth *a)
{
    if (str_eq_c(v, UNSIGNED_PAYLOAD))
        a->payload = S3_PAYLOAD_UNSIGNED;
    else if (str_eq_c(v, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"))
        a->payload = S3_PAYLOAD_STREAMING;
    else if (str_eq_c(v, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"))
        a->payload = S3_PAYLOAD_STREAMING_TRAILER;
    else if (str_eq_c(v, "STREAMING-UNSIGNED-PAYLOAD-TRAILER"))
        a->payload = S3_PAYLOAD_UNSIGNED_TRAILER;
    else if (v.len == 64 && hex_decode(v, a->payload_sha256, 32) == 32)
        a->payload = S3_PAYLOAD_SHA256;
    else
        return -ERR_INVALID;
    return 0;
}

struct v4_in {
    struct v4_cred cred;
    struct str signed_headers;
    struct str payload_hash; /* last line of the canonical request */
    uint8_t sig[32];
    char amz_date[17];
    bool presigned;
};

/* The shared tail of header and query verification: secret, key, signature. */
static int v4_check(const struct s3_sig_req *r, const struct v4_in *in, s3_secret_fn secret_fn,
                    void *secret_ctx, struct s3_auth *a)
{
    char secret[S3_SECRET_MAX + 1], akid[S3_AKID_MAX], date8[9], region[SIG_REGION_MAX];
    char service[16], stack[SIG_STACK_BUF];
    uint8_t key[32], sig[32];
    struct sb canon;
    int rc;

    s3_sb_init(&canon, stack, sizeof stack);
    if (str_copy(in->cred.akid, akid, sizeof akid) < 0 ||
        str_copy(in->cred.date8, date8, sizeof date8) < 0 ||
        str_copy(in->cred.region, region, sizeof region) < 0 ||
        str_copy(in->cred.service, service, sizeof service) < 0)
        return in->presigned ? -ERR_AUTH_QUERY : -ERR_AUTH_HEADER;
    if ((rc = secret_fn(secret_ctx, in->cred.akid, secret, sizeof secret)) < 0)
        return rc;
    signing_key_cached(akid, secret, date8, region, service, key);
    crypto_wipe(secret, sizeof secret);

    if ((rc = canon_request(&canon, r, in->signed_headers, in->payload_hash, in->presigned)) < 0)
        goto out;
    /* date8 (8) + region (< 64) + service (< 16) + terminator fit a->scope (128) */
    snprintf(a->scope, sizeof a->scope, "%s/%s/%s/" V4_TERMINATOR, date8, region, service);
    v4_sign(key, in->amz_date, a->scope, canon.p, canon.len, sig);
    if (!crypto_ct_eq(sig, in->sig, 32)) {
        rc = -ERR_SIGNATURE;
        goto out;
    }
    memcpy(a->akid, akid, sizeof akid);
    memcpy(a->seed_sig, sig, 32);
    memcpy(a->signing_key, key, 32);
    memcpy(a->amz_date, in->amz_date, sizeof in->amz_date);
    rc = 0;
out:
    crypto_wipe(key, sizeof key);
    s3_sb_release(&canon);
    return rc;
}

static int check_cred(const struct v4_cred *c, const char *region, int err)
{
    if (!str_eq_c(c->service, V4_SERVICE))
        return err;
    if (region && *region && !str_eq_c(c->region, region))
        return err;
    return 0;
}

/* Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...
 * Components are separated by ',' with optional spaces (AWS docs vs SDKs). */
static int v4_header_parse(struct str v, struct str *cred, struct str *sh, struct str *sig)
{
    struct str rest = str_n(v.ptr + strlen(V4_ALGORITHM), v.len - strlen(V4_ALGORITHM)), item;
    bool have_c = false, have_h = false, have_s = false;
    if (!rest.len || !is_space(rest.ptr[0]))
        return -ERR_AUTH_HEADER;
    while (rest.len) {
        struct str k, val;
        str_split(rest, ',', &item, &rest);
        item = str_trim(item);
        if (!str_split(item, '=', &k, &val))
            return -ERR_AUTH_HEADER;
        if (str_eq_c(k, "Credential") && !have_c) {
            *cred = val;
            have_c = true;
        } else if (str_eq_c(k, "SignedHeaders") && !have_h) {
            *sh = val;
            have_h = true;
        } else if (str_eq_c(k, "Signature") && !have_s) {
            *sig = val;
            have_s = true;
        } else {
            return -ERR_AUTH_HEADER;
        }
    }
    return have_c && have_h && have_s ? 0 : -ERR_AUTH_HEADER;
}

struct unsigned_check {
    struct str signed_headers;
    bool bad;
};

static void check_signed(void *arg, struct str name, struct str value)
{
    struct unsigned_check *u = arg;
    char lname[SIG_HEADER_NAME_MAX];
    struct str rest = u->signed_headers, item;
    (void)value;
    if (name.len < 6 || !str_case_eq_c(str_n(name.ptr, 6), "x-amz-"))
        return;
    if (s3_sig_lower_name(name, lname) < 0) {
        u->bad = true;
        return;
    }
    while (rest.len) {
        str_split(rest, ';', &item, &rest);
        if (str_eq_c(item, lname))
            return;
    }
    u->bad = true;
}

static int v4_header_verify(const struct s3_sig_req *r, struct str authz, int64_t now,
                            const char *region, s3_secret_fn secret_fn, void *secret_ctx,
                            struct s3_auth *out)
{
    struct s3_auth a = {.kind = S3_AUTH_V4_HEADER};
    struct v4_in in = {.presigned = false};
    struct str cred, sig, v;
    int64_t t;
    int rc;

    if ((rc = v4_header_parse(authz, &cred, &in.signed_headers, &sig)) < 0)
        return rc;
    if (parse_credential(cred, &in.cred) < 0 || check_cred(&in.cred, region, -1) < 0 ||
        sig.len != 64 || hex_decode(sig, in.sig, 32) != 32)
        return -ERR_AUTH_HEADER;

    if (s3_sig_req_header(r, "x-amz-date", &v)) {
        if (time_parse_amz(v, &t) < 0)
            return -ERR_MISSING_DATE;
        str_copy(v, in.amz_date, sizeof in.amz_date);
    } else if (s3_sig_req_header(r, "date", &v) && time_parse_http(str_trim(v), &t) == 0) {
        char buf[TG_TIME_BUF];
        time_fmt_amz(t, buf);
        memcpy(in.amz_date, buf, sizeof in.amz_date - 1);
        in.amz_date[sizeof in.amz_date - 1] = '\0';
    } else {
        return -ERR_MISSING_DATE;
    }
    if (memcmp(in.amz_date, in.cred.date8.ptr, 8) != 0)
        return -ERR_AUTH_HEADER;
    if (t > now + S3_SIG_MAX_SKEW || t < now - S3_SIG_MAX_SKEW)
        return -ERR_TIME_SKEWED;

    /* S3 requires the header; MinIO treats its absence as an empty body. */
    in.payload_hash = s3_sig_req_header(r, "x-amz-content-sha256", &v) ? v : STR_LIT(EMPTY_SHA256);
    if ((rc = payload_parse(in.payload_hash, &a)) < 0)
        return rc;
    if (r->each_header) {
        struct unsigned_check u = {in.signed_headers, false};
        r->each_header(r->ctx, check_signed, &u);
        if (u.bad)
            return -ERR_ACCESS_DENIED;
    }
    if ((rc = v4_check(r, &in, secret_fn, secret_ctx, &a)) < 0)
        goto out;
    if ((a.payload == S3_PAYLOAD_STREAMING_TRAILER || a.payload == S3_PAYLOAD_UNSIGNED_TRAILER) &&
        s3_sig_req_header(r, "x-amz-trailer", &v))
        a.trailer = s3_cksum_alg_parse(str_trim(v));
    *out = a;
out:
    crypto_wipe(&a, sizeof a);
    return rc;
}

static int v4_query_verify(const struct s3_sig_req *r, int64_t now, const char *region,
                           s3_secret_fn secret_fn, void *secret_ctx, struct s3_auth *out)
{
    char b_alg[64], b_cred[SIG_PARAM_MAX], b_date[32], b_exp[32], b_sh[SIG_PARAM_MAX];
    char b_sig[80], b_payload[80];
    struct s3_auth a = {.kind = S3_AUTH_V4_QUERY, .payload = S3_PAYLOAD_UNSIGNED};
    struct v4_in in = {.presigned = true};
    struct str alg, cred, date, exp, sig, v;
    int64_t t, expires;
    int rc;

    if (s3_sig_query_param(r->query, "X-Amz-Algorithm", b_alg, sizeof b_alg, &alg) < 0 ||
        s3_sig_query_param(r->query, "X-Amz-Credential", b_cred, sizeof b_cred, &cred) < 0 ||
        s3_sig_query_param(r->query, "X-Amz-Date", b_date, sizeof b_date, &date) < 0 ||
        s3_sig_query_param(r->query, "X-Amz-Expires", b_exp, sizeof b_exp, &exp) < 0 ||
        s3_sig_query_param(r->query, "X-Amz-SignedHeaders", b_sh, sizeof b_sh, &in.signed_headers) <
            0 ||
        s3_sig_query_param(r->query, "X-Amz-Signature", b_sig, sizeof b_sig, &sig) < 0)
        return -ERR_AUTH_QUERY;
    if (!str_eq_c(alg, V4_ALGORITHM) || parse_credential(cred, &in.cred) < 0 ||
        check_cred(&in.cred, region, -1) < 0 || time_parse_amz(date, &t) < 0 ||
        memcmp(date.ptr, in.cred.date8.ptr, 8) != 0 || str_to_i64(exp, &expires) < 0 ||
        expires < 0 || expires > S3_SIG_MAX_EXPIRES || sig.len != 64 ||
        hex_decode(sig, in.sig, 32) != 32)
        return -ERR_AUTH_QUERY;
    str_copy(date, in.amz_date, sizeof in.amz_date);
    if (t > now + S3_SIG_MAX_SKEW)
        return -ERR_NOT_YET_VALID;
    if (now > t + expires)
        return -ERR_EXPIRED;

    in.payload_hash = STR_LIT(UNSIGNED_PAYLOAD);
    rc = s3_sig_query_param(r->query, "X-Amz-Content-Sha256", b_payload, sizeof b_payload, &v);
    if (rc == 0) {
        in.payload_hash = v;
        if ((rc = payload_parse(v, &a)) < 0)
            return rc;
    } else if (rc != -ERR_NOT_FOUND) {
        return -ERR_AUTH_QUERY;
    }
    a.expires_at = t + expires;
    if ((rc = v4_check(r, &in, secret_fn, secret_ctx, &a)) < 0)
        goto out;
    *out = a;
out:
    crypto_wipe(&a, sizeof a);
    return rc;
}

/* ---- entry points ----------------------------------------------------------------- */

int s3_auth_verify(const struct s3_sig_req *r, int64_t now, const char *region, s3_secret_fn secret,
                   void *secret_ctx, struct s3_auth *out)
{
    struct str authz, v, rest = r->query, item, name;
    bool has_authz = s3_sig_req_header(r, "authorization", &authz), v4q = false, v2q = false;
    while (rest.len) { /* one pass over the query for the auth parameters */
        str_split(rest, '&', &item, &rest);
        str_split(item, '=', &name, &v);
        v4q |= str_eq_c(name, "X-Amz-Algorithm") || str_eq_c(name, "X-Amz-Credential") ||
               str_eq_c(name, "X-Amz-Signature");
        v2q |= str_eq_c(name, "AWSAccessKeyId") || str_eq_c(name, "Signature");
    }

    if (has_authz && (v4q || v2q))
        return -ERR_INVALID_REQUEST; /* "Only one auth mechanism allowed" */
    if (has_authz) {
        authz = str_trim(authz);
        if (str_starts(authz, V4_ALGORITHM " "))
            return v4_header_verify(r, authz, now, region, secret, secret_ctx, out);
        if (str_starts(authz, "AWS "))
            return s3_sigv2_header_verify(r, authz, now, secret, secret_ctx, out);
        return -ERR_AUTH_HEADER;
    }
    if (v4q)
        return v4_query_verify(r, now, region, secret, secret_ctx, out);
    if (v2q)
        return s3_sigv2_query_verify(r, now, secret, secret_ctx, out);

    struct s3_auth a = {.kind = S3_AUTH_ANON, .payload = S3_PAYLOAD_UNSIGNED};
    if (s3_sig_req_header(r, "x-amz-content-sha256", &v)) {
        int rc = payload_parse(v, &a);
        if (rc < 0)
            return rc;
        if (a.payload == S3_PAYLOAD_STREAMING || a.payload == S3_PAYLOAD_STREAMING_TRAILER)
            return -ERR_MISSING_AUTH; /* signed chunks need a signed request */
        if (a.payload == S3_PAYLOAD_UNSIGNED_TRAILER && s3_sig_req_header(r, "x-amz-trailer", &v))
            a.trailer = s3_cksum_alg_parse(str_trim(v));
    }
    *out = a;
    return 0;
}

struct host_ctx {
    struct str host;
};

static bool host_only(void *ctx, const char *lname, struct str *value)
{
    struct host_ctx *h = ctx;
    if (strcmp(lname, "host") != 0)
        return false;
    *value = h->host;
    return true;
}

static void scope_of(char *out, size_t cap, const char *date8, const char *region)
{
    snprintf(out, cap, "%s/%s/" V4_SERVICE "/" V4_TERMINATOR, date8, region);
}

int s3_presign_url(const struct s3_presign *p, struct buf *out)
{
    char amz[TG_TIME_BUF], date8[9], scope[128], sig_hex[65], stack[SIG_STACK_BUF];
    uint8_t key[32], sig[32];
    struct buf path = BUF_INIT, query = BUF_INIT;
    struct sb canon;
    int rc;

    s3_sb_init(&canon, stack, sizeof stack);
    if (!p->method || !p->scheme || !p->host || !p->bucket || !p->akid || !p->secret ||
        !p->region || p->expires < 1 || p->expires > S3_SIG_MAX_EXPIRES ||
        strlen(p->region) >= SIG_REGION_MAX || strlen(p->akid) >= S3_AKID_MAX ||
        (p->n_extra && !p->extra_query))
        return -ERR_INVALID;
    time_fmt_amz(p->now, amz);
    memcpy(date8, amz, 8);
    date8[8] = '\0';
    scope_of(scope, sizeof scope, date8, p->region);

    /* bucket "": virtual-host style, the bucket is in p->host and the path is the key */
    if (*p->bucket &&
        ((rc = buf_addc(&path, '/')) < 0 || (rc = uri_encode(&path, str_c(p->bucket), false)) < 0))
        goto out;
    if (p->key && *p->key &&
        ((rc = buf_addc(&path, '/')) < 0 || (rc = uri_encode(&path, str_c(p->key), true)) < 0))
        goto out;
    if (path.len == 0 && (rc = buf_addc(&path, '/')) < 0)
        goto out;

    if ((rc = buf_adds(&query, "X-Amz-Algorithm=" V4_ALGORITHM "&X-Amz-Credential=")) < 0 ||
        (rc = uri_encode(&query, str_c(p->akid), false)) < 0 ||
        (rc = buf_adds(&query, "%2F")) < 0 || (rc = uri_encode(&query, str_c(scope), false)) < 0 ||
        (rc = buf_printf(&query, "&X-Amz-Date=%s&X-Amz-Expires=%lld&X-Amz-SignedHeaders=host", amz,
                         (long long)p->expires)) < 0)
        goto out;
    for (size_t i = 0; i < p->n_extra; i++) {
        const char *n = p->extra_query[2 * i], *v = p->extra_query[2 * i + 1];
        if (!n || (rc = buf_addc(&query, '&')) < 0 ||
            (rc = uri_encode(&query, str_c(n), false)) < 0 || (rc = buf_addc(&query, '=')) < 0 ||
            (rc = uri_encode(&query, str_c(v), false)) < 0) {
            rc = rc < 0 ? rc : -ERR_INVALID;
            goto out;
        }
    }

    struct host_ctx hc = {str_c(p->host)};
    struct s3_sig_req r = {
        .method = str_c(p->method),
        .path = buf_str(&path),
        .query = buf_str(&query),
        .header = host_only,
        .ctx = &hc,
    };
    if ((rc = canon_request(&canon, &r, STR_LIT("host"), STR_LIT(UNSIGNED_PAYLOAD), true)) < 0)
        goto out;
    signing_key_cached(p->akid, p->secret, date8, p->region, V4_SERVICE, key);
    v4_sign(key, amz, scope, canon.p, canon.len, sig);
    hex_encode(sig, 32, sig_hex);
    rc = buf_printf(out, "%s://%s%s?%s&X-Amz-Signature=%s", p->scheme, p->host, buf_cstr(&path),
                    buf_cstr(&query), sig_hex);
out:
    crypto_wipe(key, sizeof key);
    s3_sb_release(&canon);
    buf_release(&path);
    buf_release(&query);
    return rc;
}

int s3_sign_header(const struct s3_sig_req *r, const char *signed_headers, const char *payload_hash,
                   const char *akid, const char *secret, const char *region, int64_t now,
                   struct buf *authorization)
{
    char amz[TG_TIME_BUF], date8[9], scope[128], sig_hex[65], stack[SIG_STACK_BUF];
    uint8_t key[32], sig[32];
    struct sb canon;
    int rc;

    if (strlen(region) >= SIG_REGION_MAX || strlen(akid) >= S3_AKID_MAX)
        return -ERR_INVALID;
    s3_sb_init(&canon, stack, sizeof stack);
    time_fmt_amz(now, amz);
    memcpy(date8, amz, 8);
    date8[8] = '\0';
    scope_of(scope, sizeof scope, date8, region);
    if ((rc = canon_request(&canon, r, str_c(signed_headers), str_c(payload_hash), false)) < 0)
        goto out;
    signing_key_cached(akid, secret, date8, region, V4_SERVICE, key);
    v4_sign(key, amz, scope, canon.p, canon.len, sig);
    hex_encode(sig, 32, sig_hex);
    rc = buf_printf(authorization, V4_ALGORITHM " Credential=%s/%s, SignedHeaders=%s, Signature=%s",
                    akid, scope, signed_headers, sig_hex);
out:
    crypto_wipe(key, sizeof key);
    s3_sb_release(&canon);
    return rc;
}
