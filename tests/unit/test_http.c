/* Tests for node/http_server and node/http_client.  Protocol tests run the
 * server's loop in a thread and talk to it over blocking sockets, byte-exact;
 * client tests run the client and a server (ours, or a scripted stub) on
 * one loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <http_parser.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <uv.h>

#include "node/http_client.h"
#include "node/http_server.h"

/* ---- server fixture ---------------------------------------------------- */

enum mode {
    MODE_ECHO,    /* answer at once with what was received */
    MODE_REVERSE, /* hold REVERSE_N requests, answer them last first */
    MODE_HOLD,    /* keep the request; the test answers it */
    MODE_LATER,   /* answer from a timer a moment later */
};

#define REVERSE_N 5
#define MAX_HELD 64

struct fixture {
    uv_loop_t loop;
    struct http_server srv;
    uv_async_t stop_async;
    pthread_t thread;
    bool threaded;
    int port;
    enum mode mode;
    atomic_int handled;
    atomic_int stopped;
    atomic_size_t open_at_stop;
    size_t max_open; /* most connections seen open by the handler */
    struct http_request *held[MAX_HELD];
    int n_held;
};

static void echo(struct http_request *req)
{
    char out[4096];
    const char *x = http_request_query(req, "x");
    const char *y = http_request_query(req, "y");
    const char *flag = http_request_query(req, "flag");
    const char *z = http_request_query(req, "z");
    const char *hdr = http_request_header(req, "x-TEST");
    int n = snprintf(
        out, sizeof out,
        "method=%s path=%s query=%s x=%s y=%s flag=%s z=%s missing=%s hdr=%s "
        "len=%zu body=%s",
        req->method_name, req->path, req->query ? req->query : "(null)",
        x ? x : "(null)", y ? y : "(null)", flag ? flag : "(null)",
        z ? z : "(null)", http_request_query(req, "nope") ? "yes" : "(null)",
        hdr ? hdr : "(null)", req->body_len, req->body);
    assert_true(req->body[req->body_len] == '\0');
    if (strcmp(req->path, "/bad-status") == 0)
        http_respond(req, 42, NULL, "", 0, NULL);
    else if (strcmp(req->path, "/close") == 0)
        http_respond(req, 200, "text/plain", out, (size_t)n,
                     "connection:  Close \r\n");
    else
        http_respond(req, 200, "text/plain", out, (size_t)n, "X-Echo: 1\r\n");
}

struct later {
    uv_timer_t timer;
    struct http_request *req;
};

static void later_closed(uv_handle_t *h)
{
    free(h->data);
}

static void later_cb(uv_timer_t *t)
{
    struct later *l = t->data;
    echo(l->req);
    uv_close((uv_handle_t *)&l->timer, later_closed);
}

static void handler(struct http_server *srv, struct http_request *req)
{
    struct fixture *f = http_server_data(srv);
    size_t open = http_server_open_connections(srv);
    atomic_fetch_add(&f->handled, 1);
    if (open > f->max_open)
        f->max_open = open;
    assert_true(req->start_ns > 0);
    switch (f->mode) {
    case MODE_ECHO: echo(req); break;
    case MODE_REVERSE:
        f->held[f->n_held++] = req;
        if (f->n_held == REVERSE_N) {
            while (f->n_held > 0) {
                struct http_request *r = f->held[--f->n_held];
                http_respond(r, 200, "text/plain", r->path, strlen(r->path),
                             strcmp(r->path, "/r/close") == 0
                                 ? "Connection: close\r\n"
                                 : NULL);
            }
        }
        break;
    case MODE_HOLD:
        assert_true(f->n_held < MAX_HELD);
        f->held[f->n_held++] = req;
        break;
    case MODE_LATER: {
        struct later *l = malloc(sizeof *l);
        assert_non_null(l);
        l->req = req;
        uv_timer_init(srv->loop, &l->timer);
        l->timer.data = l;
        uv_timer_start(&l->timer, later_cb, 1, 0);
        break;
    }
    }
}

static void fixture_start(struct fixture *f, enum mode mode, size_t max_body)
{
    struct gd_err err = {0};
    memset(f, 0, sizeof *f);
    f->mode = mode;
    assert_int_equal(uv_loop_init(&f->loop), 0);
    assert_int_equal(http_server_start(&f->srv, &f->loop, "127.0.0.1", 0,
                                       max_body, handler, f, &err),
                     0);
    f->port = http_server_port(&f->srv);
    assert_true(f->port > 0);
}

static void on_stopped(struct http_server *srv)
{
    struct fixture *f = http_server_data(srv);
    atomic_store(&f->open_at_stop, http_server_open_connections(srv));
    atomic_store(&f->stopped, 1);
    if (f->threaded)
        uv_close((uv_handle_t *)&f->stop_async, NULL);
}

static void stop_async_cb(uv_async_t *a)
{
    struct fixture *f = a->data;
    http_server_stop(&f->srv, on_stopped);
}

static void *loop_thread(void *arg)
{
    struct fixture *f = arg;
    uv_run(&f->loop, UV_RUN_DEFAULT);
    return NULL;
}

/* Server loop in its own thread, for blocking-socket tests. */
static void *thread_setup(enum mode mode, size_t max_body)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    fixture_start(f, mode, max_body);
    f->threaded = true;
    assert_int_equal(uv_async_init(&f->loop, &f->stop_async, stop_async_cb), 0);
    f->stop_async.data = f;
    assert_int_equal(pthread_create(&f->thread, NULL, loop_thread, f), 0);
    return f;
}

/* Stops the server from its thread; checks that the stop completes with no
 * connection left and that every handle got closed. */
static void thread_teardown(struct fixture *f)
{
    uv_async_send(&f->stop_async);
    pthread_join(f->thread, NULL);
    assert_int_equal(atomic_load(&f->stopped), 1);
    assert_int_equal(atomic_load(&f->open_at_stop), 0);
    while (f->n_held > 0) /* after stop: only frees */
        http_respond(f->held[--f->n_held], 200, NULL, "late", 4, NULL);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    free(f);
}

/* ---- blocking client side ---------------------------------------------- */

static int tcp_connect(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port)};
    struct timeval tv = {.tv_sec = 10};
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static void send_all(int fd, const char *s, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, s, len, MSG_NOSIGNAL);
        assert_true(n > 0);
        s += n;
        len -= (size_t)n;
    }
}

static void send_str(int fd, const char *s)
{
    send_all(fd, s, strlen(s));
}

struct resp {
    int status;
    char headers[2048]; /* "Name: value\n" each */
    char body[70000];
    size_t body_len;
    bool keep_alive;
    bool done;
    bool in_value;
};

