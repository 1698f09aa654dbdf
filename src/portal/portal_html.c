/* portal_html.c -- the page frame every portal and admin page shares, the stylesheet
 * (compiled in, served as /static/portal.css under a content-hash query so it can be
 * cached for a day and still change with the binary), and the number and time
 * formats people read. Pages carry no script and no inline style: the CSP allows
 * style-src 'self' only. */
#include <inttypes.h>
#include <stdio.h>

#include "crypto/crypto.h"
#include "portal/portal_int.h"

const char PORTAL_CSS[] =
    ":root{--bg:#f6f7f9;--card:#fff;--ink:#1b1f24;--muted:#5b6470;--line:#e3e6ea;"
    "--accent:#0b6bcb;--accent-ink:#fff;--accent-hover:#0957a6;--warn:#9a3412;--warn-bg:#fff4ed;"
    "--ok-bg:#ecfdf3;--ok:#166534;--radius:10px}\n"
    "*{box-sizing:border-box}\n"
    "html{-webkit-text-size-adjust:100%}\n"
    "body{margin:0;background:var(--bg);color:var(--ink);font:16px/1.5 system-ui,-apple-system,"
    "'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif}\n"
    "a{color:var(--accent)}\n"
    ".top{background:#111827;color:#e5e7eb;padding:.7rem 0}\n"
    ".top .wrap{display:flex;align-items:center;justify-content:space-between;gap:1rem}\n"
    ".brand{font-weight:700;letter-spacing:.02em;color:#fff;text-decoration:none}\n"
    ".brand span{color:#60a5fa}\n"
    ".top nav{display:flex;gap:1rem;align-items:center;flex-wrap:wrap}\n"
    ".top nav a{color:#e5e7eb;text-decoration:none;font-size:.95rem}\n"
    ".top nav a:hover{color:#fff;text-decoration:underline}\n"
    ".top form{margin:0}\n"
    ".wrap{max-width:1080px;margin:0 auto;padding:0 1.25rem}\n"
    "main{padding:2rem 0 3rem}\n"
    "h1{font-size:1.75rem;line-height:1.25;margin:0 0 .35rem}\n"
    "h2{font-size:1.2rem;margin:0 0 .2rem}\n"
    ".lede{color:var(--muted);margin:0 0 1rem}\n"
    ".lede strong{color:var(--ink)}\n"
    ".note{background:var(--card);border:1px solid var(--line);border-left:4px solid var(--accent);"
    "border-radius:var(--radius);padding:.75rem 1rem;margin:0 0 1.75rem}\n"
    ".note.warn{border-left-color:var(--warn);background:var(--warn-bg)}\n"
    ".note.ok{border-left-color:var(--ok);background:var(--ok-bg)}\n"
    "section{background:var(--card);border:1px solid var(--line);border-radius:var(--radius);"
    "padding:1.25rem 1.25rem .5rem;margin:0 0 1.5rem;box-shadow:0 1px 2px rgba(16,24,40,.04)}\n"
    "section>.sub{color:var(--muted);margin:0 0 .75rem;font-size:.95rem}\n"
    ".empty{color:var(--muted);padding:.25rem 0 1rem;margin:0}\n"
    "table{width:100%;border-collapse:collapse;font-size:.95rem}\n"
    "th{text-align:left;font-weight:600;color:var(--muted);font-size:.8rem;text-transform:"
    "uppercase;"
    "letter-spacing:.04em;padding:.5rem .6rem;border-bottom:1px solid var(--line)}\n"
    "td{padding:.7rem .6rem;border-bottom:1px solid var(--line);vertical-align:middle}\n"
    "tr:last-child td,tr:last-child th{border-bottom:0}\n"
    "tbody th{vertical-align:middle;white-space:nowrap}\n"
    "td.num,th.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}\n"
    ".fname{display:block;color:var(--muted);font-size:.85rem;word-break:break-all}\n"
    ".date{font-weight:600;white-space:nowrap}\n"
    "code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,'DejaVu Sans "
    "Mono',monospace}\n"
    "code.sha{font-size:.78rem;color:#374151;word-break:break-all;display:block;max-width:34ch;"
    "line-height:1.35}\n"
    ".btn{display:inline-block;background:var(--accent);color:var(--accent-ink);text-decoration:"
    "none;"
    "border:0;border-radius:8px;padding:.5rem .95rem;font:inherit;font-weight:600;cursor:pointer;"
    "white-space:nowrap}\n"
    ".btn:hover,.btn:focus{background:var(--accent-hover)}\n"
    ".btn.secondary{background:#e5e7eb;color:var(--ink)}\n"
    ".btn.danger{background:#b42318}\n"
    ".btn.small{padding:.3rem .7rem;font-size:.85rem}\n"
    "td.act{text-align:right}\n"
    "table.files{table-layout:fixed}\n"
    "table.files th:nth-child(1){width:30%}table.files th:nth-child(2){width:12%}"
    "table.files th:nth-child(3){width:12%}table.files th:nth-child(4){width:32%}"
    "table.files th:nth-child(5){width:14%}\n"
    "footer{color:var(--muted);font-size:.85rem;padding:0 0 2rem}\n"
    ".notice{max-width:36rem;margin:3rem auto;background:var(--card);border:1px solid var(--line);"
    "border-radius:var(--radius);padding:2rem}\n"
    ".notice h1{font-size:1.5rem}\n"
    ".notice .big{font-size:1.05rem}\n"
    "form.stack{display:grid;gap:.8rem;max-width:28rem}\n"
    "form.inline{display:inline}\n"
    "label{display:grid;gap:.25rem;font-weight:600;font-size:.9rem}\n"
    "input,select{font:inherit;padding:.5rem .6rem;border:1px solid #c9ced6;border-radius:8px;"
    "background:#fff;width:100%}\n"
    ".grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(12rem,1fr));gap:.8rem;"
    "align-items:end;margin-bottom:1rem}\n"
    ".link{font-size:.8rem;word-break:break-all}\n"
    ".pill{display:inline-block;border-radius:999px;padding:.05rem .55rem;font-size:.8rem;"
    "font-weight:600;background:#e5e7eb;color:#374151}\n"
    ".pill.active{background:var(--ok-bg);color:var(--ok)}\n"
    ".pill.revoked,.pill.expired,.pill.exhausted{background:var(--warn-bg);color:var(--warn)}\n"
    ".charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,26rem),1fr));"
    "gap:1rem;margin:1rem 0}\n"
    ".chart{margin:0;background:var(--card);border:1px solid var(--line);"
    "border-radius:var(--radius);padding:.75rem 1rem}\n"
    ".chart figcaption{font-weight:600;margin-bottom:.25rem}\n"
    ".chart svg{display:block;max-width:100%;height:auto}\n"
    ".legend{list-style:none;display:flex;flex-wrap:wrap;gap:.25rem 1rem;margin:.25rem 0 0;"
    "padding:0;font-size:.85rem;color:var(--muted)}\n"
    ".pulse dl{display:grid;grid-template-columns:repeat(auto-fit,minmax(8rem,1fr));gap:.5rem;"
    "margin:0}\n.pulse dt{color:var(--muted);font-size:.85rem}.pulse dd{margin:0}\n"
    "@media (max-width:720px){\n"
    " h1{font-size:1.4rem}\n"
    " main{padding:1.25rem 0 2rem}\n"
    " section{padding:1rem .9rem .25rem}\n"
    " table.files thead{display:none}\n"
    " table.files,table.files tbody,table.files tr,table.files td{display:block;width:100%}\n"
    " table.files tr{border-bottom:1px solid var(--line);padding:.6rem 0}\n"
    " table.files tr:last-child{border-bottom:0}\n"
    " table.files td{border:0;padding:.2rem 0;text-align:left}\n"
    " table.files td.num{text-align:left}\n"
    " table.files td[data-label]::before{content:attr(data-label);display:inline-block;"
    "min-width:5.5rem;color:var(--muted);font-size:.8rem;text-transform:uppercase;"
    "letter-spacing:.04em}\n"
    " table.files td[data-label] .fname{padding-left:5.5rem}\n"
    " code.sha{display:inline;max-width:none}\n"
    " td.act{width:auto;padding-top:.5rem}\n"
    " .btn{display:block;text-align:center;padding:.65rem 1rem}\n"
    " .btn.small{display:inline-block}\n"
    " .wide{overflow-x:auto}\n"
    "}\n";
