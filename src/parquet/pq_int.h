/* pq_int.h -- private to src/parquet: the generic Thrift compact tree, the arena
 * it lives in, and the parsed-file structure shared by pq_file.c, pq_copy.c and
 * pq_write.c. Nothing outside src/parquet includes this (unit tests may).
 *
 * The footer is parsed into a generic tree (field id, wire type, value; lists keep
 * their element type) rather than into C structs, so fields this code does not
 * know (newer writers, the 32767 extension id) survive a rewrite byte for byte.
 * Only the fields the module needs are read or patched, by id.
 *
 * Memory: every node lives in a pq_arena freed at once; binary values point into
 * the buffer that was parsed, which must outlive the tree. */
#ifndef TG_PQ_INT_H
#define TG_PQ_INT_H

#include <stddef.h>
#include <stdint.h>

#include "../util/util.h"
#include "parquet.h"

/* ---- limits ----------------------------------------------------------------- */
#define PQ_THRIFT_DEPTH_MAX 64         /* nesting of structs/lists in a footer */
#define PQ_FOOTER_MAX (64u << 20)      /* FileMetaData bytes we accept */
#define PQ_INDEX_MAX (16u << 20)       /* one offset/column index blob */
#define PQ_BLOOM_HDR_MAX 64            /* bytes read to parse a BloomFilterHeader */
#define PQ_ARENA_MAX ((size_t)1 << 30) /* all tree nodes of one file */
#define PQ_SCHEMA_MAX 100000           /* schema elements */
#define PQ_ROW_GROUPS_MAX 32767        /* RowGroup.ordinal is an i16 */
#define PQ_COPY_BUF (1u << 20)         /* fallback copy buffer */

/* ---- Thrift compact wire types ------------------------------------------------ */
enum {
    PQ_T_STOP = 0,
    PQ_T_BOOL = 1, /* in the tree a bool is always type 1, value in .i (0/1) */
    PQ_T_FALSE = 2,
    PQ_T_I8 = 3,
    PQ_T_I16 = 4,
    PQ_T_I32 = 5,
    PQ_T_I64 = 6,
    PQ_T_DOUBLE = 7,
    PQ_T_BINARY = 8,
    PQ_T_LIST = 9,
    PQ_T_SET = 10,
    PQ_T_MAP = 11,
    PQ_T_STRUCT = 12,
    PQ_T_UUID = 13,
};

struct pq_tlist;
struct pq_tstruct;

struct pq_tval {
    uint8_t type;
    union {
        int64_t i; /* bool, i8, i16, i32, i64 */
        double d;
        struct {
            const uint8_t *ptr;
            uint32_t len;
        } bin; /* binary and uuid (16 bytes) */
        struct pq_tlist *list;
        struct pq_tstruct *st;
    } u;
};

struct pq_tfield {
    int16_t id;
    struct pq_tval v;
};

/* Fields in wire order (a rewrite keeps it); new fields are inserted by id. */
struct pq_tstruct {
    uint32_t n, cap;
    struct pq_tfield *f;
};

/* list and set: elem is the element type; map: elem = key type, elem2 = value
 * type and v holds 2n values, key then value. */
struct pq_tlist {
    uint8_t kind; /* PQ_T_LIST, PQ_T_SET or PQ_T_MAP */
    uint8_t elem, elem2;
    uint32_t n;
    struct pq_tval *v;
};

/* ---- arena -------------------------------------------------------------------- */
struct pq_arena_blk;
struct pq_arena {
    struct pq_arena_blk *head;
    size_t total;
};
void *pq_arena_alloc(struct pq_arena *a, size_t n); /* zeroed; NULL on failure */
void pq_arena_release(struct pq_arena *a);          /* NULL-safe; leaves it empty */

/* ---- codec --------------------------------------------------------------------- */
/* Parse one struct at p[0..len). *used gets the bytes consumed. Errors: -PQ_ERR_CORRUPT
 * (truncated, bad type, varint too long, depth), -PQ_ERR_NOMEM. */
int pq_thrift_parse(struct pq_arena *a, const uint8_t *p, size_t len, struct pq_tstruct **out,
                    size_t *used);
