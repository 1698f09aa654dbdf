/* meta_pg_conn.c -- the guarded PostgreSQL connection of the backend (see
 * meta_pg_int.h for the contract) and its small codecs.
 *
 * Invariant: pc->prepared is true only while every statement of pc->q is prepared
 * on pc->c; a reset clears it (a new session has no prepared statements). The mutex
 * is held for a whole call, so statements of one connection never interleave and a
 * BEGIN ... COMMIT sequence made under one lock is one transaction. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "meta/meta_pg_int.h"

#define RESET_BACKOFF_US 1000000

/* One log line: libpq's messages span lines ("...\n\tThis probably means..."). */
static void log_pg(const char *who, const char *what, const char *msg)
{
    char line[512];
    size_t n = 0;
    bool space = false;
    for (const char *p = msg ? msg : ""; *p && n < sizeof line - 1; p++) {
        if (*p == '\n' || *p == '\t' || *p == ' ') {
            space = n > 0;
            continue;
        }
        if (space && n < sizeof line - 2)
            line[n++] = ' ';
        space = false;
        line[n++] = *p;
    }
    line[n] = '\0';
    tg_log_error("meta: postgres %s: %s: %s", who, what, line);
}

/* A failed statement is logged with its SQLSTATE and primary message only: the
 * DETAIL of a unique violation would show the key, here a token's hash. */
int meta_pg_fail(PGconn *c, const PGresult *res, const char *who, const char *what)
{
    const char *prim = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (prim && c && PQstatus(c) == CONNECTION_OK) {
        char m[400];
        snprintf(m, sizeof m, "%s (SQLSTATE %s)", prim, state ? state : "?");
        log_pg(who, what, m);
        return -ERR_DB;
    }
    log_pg(who, what, c ? PQerrorMessage(c) : "no connection");
    return c && PQstatus(c) == CONNECTION_OK ? -ERR_DB : -ERR_UNAVAILABLE;
}

/* Server notices ("relation ... already exists, skipping") and the FATAL a killed
 * session receives: debug lines, not libpq's default print to stderr. */
static void notice(void *arg, const char *msg)
{
    (void)arg;
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n')
        n--;
    tg_log_debug("meta: postgres: %.*s", (int)n, msg);
}

PGconn *meta_pg_connect(const char *dsn, const char *what, int *rc)
{
    /* dbname is expanded (a connection string or URI); a fallback application name
     * lets an operator tell tollgate's sessions apart in pg_stat_activity. */
    const char *const keys[] = {"dbname", "fallback_application_name", NULL};
    const char *const vals[] = {dsn, "tollgate", NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (!c) {
        *rc = -ERR_NOMEM;
        return NULL;
    }
    if (PQstatus(c) != CONNECTION_OK) {
        log_pg(what, "cannot connect", PQerrorMessage(c));
        PQfinish(c);
        *rc = -ERR_UNAVAILABLE;
        return NULL;
    }
    PQsetNoticeProcessor(c, notice, NULL);
    *rc = 0;
    return c;
}

static int prepare_all(struct meta_pgc *pc)
{
    char name[16];
    for (int i = 0; i < pc->nq; i++) {
        snprintf(name, sizeof name, "q%d", i);
        PGresult *r = PQprepare(pc->c, name, pc->q[i].sql, 0, NULL);
        int ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
        int rc = ok ? 0 : meta_pg_fail(pc->c, r, pc->what, "prepare");
        PQclear(r);
        if (rc < 0)
            return rc;
    }
    pc->prepared = true;
    return 0;
}

int meta_pgc_open(struct meta_pgc *pc, const char *dsn, const char *what, const struct meta_pgq *q,
                  int nq)
{
    int rc;
    memset(pc, 0, sizeof *pc);
    pthread_mutex_init(&pc->mu, NULL);
    pc->q = q;
    pc->nq = nq;
    pc->what = what;
    if (!(pc->c = meta_pg_connect(dsn, what, &rc)))
        return rc;
    return 0; /* statements are prepared by the first meta_pgc_lock() */
}

void meta_pgc_close(struct meta_pgc *pc)
{
    if (!pc->what)
        return; /* never opened */
    if (pc->c)
        PQfinish(pc->c);
    pc->c = NULL;
    pthread_mutex_destroy(&pc->mu);
    pc->what = NULL;
}

/* Caller holds the lock. */
static int restore(struct meta_pgc *pc)
{
    if (PQstatus(pc->c) == CONNECTION_OK && pc->prepared)
        return 0;
    if (PQstatus(pc->c) != CONNECTION_OK) {
        int64_t now = tg_now_us();
        if (pc->failed_us && now - pc->failed_us < RESET_BACKOFF_US && now >= pc->failed_us)
            return -ERR_UNAVAILABLE;
        pc->prepared = false;
        PQreset(pc->c);
        if (PQstatus(pc->c) != CONNECTION_OK) {
            pc->failed_us = now;
            log_pg(pc->what, "reconnect failed", PQerrorMessage(pc->c));
            return -ERR_UNAVAILABLE;
        }
        pc->failed_us = 0;
        tg_log_info("meta: postgres %s: reconnected", pc->what);
    }
    int rc = prepare_all(pc);
    return rc == -ERR_DB ? rc : (rc < 0 ? -ERR_UNAVAILABLE : 0);
}

int meta_pgc_lock(struct meta_pgc *pc)
{
    pthread_mutex_lock(&pc->mu);
    int rc = restore(pc);
    if (rc < 0)
        pthread_mutex_unlock(&pc->mu);
    return rc;
}

void meta_pgc_unlock(struct meta_pgc *pc)
{
    pthread_mutex_unlock(&pc->mu);
}

static int exec(struct meta_pgc *pc, int i, const char *sql, bool retry, int n,
                const char *const *v, const int *len, const int *fmt, PGresult **res)
{
    for (int attempt = 0;; attempt++) {
        char name[16];
        PGresult *r;
        if (sql) {
            r = PQexecParams(pc->c, sql, n, NULL, v, len, fmt, 0);
        } else {
            snprintf(name, sizeof name, "q%d", i);
            r = PQexecPrepared(pc->c, name, n, v, len, fmt, 0);
        }
        ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
            if (res)
                *res = r;
            else
                PQclear(r);
            return 0;
        }
        if (PQstatus(pc->c) == CONNECTION_OK) {
            int rc = meta_pg_fail(pc->c, r, pc->what, "query");
            PQclear(r);
            return rc;
        }
        /* The session is gone (server restart, pg_terminate_backend, network). */
        meta_pg_fail(pc->c, r, pc->what, "connection lost");
        PQclear(r);
        pc->failed_us = 0;
        int rc = restore(pc);
        if (rc < 0)
            return rc;
        if (!retry || attempt > 0)
            return -ERR_UNAVAILABLE;
    }
}

