/* `gridesk login --user U`: trades a user name and password for a bearer
 * token and saves it (see session.h).  The password comes from
 * $GRIDESK_PASSWORD or is read from /dev/tty with echo off, never from
 * argv, where other users could see it in ps. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/api.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/output.h"
#include "cli/session.h"

#define PASSWORD_MAX 1024

/* The terminal whose echo is off, for the signal handler to restore. */
static int tty_fd = -1;
static struct termios tty_saved;

static void restore_tty_and_die(int sig)
{
    tcsetattr(tty_fd, TCSAFLUSH, &tty_saved);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Ends the prompt line, since the user's Enter was not echoed.  A failure
 * only costs a cosmetic newline. */
static void tty_newline(int fd)
{
    ssize_t n = write(fd, "\n", 1);

    (void)n;
}

/* Prompts on /dev/tty and reads one line with echo off into buf. */
static int read_password(char *buf, size_t n, struct cli_err *err)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
    struct sigaction sa, old[4];
    struct termios noecho;
    size_t len = 0;
    int fd, rc = 0;
    unsigned i;

    fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return cli_err_set(err, CLI_EUSAGE,
                           "no terminal to read the password from; set "
                           "GRIDESK_PASSWORD");
    if (tcgetattr(fd, &tty_saved) != 0) {
        close(fd);
        return cli_err_set(err, CLI_ELOCAL, "cannot read the terminal: %s",
                           strerror(errno));
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = restore_tty_and_die;
    sigemptyset(&sa.sa_mask);
    tty_fd = fd;
    for (i = 0; i < 4; i++)
        sigaction(sigs[i], &sa, &old[i]);
    noecho = tty_saved;
    noecho.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
    noecho.c_lflag |= ICANON;
    if (write(fd, "Password: ", 10) < 0 ||
        tcsetattr(fd, TCSAFLUSH, &noecho) != 0) {
        rc = cli_err_set(err, CLI_ELOCAL, "cannot use the terminal: %s",
                         strerror(errno));
        goto out;
    }
    for (;;) {
        char c;
        ssize_t got = read(fd, &c, 1);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            rc = cli_err_set(err, CLI_ELOCAL, "reading the password: %s",
                             strerror(errno));
            break;
        }
        if (got == 0 || c == '\n' || c == '\r')
            break;
        if (len + 1 >= n) {
            rc = cli_err_set(err, CLI_EUSAGE, "password too long");
            break;
        }
        buf[len++] = c;
    }
    buf[len] = '\0';
    tcsetattr(fd, TCSAFLUSH, &tty_saved);
    tty_newline(fd);
out:
    for (i = 0; i < 4; i++)
        sigaction(sigs[i], &old[i], NULL);
    tty_fd = -1;
    close(fd);
    return rc;
}

/* jansson keeps its own copy of the password in the request body; wipe
 * it before the body is freed. */
static void wipe_password(json_t *body)
{
    const char *p = json_string_value(json_object_get(body, "password"));

    if (p != NULL)
        explicit_bzero((char *)p, strlen(p));
}

/* A token must fit in an Authorization header: printable ASCII, no
 * spaces. */
static bool token_is_sendable(const char *token)
{
    const char *c;

    if (token == NULL || token[0] == '\0')
        return false;
    for (c = token; *c != '\0'; c++)
        if ((unsigned char)*c <= ' ' || (unsigned char)*c >= 0x7f)
            return false;
    return true;
}

int cmd_login(struct cli_ctx *ctx, int argc, char **argv, struct cli_err *err)
{
    struct args_opt opts[] = {{"user", true, NULL}, {NULL, false, NULL}};
    const char *pos[1], *user, *env_pw;
    char password[PASSWORD_MAX];
    struct api_conn conn;
    struct session s;
    json_t *body, *resp = NULL;
    const char *token;
    int npos, rc;

    rc = args_parse(ctx, argc, argv, opts, pos, 0, &npos, err);
    if (rc < 0)
        return rc;
    user = args_need(opts, "user", err);
    if (user == NULL)
        return CLI_EUSAGE;
    rc = api_open(&conn, ctx, API_NOAUTH, err);
    if (rc < 0)
        return rc;

    env_pw = getenv("GRIDESK_PASSWORD");
    if (env_pw != NULL) {
        if (strlen(env_pw) >= sizeof password) {
            api_close(&conn);
            return cli_err_set(err, CLI_EUSAGE, "password too long");
        }
        strcpy(password, env_pw);
    } else {
        rc = read_password(password, sizeof password, err);
        if (rc < 0) {
            explicit_bzero(password, sizeof password);
            api_close(&conn);
            return rc;
        }
    }

    body = json_pack("{s:s, s:s}", "user", user, "password", password);
    explicit_bzero(password, sizeof password);
    if (body == NULL) {
        api_close(&conn);
        return cli_err_set(err, CLI_EUSAGE,
                           "user and password must be valid UTF-8");
    }
    rc = api_call(&conn, "POST", "/v1/login", body, &resp, err);
    wipe_password(body);
    json_decref(body);
    if (rc < 0)
        goto out;

    token = json_string_value(json_object_get(resp, "token"));
    if (!token_is_sendable(token)) {
        rc = cli_err_set(err, CLI_ENET,
                         "%s answered the login without a usable token",
                         conn.node);
        goto out;
    }
    s.node = conn.node;
    s.user = (char *)user;
    s.token = (char *)token;
    rc = session_save(&s, err);
    if (rc < 0)
        goto out;
    if (ctx->json)
        rc = out_json(resp, err);
    else
        printf("logged in to %s as %s\n", conn.node, user);
out:
    json_decref(resp);
    api_close(&conn);
    return rc;
}
