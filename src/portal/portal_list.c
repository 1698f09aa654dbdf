/* portal_list.c -- what a grant's page lists, read from the data bucket until the
 * publisher's _index/ exists. For each of the grant's prefixes it lists
 *   <prefix>daily/YYYY-MM-DD/<file>, <prefix>mtd/YYYY-MM/<file>, <prefix>monthly/YYYY-MM/<file>
 * (one listing per kind; keys sort by date, so the newest come last). A folder's
 * manifest.json, when present, gives rows and sha256 (else the store's SHA-256 and
 * rows unknown). Parsed manifests are cached by key + ETag, so a page view reads no
 * manifest body unless one changed. Keys off the layout (nested folders, dot files,
 * bad dates) are ignored. Friendly names: tier2_2026-02-13.parquet,
 * tier2_2026-02_mtd.parquet, tier2_2026-01.parquet. */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "portal/portal_int.h"

static const char *const KIND_DIR[] = {"daily/", "mtd/", "monthly/"};

struct cand {
    struct portal_file f;
    size_t folder_len; /* key[0..folder_len) = "<prefix><kind>/<period>/" */
    char *base;        /* file name within the folder (points into f.key) */
};
struct manifest_ref {
    char *key;
    char etag[STORE_ETAG_MAX];
};
struct scan {
    enum portal_kind kind;
    size_t dir_len; /* "<prefix><kind>/" */
    struct cand *c;
    size_t n, cap;
    struct manifest_ref *m;
    size_t nm, capm;
    size_t seen;
    int err;
};

static bool digits(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return false;
    return true;
}

/* "2026-02-13" (daily) or "2026-02" (month) */
static bool period_ok(struct str s, enum portal_kind kind)
{
    if (kind == KIND_DAILY) {
        int64_t t;
        return s.len == 10 && time_parse_date(s, &t) == 0;
    }
    if (s.len != 7 || !digits(s.ptr, 4) || s.ptr[4] != '-' || !digits(s.ptr + 5, 2))
        return false;
    int m = (s.ptr[5] - '0') * 10 + (s.ptr[6] - '0');
    return m >= 1 && m <= 12;
}

static void cand_release(struct cand *c)
{
    free(c->f.key);
    free(c->f.filename);
}

static int on_entry(void *ctx, const struct store_list_entry *e)
{
    struct scan *s = ctx;
    if (!e->key || !e->info)
        return 0;
    if (++s->seen > PORTAL_SCAN_MAX)
        return 1;
    struct str rest = str_c(e->key + s->dir_len), period, base;
    if (!str_split(rest, '/', &period, &base) || !base.len || memchr(base.ptr, '/', base.len) ||
        !period_ok(period, s->kind))
        return 0;
    if (str_eq_c(base, "manifest.json")) {
        if (s->nm == s->capm) {
            size_t cap = s->capm ? s->capm * 2 : 16;
            struct manifest_ref *m = realloc(s->m, cap * sizeof *m);
            if (!m)
                return s->err = -ERR_NOMEM, 1;
            s->m = m;
            s->capm = cap;
        }
        struct manifest_ref *m = &s->m[s->nm];
        if (!(m->key = strdup(e->key)))
            return s->err = -ERR_NOMEM, 1;
        snprintf(m->etag, sizeof m->etag, "%s", e->info->etag);
        s->nm++;
        return 0;
    }
    if (base.ptr[0] == '.' || base.ptr[0] == '_')
        return 0;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 32;
        struct cand *c = realloc(s->c, cap * sizeof *c);
        if (!c)
            return s->err = -ERR_NOMEM, 1;
        s->c = c;
        s->cap = cap;
    }
    struct cand *c = &s->c[s->n];
    memset(c, 0, sizeof *c);
    c->f.kind = s->kind;
    memcpy(c->f.period, period.ptr, period.len);
    if (!(c->f.key = strdup(e->key)))
        return s->err = -ERR_NOMEM, 1;
    c->folder_len = (size_t)(base.ptr - e->key);
    c->base = c->f.key + c->folder_len;
    c->f.size = e->info->size;
    c->f.mtime = e->info->mtime_us / 1000000;
    c->f.rows = -1;
    static const uint8_t none[32];
    if (memcmp(e->info->sha256, none, 32) == 0)
        c->f.sha256[0] = '\0'; /* not known (a multipart object on a remote): shown empty */
    else
        hex_encode(e->info->sha256, 32, c->f.sha256);
    s->n++;
    return 0;
}

