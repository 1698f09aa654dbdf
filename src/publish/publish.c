/* publish.c -- publish_run(): validate a Parquet file, then write the daily object and
 * manifest, freeze the previous month's MTD as a monthly bundle on rollover, rebuild the
 * MTD (append or splice the day's row groups) and its manifest, and write the grant's
 * index last. See publish.h for the layout. */
#include "publish/publish.h"

#include <errno.h>
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
#include "store/store.h"
#include "util/util.h"

#define MANIFEST_MAX (4u << 20)

struct ctx {
    const struct publish_opts *o;
    struct publish_result *r;
    char *err;
    const char *prefix;
    char tmpdir[4096];
    char month[8]; /* YYYY-MM of the date */
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

/* ---- store helpers ---- */

static int put_fd(struct ctx *c, int fd, const char *key, const char *ctype,
                  struct store_obj_info *info)
{
    struct store_put *p;
    int rc = store_put_begin(c->o->store, &p);
    if (rc < 0)
        return rc;
    char buf[1 << 16];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            store_put_abort(p);
            return -errno;
        }
        if (n == 0)
            break;
        if ((rc = store_put_write(p, buf, (size_t)n)) < 0) {
            store_put_abort(p);
            return rc;
        }
    }
    struct store_attrs a = {ctype, NULL};
    struct store_obj_info tmp = {0};
    rc = store_put_commit(p, str_c(c->o->bucket), str_c(key), &a, info ? info : &tmp);
    store_obj_info_release(&tmp);
    return rc;
}

static int put_path(struct ctx *c, const char *path, const char *key, struct store_obj_info *info)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = put_fd(c, fd, key, "application/vnd.apache.parquet", info);
    close(fd);
    return rc;
}

