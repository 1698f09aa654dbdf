/* publish.c -- publish_run(): validate a file (Parquet, CSV, JSON-lines, optionally gzip;
 * other files get a daily object only), write the daily object and manifest, bring the
 * day's month bundle in line (the MTD, or the monthly bundle of an ended month: row groups
 * appended/spliced for Parquet, a one-pass concatenation for text), freeze and retire the
 * MTDs of ended months, and write the grant's index last. Every step first checks what is
 * stored, so a publish killed between two steps is repaired by the next one and a publish
 * that finds everything in line writes nothing. See publish.h for the layout. */
#include "publish/publish.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gate/gate.h"
#include "parquet/parquet.h"
#include "publish/publish_int.h"
#include "store/store.h"
#include "util/util.h"

#define MANIFEST_MAX (4u << 20)
#define PENDING ".pending-manifest.json"
#define BUNDLE_DAYS_MAX 31

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

static int fail(struct ctx *c, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct ctx *c, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, PUBLISH_ERRMSG_MAX, fmt, ap);
    va_end(ap);
    return rc < 0 ? rc : -ERR_INVALID;
}

static const char *errs(int rc)
{
    return (rc <= -2000 && rc > -2100) ? pq_strerror(rc) : err_message(rc);
}

/* TEST ONLY (publish.h): stop at a named step so a crash test can kill -9 us there. */
static void pause_at(const char *step)
{
    const char *want = getenv("TOLLGATE_TEST_PUBLISH_PAUSE");
    if (!want || strcmp(want, step) != 0)
        return;
    const char *f = getenv("TOLLGATE_TEST_PUBLISH_PAUSE_FILE");
    if (f && *f) {
        char b[32];
        int n = snprintf(b, sizeof b, "%d\n", (int)getpid());
        file_write_atomic(f, b, (size_t)n, 0644);
    }
    sleep(60);
}

