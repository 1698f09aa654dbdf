/* test_s3_cksum.c -- x-amz-checksum-* algorithms: names, header names, and
 * known answers (Python zlib/hashlib and a bitwise CRC-32C) fed whole and in pieces. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "s3/s3.h"

static void test_alg_names(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        enum s3_cksum_alg alg;
    } rows[] = {
        {"crc32", S3_CKSUM_CRC32},
        {"CRC32", S3_CKSUM_CRC32},
        {"x-amz-checksum-crc32", S3_CKSUM_CRC32},
        {"X-Amz-Checksum-CRC32", S3_CKSUM_CRC32},
        {" x-amz-checksum-crc32 ", S3_CKSUM_CRC32},
        {"crc32c", S3_CKSUM_CRC32C},
        {"x-amz-checksum-crc32c", S3_CKSUM_CRC32C},
        {"SHA1", S3_CKSUM_SHA1},
        {"x-amz-checksum-sha256", S3_CKSUM_SHA256},
        {"sha256", S3_CKSUM_SHA256},
        {"crc64nvme", S3_CKSUM_NONE},
        {"md5", S3_CKSUM_NONE},
        {"x-amz-checksum-", S3_CKSUM_NONE},
        {"", S3_CKSUM_NONE},
        {"x-amz-checksum-crc32,x-amz-checksum-sha256", S3_CKSUM_NONE},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        print_message("row %zu: %s\n", i, rows[i].name);
        assert_int_equal(s3_cksum_alg_parse(str_c(rows[i].name)), rows[i].alg);
    }
    assert_string_equal(s3_cksum_header(S3_CKSUM_CRC32), "x-amz-checksum-crc32");
    assert_string_equal(s3_cksum_header(S3_CKSUM_CRC32C), "x-amz-checksum-crc32c");
    assert_string_equal(s3_cksum_header(S3_CKSUM_SHA1), "x-amz-checksum-sha1");
    assert_string_equal(s3_cksum_header(S3_CKSUM_SHA256), "x-amz-checksum-sha256");
    assert_null(s3_cksum_header(S3_CKSUM_NONE));
}

static const struct {
    const char *data; /* NULL: 66560 x 'a', the streaming examples' object */
    const char *crc32, *crc32c, *sha1, *sha256;
} KAT[] = {
    {"", "AAAAAA==", "AAAAAA==", "2jmj7l5rSw0yVb/vlWAYkK/YBwk=",
     "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="},
    {"hello", "NhCmhg==", "mnG7TA==", "qvTGHdzF6KLavt4PO0gs2a6pQ00=",
     "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ="},
    {"123456789", "y/Q5Jg==", "4waSgw==", "98O8HYCOBHMq32eZZczDTKeuNEE=",
     "FeKw08M4keuw8e9gnsQZQgwg4yDOlMZfvIwzEkSOsiU="},
    {NULL, "sK4Y7A==", "sOO8/Q==", "qOlv5ixdz2jRNhlSLmgH6iaTKRI=",
     "zWnTiHxq+SZLEA17dgIzEzXZqn4718MM3G1vS/uzyIg="},
};

static void test_known_answers(void **state)
{
    (void)state;
    char *big = malloc(66560);
    memset(big, 'a', 66560);
    for (size_t i = 0; i < sizeof KAT / sizeof KAT[0]; i++) {
        const char *d = KAT[i].data ? KAT[i].data : big;
        size_t n = KAT[i].data ? strlen(d) : 66560;
        const char *want[] = {KAT[i].crc32, KAT[i].crc32c, KAT[i].sha1, KAT[i].sha256};
        enum s3_cksum_alg algs[] = {S3_CKSUM_CRC32, S3_CKSUM_CRC32C, S3_CKSUM_SHA1,
                                    S3_CKSUM_SHA256};
        for (size_t k = 0; k < 4; k++) {
            for (size_t step = 1; step < 100000; step *= 7) {
                struct s3_cksum c;
                char out[64];
                print_message("row %zu alg %zu step %zu\n", i, k, step);
                assert_int_equal(s3_cksum_init(&c, algs[k]), 0);
                for (size_t off = 0; off < n; off += step)
                    s3_cksum_update(&c, d + off, n - off < step ? n - off : step);
                assert_int_equal(s3_cksum_final(&c, out, sizeof out), 0);
                assert_string_equal(out, want[k]);
            }
        }
    }
    free(big);
}

static void test_errors(void **state)
{
    (void)state;
    struct s3_cksum c;
    char out[9];
    assert_int_equal(s3_cksum_init(&c, S3_CKSUM_NONE), -ERR_INVALID);
    assert_int_equal(s3_cksum_init(&c, S3_CKSUM_SHA256), 0);
    s3_cksum_update(&c, "x", 1);
    assert_int_equal(s3_cksum_final(&c, out, sizeof out), -ERR_TOO_LONG); /* needs 45 */
    s3_cksum_release(&c);                                                 /* after final: a no-op */
    assert_int_equal(s3_cksum_init(&c, S3_CKSUM_SHA1), 0);
    s3_cksum_release(&c); /* without final: frees the state */
    s3_cksum_release(&c);
    s3_cksum_release(NULL);
    assert_int_equal(s3_cksum_init(&c, S3_CKSUM_CRC32), 0);
    assert_int_equal(s3_cksum_final(&c, out, sizeof out), 0);
    assert_string_equal(out, "AAAAAA==");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alg_names),
        cmocka_unit_test(test_known_answers),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
