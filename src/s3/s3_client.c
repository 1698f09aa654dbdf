/* s3_client.c -- an S3 client over libcurl for a remote S3-compatible store (R2, AWS
 * S3, MinIO, a local tollgate). Requests are signed by s3_sign_header, the same SigV4
 * code the server verifies with: there is one canonical request and one signing key.
 *
 * Invariants: the secret and the Authorization header never reach a log line nor an
 * error sentence; a failed call leaves its sentence in c->err. Retries (5xx, 429,
 * SlowDown, transport errors and timeouts) are bounded and jittered, and a request
 * body is re-read from its fd with pread on every attempt. A multipart upload runs its
 * parts on up to S3_CLIENT_PARALLEL_MAX threads, each with its own curl handle, and is
 * aborted when any part fails. Requests are signed with the wall clock, never
 * TOLLGATE_NOW: the remote checks them against its own clock. */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "s3/s3_client_int.h"

#define CONNECT_TIMEOUT_DEFAULT_MS 10000L
#define LOW_SPEED_BYTES 1L  /* below this many bytes/s ... */
#define LOW_SPEED_SECS 60L  /* ... for this long, a request is a timeout */
#define ERR_BODY_MAX 65536u /* an error body is read up to this */

const char *s3_client_error(const struct s3_client *c)
{
    return c ? c->err : "";
}

uint32_t s3_client_backoff_ms(int attempt, uint32_t rnd)
{
    uint64_t ceil = S3_CLIENT_BACKOFF_BASE_MS;
    for (int i = 1; i < attempt && ceil < S3_CLIENT_BACKOFF_CAP_MS; i++)
        ceil <<= 1;
    if (ceil > S3_CLIENT_BACKOFF_CAP_MS)
        ceil = S3_CLIENT_BACKOFF_CAP_MS;
    return (uint32_t)(rnd % (ceil + 1));
}

/* ---- addressing and signing ------------------------------------------------------ */

static int split_endpoint(const char *endpoint, const char **scheme_end, struct str *hostport)
{
    const char *p = strstr(endpoint, "://");
    if (!p || (strncmp(endpoint, "http://", 7) != 0 && strncmp(endpoint, "https://", 8) != 0))
        return -ERR_CONFIG;
    p += 3;
    size_t n = strcspn(p, "/?#");
    if (n == 0 || (p[n] && strcmp(p + n, "/") != 0))
        return -ERR_CONFIG; /* no path prefix: S3 paths start at the root */
    *scheme_end = p;
    *hostport = str_n(p, n);
    return 0;
}

int s3_client_target(const struct s3_client_config *cfg, const char *key, struct buf *host,
                     struct buf *path)
{
    const char *se;
    struct str hp;
    int rc = split_endpoint(cfg->endpoint, &se, &hp);
    if (rc < 0)
        return rc;
    if (cfg->virtual_host) {
        if ((rc = buf_printf(host, "%s.%.*s", cfg->bucket, STR_FMT(hp))) < 0)
            return rc;
        rc = buf_addc(path, '/');
    } else {
        if ((rc = buf_addstr(host, hp)) < 0 || (rc = buf_addc(path, '/')) < 0 ||
            (rc = uri_encode(path, str_c(cfg->bucket), false)) < 0)
            return rc;
        if (key)
            rc = buf_addc(path, '/');
    }
    if (rc == 0 && key)
        rc = uri_encode(path, str_c(key), true);
    return rc;
}

struct hdr {
    char lname[SIG_HEADER_NAME_MAX];
    const char *name, *value;
};
struct hdr_set {
    struct hdr h[HDRS_MAX + 3];
    size_t n;
};

static bool hdr_lookup(void *ctx, const char *lname, struct str *value)
{
    const struct hdr_set *hs = ctx;
    for (size_t i = 0; i < hs->n; i++)
        if (strcmp(hs->h[i].lname, lname) == 0) {
            *value = str_c(hs->h[i].value);
            return true;
        }
    return false;
}

static int hdr_cmp(const void *a, const void *b)
{
    return strcmp(((const struct hdr *)a)->lname, ((const struct hdr *)b)->lname);
}

static int hdr_push(struct hdr_set *hs, const char *name, const char *value)
{
    if (hs->n >= sizeof hs->h / sizeof hs->h[0])
        return -ERR_INVALID;
    int rc = s3_sig_lower_name(str_c(name), hs->h[hs->n].lname);
    if (rc < 0)
        return rc;
    hs->h[hs->n].name = name;
    hs->h[hs->n].value = value;
    hs->n++;
    return 0;
}

