/* publish_inbox.c -- publish_inbox_scan(): every object under inbox/<grant>/<YYYY-MM-DD>.<ext>
 * of the data bucket is downloaded into a private temp directory, published with
 * publish_run() and removed from the inbox. A file that cannot be published (unknown grant,
 * a key off the pattern, a corrupt file, a schema change) is copied to
 * inbox-rejected/<grant>/<name> with <name>.error.txt (the error sentence) beside it, then
 * removed from the inbox. The store lists committed objects only, so a file still being
 * uploaded is never seen half-written. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gate/gate.h"
#include "publish/publish.h"
#include "store/store.h"
#include "util/util.h"

#define INBOX "inbox/"
#define REJECTED "inbox-rejected/"
#define INBOX_SCAN_MAX 10000 /* keys per scan; the rest wait for the next one */

static int on_key(void *ctx, const struct store_list_entry *e)
{
    struct strv *k = ctx;
    if (!e->key || k->n >= INBOX_SCAN_MAX)
        return 0;
    return strv_add(k, e->key) < 0 ? 1 : 0;
}

static int download(struct store *st, const char *bucket, const char *key, const char *path)
{
    struct store_obj_info info = {0};
    int in = -1, rc = store_obj_open(st, str_c(bucket), str_c(key), &info, &in);
    store_obj_info_release(&info);
    if (rc < 0)
        return rc;
    int out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out < 0) {
        rc = -errno;
        close(in);
        return rc;
    }
    char buf[1 << 16];
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = n < 0 ? -errno : 0;
            break;
        }
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                rc = -errno;
                break;
            }
            off += w;
        }
        if (rc < 0)
            break;
    }
    close(in);
    close(out);
    return rc;
}

static int put_text(struct store *st, const char *bucket, const char *key, const char *text)
{
    struct store_put *p = NULL;
    int rc = store_put_begin(st, &p);
    if (rc == 0 && (rc = store_put_write(p, text, strlen(text))) == 0)
        rc = store_put_write(p, "\n", 1);
    if (rc < 0) {
        store_put_abort(p);
        return rc;
    }
    struct store_attrs a = {"text/plain; charset=utf-8", NULL};
    struct store_obj_info info = {0};
    rc = store_put_commit(p, str_c(bucket), str_c(key), &a, &info);
    store_obj_info_release(&info);
    return rc;
}

