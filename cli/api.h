/* Calls to a node's /v1 API: picks the node and token (flags, environment,
 * saved session), sends JSON, parses JSON back, and turns HTTP failures
 * into the CLI's error codes and one-line messages, in this one place:
 *   2xx -> 0; 401/403 -> CLI_EAUTH; other 4xx -> CLI_EREFUSED;
 *   3xx, 5xx, no connection, bad JSON -> CLI_ENET. */
#ifndef GD_CLI_API_H
#define GD_CLI_API_H

#include <jansson.h>

#include "cli/cli.h"
#include "cli/http.h"

#define API_DEFAULT_NODE "http://127.0.0.1:8080"
#define API_TIMEOUT_MS 30000

enum api_flags {
    API_NOAUTH = 1, /* send no token and give no "run gridesk login" hint */
};

/* The node and credentials one command talks to. */
struct api_conn {
    char *node;  /* base URL, owned */
    char *token; /* bearer token or NULL, owned */
    struct httpc_url url;
    int flags;
    int timeout_ms; /* per request; 0 = API_TIMEOUT_MS (set after open) */
    int status;     /* HTTP status of the last response, 0 when none came */
    int outcome_unknown; /* the last error said the write may have happened
                            ("outcome":"unknown"): repeat only what is safe */
};

/* Resolves the node (--node, $GRIDESK_NODE, the node saved by login, then
 * API_DEFAULT_NODE) and, unless API_NOAUTH, the token ($GRIDESK_TOKEN, then
 * the saved one; none is fine, the server will say 401).  Returns 0 or a
 * negative code; release with api_close(). */
int api_open(struct api_conn *c, const struct cli_ctx *ctx, int flags,
             struct cli_err *err);
void api_close(struct api_conn *c);

/* Sends method path (percent-encoded, starting with "/v1/") with body as
 * JSON (NULL: no body).  On success stores the parsed response in *out
 * (NULL when the body is empty; the caller json_decref()s it) and returns
 * 0; otherwise returns the code with err holding
 * "<message> (<code>, HTTP <status>)" or the network problem. */
int api_call(struct api_conn *c, const char *method, const char *path,
             json_t *body, json_t **out, struct cli_err *err);

/* api_call() with a body that is already JSON text (len bytes; NULL: no
 * body), for requests built piecewise such as an import batch. */
int api_call_text(struct api_conn *c, const char *method, const char *path,
                  const char *body, size_t len, json_t **out,
                  struct cli_err *err);

#endif
