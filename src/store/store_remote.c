/* store_remote.c -- the remote backend: the store's interface over one bucket of a
 * remote S3-compatible store, through the operations table the caller gives
 * (store.h "the remote backend"). Nothing here knows HTTP or S3's wire format.
 *
 * State shared by every node lives in the remote bucket: object headers (content
 * type, stored headers, x-amz-meta-tollgate-sha256) and retirement markers under
 * STORE_REMOTE_SYS "retired/". A node keeps only caches, each tagged with the ETag it
 * was read for, so a cache entry can never describe another version of an object.
 *
 * Workload: listings (portal, publisher, lifecycle) are one ListObjectsV2 page per
 * 1000 keys plus one listing of the markers under the same prefix; details (SHA-256,
 * headers) cost a HEAD per object version the node has not seen yet. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* ---- small helpers ---- */

/* A bucket of the store is the remote bucket of the same name: b gets the name. */
static int bucket_check(struct str bucket, char b[STORE_BUCKET_MAX + 1])
{
    if (store_bucket_name_check(bucket) < 0)
        return -ERR_NO_SUCH_BUCKET;
    memcpy(b, bucket.ptr, bucket.len);
    b[bucket.len] = '\0';
    return 0;
}

static bool is_sys(struct str key)
{
    return str_starts(key, STORE_REMOTE_SYS);
}

static char *key_dup(struct str key)
{
    return str_dup(key);
}

static char *marker_key(struct str key)
{
    struct buf b = BUF_INIT;
    if (buf_adds(&b, STORE_REMOTE_SYS "retired/") < 0 || buf_addstr(&b, key) < 0) {
        buf_release(&b);
        return NULL;
    }
    return buf_take(&b);
}

static size_t slot_of(const char *b, const char *key)
{
    return (size_t)((fnv1a64(key, strlen(key)) ^ fnv1a64(b, strlen(b))) % RCACHE_SLOTS);
}

static bool slot_is(const char *sb, const char *skey, const char *b, const char *key)
{
    return skey && strcmp(skey, key) == 0 && strcmp(sb, b) == 0;
}

static int info_copy(const struct store_obj_info *src, struct store_obj_info *dst)
{
    *dst = *src;
    dst->content_type = strdup(src->content_type ? src->content_type : "");
    dst->meta_json = strdup(src->meta_json ? src->meta_json : "{}");
    if (!dst->content_type || !dst->meta_json) {
        store_obj_info_release(dst);
        return -ERR_NOMEM;
    }
    return 0;
}

/* The cached details of key at etag, copied to out. */
static bool rcache_get(struct store_remote *r, const char *b, const char *key, const char *etag,
                       struct store_obj_info *out)
{
    bool hit = false;
    pthread_mutex_lock(&r->mu);
    struct rslot *s = &r->cache[slot_of(b, key)];
    if (slot_is(s->bucket, s->key, b, key) && strcmp(s->etag, etag) == 0)
        hit = info_copy(&s->info, out) == 0;
    pthread_mutex_unlock(&r->mu);
    return hit;
}

static void rcache_put(struct store_remote *r, const char *b, const char *key,
                       const struct store_obj_info *info)
{
    struct store_obj_info copy;
    char *k = strdup(key);
    if (!k || info_copy(info, &copy) < 0) {
        free(k);
        return;
    }
    pthread_mutex_lock(&r->mu);
    struct rslot *s = &r->cache[slot_of(b, key)];
    free(s->key);
    store_obj_info_release(&s->info);
    snprintf(s->bucket, sizeof s->bucket, "%s", b);
    s->key = k;
    snprintf(s->etag, sizeof s->etag, "%s", info->etag);
    s->info = copy;
    pthread_mutex_unlock(&r->mu);
}

static void rcache_drop(struct store_remote *r, const char *b, const char *key)
{
    pthread_mutex_lock(&r->mu);
    struct rslot *s = &r->cache[slot_of(b, key)];
    if (slot_is(s->bucket, s->key, b, key)) {
        free(s->key);
        s->key = NULL;
        store_obj_info_release(&s->info);
    }
    pthread_mutex_unlock(&r->mu);
}

/* ---- open / close ---- */

int store_open_remote(const char *scratch_dir, const char *bucket,
                      const struct store_remote_ops *ops, void *impl, struct store **out)
{
    struct store *st = calloc(1, sizeof *st);
    struct store_remote *r = calloc(1, sizeof *r);
    int rc = -ERR_NOMEM;
    if (!st || !r)
        goto fail;
    pthread_mutex_init(&st->lock, NULL);
    pthread_mutex_init(&r->mu, NULL);
    r->ops = ops;
    r->impl = impl;
    impl = NULL;
    st->remote = r;
    if (!(r->bucket = strdup(bucket)) || !(r->cache = calloc(RCACHE_SLOTS, sizeof *r->cache)) ||
        !(r->mcache = calloc(MCACHE_SLOTS, sizeof *r->mcache)) ||
        !(st->dir = strdup(scratch_dir))) {
        store_close(st);
        return -ERR_NOMEM;
    }
    struct buf b = BUF_INIT;
    if (buf_printf(&b, "%s/tmp", scratch_dir) < 0 || !(st->tmp_dir = buf_take(&b))) {
        buf_release(&b);
        store_close(st);
        return -ERR_NOMEM;
    }
    if ((rc = mkdir_p(st->tmp_dir, 0700)) < 0 || (rc = store_tmp_clean(st->tmp_dir)) < 0) {
        tg_log_error("store: cannot create or clean '%s': %s", st->tmp_dir, err_message(rc));
        store_close(st);
        return rc;
    }
    *out = st;
    return 0;
fail:
    if (impl)
        ops->free(impl);
    free(st);
    free(r);
    return rc;
}

