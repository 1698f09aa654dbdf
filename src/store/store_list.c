/* store_list.c -- ListObjects (V1 and V2) over the objects table.
 *
 * One range scan on the primary key (bucket, key): key >= max(prefix, after) and
 * key < the prefix's upper bound, in byte order (keys are BLOBs). With a delimiter,
 * a key that rolls up into a common prefix CP makes the scan jump to CP + 0xFF: no
 * valid UTF-8 key contains 0xFF, so every key under CP sorts before it and the next
 * row is the first key past the group. A listing therefore costs O(entries returned),
 * not O(keys under the prefix).
 *
 * S3 semantics: entries are keys and common prefixes merged in byte order, each
 * counting one against max_keys; `after` is exclusive (a common prefix equal to it
 * is not returned again); when truncated, next_after is the last entry returned.
 * A callback returning > 0 stops the listing after its entry (reported truncated). */
#include <stdlib.h>

#include "store/store_int.h"

/* Largest key bound: 0xFF sorts after every valid UTF-8 key. */
static const char key_top[1] = {(char)0xFF};

/* The smallest byte string greater than every string starting with prefix: drop
 * trailing 0xFF bytes, increment the last. False if none exists (all 0xFF or empty). */
static bool prefix_upper(struct str prefix, char *out, size_t *out_len)
{
    size_t n = prefix.len;
    while (n > 0 && (unsigned char)prefix.ptr[n - 1] == 0xFF)
        n--;
    if (n == 0)
        return false;
    memcpy(out, prefix.ptr, n);
    out[n - 1] = (char)((unsigned char)out[n - 1] + 1);
    *out_len = n;
    return true;
}

static bool str_lt(struct str a, struct str b)
{
    return store_bytes_lt(a.ptr ? a.ptr : "", a.len, b.ptr ? b.ptr : "", b.len);
}

size_t store_list_cp_len(const struct store_list_req *req, struct str key)
{
    if (req->delimiter.len == 0 || key.len < req->prefix.len)
        return 0;
    const char *d = memmem(key.ptr + req->prefix.len, key.len - req->prefix.len, req->delimiter.ptr,
                           req->delimiter.len);
    return d ? (size_t)(d - key.ptr) + req->delimiter.len : 0;
}

bool store_list_cp_done(struct str after, struct str cp)
{
    bool inside = after.len > cp.len && memcmp(after.ptr, cp.ptr, cp.len) == 0;
    return !str_lt(after, cp) && !inside;
}

/* Bind the scan bounds: lo inclusive, hi exclusive. */
static int list_bind(sqlite3_stmt *s, struct str bucket, struct str lo, struct str hi)
{
    int rc;
    if ((rc = store_bind_text(s, 1, bucket)) < 0 || (rc = store_bind_key(s, 2, lo)) < 0 ||
        (rc = store_bind_key(s, 3, hi)) < 0)
        return rc;
    return 0;
}

int store_obj_list(struct store *st, const struct store_list_req *req,
                   int (*fn)(void *ctx, const struct store_list_entry *e), void *ctx,
                   struct store_list_res *res)
{
    if (st->remote)
        return store_remote_list(st, req, fn, ctx, res);
    struct store_list_res r = {0};
    struct store_conn *c = NULL;
    struct buf last = BUF_INIT, cur = BUF_INIT, lo_buf = BUF_INIT;
    char hi_mem[STORE_KEY_MAX + 1];
    struct str hi = {key_top, 1}, lo;
    unsigned max = req->max_keys > STORE_LIST_MAX ? STORE_LIST_MAX : req->max_keys;
    sqlite3_stmt *s;
    int rc;

