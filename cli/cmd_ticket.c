/* `gridesk ticket create|show|list|event|suggest`: tickets (工单) through the
 * node's /v1/tickets API.  Values such as classes, channels and statuses
 * are passed through; the node validates them and its message is shown. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/api.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/kb.h"
#include "cli/listing.h"
#include "cli/output.h"
#include "cli/strbuf.h"

/* Width of the labels in `ticket show`. */
#define LABEL_W 13

static const char *member(const json_t *obj, const char *key, char *buf,
                          size_t n)
{
    return out_scalar(json_object_get(obj, key), buf, n);
}

/* Prints "label  value"; a multi-line value continues indented. */
static void print_field(const char *label, const char *value)
{
    out_field(label, LABEL_W, value);
}

int cmd_ticket_create(struct cli_ctx *ctx, int argc, char **argv,
                      struct cli_err *err)
{
    struct args_opt opts[] = {
        {"customer", true, NULL},    {"class", true, NULL},
        {"channel", true, NULL},     {"summary", true, NULL},
        {"description", true, NULL}, {NULL, false, NULL},
    };
    const char *pos[1], *customer, *klass, *channel, *summary;
    char b1[64], b2[64];
    struct api_conn conn;
    json_t *body, *resp = NULL;
    int npos, rc;

    rc = args_parse(ctx, argc, argv, opts, pos, 0, &npos, err);
    if (rc < 0)
        return rc;
    if ((customer = args_need(opts, "customer", err)) == NULL ||
        (klass = args_need(opts, "class", err)) == NULL ||
        (channel = args_need(opts, "channel", err)) == NULL ||
        (summary = args_need(opts, "summary", err)) == NULL)
        return CLI_EUSAGE;
    body = json_pack("{s:s, s:s, s:s, s:s, s:s*}", "customer", customer,
                     "class", klass, "channel", channel, "summary", summary,
                     "description", args_get(opts, "description"));
    if (body == NULL)
        return cli_err_set(err, CLI_EUSAGE, "arguments must be valid UTF-8");
    rc = api_open(&conn, ctx, 0, err);
    if (rc == 0) {
        rc = api_call(&conn, "POST", "/v1/tickets", body, &resp, err);
        api_close(&conn);
    }
    json_decref(body);
    if (rc == 0 && ctx->json)
        rc = out_json(resp, err);
    else if (rc == 0)
        out_line("created ticket %s (%s)", member(resp, "id", b1, sizeof b1),
                 member(resp, "status", b2, sizeof b2));
    json_decref(resp);
    return rc;
}

/* The DETAIL column of an event: what the event changed or said. */
static void event_detail(const json_t *ev, struct strbuf *sb)
{
    static const char *const common[] = {"id",      "type", "actor", "at",
                                         "channel", "node", NULL};
    const char *type = json_string_value(json_object_get(ev, "type"));
    const char *key;
    json_t *v;
    char b[256];
    int i;

    if (type == NULL)
        type = "";
    if (strcmp(type, "accept") == 0) {
        strbuf_printf(sb, "owner %s", member(ev, "owner", b, sizeof b));
        return;
    }
    if (strcmp(type, "comment") == 0) {
        strbuf_puts(sb, member(ev, "text", b, sizeof b));
        return;
    }
    if (strcmp(type, "status") == 0) {
        json_t *note = json_object_get(ev, "note");
        strbuf_printf(sb, "-> %s", member(ev, "status", b, sizeof b));
        if (json_string_length(note) > 0)
            strbuf_printf(sb, ": %s", json_string_value(note));
        return;
    }
    if (strcmp(type, "reopen") == 0) {
        json_t *reason = json_object_get(ev, "reason");
        if (json_string_length(reason) > 0)
            strbuf_puts(sb, json_string_value(reason));
        return;
    }
    /* An event this CLI does not know yet: show its own fields. */
    json_object_foreach((json_t *)ev, key, v)
    {
        for (i = 0; common[i] != NULL; i++)
            if (strcmp(key, common[i]) == 0)
                break;
        if (common[i] != NULL)
            continue;
        if (sb->len > 0)
            strbuf_putc(sb, ' ');
        strbuf_printf(sb, "%s=%s", key, out_scalar(v, b, sizeof b));
    }
}

