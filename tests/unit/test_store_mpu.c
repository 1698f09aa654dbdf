/* test_store_mpu.c -- multipart uploads: complete (etag, body, attrs, idempotent
 * repeat), part replacement, ordering, too-small parts, etag mismatch, unknown
 * uploads, abort, listings of parts and uploads, abort of old uploads. */
#include "crypto/crypto.h"
#include "test_store_helpers.h"

#define MiB (1u << 20)

static int part_put(struct store *st, const char *key, const char *id, unsigned part,
                    const void *data, size_t n, char etag[STORE_ETAG_MAX])
{
    struct store_put *p = NULL;
    int rc = store_put_begin(st, &p);
    if (rc < 0)
        return rc;
    if ((rc = store_put_write(p, data, n)) < 0) {
        store_put_abort(p);
        return rc;
    }
    return store_mpu_part_commit(p, STR_LIT("bkt"), str_c(key), str_c(id), part, etag);
}

static char *pattern(size_t n, unsigned seed)
{
    char *b = malloc(n);
    assert_non_null(b);
    for (size_t i = 0; i < n; i++)
        b[i] = (char)((i * 31 + seed * 7 + (i >> 12)) & 0xff);
    return b;
}

static void test_complete(void **state)
{
    struct tstore *t = *state;
    struct store_attrs attrs = {"application/x-parquet", "{\"x-amz-meta-day\":\"13\"}"};
    struct store_mpu_part parts[3] = {{1, "", 0, 0}, {2, "", 0, 0}, {3, "", 0, 0}};
    const size_t sizes[3] = {5 * MiB, 5 * MiB + 3, 100};
    char *data[3], id[STORE_UPLOAD_ID_MAX];
    uint8_t md5s[48], d[16], sha[32];
    struct store_obj_info info = {0}, again = {0};
    char want_etag[STORE_ETAG_MAX];

    assert_int_equal(store_mpu_create(t->st, STR_LIT("bkt"), STR_LIT("big.parquet"), &attrs, id),
                     0);
    assert_int_equal(strlen(id), 32);
    struct crypto_hash h = {0};
    assert_int_equal(crypto_sha256_init(&h), 0);
    for (int i = 0; i < 3; i++) {
        data[i] = pattern(sizes[i], (unsigned)i);
        crypto_md5(data[i], sizes[i], md5s + 16 * i);
        crypto_sha256_update(&h, data[i], sizes[i]);
    }
    crypto_sha256_final(&h, sha);
    /* uploaded out of order: only the Complete list's order matters */
    for (int i = 2; i >= 0; i--)
        assert_int_equal(
            part_put(t->st, "big.parquet", id, (unsigned)i + 1, data[i], sizes[i], parts[i].etag),
            0);
    for (int i = 0; i < 3; i++) {
        char hex[33];
        hex_encode(md5s + 16 * i, 16, hex);
        assert_string_equal(parts[i].etag, hex);
    }
    char q[STORE_ETAG_MAX];
    snprintf(q, sizeof q, "\"%.32s\"", parts[1].etag); /* quoted: ok */
    memcpy(parts[1].etag, q, sizeof q);
    crypto_md5(md5s, 48, d);
    hex_encode(d, 16, want_etag);
    strcat(want_etag, "-3");

    assert_int_equal(store_mpu_complete(t->st, STR_LIT("bkt"), STR_LIT("big.parquet"), str_c(id),
                                        parts, 3, &info),
                     0);
    assert_string_equal(info.etag, want_etag);
    assert_int_equal(info.size, sizes[0] + sizes[1] + sizes[2]);
    assert_memory_equal(info.sha256, sha, 32);
    assert_string_equal(info.content_type, "application/x-parquet");
    assert_string_equal(info.meta_json, attrs.meta_json);

    size_t len = 0;
    char *body = get_all(t->st, "bkt", "big.parquet", &len);
    assert_int_equal(len, info.size);
    assert_memory_equal(body, data[0], sizes[0]);
    assert_memory_equal(body + sizes[0], data[1], sizes[1]);
    assert_memory_equal(body + sizes[0] + sizes[1], data[2], sizes[2]);
    free(body);

    /* the upload is gone, but repeating the Complete answers as before */
    bool tr;
    assert_int_equal(store_mpu_list_parts(t->st, STR_LIT("bkt"), STR_LIT("big.parquet"), str_c(id),
                                          0, 10, NULL, NULL, &tr),
                     -ERR_NO_SUCH_UPLOAD);
    assert_int_equal(store_mpu_complete(t->st, STR_LIT("bkt"), STR_LIT("big.parquet"), str_c(id),
                                        parts, 3, &again),
                     0);
    assert_string_equal(again.etag, info.etag);
    assert_int_equal(again.size, info.size);
    store_obj_info_release(&again);
    /* ...not with other parts, nor for another key */
    assert_int_equal(store_mpu_complete(t->st, STR_LIT("bkt"), STR_LIT("big.parquet"), str_c(id),
                                        parts, 2, &again),
                     -ERR_NO_SUCH_UPLOAD);
    assert_int_equal(
        store_mpu_complete(t->st, STR_LIT("bkt"), STR_LIT("other"), str_c(id), parts, 3, &again),
        -ERR_NO_SUCH_UPLOAD);
    /* ...nor once the key holds another object */
    assert_int_equal(put_str(t->st, "bkt", "big.parquet", "replaced"), 0);
    assert_int_equal(store_mpu_complete(t->st, STR_LIT("bkt"), STR_LIT("big.parquet"), str_c(id),
                                        parts, 3, &again),
                     -ERR_NO_SUCH_UPLOAD);

    /* part blobs are unreferenced now; the object blob was replaced too */
    unsigned removed = 0;
    assert_int_equal(store_gc(t->st, 0, &removed, NULL), 0);
    assert_int_equal(removed, 4);
    assert_int_equal(count_blobs(t), 1);
    store_obj_info_release(&info);
    for (int i = 0; i < 3; i++)
        free(data[i]);
}

