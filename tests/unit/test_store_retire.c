/* test_store_retire.c -- store_obj_retire / store_retired_list / skip_retired listings:
 * a retired object still reads, is hidden from skip_retired listings (and so are common
 * prefixes made only of retired keys), is listed by store_retired_list, keeps its first
 * retirement time, and becomes live again when the key is written; a data directory
 * made before the column existed is migrated on open. */
#include <sqlite3.h>

#include "crypto/crypto.h"

#include "test_store_helpers.h"

struct names {
    char buf[1024];
    size_t len;
    unsigned n;
};

static int on_entry(void *ctx, const struct store_list_entry *e)
{
    struct names *a = ctx;
    const char *s = e->key ? e->key : e->common_prefix;
    a->len += (size_t)snprintf(a->buf + a->len, sizeof a->buf - a->len, "%s%s", a->n ? " " : "", s);
    a->n++;
    return 0;
}

static const char *list(struct store *st, const char *delim, bool skip, struct names *a)
{
    memset(a, 0, sizeof *a);
    struct store_list_req req = {STR_LIT("bkt"), STR_NULL, str_c(delim), STR_NULL,
                                 1000,           skip,     false};
    struct store_list_res res = {0};
    assert_int_equal(store_obj_list(st, &req, on_entry, a, &res), 0);
    store_list_res_release(&res);
    return a->buf;
}

static int on_retired(void *ctx, const char *key, size_t key_len, int64_t at)
{
    struct names *a = ctx;
    assert_int_equal(strlen(key), key_len);
    a->len += (size_t)snprintf(a->buf + a->len, sizeof a->buf - a->len, "%s%s@%lld",
                               a->n ? " " : "", key, (long long)at);
    a->n++;
    return 0;
}

static void test_retire(void **state)
{
    struct tstore *t = *state;
    struct names a;
    assert_int_equal(put_str(t->st, "bkt", "a/1", "one"), 0);
    assert_int_equal(put_str(t->st, "bkt", "a/2", "two"), 0);
    assert_int_equal(put_str(t->st, "bkt", "b/1", "three"), 0);
    assert_int_equal(put_str(t->st, "bkt", "c", "four"), 0);

    assert_int_equal(store_obj_retire(t->st, STR_LIT("bkt"), STR_LIT("nope"), 5), -ERR_NO_SUCH_KEY);
    assert_int_equal(store_obj_retire(t->st, STR_LIT("nob"), STR_LIT("c"), 5), -ERR_NO_SUCH_BUCKET);
    assert_int_equal(store_obj_retire(t->st, STR_LIT("bkt"), STR_LIT("c"), 0), -ERR_INVALID);
    assert_int_equal(store_obj_retire(t->st, STR_LIT("bkt"), STR_LIT("a/2"), 100), 0);
    assert_int_equal(store_obj_retire(t->st, STR_LIT("bkt"), STR_LIT("b/1"), 200), 0);
    assert_int_equal(store_obj_retire(t->st, STR_LIT("bkt"), STR_LIT("b/1"), 300),
                     0); /* keeps 200 */

    /* still readable, HEAD says retired */
    size_t n;
    char *body = get_all(t->st, "bkt", "a/2", &n);
    assert_non_null(body);
    assert_string_equal(body, "two");
    free(body);
    struct store_obj_info info = {0};
    assert_int_equal(store_obj_head(t->st, STR_LIT("bkt"), STR_LIT("b/1"), &info), 0);
    assert_int_equal(info.retired_us, 200);
    store_obj_info_release(&info);
    assert_int_equal(store_obj_head(t->st, STR_LIT("bkt"), STR_LIT("c"), &info), 0);
    assert_int_equal(info.retired_us, 0);
    store_obj_info_release(&info);

    assert_string_equal(list(t->st, NULL, false, &a), "a/1 a/2 b/1 c");
    assert_string_equal(list(t->st, NULL, true, &a), "a/1 c");
    assert_string_equal(list(t->st, "/", false, &a), "a/ b/ c");
    assert_string_equal(list(t->st, "/", true, &a), "a/ c"); /* b/ holds only retired keys */

    memset(&a, 0, sizeof a);
    assert_int_equal(store_retired_list(t->st, STR_LIT("bkt"), on_retired, &a), 0);
    assert_string_equal(a.buf, "a/2@100 b/1@200");

    /* a new write makes the key live again; copy onto a retired key too */
    assert_int_equal(put_str(t->st, "bkt", "a/2", "two again"), 0);
    assert_int_equal(store_obj_copy(t->st, STR_LIT("bkt"), STR_LIT("c"), STR_LIT("bkt"),
                                    STR_LIT("b/1"), NULL, NULL),
                     0);
    assert_string_equal(list(t->st, NULL, true, &a), "a/1 a/2 b/1 c");
    memset(&a, 0, sizeof a);
    assert_int_equal(store_retired_list(t->st, STR_LIT("bkt"), on_retired, &a), 0);
    assert_int_equal(a.n, 0);
}

