/* test_store_remote.c -- the remote backend (store_remote.c) over an in-memory remote
 * that behaves like an S3 bucket (keys in byte order, ListObjectsV2 pages of at most
 * PAGE keys after a start-after, If-Match on GET, ETag = MD5 of the body), compared
 * with the local store on the same writes:
 *   - every listing (prefix x delimiter x after x max_keys, skip_retired or not) returns
 *     the same entries, truncation and next_after as the local store -- the store's own
 *     keys (.tollgate/...) never show, groups are jumped, pages are followed;
 *   - paging with next_after reassembles the whole listing;
 *   - retirement: hidden from skip_retired listings, kept for GET, first time kept,
 *     a rewrite makes the key live again, delete_retired only with the right time;
 *   - the generation changes after every write and is unreadable while the remote fails
 *     (then every call is -ERR_REMOTE);
 *   - pread with a stale ETag is -ERR_PRECONDITION; writes to .tollgate/ are refused.
 * The real remote (another tollgate, s3rver) is exercised by t701, t710 and t720. */
#include "store/store_int.h"
#include "test_store_helpers.h"
#include "crypto/crypto.h"

#define PAGE 3 /* a tiny page: every listing crosses pages */
#define MEM_MAX 2048

#define MEM_BUCKETS 8
#define MEM_UPLOADS 8
#define MEM_PARTS 4

struct mobj {
    char *key;   /* "bucket/key" */
    bool no_sha; /* completed from parts: no x-amz-meta-tollgate-sha256 */
    char *body;
    size_t len;
    char etag[STORE_ETAG_MAX];
    char *ctype;
    int64_t mtime_us;
};
struct mupload {
    bool used;
    char bucket[STORE_BUCKET_MAX + 1], id[256];
    char *key;
    int64_t initiated_us;
    char *part[MEM_PARTS];
    size_t len[MEM_PARTS];
};
struct mem {
    struct mobj v[MEM_MAX];
    size_t n;
    char buckets[MEM_BUCKETS][STORE_BUCKET_MAX + 1];
    size_t nb;
    struct mupload up[MEM_UPLOADS];
    size_t next_id;
    bool deny_buckets;  /* ListBuckets refused (a token scoped to one bucket) */
    unsigned mpu_calls; /* parts and aborts that reached the remote */
    bool down;
    unsigned lists, heads, gets;
};

static int mem_find(struct mem *m, const char *key, size_t *at)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(m->v[mid].key, key);
        if (c == 0) {
            *at = mid;
            return 0;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *at = lo;
    return -1;
}

/* The remote's buckets; an object is stored under "bucket/key" (a bucket name has no
 * '/'), so one sorted array serves every bucket. */
static bool mem_has_bucket(struct mem *m, const char *bucket)
{
    for (size_t i = 0; i < m->nb; i++)
        if (strcmp(m->buckets[i], bucket) == 0)
            return true;
    return false;
}

static char *mkey(const char *bucket, const char *key)
{
    static __thread char buf[STORE_KEY_MAX + STORE_BUCKET_MAX + 2];
    snprintf(buf, sizeof buf, "%s/%s", bucket, key);
    return buf;
}

static int m_head(void *impl, const char *bucket, const char *key, struct store_obj_info *out)
{
    struct mem *m = impl;
    size_t i;
    m->heads++;
    if (m->down)
        return -ERR_REMOTE;
    if (mem_find(m, mkey(bucket, key), &i) < 0)
        return -ERR_NO_SUCH_KEY; /* a HEAD cannot tell a missing bucket */
    memset(out, 0, sizeof *out);
    out->size = m->v[i].len;
    out->mtime_us = m->v[i].mtime_us;
    snprintf(out->etag, sizeof out->etag, "%s", m->v[i].etag);
    if (!m->v[i].no_sha)
        crypto_sha256(m->v[i].body, m->v[i].len, out->sha256);
    out->content_type = strdup(m->v[i].ctype);
    out->meta_json = strdup("{}");
    return 0;
}

static int m_get(void *impl, const char *bucket, const char *key, uint64_t off, uint64_t len,
                 const char *if_match, int (*sink)(void *ctx, const void *p, size_t n), void *ctx)
{
    struct mem *m = impl;
    size_t i;
    m->gets++;
    if (m->down)
        return -ERR_REMOTE;
    if (!mem_has_bucket(m, bucket))
        return -ERR_NO_SUCH_BUCKET;
    if (mem_find(m, mkey(bucket, key), &i) < 0)
        return -ERR_NO_SUCH_KEY;
    if (if_match && strcmp(if_match, m->v[i].etag) != 0)
        return -ERR_PRECONDITION;
    if (off > m->v[i].len)
        return -ERR_RANGE;
    uint64_t n = len ? len : m->v[i].len - off;
    if (off + n > m->v[i].len)
        n = m->v[i].len - off;
    return n ? sink(ctx, m->v[i].body + off, (size_t)n) : 0;
}