int s3_client_sign_headers(const struct s3_client_config *cfg, const char *method, const char *path,
                           const char *query, const char *const *hdrs, size_t n_hdrs,
                           const char *payload_hash, int64_t now, struct buf *out)
{
    struct buf host = BUF_INIT, hpath = BUF_INIT, signed_h = BUF_INIT, authz = BUF_INIT,
               lines = BUF_INIT;
    struct hdr_set hs = {0};
    char amz[TG_TIME_BUF];
    int rc;

    if (n_hdrs > HDRS_MAX)
        return -ERR_INVALID;
    if ((rc = s3_client_target(cfg, NULL, &host, &hpath)) < 0)
        goto out;
    time_fmt_amz(now, amz);
    for (size_t i = 0; i < n_hdrs && rc == 0; i++)
        rc = hdr_push(&hs, hdrs[2 * i], hdrs[2 * i + 1]);
    if (rc == 0)
        rc = hdr_push(&hs, "Host", buf_cstr(&host));
    if (rc == 0)
        rc = hdr_push(&hs, "x-amz-content-sha256", payload_hash);
    if (rc == 0)
        rc = hdr_push(&hs, "x-amz-date", amz);
    if (rc < 0)
        goto out;
    qsort(hs.h, hs.n, sizeof hs.h[0], hdr_cmp);
    for (size_t i = 0; i < hs.n && rc == 0; i++)
        rc = buf_printf(&signed_h, "%s%s", i ? ";" : "", hs.h[i].lname);
    if (rc < 0)
        goto out;
    struct s3_sig_req r = {
        .method = str_c(method),
        .path = str_c(path),
        .query = str_c(query ? query : ""),
        .header = hdr_lookup,
        .ctx = &hs,
    };
    if ((rc = s3_sign_header(&r, buf_cstr(&signed_h), payload_hash, cfg->akid, cfg->secret,
                             cfg->region, now, &authz)) < 0)
        goto out;
    for (size_t i = 0; i < hs.n && rc == 0; i++)
        rc = buf_printf(&lines, "%s: %s\n", hs.h[i].name, hs.h[i].value);
    if (rc == 0)
        rc = buf_adds(&lines, "Authorization: ");
    /* The AWS documentation writes the components separated by "," alone: so do we
     * (both forms are accepted everywhere), which lets the vectors compare byte for byte. */
    for (size_t i = 0; i < authz.len && rc == 0; i++) {
        if (authz.ptr[i] == ' ' && i > 0 && authz.ptr[i - 1] == ',')
            continue;
        rc = buf_addc(&lines, authz.ptr[i]);
    }
    if (rc == 0)
        rc = buf_addc(&lines, '\n');
    if (rc == 0)
        rc = buf_addstr(out, buf_str(&lines));
out:
    buf_release(&host);
    buf_release(&hpath);
    buf_release(&signed_h);
    buf_release(&authz);
    buf_release(&lines);
    return rc;
}

/* ---- XML responses ----------------------------------------------------------- */

struct err_parse {
    char *code, *msg;
    size_t code_cap, msg_cap;
    bool seen;
};

void s3c_copy_trunc(char *dst, size_t cap, const char *src)
{
    if (!cap)
        return;
    size_t n = strlen(src);
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static int err_visit(void *ctx, const char *path, const char *text)
{
    struct err_parse *ep = ctx;
    if (strncmp(path, "Error", 5) == 0 && (path[5] == '\0' || path[5] == '/'))
        ep->seen = true;
    if (!text)
        return 0;
    if (strcmp(path, "Error/Code") == 0)
        s3c_copy_trunc(ep->code, ep->code_cap, text);
    else if (strcmp(path, "Error/Message") == 0)
        s3c_copy_trunc(ep->msg, ep->msg_cap, text);
    return 0;
}

int s3_client_error_parse(struct str body, char *code, size_t code_cap, char *msg, size_t msg_cap)
{
    char c[128] = "", m[S3_CLIENT_ERR_MAX] = "";
    struct err_parse ep = {c, m, sizeof c, sizeof m, false};
    int rc = s3_xml_parse(body, err_visit, &ep);
    if (rc < 0)
        return rc;
    if (!ep.seen)
        return -ERR_NOT_FOUND;
    s3c_copy_trunc(code, code_cap, c);
    s3c_copy_trunc(msg, msg_cap, m);
    return 0;
}

#define LIST_PATH "ListBucketResult/"
#define CONTENTS LIST_PATH "Contents"

struct list_parse {
    s3_client_list_fn fn;
    s3_client_list2_fn fn2;
    void *ctx;
    struct buf key;
    char etag[80];
    uint64_t size;
    int64_t mtime_us;
    bool has_key, truncated;
    struct buf *token;
};

static int list_visit(void *ctx, const char *path, const char *text)
{
    struct list_parse *lp = ctx;
    int rc = 0;
    if (strcmp(path, CONTENTS) == 0) {
        if (text)
            return 0;
        if (!lp->has_key)
            return -ERR_MALFORMED_XML;
        if (lp->fn2)
            rc = lp->fn2(lp->ctx, buf_cstr(&lp->key), lp->size, lp->etag, lp->mtime_us);
        else if (lp->fn)
            rc = lp->fn(lp->ctx, buf_cstr(&lp->key), lp->size, lp->etag);
        buf_reset(&lp->key);
        lp->has_key = false;
        lp->size = 0;
        lp->mtime_us = 0;
        lp->etag[0] = '\0';
        return rc;
    }
    if (!text)
        return 0;
    if (strcmp(path, CONTENTS "/Key") == 0) {
        buf_reset(&lp->key);
        lp->has_key = true;
        return buf_adds(&lp->key, text);
    }
    if (strcmp(path, CONTENTS "/Size") == 0)
        return str_to_u64(str_c(text), &lp->size) < 0 ? -ERR_MALFORMED_XML : 0;
    if (strcmp(path, CONTENTS "/ETag") == 0) {
        s3c_copy_trunc(lp->etag, sizeof lp->etag, text);
        return 0;
    }
    if (strcmp(path, CONTENTS "/LastModified") == 0) {
        if (time_parse_iso8601_us(str_c(text), &lp->mtime_us) < 0)
            lp->mtime_us = 0; /* milliseconds matter: `aws s3 sync` compares them */
        return 0;
    }
    if (strcmp(path, LIST_PATH "IsTruncated") == 0) {
        lp->truncated = strcmp(text, "true") == 0;
        return 0;
    }
    if (strcmp(path, LIST_PATH "NextContinuationToken") == 0 && lp->token) {
        buf_reset(lp->token);
        return buf_adds(lp->token, text);
    }
    return 0;
}

int s3_client_list_parse(struct str body, s3_client_list_fn fn, void *ctx, bool *truncated,
                         struct buf *next_token)
{
    struct list_parse lp = {.fn = fn, .ctx = ctx, .token = next_token};
    int rc;
    buf_init(&lp.key, 8192);
    if (next_token)
        buf_reset(next_token);
    rc = s3_xml_parse(body, list_visit, &lp);
    buf_release(&lp.key);
    if (rc == 0 && truncated)
        *truncated = lp.truncated;
    return rc;
}

/* ---- one request, with retries --------------------------------------------------- */

static long status_of(CURL *h)
{
    long st = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &st);
    return st;
}

