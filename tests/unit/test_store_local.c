/* test_store_local.c -- the local backend: buckets, put/head/open/delete/copy,
 * atomic replace, dedup, tmp/ hygiene, concurrent puts from several threads. Each test
 * gets its own data directory (test_store_helpers.h). */
#include <pthread.h>
#include <sys/file.h>

#include "crypto/crypto.h"
#include "test_store_helpers.h"

static unsigned count_tmp(const struct tstore *t)
{
    char d[128];
    snprintf(d, sizeof d, "%s/tmp", t->dir);
    return count_files(d);
}

static void test_put_head_get(void **state)
{
    struct tstore *t = *state;
    struct store_obj_info info = {0}, head = {0};
    uint8_t sha[32];

    assert_int_equal(put_chunked(t->st, "bkt", "a/hello.txt", "hello", 5, 2, NULL, &info), 0);
    assert_int_equal(info.size, 5);
    assert_string_equal(info.etag, "5d41402abc4b2a76b9719d911017c592");
    crypto_sha256("hello", 5, sha);
    assert_memory_equal(info.sha256, sha, 32);
    assert_string_equal(info.content_type, "application/octet-stream");
    assert_string_equal(info.meta_json, "{}");
    assert_true(info.mtime_us > 0);

    assert_int_equal(store_obj_head(t->st, STR_LIT("bkt"), STR_LIT("a/hello.txt"), &head), 0);
    assert_int_equal(head.size, 5);
    assert_string_equal(head.etag, info.etag);
    assert_memory_equal(head.sha256, sha, 32);
    assert_true(head.mtime_us == info.mtime_us);
    store_obj_info_release(&head);
    store_obj_info_release(&info);
    assert_null(info.content_type);

    char *body = get_all(t->st, "bkt", "a/hello.txt", NULL);
    assert_string_equal(body, "hello");
    free(body);
    assert_int_equal(count_tmp(t), 0);

    /* an empty object */
    assert_int_equal(put_chunked(t->st, "bkt", "empty", "", 0, 0, NULL, &info), 0);
    assert_string_equal(info.etag, "d41d8cd98f00b204e9800998ecf8427e");
    store_obj_info_release(&info);
    body = get_all(t->st, "bkt", "empty", NULL);
    assert_string_equal(body, "");
    free(body);

    assert_int_equal(store_obj_head(t->st, STR_LIT("bkt"), STR_LIT("nope"), &head),
                     -ERR_NO_SUCH_KEY);
    assert_int_equal(store_obj_head(t->st, STR_LIT("nobkt"), STR_LIT("a"), &head),
                     -ERR_NO_SUCH_BUCKET);
    int fd = -1;
    assert_int_equal(store_obj_open(t->st, STR_LIT("bkt"), STR_LIT("nope"), &head, &fd),
                     -ERR_NO_SUCH_KEY);
    assert_int_equal(fd, -1);
}

static void test_attrs_and_digest(void **state)
{
    struct tstore *t = *state;
    struct store_attrs attrs = {"text/csv", "{\"x-amz-meta-a\":\"1\"}"};
    struct store_obj_info info = {0};
    struct store_put *p = NULL;
    uint8_t sha[32], md5[16], want[32];

    assert_int_equal(store_put_begin(t->st, &p), 0);
    assert_int_equal(store_put_write(p, "a,b\n", 4), 0);
    assert_int_equal(store_put_write(p, "1,2\n", 4), 0);
    assert_int_equal(store_put_size(p), 8);
    assert_int_equal(store_put_digest(p, sha, md5), 0);
    assert_int_equal(store_put_digest(p, sha, md5), 0); /* idempotent */
    crypto_sha256("a,b\n1,2\n", 8, want);
    assert_memory_equal(sha, want, 32);
    assert_int_equal(store_put_commit(p, STR_LIT("bkt"), STR_LIT("t.csv"), &attrs, NULL), 0);

    assert_int_equal(store_obj_head(t->st, STR_LIT("bkt"), STR_LIT("t.csv"), &info), 0);
    assert_string_equal(info.content_type, "text/csv");
    assert_string_equal(info.meta_json, "{\"x-amz-meta-a\":\"1\"}");
    store_obj_info_release(&info);
}

/* A reader that opened the old version keeps reading it whole; new readers see the
 * new one; a delete does not cut an open read short. */