static void replace_path(char *msg, const char *path, const char *key)
{
    char out[PUBLISH_ERRMSG_MAX];
    size_t o = 0, pl = strlen(path), kl = strlen(key);
    for (const char *p = msg; *p && o + 1 < sizeof out;) {
        if (strncmp(p, path, pl) == 0 && o + kl + 1 < sizeof out) {
            memcpy(out + o, key, kl);
            o += kl;
            p += pl;
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
    memcpy(msg, out, o + 1);
}

/* "<grant>/<YYYY-MM-DD>.<ext>" -> grant, date, name; false when off the pattern. */
static bool parse_key(const char *rest, char grant[GATE_NAME_MAX], char date[11], const char **name)
{
    const char *slash = strchr(rest, '/');
    if (!slash || slash == rest || (size_t)(slash - rest) >= GATE_NAME_MAX)
        return false;
    const char *n = slash + 1;
    int64_t t;
    if (strchr(n, '/') || strlen(n) < 12 || n[10] != '.' || !n[11] ||
        time_parse_date(str_n(n, 10), &t) < 0)
        return false;
    memcpy(grant, rest, (size_t)(slash - rest));
    grant[slash - rest] = '\0';
    memcpy(date, n, 10);
    date[10] = '\0';
    *name = n;
    return true;
}

int publish_inbox_scan(const struct publish_opts *o, struct gate *g,
                       void (*fn)(void *ctx, const struct publish_inbox_item *it), void *ctx,
                       unsigned *handled, char *err)
{
    char dummy[PUBLISH_ERRMSG_MAX];
    if (!err)
        err = dummy;
    err[0] = '\0';
    struct strv ks = {0};
    char *after = NULL;
    int rc = 0;
    for (;;) {
        struct store_list_req req = {str_c(o->bucket), str_c(INBOX), STR_NULL, str_c(after),
                                     STORE_LIST_MAX,   false,        false};
        struct store_list_res res = {0};
        rc = store_obj_list(o->store, &req, on_key, &ks, &res);
        free(after);
        after = res.next_after;
        res.next_after = NULL;
        bool more = res.truncated;
        store_list_res_release(&res);
        if (rc == -ERR_NO_SUCH_BUCKET)
            rc = 0;
        if (rc < 0 || !more || ks.n >= INBOX_SCAN_MAX)
            break;
    }
    free(after);
    if (rc < 0) {
        snprintf(err, PUBLISH_ERRMSG_MAX, "cannot list the inbox: %s", err_message(rc));
        goto out;
    }
    const char *td = getenv("TMPDIR");
    char dir[4096];
    /* named like publish_run's, so a killed scan's copies are removed by the next publish */
    snprintf(dir, sizeof dir, "%s/tollgate-publish.%ld.inbox.XXXXXX", td && *td ? td : "/tmp",
             (long)getpid());
    if (ks.n && !mkdtemp(dir)) {
        rc = -errno;
        snprintf(err, PUBLISH_ERRMSG_MAX, "cannot create a temporary directory: %s",
                 strerror(errno));
        goto out;
    }
    unsigned done = 0;
    for (size_t i = 0; i < ks.n; i++) {
        const char *key = ks.v[i], *rest = key + strlen(INBOX), *name = NULL;
        size_t kl = strlen(key);
        if (kl && key[kl - 1] == '/')
            continue; /* a "folder" marker some consoles create */
        char grant[GATE_NAME_MAX] = "", date[11] = "", perr[PUBLISH_ERRMSG_MAX] = "";
        char path[4200];
        struct publish_result r;
        memset(&r, 0, sizeof r);
        const struct gate_grant *gr = NULL;
        bool ok = false;
        if (!parse_key(rest, grant, date, &name)) {
            snprintf(perr, sizeof perr,
                     "'%s' is not inbox/<grant>/<YYYY-MM-DD>.<ext>: nothing was published", key);
        } else if (!(gr = gate_grant_find(g, str_c(grant)))) {
            snprintf(perr, sizeof perr, "no grant '%s' in the configuration: nothing was published",
                     grant);
        } else {
            snprintf(path, sizeof path, "%s/%s", dir, name);
            int drc = download(o->store, o->bucket, key, path);
            if (drc < 0) {
                snprintf(perr, sizeof perr, "cannot read '%s': %s", key, err_message(drc));
            } else {
                struct publish_opts po = *o;
                po.grant = gr;
                po.file = path;
                po.date = date;
                po.columns = NULL;
                ok = publish_run(&po, &r, perr) == 0;
                if (!ok)
                    replace_path(perr, path, key); /* name the inbox key, not our temp copy */
            }
            unlink(path);
        }
        bool keep = false; /* a rejected file stays in the inbox if it could not be moved */
        if (!ok) {
            /* inbox-rejected/<grant>/<name>, or the key's own path when it has no grant */
            char dst[PUBLISH_KEY_MAX + 32], etxt[PUBLISH_KEY_MAX + 48];
            snprintf(dst, sizeof dst, "%s%s", REJECTED, rest);
            snprintf(etxt, sizeof etxt, "%s.error.txt", dst);
            struct store_obj_info info = {0};
            keep = store_obj_copy(o->store, str_c(o->bucket), str_c(key), str_c(o->bucket),
                                  str_c(dst), NULL, &info) < 0 ||
                   put_text(o->store, o->bucket, etxt, perr) < 0;
            store_obj_info_release(&info);
            tg_log(TG_LOG_WARN, "inbox: rejected %s: %s", key, perr);
        }
        if (!keep)
            store_obj_delete(o->store, str_c(o->bucket), str_c(key));
        done++;
        if (fn) {
            struct publish_inbox_item it = {key, grant[0] ? grant : NULL, date[0] ? date : NULL,
                                            ok,  ok ? NULL : perr,        ok ? &r : NULL};
            fn(ctx, &it);
        }
    }
    if (ks.n)
        rmdir(dir);
    if (handled)
        *handled = done;
out:
    strv_release(&ks);
    return rc;
}
