/* Command-line parsing for the CLI: long options ("--name VALUE",
 * "--name=VALUE", "--flag"), positionals, "--" to end options, and the
 * global options (--node, --json, --help/-h) accepted anywhere. */
#ifndef GD_CLI_ARGS_H
#define GD_CLI_ARGS_H

#include <stdbool.h>

#include "cli/cli.h"

/* One option of a command; an array of them ends with name == NULL. */
struct args_opt {
    const char *name;  /* long name without "--" */
    bool has_value;    /* takes a value; otherwise a flag */
    const char *value; /* out: the value, "" for a flag; NULL when absent.
                        * Points into argv. */
};

/* If argv[i] is a global option, applies it to ctx and returns how many
 * words it used (1 or 2); returns 0 when argv[i] is not a global option and
 * CLI_EUSAGE (err filled) for a global option without its value or with a
 * value it cannot take. */
int args_global(struct cli_ctx *ctx, int argc, char **argv, int i,
                struct cli_err *err);

/* Parses a command's words.  Options come from opts (may be NULL) or are
 * global; other words are positionals, stored in pos (at most maxpos; the
 * count in *npos).  Returns 0, CLI_HELP when --help/-h is seen, or
 * CLI_EUSAGE with err filled for an unknown option, a missing value or too
 * many positionals. */
int args_parse(struct cli_ctx *ctx, int argc, char **argv,
               struct args_opt *opts, const char **pos, int maxpos, int *npos,
               struct cli_err *err);

/* Called by args_parse_each() for every occurrence of an option that takes
 * a value, in command-line order (so a repeatable option such as --keyword
 * sees each value).  A negative return stops parsing with that code. */
typedef int (*args_each_fn)(const struct args_opt *o, const char *value,
                            void *data, struct cli_err *err);

/* args_parse(), calling each (may be NULL) for every option value seen. */
int args_parse_each(struct cli_ctx *ctx, int argc, char **argv,
                    struct args_opt *opts, const char **pos, int maxpos,
                    int *npos, args_each_fn each, void *data,
                    struct cli_err *err);

/* Value of option name in opts (NULL when absent or unknown). */
const char *args_get(const struct args_opt *opts, const char *name);

/* Value of a required option: returns it, or NULL with CLI_EUSAGE in err
 * when it is absent or empty. */
const char *args_need(const struct args_opt *opts, const char *name,
                      struct cli_err *err);

#endif