const size_t PORTAL_CSS_LEN = sizeof PORTAL_CSS - 1;

/* The stylesheet's URL: an 8-hex content hash, so a cached copy never outlives a change. */
static char css_href_buf[64];
static pthread_once_t css_once = PTHREAD_ONCE_INIT;
static void css_href_init(void)
{
    char hex[65];
    crypto_sha256_hex(PORTAL_CSS, PORTAL_CSS_LEN, hex);
    snprintf(css_href_buf, sizeof css_href_buf, "/static/portal.css?v=%.8s", hex);
}

static const char *portal_css_href(void)
{
    pthread_once(&css_once, css_href_init);
    return css_href_buf;
}

void portal_html_begin(struct buf *b, const char *title, bool admin)
{
    buf_adds(b, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                "<meta name=\"robots\" content=\"noindex, nofollow\">"
                "<meta name=\"referrer\" content=\"no-referrer\"><title>");
    portal_html_escape(b, str_c(title));
    buf_printf(b,
               "</title><link rel=\"icon\" href=\"data:,\">"
               "<link rel=\"stylesheet\" href=\"%s\"></head>\n<body>",
               portal_css_href());
    if (!admin)
        buf_adds(b, "<header class=\"top\"><div class=\"wrap\"><span class=\"brand\">"
                    "toll<span>gate</span></span></div></header>\n<div class=\"wrap\">");
}

