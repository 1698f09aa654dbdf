/* test_pq_thrift.c -- the Thrift compact codec of src/parquet: known bytes, round
 * trips of every wire type, the bool-list quirk, and a table of malformed inputs
 * that must fail cleanly (plus every proper prefix of a valid encoding). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/parquet/pq_int.h"

static struct buf enc(const struct pq_tstruct *s)
{
    struct buf b;
    buf_init(&b, 1 << 20);
    assert_int_equal(pq_thrift_write(&b, s), 0);
    return b;
}

/* Parse, check all bytes used, re-encode, compare. */
static void roundtrip(const uint8_t *p, size_t n)
{
    struct pq_arena a = {0};
    struct pq_tstruct *s;
    size_t used = 0;
    assert_int_equal(pq_thrift_parse(&a, p, n, &s, &used), 0);
    assert_int_equal(used, n);
    struct buf b = enc(s);
    assert_int_equal(b.len, n);
    assert_memory_equal(b.ptr, p, n);
    buf_release(&b);
    pq_arena_release(&a);
}

/* The first page header of the reference demo file (notes/parquet.md A3). */
static const uint8_t page_header[] = {0x15, 0x00, 0x15, 0xa0, 0x01, 0x15, 0xa0, 0x01, 0x2c, 0x15,
                                      0x14, 0x15, 0x00, 0x15, 0x06, 0x15, 0x06, 0x00, 0x00};

static void test_known_page_header(void **state)
{
    (void)state;
    struct pq_arena a = {0};
    struct pq_tstruct *s;
    size_t used;
    int64_t x;
    assert_int_equal(pq_thrift_parse(&a, page_header, sizeof page_header, &s, &used), 0);
    assert_int_equal(used, sizeof page_header);
    assert_int_equal(pq_ts_int(s, 1, PQ_T_I32, &x), 0);
    assert_int_equal(x, 0);
    assert_int_equal(pq_ts_int(s, 2, PQ_T_I32, &x), 0);
    assert_int_equal(x, 80);
    assert_int_equal(pq_ts_int(s, 3, PQ_T_I32, &x), 0);
    assert_int_equal(x, 80);
    struct pq_tval *d = pq_ts_typed(s, 5, PQ_T_STRUCT);
    assert_non_null(d);
    assert_int_equal(pq_ts_int(d->u.st, 1, PQ_T_I32, &x), 0);
    assert_int_equal(x, 10);
    assert_int_equal(pq_ts_int(d->u.st, 4, PQ_T_I32, &x), 0);
    assert_int_equal(x, 3);
    assert_int_equal(pq_ts_int(s, 2, PQ_T_I64, &x), -PQ_ERR_CORRUPT); /* wrong type */
    roundtrip(page_header, sizeof page_header);
    pq_arena_release(&a);
}

/* Valid encodings that must re-encode to the same bytes. */
static const struct {
    const char *what;
    uint8_t b[48];
    size_t n;
} valid[] = {
    {"empty struct", {0x00}, 1},
    {"bool true / false fields", {0x11, 0x12, 0x00}, 3},
    {"i8 field", {0x13, 0xff, 0x00}, 3},
    {"i16 negative", {0x14, 0x03, 0x00}, 3},
    {"i64 max", {0x16, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00}, 12},
    {"i64 min", {0x16, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00}, 12},
    {"double 1.5 little-endian", {0x17, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f, 0x00}, 10},
    {"binary", {0x18, 0x03, 'a', 'b', 'c', 0x00}, 6},
    {"long field id 32767", {0x08, 0xfe, 0xff, 0x03, 0x01, 'x', 0x00}, 7},
    {"field ids going backwards", {0x55, 0x02, 0x05, 0x04, 0x04, 0x00}, 6},
    {"list of i32", {0x19, 0x35, 0x02, 0x04, 0x06, 0x00}, 6},
    {"list of 15 i8 (long header)",
     {0x19, 0xf3, 0x0f, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0x00},
     19},
    {"bool list (type 1, values 1/2)", {0x19, 0x31, 0x01, 0x02, 0x01, 0x00}, 6},
    {"set of binary", {0x1a, 0x18, 0x01, 'z', 0x00}, 5},
    {"map i32->binary", {0x1b, 0x01, 0x58, 0x02, 0x01, 'v', 0x00}, 7},
    {"empty map", {0x1b, 0x00, 0x00}, 3},
    {"uuid", {0x1d, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0x00}, 18},
    {"nested struct keeps its own field ids", {0x1c, 0x15, 0x02, 0x00, 0x15, 0x04, 0x00}, 7},
    {"list of structs", {0x19, 0x2c, 0x15, 0x02, 0x00, 0x00, 0x00}, 7},
    {"list of lists", {0x19, 0x19, 0x15, 0x02, 0x00}, 5},
};

