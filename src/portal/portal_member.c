/* portal_member.c -- the member side:
 *   GET|HEAD /downloads/<grant>?t=TOKEN                   the page (HTML, no script)
 *   GET|HEAD /api/downloads/<grant>?t=TOKEN               the same as JSON
 *   GET|HEAD /downloads/<grant>/file/<key-suffix>?t=TOKEN  302 to a fresh presigned link
 *
 * The token is checked by the gate on every request; a use is charged only for a GET
 * of the page or the API by something that is not a link-preview bot. Bots get a page
 * without links and no check at all (they neither use up an open nor count as a
 * failure). Every refusal of a token -- bad, old, other grant, revoked, exhausted --
 * answers the same bytes (REFUSED_HTML / REFUSED_JSON), so nothing about tokens leaks.
 * The token itself is never logged: the log note is "grant=<g> tok#<8 hex>". */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "portal/portal_int.h"
#include "stats/stats.h"

static const char REFUSED_TITLE[] = "This link is not valid any more";
static const char REFUSED_BODY[] =
    "<main class=\"notice\"><h1>This link is not valid any more</h1>"
    "<p class=\"big\">Download links change regularly. Please open the <strong>latest link from "
    "the members' post</strong> to get to your files.</p>"
    "<p>If the latest link does not work either, ask the person who shared it with you.</p>"
    "</main>";
static const char REFUSED_JSON_MSG[] =
    "This link is not valid any more. Open the latest link from the members' post.";

enum member_kind { M_PAGE, M_API, M_FILE };

struct member {
    struct portal_req *c;
    enum member_kind kind;
    struct str grant;  /* from the path */
    struct str suffix; /* M_FILE: raw, still percent-encoded */
    bool head, bot;
    struct buf token;                             /* decoded t= */
    char note[GATE_NAME_MAX + GATE_TAG_LEN + 16]; /* "grant=<g> tok#<8 hex>" */
};

/* One analytics event for this request (stats.h). pr NULL: the token's tag. */
static void member_event(struct member *m, enum stats_kind kind, const struct gate_principal *pr,
                         const char *key, int status, const char *detail)
{
    struct stats *st = m->c->p->cfg.stats;
    if (!st)
        return;
    struct http_req *req = m->c->req;
    char grant[GATE_NAME_MAX], token[STATS_TOKEN_MAX] = "";
    snprintf(grant, sizeof grant, "%.*s", STR_FMT(m->grant));
    if (pr && pr->kind == GATE_TOKEN_NAMED)
        snprintf(token, sizeof token, "named#%lld", (long long)pr->named_id);
    else if (pr)
        snprintf(token, sizeof token, "period#%lld", (long long)pr->period);
    else if (m->token.len)
        gate_token_tag(buf_str(&m->token), token);
    struct str ua = STR_NULL, ref = STR_NULL, xff = STR_NULL;
    http_req_header(req, "user-agent", &ua);
    http_req_header(req, "referer", &ref);
    http_req_header(req, "x-forwarded-for", &xff);
    struct stats_hit h = {
        kind, grant, token, key, detail, status, 0, false, str_c(http_req_client_addr(req)),
        xff,  ua,    ref,   0};
    stats_record(st, &h);
}

static void send_notice(struct portal_req *c, int status, const char *title, const char *html,
                        const char *const *headers)
{
    struct buf b = BUF_INIT;
    portal_html_begin(&b, title, false);
    buf_adds(&b, html);
    portal_html_end(&b);
    portal_send(c, status, "text/html; charset=utf-8", &b, headers);
}

