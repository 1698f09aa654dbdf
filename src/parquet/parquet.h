/* parquet.h -- the Parquet engine: open and validate files, fingerprint and diff
 * schemas, and build new files from old ones *without decoding pages*:
 * concatenate, splice (replace or remove a row-group range) and project (keep
 * some top-level columns). Column-chunk bytes are copied verbatim (copy_file_range
 * or a fixed buffer), only the footer is rewritten, so memory does not depend on
 * the size of the data. Also a small writer (PLAIN, uncompressed) for demo and
 * test data.
 *
 * Conventions: functions return 0 or a negative code: -PQ_ERR_x below (pq_strerror
 * names it); `err`, when not NULL, is a caller buffer of PQ_ERRMSG_MAX bytes that
 * receives a complete sentence for humans ("not a Parquet file: ..."). Outputs are
 * written to a temporary file beside the target, fsynced and renamed: a failure
 * leaves nothing behind. Out-parameters are written only on success. */
#ifndef TG_PARQUET_H
#define TG_PARQUET_H

#include <stddef.h>
#include <stdint.h>

#define PQ_ERRMSG_MAX 256

#define PQ_ERRORS(X)                                                                               \
    X(PQ_ERR_IO, 2000, "I/O error")                                                                \
    X(PQ_ERR_NOT_PARQUET, 2001, "not a Parquet file")                                              \
    X(PQ_ERR_CORRUPT, 2002, "corrupt Parquet metadata")                                            \
    X(PQ_ERR_ENCRYPTED, 2003, "encrypted Parquet files are not supported")                         \
    X(PQ_ERR_UNSUPPORTED, 2004, "unsupported Parquet feature")                                     \
    X(PQ_ERR_SCHEMA, 2005, "schemas differ")                                                       \
    X(PQ_ERR_NO_COLUMN, 2006, "no such column")                                                    \
    X(PQ_ERR_RANGE, 2007, "row-group range out of bounds")                                         \
    X(PQ_ERR_LIMIT, 2008, "limit exceeded")                                                        \
    X(PQ_ERR_ARG, 2009, "invalid argument")                                                        \
    X(PQ_ERR_NOMEM, 2010, "out of memory")

/* Functions return -PQ_ERR_x (so values in -2000..-2099). */
enum pq_err {
#define PQ_ERR_ENUM(name, code, msg) name = code,
    PQ_ERRORS(PQ_ERR_ENUM)
#undef PQ_ERR_ENUM
};
const char *pq_strerror(int rc); /* for -PQ_ERR_x; other values: err_message() */

/* ---- reading ----------------------------------------------------------------- */

struct pq_file; /* an open, validated file (keeps its descriptor and footer) */

/* Open and validate: "PAR1" at both ends, footer length in range, the footer
 * parses, schema well formed, every column chunk (and its indexes and bloom
 * filter) inside the file and before the footer, row counts consistent.
 * Refused: encrypted files (PARE magic, encryption_algorithm, encrypted columns),
 * external column chunks (file_path), chunks without metadata, parquet-mr <= 1.2.8
 * (wrong total_compressed_size). */
int pq_open(const char *path, struct pq_file **out, char *err);
void pq_close(struct pq_file *f); /* NULL-safe */

uint64_t pq_file_size(const struct pq_file *f);
uint64_t pq_num_rows(const struct pq_file *f);
size_t pq_num_row_groups(const struct pq_file *f);
uint64_t pq_row_group_rows(const struct pq_file *f, size_t rg); /* 0 if out of range */
const char *pq_created_by(const struct pq_file *f);             /* NULL if absent */
const char *pq_path(const struct pq_file *f);

/* SHA-256 over the schema elements below the root in order (each in a canonical
 * Thrift encoding: fields sorted by id), preceded by the root's child count; the
 * root's name is not part of it. Equal fingerprints <=> concatenable schemas. */
void pq_fingerprint(const struct pq_file *f, uint8_t out[32]);
void pq_fingerprint_hex(const struct pq_file *f, char out[65]);

/* Top-level columns (children of the root), in file order. */
struct pq_column {
    const char *name;
    const char *type;      /* "INT64", "BYTE_ARRAY", ... or "GROUP" */
    char logical_type[64]; /* "STRING", "DATE", "TIMESTAMP(MICROS,UTC)", "LIST", ...; "" if none */
    int optional;          /* repetition OPTIONAL */
    int repeated;          /* repetition REPEATED */
    size_t leaves;         /* primitive columns in this subtree */
};
size_t pq_num_columns(const struct pq_file *f);
int pq_column_get(const struct pq_file *f, size_t i, struct pq_column *out);