static size_t on_body(char *p, size_t sz, size_t nm, void *ud)
{
    struct req *rq = ud;
    size_t n = sz * nm;
    long st = status_of(rq->curl);
    if (st >= 200 && st < 300 && rq->sink) {
        int rc = rq->sink(rq->sink_ctx, p, n);
        if (rc < 0) {
            rq->sink_rc = rc;
            return 0;
        }
        rq->delivered = true;
        rq->obj.size += n;
        return n;
    }
    if (buf_add(&rq->resp, p, n) < 0)
        return 0;
    return n;
}

static bool hname(const char *line, size_t n, const char *name, struct str *v)
{
    size_t k = strlen(name);
    if (n <= k || !str_case_eq_c(str_n(line, k), name) || line[k] != ':')
        return false;
    *v = str_trim(str_n(line + k + 1, n - k - 1));
    while (v->len && (v->ptr[v->len - 1] == '\r' || v->ptr[v->len - 1] == '\n'))
        v->len--;
    return true;
}

static size_t on_header(char *p, size_t sz, size_t nm, void *ud)
{
    struct req *rq = ud;
    size_t n = sz * nm;
    struct str v;
    if (rq->hdr_out && n > 2 && memchr(p, ':', n)) {
        struct str line = str_n(p, n);
        while (line.len && (line.ptr[line.len - 1] == '\r' || line.ptr[line.len - 1] == '\n'))
            line.len--;
        if (buf_addstr(rq->hdr_out, line) < 0 || buf_addc(rq->hdr_out, '\n') < 0)
            return 0;
    }
    if (hname(p, n, "etag", &v))
        str_copy(v, rq->obj.etag, sizeof rq->obj.etag);
    else if (hname(p, n, "content-length", &v) && !rq->sink)
        str_to_u64(v, &rq->obj.size);
    else if (hname(p, n, "last-modified", &v))
        time_parse_http(v, &rq->obj.mtime);
    return n;
}

static size_t on_read(char *p, size_t sz, size_t nm, void *ud)
{
    struct req *rq = ud;
    size_t want = sz * nm;
    if (want > rq->len - rq->sent)
        want = (size_t)(rq->len - rq->sent);
    if (want == 0)
        return 0;
    ssize_t got;
    do
        got = pread(rq->fd, p, want, (off_t)(rq->off + rq->sent));
    while (got < 0 && errno == EINTR);
    if (got <= 0)
        return CURL_READFUNC_ABORT; /* the file shrank or failed: never send short */
    rq->sent += (uint64_t)got;
    return (size_t)got;
}

int s3c_err_from(const char *code, long status)
{
    if (code && *code)
        for (int e = ERR_NONE + 1; e < ERR_LAST; e++)
            if (err_http_status(-e) == status && strcmp(err_s3_code(-e), code) == 0)
                return -e;
    if (code && strcmp(code, "ConditionalRequestConflict") == 0)
        return -ERR_PRECONDITION; /* AWS: a conditional write lost a race (409) */
    switch (status) {
    case 404:
        return -ERR_NOT_FOUND;
    case 403:
        return -ERR_ACCESS_DENIED;
    case 412:
        return -ERR_PRECONDITION;
    case 416:
        return -ERR_RANGE;
    case 503:
        return -ERR_UNAVAILABLE;
    default:
        return status >= 400 && status < 500 ? -ERR_INVALID_REQUEST : -ERR_IO;
    }
}

