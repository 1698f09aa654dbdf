/* test_util.c -- util: percent-encoding, base64/hex, time formats and parsers,
 * calendar math, durations, sizes, buffers, the error table, INI config errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/util.h"

static void test_uri_encode_table(void **state)
{
    static const struct {
        const char *in;
        bool keep_slash;
        const char *out;
    } rows[] = {
        {"test.txt", true, "test.txt"},
        {"test$file.text", true, "test%24file.text"}, /* AWS example: $ -> %24 */
        {"a b/c", true, "a%20b/c"},
        {"a b/c", false, "a%20b%2Fc"},
        {"~-_.", true, "~-_."}, /* unreserved stay */
        {"+=&?#", true, "%2B%3D%26%3F%23"},
        {"é", true, "%C3%A9"}, /* UTF-8 bytes, uppercase hex */
        {"", true, ""},
        {"!*'()", true, "%21%2A%27%28%29"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct buf b = BUF_INIT;
        print_message("row %zu: %s\n", i, rows[i].in);
        assert_int_equal(uri_encode(&b, str_c(rows[i].in), rows[i].keep_slash), 0);
        assert_string_equal(buf_cstr(&b), rows[i].out);
        buf_release(&b);
    }
}

static void test_uri_decode_table(void **state)
{
    static const struct {
        const char *in;
        bool plus;
        int rc;
        const char *out;
    } rows[] = {
        {"a%20b", false, 0, "a b"},
        {"a+b", false, 0, "a+b"},
        {"a+b", true, 0, "a b"},
        {"%2f%2F", false, 0, "//"},
        {"%", false, -ERR_INVALID, NULL},
        {"%2", false, -ERR_INVALID, NULL},
        {"%zz", false, -ERR_INVALID, NULL},
        {"%C3%A9", false, 0, "é"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct buf b = BUF_INIT;
        print_message("row %zu: %s\n", i, rows[i].in);
        assert_int_equal(uri_decode(&b, str_c(rows[i].in), rows[i].plus), rows[i].rc);
        if (rows[i].out)
            assert_string_equal(buf_cstr(&b), rows[i].out);
        buf_release(&b);
    }
}

static void test_query_get(void **state)
{
    struct str q = STR_LIT("uploads&prefix=a%2Fb&x=&list-type=2"), v;
    assert_true(query_get(q, "uploads", &v));
    assert_int_equal(v.len, 0);
    assert_true(query_get(q, "prefix", &v));
    assert_true(str_eq_c(v, "a%2Fb"));
    assert_true(query_get(q, "x", &v));
    assert_int_equal(v.len, 0);
    assert_false(query_get(q, "list", &v)); /* no prefix matches */
    assert_false(query_get(STR_NULL, "a", &v));
    struct buf b = BUF_INIT;
    assert_int_equal(query_get_decoded(q, "prefix", &b), 0);
    assert_string_equal(buf_cstr(&b), "a/b");
    assert_int_equal(query_get_decoded(q, "nope", &b), -ERR_NOT_FOUND);
    buf_release(&b);
}

static void test_base64_hex(void **state)
{
    static const struct {
        const char *raw, *b64, *b64url;
    } rows[] = {
        {"", "", ""},
        {"f", "Zg==", "Zg"},
        {"fo", "Zm8=", "Zm8"},
        {"foo", "Zm9v", "Zm9v"},
        {"foob", "Zm9vYg==", "Zm9vYg"},
        {"\xfb\xff", "+/8=", "-_8"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char out[64];
        uint8_t back[64];
        size_t n = strlen(rows[i].raw);
        print_message("row %zu\n", i);
        b64_encode(rows[i].raw, n, out);
        assert_string_equal(out, rows[i].b64);
        assert_int_equal(b64_decode(str_c(rows[i].b64), back, sizeof back), (int)n);
        assert_memory_equal(back, rows[i].raw, n);
        b64url_encode(rows[i].raw, n, out);
        assert_string_equal(out, rows[i].b64url);
        assert_int_equal(b64url_decode(str_c(rows[i].b64url), back, sizeof back), (int)n);
        assert_memory_equal(back, rows[i].raw, n);
    }
    uint8_t x[4];
    assert_int_equal(b64_decode(str_c("Zg="), x, sizeof x), -ERR_INVALID); /* bad padding */
    assert_int_equal(b64_decode(str_c("Z$=="), x, sizeof x), -ERR_INVALID);
    assert_int_equal(b64_decode(str_c("Zm9vYmFy"), x, 4), -ERR_INVALID);    /* too long */
    assert_int_equal(b64_decode(str_c("Zh=="), x, sizeof x), -ERR_INVALID); /* non-canonical */
    char h[9];
    hex_encode("\x01\xab\xff\x00", 4, h);
    assert_string_equal(h, "01abff00");
    assert_int_equal(hex_decode(str_c("01ABff00"), x, 4), 4);
    assert_memory_equal(x, "\x01\xab\xff\x00", 4);
    assert_int_equal(hex_decode(str_c("0g"), x, 4), -ERR_INVALID);
    assert_int_equal(hex_decode(str_c("012"), x, 4), -ERR_INVALID);
}

static void test_time_formats(void **state)
{
    char b[TG_TIME_BUF];
    int64_t t = 1369353600; /* 2013-05-24T00:00:00Z, the AWS examples' instant */
    time_fmt_iso8601(t, b);
    assert_string_equal(b, "2013-05-24T00:00:00Z");
    time_fmt_amz(t, b);
    assert_string_equal(b, "20130524T000000Z");
    time_fmt_http(t, b);
    assert_string_equal(b, "Fri, 24 May 2013 00:00:00 GMT");
    time_fmt_date(t, b);
    assert_string_equal(b, "2013-05-24");
    time_fmt_iso8601_ms((int64_t)t * 1000000 + 123456, b);
    assert_string_equal(b, "2013-05-24T00:00:00.123Z");
    time_fmt_iso8601(-1, b);
    assert_string_equal(b, "1969-12-31T23:59:59Z");
}

static void test_time_parse_table(void **state)
{
    static const struct {
        int kind; /* 0 iso, 1 amz, 2 http, 3 date */
        const char *in;
        int rc;
        int64_t t;
    } rows[] = {
        {0, "2026-02-13T00:00:00Z", 0, 1770940800},
        {0, "2026-02-13T00:00:00.999Z", 0, 1770940800},
        {0, "2026-02-13T01:02:03+00:00", 0, 1770944523},
        {0, "2026-02-13", 0, 1770940800},
        {0, "2026-02-13T00:00:00", -ERR_INVALID, 0}, /* no zone: refused */
        {0, "2026-02-13T00:00:00+01:00", -ERR_INVALID, 0},
        {0, "2026-02-30T00:00:00Z", -ERR_INVALID, 0},
        {0, "2024-02-29T00:00:00Z", 0, 1709164800}, /* leap day */
        {0, "2023-02-29T00:00:00Z", -ERR_INVALID, 0},
        {0, "garbage", -ERR_INVALID, 0},
        {1, "20130524T000000Z", 0, 1369353600},
        {1, "20130524T000000", -ERR_INVALID, 0},
        {1, "2013-05-24T00:00:00Z", -ERR_INVALID, 0},
        {2, "Fri, 24 May 2013 00:00:00 GMT", 0, 1369353600},
        {2, "Friday, 24-May-13 00:00:00 GMT", 0, 1369353600},
        {2, "Fri May 24 00:00:00 2013", 0, 1369353600},
        {2, "Fri, 24 May 2013 00:00:00 CET", -ERR_INVALID, 0},
        {2, "", -ERR_INVALID, 0},
        {3, "2026-02-13", 0, 1770940800},
        {3, "2026-2-13", -ERR_INVALID, 0},
        /* microseconds: a listing's LastModified keeps its milliseconds */
        {4, "2026-02-13T00:00:01.250Z", 0, 1770940801250000},
        {4, "2026-02-13T00:00:01.1234567Z", 0, 1770940801123456},
        {4, "2026-02-13T00:00:01Z", 0, 1770940801000000},
        {4, "2026-02-13T00:00:01.Z", -ERR_INVALID, 0},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        int64_t t = -42;
        int rc;
        struct str s = str_c(rows[i].in);
        print_message("row %zu: %s\n", i, rows[i].in);
        switch (rows[i].kind) {
        case 0:
            rc = time_parse_iso8601(s, &t);
            break;
        case 1:
            rc = time_parse_amz(s, &t);
            break;
        case 2:
            rc = time_parse_http(s, &t);
            break;
        case 3:
            rc = time_parse_date(s, &t);
            break;
        default:
            rc = time_parse_iso8601_us(s, &t);
            break;
        }
        assert_int_equal(rc, rows[i].rc);
        assert_int_equal(t, rc == 0 ? rows[i].t : -42); /* out untouched on error */
    }
}

static void test_calendar(void **state)
{
    /* Round trip over 1900..2200 and the weekday of known dates. */
    for (int64_t d = days_from_civil(1900, 1, 1); d < days_from_civil(2200, 1, 1); d += 17) {
        int y, m, dd;
        civil_from_days(d, &y, &m, &dd);
        assert_int_equal(days_from_civil(y, m, dd), d);
    }
    assert_int_equal(days_from_civil(1970, 1, 1), 0);
    assert_int_equal(weekday_from_days(days_from_civil(1970, 1, 5)), 0);   /* a Monday */
    assert_int_equal(weekday_from_days(days_from_civil(2026, 11, 22)), 6); /* a Sunday */
    assert_int_equal(weekday_from_days(-1), 2);                            /* Wednesday */
}

static void test_duration_size(void **state)
{
    static const struct {
        const char *in;
        int rc;
        int64_t v;
    } d[] = {
        {"90", 0, 90},
        {"30s", 0, 30},
        {"15m", 0, 900},
        {"24h", 0, 86400},
        {"7d", 0, 604800},
        {"6d20h", 0, 590400},
        {"1w", 0, 604800},
        {"", -ERR_INVALID, 0},
        {"5x", -ERR_INVALID, 0},
        {"1d5", -ERR_INVALID, 0},
        {"-1s", -ERR_INVALID, 0},
        {"h", -ERR_INVALID, 0},
    };
    for (size_t i = 0; i < sizeof d / sizeof d[0]; i++) {
        int64_t v = -1;
        print_message("duration row %zu: %s\n", i, d[i].in);
        assert_int_equal(duration_parse(str_c(d[i].in), &v), d[i].rc);
        if (d[i].rc == 0)
            assert_int_equal(v, d[i].v);
    }
    static const struct {
        const char *in;
        int rc;
        uint64_t v;
    } s[] = {
        {"4096", 0, 4096},
        {"64KiB", 0, 65536},
        {"5GiB", 0, 5368709120ull},
        {"5G", 0, 5368709120ull},
        {"1MiB", 0, 1048576},
        {"1 MiB", -ERR_INVALID, 0},
        {"MiB", -ERR_INVALID, 0},
        {"1PB", -ERR_INVALID, 0},
        {"99999999999999999999999", -ERR_INVALID, 0},
    };
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
        uint64_t v = 0;
        print_message("size row %zu: %s\n", i, s[i].in);
        assert_int_equal(size_parse(str_c(s[i].in), &v), s[i].rc);
        if (s[i].rc == 0)
            assert_true(v == s[i].v);
    }
}

static void test_buf_limits(void **state)
{
    struct buf b;
    buf_init(&b, 8);
    assert_int_equal(buf_adds(&b, "12345678"), 0);
    assert_int_equal(buf_addc(&b, 'x'), -ERR_TOO_LONG); /* the ceiling holds */
    assert_int_equal(b.len, 8);
    assert_string_equal(buf_cstr(&b), "12345678");
    buf_reset(&b);
    assert_int_equal(buf_printf(&b, "%d-%s", 42, "ab"), 0);
    assert_string_equal(buf_cstr(&b), "42-ab");
    char *p = buf_take(&b);
    assert_string_equal(p, "42-ab");
    free(p);
    assert_null(b.ptr);
    p = buf_take(&b); /* empty buffer gives "" */
    assert_string_equal(p, "");
    free(p);
    struct buf big = BUF_INIT;
    buf_init(&big, 1 << 20);
    for (int i = 0; i < 10000; i++)
        assert_int_equal(buf_printf(&big, "%04d", i % 10000), 0);
    assert_int_equal(big.len, 40000);
    buf_release(&big);
    buf_release(&big); /* twice is fine */
}

static void test_str_helpers(void **state)
{
    struct str h, t;
    assert_true(str_split(str_c("a/b/c"), '/', &h, &t));
    assert_true(str_eq_c(h, "a") && str_eq_c(t, "b/c"));
    assert_false(str_split(str_c("abc"), '/', &h, &t));
    assert_true(str_eq_c(h, "abc") && t.len == 0);
    assert_true(str_eq_c(str_trim(str_c("  x y \t")), "x y"));
    assert_true(str_case_eq_c(str_c("Content-MD5"), "content-md5"));
    uint64_t u;
    assert_int_equal(str_to_u64(str_c("18446744073709551615"), &u), 0);
    assert_true(u == UINT64_MAX);
    assert_int_equal(str_to_u64(str_c("18446744073709551616"), &u), -ERR_INVALID);
    assert_int_equal(str_to_u64(str_c("+1"), &u), -ERR_INVALID);
    assert_int_equal(str_to_u64(str_c(""), &u), -ERR_INVALID);
    char small[4];
    assert_int_equal(str_copy(str_c("abcd"), small, sizeof small), -ERR_TOO_LONG);
    assert_int_equal(str_copy(str_c("abc"), small, sizeof small), 0);
}

static void test_err_table(void **state)
{
    assert_int_equal(err_http_status(-ERR_NO_SUCH_KEY), 404);
    assert_string_equal(err_s3_code(-ERR_NO_SUCH_KEY), "NoSuchKey");
    assert_int_equal(err_http_status(-ERR_SIGNATURE), 403);
    assert_string_equal(err_s3_code(-ERR_TIME_SKEWED), "RequestTimeTooSkewed");
    assert_int_equal(err_http_status(-ERR_AUTH_QUERY), 400);
    assert_string_equal(err_message(-ERR_EXPIRED), "Request has expired");
    assert_int_equal(err_http_status(-2 /* ENOENT */), 500);
    assert_string_equal(err_s3_code(-2), "InternalError");
    assert_string_equal(err_name(-ERR_BUCKET_NOT_EMPTY), "ERR_BUCKET_NOT_EMPTY");
}

static char *write_tmp(const char *text)
{
    char *path = strdup("/tmp/tg-test-cfg-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void test_cfg(void **state)
{
    char *p = write_tmp("; comment\n[server]\nlisten = 127.0.0.1:9\nmax_put_size = 1MiB\n"
                        "\n[grant   tier2]\ntitle = Tier 2 ; inline\n[storage]\nbucket=x\n");
    struct cfg c;
    char *err = NULL;
    assert_int_equal(cfg_load(p, &c, &err), 0);
    assert_string_equal(cfg_get(&c, "server", "listen", NULL), "127.0.0.1:9");
    assert_string_equal(cfg_get(&c, "grant tier2", "title", NULL), "Tier 2");
    assert_string_equal(cfg_get(&c, "server", "nope", "dflt"), "dflt");
    const struct cfg_entry *e = cfg_find(&c, "storage", "bucket");
    assert_non_null(e);
    assert_int_equal(e->line, 9);
    uint64_t sz;
    assert_int_equal(cfg_get_size(&c, "server", "max_put_size", 0, &sz, &err), 0);
    assert_true(sz == 1048576);
    int64_t d;
    assert_int_equal(cfg_get_duration(&c, "server", "listen", 0, &d, &err), -ERR_CONFIG);
    assert_non_null(strstr(err, ":3: [server] listen")); /* file:line: [section] key */
    free(err);
    err = NULL;
    static const char *const known[] = {"server.listen", "server.max_put_size", "grant *.title",
                                        NULL};
    assert_int_equal(cfg_check_known(&c, known, &err), -ERR_CONFIG);
    assert_non_null(strstr(err, ":9: unknown section for key 'bucket' in [storage]"));
    free(err);
    cfg_release(&c);
    unlink(p);
    free(p);

    p = write_tmp("[server]\nthis line has no equals sign\n");
    err = NULL;
    assert_int_equal(cfg_load(p, &c, &err), -ERR_CONFIG);
    assert_non_null(strstr(err, ":2: syntax error"));
    free(err);
    unlink(p);
    free(p);
    err = NULL;
    assert_true(cfg_load("/nonexistent/x.conf", &c, &err) < 0);
    assert_non_null(strstr(err, "cannot open config '/nonexistent/x.conf'"));
    free(err);
}

static void test_link_preview_agents(void **state)
{
    static const struct {
        const char *ua;
        bool bot;
    } rows[] = {
        {"Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", true},
        {"Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)", true},
        {"TelegramBot (like TwitterBot)", true},
        {"facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", true},
        {"WhatsApp/2.23.20.0", true},
        {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/120.0.0.0 Safari/537.36",
         false},
        {"curl/7.88.1", false},
        {"aws-cli/2.9.19 Python/3.11.2 Linux/6.1.0 source/x86_64.debian.12", false},
        {"", false},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        print_message("row %zu: %s\n", i, rows[i].ua);
        assert_int_equal(ua_is_link_preview(str_c(rows[i].ua)), rows[i].bot);
    }
}

static void test_now_override(void **state)
{
    setenv("TOLLGATE_NOW", "2026-02-13T10:00:00Z", 1);
    assert_int_equal(tg_time_init(), 0);
    int64_t t = tg_now();
    assert_true(t >= 1770976800 && t < 1770976800 + 60); /* starts there, then advances */
    setenv("TOLLGATE_NOW", "yesterday", 1);
    assert_int_equal(tg_time_init(), -ERR_INVALID);
    unsetenv("TOLLGATE_NOW");
}

static void test_strv(void **state)
{
    (void)state;
    struct strv sv = {0};
    char k[16];
    for (int i = 0; i < 100; i++) {
        snprintf(k, sizeof k, "k%d", i);
        assert_int_equal(strv_add(&sv, k), 0);
    }
    assert_int_equal(sv.n, 100);
    assert_string_equal(sv.v[0], "k0");
    assert_string_equal(sv.v[99], "k99");
    strv_release(&sv);
    assert_int_equal(sv.n, 0);
    assert_null(sv.v);
    strv_release(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uri_encode_table),
        cmocka_unit_test(test_uri_decode_table),
        cmocka_unit_test(test_query_get),
        cmocka_unit_test(test_base64_hex),
        cmocka_unit_test(test_time_formats),
        cmocka_unit_test(test_time_parse_table),
        cmocka_unit_test(test_calendar),
        cmocka_unit_test(test_duration_size),
        cmocka_unit_test(test_buf_limits),
        cmocka_unit_test(test_strv),
        cmocka_unit_test(test_str_helpers),
        cmocka_unit_test(test_err_table),
        cmocka_unit_test(test_cfg),
        cmocka_unit_test(test_now_override),
        cmocka_unit_test(test_link_preview_agents),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