static void note(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct ctx *c, const char *fmt, ...)
{
    size_t l = strlen(c->r->warning);
    if (l + 3 >= sizeof c->r->warning)
        return;
    if (l)
        l += (size_t)snprintf(c->r->warning + l, sizeof c->r->warning - l, "; ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->r->warning + l, sizeof c->r->warning - l, fmt, ap);
    va_end(ap);
}

static const char *ctype_of(const struct pub_kind *k)
{
    if (k->gz)
        return "application/gzip";
    switch (k->fmt) {
    case PUB_PARQUET:
        return "application/vnd.apache.parquet";
    case PUB_CSV:
        return "text/csv";
    case PUB_JSONL:
        return "application/x-ndjson";
    default:
        return "application/octet-stream";
    }
}

/* ---- store helpers ---- */

static int stage_fd(struct ctx *c, int fd, struct store_put **out)
{
    struct store_put *p = NULL;
    int rc = store_put_begin(c->o->store, &p);
    if (rc == 0 && (rc = store_put_write_fd(p, fd)) < 0)
        store_put_abort(p);
    if (rc == 0)
        *out = p;
    return rc;
}

static int stage_path(struct ctx *c, const char *path, struct store_put **out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = stage_fd(c, fd, out);
    close(fd);
    return rc;
}

/* Commits p (frees it) as key. */
static int commit(struct ctx *c, struct store_put *p, const char *key, const char *ctype)
{
    struct store_attrs a = {ctype, NULL};
    struct store_obj_info info = {0};
    int rc = store_put_commit(p, str_c(c->o->bucket), str_c(key), &a, &info);
    store_obj_info_release(&info);
    if (rc == 0)
        c->writes++;
    return rc;
}

static int put_json(struct ctx *c, const char *key, json_t *j)
{
    char *s = j ? json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    if (!s)
        return fail(c, -ERR_NOMEM, "cannot write '%s': out of memory", key);
    struct store_put *p = NULL;
    int rc = store_put_begin(c->o->store, &p);
    if (rc == 0 && (rc = store_put_write(p, s, strlen(s))) == 0)
        rc = store_put_write(p, "\n", 1);
    if (rc == 0)
        rc = commit(c, p, key, "application/json");
    else
        store_put_abort(p);
    free(s);
    return rc < 0 ? fail(c, rc, "cannot write '%s': %s", key, errs(rc)) : 0;
}

/* -ERR_NO_SUCH_KEY when absent; a body that is not a JSON object counts as absent. */
static int get_json(struct ctx *c, const char *key, json_t **out)
{
    struct store_obj_info info = {0};
    int fd = -1;
    int rc = store_obj_open(c->o->store, str_c(c->o->bucket), str_c(key), &info, &fd);
    if (rc < 0)
        return rc;
    struct buf b = BUF_INIT;
    if (info.size > MANIFEST_MAX)
        rc = -ERR_TOO_LONG;
    else if ((rc = buf_reserve(&b, (size_t)info.size + 1)) == 0) {
        while (b.len < info.size) {
            ssize_t n = read(fd, b.ptr + b.len, (size_t)info.size - b.len);
            if (n <= 0) {
                rc = -ERR_IO;
                break;
            }
            b.len += (size_t)n;
        }
    }
    close(fd);
    store_obj_info_release(&info);
    if (rc == 0) {
        json_t *j = json_loadb(b.ptr, b.len, 0, NULL);
        if (json_is_object(j))
            *out = j;
        else {
            json_decref(j);
            rc = -ERR_NO_SUCH_KEY;
        }
    }
    buf_release(&b);
    return rc;
}

/* sha256 hex of a stored object; *retired when it is retired. */
static int head_sha(struct ctx *c, const char *key, char sha[65], bool *retired)
{
    struct store_obj_info info = {0};
    int rc = store_obj_head(c->o->store, str_c(c->o->bucket), str_c(key), &info);
    if (rc == 0) {
        hex_encode(info.sha256, 32, sha);
        if (retired)
            *retired = info.retired_us != 0;
    }
    store_obj_info_release(&info);
    return rc;
}

static int retire(struct ctx *c, const char *key)
{
    char sha[65];
    bool retired = false;
    if (head_sha(c, key, sha, &retired) < 0 || retired)
        return 0;
    int rc = store_obj_retire(c->o->store, str_c(c->o->bucket), str_c(key), c->o->now * 1000000);
    if (rc == -ERR_NO_SUCH_KEY)
        return 0;
    if (rc < 0)
        return fail(c, rc, "cannot retire '%s': %s", key, errs(rc));
    c->writes++;
    return 0;
}

static const char *jstr(json_t *o, const char *k1, const char *k2)
{
    json_t *v = json_object_get(o, k1);
    if (k2)
        v = json_object_get(v, k2);
    return json_string_value(v);
}

static bool streq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

/* A manifest whose "sha256" is the stored sha256 of its "key". */
static bool manifest_matches(struct ctx *c, json_t *m)
{
    const char *key = jstr(m, "key", NULL), *sha = jstr(m, "sha256", NULL);
    char got[65];
    return key && sha && head_sha(c, key, got, NULL) == 0 && strcmp(got, sha) == 0;
}

/* ---- listing ---- */

static int list_all(struct ctx *c, const char *prefix, bool skip_retired,
                    int (*fn)(void *, const struct store_list_entry *), void *ctx)
{
    char *after = NULL;
    int rc = 0;
    for (;;) {
        struct store_list_req req = {str_c(c->o->bucket), str_c(prefix), STR_NULL, str_c(after),
                                     STORE_LIST_MAX,      skip_retired,  false};
        struct store_list_res res = {0};
        rc = store_obj_list(c->o->store, &req, fn, ctx, &res);
        free(after);
        after = res.next_after;
        res.next_after = NULL;
        bool more = res.truncated;
        store_list_res_release(&res);
        if (rc == -ERR_NO_SUCH_BUCKET)
            rc = 0;
        if (rc < 0 || !more)
            break;
    }
    free(after);
    return rc < 0 ? fail(c, rc, "cannot list '%s': %s", prefix, errs(rc)) : 0;
}

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

static int on_folder_entry(void *ctx, const struct store_list_entry *e)
{
    struct folders *fs = ctx;
    if (!e->key || !e->info)
        return 0;
    const char *rest = e->key + fs->dir_len, *slash = strchr(rest, '/');
    if (!slash || !slash[1] || strchr(slash + 1, '/') || slash - rest > 10 || slash == rest)
        return 0;
    size_t pl = (size_t)(slash - rest);
    struct folder *f = fs->n ? &fs->v[fs->n - 1] : NULL;
    if (!f || strlen(f->period) != pl || strncmp(f->period, rest, pl) != 0) {
        if (fs->n == fs->cap) {
            size_t cap = fs->cap ? fs->cap * 2 : 32;
            struct folder *v = realloc(fs->v, cap * sizeof *v);
            if (!v)
                return fs->err = -ERR_NOMEM, 1;
            fs->v = v;
            fs->cap = cap;
        }
        f = &fs->v[fs->n++];
        memset(f, 0, sizeof *f);
        memcpy(f->period, rest, pl);
    }
    const char *base = slash + 1;
    bool live = e->info->retired_us == 0;
    if (strcmp(base, "manifest.json") == 0)
        f->has_manifest = true; /* a retired manifest still describes its day */
    else if (strcmp(base, PENDING) == 0)
        f->has_pending = true;
    else if (base[0] != '.' && strlen(e->key) < PUBLISH_KEY_MAX) {
        f->ndata++;
        bool better = !f->data_key[0] || (live && !f->data_live) ||
                      (live == f->data_live && e->info->mtime_us >= f->data_mtime);
        if (better) {
            snprintf(f->data_key, sizeof f->data_key, "%s", e->key);
            f->data_live = live;
            f->data_mtime = e->info->mtime_us;
        }
    }
    return 0;
}

static int list_folders(struct ctx *c, const char *kind, const char *period_prefix,
                        bool skip_retired, struct folders *fs)
{
    char dir[PUBLISH_KEY_MAX];
    int n = snprintf(dir, sizeof dir, "%s%s/", c->prefix, kind);
    memset(fs, 0, sizeof *fs);
    fs->dir_len = (size_t)n;
    snprintf(dir + n, sizeof dir - (size_t)n, "%s", period_prefix ? period_prefix : "");
    int rc = list_all(c, dir, skip_retired, on_folder_entry, fs);
    if (rc == 0 && fs->err)
        rc = fail(c, fs->err, "cannot list '%s': %s", dir, errs(fs->err));
    return rc;
}

/* Retires every live object in `folder` (ending in '/') but `keep` (NULL: none) and the
 * manifest files when keep_manifests. */
struct retire_ctx {
    const char *keep;
    bool keep_manifests;
    struct strv keys;
};
static int on_retire_entry(void *ctx, const struct store_list_entry *e)
{
    struct retire_ctx *r = ctx;
    if (!e->key || (r->keep && strcmp(e->key, r->keep) == 0))
        return 0;
    const char *base = strrchr(e->key, '/');
    base = base ? base + 1 : e->key;
    if (r->keep_manifests && (strcmp(base, "manifest.json") == 0 || strcmp(base, PENDING) == 0))
        return 0;
    return strv_add(&r->keys, e->key) < 0 ? 1 : 0;
}
static int retire_folder(struct ctx *c, const char *folder, const char *keep, bool keep_manifests)
{
    struct retire_ctx r = {keep, keep_manifests, {0}};
    int rc = list_all(c, folder, true, on_retire_entry, &r);
    for (size_t i = 0; i < r.keys.n && rc == 0; i++)
        rc = retire(c, r.keys.v[i]);
    strv_release(&r.keys);
    return rc;
}

/* ---- what a file is: format, schema fingerprint, rows ---- */

struct analysis {
    struct pub_kind k;
    char fp[65]; /* "" for other formats */
    uint64_t rows;
    size_t rgs;
    bool has_rows;
};

static int analyze_text(struct ctx *c, int fd, const char *what, struct analysis *a)
{
    struct pub_rd rd;
    struct pub_text_scan s;
    pub_rd_init(&rd, fd, a->k.gz);
    pub_text_scan_init(&s, a->k.fmt);
    char buf[1 << 16], serr[512] = "";
    int rc = 0;
    for (;;) {
        ssize_t n = pub_rd_read(&rd, buf, sizeof buf);
        if (n < 0) {
            rc = n == -ERR_INVALID
                     ? fail(c, -ERR_INVALID, "'%s' is not valid gzip (corrupt or truncated)", what)
                     : fail(c, (int)n, "cannot read '%s': %s", what, errs((int)n));
            break;
        }
        if (n == 0)
            break;
        if ((rc = pub_text_scan_feed(&s, buf, (size_t)n, serr)) < 0) {
            rc = fail(c, rc, "'%s': %s", what, serr);
            break;
        }
    }
    if (rc == 0 && (rc = pub_text_scan_end(&s, a->fp, serr)) < 0)
        rc = fail(c, rc, "'%s': %s", what, serr);
    if (rc == 0) {
        a->rows = s.rows;
        a->has_rows = true;
    }
    pub_text_scan_release(&s);
    pub_rd_release(&rd);
    return rc;
}

/* path: a readable file (or /proc/self/fd/N); what: its name for messages. */
static int analyze(struct ctx *c, const char *path, const char *what, const struct pub_kind *k,
                   struct analysis *out)
{
    struct analysis a = {.k = *k};
    int rc = 0;
    if (k->fmt == PUB_PARQUET) {
        struct pq_file *f = NULL;
        char perr[PQ_ERRMSG_MAX];
        if ((rc = pq_open(path, &f, perr)) < 0)
            return fail(c, rc, "'%s': %s", what, perr);
        pq_fingerprint_hex(f, a.fp);
        a.rows = pq_num_rows(f);
        a.rgs = pq_num_row_groups(f);
        a.has_rows = true;
        pq_close(f);
    } else if (k->fmt == PUB_CSV || k->fmt == PUB_JSONL) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return fail(c, -errno, "cannot read '%s': %s", what, strerror(errno));
        rc = analyze_text(c, fd, what, &a);
        close(fd);
    }
    if (rc == 0)
        *out = a;
    return rc;
}

/* ---- manifests ---- */

static json_t *manifest_new(struct ctx *c, const char *kind, enum pub_fmt fmt, const char *start,
                            const char *end, const char *fp, const char *label, bool has_rows,
                            uint64_t rows, size_t rgs, uint64_t size, const char *sha,
                            const char *key)
{
    char built[TG_TIME_BUF];
    time_fmt_iso8601(c->o->now, built);
    json_t *m = json_pack("{s:s, s:s, s:s, s:{s:s, s:s}, s:s, s:{s:s, s:s}, s:o, s:I, s:s, s:s}",
                          "grant", c->o->grant->name, "kind", kind, "format", pub_fmt_name(fmt),
                          "coverage", "start", start, "end", end, "built_at", built, "schema",
                          "fingerprint", fp, "label", label ? label : "", "rows",
                          has_rows ? json_integer((json_int_t)rows) : json_null(), "size",
                          (json_int_t)size, "sha256", sha, "key", key);
    if (m && fmt == PUB_PARQUET)
        json_object_set_new(m, "row_groups", json_integer((json_int_t)rgs));
    return m;
}

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

static int fmt_of_name(const char *s, enum pub_fmt *out)
{
    for (int f = PUB_PARQUET; f <= PUB_OTHER; f++)
        if (streq(s, pub_fmt_name((enum pub_fmt)f))) {
            *out = (enum pub_fmt)f;
            return 0;
        }
    return -1;
}

