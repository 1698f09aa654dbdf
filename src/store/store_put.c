/* store_put.c -- the local backend's writes: streamed puts into tmp/ (SHA-256 + MD5 as
 * the bytes arrive), a finished file adopted without a copy, blobs published into
 * blobs/ab/cd/ (content-addressed, deduplicated), and the commit of the object row
 * (with its write condition) in one transaction. The invariants are store_local.c's. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store_int.h"

void store_blob_path(const struct store *st, const uint8_t sha256[32], char out[PATH_MAX])
{
    char hex[65];
    hex_encode(sha256, 32, hex);
    snprintf(out, PATH_MAX, "%s/%.2s/%.2s/%s", st->blob_dir, hex, hex + 2, hex);
}

int store_touch(int fd, const char *path)
{
    int64_t now = tg_now_us();
    struct timespec ts[2] = {{now / 1000000, (now % 1000000) * 1000}};
    ts[1] = ts[0];
    int rc = path ? utimensat(AT_FDCWD, path, ts, 0) : futimens(fd, ts);
    return rc < 0 ? -errno : 0;
}

int store_put_begin_int(struct store *st, bool with_md5, struct store_put **out)
{
    struct store_put *p = calloc(1, sizeof *p);
    int rc = -EEXIST;

    if (!p)
        return -ERR_NOMEM;
    p->st = st;
    p->fd = -1;
    p->with_md5 = with_md5;
    for (int attempt = 0; attempt < 8 && p->fd < 0; attempt++) {
        uint8_t rnd[16];
        char hex[33];
        struct stat sb;
        if ((rc = crypto_random(rnd, sizeof rnd)) < 0)
            goto out;
        hex_encode(rnd, sizeof rnd, hex);
        snprintf(p->tmp, sizeof p->tmp, "%s/%s", st->tmp_dir, hex);
        int fd = open(p->tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0) {
            rc = -errno;
            if (errno == EEXIST)
                continue;
            tg_log_error("store: cannot create '%s': %s", p->tmp, strerror(errno));
            goto out;
        }
        /* A store_open elsewhere may have locked and unlinked it before we locked it:
         * then the link count is 0 and we start over with another name. */
        if (flock(fd, LOCK_EX | LOCK_NB) < 0 || fstat(fd, &sb) < 0 || sb.st_nlink == 0) {
            close(fd);
            rc = -EAGAIN;
            continue;
        }
        p->fd = fd;
        p->tmp_present = true;
    }
    if (p->fd < 0)
        goto out;
    if ((rc = crypto_hash_init(&p->sha, CRYPTO_SHA256)) < 0 ||
        (with_md5 && (rc = crypto_hash_init(&p->md5, CRYPTO_MD5)) < 0))
        goto out;
    *out = p;
    p = NULL;
    rc = 0;
out:
    store_put_free(p);
    return rc;
}

int store_put_begin(struct store *st, struct store_put **out)
{
    return store_put_begin_int(st, true, out);
}

int store_put_write(struct store_put *p, const void *data, size_t n)
{
    const char *q = data;
    size_t left = n;
    int rc;

    if (p->final)
        return -ERR_INVALID;
    while (left) {
        ssize_t w = write(p->fd, q, left);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            tg_log_error("store: write '%s': %s", p->tmp, strerror(errno));
            return rc;
        }
        q += w;
        left -= (size_t)w;
    }
    if ((rc = crypto_hash_update(&p->sha, data, n)) < 0 ||
        (p->with_md5 && (rc = crypto_hash_update(&p->md5, data, n)) < 0))
        return rc;
    p->size += n;
    return 0;
}

/* ---- adopting a finished file ---- */

struct hash_job {
    int fd;
    uint64_t size;
    enum crypto_alg alg;
    uint8_t out[32];
    int rc;
};

