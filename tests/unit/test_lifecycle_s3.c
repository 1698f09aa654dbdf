/* test_lifecycle_s3.c -- the S3 lifecycle configuration parser (s3_lc_parse, s3_xml.c):
 * what is accepted and stored, what S3 refuses and how (MalformedXML, InvalidArgument,
 * InvalidRequest), and what tollgate refuses as NotImplemented rather than store and
 * ignore. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "meta/meta.h"
#include "s3/s3_int.h"

#define NS " xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\""

static const struct {
    const char *xml;
    int rc;
    const char *rules; /* "id:E|D:prefix:expire:abort ..." when accepted */
} CASES[] = {
    {"<LifecycleConfiguration" NS "><Rule><ID>tmp</ID><Filter><Prefix>tmp/</Prefix></Filter>"
     "<Status>Enabled</Status><Expiration><Days>2</Days></Expiration></Rule>"
     "</LifecycleConfiguration>",
     0, "tmp:E:tmp/:2:0"},
    /* whitespace between elements, two rules, abort only, empty prefix */
    {"<LifecycleConfiguration>\n  <Rule>\n    <ID>a</ID>\n    <Filter>\n      <Prefix></Prefix>\n"
     "    </Filter>\n    <Status>Disabled</Status>\n    <AbortIncompleteMultipartUpload>\n"
     "      <DaysAfterInitiation>7</DaysAfterInitiation>\n    </AbortIncompleteMultipartUpload>\n"
     "  </Rule>\n  <Rule><ID>b</ID><Filter/><Status>Enabled</Status>"
     "<Expiration><Days>30</Days></Expiration></Rule>\n</LifecycleConfiguration>",
     0, "a:D::0:7 b:E::30:0"},
    /* the legacy top-level Prefix */
    {"<LifecycleConfiguration><Rule><ID>l</ID><Prefix>logs/</Prefix><Status>Enabled</Status>"
     "<Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>",
     0, "l:E:logs/:1:0"},
    {"<LifecycleConfiguration><Rule><ID>l</ID><Prefix/><Status>Enabled</Status>"
     "<Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>",
     0, "l:E::1:0"},
    /* refusals */
    {"<LifecycleConfiguration><Rule><ID>x</ID>", -ERR_MALFORMED_XML, NULL},
    {"<Other><Rule/></Other>", -ERR_MALFORMED_XML, NULL},
    {"<LifecycleConfiguration><Rule><ID>x</ID><Filter/><Status>On</Status>"
     "<Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>",
     -ERR_MALFORMED_XML, NULL},
    {"<LifecycleConfiguration><Rule><ID>x</ID><Filter/>"
     "<Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>",
     -ERR_MALFORMED_XML, NULL}, /* no Status */
    {"<LifecycleConfiguration><Rule><ID>x</ID><Status>Enabled</Status>"
     "<Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>",
     -ERR_MALFORMED_XML, NULL}, /* neither Filter nor Prefix */
    {"<LifecycleConfiguration><Rule><ID>x</ID><Prefix>a/</Prefix><Filter/><Status>Enabled</Status>"
     "<Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>",
     -ERR_MALFORMED_XML, NULL}, /* both */
    {"<LifecycleConfiguration><Rule><ID>x</ID><Filter/><Status>Enabled</Status>"
     "<Expiration><Days>0</Days></Expiration></Rule></LifecycleConfiguration>",
     -ERR_INVALID, NULL},
    {"<LifecycleConfiguration><Rule><ID>x</ID><Filter/><Status>Enabled</Status>"
     "<Expiration><Days>-3</Days></Expiration></Rule></LifecycleConfiguration>",
     -ERR_INVALID, NULL},
    {"<LifecycleConfiguration><Rule><ID>x</ID><Filter/><Status>Enabled</Status>"
     "<Expiration></Expiration></Rule></LifecycleConfiguration>",
     -ERR_MALFORMED_XML, NULL},
    {"<LifecycleConfiguration><Rule><ID>x</ID><Filter><Prefix>a/</Prefix></Filter>"
     "<Status>Enabled</Status></Rule></LifecycleConfiguration>",
     -ERR_INVALID_REQUEST, NULL}, /* no action */
    {"<LifecycleConfiguration><Rule><ID>x</ID><Filter/><Status>Enabled</Status>"
     "<Expiration><Days>1</Days></Expiration></Rule><Rule><ID>x</ID><Filter/>"
     "<Status>Enabled</Status><Expiration><Days>2</Days></Expiration></Rule>"
     "</LifecycleConfiguration>",
     -ERR_INVALID, NULL}, /* duplicate ID */
    {"<LifecycleConfiguration><Rule><ID>x</ID><Filter/><Status>Enabled</Status>"
     "<Expiration><Days>1</Days></Expiration><Bogus>1</Bogus></Rule></LifecycleConfiguration>",
     -ERR_MALFORMED_XML, NULL},
    /* not implemented */
    {"<LifecycleConfiguration><Rule><ID>x</ID><Filter/><Status>Enabled</Status>"
     "<Transition><Days>30</Days><StorageClass>GLACIER</StorageClass></Transition></Rule>"
     "</LifecycleConfiguration>",
     -ERR_NOT_IMPLEMENTED, NULL},
    {"<LifecycleConfiguration><Rule><ID>x</ID><Filter/><Status>Enabled</Status>"
     "<Expiration><Date>2027-01-01T00:00:00Z</Date></Expiration></Rule>"
     "</LifecycleConfiguration>",
     -ERR_NOT_IMPLEMENTED, NULL},
    {"<LifecycleConfiguration><Rule><ID>x</ID><Filter/><Status>Enabled</Status>"
     "<NoncurrentVersionExpiration><NoncurrentDays>3</NoncurrentDays>"
     "</NoncurrentVersionExpiration></Rule></LifecycleConfiguration>",
     -ERR_NOT_IMPLEMENTED, NULL},
    {"<LifecycleConfiguration><Rule><ID>x</ID><Filter><Tag><Key>k</Key><Value>v</Value></Tag>"
     "</Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>"
     "</LifecycleConfiguration>",
     -ERR_NOT_IMPLEMENTED, NULL},
    {"<LifecycleConfiguration><Rule><ID>x</ID><Filter><And><Prefix>a/</Prefix></And></Filter>"
     "<Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>"
     "</LifecycleConfiguration>",
     -ERR_NOT_IMPLEMENTED, NULL},
    {"<LifecycleConfiguration><Rule><ID>x</ID><Filter><ObjectSizeGreaterThan>10"
     "</ObjectSizeGreaterThan></Filter><Status>Enabled</Status><Expiration><Days>1</Days>"
     "</Expiration></Rule></LifecycleConfiguration>",
     -ERR_NOT_IMPLEMENTED, NULL},
};

