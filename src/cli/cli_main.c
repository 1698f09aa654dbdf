/* cli_main.c -- the commands table, --help, --version, and the opening of a data
 * directory shared by the commands. */
#include <getopt.h>
#include <limits.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "crypto/crypto.h"
#include "events/events.h"
#include "gate/gate.h"
#include "lifecycle/lifecycle.h"
#include "meta/meta.h"
#include "s3/s3.h"
#include "stats/stats.h"
#include "store/store.h"

#define TOLLGATE_VERSION "0.1.0"

const char *cli_prog = "tollgate";

static int cmd_help(int argc, char **argv);
static int cmd_version(int argc, char **argv)
{
    printf("tollgate %s\n", TOLLGATE_VERSION);
    return 0;
}

static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} COMMANDS[] = {
    {"init", cmd_init, "create a data directory: config, secret, database, bucket, keys"},
    {"serve", cmd_serve, "run the server (S3 API, health) on the configured address"},
    {"key", cmd_key, "create, list and delete S3 access keys"},
    {"presign", cmd_presign, "print a presigned URL for an object"},
    {"links", cmd_links, "print the current (and next) member link of each grant"},
    {"token", cmd_token, "named tokens (create, list, revoke) and emergency rotation"},
    {"publish", cmd_publish, "publish a day's file for a grant: daily, month-to-date, monthly"},
    {"lifecycle", cmd_lifecycle,
     "retention: plan or apply retirement, deletion after links expire"},
    {"demo", cmd_demo, "init a directory, publish 40 days of demo data for 3 tiers, serve"},
    {"health", cmd_health, "is every grant fresh? newest daily, MTD, retention, next rotation"},
    {"stats", cmd_stats, "download analytics: views, downloads, bytes, visitors, top files"},
    {"parquet", cli_parquet_main, "inspect, concatenate, splice, project and generate Parquet"},
    {"help", cmd_help, "show this help"},
    {"version", cmd_version, "print the version"},
};
#define N_COMMANDS (sizeof COMMANDS / sizeof COMMANDS[0])

static int cmd_help(int argc, char **argv)
{
    printf("usage: tollgate <command> [options]\n\n"
           "tollgate delivers files from object storage to the people entitled to them.\n\n"
           "commands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        printf("  %-10s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
    printf("\nEvery command takes --help, --config FILE (default $TOLLGATE_CONFIG, then\n"
           "./tollgate-data/tollgate.conf) and honours TOLLGATE_NOW=<ISO 8601 UTC>.\n"
           "Documentation: README.md and docs/ (docs/cli.md for every command).\n");
    return 0;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "tollgate %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(see 'tollgate %s --help')\n", cmd);
    return 2;
}

