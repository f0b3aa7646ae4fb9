/* HTTP/1.1 server: see http_server.h.  One struct http_conn per accepted
 * TCP connection; http-parser feeds each one's requests into a FIFO (the
 * pipeline) so that responses, which handlers may produce in any order, are
 * written in request order.  Closing is graceful (shutdown, then read and
 * discard for a moment) so that an error response is not lost to a reset
 * caused by request bytes we never read. */
#include "node/http_server.h"

#include <assert.h>
#include <http_parser.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define READ_BUF_SIZE (64 * 1024)
#define MAX_HEADERS 100
#define LISTEN_BACKLOG 4096
/* Stop reading a connection whose client runs this far ahead of us. */
#define MAX_PIPELINE 64
#define MAX_UNSENT (1024 * 1024)
/* How long a closing connection reads and drops what the client still sends. */
#define LINGER_MS 2000

#define container_of(ptr, type, member)                                        \
    ((type *)((char *)(ptr)-offsetof(type, member)))

/* The listening socket, on the heap so that a failed start can close it
 * after the caller has freed srv.  readbuf is shared by every connection's
 * reads: libuv calls alloc_cb and read_cb back to back for one stream, and
 * the parser callbacks copy what they keep. */
struct http_listener {
    uv_tcp_t tcp;
    uv_tcp_t reject; /* accepts and closes a connection when out of memory */
    struct http_server *srv; /* NULL after a failed start */
    int handles;             /* open: tcp, reject */
    bool reject_busy, reject_pending;
    char readbuf[READ_BUF_SIZE];
};

/* A response ready to go, in one allocation with its write request. */
struct out {
    uv_write_t w;
    size_t len;
    char data[];
};

struct query_value {
    struct query_value *next;
    char s[];
};

/* Where the parser is within the head of a request. */
enum head_part { PART_URL, PART_FIELD, PART_VALUE };

/* Server side of a request: the public part and the pipeline bookkeeping. */
struct sreq {
    struct http_request pub;
    struct sreq *next; /* pipeline */
    struct out *resp;  /* made by http_respond, waiting for earlier ones */
    bool ready;        /* http_respond called (resp NULL: out of memory) */
    bool close_after;  /* last response on the connection */
    bool ka10;         /* HTTP/1.0 with keep-alive: say so in the response */
    /* The head while parsing: url, then name and value of each header, each
     * NUL-terminated; headers[] holds offsets into it until the head is
     * complete, because the arena moves as it grows. */
    char *arena;
    size_t alen, acap;
    size_t hcap;
    size_t bcap;
    struct query_value *qvals;
};

enum conn_state {
    CONN_OPEN,    /* reading requests */
    CONN_DRAIN,   /* no more requests: answer the pipeline, then shut down */
    CONN_LINGER,  /* shut down; reading and dropping until EOF or timeout */
    CONN_CLOSING, /* uv_close called */
};

struct http_conn {
    uv_tcp_t tcp;
    uv_timer_t timer; /* linger timeout, initialized when lingering */
    uv_shutdown_t shutdown;
    http_parser parser;
    struct http_server *srv;
    struct http_conn *prev, *next;
    struct sreq *cur; /* being parsed */
    enum head_part part;
    struct sreq *qhead, *qtail; /* dispatched, response not yet written */
    unsigned n_queued;
    unsigned n_writes; /* uv_write in flight */
    enum conn_state state;
    int handles; /* open: tcp, timer */
    bool reading, timer_on, peer_eof;
};

static const http_parser_settings parser_settings;

/* ---- requests ---------------------------------------------------------- */

static void sreq_free(struct sreq *req)
{
    struct query_value *q, *qn;
    for (q = req->qvals; q != NULL; q = qn) {
        qn = q->next;
        free(q);
    }
    free(req->resp);
    free(req->arena);
    free(req->pub.headers);
    if (req->bcap > 0)
        free(req->pub.body);
    free(req);
}

static bool arena_reserve(struct sreq *req, size_t len);

