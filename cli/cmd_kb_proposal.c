/* `gridesk kb propose|proposals|review`: knowledge proposals (知识申请).
 * Agents propose a new article, or a new version of one, from their work;
 * a curator approves (the article is written as a draft, or published) or
 * rejects with a reason, once.  See docs/API.md "Proposals". */
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

static int print_proposed(const json_t *p, const void *unused,
                          struct cli_err *err)
{
    char b1[128], b2[64], b3[128];
    const json_t *article = json_object_get(p, "article");

    (void)unused;
    (void)err;
    if (json_is_string(article) && json_string_length(article) > 0)
        out_line("proposed %s (%s): a new version of article %s",
                 kb_member(p, "id", b1, sizeof b1),
                 kb_member(p, "status", b2, sizeof b2),
                 kb_member(p, "article", b3, sizeof b3));
    else
        out_line("proposed %s (%s): a new article",
                 kb_member(p, "id", b1, sizeof b1),
                 kb_member(p, "status", b2, sizeof b2));
    return 0;
}

int cmd_kb_propose(struct cli_ctx *ctx, int argc, char **argv,
                   struct cli_err *err)
{
    struct args_opt opts[] = {
        KB_FIELD_OPTS,          {"ticket", true, NULL}, {"article", true, NULL},
        {"reason", true, NULL}, {NULL, false, NULL},
    };
    struct kb_flags fl = {0};
    const char *pos[1];
    json_t *body = NULL;
    int npos, rc;

    rc = args_parse_each(ctx, argc, argv, opts, pos, 0, &npos, kb_flags_each,
                         &fl, err);
    if (rc == 0)
        rc = kb_body_from_flags(KB_BODY_PROPOSE, opts, &fl, NULL, &body, err);
    if (rc == 0)
        rc = kb_need_title_category(body, err);
    if (rc == 0)
        rc = kb_request_show(ctx, "POST", "/v1/kb/proposals", body,
                             print_proposed, NULL, err);
    json_decref(body);
    kb_flags_close(&fl);
    return rc;
}

static int print_proposal(const json_t *p, const void *unused,
                          struct cli_err *err)
{
    static const char *const head[][2] = {
        {"proposal", "id"},       {"status", "status"},
        {"article", "article"},   {"ticket", "ticket"},
        {"title", "title"},       {"category", "category"},
        {"keywords", "keywords"}, {"reason", "reason"},
    };
    const json_t *result = json_object_get(p, "result_article");
    size_t i;
    int rc = 0;

    (void)unused;
    for (i = 0; i < sizeof head / sizeof head[0] && rc == 0; i++)
        rc = kb_show_member(head[i][0], p, head[i][1]);
    if (rc == 0)
        rc = kb_show_when_who("proposed", p, "proposed_at", "proposed_by");
    if (rc == 0)
        rc = kb_show_when_who("reviewed", p, "reviewed_at", "reviewed_by");
    if (rc == 0 &&
        json_string_length(json_object_get(p, "decision_reason")) > 0)
        rc = kb_show_member("decision", p, "decision_reason");
    if (rc == 0 && json_is_string(result)) {
        char b[32], line[200];
        snprintf(line, sizeof line, "article %s version %s",
                 json_string_value(result),
                 kb_member(p, "result_version", b, sizeof b));
        out_field("result", KB_LABEL_W, line);
    }
    if (rc == 0)
        rc = kb_show_body(p);
    return rc < 0 ? cli_no_memory(err) : 0;
}

static void proposal_cells(const json_t *p, char (*b)[128], const char **c)
{
    c[0] = kb_member(p, "id", b[0], sizeof b[0]);
    c[1] = kb_member(p, "status", b[1], sizeof b[1]);
    c[2] = kb_member(p, "article", b[2], sizeof b[2]);
    c[3] = kb_member(p, "ticket", b[3], sizeof b[3]);
    c[4] = kb_member(p, "proposed_by", b[4], sizeof b[4]);
    c[5] = kb_member(p, "title", b[5], sizeof b[5]);
}

static void proposal_shape(struct table *t)
{
    table_set_max(t, 4, 16);
    table_set_flex(t, 5, 10, 60);
}

