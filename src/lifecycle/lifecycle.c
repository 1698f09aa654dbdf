/* lifecycle.c -- the lifecycle pass: reads the [lifecycle NAME] rules, the grants'
 * retention (gate) and the S3 lifecycle rules (meta), lists each bucket concerned,
 * asks lifecycle_policy.c what is outside the policy, and then (apply) retires it,
 * deletes retired units whose link horizon has passed, aborts old multipart uploads,
 * collects unreferenced blobs and records the run. plan runs the same code without
 * changing anything.
 *
 * Order inside a bucket: retire first, then the retired units found when the pass
 * began are considered for deletion; something retired by this pass is never deleted
 * by it (LIFECYCLE_SETTLE_S). A delete re-reads the object first and skips it if a
 * PUT made it live again meanwhile. The gate's pending link horizons are flushed
 * before any horizon is read. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "gate/gate.h"
#include "lifecycle/lifecycle_int.h"
#include "meta/meta.h"
#include "store/store.h"

const char *const lifecycle_config_keys[] = {
    "lifecycle *.prefix",
    "lifecycle *.expire_after",
    "lifecycle *.keep_newest",
    "lifecycle *.abort_multipart_after",
    NULL,
};

struct lifecycle {
    struct store *st;
    struct meta *m;
    struct gate *g;
    struct meta_gate *mg;
    char *bucket;
    struct lc_rule *rules; /* the configuration's, for the data bucket */
    size_t n_rules;
    struct lc_grant *grants;
    size_t n_grants;
};

/* ---- configuration ---- */

static int cfg_fail(const struct cfg *c, const char *sec, const char *key, char **err,
                    const char *why)
{
    const struct cfg_entry *e = key ? cfg_find(c, sec, key) : NULL;
    int line = e ? e->line : 0;
    for (size_t i = 0; i < c->n && !line; i++)
        if (strcmp(c->entries[i].section, sec) == 0)
            line = c->entries[i].line;
    struct buf b = BUF_INIT;
    if (e)
        buf_printf(&b, "%s:%d: [%s] %s = %s: %s", c->path, line, sec, key, e->value, why);
    else
        buf_printf(&b, "%s:%d: [%s]: %s", c->path, line, sec, why);
    *err = buf_take(&b);
    return -ERR_CONFIG;
}

/* "30" = 30 days; "36h", "1d12h" = a duration. Absent: 0. */
static int parse_days(const struct cfg *c, const char *sec, const char *key, int64_t *out,
                      char **err)
{
    const char *v = cfg_get(c, sec, key, NULL);
    uint64_t d;
    *out = 0;
    if (!v)
        return 0;
    if (str_to_u64(str_c(v), &d) == 0) {
        if (d == 0 || d > 36500)
            return cfg_fail(c, sec, key, err, "a number of days between 1 and 36500");
        *out = (int64_t)d * 86400;
        return 0;
    }
    if (duration_parse(str_c(v), out) < 0 || *out <= 0)
        return cfg_fail(c, sec, key, err, "expected a number of days (30) or a duration (36h)");
    return 0;
}

static void rules_free(struct lc_rule *r, size_t n)
{
    for (size_t i = 0; r && i < n; i++)
        free(r[i].prefix);
    free(r);
}

