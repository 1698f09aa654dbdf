/* cli_parquet.c -- `tollgate parquet info|concat|splice|project|gen`: a thin shell
 * over src/parquet/parquet.h (the CLI never reaches into the module's internals).
 * Exit status: 0 done, 1 the operation failed (one line on stderr says why),
 * 2 usage error. Every output file appears complete or not at all. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../parquet/parquet.h"
#include "../util/util.h"
#include "cli.h"

#define PQ_CLI_INPUTS_MAX 4096
#define PQ_CLI_COLUMNS_MAX 1024

static const char usage_main[] =
    "usage: tollgate parquet <command> [options]\n"
    "\n"
    "Work on Parquet files without decoding them: row groups are copied byte for byte\n"
    "and only the footer is rewritten.\n"
    "\n"
    "commands:\n"
    "  info FILE [--json]                          rows, row groups, columns, schema fingerprint\n"
    "  concat -o OUT IN...                         row groups of every input, in order\n"
    "  splice -o OUT BUNDLE --range A:B [--with F] replace row groups A..B-1 (or remove them)\n"
    "  project -o OUT --columns a,b,c IN           keep some top-level columns\n"
    "  gen -o OUT --rows N [--seed S] [--date D]   write a demo market-data file\n"
    "\n"
    "`tollgate parquet <command> --help` describes one command.\n";

static const char usage_info[] =
    "usage: tollgate parquet info FILE [--json]\n"
    "Print the size, row count, row groups (with their row counts), created_by, schema\n"
    "fingerprint (SHA-256 over the schema) and top-level columns of FILE. --json prints\n"
    "{\"rows\", \"row_groups\", \"row_group_rows\", \"columns\": [{\"name\", \"type\",\n"
    "\"logical_type\", \"optional\"}], \"fingerprint\", \"created_by\", \"size\"}.\n";
static const char usage_concat[] =
    "usage: tollgate parquet concat -o OUT IN...\n"
    "Write OUT with the row groups of every IN, in order. The schemas must be equal\n"
    "(same fingerprint); key-value metadata and created_by come from the first input.\n";
static const char usage_splice[] =
    "usage: tollgate parquet splice -o OUT BUNDLE --range A:B [--with FILE]\n"
    "Write OUT = BUNDLE with its row groups A..B-1 (0-based, B excluded) replaced by\n"
    "all row groups of FILE, or removed without --with. A:A with --with inserts.\n";
static const char usage_project[] =
    "usage: tollgate parquet project -o OUT --columns a,b,c IN\n"
    "Write OUT with only the named top-level columns of IN (nested columns whole),\n"
    "in IN's column order.\n";
static const char usage_gen[] =
    "usage: tollgate parquet gen -o OUT --rows N [--seed S] [--date YYYY-MM-DD]\n"
    "                            [--group-rows N] [--page-rows N] [--page-index]\n"
    "Write a demo market-data table: ts (timestamp, UTC, microseconds), symbol,\n"
    "price, volume, sentiment (nullable), day (date), halted (boolean). PLAIN,\n"
    "uncompressed, deterministic for a seed. Default date: today (UTC).\n"
    "--group-rows: rows per row group (default 100000); --page-rows: rows per data\n"
    "page (default: one page per column chunk); --page-index: write column and\n"
    "offset indexes.\n";

static int usage_err(const char *usage, const char *fmt, const char *arg)
{
    fprintf(stderr, "tollgate parquet: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n%s", usage);
    return 2;
}

static int fail(const char *cmd, int rc, const char *err)
{
    fprintf(stderr, "tollgate parquet %s: %s\n", cmd, err[0] ? err : pq_strerror(rc));
    return 1;
}

static int is_help(const char *a)
{
    return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0;
}

static void report(const char *out, const struct pq_result *r)
{
    printf("wrote %s: %" PRIu64 " rows, %zu row groups, %" PRIu64 " bytes\n", out, r->rows,
           r->row_groups, r->size);
}

/* ---- info ---------------------------------------------------------------------------- */

