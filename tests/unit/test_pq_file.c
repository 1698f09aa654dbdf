/* test_pq_file.c -- src/parquet through its interface (plus pq_int.h to forge
 * footers): the writer's known-answer file, pq_open's refusals and their
 * messages, schema fingerprints and diffs, concat/splice/project structure,
 * no leftovers on failure, and a footer torture: every byte flipped, every
 * truncation, never a crash, a hang or a sanitizer report. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../src/crypto/crypto.h"
#include "../../src/parquet/pq_int.h"

static char dir[64];

static const char *P(const char *name)
{
    static char paths[8][256];
    static int k;
    k = (k + 1) % 8;
    snprintf(paths[k], sizeof paths[k], "%s/%s", dir, name);
    return paths[k];
}

static size_t slurp(const char *path, uint8_t **out)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    *out = malloc((size_t)n + 1);
    assert_int_equal(fread(*out, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    return (size_t)n;
}

static void spit(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    fclose(f);
}

static int count_entries(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.' || strstr(e->d_name, ".tmp.") != NULL;
    closedir(d);
    return n;
}

/* A small file: id INT64, price DOUBLE (optional), name STRING; rows split into
 * row groups of `group` rows; `price_type` and friends vary for the diff tests. */
struct spec {
    struct pq_wcol cols[5];
    size_t ncols;
};
static const struct spec base = {
    {{"id", PQ_W_INT64, 0}, {"price", PQ_W_DOUBLE, 1}, {"name", PQ_W_STRING, 1}}, 3};

static void write_file(const char *path, const struct spec *sp, size_t rows, size_t group,
                       int page_index)
{
    struct pq_value *v[5];
    char(*names)[16] = calloc(rows, 16);
    struct pq_wopts o = {"test", page_index ? 4 : 0, page_index};
    struct pq_writer *w;
    char err[PQ_ERRMSG_MAX] = "";
    for (size_t c = 0; c < sp->ncols; c++)
        v[c] = calloc(rows, sizeof *v[c]);
    for (size_t r = 0; r < rows; r++) {
        snprintf(names[r], 16, "n%u", (unsigned)(r % 100000));
        for (size_t c = 0; c < sp->ncols; c++) {
            struct pq_value *x = &v[c][r];
            x->null = sp->cols[c].optional && r % 3 == 1;
            switch (sp->cols[c].type) {
            case PQ_W_STRING:
                x->u.s.ptr = names[r];
                x->u.s.len = strlen(names[r]);
                break;
            case PQ_W_DOUBLE:
                x->u.d = (double)r * 0.25;
                break;
            case PQ_W_BOOLEAN:
                x->u.b = r & 1;
                break;
            case PQ_W_INT32:
            case PQ_W_DATE:
                x->u.i32 = (int32_t)r;
                break;
            default:
                x->u.i64 = (int64_t)r * 1000;
            }
        }
    }
    assert_int_equal(pq_writer_open(path, sp->cols, sp->ncols, &o, &w, err), 0);
    for (size_t at = 0; at < rows; at += group) {
        const struct pq_value *cv[5];
        for (size_t c = 0; c < sp->ncols; c++)
            cv[c] = v[c] + at;
        assert_int_equal(pq_writer_add(w, rows - at < group ? rows - at : group, cv, err), 0);
    }
    assert_int_equal(pq_writer_close(w, NULL, err), 0);
    for (size_t c = 0; c < sp->ncols; c++)
        free(v[c]);
    free(names);
}

/* ---- the writer ---------------------------------------------------------------------- */

/* notes/parquet.md A6: this exact file was read identically by DuckDB, hyparquet and
 * parquet-wasm; our writer must reproduce it byte for byte. */