/* Appends len bytes to the head arena; false when out of memory. */
static bool arena_put(struct sreq *req, const char *p, size_t len)
{
    if (!arena_reserve(req, len))
        return false;
    memcpy(req->arena + req->alen, p, len);
    req->alen += len;
    return true;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes one character of a percent-encoded string at s[*i] (i < n),
 * advancing *i.  Malformed escapes and %00 are taken literally if lenient,
 * else give -1. */
static int pct_next(const char *s, size_t n, size_t *i, bool plus_space,
                    bool lenient)
{
    int c = (unsigned char)s[*i];
    if (c == '%') {
        if (*i + 2 < n) {
            int h = hexval(s[*i + 1]), l = hexval(s[*i + 2]);
            if (h >= 0 && l >= 0 && (h | l) != 0) {
                *i += 3;
                return h * 16 + l;
            }
        }
        if (!lenient)
            return -1;
    } else if (c == '+' && plus_space) {
        c = ' ';
    }
    (*i)++;
    return c;
}

/* ---- responses ----------------------------------------------------------- */

static const char *reason_phrase(int status)
{
    const char *r = http_status_str((enum http_status)status);
    return strcmp(r, "<unknown>") == 0 ? "Unknown" : r;
}

/* Whether the "Name: value\r\n" lines contain Connection: close. */
static bool headers_say_close(const char *h)
{
    while (h != NULL && *h != '\0') {
        const char *eol = strstr(h, "\r\n");
        size_t n = eol ? (size_t)(eol - h) : strlen(h);
        if (n >= 11 && strncasecmp(h, "connection:", 11) == 0) {
            const char *v = h + 11;
            const char *end = h + n;
            while (v < end && (*v == ' ' || *v == '\t'))
                v++;
            while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
                end--;
            if (end - v == 5 && strncasecmp(v, "close", 5) == 0)
                return true;
        }
        h = eol ? eol + 2 : h + n;
    }
    return false;
}

/* Status line, headers and body in one buffer; NULL when out of memory. */
static struct out *out_build(int status, const char *ctype, const char *body,
                             size_t len, const char *extra, bool close,
                             bool ka10)
{
    const char *reason = reason_phrase(status);
    const char *conn_hdr = close  ? "Connection: close\r\n"
                           : ka10 ? "Connection: keep-alive\r\n"
                                  : "";
    size_t cap = 96 + strlen(reason) + strlen(conn_hdr) +
                 (ctype ? strlen(ctype) : 0) + (extra ? strlen(extra) : 0);
    struct out *o = malloc(sizeof *o + cap + len);
    int n;
    if (o == NULL)
        return NULL;
    n = snprintf(
        o->data, cap, "HTTP/1.1 %d %s\r\n%s%s%sContent-Length: %zu\r\n%s%s\r\n",
        status, reason, ctype ? "Content-Type: " : "", ctype ? ctype : "",
        ctype ? "\r\n" : "", len, conn_hdr, extra ? extra : "");
    assert(n > 0 && (size_t)n < cap);
    if (len > 0)
        memcpy(o->data + n, body, len);
    o->len = (size_t)n + len;
    return o;
}

/* Writes text as a JSON string body (without quotes), escaping what JSON
 * requires; returns the length written, truncating to fit. */
static size_t json_escape(char *dst, size_t cap, const char *text)
{
    size_t n = 0;
    for (; *text != '\0' && n + 7 < cap; text++) {
        unsigned char c = (unsigned char)*text;
        if (c == '"' || c == '\\') {
            dst[n++] = '\\';
            dst[n++] = (char)c;
        } else if (c < 0x20) {
            n += (size_t)snprintf(dst + n, cap - n, "\\u%04x", c);
        } else {
            dst[n++] = (char)c;
        }
    }
    dst[n] = '\0';
    return n;
}

/* ---- connections ------------------------------------------------------- */

static void stop_check(struct http_server *srv)
{
    if (srv->stopping && srv->lis == NULL && srv->n_conns == 0 &&
        srv->stop_cb != NULL) {
        void (*cb)(struct http_server *) = srv->stop_cb;
        srv->stop_cb = NULL;
        cb(srv); /* may free srv */
    }
}

static void conn_handle_closed(uv_handle_t *h)
{
    struct http_conn *conn = h->data;
    struct http_server *srv = conn->srv;
    if (--conn->handles > 0)
        return;
    if (conn->prev)
        conn->prev->next = conn->next;
    else
        srv->conns = conn->next;
    if (conn->next)
        conn->next->prev = conn->prev;
    srv->n_conns--;
    free(conn);
    stop_check(srv);
}

/* Abrupt close: requests still in handlers are detached (their response
 * will only free them); finished ones waiting for their turn are dropped. */
static void conn_close(struct http_conn *conn)
{
    struct sreq *req, *next;
    if (conn->state == CONN_CLOSING)
        return;
    conn->state = CONN_CLOSING;
    for (req = conn->qhead; req != NULL; req = next) {
        next = req->next;
        if (req->ready)
            sreq_free(req);
        else
            req->pub.conn_ = NULL;
    }
    conn->qhead = conn->qtail = NULL;
    conn->n_queued = 0;
    if (conn->cur) {
        sreq_free(conn->cur);
        conn->cur = NULL;
    }
    uv_close((uv_handle_t *)&conn->tcp, conn_handle_closed);
    if (conn->timer_on)
        uv_close((uv_handle_t *)&conn->timer, conn_handle_closed);
}

static void conn_stop_reading(struct http_conn *conn)
{
    if (conn->reading) {
        uv_read_stop((uv_stream_t *)&conn->tcp);
        conn->reading = false;
    }
}

static void conn_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct http_conn *conn = h->data;
    (void)suggested;
    *buf = uv_buf_init(conn->srv->lis->readbuf, READ_BUF_SIZE);
}

