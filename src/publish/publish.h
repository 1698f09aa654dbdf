/* publish.h -- the publishing pipeline (DESIGN.md "Publishing"): one Parquet file for
 * one grant and one UTC date becomes, in this order,
 *   PREFIX/daily/DATE/<grant>_<DATE>.parquet + manifest.json
 *   PREFIX/monthly/YYYY-MM/<grant>_<YYYY-MM>.parquet + manifest.json  (on month rollover:
 *                                                 the previous MTD, frozen)
 *   PREFIX/mtd/YYYY-MM/<grant>_<YYYY-MM>_mtd.parquet + manifest.json (the month's days'
 *                                                 row groups, appended or spliced)
 *   _index/<grant>.json                           (what exists; written last)
 * where PREFIX is the grant's first prefix. Parquet only in this slice: other files are
 * refused. Row groups are copied byte for byte (parquet.h); temp files live in a private
 * directory under $TMPDIR (or /tmp) and are removed on every path.
 * Returns 0 or a negative code; `err` (PUBLISH_ERRMSG_MAX bytes) gets a sentence. */
#ifndef TG_PUBLISH_H
#define TG_PUBLISH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PUBLISH_ERRMSG_MAX 512
#define PUBLISH_KEY_MAX 1024

struct store;
struct gate_grant;

struct publish_opts {
    struct store *store;
    const char *bucket; /* the data bucket */
    const struct gate_grant *grant;
    const char *file;         /* local path of the Parquet file */
    const char *date;         /* YYYY-MM-DD (UTC) */
    const char *schema_label; /* NULL: keep the previous label (or "") */
    bool allow_schema_change;
    int64_t now; /* built_at */
};

struct publish_result {
    bool noop; /* identical bytes were already published for the date */
    char sha256[65];
    uint64_t rows, size;
    size_t row_groups;
    char fingerprint[65];
    char daily_key[PUBLISH_KEY_MAX];
    char mtd_key[PUBLISH_KEY_MAX];     /* "" when the MTD was not touched */
    char monthly_key[PUBLISH_KEY_MAX]; /* "" unless a month was frozen */
    uint64_t mtd_rows;
    size_t mtd_days;
    bool spliced;                     /* the day replaced an earlier version inside the MTD */
    char warning[PUBLISH_ERRMSG_MAX]; /* "" or a note for the operator */
};

int publish_run(const struct publish_opts *o, struct publish_result *res, char *err);

#endif
