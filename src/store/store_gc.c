/* store_gc.c -- collect blobs no object or part references.
 *
 * Walks blobs/ab/cd/<sha256hex>. A blob is a candidate when its mtime (set to the
 * store clock, tg_now, whenever a put publishes or reuses it) is older than the grace
 * period and no row references it. Candidates are then removed in batches inside a
 * write transaction that re-checks the references and the mtime: writers confirm their
 * blob inside their own write transaction (store_int.h), so a put racing with gc
 * either sees its blob gone and links its tmp into place again, or commits its row
 * before gc looks. Readers holding an fd keep reading an unlinked blob.
 * Workload: a lifecycle pass (minutes to hours apart); cost is one stat per blob and
 * two index lookups per old blob. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store_int.h"

#define GC_BATCH 64

struct gc {
    struct store *st;
    struct store_conn *c;
    int64_t cutoff_us;
    unsigned removed;
    uint64_t bytes;
    size_t n;
    struct {
        uint8_t sha256[32];
        char path[PATH_MAX];
    } batch[GC_BATCH];
};

static bool is_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return s[n] == '\0';
}

static int64_t mtime_us(const struct stat *sb)
{
    return (int64_t)sb->st_mtim.tv_sec * 1000000 + sb->st_mtim.tv_nsec / 1000;
}

/* 1 if any object or part row names the blob, 0 if none. */
static int referenced(struct store_conn *c, const uint8_t sha256[32])
{
    static const enum store_stmt_id ids[] = {S_OBJ_REF, S_PART_REF};
    sqlite3_stmt *s;
    int rc;

    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        if ((rc = store_stmt(c, ids[i], &s)) < 0)
            return rc;
        if (sqlite3_bind_blob(s, 1, sha256, 32, SQLITE_TRANSIENT) != SQLITE_OK)
            return store_db_error(c, "gc bind");
        rc = store_step(c, s, "gc reference lookup");
        sqlite3_reset(s);
        if (rc != SQLITE_DONE)
            return rc == SQLITE_ROW ? 1 : rc;
    }
    return 0;
}

static int gc_flush(struct gc *g)
{
    int rc;

    if (g->n == 0)
        return 0;
    if ((rc = store_tx_begin(g->c)) < 0)
        return rc;
    for (size_t i = 0; i < g->n; i++) {
        struct stat sb;
        if ((rc = referenced(g->c, g->batch[i].sha256)) < 0)
            goto out;
        if (rc > 0 || stat(g->batch[i].path, &sb) < 0 || mtime_us(&sb) >= g->cutoff_us)
            continue;
        if (unlink(g->batch[i].path) == 0) {
            g->removed++;
            g->bytes += (uint64_t)sb.st_size;
        } else if (errno != ENOENT) {
            tg_log_warn("store: gc cannot remove '%s': %s", g->batch[i].path, strerror(errno));
        }
    }
    rc = store_tx_commit(g->c);
out:
    store_tx_rollback(g->c);
    g->n = 0;
    return rc;
}

static int gc_file(struct gc *g, const char *dir, const char *name)
{
    char path[PATH_MAX];
    uint8_t sha[32];
    struct stat sb;
    int rc;

    if (!is_hex(name, 64))
        return 0;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (lstat(path, &sb) < 0 || !S_ISREG(sb.st_mode) || mtime_us(&sb) >= g->cutoff_us)
        return 0;
    if (hex_decode(str_n(name, 64), sha, sizeof sha) != 32)
        return 0;
    if ((rc = referenced(g->c, sha)) != 0)
        return rc < 0 ? rc : 0;
    memcpy(g->batch[g->n].sha256, sha, 32);
    memcpy(g->batch[g->n].path, path, sizeof path);
    if (++g->n == GC_BATCH)
        return gc_flush(g);
    return 0;
}

/* Levels 1 and 2 are the ab/ and cd/ directories, level 3 their blobs. */
static int gc_walk(struct gc *g, const char *path, int level)
{
    DIR *d = opendir(path);
    struct dirent *e;
    int rc = 0;

    if (!d)
        return errno == ENOENT ? 0 : -errno;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (level == 3) {
            rc = gc_file(g, path, e->d_name);
        } else if (is_hex(e->d_name, 2)) {
            char sub[PATH_MAX];
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            rc = gc_walk(g, sub, level + 1);
        }
    }
    closedir(d);
    return rc;
}

int store_gc(struct store *st, int64_t grace_s, unsigned *removed, uint64_t *bytes)
{
    if (st->remote) {
        *removed = 0;
        *bytes = 0;
        return 0; /* no blobs of its own */
    }
    struct gc *g = calloc(1, sizeof *g);
    int rc;

    if (!g)
        return -ERR_NOMEM;
    g->st = st;
    g->cutoff_us = tg_now_us() - (grace_s > 0 ? grace_s : 0) * 1000000;
    if ((rc = store_conn_get(st, &g->c)) < 0)
        goto out;
    if ((rc = gc_walk(g, st->blob_dir, 1)) < 0 || (rc = gc_flush(g)) < 0)
        goto out;
    if (removed)
        *removed = g->removed;
    if (bytes)
        *bytes = g->bytes;
    if (g->removed)
        tg_log_info("store: gc removed %u blobs, %llu bytes", g->removed,
                    (unsigned long long)g->bytes);
out:
    store_conn_put(st, g->c);
    free(g);
    return rc;
}