static void conn_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static int conn_start_reading(struct http_conn *conn)
{
    int rc = 0;
    if (!conn->reading) {
        rc = uv_read_start((uv_stream_t *)&conn->tcp, conn_alloc_cb,
                           conn_read_cb);
        conn->reading = rc == 0;
    }
    return rc;
}

static void linger_timeout_cb(uv_timer_t *t)
{
    conn_close(t->data);
}

static void conn_shutdown_cb(uv_shutdown_t *sr, int status)
{
    struct http_conn *conn = sr->data;
    if (conn->state == CONN_CLOSING)
        return;
    assert(conn->state == CONN_LINGER);
    if (status < 0 || conn->peer_eof) {
        conn_close(conn);
        return;
    }
    /* Read and drop what the client still sends, so that closing with
     * unread data does not reset the connection under our last response. */
    if (uv_timer_init(conn->srv->loop, &conn->timer) != 0) {
        conn_close(conn);
        return;
    }
    conn->timer.data = conn;
    conn->timer_on = true;
    conn->handles++;
    uv_timer_start(&conn->timer, linger_timeout_cb, LINGER_MS, 0);
    if (conn_start_reading(conn) != 0)
        conn_close(conn);
}

/* In CONN_DRAIN, once every response is handed to libuv: shut down. */
static void conn_maybe_finish(struct http_conn *conn)
{
    if (conn->state != CONN_DRAIN || conn->qhead != NULL)
        return;
    conn_stop_reading(conn);
    conn->state = CONN_LINGER;
    conn->shutdown.data = conn;
    /* uv_shutdown waits for the queued writes. */
    if (uv_shutdown(&conn->shutdown, (uv_stream_t *)&conn->tcp,
                    conn_shutdown_cb) != 0)
        conn_close(conn);
}

/* No more requests will be read on this connection. */
static void conn_drain(struct http_conn *conn)
{
    if (conn->state != CONN_OPEN)
        return;
    conn->state = CONN_DRAIN;
    conn_stop_reading(conn);
    if (HTTP_PARSER_ERRNO(&conn->parser) ==
        HPE_OK) /* inside a callback: stop there */
        http_parser_pause(&conn->parser, 1);
}

static void conn_maybe_resume(struct http_conn *conn)
{
    if (conn->state == CONN_OPEN && !conn->reading &&
        conn->n_queued <= MAX_PIPELINE / 2 &&
        uv_stream_get_write_queue_size((uv_stream_t *)&conn->tcp) <=
            MAX_UNSENT / 2) {
        if (conn_start_reading(conn) != 0)
            conn_close(conn);
    }
}

