/* portal_stats.c -- analytics for the operator: GET /api/admin/stats and
 * /api/admin/pulse (JSON, stats.h), the /admin/stats page (charts drawn by the server
 * as inline SVG: no JavaScript, nothing from elsewhere), and GET /metrics in the
 * Prometheus text format. Authentication is the caller's (the admin routes), except
 * /metrics, which checks the admin key itself unless [stats] metrics_public = on. */
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "meta/meta.h"
#include "portal/portal_int.h"
#include "stats/stats.h"

#define DASH_DAYS_DEFAULT 30
#define DASH_DAYS_MAX 366

static const char *const PALETTE[] = {"#0b6bcb", "#e07b00", "#2e9e5b", "#9b59b6",
                                      "#c0392b", "#16a3b8", "#7f8c8d", "#b58900"};

static bool param(struct str query, const char *name, struct buf *out)
{
    return query_get_decoded(query, name, out) == 0;
}

/* ---- the JSON API ---- */

bool portal_stats_api(struct portal_req *c, struct str path, int64_t now)
{
    struct stats *st = c->p->cfg.stats;
    bool is_stats = str_eq_c(path, "/api/admin/stats"),
         is_pulse = str_eq_c(path, "/api/admin/pulse");
    if (!is_stats && !is_pulse)
        return false;
    if (!st) {
        portal_send_json_error(c, 404, "not_found", "Analytics are not enabled on this server.");
        return true;
    }
    if (!str_eq_c(http_req_method(c->req), "GET")) {
        portal_send_json_error(c, 405, "method_not_allowed", "Use GET.");
        return true;
    }
    json_t *j = NULL;
    int rc;
    if (is_pulse) {
        rc = stats_pulse(st, now, &j);
        if (rc < 0)
            portal_send_json_error(c, 500, "error", err_message(rc));
        else
            portal_send_json(c, 200, j);
        return true;
    }
    struct str q = http_req_query(c->req);
    struct buf w = BUF_INIT, from = BUF_INIT, to = BUF_INIT, grant = BUF_INIT;
    enum stats_window win = STATS_WDAY;
    char err[256] = "", today[16], start[16];
    time_fmt_date(now, today);
    time_fmt_date(now - (DASH_DAYS_DEFAULT - 1) * 86400, start);
    if (param(q, "window", &w) && stats_window_parse(buf_str(&w), &win) < 0) {
        portal_send_json_error(c, 400, "bad_window",
                               "window must be one of 30m, hour, day, month, year.");
        goto out;
    }
    if (!param(q, "from", &from))
        buf_adds(&from, start);
    if (!param(q, "to", &to))
        buf_adds(&to, today);
    bool has_grant = param(q, "grant", &grant) && grant.len;
    if (has_grant && !gate_grant_find(c->p->cfg.gate, buf_str(&grant))) {
        portal_send_json_error(c, 404, "no_such_grant", "There is no such grant.");
        goto out;
    }
    rc = stats_query(st, win, buf_cstr(&from), buf_cstr(&to), has_grant ? buf_cstr(&grant) : NULL,
                     now, &j, err);
    if (rc == -ERR_INVALID)
        portal_send_json_error(c, 400, "bad_range", err);
    else if (rc < 0)
        portal_send_json_error(c, 500, "error", err_message(rc));
    else
        portal_send_json(c, 200, j);
out:
    buf_release(&w);
    buf_release(&from);
    buf_release(&to);
    buf_release(&grant);
    return true;
}

/* ---- charts ---- */

struct chart {
    const char *title, *unit_note;
    size_t ndays, nseries;
    const char *const *labels; /* ndays dates YYYY-MM-DD */
    const char *const *series; /* nseries grant names */
    const double *v;           /* v[d * nseries + s] */
    bool bytes;
};

static void fmt_value(double v, bool bytes, char out[32])
{
    if (bytes)
        portal_fmt_size((uint64_t)v, out);
    else
        portal_fmt_count((int64_t)v, out);
}

