/* s3_chunked.c -- streaming decoder for aws-chunked request bodies:
 *   STREAMING-AWS4-HMAC-SHA256-PAYLOAD           size;chunk-signature=SIG CRLF data CRLF ...
 *   STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER   the same, then signed trailers
 *   STREAMING-UNSIGNED-PAYLOAD-TRAILER           size CRLF data CRLF ..., then trailers
 * The last chunk has size 0; trailers are "name:value" CRLF lines ended by an empty
 * line (x-amz-checksum-* and, when signed, x-amz-trailer-signature).
 *
 * Memory is bounded: only a header/trailer line is buffered (S3_CHUNK_LINE_MAX),
 * chunk data goes to the sink straight from the caller's buffer while being hashed,
 * and a chunk's signature is checked when its data ends. So the sink may already
 * have seen a chunk whose signature then fails: the caller must abort the whole
 * upload on any error before committing it. Errors are sticky. */
#include <stdio.h>
#include <stdlib.h>

#include "crypto/crypto.h"
#include "s3/s3.h"

#define S3_CHUNK_LINE_MAX 4096 /* one chunk header or trailer line */
#define S3_TRAILER_MAX 8192    /* all trailers together */
#define S3_TRAILERS_MAX 16     /* trailer lines */
#define CHUNK_SIG_EXT "chunk-signature="
#define TRAILER_SIG "x-amz-trailer-signature"
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

enum chunk_state {
    ST_SIZE,    /* reading a chunk header line */
    ST_DATA,    /* chunk data, `remaining` bytes to go */
    ST_DATA_CR, /* the CR after chunk data */
    ST_DATA_LF, /* the LF after chunk data */
    ST_TRAILER, /* after the final chunk: trailer lines until an empty one */
    ST_DONE,    /* complete; only stray CR/LF may follow */
};

struct trailer {
    uint16_t n_off, n_len, v_off, v_len;
};

struct s3_chunked {
    enum chunk_state st;
    enum s3_payload mode;
    bool is_signed;
    int err; /* sticky */
    uint64_t remaining, decoded;

    char line[S3_CHUNK_LINE_MAX];
    size_t line_len;

    /* signature chain (signed modes) */
    uint8_t key[32];
    char amz_date[20], scope[128];
    char prev_sig[65]; /* hex */
    uint8_t want_sig[32];
    struct crypto_hash h;
    bool hashing;

    /* trailers */
    char tbuf[S3_TRAILER_MAX];
    size_t tlen;
    struct trailer tr[S3_TRAILERS_MAX];
    size_t ntr;
    enum s3_cksum_alg expect;
    struct s3_cksum ck;
};

int s3_chunked_new(const struct s3_auth *auth, struct s3_chunked **out)
{
    struct s3_chunked *c;
    int rc;
    if (auth->payload != S3_PAYLOAD_STREAMING && auth->payload != S3_PAYLOAD_STREAMING_TRAILER &&
        auth->payload != S3_PAYLOAD_UNSIGNED_TRAILER)
        return -ERR_INVALID;
    if (!(c = calloc(1, sizeof *c)))
        return -ERR_NOMEM;
    c->mode = auth->payload;
    c->is_signed = auth->payload != S3_PAYLOAD_UNSIGNED_TRAILER;
    if (c->is_signed) {
        memcpy(c->key, auth->signing_key, 32);
        memcpy(c->amz_date, auth->amz_date, sizeof c->amz_date);
        memcpy(c->scope, auth->scope, sizeof c->scope);
        c->amz_date[sizeof c->amz_date - 1] = c->scope[sizeof c->scope - 1] = '\0';
        hex_encode(auth->seed_sig, 32, c->prev_sig);
    }
    if (auth->trailer != S3_CKSUM_NONE && (rc = s3_cksum_init(&c->ck, auth->trailer)) < 0) {
        free(c);
        return rc;
    }
    c->expect = auth->trailer;
    *out = c;
    return 0;
}