/* Append the compact encoding of s to b. */
int pq_thrift_write(struct buf *b, const struct pq_tstruct *s);
/* Same, with each struct's fields sorted by id (a canonical form, for fingerprints). */
int pq_thrift_write_sorted(struct buf *b, const struct pq_tstruct *s);

/* ---- tree helpers -------------------------------------------------------------- */
struct pq_tval *pq_ts_get(const struct pq_tstruct *s, int16_t id);
/* The field if present with this wire type (bool: PQ_T_BOOL), else NULL. */
struct pq_tval *pq_ts_typed(const struct pq_tstruct *s, int16_t id, uint8_t type);
/* Integer value of field id when present with wire type `type`; -PQ_ERR_CORRUPT otherwise. */
int pq_ts_int(const struct pq_tstruct *s, int16_t id, uint8_t type, int64_t *out);
/* Replace or insert (ordered by id) an integer/bool field. */
int pq_ts_set_int(struct pq_arena *a, struct pq_tstruct *s, int16_t id, uint8_t type, int64_t v);
int pq_ts_set(struct pq_arena *a, struct pq_tstruct *s, int16_t id, struct pq_tval v);
void pq_ts_del(struct pq_tstruct *s, int16_t id);
/* A new struct with its own field array (values shared with the original). */
struct pq_tstruct *pq_ts_clone(struct pq_arena *a, const struct pq_tstruct *s);
struct pq_tstruct *pq_ts_new(struct pq_arena *a, uint32_t cap);
struct pq_tlist *pq_tl_new(struct pq_arena *a, uint8_t elem, uint32_t n);

/* ---- a parsed, validated file ---------------------------------------------------- */

/* One node of the schema tree (SchemaElement i of the footer list). */
struct pq_node {
    const struct pq_tstruct *el;
    const char *name;   /* NUL-terminated copy */
    int32_t type;       /* physical type, -1 for groups */
    int32_t repetition; /* -1 for the root */
    int32_t converted;  /* -1 if absent */
    uint32_t nchildren;
    uint32_t parent;              /* element index of the parent (0 for the root's children) */
    uint32_t first_leaf, nleaves; /* leaf ordinals covered */
    uint32_t first_el, nels;      /* schema elements covered (this one included) */
};

struct pq_file {
    char *path;
    int fd;
    uint64_t size;
    uint8_t *footer; /* FileMetaData bytes (owned) */
    uint32_t footer_len;
    uint64_t footer_off;
    struct pq_arena arena;
    struct pq_tstruct *fmd;
    struct pq_tlist *schema;     /* FileMetaData.2 */
    struct pq_tlist *row_groups; /* FileMetaData.4 */
    struct pq_node *nodes;       /* one per schema element */
    uint32_t nnodes;
    uint32_t *top; /* indexes into nodes of the root's children */
    uint32_t ntop;
    uint32_t nleaves;
    uint64_t num_rows;
    char *created_by; /* NUL-terminated or NULL */
    uint8_t fingerprint[32];
};

/* Byte range of a column chunk ([start, start+len)) as the copy rule of notes A4.3. */
int pq_chunk_range(const struct pq_tstruct *cmd, uint64_t *start, uint64_t *len);

/* ---- output files (pq_copy.c) --------------------------------------------------------- */
/* A temp file beside the target, written at pos; finish fsyncs and renames it into
 * place when rc == 0, else unlinks it. */
struct pq_out {
    int fd;
    uint64_t pos;
    char *buf; /* fallback copy buffer, allocated on first need */
    int use_cfr;
    char tmp[4096];
};
int pq_out_open(struct pq_out *o, const char *path, char *err);
int pq_out_write(struct pq_out *o, const void *p, size_t n);            /* 0 or -errno */
int pq_out_copy(struct pq_out *o, int src, uint64_t off, uint64_t len); /* 0 or -errno */
int pq_out_finish(struct pq_out *o, const char *path, int rc, char *err);

/* err helpers: format into a PQ_ERRMSG_MAX buffer (err may be NULL); return rc. */
int pq_fail(char *err, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
