/* cli_key.c -- `tollgate key create|list|delete`: S3 access keys. Secrets are
 * derived from the server secret and shown once, at creation. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>

#include "cli/cli.h"
#include "meta/meta.h"

static const char USAGE[] =
    "usage: tollgate key create [--label TEXT] [--json]\n"
    "       tollgate key list [--json]\n"
    "       tollgate key delete ACCESS_KEY_ID\n"
    "       tollgate key admin-reset [--json]\n"
    "   (each also takes --config FILE)\n"
    "\n"
    "create  makes a new S3 access key pair and prints it (the secret is shown once).\n"
    "        JSON: {\"access_key_id\", \"secret_access_key\", \"label\", \"created_at\"}\n"
    "list    prints the live keys (never their secrets).\n"
    "        JSON: [{\"access_key_id\", \"kind\", \"label\", \"created_at\"}]\n"
    "delete  removes a key: requests signed with it fail at once (InvalidAccessKeyId),\n"
    "        also on a running server.\n"
    "admin-reset  replaces the admin key (for /admin and /api/admin) and prints the new\n"
    "        one once; the old one stops working at once. JSON: {\"admin_key\"}\n";

static int list_visit(void *ctx, const struct meta_key *k)
{
    json_t *arr = ctx;
    char t[TG_TIME_BUF];
    time_fmt_iso8601(k->created_us / 1000000, t);
    if (arr)
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s}", "access_key_id", k->akid,
                                             "kind", k->kind, "label", k->label, "created_at", t));
    else
        printf("%-22s %-7s %-20s %s\n", k->akid, k->kind, t, k->label);
    return 0;
}

int cmd_key(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, 0, 'c'},
        {"label", required_argument, 0, 'L'},
        {"json", no_argument, 0, 'j'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *config = NULL, *label = "";
    bool json = false;
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case 'c':
            config = optarg;
            break;
        case 'L':
            label = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            fputs(USAGE, stdout);
            return 0;
        default:
            return cli_usage_error("key", "unknown option");
        }
    }
    if (optind >= argc)
        return cli_usage_error("key", "expected create, list, delete or admin-reset");
    const char *sub = argv[optind++];
    int rc, status = 1;
    struct cli_app app;
    if (strcmp(sub, "create") == 0) {
        if (optind != argc)
            return cli_usage_error("key", "create takes no argument (use --label)");
        if (strlen(label) >= META_LABEL_MAX)
            return cli_usage_error("key", "label longer than %d bytes", META_LABEL_MAX - 1);
        if (cli_app_open(config, 0, &app) < 0)
            return 1;
        struct meta_key k;
        char secret[META_SECRET_KEY_LEN + 1];
        if ((rc = meta_key_create(app.meta, "s3", label, &k, secret)) < 0) {
            fprintf(stderr, "tollgate key create: %s\n", err_message(rc));
            goto out;
        }
        char t[TG_TIME_BUF];
        time_fmt_iso8601(k.created_us / 1000000, t);
        if (json)
            cli_print_json(json_pack("{s:s, s:s, s:s, s:s}", "access_key_id", k.akid,
                                     "secret_access_key", secret, "label", k.label, "created_at",
                                     t));
        else
            printf("access key id      %s\nsecret access key  %s\n"
                   "The secret is shown this once: keep it.\n",
                   k.akid, secret);
        memset(secret, 0, sizeof secret);
        status = 0;
    } else if (strcmp(sub, "list") == 0) {
        if (optind != argc)
            return cli_usage_error("key", "list takes no argument");
        if (cli_app_open(config, 0, &app) < 0)
            return 1;
        json_t *arr = json ? json_array() : NULL;
        if (!json)
            printf("%-22s %-7s %-20s %s\n", "ACCESS KEY ID", "KIND", "CREATED", "LABEL");
        if ((rc = meta_key_list(app.meta, list_visit, arr)) < 0) {
            fprintf(stderr, "tollgate key list: %s\n", err_message(rc));
            json_decref(arr);
            goto out;
        }
        if (arr)
            cli_print_json(arr);
        status = 0;
    } else if (strcmp(sub, "delete") == 0) {
        if (optind != argc - 1)
            return cli_usage_error("key", "delete takes one ACCESS_KEY_ID");
        if (cli_app_open(config, 0, &app) < 0)
            return 1;
        rc = meta_key_delete(app.meta, str_c(argv[optind]));
        if (rc == -ERR_NOT_FOUND) {
            fprintf(stderr, "tollgate key delete: no live key '%s'\n", argv[optind]);
            goto out;
        } else if (rc < 0) {
            fprintf(stderr, "tollgate key delete: %s\n", err_message(rc));
            goto out;
        }
        if (json)
            cli_print_json(json_pack("{s:s, s:b}", "access_key_id", argv[optind], "deleted", 1));
        else
            printf("deleted %s\n", argv[optind]);
        status = 0;
    } else if (strcmp(sub, "admin-reset") == 0) {
        if (optind != argc)
            return cli_usage_error("key", "admin-reset takes no argument");
        if (cli_app_open(config, 0, &app) < 0)
            return 1;
        char admin[META_ADMIN_KEY_LEN + 1];
        if ((rc = meta_admin_key_create(app.meta, admin)) < 0) {
            fprintf(stderr, "tollgate key admin-reset: %s\n", err_message(rc));
            goto out;
        }
        if (json)
            cli_print_json(json_pack("{s:s}", "admin_key", admin));
        else
            printf("admin key  %s\nShown this once: keep it. The previous admin key no longer "
                   "works.\n",
                   admin);
        memset(admin, 0, sizeof admin);
        status = 0;
    } else {
        return cli_usage_error("key", "'%s' is not create, list, delete or admin-reset", sub);
    }
out:
    cli_app_close(&app);
    return status;
}