/* Stores body (taken) at bucket/key; the ETag given, or the body's MD5. */
static void mem_store(struct mem *m, const char *bucket, const char *key, char *body, size_t size,
                      const char *ctype, const char *etag, bool no_sha)
{
    size_t i;
    if (mem_find(m, mkey(bucket, key), &i) < 0) {
        assert_true(m->n < MEM_MAX);
        memmove(&m->v[i + 1], &m->v[i], (m->n - i) * sizeof m->v[0]);
        m->n++;
        memset(&m->v[i], 0, sizeof m->v[i]);
        m->v[i].key = strdup(mkey(bucket, key));
    } else {
        free(m->v[i].body);
        free(m->v[i].ctype);
    }
    m->v[i].body = body;
    m->v[i].len = size;
    m->v[i].ctype = strdup(ctype);
    m->v[i].mtime_us = tg_now_us();
    m->v[i].no_sha = no_sha;
    if (etag) {
        snprintf(m->v[i].etag, sizeof m->v[i].etag, "%s", etag);
    } else {
        uint8_t md5[16];
        crypto_md5(body, size, md5);
        hex_encode(md5, 16, m->v[i].etag);
    }
}

static int m_put(void *impl, const char *bucket, const char *key, int fd, uint64_t size,
                 const uint8_t sha256[32], const struct store_attrs *attrs,
                 const struct store_write_cond *cond, char etag_out[STORE_ETAG_MAX])
{
    struct mem *m = impl;
    size_t i;
    if (m->down)
        return -ERR_REMOTE;
    if (!mem_has_bucket(m, bucket))
        return -ERR_NO_SUCH_BUCKET;
    bool exists = mem_find(m, mkey(bucket, key), &i) == 0;
    if (cond && ((cond->if_none_match_any && exists) ||
                 (cond->if_match && (!exists || (strcmp(cond->if_match, "*") != 0 &&
                                                 strcmp(cond->if_match, m->v[i].etag) != 0)))))
        return -ERR_PRECONDITION;
    char *body = malloc(size + 1);
    assert_non_null(body);
    assert_int_equal(pread(fd, body, size, 0), (ssize_t)size);
    uint8_t sha[32];
    crypto_sha256(body, size, sha);
    assert_memory_equal(sha, sha256, 32); /* the store hashed what it uploads */
    mem_store(m, bucket, key, body, size,
              attrs && attrs->content_type ? attrs->content_type : "x/y", NULL, false);
    assert_int_equal(mem_find(m, mkey(bucket, key), &i), 0);
    snprintf(etag_out, STORE_ETAG_MAX, "%s", m->v[i].etag);
    return 0;
}

static int m_del(void *impl, const char *bucket, const char *key)
{
    struct mem *m = impl;
    size_t i;
    if (m->down)
        return -ERR_REMOTE;
    if (!mem_has_bucket(m, bucket))
        return -ERR_NO_SUCH_BUCKET;
    if (mem_find(m, mkey(bucket, key), &i) < 0)
        return 0;
    free(m->v[i].key);
    free(m->v[i].body);
    free(m->v[i].ctype);
    memmove(&m->v[i], &m->v[i + 1], (m->n - i - 1) * sizeof m->v[0]);
    m->n--;
    return 0;
}

static int m_list(void *impl, const char *bucket, const char *prefix, const char *after,
                  unsigned max, int (*fn)(void *ctx, const struct store_remote_obj *o), void *ctx,
                  bool *truncated)
{
    struct mem *m = impl;
    m->lists++;
    if (m->down)
        return -ERR_REMOTE;
    if (!mem_has_bucket(m, bucket))
        return -ERR_NO_SUCH_BUCKET;
    unsigned got = 0;
    size_t bl = strlen(bucket) + 1;
    *truncated = false;
    if (max > PAGE)
        max = PAGE;
    for (size_t i = 0; i < m->n; i++) {
        const char *k = m->v[i].key;
        if (strncmp(k, bucket, bl - 1) != 0 || k[bl - 1] != '/')
            continue;
        k += bl;
        if (prefix && strncmp(k, prefix, strlen(prefix)) != 0)
            continue;
        if (after && strcmp(k, after) <= 0)
            continue;
        if (got == max) {
            *truncated = true;
            break;
        }
        struct store_remote_obj o = {k, m->v[i].len, m->v[i].mtime_us, m->v[i].etag};
        int rc = fn(ctx, &o);
        if (rc < 0)
            return rc;
        got++;
    }
    return 0;
}

static int m_bucket_create(void *impl, const char *bucket)
{
    struct mem *m = impl;
    if (m->down)
        return -ERR_REMOTE;
    if (mem_has_bucket(m, bucket))
        return -ERR_EXISTS;
    assert_true(m->nb < MEM_BUCKETS);
    snprintf(m->buckets[m->nb++], sizeof m->buckets[0], "%s", bucket);
    return 0;
}

static int m_bucket_head(void *impl, const char *bucket)
{
    struct mem *m = impl;
    return m->down ? -ERR_REMOTE : mem_has_bucket(m, bucket) ? 0 : -ERR_NO_SUCH_BUCKET;
}

