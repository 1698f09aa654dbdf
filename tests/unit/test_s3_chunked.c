/* test_s3_chunked.c -- the aws-chunked decoder: the sigv4-streaming.html example (B3)
 * and the sigv4-streaming-trailers.html example fed whole and in every split, the
 * unsigned-trailer form current SDKs send, and the malformed bodies: bad and
 * missing signatures, truncation, over-long header lines, bad sizes, checksum
 * trailer mismatches. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "crypto/crypto.h"
#include "s3/s3.h"

#define AKID "AKIAIOSFODNN7EXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define T2013 1369353600

/* B3 (sigv4-streaming.html) */
#define B3_SEED "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
#define B3_SIG1 "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"
#define B3_SIG2 "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"
#define B3_SIG3 "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"
/* sigv4-streaming-trailers.html (recomputed: seed as in notes/sigv4.md) */
#define TR_SEED "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e"
#define TR_SIG1 "b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2"
#define TR_SIG2 "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7"
#define TR_SIG3 "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992"
#define TR_TRAILER_SIG "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435"

struct treq {
    const char *h[32];
};

static bool t_header(void *ctx, const char *lname, struct str *v)
{
    const struct treq *t = ctx;
    for (size_t i = 0; t->h[i]; i += 2)
        if (strcasecmp(t->h[i], lname) == 0) {
            *v = str_c(t->h[i + 1]);
            return true;
        }
    return false;
}

static int secrets(void *ctx, struct str akid, char *secret, size_t cap)
{
    (void)ctx;
    return str_eq_c(akid, AKID) ? str_copy(STR_LIT(SECRET), secret, cap) : -ERR_INVALID_ACCESS_KEY;
}

/* The seed request of either example, verified: gives the auth the decoder needs. */
static void seed_auth(bool trailer, struct s3_auth *a)
{
    struct treq b3 = {{"Host", "s3.amazonaws.com", "x-amz-date", "20130524T000000Z",
                       "x-amz-storage-class", "REDUCED_REDUNDANCY", "x-amz-content-sha256",
                       "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "Content-Encoding", "aws-chunked",
                       "x-amz-decoded-content-length", "66560", "Content-Length", "66824",
                       "Authorization",
                       "AWS4-HMAC-SHA256 Credential=" AKID "/20130524/us-east-1/s3/aws4_request,"
                       "SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;"
                       "x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,"
                       "Signature=" B3_SEED,
                       NULL}};
    struct treq tr = {{"Host", "s3.amazonaws.com", "x-amz-date", "20130524T000000Z",
                       "x-amz-storage-class", "REDUCED_REDUNDANCY", "x-amz-content-sha256",
                       "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", "Content-Encoding",
                       "aws-chunked", "x-amz-decoded-content-length", "66560", "x-amz-trailer",
                       "x-amz-checksum-crc32c", "Authorization",
                       "AWS4-HMAC-SHA256 Credential=" AKID "/20130524/us-east-1/s3/aws4_request,"
                       "SignedHeaders=content-encoding;host;x-amz-content-sha256;x-amz-date;"
                       "x-amz-decoded-content-length;x-amz-storage-class;x-amz-trailer,"
                       "Signature=" TR_SEED,
                       NULL}};
    struct s3_sig_req r = {.method = STR_LIT("PUT"),
                           .path = STR_LIT("/examplebucket/chunkObject.txt"),
                           .query = STR_LIT(""),
                           .header = t_header,
                           .ctx = trailer ? &tr : &b3};
    assert_int_equal(s3_auth_verify(&r, T2013, "us-east-1", secrets, NULL, a), 0);
    assert_int_equal(a->payload, trailer ? S3_PAYLOAD_STREAMING_TRAILER : S3_PAYLOAD_STREAMING);
}

