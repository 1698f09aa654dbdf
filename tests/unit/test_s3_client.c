/* test_s3_client.c -- the S3 client's pure parts: the signed headers of a request
 * against the AWS documentation vectors (notes/sigv4.md B2: GET Object with Range, PUT
 * Object, GET Bucket Lifecycle, List Objects; the Authorization header compared byte
 * for byte), addressing (path and virtual), the signed headers verified by the
 * server's own verifier, ListObjectsV2 and error bodies, the backoff schedule, and the
 * error sentence of an unreachable endpoint (which never carries the secret). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "s3/s3.h"

#define AKID "AKIAIOSFODNN7EXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define T2013 1369353600 /* 20130524T000000Z */
#define EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define CRED "Credential=" AKID "/20130524/us-east-1/s3/aws4_request,"

static const struct s3_client_config aws_virtual = {
    .endpoint = "https://s3.amazonaws.com",
    .region = "us-east-1",
    .bucket = "examplebucket",
    .virtual_host = true,
    .akid = AKID,
    .secret = SECRET,
};

static const struct {
    const char *name, *method, *key, *query;
    const char *hdrs[4];
    size_t n_hdrs;
    const char *payload, *want;
} vectors[] = {
    {"GET Object with Range",
     "GET",
     "test.txt",
     NULL,
     {"Range", "bytes=0-9"},
     1,
     EMPTY,
     "Host: examplebucket.s3.amazonaws.com\n"
     "Range: bytes=0-9\n"
     "x-amz-content-sha256: " EMPTY "\n"
     "x-amz-date: 20130524T000000Z\n"
     "Authorization: AWS4-HMAC-SHA256 " CRED
     "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
     "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41\n"},
    {"PUT Object",
     "PUT",
     "test$file.text",
     NULL,
     {"Date", "Fri, 24 May 2013 00:00:00 GMT", "x-amz-storage-class", "REDUCED_REDUNDANCY"},
     2,
     "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
     "Date: Fri, 24 May 2013 00:00:00 GMT\n"
     "Host: examplebucket.s3.amazonaws.com\n"
     "x-amz-content-sha256: 44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072\n"
     "x-amz-date: 20130524T000000Z\n"
     "x-amz-storage-class: REDUCED_REDUNDANCY\n"
     "Authorization: AWS4-HMAC-SHA256 " CRED
     "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,"
     "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd\n"},
    {"GET Bucket Lifecycle",
     "GET",
     NULL,
     "lifecycle",
     {NULL},
     0,
     EMPTY,
     "Host: examplebucket.s3.amazonaws.com\n"
     "x-amz-content-sha256: " EMPTY "\n"
     "x-amz-date: 20130524T000000Z\n"
     "Authorization: AWS4-HMAC-SHA256 " CRED "SignedHeaders=host;x-amz-content-sha256;x-amz-date,"
     "Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543\n"},
    {"Get Bucket (List Objects)",
     "GET",
     NULL,
     "max-keys=2&prefix=J",
     {NULL},
     0,
     EMPTY,
     "Host: examplebucket.s3.amazonaws.com\n"
     "x-amz-content-sha256: " EMPTY "\n"
     "x-amz-date: 20130524T000000Z\n"
     "Authorization: AWS4-HMAC-SHA256 " CRED "SignedHeaders=host;x-amz-content-sha256;x-amz-date,"
     "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7\n"},
};

static void test_sign_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        struct buf host = BUF_INIT, path = BUF_INIT, out = BUF_INIT;
        print_message("vector %zu: %s\n", i, vectors[i].name);
        assert_int_equal(s3_client_target(&aws_virtual, vectors[i].key, &host, &path), 0);
        assert_string_equal(buf_cstr(&host), "examplebucket.s3.amazonaws.com");
        assert_int_equal(s3_client_sign_headers(&aws_virtual, vectors[i].method, buf_cstr(&path),
                                                vectors[i].query, vectors[i].hdrs,
                                                vectors[i].n_hdrs, vectors[i].payload, T2013, &out),
                         0);
        assert_string_equal(buf_cstr(&out), vectors[i].want);
        buf_release(&host);
        buf_release(&path);
        buf_release(&out);
    }
}

