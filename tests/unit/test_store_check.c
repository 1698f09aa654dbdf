/* test_store_check.c -- tables of bucket names and object keys against
 * store_bucket_name_check and store_key_check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "store/store.h"

static const struct {
    const char *name;
    int rc;
} buckets[] = {
    {"abc", 0},
    {"my-bucket.data-01", 0},
    {"a.b-c", 0},
    {"0bucket9", 0},
    {"ab", -ERR_INVALID_BUCKET_NAME}, /* too short */
    {"", -ERR_INVALID_BUCKET_NAME},
    {"Abc", -ERR_INVALID_BUCKET_NAME},  /* uppercase */
    {"ab_c", -ERR_INVALID_BUCKET_NAME}, /* underscore */
    {"-abc", -ERR_INVALID_BUCKET_NAME},
    {"abc-", -ERR_INVALID_BUCKET_NAME},
    {".abc", -ERR_INVALID_BUCKET_NAME},
    {"abc.", -ERR_INVALID_BUCKET_NAME},
    {"a..b", -ERR_INVALID_BUCKET_NAME},
    {"192.168.5.4", -ERR_INVALID_BUCKET_NAME}, /* an IP address */
    {"192.168.5", 0},                          /* three groups: not one */
    {"1.2.3.4a", 0},
    {"xn--abc", -ERR_INVALID_BUCKET_NAME},
    {"abc-s3alias", -ERR_INVALID_BUCKET_NAME},
    {"abc--ol-s3", -ERR_INVALID_BUCKET_NAME},
    {"sthree-abc", -ERR_INVALID_BUCKET_NAME},
    {"a b", -ERR_INVALID_BUCKET_NAME},
    {"abc/def", -ERR_INVALID_BUCKET_NAME},
    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0}, /* 63 */
    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",    /* 64 */
     -ERR_INVALID_BUCKET_NAME},
};

static void test_bucket_names(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof buckets / sizeof buckets[0]; i++) {
        print_message("row %zu: '%s'\n", i, buckets[i].name);
        assert_int_equal(store_bucket_name_check(str_c(buckets[i].name)), buckets[i].rc);
    }
    assert_int_equal(store_bucket_name_check(STR_NULL), -ERR_INVALID_BUCKET_NAME);
}

static const struct {
    const char *key;
    size_t len; /* 0 = strlen */
    int rc;
} keys[] = {
    {"a", 0, 0},
    {"dir/sub/file.parquet", 0, 0},
    {"with space & symbols !'()*", 0, 0},
    {"caf\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac/\xf0\x9f\x98\x80", 0, 0}, /* é, 日本, emoji */
    {"a\0b", 3, -ERR_INVALID_KEY},                                   /* NUL */
    {"\xff", 0, -ERR_INVALID_KEY},
    {"\xc3", 0, -ERR_INVALID_KEY},             /* truncated sequence */
    {"\xc0\xaf", 0, -ERR_INVALID_KEY},         /* overlong '/' */
    {"\xe0\x80\xaf", 0, -ERR_INVALID_KEY},     /* overlong, 3 bytes */
    {"\xed\xa0\x80", 0, -ERR_INVALID_KEY},     /* surrogate */
    {"\xf4\x90\x80\x80", 0, -ERR_INVALID_KEY}, /* > U+10FFFF */
    {"\x80", 0, -ERR_INVALID_KEY},             /* lone continuation */
    {"\xef\xbf\xbf", 0, 0},                    /* U+FFFF is allowed */
    {"\x7f\x01", 0, 0},                        /* controls but NUL */
};

static void test_keys(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        size_t len = keys[i].len ? keys[i].len : strlen(keys[i].key);
        print_message("row %zu\n", i);
        assert_int_equal(store_key_check(str_n(keys[i].key, len)), keys[i].rc);
    }
    char big[STORE_KEY_MAX + 2];
    memset(big, 'k', sizeof big);
    assert_int_equal(store_key_check(str_n(big, STORE_KEY_MAX)), 0);
    assert_int_equal(store_key_check(str_n(big, STORE_KEY_MAX + 1)), -ERR_KEY_TOO_LONG);
    assert_int_equal(store_key_check(str_n(big, 0)), -ERR_INVALID_KEY);
    assert_int_equal(store_key_check(STR_NULL), -ERR_INVALID_KEY);
    /* 1024 bytes of multibyte characters are fine; one more byte is too long */
    for (size_t i = 0; i + 2 <= STORE_KEY_MAX; i += 2)
        big[i] = (char)0xc3, big[i + 1] = (char)0xa9;
    assert_int_equal(store_key_check(str_n(big, STORE_KEY_MAX)), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bucket_names),
        cmocka_unit_test(test_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