/* Body of either example; sigs[0..2] are the chunk signatures. */
static void example_body(struct buf *b, const char *const sigs[3], const char *trailer)
{
    buf_reset(b);
    assert_int_equal(buf_printf(b, "10000;chunk-signature=%s\r\n", sigs[0]), 0);
    for (int i = 0; i < 65536; i++)
        buf_addc(b, 'a');
    assert_int_equal(buf_printf(b, "\r\n400;chunk-signature=%s\r\n", sigs[1]), 0);
    for (int i = 0; i < 1024; i++)
        buf_addc(b, 'a');
    assert_int_equal(buf_printf(b, "\r\n0;chunk-signature=%s\r\n%s\r\n", sigs[2], trailer), 0);
}

struct sink {
    uint64_t n;
    bool bad; /* a byte other than 'a' */
    int fail_at;
};

static int sink_a(void *ctx, const uint8_t *p, size_t n)
{
    struct sink *s = ctx;
    for (size_t i = 0; i < n; i++)
        s->bad |= p[i] != 'a';
    s->n += n;
    if (s->fail_at && s->n >= (uint64_t)s->fail_at)
        return -ERR_IO;
    return 0;
}

/* Feed in pieces of `step` bytes (0: all at once); returns the first error or finish. */
static int run(const struct s3_auth *a, const char *body, size_t len, size_t step, struct sink *s,
               struct s3_chunked **keep)
{
    struct s3_chunked *c = NULL;
    int rc;
    assert_int_equal(s3_chunked_new(a, &c), 0);
    for (size_t off = 0; off < len;) {
        size_t n = step && len - off > step ? step : len - off;
        if ((rc = s3_chunked_feed(c, (const uint8_t *)body + off, n, sink_a, s)) < 0)
            goto out;
        off += n;
    }
    rc = s3_chunked_finish(c);
out:
    if (keep && rc == 0)
        *keep = c;
    else
        s3_chunked_free(c);
    return rc;
}

static void test_b3_example(void **state)
{
    (void)state;
    const char *sigs[3] = {B3_SIG1, B3_SIG2, B3_SIG3};
    static const size_t steps[] = {0, 1, 2, 3, 7, 64, 85, 86, 87, 88, 89, 1000, 4096, 65536, 65625};
    struct s3_auth a;
    struct buf b = BUF_INIT;
    seed_auth(false, &a);
    example_body(&b, sigs, "");
    assert_int_equal(b.len, 66824); /* = Content-Length of the example */
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        struct sink s = {0};
        struct s3_chunked *c = NULL;
        print_message("step %zu\n", steps[i]);
        assert_int_equal(run(&a, b.ptr, b.len, steps[i], &s, &c), 0);
        assert_int_equal(s.n, 66560);
        assert_false(s.bad);
        assert_int_equal(s3_chunked_decoded_len(c), 66560);
        s3_chunked_free(c);
    }
    buf_release(&b);
}

static void test_trailer_example(void **state)
{
    (void)state;
    const char *sigs[3] = {TR_SIG1, TR_SIG2, TR_SIG3};
    struct s3_auth a;
    struct buf b = BUF_INIT;
    struct str v;
    seed_auth(true, &a);
    assert_int_equal(a.trailer, S3_CKSUM_CRC32C);
    example_body(&b, sigs,
                 "x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:" TR_TRAILER_SIG
                 "\r\n");
    for (size_t step = 0; step < 3000; step = step * 3 + 1) {
        struct sink s = {0};
        struct s3_chunked *c = NULL;
        print_message("step %zu\n", step);
        assert_int_equal(run(&a, b.ptr, b.len, step, &s, &c), 0);
        assert_int_equal(s.n, 66560);
        assert_true(s3_chunked_trailer(c, "x-amz-checksum-crc32c", &v));
        assert_true(str_eq_c(v, "sOO8/Q=="));
        s3_chunked_free(c);
    }

    /* wrong trailer signature / tampered checksum under the right signature */
    struct sink s = {0};
    example_body(&b, sigs,
                 "x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:"
                 "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e436\r\n");
    assert_int_equal(run(&a, b.ptr, b.len, 0, &s, NULL), -ERR_CHUNK_SIGNATURE);
    example_body(&b, sigs,
                 "x-amz-checksum-crc32c:sOO8/Q=X\r\nx-amz-trailer-signature:" TR_TRAILER_SIG
                 "\r\n");
    assert_int_equal(run(&a, b.ptr, b.len, 0, &s, NULL), -ERR_CHUNK_SIGNATURE);
    /* trailers without their signature */
    example_body(&b, sigs, "x-amz-checksum-crc32c:sOO8/Q==\r\n");
    assert_int_equal(run(&a, b.ptr, b.len, 0, &s, NULL), -ERR_CHUNK_SIGNATURE);
    /* the announced checksum missing altogether */
    example_body(&b, sigs, "");
    assert_int_equal(run(&a, b.ptr, b.len, 0, &s, NULL), -ERR_BAD_CHUNK);
    buf_release(&b);
}

