/* Shared pieces of the gridesk admin CLI: the per-run context, the error
 * struct every CLI function fills, and the one place where error codes become
 * process exit statuses (the contract scripts rely on, see docs/CLI.md).
 * The CLI is a plain HTTP+JSON client: it never links RocksDB or raft. */
#ifndef GD_CLI_H
#define GD_CLI_H

#include <stdbool.h>

/* Negative codes returned by CLI functions; cli_exit_status() maps them. */
enum cli_code {
    CLI_OK = 0,
    CLI_EREFUSED = -1, /* the server refused: 4xx other than 401/403 */
    CLI_EUSAGE = -2,   /* bad command line */
    CLI_ENET = -3,     /* cannot connect, timeout, bad response, 3xx, 5xx */
    CLI_EAUTH = -4,    /* 401/403, or no credentials */
    CLI_ELOCAL = -5,   /* local failure: config file, terminal, stdout */
    CLI_ENOMEM = -6,   /* allocation failed */
    CLI_HELP = -7,     /* --help seen: not an error, print help and exit 0 */
};

/* Process exit statuses (documented in docs/CLI.md and `gridesk --help`). */
enum cli_exit {
    CLI_EXIT_OK = 0,
    CLI_EXIT_REFUSED = 1,
    CLI_EXIT_USAGE = 2,
    CLI_EXIT_NET = 3,
    CLI_EXIT_AUTH = 4,
};

#define CLI_ERR_MSG_MAX 512

/* Filled by a callee with a message a person can act on.  usage, when set,
 * is a static synopsis printed after a usage error as a hint. */
struct cli_err {
    int code;
    char msg[CLI_ERR_MSG_MAX];
    const char *usage;
};

/* Everything a command needs from the global flags.  Strings point into
 * argv or the environment and live as long as the process. */
struct cli_ctx {
    const char *node; /* --node URL, NULL when not given */
    bool json;        /* --json: server JSON on stdout, nothing else */
    bool help;        /* --help / -h seen */
};

/* Sets err (which may be NULL) to code and a printf-style message and
 * returns code, so callers can write `return cli_err_set(err, ...)`. */
int cli_err_set(struct cli_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* cli_err_set(err, CLI_ENOMEM, "out of memory"). */
int cli_no_memory(struct cli_err *err);

/* Exit status for a code (CLI_OK and CLI_HELP give 0). */
int cli_exit_status(int code);

/* Commands.  argv holds the words after the command name (for example
 * after "ticket list"), argc their count.  They print results on stdout and
 * return 0 or a negative code with err filled; they never exit(). */
int cmd_login(struct cli_ctx *ctx, int argc, char **argv, struct cli_err *err);
int cmd_cluster_status(struct cli_ctx *ctx, int argc, char **argv,
                       struct cli_err *err);
int cmd_cluster_add(struct cli_ctx *ctx, int argc, char **argv,
                    struct cli_err *err);
int cmd_cluster_remove(struct cli_ctx *ctx, int argc, char **argv,
                       struct cli_err *err);
int cmd_ticket_create(struct cli_ctx *ctx, int argc, char **argv,
                      struct cli_err *err);
int cmd_ticket_show(struct cli_ctx *ctx, int argc, char **argv,
                    struct cli_err *err);
int cmd_ticket_list(struct cli_ctx *ctx, int argc, char **argv,
                    struct cli_err *err);
int cmd_ticket_event(struct cli_ctx *ctx, int argc, char **argv,
                     struct cli_err *err);
int cmd_ticket_suggest(struct cli_ctx *ctx, int argc, char **argv,
                       struct cli_err *err);

/* Knowledge base (cmd_kb.c, cmd_kb_search.c, cmd_kb_import.c). */
int cmd_kb_add(struct cli_ctx *ctx, int argc, char **argv, struct cli_err *err);
int cmd_kb_edit(struct cli_ctx *ctx, int argc, char **argv,
                struct cli_err *err);
int cmd_kb_show(struct cli_ctx *ctx, int argc, char **argv,
                struct cli_err *err);
int cmd_kb_history(struct cli_ctx *ctx, int argc, char **argv,
                   struct cli_err *err);
int cmd_kb_diff(struct cli_ctx *ctx, int argc, char **argv,
                struct cli_err *err);
int cmd_kb_list(struct cli_ctx *ctx, int argc, char **argv,
                struct cli_err *err);
int cmd_kb_status(struct cli_ctx *ctx, int argc, char **argv,
                  struct cli_err *err);
int cmd_kb_publish(struct cli_ctx *ctx, int argc, char **argv,
                   struct cli_err *err);
int cmd_kb_retire(struct cli_ctx *ctx, int argc, char **argv,
                  struct cli_err *err);
int cmd_kb_link(struct cli_ctx *ctx, int argc, char **argv,
                struct cli_err *err);
int cmd_kb_propose(struct cli_ctx *ctx, int argc, char **argv,
                   struct cli_err *err);
int cmd_kb_proposals(struct cli_ctx *ctx, int argc, char **argv,
                     struct cli_err *err);
int cmd_kb_review(struct cli_ctx *ctx, int argc, char **argv,
                  struct cli_err *err);
int cmd_kb_import(struct cli_ctx *ctx, int argc, char **argv,
                  struct cli_err *err);
int cmd_kb_search(struct cli_ctx *ctx, int argc, char **argv,
                  struct cli_err *err);
int cmd_kb_similar(struct cli_ctx *ctx, int argc, char **argv,
                   struct cli_err *err);
int cmd_kb_categories(struct cli_ctx *ctx, int argc, char **argv,
                      struct cli_err *err);

#endif
