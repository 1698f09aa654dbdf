/* pq_write.c -- a small Parquet writer for demo and test data, and the market-data
 * generator behind `tollgate parquet gen`.
 *
 * What it writes (notes/parquet.md A6): one DATA_PAGE v1 per column per row group,
 * PLAIN values, UNCOMPRESSED, definition levels as bit-packed RLE-hybrid runs with
 * a 4-byte length (optional columns only), no statistics. Schema elements carry
 * both ConvertedType and LogicalType so old and new readers agree. Field order in
 * every struct follows the reference bytes in the notes: the 10-row demo file
 * written through this code is byte-identical to the one checked with DuckDB,
 * hyparquet and parquet-wasm (tests/unit/test_pq_write.c).
 *
 * Memory: one row group's page (per column) at a time plus the footer tree. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pq_int.h"

#define PQ_NAME_MAX 1024

struct pidx {
    struct pq_tstruct *cc;
    size_t ci_off, ci_len, oi_off, oi_len; /* in pq_writer.ci / .oi */
};

struct pq_writer {
    char *path;
    struct pq_wopts opts;
    struct buf ci, oi; /* serialized column / offset indexes, written at close */
    struct pidx *pidx;
    size_t npidx, cappidx;
    struct pq_out out;
    struct pq_arena a;
    struct pq_wcol *cols;
    size_t ncols;
    char *created_by;
    struct pq_tval *rgs; /* RowGroup structs, grown */
    size_t nrgs, caprgs;
    uint64_t rows;
    struct buf page, hdr;
};

static const int32_t phys[] = {
    [PQ_W_BOOLEAN] = 0,   [PQ_W_INT32] = 1,  [PQ_W_DATE] = 1,   [PQ_W_INT64] = 2,
    [PQ_W_TIMESTAMP] = 2, [PQ_W_DOUBLE] = 5, [PQ_W_STRING] = 6,
};

void pq_writer_abort(struct pq_writer *w)
{
    if (!w)
        return;
    if (w->out.fd >= 0)
        (void)pq_out_finish(&w->out, w->path, -PQ_ERR_ARG, NULL);
    for (size_t i = 0; i < w->ncols; i++)
        free((char *)w->cols[i].name);
    free(w->cols);
    free(w->created_by);
    free(w->rgs);
    free(w->path);
    buf_release(&w->page);
    buf_release(&w->hdr);
    buf_release(&w->ci);
    buf_release(&w->oi);
    free(w->pidx);
    pq_arena_release(&w->a);
    free(w);
}

