/* fuzz_s3_lifecycle.c -- libFuzzer target: PutBucketLifecycleConfiguration bodies through
 * s3_lc_parse (the bounded XML parser plus the rule checks); every accepted set is freed. */
#include "meta/meta.h"
#include "s3/s3_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct meta_lc_rule *rules = NULL;
    size_t n = 0;
    if (s3_lc_parse(str_n(data, size), &rules, &n) == 0)
        meta_lc_rules_free(rules, n);
    return 0;
}
