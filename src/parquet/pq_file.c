/* pq_file.c -- open and validate a Parquet file; schema tree, fingerprint, diff
 * and column descriptions.
 *
 * pq_open reads only the 8-byte trailer, the 4-byte head and the footer; it keeps
 * the descriptor open so builders can copy chunks later. After a successful open
 * every offset the builders will follow (chunk ranges, page indexes, bloom
 * filters) is known to lie inside [4, footer_off), every field they read has its
 * expected Thrift type, and Σ row-group rows == FileMetaData.num_rows. So
 * pq_copy.c can trust the tree without re-checking. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../crypto/crypto.h"
#include "pq_int.h"

static const char *const type_names[] = {"BOOLEAN", "INT32",  "INT64",      "INT96",
                                         "FLOAT",   "DOUBLE", "BYTE_ARRAY", "FIXED_LEN_BYTE_ARRAY"};
static const char *const conv_names[] = {"STRING",
                                         "MAP",
                                         "MAP_KEY_VALUE",
                                         "LIST",
                                         "ENUM",
                                         "DECIMAL",
                                         "DATE",
                                         "TIME_MILLIS",
                                         "TIME_MICROS",
                                         "TIMESTAMP_MILLIS",
                                         "TIMESTAMP_MICROS",
                                         "UINT_8",
                                         "UINT_16",
                                         "UINT_32",
                                         "UINT_64",
                                         "INT_8",
                                         "INT_16",
                                         "INT_32",
                                         "INT_64",
                                         "JSON",
                                         "BSON",
                                         "INTERVAL"};

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static int pread_full(int fd, void *buf, size_t n, uint64_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, (char *)buf + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            return -EIO; /* shrank under us */
        got += (size_t)r;
    }
    return 0;
}

/* ---- schema ---------------------------------------------------------------------- */

static const char *arena_strdup(struct pq_arena *a, const uint8_t *p, uint32_t n)
{
    char *s = pq_arena_alloc(a, (size_t)n + 1);
    if (s && n)
        memcpy(s, p, n);
    return s;
}

/* Build nodes[i] for element *pos and its subtree (depth-first). */
static int build_node(struct pq_file *f, uint32_t *pos, uint32_t *leaf, int depth, char *err)
{
    uint32_t i = *pos;
    struct pq_node *nd = &f->nodes[i];
    const struct pq_tval *v = &f->schema->v[i];
    struct pq_tval *name, *nc;
    int64_t x;

    if (depth > PQ_THRIFT_DEPTH_MAX)
        return pq_fail(err, -PQ_ERR_CORRUPT,
                       "corrupt Parquet metadata in '%s': schema nested too deep", f->path);
    if (v->type != PQ_T_STRUCT || !(name = pq_ts_typed(v->u.st, 4, PQ_T_BINARY)))
        return pq_fail(err, -PQ_ERR_CORRUPT,
                       "corrupt Parquet metadata in '%s': schema element %u has no name", f->path,
                       i);
    nd->el = v->u.st;
    if (!(nd->name = arena_strdup(&f->arena, name->u.bin.ptr, name->u.bin.len)))
        return -PQ_ERR_NOMEM;
    nd->type = pq_ts_int(nd->el, 1, PQ_T_I32, &x) == 0 ? (int32_t)x : -1;
    nd->repetition = pq_ts_int(nd->el, 3, PQ_T_I32, &x) == 0 ? (int32_t)x : -1;
    nd->converted = pq_ts_int(nd->el, 6, PQ_T_I32, &x) == 0 ? (int32_t)x : -1;
    nc = pq_ts_typed(nd->el, 5, PQ_T_I32);
    nd->first_el = i;
    nd->first_leaf = *leaf;
    (*pos)++;
    if (nc && nc->u.i > 0) {
        if ((uint64_t)nc->u.i > f->nnodes - *pos)
            return pq_fail(err, -PQ_ERR_CORRUPT,
                           "corrupt Parquet metadata in '%s': schema element '%s' claims %" PRId64
                           " children but only %u elements follow",
                           f->path, nd->name, nc->u.i, f->nnodes - *pos);
        nd->nchildren = (uint32_t)nc->u.i;
        nd->type = -1;
        for (uint32_t c = 0; c < nd->nchildren; c++) {
            if (*pos >= f->nnodes)
                return pq_fail(err, -PQ_ERR_CORRUPT,
                               "corrupt Parquet metadata in '%s': schema ends inside group '%s'",
                               f->path, nd->name);
            f->nodes[*pos].parent = i;
            int rc = build_node(f, pos, leaf, depth + 1, err);
            if (rc < 0)
                return rc;
        }
    } else {
        if (i == 0 || nd->type < 0 || nd->type > 7)
            return pq_fail(err, -PQ_ERR_CORRUPT,
                           "corrupt Parquet metadata in '%s': schema element '%s' has neither "
                           "children nor a valid physical type",
                           f->path, nd->name);
        if (nd->repetition < 0 || nd->repetition > 2)
            return pq_fail(err, -PQ_ERR_CORRUPT,
                           "corrupt Parquet metadata in '%s': column '%s' has no repetition type",
                           f->path, nd->name);
        (*leaf)++;
    }
    nd->nleaves = *leaf - nd->first_leaf;
    nd->nels = *pos - i;
    return 0;
}