static void test_writer_known_answer(void **state)
{
    (void)state;
    struct pq_wcol cols[] = {{"id", PQ_W_INT64, 0},
                             {"amount", PQ_W_DOUBLE, 1},
                             {"name", PQ_W_STRING, 1},
                             {"day", PQ_W_DATE, 0},
                             {"ts", PQ_W_TIMESTAMP, 1}};
    struct pq_value v[5][10];
    char names[10][16];
    memset(v, 0, sizeof v);
    for (int i = 0; i < 10; i++) {
        v[0][i].u.i64 = i;
        v[1][i].null = i % 3 == 0;
        v[1][i].u.d = i * 1.5;
        snprintf(names[i], 16, "n%d\xc3\xa9", i);
        v[2][i].null = i == 4;
        v[2][i].u.s.ptr = names[i];
        v[2][i].u.s.len = strlen(names[i]);
        v[3][i].u.i32 = 19358 + i;
        v[4][i].null = i == 7;
        v[4][i].u.i64 = 1672531200000000LL + i * 1000001LL;
    }
    const struct pq_value *cv[5] = {v[0], v[1], v[2], v[3], v[4]};
    struct pq_wopts o = {"minwrite 0.1", 0, 0};
    struct pq_writer *w;
    struct pq_result res;
    char err[PQ_ERRMSG_MAX], hex[65];
    uint8_t *b, sum[32];
    assert_int_equal(pq_writer_open(P("demo.parquet"), cols, 5, &o, &w, err), 0);
    assert_int_equal(pq_writer_add(w, 10, cv, err), 0);
    assert_int_equal(pq_writer_close(w, &res, err), 0);
    assert_int_equal(res.size, 709);
    size_t n = slurp(P("demo.parquet"), &b);
    crypto_sha256(b, n, sum);
    hex_encode(sum, 32, hex);
    assert_string_equal(hex, "31b92c1924ae5953c2638129abf54c76de52ee6ee8a2ded64c6349419b905e47");
    free(b);

    struct pq_file *f;
    struct pq_column c;
    assert_int_equal(pq_open(P("demo.parquet"), &f, err), 0);
    assert_int_equal(pq_num_rows(f), 10);
    assert_int_equal(pq_num_columns(f), 5);
    assert_int_equal(pq_column_get(f, 4, &c), 0);
    assert_string_equal(c.name, "ts");
    assert_string_equal(c.type, "INT64");
    assert_string_equal(c.logical_type, "TIMESTAMP(MICROS,UTC)");
    assert_true(c.optional);
    assert_int_equal(pq_column_get(f, 3, &c), 0);
    assert_string_equal(c.logical_type, "DATE");
    assert_false(c.optional);
    assert_int_equal(pq_column_get(f, 2, &c), 0);
    assert_string_equal(c.logical_type, "STRING");
    assert_int_equal(pq_column_get(f, 5, &c), -PQ_ERR_ARG);
    assert_string_equal(pq_created_by(f), "minwrite 0.1");
    pq_close(f);
}

static void test_writer_refusals(void **state)
{
    (void)state;
    struct pq_wcol dup[] = {{"a", PQ_W_INT64, 0}, {"a", PQ_W_INT64, 0}};
    struct pq_wcol one[] = {{"a", PQ_W_INT64, 0}};
    struct pq_value nul = {.null = 1};
    const struct pq_value *cv[1] = {&nul};
    struct pq_writer *w = NULL;
    char err[PQ_ERRMSG_MAX];
    int before = count_entries();
    assert_int_equal(pq_writer_open(P("w.parquet"), dup, 2, NULL, &w, err), -PQ_ERR_ARG);
    assert_non_null(strstr(err, "appears twice"));
    assert_int_equal(pq_writer_open(P("w.parquet"), one, 0, NULL, &w, err), -PQ_ERR_ARG);
    assert_int_equal(pq_writer_open(P("w.parquet"), one, 1, NULL, &w, err), 0);
    assert_int_equal(pq_writer_add(w, 1, cv, err), -PQ_ERR_ARG);
    assert_non_null(strstr(err, "required but row 0 is null"));
    pq_writer_abort(w);
    assert_int_equal(count_entries(), before); /* the temp file is gone */
    assert_int_equal(pq_writer_open("/nonexistent-dir/x.parquet", one, 1, NULL, &w, err),
                     -PQ_ERR_IO);
    assert_non_null(strstr(err, "cannot create a temporary file"));
}

/* ---- forging footers ---------------------------------------------------------------------- */

typedef void (*mutate_fn)(struct pq_arena *a, struct pq_tstruct *fmd);

static struct pq_tstruct *chunk0(struct pq_tstruct *fmd)
{
    struct pq_tstruct *rg = pq_ts_get(fmd, 4)->u.list->v[0].u.st;
    return pq_ts_get(rg, 1)->u.list->v[0].u.st;
}

