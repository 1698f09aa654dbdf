/* publish_int.h -- private to src/publish: file kinds, the text (CSV / JSON-lines) scanner
 * and the streaming reader used to build text bundles (optionally gzip) (publish_text.c);
 * then the pipeline's context and the helpers its files share: publish_store.c (errors,
 * notes, store access, listing, manifests), publish.c (the run, a file's analysis, the
 * index) and publish_bundle.c (the MTD and monthly bundles).
 * The scanner is pure (fed bytes, no I/O) so it is unit-tested on tables
 * (tests/unit/test_publish.c). The pipeline's helpers take a struct ctx that the caller of
 * publish_run() / publish_index() owns; they return 0 or a negative
 * code, with the sentence in c->err. */
#ifndef TG_PUBLISH_INT_H
#define TG_PUBLISH_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>
#include <zlib.h>

#include "publish/publish.h"
#include "util/util.h"

enum pub_fmt { PUB_PARQUET, PUB_CSV, PUB_JSONL, PUB_OTHER };
#define PUB_EXT_MAX 24

struct pub_kind {
    enum pub_fmt fmt;
    bool gz;               /* text formats only: ".csv.gz", ".jsonl.gz", ".ndjson.gz" */
    char ext[PUB_EXT_MAX]; /* ".parquet", ".csv.gz", ".bin", or "" (no usable extension) */
};
/* From a file name: ".parquet", ".csv", ".jsonl", ".ndjson" (+ ".gz" for the text ones);
 * anything else is PUB_OTHER with its last extension (kept for the daily object's name). */
void pub_kind_of(const char *name, struct pub_kind *out);
const char *pub_fmt_name(enum pub_fmt f); /* "parquet", "csv", "jsonl", "other" */

/* ---- the text scanner ---- */
#define PUB_HEADER_MAX (1u << 20) /* a CSV header / the first JSON line */

/* Rows: CSV = non-empty lines after the header line; JSON-lines = non-empty lines.
 * A line is non-empty when it has a byte other than '\r'. body_start: where the rows
 * begin (after the header's '\n' for CSV; 0 for JSON-lines). */
struct pub_text_scan {
    enum pub_fmt fmt;
    struct buf first; /* the first line without its '\n' (capped at PUB_HEADER_MAX) */
    bool first_done;
    bool cur_content; /* the current line has a byte other than '\r' */
    uint64_t rows, bytes, body_start;
    int last; /* last byte seen, -1 none */
};
void pub_text_scan_init(struct pub_text_scan *s, enum pub_fmt fmt);
int pub_text_scan_feed(struct pub_text_scan *s, const void *p, size_t n, char *err);
/* Finishes: fp = SHA-256 hex of the CSV header line (without "\r\n"), or for JSON-lines of
 * the sorted top-level keys of the first line, each followed by '\n'. err on a file with no
 * header / a first line that is not a JSON object. */
int pub_text_scan_end(struct pub_text_scan *s, char fp[65], char *err);
void pub_text_scan_release(struct pub_text_scan *s);

/* ---- streaming: a reader that inflates gzip (concatenated members too) ---- */
struct pub_rd {
    int fd;
    bool gz, zinit, zend, eof;
    z_stream z;
    uint8_t in[1 << 16];
};
void pub_rd_init(struct pub_rd *r, int fd, bool gz);          /* the fd stays the caller's */
ssize_t pub_rd_read(struct pub_rd *r, void *out, size_t cap); /* 0 at end; <0 error */
void pub_rd_release(struct pub_rd *r);

/* ---- the pipeline: its context and the helpers its files share ---- */

#define PUB_PENDING ".pending-manifest.json" /* a bundle's manifest-to-be (publish.h) */

struct store_put;

struct ctx {
    const struct publish_opts *o;
    struct publish_result *r;
    char *err;
    const char *prefix;
    char tmpdir[4096];
    unsigned writes; /* objects written or retired */
    const char *label;
    const char *focus; /* the date being published, or NULL (index / inbox) */
};

