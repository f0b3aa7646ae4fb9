/* Paged listings (cli/listing.c). */
#ifndef GD_CLI_LISTING_H
#define GD_CLI_LISTING_H

#include <jansson.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "cli/output.h"

/* A paged listing: GET base?KEY=...&limit=&after=, following "next" with
 * --all, printed as a table (cells fills one row from an item into b). */
struct cli_listing {
    const char *base;           /* "/v1/kb/articles" */
    const char *const *keys;    /* query options copied from the flags */
    const char *noun;           /* "articles", for messages */
    int ncols;                  /* table columns, at most 8 */
    const char *const *headers; /* column names */
    void (*cells)(const json_t *item, char (*b)[128], const char **cells);
    void (*shape)(struct table *t); /* column caps and the flexible one */
};

/* Runs listing l with the flags in opts (its keys, limit, after, all). */
int cli_run_listing(struct cli_ctx *ctx, const struct cli_listing *l,
                   const struct args_opt *opts, struct cli_err *err);

#endif
