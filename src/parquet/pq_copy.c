/* pq_copy.c -- build a new Parquet file from row groups of open files, copying
 * column-chunk bytes verbatim and rewriting only the footer: concat, splice and
 * project are three plans for the same builder.
 *
 * Layout written: "PAR1" | chunks in plan order | bloom filters | offset indexes |
 * column indexes | FileMetaData | len | "PAR1". Every absolute offset is shifted by
 * the distance its chunk moved (delta): ColumnMetaData data/index/dictionary page
 * offsets, PageLocation.offset inside each offset index (re-encoded), and the
 * bloom filter and page-index positions point at their relocated copies.
 * RowGroup.file_offset / total_compressed_size / ordinal are recomputed,
 * ColumnChunk.file_offset is set to 0. Unknown fields ride along untouched.
 *
 * Memory: the output footer tree (shares values with the inputs' trees), one
 * 1 MiB copy buffer when copy_file_range is unavailable, and one page-index blob
 * at a time. The output goes to a temp file in the target's directory and is
 * renamed into place only after fsync; any failure unlinks it. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pq_int.h"

struct pq_src_rg {
    struct pq_file *f;
    uint32_t rg;
};

struct plan {
    struct pq_file *meta; /* schema, key-value metadata, created_by */
    const struct pq_src_rg *rgs;
    size_t nrgs;
    const uint8_t *keep_el; /* NULL = all columns; else per schema element of meta */
};

struct pend {
    struct pq_file *src;
    struct pq_tstruct *cc, *md; /* output structs */
    int64_t delta;
    uint64_t start, len; /* chunk range in the source */
};

/* ---- output file ------------------------------------------------------------------- */

int pq_out_write(struct pq_out *o, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = pwrite(o->fd, c, n, (off_t)o->pos);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        c += w;
        n -= (size_t)w;
        o->pos += (uint64_t)w;
    }
    return 0;
}

int pq_out_copy(struct pq_out *o, int src, uint64_t off, uint64_t len)
{
    while (len && o->use_cfr) {
        loff_t in = (loff_t)off, outp = (loff_t)o->pos;
        size_t want = len > (1u << 30) ? (1u << 30) : (size_t)len;
        ssize_t n = copy_file_range(src, &in, o->fd, &outp, want, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP ||
                      errno == EBADF)) {
            o->use_cfr = 0; /* fall back to read/write below */
            break;
        }
        if (n < 0)
            return -errno;
        if (n == 0)
            return -EIO; /* source shrank */
        off += (uint64_t)n;
        o->pos += (uint64_t)n;
        len -= (uint64_t)n;
    }
    if (len && !o->buf && !(o->buf = malloc(PQ_COPY_BUF)))
        return -ENOMEM;
    while (len) {
        size_t want = len > PQ_COPY_BUF ? PQ_COPY_BUF : (size_t)len;
        ssize_t n = pread(src, o->buf, want, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            return -EIO;
        int rc = pq_out_write(o, o->buf, (size_t)n);
        if (rc < 0)
            return rc;
        off += (uint64_t)n;
        len -= (uint64_t)n;
    }
    return 0;
}

int pq_out_open(struct pq_out *o, const char *path, char *err)
{
    const char *slash = strrchr(path, '/');
    int dl = slash ? (int)(slash - path) + 1 : 0;
    if (snprintf(o->tmp, sizeof o->tmp, "%.*s.%s.tmp.XXXXXX", dl, path, slash ? slash + 1 : path) >=
        (int)sizeof o->tmp)
        return pq_fail(err, -PQ_ERR_ARG, "output path too long: '%s'", path);
    o->fd = mkostemp(o->tmp, O_CLOEXEC);
    if (o->fd < 0) {
        o->tmp[0] = 0;
        return pq_fail(err, -PQ_ERR_IO, "cannot create a temporary file beside '%s': %s", path,
                       strerror(errno));
    }
    (void)fchmod(o->fd, 0644);
    o->pos = 0;
    o->use_cfr = 1;
    return 0;
}

