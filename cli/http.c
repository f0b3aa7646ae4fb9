/* Blocking HTTP client: see http.h.  Sockets are non-blocking underneath so
 * that connect, send and receive all honour one deadline via poll(). */
#include "cli/http.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <http_parser.h>

#include "cli/strbuf.h"

int httpc_url_parse(const char *url, struct httpc_url *u, struct cli_err *err)
{
    struct http_parser_url pu;
    size_t len = strlen(url);
    const char *s;
    size_t n;

    memset(u, 0, sizeof *u);
    http_parser_url_init(&pu);
    if (len == 0 || http_parser_parse_url(url, len, 0, &pu) != 0 ||
        !(pu.field_set & (1 << UF_SCHEMA)) || !(pu.field_set & (1 << UF_HOST)))
        return cli_err_set(err, CLI_EUSAGE,
                           "bad node URL '%s' (want http://HOST:PORT)", url);
    s = url + pu.field_data[UF_SCHEMA].off;
    n = pu.field_data[UF_SCHEMA].len;
    if (n != 4 || strncasecmp(s, "http", 4) != 0)
        return cli_err_set(err, CLI_EUSAGE,
                           "node URL '%s': only http:// is supported", url);
    if (pu.field_set &
        ((1 << UF_USERINFO) | (1 << UF_QUERY) | (1 << UF_FRAGMENT)))
        return cli_err_set(err, CLI_EUSAGE,
                           "node URL '%s' must not have user info, a query "
                           "or a fragment",
                           url);

    n = pu.field_data[UF_HOST].len;
    if (n == 0 || n >= sizeof u->host)
        return cli_err_set(err, CLI_EUSAGE, "node URL '%s': bad host", url);
    memcpy(u->host, url + pu.field_data[UF_HOST].off, n);
    u->host[n] = '\0';
    u->ipv6 = strchr(u->host, ':') != NULL;

    if (pu.field_set & (1 << UF_PORT)) {
        if (pu.port == 0)
            return cli_err_set(err, CLI_EUSAGE, "node URL '%s': bad port", url);
        snprintf(u->port, sizeof u->port, "%u", (unsigned)pu.port);
    } else {
        snprintf(u->port, sizeof u->port, "80");
    }

    if (pu.field_set & (1 << UF_PATH)) {
        n = pu.field_data[UF_PATH].len;
        s = url + pu.field_data[UF_PATH].off;
        while (n > 0 && s[n - 1] == '/')
            n--;
        if (n >= sizeof u->prefix)
            return cli_err_set(err, CLI_EUSAGE, "node URL '%s': path too long",
                               url);
        memcpy(u->prefix, s, n);
        u->prefix[n] = '\0';
    }
    return 0;
}

void httpc_response_close(struct httpc_response *resp)
{
    free(resp->body);
    resp->body = NULL;
    resp->body_len = 0;
}

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left before deadline, at least 0 and at most INT_MAX-ish. */
static int ms_left(long long deadline)
{
    long long left = deadline - now_ms();

    if (left < 0)
        return 0;
    return left > 1000000000 ? 1000000000 : (int)left;
}

/* Waits until fd is ready for events or the deadline passes.  Returns 0
 * when ready, -ETIMEDOUT, or -errno. */
static int wait_fd(int fd, short events, long long deadline)
{
    struct pollfd pfd = {.fd = fd, .events = events};

    for (;;) {
        int left = ms_left(deadline);
        int rc;

        if (left == 0)
            return -ETIMEDOUT;
        rc = poll(&pfd, 1, left);
        if (rc > 0)
            return 0;
        if (rc == 0)
            return -ETIMEDOUT;
        if (errno != EINTR)
            return -errno;
    }
}

/* "host:port" for messages, with brackets around IPv6 literals. */
static void format_hostport(const struct httpc_url *u, char *buf, size_t n)
{
    snprintf(buf, n, u->ipv6 ? "[%s]:%s" : "%s:%s", u->host, u->port);
}

/* Connects to the first address of u that accepts.  Returns a socket or a
 * negative code with err filled. */
static int connect_any(const struct httpc_url *u, long long deadline,
                       struct cli_err *err)
{
    struct addrinfo hints, *res, *ai;
    char where[300];
    int rc, last = ECONNREFUSED;

    format_hostport(u, where, sizeof where);
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    rc = getaddrinfo(u->host, u->port, &hints, &res);
    if (rc != 0)
        return cli_err_set(err, CLI_ENET, "cannot resolve %s: %s", where,
                           rc == EAI_SYSTEM ? strerror(errno)
                                            : gai_strerror(rc));

