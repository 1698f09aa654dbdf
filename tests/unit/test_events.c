/* test_events.c -- the event bus: ring bounds and the cursor/drop semantics of SSE
 * subscribers, Last-Event-ID, the subscriber limit, wakes, shutdown, frame splitting; the
 * webhook signature (RFC 4231 known answer), the backoff schedule and the [webhook]
 * config errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "events/events.h"

/* Reads everything available (no waiting) into out; returns the number of reads. */
static int drain(struct events_sub *s, struct buf *out, size_t cap)
{
    char *tmp = malloc(cap);
    int reads = 0;
    for (;;) {
        ssize_t n = events_sub_read(s, tmp, cap, 0);
        assert_true(n >= 0);
        if (n == 0)
            break;
        buf_add(out, tmp, (size_t)n);
        reads++;
    }
    free(tmp);
    return reads;
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static void emit_n(struct events *ev, unsigned n, enum events_kind k)
{
    for (unsigned i = 0; i < n; i++)
        assert_true(events_emit(ev, k, json_pack("{s:s, s:i}", "grant", "tier1", "n", (int)i)) > 0);
}

static void test_frame_and_cursor(void **state)
{
    struct events *ev;
    char *err = NULL;
    assert_int_equal(events_open(NULL, &ev, &err), 0);
    emit_n(ev, 3, EV_PUBLISHED); /* before the subscriber: not sent */
    struct events_sub *s;
    assert_int_equal(events_sub_open(ev, false, 0, &s), 0);
    struct buf b = BUF_INIT;
    drain(s, &b, 65536);
    assert_non_null(strstr(buf_cstr(&b), "retry: 3000\n"));
    assert_int_equal(count(buf_cstr(&b), "event: "), 0);
    assert_int_equal(events_emit(ev, EV_REJECTED,
                                 json_pack("{s:s, s:s, s:s}", "grant", "tier1", "date",
                                           "2026-02-13", "reason", "not Parquet")),
                     4);
    buf_reset(&b);
    drain(s, &b, 65536);
    const char *t = buf_cstr(&b);
    assert_true(strncmp(t, "event: rejected\ndata: {", 23) == 0);
    assert_non_null(strstr(t, "\"id\":4"));
    assert_non_null(strstr(t, "\"kind\":\"rejected\""));
    assert_non_null(strstr(t, "\"reason\":\"not Parquet\""));
    assert_non_null(strstr(t, "\"time\":\""));
    assert_true(strlen(t) > 8 && strcmp(t + strlen(t) - 8, "\nid: 4\n\n") == 0);
    /* nothing new: nothing (the heartbeat only after EVENTS_HEARTBEAT_S) */
    buf_reset(&b);
    drain(s, &b, 65536);
    assert_int_equal(b.len, 0);
    events_sub_close(s);
    buf_release(&b);
    events_close(ev);
}

static void test_ring_bounds_and_drop(void **state)
{
    struct events *ev;
    char *err = NULL;
    assert_int_equal(events_open(NULL, &ev, &err), 0);
    struct events_sub *s;
    assert_int_equal(events_sub_open(ev, true, 0, &s), 0); /* Last-Event-ID: 0 = from start */
    emit_n(ev, EVENTS_RING_MAX + 10, EV_RETIRED);
    assert_int_equal(events_last_id(ev), EVENTS_RING_MAX + 10);
    struct buf b = BUF_INIT;
    buf_init(&b, 64u << 20);
    int reads = drain(s, &b, 4096);
    const char *t = buf_cstr(&b);
    /* the 10 oldest were overwritten: told once, then exactly the ring's content */
    assert_int_equal(count(t, "event: dropped\n"), 1);
    char want[96];
    snprintf(want, sizeof want, "data: {\"dropped\":10,\"first_kept\":11}\n\n");
    assert_non_null(strstr(t, want));
    assert_true(strstr(t, "event: dropped") < strstr(t, "event: retired"));
    assert_int_equal(count(t, "event: retired\n"), EVENTS_RING_MAX);
    assert_non_null(strstr(t, "\nid: 11\n\n"));
    assert_null(strstr(t, "\nid: 10\n\n"));
    snprintf(want, sizeof want, "\nid: %u\n\n", EVENTS_RING_MAX + 10);
    assert_non_null(strstr(t, want));
    assert_true(reads > 2); /* a 4 KiB cap splits the ring over many reads, whole frames */
    events_sub_close(s);

    /* a Last-Event-ID inside the ring resumes after it, with no drop */
    assert_int_equal(events_sub_open(ev, true, EVENTS_RING_MAX + 5, &s), 0);
    buf_reset(&b);
    drain(s, &b, 65536);
    assert_int_equal(count(buf_cstr(&b), "event: retired\n"), 5);
    assert_int_equal(count(buf_cstr(&b), "event: dropped\n"), 0);
    events_sub_close(s);

    /* an id from before a restart (beyond the newest) replays the ring */
    assert_int_equal(events_sub_open(ev, true, 999999, &s), 0);
    buf_reset(&b);
    drain(s, &b, 65536);
    assert_int_equal(count(buf_cstr(&b), "event: retired\n"), EVENTS_RING_MAX);
    events_sub_close(s);
    buf_release(&b);
    events_close(ev);
}

static void test_subscriber_limit_and_shutdown(void **state)
{
    struct events *ev;
    char *err = NULL;
    assert_int_equal(events_open(NULL, &ev, &err), 0);
    struct events_sub *s[EVENTS_SUBSCRIBERS_MAX + 1];
    for (int i = 0; i < EVENTS_SUBSCRIBERS_MAX; i++)
        assert_int_equal(events_sub_open(ev, false, 0, &s[i]), 0);
    assert_int_equal(events_sub_open(ev, false, 0, &s[EVENTS_SUBSCRIBERS_MAX]), -ERR_UNAVAILABLE);
    events_sub_close(s[0]);
    assert_int_equal(events_sub_open(ev, false, 0, &s[0]), 0);
    char out[512];
    assert_true(events_sub_read(s[1], out, sizeof out, 0) > 0); /* hello */
    assert_int_equal(events_sub_read(s[1], out, 100, 0), -ERR_INVALID);
    events_shutdown(ev);
    assert_int_equal(events_sub_read(s[1], out, sizeof out, 1000), -ERR_UNAVAILABLE);
    assert_true(events_emit(ev, EV_DELETED, NULL) > 0); /* emitting still works */
    for (int i = 0; i < EVENTS_SUBSCRIBERS_MAX; i++)
        events_sub_close(s[i]);
    events_close(ev);
    assert_int_equal(events_emit(NULL, EV_DELETED, json_object()), 0);
}

static void count_notify(void *ctx)
{
    (*(int *)ctx)++;
}

static void test_notify(void **state)
{
    struct events *ev;
    char *err = NULL;
    int calls = 0, other = 0;
    assert_int_equal(events_open(NULL, &ev, &err), 0);
    struct events_sub *s, *s2;
    assert_int_equal(events_sub_open(ev, false, 0, &s), 0);
    assert_int_equal(events_sub_open(ev, false, 0, &s2), 0);
    events_sub_notify(s, count_notify, &calls);
    events_sub_notify(s2, count_notify, &other);
    emit_n(ev, 2, EV_PUBLISHED);
    assert_int_equal(calls, 2); /* one wake per event */
    events_sub_close(s2);
    emit_n(ev, 1, EV_DELETED);
    assert_int_equal(other, 2); /* none after close */
    assert_int_equal(calls, 3);
    events_shutdown(ev);
    assert_int_equal(calls, 4); /* the shutdown wakes, and the next read ends */
    char out[512];
    assert_true(events_sub_read(s, out, sizeof out, 0) > 0); /* hello */
    assert_int_equal(events_sub_read(s, out, sizeof out, 0), -ERR_UNAVAILABLE);
    events_sub_close(s);
    events_close(ev);
}

static void test_signature_kat(void **state)
{
    /* RFC 4231 test case 2 */
    char sig[72];
    const char *msg = "what do ya want for nothing?";
    events_signature("Jefe", msg, strlen(msg), sig);
    assert_string_equal(sig,
                        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

static void test_backoff_schedule(void **state)
{
    static const struct {
        unsigned attempt;
        uint32_t rnd;
        int64_t lo, hi;
    } rows[] = {
        {1, 0, 0, 0},
        {1, 999, 0, 0}, /* the first attempt is immediate */
        {2, 0, 1000, 1000},
        {2, 999, 1249, 1250}, /* 1 s + < 25% jitter */
        {3, 0, 2000, 2000},
        {4, 0, 4000, 4000},
        {5, 0, 8000, 8000},
        {6, 0, 16000, 16000},
        {6, 500, 18000, 18000},  /* 16 s + 12.5% */
        {6, 1999, 19996, 19996}, /* rnd is taken mod 1000 */
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        int64_t ms = events_backoff_ms(rows[i].attempt, rows[i].rnd);
        print_message("row %zu: attempt %u rnd %u -> %lld\n", i, rows[i].attempt, rows[i].rnd,
                      (long long)ms);
        assert_true(ms >= rows[i].lo && ms <= rows[i].hi);
    }
    /* the whole schedule of EVENTS_WEBHOOK_TRIES attempts stays under a minute */
    int64_t total = 0;
    for (unsigned a = 1; a <= EVENTS_WEBHOOK_TRIES; a++)
        total += events_backoff_ms(a, 999);
    assert_true(total < 60000);
}

static int cfg_from(const char *text, struct cfg *c, char **err)
{
    char path[] = "/tmp/test_events_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    int rc = cfg_load(path, c, err);
    unlink(path);
    return rc;
}

static void test_webhook_config(void **state)
{
    static const struct {
        const char *text;
        int rc;
        const char *err; /* substring */
        size_t hooks;
    } rows[] = {
        {"[webhook a]\nurl = http://127.0.0.1:1/x\nsecret = s\n", 0, NULL, 1},
        {"[webhook a]\nurl = https://h/x\nsecret = s\nevents = published rejected\n"
         "[webhook b]\nurl = http://h/\nsecret = t\n",
         0, NULL, 2},
        {"[webhook a]\nurl = ftp://h/x\nsecret = s\n", -ERR_CONFIG, ":2: [webhook a] url", 0},
        {"[webhook a]\nurl = http://h/x\n", -ERR_CONFIG, "[webhook a] secret", 0},
        {"[webhook a]\nurl = http://h/x\nsecret = s\nevents = published nope\n", -ERR_CONFIG,
         ":4: [webhook a] events", 0},
        {"[health]\nstale_after_hour = 7\n", 0, NULL, 0},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct cfg c;
        char *err = NULL;
        print_message("row %zu\n", i);
        assert_int_equal(cfg_from(rows[i].text, &c, &err), 0);
        assert_int_equal(cfg_check_known(&c, events_config_keys, &err), 0);
        struct events *ev = NULL;
        int rc = events_open(&c, &ev, &err);
        assert_int_equal(rc, rows[i].rc);
        if (rc == 0) {
            assert_int_equal(events_webhook_count(ev), rows[i].hooks);
            events_close(ev);
        } else {
            assert_non_null(err);
            assert_non_null(strstr(err, rows[i].err));
            free(err);
        }
        cfg_release(&c);
    }
    /* health keys */
    struct cfg c;
    char *err = NULL;
    struct events_health_opts o = {0};
    assert_int_equal(cfg_from("[health]\nstale_after_hour = 24\n", &c, &err), 0);
    assert_int_equal(events_health_config(&c, &o, &err), -ERR_CONFIG);
    assert_non_null(strstr(err, "stale_after_hour"));
    free(err);
    cfg_release(&c);
    assert_int_equal(cfg_from("[health]\nlifecycle_max_age = 3h\n", &c, &err), 0);
    assert_int_equal(events_health_config(&c, &o, &err), 0);
    assert_int_equal(o.stale_after_hour, 6);
    assert_int_equal(o.lifecycle_max_age, 3 * 3600);
    cfg_release(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame_and_cursor),
        cmocka_unit_test(test_ring_bounds_and_drop),
        cmocka_unit_test(test_subscriber_limit_and_shutdown),
        cmocka_unit_test(test_notify),
        cmocka_unit_test(test_signature_kat),
        cmocka_unit_test(test_backoff_schedule),
        cmocka_unit_test(test_webhook_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
