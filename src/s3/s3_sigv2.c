/* s3_sigv2.c -- AWS Signature V2, which boto3 still produces for presigned URLs in
 * us-east-1 and s3cmd offers: header auth ("Authorization: AWS id:base64(hmac-sha1)")
 * and query auth (AWSAccessKeyId, Expires, Signature). StringToSign = method, Content-MD5,
 * Content-Type, Date (or Expires), the x-amz-* headers, the resource with its signed
 * sub-resources. Secrets live on the stack for a call and are wiped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "s3/s3_sig_int.h"

/* ---- SigV2 ------------------------------------------------------------------------ */

/* Sub-resources SigV2 signs: the S3 list plus what botocore's HmacV1Auth adds. */
static const char *const V2_SUBRESOURCES[] = {
    "accelerate",
    "acl",
    "analytics",
    "cors",
    "defaultObjectAcl",
    "delete",
    "inventory",
    "lifecycle",
    "location",
    "logging",
    "metrics",
    "notification",
    "object-lock",
    "partNumber",
    "policy",
    "replication",
    "requestPayment",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "restore",
    "select",
    "select-type",
    "storageClass",
    "tagging",
    "torrent",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "website",
};

static bool v2_subresource(struct str name)
{
    for (size_t i = 0; i < sizeof V2_SUBRESOURCES / sizeof V2_SUBRESOURCES[0]; i++)
        if (str_eq_c(name, V2_SUBRESOURCES[i]))
            return true;
    return false;
}

struct amz_hdr {
    size_t n_off, n_len; /* lowercase name in amz_set.names */
    struct str value;
    bool encoded; /* hoisted from the query: percent-decode at output */
};
struct amz_set {
    struct sb names;
    struct amz_hdr h[SIG_AMZ_HEADERS_MAX];
    size_t n;
    int err;
    bool encoded;
};

static void amz_collect(void *arg, struct str name, struct str value)
{
    struct amz_set *s = arg;
    char lname[SIG_HEADER_NAME_MAX];
    if (name.len < 6 || !str_case_eq_c(str_n(name.ptr, 6), "x-amz-"))
        return;
    if (s3_sig_lower_name(name, lname) < 0 || s->n == SIG_AMZ_HEADERS_MAX) {
        s->err = -ERR_AUTH_HEADER;
        return;
    }
    s->h[s->n] = (struct amz_hdr){s->names.len, name.len, value, s->encoded};
    s3_sb_add(&s->names, lname, name.len);
    s->n++;
}

static int amz_cmp(const char *base, const struct amz_hdr *a, const struct amz_hdr *b)
{
    size_t n = a->n_len < b->n_len ? a->n_len : b->n_len;
    int c = memcmp(base + a->n_off, base + b->n_off, n);
    if (c || a->n_len == b->n_len)
        return c;
    return a->n_len < b->n_len ? -1 : 1;
}

/* Without each_header only these can be seen. */
static const char *const V2_PROBED[] = {
    "x-amz-acl",
    "x-amz-content-sha256",
    "x-amz-copy-source",
    "x-amz-date",
    "x-amz-metadata-directive",
    "x-amz-security-token",
    "x-amz-server-side-encryption",
    "x-amz-storage-class",
    "x-amz-tagging",
};

/* CanonicalizedAmzHeaders: sorted lowercase names, trimmed values, repeats joined
 * by ','. In query mode botocore hoists x-amz-* headers into the query string:
 * those count too when no such header was sent. */
static int v2_amz_headers(struct sb *out, const struct s3_sig_req *r, bool query_mode)
{
    char names[1024];
    struct amz_set s = {.n = 0};
    int rc;
    s3_sb_init(&s.names, names, sizeof names);
    if (r->each_header) {
        r->each_header(r->ctx, amz_collect, &s);
    } else {
        for (size_t i = 0; i < sizeof V2_PROBED / sizeof V2_PROBED[0]; i++) {
            struct str v;
            if (s3_sig_req_header(r, V2_PROBED[i], &v))
                amz_collect(&s, str_c(V2_PROBED[i]), v);
        }
    }
    if (query_mode) {
        struct str rest = r->query, item, k, v, dummy;
        char lname[SIG_HEADER_NAME_MAX];
        s.encoded = true;
        while (rest.len) {
            str_split(rest, '&', &item, &rest);
            str_split(item, '=', &k, &v);
            if (k.len < 6 || !str_case_eq_c(str_n(k.ptr, 6), "x-amz-") ||
                (s3_sig_lower_name(k, lname) == 0 && s3_sig_req_header(r, lname, &dummy)))
                continue;
            amz_collect(&s, k, v);
        }
    }
    if ((rc = s.err ? s.err : s.names.err) < 0)
        goto out;
    for (size_t i = 1; i < s.n; i++) {
        struct amz_hdr t = s.h[i];
        size_t j = i;
        while (j > 0 && amz_cmp(s.names.p, &s.h[j - 1], &t) > 0) {
            s.h[j] = s.h[j - 1];
            j--;
        }
        s.h[j] = t;
    }
    for (size_t i = 0; i < s.n; i++) {
        bool same = i > 0 && amz_cmp(s.names.p, &s.h[i - 1], &s.h[i]) == 0;
        if (same) {
            s3_sb_addc(out, ',');
        } else {
            if (i > 0)
                s3_sb_addc(out, '\n');
            s3_sb_add(out, s.names.p + s.h[i].n_off, s.h[i].n_len);
            s3_sb_addc(out, ':');
        }
        if (s.h[i].encoded) {
            char dec[SIG_PARAM_MAX];
            struct str v;
            if ((rc = s3_sig_uri_decode(s.h[i].value, true, dec, sizeof dec, &v)) < 0)
                goto out;
            s3_sb_addstr(out, str_trim(v));
        } else {
            s3_sb_addstr(out, str_trim(s.h[i].value));
        }
    }
    if (s.n)
        s3_sb_addc(out, '\n');
    rc = out->err;
out:
    s3_sb_release(&s.names);
    return rc;
}

