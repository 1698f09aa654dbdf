/* fuzz_s3_chunked.c -- libFuzzer target: aws-chunked bodies (unsigned trailer mode and
 * signed mode with the AWS example's seed), fed in pieces whose sizes come from the
 * first input byte. */
#include "s3/s3.h"

static int sink(void *ctx, const uint8_t *p, size_t n)
{
    (*(size_t *)ctx) += n;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct s3_auth a = {0};
    a.kind = S3_AUTH_V4_HEADER;
    a.payload = data[0] & 1 ? S3_PAYLOAD_STREAMING : S3_PAYLOAD_UNSIGNED_TRAILER;
    memcpy(a.amz_date, "20130524T000000Z", 17);
    memcpy(a.scope, "20130524/us-east-1/s3/aws4_request", 35);
    size_t step = (size_t)(data[0] >> 1) + 1, total = 0;
    struct s3_chunked *c = NULL;
    if (s3_chunked_new(&a, &c) < 0)
        return 0;
    if (data[0] & 2)
        s3_chunked_expect_trailer(c, str_c("x-amz-checksum-crc32"));
    int rc = 0;
    for (size_t off = 1; off < size && rc == 0; off += step) {
        size_t n = size - off < step ? size - off : step;
        rc = s3_chunked_feed(c, data + off, n, sink, &total);
    }
    if (rc == 0)
        s3_chunked_finish(c);
    s3_chunked_free(c);
    return 0;
}
