/* cli_presign.c -- `tollgate presign BUCKET/KEY`: a SigV4 presigned URL, signed with an
 * S3 key of this server, for the configured public URL. --filename adds a
 * response-content-disposition (RFC 6266 with an RFC 5987 UTF-8 form). */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "meta/meta.h"
#include "s3/s3.h"
#include "store/store.h"

static const char USAGE[] =
    "usage: tollgate presign BUCKET/KEY [--expires SECONDS] [--filename NAME]\n"
    "                        [--method GET|PUT] [--key ACCESS_KEY_ID] [--json]\n"
    "\n"
    "Prints a presigned URL (AWS SigV4 query authentication) for BUCKET/KEY on this\n"
    "server ([server] public_url, default http://<listen>).\n"
    "  --expires SECONDS  validity, 1..604800 (7 days); default 3600\n"
    "  --filename NAME    make browsers save the download as NAME\n"
    "  --method METHOD    GET (default) or PUT (an upload URL)\n"
    "  --key ID           sign with this access key (default: the oldest live S3 key)\n"
    "  --json             print {\"url\", \"expires_at\", \"method\", \"bucket\", \"key\"}\n";

static int first_key(void *ctx, const struct meta_key *k)
{
    char *out = ctx;
    if (strcmp(k->kind, "s3") != 0)
        return 0;
    snprintf(out, META_AKID_LEN + 1, "%s", k->akid);
    return 1;
}

/* attachment; filename="ascii"; filename*=UTF-8''percent-encoded */
static void disposition(const char *name, struct buf *out)
{
    buf_adds(out, "attachment; filename=\"");
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if ((*p & 0xc0) == 0x80)
            continue; /* one '_' per non-ASCII character, not per byte */
        buf_addc(out, (*p < 0x20 || *p >= 0x7f || *p == '"' || *p == '\\') ? '_' : (char)*p);
    }
    buf_adds(out, "\"; filename*=UTF-8''");
    uri_encode(out, str_c(name), false);
}

int cmd_presign(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, 0, 'c'},   {"expires", required_argument, 0, 'e'},
        {"filename", required_argument, 0, 'f'}, {"method", required_argument, 0, 'm'},
        {"key", required_argument, 0, 'k'},      {"json", no_argument, 0, 'j'},
        {"help", no_argument, 0, 'h'},           {0, 0, 0, 0},
    };
    const char *config = NULL, *filename = NULL, *method = "GET", *akid = NULL;
    uint64_t expires = 3600;
    bool json = false;
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case 'c':
            config = optarg;
            break;
        case 'e':
            if (str_to_u64(str_c(optarg), &expires) < 0 || expires < 1 ||
                expires > S3_SIG_MAX_EXPIRES)
                return cli_usage_error("presign", "--expires must be 1..%d seconds",
                                       S3_SIG_MAX_EXPIRES);
            break;
        case 'f':
            filename = optarg;
            break;
        case 'm':
            method = optarg;
            break;
        case 'k':
            akid = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            fputs(USAGE, stdout);
            return 0;
        default:
            return cli_usage_error("presign", "unknown option");
        }
    }
    if (optind != argc - 1)
        return cli_usage_error("presign", "expected one BUCKET/KEY");
    if (strcmp(method, "GET") != 0 && strcmp(method, "PUT") != 0)
        return cli_usage_error("presign", "--method must be GET or PUT");
    struct str bk = str_c(argv[optind]), bucket, key;
    if (bk.len && bk.ptr[0] == '/') {
        bk.ptr++;
        bk.len--;
    }
    if (!str_split(bk, '/', &bucket, &key) || store_bucket_name_check(bucket) < 0 ||
        store_key_check(key) < 0)
        return cli_usage_error("presign", "'%s' is not BUCKET/KEY", argv[optind]);

    struct cli_app app;
    if (cli_app_open(config, 0, &app) < 0)
        return 1;
    int status = 1, rc;
    char id[META_AKID_LEN + 1] = "", secret[META_SECRET_KEY_LEN + 1];
    char *b = str_dup(bucket), *k = str_dup(key);
    struct buf url = BUF_INIT, disp = BUF_INIT;
    if (akid)
        snprintf(id, sizeof id, "%s", akid);
    else
        meta_key_list(app.meta, first_key, id);
    if (!id[0]) {
        fprintf(stderr, "tollgate presign: no S3 key: create one with 'tollgate key create'\n");
        goto out;
    }
    if ((rc = meta_key_secret(app.meta, str_c(id), secret, sizeof secret)) < 0) {
        fprintf(stderr, "tollgate presign: no live key '%s'\n", id);
        goto out;
    }
    /* public_url = scheme://host[:port][/base] */
    const char *pub = app.set.public_url;
    const char *scheme = strncmp(pub, "https://", 8) == 0 ? "https" : "http";
    const char *host = strstr(pub, "://") ? strstr(pub, "://") + 3 : pub;
    const char *extra[2];
    size_t n_extra = 0;
    if (filename) {
        disposition(filename, &disp);
        extra[0] = "response-content-disposition";
        extra[1] = buf_cstr(&disp);
        n_extra = 1;
    }
    int64_t now = tg_now();
    struct s3_presign p = {method, scheme,           host,  b,      k, id, secret, app.set.region,
                           now,    (int64_t)expires, extra, n_extra};
    if ((rc = s3_presign_url(&p, &url)) < 0) {
        fprintf(stderr, "tollgate presign: %s\n", err_message(rc));
        goto out;
    }
    if (json) {
        char t[TG_TIME_BUF];
        time_fmt_iso8601(now + (int64_t)expires, t);
        cli_print_json(json_pack("{s:s, s:s, s:s, s:s, s:s}", "url", buf_cstr(&url), "expires_at",
                                 t, "method", method, "bucket", b, "key", k));
    } else {
        puts(buf_cstr(&url));
    }
    status = 0;
out:
    memset(secret, 0, sizeof secret);
    free(b);
    free(k);
    buf_release(&url);
    buf_release(&disp);
    cli_app_close(&app);
    return status;
}