static void *hash_file(void *arg)
{
    struct hash_job *j = arg;
    struct crypto_hash h;
    char *buf = malloc(STORE_COPY_BUF);
    j->rc = buf ? crypto_hash_init(&h, j->alg) : -ERR_NOMEM;
    if (j->rc < 0) {
        free(buf);
        return NULL;
    }
    for (uint64_t off = 0; off < j->size && j->rc == 0;) {
        size_t want = j->size - off < STORE_COPY_BUF ? (size_t)(j->size - off) : STORE_COPY_BUF;
        ssize_t n = pread(j->fd, buf, want, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            j->rc = n < 0 ? -errno : -ERR_IO; /* shorter than its size: changed under us */
            break;
        }
        j->rc = crypto_hash_update(&h, buf, (size_t)n);
        off += (uint64_t)n;
    }
    if (j->rc == 0)
        j->rc = crypto_hash_final(&h, j->out);
    crypto_hash_release(&h);
    free(buf);
    return NULL;
}

int store_put_write_fd(struct store_put *p, int fd)
{
    char *buf = malloc(STORE_COPY_BUF);
    int rc = buf ? 0 : -ERR_NOMEM;
    while (rc == 0) {
        ssize_t n = read(fd, buf, STORE_COPY_BUF);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = n < 0 ? -errno : 0;
            break;
        }
        rc = store_put_write(p, buf, (size_t)n);
    }
    free(buf);
    return rc;
}

/* Another filesystem: copied through a normal put, then the source is removed. */
static int adopt_by_copy(struct store *st, int fd, const char *path, struct store_put **out)
{
    struct store_put *p = NULL;
    int rc = store_put_begin(st, &p);
    if (rc == 0)
        rc = store_put_write_fd(p, fd);
    if (rc < 0) {
        store_put_abort(p);
        return rc;
    }
    unlink(path);
    *out = p;
    return 0;
}

int store_put_adopt(struct store *st, const char *path, struct store_put **out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    int rc;

    if (fd < 0)
        return -errno;
    /* locked before it enters tmp/: a store_open cleaning tmp/ leaves it alone */
    if (flock(fd, LOCK_EX) < 0 || fstat(fd, &sb) < 0) {
        rc = -errno;
        close(fd);
        return rc;
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return -ERR_INVALID;
    }
    struct store_put *p = calloc(1, sizeof *p);
    if (!p) {
        close(fd);
        return -ERR_NOMEM;
    }
    p->st = st;
    p->fd = -1;
    p->with_md5 = true;
    rc = -EEXIST;
    for (int attempt = 0; attempt < 8 && rc == -EEXIST; attempt++) {
        uint8_t rnd[16];
        char hex[33];
        if ((rc = crypto_random(rnd, sizeof rnd)) < 0)
            break;
        hex_encode(rnd, sizeof rnd, hex);
        snprintf(p->tmp, sizeof p->tmp, "%s/%s", st->tmp_dir, hex);
        rc = link(path, p->tmp) == 0 ? 0 : -errno;
    }
    if (rc == -EXDEV || rc == -EPERM || rc == -EOPNOTSUPP) {
        free(p);
        rc = adopt_by_copy(st, fd, path, out);
        close(fd);
        return rc;
    }
    if (rc < 0) {
        tg_log_error("store: cannot move '%s' into '%s': %s", path, st->tmp_dir, strerror(-rc));
        free(p);
        close(fd);
        return rc;
    }
    unlink(path);
    p->fd = fd;
    p->tmp_present = true;
    p->size = (uint64_t)sb.st_size;
    struct hash_job sha = {fd, p->size, CRYPTO_SHA256, {0}, 0},
                    md5 = {fd, p->size, CRYPTO_MD5, {0}, 0};
    pthread_t th;
    bool two = pthread_create(&th, NULL, hash_file, &md5) == 0;
    hash_file(&sha);
    if (two)
        pthread_join(th, NULL);
    else
        hash_file(&md5);
    if ((rc = sha.rc) < 0 || (rc = md5.rc) < 0) {
        store_put_free(p);
        return rc;
    }
    memcpy(p->sha256, sha.out, 32);
    memcpy(p->md5d, md5.out, 16);
    p->final = true;
    *out = p;
    return 0;
}