/* CanonicalizedResource: the path as sent, then the signed sub-resources sorted by
 * name (stable), values decoded, a value-less one without '='. */
/* botocore's HmacV1Auth signs a path-style bucket request with its operation's
 * "auth path": "/bkt/" (CreateBucket, ListObjects) or "/bkt?list-type=2"
 * (ListObjectsV2). Those variants are tried after the exact path fails. */
enum v2_variant { V2_EXACT, V2_BUCKET_SLASH, V2_LIST_TYPE, V2_VARIANTS };

static bool v2_variant_applies(const struct s3_sig_req *r, enum v2_variant var)
{
    struct str v;
    if (var == V2_EXACT)
        return true;
    /* a bucket-level path: "/bkt", one segment */
    if (r->path.len < 2 || r->path.ptr[0] != '/' || memchr(r->path.ptr + 1, '/', r->path.len - 1))
        return false;
    if (var == V2_LIST_TYPE)
        return query_get(r->query, "list-type", &v) && str_eq_c(v, "2");
    return true;
}

static void v2_resource(struct sb *out, const struct s3_sig_req *r, enum v2_variant var)
{
    struct str sub[SIG_QUERY_PARAMS_MAX];
    size_t n = 0;
    struct str rest = r->query, item, k, v;
    s3_sb_addstr(out, r->path.len ? r->path : STR_LIT("/"));
    if (var == V2_BUCKET_SLASH)
        s3_sb_addc(out, '/');
    else if (var == V2_LIST_TYPE)
        s3_sb_addstr(out, STR_LIT("?list-type=2"));
    while (rest.len && n < SIG_QUERY_PARAMS_MAX) {
        str_split(rest, '&', &item, &rest);
        str_split(item, '=', &k, &v);
        if (v2_subresource(k))
            sub[n++] = item;
    }
    for (size_t i = 1; i < n; i++) {
        struct str t = sub[i], tk, tv;
        size_t j = i;
        str_split(t, '=', &tk, &tv);
        while (j > 0) {
            struct str pk, pv;
            str_split(sub[j - 1], '=', &pk, &pv);
            size_t m = pk.len < tk.len ? pk.len : tk.len;
            int c = memcmp(pk.ptr, tk.ptr, m);
            if (c < 0 || (c == 0 && pk.len <= tk.len))
                break;
            sub[j] = sub[j - 1];
            j--;
        }
        sub[j] = t;
    }
    for (size_t i = 0; i < n; i++) {
        s3_sb_addc(out, i ? '&' : '?');
        if (!str_split(sub[i], '=', &k, &v)) {
            s3_sb_addstr(out, k);
            continue;
        }
        char dec[SIG_PARAM_MAX];
        struct str d;
        s3_sb_addstr(out, k);
        s3_sb_addc(out, '=');
        /* botocore decodes with urllib's unquote, which keeps '+' */
        if (s3_sig_uri_decode(v, false, dec, sizeof dec, &d) < 0) {
            out->err = -ERR_TOO_LONG;
            return;
        }
        s3_sb_addstr(out, d);
    }
}

/* The header value, else (query mode) the decoded query parameter, trimmed. */
static void v2_std_header(struct sb *out, const struct s3_sig_req *r, const char *lname,
                          bool query_mode)
{
    struct str v;
    char dec[SIG_PARAM_MAX];
    if (s3_sig_req_header(r, lname, &v))
        s3_sb_addstr(out, str_trim(v));
    else if (query_mode && s3_sig_query_param(r->query, lname, dec, sizeof dec, &v) == 0)
        s3_sb_addstr(out, str_trim(v));
    s3_sb_addc(out, '\n');
}