static int parse_rules(const struct cfg *c, struct lifecycle *lc, char **err)
{
    int rc;
    for (size_t i = 0; i < c->n; i++) {
        const char *sec = c->entries[i].section;
        if (strcmp(sec, "lifecycle") == 0)
            return cfg_fail(c, sec, NULL, err, "a rule needs a name: [lifecycle NAME]");
        if (strncmp(sec, "lifecycle ", 10) != 0 || !sec[10])
            continue;
        bool seen = false;
        for (size_t k = 0; k < lc->n_rules && !seen; k++)
            seen = strcmp(lc->rules[k].name, sec + 10) == 0;
        if (seen)
            continue;
        for (size_t k = 0; k < c->n; k++) { /* keys of this section must be known */
            const struct cfg_entry *e = &c->entries[k];
            if (strcmp(e->section, sec) != 0)
                continue;
            bool known = false;
            for (const char *const *kk = lifecycle_config_keys; *kk && !known; kk++)
                known = strcmp(*kk + strlen("lifecycle *."), e->key) == 0;
            if (!known) {
                struct buf b = BUF_INIT;
                buf_printf(&b, "%s:%d: unknown key '%s' in [%s]", c->path, e->line, e->key, sec);
                *err = buf_take(&b);
                return -ERR_CONFIG;
            }
        }
        if (lc->n_rules == LIFECYCLE_RULES_MAX)
            return cfg_fail(c, sec, NULL, err, "too many [lifecycle] sections");
        struct lc_rule *nr = realloc(lc->rules, (lc->n_rules + 1) * sizeof *nr);
        if (!nr)
            return -ERR_NOMEM;
        lc->rules = nr;
        struct lc_rule *r = &lc->rules[lc->n_rules++];
        memset(r, 0, sizeof *r);
        snprintf(r->name, sizeof r->name, "%s", sec + 10);
        const char *p = cfg_get(c, sec, "prefix", NULL);
        if (!p)
            return cfg_fail(c, sec, NULL, err,
                            "prefix is required (e.g. prefix = scratch/; empty for the bucket)");
        if (p[0] == '/' || strlen(p) > 1024)
            return cfg_fail(c, sec, "prefix", err, "a key prefix: not starting with '/'");
        if (!(r->prefix = strdup(p)))
            return -ERR_NOMEM;
        uint64_t kn;
        if ((rc = parse_days(c, sec, "expire_after", &r->expire_s, err)) < 0 ||
            (rc = parse_days(c, sec, "abort_multipart_after", &r->abort_s, err)) < 0 ||
            (rc = cfg_get_u64(c, sec, "keep_newest", 0, &kn, err)) < 0)
            return rc;
        if (cfg_find(c, sec, "keep_newest") && (kn < 1 || kn > 1000000))
            return cfg_fail(c, sec, "keep_newest", err, "must be between 1 and 1000000");
        r->keep_newest = (unsigned)kn;
        if (!r->expire_s && !r->keep_newest && !r->abort_s)
            return cfg_fail(c, sec, NULL, err,
                            "a rule needs expire_after, keep_newest or abort_multipart_after");
    }
    return 0;
}

void lifecycle_close(struct lifecycle *lc)
{
    if (!lc)
        return;
    rules_free(lc->rules, lc->n_rules);
    free(lc->grants);
    meta_gate_close(lc->mg);
    free(lc->bucket);
    free(lc);
}

int lifecycle_open(const struct cfg *c, struct store *st, struct meta *m, struct gate *g,
                   const char *bucket, struct lifecycle **out, char **err)
{
    struct lifecycle *lc = calloc(1, sizeof *lc);
    int rc = 0;
    if (!lc)
        return -ERR_NOMEM;
    lc->st = st;
    lc->m = m;
    lc->g = g;
    if (!(lc->bucket = strdup(bucket))) {
        rc = -ERR_NOMEM;
        goto out;
    }
    if (c && (rc = parse_rules(c, lc, err)) < 0)
        goto out;
    size_t ng = g ? gate_grant_count(g) : 0;
    if (ng && !(lc->grants = calloc(ng, sizeof *lc->grants))) {
        rc = -ERR_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < ng; i++) {
        const struct gate_grant *gr = gate_grant_at(g, i);
        lc->grants[i] = (struct lc_grant){gr->name,         (const char *const *)gr->prefixes,
                                          gr->n_prefixes,   gr->keep_daily ? gr->keep_daily : 7,
                                          gr->keep_monthly, gr->keep_yearly};
    }
    lc->n_grants = ng;
    if (m && (rc = meta_gate_open(m, &lc->mg)) < 0)
        goto out;
    *out = lc;
    return 0;
out:
    lifecycle_close(lc);
    return rc;
}

static int run_report(struct lifecycle *lc, bool totals, struct lifecycle_report *out)
{
    struct meta_lc_run r;
    int rc;
    if (!lc->m)
        return -ERR_NOT_FOUND;
    if ((rc = (totals ? meta_lc_run_totals : meta_lc_run_last)(lc->m, &r)) < 0)
        return rc;
    *out = (struct lifecycle_report){r.ran_at,     r.retired,         r.deleted,
                                     r.waiting,    r.aborted_uploads, r.blobs_removed,
                                     r.blob_bytes, r.grants_changed,  false};
    return 0;
}