static void refuse(struct member *m, int rc)
{
    struct portal_req *c = m->c;
    struct gate *g = c->p->cfg.gate;
    int status = err_http_status(rc);
    char note[sizeof m->note + 48];
    snprintf(note, sizeof note, "%s%serr=%s", m->note, m->note[0] ? " " : "", err_name(rc));
    http_req_log_note(c->req, note);
    if (status == 403 || rc == -ERR_RATE_LIMITED)
        member_event(m, STATS_REJECTED, NULL, "", rc == -ERR_RATE_LIMITED ? 429 : 403,
                     err_name(rc));
    if (rc == -ERR_RATE_LIMITED) {
        int64_t after = gate_retry_after(g, http_req_client_addr(c->req), tg_now());
        char ra[24];
        snprintf(ra, sizeof ra, "%" PRId64, after > 0 ? after : 60);
        const char *const h[] = {"Retry-After", ra, NULL};
        if (m->kind == M_API) {
            json_t *j = json_pack("{s:s, s:s}", "error", "rate_limited", "message",
                                  "Too many failed attempts. Try again later.");
            char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
            json_decref(j);
            struct buf b = BUF_INIT;
            buf_adds(&b, s ? s : "{}");
            buf_addc(&b, '\n');
            free(s);
            portal_send(c, 429, "application/json", &b, h);
        } else {
            send_notice(c, 429, "Too many attempts",
                        "<main class=\"notice\"><h1>Too many attempts</h1><p class=\"big\">"
                        "Please wait a minute, then open the latest link from the members' "
                        "post.</p></main>",
                        h);
        }
        return;
    }
    if (status == 403) {
        if (m->kind == M_API)
            portal_send_json_error(c, 403, "access_denied", REFUSED_JSON_MSG);
        else
            send_notice(c, 403, REFUSED_TITLE, REFUSED_BODY, NULL);
        return;
    }
    if (status == 404) {
        if (m->kind == M_API)
            portal_send_json_error(c, 404, "not_found", "There is no such download page.");
        else
            send_notice(c, 404, "Not found",
                        "<main class=\"notice\"><h1>Not found</h1><p class=\"big\">There is no "
                        "such download page or file. Check the link from the members' post."
                        "</p></main>",
                        NULL);
        return;
    }
    if (rc == -ERR_REMOTE || rc == -ERR_UNAVAILABLE) {
        /* the store behind us (or the database) is down: the link is fine, come back */
        const char *const h[] = {"Retry-After", "30", NULL};
        if (m->kind == M_API)
            portal_send_json_error(c, 503, "unavailable", err_message(rc));
        else
            send_notice(c, 503, "Temporarily unavailable",
                        "<main class=\"notice\"><h1>Temporarily unavailable</h1><p class=\"big\">"
                        "The file store cannot be reached right now. Your link is still valid: "
                        "please try again in a few minutes.</p></main>",
                        h);
        return;
    }
    if (status >= 500)
        tg_log_error("portal: %s", err_message(rc));
    if (m->kind == M_API)
        portal_send_json_error(c, status >= 400 ? status : 500, "error", err_message(rc));
    else
        send_notice(c, status >= 400 ? status : 500, "Something went wrong",
                    "<main class=\"notice\"><h1>Something went wrong</h1><p class=\"big\">"
                    "Please try again in a moment.</p></main>",
                    NULL);
}

