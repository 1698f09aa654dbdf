/* meta_pg_gate.c -- the gate's tables on PostgreSQL: grant_epochs, named_tokens,
 * link_horizons (schema: meta_pg.c). The same contract as meta_gate.c.
 *
 * One guarded connection of its own with prepared statements: every call is one
 * round trip. Limits are enforced in the UPDATE's WHERE clause and the RETURNING
 * row says whether the charge happened, so any number of nodes charging one token
 * never exceed its limit (the row lock serializes them; each re-checks the WHERE
 * against the committed row). Epoch bumps and revocations notify every node
 * (pg_notify inside the same statement: sent exactly when the change commits). */
#include <stdio.h>
#include <stdlib.h>

#include "meta/meta_pg_int.h"

enum {
    Q_EPOCH_GET,
    Q_EPOCH_BUMP,
    Q_NAMED_INSERT,
    Q_NAMED_BY_HASH,
    Q_NAMED_BY_ID,
    Q_CHARGE_USE,
    Q_CHARGE_DOWNLOAD,
    Q_NAMED_LIST,
    Q_NAMED_REVOKE,
    Q_NAMED_USE,
    Q_HORIZON_RAISE,
    Q_HORIZON_GET,
    Q_COUNT
};

#define NAMED_COLS                                                                                 \
    "id, grant_name, label, max_uses, max_downloads, uses, downloads, created, expires_at, "       \
    "revoked_at, last_used"

static const struct meta_pgq SQL[Q_COUNT] = {
    [Q_EPOCH_GET] = {"SELECT epoch FROM grant_epochs WHERE grant_name = $1", true},
    [Q_EPOCH_BUMP] = {"WITH u AS (INSERT INTO grant_epochs (grant_name, epoch, bumped_at) "
                      "VALUES ($1, 1, $2) ON CONFLICT (grant_name) DO UPDATE SET "
                      "epoch = grant_epochs.epoch + 1, bumped_at = excluded.bumped_at "
                      "RETURNING epoch) "
                      "SELECT epoch, pg_notify('" META_PG_CHANNEL "', '') FROM u",
                      false},
    [Q_NAMED_INSERT] = {"INSERT INTO named_tokens (sha256, grant_name, label, max_uses, "
                        "max_downloads, created, expires_at) VALUES ($1,$2,$3,$4,$5,$6,$7) "
                        "RETURNING id",
                        false},
    [Q_NAMED_BY_HASH] = {"SELECT " NAMED_COLS " FROM named_tokens WHERE sha256 = $1", true},
    [Q_NAMED_BY_ID] = {"SELECT " NAMED_COLS " FROM named_tokens WHERE id = $1", true},
    [Q_CHARGE_USE] = {"UPDATE named_tokens SET uses = uses + 1, last_used = $2 WHERE id = $1 "
                      "AND (max_uses = 0 OR uses < max_uses) AND revoked_at IS NULL "
                      "AND (expires_at = 0 OR expires_at > $2) RETURNING uses",
                      false},
    [Q_CHARGE_DOWNLOAD] = {"UPDATE named_tokens SET downloads = downloads + 1, last_used = $2 "
                           "WHERE id = $1 AND (max_downloads = 0 OR downloads < max_downloads) "
                           "AND revoked_at IS NULL AND (expires_at = 0 OR expires_at > $2) "
                           "RETURNING downloads",
                           false},
    [Q_NAMED_LIST] = {"SELECT " NAMED_COLS " FROM named_tokens ORDER BY id", true},
    [Q_NAMED_REVOKE] = {"WITH u AS (UPDATE named_tokens SET revoked_at = $1 WHERE id = $2 "
                        "AND revoked_at IS NULL RETURNING 1) "
                        "SELECT pg_notify('" META_PG_CHANNEL "', '') FROM u",
                        false},
    [Q_NAMED_USE] = {"UPDATE named_tokens SET uses = uses + 1, last_used = $3 WHERE sha256 = $1 "
                     "AND grant_name = $2 AND (max_uses = 0 OR uses < max_uses) "
                     "AND revoked_at IS NULL AND (expires_at = 0 OR expires_at > $3) "
                     "RETURNING " NAMED_COLS,
                     false},
    /* A batch is one statement: duplicates folded to their maximum first (one
     * INSERT may not touch a row twice), then each raised, never lowered. */
    [Q_HORIZON_RAISE] = {"INSERT INTO link_horizons (bucket, key, horizon) "
                         "SELECT $1, k, max(h) FROM unnest($2::text[], $3::bigint[]) AS t(k, h) "
                         "GROUP BY k ON CONFLICT (bucket, key) DO UPDATE SET "
                         "horizon = GREATEST(link_horizons.horizon, excluded.horizon)",
                         true},
    [Q_HORIZON_GET] = {"SELECT horizon FROM link_horizons WHERE bucket = $1 AND key = $2", true},
};

static struct meta_pgc *PGC(struct meta_gate *mg)
{
    return mg->be;
}