int lifecycle_last_run(struct lifecycle *lc, struct lifecycle_report *out)
{
    return run_report(lc, false, out);
}

int lifecycle_totals(struct lifecycle *lc, struct lifecycle_report *out)
{
    return run_report(lc, true, out);
}

/* ---- the pass ---- */

struct pass {
    struct lifecycle *lc;
    bool apply;
    int64_t now, now_us;
    int (*fn)(void *ctx, const struct lifecycle_action *a);
    void (*changed)(void *ctx, const char *grant);
    void *ctx;
    struct lifecycle_report rep;
    bool *grant_changed; /* per lc->grants */
    char holder[128];    /* apply: who holds the lifecycle lease */
};

struct objlist {
    struct lc_obj *o;
    size_t n, cap;
    int err;
};

static int on_obj(void *ctx, const struct store_list_entry *e)
{
    struct objlist *l = ctx;
    if (!e->key || !e->info)
        return 0;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        struct lc_obj *o = realloc(l->o, cap * sizeof *o);
        if (!o)
            return l->err = -ERR_NOMEM, 1;
        l->o = o;
        l->cap = cap;
    }
    struct lc_obj *o = &l->o[l->n];
    memset(o, 0, sizeof *o);
    if (!(o->key = strdup(e->key)))
        return l->err = -ERR_NOMEM, 1;
    o->mtime = e->info->mtime_us / 1000000;
    o->retired_us = e->info->retired_us;
    l->n++;
    return 0;
}

static void objlist_release(struct objlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free((char *)l->o[i].key);
    free(l->o);
    memset(l, 0, sizeof *l);
}

/* Every object of the bucket, retired ones included, in key order. */
static int list_all(struct store *st, const char *bucket, struct objlist *l)
{
    char *after = NULL;
    int rc = 0;
    for (;;) {
        struct store_list_req req = {str_c(bucket),  STR_NULL, STR_NULL, str_c(after),
                                     STORE_LIST_MAX, false,    false};
        struct store_list_res res = {0};
        rc = store_obj_list(st, &req, on_obj, l, &res);
        if (rc == 0)
            rc = l->err;
        bool more = rc == 0 && res.truncated && res.next_after;
        free(after);
        after = more ? res.next_after : NULL;
        if (more)
            res.next_after = NULL;
        store_list_res_release(&res);
        if (!more)
            break;
    }
    free(after);
    return rc;
}

static int horizon_of(struct pass *ps, const char *bucket, const char *key, int64_t *out)
{
    struct lifecycle *lc = ps->lc;
    int64_t h = 0;
    int rc = 0;
    if (lc->g && strcmp(bucket, lc->bucket) == 0)
        rc = gate_link_horizon(lc->g, str_c(key), &h);
    else if (lc->mg)
        rc = meta_horizon_get(lc->mg, bucket, str_c(key), &h);
    if (rc == -ERR_NOT_FOUND) {
        rc = 0;
        h = 0;
    }
    if (rc < 0)
        return rc;
    *out = h;
    return 0;
}

/* Redirect-mode grants hand out page links that point to the portal, not presigned
 * URLs: no horizon is raised when the page lists a file, yet such a link works as long
 * as the token that saw the page. So the horizon of an object retired at `retired_s`
 * is at least the end of the tier-token period a page could have been served in (the
 * next period's token works during the overlap: then the one after), and the expiry of
 * any live named token of the grant that expires (a named token without an expiry is
 * re-checked at each click; see docs/lifecycle.md). */
struct named_max {
    const char *grant;
    int64_t max;
};
static int on_named(void *ctx, const struct gate_named *n)
{
    struct named_max *nm = ctx;
    if (strcmp(n->grant, nm->grant) == 0 && !n->revoked_at && n->expires_at > nm->max)
        nm->max = n->expires_at;
    return 0;
}