/* /downloads/<grant>, /downloads/<grant>/file/<suffix>, /api/downloads/<grant> */
static int parse_path(struct str path, struct member *m)
{
    struct str rest;
    if (str_starts(path, "/api/downloads/")) {
        m->kind = M_API;
        rest = str_n(path.ptr + 15, path.len - 15);
    } else if (str_starts(path, "/downloads/")) {
        m->kind = M_PAGE;
        rest = str_n(path.ptr + 11, path.len - 11);
    } else {
        return -ERR_NOT_FOUND;
    }
    struct str tail;
    bool more = str_split(rest, '/', &m->grant, &tail);
    if (!m->grant.len || m->grant.len >= GATE_NAME_MAX)
        return -ERR_NOT_FOUND;
    for (size_t i = 0; i < m->grant.len; i++) {
        char ch = m->grant.ptr[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
            return -ERR_NOT_FOUND;
    }
    if (!more)
        return 0;
    if (m->kind == M_PAGE && str_starts(tail, "file/") && tail.len > 5) {
        m->kind = M_FILE;
        m->suffix = str_n(tail.ptr + 5, tail.len - 5);
        return 0;
    }
    if (!tail.len) /* a trailing slash */
        return 0;
    return -ERR_NOT_FOUND;
}

/* ---- links ---- */

struct linked {
    struct buf url;
    int64_t expires_at; /* 0 = as long as the token */
};

static int link_for(struct member *m, const struct gate_principal *pr, const struct portal_file *f,
                    int64_t now, struct linked *out)
{
    struct portal *p = m->c->p;
    const struct gate_grant *gr = pr->grant;
    if (gr->link_mode == GATE_LINK_REDIRECT) {
        const char *suffix = NULL;
        for (size_t i = 0; i < gr->n_prefixes && !suffix; i++)
            if (strncmp(f->key, gr->prefixes[i], strlen(gr->prefixes[i])) == 0)
                suffix = f->key + strlen(gr->prefixes[i]);
        if (!suffix)
            return -ERR_INTERNAL;
        int rc = buf_printf(&out->url, "%s/downloads/%s/file/", p->public_url, gr->name);
        if (rc == 0)
            rc = uri_encode(&out->url, str_c(suffix), true);
        if (rc == 0)
            rc = buf_adds(&out->url, "?t=");
        if (rc == 0)
            rc = uri_encode(&out->url, buf_str(&m->token), false);
        if (rc < 0)
            return rc;
        /* Works as long as the token: a tier token until its period ends. */
        out->expires_at =
            pr->kind == GATE_TOKEN_TIER ? gate_period_start(gr, pr->period + 1) : pr->expires_at;
        return 0;
    }
    int64_t ttl = gr->link_ttl_s;
    if (ttl <= 0 || ttl > GATE_LINK_TTL_MAX)
        ttl = GATE_LINK_TTL_MAX;
    /* A named token's links do not outlive the token. */
    if (pr->kind == GATE_TOKEN_NAMED && pr->expires_at > 0 && pr->expires_at - now < ttl)
        ttl = pr->expires_at - now > 0 ? pr->expires_at - now : 1;
    bool fresh = false;
    int rc =
        portal_link_mint(p, pr, f->key, f->filename, now, ttl, &out->url, &out->expires_at, &fresh);
    if (rc == 0 && fresh && !m->head)
        member_event(m, STATS_LINK_MINTED, pr, f->key, 200, "");
    return rc;
}

struct minted {
    struct linked *daily, *mtd, *monthly;
    int64_t expires_min; /* earliest link expiry; 0 = none */
};

static void minted_release(struct minted *mi, const struct portal_listing *l)
{
    for (size_t i = 0; mi->daily && i < l->n_daily; i++)
        buf_release(&mi->daily[i].url);
    for (size_t i = 0; mi->monthly && i < l->n_monthly; i++)
        buf_release(&mi->monthly[i].url);
    if (mi->mtd)
        buf_release(&mi->mtd->url);
    free(mi->daily);
    free(mi->mtd);
    free(mi->monthly);
}

static int mint_all(struct member *m, const struct gate_principal *pr,
                    const struct portal_listing *l, int64_t now, struct minted *mi)
{
    int rc = 0;
    mi->daily = calloc(l->n_daily + 1, sizeof *mi->daily);
    mi->mtd = calloc(1, sizeof *mi->mtd);
    mi->monthly = calloc(l->n_monthly + 1, sizeof *mi->monthly);
    if (!mi->daily || !mi->mtd || !mi->monthly)
        return -ERR_NOMEM;
    for (size_t i = 0; i < l->n_daily && rc == 0; i++)
        rc = link_for(m, pr, &l->daily[i], now, &mi->daily[i]);
    if (rc == 0 && l->mtd)
        rc = link_for(m, pr, l->mtd, now, mi->mtd);
    for (size_t i = 0; i < l->n_monthly && rc == 0; i++)
        rc = link_for(m, pr, &l->monthly[i], now, &mi->monthly[i]);
    if (rc < 0)
        return rc;
    int64_t e = 0;
    for (size_t i = 0; i < l->n_daily; i++)
        if (mi->daily[i].expires_at && (!e || mi->daily[i].expires_at < e))
            e = mi->daily[i].expires_at;
    if (l->mtd && mi->mtd->expires_at && (!e || mi->mtd->expires_at < e))
        e = mi->mtd->expires_at;
    for (size_t i = 0; i < l->n_monthly; i++)
        if (mi->monthly[i].expires_at && (!e || mi->monthly[i].expires_at < e))
            e = mi->monthly[i].expires_at;
    mi->expires_min = e;
    return 0;
}

/* ---- JSON ----
 * Written straight into the response buffer (portal_json_str escapes): on this hot
 * path jansson's build-then-dump was half of the request's CPU (bench/portal.sh). */

/* Each returns 0 or <0; `rc |= ...` keeps any failure negative (a failed append never
 * sends a truncated body). */
static int json_time(struct buf *b, int64_t t)
{
    char s[TG_TIME_BUF];
    if (t <= 0)
        return buf_adds(b, "null");
    time_fmt_iso8601(t, s);
    return buf_printf(b, "\"%s\"", s);
}

static int file_json(struct buf *b, const struct portal_file *f, const struct linked *k)
{
    int rc = buf_printf(b, "{\"%s\":\"%s\",\"key\":", f->kind == KIND_DAILY ? "date" : "month",
                        f->period);
    rc |= portal_json_str(b, str_c(f->key));
    rc |= buf_adds(b, ",\"filename\":");
    rc |= portal_json_str(b, str_c(f->filename));
    rc |= buf_printf(b, ",\"size\":%" PRIu64 ",\"sha256\":\"%s\",\"rows\":", f->size, f->sha256);
    rc |= f->rows >= 0 ? buf_printf(b, "%" PRId64, f->rows) : buf_adds(b, "null");
    rc |= buf_adds(b, ",\"url\":");
    rc |= portal_json_str(b, buf_str(&k->url));
    rc |= buf_adds(b, ",\"expires_at\":");
    rc |= json_time(b, k->expires_at);
    rc |= buf_addc(b, '}');
    return rc;
}

static int file_list_json(struct buf *b, const struct portal_file *f, const struct linked *k,
                          size_t n)
{
    int rc = buf_addc(b, '[');
    for (size_t i = 0; i < n; i++) {
        if (i)
            rc |= buf_addc(b, ',');
        rc |= file_json(b, &f[i], &k[i]);
    }
    rc |= buf_addc(b, ']');
    return rc;
}

static void answer_json(struct member *m, const struct gate_principal *pr,
                        const struct portal_listing *l, const struct minted *mi, int64_t now)
{
    const struct gate_grant *gr = pr->grant;
    struct buf b = BUF_INIT;
    int rc = buf_reserve(&b, 1024 + 1024 * (l->n_daily + l->n_monthly + 1));
    rc |= buf_adds(&b, "{\"grant\":");
    rc |= portal_json_str(&b, str_c(gr->name));
    rc |= buf_adds(&b, ",\"generated_at\":");
    rc |= json_time(&b, now);
    rc |= buf_adds(&b, ",\"daily\":");
    rc |= file_list_json(&b, l->daily, mi->daily, l->n_daily);
    rc |= buf_adds(&b, ",\"mtd\":");
    rc |= l->mtd ? file_json(&b, l->mtd, mi->mtd) : buf_adds(&b, "null");
    rc |= buf_adds(&b, ",\"monthly\":");
    rc |= file_list_json(&b, l->monthly, mi->monthly, l->n_monthly);
    rc |= buf_adds(&b, ",\"metadata\":{\"title\":");
    rc |= portal_json_str(&b, str_c(gr->title ? gr->title : gr->name));
    rc |= buf_adds(&b, ",\"updated_at\":");
    rc |= json_time(&b, l->updated);
    rc |= buf_adds(&b, ",\"links_expire_at\":");
    rc |= json_time(&b, mi->expires_min);
    rc |= buf_printf(&b, ",\"link_mode\":\"%s\"}}\n",
                     gr->link_mode == GATE_LINK_REDIRECT ? "redirect" : "presign");
    if (rc < 0)
        portal_send_json_error(m->c, 500, "internal", "out of memory");
    else
        portal_send(m->c, 200, "application/json", &b, NULL);
    buf_release(&b);
}

/* ---- HTML ---- */

static void file_rows(struct buf *b, const struct portal_file *f, const struct linked *k, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char size[32], rows[32];
        portal_fmt_size(f[i].size, size);
        portal_fmt_count(f[i].rows, rows);
        buf_adds(b, "<tr><td data-label=\"");
        buf_adds(b, f[i].kind == KIND_DAILY ? "Date" : "Month");
        buf_adds(b, "\"><span class=\"date\">");
        portal_html_escape(b, str_c(f[i].period));
        buf_adds(b, "</span><span class=\"fname\">");
        portal_html_escape(b, str_c(f[i].filename));
        buf_printf(b,
                   "</span></td><td class=\"num\" data-label=\"Size\" title=\"%" PRIu64
                   " bytes\">%s</td><td class=\"num\" data-label=\"Rows\">%s</td>"
                   "<td data-label=\"SHA-256\"><code class=\"sha\">%s</code></td>"
                   "<td class=\"act\"><a class=\"btn\" rel=\"noreferrer\" href=\"",
                   f[i].size, size, rows, f[i].sha256);
        portal_html_escape(b, buf_str(&k[i].url));
        buf_adds(b, "\" download=\"");
        portal_html_escape(b, str_c(f[i].filename));
        buf_adds(b, "\">Download</a></td></tr>\n");
    }
}