static int build_schema(struct pq_file *f, char *err)
{
    uint32_t pos = 0, leaf = 0;
    int rc;

    if (f->schema->n == 0 || f->schema->n > PQ_SCHEMA_MAX)
        return pq_fail(err, -PQ_ERR_CORRUPT, "corrupt Parquet metadata in '%s': %u schema elements",
                       f->path, f->schema->n);
    f->nnodes = f->schema->n;
    if (!(f->nodes = pq_arena_alloc(&f->arena, (size_t)f->nnodes * sizeof *f->nodes)))
        return -PQ_ERR_NOMEM;
    if ((rc = build_node(f, &pos, &leaf, 0, err)) < 0)
        return rc;
    if (pos != f->nnodes || f->nodes[0].nchildren == 0)
        return pq_fail(err, -PQ_ERR_CORRUPT,
                       "corrupt Parquet metadata in '%s': schema tree covers %u of %u elements",
                       f->path, pos, f->nnodes);
    f->nleaves = leaf;
    f->ntop = f->nodes[0].nchildren;
    if (!(f->top = pq_arena_alloc(&f->arena, (size_t)f->ntop * sizeof *f->top)))
        return -PQ_ERR_NOMEM;
    for (uint32_t c = 0, at = 1; c < f->ntop; c++) {
        f->top[c] = at;
        at += f->nodes[at].nels;
    }
    return 0;
}

static int fingerprint(struct pq_file *f)
{
    struct crypto_hash h = {0};
    struct buf b;
    uint8_t nc[4];
    int rc;

    buf_init(&b, PQ_FOOTER_MAX);
    for (int k = 0; k < 4; k++)
        nc[k] = (uint8_t)(f->nodes[0].nchildren >> (8 * k));
    if ((rc = crypto_sha256_init(&h)) < 0 || (rc = crypto_sha256_update(&h, nc, 4)) < 0)
        goto out;
    for (uint32_t i = 1; i < f->nnodes; i++) {
        buf_reset(&b);
        if ((rc = pq_thrift_write_sorted(&b, f->nodes[i].el)) < 0 ||
            (rc = crypto_sha256_update(&h, b.ptr, b.len)) < 0)
            goto out;
    }
    rc = crypto_sha256_final(&h, f->fingerprint);
out:
    crypto_hash_release(&h);
    buf_release(&b);
    return rc < 0 ? -PQ_ERR_NOMEM : 0;
}

/* ---- row groups ---------------------------------------------------------------------- */

