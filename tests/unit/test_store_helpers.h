/* test_store_helpers.h -- shared by the tests/unit/test_store*.c files: a fresh data
 * directory per test (mkdtemp, removed afterwards), small put/read helpers. Header-only
 * (static inline functions, so a test that uses only some of them compiles cleanly). */
#ifndef TEST_STORE_HELPERS_H
#define TEST_STORE_HELPERS_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/store.h"

struct tstore {
    char dir[64];
    struct store *st;
};

static inline int rm_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb, (void)type, (void)ftw;
    return remove(path);
}

static inline void rm_rf(const char *dir)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static inline int tstore_setup(void **state)
{
    struct tstore *t = calloc(1, sizeof *t);
    assert_non_null(t);
    snprintf(t->dir, sizeof t->dir, "/tmp/tg-store-XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    assert_int_equal(store_open(t->dir, &t->st), 0);
    assert_int_equal(store_bucket_create(t->st, STR_LIT("bkt")), 0);
    *state = t;
    return 0;
}

static inline int tstore_teardown(void **state)
{
    struct tstore *t = *state;
    store_close(t->st);
    rm_rf(t->dir);
    free(t);
    return 0;
}

/* Put n bytes (in chunks of `chunk`, 0 = one write) at bucket/key. */
static inline int put_chunked(struct store *st, const char *bucket, const char *key,
                              const void *data, size_t n, size_t chunk,
                              const struct store_attrs *attrs, struct store_obj_info *out)
{
    struct store_put *p = NULL;
    int rc = store_put_begin(st, &p);
    if (rc < 0)
        return rc;
    if (chunk == 0)
        chunk = n ? n : 1;
    for (size_t off = 0; off < n; off += chunk) {
        size_t len = n - off < chunk ? n - off : chunk;
        if ((rc = store_put_write(p, (const char *)data + off, len)) < 0) {
            store_put_abort(p);
            return rc;
        }
    }
    return store_put_commit(p, str_c(bucket), str_c(key), attrs, out);
}

static inline int put_str(struct store *st, const char *bucket, const char *key, const char *body)
{
    return put_chunked(st, bucket, key, body, strlen(body), 0, NULL, NULL);
}

/* The whole object as a malloc'd NUL-terminated string (*len set). */
static inline char *get_all(struct store *st, const char *bucket, const char *key, size_t *len)
{
    struct store_obj_info info = {0};
    int fd = -1;
    if (store_obj_open(st, str_c(bucket), str_c(key), &info, &fd) < 0)
        return NULL;
    char *b = malloc(info.size + 1);
    assert_non_null(b);
    size_t got = 0;
    while (got < info.size) {
        ssize_t r = read(fd, b + got, info.size - got);
        assert_true(r > 0);
        got += (size_t)r;
    }
    b[got] = '\0';
    if (len)
        *len = got;
    close(fd);
    store_obj_info_release(&info);
    return b;
}

static inline unsigned count_files(const char *dir)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "find %s -type f | wc -l", dir);
    FILE *f = popen(cmd, "r");
    unsigned n = 0;
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%u", &n), 1);
    pclose(f);
    return n;
}

static inline unsigned count_blobs(const struct tstore *t)
{
    char d[128];
    snprintf(d, sizeof d, "%s/blobs", t->dir);
    return count_files(d);
}

#endif