/* The day stored in folder f (daily/<date>/): its manifest when it matches the object, else a
 * manifest made again from the object (a publish killed between the two). 1: no data. */
static int day_info(struct ctx *c, const struct folder *f, struct dayinfo *out)
{
    char mkey[PUBLISH_KEY_MAX];
    snprintf(mkey, sizeof mkey, "%sdaily/%s/manifest.json", c->prefix, f->period);
    json_t *m = NULL;
    int rc = f->has_manifest ? get_json(c, mkey, &m) : -ERR_NO_SUCH_KEY;
    if (rc < 0 && rc != -ERR_NO_SUCH_KEY)
        return fail(c, rc, "cannot read '%s': %s", mkey, errs(rc));
    struct dayinfo d = {0};
    snprintf(d.date, sizeof d.date, "%s", f->period);
    if (m && manifest_matches(c, m) && jstr(m, "schema", "fingerprint")) {
        snprintf(d.key, sizeof d.key, "%s", jstr(m, "key", NULL));
        snprintf(d.sha, sizeof d.sha, "%s", jstr(m, "sha256", NULL));
        snprintf(d.fp, sizeof d.fp, "%s", jstr(m, "schema", "fingerprint"));
        pub_kind_of(d.key, &d.k);
        d.rows = (uint64_t)json_integer_value(json_object_get(m, "rows"));
        d.rgs = (size_t)json_integer_value(json_object_get(m, "row_groups"));
        json_decref(m);
        *out = d;
        return 0;
    }
    const char *label = m && jstr(m, "schema", "label") ? jstr(m, "schema", "label") : "";
    char lab[256];
    snprintf(lab, sizeof lab, "%s", label);
    json_decref(m);
    if (!f->data_key[0])
        return 1;
    /* repair: the manifest again, from the stored object */
    struct store_obj_info info = {0};
    int fd = -1;
    if ((rc = store_obj_open(c->o->store, str_c(c->o->bucket), str_c(f->data_key), &info, &fd)) < 0)
        return fail(c, rc, "cannot open '%s': %s", f->data_key, errs(rc));
    char path[64], sha[65];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    hex_encode(info.sha256, 32, sha);
    uint64_t size = info.size;
    store_obj_info_release(&info);
    struct pub_kind k;
    pub_kind_of(f->data_key, &k);
    struct analysis a;
    rc = analyze(c, path, f->data_key, &k, &a);
    close(fd);
    if (rc < 0)
        return rc;
    json_t *nm = manifest_new(c, "daily", k.fmt, d.date, d.date, a.fp, lab, a.has_rows, a.rows,
                              a.rgs, size, sha, f->data_key);
    rc = put_json(c, mkey, nm);
    json_decref(nm);
    if (rc < 0)
        return rc;
    c->r->repaired++;
    snprintf(d.key, sizeof d.key, "%s", f->data_key);
    memcpy(d.sha, sha, 65);
    memcpy(d.fp, a.fp, 65);
    d.k = k;
    d.rows = a.rows;
    d.rgs = a.rgs;
    *out = d;
    return 0;
}

/* The stored days of `month` (YYYY-MM), in date order. */
static int month_days(struct ctx *c, const char *month, struct dayinfo **out, size_t *n)
{
    struct folders fs;
    char pp[16];
    snprintf(pp, sizeof pp, "%s-", month);
    int rc = list_folders(c, "daily", pp, false, &fs);
    struct dayinfo *v = calloc(fs.n ? fs.n : 1, sizeof *v);
    size_t k = 0;
    if (!v && rc == 0)
        rc = fail(c, -ERR_NOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < fs.n; i++) {
        int64_t t;
        if (strlen(fs.v[i].period) != 10 || time_parse_date(str_c(fs.v[i].period), &t) < 0)
            continue;
        int r = day_info(c, &fs.v[i], &v[k]);
        if (r < 0)
            rc = r;
        else if (r == 0)
            k++;
    }
    free(fs.v);
    if (rc < 0) {
        free(v);
        return rc;
    }
    *out = v;
    *n = k;
    return 0;
}

/* ---- bundles (MTD and monthly) ---- */

/* A day inside a bundle: rows [a, b) as row groups (Parquet) or uncompressed bytes (text). */
struct bday {
    char date[11];
    char sha[65];
    uint64_t rows, a, b;
    const struct dayinfo *src; /* set: to be taken from this daily */
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

static int bdays_from_json(json_t *days, enum pub_fmt fmt, struct bday *v, size_t *n)
{
    size_t k = json_array_size(days);
    if (!json_is_array(days) || k > BUNDLE_DAYS_MAX)
        return -1;
    uint64_t prev = 0;
    for (size_t i = 0; i < k; i++) {
        json_t *d = json_array_get(days, i);
        json_t *r = json_object_get(d, fmt == PUB_PARQUET ? "row_groups" : "bytes");
        const char *date = jstr(d, "date", NULL), *sha = jstr(d, "sha256", NULL);
        if (!date || strlen(date) != 10 || !sha || strlen(sha) != 64 || json_array_size(r) != 2)
            return -1;
        memset(&v[i], 0, sizeof v[i]);
        memcpy(v[i].date, date, 11);
        memcpy(v[i].sha, sha, 65);
        v[i].rows = (uint64_t)json_integer_value(json_object_get(d, "rows"));
        v[i].a = (uint64_t)json_integer_value(json_array_get(r, 0));
        v[i].b = (uint64_t)json_integer_value(json_array_get(r, 1));
        if (v[i].a < prev || v[i].b < v[i].a || (i && strcmp(v[i - 1].date, date) >= 0))
            return -1;
        prev = v[i].b;
    }
    *n = k;
    return 0;
}

static json_t *bdays_to_json(const struct bday *v, size_t n, enum pub_fmt fmt)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_pack("{s:s, s:s, s:I, s:[I, I]}", "date", v[i].date, "sha256",
                                           v[i].sha, "rows", (json_int_t)v[i].rows,
                                           fmt == PUB_PARQUET ? "row_groups" : "bytes",
                                           (json_int_t)v[i].a, (json_int_t)v[i].b));
    return a;
}

static int find_day(const struct bday *v, size_t n, const char *date)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].date, date) == 0)
            return (int)i;
    return -1;
}

/* Opens a stored object as Parquet (through /proc/self/fd: no copy). */
static int pq_open_obj(struct ctx *c, const char *key, struct pq_file **out)
{
    struct store_obj_info info = {0};
    int fd = -1;
    int rc = store_obj_open(c->o->store, str_c(c->o->bucket), str_c(key), &info, &fd);
    store_obj_info_release(&info);
    if (rc < 0)
        return fail(c, rc, "cannot open '%s': %s", key, errs(rc));
    char path[64], perr[PQ_ERRMSG_MAX];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    rc = pq_open(path, out, perr);
    close(fd);
    return rc < 0 ? fail(c, rc, "'%s' is not valid Parquet: %s", key, perr) : 0;
}

/* One step on the Parquet bundle: cur's row groups [a, b) replaced by `with_key`'s (or
 * removed when NULL); cur NULL: a bundle of with_key alone. */
static int pq_step(struct ctx *c, struct pq_file **cur, int *which, size_t a, size_t b,
                   const char *with_key)
{
    struct pq_file *with = NULL;
    char out[4200], perr[PQ_ERRMSG_MAX] = "";
    snprintf(out, sizeof out, "%s/bundle%d.parquet", c->tmpdir, *which);
    int rc = with_key ? pq_open_obj(c, with_key, &with) : 0;
    if (rc < 0)
        return rc;
    if (!*cur)
        rc = pq_concat(out, &with, 1, NULL, perr);
    else
        rc = pq_splice(out, *cur, a, b, with, NULL, perr);
    pq_close(with);
    if (rc < 0)
        return fail(c, rc, "cannot build the bundle: %s", perr[0] ? perr : errs(rc));
    pq_close(*cur);
    *cur = NULL;
    if ((rc = pq_open(out, cur, perr)) < 0)
        return fail(c, rc, "cannot reopen the bundle: %s", perr);
    *which ^= 1;
    return 0;
}