static void file_table(struct buf *b, const struct portal_file *f, const struct linked *k, size_t n,
                       bool daily)
{
    buf_printf(b,
               "<div class=\"wide\"><table class=\"files\"><thead><tr><th>%s</th>"
               "<th class=\"num\">Size</th><th class=\"num\">Rows</th><th>SHA-256</th>"
               "<th><span hidden>Download</span></th></tr></thead><tbody>\n",
               daily ? "Date" : "Month");
    file_rows(b, f, k, n);
    buf_adds(b, "</tbody></table></div>\n");
}

static void answer_html(struct member *m, const struct gate_principal *pr,
                        const struct portal_listing *l, const struct minted *mi, int64_t now)
{
    const struct gate_grant *gr = pr->grant;
    const char *title = gr->title ? gr->title : gr->name;
    char when[TG_TIME_BUF];
    struct buf b = BUF_INIT;
    portal_html_begin(&b, title, false);
    buf_adds(&b, "<main><h1>");
    portal_html_escape(&b, str_c(title));
    buf_adds(&b, "</h1><p class=\"lede\">");
    if (l->updated) {
        portal_fmt_when(l->updated, when);
        buf_printf(&b, "Last updated <strong>%s</strong>", when);
    } else {
        buf_adds(&b, "Nothing has been published yet.");
    }
    buf_adds(&b, "</p>\n");
    if (mi->expires_min) {
        portal_fmt_when(mi->expires_min, when);
        if (gr->link_mode == GATE_LINK_REDIRECT)
            buf_printf(&b,
                       "<p class=\"note\">The download links on this page work until "
                       "<strong>%s</strong>. After that, open the latest link from the "
                       "members' post.</p>\n",
                       when);
        else
            buf_printf(&b,
                       "<p class=\"note\">The download links on this page expire on "
                       "<strong>%s</strong>. Reload this page for fresh links.</p>\n",
                       when);
    }

    char n[16];
    snprintf(n, sizeof n, "%u", m->c->p->cfg.keep_daily);
    buf_printf(&b,
               "<section id=\"daily\"><h2>Daily files</h2><p class=\"sub\">One file per UTC "
               "day, newest first (the last %s days).</p>\n",
               n);
    if (l->n_daily)
        file_table(&b, l->daily, mi->daily, l->n_daily, true);
    else
        buf_adds(&b, "<p class=\"empty\">No daily files yet.</p>\n");
    buf_adds(&b, "</section>\n<section id=\"mtd\"><h2>Month to date</h2><p class=\"sub\">Every "
                 "day of the current month so far, in one file.</p>\n");
    if (l->mtd)
        file_table(&b, l->mtd, mi->mtd, 1, false);
    else
        buf_adds(&b, "<p class=\"empty\">No month-to-date file yet.</p>\n");
    buf_adds(&b, "</section>\n");
    if (l->n_monthly) {
        buf_adds(&b, "<section id=\"monthly\"><h2>Monthly bundles</h2><p class=\"sub\">Whole "
                     "past months, newest first.</p>\n");
        file_table(&b, l->monthly, mi->monthly, l->n_monthly, false);
        buf_adds(&b, "</section>\n");
    }
    portal_fmt_when(now, when);
    buf_printf(&b,
               "</main><footer>These links are for you: please don't share them. Check a "
               "download with <code>sha256sum</code>; it should print the SHA-256 shown "
               "above. Page generated %s.</footer>\n",
               when);
    portal_html_end(&b);
    portal_send(m->c, 200, "text/html; charset=utf-8", &b, NULL);
}

