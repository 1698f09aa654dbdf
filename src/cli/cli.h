/* cli.h -- the tollgate command line: a commands table dispatching cmd_<name>(),
 * the shared opening of a data directory from its configuration, and the
 * configuration's server settings. Every command takes --config FILE (default
 * $TOLLGATE_CONFIG, then ./tollgate-data/tollgate.conf), --help, and honours
 * TOLLGATE_NOW. Exit status: 0 success, 1 failure, 2 usage error. */
#ifndef TG_CLI_H
#define TG_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "util/util.h"

struct meta;
struct store;
struct gate;

int cli_main(int argc, char **argv);
int cli_parquet_main(int argc, char **argv); /* cli_parquet.c */

/* [server] and [storage] settings, validated. */
struct cli_settings {
    char *listen;     /* 127.0.0.1:8080 */
    char *data_dir;   /* absolute */
    char *region;     /* us-east-1 */
    char *bucket;     /* the data bucket: tollgate */
    char *public_url; /* base of printed links: http://127.0.0.1:8080 */
    uint64_t max_put_size;
    uint64_t threads, connection_limit;
    int64_t header_timeout, idle_timeout, drain_timeout;
    bool log_requests;
    enum tg_log_level log_level;
    /* [storage] backend = s3: the remote store (secret wiped on release) */
    bool remote;
    char *s3_endpoint, *s3_region, *s3_akid, *s3_secret;
    bool s3_virtual, proxy_downloads;
    int64_t s3_timeout;
    /* [meta] */
    char *meta_backend, *meta_dsn;
};

/* An opened data directory. */
struct cli_app {
    struct cfg cfg;
    struct cli_settings set;
    struct meta *meta;
    struct store *store;
    struct gate *gate;
};
#define CLI_OPEN_STORE 1u
#define CLI_OPEN_GATE 2u
/* Loads the config (path NULL = default lookup), validates it, opens meta (and the
 * store with CLI_OPEN_STORE, the gate -- grants, tokens, links -- with CLI_OPEN_GATE).
 * Prints a clear error on stderr and returns <0. */
int cli_app_open(const char *config_path, unsigned flags, struct cli_app *out);
void cli_app_close(struct cli_app *app);

/* Shared option helpers. */
extern const char *cli_prog;     /* "tollgate" */
void cli_print_json(void *json); /* json_t *: dumps indented to stdout, decrefs */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Commands (one file each). */
int cmd_init(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_key(int argc, char **argv);
int cmd_presign(int argc, char **argv);
int cmd_token(int argc, char **argv);     /* cli_token.c */
int cmd_links(int argc, char **argv);     /* cli_links.c */
int cmd_publish(int argc, char **argv);   /* cli_publish.c */
int cmd_lifecycle(int argc, char **argv); /* cli_lifecycle.c */
int cmd_demo(int argc, char **argv);      /* cli_demo.c */

int cmd_health(int argc, char **argv); /* cli_health.c */
int cmd_stats(int argc, char **argv);  /* cli_stats.c */

/* Health JSON (events.h) of the grants named (NULL/0: all) at `now`, with the last run
 * of lc (NULL: unknown); serving: a missing or old lifecycle run is a problem. Shared by
 * `tollgate health` and GET /api/admin/status. *out is a json_t *. */
struct lifecycle;
struct events;
int cli_health_json(struct cli_app *app, struct lifecycle *lc, const char *const *grants,
                    size_t n_grants, bool serving, int64_t now, void **out, char err[256]);
/* The scheduler of `tollgate serve` (cli_sched.c): inbox scans, lifecycle passes, events.
 * stop: 0, or -ERR_UNAVAILABLE when the thread did not stop in time (it still uses app). */
struct cli_sched;
struct stats;
int cli_sched_start(struct cli_app *app, struct lifecycle *lc, struct events *ev, struct stats *st,
                    struct cli_sched **out);
int cli_sched_stop(struct cli_sched *s);

#endif