static int put_json(struct ctx *c, const char *key, json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (!s)
        return -ERR_NOMEM;
    struct store_put *p = NULL;
    int rc = store_put_begin(c->o->store, &p);
    if (rc == 0 && (rc = store_put_write(p, s, strlen(s))) == 0)
        rc = store_put_write(p, "\n", 1);
    if (rc == 0) {
        struct store_attrs a = {"application/json", NULL};
        struct store_obj_info info = {0};
        rc = store_put_commit(p, str_c(c->o->bucket), str_c(key), &a, &info);
        store_obj_info_release(&info);
    } else {
        store_put_abort(p);
    }
    free(s);
    return rc;
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

/* ---- listing: newest MTD month, and keys for the index ---- */

struct collect {
    size_t dir_len;
    json_t *keys;   /* array of data keys (not manifests) */
    char newest[8]; /* newest YYYY-MM folder holding a manifest.json */
};

static int on_key(void *ctx, const struct store_list_entry *e)
{
    struct collect *k = ctx;
    if (!e->key)
        return 0;
    const char *rest = e->key + k->dir_len, *slash = strchr(rest, '/');
    if (!slash || strchr(slash + 1, '/') || !slash[1])
        return 0;
    if (strcmp(slash + 1, "manifest.json") == 0) {
        size_t pl = (size_t)(slash - rest);
        if (pl == 7 && strncmp(rest, k->newest, 7) > 0) {
            memcpy(k->newest, rest, 7);
            k->newest[7] = '\0';
        }
        return 0;
    }
    if (k->keys)
        json_array_append_new(k->keys, json_string(e->key));
    return 0;
}

static int collect(struct ctx *c, const char *kind, struct collect *k)
{
    struct buf dir = BUF_INIT;
    int rc = buf_printf(&dir, "%s%s/", c->prefix, kind);
    k->dir_len = dir.len;
    char *after = NULL;
    while (rc == 0) {
        struct store_list_req req = {str_c(c->o->bucket), buf_str(&dir), STR_NULL, str_c(after),
                                     STORE_LIST_MAX};
        struct store_list_res res = {0};
        rc = store_obj_list(c->o->store, &req, on_key, k, &res);
        free(after);
        after = res.next_after;
        res.next_after = NULL;
        bool more = res.truncated;
        store_list_res_release(&res);
        if (rc < 0 || !more)
            break;
    }
    free(after);
    buf_release(&dir);
    return rc;
}

/* ---- manifests ---- */

static json_t *manifest_new(struct ctx *c, const char *kind, const char *start, const char *end,
                            const char *fp, const char *label, uint64_t rows, size_t rgs,
                            const struct store_obj_info *info, const char *key)
{
    char built[TG_TIME_BUF], sha[65];
    time_fmt_iso8601(c->o->now, built);
    hex_encode(info->sha256, 32, sha);
    return json_pack("{s:s, s:s, s:{s:s, s:s}, s:s, s:{s:s, s:s}, s:I, s:I, s:I, s:s, s:s}",
                     "grant", c->o->grant->name, "kind", kind, "coverage", "start", start, "end",
                     end, "built_at", built, "schema", "fingerprint", fp, "label",
                     label ? label : "", "rows", (json_int_t)rows, "row_groups", (json_int_t)rgs,
                     "size", (json_int_t)info->size, "sha256", sha, "key", key);
}

static const char *jstr(json_t *o, const char *path1, const char *path2)
{
    json_t *v = json_object_get(o, path1);
    if (path2)
        v = json_object_get(v, path2);
    return json_string_value(v);
}

/* Opens a stored object as a Parquet file (through /proc/self/fd: no copy). */
static int pq_open_obj(struct ctx *c, const char *key, struct pq_file **out, int *fd_out)
{
    struct store_obj_info info = {0};
    int fd = -1;
    int rc = store_obj_open(c->o->store, str_c(c->o->bucket), str_c(key), &info, &fd);
    store_obj_info_release(&info);
    if (rc < 0)
        return fail(c, rc, "cannot open '%s': %s", key, errs(rc));
    char path[64], perr[PQ_ERRMSG_MAX];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    if ((rc = pq_open(path, out, perr)) < 0) {
        close(fd);
        return fail(c, rc, "the stored MTD '%s' is not valid Parquet: %s", key, perr);
    }
    *fd_out = fd;
    return 0;
}

/* ---- the month-to-date bundle ---- */

/* Freezes the MTD of `old_month` as monthly/old_month/. */
static int freeze_month(struct ctx *c, const char *old_month, json_t *old_man)
{
    char src[PUBLISH_KEY_MAX], dst[PUBLISH_KEY_MAX], mkey[PUBLISH_KEY_MAX];
    const char *name = c->o->grant->name;
    snprintf(src, sizeof src, "%smtd/%s/%s_%s_mtd.parquet", c->prefix, old_month, name, old_month);
    snprintf(dst, sizeof dst, "%smonthly/%s/%s_%s.parquet", c->prefix, old_month, name, old_month);
    snprintf(mkey, sizeof mkey, "%smonthly/%s/manifest.json", c->prefix, old_month);
    struct store_obj_info info = {0};
    int rc = store_obj_copy(c->o->store, str_c(c->o->bucket), str_c(src), str_c(c->o->bucket),
                            str_c(dst), NULL, &info);
    store_obj_info_release(&info);
    if (rc < 0)
        return fail(c, rc, "cannot freeze '%s' as '%s': %s", src, dst, errs(rc));
    json_t *m = json_deep_copy(old_man);
    char built[TG_TIME_BUF];
    time_fmt_iso8601(c->o->now, built);
    json_object_set_new(m, "kind", json_string("monthly"));
    json_object_set_new(m, "key", json_string(dst));
    json_object_set_new(m, "built_at", json_string(built));
    rc = put_json(c, mkey, m);
    json_decref(m);
    if (rc < 0)
        return fail(c, rc, "cannot write '%s': %s", mkey, errs(rc));
    snprintf(c->r->monthly_key, sizeof c->r->monthly_key, "%s", dst);
    return 0;
}

/* Rebuilds the MTD of c->month from `man` (NULL: none yet) and the day's file. */
static int build_mtd(struct ctx *c, json_t *man, struct pq_file *day, const char *sha,
                     const char *fp, const char *label)
{
    const struct publish_opts *o = c->o;
    const char *name = o->grant->name;
    char key[PUBLISH_KEY_MAX], mkey[PUBLISH_KEY_MAX], out[4200];
    snprintf(key, sizeof key, "%smtd/%s/%s_%s_mtd.parquet", c->prefix, c->month, name, c->month);
    snprintf(mkey, sizeof mkey, "%smtd/%s/manifest.json", c->prefix, c->month);
    snprintf(out, sizeof out, "%s/mtd.parquet", c->tmpdir);
    json_t *days = man ? json_deep_copy(json_object_get(man, "days")) : NULL;
    if (!json_is_array(days)) {
        json_decref(days);
        days = json_array();
    }
    size_t nday_rg = pq_num_row_groups(day);
    struct pq_result pr = {0};
    char perr[PQ_ERRMSG_MAX] = "";
    int rc = 0;
    if (!man) {
        struct pq_file *in[1] = {day};
        rc = pq_concat(out, in, 1, &pr, perr);
    } else {
        /* where the day goes: its old range, or before the first later day, or the end */
        size_t n = json_array_size(days), at = n;
        bool found = false;
        for (size_t i = 0; i < n; i++) {
            const char *d = json_string_value(json_object_get(json_array_get(days, i), "date"));
            int cmp = d ? strcmp(d, o->date) : -1;
            if (cmp == 0) {
                at = i;
                found = true;
                break;
            }
            if (cmp > 0) {
                at = i;
                break;
            }
        }
        struct pq_file *old = NULL;
        int ofd = -1;
        if ((rc = pq_open_obj(c, key, &old, &ofd)) < 0) {
            json_decref(days);
            return rc;
        }
        size_t total = pq_num_row_groups(old), a = total, b = total;
        if (at < n) {
            json_t *rg = json_object_get(json_array_get(days, at), "row_groups");
            a = (size_t)json_integer_value(json_array_get(rg, 0));
            b = found ? (size_t)json_integer_value(json_array_get(rg, 1)) : a;
        }
        if (a > b || b > total) {
            rc = fail(c, -ERR_INVALID, "the MTD manifest '%s' does not match its file", mkey);
        } else if (!found && at == n) {
            struct pq_file *in[2] = {old, day};
            rc = pq_concat(out, in, 2, &pr, perr);
        } else {
            rc = pq_splice(out, old, a, b, day, &pr, perr);
        }
        pq_close(old);
        close(ofd);
        if (rc < 0) {
            json_decref(days);
            return perr[0] ? fail(c, rc, "cannot build the MTD: %s", perr) : rc;
        }
        /* shift the ranges after the day */
        long long delta = (long long)nday_rg - (long long)(b - a);
        for (size_t i = at + (found ? 1 : 0); i < n; i++) {
            json_t *rg = json_object_get(json_array_get(days, i), "row_groups");
            for (size_t k = 0; k < 2; k++)
                json_array_set_new(rg, k,
                                   json_integer(json_integer_value(json_array_get(rg, k)) + delta));
        }
        json_t *entry = json_pack("{s:s, s:s, s:I, s:[I, I]}", "date", o->date, "sha256", sha,
                                  "rows", (json_int_t)pq_num_rows(day), "row_groups", (json_int_t)a,
                                  (json_int_t)(a + nday_rg));
        if (found)
            json_array_set_new(days, at, entry);
        else
            json_array_insert_new(days, at, entry);
        c->r->spliced = found;
    }
    if (!man) {
        if (rc < 0) {
            json_decref(days);
            return fail(c, rc, "cannot build the MTD: %s", perr);
        }
        json_array_append_new(days, json_pack("{s:s, s:s, s:I, s:[I, I]}", "date", o->date,
                                              "sha256", sha, "rows", (json_int_t)pq_num_rows(day),
                                              "row_groups", (json_int_t)0, (json_int_t)nday_rg));
    }
    struct store_obj_info info = {0};
    rc = put_path(c, out, key, &info);
    unlink(out);
    if (rc < 0) {
        json_decref(days);
        return fail(c, rc, "cannot store '%s': %s", key, errs(rc));
    }
    size_t n = json_array_size(days);
    const char *first = json_string_value(json_object_get(json_array_get(days, 0), "date"));
    const char *last = json_string_value(json_object_get(json_array_get(days, n - 1), "date"));
    json_t *m = manifest_new(c, "mtd", first, last, fp, label, pr.rows, pr.row_groups, &info, key);
    store_obj_info_release(&info);
    json_object_set_new(m, "days", days);
    rc = put_json(c, mkey, m);
    json_decref(m);
    if (rc < 0)
        return fail(c, rc, "cannot write '%s': %s", mkey, errs(rc));
    snprintf(c->r->mtd_key, sizeof c->r->mtd_key, "%s", key);
    c->r->mtd_rows = pr.rows;
    c->r->mtd_days = n;
    return 0;
}

/* ---- the index ---- */

static int write_index(struct ctx *c)
{
    struct collect d = {.keys = json_array()}, m = {.keys = json_array()},
                   t = {.keys = json_array()};
    int rc = collect(c, "daily", &d);
    if (rc == 0)
        rc = collect(c, "monthly", &m);
    if (rc == 0)
        rc = collect(c, "mtd", &t);
    if (rc < 0) {
        json_decref(d.keys);
        json_decref(m.keys);
        json_decref(t.keys);
        return fail(c, rc, "cannot list the grant's objects: %s", errs(rc));
    }
    /* the MTD is the one of the newest month */
    json_t *mtd = json_null();
    size_t i;
    json_t *v;
    json_array_foreach(t.keys, i, v)
    {
        const char *k = json_string_value(v);
        if (t.newest[0] && strncmp(k + t.dir_len, t.newest, 7) == 0) {
            json_decref(mtd);
            mtd = json_string(k);
        }
    }
    json_decref(t.keys);
    char built[TG_TIME_BUF], key[PUBLISH_KEY_MAX];
    time_fmt_iso8601(c->o->now, built);
    json_t *j = json_pack("{s:s, s:s, s:o, s:o, s:o}", "grant", c->o->grant->name, "built_at",
                          built, "daily", d.keys, "mtd", mtd, "monthly", m.keys);
    snprintf(key, sizeof key, "_index/%s.json", c->o->grant->name);
    rc = j ? put_json(c, key, j) : -ERR_NOMEM;
    json_decref(j);
    return rc < 0 ? fail(c, rc, "cannot write '%s': %s", key, errs(rc)) : 0;
}

/* ---- the pipeline ---- */

static int run(struct ctx *c)
{
    const struct publish_opts *o = c->o;
    struct publish_result *r = c->r;
    const char *name = o->grant->name;
    int64_t t;
    if (!o->date || strlen(o->date) != 10 || time_parse_date(str_c(o->date), &t) < 0)
        return fail(c, -ERR_INVALID, "'%s' is not a date (YYYY-MM-DD)", o->date ? o->date : "");
    memcpy(c->month, o->date, 7);
    c->month[7] = '\0';
    size_t fl = strlen(o->file);
    if (fl < 8 || strcmp(o->file + fl - 8, ".parquet") != 0)
        return fail(c, -ERR_NOT_IMPLEMENTED,
                    "only Parquet files (*.parquet) can be published so far; '%s' is not one "
                    "(CSV, JSON-lines and other formats are not supported yet)",
                    o->file);
    struct pq_file *day = NULL;
    char perr[PQ_ERRMSG_MAX];
    int rc = pq_open(o->file, &day, perr);
    if (rc < 0)
        return fail(c, rc, "%s", perr);
    char fp[65], sha[65];
    pq_fingerprint_hex(day, fp);
    snprintf(r->fingerprint, sizeof r->fingerprint, "%s", fp);
    r->rows = pq_num_rows(day);
    r->row_groups = pq_num_row_groups(day);
    json_t *dman = NULL, *mman = NULL;
    struct store_put *put = NULL;
    char dkey[PUBLISH_KEY_MAX], dmkey[PUBLISH_KEY_MAX], mmkey[PUBLISH_KEY_MAX];
    snprintf(dkey, sizeof dkey, "%sdaily/%s/%s_%s.parquet", c->prefix, o->date, name, o->date);
    snprintf(dmkey, sizeof dmkey, "%sdaily/%s/manifest.json", c->prefix, o->date);
    snprintf(r->daily_key, sizeof r->daily_key, "%s", dkey);

    /* the current MTD: the newest month with a manifest */
    struct collect cm = {0};
    if ((rc = collect(c, "mtd", &cm)) < 0) {
        rc = fail(c, rc, "cannot list the MTD: %s", errs(rc));
        goto out;
    }
    if (cm.newest[0]) {
        snprintf(mmkey, sizeof mmkey, "%smtd/%s/manifest.json", c->prefix, cm.newest);
        if ((rc = get_json(c, mmkey, &mman)) < 0 && rc != -ERR_NO_SUCH_KEY) {
            rc = fail(c, rc, "cannot read '%s': %s", mmkey, errs(rc));
            goto out;
        }
    }
    const char *prev_fp = mman ? jstr(mman, "schema", "fingerprint") : NULL;
    const char *label = o->schema_label;
    if (!label)
        label = mman && jstr(mman, "schema", "label") ? jstr(mman, "schema", "label") : "";
    bool schema_changed = prev_fp && strcmp(prev_fp, fp) != 0;
    if (schema_changed && !o->allow_schema_change) {
        const char *pl = jstr(mman, "schema", "label");
        rc = fail(c, -ERR_INVALID,
                  "schema of '%s' (fingerprint %.12s) differs from the grant's previous days "
                  "(fingerprint %.12s%s%s%s, in %s); nothing was published. Pass "
                  "--allow-schema-change if this is intended",
                  o->file, fp, prev_fp, pl && *pl ? ", label '" : "", pl && *pl ? pl : "",
                  pl && *pl ? "'" : "", mmkey);
        goto out;
    }

    /* hash the file into a pending put */
    int fd = open(o->file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = fail(c, -errno, "cannot read '%s': %s", o->file, strerror(errno));
        goto out;
    }
    if ((rc = store_put_begin(o->store, &put)) == 0) {
        char buf[1 << 16];
        for (;;) {
            ssize_t n = read(fd, buf, sizeof buf);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                rc = n < 0 ? -errno : 0;
                break;
            }
            if ((rc = store_put_write(put, buf, (size_t)n)) < 0)
                break;
        }
    }
    close(fd);
    uint8_t d256[32], md5[16];
    if (rc == 0)
        rc = store_put_digest(put, d256, md5);
    if (rc < 0) {
        rc = fail(c, rc, "cannot stage '%s': %s", o->file, errs(rc));
        goto out;
    }
    hex_encode(d256, 32, sha);
    memcpy(r->sha256, sha, 65);
    r->size = store_put_size(put);

    /* identical bytes already published (daily and, when current, in the MTD): no-op */
    if (get_json(c, dmkey, &dman) == 0 && jstr(dman, "sha256", NULL) &&
        strcmp(jstr(dman, "sha256", NULL), sha) == 0) {
        bool in_mtd = !mman || strcmp(cm.newest, c->month) != 0;
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(mman, "days"), i, v)
        {
            const char *dd = jstr(v, "date", NULL), *ds = jstr(v, "sha256", NULL);
            if (dd && ds && strcmp(dd, o->date) == 0 && strcmp(ds, sha) == 0)
                in_mtd = true;
        }
        if (in_mtd) {
            r->noop = true;
            rc = 0;
            goto out;
        }
    }

    /* 1. daily object + manifest */
    struct store_attrs pa = {"application/vnd.apache.parquet", NULL};
    struct store_obj_info info = {0};
    rc = store_put_commit(put, str_c(o->bucket), str_c(dkey), &pa, &info);
    put = NULL;
    if (rc < 0) {
        rc = fail(c, rc, "cannot store '%s': %s", dkey, errs(rc));
        goto out;
    }
    json_t *dm =
        manifest_new(c, "daily", o->date, o->date, fp, label, r->rows, r->row_groups, &info, dkey);
    store_obj_info_release(&info);
    rc = dm ? put_json(c, dmkey, dm) : -ERR_NOMEM;
    json_decref(dm);
    if (rc < 0) {
        rc = fail(c, rc, "cannot write '%s': %s", dmkey, errs(rc));
        goto out;
    }

    /* 2. month rollover, then the MTD */
    int cmp = cm.newest[0] ? strcmp(c->month, cm.newest) : 1;
    if (cmp < 0) {
        snprintf(r->warning, sizeof r->warning,
                 "%s belongs to %s, which is closed (the MTD is %s): published as a daily file "
                 "only; the monthly bundle was not rebuilt",
                 o->date, c->month, cm.newest);
    } else if (cmp > 0) {
        if (mman && (rc = freeze_month(c, cm.newest, mman)) < 0)
            goto out;
        if ((rc = build_mtd(c, NULL, day, sha, fp, label)) < 0)
            goto out;
    } else if (schema_changed) {
        snprintf(r->warning, sizeof r->warning,
                 "the schema changed within %s: published as a daily file only; the MTD keeps "
                 "the previous schema until the month ends",
                 c->month);
    } else if ((rc = build_mtd(c, mman, day, sha, fp, label)) < 0) {
        goto out;
    }
    if (cmp > 0 && cm.newest[0]) {
        /* the frozen month's MTD is now the monthly bundle: drop the old MTD folder */
        char k[PUBLISH_KEY_MAX];
        snprintf(k, sizeof k, "%smtd/%s/%s_%s_mtd.parquet", c->prefix, cm.newest, name, cm.newest);
        store_obj_delete(o->store, str_c(o->bucket), str_c(k));
        snprintf(k, sizeof k, "%smtd/%s/manifest.json", c->prefix, cm.newest);
        store_obj_delete(o->store, str_c(o->bucket), str_c(k));
    }

    /* 3. the index, last */
    rc = write_index(c);
