/* Paged listings shared by `ticket list`, `kb list` and `kb proposals`:
 * GET base?KEY=...&limit=&after=, following "next" with --all, printed as
 * a table or, with --json, as the server's page (or all items). */
#include "cli/listing.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/api.h"
#include "cli/output.h"
#include "cli/strbuf.h"

static void list_path(struct strbuf *sb, const struct cli_listing *l,
                      const struct args_opt *opts, const char *after)
{
    char sep = '?';
    size_t i;

    strbuf_puts(sb, l->base);
    for (i = 0; l->keys[i] != NULL; i++) {
        const char *v = args_get(opts, l->keys[i]);
        if (v == NULL)
            continue;
        strbuf_printf(sb, "%c%s=", sep, l->keys[i]);
        strbuf_put_urlenc(sb, v);
        sep = '&';
    }
    if (after != NULL) {
        strbuf_printf(sb, "%cafter=", sep);
        strbuf_put_urlenc(sb, after);
    }
}

static char *next_cursor(const json_t *page)
{
    const json_t *next = json_object_get(page, "next");
    char b[128];

    if (next == NULL || json_is_null(next) ||
        (json_is_string(next) && json_string_length(next) == 0))
        return NULL;
    return strdup(out_scalar(next, b, sizeof b));
}

/* Runs a listing with the options limit, after and all in opts. */
int cli_run_listing(struct cli_ctx *ctx, const struct cli_listing *l,
                   const struct args_opt *opts, struct cli_err *err)
{
    const char *limit = args_get(opts, "limit");
    bool all_pages = args_get(opts, "all") != NULL;
    struct api_conn conn;
    struct table *t = NULL;
    json_t *resp = NULL, *all = NULL;
    char *cursor = NULL, *next = NULL;
    long n;
    int rc;

    if (limit != NULL) {
        char *end;
        errno = 0;
        n = strtol(limit, &end, 10);
        if (limit[0] < '0' || limit[0] > '9' || *end != '\0' || errno != 0 ||
            n < 1)
            return cli_err_set(err, CLI_EUSAGE,
                               "--limit must be a positive number");
    }
    if (args_get(opts, "after") != NULL &&
        (cursor = strdup(args_get(opts, "after"))) == NULL)
        return cli_no_memory(err);
    rc = api_open(&conn, ctx, 0, err);
    if (rc < 0) {
        free(cursor);
        return rc;
    }
    if (!ctx->json)
        t = table_new(l->ncols, l->headers);
    if (all_pages && ctx->json)
        all = json_array();
    if ((!ctx->json && t == NULL) || (all_pages && ctx->json && all == NULL)) {
        rc = cli_no_memory(err);
        goto out;
    }
    if (t != NULL)
        l->shape(t);
    for (;;) {
        struct strbuf path;
        json_t *items, *it;
        size_t i;

        strbuf_init(&path);
        list_path(&path, l, opts, cursor);
        rc = strbuf_ok(&path)
                 ? api_call(&conn, "GET", path.buf, NULL, &resp, err)
                 : cli_no_memory(err);
        strbuf_close(&path);
        if (rc < 0)
            goto out;
        items = json_object_get(resp, "items");
        if (!json_is_array(items)) {
            rc = cli_err_set(err, CLI_ENET,
                             "%s sent a list of %s without "
                             "\"items\"",
                             conn.node, l->noun);
            goto out;
        }
        if (ctx->json && !all_pages) {
            rc = out_json(resp, err);
            goto out;
        }
        json_array_foreach(items, i, it)
        {
            char b[8][128];
            const char *cells[8];
            if (all != NULL && json_array_append(all, it) != 0) {
                rc = cli_no_memory(err);
                goto out;
            }
            if (t == NULL)
                continue;
            l->cells(it, b, cells);
            if (table_add(t, cells) < 0) {
                rc = cli_no_memory(err);
                goto out;
            }
        }
        free(next);
        next = next_cursor(resp);
        json_decref(resp);
        resp = NULL;
        if (!all_pages || next == NULL)
            break;
        if (cursor != NULL && strcmp(cursor, next) == 0) {
            rc = cli_err_set(err, CLI_ENET,
                             "%s returned cursor '%s' twice; stopping",
                             conn.node, next);
            goto out;
        }
        free(cursor);
        cursor = next;
        next = NULL;
    }
    if (ctx->json) {
        json_t *doc = json_pack("{s:O, s:n}", "items", all, "next");
        rc = doc != NULL ? out_json(doc, err) : cli_no_memory(err);
        json_decref(doc);
        goto out;
    }
    if (table_rows(t) == 0)
        printf("no %s\n", l->noun);
    else if (table_print(t, stdout) < 0)
        rc = cli_no_memory(err);
    if (rc == 0 && next != NULL)
        out_line("next: %s", next);
out:
    free(cursor);
    free(next);
    table_free(t);
    json_decref(all);
    json_decref(resp);
    api_close(&conn);
    return rc;
}
