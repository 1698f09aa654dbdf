/* store_remote_mpu.c -- multipart uploads on the remote backend, passed through: the
 * remote's upload ids, part ETags and checks; the lifecycle's abort of old uploads in
 * every bucket (or the home bucket when the credentials may not list buckets). */
#include <stdio.h>
#include <stdlib.h>

#include "store/store_remote_int.h"

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
    if (srem_is_sys(k))
        return 0;
    if (f->key_marker.len) {
        /* after (key_marker, upload_id_marker), as S3 */
        if (srem_lt(k, f->key_marker))
            return 0;
        if (str_eq(k, f->key_marker) &&
            (!f->id_marker.len || !srem_lt(f->id_marker, str_c(upload_id))))
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
    int rc = srem_bucket_check(bucket, b);
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
    if ((rc = srem_bucket_check(bucket, b)) < 0)
        return rc;
    if (upload_id.len == 0 || upload_id.len >= STORE_UPLOAD_ID_MAX ||
        memchr(upload_id.ptr, '\0', upload_id.len))
        return -ERR_NO_SUCH_UPLOAD;
    if ((rc = store_key_check(key)) < 0)
        return rc;
    if (srem_is_sys(key))
        return -ERR_ACCESS_DENIED;
    if (!(*k = srem_key_dup(key)) || !(*id = str_dup(upload_id))) {
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
    if ((rc = srem_bucket_check(bucket, b)) < 0 || (rc = store_key_check(key)) < 0)
        return rc;
    if (srem_is_sys(key))
        return -ERR_ACCESS_DENIED;
    if (!(k = srem_key_dup(key)))
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
    if (rc == 0 && !(mk = srem_marker_key(key)))
        rc = -ERR_NOMEM;
    if (rc == 0)
        rc = r->ops->mpu_complete(r->impl, b, k, id, parts, nparts, etag);
    if (rc < 0)
        goto out;
    /* A new write makes a retired key live again: its marker goes. */
    if (r->ops->del(r->impl, b, mk) < 0)
        tg_log_warn("store: the retirement marker of a rewritten key could not be removed; "
                    "the next lifecycle pass sees it is stale");
    srem_rcache_drop(r, b, k);
    srem_gen_bump(st);
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
