/* lifecycle_int.h -- private to the lifecycle module: the policy as pure functions
 * (lifecycle_policy.c: no store, no clock, so the unit tests drive it with tables)
 * and what lifecycle.c feeds them. */
#ifndef TG_LIFECYCLE_INT_H
#define TG_LIFECYCLE_INT_H

#include "lifecycle/lifecycle.h"

#define LC_NAME_MAX 256
#define LC_WHY_MAX 200

/* A grant's retention. */
struct lc_grant {
    const char *name;
    const char *const *prefixes;
    size_t n_prefixes;
    unsigned keep_daily, keep_monthly;
    int keep_yearly; /* -1 = all */
};

/* A rule: [lifecycle NAME] or one S3 rule. 0 = not set. */
struct lc_rule {
    char name[LC_NAME_MAX];
    char *prefix; /* "" = the whole bucket */
    int64_t expire_s;
    unsigned keep_newest;
    int64_t abort_s;
    bool s3; /* set through the S3 API (the reason says "S3 rule") */
};

struct lc_policy {
    const struct lc_grant *grants; /* the data bucket only */
    size_t n_grants;
    const struct lc_rule *rules;
    size_t n_rules;
    bool data_bucket; /* protect _index/, inbox/, inbox-rejected/ */
};

enum lc_verdict { LC_KEEP, LC_OUT };
struct lc_obj {
    const char *key;
    int64_t mtime;      /* seconds */
    int64_t retired_us; /* 0 = live */
    /* written by lc_policy_select for live objects */
    enum lc_verdict verdict;
    char why[LC_WHY_MAX];
};

/* Marks every live object KEEP or OUT (with a reason) at `now`. Retired objects are
 * left KEEP (they are past the policy already). Order of objs does not matter. */
int lc_policy_select(const struct lc_policy *p, struct lc_obj *objs, size_t n, int64_t now);

/* The length of the unit `key` belongs to: the folder "<prefix><kind>/<period>/" when
 * key is a file of a grant's layout (daily, mtd, monthly), else the whole key. */
size_t lc_unit_len(const struct lc_policy *p, const char *key);
/* The grant whose prefix holds key, or NULL. */
const struct lc_grant *lc_grant_of(const struct lc_policy *p, const char *key);

/* A unit of retired objects: LC_DELETE when the latest retirement among its members
 * is at least LIFECYCLE_SETTLE_S old and now >= horizon (the latest link expiry of
 * any member), else LC_WAIT. */
enum lifecycle_act lc_retired_decide(int64_t retired_us_max, int64_t horizon, int64_t now_us);

#endif