static void test_roundtrip_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
        print_message("row %zu: %s\n", i, valid[i].what);
        roundtrip(valid[i].b, valid[i].n);
    }
}

static void test_values(void **state)
{
    (void)state;
    struct pq_arena a = {0};
    struct pq_tstruct *s;
    int64_t x;
    assert_int_equal(pq_thrift_parse(&a, valid[4].b, valid[4].n, &s, NULL), 0);
    assert_int_equal(pq_ts_int(s, 1, PQ_T_I64, &x), 0);
    assert_true(x == INT64_MAX);
    assert_int_equal(pq_thrift_parse(&a, valid[6].b, valid[6].n, &s, NULL), 0);
    assert_true(pq_ts_typed(s, 1, PQ_T_DOUBLE)->u.d == 1.5);
    assert_int_equal(pq_thrift_parse(&a, valid[8].b, valid[8].n, &s, NULL), 0);
    assert_non_null(pq_ts_typed(s, 32767, PQ_T_BINARY));
    assert_int_equal(pq_thrift_parse(&a, valid[1].b, valid[1].n, &s, NULL), 0);
    assert_int_equal(pq_ts_typed(s, 1, PQ_T_BOOL)->u.i, 1);
    assert_int_equal(pq_ts_typed(s, 2, PQ_T_BOOL)->u.i, 0);
    pq_arena_release(&a);
}

/* Readers must accept bool list elements typed 2 and read true iff the byte is 1;
 * the writer then emits type 1 with values 1/2 (Apache Thrift C++/Rust). */
static void test_bool_list_quirk(void **state)
{
    (void)state;
    static const uint8_t in[] = {0x19, 0x32, 0x01, 0x00, 0x00, 0x00};
    static const uint8_t out[] = {0x19, 0x31, 0x01, 0x02, 0x02, 0x00};
    struct pq_arena a = {0};
    struct pq_tstruct *s;
    assert_int_equal(pq_thrift_parse(&a, in, sizeof in, &s, NULL), 0);
    struct pq_tval *l = pq_ts_typed(s, 1, PQ_T_LIST);
    assert_non_null(l);
    assert_int_equal(l->u.list->n, 3);
    assert_int_equal(l->u.list->v[0].u.i, 1);
    assert_int_equal(l->u.list->v[1].u.i, 0);
    struct buf b = enc(s);
    assert_int_equal(b.len, sizeof out);
    assert_memory_equal(b.ptr, out, sizeof out);
    buf_release(&b);
    pq_arena_release(&a);
}

static void test_set_and_sorted(void **state)
{
    (void)state;
    struct pq_arena a = {0};
    struct pq_tstruct *s;
    static const uint8_t in[] = {0x55, 0x02, 0x05, 0x04, 0x04, 0x00}; /* ids 5 then 2 */
    static const uint8_t sorted[] = {0x25, 0x04, 0x35, 0x02, 0x00};
    assert_int_equal(pq_thrift_parse(&a, in, sizeof in, &s, NULL), 0);
    struct buf b;
    buf_init(&b, 1024);
    assert_int_equal(pq_thrift_write_sorted(&b, s), 0);
    assert_int_equal(b.len, sizeof sorted);
    assert_memory_equal(b.ptr, sorted, sizeof sorted);
    /* insert keeps id order, replace keeps position, delete removes */
    assert_int_equal(pq_ts_set_int(&a, s, 3, PQ_T_I64, -1), 0);
    assert_int_equal(pq_ts_set_int(&a, s, 5, PQ_T_I32, 7), 0);
    assert_int_equal(s->n, 3);
    assert_int_equal(s->f[0].id, 3); /* inserted before the first larger id */
    pq_ts_del(s, 2);
    assert_int_equal(s->n, 2);
    assert_null(pq_ts_get(s, 2));
    buf_release(&b);
    pq_arena_release(&a);
}