/* One part: the object is the part's blob, no copy. */
static void test_complete_single_part(void **state)
{
    struct tstore *t = *state;
    struct store_mpu_part part = {1, "", 0, 0};
    struct store_obj_info info = {0};
    char id[STORE_UPLOAD_ID_MAX];
    uint8_t d[16], m[16];

    assert_int_equal(store_mpu_create(t->st, STR_LIT("bkt"), STR_LIT("one"), NULL, id), 0);
    assert_int_equal(part_put(t->st, "one", id, 1, "tiny", 4, part.etag), 0);
    assert_int_equal(count_blobs(t), 1);
    for (char *c = part.etag; *c; c++) /* case does not matter */
        *c = (char)(*c >= 'a' && *c <= 'f' ? *c - 32 : *c);
    assert_int_equal(
        store_mpu_complete(t->st, STR_LIT("bkt"), STR_LIT("one"), str_c(id), &part, 1, &info), 0);
    crypto_md5("tiny", 4, m);
    crypto_md5(m, 16, d);
    char want[STORE_ETAG_MAX];
    hex_encode(d, 16, want);
    strcat(want, "-1");
    assert_string_equal(info.etag, want);
    assert_string_equal(info.content_type, "application/octet-stream");
    assert_string_equal(info.meta_json, "{}");
    assert_int_equal(count_blobs(t), 1);
    assert_int_equal(store_gc(t->st, 0, NULL, NULL), 0);
    char *b = get_all(t->st, "bkt", "one", NULL);
    assert_string_equal(b, "tiny");
    free(b);
    store_obj_info_release(&info);
}

