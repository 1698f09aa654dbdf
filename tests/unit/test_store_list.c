/* test_store_list.c -- ListObjects semantics over a fixed key set: prefix, delimiter,
 * after (marker / start-after / continuation), max_keys, truncation, common prefixes
 * counting against max_keys, UTF-8 byte order; pagination reassembles the full listing;
 * the delimiter jump reads O(entries), not O(keys under a common prefix). Expected rows
 * were produced by a small Python model of S3 listing (bytes sorted, common prefixes
 * marked "(cp)"). */
#include "store/store_int.h"
#include "test_store_helpers.h"

static const char *const keys[] = {"a",
                                   "a/1",
                                   "a/2",
                                   "a/b/1",
                                   "a b",
                                   "a-",
                                   "A",
                                   "b",
                                   "b/x",
                                   "c/",
                                   "c/d",
                                   "photos/2006/jan/1.jpg",
                                   "photos/2006/feb/2.jpg",
                                   "photos/2007/x.jpg",
                                   "photos/top.jpg",
                                   "z",
                                   "\xc3\xa9",
                                   "\xe6\x97\xa5/\xe6\x9c\xac",
                                   "\x7f",
                                   "x//y",
                                   "x/",
                                   "x/y/"};

static int list_setup(void **state)
{
    tstore_setup(state);
    struct tstore *t = *state;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        assert_int_equal(put_str(t->st, "bkt", keys[i], keys[i]), 0);
    return 0;
}

struct acc {
    char out[4096];
    unsigned n;
    int stop_at; /* return 1 at this entry (1-based), 0 = never */
    int fail_at; /* return -ERR_INTERNAL at this entry */
};

static int acc_entry(void *ctx, const struct store_list_entry *e)
{
    struct acc *a = ctx;
    if (a->n++)
        strcat(a->out, ",");
    if (e->key) {
        assert_null(e->common_prefix);
        assert_non_null(e->info);
        /* each object's body is its key */
        assert_int_equal(e->info->size, strlen(e->key));
        assert_int_equal(strlen(e->info->etag), 32);
        assert_string_equal(e->info->content_type, "application/octet-stream");
        strcat(a->out, e->key);
    } else {
        assert_non_null(e->common_prefix);
        assert_null(e->info);
        strcat(a->out, e->common_prefix);
        strcat(a->out, "(cp)");
    }
    if (a->fail_at && (int)a->n == a->fail_at)
        return -ERR_INTERNAL;
    return a->stop_at && (int)a->n == a->stop_at;
}

