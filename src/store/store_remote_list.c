/* store_remote_list.c -- the remote backend's listings: S3's semantics (delimiters,
 * start-after, max-keys, skip_retired) over the remote's ListObjectsV2 pages, a group
 * jumped past with start-after = CP + U+10FFFF; the store's own keys hidden; retirement
 * markers read once per marker version (cached by its ETag). */
#include <stdio.h>
#include <stdlib.h>

#include "store/store_remote_int.h"

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
    struct mslot *s = &r->mcache[srem_slot_of(b, mk) % MCACHE_SLOTS];
    if (srem_slot_is(s->bucket, s->key, b, mk) && strcmp(s->metag, metag) == 0) {
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
    struct mslot *s = &r->mcache[srem_slot_of(b, mk) % MCACHE_SLOTS];
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
                if (srem_marker_read(r, b, pg.keys[i], &e.at_us, e.etag, sizeof e.etag) < 0)
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
    if ((rc = srem_bucket_check(bucket, b)) < 0 || (rc = retired_load(st, b, STR_NULL, &rs)) < 0)
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

    if ((rc = srem_bucket_check(req->bucket, b)) < 0)
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
            if (srem_is_sys(key) && !str_starts(req->prefix, STORE_REMOTE_SYS)) {
                /* past the store's own keys at once (one already past the jump point,
                 * written to the remote by hand, is just skipped) */
                if (srem_lt(key, str_c(STORE_REMOTE_SYS JUMP))) {
                    buf_reset(&from);
                    if ((rc = buf_adds(&from, STORE_REMOTE_SYS JUMP)) < 0)
                        goto out;
                    jumped = true;
                }
                continue;
            }
            if (!srem_lt(req->after, key))
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
                    !(have_info = srem_rcache_get(r, b, pg.keys[i], pg.etags[i], &info))) {
                    rc = r->ops->head(r->impl, b, pg.keys[i], &info);
                    if (rc == -ERR_NO_SUCH_KEY)
                        continue; /* deleted since the page was read */
                    if (rc < 0)
                        goto out;
                    have_info = true;
                    srem_rcache_put(r, b, pg.keys[i], &info);
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
