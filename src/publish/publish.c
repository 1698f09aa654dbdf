/* publish.c -- publish_run(): validate a file (Parquet, CSV, JSON-lines, optionally gzip;
 * other files get a daily object only), write the daily object and manifest, bring the
 * day's month bundle in line (the MTD, or the monthly bundle of an ended month: row groups
 * appended/spliced for Parquet, a one-pass concatenation for text), freeze and retire the
 * MTDs of ended months, and write the grant's index last. Every step first checks what is
 * stored, so a publish killed between two steps is repaired by the next one and a publish
 * that finds everything in line writes nothing. See publish.h for the layout.
 * This file holds the run itself (publish_run, publish_index), a file's analysis, the
 * --columns projection, the private temp directory and the index; the month bundles are
 * in publish_bundle.c, the store and manifest helpers in publish_store.c. */
#include "publish/publish.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gate/gate.h"
#include "parquet/parquet.h"
#include "publish/publish_int.h"
#include "store/store.h"
#include "util/util.h"

/* ---- what a file is: format, schema fingerprint, rows ---- */

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
                     ? pub_fail(c, -ERR_INVALID, "'%s' is not valid gzip (corrupt or truncated)",
                                what)
                     : pub_fail(c, (int)n, "cannot read '%s': %s", what, pub_errs((int)n));
            break;
        }
        if (n == 0)
            break;
        if ((rc = pub_text_scan_feed(&s, buf, (size_t)n, serr)) < 0) {
            rc = pub_fail(c, rc, "'%s': %s", what, serr);
            break;
        }
    }
    if (rc == 0 && (rc = pub_text_scan_end(&s, a->fp, serr)) < 0)
        rc = pub_fail(c, rc, "'%s': %s", what, serr);
    if (rc == 0) {
        a->rows = s.rows;
        a->has_rows = true;
    }
    pub_text_scan_release(&s);
    pub_rd_release(&rd);
    return rc;
}

