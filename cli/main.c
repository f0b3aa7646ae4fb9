/* gridesk: the admin CLI.  Parses the global flags, finds the command
 * (group and verb, e.g. "ticket list"), runs it, prints help or the error,
 * and turns the outcome into the documented exit status.  Global flags may
 * come before the command, between its words, or after it. */
#include <errno.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"

typedef int (*command_fn)(struct cli_ctx *, int, char **, struct cli_err *);

struct command {
    const char *group;    /* first word */
    const char *verb;     /* second word, NULL for one-word commands */
    const char *synopsis; /* "gridesk ..." on one line */
    const char *help;     /* what it does, for `gridesk CMD --help` */
    command_fn run;
};

static const struct command commands[] = {
    {"login", NULL, "gridesk login --user U",
     "Log in to the node and save the token (and the node URL) under\n"
     "$XDG_CONFIG_HOME/gridesk (default ~/.config/gridesk), private to you.\n"
     "The password is read from the terminal with echo off, or from\n"
     "$GRIDESK_PASSWORD when that is set.\n",
     cmd_login},
    {"cluster", "status", "gridesk cluster status",
     "Show the cluster: its term, applied index and members, with '*' on\n"
     "the leader.\n",
     cmd_cluster_status},
    {"cluster", "add", "gridesk cluster add ID RAFT_HOST:PORT HTTP_HOST:PORT",
     "Add member ID, reachable for Raft at RAFT_HOST:PORT and for the API at\n"
     "HTTP_HOST:PORT.\n",
     cmd_cluster_add},
    {"cluster", "remove", "gridesk cluster remove ID",
     "Remove member ID from the cluster.\n", cmd_cluster_remove},
    {"ticket", "create",
     "gridesk ticket create --customer C --class CLASS --channel CH "
     "--summary S [--description D]",
     "Open a ticket for customer C.\n"
     "  CLASS    complaint fault_repair service_request consultation\n"
     "           suggestion opinion praise\n"
     "  CH       hotline hall web app wechat sms field\n",
     cmd_ticket_create},
    {"ticket", "show", "gridesk ticket show ID",
     "Show ticket ID with its timeline of events.\n", cmd_ticket_show},
    {"ticket", "list",
     "gridesk ticket list [--status S] [--customer C] [--limit N] "
     "[--after CURSOR] [--all]",
     "List tickets, newest page first.  When there are more, the last line\n"
     "is \"next: CURSOR\"; pass it to --after for the next page, or use --all\n"
     "to follow every page.\n",
     cmd_ticket_list},
    {"ticket", "event",
     "gridesk ticket event ID accept [--owner U] | comment --text T | "
     "status --to STATUS [--note T] | reopen [--reason T]",
     "Record an event on ticket ID:\n"
     "  accept [--owner U]             take ownership (for U, default you)\n"
     "  comment --text T               add a comment\n"
     "  status --to STATUS [--note T]  move the ticket to STATUS\n"
     "  reopen [--reason T]            reopen a closed ticket\n",
     cmd_ticket_event},
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

static const char top_usage[] =
    "gridesk [--node URL] [--json] COMMAND [ARGS]  (gridesk --help lists "
    "the commands)";

static const char global_help[] =
    "Global flags (before or after the command):\n"
    "  --node URL   node to talk to: http://HOST:PORT.  Default: "
    "$GRIDESK_NODE,\n"
    "               else the node saved by login, else http://127.0.0.1:8080\n"
    "  --json       print the server's JSON response on stdout, nothing else\n"
    "  -h, --help   show help\n";

static const char env_help[] =
    "Environment:\n"
    "  GRIDESK_NODE      node URL when --node is not given\n"
    "  GRIDESK_TOKEN     token to use instead of the one saved by login\n"
    "  GRIDESK_PASSWORD  password for login, instead of a prompt\n"
    "  XDG_CONFIG_HOME   where the gridesk/ config directory lives\n";

static const char exit_help[] =
    "Exit status:\n"
    "  0  success\n"
    "  1  the server refused the request (4xx other than 401/403), or a\n"
    "     local failure (config file, stdout)\n"
    "  2  usage error: unknown command or flag, missing argument\n"
    "  3  cannot connect, timeout, bad response, redirect, or server error "
    "(5xx)\n"
    "  4  authentication needed or refused (401/403): run 'gridesk login'\n";

static void print_top_help(void)
{
    size_t i;

    printf("usage: gridesk [--node URL] [--json] COMMAND [ARGS]\n\n"
           "Admin CLI for a gridesk node.\n\nCommands:\n");
    for (i = 0; i < NCOMMANDS; i++)
        printf("  %s\n", commands[i].synopsis + strlen("gridesk "));
    printf("  help [COMMAND]\n\n%s\n%s\n%s", global_help, env_help, exit_help);
}

static void print_group_help(const char *group)
{
    size_t i;

    printf("usage:\n");
    for (i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].group, group) == 0)
            printf("  %s\n", commands[i].synopsis);
    printf("\n%s", global_help);
}

