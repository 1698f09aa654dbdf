/* test_s3_xml.c -- XML escaping table and the bounded request-body parser
 * (paths, text, namespaces, depth/text limits, entity declarations refused). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "s3/s3.h"

static void test_escape_table(void **state)
{
    static const struct {
        const char *in, *out;
    } rows[] = {
        {"plain", "plain"},
        {"a&b", "a&amp;b"},
        {"<k>", "&lt;k&gt;"},
        {"\"q\" 'a'", "&quot;q&quot; &apos;a&apos;"},
        {"tab\there\nnl", "tab\there\nnl"},
        {"cr\r", "cr&#13;"},
        {"\x01x", "&#1;x"},
        {"é €", "é €"},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct buf b = BUF_INIT;
        print_message("row %zu\n", i);
        assert_int_equal(s3_xml_escape(&b, str_c(rows[i].in)), 0);
        assert_string_equal(buf_cstr(&b), rows[i].out);
        buf_release(&b);
    }
}

static int collect(void *ctx, const char *path, const char *text)
{
    struct buf *b = ctx;
    if (text)
        buf_printf(b, "%s=%s;", path, text);
    else if (strcmp(path, "Delete/Object") == 0)
        buf_adds(b, "|");
    return 0;
}

static void test_parse(void **state)
{
    struct buf b = BUF_INIT;
    const char *xml = "<?xml version=\"1.0\"?>\n<Delete xmlns=\"http://s3.amazonaws.com/doc/"
                      "2006-03-01/\"><Quiet>true</Quiet><Object><Key>a&amp;b</Key></Object>"
                      "<Object><Key>&lt;c&gt;</Key><VersionId>null</VersionId></Object></Delete>";
    assert_int_equal(s3_xml_parse(str_c(xml), collect, &b), 0);
    assert_string_equal(buf_cstr(&b), "Delete/Quiet=true;Delete/Object/Key=a&b;|Delete/Object/"
                                      "Key=<c>;Delete/Object/VersionId=null;|");
    buf_release(&b);
}

static void test_parse_refusals(void **state)
{
    struct buf b = BUF_INIT;
    static const char *const bad[] = {
        "",
        "<Delete><Object>",
        "<Delete></Object>",
        "not xml",
        "<!DOCTYPE d [<!ENTITY x \"xxxxxxxx\">]><Delete>&x;</Delete>",
        "<a><b><c><d><e><f><g><h><i>deep</i></h></g></f></e></d></c></b></a>",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        print_message("row %zu\n", i);
        assert_int_equal(s3_xml_parse(str_c(bad[i]), collect, &b), -ERR_MALFORMED_XML);
    }
    /* text over 4 KiB in one element */
    struct buf big = BUF_INIT;
    buf_adds(&big, "<Delete><Object><Key>");
    for (int i = 0; i < 5000; i++)
        buf_addc(&big, 'k');
    buf_adds(&big, "</Key></Object></Delete>");
    assert_int_equal(s3_xml_parse(buf_str(&big), collect, &b), -ERR_MALFORMED_XML);
    buf_release(&big);
    buf_release(&b);
}

static int stop_at_second(void *ctx, const char *path, const char *text)
{
    int *n = ctx;
    if (!text && strcmp(path, "Delete/Object") == 0 && ++*n == 2)
        return -ERR_TOO_MANY_KEYS;
    return 0;
}

static void test_callback_error(void **state)
{
    int n = 0;
    const char *xml = "<Delete><Object><Key>a</Key></Object><Object><Key>b</Key></Object>"
                      "<Object><Key>c</Key></Object></Delete>";
    assert_int_equal(s3_xml_parse(str_c(xml), stop_at_second, &n), -ERR_TOO_MANY_KEYS);
    assert_int_equal(n, 2); /* stopped at once */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape_table),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_parse_refusals),
        cmocka_unit_test(test_callback_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
