/* meta.c -- every public function of meta.h: argument checks, the caches in front
 * of the database, and the dispatch to the backend's table of operations
 * (meta_int.h). The backends hold no cache of their own.
 *
 * Caches: live access keys (a signed S3 request then costs no database read) and
 * grant epochs (read on every token check). An entry is used only while the
 * metadata generation is the one read *before* the database read that filled it,
 * and only while the backend says the generation is trustworthy (gen_enabled): a
 * change anywhere bumps the generation after it commits, so a cached value is never
 * used after the change has been seen. DIR/secret is a file for both backends. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "meta/meta.h"
#include "meta/meta_int.h"

int meta_secret_create(const char *data_dir)
{
    char path[4096];
    uint8_t s[META_SECRET_LEN];
    snprintf(path, sizeof path, "%s/secret", data_dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    int rc = crypto_random(s, sizeof s);
    if (rc == 0 && write(fd, s, sizeof s) != (ssize_t)sizeof s)
        rc = -EIO;
    if (rc == 0 && fsync(fd) < 0)
        rc = -errno;
    close(fd);
    crypto_wipe(s, sizeof s);
    if (rc < 0)
        unlink(path);
    return rc;
}

int meta_secret_load(const char *data_dir, uint8_t out[META_SECRET_LEN], char **err)
{
    char path[4096];
    struct stat stt;
    struct buf e = BUF_INIT;
    snprintf(path, sizeof path, "%s/secret", data_dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int rc = -errno;
        buf_printf(&e, "cannot open '%s': %s (run 'tollgate init DIR' first)", path,
                   strerror(errno));
        *err = buf_take(&e);
        return rc;
    }
    int rc = 0;
    if (fstat(fd, &stt) < 0) {
        rc = -errno;
        buf_printf(&e, "cannot stat '%s': %s", path, strerror(errno));
    } else if (stt.st_mode & 077) {
        rc = -ERR_CONFIG;
        buf_printf(&e, "'%s' is readable by others (mode %03o): refusing it; run 'chmod 600 %s'",
                   path, stt.st_mode & 0777, path);
    } else if (stt.st_size != META_SECRET_LEN ||
               read(fd, out, META_SECRET_LEN) != META_SECRET_LEN) {
        rc = -ERR_CONFIG;
        buf_printf(&e, "'%s' must hold exactly %d bytes", path, META_SECRET_LEN);
    }
    close(fd);
    if (rc < 0)
        *err = buf_take(&e);
    return rc;
}

/* ---- open / close ---- */

int meta_open_cfg(const struct meta_config *cfg, const uint8_t secret[META_SECRET_LEN],
                  struct meta **out)
{
    const struct meta_ops *ops;
    if (!cfg->backend || !*cfg->backend || strcmp(cfg->backend, "sqlite") == 0) {
        ops = &meta_sqlite_ops;
    } else if (strcmp(cfg->backend, "postgres") == 0 || strcmp(cfg->backend, "postgresql") == 0) {
        ops = &meta_pg_ops;
        if (!cfg->dsn || !*cfg->dsn) {
            tg_log_error("meta: backend postgres needs a dsn");
            return -ERR_CONFIG;
        }
    } else {
        tg_log_error("meta: unknown backend '%s' (sqlite or postgres)", cfg->backend);
        return -ERR_CONFIG;
    }
    struct meta *m = calloc(1, sizeof *m);
    if (!m)
        return -ERR_NOMEM;
    m->ops = ops;
    pthread_rwlock_init(&m->cache_lock, NULL);
    memcpy(m->secret, secret, META_SECRET_LEN);
    int rc = ops->open(m, cfg);
    if (rc < 0) {
        meta_close(m);
        return rc;
    }
    *out = m;
    return 0;
}

int meta_open(const char *data_dir, const uint8_t secret[META_SECRET_LEN], struct meta **out)
{
    struct meta_config cfg = {data_dir, NULL, NULL};
    return meta_open_cfg(&cfg, secret, out);
}

void meta_close(struct meta *m)
{
    if (!m)
        return;
    m->ops->close(m);
    crypto_wipe(m->secret, sizeof m->secret);
    crypto_wipe(m->cache, sizeof m->cache);
    pthread_rwlock_destroy(&m->cache_lock);
    free(m);
}

const char *meta_backend_name(const struct meta *m)
{
    return m->ops->name;
}

uint64_t meta_gen_load(const struct meta *m)
{
    return m->ops->gen_load(m);
}

