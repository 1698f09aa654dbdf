/* test_stats_ua.c -- stats_ua_reduce on real User-Agent strings (browsers on every
 * platform, S3 clients as they send them, HTTP tools, crawlers and link previewers). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "stats/stats.h"

static const struct {
    const char *ua, *family, *os, *device;
} CASES[] = {
    /* desktop browsers */
    {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/120.0.0.0 Safari/537.36",
     "Chrome", "Windows", "desktop"},
    {"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/119.0.0.0 Safari/537.36",
     "Chrome", "macOS", "desktop"},
    {"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/118.0.0.0 "
     "Safari/537.36",
     "Chrome", "Linux", "desktop"},
    {"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/120.0.0.0 Safari/537.36",
     "Chrome", "ChromeOS", "desktop"},
    {"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0", "Firefox",
     "Windows", "desktop"},
    {"Mozilla/5.0 (Macintosh; Intel Mac OS X 14.2; rv:121.0) Gecko/20100101 Firefox/121.0",
     "Firefox", "macOS", "desktop"},
    {"Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0", "Firefox",
     "Linux", "desktop"},
    {"Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Firefox/115.0", "Firefox", "Linux",
     "desktop"},
    {"Mozilla/5.0 (X11; FreeBSD amd64; rv:109.0) Gecko/20100101 Firefox/115.0", "Firefox",
     "FreeBSD", "desktop"},
    {"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.2 Safari/605.1.15",
     "Safari", "macOS", "desktop"},
    {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0",
     "Edge", "Windows", "desktop"},
    {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/52.0.2743.116 Safari/537.36 Edge/15.15063",
     "Edge", "Windows", "desktop"},
    {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/119.0.0.0 Safari/537.36 OPR/105.0.0.0",
     "Opera", "Windows", "desktop"},
    {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/118.0.0.0 YaBrowser/23.11.0.0 Safari/537.36",
     "Yandex Browser", "Windows", "desktop"},
    {"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
     "Safari/537.36 Vivaldi/6.5.3206.48",
     "Vivaldi", "Linux", "desktop"},
    {"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Ubuntu Chromium/37.0.2062.94 Chrome/37.0.2062.94 Safari/537.36",
     "Chromium", "Linux", "desktop"},
    {"Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko", "Internet Explorer",
     "Windows", "desktop"},
    {"Mozilla/5.0 (compatible; MSIE 10.0; Windows NT 6.1; Trident/6.0)", "Internet Explorer",
     "Windows", "desktop"},
    {"Opera/9.80 (Windows NT 6.1; WOW64) Presto/2.12.388 Version/12.18", "Opera", "Windows",
     "desktop"},
    /* phones and tablets */
    {"Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
     "Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
     "Safari", "iOS", "mobile"},
    {"Mozilla/5.0 (iPad; CPU OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.2 Mobile/15E148 Safari/604.1",
     "Safari", "iOS", "tablet"},
    {"Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
     "Gecko) CriOS/120.0.6099.119 Mobile/15E148 Safari/604.1",
     "Chrome", "iOS", "mobile"},
    {"Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
     "Gecko) FxiOS/121.0 Mobile/15E148 Safari/605.1.15",
     "Firefox", "iOS", "mobile"},
    {"Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
     "Gecko) Version/17.0 EdgiOS/120.2210.126 Mobile/15E148 Safari/605.1.15",
     "Edge", "iOS", "mobile"},
    {"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/120.0.6099.144 Mobile Safari/537.36",
     "Chrome", "Android", "mobile"},
    {"Mozilla/5.0 (Linux; Android 14; Pixel 8 Pro) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/120.0.6099.144 Mobile Safari/537.36",
     "Chrome", "Android", "mobile"},
    {"Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/120.0.0.0 Safari/537.36",
     "Chrome", "Android", "tablet"},
    {"Mozilla/5.0 (Linux; Android 13; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
     "SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
     "Samsung Internet", "Android", "mobile"},
    {"Mozilla/5.0 (Android 14; Mobile; rv:121.0) Gecko/121.0 Firefox/121.0", "Firefox", "Android",
     "mobile"},
    {"Mozilla/5.0 (Linux; Android 10; HD1913) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/120.0.6099.144 Mobile Safari/537.36 EdgA/120.0.2210.84",
     "Edge", "Android", "mobile"},
    {"Mozilla/5.0 (Linux; Android 10; VOG-L29) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/120.0.6099.144 Mobile Safari/537.36 OPR/79.4.4195.76535",
     "Opera", "Android", "mobile"},
    {"Mozilla/5.0 (Windows Phone 10.0; Android 6.0.1; Microsoft; Lumia 950) AppleWebKit/537.36 "
     "(KHTML, like Gecko) Chrome/52.0.2743.116 Mobile Safari/537.36 Edge/15.14977",
     "Edge", "Android", "mobile"},
    /* S3 clients, as they send it */
    {"aws-cli/2.15.10 Python/3.11.6 Linux/6.1.0-17-amd64 exe/x86_64.debian.12 prompt/off "
     "command/s3.cp",
     "aws-cli", "Linux", "tool"},
    {"aws-cli/1.22.34 Python/3.10.12 Linux/5.15.0-91-generic botocore/1.23.34", "aws-cli", "Linux",
     "tool"},
    {"aws-cli/2.13.0 Python/3.11.4 Darwin/23.1.0 exe/x86_64 prompt/off command/s3api.get-object",
     "aws-cli", "macOS", "tool"},
    {"aws-cli/2.13.0 Python/3.11.4 Windows/10 exe/AMD64 prompt/off command/s3.ls", "aws-cli",
     "Windows", "tool"},
    {"Boto3/1.26.27 Python/3.11.2 Linux/6.1.0-13-amd64 Botocore/1.29.27", "boto3", "Linux", "tool"},
    {"Boto3/1.34.11 md/Botocore#1.34.11 ua/2.0 os/linux#6.1.0 md/arch#x86_64 lang/python#3.12.1 "
     "md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.11",
     "boto3", "Linux", "tool"},
    {"Botocore/1.31.17 ua/2.0 os/macos#23.1.0 md/arch#arm64 lang/python#3.11.6", "botocore",
     "macOS", "tool"},
    {"aws-sdk-js/3.478.0 ua/2.0 os/linux#6.1.0 lang/js md/nodejs#20.10.0 api/s3#3.478.0",
     "aws-sdk-js", "Linux", "tool"},
    {"aws-sdk-java/2.21.40 Linux/6.1.0 OpenJDK_64-Bit_Server_VM/17.0.9+9 Java/17.0.9 "
     "vendor/Eclipse_Adoptium io/sync http/Apache",
     "aws-sdk-java", "Linux", "tool"},
    {"aws-sdk-go-v2/1.24.0 os/linux lang/go#1.21.5 md/GOOS#linux md/GOARCH#amd64 api/s3#1.47.7",
     "aws-sdk-go", "Linux", "tool"},
    {"rclone/v1.60.1-DEV", "rclone", "other", "tool"},
    {"rclone/v1.65.0", "rclone", "other", "tool"},
    {"s3cmd/2.3.0", "s3cmd", "other", "tool"},
    {"MinIO (linux; amd64) minio-go/v7.0.66 mc/RELEASE.2024-01-05T05-04-32Z", "minio-client",
     "Linux", "tool"},
    {"Cyberduck/8.7.1.40770 (Mac OS X/14.2) (x86_64)", "Cyberduck", "macOS", "tool"},
    {"duckdb/v0.9.2(linux_amd64) python", "DuckDB", "Linux", "tool"},
    /* HTTP tools and libraries */
    {"curl/7.88.1", "curl", "other", "tool"},
    {"curl/8.5.0", "curl", "other", "tool"},
    {"Wget/1.21.3", "Wget", "other", "tool"},
    {"Wget/1.21.4 (linux-gnu)", "Wget", "Linux", "tool"},
    {"python-requests/2.31.0", "python-requests", "other", "tool"},
    {"Python-urllib/3.11", "python-urllib", "other", "tool"},
    {"python-httpx/0.26.0", "httpx", "other", "tool"},
    {"Python/3.11 aiohttp/3.9.1", "aiohttp", "other", "tool"},
    {"HTTPie/3.2.2", "HTTPie", "other", "tool"},
    {"Go-http-client/1.1", "Go-http-client", "other", "tool"},
    {"Go-http-client/2.0", "Go-http-client", "other", "tool"},
    {"okhttp/4.12.0", "okhttp", "other", "tool"},
    {"Apache-HttpClient/4.5.14 (Java/17.0.9)", "Apache-HttpClient", "other", "tool"},
    {"Java/17.0.9", "Java", "other", "tool"},
    {"node-fetch/1.0 (+https://github.com/bitinn/node-fetch)", "node-fetch", "other", "tool"},
    {"axios/1.6.2", "axios", "other", "tool"},
    {"undici", "node", "other", "tool"},
    {"PostmanRuntime/7.36.0", "Postman", "other", "tool"},
    {"Mozilla/5.0 (Windows NT; Windows NT 10.0; en-US) WindowsPowerShell/5.1.19041.3803",
     "PowerShell", "Windows", "tool"},
    /* crawlers and link previewers */
    {"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "Googlebot",
     "other", "bot"},
    {"Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like "
     "Gecko) Chrome/120.0.6099.129 Mobile Safari/537.36 (compatible; Googlebot/2.1; "
     "+http://www.google.com/bot.html)",
     "Googlebot", "Android", "bot"},
    {"Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", "Bingbot", "other",
     "bot"},
    {"DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)", "DuckDuckBot", "other", "bot"},
    {"Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)", "YandexBot", "other",
     "bot"},
    {"Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.0; "
     "+https://openai.com/gptbot)",
     "GPTBot", "other", "bot"},
    {"Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", "AhrefsBot", "other",
     "bot"},
    {"Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", "Slackbot", "other", "bot"},
    {"Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)", "Discordbot", "other",
     "bot"},
    {"TelegramBot (like TwitterBot)", "TelegramBot", "other", "bot"},
    {"Twitterbot/1.0", "Twitterbot", "other", "bot"},
    {"facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", "Facebook",
     "other", "bot"},
    {"LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
     "LinkedInBot", "other", "bot"},
    {"WhatsApp/2.23.20.0", "WhatsApp", "other", "bot"},
    {"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0"
     ".6099.28 Safari/537.36",
     "HeadlessChrome", "Linux", "bot"},
    {"Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)", "UptimeRobot",
     "other", "bot"},
    {"Prometheus/2.45.0", "Prometheus", "other", "bot"},
    {"Mozilla/5.0 (compatible; SomeNewCrawler/0.1)", "other bot", "other", "bot"},
    /* nothing and nonsense */
    {"", "none", "other", "tool"},
    {"Mozilla/5.0", "other", "other", "desktop"},
    {"SomethingMobile/1.0", "other", "other", "mobile"},
};

