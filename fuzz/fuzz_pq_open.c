/* fuzz_pq_open.c -- libFuzzer target: any bytes as a Parquet file; pq_open must refuse
 * or accept without crashing, and an accepted file must concatenate with itself. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "parquet/parquet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char in[] = "/tmp/fuzz-pq-in-XXXXXX", out[64], err[256];
    int fd = mkstemp(in);
    if (fd < 0)
        return 0;
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        unlink(in);
        return 0;
    }
    close(fd);
    struct pq_file *f = NULL;
    if (pq_open(in, &f, err) == 0) {
        struct pq_file *two[2] = {f, f};
        struct pq_result res;
        snprintf(out, sizeof out, "%s.out", in);
        if (pq_concat(out, two, 2, &res, err) == 0)
            unlink(out);
        pq_close(f);
    }
    unlink(in);
    return 0;
}
