/* publish_bundle.c -- the month bundles: the MTD of the current month and the monthly bundle
 * of a month that has ended. The stored days of a month (a daily manifest that does not match
 * its object is made again), a bundle brought in line with them (Parquet: row groups appended,
 * spliced or removed; text: one pass that writes the CSV header once, optionally gzip), the
 * pending manifest before the bundle and its manifest after it, and the closing of ended
 * months (the MTD frozen as monthly/, then retired). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gate/gate.h"
#include "parquet/parquet.h"
#include "publish/publish.h"
#include "publish/publish_int.h"
#include "store/store.h"
#include "util/util.h"

#define BUNDLE_DAYS_MAX 31

static int fmt_of_name(const char *s, enum pub_fmt *out)
{
    for (int f = PUB_PARQUET; f <= PUB_OTHER; f++)
        if (pub_streq(s, pub_fmt_name((enum pub_fmt)f))) {
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
    int rc = f->has_manifest ? pub_get_json(c, mkey, &m) : -ERR_NO_SUCH_KEY;
    if (rc < 0 && rc != -ERR_NO_SUCH_KEY)
        return pub_fail(c, rc, "cannot read '%s': %s", mkey, pub_errs(rc));
    struct dayinfo d = {0};
    snprintf(d.date, sizeof d.date, "%s", f->period);
    if (m && pub_manifest_matches(c, m) && pub_jstr(m, "schema", "fingerprint")) {
        snprintf(d.key, sizeof d.key, "%s", pub_jstr(m, "key", NULL));
        snprintf(d.sha, sizeof d.sha, "%s", pub_jstr(m, "sha256", NULL));
        snprintf(d.fp, sizeof d.fp, "%s", pub_jstr(m, "schema", "fingerprint"));
        pub_kind_of(d.key, &d.k);
        d.rows = (uint64_t)json_integer_value(json_object_get(m, "rows"));
        d.rgs = (size_t)json_integer_value(json_object_get(m, "row_groups"));
        json_decref(m);
        *out = d;
        return 0;
    }
    const char *label = m && pub_jstr(m, "schema", "label") ? pub_jstr(m, "schema", "label") : "";
    char lab[256];
    snprintf(lab, sizeof lab, "%s", label);
    json_decref(m);
    if (!f->data_key[0])
        return 1;
    /* repair: the manifest again, from the stored object */
    struct store_obj_info info = {0};
    int fd = -1;
    if ((rc = store_obj_open(c->o->store, str_c(c->o->bucket), str_c(f->data_key), &info, &fd)) < 0)
        return pub_fail(c, rc, "cannot open '%s': %s", f->data_key, pub_errs(rc));
    char path[64], sha[65];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    hex_encode(info.sha256, 32, sha);
    uint64_t size = info.size;
    store_obj_info_release(&info);
    struct pub_kind k;
    pub_kind_of(f->data_key, &k);
    struct analysis a;
    rc = pub_analyze(c, path, f->data_key, &k, &a);
    close(fd);
    if (rc < 0)
        return rc;
    json_t *nm = pub_manifest_new(c, "daily", k.fmt, d.date, d.date, a.fp, lab, a.has_rows, a.rows,
                                  a.rgs, size, sha, f->data_key);
    rc = pub_put_json(c, mkey, nm);
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
int pub_month_days(struct ctx *c, const char *month, struct dayinfo **out, size_t *n)
{
    struct folders fs;
    char pp[16];
    snprintf(pp, sizeof pp, "%s-", month);
    int rc = pub_list_folders(c, "daily", pp, false, &fs);
    struct dayinfo *v = calloc(fs.n ? fs.n : 1, sizeof *v);
    size_t k = 0;
    if (!v && rc == 0)
        rc = pub_fail(c, -ERR_NOMEM, "out of memory");
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

static int bdays_from_json(json_t *days, enum pub_fmt fmt, struct bday *v, size_t *n)
{
    size_t k = json_array_size(days);
    if (!json_is_array(days) || k > BUNDLE_DAYS_MAX)
        return -1;
    uint64_t prev = 0;
    for (size_t i = 0; i < k; i++) {
        json_t *d = json_array_get(days, i);
        json_t *r = json_object_get(d, fmt == PUB_PARQUET ? "row_groups" : "bytes");
        const char *date = pub_jstr(d, "date", NULL), *sha = pub_jstr(d, "sha256", NULL);
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
        return pub_fail(c, rc, "cannot open '%s': %s", key, pub_errs(rc));
    char path[64], perr[PQ_ERRMSG_MAX];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    rc = pq_open(path, out, perr);
    close(fd);
    return rc < 0 ? pub_fail(c, rc, "'%s' is not valid Parquet: %s", key, perr) : 0;
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
        return pub_fail(c, rc, "cannot build the bundle: %s", perr[0] ? perr : pub_errs(rc));
    pq_close(*cur);
    *cur = NULL;
    if ((rc = pq_open(out, cur, perr)) < 0)
        return pub_fail(c, rc, "cannot reopen the bundle: %s", perr);
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
        rc = pub_fail(c, -ERR_INVALID, "the manifest of '%s' does not match its file", base_key);
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
            rc = pub_fail(c, rc, "cannot stage the bundle: %s", pub_errs(rc));
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
        return pub_fail(c, rc, "cannot open '%s': %s", key, pub_errs(rc));
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
        return pub_fail(c, rc, "cannot stage the bundle: %s", pub_errs(rc));
    if (gz) {
        if (deflateInit2(&w.z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
            store_put_abort(w.p);
            return pub_fail(c, -ERR_NOMEM, "out of memory");
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
                rc = pub_fail(c, (int)n, "cannot read '%s': %s", base_key, pub_errs((int)n));
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
                rc = pub_fail(c, n < 0 ? (int)n : rc, "cannot read '%s'", t[0].src->key);
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
            rc = pub_fail(c, (int)n, "cannot read '%s' (%s)", what, pub_errs((int)n));
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
        pub_fail(c, rc, "cannot build the bundle: %s", pub_errs(rc));
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
int pub_sync_bundle(struct ctx *c, const struct bundle_spec *s, const struct dayinfo *days,
                    size_t ndays, struct bundle_res *res)
{
    char folder[PUBLISH_KEY_MAX - 64], mkey[PUBLISH_KEY_MAX], pkey[PUBLISH_KEY_MAX];
    char key[PUBLISH_KEY_MAX];
    snprintf(folder, sizeof folder, "%s%s/%s/", c->prefix, s->kind, s->month);
    snprintf(mkey, sizeof mkey, "%smanifest.json", folder);
    snprintf(pkey, sizeof pkey, "%s%s", folder, PUB_PENDING);
    memset(res, 0, sizeof *res);
    json_t *m = NULL, *p = NULL, *base = NULL;
    struct bday cd[BUNDLE_DAYS_MAX + 1], t[BUNDLE_DAYS_MAX + 1];
    size_t ncd = 0, nt = 0;
    int rc = pub_get_json(c, mkey, &m);
    if (rc < 0 && rc != -ERR_NO_SUCH_KEY)
        return pub_fail(c, rc, "cannot read '%s': %s", mkey, pub_errs(rc));
    enum pub_fmt f;
#define FITS(j)                                                                                    \
    ((j) &&                                                                                        \
     fmt_of_name(pub_jstr((j), "format", NULL) ? pub_jstr((j), "format", NULL) : "parquet", &f) == \
         0 &&                                                                                      \
     f == s->fmt && pub_streq(pub_jstr((j), "schema", "fingerprint"), s->fp) &&                    \
     pub_manifest_matches(c, (j)) &&                                                               \
     bdays_from_json(json_object_get((j), "days"), s->fmt, cd, &ncd) == 0)
    if (FITS(m)) {
        base = m;
    } else {
        rc = pub_get_json(c, pkey, &p);
        if (rc < 0 && rc != -ERR_NO_SUCH_KEY) {
            json_decref(m);
            return pub_fail(c, rc, "cannot read '%s': %s", pkey, pub_errs(rc));
        }
        ncd = 0;
        if (FITS(p))
            base = p;
        else
            ncd = 0;
    }
#undef FITS
    rc = 0;
    const char *label = s->focus ? c->label
                        : base && pub_jstr(base, "schema", "label")
                            ? pub_jstr(base, "schema", "label")
                        : m && pub_jstr(m, "schema", "label") ? pub_jstr(m, "schema", "label")
                                                              : "";
    char lab[256];
    snprintf(lab, sizeof lab, "%s", label);
    if (base)
        snprintf(key, sizeof key, "%s", pub_jstr(base, "key", NULL));
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
        pub_note(c, "the %s of %s did not match its manifest: rebuilt from the stored daily files",
                 s->kind, s->month);

    if (!changed && base) {
        if (base == p) { /* killed between the bundle and its manifest: the pending one holds */
            json_object_set_new(p, "kind", json_string(s->kind));
            if ((rc = pub_put_json(c, mkey, p)) < 0)
                goto out;
            c->r->repaired++;
            pub_pause_at(strcmp(s->kind, "mtd") == 0 ? "mtd-manifest" : "monthly-manifest");
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
        rc = pub_fail(c, rc, "cannot stage '%s': %s", key, pub_errs(rc));
        goto out;
    }
    hex_encode(d256, 32, sha);
    json_t *nm = pub_manifest_new(c, s->kind, s->fmt, t[0].date, t[nt - 1].date, s->fp, lab, true,
                                  rows, rgs, store_put_size(put), sha, key);
    json_object_set_new(nm, "days", bdays_to_json(t, nt, s->fmt));
    char step[32];
    snprintf(step, sizeof step, "%s-pending", s->kind);
    if ((rc = pub_put_json(c, pkey, nm)) < 0) {
        store_put_abort(put);
        json_decref(nm);
        goto out;
    }
    pub_pause_at(step);
    struct pub_kind k;
    pub_kind_of(key, &k);
    if ((rc = pub_commit(c, put, key, pub_ctype_of(&k))) < 0) {
        json_decref(nm);
        rc = pub_fail(c, rc, "cannot store '%s': %s", key, pub_errs(rc));
        goto out;
    }
    pub_pause_at(s->kind);
    rc = pub_put_json(c, mkey, nm);
    json_decref(nm);
    if (rc < 0)
        goto out;
    snprintf(step, sizeof step, "%s-manifest", s->kind);
    pub_pause_at(step);
    /* a bundle of another name in the folder (the format changed): retired */
    if ((rc = pub_retire_folder(c, folder, key, true)) < 0)
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
int pub_bundle_schema(struct ctx *c, const char *kind, const char *month,
                      const struct dayinfo *days, size_t ndays, enum pub_fmt *fmt, char fp[65],
                      char ext[PUB_EXT_MAX], char label[256])
{
    label[0] = '\0';
    const char *names[] = {"manifest.json", PUB_PENDING};
    for (size_t i = 0; i < 2; i++) {
        char k[PUBLISH_KEY_MAX];
        json_t *m = NULL;
        snprintf(k, sizeof k, "%s%s/%s/%s", c->prefix, kind, month, names[i]);
        if (pub_get_json(c, k, &m) < 0)
            continue;
        const char *f = pub_jstr(m, "format", NULL), *p = pub_jstr(m, "schema", "fingerprint"),
                   *key = pub_jstr(m, "key", NULL);
        if (p && key && fmt_of_name(f ? f : "parquet", fmt) == 0) {
            snprintf(fp, 65, "%s", p);
            struct pub_kind pk;
            pub_kind_of(key, &pk);
            snprintf(ext, PUB_EXT_MAX, "%s", pk.ext);
            snprintf(label, 256, "%s",
                     pub_jstr(m, "schema", "label") ? pub_jstr(m, "schema", "label") : "");
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
int pub_sync_month(struct ctx *c, const char *kind, const char *month, struct bundle_res *res)
{
    struct dayinfo *days = NULL;
    size_t n = 0;
    int rc = pub_month_days(c, month, &days, &n);
    enum pub_fmt fmt;
    char fp[65], ext[PUB_EXT_MAX], label[256];
    memset(res, 0, sizeof *res);
    if (rc == 0 && pub_bundle_schema(c, kind, month, days, n, &fmt, fp, ext, label) == 0) {
        struct bundle_spec s = {kind, month, fmt, fp, ext, false};
        rc = pub_sync_bundle(c, &s, days, n, res);
    }
    free(days);
    return rc;
}

/* The MTDs of months before the newest live one: brought in line, frozen as monthly/
 * (a server-side copy) unless the monthly bundle already holds them, then retired. */
int pub_close_months(struct ctx *c)
{
    struct folders fs;
    int rc = pub_list_folders(c, "mtd", NULL, true, &fs);
    const char *newest = NULL;
    for (size_t i = 0; rc == 0 && i < fs.n; i++)
        if (fs.v[i].has_manifest && strlen(fs.v[i].period) == 7)
            newest = fs.v[i].period;
    for (size_t i = 0; rc == 0 && newest && i < fs.n; i++) {
        const char *x = fs.v[i].period;
        if (strlen(x) != 7 || strcmp(x, newest) >= 0)
            continue;
        struct bundle_res br;
        if ((rc = pub_sync_month(c, "mtd", x, &br)) < 0)
            break;
        char mk[PUBLISH_KEY_MAX], ok[PUBLISH_KEY_MAX], folder[PUBLISH_KEY_MAX];
        json_t *mm = NULL, *mo = NULL;
        snprintf(mk, sizeof mk, "%smtd/%s/manifest.json", c->prefix, x);
        snprintf(ok, sizeof ok, "%smonthly/%s/manifest.json", c->prefix, x);
        pub_get_json(c, mk, &mm);
        pub_get_json(c, ok, &mo);
        if (br.exists && mm &&
            !(mo && pub_streq(pub_jstr(mo, "sha256", NULL), pub_jstr(mm, "sha256", NULL)) &&
              pub_manifest_matches(c, mo))) {
            /* freeze: monthly/<x>/<grant>_<x><ext> */
            const char *src = pub_jstr(mm, "key", NULL), *mt = strstr(src, "_mtd");
            char dst[PUBLISH_KEY_MAX];
            bundle_key(c, "monthly", x, mt ? mt + 4 : "", dst);
            struct store_obj_info info = {0};
            rc = store_obj_copy(c->o->store, str_c(c->o->bucket), str_c(src), str_c(c->o->bucket),
                                str_c(dst), NULL, &info);
            store_obj_info_release(&info);
            if (rc < 0) {
                rc = pub_fail(c, rc, "cannot freeze '%s' as '%s': %s", src, dst, pub_errs(rc));
            } else {
                c->writes++;
                pub_pause_at("monthly");
                json_t *m = json_deep_copy(mm);
                char built[TG_TIME_BUF];
                time_fmt_iso8601(c->o->now, built);
                json_object_set_new(m, "kind", json_string("monthly"));
                json_object_set_new(m, "key", json_string(dst));
                json_object_set_new(m, "built_at", json_string(built));
                rc = pub_put_json(c, ok, m);
                json_decref(m);
                if (rc == 0) {
                    pub_pause_at("monthly-manifest");
                    snprintf(folder, sizeof folder, "%smonthly/%s/", c->prefix, x);
                    rc = pub_retire_folder(c, folder, dst, true);
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
        if ((rc = pub_retire_folder(c, folder, NULL, false)) < 0)
            break;
        pub_pause_at("retire");
    }
    free(fs.v);
    return rc;
}