/* ---- the click-time redirect ---- */

static void answer_file(struct member *m, const struct gate_principal *pr, int64_t now)
{
    struct portal *p = m->c->p;
    const struct gate_grant *gr = pr->grant;
    struct buf suffix = BUF_INIT, key = BUF_INIT;
    struct linked k = {BUF_INIT, 0};
    int rc = uri_decode(&suffix, m->suffix, false);
    bool found = false;
    for (size_t i = 0; rc == 0 && i < gr->n_prefixes && !found; i++) {
        struct store_obj_info info = {0};
        buf_reset(&key);
        rc = buf_printf(&key, "%s%.*s", gr->prefixes[i], STR_FMT(buf_str(&suffix)));
        if (rc == 0 && store_key_check(buf_str(&key)) < 0)
            break;
        if (rc == 0 && store_obj_head(p->cfg.store, str_c(p->bucket), buf_str(&key), &info) == 0)
            found = true;
        store_obj_info_release(&info);
    }
    if (rc == 0 && !found)
        rc = -ERR_NOT_FOUND;
    char *fname = NULL;
    if (rc == 0) {
        /* The friendly name, as the page showed it. */
        struct portal_listing_ref *lr = NULL;
        if (portal_list_get(p, gr, &lr) == 0) {
            const struct portal_listing *l = &lr->l;
            const struct portal_file *all[3] = {l->daily, l->mtd, l->monthly};
            size_t cnt[3] = {l->n_daily, l->mtd ? 1 : 0, l->n_monthly};
            for (size_t a = 0; a < 3 && !fname; a++)
                for (size_t i = 0; i < cnt[a] && !fname; i++)
                    if (strcmp(all[a][i].key, buf_cstr(&key)) == 0)
                        fname = strdup(all[a][i].filename);
            portal_list_put(lr);
        }
        if (!fname) {
            const char *slash = strrchr(buf_cstr(&key), '/');
            fname = strdup(slash ? slash + 1 : buf_cstr(&key));
        }
        int64_t ttl = gr->redirect_ttl_s > 0 ? gr->redirect_ttl_s : 600;
        if (pr->kind == GATE_TOKEN_NAMED && pr->expires_at > 0 && pr->expires_at - now < ttl)
            ttl = pr->expires_at - now > 0 ? pr->expires_at - now : 1;
        rc = fname ? gate_link_mint(p->cfg.gate, pr, buf_str(&key), fname, now, ttl, &k.url,
                                    &k.expires_at)
                   : -ERR_NOMEM;
    }
    if (rc == 0) {
        const char *const h[] = {"Location", buf_cstr(&k.url), NULL};
        member_event(m, STATS_LINK_MINTED, pr, buf_cstr(&key), 302, "redirect");
        portal_send(m->c, 302, NULL, NULL, h);
    } else {
        refuse(m, rc);
    }
    free(fname);
    buf_release(&k.url);
    buf_release(&key);
    buf_release(&suffix);
}

