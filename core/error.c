/* Error helpers: see error.h. */
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>

int gd_err_set(struct gd_err *err, int code, const char *fmt, ...)
{
    if (err != NULL) {
        va_list ap;
        err->code = code;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

const char *gd_code_name(int code)
{
    switch (code) {
    case GD_OK: return "ok";
    case GD_EINVAL: return "invalid_argument";
    case GD_ENOTFOUND: return "not_found";
    case GD_ECONFLICT: return "conflict";
    case GD_ENOMEM: return "no_memory";
    case GD_EIO: return "io_error";
    case GD_ETOOBIG: return "too_large";
    case GD_EAUTH: return "unauthorized";
    case GD_EPERM: return "forbidden";
    case GD_EUNAVAIL: return "unavailable";
    case GD_ECORRUPT: return "corrupt";
    default: return "internal";
    }
}