static int m_bucket_delete(void *impl, const char *bucket)
{
    struct mem *m = impl;
    if (m->down)
        return -ERR_REMOTE;
    for (size_t i = 0; i < m->n; i++)
        if (strncmp(m->v[i].key, bucket, strlen(bucket)) == 0 && m->v[i].key[strlen(bucket)] == '/')
            return -ERR_BUCKET_NOT_EMPTY; /* the remote sees every key, .tollgate/ too */
    for (size_t i = 0; i < m->nb; i++)
        if (strcmp(m->buckets[i], bucket) == 0) {
            memmove(m->buckets[i], m->buckets[i + 1], (m->nb - i - 1) * sizeof m->buckets[0]);
            m->nb--;
            return 0;
        }
    return -ERR_NO_SUCH_BUCKET;
}

static int m_buckets(void *impl, int (*fn)(void *ctx, const char *name, int64_t created_us),
                     void *ctx)
{
    struct mem *m = impl;
    if (m->down || m->deny_buckets)
        return -ERR_REMOTE;
    for (size_t i = 0; i < m->nb; i++) {
        int rc = fn(ctx, m->buckets[i], 1);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Multipart: uploads in a small table, each part a body; the ETag of the whole is the
 * MD5 of the concatenation with "-N", enough to tell versions apart. */
static struct mupload *mu_find(struct mem *m, const char *bucket, const char *key,
                               const char *upload_id)
{
    for (size_t i = 0; i < MEM_UPLOADS; i++) {
        struct mupload *u = &m->up[i];
        if (u->used && strcmp(u->bucket, bucket) == 0 && strcmp(u->key, key) == 0 &&
            strcmp(u->id, upload_id) == 0)
            return u;
    }
    return NULL;
}

static void mu_free(struct mupload *u)
{
    for (unsigned i = 0; i < MEM_PARTS; i++)
        free(u->part[i]);
    free(u->key);
    memset(u, 0, sizeof *u);
}

static int m_uploads(void *impl, const char *bucket,
                     int (*fn)(void *ctx, const char *key, const char *upload_id, int64_t t),
                     void *ctx)
{
    struct mem *m = impl;
    if (m->down)
        return -ERR_REMOTE;
    if (!mem_has_bucket(m, bucket))
        return -ERR_NO_SUCH_BUCKET;
    for (size_t i = 0; i < MEM_UPLOADS; i++)
        if (m->up[i].used && strcmp(m->up[i].bucket, bucket) == 0) {
            int rc = fn(ctx, m->up[i].key, m->up[i].id, m->up[i].initiated_us);
            if (rc < 0)
                return rc;
        }
    return 0;
}

static int m_abort(void *impl, const char *bucket, const char *key, const char *upload_id)
{
    struct mem *m = impl;
    struct mupload *u = m->down ? NULL : mu_find(m, bucket, key, upload_id);
    m->mpu_calls++;
    if (m->down)
        return -ERR_REMOTE;
    if (!u)
        return -ERR_NO_SUCH_UPLOAD;
    mu_free(u);
    return 0;
}

static int m_mpu_create(void *impl, const char *bucket, const char *key,
                        const struct store_attrs *attrs, char upload_id[STORE_UPLOAD_ID_MAX])
{
    struct mem *m = impl;
    (void)attrs;
    if (m->down)
        return -ERR_REMOTE;
    if (!mem_has_bucket(m, bucket))
        return -ERR_NO_SUCH_BUCKET;
    for (size_t i = 0; i < MEM_UPLOADS; i++) {
        struct mupload *u = &m->up[i];
        if (u->used)
            continue;
        u->used = true;
        u->key = strdup(key);
        u->initiated_us = tg_now_us();
        snprintf(u->bucket, sizeof u->bucket, "%s", bucket);
        /* long, as R2's and AWS's are */
        snprintf(u->id, sizeof u->id, "%0200zu", ++m->next_id);
        snprintf(upload_id, STORE_UPLOAD_ID_MAX, "%s", u->id);
        return 0;
    }
    fail();
    return -ERR_INTERNAL;
}

static int m_mpu_part(void *impl, const char *bucket, const char *key, const char *upload_id,
                      unsigned part, int fd, uint64_t size, const uint8_t sha256[32],
                      char etag_out[STORE_ETAG_MAX])
{
    struct mem *m = impl;
    struct mupload *u = mu_find(m, bucket, key, upload_id);
    (void)sha256;
    m->mpu_calls++;
    if (!u)
        return -ERR_NO_SUCH_UPLOAD;
    assert_true(part >= 1 && part <= MEM_PARTS);
    free(u->part[part - 1]);
    u->part[part - 1] = malloc(size + 1);
    assert_non_null(u->part[part - 1]);
    assert_int_equal(pread(fd, u->part[part - 1], size, 0), (ssize_t)size);
    u->len[part - 1] = size;
    uint8_t md5[16];
    crypto_md5(u->part[part - 1], size, md5);
    hex_encode(md5, 16, etag_out);
    return 0;
}

static int m_mpu_complete(void *impl, const char *bucket, const char *key, const char *upload_id,
                          const struct store_mpu_part *parts, size_t n,
                          char etag_out[STORE_ETAG_MAX])
{
    struct mem *m = impl;
    struct mupload *u = mu_find(m, bucket, key, upload_id);
    if (!u)
        return -ERR_NO_SUCH_UPLOAD;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned k = parts[i].part;
        if (k < 1 || k > MEM_PARTS || !u->part[k - 1] || (i && parts[i - 1].part >= k))
            return -ERR_INVALID_PART;
        total += u->len[k - 1];
    }
    char *body = malloc(total + 1);
    assert_non_null(body);
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(body + at, u->part[parts[i].part - 1], u->len[parts[i].part - 1]);
        at += u->len[parts[i].part - 1];
    }
    uint8_t md5[16];
    char etag[STORE_ETAG_MAX];
    crypto_md5(body, total, md5);
    hex_encode(md5, 16, etag);
    snprintf(etag + 32, sizeof etag - 32, "-%zu", n);
    mem_store(m, bucket, key, body, total, "x/y", etag, true);
    snprintf(etag_out, STORE_ETAG_MAX, "%s", etag);
    mu_free(u);
    return 0;
}