/* ---- the request ---- */

void portal_member_done(struct portal_req *c)
{
    struct portal *p = c->p;
    struct member m = {.c = c};
    struct str method = http_req_method(c->req), ua = STR_NULL;
    buf_init(&m.token, 1024);
    if (!str_eq_c(method, "GET") && !str_eq_c(method, "HEAD")) {
        const char *const h[] = {"Allow", "GET, HEAD", NULL};
        portal_send(c, 405, "text/plain", NULL, h);
        goto out;
    }
    m.head = str_eq_c(method, "HEAD");
    int rc = parse_path(http_req_path(c->req), &m);
    if (rc < 0) {
        refuse(&m, rc);
        goto out;
    }
    http_req_header(c->req, "user-agent", &ua);
    m.bot = m.kind != M_API && ua_is_link_preview(ua);
    if (m.bot) {
        /* A preview: no token check, nothing charged, no links. */
        if (!gate_grant_find(p->cfg.gate, m.grant)) {
            refuse(&m, -ERR_NOT_FOUND);
            goto out;
        }
        http_req_log_note(c->req, "preview-bot");
        send_notice(c, 200, "Member downloads",
                    "<main class=\"notice\"><h1>Member downloads</h1><p class=\"big\">Open this "
                    "link in your browser to see your files.</p></main>",
                    NULL);
        goto out;
    }
    struct str t = STR_NULL;
    if (query_get(http_req_query(c->req), "t", &t) && uri_decode(&m.token, t, true) < 0)
        buf_reset(&m.token); /* undecodable: checked as the empty token, refused */
    char tag[GATE_TAG_LEN + 1];
    gate_token_tag(buf_str(&m.token), tag);
    snprintf(m.note, sizeof m.note, "grant=%.*s %s", STR_FMT(m.grant), tag);
    http_req_log_note(c->req, m.note);

    int64_t now = tg_now();
    struct gate_principal pr;
    bool count = !m.head && m.kind != M_FILE;
    rc = gate_token_check(p->cfg.gate, m.grant, buf_str(&m.token), http_req_client_addr(c->req),
                          now, count, &pr);
    if (rc < 0) {
        refuse(&m, rc);
        goto out;
    }
    if (m.kind == M_FILE) {
        answer_file(&m, &pr, now);
        goto out;
    }
    struct portal_listing_ref *lr = NULL;
    struct minted mi = {0};
    rc = portal_list_get(p, pr.grant, &lr);
    if (rc < 0) {
        refuse(&m, rc);
        goto out;
    }
    rc = mint_all(&m, &pr, &lr->l, now, &mi);
    if (rc < 0)
        refuse(&m, rc);
    else if (m.kind == M_API)
        answer_json(&m, &pr, &lr->l, &mi, now);
    else
        answer_html(&m, &pr, &lr->l, &mi, now);
    if (rc == 0 && !m.head)
        member_event(&m, m.kind == M_API ? STATS_API_VIEW : STATS_PORTAL_VIEW, &pr, "", 200, "");
    minted_release(&mi, &lr->l);
    portal_list_put(lr);
out:
    if (m.token.ptr)
        memset(m.token.ptr, 0, m.token.len);
    buf_release(&m.token);
}
