/* test_http_cond.c -- http_cond_eval: a table of conditional headers with S3's
 * semantics (If-Match beats If-Unmodified-Since, If-None-Match beats
 * If-Modified-Since, strong vs weak comparison, "*", lists, bad dates ignored). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "http/http.h"

#define ETAG "\"0123abcd\""
/* mtime of the object: Fri, 13 Feb 2026 12:00:00 GMT */
#define MTIME 1770984000
#define BEFORE "Fri, 13 Feb 2026 11:59:59 GMT"
#define AT "Fri, 13 Feb 2026 12:00:00 GMT"
#define AFTER "Fri, 13 Feb 2026 12:00:01 GMT"

static const struct {
    const char *im, *inm, *ims, *ius; /* NULL = absent */
    int rc;
} cases[] = {
    {NULL, NULL, NULL, NULL, 0},
    /* If-Match */
    {ETAG, NULL, NULL, NULL, 0},
    {"0123abcd", NULL, NULL, NULL, 0}, /* unquoted, as some clients send */
    {"\"other\"", NULL, NULL, NULL, -ERR_PRECONDITION},
    {"\"other\", " ETAG, NULL, NULL, NULL, 0},
    {"*", NULL, NULL, NULL, 0},
    {"W/" ETAG, NULL, NULL, NULL, -ERR_PRECONDITION}, /* strong comparison */
    {"", NULL, NULL, NULL, 0},                        /* empty: absent */
    /* If-Unmodified-Since */
    {NULL, NULL, NULL, AT, 0},
    {NULL, NULL, NULL, AFTER, 0},
    {NULL, NULL, NULL, BEFORE, -ERR_PRECONDITION},
    {NULL, NULL, NULL, "yesterday", 0}, /* invalid date: ignored */
    /* S3: If-Match true + If-Unmodified-Since false -> 200 */
    {ETAG, NULL, NULL, BEFORE, 0},
    /* If-Match false -> 412 even with If-Unmodified-Since true */
    {"\"other\"", NULL, NULL, AFTER, -ERR_PRECONDITION},
    /* If-None-Match */
    {NULL, ETAG, NULL, NULL, -ERR_NOT_MODIFIED},
    {NULL, "\"other\"", NULL, NULL, 0},
    {NULL, "W/" ETAG, NULL, NULL, -ERR_NOT_MODIFIED}, /* weak comparison */
    {NULL, "\"a\",\"b\" , " ETAG, NULL, NULL, -ERR_NOT_MODIFIED},
    {NULL, "*", NULL, NULL, -ERR_NOT_MODIFIED},
    /* If-Modified-Since */
    {NULL, NULL, AT, NULL, -ERR_NOT_MODIFIED},
    {NULL, NULL, AFTER, NULL, -ERR_NOT_MODIFIED},
    {NULL, NULL, BEFORE, NULL, 0},
    {NULL, NULL, "not a date", NULL, 0},
    {NULL, NULL, "Friday, 13-Feb-26 12:00:00 GMT", NULL, -ERR_NOT_MODIFIED}, /* RFC 850 */
    {NULL, NULL, "Fri Feb 13 12:00:00 2026", NULL, -ERR_NOT_MODIFIED},       /* asctime */
    /* S3: If-None-Match false (matches) + If-Modified-Since true -> 304 */
    {NULL, ETAG, BEFORE, NULL, -ERR_NOT_MODIFIED},
    /* If-None-Match true (no match): If-Modified-Since is not evaluated */
    {NULL, "\"other\"", AFTER, NULL, 0},
    /* precedence: a failed If-Match is 412 even when If-None-Match would be 304 */
    {"\"other\"", ETAG, NULL, NULL, -ERR_PRECONDITION},
    {ETAG, ETAG, NULL, NULL, -ERR_NOT_MODIFIED},
    {NULL, ETAG, NULL, BEFORE, -ERR_PRECONDITION},
};

static struct str opt(const char *s)
{
    return s ? str_c(s) : STR_NULL;
}

static void test_cond_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct http_cond c = {opt(cases[i].im), opt(cases[i].inm), opt(cases[i].ims),
                              opt(cases[i].ius)};
        print_message("row %zu\n", i);
        assert_int_equal(http_cond_eval(&c, STR_LIT(ETAG), MTIME), cases[i].rc);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cond_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
