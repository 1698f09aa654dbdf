/* gate_config.c -- the [grant NAME] sections of tollgate.conf, validated into struct
 * gate_grant. Every refusal names the file, the line and the key:
 * "FILE:LINE: [grant x] key = value: reason". Grants keep the order of the file.
 *
 * Invariants after parsing: name matches [a-z0-9_-]{1,63}; 1..GATE_PREFIXES_MAX
 * prefixes, each non-empty, ending in '/', not starting with '/'; rotation >= 1 h;
 * 0 <= overlap < rotation; 60 s <= link_ttl <= 7 d (larger values are capped with a
 * warning); 1 s <= redirect_ttl <= 7 d; 1 <= keep_daily <= 3660; keep_monthly
 * <= 1200; keep_yearly "all" (GATE_KEEP_ALL) or 0..1000. */
#include <stdio.h>
#include <stdlib.h>

#include "gate/gate_int.h"

const char *const gate_config_keys[] = {
    "grant *.title",
    "grant *.prefix",
    "grant *.rotation",
    "grant *.overlap",
    "grant *.link_ttl",
    "grant *.link_mode",
    "grant *.redirect_ttl",
    "grant *.keep_daily",
    "grant *.keep_monthly",
    "grant *.keep_yearly",
    NULL,
};

#define ROTATION_MIN 3600
#define ROTATION_MAX (366 * 86400)
#define DEFAULT_ANCHOR 345600 /* 1970-01-05T00:00:00Z, a Monday */
#define DEFAULT_OVERLAP 86400
#define DEFAULT_REDIRECT_TTL 600