int s3_chunked_expect_trailer(struct s3_chunked *c, struct str trailer_header_value)
{
    enum s3_cksum_alg alg = s3_cksum_alg_parse(trailer_header_value);
    int rc;
    if (alg == S3_CKSUM_NONE)
        return -ERR_INVALID;
    if (c->decoded || c->st != ST_SIZE || c->line_len)
        return -ERR_INVALID; /* must be set before any data */
    if (alg == c->expect)
        return 0;
    s3_cksum_release(&c->ck);
    c->expect = S3_CKSUM_NONE;
    if ((rc = s3_cksum_init(&c->ck, alg)) < 0)
        return rc;
    c->expect = alg;
    return 0;
}

void s3_chunked_free(struct s3_chunked *c)
{
    if (!c)
        return;
    crypto_hash_release(&c->h);
    s3_cksum_release(&c->ck);
    crypto_wipe(c->key, sizeof c->key);
    free(c);
}

uint64_t s3_chunked_decoded_len(const struct s3_chunked *c)
{
    return c->decoded;
}

bool s3_chunked_trailer(const struct s3_chunked *c, const char *lname, struct str *value)
{
    for (size_t i = 0; i < c->ntr; i++) {
        const struct trailer *t = &c->tr[i];
        if (str_eq_c(str_n(c->tbuf + t->n_off, t->n_len), lname)) {
            *value = str_n(c->tbuf + t->v_off, t->v_len);
            return true;
        }
    }
    return false;
}

/* HMAC(key, ALGO \n date \n scope \n prev \n [EMPTY \n] hash) -> hex into prev_sig;
 * compares with want. */
static int chain_verify(struct s3_chunked *c, const char *algo, bool with_empty,
                        const uint8_t digest[32], const uint8_t want[32])
{
    char sts[512], hex[65];
    uint8_t sig[32];
    hex_encode(digest, 32, hex);
    int n = snprintf(sts, sizeof sts, "%s\n%s\n%s\n%s\n%s%s%s", algo, c->amz_date, c->scope,
                     c->prev_sig, with_empty ? EMPTY_SHA256 : "", with_empty ? "\n" : "", hex);
    if (n < 0 || (size_t)n >= sizeof sts)
        return -ERR_INTERNAL;
    crypto_hmac_sha256(c->key, 32, sts, (size_t)n, sig);
    if (!crypto_ct_eq(sig, want, 32))
        return -ERR_CHUNK_SIGNATURE;
    hex_encode(sig, 32, c->prev_sig);
    return 0;
}

static int chunk_end(struct s3_chunked *c)
{
    uint8_t d[32];
    int rc;
    if (!c->is_signed)
        return 0;
    if (c->hashing) {
        c->hashing = false;
        if ((rc = crypto_hash_final(&c->h, d)) < 0)
            return rc;
    } else {
        crypto_sha256("", 0, d);
    }
    return chain_verify(c, "AWS4-HMAC-SHA256-PAYLOAD", true, d, c->want_sig);
}