int pq_chunk_range(const struct pq_tstruct *cmd, uint64_t *start, uint64_t *len)
{
    int64_t dpo, dict = 0, tcs;
    if (pq_ts_int(cmd, 9, PQ_T_I64, &dpo) < 0 || pq_ts_int(cmd, 7, PQ_T_I64, &tcs) < 0)
        return -PQ_ERR_CORRUPT;
    (void)pq_ts_int(cmd, 11, PQ_T_I64, &dict);
    int64_t s = (dict > 0 && dict < dpo) ? dict : dpo;
    if (s < 4 || tcs <= 0)
        return -PQ_ERR_CORRUPT;
    *start = (uint64_t)s;
    *len = (uint64_t)tcs;
    return 0;
}

/* [off, off+len) inside the data area [4, footer_off). */
static int in_data(const struct pq_file *f, int64_t off, int64_t len)
{
    return off >= 4 && len >= 0 && (uint64_t)off <= f->footer_off &&
           (uint64_t)len <= f->footer_off - (uint64_t)off;
}

static int check_chunk(struct pq_file *f, uint32_t rg, uint32_t c, const struct pq_tval *cv,
                       char *err)
{
    const struct pq_node *leaf = NULL;
    struct pq_tstruct *cc, *md;
    struct pq_tval *v;
    uint64_t start, len;
    int64_t x, y;

    for (uint32_t i = 0; i < f->nnodes; i++)
        if (f->nodes[i].nchildren == 0 && i > 0 && f->nodes[i].first_leaf == c) {
            leaf = &f->nodes[i];
            break;
        }
#define BAD(...)                                                                                   \
    pq_fail(err, -PQ_ERR_CORRUPT,                                                                  \
            "corrupt Parquet metadata in '%s': row group %u column %u "                            \
            "('%s'): " __VA_ARGS__)
#define WHERE f->path, rg, c, leaf ? leaf->name : "?"
    if (cv->type != PQ_T_STRUCT)
        return BAD("not a struct", WHERE);
    cc = cv->u.st;
    if (pq_ts_get(cc, 1))
        return pq_fail(err, -PQ_ERR_UNSUPPORTED,
                       "unsupported Parquet file '%s': column chunk in an external file (file_path "
                       "set); only self-contained files are accepted",
                       f->path);
    if (pq_ts_get(cc, 8) || pq_ts_get(cc, 9))
        return pq_fail(err, -PQ_ERR_ENCRYPTED,
                       "encrypted Parquet file '%s': column '%s' is encrypted; not supported",
                       f->path, leaf ? leaf->name : "?");
    if (!(v = pq_ts_typed(cc, 3, PQ_T_STRUCT)))
        return BAD("no column metadata", WHERE);
    md = v->u.st;
    if (pq_ts_int(md, 1, PQ_T_I32, &x) < 0 || !leaf || x != leaf->type)
        return BAD("physical type does not match the schema", WHERE);
    if (pq_ts_int(md, 5, PQ_T_I64, &x) < 0 || x < 0)
        return BAD("bad num_values", WHERE);
    if (pq_ts_int(md, 6, PQ_T_I64, &x) < 0 || x < 0)
        return BAD("bad total_uncompressed_size", WHERE);
    if ((pq_ts_get(md, 10) && !pq_ts_typed(md, 10, PQ_T_I64)) ||
        (pq_ts_get(md, 11) && !pq_ts_typed(md, 11, PQ_T_I64)) ||
        (pq_ts_get(md, 14) && !pq_ts_typed(md, 14, PQ_T_I64)) ||
        (pq_ts_get(md, 15) && !pq_ts_typed(md, 15, PQ_T_I32)))
        return BAD("offset field of the wrong type", WHERE);
    if (pq_chunk_range(md, &start, &len) < 0)
        return BAD("bad data_page_offset or total_compressed_size", WHERE);
    if (!in_data(f, (int64_t)start, (int64_t)len))
        return BAD("chunk [%" PRIu64 ", %" PRIu64 ") is not inside the data area [4, %" PRIu64 ")",
                   WHERE, start, start + len, f->footer_off);
    if (pq_ts_int(md, 9, PQ_T_I64, &x) == 0 && ((uint64_t)x < start || (uint64_t)x >= start + len))
        return BAD("data_page_offset %" PRId64 " outside its chunk", WHERE, x);
    if (pq_ts_int(md, 14, PQ_T_I64, &x) == 0) {
        y = pq_ts_int(md, 15, PQ_T_I32, &y) == 0 ? y : 1;
        if (y <= 0 || !in_data(f, x, y))
            return BAD("bloom filter outside the data area", WHERE);
    }
    for (int16_t id = 4; id <= 6; id += 2) {
        if (!pq_ts_get(cc, id) && !pq_ts_get(cc, (int16_t)(id + 1)))
            continue;
        if (pq_ts_int(cc, id, PQ_T_I64, &x) < 0 ||
            pq_ts_int(cc, (int16_t)(id + 1), PQ_T_I32, &y) < 0 || y <= 0 || !in_data(f, x, y))
            return BAD("%s index outside the data area", WHERE, id == 4 ? "offset" : "column");
    }
#undef BAD
#undef WHERE
    return 0;
}

