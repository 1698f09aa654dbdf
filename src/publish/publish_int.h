/* publish_int.h -- private to src/publish: file kinds, the text (CSV / JSON-lines) scanner
 * and the streaming reader/writer used to build text bundles (optionally gzip).
 * The scanner is pure (fed bytes, no I/O) so it is unit-tested on tables
 * (tests/unit/test_publish.c). */
#ifndef TG_PUBLISH_INT_H
#define TG_PUBLISH_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <zlib.h>

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

#endif
