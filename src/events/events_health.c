/* events_health.c -- is every grant fresh? Per grant: the newest daily in its
 * _index/<grant>.json (what members see), the MTD named there and its manifest, the
 * last lifecycle run (passed in by the caller, who owns the lifecycle handle) and the
 * next token rotation. A problem is a sentence naming the grant and what is wrong;
 * a grant is ok when it has none.
 *
 * "Fresh" at time now (UTC): from [health] stale_after_hour (default 06:00) the newest
 * daily must be yesterday's (or today's); before that hour the day before yesterday is
 * still accepted, since last night's file may not have landed yet. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "events/events_int.h"
#include "gate/gate.h"
#include "store/store.h"

#define HEALTH_JSON_MAX (4u << 20) /* an index or manifest read for health */
#define HEALTH_DEFAULT_HOUR 6
#define HEALTH_DEFAULT_LC_AGE (2 * 3600)

int events_health_config(const struct cfg *c, struct events_health_opts *o, char **err)
{
    uint64_t h;
    int64_t age;
    int rc;
    if ((rc = cfg_get_u64(c, "health", "stale_after_hour", HEALTH_DEFAULT_HOUR, &h, err)) < 0)
        return rc;
    if (h > 23) {
        const struct cfg_entry *e = cfg_find(c, "health", "stale_after_hour");
        struct buf b = BUF_INIT;
        buf_printf(&b, "%s:%d: [health] stale_after_hour: expected an hour 0..23 (UTC)", c->path,
                   e ? e->line : 0);
        *err = buf_take(&b);
        return -ERR_CONFIG;
    }
    if ((rc = cfg_get_duration(c, "health", "lifecycle_max_age", HEALTH_DEFAULT_LC_AGE, &age,
                               err)) < 0)
        return rc;
    o->stale_after_hour = (unsigned)h;
    o->lifecycle_max_age = age;
    return 0;
}

