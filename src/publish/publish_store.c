/* publish_store.c -- the helpers every step of a publish uses: the error sentence and the
 * operator's note, the test-only pause, store access (stage, commit, read and write a JSON
 * object, head, retire), listing a kind's folders, retiring a folder, and making / checking a
 * manifest. All take the publish's struct ctx (publish_int.h); the caller owns it. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
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

#define MANIFEST_MAX (4u << 20)

int pub_fail(struct ctx *c, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, PUBLISH_ERRMSG_MAX, fmt, ap);
    va_end(ap);
    return rc < 0 ? rc : -ERR_INVALID;
}

const char *pub_errs(int rc)
{
    return (rc <= -2000 && rc > -2100) ? pq_strerror(rc) : err_message(rc);
}

/* TEST ONLY (publish.h): stop at a named step so a crash test can kill -9 us there. */
void pub_pause_at(const char *step)
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

void pub_note(struct ctx *c, const char *fmt, ...)
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

const char *pub_ctype_of(const struct pub_kind *k)
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

int pub_stage_path(struct ctx *c, const char *path, struct store_put **out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = stage_fd(c, fd, out);
    close(fd);
    return rc;
}

/* Commits p (frees it) as key. */
int pub_commit(struct ctx *c, struct store_put *p, const char *key, const char *ctype)
{
    struct store_attrs a = {ctype, NULL};
    struct store_obj_info info = {0};
    int rc = store_put_commit(p, str_c(c->o->bucket), str_c(key), &a, &info);
    store_obj_info_release(&info);
    if (rc == 0)
        c->writes++;
    return rc;
}

int pub_put_json(struct ctx *c, const char *key, json_t *j)
{
    char *s = j ? json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    if (!s)
        return pub_fail(c, -ERR_NOMEM, "cannot write '%s': out of memory", key);
    struct store_put *p = NULL;
    int rc = store_put_begin(c->o->store, &p);
    if (rc == 0 && (rc = store_put_write(p, s, strlen(s))) == 0)
        rc = store_put_write(p, "\n", 1);
    if (rc == 0)
        rc = pub_commit(c, p, key, "application/json");
    else
        store_put_abort(p);
    free(s);
    return rc < 0 ? pub_fail(c, rc, "cannot write '%s': %s", key, pub_errs(rc)) : 0;
}

/* -ERR_NO_SUCH_KEY when absent; a body that is not a JSON object counts as absent. */
int pub_get_json(struct ctx *c, const char *key, json_t **out)
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
int pub_head_sha(struct ctx *c, const char *key, char sha[65], bool *retired)
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
    if (pub_head_sha(c, key, sha, &retired) < 0 || retired)
        return 0;
    int rc = store_obj_retire(c->o->store, str_c(c->o->bucket), str_c(key), c->o->now * 1000000);
    if (rc == -ERR_NO_SUCH_KEY)
        return 0;
    if (rc < 0)
        return pub_fail(c, rc, "cannot retire '%s': %s", key, pub_errs(rc));
    c->writes++;
    return 0;
}

const char *pub_jstr(json_t *o, const char *k1, const char *k2)
{
    json_t *v = json_object_get(o, k1);
    if (k2)
        v = json_object_get(v, k2);
    return json_string_value(v);
}

bool pub_streq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

/* A manifest whose "sha256" is the stored sha256 of its "key". */
bool pub_manifest_matches(struct ctx *c, json_t *m)
{
    const char *key = pub_jstr(m, "key", NULL), *sha = pub_jstr(m, "sha256", NULL);
    char got[65];
    return key && sha && pub_head_sha(c, key, got, NULL) == 0 && strcmp(got, sha) == 0;
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
    return rc < 0 ? pub_fail(c, rc, "cannot list '%s': %s", prefix, pub_errs(rc)) : 0;
}

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
    else if (strcmp(base, PUB_PENDING) == 0)
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

int pub_list_folders(struct ctx *c, const char *kind, const char *period_prefix, bool skip_retired,
                     struct folders *fs)
{
    char dir[PUBLISH_KEY_MAX];
    int n = snprintf(dir, sizeof dir, "%s%s/", c->prefix, kind);
    memset(fs, 0, sizeof *fs);
    fs->dir_len = (size_t)n;
    snprintf(dir + n, sizeof dir - (size_t)n, "%s", period_prefix ? period_prefix : "");
    int rc = list_all(c, dir, skip_retired, on_folder_entry, fs);
    if (rc == 0 && fs->err)
        rc = pub_fail(c, fs->err, "cannot list '%s': %s", dir, pub_errs(fs->err));
    if (rc < 0) { /* the caller owns fs->v only on success */
        free(fs->v);
        fs->v = NULL;
        fs->n = fs->cap = 0;
    }
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
    if (r->keep_manifests && (strcmp(base, "manifest.json") == 0 || strcmp(base, PUB_PENDING) == 0))
        return 0;
    return strv_add(&r->keys, e->key) < 0 ? 1 : 0;
}
int pub_retire_folder(struct ctx *c, const char *folder, const char *keep, bool keep_manifests)
{
    struct retire_ctx r = {keep, keep_manifests, {0}};
    int rc = list_all(c, folder, true, on_retire_entry, &r);
    for (size_t i = 0; i < r.keys.n && rc == 0; i++)
        rc = retire(c, r.keys.v[i]);
    strv_release(&r.keys);
    return rc;
}

/* ---- manifests ---- */

json_t *pub_manifest_new(struct ctx *c, const char *kind, enum pub_fmt fmt, const char *start,
                         const char *end, const char *fp, const char *label, bool has_rows,
                         uint64_t rows, size_t rgs, uint64_t size, const char *sha, const char *key)
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
