/* http_range.c -- the Range request header (RFC 9110 section 14.2) as S3 applies it:
 * one byte range, "bytes=a-b", "bytes=a-" or "bytes=-n", against an object of known
 * size. Malformed headers are ignored by S3 (whole object, 200): -ERR_INVALID; a
 * range starting at or past the end is 416: -ERR_RANGE; several ranges:
 * -ERR_NOT_IMPLEMENTED. The result is clamped to the object; *out written on success. */
#include "http/http_int.h"

static bool all_digits(struct str s)
{
    if (s.len == 0)
        return false;
    for (size_t i = 0; i < s.len; i++)
        if (s.ptr[i] < '0' || s.ptr[i] > '9')
            return false;
    return true;
}

int http_range_parse(struct str header, uint64_t size, struct http_range *out)
{
    struct str h = str_trim(header), spec, first, last;
    uint64_t a, b;

    if (h.len < 6 || !str_case_eq_c(str_n(h.ptr, 6), "bytes="))
        return -ERR_INVALID;
    spec = str_trim(str_n(h.ptr + 6, h.len - 6));
    if (memchr(spec.ptr, ',', spec.len))
        return -ERR_NOT_IMPLEMENTED;
    if (!str_split(spec, '-', &first, &last))
        return -ERR_INVALID;
    first = str_trim(first);
    last = str_trim(last);
    if (first.len == 0) { /* suffix: the last n bytes */
        if (!all_digits(last) || str_to_u64(last, &b) < 0)
            return -ERR_INVALID;
        if (b == 0 || size == 0)
            return -ERR_RANGE;
        if (b > size)
            b = size;
        *out = (struct http_range){size - b, b};
        return 0;
    }
    if (!all_digits(first) || str_to_u64(first, &a) < 0)
        return -ERR_INVALID;
    if (last.len == 0) {
        b = UINT64_MAX;
    } else {
        if (!all_digits(last) || str_to_u64(last, &b) < 0)
            return -ERR_INVALID;
        if (b < a)
            return -ERR_INVALID; /* RFC: invalid, so ignored */
    }
    if (a >= size)
        return -ERR_RANGE;
    if (b >= size)
        b = size - 1;
    *out = (struct http_range){a, b - a + 1};
    return 0;
}