static void sentence(struct s3_client *c, struct req *rq, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void sentence(struct s3_client *c, struct req *rq, const char *fmt, ...)
{
    char what[S3_CLIENT_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (rq->key)
        snprintf(rq->err, rq->err_cap, "S3 %s of '%s' in bucket '%s' at %s failed: %s", rq->op,
                 rq->key, c->bucket, c->endpoint, what);
    else
        snprintf(rq->err, rq->err_cap, "S3 %s in bucket '%s' at %s failed: %s", rq->op, c->bucket,
                 c->endpoint, what);
}

static void backoff_sleep(int attempt)
{
    uint32_t rnd = 0;
    if (crypto_random(&rnd, sizeof rnd) < 0)
        rnd = (uint32_t)tg_monotonic_us();
    uint32_t ms = s3_client_backoff_ms(attempt, rnd);
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static int slist_from_lines(const char *lines, struct curl_slist **out)
{
    struct curl_slist *l = NULL;
    const char *p = lines;
    char line[8192];
    while (*p) {
        size_t n = strcspn(p, "\n");
        if (n >= sizeof line) {
            curl_slist_free_all(l);
            return -ERR_TOO_LONG;
        }
        memcpy(line, p, n);
        line[n] = '\0';
        struct curl_slist *nl = curl_slist_append(l, line);
        crypto_wipe(line, n);
        if (!nl) {
            curl_slist_free_all(l);
            return -ERR_NOMEM;
        }
        l = nl;
        p += n + (p[n] == '\n');
    }
    /* libcurl adds these on its own for an upload; unsigned, they would only cost a
     * round trip (Expect) or mislabel a body (Content-Type of a form). */
    struct curl_slist *nl = curl_slist_append(l, "Expect:");
    if (nl)
        nl = curl_slist_append(l = nl, "Accept:");
    if (!nl) {
        curl_slist_free_all(l);
        return -ERR_NOMEM;
    }
    *out = nl;
    return 0;
}

static int attempt_once(struct s3_client *c, struct req *rq, CURLcode *cc)
{
    struct buf host = BUF_INIT, path = BUF_INIT, url = BUF_INIT, lines = BUF_INIT;
    struct curl_slist *sl = NULL;
    CURL *h = rq->curl;
    int rc;

    if (rq->service) { /* ListBuckets: the endpoint's root, no bucket */
        const char *se;
        struct str hp;
        if ((rc = split_endpoint(c->endpoint, &se, &hp)) < 0 || (rc = buf_addstr(&host, hp)) < 0 ||
            (rc = buf_addc(&path, '/')) < 0)
            goto out;
    } else if ((rc = s3_client_target(&c->cfg, rq->key, &host, &path)) < 0) {
        goto out;
    }
    if ((rc = buf_printf(&url, "%.*s%s%s%s%s", (int)(c->scheme - c->endpoint), c->endpoint,
                         buf_cstr(&host), buf_cstr(&path), rq->query ? "?" : "",
                         rq->query ? rq->query : "")) < 0)
        goto out;
    if ((rc = s3_client_sign_headers(&c->cfg, rq->method, buf_cstr(&path), rq->query, rq->hdrs,
                                     rq->n_hdrs, rq->payload_hash, (int64_t)time(NULL), &lines)) <
        0)
        goto out;
    if ((rc = slist_from_lines(buf_cstr(&lines), &sl)) < 0)
        goto out;

    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, buf_cstr(&url));
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, sl);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->cfg.connect_timeout_ms);
    if (c->cfg.timeout_ms > 0)
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->cfg.timeout_ms);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, LOW_SPEED_BYTES);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, LOW_SPEED_SECS);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, rq);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, rq);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "tollgate-s3-client");
    if (strcmp(rq->method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (strcmp(rq->method, "PUT") == 0 && rq->fd >= 0) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, rq);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)rq->len);
    } else if (strcmp(rq->method, "POST") == 0 || strcmp(rq->method, "PUT") == 0) {
        curl_easy_setopt(h, CURLOPT_POST, 1L); /* a body from memory, maybe empty */
        if (rq->method[1] == 'U')
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PUT");
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->has_mem ? rq->mem : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)(rq->has_mem ? rq->mem_len : 0));
    } else if (strcmp(rq->method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
    }
    *cc = curl_easy_perform(h);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
out:
    curl_slist_free_all(sl);
    if (lines.ptr)
        crypto_wipe(lines.ptr, lines.len); /* holds the Authorization header */
    buf_release(&lines);
    buf_release(&host);
    buf_release(&path);
    buf_release(&url);
    return rc;
}