/* Stacked bars, one per day; a legend; the top of the scale labelled. */
static void chart_svg(struct buf *b, const struct chart *ch)
{
    const double W = 640, H = 220, L = 56, R = 8, T = 12, B = 28;
    double max = 0;
    for (size_t d = 0; d < ch->ndays; d++) {
        double sum = 0;
        for (size_t s = 0; s < ch->nseries; s++)
            sum += ch->v[d * ch->nseries + s];
        if (sum > max)
            max = sum;
    }
    /* counts: a multiple of 4 (>= 4), so the five scale lines are whole numbers */
    double top = ch->bytes ? (max > 0 ? max : 1) : (max <= 4 ? 4 : ceil(max / 4) * 4);
    char vs[32];
    buf_adds(b, "<figure class=\"chart\"><figcaption>");
    portal_html_escape(b, str_c(ch->title));
    if (ch->unit_note) {
        buf_adds(b, " <span class=\"sub\">");
        portal_html_escape(b, str_c(ch->unit_note));
        buf_adds(b, "</span>");
    }
    buf_printf(b,
               "</figcaption><svg viewBox=\"0 0 %.0f %.0f\" width=\"100%%\" role=\"img\" "
               "aria-label=\"",
               W, H);
    portal_html_escape(b, str_c(ch->title));
    buf_adds(b, "\" xmlns=\"http://www.w3.org/2000/svg\">");
    /* grid and scale */
    for (int g = 0; g <= 4; g++) {
        double y = T + (H - T - B) * (1 - g / 4.0);
        fmt_value(top * g / 4.0, ch->bytes, vs);
        buf_printf(b,
                   "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#e3e6ea\"/>"
                   "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" text-anchor=\"end\" "
                   "fill=\"#5b6470\">%s</text>",
                   L, W - R, y, y, L - 4, y + 3, vs);
    }
    double slot = ch->ndays ? (W - L - R) / (double)ch->ndays : 0, bw = slot * 0.78;
    for (size_t d = 0; d < ch->ndays; d++) {
        double x = L + slot * (double)d + (slot - bw) / 2, y = H - B;
        for (size_t s = 0; s < ch->nseries; s++) {
            double v = ch->v[d * ch->nseries + s];
            if (v <= 0)
                continue;
            double h = (H - T - B) * v / top;
            y -= h;
            fmt_value(v, ch->bytes, vs);
            buf_printf(b,
                       "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" "
                       "fill=\"%s\"><title>",
                       x, y, bw, h, PALETTE[s % 8]);
            portal_html_escape(b, str_c(ch->series[s]));
            buf_printf(b, " %s: %s</title></rect>", ch->labels[d], vs);
        }
        /* a date label every ~7 bars, and the last */
        size_t every = ch->ndays > 10 ? (ch->ndays + 5) / 6 : 1;
        if (d % every == 0 || d + 1 == ch->ndays)
            buf_printf(b,
                       "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" text-anchor=\"middle\" "
                       "fill=\"#5b6470\">%.5s</text>",
                       x + bw / 2, H - B + 14, ch->labels[d] + 5);
    }
    buf_adds(b, "</svg><ul class=\"legend\">");
    for (size_t s = 0; s < ch->nseries; s++) {
        buf_printf(b,
                   "<li><svg width=\"10\" height=\"10\" aria-hidden=\"true\"><rect "
                   "width=\"10\" height=\"10\" fill=\"%s\"/></svg> ",
                   PALETTE[s % 8]);
        portal_html_escape(b, str_c(ch->series[s]));
        buf_adds(b, "</li>");
    }
    buf_adds(b, "</ul></figure>");
}

static void top_table(struct buf *b, json_t *arr, const char *title, const char *name_field,
                      const char *name_head, const char *count_field, const char *count_head,
                      bool with_bytes)
{
    buf_adds(b, "<section class=\"card\"><h2>");
    portal_html_escape(b, str_c(title));
    buf_adds(b, "</h2>");
    if (!json_array_size(arr)) {
        buf_adds(b, "<p class=\"empty\">Nothing yet.</p></section>");
        return;
    }
    buf_printf(b,
               "<table class=\"files\"><thead><tr><th>%s</th><th class=\"num\">%s</th>%s</tr>"
               "</thead><tbody>",
               name_head, count_head, with_bytes ? "<th class=\"num\">Bytes</th>" : "");
    size_t i;
    json_t *v;
    char n[32];
    json_array_foreach(arr, i, v)
    {
        buf_adds(b, "<tr><td class=\"mono\">");
        portal_html_escape(b, str_c(json_string_value(json_object_get(v, name_field))));
        portal_fmt_count(json_integer_value(json_object_get(v, count_field)), n);
        buf_printf(b, "</td><td class=\"num\">%s</td>", n);
        if (with_bytes) {
            portal_fmt_size((uint64_t)json_integer_value(json_object_get(v, "bytes")), n);
            buf_printf(b, "<td class=\"num\">%s</td>", n);
        }
        buf_adds(b, "</tr>");
    }
    buf_adds(b, "</tbody></table></section>");
}