static int hexdig(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* "hex-size[;ext=value...]" (CRLF already stripped). */
static int size_line(struct s3_chunked *c, struct str l)
{
    uint64_t size = 0;
    size_t i = 0;
    bool have_sig = false;
    for (; i < l.len && hexdig(l.ptr[i]) >= 0; i++) {
        if (i == 16)
            return -ERR_BAD_CHUNK;
        size = size << 4 | (uint64_t)hexdig(l.ptr[i]);
    }
    if (i == 0 || (i < l.len && l.ptr[i] != ';'))
        return -ERR_BAD_CHUNK;
    struct str rest = i < l.len ? str_n(l.ptr + i + 1, l.len - i - 1) : STR_LIT(""), ext;
    while (rest.len) {
        str_split(rest, ';', &ext, &rest);
        ext = str_trim(ext);
        if (str_starts(ext, CHUNK_SIG_EXT)) {
            struct str v = str_n(ext.ptr + strlen(CHUNK_SIG_EXT), ext.len - strlen(CHUNK_SIG_EXT));
            if (have_sig || v.len != 64 || hex_decode(v, c->want_sig, 32) != 32)
                return -ERR_BAD_CHUNK;
            have_sig = true;
        }
    }
    if (c->is_signed && !have_sig)
        return -ERR_BAD_CHUNK;
    if (size > UINT64_MAX - c->decoded)
        return -ERR_BAD_CHUNK;
    if (size == 0) {
        int rc = chunk_end(c);
        if (rc < 0)
            return rc;
        c->st = ST_TRAILER;
        return 0;
    }
    if (c->is_signed) {
        int rc = crypto_sha256_init(&c->h);
        if (rc < 0)
            return rc;
        c->hashing = true;
    }
    c->remaining = size;
    c->st = ST_DATA;
    return 0;
}

static int trailer_line(struct s3_chunked *c, struct str l)
{
    struct str name, value;
    if (c->mode == S3_PAYLOAD_STREAMING)
        return -ERR_BAD_CHUNK; /* this mode signs no trailers: accept none */
    if (!str_split(l, ':', &name, &value) || !(name = str_trim(name)).len ||
        c->ntr == S3_TRAILERS_MAX)
        return -ERR_BAD_CHUNK;
    value = str_trim(value);
    if (c->tlen + name.len + value.len > S3_TRAILER_MAX)
        return -ERR_BAD_CHUNK;
    struct trailer *t = &c->tr[c->ntr++];
    t->n_off = (uint16_t)c->tlen;
    t->n_len = (uint16_t)name.len;
    for (size_t i = 0; i < name.len; i++) {
        char ch = name.ptr[i];
        c->tbuf[c->tlen++] = ch >= 'A' && ch <= 'Z' ? (char)(ch + 32) : ch;
    }
    t->v_off = (uint16_t)c->tlen;
    t->v_len = (uint16_t)value.len;
    memcpy(c->tbuf + c->tlen, value.ptr, value.len);
    c->tlen += value.len;
    return 0;
}

static int trailer_cmp(const struct s3_chunked *c, const struct trailer *a, const struct trailer *b)
{
    size_t n = a->n_len < b->n_len ? a->n_len : b->n_len;
    int r = memcmp(c->tbuf + a->n_off, c->tbuf + b->n_off, n);
    if (r || a->n_len == b->n_len)
        return r;
    return a->n_len < b->n_len ? -1 : 1;
}

/* Signed trailers: "name:value\n" for each, sorted by name, signature excluded. */
static int trailers_verify_sig(struct s3_chunked *c)
{
    const struct trailer *ord[S3_TRAILERS_MAX];
    struct crypto_hash h = {0};
    struct str sig;
    uint8_t want[32], d[32];
    size_t n = 0;
    int rc;

    if (!s3_chunked_trailer(c, TRAILER_SIG, &sig))
        return c->ntr ? -ERR_CHUNK_SIGNATURE : 0;
    if (sig.len != 64 || hex_decode(sig, want, 32) != 32)
        return -ERR_CHUNK_SIGNATURE;
    for (size_t i = 0; i < c->ntr; i++) {
        if (str_eq_c(str_n(c->tbuf + c->tr[i].n_off, c->tr[i].n_len), TRAILER_SIG))
            continue;
        size_t j = n++;
        while (j > 0 && trailer_cmp(c, ord[j - 1], &c->tr[i]) > 0) {
            ord[j] = ord[j - 1];
            j--;
        }
        ord[j] = &c->tr[i];
    }
    if ((rc = crypto_sha256_init(&h)) < 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        crypto_hash_update(&h, c->tbuf + ord[i]->n_off, ord[i]->n_len);
        crypto_hash_update(&h, ":", 1);
        crypto_hash_update(&h, c->tbuf + ord[i]->v_off, ord[i]->v_len);
        crypto_hash_update(&h, "\n", 1);
    }
    if ((rc = crypto_hash_final(&h, d)) < 0)
        return rc;
    return chain_verify(c, "AWS4-HMAC-SHA256-TRAILER", false, d, want);
}

/* End of the trailer section: signature, then the announced checksum. */
static int trailers_done(struct s3_chunked *c)
{
    int rc;
    if (c->mode == S3_PAYLOAD_STREAMING_TRAILER && (rc = trailers_verify_sig(c)) < 0)
        return rc;
    for (size_t i = 0; i < c->ntr; i++) {
        struct str n = str_n(c->tbuf + c->tr[i].n_off, c->tr[i].n_len);
        if (str_starts(n, "x-amz-checksum-") && s3_cksum_alg_parse(n) != c->expect)
            return -ERR_BAD_CHUNK; /* a checksum nobody announced: cannot verify it */
    }
    if (c->expect != S3_CKSUM_NONE) {
        char mine[64];
        struct str theirs;
        if (!s3_chunked_trailer(c, s3_cksum_header(c->expect), &theirs))
            return -ERR_BAD_CHUNK;
        if ((rc = s3_cksum_final(&c->ck, mine, sizeof mine)) < 0)
            return rc;
        if (!str_eq_c(theirs, mine))
            return -ERR_BAD_DIGEST;
    }
    c->st = ST_DONE;
    return 0;
}

/* A complete line (without CRLF) in ST_SIZE or ST_TRAILER. */
static int line_done(struct s3_chunked *c, struct str l)
{
    if (c->st == ST_SIZE)
        return size_line(c, l);
    if (l.len == 0)
        return trailers_done(c);
    return trailer_line(c, l);
}

/* Accumulates a CRLF-terminated line; returns bytes consumed. */
static int take_line(struct s3_chunked *c, const uint8_t *p, size_t n, size_t *used)
{
    const uint8_t *nl = memchr(p, '\n', n);
    size_t take = nl ? (size_t)(nl - p) : n;
    if (c->line_len + take > sizeof c->line - 1)
        return -ERR_BAD_CHUNK; /* header line too long */
    memcpy(c->line + c->line_len, p, take);
    c->line_len += take;
    *used = take + (nl ? 1 : 0);
    if (!nl)
        return 0;
    if (!c->line_len || c->line[c->line_len - 1] != '\r')
        return -ERR_BAD_CHUNK;
    struct str l = str_n(c->line, c->line_len - 1);
    c->line_len = 0;
    return line_done(c, l);
}

int s3_chunked_feed(struct s3_chunked *c, const uint8_t *p, size_t n,
                    int (*sink)(void *ctx, const uint8_t *p, size_t n), void *sink_ctx)
{
    int rc = 0;
    if (c->err)
        return c->err;
    while (n) {
        size_t used = 0;
        switch (c->st) {
        case ST_SIZE:
        case ST_TRAILER:
            rc = take_line(c, p, n, &used);
            break;
        case ST_DATA:
            used = n < c->remaining ? n : (size_t)c->remaining;
            if (c->hashing)
                rc = crypto_hash_update(&c->h, p, used);
            if (rc == 0 && c->expect != S3_CKSUM_NONE)
                s3_cksum_update(&c->ck, p, used);
            if (rc == 0 && sink)
                rc = sink(sink_ctx, p, used);
            c->remaining -= used;
            c->decoded += used;
            if (rc == 0 && c->remaining == 0) {
                rc = chunk_end(c);
                c->st = ST_DATA_CR;
            }
            break;
        case ST_DATA_CR:
        case ST_DATA_LF:
            used = 1;
            if (*p != (c->st == ST_DATA_CR ? '\r' : '\n'))
                rc = -ERR_BAD_CHUNK;
            c->st = c->st == ST_DATA_CR ? ST_DATA_LF : ST_SIZE;
            break;
        case ST_DONE:
            used = 1; /* some SDKs end with an extra CRLF */
            if (*p != '\r' && *p != '\n')
                rc = -ERR_BAD_CHUNK;
            break;
        }
        if (rc < 0) {
            c->err = rc;
            return rc;
        }
        p += used;
        n -= used;
    }
    return 0;
}

int s3_chunked_finish(struct s3_chunked *c)
{
    int rc;
    if (c->err)
        return c->err;
    /* "0\r\n" then EOF: the SDKs without a checksum trailer omit the last CRLF. */
    if (c->st == ST_TRAILER && c->line_len == 0 && (rc = trailers_done(c)) < 0)
        return c->err = rc;
    if (c->st != ST_DONE)
        return c->err = -ERR_INCOMPLETE_BODY;
    return 0;
}