void store_remote_close(struct store *st)
{
    struct store_remote *r = st->remote;
    if (!r)
        return;
    if (r->impl)
        r->ops->free(r->impl);
    for (size_t i = 0; r->cache && i < RCACHE_SLOTS; i++) {
        free(r->cache[i].key);
        store_obj_info_release(&r->cache[i].info);
    }
    free(r->cache);
    for (size_t i = 0; r->mcache && i < MCACHE_SLOTS; i++)
        free(r->mcache[i].key);
    free(r->mcache);
    free(r->bucket);
    pthread_mutex_destroy(&r->mu);
    free(r);
    st->remote = NULL;
}

bool store_is_remote(const struct store *st)
{
    return st->remote != NULL;
}

/* ---- buckets: the remote's, one to one ---- */

int store_remote_bucket_create(struct store *st, struct str bucket)
{
    char b[STORE_BUCKET_MAX + 1];
    int rc = store_bucket_name_check(bucket);
    if (rc < 0)
        return rc;
    bucket_check(bucket, b);
    return st->remote->ops->bucket_create(st->remote->impl, b);
}

int store_remote_bucket_exists(struct store *st, struct str bucket)
{
    char b[STORE_BUCKET_MAX + 1];
    int rc = bucket_check(bucket, b);
    return rc < 0 ? rc : st->remote->ops->bucket_head(st->remote->impl, b);
}

struct bucket_fwd {
    int (*fn)(void *ctx, const struct store_bucket *b);
    void *ctx;
};

static int bucket_fwd_fn(void *ctx, const char *name, int64_t created_us)
{
    struct bucket_fwd *f = ctx;
    struct store_bucket b = {name, created_us};
    return f->fn(f->ctx, &b);
}

int store_remote_bucket_list(struct store *st, int (*fn)(void *ctx, const struct store_bucket *b),
                             void *ctx)
{
    struct bucket_fwd f = {fn, ctx};
    int rc = st->remote->ops->buckets(st->remote->impl, bucket_fwd_fn, &f);
    return rc < 0 ? rc : 0;
}

static int sys_key_fn(void *ctx, const struct store_remote_obj *o)
{
    char **first = ctx;
    if (!*first && !(*first = strdup(o->key)))
        return -ERR_NOMEM;
    return 0;
}

static int count_fn(void *ctx, const struct store_list_entry *e)
{
    (void)ctx;
    (void)e;
    return 0;
}

/* Empty but for the store's own keys (which go with it): deleted. */
int store_remote_bucket_delete(struct store *st, struct str bucket)
{
    struct store_remote *r = st->remote;
    char b[STORE_BUCKET_MAX + 1];
    struct store_list_res res = {0};
    int rc;
    if ((rc = bucket_check(bucket, b)) < 0 || (rc = r->ops->bucket_head(r->impl, b)) < 0)
        return rc;
    struct store_list_req req = {.bucket = bucket, .max_keys = 1};
    if ((rc = store_remote_list(st, &req, count_fn, NULL, &res)) < 0)
        return rc;
    bool empty = res.count == 0;
    store_list_res_release(&res);
    if (!empty)
        return -ERR_BUCKET_NOT_EMPTY;
    for (unsigned i = 0; i < 100000; i++) { /* the store's own keys, one by one */
        char *k = NULL;
        bool more = false;
        rc = r->ops->list(r->impl, b, STORE_REMOTE_SYS, NULL, 1, sys_key_fn, &k, &more);
        if (rc < 0 || !k) {
            free(k);
            break;
        }
        rc = r->ops->del(r->impl, b, k);
        free(k);
        if (rc < 0)
            break;
    }
    if (rc < 0)
        return rc;
    return r->ops->bucket_delete(r->impl, b);
}

/* ---- reading ---- */

int store_remote_head(struct store *st, struct str bucket, struct str key,
                      struct store_obj_info *out)
{
    struct store_remote *r = st->remote;
    char b[STORE_BUCKET_MAX + 1];
    int rc;
    if ((rc = bucket_check(bucket, b)) < 0)
        return rc;
    if (is_sys(key))
        return -ERR_NO_SUCH_KEY;
    char *k = key_dup(key);
    if (!k)
        return -ERR_NOMEM;
    struct store_obj_info info = {0};
    rc = r->ops->head(r->impl, b, k, &info);
    if (rc == 0) {
        rcache_put(r, b, k, &info);
        *out = info;
    } else if (rc == -ERR_NO_SUCH_KEY && r->ops->bucket_head(r->impl, b) == -ERR_NO_SUCH_BUCKET) {
        rc = -ERR_NO_SUCH_BUCKET; /* a HEAD's 404 has no body to tell */
    }
    free(k);
    return rc;
}

struct mem_sink {
    char *p;
    size_t n, cap;
};

static int mem_sink_fn(void *ctx, const void *p, size_t n)
{
    struct mem_sink *m = ctx;
    if (n > m->cap - m->n)
        return -ERR_TOO_LONG;
    memcpy(m->p + m->n, p, n);
    m->n += n;
    return 0;
}

static int fd_sink_fn(void *ctx, const void *p, size_t n)
{
    return fd_write_all(*(int *)ctx, p, n);
}

/* An unlinked scratch file in DIR/tmp. */
static int scratch_fd(struct store *st)
{
    int fd = open(st->tmp_dir, O_RDWR | O_TMPFILE | O_CLOEXEC, 0600);
    if (fd >= 0)
        return fd;
    char path[PATH_MAX];
    uint8_t rnd[8];
    char hex[17];
    if (crypto_random(rnd, sizeof rnd) < 0)
        return -ERR_INTERNAL;
    hex_encode(rnd, sizeof rnd, hex);
    snprintf(path, sizeof path, "%s/get-%s", st->tmp_dir, hex);
    fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    unlink(path);
    return fd;
}