static void forge(const char *src, const char *dst, mutate_fn fn, size_t extra)
{
    uint8_t *b;
    size_t n = slurp(src, &b);
    uint32_t len = (uint32_t)b[n - 8] | (uint32_t)b[n - 7] << 8 | (uint32_t)b[n - 6] << 16 |
                   (uint32_t)b[n - 5] << 24;
    size_t off = n - 8 - len;
    struct pq_arena a = {0};
    struct pq_tstruct *fmd;
    struct buf o;
    buf_init(&o, 1 << 26);
    assert_int_equal(pq_thrift_parse(&a, b + off, len, &fmd, NULL), 0);
    fn(&a, fmd);
    assert_int_equal(buf_add(&o, b, off), 0);
    size_t at = o.len;
    assert_int_equal(pq_thrift_write(&o, fmd), 0);
    for (size_t i = 0; i < extra; i++)
        buf_addc(&o, 0);
    uint32_t nl = (uint32_t)(o.len - at);
    uint8_t tr[8] = {
        (uint8_t)nl, (uint8_t)(nl >> 8), (uint8_t)(nl >> 16), (uint8_t)(nl >> 24), 'P', 'A', 'R',
        '1'};
    buf_add(&o, tr, 8);
    spit(dst, o.ptr, o.len);
    buf_release(&o);
    pq_arena_release(&a);
    free(b);
}

static void m_none(struct pq_arena *a, struct pq_tstruct *f)
{
    (void)a, (void)f;
}
static void m_encrypted(struct pq_arena *a, struct pq_tstruct *f)
{
    pq_ts_set(a, f, 8, (struct pq_tval){.type = PQ_T_STRUCT, .u.st = pq_ts_new(a, 0)});
}
static void m_file_path(struct pq_arena *a, struct pq_tstruct *f)
{
    struct pq_tval v = {.type = PQ_T_BINARY};
    v.u.bin.ptr = (const uint8_t *)"other.parquet";
    v.u.bin.len = 13;
    pq_ts_set(a, chunk0(f), 1, v);
}
static void m_crypto_col(struct pq_arena *a, struct pq_tstruct *f)
{
    pq_ts_set(a, chunk0(f), 8, (struct pq_tval){.type = PQ_T_STRUCT, .u.st = pq_ts_new(a, 0)});
}
static void m_no_meta(struct pq_arena *a, struct pq_tstruct *f)
{
    (void)a;
    pq_ts_del(chunk0(f), 3);
}
static void m_chunk_outside(struct pq_arena *a, struct pq_tstruct *f)
{
    (void)a;
    pq_ts_typed(pq_ts_get(chunk0(f), 3)->u.st, 9, PQ_T_I64)->u.i = 1 << 30;
}
static void m_rows(struct pq_arena *a, struct pq_tstruct *f)
{
    pq_ts_set_int(a, f, 3, PQ_T_I64, 12345);
}
static void m_parquet_mr(struct pq_arena *a, struct pq_tstruct *f)
{
    struct pq_tval v = {.type = PQ_T_BINARY};
    v.u.bin.ptr = (const uint8_t *)"parquet-mr version 1.2.8 (build abc)";
    v.u.bin.len = (uint32_t)strlen((const char *)v.u.bin.ptr);
    pq_ts_set(a, f, 6, v);
}
static void m_type(struct pq_arena *a, struct pq_tstruct *f)
{
    (void)a;
    pq_ts_typed(pq_ts_get(chunk0(f), 3)->u.st, 1, PQ_T_I32)->u.i = 5;
}
static void m_fewer_chunks(struct pq_arena *a, struct pq_tstruct *f)
{
    (void)a;
    struct pq_tstruct *rg = pq_ts_get(f, 4)->u.list->v[0].u.st;
    pq_ts_get(rg, 1)->u.list->n--;
}
static void m_children(struct pq_arena *a, struct pq_tstruct *f)
{
    pq_ts_set_int(a, pq_ts_get(f, 2)->u.list->v[0].u.st, 5, PQ_T_I32, 9);
}
static void m_no_schema(struct pq_arena *a, struct pq_tstruct *f)
{
    (void)a;
    pq_ts_del(f, 2);
}
static void m_offset_index(struct pq_arena *a, struct pq_tstruct *f)
{
    pq_ts_set_int(a, chunk0(f), 4, PQ_T_I64, 1 << 30);
    pq_ts_set_int(a, chunk0(f), 5, PQ_T_I32, 10);
}

