/* s3_cksum.c -- the x-amz-checksum-* algorithms: CRC32, CRC32C, SHA1, SHA256, computed
 * incrementally and rendered as S3 does (base64 of the big-endian CRC or of the
 * digest). A struct s3_cksum owns a heap hash context only for SHA1/SHA256;
 * s3_cksum_final and s3_cksum_release free it, and release is safe at any time. */
#include <stdlib.h>

#include "crypto/crypto.h"
#include "s3/s3.h"

#define CKSUM_PREFIX "x-amz-checksum-"

static const struct {
    enum s3_cksum_alg alg;
    const char *name;
    const char *header;
} ALGS[] = {
    {S3_CKSUM_CRC32, "crc32", CKSUM_PREFIX "crc32"},
    {S3_CKSUM_CRC32C, "crc32c", CKSUM_PREFIX "crc32c"},
    {S3_CKSUM_SHA1, "sha1", CKSUM_PREFIX "sha1"},
    {S3_CKSUM_SHA256, "sha256", CKSUM_PREFIX "sha256"},
};
#define N_ALGS (sizeof ALGS / sizeof ALGS[0])

enum s3_cksum_alg s3_cksum_alg_parse(struct str name)
{
    name = str_trim(name);
    if (name.len > strlen(CKSUM_PREFIX) &&
        str_case_eq_c(str_n(name.ptr, strlen(CKSUM_PREFIX)), CKSUM_PREFIX))
        name = str_n(name.ptr + strlen(CKSUM_PREFIX), name.len - strlen(CKSUM_PREFIX));
    for (size_t i = 0; i < N_ALGS; i++)
        if (str_case_eq_c(name, ALGS[i].name))
            return ALGS[i].alg;
    return S3_CKSUM_NONE;
}

const char *s3_cksum_header(enum s3_cksum_alg alg)
{
    for (size_t i = 0; i < N_ALGS; i++)
        if (ALGS[i].alg == alg)
            return ALGS[i].header;
    return NULL;
}

int s3_cksum_init(struct s3_cksum *c, enum s3_cksum_alg alg)
{
    struct crypto_hash *h = NULL;
    int rc;
    switch (alg) {
    case S3_CKSUM_CRC32:
    case S3_CKSUM_CRC32C:
        break;
    case S3_CKSUM_SHA1:
    case S3_CKSUM_SHA256:
        if (!(h = calloc(1, sizeof *h)))
            return -ERR_NOMEM;
        rc = crypto_hash_init(h, alg == S3_CKSUM_SHA1 ? CRYPTO_SHA1 : CRYPTO_SHA256);
        if (rc < 0) {
            free(h);
            return rc;
        }
        break;
    default:
        return -ERR_INVALID;
    }
    *c = (struct s3_cksum){.alg = alg, .crc = 0, .h = h};
    return 0;
}

void s3_cksum_update(struct s3_cksum *c, const void *p, size_t n)
{
    switch (c->alg) {
    case S3_CKSUM_CRC32:
        c->crc = crypto_crc32(c->crc, p, n);
        break;
    case S3_CKSUM_CRC32C:
        c->crc = crypto_crc32c(c->crc, p, n);
        break;
    case S3_CKSUM_SHA1:
    case S3_CKSUM_SHA256:
        if (c->h)
            crypto_hash_update(c->h, p, n);
        break;
    default:
        break;
    }
}

int s3_cksum_final(struct s3_cksum *c, char *out, size_t cap)
{
    uint8_t d[CRYPTO_SHA256_LEN];
    size_t n;
    int rc = 0;
    switch (c->alg) {
    case S3_CKSUM_CRC32:
    case S3_CKSUM_CRC32C:
        d[0] = (uint8_t)(c->crc >> 24);
        d[1] = (uint8_t)(c->crc >> 16);
        d[2] = (uint8_t)(c->crc >> 8);
        d[3] = (uint8_t)c->crc;
        n = 4;
        break;
    case S3_CKSUM_SHA1:
    case S3_CKSUM_SHA256:
        n = c->alg == S3_CKSUM_SHA1 ? CRYPTO_SHA1_LEN : CRYPTO_SHA256_LEN;
        if (!c->h)
            rc = -ERR_INVALID;
        else
            rc = crypto_hash_final(c->h, d);
        break;
    default:
        rc = -ERR_INVALID;
        n = 0;
        break;
    }
    if (rc == 0 && cap < b64_encoded_len(n) + 1)
        rc = -ERR_TOO_LONG;
    if (rc == 0)
        b64_encode(d, n, out);
    s3_cksum_release(c);
    return rc;
}

void s3_cksum_release(struct s3_cksum *c)
{
    if (!c)
        return;
    if (c->h) {
        crypto_hash_release(c->h);
        free(c->h);
        c->h = NULL;
    }
    c->alg = S3_CKSUM_NONE;
    c->crc = 0;
}