static int64_t redirect_horizon(struct pass *ps, const struct lc_policy *p, const char *key,
                                int64_t retired_s)
{
    struct lifecycle *lc = ps->lc;
    const struct lc_grant *lg = lc->g && p->grants == lc->grants ? lc_grant_of(p, key) : NULL;
    const struct gate_grant *gr = lg ? gate_grant_find(lc->g, str_c(lg->name)) : NULL;
    if (!gr || gr->link_mode != GATE_LINK_REDIRECT)
        return 0;
    int64_t period = gate_period_of(gr, retired_s);
    int64_t end = gate_period_start(gr, period + 1);
    if (retired_s >= end - gr->overlap_s)
        end = gate_period_start(gr, period + 2);
    struct named_max nm = {gr->name, 0};
    if (gate_named_list(lc->g, ps->now, on_named, &nm) == 0 && nm.max > end)
        end = nm.max;
    return end;
}

static int emit(struct pass *ps, enum lifecycle_act act, const char *bucket, const char *key,
                const char *grant, const char *why, int64_t horizon)
{
    struct lifecycle_action a = {act, bucket, key, grant, why, horizon};
    return ps->fn ? ps->fn(ps->ctx, &a) : 0;
}

static void note_changed(struct pass *ps, const struct lc_policy *p, const char *key)
{
    const struct lc_grant *g = lc_grant_of(p, key);
    if (g && ps->lc->grants && p->grants == ps->lc->grants)
        ps->grant_changed[g - ps->lc->grants] = true;
}

/* Retires what the policy put out, unit by unit (sorted by key, a unit's members are
 * adjacent). */
static int do_retire(struct pass *ps, const struct lc_policy *p, const char *bucket,
                     struct objlist *l)
{
    int rc = 0;
    for (size_t i = 0; i < l->n && rc == 0; i++) {
        struct lc_obj *o = &l->o[i];
        if (o->retired_us || o->verdict != LC_OUT)
            continue;
        int64_t h = 0;
        if ((rc = horizon_of(ps, bucket, o->key, &h)) < 0)
            break;
        int64_t rh = redirect_horizon(ps, p, o->key, ps->now);
        if (rh > h)
            h = rh;
        const struct lc_grant *g = lc_grant_of(p, o->key);
        if (ps->apply) {
            rc = store_obj_retire(ps->lc->st, str_c(bucket), str_c(o->key), ps->now_us);
            if (rc == -ERR_NO_SUCH_KEY) { /* deleted meanwhile */
                rc = 0;
                continue;
            }
            if (rc < 0)
                break;
            ps->rep.retired++;
            note_changed(ps, p, o->key);
        }
        rc = emit(ps, LC_RETIRE, bucket, o->key, g ? g->name : NULL, o->why, h);
    }
    return rc;
}

/* Deletes the retired units (found retired when the pass began) whose time has come. */
static int do_delete(struct pass *ps, const struct lc_policy *p, const char *bucket,
                     struct objlist *l)
{
    int rc = 0;
    size_t i = 0;
    while (i < l->n && rc == 0) {
        if (!l->o[i].retired_us) {
            i++;
            continue;
        }
        /* the unit: adjacent retired members sharing the unit prefix */
        size_t ul = lc_unit_len(p, l->o[i].key), j = i;
        int64_t rmax = 0, hmax = 0;
        for (; j < l->n && strncmp(l->o[j].key, l->o[i].key, ul) == 0 &&
               (ul < strlen(l->o[i].key) || j == i);
             j++) {
            if (!l->o[j].retired_us)
                continue;
            int64_t h;
            if ((rc = horizon_of(ps, bucket, l->o[j].key, &h)) < 0)
                return rc;
            if (h > hmax)
                hmax = h;
            if (l->o[j].retired_us > rmax)
                rmax = l->o[j].retired_us;
        }
        int64_t rh = redirect_horizon(ps, p, l->o[i].key, rmax / 1000000);
        if (rh > hmax)
            hmax = rh;
        enum lifecycle_act act = lc_retired_decide(rmax, hmax, ps->now_us);
        char why[LC_WHY_MAX], t[TG_TIME_BUF];
        if (act == LC_WAIT && hmax * 1000000 > ps->now_us) {
            time_fmt_iso8601(hmax, t);
            snprintf(why, sizeof why, "retired; a link is valid until %s", t);
        } else if (act == LC_WAIT) {
            snprintf(why, sizeof why, "retired less than %ds ago", LIFECYCLE_SETTLE_S);
        } else if (hmax) {
            time_fmt_iso8601(hmax, t);
            snprintf(why, sizeof why, "retired; its last link expired at %s", t);
        } else {
            snprintf(why, sizeof why, "retired; no link was handed out");
        }
        for (size_t k = i; k < j && rc == 0; k++) {
            struct lc_obj *o = &l->o[k];
            if (!o->retired_us)
                continue;
            const struct lc_grant *g = lc_grant_of(p, o->key);
            if (act == LC_WAIT) {
                ps->rep.waiting++;
            } else if (ps->apply) {
                /* only the object retired then: a PUT since the listing made the key
                 * live again, and then it is not ours to delete (one statement) */
                int dr = store_obj_delete_retired(ps->lc->st, str_c(bucket), str_c(o->key),
                                                  o->retired_us);
                if (dr == -ERR_NO_SUCH_KEY)
                    continue;
                if ((rc = dr) < 0)
                    break;
                ps->rep.deleted++;
            }
            rc = emit(ps, act, bucket, o->key, g ? g->name : NULL, why, hmax);
        }
        i = j > i ? j : i + 1;
    }
    return rc;
}