int s3c_perform(struct s3_client *c, struct req *rq)
{
    int tries = c->cfg.retries + 1, rc = -ERR_IO;
    buf_init(&rq->resp, rq->sink ? ERR_BODY_MAX : S3_CLIENT_XML_MAX);
    for (int attempt = 0; attempt < tries; attempt++) {
        CURLcode cc = CURLE_OK;
        char code[128] = "", msg[S3_CLIENT_ERR_MAX] = "";
        if (attempt > 0)
            backoff_sleep(attempt);
        buf_reset(&rq->resp);
        memset(&rq->obj, 0, sizeof rq->obj);
        rq->sent = 0;
        rq->sink_rc = 0;
        if ((rc = attempt_once(c, rq, &cc)) < 0) {
            sentence(c, rq, "cannot build the request (%s)", err_message(rc));
            return rc;
        }
        if (rq->sink_rc < 0) {
            sentence(c, rq, "writing the body failed (%s)", err_message(rq->sink_rc));
            return rq->sink_rc;
        }
        if (cc != CURLE_OK) {
            rc = cc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -ERR_IO;
            sentence(c, rq, "%s after %d attempt%s", curl_easy_strerror(cc), attempt + 1,
                     attempt ? "s" : "");
            if (rq->delivered)
                return rc;
            continue;
        }
        long st = status_of(rq->curl);
        if (st >= 200 && st < 300)
            return 0;
        if (s3_client_error_parse(buf_str(&rq->resp), code, sizeof code, msg, sizeof msg) < 0) {
            code[0] = msg[0] = '\0';
            if (st == 404)
                s3c_copy_trunc(code, sizeof code,
                               strcmp(rq->op, "HeadObject") == 0   ? "NoSuchKey"
                               : strcmp(rq->op, "HeadBucket") == 0 ? "NoSuchBucket"
                                                                   : "NotFound");
        }
        rc = s3c_err_from(code, st);
        sentence(c, rq, "HTTP %ld%s%s%s%s", st, code[0] ? " " : "", code, msg[0] ? ": " : "", msg);
        bool again = st >= 500 || st == 429 || strcmp(code, "SlowDown") == 0;
        if (!again || rq->delivered)
            return rc;
    }
    return rc;
}

int s3c_run(struct s3_client *c, struct req *rq)
{
    rq->curl = c->curl;
    rq->err = c->err;
    rq->err_cap = sizeof c->err;
    c->err[0] = '\0';
    int rc = s3c_perform(c, rq);
    if (rc == 0)
        c->err[0] = '\0';
    return rc;
}

/* ---- lifetime ------------------------------------------------------------------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;
static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int s3_client_new(const struct s3_client_config *cfg, struct s3_client **out)
{
    struct s3_client *c;
    const char *se;
    struct str hp;
    if (!cfg->endpoint || !cfg->region || !cfg->bucket || !cfg->akid || !cfg->secret ||
        !*cfg->bucket || strlen(cfg->akid) >= S3_AKID_MAX || strlen(cfg->secret) >= S3_SECRET_MAX)
        return -ERR_CONFIG;
    if (split_endpoint(cfg->endpoint, &se, &hp) < 0 || hp.len >= 200)
        return -ERR_CONFIG;
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK)
        return -ERR_INTERNAL;
    if (!(c = calloc(1, sizeof *c)))
        return -ERR_NOMEM;
    c->cfg = *cfg;
    c->endpoint = strdup(cfg->endpoint);
    c->region = strdup(cfg->region);
    c->bucket = strdup(cfg->bucket);
    c->akid = strdup(cfg->akid);
    c->secret = strdup(cfg->secret);
    c->curl = curl_easy_init();
    if (!c->endpoint || !c->region || !c->bucket || !c->akid || !c->secret || !c->curl) {
        s3_client_free(c);
        return -ERR_NOMEM;
    }
    size_t n = strlen(c->endpoint);
    if (n > 0 && c->endpoint[n - 1] == '/')
        c->endpoint[n - 1] = '\0';
    c->scheme = c->endpoint + (se - cfg->endpoint);
    c->cfg.endpoint = c->endpoint;
    c->cfg.region = c->region;
    c->cfg.bucket = c->bucket;
    c->cfg.akid = c->akid;
    c->cfg.secret = c->secret;
    if (c->cfg.connect_timeout_ms <= 0)
        c->cfg.connect_timeout_ms = CONNECT_TIMEOUT_DEFAULT_MS;
    if (c->cfg.retries == 0)
        c->cfg.retries = S3_CLIENT_RETRIES_DEFAULT;
    if (c->cfg.retries < 0)
        c->cfg.retries = 0;
    if (c->cfg.retries > S3_CLIENT_RETRIES_MAX)
        c->cfg.retries = S3_CLIENT_RETRIES_MAX;
    if (!c->cfg.multipart_threshold)
        c->cfg.multipart_threshold = S3_CLIENT_THRESHOLD_DEFAULT;
    if (!c->cfg.part_size)
        c->cfg.part_size = S3_CLIENT_PART_DEFAULT;
    if (c->cfg.part_size < S3_CLIENT_PART_MIN)
        c->cfg.part_size = S3_CLIENT_PART_MIN;
    if (c->cfg.parallel <= 0 || c->cfg.parallel > S3_CLIENT_PARALLEL_MAX)
        c->cfg.parallel = S3_CLIENT_PARALLEL_MAX;
    *out = c;
    return 0;
}

void s3_client_free(struct s3_client *c)
{
    if (!c)
        return;
    if (c->secret)
        crypto_wipe(c->secret, strlen(c->secret));
    free(c->endpoint);
    free(c->region);
    free(c->bucket);
    free(c->akid);
    free(c->secret);
    if (c->curl)
        curl_easy_cleanup(c->curl);
    free(c);
}

/* The client's error sentence (vsnprintf: truncation is expected and harmless). */
void s3c_cerr(struct s3_client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void s3c_cerr(struct s3_client *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof c->err, fmt, ap);
    va_end(ap);
}