static const struct {
    const char *endpoint, *bucket, *key;
    bool virt;
    int rc;
    const char *host, *path;
} targets[] = {
    {"https://s3.amazonaws.com", "examplebucket", "test$file.text", true, 0,
     "examplebucket.s3.amazonaws.com", "/test%24file.text"},
    {"http://127.0.0.1:9000", "bkt", "a b/c+d~e", false, 0, "127.0.0.1:9000", "/bkt/a%20b/c%2Bd~e"},
    {"http://127.0.0.1:9000/", "bkt", NULL, false, 0, "127.0.0.1:9000", "/bkt"},
    {"https://acct.r2.cloudflarestorage.com", "b", "x/y.parquet", true, 0,
     "b.acct.r2.cloudflarestorage.com", "/x/y.parquet"},
    {"http://127.0.0.1:9000/prefix", "bkt", "k", false, -ERR_CONFIG, NULL, NULL},
    {"ftp://host", "bkt", "k", false, -ERR_CONFIG, NULL, NULL},
    {"127.0.0.1:9000", "bkt", "k", false, -ERR_CONFIG, NULL, NULL},
};

static void test_targets(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        struct s3_client_config cfg = aws_virtual;
        struct buf host = BUF_INIT, path = BUF_INIT;
        print_message("row %zu: %s\n", i, targets[i].endpoint);
        cfg.endpoint = targets[i].endpoint;
        cfg.bucket = targets[i].bucket;
        cfg.virtual_host = targets[i].virt;
        assert_int_equal(s3_client_target(&cfg, targets[i].key, &host, &path), targets[i].rc);
        if (targets[i].rc == 0) {
            assert_string_equal(buf_cstr(&host), targets[i].host);
            assert_string_equal(buf_cstr(&path), targets[i].path);
        }
        buf_release(&host);
        buf_release(&path);
    }
}

/* The headers the client signs pass the server's verifier (one SigV4, two directions). */
struct lines {
    const char *text;
};
static bool line_header(void *ctx, const char *lname, struct str *v)
{
    struct lines *l = ctx;
    const char *p = l->text;
    size_t n = strlen(lname);
    while (*p) {
        size_t len = strcspn(p, "\n");
        if (len > n + 1 && strncasecmp(p, lname, n) == 0 && p[n] == ':') {
            *v = str_n(p + n + 2, len - n - 2); /* a view: the verifier keeps several */
            return true;
        }
        p += len + (p[len] == '\n');
    }
    return false;
}
static int secret_of(void *ctx, struct str akid, char *secret, size_t cap)
{
    (void)ctx;
    if (!str_eq_c(akid, AKID))
        return -ERR_INVALID_ACCESS_KEY;
    return str_copy(str_c(SECRET), secret, cap);
}

static void test_sign_verifies(void **state)
{
    (void)state;
    struct s3_client_config cfg = aws_virtual;
    struct buf host = BUF_INIT, path = BUF_INIT, out = BUF_INIT;
    const char *hdrs[] = {"Content-MD5", "1B2M2Y8AsgTpgAmY7PhCfg==", "Content-Type",
                          "application/xml"};
    int64_t now = 1795393655;
    cfg.endpoint = "http://127.0.0.1:9000";
    cfg.virtual_host = false;
    assert_int_equal(s3_client_target(&cfg, "dir/a b.txt", &host, &path), 0);
    assert_int_equal(s3_client_sign_headers(&cfg, "POST", buf_cstr(&path),
                                            "partNumber=2&uploadId=a%2Fb", hdrs, 2, EMPTY, now,
                                            &out),
                     0);
    struct lines l = {buf_cstr(&out)};
    struct s3_sig_req r = {
        .method = STR_LIT("POST"),
        .path = buf_str(&path),
        .query = STR_LIT("partNumber=2&uploadId=a%2Fb"),
        .header = line_header,
        .ctx = &l,
    };
    struct s3_auth a;
    assert_int_equal(s3_auth_verify(&r, now, "us-east-1", secret_of, NULL, &a), 0);
    assert_int_equal(a.kind, S3_AUTH_V4_HEADER);
    assert_string_equal(a.akid, AKID);
    r.method = STR_LIT("PUT"); /* anything changed breaks it */
    assert_int_equal(s3_auth_verify(&r, now, "us-east-1", secret_of, NULL, &a), -ERR_SIGNATURE);
    buf_release(&host);
    buf_release(&path);
    buf_release(&out);
}

