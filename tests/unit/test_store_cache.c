/* test_store_cache.c -- the object-row read cache never serves a stale row: a second
 * store handle on the same directory (another process, as the CLI is) replaces,
 * deletes and re-creates objects; the first handle, whose cache holds the old rows,
 * must see every change at once. Also: a forked child writing through its own handle. */
#include <sys/wait.h>

#include "test_store_helpers.h"

static void expect_body(struct store *st, const char *key, const char *want)
{
    size_t len = 0;
    char *got = get_all(st, "bkt", key, &len);
    if (!want) {
        assert_null(got);
        return;
    }
    assert_non_null(got);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(got, want, len);
    free(got);
}

static void test_other_handle_changes_seen(void **state)
{
    struct tstore *t = *state;
    struct store *other = NULL;
    struct store_obj_info info = {0};
    assert_int_equal(store_open(t->dir, &other), 0);

    assert_int_equal(put_str(t->st, "bkt", "k", "first"), 0);
    for (int i = 0; i < 3; i++) /* warm the cache of t->st */
        expect_body(t->st, "k", "first");
    assert_int_equal(store_obj_head(t->st, STR_LIT("bkt"), STR_LIT("k"), &info), 0);
    assert_int_equal(info.size, 5);
    store_obj_info_release(&info);

    assert_int_equal(put_str(other, "bkt", "k", "second!"), 0); /* replace elsewhere */
    expect_body(t->st, "k", "second!");
    assert_int_equal(store_obj_head(t->st, STR_LIT("bkt"), STR_LIT("k"), &info), 0);
    assert_int_equal(info.size, 7);
    store_obj_info_release(&info);

    assert_int_equal(store_obj_delete(other, STR_LIT("bkt"), STR_LIT("k")), 0);
    assert_int_equal(store_obj_head(t->st, STR_LIT("bkt"), STR_LIT("k"), &info), -ERR_NO_SUCH_KEY);
    expect_body(t->st, "k", NULL);

    assert_int_equal(put_str(other, "bkt", "k", "third"), 0);
    expect_body(t->st, "k", "third");
    store_close(other);
}

static void test_forked_writer_seen(void **state)
{
    struct tstore *t = *state;
    assert_int_equal(put_str(t->st, "bkt", "f", "parent"), 0);
    expect_body(t->st, "f", "parent");
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct store *child = NULL;
        int ok = store_open(t->dir, &child) == 0 && put_str(child, "bkt", "f", "child") == 0;
        store_close(child);
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    expect_body(t->st, "f", "child");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_other_handle_changes_seen, tstore_setup,
                                        tstore_teardown),
        cmocka_unit_test_setup_teardown(test_forked_writer_seen, tstore_setup, tstore_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
