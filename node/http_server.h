/* HTTP/1.1 server on a caller's libuv loop.  It accepts connections, parses
 * requests with http-parser, hands every complete request to one handler and
 * writes the responses back in request order (keep-alive and pipelining).
 * The agent API (node/api.c) routes on top of it; this module knows nothing
 * about routes and emits JSON only for its own 400/413/431 errors. */
#ifndef GD_HTTP_SERVER_H
#define GD_HTTP_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/error.h"

struct http_conn;
struct http_listener;
struct http_server;

struct http_header {
    char *name;  /* as received */
    char *value; /* as received, without surrounding whitespace */
};

/* A parsed request.  Every pointer in it is owned by the server and stays
 * valid until http_respond() releases the request. */
struct http_request {
    int method; /* http_parser's enum http_method (HTTP_GET, ...) */
    const char *method_name; /* "GET", ... (static) */
    char *url;               /* raw request target: "/v1/tickets?status=new" */
    char *path;  /* percent-decoded path without query: "/v1/tickets" */
    char *query; /* raw query string after '?', or NULL */
    struct http_header *headers;
    size_t n_headers;
    char *body;        /* always NUL-terminated; "" when there is none */
    size_t body_len;   /* excludes the NUL */
    uint64_t start_ns; /* uv_hrtime() when the headers completed */
    void *data;        /* free for the handler */
    /* private */
    struct http_conn *conn_; /* NULL once the connection is gone */
};

/* Called once per complete request.  The handler owns req until it passes
 * it to http_respond(), which it may do at once or from any later libuv
 * callback on the same loop. */
typedef void (*http_handler_cb)(struct http_server *srv,
                                struct http_request *req);

/* Embeddable by the caller; every field is private. */
struct http_server {
    uv_loop_t *loop;
    struct http_listener *lis; /* heap: may outlive a failed start */
    http_handler_cb cb;
    void *data;
    size_t max_body;
    int port;
    struct http_conn *conns; /* every connection not yet closed */
    size_t n_conns;
    int stopping;
    void (*stop_cb)(struct http_server *srv);
};

/* Listens on host:port (numeric: "127.0.0.1", "0.0.0.0", "::1"; "localhost"
 * means 127.0.0.1; port 0 picks a free port, see http_server_port()).
 * max_body: a request whose Content-Length exceeds it, or whose chunked body
 * grows past it, is answered 413 {"error":{"code":"too_large","message":
 * "body over N bytes"}} before the body is read whole, and its connection
 * is closed.  Unparseable requests get 400 in the same shape (code
 * "invalid_argument"), more than 100 headers or over 80 KiB of them 431 (code
 * "too_large"); both close the connection.
 * Returns 0, GD_EINVAL (host not a numeric address, port out of range) or
 * GD_EIO (bind/listen failed, e.g. address in use), with a message in err
 * (may be NULL).  On failure nothing needs releasing and srv may be freed at
 * once. */
int http_server_start(struct http_server *srv, uv_loop_t *loop,
                      const char *host, int port, size_t max_body,
                      http_handler_cb cb, void *data, struct gd_err *err);

/* The data pointer given to http_server_start(). */
void *http_server_data(struct http_server *srv);

/* The port actually listened on (useful after starting on port 0). */
int http_server_port(struct http_server *srv);

/* First header with that name, compared case-insensitively; NULL if absent.
 * The value is owned by req. */
const char *http_request_header(const struct http_request *req,
                                const char *name);

/* Value of the first query parameter called name (both percent-decoded, '+'
 * meaning space; malformed escapes and "%00" are kept literally), in a
 * string owned by req and freed with it.  "?a&b=" gives "" for a and b.
 * NULL if absent, or if there is no memory for the copy. */
const char *http_request_query(struct http_request *req, const char *name);

/* Sends the response and releases req: req must not be used after.  May be
 * called inside the handler or later from any callback on the loop.
 * content_type may be NULL (no Content-Type header); extra_headers is NULL
 * or "Name: value\r\n" lines, and one of them being "Connection: close"
 * makes this the last response on the connection.  Content-Length is added;
 * "Connection: close" is added when the connection closes after this
 * response (HTTP/1.0 without keep-alive, Connection: close requests), and
 * "Connection: keep-alive" for HTTP/1.0 keep-alive requests.
 * Responses on one connection go out in request order: a response finished
 * early waits for the ones before it.  If the client or the server went
 * away meanwhile, this only frees req.  status outside 100..999 becomes 500. */
void http_respond(struct http_request *req, int status,
                  const char *content_type, const char *body, size_t len,
                  const char *extra_headers);

/* Stops listening and closes every connection at once, idle or not;
 * requests still in handlers stay valid and their later http_respond()
 * only frees them.  cb (may be NULL) runs from a libuv callback once the
 * listener and every connection are closed; srv may be freed from it.
 * Must be called once, after a successful start. */
void http_server_stop(struct http_server *srv,
                      void (*cb)(struct http_server *srv));

/* Connections accepted and not yet fully closed. */
size_t http_server_open_connections(struct http_server *srv);

#endif
