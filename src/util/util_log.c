/* util_log.c -- one line per event on stderr: "<UTC time> <LEVEL> <message>".
 * Callers never pass secrets (tokens, keys, signatures, client addresses).
 * Hot path (one line per request): the "YYYY-MM-DDTHH:MM:SS" part is formatted once
 * per second per thread, and the line goes out in one write(2), so lines from
 * several threads never interleave and no stdio lock is taken. */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "util/util.h"

static enum tg_log_level min_level = TG_LOG_INFO;

void tg_log_set_level(enum tg_log_level lvl)
{
    min_level = lvl;
}

static _Thread_local int64_t ts_sec = INT64_MIN;
static _Thread_local char ts_text[TG_TIME_BUF]; /* "2026-11-22T20:13:49" */

void tg_log(enum tg_log_level lvl, const char *fmt, ...)
{
    static const char *const names[] = {"DEBUG ", "INFO ", "WARN ", "ERROR "};
    static const size_t name_len[] = {6, 5, 5, 6};
    char line[2048];
    if (lvl < min_level)
        return;
    int64_t us = tg_now_us();
    int64_t sec = us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
    if (sec != ts_sec) {
        time_fmt_iso8601(sec, ts_text); /* ends with 'Z': replaced below */
        ts_sec = sec;
    }
    size_t n = 19; /* the date and time without the 'Z' */
    memcpy(line, ts_text, n);
    int ms = (int)((us - sec * 1000000) / 1000);
    line[n++] = '.';
    line[n++] = (char)('0' + ms / 100);
    line[n++] = (char)('0' + ms / 10 % 10);
    line[n++] = (char)('0' + ms % 10);
    line[n++] = 'Z';
    line[n++] = ' ';
    memcpy(line + n, names[lvl], name_len[lvl]);
    n += name_len[lvl];
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
    va_end(ap);
    size_t len = n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    line[len++] = '\n';
    for (size_t off = 0; off < len;) {
        ssize_t w = write(STDERR_FILENO, line + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
}