static void json_str(FILE *o, const char *s)
{
    if (!s) {
        fputs("null", o);
        return;
    }
    fputc('"', o);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(o, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(o, "\\u%04x", *p);
        else
            fputc(*p, o);
    }
    fputc('"', o);
}

static int cmd_info(int argc, char **argv)
{
    const char *path = NULL;
    int json = 0, rc;
    char err[PQ_ERRMSG_MAX] = "", fp[65];
    struct pq_file *f = NULL;

    for (int i = 1; i < argc; i++) {
        if (is_help(argv[i])) {
            fputs(usage_info, stdout);
            return 0;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return usage_err(usage_info, "unknown option '%s'", argv[i]);
        } else if (path) {
            return usage_err(usage_info, "one file at a time (extra '%s')", argv[i]);
        } else {
            path = argv[i];
        }
    }
    if (!path)
        return usage_err(usage_info, "%s", "missing FILE");
    if ((rc = pq_open(path, &f, err)) < 0)
        return fail("info", rc, err);
    pq_fingerprint_hex(f, fp);
    size_t nrg = pq_num_row_groups(f), nc = pq_num_columns(f);
    if (json) {
        printf("{\"rows\":%" PRIu64 ",\"row_groups\":%zu,\"row_group_rows\":[", pq_num_rows(f),
               nrg);
        for (size_t i = 0; i < nrg; i++)
            printf("%s%" PRIu64, i ? "," : "", pq_row_group_rows(f, i));
        printf("],\"columns\":[");
        for (size_t i = 0; i < nc; i++) {
            struct pq_column c;
            (void)pq_column_get(f, i, &c);
            printf("%s{\"name\":", i ? "," : "");
            json_str(stdout, c.name);
            printf(",\"type\":");
            json_str(stdout, c.type);
            printf(",\"logical_type\":");
            json_str(stdout, c.logical_type[0] ? c.logical_type : NULL);
            printf(",\"optional\":%s}", c.optional ? "true" : "false");
        }
        printf("],\"fingerprint\":\"%s\",\"created_by\":", fp);
        json_str(stdout, pq_created_by(f));
        printf(",\"size\":%" PRIu64 "}\n", pq_file_size(f));
    } else {
        printf("file         %s\n", path);
        printf("size         %" PRIu64 " bytes\n", pq_file_size(f));
        printf("rows         %" PRIu64 "\n", pq_num_rows(f));
        printf("row groups   %zu", nrg);
        for (size_t i = 0; i < nrg && i < 64; i++)
            printf("%s%" PRIu64, i ? " " : " (rows: ", pq_row_group_rows(f, i));
        printf("%s\n", nrg == 0 ? "" : nrg > 64 ? " ...)" : ")");
        printf("created by   %s\n", pq_created_by(f) ? pq_created_by(f) : "-");
        printf("fingerprint  %s\n", fp);
        printf("columns      %zu\n", nc);
        for (size_t i = 0; i < nc; i++) {
            struct pq_column c;
            (void)pq_column_get(f, i, &c);
            printf("  %-20s %-10s %-24s %s\n", c.name, c.type,
                   c.logical_type[0] ? c.logical_type : "-",
                   c.repeated   ? "repeated"
                   : c.optional ? "optional"
                                : "required");
        }
    }
    pq_close(f);
    return 0;
}

/* ---- concat / splice / project --------------------------------------------------------- */