static void print_command_help(const struct command *c)
{
    printf("usage: %s\n\n%s\n%s\nExit status: 0 ok, 1 refused, 2 usage, "
           "3 network or server error, 4 login needed.\n",
           c->synopsis, c->help, global_help);
}

static bool is_group(const char *word)
{
    size_t i;

    for (i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].group, word) == 0)
            return true;
    return false;
}

/* The command for group and verb (verb ignored for one-word commands). */
static const struct command *find_command(const char *group, const char *verb)
{
    size_t i;

    for (i = 0; i < NCOMMANDS; i++) {
        if (strcmp(commands[i].group, group) != 0)
            continue;
        if (commands[i].verb == NULL ||
            (verb != NULL && strcmp(commands[i].verb, verb) == 0))
            return &commands[i];
    }
    return NULL;
}

static bool group_has_verbs(const char *group)
{
    const struct command *c = find_command(group, NULL);

    return c == NULL || c->verb != NULL;
}

/* The verbs of group, "a, b, c", for messages. */
static void group_verbs(const char *group, char *buf, size_t n)
{
    size_t i, len = 0;

    buf[0] = '\0';
    for (i = 0; i < NCOMMANDS && len < n; i++)
        if (strcmp(commands[i].group, group) == 0 && commands[i].verb)
            len += (size_t)snprintf(buf + len, n - len, "%s%s",
                                    len > 0 ? ", " : "", commands[i].verb);
}

/* "gridesk GROUP {a|b|c} ..." for a usage hint, in a static buffer. */
static const char *group_usage(const char *group)
{
    static char buf[256];
    size_t i, len;

    len = (size_t)snprintf(buf, sizeof buf, "gridesk %s {", group);
    for (i = 0; i < NCOMMANDS && len < sizeof buf; i++)
        if (strcmp(commands[i].group, group) == 0 && commands[i].verb)
            len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s",
                                    buf[len - 1] == '{' ? "" : "|",
                                    commands[i].verb);
    if (len < sizeof buf)
        snprintf(buf + len, sizeof buf - len, "} ...  (gridesk help %s)",
                 group);
    return buf;
}

/* Applies global flags from argv[*i] on, stopping at the first other word.
 * Returns 0 or CLI_EUSAGE. */
static int skip_globals(struct cli_ctx *ctx, int argc, char **argv, int *i,
                        struct cli_err *err)
{
    while (*i < argc && argv[*i][0] == '-' && argv[*i][1] != '\0') {
        int used = args_global(ctx, argc, argv, *i, err);
        if (used < 0)
            return used;
        if (used == 0)
            return cli_err_set(err, CLI_EUSAGE, "unknown flag %s", argv[*i]);
        *i += used;
    }
    return 0;
}

