/* Knowledge-base routes of the agent API: articles (create, read, edit,
 * status, history, diff, links), bulk import, proposals and reviews, and
 * search (plain, "similar articles", "cases like this ticket").  Writes are
 * CMD_KB commands through Raft (consensus/fsm_kb.c applies them); reads and
 * searches are served from this node's store and search index.  Shapes are
 * in docs/API.md. */
#include <errno.h>
#include <http_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/fsm.h"
#include "consensus/rnode.h"
#include "core/hlc.h"
#include "core/kb.h"
#include "core/strbuf.h"
#include "core/util.h"
#include "node/api_int.h"
#include "node/views.h"
#include "search/search.h"
#include "storage/kb.h"
#include "storage/tickets.h"

const char R_KB_ARTICLES[] = "/v1/kb/articles";
const char R_KB_ARTICLE[] = "/v1/kb/articles/{id}";
const char R_KB_ARTICLE_SUB[] = "/v1/kb/articles/{id}/{sub}";
const char R_KB_IMPORT[] = "/v1/kb/import";
const char R_KB_SEARCH[] = "/v1/kb/search";
const char R_KB_PROPOSALS[] = "/v1/kb/proposals";
const char R_KB_PROPOSAL[] = "/v1/kb/proposals/{id}";
const char R_KB_REVIEW[] = "/v1/kb/proposals/{id}/review";
const char R_TICKET_SUGGEST[] = "/v1/tickets/{id}/suggestions";
const char R_KB_CATEGORIES[] = "/v1/kb/categories";

#define IMPORT_MAX 1000
#define SEARCH_LIMIT_DEFAULT 10
#define SEARCH_LIMIT_MAX 100
#define SIMILAR_TERMS 16

/* ---- JSON → article ---------------------------------------------------- */

static int jstr(json_t *o, const char *key, char **out, struct gd_err *err)
{
    json_t *v = json_object_get(o, key);

    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return gd_err_set(err, GD_EINVAL, "field \"%s\" must be a string",
                          key);
    if (strlen(json_string_value(v)) != json_string_length(v))
        return gd_err_set(err, GD_EINVAL, "field \"%s\" contains a NUL byte",
                          key);
    if (gd_strdup(out, json_string_value(v)) != 0)
        return gd_err_set(err, GD_ENOMEM, "out of memory");
    return 0;
}

static int keys_ok(json_t *o, const char *const *allowed, struct gd_err *err)
{
    const char *key;
    json_t *val;

    json_object_foreach(o, key, val)
    {
        int ok = 0;
        (void)val;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = strcmp(*a, key) == 0;
        if (!ok)
            return gd_err_set(err, GD_EINVAL, "unknown field \"%s\"", key);
    }
    return 0;
}

static int parse_keywords(json_t *v, struct kb_article *a, struct gd_err *err)
{
    size_t n;

    if (!json_is_array(v))
        return gd_err_set(err, GD_EINVAL,
                          "field \"keywords\" must be an array of strings");
    n = json_array_size(v);
    if (n > KB_KEYWORDS_MAX)
        return gd_err_set(err, GD_EINVAL, "%zu keywords, limit %d", n,
                          KB_KEYWORDS_MAX);
    a->keywords = n ? calloc(n, sizeof *a->keywords) : NULL;
    if (n && a->keywords == NULL)
        return gd_err_set(err, GD_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_t *k = json_array_get(v, i);
        if (!json_is_string(k) ||
            strlen(json_string_value(k)) != json_string_length(k))
            return gd_err_set(err, GD_EINVAL,
                              "field \"keywords\" must be an array of "
                              "strings");
        if (gd_strdup(&a->keywords[i], json_string_value(k)) != 0)
            return gd_err_set(err, GD_ENOMEM, "out of memory");
        a->n_keywords = i + 1;
    }
    return 0;
}

static int parse_sources(json_t *v, struct kb_article *a, struct gd_err *err)
{
    static const char *const keys[] = {"type", "title", NULL};
    size_t n;
    int rc;

    if (!json_is_array(v))
        return gd_err_set(err, GD_EINVAL,
                          "field \"sources\" must be an array of "
                          "{\"type\",\"title\"}");
    n = json_array_size(v);
    if (n > KB_SOURCES_MAX)
        return gd_err_set(err, GD_EINVAL, "%zu sources, limit %d", n,
                          KB_SOURCES_MAX);
    a->sources = n ? calloc(n, sizeof *a->sources) : NULL;
    if (n && a->sources == NULL)
        return gd_err_set(err, GD_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_t *s = json_array_get(v, i);
        char *type = NULL;
        a->n_sources = i + 1;
        if (!json_is_object(s))
            return gd_err_set(err, GD_EINVAL,
                              "source %zu must be {\"type\",\"title\"}", i + 1);
        if ((rc = keys_ok(s, keys, err)) != 0 ||
            (rc = jstr(s, "type", &type, err)) != 0 ||
            (rc = jstr(s, "title", &a->sources[i].title, err)) != 0) {
            free(type);
            return rc;
        }
        a->sources[i].type = kb_source_parse(type);
        if (a->sources[i].type < 0) {
            gd_err_set(err, GD_EINVAL,
                       "source %zu: type \"%s\" is not one of policy, law, "
                       "standard, manual, case",
                       i + 1, type ? type : "");
            free(type);
            return GD_EINVAL;
        }
        free(type);
    }
    return 0;
}

enum {
    PA_ID = 1,     /* "id" allowed */
    PA_STATUS = 2, /* "status" allowed */
    PA_PATCH = 4,  /* fields optional; mask says which were given */
};

/* Reads the article fields of o into a (initialised), *mask = the fields
 * given.  Unknown keys are refused except those in extra. */