void portal_html_end(struct buf *b)
{
    buf_adds(b, "</div></body></html>\n");
}

/* Length of the valid UTF-8 sequence at p (n bytes left), or 0. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    size_t len;
    uint32_t cp, min;
    if (p[0] < 0x80)
        return 1;
    if ((p[0] & 0xe0) == 0xc0)
        len = 2, cp = p[0] & 0x1f, min = 0x80;
    else if ((p[0] & 0xf0) == 0xe0)
        len = 3, cp = p[0] & 0x0f, min = 0x800;
    else if ((p[0] & 0xf8) == 0xf0)
        len = 4, cp = p[0] & 0x07, min = 0x10000;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

int portal_json_str(struct buf *b, struct str s)
{
    const unsigned char *p = (const unsigned char *)s.ptr;
    size_t run = 0, i = 0;
    int rc = buf_addc(b, '"');
    while (rc == 0 && i < s.len) {
        /* the common case, printable ASCII other than '"' and '\\', in a tight loop */
        while (i < s.len && p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\')
            i++;
        if (i == s.len)
            break;
        unsigned char ch = p[i];
        const char *rep = NULL;
        char esc[8];
        size_t step = 1;
        if (ch == '"')
            rep = "\\\"";
        else if (ch == '\\')
            rep = "\\\\";
        else if (ch == '\n')
            rep = "\\n";
        else if (ch == '\r')
            rep = "\\r";
        else if (ch == '\t')
            rep = "\\t";
        else if (ch < 0x20 || ch == 0x7f) {
            snprintf(esc, sizeof esc, "\\u%04x", ch);
            rep = esc;
        } else if (ch >= 0x80 && !(step = utf8_len(p + i, s.len - i))) {
            rep = "\\ufffd";
            step = 1;
        }
        if (!rep) {
            i += step;
            continue;
        }
        rc = buf_add(b, s.ptr + run, i - run);
        if (rc == 0)
            rc = buf_adds(b, rep);
        i += step;
        run = i;
    }
    if (rc == 0)
        rc = buf_add(b, s.ptr + run, s.len - run);
    if (rc == 0)
        rc = buf_addc(b, '"');
    return rc;
}

void portal_fmt_size(uint64_t n, char out[32])
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
    if (n < 1024) {
        snprintf(out, 32, "%" PRIu64 " B", n);
        return;
    }
    double v = (double)n;
    size_t u = 0;
    v /= 1024;
    while (v >= 1024 && u + 1 < sizeof units / sizeof units[0]) {
        v /= 1024;
        u++;
    }
    snprintf(out, 32, v < 10 ? "%.2f %s" : v < 100 ? "%.1f %s" : "%.0f %s", v, units[u]);
}

/* 1234567 -> "1,234,567"; negative (unknown) -> "—" */
void portal_fmt_count(int64_t n, char out[32])
{
    if (n < 0) {
        snprintf(out, 32, "\xe2\x80\x94");
        return;
    }
    char digits[24];
    int len = snprintf(digits, sizeof digits, "%" PRId64, n);
    size_t o = 0;
    for (int i = 0; i < len; i++) {
        if (i && (len - i) % 3 == 0)
            out[o++] = ',';
        out[o++] = digits[i];
    }
    out[o] = '\0';
}

void portal_fmt_when(int64_t t, char out[TG_TIME_BUF])
{
    char iso[TG_TIME_BUF];
    time_fmt_iso8601(t, iso); /* 2026-02-13T06:00:00Z */
    snprintf(out, TG_TIME_BUF, "%.10s %.5s UTC", iso, iso + 11);
}

/* ---- /static/ ---- */

void portal_static_done(struct portal_req *c)
{
    struct str m = http_req_method(c->req), path = http_req_path(c->req);
    if (!str_eq_c(m, "GET") && !str_eq_c(m, "HEAD")) {
        http_respond_text(c->req, 405, "text/plain", "method not allowed\n");
        return;
    }
    if (!str_eq_c(path, "/static/portal.css")) {
        http_respond_text(c->req, 404, "text/plain", "not found\n");
        return;
    }
    struct http_resp *r = http_resp_mem(200, (void *)PORTAL_CSS, PORTAL_CSS_LEN, true);
    if (!r) {
        http_respond_text(c->req, 500, "text/plain", "out of memory\n");
        return;
    }
    http_resp_header(r, "Content-Type", "text/css; charset=utf-8");
    http_resp_header(r, "Cache-Control", "public, max-age=86400");
    http_resp_header(r, "X-Content-Type-Options", "nosniff");
    http_respond(c->req, r);
}
