/* test_crypto.c -- known-answer tables: SHA-256, MD5, SHA-1, HMAC-SHA256 (RFC 4231),
 * HMAC-SHA1 (RFC 2202), CRC-32 and CRC-32C check values, streaming = one-shot,
 * constant-time compare. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>

#include <cmocka.h>

#include "crypto/crypto.h"
#include "util/util.h"

static void test_digests(void **state)
{
    char hex[129];
    uint8_t d[32];
    crypto_sha256("", 0, d);
    hex_encode(d, 32, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    crypto_sha256("abc", 3, d);
    hex_encode(d, 32, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    crypto_md5("abc", 3, d);
    hex_encode(d, 16, hex);
    assert_string_equal(hex, "900150983cd24fb0d6963f7d28e17f72");
    crypto_sha1("abc", 3, d);
    hex_encode(d, 20, hex);
    assert_string_equal(hex, "a9993e364706816aba3e25717850c26c9cd0d89d");
    /* streaming in odd pieces equals one-shot */
    static char big[100003];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)(i * 7 + 3);
    uint8_t one[32], two[32];
    crypto_sha256(big, sizeof big, one);
    struct crypto_hash h = {0};
    assert_int_equal(crypto_sha256_init(&h), 0);
    for (size_t off = 0; off < sizeof big;) {
        size_t n = off % 7919 + 1;
        if (n > sizeof big - off)
            n = sizeof big - off;
        crypto_hash_update(&h, big + off, n);
        off += n;
    }
    assert_int_equal(crypto_hash_final(&h, two), 0);
    assert_memory_equal(one, two, 32);
    crypto_hash_release(&h); /* after final: harmless */
}

static void test_hmac(void **state)
{
    uint8_t d[32], key[20];
    char hex[65];
    memset(key, 0x0b, 20);
    /* RFC 4231 test case 1 */
    crypto_hmac_sha256(key, 20, "Hi There", 8, d);
    hex_encode(d, 32, hex);
    assert_string_equal(hex, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    /* RFC 4231 test case 2 */
    crypto_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, d);
    hex_encode(d, 32, hex);
    assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    /* RFC 2202 test case 2 */
    crypto_hmac_sha1("Jefe", 4, "what do ya want for nothing?", 28, d);
    hex_encode(d, 20, hex);
    assert_string_equal(hex, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
    /* a long key (> block size) is hashed first: RFC 4231 case 6 */
    uint8_t lk[131];
    memset(lk, 0xaa, sizeof lk);
    crypto_hmac_sha256(lk, sizeof lk, "Test Using Larger Than Block-Size Key - Hash Key First", 54,
                       d);
    hex_encode(d, 32, hex);
    assert_string_equal(hex, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

static void test_crc(void **state)
{
    assert_true(crypto_crc32(0, "123456789", 9) == 0xCBF43926u);
    assert_true(crypto_crc32c(0, "123456789", 9) == 0xE3069283u);
    assert_true(crypto_crc32(0, "", 0) == 0);
    /* incremental equals one-shot, across the 8-byte slicing boundary */
    const char *s = "The quick brown fox jumps over the lazy dog";
    uint32_t a = crypto_crc32(0, s, strlen(s));
    uint32_t b = crypto_crc32(crypto_crc32(0, s, 5), s + 5, strlen(s) - 5);
    assert_true(a == b && a == 0x414FA339u);
    uint32_t c = crypto_crc32c(crypto_crc32c(0, s, 13), s + 13, strlen(s) - 13);
    assert_true(c == crypto_crc32c(0, s, strlen(s)));
}

static void test_ct_random(void **state)
{
    assert_true(crypto_ct_eq("abcd", "abcd", 4));
    assert_false(crypto_ct_eq("abcd", "abce", 4));
    uint8_t a[32] = {0}, b[32] = {0};
    assert_int_equal(crypto_random(a, sizeof a), 0);
    assert_int_equal(crypto_random(b, sizeof b), 0);
    assert_false(crypto_ct_eq(a, b, 32));
    crypto_wipe(a, sizeof a);
    static const uint8_t zero[32];
    assert_memory_equal(a, zero, 32);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_digests),
        cmocka_unit_test(test_hmac),
        cmocka_unit_test(test_crc),
        cmocka_unit_test(test_ct_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