void meta_gen_bump(struct meta *m)
{
    m->ops->gen_bump(m);
}

bool meta_gen_enabled(const struct meta *m)
{
    return m->ops->gen_enabled(m);
}

/* ---- access keys and the admin key ---- */

static void derive_secret(const struct meta *m, struct str akid, char out[META_SECRET_KEY_LEN + 1])
{
    uint8_t mac[32];
    char b64[48];
    char msg[META_AKID_LEN + 16];
    int n = snprintf(msg, sizeof msg, "s3key|%.*s", STR_FMT(akid));
    crypto_hmac_sha256(m->secret, META_SECRET_LEN, msg, (size_t)n, mac);
    b64_encode(mac, sizeof mac, b64); /* 44 chars; AWS secrets are 40 of [A-Za-z0-9+/] */
    memcpy(out, b64, META_SECRET_KEY_LEN);
    out[META_SECRET_KEY_LEN] = '\0';
    crypto_wipe(mac, sizeof mac);
    crypto_wipe(b64, sizeof b64);
}

int meta_key_create(struct meta *m, const char *kind, const char *label, struct meta_key *out,
                    char secret[META_SECRET_KEY_LEN + 1])
{
    static const char AL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    struct meta_key k = {0};
    uint8_t rnd[META_AKID_LEN];
    int rc;
    if (strlen(label) >= META_LABEL_MAX || strlen(kind) >= sizeof k.kind)
        return -ERR_TOO_LONG;
    if ((rc = crypto_random(rnd, sizeof rnd)) < 0)
        return rc;
    memcpy(k.akid, "TG", 2);
    for (int i = 2; i < META_AKID_LEN; i++)
        k.akid[i] = AL[rnd[i] & 31];
    snprintf(k.kind, sizeof k.kind, "%s", kind);
    snprintf(k.label, sizeof k.label, "%s", label);
    k.created_us = tg_now_us();
    if ((rc = m->ops->key_insert(m, &k)) < 0)
        return rc;
    derive_secret(m, str_c(k.akid), secret);
    *out = k;
    return 0;
}

int meta_key_secret(struct meta *m, struct str akid, char *secret, size_t cap)
{
    int rc;
    if (akid.len != META_AKID_LEN || cap < META_SECRET_KEY_LEN + 1)
        return -ERR_INVALID_ACCESS_KEY;
    bool cache = meta_gen_enabled(m);
    uint64_t gen = meta_gen_load(m); /* before the read: a later change retires the entry */
    if (cache) {
        bool hit = false;
        pthread_rwlock_rdlock(&m->cache_lock);
        for (unsigned i = 0; i < META_KEY_CACHE && !hit; i++) {
            const struct meta_key_entry *e = &m->cache[i];
            if (e->gen == gen && e->akid[0] && memcmp(e->akid, akid.ptr, META_AKID_LEN) == 0) {
                memcpy(secret, e->secret, META_SECRET_KEY_LEN + 1);
                hit = true;
            }
        }
        pthread_rwlock_unlock(&m->cache_lock);
        if (hit)
            return 0;
    }
    if ((rc = m->ops->key_live(m, akid)) < 0)
        return rc;
    derive_secret(m, akid, secret);
    if (cache) {
        pthread_rwlock_wrlock(&m->cache_lock);
        struct meta_key_entry *e = &m->cache[m->cache_next++ % META_KEY_CACHE];
        memcpy(e->akid, akid.ptr, META_AKID_LEN);
        e->akid[META_AKID_LEN] = '\0';
        memcpy(e->secret, secret, META_SECRET_KEY_LEN + 1);
        e->gen = gen;
        pthread_rwlock_unlock(&m->cache_lock);
    }
    return 0;
}

int meta_key_delete(struct meta *m, struct str akid)
{
    return m->ops->key_delete(m, akid, tg_now_us());
}

int meta_key_list(struct meta *m, int (*fn)(void *ctx, const struct meta_key *k), void *ctx)
{
    return m->ops->key_list(m, fn, ctx);
}

int meta_admin_key_create(struct meta *m, char out[META_ADMIN_KEY_LEN + 1])
{
    uint8_t rnd[24], h[32];
    char key[META_ADMIN_KEY_LEN + 1];
    int rc = crypto_random(rnd, sizeof rnd);
    if (rc < 0)
        return rc;
    memcpy(key, "tga_", 4);
    b64url_encode(rnd, sizeof rnd, key + 4);
    crypto_sha256(key, strlen(key), h);
    if ((rc = m->ops->admin_key_set(m, h, tg_now_us())) == 0)
        memcpy(out, key, sizeof key);
    crypto_wipe(rnd, sizeof rnd);
    crypto_wipe(key, sizeof key);
    return rc;
}