static void conn_write_cb(uv_write_t *w, int status)
{
    struct http_conn *conn = w->handle->data;
    free(container_of(w, struct out, w));
    conn->n_writes--;
    if (conn->state == CONN_CLOSING)
        return;
    if (status < 0) {
        conn_close(conn);
        return;
    }
    conn_maybe_resume(conn);
}

/* Sends one response and takes o.  Writing at once when nothing is queued
 * spares libuv a write request, its callback and an epoll_ctl per response;
 * what the socket does not take goes through uv_write.  False if the
 * connection was closed. */
static bool conn_write(struct http_conn *conn, struct out *o)
{
    uv_stream_t *s = (uv_stream_t *)&conn->tcp;
    uv_buf_t b = uv_buf_init(o->data, (unsigned)o->len);
    int n = uv_try_write(s, &b, 1);
    if (n == (int)o->len) {
        free(o);
        return true;
    }
    if (n > 0) {
        b.base += n;
        b.len -= (unsigned)n;
    } else if (n != UV_EAGAIN) {
        free(o);
        conn_close(conn);
        return false;
    }
    if (uv_write(&o->w, s, &b, 1, conn_write_cb) != 0) {
        free(o);
        conn_close(conn);
        return false;
    }
    conn->n_writes++;
    return true;
}

/* Writes the responses at the head of the pipeline that are ready. */
static void conn_flush(struct http_conn *conn)
{
    struct sreq *req;
    while (conn->state != CONN_CLOSING && (req = conn->qhead) != NULL &&
           req->ready) {
        struct out *o = req->resp;
        bool close = req->close_after;
        conn->qhead = req->next;
        if (conn->qhead == NULL)
            conn->qtail = NULL;
        conn->n_queued--;
        req->resp = NULL;
        sreq_free(req);
        if (o == NULL) { /* no memory for the response: nothing sane to send */
            conn_close(conn);
            return;
        }
        if (!conn_write(conn, o))
            return;
        if (close) {
            struct sreq *r, *next;
            conn_drain(conn);
            for (r = conn->qhead; r != NULL; r = next) {
                next = r->next;
                if (r->ready)
                    sreq_free(r);
                else
                    r->pub.conn_ = NULL;
            }
            conn->qhead = conn->qtail = NULL;
            conn->n_queued = 0;
        }
    }
    conn_maybe_finish(conn);
    conn_maybe_resume(conn);
}

static void conn_enqueue(struct http_conn *conn, struct sreq *req)
{
    req->next = NULL;
    if (conn->qtail)
        conn->qtail->next = req;
    else
        conn->qhead = req;
    conn->qtail = req;
    conn->n_queued++;
}

/* Answers with a JSON error after the requests already in the pipeline and
 * closes the connection after it; reads nothing more. */
static void conn_fail(struct http_conn *conn, int status, int code,
                      const char *msg)
{
    char body[300];
    char esc[200];
    struct sreq *req;
    int n;
    if (conn->state != CONN_OPEN)
        return;
    conn_drain(conn);
    if (conn->cur) {
        sreq_free(conn->cur);
        conn->cur = NULL;
    }
    req = calloc(1, sizeof *req);
    if (req == NULL) {
        conn_close(conn);
        return;
    }
    json_escape(esc, sizeof esc, msg);
    n = snprintf(body, sizeof body,
                 "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}",
                 gd_code_name(code), esc);
    req->resp = out_build(status, "application/json", body, (size_t)n, NULL,
                          true, false);
    req->ready = true;
    req->close_after = true;
    req->pub.conn_ = conn;
    conn_enqueue(conn, req);
    conn_flush(conn);
}

static void conn_parse(struct http_conn *conn, const char *data, size_t len)
{
    enum http_errno e;
    http_parser_execute(&conn->parser, &parser_settings, data, len);
    e = HTTP_PARSER_ERRNO(&conn->parser);
    if (conn->state != CONN_OPEN)
        return; /* a callback or a handler ended the connection's input */
    if (e == HPE_OK) {
        if (conn->n_queued >= MAX_PIPELINE ||
            uv_stream_get_write_queue_size((uv_stream_t *)&conn->tcp) >
                MAX_UNSENT)
            conn_stop_reading(conn);
        return;
    }
    if (e >= HPE_CB_message_begin && e <= HPE_CB_chunk_complete) {
        conn_close(conn); /* our callback ran out of memory */
        return;
    }
    if (e == HPE_HEADER_OVERFLOW) {
        conn_fail(conn, 431, GD_ETOOBIG, "request head over 80 KiB");
        return;
    }
    conn_fail(conn, 400, GD_EINVAL, http_errno_description(e));
}

