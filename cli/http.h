/* A minimal blocking HTTP/1.1 client for the CLI: one request per
 * connection (Connection: close), plain http:// only, no redirects
 * followed, one overall deadline.  Responses are parsed with the packaged
 * http-parser; nothing here knows about JSON. */
#ifndef GD_CLI_HTTP_H
#define GD_CLI_HTTP_H

#include <stddef.h>

#include "cli/cli.h"

/* Largest response body accepted, in bytes. */
#define HTTPC_MAX_BODY (64u * 1024 * 1024)

/* A node's base URL, split: http://HOST[:PORT][/PREFIX]. */
struct httpc_url {
    char host[256];   /* without IPv6 brackets */
    char port[8];     /* decimal, "80" when the URL has none */
    char prefix[512]; /* path before /v1/..., no trailing '/', may be "" */
    int ipv6;         /* host is an IPv6 literal */
};

struct httpc_request {
    const char *method; /* "GET", "POST", "DELETE" */
    const char *path;   /* starts with '/', already percent-encoded */
    const char *token;  /* sent as "Authorization: Bearer"; NULL: none */
    const char *body;   /* JSON text; NULL: no body */
    size_t body_len;
};

struct httpc_response {
    int status;         /* e.g. 200 */
    char reason[64];    /* reason phrase, possibly truncated */
    char location[256]; /* Location header of a 3xx, possibly truncated */
    char *body;         /* NUL-terminated, owned: httpc_response_close() */
    size_t body_len;
};

/* Parses a base URL.  Returns 0, or CLI_EUSAGE with err filled for anything
 * but http://host[:port][/prefix] (https, user info, query, fragment). */
int httpc_url_parse(const char *url, struct httpc_url *u, struct cli_err *err);

/* Connects to u (every address getaddrinfo gives, in order), sends req and
 * reads the whole response, all within timeout_ms.  On 0 resp is filled and
 * must be released with httpc_response_close(); otherwise resp holds nothing
 * and the code is CLI_ENET (connect, timeout, malformed response),
 * CLI_EAUTH (a token that cannot go in a header) or CLI_ENOMEM. */
int httpc_do(const struct httpc_url *u, const struct httpc_request *req,
             int timeout_ms, struct httpc_response *resp, struct cli_err *err);

/* Frees the body; safe on a zeroed or already closed response. */
void httpc_response_close(struct httpc_response *resp);

#endif
