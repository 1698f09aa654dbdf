/* rollup.c -- bench/stats.sh's rollup measurement: writes N raw analytics events spread
 * over DAYS days into DIR/meta.db (batches through meta_stats_insert, as the server's
 * writer does), then asks for the day windows of the whole range (stats_query: the
 * 30-minute windows are computed from the raw events, hours and days from them, and
 * every closed window is saved), then asks again (all loaded). Prints one JSON line:
 *   {"events", "days", "insert_s", "rollup_s", "again_s", "downloads", "rss_mib"}
 * usage: rollup DIR N DAYS */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "meta/meta.h"
#include "stats/stats.h"

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: rollup DIR N DAYS\n");
        return 2;
    }
    const char *dir = argv[1];
    long long n = atoll(argv[2]);
    int days = atoi(argv[3]);
    uint8_t secret[32] = {7};
    char conf[4096];
    mkdir(dir, 0700);
    snprintf(conf, sizeof conf, "%s/rollup.conf", dir);
    FILE *f = fopen(conf, "w");
    if (!f)
        return 1;
    fputs("[stats]\nenabled = on\n", f);
    fclose(f);
    struct cfg c;
    char *err = NULL;
    struct meta *m = NULL;
    struct stats *st = NULL;
    if (cfg_load(conf, &c, &err) < 0 || meta_open(dir, secret, &m) < 0 ||
        stats_open(&c, m, &st, &err) < 0) {
        fprintf(stderr, "rollup: %s\n", err ? err : "cannot open");
        return 1;
    }
    struct meta_stats *ms = NULL;
    if (meta_stats_open(m, &ms) < 0)
        return 1;
    int64_t t0 = 1772323200; /* 2026-03-01 */
    enum { BATCH = 5000 };
    struct meta_event *ev = calloc(BATCH, sizeof *ev);
    static char keys[200][64], toks[50][24], grants[5][8];
    static uint8_t vis[10000][16];
    static const char *const refs[] = {"", "", "news.example.com", "t.co", "mail.google.com"};
    uint64_t x = 88172645463325252ull;
#define RND() (x ^= x << 13, x ^= x >> 7, x ^= x << 17, x)
    for (int i = 0; i < 5; i++)
        snprintf(grants[i], sizeof grants[i], "tier%d", i + 1);
    for (int i = 0; i < 200; i++)
        snprintf(keys[i], sizeof keys[i], "tier%d/daily/2026-03-%02d/f.parquet", i % 5 + 1,
                 i % 28 + 1);
    for (int i = 0; i < 50; i++)
        snprintf(toks[i], sizeof toks[i], "period#%d", 2900 + i);
    for (int i = 0; i < 10000; i++)
        for (int k = 0; k < 16; k++)
            vis[i][k] = (uint8_t)RND();
    double a = mono();
    int64_t span_us = (int64_t)days * 86400 * 1000000;
    for (long long done = 0; done < n;) {
        int b = n - done < BATCH ? (int)(n - done) : BATCH;
        for (int i = 0; i < b; i++) {
            int64_t t = t0 * 1000000 + (int64_t)((done + i) * (span_us / n));
            int kind = (int)(RND() % STATS_KIND_COUNT);
            ev[i] = (struct meta_event){t,
                                        kind,
                                        RND() % 10 ? 200 : 403,
                                        grants[RND() % 5],
                                        toks[RND() % 50],
                                        keys[RND() % 200],
                                        kind == STATS_DOWNLOAD ? RND() % 100000000 : 0,
                                        false,
                                        vis[RND() % 10000],
                                        "Chrome",
                                        "Linux",
                                        "desktop",
                                        refs[RND() % 5],
                                        ""};
        }
        if (meta_stats_insert(ms, ev, (size_t)b) < 0)
            return 1;
        done += b;
    }
    double ins = mono() - a;
    char from[16], to[16], e2[256];
    time_fmt_date(t0, from);
    time_fmt_date(t0 + (int64_t)(days - 1) * 86400, to);
    int64_t now = t0 + (int64_t)days * 86400 + 3600;
    json_t *j = NULL;
    a = mono();
    if (stats_query(st, STATS_WDAY, from, to, NULL, now, &j, e2) < 0) {
        fprintf(stderr, "rollup: %s\n", e2);
        return 1;
    }
    double roll = mono() - a;
    json_int_t downloads = 0;
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(j, "series"), i, v) downloads +=
        json_integer_value(json_object_get(v, "downloads"));
    json_decref(j);
    a = mono();
    if (stats_query(st, STATS_WDAY, from, to, NULL, now, &j, e2) < 0)
        return 1;
    double again = mono() - a;
    json_decref(j);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("{\"events\": %lld, \"days\": %d, \"insert_s\": %.2f, \"rollup_s\": %.2f, "
           "\"again_s\": %.3f, \"downloads\": %lld, \"rss_mib\": %.1f}\n",
           n, days, ins, roll, again, (long long)downloads, (double)ru.ru_maxrss / 1024);
    free(ev);
    meta_stats_close(ms);
    stats_close(st);
    meta_close(m);
    cfg_release(&c);
    return 0;
}
