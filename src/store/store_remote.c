/* store_remote.c -- the remote backend: the store's interface over the buckets of a
 * remote S3-compatible store, through the operations table the caller gives
 * (store.h "the remote backend"). Nothing here knows HTTP or S3's wire format. This
 * file: the shared helpers and caches, open/close, buckets, reads, writes, the store
 * generation and retirement markers (listings: store_remote_list.c; multipart:
 * store_remote_mpu.c).
 *
 * State shared by every node lives in the remote buckets: object headers (content
 * type, stored headers, x-amz-meta-tollgate-sha256) and retirement markers under
 * STORE_REMOTE_SYS "retired/" in the object's bucket. A node keeps only caches, each
 * tagged with the ETag it was read for, so a cache entry can never describe another
 * version of an object.
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

#include "store/store_remote_int.h"

/* ---- small helpers ---- */

/* A bucket of the store is the remote bucket of the same name: b gets the name. */
int srem_bucket_check(struct str bucket, char b[STORE_BUCKET_MAX + 1])
{
    if (store_bucket_name_check(bucket) < 0)
        return -ERR_NO_SUCH_BUCKET;
    memcpy(b, bucket.ptr, bucket.len);
    b[bucket.len] = '\0';
    return 0;
}

bool srem_is_sys(struct str key)
{
    return str_starts(key, STORE_REMOTE_SYS);
}

char *srem_key_dup(struct str key)
{
    return str_dup(key);
}

char *srem_marker_key(struct str key)
{
    struct buf b = BUF_INIT;
    if (buf_adds(&b, STORE_REMOTE_SYS "retired/") < 0 || buf_addstr(&b, key) < 0) {
        buf_release(&b);
        return NULL;
    }
    return buf_take(&b);
}

size_t srem_slot_of(const char *b, const char *key)
{
    return (size_t)((fnv1a64(key, strlen(key)) ^ fnv1a64(b, strlen(b))) % RCACHE_SLOTS);
}

bool srem_slot_is(const char *sb, const char *skey, const char *b, const char *key)
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
bool srem_rcache_get(struct store_remote *r, const char *b, const char *key, const char *etag,
                     struct store_obj_info *out)
{
    bool hit = false;
    pthread_mutex_lock(&r->mu);
    struct rslot *s = &r->cache[srem_slot_of(b, key)];
    if (srem_slot_is(s->bucket, s->key, b, key) && strcmp(s->etag, etag) == 0)
        hit = info_copy(&s->info, out) == 0;
    pthread_mutex_unlock(&r->mu);
    return hit;
}

void srem_rcache_put(struct store_remote *r, const char *b, const char *key,
                     const struct store_obj_info *info)
{
    struct store_obj_info copy;
    char *k = strdup(key);
    if (!k || info_copy(info, &copy) < 0) {
        free(k);
        return;
    }
    pthread_mutex_lock(&r->mu);
    struct rslot *s = &r->cache[srem_slot_of(b, key)];
    free(s->key);
    store_obj_info_release(&s->info);
    snprintf(s->bucket, sizeof s->bucket, "%s", b);
    s->key = k;
    snprintf(s->etag, sizeof s->etag, "%s", info->etag);
    s->info = copy;
    pthread_mutex_unlock(&r->mu);
}

void srem_rcache_drop(struct store_remote *r, const char *b, const char *key)
{
    pthread_mutex_lock(&r->mu);
    struct rslot *s = &r->cache[srem_slot_of(b, key)];
    if (srem_slot_is(s->bucket, s->key, b, key)) {
        free(s->key);
        s->key = NULL;
        store_obj_info_release(&s->info);
    }
    pthread_mutex_unlock(&r->mu);
}

bool srem_lt(struct str a, struct str b)
{
    return store_bytes_lt(a.ptr ? a.ptr : "", a.len, b.ptr ? b.ptr : "", b.len);
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
    srem_bucket_check(bucket, b);
    return st->remote->ops->bucket_create(st->remote->impl, b);
}