static void test_replace_and_delete(void **state)
{
    struct tstore *t = *state;
    struct store_obj_info info = {0};
    char buf[16] = {0};
    int fd = -1;

    assert_int_equal(put_str(t->st, "bkt", "k", "version-1"), 0);
    assert_int_equal(store_obj_open(t->st, STR_LIT("bkt"), STR_LIT("k"), &info, &fd), 0);
    assert_int_equal(info.size, 9);
    store_obj_info_release(&info);
    assert_int_equal(put_str(t->st, "bkt", "k", "version-two"), 0);
    char *now = get_all(t->st, "bkt", "k", NULL);
    assert_string_equal(now, "version-two");
    free(now);
    assert_int_equal(store_obj_delete(t->st, STR_LIT("bkt"), STR_LIT("k")), 0);
    unsigned removed = 0;
    assert_int_equal(store_gc(t->st, 0, &removed, NULL), 0);
    assert_int_equal(removed, 2);
    assert_int_equal(read(fd, buf, sizeof buf), 9);
    assert_string_equal(buf, "version-1");
    close(fd);

    assert_int_equal(store_obj_head(t->st, STR_LIT("bkt"), STR_LIT("k"), NULL), -ERR_NO_SUCH_KEY);
    assert_int_equal(store_obj_delete(t->st, STR_LIT("bkt"), STR_LIT("k")), 0); /* missing: ok */
    assert_int_equal(store_obj_delete(t->st, STR_LIT("nobkt"), STR_LIT("k")), -ERR_NO_SUCH_BUCKET);
}

