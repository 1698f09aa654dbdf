/* s3c.c -- a tiny command-line driver of the S3 client (src/s3/s3_client.c), for the
 * integration tests: put, get (optionally a range), head, rm (DeleteObjects for more
 * than one key), ls; mb, hb, rb, buckets; mpu (a multipart upload call by call: create,
 * parts of PART bytes, list parts, complete). Prints simple lines; exits 0 on success, 1 on failure
 * with the client's error sentence on stderr. The secret is read from --secret or
 * AWS_SECRET_ACCESS_KEY and never printed.
 *   S3C_MULTIPART_THRESHOLD / S3C_PART_SIZE (bytes) tune multipart uploads. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "s3/s3.h"

static int usage(void)
{
    fprintf(stderr, "usage: s3c --endpoint URL --region R --bucket B --key-id ID --secret S "
                    "[--virtual] [--retries N]\n"
                    "           put KEY FILE | get KEY FILE [--range a-b] | head KEY | "
                    "rm KEY... | ls [PREFIX]\n"
                    "           mb | hb | rb | buckets | mpu KEY FILE PART\n");
    return 1;
}

static int fail(struct s3_client *c, int rc)
{
    const char *e = s3_client_error(c);
    fprintf(stderr, "s3c: %s\n", *e ? e : err_message(rc));
    return 1;
}

static int print_obj(void *ctx, const char *key, uint64_t size, const char *etag)
{
    (void)ctx;
    printf("%llu %s %s\n", (unsigned long long)size, etag, key);
    return 0;
}

static int print_bucket(void *ctx, const char *name, int64_t created)
{
    (void)ctx;
    printf("bucket %s %s\n", name, created > 0 ? "dated" : "undated");
    return 0;
}

static int print_part(void *ctx, const struct s3_client_part *p)
{
    (void)ctx;
    printf("part %u %llu %s\n", p->number, (unsigned long long)p->size, p->etag);
    return 0;
}

/* A multipart upload call by call: each part is a slice of FILE copied to a scratch
 * file (s3_client_mpu_part sends a file's first bytes). */
static int mpu(struct s3_client *c, const char *key, const char *path, uint64_t part)
{
    char id[S3_CLIENT_UPLOAD_ID_MAX], tmp[] = "/tmp/s3c-part-XXXXXX";
    struct s3_client_part parts[64];
    struct s3_client_obj o = {0};
    struct stat st;
    size_t n = 0;
    bool more = false;
    int rc, in = open(path, O_RDONLY | O_CLOEXEC), out = mkstemp(tmp);
    if (in < 0 || out < 0 || fstat(in, &st) < 0 || part == 0) {
        fprintf(stderr, "s3c: cannot read '%s'\n", path);
        rc = -1;
        goto done;
    }
    unlink(tmp);
    if ((rc = s3_client_mpu_create(c, key, NULL, 0, id, sizeof id)) < 0)
        goto done;
    for (uint64_t off = 0; off < (uint64_t)st.st_size && n < 64; off += part, n++) {
        uint64_t len = (uint64_t)st.st_size - off < part ? (uint64_t)st.st_size - off : part;
        char *buf = malloc(len);
        if (!buf || pread(in, buf, len, (off_t)off) != (ssize_t)len || ftruncate(out, 0) < 0 ||
            pwrite(out, buf, len, 0) != (ssize_t)len) {
            free(buf);
            rc = -1;
            goto done;
        }
        free(buf);
        if ((rc = s3_client_mpu_part(c, key, id, (unsigned)n + 1, out, len, NULL, &o)) < 0)
            goto done;
        parts[n].number = (unsigned)n + 1;
        memcpy(parts[n].etag, o.etag, sizeof parts[n].etag);
    }
    /* a ListParts failure is reported and the upload goes on (s3rver has no ListParts) */
    if (s3_client_mpu_parts(c, key, id, 0, 1000, print_part, NULL, &more) < 0)
        printf("listparts failed: %s\n", s3_client_error(c));
    if ((rc = s3_client_mpu_complete(c, key, id, parts, n, &o)) < 0)
        goto done;
    printf("mpu %s %zu parts %s\n", key, n, o.etag);
done:
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    return rc;
}

static uint64_t env_u64(const char *name)
{
    const char *v = getenv(name);
    uint64_t n = 0;
    return v && size_parse(str_c(v), &n) == 0 ? n : 0;
}

