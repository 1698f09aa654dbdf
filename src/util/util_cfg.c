/* util_cfg.c -- the INI configuration, parsed by inih into an ordered list of
 * (section, key, value, line). Modules read and validate their own keys; every error
 * names the file and line. */
#include <errno.h>
#include <ini.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/util.h"

struct load_ctx {
    struct cfg *c;
    size_t cap;
    int err;
    FILE *f;
    int line; /* lines read so far: Debian's inih does not pass line numbers */
};

/* inih reads through this, so the line of each entry is known. */
static char *read_line(char *str, int num, void *stream)
{
    struct load_ctx *lc = stream;
    char *r = fgets(str, num, lc->f);
    if (r)
        lc->line++;
    return r;
}

static int on_entry(void *user, const char *section, const char *name, const char *value)
{
    struct load_ctx *lc = user;
    int lineno = lc->line;
    struct cfg *c = lc->c;
    if (!name) /* a section header alone */
        return 1;
    if (c->n == lc->cap) {
        size_t cap = lc->cap ? lc->cap * 2 : 32;
        struct cfg_entry *e = realloc(c->entries, cap * sizeof *e);
        if (!e) {
            lc->err = -ERR_NOMEM;
            return 0;
        }
        c->entries = e;
        lc->cap = cap;
    }
    struct cfg_entry *e = &c->entries[c->n];
    /* Normalise "grant   tier2" to "grant tier2". */
    struct buf sec = BUF_INIT;
    bool space = false;
    for (const char *p = section; *p; p++) {
        if (*p == ' ' || *p == '\t') {
            space = sec.len > 0;
            continue;
        }
        if (space && buf_addc(&sec, ' ') < 0)
            break;
        space = false;
        buf_addc(&sec, *p);
    }
    e->section = buf_take(&sec);
    e->key = strdup(name);
    e->value = strdup(value);
    e->line = lineno;
    if (!e->section || !e->key || !e->value) {
        free(e->section);
        free(e->key);
        free(e->value);
        lc->err = -ERR_NOMEM;
        return 0;
    }
    c->n++;
    return 1;
}

static char *fmt_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *fmt_err(const char *fmt, ...)
{
    struct buf b = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    return buf_take(&b);
}

int cfg_load(const char *path, struct cfg *out, char **err)
{
    struct cfg c = {0};
    struct load_ctx lc = {&c, 0, 0, NULL, 0};
    char abs[PATH_MAX];
    if (!realpath(path, abs)) {
        *err = fmt_err("cannot open config '%s': %s", path, strerror(errno));
        return -errno;
    }
    FILE *f = fopen(abs, "r");
    if (!f) {
        *err = fmt_err("cannot open config '%s': %s", path, strerror(errno));
        return -errno;
    }
    lc.f = f;
    int line = ini_parse_stream(read_line, &lc, on_entry, &lc);
    fclose(f);
    if (lc.err) {
        cfg_release(&c);
        *err = fmt_err("%s: out of memory", abs);
        return lc.err;
    }
    if (line != 0) {
        cfg_release(&c);
        *err = fmt_err("%s:%d: syntax error (expected [section] or key = value)", abs, line);
        return -ERR_CONFIG;
    }
    c.path = strdup(abs);
    char dirbuf[PATH_MAX];
    snprintf(dirbuf, sizeof dirbuf, "%s", abs);
    c.dir = strdup(dirname(dirbuf));
    if (!c.path || !c.dir) {
        cfg_release(&c);
        return -ERR_NOMEM;
    }
    *out = c;
    return 0;
}

void cfg_release(struct cfg *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->entries[i].section);
        free(c->entries[i].key);
        free(c->entries[i].value);
    }
    free(c->entries);
    free(c->path);
    free(c->dir);
    memset(c, 0, sizeof *c);
}

const struct cfg_entry *cfg_find(const struct cfg *c, const char *section, const char *key)
{
    const struct cfg_entry *found = NULL;
    for (size_t i = 0; i < c->n; i++) /* the last one wins, as with most INI readers */
        if (strcmp(c->entries[i].section, section) == 0 && strcmp(c->entries[i].key, key) == 0)
            found = &c->entries[i];
    return found;
}

