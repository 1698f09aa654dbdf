/* crypto.c -- digests, HMAC, CRC-32/32C, randomness, constant-time compare.
 * OpenSSL algorithm objects are fetched once per process (implicit fetches cost
 * microseconds per call in OpenSSL 3); HMAC keeps one EVP_MAC_CTX per thread. */
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "crypto/crypto.h"
#include "util/util.h"

static EVP_MD *md_sha256, *md_md5, *md_sha1;
/* Per-thread contexts (HMAC per digest, SHA-256), configured once. */
struct tls_ctx {
    EVP_MAC_CTX *hmac256, *hmac1;
    EVP_MD_CTX *sha256;
};
static struct tls_ctx *tls_get(void);
static EVP_MAC *mac_hmac;
static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;

static void fetch_all(void)
{
    md_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    md_md5 = EVP_MD_fetch(NULL, "MD5", NULL);
    md_sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
    mac_hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
}

static const EVP_MD *md_of(enum crypto_alg alg)
{
    pthread_once(&fetch_once, fetch_all);
    switch (alg) {
    case CRYPTO_SHA256:
        return md_sha256;
    case CRYPTO_MD5:
        return md_md5;
    case CRYPTO_SHA1:
        return md_sha1;
    }
    return NULL;
}

int crypto_hash_init(struct crypto_hash *h, enum crypto_alg alg)
{
    const EVP_MD *md = md_of(alg);
    EVP_MD_CTX *ctx = md ? EVP_MD_CTX_new() : NULL;
    if (!ctx)
        return -ERR_INTERNAL;
    if (!EVP_DigestInit_ex(ctx, md, NULL)) {
        EVP_MD_CTX_free(ctx);
        return -ERR_INTERNAL;
    }
    h->md_ctx = ctx;
    h->alg = alg;
    return 0;
}

int crypto_hash_update(struct crypto_hash *h, const void *p, size_t n)
{
    return EVP_DigestUpdate(h->md_ctx, p, n) ? 0 : -ERR_INTERNAL;
}

int crypto_hash_final(struct crypto_hash *h, uint8_t *out)
{
    unsigned len = 0;
    int rc = EVP_DigestFinal_ex(h->md_ctx, out, &len) ? 0 : -ERR_INTERNAL;
    crypto_hash_release(h);
    return rc;
}

int crypto_hash_copy(struct crypto_hash *dst, const struct crypto_hash *src)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || !EVP_MD_CTX_copy_ex(ctx, src->md_ctx)) {
        EVP_MD_CTX_free(ctx);
        return -ERR_INTERNAL;
    }
    dst->md_ctx = ctx;
    dst->alg = src->alg;
    return 0;
}

void crypto_hash_release(struct crypto_hash *h)
{
    if (h && h->md_ctx) {
        EVP_MD_CTX_free(h->md_ctx);
        h->md_ctx = NULL;
    }
}

static void digest(enum crypto_alg alg, const void *p, size_t n, uint8_t *out)
{
    unsigned len;
    EVP_Digest(p, n, out, &len, md_of(alg), NULL);
}

void crypto_sha256(const void *p, size_t n, uint8_t out[32])
{
    /* A reused per-thread context: EVP_Digest allocates one per call. */
    struct tls_ctx *t = tls_get();
    unsigned len;
    if (t && !t->sha256)
        t->sha256 = EVP_MD_CTX_new();
    if (!t || !t->sha256 || !EVP_DigestInit_ex(t->sha256, md_sha256, NULL) ||
        !EVP_DigestUpdate(t->sha256, p, n) || !EVP_DigestFinal_ex(t->sha256, out, &len))
        digest(CRYPTO_SHA256, p, n, out);
}

void crypto_md5(const void *p, size_t n, uint8_t out[16])
{
    digest(CRYPTO_MD5, p, n, out);
}

void crypto_sha1(const void *p, size_t n, uint8_t out[20])
{
    digest(CRYPTO_SHA1, p, n, out);
}

void crypto_sha256_hex(const void *p, size_t n, char out[65])
{
    uint8_t d[32];
    crypto_sha256(p, n, d);
    hex_encode(d, 32, out);
}

/* Per-thread HMAC contexts, one per digest, configured once: setting the digest
 * parameter on every call costs ~1 us; re-keying a configured context ~0.4 us. */
static pthread_key_t tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;

