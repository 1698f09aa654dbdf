/* test_store_gc.c -- blob garbage collection: the grace period, references from objects
 * and parts, dedup refreshing an old blob, gc running concurrently with puts and
 * deletes of the same bodies (grace 0: the worst case), and a writer killed with
 * SIGKILL mid-way: every acknowledged put reads back whole and tmp/ is empty after the
 * next open. */
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "crypto/crypto.h"
#include "store/store_int.h"
#include "test_store_helpers.h"

/* Age every blob by `secs` seconds. */
static void age_blobs(const struct tstore *t, int secs)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "find %s/blobs -type f -exec touch -m -d @%lld {} +", t->dir,
             (long long)(time(NULL) - secs));
    assert_int_equal(system(cmd), 0);
}

static void test_gc_grace_and_refs(void **state)
{
    struct tstore *t = *state;
    unsigned removed = 99;
    uint64_t bytes = 99;
    char id[STORE_UPLOAD_ID_MAX], etag[STORE_ETAG_MAX];
    struct store_put *p = NULL;

    assert_int_equal(put_str(t->st, "bkt", "keep", "kept body"), 0);
    assert_int_equal(put_str(t->st, "bkt", "drop", "dropped body"), 0);
    assert_int_equal(store_obj_delete(t->st, STR_LIT("bkt"), STR_LIT("drop")), 0);
    assert_int_equal(store_mpu_create(t->st, STR_LIT("bkt"), STR_LIT("mp"), NULL, id), 0);
    assert_int_equal(store_put_begin(t->st, &p), 0);
    assert_int_equal(store_put_write(p, "a part", 6), 0);
    assert_int_equal(store_mpu_part_commit(p, STR_LIT("bkt"), STR_LIT("mp"), str_c(id), 1, etag),
                     0);
    assert_int_equal(count_blobs(t), 3);

    /* young: nothing goes */
    assert_int_equal(store_gc(t->st, 3600, &removed, &bytes), 0);
    assert_int_equal(removed, 0);
    assert_int_equal(bytes, 0);
    /* old: only the unreferenced one */
    age_blobs(t, 7200);
    assert_int_equal(store_gc(t->st, 3600, &removed, &bytes), 0);
    assert_int_equal(removed, 1);
    assert_int_equal(bytes, 12);
    assert_int_equal(count_blobs(t), 2);
    char *b = get_all(t->st, "bkt", "keep", NULL);
    assert_string_equal(b, "kept body");
    free(b);

    /* a put reusing an old unreferenced blob refreshes it: gc leaves it */
    assert_int_equal(put_str(t->st, "bkt", "x", "reused"), 0);
    assert_int_equal(store_obj_delete(t->st, STR_LIT("bkt"), STR_LIT("x")), 0);
    age_blobs(t, 7200);
    assert_int_equal(put_str(t->st, "bkt", "y", "reused"), 0);
    assert_int_equal(store_gc(t->st, 3600, &removed, NULL), 0);
    assert_int_equal(removed, 0);
    b = get_all(t->st, "bkt", "y", NULL);
    assert_string_equal(b, "reused");
    free(b);

    /* once the upload is aborted its part blob goes too */
    assert_int_equal(store_mpu_abort(t->st, STR_LIT("bkt"), STR_LIT("mp"), str_c(id)), 0);
    assert_int_equal(store_gc(t->st, 3600, &removed, NULL), 0);
    assert_int_equal(removed, 1);
    assert_int_equal(count_blobs(t), 2); /* keep + reused */

    /* stray files in blobs/ are not blobs: left alone */
    char stray[160];
    snprintf(stray, sizeof stray, "%s/blobs/ab/not-a-blob", t->dir);
    FILE *f = fopen(stray, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(store_gc(t->st, 0, &removed, NULL), 0);
    assert_int_equal(removed, 0);
    assert_int_equal(access(stray, F_OK), 0);
}

/* The race made deterministic: a put publishes its blob (here an existing, unreferenced
 * one: dedup), gc collects it before the put's row commits, the commit must put the
 * blob back (store_blob_confirm). Likewise for a fresh blob. */
static void test_gc_between_publish_and_commit(void **state)
{
    struct tstore *t = *state;
    struct store_put *p = NULL;
    unsigned removed = 0;

    assert_int_equal(put_str(t->st, "bkt", "old", "shared body"), 0);
    assert_int_equal(store_obj_delete(t->st, STR_LIT("bkt"), STR_LIT("old")), 0);
    for (int fresh = 0; fresh < 2; fresh++) {
        const char *body = fresh ? "a brand new body" : "shared body";
        assert_int_equal(store_put_begin(t->st, &p), 0);
        assert_int_equal(store_put_write(p, body, strlen(body)), 0);
        assert_int_equal(store_blob_publish(p), 0);
        struct timespec ts = {0, 2000000}; /* the blob's mtime falls before gc's cutoff */
        nanosleep(&ts, NULL);
        assert_int_equal(store_gc(t->st, 0, &removed, NULL), 0);
        assert_int_equal(removed, fresh ? 2 : 1); /* + the first body, deleted below */
        assert_int_equal(access(p->blob, F_OK), -1);
        assert_int_equal(store_put_commit(p, STR_LIT("bkt"), STR_LIT("new"), NULL, NULL), 0);
        char *b = get_all(t->st, "bkt", "new", NULL);
        assert_non_null(b);
        assert_string_equal(b, body);
        free(b);
        assert_int_equal(store_obj_delete(t->st, STR_LIT("bkt"), STR_LIT("new")), 0);
    }
}

/* ---- gc racing with puts of the same few bodies ---- */

#define BODIES 8
#define WRITERS 3
#define ROUNDS 40

struct race {
    struct store *st;
    volatile int stop;
    int failures, id;
    unsigned removed;
};

static void *gc_main(void *arg)
{
    struct race *r = arg;
    while (!r->stop) {
        unsigned n = 0;
        if (store_gc(r->st, 0, &n, NULL) != 0)
            r->failures++;
        r->removed += n;
    }
    return NULL;
}

/* Each writer keeps about one key alive, so most bodies are unreferenced at any time:
 * gc keeps collecting blobs that the next put needs again. */
static void *writer_main(void *arg)
{
    struct race *r = arg;
    char key[32], body[32];
    for (int i = 0; i < ROUNDS; i++) {
        snprintf(key, sizeof key, "w%d/%d", r->id, i % 2);
        snprintf(body, sizeof body, "body number %d", (i * 3 + r->id) % BODIES);
        if (put_str(r->st, "bkt", key, body) != 0)
            r->failures++;
        snprintf(key, sizeof key, "w%d/%d", r->id, (i + 1) % 2);
        if (store_obj_delete(r->st, STR_LIT("bkt"), str_c(key)) != 0)
            r->failures++;
    }
    return NULL;
}

static int check_entry(void *ctx, const struct store_list_entry *e)
{
    struct tstore *t = ctx;
    size_t len = 0;
    char *b = get_all(t->st, "bkt", e->key, &len);
    uint8_t sha[32];
    assert_non_null(b);
    crypto_sha256(b, len, sha);
    assert_memory_equal(sha, e->info->sha256, 32);
    assert_memory_equal(b, "body number ", 12);
    free(b);
    return 0;
}

static void test_gc_races_puts(void **state)
{
    struct tstore *t = *state;
    struct race gc = {t->st, 0, 0, 0, 0}, w[WRITERS];
    pthread_t gc_th, th[WRITERS];

    assert_int_equal(pthread_create(&gc_th, NULL, gc_main, &gc), 0);
    for (int i = 0; i < WRITERS; i++) {
        w[i] = (struct race){t->st, 0, 0, i, 0};
        assert_int_equal(pthread_create(&th[i], NULL, writer_main, &w[i]), 0);
    }
    for (int i = 0; i < WRITERS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    gc.stop = 1;
    pthread_join(gc_th, NULL);
    assert_int_equal(gc.failures, 0);
    print_message("gc removed %u blobs while the writers ran\n", gc.removed);

    struct store_list_req req = {STR_LIT("bkt"), STR_NULL, STR_NULL, STR_NULL, 1000, false, false};
    struct store_list_res res = {0};
    assert_int_equal(store_obj_list(t->st, &req, check_entry, t, &res), 0);
    assert_true(res.count > 0);
    store_list_res_release(&res);
    assert_int_equal(store_gc(t->st, 0, NULL, NULL), 0);
    assert_true(count_blobs(t) <= BODIES);
    char tmp[128];
    snprintf(tmp, sizeof tmp, "%s/tmp", t->dir);
    assert_int_equal(count_files(tmp), 0);
}

/* ---- kill -9 of a writer ---- */

static size_t crash_body(unsigned i, char *out, size_t cap)
{
    size_t n = 1000 + (i * 7717) % 200000;
    if (n > cap)
        n = cap;
    for (size_t j = 0; j < n; j++)
        out[j] = (char)((i * 131 + j * 7) & 0xff);
    return n;
}

static void test_kill9_writer(void **state)
{
    struct tstore *t = *state;
    static char body[200000], got_body[200000];
    int pipefd[2];

    for (int round = 0; round < 3; round++) {
        assert_int_equal(pipe(pipefd), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) { /* the writer: own store, acknowledges each commit on the pipe */
            struct store *st = NULL;
            close(pipefd[0]);
            if (store_open(t->dir, &st) != 0)
                _exit(2);
            for (unsigned i = 0;; i++) {
                char key[32];
                size_t n = crash_body(i, body, sizeof body);
                snprintf(key, sizeof key, "crash/%u", i % 40);
                if (put_chunked(st, "bkt", key, body, n, 8192, NULL, NULL) != 0)
                    _exit(3);
                if (write(pipefd[1], &i, sizeof i) != sizeof i)
                    _exit(4);
            }
        }
        close(pipefd[1]);
        unsigned acked = 0, last = 0;
        struct timespec ts = {0, (long)(60 + round * 90) * 1000000};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        while (read(pipefd[0], &last, sizeof last) == sizeof last)
            acked++;
        close(pipefd[0]);
        int status = 0;
        waitpid(pid, &status, 0);
        assert_true(WIFSIGNALED(status));
        print_message("round %d: %u puts acknowledged\n", round, acked);

        store_close(t->st);
        t->st = NULL;
        assert_int_equal(store_open(t->dir, &t->st), 0);
        char tmp[128];
        snprintf(tmp, sizeof tmp, "%s/tmp", t->dir);
        assert_int_equal(count_files(tmp), 0);
        /* the last acknowledged put of each key reads back byte-identical */
        for (unsigned i = acked > 40 ? acked - 40 : 0; i < acked; i++) {
            char key[32];
            size_t n = crash_body(i, body, sizeof body), len = 0;
            snprintf(key, sizeof key, "crash/%u", i % 40);
            char *got = get_all(t->st, "bkt", key, &len);
            assert_non_null(got);
            /* a later, unacknowledged put may have landed: then it is that body, whole */
            if (len != n || memcmp(got, body, n) != 0) {
                size_t m = crash_body(i + 40, got_body, sizeof got_body);
                assert_int_equal(len, m);
                assert_memory_equal(got, got_body, m);
            }
            free(got);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_gc_grace_and_refs, tstore_setup, tstore_teardown),
        cmocka_unit_test_setup_teardown(test_gc_between_publish_and_commit, tstore_setup,
                                        tstore_teardown),
        cmocka_unit_test_setup_teardown(test_gc_races_puts, tstore_setup, tstore_teardown),
        cmocka_unit_test_setup_teardown(test_kill9_writer, tstore_setup, tstore_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
