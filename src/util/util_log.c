/* util_log.c -- one line per event on stderr: "<UTC time> <LEVEL> <message>".
 * Callers never pass secrets (tokens, keys, signatures, client addresses). */
#include <stdio.h>

#include "util/util.h"

static enum tg_log_level min_level = TG_LOG_INFO;

void tg_log_set_level(enum tg_log_level lvl)
{
    min_level = lvl;
}

void tg_log(enum tg_log_level lvl, const char *fmt, ...)
{
    static const char *const names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    char line[2048], ts[TG_TIME_BUF];
    if (lvl < min_level)
        return;
    time_fmt_iso8601_ms(tg_now_us(), ts);
    int n = snprintf(line, sizeof line, "%s %s ", ts, names[lvl]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    line[len++] = '\n';
    fwrite(line, 1, len, stderr); /* one write: lines from threads do not interleave */
}