/* The JSON of a stored object; NULL when absent or not JSON (rc says which). */
static json_t *read_json(const struct events_health_opts *o, const char *key, int *rc)
{
    struct store_obj_info info = {0};
    int fd = -1;
    json_t *j = NULL;
    *rc = store_obj_open(o->store, str_c(o->bucket), str_c(key), &info, &fd);
    if (*rc < 0)
        goto out;
    if (info.size > HEALTH_JSON_MAX) {
        *rc = -ERR_TOO_LONG;
        goto out;
    }
    char *p = malloc(info.size + 1);
    size_t got = 0;
    while (p && got < info.size) {
        ssize_t n = pread(fd, p + got, info.size - got, (off_t)got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    if (p && got == info.size) {
        json_error_t je;
        j = json_loadb(p, got, 0, &je);
        *rc = j ? 0 : -ERR_INVALID;
    } else {
        *rc = p ? -ERR_IO : -ERR_NOMEM;
    }
    free(p);
out:
    if (fd >= 0)
        close(fd);
    store_obj_info_release(&info);
    return j;
}

static bool is_date(const char *s)
{
    for (int i = 0; i < 10; i++) {
        if (i == 4 || i == 7) {
            if (s[i] != '-')
                return false;
        } else if (s[i] < '0' || s[i] > '9') {
            return false;
        }
    }
    return true;
}

/* The YYYY-MM-DD after "daily/" in key, or "" (out: 11 bytes). */
static void daily_date(const char *key, char out[11])
{
    out[0] = '\0';
    const char *d = key ? strstr(key, "daily/") : NULL;
    if (d && strlen(d + 6) >= 10 && is_date(d + 6)) {
        memcpy(out, d + 6, 10);
        out[10] = '\0';
    }
}

/* An index entry is a key (string) or an object with "key" / "date". */
static const char *entry_key(json_t *v)
{
    if (json_is_string(v))
        return json_string_value(v);
    return json_string_value(json_object_get(v, "key"));
}

static void problem(json_t *arr, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(json_t *arr, const char *fmt, ...)
{
    struct buf b = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    json_array_append_new(arr, json_string(buf_cstr(&b)));
    buf_release(&b);
}

static json_t *time_or_null(int64_t t)
{
    char s[TG_TIME_BUF];
    if (t <= 0)
        return json_null();
    time_fmt_iso8601(t, s);
    return json_string(s);
}

static json_t *grant_health(const struct events_health_opts *o, const struct gate_grant *gr)
{
    const char *name = gr->name;
    json_t *probs = json_array();
    char key[1100], newest[11] = "", newest_key[1100] = "", mtd_month[8] = "";
    json_t *mtd_built = json_null();
    int rc;

    snprintf(key, sizeof key, "_index/%s.json", name);
    json_t *idx = read_json(o, key, &rc);
    if (!idx) {
        if (rc == -ERR_NO_SUCH_KEY || rc == -ERR_NO_SUCH_BUCKET)
            problem(probs, "%s: nothing published yet (no %s)", name, key);
        else
            problem(probs, "%s: cannot read %s: %s", name, key, err_message(rc));
    } else {
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(idx, "daily"), i, v)
        {
            char d[11];
            const char *k = entry_key(v);
            daily_date(k, d);
            if (!d[0] && json_is_object(v) && json_is_string(json_object_get(v, "date")) &&
                strlen(json_string_value(json_object_get(v, "date"))) == 10 &&
                is_date(json_string_value(json_object_get(v, "date"))))
                snprintf(d, sizeof d, "%s", json_string_value(json_object_get(v, "date")));
            if (d[0] && strcmp(d, newest) > 0) {
                snprintf(newest, sizeof newest, "%s", d);
                snprintf(newest_key, sizeof newest_key, "%s", k ? k : "");
            }
        }
    }

    /* freshness of the newest daily */
    char yesterday[11], before[11], today[11];
    time_fmt_date(o->now, today);
    time_fmt_date(o->now - 86400, yesterday);
    time_fmt_date(o->now - 2 * 86400, before);
    unsigned hour = (unsigned)((o->now % 86400 + 86400) % 86400 / 3600);
    const char *want = hour >= o->stale_after_hour ? yesterday : before;
    if (idx && !newest[0])
        problem(probs, "%s: no daily file is listed; expected %s", name, yesterday);
    else if (newest[0] && strcmp(newest, want) < 0)
        problem(probs, "%s: the daily for %s is missing (newest daily: %s)", name, yesterday,
                newest);
    (void)today;

    /* the month-to-date bundle named by the index */
    const char *mk = idx ? json_string_value(json_object_get(idx, "mtd")) : NULL;
    if (!mk) {
        mk = idx ? entry_key(json_object_get(idx, "mtd")) : NULL;
    }
    if (mk) {
        const char *m = strstr(mk, "mtd/");
        if (m && strlen(m + 4) >= 7)
            snprintf(mtd_month, sizeof mtd_month, "%.7s", m + 4);
        const char *slash = strrchr(mk, '/');
        snprintf(key, sizeof key, "%.*smanifest.json", slash ? (int)(slash - mk + 1) : 0, mk);
        json_t *man = read_json(o, key, &rc);
        if (!man) {
            problem(probs, "%s: cannot read the MTD manifest %s: %s", name, key, err_message(rc));
        } else {
            const char *b = json_string_value(json_object_get(man, "built_at"));
            if (b) {
                json_decref(mtd_built);
                mtd_built = json_string(b);
            }
            if (newest[0]) {
                bool has_day = false;
                size_t i;
                json_t *v;
                json_array_foreach(json_object_get(man, "days"), i, v)
                {
                    const char *d = json_string_value(json_object_get(v, "date"));
                    has_day = has_day || (d && strcmp(d, newest) == 0);
                }
                if (strncmp(mtd_month, newest, 7) != 0)
                    problem(probs,
                            "%s: the MTD is for %s, not for the month of the newest daily "
                            "(%s)",
                            name, mtd_month[0] ? mtd_month : "?", newest);
                else if (!has_day)
                    problem(probs, "%s: the MTD %s does not include the newest daily %s", name,
                            mtd_month, newest);
            }
            json_decref(man);
        }
    } else if (newest[0]) {
        /* the formats that get a month-to-date bundle (publish_text.c's list) */
        static const char *const BUNDLED[] = {".parquet",  ".csv",    ".csv.gz",    ".jsonl",
                                              ".jsonl.gz", ".ndjson", ".ndjson.gz", NULL};
        size_t n = strlen(newest_key);
        bool bundled = false;
        for (const char *const *e = BUNDLED; *e && !bundled; e++)
            bundled = n > strlen(*e) && strcmp(newest_key + n - strlen(*e), *e) == 0;
        if (bundled)
            problem(probs, "%s: no month-to-date bundle is listed (newest daily %s)", name, newest);
    }
    json_decref(idx);

    /* retention */
    if ((o->serving || o->has_lifecycle) && o->lifecycle_max_age > 0) {
        if (!o->has_lifecycle)
            problem(probs, "%s: the lifecycle pass (retention) has never run", name);
        else if (o->now - o->last_lifecycle_run > o->lifecycle_max_age)
            problem(probs, "%s: the lifecycle pass (retention) last ran %lld min ago", name,
                    (long long)((o->now - o->last_lifecycle_run) / 60));
    }

    int64_t next = gate_period_start(gr, gate_period_of(gr, o->now) + 1);
    json_t *g = json_object();
    json_object_set_new(g, "grant", json_string(name));
    json_object_set_new(g, "ok", json_boolean(json_array_size(probs) == 0));
    json_object_set_new(g, "newest_daily", newest[0] ? json_string(newest) : json_null());
    json_object_set_new(g, "mtd_month", mtd_month[0] ? json_string(mtd_month) : json_null());
    json_object_set_new(g, "mtd_built_at", mtd_built);
    json_object_set_new(g, "last_lifecycle_run",
                        o->has_lifecycle ? time_or_null(o->last_lifecycle_run) : json_null());
    json_object_set_new(g, "next_rotation", time_or_null(next));
    json_object_set_new(g, "problems", probs);
    return g;
}

int events_health(const struct events_health_opts *o, void **out, char err[256])
{
    bool named = o->grants && o->n_grants;
    size_t n = named ? o->n_grants : gate_grant_count(o->gate);
    for (size_t i = 0; named && i < n; i++) {
        if (!gate_grant_find(o->gate, str_c(o->grants[i]))) {
            snprintf(err, 256, "no grant named '%s' in the configuration", o->grants[i]);
            return -ERR_NOT_FOUND;
        }
    }
    json_t *arr = json_array();
    bool ok = true;
    for (size_t i = 0; i < n; i++) {
        const struct gate_grant *gr =
            named ? gate_grant_find(o->gate, str_c(o->grants[i])) : gate_grant_at(o->gate, i);
        json_t *g = grant_health(o, gr);
        ok = ok && json_is_true(json_object_get(g, "ok"));
        json_array_append_new(arr, g);
    }
    json_t *r = json_object();
    json_object_set_new(r, "ok", json_boolean(ok));
    json_object_set_new(r, "grants", arr);
    *out = r;
    return 0;
}