static void test_bad_puts_change_nothing(void **state)
{
    struct tstore *t = *state;
    struct store_put *p = NULL;

    assert_int_equal(put_str(t->st, "nobkt", "k", "x"), -ERR_NO_SUCH_BUCKET);
    assert_int_equal(put_str(t->st, "bkt", "bad\xff", "x"), -ERR_INVALID_KEY);
    char big[STORE_KEY_MAX + 2];
    memset(big, 'k', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(put_str(t->st, "bkt", big, "x"), -ERR_KEY_TOO_LONG);
    assert_int_equal(store_put_begin(t->st, &p), 0);
    assert_int_equal(store_put_write(p, "partial", 7), 0);
    assert_int_equal(count_tmp(t), 1);
    store_put_abort(p);
    store_put_abort(NULL);
    assert_int_equal(count_tmp(t), 0);
    assert_int_equal(store_obj_head(t->st, STR_LIT("bkt"), STR_LIT("k"), NULL), -ERR_NO_SUCH_KEY);
}

static void test_dedup(void **state)
{
    struct tstore *t = *state;

    assert_int_equal(put_str(t->st, "bkt", "one", "same bytes"), 0);
    assert_int_equal(put_str(t->st, "bkt", "two", "same bytes"), 0);
    assert_int_equal(put_str(t->st, "bkt", "one", "same bytes"), 0);
    assert_int_equal(count_blobs(t), 1);
    assert_int_equal(count_tmp(t), 0);
    assert_int_equal(put_str(t->st, "bkt", "three", "other bytes"), 0);
    assert_int_equal(count_blobs(t), 2);
    char *b = get_all(t->st, "bkt", "two", NULL);
    assert_string_equal(b, "same bytes");
    free(b);
}

static void test_copy(void **state)
{
    struct tstore *t = *state;
    struct store_attrs attrs = {"text/plain", "{\"x-amz-meta-k\":\"v\"}"};
    struct store_attrs repl = {"image/png", NULL};
    struct store_obj_info info = {0}, src = {0};

    assert_int_equal(store_bucket_create(t->st, STR_LIT("other")), 0);
    assert_int_equal(put_chunked(t->st, "bkt", "src", "copy me", 7, 0, &attrs, &src), 0);
    assert_int_equal(store_obj_copy(t->st, STR_LIT("bkt"), STR_LIT("src"), STR_LIT("other"),
                                    STR_LIT("dst"), NULL, &info),
                     0);
    assert_string_equal(info.etag, src.etag);
    assert_string_equal(info.content_type, "text/plain");
    assert_string_equal(info.meta_json, attrs.meta_json);
    assert_int_equal(info.size, 7);
    store_obj_info_release(&info);
    assert_int_equal(count_blobs(t), 1); /* no byte copy */

    assert_int_equal(store_obj_copy(t->st, STR_LIT("bkt"), STR_LIT("src"), STR_LIT("bkt"),
                                    STR_LIT("src"), &repl, &info),
                     0);
    assert_string_equal(info.content_type, "image/png");
    assert_string_equal(info.meta_json, "{}");
    store_obj_info_release(&info);

    char *b = get_all(t->st, "other", "dst", NULL);
    assert_string_equal(b, "copy me");
    free(b);
    assert_int_equal(store_obj_copy(t->st, STR_LIT("bkt"), STR_LIT("nope"), STR_LIT("bkt"),
                                    STR_LIT("x"), NULL, &info),
                     -ERR_NO_SUCH_KEY);
    assert_int_equal(store_obj_copy(t->st, STR_LIT("bkt"), STR_LIT("src"), STR_LIT("nobkt"),
                                    STR_LIT("x"), NULL, &info),
                     -ERR_NO_SUCH_BUCKET);
    assert_int_equal(store_obj_copy(t->st, STR_LIT("nobkt"), STR_LIT("src"), STR_LIT("bkt"),
                                    STR_LIT("x"), NULL, &info),
                     -ERR_NO_SUCH_BUCKET);
    /* deleting the source leaves the copy intact, even after gc */
    assert_int_equal(store_obj_delete(t->st, STR_LIT("bkt"), STR_LIT("src")), 0);
    assert_int_equal(store_gc(t->st, 0, NULL, NULL), 0);
    b = get_all(t->st, "other", "dst", NULL);
    assert_string_equal(b, "copy me");
    free(b);
    store_obj_info_release(&src);
}

struct names {
    char all[256];
};

static int collect_bucket(void *ctx, const struct store_bucket *b)
{
    struct names *n = ctx;
    strcat(n->all, b->name);
    strcat(n->all, ",");
    assert_true(b->created_us > 0);
    return 0;
}

static void test_buckets(void **state)
{
    struct tstore *t = *state;
    struct names n = {{0}};
    char id[STORE_UPLOAD_ID_MAX];

    assert_int_equal(store_bucket_create(t->st, STR_LIT("bkt")), -ERR_EXISTS);
    assert_int_equal(store_bucket_create(t->st, STR_LIT("Bad_Name")), -ERR_INVALID_BUCKET_NAME);
    assert_int_equal(store_bucket_create(t->st, STR_LIT("zeta")), 0);
    assert_int_equal(store_bucket_create(t->st, STR_LIT("alpha")), 0);
    assert_int_equal(store_bucket_list(t->st, collect_bucket, &n), 0);
    assert_string_equal(n.all, "alpha,bkt,zeta,");
    assert_int_equal(store_bucket_exists(t->st, STR_LIT("zeta")), 0);
    assert_int_equal(store_bucket_exists(t->st, STR_LIT("nope")), -ERR_NO_SUCH_BUCKET);

    assert_int_equal(put_str(t->st, "zeta", "k", "v"), 0);
    assert_int_equal(store_bucket_delete(t->st, STR_LIT("zeta")), -ERR_BUCKET_NOT_EMPTY);
    assert_int_equal(store_obj_delete(t->st, STR_LIT("zeta"), STR_LIT("k")), 0);
    assert_int_equal(store_mpu_create(t->st, STR_LIT("zeta"), STR_LIT("m"), NULL, id), 0);
    assert_int_equal(store_bucket_delete(t->st, STR_LIT("zeta")), -ERR_BUCKET_NOT_EMPTY);
    assert_int_equal(store_mpu_abort(t->st, STR_LIT("zeta"), STR_LIT("m"), str_c(id)), 0);
    assert_int_equal(store_bucket_delete(t->st, STR_LIT("zeta")), 0);
    assert_int_equal(store_bucket_exists(t->st, STR_LIT("zeta")), -ERR_NO_SUCH_BUCKET);
    assert_int_equal(store_bucket_delete(t->st, STR_LIT("zeta")), -ERR_NO_SUCH_BUCKET);
    assert_int_equal(put_str(t->st, "zeta", "k", "v"), -ERR_NO_SUCH_BUCKET);
}

/* Leftovers of a crash are removed at open; a live put's tmp (flock'ed), even one of
 * another struct store on the same directory, is not. */
static void test_tmp_cleaned_at_open(void **state)
{
    struct tstore *t = *state;
    struct store_put *live = NULL;
    struct store *again = NULL;
    char path[192];

    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/tmp/crash-leftover-%d", t->dir, i);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs("torn", f);
        fclose(f);
    }
    assert_int_equal(store_put_begin(t->st, &live), 0);
    assert_int_equal(store_put_write(live, "in flight", 9), 0);
    assert_int_equal(count_tmp(t), 4);

    assert_int_equal(store_open(t->dir, &again), 0);
    assert_int_equal(count_tmp(t), 1);
    assert_int_equal(store_put_commit(live, STR_LIT("bkt"), STR_LIT("live"), NULL, NULL), 0);
    char *b = get_all(again, "bkt", "live", NULL);
    assert_string_equal(b, "in flight");
    free(b);
    store_close(again);
    assert_int_equal(count_tmp(t), 0);

    /* data survives close and reopen */
    store_close(t->st);
    t->st = NULL;
    assert_int_equal(store_open(t->dir, &t->st), 0);
    b = get_all(t->st, "bkt", "live", NULL);
    assert_string_equal(b, "in flight");
    free(b);
}