static int parse_article(json_t *o, int flags, const char *const *extra,
                         struct kb_article *a, uint32_t *mask,
                         struct gd_err *err)
{
    static const char *const base[] = {
        "title",  "category", "fault",   "cause",  "solution", "script",
        "keywords", "sources", "region", "id",    "status",   NULL};
    static const uint32_t text_bits[KB_TEXT__COUNT] = {
        KB_F_FAULT, KB_F_CAUSE, KB_F_SOLUTION, KB_F_SCRIPT};
    const char *key;
    json_t *val;
    char *status = NULL;
    int rc;

    *mask = 0;
    json_object_foreach(o, key, val)
    {
        int ok = 0;
        (void)val;
        for (const char *const *b = base; *b && !ok; b++)
            ok = strcmp(*b, key) == 0;
        for (const char *const *e = extra; e && *e && !ok; e++)
            ok = strcmp(*e, key) == 0;
        if (!ok || (strcmp(key, "id") == 0 && !(flags & PA_ID)) ||
            (strcmp(key, "status") == 0 && !(flags & PA_STATUS)))
            return gd_err_set(err, GD_EINVAL, "unknown field \"%s\"", key);
    }
    if ((rc = jstr(o, "title", &a->title, err)) ||
        (rc = jstr(o, "category", &a->category, err)) ||
        (rc = jstr(o, "region", &a->region, err)))
        return rc;
    if (json_object_get(o, "title"))
        *mask |= KB_F_TITLE;
    if (json_object_get(o, "category"))
        *mask |= KB_F_CATEGORY;
    if (json_object_get(o, "region"))
        *mask |= KB_F_REGION;
    for (int i = 0; i < KB_TEXT__COUNT; i++) {
        if ((rc = jstr(o, kb_text_name(i), &a->text[i], err)))
            return rc;
        if (json_object_get(o, kb_text_name(i)))
            *mask |= text_bits[i];
    }
    if ((val = json_object_get(o, "keywords")) != NULL && !json_is_null(val)) {
        if ((rc = parse_keywords(val, a, err)))
            return rc;
        *mask |= KB_F_KEYWORDS;
    }
    if ((val = json_object_get(o, "sources")) != NULL && !json_is_null(val)) {
        if ((rc = parse_sources(val, a, err)))
            return rc;
        *mask |= KB_F_SOURCES;
    }
    if ((flags & PA_ID) && (rc = jstr(o, "id", &a->id, err)))
        return rc;
    if (a->id != NULL && a->id[0] != '\0' && !kb_id_valid(a->id))
        return gd_err_set(err, GD_EINVAL,
                          "id \"%.80s\": use 1-%d of A-Z a-z 0-9 . _ -", a->id,
                          KB_ID_MAX);
    a->status = KB_DRAFT;
    if ((flags & PA_STATUS) && (rc = jstr(o, "status", &status, err)))
        return rc;
    if (status != NULL) {
        a->status = kb_status_parse(status);
        if (a->status < 0) {
            gd_err_set(err, GD_EINVAL,
                       "status \"%.40s\" is not one of draft, review, "
                       "published, retired",
                       status);
            free(status);
            a->status = KB_DRAFT;
            return GD_EINVAL;
        }
        free(status);
        *mask |= KB_F_STATUS;
    }
    if (!(flags & PA_PATCH))
        return kb_article_check(a, err);
    return 0;
}

static void add_applied(struct ctx *c, json_t *v)
{
    if (v != NULL)
        json_object_set_new(
            v, "applied_index",
            json_integer((json_int_t)store_applied_index(c->n->store)));
}

static void send_article(struct ctx *c, const char *id, uint32_t version,
                         int status)
{
    struct kb_article a;
    struct gd_err err = {0, ""};
    json_t *v;
    int rc = store_kb_article_get(c->n->store, id, version, &a, &err);

    if (rc != 0) {
        if ((rc == GD_ENOTFOUND || rc == GD_EINVAL) && version != 0)
            send_error(c, GD_ENOTFOUND, "no version %u of article %s",
                       (unsigned)version, id);
        else if (rc == GD_ENOTFOUND || rc == GD_EINVAL)
            send_error(c, GD_ENOTFOUND, "no article %s", id);
        else
            send_error(c, rc, "cannot read article %s: %s", id, err.msg);
        return;
    }
    v = view_article(&a, 1);
    kb_article_clear(&a);
    add_applied(c, v);
    send_json(c, status, v);
}

static void send_proposal(struct ctx *c, const char *id, int status)
{
    struct kb_proposal p;
    struct gd_err err = {0, ""};
    json_t *v;
    int rc = store_kb_proposal_get(c->n->store, id, &p, &err);

    if (rc != 0) {
        send_error(c, rc == GD_EINVAL ? GD_ENOTFOUND : rc,
                   rc == GD_ENOTFOUND || rc == GD_EINVAL ? "no proposal %s"
                                                         : "cannot read %s",
                   id);
        return;
    }
    v = view_proposal(&p);
    kb_proposal_clear(&p);
    add_applied(c, v);
    send_json(c, status, v);
}

static void send_bad_status(struct ctx *c, const char *field, const char *s)
{
    send_error(c, GD_EINVAL,
               "%s \"%.40s\" is not one of draft, review, published, retired",
               field, s);
}

/* Answers a page of a listing: {"items","next","applied_index"}; frees
 * next. */
static void send_page(struct ctx *c, json_t *items, char *next)
{
    send_json(c, 200,
              items ? json_pack("{s:o,s:o,s:I}", "items", items, "next",
                                next ? json_string(next) : json_null(),
                                "applied_index",
                                (json_int_t)store_applied_index(c->n->store))
                    : NULL);
    free(next);
}

/* ---- proposing ------------------------------------------------------ */

static void article_applied_cb(void *data, int code, const char *msg,
                               const char *entity, uint64_t index)
{
    struct ctx *c = data;

    if (code != 0) {
        send_error(c, code, "%s", msg && *msg ? msg : gd_code_name(code));
        return;
    }
    send_article(c, entity, 0, c->created ? 201 : 200);
}

