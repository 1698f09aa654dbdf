/* store_check.c -- pure validation of bucket names and object keys.
 *
 * Bucket names follow S3's general-purpose bucket rules: 3..63 characters of lowercase
 * letters, digits, '.' and '-', starting and ending with a letter or digit, no "..",
 * not shaped like an IPv4 address, none of the prefixes and suffixes AWS reserves.
 * Keys are 1..1024 bytes of valid UTF-8 (shortest form, no surrogates, <= U+10FFFF)
 * without NUL: the listing code relies on a key never containing the byte 0xFF. */
#include "store/store_int.h"

static bool is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* "d.d.d.d" with 1..3 digits per group. */
static bool looks_like_ipv4(struct str s)
{
    unsigned groups = 0, digits = 0;
    for (size_t i = 0; i < s.len; i++) {
        char c = s.ptr[i];
        if (c >= '0' && c <= '9') {
            if (++digits > 3)
                return false;
        } else if (c == '.') {
            if (digits == 0)
                return false;
            groups++;
            digits = 0;
        } else {
            return false;
        }
    }
    return digits > 0 && groups == 3;
}

int store_bucket_name_check(struct str name)
{
    static const char *const bad_prefix[] = {"xn--", "sthree-"};
    static const char *const bad_suffix[] = {"-s3alias", "--ol-s3", "--x-s3", ".mrap"};

    if (!name.ptr || name.len < STORE_BUCKET_MIN || name.len > STORE_BUCKET_MAX)
        return -ERR_INVALID_BUCKET_NAME;
    for (size_t i = 0; i < name.len; i++) {
        char c = name.ptr[i];
        if (!is_lower_alnum(c) && c != '.' && c != '-')
            return -ERR_INVALID_BUCKET_NAME;
        if (c == '.' && i > 0 && name.ptr[i - 1] == '.')
            return -ERR_INVALID_BUCKET_NAME;
    }
    if (!is_lower_alnum(name.ptr[0]) || !is_lower_alnum(name.ptr[name.len - 1]))
        return -ERR_INVALID_BUCKET_NAME;
    if (looks_like_ipv4(name))
        return -ERR_INVALID_BUCKET_NAME;
    for (size_t i = 0; i < sizeof bad_prefix / sizeof bad_prefix[0]; i++)
        if (str_starts(name, bad_prefix[i]))
            return -ERR_INVALID_BUCKET_NAME;
    for (size_t i = 0; i < sizeof bad_suffix / sizeof bad_suffix[0]; i++)
        if (str_ends(name, bad_suffix[i]))
            return -ERR_INVALID_BUCKET_NAME;
    return 0;
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 if invalid. */
static size_t utf8_seq(const uint8_t *p, size_t n)
{
    uint8_t c = p[0];
    if (c < 0x80)
        return 1;
    size_t len;
    uint32_t cp, min;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2, cp = c & 0x1F, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3, cp = c & 0x0F, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4, cp = c & 0x07, min = 0x10000;
    } else {
        return 0; /* continuation byte, overlong lead C0/C1, or F5..FF */
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

int store_key_check(struct str key)
{
    if (!key.ptr || key.len == 0)
        return -ERR_INVALID_KEY;
    if (key.len > STORE_KEY_MAX)
        return -ERR_KEY_TOO_LONG;
    const uint8_t *p = (const uint8_t *)key.ptr;
    for (size_t i = 0; i < key.len;) {
        if (p[i] == 0)
            return -ERR_INVALID_KEY;
        size_t n = utf8_seq(p + i, key.len - i);
        if (n == 0)
            return -ERR_INVALID_KEY;
        i += n;
    }
    return 0;
}
