/* test_publish.c -- publish's pure helpers: file kinds from names, the CSV / JSON-lines
 * scanner (rows, header, fingerprints; fed whole and byte by byte), and the gzip reader
 * (one member, concatenated members, corrupt and truncated input). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "crypto/crypto.h"
#include "publish/publish_int.h"

static void test_kind_table(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        enum pub_fmt fmt;
        bool gz;
        const char *ext;
    } rows[] = {
        {"a.parquet", PUB_PARQUET, false, ".parquet"},
        {"/x/y/2026-03-05.csv", PUB_CSV, false, ".csv"},
        {"d.csv.gz", PUB_CSV, true, ".csv.gz"},
        {"d.jsonl", PUB_JSONL, false, ".jsonl"},
        {"d.ndjson.gz", PUB_JSONL, true, ".ndjson.gz"},
        {"d.jsonl.gz", PUB_JSONL, true, ".jsonl.gz"},
        {"d.bin", PUB_OTHER, false, ".bin"},
        {"d.tar.gz", PUB_OTHER, false, ".gz"}, /* not a text format: its last extension */
        {"README", PUB_OTHER, false, ""},
        {".parquet", PUB_OTHER, false, ""},     /* a dot file, not a Parquet name */
        {"d.we!rd", PUB_OTHER, false, ""},      /* an odd extension: none */
        {"dir.csv/file", PUB_OTHER, false, ""}, /* the folder's name does not count */
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct pub_kind k;
        print_message("row %zu: %s\n", i, rows[i].name);
        pub_kind_of(rows[i].name, &k);
        assert_int_equal(k.fmt, rows[i].fmt);
        assert_int_equal(k.gz, rows[i].gz);
        assert_string_equal(k.ext, rows[i].ext);
    }
    assert_string_equal(pub_fmt_name(PUB_JSONL), "jsonl");
}

static void sha_hex(const char *s, char out[65])
{
    crypto_sha256_hex(s, strlen(s), out);
}

static void test_scan_table(void **state)
{
    (void)state;
    static const struct {
        enum pub_fmt fmt;
        const char *in;
        int rc;
        uint64_t rows, body_start;
        const char *fp_of; /* what the fingerprint hashes */
    } rows[] = {
        {PUB_CSV, "id,name\n1,a\n2,b\n", 0, 2, 8, "id,name"},
        {PUB_CSV, "id,name\r\n1,a\r\n", 0, 1, 9, "id,name"},  /* CRLF: header without \r */
        {PUB_CSV, "id,name\n1,a\n\n2,b", 0, 2, 8, "id,name"}, /* blank line, no final \n */
        {PUB_CSV, "id,name\n", 0, 0, 8, "id,name"},           /* header only */
        {PUB_CSV, "id,name", 0, 0, 7, "id,name"},             /* header without \n */
        {PUB_CSV, "\n1,a\n", -ERR_INVALID, 0, 0, NULL},       /* empty header */
        {PUB_CSV, "", -ERR_INVALID, 0, 0, NULL},
        {PUB_JSONL, "{\"b\":1,\"a\":2}\n{\"a\":3}\n", 0, 2, 0, "a\nb\n"},
        {PUB_JSONL, "{\"z\":1}\r\n\r\n{\"z\":2}", 0, 2, 0, "z\n"},
        {PUB_JSONL, "{}\n", 0, 1, 0, ""},
        {PUB_JSONL, "[1,2]\n", -ERR_INVALID, 0, 0, NULL}, /* not an object */
        {PUB_JSONL, "", -ERR_INVALID, 0, 0, NULL},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        for (int bytewise = 0; bytewise < 2; bytewise++) {
            struct pub_text_scan s;
            char fp[65] = "", want[65], err[512] = "";
            print_message("row %zu (%s)\n", i, bytewise ? "byte by byte" : "whole");
            pub_text_scan_init(&s, rows[i].fmt);
            size_t n = strlen(rows[i].in);
            if (bytewise)
                for (size_t k = 0; k < n; k++)
                    assert_int_equal(pub_text_scan_feed(&s, rows[i].in + k, 1, err), 0);
            else
                assert_int_equal(pub_text_scan_feed(&s, rows[i].in, n, err), 0);
            int rc = pub_text_scan_end(&s, fp, err);
            assert_int_equal(rc, rows[i].rc);
            if (rc == 0) {
                assert_int_equal(s.rows, rows[i].rows);
                if (rows[i].fmt == PUB_CSV)
                    assert_int_equal(s.body_start, rows[i].body_start);
                sha_hex(rows[i].fp_of, want);
                assert_string_equal(fp, want);
            } else {
                assert_true(err[0] != '\0');
            }
            pub_text_scan_release(&s);
        }
    }
}

static size_t gz(const char *in, uint8_t *out, size_t cap)
{
    z_stream z = {0};
    assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)strlen(in);
    z.next_out = out;
    z.avail_out = (uInt)cap;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    size_t n = cap - z.avail_out;
    deflateEnd(&z);
    return n;
}

/* reads everything from bytes through pub_rd (a pipe-free temp file); rc of the last read */
static ssize_t read_all(const uint8_t *b, size_t n, bool isgz, char *out, size_t cap)
{
    char path[] = "/tmp/test_publish.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    assert_int_equal(write(fd, b, n), (ssize_t)n);
    lseek(fd, 0, SEEK_SET);
    struct pub_rd rd;
    pub_rd_init(&rd, fd, isgz);
    size_t got = 0;
    ssize_t r;
    while ((r = pub_rd_read(&rd, out + got, cap - got - 1 < 7 ? cap - got - 1 : 7)) > 0)
        got += (size_t)r; /* small reads: exercise the loop */
    out[got] = '\0';
    pub_rd_release(&rd);
    close(fd);
    return r;
}

static void test_gzip_reader(void **state)
{
    (void)state;
    uint8_t b[4096];
    char out[4096];
    size_t n1 = gz("id,name\n1,a\n", b, sizeof b);
    assert_int_equal(read_all(b, n1, true, out, sizeof out), 0);
    assert_string_equal(out, "id,name\n1,a\n");
    /* two members: one stream */
    size_t n2 = gz("2,b\n", b + n1, sizeof b - n1);
    assert_int_equal(read_all(b, n1 + n2, true, out, sizeof out), 0);
    assert_string_equal(out, "id,name\n1,a\n2,b\n");
    /* truncated */
    assert_int_equal(read_all(b, n1 - 5, true, out, sizeof out), -ERR_INVALID);
    /* not gzip */
    assert_int_equal(read_all((const uint8_t *)"plain text\n", 11, true, out, sizeof out),
                     -ERR_INVALID);
    /* plain passthrough */
    assert_int_equal(read_all((const uint8_t *)"plain\n", 6, false, out, sizeof out), 0);
    assert_string_equal(out, "plain\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kind_table),
        cmocka_unit_test(test_scan_table),
        cmocka_unit_test(test_gzip_reader),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
