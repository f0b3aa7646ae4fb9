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
    {"ticket", "suggest", "gridesk ticket suggest ID [--limit N]",
     "Knowledge-base articles that fit ticket ID (its summary and\n"
     "description), best first, as `kb search` shows them.\n",
     cmd_ticket_suggest},
    {"kb", "add",
     "gridesk kb add --title T --category C [FIELDS] [--id ID] [--status S] "
     "[--note N] [--file F.json]",
     "Create a knowledge-base article (status draft unless --status).\n"
     "  --category   a path, levels split by '/': 电费电价/电价政策\n"
     "  FIELDS       --fault F --cause C --solution S --script S (the body,\n"
     "               at least one; @PATH reads the text from a file, @-\n"
     "               from stdin), --keyword K and --source TYPE:TITLE\n"
     "               (repeat them; TYPE: policy law standard manual case),\n"
     "               --region R\n"
     "  --id ID      keep this id (A-Z a-z 0-9 . _ -), else KB-date-seq\n"
     "  --file F     fields from a JSON object (e.g. kb show --json);\n"
     "               flags win over the file\n",
     cmd_kb_add},
    {"kb", "edit",
     "gridesk kb edit ID [--title T] [--category C] [FIELDS] [--note N] "
     "[--version V] [--file F.json]",
     "Change article ID: every change makes a new version.  Only the fields\n"
     "given change (FIELDS as for kb add); --keyword and --source replace the "
     "whole list\n"
     "(--keyword '' empties it).  --note says what changed and why.\n"
     "--version V: refuse (exit 1, conflict) if the article is no longer\n"
     "at version V.  --file takes a `kb show ID --json` document; its\n"
     "version is used as --version.\n",
     cmd_kb_edit},
    {"kb", "show", "gridesk kb show ID [--version N]",
     "Show article ID (or its version N): fields, body, linked tickets.\n",
     cmd_kb_show},
    {"kb", "history", "gridesk kb history ID",
     "List the versions of article ID: who changed what, when and why.\n",
     cmd_kb_history},
    {"kb", "diff", "gridesk kb diff ID [--from A] [--to B]",
     "Show the fields that differ between versions A and B of article ID\n"
     "(default: the previous and the current version).\n",
     cmd_kb_diff},
    {"kb", "list",
     "gridesk kb list [--category C] [--status S] [--limit N] "
     "[--after CURSOR] [--all]",
     "List articles in id order.  When there are more, the last line is\n"
     "\"next: CURSOR\"; pass it to --after, or use --all for every page.\n",
     cmd_kb_list},
    {"kb", "status", "gridesk kb status ID STATUS [--note N]",
     "Move article ID to STATUS: draft, review, published, retired.\n"
     "Allowed: draft->review->published->retired, review->draft,\n"
     "draft->published, retired->published, published->draft.\n",
     cmd_kb_status},
    {"kb", "publish", "gridesk kb publish ID [--note N]",
     "Same as kb status ID published.\n", cmd_kb_publish},
    {"kb", "retire", "gridesk kb retire ID [--note N]",
     "Same as kb status ID retired.\n", cmd_kb_retire},
    {"kb", "propose",
     "gridesk kb propose --title T --category C [FIELDS] [--ticket T] "
     "[--article ID] [--reason R] [--file F.json]",
     "Propose knowledge (知识申请) for a curator to review: a new article,\n"
     "or with --article ID a new version of that article (FIELDS as for\n"
     "kb add, without --source and --region).  --ticket names\n"
     "the ticket it came from.\n",
     cmd_kb_propose},
    {"kb", "proposals",
     "gridesk kb proposals [ID] [--status pending|approved|rejected] "
     "[--limit N] [--after CURSOR] [--all]",
     "List proposals, or show proposal ID.\n", cmd_kb_proposals},
    {"kb", "review",
     "gridesk kb review PROPOSAL approve|reject [--reason R] [--publish]",
     "Review a proposal once.  approve writes the article as a draft (or\n"
     "published with --publish); reject needs --reason.\n",
     cmd_kb_review},
    {"kb", "import",
     "gridesk kb import FILE [--format jsonl|csv] [--status S] "
     "[--batch N] [--dry-run]",
     "Import articles from JSON Lines (one article object per line) or CSV\n"
     "(a header row naming the columns id, title, category, fault, cause,\n"
     "solution, script, keywords, status, region, sources).  The format\n"
     "comes from the extension (.jsonl .ndjson .json .csv) or --format;\n"
     "FILE - reads stdin.  Every row is checked here first; bad rows are\n"
     "reported by line and not sent; good rows go in batches of at most\n"
     "--batch N (default 1000) articles and 512 KiB.  An article whose id\n"
     "exists gets a new version (and keeps its status unless the row has\n"
     "one); --status S is the status of new articles whose row has none.\n"
     "--dry-run checks the file and sends nothing.  Exit 0 when every row\n"
     "was imported, 1 when some were rejected.\n",
     cmd_kb_import},
    {"kb", "search",
     "gridesk kb search QUERY... [--category C] [--status S] [--region R] "
     "[--limit N] [--offset N]",
     "Search articles (published unless --status): Simplified or\n"
     "Traditional Chinese, short or long, Latin words and numbers.  Shows\n"
     "rank, id, title, category, score and the matching snippet.\n",
     cmd_kb_search},
    {"kb", "similar", "gridesk kb similar ID [--limit N]",
     "Published articles most like article ID.\n", cmd_kb_similar},
    {"kb", "categories", "gridesk kb categories",
     "The category tree with the number of articles in each category\n"
     "(and below it).\n",
     cmd_kb_categories},
    {"kb", "link", "gridesk kb link ID --ticket T",
     "Record that article ID solved ticket T (counts once per ticket).\n",
     cmd_kb_link},
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
    static char buf[320];
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
    char verbs[256];
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
