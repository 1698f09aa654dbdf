/* util_err.c -- the error table's lookups: one place maps a project code to its HTTP
 * status, S3 code and message. -errno values map to 500 InternalError. */
#include <string.h>

#include "util/util.h"

struct err_row {
    const char *name;
    int status;
    const char *code, *msg;
};

static const struct err_row rows[] = {
#define TG_ERR_ROW(name, status, code, msg) {#name, status, code, msg},
    TG_ERRORS(TG_ERR_ROW)
#undef TG_ERR_ROW
};

static const struct err_row *err_row(int rc)
{
    int e = -rc;
    if (e > ERR_NONE && e < ERR_LAST)
        return &rows[e - ERR_NONE - 1];
    return NULL;
}

int err_http_status(int rc)
{
    const struct err_row *r = err_row(rc);
    return r ? r->status : 500;
}

const char *err_s3_code(int rc)
{
    const struct err_row *r = err_row(rc);
    return r ? r->code : "InternalError";
}

const char *err_message(int rc)
{
    const struct err_row *r = err_row(rc);
    if (r)
        return r->msg;
    if (rc < 0 && -rc < ERR_NONE)
        return strerror(-rc);
    return "unknown error";
}

const char *err_name(int rc)
{
    const struct err_row *r = err_row(rc);
    return r ? r->name : "errno";
}