static int fail(const struct cfg *c, const char *section, const char *key, char **err,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int fail(const struct cfg *c, const char *section, const char *key, char **err,
                const char *fmt, ...)
{
    struct buf b = BUF_INIT;
    const struct cfg_entry *e = key ? cfg_find(c, section, key) : NULL;
    int line = e ? e->line : 0;
    if (!e) /* the section's first line */
        for (size_t i = 0; i < c->n && !line; i++)
            if (strcmp(c->entries[i].section, section) == 0)
                line = c->entries[i].line;
    if (e)
        buf_printf(&b, "%s:%d: [%s] %s = %s: ", c->path, line, section, key, e->value);
    else if (key)
        buf_printf(&b, "%s:%d: [%s] %s: ", c->path, line, section, key);
    else
        buf_printf(&b, "%s:%d: [%s]: ", c->path, line, section);
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    *err = buf_take(&b);
    return -ERR_CONFIG;
}

static bool name_ok(const char *n)
{
    size_t len = strlen(n);
    if (len == 0 || len >= GATE_NAME_MAX)
        return false;
    for (const char *p = n; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
            return false;
    return true;
}

static bool prefix_ok(struct str p)
{
    if (p.len == 0 || p.len > 512 || p.ptr[0] == '/' || p.ptr[p.len - 1] != '/')
        return false;
    for (size_t i = 0; i < p.len; i++)
        if ((unsigned char)p.ptr[i] < 0x20 || p.ptr[i] == 0x7f || p.ptr[i] == '\\')
            return false;
    return true;
}

void gate_grants_free(struct gate_grant *g, size_t n)
{
    for (size_t i = 0; g && i < n; i++) {
        free(g[i].title);
        for (size_t k = 0; k < g[i].n_prefixes; k++)
            free(g[i].prefixes[k]);
    }
    free(g);
}

static int parse_rotation(const struct cfg *c, const char *sec, struct gate_grant *gr, char **err)
{
    const char *v = cfg_get(c, sec, "rotation", NULL);
    gr->rotation_s = 7 * 86400;
    gr->anchor = DEFAULT_ANCHOR;
    if (!v)
        return 0;
    struct str dur, anchor;
    bool has_anchor = str_split(str_c(v), '@', &dur, &anchor);
    if (duration_parse(dur, &gr->rotation_s) < 0)
        return fail(c, sec, "rotation", err,
                    "expected '<duration> @ <ISO 8601 UTC anchor>', e.g. '7d @ "
                    "1970-01-05T00:00:00Z'");
    if (gr->rotation_s < ROTATION_MIN)
        return fail(c, sec, "rotation", err, "the rotation period must be at least 1h");
    if (gr->rotation_s > ROTATION_MAX)
        return fail(c, sec, "rotation", err, "the rotation period must be at most 366d");
    if (has_anchor && time_parse_iso8601(str_trim(anchor), &gr->anchor) < 0)
        return fail(c, sec, "rotation", err,
                    "the anchor after '@' must be an ISO 8601 UTC instant, e.g. "
                    "1970-01-05T00:00:00Z");
    return 0;
}

static int parse_ttl(const struct cfg *c, const char *sec, const char *key, int64_t def,
                     int64_t min, int64_t *out, char **err)
{
    const char *v = cfg_get(c, sec, key, NULL);
    int64_t t = def;
    if (v && duration_parse(str_c(v), &t) < 0)
        return fail(c, sec, key, err, "expected a duration such as 6d20h, 24h or 10m");
    if (t < min)
        return fail(c, sec, key, err, "must be at least %llds", (long long)min);
    if (t > GATE_LINK_TTL_MAX) {
        const struct cfg_entry *e = cfg_find(c, sec, key);
        tg_log_warn("%s:%d: [%s] %s = %s: capped at 7d (the longest a presigned URL may live)",
                    c->path, e ? e->line : 0, sec, key, v);
        t = GATE_LINK_TTL_MAX;
    }
    *out = t;
    return 0;
}

static int parse_one(const struct cfg *c, const char *sec, struct gate_grant *gr, char **err)
{
    const char *name = sec + 6; /* after "grant " */
    int rc;
    if (!name_ok(name))
        return fail(c, sec, NULL, err,
                    "a grant name is 1 to 63 characters of a-z, 0-9, '_' and '-'");
    snprintf(gr->name, sizeof gr->name, "%s", name);
    /* keys of this section must be known (cfg_check_known does it for the CLI; a
     * library user gets the same refusal) */
    for (size_t i = 0; i < c->n; i++) {
        const struct cfg_entry *e = &c->entries[i];
        if (strcmp(e->section, sec) != 0)
            continue;
        bool known = false;
        for (const char *const *k = gate_config_keys; *k && !known; k++)
            known = strcmp(*k + 8, e->key) == 0; /* after "grant *." */
        if (!known) {
            struct buf b = BUF_INIT;
            buf_printf(&b, "%s:%d: unknown key '%s' in [%s]", c->path, e->line, e->key, sec);
            *err = buf_take(&b);
            return -ERR_CONFIG;
        }
    }
    gr->title = strdup(cfg_get(c, sec, "title", name));
    if (!gr->title)
        return -ERR_NOMEM;

    const char *pv = cfg_get(c, sec, "prefix", NULL);
    if (!pv || !*pv)
        return fail(c, sec, NULL, err, "prefix is required (e.g. prefix = %s/)", name);
    struct str rest = str_trim(str_c(pv));
    while (rest.len) {
        struct str item;
        size_t k = 0;
        while (k < rest.len && rest.ptr[k] != ' ' && rest.ptr[k] != '\t')
            k++;
        item = (struct str){rest.ptr, k};
        rest = str_trim((struct str){rest.ptr + k, rest.len - k});
        if (!prefix_ok(item))
            return fail(c, sec, "prefix", err,
                        "each prefix must end with '/' and not start with '/' (e.g. %s/)", name);
        if (gr->n_prefixes == GATE_PREFIXES_MAX)
            return fail(c, sec, "prefix", err, "at most %d prefixes", GATE_PREFIXES_MAX);
        if (!(gr->prefixes[gr->n_prefixes++] = str_dup(item)))
            return -ERR_NOMEM;
    }

    if ((rc = parse_rotation(c, sec, gr, err)) < 0)
        return rc;

    const char *ov = cfg_get(c, sec, "overlap", NULL);
    /* default: a day, or half the period when that is shorter */
    gr->overlap_s = gr->rotation_s / 2 < DEFAULT_OVERLAP ? gr->rotation_s / 2 : DEFAULT_OVERLAP;
    if (ov && duration_parse(str_c(ov), &gr->overlap_s) < 0)
        return fail(c, sec, "overlap", err, "expected a duration such as 24h (0 for none)");
    if (gr->overlap_s >= gr->rotation_s)
        return fail(c, sec, "overlap", err, "must be shorter than the rotation period");

    if ((rc = parse_ttl(c, sec, "link_ttl", GATE_LINK_TTL_MAX, 60, &gr->link_ttl_s, err)) < 0 ||
        (rc = parse_ttl(c, sec, "redirect_ttl", DEFAULT_REDIRECT_TTL, 1, &gr->redirect_ttl_s,
                        err)) < 0)
        return rc;

    const char *lm = cfg_get(c, sec, "link_mode", "presign");
    if (strcmp(lm, "presign") == 0)
        gr->link_mode = GATE_LINK_PRESIGN;
    else if (strcmp(lm, "redirect") == 0)
        gr->link_mode = GATE_LINK_REDIRECT;
    else
        return fail(c, sec, "link_mode", err, "expected presign or redirect");

    uint64_t keep;
    if ((rc = cfg_get_u64(c, sec, "keep_daily", 7, &keep, err)) < 0)
        return rc;
    if (keep < 1 || keep > 3660)
        return fail(c, sec, "keep_daily", err, "must be between 1 and 3660");
    gr->keep_daily = (unsigned)keep;
    if ((rc = cfg_get_u64(c, sec, "keep_monthly", 12, &keep, err)) < 0)
        return rc;
    if (keep > 1200)
        return fail(c, sec, "keep_monthly", err, "must be between 0 and 1200");
    gr->keep_monthly = (unsigned)keep;
    const char *ky = cfg_get(c, sec, "keep_yearly", "all");
    if (strcmp(ky, "all") == 0) {
        gr->keep_yearly = GATE_KEEP_ALL;
    } else if (str_to_u64(str_c(ky), &keep) < 0 || keep > 1000) {
        return fail(c, sec, "keep_yearly", err,
                    "expected 'all' or a number of years between 0 and 1000");
    } else {
        gr->keep_yearly = (int)keep;
    }
    return 0;
}

int gate_grants_parse(const struct cfg *c, struct gate_grant **out, size_t *n, char **err)
{
    struct gate_grant *gs = NULL;
    size_t ng = 0;
    int rc = 0;
    for (size_t i = 0; i < c->n; i++) {
        const char *sec = c->entries[i].section;
        if (strcmp(sec, "grant") == 0) {
            rc = fail(c, sec, NULL, err, "a grant needs a name: [grant NAME]");
            goto out;
        }
        if (strncmp(sec, "grant ", 6) != 0)
            continue;
        bool seen = false;
        for (size_t k = 0; k < ng && !seen; k++)
            seen = strcmp(gs[k].name, sec + 6) == 0;
        for (size_t k = 0; k < i && !seen; k++)
            seen = strcmp(c->entries[k].section, sec) == 0; /* refused name seen before */
        if (seen)
            continue;
        struct gate_grant *ng2 = realloc(gs, (ng + 1) * sizeof *gs);
        if (!ng2) {
            rc = -ERR_NOMEM;
            goto out;
        }
        gs = ng2;
        memset(&gs[ng], 0, sizeof gs[ng]);
        ng++;
        if ((rc = parse_one(c, sec, &gs[ng - 1], err)) < 0)
            goto out;
    }
    *out = gs;
    *n = ng;
    return 0;
out:
    gate_grants_free(gs, ng);
    return rc;
}
