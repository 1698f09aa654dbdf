/* test_portal.c -- portal helpers that see outside input or write output others parse:
 * HTML escaping, the JSON string writer (checked against jansson), the query-string
 * check (repeated / oversized parameters), size and count formats. */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "portal/portal_int.h"

static void test_html_escape_table(void **state)
{
    static const struct {
        const char *in, *out;
    } rows[] = {
        {"", ""},
        {"plain", "plain"},
        {"<script>alert('x')</script>", "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"},
        {"a & b \"c\"", "a &amp; b &quot;c&quot;"},
        {"Tier 2 — é", "Tier 2 — é"}, /* UTF-8 passes */
        {"&amp;", "&amp;amp;"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct buf b = BUF_INIT;
        print_message("row %zu: %s\n", i, rows[i].in);
        assert_int_equal(portal_html_escape(&b, str_c(rows[i].in)), 0);
        assert_string_equal(buf_cstr(&b), rows[i].out);
        buf_release(&b);
    }
}

static void test_json_str_table(void **state)
{
    static const struct {
        const char *in;
        size_t len;
        const char *out;
    } rows[] = {
        {"", 0, "\"\""},
        {"http://h/b/k?X-Amz-Date=1&a=%2F", 31, "\"http://h/b/k?X-Amz-Date=1&a=%2F\""},
        {"q\"b\\s", 5, "\"q\\\"b\\\\s\""},
        {"a\nb\tc\r", 6, "\"a\\nb\\tc\\r\""},
        {"\x01\x1f", 2, "\"\\u0001\\u001f\""},
        {"é€😀", 9, "\"é€😀\""}, /* valid UTF-8 kept */
        {"a\xff"
         "b",
         3, "\"a\\ufffdb\""},                             /* not UTF-8 */
        {"\xc3", 1, "\"\\ufffd\""},                       /* truncated sequence */
        {"\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\""}, /* a surrogate */
        {"\xc0\xaf", 2, "\"\\ufffd\\ufffd\""},            /* overlong '/' */
        {"a\0b", 3, "\"a\\u0000b\""},
    };
    (void)state;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct buf b = BUF_INIT;
        print_message("row %zu\n", i);
        assert_int_equal(portal_json_str(&b, str_n(rows[i].in, rows[i].len)), 0);
        assert_string_equal(buf_cstr(&b), rows[i].out);
        /* whatever the input, jansson reads it back as one string */
        json_error_t e;
        json_t *j = json_loadb(b.ptr, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
        assert_non_null(j);
        assert_true(json_is_string(j));
        json_decref(j);
        buf_release(&b);
    }
}

static void test_query_check_table(void **state)
{
    char big[300];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    memcpy(big, "t=", 2);
    char edge[257]; /* exactly 256 bytes: allowed */
    memset(edge, 'a', 256);
    edge[256] = '\0';
    memcpy(edge, "t=", 2);
    const struct {
        const char *q;
        int rc;
    } rows[] = {
        {"", 0},
        {"t=abc", 0},
        {"t=abc&x=1", 0},
        {"t=abc&t=abc", -ERR_INVALID}, /* repeated */
        {"t=a&x=1&t=b", -ERR_INVALID},
        {"t&t", -ERR_INVALID}, /* repeated without '=' */
        {"t=a&&x=1", 0},       /* empty items are ignored */
        {big, -ERR_INVALID},   /* over 256 bytes */
        {edge, 0},
        {"a=1&b=1&c=1&d=1&e=1&f=1&g=1&h=1&i=1&j=1&k=1&l=1&m=1&n=1&o=1&p=1&q=1", -ERR_INVALID},
    };
    (void)state;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        print_message("row %zu\n", i);
        assert_int_equal(portal_query_check(str_c(rows[i].q)), rows[i].rc);
    }
}

static void test_formats(void **state)
{
    char s[32], w[TG_TIME_BUF];
    (void)state;
    portal_fmt_size(0, s);
    assert_string_equal(s, "0 B");
    portal_fmt_size(1023, s);
    assert_string_equal(s, "1023 B");
    portal_fmt_size(1536, s);
    assert_string_equal(s, "1.50 KiB");
    portal_fmt_size(20 * 1048576 + 1, s);
    assert_string_equal(s, "20.0 MiB");
    portal_fmt_size(300ull << 30, s);
    assert_string_equal(s, "300 GiB");
    portal_fmt_count(-1, s);
    assert_string_equal(s, "\xe2\x80\x94");
    portal_fmt_count(0, s);
    assert_string_equal(s, "0");
    portal_fmt_count(999, s);
    assert_string_equal(s, "999");
    portal_fmt_count(1000, s);
    assert_string_equal(s, "1,000");
    portal_fmt_count(1234567, s);
    assert_string_equal(s, "1,234,567");
    portal_fmt_when(1770940800, w); /* 2026-02-13T00:00:00Z */
    assert_string_equal(w, "2026-02-13 00:00 UTC");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_html_escape_table),
        cmocka_unit_test(test_json_str_table),
        cmocka_unit_test(test_query_check_table),
        cmocka_unit_test(test_formats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