static void test_table(void **state)
{
    (void)state;
    size_t n = sizeof CASES / sizeof CASES[0];
    assert_true(n >= 60);
    unsigned bad = 0;
    for (size_t i = 0; i < n; i++) {
        struct stats_ua u;
        stats_ua_reduce(str_c(CASES[i].ua), &u);
        if (strcmp(u.family, CASES[i].family) || strcmp(u.os, CASES[i].os) ||
            strcmp(u.device, CASES[i].device)) {
            print_message("%s\n  got %s / %s / %s, want %s / %s / %s\n", CASES[i].ua, u.family,
                          u.os, u.device, CASES[i].family, CASES[i].os, CASES[i].device);
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

static void test_limits(void **state)
{
    (void)state;
    struct stats_ua u;
    stats_ua_reduce(STR_NULL, &u);
    assert_string_equal(u.family, "none");
    /* only the first STATS_UA_MAX bytes count */
    static char big[STATS_UA_MAX + 64];
    memset(big, 'x', sizeof big);
    memcpy(big + STATS_UA_MAX + 8, "curl/8", 6);
    stats_ua_reduce(str_n(big, sizeof big), &u);
    assert_string_equal(u.family, "other");
    memcpy(big + 10, "curl/8", 6);
    stats_ua_reduce(str_n(big, sizeof big), &u);
    assert_string_equal(u.family, "curl");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
