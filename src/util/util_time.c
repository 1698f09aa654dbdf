/* util_time.c -- UTC clock with the TOLLGATE_NOW override, calendar math, and the
 * time formats tollgate speaks (ISO 8601, RFC 1123, x-amz-date, dates), durations
 * and sizes. The override is read once by tg_time_init(): the clock then starts at
 * that instant and advances with the real monotonic clock, so a server under test
 * behaves as if started at TOLLGATE_NOW. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "util/util.h"

static int64_t now_offset_us; /* added to the real clock; 0 without override */

int64_t tg_monotonic_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t real_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int tg_time_init(void)
{
    const char *v = getenv("TOLLGATE_NOW");
    int64_t t;
    if (!v || !*v)
        return 0;
    if (time_parse_iso8601(str_c(v), &t) < 0) {
        fprintf(stderr,
                "tollgate: TOLLGATE_NOW='%s' is not an ISO 8601 UTC time "
                "(e.g. 2026-02-13T00:00:00Z)\n",
                v);
        return -ERR_INVALID;
    }
    now_offset_us = t * 1000000 - real_now_us();
    fprintf(stderr, "tollgate: warning: TOLLGATE_NOW is set: the clock starts at %s\n", v);
    return 0;
}

int64_t tg_now_us(void)
{
    return real_now_us() + now_offset_us;
}

int64_t tg_now(void)
{
    int64_t us = tg_now_us();
    return us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
}

/* Howard Hinnant's algorithms. */
int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yy + (*m <= 2));
}

