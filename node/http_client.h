/* Asynchronous HTTP/1.1 client on a libuv loop: a small keep-alive pool of
 * connections to one host:port.  A follower forwards writes to the leader
 * through it, and a joining node asks the cluster to add it.  Requests are
 * not pipelined: each connection carries one at a time. */
#ifndef GD_HTTP_CLIENT_H
#define GD_HTTP_CLIENT_H

#include <stddef.h>
#include <uv.h>

#include "core/error.h"

struct http_client;

/* Bounds the body of one response; a larger one fails with GD_ETOOBIG. */
#define HTTP_CLIENT_MAX_BODY (64u * 1024 * 1024)

/* A pool of at most max_conns (>= 1) connections to host:port; host is a
 * numeric IPv4/IPv6 address ("localhost" is taken as 127.0.0.1), nothing is
 * resolved.  Connections open on demand.  *out is freed by http_client_free.
 * Returns 0, GD_EINVAL (bad host, port or max_conns) or GD_ENOMEM. */
int http_client_new(uv_loop_t *loop, const char *host, int port,
                    unsigned max_conns, struct http_client **out);

/* status: the HTTP status (> 0), or a negative GD code: GD_EUNAVAIL when the
 * connection was refused or reset, on timeout and when the client is freed;
 * GD_EIO for a response that does not parse; GD_ETOOBIG for a body over
 * HTTP_CLIENT_MAX_BODY; GD_ENOMEM.  content_type may be NULL; body is
 * NUL-terminated ("" when none or on error) and, like content_type, valid
 * only during the call. */
typedef void (*http_client_cb)(void *data, int status, const char *content_type,
                               const char *body, size_t len);

/* Queues "method target" with extra_headers (NULL or "Name: value\r\n"
 * lines) and body; Host and Content-Length are added.  Everything is copied.
 * Requests beyond max_conns wait in a FIFO.  timeout_ms (0 = none) counts
 * from now, waiting included.  A request that found a pooled connection
 * closed by the peer before any response byte is retried once on a fresh
 * connection.  On 0, cb is called exactly once, never from inside this call
 * (also when the client is freed: GD_EUNAVAIL).  Otherwise cb is never
 * called: GD_EINVAL (method, target or headers malformed), GD_ENOMEM, or
 * GD_EUNAVAIL (http_client_free already called). */
int http_client_request(struct http_client *c, const char *method,
                        const char *target, const char *extra_headers,
                        const char *body, size_t len, unsigned timeout_ms,
                        http_client_cb cb, void *data);

/* Fails every pending request with GD_EUNAVAIL (their callbacks run before
 * this returns), closes the connections, and frees c once libuv has closed
 * its handles (so the loop must run).  c must not be used after, except by
 * the callbacks run from here, whose new requests fail with GD_EUNAVAIL. */
void http_client_free(struct http_client *c);

#endif
