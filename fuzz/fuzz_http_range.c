/* fuzz_http_range.c -- libFuzzer target: Range and conditional headers. */
#include "http/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct http_range r;
    struct str s = str_n(data, size);
    if (http_range_parse(s, 1000, &r) == 0 && (r.off + r.len > 1000 || r.len == 0))
        __builtin_trap(); /* a satisfiable range lies inside the object */
    struct http_cond c = {s, s, s, s};
    http_cond_eval(&c, STR_LIT("\"abc\""), 1369353600);
    return 0;
}