/* The page's content (between the admin header and footer). */
int portal_stats_html(struct portal *p, struct str query, int64_t now, struct buf *b)
{
    struct stats *st = p->cfg.stats;
    if (!st) {
        buf_adds(b, "<h1>Statistics</h1><p class=\"empty\">Analytics are off ([stats] enabled = "
                    "off).</p>");
        return 0;
    }
    struct buf dv = BUF_INIT;
    uint64_t days = DASH_DAYS_DEFAULT;
    if (param(query, "days", &dv) &&
        (str_to_u64(buf_str(&dv), &days) < 0 || days < 1 || days > DASH_DAYS_MAX))
        days = DASH_DAYS_DEFAULT;
    buf_release(&dv);
    char from[16], to[16], err[256];
    time_fmt_date(now - (int64_t)(days - 1) * 86400, from);
    time_fmt_date(now, to);
    json_t *j = NULL, *pulse = NULL;
    int rc = stats_query(st, STATS_WDAY, from, to, NULL, now, &j, err);
    if (rc == 0)
        rc = stats_pulse(st, now, &pulse);
    if (rc < 0) {
        json_decref(j);
        return rc;
    }
    /* the pulse */
    char a[32], bb[32], cc[32], dd[32];
    portal_fmt_count(json_integer_value(json_object_get(pulse, "requests")), a);
    portal_fmt_count(json_integer_value(json_object_get(pulse, "downloads")), bb);
    portal_fmt_size((uint64_t)json_integer_value(json_object_get(pulse, "bytes")), cc);
    portal_fmt_count(json_integer_value(json_object_get(pulse, "visitors")), dd);
    buf_printf(b,
               "<h1>Statistics</h1>"
               "<section class=\"card pulse\"><h2>Last %" PRId64 " minutes</h2>"
               "<dl class=\"grid\"><div><dt>Requests</dt><dd class=\"big\">%s</dd></div>"
               "<div><dt>Downloads</dt><dd class=\"big\">%s</dd></div>"
               "<div><dt>Bytes</dt><dd class=\"big\">%s</dd></div>"
               "<div><dt>Visitors</dt><dd class=\"big\">%s</dd></div></dl></section>",
               (int64_t)json_integer_value(json_object_get(pulse, "window_minutes")), a, bb, cc,
               dd);
    json_decref(pulse);

    /* series -> matrices */
    json_t *series = json_object_get(j, "series");
    size_t n = json_array_size(series), ndays = (size_t)days, ng = 0;
    const char **grants = calloc(n + 1, sizeof *grants);
    const char **labels = calloc(ndays + 1, sizeof *labels);
    char(*lab)[16] = calloc(ndays + 1, 16);
    size_t i;
    json_t *v;
    json_array_foreach(series, i, v)
    {
        const char *g = json_string_value(json_object_get(v, "grant"));
        bool seen = false;
        for (size_t k = 0; k < ng && !seen; k++)
            seen = strcmp(grants[k], g) == 0;
        if (!seen && g && *g)
            grants[ng++] = g;
    }
    double *m[4];
    for (int k = 0; k < 4; k++)
        m[k] = calloc(ndays * (ng ? ng : 1) + 1, sizeof *m[k]);
    for (size_t d = 0; d < ndays; d++) {
        time_fmt_date(now - (int64_t)(days - 1 - d) * 86400, lab[d]);
        labels[d] = lab[d];
    }
    static const char *const F[4] = {"downloads", "visitors", "bytes", "rejections"};
    json_array_foreach(series, i, v)
    {
        const char *g = json_string_value(json_object_get(v, "grant"));
        const char *s = json_string_value(json_object_get(v, "start"));
        size_t gi = ng, di = ndays;
        for (size_t k = 0; k < ng; k++)
            if (strcmp(grants[k], g) == 0)
                gi = k;
        for (size_t d = 0; d < ndays && s; d++)
            if (strncmp(lab[d], s, 10) == 0)
                di = d;
        if (gi == ng || di == ndays)
            continue;
        for (int k = 0; k < 4; k++)
            m[k][di * ng + gi] = (double)json_integer_value(json_object_get(v, F[k]));
    }
    static const char *const TITLES[4] = {"Downloads per day", "Unique visitors per day",
                                          "Bytes served per day", "Rejected tokens per day"};
    buf_adds(b, "<div class=\"charts\">");
    for (int k = 0; k < 4; k++) {
        struct chart ch = {
            TITLES[k], k == 1 ? "(exact per day and grant)" : NULL, ndays, ng, labels, grants, m[k],
            k == 2};
        chart_svg(b, &ch);
    }
    buf_adds(b, "</div><div class=\"charts\">");
    top_table(b, json_object_get(j, "top_keys"), "Top files", "key", "File", "downloads",
              "Downloads", true);
    top_table(b, json_object_get(j, "top_tokens"), "Top tokens", "token", "Token", "events",
              "Requests", false);
    top_table(b, json_object_get(j, "top_referrers"), "Top referrers", "domain", "Domain", "events",
              "Requests", false);
    buf_printf(b,
               "</div><p class=\"small\">%s to %s (UTC days). Visitors are counted without "
               "cookies from a salted hash that changes every day; "
               "<a href=\"/api/admin/stats?from=%s&amp;to=%s\">JSON</a>.</p>",
               from, to, from, to);
    for (int k = 0; k < 4; k++)
        free(m[k]);
    free(grants);
    free(labels);
    free(lab);
    json_decref(j);
    return 0;
}