static int m_mpu_parts(void *impl, const char *bucket, const char *key, const char *upload_id,
                       unsigned marker, unsigned max,
                       int (*fn)(void *ctx, const struct store_mpu_part *p), void *ctx,
                       bool *truncated)
{
    struct mem *m = impl;
    struct mupload *u = mu_find(m, bucket, key, upload_id);
    unsigned got = 0;
    if (!u)
        return -ERR_NO_SUCH_UPLOAD;
    *truncated = false;
    for (unsigned k = marker + 1; k <= MEM_PARTS; k++) {
        if (!u->part[k - 1])
            continue;
        if (got == max) {
            *truncated = true;
            break;
        }
        struct store_mpu_part sp = {.part = k, .size = u->len[k - 1]};
        uint8_t md5[16];
        crypto_md5(u->part[k - 1], u->len[k - 1], md5);
        hex_encode(md5, 16, sp.etag);
        int rc = fn(ctx, &sp);
        if (rc < 0)
            return rc;
        got++;
    }
    return 0;
}

static void m_free(void *impl)
{
    struct mem *m = impl;
    for (size_t i = 0; i < m->n; i++) {
        free(m->v[i].key);
        free(m->v[i].body);
        free(m->v[i].ctype);
    }
    for (size_t i = 0; i < MEM_UPLOADS; i++)
        mu_free(&m->up[i]);
    free(m);
}

static const struct store_remote_ops mem_ops = {
    .head = m_head,
    .get = m_get,
    .put = m_put,
    .del = m_del,
    .list = m_list,
    .bucket_create = m_bucket_create,
    .bucket_head = m_bucket_head,
    .bucket_delete = m_bucket_delete,
    .buckets = m_buckets,
    .uploads = m_uploads,
    .abort = m_abort,
    .mpu_create = m_mpu_create,
    .mpu_part = m_mpu_part,
    .mpu_complete = m_mpu_complete,
    .mpu_parts = m_mpu_parts,
    .free = m_free,
};

struct pair {
    struct tstore local;
    char rdir[64];
    struct store *remote;
    struct mem *mem;
};

static int pair_setup(void **state)
{
    struct pair *p = calloc(1, sizeof *p);
    assert_non_null(p);
    void *ls = NULL;
    tstore_setup(&ls);
    p->local = *(struct tstore *)ls;
    free(ls);
    snprintf(p->rdir, sizeof p->rdir, "/tmp/tg-remote-XXXXXX");
    assert_non_null(mkdtemp(p->rdir));
    p->mem = calloc(1, sizeof *p->mem);
    assert_non_null(p->mem);
    snprintf(p->mem->buckets[p->mem->nb++], sizeof p->mem->buckets[0], "bkt");
    assert_int_equal(store_open_remote(p->rdir, "bkt", &mem_ops, p->mem, &p->remote), 0);
    assert_true(store_is_remote(p->remote));
    *state = p;
    return 0;
}

static int pair_teardown(void **state)
{
    struct pair *p = *state;
    store_close(p->remote);
    store_close(p->local.st);
    rm_rf(p->local.dir);
    rm_rf(p->rdir);
    free(p);
    return 0;
}

static void put_both(struct pair *p, const char *key, const char *body)
{
    assert_int_equal(put_str(p->local.st, "bkt", key, body), 0);
    assert_int_equal(put_str(p->remote, "bkt", key, body), 0);
}

struct out {
    char s[16384];
    unsigned n;
};

static int collect(void *ctx, const struct store_list_entry *e)
{
    struct out *o = ctx;
    char one[1200];
    if (e->key)
        snprintf(one, sizeof one, "%s%s:%llu:%s", o->n ? "," : "", e->key,
                 (unsigned long long)e->info->size, e->info->etag);
    else
        snprintf(one, sizeof one, "%s%s(cp)", o->n ? "," : "", e->common_prefix);
    assert_true(strlen(o->s) + strlen(one) < sizeof o->s);
    strcat(o->s, one);
    o->n++;
    return 0;
}

static void list_one(struct store *st, const struct store_list_req *req, struct out *o,
                     struct store_list_res *res)
{
    memset(o, 0, sizeof *o);
    assert_int_equal(store_obj_list(st, req, collect, o, res), 0);
}