int pq_writer_open(const char *path, const struct pq_wcol *cols, size_t ncols,
                   const struct pq_wopts *opts, struct pq_writer **out, char *err)
{
    struct pq_writer *w;
    int rc;

    if (ncols == 0 || ncols > PQ_WRITER_COLS_MAX)
        return pq_fail(err, -PQ_ERR_ARG, "a Parquet file needs 1 to %d columns, not %zu",
                       PQ_WRITER_COLS_MAX, ncols);
    for (size_t i = 0; i < ncols; i++) {
        if (!cols[i].name || !cols[i].name[0] || strlen(cols[i].name) > PQ_NAME_MAX ||
            (unsigned)cols[i].type > PQ_W_STRING)
            return pq_fail(err, -PQ_ERR_ARG, "column %zu: bad name or type", i + 1);
        for (size_t j = 0; j < i; j++)
            if (strcmp(cols[i].name, cols[j].name) == 0)
                return pq_fail(err, -PQ_ERR_ARG, "column name '%s' appears twice", cols[i].name);
    }
    if (!(w = calloc(1, sizeof *w)))
        return pq_fail(err, -PQ_ERR_NOMEM, "out of memory");
    w->out.fd = -1;
    buf_init(&w->page, PQ_WRITER_PAGE_MAX);
    buf_init(&w->hdr, 4096);
    buf_init(&w->ci, PQ_FOOTER_MAX);
    buf_init(&w->oi, PQ_FOOTER_MAX);
    if (opts)
        w->opts = *opts;
    if (!(w->path = strdup(path)) || !(w->cols = calloc(ncols, sizeof *w->cols)) ||
        !(w->created_by = strdup(opts && opts->created_by ? opts->created_by : "tollgate"))) {
        pq_writer_abort(w);
        return pq_fail(err, -PQ_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < ncols; i++) {
        w->cols[i] = cols[i];
        if (!(w->cols[i].name = strdup(cols[i].name))) {
            pq_writer_abort(w);
            return pq_fail(err, -PQ_ERR_NOMEM, "out of memory");
        }
        w->ncols = i + 1;
    }
    if ((rc = pq_out_open(&w->out, path, err)) < 0 || (rc = pq_out_write(&w->out, "PAR1", 4)) < 0) {
        if (rc != -PQ_ERR_ARG && rc != -PQ_ERR_IO)
            rc = pq_fail(err, -PQ_ERR_IO, "cannot write '%s': %s", path, strerror(-rc));
        pq_writer_abort(w);
        return rc;
    }
    *out = w;
    return 0;
}

/* ---- tree building shorthands (all in the writer's arena) ---------------------------- */

static struct pq_tstruct *st_new(struct pq_writer *w)
{
    return pq_ts_new(&w->a, 8);
}

static int add_int(struct pq_writer *w, struct pq_tstruct *s, int16_t id, uint8_t t, int64_t v)
{
    return pq_ts_set_int(&w->a, s, id, t, v);
}

static int add_struct(struct pq_writer *w, struct pq_tstruct *s, int16_t id, struct pq_tstruct *v)
{
    struct pq_tval tv = {.type = PQ_T_STRUCT};
    if (!v)
        return -PQ_ERR_NOMEM;
    tv.u.st = v;
    return pq_ts_set(&w->a, s, id, tv);
}

static int add_list(struct pq_writer *w, struct pq_tstruct *s, int16_t id, struct pq_tlist *l)
{
    struct pq_tval tv = {.type = PQ_T_LIST};
    if (!l)
        return -PQ_ERR_NOMEM;
    tv.u.list = l;
    return pq_ts_set(&w->a, s, id, tv);
}

static int add_bin(struct pq_writer *w, struct pq_tstruct *s, int16_t id, const char *p)
{
    struct pq_tval tv = {.type = PQ_T_BINARY};
    tv.u.bin.ptr = (const uint8_t *)p;
    tv.u.bin.len = (uint32_t)strlen(p);
    return pq_ts_set(&w->a, s, id, tv);
}

/* ---- pages ---------------------------------------------------------------------------- */

static int put_le(struct buf *b, uint64_t v, int n)
{
    uint8_t le[8];
    for (int i = 0; i < n; i++)
        le[i] = (uint8_t)(v >> (8 * i));
    return buf_add(b, le, (size_t)n);
}

static int put_varint(struct buf *b, uint64_t v)
{
    do {
        uint8_t c = v & 0x7f;
        v >>= 7;
        if (v)
            c |= 0x80;
        if (buf_addc(b, (char)c) < 0)
            return -PQ_ERR_NOMEM;
    } while (v);
    return 0;
}

/* Definition levels (max level 1): 4-byte length, then one bit-packed run. */
static int put_def_levels(struct buf *b, size_t n, const struct pq_value *v)
{
    size_t groups = (n + 7) / 8, lenpos = b->len;
    int rc;
    if ((rc = put_le(b, 0, 4)) < 0 || (rc = put_varint(b, (uint64_t)groups << 1 | 1)) < 0)
        return -PQ_ERR_NOMEM;
    for (size_t g = 0; g < groups; g++) {
        uint8_t byte = 0;
        for (size_t k = 0; k < 8 && g * 8 + k < n; k++)
            byte |= (uint8_t)(!v[g * 8 + k].null << k);
        if (buf_addc(b, (char)byte) < 0)
            return -PQ_ERR_NOMEM;
    }
    size_t len = b->len - lenpos - 4;
    for (int i = 0; i < 4; i++)
        b->ptr[lenpos + i] = (char)(len >> (8 * i));
    return 0;
}

static int put_values(struct buf *b, const struct pq_wcol *c, size_t n, const struct pq_value *v)
{
    int rc = 0;
    if (c->type == PQ_W_BOOLEAN) {
        uint8_t byte = 0;
        int bit = 0;
        for (size_t r = 0; r < n; r++) {
            if (v[r].null)
                continue;
            byte |= (uint8_t)((v[r].u.b ? 1 : 0) << bit);
            if (++bit == 8) {
                if (buf_addc(b, (char)byte) < 0)
                    return -PQ_ERR_NOMEM;
                byte = 0;
                bit = 0;
            }
        }
        return bit && buf_addc(b, (char)byte) < 0 ? -PQ_ERR_NOMEM : 0;
    }
    for (size_t r = 0; r < n && rc == 0; r++) {
        uint64_t u;
        if (v[r].null)
            continue;
        switch (c->type) {
        case PQ_W_INT32:
        case PQ_W_DATE:
            rc = put_le(b, (uint32_t)v[r].u.i32, 4);
            break;
        case PQ_W_INT64:
        case PQ_W_TIMESTAMP:
            rc = put_le(b, (uint64_t)v[r].u.i64, 8);
            break;
        case PQ_W_DOUBLE:
            memcpy(&u, &v[r].u.d, 8);
            rc = put_le(b, u, 8);
            break;
        case PQ_W_STRING:
            if (v[r].u.s.len > UINT32_MAX)
                return -PQ_ERR_LIMIT;
            if ((rc = put_le(b, v[r].u.s.len, 4)) == 0 && v[r].u.s.len)
                rc = buf_add(b, v[r].u.s.ptr, v[r].u.s.len);
            break;
        default:
            return -PQ_ERR_ARG;
        }
    }
    return rc < 0 ? (rc == -PQ_ERR_LIMIT ? rc : -PQ_ERR_LIMIT) : 0;
}

static int cmp_val(enum pq_wtype t, const struct pq_value *a, const struct pq_value *b)
{
    switch (t) {
    case PQ_W_BOOLEAN:
        return (a->u.b != 0) - (b->u.b != 0);
    case PQ_W_INT32:
    case PQ_W_DATE:
        return (a->u.i32 > b->u.i32) - (a->u.i32 < b->u.i32);
    case PQ_W_INT64:
    case PQ_W_TIMESTAMP:
        return (a->u.i64 > b->u.i64) - (a->u.i64 < b->u.i64);
    case PQ_W_DOUBLE:
        return (a->u.d > b->u.d) - (a->u.d < b->u.d);
    default: {
        size_t n = a->u.s.len < b->u.s.len ? a->u.s.len : b->u.s.len;
        int c = n ? memcmp(a->u.s.ptr, b->u.s.ptr, n) : 0;
        return c ? c : (a->u.s.len > b->u.s.len) - (a->u.s.len < b->u.s.len);
    }
    }
}

/* PLAIN bytes of one value (no length prefix for strings), copied into the arena. */
static int stat_val(struct pq_arena *a, enum pq_wtype t, const struct pq_value *v,
                    struct pq_tval *out)
{
    uint8_t le[8];
    const void *src = le;
    size_t n;
    uint64_t u;
    switch (t) {
    case PQ_W_BOOLEAN:
        le[0] = v->u.b ? 1 : 0;
        n = 1;
        break;
    case PQ_W_INT32:
    case PQ_W_DATE:
        for (int i = 0; i < 4; i++)
            le[i] = (uint8_t)((uint32_t)v->u.i32 >> (8 * i));
        n = 4;
        break;
    case PQ_W_DOUBLE:
        memcpy(&u, &v->u.d, 8);
        goto le8;
    case PQ_W_INT64:
    case PQ_W_TIMESTAMP:
        u = (uint64_t)v->u.i64;
    le8:
        for (int i = 0; i < 8; i++)
            le[i] = (uint8_t)(u >> (8 * i));
        n = 8;
        break;
    default:
        src = v->u.s.ptr;
        n = v->u.s.len;
        if (n > PQ_INDEX_MAX / 4)
            return -PQ_ERR_LIMIT;
    }
    uint8_t *p = pq_arena_alloc(a, n);
    if (!p)
        return -PQ_ERR_NOMEM;
    if (n)
        memcpy(p, src, n);
    out->type = PQ_T_BINARY;
    out->u.bin.ptr = p;
    out->u.bin.len = (uint32_t)n;
    return 0;
}

/* Serialize a tree into one of the writer's index buffers; remember where. */
static int stash(struct buf *b, struct pq_tstruct *s, size_t *off, size_t *len)
{
    size_t at = b->len;
    if (pq_thrift_write(b, s) < 0)
        return -PQ_ERR_LIMIT;
    *off = at;
    *len = b->len - at;
    return 0;
}

/* Write one column chunk as one or more data pages; returns its ColumnChunk and
 * queues its page indexes (written by pq_writer_close). */
static int write_chunk(struct pq_writer *w, const struct pq_wcol *c, size_t n,
                       const struct pq_value *v, struct pq_tstruct **out, int64_t *size)
{
    struct pq_tstruct *md = st_new(w), *cc = st_new(w), *oi = NULL, *ci = NULL;
    struct pq_tlist *enc = pq_tl_new(&w->a, PQ_T_I32, 2), *path = pq_tl_new(&w->a, PQ_T_BINARY, 1);
    struct pq_tlist *locs = NULL, *nullp = NULL, *mins = NULL, *maxs = NULL, *nulls = NULL;
    struct pq_arena ta = {0};
    size_t per = w->opts.page_rows ? w->opts.page_rows : n, npages = (n + per - 1) / per;
    uint64_t first = w->out.pos;
    int rc;

    *size = 0;
    if (!md || !cc || !enc || !path)
        return -PQ_ERR_NOMEM;
    if (w->opts.page_index) {
        if (npages > UINT32_MAX / 2 || !(oi = pq_ts_new(&ta, 2)) || !(ci = pq_ts_new(&ta, 6)) ||
            !(locs = pq_tl_new(&ta, PQ_T_STRUCT, (uint32_t)npages)) ||
            !(nullp = pq_tl_new(&ta, PQ_T_BOOL, (uint32_t)npages)) ||
            !(mins = pq_tl_new(&ta, PQ_T_BINARY, (uint32_t)npages)) ||
            !(maxs = pq_tl_new(&ta, PQ_T_BINARY, (uint32_t)npages)) ||
            !(nulls = pq_tl_new(&ta, PQ_T_I64, (uint32_t)npages))) {
            rc = -PQ_ERR_NOMEM;
            goto out;
        }
    }
    for (size_t pg = 0; pg < npages; pg++) {
        size_t r0 = pg * per, cnt = n - r0 < per ? n - r0 : per;
        struct pq_tstruct *ph = st_new(w), *dph = st_new(w);
        uint64_t at = w->out.pos;
        if (!ph || !dph) {
            rc = -PQ_ERR_NOMEM;
            goto out;
        }
        buf_reset(&w->page);
        buf_reset(&w->hdr);
        if ((c->optional && (rc = put_def_levels(&w->page, cnt, v + r0)) < 0) ||
            (rc = put_values(&w->page, c, cnt, v + r0)) < 0)
            goto out;
        if (w->page.len > INT32_MAX) {
            rc = -PQ_ERR_LIMIT;
            goto out;
        }
        if ((rc = add_int(w, ph, 1, PQ_T_I32, 0)) < 0 ||
            (rc = add_int(w, ph, 2, PQ_T_I32, (int64_t)w->page.len)) < 0 ||
            (rc = add_int(w, ph, 3, PQ_T_I32, (int64_t)w->page.len)) < 0 ||
            (rc = add_int(w, dph, 1, PQ_T_I32, (int64_t)cnt)) < 0 ||
            (rc = add_int(w, dph, 2, PQ_T_I32, 0)) < 0 ||
            (rc = add_int(w, dph, 3, PQ_T_I32, 3)) < 0 ||
            (rc = add_int(w, dph, 4, PQ_T_I32, 3)) < 0 || (rc = add_struct(w, ph, 5, dph)) < 0)
            goto out;
        if (pq_thrift_write(&w->hdr, ph) < 0) {
            rc = -PQ_ERR_NOMEM;
            goto out;
        }
        if (pq_out_write(&w->out, w->hdr.ptr, w->hdr.len) < 0 ||
            pq_out_write(&w->out, w->page.ptr, w->page.len) < 0) {
            rc = -PQ_ERR_IO;
            goto out;
        }
        *size += (int64_t)(w->hdr.len + w->page.len);
        if (w->opts.page_index) {
            const struct pq_value *lo = NULL, *hi = NULL;
            struct pq_tstruct *loc = pq_ts_new(&ta, 3);
            int64_t nn = 0;
            if (!loc || pq_ts_set_int(&ta, loc, 1, PQ_T_I64, (int64_t)at) < 0 ||
                pq_ts_set_int(&ta, loc, 2, PQ_T_I32, (int64_t)(w->hdr.len + w->page.len)) < 0 ||
                pq_ts_set_int(&ta, loc, 3, PQ_T_I64, (int64_t)r0) < 0) {
                rc = -PQ_ERR_NOMEM;
                goto out;
            }
            locs->v[pg].type = PQ_T_STRUCT;
            locs->v[pg].u.st = loc;
            for (size_t r = r0; r < r0 + cnt; r++) {
                if (v[r].null) {
                    nn++;
                    continue;
                }
                if (!lo || cmp_val(c->type, &v[r], lo) < 0)
                    lo = &v[r];
                if (!hi || cmp_val(c->type, &v[r], hi) > 0)
                    hi = &v[r];
            }
            nullp->v[pg].type = PQ_T_BOOL;
            nullp->v[pg].u.i = lo == NULL;
            nulls->v[pg].type = PQ_T_I64;
            nulls->v[pg].u.i = nn;
            mins->v[pg].type = maxs->v[pg].type = PQ_T_BINARY;
            if (lo && ((rc = stat_val(&ta, c->type, lo, &mins->v[pg])) < 0 ||
                       (rc = stat_val(&ta, c->type, hi, &maxs->v[pg])) < 0))
                goto out;
        }
    }
    enc->v[0].type = enc->v[1].type = PQ_T_I32;
    enc->v[0].u.i = 0; /* PLAIN */
    enc->v[1].u.i = 3; /* RLE (levels) */
    path->v[0].type = PQ_T_BINARY;
    path->v[0].u.bin.ptr = (const uint8_t *)c->name;
    path->v[0].u.bin.len = (uint32_t)strlen(c->name);
    if ((rc = add_int(w, md, 1, PQ_T_I32, phys[c->type])) < 0 ||
        (rc = add_list(w, md, 2, enc)) < 0 || (rc = add_list(w, md, 3, path)) < 0 ||
        (rc = add_int(w, md, 4, PQ_T_I32, 0)) < 0 ||
        (rc = add_int(w, md, 5, PQ_T_I64, (int64_t)n)) < 0 ||
        (rc = add_int(w, md, 6, PQ_T_I64, *size)) < 0 ||
        (rc = add_int(w, md, 7, PQ_T_I64, *size)) < 0 ||
        (rc = add_int(w, md, 9, PQ_T_I64, (int64_t)first)) < 0 ||
        (rc = add_int(w, cc, 2, PQ_T_I64, 0)) < 0 || (rc = add_struct(w, cc, 3, md)) < 0)
        goto out;
    if (w->opts.page_index) {
        struct pq_tval lv = {.type = PQ_T_LIST};
        struct pidx *pi;
        if (w->npidx == w->cappidx) {
            size_t cap = w->cappidx ? w->cappidx * 2 : 16;
            struct pidx *np = realloc(w->pidx, cap * sizeof *np);
            if (!np) {
                rc = -PQ_ERR_NOMEM;
                goto out;
            }
            w->pidx = np;
            w->cappidx = cap;
        }
        pi = &w->pidx[w->npidx];
        pi->cc = cc;
        lv.u.list = locs;
        if ((rc = pq_ts_set(&ta, oi, 1, lv)) < 0)
            goto out;
        lv.u.list = nullp;
        if ((rc = pq_ts_set(&ta, ci, 1, lv)) < 0)
            goto out;
        lv.u.list = mins;
        if ((rc = pq_ts_set(&ta, ci, 2, lv)) < 0)
            goto out;
        lv.u.list = maxs;
        if ((rc = pq_ts_set(&ta, ci, 3, lv)) < 0 ||
            (rc = pq_ts_set_int(&ta, ci, 4, PQ_T_I32, 0)) < 0) /* UNORDERED */
            goto out;
        lv.u.list = nulls;
        if ((rc = pq_ts_set(&ta, ci, 5, lv)) < 0 ||
            (rc = stash(&w->ci, ci, &pi->ci_off, &pi->ci_len)) < 0 ||
            (rc = stash(&w->oi, oi, &pi->oi_off, &pi->oi_len)) < 0)
            goto out;
        w->npidx++;
    }
    *out = cc;
    rc = 0;
out:
    pq_arena_release(&ta);
    return rc;
}

int pq_writer_add(struct pq_writer *w, size_t nrows, const struct pq_value *const *vals, char *err)
{
    struct pq_tstruct *rg;
    struct pq_tlist *cols;
    int64_t total = 0;
    uint64_t first = w->out.pos;
    int rc;

    if (w->nrgs >= PQ_ROW_GROUPS_MAX)
        return pq_fail(err, -PQ_ERR_LIMIT, "at most %d row groups", PQ_ROW_GROUPS_MAX);
    if (nrows == 0 || nrows > INT32_MAX)
        return pq_fail(err, -PQ_ERR_ARG, "a row group needs 1 to %d rows", INT32_MAX);
    for (size_t c = 0; c < w->ncols; c++)
        if (!w->cols[c].optional)
            for (size_t r = 0; r < nrows; r++)
                if (vals[c][r].null)
                    return pq_fail(err, -PQ_ERR_ARG, "column '%s' is required but row %zu is null",
                                   w->cols[c].name, r);
    if (w->nrgs == w->caprgs) {
        size_t cap = w->caprgs ? w->caprgs * 2 : 8;
        struct pq_tval *n = realloc(w->rgs, cap * sizeof *n);
        if (!n)
            return pq_fail(err, -PQ_ERR_NOMEM, "out of memory");
        w->rgs = n;
        w->caprgs = cap;
    }
    if (!(rg = st_new(w)) || !(cols = pq_tl_new(&w->a, PQ_T_STRUCT, (uint32_t)w->ncols)))
        return pq_fail(err, -PQ_ERR_NOMEM, "out of memory");
    for (size_t c = 0; c < w->ncols; c++) {
        int64_t size;
        cols->v[c].type = PQ_T_STRUCT;
        if ((rc = write_chunk(w, &w->cols[c], nrows, vals[c], &cols->v[c].u.st, &size)) < 0)
            return pq_fail(err, rc, "cannot write column '%s' of '%s': %s", w->cols[c].name,
                           w->path, rc == -PQ_ERR_IO ? strerror(errno) : pq_strerror(rc));
        total += size;
    }
    if ((rc = add_list(w, rg, 1, cols)) < 0 || (rc = add_int(w, rg, 2, PQ_T_I64, total)) < 0 ||
        (rc = add_int(w, rg, 3, PQ_T_I64, (int64_t)nrows)) < 0 ||
        (rc = add_int(w, rg, 5, PQ_T_I64, (int64_t)first)) < 0 ||
        (rc = add_int(w, rg, 6, PQ_T_I64, total)) < 0 ||
        (rc = add_int(w, rg, 7, PQ_T_I16, (int64_t)w->nrgs)) < 0)
        return pq_fail(err, rc, "out of memory");
    w->rgs[w->nrgs].type = PQ_T_STRUCT;
    w->rgs[w->nrgs++].u.st = rg;
    w->rows += nrows;
    return 0;
}

static struct pq_tstruct *schema_el(struct pq_writer *w, const struct pq_wcol *c)
{
    struct pq_tstruct *e = st_new(w), *lt = st_new(w), *m = st_new(w);
    int conv = -1, ltid = 0;
    if (!e || !lt || !m)
        return NULL;
    if (add_int(w, e, 1, PQ_T_I32, phys[c->type]) < 0 ||
        add_int(w, e, 3, PQ_T_I32, c->optional ? 1 : 0) < 0 || add_bin(w, e, 4, c->name) < 0)
        return NULL;
    switch (c->type) {
    case PQ_W_STRING:
        conv = 0;
        ltid = 1;
        break;
    case PQ_W_DATE:
        conv = 6;
        ltid = 6;
        break;
    case PQ_W_TIMESTAMP: {
        struct pq_tstruct *unit = st_new(w);
        conv = 10;
        ltid = 8;
        if (add_int(w, m, 1, PQ_T_BOOL, 1) < 0 || add_struct(w, unit, 2, st_new(w)) < 0 ||
            add_struct(w, m, 2, unit) < 0)
            return NULL;
        break;
    }
    default:
        return e;
    }
    if (add_int(w, e, 6, PQ_T_I32, conv) < 0 || add_struct(w, lt, (int16_t)ltid, m) < 0 ||
        add_struct(w, e, 10, lt) < 0)
        return NULL;
    return e;
}

int pq_writer_close(struct pq_writer *w, struct pq_result *res, char *err)
{
    struct pq_tstruct *fmd = st_new(w), *root = st_new(w);
    struct pq_tlist *sch = pq_tl_new(&w->a, PQ_T_STRUCT, (uint32_t)w->ncols + 1);
    struct pq_tlist *rgs = pq_tl_new(&w->a, PQ_T_STRUCT, (uint32_t)w->nrgs);
    struct buf fb;
    int rc;

    buf_init(&fb, PQ_FOOTER_MAX);
    if (!fmd || !root || !sch || !rgs || add_bin(w, root, 4, "schema") < 0 ||
        add_int(w, root, 5, PQ_T_I32, (int64_t)w->ncols) < 0) {
        rc = pq_fail(err, -PQ_ERR_NOMEM, "out of memory");
        goto out;
    }
    sch->v[0].type = PQ_T_STRUCT;
    sch->v[0].u.st = root;
    for (size_t c = 0; c < w->ncols; c++) {
        sch->v[c + 1].type = PQ_T_STRUCT;
        if (!(sch->v[c + 1].u.st = schema_el(w, &w->cols[c]))) {
            rc = pq_fail(err, -PQ_ERR_NOMEM, "out of memory");
            goto out;
        }
    }
    if (w->nrgs)
        memcpy(rgs->v, w->rgs, w->nrgs * sizeof *w->rgs);
    if (w->npidx) {
        uint64_t ci_at = w->out.pos, oi_at = ci_at + w->ci.len;
        if ((rc = pq_out_write(&w->out, w->ci.ptr, w->ci.len)) < 0 ||
            (rc = pq_out_write(&w->out, w->oi.ptr, w->oi.len)) < 0) {
            rc = pq_fail(err, -PQ_ERR_IO, "cannot write '%s': %s", w->path, strerror(-rc));
            goto out;
        }
        for (size_t i = 0; i < w->npidx; i++) {
            struct pidx *p = &w->pidx[i];
            if (add_int(w, p->cc, 4, PQ_T_I64, (int64_t)(oi_at + p->oi_off)) < 0 ||
                add_int(w, p->cc, 5, PQ_T_I32, (int64_t)p->oi_len) < 0 ||
                add_int(w, p->cc, 6, PQ_T_I64, (int64_t)(ci_at + p->ci_off)) < 0 ||
                add_int(w, p->cc, 7, PQ_T_I32, (int64_t)p->ci_len) < 0) {
                rc = pq_fail(err, -PQ_ERR_NOMEM, "out of memory");
                goto out;
            }
        }
    }
    if (add_int(w, fmd, 1, PQ_T_I32, 1) < 0 || add_list(w, fmd, 2, sch) < 0 ||
        add_int(w, fmd, 3, PQ_T_I64, (int64_t)w->rows) < 0 || add_list(w, fmd, 4, rgs) < 0 ||
        add_bin(w, fmd, 6, w->created_by) < 0 || pq_thrift_write(&fb, fmd) < 0) {
        rc = pq_fail(err, -PQ_ERR_NOMEM, "out of memory");
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
        if ((rc = pq_out_write(&w->out, fb.ptr, fb.len)) < 0 ||
            (rc = pq_out_write(&w->out, trailer, 8)) < 0) {
            rc = pq_fail(err, -PQ_ERR_IO, "cannot write '%s': %s", w->path, strerror(-rc));
            goto out;
        }
    }
    if (res) {
        res->rows = w->rows;
        res->size = w->out.pos;
        res->row_groups = w->nrgs;
    }
    rc = 0;
out:
    rc = pq_out_finish(&w->out, w->path, rc, err);
    w->out.fd = -1;
    buf_release(&fb);
    pq_writer_abort(w);
    return rc;
}

/* ---- the market-data generator ------------------------------------------------------------ */

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double unit(uint64_t *s)
{
    return (double)(splitmix(s) >> 11) * (1.0 / 9007199254740992.0);
}

static const char *const symbols[] = {"AAPL",  "MSFT", "NVDA", "AMZN", "GOOG", "META", "TSLA",
                                      "BRK.B", "JPM",  "V",    "XOM",  "UNH",  "ÉLF",  "ASML"};
#define NSYM (sizeof symbols / sizeof symbols[0])

int pq_gen(const char *path, const struct pq_gen_opts *o, struct pq_result *res, char *err)
{
    static const struct pq_wcol cols[] = {
        {"ts", PQ_W_TIMESTAMP, 0},   {"symbol", PQ_W_STRING, 0},    {"price", PQ_W_DOUBLE, 0},
        {"volume", PQ_W_INT64, 0},   {"sentiment", PQ_W_DOUBLE, 1}, {"day", PQ_W_DATE, 0},
        {"halted", PQ_W_BOOLEAN, 0},
    };
    enum { NC = sizeof cols / sizeof cols[0] };
    struct pq_value *v[NC] = {0};
    struct pq_writer *w = NULL;
    uint64_t group = o->rows_per_group ? o->rows_per_group : PQ_GEN_GROUP_ROWS;
    uint64_t seed = o->seed * 0x2545f4914f6cdd1dull + 1, done = 0;
    double price[NSYM];
    int rc;

    if (o->rows == 0 || o->rows > PQ_GEN_ROWS_MAX)
        return pq_fail(err, -PQ_ERR_ARG, "--rows must be between 1 and %llu",
                       (unsigned long long)PQ_GEN_ROWS_MAX);
    if (group > o->rows)
        group = o->rows;
    if (group > 1000000)
        group = 1000000;
    for (size_t c = 0; c < NC; c++)
        if (!(v[c] = calloc(group, sizeof *v[c]))) {
            rc = pq_fail(err, -PQ_ERR_NOMEM, "out of memory");
            goto out;
        }
    for (size_t s = 0; s < NSYM; s++)
        price[s] = 20 + 480 * unit(&seed);
    struct pq_wopts wo = {"tollgate parquet gen", o->page_rows, o->page_index};
    if ((rc = pq_writer_open(path, cols, NC, &wo, &w, err)) < 0)
        goto out;
    while (done < o->rows) {
        size_t n = (size_t)(o->rows - done < group ? o->rows - done : group);
        for (size_t r = 0; r < n; r++) {
            uint64_t i = done + r;
            size_t s = (size_t)(splitmix(&seed) % NSYM);
            price[s] *= 1 + (unit(&seed) - 0.5) * 0.002;
            v[0][r].u.i64 = (int64_t)o->day * 86400000000ll +
                            (int64_t)((long double)i * 86400000000.0L / (long double)o->rows);
            v[1][r].u.s.ptr = symbols[s];
            v[1][r].u.s.len = strlen(symbols[s]);
            v[2][r].u.d = round(price[s] * 100) / 100;
            v[3][r].u.i64 = 1 + (int64_t)(splitmix(&seed) % 10000);
            v[4][r].null = unit(&seed) < 0.15;
            v[4][r].u.d = round((unit(&seed) * 2 - 1) * 1000) / 1000;
            v[5][r].u.i32 = o->day;
            v[6][r].u.b = unit(&seed) < 0.01;
        }
        const struct pq_value *cv[NC];
        for (size_t c = 0; c < NC; c++)
            cv[c] = v[c];
        if ((rc = pq_writer_add(w, n, cv, err)) < 0)
            goto out;
        done += n;
    }
    rc = pq_writer_close(w, res, err);
    w = NULL;
out:
    pq_writer_abort(w);
    for (size_t c = 0; c < NC; c++)
        free(v[c]);
    return rc;
}