int store_remote_open(struct store *st, struct str bucket, struct str key,
                      struct store_obj_info *out, int *fd_out)
{
    struct store_remote *r = st->remote;
    struct store_obj_info info = {0};
    char b[STORE_BUCKET_MAX + 1];
    int fd = -1, rc;
    char *k = NULL;
    if ((rc = bucket_check(bucket, b)) < 0 || (rc = store_remote_head(st, bucket, key, &info)) < 0)
        return rc;
    if (!(k = key_dup(key))) {
        rc = -ERR_NOMEM;
        goto out;
    }
    if ((fd = scratch_fd(st)) < 0) {
        rc = fd;
        tg_log_error("store: cannot create a scratch file in '%s': %s", st->tmp_dir,
                     err_message(rc));
        goto out;
    }
    rc = r->ops->get(r->impl, b, k, 0, 0, info.etag, fd_sink_fn, &fd);
    if (rc == 0 && lseek(fd, 0, SEEK_SET) < 0)
        rc = -errno;
    if (rc == 0) {
        struct stat sb;
        if (fstat(fd, &sb) < 0 || (uint64_t)sb.st_size != info.size)
            rc = -ERR_REMOTE; /* a short body: never serve part of an object */
    }
    if (rc < 0)
        goto out;
    *fd_out = fd;
    fd = -1;
    if (out) {
        *out = info;
        memset(&info, 0, sizeof info);
    }
out:
    if (fd >= 0)
        close(fd);
    free(k);
    store_obj_info_release(&info);
    return rc;
}