static void test_signed_errors(void **state)
{
    (void)state;
    struct s3_auth a;
    struct buf b = BUF_INIT;
    struct sink s = {0};
    seed_auth(false, &a);

    /* a chunk signature off by one digit, in each position */
    for (int k = 0; k < 3; k++) {
        const char *sigs[3] = {B3_SIG1, B3_SIG2, B3_SIG3};
        char bad[65];
        snprintf(bad, sizeof bad, "%s", sigs[k]);
        bad[10] = bad[10] == '0' ? '1' : '0';
        sigs[k] = bad;
        example_body(&b, sigs, "");
        print_message("bad signature of chunk %d\n", k);
        assert_int_equal(run(&a, b.ptr, b.len, 0, &s, NULL), -ERR_CHUNK_SIGNATURE);
    }
    const char *sigs[3] = {B3_SIG1, B3_SIG2, B3_SIG3};
    example_body(&b, sigs, "");
    /* a data byte changed */
    b.ptr[20000] = 'b';
    assert_int_equal(run(&a, b.ptr, b.len, 0, &s, NULL), -ERR_CHUNK_SIGNATURE);
    b.ptr[20000] = 'a';
    /* the seed of another request */
    struct s3_auth other = a;
    other.seed_sig[0] ^= 1;
    assert_int_equal(run(&other, b.ptr, b.len, 0, &s, NULL), -ERR_CHUNK_SIGNATURE);

    /* truncated anywhere before the final chunk's header ends */
    static const size_t cuts[] = {0, 1, 50, 88, 1000, 65624, 65626, 65700, 66737, 66738, 66823};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        struct s3_chunked *c = NULL;
        print_message("cut at %zu\n", cuts[i]);
        assert_int_equal(s3_chunked_new(&a, &c), 0);
        assert_int_equal(s3_chunked_feed(c, (const uint8_t *)b.ptr, cuts[i], NULL, NULL), 0);
        assert_int_equal(s3_chunked_finish(c), -ERR_INCOMPLETE_BODY);
        s3_chunked_free(c);
    }
    /* only the closing CRLF missing: every byte and signature is in, accepted */
    struct sink s2 = {0};
    assert_int_equal(run(&a, b.ptr, b.len - 2, 0, &s2, NULL), 0);

    /* malformed chunk headers */
    static const char *const heads[] = {
        "zz;chunk-signature=" B3_SIG1 "\r\n",
        ";chunk-signature=" B3_SIG1 "\r\n",
        "-1;chunk-signature=" B3_SIG1 "\r\n",
        "10000 ;chunk-signature=" B3_SIG1 "\r\n",
        "10000000000000000;chunk-signature=" B3_SIG1 "\r\n", /* 17 hex digits */
        "10000\r\n",                                         /* signature missing */
        "10000;chunk-signature=abc\r\n",
        "10000;chunk-signature=" B3_SIG1 ";chunk-signature=" B3_SIG1 "\r\n",
        "10000;chunk-signature=" B3_SIG1 "\n", /* bare LF */
    };
    for (size_t i = 0; i < sizeof heads / sizeof heads[0]; i++) {
        struct s3_chunked *c = NULL;
        print_message("head %zu: %s\n", i, heads[i]);
        assert_int_equal(s3_chunked_new(&a, &c), 0);
        assert_int_equal(
            s3_chunked_feed(c, (const uint8_t *)heads[i], strlen(heads[i]), NULL, NULL),
            -ERR_BAD_CHUNK);
        /* sticky */
        assert_int_equal(s3_chunked_feed(c, (const uint8_t *)"x", 1, NULL, NULL), -ERR_BAD_CHUNK);
        assert_int_equal(s3_chunked_finish(c), -ERR_BAD_CHUNK);
        s3_chunked_free(c);
    }

    /* a header line over the limit, even without its end */
    struct s3_chunked *c = NULL;
    char *longline = malloc(5000);
    memset(longline, ';', 5000);
    longline[0] = '1';
    assert_int_equal(s3_chunked_new(&a, &c), 0);
    assert_int_equal(s3_chunked_feed(c, (const uint8_t *)longline, 4000, NULL, NULL), 0);
    assert_int_equal(s3_chunked_feed(c, (const uint8_t *)longline + 4000, 1000, NULL, NULL),
                     -ERR_BAD_CHUNK);
    s3_chunked_free(c);
    free(longline);

    /* data not followed by CRLF */
    example_body(&b, sigs, "");
    b.ptr[88 + 65536] = 'X';
    assert_int_equal(run(&a, b.ptr, b.len, 0, &s, NULL), -ERR_BAD_CHUNK);

    /* trailers are not allowed in the plain streaming mode */
    example_body(&b, sigs, "x-amz-meta-x:1\r\n");
    assert_int_equal(run(&a, b.ptr, b.len, 0, &s, NULL), -ERR_BAD_CHUNK);

    /* the sink's error stops decoding */
    example_body(&b, sigs, "");
    struct sink fail = {.fail_at = 100};
    assert_int_equal(run(&a, b.ptr, b.len, 0, &fail, NULL), -ERR_IO);

    /* not a streaming payload */
    struct s3_auth plain = {.kind = S3_AUTH_V4_HEADER, .payload = S3_PAYLOAD_SHA256};
    assert_int_equal(s3_chunked_new(&plain, &c), -ERR_INVALID);
    buf_release(&b);
}