static void conn_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct http_conn *conn = s->data;
    if (nread == 0)
        return;
    if (nread < 0) {
        if (nread != UV_EOF || conn->state == CONN_LINGER) {
            conn_close(conn);
            return;
        }
        /* The client may half-close after its last request: answer it. */
        conn->peer_eof = true;
        conn_stop_reading(conn);
        if (conn->state == CONN_OPEN) {
            conn->state = CONN_DRAIN;
            if (conn->cur) { /* an incomplete request: never answered */
                sreq_free(conn->cur);
                conn->cur = NULL;
            }
            if (conn->qhead == NULL && conn->n_writes == 0) {
                conn_close(conn);
                return;
            }
            conn_maybe_finish(conn);
        }
        return;
    }
    if (conn->state == CONN_OPEN)
        conn_parse(conn, buf->base, (size_t)nread);
    /* CONN_LINGER: dropped */
}

/* ---- parser callbacks -------------------------------------------------- */

static int on_message_begin(http_parser *p)
{
    struct http_conn *conn = p->data;
    assert(conn->cur == NULL);
    conn->cur = calloc(1, sizeof *conn->cur);
    if (conn->cur == NULL)
        return -1;
    conn->cur->pub.conn_ = conn;
    conn->part = PART_URL;
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    struct http_conn *conn = p->data;
    return arena_put(conn->cur, at, len) ? 0 : -1;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    struct http_conn *conn = p->data;
    struct sreq *req = conn->cur;
    if (conn->part != PART_FIELD) {
        struct http_header *h;
        if (!arena_put(req, "", 1)) /* ends the url or the previous value */
            return -1;
        if (req->pub.n_headers == MAX_HEADERS) {
            conn_fail(conn, 431, GD_ETOOBIG, "more than 100 header fields");
            return 0;
        }
        if (req->pub.n_headers == req->hcap) {
            size_t cap = req->hcap ? req->hcap * 2 : 16;
            h = realloc(req->pub.headers, cap * sizeof *h);
            if (h == NULL)
                return -1;
            req->pub.headers = h;
            req->hcap = cap;
        }
        /* Offsets now, pointers once the arena stops moving. */
        h = &req->pub.headers[req->pub.n_headers++];
        h->name = (char *)(uintptr_t)req->alen;
        h->value = NULL;
        conn->part = PART_FIELD;
    }
    return arena_put(req, at, len) ? 0 : -1;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    struct http_conn *conn = p->data;
    struct sreq *req = conn->cur;
    if (conn->part != PART_VALUE) {
        if (!arena_put(req, "", 1))
            return -1;
        req->pub.headers[req->pub.n_headers - 1].value =
            (char *)(uintptr_t)req->alen;
        conn->part = PART_VALUE;
    }
    return arena_put(req, at, len) ? 0 : -1;
}

/* Makes room for len more bytes in the arena; false when out of memory. */
static bool arena_reserve(struct sreq *req, size_t len)
{
    size_t cap = req->acap ? req->acap : 256;
    char *a;
    if (req->acap - req->alen >= len)
        return true;
    while (cap - req->alen < len)
        cap *= 2;
    a = realloc(req->arena, cap);
    if (a == NULL)
        return false;
    req->arena = a;
    req->acap = cap;
    return true;
}

/* Appends the decoded path, the query and an empty body string to the
 * arena, which must not move afterwards.  Returns 0, -1 when out of memory,
 * or 1 with *why set when the target is unusable. */
