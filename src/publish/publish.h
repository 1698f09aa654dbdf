/* publish.h -- the publishing pipeline (DESIGN.md "Publishing", docs/publishing.md): one
 * file for one grant and one UTC date becomes, in this order,
 *   PREFIX/daily/DATE/<grant>_<DATE><ext> + manifest.json
 *   PREFIX/mtd/YYYY-MM/<grant>_<YYYY-MM>_mtd<ext> + manifest.json  (the month's days: row
 *                                 groups appended or spliced; text files concatenated)
 *   PREFIX/monthly/YYYY-MM/<grant>_<YYYY-MM><ext> + manifest.json (a month that has ended:
 *                                 the last MTD, frozen; rebuilt when a late day arrives)
 *   _index/<grant>.json           (what is live; written last)
 * where PREFIX is the grant's first prefix. Parquet, CSV and JSON-lines (.gz too) get
 * bundles; other files a daily object and manifest only.
 *
 * Invariants: publish never deletes an object a link may point to; what it replaces in a
 * folder, and the MTD of a month that has ended, are retired (store_obj_retire). Every
 * publish first brings the stored state in line (a daily manifest that does not match its
 * object, an MTD whose manifest does not match its file or that misses a stored day, an
 * ended month's MTD still live, a stale index), so a publish killed at any step is
 * repaired by the next one; nothing is written when all is in line (a no-op).
 * Before writing a bundle, its manifest-to-be goes to ".pending-manifest.json" in the
 * folder (ignored by the portal) so a crash between the object and its manifest is
 * recovered without rebuilding. Temp files live in a private directory under $TMPDIR
 * (or /tmp) and are removed on every path.
 *
 * TEST ONLY: env TOLLGATE_TEST_PUBLISH_PAUSE=<step> makes publish_run stop right after
 * <step> -- daily, daily-manifest, mtd-pending, mtd, mtd-manifest, monthly-pending,
 * monthly, monthly-manifest, retire, index -- write the file named by
 * TOLLGATE_TEST_PUBLISH_PAUSE_FILE (if set; it holds the pid) and sleep 60 s, so a crash
 * test can kill -9 it there (tests/integration/t302-publish-crash.sh). Never set it in
 * production.
 *
 * Returns 0 or a negative code; `err` (PUBLISH_ERRMSG_MAX bytes) gets a sentence. */
#ifndef TG_PUBLISH_H
#define TG_PUBLISH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PUBLISH_ERRMSG_MAX 512
#define PUBLISH_KEY_MAX 1024

struct store;
struct gate;
struct gate_grant;

struct publish_opts {
    struct store *store;
    const char *bucket; /* the data bucket */
    const struct gate_grant *grant;
    const char *file;         /* local path of the file; its name gives the format */
    const char *date;         /* YYYY-MM-DD (UTC) */
    const char *schema_label; /* NULL: keep the previous label (or "") */
    bool allow_schema_change;
    int64_t now;         /* built_at, retirement time */
    const char *columns; /* NULL or "a,b,c": publish a projection (Parquet only) */
};

struct publish_result {
    bool noop; /* nothing written: the day and everything derived were in line */
    char sha256[65];
    uint64_t rows, size;
    size_t row_groups;
    char format[8]; /* "parquet", "csv", "jsonl", "other" */
    char fingerprint[65];
    char daily_key[PUBLISH_KEY_MAX];
    char mtd_key[PUBLISH_KEY_MAX];     /* "" when the day is in no MTD */
    char monthly_key[PUBLISH_KEY_MAX]; /* "" unless a monthly bundle was written */
    uint64_t mtd_rows;
    size_t mtd_days;
    bool spliced;                     /* the day replaced an earlier version inside its bundle */
    unsigned repaired;                /* objects rewritten that were not about this day */
    char warning[PUBLISH_ERRMSG_MAX]; /* "" or a note for the operator */
};

int publish_run(const struct publish_opts *o, struct publish_result *res, char *err);

/* Rewrites _index/<grant>.json from what is stored (retired objects excluded). Uses
 * o->store, o->bucket, o->grant, o->now only. */
int publish_index(const struct publish_opts *o, char *err);

/* Inbox: publishes every object under inbox/<grant>/<YYYY-MM-DD>.<ext> of o->bucket
 * (grant and date from the key; o->grant/file/date ignored, grants from `g`), then deletes
 * it; a file that fails moves to inbox-rejected/<grant>/<name> with <name>.error.txt
 * beside it. fn is called once per file handled (may be NULL). */
struct publish_inbox_item {
    const char *key, *grant, *date;
    bool ok;
    const char *error;
    const struct publish_result *res;
};
int publish_inbox_scan(const struct publish_opts *o, struct gate *g,
                       void (*fn)(void *ctx, const struct publish_inbox_item *it), void *ctx,
                       unsigned *handled, char *err);

#endif