int cmd_kb_proposals(struct cli_ctx *ctx, int argc, char **argv,
                     struct cli_err *err)
{
    static const char *const keys[] = {"status", "limit", NULL};
    static const char *const headers[] = {"ID",     "STATUS", "ARTICLE",
                                          "TICKET", "BY",     "TITLE"};
    static const struct cli_listing l = {
        "/v1/kb/proposals", keys,          "proposals", 6, headers,
        proposal_cells,     proposal_shape};
    struct args_opt opts[] = {
        {"status", true, NULL}, {"limit", true, NULL}, {"after", true, NULL},
        {"all", false, NULL},   {NULL, false, NULL},
    };
    const char *pos[1];
    struct strbuf path;
    int npos, rc;

    rc = args_parse(ctx, argc, argv, opts, pos, 1, &npos, err);
    if (rc < 0)
        return rc;
    if (npos == 0)
        return cli_run_listing(ctx, &l, opts, err);
    if (opts[0].value || opts[1].value || opts[2].value || opts[3].value)
        return cli_err_set(err, CLI_EUSAGE,
                           "kb proposals ID takes no list "
                           "options");
    strbuf_init(&path);
    rc = kb_path(&path, "proposals", pos[0], "", err);
    if (rc == 0)
        rc = kb_request_show(ctx, "GET", path.buf, NULL, print_proposal, NULL,
                             err);
    strbuf_close(&path);
    return rc;
}

static int print_review(const json_t *p, const void *unused,
                        struct cli_err *err)
{
    char b1[128], b2[128], b3[32], b4[64];

    (void)unused;
    (void)err;
    if (json_is_string(json_object_get(p, "result_article")))
        out_line("%s %s: article %s version %s",
                 kb_member(p, "status", b4, sizeof b4),
                 kb_member(p, "id", b1, sizeof b1),
                 kb_member(p, "result_article", b2, sizeof b2),
                 kb_member(p, "result_version", b3, sizeof b3));
    else
        out_line("%s %s", kb_member(p, "status", b4, sizeof b4),
                 kb_member(p, "id", b1, sizeof b1));
    return 0;
}

int cmd_kb_review(struct cli_ctx *ctx, int argc, char **argv,
                  struct cli_err *err)
{
    struct args_opt opts[] = {
        {"reason", true, NULL}, {"publish", false, NULL}, {NULL, false, NULL}};
    const char *pos[2], *reason;
    bool approve, publish;
    struct strbuf path;
    json_t *body = NULL, *why = NULL;
    int npos, rc;

    rc = args_parse(ctx, argc, argv, opts, pos, 2, &npos, err);
    if (rc < 0)
        return rc;
    if (npos < 2)
        return cli_err_set(err, CLI_EUSAGE,
                           "kb review needs a proposal ID "
                           "and approve or reject");
    if (strcmp(pos[1], "approve") != 0 && strcmp(pos[1], "reject") != 0)
        return cli_err_set(err, CLI_EUSAGE,
                           "kb review: '%s' is neither "
                           "approve nor reject",
                           pos[1]);
    approve = pos[1][0] == 'a';
    publish = args_get(opts, "publish") != NULL;
    reason = args_get(opts, "reason");
    if (!approve && (reason == NULL || reason[0] == '\0'))
        return cli_err_set(err, CLI_EUSAGE,
                           "kb review ... reject needs "
                           "--reason");
    if (!approve && publish)
        return cli_err_set(err, CLI_EUSAGE, "--publish goes with approve");
    if (reason != NULL && (rc = kb_flag_text("reason", reason, &why, err)) < 0)
        return rc;
    body = json_pack("{s:s, s:o*}", "decision", approve ? "approve" : "reject",
                     "reason", why);
    if (body == NULL ||
        (publish && json_object_set_new(body, "publish", json_true()) != 0)) {
        json_decref(body);
        return cli_no_memory(err);
    }
    strbuf_init(&path);
    rc = kb_path(&path, "proposals", pos[0], "/review", err);
    if (rc == 0)
        rc = kb_request_show(ctx, "POST", path.buf, body, print_review, NULL,
                             err);
    strbuf_close(&path);
    json_decref(body);
    return rc;
}