/* ---- operations ----------------------------------------------------------------- */

int s3_client_head(struct s3_client *c, const char *key, struct s3_client_obj *out)
{
    return s3_client_head_hdrs(c, key, out, NULL);
}

int s3_client_head_hdrs(struct s3_client *c, const char *key, struct s3_client_obj *out,
                        struct buf *hdr_lines)
{
    struct req rq = REQ_INIT("HeadObject", "HEAD", key);
    rq.hdr_out = hdr_lines;
    int rc = s3c_run(c, &rq);
    if (rc == 0 && out)
        *out = rq.obj;
    buf_release(&rq.resp);
    return rc;
}

int s3_client_delete(struct s3_client *c, const char *key)
{
    struct req rq = REQ_INIT("DeleteObject", "DELETE", key);
    int rc = s3c_run(c, &rq);
    buf_release(&rq.resp);
    return rc;
}

int s3_client_get(struct s3_client *c, const char *key, uint64_t off, uint64_t len,
                  s3_client_sink_fn sink, void *ctx, struct s3_client_obj *out)
{
    return s3_client_get_if(c, key, off, len, NULL, sink, ctx, out);
}

int s3_client_get_if(struct s3_client *c, const char *key, uint64_t off, uint64_t len,
                     const char *if_match, s3_client_sink_fn sink, void *ctx,
                     struct s3_client_obj *out)
{
    char range[64], im[96];
    const char *hdrs[4];
    size_t nh = 0;
    struct req rq = REQ_INIT("GetObject", "GET", key);
    rq.sink = sink;
    rq.sink_ctx = ctx;
    if (len || off) {
        if (len)
            snprintf(range, sizeof range, "bytes=%llu-%llu", (unsigned long long)off,
                     (unsigned long long)(off + len - 1));
        else
            snprintf(range, sizeof range, "bytes=%llu-", (unsigned long long)off);
        hdrs[2 * nh] = "Range";
        hdrs[2 * nh + 1] = range;
        nh++;
    }
    if (if_match && *if_match) {
        snprintf(im, sizeof im, "%s%s%s", if_match[0] == '"' ? "" : "\"", if_match,
                 if_match[0] == '"' ? "" : "\"");
        hdrs[2 * nh] = "If-Match";
        hdrs[2 * nh + 1] = im;
        nh++;
    }
    rq.hdrs = nh ? hdrs : NULL;
    rq.n_hdrs = nh;
    int rc = s3c_run(c, &rq);
    if (rc == 0 && out)
        *out = rq.obj;
    buf_release(&rq.resp);
    return rc;
}

static int fd_sink(void *ctx, const void *p, size_t n)
{
    return fd_write_all(*(int *)ctx, p, n);
}

int s3_client_get_fd(struct s3_client *c, const char *key, uint64_t off, uint64_t len, int fd,
                     struct s3_client_obj *out)
{
    return s3_client_get(c, key, off, len, fd_sink, &fd, out);
}

static int put_single(struct s3_client *c, const char *key, int fd, uint64_t size, const char *hash,
                      const char *const *hdrs, size_t n_hdrs, struct s3_client_obj *out)
{
    struct req rq = REQ_INIT("PutObject", "PUT", key);
    rq.hdrs = hdrs;
    rq.n_hdrs = n_hdrs;
    rq.fd = fd;
    rq.len = size;
    rq.payload_hash = hash;
    int rc = s3c_run(c, &rq);
    if (rc == 0 && out) {
        *out = rq.obj;
        out->size = size;
    }
    buf_release(&rq.resp);
    return rc;
}

int s3_client_put_fd(struct s3_client *c, const char *key, int fd, uint64_t size,
                     const uint8_t *sha256, struct s3_client_obj *out)
{
    return s3_client_put_fd_hdrs(c, key, fd, size, sha256, NULL, 0, out);
}

int s3_client_put_fd_hdrs(struct s3_client *c, const char *key, int fd, uint64_t size,
                          const uint8_t *sha256, const char *const *hdrs, size_t n_hdrs,
                          struct s3_client_obj *out)
{
    char hash[65];
    if (size >= c->cfg.multipart_threshold && size > c->cfg.part_size)
        return s3c_put_multipart(c, key, fd, size, hdrs, n_hdrs, out);
    if (sha256)
        hex_encode(sha256, 32, hash);
    return put_single(c, key, fd, size, sha256 ? hash : UNSIGNED_PAYLOAD, hdrs, n_hdrs, out);
}