/* ---- concurrency ---- */

#define THREADS 6
#define ROUNDS 12

struct worker {
    struct store *st;
    int id;
    int failures;
};

static size_t body_for(int id, int i, char *out, size_t cap)
{
    int n = snprintf(out, cap, "thread %d round %d ", id, i);
    size_t len = (size_t)n + (size_t)((id * 7919 + i * 104729) % 60000);
    if (len > cap)
        len = cap;
    for (size_t j = (size_t)n; j < len; j++)
        out[j] = (char)('a' + (j * (size_t)(id + 1) + (size_t)i) % 26);
    return len;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    static __thread char body[65536];
    char key[64];

    for (int i = 0; i < ROUNDS; i++) {
        size_t n = body_for(w->id, i, body, sizeof body);
        snprintf(key, sizeof key, "own/%d/%d", w->id, i);
        if (put_chunked(w->st, "bkt", key, body, n, 4096, NULL, NULL) != 0)
            w->failures++;
        if (put_chunked(w->st, "bkt", "shared", body, n, 0, NULL, NULL) != 0)
            w->failures++;
        /* readers run alongside: the shared key is always whole and self-consistent */
        struct store_obj_info info = {0};
        int fd = -1;
        if (store_obj_open(w->st, STR_LIT("bkt"), STR_LIT("shared"), &info, &fd) != 0) {
            w->failures++;
            continue;
        }
        char *got = malloc(info.size ? info.size : 1);
        ssize_t r = pread(fd, got, info.size, 0);
        uint8_t sha[32];
        crypto_sha256(got, info.size, sha);
        if (r != (ssize_t)info.size || memcmp(sha, info.sha256, 32) != 0)
            w->failures++;
        free(got);
        close(fd);
        store_obj_info_release(&info);
    }
    return NULL;
}

static void test_concurrent_puts(void **state)
{
    struct tstore *t = *state;
    pthread_t th[THREADS];
    struct worker w[THREADS];
    static char body[65536];

    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){t->st, i, 0};
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    for (int id = 0; id < THREADS; id++) {
        for (int i = 0; i < ROUNDS; i++) {
            char key[64];
            size_t len = 0, n = body_for(id, i, body, sizeof body);
            snprintf(key, sizeof key, "own/%d/%d", id, i);
            char *got = get_all(t->st, "bkt", key, &len);
            assert_non_null(got);
            assert_int_equal(len, n);
            assert_memory_equal(got, body, n);
            free(got);
        }
    }
    /* the shared key holds one of the rounds whole */
    size_t len = 0;
    char *got = get_all(t->st, "bkt", "shared", &len);
    int id = -1, round = -1;
    assert_int_equal(sscanf(got, "thread %d round %d ", &id, &round), 2);
    size_t n = body_for(id, round, body, sizeof body);
    assert_int_equal(len, n);
    assert_memory_equal(got, body, n);
    free(got);
    assert_int_equal(count_tmp(t), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_head_get, tstore_setup, tstore_teardown),
        cmocka_unit_test_setup_teardown(test_attrs_and_digest, tstore_setup, tstore_teardown),
        cmocka_unit_test_setup_teardown(test_replace_and_delete, tstore_setup, tstore_teardown),
        cmocka_unit_test_setup_teardown(test_bad_puts_change_nothing, tstore_setup,
                                        tstore_teardown),
        cmocka_unit_test_setup_teardown(test_dedup, tstore_setup, tstore_teardown),
        cmocka_unit_test_setup_teardown(test_copy, tstore_setup, tstore_teardown),
        cmocka_unit_test_setup_teardown(test_buckets, tstore_setup, tstore_teardown),
        cmocka_unit_test_setup_teardown(test_tmp_cleaned_at_open, tstore_setup, tstore_teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_puts, tstore_setup, tstore_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