static const struct {
    const char *what;
    uint8_t b[24];
    size_t n;
} bad[] = {
    {"empty input", {0}, 0},
    {"no stop byte", {0x15, 0x02}, 2},
    {"varint runs off the end", {0x15, 0x80}, 2},
    {"varint over 10 bytes",
     {0x16, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0x00},
     13},
    {"varint over 64 bits",
     {0x16, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x00},
     12},
    {"i32 wider than 32 bits", {0x15, 0x80, 0x80, 0x80, 0x80, 0x10, 0x00}, 7},
    {"i16 field id out of range", {0x05, 0x80, 0x80, 0x04, 0x00, 0x00}, 6},
    {"binary longer than input", {0x18, 0x05, 'a', 0x00}, 4},
    {"list count beyond input", {0x19, 0xf5, 0xff, 0xff, 0x03, 0x00}, 6},
    {"map count beyond input", {0x1b, 0x7f, 0x55, 0x00}, 4},
    {"unknown field type 14", {0x1e, 0x00}, 2},
    {"unknown element type 15", {0x19, 0x1f, 0x00, 0x00}, 4},
    {"double truncated", {0x17, 0, 0, 0}, 4},
    {"uuid truncated", {0x1d, 1, 2, 3}, 4},
    {"list element type stop", {0x19, 0x10, 0x00, 0x00}, 4},
};

static void test_malformed_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct pq_arena a = {0};
        struct pq_tstruct *s = (struct pq_tstruct *)0x1;
        print_message("row %zu: %s\n", i, bad[i].what);
        assert_int_equal(pq_thrift_parse(&a, bad[i].b, bad[i].n, &s, NULL), -PQ_ERR_CORRUPT);
        assert_true(s == (struct pq_tstruct *)0x1); /* out untouched */
        pq_arena_release(&a);
    }
}

static void test_depth_bomb(void **state)
{
    (void)state;
    uint8_t b[1000];
    struct pq_arena a = {0};
    struct pq_tstruct *s;
    memset(b, 0x1c, sizeof b); /* field 1: struct, forever */
    assert_int_equal(pq_thrift_parse(&a, b, sizeof b, &s, NULL), -PQ_ERR_CORRUPT);
    memset(b, 0x19, sizeof b); /* list of lists ... */
    b[0] = 0x19;
    for (size_t i = 1; i < sizeof b; i++)
        b[i] = 0x19;
    assert_int_equal(pq_thrift_parse(&a, b, sizeof b, &s, NULL), -PQ_ERR_CORRUPT);
    pq_arena_release(&a);
}

/* Every proper prefix of every valid encoding fails; never reads past it (ASan). */
static void test_prefixes(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++)
        for (size_t k = 0; k < valid[i].n; k++) {
            struct pq_arena a = {0};
            struct pq_tstruct *s;
            uint8_t *copy = malloc(k ? k : 1);
            memcpy(copy, valid[i].b, k);
            assert_int_equal(pq_thrift_parse(&a, copy, k, &s, NULL), -PQ_ERR_CORRUPT);
            free(copy);
            pq_arena_release(&a);
        }
}

static void test_strerror(void **state)
{
    (void)state;
    assert_string_equal(pq_strerror(-PQ_ERR_NOT_PARQUET), "not a Parquet file");
    assert_string_equal(pq_strerror(-PQ_ERR_SCHEMA), "schemas differ");
    char e[PQ_ERRMSG_MAX];
    assert_int_equal(pq_fail(e, -PQ_ERR_ARG, "x=%d", 3), -PQ_ERR_ARG);
    assert_string_equal(e, "x=3");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_page_header),
        cmocka_unit_test(test_roundtrip_table),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_bool_list_quirk),
        cmocka_unit_test(test_set_and_sorted),
        cmocka_unit_test(test_malformed_table),
        cmocka_unit_test(test_depth_bomb),
        cmocka_unit_test(test_prefixes),
        cmocka_unit_test(test_strerror),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
