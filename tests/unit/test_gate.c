/* test_gate.c -- the access gate: tier-token derivation (known answers computed here
 * with HMAC + base64url, and literals from Python's hmac), periods exact at their
 * boundaries (rotation, overlap start and end, leap years, a 3.5-day period, anchors
 * before 1970), constant-time compare on every check, named-token limits under 64
 * concurrent threads on two connections, config refusals with file:line, the failure
 * rate limit, minting and redemption refusals, link horizons.
 *
 * gate.c is included (h2o style) with crypto_ct_eq renamed, so the test counts the
 * constant-time compares a check makes. Each test gets its own mkdtemp data dir. */
#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

#define crypto_ct_eq counting_ct_eq
#include "../../src/gate/gate.c"
#undef crypto_ct_eq
int crypto_ct_eq(const void *a, const void *b, size_t n);

static int ct_calls;
int counting_ct_eq(const void *a, const void *b, size_t n)
{
    __atomic_add_fetch(&ct_calls, 1, __ATOMIC_RELAXED);
    return crypto_ct_eq(a, b, n);
}

/* ---- fixture ---- */

struct tg {
    char dir[64];
    char conf[128];
    uint8_t secret[32];
    struct cfg cfg;
    struct meta *m;
    struct gate *g;
};

static const char BASE_CONF[] = "[grant tier1]\n"
                                "title = Tier 1\n"
                                "prefix = tier1/\n"
                                "\n"
                                "[grant tier2]\n"
                                "title = Tier 2\n"
                                "prefix = tier2/ shared/\n"
                                "rotation = 7d @ 1970-01-05T00:00:00Z\n"
                                "overlap = 24h\n"
                                "link_ttl = 6d20h\n"
                                "\n"
                                "[grant half]\n"
                                "prefix = half/\n"
                                "rotation = 3.5d @ 2026-01-05T00:00:00Z\n"
                                "overlap = 12h\n"
                                "\n"
                                "[grant old]\n"
                                "prefix = old/\n"
                                "rotation = 7d @ 1969-12-29T00:00:00Z\n"
                                "overlap = 0\n"
                                "\n"
                                "[grant daily]\n"
                                "prefix = daily/\n"
                                "rotation = 1d @ 2024-01-01T00:00:00Z\n"
                                "overlap = 1h\n"
                                "link_mode = redirect\n";

static int rm_one(const char *p, const struct stat *s, int f, struct FTW *w)
{
    (void)s, (void)f, (void)w;
    return remove(p);
}

