/* HTTP/1.1 client pool: see http_client.h.  Requests wait in a FIFO until a
 * connection is idle; the pool opens connections up to its limit while
 * requests wait.  Failures are put on a "done" list and reported from the
 * client's timer (at 0 ms), so that no callback runs inside a call the user
 * made, and the lists are never changed under a running loop by a callback.
 * The same timer enforces request deadlines. */
#include "node/http_client.h"

#include <assert.h>
#include <http_parser.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define READ_BUF_SIZE (64 * 1024)
#define MAX_CONTENT_TYPE 256

struct creq {
    struct creq *prev, *next; /* FIFO or done list */
    struct cconn *conn;       /* carrying it, or NULL */
    http_client_cb cb;
    void *data;
    uint64_t deadline; /* uv_now() ms; 0 = none */
    int status;        /* on the done list: what to report */
    bool retried;
    bool idempotent; /* GET/HEAD: safe to send twice */
    size_t len;
    char buf[]; /* the whole request as sent */
};

enum cconn_state { CC_CONNECTING, CC_IDLE, CC_BUSY, CC_CLOSING };

struct cconn {
    uv_tcp_t tcp;
    uv_connect_t connect;
    uv_write_t write;
    http_parser parser;
    struct http_client *c;
    struct cconn *prev, *next;
    struct creq *req;
    enum cconn_state state;
    bool reused;    /* has carried a complete exchange before */
    bool got_bytes; /* some of the current response arrived */
    bool writing;
    bool done, keep_alive;
    /* response */
    bool in_value, field_is_ct;
    char field[16];
    size_t field_len;
    char *ctype;
    size_t ct_len;
    char *body;
    size_t blen, bcap;
    int error; /* set by a parser callback: GD_ENOMEM, GD_ETOOBIG */
    char readbuf[READ_BUF_SIZE];
};

struct creq_list {
    struct creq *head, *tail;
};

struct http_client {
    uv_loop_t *loop;
    struct sockaddr_storage addr;
    char host_header[64];
    unsigned max_conns;
    unsigned n_conns;            /* not closing */
    unsigned n_spare_connecting; /* connecting, no request bound yet */
    unsigned n_queued;
    struct cconn *conns;
    struct creq_list queue; /* waiting for a connection */
    struct creq_list done;  /* failed, to be reported */
    uv_timer_t timer;
    uint64_t timer_due; /* 0 = not armed */
    int handles;        /* timer + connections */
    bool freeing;
};

static const http_parser_settings parser_settings;

/* ---- lists and delivery ------------------------------------------------ */

static void list_push(struct creq_list *l, struct creq *r)
{
    r->next = NULL;
    r->prev = l->tail;
    if (l->tail)
        l->tail->next = r;
    else
        l->head = r;
    l->tail = r;
}

static void list_remove(struct creq_list *l, struct creq *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        l->head = r->next;
    if (r->next)
        r->next->prev = r->prev;
    else
        l->tail = r->prev;
    r->prev = r->next = NULL;
}

static void timer_cb(uv_timer_t *t);

static void timer_arm(struct http_client *c, uint64_t due)
{
    uint64_t now = uv_now(c->loop);
    if (c->freeing || (c->timer_due != 0 && c->timer_due <= due))
        return;
    c->timer_due = due;
    uv_timer_start(&c->timer, timer_cb, due > now ? due - now : 0, 0);
}

/* Reports status for req from the timer, soon. */
static void fail_later(struct http_client *c, struct creq *req, int status)
{
    req->status = status;
    req->conn = NULL;
    list_push(&c->done, req);
    timer_arm(c, 1); /* already due */
}

static void deliver(struct creq *req, int status, const char *ctype,
                    const char *body, size_t len)
{
    req->cb(req->data, status, ctype, body ? body : "", body ? len : 0);
    free(req);
}

/* ---- connections ------------------------------------------------------- */

static void client_pump(struct http_client *c);

static void client_handle_closed(struct http_client *c)
{
    if (--c->handles == 0) {
        assert(c->freeing);
        free(c);
    }
}

static void conn_closed(uv_handle_t *h)
{
    struct cconn *conn = h->data;
    struct http_client *c = conn->c;
    if (conn->prev)
        conn->prev->next = conn->next;
    else
        c->conns = conn->next;
    if (conn->next)
        conn->next->prev = conn->prev;
    free(conn->ctype);
    free(conn->body);
    free(conn);
    client_handle_closed(c);
}