static const struct {
    const char *prefix, *delim, *after;
    unsigned max;
    const char *want;
    bool truncated;
    const char *next;
} rows[] = {
    {"", "", "", 1000,
     "A,a,a "
     "b,a-,a/1,a/2,a/b/1,b,b/x,c/,c/d,photos/2006/feb/2.jpg,photos/2006/jan/1.jpg,photos/2007/"
     "x.jpg,photos/top.jpg,x/,x//y,x/y/,z,\x7f"
     ",\xc3"
     "\xa9"
     ",\xe6"
     "\x97"
     "\xa5"
     "/\xe6"
     "\x9c"
     "\xac"
     "",
     false, NULL},
    {"", "/", "", 1000,
     "A,a,a b,a-,a/(cp),b,b/(cp),c/(cp),photos/(cp),x/(cp),z,\x7f"
     ",\xc3"
     "\xa9"
     ",\xe6"
     "\x97"
     "\xa5"
     "/(cp)",
     false, NULL},
    {"a", "/", "", 1000, "a,a b,a-,a/(cp)", false, NULL},
    {"a/", "/", "", 1000, "a/1,a/2,a/b/(cp)", false, NULL},
    {"photos/", "/", "", 1000, "photos/2006/(cp),photos/2007/(cp),photos/top.jpg", false, NULL},
    {"photos/2006/", "/", "", 1000, "photos/2006/feb/(cp),photos/2006/jan/(cp)", false, NULL},
    {"", "/", "", 3, "A,a,a b", true, "a b"},
    {"", "/", "a/", 3, "b,b/(cp),c/(cp)", true, "c/"},
    {"", "/", "b", 2, "b/(cp),c/(cp)", true, "c/"},
    {"", "", "a/1", 2, "a/2,a/b/1", true, "a/b/1"},
    /* start-after inside a group: the group's prefix comes back when a key of it follows */
    {"photos/", "/", "photos/2006/feb/2.jpg", 1000,
     "photos/2006/(cp),photos/2007/(cp),photos/top.jpg", false, NULL},
    {"photos/", "/", "photos/2006/jan/1.jpg", 1000, "photos/2007/(cp),photos/top.jpg", false, NULL},
    {"photos/", "/", "photos/2006/", 1000, "photos/2007/(cp),photos/top.jpg", false, NULL},
    {"x/", "/", "", 1000, "x/,x//(cp),x/y/(cp)", false, NULL},
    {"x", "/", "", 1000, "x/(cp)", false, NULL},
    {"", "/", "", 0, "", false, NULL},
    {"nomatch", "", "", 10, "", false, NULL},
    {"", "",
     "\xc3"
     "\xa9"
     "",
     10,
     "\xe6"
     "\x97"
     "\xa5"
     "/\xe6"
     "\x9c"
     "\xac"
     "",
     false, NULL},
    {"a", "", "", 4, "a,a b,a-,a/1", true, "a/1"},
    {"", "2006", "", 1000,
     "A,a,a "
     "b,a-,a/1,a/2,a/b/1,b,b/x,c/,c/d,photos/2006(cp),photos/2007/x.jpg,photos/top.jpg,x/,x//y,x/y/"
     ",z,\x7f"
     ",\xc3"
     "\xa9"
     ",\xe6"
     "\x97"
     "\xa5"
     "/\xe6"
     "\x9c"
     "\xac"
     "",
     false, NULL},
    {"photos/", "/", "photos/2006/", 1000, "photos/2007/(cp),photos/top.jpg", false, NULL},
    {"", "/", "photos/2006/jan/1.jpg", 2, "photos/(cp),x/(cp)", true, "x/"},
    {"", "//", "", 1000,
     "A,a,a "
     "b,a-,a/1,a/2,a/b/1,b,b/x,c/,c/d,photos/2006/feb/2.jpg,photos/2006/jan/1.jpg,photos/2007/"
     "x.jpg,photos/top.jpg,x/,x//(cp),x/y/,z,\x7f"
     ",\xc3"
     "\xa9"
     ",\xe6"
     "\x97"
     "\xa5"
     "/\xe6"
     "\x9c"
     "\xac"
     "",
     false, NULL},
    {"z", "", "", 1, "z", false, NULL},
    {"", "", "zz", 5,
     "\x7f"
     ",\xc3"
     "\xa9"
     ",\xe6"
     "\x97"
     "\xa5"
     "/\xe6"
     "\x9c"
     "\xac"
     "",
     false, NULL},
};

static void test_list_table(void **state)
{
    struct tstore *t = *state;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct store_list_req req = {STR_LIT("bkt"),
                                     str_c(rows[i].prefix),
                                     str_c(rows[i].delim),
                                     str_c(rows[i].after),
                                     rows[i].max,
                                     false,
                                     false};
        struct store_list_res res = {0};
        struct acc a;
        memset(&a, 0, sizeof a);
        print_message("row %zu: prefix '%s' delim '%s' after '%s' max %u\n", i, rows[i].prefix,
                      rows[i].delim, rows[i].after, rows[i].max);
        assert_int_equal(store_obj_list(t->st, &req, acc_entry, &a, &res), 0);
        assert_string_equal(a.out, rows[i].want);
        assert_int_equal(res.count, a.n);
        assert_int_equal(res.truncated, rows[i].truncated);
        if (rows[i].next)
            assert_string_equal(res.next_after, rows[i].next);
        else
            assert_null(res.next_after);
        store_list_res_release(&res);
    }
}

/* Walking pages with next_after gives exactly the one-page listing. */
static void test_list_pagination(void **state)
{
    static const char *const combos[][2] = {
        {"", ""}, {"", "/"}, {"a", "/"}, {"photos/", "/"}, {"x/", "/"}, {"", "2006"}, {"p", ""},
    };
    struct tstore *t = *state;
    for (size_t c = 0; c < sizeof combos / sizeof combos[0]; c++) {
        struct store_list_req req = {STR_LIT("bkt"), str_c(combos[c][0]), str_c(combos[c][1]),
                                     STR_NULL,       STORE_LIST_MAX,      false,
                                     false};
        struct store_list_res res = {0};
        struct acc whole;
        memset(&whole, 0, sizeof whole);
        assert_int_equal(store_obj_list(t->st, &req, acc_entry, &whole, &res), 0);
        assert_false(res.truncated);
        store_list_res_release(&res);
        for (unsigned page = 1; page <= 4; page++) {
            struct acc a;
            memset(&a, 0, sizeof a);
            char after[256] = "";
            unsigned pages = 0;
            print_message("combo %zu page size %u\n", c, page);
            for (;;) {
                req.after = str_c(after);
                req.max_keys = page;
                assert_int_equal(store_obj_list(t->st, &req, acc_entry, &a, &res), 0);
                assert_true(res.count <= page);
                pages++;
                if (!res.truncated) {
                    store_list_res_release(&res);
                    break;
                }
                assert_int_equal(res.count, page);
                snprintf(after, sizeof after, "%s", res.next_after);
                store_list_res_release(&res);
            }
            assert_string_equal(a.out, whole.out);
            assert_true(pages >= (whole.n + page - 1) / page);
        }
    }
}