    for (ai = res; ai != NULL; ai = ai->ai_next) {
        int fd = socket(ai->ai_family,
                        ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                        ai->ai_protocol);
        if (fd < 0) {
            last = errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            freeaddrinfo(res);
            return fd;
        }
        if (errno == EINPROGRESS) {
            rc = wait_fd(fd, POLLOUT, deadline);
            if (rc == 0) {
                int soerr = 0;
                socklen_t sl = sizeof soerr;
                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
                    soerr = errno;
                if (soerr == 0) {
                    freeaddrinfo(res);
                    return fd;
                }
                last = soerr;
            } else {
                last = -rc;
            }
        } else {
            last = errno;
        }
        close(fd);
        if (last == ETIMEDOUT && ms_left(deadline) == 0)
            break;
    }
    freeaddrinfo(res);
    if (last == ETIMEDOUT)
        return cli_err_set(err, CLI_ENET, "cannot connect to %s: timed out",
                           where);
    return cli_err_set(err, CLI_ENET, "cannot connect to %s: %s", where,
                       strerror(last));
}

/* Writes all of buf.  Returns 0 or -errno (-ETIMEDOUT at the deadline). */
static int send_all(int fd, const char *buf, size_t len, long long deadline)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n > 0) {
            buf += n;
            len -= (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int rc = wait_fd(fd, POLLOUT, deadline);
            if (rc < 0)
                return rc;
        } else {
            return n < 0 ? -errno : -EIO;
        }
    }
    return 0;
}

/* What the parser callbacks fill while a response streams in. */
struct parse_state {
    struct httpc_response *resp;
    struct strbuf body;
    char field[32]; /* current header name, truncated */
    size_t field_len;
    int in_location; /* current header is Location */
    int last_was_value;
    int too_big;
    int done;
};

static int on_status(http_parser *p, const char *at, size_t n)
{
    struct parse_state *st = p->data;
    size_t have = strlen(st->resp->reason);
    size_t room = sizeof st->resp->reason - 1 - have;

    if (n > room)
        n = room;
    memcpy(st->resp->reason + have, at, n);
    st->resp->reason[have + n] = '\0';
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
    struct parse_state *st = p->data;

    if (st->last_was_value) {
        st->field_len = 0;
        st->last_was_value = 0;
    }
    while (n > 0 && st->field_len < sizeof st->field - 1) {
        st->field[st->field_len++] = *at++;
        n--;
    }
    st->field[st->field_len] = '\0';
    st->in_location = strcasecmp(st->field, "location") == 0;
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
    struct parse_state *st = p->data;

    st->last_was_value = 1;
    if (st->in_location) {
        char *loc = st->resp->location;
        size_t have = strlen(loc);
        size_t room = sizeof st->resp->location - 1 - have;
        if (n > room)
            n = room;
        memcpy(loc + have, at, n);
        loc[have + n] = '\0';
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    struct parse_state *st = p->data;

    if (n > HTTPC_MAX_BODY - st->body.len) {
        st->too_big = 1;
        return 1;
    }
    strbuf_append(&st->body, at, n);
    return strbuf_ok(&st->body) ? 0 : 1;
}

static int on_message_complete(http_parser *p)
{
    struct parse_state *st = p->data;

    if (p->status_code / 100 == 1) {
        /* An interim 1xx: the real response follows on the same stream. */
        st->resp->reason[0] = '\0';
        st->resp->location[0] = '\0';
        return 0;
    }
    st->resp->status = p->status_code;
    st->done = 1;
    /* Stop here; anything after the response is not ours to parse. */
    http_parser_pause(p, 1);
    return 0;
}

/* Reads and parses until one complete response.  Returns 0 or a negative
 * code with err filled; st->body holds the body on success. */
static int read_response(int fd, long long deadline, int timeout_ms,
                         struct parse_state *st, const char *where,
                         struct cli_err *err)
{
    static const http_parser_settings settings = {
        .on_status = on_status,
        .on_header_field = on_header_field,
        .on_header_value = on_header_value,
        .on_body = on_body,
        .on_message_complete = on_message_complete,
    };
    http_parser parser;
    char buf[16384];

    http_parser_init(&parser, HTTP_RESPONSE);
    parser.data = st;
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        size_t used;
        enum http_errno perr;

        if (n < 0) {
            int rc;
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                return cli_err_set(err, CLI_ENET,
                                   "reading the response from %s: %s", where,
                                   strerror(errno));
            rc = wait_fd(fd, POLLIN, deadline);
            if (rc == -ETIMEDOUT)
                return cli_err_set(err, CLI_ENET,
                                   "%s did not answer within %d s", where,
                                   timeout_ms / 1000);
            if (rc < 0)
                return cli_err_set(err, CLI_ENET,
                                   "reading the response from %s: %s", where,
                                   strerror(-rc));
            continue;
        }
        /* n == 0 is EOF, which http-parser is told by a zero-length call;
         * it completes a body that is delimited by the connection close. */
        used = http_parser_execute(&parser, &settings, buf, (size_t)n);
        perr = HTTP_PARSER_ERRNO(&parser);
        if (st->done)
            return 0;
        if (st->too_big)
            return cli_err_set(err, CLI_ENET,
                               "response from %s is larger than %u bytes",
                               where, HTTPC_MAX_BODY);
        if (!strbuf_ok(&st->body))
            return cli_err_set(err, CLI_ENOMEM, "out of memory");
        if (perr != HPE_OK || used != (size_t)n)
            return cli_err_set(err, CLI_ENET, "bad HTTP response from %s: %s",
                               where, http_errno_description(perr));
        if (n == 0)
            return cli_err_set(err, CLI_ENET,
                               "%s closed the connection before a complete "
                               "response",
                               where);
    }
}