/* Closes conn; its request, if any, is the caller's business. */
static void conn_close(struct cconn *conn)
{
    struct http_client *c = conn->c;
    if (conn->state == CC_CLOSING)
        return;
    if (conn->state == CC_CONNECTING && conn->req == NULL)
        c->n_spare_connecting--;
    conn->state = CC_CLOSING;
    conn->req = NULL;
    c->n_conns--;
    uv_close((uv_handle_t *)&conn->tcp, conn_closed);
}

static void conn_reset_response(struct cconn *conn)
{
    http_parser_init(&conn->parser, HTTP_RESPONSE);
    conn->parser.data = conn;
    conn->got_bytes = conn->done = conn->keep_alive = false;
    conn->in_value = conn->field_is_ct = false;
    conn->field_len = 0;
    conn->ct_len = 0;
    conn->blen = 0;
    conn->error = 0;
}

static void conn_write_cb(uv_write_t *w, int status);

/* Sends req on an idle connection. */
static void conn_send(struct cconn *conn, struct creq *req)
{
    uv_buf_t b = uv_buf_init(req->buf, (unsigned)req->len);
    assert(conn->state == CC_IDLE);
    conn->state = CC_BUSY;
    conn->req = req;
    req->conn = conn;
    conn_reset_response(conn);
    if (uv_write(&conn->write, (uv_stream_t *)&conn->tcp, &b, 1,
                 conn_write_cb) != 0) {
        conn_close(conn);
        fail_later(conn->c, req, GD_EUNAVAIL);
        return;
    }
    conn->writing = true;
}

static void conn_connect_cb(uv_connect_t *cr, int status);

/* Opens a connection, for req or (NULL) for the queue.  Returns 0 or a
 * negative libuv code; on failure nothing is left open. */
static int conn_open(struct http_client *c, struct creq *req)
{
    struct cconn *conn = calloc(1, sizeof *conn);
    int rc;
    if (conn == NULL)
        return UV_ENOMEM;
    rc = uv_tcp_init(c->loop, &conn->tcp);
    if (rc != 0) {
        free(conn);
        return rc;
    }
    conn->tcp.data = conn;
    conn->c = c;
    conn->state = CC_CONNECTING;
    conn->req = req;
    conn->next = c->conns;
    if (c->conns)
        c->conns->prev = conn;
    c->conns = conn;
    c->handles++;
    c->n_conns++;
    if (req == NULL)
        c->n_spare_connecting++;
    else
        req->conn = conn;
    rc = uv_tcp_connect(&conn->connect, &conn->tcp,
                        (const struct sockaddr *)&c->addr, conn_connect_cb);
    if (rc != 0) {
        conn_close(conn);
        if (req)
            req->conn = NULL;
    }
    return rc;
}

/* The connection failed while carrying its request (or idle).  A GET or
 * HEAD on a reused connection that got nothing back is retried once on a
 * fresh connection: the peer most likely closed it while idle.  Other
 * methods are never sent twice: the peer may have acted on the first copy
 * (a forwarded write would happen twice), so the caller hears the failure
 * and the client decides. */
static void conn_fail(struct cconn *conn, int status)
{
    struct http_client *c = conn->c;
    struct creq *req = conn->req;
    bool retry = req != NULL && req->idempotent && status == GD_EUNAVAIL &&
                 conn->reused && !conn->got_bytes && !req->retried;
    conn_close(conn);
    if (req != NULL) {
        req->conn = NULL;
        if (retry) {
            req->retried = true;
            if (conn_open(c, req) != 0)
                fail_later(c, req, GD_EUNAVAIL);
        } else {
            fail_later(c, req, status);
        }
    }
    client_pump(c);
}

static void conn_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct cconn *conn = h->data;
    (void)suggested;
    *buf = uv_buf_init(conn->readbuf, sizeof conn->readbuf);
}