uint64_t store_put_size(const struct store_put *p)
{
    return p->size;
}

int store_put_finish(struct store_put *p)
{
    int rc;

    if (p->final)
        return 0;
    if ((rc = crypto_hash_final(&p->sha, p->sha256)) < 0 ||
        (p->with_md5 && (rc = crypto_hash_final(&p->md5, p->md5d)) < 0))
        return rc;
    p->final = true;
    return 0;
}

int store_put_digest(struct store_put *p, uint8_t sha256[32], uint8_t md5[16])
{
    int rc = store_put_finish(p);
    if (rc < 0)
        return rc;
    if (sha256)
        memcpy(sha256, p->sha256, 32);
    if (md5)
        memcpy(md5, p->md5d, 16);
    return 0;
}

static void blob_dir_of(const char *blob, char *dir, size_t cap)
{
    snprintf(dir, cap, "%s", blob);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
}

/* Give the blob its name as a hard link to our tmp: the tmp stays as a spare until the
 * row commits, so if gc removes the blob meanwhile store_blob_confirm links it again.
 * -EEXIST when the blob exists already (dedup). Filesystems without hard links get a
 * rename (then no spare). */
static int blob_link(struct store_put *p, const char *dir)
{
    int rc;

    if ((rc = store_touch(p->fd, NULL)) < 0) /* fresh mtime: the gc grace starts now */
        return rc;
    if (link(p->tmp, p->blob) < 0) {
        if (errno == EEXIST)
            return -EEXIST;
        if (errno != EPERM && errno != EOPNOTSUPP && errno != ENOSYS && errno != EMLINK) {
            rc = -errno;
            tg_log_error("store: link '%s' -> '%s': %s", p->tmp, p->blob, strerror(errno));
            return rc;
        }
        if (rename(p->tmp, p->blob) < 0) {
            rc = -errno;
            tg_log_error("store: rename '%s' -> '%s': %s", p->tmp, p->blob, strerror(errno));
            return rc;
        }
        p->tmp_present = false;
    }
    return dir_fsync(dir);
}

int store_blob_publish(struct store_put *p)
{
    char dir[PATH_MAX], parent[PATH_MAX];
    int rc;

    if (p->published)
        return 0;
    if ((rc = store_put_finish(p)) < 0)
        return rc;
    if (fsync(p->fd) < 0) {
        rc = -errno;
        tg_log_error("store: fsync '%s': %s", p->tmp, strerror(errno));
        return rc;
    }
    store_blob_path(p->st, p->sha256, p->blob);
    blob_dir_of(p->blob, dir, sizeof dir);
    if (mkdir(dir, 0700) == 0) {
        blob_dir_of(dir, parent, sizeof parent);
        if ((rc = dir_fsync(parent)) < 0)
            return rc;
    } else if (errno != EEXIST) {
        rc = -errno;
        tg_log_error("store: mkdir '%s': %s", dir, strerror(errno));
        return rc;
    }
    for (int attempt = 0; attempt < 4; attempt++) {
        if ((rc = blob_link(p, dir)) == -EEXIST) {
            /* dedup: refresh the existing blob's mtime so gc leaves it alone */
            if ((rc = store_touch(-1, p->blob)) == -ENOENT)
                continue; /* collected between our link attempt and the touch */
            if (rc == 0)
                rc = dir_fsync(dir); /* its writer may not have synced the entry yet */
        }
        p->published = rc == 0;
        return rc;
    }
    tg_log_error("store: cannot publish blob '%s'", p->blob);
    return -ERR_IO;
}