/* path: a readable file (or /proc/self/fd/N); what: its name for messages. */
int pub_analyze(struct ctx *c, const char *path, const char *what, const struct pub_kind *k,
                struct analysis *out)
{
    struct analysis a = {.k = *k};
    int rc = 0;
    if (k->fmt == PUB_PARQUET) {
        struct pq_file *f = NULL;
        char perr[PQ_ERRMSG_MAX];
        if ((rc = pq_open(path, &f, perr)) < 0)
            return pub_fail(c, rc, "'%s': %s", what, perr);
        pq_fingerprint_hex(f, a.fp);
        a.rows = pq_num_rows(f);
        a.rgs = pq_num_row_groups(f);
        a.has_rows = true;
        pq_close(f);
    } else if (k->fmt == PUB_CSV || k->fmt == PUB_JSONL) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return pub_fail(c, -errno, "cannot read '%s': %s", what, strerror(errno));
        rc = analyze_text(c, fd, what, &a);
        close(fd);
    }
    if (rc == 0)
        *out = a;
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
    int rc = pub_list_folders(c, "daily", NULL, true, &d);
    memset(&m, 0, sizeof m);
    memset(&t, 0, sizeof t);
    if (rc == 0)
        rc = pub_list_folders(c, "monthly", NULL, true, &m);
    if (rc == 0)
        rc = pub_list_folders(c, "mtd", NULL, true, &t);
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
            rc = pub_fail(c, -ERR_NOMEM, "out of memory");
    }
    if (rc == 0 && !force && pub_get_json(c, key, &old) == 0 &&
        json_equal(json_object_get(old, "daily"), json_object_get(j, "daily")) &&
        json_equal(json_object_get(old, "mtd"), json_object_get(j, "mtd")) &&
        json_equal(json_object_get(old, "monthly"), json_object_get(j, "monthly")) &&
        pub_streq(pub_jstr(old, "grant", NULL), c->o->grant->name)) {
        /* in line: nothing to write */
    } else if (rc == 0) {
        rc = pub_put_json(c, key, j);
        if (rc == 0)
            pub_pause_at("index");
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
        return pub_fail(c, rc, "'%s': %s", file, perr);
    const char *names[256];
    size_t n = 0;
    char *list = strdup(c->o->columns), *save = NULL;
    for (char *tok = list ? strtok_r(list, ",", &save) : NULL; tok && n < 256;
         tok = strtok_r(NULL, ",", &save))
        if (*tok)
            names[n++] = tok;
    if (!n) {
        rc = pub_fail(c, -ERR_INVALID, "--columns names no column");
    } else {
        snprintf(out, cap, "%s/projected.parquet", c->tmpdir);
        if ((rc = pq_project(out, in, names, n, NULL, perr)) < 0)
            rc = pub_fail(c, rc, "--columns: %s; nothing was published", perr);
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
        return pub_fail(c, -ERR_INVALID, "'%s' is not a date (YYYY-MM-DD)", o->date ? o->date : "");
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
            return pub_fail(c, -ERR_INVALID,
                            "--columns works on Parquet files only; '%s' is not one", o->file);
        int rc = project(c, o->file, projected, sizeof projected);
        if (rc < 0)
            return rc;
        file = projected;
    }
    struct analysis a;
    int rc = pub_analyze(c, file, o->file, &k, &a);
    if (rc < 0)
        return rc;
    snprintf(r->fingerprint, sizeof r->fingerprint, "%s", a.fp);
    snprintf(r->format, sizeof r->format, "%s", pub_fmt_name(k.fmt));
    r->rows = a.rows;
    r->row_groups = a.rgs;

    /* the current MTD month (newest live with a manifest), and the schema the day must have */
    struct folders fs;
    if ((rc = pub_list_folders(c, "mtd", NULL, true, &fs)) < 0)
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
    if (cmp < 0 && pub_bundle_schema(c, "monthly", month, NULL, 0, &pfmt, pfp, pext, plabel) == 0) {
        have_prev = late_bundle = true;
        snprintf(where, sizeof where, "%smonthly/%s/", c->prefix, month);
    } else if (newest[0] &&
               pub_bundle_schema(c, "mtd", newest, NULL, 0, &pfmt, pfp, pext, plabel) == 0) {
        have_prev = true;
        snprintf(where, sizeof where, "%smtd/%s/", c->prefix, newest);
    }
    bool schema_changed =
        k.fmt != PUB_OTHER && have_prev && (pfmt != k.fmt || strcmp(pfp, a.fp) != 0);
    if (schema_changed && !o->allow_schema_change)
        return pub_fail(c, -ERR_INVALID,
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
    rc = file == o->file ? pub_stage_path(c, file, &put) : store_put_adopt(o->store, file, &put);
    if (rc < 0)
        return pub_fail(c, rc, "cannot read '%s': %s", o->file, pub_errs(rc));
    uint8_t d256[32], md5[16];
    if ((rc = store_put_digest(put, d256, md5)) < 0) {
        store_put_abort(put);
        return pub_fail(c, rc, "cannot stage '%s': %s", o->file, pub_errs(rc));
    }
    hex_encode(d256, 32, sha);
    memcpy(r->sha256, sha, 65);
    r->size = store_put_size(put);

    /* 1. the daily object (unless the same bytes are there, live) and its manifest */
    char have[65];
    bool retired = true;
    if (pub_head_sha(c, dkey, have, &retired) == 0 && !retired && strcmp(have, sha) == 0) {
        store_put_abort(put);
    } else {
        if ((rc = pub_commit(c, put, dkey, pub_ctype_of(&k))) < 0)
            return pub_fail(c, rc, "cannot store '%s': %s", dkey, pub_errs(rc));
        pub_pause_at("daily");
    }
    if ((rc = pub_retire_folder(c, dfolder, dkey, true)) < 0) /* the day in another format */
        return rc;
    json_t *dm = NULL;
    pub_get_json(c, dmkey, &dm);
    bool dm_ok = dm && pub_streq(pub_jstr(dm, "sha256", NULL), sha) &&
                 pub_streq(pub_jstr(dm, "key", NULL), dkey) &&
                 pub_streq(pub_jstr(dm, "schema", "fingerprint"), a.fp) &&
                 pub_streq(pub_jstr(dm, "format", NULL), pub_fmt_name(k.fmt)) &&
                 pub_streq(pub_jstr(dm, "schema", "label"), c->label);
    json_decref(dm);
    bool dm_retired = false;
    if (dm_ok && (pub_head_sha(c, dmkey, have, &dm_retired) < 0 || dm_retired))
        dm_ok = false; /* the day is live again: so is its manifest */
    if (!dm_ok) {
        dm = pub_manifest_new(c, "daily", k.fmt, o->date, o->date, a.fp, c->label, a.has_rows,
                              a.rows, a.rgs, r->size, sha, dkey);
        rc = pub_put_json(c, dmkey, dm);
        json_decref(dm);
        if (rc < 0)
            return rc;
        pub_pause_at("daily-manifest");
    }

    /* 2. the bundles */
    struct bundle_res br = {0};
    if (k.fmt == PUB_OTHER) {
        pub_note(c, "%s files get a daily object and manifest only (no month-to-date bundle)",
                 k.ext[0] ? k.ext : "extension-less");
    }
    struct dayinfo *days = NULL;
    size_t ndays = 0;
    if ((rc = pub_month_days(c, month, &days, &ndays)) < 0)
        return rc;
    if (cmp >= 0 && k.fmt != PUB_OTHER) {
        struct bundle_spec s = {"mtd", month, k.fmt, a.fp, k.ext, true};
        if (cmp == 0 && schema_changed) {
            s.fmt = pfmt;
            s.fp = pfp;
            s.ext = pext;
            s.focus = false;
            pub_note(c,
                     "the schema changed within %s: published as a daily file only; the MTD keeps "
                     "the previous schema until the month ends",
                     month);
        }
        if ((rc = pub_sync_bundle(c, &s, days, ndays, &br)) == 0 && s.focus && br.exists) {
            snprintf(r->mtd_key, sizeof r->mtd_key, "%s", br.key);
            r->mtd_rows = br.rows;
            r->mtd_days = br.ndays;
            r->spliced = br.spliced;
        }
    } else if (cmp >= 0 && newest[0] && cmp == 0) {
        rc = pub_sync_month(c, "mtd", month, &br); /* another format's day: the MTD stays */
    }
    if (rc == 0)
        rc = pub_close_months(c);
    if (rc == 0 && cmp < 0 && k.fmt != PUB_OTHER) {
        if (!late_bundle &&
            pub_bundle_schema(c, "monthly", month, NULL, 0, &pfmt, pfp, pext, plabel) == 0)
            late_bundle = true; /* close_months just froze it */
        if (!late_bundle) {
            pub_note(c, "%s has no monthly bundle (its MTD is %s): published as a daily file only",
                     month, newest);
        } else {
            bool fits = pfmt == k.fmt && strcmp(pfp, a.fp) == 0;
            struct bundle_spec s = {"monthly", month, pfmt, pfp, pext, fits};
            if (!fits)
                pub_note(c,
                         "the schema of %s's monthly bundle differs: published as a daily file "
                         "only",
                         month);
            if ((rc = pub_sync_bundle(c, &s, days, ndays, &br)) == 0 && fits && br.exists) {
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
        return pub_fail(c, -ERR_INVALID, "the grant has no prefix");
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
        return pub_fail(&c, -errno, "cannot create a temporary directory in %s: %s",
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