static void test_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *what;
        mutate_fn fn;
        size_t extra;
        int rc;
        const char *msg;
    } rows[] = {
        {"FileMetaData.encryption_algorithm", m_encrypted, 0, -PQ_ERR_ENCRYPTED, "encrypted"},
        {"signed plaintext footer (28 bytes)", m_none, 28, -PQ_ERR_ENCRYPTED,
         "signed plaintext footer"},
        {"bytes after the footer struct", m_none, 3, -PQ_ERR_CORRUPT, "3 bytes after its end"},
        {"ColumnChunk.file_path", m_file_path, 0, -PQ_ERR_UNSUPPORTED, "external file"},
        {"ColumnChunk.crypto_metadata", m_crypto_col, 0, -PQ_ERR_ENCRYPTED,
         "column 'id' is encrypted"},
        {"no ColumnMetaData", m_no_meta, 0, -PQ_ERR_CORRUPT, "no column metadata"},
        {"chunk past the footer", m_chunk_outside, 0, -PQ_ERR_CORRUPT, "not inside the data area"},
        {"num_rows mismatch", m_rows, 0, -PQ_ERR_CORRUPT, "footer says 12345"},
        {"parquet-mr 1.2.8", m_parquet_mr, 0, -PQ_ERR_UNSUPPORTED, "PARQUET-816"},
        {"chunk type differs from schema", m_type, 0, -PQ_ERR_CORRUPT, "physical type"},
        {"missing column chunk", m_fewer_chunks, 0, -PQ_ERR_CORRUPT,
         "has 2 column chunks but the schema has 3"},
        {"num_children too large", m_children, 0, -PQ_ERR_CORRUPT, "claims 9 children"},
        {"no schema", m_no_schema, 0, -PQ_ERR_CORRUPT, "missing or mistyped"},
        {"offset index outside", m_offset_index, 0, -PQ_ERR_CORRUPT, "offset index outside"},
    };
    char err[PQ_ERRMSG_MAX];
    struct pq_file *f = NULL;
    write_file(P("good.parquet"), &base, 20, 8, 1);
    forge(P("good.parquet"), P("same.parquet"), m_none, 0);
    assert_int_equal(pq_open(P("same.parquet"), &f, err), 0);
    pq_close(f);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        print_message("row %zu: %s\n", i, rows[i].what);
        forge(P("good.parquet"), P("bad.parquet"), rows[i].fn, rows[i].extra);
        err[0] = 0;
        f = (struct pq_file *)0x1;
        assert_int_equal(pq_open(P("bad.parquet"), &f, err), rows[i].rc);
        assert_true(f == (struct pq_file *)0x1);
        print_message("  -> %s\n", err);
        assert_non_null(strstr(err, rows[i].msg));
    }
}

