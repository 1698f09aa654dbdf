/* fuzz_s3_xml.c -- libFuzzer target: request bodies through the bounded XML parser. */
#include "s3/s3.h"

static int visit(void *ctx, const char *path, const char *text)
{
    (*(size_t *)ctx) += text ? strlen(text) : 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t n = 0;
    s3_xml_parse(str_n(data, size), visit, &n);
    return 0;
}
