/* Command-line parsing: see args.h.  Hand-rolled rather than getopt_long
 * so that options and positionals mix freely per command and the global
 * options are recognised at every level with the same rules. */
#include "cli/args.h"

#include <string.h>

/* Splits "--name=value" into the name length and the value (NULL when
 * there is no '='). */
static size_t split_opt(const char *word, const char **value)
{
    const char *eq = strchr(word + 2, '=');

    *value = eq != NULL ? eq + 1 : NULL;
    return eq != NULL ? (size_t)(eq - (word + 2)) : strlen(word + 2);
}

static bool name_is(const char *word, size_t n, const char *name)
{
    return strlen(name) == n && strncmp(word + 2, name, n) == 0;
}

int args_global(struct cli_ctx *ctx, int argc, char **argv, int i,
                struct cli_err *err)
{
    const char *word = argv[i], *value;
    size_t n;

    if (strcmp(word, "-h") == 0) {
        ctx->help = true;
        return 1;
    }
    if (strncmp(word, "--", 2) != 0 || word[2] == '\0')
        return 0;
    n = split_opt(word, &value);
    if (name_is(word, n, "help") || name_is(word, n, "json")) {
        if (value != NULL)
            return cli_err_set(err, CLI_EUSAGE, "--%.*s takes no value", (int)n,
                               word + 2);
        if (word[2] == 'h')
            ctx->help = true;
        else
            ctx->json = true;
        return 1;
    }
    if (name_is(word, n, "node")) {
        int used = 1;
        if (value == NULL) {
            if (i + 1 >= argc)
                return cli_err_set(err, CLI_EUSAGE, "--node needs a URL");
            value = argv[i + 1];
            used = 2;
        }
        if (value[0] == '\0')
            return cli_err_set(err, CLI_EUSAGE, "--node needs a URL");
        ctx->node = value;
        return used;
    }
    return 0;
}

static struct args_opt *find_opt(struct args_opt *opts, const char *word,
                                 size_t n)
{
    for (; opts != NULL && opts->name != NULL; opts++)
        if (name_is(word, n, opts->name))
            return opts;
    return NULL;
}

int args_parse(struct cli_ctx *ctx, int argc, char **argv,
               struct args_opt *opts, const char **pos, int maxpos, int *npos,
               struct cli_err *err)
{
    return args_parse_each(ctx, argc, argv, opts, pos, maxpos, npos, NULL, NULL,
                           err);
}

int args_parse_each(struct cli_ctx *ctx, int argc, char **argv,
                    struct args_opt *opts, const char **pos, int maxpos,
                    int *npos, args_each_fn each, void *data,
                    struct cli_err *err)
{
    bool only_pos = false;
    int i = 0;

    *npos = 0;
    while (i < argc) {
        const char *word = argv[i];
        bool is_opt = !only_pos && word[0] == '-' && word[1] != '\0';

        if (is_opt && strcmp(word, "--") == 0) {
            only_pos = true;
            i++;
            continue;
        }
        if (is_opt) {
            const char *value;
            size_t n;
            struct args_opt *o;
            int used = args_global(ctx, argc, argv, i, err);

            if (used < 0)
                return used;
            if (used > 0) {
                if (ctx->help)
                    return CLI_HELP;
                i += used;
                continue;
            }
            if (word[1] != '-')
                return cli_err_set(err, CLI_EUSAGE, "unknown flag %s", word);
            n = split_opt(word, &value);
            o = find_opt(opts, word, n);
            if (o == NULL)
                return cli_err_set(err, CLI_EUSAGE, "unknown flag --%.*s",
                                   (int)n, word + 2);
            if (!o->has_value) {
                if (value != NULL)
                    return cli_err_set(err, CLI_EUSAGE, "--%s takes no value",
                                       o->name);
                o->value = "";
                i++;
                continue;
            }
            if (value == NULL) {
                if (i + 1 >= argc)
                    return cli_err_set(err, CLI_EUSAGE, "--%s needs a value",
                                       o->name);
                value = argv[++i];
            }
            o->value = value; /* the last one given wins */
            if (each != NULL) {
                int rc = each(o, value, data, err);
                if (rc < 0)
                    return rc;
            }
            i++;
            continue;
        }
        if (*npos >= maxpos)
            return cli_err_set(err, CLI_EUSAGE, "unexpected argument '%s'",
                               word);
        pos[(*npos)++] = word;
        i++;
    }
    return 0;
}

const char *args_get(const struct args_opt *opts, const char *name)
{
    for (; opts != NULL && opts->name != NULL; opts++)
        if (strcmp(opts->name, name) == 0)
            return opts->value;
    return NULL;
}

const char *args_need(const struct args_opt *opts, const char *name,
                      struct cli_err *err)
{
    const char *v = args_get(opts, name);

    if (v == NULL) {
        cli_err_set(err, CLI_EUSAGE, "missing --%s", name);
        return NULL;
    }
    if (v[0] == '\0') {
        cli_err_set(err, CLI_EUSAGE, "--%s must not be empty", name);
        return NULL;
    }
    return v;
}