int meta_pg_gate_open(struct meta_gate *mg)
{
    struct meta_pgc *pc = calloc(1, sizeof *pc);
    if (!pc)
        return -ERR_NOMEM;
    mg->be = pc;
    int rc = meta_pgc_open(pc, meta_pg_dsn(mg->m), "gate", SQL, Q_COUNT);
    if (rc == 0 && (rc = meta_pgc_lock(pc)) == 0) /* prepares: errors show at open */
        meta_pgc_unlock(pc);
    return rc; /* on failure meta.c calls meta_pg_gate_close */
}

void meta_pg_gate_close(struct meta_gate *mg)
{
    struct meta_pgc *pc = mg->be;
    if (!pc)
        return;
    meta_pgc_close(pc);
    free(pc);
    mg->be = NULL;
}

/* Runs statement i under the lock; the caller PQclear()s *r. */
static int run(struct meta_gate *mg, int i, int n, const char *const *v, const int *len,
               const int *fmt, PGresult **r)
{
    struct meta_pgc *pc = PGC(mg);
    int rc = meta_pgc_lock(pc);
    if (rc < 0)
        return rc;
    rc = meta_pgc_run(pc, i, n, v, len, fmt, r);
    meta_pgc_unlock(pc);
    return rc;
}

int meta_pg_epoch_read(struct meta_gate *mg, const char *grant, uint64_t *out)
{
    const char *v[1] = {grant};
    PGresult *r = NULL;
    int rc = run(mg, Q_EPOCH_GET, 1, v, NULL, NULL, &r);
    if (rc == 0)
        *out = PQntuples(r) > 0 ? (uint64_t)meta_pg_get_i64(r, 0, 0) : 0;
    PQclear(r);
    return rc;
}

int meta_pg_epoch_bump(struct meta_gate *mg, const char *grant, int64_t now, uint64_t *new_epoch)
{
    char ns[META_PG_I64];
    const char *v[2] = {grant, meta_pg_i64(ns, now)};
    PGresult *r = NULL;
    int rc = run(mg, Q_EPOCH_BUMP, 2, v, NULL, NULL, &r);
    if (rc == 0 && PQntuples(r) != 1)
        rc = -ERR_DB;
    if (rc == 0) {
        meta_pg_gen_changed(mg->m); /* this process at once; other nodes by NOTIFY */
        *new_epoch = (uint64_t)meta_pg_get_i64(r, 0, 0);
    }
    PQclear(r);
    return rc;
}

int meta_pg_named_insert(struct meta_gate *mg, const uint8_t sha256[32],
                         const struct meta_named *in, int64_t *id)
{
    char a[META_PG_I64], b[META_PG_I64], c[META_PG_I64], d[META_PG_I64];
    char *owned = NULL;
    const char *v[7] = {(const char *)sha256,
                        in->grant,
                        meta_pg_utf8(in->label, &owned),
                        meta_pg_i64(a, in->max_uses),
                        meta_pg_i64(b, in->max_downloads),
                        meta_pg_i64(c, in->created),
                        meta_pg_i64(d, in->expires_at)};
    const int len[7] = {32}, fmt[7] = {1};
    PGresult *r = NULL;
    int rc = v[2] ? run(mg, Q_NAMED_INSERT, 7, v, len, fmt, &r) : -ERR_NOMEM;
    if (rc == 0 && PQntuples(r) == 1)
        *id = meta_pg_get_i64(r, 0, 0);
    else if (rc == 0)
        rc = -ERR_DB;
    PQclear(r);
    free(owned);
    return rc;
}

static void named_row(const PGresult *r, int i, struct meta_named *n)
{
    memset(n, 0, sizeof *n);
    n->id = meta_pg_get_i64(r, i, 0);
    snprintf(n->grant, sizeof n->grant, "%s", PQgetvalue(r, i, 1));
    snprintf(n->label, sizeof n->label, "%s", PQgetvalue(r, i, 2));
    n->max_uses = meta_pg_get_i64(r, i, 3);
    n->max_downloads = meta_pg_get_i64(r, i, 4);
    n->uses = meta_pg_get_i64(r, i, 5);
    n->downloads = meta_pg_get_i64(r, i, 6);
    n->created = meta_pg_get_i64(r, i, 7);
    n->expires_at = meta_pg_get_i64(r, i, 8);
    n->revoked_at = meta_pg_get_i64(r, i, 9); /* NULL reads as 0 */
    n->last_used = meta_pg_get_i64(r, i, 10);
}

static int named_one(struct meta_gate *mg, int q, const char *const *v, const int *len,
                     const int *fmt, struct meta_named *out)
{
    PGresult *r = NULL;
    int rc = run(mg, q, 1, v, len, fmt, &r);
    if (rc == 0 && PQntuples(r) == 1)
        named_row(r, 0, out);
    else if (rc == 0)
        rc = -ERR_NOT_FOUND;
    PQclear(r);
    return rc;
}

int meta_pg_named_by_hash(struct meta_gate *mg, const uint8_t sha256[32], struct meta_named *out)
{
    const char *v[1] = {(const char *)sha256};
    const int len[1] = {32}, fmt[1] = {1};
    return named_one(mg, Q_NAMED_BY_HASH, v, len, fmt, out);
}

