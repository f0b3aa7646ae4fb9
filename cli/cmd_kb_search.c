/* `gridesk kb search|similar` and the listing of search-shaped results that
 * `ticket suggest` shares: rank, id, title, category, score, and each hit's
 * snippet on a line of its own with the matches in bold on a terminal and
 * between 【】 otherwise. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/api.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/kb.h"
#include "cli/output.h"
#include "cli/strbuf.h"

/* Words of a query taken from the command line: `kb search 电费 查询`. */
#define QUERY_WORDS_MAX 32

static size_t digits(long n)
{
    size_t d = 1;

    while (n >= 10) {
        n /= 10;
        d++;
    }
    return d;
}

int kb_print_hits(const json_t *resp, long first_rank, struct cli_err *err)
{
    static const char *const headers[] = {"RANK", "ID", "TITLE", "CATEGORY",
                                          "SCORE"};
    const json_t *items = json_object_get(resp, "items"), *hit;
    const json_t *total = json_object_get(resp, "total");
    const json_t *suggestion = json_object_get(resp, "suggestion");
    size_t i, term = out_term_width(), rank_w, snip_w = 0;
    bool bold = out_use_bold();
    struct table *t;
    int rc = 0;

    if (!json_is_array(items))
        return cli_err_set(err, CLI_ENET,
                           "the node sent search results without \"items\"");
    if (json_array_size(items) == 0) {
        printf("no matching articles\n");
        if (json_is_string(suggestion) && json_string_length(suggestion) > 0)
            out_line("did you mean: %s", json_string_value(suggestion));
        return 0;
    }
    /* Snippets go under the ID column; the RANK column is that wide. */
    rank_w = digits(first_rank + (long)json_array_size(items) - 1);
    if (rank_w < 4)
        rank_w = 4;
    if (term > rank_w + 2 + 20)
        snip_w = term - rank_w - 2;
    t = table_new(5, headers);
    if (t == NULL)
        return cli_no_memory(err);
    table_set_flex(t, 2, 10, 40);
    table_set_max(t, 3, 24);
    json_array_foreach(items, i, hit)
    {
        const json_t *score = json_object_get(hit, "score");
        const json_t *snippet = json_object_get(hit, "snippet");
        char b[5][128];
        const char *cells[5];

        snprintf(b[0], sizeof b[0], "%ld", first_rank + (long)i);
        cells[0] = b[0];
        cells[1] = out_scalar(json_object_get(hit, "id"), b[1], sizeof b[1]);
        cells[2] = out_scalar(json_object_get(hit, "title"), b[2], sizeof b[2]);
        cells[3] =
            out_scalar(json_object_get(hit, "category"), b[3], sizeof b[3]);
        if (json_is_number(score)) {
            snprintf(b[4], sizeof b[4], "%.2f", json_number_value(score));
            cells[4] = b[4];
        } else {
            cells[4] = "-";
        }
        rc = table_add(t, cells);
        if (rc == 0 && json_is_string(snippet) &&
            json_string_length(snippet) > 0) {
            struct strbuf sb;
            strbuf_init(&sb);
            out_snippet(&sb, json_string_value(snippet), snip_w, bold);
            rc = strbuf_ok(&sb) ? table_set_note(t, sb.buf) : CLI_ENOMEM;
            strbuf_close(&sb);
        }
        if (rc < 0)
            break;
    }
    if (rc == 0)
        rc = table_print(t, stdout);
    table_free(t);
    if (rc < 0)
        return cli_no_memory(err);
    if (json_is_integer(total) &&
        json_integer_value(total) >
            first_rank - 1 + (json_int_t)json_array_size(items))
        printf("%ld-%ld of %" JSON_INTEGER_FORMAT " (--offset %ld for more)\n",
               first_rank, first_rank - 1 + (long)json_array_size(items),
               json_integer_value(total),
               first_rank - 1 + (long)json_array_size(items));
    return 0;
}

/* GETs path and prints the hits (or the JSON). */
static int show_hits(struct cli_ctx *ctx, const char *path, long first_rank,
                     struct cli_err *err)
{
    json_t *resp = NULL;
    int rc;

    rc = kb_request(ctx, "GET", path, NULL, &resp, err);
    if (rc == 0 && ctx->json)
        rc = out_json(resp, err);
    else if (rc == 0)
        rc = kb_print_hits(resp, first_rank, err);
    json_decref(resp);
    return rc;
}