/* Reads responses off one connection; bytes past a response stay for the
 * next one, so pipelined responses come out one by one. */
struct reader {
    int fd;
    http_parser parser;
    struct resp *r;
    char buf[65536];
    size_t len;
};

static int r_field(http_parser *p, const char *at, size_t len)
{
    struct reader *rd = p->data;
    size_t n = strlen(rd->r->headers);
    if (rd->r->in_value) {
        strcat(rd->r->headers, "\n");
        n++;
        rd->r->in_value = false;
    }
    assert_true(n + len + 4 < sizeof rd->r->headers);
    memcpy(rd->r->headers + n, at, len);
    rd->r->headers[n + len] = '\0';
    return 0;
}

static int r_value(http_parser *p, const char *at, size_t len)
{
    struct reader *rd = p->data;
    size_t n = strlen(rd->r->headers);
    if (!rd->r->in_value) {
        strcat(rd->r->headers, ": ");
        n += 2;
        rd->r->in_value = true;
    }
    assert_true(n + len + 4 < sizeof rd->r->headers);
    memcpy(rd->r->headers + n, at, len);
    rd->r->headers[n + len] = '\0';
    return 0;
}

static int r_body(http_parser *p, const char *at, size_t len)
{
    struct reader *rd = p->data;
    assert_true(rd->r->body_len + len < sizeof rd->r->body);
    memcpy(rd->r->body + rd->r->body_len, at, len);
    rd->r->body_len += len;
    rd->r->body[rd->r->body_len] = '\0';
    return 0;
}