static int check_row_groups(struct pq_file *f, char *err)
{
    uint64_t total = 0;
    int64_t n;

    if (f->row_groups->n > PQ_ROW_GROUPS_MAX)
        return pq_fail(err, -PQ_ERR_LIMIT, "'%s' has %u row groups; at most %d are supported",
                       f->path, f->row_groups->n, PQ_ROW_GROUPS_MAX);
    for (uint32_t rg = 0; rg < f->row_groups->n; rg++) {
        const struct pq_tval *v = &f->row_groups->v[rg];
        struct pq_tval *cols;
        if (v->type != PQ_T_STRUCT || !(cols = pq_ts_typed(v->u.st, 1, PQ_T_LIST)) ||
            pq_ts_int(v->u.st, 3, PQ_T_I64, &n) < 0 || n < 0 || !pq_ts_typed(v->u.st, 2, PQ_T_I64))
            return pq_fail(err, -PQ_ERR_CORRUPT,
                           "corrupt Parquet metadata in '%s': row group %u is malformed", f->path,
                           rg);
        if (cols->u.list->n != f->nleaves)
            return pq_fail(
                err, -PQ_ERR_CORRUPT,
                "corrupt Parquet metadata in '%s': row group %u has %u column chunks but "
                "the schema has %u columns",
                f->path, rg, cols->u.list->n, f->nleaves);
        for (uint32_t c = 0; c < cols->u.list->n; c++) {
            int rc = check_chunk(f, rg, c, &cols->u.list->v[c], err);
            if (rc < 0)
                return rc;
        }
        if ((uint64_t)n > UINT64_MAX / 2 - total)
            return pq_fail(err, -PQ_ERR_CORRUPT,
                           "corrupt Parquet metadata in '%s': row count overflow", f->path);
        total += (uint64_t)n;
    }
    if (total != f->num_rows)
        return pq_fail(err, -PQ_ERR_CORRUPT,
                       "corrupt Parquet metadata in '%s': row groups hold %" PRIu64
                       " rows but the footer says %" PRIu64,
                       f->path, total, f->num_rows);
    return 0;
}

/* parquet-mr <= 1.2.8 wrote total_compressed_size without the dictionary page
 * header (PARQUET-816): copying such a chunk would truncate it. */
static int old_parquet_mr(const char *cb)
{
    unsigned a, b, c;
    if (!cb || strncmp(cb, "parquet-mr version ", 19) != 0)
        return 0;
    if (sscanf(cb + 19, "%u.%u.%u", &a, &b, &c) != 3)
        return 0;
    return a < 1 || (a == 1 && (b < 2 || (b == 2 && c <= 8)));
}

/* ---- open -------------------------------------------------------------------------- */