/* The response is complete: report it, keep the connection if we may. */
static void conn_complete(struct cconn *conn, bool extra_bytes)
{
    struct http_client *c = conn->c;
    struct creq *req = conn->req;
    int status = (int)conn->parser.status_code;
    char *ctype = conn->ctype, *body = conn->body;
    size_t blen = conn->blen;
    /* The body and content type go to the callback; the connection gets new
     * buffers for its next response. */
    conn->ctype = conn->body = NULL;
    conn->bcap = 0;
    if (ctype)
        ctype[conn->ct_len] = '\0';
    if (body)
        body[blen] = '\0';
    req->conn = NULL;
    conn->req = NULL;
    if (conn->keep_alive && !conn->writing && !extra_bytes) {
        conn->state = CC_IDLE;
        conn->reused = true;
    } else {
        conn_close(conn);
    }
    client_pump(c);
    deliver(req, status, ctype, body, blen);
    free(ctype);
    free(body);
}

static void conn_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct cconn *conn = s->data;
    size_t n;
    if (nread == 0 || conn->state == CC_CLOSING)
        return;
    if (conn->state != CC_BUSY) { /* idle: closed by the peer, or junk */
        conn_close(conn);
        client_pump(conn->c);
        return;
    }
    if (nread < 0) {
        if (nread == UV_EOF && conn->got_bytes) {
            /* a body delimited by the end of the connection */
            http_parser_execute(&conn->parser, &parser_settings, NULL, 0);
            if (conn->done) {
                conn->keep_alive = false;
                conn_complete(conn, false);
                return;
            }
        }
        conn_fail(conn, GD_EUNAVAIL);
        return;
    }
    conn->got_bytes = true;
    n = http_parser_execute(&conn->parser, &parser_settings, buf->base,
                            (size_t)nread);
    if (conn->done) {
        conn_complete(conn, n < (size_t)nread);
        return;
    }
    if (HTTP_PARSER_ERRNO(&conn->parser) != HPE_OK)
        conn_fail(conn, conn->error ? conn->error : GD_EIO);
}

static void conn_write_cb(uv_write_t *w, int status)
{
    struct cconn *conn = w->handle->data;
    conn->writing = false;
    if (conn->state == CC_CLOSING)
        return;
    if (status < 0)
        conn_fail(conn, GD_EUNAVAIL);
}

static void conn_connect_cb(uv_connect_t *cr, int status)
{
    struct cconn *conn = cr->handle->data;
    struct http_client *c = conn->c;
    struct creq *req = conn->req;
    if (conn->state == CC_CLOSING)
        return;
    if (status == 0)
        status = uv_read_start((uv_stream_t *)&conn->tcp, conn_alloc_cb,
                               conn_read_cb);
    if (status != 0) {
        conn_close(conn);
        if (req != NULL) {
            fail_later(c, req, GD_EUNAVAIL);
        } else if (c->n_conns == c->n_spare_connecting &&
                   c->queue.head != NULL) {
            /* nothing else could carry the oldest request: it fails */
            struct creq *head = c->queue.head;
            list_remove(&c->queue, head);
            c->n_queued--;
            fail_later(c, head, GD_EUNAVAIL);
        }
        client_pump(c);
        return;
    }
    uv_tcp_nodelay(&conn->tcp, 1);
    if (req == NULL)
        c->n_spare_connecting--;
    conn->state = CC_IDLE;
    if (req != NULL)
        conn_send(conn, req);
    client_pump(c);
}

/* Hands queued requests to idle connections, opening connections while
 * requests wait and the pool has room. */
static void client_pump(struct http_client *c)
{
    while (c->queue.head != NULL && !c->freeing) {
        struct cconn *conn;
        for (conn = c->conns; conn != NULL; conn = conn->next)
            if (conn->state == CC_IDLE)
                break;
        if (conn != NULL) {
            struct creq *req = c->queue.head;
            list_remove(&c->queue, req);
            c->n_queued--;
            conn_send(conn, req);
            continue;
        }
        if (c->n_conns < c->max_conns && c->n_spare_connecting < c->n_queued) {
            if (conn_open(c, NULL) != 0) {
                struct creq *req = c->queue.head;
                list_remove(&c->queue, req);
                c->n_queued--;
                fail_later(c, req, GD_EUNAVAIL);
            }
            continue;
        }
        break;
    }
}

/* Reports failures, then fails what is past its deadline and re-arms for
 * the next deadline. */
