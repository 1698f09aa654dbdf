/* stats_ua.c -- the user-agent tables (see stats.h). */
#include <string.h>
#include <strings.h>

#include "stats/stats.h"

enum dev { D_NONE, D_DESKTOP, D_MOBILE, D_TABLET, D_BOT, D_TOOL };
static const char *const DEV_NAME[] = {"desktop", "desktop", "mobile", "tablet", "bot", "tool"};

/* Families, first match wins. dev: the class the family implies (D_NONE: from the OS). */
static const struct {
    const char *needle, *family;
    enum dev dev;
} FAMILIES[] = {
    /* crawlers and link previewers first: they often embed a browser's string */
    {"Googlebot", "Googlebot", D_BOT},
    {"bingbot", "Bingbot", D_BOT},
    {"DuckDuckBot", "DuckDuckBot", D_BOT},
    {"YandexBot", "YandexBot", D_BOT},
    {"Baiduspider", "Baiduspider", D_BOT},
    {"Applebot", "Applebot", D_BOT},
    {"GPTBot", "GPTBot", D_BOT},
    {"ClaudeBot", "ClaudeBot", D_BOT},
    {"CCBot", "CCBot", D_BOT},
    {"AhrefsBot", "AhrefsBot", D_BOT},
    {"SemrushBot", "SemrushBot", D_BOT},
    {"Slackbot", "Slackbot", D_BOT},
    {"Slack-ImgProxy", "Slackbot", D_BOT},
    {"Discordbot", "Discordbot", D_BOT},
    {"TelegramBot", "TelegramBot", D_BOT},
    {"Twitterbot", "Twitterbot", D_BOT},
    {"facebookexternalhit", "Facebook", D_BOT},
    {"Facebot", "Facebook", D_BOT},
    {"LinkedInBot", "LinkedInBot", D_BOT},
    {"WhatsApp", "WhatsApp", D_BOT},
    {"SkypeUriPreview", "Skype", D_BOT},
    {"redditbot", "Redditbot", D_BOT},
    {"Embedly", "Embedly", D_BOT},
    {"UptimeRobot", "UptimeRobot", D_BOT},
    {"Prometheus", "Prometheus", D_BOT},
    {"HeadlessChrome", "HeadlessChrome", D_BOT},
    {"bot/", "other bot", D_BOT},
    {"spider", "other bot", D_BOT},
    {"crawler", "other bot", D_BOT},
    /* S3 clients and HTTP tools */
    {"aws-cli/", "aws-cli", D_TOOL},
    {"Boto3/", "boto3", D_TOOL},
    {"Botocore/", "botocore", D_TOOL},
    {"aws-sdk-js", "aws-sdk-js", D_TOOL},
    {"aws-sdk-java", "aws-sdk-java", D_TOOL},
    {"aws-sdk-go", "aws-sdk-go", D_TOOL},
    {"aws-sdk-rust", "aws-sdk-rust", D_TOOL},
    {"rclone/", "rclone", D_TOOL},
    {"s3cmd/", "s3cmd", D_TOOL},
    {"MinIO (", "minio-client", D_TOOL},
    {"Cyberduck/", "Cyberduck", D_TOOL},
    {"DuckDB", "DuckDB", D_TOOL},
    {"curl/", "curl", D_TOOL},
    {"Wget/", "Wget", D_TOOL},
    {"python-requests/", "python-requests", D_TOOL},
    {"python-urllib", "python-urllib", D_TOOL},
    {"aiohttp/", "aiohttp", D_TOOL},
    {"httpx/", "httpx", D_TOOL},
    {"HTTPie/", "HTTPie", D_TOOL},
    {"Go-http-client/", "Go-http-client", D_TOOL},
    {"okhttp/", "okhttp", D_TOOL},
    {"Apache-HttpClient/", "Apache-HttpClient", D_TOOL},
    {"Java/", "Java", D_TOOL},
    {"node-fetch", "node-fetch", D_TOOL},
    {"axios/", "axios", D_TOOL},
    {"undici", "node", D_TOOL},
    {"PostmanRuntime/", "Postman", D_TOOL},
    {"WindowsPowerShell/", "PowerShell", D_TOOL},
    {"libcurl", "curl", D_TOOL},
    /* browsers: specific ones before the engines they carry */
    {"Edg/", "Edge", D_NONE},
    {"EdgA/", "Edge", D_NONE},
    {"EdgiOS/", "Edge", D_NONE},
    {"Edge/", "Edge", D_NONE},
    {"OPR/", "Opera", D_NONE},
    {"Opera", "Opera", D_NONE},
    {"YaBrowser/", "Yandex Browser", D_NONE},
    {"SamsungBrowser/", "Samsung Internet", D_NONE},
    {"Vivaldi/", "Vivaldi", D_NONE},
    {"Brave", "Brave", D_NONE},
    {"FxiOS/", "Firefox", D_NONE},
    {"Firefox/", "Firefox", D_NONE},
    {"CriOS/", "Chrome", D_NONE},
    {"Chromium/", "Chromium", D_NONE},
    {"Chrome/", "Chrome", D_NONE},
    {"MSIE ", "Internet Explorer", D_NONE},
    {"Trident/", "Internet Explorer", D_NONE},
    {"Safari/", "Safari", D_NONE},
    {"AppleWebKit/", "Safari", D_NONE},
};

