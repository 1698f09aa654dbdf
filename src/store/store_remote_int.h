/* store_remote_int.h -- private to the remote backend (store_remote.c: buckets, reads,
 * writes, retirement markers, the generation; store_remote_list.c: listings;
 * store_remote_mpu.c: multipart uploads passed through). */
#ifndef TG_STORE_REMOTE_INT_H
#define TG_STORE_REMOTE_INT_H

#include <pthread.h>

#include "store/store_int.h"

#define RCACHE_SLOTS 8192u
#define MCACHE_SLOTS 4096u
#define MARKER_MAX 256          /* "<retired_us> <etag>" */
#define LIST_PAGE 1000u         /* keys asked per ListObjectsV2 page */
#define JUMP "\xf4\x8f\xbf\xbf" /* U+10FFFF: sorts after every other character */

struct rslot {
    char bucket[STORE_BUCKET_MAX + 1];
    char *key;
    char etag[STORE_ETAG_MAX];
    struct store_obj_info info;
};

/* A retirement marker as read: its own ETag (the version read), its content. */
struct mslot {
    char bucket[STORE_BUCKET_MAX + 1];
    char *key;
    char metag[STORE_ETAG_MAX];
    int64_t at_us;
    char etag[STORE_ETAG_MAX];
};

struct store_remote {
    const struct store_remote_ops *ops;
    void *impl;
    char *bucket;
    pthread_mutex_t mu; /* guards cache and mcache */
    struct rslot *cache;
    struct mslot *mcache;
};

/* ---- shared helpers (store_remote.c) ---- */

/* A bucket of the store is the remote bucket of the same name: b gets the name. */
int srem_bucket_check(struct str bucket, char b[STORE_BUCKET_MAX + 1]);
bool srem_is_sys(struct str key); /* under STORE_REMOTE_SYS: the store's own */
char *srem_key_dup(struct str key);
char *srem_marker_key(struct str key); /* STORE_REMOTE_SYS "retired/" KEY */
size_t srem_slot_of(const char *b, const char *key);
bool srem_slot_is(const char *sb, const char *skey, const char *b, const char *key);
/* The details of (bucket, key) as read for one ETag, cached. */
bool srem_rcache_get(struct store_remote *r, const char *b, const char *key, const char *etag,
                     struct store_obj_info *out);
void srem_rcache_put(struct store_remote *r, const char *b, const char *key,
                     const struct store_obj_info *info);
void srem_rcache_drop(struct store_remote *r, const char *b, const char *key);
/* Reads the marker mk of bucket b: its time and the ETag it retired; -ERR_NO_SUCH_KEY if
 * none (or not ours). */
int srem_marker_read(struct store_remote *r, const char *b, const char *mk, int64_t *at_us,
                     char *etag, size_t cap);
void srem_gen_bump(struct store *st);     /* after every committed write */
bool srem_lt(struct str a, struct str b); /* byte order */

#endif