int meta_pgc_run(struct meta_pgc *pc, int i, int n, const char *const *v, const int *len,
                 const int *fmt, PGresult **res)
{
    return exec(pc, i, NULL, pc->q[i].retry, n, v, len, fmt, res);
}

int meta_pgc_sql(struct meta_pgc *pc, const char *sql, bool retry, int n, const char *const *v,
                 const int *len, const int *fmt, PGresult **res)
{
    return exec(pc, -1, sql, retry, n, v, len, fmt, res);
}

const char *meta_pg_i64(char b[META_PG_I64], int64_t v)
{
    snprintf(b, META_PG_I64, "%lld", (long long)v);
    return b;
}

int64_t meta_pg_get_i64(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        return 0;
    return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

int64_t meta_pg_changes(const PGresult *r)
{
    const char *s = PQcmdTuples((PGresult *)r);
    return s && *s ? strtoll(s, NULL, 10) : 0;
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 (PostgreSQL's rules: shortest
 * form, no surrogates, <= U+10FFFF). */
static size_t utf8_seq(const uint8_t *p, size_t n)
{
    if (p[0] < 0x80)
        return 1;
    size_t len = p[0] >= 0xf0 ? 4 : p[0] >= 0xe0 ? 3 : p[0] >= 0xc2 ? 2 : 0;
    if (len == 0 || p[0] > 0xf4 || len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] >= 0xa0) ||
        (p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] >= 0x90))
        return 0;
    return len;
}

bool meta_pg_text_ok(struct str s)
{
    const uint8_t *p = (const uint8_t *)s.ptr;
    size_t i = 0, k;
    while (i < s.len && p[i] && (k = utf8_seq(p + i, s.len - i)) > 0)
        i += k;
    return i == s.len;
}

const char *meta_pg_utf8(const char *s, char **owned)
{
    const uint8_t *p = (const uint8_t *)s;
    size_t n = strlen(s), i = 0, k;
    while (i < n && (k = utf8_seq(p + i, n - i)) > 0)
        i += k;
    if (i == n)
        return s;
    char *c = malloc(n + 1);
    if (!c)
        return NULL;
    for (i = 0; i < n;) {
        if ((k = utf8_seq(p + i, n - i)) > 0) {
            memcpy(c + i, s + i, k);
            i += k;
        } else {
            c[i++] = '?';
        }
    }
    c[n] = '\0';
    *owned = c;
    return c;
}
