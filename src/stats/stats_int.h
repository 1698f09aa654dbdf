/* stats_int.h -- private to src/stats/: salts, visitors and proxies, exposed to the
 * module's own files and its unit tests. */
#ifndef TG_STATS_INT_H
#define TG_STATS_INT_H

#include "stats/stats.h"

struct stats_salts;
int stats_salts_new(struct stats_salts **out);
void stats_salts_free(struct stats_salts *s); /* wipes; NULL-safe */
unsigned stats_salts_live(struct stats_salts *s);
/* visitor = first 16 bytes of SHA-256(salt of t's UTC day || addr || 0 || ua). */
int stats_visitor(struct stats_salts *s, int64_t t, struct str addr, struct str ua,
                  uint8_t out[STATS_VISITOR_LEN]);

struct stats_proxies;
/* A list of IPs / CIDR ranges separated by spaces or commas. */
int stats_proxies_parse(struct str list, struct stats_proxies **out, char *bad, size_t cap);
void stats_proxies_free(struct stats_proxies *p);
/* The client: the peer, or, when the peer is a trusted proxy, the right-most address
 * of X-Forwarded-For that is not a trusted proxy. Points into peer or xff. */
struct str stats_client_addr(const struct stats_proxies *p, struct str peer, struct str xff);

#endif