out:
    store_put_abort(put);
    json_decref(dman);
    json_decref(mman);
    pq_close(day);
    return rc;
}

int publish_run(const struct publish_opts *o, struct publish_result *res, char *err)
{
    struct publish_result r;
    memset(&r, 0, sizeof r);
    char dummy[PUBLISH_ERRMSG_MAX];
    struct ctx c = {.o = o, .r = &r, .err = err ? err : dummy};
    c.err[0] = '\0';
    if (!o->grant || !o->grant->n_prefixes)
        return fail(&c, -ERR_INVALID, "the grant has no prefix");
    c.prefix = o->grant->prefixes[0];
    const char *td = getenv("TMPDIR");
    snprintf(c.tmpdir, sizeof c.tmpdir, "%s/tollgate-publish.XXXXXX", td && *td ? td : "/tmp");
    if (!mkdtemp(c.tmpdir))
        return fail(&c, -errno, "cannot create a temporary directory in %s: %s",
                    td && *td ? td : "/tmp", strerror(errno));
    int rc = run(&c);
    char p[4200];
    snprintf(p, sizeof p, "%s/mtd.parquet", c.tmpdir);
    unlink(p);
    rmdir(c.tmpdir);
    if (rc == 0 && res)
        *res = r;
    return rc;
}