static void test_complete_errors(void **state)
{
    struct tstore *t = *state;
    struct store_obj_info info = {0};
    struct store_mpu_part p[3] = {{1, "", 0, 0}, {2, "", 0, 0}, {3, "", 0, 0}};
    char id[STORE_UPLOAD_ID_MAX], etag[STORE_ETAG_MAX], first[STORE_ETAG_MAX];
    char *big = pattern(5 * MiB, 9);

    assert_int_equal(store_mpu_create(t->st, STR_LIT("bkt"), STR_LIT("k"), NULL, id), 0);
    assert_int_equal(part_put(t->st, "k", id, 1, "small one", 9, first), 0);
    assert_int_equal(part_put(t->st, "k", id, 2, "small two", 9, p[1].etag), 0);
    /* part 1 uploaded again: replaced */
    assert_int_equal(part_put(t->st, "k", id, 1, big, 5 * MiB, p[0].etag), 0);
    assert_string_not_equal(first, p[0].etag);

    struct str k = STR_LIT("k"), b = STR_LIT("bkt");
    assert_int_equal(store_mpu_complete(t->st, b, k, str_c(id), p, 0, &info), -ERR_MALFORMED_XML);
    struct store_mpu_part swapped[2] = {p[1], p[0]};
    assert_int_equal(store_mpu_complete(t->st, b, k, str_c(id), swapped, 2, &info),
                     -ERR_INVALID_PART_ORDER);
    struct store_mpu_part dup[2] = {p[0], p[0]};
    assert_int_equal(store_mpu_complete(t->st, b, k, str_c(id), dup, 2, &info),
                     -ERR_INVALID_PART_ORDER);
    struct store_mpu_part stale[2] = {p[0], p[1]};
    snprintf(stale[0].etag, sizeof stale[0].etag, "%s", first); /* the replaced part's etag */
    assert_int_equal(store_mpu_complete(t->st, b, k, str_c(id), stale, 2, &info),
                     -ERR_INVALID_PART);
    snprintf(stale[0].etag, sizeof stale[0].etag, "not-an-etag");
    assert_int_equal(store_mpu_complete(t->st, b, k, str_c(id), stale, 2, &info),
                     -ERR_INVALID_PART);
    struct store_mpu_part missing[3] = {p[0], p[1], {7, "", 0, 0}};
    snprintf(missing[2].etag, sizeof missing[2].etag, "%s", p[1].etag);
    assert_int_equal(store_mpu_complete(t->st, b, k, str_c(id), missing, 3, &info),
                     -ERR_INVALID_PART);
    struct store_mpu_part zero[1] = {{0, "", 0, 0}};
    snprintf(zero[0].etag, sizeof zero[0].etag, "%s", p[1].etag);
    assert_int_equal(store_mpu_complete(t->st, b, k, str_c(id), zero, 1, &info),
                     -ERR_INVALID_PART_NUMBER);

    /* all but the last part must be >= 5 MiB */
    assert_int_equal(part_put(t->st, "k", id, 3, "small three", 11, p[2].etag), 0);
    assert_int_equal(store_mpu_complete(t->st, b, k, str_c(id), p + 1, 2, &info),
                     -ERR_ENTITY_TOO_SMALL);
    assert_int_equal(store_mpu_complete(t->st, b, k, str_c(id), p, 3, &info),
                     -ERR_ENTITY_TOO_SMALL);

    /* part numbers out of range, unknown upload, wrong key: nothing left in tmp/ */
    assert_int_equal(part_put(t->st, "k", id, 0, "x", 1, etag), -ERR_INVALID_PART_NUMBER);
    assert_int_equal(part_put(t->st, "k", id, 10001, "x", 1, etag), -ERR_INVALID_PART_NUMBER);
    assert_int_equal(part_put(t->st, "k", "nosuchupload", 1, "x", 1, etag), -ERR_NO_SUCH_UPLOAD);
    assert_int_equal(part_put(t->st, "other-key", id, 1, "x", 1, etag), -ERR_NO_SUCH_UPLOAD);
    char tmp[128];
    snprintf(tmp, sizeof tmp, "%s/tmp", t->dir);
    assert_int_equal(count_files(tmp), 0);
    assert_int_equal(store_mpu_complete(t->st, b, k, STR_LIT("nosuchupload"), p, 2, &info),
                     -ERR_NO_SUCH_UPLOAD);
    assert_int_equal(store_mpu_complete(t->st, STR_LIT("nobkt"), k, str_c(id), p, 2, &info),
                     -ERR_NO_SUCH_BUCKET);

    /* the first two parts are valid: 5 MiB + a small last part */
    assert_int_equal(store_mpu_complete(t->st, b, k, str_c(id), p, 2, &info), 0);
    assert_int_equal(info.size, 5 * MiB + 9);
    store_obj_info_release(&info);
    free(big);
}

struct plist {
    char out[512];
};

static int part_cb(void *ctx, const struct store_mpu_part *p)
{
    struct plist *l = ctx;
    char s[64];
    snprintf(s, sizeof s, "%u:%llu,", p->part, (unsigned long long)p->size);
    strcat(l->out, s);
    assert_int_equal(strlen(p->etag), 32);
    assert_true(p->mtime_us > 0);
    return 0;
}

static int upload_cb(void *ctx, const struct store_mpu *u)
{
    struct plist *l = ctx;
    strcat(l->out, u->key);
    strcat(l->out, ",");
    assert_int_equal(strlen(u->upload_id), 32);
    assert_true(u->initiated_us > 0);
    return 0;
}