static void proposal_applied_cb(void *data, int code, const char *msg,
                                const char *entity, uint64_t index)
{
    struct ctx *c = data;

    if (code != 0) {
        send_error(c, code, "%s", msg && *msg ? msg : gd_code_name(code));
        return;
    }
    send_proposal(c, entity, c->created ? 201 : 200);
}

/* Stamps the actor and proposes cmd (consumed); answers on failure. */
static void propose_kb(struct ctx *c, struct command *cmd,
                       rnode_propose_cb cb)
{
    int rc;

    cmd->type = CMD_KB;
    if (gd_strdup(&cmd->kb.actor, c->user) != 0) {
        command_clear(cmd);
        send_error(c, GD_ENOMEM, "out of memory");
        return;
    }
    rc = rnode_propose(c->n->rn, cmd, cb, c);
    if (rc != 0)
        send_error(c, rc, rc == GD_EUNAVAIL ? "not the leader any more; retry"
                                            : "cannot propose the write");
}

/* Optional "note" (≤ KB_NOTE_MAX) into *out: 0, or answered. */
static int take_note(struct ctx *c, json_t *o, char **out)
{
    struct gd_err err = {0, ""};

    if (jstr(o, "note", out, &err) != 0) {
        send_error(c, err.code, "%s", err.msg);
        return -1;
    }
    if (*out != NULL && strlen(*out) > KB_NOTE_MAX) {
        send_error(c, GD_EINVAL, "note: limit %d bytes", KB_NOTE_MAX);
        return -1;
    }
    return 0;
}

static void handle_create(struct ctx *c)
{
    static const char *const extra[] = {"note", NULL};
    struct command cmd;
    struct gd_err err = {0, ""};
    uint32_t mask;
    json_t *o = body_object(c);

    if (o == NULL)
        return;
    command_init(&cmd);
    cmd.kb.op = KB_OP_CREATE;
    if (parse_article(o, PA_ID | PA_STATUS, extra, &cmd.kb.art, &mask,
                      &err) != 0) {
        json_decref(o);
        command_clear(&cmd);
        send_error(c, err.code, "%s", err.msg);
        return;
    }
    if (take_note(c, o, &cmd.kb.note) != 0) {
        json_decref(o);
        command_clear(&cmd);
        return;
    }
    json_decref(o);
    c->created = 1;
    propose_kb(c, &cmd, article_applied_cb);
}

static void handle_patch(struct ctx *c, const char *id)
{
    static const char *const extra[] = {"note", "version", NULL};
    struct command cmd;
    struct gd_err err = {0, ""};
    json_t *o = body_object(c), *ver;
    struct kb_article cur;
    int rc;

    if (o == NULL)
        return;
    command_init(&cmd);
    cmd.kb.op = KB_OP_UPDATE;
    if (parse_article(o, PA_PATCH, extra, &cmd.kb.art, &cmd.kb.mask, &err) !=
        0) {
        json_decref(o);
        command_clear(&cmd);
        send_error(c, err.code, "%s", err.msg);
        return;
    }
    ver = json_object_get(o, "version");
    if (ver != NULL && !json_is_null(ver)) {
        if (!json_is_integer(ver) || json_integer_value(ver) < 1 ||
            json_integer_value(ver) > UINT32_MAX) {
            json_decref(o);
            command_clear(&cmd);
            send_error(c, GD_EINVAL, "field \"version\" must be a version "
                                     "number (1, 2, ...)");
            return;
        }
        cmd.kb.expect_version = (uint32_t)json_integer_value(ver);
    }
    if (take_note(c, o, &cmd.kb.note) != 0) {
        json_decref(o);
        command_clear(&cmd);
        return;
    }
    json_decref(o);
    if (gd_strdup(&cmd.kb.art.id, id) != 0) {
        command_clear(&cmd);
        send_error(c, GD_ENOMEM, "out of memory");
        return;
    }
    /* Fast 404 and content check against this (the leader's) state; apply
     * checks again. */
    rc = store_kb_article_get(c->n->store, id, 0, &cur, &err);
    if (rc == 0) {
        struct kb_article next;
        kb_article_init(&next);
        rc = kb_article_copy(&next, &cur);
        if (rc == 0)
            rc = kb_article_assign(&next, &cmd.kb.art, cmd.kb.mask);
        if (rc == 0)
            rc = kb_article_check(&next, &err);
        kb_article_clear(&next);
    } else if (rc == GD_ENOTFOUND || rc == GD_EINVAL) {
        rc = GD_ENOTFOUND;
        snprintf(err.msg, sizeof err.msg, "no article %s", id);
    }
    kb_article_clear(&cur);
    if (rc != 0) {
        command_clear(&cmd);
        send_error(c, rc, "%s", err.msg);
        return;
    }
    propose_kb(c, &cmd, article_applied_cb);
}

static void handle_status(struct ctx *c, const char *id)
{
    static const char *const keys[] = {"status", "note", NULL};
    struct command cmd;
    const char *status;
    json_t *o = body_object(c);
    int s;

    if (o == NULL)
        return;
    if (only_keys(c, o, keys) != 0 || get_str(c, o, "status", 1, &status)) {
        json_decref(o);
        return;
    }
    s = kb_status_parse(status);
    if (s < 0) {
        send_bad_status(c, "status", status);
        json_decref(o);
        return;
    }
    command_init(&cmd);
    cmd.kb.op = KB_OP_STATUS;
    cmd.kb.status = s;
    if (take_note(c, o, &cmd.kb.note) != 0) {
        json_decref(o);
        command_clear(&cmd);
        return;
    }
    json_decref(o);
    if (gd_strdup(&cmd.kb.art.id, id) != 0) {
        command_clear(&cmd);
        send_error(c, GD_ENOMEM, "out of memory");
        return;
    }
    propose_kb(c, &cmd, article_applied_cb);
}

