/* `gridesk kb add|edit|show|history|diff|list|status|publish|retire|link`:
 * knowledge-base articles (知识库) through the node's /v1/kb API
 * (docs/API.md "Knowledge base").  Proposals live in cmd_kb_proposal.c,
 * search in cmd_kb_search.c, import in cmd_kb_import.c.  Statuses and other
 * values pass through; the node validates them and its message is shown. */
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

static int print_article(const json_t *a, const void *unused,
                         struct cli_err *err)
{
    static const char *const head[][2] = {
        {"article", "id"},        {"title", "title"},
        {"category", "category"}, {"status", "status"},
        {"version", "version"},   {"region", "region"},
        {"keywords", "keywords"}, {"sources", "sources"},
        {"uses", "uses"},
    };
    size_t i;
    int rc = 0;

    (void)unused;
    for (i = 0; i < sizeof head / sizeof head[0] && rc == 0; i++)
        rc = kb_show_member(head[i][0], a, head[i][1]);
    if (rc == 0)
        rc = kb_show_when_who("created", a, "created_at", "created_by");
    if (rc == 0)
        rc = kb_show_when_who("updated", a, "updated_at", "updated_by");
    if (rc == 0)
        rc = kb_show_body(a);
    if (rc == 0 && json_array_size(json_object_get(a, "tickets")) > 0)
        rc = kb_show_member("tickets", a, "tickets");
    return rc < 0 ? cli_no_memory(err) : 0;
}

/* "article ID: STATUS, version N" after a change. */
static int print_article_line(const json_t *a, const void *verb,
                              struct cli_err *err)
{
    char b1[128], b2[64], b3[32];

    (void)err;
    out_line("%s article %s (%s, version %s)", (const char *)verb,
             kb_member(a, "id", b1, sizeof b1),
             kb_member(a, "status", b2, sizeof b2),
             kb_member(a, "version", b3, sizeof b3));
    return 0;
}

/* ------------------------------------------------------- add, edit, show */

int cmd_kb_add(struct cli_ctx *ctx, int argc, char **argv, struct cli_err *err)
{
    struct args_opt opts[] = {
        KB_FIELD_OPTS,          {"id", true, NULL},     {"source", true, NULL},
        {"region", true, NULL}, {"status", true, NULL}, {"note", true, NULL},
        {NULL, false, NULL},
    };
    struct kb_flags fl = {0};
    const char *pos[1];
    json_t *body = NULL;
    int npos, rc;

    rc = args_parse_each(ctx, argc, argv, opts, pos, 0, &npos, kb_flags_each,
                         &fl, err);
    if (rc == 0)
        rc = kb_body_from_flags(KB_BODY_ADD, opts, &fl, NULL, &body, err);
    if (rc == 0)
        rc = kb_need_title_category(body, err);
    if (rc == 0)
        rc = kb_request_show(ctx, "POST", "/v1/kb/articles", body,
                             print_article_line, "created", err);
    json_decref(body);
    kb_flags_close(&fl);
    return rc;
}

/* After an edit: the new version, or "unchanged" when the version the edit
 * was made from is the one the node answered with. */
static int print_edit(const json_t *a, const void *from, struct cli_err *err)
{
    const json_t *sent = from;
    char b1[128], b2[64], b3[32];

    (void)err;
    if (sent != NULL && json_is_integer(json_object_get(a, "version")) &&
        json_integer_value(json_object_get(a, "version")) ==
            json_integer_value(sent))
        out_line("article %s unchanged (%s, version %s)",
                 kb_member(a, "id", b1, sizeof b1),
                 kb_member(a, "status", b2, sizeof b2),
                 kb_member(a, "version", b3, sizeof b3));
    else
        out_line("updated article %s (%s, version %s)",
                 kb_member(a, "id", b1, sizeof b1),
                 kb_member(a, "status", b2, sizeof b2),
                 kb_member(a, "version", b3, sizeof b3));
    return 0;
}

