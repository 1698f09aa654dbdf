/* stats.h -- download analytics without cookies (DESIGN.md "Analytics").
 *
 * User agents are reduced to three words -- a family ("Chrome", "curl", "aws-cli",
 * "Googlebot", ...), an OS ("Windows", "macOS", "iOS", "Android", "Linux", ...) and a
 * device class ("desktop", "mobile", "tablet", "bot", "tool") -- by ordered tables of
 * case-insensitive substrings: the first row that matches wins, so specific names
 * (Edg/, OPR/, SamsungBrowser/) come before the engines they embed (Chrome/, Safari/).
 * The full string is never kept. Unknown agents reduce to "other". */
#ifndef TG_STATS_H
#define TG_STATS_H

#include <stddef.h>

#include "util/util.h"

#define STATS_UA_MAX 1024 /* bytes of a User-Agent looked at; the rest is ignored */

struct stats_ua {
    const char *family; /* static strings */
    const char *os;
    const char *device;
};
void stats_ua_reduce(struct str user_agent, struct stats_ua *out);

#endif
