/* test_http_range.c -- http_range_parse: a table of Range headers against objects
 * of a given size (single ranges, suffix, open end, clamping, unsatisfiable,
 * malformed, multiple ranges). Out-params must stay untouched on failure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "http/http.h"

static const struct {
    const char *hdr;
    uint64_t size;
    int rc;
    uint64_t off, len;
} cases[] = {
    {"bytes=0-99", 1000, 0, 0, 100},
    {"bytes=0-0", 1000, 0, 0, 1},
    {"bytes=999-999", 1000, 0, 999, 1},
    {"bytes=-100", 1000, 0, 900, 100}, /* suffix: the last 100 bytes */
    {"bytes=-1000", 1000, 0, 0, 1000},
    {"bytes=-5000", 1000, 0, 0, 1000},    /* suffix longer than the object: all of it */
    {"bytes=990-", 1000, 0, 990, 10},     /* open end */
    {"bytes=990-5000", 1000, 0, 990, 10}, /* clamped */
    {"bytes=0-", 1, 0, 0, 1},
    {"Bytes=1-2", 10, 0, 1, 2}, /* unit is case-insensitive */
    {"  bytes=1-2  ", 10, 0, 1, 2},
    {"bytes= 1 - 2", 10, 0, 1, 2},
    {"bytes=18446744073709551614-", UINT64_MAX, 0, UINT64_MAX - 1, 1},
    {"bytes=1000-", 1000, -ERR_RANGE, 0, 0}, /* at EOF: 416 */
    {"bytes=1000-2000", 1000, -ERR_RANGE, 0, 0},
    {"bytes=0-", 0, -ERR_RANGE, 0, 0}, /* empty object */
    {"bytes=-1", 0, -ERR_RANGE, 0, 0},
    {"bytes=-0", 1000, -ERR_RANGE, 0, 0},    /* zero-length suffix */
    {"bytes=5-4", 1000, -ERR_INVALID, 0, 0}, /* last < first: ignored, whole object */
    {"bytes=", 1000, -ERR_INVALID, 0, 0},
    {"bytes=-", 1000, -ERR_INVALID, 0, 0},
    {"bytes=a-b", 1000, -ERR_INVALID, 0, 0},
    {"bytes=1-2x", 1000, -ERR_INVALID, 0, 0},
    {"bytes=+1-2", 1000, -ERR_INVALID, 0, 0},
    {"bytes=--5", 1000, -ERR_INVALID, 0, 0},
    {"bytes=1", 1000, -ERR_INVALID, 0, 0},
    {"items=0-1", 1000, -ERR_INVALID, 0, 0},
    {"0-1", 1000, -ERR_INVALID, 0, 0},
    {"", 1000, -ERR_INVALID, 0, 0},
    {"bytes=99999999999999999999-", 1000, -ERR_INVALID, 0, 0}, /* overflow */
    {"bytes=0-1,5-6", 1000, -ERR_NOT_IMPLEMENTED, 0, 0},
    {"bytes=0-1, -5", 1000, -ERR_NOT_IMPLEMENTED, 0, 0},
};

static void test_range_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct http_range r = {0};
        print_message("row %zu: '%s' size %llu\n", i, cases[i].hdr,
                      (unsigned long long)cases[i].size);
        assert_int_equal(http_range_parse(str_c(cases[i].hdr), cases[i].size, &r), cases[i].rc);
        assert_true(r.off == cases[i].off);
        assert_true(r.len == cases[i].len);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_range_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
