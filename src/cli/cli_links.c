/* cli_links.c -- `tollgate links [GRANT...]`: per grant, the member link of the current
 * tier token and the instant it stops working, and inside the overlap the next one
 * with the instants it starts working and becomes required. Text and Markdown are
 * ready to paste into a members-only post; JSON is for scripts:
 *   [{"grant", "current": {"token","url","valid_until"},
 *     "next": {"token","url","valid_from","required_from"} | null}]
 * Nothing is written: the links are derived (gate.h). */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "crypto/crypto.h"
#include "gate/gate.h"

static const char USAGE[] =
    "usage: tollgate links [GRANT...] [--format text|markdown|json] [--config FILE]\n"
    "\n"
    "Prints, for each grant (default: all, in config order), the portal link of the\n"
    "current tier token and when it stops working; during the overlap before a\n"
    "rotation, also the next link, when it starts working and when it becomes required.\n"
    "Paste the text (or Markdown) into the members-only post of each tier.\n"
    "  --format text      plain text (default)\n"
    "  --format markdown  Markdown links\n"
    "  --format json      [{\"grant\", \"current\": {\"token\", \"url\", \"valid_until\"},\n"
    "                       \"next\": {\"token\", \"url\", \"valid_from\", \"required_from\"} | "
    "null}]\n"
    "Instants are ISO 8601 UTC. TOLLGATE_NOW=<instant> shows the links of that moment.\n";

enum fmt { FMT_TEXT, FMT_MD, FMT_JSON };

/* "Mon 16 Feb 2026 00:00 UTC" */
static void human_time(int64_t t, char out[TG_TIME_BUF])
{
    static const char *const WD[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
    static const char *const MO[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
    int64_t sod = t - days * 86400;
    int y, m, d;
    civil_from_days(days, &y, &m, &d);
    snprintf(out, TG_TIME_BUF, "%s %d %s %04d %02d:%02d UTC", WD[weekday_from_days(days)], d,
             MO[m - 1], y, (int)(sod / 3600), (int)(sod / 60 % 60));
}

static int print_grant(struct gate *g, const struct gate_grant *gr, int64_t now, enum fmt f,
                       json_t *arr)
{
    struct gate_links l;
    struct buf cur = BUF_INIT, next = BUF_INIT;
    char until[TG_TIME_BUF], from[TG_TIME_BUF], req[TG_TIME_BUF];
    char h_until[TG_TIME_BUF], h_from[TG_TIME_BUF];
    int rc = gate_links(g, gr, now, &l);
    if (rc < 0)
        return rc;
    if ((rc = gate_portal_url(g, gr, l.current, &cur)) < 0 ||
        (l.has_next && (rc = gate_portal_url(g, gr, l.next, &next)) < 0))
        goto out;
    time_fmt_iso8601(l.current_valid_until, until);
    time_fmt_iso8601(l.next_valid_from, from);
    time_fmt_iso8601(l.next_required_from, req);
    human_time(l.current_valid_until, h_until);
    human_time(l.next_valid_from, h_from);
    if (f == FMT_JSON) {
        json_t *nx = l.has_next
                         ? json_pack("{s:s, s:s, s:s, s:s}", "token", l.next, "url",
                                     buf_cstr(&next), "valid_from", from, "required_from", req)
                         : json_null();
        json_array_append_new(arr, json_pack("{s:s, s:{s:s, s:s, s:s}, s:o}", "grant", gr->name,
                                             "current", "token", l.current, "url", buf_cstr(&cur),
                                             "valid_until", until, "next", nx));
    } else if (f == FMT_MD) {
        printf("**%s**\n\n", gr->title);
        if (l.has_next) {
            printf("- [Download link](%s) — works until %s\n", buf_cstr(&cur), h_until);
            printf("- [New download link](%s) — works now; required from %s\n\n", buf_cstr(&next),
                   h_until);
        } else {
            printf("- [Download link](%s) — works until %s\n\n", buf_cstr(&cur), h_until);
        }
    } else {
        printf("%s\n", gr->title);
        if (l.has_next) {
            printf("Download link, works until %s:\n%s\n", h_until, buf_cstr(&cur));
            printf("New download link, works from %s and is required from %s:\n%s\n\n", h_from,
                   h_until, buf_cstr(&next));
        } else {
            printf("Download link, works until %s:\n%s\n\n", h_until, buf_cstr(&cur));
        }
    }
out:
    crypto_wipe(&l, sizeof l);
    buf_release(&cur);
    buf_release(&next);
    return rc;
}

int cmd_links(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, 0, 'c'},
        {"format", required_argument, 0, 'f'},
        {"json", no_argument, 0, 'j'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *config = NULL;
    enum fmt f = FMT_TEXT;
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case 'c':
            config = optarg;
            break;
        case 'f':
            if (strcmp(optarg, "text") == 0)
                f = FMT_TEXT;
            else if (strcmp(optarg, "markdown") == 0 || strcmp(optarg, "md") == 0)
                f = FMT_MD;
            else if (strcmp(optarg, "json") == 0)
                f = FMT_JSON;
            else
                return cli_usage_error("links", "--format must be text, markdown or json");
            break;
        case 'j':
            f = FMT_JSON;
            break;
        case 'h':
            fputs(USAGE, stdout);
            return 0;
        default:
            return cli_usage_error("links", "unknown option");
        }
    }
    struct cli_app app;
    if (cli_app_open(config, CLI_OPEN_GATE, &app) < 0)
        return 1;
    int status = 1, rc;
    int64_t now = tg_now();
    json_t *arr = f == FMT_JSON ? json_array() : NULL;
    for (int i = optind; i < argc; i++)
        if (!gate_grant_find(app.gate, str_c(argv[i]))) {
            fprintf(stderr, "tollgate links: no grant '%s' in %s\n", argv[i], app.cfg.path);
            goto out;
        }
    if (optind == argc && gate_grant_count(app.gate) == 0) {
        fprintf(stderr, "tollgate links: no [grant NAME] section in %s (see docs/access.md)\n",
                app.cfg.path);
        goto out;
    }
    size_t n = optind < argc ? (size_t)(argc - optind) : gate_grant_count(app.gate);
    for (size_t i = 0; i < n; i++) {
        const struct gate_grant *gr = optind < argc
                                          ? gate_grant_find(app.gate, str_c(argv[optind + i]))
                                          : gate_grant_at(app.gate, i);
        if ((rc = print_grant(app.gate, gr, now, f, arr)) < 0) {
            fprintf(stderr, "tollgate links: %s\n", err_message(rc));
            goto out;
        }
    }
    if (arr) {
        cli_print_json(arr);
        arr = NULL;
    }
    status = 0;
out:
    json_decref(arr);
    cli_app_close(&app);
    return status;
}