struct del_parse {
    char key[1024], code[128], msg[256];
    bool failed;
};
static int del_visit(void *ctx, const char *path, const char *text)
{
    struct del_parse *d = ctx;
    if (d->failed || !text)
        return 0;
    if (strcmp(path, "DeleteResult/Error/Key") == 0)
        s3c_copy_trunc(d->key, sizeof d->key, text);
    else if (strcmp(path, "DeleteResult/Error/Code") == 0)
        s3c_copy_trunc(d->code, sizeof d->code, text);
    else if (strcmp(path, "DeleteResult/Error/Message") == 0)
        s3c_copy_trunc(d->msg, sizeof d->msg, text);
    return 0;
}

static int delete_batch(struct s3_client *c, const char *const *keys, size_t n)
{
    struct buf xml = BUF_INIT;
    char hash[65], md5b64[32];
    uint8_t md5[16];
    const char *hdrs[4] = {"Content-MD5", md5b64, "Content-Type", "application/xml"};
    int rc = buf_adds(&xml, "<Delete><Quiet>true</Quiet>");
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = buf_adds(&xml, "<Object><Key>");
        if (rc == 0)
            rc = s3_xml_escape(&xml, str_c(keys[i]));
        if (rc == 0)
            rc = buf_adds(&xml, "</Key></Object>");
    }
    if (rc == 0)
        rc = buf_adds(&xml, "</Delete>");
    if (rc < 0) {
        buf_release(&xml);
        return rc;
    }
    crypto_sha256_hex(xml.ptr, xml.len, hash);
    crypto_md5(xml.ptr, xml.len, md5);
    b64_encode(md5, sizeof md5, md5b64);
    struct req rq = REQ_INIT("DeleteObjects", "POST", NULL);
    rq.query = "delete";
    rq.mem = xml.ptr;
    rq.mem_len = xml.len;
    rq.has_mem = true;
    rq.payload_hash = hash;
    rq.hdrs = hdrs;
    rq.n_hdrs = 2;
    rc = s3c_run(c, &rq);
    if (rc == 0) {
        struct del_parse d = {0};
        rc = s3_xml_parse(buf_str(&rq.resp), del_visit, &d);
        if (rc < 0)
            s3c_cerr(c, "S3 DeleteObjects in bucket '%s' at %s failed: the answer is not XML",
                     c->bucket, c->endpoint);
        else if (d.code[0]) {
            rc = s3c_err_from(d.code, 0);
            s3c_cerr(c, "S3 DeleteObjects in bucket '%s' at %s failed for '%s': %s: %s", c->bucket,
                     c->endpoint, d.key, d.code, d.msg);
        }
    }
    buf_release(&rq.resp);
    buf_release(&xml);
    return rc;
}