struct mpu_ctx {
    struct pass *ps;
    const struct lc_policy *p;
    const struct lc_rule *r;
    const char *bucket;
    struct {
        char *key, *id;
        int64_t initiated_us;
    } * u;
    size_t n, cap;
    char *last_key, *last_id;
    int err;
};

static int on_upload(void *ctx, const struct store_mpu *u)
{
    struct mpu_ctx *m = ctx;
    free(m->last_key);
    free(m->last_id);
    m->last_key = strdup(u->key);
    m->last_id = strdup(u->upload_id);
    if (!m->last_key || !m->last_id)
        return m->err = -ERR_NOMEM, 1;
    if (u->initiated_us > m->ps->now_us - m->r->abort_s * 1000000)
        return 0;
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 16;
        void *nu = realloc(m->u, cap * sizeof *m->u);
        if (!nu)
            return m->err = -ERR_NOMEM, 1;
        m->u = nu;
        m->cap = cap;
    }
    m->u[m->n].key = strdup(u->key);
    m->u[m->n].id = strdup(u->upload_id);
    m->u[m->n].initiated_us = u->initiated_us;
    m->n++;
    if (!m->u[m->n - 1].key || !m->u[m->n - 1].id)
        return m->err = -ERR_NOMEM, 1;
    return 0;
}

static bool area_protected(const struct lc_policy *p, const struct lc_rule *r, const char *key)
{
    static const char *const AREAS[] = {"_index/", "inbox/", "inbox-rejected/", NULL};
    if (!p->data_bucket)
        return false;
    for (const char *const *a = AREAS; *a; a++)
        if (strncmp(key, *a, strlen(*a)) == 0)
            return strncmp(r->prefix, *a, strlen(*a)) != 0;
    return false;
}

static int do_abort(struct pass *ps, const struct lc_policy *p, const char *bucket,
                    const struct lc_rule *r)
{
    struct mpu_ctx m = {ps, p, r, bucket, NULL, 0, 0, NULL, NULL, 0};
    bool truncated = true;
    int rc = 0;
    while (rc == 0 && truncated) {
        truncated = false;
        rc = store_mpu_list(ps->lc->st, str_c(bucket), str_c(r->prefix), str_c(m.last_key),
                            str_c(m.last_id), 1000, on_upload, &m, &truncated);
        if (rc == 0)
            rc = m.err;
    }
    if (rc == -ERR_NO_SUCH_BUCKET)
        rc = 0;
    for (size_t i = 0; i < m.n && rc == 0; i++) {
        if (area_protected(p, r, m.u[i].key))
            continue;
        char why[LC_WHY_MAX], t[TG_TIME_BUF], d[32];
        time_fmt_iso8601(m.u[i].initiated_us / 1000000, t);
        if (r->abort_s % 86400 == 0)
            snprintf(d, sizeof d, "%lldd", (long long)(r->abort_s / 86400));
        else
            snprintf(d, sizeof d, "%llds", (long long)r->abort_s);
        snprintf(why, sizeof why,
                 "upload %.40s initiated %s, older than abort_multipart_after=%s "
                 "(%s %s)",
                 m.u[i].id, t, d, r->s3 ? "S3 rule" : "rule", r->name);
        if (ps->apply) {
            rc = store_mpu_abort(ps->lc->st, str_c(bucket), str_c(m.u[i].key), str_c(m.u[i].id));
            if (rc == -ERR_NO_SUCH_UPLOAD) { /* completed or aborted meanwhile */
                rc = 0;
                continue;
            }
            if (rc < 0)
                break;
            ps->rep.aborted_uploads++;
        }
        const struct lc_grant *g = lc_grant_of(p, m.u[i].key);
        rc = emit(ps, LC_ABORT_UPLOAD, bucket, m.u[i].key, g ? g->name : NULL, why, 0);
    }
    for (size_t i = 0; i < m.n; i++) {
        free(m.u[i].key);
        free(m.u[i].id);
    }
    free(m.u);
    free(m.last_key);
    free(m.last_id);
    return rc;
}

