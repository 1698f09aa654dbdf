/* util_str.c -- string views and the bounded growable buffer.
 * Invariant of struct buf: len <= cap, len <= max, ptr[len] == '\0' whenever ptr != NULL. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/util.h"

#define BUF_DEFAULT_MAX ((size_t)64 << 20)

bool str_eq(struct str a, struct str b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

bool str_eq_c(struct str a, const char *b)
{
    return str_eq(a, str_c(b));
}

bool str_case_eq_c(struct str a, const char *b)
{
    size_t n = strlen(b);
    if (n != a.len)
        return false;
    for (size_t i = 0; i < n; i++) {
        char x = a.ptr[i], y = b[i];
        if (x >= 'A' && x <= 'Z')
            x = (char)(x + 32);
        if (y >= 'A' && y <= 'Z')
            y = (char)(y + 32);
        if (x != y)
            return false;
    }
    return true;
}

bool str_starts(struct str s, const char *prefix)
{
    size_t n = strlen(prefix);
    return s.len >= n && memcmp(s.ptr, prefix, n) == 0;
}

bool str_ends(struct str s, const char *suffix)
{
    size_t n = strlen(suffix);
    return s.len >= n && memcmp(s.ptr + s.len - n, suffix, n) == 0;
}

struct str str_trim(struct str s)
{
    while (s.len && (s.ptr[0] == ' ' || s.ptr[0] == '\t')) {
        s.ptr++;
        s.len--;
    }
    while (s.len && (s.ptr[s.len - 1] == ' ' || s.ptr[s.len - 1] == '\t'))
        s.len--;
    return s;
}

bool str_split(struct str s, char sep, struct str *head, struct str *tail)
{
    const char *p = s.len ? memchr(s.ptr, sep, s.len) : NULL;
    if (!p) {
        *head = s;
        *tail = (struct str){s.ptr ? s.ptr + s.len : NULL, 0};
        return false;
    }
    *head = (struct str){s.ptr, (size_t)(p - s.ptr)};
    *tail = (struct str){p + 1, s.len - (size_t)(p - s.ptr) - 1};
    return true;
}

int str_copy(struct str s, char *dst, size_t cap)
{
    if (s.len >= cap)
        return -ERR_TOO_LONG;
    if (s.len)
        memcpy(dst, s.ptr, s.len);
    dst[s.len] = '\0';
    return 0;
}

int str_to_u64(struct str s, uint64_t *out)
{
    uint64_t v = 0;
    if (s.len == 0 || s.len > 20)
        return -ERR_INVALID;
    for (size_t i = 0; i < s.len; i++) {
        unsigned d = (unsigned char)s.ptr[i] - '0';
        if (d > 9)
            return -ERR_INVALID;
        if (v > (UINT64_MAX - d) / 10)
            return -ERR_INVALID;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int str_to_i64(struct str s, int64_t *out)
{
    bool neg = s.len && s.ptr[0] == '-';
    uint64_t v;
    if (neg) {
        s.ptr++;
        s.len--;
    }
    if (str_to_u64(s, &v) < 0 || v > (uint64_t)INT64_MAX)
        return -ERR_INVALID;
    *out = neg ? -(int64_t)v : (int64_t)v;
    return 0;
}

char *str_dup(struct str s)
{
    char *p = malloc(s.len + 1);
    if (!p)
        return NULL;
    if (s.len)
        memcpy(p, s.ptr, s.len);
    p[s.len] = '\0';
    return p;
}

void buf_init(struct buf *b, size_t max)
{
    *b = (struct buf){NULL, 0, 0, max ? max : BUF_DEFAULT_MAX};
}

void buf_release(struct buf *b)
{
    if (!b)
        return;
    free(b->ptr);
    b->ptr = NULL;
    b->len = b->cap = 0;
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->ptr)
        b->ptr[0] = '\0';
}

int buf_reserve(struct buf *b, size_t extra)
{
    size_t max = b->max ? b->max : BUF_DEFAULT_MAX;
    if (extra > max || b->len > max - extra)
        return -ERR_TOO_LONG;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = realloc(b->ptr, cap);
    if (!p)
        return -ERR_NOMEM;
    b->ptr = p;
    b->cap = cap;
    return 0;
}

int buf_add(struct buf *b, const void *p, size_t n)
{
    int rc = buf_reserve(b, n);
    if (rc < 0)
        return rc;
    if (n)
        memcpy(b->ptr + b->len, p, n);
    b->len += n;
    b->ptr[b->len] = '\0';
    return 0;
}

int buf_adds(struct buf *b, const char *s)
{
    return buf_add(b, s, strlen(s));
}

int buf_addstr(struct buf *b, struct str s)
{
    return buf_add(b, s.ptr, s.len);
}

int buf_addc(struct buf *b, char c)
{
    return buf_add(b, &c, 1);
}

int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
    char small[256];
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(small, sizeof small, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return -ERR_INVALID;
    if ((size_t)n < sizeof small)
        return buf_add(b, small, (size_t)n);
    int rc = buf_reserve(b, (size_t)n);
    if (rc < 0)
        return rc;
    vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

char *buf_take(struct buf *b)
{
    char *p = b->ptr;
    if (!p) {
        p = calloc(1, 1);
        if (!p)
            return NULL;
    }
    b->ptr = NULL;
    b->len = b->cap = 0;
    return p;
}

static bool contains_ci(struct str hay, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; n && i + n <= hay.len; i++)
        if (str_case_eq_c((struct str){hay.ptr + i, n}, needle))
            return true;
    return false;
}

bool ua_is_link_preview(struct str ua)
{
    static const char *const BOTS[] = {
        "Slackbot",    "Slack-ImgProxy",      "Discordbot", "TelegramBot",
        "Twitterbot",  "facebookexternalhit", "Facebot",    "WhatsApp",
        "LinkedInBot", "SkypeUriPreview",     "Applebot",   "Googlebot",
        "bingbot",     "redditbot",           "Embedly",    "Mastodon",
        "vkShare",     "Pinterest",           NULL,
    };
    for (const char *const *b = BOTS; *b; b++)
        if (contains_ci(ua, *b))
            return true;
    return false;
}

int strv_add(struct strv *sv, const char *s)
{
    if (sv->n == sv->cap) {
        size_t cap = sv->cap ? sv->cap * 2 : 16;
        char **v = realloc(sv->v, cap * sizeof *v);
        if (!v)
            return -ERR_NOMEM;
        sv->v = v;
        sv->cap = cap;
    }
    if (!(sv->v[sv->n] = strdup(s)))
        return -ERR_NOMEM;
    sv->n++;
    return 0;
}

void strv_release(struct strv *sv)
{
    if (!sv)
        return;
    for (size_t i = 0; i < sv->n; i++)
        free(sv->v[i]);
    free(sv->v);
    memset(sv, 0, sizeof *sv);
}

uint64_t fnv1a64(const void *p, size_t n)
{
    const unsigned char *q = p;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ q[i]) * 1099511628211ull;
    return h;
}