static void shift(struct bday *v, size_t n, size_t from, long long delta)
{
    for (size_t i = from; i < n; i++) {
        v[i].a = (uint64_t)((long long)v[i].a + delta);
        v[i].b = (uint64_t)((long long)v[i].b + delta);
    }
}

/* Builds the Parquet bundle `t` (target days) from the base file (key NULL: none) whose days
 * are `cur_days`; stages the result into *put. Ranges in t are filled in. */
static int build_parquet(struct ctx *c, const char *base_key, struct bday *cd, size_t ncd,
                         struct bday *t, size_t nt, struct store_put **put, uint64_t *rows,
                         size_t *rgs)
{
    struct pq_file *cur = NULL;
    int which = 0, rc = 0;
    if (base_key && (rc = pq_open_obj(c, base_key, &cur)) < 0)
        return rc;
    size_t total = cur ? pq_num_row_groups(cur) : 0;
    if (ncd && cd[ncd - 1].b > total)
        rc = fail(c, -ERR_INVALID, "the manifest of '%s' does not match its file", base_key);
    /* replacements and insertions, in date order */
    for (size_t i = 0; rc == 0 && i < nt; i++) {
        if (!t[i].src)
            continue;
        size_t nrg = t[i].src->rgs;
        int at = find_day(cd, ncd, t[i].date);
        size_t a, b, pos;
        if (at >= 0) {
            pos = (size_t)at;
            a = cd[pos].a;
            b = cd[pos].b;
        } else {
            for (pos = 0; pos < ncd && strcmp(cd[pos].date, t[i].date) < 0; pos++)
                ;
            a = b = pos < ncd ? cd[pos].a : total;
            memmove(&cd[pos + 1], &cd[pos], (ncd - pos) * sizeof *cd);
            ncd++;
        }
        if ((rc = pq_step(c, &cur, &which, a, b, t[i].src->key)) < 0)
            break;
        cd[pos] = t[i];
        cd[pos].src = NULL;
        cd[pos].a = a;
        cd[pos].b = a + nrg;
        shift(cd, ncd, pos + 1, (long long)nrg - (long long)(b - a));
        total = pq_num_row_groups(cur);
    }
    /* removals: days whose stored daily now has another schema */
    for (size_t i = 0; rc == 0 && i < ncd;) {
        if (find_day(t, nt, cd[i].date) >= 0) {
            i++;
            continue;
        }
        size_t a = cd[i].a, b = cd[i].b;
        if ((rc = pq_step(c, &cur, &which, a, b, NULL)) < 0)
            break;
        memmove(&cd[i], &cd[i + 1], (ncd - i - 1) * sizeof *cd);
        ncd--;
        shift(cd, ncd, i, -(long long)(b - a));
    }
    if (rc == 0) {
        for (size_t i = 0; i < nt; i++) { /* t gets the final ranges */
            int at = find_day(cd, ncd, t[i].date);
            t[i].a = cd[at].a;
            t[i].b = cd[at].b;
            t[i].rows = cd[at].rows;
        }
        *rows = pq_num_rows(cur);
        *rgs = pq_num_row_groups(cur);
        /* the bundle is our temp file: the store adopts it (no second copy) */
        if ((rc = store_put_adopt(c->o->store, pq_path(cur), put)) < 0)
            rc = fail(c, rc, "cannot stage the bundle: %s", errs(rc));
    }
    pq_close(cur);
    return rc;
}

/* ---- text bundles: one pass, header once ---- */

struct wr {
    struct store_put *p;
    bool gz, zinit;
    z_stream z;
    uint64_t pos;
    int last;
    uint8_t out[1 << 16];
};

static int wr_flush(struct wr *w, int flush)
{
    for (;;) {
        w->z.next_out = w->out;
        w->z.avail_out = sizeof w->out;
        int zr = deflate(&w->z, flush);
        if (zr == Z_STREAM_ERROR)
            return -ERR_INVALID;
        size_t have = sizeof w->out - w->z.avail_out;
        int rc = have ? store_put_write(w->p, w->out, have) : 0;
        if (rc < 0)
            return rc;
        if (flush == Z_FINISH ? zr == Z_STREAM_END : (w->z.avail_in == 0 && w->z.avail_out != 0))
            return 0;
    }
}

static int wr_write(struct wr *w, const void *p, size_t n)
{
    if (!n)
        return 0;
    w->pos += n;
    w->last = ((const uint8_t *)p)[n - 1];
    if (!w->gz)
        return store_put_write(w->p, p, n);
    w->z.next_in = (Bytef *)(uintptr_t)p;
    w->z.avail_in = (uInt)n;
    return wr_flush(w, Z_NO_FLUSH);
}

/* Copies from rd: skip `skip` bytes, then `len` bytes (UINT64_MAX: to the end); with
 * skip_line, first everything up to and including the first '\n'. Returns bytes copied. */
static int64_t copy_rd(struct pub_rd *rd, struct wr *w, uint64_t skip, uint64_t len, bool skip_line)
{
    uint8_t buf[1 << 16];
    uint64_t copied = 0;
    while (len == UINT64_MAX || copied < len) {
        size_t want = sizeof buf;
        if (skip && skip < want)
            want = (size_t)skip;
        else if (!skip && len != UINT64_MAX && len - copied < want)
            want = (size_t)(len - copied);
        ssize_t n = pub_rd_read(rd, buf, want);
        if (n < 0)
            return n;
        if (n == 0)
            break;
        size_t off = 0;
        if (skip) {
            skip -= (uint64_t)n;
            continue;
        }
        if (skip_line) {
            uint8_t *nl = memchr(buf, '\n', (size_t)n);
            if (!nl)
                continue;
            off = (size_t)(nl - buf) + 1;
            skip_line = false;
        }
        int rc = wr_write(w, buf + off, (size_t)n - off);
        if (rc < 0)
            return rc;
        copied += (uint64_t)n - off;
    }
    if (len != UINT64_MAX && copied < len)
        return -ERR_INVALID; /* the base is shorter than its manifest says */
    return (int64_t)copied;
}

static int open_rd(struct ctx *c, const char *key, int *fd, struct pub_rd *rd)
{
    struct store_obj_info info = {0};
    int rc = store_obj_open(c->o->store, str_c(c->o->bucket), str_c(key), &info, fd);
    store_obj_info_release(&info);
    if (rc < 0)
        return fail(c, rc, "cannot open '%s': %s", key, errs(rc));
    struct pub_kind k;
    pub_kind_of(key, &k);
    pub_rd_init(rd, *fd, k.gz);
    return 0;
}