/* ---- XML ---------------------------------------------------------------------- */

struct seen {
    char keys[8][64];
    uint64_t sizes[8];
    char etags[8][40];
    size_t n;
};
static int on_obj(void *ctx, const char *key, uint64_t size, const char *etag)
{
    struct seen *s = ctx;
    if (s->n >= 8)
        return -ERR_INVALID;
    snprintf(s->keys[s->n], sizeof s->keys[0], "%s", key);
    snprintf(s->etags[s->n], sizeof s->etags[0], "%s", etag);
    s->sizes[s->n++] = size;
    return 0;
}

static void test_list_parse(void **state)
{
    (void)state;
    static const char page[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<Name>bkt</Name><Prefix>a/</Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys>"
        "<IsTruncated>true</IsTruncated>\n"
        "<Contents><Key>a/one</Key><LastModified>2026-02-13T00:00:00.000Z</LastModified>"
        "<ETag>&quot;0cc175b9c0f1b6a831c399e269772661&quot;</ETag><Size>1</Size>"
        "<StorageClass>STANDARD</StorageClass></Contents>\n"
        "<Contents><Key>a/t&amp;w&lt;o&#13;</Key><Size>1234567890123</Size>"
        "<ETag>\"x-2\"</ETag></Contents>\n"
        "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</"
        "NextContinuationToken>"
        "</ListBucketResult>";
    struct seen s = {0};
    struct buf token = BUF_INIT;
    bool truncated = false;
    assert_int_equal(
        s3_client_list_parse(str_n(page, sizeof page - 1), on_obj, &s, &truncated, &token), 0);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.keys[0], "a/one");
    assert_int_equal(s.sizes[0], 1);
    assert_string_equal(s.etags[0], "\"0cc175b9c0f1b6a831c399e269772661\"");
    assert_string_equal(s.keys[1], "a/t&w<o\r");
    assert_true(s.sizes[1] == 1234567890123ull);
    assert_true(truncated);
    assert_string_equal(buf_cstr(&token), "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");

    static const char last[] = "<ListBucketResult><IsTruncated>false</IsTruncated>"
                               "<KeyCount>0</KeyCount></ListBucketResult>";
    memset(&s, 0, sizeof s);
    assert_int_equal(
        s3_client_list_parse(str_n(last, sizeof last - 1), on_obj, &s, &truncated, &token), 0);
    assert_false(truncated);
    assert_int_equal(s.n, 0);
    assert_int_equal(token.len, 0);

    static const char *const bad[] = {
        "<ListBucketResult><Contents><Key>a</Key><Size>x</Size></Contents></ListBucketResult>",
        "<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>",
        "<ListBucketResult><Contents>",
        "not xml",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        print_message("bad %zu\n", i);
        assert_int_equal(s3_client_list_parse(str_c(bad[i]), on_obj, &s, &truncated, &token),
                         -ERR_MALFORMED_XML);
    }
    buf_release(&token);
}