/* ---- /metrics ---- */

struct mctx {
    struct buf *b;
};

static int on_count(void *ctx, const char *kind, int sc, uint64_t n, uint64_t bytes)
{
    struct mctx *m = ctx;
    (void)bytes;
    static const char *const CODE[] = {"none", "1xx", "2xx", "3xx", "4xx", "5xx"};
    return buf_printf(m->b, "tollgate_http_requests_total{route=\"%s\",code=\"%s\"} %" PRIu64 "\n",
                      kind, CODE[sc], n);
}

static int on_bytes(void *ctx, const char *kind, int sc, uint64_t n, uint64_t bytes)
{
    struct mctx *m = ctx;
    (void)sc, (void)n;
    if (!bytes)
        return 0;
    return buf_printf(m->b, "tollgate_http_response_bytes_total{route=\"%s\"} %" PRIu64 "\n", kind,
                      bytes);
}

int portal_metrics_text(struct portal *p, int64_t now, struct buf *b)
{
    struct stats *st = p->cfg.stats;
    struct mctx m = {b};
    int rc = 0;
    (void)now;
    if (p->cfg.http_counts) {
        buf_adds(b, "# HELP tollgate_http_requests_total HTTP requests finished, by route kind "
                    "and status class.\n# TYPE tollgate_http_requests_total counter\n");
        rc = p->cfg.http_counts(p->cfg.http_counts_ctx, on_count, &m);
        buf_adds(b, "# HELP tollgate_http_response_bytes_total Response body bytes sent, by "
                    "route kind.\n# TYPE tollgate_http_response_bytes_total counter\n");
        if (rc == 0)
            rc = p->cfg.http_counts(p->cfg.http_counts_ctx, on_bytes, &m);
    }
    static const struct {
        enum stats_kind k;
        const char *name, *help;
    } K[] = {
        {STATS_REJECTED, "tollgate_token_rejections_total", "Refused tokens and links."},
        {STATS_LINK_MINTED, "tollgate_links_minted_total", "Download links minted."},
        {STATS_DOWNLOAD, "tollgate_downloads_total", "Downloads through gate links."},
        {STATS_PORTAL_VIEW, "tollgate_portal_views_total", "Member page views."},
        {STATS_API_VIEW, "tollgate_api_views_total", "Member JSON API views."},
    };
    for (size_t i = 0; i < sizeof K / sizeof K[0] && rc == 0; i++)
        rc = buf_printf(b, "# HELP %s %s\n# TYPE %s counter\n%s %" PRIu64 "\n", K[i].name,
                        K[i].help, K[i].name, K[i].name, stats_recorded(st, K[i].k));
    if (rc == 0)
        rc = buf_printf(b,
                        "# HELP tollgate_stats_events_dropped_total Analytics events dropped "
                        "because the buffer was full.\n# TYPE tollgate_stats_events_dropped_total "
                        "counter\ntollgate_stats_events_dropped_total %" PRIu64 "\n",
                        stats_dropped(st));
    if (rc == 0 && p->cfg.metrics_extra)
        rc = p->cfg.metrics_extra(p->cfg.metrics_extra_ctx, now, b);
    return rc;
}

bool portal_bearer_ok(struct portal *p, struct http_req *req)
{
    struct str v, scheme, key;
    if (!http_req_header(req, "authorization", &v))
        return false;
    if (!str_split(str_trim(v), ' ', &scheme, &key) || !str_case_eq_c(scheme, "Bearer"))
        return false;
    key = str_trim(key);
    return key.len && meta_admin_key_check(p->cfg.meta, key);
}

void portal_metrics_done(struct portal_req *c)
{
    struct portal *p = c->p;
    if (!str_eq_c(http_req_method(c->req), "GET") && !str_eq_c(http_req_method(c->req), "HEAD")) {
        const char *const h[] = {"Allow", "GET, HEAD", NULL};
        portal_send(c, 405, "text/plain", NULL, h);
        return;
    }
    if (!p->cfg.metrics_public && !portal_bearer_ok(p, c->req)) {
        const char *const h[] = {"WWW-Authenticate", "Bearer realm=\"tollgate metrics\"", NULL};
        struct buf b = BUF_INIT;
        buf_adds(&b, "Send Authorization: Bearer <admin key>, or set [stats] metrics_public = "
                     "on.\n");
        portal_send(c, 401, "text/plain; charset=utf-8", &b, h);
        return;
    }
    struct buf b = BUF_INIT;
    if (portal_metrics_text(p, tg_now(), &b) < 0) {
        buf_release(&b);
        portal_send_json_error(c, 500, "error", "could not build the metrics");
        return;
    }
    portal_send(c, 200, "text/plain; version=0.0.4; charset=utf-8", &b, NULL);
}