int s3_client_delete_many(struct s3_client *c, const char *const *keys, size_t n)
{
    for (size_t i = 0; i < n; i += S3_CLIENT_DELETE_BATCH) {
        size_t k = n - i < S3_CLIENT_DELETE_BATCH ? n - i : S3_CLIENT_DELETE_BATCH;
        int rc = delete_batch(c, keys + i, k);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int s3_client_list(struct s3_client *c, const char *prefix, s3_client_list_fn fn, void *ctx)
{
    struct buf q = BUF_INIT, token = BUF_INIT;
    bool truncated = true;
    int rc = 0;
    while (truncated && rc == 0) {
        buf_reset(&q);
        if (token.len) {
            rc = buf_adds(&q, "continuation-token=");
            if (rc == 0)
                rc = uri_encode(&q, buf_str(&token), false);
            if (rc == 0)
                rc = buf_addc(&q, '&');
        }
        if (rc == 0)
            rc = buf_adds(&q, "list-type=2");
        if (rc == 0 && prefix && *prefix) {
            rc = buf_adds(&q, "&prefix=");
            if (rc == 0)
                rc = uri_encode(&q, str_c(prefix), false);
        }
        if (rc < 0)
            break;
        struct req rq = REQ_INIT("ListObjectsV2", "GET", NULL);
        rq.query = buf_cstr(&q);
        rc = s3c_run(c, &rq);
        if (rc == 0) {
            rc = s3_client_list_parse(buf_str(&rq.resp), fn, ctx, &truncated, &token);
            if (rc == -ERR_MALFORMED_XML)
                s3c_cerr(c,
                         "S3 ListObjectsV2 in bucket '%s' at %s failed: the answer is not a "
                         "ListBucketResult",
                         c->bucket, c->endpoint);
            else if (rc == 0 && truncated && !token.len) {
                rc = -ERR_MALFORMED_XML;
                s3c_cerr(c,
                         "S3 ListObjectsV2 in bucket '%s' at %s failed: truncated without a "
                         "NextContinuationToken",
                         c->bucket, c->endpoint);
            }
        }
        buf_release(&rq.resp);
    }
    buf_release(&q);
    buf_release(&token);
    return rc;
}

int s3_client_list_page(struct s3_client *c, const char *prefix, const char *after, unsigned max,
                        s3_client_list2_fn fn, void *ctx, bool *truncated)
{
    struct buf q = BUF_INIT;
    int rc = buf_printf(&q, "list-type=2&max-keys=%u", max ? max : 1000);
    if (rc == 0 && prefix && *prefix) {
        rc = buf_adds(&q, "&prefix=");
        if (rc == 0)
            rc = uri_encode(&q, str_c(prefix), false);
    }
    if (rc == 0 && after && *after) {
        rc = buf_adds(&q, "&start-after=");
        if (rc == 0)
            rc = uri_encode(&q, str_c(after), false);
    }
    if (rc < 0) {
        buf_release(&q);
        return rc;
    }
    struct req rq = REQ_INIT("ListObjectsV2", "GET", NULL);
    rq.query = buf_cstr(&q);
    rc = s3c_run(c, &rq);
    if (rc == 0) {
        struct list_parse lp = {.fn2 = fn, .ctx = ctx};
        buf_init(&lp.key, 8192);
        rc = s3_xml_parse(buf_str(&rq.resp), list_visit, &lp);
        buf_release(&lp.key);
        if (rc == -ERR_MALFORMED_XML)
            s3c_cerr(c,
                     "S3 ListObjectsV2 in bucket '%s' at %s failed: the answer is not a "
                     "ListBucketResult",
                     c->bucket, c->endpoint);
        if (rc == 0)
            *truncated = lp.truncated;
    }
    buf_release(&rq.resp);
    buf_release(&q);
    return rc;
}

/* ---- buckets ---- */

int s3_client_set_bucket(struct s3_client *c, const char *bucket)
{
    if (strcmp(c->bucket, bucket) == 0)
        return 0;
    char *b = strdup(bucket);
    if (!b)
        return -ERR_NOMEM;
    free(c->bucket);
    c->bucket = b;
    c->cfg.bucket = b;
    return 0;
}

int s3_client_bucket_create(struct s3_client *c)
{
    struct buf xml = BUF_INIT;
    char hash[65];
    const char *hdrs[2] = {"Content-Type", "application/xml"};
    int rc = 0;
    /* Outside us-east-1 (and R2's "auto"), AWS wants the region said again. */
    if (strcmp(c->region, "us-east-1") != 0 && strcmp(c->region, "auto") != 0)
        rc = buf_printf(&xml,
                        "<CreateBucketConfiguration><LocationConstraint>%s</LocationConstraint>"
                        "</CreateBucketConfiguration>",
                        c->region);
    if (rc < 0)
        return rc;
    crypto_sha256_hex(xml.ptr ? xml.ptr : "", xml.len, hash);
    struct req rq = REQ_INIT("CreateBucket", "PUT", NULL);
    rq.mem = xml.ptr ? xml.ptr : "";
    rq.mem_len = xml.len;
    rq.has_mem = true;
    rq.payload_hash = hash;
    rq.hdrs = hdrs;
    rq.n_hdrs = xml.len ? 1 : 0;
    rc = s3c_run(c, &rq);
    if (rc < 0 && strstr(c->err, " BucketAlreadyOwnedByYou")) /* no code of ours has it */
        rc = -ERR_EXISTS;
    buf_release(&rq.resp);
    buf_release(&xml);
    return rc;
}

int s3_client_bucket_head(struct s3_client *c)
{
    struct req rq = REQ_INIT("HeadBucket", "HEAD", NULL);
    int rc = s3c_run(c, &rq);
    buf_release(&rq.resp);
    return rc;
}

int s3_client_bucket_delete(struct s3_client *c)
{
    struct req rq = REQ_INIT("DeleteBucket", "DELETE", NULL);
    int rc = s3c_run(c, &rq);
    buf_release(&rq.resp);
    return rc;
}

#define BUCKETS_PATH "ListAllMyBucketsResult/Buckets/Bucket"
struct buckets_parse {
    s3_client_bucket_fn fn;
    void *ctx;
    char name[64]; /* S3 bucket names: 3..63 */
    int64_t created;
};

static int buckets_visit(void *ctx, const char *path, const char *text)
{
    struct buckets_parse *bp = ctx;
    if (strcmp(path, BUCKETS_PATH) == 0) {
        if (text)
            return 0;
        int rc = bp->name[0] ? bp->fn(bp->ctx, bp->name, bp->created) : 0;
        bp->name[0] = '\0';
        bp->created = 0;
        return rc;
    }
    if (text && strcmp(path, BUCKETS_PATH "/Name") == 0)
        s3c_copy_trunc(bp->name, sizeof bp->name, text);
    else if (text && strcmp(path, BUCKETS_PATH "/CreationDate") == 0 &&
             time_parse_iso8601(str_c(text), &bp->created) < 0)
        bp->created = 0;
    return 0;
}

int s3_client_buckets(struct s3_client *c, s3_client_bucket_fn fn, void *ctx)
{
    struct req rq = REQ_INIT("ListBuckets", "GET", NULL);
    rq.service = true;
    int rc = s3c_run(c, &rq);
    if (rc == 0) {
        struct buckets_parse bp = {.fn = fn, .ctx = ctx};
        rc = s3_xml_parse(buf_str(&rq.resp), buckets_visit, &bp);
        if (rc == -ERR_MALFORMED_XML)
            s3c_cerr(c, "S3 ListBuckets at %s failed: the answer is not a ListAllMyBucketsResult",
                     c->endpoint);
    }
    buf_release(&rq.resp);
    return rc;
}