static void test_lists_and_abort(void **state)
{
    struct tstore *t = *state;
    char id[4][STORE_UPLOAD_ID_MAX], etag[STORE_ETAG_MAX];
    struct plist l;
    bool tr = false;
    struct str b = STR_LIT("bkt");

    assert_int_equal(store_mpu_create(t->st, b, STR_LIT("logs/a"), NULL, id[0]), 0);
    assert_int_equal(store_mpu_create(t->st, b, STR_LIT("logs/b"), NULL, id[1]), 0);
    assert_int_equal(store_mpu_create(t->st, b, STR_LIT("data/x"), NULL, id[2]), 0);
    assert_int_equal(store_mpu_create(t->st, b, STR_LIT("logs/a"), NULL, id[3]), 0);
    for (unsigned n = 1; n <= 5; n++)
        assert_int_equal(part_put(t->st, "logs/a", id[0], n * 2, "abcdef", n, etag), 0);

    memset(&l, 0, sizeof l);
    assert_int_equal(
        store_mpu_list_parts(t->st, b, STR_LIT("logs/a"), str_c(id[0]), 0, 1000, part_cb, &l, &tr),
        0);
    assert_string_equal(l.out, "2:1,4:2,6:3,8:4,10:5,");
    assert_false(tr);
    memset(&l, 0, sizeof l);
    assert_int_equal(
        store_mpu_list_parts(t->st, b, STR_LIT("logs/a"), str_c(id[0]), 4, 2, part_cb, &l, &tr), 0);
    assert_string_equal(l.out, "6:3,8:4,");
    assert_true(tr);
    assert_int_equal(
        store_mpu_list_parts(t->st, b, STR_LIT("logs/b"), str_c(id[0]), 0, 10, part_cb, &l, &tr),
        -ERR_NO_SUCH_UPLOAD);
    /* max 0: an existence check */
    assert_int_equal(
        store_mpu_list_parts(t->st, b, STR_LIT("logs/b"), str_c(id[1]), 0, 0, part_cb, &l, &tr), 0);
    assert_false(tr);

    memset(&l, 0, sizeof l);
    assert_int_equal(
        store_mpu_list(t->st, b, STR_NULL, STR_NULL, STR_NULL, 1000, upload_cb, &l, &tr), 0);
    assert_string_equal(l.out, "data/x,logs/a,logs/a,logs/b,");
    assert_false(tr);
    memset(&l, 0, sizeof l);
    assert_int_equal(
        store_mpu_list(t->st, b, STR_LIT("logs/"), STR_NULL, STR_NULL, 2, upload_cb, &l, &tr), 0);
    assert_string_equal(l.out, "logs/a,logs/a,");
    assert_true(tr);
    memset(&l, 0, sizeof l);
    assert_int_equal(
        store_mpu_list(t->st, b, STR_NULL, STR_LIT("logs/a"), STR_NULL, 10, upload_cb, &l, &tr), 0);
    assert_string_equal(l.out, "logs/b,"); /* key marker alone: keys after it */
    const char *lower = strcmp(id[0], id[3]) < 0 ? id[0] : id[3];
    memset(&l, 0, sizeof l);
    assert_int_equal(
        store_mpu_list(t->st, b, STR_NULL, STR_LIT("logs/a"), str_c(lower), 10, upload_cb, &l, &tr),
        0);
    assert_string_equal(l.out, "logs/a,logs/b,"); /* the other upload of logs/a, then on */
    assert_int_equal(store_mpu_list(t->st, STR_LIT("nobkt"), STR_NULL, STR_NULL, STR_NULL, 10,
                                    upload_cb, &l, &tr),
                     -ERR_NO_SUCH_BUCKET);

    /* abort: parts go, blobs become collectable */
    assert_int_equal(store_mpu_abort(t->st, b, STR_LIT("logs/b"), str_c(id[0])),
                     -ERR_NO_SUCH_UPLOAD);
    assert_int_equal(store_mpu_abort(t->st, b, STR_LIT("logs/a"), str_c(id[0])), 0);
    assert_int_equal(store_mpu_abort(t->st, b, STR_LIT("logs/a"), str_c(id[0])),
                     -ERR_NO_SUCH_UPLOAD);
    unsigned removed = 0;
    assert_int_equal(store_gc(t->st, 0, &removed, NULL), 0);
    assert_int_equal(removed, 5);

    unsigned aborted = 99;
    assert_int_equal(store_mpu_abort_older(t->st, 1, &aborted), 0);
    assert_int_equal(aborted, 0);
    assert_int_equal(store_mpu_abort_older(t->st, tg_now_us() + 1, &aborted), 0);
    assert_int_equal(aborted, 3);
    memset(&l, 0, sizeof l);
    assert_int_equal(
        store_mpu_list(t->st, b, STR_NULL, STR_NULL, STR_NULL, 1000, upload_cb, &l, &tr), 0);
    assert_string_equal(l.out, "");
    assert_int_equal(store_bucket_delete(t->st, b), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_complete, tstore_setup, tstore_teardown),
        cmocka_unit_test_setup_teardown(test_complete_single_part, tstore_setup, tstore_teardown),
        cmocka_unit_test_setup_teardown(test_complete_errors, tstore_setup, tstore_teardown),
        cmocka_unit_test_setup_teardown(test_lists_and_abort, tstore_setup, tstore_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