int pq_open(const char *path, struct pq_file **out, char *err)
{
    struct pq_file *f = NULL;
    struct stat st;
    uint8_t tail[8], head[4];
    struct pq_tval *v;
    size_t used;
    int64_t x;
    int rc;

    if (!(f = calloc(1, sizeof *f)) || !(f->path = strdup(path))) {
        free(f);
        return pq_fail(err, -PQ_ERR_NOMEM, "out of memory opening '%s'", path);
    }
    f->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (f->fd < 0 || fstat(f->fd, &st) < 0) {
        rc = pq_fail(err, -PQ_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = pq_fail(err, -PQ_ERR_NOT_PARQUET, "not a Parquet file: '%s' is not a regular file",
                     path);
        goto out;
    }
    f->size = (uint64_t)st.st_size;
    if (f->size < 12) {
        rc = pq_fail(err, -PQ_ERR_NOT_PARQUET,
                     "not a Parquet file: '%s' is %" PRIu64
                     " bytes, shorter than the 12-byte minimum",
                     path, f->size);
        goto out;
    }
    if ((rc = pread_full(f->fd, tail, 8, f->size - 8)) < 0 ||
        (rc = pread_full(f->fd, head, 4, 0)) < 0) {
        rc = pq_fail(err, -PQ_ERR_IO, "cannot read '%s': %s", path, strerror(-rc));
        goto out;
    }
    if (memcmp(tail + 4, "PARE", 4) == 0 || memcmp(head, "PARE", 4) == 0) {
        rc = pq_fail(err, -PQ_ERR_ENCRYPTED,
                     "encrypted Parquet file '%s' (PARE magic, encrypted footer): not supported",
                     path);
        goto out;
    }
    if (memcmp(tail + 4, "PAR1", 4) != 0) {
        rc = pq_fail(err, -PQ_ERR_NOT_PARQUET,
                     "not a Parquet file: '%s' has no PAR1 magic at the end", path);
        goto out;
    }
    if (memcmp(head, "PAR1", 4) != 0) {
        rc = pq_fail(err, -PQ_ERR_NOT_PARQUET,
                     "not a Parquet file: '%s' has no PAR1 magic at the start", path);
        goto out;
    }
    f->footer_len = (uint32_t)tail[0] | (uint32_t)tail[1] << 8 | (uint32_t)tail[2] << 16 |
                    (uint32_t)tail[3] << 24;
    if (f->footer_len == 0 || f->footer_len > f->size - 12) {
        rc = pq_fail(err, -PQ_ERR_CORRUPT,
                     "corrupt Parquet file '%s': footer length %u out of range for a %" PRIu64
                     "-byte file",
                     path, f->footer_len, f->size);
        goto out;
    }
    if (f->footer_len > PQ_FOOTER_MAX) {
        rc = pq_fail(err, -PQ_ERR_LIMIT, "'%s': footer of %u bytes exceeds the %u-byte limit", path,
                     f->footer_len, PQ_FOOTER_MAX);
        goto out;
    }
    f->footer_off = f->size - 8 - f->footer_len;
    if (!(f->footer = malloc(f->footer_len))) {
        rc = pq_fail(err, -PQ_ERR_NOMEM, "out of memory reading the footer of '%s'", path);
        goto out;
    }
    if ((rc = pread_full(f->fd, f->footer, f->footer_len, f->footer_off)) < 0) {
        rc = pq_fail(err, -PQ_ERR_IO, "cannot read '%s': %s", path, strerror(-rc));
        goto out;
    }
    if ((rc = pq_thrift_parse(&f->arena, f->footer, f->footer_len, &f->fmd, &used)) < 0) {
        rc = rc == -PQ_ERR_NOMEM
                 ? pq_fail(err, rc, "out of memory parsing the footer of '%s'", path)
                 : pq_fail(err, rc, "corrupt Parquet file '%s': the footer does not parse", path);
        goto out;
    }
    if (pq_ts_get(f->fmd, 8)) {
        rc = pq_fail(err, -PQ_ERR_ENCRYPTED,
                     "encrypted Parquet file '%s' (encryption_algorithm in the footer): not "
                     "supported",
                     path);
        goto out;
    }
    if (used != f->footer_len && f->footer_len - used == 28) {
        rc = pq_fail(err, -PQ_ERR_ENCRYPTED,
                     "encrypted Parquet file '%s' (signed plaintext footer): not supported", path);
        goto out;
    }
    if (used != f->footer_len) {
        rc = pq_fail(err, -PQ_ERR_CORRUPT,
                     "corrupt Parquet file '%s': footer has %zu bytes after its end", path,
                     (size_t)(f->footer_len - used));
        goto out;
    }
    if (pq_ts_int(f->fmd, 1, PQ_T_I32, &x) < 0 || !(v = pq_ts_typed(f->fmd, 2, PQ_T_LIST)) ||
        !(f->schema = v->u.list) || !(v = pq_ts_typed(f->fmd, 4, PQ_T_LIST)) ||
        !(f->row_groups = v->u.list) || pq_ts_int(f->fmd, 3, PQ_T_I64, &x) < 0 || x < 0) {
        rc = pq_fail(err, -PQ_ERR_CORRUPT,
                     "corrupt Parquet metadata in '%s': version, schema, num_rows or row_groups "
                     "missing or mistyped",
                     path);
        goto out;
    }
    f->num_rows = (uint64_t)x;
    if ((v = pq_ts_typed(f->fmd, 6, PQ_T_BINARY)) &&
        !(f->created_by = (char *)arena_strdup(&f->arena, v->u.bin.ptr, v->u.bin.len))) {
        rc = -PQ_ERR_NOMEM;
        goto out;
    }
    if (old_parquet_mr(f->created_by)) {
        rc = pq_fail(err, -PQ_ERR_UNSUPPORTED,
                     "unsupported Parquet file '%s': written by '%s', whose column sizes are wrong "
                     "(PARQUET-816); rewrite it with a newer tool",
                     path, f->created_by);
        goto out;
    }
    if ((rc = build_schema(f, err)) < 0 || (rc = check_row_groups(f, err)) < 0)
        goto out;
    if ((rc = fingerprint(f)) < 0) {
        pq_fail(err, rc, "out of memory hashing the schema of '%s'", path);
        goto out;
    }
    *out = f;
    f = NULL;
    rc = 0;
out:
    if (rc == -PQ_ERR_NOMEM && err && !err[0])
        pq_fail(err, rc, "out of memory opening '%s'", path);
    pq_close(f);
    return rc;
}

void pq_close(struct pq_file *f)
{
    if (!f)
        return;
    if (f->fd >= 0)
        close(f->fd);
    pq_arena_release(&f->arena);
    free(f->footer);
    free(f->path);
    free(f);
}

uint64_t pq_file_size(const struct pq_file *f)
{
    return f->size;
}
uint64_t pq_num_rows(const struct pq_file *f)
{
    return f->num_rows;
}
size_t pq_num_row_groups(const struct pq_file *f)
{
    return f->row_groups->n;
}
uint64_t pq_row_group_rows(const struct pq_file *f, size_t rg)
{
    int64_t n = 0;
    if (rg >= f->row_groups->n)
        return 0;
    (void)pq_ts_int(f->row_groups->v[rg].u.st, 3, PQ_T_I64, &n);
    return (uint64_t)n;
}
const char *pq_created_by(const struct pq_file *f)
{
    return f->created_by;
}
const char *pq_path(const struct pq_file *f)
{
    return f->path;
}
void pq_fingerprint(const struct pq_file *f, uint8_t out[32])
{
    memcpy(out, f->fingerprint, 32);
}
void pq_fingerprint_hex(const struct pq_file *f, char out[65])
{
    hex_encode(f->fingerprint, 32, out);
}

/* ---- descriptions -------------------------------------------------------------------- */

static const char *unit_name(const struct pq_tstruct *u)
{
    static const char *const n[] = {"?", "MILLIS", "MICROS", "NANOS"};
    return u && u->n && u->f[0].id >= 1 && u->f[0].id <= 3 ? n[u->f[0].id] : "?";
}

/* "STRING", "TIMESTAMP(MICROS,UTC)", "DECIMAL(10,2)", ... or "" */
static void logical_name(const struct pq_node *nd, char *out, size_t cap)
{
    static const char *const lt[] = {"",        "STRING",  "MAP",      "LIST",      "ENUM",
                                     "DECIMAL", "DATE",    "TIME",     "TIMESTAMP", "",
                                     "INTEGER", "UNKNOWN", "JSON",     "BSON",      "UUID",
                                     "FLOAT16", "VARIANT", "GEOMETRY", "GEOGRAPHY", "FILE"};
    struct pq_tval *l = pq_ts_typed(nd->el, 10, PQ_T_STRUCT);
    out[0] = 0;
    if (l && l->u.st->n == 1 && l->u.st->f[0].v.type == PQ_T_STRUCT) {
        int16_t id = l->u.st->f[0].id;
        const struct pq_tstruct *m = l->u.st->f[0].v.u.st;
        int64_t a = 0, b = 0;
        struct pq_tval *u;
        if (id <= 0 || id >= (int16_t)(sizeof lt / sizeof lt[0]) || !lt[id][0]) {
            snprintf(out, cap, "LOGICAL_%d", id);
        } else if (id == 5) {
            (void)pq_ts_int(m, 2, PQ_T_I32, &a);
            (void)pq_ts_int(m, 1, PQ_T_I32, &b);
            snprintf(out, cap, "DECIMAL(%" PRId64 ",%" PRId64 ")", a, b);
        } else if (id == 7 || id == 8) {
            struct pq_tval *utc = pq_ts_typed(m, 1, PQ_T_BOOL);
            u = pq_ts_typed(m, 2, PQ_T_STRUCT);
            snprintf(out, cap, "%s(%s,%s)", lt[id], unit_name(u ? u->u.st : NULL),
                     utc && utc->u.i ? "UTC" : "local");
        } else if (id == 10) {
            (void)pq_ts_int(m, 1, PQ_T_I8, &a);
            struct pq_tval *sg = pq_ts_typed(m, 2, PQ_T_BOOL);
            snprintf(out, cap, "INTEGER(%" PRId64 ",%s)", a, sg && sg->u.i ? "signed" : "unsigned");
        } else {
            snprintf(out, cap, "%s", lt[id]);
        }
        return;
    }
    if (nd->converted >= 0 && nd->converted < (int32_t)(sizeof conv_names / sizeof conv_names[0]))
        snprintf(out, cap, "%s", conv_names[nd->converted]);
}

static const char *phys_name(const struct pq_node *nd)
{
    return nd->type < 0 ? "GROUP" : type_names[nd->type];
}

size_t pq_num_columns(const struct pq_file *f)
{
    return f->ntop;
}

int pq_column_get(const struct pq_file *f, size_t i, struct pq_column *out)
{
    struct pq_column c = {0};
    const struct pq_node *nd;
    if (i >= f->ntop)
        return -PQ_ERR_ARG;
    nd = &f->nodes[f->top[i]];
    c.name = nd->name;
    c.type = phys_name(nd);
    logical_name(nd, c.logical_type, sizeof c.logical_type);
    c.optional = nd->repetition == 1;
    c.repeated = nd->repetition == 2;
    c.leaves = nd->nleaves;
    *out = c;
    return 0;
}

/* "column 3 'price'" or "column 4 'quote.bid'" for element i */
static void elem_label(const struct pq_file *f, uint32_t i, char *out, size_t cap)
{
    uint32_t chain[PQ_THRIFT_DEPTH_MAX + 2], n = 0, top = 0;
    size_t len;
    for (uint32_t k = i; k != 0 && n < PQ_THRIFT_DEPTH_MAX + 1; k = f->nodes[k].parent)
        chain[n++] = k;
    for (uint32_t c = 0; c < f->ntop; c++)
        if (n && f->top[c] == chain[n - 1])
            top = c + 1;
    len = (size_t)snprintf(out, cap, "column %u '", top);
    for (uint32_t k = n; k-- > 0 && len < cap;)
        len +=
            (size_t)snprintf(out + len, cap - len, "%s%s", f->nodes[chain[k]].name, k ? "." : "");
    if (len < cap)
        snprintf(out + len, cap - len, "'");
}

static void elem_desc(const struct pq_node *nd, char *out, size_t cap)
{
    char lt[64];
    logical_name(nd, lt, sizeof lt);
    snprintf(out, cap, "%s%s%s", phys_name(nd), lt[0] ? " " : "", lt);
}

static const char *rep_name(int32_t r)
{
    return r == 0 ? "required" : r == 1 ? "optional" : r == 2 ? "repeated" : "unset";
}

int pq_schema_diff(const struct pq_file *a, const struct pq_file *b, char *msg)
{
    const char *an = base_name(a->path), *bn = base_name(b->path);
    char label[128], da[96], db[96];
    struct buf ba, bb;
    int rc = -PQ_ERR_SCHEMA;

    if (memcmp(a->fingerprint, b->fingerprint, 32) == 0)
        return 0;
    buf_init(&ba, PQ_FOOTER_MAX);
    buf_init(&bb, PQ_FOOTER_MAX);
    for (uint32_t i = 1; i < a->nnodes && i < b->nnodes; i++) {
        const struct pq_node *x = &a->nodes[i], *y = &b->nodes[i];
        buf_reset(&ba);
        buf_reset(&bb);
        if (pq_thrift_write_sorted(&ba, x->el) < 0 || pq_thrift_write_sorted(&bb, y->el) < 0) {
            pq_fail(msg, rc, "schemas differ between %s and %s", an, bn);
            goto out;
        }
        if (ba.len == bb.len && memcmp(ba.ptr, bb.ptr, ba.len) == 0)
            continue;
        elem_label(a, i, label, sizeof label);
        elem_desc(x, da, sizeof da);
        elem_desc(y, db, sizeof db);
        if (strcmp(x->name, y->name) != 0) {
            char lb[128];
            elem_label(b, i, lb, sizeof lb);
            pq_fail(msg, rc, "schemas differ: %s in %s is %s in %s", label, an, lb, bn);
        } else if (strcmp(da, db) != 0) {
            pq_fail(msg, rc, "schemas differ: %s is %s in %s but %s in %s", label, da, an, db, bn);
        } else if (x->repetition != y->repetition) {
            pq_fail(msg, rc, "schemas differ: %s is %s in %s but %s in %s", label,
                    rep_name(x->repetition), an, rep_name(y->repetition), bn);
        } else if (x->nchildren != y->nchildren) {
            pq_fail(msg, rc, "schemas differ: %s has %u fields in %s but %u in %s", label,
                    x->nchildren, an, y->nchildren, bn);
        } else {
            pq_fail(msg, rc,
                    "schemas differ: %s (%s) has different annotations (converted type, field id, "
                    "precision or length) in %s and %s",
                    label, da, an, bn);
        }
        goto out;
    }
    if (a->ntop != b->ntop) {
        const struct pq_file *more = a->ntop > b->ntop ? a : b;
        uint32_t k = a->ntop < b->ntop ? a->ntop : b->ntop;
        pq_fail(msg, rc,
                "schemas differ: %s has %u columns but %s has %u; column %u '%s' is only in %s", an,
                a->ntop, bn, b->ntop, k + 1, more->nodes[more->top[k]].name, base_name(more->path));
    } else {
        pq_fail(msg, rc, "schemas differ between %s and %s (nested fields)", an, bn);
    }
out:
    buf_release(&ba);
    buf_release(&bb);
    return rc;
}