static int scan_dir(struct portal *p, const char *prefix, struct scan *s)
{
    struct buf dir = BUF_INIT;
    int rc = buf_printf(&dir, "%s%s", prefix, KIND_DIR[s->kind]);
    s->dir_len = dir.len;
    struct store_list_res res = {0};
    char *after = NULL;
    while (rc == 0) {
        struct store_list_req req = {str_c(p->bucket), buf_str(&dir), STR_NULL, str_c(after),
                                     STORE_LIST_MAX,   true,          true};
        memset(&res, 0, sizeof res);
        rc = store_obj_list(p->cfg.store, &req, on_entry, s, &res);
        if (rc == -ERR_NO_SUCH_BUCKET) {
            rc = 0; /* no data bucket yet: nothing published */
            break;
        }
        if (rc < 0 || s->err || !res.truncated || s->seen > PORTAL_SCAN_MAX) {
            store_list_res_release(&res);
            break;
        }
        free(after);
        after = res.next_after;
        res.next_after = NULL;
        store_list_res_release(&res);
    }
    free(after);
    buf_release(&dir);
    return rc < 0 ? rc : s->err;
}

/* newest period first; within a period, by file name */
static int cand_cmp(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    int c = strcmp(y->f.period, x->f.period);
    return c ? c : strcmp(x->base, y->base);
}

/* ".parquet", ".csv.gz", or "" */
static void ext_of(const char *base, char out[24])
{
    static const char *const COMPRESSED[] = {".gz", ".zst", ".bz2", ".xz", ".br", ".lz4", NULL};
    const char *dot = strrchr(base, '.');
    out[0] = '\0';
    if (!dot || dot == base)
        return;
    for (size_t i = 0; COMPRESSED[i]; i++) {
        if (strcmp(dot, COMPRESSED[i]) == 0) {
            const char *p = dot;
            while (p > base && p[-1] != '.')
                p--;
            if (p > base + 1)
                dot = p - 1;
            break;
        }
    }
    size_t o = 0;
    for (const char *p = dot; *p && o + 1 < 24; p++) {
        char ch = *p;
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '.';
        if (!ok) {
            out[0] = '\0'; /* an odd extension: none rather than a mangled one */
            return;
        }
        out[o++] = ch;
    }
    out[o] = '\0';
}

static int name_files(const struct gate_grant *gr, struct cand *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char ext[24], stem[128] = "";
        ext_of(c[i].base, ext);
        /* Two files of one extension in one folder: keep them apart by their stem. */
        for (size_t j = 0; j < n; j++) {
            char e2[24];
            if (j == i || strcmp(c[j].f.period, c[i].f.period) != 0)
                continue;
            ext_of(c[j].base, e2);
            if (strcmp(e2, ext) == 0) {
                size_t sl = strlen(c[i].base) - strlen(ext);
                snprintf(stem, sizeof stem, "_%.*s", (int)(sl < 100 ? sl : 100), c[i].base);
                break;
            }
        }
        struct buf b = BUF_INIT;
        int rc = buf_printf(&b, "%s_%s%s%s%s", gr->name, c[i].f.period,
                            c[i].f.kind == KIND_MTD ? "_mtd" : "", stem, ext);
        if (rc < 0) {
            buf_release(&b);
            return rc;
        }
        free(c[i].f.filename);
        c[i].f.filename = buf_take(&b);
    }
    return 0;
}