/* Deleting only what is still retired as it was: a key written again is not deleted. */
static void test_delete_retired(void **state)
{
    struct tstore *t = *state;
    struct store_obj_info info = {0};
    assert_int_equal(put_str(t->st, "bkt", "a", "one"), 0);
    assert_int_equal(put_str(t->st, "bkt", "b", "two"), 0);
    assert_int_equal(store_obj_delete_retired(t->st, STR_LIT("bkt"), STR_LIT("a"), 5),
                     -ERR_NO_SUCH_KEY); /* live */
    assert_int_equal(store_obj_retire(t->st, STR_LIT("bkt"), STR_LIT("a"), 5), 0);
    assert_int_equal(store_obj_retire(t->st, STR_LIT("bkt"), STR_LIT("b"), 6), 0);
    assert_int_equal(put_str(t->st, "bkt", "b", "two again"), 0); /* live again */
    assert_int_equal(store_obj_delete_retired(t->st, STR_LIT("bkt"), STR_LIT("a"), 4),
                     -ERR_NO_SUCH_KEY); /* another retirement */
    assert_int_equal(store_obj_delete_retired(t->st, STR_LIT("bkt"), STR_LIT("a"), 5), 0);
    assert_int_equal(store_obj_head(t->st, STR_LIT("bkt"), STR_LIT("a"), &info), -ERR_NO_SUCH_KEY);
    assert_int_equal(store_obj_delete_retired(t->st, STR_LIT("bkt"), STR_LIT("b"), 6),
                     -ERR_NO_SUCH_KEY);
    assert_int_equal(store_obj_head(t->st, STR_LIT("bkt"), STR_LIT("b"), &info), 0);
    store_obj_info_release(&info);
    assert_int_equal(store_obj_delete_retired(t->st, STR_LIT("bkt"), STR_LIT("b"), 0),
                     -ERR_INVALID);
}

/* store_put_adopt: a finished file becomes an object without a copy on the same
 * filesystem, and by a copy from another one (/dev/shm when it is another filesystem). */
static void adopt_one(struct tstore *t, const char *dir, const char *key)
{
    char path[256];
    snprintf(path, sizeof path, "%s/adopt-me.bin", dir);
    static char data[3 << 20];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (char)(i * 7 + 3);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, sizeof data, f), sizeof data);
    fclose(f);
    struct store_put *p = NULL;
    assert_int_equal(store_put_adopt(t->st, path, &p), 0);
    assert_int_equal(access(path, F_OK), -1); /* moved or copied away */
    assert_int_equal(store_put_size(p), sizeof data);
    uint8_t sha[32], md5[16], want_sha[32], want_md5[16];
    assert_int_equal(store_put_digest(p, sha, md5), 0);
    crypto_sha256(data, sizeof data, want_sha);
    crypto_md5(data, sizeof data, want_md5);
    assert_memory_equal(sha, want_sha, 32);
    assert_memory_equal(md5, want_md5, 16);
    struct store_obj_info info = {0};
    assert_int_equal(store_put_commit(p, STR_LIT("bkt"), str_c(key), NULL, &info), 0);
    char hex[33];
    hex_encode(want_md5, 16, hex);
    assert_string_equal(info.etag, hex);
    store_obj_info_release(&info);
    size_t n = 0;
    char *back = get_all(t->st, "bkt", key, &n);
    assert_int_equal(n, sizeof data);
    assert_memory_equal(back, data, n);
    free(back);
}

static void test_adopt(void **state)
{
    struct tstore *t = *state;
    adopt_one(t, t->dir, "same-fs");
    struct stat a, b;
    if (stat("/dev/shm", &a) == 0 && stat(t->dir, &b) == 0 && a.st_dev != b.st_dev) {
        adopt_one(t, "/dev/shm", "other-fs");
    } else {
        print_message("no second filesystem at /dev/shm: the copy path is not exercised\n");
    }
    struct store_put *p = NULL;
    assert_int_equal(store_put_adopt(t->st, "/nonexistent/x", &p), -ENOENT);
    assert_int_equal(store_put_adopt(t->st, t->dir, &p), -ERR_INVALID); /* a directory */
    assert_int_equal(count_files(t->dir) > 0, 1);
}

