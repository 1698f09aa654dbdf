/* cli_token.c -- `tollgate token create|list|revoke|rotate`: named tokens (a label,
 * optional use/download limits and expiry; the secret is printed once, at creation,
 * and stored only as its SHA-256) and emergency rotation of a grant's tier tokens
 * (an epoch bump: every tier token and every link of the old epoch dies at once, also
 * on a running server). */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "crypto/crypto.h"
#include "gate/gate.h"

static const char USAGE[] =
    "usage: tollgate token create GRANT --label TEXT [--max-uses N] [--max-downloads N]\n"
    "                             [--expires 30d|INSTANT] [--json]\n"
    "       tollgate token list [--json]\n"
    "       tollgate token revoke ID [--json]\n"
    "       tollgate token rotate GRANT --now [--json]\n"
    "   (each also takes --config FILE)\n"
    "\n"
    "create  makes a named token for GRANT and prints it with its portal URL. The token\n"
    "        is shown this once (only its SHA-256 is stored).\n"
    "          --max-uses N       portal opens allowed (0 = unlimited, the default)\n"
    "          --max-downloads N  link downloads allowed (0 = unlimited, the default)\n"
    "          --expires D        a duration from now (30d, 12h) or an ISO 8601 UTC instant\n"
    "        JSON: {\"id\", \"label\", \"grant\", \"token\", \"url\"}\n"
    "list    prints every named token (never the secret): id, label, grant, uses,\n"
    "        downloads, status (active, exhausted, expired, revoked), last used.\n"
    "        JSON: [{\"id\", \"label\", \"grant\", \"uses\", \"downloads\", \"max_uses\",\n"
    "        \"max_downloads\", \"status\", \"created_at\", \"expires_at\", \"last_used_at\"}]\n"
    "        (instants ISO 8601 UTC, null when none)\n"
    "revoke  revokes token ID: its portal and every link minted for it stop working at once.\n"
    "rotate  emergency rotation of GRANT's tier token: bumps the grant's epoch, so the\n"
    "        current and next tier tokens and every link minted with them stop working at\n"
    "        once; prints the new current link (post it). --now is required: it confirms.\n"
    "        JSON: {\"grant\", \"epoch\", \"token\", \"url\", \"valid_until\"}\n";

struct opts {
    const char *config, *label, *expires;
    int64_t max_uses, max_downloads;
    bool json, now;
};

static int parse_count(const char *s, int64_t *out)
{
    uint64_t v;
    if (str_to_u64(str_c(s), &v) < 0 || v > INT64_MAX)
        return -ERR_INVALID;
    *out = (int64_t)v;
    return 0;
}

static json_t *instant(int64_t t)
{
    char b[TG_TIME_BUF];
    if (!t)
        return json_null();
    time_fmt_iso8601(t, b);
    return json_string(b);
}

static int create(struct cli_app *app, const char *grant, const struct opts *o)
{
    const struct gate_grant *gr = gate_grant_find(app->gate, str_c(grant));
    struct gate_named n;
    char tok[GATE_TOKEN_MAX];
    struct buf url = BUF_INIT;
    int64_t exp = 0, now = tg_now();
    int rc;
    if (!gr) {
        fprintf(stderr, "tollgate token create: no grant '%s' in %s\n", grant, app->cfg.path);
        return 1;
    }
    if (o->expires) {
        int64_t d;
        if (time_parse_iso8601(str_c(o->expires), &exp) == 0) {
            if (exp <= now) {
                fprintf(stderr, "tollgate token create: --expires %s is in the past\n", o->expires);
                return 2;
            }
        } else if (duration_parse(str_c(o->expires), &d) == 0 && d > 0) {
            exp = now + d;
        } else {
            return cli_usage_error("token", "--expires takes a duration (30d) or an ISO 8601 "
                                            "UTC instant");
        }
    }
    if ((rc = gate_named_create(app->gate, gr, o->label, o->max_uses, o->max_downloads, exp, &n,
                                tok)) < 0) {
        fprintf(stderr, "tollgate token create: %s\n", err_message(rc));
        return 1;
    }
    if ((rc = gate_portal_url(app->gate, gr, tok, &url)) < 0) {
        crypto_wipe(tok, sizeof tok);
        fprintf(stderr, "tollgate token create: %s\n", err_message(rc));
        return 1;
    }
    if (o->json) {
        cli_print_json(json_pack("{s:I, s:s, s:s, s:s, s:s}", "id", (json_int_t)n.id, "label",
                                 n.label, "grant", n.grant, "token", tok, "url", buf_cstr(&url)));
    } else {
        printf("named token %" PRId64 " (%s) for grant %s\n"
               "  token  %s\n"
               "  url    %s\n"
               "The token is shown this once: keep it or send the URL now.\n",
               n.id, n.label, n.grant, tok, buf_cstr(&url));
    }
    crypto_wipe(tok, sizeof tok);
    crypto_wipe(url.ptr, url.len);
    buf_release(&url);
    return 0;
}