int cmd_kb_edit(struct cli_ctx *ctx, int argc, char **argv, struct cli_err *err)
{
    struct args_opt opts[] = {
        KB_FIELD_OPTS,        {"source", true, NULL},  {"region", true, NULL},
        {"note", true, NULL}, {"version", true, NULL}, {NULL, false, NULL},
    };
    struct kb_flags fl = {0};
    const char *pos[1], *key;
    struct strbuf path;
    json_t *body = NULL, *v;
    bool any = false;
    int npos, rc;

    strbuf_init(&path);
    rc = args_parse_each(ctx, argc, argv, opts, pos, 1, &npos, kb_flags_each,
                         &fl, err);
    if (rc == 0 && npos < 1)
        rc = cli_err_set(err, CLI_EUSAGE, "kb edit needs an article ID");
    if (rc == 0)
        rc = kb_body_from_flags(KB_BODY_EDIT, opts, &fl, pos[0], &body, err);
    if (rc == 0) {
        json_object_foreach(body, key, v)
        {
            if (strcmp(key, "note") != 0 && strcmp(key, "version") != 0)
                any = true;
        }
        if (!any)
            rc = cli_err_set(err, CLI_EUSAGE,
                             "kb edit: nothing to change (give --title, "
                             "--fault, ... or --file)");
    }
    if (rc == 0)
        rc = kb_path(&path, "articles", pos[0], "", err);
    if (rc == 0)
        rc = kb_request_show(ctx, "PATCH", path.buf, body, print_edit,
                             json_object_get(body, "version"), err);
    strbuf_close(&path);
    json_decref(body);
    kb_flags_close(&fl);
    return rc;
}

int cmd_kb_show(struct cli_ctx *ctx, int argc, char **argv, struct cli_err *err)
{
    struct args_opt opts[] = {{"version", true, NULL}, {NULL, false, NULL}};
    const char *pos[1], *version;
    struct strbuf path;
    long n;
    int npos, rc;

    rc = args_parse(ctx, argc, argv, opts, pos, 1, &npos, err);
    if (rc < 0)
        return rc;
    if (npos < 1)
        return cli_err_set(err, CLI_EUSAGE, "kb show needs an article ID");
    version = args_get(opts, "version");
    if (version != NULL &&
        kb_parse_count("--version", version, 1, 2147483647L, &n, err) < 0)
        return CLI_EUSAGE;
    strbuf_init(&path);
    rc = kb_path(&path, "articles", pos[0], "", err);
    if (rc == 0 && version != NULL) {
        strbuf_printf(&path, "?version=%ld", n);
        if (!strbuf_ok(&path))
            rc = cli_no_memory(err);
    }
    if (rc == 0)
        rc = kb_request_show(ctx, "GET", path.buf, NULL, print_article, NULL,
                             err);
    strbuf_close(&path);
    return rc;
}

/* ------------------------------------------------------ history and diff */

static int print_history(const json_t *resp, const void *unused,
                         struct cli_err *err)
{
    static const char *const headers[] = {"VERSION", "STATUS",  "TIME",
                                          "BY",      "CHANGED", "NOTE"};
    const json_t *items = json_object_get(resp, "items"), *h;
    struct table *t;
    size_t i;
    int rc = 0;

    (void)unused;
    if (!json_is_array(items))
        return cli_err_set(err, CLI_ENET,
                           "the node sent a history without "
                           "\"items\"");
    if (json_array_size(items) == 0) {
        printf("no history\n");
        return 0;
    }
    t = table_new(6, headers);
    if (t == NULL)
        return cli_no_memory(err);
    table_set_max(t, 3, 16);
    table_set_max(t, 4, 40);
    table_set_flex(t, 5, 10, 60);
    json_array_foreach(items, i, h)
    {
        char b[5][128];
        struct strbuf changed;
        const char *cells[6];

        strbuf_init(&changed);
        kb_join_list(json_object_get(h, "changed"), &changed);
        cells[0] = kb_member(h, "version", b[0], sizeof b[0]);
        cells[1] = kb_member(h, "status", b[1], sizeof b[1]);
        cells[2] = out_time(json_object_get(h, "at"), b[2], sizeof b[2]);
        cells[3] = kb_member(h, "by", b[3], sizeof b[3]);
        cells[4] = changed.len > 0 ? strbuf_str(&changed) : "-";
        cells[5] = kb_member(h, "note", b[4], sizeof b[4]);
        rc = strbuf_ok(&changed) ? table_add(t, cells) : CLI_ENOMEM;
        strbuf_close(&changed);
        if (rc < 0)
            break;
    }
    if (rc == 0)
        rc = table_print(t, stdout);
    table_free(t);
    return rc < 0 ? cli_no_memory(err) : 0;
}