static int split_url(struct sreq *req, size_t url_len, const char **why)
{
    struct http_parser_url u;
    size_t ps = 0, pl = 0, qs = 0, ql = 0, i, path_off, query_off = 0, n = 0;
    bool has_query;
    http_parser_url_init(&u);
    if (http_parser_parse_url(req->arena, url_len,
                              req->pub.method == HTTP_CONNECT, &u) != 0) {
        *why = "invalid request target";
        return 1;
    }
    if (u.field_set & (1 << UF_PATH)) {
        ps = u.field_data[UF_PATH].off;
        pl = u.field_data[UF_PATH].len;
    }
    has_query = (u.field_set & (1 << UF_QUERY)) != 0;
    if (has_query) {
        qs = u.field_data[UF_QUERY].off;
        ql = u.field_data[UF_QUERY].len;
    }
    /* decoded path (or "/") + NUL, query + NUL, body NUL */
    if (!arena_reserve(req, pl + ql + 4))
        return -1;
    path_off = req->alen;
    if (pl == 0)
        req->arena[path_off + n++] = '/';
    for (i = 0; i < pl;) {
        int c = pct_next(req->arena + ps, pl, &i, false, false);
        if (c < 0) {
            *why = "malformed percent-encoding in path";
            return 1;
        }
        req->arena[path_off + n++] = (char)c;
    }
    req->arena[path_off + n++] = '\0';
    req->alen += n;
    if (has_query) {
        query_off = req->alen;
        memcpy(req->arena + query_off, req->arena + qs, ql);
        req->arena[query_off + ql] = '\0';
        req->alen += ql + 1;
    }
    req->pub.path = req->arena + path_off;
    req->pub.query = has_query ? req->arena + query_off : NULL;
    req->pub.body = req->arena + req->alen;
    req->arena[req->alen++] = '\0';
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    struct http_conn *conn = p->data;
    struct sreq *req = conn->cur;
    struct http_server *srv = conn->srv;
    const char *why = NULL;
    size_t url_len, i;
    int rc;
    if (conn->state != CONN_OPEN)
        return 0; /* conn_fail from a header callback paused us */
    req->pub.method = p->method;
    req->pub.method_name = http_method_str((enum http_method)p->method);
    req->pub.start_ns = uv_hrtime();
    /* url_len: the url is the arena's first string */
    url_len = req->pub.n_headers > 0
                  ? (size_t)(uintptr_t)req->pub.headers[0].name - 1
                  : req->alen;
    if (!arena_put(req, "", 1))
        return -1;
    rc = split_url(req, url_len, &why);
    if (rc < 0)
        return -1;
    if (rc > 0) {
        conn_fail(conn, 400, GD_EINVAL, why);
        return 0;
    }
    req->pub.url = req->arena;
    for (i = 0; i < req->pub.n_headers; i++) {
        struct http_header *h = &req->pub.headers[i];
        h->name = req->arena + (uintptr_t)h->name;
        h->value = h->value ? req->arena + (uintptr_t)h->value : req->pub.body;
        /* http-parser drops the leading whitespace, not the trailing */
        size_t vlen = strlen(h->value);
        while (vlen > 0 &&
               (h->value[vlen - 1] == ' ' || h->value[vlen - 1] == '\t'))
            h->value[--vlen] = '\0';
    }
    if (!(p->flags & F_CHUNKED) && (p->flags & F_CONTENTLENGTH)) {
        char msg[64];
        if (p->content_length > srv->max_body) {
            snprintf(msg, sizeof msg, "body over %zu bytes", srv->max_body);
            conn_fail(conn, 413, GD_ETOOBIG, msg);
            return 0;
        }
        if (p->content_length > 0) {
            req->pub.body = malloc((size_t)p->content_length + 1);
            if (req->pub.body == NULL)
                return -1;
            req->bcap = (size_t)p->content_length + 1;
        }
    }
    if (p->upgrade)
        req->close_after = true; /* we speak nothing else after it */
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    struct http_conn *conn = p->data;
    struct sreq *req = conn->cur;
    size_t have = req->pub.body_len;
    if (len > conn->srv->max_body - have) {
        char msg[64];
        snprintf(msg, sizeof msg, "body over %zu bytes", conn->srv->max_body);
        conn_fail(conn, 413, GD_ETOOBIG, msg);
        return 0;
    }
    if (req->bcap - have < len + 1) { /* chunked: grow */
        size_t cap = req->bcap ? req->bcap : 1024;
        char *b;
        while (cap - have < len + 1)
            cap *= 2;
        if (cap > conn->srv->max_body + 1)
            cap = conn->srv->max_body + 1;
        b = realloc(req->bcap ? req->pub.body : NULL, cap);
        if (b == NULL)
            return -1;
        req->pub.body = b;
        req->bcap = cap;
    }
    memcpy(req->pub.body + have, at, len);
    req->pub.body_len += len;
    return 0;
}