void cli_print_json(void *json)
{
    char *s = json_dumps(json, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (s) {
        puts(s);
        free(s);
    }
    json_decref(json);
}

int cli_main(int argc, char **argv)
{
    if (argc < 2) {
        cmd_help(0, NULL);
        return 2;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0)
        return cmd_help(0, NULL);
    if (strcmp(name, "--version") == 0)
        return cmd_version(0, NULL);
    for (size_t i = 0; i < N_COMMANDS; i++) {
        if (strcmp(COMMANDS[i].name, name) != 0)
            continue;
        if (tg_time_init() < 0)
            return 2;
        return COMMANDS[i].fn(argc - 1, argv + 1);
    }
    fprintf(stderr, "tollgate: '%s' is not a command; see 'tollgate --help'\n", name);
    return 2;
}

/* ---- configuration ---- */

static const char *const KNOWN_KEYS[] = {
    "server.listen",
    "server.data_dir",
    "server.region",
    "server.public_url",
    "server.max_put_size",
    "server.threads",
    "server.connection_limit",
    "server.header_timeout",
    "server.idle_timeout",
    "server.drain_timeout",
    "server.log_requests",
    "server.log_level",
    "storage.backend",
    "storage.bucket",
    "storage.endpoint",
    "storage.region",
    "storage.addressing",
    "storage.access_key_id",
    "storage.secret_access_key",
    "storage.proxy_downloads",
    "storage.timeout",
    "meta.backend",
    "meta.dsn",
    NULL,
};

static void settings_release(struct cli_settings *s)
{
    free(s->listen);
    free(s->data_dir);
    free(s->region);
    free(s->bucket);
    free(s->public_url);
    free(s->s3_endpoint);
    free(s->s3_region);
    free(s->s3_akid);
    if (s->s3_secret)
        crypto_wipe(s->s3_secret, strlen(s->s3_secret));
    free(s->s3_secret);
    free(s->meta_backend);
    free(s->meta_dsn);
    memset(s, 0, sizeof *s);
}

static int cfg_error(const struct cfg *c, const char *sec, const char *key, char **err,
                     const char *what)
{
    struct buf b = BUF_INIT;
    const struct cfg_entry *e = cfg_find(c, sec, key);
    buf_printf(&b, "%s:%d: [%s] %s: %s", c->path, e ? e->line : 0, sec, key, what);
    *err = buf_take(&b);
    return -ERR_CONFIG;
}

/* [storage]: backend = local | s3 and, for s3, the remote store. */
static int load_storage(const struct cfg *c, struct cli_settings *s, char **err)
{
    const char *be = cfg_get(c, "storage", "backend", "local");
    int rc;
    if (strcmp(be, "local") == 0)
        return 0;
    if (strcmp(be, "s3") != 0)
        return cfg_error(c, "storage", "backend", err, "expected local or s3");
    s->remote = true;
    const char *ep = cfg_get(c, "storage", "endpoint", NULL);
    if (!ep || (strncmp(ep, "http://", 7) != 0 && strncmp(ep, "https://", 8) != 0))
        return cfg_error(c, "storage", "endpoint", err,
                         "backend = s3 needs endpoint = http(s)://host[:port] of the S3 store");
    const char *addr = cfg_get(c, "storage", "addressing", "path");
    if (strcmp(addr, "path") != 0 && strcmp(addr, "virtual") != 0)
        return cfg_error(c, "storage", "addressing", err, "expected path or virtual");
    s->s3_virtual = strcmp(addr, "virtual") == 0;
    const char *akid = cfg_get(c, "storage", "access_key_id", getenv("AWS_ACCESS_KEY_ID"));
    const char *sec = cfg_get(c, "storage", "secret_access_key", NULL);
    if (sec) {
        /* a secret in the file: the file must be the owner's alone */
        struct stat sb;
        if (stat(c->path, &sb) == 0 && (sb.st_mode & 077))
            return cfg_error(c, "storage", "secret_access_key", err,
                             "the file holds a secret but is readable by others: chmod 600 it "
                             "(or give AWS_SECRET_ACCESS_KEY in the environment)");
    } else {
        sec = getenv("AWS_SECRET_ACCESS_KEY");
    }
    if (!akid || !*akid || !sec || !*sec)
        return cfg_error(c, "storage", "access_key_id", err,
                         "backend = s3 needs access_key_id and secret_access_key (in the file, "
                         "mode 0600, or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)");
    s->s3_endpoint = strdup(ep);
    s->s3_region = strdup(cfg_get(c, "storage", "region", "us-east-1"));
    s->s3_akid = strdup(akid);
    s->s3_secret = strdup(sec);
    if (!s->s3_endpoint || !s->s3_region || !s->s3_akid || !s->s3_secret)
        return -ERR_NOMEM;
    if ((rc = cfg_get_bool(c, "storage", "proxy_downloads", false, &s->proxy_downloads, err)) < 0 ||
        (rc = cfg_get_duration(c, "storage", "timeout", 600, &s->s3_timeout, err)) < 0)
        return rc;
    return 0;
}

/* [meta]: backend = sqlite | postgres, dsn. */
static int load_meta(const struct cfg *c, struct cli_settings *s, char **err)
{
    const char *be = cfg_get(c, "meta", "backend", "sqlite");
    if (strcmp(be, "sqlite") != 0 && strcmp(be, "postgres") != 0)
        return cfg_error(c, "meta", "backend", err, "expected sqlite or postgres");
    const char *dsn = cfg_get(c, "meta", "dsn", NULL);
    if (strcmp(be, "postgres") == 0 && (!dsn || !*dsn))
        return cfg_error(c, "meta", "dsn", err,
                         "backend = postgres needs dsn = <libpq connection string>");
    s->meta_backend = strdup(be);
    s->meta_dsn = dsn ? strdup(dsn) : NULL;
    if (!s->meta_backend || (dsn && !s->meta_dsn))
        return -ERR_NOMEM;
    return 0;
}

static int load_settings(const struct cfg *c, struct cli_settings *s, char **err)
{
    int rc;
    struct buf b = BUF_INIT;
    memset(s, 0, sizeof *s);
    /* every module's keys: the server's, [grant NAME], [lifecycle NAME], [webhook NAME]
     * and [health] (events.h), [stats] */
    const char *const *const lists[] = {KNOWN_KEYS, gate_config_keys, lifecycle_config_keys,
                                        events_config_keys, stats_config_keys};
    const char *known[160];
    size_t nk = 0;
    for (size_t l = 0; l < sizeof lists / sizeof lists[0]; l++)
        for (const char *const *k = lists[l]; *k; k++) {
            if (nk + 1 >= sizeof known / sizeof known[0])
                return -ERR_INTERNAL;
            known[nk++] = *k;
        }
    known[nk] = NULL;
    if ((rc = cfg_check_known(c, known, err)) < 0)
        return rc;
    s->listen = strdup(cfg_get(c, "server", "listen", "127.0.0.1:8080"));
    s->data_dir = cfg_path(c, cfg_get(c, "server", "data_dir", "."));
    char real[4096];
    if (s->data_dir && realpath(s->data_dir, real)) {
        free(s->data_dir);
        s->data_dir = strdup(real);
    }
    s->region = strdup(cfg_get(c, "server", "region", "us-east-1"));
    s->bucket = strdup(cfg_get(c, "storage", "bucket", "tollgate"));
    const char *pub = cfg_get(c, "server", "public_url", NULL);
    if (pub) {
        s->public_url = strdup(pub);
    } else {
        const char *l = s->listen;
        buf_printf(&b, "http://%s%s", l[0] == ':' ? "127.0.0.1" : "", l);
        s->public_url = buf_take(&b);
    }
    if (!s->listen || !s->data_dir || !s->region || !s->bucket || !s->public_url)
        return -ERR_NOMEM;
    /* trailing slash of the public URL is noise */
    size_t n = strlen(s->public_url);
    while (n && s->public_url[n - 1] == '/')
        s->public_url[--n] = '\0';
    const char *sep = strstr(s->public_url, "://");
    if (!sep ||
        (strncmp(s->public_url, "http://", 7) != 0 && strncmp(s->public_url, "https://", 8) != 0) ||
        strchr(sep + 3, '/') || !sep[3]) {
        const struct cfg_entry *e = cfg_find(c, "server", "public_url");
        buf_printf(&b, "%s:%d: [server] public_url = %s: expected http(s)://host[:port] (no path)",
                   c->path, e ? e->line : 0, s->public_url);
        *err = buf_take(&b);
        return -ERR_CONFIG;
    }
    if ((rc = load_storage(c, s, err)) < 0 || (rc = load_meta(c, s, err)) < 0)
        return rc;
    if (store_bucket_name_check(str_c(s->bucket)) < 0) {
        const struct cfg_entry *e = cfg_find(c, "storage", "bucket");
        buf_printf(&b, "%s:%d: [storage] bucket = %s: not a valid S3 bucket name", c->path,
                   e ? e->line : 0, s->bucket);
        *err = buf_take(&b);
        return -ERR_CONFIG;
    }
    if ((rc = cfg_get_size(c, "server", "max_put_size", (uint64_t)5 << 30, &s->max_put_size, err)) <
            0 ||
        (rc = cfg_get_u64(c, "server", "threads", 0, &s->threads, err)) < 0 ||
        (rc = cfg_get_u64(c, "server", "connection_limit", 4096, &s->connection_limit, err)) < 0 ||
        (rc = cfg_get_duration(c, "server", "header_timeout", 10, &s->header_timeout, err)) < 0 ||
        (rc = cfg_get_duration(c, "server", "idle_timeout", 60, &s->idle_timeout, err)) < 0 ||
        (rc = cfg_get_duration(c, "server", "drain_timeout", 5, &s->drain_timeout, err)) < 0 ||
        (rc = cfg_get_bool(c, "server", "log_requests", true, &s->log_requests, err)) < 0)
        return rc;
    const char *lvl = cfg_get(c, "server", "log_level", "info");
    if (strcmp(lvl, "debug") == 0)
        s->log_level = TG_LOG_DEBUG;
    else if (strcmp(lvl, "info") == 0)
        s->log_level = TG_LOG_INFO;
    else if (strcmp(lvl, "warn") == 0)
        s->log_level = TG_LOG_WARN;
    else if (strcmp(lvl, "error") == 0)
        s->log_level = TG_LOG_ERROR;
    else {
        const struct cfg_entry *e = cfg_find(c, "server", "log_level");
        buf_printf(&b, "%s:%d: [server] log_level = %s: expected debug, info, warn or error",
                   c->path, e ? e->line : 0, lvl);
        *err = buf_take(&b);
        return -ERR_CONFIG;
    }
    if (s->connection_limit < 16 || s->connection_limit > 65536) {
        buf_printf(&b, "%s: [server] connection_limit must be between 16 and 65536", c->path);
        *err = buf_take(&b);
        return -ERR_CONFIG;
    }
    if (s->max_put_size == 0 || s->max_put_size > ((uint64_t)5 << 40)) {
        buf_printf(&b, "%s: [server] max_put_size must be between 1 byte and 5 TiB", c->path);
        *err = buf_take(&b);
        return -ERR_CONFIG;
    }
    return 0;
}

int cli_app_open(const char *config_path, unsigned flags, struct cli_app *out)
{
    struct cli_app app;
    char *err = NULL;
    uint8_t secret[META_SECRET_LEN];
    int rc;
    memset(&app, 0, sizeof app);
    if (!config_path)
        config_path = getenv("TOLLGATE_CONFIG");
    if (!config_path || !*config_path)
        config_path = "./tollgate-data/tollgate.conf";
    if ((rc = cfg_load(config_path, &app.cfg, &err)) < 0)
        goto out;
    if ((rc = load_settings(&app.cfg, &app.set, &err)) < 0)
        goto out;
    tg_log_set_level(app.set.log_level);
    if ((rc = meta_secret_load(app.set.data_dir, secret, &err)) < 0)
        goto out;
    struct meta_config mc = {app.set.data_dir, app.set.meta_backend, app.set.meta_dsn};
    rc = meta_open_cfg(&mc, secret, &app.meta);
    if (rc < 0) {
        /* never the dsn: it may hold a password (libpq's reason is in the log) */
        struct buf b = BUF_INIT;
        if (app.set.meta_dsn)
            buf_printf(&b, "cannot open the PostgreSQL metadata database ([meta] dsn): %s",
                       err_message(rc));
        else
            buf_printf(&b, "cannot open the metadata database in '%s': %s", app.set.data_dir,
                       err_message(rc));
        err = buf_take(&b);
        goto out;
    }
    if ((flags & CLI_OPEN_STORE) && app.set.remote) {
        struct s3_client_config sc = {
            .endpoint = app.set.s3_endpoint,
            .region = app.set.s3_region,
            .bucket = app.set.bucket,
            .virtual_host = app.set.s3_virtual,
            .akid = app.set.s3_akid,
            .secret = app.set.s3_secret,
            .timeout_ms = app.set.s3_timeout * 1000,
        };
        void *impl = NULL;
        if ((rc = s3_remote_new(&sc, &impl)) < 0 ||
            (rc = store_open_remote(app.set.data_dir, app.set.bucket, &s3_remote_ops, impl,
                                    &app.store)) < 0) {
            struct buf b = BUF_INIT;
            buf_printf(&b, "cannot open the remote object store %s (bucket '%s'): %s",
                       app.set.s3_endpoint, app.set.bucket, err_message(rc));
            err = buf_take(&b);
            goto out;
        }
    } else if ((flags & CLI_OPEN_STORE) && (rc = store_open(app.set.data_dir, &app.store)) < 0) {
        struct buf b = BUF_INIT;
        buf_printf(&b, "cannot open the object store in '%s': %s", app.set.data_dir,
                   err_message(rc));
        err = buf_take(&b);
        goto out;
    }
    if (flags & CLI_OPEN_GATE) {
        struct gate_remote gr = {app.set.s3_endpoint, app.set.s3_region, app.set.s3_virtual,
                                 app.set.s3_akid,     app.set.s3_secret, app.set.proxy_downloads};
        struct gate_config gc = {app.set.bucket, app.set.public_url, app.set.region,
                                 app.set.remote ? &gr : NULL};
        if ((rc = gate_open(&app.cfg, &gc, app.meta, secret, &app.gate, &err)) < 0)
            goto out;
    }
    crypto_wipe(secret, sizeof secret);
    *out = app;
    return 0;
out:
    crypto_wipe(secret, sizeof secret);
    fprintf(stderr, "tollgate: %s\n", err ? err : err_message(rc));
    free(err);
    cli_app_close(&app);
    return rc;
}

void cli_app_close(struct cli_app *app)
{
    gate_close(app->gate);
    store_close(app->store);
    meta_close(app->meta);
    settings_release(&app->set);
    cfg_release(&app->cfg);
    memset(app, 0, sizeof *app);
}