static int pass_bucket(struct pass *ps, const char *bucket)
{
    struct lifecycle *lc = ps->lc;
    bool data = strcmp(bucket, lc->bucket) == 0;
    struct meta_lc_rule *s3r = NULL;
    size_t ns3 = 0, nr = 0;
    struct lc_rule *rules = NULL;
    struct objlist l = {0};
    int rc = 0;

    if (lc->m) {
        rc = meta_lc_rules_get(lc->m, bucket, &s3r, &ns3);
        if (rc == -ERR_NOT_FOUND)
            rc = 0;
        if (rc < 0)
            return rc;
    }
    size_t ncfg = data ? lc->n_rules : 0;
    if (ncfg + ns3 && !(rules = calloc(ncfg + ns3, sizeof *rules))) {
        rc = -ERR_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < ncfg; i++) {
        rules[nr] = lc->rules[i];
        rules[nr++].prefix = lc->rules[i].prefix; /* borrowed */
    }
    for (size_t i = 0; i < ns3; i++) {
        if (!s3r[i].enabled)
            continue;
        struct lc_rule *r = &rules[nr++];
        snprintf(r->name, sizeof r->name, "%s", s3r[i].id[0] ? s3r[i].id : "(no id)");
        r->prefix = s3r[i].prefix; /* borrowed from s3r */
        r->expire_s = s3r[i].expire_days * 86400;
        r->abort_s = s3r[i].abort_days * 86400;
        r->s3 = true;
    }
    struct lc_policy p = {data ? lc->grants : NULL, data ? lc->n_grants : 0, rules, nr, data};

    rc = list_all(lc->st, bucket, &l);
    if (rc == -ERR_NO_SUCH_BUCKET) {
        rc = 0;
        goto out;
    }
    if (rc < 0 || (rc = lc_policy_select(&p, l.o, l.n, ps->now)) < 0)
        goto out;
    if ((rc = do_retire(ps, &p, bucket, &l)) < 0 || (rc = do_delete(ps, &p, bucket, &l)) < 0)
        goto out;
    for (size_t i = 0; i < nr && rc == 0; i++)
        if (rules[i].abort_s)
            rc = do_abort(ps, &p, bucket, &rules[i]);
out:
    objlist_release(&l);
    free(rules);
    meta_lc_rules_free(s3r, ns3);
    return rc;
}

struct blist {
    char **b;
    size_t n;
    int err;
};
static int on_lc_bucket(void *ctx, const char *bucket)
{
    struct blist *bl = ctx;
    char **nb = realloc(bl->b, (bl->n + 1) * sizeof *nb);
    if (!nb)
        return bl->err = -ERR_NOMEM;
    bl->b = nb;
    if (!(bl->b[bl->n] = strdup(bucket)))
        return bl->err = -ERR_NOMEM;
    bl->n++;
    return 0;
}

/* "host:pid": who holds a lease (for the logs of whoever reads the table). */
static void lease_holder(char *out, size_t cap)
{
    char host[64] = "";
    gethostname(host, sizeof host - 1);
    snprintf(out, cap, "%s:%ld", host, (long)getpid());
}

/* Keeps the lease while the pass runs (a dead holder's lease expires). */
static void lease_renew(struct pass *ps)
{
    bool got = false;
    if (ps->apply && ps->lc->m)
        meta_lease_try(ps->lc->m, LIFECYCLE_LEASE, ps->holder, (int64_t)time(NULL),
                       LIFECYCLE_LEASE_TTL_S, &got);
}