bool meta_admin_key_check(struct meta *m, struct str key)
{
    uint8_t h[32], stored[32];
    crypto_sha256(key.ptr, key.len, h);
    if (m->ops->admin_key_get(m, stored) < 0)
        return false;
    return crypto_ct_eq(stored, h, 32);
}

/* ---- leases ---- */

int meta_lease_try(struct meta *m, const char *name, const char *holder, int64_t now, int64_t ttl_s,
                   bool *got)
{
    if (strlen(name) >= META_LEASE_NAME_MAX || strlen(holder) >= META_LEASE_HOLDER_MAX)
        return -ERR_TOO_LONG;
    if (!*name || !*holder || ttl_s <= 0 || now < 0 || ttl_s > INT64_MAX - now)
        return -ERR_INVALID;
    return m->ops->lease_try(m, name, holder, now, now + ttl_s, got);
}

int meta_lease_release(struct meta *m, const char *name, const char *holder)
{
    return m->ops->lease_release(m, name, holder);
}

/* ---- lifecycle ---- */

int meta_lc_rules_put(struct meta *m, const char *bucket, const struct meta_lc_rule *r, size_t n)
{
    if (n > META_LC_RULES_MAX)
        return -ERR_INVALID;
    return m->ops->lc_rules_put(m, bucket, r, n);
}

int meta_lc_rules_get(struct meta *m, const char *bucket, struct meta_lc_rule **out, size_t *n)
{
    return m->ops->lc_rules_get(m, bucket, out, n);
}

void meta_lc_rules_free(struct meta_lc_rule *r, size_t n)
{
    for (size_t i = 0; r && i < n; i++)
        free(r[i].prefix);
    free(r);
}

int meta_lc_rules_delete(struct meta *m, const char *bucket)
{
    return m->ops->lc_rules_delete(m, bucket);
}

int meta_lc_buckets(struct meta *m, int (*fn)(void *ctx, const char *bucket), void *ctx)
{
    return m->ops->lc_buckets(m, fn, ctx);
}

int meta_lc_run_record(struct meta *m, const struct meta_lc_run *r)
{
    return m->ops->lc_run_record(m, r);
}

int meta_lc_run_last(struct meta *m, struct meta_lc_run *out)
{
    return m->ops->lc_run_last(m, out);
}

int meta_lc_run_totals(struct meta *m, struct meta_lc_run *out)
{
    return m->ops->lc_run_totals(m, out);
}

/* ---- gate ---- */

int meta_gate_open(struct meta *m, struct meta_gate **out)
{
    struct meta_gate *mg = calloc(1, sizeof *mg);
    if (!mg)
        return -ERR_NOMEM;
    mg->ops = m->ops;
    mg->m = m;
    pthread_rwlock_init(&mg->ec_lock, NULL);
    int rc = m->ops->gate_open(mg);
    if (rc < 0) {
        meta_gate_close(mg);
        return rc;
    }
    *out = mg;
    return 0;
}

void meta_gate_close(struct meta_gate *mg)
{
    if (!mg)
        return;
    mg->ops->gate_close(mg);
    pthread_rwlock_destroy(&mg->ec_lock);
    free(mg);
}

int meta_epoch_get(struct meta_gate *mg, const char *grant, uint64_t *out)
{
    bool cache = meta_gen_enabled(mg->m) && strlen(grant) < sizeof mg->ec[0].grant;
    uint64_t gen = meta_gen_load(mg->m); /* before the read: see the top of this file */
    if (cache) {
        bool hit = false;
        pthread_rwlock_rdlock(&mg->ec_lock);
        for (unsigned i = 0; i < META_EPOCH_CACHE && !hit; i++)
            if (mg->ec[i].gen == gen && mg->ec[i].grant[0] && strcmp(mg->ec[i].grant, grant) == 0) {
                *out = mg->ec[i].epoch;
                hit = true;
            }
        pthread_rwlock_unlock(&mg->ec_lock);
        if (hit)
            return 0;
    }
    uint64_t e = 0;
    int rc = mg->ops->epoch_read(mg, grant, &e);
    if (rc < 0)
        return rc;
    if (cache) {
        pthread_rwlock_wrlock(&mg->ec_lock);
        struct meta_epoch_entry *en = &mg->ec[mg->ec_next++ % META_EPOCH_CACHE];
        snprintf(en->grant, sizeof en->grant, "%s", grant);
        en->epoch = e;
        en->gen = gen;
        pthread_rwlock_unlock(&mg->ec_lock);
    }
    *out = e;
    return 0;
}