static int r_done(http_parser *p)
{
    struct reader *rd = p->data;
    rd->r->done = true;
    rd->r->status = (int)p->status_code;
    rd->r->keep_alive = http_should_keep_alive(p);
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings r_settings = {
    .on_header_field = r_field,
    .on_header_value = r_value,
    .on_body = r_body,
    .on_message_complete = r_done,
};

static void reader_init(struct reader *rd, int fd)
{
    memset(rd, 0, sizeof *rd);
    rd->fd = fd;
}

/* 0 with *r filled, or -1 if the connection ended first. */
static int read_response(struct reader *rd, struct resp *r)
{
    memset(r, 0, sizeof *r);
    rd->r = r;
    http_parser_init(&rd->parser, HTTP_RESPONSE);
    rd->parser.data = rd;
    for (;;) {
        if (rd->len > 0) {
            size_t n =
                http_parser_execute(&rd->parser, &r_settings, rd->buf, rd->len);
            memmove(rd->buf, rd->buf + n, rd->len - n);
            rd->len -= n;
            if (r->done) {
                strcat(r->headers, "\n");
                return 0;
            }
            assert_int_equal(HTTP_PARSER_ERRNO(&rd->parser), HPE_OK);
        }
        ssize_t got =
            recv(rd->fd, rd->buf + rd->len, sizeof rd->buf - rd->len, 0);
        if (got <= 0)
            return -1;
        rd->len += (size_t)got;
    }
}

/* The server closes after its last response: reads see the end. */
static void expect_closed(struct reader *rd)
{
    char c;
    assert_int_equal(rd->len, 0);
    ssize_t n = recv(rd->fd, &c, 1, 0);
    assert_true(n == 0 || (n < 0 && errno == ECONNRESET));
}

static void roundtrip(int fd, const char *request, struct resp *r)
{
    struct reader rd;
    reader_init(&rd, fd);
    send_str(fd, request);
    assert_int_equal(read_response(&rd, r), 0);
}

/* ---- server tests ------------------------------------------------------ */

static int setup_echo(void **state)
{
    *state = thread_setup(MODE_ECHO, 1024);
    return 0;
}

static int setup_reverse(void **state)
{
    *state = thread_setup(MODE_REVERSE, 1024);
    return 0;
}

static int teardown_thread(void **state)
{
    thread_teardown(*state);
    return 0;
}

static void test_get_and_post(void **state)
{
    struct fixture *f = *state;
    struct resp *r = malloc(sizeof *r);
    int fd = tcp_connect(f->port);
    roundtrip(fd,
              "GET /v1/a%20b/echo?x=a%20b&y=1+2&flag&z=%zz#frag "
              "HTTP/1.1\r\nHost: h\r\n"
              "X-Test: Hello\r\n\r\n",
              r);
    assert_int_equal(r->status, 200);
    assert_true(r->keep_alive);
    assert_non_null(strstr(r->headers, "Content-Type: text/plain\n"));
    assert_non_null(strstr(r->headers, "X-Echo: 1\n"));
    assert_null(strstr(r->headers, "Connection:"));
    assert_string_equal(
        r->body,
        "method=GET path=/v1/a b/echo query=x=a%20b&y=1+2&flag&z=%zz "
        "x=a b y=1 2 flag= z=%zz missing=(null) hdr=Hello len=0 body=");

    roundtrip(fd,
              "POST /v1/tickets HTTP/1.1\r\nHost: h\r\nContent-Type: "
              "application/json\r\n"
              "Content-Length: 13\r\n\r\n{\"a\":\"hello\"}",
              r);
    assert_int_equal(r->status, 200);
    assert_string_equal(
        r->body, "method=POST path=/v1/tickets query=(null) x=(null) y=(null) "
                 "flag=(null) z=(null) missing=(null) hdr=(null) len=13 "
                 "body={\"a\":\"hello\"}");

    /* chunked request body */
    roundtrip(fd,
              "PATCH /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
              "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
              r);
    assert_int_equal(r->status, 200);
    assert_non_null(strstr(r->body, "method=PATCH path=/c "));
    assert_non_null(strstr(r->body, "len=11 body=hello world"));

    /* a chunked body of exactly max_body, in pieces */
    {
        char req[2048];
        int n = sprintf(
            req, "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
        for (int i = 0; i < 4; i++) {
            n += sprintf(req + n, "100\r\n");
            memset(req + n, 'a' + i, 256);
            n += 256;
            n += sprintf(req + n, "\r\n");
        }
        sprintf(req + n, "0\r\n\r\n");
        roundtrip(fd, req, r);
        assert_int_equal(r->status, 200);
        assert_non_null(strstr(r->body, "len=1024 body=aaaa"));
        assert_non_null(strstr(r->body, "dddd"));
    }

    /* empty header values and many headers stay apart */
    roundtrip(fd, "GET /h HTTP/1.1\r\nX-Empty:\r\nX-Test:   v  \r\n\r\n", r);
    assert_non_null(strstr(r->body, "hdr=v len="));
    close(fd);
    assert_int_equal(atomic_load(&f->handled), 5);
    free(r);
}

static void test_keepalive_100(void **state)
{
    struct fixture *f = *state;
    struct resp *r = malloc(sizeof *r);
    struct reader rd;
    int fd = tcp_connect(f->port);
    int i;
    reader_init(&rd, fd);
    for (i = 0; i < 100; i++) {
        char req[128], want[64];
        snprintf(req, sizeof req, "GET /n/%d HTTP/1.1\r\nHost: h\r\n\r\n", i);
        send_str(fd, req);
        assert_int_equal(read_response(&rd, r), 0);
        assert_int_equal(r->status, 200);
        assert_true(r->keep_alive);
        snprintf(want, sizeof want, "path=/n/%d ", i);
        assert_non_null(strstr(r->body, want));
    }
    close(fd);
    assert_int_equal(atomic_load(&f->handled), 100);
    free(r);
}

static void test_pipelined_reverse(void **state)
{
    struct fixture *f = *state;
    struct resp *r = malloc(sizeof *r);
    struct reader rd;
    char reqs[1024] = "";
    int fd = tcp_connect(f->port);
    int i;
    for (i = 0; i < REVERSE_N; i++) {
        char one[64];
        snprintf(one, sizeof one, "GET /r/%d HTTP/1.1\r\n\r\n", i);
        strcat(reqs, one);
    }
    send_str(fd, reqs); /* all in one segment */
    reader_init(&rd, fd);
    for (i = 0; i < REVERSE_N; i++) {
        char want[16];
        snprintf(want, sizeof want, "/r/%d", i);
        assert_int_equal(read_response(&rd, r), 0);
        assert_int_equal(r->status, 200);
        assert_string_equal(r->body, want);
    }
    close(fd);
    (void)f;
    free(r);
}

static void test_body_too_large(void **state)
{
    struct fixture *f = *state;
    struct resp *r = malloc(sizeof *r);
    struct reader rd;
    int fd = tcp_connect(f->port);
    /* the body is never sent: the answer must not wait for it */
    send_str(fd, "POST /big HTTP/1.1\r\nContent-Length: 1000000\r\n\r\n");
    reader_init(&rd, fd);
    assert_int_equal(read_response(&rd, r), 0);
    assert_int_equal(r->status, 413);
    assert_false(r->keep_alive);
    assert_non_null(strstr(r->headers, "Content-Type: application/json\n"));
    assert_non_null(strstr(r->headers, "Connection: close\n"));
    assert_string_equal(r->body, "{\"error\":{\"code\":\"too_large\","
                                 "\"message\":\"body over 1024 bytes\"}}");
    expect_closed(&rd);
    close(fd);

    /* a chunked body that grows past the limit */
    fd = tcp_connect(f->port);
    reader_init(&rd, fd);
    send_str(fd, "POST /big HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 3; i++) {
        char chunk[600];
        memset(chunk, 'a', sizeof chunk);
        send_str(fd, "258\r\n"); /* 600 */
        send_all(fd, chunk, sizeof chunk);
        send_str(fd, "\r\n");
    }
    assert_int_equal(read_response(&rd, r), 0);
    assert_int_equal(r->status, 413);
    close(fd);

    /* exactly max_body is fine */
    fd = tcp_connect(f->port);
    {
        char *req = malloc(2048);
        int n = snprintf(req, 2048,
                         "POST /ok HTTP/1.1\r\nContent-Length: 1024\r\n\r\n");
        memset(req + n, 'b', 1024);
        req[n + 1024] = '\0';
        roundtrip(fd, req, r);
        assert_int_equal(r->status, 200);
        assert_non_null(strstr(r->body, "len=1024 "));
        free(req);
    }
    close(fd);
    assert_int_equal(atomic_load(&f->handled), 1);
    free(r);
}

static void test_malformed(void **state)
{
    struct fixture *f = *state;
    struct resp *r = malloc(sizeof *r);
    struct reader rd;
    static const char *bad[] = {
        "GARBAGE\r\n\r\n",
        "GET /x HTTP/1.1\r\nBad Header\r\n\r\n",
        "GET /a%zz HTTP/1.1\r\n\r\n",
        "GET /a%00 HTTP/1.1\r\n\r\n",
        "POST /x HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int fd = tcp_connect(f->port);
        reader_init(&rd, fd);
        send_str(fd, bad[i]);
        assert_int_equal(read_response(&rd, r), 0);
        assert_int_equal(r->status, 400);
        assert_non_null(strstr(r->headers, "Connection: close\n"));
        assert_non_null(
            strstr(r->body,
                   "{\"error\":{\"code\":\"invalid_argument\",\"message\":\""));
        expect_closed(&rd);
        close(fd);
    }

    /* a good request before a bad one is still answered, in order */
    int fd = tcp_connect(f->port);
    reader_init(&rd, fd);
    send_str(fd, "GET /first HTTP/1.1\r\n\r\nNONSENSE\r\n\r\n");
    assert_int_equal(read_response(&rd, r), 0);
    assert_int_equal(r->status, 200);
    assert_int_equal(read_response(&rd, r), 0);
    assert_int_equal(r->status, 400);
    expect_closed(&rd);
    close(fd);

    /* too many headers: 431 */
    fd = tcp_connect(f->port);
    reader_init(&rd, fd);
    send_str(fd, "GET /h HTTP/1.1\r\n");
    for (int i = 0; i < 101; i++) {
        char h[32];
        snprintf(h, sizeof h, "X-%d: v\r\n", i);
        send_str(fd, h);
    }
    send_str(fd, "\r\n");
    assert_int_equal(read_response(&rd, r), 0);
    assert_int_equal(r->status, 431);
    assert_non_null(strstr(r->body, "\"too_large\""));
    close(fd);
    assert_int_equal(atomic_load(&f->handled), 1);
    free(r);
}

static void send_slowly(int fd, const char *s)
{
    for (; *s; s++) {
        send_all(fd, s, 1);
        usleep(200);
    }
}

static void test_byte_by_byte(void **state)
{
    struct fixture *f = *state;
    struct resp *r = malloc(sizeof *r);
    struct reader rd;
    int fd = tcp_connect(f->port);
    reader_init(&rd, fd);
    send_slowly(
        fd, "POST /slow/p%41th?x=%41+b HTTP/1.1\r\nHost: h\r\nX-Test: byte\r\n"
            "Content-Length: 11\r\n\r\nhello world");
    assert_int_equal(read_response(&rd, r), 0);
    assert_string_equal(
        r->body, "method=POST path=/slow/pAth query=x=%41+b x=A b y=(null) "
                 "flag=(null) z=(null) missing=(null) hdr=byte len=11 "
                 "body=hello world");
    send_slowly(fd,
                "PUT /chunked HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
    assert_int_equal(read_response(&rd, r), 0);
    assert_non_null(strstr(r->body, "len=5 body=abcde"));
    close(fd);
    free(r);
}

static void test_http10(void **state)
{
    struct fixture *f = *state;
    struct resp *r = malloc(sizeof *r);
    struct reader rd;
    int fd = tcp_connect(f->port);
    reader_init(&rd, fd);
    send_str(fd, "GET /old HTTP/1.0\r\n\r\n");
    assert_int_equal(read_response(&rd, r), 0);
    assert_non_null(strstr(r->headers, "Connection: close\n"));
    expect_closed(&rd);
    close(fd);

    fd = tcp_connect(f->port);
    reader_init(&rd, fd);
    for (int i = 0; i < 2; i++) {
        send_str(fd, "GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        assert_int_equal(read_response(&rd, r), 0);
        assert_int_equal(r->status, 200);
        assert_non_null(strstr(r->headers, "Connection: keep-alive\n"));
    }
    /* HTTP/1.1 asking to close */
    send_str(fd, "GET /bye HTTP/1.1\r\nConnection: close\r\n\r\n");
    assert_int_equal(read_response(&rd, r), 0);
    assert_non_null(strstr(r->headers, "Connection: close\n"));
    expect_closed(&rd);
    close(fd);
    free(r);
}

#define MANY 2000

static void test_many_connections(void **state)
{
    struct fixture *f = *state;
    struct resp *r = malloc(sizeof *r);
    struct reader *rd = malloc(sizeof *rd);
    int *fds = malloc(MANY * sizeof *fds);
    int i;
    for (i = 0; i < MANY; i++)
        fds[i] = tcp_connect(f->port);
    for (i = 0; i < MANY; i++) {
        char req[64];
        snprintf(req, sizeof req, "GET /c/%d HTTP/1.1\r\n\r\n", i);
        send_str(fds[i], req);
    }
    for (i = MANY - 1; i >= 0; i--) {
        char want[32];
        reader_init(rd, fds[i]);
        assert_int_equal(read_response(rd, r), 0);
        snprintf(want, sizeof want, "path=/c/%d ", i);
        assert_non_null(strstr(r->body, want));
    }
    assert_int_equal(atomic_load(&f->handled), MANY);
    /* teardown stops the server with all of these still open */
    for (i = 0; i < MANY; i++)
        close(fds[i]);
    free(fds);
    free(rd);
    free(r);
}

static void test_stop_with_pending(void **state)
{
    struct fixture *f = thread_setup(MODE_HOLD, 1024);
    int fd = tcp_connect(f->port);
    int idle = tcp_connect(f->port);
    char c;
    (void)state;
    send_str(fd, "GET /never HTTP/1.1\r\n\r\n");
    while (atomic_load(&f->handled) < 1)
        usleep(1000);
    thread_teardown(f); /* stop completes; the held request is freed after */
    assert_true(recv(fd, &c, 1, 0) <= 0);
    assert_true(recv(idle, &c, 1, 0) <= 0);
    close(fd);
    close(idle);
}

static void test_handler_closes(void **state)
{
    struct fixture *f = *state;
    struct resp *r = malloc(sizeof *r);
    struct reader rd;
    int fd = tcp_connect(f->port);
    reader_init(&rd, fd);
    send_str(fd, "GET /close HTTP/1.1\r\n\r\nGET /never HTTP/1.1\r\n\r\n");
    assert_int_equal(read_response(&rd, r), 0);
    assert_int_equal(r->status, 200);
    assert_false(r->keep_alive);
    expect_closed(&rd);
    close(fd);

    fd = tcp_connect(f->port);
    reader_init(&rd, fd);
    send_str(fd, "GET /bad-status HTTP/1.1\r\n\r\n");
    assert_int_equal(read_response(&rd, r), 0);
    assert_int_equal(r->status, 500);
    assert_non_null(strstr(r->headers, "Content-Length: 0\n"));
    /* an upgrade is not spoken: answered, then closed */
    send_str(fd, "GET /ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: "
                 "websocket\r\n\r\n");
    assert_int_equal(read_response(&rd, r), 0);
    assert_int_equal(r->status, 200);
    assert_non_null(strstr(r->headers, "Connection: close\n"));
    expect_closed(&rd);
    close(fd);
    assert_int_equal(atomic_load(&f->handled), 3);
    free(r);
}

static void test_pipelined_close_drops_rest(void **state)
{
    struct fixture *f = *state;
    struct resp *r = malloc(sizeof *r);
    struct reader rd;
    int fd = tcp_connect(f->port);
    reader_init(&rd, fd);
    /* answered 4, 3, 2, close, 0: after 0 and close nothing more goes out */
    send_str(fd, "GET /r/0 HTTP/1.1\r\n\r\nGET /r/close HTTP/1.1\r\n\r\nGET "
                 "/r/2 HTTP/1.1\r\n\r\n"
                 "GET /r/3 HTTP/1.1\r\n\r\nGET /r/4 HTTP/1.1\r\n\r\n");
    assert_int_equal(read_response(&rd, r), 0);
    assert_string_equal(r->body, "/r/0");
    assert_int_equal(read_response(&rd, r), 0);
    assert_string_equal(r->body, "/r/close");
    assert_non_null(strstr(r->headers, "Connection: close\n"));
    expect_closed(&rd);
    close(fd);
    (void)f;
    free(r);
}

static void test_half_close(void **state)
{
    struct fixture *f = *state;
    struct resp *r = malloc(sizeof *r);
    struct reader rd;
    int fd = tcp_connect(f->port);
    reader_init(&rd, fd);
    send_str(fd, "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n");
    shutdown(fd, SHUT_WR); /* nothing more, but answer what was sent */
    assert_int_equal(read_response(&rd, r), 0);
    assert_non_null(strstr(r->body, "path=/a "));
    assert_int_equal(read_response(&rd, r), 0);
    assert_non_null(strstr(r->body, "path=/b "));
    expect_closed(&rd);
    close(fd);

    /* an incomplete request then the end: closed unanswered */
    fd = tcp_connect(f->port);
    reader_init(&rd, fd);
    send_str(fd, "POST /x HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc");
    shutdown(fd, SHUT_WR);
    expect_closed(&rd);
    close(fd);
    assert_int_equal(atomic_load(&f->handled), 2);
    free(r);
}

static void test_head_too_large(void **state)
{
    struct fixture *f = *state;
    struct resp *r = malloc(sizeof *r);
    struct reader rd;
    size_t big = 100 * 1024;
    char *h = malloc(big + 64);
    int fd = tcp_connect(f->port);
    reader_init(&rd, fd);
    strcpy(h, "GET / HTTP/1.1\r\nX-Big: ");
    memset(h + strlen(h), 'v', big);
    h[23 + big] = '\0';
    strcat(h, "\r\n\r\n");
    send_str(fd, h);
    assert_int_equal(read_response(&rd, r), 0);
    assert_int_equal(r->status, 431);
    assert_non_null(strstr(r->body, "request head over 80 KiB"));
    close(fd);
    assert_int_equal(atomic_load(&f->handled), 0);
    free(h);
    free(r);
}

/* A closing connection whose client neither closes nor sends is dropped
 * after the linger time. */
static void test_linger_timeout(void **state)
{
    struct fixture *f = *state;
    struct resp *r = malloc(sizeof *r);
    struct reader rd;
    int fd = tcp_connect(f->port);
    uint64_t start = uv_hrtime();
    reader_init(&rd, fd);
    send_str(fd, "POST /big HTTP/1.1\r\nContent-Length: 5000\r\n\r\n");
    assert_int_equal(read_response(&rd, r), 0);
    assert_int_equal(r->status, 413);
    send_str(fd, "some of the body, dropped");
    /* read across threads without a lock: it only has to reach 0 */
    while (*(volatile size_t *)&f->srv.n_conns != 0 &&
           uv_hrtime() - start < 5000000000ull)
        usleep(10000);
    assert_true(uv_hrtime() - start >= 1900000000ull);
    assert_true(uv_hrtime() - start < 5000000000ull);
    close(fd);
    free(r);
}

static int setup_later(void **state)
{
    *state = thread_setup(MODE_LATER, 1024);
    return 0;
}

/* Far more pipelined requests than the server lets wait: it stops reading,
 * then resumes, and everything is answered in order. */
static void test_pipeline_backpressure(void **state)
{
    struct fixture *f = *state;
    enum { N = 3000 };
    struct resp *r = malloc(sizeof *r);
    struct reader rd;
    char *all = malloc(N * 40);
    size_t len = 0;
    int fd = tcp_connect(f->port);
    for (int i = 0; i < N; i++)
        len += (size_t)sprintf(all + len, "GET /p/%d HTTP/1.1\r\n\r\n", i);
    send_all(fd, all, len);
    reader_init(&rd, fd);
    for (int i = 0; i < N; i++) {
        char want[32];
        snprintf(want, sizeof want, "path=/p/%d ", i);
        assert_int_equal(read_response(&rd, r), 0);
        assert_non_null(strstr(r->body, want));
    }
    close(fd);
    assert_int_equal(atomic_load(&f->handled), N);
    free(all);
    free(r);
}

static void test_port_in_use(void **state)
{
    struct fixture *f = *state;
    struct http_server other;
    struct gd_err err = {0};
    uv_loop_t loop;
    uv_loop_init(&loop);
    assert_int_equal(http_server_start(&other, &loop, "127.0.0.1", f->port, 10,
                                       handler, f, &err),
                     GD_EIO);
    assert_non_null(strstr(err.msg, "address already in use"));
    assert_int_equal(
        http_server_start(&other, &loop, "not-an-ip", 0, 10, handler, f, &err),
        GD_EINVAL);
    uv_run(&loop, UV_RUN_DEFAULT); /* closes the failed listener */
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* ---- client tests: everything on one loop ------------------------------ */

struct call {
    int status;
    char ctype[64];
    char body[256];
    size_t len;
    int calls;
    uint64_t at_ns;
    struct http_client *client; /* for follow-up requests */
    void (*then)(struct call *call);
};

static void call_cb(void *data, int status, const char *ctype, const char *body,
                    size_t len)
{
    struct call *c = data;
    c->calls++;
    c->status = status;
    snprintf(c->ctype, sizeof c->ctype, "%s", ctype ? ctype : "(null)");
    snprintf(c->body, sizeof c->body, "%s", body);
    assert_true(body[len] == '\0');
    c->len = len;
    c->at_ns = uv_hrtime();
    if (c->then)
        c->then(c);
}

static void tick_cb(uv_timer_t *t)
{
    (void)t;
}

/* Runs loop until *count reaches want (fails after 10 s). */
static void run_until(uv_loop_t *loop, const int *count, int want)
{
    uv_timer_t tick;
    uint64_t start = uv_hrtime();
    uv_timer_init(loop, &tick);
    uv_timer_start(&tick, tick_cb, 20, 20);
    while (*count < want) {
        assert_true(uv_hrtime() - start < 10000000000ull);
        uv_run(loop, UV_RUN_ONCE);
    }
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
}

static void local_stop(struct fixture *f)
{
    http_server_stop(&f->srv, on_stopped);
    run_until(&f->loop, (const int *)&f->stopped, 1);
    assert_int_equal(atomic_load(&f->open_at_stop), 0);
}

static void close_loop(uv_loop_t *loop)
{
    uv_run(loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(loop), 0);
}

static int total_calls;

static void count_cb(void *data, int status, const char *ctype,
                     const char *body, size_t len)
{
    call_cb(data, status, ctype, body, len);
    total_calls++;
}

static void test_client_pool(void **state)
{
    struct fixture f;
    struct http_client *cl;
    enum { N = 200 };
    struct call *calls = calloc(N, sizeof *calls);
    int i;
    (void)state;
    fixture_start(&f, MODE_LATER, 4096);
    assert_int_equal(http_client_new(&f.loop, "localhost", f.port, 4, &cl), 0);
    total_calls = 0;
    for (i = 0; i < N; i++) {
        char body[32];
        int n = snprintf(body, sizeof body, "req-%d", i);
        assert_int_equal(
            http_client_request(cl, "POST", "/pool?x=1", "X-Test: pool\r\n",
                                body, (size_t)n, 5000, count_cb, &calls[i]),
            0);
    }
    assert_int_equal(total_calls, 0); /* never from inside the call */
    run_until(&f.loop, &total_calls, N);
    for (i = 0; i < N; i++) {
        char want[64];
        snprintf(want, sizeof want, "hdr=pool len=%d body=req-%d",
                 i < 10    ? 5
                 : i < 100 ? 6
                           : 7,
                 i);
        assert_int_equal(calls[i].calls, 1);
        assert_int_equal(calls[i].status, 200);
        assert_string_equal(calls[i].ctype, "text/plain");
        assert_non_null(strstr(calls[i].body, want));
    }
    assert_true(f.max_open <= 4);
    assert_true(f.max_open >= 2);
    assert_int_equal(atomic_load(&f.handled), N);

    /* bad requests are refused up front and never called back */
    assert_int_equal(
        http_client_request(cl, "GE T", "/", NULL, NULL, 0, 0, call_cb, calls),
        GD_EINVAL);
    assert_int_equal(http_client_request(cl, "GET", "/a b", NULL, NULL, 0, 0,
                                         call_cb, calls),
                     GD_EINVAL);
    assert_int_equal(http_client_request(cl, "GET", "/",
                                         "X: 1\r\n\r\nGET / HTTP/1.1\r\n", NULL,
                                         0, 0, call_cb, calls),
                     GD_EINVAL);
    assert_int_equal(
        http_client_request(cl, "GET", "/", "X: 1", NULL, 0, 0, call_cb, calls),
        GD_EINVAL);

    /* stopping the server with pooled connections open completes */
    local_stop(&f);
    http_client_free(cl);
    close_loop(&f.loop);
    free(calls);
}

static void test_client_body_too_large(void **state)
{
    struct fixture f;
    struct http_client *cl;
    struct call call = {0};
    size_t big = 4 * 1024 * 1024;
    char *body = malloc(big);
    (void)state;
    memset(body, 'x', big);
    fixture_start(&f, MODE_ECHO, 1024);
    assert_int_equal(http_client_new(&f.loop, "127.0.0.1", f.port, 1, &cl), 0);
    /* the server answers before reading the body we are still writing */
    assert_int_equal(http_client_request(cl, "POST", "/big", NULL, body, big,
                                         5000, call_cb, &call),
                     0);
    free(body);
    run_until(&f.loop, &call.calls, 1);
    assert_int_equal(call.status, 413);
    assert_string_equal(call.ctype, "application/json");
    assert_non_null(strstr(call.body, "body over 1024 bytes"));
    /* and the pool goes on */
    memset(&call, 0, sizeof call);
    assert_int_equal(http_client_request(cl, "GET", "/after", NULL, NULL, 0,
                                         5000, call_cb, &call),
                     0);
    run_until(&f.loop, &call.calls, 1);
    assert_int_equal(call.status, 200);
    assert_int_equal(atomic_load(&f.handled), 1);
    http_client_free(cl);
    local_stop(&f);
    close_loop(&f.loop);
}

static int free_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

static void test_client_refused(void **state)
{
    uv_loop_t loop;
    struct http_client *cl;
    struct call calls[5] = {{0}};
    (void)state;
    uv_loop_init(&loop);
    assert_int_equal(http_client_new(&loop, "127.0.0.1", free_port(), 2, &cl),
                     0);
    total_calls = 0;
    for (int i = 0; i < 5; i++)
        assert_int_equal(http_client_request(cl, "GET", "/", NULL, NULL, 0, 0,
                                             count_cb, &calls[i]),
                         0);
    run_until(&loop, &total_calls, 5);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(calls[i].calls, 1);
        assert_int_equal(calls[i].status, GD_EUNAVAIL);
        assert_string_equal(calls[i].body, "");
    }
    http_client_free(cl);
    close_loop(&loop);
    assert_int_equal(http_client_new(&loop, "example.org", 80, 2, &cl),
                     GD_EINVAL);
    assert_int_equal(http_client_new(&loop, "127.0.0.1", 80, 0, &cl),
                     GD_EINVAL);
}

static void test_client_timeout_and_free(void **state)
{
    struct fixture f;
    struct http_client *cl;
    struct call slow = {0}, queued = {0}, held[3];
    uint64_t start;
    (void)state;
    fixture_start(&f, MODE_HOLD, 1024);
    assert_int_equal(http_client_new(&f.loop, "127.0.0.1", f.port, 1, &cl), 0);
    start = uv_hrtime();
    assert_int_equal(http_client_request(cl, "GET", "/slow", NULL, NULL, 0, 100,
                                         call_cb, &slow),
                     0);
    /* waits behind /slow in the FIFO, and times out there */
    assert_int_equal(http_client_request(cl, "GET", "/queued", NULL, NULL, 0,
                                         150, call_cb, &queued),
                     0);
    run_until(&f.loop, &queued.calls, 1);
    assert_int_equal(slow.calls, 1);
    assert_int_equal(slow.status, GD_EUNAVAIL);
    assert_true(slow.at_ns - start >= 95000000ull);
    assert_true(slow.at_ns - start < 2000000000ull);
    assert_int_equal(queued.status, GD_EUNAVAIL);
    assert_true(queued.at_ns - start >= 145000000ull);
    /* freeing fails what is pending, at once */
    memset(held, 0, sizeof held);
    for (int i = 0; i < 3; i++)
        assert_int_equal(http_client_request(cl, "GET", "/held", NULL, NULL, 0,
                                             0, call_cb, &held[i]),
                         0);
    {
        int before = f.n_held;
        run_until(&f.loop, &f.n_held,
                  before + 1); /* the first one reached the server */
    }
    http_client_free(cl);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(held[i].calls, 1);
        assert_int_equal(held[i].status, GD_EUNAVAIL);
    }
    /* the held requests outlive their connections and the server */
    local_stop(&f);
    while (f.n_held > 0)
        http_respond(f.held[--f.n_held], 200, NULL, "late", 4, NULL);
    close_loop(&f.loop);
}

/* A scripted server: answers every request head with a fixed response and
 * may close the connection right after it. */
struct stub {
    uv_tcp_t lis;
    int port;
    const char *response;
    bool close_after;
    int accepted;
    int requests;
    uv_tcp_t *conns[64];
    int n_conns;
};

struct stub_conn {
    uv_tcp_t tcp;
    uv_write_t w;
    struct stub *st;
    char buf[4096];
    size_t len;
};

static void stub_conn_closed(uv_handle_t *h)
{
    struct stub_conn *sc = h->data;
    struct stub *st = sc->st;
    for (int i = 0; i < st->n_conns; i++)
        if (st->conns[i] == &sc->tcp)
            st->conns[i] = st->conns[--st->n_conns];
    free(sc);
}

static void stub_close(struct stub_conn *sc)
{
    if (!uv_is_closing((uv_handle_t *)&sc->tcp))
        uv_close((uv_handle_t *)&sc->tcp, stub_conn_closed);
}

static void stub_write_cb(uv_write_t *w, int status)
{
    struct stub_conn *sc = w->data;
    if (status != 0 || sc->st->close_after)
        stub_close(sc);
}

static void stub_alloc(uv_handle_t *h, size_t s, uv_buf_t *buf)
{
    struct stub_conn *sc = h->data;
    (void)s;
    *buf = uv_buf_init(sc->buf + sc->len, (unsigned)(sizeof sc->buf - sc->len));
}

static void stub_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct stub_conn *sc = s->data;
    char *end;
    (void)buf;
    if (nread < 0) {
        stub_close(sc);
        return;
    }
    sc->len += (size_t)nread;
    while ((end = memmem(sc->buf, sc->len, "\r\n\r\n", 4)) != NULL) {
        size_t used = (size_t)(end + 4 - sc->buf);
        uv_buf_t b = uv_buf_init((char *)sc->st->response,
                                 (unsigned)strlen(sc->st->response));
        memmove(sc->buf, sc->buf + used, sc->len - used);
        sc->len -= used;
        sc->st->requests++;
        sc->w.data = sc;
        assert_int_equal(uv_write(&sc->w, s, &b, 1, stub_write_cb), 0);
        break; /* one at a time is all the client does */
    }
}

static void stub_accept(uv_stream_t *lis, int status)
{
    struct stub *st = lis->data;
    struct stub_conn *sc = calloc(1, sizeof *sc);
    assert_int_equal(status, 0);
    sc->st = st;
    uv_tcp_init(lis->loop, &sc->tcp);
    sc->tcp.data = sc;
    assert_int_equal(uv_accept(lis, (uv_stream_t *)&sc->tcp), 0);
    st->conns[st->n_conns++] = &sc->tcp;
    st->accepted++;
    uv_read_start((uv_stream_t *)&sc->tcp, stub_alloc, stub_read);
}

static void stub_start(struct stub *st, uv_loop_t *loop, const char *response,
                       bool close_after)
{
    struct sockaddr_in sa;
    int len = sizeof sa;
    memset(st, 0, sizeof *st);
    st->response = response;
    st->close_after = close_after;
    uv_ip4_addr("127.0.0.1", 0, &sa);
    uv_tcp_init(loop, &st->lis);
    st->lis.data = st;
    assert_int_equal(uv_tcp_bind(&st->lis, (struct sockaddr *)&sa, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&st->lis, 64, stub_accept), 0);
    uv_tcp_getsockname(&st->lis, (struct sockaddr *)&sa, &len);
    st->port = ntohs(sa.sin_port);
}

static void stub_stop(struct stub *st)
{
    uv_close((uv_handle_t *)&st->lis, NULL);
    for (int i = 0; i < st->n_conns; i++)
        stub_close(st->conns[i]->data);
}

static void then_again(struct call *c)
{
    c->then = NULL;
    c->calls = 0;
    assert_int_equal(http_client_request(c->client, "GET", "/again", NULL, NULL,
                                         0, 5000, call_cb, c),
                     0);
}

static void test_client_peer_closes_idle(void **state)
{
    uv_loop_t loop;
    struct stub st;
    struct http_client *cl;
    struct call call = {0};
    (void)state;
    uv_loop_init(&loop);
    /* claims keep-alive, then closes as soon as the response is out */
    stub_start(&st, &loop, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
               true);
    assert_int_equal(http_client_new(&loop, "127.0.0.1", st.port, 1, &cl), 0);

    /* the next request goes out on the pooled connection at once, before
     * its close is seen: it must be retried, not failed */
    call.client = cl;
    call.then = then_again;
    assert_int_equal(http_client_request(cl, "GET", "/", NULL, NULL, 0, 5000,
                                         call_cb, &call),
                     0);
    run_until(&loop, &call.calls, 1);
    while (call.then != NULL || call.calls == 0)
        run_until(&loop, &call.calls, 1);
    assert_int_equal(call.status, 200);
    assert_string_equal(call.body, "ok");
    assert_int_equal(st.accepted, 2);

    /* after a pause, the close has been seen while idle */
    {
        uv_timer_t t;
        uint64_t until = uv_hrtime() + 50000000ull;
        uv_timer_init(&loop, &t);
        uv_timer_start(&t, tick_cb, 10, 10);
        while (uv_hrtime() < until)
            uv_run(&loop, UV_RUN_ONCE);
        uv_close((uv_handle_t *)&t, NULL);
    }
    memset(&call, 0, sizeof call);
    assert_int_equal(http_client_request(cl, "GET", "/", NULL, NULL, 0, 5000,
                                         call_cb, &call),
                     0);
    run_until(&loop, &call.calls, 1);
    assert_int_equal(call.status, 200);
    assert_int_equal(st.requests, 3);
    http_client_free(cl);
    stub_stop(&st);
    close_loop(&loop);
}

static void then_post(struct call *c)
{
    c->then = NULL;
    c->calls = 0;
    assert_int_equal(http_client_request(c->client, "POST", "/write", NULL,
                                         "{}", 2, 5000, call_cb, c),
                     0);
}

/* A POST on a pooled connection the peer closed is NOT sent again: the peer
 * may have acted on it, and a forwarded write must not happen twice. */
static void test_client_post_not_retried(void **state)
{
    uv_loop_t loop;
    struct stub st;
    struct http_client *cl;
    struct call call = {0};
    (void)state;
    uv_loop_init(&loop);
    stub_start(&st, &loop, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
               true);
    assert_int_equal(http_client_new(&loop, "127.0.0.1", st.port, 1, &cl), 0);
    call.client = cl;
    call.then = then_post;
    assert_int_equal(http_client_request(cl, "GET", "/", NULL, NULL, 0, 5000,
                                         call_cb, &call),
                     0);
    run_until(&loop, &call.calls, 1);
    while (call.then != NULL || call.calls == 0)
        run_until(&loop, &call.calls, 1);
    /* Either the stub answered it before closing (200) or the client
     * reports the failure; never a second connection for it. */
    assert_true(call.status == 200 || call.status == GD_EUNAVAIL);
    assert_int_equal(st.accepted, 1);
    http_client_free(cl);
    stub_stop(&st);
    close_loop(&loop);
}

static void test_client_chunked_response(void **state)
{
    uv_loop_t loop;
    struct stub st;
    struct http_client *cl;
    struct call call = {0};
    (void)state;
    uv_loop_init(&loop);
    stub_start(&st, &loop,
               "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n"
               "content-type: text/x-test; charset=utf-8\r\n\r\n"
               "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
               false);
    assert_int_equal(http_client_new(&loop, "127.0.0.1", st.port, 2, &cl), 0);
    for (int i = 0; i < 3; i++) {
        memset(&call, 0, sizeof call);
        assert_int_equal(http_client_request(cl, "POST", "/c", NULL, "abc", 3,
                                             5000, call_cb, &call),
                         0);
        run_until(&loop, &call.calls, 1);
        assert_int_equal(call.status, 201);
        assert_string_equal(call.ctype, "text/x-test; charset=utf-8");
        assert_string_equal(call.body, "hello world");
        assert_int_equal(call.len, 11);
    }
    assert_int_equal(st.accepted, 1); /* kept alive */
    http_client_free(cl);
    stub_stop(&st);
    close_loop(&loop);

    /* a body that ends with the connection */
    uv_loop_init(&loop);
    stub_start(&st, &loop,
               "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil eof", true);
    assert_int_equal(http_client_new(&loop, "127.0.0.1", st.port, 2, &cl), 0);
    memset(&call, 0, sizeof call);
    assert_int_equal(http_client_request(cl, "GET", "/", NULL, NULL, 0, 5000,
                                         call_cb, &call),
                     0);
    run_until(&loop, &call.calls, 1);
    assert_int_equal(call.status, 200);
    assert_string_equal(call.body, "until eof");
    assert_string_equal(call.ctype, "(null)");
    http_client_free(cl);
    stub_stop(&st);
    close_loop(&loop);
}

static void test_client_broken_responses(void **state)
{
    static const struct {
        const char *response;
        bool close_after;
        int status;
    } cases[] = {
        {"NOT HTTP AT ALL\r\n\r\n", false, GD_EIO},
        {"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", true,
         GD_EUNAVAIL}, /* cut */
        {"", true,
         GD_EUNAVAIL}, /* closed at once, on a fresh connection: no retry */
        {"HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\nabc", false,
         GD_ETOOBIG},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uv_loop_t loop;
        struct stub st;
        struct http_client *cl;
        struct call call = {0};
        uv_loop_init(&loop);
        stub_start(&st, &loop, cases[i].response, cases[i].close_after);
        assert_int_equal(http_client_new(&loop, "127.0.0.1", st.port, 1, &cl),
                         0);
        assert_int_equal(http_client_request(cl, "GET", "/", NULL, NULL, 0,
                                             5000, call_cb, &call),
                         0);
        run_until(&loop, &call.calls, 1);
        assert_int_equal(call.status, cases[i].status);
        assert_string_equal(call.body, "");
        assert_int_equal(st.accepted, 1);
        http_client_free(cl);
        stub_stop(&st);
        close_loop(&loop);
    }
}

static void test_client_queue_timeout_ipv6(void **state)
{
    struct fixture f;
    struct gd_err err = {0};
    struct http_client *cl;
    struct call held = {0}, queued = {0}, ok = {0};
    (void)state;
    memset(&f, 0, sizeof f);
    f.mode = MODE_HOLD;
    uv_loop_init(&f.loop);
    assert_int_equal(
        http_server_start(&f.srv, &f.loop, "::1", 0, 64, handler, &f, &err), 0);
    assert_int_equal(
        http_client_new(&f.loop, "::1", http_server_port(&f.srv), 1, &cl), 0);
    assert_int_equal(http_client_request(cl, "GET", "/held", NULL, NULL, 0, 0,
                                         call_cb, &held),
                     0);
    assert_int_equal(http_client_request(cl, "GET", "/queued", NULL, NULL, 0,
                                         50, call_cb, &queued),
                     0);
    run_until(&f.loop, &queued.calls, 1);
    assert_int_equal(queued.status, GD_EUNAVAIL);
    assert_int_equal(held.calls, 0);
    assert_int_equal(f.n_held, 1);
    /* answering the held request frees the connection for the next one */
    f.mode = MODE_ECHO;
    http_respond(f.held[--f.n_held], 204, NULL, NULL, 0, NULL);
    assert_int_equal(http_client_request(cl, "GET", "/ok", NULL, NULL, 0, 1000,
                                         call_cb, &ok),
                     0);
    run_until(&f.loop, &ok.calls, 1);
    assert_int_equal(held.status, 204);
    assert_int_equal(ok.status, 200);
    assert_non_null(strstr(ok.body, "path=/ok "));
    http_client_free(cl);
    assert_int_equal(
        http_client_request(cl, "GET", "/", NULL, NULL, 0, 0, call_cb, &ok),
        GD_EUNAVAIL);
    local_stop(&f);
    close_loop(&f.loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_get_and_post, setup_echo,
                                        teardown_thread),
        cmocka_unit_test_setup_teardown(test_keepalive_100, setup_echo,
                                        teardown_thread),
        cmocka_unit_test_setup_teardown(test_pipelined_reverse, setup_reverse,
                                        teardown_thread),
        cmocka_unit_test_setup_teardown(test_body_too_large, setup_echo,
                                        teardown_thread),
        cmocka_unit_test_setup_teardown(test_malformed, setup_echo,
                                        teardown_thread),
        cmocka_unit_test_setup_teardown(test_byte_by_byte, setup_echo,
                                        teardown_thread),
        cmocka_unit_test_setup_teardown(test_http10, setup_echo,
                                        teardown_thread),
        cmocka_unit_test_setup_teardown(test_many_connections, setup_echo,
                                        teardown_thread),
        cmocka_unit_test_setup_teardown(test_handler_closes, setup_echo,
                                        teardown_thread),
        cmocka_unit_test_setup_teardown(test_pipelined_close_drops_rest,
                                        setup_reverse, teardown_thread),
        cmocka_unit_test_setup_teardown(test_half_close, setup_echo,
                                        teardown_thread),
        cmocka_unit_test_setup_teardown(test_head_too_large, setup_echo,
                                        teardown_thread),
        cmocka_unit_test_setup_teardown(test_linger_timeout, setup_echo,
                                        teardown_thread),
        cmocka_unit_test_setup_teardown(test_pipeline_backpressure, setup_later,
                                        teardown_thread),
        cmocka_unit_test_setup_teardown(test_port_in_use, setup_echo,
                                        teardown_thread),
        cmocka_unit_test(test_stop_with_pending),
        cmocka_unit_test(test_client_pool),
        cmocka_unit_test(test_client_body_too_large),
        cmocka_unit_test(test_client_refused),
        cmocka_unit_test(test_client_timeout_and_free),
        cmocka_unit_test(test_client_peer_closes_idle),
        cmocka_unit_test(test_client_post_not_retried),
        cmocka_unit_test(test_client_chunked_response),
        cmocka_unit_test(test_client_broken_responses),
        cmocka_unit_test(test_client_queue_timeout_ipv6),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