/* STREAMING-UNSIGNED-PAYLOAD-TRAILER, as @aws-sdk/client-s3 and botocore >= 1.36 send it. */
static const struct {
    const char *trailer_hdr; /* x-amz-trailer, or NULL */
    const char *body;
    int rc;
    uint64_t len;
} UNSIGNED[] = {
    {"x-amz-checksum-crc32", "5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n", 0, 5},
    {"x-amz-checksum-crc32", "2\r\nhe\r\n3\r\nllo\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n", 0,
     5},
    {"x-amz-checksum-crc32", "5\r\nhello\r\n0\r\nX-Amz-Checksum-CRC32: NhCmhg== \r\n\r\n", 0, 5},
    {"x-amz-checksum-crc32c", "5\r\nhello\r\n0\r\nx-amz-checksum-crc32c:mnG7TA==\r\n\r\n", 0, 5},
    {"x-amz-checksum-sha1",
     "5\r\nhello\r\n0\r\nx-amz-checksum-sha1:qvTGHdzF6KLavt4PO0gs2a6pQ00=\r\n\r\n", 0, 5},
    {"x-amz-checksum-sha256",
     "5\r\nhello\r\n0\r\nx-amz-checksum-sha256:LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ="
     "\r\n\r\n",
     0, 5},
    {"x-amz-checksum-crc32", "0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n", 0, 0},
    {"x-amz-checksum-crc32", "5;ext=1\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n\r\n",
     0, 5},
    {NULL, "5\r\nhello\r\n0\r\n\r\n", 0, 5},
    {NULL, "5\r\nhello\r\n0\r\n", 0, 5}, /* no checksum: the SDK omits the last CRLF */
    {"x-amz-checksum-crc32", "5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhw==\r\n\r\n",
     -ERR_BAD_DIGEST, 5},
    {"x-amz-checksum-crc32c", "5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n",
     -ERR_BAD_CHUNK, 5},
    {"x-amz-checksum-crc32c", "5\r\nhello\r\n0\r\nx-amz-checksum-crc32c:NhCmhg==\r\n\r\n",
     -ERR_BAD_DIGEST, 5},
    {"x-amz-checksum-sha256",
     "5\r\nhellO\r\n0\r\nx-amz-checksum-sha256:LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ="
     "\r\n\r\n",
     -ERR_BAD_DIGEST, 5},
    {NULL, "5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n", -ERR_BAD_CHUNK, 5},
    {"x-amz-checksum-crc32", "5\r\nhello\r\n0\r\n\r\n", -ERR_BAD_CHUNK, 5},
    {"x-amz-checksum-crc32", "5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\nX",
     -ERR_BAD_CHUNK, 5},
    {"x-amz-checksum-crc32", "5\r\nhello\r\n0\r\nnocolon\r\n\r\n", -ERR_BAD_CHUNK, 5},
    {"x-amz-checksum-crc32", "5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCm", -ERR_INCOMPLETE_BODY,
     5},
    {"x-amz-checksum-crc32", "5\r\nhello\r\n", -ERR_INCOMPLETE_BODY, 5},
    {"x-amz-checksum-crc32", "5\r\nhel", -ERR_INCOMPLETE_BODY, 3},
    {"x-amz-checksum-crc32", "5\r\nhelloXX0\r\n\r\n", -ERR_BAD_CHUNK, 5},
    {"x-amz-checksum-crc32", "g\r\nhello\r\n0\r\n\r\n", -ERR_BAD_CHUNK, 0},
};