static void test_refusals_raw(void **state)
{
    (void)state;
    char err[PQ_ERRMSG_MAX];
    struct pq_file *f;
    uint8_t *b;
    write_file(P("good.parquet"), &base, 20, 8, 0);
    size_t n = slurp(P("good.parquet"), &b);
    static const struct {
        const char *what;
        size_t at; /* byte to overwrite, from the end if negative-ish */
        int from_end;
        const char *with;
        int rc;
        const char *msg;
    } rows[] = {
        {"no magic at the end", 1, 1, "X", -PQ_ERR_NOT_PARQUET, "no PAR1 magic at the end"},
        {"no magic at the start", 0, 0, "X", -PQ_ERR_NOT_PARQUET, "no PAR1 magic at the start"},
        {"PARE at the end", 4, 1, "PARE", -PQ_ERR_ENCRYPTED, "PARE magic"},
        {"footer length huge", 8, 1, "\xff\xff\xff\x7f", -PQ_ERR_CORRUPT, "footer length"},
        {"footer length zero", 8, 1, "\0\0\0\0", -PQ_ERR_CORRUPT, "footer length 0"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        uint8_t *c = malloc(n);
        memcpy(c, b, n);
        size_t at = rows[i].from_end ? n - rows[i].at : rows[i].at;
        memcpy(c + at, rows[i].with, strlen(rows[i].with) ? strlen(rows[i].with) : 4);
        if (strcmp(rows[i].what, "footer length zero") == 0)
            memset(c + at, 0, 4);
        spit(P("bad.parquet"), c, n);
        free(c);
        print_message("row %zu: %s\n", i, rows[i].what);
        assert_int_equal(pq_open(P("bad.parquet"), &f, err), rows[i].rc);
        assert_non_null(strstr(err, rows[i].msg));
    }
    spit(P("bad.parquet"), "PAR1PAR1", 8);
    assert_int_equal(pq_open(P("bad.parquet"), &f, err), -PQ_ERR_NOT_PARQUET);
    assert_non_null(strstr(err, "shorter than the 12-byte minimum"));
    spit(P("bad.parquet"), "", 0);
    assert_int_equal(pq_open(P("bad.parquet"), &f, err), -PQ_ERR_NOT_PARQUET);
    assert_int_equal(pq_open(dir, &f, err), -PQ_ERR_NOT_PARQUET);
    assert_non_null(strstr(err, "not a regular file"));
    assert_int_equal(pq_open(P("missing.parquet"), &f, err), -PQ_ERR_IO);
    assert_non_null(strstr(err, "cannot open"));
    /* the footer bytes replaced by garbage of the same length */
    uint32_t len = (uint32_t)b[n - 8] | (uint32_t)b[n - 7] << 8;
    memset(b + n - 8 - len, 0xff, len);
    spit(P("bad.parquet"), b, n);
    assert_int_equal(pq_open(P("bad.parquet"), &f, err), -PQ_ERR_CORRUPT);
    assert_non_null(strstr(err, "does not parse"));
    free(b);
}

/* ---- schemas ------------------------------------------------------------------------------- */

static void test_schema_diff(void **state)
{
    (void)state;
    static const struct {
        const char *what;
        struct spec sp;
        const char *msg;
    } rows[] = {
        {"physical type",
         {{{"id", PQ_W_INT64, 0}, {"price", PQ_W_INT64, 1}, {"name", PQ_W_STRING, 1}}, 3},
         "schemas differ: column 2 'price' is DOUBLE in a.parquet but INT64 in b.parquet"},
        {"repetition",
         {{{"id", PQ_W_INT64, 0}, {"price", PQ_W_DOUBLE, 0}, {"name", PQ_W_STRING, 1}}, 3},
         "schemas differ: column 2 'price' is optional in a.parquet but required in b.parquet"},
        {"name",
         {{{"id", PQ_W_INT64, 0}, {"cost", PQ_W_DOUBLE, 1}, {"name", PQ_W_STRING, 1}}, 3},
         "schemas differ: column 2 'price' in a.parquet is column 2 'cost' in b.parquet"},
        {"logical type",
         {{{"id", PQ_W_TIMESTAMP, 0}, {"price", PQ_W_DOUBLE, 1}, {"name", PQ_W_STRING, 1}}, 3},
         "schemas differ: column 1 'id' is INT64 in a.parquet but INT64 TIMESTAMP(MICROS,UTC) in "
         "b.parquet"},
        {"extra column",
         {{{"id", PQ_W_INT64, 0},
           {"price", PQ_W_DOUBLE, 1},
           {"name", PQ_W_STRING, 1},
           {"ok", PQ_W_BOOLEAN, 0}},
          4},
         "schemas differ: a.parquet has 3 columns but b.parquet has 4; column 4 'ok' is only in "
         "b.parquet"},
    };
    char err[PQ_ERRMSG_MAX], fa[65], fb[65];
    struct pq_file *a, *b, *c;
    write_file(P("a.parquet"), &base, 10, 5, 0);
    write_file(P("a2.parquet"), &base, 7, 7, 1);
    assert_int_equal(pq_open(P("a.parquet"), &a, err), 0);
    assert_int_equal(pq_open(P("a2.parquet"), &c, err), 0);
    pq_fingerprint_hex(a, fa);
    pq_fingerprint_hex(c, fb);
    assert_string_equal(fa, fb); /* data and page indexes do not matter */
    assert_int_equal(pq_schema_diff(a, c, err), 0);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        print_message("row %zu: %s\n", i, rows[i].what);
        write_file(P("b.parquet"), &rows[i].sp, 4, 4, 0);
        assert_int_equal(pq_open(P("b.parquet"), &b, err), 0);
        pq_fingerprint_hex(b, fb);
        assert_string_not_equal(fa, fb);
        assert_int_equal(pq_schema_diff(a, b, err), -PQ_ERR_SCHEMA);
        assert_string_equal(err, rows[i].msg);
        /* concat refuses with the same words and leaves nothing behind */
        int before = count_entries();
        struct pq_file *in[3] = {a, c, b};
        assert_int_equal(pq_concat(P("out.parquet"), in, 3, NULL, err), -PQ_ERR_SCHEMA);
        assert_string_equal(err, rows[i].msg);
        assert_int_equal(pq_splice(P("out.parquet"), a, 0, 1, b, NULL, err), -PQ_ERR_SCHEMA);
        assert_int_equal(count_entries(), before);
        pq_close(b);
    }
    pq_close(a);
    pq_close(c);
}

/* ---- building -------------------------------------------------------------------------------- */

/* Every PageLocation of every offset index in `path` points at a parseable data
 * page header inside its chunk; returns the number of pages. */