int meta_epoch_bump(struct meta_gate *mg, const char *grant, int64_t now, uint64_t *new_epoch)
{
    return mg->ops->epoch_bump(mg, grant, now, new_epoch);
}

int meta_named_insert(struct meta_gate *mg, const uint8_t sha256[32], const struct meta_named *in,
                      int64_t *id)
{
    return mg->ops->named_insert(mg, sha256, in, id);
}

int meta_named_by_hash(struct meta_gate *mg, const uint8_t sha256[32], struct meta_named *out)
{
    return mg->ops->named_by_hash(mg, sha256, out);
}

int meta_named_by_id(struct meta_gate *mg, int64_t id, struct meta_named *out)
{
    return mg->ops->named_by_id(mg, id, out);
}

int meta_named_charge(struct meta_gate *mg, int64_t id, bool download, int64_t now)
{
    return mg->ops->named_charge(mg, id, download, now);
}

int meta_named_use(struct meta_gate *mg, const uint8_t sha256[32], const char *grant, int64_t now,
                   struct meta_named *out)
{
    return mg->ops->named_use(mg, sha256, grant, now, out);
}

int meta_named_list(struct meta_gate *mg, int (*fn)(void *ctx, const struct meta_named *n),
                    void *ctx)
{
    return mg->ops->named_list(mg, fn, ctx);
}

int meta_named_revoke(struct meta_gate *mg, int64_t id, int64_t now)
{
    return mg->ops->named_revoke(mg, id, now);
}

int meta_horizon_raise(struct meta_gate *mg, const char *bucket, const struct meta_horizon *h,
                       size_t n)
{
    if (n == 0)
        return 0;
    return mg->ops->horizon_raise(mg, bucket, h, n);
}

int meta_horizon_get(struct meta_gate *mg, const char *bucket, struct str key, int64_t *out)
{
    return mg->ops->horizon_get(mg, bucket, key, out);
}

/* ---- analytics ---- */

int meta_stats_open(struct meta *m, struct meta_stats **out)
{
    struct meta_stats *ms = calloc(1, sizeof *ms);
    if (!ms)
        return -ERR_NOMEM;
    ms->ops = m->ops;
    int rc = m->ops->stats_open(m, ms);
    if (rc < 0) {
        meta_stats_close(ms);
        return rc;
    }
    *out = ms;
    return 0;
}

void meta_stats_close(struct meta_stats *ms)
{
    if (!ms)
        return;
    ms->ops->stats_close(ms);
    free(ms);
}

int meta_stats_insert(struct meta_stats *ms, const struct meta_event *ev, size_t n)
{
    return ms->ops->stats_insert(ms, ev, n);
}

int meta_stats_scan(struct meta_stats *ms, int64_t from_us, int64_t to_us,
                    int (*fn)(void *ctx, const struct meta_event *e), void *ctx)
{
    return ms->ops->stats_scan(ms, from_us, to_us, fn, ctx);
}

int meta_stats_visitors(struct meta_stats *ms, int64_t from_us, int64_t to_us,
                        int (*fn)(void *ctx, const char *grant, uint64_t n), void *ctx)
{
    return ms->ops->stats_visitors(ms, from_us, to_us, fn, ctx);
}

int meta_stats_pulse(struct meta_stats *ms, int64_t from_us, int64_t to_us, int download_kind,
                     int not_request_kind, uint64_t out[4])
{
    return ms->ops->stats_pulse(ms, from_us, to_us, download_kind, not_request_kind, out);
}

int meta_stats_first(struct meta_stats *ms, int64_t *t_us)
{
    return ms->ops->stats_first(ms, t_us);
}

int meta_stats_window_get(struct meta_stats *ms, int window, int64_t start, char **json)
{
    return ms->ops->stats_window_get(ms, window, start, json);
}

int meta_stats_window_put(struct meta_stats *ms, int window, int64_t start, const char *json)
{
    return ms->ops->stats_window_put(ms, window, start, json);
}

int meta_stats_delete_before(struct meta_stats *ms, int64_t before_us, uint64_t *deleted)
{
    return ms->ops->stats_delete_before(ms, before_us, deleted);
}
