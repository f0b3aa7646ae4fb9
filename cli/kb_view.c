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