static void tls_free(void *p)
{
    struct tls_ctx *t = p;
    EVP_MAC_CTX_free(t->hmac256);
    EVP_MAC_CTX_free(t->hmac1);
    EVP_MD_CTX_free(t->sha256);
    free(t);
}

static void tls_make(void)
{
    pthread_key_create(&tls_key, tls_free);
}

static struct tls_ctx *tls_get(void)
{
    pthread_once(&fetch_once, fetch_all);
    pthread_once(&tls_once, tls_make);
    struct tls_ctx *t = pthread_getspecific(tls_key);
    if (!t) {
        t = calloc(1, sizeof *t);
        if (t)
            pthread_setspecific(tls_key, t);
    }
    return t;
}

static EVP_MAC_CTX *mac_ctx_new(const char *digest_name)
{
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac_hmac);
    OSSL_PARAM params[2] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)digest_name, 0),
        OSSL_PARAM_construct_end(),
    };
    if (ctx && !EVP_MAC_CTX_set_params(ctx, params)) {
        EVP_MAC_CTX_free(ctx);
        ctx = NULL;
    }
    return ctx;
}

static void hmac(bool sha1, const void *key, size_t klen, const void *msg, size_t n, uint8_t *out,
                 size_t outlen)
{
    struct tls_ctx *t = tls_get();
    EVP_MAC_CTX **slot = t ? (sha1 ? &t->hmac1 : &t->hmac256) : NULL;
    if (slot && !*slot)
        *slot = mac_ctx_new(sha1 ? "SHA1" : "SHA256");
    size_t len = 0;
    if (!slot || !*slot || !EVP_MAC_init(*slot, key, klen, NULL) ||
        !EVP_MAC_update(*slot, msg, n) || !EVP_MAC_final(*slot, out, &len, outlen) || len != outlen)
        memset(out, 0, outlen); /* never happens with these algorithms; fail closed */
}

void crypto_hmac_sha256(const void *key, size_t klen, const void *msg, size_t n, uint8_t out[32])
{
    hmac(false, key, klen, msg, n, out, 32);
}

void crypto_hmac_sha1(const void *key, size_t klen, const void *msg, size_t n, uint8_t out[20])
{
    hmac(true, key, klen, msg, n, out, 20);
}

/* CRC tables, slicing by 8: about 8x faster than byte at a time. */
static uint32_t t32[8][256], t32c[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_tables(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t a = i, c = i;
        for (int k = 0; k < 8; k++) {
            a = a & 1 ? (a >> 1) ^ 0xEDB88320u : a >> 1;
            c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        }
        t32[0][i] = a;
        t32c[0][i] = c;
    }
    for (int s = 1; s < 8; s++)
        for (uint32_t i = 0; i < 256; i++) {
            t32[s][i] = (t32[s - 1][i] >> 8) ^ t32[0][t32[s - 1][i] & 0xff];
            t32c[s][i] = (t32c[s - 1][i] >> 8) ^ t32c[0][t32c[s - 1][i] & 0xff];
        }
}

static uint32_t crc_slice8(uint32_t t[8][256], uint32_t crc, const uint8_t *p, size_t n)
{
    crc = ~crc;
    while (n >= 8) {
        uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                             (uint32_t)p[3] << 24);
        uint32_t hi =
            (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
        crc = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff] ^ t[4][lo >> 24] ^
              t[3][hi & 0xff] ^ t[2][(hi >> 8) & 0xff] ^ t[1][(hi >> 16) & 0xff] ^ t[0][hi >> 24];
        p += 8;
        n -= 8;
    }
    while (n--)
        crc = (crc >> 8) ^ t[0][(crc ^ *p++) & 0xff];
    return ~crc;
}

uint32_t crypto_crc32(uint32_t crc, const void *p, size_t n)
{
    pthread_once(&crc_once, crc_tables);
    return crc_slice8(t32, crc, p, n);
}

uint32_t crypto_crc32c(uint32_t crc, const void *p, size_t n)
{
    pthread_once(&crc_once, crc_tables);
    return crc_slice8(t32c, crc, p, n);
}

int crypto_random(void *out, size_t n)
{
    return RAND_bytes(out, (int)n) == 1 ? 0 : -ERR_INTERNAL;
}

int crypto_ct_eq(const void *a, const void *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n) == 0;
}

void crypto_wipe(void *p, size_t n)
{
    OPENSSL_cleanse(p, n);
}
