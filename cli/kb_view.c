/* How the kb commands fetch and show things: one request printed as JSON
 * or through a printer, labelled fields and lists for `kb show` and
 * `kb proposals ID`, and paged listings that follow "next" (`kb list`,
 * `kb proposals`), in the manner of `ticket list`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/api.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/kb.h"
#include "cli/output.h"
#include "cli/strbuf.h"

static int no_memory(struct cli_err *err)
{
    return cli_err_set(err, CLI_ENOMEM, "out of memory");
}

const char *kb_member(const json_t *obj, const char *key, char *buf, size_t n)
{
    return out_scalar(json_object_get(obj, key), buf, n);
}

/* Sends one request and prints the answer: the JSON with --json, else
 * through show (which may be NULL when the caller prints by itself). */
int kb_request_show(struct cli_ctx *ctx, const char *method, const char *path,
                    json_t *body, kb_show_fn show, const void *arg,
                    struct cli_err *err)
{
    json_t *resp = NULL;
    int rc;

    rc = kb_request(ctx, method, path, body, &resp, err);
    if (rc == 0 && !ctx->json && !json_is_object(resp))
        rc =
            cli_err_set(err, CLI_ENET, "the node answered %s %s with no object",
                        method, path);
    if (rc == 0 && ctx->json)
        rc = out_json(resp, err);
    else if (rc == 0 && show != NULL)
        rc = show(resp, arg, err);
    json_decref(resp);
    return rc;
}

/* ------------------------------------------------------------ display */

/* "a, b, c" for an array of strings (or of sources as "type: title"). */
void kb_join_list(const json_t *arr, struct strbuf *sb)
{
    const json_t *v;
    size_t i;

    json_array_foreach(arr, i, v)
    {
        char b[256];
        if (i > 0)
            strbuf_puts(sb, json_is_object(v) ? "; " : ", ");
        if (json_is_object(v))
            strbuf_printf(sb, "%s: %s", kb_member(v, "type", b, sizeof b),
                          json_string_value(json_object_get(v, "title"))
                              ? json_string_value(json_object_get(v, "title"))
                              : "-");
        else
            strbuf_puts(sb, out_scalar(v, b, sizeof b));
    }
}

/* Prints label and the value of key: lists joined, scalars as they are. */
int kb_show_member(const char *label, const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    struct strbuf sb;
    char b[128];

    strbuf_init(&sb);
    if (json_is_array(v) && json_array_size(v) > 0)
        kb_join_list(v, &sb);
    else
        strbuf_puts(&sb, json_is_array(v) ? "-" : out_scalar(v, b, sizeof b));
    bool ok = strbuf_ok(&sb);

    if (ok)
        out_field(label, KB_LABEL_W, strbuf_str(&sb));
    strbuf_close(&sb);
    return ok ? 0 : CLI_ENOMEM;
}

/* Prints "label  TIME by WHO" from two members. */
int kb_show_when_who(const char *label, const json_t *obj, const char *at,
                     const char *by)
{
    char b1[64], b2[128];
    struct strbuf sb;
    const json_t *when = json_object_get(obj, at);
    int rc = 0;

    if (when == NULL || json_is_null(when))
        return 0;
    strbuf_init(&sb);
    strbuf_printf(&sb, "%s by %s", out_time(when, b1, sizeof b1),
                  kb_member(obj, by, b2, sizeof b2));
    if (strbuf_ok(&sb))
        out_field(label, KB_LABEL_W, sb.buf);
    else
        rc = CLI_ENOMEM;
    strbuf_close(&sb);
    return rc;
}

/* The four body sections, each under its label. */
int kb_show_body(const json_t *a)
{
    static const char *const keys[] = {"fault", "cause", "solution", "script"};
    size_t i;
    int rc = 0;

    for (i = 0; i < 4 && rc == 0; i++)
        rc = kb_show_member(keys[i], a, keys[i]);
    return rc;
}

/* title and category must be there (from the flags or --file). */
int kb_need_title_category(const json_t *body, struct cli_err *err)
{
    static const char *const keys[] = {"title", "category"};
    size_t i;

    for (i = 0; i < 2; i++) {
        const json_t *v = json_object_get(body, keys[i]);
        if (v == NULL)
            return cli_err_set(err, CLI_EUSAGE, "missing --%s", keys[i]);
        if (json_is_string(v) && json_string_length(v) == 0)
            return cli_err_set(err, CLI_EUSAGE, "--%s must not be empty",
                               keys[i]);
    }
    return 0;
}

/* ---------------------------------------------------------------- lists */

static void list_path(struct strbuf *sb, const struct kb_listing *l,
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

/* Runs a listing with the options limit, after and all in opts (see
 * `ticket list`, which this mirrors). */
int kb_run_listing(struct cli_ctx *ctx, const struct kb_listing *l,
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

    if (limit != NULL &&
        kb_parse_count("--limit", limit, 1, 2147483647L, &n, err) < 0)
        return CLI_EUSAGE;
    if (args_get(opts, "after") != NULL &&
        (cursor = strdup(args_get(opts, "after"))) == NULL)
        return no_memory(err);
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
        rc = no_memory(err);
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
                 : no_memory(err);
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
                rc = no_memory(err);
                goto out;
            }
            if (t == NULL)
                continue;
            l->cells(it, b, cells);
            if (table_add(t, cells) < 0) {
                rc = no_memory(err);
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
        rc = doc != NULL ? out_json(doc, err) : no_memory(err);
        json_decref(doc);
        goto out;
    }
    if (table_rows(t) == 0)
        printf("no %s\n", l->noun);
    else if (table_print(t, stdout) < 0)
        rc = no_memory(err);
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
