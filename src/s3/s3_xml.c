/* s3_xml.c -- XML out (escaping) and in (expat, for the few request bodies S3 has:
 * CreateBucketConfiguration, Delete, CompleteMultipartUpload, lifecycle). The parser
 * reports (path, text) pairs and is bounded in depth and text length; entity
 * declarations are refused (no billion laughs), external entities are never loaded.
 * s3_lc_parse reads a lifecycle configuration into rules on top of it. */
#include <expat.h>
#include <stdio.h>
#include <stdlib.h>

#include "crypto/crypto.h"
#include "meta/meta.h"
#include "s3/s3_int.h"

#define XML_DEPTH_MAX 8
#define XML_TEXT_MAX 4096
#define XML_PATH_MAX 512

int s3_xml_escape(struct buf *b, struct str s)
{
    size_t start = 0;
    int rc = 0;
    for (size_t i = 0; i < s.len && rc == 0; i++) {
        const char *rep = NULL;
        switch (s.ptr[i]) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&apos;";
            break;
        case '\r':
            rep = "&#13;";
            break;
        default:
            /* Control characters are not allowed in XML 1.0: S3 keys may hold them,
             * so write them as references a client can read back. */
            if ((unsigned char)s.ptr[i] < 0x20 && s.ptr[i] != '\n' && s.ptr[i] != '\t') {
                char tmp[8];
                snprintf(tmp, sizeof tmp, "&#%d;", s.ptr[i]);
                rc = buf_add(b, s.ptr + start, i - start);
                if (rc == 0)
                    rc = buf_adds(b, tmp);
                start = i + 1;
            }
            continue;
        }
        rc = buf_add(b, s.ptr + start, i - start);
        if (rc == 0)
            rc = buf_adds(b, rep);
        start = i + 1;
    }
    if (rc == 0)
        rc = buf_add(b, s.ptr + start, s.len - start);
    return rc;
}

struct parse {
    XML_Parser p;
    int (*fn)(void *ctx, const char *path, const char *text);
    void *ctx;
    int depth;
    size_t plen[XML_DEPTH_MAX + 1]; /* path length at each depth */
    char path[XML_PATH_MAX];
    size_t path_len;
    char text[XML_TEXT_MAX + 1];
    size_t text_len;
    bool has_text;
    int rc;
};

static void fail(struct parse *ps, int rc)
{
    if (ps->rc == 0)
        ps->rc = rc;
    XML_StopParser(ps->p, XML_FALSE);
}

static void on_start(void *user, const XML_Char *name, const XML_Char **attrs)
{
    struct parse *ps = user;
    (void)attrs;
    if (ps->rc)
        return;
    if (ps->depth >= XML_DEPTH_MAX) {
        fail(ps, -ERR_MALFORMED_XML);
        return;
    }
    /* Drop a namespace prefix from expat's "uri|local" form. */
    const char *local = strrchr(name, '|');
    local = local ? local + 1 : name;
    size_t n = strlen(local);
    size_t need = ps->path_len + (ps->path_len ? 1 : 0) + n;
    if (need >= sizeof ps->path) {
        fail(ps, -ERR_MALFORMED_XML);
        return;
    }
    ps->plen[ps->depth++] = ps->path_len;
    if (ps->path_len)
        ps->path[ps->path_len++] = '/';
    memcpy(ps->path + ps->path_len, local, n);
    ps->path_len += n;
    ps->path[ps->path_len] = '\0';
    ps->text_len = 0;
    ps->has_text = false;
}

static void on_text(void *user, const XML_Char *s, int len)
{
    struct parse *ps = user;
    if (ps->rc)
        return;
    if (ps->text_len + (size_t)len > XML_TEXT_MAX) {
        fail(ps, -ERR_MALFORMED_XML);
        return;
    }
    memcpy(ps->text + ps->text_len, s, (size_t)len);
    ps->text_len += (size_t)len;
    ps->has_text = true;
}

static void on_end(void *user, const XML_Char *name)
{
    struct parse *ps = user;
    (void)name;
    if (ps->rc)
        return;
    int rc = 0;
    if (ps->has_text) {
        ps->text[ps->text_len] = '\0';
        rc = ps->fn(ps->ctx, ps->path, ps->text);
    }
    if (rc == 0)
        rc = ps->fn(ps->ctx, ps->path, NULL);
    if (rc < 0) {
        fail(ps, rc);
        return;
    }
    ps->path_len = ps->plen[--ps->depth];
    ps->path[ps->path_len] = '\0';
    ps->text_len = 0;
    ps->has_text = false;
}