/* Builds the request head and body into sb. */
static int build_request(const struct httpc_url *u,
                         const struct httpc_request *req, struct strbuf *sb,
                         struct cli_err *err)
{
    if (req->token != NULL) {
        const char *c;
        for (c = req->token; *c != '\0'; c++)
            if ((unsigned char)*c <= ' ' || (unsigned char)*c >= 0x7f)
                return cli_err_set(err, CLI_EAUTH,
                                   "the token is not printable ASCII "
                                   "without spaces; run 'gridesk login'");
    }
    strbuf_printf(sb, "%s %s%s HTTP/1.1\r\n", req->method, u->prefix,
                  req->path);
    if (u->ipv6)
        strbuf_printf(sb, "Host: [%s]:%s\r\n", u->host, u->port);
    else if (strcmp(u->port, "80") == 0)
        strbuf_printf(sb, "Host: %s\r\n", u->host);
    else
        strbuf_printf(sb, "Host: %s:%s\r\n", u->host, u->port);
    strbuf_puts(sb, "User-Agent: gridesk-cli/0.1\r\n"
                    "Accept: application/json\r\n"
                    "Connection: close\r\n");
    if (req->token != NULL)
        strbuf_printf(sb, "Authorization: Bearer %s\r\n", req->token);
    if (req->body != NULL)
        strbuf_printf(sb,
                      "Content-Type: application/json\r\n"
                      "Content-Length: %zu\r\n",
                      req->body_len);
    strbuf_puts(sb, "\r\n");
    if (req->body != NULL)
        strbuf_append(sb, req->body, req->body_len);
    if (!strbuf_ok(sb))
        return cli_err_set(err, CLI_ENOMEM, "out of memory");
    return 0;
}

int httpc_do(const struct httpc_url *u, const struct httpc_request *req,
             int timeout_ms, struct httpc_response *resp, struct cli_err *err)
{
    long long deadline = now_ms() + timeout_ms;
    struct parse_state st;
    struct strbuf out;
    char where[300];
    int fd, rc, send_rc;

    memset(resp, 0, sizeof *resp);
    memset(&st, 0, sizeof st);
    st.resp = resp;
    strbuf_init(&st.body);
    strbuf_init(&out);
    format_hostport(u, where, sizeof where);

    rc = build_request(u, req, &out, err);
    if (rc < 0)
        goto done;
    fd = connect_any(u, deadline, err);
    if (fd < 0) {
        rc = fd;
        goto done;
    }
    /* A server may answer (413, 401) and close before reading the whole
     * request; then its answer is still the one to report. */
    send_rc = send_all(fd, strbuf_str(&out), out.len, deadline);
    if (send_rc == -ETIMEDOUT) {
        rc =
            cli_err_set(err, CLI_ENET, "sending to %s: no progress within %d s",
                        where, timeout_ms / 1000);
    } else {
        rc = read_response(fd, deadline, timeout_ms, &st, where, err);
        if (rc < 0 && send_rc < 0)
            rc = cli_err_set(err, CLI_ENET, "sending to %s: %s", where,
                             strerror(-send_rc));
    }
    close(fd);
    if (rc == 0) {
        resp->body_len = st.body.len;
        resp->body = strbuf_take(&st.body);
        if (resp->body == NULL)
            rc = cli_err_set(err, CLI_ENOMEM, "out of memory");
    }
done:
    strbuf_close(&out);
    strbuf_close(&st.body);
    if (rc < 0)
        memset(resp, 0, sizeof *resp);
    return rc;
}
