/* cli_init.c -- `tollgate init DIR`: writes DIR/tollgate.conf (commented), DIR/secret
 * (0600), DIR/meta.db, creates the data bucket, one S3 key pair and the admin key,
 * and prints the keys once. Refuses a directory that is already initialised. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "meta/meta.h"
#include "store/store.h"

static const char USAGE[] =
    "usage: tollgate init DIR [--listen ADDR] [--region REGION] [--bucket NAME]\n"
    "                         [--meta-dsn DSN] [--json]\n"
    "\n"
    "Creates the data directory DIR: tollgate.conf (commented, ready to edit), secret\n"
    "(32 random bytes, mode 0600), meta.db, blobs/ and tmp/; creates the data bucket;\n"
    "creates one S3 access key pair and the admin key and prints them. They are shown\n"
    "once: keep them.\n"
    "\n"
    "  --listen ADDR    address to serve on (default 127.0.0.1:8080)\n"
    "  --region REGION  the S3 region clients sign for (default us-east-1)\n"
    "  --bucket NAME    the data bucket grants and the publisher use (default tollgate)\n"
    "  --meta-dsn DSN   keep the metadata in PostgreSQL ([meta] backend = postgres):\n"
    "                   a libpq connection string; the keys are created there\n"
    "  --json           print {data_dir, config, access_key_id, secret_access_key, admin_key}\n";

static const char CONF_TEMPLATE[] =
    "; tollgate.conf -- written by 'tollgate init'. Lines starting with ';' are comments.\n"
    "; Every key is optional; the value shown is the default unless noted.\n"
    "; Sizes take KiB/MiB/GiB, durations s/m/h/d (e.g. 6d20h). Reference: docs/configuration.md\n"
    "\n"
    "[server]\n"
    "; Address and port to listen on. ':8080' listens on every interface.\n"
    "listen = %s\n"
    "; The data directory, relative to this file.\n"
    "data_dir = .\n"
    "; The region S3 clients sign requests for.\n"
    "region = %s\n"
    "; Base URL of links tollgate prints (presign); default http://<listen>.\n"
    ";public_url = https://files.example.com\n"
    "; Largest single PUT or part (S3 allows 5GiB).\n"
    "max_put_size = 5GiB\n"
    "; Connections held at once, and worker threads (0 = chosen from the limit).\n"
    "connection_limit = 4096\n"
    "threads = 0\n"
    "; A request head must arrive within header_timeout; a connection without progress\n"
    "; for idle_timeout is closed. On SIGINT/SIGTERM, in-flight requests get drain_timeout.\n"
    "header_timeout = 10s\n"
    "idle_timeout = 60s\n"
    "drain_timeout = 5s\n"
    "; One log line per request (method, route, path, status, bytes, microseconds).\n"
    "log_requests = on\n"
    "; debug, info, warn or error\n"
    "log_level = info\n"
    "\n"
    "[storage]\n"
    "; 'local': content-addressed blobs under blobs/ and an SQLite index (meta.db).\n"
    "backend = local\n"
    "; The bucket grants and the publisher use.\n"
    "bucket = %s\n"
    "\n"
    "; Grants: who may download what (docs/access.md). Uncomment and edit; each grant\n"
    "; gets a portal at /downloads/<name>?t=TOKEN; 'tollgate links' prints its links.\n"
    ";   prefix     key prefixes of the bucket (required; space-separated, each ending '/')\n"
    ";   rotation   how often the tier link changes, and from when (default weekly, Monday\n"
    ";              00:00 UTC); overlap: the next link works this long before it is required\n"
    ";   link_ttl   how long a download link works (at most 7d)\n"
    ";   link_mode  presign (links to the bucket) or redirect (links check the token at\n"
    ";              click time, then redirect to a link valid redirect_ttl, default 10m)\n"
    ";\n"
    ";[grant tier1]\n"
    ";title     = Tier 1 - weekly sample\n"
    ";prefix    = tier1/\n"
    ";rotation  = 7d @ 1970-01-05T00:00:00Z\n"
    ";overlap   = 24h\n"
    ";link_ttl  = 6d20h\n"
    ";\n"
    ";[grant tier2]\n"
    ";title     = Tier 2 - full daily dataset\n"
    ";prefix    = tier2/\n"
    ";rotation  = 7d @ 1970-01-05T00:00:00Z\n"
    ";overlap   = 24h\n"
    ";link_ttl  = 6d20h\n"
    ";\n"
    ";[grant tier3]\n"
    ";title     = Tier 3 - everything, links checked at each click\n"
    ";prefix    = tier3/\n"
    ";rotation  = 7d @ 1970-01-05T00:00:00Z\n"
    ";overlap   = 24h\n"
    ";link_mode = redirect\n"
    ";redirect_ttl = 10m\n";

int cmd_init(int argc, char **argv)
{
    static const struct option opts[] = {
        {"listen", required_argument, 0, 'l'},
        {"region", required_argument, 0, 'r'},
        {"bucket", required_argument, 0, 'b'},
        {"json", no_argument, 0, 'j'},
        {"meta-dsn", required_argument, 0, 'm'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *listen = "127.0.0.1:8080", *region = "us-east-1", *bucket = "tollgate";
    const char *dsn = NULL;
    bool json = false;
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case 'l':
            listen = optarg;
            break;
        case 'r':
            region = optarg;
            break;
        case 'b':
            bucket = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'm':
            dsn = optarg;
            break;
        case 'h':
            fputs(USAGE, stdout);
            return 0;
        default:
            return cli_usage_error("init", "unknown option");
        }
    }
    if (optind != argc - 1)
        return cli_usage_error("init",
                               "expected one directory, e.g. 'tollgate init ./tollgate-data'");
    const char *dir = argv[optind];
    if (store_bucket_name_check(str_c(bucket)) < 0)
        return cli_usage_error("init", "'%s' is not a valid bucket name", bucket);
    for (const char *p = region; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
            return cli_usage_error("init", "'%s' is not a valid region", region);

    char conf[PATH_MAX + 32], absdir[PATH_MAX];
    struct stat st;
    int rc = mkdir_p(dir, 0700);
    if (rc < 0) {
        fprintf(stderr, "tollgate init: cannot create '%s': %s\n", dir, strerror(-rc));
        return 1;
    }
    if (!realpath(dir, absdir)) {
        fprintf(stderr, "tollgate init: cannot resolve '%s': %s\n", dir, strerror(errno));
        return 1;
    }
    snprintf(conf, sizeof conf, "%s/tollgate.conf", absdir);
    if (stat(conf, &st) == 0) {
        fprintf(stderr, "tollgate init: '%s' exists: this directory is already initialised\n",
                conf);
        return 1;
    }
    struct buf text = BUF_INIT;
    buf_printf(&text, CONF_TEMPLATE, listen, region, bucket);
    if (dsn) {
        if (!*dsn || strchr(dsn, '\n'))
            return cli_usage_error("init", "--meta-dsn needs a one-line libpq connection string");
        buf_printf(
            &text,
            "\n[meta]\n"
            "; 'sqlite' (meta.db here) or 'postgres': tokens, horizons, analytics shared\n"
            "; by every node (docs/scaling.md). The file is 0600: the dsn may hold a password.\n"
            "backend = postgres\n"
            "dsn = %s\n",
            dsn);
    }
    rc = meta_secret_create(absdir);
    if (rc < 0) {
        fprintf(stderr, "tollgate init: cannot create '%s/secret': %s\n", absdir,
                rc == -EEXIST ? "it exists (remove it only if nothing depends on it)"
                              : strerror(-rc));
        buf_release(&text);
        return 1;
    }
    /* The config is written last: its presence marks a finished init. */
    struct store *store = NULL;
    struct cli_app app;
    struct meta_key key;
    char secret[META_SECRET_KEY_LEN + 1], admin[META_ADMIN_KEY_LEN + 1];
    char tmpconf[PATH_MAX + 32];
    snprintf(tmpconf, sizeof tmpconf, "%s/tollgate.conf.init", absdir);
    if ((rc = file_write_atomic(tmpconf, text.ptr, text.len, 0600)) < 0) {
        fprintf(stderr, "tollgate init: cannot write '%s': %s\n", tmpconf, strerror(-rc));
        buf_release(&text);
        return 1;
    }
    buf_release(&text);
    if ((rc = cli_app_open(tmpconf, CLI_OPEN_STORE, &app)) < 0)
        goto fail;
    store = app.store;
    rc = store_bucket_create(store, str_c(bucket));
    if (rc < 0 && rc != -ERR_EXISTS) {
        fprintf(stderr, "tollgate init: cannot create bucket '%s': %s\n", bucket, err_message(rc));
        goto fail_app;
    }
    if ((rc = meta_key_create(app.meta, "s3", "default", &key, secret)) < 0 ||
        (rc = meta_admin_key_create(app.meta, admin)) < 0) {
        fprintf(stderr, "tollgate init: cannot create keys: %s\n", err_message(rc));
        goto fail_app;
    }
    cli_app_close(&app);
    if (rename(tmpconf, conf) < 0 || dir_fsync(absdir) < 0) {
        fprintf(stderr, "tollgate init: cannot write '%s': %s\n", conf, strerror(errno));
        return 1;
    }
    if (json) {
        json_t *j =
            json_pack("{s:s, s:s, s:s, s:s, s:s}", "data_dir", absdir, "config", conf,
                      "access_key_id", key.akid, "secret_access_key", secret, "admin_key", admin);
        cli_print_json(j);
    } else {
        printf("tollgate: initialised %s\n"
               "  config             %s\n"
               "  bucket             %s\n"
               "  access key id      %s\n"
               "  secret access key  %s\n"
               "  admin key          %s\n"
               "The secret access key and the admin key are shown this once: keep them.\n"
               "Start the server:  tollgate serve --config %s\n",
               absdir, conf, bucket, key.akid, secret, admin, conf);
    }
    memset(secret, 0, sizeof secret);
    memset(admin, 0, sizeof admin);
    return 0;
fail_app:
    cli_app_close(&app);
fail:
    unlink(tmpconf);
    return 1;
}