static int list_visit(void *ctx, const struct gate_named *n)
{
    json_t *arr = ctx;
    if (arr) {
        json_t *o =
            json_pack("{s:I, s:s, s:s, s:I, s:I, s:I, s:I, s:s}", "id", (json_int_t)n->id, "label",
                      n->label, "grant", n->grant, "uses", (json_int_t)n->uses, "downloads",
                      (json_int_t)n->downloads, "max_uses", (json_int_t)n->max_uses,
                      "max_downloads", (json_int_t)n->max_downloads, "status", n->status);
        json_object_set_new(o, "created_at", instant(n->created));
        json_object_set_new(o, "expires_at", instant(n->expires_at));
        json_object_set_new(o, "last_used_at", instant(n->last_used));
        json_array_append_new(arr, o);
        return 0;
    }
    char uses[48], dls[48], last[TG_TIME_BUF] = "never";
    if (n->max_uses)
        snprintf(uses, sizeof uses, "%" PRId64 "/%" PRId64, n->uses, n->max_uses);
    else
        snprintf(uses, sizeof uses, "%" PRId64, n->uses);
    if (n->max_downloads)
        snprintf(dls, sizeof dls, "%" PRId64 "/%" PRId64, n->downloads, n->max_downloads);
    else
        snprintf(dls, sizeof dls, "%" PRId64, n->downloads);
    if (n->last_used)
        time_fmt_iso8601(n->last_used, last);
    printf("%-5" PRId64 " %-24s %-12s %-9s %-11s %-10s %s\n", n->id, n->label, n->grant, uses, dls,
           n->status, last);
    return 0;
}

static int rotate(struct cli_app *app, const char *grant, const struct opts *o)
{
    const struct gate_grant *gr = gate_grant_find(app->gate, str_c(grant));
    struct gate_links l;
    struct buf url = BUF_INIT;
    uint64_t epoch;
    char until[TG_TIME_BUF];
    int rc;
    if (!gr) {
        fprintf(stderr, "tollgate token rotate: no grant '%s' in %s\n", grant, app->cfg.path);
        return 1;
    }
    if (!o->now) {
        fprintf(stderr,
                "tollgate token rotate: this kills %s's current tier link and every download\n"
                "link minted with it, for every member, at once. Run it again with --now to\n"
                "confirm. (Regular rotation needs no command: see 'tollgate links'.)\n",
                grant);
        return 2;
    }
    if ((rc = gate_epoch_bump(app->gate, gr, &epoch)) < 0 ||
        (rc = gate_links(app->gate, gr, tg_now(), &l)) < 0) {
        fprintf(stderr, "tollgate token rotate: %s\n", err_message(rc));
        return 1;
    }
    if ((rc = gate_portal_url(app->gate, gr, l.current, &url)) < 0) {
        crypto_wipe(&l, sizeof l);
        fprintf(stderr, "tollgate token rotate: %s\n", err_message(rc));
        return 1;
    }
    time_fmt_iso8601(l.current_valid_until, until);
    if (o->json)
        cli_print_json(json_pack("{s:s, s:I, s:s, s:s, s:s}", "grant", gr->name, "epoch",
                                 (json_int_t)epoch, "token", l.current, "url", buf_cstr(&url),
                                 "valid_until", until));
    else
        printf("rotated %s (epoch %" PRIu64 "): every earlier tier link of %s stopped working.\n"
               "New link, works until %s:\n%s\n%s",
               gr->name, epoch, gr->name, until, buf_cstr(&url),
               l.has_next ? "The next period's link also changed: post 'tollgate links' now.\n"
                          : "");
    crypto_wipe(&l, sizeof l);
    buf_release(&url);
    return 0;
}