static int on_message_complete(http_parser *p)
{
    struct http_conn *conn = p->data;
    struct sreq *req = conn->cur;
    struct http_server *srv = conn->srv;
    if (conn->state != CONN_OPEN)
        return 0;
    conn->cur = NULL;
    if (req->bcap > 0)
        req->pub.body[req->pub.body_len] = '\0';
    if (!http_should_keep_alive(p))
        req->close_after = true;
    else if (p->http_major == 1 && p->http_minor == 0)
        req->ka10 = true;
    conn_enqueue(conn, req);
    if (req->close_after)
        conn_drain(conn);
    srv->cb(srv, &req->pub);
    /* The handler may have stopped the server or closed this connection. */
    if (conn->state != CONN_OPEN && HTTP_PARSER_ERRNO(p) == HPE_OK)
        http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* ---- listener ---------------------------------------------------------- */

static void lis_handle_closed(uv_handle_t *h)
{
    struct http_listener *lis = h->data;
    struct http_server *srv = lis->srv;
    if (--lis->handles > 0)
        return;
    free(lis);
    if (srv != NULL) {
        srv->lis = NULL;
        stop_check(srv);
    }
}

static void reject_closed(uv_handle_t *h);

/* Out of memory for a connection: accept it only to close it, or libuv
 * stops watching the listener until we accept. */
static void reject_connection(struct http_listener *lis)
{
    if (lis->reject_busy) {
        lis->reject_pending = true;
        return;
    }
    if (uv_tcp_init(lis->tcp.loop, &lis->reject) != 0)
        return;
    lis->reject.data = lis;
    lis->reject_busy = true;
    lis->handles++;
    uv_accept((uv_stream_t *)&lis->tcp, (uv_stream_t *)&lis->reject);
    uv_close((uv_handle_t *)&lis->reject, reject_closed);
}

static void reject_closed(uv_handle_t *h)
{
    struct http_listener *lis = h->data;
    lis->reject_busy = false;
    if (lis->reject_pending && lis->srv != NULL && !lis->srv->stopping) {
        lis->reject_pending = false;
        reject_connection(lis);
    }
    lis_handle_closed(h);
}

static void on_connection(uv_stream_t *server, int status)
{
    struct http_listener *lis = server->data;
    struct http_server *srv = lis->srv;
    struct http_conn *conn;
    if (status < 0 || srv == NULL || srv->stopping)
        return;
    conn = calloc(1, sizeof *conn);
    if (conn == NULL) {
        reject_connection(lis);
        return;
    }
    if (uv_tcp_init(srv->loop, &conn->tcp) != 0) {
        free(conn);
        reject_connection(lis);
        return;
    }
    conn->tcp.data = conn;
    conn->srv = srv;
    conn->handles = 1;
    conn->state = CONN_OPEN;
    http_parser_init(&conn->parser, HTTP_REQUEST);
    conn->parser.data = conn;
    conn->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = conn;
    srv->conns = conn;
    srv->n_conns++;
    if (uv_accept(server, (uv_stream_t *)&conn->tcp) != 0) {
        conn_close(conn);
        return;
    }
    uv_tcp_nodelay(&conn->tcp, 1);
    if (conn_start_reading(conn) != 0)
        conn_close(conn);
}

/* ---- public ------------------------------------------------------------ */

int http_server_start(struct http_server *srv, uv_loop_t *loop,
                      const char *host, int port, size_t max_body,
                      http_handler_cb cb, void *data, struct gd_err *err)
{
    struct sockaddr_storage ss;
    struct http_listener *lis;
    int namelen = sizeof ss;
    int rc;
    memset(srv, 0, sizeof *srv);
    if (port < 0 || port > 65535)
        return gd_err_set(err, GD_EINVAL, "port %d out of range", port);
    if (strcmp(host, "localhost") == 0)
        host = "127.0.0.1";
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) != 0 &&
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss) != 0)
        return gd_err_set(err, GD_EINVAL,
                          "listen address %s is not a numeric IP", host);
    lis = calloc(1, sizeof *lis);
    if (lis == NULL)
        return gd_err_set(err, GD_ENOMEM, "out of memory");
    rc = uv_tcp_init(loop, &lis->tcp);
    if (rc != 0) {
        free(lis);
        return gd_err_set(err, GD_EIO, "listen %s:%d: %s", host, port,
                          uv_strerror(rc));
    }
    lis->tcp.data = lis;
    lis->handles = 1;
    rc = uv_tcp_bind(&lis->tcp, (const struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&lis->tcp, LISTEN_BACKLOG, on_connection);
    if (rc == 0)
        rc = uv_tcp_getsockname(&lis->tcp, (struct sockaddr *)&ss, &namelen);
    if (rc != 0) {
        uv_close((uv_handle_t *)&lis->tcp,
                 lis_handle_closed); /* lis->srv is NULL */
        return gd_err_set(err, GD_EIO, "listen %s:%d: %s", host, port,
                          uv_strerror(rc));
    }
    srv->port =
        ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                       : ((struct sockaddr_in *)&ss)->sin_port);
    lis->srv = srv;
    srv->lis = lis;
    srv->loop = loop;
    srv->max_body = max_body;
    srv->cb = cb;
    srv->data = data;
    return 0;
}