static int build_text(struct ctx *c, enum pub_fmt fmt, bool gz, const char *base_key,
                      const struct bday *cd, size_t ncd, struct bday *t, size_t nt,
                      struct store_put **put, uint64_t *rows)
{
    struct wr w = {.gz = gz, .last = '\n'};
    struct pub_rd brd, drd;
    int bfd = -1, dfd = -1, rc = store_put_begin(c->o->store, &w.p);
    uint64_t bpos = 0; /* where the base reader is */
    bool bopen = false;
    if (rc < 0)
        return fail(c, rc, "cannot stage the bundle: %s", errs(rc));
    if (gz) {
        if (deflateInit2(&w.z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
            store_put_abort(w.p);
            return fail(c, -ERR_NOMEM, "out of memory");
        }
        w.zinit = true;
    }
    bool base_used = false;
    for (size_t i = 0; i < nt; i++)
        base_used |= !t[i].src;
    if (base_key && (base_used || fmt == PUB_CSV)) {
        if ((rc = open_rd(c, base_key, &bfd, &brd)) < 0)
            goto out;
        bopen = true;
    }
    /* the CSV header, once: the base's (bytes before its first day), else the first day's */
    if (fmt == PUB_CSV) {
        if (bopen && ncd) {
            int64_t n = copy_rd(&brd, &w, 0, cd[0].a, false);
            if (n < 0) {
                rc = fail(c, (int)n, "cannot read '%s': %s", base_key, errs((int)n));
                goto out;
            }
            bpos = cd[0].a;
        } else {
            if ((rc = open_rd(c, t[0].src->key, &dfd, &drd)) < 0)
                goto out;
            char ch;
            ssize_t n;
            while ((n = pub_rd_read(&drd, &ch, 1)) == 1 && ch != '\n')
                if ((rc = wr_write(&w, &ch, 1)) < 0)
                    goto out;
            pub_rd_release(&drd);
            close(dfd);
            dfd = -1;
            if (n < 0 || (rc = wr_write(&w, "\n", 1)) < 0) {
                rc = fail(c, n < 0 ? (int)n : rc, "cannot read '%s'", t[0].src->key);
                goto out;
            }
        }
    }
    *rows = 0;
    for (size_t i = 0; i < nt; i++) {
        uint64_t start = w.pos;
        int64_t n;
        const char *what;
        if (!t[i].src) {
            what = base_key;
            if (t[i].a < bpos) {
                n = -ERR_INVALID;
            } else {
                n = copy_rd(&brd, &w, t[i].a - bpos, t[i].b - t[i].a, false);
                bpos = t[i].b;
            }
        } else {
            what = t[i].src->key;
            if ((rc = open_rd(c, what, &dfd, &drd)) < 0)
                goto out;
            n = copy_rd(&drd, &w, 0, UINT64_MAX, fmt == PUB_CSV);
            pub_rd_release(&drd);
            close(dfd);
            dfd = -1;
            t[i].rows = t[i].src->rows;
        }
        if (n < 0) {
            rc = fail(c, (int)n, "cannot read '%s' (%s)", what, errs((int)n));
            goto out;
        }
        if (w.pos > start && w.last != '\n' && (rc = wr_write(&w, "\n", 1)) < 0)
            goto out;
        t[i].a = start;
        t[i].b = w.pos;
        *rows += t[i].rows;
    }
    if (gz && (rc = wr_flush(&w, Z_FINISH)) < 0)
        goto out;
    *put = w.p;
    w.p = NULL;
out:
    if (w.zinit)
        deflateEnd(&w.z);
    store_put_abort(w.p);
    if (bopen) {
        pub_rd_release(&brd);
        close(bfd);
    }
    if (dfd >= 0) {
        pub_rd_release(&drd);
        close(dfd);
    }
    if (rc < 0 && !c->err[0])
        fail(c, rc, "cannot build the bundle: %s", errs(rc));
    return rc;
}

static void bundle_key(struct ctx *c, const char *kind, const char *month, const char *ext,
                       char *out)
{
    snprintf(out, PUBLISH_KEY_MAX, "%s%s/%s/%s_%s%s%s", c->prefix, kind, month, c->o->grant->name,
             month, strcmp(kind, "mtd") == 0 ? "_mtd" : "", ext);
}

/* Brings the bundle of spec->month in line with the stored days of the month that have
 * spec's format and fingerprint (`days`). The base is the stored bundle when its manifest
 * (or its pending manifest) matches its file; otherwise it is rebuilt from the dailies
 * still stored. Days already in the bundle whose daily is gone are kept. */
static int sync_bundle(struct ctx *c, const struct bundle_spec *s, const struct dayinfo *days,
                       size_t ndays, struct bundle_res *res)
{
    char folder[PUBLISH_KEY_MAX - 64], mkey[PUBLISH_KEY_MAX], pkey[PUBLISH_KEY_MAX];
    char key[PUBLISH_KEY_MAX];
    snprintf(folder, sizeof folder, "%s%s/%s/", c->prefix, s->kind, s->month);
    snprintf(mkey, sizeof mkey, "%smanifest.json", folder);
    snprintf(pkey, sizeof pkey, "%s%s", folder, PENDING);
    memset(res, 0, sizeof *res);
    json_t *m = NULL, *p = NULL, *base = NULL;
    struct bday cd[BUNDLE_DAYS_MAX + 1], t[BUNDLE_DAYS_MAX + 1];
    size_t ncd = 0, nt = 0;
    int rc = get_json(c, mkey, &m);
    if (rc < 0 && rc != -ERR_NO_SUCH_KEY)
        return fail(c, rc, "cannot read '%s': %s", mkey, errs(rc));
    enum pub_fmt f;
#define FITS(j)                                                                                    \
    ((j) &&                                                                                        \
     fmt_of_name(jstr((j), "format", NULL) ? jstr((j), "format", NULL) : "parquet", &f) == 0 &&    \
     f == s->fmt && streq(jstr((j), "schema", "fingerprint"), s->fp) &&                            \
     manifest_matches(c, (j)) &&                                                                   \
     bdays_from_json(json_object_get((j), "days"), s->fmt, cd, &ncd) == 0)
    if (FITS(m)) {
        base = m;
    } else {
        rc = get_json(c, pkey, &p);
        if (rc < 0 && rc != -ERR_NO_SUCH_KEY) {
            json_decref(m);
            return fail(c, rc, "cannot read '%s': %s", pkey, errs(rc));
        }
        ncd = 0;
        if (FITS(p))
            base = p;
        else
            ncd = 0;
    }
#undef FITS
    rc = 0;
    const char *label = s->focus                                ? c->label
                        : base && jstr(base, "schema", "label") ? jstr(base, "schema", "label")
                        : m && jstr(m, "schema", "label")       ? jstr(m, "schema", "label")
                                                                : "";
    char lab[256];
    snprintf(lab, sizeof lab, "%s", label);
    if (base)
        snprintf(key, sizeof key, "%s", jstr(base, "key", NULL));
    else
        bundle_key(c, s->kind, s->month, s->ext, key);
    bool gz = strlen(key) > 3 && strcmp(key + strlen(key) - 3, ".gz") == 0;

    /* the target: the base's days, with the stored dailies applied */
    memcpy(t, cd, ncd * sizeof *cd);
    nt = ncd;
    bool changed = false;
    for (size_t i = 0; i < ndays; i++) {
        const struct dayinfo *d = &days[i];
        int at = find_day(t, nt, d->date);
        bool fits = d->k.fmt == s->fmt && strcmp(d->fp, s->fp) == 0;
        if (fits && at >= 0 && strcmp(t[at].sha, d->sha) == 0)
            continue;
        if (!fits && at < 0)
            continue;
        changed = true;
        if (!fits) {
            memmove(&t[at], &t[at + 1], (nt - (size_t)at - 1) * sizeof *t);
            nt--;
            continue;
        }
        size_t pos = (size_t)at;
        if (at < 0) {
            if (nt >= BUNDLE_DAYS_MAX)
                continue; /* not a real month */
            for (pos = 0; pos < nt && strcmp(t[pos].date, d->date) < 0; pos++)
                ;
            memmove(&t[pos + 1], &t[pos], (nt - pos) * sizeof *t);
            nt++;
        } else if (s->focus && c->focus && strcmp(d->date, c->focus) == 0) {
            res->spliced = true;
        }
        memset(&t[pos], 0, sizeof t[pos]);
        memcpy(t[pos].date, d->date, 11);
        memcpy(t[pos].sha, d->sha, 65);
        t[pos].rows = d->rows;
        t[pos].src = d;
    }
    if (!base && (m || p))
        note(c, "the %s of %s did not match its manifest: rebuilt from the stored daily files",
             s->kind, s->month);

    if (!changed && base) {
        if (base == p) { /* killed between the bundle and its manifest: the pending one holds */
            json_object_set_new(p, "kind", json_string(s->kind));
            if ((rc = put_json(c, mkey, p)) < 0)
                goto out;
            c->r->repaired++;
            pause_at(strcmp(s->kind, "mtd") == 0 ? "mtd-manifest" : "monthly-manifest");
        }
        res->exists = true;
        snprintf(res->key, sizeof res->key, "%s", key);
        res->rows = (uint64_t)json_integer_value(json_object_get(base, "rows"));
        res->ndays = nt;
        goto out;
    }
    if (!nt)
        goto out; /* nothing of this schema in the month: no bundle */

    struct store_put *put = NULL;
    uint64_t rows = 0;
    size_t rgs = 0;
    const char *bkey = base ? key : NULL;
    if (s->fmt == PUB_PARQUET)
        rc = build_parquet(c, bkey, cd, ncd, t, nt, &put, &rows, &rgs);
    else
        rc = build_text(c, s->fmt, gz, bkey, cd, ncd, t, nt, &put, &rows);
    if (rc < 0)
        goto out;
    uint8_t d256[32], md5[16];
    char sha[65];
    if ((rc = store_put_digest(put, d256, md5)) < 0) {
        store_put_abort(put);
        rc = fail(c, rc, "cannot stage '%s': %s", key, errs(rc));
        goto out;
    }
    hex_encode(d256, 32, sha);
    json_t *nm = manifest_new(c, s->kind, s->fmt, t[0].date, t[nt - 1].date, s->fp, lab, true, rows,
                              rgs, store_put_size(put), sha, key);
    json_object_set_new(nm, "days", bdays_to_json(t, nt, s->fmt));
    char step[32];
    snprintf(step, sizeof step, "%s-pending", s->kind);
    if ((rc = put_json(c, pkey, nm)) < 0) {
        store_put_abort(put);
        json_decref(nm);
        goto out;
    }
    pause_at(step);
    struct pub_kind k;
    pub_kind_of(key, &k);
    if ((rc = commit(c, put, key, ctype_of(&k))) < 0) {
        json_decref(nm);
        rc = fail(c, rc, "cannot store '%s': %s", key, errs(rc));
        goto out;
    }
    pause_at(s->kind);
    rc = put_json(c, mkey, nm);
    json_decref(nm);
    if (rc < 0)
        goto out;
    snprintf(step, sizeof step, "%s-manifest", s->kind);
    pause_at(step);
    /* a bundle of another name in the folder (the format changed): retired */
    if ((rc = retire_folder(c, folder, key, true)) < 0)
        goto out;
    res->exists = true;
    snprintf(res->key, sizeof res->key, "%s", key);
    res->rows = rows;
    res->ndays = nt;
out:
    json_decref(m);
    json_decref(p);
    return rc;
}

/* The format and fingerprint a month's bundle has: its manifest's, its pending manifest's,
 * else the month's first stored day's. 1: none. */
static int bundle_schema(struct ctx *c, const char *kind, const char *month,
                         const struct dayinfo *days, size_t ndays, enum pub_fmt *fmt, char fp[65],
                         char ext[PUB_EXT_MAX], char label[256])
{
    label[0] = '\0';
    const char *names[] = {"manifest.json", PENDING};
    for (size_t i = 0; i < 2; i++) {
        char k[PUBLISH_KEY_MAX];
        json_t *m = NULL;
        snprintf(k, sizeof k, "%s%s/%s/%s", c->prefix, kind, month, names[i]);
        if (get_json(c, k, &m) < 0)
            continue;
        const char *f = jstr(m, "format", NULL), *p = jstr(m, "schema", "fingerprint"),
                   *key = jstr(m, "key", NULL);
        if (p && key && fmt_of_name(f ? f : "parquet", fmt) == 0) {
            snprintf(fp, 65, "%s", p);
            struct pub_kind pk;
            pub_kind_of(key, &pk);
            snprintf(ext, PUB_EXT_MAX, "%s", pk.ext);
            snprintf(label, 256, "%s",
                     jstr(m, "schema", "label") ? jstr(m, "schema", "label") : "");
            json_decref(m);
            return 0;
        }
        json_decref(m);
    }
    for (size_t i = 0; i < ndays; i++)
        if (days[i].k.fmt != PUB_OTHER) {
            *fmt = days[i].k.fmt;
            snprintf(fp, 65, "%s", days[i].fp);
            snprintf(ext, PUB_EXT_MAX, "%s", days[i].k.ext);
            return 0;
        }
    return 1;
}

/* Syncs the bundle of `month` with its own schema (not the day's). */
static int sync_month(struct ctx *c, const char *kind, const char *month, struct bundle_res *res)
{
    struct dayinfo *days = NULL;
    size_t n = 0;
    int rc = month_days(c, month, &days, &n);
    enum pub_fmt fmt;
    char fp[65], ext[PUB_EXT_MAX], label[256];
    memset(res, 0, sizeof *res);
    if (rc == 0 && bundle_schema(c, kind, month, days, n, &fmt, fp, ext, label) == 0) {
        struct bundle_spec s = {kind, month, fmt, fp, ext, false};
        rc = sync_bundle(c, &s, days, n, res);
    }
    free(days);
    return rc;
}

/* The MTDs of months before the newest live one: brought in line, frozen as monthly/
 * (a server-side copy) unless the monthly bundle already holds them, then retired. */
static int close_months(struct ctx *c)
{
    struct folders fs;
    int rc = list_folders(c, "mtd", NULL, true, &fs);
    const char *newest = NULL;
    for (size_t i = 0; rc == 0 && i < fs.n; i++)
        if (fs.v[i].has_manifest && strlen(fs.v[i].period) == 7)
            newest = fs.v[i].period;
    for (size_t i = 0; rc == 0 && newest && i < fs.n; i++) {
        const char *x = fs.v[i].period;
        if (strlen(x) != 7 || strcmp(x, newest) >= 0)
            continue;
        struct bundle_res br;
        if ((rc = sync_month(c, "mtd", x, &br)) < 0)
            break;
        char mk[PUBLISH_KEY_MAX], ok[PUBLISH_KEY_MAX], folder[PUBLISH_KEY_MAX];
        json_t *mm = NULL, *mo = NULL;
        snprintf(mk, sizeof mk, "%smtd/%s/manifest.json", c->prefix, x);
        snprintf(ok, sizeof ok, "%smonthly/%s/manifest.json", c->prefix, x);
        get_json(c, mk, &mm);
        get_json(c, ok, &mo);
        if (br.exists && mm &&
            !(mo && streq(jstr(mo, "sha256", NULL), jstr(mm, "sha256", NULL)) &&
              manifest_matches(c, mo))) {
            /* freeze: monthly/<x>/<grant>_<x><ext> */
            const char *src = jstr(mm, "key", NULL), *mt = strstr(src, "_mtd");
            char dst[PUBLISH_KEY_MAX];
            bundle_key(c, "monthly", x, mt ? mt + 4 : "", dst);
            struct store_obj_info info = {0};
            rc = store_obj_copy(c->o->store, str_c(c->o->bucket), str_c(src), str_c(c->o->bucket),
                                str_c(dst), NULL, &info);
            store_obj_info_release(&info);
            if (rc < 0) {
                rc = fail(c, rc, "cannot freeze '%s' as '%s': %s", src, dst, errs(rc));
            } else {
                c->writes++;
                pause_at("monthly");
                json_t *m = json_deep_copy(mm);
                char built[TG_TIME_BUF];
                time_fmt_iso8601(c->o->now, built);
                json_object_set_new(m, "kind", json_string("monthly"));
                json_object_set_new(m, "key", json_string(dst));
                json_object_set_new(m, "built_at", json_string(built));
                rc = put_json(c, ok, m);
                json_decref(m);
                if (rc == 0) {
                    pause_at("monthly-manifest");
                    snprintf(folder, sizeof folder, "%smonthly/%s/", c->prefix, x);
                    rc = retire_folder(c, folder, dst, true);
                }
                if (rc == 0)
                    snprintf(c->r->monthly_key, sizeof c->r->monthly_key, "%s", dst);
            }
        }
        json_decref(mm);
        json_decref(mo);
        if (rc < 0)
            break;
        /* the ended month's MTD: retired, never deleted (links to it keep working) */
        snprintf(folder, sizeof folder, "%smtd/%s/", c->prefix, x);
        if ((rc = retire_folder(c, folder, NULL, false)) < 0)
            break;
        pause_at("retire");
    }
    free(fs.v);
    return rc;
}

/* ---- the index ---- */

static json_t *keys_of(const struct folders *fs)
{
    json_t *a = json_array();
    for (size_t i = 0; i < fs->n; i++)
        if (fs->v[i].data_key[0] && fs->v[i].data_live)
            json_array_append_new(a, json_string(fs->v[i].data_key));
    return a;
}

/* force: write even when the stored index lists the same keys. */
static int write_index(struct ctx *c, bool force)
{
    struct folders d, m, t;
    int rc = list_folders(c, "daily", NULL, true, &d);
    memset(&m, 0, sizeof m);
    memset(&t, 0, sizeof t);
    if (rc == 0)
        rc = list_folders(c, "monthly", NULL, true, &m);
    if (rc == 0)
        rc = list_folders(c, "mtd", NULL, true, &t);
    json_t *j = NULL, *old = NULL;
    char key[PUBLISH_KEY_MAX];
    snprintf(key, sizeof key, "_index/%s.json", c->o->grant->name);
    if (rc == 0) {
        /* the MTD is the one of the newest month with a manifest */
        json_t *mtd = json_null();
        for (size_t i = 0; i < t.n; i++)
            if (t.v[i].has_manifest && t.v[i].data_key[0] && t.v[i].data_live) {
                json_decref(mtd);
                mtd = json_string(t.v[i].data_key);
            }
        char built[TG_TIME_BUF];
        time_fmt_iso8601(c->o->now, built);
        j = json_pack("{s:s, s:s, s:o, s:o, s:o}", "grant", c->o->grant->name, "built_at", built,
                      "daily", keys_of(&d), "mtd", mtd, "monthly", keys_of(&m));
        if (!j)
            rc = fail(c, -ERR_NOMEM, "out of memory");
    }
    if (rc == 0 && !force && get_json(c, key, &old) == 0 &&
        json_equal(json_object_get(old, "daily"), json_object_get(j, "daily")) &&
        json_equal(json_object_get(old, "mtd"), json_object_get(j, "mtd")) &&
        json_equal(json_object_get(old, "monthly"), json_object_get(j, "monthly")) &&
        streq(jstr(old, "grant", NULL), c->o->grant->name)) {
        /* in line: nothing to write */
    } else if (rc == 0) {
        rc = put_json(c, key, j);
        if (rc == 0)
            pause_at("index");
    }
    json_decref(j);
    json_decref(old);
    free(d.v);
    free(m.v);
    free(t.v);
    return rc;
}

/* ---- the pipeline ---- */

/* --columns: a projection of the file into the private tmpdir. */
static int project(struct ctx *c, const char *file, char *out, size_t cap)
{
    struct pq_file *in = NULL;
    char perr[PQ_ERRMSG_MAX];
    int rc = pq_open(file, &in, perr);
    if (rc < 0)
        return fail(c, rc, "'%s': %s", file, perr);
    const char *names[256];
    size_t n = 0;
    char *list = strdup(c->o->columns), *save = NULL;
    for (char *tok = list ? strtok_r(list, ",", &save) : NULL; tok && n < 256;
         tok = strtok_r(NULL, ",", &save))
        if (*tok)
            names[n++] = tok;
    if (!n) {
        rc = fail(c, -ERR_INVALID, "--columns names no column");
    } else {
        snprintf(out, cap, "%s/projected.parquet", c->tmpdir);
        if ((rc = pq_project(out, in, names, n, NULL, perr)) < 0)
            rc = fail(c, rc, "--columns: %s; nothing was published", perr);
    }
    free(list);
    pq_close(in);
    return rc;
}

static int run(struct ctx *c)
{
    const struct publish_opts *o = c->o;
    struct publish_result *r = c->r;
    const char *name = o->grant->name;
    int64_t t;
    if (!o->date || strlen(o->date) != 10 || time_parse_date(str_c(o->date), &t) < 0)
        return fail(c, -ERR_INVALID, "'%s' is not a date (YYYY-MM-DD)", o->date ? o->date : "");
    char month[8];
    memcpy(month, o->date, 7);
    month[7] = '\0';
    c->focus = o->date;
    struct pub_kind k;
    pub_kind_of(o->file, &k);
    const char *file = o->file;
    char projected[4200];
    if (o->columns) {
        if (k.fmt != PUB_PARQUET)
            return fail(c, -ERR_INVALID, "--columns works on Parquet files only; '%s' is not one",
                        o->file);
        int rc = project(c, o->file, projected, sizeof projected);
        if (rc < 0)
            return rc;
        file = projected;
    }
    struct analysis a;
    int rc = analyze(c, file, o->file, &k, &a);
    if (rc < 0)
        return rc;
    snprintf(r->fingerprint, sizeof r->fingerprint, "%s", a.fp);
    snprintf(r->format, sizeof r->format, "%s", pub_fmt_name(k.fmt));
    r->rows = a.rows;
    r->row_groups = a.rgs;

    /* the current MTD month (newest live with a manifest), and the schema the day must have */
    struct folders fs;
    if ((rc = list_folders(c, "mtd", NULL, true, &fs)) < 0)
        return rc;
    char newest[8] = "";
    for (size_t i = 0; i < fs.n; i++)
        if (fs.v[i].has_manifest && strlen(fs.v[i].period) == 7)
            memcpy(newest, fs.v[i].period, 8);
    free(fs.v);
    int cmp = newest[0] ? strcmp(month, newest) : 1;
    enum pub_fmt pfmt = PUB_OTHER;
    char pfp[65] = "", pext[PUB_EXT_MAX], plabel[256] = "", where[PUBLISH_KEY_MAX] = "";
    bool have_prev = false, late_bundle = false;
    if (cmp < 0 && bundle_schema(c, "monthly", month, NULL, 0, &pfmt, pfp, pext, plabel) == 0) {
        have_prev = late_bundle = true;
        snprintf(where, sizeof where, "%smonthly/%s/", c->prefix, month);
    } else if (newest[0] &&
               bundle_schema(c, "mtd", newest, NULL, 0, &pfmt, pfp, pext, plabel) == 0) {
        have_prev = true;
        snprintf(where, sizeof where, "%smtd/%s/", c->prefix, newest);
    }
    bool schema_changed =
        k.fmt != PUB_OTHER && have_prev && (pfmt != k.fmt || strcmp(pfp, a.fp) != 0);
    if (schema_changed && !o->allow_schema_change)
        return fail(c, -ERR_INVALID,
                    "schema of '%s' (%s, fingerprint %.12s) differs from the grant's previous "
                    "days (%s, fingerprint %.12s%s%s%s, in %s); nothing was published. Pass "
                    "--allow-schema-change if this is intended",
                    o->file, pub_fmt_name(k.fmt), a.fp, pub_fmt_name(pfmt), pfp,
                    plabel[0] ? ", label '" : "", plabel, plabel[0] ? "'" : "", where);
    c->label = o->schema_label ? o->schema_label : plabel;

    /* stage the bytes (hashing them) */
    char dkey[PUBLISH_KEY_MAX], dmkey[PUBLISH_KEY_MAX], dfolder[PUBLISH_KEY_MAX - 128], sha[65];
    snprintf(dfolder, sizeof dfolder, "%sdaily/%s/", c->prefix, o->date);
    snprintf(dkey, sizeof dkey, "%s%s_%s%s", dfolder, name, o->date, k.ext);
    snprintf(dmkey, sizeof dmkey, "%smanifest.json", dfolder);
    snprintf(r->daily_key, sizeof r->daily_key, "%s", dkey);
    struct store_put *put = NULL;
    /* a projection is our temp file (adopted); the publisher's own file is copied */
    rc = file == o->file ? stage_path(c, file, &put) : store_put_adopt(o->store, file, &put);
    if (rc < 0)
        return fail(c, rc, "cannot read '%s': %s", o->file, errs(rc));
    uint8_t d256[32], md5[16];
    if ((rc = store_put_digest(put, d256, md5)) < 0) {
        store_put_abort(put);
        return fail(c, rc, "cannot stage '%s': %s", o->file, errs(rc));
    }
    hex_encode(d256, 32, sha);
    memcpy(r->sha256, sha, 65);
    r->size = store_put_size(put);

    /* 1. the daily object (unless the same bytes are there, live) and its manifest */
    char have[65];
    bool retired = true;
    if (head_sha(c, dkey, have, &retired) == 0 && !retired && strcmp(have, sha) == 0) {
        store_put_abort(put);
    } else {
        if ((rc = commit(c, put, dkey, ctype_of(&k))) < 0)
            return fail(c, rc, "cannot store '%s': %s", dkey, errs(rc));
        pause_at("daily");
    }
    if ((rc = retire_folder(c, dfolder, dkey, true)) < 0) /* the day in another format */
        return rc;
    json_t *dm = NULL;
    get_json(c, dmkey, &dm);
    bool dm_ok = dm && streq(jstr(dm, "sha256", NULL), sha) && streq(jstr(dm, "key", NULL), dkey) &&
                 streq(jstr(dm, "schema", "fingerprint"), a.fp) &&
                 streq(jstr(dm, "format", NULL), pub_fmt_name(k.fmt)) &&
                 streq(jstr(dm, "schema", "label"), c->label);
    json_decref(dm);
    bool dm_retired = false;
    if (dm_ok && (head_sha(c, dmkey, have, &dm_retired) < 0 || dm_retired))
        dm_ok = false; /* the day is live again: so is its manifest */
    if (!dm_ok) {
        dm = manifest_new(c, "daily", k.fmt, o->date, o->date, a.fp, c->label, a.has_rows, a.rows,
                          a.rgs, r->size, sha, dkey);
        rc = put_json(c, dmkey, dm);
        json_decref(dm);
        if (rc < 0)
            return rc;
        pause_at("daily-manifest");
    }

    /* 2. the bundles */
    struct bundle_res br = {0};
    if (k.fmt == PUB_OTHER) {
        note(c, "%s files get a daily object and manifest only (no month-to-date bundle)",
             k.ext[0] ? k.ext : "extension-less");
    }
    struct dayinfo *days = NULL;
    size_t ndays = 0;
    if ((rc = month_days(c, month, &days, &ndays)) < 0)
        return rc;
    if (cmp >= 0 && k.fmt != PUB_OTHER) {
        struct bundle_spec s = {"mtd", month, k.fmt, a.fp, k.ext, true};
        if (cmp == 0 && schema_changed) {
            s.fmt = pfmt;
            s.fp = pfp;
            s.ext = pext;
            s.focus = false;
            note(c,
                 "the schema changed within %s: published as a daily file only; the MTD keeps "
                 "the previous schema until the month ends",
                 month);
        }
        if ((rc = sync_bundle(c, &s, days, ndays, &br)) == 0 && s.focus && br.exists) {
            snprintf(r->mtd_key, sizeof r->mtd_key, "%s", br.key);
            r->mtd_rows = br.rows;
            r->mtd_days = br.ndays;
            r->spliced = br.spliced;
        }
    } else if (cmp >= 0 && newest[0] && cmp == 0) {
        rc = sync_month(c, "mtd", month, &br); /* another format's day: the MTD stays */
    }
    if (rc == 0)
        rc = close_months(c);
    if (rc == 0 && cmp < 0 && k.fmt != PUB_OTHER) {
        if (!late_bundle &&
            bundle_schema(c, "monthly", month, NULL, 0, &pfmt, pfp, pext, plabel) == 0)
            late_bundle = true; /* close_months just froze it */
        if (!late_bundle) {
            note(c, "%s has no monthly bundle (its MTD is %s): published as a daily file only",
                 month, newest);
        } else {
            bool fits = pfmt == k.fmt && strcmp(pfp, a.fp) == 0;
            struct bundle_spec s = {"monthly", month, pfmt, pfp, pext, fits};
            if (!fits)
                note(c,
                     "the schema of %s's monthly bundle differs: published as a daily file "
                     "only",
                     month);
            if ((rc = sync_bundle(c, &s, days, ndays, &br)) == 0 && fits && br.exists) {
                snprintf(r->monthly_key, sizeof r->monthly_key, "%s", br.key);
                r->mtd_rows = br.rows;
                r->mtd_days = br.ndays;
                r->spliced = br.spliced;
            }
        }
    }
    free(days);
    if (rc < 0)
        return rc;

    /* 3. the index, last */
    return write_index(c, false);
}

static void rm_tmpdir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[4400];
    while (d && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

/* Temp directories of publishes that were killed (tollgate-publish.<pid>.XXXXXX whose pid
 * is gone) are removed by the next publish. */
static void rm_stale_tmpdirs(const char *base)
{
    DIR *d = opendir(base);
    struct dirent *e;
    char p[4400];
    while (d && (e = readdir(d))) {
        long pid = 0;
        char *end = NULL;
        if (strncmp(e->d_name, "tollgate-publish.", 17) != 0)
            continue;
        pid = strtol(e->d_name + 17, &end, 10);
        if (pid <= 0 || !end || *end != '.' || pid == (long)getpid())
            continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        snprintf(p, sizeof p, "%s/%s", base, e->d_name);
        rm_tmpdir(p);
    }
    if (d)
        closedir(d);
}

static int ctx_init(struct ctx *c, const struct publish_opts *o, struct publish_result *r,
                    char *err)
{
    memset(c, 0, sizeof *c);
    c->o = o;
    c->r = r;
    c->err = err;
    c->err[0] = '\0';
    if (!o->grant || !o->grant->n_prefixes)
        return fail(c, -ERR_INVALID, "the grant has no prefix");
    c->prefix = o->grant->prefixes[0];
    c->label = "";
    return 0;
}

int publish_run(const struct publish_opts *o, struct publish_result *res, char *err)
{
    struct publish_result r;
    memset(&r, 0, sizeof r);
    char dummy[PUBLISH_ERRMSG_MAX];
    struct ctx c;
    int rc = ctx_init(&c, o, &r, err ? err : dummy);
    if (rc < 0)
        return rc;
    const char *td = getenv("TMPDIR");
    rm_stale_tmpdirs(td && *td ? td : "/tmp");
    snprintf(c.tmpdir, sizeof c.tmpdir, "%s/tollgate-publish.%ld.XXXXXX", td && *td ? td : "/tmp",
             (long)getpid());
    if (!mkdtemp(c.tmpdir))
        return fail(&c, -errno, "cannot create a temporary directory in %s: %s",
                    td && *td ? td : "/tmp", strerror(errno));
    rc = run(&c);
    rm_tmpdir(c.tmpdir);
    r.noop = c.writes == 0;
    if (rc == 0 && res)
        *res = r;
    return rc;
}

int publish_index(const struct publish_opts *o, char *err)
{
    struct publish_result r;
    memset(&r, 0, sizeof r);
    char dummy[PUBLISH_ERRMSG_MAX];
    struct ctx c;
    int rc = ctx_init(&c, o, &r, err ? err : dummy);
    return rc < 0 ? rc : write_index(&c, true);
}