/* Every combination, both stores: the same answer. */
static void compare_all(struct pair *p, const char *const *afters, size_t n_after)
{
    static const char *const prefixes[] = {"", "a", "a/", "b/", "b/x/", "zz"};
    static const char *const delims[] = {"", "/", "x"};
    static const unsigned maxes[] = {1, 2, 5, 1000};
    unsigned combos = 0;
    for (size_t a = 0; a < sizeof prefixes / sizeof *prefixes; a++)
        for (size_t b = 0; b < sizeof delims / sizeof *delims; b++)
            for (size_t c = 0; c < n_after; c++)
                for (size_t d = 0; d < sizeof maxes / sizeof *maxes; d++)
                    for (int skip = 0; skip < 2; skip++) {
                        struct store_list_req req = {STR_LIT("bkt"),
                                                     str_c(prefixes[a]),
                                                     str_c(delims[b]),
                                                     str_c(afters[c]),
                                                     maxes[d],
                                                     skip != 0,
                                                     false};
                        struct out lo, ro;
                        struct store_list_res lr = {0}, rr = {0};
                        list_one(p->local.st, &req, &lo, &lr);
                        list_one(p->remote, &req, &ro, &rr);
                        if (strcmp(lo.s, ro.s) != 0 || lr.truncated != rr.truncated)
                            fail_msg("prefix '%s' delim '%s' after '%s' max %u skip %d:\n"
                                     "  local  %s%s\n  remote %s%s",
                                     prefixes[a], delims[b], afters[c], maxes[d], skip, lo.s,
                                     lr.truncated ? " (truncated)" : "", ro.s,
                                     rr.truncated ? " (truncated)" : "");
                        if (lr.truncated)
                            assert_string_equal(lr.next_after, rr.next_after);
                        store_list_res_release(&lr);
                        store_list_res_release(&rr);
                        combos++;
                    }
    assert_true(combos >= 6 * 3 * 4 * 2);
}

static const char *const KEYS[] = {"a",    "a/1", "a/2",      "a/b/1",        "a/b/2", "a b",
                                   "a-",   "A",   "b",        "b/x",          "b/x/y", "b/x/z/1",
                                   "b/xx", "c/",  "c/d",      "x//y",         "x/",    "x/y/",
                                   "\x7f", "z",   "\xc3\xa9", "_index/t.json"};
static const char *const AFTERS[] = {"", "a", "a/", "a/b/1", "b/x", "b/x/y", "c", "\xc3\xa9"};

static void same_listings(void **state)
{
    struct pair *p = *state;
    for (size_t i = 0; i < sizeof KEYS / sizeof *KEYS; i++)
        put_both(p, KEYS[i], KEYS[i]);
    compare_all(p, AFTERS, sizeof AFTERS / sizeof *AFTERS);
    /* retire some: skip_retired listings hide them (and groups made only of them) */
    int64_t t = 1700000000000000;
    const char *ret[] = {"a/b/1", "a/b/2", "b/x/y", "c/d", "z"};
    for (size_t i = 0; i < sizeof ret / sizeof *ret; i++) {
        assert_int_equal(store_obj_retire(p->local.st, STR_LIT("bkt"), str_c(ret[i]), t), 0);
        assert_int_equal(store_obj_retire(p->remote, STR_LIT("bkt"), str_c(ret[i]), t), 0);
    }
    compare_all(p, AFTERS, sizeof AFTERS / sizeof *AFTERS);
    /* each marker version is read once, then reused by every listing */
    unsigned g0 = p->mem->gets;
    compare_all(p, AFTERS, sizeof AFTERS / sizeof *AFTERS);
    assert_int_equal(p->mem->gets, g0);
    /* a rewrite makes a retired key live again, in both */
    put_both(p, "c/d", "again");
    compare_all(p, AFTERS, sizeof AFTERS / sizeof *AFTERS);
    /* the store's own keys exist on the remote but never show */
    size_t at;
    assert_int_equal(mem_find(p->mem, "bkt/.tollgate/gen", &at), 0);
    assert_int_equal(mem_find(p->mem, "bkt/.tollgate/retired/z", &at), 0);
}

static void paging_reassembles(void **state)
{
    struct pair *p = *state;
    for (size_t i = 0; i < sizeof KEYS / sizeof *KEYS; i++)
        put_both(p, KEYS[i], "x");
    for (unsigned max = 1; max <= 4; max++) {
        struct out whole, acc = {0};
        struct store_list_res res = {0};
        struct store_list_req req = {STR_LIT("bkt"), STR_NULL, STR_LIT("/"), STR_NULL,
                                     1000,           false,    false};
        list_one(p->remote, &req, &whole, &res);
        store_list_res_release(&res);
        char after[1100] = "";
        for (int guard = 0; guard < 100; guard++) {
            struct out page;
            req.max_keys = max;
            req.after = str_c(after);
            list_one(p->remote, &req, &page, &res);
            if (page.n) {
                if (acc.n)
                    strcat(acc.s, ",");
                strcat(acc.s, page.s);
                acc.n += page.n;
            }
            if (!res.truncated)
                break;
            snprintf(after, sizeof after, "%s", res.next_after);
            store_list_res_release(&res);
        }
        store_list_res_release(&res);
        assert_string_equal(acc.s, whole.s);
    }
}