static int cmd_concat(int argc, char **argv)
{
    const char *out = NULL;
    struct pq_file **in = NULL;
    size_t n = 0;
    char err[PQ_ERRMSG_MAX] = "";
    struct pq_result r;
    int rc = 0, status = 1;

    for (int i = 1; i < argc; i++)
        if (is_help(argv[i])) {
            fputs(usage_concat, stdout);
            return 0;
        }
    if (!(in = calloc((size_t)argc, sizeof *in)))
        return fail("concat", -PQ_ERR_NOMEM, "out of memory");
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
            out = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1]) {
            status = usage_err(usage_concat, "unknown option or missing value: '%s'", argv[i]);
            goto out;
        } else if (n >= PQ_CLI_INPUTS_MAX) {
            status = usage_err(usage_concat, "too many inputs (at '%s')", argv[i]);
            goto out;
        } else if ((rc = pq_open(argv[i], &in[n], err)) < 0) {
            status = fail("concat", rc, err);
            goto out;
        } else {
            n++;
        }
    }
    if (!out || n == 0) {
        status = usage_err(usage_concat, "%s", !out ? "missing -o OUT" : "no input files");
        goto out;
    }
    if ((rc = pq_concat(out, in, n, &r, err)) < 0) {
        status = fail("concat", rc, err);
        goto out;
    }
    report(out, &r);
    status = 0;
out:
    for (size_t i = 0; i < n; i++)
        pq_close(in[i]);
    free(in);
    return status;
}

static int parse_range(const char *s, size_t *a, size_t *b)
{
    struct str head, tail;
    uint64_t x, y;
    if (!str_split(str_c(s), ':', &head, &tail) || str_to_u64(head, &x) < 0 ||
        str_to_u64(tail, &y) < 0 || x > SIZE_MAX || y > SIZE_MAX)
        return -1;
    *a = (size_t)x;
    *b = (size_t)y;
    return 0;
}

static int cmd_splice(int argc, char **argv)
{
    const char *out = NULL, *bundle = NULL, *with = NULL, *range = NULL;
    struct pq_file *fb = NULL, *fw = NULL;
    char err[PQ_ERRMSG_MAX] = "";
    struct pq_result r;
    size_t a = 0, b = 0;
    int rc, status = 1;

    for (int i = 1; i < argc; i++) {
        if (is_help(argv[i])) {
            fputs(usage_splice, stdout);
            return 0;
        } else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
            out = argv[++i];
        } else if (strcmp(argv[i], "--range") == 0 && i + 1 < argc) {
            range = argv[++i];
        } else if (strcmp(argv[i], "--with") == 0 && i + 1 < argc) {
            with = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return usage_err(usage_splice, "unknown option or missing value: '%s'", argv[i]);
        } else if (bundle) {
            return usage_err(usage_splice, "one bundle at a time (extra '%s')", argv[i]);
        } else {
            bundle = argv[i];
        }
    }
    if (!out || !bundle || !range)
        return usage_err(usage_splice, "%s",
                         !out      ? "missing -o OUT"
                         : !bundle ? "missing BUNDLE"
                                   : "missing --range A:B");
    if (parse_range(range, &a, &b) < 0)
        return usage_err(usage_splice, "bad --range '%s' (want A:B, e.g. 3:5)", range);
    if ((rc = pq_open(bundle, &fb, err)) < 0 || (with && (rc = pq_open(with, &fw, err)) < 0)) {
        status = fail("splice", rc, err);
        goto out;
    }
    if ((rc = pq_splice(out, fb, a, b, fw, &r, err)) < 0) {
        status = fail("splice", rc, err);
        goto out;
    }
    report(out, &r);
    status = 0;
out:
    pq_close(fb);
    pq_close(fw);
    return status;
}

static int cmd_project(int argc, char **argv)
{
    const char *out = NULL, *in = NULL, *cols = NULL;
    const char *names[PQ_CLI_COLUMNS_MAX];
    char err[PQ_ERRMSG_MAX] = "", *copy = NULL;
    struct pq_file *f = NULL;
    struct pq_result r;
    size_t n = 0;
    int rc, status = 1;

    for (int i = 1; i < argc; i++) {
        if (is_help(argv[i])) {
            fputs(usage_project, stdout);
            return 0;
        } else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
            out = argv[++i];
        } else if (strcmp(argv[i], "--columns") == 0 && i + 1 < argc) {
            cols = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return usage_err(usage_project, "unknown option or missing value: '%s'", argv[i]);
        } else if (in) {
            return usage_err(usage_project, "one input at a time (extra '%s')", argv[i]);
        } else {
            in = argv[i];
        }
    }
    if (!out || !in || !cols)
        return usage_err(usage_project, "%s",
                         !out  ? "missing -o OUT"
                         : !in ? "missing IN"
                               : "missing --columns");
    if (!(copy = strdup(cols)))
        return fail("project", -PQ_ERR_NOMEM, "out of memory");
    for (char *save = NULL, *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (n == PQ_CLI_COLUMNS_MAX) {
            status = usage_err(usage_project, "too many columns (at '%s')", t);
            goto out;
        }
        names[n++] = t;
    }
    if (n == 0) {
        status = usage_err(usage_project, "%s", "--columns names no column");
        goto out;
    }
    if ((rc = pq_open(in, &f, err)) < 0 || (rc = pq_project(out, f, names, n, &r, err)) < 0) {
        status = fail("project", rc, err);
        goto out;
    }
    report(out, &r);
    status = 0;