int cmd_kb_history(struct cli_ctx *ctx, int argc, char **argv,
                   struct cli_err *err)
{
    const char *pos[1];
    struct strbuf path;
    int npos, rc;

    rc = args_parse(ctx, argc, argv, NULL, pos, 1, &npos, err);
    if (rc < 0)
        return rc;
    if (npos < 1)
        return cli_err_set(err, CLI_EUSAGE, "kb history needs an article ID");
    strbuf_init(&path);
    rc = kb_path(&path, "articles", pos[0], "/history", err);
    if (rc == 0)
        rc = kb_request_show(ctx, "GET", path.buf, NULL, print_history, NULL,
                             err);
    strbuf_close(&path);
    return rc;
}

/* One side of a change: each line of the value prefixed by mark. */
static void diff_side(const char *mark, const json_t *v, struct strbuf *sb)
{
    struct strbuf text;
    const char *line;
    char b[256];

    strbuf_init(&text);
    if (v == NULL || json_is_null(v))
        strbuf_puts(&text, "(none)");
    else if (json_is_array(v))
        kb_join_list(v, &text);
    else if (json_is_string(v))
        strbuf_puts(&text, json_string_value(v));
    else
        strbuf_puts(&text, out_scalar(v, b, sizeof b));
    if (!strbuf_ok(&text)) {
        sb->failed = true;
        strbuf_close(&text);
        return;
    }
    line = strbuf_str(&text);
    for (;;) {
        const char *nl = strchr(line, '\n');
        size_t n = nl != NULL ? (size_t)(nl - line) : strlen(line);
        char *one = strndup(line, n);
        if (one == NULL) {
            sb->failed = true;
            break;
        }
        strbuf_printf(sb, "  %s ", mark);
        out_clean(sb, one, 0);
        strbuf_putc(sb, '\n');
        free(one);
        if (nl == NULL)
            break;
        line = nl + 1;
    }
    strbuf_close(&text);
}

static int print_diff(const json_t *d, const void *unused, struct cli_err *err)
{
    bool ok;
    const json_t *changes = json_object_get(d, "changes"), *c;
    char b1[128], b2[32], b3[32];
    struct strbuf sb;
    size_t i;

    (void)unused;
    if (!json_is_array(changes))
        return cli_err_set(err, CLI_ENET,
                           "the node sent a diff without "
                           "\"changes\"");
    out_line("article %s: version %s -> %s", kb_member(d, "id", b1, sizeof b1),
             kb_member(d, "from", b2, sizeof b2),
             kb_member(d, "to", b3, sizeof b3));
    if (json_array_size(changes) == 0) {
        printf("no differences\n");
        return 0;
    }
    strbuf_init(&sb);
    json_array_foreach(changes, i, c)
    {
        char f[64];
        out_clean(&sb, kb_member(c, "field", f, sizeof f), 0);
        strbuf_putc(&sb, '\n');
        diff_side("-", json_object_get(c, "from"), &sb);
        diff_side("+", json_object_get(c, "to"), &sb);
    }
    ok = strbuf_ok(&sb);
    if (ok)
        fputs(sb.buf, stdout);
    strbuf_close(&sb);
    return ok ? 0 : cli_no_memory(err);
}

int cmd_kb_diff(struct cli_ctx *ctx, int argc, char **argv, struct cli_err *err)
{
    struct args_opt opts[] = {
        {"from", true, NULL}, {"to", true, NULL}, {NULL, false, NULL}};
    const char *pos[1], *names[] = {"from", "to"};
    struct strbuf path;
    char sep = '?';
    long n;
    int npos, rc, i;

    rc = args_parse(ctx, argc, argv, opts, pos, 1, &npos, err);
    if (rc < 0)
        return rc;
    if (npos < 1)
        return cli_err_set(err, CLI_EUSAGE, "kb diff needs an article ID");
    strbuf_init(&path);
    rc = kb_path(&path, "articles", pos[0], "/diff", err);
    for (i = 0; i < 2 && rc == 0; i++) {
        const char *v = args_get(opts, names[i]);
        char flag[8];
        if (v == NULL)
            continue;
        snprintf(flag, sizeof flag, "--%s", names[i]);
        rc = kb_parse_count(flag, v, 1, 2147483647L, &n, err);
        if (rc == 0)
            strbuf_printf(&path, "%c%s=%ld", sep, names[i], n);
        sep = '&';
    }
    if (rc == 0 && !strbuf_ok(&path))
        rc = cli_no_memory(err);
    if (rc == 0)
        rc = kb_request_show(ctx, "GET", path.buf, NULL, print_diff, NULL, err);
    strbuf_close(&path);
    return rc;
}