static int run(struct pass *ps)
{
    struct lifecycle *lc = ps->lc;
    struct blist bl = {0};
    int rc = 0;
    if (lc->g && gate_flush(lc->g) < 0)
        tg_log_warn("lifecycle: pending link horizons could not be written; using stored ones");
    if (lc->n_grants && !(ps->grant_changed = calloc(lc->n_grants, sizeof(bool))))
        return -ERR_NOMEM;
    if ((rc = pass_bucket(ps, lc->bucket)) < 0)
        goto out;
    if (lc->m && (rc = meta_lc_buckets(lc->m, on_lc_bucket, &bl)) < 0)
        goto out;
    for (size_t i = 0; i < bl.n && rc == 0; i++)
        if (strcmp(bl.b[i], lc->bucket) != 0) {
            lease_renew(ps);
            rc = pass_bucket(ps, bl.b[i]);
        }
    if (rc < 0 || !ps->apply)
        goto out;
    lease_renew(ps);
    if ((rc = store_gc(lc->st, LIFECYCLE_GC_GRACE_S, &ps->rep.blobs_removed, &ps->rep.blob_bytes)) <
        0)
        goto out;
    for (size_t i = 0; i < lc->n_grants; i++)
        if (ps->grant_changed[i]) {
            ps->rep.grants_changed++;
            if (ps->changed)
                ps->changed(ps->ctx, lc->grants[i].name);
        }
    if (lc->m) {
        struct meta_lc_run r = {ps->now,
                                ps->rep.retired,
                                ps->rep.deleted,
                                ps->rep.waiting,
                                ps->rep.aborted_uploads,
                                ps->rep.blobs_removed,
                                ps->rep.blob_bytes,
                                ps->rep.grants_changed};
        if ((rc = meta_lc_run_record(lc->m, &r)) < 0)
            goto out;
    }
    tg_log_info("lifecycle: retired %u, deleted %u, waiting %u, aborted %u uploads, "
                "removed %u blobs (%" PRIu64 " bytes), %u grants changed",
                ps->rep.retired, ps->rep.deleted, ps->rep.waiting, ps->rep.aborted_uploads,
                ps->rep.blobs_removed, ps->rep.blob_bytes, ps->rep.grants_changed);
out:
    for (size_t i = 0; i < bl.n; i++)
        free(bl.b[i]);
    free(bl.b);
    free(ps->grant_changed);
    ps->grant_changed = NULL;
    return rc;
}

int lifecycle_plan(struct lifecycle *lc, int64_t now,
                   int (*fn)(void *ctx, const struct lifecycle_action *a), void *ctx)
{
    struct pass ps = {
        .lc = lc, .apply = false, .now = now, .now_us = now * 1000000, .fn = fn, .ctx = ctx};
    return run(&ps);
}

int lifecycle_apply(struct lifecycle *lc, int64_t now,
                    int (*fn)(void *ctx, const struct lifecycle_action *a),
                    void (*changed)(void *ctx, const char *grant), void *ctx,
                    struct lifecycle_report *rep)
{
    struct pass ps = {.lc = lc,
                      .apply = true,
                      .now = now,
                      .now_us = now * 1000000,
                      .fn = fn,
                      .changed = changed,
                      .ctx = ctx};
    ps.rep.ran_at = now;
    bool got = true;
    int rc = 0;
    lease_holder(ps.holder, sizeof ps.holder);
    if (lc->m && (rc = meta_lease_try(lc->m, LIFECYCLE_LEASE, ps.holder, (int64_t)time(NULL),
                                      LIFECYCLE_LEASE_TTL_S, &got)) < 0)
        return rc;
    if (!got) {
        tg_log_info("lifecycle: another process holds the lifecycle lease: this pass is skipped");
        if (rep) {
            memset(rep, 0, sizeof *rep);
            rep->ran_at = now;
            rep->skipped = true;
        }
        return 0;
    }
    rc = run(&ps);
    if (lc->m)
        meta_lease_release(lc->m, LIFECYCLE_LEASE, ps.holder);
    if (rc == 0 && rep)
        *rep = ps.rep;
    return rc;
}