static int v2_verify(const struct s3_sig_req *r, bool query_mode, struct str akid,
                     struct str sig_b64, struct str date_line, s3_secret_fn secret_fn,
                     void *secret_ctx, struct s3_auth *a)
{
    char secret[S3_SECRET_MAX + 1], stack[SIG_STACK_BUF];
    uint8_t want[20], got[20];
    struct sb sts;
    int rc;

    if (!akid.len || akid.len >= S3_AKID_MAX || b64_decode(sig_b64, want, sizeof want) != 20)
        return query_mode ? -ERR_AUTH_QUERY : -ERR_AUTH_HEADER;
    s3_sb_init(&sts, stack, sizeof stack);
    s3_sb_addstr(&sts, r->method);
    s3_sb_addc(&sts, '\n');
    v2_std_header(&sts, r, "content-md5", query_mode);
    v2_std_header(&sts, r, "content-type", query_mode);
    s3_sb_addstr(&sts, date_line);
    s3_sb_addc(&sts, '\n');
    if ((rc = v2_amz_headers(&sts, r, query_mode)) < 0)
        goto out;
    if ((rc = secret_fn(secret_ctx, akid, secret, sizeof secret)) < 0)
        goto out;
    size_t head = sts.len;
    bool match = false;
    for (int var = V2_EXACT; var < V2_VARIANTS && !match; var++) {
        if (!v2_variant_applies(r, (enum v2_variant)var))
            continue;
        sts.len = head;
        v2_resource(&sts, r, (enum v2_variant)var);
        if ((rc = sts.err) < 0)
            break;
        crypto_hmac_sha1(secret, strlen(secret), sts.p, sts.len, got);
        match = crypto_ct_eq(want, got, 20);
    }
    crypto_wipe(secret, sizeof secret);
    if (rc < 0)
        goto out;
    if (!match) {
        rc = -ERR_SIGNATURE;
        goto out;
    }
    str_copy(akid, a->akid, sizeof a->akid);
    rc = 0;
out:
    s3_sb_release(&sts);
    return rc;
}

/* RFC 1123 with "GMT", or with "+0000" as the AWS SigV2 examples write it. */
static int v2_time(struct str v, int64_t *t)
{
    char tmp[64];
    v = str_trim(v);
    if (time_parse_http(v, t) == 0 || time_parse_amz(v, t) == 0)
        return 0;
    if (!str_ends(v, " +0000") || v.len >= sizeof tmp)
        return -ERR_MISSING_DATE;
    snprintf(tmp, sizeof tmp, "%.*s GMT", (int)(v.len - 6), v.ptr);
    return time_parse_http(str_c(tmp), t) == 0 ? 0 : -ERR_MISSING_DATE;
}

int s3_sigv2_header_verify(const struct s3_sig_req *r, struct str authz, int64_t now,
                           s3_secret_fn secret_fn, void *secret_ctx, struct s3_auth *out)
{
    struct s3_auth a = {.kind = S3_AUTH_V2_HEADER, .payload = S3_PAYLOAD_UNSIGNED};
    struct str cred = str_trim(str_n(authz.ptr + 4, authz.len - 4)), akid, sig, v;
    struct str date_line = STR_NULL;
    int64_t t;
    int rc;

    if (!str_split(cred, ':', &akid, &sig))
        return -ERR_AUTH_HEADER;
    if (s3_sig_req_header(r, "x-amz-date", &v)) {
        /* x-amz-date is signed among the amz headers; the Date line stays empty */
        if (v2_time(v, &t) < 0)
            return -ERR_MISSING_DATE;
    } else if (s3_sig_req_header(r, "date", &v) && v2_time(v, &t) == 0) {
        date_line = str_trim(v);
    } else {
        return -ERR_MISSING_DATE;
    }
    if (t > now + S3_SIG_MAX_SKEW || t < now - S3_SIG_MAX_SKEW)
        return -ERR_TIME_SKEWED;
    if ((rc = v2_verify(r, false, akid, sig, date_line, secret_fn, secret_ctx, &a)) < 0)
        return rc;
    *out = a;
    return 0;
}

int s3_sigv2_query_verify(const struct s3_sig_req *r, int64_t now, s3_secret_fn secret_fn,
                          void *secret_ctx, struct s3_auth *out)
{
    char b_akid[S3_AKID_MAX], b_sig[64], b_exp[32];
    struct s3_auth a = {.kind = S3_AUTH_V2_QUERY, .payload = S3_PAYLOAD_UNSIGNED};
    struct str akid, sig, exp;
    int64_t expires;
    int rc;

    if (s3_sig_query_param(r->query, "AWSAccessKeyId", b_akid, sizeof b_akid, &akid) < 0 ||
        s3_sig_query_param(r->query, "Signature", b_sig, sizeof b_sig, &sig) < 0 ||
        s3_sig_query_param(r->query, "Expires", b_exp, sizeof b_exp, &exp) < 0 ||
        str_to_i64(exp, &expires) < 0)
        return -ERR_AUTH_QUERY;
    /* s3_sig_query_param turned '+' into ' ': base64 has '+' but never ' ', so undo it
     * for clients that did not encode it. */
    for (size_t i = 0; i < sig.len; i++)
        if (b_sig[i] == ' ')
            b_sig[i] = '+';
    if (now > expires)
        return -ERR_EXPIRED;
    if ((rc = v2_verify(r, true, akid, sig, exp, secret_fn, secret_ctx, &a)) < 0)
        return rc;
    a.expires_at = expires;
    *out = a;
    return 0;
}