static void article_cells(const json_t *a, char (*b)[128], const char **c)
{
    c[0] = kb_member(a, "id", b[0], sizeof b[0]);
    c[1] = kb_member(a, "status", b[1], sizeof b[1]);
    c[2] = kb_member(a, "version", b[2], sizeof b[2]);
    c[3] = kb_member(a, "uses", b[3], sizeof b[3]);
    c[4] = kb_member(a, "category", b[4], sizeof b[4]);
    c[5] = kb_member(a, "title", b[5], sizeof b[5]);
}

static void article_shape(struct table *t)
{
    table_set_max(t, 4, 30);
    table_set_flex(t, 5, 10, 60);
}

int cmd_kb_list(struct cli_ctx *ctx, int argc, char **argv, struct cli_err *err)
{
    static const char *const keys[] = {"category", "status", "limit", NULL};
    static const char *const headers[] = {"ID",   "STATUS",   "VER",
                                          "USES", "CATEGORY", "TITLE"};
    static const struct cli_listing l = {
        "/v1/kb/articles", keys,          "articles",   6,
        headers,           article_cells, article_shape};
    struct args_opt opts[] = {
        {"category", true, NULL}, {"status", true, NULL}, {"limit", true, NULL},
        {"after", true, NULL},    {"all", false, NULL},   {NULL, false, NULL},
    };
    const char *pos[1];
    int npos, rc;

    rc = args_parse(ctx, argc, argv, opts, pos, 0, &npos, err);
    if (rc < 0)
        return rc;
    return cli_run_listing(ctx, &l, opts, err);
}

/* ------------------------------------------------ status, publish, retire */

static int print_status(const json_t *a, const void *unused,
                        struct cli_err *err)
{
    char b1[128], b2[64], b3[32];

    (void)unused;
    (void)err;
    out_line("article %s is %s (version %s)", kb_member(a, "id", b1, sizeof b1),
             kb_member(a, "status", b2, sizeof b2),
             kb_member(a, "version", b3, sizeof b3));
    return 0;
}

static int set_status(struct cli_ctx *ctx, const char *id, const char *status,
                      const char *note, struct cli_err *err)
{
    struct strbuf path;
    json_t *body;
    int rc;

    body = json_pack("{s:s, s:s*}", "status", status, "note", note);
    if (body == NULL)
        return cli_err_set(err, CLI_EUSAGE,
                           "STATUS and --note must be valid UTF-8");
    strbuf_init(&path);
    rc = kb_path(&path, "articles", id, "/status", err);
    if (rc == 0)
        rc = kb_request_show(ctx, "POST", path.buf, body, print_status, NULL,
                             err);
    strbuf_close(&path);
    json_decref(body);
    return rc;
}

int cmd_kb_status(struct cli_ctx *ctx, int argc, char **argv,
                  struct cli_err *err)
{
    struct args_opt opts[] = {{"note", true, NULL}, {NULL, false, NULL}};
    const char *pos[2];
    int npos, rc;

    rc = args_parse(ctx, argc, argv, opts, pos, 2, &npos, err);
    if (rc < 0)
        return rc;
    if (npos < 2)
        return cli_err_set(err, CLI_EUSAGE,
                           "kb status needs an article ID and a status "
                           "(draft, review, published, retired)");
    if (pos[1][0] == '\0')
        return cli_err_set(err, CLI_EUSAGE, "the status must not be empty");
    return set_status(ctx, pos[0], pos[1], args_get(opts, "note"), err);
}