int store_obj_pread(struct store *st, struct str bucket, struct str key, const char *etag,
                    uint64_t off, void *buf, size_t n)
{
    if (st->remote)
        return store_remote_pread(st, bucket, key, etag, off, buf, n);
    struct store_obj_info info = {0};
    int fd = -1, rc = store_obj_open(st, bucket, key, &info, &fd);
    if (rc == 0 && strcmp(info.etag, etag) != 0)
        rc = -ERR_PRECONDITION;
    for (size_t got = 0; rc == 0 && got < n;) {
        ssize_t r = pread(fd, (char *)buf + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            rc = r < 0 ? -errno : -ERR_IO;
        else
            got += (size_t)r;
    }
    if (fd >= 0)
        close(fd);
    store_obj_info_release(&info);
    return rc;
}

int store_remote_pread(struct store *st, struct str bucket, struct str key, const char *etag,
                       uint64_t off, void *buf, size_t n)
{
    struct store_remote *r = st->remote;
    char b[STORE_BUCKET_MAX + 1];
    int rc;
    if ((rc = bucket_check(bucket, b)) < 0)
        return rc;
    if (n == 0)
        return 0;
    char *k = key_dup(key);
    if (!k)
        return -ERR_NOMEM;
    struct mem_sink m = {buf, 0, n};
    rc = r->ops->get(r->impl, b, k, off, n, etag, mem_sink_fn, &m);
    if (rc == 0 && m.n != n)
        rc = -ERR_REMOTE;
    free(k);
    return rc;
}

/* ---- the store generation: an object the writers replace ---- */

#define GEN_KEY STORE_REMOTE_SYS "gen"

/* After every committed write: a new body (so a new ETag) for GEN_KEY. */
static void gen_bump(struct store *st)
{
    struct store_remote *r = st->remote;
    uint8_t rnd[16], sha[32];
    char tag[STORE_ETAG_MAX];
    int fd = scratch_fd(st), rc = fd;
    if (fd >= 0 && (rc = crypto_random(rnd, sizeof rnd)) == 0 &&
        (rc = fd_sink_fn(&fd, rnd, sizeof rnd)) == 0) {
        struct store_attrs a = {"application/octet-stream", NULL};
        crypto_sha256(rnd, sizeof rnd, sha);
        rc = r->ops->put(r->impl, r->bucket, GEN_KEY, fd, sizeof rnd, sha, &a, NULL, tag);
    }
    if (fd >= 0)
        close(fd);
    if (rc < 0)
        tg_log_warn("store: the store generation could not be bumped (%s): other nodes see "
                    "this change when their listing cache expires",
                    err_message(rc));
}

bool store_remote_generation(const struct store *st, uint64_t *out)
{
    struct store_remote *r = st->remote;
    struct store_obj_info info = {0};
    int rc = r->ops->head(r->impl, r->bucket, GEN_KEY, &info);
    if (rc == -ERR_NO_SUCH_KEY) {
        *out = 0;
        return true;
    }
    if (rc < 0)
        return false;
    uint64_t h = fnv1a64(info.etag, strlen(info.etag));
    store_obj_info_release(&info);
    *out = h | 1; /* never 0, the value of "no generation object yet" */
    return true;
}

/* ---- writing ---- */

int store_remote_commit(struct store_put *p, struct str bucket, struct str key,
                        const struct store_attrs *attrs, const struct store_write_cond *cond,
                        struct store_obj_info *out)
{
    struct store *st = p->st;
    struct store_remote *r = st->remote;
    struct store_obj_info info = {0};
    char *k = NULL, *mk = NULL, b[STORE_BUCKET_MAX + 1];
    int rc;

    if ((rc = store_key_check(key)) < 0 || (rc = bucket_check(bucket, b)) < 0)
        goto out;
    if (is_sys(key)) {
        rc = -ERR_ACCESS_DENIED; /* the store's own keys */
        goto out;
    }
    if (!(k = key_dup(key)) || !(mk = marker_key(key))) {
        rc = -ERR_NOMEM;
        goto out;
    }
    if (cond && (cond->if_none_match_any || cond->if_match)) {
        /* Checked by a HEAD first (S3's answers: NoSuchKey for If-Match on a missing
         * key; no upload when it fails at once), then again by the remote as it writes
         * (atomic against a racing writer where the remote supports conditional
         * writes: S3, R2, MinIO, tollgate; docs/scaling.md). */
        struct store_obj_info cur = {0};
        rc = r->ops->head(r->impl, b, k, &cur);
        if (rc == -ERR_NO_SUCH_KEY)
            rc = cond->if_match ? -ERR_NO_SUCH_KEY : 0;
        else if (rc == 0 && cond->if_none_match_any)
            rc = -ERR_PRECONDITION;
        else if (rc == 0 && strcmp(cond->if_match, "*") != 0 &&
                 strcmp(cond->if_match, cur.etag) != 0)
            rc = -ERR_PRECONDITION;
        store_obj_info_release(&cur);
        if (rc < 0)
            goto out;
    }
    if ((rc = store_put_finish(p)) < 0)
        goto out;
    info.size = p->size;
    memcpy(info.sha256, p->sha256, 32);
    info.mtime_us = tg_now_us();
    info.content_type =
        strdup(attrs && attrs->content_type ? attrs->content_type : "application/octet-stream");
    info.meta_json = strdup(attrs && attrs->meta_json ? attrs->meta_json : "{}");
    if (!info.content_type || !info.meta_json) {
        rc = -ERR_NOMEM;
        goto out;
    }
    if ((rc = r->ops->put(r->impl, b, k, p->fd, p->size, p->sha256, attrs, cond, info.etag)) < 0)
        goto out;
    /* A new write makes a retired key live again: its marker goes. */
    if (r->ops->del(r->impl, b, mk) < 0)
        tg_log_warn("store: the retirement marker of a rewritten key could not be removed; "
                    "the next lifecycle pass sees it is stale");
    rcache_put(r, b, k, &info);
    gen_bump(st);
    if (out) {
        *out = info;
        memset(&info, 0, sizeof info);
    }
out:
    store_put_free(p);
    store_obj_info_release(&info);
    free(k);
    free(mk);
    return rc;
}

int store_remote_delete(struct store *st, struct str bucket, struct str key)
{
    struct store_remote *r = st->remote;
    char b[STORE_BUCKET_MAX + 1];
    int rc;
    if ((rc = bucket_check(bucket, b)) < 0)
        return rc;
    if (is_sys(key))
        return 0;
    char *k = key_dup(key), *mk = marker_key(key);
    if (!k || !mk)
        rc = -ERR_NOMEM;
    else if ((rc = r->ops->del(r->impl, b, k)) == 0)
        rc = r->ops->del(r->impl, b, mk);
    if (k)
        rcache_drop(r, b, k);
    if (rc == 0)
        gen_bump(st);
    free(k);
    free(mk);
    return rc;
}

static int put_sink_fn(void *ctx, const void *data, size_t n)
{
    return store_put_write(ctx, data, n);
}

int store_remote_copy(struct store *st, struct str src_bucket, struct str src_key,
                      struct str dst_bucket, struct str dst_key, const struct store_attrs *attrs,
                      struct store_obj_info *out)
{
    struct store_remote *r = st->remote;
    struct store_obj_info src = {0};
    struct store_put *p = NULL;
    char *k = NULL, bd[STORE_BUCKET_MAX + 1], bs[STORE_BUCKET_MAX + 1];
    int rc;
    if ((rc = bucket_check(dst_bucket, bd)) < 0 || (rc = bucket_check(src_bucket, bs)) < 0 ||
        (rc = store_remote_head(st, src_bucket, src_key, &src)) < 0)
        goto out;
    if (!(k = key_dup(src_key))) {
        rc = -ERR_NOMEM;
        goto out;
    }
    if ((rc = store_put_begin(st, &p)) < 0)
        goto out;
    if ((rc = r->ops->get(r->impl, bs, k, 0, 0, src.etag, put_sink_fn, p)) < 0)
        goto out;
    struct store_attrs keep = {src.content_type, src.meta_json};
    rc = store_remote_commit(p, dst_bucket, dst_key, attrs ? attrs : &keep, NULL, out);
    p = NULL;
out:
    store_put_abort(p);
    store_obj_info_release(&src);
    free(k);
    return rc;
}

/* ---- retirement markers ---- */

/* Reads the marker of key: its time and the ETag it retired. -ERR_NO_SUCH_KEY if none. */
static int marker_read(struct store_remote *r, const char *b, const char *mk, int64_t *at_us,
                       char *etag, size_t cap)
{
    char body[MARKER_MAX + 1];
    struct mem_sink m = {body, 0, MARKER_MAX};
    int rc = r->ops->get(r->impl, b, mk, 0, 0, NULL, mem_sink_fn, &m);
    if (rc < 0)
        return rc;
    body[m.n] = '\0';
    long long t;
    char e[STORE_ETAG_MAX];
    if (sscanf(body, "%lld %47s", &t, e) != 2 || t <= 0)
        return -ERR_NO_SUCH_KEY; /* not ours: ignored */
    *at_us = t;
    snprintf(etag, cap, "%s", e);
    return 0;
}

static int marker_write(struct store *st, const char *b, const char *mk, int64_t at_us,
                        const char *etag)
{
    struct store_remote *r = st->remote;
    char body[MARKER_MAX];
    int n = snprintf(body, sizeof body, "%lld %s\n", (long long)at_us, etag);
    int fd = scratch_fd(st), rc;
    if (fd < 0)
        return fd;
    uint8_t sha[32];
    char tag[STORE_ETAG_MAX];
    crypto_sha256(body, (size_t)n, sha);
    struct store_attrs a = {"text/plain", NULL};
    rc = fd_sink_fn(&fd, body, (size_t)n);
    if (rc == 0)
        rc = r->ops->put(r->impl, b, mk, fd, (uint64_t)n, sha, &a, NULL, tag);
    close(fd);
    return rc;
}

int store_remote_retire(struct store *st, struct str bucket, struct str key, int64_t at_us)
{
    struct store_remote *r = st->remote;
    struct store_obj_info cur = {0};
    char *mk = NULL, etag[STORE_ETAG_MAX], b[STORE_BUCKET_MAX + 1];
    int64_t t;
    int rc;
    if (at_us <= 0)
        return -ERR_INVALID;
    if ((rc = bucket_check(bucket, b)) < 0 || (rc = store_remote_head(st, bucket, key, &cur)) < 0)
        return rc;
    if (!(mk = marker_key(key))) {
        rc = -ERR_NOMEM;
        goto out;
    }
    rc = marker_read(r, b, mk, &t, etag, sizeof etag);
    if (rc == 0 && strcmp(etag, cur.etag) == 0)
        goto out; /* retired already: the first time stays */
    if (rc < 0 && rc != -ERR_NO_SUCH_KEY)
        goto out;
    if ((rc = marker_write(st, b, mk, at_us, cur.etag)) == 0)
        gen_bump(st);
out:
    free(mk);
    store_obj_info_release(&cur);
    return rc;
}

int store_remote_delete_retired(struct store *st, struct str bucket, struct str key,
                                int64_t retired_us)
{
    struct store_remote *r = st->remote;
    struct store_obj_info cur = {0};
    char *mk = NULL, *k = NULL, etag[STORE_ETAG_MAX], b[STORE_BUCKET_MAX + 1];
    int64_t t;
    int rc;
    if (retired_us <= 0)
        return -ERR_INVALID;
    if ((rc = bucket_check(bucket, b)) < 0)
        return rc;
    if (!(mk = marker_key(key)) || !(k = key_dup(key))) {
        rc = -ERR_NOMEM;
        goto out;
    }
    if ((rc = marker_read(r, b, mk, &t, etag, sizeof etag)) < 0)
        goto out;
    if (t != retired_us) {
        rc = -ERR_NO_SUCH_KEY;
        goto out;
    }
    rc = r->ops->head(r->impl, b, k, &cur);
    if (rc == 0 && strcmp(cur.etag, etag) != 0)
        rc = -ERR_NO_SUCH_KEY; /* written again since: live */
    if (rc == -ERR_NO_SUCH_KEY) {
        r->ops->del(r->impl, b, mk); /* stale marker */
        goto out;
    }
    if (rc < 0)
        goto out;
    if ((rc = r->ops->del(r->impl, b, k)) == 0)
        rc = r->ops->del(r->impl, b, mk);
    rcache_drop(r, b, k);
    if (rc == 0)
        gen_bump(st);
out:
    free(mk);
    free(k);
    store_obj_info_release(&cur);
    return rc;
}

/* ---- listing ---- */

struct page {
    struct store_remote_obj *v;
    char **keys;
    char (*etags)[STORE_ETAG_MAX];
    size_t n, cap;
};

static void page_clear(struct page *pg)
{
    for (size_t i = 0; i < pg->n; i++)
        free(pg->keys[i]);
    pg->n = 0;
}

static void page_release(struct page *pg)
{
    page_clear(pg);
    free(pg->v);
    free(pg->keys);
    free(pg->etags);
    memset(pg, 0, sizeof *pg);
}

static int page_add(void *ctx, const struct store_remote_obj *o)
{
    struct page *pg = ctx;
    if (pg->n == pg->cap) {
        size_t cap = pg->cap ? pg->cap * 2 : 256;
        struct store_remote_obj *v = realloc(pg->v, cap * sizeof *v);
        if (v)
            pg->v = v;
        char **k = realloc(pg->keys, cap * sizeof *k);
        if (k)
            pg->keys = k;
        char(*e)[STORE_ETAG_MAX] = realloc(pg->etags, cap * sizeof *e);
        if (e)
            pg->etags = e;
        if (!v || !k || !e)
            return -ERR_NOMEM;
        pg->cap = cap;
    }
    if (!(pg->keys[pg->n] = strdup(o->key)))
        return -ERR_NOMEM;
    snprintf(pg->etags[pg->n], STORE_ETAG_MAX, "%s", o->etag ? o->etag : "");
    pg->v[pg->n] = *o;
    pg->v[pg->n].key = pg->keys[pg->n];
    pg->v[pg->n].etag = pg->etags[pg->n];
    pg->n++;
    return 0;
}

/* The retired objects under prefix: key -> (retired_us, etag), sorted by key. */
struct retired {
    char *key;
    int64_t at_us;
    char etag[STORE_ETAG_MAX];
};
struct retired_set {
    struct retired *v;
    size_t n, cap;
};

static void retired_release(struct retired_set *rs)
{
    for (size_t i = 0; i < rs->n; i++)
        free(rs->v[i].key);
    free(rs->v);
    memset(rs, 0, sizeof *rs);
}

static const size_t SYS_RETIRED_LEN = sizeof(STORE_REMOTE_SYS "retired/") - 1;

/* Markers by (key, the marker's own ETag): a listing reads each marker version once. */
static bool mcache_get(struct store_remote *r, const char *b, const char *mk, const char *metag,
                       struct retired *out)
{
    bool hit = false;
    pthread_mutex_lock(&r->mu);
    struct mslot *s = &r->mcache[slot_of(b, mk) % MCACHE_SLOTS];
    if (slot_is(s->bucket, s->key, b, mk) && strcmp(s->metag, metag) == 0) {
        out->at_us = s->at_us;
        memcpy(out->etag, s->etag, sizeof out->etag);
        hit = true;
    }
    pthread_mutex_unlock(&r->mu);
    return hit;
}

static void mcache_put(struct store_remote *r, const char *b, const char *mk, const char *metag,
                       const struct retired *e)
{
    char *k = strdup(mk);
    if (!k)
        return;
    pthread_mutex_lock(&r->mu);
    struct mslot *s = &r->mcache[slot_of(b, mk) % MCACHE_SLOTS];
    free(s->key);
    snprintf(s->bucket, sizeof s->bucket, "%s", b);
    s->key = k;
    snprintf(s->metag, sizeof s->metag, "%s", metag);
    s->at_us = e->at_us;
    memcpy(s->etag, e->etag, sizeof s->etag);
    pthread_mutex_unlock(&r->mu);
}

/* Every marker under prefix, read (in key order: the listing's order). */
static int retired_load(struct store *st, const char *b, struct str prefix, struct retired_set *rs)
{
    struct store_remote *r = st->remote;
    struct page pg = {0};
    struct buf mp = BUF_INIT;
    char *after = NULL;
    bool truncated = true;
    int rc = buf_adds(&mp, STORE_REMOTE_SYS "retired/");
    if (rc == 0)
        rc = buf_addstr(&mp, prefix);
    while (rc == 0 && truncated) {
        page_clear(&pg);
        if ((rc = r->ops->list(r->impl, b, buf_cstr(&mp), after, LIST_PAGE, page_add, &pg,
                               &truncated)) < 0)
            break;
        for (size_t i = 0; i < pg.n && rc == 0; i++) {
            struct retired e = {0};
            if (!mcache_get(r, b, pg.keys[i], pg.etags[i], &e)) {
                if (marker_read(r, b, pg.keys[i], &e.at_us, e.etag, sizeof e.etag) < 0)
                    continue;
                mcache_put(r, b, pg.keys[i], pg.etags[i], &e);
            }
            if (rs->n == rs->cap) {
                size_t cap = rs->cap ? rs->cap * 2 : 64;
                struct retired *v = realloc(rs->v, cap * sizeof *v);
                if (!v) {
                    rc = -ERR_NOMEM;
                    break;
                }
                rs->v = v;
                rs->cap = cap;
            }
            if (!(e.key = strdup(pg.keys[i] + SYS_RETIRED_LEN))) {
                rc = -ERR_NOMEM;
                break;
            }
            rs->v[rs->n++] = e;
        }
        free(after);
        after = pg.n ? strdup(pg.keys[pg.n - 1]) : NULL;
        if (truncated && !after)
            break;
    }
    free(after);
    page_release(&pg);
    buf_release(&mp);
    return rc;
}

static const struct retired *retired_find(const struct retired_set *rs, const char *key)
{
    size_t lo = 0, hi = rs->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(rs->v[mid].key, key);
        if (c == 0)
            return &rs->v[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

int store_remote_retired_list(struct store *st, struct str bucket,
                              int (*fn)(void *ctx, const char *key, size_t key_len,
                                        int64_t retired_us),
                              void *ctx)
{
    struct store_remote *r = st->remote;
    struct retired_set rs = {0};
    char b[STORE_BUCKET_MAX + 1];
    int rc;
    if ((rc = bucket_check(bucket, b)) < 0 || (rc = retired_load(st, b, STR_NULL, &rs)) < 0)
        goto out;
    for (size_t i = 0; i < rs.n; i++) {
        struct store_obj_info cur = {0};
        int h = r->ops->head(r->impl, b, rs.v[i].key, &cur);
        bool valid = h == 0 && strcmp(cur.etag, rs.v[i].etag) == 0;
        store_obj_info_release(&cur);
        if (h < 0 && h != -ERR_NO_SUCH_KEY) {
            rc = h;
            goto out;
        }
        if (!valid)
            continue;
        if ((rc = fn(ctx, rs.v[i].key, strlen(rs.v[i].key), rs.v[i].at_us)) < 0)
            goto out;
    }
    rc = 0;
out:
    retired_release(&rs);
    return rc;
}

static bool lt(struct str a, struct str b)
{
    return store_bytes_lt(a.ptr ? a.ptr : "", a.len, b.ptr ? b.ptr : "", b.len);
}

int store_remote_list(struct store *st, const struct store_list_req *req,
                      int (*fn)(void *ctx, const struct store_list_entry *e), void *ctx,
                      struct store_list_res *res)
{
    struct store_remote *r = st->remote;
    struct store_list_res out = {0};
    struct retired_set rs = {0};
    struct page pg = {0};
    struct buf last = BUF_INIT, cur = BUF_INIT, from = BUF_INIT, pfx = BUF_INIT, lastcp = BUF_INIT;
    unsigned max = req->max_keys > STORE_LIST_MAX ? STORE_LIST_MAX : req->max_keys;
    bool truncated = true, done = false;
    char b[STORE_BUCKET_MAX + 1];
    int rc;

    if ((rc = bucket_check(req->bucket, b)) < 0)
        goto out;
    if (max == 0 || req->prefix.len > STORE_KEY_MAX)
        goto finish;
    if ((rc = buf_addstr(&pfx, req->prefix)) < 0 || (rc = buf_addstr(&from, req->after)) < 0)
        goto out;
    if ((rc = retired_load(st, b, req->prefix, &rs)) < 0)
        goto out;
    while (!done && truncated) {
        page_clear(&pg);
        if ((rc = r->ops->list(r->impl, b, buf_cstr(&pfx), from.len ? buf_cstr(&from) : NULL,
                               LIST_PAGE, page_add, &pg, &truncated)) < 0)
            goto out;
        if (pg.n == 0)
            break;
        bool jumped = false;
        for (size_t i = 0; i < pg.n && !done && !jumped; i++) {
            struct str key = str_c(pg.keys[i]);
            struct store_list_entry e = {0};
            struct store_obj_info info = {0};
            bool have_info = false;
            buf_reset(&from);
            if ((rc = buf_addstr(&from, key)) < 0)
                goto out;
            if (is_sys(key) && !str_starts(req->prefix, STORE_REMOTE_SYS)) {
                /* past the store's own keys at once (one already past the jump point,
                 * written to the remote by hand, is just skipped) */
                if (lt(key, str_c(STORE_REMOTE_SYS JUMP))) {
                    buf_reset(&from);
                    if ((rc = buf_adds(&from, STORE_REMOTE_SYS JUMP)) < 0)
                        goto out;
                    jumped = true;
                }
                continue;
            }
            if (!lt(req->after, key))
                continue;
            const struct retired *ret = retired_find(&rs, pg.keys[i]);
            if (ret && strcmp(ret->etag, pg.etags[i]) != 0)
                ret = NULL; /* a stale marker: the key was written again */
            size_t cp_len = store_list_cp_len(req, key);
            buf_reset(&cur);
            if (cp_len) {
                if ((rc = buf_add(&cur, key.ptr, cp_len)) < 0)
                    goto out;
                struct str cp = buf_str(&cur);
                bool same = lastcp.len == cp.len && memcmp(lastcp.ptr, cp.ptr, cp.len) == 0;
                if (same || (req->skip_retired && ret))
                    continue; /* a group seen, or a retired key: look at the next key */
                /* jump past the group: the next page starts after CP + U+10FFFF */
                buf_reset(&from);
                if ((rc = buf_addstr(&from, cp)) < 0 || (rc = buf_adds(&from, JUMP)) < 0)
                    goto out;
                jumped = true;
                buf_reset(&lastcp);
                if ((rc = buf_addstr(&lastcp, cp)) < 0)
                    goto out;
                if (store_list_cp_done(req->after, cp))
                    continue;
                e.common_prefix = cur.ptr;
            } else {
                if (req->skip_retired && ret)
                    continue;
                if ((rc = buf_addstr(&cur, key)) < 0)
                    goto out;
                if (req->with_digest &&
                    !(have_info = rcache_get(r, b, pg.keys[i], pg.etags[i], &info))) {
                    rc = r->ops->head(r->impl, b, pg.keys[i], &info);
                    if (rc == -ERR_NO_SUCH_KEY)
                        continue; /* deleted since the page was read */
                    if (rc < 0)
                        goto out;
                    have_info = true;
                    rcache_put(r, b, pg.keys[i], &info);
                }
                if (!have_info) {
                    info.content_type = (char *)"";
                    info.meta_json = (char *)"{}";
                }
                info.size = pg.v[i].size;
                info.mtime_us = pg.v[i].mtime_us;
                snprintf(info.etag, sizeof info.etag, "%s", pg.etags[i]);
                info.retired_us = ret ? ret->at_us : 0;
                e.key = cur.ptr;
                e.info = &info;
            }
            if (out.count == max) {
                out.truncated = true;
                done = true;
                if (have_info)
                    store_obj_info_release(&info);
                break;
            }
            int stop = fn(ctx, &e);
            if (have_info)
                store_obj_info_release(&info);
            if (stop < 0) {
                rc = stop;
                goto out;
            }
            out.count++;
            buf_reset(&last);
            if ((rc = buf_addstr(&last, buf_str(&cur))) < 0)
                goto out;
            if (stop > 0) {
                out.truncated = true;
                done = true;
            }
        }
        if (jumped)
            truncated = true; /* list again from the jump point */
    }
finish:
    if (out.truncated && !(out.next_after = buf_take(&last))) {
        rc = -ERR_NOMEM;
        goto out;
    }
    *res = out;
    rc = 0;
out:
    retired_release(&rs);
    page_release(&pg);
    buf_release(&last);
    buf_release(&cur);
    buf_release(&from);
    buf_release(&pfx);
    buf_release(&lastcp);
    return rc;
}

/* ---- multipart uploads: passed through to the remote ---- */

struct older {
    struct store_remote *r;
    const char *bucket;
    int64_t before_us;
    unsigned n;
    int rc;
};

static int abort_older_visit(void *ctx, const char *key, const char *upload_id,
                             int64_t initiated_us)
{
    struct older *o = ctx;
    if (initiated_us <= 0 || initiated_us >= o->before_us)
        return 0;
    int rc = o->r->ops->abort(o->r->impl, o->bucket, key, upload_id);
    if (rc == 0 || rc == -ERR_NO_SUCH_UPLOAD || rc == -ERR_NO_SUCH_KEY)
        o->n += rc == 0;
    else if (o->rc == 0)
        o->rc = rc;
    return 0;
}

struct names {
    char (*v)[STORE_BUCKET_MAX + 1];
    size_t n, cap;
};

static int names_add(void *ctx, const char *name, int64_t created_us)
{
    struct names *ns = ctx;
    (void)created_us;
    if (strlen(name) > STORE_BUCKET_MAX)
        return 0;
    if (ns->n == ns->cap) {
        size_t cap = ns->cap ? ns->cap * 2 : 16;
        void *v = realloc(ns->v, cap * sizeof *ns->v);
        if (!v)
            return -ERR_NOMEM;
        ns->v = v;
        ns->cap = cap;
    }
    snprintf(ns->v[ns->n++], sizeof *ns->v, "%s", name);
    return 0;
}

/* In every bucket, as the local store does -- or in the home bucket alone when the
 * remote will not list its buckets to these credentials (a token scoped to one bucket). */
int store_remote_abort_older(struct store *st, int64_t before_us, unsigned *aborted)
{
    struct store_remote *r = st->remote;
    struct names ns = {0};
    unsigned n = 0;
    int rc = r->ops->buckets(r->impl, names_add, &ns);
    if (rc < 0 && rc != -ERR_NOMEM) {
        ns.n = 0;
        rc = names_add(&ns, r->bucket, 0);
    }
    for (size_t i = 0; rc == 0 && i < ns.n; i++) {
        struct older o = {r, ns.v[i], before_us, 0, 0};
        rc = r->ops->uploads(r->impl, ns.v[i], abort_older_visit, &o);
        if (rc == -ERR_NO_SUCH_BUCKET)
            rc = 0; /* deleted meanwhile */
        if (rc == 0)
            rc = o.rc;
        n += o.n;
    }
    free(ns.v);
    if (rc == 0)
        *aborted = n;
    return rc;
}

struct mpu_filter {
    struct str prefix, key_marker, id_marker;
    unsigned max, n;
    bool more;
    int (*fn)(void *ctx, const struct store_mpu *u);
    void *ctx;
    int rc;
};

static int mpu_filter_visit(void *ctx, const char *key, const char *upload_id, int64_t initiated_us)
{
    struct mpu_filter *f = ctx;
    struct str k = str_c(key);
    if (f->prefix.len &&
        !(k.len >= f->prefix.len && memcmp(k.ptr, f->prefix.ptr, f->prefix.len) == 0))
        return 0;
    if (is_sys(k))
        return 0;
    if (f->key_marker.len) {
        /* after (key_marker, upload_id_marker), as S3 */
        if (lt(k, f->key_marker))
            return 0;
        if (str_eq(k, f->key_marker) && (!f->id_marker.len || !lt(f->id_marker, str_c(upload_id))))
            return 0;
    }
    if (f->n == f->max) {
        f->more = true;
        return 0;
    }
    struct store_mpu u = {key, upload_id, initiated_us};
    int rc = f->fn(f->ctx, &u);
    if (rc < 0) {
        f->rc = rc;
        return rc;
    }
    f->n++;
    return 0;
}

int store_remote_mpu_list(struct store *st, struct str bucket, struct str prefix,
                          struct str key_marker, struct str upload_id_marker, unsigned max,
                          int (*fn)(void *ctx, const struct store_mpu *u), void *ctx,
                          bool *truncated)
{
    char b[STORE_BUCKET_MAX + 1];
    int rc = bucket_check(bucket, b);
    if (rc < 0)
        return rc;
    struct mpu_filter f = {prefix, key_marker, upload_id_marker, max, 0, false, fn, ctx, 0};
    rc = st->remote->ops->uploads(st->remote->impl, b, mpu_filter_visit, &f);
    if (f.rc < 0)
        return f.rc;
    if (rc < 0)
        return rc;
    if (truncated)
        *truncated = f.more;
    return 0;
}

/* The key and upload id as C strings (both checked). */
static int mpu_args(struct str bucket, struct str key, struct str upload_id, char b[], char **k,
                    char **id)
{
    int rc;
    *k = *id = NULL;
    if ((rc = bucket_check(bucket, b)) < 0)
        return rc;
    if (upload_id.len == 0 || upload_id.len >= STORE_UPLOAD_ID_MAX ||
        memchr(upload_id.ptr, '\0', upload_id.len))
        return -ERR_NO_SUCH_UPLOAD;
    if ((rc = store_key_check(key)) < 0)
        return rc;
    if (is_sys(key))
        return -ERR_ACCESS_DENIED;
    if (!(*k = key_dup(key)) || !(*id = str_dup(upload_id))) {
        free(*k);
        *k = NULL;
        return -ERR_NOMEM;
    }
    return 0;
}

int store_remote_mpu_abort(struct store *st, struct str bucket, struct str key,
                           struct str upload_id)
{
    char b[STORE_BUCKET_MAX + 1], *k, *id;
    int rc = mpu_args(bucket, key, upload_id, b, &k, &id);
    if (rc == 0)
        rc = st->remote->ops->abort(st->remote->impl, b, k, id);
    free(k);
    free(id);
    return rc;
}

int store_remote_mpu_create(struct store *st, struct str bucket, struct str key,
                            const struct store_attrs *attrs, char upload_id[STORE_UPLOAD_ID_MAX])
{
    char b[STORE_BUCKET_MAX + 1], *k = NULL;
    int rc;
    if ((rc = bucket_check(bucket, b)) < 0 || (rc = store_key_check(key)) < 0)
        return rc;
    if (is_sys(key))
        return -ERR_ACCESS_DENIED;
    if (!(k = key_dup(key)))
        return -ERR_NOMEM;
    rc = st->remote->ops->mpu_create(st->remote->impl, b, k, attrs, upload_id);
    free(k);
    return rc;
}

int store_remote_part_commit(struct store_put *p, struct str bucket, struct str key,
                             struct str upload_id, unsigned part, char etag_out[STORE_ETAG_MAX])
{
    struct store_remote *r = p->st->remote;
    char b[STORE_BUCKET_MAX + 1], *k, *id;
    int rc = mpu_args(bucket, key, upload_id, b, &k, &id);
    if (rc == 0 && (part < STORE_PART_MIN || part > STORE_PART_MAX))
        rc = -ERR_INVALID_PART_NUMBER;
    if (rc == 0)
        rc = store_put_finish(p);
    if (rc == 0)
        rc = r->ops->mpu_part(r->impl, b, k, id, part, p->fd, p->size, p->sha256, etag_out);
    store_put_free(p);
    free(k);
    free(id);
    return rc;
}

/* The remote checks the parts (order, ETags, sizes) and answers for a repeated
 * Complete. The object has no SHA-256 (x-amz-meta-tollgate-sha256 was set before its
 * bytes were known): its info reads zeros there (docs/scaling.md). */
int store_remote_mpu_complete(struct store *st, struct str bucket, struct str key,
                              struct str upload_id, const struct store_mpu_part *parts,
                              size_t nparts, struct store_obj_info *out)
{
    struct store_remote *r = st->remote;
    char b[STORE_BUCKET_MAX + 1], *k, *id, *mk = NULL, etag[STORE_ETAG_MAX];
    struct store_obj_info info = {0};
    int rc = mpu_args(bucket, key, upload_id, b, &k, &id);
    if (rc == 0 && (nparts == 0 || nparts > STORE_PART_MAX))
        rc = nparts ? -ERR_INVALID_PART : -ERR_MALFORMED_XML;
    if (rc == 0 && !(mk = marker_key(key)))
        rc = -ERR_NOMEM;
    if (rc == 0)
        rc = r->ops->mpu_complete(r->impl, b, k, id, parts, nparts, etag);
    if (rc < 0)
        goto out;
    /* A new write makes a retired key live again: its marker goes. */
    if (r->ops->del(r->impl, b, mk) < 0)
        tg_log_warn("store: the retirement marker of a rewritten key could not be removed; "
                    "the next lifecycle pass sees it is stale");
    rcache_drop(r, b, k);
    gen_bump(st);
    rc = r->ops->head(r->impl, b, k, &info);
    if (rc == 0 && strcmp(info.etag, etag) != 0 && etag[0])
        snprintf(info.etag, sizeof info.etag, "%s", etag); /* written again since */
    if (rc == 0 && out) {
        *out = info;
        memset(&info, 0, sizeof info);
    }
out:
    store_obj_info_release(&info);
    free(k);
    free(id);
    free(mk);
    return rc;
}

int store_remote_mpu_list_parts(struct store *st, struct str bucket, struct str key,
                                struct str upload_id, unsigned marker, unsigned max,
                                int (*fn)(void *ctx, const struct store_mpu_part *p), void *ctx,
                                bool *truncated)
{
    char b[STORE_BUCKET_MAX + 1], *k, *id;
    int rc = mpu_args(bucket, key, upload_id, b, &k, &id);
    if (rc == 0)
        rc =
            st->remote->ops->mpu_parts(st->remote->impl, b, k, id, marker, max, fn, ctx, truncated);
    free(k);
    free(id);
    return rc;
}