static void timer_cb(uv_timer_t *t)
{
    struct http_client *c = t->data;
    struct creq *req, *next;
    struct cconn *conn;
    uint64_t now = uv_now(c->loop), next_due = 0;
    c->timer_due = 0;
    for (req = c->queue.head; req != NULL; req = next) {
        next = req->next;
        if (req->deadline != 0 && req->deadline <= now) {
            list_remove(&c->queue, req);
            c->n_queued--;
            fail_later(c, req, GD_EUNAVAIL);
        }
    }
    for (conn = c->conns; conn != NULL; conn = conn->next) {
        req = conn->req;
        if (req != NULL && req->deadline != 0 && req->deadline <= now) {
            conn_close(conn); /* the answer may still come: not reusable */
            fail_later(c, req, GD_EUNAVAIL);
        }
    }
    client_pump(c);
    while (!c->freeing && (req = c->done.head) != NULL) {
        list_remove(&c->done, req);
        deliver(req, req->status, NULL, NULL, 0); /* may request or free */
    }
    if (c->freeing)
        return;
    for (req = c->queue.head; req != NULL; req = req->next)
        if (req->deadline != 0 && (next_due == 0 || req->deadline < next_due))
            next_due = req->deadline;
    for (conn = c->conns; conn != NULL; conn = conn->next)
        if (conn->req != NULL && conn->req->deadline != 0 &&
            (next_due == 0 || conn->req->deadline < next_due))
            next_due = conn->req->deadline;
    c->timer_due = 0;
    uv_timer_stop(t);
    if (next_due != 0)
        timer_arm(c, next_due);
}

/* ---- parser callbacks -------------------------------------------------- */

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    struct cconn *conn = p->data;
    if (conn->in_value) {
        conn->in_value = false;
        conn->field_len = 0;
    }
    /* Only Content-Type matters: longer names need not be kept whole. */
    if (len > sizeof conn->field - conn->field_len)
        len = sizeof conn->field - conn->field_len;
    memcpy(conn->field + conn->field_len, at, len);
    conn->field_len += len;
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    struct cconn *conn = p->data;
    if (!conn->in_value) {
        conn->in_value = true;
        conn->field_is_ct = conn->field_len == 12 &&
                            strncasecmp(conn->field, "content-type", 12) == 0;
        if (conn->field_is_ct)
            conn->ct_len = 0; /* the last one wins */
    }
    if (!conn->field_is_ct)
        return 0;
    if (conn->ctype == NULL) {
        conn->ctype = malloc(MAX_CONTENT_TYPE + 1);
        if (conn->ctype == NULL) {
            conn->error = GD_ENOMEM;
            return -1;
        }
    }
    if (len > MAX_CONTENT_TYPE - conn->ct_len)
        len = MAX_CONTENT_TYPE - conn->ct_len; /* truncated: good enough */
    memcpy(conn->ctype + conn->ct_len, at, len);
    conn->ct_len += len;
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    struct cconn *conn = p->data;
    if (len > HTTP_CLIENT_MAX_BODY - conn->blen) {
        conn->error = GD_ETOOBIG;
        return -1;
    }
    if (conn->bcap - conn->blen < len + 1) {
        size_t cap = conn->bcap ? conn->bcap : 1024;
        char *b;
        if (!(p->flags & F_CHUNKED) && p->content_length != ULLONG_MAX &&
            conn->bcap == 0) {
            /* content_length is what remains after this piece: allocate once */
            if (p->content_length > HTTP_CLIENT_MAX_BODY - conn->blen - len) {
                conn->error = GD_ETOOBIG;
                return -1;
            }
            cap = conn->blen + len + (size_t)p->content_length + 1;
        }
        while (cap - conn->blen < len + 1)
            cap *= 2;
        b = realloc(conn->body, cap);
        if (b == NULL) {
            conn->error = GD_ENOMEM;
            return -1;
        }
        conn->body = b;
        conn->bcap = cap;
    }
    memcpy(conn->body + conn->blen, at, len);
    conn->blen += len;
    return 0;
}

