/* s3_xml.c -- XML out (escaping) and in (expat, for the few request bodies S3 has:
 * CreateBucketConfiguration, Delete, CompleteMultipartUpload, lifecycle). The parser
 * reports (path, text) pairs and is bounded in depth and text length; entity
 * declarations are refused (no billion laughs), external entities are never loaded. */
#include <expat.h>
#include <stdio.h>

#include "s3/s3.h"

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