/* Appends "&key=value" (or '?' first) for each option given. */
static void add_query(struct strbuf *sb, const struct args_opt *opts,
                      const char *const *keys, char *sep)
{
    size_t i;

    for (i = 0; keys[i] != NULL; i++) {
        const char *v = args_get(opts, keys[i]);
        if (v == NULL)
            continue;
        strbuf_printf(sb, "%c%s=", *sep, keys[i]);
        strbuf_put_urlenc(sb, v);
        *sep = '&';
    }
}

int cmd_kb_search(struct cli_ctx *ctx, int argc, char **argv,
                  struct cli_err *err)
{
    static const char *const keys[] = {"category", "status", "region",
                                       "limit",    "offset", NULL};
    struct args_opt opts[] = {
        {"category", true, NULL}, {"status", true, NULL},
        {"region", true, NULL},   {"limit", true, NULL},
        {"offset", true, NULL},   {NULL, false, NULL},
    };
    const char *pos[QUERY_WORDS_MAX];
    struct strbuf path, q;
    long n, offset = 0;
    char sep = '&';
    int npos, rc, i;

    rc = args_parse(ctx, argc, argv, opts, pos, QUERY_WORDS_MAX, &npos, err);
    if (rc < 0)
        return rc;
    strbuf_init(&q);
    for (i = 0; i < npos; i++) {
        if (i > 0)
            strbuf_putc(&q, ' ');
        strbuf_puts(&q, pos[i]);
    }
    if (!strbuf_ok(&q)) {
        strbuf_close(&q);
        return cli_no_memory(err);
    }
    if (q.len == 0 || strspn(q.buf, " \t") == q.len) {
        strbuf_close(&q);
        return cli_err_set(err, CLI_EUSAGE, "kb search needs a QUERY");
    }
    if (args_get(opts, "limit") != NULL &&
        kb_parse_count("--limit", args_get(opts, "limit"), 1, 100, &n, err) < 0)
        rc = CLI_EUSAGE;
    if (rc == 0 && args_get(opts, "offset") != NULL)
        rc = kb_parse_count("--offset", args_get(opts, "offset"), 0,
                            2147483647L, &offset, err);
    if (rc < 0) {
        strbuf_close(&q);
        return rc;
    }
    strbuf_init(&path);
    strbuf_puts(&path, "/v1/kb/search?q=");
    strbuf_put_urlenc(&path, q.buf);
    add_query(&path, opts, keys, &sep);
    strbuf_close(&q);
    rc = strbuf_ok(&path) ? show_hits(ctx, path.buf, offset + 1, err)
                          : cli_no_memory(err);
    strbuf_close(&path);
    return rc;
}

int kb_hits_for(struct cli_ctx *ctx, int argc, char **argv, const char *prefix,
                const char *tail, const char *what, struct cli_err *err)
{
    static const char *const keys[] = {"limit", NULL};
    struct args_opt opts[] = {{"limit", true, NULL}, {NULL, false, NULL}};
    const char *pos[1];
    struct strbuf path;
    char sep = '?';
    long n;
    int npos, rc;

    rc = args_parse(ctx, argc, argv, opts, pos, 1, &npos, err);
    if (rc < 0)
        return rc;
    if (npos < 1)
        return cli_err_set(err, CLI_EUSAGE, "%s needs an ID", what);
    if (pos[0][0] == '\0')
        return cli_err_set(err, CLI_EUSAGE, "the ID must not be empty");
    if (args_get(opts, "limit") != NULL &&
        kb_parse_count("--limit", args_get(opts, "limit"), 1, 100, &n, err) < 0)
        return CLI_EUSAGE;
    strbuf_init(&path);
    strbuf_puts(&path, prefix);
    strbuf_put_urlenc(&path, pos[0]);
    strbuf_puts(&path, tail);
    add_query(&path, opts, keys, &sep);
    rc = strbuf_ok(&path) ? show_hits(ctx, path.buf, 1, err) : cli_no_memory(err);
    strbuf_close(&path);
    return rc;
}

int cmd_kb_similar(struct cli_ctx *ctx, int argc, char **argv,
                   struct cli_err *err)
{
    return kb_hits_for(ctx, argc, argv, "/v1/kb/articles/", "/similar",
                       "kb similar", err);
}