static int print_events(const json_t *events, struct cli_err *err)
{
    static const char *const headers[] = {"TIME", "TYPE", "ACTOR", "DETAIL"};
    struct table *t;
    json_t *ev;
    size_t i;
    int rc = 0;

    if (json_array_size(events) == 0) {
        printf("\nno events\n");
        return 0;
    }
    t = table_new(4, headers);
    if (t == NULL)
        return cli_no_memory(err);
    table_set_flex(t, 3, 20, 80);
    json_array_foreach(events, i, ev)
    {
        char tb[64], yb[64], ab[128];
        struct strbuf detail;
        const char *cells[4];

        strbuf_init(&detail);
        event_detail(ev, &detail);
        cells[0] = out_time(json_object_get(ev, "at"), tb, sizeof tb);
        cells[1] = member(ev, "type", yb, sizeof yb);
        cells[2] = member(ev, "actor", ab, sizeof ab);
        cells[3] = strbuf_str(&detail);
        rc = strbuf_ok(&detail) ? table_add(t, cells) : CLI_ENOMEM;
        strbuf_close(&detail);
        if (rc < 0)
            break;
    }
    if (rc == 0) {
        putchar('\n');
        rc = table_print(t, stdout);
    }
    table_free(t);
    return rc < 0 ? cli_no_memory(err) : 0;
}

/* Human view of one ticket: its fields, then its timeline. */
static int print_ticket(const json_t *tk, struct cli_err *err)
{
    static const char *const plain[][2] = {
        {"ticket", "id"},         {"status", "status"},
        {"class", "class"},       {"channel", "channel"},
        {"customer", "customer"}, {"owner", "owner"},
        {"summary", "summary"},   {"description", "description"},
    };
    char b1[64], b2[128];
    struct strbuf sb;
    size_t i;

    for (i = 0; i < sizeof plain / sizeof plain[0]; i++)
        print_field(plain[i][0], member(tk, plain[i][1], b2, sizeof b2));
    strbuf_init(&sb);
    strbuf_printf(&sb, "%s by %s",
                  out_time(json_object_get(tk, "created_at"), b1, sizeof b1),
                  member(tk, "created_by", b2, sizeof b2));
    if (!strbuf_ok(&sb))
        return cli_no_memory(err);
    print_field("created", sb.buf);
    strbuf_close(&sb);
    print_field("updated",
                out_time(json_object_get(tk, "updated_at"), b1, sizeof b1));
    return print_events(json_object_get(tk, "events"), err);
}

/* Appends "/v1/tickets/ID" with ID percent-encoded. */
static int ticket_path(struct strbuf *sb, const char *id, const char *tail,
                       struct cli_err *err)
{
    if (id[0] == '\0')
        return cli_err_set(err, CLI_EUSAGE, "ticket ID must not be empty");
    strbuf_puts(sb, "/v1/tickets/");
    strbuf_put_urlenc(sb, id);
    strbuf_puts(sb, tail);
    return strbuf_ok(sb) ? 0 : cli_no_memory(err);
}

int cmd_ticket_show(struct cli_ctx *ctx, int argc, char **argv,
                    struct cli_err *err)
{
    const char *pos[1];
    struct api_conn conn;
    struct strbuf path;
    json_t *resp = NULL;
    int npos, rc;

    rc = args_parse(ctx, argc, argv, NULL, pos, 1, &npos, err);
    if (rc < 0)
        return rc;
    if (npos < 1)
        return cli_err_set(err, CLI_EUSAGE, "ticket show needs a ticket ID");
    strbuf_init(&path);
    rc = ticket_path(&path, pos[0], "", err);
    if (rc == 0)
        rc = api_open(&conn, ctx, 0, err);
    if (rc == 0) {
        rc = api_call(&conn, "GET", path.buf, NULL, &resp, err);
        if (rc == 0 && !ctx->json && !json_is_object(resp))
            rc = cli_err_set(err, CLI_ENET, "%s sent no ticket", conn.node);
        api_close(&conn);
    }
    strbuf_close(&path);
    if (rc == 0)
        rc = ctx->json ? out_json(resp, err) : print_ticket(resp, err);
    json_decref(resp);
    return rc;
}

static void ticket_cells(const json_t *tk, char (*b)[128], const char **cells)
{
    static const char *const keys[] = {"id",       "status", "class",
                                       "customer", "owner",  "summary"};
    for (int i = 0; i < 6; i++)
        cells[i] = member(tk, keys[i], b[i], sizeof b[i]);
}

static void ticket_shape(struct table *t)
{
    table_set_max(t, 3, 24);
    table_set_max(t, 4, 16);
    table_set_flex(t, 5, 10, 60);
}

int cmd_ticket_list(struct cli_ctx *ctx, int argc, char **argv,
                    struct cli_err *err)
{
    static const char *const keys[] = {"status", "customer", "limit", NULL};
    static const char *const headers[] = {"ID",       "STATUS", "CLASS",
                                          "CUSTOMER", "OWNER",  "SUMMARY"};
    static const struct cli_listing l = {
        "/v1/tickets", keys,         "tickets",   6,
        headers,       ticket_cells, ticket_shape};
    struct args_opt opts[] = {
        {"status", true, NULL}, {"customer", true, NULL}, {"limit", true, NULL},
        {"after", true, NULL},  {"all", false, NULL},     {NULL, false, NULL},
    };
    const char *pos[1];
    int npos, rc;