static void test_error_parse(void **state)
{
    (void)state;
    static const char body[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code>"
        "<Message>The specified key does not exist.</Message><Key>a&amp;b</Key>"
        "<RequestId>4442587FB7D0A2F9</RequestId></Error>";
    char code[32], msg[128], small[8];
    assert_int_equal(s3_client_error_parse(str_c(body), code, sizeof code, msg, sizeof msg), 0);
    assert_string_equal(code, "NoSuchKey");
    assert_string_equal(msg, "The specified key does not exist.");
    assert_int_equal(s3_client_error_parse(str_c(body), code, sizeof code, small, sizeof small), 0);
    assert_string_equal(small, "The spe"); /* truncated, terminated */
    strcpy(code, "untouched");
    assert_int_equal(
        s3_client_error_parse(str_c("<ListBucketResult/>"), code, sizeof code, msg, sizeof msg),
        -ERR_NOT_FOUND);
    assert_string_equal(code, "untouched");
    assert_int_equal(s3_client_error_parse(str_c(""), code, sizeof code, msg, sizeof msg),
                     -ERR_MALFORMED_XML);
    assert_int_equal(s3_client_error_parse(str_c("<Error><Code>SlowDown</Code></Error>"), code,
                                           sizeof code, msg, sizeof msg),
                     0);
    assert_string_equal(code, "SlowDown");
    assert_string_equal(msg, "");
}

/* ---- backoff -------------------------------------------------------------------- */

static void test_backoff(void **state)
{
    (void)state;
    static const uint32_t rnds[] = {0, 1, 99, 100, 101, 12345, 0x7fffffffu, 0xffffffffu};
    uint64_t total_max = 0;
    for (int a = 1; a <= 40; a++) {
        uint64_t ceil = S3_CLIENT_BACKOFF_BASE_MS;
        for (int i = 1; i < a && ceil < S3_CLIENT_BACKOFF_CAP_MS; i++)
            ceil *= 2;
        if (ceil > S3_CLIENT_BACKOFF_CAP_MS)
            ceil = S3_CLIENT_BACKOFF_CAP_MS;
        for (size_t i = 0; i < sizeof rnds / sizeof rnds[0]; i++)
            assert_true(s3_client_backoff_ms(a, rnds[i]) <= ceil);
        assert_int_equal(s3_client_backoff_ms(a, 0), 0);
        assert_int_equal(s3_client_backoff_ms(a, (uint32_t)ceil), ceil); /* the top is reached */
        if (a <= S3_CLIENT_RETRIES_MAX)
            total_max += ceil;
    }
    assert_int_equal(s3_client_backoff_ms(1, 0xffffffffu) <= 100, 1);
    assert_int_equal(s3_client_backoff_ms(40, 0xffffffffu) <= S3_CLIENT_BACKOFF_CAP_MS, 1);
    /* The worst case of a request's waits is bounded: under a minute. */
    assert_true(total_max < 60000);
}

/* ---- an unreachable endpoint ------------------------------------------------------- */

static void test_unreachable(void **state)
{
    (void)state;
    struct s3_client_config cfg = aws_virtual;
    struct s3_client *c = NULL;
    struct s3_client_obj o;
    cfg.endpoint = "http://127.0.0.1:1";
    cfg.virtual_host = false;
    cfg.retries = 1;
    cfg.connect_timeout_ms = 2000;
    assert_int_equal(s3_client_new(&cfg, &c), 0);
    assert_true(s3_client_head(c, "k", &o) < 0);
    const char *e = s3_client_error(c);
    print_message("%s\n", e);
    assert_non_null(strstr(e, "http://127.0.0.1:1"));
    assert_non_null(strstr(e, "HeadObject"));
    assert_non_null(strstr(e, "2 attempts"));
    assert_null(strstr(e, SECRET));
    s3_client_free(c);

    cfg.endpoint = "http://127.0.0.1:1/path";
    assert_int_equal(s3_client_new(&cfg, &c), -ERR_CONFIG);
    s3_client_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_vectors),  cmocka_unit_test(test_targets),
        cmocka_unit_test(test_sign_verifies), cmocka_unit_test(test_list_parse),
        cmocka_unit_test(test_error_parse),   cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_unreachable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
