/* fuzz_s3_auth.c -- libFuzzer target: signature verification of arbitrary requests.
 * Input layout: method \n path \n query \n then "name: value" header lines. */
#include "s3/s3.h"

struct hdrs {
    struct str lines;
};

static bool find(void *ctx, const char *lname, struct str *value)
{
    struct hdrs *h = ctx;
    struct str rest = h->lines, line;
    while (rest.len) {
        str_split(rest, '\n', &line, &rest);
        struct str name, v;
        if (!str_split(line, ':', &name, &v))
            continue;
        if (str_case_eq_c(str_trim(name), lname)) {
            *value = str_trim(v);
            return true;
        }
    }
    return false;
}

static int secret(void *ctx, struct str akid, char *out, size_t cap)
{
    if (!str_eq_c(akid, "AKIAIOSFODNN7EXAMPLE"))
        return -ERR_INVALID_ACCESS_KEY;
    return str_copy(str_c("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"), out, cap);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct str in = str_n(data, size), method, path, query, rest;
    str_split(in, '\n', &method, &rest);
    str_split(rest, '\n', &path, &rest);
    str_split(rest, '\n', &query, &rest);
    struct hdrs h = {rest};
    struct s3_sig_req r = {method, path, query, find, &h, NULL};
    struct s3_auth a;
    s3_auth_verify(&r, 1369353600, "us-east-1", secret, NULL, &a);
    return 0;
}