static void test_lifecycle_xml(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        struct meta_lc_rule *rules = NULL;
        size_t n = 0;
        print_message("row %zu\n", i);
        int rc = s3_lc_parse(str_c(CASES[i].xml), &rules, &n);
        assert_int_equal(rc, CASES[i].rc);
        if (rc == 0) {
            char got[4096] = "";
            for (size_t k = 0; k < n; k++) {
                char one[1400];
                snprintf(one, sizeof one, "%s%s:%c:%s:%lld:%lld", k ? " " : "", rules[k].id,
                         rules[k].enabled ? 'E' : 'D', rules[k].prefix,
                         (long long)rules[k].expire_days, (long long)rules[k].abort_days);
                strncat(got, one, sizeof got - strlen(got) - 1);
            }
            assert_string_equal(got, CASES[i].rules);
        }
        meta_lc_rules_free(rules, n);
    }
}

/* A rule without an ID gets one (S3 generates it), distinct per rule. */
static void test_lifecycle_xml_generated_id(void **state)
{
    (void)state;
    struct meta_lc_rule *rules = NULL;
    size_t n = 0;
    const char *xml = "<LifecycleConfiguration><Rule><Filter/><Status>Enabled</Status>"
                      "<Expiration><Days>1</Days></Expiration></Rule><Rule><Filter/>"
                      "<Status>Enabled</Status><Expiration><Days>2</Days></Expiration></Rule>"
                      "</LifecycleConfiguration>";
    assert_int_equal(s3_lc_parse(str_c(xml), &rules, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(strlen(rules[0].id), 16);
    assert_string_not_equal(rules[0].id, rules[1].id);
    meta_lc_rules_free(rules, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lifecycle_xml),
        cmocka_unit_test(test_lifecycle_xml_generated_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
