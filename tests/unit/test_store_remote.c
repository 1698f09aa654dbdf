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

struct mobj {
    char *key;
    char *body;
    size_t len;
    char etag[STORE_ETAG_MAX];
    char *ctype;
    int64_t mtime_us;
};
struct mem {
    struct mobj v[MEM_MAX];
    size_t n;
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

static int m_head(void *impl, const char *key, struct store_obj_info *out)
{
    struct mem *m = impl;
    size_t i;
    m->heads++;
    if (m->down)
        return -ERR_REMOTE;
    if (mem_find(m, key, &i) < 0)
        return -ERR_NO_SUCH_KEY;
    memset(out, 0, sizeof *out);
    out->size = m->v[i].len;
    out->mtime_us = m->v[i].mtime_us;
    snprintf(out->etag, sizeof out->etag, "%s", m->v[i].etag);
    crypto_sha256(m->v[i].body, m->v[i].len, out->sha256);
    out->content_type = strdup(m->v[i].ctype);
    out->meta_json = strdup("{}");
    return 0;
}

static int m_get(void *impl, const char *key, uint64_t off, uint64_t len, const char *if_match,
                 int (*sink)(void *ctx, const void *p, size_t n), void *ctx)
{
    struct mem *m = impl;
    size_t i;
    m->gets++;
    if (m->down)
        return -ERR_REMOTE;
    if (mem_find(m, key, &i) < 0)
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

static int m_put(void *impl, const char *key, int fd, uint64_t size, const uint8_t sha256[32],
                 const struct store_attrs *attrs, char etag_out[STORE_ETAG_MAX])
{
    struct mem *m = impl;
    size_t i;
    if (m->down)
        return -ERR_REMOTE;
    char *body = malloc(size + 1);
    assert_non_null(body);
    assert_int_equal(pread(fd, body, size, 0), (ssize_t)size);
    uint8_t sha[32], md5[16];
    crypto_sha256(body, size, sha);
    assert_memory_equal(sha, sha256, 32); /* the store hashed what it uploads */
    crypto_md5(body, size, md5);
    if (mem_find(m, key, &i) < 0) {
        assert_true(m->n < MEM_MAX);
        memmove(&m->v[i + 1], &m->v[i], (m->n - i) * sizeof m->v[0]);
        m->n++;
        memset(&m->v[i], 0, sizeof m->v[i]);
        m->v[i].key = strdup(key);
    } else {
        free(m->v[i].body);
        free(m->v[i].ctype);
    }
    m->v[i].body = body;
    m->v[i].len = size;
    m->v[i].ctype = strdup(attrs && attrs->content_type ? attrs->content_type : "x/y");
    m->v[i].mtime_us = tg_now_us();
    hex_encode(md5, 16, m->v[i].etag);
    snprintf(etag_out, STORE_ETAG_MAX, "%s", m->v[i].etag);
    return 0;
}

static int m_del(void *impl, const char *key)
{
    struct mem *m = impl;
    size_t i;
    if (m->down)
        return -ERR_REMOTE;
    if (mem_find(m, key, &i) < 0)
        return 0;
    free(m->v[i].key);
    free(m->v[i].body);
    free(m->v[i].ctype);
    memmove(&m->v[i], &m->v[i + 1], (m->n - i - 1) * sizeof m->v[0]);
    m->n--;
    return 0;
}

static int m_list(void *impl, const char *prefix, const char *after, unsigned max,
                  int (*fn)(void *ctx, const struct store_remote_obj *o), void *ctx,
                  bool *truncated)
{
    struct mem *m = impl;
    m->lists++;
    if (m->down)
        return -ERR_REMOTE;
    unsigned got = 0;
    *truncated = false;
    if (max > PAGE)
        max = PAGE;
    for (size_t i = 0; i < m->n; i++) {
        if (prefix && strncmp(m->v[i].key, prefix, strlen(prefix)) != 0)
            continue;
        if (after && strcmp(m->v[i].key, after) <= 0)
            continue;
        if (got == max) {
            *truncated = true;
            break;
        }
        struct store_remote_obj o = {m->v[i].key, m->v[i].len, m->v[i].mtime_us, m->v[i].etag};
        int rc = fn(ctx, &o);
        if (rc < 0)
            return rc;
        got++;
    }
    return 0;
}

static int m_uploads(void *impl,
                     int (*fn)(void *ctx, const char *key, const char *upload_id, int64_t t),
                     void *ctx)
{
    (void)fn, (void)ctx;
    return ((struct mem *)impl)->down ? -ERR_REMOTE : 0;
}

static int m_abort(void *impl, const char *key, const char *upload_id)
{
    (void)impl, (void)key, (void)upload_id;
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
    free(m);
}

static const struct store_remote_ops mem_ops = {m_head, m_get,     m_put,   m_del,
                                                m_list, m_uploads, m_abort, m_free};

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
    assert_int_equal(mem_find(p->mem, ".tollgate/gen", &at), 0);
    assert_int_equal(mem_find(p->mem, ".tollgate/retired/z", &at), 0);
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
    /* only its bucket; its own keys refused; a stale ETag on pread */
    assert_int_equal(store_bucket_exists(st, STR_LIT("other")), -ERR_NO_SUCH_BUCKET);
    assert_int_equal(store_bucket_create(st, STR_LIT("bkt")), -ERR_EXISTS);
    assert_int_equal(store_bucket_create(st, STR_LIT("other")), -ERR_NOT_IMPLEMENTED);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(same_listings, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(paging_reassembles, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(retirement, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(generation_and_failures, pair_setup, pair_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