static int status_shortcut(struct cli_ctx *ctx, int argc, char **argv,
                           const char *verb, const char *status,
                           struct cli_err *err)
{
    struct args_opt opts[] = {{"note", true, NULL}, {NULL, false, NULL}};
    const char *pos[1];
    int npos, rc;

    rc = args_parse(ctx, argc, argv, opts, pos, 1, &npos, err);
    if (rc < 0)
        return rc;
    if (npos < 1)
        return cli_err_set(err, CLI_EUSAGE, "kb %s needs an article ID", verb);
    return set_status(ctx, pos[0], status, args_get(opts, "note"), err);
}

int cmd_kb_publish(struct cli_ctx *ctx, int argc, char **argv,
                   struct cli_err *err)
{
    return status_shortcut(ctx, argc, argv, "publish", "published", err);
}

int cmd_kb_retire(struct cli_ctx *ctx, int argc, char **argv,
                  struct cli_err *err)
{
    return status_shortcut(ctx, argc, argv, "retire", "retired", err);
}

/* ---------------------------------------------------------------- links */

static int print_link(const json_t *a, const void *ticket, struct cli_err *err)
{
    char b1[128], b2[32];

    (void)err;
    out_line("article %s solved ticket %s (uses %s)",
             kb_member(a, "id", b1, sizeof b1), (const char *)ticket,
             kb_member(a, "uses", b2, sizeof b2));
    return 0;
}

int cmd_kb_link(struct cli_ctx *ctx, int argc, char **argv, struct cli_err *err)
{
    struct args_opt opts[] = {{"ticket", true, NULL}, {NULL, false, NULL}};
    const char *pos[1], *ticket;
    struct strbuf path;
    json_t *body;
    int npos, rc;

    rc = args_parse(ctx, argc, argv, opts, pos, 1, &npos, err);
    if (rc < 0)
        return rc;
    if (npos < 1)
        return cli_err_set(err, CLI_EUSAGE, "kb link needs an article ID");
    if ((ticket = args_need(opts, "ticket", err)) == NULL)
        return CLI_EUSAGE;
    body = json_pack("{s:s}", "ticket", ticket);
    if (body == NULL)
        return cli_err_set(err, CLI_EUSAGE, "--ticket must be valid UTF-8");
    strbuf_init(&path);
    rc = kb_path(&path, "articles", pos[0], "/links", err);
    if (rc == 0)
        rc = kb_request_show(ctx, "POST", path.buf, body, print_link, ticket,
                             err);
    strbuf_close(&path);
    json_decref(body);
    return rc;
}

/* ------------------------------------------------------------ categories */

/* One node of the category tree and its children, indented by depth. */
static void print_category(const json_t *node, int depth)
{
    const json_t *kids = json_object_get(node, "children"), *k;
    const char *name = json_string_value(json_object_get(node, "name"));
    json_int_t total = json_integer_value(json_object_get(node, "total"));
    json_int_t own = json_integer_value(json_object_get(node, "count"));
    size_t i;

    if (own != total)
        out_line("%*s%s  %lld (%lld here)", depth * 2, "", name ? name : "?",
                 (long long)total, (long long)own);
    else
        out_line("%*s%s  %lld", depth * 2, "", name ? name : "?",
                 (long long)total);
    if (depth < 32)
        json_array_foreach(kids, i, k) print_category(k, depth + 1);
}

static int print_categories(const json_t *resp, const void *unused,
                            struct cli_err *err)
{
    const json_t *items = json_object_get(resp, "items"), *n;
    size_t i;

    (void)unused;
    if (!json_is_array(items))
        return cli_err_set(err, CLI_ENET,
                           "the node sent categories without \"items\"");
    if (json_array_size(items) == 0)
        out_line("no categories yet");
    json_array_foreach(items, i, n) print_category(n, 0);
    return 0;
}

int cmd_kb_categories(struct cli_ctx *ctx, int argc, char **argv,
                      struct cli_err *err)
{
    const char *pos[1];
    int npos, rc;

    rc = args_parse(ctx, argc, argv, NULL, pos, 0, &npos, err);
    if (rc < 0)
        return rc;
    return kb_request_show(ctx, "GET", "/v1/kb/categories", NULL,
                           print_categories, NULL, err);
}