/* 0 if the schemas are equal (same fingerprint); else -PQ_ERR_SCHEMA and msg gets
 * the first difference, e.g. "schemas differ: column 3 'price' is DOUBLE in
 * a.parquet but FLOAT in b.parquet". */
int pq_schema_diff(const struct pq_file *a, const struct pq_file *b, char *msg);

/* ---- building new files -------------------------------------------------------- */

struct pq_result {
    uint64_t rows;
    uint64_t size;
    size_t row_groups;
};

/* Row groups of in[0..n) in order into out_path. Schemas must be equal; key-value
 * metadata and created_by come from in[0]. Page indexes and bloom filters are
 * relocated (offset indexes rewritten); a page index that cannot be rewritten is
 * dropped. res may be NULL. */
int pq_concat(const char *out_path, struct pq_file *const *in, size_t n, struct pq_result *res,
              char *err);

/* bundle's row groups [rg_begin, rg_end) replaced by all row groups of `with`
 * (or removed when with is NULL). rg_begin == rg_end inserts. */
int pq_splice(const char *out_path, struct pq_file *bundle, size_t rg_begin, size_t rg_end,
              struct pq_file *with, struct pq_result *res, char *err);

/* Keep the named top-level columns (whole subtrees), in the file's column order.
 * Unknown names: -PQ_ERR_NO_COLUMN listing the available ones. ARROW:schema and
 * pandas metadata are dropped (they describe all columns). */
int pq_project(const char *out_path, struct pq_file *in, const char *const *names, size_t nnames,
               struct pq_result *res, char *err);

/* ---- the small writer ------------------------------------------------------------ */

enum pq_wtype {
    PQ_W_BOOLEAN,
    PQ_W_INT32,     /* plain INT32 */
    PQ_W_DATE,      /* INT32 DATE: days since 1970-01-01 */
    PQ_W_INT64,     /* plain INT64 */
    PQ_W_TIMESTAMP, /* INT64 TIMESTAMP(MICROS, UTC) */
    PQ_W_DOUBLE,
    PQ_W_STRING, /* BYTE_ARRAY UTF8 */
};
struct pq_wcol {
    const char *name;
    enum pq_wtype type;
    int optional;
};
struct pq_value {
    int null; /* only for optional columns */
    union {
        int b;
        int32_t i32;
        int64_t i64;
        double d;
        struct {
            const char *ptr;
            size_t len;
        } s;
    } u;
};
struct pq_writer;
#define PQ_WRITER_COLS_MAX 1024
#define PQ_WRITER_PAGE_MAX (256u << 20) /* one column of one row group */

struct pq_wopts {
    const char *created_by; /* NULL: "tollgate" */
    size_t page_rows;       /* rows per data page; 0 = one page per column chunk */
    int page_index;         /* write a column index and an offset index per chunk */
};
int pq_writer_open(const char *path, const struct pq_wcol *cols, size_t ncols,
                   const struct pq_wopts *opts, struct pq_writer **out, char *err);
/* One row group: vals[c][r] for column c, row r < nrows. */
int pq_writer_add(struct pq_writer *w, size_t nrows, const struct pq_value *const *vals, char *err);
/* Footer, fsync, rename; frees w in every case. */
int pq_writer_close(struct pq_writer *w, struct pq_result *res, char *err);
void pq_writer_abort(struct pq_writer *w); /* removes the temp file; NULL-safe */

/* The demo table of `tollgate parquet gen`: ts (TIMESTAMP UTC), symbol (STRING),
 * price (DOUBLE), volume (INT64), sentiment (DOUBLE, nullable), day (DATE),
 * halted (BOOLEAN). Deterministic for a seed; rows spread over the day. */
struct pq_gen_opts {
    uint64_t rows;
    uint64_t seed;
    int32_t day;             /* days since epoch */
    uint64_t rows_per_group; /* 0 = PQ_GEN_GROUP_ROWS */
    size_t page_rows;        /* 0 = one page per column chunk */
    int page_index;          /* write column and offset indexes */
};
#define PQ_GEN_GROUP_ROWS 100000
#define PQ_GEN_ROWS_MAX 100000000ull
int pq_gen(const char *path, const struct pq_gen_opts *o, struct pq_result *res, char *err);

#endif