static void test_list_errors_and_stop(void **state)
{
    struct tstore *t = *state;
    struct store_list_req req = {STR_LIT("nobkt"), STR_NULL, STR_NULL, STR_NULL, 10, false, false};
    struct store_list_res res = {0};
    struct acc a;
    memset(&a, 0, sizeof a);

    assert_int_equal(store_obj_list(t->st, &req, acc_entry, &a, &res), -ERR_NO_SUCH_BUCKET);
    req.bucket = STR_LIT("bkt");
    a.fail_at = 2;
    assert_int_equal(store_obj_list(t->st, &req, acc_entry, &a, &res), -ERR_INTERNAL);
    assert_null(res.next_after);
    memset(&a, 0, sizeof a);
    a.stop_at = 2;
    assert_int_equal(store_obj_list(t->st, &req, acc_entry, &a, &res), 0);
    assert_int_equal(res.count, 2);
    assert_true(res.truncated);
    assert_string_equal(res.next_after, "a");
    store_list_res_release(&res);
    /* a prefix of bytes 0xFF matches nothing (no valid key has them) */
    memset(&a, 0, sizeof a);
    req.prefix = STR_LIT("\xff\xff");
    assert_int_equal(store_obj_list(t->st, &req, acc_entry, &a, &res), 0);
    assert_int_equal(res.count, 0);
    store_list_res_release(&res);
}

/* 20000 keys under big/: listing the root with "/" must jump over them. Rows are
 * inserted directly (the listing reads only the index), then the statement's VM step
 * counter tells how much was read. */
static void test_list_delimiter_jumps(void **state)
{
    struct tstore *t = *state;
    struct store_conn *c = NULL;
    sqlite3_stmt *s = NULL;
    char key[32];

    assert_int_equal(store_conn_get(t->st, &c), 0);
    assert_int_equal(sqlite3_exec(c->db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(c->db,
                                        "INSERT INTO objects VALUES ('bkt', ?1, 1, "
                                        "'00000000000000000000000000000000', zeroblob(32), "
                                        "'x', '{}', 1, 0)",
                                        -1, &s, NULL),
                     SQLITE_OK);
    for (int i = 0; i < 20000; i++) {
        int n = snprintf(key, sizeof key, "big/%05d", i);
        sqlite3_bind_blob(s, 1, key, n, SQLITE_TRANSIENT);
        assert_int_equal(sqlite3_step(s), SQLITE_DONE);
        sqlite3_reset(s);
    }
    sqlite3_finalize(s);
    assert_int_equal(sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    store_conn_put(t->st, c);

    for (c = t->st->idle; c; c = c->next)
        if (c->stmt[S_OBJ_LIST])
            sqlite3_stmt_status(c->stmt[S_OBJ_LIST], SQLITE_STMTSTATUS_VM_STEP, 1);
    struct store_list_req req = {STR_LIT("bkt"), STR_NULL, STR_LIT("/"), STR_NULL,
                                 1000,           false,    false};
    struct store_list_res res = {0};
    struct acc a;
    memset(&a, 0, sizeof a);
    assert_int_equal(store_obj_list(t->st, &req, acc_entry, &a, &res), 0);
    store_list_res_release(&res);
    int steps = 0;
    for (c = t->st->idle; c; c = c->next)
        if (c->stmt[S_OBJ_LIST])
            steps += sqlite3_stmt_status(c->stmt[S_OBJ_LIST], SQLITE_STMTSTATUS_VM_STEP, 0);
    print_message("%u entries, %d VM steps\n", a.n, steps);
    assert_int_equal(a.n, 15); /* the 14 of the table plus big/ */
    assert_true(steps > 0 && steps < 5000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_list_table, list_setup, tstore_teardown),
        cmocka_unit_test_setup_teardown(test_list_pagination, list_setup, tstore_teardown),
        cmocka_unit_test_setup_teardown(test_list_errors_and_stop, list_setup, tstore_teardown),
        cmocka_unit_test_setup_teardown(test_list_delimiter_jumps, list_setup, tstore_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