static void retirement(void **state)
{
    struct pair *p = *state;
    struct store *st = p->remote;
    assert_int_equal(put_str(st, "bkt", "k", "v1"), 0);
    assert_int_equal(store_obj_retire(st, STR_LIT("bkt"), STR_LIT("missing"), 5), -ERR_NO_SUCH_KEY);
    assert_int_equal(store_obj_retire(st, STR_LIT("bkt"), STR_LIT("k"), 100), 0);
    assert_int_equal(store_obj_retire(st, STR_LIT("bkt"), STR_LIT("k"), 200), 0); /* first kept */
    struct store_obj_info info;
    int fd = -1;
    assert_int_equal(store_obj_open(st, STR_LIT("bkt"), STR_LIT("k"), &info, &fd), 0);
    char b[8] = {0};
    assert_int_equal(read(fd, b, sizeof b), 2); /* a retired object still reads */
    assert_string_equal(b, "v1");
    close(fd);
    store_obj_info_release(&info);
    assert_int_equal(store_obj_delete_retired(st, STR_LIT("bkt"), STR_LIT("k"), 200),
                     -ERR_NO_SUCH_KEY); /* not the time it was retired */
    assert_int_equal(store_obj_delete_retired(st, STR_LIT("bkt"), STR_LIT("k"), 100), 0);
    assert_int_equal(store_obj_head(st, STR_LIT("bkt"), STR_LIT("k"), &info), -ERR_NO_SUCH_KEY);
    /* retired, then written again: live, and not deleted by the old retirement */
    assert_int_equal(put_str(st, "bkt", "k2", "one"), 0);
    assert_int_equal(store_obj_retire(st, STR_LIT("bkt"), STR_LIT("k2"), 300), 0);
    assert_int_equal(put_str(st, "bkt", "k2", "two"), 0);
    assert_int_equal(store_obj_delete_retired(st, STR_LIT("bkt"), STR_LIT("k2"), 300),
                     -ERR_NO_SUCH_KEY);
    assert_int_equal(store_obj_head(st, STR_LIT("bkt"), STR_LIT("k2"), &info), 0);
    store_obj_info_release(&info);
}

static int count_retired(void *ctx, const char *key, size_t len, int64_t at)
{
    (void)key, (void)len, (void)at;
    (*(int *)ctx)++;
    return 0;
}

static void generation_and_failures(void **state)
{
    struct pair *p = *state;
    struct store *st = p->remote;
    uint64_t g0, g1, g2;
    assert_true(store_generation(st, &g0));
    assert_int_equal(put_str(st, "bkt", "k", "v"), 0);
    assert_true(store_generation(st, &g1));
    assert_true(g1 != g0);
    assert_int_equal(store_obj_delete(st, STR_LIT("bkt"), STR_LIT("k")), 0);
    assert_true(store_generation(st, &g2));
    assert_true(g2 != g1);
    int n = 0;
    assert_int_equal(store_retired_list(st, STR_LIT("bkt"), count_retired, &n), 0);
    assert_int_equal(n, 0);
    /* the remote fails: no generation, every call says so, nothing changes */
    p->mem->down = true;
    assert_false(store_generation(st, &g2));
    struct store_obj_info info;
    assert_int_equal(store_obj_head(st, STR_LIT("bkt"), STR_LIT("k"), &info), -ERR_REMOTE);
    assert_int_equal(put_str(st, "bkt", "k", "v"), -ERR_REMOTE);
    struct store_list_req req = {STR_LIT("bkt"), STR_NULL, STR_NULL, STR_NULL, 10, true, false};
    struct out o;
    struct store_list_res res = {0};
    memset(&o, 0, sizeof o);
    assert_int_equal(store_obj_list(st, &req, collect, &o, &res), -ERR_REMOTE);
    p->mem->down = false;
    assert_int_equal(store_obj_head(st, STR_LIT("bkt"), STR_LIT("k"), &info), -ERR_NO_SUCH_KEY);
    /* its own keys refused; a stale ETag on pread */
    assert_int_equal(put_str(st, "bkt", ".tollgate/x", "v"), -ERR_ACCESS_DENIED);
    struct store_obj_info w;
    assert_int_equal(put_chunked(st, "bkt", "r", "0123456789", 10, 3, NULL, &w), 0);
    char buf[4];
    assert_int_equal(store_obj_pread(st, STR_LIT("bkt"), STR_LIT("r"), w.etag, 3, buf, 4), 0);
    assert_memory_equal(buf, "3456", 4);
    assert_int_equal(store_obj_pread(st, STR_LIT("bkt"), STR_LIT("r"),
                                     "0123456789abcdef0123456789abcdef", 0, buf, 4),
                     -ERR_PRECONDITION);
    store_obj_info_release(&w);
    /* a listing with details reuses what it read: one HEAD per object version */
    assert_int_equal(put_str(st, "bkt", "d1", "x"), 0);
    struct store_list_req dreq = {STR_LIT("bkt"), STR_LIT("d"), STR_NULL, STR_NULL, 10,
                                  false,          true};
    unsigned h0 = p->mem->heads;
    memset(&o, 0, sizeof o);
    assert_int_equal(store_obj_list(st, &dreq, collect, &o, &res), 0);
    memset(&o, 0, sizeof o);
    assert_int_equal(store_obj_list(st, &dreq, collect, &o, &res), 0);
    assert_int_equal(p->mem->heads, h0); /* cached at the put */
}