/* fsync + rename; on failure (or when rc < 0 already) remove the temp file. */
int pq_out_finish(struct pq_out *o, const char *path, int rc, char *err)
{
    if (rc == 0 && fsync(o->fd) < 0)
        rc = pq_fail(err, -PQ_ERR_IO, "cannot write '%s': fsync: %s", path, strerror(errno));
    if (o->fd >= 0 && close(o->fd) < 0 && rc == 0)
        rc = pq_fail(err, -PQ_ERR_IO, "cannot write '%s': close: %s", path, strerror(errno));
    o->fd = -1;
    if (rc == 0 && rename(o->tmp, path) < 0)
        rc = pq_fail(err, -PQ_ERR_IO, "cannot rename the output into '%s': %s", path,
                     strerror(errno));
    if (rc == 0) {
        char dir[PATH_MAX];
        const char *slash = strrchr(path, '/');
        snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) + (slash == path) : 1,
                 slash ? path : ".");
        (void)dir_fsync(dir);
    } else if (o->tmp[0]) {
        unlink(o->tmp);
    }
    free(o->buf);
    o->buf = NULL;
    return rc;
}

/* ---- relocation of bloom filters and page indexes -------------------------------------- */

static int read_blob(const struct pq_file *f, uint64_t off, size_t len, uint8_t **out)
{
    uint8_t *p = malloc(len ? len : 1);
    size_t got = 0;
    if (!p)
        return -ENOMEM;
    while (got < len) {
        ssize_t n = pread(f->fd, p + got, len - got, (off_t)(off + got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            free(p);
            return n < 0 ? -errno : -EIO;
        }
        got += (size_t)n;
    }
    *out = p;
    return 0;
}

static int move_bloom(struct pq_out *o, struct pq_arena *a, struct pend *p)
{
    int64_t off, len;
    uint64_t newpos;
    int rc;

    if (pq_ts_int(p->md, 14, PQ_T_I64, &off) < 0)
        return 0;
    if (pq_ts_int(p->md, 15, PQ_T_I32, &len) < 0) {
        /* length absent: BloomFilterHeader (1: numBytes) followed by the bitset */
        struct pq_arena tmp = {0};
        struct pq_tstruct *h;
        uint8_t *blob = NULL;
        size_t used, n = PQ_BLOOM_HDR_MAX;
        int64_t nb;
        if ((uint64_t)off + n > p->src->footer_off)
            n = (size_t)(p->src->footer_off - (uint64_t)off);
        len = -1;
        if (read_blob(p->src, (uint64_t)off, n, &blob) == 0 &&
            pq_thrift_parse(&tmp, blob, n, &h, &used) == 0 && pq_ts_int(h, 1, PQ_T_I32, &nb) == 0 &&
            nb > 0 && (uint64_t)off + used + (uint64_t)nb <= p->src->footer_off)
            len = (int64_t)used + nb;
        free(blob);
        pq_arena_release(&tmp);
        if (len < 0 || len > INT32_MAX) { /* cannot tell its size: drop it */
            pq_ts_del(p->md, 14);
            pq_ts_del(p->md, 15);
            return 0;
        }
    }
    newpos = o->pos;
    if ((rc = pq_out_copy(o, p->src->fd, (uint64_t)off, (uint64_t)len)) < 0)
        return rc;
    if ((rc = pq_ts_set_int(a, p->md, 14, PQ_T_I64, (int64_t)newpos)) < 0 ||
        (rc = pq_ts_set_int(a, p->md, 15, PQ_T_I32, len)) < 0)
        return rc;
    return 0;
}

static void drop_indexes(struct pq_tstruct *cc)
{
    for (int16_t id = 4; id <= 7; id++)
        pq_ts_del(cc, id);
}

/* Re-encode the offset index with every PageLocation.offset shifted by delta.
 * An index that does not parse or points outside its chunk is dropped with the
 * column index (a wrong index is worse than none). */
static int move_offset_index(struct pq_out *o, struct pq_arena *a, struct pend *p)
{
    struct pq_arena tmp = {0};
    struct pq_tstruct *oi;
    struct pq_tval *locs;
    uint8_t *blob = NULL;
    struct buf b;
    int64_t off, len;
    size_t used;
    int rc = 0, ok = 0;

    if (pq_ts_int(p->cc, 4, PQ_T_I64, &off) < 0)
        return 0;
    buf_init(&b, PQ_INDEX_MAX + 64);
    (void)pq_ts_int(p->cc, 5, PQ_T_I32, &len);
    if (len <= 0 || (uint64_t)len > PQ_INDEX_MAX)
        goto out;
    if ((rc = read_blob(p->src, (uint64_t)off, (size_t)len, &blob)) < 0)
        goto out;
    if (pq_thrift_parse(&tmp, blob, (size_t)len, &oi, &used) < 0 || used != (size_t)len ||
        !(locs = pq_ts_typed(oi, 1, PQ_T_LIST)) || locs->u.list->elem != PQ_T_STRUCT)
        goto out;
    for (uint32_t i = 0; i < locs->u.list->n; i++) {
        struct pq_tval *v = pq_ts_typed(locs->u.list->v[i].u.st, 1, PQ_T_I64);
        if (!v || v->u.i < (int64_t)p->start || (uint64_t)v->u.i >= p->start + p->len)
            goto out;
        v->u.i += p->delta; /* tmp tree: the source's footer is not touched */
    }
    if ((rc = pq_thrift_write(&b, oi)) < 0 || b.len > INT32_MAX)
        goto out;
    {
        uint64_t newpos = o->pos;
        if ((rc = pq_out_write(o, b.ptr, b.len)) < 0 ||
            (rc = pq_ts_set_int(a, p->cc, 4, PQ_T_I64, (int64_t)newpos)) < 0 ||
            (rc = pq_ts_set_int(a, p->cc, 5, PQ_T_I32, (int64_t)b.len)) < 0)
            goto out;
    }
    ok = 1;
out:
    if (rc == 0 && !ok)
        drop_indexes(p->cc);
    buf_release(&b);
    free(blob);
    pq_arena_release(&tmp);
    return rc == -PQ_ERR_CORRUPT ? 0 : rc;
}

static int move_column_index(struct pq_out *o, struct pq_arena *a, struct pend *p)
{
    int64_t off, len;
    uint64_t newpos = o->pos;
    int rc;
    if (pq_ts_int(p->cc, 6, PQ_T_I64, &off) < 0 || pq_ts_int(p->cc, 7, PQ_T_I32, &len) < 0)
        return 0;
    if ((rc = pq_out_copy(o, p->src->fd, (uint64_t)off, (uint64_t)len)) < 0)
        return rc;
    return pq_ts_set_int(a, p->cc, 6, PQ_T_I64, (int64_t)newpos);
}

/* ---- footer pieces ----------------------------------------------------------------------- */

static int shift(struct pq_arena *a, struct pq_tstruct *md, int16_t id, int64_t delta)
{
    struct pq_tval *v = pq_ts_typed(md, id, PQ_T_I64);
    (void)a;
    if (v && v->u.i > 0)
        v->u.i += delta; /* md is our clone: its field array is ours */
    return 0;
}

static int is_arrow_kv(const struct pq_tval *kv)
{
    struct pq_tval *k;
    static const char *const drop[] = {"ARROW:schema", "pandas", "geo"};
    if (kv->type != PQ_T_STRUCT || !(k = pq_ts_typed(kv->u.st, 1, PQ_T_BINARY)))
        return 0;
    for (size_t i = 0; i < sizeof drop / sizeof drop[0]; i++)
        if (k->u.bin.len == strlen(drop[i]) && memcmp(k->u.bin.ptr, drop[i], k->u.bin.len) == 0)
            return 1;
    return 0;
}

/* Schema, column_orders and key-value metadata of the projected file. */
static int project_meta(struct pq_arena *a, const struct plan *pl, struct pq_tstruct *fmd,
                        const uint8_t *keep_leaf, uint32_t nkeep_leaf)
{
    const struct pq_file *m = pl->meta;
    struct pq_tlist *sch;
    struct pq_tstruct *root;
    struct pq_tval v = {.type = PQ_T_LIST}, *co, *kv;
    uint32_t n = 0, ntop = 0;
    int rc;

    for (uint32_t i = 0; i < m->nnodes; i++)
        n += pl->keep_el[i];
    for (uint32_t c = 0; c < m->ntop; c++)
        ntop += pl->keep_el[m->top[c]];
    if (!(sch = pq_tl_new(a, PQ_T_STRUCT, n)) || !(root = pq_ts_clone(a, m->nodes[0].el)))
        return -PQ_ERR_NOMEM;
    if ((rc = pq_ts_set_int(a, root, 5, PQ_T_I32, ntop)) < 0)
        return rc;
    for (uint32_t i = 0, k = 0; i < m->nnodes; i++) {
        if (!pl->keep_el[i])
            continue;
        sch->v[k].type = PQ_T_STRUCT;
        sch->v[k++].u.st = i == 0 ? root : (struct pq_tstruct *)m->nodes[i].el;
    }
    v.u.list = sch;
    if ((rc = pq_ts_set(a, fmd, 2, v)) < 0)
        return rc;
    if ((co = pq_ts_typed(fmd, 7, PQ_T_LIST))) {
        if (co->u.list->n == m->nleaves) {
            struct pq_tlist *nl = pq_tl_new(a, co->u.list->elem, nkeep_leaf);
            if (!nl)
                return -PQ_ERR_NOMEM;
            for (uint32_t i = 0, k = 0; i < m->nleaves; i++)
                if (keep_leaf[i])
                    nl->v[k++] = co->u.list->v[i];
            v.u.list = nl;
            if ((rc = pq_ts_set(a, fmd, 7, v)) < 0)
                return rc;
        } else {
            pq_ts_del(fmd, 7);
        }
    }
    if ((kv = pq_ts_typed(fmd, 5, PQ_T_LIST))) {
        struct pq_tlist *nl = pq_tl_new(a, kv->u.list->elem, kv->u.list->n);
        if (!nl)
            return -PQ_ERR_NOMEM;
        nl->n = 0;
        for (uint32_t i = 0; i < kv->u.list->n; i++)
            if (!is_arrow_kv(&kv->u.list->v[i]))
                nl->v[nl->n++] = kv->u.list->v[i];
        if (nl->n == 0) {
            pq_ts_del(fmd, 5);
        } else {
            v.u.list = nl;
            if ((rc = pq_ts_set(a, fmd, 5, v)) < 0)
                return rc;
        }
    }
    return 0;
}

/* sorting_columns name leaf ordinals: remap them, stopping at the first dropped one
 * (the order after it no longer describes the kept columns). */
static int remap_sorting(struct pq_arena *a, struct pq_tstruct *rg, const uint8_t *keep_leaf,
                         uint32_t nleaves)
{
    struct pq_tval *sc = pq_ts_typed(rg, 4, PQ_T_LIST), v = {.type = PQ_T_LIST};
    struct pq_tlist *nl;
    if (!sc)
        return 0;
    if (!(nl = pq_tl_new(a, PQ_T_STRUCT, sc->u.list->n)))
        return -PQ_ERR_NOMEM;
    nl->n = 0;
    for (uint32_t i = 0; i < sc->u.list->n; i++) {
        struct pq_tstruct *s;
        int64_t idx;
        uint32_t newidx = 0;
        if (sc->u.list->v[i].type != PQ_T_STRUCT ||
            pq_ts_int(sc->u.list->v[i].u.st, 1, PQ_T_I32, &idx) < 0 || idx < 0 ||
            (uint64_t)idx >= nleaves || !keep_leaf[idx])
            break;
        for (int64_t k = 0; k < idx; k++)
            newidx += keep_leaf[k];
        if (!(s = pq_ts_clone(a, sc->u.list->v[i].u.st)) ||
            pq_ts_set_int(a, s, 1, PQ_T_I32, newidx) < 0)
            return -PQ_ERR_NOMEM;
        nl->v[nl->n].type = PQ_T_STRUCT;
        nl->v[nl->n++].u.st = s;
    }
    if (nl->n == 0) {
        pq_ts_del(rg, 4);
        return 0;
    }
    v.u.list = nl;
    return pq_ts_set(a, rg, 4, v);
}

/* ---- the builder ------------------------------------------------------------------------- */

static int build(const char *path, const struct plan *pl, struct pq_result *res, char *err)
{
    const struct pq_file *m = pl->meta;
    struct pq_out o = {.fd = -1};
    struct pq_arena a = {0};
    struct pq_tlist *rgl;
    struct pq_tstruct *fmd;
    struct pend *pend = NULL;
    uint8_t *keep_leaf = NULL;
    uint32_t nkeep = 0, np = 0;
    uint64_t rows = 0;
    struct buf fb;
    struct pq_tval tv;
    int rc;

    buf_init(&fb, PQ_FOOTER_MAX);
    if (pl->nrgs > PQ_ROW_GROUPS_MAX)
        return pq_fail(err, -PQ_ERR_LIMIT,
                       "the output would have %zu row groups; at most %d are supported", pl->nrgs,
                       PQ_ROW_GROUPS_MAX);
    if (!(keep_leaf = calloc(m->nleaves ? m->nleaves : 1, 1))) {
        rc = -PQ_ERR_NOMEM;
        goto out;
    }
    for (uint32_t i = 1; i < m->nnodes; i++)
        if (m->nodes[i].nchildren == 0 && (!pl->keep_el || pl->keep_el[i]))
            keep_leaf[m->nodes[i].first_leaf] = 1;
    for (uint32_t i = 0; i < m->nleaves; i++)
        nkeep += keep_leaf[i];
    if (!(pend = calloc(pl->nrgs * nkeep + 1, sizeof *pend)) || !(fmd = pq_ts_clone(&a, m->fmd)) ||
        !(rgl = pq_tl_new(&a, PQ_T_STRUCT, (uint32_t)pl->nrgs))) {
        rc = -PQ_ERR_NOMEM;
        goto out;
    }
    if ((rc = pq_out_open(&o, path, err)) < 0)
        goto out;
    if ((rc = pq_out_write(&o, "PAR1", 4)) < 0)
        goto io;

    for (size_t r = 0; r < pl->nrgs; r++) {
        struct pq_file *src = pl->rgs[r].f;
        const struct pq_tstruct *srg = src->row_groups->v[pl->rgs[r].rg].u.st;
        const struct pq_tlist *scols = pq_ts_get(srg, 1)->u.list;
        struct pq_tstruct *rg = pq_ts_clone(&a, srg);
        struct pq_tlist *cols = pq_tl_new(&a, PQ_T_STRUCT, nkeep);
        int64_t tcs = 0, tus = 0, nr = 0;
        uint64_t first = o.pos;
        if (!rg || !cols) {
            rc = -PQ_ERR_NOMEM;
            goto out;
        }
        for (uint32_t c = 0, k = 0; c < scols->n; c++) {
            struct pq_tstruct *cc, *md;
            struct pend *p = &pend[np];
            int64_t x;
            if (!keep_leaf[c])
                continue;
            cc = pq_ts_clone(&a, scols->v[c].u.st);
            md = cc ? pq_ts_clone(&a, pq_ts_get(cc, 3)->u.st) : NULL;
            if (!md) {
                rc = -PQ_ERR_NOMEM;
                goto out;
            }
            tv.type = PQ_T_STRUCT;
            tv.u.st = md;
            if ((rc = pq_ts_set(&a, cc, 3, tv)) < 0 ||
                (rc = pq_ts_set_int(&a, cc, 2, PQ_T_I64, 0)) < 0)
                goto out;
            (void)pq_chunk_range(md, &p->start, &p->len); /* validated by pq_open */
            p->delta = (int64_t)o.pos - (int64_t)p->start;
            p->src = src;
            p->cc = cc;
            p->md = md;
            np++;
            if ((rc = pq_out_copy(&o, src->fd, p->start, p->len)) < 0)
                goto io;
            shift(&a, md, 9, p->delta);
            shift(&a, md, 10, p->delta);
            shift(&a, md, 11, p->delta);
            tcs += (int64_t)p->len;
            if (pq_ts_int(md, 6, PQ_T_I64, &x) == 0)
                tus += x;
            cols->v[k].type = PQ_T_STRUCT;
            cols->v[k++].u.st = cc;
        }
        (void)pq_ts_int(rg, 3, PQ_T_I64, &nr);
        rows += (uint64_t)nr;
        tv.type = PQ_T_LIST;
        tv.u.list = cols;
        if ((rc = pq_ts_set(&a, rg, 1, tv)) < 0 ||
            (pl->keep_el && (rc = pq_ts_set_int(&a, rg, 2, PQ_T_I64, tus)) < 0) ||
            (rc = pq_ts_set_int(&a, rg, 5, PQ_T_I64, (int64_t)first)) < 0 ||
            (rc = pq_ts_set_int(&a, rg, 6, PQ_T_I64, tcs)) < 0 ||
            (rc = pq_ts_set_int(&a, rg, 7, PQ_T_I16, (int64_t)r)) < 0 ||
            (pl->keep_el && (rc = remap_sorting(&a, rg, keep_leaf, m->nleaves)) < 0))
            goto out;
        rgl->v[r].type = PQ_T_STRUCT;
        rgl->v[r].u.st = rg;
    }
    for (uint32_t i = 0; i < np; i++)
        if ((rc = move_bloom(&o, &a, &pend[i])) < 0)
            goto io_or_mem;
    for (uint32_t i = 0; i < np; i++)
        if ((rc = move_offset_index(&o, &a, &pend[i])) < 0)
            goto io_or_mem;
    for (uint32_t i = 0; i < np; i++)
        if ((rc = move_column_index(&o, &a, &pend[i])) < 0)
            goto io_or_mem;

    tv.type = PQ_T_LIST;
    tv.u.list = rgl;
    if ((rc = pq_ts_set(&a, fmd, 4, tv)) < 0 ||
        (rc = pq_ts_set_int(&a, fmd, 3, PQ_T_I64, (int64_t)rows)) < 0 ||
        (pl->keep_el && (rc = project_meta(&a, pl, fmd, keep_leaf, nkeep)) < 0))
        goto out;
    if ((rc = pq_thrift_write(&fb, fmd)) < 0) {
        rc = pq_fail(err, -PQ_ERR_LIMIT, "the output footer exceeds %u bytes", PQ_FOOTER_MAX);
        goto out;
    }
    {
        uint8_t trailer[8] = {(uint8_t)fb.len,
                              (uint8_t)(fb.len >> 8),
                              (uint8_t)(fb.len >> 16),
                              (uint8_t)(fb.len >> 24),
                              'P',
                              'A',
                              'R',
                              '1'};
        if ((rc = pq_out_write(&o, fb.ptr, fb.len)) < 0 || (rc = pq_out_write(&o, trailer, 8)) < 0)
            goto io;
    }
    if (res) {
        res->rows = rows;
        res->size = o.pos;
        res->row_groups = pl->nrgs;
    }
    rc = 0;
    goto out;
io_or_mem:
    if (rc == -PQ_ERR_NOMEM)
        goto out;
io:
    rc = pq_fail(err, -PQ_ERR_IO, "cannot write '%s': %s", path, strerror(-rc));
out:
    if (rc == -PQ_ERR_NOMEM || rc == -ENOMEM)
        rc = pq_fail(err, -PQ_ERR_NOMEM, "out of memory writing '%s'", path);
    if (o.fd >= 0)
        rc = pq_out_finish(&o, path, rc, err);
    free(o.buf);
    free(pend);
    free(keep_leaf);
    buf_release(&fb);
    pq_arena_release(&a);
    return rc;
}

/* ---- the three plans ----------------------------------------------------------------------- */

static int add_rgs(struct pq_src_rg **v, size_t *n, struct pq_file *f, size_t from, size_t to)
{
    struct pq_src_rg *nv = realloc(*v, (*n + (to - from) + 1) * sizeof **v);
    if (!nv)
        return -PQ_ERR_NOMEM;
    *v = nv;
    for (size_t i = from; i < to; i++)
        nv[(*n)++] = (struct pq_src_rg){f, (uint32_t)i};
    return 0;
}

int pq_concat(const char *out_path, struct pq_file *const *in, size_t n, struct pq_result *res,
              char *err)
{
    struct pq_src_rg *rgs = NULL;
    size_t nrgs = 0, total = 0;
    int rc;
    if (n == 0)
        return pq_fail(err, -PQ_ERR_ARG, "nothing to concatenate: no input files");
    for (size_t i = 0; i < n; i++) {
        if ((rc = pq_schema_diff(in[0], in[i], err)) < 0)
            return rc;
        total += in[i]->row_groups->n;
    }
    if (total > PQ_ROW_GROUPS_MAX)
        return pq_fail(err, -PQ_ERR_LIMIT,
                       "the inputs hold %zu row groups together; at most %d fit in one file", total,
                       PQ_ROW_GROUPS_MAX);
    for (size_t i = 0; i < n; i++)
        if ((rc = add_rgs(&rgs, &nrgs, in[i], 0, in[i]->row_groups->n)) < 0) {
            free(rgs);
            return pq_fail(err, rc, "out of memory");
        }
    struct plan pl = {in[0], rgs, nrgs, NULL};
    rc = build(out_path, &pl, res, err);
    free(rgs);
    return rc;
}

int pq_splice(const char *out_path, struct pq_file *bundle, size_t rg_begin, size_t rg_end,
              struct pq_file *with, struct pq_result *res, char *err)
{
    size_t n = bundle->row_groups->n, nrgs = 0;
    struct pq_src_rg *rgs = NULL;
    int rc;
    if (rg_begin > rg_end || rg_end > n)
        return pq_fail(err, -PQ_ERR_RANGE,
                       "row-group range %zu:%zu is outside '%s', which has %zu row groups (valid: "
                       "A:B with 0 <= A <= B <= %zu)",
                       rg_begin, rg_end, bundle->path, n, n);
    if (with && (rc = pq_schema_diff(bundle, with, err)) < 0)
        return rc;
    if ((rc = add_rgs(&rgs, &nrgs, bundle, 0, rg_begin)) < 0 ||
        (with && (rc = add_rgs(&rgs, &nrgs, with, 0, with->row_groups->n)) < 0) ||
        (rc = add_rgs(&rgs, &nrgs, bundle, rg_end, n)) < 0) {
        free(rgs);
        return pq_fail(err, rc, "out of memory");
    }
    struct plan pl = {bundle, rgs, nrgs, NULL};
    rc = build(out_path, &pl, res, err);
    free(rgs);
    return rc;
}

int pq_project(const char *out_path, struct pq_file *in, const char *const *names, size_t nnames,
               struct pq_result *res, char *err)
{
    uint8_t *keep = NULL;
    struct pq_src_rg *rgs = NULL;
    size_t nrgs = 0;
    int rc;

    if (nnames == 0)
        return pq_fail(err, -PQ_ERR_ARG, "no columns to keep");
    if (!(keep = calloc(in->nnodes, 1)))
        return pq_fail(err, -PQ_ERR_NOMEM, "out of memory");
    keep[0] = 1;
    for (size_t k = 0; k < nnames; k++) {
        int found = 0;
        for (uint32_t c = 0; c < in->ntop; c++) {
            const struct pq_node *nd = &in->nodes[in->top[c]];
            if (strcmp(nd->name, names[k]) != 0)
                continue;
            memset(keep + nd->first_el, 1, nd->nels);
            found = 1;
        }
        if (!found) {
            size_t len = 0;
            if (err) {
                len = (size_t)snprintf(err, PQ_ERRMSG_MAX,
                                       "no column '%s' in '%s'; available:", names[k], in->path);
                for (uint32_t c = 0; c < in->ntop && len < PQ_ERRMSG_MAX; c++)
                    len += (size_t)snprintf(err + len, PQ_ERRMSG_MAX - len, "%s %s", c ? "," : "",
                                            in->nodes[in->top[c]].name);
            }
            free(keep);
            return -PQ_ERR_NO_COLUMN;
        }
    }
    if ((rc = add_rgs(&rgs, &nrgs, in, 0, in->row_groups->n)) < 0) {
        free(keep);
        return pq_fail(err, rc, "out of memory");
    }
    struct plan pl = {in, rgs, nrgs, keep};
    rc = build(out_path, &pl, res, err);
    free(rgs);
    free(keep);
    return rc;
}