int store_blob_confirm(struct store_put *p)
{
    char dir[PATH_MAX];
    struct stat sb;
    int rc;

    if (stat(p->blob, &sb) == 0)
        return 0;
    if (errno != ENOENT)
        return -errno;
    if (!p->tmp_present) {
        /* Only without hard links and with a gc grace shorter than our commit. */
        tg_log_error("store: blob '%s' vanished before its commit", p->blob);
        return -ERR_IO;
    }
    blob_dir_of(p->blob, dir, sizeof dir);
    rc = blob_link(p, dir);
    return rc == -EEXIST ? 0 : rc;
}

void store_put_free(struct store_put *p)
{
    if (!p)
        return;
    if (p->tmp_present)
        unlink(p->tmp);
    if (p->fd >= 0)
        close(p->fd);
    crypto_hash_release(&p->sha);
    crypto_hash_release(&p->md5);
    free(p);
}

void store_put_abort(struct store_put *p)
{
    store_put_free(p);
}

int store_info_attrs(struct store_obj_info *info, const struct store_attrs *attrs)
{
    char *ct = strdup(attrs && attrs->content_type ? attrs->content_type : STORE_DEFAULT_CONTENT_TYPE);
    char *mj = strdup(attrs && attrs->meta_json ? attrs->meta_json : "{}");
    if (!ct || !mj) {
        free(ct);
        free(mj);
        return -ERR_NOMEM;
    }
    free(info->content_type);
    free(info->meta_json);
    info->content_type = ct;
    info->meta_json = mj;
    return 0;
}

/* The write condition against the current row (inside the write transaction). */
static int cond_check(struct store_conn *c, struct str bucket, struct str key,
                      const struct store_write_cond *cond)
{
    if (!cond || (!cond->if_none_match_any && !cond->if_match))
        return 0;
    struct store_obj_info cur = {0};
    int rc = store_head_conn(c, bucket, key, &cur);
    if (rc == -ERR_NO_SUCH_KEY)
        rc = cond->if_match ? -ERR_NO_SUCH_KEY : 0;
    else if (rc == 0 && cond->if_none_match_any)
        rc = -ERR_PRECONDITION;
    else if (rc == 0 && strcmp(cond->if_match, "*") != 0 && strcmp(cond->if_match, cur.etag) != 0)
        rc = -ERR_PRECONDITION;
    store_obj_info_release(&cur);
    return rc;
}

int store_put_commit(struct store_put *p, struct str bucket, struct str key,
                     const struct store_attrs *attrs, struct store_obj_info *out)
{
    return store_put_commit_if(p, bucket, key, attrs, NULL, out);
}

int store_put_commit_if(struct store_put *p, struct str bucket, struct str key,
                        const struct store_attrs *attrs, const struct store_write_cond *cond,
                        struct store_obj_info *out)
{
    if (p->st->remote)
        return store_remote_commit(p, bucket, key, attrs, cond, out);
    struct store_obj_info info = {0};
    struct store_conn *c = NULL;
    int rc;

    if ((rc = store_key_check(key)) < 0 || (rc = store_blob_publish(p)) < 0)
        goto out;
    info.size = p->size;
    memcpy(info.sha256, p->sha256, 32);
    hex_encode(p->md5d, 16, info.etag);
    if ((rc = store_info_attrs(&info, attrs)) < 0 || (rc = store_conn_get(p->st, &c)) < 0)
        goto out;
    if ((rc = store_tx_begin(c)) < 0 || (rc = store_bucket_check_conn(c, bucket)) < 0 ||
        (rc = cond_check(c, bucket, key, cond)) < 0 || (rc = store_blob_confirm(p)) < 0)
        goto out;
    info.mtime_us = tg_now_us();
    if ((rc = store_obj_row_put(c, bucket, key, &info)) < 0 || (rc = store_tx_commit(c)) < 0)
        goto out;
    if (out) {
        *out = info;
        memset(&info, 0, sizeof info);
    }
out:
    if (p)
        store_conn_put(p->st, c);
    store_put_free(p);
    store_obj_info_release(&info);
    return rc;
}