static int count_bucket(void *ctx, const struct store_bucket *b)
{
    (void)b;
    (*(int *)ctx)++;
    return 0;
}

static int count_part(void *ctx, const struct store_mpu_part *pt)
{
    ((unsigned *)ctx)[pt->part]++;
    return 0;
}

static int count_upload(void *ctx, const struct store_mpu *u)
{
    assert_true(strlen(u->upload_id) > 64);
    (*(int *)ctx)++;
    return 0;
}

/* A part of a multipart upload, through a store put. */
static int part_put(struct store *st, const char *bucket, const char *key, const char *id,
                    unsigned part, const char *body, char etag[STORE_ETAG_MAX])
{
    struct store_put *pp = NULL;
    int rc = store_put_begin(st, &pp);
    if (rc == 0 && (rc = store_put_write(pp, body, strlen(body))) < 0)
        store_put_abort(pp);
    if (rc == 0)
        rc = store_mpu_part_commit(pp, str_c(bucket), str_c(key), str_c(id), part, etag);
    return rc;
}

/* Buckets are the remote's, one to one; multipart uploads pass through (long upload ids,
 * the remote's part ETags), and a completed upload rewrites the key like a put. */
static void buckets_and_multipart(void **state)
{
    struct pair *p = *state;
    struct store *st = p->remote;
    struct store_obj_info info = {0};
    int n = 0;
    assert_int_equal(store_bucket_exists(st, STR_LIT("other")), -ERR_NO_SUCH_BUCKET);
    assert_int_equal(store_bucket_create(st, STR_LIT("bkt")), -ERR_EXISTS);
    assert_int_equal(store_bucket_create(st, STR_LIT("Bad_Name")), -ERR_INVALID_BUCKET_NAME);
    assert_int_equal(store_bucket_create(st, STR_LIT("other")), 0);
    assert_int_equal(store_bucket_exists(st, STR_LIT("other")), 0);
    assert_int_equal(store_bucket_list(st, count_bucket, &n), 0);
    assert_int_equal(n, 2);
    /* a key in one bucket is not in the other */
    assert_int_equal(put_str(st, "other", "k", "in other"), 0);
    assert_int_equal(store_obj_head(st, STR_LIT("bkt"), STR_LIT("k"), &info), -ERR_NO_SUCH_KEY);
    assert_int_equal(store_obj_head(st, STR_LIT("nope"), STR_LIT("k"), &info), -ERR_NO_SUCH_BUCKET);
    assert_int_equal(put_str(st, "nope", "k", "v"), -ERR_NO_SUCH_BUCKET);
    char *got = get_all(st, "other", "k", NULL);
    assert_string_equal(got, "in other");
    free(got);
    /* retirement markers live in the object's bucket and go with it */
    assert_int_equal(store_obj_retire(st, STR_LIT("other"), STR_LIT("k"), 1000), 0);
    n = 0;
    assert_int_equal(store_retired_list(st, STR_LIT("other"), count_retired, &n), 0);
    assert_int_equal(n, 1);
    n = 0;
    assert_int_equal(store_retired_list(st, STR_LIT("bkt"), count_retired, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(store_bucket_delete(st, STR_LIT("other")), -ERR_BUCKET_NOT_EMPTY);

    /* multipart: create, two parts (one sent twice), list, complete */
    char id[STORE_UPLOAD_ID_MAX], e1[STORE_ETAG_MAX], e2[STORE_ETAG_MAX];
    assert_int_equal(store_mpu_create(st, STR_LIT("other"), STR_LIT("k"), NULL, id), 0);
    assert_true(strlen(id) > 64);
    assert_int_equal(store_mpu_create(st, STR_LIT("other"), STR_LIT(".tollgate/x"), NULL, id),
                     -ERR_ACCESS_DENIED);
    assert_int_equal(store_mpu_create(st, STR_LIT("other"), STR_LIT("k"), NULL, id), 0);
    assert_int_equal(part_put(st, "other", "k", id, 1, "first ", e1), 0);
    assert_int_equal(part_put(st, "other", "k", id, 2, "wrong", e2), 0);
    assert_int_equal(part_put(st, "other", "k", id, 2, "second", e2), 0);
    assert_int_equal(part_put(st, "other", "k", "no-such-upload", 1, "x", e2), -ERR_NO_SUCH_UPLOAD);
    assert_int_equal(part_put(st, "other", "k", id, 0, "x", e2), -ERR_INVALID_PART_NUMBER);
    /* the limit on an upload id: STORE_UPLOAD_ID_MAX - 1 bytes */
    char longid[STORE_UPLOAD_ID_MAX + 1];
    memset(longid, '7', STORE_UPLOAD_ID_MAX);
    longid[STORE_UPLOAD_ID_MAX] = '\0';
    unsigned calls = p->mem->mpu_calls;
    assert_int_equal(part_put(st, "other", "k", longid, 1, "x", e2), -ERR_NO_SUCH_UPLOAD);
    assert_int_equal(store_mpu_abort(st, STR_LIT("other"), STR_LIT("k"), str_c(longid)),
                     -ERR_NO_SUCH_UPLOAD);
    assert_int_equal(p->mem->mpu_calls, calls); /* refused before the remote */
    longid[STORE_UPLOAD_ID_MAX - 1] = '\0';     /* the longest accepted: asked */
    assert_int_equal(part_put(st, "other", "k", longid, 1, "x", e2), -ERR_NO_SUCH_UPLOAD);
    assert_int_equal(p->mem->mpu_calls, calls + 1);
    unsigned seen[5] = {0};
    bool more = true;
    assert_int_equal(store_mpu_list_parts(st, STR_LIT("other"), STR_LIT("k"), str_c(id), 0, 10,
                                          count_part, seen, &more),
                     0);
    assert_false(more);
    assert_int_equal(seen[1] + seen[2], 2);
    n = 0;
    assert_int_equal(store_mpu_list(st, STR_LIT("other"), STR_NULL, STR_NULL, STR_NULL, 100,
                                    count_upload, &n, &more),
                     0);
    assert_int_equal(n, 2); /* this one and the first, left open */
    struct store_mpu_part parts[2] = {{.part = 1}, {.part = 2}};
    snprintf(parts[0].etag, sizeof parts[0].etag, "%s", e1);
    snprintf(parts[1].etag, sizeof parts[1].etag, "%s", e2);
    uint64_t g0, g1;
    assert_true(store_generation(st, &g0));
    assert_int_equal(
        store_mpu_complete(st, STR_LIT("other"), STR_LIT("k"), str_c(id), parts, 2, &info), 0);
    assert_true(store_generation(st, &g1));
    assert_true(g1 != g0);
    assert_int_equal(info.size, 12);
    assert_non_null(strstr(info.etag, "-2"));
    uint8_t zero[32] = {0};
    assert_memory_equal(info.sha256, zero, 32); /* not known for a multipart object */
    store_obj_info_release(&info);
    got = get_all(st, "other", "k", NULL);
    assert_string_equal(got, "first second");
    free(got);
    /* the rewrite made the retired key live again */
    n = 0;
    assert_int_equal(store_retired_list(st, STR_LIT("other"), count_retired, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(
        store_mpu_complete(st, STR_LIT("other"), STR_LIT("k"), str_c(id), parts, 2, &info),
        -ERR_NO_SUCH_UPLOAD);
    /* old uploads are aborted in every bucket */
    assert_int_equal(store_mpu_create(st, STR_LIT("bkt"), STR_LIT("b"), NULL, id), 0);
    unsigned aborted = 0;
    assert_int_equal(store_mpu_abort_older(st, tg_now_us() + 1000000, &aborted), 0);
    assert_int_equal(aborted, 2);
    assert_int_equal(store_mpu_abort(st, STR_LIT("bkt"), STR_LIT("b"), str_c(id)),
                     -ERR_NO_SUCH_UPLOAD);
    /* credentials that may not list buckets: the home bucket's uploads still go */
    p->mem->deny_buckets = true;
    assert_int_equal(store_mpu_create(st, STR_LIT("bkt"), STR_LIT("b"), NULL, id), 0);
    assert_int_equal(store_mpu_create(st, STR_LIT("other"), STR_LIT("o"), NULL, id), 0);
    assert_int_equal(store_mpu_abort_older(st, tg_now_us() + 1000000, &aborted), 0);
    assert_int_equal(aborted, 1);
    assert_int_equal(store_mpu_abort(st, STR_LIT("other"), STR_LIT("o"), str_c(id)), 0);
    p->mem->deny_buckets = false;

    /* a bucket empty but for the store's own keys is deleted with them */
    assert_int_equal(store_obj_retire(st, STR_LIT("other"), STR_LIT("k"), 2000), 0);
    assert_int_equal(store_obj_delete_retired(st, STR_LIT("other"), STR_LIT("k"), 2000), 0);
    assert_int_equal(put_str(st, "other", "z", "v"), 0);
    assert_int_equal(store_obj_delete(st, STR_LIT("other"), STR_LIT("z")), 0);
    size_t at;
    assert_int_equal(mem_find(p->mem, "other/.tollgate/retired/k", &at), -1);
    p->mem->down = true;
    assert_int_equal(store_bucket_delete(st, STR_LIT("other")), -ERR_REMOTE);
    p->mem->down = false;
    assert_int_equal(store_bucket_delete(st, STR_LIT("other")), 0);
    assert_int_equal(store_bucket_exists(st, STR_LIT("other")), -ERR_NO_SUCH_BUCKET);
    assert_int_equal(store_bucket_delete(st, STR_LIT("other")), -ERR_NO_SUCH_BUCKET);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(same_listings, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(paging_reassembles, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(retirement, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(generation_and_failures, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(buckets_and_multipart, pair_setup, pair_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
