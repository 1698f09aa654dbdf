/* store_cache.c -- a read cache of object rows, so a GET of a hot object costs no
 * SQLite read transaction (two fcntl locks and a B-tree walk, ~10 us).
 *
 * Invariant: a cached row is used only while the store generation is the one that
 * was current when the row was read. The generation is a 64-bit counter in
 * DIR/store.gen, shared by every process using DIR through a MAP_SHARED mapping:
 * every write of the store bumps it once committed (store_step: a COMMIT, or a write
 * statement in autocommit mode), so a row read before a commit is never served after
 * it, in any process. Readers load
 * the generation *before* reading the row (a row read after a concurrent commit is
 * newer than its tag: harmless). A process that cannot map the file runs uncached.
 *
 * Memory: STORE_CACHE_SLOTS direct-mapped slots (a new row evicts the slot's old
 * one), each with its own mutex, so threads do not contend on one lock. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store_int.h"

#define STORE_CACHE_SLOTS 4096
#define STORE_GEN_FILE_SIZE 4096

struct cache_slot {
    pthread_mutex_t mu;
    char *bk; /* bucket '\0' key */
    size_t bklen;
    uint64_t gen;
    struct store_obj_info info;
};

struct store_cache {
    struct cache_slot slot[STORE_CACHE_SLOTS];
};

int store_cache_open(struct store *st)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/store.gen", st->dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return 0; /* uncached, still correct */
    struct stat stt;
    if (fstat(fd, &stt) < 0 ||
        (stt.st_size < STORE_GEN_FILE_SIZE && ftruncate(fd, STORE_GEN_FILE_SIZE) < 0)) {
        close(fd);
        return 0;
    }
    void *p = mmap(NULL, STORE_GEN_FILE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return 0;
    struct store_cache *cache = calloc(1, sizeof *cache);
    if (!cache) {
        munmap(p, STORE_GEN_FILE_SIZE);
        return 0;
    }
    for (size_t i = 0; i < STORE_CACHE_SLOTS; i++)
        pthread_mutex_init(&cache->slot[i].mu, NULL);
    st->gen = p;
    st->cache = cache;
    return 0;
}

void store_cache_close(struct store *st)
{
    if (st->cache) {
        for (size_t i = 0; i < STORE_CACHE_SLOTS; i++) {
            free(st->cache->slot[i].bk);
            store_obj_info_release(&st->cache->slot[i].info);
            pthread_mutex_destroy(&st->cache->slot[i].mu);
        }
        free(st->cache);
        st->cache = NULL;
    }
    if (st->gen) {
        munmap((void *)st->gen, STORE_GEN_FILE_SIZE);
        st->gen = NULL;
    }
}

uint64_t store_gen_load(const struct store *st)
{
    return st->gen ? __atomic_load_n(st->gen, __ATOMIC_ACQUIRE) : 0;
}

void store_gen_bump(struct store *st)
{
    if (st->gen)
        __atomic_add_fetch(st->gen, 1, __ATOMIC_SEQ_CST);
}

static size_t slot_of(struct str bucket, struct str key)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < bucket.len; i++)
        h = (h ^ (uint8_t)bucket.ptr[i]) * 1099511628211ull;
    h = (h ^ 0) * 1099511628211ull;
    for (size_t i = 0; i < key.len; i++)
        h = (h ^ (uint8_t)key.ptr[i]) * 1099511628211ull;
    return (size_t)(h % STORE_CACHE_SLOTS);
}

static bool slot_matches(const struct cache_slot *s, struct str bucket, struct str key)
{
    return s->bk && s->bklen == bucket.len + 1 + key.len &&
           memcmp(s->bk, bucket.ptr, bucket.len) == 0 && s->bk[bucket.len] == '\0' &&
           memcmp(s->bk + bucket.len + 1, key.ptr, key.len) == 0;
}

static int info_copy(const struct store_obj_info *src, struct store_obj_info *dst)
{
    *dst = *src;
    dst->content_type = src->content_type ? strdup(src->content_type) : NULL;
    dst->meta_json = src->meta_json ? strdup(src->meta_json) : NULL;
    if ((src->content_type && !dst->content_type) || (src->meta_json && !dst->meta_json)) {
        store_obj_info_release(dst);
        return -ERR_NOMEM;
    }
    return 0;
}

bool store_cache_get(struct store *st, struct str bucket, struct str key, uint64_t gen,
                     struct store_obj_info *out)
{
    if (!st->cache)
        return false;
    struct cache_slot *s = &st->cache->slot[slot_of(bucket, key)];
    bool hit = false;
    pthread_mutex_lock(&s->mu);
    if (s->gen == gen && slot_matches(s, bucket, key))
        hit = info_copy(&s->info, out) == 0;
    pthread_mutex_unlock(&s->mu);
    return hit;
}

void store_cache_put(struct store *st, struct str bucket, struct str key, uint64_t gen,
                     const struct store_obj_info *info)
{
    if (!st->cache)
        return;
    struct store_obj_info copy;
    char *bk = malloc(bucket.len + 1 + key.len);
    if (!bk || info_copy(info, &copy) < 0) {
        free(bk);
        return;
    }
    memcpy(bk, bucket.ptr, bucket.len);
    bk[bucket.len] = '\0';
    memcpy(bk + bucket.len + 1, key.ptr, key.len);
    struct cache_slot *s = &st->cache->slot[slot_of(bucket, key)];
    pthread_mutex_lock(&s->mu);
    free(s->bk);
    store_obj_info_release(&s->info);
    s->bk = bk;
    s->bklen = bucket.len + 1 + key.len;
    s->gen = gen;
    s->info = copy;
    pthread_mutex_unlock(&s->mu);
}

bool store_generation(const struct store *st, uint64_t *out)
{
    if (st->remote)
        return store_remote_generation(st, out);
    if (!st->gen)
        return false;
    *out = store_gen_load(st);
    return true;
}