int weekday_from_days(int64_t z)
{
    /* 1970-01-01 was a Thursday (3 with Monday = 0). */
    int64_t w = (z + 3) % 7;
    return (int)(w < 0 ? w + 7 : w);
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

struct tm_utc {
    int y, mo, d, h, mi, s, wd;
};

static void split(int64_t t, struct tm_utc *o)
{
    int64_t days = floor_div(t, 86400);
    int64_t rem = t - days * 86400;
    civil_from_days(days, &o->y, &o->mo, &o->d);
    o->h = (int)(rem / 3600);
    o->mi = (int)(rem / 60 % 60);
    o->s = (int)(rem % 60);
    o->wd = weekday_from_days(days);
}

static const char *const WDAY[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
static const char *const MON[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

void time_fmt_iso8601(int64_t t, char *out)
{
    struct tm_utc u;
    split(t, &u);
    snprintf(out, TG_TIME_BUF, "%04d-%02d-%02dT%02d:%02d:%02dZ", u.y, u.mo, u.d, u.h, u.mi, u.s);
}

void time_fmt_iso8601_ms(int64_t us, char *out)
{
    int64_t t = floor_div(us, 1000000);
    struct tm_utc u;
    split(t, &u);
    snprintf(out, TG_TIME_BUF, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", u.y, u.mo, u.d, u.h, u.mi,
             u.s, (int)((us - t * 1000000) / 1000));
}

void time_fmt_http(int64_t t, char *out)
{
    struct tm_utc u;
    split(t, &u);
    snprintf(out, TG_TIME_BUF, "%s, %02d %s %04d %02d:%02d:%02d GMT", WDAY[u.wd], u.d,
             MON[u.mo - 1], u.y, u.h, u.mi, u.s);
}

void time_fmt_amz(int64_t t, char *out)
{
    struct tm_utc u;
    split(t, &u);
    snprintf(out, TG_TIME_BUF, "%04d%02d%02dT%02d%02d%02dZ", u.y, u.mo, u.d, u.h, u.mi, u.s);
}

void time_fmt_date(int64_t t, char *out)
{
    struct tm_utc u;
    split(t, &u);
    snprintf(out, TG_TIME_BUF, "%04d-%02d-%02d", u.y, u.mo, u.d);
}

/* Reads exactly n digits at *p. */
static bool digits(const char **p, const char *end, int n, int *out)
{
    int v = 0;
    if (end - *p < n)
        return false;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return false;
        v = v * 10 + (c - '0');
    }
    *p += n;
    *out = v;
    return true;
}

static bool lit(const char **p, const char *end, char c)
{
    if (*p >= end || **p != c)
        return false;
    (*p)++;
    return true;
}

static int days_in_month(int y, int m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dm[m - 1];
}

static int make_time(int y, int mo, int d, int h, int mi, int s, int64_t *out)
{
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || s > 60)
        return -ERR_INVALID;
    if (s == 60)
        s = 59; /* a leap second: clamp */
    *out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
    return 0;
}

/* The seconds, and the fraction of the second in microseconds (more digits are cut). */
static int parse_iso8601(struct str in, int64_t *out, int64_t *frac_us)
{
    const char *p = in.ptr, *end = in.ptr + in.len;
    int y, mo, d, h = 0, mi = 0, s = 0;
    *frac_us = 0;
    if (!in.ptr || !digits(&p, end, 4, &y) || !lit(&p, end, '-') || !digits(&p, end, 2, &mo) ||
        !lit(&p, end, '-') || !digits(&p, end, 2, &d))
        return -ERR_INVALID;
    if (p < end && (*p == 'T' || *p == 't' || *p == ' ')) {
        p++;
        if (!digits(&p, end, 2, &h) || !lit(&p, end, ':') || !digits(&p, end, 2, &mi))
            return -ERR_INVALID;
        if (p < end && *p == ':') {
            p++;
            if (!digits(&p, end, 2, &s))
                return -ERR_INVALID;
            if (p < end && *p == '.') {
                p++;
                if (p >= end || *p < '0' || *p > '9')
                    return -ERR_INVALID;
                for (int64_t scale = 100000; p < end && *p >= '0' && *p <= '9'; p++) {
                    *frac_us += (*p - '0') * scale;
                    scale /= 10;
                }
            }
        }
        if (p < end && (*p == 'Z' || *p == 'z')) {
            p++;
        } else if (end - p == 6 && (memcmp(p, "+00:00", 6) == 0 || memcmp(p, "-00:00", 6) == 0)) {
            p += 6;
        } else {
            return -ERR_INVALID; /* a time must say it is UTC */
        }
    }
    if (p != end)
        return -ERR_INVALID;
    return make_time(y, mo, d, h, mi, s, out);
}

int time_parse_iso8601(struct str in, int64_t *out)
{
    int64_t frac;
    return parse_iso8601(in, out, &frac);
}

int time_parse_iso8601_us(struct str in, int64_t *out_us)
{
    int64_t secs, frac;
    int rc = parse_iso8601(in, &secs, &frac);
    if (rc == 0)
        *out_us = secs * 1000000 + frac;
    return rc;
}

int time_parse_amz(struct str in, int64_t *out)
{
    const char *p = in.ptr, *end = in.ptr + in.len;
    int y, mo, d, h, mi, s;
    if (!in.ptr || !digits(&p, end, 4, &y) || !digits(&p, end, 2, &mo) || !digits(&p, end, 2, &d) ||
        !lit(&p, end, 'T') || !digits(&p, end, 2, &h) || !digits(&p, end, 2, &mi) ||
        !digits(&p, end, 2, &s) || !lit(&p, end, 'Z') || p != end)
        return -ERR_INVALID;
    return make_time(y, mo, d, h, mi, s, out);
}

int time_parse_date(struct str in, int64_t *out)
{
    const char *p = in.ptr, *end = in.ptr + in.len;
    int y, mo, d;
    if (!in.ptr || !digits(&p, end, 4, &y) || !lit(&p, end, '-') || !digits(&p, end, 2, &mo) ||
        !lit(&p, end, '-') || !digits(&p, end, 2, &d) || p != end)
        return -ERR_INVALID;
    return make_time(y, mo, d, 0, 0, 0, out);
}

static int month_of(const char *p)
{
    for (int i = 0; i < 12; i++)
        if ((p[0] | 32) == (MON[i][0] | 32) && (p[1] | 32) == MON[i][1] && (p[2] | 32) == MON[i][2])
            return i + 1;
    return 0;
}

int time_parse_http(struct str in, int64_t *out)
{
    char tmp[64];
    if (!in.ptr || in.len >= sizeof tmp)
        return -ERR_INVALID;
    memcpy(tmp, in.ptr, in.len);
    tmp[in.len] = '\0';
    char wd[16], mon[8], zone[8];
    int d, y, h, mi, s, n = 0;
    /* RFC 1123: Sun, 06 Nov 1994 08:49:37 GMT */
    if (sscanf(tmp, "%3s, %2d %3s %4d %2d:%2d:%2d %3s%n", wd, &d, mon, &y, &h, &mi, &s, zone, &n) ==
            8 &&
        n == (int)in.len && strcmp(zone, "GMT") == 0 && month_of(mon))
        return make_time(y, month_of(mon), d, h, mi, s, out);
    /* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT */
    n = 0;
    if (sscanf(tmp, "%15[A-Za-z], %2d-%3s-%2d %2d:%2d:%2d %3s%n", wd, &d, mon, &y, &h, &mi, &s,
               zone, &n) == 8 &&
        n == (int)in.len && strcmp(zone, "GMT") == 0 && month_of(mon))
        return make_time(y < 70 ? 2000 + y : 1900 + y, month_of(mon), d, h, mi, s, out);
    /* asctime: Sun Nov  6 08:49:37 1994 */
    n = 0;
    if (sscanf(tmp, "%3s %3s %d %2d:%2d:%2d %4d%n", wd, mon, &d, &h, &mi, &s, &y, &n) == 7 &&
        n == (int)in.len && month_of(mon))
        return make_time(y, month_of(mon), d, h, mi, s, out);
    return -ERR_INVALID;
}

static int64_t unit_seconds(char u)
{
    switch (u) {
    case 's':
        return 1;
    case 'm':
        return 60;
    case 'h':
        return 3600;
    case 'd':
        return 86400;
    case 'w':
        return 7 * 86400;
    default:
        return 0;
    }
}

/* "90", "30s", "6d20h", or one decimal with one unit ("3.5d") that comes to whole
 * seconds. */
int duration_parse(struct str s, int64_t *out)
{
    int64_t total = 0;
    size_t i = 0;
    s = str_trim(s);
    if (s.len == 0)
        return -ERR_INVALID;
    struct str ip, rest;
    if (str_split(s, '.', &ip, &rest)) {
        uint64_t n, f;
        int64_t mul = rest.len >= 2 ? unit_seconds(rest.ptr[rest.len - 1]) : 0;
        struct str fp = {rest.ptr, rest.len - 1};
        if (!mul || ip.len == 0 || ip.len > 9 || fp.len > 6 || str_to_u64(ip, &n) < 0 ||
            str_to_u64(fp, &f) < 0)
            return -ERR_INVALID;
        int64_t scale = 1;
        for (size_t k = 0; k < fp.len; k++)
            scale *= 10;
        if ((int64_t)f * mul % scale != 0)
            return -ERR_INVALID; /* not whole seconds */
        *out = (int64_t)n * mul + (int64_t)f * mul / scale;
        return 0;
    }
    while (i < s.len) {
        uint64_t v = 0;
        size_t start = i;
        while (i < s.len && s.ptr[i] >= '0' && s.ptr[i] <= '9') {
            v = v * 10 + (uint64_t)(s.ptr[i] - '0');
            if (v > (uint64_t)1 << 40)
                return -ERR_INVALID;
            i++;
        }
        if (i == start)
            return -ERR_INVALID;
        int64_t mul = 1;
        if (i < s.len) {
            if (!(mul = unit_seconds(s.ptr[i])))
                return -ERR_INVALID;
            i++;
        } else if (start != 0) {
            return -ERR_INVALID; /* "1d5": a bare number only alone */
        }
        total += (int64_t)v * mul;
    }
    *out = total;
    return 0;
}

int size_parse(struct str s, uint64_t *out)
{
    s = str_trim(s);
    size_t i = 0;
    uint64_t v = 0;
    while (i < s.len && s.ptr[i] >= '0' && s.ptr[i] <= '9') {
        if (v > UINT64_MAX / 10)
            return -ERR_INVALID;
        v = v * 10 + (uint64_t)(s.ptr[i] - '0');
        i++;
    }
    if (i == 0)
        return -ERR_INVALID;
    struct str unit = {s.ptr + i, s.len - i};
    unsigned shift = 0;
    if (unit.len == 0 || str_eq_c(unit, "B"))
        shift = 0;
    else if (str_eq_c(unit, "K") || str_eq_c(unit, "KiB") || str_eq_c(unit, "k"))
        shift = 10;
    else if (str_eq_c(unit, "M") || str_eq_c(unit, "MiB"))
        shift = 20;
    else if (str_eq_c(unit, "G") || str_eq_c(unit, "GiB"))
        shift = 30;
    else if (str_eq_c(unit, "T") || str_eq_c(unit, "TiB"))
        shift = 40;
    else
        return -ERR_INVALID;
    if (shift && v > (UINT64_MAX >> shift))
        return -ERR_INVALID;
    *out = v << shift;
    return 0;
}
