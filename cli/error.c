/* The CLI's error struct and its exit status mapping: see cli.h. */
#include <stdarg.h>
#include <stdio.h>

#include "cli/cli.h"

int cli_err_set(struct cli_err *err, int code, const char *fmt, ...)
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

int cli_exit_status(int code)
{
    switch (code) {
    case CLI_OK:
    case CLI_HELP: return CLI_EXIT_OK;
    case CLI_EUSAGE: return CLI_EXIT_USAGE;
    case CLI_ENET: return CLI_EXIT_NET;
    case CLI_EAUTH: return CLI_EXIT_AUTH;
    case CLI_EREFUSED:
    case CLI_ELOCAL:
    case CLI_ENOMEM:
    default: return CLI_EXIT_REFUSED;
    }
}

int cli_no_memory(struct cli_err *err)
{
    return cli_err_set(err, CLI_ENOMEM, "out of memory");
}