static size_t check_offset_indexes(const char *path)
{
    struct pq_file *f;
    char err[PQ_ERRMSG_MAX];
    uint8_t *b;
    size_t n = slurp(path, &b), pages = 0;
    assert_int_equal(pq_open(path, &f, err), 0);
    for (uint32_t g = 0; g < f->row_groups->n; g++) {
        struct pq_tlist *cols = pq_ts_get(f->row_groups->v[g].u.st, 1)->u.list;
        for (uint32_t c = 0; c < cols->n; c++) {
            struct pq_tstruct *cc = cols->v[c].u.st, *oi, *ph;
            uint64_t start, len;
            int64_t off, olen, t;
            assert_int_equal(pq_chunk_range(pq_ts_get(cc, 3)->u.st, &start, &len), 0);
            if (pq_ts_int(cc, 4, PQ_T_I64, &off) < 0)
                continue;
            assert_int_equal(pq_ts_int(cc, 5, PQ_T_I32, &olen), 0);
            struct pq_arena a = {0};
            assert_int_equal(pq_thrift_parse(&a, b + off, (size_t)olen, &oi, NULL), 0);
            struct pq_tlist *locs = pq_ts_get(oi, 1)->u.list;
            for (uint32_t p = 0; p < locs->n; p++) {
                int64_t po;
                assert_int_equal(pq_ts_int(locs->v[p].u.st, 1, PQ_T_I64, &po), 0);
                assert_true((uint64_t)po >= start && (uint64_t)po < start + len);
                assert_int_equal(pq_thrift_parse(&a, b + po, n - (size_t)po, &ph, NULL), 0);
                assert_int_equal(pq_ts_int(ph, 1, PQ_T_I32, &t), 0);
                assert_int_equal(t, 0); /* DATA_PAGE */
                pages++;
            }
            pq_arena_release(&a);
        }
    }
    pq_close(f);
    free(b);
    return pages;
}

static void test_concat_splice_project(void **state)
{
    (void)state;
    char err[PQ_ERRMSG_MAX];
    struct pq_file *a, *b, *o;
    struct pq_result r;
    write_file(P("a.parquet"), &base, 20, 8, 1); /* 3 row groups: 8 8 4 */
    write_file(P("b.parquet"), &base, 10, 5, 1); /* 2 row groups: 5 5 */
    assert_int_equal(pq_open(P("a.parquet"), &a, err), 0);
    assert_int_equal(pq_open(P("b.parquet"), &b, err), 0);

    struct pq_file *in[3] = {a, b, a};
    assert_int_equal(pq_concat(P("c.parquet"), in, 3, &r, err), 0);
    assert_int_equal(r.rows, 50);
    assert_int_equal(r.row_groups, 8);
    assert_int_equal(pq_open(P("c.parquet"), &o, err), 0);
    assert_int_equal(pq_num_rows(o), 50);
    assert_int_equal(pq_row_group_rows(o, 3), 5);
    assert_int_equal(pq_row_group_rows(o, 7), 4);
    assert_int_equal(pq_schema_diff(a, o, err), 0);
    assert_int_equal(r.size, pq_file_size(o));
    pq_close(o);
    /* 3 columns x pages of 4 rows: a = 2+2+1, b = 2+2 per column */
    assert_int_equal(check_offset_indexes(P("c.parquet")), 3 * (5 + 4 + 5));

    /* splice: replace a's row groups 1..1 by b, remove, insert, bad range */
    assert_int_equal(pq_splice(P("s.parquet"), a, 1, 2, b, &r, err), 0);
    assert_int_equal(r.rows, 22);
    assert_int_equal(r.row_groups, 4);
    assert_int_equal(check_offset_indexes(P("s.parquet")), 3 * (2 + 4 + 1));
    assert_int_equal(pq_splice(P("s.parquet"), a, 0, 3, NULL, &r, err), 0);
    assert_int_equal(r.rows, 0);
    assert_int_equal(r.row_groups, 0);
    assert_int_equal(pq_open(P("s.parquet"), &o, err), 0); /* an empty but valid file */
    pq_close(o);
    assert_int_equal(pq_splice(P("s.parquet"), a, 3, 3, b, &r, err), 0);
    assert_int_equal(r.rows, 30);
    int before = count_entries();
    assert_int_equal(pq_splice(P("s2.parquet"), a, 2, 4, b, &r, err), -PQ_ERR_RANGE);
    assert_non_null(strstr(err, "row-group range 2:4 is outside"));
    assert_int_equal(pq_splice(P("s2.parquet"), a, 2, 1, NULL, &r, err), -PQ_ERR_RANGE);
    assert_int_equal(count_entries(), before);

    /* project: file order kept, fingerprint equals a file written with those columns */
    const char *names[] = {"name", "id", "name"};
    assert_int_equal(pq_project(P("p.parquet"), a, names, 3, &r, err), 0);
    assert_int_equal(r.rows, 20);
    struct spec two = {{{"id", PQ_W_INT64, 0}, {"name", PQ_W_STRING, 1}}, 2};
    write_file(P("two.parquet"), &two, 3, 3, 0);
    struct pq_file *t;
    assert_int_equal(pq_open(P("p.parquet"), &o, err), 0);
    assert_int_equal(pq_open(P("two.parquet"), &t, err), 0);
    assert_int_equal(pq_schema_diff(o, t, err), 0);
    assert_int_equal(pq_num_columns(o), 2);
    pq_close(o);
    pq_close(t);
    assert_int_equal(check_offset_indexes(P("p.parquet")), 2 * 5);
    before = count_entries();
    const char *unknown[] = {"id", "nope"};
    assert_int_equal(pq_project(P("p2.parquet"), a, unknown, 2, &r, err), -PQ_ERR_NO_COLUMN);
    assert_non_null(strstr(err, "no column 'nope'"));
    assert_non_null(strstr(err, "available: id, price, name"));
    assert_int_equal(pq_project(P("p2.parquet"), a, unknown, 0, &r, err), -PQ_ERR_ARG);
    assert_int_equal(count_entries(), before);

    /* output over an input: the input's descriptor keeps the old bytes */
    struct pq_file *in2[2] = {a, a};
    assert_int_equal(pq_concat(P("a.parquet"), in2, 2, &r, err), 0);
    assert_int_equal(r.rows, 40);
    assert_int_equal(pq_concat(P("nodir/x.parquet"), in2, 2, &r, err), -PQ_ERR_IO);
    assert_int_equal(pq_concat(P("x.parquet"), in2, 0, &r, err), -PQ_ERR_ARG);
    pq_close(a);
    pq_close(b);
}

