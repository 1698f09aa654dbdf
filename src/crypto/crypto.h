/* crypto.h -- hashes, HMAC, checksums, randomness and constant-time compare: a thin
 * layer over OpenSSL libcrypto (CRC32/CRC32C are table-driven here). Algorithms are
 * fetched once per process; contexts are caller-owned. Secrets passed in are never
 * copied anywhere that outlives the call except the HMAC key schedule inside a ctx,
 * which crypto_hash_release wipes. */
#ifndef TG_CRYPTO_H
#define TG_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

enum crypto_alg { CRYPTO_SHA256, CRYPTO_MD5, CRYPTO_SHA1 };
#define CRYPTO_SHA256_LEN 32
#define CRYPTO_MD5_LEN 16
#define CRYPTO_SHA1_LEN 20

/* Streaming digest. Zero-initialise, then _init; _release is safe on a zeroed ctx. */
struct crypto_hash {
    void *md_ctx; /* EVP_MD_CTX */
    enum crypto_alg alg;
};
int crypto_hash_init(struct crypto_hash *h, enum crypto_alg alg);
int crypto_hash_update(struct crypto_hash *h, const void *p, size_t n);
int crypto_hash_final(struct crypto_hash *h, uint8_t *out); /* out: digest length */
int crypto_hash_copy(struct crypto_hash *dst, const struct crypto_hash *src);
void crypto_hash_release(struct crypto_hash *h);

/* Convenience names used all over. */
#define crypto_sha256_init(h) crypto_hash_init((h), CRYPTO_SHA256)
#define crypto_sha256_update crypto_hash_update
#define crypto_sha256_final crypto_hash_final
void crypto_sha256(const void *p, size_t n, uint8_t out[32]);
void crypto_md5(const void *p, size_t n, uint8_t out[16]);
void crypto_sha1(const void *p, size_t n, uint8_t out[20]);
/* lowercase hex of sha256(p) into out[65] */
void crypto_sha256_hex(const void *p, size_t n, char out[65]);

/* HMAC. Fast path: a per-thread context reused across calls (about 1 us). */
void crypto_hmac_sha256(const void *key, size_t klen, const void *msg, size_t n, uint8_t out[32]);
void crypto_hmac_sha1(const void *key, size_t klen, const void *msg, size_t n, uint8_t out[20]);

/* CRC-32 (IEEE, as zlib) and CRC-32C (Castagnoli). Start with crc = 0. */
uint32_t crypto_crc32(uint32_t crc, const void *p, size_t n);
uint32_t crypto_crc32c(uint32_t crc, const void *p, size_t n);

int crypto_random(void *out, size_t n); /* 0 or -ERR_INTERNAL */
/* 1 if equal; time depends only on n. */
int crypto_ct_eq(const void *a, const void *b, size_t n);
void crypto_wipe(void *p, size_t n);

#endif