const char *cfg_get(const struct cfg *c, const char *section, const char *key, const char *def)
{
    const struct cfg_entry *e = cfg_find(c, section, key);
    return e ? e->value : def;
}

static int bad(const struct cfg *c, const struct cfg_entry *e, const char *why, char **err)
{
    *err = fmt_err("%s:%d: [%s] %s = %s: %s", c->path, e->line, e->section, e->key, e->value, why);
    return -ERR_CONFIG;
}

int cfg_get_u64(const struct cfg *c, const char *section, const char *key, uint64_t def,
                uint64_t *out, char **err)
{
    const struct cfg_entry *e = cfg_find(c, section, key);
    uint64_t v = def;
    if (e && str_to_u64(str_c(e->value), &v) < 0)
        return bad(c, e, "expected a whole number", err);
    *out = v;
    return 0;
}

int cfg_get_size(const struct cfg *c, const char *section, const char *key, uint64_t def,
                 uint64_t *out, char **err)
{
    const struct cfg_entry *e = cfg_find(c, section, key);
    uint64_t v = def;
    if (e && size_parse(str_c(e->value), &v) < 0)
        return bad(c, e, "expected a size such as 4096, 64KiB, 100MiB or 5GiB", err);
    *out = v;
    return 0;
}

int cfg_get_duration(const struct cfg *c, const char *section, const char *key, int64_t def,
                     int64_t *out, char **err)
{
    const struct cfg_entry *e = cfg_find(c, section, key);
    int64_t v = def;
    if (e && duration_parse(str_c(e->value), &v) < 0)
        return bad(c, e, "expected a duration such as 30s, 15m, 24h, 7d or 6d20h", err);
    *out = v;
    return 0;
}

int cfg_get_bool(const struct cfg *c, const char *section, const char *key, bool def, bool *out,
                 char **err)
{
    const struct cfg_entry *e = cfg_find(c, section, key);
    bool v = def;
    if (e) {
        struct str s = str_c(e->value);
        if (str_case_eq_c(s, "on") || str_case_eq_c(s, "true") || str_case_eq_c(s, "yes") ||
            str_eq_c(s, "1"))
            v = true;
        else if (str_case_eq_c(s, "off") || str_case_eq_c(s, "false") || str_case_eq_c(s, "no") ||
                 str_eq_c(s, "0"))
            v = false;
        else
            return bad(c, e, "expected on or off", err);
    }
    *out = v;
    return 0;
}

char *cfg_path(const struct cfg *c, const char *value)
{
    struct buf b = BUF_INIT;
    if (value[0] == '/')
        buf_adds(&b, value);
    else
        buf_printf(&b, "%s/%s", c->dir, value);
    return buf_take(&b);
}

static bool section_matches(const char *pattern, size_t plen, const char *section)
{
    /* "grant *" matches "grant tier2"; otherwise exact. */
    if (plen >= 2 && pattern[plen - 1] == '*' && pattern[plen - 2] == ' ')
        return strncmp(section, pattern, plen - 1) == 0 && section[plen - 1] != '\0';
    return strlen(section) == plen && strncmp(section, pattern, plen) == 0;
}

int cfg_check_known(const struct cfg *c, const char *const *allowed, char **err)
{
    for (size_t i = 0; i < c->n; i++) {
        const struct cfg_entry *e = &c->entries[i];
        bool ok = false, section_known = false;
        for (const char *const *a = allowed; *a && !ok; a++) {
            const char *dot = strrchr(*a, '.');
            if (!dot)
                continue;
            if (!section_matches(*a, (size_t)(dot - *a), e->section))
                continue;
            section_known = true;
            ok = strcmp(dot + 1, e->key) == 0;
        }
        if (!ok) {
            *err = fmt_err("%s:%d: %s '%s' in [%s]", c->path, e->line,
                           section_known ? "unknown key" : "unknown section for key", e->key,
                           e->section);
            return -ERR_CONFIG;
        }
    }
    return 0;
}