int cmd_token(int argc, char **argv)
{
    static const struct option lopts[] = {
        {"config", required_argument, 0, 'c'},
        {"label", required_argument, 0, 'L'},
        {"max-uses", required_argument, 0, 'u'},
        {"max-downloads", required_argument, 0, 'd'},
        {"expires", required_argument, 0, 'e'},
        {"json", no_argument, 0, 'j'},
        {"now", no_argument, 0, 'n'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    struct opts o = {0};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            o.config = optarg;
            break;
        case 'L':
            o.label = optarg;
            break;
        case 'u':
            if (parse_count(optarg, &o.max_uses) < 0)
                return cli_usage_error("token", "--max-uses takes a whole number");
            break;
        case 'd':
            if (parse_count(optarg, &o.max_downloads) < 0)
                return cli_usage_error("token", "--max-downloads takes a whole number");
            break;
        case 'e':
            o.expires = optarg;
            break;
        case 'j':
            o.json = true;
            break;
        case 'n':
            o.now = true;
            break;
        case 'h':
            fputs(USAGE, stdout);
            return 0;
        default:
            return cli_usage_error("token", "unknown option");
        }
    }
    if (optind >= argc)
        return cli_usage_error("token", "expected create, list, revoke or rotate");
    const char *sub = argv[optind++];
    struct cli_app app;
    int status = 1, rc;
    if (strcmp(sub, "create") == 0) {
        if (optind != argc - 1)
            return cli_usage_error("token", "create takes one GRANT");
        if (!o.label || !*o.label)
            return cli_usage_error("token", "create needs --label TEXT");
        if (strlen(o.label) >= 128)
            return cli_usage_error("token", "label longer than 127 bytes");
        if (cli_app_open(o.config, CLI_OPEN_GATE, &app) < 0)
            return 1;
        status = create(&app, argv[optind], &o);
    } else if (strcmp(sub, "list") == 0) {
        if (optind != argc)
            return cli_usage_error("token", "list takes no argument");
        if (cli_app_open(o.config, CLI_OPEN_GATE, &app) < 0)
            return 1;
        json_t *arr = o.json ? json_array() : NULL;
        if (!arr)
            printf("%-5s %-24s %-12s %-9s %-11s %-10s %s\n", "ID", "LABEL", "GRANT", "USES",
                   "DOWNLOADS", "STATUS", "LAST USED");
        if ((rc = gate_named_list(app.gate, tg_now(), list_visit, arr)) < 0) {
            fprintf(stderr, "tollgate token list: %s\n", err_message(rc));
            json_decref(arr);
        } else {
            if (arr)
                cli_print_json(arr);
            status = 0;
        }
    } else if (strcmp(sub, "revoke") == 0) {
        int64_t id;
        if (optind != argc - 1 || parse_count(argv[optind], &id) < 0)
            return cli_usage_error("token", "revoke takes one token ID (see 'token list')");
        if (cli_app_open(o.config, CLI_OPEN_GATE, &app) < 0)
            return 1;
        rc = gate_named_revoke(app.gate, id);
        if (rc == -ERR_NOT_FOUND) {
            fprintf(stderr, "tollgate token revoke: no live token %" PRId64 "\n", id);
        } else if (rc < 0) {
            fprintf(stderr, "tollgate token revoke: %s\n", err_message(rc));
        } else {
            if (o.json)
                cli_print_json(json_pack("{s:I, s:b}", "id", (json_int_t)id, "revoked", 1));
            else
                printf("revoked token %" PRId64 "\n", id);
            status = 0;
        }
    } else if (strcmp(sub, "rotate") == 0) {
        if (optind != argc - 1)
            return cli_usage_error("token", "rotate takes one GRANT");
        if (cli_app_open(o.config, CLI_OPEN_GATE, &app) < 0)
            return 1;
        status = rotate(&app, argv[optind], &o);
    } else {
        return cli_usage_error("token", "'%s' is not create, list, revoke or rotate", sub);
    }
    cli_app_close(&app);
    return status;
}