/* publish_store.c */
int pub_fail(struct ctx *c, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void pub_note(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *pub_errs(int rc);
void pub_pause_at(const char *step); /* TEST ONLY (publish.h) */
const char *pub_ctype_of(const struct pub_kind *k);
int pub_stage_path(struct ctx *c, const char *path, struct store_put **out);
int pub_commit(struct ctx *c, struct store_put *p, const char *key, const char *ctype);
int pub_put_json(struct ctx *c, const char *key, json_t *j);
int pub_get_json(struct ctx *c, const char *key, json_t **out);
int pub_head_sha(struct ctx *c, const char *key, char sha[65], bool *retired);
const char *pub_jstr(json_t *o, const char *k1, const char *k2);
bool pub_streq(const char *a, const char *b);
bool pub_manifest_matches(struct ctx *c, json_t *m);

/* The folders <prefix><kind>/<period>/ with what they hold. */
struct folder {
    char period[11];
    char data_key[PUBLISH_KEY_MAX]; /* the live data object (newest), else a retired one */
    bool data_live, has_manifest, has_pending;
    int64_t data_mtime;
    size_t ndata;
};
struct folders {
    size_t dir_len;
    struct folder *v;
    size_t n, cap;
    int err;
};
/* fs->v is the caller's to free (NULL after a failure, so freeing it is always safe). */
int pub_list_folders(struct ctx *c, const char *kind, const char *period_prefix, bool skip_retired,
                     struct folders *fs);
int pub_retire_folder(struct ctx *c, const char *folder, const char *keep, bool keep_manifests);
json_t *pub_manifest_new(struct ctx *c, const char *kind, enum pub_fmt fmt, const char *start,
                         const char *end, const char *fp, const char *label, bool has_rows,
                         uint64_t rows, size_t rgs, uint64_t size, const char *sha,
                         const char *key);

/* publish.c: what a file is -- format, schema fingerprint, rows */
struct analysis {
    struct pub_kind k;
    char fp[65]; /* "" for other formats */
    uint64_t rows;
    size_t rgs;
    bool has_rows;
};
int pub_analyze(struct ctx *c, const char *path, const char *what, const struct pub_kind *k,
                struct analysis *out);

/* publish_bundle.c */

/* A stored day: what its (checked) daily manifest says. */
struct dayinfo {
    char date[11];
    char key[PUBLISH_KEY_MAX];
    char sha[65];
    char fp[65];
    struct pub_kind k;
    uint64_t rows;
    size_t rgs;
};

struct bundle_spec {
    const char *kind;  /* "mtd" or "monthly" */
    const char *month; /* YYYY-MM */
    enum pub_fmt fmt;
    const char *fp;
    const char *ext; /* for a bundle made from nothing: ".parquet", ".csv.gz", ... */
    bool focus;      /* the bundle of the day being published */
};
struct bundle_res {
    bool exists;
    char key[PUBLISH_KEY_MAX];
    uint64_t rows;
    size_t ndays;
    bool spliced;
};

/* *out (n days, date order) is the caller's to free. */
int pub_month_days(struct ctx *c, const char *month, struct dayinfo **out, size_t *n);
int pub_sync_bundle(struct ctx *c, const struct bundle_spec *s, const struct dayinfo *days,
                    size_t ndays, struct bundle_res *res);
/* 1: the month has no schema (no bundle manifest, no day with a bundle format). */
int pub_bundle_schema(struct ctx *c, const char *kind, const char *month,
                      const struct dayinfo *days, size_t ndays, enum pub_fmt *fmt, char fp[65],
                      char ext[PUB_EXT_MAX], char label[256]);
int pub_sync_month(struct ctx *c, const char *kind, const char *month, struct bundle_res *res);
int pub_close_months(struct ctx *c);

#endif