static int put_if(struct tstore *t, const char *key, const char *body,
                  const struct store_write_cond *cond)
{
    struct store_put *p = NULL;
    int rc = store_put_begin(t->st, &p);
    if (rc == 0 && (rc = store_put_write(p, body, strlen(body))) < 0) {
        store_put_abort(p);
        return rc;
    }
    return rc < 0 ? rc : store_put_commit_if(p, STR_LIT("bkt"), str_c(key), NULL, cond, NULL);
}

/* Conditional writes: checked against the row inside the commit; a refusal writes nothing. */
static void test_write_conditions(void **state)
{
    struct tstore *t = *state;
    struct store_write_cond none = {true, NULL}, any = {false, "*"}, bad = {false, "00"};
    assert_int_equal(put_if(t, "k", "one", &any), -ERR_NO_SUCH_KEY);
    assert_int_equal(put_if(t, "k", "one", &none), 0);
    assert_int_equal(put_if(t, "k", "two", &none), -ERR_PRECONDITION);
    assert_int_equal(put_if(t, "k", "two", &bad), -ERR_PRECONDITION);
    char *b = get_all(t->st, "bkt", "k", NULL);
    assert_string_equal(b, "one");
    free(b);
    struct store_obj_info info = {0};
    assert_int_equal(store_obj_head(t->st, STR_LIT("bkt"), STR_LIT("k"), &info), 0);
    struct store_write_cond match = {false, info.etag};
    assert_int_equal(put_if(t, "k", "three", &match), 0);
    store_obj_info_release(&info);
    assert_int_equal(put_if(t, "k", "four", &any), 0);
    b = get_all(t->st, "bkt", "k", NULL);
    assert_string_equal(b, "four");
    free(b);
    assert_int_equal(put_if(t, "k2", "x", NULL), 0); /* no condition */
}

/* More than one page (1000) of retired keys, and a callback that deletes as it goes. */
static int delete_it(void *ctx, const char *key, size_t key_len, int64_t at)
{
    struct tstore *t = ctx;
    (void)at;
    return store_obj_delete(t->st, STR_LIT("bkt"), str_n(key, key_len));
}

static void test_retired_pages(void **state)
{
    struct tstore *t = *state;
    char k[32];
    for (int i = 0; i < 1203; i++) {
        snprintf(k, sizeof k, "k/%05d", i);
        assert_int_equal(put_str(t->st, "bkt", k, "x"), 0);
        if (i % 1203 != 7)
            assert_int_equal(store_obj_retire(t->st, STR_LIT("bkt"), str_c(k), 1 + i), 0);
    }
    assert_int_equal(store_retired_list(t->st, STR_LIT("bkt"), delete_it, t), 0);
    struct names a;
    assert_string_equal(list(t->st, NULL, false, &a), "k/00007");
}

static void test_migrate_old_schema(void **state)
{
    (void)state;
    char dir[64] = "/tmp/tg-store-XXXXXX", db[128];
    assert_non_null(mkdtemp(dir));
    snprintf(db, sizeof db, "%s/meta.db", dir);
    sqlite3 *h = NULL;
    assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(h,
                     "CREATE TABLE objects(bucket TEXT NOT NULL, key BLOB NOT NULL,"
                     " size INTEGER NOT NULL, etag TEXT NOT NULL, sha256 BLOB NOT NULL,"
                     " content_type TEXT NOT NULL, meta_json TEXT NOT NULL, mtime_us INTEGER "
                     "NOT NULL, PRIMARY KEY(bucket, key)) WITHOUT ROWID;",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(h);
    struct store *st = NULL;
    assert_int_equal(store_open(dir, &st), 0);
    assert_int_equal(store_bucket_create(st, STR_LIT("bkt")), 0);
    assert_int_equal(put_str(st, "bkt", "x", "y"), 0);
    assert_int_equal(store_obj_retire(st, STR_LIT("bkt"), STR_LIT("x"), 9), 0);
    struct names a;
    assert_string_equal(list(st, NULL, true, &a), "");
    store_close(st);
    assert_int_equal(store_open(dir, &st), 0); /* again: no second ALTER */
    store_close(st);
    rm_rf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_retire, tstore_setup, tstore_teardown),
        cmocka_unit_test_setup_teardown(test_retired_pages, tstore_setup, tstore_teardown),
        cmocka_unit_test_setup_teardown(test_delete_retired, tstore_setup, tstore_teardown),
        cmocka_unit_test_setup_teardown(test_adopt, tstore_setup, tstore_teardown),
        cmocka_unit_test_setup_teardown(test_write_conditions, tstore_setup, tstore_teardown),
        cmocka_unit_test(test_migrate_old_schema),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