static void write_conf(struct tg *t, const char *text)
{
    FILE *f = fopen(t->conf, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int open_gate(struct tg *t, struct gate **out, char **err)
{
    struct gate_config gc = {"tollgate", "https://files.example.com", "us-east-1", NULL};
    return gate_open(&t->cfg, &gc, t->m, t->secret, out, err);
}

static int setup(void **state)
{
    struct tg *t = calloc(1, sizeof *t);
    char *err = NULL;
    snprintf(t->dir, sizeof t->dir, "/tmp/test_gate.XXXXXX");
    if (!mkdtemp(t->dir))
        return -1;
    snprintf(t->conf, sizeof t->conf, "%s/t.conf", t->dir);
    for (int i = 0; i < 32; i++)
        t->secret[i] = (uint8_t)i;
    write_conf(t, BASE_CONF);
    if (cfg_load(t->conf, &t->cfg, &err) < 0 || meta_open(t->dir, t->secret, &t->m) < 0 ||
        open_gate(t, &t->g, &err) < 0) {
        fprintf(stderr, "setup: %s\n", err ? err : "?");
        free(err);
        return -1;
    }
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct tg *t = *state;
    gate_close(t->g);
    meta_close(t->m);
    cfg_release(&t->cfg);
    nftw(t->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(t);
    return 0;
}

static int64_t iso(const char *s)
{
    int64_t t;
    assert_int_equal(time_parse_iso8601(str_c(s), &t), 0);
    return t;
}

static const struct gate_grant *grant(struct tg *t, const char *name)
{
    const struct gate_grant *gr = gate_grant_find(t->g, str_c(name));
    assert_non_null(gr);
    return gr;
}

/* the expected token, computed here independently of gate_tier_token */
static void expect_token(const uint8_t secret[32], const char *g, uint64_t e, int64_t p,
                         char out[GATE_TOKEN_MAX])
{
    char msg[128];
    uint8_t mac[32];
    int n = snprintf(msg, sizeof msg, "tier|%s|%llu|%lld", g, (unsigned long long)e, (long long)p);
    crypto_hmac_sha256(secret, 32, msg, (size_t)n, mac);
    b64url_encode(mac, 32, out);
}

static int check(struct tg *t, const char *g, const char *tok, int64_t now,
                 struct gate_principal *p)
{
    struct gate_principal dummy;
    return gate_token_check(t->g, str_c(g), str_c(tok), NULL, now, true, p ? p : &dummy);
}

/* ---- tests ---- */

static void test_config_parsed(void **state)
{
    struct tg *t = *state;
    assert_int_equal(gate_grant_count(t->g), 5);
    const struct gate_grant *g1 = gate_grant_at(t->g, 0), *g2 = grant(t, "tier2");
    assert_string_equal(g1->name, "tier1");
    assert_int_equal(g1->rotation_s, 7 * 86400);
    assert_int_equal(g1->anchor, iso("1970-01-05T00:00:00Z"));
    assert_int_equal(g1->overlap_s, 86400);
    assert_int_equal(g1->link_ttl_s, GATE_LINK_TTL_MAX);
    assert_int_equal(g1->redirect_ttl_s, 600);
    assert_int_equal(g1->link_mode, GATE_LINK_PRESIGN);
    assert_int_equal(g2->n_prefixes, 2);
    assert_string_equal(g2->prefixes[1], "shared/");
    assert_int_equal(g2->link_ttl_s, 6 * 86400 + 20 * 3600);
    assert_int_equal(grant(t, "half")->rotation_s, 302400);
    assert_int_equal(grant(t, "daily")->link_mode, GATE_LINK_REDIRECT);
    assert_null(gate_grant_find(t->g, STR_LIT("tier9")));
    assert_null(gate_grant_at(t->g, 5));
    int64_t d;
    assert_int_equal(duration_parse(STR_LIT("3.5d"), &d), 0);
    assert_int_equal(d, 302400);
    assert_int_equal(duration_parse(STR_LIT("1.25h"), &d), 0);
    assert_int_equal(d, 4500);
    assert_int_equal(duration_parse(STR_LIT("0.5s"), &d), -ERR_INVALID);
    assert_int_equal(duration_parse(STR_LIT("1.5"), &d), -ERR_INVALID);
}

static void test_derivation_known_answers(void **state)
{
    struct tg *t = *state;
    char got[GATE_TOKEN_MAX], want[GATE_TOKEN_MAX];
    const struct gate_grant *gr = grant(t, "tier2");
    int64_t monday = iso("2026-02-16T00:00:00Z");
    assert_int_equal(gate_period_of(gr, monday), 2928);
    /* literals from Python: hmac.new(bytes(range(32)), b"tier|tier2|0|2928", sha256) */
    assert_int_equal(gate_tier_token(t->g, gr, 0, 2928, got), 0);
    assert_string_equal(got, "KS2fVXwlwdRBUs1KVfU32UaXGetsyJtFpR210PMvAEU");
    assert_int_equal(gate_tier_token(t->g, gr, 3, -5, got), 0);
    assert_string_equal(got, "QhbJLyiLUMCJLHi3pACn1QrJyVQOT_LVcTzeoSVm1Hg");
    for (int64_t p = -3; p < 3000; p += 97) {
        for (uint64_t e = 0; e < 3; e++) {
            expect_token(t->secret, "tier2", e, p, want);
            assert_int_equal(gate_tier_token(t->g, gr, e, p, got), 0);
            assert_string_equal(got, want);
            assert_int_equal(strlen(got), 43); /* 256 bits, URL-safe */
            assert_null(strpbrk(got, "+/="));
        }
    }
    /* stable across a reopen of the gate */
    struct gate *g2;
    char *err = NULL;
    assert_int_equal(open_gate(t, &g2, &err), 0);
    char again[GATE_TOKEN_MAX];
    gate_tier_token(g2, gate_grant_find(g2, STR_LIT("tier2")), 0, 2928, again);
    assert_string_equal(again, "KS2fVXwlwdRBUs1KVfU32UaXGetsyJtFpR210PMvAEU");
    gate_close(g2);
    /* another grant, another token */
    gate_tier_token(t->g, grant(t, "tier1"), 0, 2928, got);
    assert_string_not_equal(got, "KS2fVXwlwdRBUs1KVfU32UaXGetsyJtFpR210PMvAEU");
    char tag[GATE_TAG_LEN + 1];
    gate_token_tag(STR_LIT("abc"), tag);
    assert_string_equal(tag, "tok#ba7816bf"); /* sha256("abc") */
}

/* One row: at `now`, the token of `period` for grant `g` is accepted or not. */
struct bound_case {
    const char *grant, *now;
    int64_t period_delta; /* relative to the period of `ref` */
    const char *ref;
    int rc;
};
static const struct bound_case BOUNDS[] = {
    /* weekly, Monday 00:00 UTC, 24 h overlap: the week of Mon 2026-02-09 */
    {"tier2", "2026-02-15T23:59:59Z", 0, "2026-02-10T00:00:00Z", 0}, /* last second */
    {"tier2", "2026-02-16T00:00:00Z", 0, "2026-02-10T00:00:00Z", -ERR_ACCESS_DENIED},
    {"tier2", "2026-02-16T00:00:00Z", 1, "2026-02-10T00:00:00Z", 0}, /* new week */
    {"tier2", "2026-02-14T23:59:59Z", 1, "2026-02-10T00:00:00Z", -ERR_ACCESS_DENIED},
    {"tier2", "2026-02-15T00:00:00Z", 1, "2026-02-10T00:00:00Z", 0}, /* overlap starts */
    {"tier2", "2026-02-15T23:59:59Z", 1, "2026-02-10T00:00:00Z", 0}, /* overlap ends */
    {"tier2", "2026-02-15T12:00:00Z", 2, "2026-02-10T00:00:00Z", -ERR_ACCESS_DENIED},
    {"tier2", "2026-02-16T00:00:00Z", -1, "2026-02-10T00:00:00Z", -ERR_ACCESS_DENIED},
    {"tier2", "2026-02-09T00:00:00Z", 0, "2026-02-10T00:00:00Z", 0}, /* first second */
    {"tier2", "2026-02-08T23:59:59Z", 0, "2026-02-10T00:00:00Z", 0}, /* as the next one */
    {"tier2", "2026-02-07T23:59:59Z", 0, "2026-02-10T00:00:00Z", -ERR_ACCESS_DENIED},
    /* leap years: the week of Mon 2024-02-26 holds Feb 29 */
    {"tier2", "2024-02-29T12:00:00Z", 0, "2024-02-26T00:00:00Z", 0},
    {"tier2", "2024-03-03T23:59:59Z", 0, "2024-02-26T00:00:00Z", 0},
    {"tier2", "2024-03-04T00:00:00Z", 0, "2024-02-26T00:00:00Z", -ERR_ACCESS_DENIED},
    {"tier2", "2024-03-04T00:00:00Z", 1, "2024-02-26T00:00:00Z", 0},
    /* daily from 2024-01-01, 1 h overlap: Feb 29 is its own period */
    {"daily", "2024-02-29T23:59:59Z", 0, "2024-02-29T00:00:00Z", 0},
    {"daily", "2024-03-01T00:00:00Z", 0, "2024-02-29T00:00:00Z", -ERR_ACCESS_DENIED},
    {"daily", "2024-02-29T22:59:59Z", 1, "2024-02-29T00:00:00Z", -ERR_ACCESS_DENIED},
    {"daily", "2024-02-29T23:00:00Z", 1, "2024-02-29T00:00:00Z", 0},
    {"daily", "2100-03-01T00:00:00Z", 1, "2100-02-28T00:00:00Z", 0}, /* 2100: no Feb 29 */
    /* 3.5 days from Mon 2026-01-05: periods start Mon 00:00 and Thu 12:00 */
    {"half", "2026-01-08T11:59:59Z", 0, "2026-01-05T00:00:00Z", 0},
    {"half", "2026-01-08T12:00:00Z", 0, "2026-01-05T00:00:00Z", -ERR_ACCESS_DENIED},
    {"half", "2026-01-08T12:00:00Z", 1, "2026-01-05T00:00:00Z", 0},
    {"half", "2026-01-07T23:59:59Z", 1, "2026-01-05T00:00:00Z", -ERR_ACCESS_DENIED},
    {"half", "2026-01-08T00:00:00Z", 1, "2026-01-05T00:00:00Z", 0}, /* 12 h overlap */
    {"half", "2026-01-11T23:59:59Z", 1, "2026-01-05T00:00:00Z", 0},
    {"half", "2026-01-12T00:00:00Z", 2, "2026-01-05T00:00:00Z", 0}, /* Monday again */
    /* anchor 1969-12-29 (a Monday before 1970), no overlap */
    {"old", "1969-12-29T00:00:00Z", 0, "1969-12-30T00:00:00Z", 0},
    {"old", "1969-12-28T23:59:59Z", 0, "1969-12-30T00:00:00Z", -ERR_ACCESS_DENIED},
    {"old", "1969-12-28T23:59:59Z", -1, "1969-12-30T00:00:00Z", 0}, /* period -1 */
    {"old", "1970-01-04T23:59:59Z", 1, "1969-12-30T00:00:00Z", -ERR_ACCESS_DENIED},
    {"old", "1970-01-05T00:00:00Z", 1, "1969-12-30T00:00:00Z", 0},
};

static void test_period_boundaries(void **state)
{
    struct tg *t = *state;
    for (size_t i = 0; i < sizeof BOUNDS / sizeof BOUNDS[0]; i++) {
        const struct bound_case *c = &BOUNDS[i];
        const struct gate_grant *gr = grant(t, c->grant);
        int64_t p = gate_period_of(gr, iso(c->ref)) + c->period_delta;
        char tok[GATE_TOKEN_MAX];
        struct gate_principal pr = {0};
        print_message("row %zu: %s at %s, period %+lld\n", i, c->grant, c->now,
                      (long long)c->period_delta);
        expect_token(t->secret, c->grant, 0, p, tok);
        assert_int_equal(check(t, c->grant, tok, iso(c->now), &pr), c->rc);
        if (c->rc == 0) {
            assert_int_equal(pr.period, p);
            assert_int_equal(pr.kind, GATE_TOKEN_TIER);
            assert_ptr_equal(pr.grant, gr);
            assert_int_equal(strlen(pr.tag), GATE_TAG_LEN);
        }
    }
    /* period arithmetic itself */
    const struct gate_grant *old = grant(t, "old"), *half = grant(t, "half");
    assert_int_equal(gate_period_of(old, iso("1969-12-28T23:59:59Z")), -1);
    assert_int_equal(gate_period_start(old, -1), iso("1969-12-22T00:00:00Z"));
    assert_int_equal(gate_period_start(half, 1), iso("2026-01-08T12:00:00Z"));
    assert_int_equal(gate_period_of(half, iso("2025-12-31T23:59:59Z")), -2);
}

static void test_links_overlap(void **state)
{
    struct tg *t = *state;
    const struct gate_grant *gr = grant(t, "tier2");
    struct gate_links wed, sun, mon;
    assert_int_equal(gate_links(t->g, gr, iso("2026-02-11T12:00:00Z"), &wed), 0);
    assert_false(wed.has_next);
    assert_int_equal(wed.current_valid_until, iso("2026-02-16T00:00:00Z"));
    assert_int_equal(gate_links(t->g, gr, iso("2026-02-15T00:00:00Z"), &sun), 0);
    assert_true(sun.has_next);
    assert_string_equal(sun.current, wed.current);
    assert_int_equal(sun.next_valid_from, iso("2026-02-15T00:00:00Z"));
    assert_int_equal(sun.next_required_from, iso("2026-02-16T00:00:00Z"));
    assert_int_equal(gate_links(t->g, gr, iso("2026-02-16T00:00:00Z"), &mon), 0);
    assert_false(mon.has_next);
    assert_string_equal(mon.current, sun.next);
    struct buf u = BUF_INIT;
    assert_int_equal(gate_portal_url(t->g, gr, mon.current, &u), 0);
    char want[200];
    snprintf(want, sizeof want, "https://files.example.com/downloads/tier2?t=%s", mon.current);
    assert_string_equal(buf_cstr(&u), want);
    buf_release(&u);
}

static void test_constant_time_compare(void **state)
{
    struct tg *t = *state;
    int64_t now = iso("2026-02-11T12:00:00Z");
    struct gate_links l;
    assert_int_equal(gate_links(t->g, grant(t, "tier2"), now, &l), 0);
    const char *cases[] = {l.current, "x", "KS2fVXwlwdRBUs1KVfU32UaXGetsyJtFpR210PMvAEU",
                           "KS2fVXwlwdRBUs1KVfU32UaXGetsyJtFpR210PMvAEUextra"};
    for (size_t i = 0; i < 4; i++) {
        ct_calls = 0;
        check(t, "tier2", cases[i], now, NULL);
        /* current and next are both compared, whatever the input and the outcome */
        assert_int_equal(ct_calls, 2);
    }
    ct_calls = 0;
    assert_int_equal(check(t, "tier2", l.current, now, NULL), 0);
    assert_int_equal(ct_calls, 2);
}

static void test_epoch_bump_other_connection(void **state)
{
    struct tg *t = *state;
    int64_t now = tg_now();
    const struct gate_grant *gr = grant(t, "tier2");
    struct gate_links before, after;
    struct gate_principal p;
    assert_int_equal(gate_links(t->g, gr, now, &before), 0);
    assert_int_equal(check(t, "tier2", before.current, now, &p), 0);
    assert_int_equal(p.epoch, 0);
    struct buf url = BUF_INIT;
    int64_t exp;
    assert_int_equal(
        gate_link_mint(t->g, &p, STR_LIT("tier2/daily/a.csv"), "a.csv", now, 0, &url, &exp), 0);
    const char *q = strchr(buf_cstr(&url), '?') + 1;
    assert_int_equal(gate_link_redeem(t->g, str_c(q), true, now), 0);

    /* another gate (another connection, as `tollgate token rotate` would) bumps */
    struct gate *g2;
    char *err = NULL;
    uint64_t e;
    assert_int_equal(open_gate(t, &g2, &err), 0);
    assert_int_equal(gate_epoch_bump(g2, gate_grant_find(g2, STR_LIT("tier2")), &e), 0);
    assert_int_equal(e, 1);
    gate_close(g2);

    assert_int_equal(check(t, "tier2", before.current, now, NULL), -ERR_ACCESS_DENIED);
    assert_int_equal(gate_link_redeem(t->g, str_c(q), true, now), -ERR_ACCESS_DENIED);
    assert_int_equal(gate_links(t->g, gr, now, &after), 0);
    assert_string_not_equal(after.current, before.current);
    assert_int_equal(check(t, "tier2", after.current, now, &p), 0);
    assert_int_equal(p.epoch, 1);
    /* other grants are untouched */
    struct gate_links l1;
    gate_links(t->g, grant(t, "tier1"), now, &l1);
    assert_int_equal(check(t, "tier1", l1.current, now, NULL), 0);
    /* a tier1 token does not open tier2, an unknown grant is 404 */
    assert_int_equal(check(t, "tier2", l1.current, now, NULL), -ERR_ACCESS_DENIED);
    assert_int_equal(check(t, "nope", l1.current, now, NULL), -ERR_NOT_FOUND);
    buf_release(&url);
}

static void test_mint(void **state)
{
    struct tg *t = *state;
    int64_t now = iso("2026-02-11T12:00:00Z");
    struct gate_links l;
    struct gate_principal p;
    struct buf url = BUF_INIT;
    int64_t exp;
    gate_links(t->g, grant(t, "tier2"), now, &l);
    assert_int_equal(check(t, "tier2", l.current, now, &p), 0);
    assert_int_equal(gate_link_mint(t->g, &p, STR_LIT("tier2/daily/2026-02-10/x.parquet"),
                                    "tier2_2026-02-10 é.parquet", now, 0, &url, &exp),
                     0);
    const char *u = buf_cstr(&url);
    const char *base = "https://files.example.com/tollgate/tier2/daily/2026-02-10/x.parquet?";
    assert_true(strncmp(u, base, strlen(base)) == 0);
    assert_non_null(strstr(u, "x-tollgate-grant=tier2"));
    char per[32];
    snprintf(per, sizeof per, "x-tollgate-token=p%lld", (long long)p.period);
    assert_non_null(strstr(u, per));
    assert_non_null(strstr(u, "x-tollgate-epoch=0"));
    assert_non_null(strstr(u, "X-Amz-Expires=590400")); /* 6d20h */
    assert_non_null(strstr(u, "response-content-disposition=attachment%3B%20filename%3D%22tier2_"
                              "2026-02-10%20_.parquet%22%3B%20filename%2A%3DUTF-8%27%27tier2_"
                              "2026-02-10%2520%25C3%25A9.parquet"));
    assert_null(strstr(u, l.current)); /* the token itself is never in a link */
    assert_int_equal(exp, now + 590400);

    /* a shorter ttl, a longer one capped at 7 days */
    buf_reset(&url);
    assert_int_equal(gate_link_mint(t->g, &p, STR_LIT("shared/a"), NULL, now, 60, &url, &exp), 0);
    assert_int_equal(exp, now + 60);
    buf_reset(&url);
    assert_int_equal(
        gate_link_mint(t->g, &p, STR_LIT("shared/a"), NULL, now, 30 * 86400, &url, &exp), 0);
    assert_int_equal(exp, now + GATE_LINK_TTL_MAX);
    /* outside the grant's prefixes: refused */
    buf_reset(&url);
    assert_int_equal(gate_link_mint(t->g, &p, STR_LIT("tier3/a"), NULL, now, 0, &url, &exp),
                     -ERR_ACCESS_DENIED);
    assert_int_equal(gate_link_mint(t->g, &p, STR_LIT("tier2/"), NULL, now, 0, &url, &exp),
                     -ERR_ACCESS_DENIED);

    /* horizons: the latest expiry, visible at once, and to another connection after flush */
    int64_t h;
    assert_int_equal(gate_link_horizon(t->g, STR_LIT("shared/a"), &h), 0);
    assert_int_equal(h, now + GATE_LINK_TTL_MAX);
    assert_int_equal(gate_link_horizon(t->g, STR_LIT("shared/none"), &h), 0);
    assert_int_equal(h, 0);
    assert_int_equal(gate_flush(t->g), 0);
    struct gate *g2;
    char *err = NULL;
    assert_int_equal(open_gate(t, &g2, &err), 0);
    assert_int_equal(gate_link_horizon(g2, STR_LIT("shared/a"), &h), 0);
    assert_int_equal(h, now + GATE_LINK_TTL_MAX);
    assert_int_equal(gate_link_horizon(g2, STR_LIT("tier2/daily/2026-02-10/x.parquet"), &h), 0);
    assert_int_equal(h, now + 590400);
    /* a lower expiry never lowers the horizon */
    buf_reset(&url);
    assert_int_equal(gate_link_mint(g2, &p, STR_LIT("shared/a"), NULL, now, 10, &url, &exp), 0);
    gate_close(g2); /* flushes */
    assert_int_equal(gate_link_horizon(t->g, STR_LIT("shared/a"), &h), 0);
    assert_int_equal(h, now + GATE_LINK_TTL_MAX);

    /* the portal key: created once (kind "portal"); deleted, it is replaced */
    char akid[META_AKID_LEN + 1];
    memcpy(akid, t->g->akid, sizeof akid);
    assert_int_equal(strlen(akid), META_AKID_LEN);
    assert_int_equal(meta_key_delete(t->m, str_c(akid)), 0);
    t->g->key_checked_us = 0; /* as if 5 s had passed */
    buf_reset(&url);
    assert_int_equal(gate_link_mint(t->g, &p, STR_LIT("shared/a"), NULL, now, 0, &url, &exp), 0);
    assert_string_not_equal(t->g->akid, akid);
    assert_non_null(strstr(buf_cstr(&url), t->g->akid));

    /* redirect mode: redirect_ttl by default */
    struct gate_links d;
    gate_links(t->g, grant(t, "daily"), now, &d);
    assert_int_equal(check(t, "daily", d.current, now, &p), 0);
    buf_reset(&url);
    assert_int_equal(gate_link_mint(t->g, &p, STR_LIT("daily/x"), NULL, now, 0, &url, &exp), 0);
    assert_int_equal(exp, now + 600);
    buf_release(&url);
}

static void test_background_flush(void **state)
{
    struct tg *t = *state;
    int64_t now = tg_now();
    struct gate_links l;
    struct gate_principal p;
    struct buf url = BUF_INIT;
    int64_t exp, h = 0;
    gate_links(t->g, grant(t, "tier1"), now, &l);
    assert_int_equal(check(t, "tier1", l.current, now, &p), 0);
    assert_int_equal(gate_link_mint(t->g, &p, STR_LIT("tier1/bg"), NULL, now, 0, &url, &exp), 0);
    struct meta_gate *mg;
    assert_int_equal(meta_gate_open(t->m, &mg), 0);
    /* the background thread writes within about a second, without gate_flush */
    for (int i = 0; i < 50 && h == 0; i++) {
        usleep(100000);
        assert_int_equal(meta_horizon_get(mg, "tollgate", STR_LIT("tier1/bg"), &h), 0);
    }
    assert_int_equal(h, exp);
    meta_gate_close(mg);
    buf_release(&url);
}

/* ---- named tokens ---- */

struct seen {
    int n;
    const char *status[4];
    int64_t uses[4];
};
static int visit(void *ctx, const struct gate_named *x);

static void test_named_lifecycle(void **state)
{
    struct tg *t = *state;
    int64_t now = tg_now();
    struct gate_named n;
    struct gate_principal p;
    char tok[GATE_TOKEN_MAX];
    const struct gate_grant *gr = grant(t, "tier2");
    assert_int_equal(gate_named_create(t->g, gr, "community-x", 2, 0, 0, &n, tok), 0);
    assert_int_equal(strlen(tok), 36);
    assert_true(strncmp(tok, "tgn_", 4) == 0);
    assert_string_equal(n.status, "active");
    /* stored as SHA-256 only */
    uint8_t h[32];
    struct meta_named mn;
    crypto_sha256(tok, strlen(tok), h);
    assert_int_equal(meta_named_by_hash(t->g->mg, h, &mn), 0);
    assert_int_equal(mn.id, n.id);

    /* HEAD (no charge) does not use it up; opens do, up to max_uses */
    assert_int_equal(gate_token_check(t->g, STR_LIT("tier2"), str_c(tok), NULL, now, false, &p), 0);
    assert_int_equal(p.kind, GATE_TOKEN_NAMED);
    assert_int_equal(p.named_id, n.id);
    assert_int_equal(check(t, "tier2", tok, now, NULL), 0);
    assert_int_equal(check(t, "tier2", tok, now, NULL), 0);
    assert_int_equal(check(t, "tier2", tok, now, NULL), -ERR_ACCESS_DENIED);
    /* opens used up: an uncharged check (a redirect-mode download click) still passes,
     * max_downloads (not max_uses) limits downloads */
    assert_int_equal(gate_token_check(t->g, STR_LIT("tier2"), str_c(tok), NULL, now, false, &p), 0);
    assert_int_equal(check(t, "tier1", tok, now, NULL), -ERR_ACCESS_DENIED); /* other grant */

    /* expiry */
    char tok2[GATE_TOKEN_MAX];
    struct gate_named n2;
    assert_int_equal(gate_named_create(t->g, gr, "trial", 0, 0, now + 100, &n2, tok2), 0);
    assert_int_equal(check(t, "tier2", tok2, now + 99, NULL), 0);
    assert_int_equal(check(t, "tier2", tok2, now + 100, NULL), -ERR_ACCESS_DENIED);

    /* revocation */
    char tok3[GATE_TOKEN_MAX];
    struct gate_named n3;
    assert_int_equal(gate_named_create(t->g, gr, "leaky", 0, 0, 0, &n3, tok3), 0);
    assert_int_equal(check(t, "tier2", tok3, now, &p), 0);
    struct buf url = BUF_INIT;
    int64_t exp;
    assert_int_equal(gate_link_mint(t->g, &p, STR_LIT("tier2/f"), NULL, now, 0, &url, &exp), 0);
    char want[32];
    snprintf(want, sizeof want, "x-tollgate-token=n%lld", (long long)n3.id);
    assert_non_null(strstr(buf_cstr(&url), want));
    const char *q = strchr(buf_cstr(&url), '?') + 1;
    assert_int_equal(gate_link_redeem(t->g, str_c(q), true, now), 0);
    assert_int_equal(gate_named_revoke(t->g, n3.id), 0);
    assert_int_equal(gate_named_revoke(t->g, n3.id), -ERR_NOT_FOUND);
    assert_int_equal(gate_named_revoke(t->g, 9999), -ERR_NOT_FOUND);
    assert_int_equal(check(t, "tier2", tok3, now, NULL), -ERR_ACCESS_DENIED);
    assert_int_equal(gate_link_redeem(t->g, str_c(q), true, now), -ERR_ACCESS_DENIED);
    buf_release(&url);

    /* a named token's links never outlive it */
    assert_int_equal(check(t, "tier2", tok2, now, &p), 0);
    assert_int_equal(gate_link_mint(t->g, &p, STR_LIT("tier2/f"), NULL, now, 0, &url, &exp), 0);
    assert_int_equal(exp, now + 100);
    buf_release(&url);

    /* the list and its statuses */
    struct seen seen = {0};
    assert_int_equal(gate_named_list(t->g, now + 100, visit, &seen), 0);
    assert_int_equal(seen.n, 3);
    assert_string_equal(seen.status[0], "exhausted");
    assert_int_equal(seen.uses[0], 2);
    assert_string_equal(seen.status[1], "expired");
    assert_string_equal(seen.status[2], "revoked");

    /* bad input */
    assert_int_equal(gate_named_create(t->g, gr, "", 0, 0, 0, &n, tok), -ERR_INVALID);
    assert_int_equal(gate_named_create(t->g, gr, "x", -1, 0, 0, &n, tok), -ERR_INVALID);
    assert_int_equal(check(t, "tier2", "tgn_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", now, NULL),
                     -ERR_ACCESS_DENIED);
}

static int visit(void *ctx, const struct gate_named *x)
{
    struct seen *s = ctx;
    if (s->n < 4) {
        s->status[s->n] = x->status;
        s->uses[s->n] = x->uses;
    }
    s->n++;
    return 0;
}

struct race {
    struct gate *g;
    const char *grant;
    const char *token;
    const char *query;
    int64_t now;
    int ok_uses, ok_downloads;
};

static void *race_thread(void *arg)
{
    struct race *r = arg;
    struct gate_principal p;
    if (gate_token_check(r->g, str_c(r->grant), str_c(r->token), NULL, r->now, true, &p) == 0)
        __atomic_add_fetch(&r->ok_uses, 1, __ATOMIC_RELAXED);
    if (gate_link_redeem(r->g, str_c(r->query), true, r->now) == 0)
        __atomic_add_fetch(&r->ok_downloads, 1, __ATOMIC_RELAXED);
    return NULL;
}

static void test_named_limits_concurrent(void **state)
{
    struct tg *t = *state;
    int64_t now = tg_now();
    struct gate_named n;
    struct gate_principal p;
    char tok[GATE_TOKEN_MAX];
    struct buf url = BUF_INIT;
    int64_t exp;
    assert_int_equal(gate_named_create(t->g, grant(t, "tier2"), "race", 7, 3, 0, &n, tok), 0);
    assert_int_equal(gate_token_check(t->g, STR_LIT("tier2"), str_c(tok), NULL, now, false, &p), 0);
    assert_int_equal(gate_link_mint(t->g, &p, STR_LIT("tier2/f"), NULL, now, 0, &url, &exp), 0);
    struct gate *g2;
    char *err = NULL;
    assert_int_equal(open_gate(t, &g2, &err), 0);
    /* two connections (like two processes), 32 threads each */
    struct race r = {t->g, "tier2", tok, strchr(buf_cstr(&url), '?') + 1, now, 0, 0};
    struct race r2 = r;
    r2.g = g2;
    pthread_t th[64];
    for (int i = 0; i < 64; i++)
        assert_int_equal(pthread_create(&th[i], NULL, race_thread, i % 2 ? &r : &r2), 0);
    for (int i = 0; i < 64; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(r.ok_uses + r2.ok_uses, 7);
    assert_int_equal(r.ok_downloads + r2.ok_downloads, 3);
    struct meta_named mn;
    assert_int_equal(meta_named_by_id(t->g->mg, n.id, &mn), 0);
    assert_int_equal(mn.uses, 7);
    assert_int_equal(mn.downloads, 3);
    /* exhausted: a HEAD (no count) is refused too */
    assert_int_equal(gate_link_redeem(t->g, str_c(r.query), false, now), -ERR_ACCESS_DENIED);
    gate_close(g2);
    buf_release(&url);
}

static void test_redeem_refusals(void **state)
{
    struct tg *t = *state;
    int64_t now = tg_now();
    struct gate_links l;
    struct gate_principal p;
    struct buf url = BUF_INIT;
    int64_t exp;
    gate_links(t->g, grant(t, "tier1"), now, &l);
    assert_int_equal(check(t, "tier1", l.current, now, &p), 0);
    assert_int_equal(gate_link_mint(t->g, &p, STR_LIT("tier1/f"), NULL, now, 0, &url, &exp), 0);
    const char *q = strchr(buf_cstr(&url), '?') + 1;
    assert_int_equal(gate_link_redeem(t->g, str_c(q), true, now), 0);
    assert_int_equal(gate_link_redeem(t->g, str_c(q), false, now), 0);
    static const struct {
        const char *q;
        int rc;
    } rows[] = {
        {"x-tollgate-grant=tier1&x-tollgate-token=p5&x-tollgate-epoch=0", 0},
        {"x-tollgate-grant=tier1&x-tollgate-token=p-5&x-tollgate-epoch=0", 0},
        {"x-tollgate-grant=tier1&x-tollgate-token=p5&x-tollgate-epoch=1", -ERR_ACCESS_DENIED},
        {"x-tollgate-grant=tier9&x-tollgate-token=p5&x-tollgate-epoch=0", -ERR_ACCESS_DENIED},
        {"x-tollgate-grant=tier1&x-tollgate-token=p5", -ERR_ACCESS_DENIED},
        {"x-tollgate-grant=tier1&x-tollgate-epoch=0", -ERR_ACCESS_DENIED},
        {"x-tollgate-token=p5&x-tollgate-epoch=0", -ERR_ACCESS_DENIED},
        {"x-tollgate-grant=tier1&x-tollgate-token=q5&x-tollgate-epoch=0", -ERR_ACCESS_DENIED},
        {"x-tollgate-grant=tier1&x-tollgate-token=p&x-tollgate-epoch=0", -ERR_ACCESS_DENIED},
        {"x-tollgate-grant=tier1&x-tollgate-token=n-1&x-tollgate-epoch=0", -ERR_ACCESS_DENIED},
        {"x-tollgate-grant=tier1&x-tollgate-token=n999&x-tollgate-epoch=0", -ERR_ACCESS_DENIED},
        {"x-tollgate-grant=tier1&x-tollgate-token=p5&x-tollgate-epoch=-1", -ERR_ACCESS_DENIED},
        {"x-tollgate-grant=tier1&x-tollgate-token=p5&x-tollgate-epoch=%zz", -ERR_ACCESS_DENIED},
        {"x-tollgate-grant=tier%31&x-tollgate-token=%705&x-tollgate-epoch=%30", 0}, /* decoded */
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        print_message("row %zu: %s\n", i, rows[i].q);
        assert_int_equal(gate_link_redeem(t->g, str_c(rows[i].q), true, now), rows[i].rc);
    }
    /* a named link for another grant's token is refused */
    struct gate_named n;
    char tok[GATE_TOKEN_MAX], q2[128];
    assert_int_equal(gate_named_create(t->g, grant(t, "tier2"), "x", 0, 0, 0, &n, tok), 0);
    snprintf(q2, sizeof q2, "x-tollgate-grant=tier1&x-tollgate-token=n%lld&x-tollgate-epoch=0",
             (long long)n.id);
    assert_int_equal(gate_link_redeem(t->g, str_c(q2), true, now), -ERR_ACCESS_DENIED);
    snprintf(q2, sizeof q2, "x-tollgate-grant=tier2&x-tollgate-token=n%lld&x-tollgate-epoch=0",
             (long long)n.id);
    assert_int_equal(gate_link_redeem(t->g, str_c(q2), true, now), 0);
    buf_release(&url);
}

static void test_rate_limit(void **state)
{
    struct tg *t = *state;
    int64_t now = iso("2026-02-11T12:00:00Z");
    struct gate_links l;
    struct gate_principal p;
    gate_links(t->g, grant(t, "tier2"), now, &l);
    for (int i = 0; i < GATE_FAIL_LIMIT; i++)
        assert_int_equal(gate_token_check(t->g, STR_LIT("tier2"), STR_LIT("wrong"), "192.0.2.7",
                                          now + i, true, &p),
                         -ERR_ACCESS_DENIED);
    assert_int_equal(gate_retry_after(t->g, "192.0.2.7", now + 20), 40);
    /* the 21st check is refused before looking at the token, even a good one */
    assert_int_equal(
        gate_token_check(t->g, STR_LIT("tier2"), str_c(l.current), "192.0.2.7", now + 20, true, &p),
        -ERR_RATE_LIMITED);
    /* others are not affected */
    assert_int_equal(
        gate_token_check(t->g, STR_LIT("tier2"), str_c(l.current), "192.0.2.8", now + 20, true, &p),
        0);
    assert_int_equal(gate_retry_after(t->g, "192.0.2.8", now + 20), 0);
    /* unknown grants count as failures too */
    for (int i = 0; i < GATE_FAIL_LIMIT; i++)
        gate_token_check(t->g, STR_LIT("tier9"), str_c(l.current), "2001:db8::1", now, true, &p);
    assert_int_equal(
        gate_token_check(t->g, STR_LIT("tier2"), str_c(l.current), "2001:db8::1", now, true, &p),
        -ERR_RATE_LIMITED);
    /* a minute after the first failure, the window is over */
    assert_int_equal(gate_retry_after(t->g, "192.0.2.7", now + 60), 0);
    assert_int_equal(
        gate_token_check(t->g, STR_LIT("tier2"), str_c(l.current), "192.0.2.7", now + 60, true, &p),
        0);
    /* a flood of addresses fills a fixed table; it does not grow */
    char addr[64];
    for (int i = 0; i < 20000; i++) {
        snprintf(addr, sizeof addr, "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
        gate_token_check(t->g, STR_LIT("tier2"), STR_LIT("bad"), addr, now + 61, true, &p);
    }
    /* addresses are never kept in clear */
    const uint8_t *mem = (const uint8_t *)t->g->rl;
    assert_null(memmem(mem, sizeof t->g->rl, "192.0.2.7", 9));
}

/* ---- config refusals ---- */

static const struct {
    const char *conf;
    const char *err; /* after "PATH:" */
} REFUSALS[] = {
    {"[grant Tier2]\nprefix = a/\n", "2: [grant Tier2]: a grant name is 1 to 63 characters"},
    {"[grant tier2]\ntitle = x\n", "2: [grant tier2]: prefix is required (e.g. prefix = tier2/)"},
    {"[grant t]\nprefix = tier2\n",
     "2: [grant t] prefix = tier2: each prefix must end with '/' and not start with '/'"},
    {"[grant t]\nprefix = a/ /b/\n", "2: [grant t] prefix = a/ /b/: each prefix must end"},
    {"[grant t]\nprefix = a/\nrotation = 30m\n",
     "3: [grant t] rotation = 30m: the rotation period must be at least 1h"},
    {"[grant t]\nprefix = a/\nrotation = weekly\n",
     "3: [grant t] rotation = weekly: expected '<duration> @ <ISO 8601 UTC anchor>'"},
    {"[grant t]\nprefix = a/\nrotation = 7d @ monday\n",
     "3: [grant t] rotation = 7d @ monday: the anchor after '@' must be an ISO 8601 UTC instant"},
    {"[grant t]\nprefix = a/\nrotation = 1d\noverlap = 1d\n",
     "4: [grant t] overlap = 1d: must be shorter than the rotation period"},
    {"[grant t]\nprefix = a/\noverlap = soon\n",
     "3: [grant t] overlap = soon: expected a duration"},
    {"[grant t]\nprefix = a/\nlink_ttl = 10s\n",
     "3: [grant t] link_ttl = 10s: must be at least 60s"},
    {"[grant t]\nprefix = a/\nlink_mode = proxy\n",
     "3: [grant t] link_mode = proxy: expected presign or redirect"},
    {"[grant t]\nprefix = a/\nredirect_ttl = x\n", "3: [grant t] redirect_ttl = x: expected"},
    {"[grant t]\nprefix = a/\ncolour = red\n", "3: unknown key 'colour' in [grant t]"},
    {"[grant t]\nprefix = a/\nkeep_daily = 0\n", "3: [grant t] keep_daily = 0: must be between"},
    {"[grant]\nprefix = a/\n", "2: [grant]: a grant needs a name: [grant NAME]"},
    {"[grant tier.2]\nprefix = a/\n", "2: [grant tier.2]: a grant name is 1 to 63"},
};

static void test_config_refusals(void **state)
{
    struct tg *t = *state;
    for (size_t i = 0; i < sizeof REFUSALS / sizeof REFUSALS[0]; i++) {
        struct cfg c = {0};
        char *err = NULL;
        struct gate *g = NULL;
        struct gate_config gc = {"tollgate", "http://x", "us-east-1", NULL};
        print_message("row %zu: want %s\n", i, REFUSALS[i].err);
        write_conf(t, REFUSALS[i].conf);
        assert_int_equal(cfg_load(t->conf, &c, &err), 0);
        assert_int_equal(gate_open(&c, &gc, t->m, t->secret, &g, &err), -ERR_CONFIG);
        assert_null(g);
        assert_non_null(err);
        char want[512];
        snprintf(want, sizeof want, "%s:%s", c.path, REFUSALS[i].err);
        bool same = strncmp(err, want, strlen(want)) == 0;
        if (!same)
            print_error("got: %s\n", err);
        free(err);
        cfg_release(&c);
        assert_true(same);
    }
    /* accepted: a link_ttl above 7 days is capped (with a warning), 3.5d, no anchor */
    struct cfg c = {0};
    char *err = NULL;
    struct gate *g = NULL;
    write_conf(t, "[grant t]\nprefix = a/ b/c/\nlink_ttl = 30d\nrotation = 3.5d\n");
    assert_int_equal(cfg_load(t->conf, &c, &err), 0);
    struct gate_config gc = {"tollgate", "http://x", "us-east-1", NULL};
    assert_int_equal(gate_open(&c, &gc, t->m, t->secret, &g, &err), 0);
    const struct gate_grant *gr = gate_grant_at(g, 0);
    assert_int_equal(gr->link_ttl_s, GATE_LINK_TTL_MAX);
    assert_int_equal(gr->rotation_s, 302400);
    assert_int_equal(gr->anchor, 345600);
    assert_int_equal(gr->overlap_s, 86400);
    gate_close(g);
    cfg_release(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_config_parsed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_derivation_known_answers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_period_boundaries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_links_overlap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_constant_time_compare, setup, teardown),
        cmocka_unit_test_setup_teardown(test_epoch_bump_other_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_background_flush, setup, teardown),
        cmocka_unit_test_setup_teardown(test_named_lifecycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_named_limits_concurrent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redeem_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rate_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_refusals, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