int meta_pg_named_by_id(struct meta_gate *mg, int64_t id, struct meta_named *out)
{
    char is[META_PG_I64];
    const char *v[1] = {meta_pg_i64(is, id)};
    return named_one(mg, Q_NAMED_BY_ID, v, NULL, NULL, out);
}

int meta_pg_named_charge(struct meta_gate *mg, int64_t id, bool download, int64_t now)
{
    char is[META_PG_I64], ns[META_PG_I64];
    const char *v[2] = {meta_pg_i64(is, id), meta_pg_i64(ns, now)};
    PGresult *r = NULL;
    int rc = run(mg, download ? Q_CHARGE_DOWNLOAD : Q_CHARGE_USE, 2, v, NULL, NULL, &r);
    if (rc == 0 && PQntuples(r) == 0)
        rc = -ERR_ACCESS_DENIED;
    PQclear(r);
    return rc;
}

int meta_pg_named_use(struct meta_gate *mg, const uint8_t sha256[32], const char *grant,
                      int64_t now, struct meta_named *out)
{
    char ns[META_PG_I64];
    const char *v[3] = {(const char *)sha256, grant, meta_pg_i64(ns, now)};
    const int len[3] = {32}, fmt[3] = {1};
    PGresult *r = NULL;
    int rc = run(mg, Q_NAMED_USE, 3, v, len, fmt, &r);
    if (rc == 0 && PQntuples(r) == 1)
        named_row(r, 0, out);
    else if (rc == 0)
        rc = -ERR_ACCESS_DENIED;
    PQclear(r);
    return rc;
}

int meta_pg_named_list(struct meta_gate *mg, int (*fn)(void *ctx, const struct meta_named *n),
                       void *ctx)
{
    PGresult *r = NULL;
    int rc = run(mg, Q_NAMED_LIST, 0, NULL, NULL, NULL, &r); /* unlocked: fn may call back */
    for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
        struct meta_named n;
        named_row(r, i, &n);
        rc = fn(ctx, &n);
    }
    PQclear(r);
    return rc;
}

int meta_pg_named_revoke(struct meta_gate *mg, int64_t id, int64_t now)
{
    char is[META_PG_I64], ns[META_PG_I64];
    const char *v[2] = {meta_pg_i64(ns, now), meta_pg_i64(is, id)};
    PGresult *r = NULL;
    int rc = run(mg, Q_NAMED_REVOKE, 2, v, NULL, NULL, &r);
    if (rc == 0 && PQntuples(r) == 0)
        rc = -ERR_NOT_FOUND;
    else if (rc == 0)
        meta_pg_gen_changed(mg->m);
    PQclear(r);
    return rc;
}

/* An array literal element: always quoted, '"' and '\' escaped. */
static int array_text(struct buf *b, const char *s)
{
    int rc = buf_addc(b, '"');
    for (; rc == 0 && *s; s++) {
        if (*s == '"' || *s == '\\')
            rc = buf_addc(b, '\\');
        if (rc == 0)
            rc = buf_addc(b, *s);
    }
    return rc ? rc : buf_addc(b, '"');
}

int meta_pg_horizon_raise(struct meta_gate *mg, const char *bucket, const struct meta_horizon *h,
                          size_t n)
{
    struct buf keys = BUF_INIT, hs = BUF_INIT;
    int rc = buf_addc(&keys, '{');
    if (rc == 0)
        rc = buf_addc(&hs, '{');
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char *owned = NULL;
        const char *k = meta_pg_utf8(h[i].key, &owned);
        if (!k)
            rc = -ERR_NOMEM;
        if (rc == 0 && i)
            rc = buf_addc(&keys, ',');
        if (rc == 0)
            rc = array_text(&keys, k);
        if (rc == 0)
            rc = buf_printf(&hs, "%s%lld", i ? "," : "", (long long)h[i].horizon);
        free(owned);
    }
    if (rc == 0)
        rc = buf_addc(&keys, '}');
    if (rc == 0)
        rc = buf_addc(&hs, '}');
    if (rc == 0) {
        const char *v[3] = {bucket, buf_cstr(&keys), buf_cstr(&hs)};
        PGresult *r = NULL;
        rc = run(mg, Q_HORIZON_RAISE, 3, v, NULL, NULL, &r);
        PQclear(r);
    }
    buf_release(&keys);
    buf_release(&hs);
    return rc;
}

int meta_pg_horizon_get(struct meta_gate *mg, const char *bucket, struct str key, int64_t *out)
{
    const char *v[2] = {bucket, key.ptr ? key.ptr : ""};
    const int len[2] = {0, (int)key.len}, fmt[2] = {0, 1}; /* text's binary form */
    PGresult *r = NULL;
    if (!meta_pg_text_ok(key)) { /* raise stored such a key with '?': no row has it */
        *out = 0;
        return 0;
    }
    int rc = run(mg, Q_HORIZON_GET, 2, v, len, fmt, &r);
    if (rc == 0)
        *out = PQntuples(r) > 0 ? meta_pg_get_i64(r, 0, 0) : 0;
    PQclear(r);
    return rc;
}