static void on_entity_decl(void *user, const XML_Char *name, int is_param, const XML_Char *value,
                           int value_len, const XML_Char *base, const XML_Char *system_id,
                           const XML_Char *public_id, const XML_Char *notation)
{
    fail(user, -ERR_MALFORMED_XML);
}

int s3_xml_parse(struct str body, int (*fn)(void *ctx, const char *path, const char *text),
                 void *ctx)
{
    struct parse ps = {0};
    ps.fn = fn;
    ps.ctx = ctx;
    ps.p = XML_ParserCreateNS(NULL, '|');
    if (!ps.p)
        return -ERR_NOMEM;
    XML_SetUserData(ps.p, &ps);
    XML_SetElementHandler(ps.p, on_start, on_end);
    XML_SetCharacterDataHandler(ps.p, on_text);
    XML_SetEntityDeclHandler(ps.p, on_entity_decl);
    if (body.len > INT32_MAX ||
        XML_Parse(ps.p, body.ptr ? body.ptr : "", (int)body.len, XML_TRUE) != XML_STATUS_OK) {
        if (ps.rc == 0)
            ps.rc = -ERR_MALFORMED_XML;
    }
    XML_ParserFree(ps.p);
    return ps.rc;
}

/* ---- lifecycle configuration (PutBucketLifecycleConfiguration) ---- */

/* What S3 accepts and tollgate applies: Rule/ID, Status, Filter/Prefix (or the legacy
 * Rule/Prefix), Expiration/Days, AbortIncompleteMultipartUpload/DaysAfterInitiation.
 * What tollgate cannot honour (transitions, dates, versions, tag and size filters) is
 * refused with NotImplemented rather than stored and ignored. */
#define LC_PATH "LifecycleConfiguration/Rule/"

struct lc_rule_parse {
    struct meta_lc_rule r;
    bool has_status, has_filter, has_legacy, has_days;
    struct buf prefix;
};
struct lc_parse {
    struct meta_lc_rule *rules;
    size_t n, cap;
    struct lc_rule_parse cur;
    bool root_ok;
};

static bool blank(const char *s)
{
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
            return false;
    return true;
}

static int lc_days(const char *text, int64_t *out)
{
    uint64_t d;
    if (str_to_u64(str_trim(str_c(text)), &d) < 0 || d == 0 || d > 100000)
        return -ERR_INVALID; /* S3: 'Days' must be a positive integer */
    *out = (int64_t)d;
    return 0;
}

static int lc_rule_end(struct lc_parse *lp)
{
    struct lc_rule_parse *cr = &lp->cur;
    if (!cr->has_status || (cr->has_filter && cr->has_legacy) ||
        (!cr->has_filter && !cr->has_legacy))
        return -ERR_MALFORMED_XML;
    if (!cr->r.expire_days && !cr->r.abort_days)
        return -ERR_INVALID_REQUEST; /* at least one action needs to be specified */
    if (lp->n == META_LC_RULES_MAX)
        return -ERR_INVALID_REQUEST;
    if (!cr->r.id[0]) { /* S3 names an unnamed rule */
        uint8_t rnd[12];
        if (crypto_random(rnd, sizeof rnd) < 0)
            return -ERR_INTERNAL;
        b64url_encode(rnd, sizeof rnd, cr->r.id);
    }
    for (size_t i = 0; i < lp->n; i++)
        if (strcmp(lp->rules[i].id, cr->r.id) == 0)
            return -ERR_INVALID; /* rule IDs must be unique */
    if (lp->n == lp->cap) {
        size_t cap = lp->cap ? lp->cap * 2 : 8;
        struct meta_lc_rule *nr = realloc(lp->rules, cap * sizeof *nr);
        if (!nr)
            return -ERR_NOMEM;
        lp->rules = nr;
        lp->cap = cap;
    }
    cr->r.prefix = buf_take(&cr->prefix);
    lp->rules[lp->n++] = cr->r;
    memset(&cr->r, 0, sizeof cr->r);
    cr->has_status = cr->has_filter = cr->has_legacy = cr->has_days = false;
    return 0;
}

