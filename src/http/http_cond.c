/* http_cond.c -- conditional requests (RFC 9110 section 13.2.2) with S3's semantics:
 *  1. If-Match present: no match -> 412. When it matches, If-Unmodified-Since is not
 *     evaluated (S3 answers 200 for If-Match true + If-Unmodified-Since false).
 *  2. Else If-Unmodified-Since (valid date): modified after it -> 412.
 *  3. If-None-Match present: a match -> 304 (the caller turns it into 412 for methods
 *     other than GET/HEAD). When present, If-Modified-Since is not evaluated.
 *  4. Else If-Modified-Since (valid date): not modified since -> 304.
 * If-Match compares strongly (a W/ tag never matches), If-None-Match weakly; "*"
 * matches any existing object; entity tags are compared without their quotes, so an
 * unquoted tag some clients send still matches. Invalid dates are ignored. */
#include "http/http_int.h"

static struct str etag_opaque(struct str t, bool *weak)
{
    t = str_trim(t);
    *weak = false;
    if (t.len >= 2 && (t.ptr[0] == 'W' || t.ptr[0] == 'w') && t.ptr[1] == '/') {
        *weak = true;
        t = str_n(t.ptr + 2, t.len - 2);
    }
    if (t.len >= 2 && t.ptr[0] == '"' && t.ptr[t.len - 1] == '"')
        t = str_n(t.ptr + 1, t.len - 2);
    return t;
}

/* Does the comma-separated list match etag? */
static bool etag_list_match(struct str list, struct str etag, bool strong)
{
    bool weak_obj, weak;
    struct str obj = etag_opaque(etag, &weak_obj), item, rest = list;

    if (str_eq_c(str_trim(list), "*"))
        return true;
    while (rest.len) {
        str_split(rest, ',', &item, &rest);
        item = etag_opaque(item, &weak);
        if (item.len == 0)
            continue;
        if (strong && (weak || weak_obj))
            continue;
        if (str_eq(item, obj))
            return true;
    }
    return false;
}

/* An empty header counts as absent. */
static bool present(struct str s)
{
    return s.ptr && str_trim(s).len > 0;
}

int http_cond_eval(const struct http_cond *c, struct str etag, int64_t mtime_s)
{
    int64_t t;

    if (present(c->if_match)) {
        if (!etag_list_match(c->if_match, etag, true))
            return -ERR_PRECONDITION;
    } else if (present(c->if_unmodified_since) &&
               time_parse_http(str_trim(c->if_unmodified_since), &t) == 0 && mtime_s > t) {
        return -ERR_PRECONDITION;
    }
    if (present(c->if_none_match)) {
        if (etag_list_match(c->if_none_match, etag, false))
            return -ERR_NOT_MODIFIED;
    } else if (present(c->if_modified_since) &&
               time_parse_http(str_trim(c->if_modified_since), &t) == 0 && mtime_s <= t) {
        return -ERR_NOT_MODIFIED;
    }
    return 0;
}

void http_cond_from_req(const struct http_req *r, struct http_cond *c)
{
    struct http_cond out = {STR_NULL, STR_NULL, STR_NULL, STR_NULL};

    if (!http_req_header(r, "If-Match", &out.if_match))
        out.if_match = STR_NULL;
    if (!http_req_header(r, "If-None-Match", &out.if_none_match))
        out.if_none_match = STR_NULL;
    if (!http_req_header(r, "If-Modified-Since", &out.if_modified_since))
        out.if_modified_since = STR_NULL;
    if (!http_req_header(r, "If-Unmodified-Since", &out.if_unmodified_since))
        out.if_unmodified_since = STR_NULL;
    *c = out;
}