/* `gridesk help [GROUP [VERB]]`. */
static int run_help(char **words, int n, struct cli_err *err)
{
    const struct command *c;

    if (n == 0) {
        print_top_help();
        return CLI_HELP;
    }
    if (!is_group(words[0]))
        return cli_err_set(err, CLI_EUSAGE, "unknown command '%s'", words[0]);
    c = find_command(words[0], n > 1 ? words[1] : NULL);
    if (c == NULL && n > 1)
        return cli_err_set(err, CLI_EUSAGE, "unknown command '%s %s'", words[0],
                           words[1]);
    if (c == NULL)
        print_group_help(words[0]);
    else
        print_command_help(c);
    return CLI_HELP;
}

/* Finds and runs the command; *cmd is set once it is known. */
static int run(struct cli_ctx *ctx, int argc, char **argv,
               const struct command **cmd, struct cli_err *err)
{
    const char *group;
    char verbs[128];
    int i = 1, rc;

    rc = skip_globals(ctx, argc, argv, &i, err);
    if (rc < 0)
        return rc;
    if (i >= argc) {
        if (ctx->help) {
            print_top_help();
            return CLI_HELP;
        }
        return cli_err_set(err, CLI_EUSAGE, "missing command");
    }
    group = argv[i++];
    if (strcmp(group, "help") == 0)
        return run_help(argv + i, argc - i, err);
    if (!is_group(group))
        return cli_err_set(err, CLI_EUSAGE, "unknown command '%s'", group);

    if (group_has_verbs(group)) {
        group_verbs(group, verbs, sizeof verbs);
        rc = skip_globals(ctx, argc, argv, &i, err);
        if (rc < 0)
            return rc;
        if (i >= argc) {
            if (ctx->help) {
                print_group_help(group);
                return CLI_HELP;
            }
            err->usage = group_usage(group);
            return cli_err_set(err, CLI_EUSAGE, "%s needs one of: %s", group,
                               verbs);
        }
        *cmd = find_command(group, argv[i]);
        if (*cmd == NULL) {
            err->usage = group_usage(group);
            return cli_err_set(err, CLI_EUSAGE,
                               "unknown command '%s %s' (%s takes %s)", group,
                               argv[i], group, verbs);
        }
        i++;
    } else {
        *cmd = find_command(group, NULL);
    }
    if (ctx->help) {
        print_command_help(*cmd);
        return CLI_HELP;
    }
    rc = (*cmd)->run(ctx, argc - i, argv + i, err);
    if (rc == CLI_HELP)
        print_command_help(*cmd);
    return rc;
}

/* Text widths (CJK is two columns) need an UTF-8 LC_CTYPE whatever the
 * user's locale is; only LC_CTYPE changes, so numbers stay "C". */
static void setup_locale(void)
{
    static const char *const names[] = {"C.UTF-8", "C.utf8", "en_US.UTF-8", ""};
    size_t i;

    for (i = 0; i < sizeof names / sizeof names[0]; i++)
        if (setlocale(LC_CTYPE, names[i]) != NULL)
            return;
}

int main(int argc, char **argv)
{
    struct cli_ctx ctx = {0};
    struct cli_err err = {0};
    const struct command *cmd = NULL;
    int rc;

    setup_locale();
    rc = run(&ctx, argc, argv, &cmd, &err);
    if (rc < 0 && rc != CLI_HELP) {
        fprintf(stderr, "gridesk: %s\n", err.msg);
        if (rc == CLI_EUSAGE)
            fprintf(stderr, "usage: %s\n",
                    err.usage != NULL ? err.usage
                    : cmd != NULL     ? cmd->synopsis
                                      : top_usage);
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        if (rc >= 0 || rc == CLI_HELP) {
            fprintf(stderr, "gridesk: writing to stdout: %s\n",
                    strerror(errno));
            rc = CLI_ELOCAL;
        }
    }
    return cli_exit_status(rc);
}
