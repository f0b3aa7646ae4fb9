/* Node API calls and the HTTP status to exit code mapping: see api.h. */
#include "cli/api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/session.h"
#include "cli/strbuf.h"

int api_open(struct api_conn *c, const struct cli_ctx *ctx, int flags,
             struct cli_err *err)
{
    struct session s;
    const char *node = ctx->node, *token = NULL, *from = "--node";
    int rc;

    memset(c, 0, sizeof *c);
    c->flags = flags;
    rc = session_load(&s, err);
    if (rc < 0)
        return rc;
    if (node == NULL) {
        node = getenv("GRIDESK_NODE");
        from = "GRIDESK_NODE";
    }
    if (node == NULL || node[0] == '\0') {
        node = s.node;
        from = "the session saved by login";
    }
    if (node == NULL)
        node = API_DEFAULT_NODE;
    if (!(flags & API_NOAUTH)) {
        token = getenv("GRIDESK_TOKEN");
        if (token == NULL || token[0] == '\0')
            token = s.token;
    }
    rc = httpc_url_parse(node, &c->url, err);
    if (rc < 0) {
        size_t n = strlen(err->msg);
        snprintf(err->msg + n, sizeof err->msg - n, " (from %s)", from);
        err->usage = "gridesk --node http://HOST:PORT COMMAND ...";
    }
    if (rc == 0) {
        c->node = strdup(node);
        c->token = token != NULL ? strdup(token) : NULL;
        if (c->node == NULL || (token != NULL && c->token == NULL))
            rc = cli_err_set(err, CLI_ENOMEM, "out of memory");
    }
    session_close(&s);
    if (rc < 0)
        api_close(c);
    return rc;
}

void api_close(struct api_conn *c)
{
    if (c->token != NULL)
        explicit_bzero(c->token, strlen(c->token));
    free(c->node);
    free(c->token);
    memset(c, 0, sizeof *c);
}

static bool is_blank(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return false;
    return true;
}

/* Copies s into dst (n bytes) with control characters made spaces, so a
 * server message cannot move the cursor or end the line.  A cut never
 * splits a UTF-8 sequence. */
static void copy_printable(char *dst, size_t n, const char *s)
{
    size_t i;

    for (i = 0; i + 1 < n && s[i] != '\0'; i++)
        dst[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? ' ' : s[i];
    if (s[i] != '\0')
        while (i > 0 && ((unsigned char)s[i] & 0xc0) == 0x80)
            i--; /* s[i] continues a character: drop its start too */
    dst[i] = '\0';
}

/* Fills err for a non-2xx response and returns its code. */
static int api_failure(struct api_conn *c, const struct httpc_response *r,
                       struct cli_err *err)
{
    char msg[300], code[64];
    const char *m = NULL, *k = NULL;
    json_t *doc = NULL, *e;
    int rc;

    if (r->status / 100 == 3)
        return cli_err_set(err, CLI_ENET,
                           "%s answered with a redirect (HTTP %d) to '%s'; "
                           "gridesk follows no redirects: use --node with "
                           "the right URL",
                           c->node, r->status,
                           r->location[0] != '\0' ? r->location : "?");

    if (r->body_len > 0)
        doc = json_loadb(r->body, r->body_len, 0, NULL);
    e = json_object_get(doc, "error");
    m = json_string_value(json_object_get(e, "message"));
    k = json_string_value(json_object_get(e, "code"));
    c->outcome_unknown = json_is_string(json_object_get(e, "outcome")) &&
                         strcmp(json_string_value(json_object_get(e, "outcome")),
                                "unknown") == 0;
    if (m == NULL || m[0] == '\0')
        m = r->reason[0] != '\0' ? r->reason : "request failed";
    if (k == NULL || k[0] == '\0')
        k = "http_error";
    copy_printable(msg, sizeof msg, m);
    copy_printable(code, sizeof code, k);
    json_decref(doc);

    if (r->status == 401 || r->status == 403)
        rc = CLI_EAUTH;
    else if (r->status >= 400 && r->status < 500)
        rc = CLI_EREFUSED;
    else
        rc = CLI_ENET;
    if (rc == CLI_EAUTH && !(c->flags & API_NOAUTH))
        return cli_err_set(err, rc, "%s (%s, HTTP %d); run 'gridesk login'%s",
                           msg, code, r->status,
                           c->token == NULL ? " (no saved token)" : "");
    return cli_err_set(err, rc, "%s (%s, HTTP %d)", msg, code, r->status);
}

int api_call(struct api_conn *c, const char *method, const char *path,
             json_t *body, json_t **out, struct cli_err *err)
{
    char *text = NULL;
    size_t len = 0;
    int rc;

    *out = NULL;
    if (body != NULL) {
        text = json_dumps(body, JSON_COMPACT);
        if (text == NULL)
            return cli_err_set(err, CLI_ENOMEM, "out of memory");
        len = strlen(text);
    }
    rc = api_call_text(c, method, path, text, len, out, err);
    if (text != NULL)
        explicit_bzero(text, len); /* may hold a password */
    free(text);
    return rc;
}

int api_call_text(struct api_conn *c, const char *method, const char *path,
                  const char *body, size_t len, json_t **out,
                  struct cli_err *err)
{
    struct httpc_request req = {.method = method, .path = path};
    struct httpc_response resp;
    json_error_t jerr;
    int rc;

    *out = NULL;
    c->status = 0;
    c->outcome_unknown = 0;
    if (!(c->flags & API_NOAUTH))
        req.token = c->token;
    if (body != NULL) {
        req.body = body;
        req.body_len = len;
    }
    rc = httpc_do(&c->url, &req,
                  c->timeout_ms > 0 ? c->timeout_ms : API_TIMEOUT_MS, &resp,
                  err);
    if (rc < 0)
        return rc;
    c->status = resp.status;

    if (resp.status / 100 != 2) {
        rc = api_failure(c, &resp, err);
    } else if (!is_blank(resp.body, resp.body_len)) {
        *out = json_loadb(resp.body, resp.body_len, 0, &jerr);
        if (*out == NULL)
            rc = cli_err_set(err, CLI_ENET,
                             "bad JSON from %s (HTTP %d): %s at line %d",
                             c->node, resp.status, jerr.text, jerr.line);
    }
    httpc_response_close(&resp);
    return rc;
}