static int lc_visit(void *ctx, const char *path, const char *text)
{
    struct lc_parse *lp = ctx;
    struct lc_rule_parse *cr = &lp->cur;
    static const char *const UNSUPPORTED[] = {
        LC_PATH "Transition",
        LC_PATH "Transitions",
        LC_PATH "NoncurrentVersionTransition",
        LC_PATH "NoncurrentVersionExpiration",
        LC_PATH "Expiration/Date",
        LC_PATH "Expiration/ExpiredObjectDeleteMarker",
        LC_PATH "Filter/Tag",
        LC_PATH "Filter/And",
        LC_PATH "Filter/ObjectSizeGreaterThan",
        LC_PATH "Filter/ObjectSizeLessThan",
        LC_PATH "Tag",
        NULL,
    };
    if (strncmp(path, "LifecycleConfiguration", 22) != 0 || (path[22] && path[22] != '/'))
        return -ERR_MALFORMED_XML;
    lp->root_ok = true;
    for (const char *const *u = UNSUPPORTED; *u; u++) {
        size_t ul = strlen(*u);
        if (strncmp(path, *u, ul) == 0 && (path[ul] == '\0' || path[ul] == '/'))
            return -ERR_NOT_IMPLEMENTED;
    }
    if (strcmp(path, "LifecycleConfiguration") == 0 || strcmp(path, LC_PATH "Filter") == 0 ||
        strcmp(path, LC_PATH "Expiration") == 0 ||
        strcmp(path, LC_PATH "AbortIncompleteMultipartUpload") == 0) {
        if (text && !blank(text))
            return -ERR_MALFORMED_XML; /* text where elements belong */
        if (!text && strcmp(path, LC_PATH "Filter") == 0)
            cr->has_filter = true;
        if (!text && strcmp(path, LC_PATH "Expiration") == 0 && !cr->r.expire_days)
            return -ERR_MALFORMED_XML; /* an Expiration without Days */
        if (!text && strcmp(path, LC_PATH "AbortIncompleteMultipartUpload") == 0 &&
            !cr->r.abort_days)
            return -ERR_MALFORMED_XML;
        return 0;
    }
    if (strcmp(path, "LifecycleConfiguration/Rule") == 0)
        return text ? 0 : lc_rule_end(lp);
    if (!text) {
        /* an element's end: only the known ones exist */
        static const char *const KNOWN[] = {
            LC_PATH "ID",
            LC_PATH "Status",
            LC_PATH "Prefix",
            LC_PATH "Filter/Prefix",
            LC_PATH "Expiration/Days",
            LC_PATH "AbortIncompleteMultipartUpload/DaysAfterInitiation",
            NULL,
        };
        for (const char *const *k = KNOWN; *k; k++)
            if (strcmp(path, *k) == 0) {
                if (strcmp(path, LC_PATH "Prefix") == 0)
                    cr->has_legacy = true; /* <Prefix/> too: the whole bucket */
                return 0;
            }
        return -ERR_MALFORMED_XML;
    }
    if (strcmp(path, LC_PATH "ID") == 0)
        return str_copy(str_c(text), cr->r.id, sizeof cr->r.id) < 0 ? -ERR_INVALID : 0;
    if (strcmp(path, LC_PATH "Status") == 0) {
        if (strcmp(text, "Enabled") != 0 && strcmp(text, "Disabled") != 0)
            return -ERR_MALFORMED_XML;
        cr->r.enabled = text[0] == 'E';
        cr->has_status = true;
        return 0;
    }
    if (strcmp(path, LC_PATH "Prefix") == 0 || strcmp(path, LC_PATH "Filter/Prefix") == 0) {
        if (strlen(text) > STORE_KEY_MAX)
            return -ERR_INVALID;
        buf_reset(&cr->prefix);
        return buf_adds(&cr->prefix, text) < 0 ? -ERR_NOMEM : 0;
    }
    if (strcmp(path, LC_PATH "Expiration/Days") == 0)
        return lc_days(text, &cr->r.expire_days);
    if (strcmp(path, LC_PATH "AbortIncompleteMultipartUpload/DaysAfterInitiation") == 0)
        return lc_days(text, &cr->r.abort_days);
    return -ERR_MALFORMED_XML;
}

int s3_lc_parse(struct str body, struct meta_lc_rule **out, size_t *n)
{
    struct lc_parse lp = {0};
    int rc = s3_xml_parse(body, lc_visit, &lp);
    if (rc == 0 && (!lp.root_ok || lp.n == 0))
        rc = -ERR_MALFORMED_XML;
    buf_release(&lp.cur.prefix);
    if (rc < 0) {
        meta_lc_rules_free(lp.rules, lp.n);
        return rc;
    }
    *out = lp.rules;
    *n = lp.n;
    return 0;
}
