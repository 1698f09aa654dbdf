/* pq_thrift.c -- the Thrift compact protocol as a generic tree, plus the arena
 * the tree lives in and the module's error strings.
 *
 * Invariants: the parser never reads outside [p, p+len), bounds recursion to
 * PQ_THRIFT_DEPTH_MAX, and bounds every count by the bytes left (each element
 * takes at least one byte), so a hostile footer costs at most O(len) memory and
 * time. Reading accepts what Apache Thrift writers produce, including bool list
 * elements typed 1 or 2 (true iff the byte is 1); writing emits bool elements
 * with type 1 and values 1/2, like C++ and Rust Thrift. Re-encoding a parsed
 * struct reproduces the input bytes (same field order, same short/long field
 * headers when the deltas allow it). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pq_int.h"

/* ---- errors ---------------------------------------------------------------------- */

const char *pq_strerror(int rc)
{
    switch (-rc) {
#define PQ_ERR_CASE(name, code, msg)                                                               \
    case code:                                                                                     \
        return msg;
        PQ_ERRORS(PQ_ERR_CASE)
#undef PQ_ERR_CASE
    default:
        return err_message(rc);
    }
}

int pq_fail(char *err, int rc, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, PQ_ERRMSG_MAX, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* ---- arena ----------------------------------------------------------------------- */

struct pq_arena_blk {
    struct pq_arena_blk *next;
    size_t used, cap;
    max_align_t data[];
};
#define PQ_ARENA_BLK (64u << 10)

void *pq_arena_alloc(struct pq_arena *a, size_t n)
{
    struct pq_arena_blk *b = a->head;
    n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    if (n == 0)
        n = sizeof(max_align_t);
    if (!b || b->cap - b->used < n) {
        size_t cap = n > PQ_ARENA_BLK ? n : PQ_ARENA_BLK;
        if (n > PQ_ARENA_MAX || a->total + cap > PQ_ARENA_MAX)
            return NULL;
        b = malloc(sizeof *b + cap);
        if (!b)
            return NULL;
        b->used = 0;
        b->cap = cap;
        /* a big one-off block goes behind the current one so its space stays usable */
        if (a->head && cap == n) {
            b->next = a->head->next;
            a->head->next = b;
        } else {
            b->next = a->head;
            a->head = b;
        }
        a->total += cap;
    }
    void *p = (char *)b->data + b->used;
    b->used += n;
    memset(p, 0, n);
    return p;
}

void pq_arena_release(struct pq_arena *a)
{
    if (!a)
        return;
    while (a->head) {
        struct pq_arena_blk *n = a->head->next;
        free(a->head);
        a->head = n;
    }
    a->total = 0;
}

/* ---- decoding -------------------------------------------------------------------- */

struct rd {
    const uint8_t *p, *end;
    struct pq_arena *a;
    int depth;
};

static int rd_varint(struct rd *r, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (r->p >= r->end)
            return -PQ_ERR_CORRUPT;
        uint8_t c = *r->p++;
        if (shift == 63 && (c & 0x7e))
            return -PQ_ERR_CORRUPT; /* more than 64 bits */
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -PQ_ERR_CORRUPT; /* over 10 bytes */
}

static int64_t unzigzag(uint64_t u)
{
    return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

static int rd_zigzag(struct rd *r, int bits, int64_t *out)
{
    uint64_t u;
    int rc = rd_varint(r, &u);
    if (rc < 0)
        return rc;
    if (bits < 64 && (u >> bits) != 0)
        return -PQ_ERR_CORRUPT; /* does not fit the declared width */
    *out = unzigzag(u);
    return 0;
}

static int rd_struct(struct rd *r, struct pq_tstruct **out);

static int rd_value(struct rd *r, uint8_t type, struct pq_tval *v);

static int rd_list(struct rd *r, uint8_t kind, struct pq_tlist **out)
{
    struct pq_tlist *l;
    uint64_t n;
    uint8_t et, et2 = 0;
    int rc;

    if (kind == PQ_T_MAP) {
        if ((rc = rd_varint(r, &n)) < 0)
            return rc;
        if (n == 0) {
            et = et2 = 0;
        } else {
            if (r->p >= r->end)
                return -PQ_ERR_CORRUPT;
            et = *r->p >> 4;
            et2 = *r->p & 15;
            r->p++;
        }
        if (n > (uint64_t)(r->end - r->p) / 2)
            return -PQ_ERR_CORRUPT;
        n *= 2;
    } else {
        if (r->p >= r->end)
            return -PQ_ERR_CORRUPT;
        uint8_t h = *r->p++;
        et = h & 15;
        n = h >> 4;
        if (n == 15 && (rc = rd_varint(r, &n)) < 0)
            return rc;
        if (n > (uint64_t)(r->end - r->p))
            return -PQ_ERR_CORRUPT; /* every element takes at least one byte */
    }
    if (et == PQ_T_FALSE)
        et = PQ_T_BOOL;
    if (et2 == PQ_T_FALSE)
        et2 = PQ_T_BOOL;
    if (n > 0 && (et == PQ_T_STOP || et > PQ_T_UUID ||
                  (kind == PQ_T_MAP && (et2 == PQ_T_STOP || et2 > PQ_T_UUID))))
        return -PQ_ERR_CORRUPT;
    if (!(l = pq_tl_new(r->a, et, (uint32_t)n)))
        return -PQ_ERR_NOMEM;
    l->kind = kind;
    l->elem2 = et2;
    for (uint64_t i = 0; i < n; i++) {
        uint8_t t = (kind == PQ_T_MAP && (i & 1)) ? et2 : et;
        if (t == PQ_T_BOOL) {
            if (r->p >= r->end)
                return -PQ_ERR_CORRUPT;
            l->v[i].type = PQ_T_BOOL;
            l->v[i].u.i = *r->p++ == 1;
        } else if ((rc = rd_value(r, t, &l->v[i])) < 0) {
            return rc;
        }
    }
    *out = l;
    return 0;
}

static int rd_value(struct rd *r, uint8_t type, struct pq_tval *v)
{
    uint64_t n;
    int rc = 0;

    v->type = type;
    switch (type) {
    case PQ_T_I8:
        if (r->p >= r->end)
            return -PQ_ERR_CORRUPT;
        v->u.i = (int8_t)*r->p++;
        return 0;
    case PQ_T_I16:
        return rd_zigzag(r, 16, &v->u.i);
    case PQ_T_I32:
        return rd_zigzag(r, 32, &v->u.i);
    case PQ_T_I64:
        return rd_zigzag(r, 64, &v->u.i);
    case PQ_T_DOUBLE:
        if (r->end - r->p < 8)
            return -PQ_ERR_CORRUPT;
        {
            uint64_t u = 0;
            for (int i = 7; i >= 0; i--)
                u = u << 8 | r->p[i];
            memcpy(&v->u.d, &u, 8);
        }
        r->p += 8;
        return 0;
    case PQ_T_BINARY:
        if ((rc = rd_varint(r, &n)) < 0)
            return rc;
        if (n > (uint64_t)(r->end - r->p) || n > UINT32_MAX)
            return -PQ_ERR_CORRUPT;
        v->u.bin.ptr = r->p;
        v->u.bin.len = (uint32_t)n;
        r->p += n;
        return 0;
    case PQ_T_UUID:
        if (r->end - r->p < 16)
            return -PQ_ERR_CORRUPT;
        v->u.bin.ptr = r->p;
        v->u.bin.len = 16;
        r->p += 16;
        return 0;
    case PQ_T_LIST:
    case PQ_T_SET:
    case PQ_T_MAP:
        if (++r->depth > PQ_THRIFT_DEPTH_MAX)
            return -PQ_ERR_CORRUPT;
        rc = rd_list(r, type, &v->u.list);
        r->depth--;
        return rc;
    case PQ_T_STRUCT:
        if (++r->depth > PQ_THRIFT_DEPTH_MAX)
            return -PQ_ERR_CORRUPT;
        rc = rd_struct(r, &v->u.st);
        r->depth--;
        return rc;
    default:
        return -PQ_ERR_CORRUPT;
    }
}

#define RD_FIELDS_STACK 24

static int rd_struct(struct rd *r, struct pq_tstruct **out)
{
    struct pq_tfield stackf[RD_FIELDS_STACK], *f = stackf, *heap = NULL;
    uint32_t n = 0, cap = RD_FIELDS_STACK;
    int64_t last = 0;
    struct pq_tstruct *s;
    int rc;

    for (;;) {
        if (r->p >= r->end) {
            rc = -PQ_ERR_CORRUPT;
            goto out;
        }
        uint8_t h = *r->p++;
        if (h == 0)
            break;
        uint8_t t = h & 15, d = h >> 4;
        int64_t id;
        if (d) {
            id = last + d;
        } else if ((rc = rd_zigzag(r, 16, &id)) < 0) {
            goto out;
        }
        if (id > INT16_MAX || id < INT16_MIN) {
            rc = -PQ_ERR_CORRUPT;
            goto out;
        }
        if (n == cap) {
            struct pq_tfield *nf;
            if (n >= (uint32_t)(r->end - r->p) + 1u || cap > UINT32_MAX / 4) {
                rc = -PQ_ERR_CORRUPT;
                goto out;
            }
            if (!(nf = malloc((size_t)cap * 2 * sizeof *nf))) {
                rc = -PQ_ERR_NOMEM;
                goto out;
            }
            memcpy(nf, f, (size_t)n * sizeof *nf);
            free(heap);
            f = heap = nf;
            cap *= 2;
        }
        f[n].id = (int16_t)id;
        if (t == PQ_T_BOOL || t == PQ_T_FALSE) {
            f[n].v.type = PQ_T_BOOL;
            f[n].v.u.i = t == PQ_T_BOOL;
        } else if ((rc = rd_value(r, t, &f[n].v)) < 0) {
            goto out;
        }
        n++;
        last = id;
    }
    if (!(s = pq_ts_new(r->a, n))) {
        rc = -PQ_ERR_NOMEM;
        goto out;
    }
    if (n)
        memcpy(s->f, f, (size_t)n * sizeof *f);
    s->n = n;
    *out = s;
    rc = 0;
out:
    free(heap);
    return rc;
}

int pq_thrift_parse(struct pq_arena *a, const uint8_t *p, size_t len, struct pq_tstruct **out,
                    size_t *used)
{
    struct rd r = {p, p + len, a, 0};
    struct pq_tstruct *s;
    int rc = rd_struct(&r, &s);
    if (rc < 0)
        return rc;
    *out = s;
    if (used)
        *used = (size_t)(r.p - p);
    return 0;
}

/* ---- encoding -------------------------------------------------------------------- */

static int wr_varint(struct buf *b, uint64_t v)
{
    uint8_t tmp[10];
    int n = 0;
    do {
        uint8_t c = v & 0x7f;
        v >>= 7;
        tmp[n++] = c | (v ? 0x80 : 0);
    } while (v);
    return buf_add(b, tmp, (size_t)n);
}

static uint64_t zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static int wr_struct(struct buf *b, const struct pq_tstruct *s, int sorted);

static int wr_value(struct buf *b, const struct pq_tval *v, int sorted)
{
    int rc;
    switch (v->type) {
    case PQ_T_I8: {
        char c = (char)(int8_t)v->u.i;
        return buf_add(b, &c, 1);
    }
    case PQ_T_I16:
    case PQ_T_I32:
    case PQ_T_I64:
        return wr_varint(b, zigzag(v->u.i));
    case PQ_T_DOUBLE: {
        uint64_t u;
        uint8_t le[8];
        memcpy(&u, &v->u.d, 8);
        for (int i = 0; i < 8; i++)
            le[i] = (uint8_t)(u >> (8 * i));
        return buf_add(b, le, 8);
    }
    case PQ_T_BINARY:
        if ((rc = wr_varint(b, v->u.bin.len)) < 0)
            return rc;
        return v->u.bin.len ? buf_add(b, v->u.bin.ptr, v->u.bin.len) : 0;
    case PQ_T_UUID:
        return buf_add(b, v->u.bin.ptr, 16);
    case PQ_T_STRUCT:
        return wr_struct(b, v->u.st, sorted);
    case PQ_T_LIST:
    case PQ_T_SET:
    case PQ_T_MAP: {
        const struct pq_tlist *l = v->u.list;
        uint32_t count = l->kind == PQ_T_MAP ? l->n / 2 : l->n;
        if (l->kind == PQ_T_MAP) {
            if ((rc = wr_varint(b, count)) < 0)
                return rc;
            if (count && (rc = buf_addc(b, (char)(l->elem << 4 | l->elem2))) < 0)
                return rc;
        } else if (count < 15) {
            if ((rc = buf_addc(b, (char)(count << 4 | l->elem))) < 0)
                return rc;
        } else {
            if ((rc = buf_addc(b, (char)(0xf0 | l->elem))) < 0 || (rc = wr_varint(b, count)) < 0)
                return rc;
        }
        for (uint32_t i = 0; i < l->n; i++) {
            if (l->v[i].type == PQ_T_BOOL)
                rc = buf_addc(b, l->v[i].u.i ? 1 : 2);
            else
                rc = wr_value(b, &l->v[i], sorted);
            if (rc < 0)
                return rc;
        }
        return 0;
    }
    default:
        return -PQ_ERR_CORRUPT;
    }
}

static int wr_field(struct buf *b, const struct pq_tfield *f, int16_t *last, int sorted)
{
    uint8_t t = f->v.type == PQ_T_BOOL ? (f->v.u.i ? PQ_T_BOOL : PQ_T_FALSE) : f->v.type;
    int delta = f->id - *last;
    int rc;
    if (delta > 0 && delta <= 15) {
        rc = buf_addc(b, (char)(delta << 4 | t));
    } else {
        if ((rc = buf_addc(b, (char)t)) < 0)
            return rc;
        rc = wr_varint(b, zigzag(f->id));
    }
    if (rc < 0)
        return rc;
    *last = f->id;
    return f->v.type == PQ_T_BOOL ? 0 : wr_value(b, &f->v, sorted);
}

static int wr_struct(struct buf *b, const struct pq_tstruct *s, int sorted)
{
    int16_t last = 0;
    int rc;
    if (!sorted) {
        for (uint32_t i = 0; i < s->n; i++)
            if ((rc = wr_field(b, &s->f[i], &last, 0)) < 0)
                return rc;
    } else {
        /* selection by id without allocating: fields are few */
        int32_t prev = INT32_MIN;
        for (uint32_t k = 0; k < s->n; k++) {
            const struct pq_tfield *best = NULL;
            for (uint32_t i = 0; i < s->n; i++)
                if (s->f[i].id > prev && (!best || s->f[i].id < best->id))
                    best = &s->f[i];
            if (!best)
                break;
            if ((rc = wr_field(b, best, &last, 1)) < 0)
                return rc;
            prev = best->id;
        }
    }
    return buf_addc(b, 0);
}

int pq_thrift_write(struct buf *b, const struct pq_tstruct *s)
{
    int rc = wr_struct(b, s, 0);
    return rc < 0 ? (rc == -PQ_ERR_CORRUPT ? rc : -PQ_ERR_NOMEM) : 0;
}

int pq_thrift_write_sorted(struct buf *b, const struct pq_tstruct *s)
{
    int rc = wr_struct(b, s, 1);
    return rc < 0 ? (rc == -PQ_ERR_CORRUPT ? rc : -PQ_ERR_NOMEM) : 0;
}

/* ---- tree helpers ------------------------------------------------------------------ */

struct pq_tval *pq_ts_get(const struct pq_tstruct *s, int16_t id)
{
    for (uint32_t i = 0; s && i < s->n; i++)
        if (s->f[i].id == id)
            return &s->f[i].v;
    return NULL;
}

struct pq_tval *pq_ts_typed(const struct pq_tstruct *s, int16_t id, uint8_t type)
{
    struct pq_tval *v = pq_ts_get(s, id);
    return v && v->type == type ? v : NULL;
}

int pq_ts_int(const struct pq_tstruct *s, int16_t id, uint8_t type, int64_t *out)
{
    struct pq_tval *v = pq_ts_typed(s, id, type);
    if (!v)
        return -PQ_ERR_CORRUPT;
    *out = v->u.i;
    return 0;
}

struct pq_tstruct *pq_ts_new(struct pq_arena *a, uint32_t cap)
{
    struct pq_tstruct *s = pq_arena_alloc(a, sizeof *s);
    if (!s)
        return NULL;
    if (cap && !(s->f = pq_arena_alloc(a, (size_t)cap * sizeof *s->f)))
        return NULL;
    s->cap = cap;
    return s;
}

struct pq_tstruct *pq_ts_clone(struct pq_arena *a, const struct pq_tstruct *s)
{
    struct pq_tstruct *c = pq_ts_new(a, s->n + 4);
    if (!c)
        return NULL;
    if (s->n)
        memcpy(c->f, s->f, (size_t)s->n * sizeof *s->f);
    c->n = s->n;
    return c;
}

struct pq_tlist *pq_tl_new(struct pq_arena *a, uint8_t elem, uint32_t n)
{
    struct pq_tlist *l = pq_arena_alloc(a, sizeof *l);
    if (!l)
        return NULL;
    if (n && !(l->v = pq_arena_alloc(a, (size_t)n * sizeof *l->v)))
        return NULL;
    l->kind = PQ_T_LIST;
    l->elem = elem;
    l->n = n;
    return l;
}

int pq_ts_set(struct pq_arena *a, struct pq_tstruct *s, int16_t id, struct pq_tval v)
{
    struct pq_tval *cur = pq_ts_get(s, id);
    uint32_t at;
    if (cur) {
        *cur = v;
        return 0;
    }
    if (s->n == s->cap) {
        uint32_t cap = s->cap ? s->cap * 2 : 4;
        struct pq_tfield *nf = pq_arena_alloc(a, (size_t)cap * sizeof *nf);
        if (!nf)
            return -PQ_ERR_NOMEM;
        if (s->n)
            memcpy(nf, s->f, (size_t)s->n * sizeof *nf);
        s->f = nf;
        s->cap = cap;
    }
    for (at = 0; at < s->n && s->f[at].id < id; at++)
        ;
    memmove(&s->f[at + 1], &s->f[at], (size_t)(s->n - at) * sizeof *s->f);
    s->f[at].id = id;
    s->f[at].v = v;
    s->n++;
    return 0;
}

int pq_ts_set_int(struct pq_arena *a, struct pq_tstruct *s, int16_t id, uint8_t type, int64_t v)
{
    struct pq_tval tv = {.type = type};
    tv.u.i = v;
    return pq_ts_set(a, s, id, tv);
}

void pq_ts_del(struct pq_tstruct *s, int16_t id)
{
    for (uint32_t i = 0; i < s->n; i++)
        if (s->f[i].id == id) {
            memmove(&s->f[i], &s->f[i + 1], (size_t)(s->n - i - 1) * sizeof *s->f);
            s->n--;
            return;
        }
}
