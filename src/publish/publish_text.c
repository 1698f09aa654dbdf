/* publish_text.c -- file kinds from names, the CSV / JSON-lines scanner (rows and the
 * schema fingerprint) and a gzip-inflating reader. No store access here: the pipeline
 * (publish.c, publish_bundle.c) feeds bytes in. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "publish/publish_int.h"

static bool ends_with(const char *s, size_t n, const char *suf)
{
    size_t k = strlen(suf);
    return n >= k && strcmp(s + n - k, suf) == 0;
}

void pub_kind_of(const char *name, struct pub_kind *out)
{
    static const struct {
        const char *ext;
        enum pub_fmt fmt;
    } KNOWN[] = {{".parquet", PUB_PARQUET}, {".csv", PUB_CSV},    {".jsonl", PUB_JSONL},
                 {".ndjson", PUB_JSONL},    {".csv.gz", PUB_CSV}, {".jsonl.gz", PUB_JSONL},
                 {".ndjson.gz", PUB_JSONL}};
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    size_t n = strlen(base);
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < sizeof KNOWN / sizeof KNOWN[0]; i++) {
        if (n > strlen(KNOWN[i].ext) && ends_with(base, n, KNOWN[i].ext)) {
            out->fmt = KNOWN[i].fmt;
            out->gz = ends_with(base, n, ".gz");
            snprintf(out->ext, sizeof out->ext, "%s", KNOWN[i].ext);
            return;
        }
    }
    out->fmt = PUB_OTHER;
    const char *dot = strrchr(base, '.');
    if (!dot || dot == base || strlen(dot) >= PUB_EXT_MAX)
        return;
    for (const char *p = dot + 1; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
            return; /* an odd extension: none rather than a mangled one */
    snprintf(out->ext, sizeof out->ext, "%s", dot);
}

const char *pub_fmt_name(enum pub_fmt f)
{
    switch (f) {
    case PUB_PARQUET:
        return "parquet";
    case PUB_CSV:
        return "csv";
    case PUB_JSONL:
        return "jsonl";
    default:
        return "other";
    }
}

/* ---- scanner ---- */

void pub_text_scan_init(struct pub_text_scan *s, enum pub_fmt fmt)
{
    memset(s, 0, sizeof *s);
    s->fmt = fmt;
    s->last = -1;
    buf_init(&s->first, PUB_HEADER_MAX + 1);
}

void pub_text_scan_release(struct pub_text_scan *s)
{
    buf_release(&s->first);
}

static void end_line(struct pub_text_scan *s)
{
    if (s->cur_content) {
        /* CSV: the first line is the header, not a row */
        if (!(s->fmt == PUB_CSV && !s->first_done))
            s->rows++;
    }
    s->cur_content = false;
}

int pub_text_scan_feed(struct pub_text_scan *s, const void *p, size_t n, char *err)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        uint8_t ch = b[i];
        if (!s->first_done) {
            if (ch == '\n') {
                end_line(s);
                s->first_done = true;
                s->body_start = s->fmt == PUB_CSV ? s->bytes + i + 1 : 0;
            } else {
                if (s->first.len >= PUB_HEADER_MAX) {
                    snprintf(err, 512, "the first line is longer than %u bytes", PUB_HEADER_MAX);
                    return -ERR_TOO_LONG;
                }
                buf_addc(&s->first, (char)ch);
                if (ch != '\r')
                    s->cur_content = true;
            }
            continue;
        }
        if (ch == '\n')
            end_line(s);
        else if (ch != '\r')
            s->cur_content = true;
    }
    if (n)
        s->last = b[n - 1];
    s->bytes += n;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int pub_text_scan_end(struct pub_text_scan *s, char fp[65], char *err)
{
    if (!s->first_done) {
        /* a last line without '\n' */
        end_line(s);
        s->first_done = true;
        s->body_start = s->bytes;
    } else if (s->cur_content) {
        end_line(s);
    }
    struct str h = buf_str(&s->first);
    while (h.len && (h.ptr[h.len - 1] == '\r'))
        h.len--;
    if (s->fmt == PUB_CSV) {
        if (!h.len) {
            snprintf(err, 512, "the CSV file has no header line");
            return -ERR_INVALID;
        }
        crypto_sha256_hex(h.ptr, h.len, fp);
        return 0;
    }
    json_error_t je;
    json_t *j = json_loadb(h.ptr, h.len, 0, &je);
    if (!json_is_object(j)) {
        json_decref(j);
        snprintf(err, 512, "the first line is not a JSON object%s%s", h.len ? ": " : "",
                 h.len ? je.text : " (empty file)");
        return -ERR_INVALID;
    }
    size_t n = json_object_size(j), i = 0;
    const char **keys = calloc(n ? n : 1, sizeof *keys);
    struct buf all = BUF_INIT;
    int rc = keys ? 0 : -ERR_NOMEM;
    const char *k;
    json_t *v;
    if (rc == 0) {
        json_object_foreach(j, k, v) keys[i++] = k;
        qsort(keys, n, sizeof *keys, cmp_str);
        for (i = 0; i < n && rc == 0; i++)
            if ((rc = buf_adds(&all, keys[i])) == 0)
                rc = buf_addc(&all, '\n');
    }
    if (rc == 0)
        crypto_sha256_hex(all.ptr ? all.ptr : "", all.len, fp);
    free(keys);
    buf_release(&all);
    json_decref(j);
    return rc;
}

/* ---- reader ---- */

void pub_rd_init(struct pub_rd *r, int fd, bool gz)
{
    memset(&r->z, 0, sizeof r->z);
    r->fd = fd;
    r->gz = gz;
    r->zinit = r->zend = r->eof = false;
}

void pub_rd_release(struct pub_rd *r)
{
    if (r->zinit)
        inflateEnd(&r->z);
    r->zinit = false;
}

static ssize_t raw_read(int fd, void *p, size_t n)
{
    for (;;) {
        ssize_t k = read(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        return k < 0 ? -errno : k;
    }
}

ssize_t pub_rd_read(struct pub_rd *r, void *out, size_t cap)
{
    if (!r->gz)
        return raw_read(r->fd, out, cap);
    if (!r->zinit) {
        if (inflateInit2(&r->z, 15 + 16) != Z_OK)
            return -ERR_NOMEM;
        r->zinit = true;
    }
    r->z.next_out = out;
    r->z.avail_out = (uInt)cap;
    while (r->z.avail_out == cap) {
        if (r->z.avail_in == 0 && !r->eof) {
            ssize_t k = raw_read(r->fd, r->in, sizeof r->in);
            if (k < 0)
                return k;
            if (k == 0)
                r->eof = true;
            r->z.next_in = r->in;
            r->z.avail_in = (uInt)k;
        }
        if (r->z.avail_in == 0 && r->eof) {
            if (!r->zend)
                return -ERR_INVALID; /* truncated gzip */
            break;
        }
        if (r->zend) {
            /* another gzip member follows (concatenated .gz is valid gzip) */
            if (inflateReset(&r->z) != Z_OK)
                return -ERR_INVALID;
            r->zend = false;
        }
        int zr = inflate(&r->z, Z_NO_FLUSH);
        if (zr == Z_STREAM_END)
            r->zend = true;
        else if (zr != Z_OK && zr != Z_BUF_ERROR)
            return -ERR_INVALID;
        else if (zr == Z_BUF_ERROR && r->z.avail_in != 0)
            return -ERR_INVALID;
    }
    return (ssize_t)(cap - r->z.avail_out);
}