static void handle_link(struct ctx *c, const char *id)
{
    static const char *const keys[] = {"ticket", NULL};
    struct command cmd;
    const char *ticket;
    json_t *o = body_object(c);

    if (o == NULL)
        return;
    if (only_keys(c, o, keys) != 0 || get_str(c, o, "ticket", 1, &ticket)) {
        json_decref(o);
        return;
    }
    command_init(&cmd);
    cmd.kb.op = KB_OP_LINK;
    if (gd_strdup(&cmd.kb.art.id, id) != 0 ||
        gd_strdup(&cmd.kb.ticket, ticket) != 0) {
        json_decref(o);
        command_clear(&cmd);
        send_error(c, GD_ENOMEM, "out of memory");
        return;
    }
    json_decref(o);
    propose_kb(c, &cmd, article_applied_cb);
}

/* ---- reads ------------------------------------------------------------ */

/* Parses ?name= as an integer in [lo, hi]; def when absent.  0 or answered
 * -1. */
static int query_uint(struct ctx *c, const char *name, long lo, long hi,
                      long def, long *out)
{
    const char *s = http_request_query(c->req, name);
    char *end;
    long v;

    *out = def;
    if (s == NULL || *s == '\0')
        return 0;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi) {
        send_error(c, GD_EINVAL, "%s must be %ld..%ld", name, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

static const char *query_opt(struct ctx *c, const char *name)
{
    const char *s = http_request_query(c->req, name);
    return s != NULL && *s != '\0' ? s : NULL;
}

static void handle_get(struct ctx *c, const char *id)
{
    long version;

    if (query_uint(c, "version", 1, UINT32_MAX, 0, &version) != 0)
        return;
    send_article(c, id, (uint32_t)version, 200);
}

static void handle_list(struct ctx *c)
{
    const char *cat = query_opt(c, "category");
    const char *st = query_opt(c, "status");
    const char *after = query_opt(c, "after");
    struct kb_article *items = NULL;
    struct gd_err err = {0, ""};
    size_t n = 0;
    char *next = NULL;
    long limit;
    int status = -1, rc;
    json_t *arr;

    if (query_uint(c, "limit", 1, STORE_KB_LIST_MAX, 50, &limit) != 0)
        return;
    if (st != NULL && (status = kb_status_parse(st)) < 0) {
        send_bad_status(c, "status", st);
        return;
    }
    rc = store_kb_article_list(c->n->store, cat, status, after, (size_t)limit,
                               &items, &n, &next, &err);
    if (rc != 0) {
        send_error(c, rc, "%s", err.msg);
        return;
    }
    arr = json_array();
    for (size_t i = 0; arr != NULL && i < n; i++)
        if (json_array_append_new(arr, view_article(&items[i], 0)) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    store_kb_articles_free(items, n);
    send_page(c, arr, next);
}

static void handle_history(struct ctx *c, const char *id)
{
    struct kb_article *v = NULL;
    struct gd_err err = {0, ""};
    size_t n = 0;
    json_t *arr;
    int rc = store_kb_versions(c->n->store, id, &v, &n, &err);

    if (rc == 0 && n == 0)
        rc = GD_ENOTFOUND;
    if (rc != 0) {
        send_error(c, rc == GD_EINVAL ? GD_ENOTFOUND : rc,
                   rc == GD_ENOTFOUND || rc == GD_EINVAL ? "no article %s"
                                                         : "%s",
                   rc == GD_ENOTFOUND || rc == GD_EINVAL ? id : err.msg);
        return;
    }
    arr = json_array();
    for (size_t i = 0; arr != NULL && i < n; i++)
        if (json_array_append_new(
                arr, json_pack("{s:I,s:s,s:o,s:o,s:o,s:o}", "version",
                               (json_int_t)v[i].version, "status",
                               kb_status_name(v[i].status), "at",
                               view_time(v[i].updated_hlc), "by",
                               view_str(v[i].updated_by), "note",
                               view_opt_str(v[i].note), "changed",
                               view_kb_changed(v[i].changed))) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    store_kb_articles_free(v, n);
    send_json(c, 200, arr ? json_pack("{s:s,s:o}", "id", id, "items", arr)
                          : NULL);
}

static void handle_diff(struct ctx *c, const char *id)
{
    struct kb_article a, b;
    struct gd_err err = {0, ""};
    long from, to;
    json_t *arr;
    uint32_t d;
    int rc;

    rc = store_kb_article_get(c->n->store, id, 0, &b, &err);
    if (rc != 0) {
        kb_article_clear(&b);
        send_error(c, rc == GD_EINVAL ? GD_ENOTFOUND : rc,
                   "no article %s", id);
        return;
    }
    if (query_uint(c, "to", 1, b.version, b.version, &to) != 0 ||
        query_uint(c, "from", 1, b.version,
                   to > 1 ? to - 1 : 1, &from) != 0) {
        kb_article_clear(&b);
        return;
    }
    kb_article_clear(&b);
    rc = store_kb_article_get(c->n->store, id, (uint32_t)from, &a, &err);
    if (rc == 0)
        rc = store_kb_article_get(c->n->store, id, (uint32_t)to, &b, &err);
    if (rc != 0) {
        kb_article_clear(&a);
        send_error(c, rc, "cannot read versions of %s: %s", id, err.msg);
        return;
    }
    d = kb_article_diff(&a, &b);
    arr = json_array();
    for (uint32_t bit = 1; arr != NULL && bit <= KB_F_STATUS; bit <<= 1) {
        if (!(d & bit))
            continue;
        if (json_array_append_new(
                arr, json_pack("{s:s,s:o,s:o}", "field", kb_field_name(bit),
                               "from", view_article_field(&a, bit), "to",
                               view_article_field(&b, bit))) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    kb_article_clear(&a);
    kb_article_clear(&b);
    send_json(c, 200,
              arr ? json_pack("{s:s,s:I,s:I,s:o}", "id", id, "from",
                              (json_int_t)from, "to", (json_int_t)to,
                              "changes", arr)
                  : NULL);
}

/* GET /v1/kb/categories: the category tree with article counts. */
static void handle_categories(struct ctx *c)
{
    struct kb_category_count *v = NULL;
    struct gd_err err = {0, ""};
    size_t n = 0;
    json_t *roots = json_array(), *index = json_object();
    int rc = store_kb_categories(c->n->store, &v, &n, &err);

    if (rc != 0 || roots == NULL || index == NULL) {
        json_decref(roots);
        json_decref(index);
        if (rc == 0)
            send_error(c, GD_ENOMEM, "out of memory");
        else
            send_error(c, rc, "%s", err.msg);
        return;
    }
    /* Every path adds its count to itself ("count") and to each level
     * above it ("total"); nodes are made on first sight, parents first
     * (paths come sorted, and a parent sorts before its children). */
    for (size_t i = 0; i < n && rc == 0; i++) {
        char path[KB_CATEGORY_MAX + 1];
        json_t *siblings = roots;
        size_t len = strlen(v[i].path);
        if (len > KB_CATEGORY_MAX)
            continue;
        memcpy(path, v[i].path, len + 1);
        for (size_t end = 0; end <= len && rc == 0; end++) {
            if (path[end] != '/' && path[end] != '\0')
                continue;
            char saved = path[end];
            path[end] = '\0';
            json_t *node = json_object_get(index, path);
            if (node == NULL) {
                const char *slash = strrchr(path, '/');
                node = json_pack("{s:s,s:s,s:I,s:I,s:[]}", "name",
                                 slash ? slash + 1 : path, "path", path,
                                 "count", (json_int_t)0, "total",
                                 (json_int_t)0, "children");
                if (node == NULL || json_object_set(index, path, node) != 0 ||
                    json_array_append_new(siblings, node) != 0)
                    rc = GD_ENOMEM;
            }
            if (rc == 0) {
                json_t *t = json_object_get(node, "total");
                json_integer_set(t, json_integer_value(t) +
                                        (json_int_t)v[i].count);
                if (saved == '\0') {
                    json_t *k = json_object_get(node, "count");
                    json_integer_set(k, (json_int_t)v[i].count);
                }
                siblings = json_object_get(node, "children");
            }
            path[end] = saved;
        }
    }
    store_kb_categories_free(v, n);
    json_decref(index);
    if (rc != 0) {
        json_decref(roots);
        send_error(c, GD_ENOMEM, "out of memory");
        return;
    }
    send_json(c, 200, json_pack("{s:o}", "items", roots));
}

/* ---- search ------------------------------------------------------------ */

/* Runs q against the index and answers with the search shape. */
static void run_search(struct ctx *c, const char *q, size_t qlen,
                       uint32_t exclude, int match_any)
{
    struct sr_engine *e = rnode_fsm(c->n->rn)->search;
    struct sr_query sq;
    struct sr_result r;
    struct gd_err err = {0, ""};
    const char *status = query_opt(c, "status");
    long limit, offset;
    json_t *arr;
    int rc;

    memset(&r, 0, sizeof r);
    if (query_uint(c, "limit", 1, SEARCH_LIMIT_MAX, SEARCH_LIMIT_DEFAULT,
                   &limit) != 0 ||
        query_uint(c, "offset", 0, 10000, 0, &offset) != 0)
        return;
    if (status != NULL && kb_status_parse(status) < 0) {
        send_bad_status(c, "status", status);
        return;
    }
    if (e == NULL) {
        send_error(c, GD_EUNAVAIL, "search is not available on this node");
        return;
    }
    memset(&sq, 0, sizeof sq);
    sq.q = q;
    sq.q_len = qlen;
    sq.category = query_opt(c, "category");
    sq.status = status;
    sq.region = query_opt(c, "region");
    sq.exclude_docno = exclude;
    sq.match_any = match_any;
    sq.limit = (size_t)limit;
    sq.offset = (size_t)offset;
    sq.snippets = 1;
    rc = sr_search(e, &sq, &r, &err);
    if (rc != 0) {
        sr_result_free(&r);
        send_error(c, rc, "%s", err.msg);
        return;
    }
    arr = json_array();
    for (size_t i = 0; arr != NULL && i < r.n; i++) {
        struct kb_article a;
        json_t *item;
        if (store_kb_article_get(c->n->store, r.hits[i].id, 0, &a, &err) !=
            0) {
            /* Indexed but unreadable: skip rather than fail the search. */
            kb_article_clear(&a);
            continue;
        }
        item = json_pack("{s:s,s:o,s:o,s:f,s:o,s:s,s:I}", "id", r.hits[i].id,
                         "title", view_str(a.title), "category",
                         view_str(a.category), "score", r.hits[i].score,
                         "snippet", view_str(r.hits[i].snippet), "status",
                         kb_status_name(a.status), "version",
                         (json_int_t)a.version);
        kb_article_clear(&a);
        if (json_array_append_new(arr, item) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    send_json(c, 200,
              arr ? json_pack("{s:o,s:I,s:o}", "items", arr, "total",
                              (json_int_t)r.total, "suggestion",
                              r.suggestion ? json_string(r.suggestion)
                                           : json_null())
                  : NULL);
    sr_result_free(&r);
}

static void handle_search(struct ctx *c)
{
    const char *q = http_request_query(c->req, "q");

    if (q == NULL || *q == '\0') {
        send_error(c, GD_EINVAL, "missing query: ?q=");
        return;
    }
    run_search(c, q, strlen(q), 0, 0);
}

/* Searches with the distinctive terms of text. */
static void search_like(struct ctx *c, const char *text, uint32_t exclude)
{
    struct sr_engine *e = rnode_fsm(c->n->rn)->search;
    struct gd_err err = {0, ""};
    char *q = NULL;
    int rc;

    if (e == NULL) {
        send_error(c, GD_EUNAVAIL, "search is not available on this node");
        return;
    }
    rc = sr_query_from_text(e, text, strlen(text), SIMILAR_TERMS, &q, &err);
    if (rc == GD_EINVAL) {
        /* Nothing indexable in the text: no suggestions, not an error. */
        send_json(c, 200,
                  json_pack("{s:[],s:i,s:n}", "items", "total", 0,
                            "suggestion"));
        return;
    }
    if (rc != 0) {
        send_error(c, rc, "%s", err.msg);
        return;
    }
    run_search(c, q, strlen(q), exclude, 1);
    free(q);
}

static void handle_similar(struct ctx *c, const char *id)
{
    struct kb_article a;
    struct gd_err err = {0, ""};
    struct strbuf t;
    int rc = store_kb_article_get(c->n->store, id, 0, &a, &err);

    if (rc != 0) {
        kb_article_clear(&a);
        send_error(c, rc == GD_EINVAL ? GD_ENOTFOUND : rc, "no article %s",
                   id);
        return;
    }
    /* What the article is about: title, keywords and the fault. */
    strbuf_init(&t);
    strbuf_printf(&t, "%s\n", a.title ? a.title : "");
    for (size_t i = 0; i < a.n_keywords; i++)
        strbuf_printf(&t, "%s ", a.keywords[i]);
    strbuf_printf(&t, "\n%s", a.text[KB_FAULT] ? a.text[KB_FAULT] : "");
    if (t.oom)
        send_error(c, GD_ENOMEM, "out of memory");
    else
        search_like(c, strbuf_cstr(&t), a.docno);
    strbuf_free(&t);
    kb_article_clear(&a);
}

void api_ticket_suggestions(struct ctx *c, const char *ticket_id)
{
    struct ticket t;
    struct gd_err err = {0, ""};
    char *text;
    size_t a, b;
    int rc;

    ticket_init(&t);
    rc = store_ticket_get(c->n->store, ticket_id, &t, &err);
    if (rc != 0) {
        ticket_clear(&t);
        send_error(c, rc == GD_EINVAL ? GD_ENOTFOUND : rc, "no ticket %s",
                   ticket_id);
        return;
    }
    a = t.summary ? strlen(t.summary) : 0;
    b = t.description ? strlen(t.description) : 0;
    text = malloc(a + b + 2);
    if (text == NULL) {
        ticket_clear(&t);
        send_error(c, GD_ENOMEM, "out of memory");
        return;
    }
    snprintf(text, a + b + 2, "%s\n%s", t.summary ? t.summary : "",
             t.description ? t.description : "");
    ticket_clear(&t);
    search_like(c, text, 0);
    free(text);
}

/* ---- import ------------------------------------------------------------ */

struct import_item {
    int code;
    char msg[GD_ERR_MSG_MAX];
    char id[KB_ID_MAX + 1];
    char outcome[16];
};

struct import_state {
    struct ctx *c;
    struct import_item *items;
    size_t n, pending;
    uint64_t max_index;
};

struct import_call {
    struct import_state *st;
    size_t i;
};

static void import_finish(struct import_state *st)
{
    struct ctx *c = st->c;
    size_t created = 0, updated = 0, unchanged = 0, imported = 0;
    json_t *rej = json_array(), *v;

    for (size_t i = 0; i < st->n; i++) {
        struct import_item *it = &st->items[i];
        if (it->code == 0) {
            imported++;
            created += strcmp(it->outcome, "created") == 0;
            updated += strcmp(it->outcome, "updated") == 0;
            unchanged += strcmp(it->outcome, "unchanged") == 0;
        } else if (rej != NULL &&
                   json_array_append_new(
                       rej, json_pack("{s:I,s:o,s:s,s:s}", "index",
                                      (json_int_t)i, "id", view_opt_str(it->id),
                                      "error", it->msg, "code",
                                      gd_code_name(it->code))) !=
                       0) {
            json_decref(rej);
            rej = NULL;
        }
    }
    v = rej ? json_pack("{s:I,s:I,s:I,s:I,s:o,s:I}", "imported",
                        (json_int_t)imported, "created", (json_int_t)created,
                        "updated", (json_int_t)updated, "unchanged",
                        (json_int_t)unchanged, "rejected", rej,
                        "applied_index",
                        (json_int_t)(st->max_index
                                         ? st->max_index
                                         : store_applied_index(c->n->store)))
            : NULL;
    free(st->items);
    free(st);
    send_json(c, 200, v);
}

static void import_applied_cb(void *data, int code, const char *msg,
                              const char *entity, uint64_t index)
{
    struct import_call *call = data;
    struct import_state *st = call->st;
    struct import_item *it = &st->items[call->i];

    free(call);
    it->code = code;
    if (code != 0) {
        snprintf(it->msg, sizeof it->msg, "%s",
                 msg && *msg ? msg : gd_code_name(code));
    } else {
        snprintf(it->outcome, sizeof it->outcome, "%s", msg ? msg : "");
        if (entity != NULL)
            snprintf(it->id, sizeof it->id, "%s", entity);
    }
    if (index > st->max_index)
        st->max_index = index;
    if (--st->pending == 0)
        import_finish(st);
}

static void handle_import(struct ctx *c)
{
    static const char *const keys[] = {"articles", "default_status", NULL};
    const char *def_s;
    json_t *o = body_object(c), *arts;
    struct import_state *st;
    int def = KB_DRAFT;
    size_t n;

    if (o == NULL)
        return;
    if (only_keys(c, o, keys) != 0 ||
        get_str(c, o, "default_status", 0, &def_s) != 0) {
        json_decref(o);
        return;
    }
    if (def_s != NULL && (def = kb_status_parse(def_s)) < 0) {
        send_bad_status(c, "default_status", def_s);
        json_decref(o);
        return;
    }
    arts = json_object_get(o, "articles");
    if (!json_is_array(arts)) {
        send_error(c, GD_EINVAL, "field \"articles\" must be an array");
        json_decref(o);
        return;
    }
    n = json_array_size(arts);
    if (n == 0 || n > IMPORT_MAX) {
        send_error(c, GD_EINVAL, "\"articles\" must hold 1..%d articles",
                   IMPORT_MAX);
        json_decref(o);
        return;
    }
    st = calloc(1, sizeof *st);
    if (st == NULL || (st->items = calloc(n, sizeof *st->items)) == NULL) {
        free(st);
        json_decref(o);
        send_error(c, GD_ENOMEM, "out of memory");
        return;
    }
    st->c = c;
    st->n = n;
    st->pending = 1; /* held until every item is proposed */
    for (size_t i = 0; i < n; i++) {
        json_t *a = json_array_get(arts, i);
        struct import_item *it = &st->items[i];
        struct gd_err err = {0, ""};
        struct command cmd;
        struct import_call *call;
        uint32_t mask;
        int rc;

        command_init(&cmd);
        cmd.type = CMD_KB;
        cmd.kb.op = KB_OP_IMPORT;
        if (!json_is_object(a)) {
            rc = gd_err_set(&err, GD_EINVAL, "not a JSON object");
        } else {
            /* The id names the article in a rejection, whatever is wrong
             * with the rest. */
            json_t *jid = json_object_get(a, "id");
            if (json_is_string(jid))
                snprintf(it->id, sizeof it->id, "%s", json_string_value(jid));
            rc = parse_article(a, PA_ID | PA_STATUS, NULL, &cmd.kb.art, &mask,
                               &err);
            /* default_status is for new articles; an existing one keeps
             * its status unless the row gives one (apply decides). */
            cmd.kb.mask = mask & KB_F_STATUS;
            if (rc == 0 && !(mask & KB_F_STATUS))
                cmd.kb.art.status = def;
        }
        call = rc == 0 ? malloc(sizeof *call) : NULL;
        if (rc == 0 && (call == NULL ||
                        gd_strdup(&cmd.kb.actor, c->user) != 0 ||
                        gd_strdup(&cmd.kb.note, "import") != 0)) {
            free(call);
            call = NULL;
            rc = gd_err_set(&err, GD_ENOMEM, "out of memory");
        }
        if (rc != 0) {
            command_clear(&cmd);
            it->code = rc;
            snprintf(it->msg, sizeof it->msg, "%s", err.msg);
            continue;
        }
        call->st = st;
        call->i = i;
        st->pending++;
        rc = rnode_propose(c->n->rn, &cmd, import_applied_cb, call);
        if (rc != 0) {
            /* Not proposed: the callback will not run. */
            free(call);
            st->pending--;
            it->code = rc;
            snprintf(it->msg, sizeof it->msg, "%s",
                     rc == GD_EUNAVAIL ? "not the leader any more; retry"
                                       : "cannot propose the write");
        }
    }
    json_decref(o);
    if (--st->pending == 0)
        import_finish(st);
}

/* ---- proposals ---------------------------------------------------------- */

static void handle_propose(struct ctx *c)
{
    static const char *const extra[] = {"ticket", "article", "reason", NULL};
    struct command cmd;
    struct gd_err err = {0, ""};
    uint32_t mask;
    json_t *o = body_object(c);

    if (o == NULL)
        return;
    command_init(&cmd);
    cmd.kb.op = KB_OP_PROPOSE;
    if (parse_article(o, 0, extra, &cmd.kb.art, &mask, &err) != 0 ||
        jstr(o, "ticket", &cmd.kb.ticket, &err) != 0 ||
        jstr(o, "article", &cmd.kb.target, &err) != 0 ||
        jstr(o, "reason", &cmd.kb.reason, &err) != 0) {
        json_decref(o);
        command_clear(&cmd);
        send_error(c, err.code, "%s", err.msg);
        return;
    }
    json_decref(o);
    if (cmd.kb.reason != NULL && strlen(cmd.kb.reason) > KB_NOTE_MAX) {
        command_clear(&cmd);
        send_error(c, GD_EINVAL, "reason: limit %d bytes", KB_NOTE_MAX);
        return;
    }
    c->created = 1;
    propose_kb(c, &cmd, proposal_applied_cb);
}

static void handle_review(struct ctx *c, const char *id)
{
    static const char *const keys[] = {"decision", "reason", "publish", NULL};
    struct command cmd;
    const char *decision, *reason;
    json_t *o = body_object(c), *pub;
    int approve;

    if (o == NULL)
        return;
    if (only_keys(c, o, keys) != 0 ||
        get_str(c, o, "decision", 1, &decision) != 0 ||
        get_str(c, o, "reason", 0, &reason) != 0) {
        json_decref(o);
        return;
    }
    if (strcmp(decision, "approve") == 0) {
        approve = 1;
    } else if (strcmp(decision, "reject") == 0) {
        approve = 0;
    } else {
        send_error(c, GD_EINVAL,
                   "decision \"%.40s\" is not approve or reject", decision);
        json_decref(o);
        return;
    }
    pub = json_object_get(o, "publish");
    if (pub != NULL && !json_is_boolean(pub) && !json_is_null(pub)) {
        send_error(c, GD_EINVAL, "field \"publish\" must be true or false");
        json_decref(o);
        return;
    }
    if (!approve && (reason == NULL || reason[0] == '\0')) {
        send_error(c, GD_EINVAL, "a rejection needs a \"reason\"");
        json_decref(o);
        return;
    }
    if (reason != NULL && strlen(reason) > KB_NOTE_MAX) {
        send_error(c, GD_EINVAL, "reason: limit %d bytes", KB_NOTE_MAX);
        json_decref(o);
        return;
    }
    command_init(&cmd);
    cmd.kb.op = KB_OP_REVIEW;
    cmd.kb.approve = approve;
    cmd.kb.publish = json_is_true(pub);
    if (gd_strdup(&cmd.kb.target, id) != 0 ||
        gd_strdup(&cmd.kb.reason, reason) != 0 ||
        gd_strdup(&cmd.kb.note, approve ? "proposal approved" : NULL) != 0) {
        json_decref(o);
        command_clear(&cmd);
        send_error(c, GD_ENOMEM, "out of memory");
        return;
    }
    json_decref(o);
    propose_kb(c, &cmd, proposal_applied_cb);
}

static void handle_proposal_list(struct ctx *c)
{
    const char *st = query_opt(c, "status");
    const char *after = query_opt(c, "after");
    struct kb_proposal *items = NULL;
    struct gd_err err = {0, ""};
    size_t n = 0;
    char *next = NULL;
    long limit;
    int status = -1, rc;
    json_t *arr;

    if (query_uint(c, "limit", 1, STORE_KB_LIST_MAX, 50, &limit) != 0)
        return;
    if (st != NULL && (status = kb_proposal_status_parse(st)) < 0) {
        send_error(c, GD_EINVAL,
                   "status \"%.40s\" is not one of pending, approved, "
                   "rejected",
                   st);
        return;
    }
    rc = store_kb_proposal_list(c->n->store, status, after, (size_t)limit,
                                &items, &n, &next, &err);
    if (rc != 0) {
        send_error(c, rc, "%s", err.msg);
        return;
    }
    arr = json_array();
    for (size_t i = 0; arr != NULL && i < n; i++)
        if (json_array_append_new(arr, view_proposal(&items[i])) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    store_kb_proposals_free(items, n);
    send_page(c, arr, next);
}

/* ---- routing ------------------------------------------------------------ */

const char *api_kb_route(char **seg, int k)
{
    /* seg[0] = "v1", seg[1] = "kb" */
    if (k < 3)
        return NULL;
    if (strcmp(seg[2], "articles") == 0) {
        if (k == 3)
            return R_KB_ARTICLES;
        if (k == 4)
            return R_KB_ARTICLE;
        if (k == 5)
            return R_KB_ARTICLE_SUB;
        return NULL;
    }
    if (strcmp(seg[2], "proposals") == 0) {
        if (k == 3)
            return R_KB_PROPOSALS;
        if (k == 4)
            return R_KB_PROPOSAL;
        if (k == 5 && strcmp(seg[4], "review") == 0)
            return R_KB_REVIEW;
        return NULL;
    }
    if (k == 3 && strcmp(seg[2], "import") == 0)
        return R_KB_IMPORT;
    if (k == 3 && strcmp(seg[2], "search") == 0)
        return R_KB_SEARCH;
    if (k == 3 && strcmp(seg[2], "categories") == 0)
        return R_KB_CATEGORIES;
    return NULL;
}

void api_kb_dispatch(struct ctx *c, char **seg, int k)
{
    const char *r = c->route;
    int m = c->req->method;
    const char *path = c->req->path;

    if (r == R_KB_ARTICLES) {
        if (m == HTTP_POST) handle_create(c);
        else if (m == HTTP_GET) handle_list(c);
        else send_error(c, GD_EINVAL, "use GET or POST %s", path);
    } else if (r == R_KB_ARTICLE) {
        if (m == HTTP_GET) handle_get(c, seg[3]);
        else if (m == HTTP_PATCH) handle_patch(c, seg[3]);
        else send_error(c, GD_EINVAL, "use GET or PATCH %s", path);
    } else if (r == R_KB_ARTICLE_SUB) {
        const char *sub = seg[4];
        if (strcmp(sub, "status") == 0 && m == HTTP_POST)
            handle_status(c, seg[3]);
        else if (strcmp(sub, "links") == 0 && m == HTTP_POST)
            handle_link(c, seg[3]);
        else if (strcmp(sub, "history") == 0 && m == HTTP_GET)
            handle_history(c, seg[3]);
        else if (strcmp(sub, "diff") == 0 && m == HTTP_GET)
            handle_diff(c, seg[3]);
        else if (strcmp(sub, "similar") == 0 && m == HTTP_GET)
            handle_similar(c, seg[3]);
        else
            send_error(c, GD_ENOTFOUND, "no such route: %s %s",
                       c->req->method_name, path);
    } else if (r == R_KB_IMPORT) {
        if (m == HTTP_POST) handle_import(c);
        else send_error(c, GD_EINVAL, "use POST %s", path);
    } else if (r == R_KB_CATEGORIES) {
        if (m == HTTP_GET) handle_categories(c);
        else send_error(c, GD_EINVAL, "use GET %s", path);
    } else if (r == R_KB_SEARCH) {
        if (m == HTTP_GET) handle_search(c);
        else send_error(c, GD_EINVAL, "use GET %s", path);
    } else if (r == R_KB_PROPOSALS) {
        if (m == HTTP_POST) handle_propose(c);
        else if (m == HTTP_GET) handle_proposal_list(c);
        else send_error(c, GD_EINVAL, "use GET or POST %s", path);
    } else if (r == R_KB_PROPOSAL) {
        if (m == HTTP_GET) send_proposal(c, seg[3], 200);
        else send_error(c, GD_EINVAL, "use GET %s", path);
    } else if (r == R_KB_REVIEW) {
        if (m == HTTP_POST) handle_review(c, seg[3]);
        else send_error(c, GD_EINVAL, "use POST %s", path);
    } else {
        send_error(c, GD_ENOTFOUND, "no such route: %s", path);
    }
}