static int on_message_complete(http_parser *p)
{
    struct cconn *conn = p->data;
    conn->done = true;
    conn->keep_alive = http_should_keep_alive(p) != 0;
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings parser_settings = {
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* ---- public ------------------------------------------------------------ */

int http_client_new(uv_loop_t *loop, const char *host, int port,
                    unsigned max_conns, struct http_client **out)
{
    struct http_client *c;
    struct sockaddr_storage ss;
    bool v6 = false;
    if (port <= 0 || port > 65535 || max_conns == 0)
        return GD_EINVAL;
    if (strcmp(host, "localhost") == 0)
        host = "127.0.0.1";
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) != 0) {
        if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss) != 0)
            return GD_EINVAL;
        v6 = true;
    }
    if (strlen(host) > 45)
        return GD_EINVAL;
    c = calloc(1, sizeof *c);
    if (c == NULL)
        return GD_ENOMEM;
    if (uv_timer_init(loop, &c->timer) != 0) {
        free(c);
        return GD_ENOMEM;
    }
    c->timer.data = c;
    c->handles = 1;
    c->loop = loop;
    c->addr = ss;
    c->max_conns = max_conns;
    snprintf(c->host_header, sizeof c->host_header, v6 ? "[%s]:%d" : "%s:%d",
             host, port);
    *out = c;
    return 0;
}

static bool is_token(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s; s++)
        if (*s <= ' ' || *s >= 0x7f ||
            strchr("()<>@,;:\\\"/[]?={}", *s) != NULL)
            return false;
    return true;
}

static bool is_target(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s; s++)
        if ((unsigned char)*s <= ' ' || *s == 0x7f)
            return false;
    return true;
}

/* "Name: value\r\n" lines: no empty line, no bare CR or LF. */
static bool are_header_lines(const char *h)
{
    size_t n = strlen(h);
    const char *p;
    if (n == 0)
        return true;
    if (n < 2 || h[n - 2] != '\r' || h[n - 1] != '\n' || h[0] == '\r')
        return false;
    for (p = h; *p; p++) {
        if (*p == '\n' && (p == h || p[-1] != '\r'))
            return false;
        if (*p == '\r' && (p[1] != '\n' || p[2] == '\r'))
            return false;
    }
    return true;
}

int http_client_request(struct http_client *c, const char *method,
                        const char *target, const char *extra_headers,
                        const char *body, size_t len, unsigned timeout_ms,
                        http_client_cb cb, void *data)
{
    struct creq *req;
    size_t cap;
    int n;
    if (c->freeing)
        return GD_EUNAVAIL;
    if (extra_headers == NULL)
        extra_headers = "";
    if (!is_token(method) || !is_target(target) ||
        !are_header_lines(extra_headers) || (len > 0 && body == NULL) ||
        cb == NULL)
        return GD_EINVAL;
    cap = strlen(method) + strlen(target) + strlen(c->host_header) +
          strlen(extra_headers) + 80;
    if (len > SIZE_MAX - cap - sizeof *req)
        return GD_EINVAL;
    req = calloc(1, sizeof *req + cap + len);
    if (req == NULL)
        return GD_ENOMEM;
    n = snprintf(req->buf, cap,
                 "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %zu\r\n%s\r\n",
                 method, target, c->host_header, len, extra_headers);
    assert(n > 0 && (size_t)n < cap);
    if (len > 0)
        memcpy(req->buf + n, body, len);
    req->len = (size_t)n + len;
    req->idempotent = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    req->cb = cb;
    req->data = data;
    if (timeout_ms > 0) {
        req->deadline = uv_now(c->loop) + timeout_ms;
        timer_arm(c, req->deadline);
    }
    list_push(&c->queue, req);
    c->n_queued++;
    client_pump(c);
    return 0;
}

static void timer_closed(uv_handle_t *h)
{
    client_handle_closed(h->data);
}

void http_client_free(struct http_client *c)
{
    struct creq_list all = {NULL, NULL};
    struct creq *req;
    struct cconn *conn;
    assert(!c->freeing);
    c->freeing = true;
    while ((req = c->done.head) != NULL) {
        list_remove(&c->done, req);
        list_push(&all, req);
    }
    for (conn = c->conns; conn != NULL; conn = conn->next) {
        req = conn->req;
        conn_close(conn);
        if (req != NULL)
            list_push(&all, req);
    }
    while ((req = c->queue.head) != NULL) {
        list_remove(&c->queue, req);
        list_push(&all, req);
    }
    c->n_queued = 0;
    uv_close((uv_handle_t *)&c->timer, timer_closed);
    while ((req = all.head) != NULL) {
        list_remove(&all, req);
        deliver(req, GD_EUNAVAIL, NULL, NULL, 0);
    }
}
