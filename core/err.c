#include <stdio.h>

#include "core/core.h"

const char *cm_strerror(int err)
{
    switch (err) {
    case CM_OK: return "success";
    case CM_ERR_NOMEM: return "out of memory";
    case CM_ERR_IO: return "input/output error";
    case CM_ERR_CONFIG: return "invalid configuration";
    case CM_ERR_INVALID: return "invalid input";
    case CM_ERR_NOTFOUND: return "not found";
    case CM_ERR_DB: return "database error";
    case CM_ERR_TIMEOUT: return "timed out";
    case CM_ERR_PROTOCOL: return "protocol error";
    case CM_ERR_CLOSED: return "shutting down";
    case CM_ERR_CONFLICT: return "conflict";
    case CM_ERR_AUTH: return "not authorised";
    case CM_ERR_CRYPTO: return "cryptographic failure";
    }
    return "unknown error";
}

int cm_fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}