/* ---- torture --------------------------------------------------------------------------------- */

static void test_footer_torture(void **state)
{
    (void)state;
    char err[PQ_ERRMSG_MAX];
    uint8_t *b;
    struct pq_file *f;
    write_file(P("t.parquet"), &base, 12, 6, 1);
    size_t n = slurp(P("t.parquet"), &b);
    uint32_t len = (uint32_t)b[n - 8] | (uint32_t)b[n - 7] << 8 | (uint32_t)b[n - 6] << 16;
    size_t off = n - 8 - len, opened = 0, refused = 0;
    uint8_t *c = malloc(n);
    static const uint8_t masks[] = {0xff, 0x01, 0x80};

    /* every byte of the footer, its length and the magic, flipped three ways */
    for (size_t i = off; i < n; i++)
        for (size_t m = 0; m < sizeof masks; m++) {
            memcpy(c, b, n);
            c[i] ^= masks[m];
            spit(P("f.parquet"), c, n);
            err[0] = 0;
            int rc = pq_open(P("f.parquet"), &f, err);
            if (rc < 0) {
                assert_true(rc <= -2000 && rc > -2100);
                assert_true(err[0] != 0);
                refused++;
                continue;
            }
            /* accepted (e.g. a flipped statistic): building from it must work or
             * fail cleanly, and what it builds must open again */
            opened++;
            struct pq_file *in[2] = {f, f};
            struct pq_file *o;
            const char *col[] = {"name"};
            if (pq_concat(P("fo.parquet"), in, 2, NULL, err) == 0) {
                assert_int_equal(pq_open(P("fo.parquet"), &o, err), 0);
                pq_close(o);
            }
            if (pq_project(P("fo.parquet"), f, col, 1, NULL, err) == 0) {
                assert_int_equal(pq_open(P("fo.parquet"), &o, err), 0);
                pq_close(o);
            }
            pq_close(f);
        }
    print_message("flips: %zu refused, %zu accepted\n", refused, opened);
    assert_true(refused > opened);

    /* every truncation of the footer (with a length that matches it) is refused */
    for (size_t k = 0; k < len; k++) {
        memcpy(c, b, off + k);
        uint8_t tr[8] = {(uint8_t)k, (uint8_t)(k >> 8), (uint8_t)(k >> 16), 0, 'P', 'A', 'R', '1'};
        memcpy(c + off + k, tr, 8);
        spit(P("f.parquet"), c, off + k + 8);
        assert_true(pq_open(P("f.parquet"), &f, err) < 0);
    }
    /* every truncation of the file is refused */
    for (size_t k = 0; k < n; k++) {
        spit(P("f.parquet"), b, k);
        assert_true(pq_open(P("f.parquet"), &f, err) < 0);
    }
    free(c);
    free(b);
}

/* A real DuckDB 1.5.6 file (SNAPPY, dictionary + bloom filter, statistics, a list
 * and a struct column), made by `node tests/parquet/pq.mjs duckgen ... --rows 300
 * --codec snappy --seed 5`. Its footer gets the same torture. */