int main(int argc, char **argv)
{
    struct s3_client_config cfg = {0};
    struct s3_client *c = NULL;
    const char *range = NULL;
    char *pos[2048];
    int npos = 0, rc;

    cfg.secret = getenv("AWS_SECRET_ACCESS_KEY");
    cfg.akid = getenv("AWS_ACCESS_KEY_ID");
    cfg.region = "us-east-1";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool more = i + 1 < argc;
        if (strcmp(a, "--endpoint") == 0 && more)
            cfg.endpoint = argv[++i];
        else if (strcmp(a, "--region") == 0 && more)
            cfg.region = argv[++i];
        else if (strcmp(a, "--bucket") == 0 && more)
            cfg.bucket = argv[++i];
        else if (strcmp(a, "--key-id") == 0 && more)
            cfg.akid = argv[++i];
        else if (strcmp(a, "--secret") == 0 && more)
            cfg.secret = argv[++i];
        else if (strcmp(a, "--retries") == 0 && more)
            cfg.retries = atoi(argv[++i]);
        else if (strcmp(a, "--range") == 0 && more)
            range = argv[++i];
        else if (strcmp(a, "--virtual") == 0)
            cfg.virtual_host = true;
        else if (a[0] == '-' && a[1] == '-')
            return usage();
        else if (npos < (int)(sizeof pos / sizeof pos[0]))
            pos[npos++] = argv[i];
        else
            return usage();
    }
    if (npos < 1 || !cfg.endpoint || !cfg.bucket || !cfg.akid || !cfg.secret)
        return usage();
    cfg.multipart_threshold = env_u64("S3C_MULTIPART_THRESHOLD");
    cfg.part_size = env_u64("S3C_PART_SIZE");
    if ((rc = s3_client_new(&cfg, &c)) < 0) {
        fprintf(stderr, "s3c: bad configuration (endpoint, bucket or keys)\n");
        return 1;
    }
    const char *cmd = pos[0];
    int ret = 1;
    struct s3_client_obj o = {0};
    if (strcmp(cmd, "put") == 0 && npos == 3) {
        struct stat st;
        int fd = open(pos[2], O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &st) < 0) {
            fprintf(stderr, "s3c: cannot open '%s'\n", pos[2]);
        } else if ((rc = s3_client_put_fd(c, pos[1], fd, (uint64_t)st.st_size, NULL, &o)) < 0) {
            ret = fail(c, rc);
        } else {
            printf("put %s %llu %s\n", pos[1], (unsigned long long)o.size, o.etag);
            ret = 0;
        }
        if (fd >= 0)
            close(fd);
    } else if (strcmp(cmd, "get") == 0 && npos == 3) {
        uint64_t off = 0, len = 0;
        if (range) {
            unsigned long long a, b;
            if (sscanf(range, "%llu-%llu", &a, &b) != 2 || b < a) {
                s3_client_free(c);
                return usage();
            }
            off = a;
            len = b - a + 1;
        }
        int fd = open(pos[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
            fprintf(stderr, "s3c: cannot create '%s'\n", pos[2]);
        else if ((rc = s3_client_get_fd(c, pos[1], off, len, fd, &o)) < 0)
            ret = fail(c, rc);
        else {
            printf("get %s %llu %s\n", pos[1], (unsigned long long)o.size, o.etag);
            ret = 0;
        }
        if (fd >= 0 && close(fd) < 0)
            ret = 1;
    } else if (strcmp(cmd, "head") == 0 && npos == 2) {
        if ((rc = s3_client_head(c, pos[1], &o)) < 0)
            ret = fail(c, rc);
        else {
            printf("head %s %llu %s %lld\n", pos[1], (unsigned long long)o.size, o.etag,
                   (long long)o.mtime);
            ret = 0;
        }
    } else if (strcmp(cmd, "rm") == 0 && npos >= 2) {
        if (npos == 2)
            rc = s3_client_delete(c, pos[1]);
        else
            rc = s3_client_delete_many(c, (const char *const *)pos + 1, (size_t)npos - 1);
        if (rc < 0)
            ret = fail(c, rc);
        else {
            printf("rm %d\n", npos - 1);
            ret = 0;
        }
    } else if (strcmp(cmd, "mb") == 0 || strcmp(cmd, "hb") == 0 || strcmp(cmd, "rb") == 0) {
        rc = cmd[0] == 'm'   ? s3_client_bucket_create(c)
             : cmd[0] == 'h' ? s3_client_bucket_head(c)
                             : s3_client_bucket_delete(c);
        if (rc < 0)
            ret = fail(c, rc);
        else {
            printf("%s %s\n", cmd, cfg.bucket);
            ret = 0;
        }
    } else if (strcmp(cmd, "buckets") == 0 && npos == 1) {
        ret = (rc = s3_client_buckets(c, print_bucket, NULL)) < 0 ? fail(c, rc) : 0;
    } else if (strcmp(cmd, "mpu") == 0 && npos == 4) {
        uint64_t part = 0;
        if (size_parse(str_c(pos[3]), &part) < 0) {
            s3_client_free(c);
            return usage();
        }
        ret = (rc = mpu(c, pos[1], pos[2], part)) < 0 ? fail(c, rc) : 0;
    } else if (strcmp(cmd, "ls") == 0 && npos <= 2) {
        if ((rc = s3_client_list(c, npos == 2 ? pos[1] : NULL, print_obj, NULL)) < 0)
            ret = fail(c, rc);
        else
            ret = 0;
    } else {
        ret = usage();
    }
    s3_client_free(c);
    return ret;
}