void *http_server_data(struct http_server *srv)
{
    return srv->data;
}

int http_server_port(struct http_server *srv)
{
    return srv->port;
}

size_t http_server_open_connections(struct http_server *srv)
{
    return srv->n_conns;
}

const char *http_request_header(const struct http_request *req,
                                const char *name)
{
    size_t i;
    for (i = 0; i < req->n_headers; i++)
        if (strcasecmp(req->headers[i].name, name) == 0)
            return req->headers[i].value;
    return NULL;
}

const char *http_request_query(struct http_request *r, const char *name)
{
    struct sreq *req = container_of(r, struct sreq, pub);
    const char *q = r->query;
    while (q != NULL && *q != '\0') {
        const char *amp = strchr(q, '&');
        size_t n = amp ? (size_t)(amp - q) : strlen(q);
        const char *eq = memchr(q, '=', n);
        size_t klen = eq ? (size_t)(eq - q) : n;
        size_t i = 0;
        const char *nm = name;
        /* compare the decoded key with name without copying it */
        while (i < klen && *nm != '\0' &&
               pct_next(q, klen, &i, true, true) == (unsigned char)*nm)
            nm++;
        if (i == klen && *nm == '\0') {
            const char *v = eq ? eq + 1 : q + n;
            size_t vlen = (size_t)(q + n - v), o = 0;
            struct query_value *qv = malloc(sizeof *qv + vlen + 1);
            if (qv == NULL)
                return NULL;
            for (i = 0; i < vlen;)
                qv->s[o++] = (char)pct_next(v, vlen, &i, true, true);
            qv->s[o] = '\0';
            qv->next = req->qvals;
            req->qvals = qv;
            return qv->s;
        }
        q = amp ? amp + 1 : q + n;
    }
    return NULL;
}

void http_respond(struct http_request *r, int status, const char *content_type,
                  const char *body, size_t len, const char *extra_headers)
{
    struct sreq *req = container_of(r, struct sreq, pub);
    struct http_conn *conn = r->conn_;
    assert(!req->ready);
    if (conn == NULL) {
        sreq_free(req);
        return;
    }
    if (status < 100 || status > 999)
        status = 500;
    if (headers_say_close(extra_headers))
        req->close_after = true;
    req->resp = out_build(status, content_type, body, len, extra_headers,
                          req->close_after, req->ka10);
    req->ready = true;
    conn_flush(conn);
}

void http_server_stop(struct http_server *srv,
                      void (*cb)(struct http_server *srv))
{
    struct http_conn *conn;
    assert(!srv->stopping && srv->lis != NULL);
    srv->stopping = 1;
    srv->stop_cb = cb;
    uv_close((uv_handle_t *)&srv->lis->tcp, lis_handle_closed);
    for (conn = srv->conns; conn != NULL; conn = conn->next)
        conn_close(conn);
}