int store_remote_bucket_exists(struct store *st, struct str bucket)
{
    char b[STORE_BUCKET_MAX + 1];
    int rc = srem_bucket_check(bucket, b);
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
    if ((rc = srem_bucket_check(bucket, b)) < 0 || (rc = r->ops->bucket_head(r->impl, b)) < 0)
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
    if ((rc = srem_bucket_check(bucket, b)) < 0)
        return rc;
    if (srem_is_sys(key))
        return -ERR_NO_SUCH_KEY;
    char *k = srem_key_dup(key);
    if (!k)
        return -ERR_NOMEM;
    struct store_obj_info info = {0};
    rc = r->ops->head(r->impl, b, k, &info);
    if (rc == 0) {
        srem_rcache_put(r, b, k, &info);
        *out = info;
    } else if (rc == -ERR_NO_SUCH_KEY && strcmp(b, r->bucket) != 0 &&
               r->ops->bucket_head(r->impl, b) == -ERR_NO_SUCH_BUCKET) {
        /* a HEAD's 404 has no body to tell; the home bucket (the publisher's, whose misses
         * are frequent) is known to exist */
        rc = -ERR_NO_SUCH_BUCKET;
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
    if ((rc = srem_bucket_check(bucket, b)) < 0 ||
        (rc = store_remote_head(st, bucket, key, &info)) < 0)
        return rc;
    if (!(k = srem_key_dup(key))) {
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
    if ((rc = srem_bucket_check(bucket, b)) < 0)
        return rc;
    if (n == 0)
        return 0;
    char *k = srem_key_dup(key);
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
void srem_gen_bump(struct store *st)
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

    if ((rc = store_key_check(key)) < 0 || (rc = srem_bucket_check(bucket, b)) < 0)
        goto out;
    if (srem_is_sys(key)) {
        rc = -ERR_ACCESS_DENIED; /* the store's own keys */
        goto out;
    }
    if (!(k = srem_key_dup(key)) || !(mk = srem_marker_key(key))) {
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
    srem_rcache_put(r, b, k, &info);
    srem_gen_bump(st);
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
    if ((rc = srem_bucket_check(bucket, b)) < 0)
        return rc;
    if (srem_is_sys(key))
        return 0;
    char *k = srem_key_dup(key), *mk = srem_marker_key(key);
    if (!k || !mk)
        rc = -ERR_NOMEM;
    else if ((rc = r->ops->del(r->impl, b, k)) == 0)
        rc = r->ops->del(r->impl, b, mk);
    if (k)
        srem_rcache_drop(r, b, k);
    if (rc == 0)
        srem_gen_bump(st);
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
    if ((rc = srem_bucket_check(dst_bucket, bd)) < 0 ||
        (rc = srem_bucket_check(src_bucket, bs)) < 0 ||
        (rc = store_remote_head(st, src_bucket, src_key, &src)) < 0)
        goto out;
    if (!(k = srem_key_dup(src_key))) {
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
int srem_marker_read(struct store_remote *r, const char *b, const char *mk, int64_t *at_us,
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
    if ((rc = srem_bucket_check(bucket, b)) < 0 ||
        (rc = store_remote_head(st, bucket, key, &cur)) < 0)
        return rc;
    if (!(mk = srem_marker_key(key))) {
        rc = -ERR_NOMEM;
        goto out;
    }
    rc = srem_marker_read(r, b, mk, &t, etag, sizeof etag);
    if (rc == 0 && strcmp(etag, cur.etag) == 0)
        goto out; /* retired already: the first time stays */
    if (rc < 0 && rc != -ERR_NO_SUCH_KEY)
        goto out;
    if ((rc = marker_write(st, b, mk, at_us, cur.etag)) == 0)
        srem_gen_bump(st);
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
    if ((rc = srem_bucket_check(bucket, b)) < 0)
        return rc;
    if (!(mk = srem_marker_key(key)) || !(k = srem_key_dup(key))) {
        rc = -ERR_NOMEM;
        goto out;
    }
    if ((rc = srem_marker_read(r, b, mk, &t, etag, sizeof etag)) < 0)
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
    srem_rcache_drop(r, b, k);
    if (rc == 0)
        srem_gen_bump(st);
out:
    free(mk);
    free(k);
    store_obj_info_release(&cur);
    return rc;
}