/* ---- manifests ---- */

static uint32_t fnv1a(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static bool hex64(const char *s)
{
    if (!s || strlen(s) != 64)
        return false;
    for (size_t i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

/* Reads and parses one manifest.json into ent (key and etag are the caller's). */
static int manifest_read(struct portal *p, const struct manifest_ref *m,
                         struct portal_mcache_ent *ent)
{
    struct store_obj_info info = {0};
    struct buf body = BUF_INIT;
    int fd = -1, rc;
    json_t *j = NULL;
    if ((rc = store_obj_open(p->cfg.store, str_c(p->bucket), str_c(m->key), &info, &fd)) < 0)
        goto out;
    if (info.size > PORTAL_MANIFEST_MAX) {
        rc = -ERR_TOO_LONG;
        goto out;
    }
    if ((rc = buf_reserve(&body, (size_t)info.size + 1)) < 0)
        goto out;
    while (body.len < info.size) {
        ssize_t r = read(fd, body.ptr + body.len, (size_t)info.size - body.len);
        if (r <= 0) {
            rc = -ERR_IO;
            goto out;
        }
        body.len += (size_t)r;
    }
    ent->rows = -1;
    ent->sha256[0] = '\0';
    ent->file = NULL;
    j = json_loadb(body.ptr, body.len, 0, NULL);
    if (json_is_object(j)) {
        json_t *rows = json_object_get(j, "rows");
        const char *sha = json_string_value(json_object_get(j, "sha256"));
        const char *key = json_string_value(json_object_get(j, "key"));
        if (json_is_integer(rows) && json_integer_value(rows) >= 0)
            ent->rows = json_integer_value(rows);
        if (hex64(sha))
            memcpy(ent->sha256, sha, 65);
        if (key) {
            const char *slash = strrchr(key, '/');
            ent->file = strdup(slash ? slash + 1 : key);
        }
    }
    /* A manifest that is not JSON is as good as none: rows unknown, the store's hash. */
out:
    json_decref(j);
    if (fd >= 0)
        close(fd);
    store_obj_info_release(&info);
    buf_release(&body);
    return rc;
}

/* Applies the folder's manifest (if any) to c. */
static void manifest_apply(struct portal *p, const struct scan *s, struct cand *c)
{
    const struct manifest_ref *m = NULL;
    for (size_t i = 0; i < s->nm && !m; i++)
        if (strncmp(s->m[i].key, c->f.key, c->folder_len) == 0 &&
            strcmp(s->m[i].key + c->folder_len, "manifest.json") == 0)
            m = &s->m[i];
    if (!m)
        return;
    struct portal_mcache_ent e = {0};
    uint32_t slot = fnv1a(m->key) % PORTAL_MCACHE_SLOTS;
    bool hit = false;
    pthread_mutex_lock(&p->mu);
    struct portal_mcache_ent *ce = &p->mcache[slot];
    if (ce->key && strcmp(ce->key, m->key) == 0 && strcmp(ce->etag, m->etag) == 0) {
        e.rows = ce->rows;
        memcpy(e.sha256, ce->sha256, sizeof e.sha256);
        e.file = ce->file ? strdup(ce->file) : NULL;
        hit = true;
    }
    pthread_mutex_unlock(&p->mu);
    if (!hit) {
        if (manifest_read(p, m, &e) < 0)
            return;
        char *k = strdup(m->key), *f = e.file ? strdup(e.file) : NULL;
        pthread_mutex_lock(&p->mu);
        free(ce->key);
        free(ce->file);
        ce->key = k;
        ce->file = f;
        snprintf(ce->etag, sizeof ce->etag, "%s", m->etag);
        ce->rows = e.rows;
        memcpy(ce->sha256, e.sha256, sizeof ce->sha256);
        pthread_mutex_unlock(&p->mu);
    }
    /* A manifest naming another file of the folder says nothing about this one. */
    if (!e.file || strcmp(e.file, c->base) == 0) {
        c->f.rows = e.rows;
        if (e.sha256[0])
            memcpy(c->f.sha256, e.sha256, sizeof c->f.sha256);
    }
    free(e.file);
}

/* ---- the listing ---- */

static void scan_release(struct scan *s)
{
    for (size_t i = 0; i < s->n; i++)
        cand_release(&s->c[i]);
    free(s->c);
    for (size_t i = 0; i < s->nm; i++)
        free(s->m[i].key);
    free(s->m);
    memset(s, 0, sizeof *s);
}

/* Moves the newest `periods` periods' candidates out of s into an array. */
static int take(struct portal *p, const struct gate_grant *gr, struct scan *s, size_t periods,
                size_t max_files, struct portal_file **out, size_t *n_out)
{
    if (s->n) /* qsort(NULL, 0, ...) is undefined */
        qsort(s->c, s->n, sizeof *s->c, cand_cmp);
    size_t n = 0, np = 0;
    while (n < s->n && n < max_files) {
        if (n == 0 || strcmp(s->c[n].f.period, s->c[n - 1].f.period) != 0)
            if (++np > periods)
                break;
        n++;
    }
    int rc = name_files(gr, s->c, n);
    if (rc < 0)
        return rc;
    struct portal_file *f = n ? calloc(n, sizeof *f) : NULL;
    if (n && !f)
        return -ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        manifest_apply(p, s, &s->c[i]);
        f[i] = s->c[i].f;
        s->c[i].f.key = s->c[i].f.filename = NULL;
    }
    *out = f;
    *n_out = n;
    return 0;
}

void portal_listing_release(struct portal_listing *l)
{
    struct portal_file *arrays[] = {l->daily, l->mtd, l->monthly};
    size_t counts[] = {l->n_daily, l->mtd ? 1 : 0, l->n_monthly};
    for (size_t a = 0; a < 3; a++) {
        for (size_t i = 0; i < counts[a]; i++) {
            free(arrays[a][i].key);
            free(arrays[a][i].filename);
        }
        free(arrays[a]);
    }
    memset(l, 0, sizeof *l);
}

int portal_list(struct portal *p, const struct gate_grant *gr, struct portal_listing *out)
{
    struct portal_listing l = {0};
    struct scan s[3] = {{.kind = KIND_DAILY}, {.kind = KIND_MTD}, {.kind = KIND_MONTHLY}};
    size_t n_mtd = 0;
    int rc = 0;
    for (size_t k = 0; k < 3 && rc == 0; k++)
        for (size_t i = 0; i < gr->n_prefixes && rc == 0; i++)
            rc = scan_dir(p, gr->prefixes[i], &s[k]);
    if (rc == 0)
        rc = take(p, gr, &s[KIND_DAILY], p->cfg.keep_daily, 4 * p->cfg.keep_daily, &l.daily,
                  &l.n_daily);
    if (rc == 0)
        rc = take(p, gr, &s[KIND_MTD], 1, 1, &l.mtd, &n_mtd);
    if (rc == 0)
        rc = take(p, gr, &s[KIND_MONTHLY], p->cfg.keep_monthly, 4 * p->cfg.keep_monthly, &l.monthly,
                  &l.n_monthly);
    for (size_t k = 0; k < 3; k++)
        scan_release(&s[k]);
    if (rc < 0) {
        portal_listing_release(&l);
        return rc;
    }
    for (size_t i = 0; i < l.n_daily; i++)
        if (l.daily[i].mtime > l.updated)
            l.updated = l.daily[i].mtime;
    if (l.mtd && l.mtd->mtime > l.updated)
        l.updated = l.mtd->mtime;
    for (size_t i = 0; i < l.n_monthly; i++)
        if (l.monthly[i].mtime > l.updated)
            l.updated = l.monthly[i].mtime;
    *out = l;
    return 0;
}
