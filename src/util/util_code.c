/* util_code.c -- hex, base64 (standard and URL-safe), percent-encoding as SigV4
 * wants it, and raw query-string lookup. Decoders reject anything malformed. */
#include "util/util.h"

static const char HEX[] = "0123456789abcdef";
static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char B64URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void hex_encode(const void *in, size_t n, char *out)
{
    const uint8_t *p = in;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = HEX[p[i] >> 4];
        out[2 * i + 1] = HEX[p[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int hex_decode(struct str in, uint8_t *out, size_t cap)
{
    if (in.len % 2 || in.len / 2 > cap)
        return -ERR_INVALID;
    for (size_t i = 0; i < in.len / 2; i++) {
        int hi = hexval(in.ptr[2 * i]), lo = hexval(in.ptr[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -ERR_INVALID;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return (int)(in.len / 2);
}

size_t b64_encoded_len(size_t n)
{
    return (n + 2) / 3 * 4;
}

static void b64_enc(const void *in, size_t n, char *out, const char *tab, bool pad)
{
    const uint8_t *p = in;
    size_t o = 0, i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        out[o++] = tab[v >> 18];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = tab[(v >> 6) & 63];
        out[o++] = tab[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
        out[o++] = tab[v >> 18];
        out[o++] = tab[(v >> 12) & 63];
        if (i + 1 < n)
            out[o++] = tab[(v >> 6) & 63];
        else if (pad)
            out[o++] = '=';
        if (pad)
            out[o++] = '=';
    }
    out[o] = '\0';
}

void b64_encode(const void *in, size_t n, char *out)
{
    b64_enc(in, n, out, B64, true);
}

void b64url_encode(const void *in, size_t n, char *out)
{
    b64_enc(in, n, out, B64URL, false);
}

static int b64_dec(struct str in, uint8_t *out, size_t cap, const char *tab, bool need_pad)
{
    int8_t val[256];
    memset(val, -1, sizeof val);
    for (int i = 0; i < 64; i++)
        val[(unsigned char)tab[i]] = (int8_t)i;
    size_t n = in.len;
    size_t pad = 0;
    while (n && in.ptr[n - 1] == '=' && pad < 2) {
        n--;
        pad++;
    }
    if (need_pad && in.len % 4)
        return -ERR_INVALID;
    if (n % 4 == 1)
        return -ERR_INVALID;
    size_t outlen = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
    if (outlen > cap)
        return -ERR_INVALID;
    uint32_t acc = 0;
    size_t bits = 0, o = 0;
    for (size_t i = 0; i < n; i++) {
        int v = val[(unsigned char)in.ptr[i]];
        if (v < 0)
            return -ERR_INVALID;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0) /* non-canonical trailing bits */
        return -ERR_INVALID;
    return (int)o;
}

int b64_decode(struct str in, uint8_t *out, size_t cap)
{
    return b64_dec(in, out, cap, B64, true);
}

int b64url_decode(struct str in, uint8_t *out, size_t cap)
{
    return b64_dec(in, out, cap, B64URL, false);
}

static bool unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~';
}

int uri_encode(struct buf *b, struct str s, bool keep_slash)
{
    int rc = buf_reserve(b, s.len * 3);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if (unreserved(c) || (keep_slash && c == '/')) {
            b->ptr[b->len++] = (char)c;
        } else {
            b->ptr[b->len++] = '%';
            b->ptr[b->len++] = "0123456789ABCDEF"[c >> 4];
            b->ptr[b->len++] = "0123456789ABCDEF"[c & 15];
        }
    }
    b->ptr[b->len] = '\0';
    return 0;
}

int uri_decode(struct buf *b, struct str s, bool plus_space)
{
    int rc = buf_reserve(b, s.len);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < s.len; i++) {
        char c = s.ptr[i];
        if (c == '%') {
            if (i + 2 >= s.len)
                return -ERR_INVALID;
            int hi = hexval(s.ptr[i + 1]), lo = hexval(s.ptr[i + 2]);
            if (hi < 0 || lo < 0)
                return -ERR_INVALID;
            b->ptr[b->len++] = (char)(hi << 4 | lo);
            i += 2;
        } else if (c == '+' && plus_space) {
            b->ptr[b->len++] = ' ';
        } else {
            b->ptr[b->len++] = c;
        }
    }
    b->ptr[b->len] = '\0';
    return 0;
}

bool query_get(struct str query, const char *name, struct str *value)
{
    size_t nlen = strlen(name);
    struct str rest = query, item;
    while (rest.len) {
        str_split(rest, '&', &item, &rest);
        struct str k, v;
        bool has_eq = str_split(item, '=', &k, &v);
        if (k.len == nlen && memcmp(k.ptr, name, nlen) == 0) {
            *value = has_eq ? v : (struct str){item.ptr + item.len, 0};
            return true;
        }
    }
    return false;
}

int query_get_decoded(struct str query, const char *name, struct buf *out)
{
    struct str v;
    if (!query_get(query, name, &v))
        return -ERR_NOT_FOUND;
    buf_reset(out);
    return uri_decode(out, v, true);
}