static int sink_count(void *ctx, const uint8_t *p, size_t n)
{
    (void)p;
    *(uint64_t *)ctx += n;
    return 0;
}

static void test_unsigned_trailer(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof UNSIGNED / sizeof UNSIGNED[0]; i++) {
        for (size_t step = 1; step <= 64; step *= 4) {
            struct s3_auth a = {.kind = S3_AUTH_ANON, .payload = S3_PAYLOAD_UNSIGNED_TRAILER};
            struct s3_chunked *c = NULL;
            const char *body = UNSIGNED[i].body;
            uint64_t n = 0;
            int rc = 0;
            print_message("row %zu step %zu\n", i, step);
            if (UNSIGNED[i].trailer_hdr && step == 1)
                a.trailer = s3_cksum_alg_parse(str_c(UNSIGNED[i].trailer_hdr));
            assert_int_equal(s3_chunked_new(&a, &c), 0);
            if (UNSIGNED[i].trailer_hdr && step != 1)
                assert_int_equal(s3_chunked_expect_trailer(c, str_c(UNSIGNED[i].trailer_hdr)), 0);
            for (size_t off = 0; off < strlen(body) && rc == 0; off += step) {
                size_t len = strlen(body) - off < step ? strlen(body) - off : step;
                rc = s3_chunked_feed(c, (const uint8_t *)body + off, len, sink_count, &n);
            }
            if (rc == 0)
                rc = s3_chunked_finish(c);
            assert_int_equal(rc, UNSIGNED[i].rc);
            assert_int_equal(n, UNSIGNED[i].len);
            s3_chunked_free(c);
        }
    }
    struct s3_auth a = {.payload = S3_PAYLOAD_UNSIGNED_TRAILER};
    struct s3_chunked *c = NULL;
    assert_int_equal(s3_chunked_new(&a, &c), 0);
    assert_int_equal(s3_chunked_expect_trailer(c, STR_LIT("x-amz-checksum-md5")), -ERR_INVALID);
    assert_int_equal(s3_chunked_feed(c, (const uint8_t *)"5\r\nhel", 6, NULL, NULL), 0);
    assert_int_equal(s3_chunked_expect_trailer(c, STR_LIT("x-amz-checksum-crc32")), -ERR_INVALID);
    s3_chunked_free(c);
    s3_chunked_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_b3_example),
        cmocka_unit_test(test_trailer_example),
        cmocka_unit_test(test_signed_errors),
        cmocka_unit_test(test_unsigned_trailer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