#define DUCK_FIXTURE "tests/parquet/fixtures/duckdb-nested.parquet"

static void test_duckdb_fixture(void **state)
{
    (void)state;
    char err[PQ_ERRMSG_MAX];
    struct pq_file *f, *o;
    struct pq_column c;
    struct pq_result r;
    uint8_t *b;
    if (access(DUCK_FIXTURE, R_OK) != 0)
        skip(); /* run from the repository root */
    assert_int_equal(pq_open(DUCK_FIXTURE, &f, err), 0);
    assert_int_equal(pq_num_rows(f), 300);
    assert_int_equal(pq_num_columns(f), 9);
    assert_int_equal(pq_column_get(f, 6, &c), 0);
    assert_string_equal(c.name, "tags");
    assert_string_equal(c.type, "GROUP");
    assert_string_equal(c.logical_type, "LIST");
    assert_int_equal(c.leaves, 1);
    assert_int_equal(pq_column_get(f, 7, &c), 0);
    assert_string_equal(c.name, "quote");
    assert_int_equal(c.leaves, 2);
    struct pq_file *in[3] = {f, f, f};
    assert_int_equal(pq_concat(P("d3.parquet"), in, 3, &r, err), 0);
    assert_int_equal(r.rows, 900);
    const char *cols[] = {"quote", "id"};
    assert_int_equal(pq_project(P("dp.parquet"), f, cols, 2, &r, err), 0);
    assert_int_equal(pq_open(P("dp.parquet"), &o, err), 0);
    assert_int_equal(pq_num_columns(o), 2);
    assert_int_equal(pq_column_get(o, 1, &c), 0);
    assert_string_equal(c.name, "quote");
    pq_close(o);
    pq_close(f);

    size_t n = slurp(DUCK_FIXTURE, &b);
    uint32_t len = (uint32_t)b[n - 8] | (uint32_t)b[n - 7] << 8 | (uint32_t)b[n - 6] << 16;
    uint8_t *x = malloc(n);
    for (size_t i = n - 8 - len; i < n; i++) {
        memcpy(x, b, n);
        x[i] ^= 0xff;
        spit(P("df.parquet"), x, n);
        if (pq_open(P("df.parquet"), &f, err) < 0)
            continue;
        struct pq_file *two[2] = {f, f};
        if (pq_concat(P("dfo.parquet"), two, 2, NULL, err) == 0) {
            assert_int_equal(pq_open(P("dfo.parquet"), &o, err), 0);
            pq_close(o);
        }
        pq_close(f);
    }
    free(x);
    free(b);
}

static void test_gen(void **state)
{
    (void)state;
    char err[PQ_ERRMSG_MAX];
    struct pq_result r;
    struct pq_file *f;
    struct pq_column c;
    struct pq_gen_opts o = {.rows = 2500,
                            .seed = 7,
                            .day = 20497,
                            .rows_per_group = 1000,
                            .page_rows = 300,
                            .page_index = 1};
    assert_int_equal(pq_gen(P("g.parquet"), &o, &r, err), 0);
    assert_int_equal(r.rows, 2500);
    assert_int_equal(r.row_groups, 3);
    assert_int_equal(pq_open(P("g.parquet"), &f, err), 0);
    assert_int_equal(pq_num_columns(f), 7);
    assert_int_equal(pq_column_get(f, 4, &c), 0);
    assert_string_equal(c.name, "sentiment");
    assert_true(c.optional);
    pq_close(f);
    assert_int_equal(check_offset_indexes(P("g.parquet")), 7 * (4 + 4 + 2));
    /* deterministic for a seed */
    uint8_t *x, *y;
    size_t nx = slurp(P("g.parquet"), &x);
    assert_int_equal(pq_gen(P("g2.parquet"), &o, &r, err), 0);
    size_t ny = slurp(P("g2.parquet"), &y);
    assert_int_equal(nx, ny);
    assert_memory_equal(x, y, nx);
    free(x);
    free(y);
    o.rows = 0;
    assert_int_equal(pq_gen(P("g3.parquet"), &o, &r, err), -PQ_ERR_ARG);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/test_pq_file.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            unlink(P(e->d_name));
    if (d)
        closedir(d);
    rmdir(dir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_writer_known_answer),
        cmocka_unit_test(test_writer_refusals),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_refusals_raw),
        cmocka_unit_test(test_schema_diff),
        cmocka_unit_test(test_concat_splice_project),
        cmocka_unit_test(test_footer_torture),
        cmocka_unit_test(test_duckdb_fixture),
        cmocka_unit_test(test_gen),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