    rc = args_parse(ctx, argc, argv, opts, pos, 0, &npos, err);
    if (rc < 0)
        return rc;
    return cli_run_listing(ctx, &l, opts, err);
}

/* Which options each kind of event takes; the first may be required. */
struct event_kind {
    const char *name;
    const char *opt[2];   /* options allowed, NULL-padded */
    const char *field[2]; /* the JSON field each option fills */
    bool first_required;
};

static const struct event_kind event_kinds[] = {
    {"accept", {"owner", NULL}, {"owner", NULL}, false},
    {"comment", {"text", NULL}, {"text", NULL}, true},
    {"status", {"to", "note"}, {"status", "note"}, true},
    {"reopen", {"reason", NULL}, {"reason", NULL}, false},
};

int cmd_ticket_event(struct cli_ctx *ctx, int argc, char **argv,
                     struct cli_err *err)
{
    struct args_opt opts[] = {
        {"owner", true, NULL}, {"text", true, NULL},   {"to", true, NULL},
        {"note", true, NULL},  {"reason", true, NULL}, {NULL, false, NULL},
    };
    const struct event_kind *kind = NULL;
    const char *pos[2];
    char b1[64], b2[64], b3[64];
    struct api_conn conn;
    struct strbuf path;
    json_t *body, *resp = NULL;
    size_t i;
    int npos, rc, j;

    rc = args_parse(ctx, argc, argv, opts, pos, 2, &npos, err);
    if (rc < 0)
        return rc;
    if (npos < 2)
        return cli_err_set(err, CLI_EUSAGE,
                           "ticket event needs a ticket ID and an event "
                           "(accept, comment, status, reopen)");
    for (i = 0; i < sizeof event_kinds / sizeof event_kinds[0]; i++)
        if (strcmp(pos[1], event_kinds[i].name) == 0)
            kind = &event_kinds[i];
    if (kind == NULL)
        return cli_err_set(err, CLI_EUSAGE,
                           "unknown event '%s' (accept, comment, status, "
                           "reopen)",
                           pos[1]);
    for (i = 0; opts[i].name != NULL; i++) {
        if (opts[i].value == NULL)
            continue;
        if ((kind->opt[0] == NULL || strcmp(opts[i].name, kind->opt[0]) != 0) &&
            (kind->opt[1] == NULL || strcmp(opts[i].name, kind->opt[1]) != 0))
            return cli_err_set(err, CLI_EUSAGE, "--%s does not apply to '%s'",
                               opts[i].name, kind->name);
    }
    if (kind->first_required && args_need(opts, kind->opt[0], err) == NULL)
        return CLI_EUSAGE;

    body = json_pack("{s:s}", "type", kind->name);
    for (j = 0; body != NULL && j < 2 && kind->opt[j] != NULL; j++) {
        const char *v = args_get(opts, kind->opt[j]);
        json_t *s = v != NULL ? json_string(v) : NULL;
        if (v == NULL)
            continue;
        if (s == NULL || json_object_set_new(body, kind->field[j], s) != 0) {
            json_decref(body);
            return cli_err_set(err, CLI_EUSAGE, "--%s must be valid UTF-8",
                               kind->opt[j]);
        }
    }
    if (body == NULL)
        return cli_no_memory(err);

    strbuf_init(&path);
    rc = ticket_path(&path, pos[0], "/events", err);
    if (rc == 0)
        rc = api_open(&conn, ctx, 0, err);
    if (rc == 0) {
        rc = api_call(&conn, "POST", path.buf, body, &resp, err);
        api_close(&conn);
    }
    strbuf_close(&path);
    json_decref(body);
    if (rc == 0 && ctx->json) {
        rc = out_json(resp, err);
    } else if (rc == 0) {
        /* The node may answer with the updated ticket or with the event. */
        if (json_object_get(resp, "summary") != NULL ||
            json_object_get(resp, "events") != NULL)
            out_line("ticket %s: %s, owner %s", pos[0],
                     member(resp, "status", b1, sizeof b1),
                     member(resp, "owner", b2, sizeof b2));
        else
            out_line("ticket %s: %s recorded (event %s)", pos[0], kind->name,
                     member(resp, "id", b3, sizeof b3));
    }
    json_decref(resp);
    return rc;
}

/* Knowledge-base articles for the ticket's summary and description ("cases
 * like this"), printed as search results. */
int cmd_ticket_suggest(struct cli_ctx *ctx, int argc, char **argv,
                       struct cli_err *err)
{
    return kb_hits_for(ctx, argc, argv, "/v1/tickets/", "/suggestions",
                       "ticket suggest", err);
}