/* Operating systems, first match wins; dev: what the OS says about the device. */
static const struct {
    const char *needle, *os;
    enum dev dev;
} SYSTEMS[] = {
    {"iPad", "iOS", D_TABLET},
    {"iPhone", "iOS", D_MOBILE},
    {"iPod", "iOS", D_MOBILE},
    {"Android", "Android", D_MOBILE}, /* tablet when "Mobile" is absent: see below */
    {"CrOS", "ChromeOS", D_DESKTOP},
    {"Windows Phone", "Windows Phone", D_MOBILE},
    {"Windows", "Windows", D_DESKTOP},
    {"Win64", "Windows", D_DESKTOP},
    {"Macintosh", "macOS", D_DESKTOP},
    {"Mac OS X", "macOS", D_DESKTOP},
    {"Darwin", "macOS", D_DESKTOP},
    {"macos", "macOS", D_DESKTOP},
    {"FreeBSD", "FreeBSD", D_DESKTOP},
    {"OpenBSD", "OpenBSD", D_DESKTOP},
    {"Linux", "Linux", D_DESKTOP},
    {"X11", "Linux", D_DESKTOP},
};

static bool has(struct str s, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= s.len; i++)
        if (strncasecmp(s.ptr + i, needle, n) == 0)
            return true;
    return false;
}

void stats_ua_reduce(struct str ua, struct stats_ua *out)
{
    if (!ua.ptr)
        ua.len = 0;
    if (ua.len > STATS_UA_MAX)
        ua.len = STATS_UA_MAX;
    out->family = "other";
    out->os = "other";
    enum dev fam_dev = D_NONE, os_dev = D_NONE;
    for (size_t i = 0; i < sizeof FAMILIES / sizeof FAMILIES[0]; i++)
        if (has(ua, FAMILIES[i].needle)) {
            out->family = FAMILIES[i].family;
            fam_dev = FAMILIES[i].dev;
            break;
        }
    for (size_t i = 0; i < sizeof SYSTEMS / sizeof SYSTEMS[0]; i++)
        if (has(ua, SYSTEMS[i].needle)) {
            out->os = SYSTEMS[i].os;
            os_dev = SYSTEMS[i].dev;
            if (os_dev == D_MOBILE && strcmp(out->os, "Android") == 0 && !has(ua, "Mobile"))
                os_dev = D_TABLET;
            break;
        }
    enum dev d = fam_dev != D_NONE ? fam_dev : os_dev;
    if (d == D_NONE) /* an unknown agent: a browser with "Mobile" in it, or nothing known */
        d = has(ua, "Mobile") ? D_MOBILE : ua.len ? D_DESKTOP : D_TOOL;
    if (ua.len == 0)
        out->family = "none";
    out->device = DEV_NAME[d];
}