    buf_init(&last, STORE_KEY_MAX + 2);
    buf_init(&cur, STORE_KEY_MAX + 2);
    buf_init(&lo_buf, STORE_KEY_MAX + 2);
    if ((rc = store_conn_get(st, &c)) < 0)
        goto out;
    if ((rc = store_bucket_check_conn(c, req->bucket)) < 0)
        goto out;
    if (max == 0 || req->prefix.len > STORE_KEY_MAX)
        goto done;
    if (req->prefix.len > 0) {
        size_t n;
        if (!prefix_upper(req->prefix, hi_mem, &n))
            goto done; /* only bytes 0xFF: no valid key starts so */
        hi = str_n(hi_mem, n);
    }
    lo = str_lt(req->after, req->prefix) ? req->prefix : req->after;
    if ((rc = buf_addstr(&lo_buf, lo)) < 0)
        goto out;
    if ((rc = store_stmt(c, req->skip_retired ? S_OBJ_LIST_LIVE : S_OBJ_LIST, &s)) < 0 ||
        (rc = list_bind(s, req->bucket, buf_str(&lo_buf), hi)) < 0)
        goto out;
    for (;;) {
        if ((rc = store_step(c, s, "object list")) < 0)
            goto out;
        if (rc == SQLITE_DONE)
            break;
        struct str key = str_n(sqlite3_column_blob(s, 0), (size_t)sqlite3_column_bytes(s, 0));
        if (!key.ptr)
            key = str_n("", 0);
        if (!str_lt(req->after, key)) /* key <= after: lo was `after` itself */
            continue;
        struct store_list_entry e = {0};
        struct store_obj_info info = {0};
        size_t cp_len = store_list_cp_len(req, key);
        buf_reset(&cur);
        if (cp_len) {
            if ((rc = buf_add(&cur, key.ptr, cp_len)) < 0)
                goto out;
            /* Jump past every key under this common prefix. */
            buf_reset(&lo_buf);
            if ((rc = buf_add(&lo_buf, key.ptr, cp_len)) < 0 ||
                (rc = buf_addc(&lo_buf, key_top[0])) < 0)
                goto out;
            sqlite3_reset(s);
            if ((rc = list_bind(s, req->bucket, buf_str(&lo_buf), hi)) < 0)
                goto out;
            if (store_list_cp_done(req->after, buf_str(&cur)))
                continue;
            e.common_prefix = cur.ptr;
        } else {
            if ((rc = buf_addstr(&cur, key)) < 0)
                goto out;
            info.size = (uint64_t)sqlite3_column_int64(s, 1);
            str_copy(str_n(sqlite3_column_text(s, 2), (size_t)sqlite3_column_bytes(s, 2)),
                     info.etag, sizeof info.etag);
            if (sqlite3_column_bytes(s, 3) == 32)
                memcpy(info.sha256, sqlite3_column_blob(s, 3), 32);
            /* Borrowed for the callback only: the entry is const to it. */
            info.content_type = (char *)sqlite3_column_text(s, 4);
            info.meta_json = (char *)sqlite3_column_text(s, 5);
            info.mtime_us = sqlite3_column_int64(s, 6);
            info.retired_us = sqlite3_column_int64(s, 7);
            e.key = cur.ptr;
            e.info = &info;
        }
        if (r.count == max) {
            r.truncated = true;
            break;
        }
        int stop = fn(ctx, &e);
        if (stop < 0) {
            rc = stop;
            goto out;
        }
        r.count++;
        buf_reset(&last);
        if ((rc = buf_addstr(&last, buf_str(&cur))) < 0)
            goto out;
        if (stop > 0) { /* the caller has enough: resume after this entry */
            r.truncated = true;
            break;
        }
    }
done:
    if (r.truncated && !(r.next_after = buf_take(&last))) {
        rc = -ERR_NOMEM;
        goto out;
    }
    *res = r;
    rc = 0;
out:
    store_conn_put(st, c);
    buf_release(&last);
    buf_release(&cur);
    buf_release(&lo_buf);
    return rc;
}

void store_list_res_release(struct store_list_res *res)
{
    if (!res)
        return;
    free(res->next_after);
    memset(res, 0, sizeof *res);
}