out:
    pq_close(f);
    free(copy);
    return status;
}

/* ---- gen ------------------------------------------------------------------------------------ */

static int cmd_gen(int argc, char **argv)
{
    struct pq_gen_opts o = {0};
    const char *out = NULL, *rows = NULL;
    char err[PQ_ERRMSG_MAX] = "";
    struct pq_result r;
    uint64_t x;
    int64_t t;
    int rc, have_date = 0;

    for (int i = 1; i < argc; i++) {
        if (is_help(argv[i])) {
            fputs(usage_gen, stdout);
            return 0;
        } else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
            out = argv[++i];
        } else if (strcmp(argv[i], "--rows") == 0 && i + 1 < argc) {
            rows = argv[++i];
        } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            if (str_to_u64(str_c(argv[++i]), &o.seed) < 0)
                return usage_err(usage_gen, "bad --seed '%s'", argv[i]);
        } else if (strcmp(argv[i], "--group-rows") == 0 && i + 1 < argc) {
            if (str_to_u64(str_c(argv[++i]), &o.rows_per_group) < 0 || o.rows_per_group == 0)
                return usage_err(usage_gen, "bad --group-rows '%s'", argv[i]);
        } else if (strcmp(argv[i], "--page-rows") == 0 && i + 1 < argc) {
            if (str_to_u64(str_c(argv[++i]), &x) < 0 || x == 0 || x > INT32_MAX)
                return usage_err(usage_gen, "bad --page-rows '%s'", argv[i]);
            o.page_rows = (size_t)x;
        } else if (strcmp(argv[i], "--page-index") == 0) {
            o.page_index = 1;
        } else if (strcmp(argv[i], "--date") == 0 && i + 1 < argc) {
            if (time_parse_date(str_c(argv[++i]), &t) < 0)
                return usage_err(usage_gen, "bad --date '%s' (want YYYY-MM-DD)", argv[i]);
            o.day = (int32_t)(t / 86400);
            have_date = 1;
        } else {
            return usage_err(usage_gen, "unknown argument or missing value: '%s'", argv[i]);
        }
    }
    if (!out || !rows)
        return usage_err(usage_gen, "%s", !out ? "missing -o OUT" : "missing --rows N");
    if (str_to_u64(str_c(rows), &x) < 0)
        return usage_err(usage_gen, "bad --rows '%s'", rows);
    o.rows = x;
    if (!have_date) {
        int64_t now = tg_now();
        o.day = (int32_t)((now - ((now % 86400) + 86400) % 86400) / 86400);
    }
    if ((rc = pq_gen(out, &o, &r, err)) < 0)
        return fail("gen", rc, err);
    report(out, &r);
    return 0;
}

int cli_parquet_main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } cmds[] = {{"info", cmd_info},
                {"concat", cmd_concat},
                {"splice", cmd_splice},
                {"project", cmd_project},
                {"gen", cmd_gen}};
    if (argc < 2 || is_help(argv[1]) || strcmp(argv[1], "help") == 0) {
        fputs(usage_main, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (strcmp(argv[1], cmds[i].name) == 0)
            return cmds[i].fn(argc - 1, argv + 1);
    return usage_err(usage_main, "unknown command '%s'", argv[1]);
}
