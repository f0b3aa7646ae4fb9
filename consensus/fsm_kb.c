/* FSM apply of knowledge-base ops (CMD_KB): article create/edit/import,
 * status moves, ticket links, proposals and reviews.  Rules come from
 * core/kb; records go to storage/kb; the search index (search/) is updated
 * once per touched article at the end of the entry, in the same batch.
 *
 * Every op validates completely before it writes, so a refused op leaves
 * nothing in the batch or the overlays. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/fsm_int.h"
#include "core/hlc.h"
#include "core/util.h"
#include "search/search.h"
#include "storage/kb.h"
#include "storage/tickets.h"

static int refuse(struct fsm_result *res, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int refuse(struct fsm_result *res, int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(res->msg, sizeof res->msg, fmt, ap);
    va_end(ap);
    res->code = code;
    return code;
}

static int grow(void **arr, size_t *cap, size_t n, size_t sz)
{
    if (n < *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 8;
    void *p = realloc(*arr, c * sz);
    if (p == NULL)
        return GD_ENOMEM;
    *arr = p;
    *cap = c;
    return 0;
}

/* The overlay slot of article id, loading it on first use.  NULL with *rc
 * GD_ENOTFOUND when there is no such article, or another error. */
static struct overlay_article *article_get(struct apply_ctx *c,
                                           const char *id, int *rc)
{
    struct gd_err err;
    struct overlay_article *o;

    for (size_t i = 0; i < c->n_articles; i++)
        if (strcmp(c->articles[i].cur.id, id) == 0)
            return &c->articles[i];
    if (!kb_id_valid(id)) {
        *rc = GD_ENOTFOUND;
        return NULL;
    }
    if ((*rc = grow((void **)&c->articles, &c->cap_articles, c->n_articles,
                    sizeof *c->articles)) != 0)
        return NULL;
    o = &c->articles[c->n_articles];
    *rc = store_kb_article_get(c->f->store, id, 0, &o->cur, &err);
    if (*rc != 0)
        return NULL;
    o->reindex = 0;
    c->n_articles++;
    return o;
}

static int article_exists(struct apply_ctx *c, const char *id, int *exists)
{
    int rc;

    *exists = article_get(c, id, &rc) != NULL;
    return *exists || rc == GD_ENOTFOUND ? 0 : rc;
}

/* Articles per category path, for the category tree (KB_CAT_COUNTER + path
 * in the counters CF). */
static int cat_count(struct apply_ctx *c, const char *cat, int64_t delta)
{
    char name[sizeof KB_CAT_COUNTER + KB_CATEGORY_MAX + 1];

    snprintf(name, sizeof name, "%s%s", KB_CAT_COUNTER, cat ? cat : "");
    return fsm_counter_add(c, name, delta, NULL);
}

/* Writes the overlay article as current and as its version. */
static int article_write(struct apply_ctx *c, struct overlay_article *o,
                         int with_version)
{
    o->reindex = 1;
    return store_kb_article_put(c->batch, &o->cur, with_version);
}

/* A new id "<prefix>-yyyymmdd-seq" not yet taken. */
static int new_id(struct apply_ctx *c, const char *prefix, uint64_t hlc,
                  int proposal, char *out, size_t cap)
{
    char counter[96], date[16];
    uint64_t seq;
    int rc;

    gd_date_yyyymmdd(hlc_ms(hlc), date, sizeof date);
    snprintf(counter, sizeof counter, "%s/%s", prefix, date);
    for (int tries = 0; tries < 1000; tries++) {
        int taken = 0;
        if ((rc = fsm_counter_next(c, counter, &seq)) != 0)
            return rc;
        kb_id_format(out, cap, prefix, hlc, (uint32_t)seq);
        if (proposal) {
            struct kb_proposal p;
            struct gd_err err;
            for (size_t i = 0; i < c->n_proposals; i++)
                taken = taken || strcmp(c->proposals[i].id, out) == 0;
            if (!taken) {
                rc = store_kb_proposal_get(c->f->store, out, &p, &err);
                kb_proposal_clear(&p);
                if (rc != 0 && rc != GD_ENOTFOUND)
                    return rc;
                taken = rc == 0;
            }
        } else if ((rc = article_exists(c, out, &taken)) != 0) {
            return rc;
        }
        if (!taken)
            return 0;
    }
    return GD_ECONFLICT;
}

/* Creates art (content already checked) under id, or a generated id. */
static int create(struct apply_ctx *c, const struct kb_op *op,
                  const struct kb_article *art, struct fsm_result *res)
{
    char id[KB_ID_MAX + 1];
    uint64_t docno;
    struct overlay_article *o;
    int rc, exists;

    if (art->id != NULL && art->id[0] != '\0') {
        if (!kb_id_valid(art->id))
            return refuse(res, GD_EINVAL,
                          "id \"%s\": use 1-%d of A-Z a-z 0-9 . _ -", art->id,
                          KB_ID_MAX);
        if ((rc = article_exists(c, art->id, &exists)) != 0)
            return rc;
        if (exists)
            return refuse(res, GD_ECONFLICT, "article %s exists", art->id);
        snprintf(id, sizeof id, "%s", art->id);
    } else if ((rc = new_id(c, "KB", op->hlc, 0, id, sizeof id)) != 0) {
        return rc == GD_ECONFLICT
                   ? refuse(res, rc, "no free article id today")
                   : rc;
    }
    if ((rc = fsm_counter_next(c, "kb/docno", &docno)) != 0)
        return rc;
    if (docno > UINT32_MAX)
        return refuse(res, GD_ECONFLICT, "knowledge base is full");
    if ((rc = grow((void **)&c->articles, &c->cap_articles, c->n_articles,
                   sizeof *c->articles)) != 0)
        return rc;
    o = &c->articles[c->n_articles];
    kb_article_init(&o->cur);
    if ((rc = kb_article_assign(&o->cur, art, KB_F__ALL)) != 0 ||
        (rc = gd_strdup(&o->cur.id, id)) != 0 ||
        (rc = gd_strdup(&o->cur.created_by, op->actor)) != 0 ||
        (rc = gd_strdup(&o->cur.updated_by, op->actor)) != 0 ||
        (rc = gd_strdup(&o->cur.note, op->note)) != 0) {
        kb_article_clear(&o->cur);
        return rc;
    }
    o->cur.version = 1;
    o->cur.docno = (uint32_t)docno;
    o->cur.created_hlc = o->cur.updated_hlc = op->hlc;
    {
        /* The fields the first version set. */
        struct kb_article empty;
        kb_article_init(&empty);
        empty.status = -1;
        o->cur.changed = kb_article_diff(&empty, &o->cur);
    }
    c->n_articles++;
    snprintf(res->entity, sizeof res->entity, "%s", id);
    snprintf(res->msg, sizeof res->msg, "created");
    if ((rc = cat_count(c, o->cur.category, 1)) != 0)
        return rc;
    return article_write(c, o, 1);
}

/* Makes next the new version of o (next's content checked by the caller). */
static int new_version(struct apply_ctx *c, const struct kb_op *op,
                       struct overlay_article *o, struct kb_article *next,
                       uint32_t changed)
{
    int rc;

    if ((rc = gd_strdup(&next->updated_by, op->actor)) != 0 ||
        (rc = gd_strdup(&next->note, op->note)) != 0)
        return rc;
    if (changed & KB_F_CATEGORY) {
        if ((rc = cat_count(c, o->cur.category, -1)) != 0 ||
            (rc = cat_count(c, next->category, 1)) != 0)
            return rc;
    }
    next->version = o->cur.version + 1;
    next->updated_hlc = op->hlc;
    next->changed = changed;
    kb_article_clear(&o->cur);
    o->cur = *next;
    kb_article_init(next);
    return article_write(c, o, 1);
}

/* Sets the fields of mask from src on article o: a new version, or nothing
 * when nothing differs ("unchanged"). */
static int edit(struct apply_ctx *c, const struct kb_op *op,
                struct overlay_article *o, const struct kb_article *src,
                uint32_t mask, struct fsm_result *res)
{
    struct kb_article next;
    struct gd_err err = {0, ""};
    uint32_t d;
    int rc;

    kb_article_init(&next);
    if ((rc = kb_article_copy(&next, &o->cur)) != 0 ||
        (rc = kb_article_assign(&next, src, mask)) != 0) {
        kb_article_clear(&next);
        return rc;
    }
    if ((rc = kb_article_check(&next, &err)) != 0) {
        kb_article_clear(&next);
        return refuse(res, rc, "%s", err.msg);
    }
    snprintf(res->entity, sizeof res->entity, "%s", o->cur.id);
    d = kb_article_diff(&o->cur, &next);
    if (d == 0) {
        kb_article_clear(&next);
        snprintf(res->msg, sizeof res->msg, "unchanged");
        return 0;
    }
    rc = new_version(c, op, o, &next, d);
    kb_article_clear(&next);
    if (rc == 0)
        snprintf(res->msg, sizeof res->msg, "updated");
    return rc;
}

static int content_check(const struct kb_article *a, struct fsm_result *res)
{
    struct gd_err err = {0, ""};
    int rc = kb_article_check(a, &err);

    return rc != 0 ? refuse(res, rc, "%s", err.msg) : 0;
}

static int ticket_exists(struct apply_ctx *c, const char *id, int *exists)
{
    struct ticket t;
    struct gd_err err;
    int rc;

    for (size_t i = 0; i < c->n_tickets; i++) {
        if (strcmp(c->tickets[i].cur.id, id) == 0) {
            *exists = 1;
            return 0;
        }
    }
    rc = store_ticket_get(c->f->store, id, &t, &err);
    ticket_clear(&t);
    *exists = rc == 0;
    return rc == 0 || rc == GD_ENOTFOUND || rc == GD_EINVAL ? 0 : rc;
}

/* Links ticket to article o once: uses + 1, ticket kept on the article. */
static int link(struct apply_ctx *c, struct overlay_article *o,
                const char *ticket)
{
    char **v;
    int rc;

    for (size_t i = 0; i < c->n_links; i++)
        if (strcmp(c->links[i].id, o->cur.id) == 0 &&
            strcmp(c->links[i].ticket, ticket) == 0)
            return 0;
    rc = store_kb_link_exists(c->f->store, o->cur.id, ticket);
    if (rc < 0)
        return rc;
    if (rc == 1)
        return 0;
    if ((rc = grow((void **)&c->links, &c->cap_links, c->n_links,
                   sizeof *c->links)) != 0)
        return rc;
    c->links[c->n_links].id = NULL;
    c->links[c->n_links].ticket = NULL;
    if (gd_strdup(&c->links[c->n_links].id, o->cur.id) != 0 ||
        gd_strdup(&c->links[c->n_links].ticket, ticket) != 0) {
        free(c->links[c->n_links].id);
        return GD_ENOMEM;
    }
    c->n_links++;
    if (o->cur.n_tickets == KB_TICKETS_KEPT) {
        free(o->cur.tickets[0]);
        memmove(o->cur.tickets, o->cur.tickets + 1,
                (KB_TICKETS_KEPT - 1) * sizeof *o->cur.tickets);
        o->cur.n_tickets--;
    } else {
        v = realloc(o->cur.tickets,
                    (o->cur.n_tickets + 1) * sizeof *o->cur.tickets);
        if (v == NULL)
            return GD_ENOMEM;
        o->cur.tickets = v;
    }
    o->cur.tickets[o->cur.n_tickets] = NULL;
    if (gd_strdup(&o->cur.tickets[o->cur.n_tickets], ticket) != 0)
        return GD_ENOMEM;
    o->cur.n_tickets++;
    o->cur.uses++;
    if ((rc = store_kb_link_put(c->batch, o->cur.id, ticket)) != 0)
        return rc;
    return article_write(c, o, 0);
}

static struct kb_proposal *proposal_get(struct apply_ctx *c, const char *id,
                                        int *rc)
{
    struct gd_err err;
    struct kb_proposal *p;

    for (size_t i = 0; i < c->n_proposals; i++)
        if (strcmp(c->proposals[i].id, id) == 0)
            return &c->proposals[i];
    if (!kb_id_valid(id)) {
        *rc = GD_ENOTFOUND;
        return NULL;
    }
    if ((*rc = grow((void **)&c->proposals, &c->cap_proposals,
                    c->n_proposals, sizeof *c->proposals)) != 0)
        return NULL;
    p = &c->proposals[c->n_proposals];
    if ((*rc = store_kb_proposal_get(c->f->store, id, p, &err)) != 0)
        return NULL;
    c->n_proposals++;
    return p;
}

static int propose(struct apply_ctx *c, const struct kb_op *op,
                   struct fsm_result *res)
{
    char id[KB_ID_MAX + 1];
    struct kb_proposal *p;
    int rc, exists;

    if ((rc = content_check(&op->art, res)) != 0)
        return rc;
    if (op->target != NULL && op->target[0] != '\0') {
        if ((rc = article_exists(c, op->target, &exists)) != 0)
            return rc;
        if (!exists)
            return refuse(res, GD_ENOTFOUND, "no article %s", op->target);
    }
    if (op->ticket != NULL && op->ticket[0] != '\0') {
        if ((rc = ticket_exists(c, op->ticket, &exists)) != 0)
            return rc;
        if (!exists)
            return refuse(res, GD_ENOTFOUND, "no ticket %s", op->ticket);
    }
    if ((rc = new_id(c, "KP", op->hlc, 1, id, sizeof id)) != 0)
        return rc == GD_ECONFLICT ? refuse(res, rc, "no free proposal id")
                                  : rc;
    if ((rc = grow((void **)&c->proposals, &c->cap_proposals, c->n_proposals,
                   sizeof *c->proposals)) != 0)
        return rc;
    p = &c->proposals[c->n_proposals];
    kb_proposal_init(p);
    if ((rc = gd_strdup(&p->id, id)) != 0 ||
        (rc = gd_strdup(&p->ticket, op->ticket)) != 0 ||
        (rc = gd_strdup(&p->article, op->target)) != 0 ||
        (rc = kb_article_assign(&p->content, &op->art, KB_F__ALL)) != 0 ||
        (rc = gd_strdup(&p->reason, op->reason)) != 0 ||
        (rc = gd_strdup(&p->proposed_by, op->actor)) != 0) {
        kb_proposal_clear(p);
        return rc;
    }
    p->status = KB_P_PENDING;
    p->content.status = KB_DRAFT;
    p->proposed_hlc = op->hlc;
    c->n_proposals++;
    snprintf(res->entity, sizeof res->entity, "%s", id);
    return store_kb_proposal_put(c->batch, p);
}

static int review(struct apply_ctx *c, const struct kb_op *op,
                  struct fsm_result *res)
{
    struct kb_proposal *p;
    struct overlay_article *o = NULL;
    struct kb_article content;
    int rc, exists = 0;
    const char *pid = op->target ? op->target : "";

    if ((p = proposal_get(c, pid, &rc)) == NULL)
        return rc == GD_ENOTFOUND ? refuse(res, rc, "no proposal %s", pid)
                                  : rc;
    if (p->status != KB_P_PENDING)
        return refuse(res, GD_ECONFLICT, "proposal %s is already %s", p->id,
                      kb_proposal_status_name(p->status));
    snprintf(res->entity, sizeof res->entity, "%s", p->id);
    if (!op->approve) {
        if (op->reason == NULL || op->reason[0] == '\0')
            return refuse(res, GD_EINVAL, "a rejection needs a reason");
        if ((rc = gd_strdup(&p->decision_reason, op->reason)) != 0 ||
            (rc = gd_strdup(&p->reviewed_by, op->actor)) != 0)
            return rc;
        p->status = KB_P_REJECTED;
        p->reviewed_hlc = op->hlc;
        return store_kb_proposal_put(c->batch, p);
    }
    /* Validate everything before the first write. */
    if ((rc = content_check(&p->content, res)) != 0)
        return rc;
    if (p->article != NULL && p->article[0] != '\0') {
        if ((o = article_get(c, p->article, &rc)) == NULL)
            return rc == GD_ENOTFOUND
                       ? refuse(res, rc, "article %s is gone", p->article)
                       : rc;
    }
    if (p->ticket != NULL && p->ticket[0] != '\0' &&
        (rc = ticket_exists(c, p->ticket, &exists)) != 0)
        return rc;

    kb_article_init(&content);
    if ((rc = kb_article_assign(&content, &p->content, KB_F__ALL)) != 0) {
        kb_article_clear(&content);
        return rc;
    }
    if (o != NULL) {
        uint32_t mask = KB_F__ALL & ~(uint32_t)KB_F_STATUS;
        if (op->publish) {
            content.status = KB_PUBLISHED;
            mask |= KB_F_STATUS;
        }
        rc = edit(c, op, o, &content, mask, res);
    } else {
        content.status = op->publish ? KB_PUBLISHED : KB_DRAFT;
        rc = create(c, op, &content, res);
        if (rc == 0)
            o = &c->articles[c->n_articles - 1];
    }
    kb_article_clear(&content);
    if (rc != 0)
        return rc;
    if (exists && (rc = link(c, o, p->ticket)) != 0)
        return rc;
    if ((rc = gd_strdup(&p->result_article, o->cur.id)) != 0 ||
        (rc = gd_strdup(&p->reviewed_by, op->actor)) != 0 ||
        (rc = gd_strdup(&p->decision_reason, op->reason)) != 0)
        return rc;
    p->status = KB_P_APPROVED;
    p->result_version = o->cur.version;
    p->reviewed_hlc = op->hlc;
    snprintf(res->entity, sizeof res->entity, "%s", p->id);
    return store_kb_proposal_put(c->batch, p);
}

int fsm_apply_kb(struct apply_ctx *c, struct kb_op *op,
                 struct fsm_result *res)
{
    struct overlay_article *o;
    const char *id = op->art.id ? op->art.id : "";
    int rc, exists;

    switch (op->op) {
    case KB_OP_CREATE:
        if ((rc = content_check(&op->art, res)) != 0)
            return rc;
        return create(c, op, &op->art, res);
    case KB_OP_IMPORT:
        if ((rc = content_check(&op->art, res)) != 0)
            return rc;
        if (id[0] != '\0') {
            if (!kb_id_valid(id))
                return refuse(res, GD_EINVAL,
                              "id \"%s\": use 1-%d of A-Z a-z 0-9 . _ -", id,
                              KB_ID_MAX);
            if ((rc = article_exists(c, id, &exists)) != 0)
                return rc;
            /* The row replaces the content; the status only when the row
             * gave one. */
            if (exists)
                return edit(c, op, article_get(c, id, &rc), &op->art,
                            (KB_F__ALL & ~(uint32_t)KB_F_STATUS) |
                                (op->mask & KB_F_STATUS),
                            res);
        }
        return create(c, op, &op->art, res);
    case KB_OP_UPDATE:
        if ((o = article_get(c, id, &rc)) == NULL)
            return rc == GD_ENOTFOUND ? refuse(res, rc, "no article %s", id)
                                      : rc;
        if (op->expect_version != 0 && op->expect_version != o->cur.version)
            return refuse(res, GD_ECONFLICT,
                          "article %s is at version %u, not %u", id,
                          (unsigned)o->cur.version,
                          (unsigned)op->expect_version);
        return edit(c, op, o, &op->art, op->mask & ~(uint32_t)KB_F_STATUS,
                    res);
    case KB_OP_STATUS:
        if ((o = article_get(c, id, &rc)) == NULL)
            return rc == GD_ENOTFOUND ? refuse(res, rc, "no article %s", id)
                                      : rc;
        snprintf(res->entity, sizeof res->entity, "%s", id);
        if (o->cur.status == op->status) {
            snprintf(res->msg, sizeof res->msg, "unchanged");
            return 0;
        }
        if (!kb_status_move_ok(o->cur.status, op->status))
            return refuse(res, GD_ECONFLICT, "article %s: %s cannot become %s",
                          id, kb_status_name(o->cur.status),
                          kb_status_name(op->status));
        {
            struct kb_article src;
            kb_article_init(&src);
            src.status = op->status;
            return edit(c, op, o, &src, KB_F_STATUS, res);
        }
    case KB_OP_LINK:
        if ((o = article_get(c, id, &rc)) == NULL)
            return rc == GD_ENOTFOUND ? refuse(res, rc, "no article %s", id)
                                      : rc;
        if (op->ticket == NULL || op->ticket[0] == '\0')
            return refuse(res, GD_EINVAL, "a link needs a ticket");
        if ((rc = ticket_exists(c, op->ticket, &exists)) != 0)
            return rc;
        if (!exists)
            return refuse(res, GD_ENOTFOUND, "no ticket %s", op->ticket);
        snprintf(res->entity, sizeof res->entity, "%s", id);
        return link(c, o, op->ticket);
    case KB_OP_PROPOSE:
        return propose(c, op, res);
    case KB_OP_REVIEW:
        return review(c, op, res);
    default:
        return refuse(res, GD_EINVAL, "unknown kb op %d", op->op);
    }
}

/* The search document of an article (strings point into a, keywords joined
 * into *kw which the caller frees). */
static int article_doc(const struct kb_article *a, struct sr_doc *d,
                       char **kw)
{
    size_t n = 0, off = 0;

    for (size_t i = 0; i < a->n_keywords; i++)
        n += strlen(a->keywords[i]) + 1;
    *kw = malloc(n + 1);
    if (*kw == NULL)
        return GD_ENOMEM;
    for (size_t i = 0; i < a->n_keywords; i++) {
        size_t k = strlen(a->keywords[i]);
        memcpy(*kw + off, a->keywords[i], k);
        off += k;
        (*kw)[off++] = '\n';
    }
    (*kw)[off] = '\0';
    memset(d, 0, sizeof *d);
    d->id = a->id;
    d->id_len = strlen(a->id);
    d->text[SR_F_TITLE] = a->title;
    d->text[SR_F_KEYWORDS] = *kw;
    d->len[SR_F_KEYWORDS] = off;
    d->text[SR_F_FAULT] = a->text[KB_FAULT];
    d->text[SR_F_CAUSE] = a->text[KB_CAUSE];
    d->text[SR_F_SOLUTION] = a->text[KB_SOLUTION];
    d->text[SR_F_SCRIPT] = a->text[KB_SCRIPT];
    for (int f = 0; f < SR_F__COUNT; f++)
        if (f != SR_F_KEYWORDS)
            d->len[f] = d->text[f] ? strlen(d->text[f]) : 0;
    d->category = a->category ? a->category : "";
    d->category_len = strlen(d->category);
    d->status = kb_status_name(a->status);
    d->status_len = strlen(d->status);
    d->region = a->region ? a->region : "";
    d->region_len = strlen(d->region);
    d->uses = a->uses;
    return 0;
}

int fsm_kb_flush(struct apply_ctx *c)
{
    struct gd_err err = {0, ""};

    if (c->f->search == NULL)
        return 0;
    for (size_t i = 0; i < c->n_articles; i++) {
        struct overlay_article *o = &c->articles[i];
        struct sr_doc d;
        char *kw = NULL;
        int rc;

        if (!o->reindex)
            continue;
        if ((rc = article_doc(&o->cur, &d, &kw)) != 0)
            return rc;
        rc = sr_index_put(c->f->search, o->cur.docno, &d, &err);
        free(kw);
        if (rc != 0)
            return rc == GD_EINVAL ? GD_EIO : rc;
    }
    return 0;
}

void fsm_kb_free(struct apply_ctx *c)
{
    for (size_t i = 0; i < c->n_articles; i++)
        kb_article_clear(&c->articles[i].cur);
    free(c->articles);
    for (size_t i = 0; i < c->n_proposals; i++)
        kb_proposal_clear(&c->proposals[i]);
    free(c->proposals);
    for (size_t i = 0; i < c->n_links; i++) {
        free(c->links[i].id);
        free(c->links[i].ticket);
    }
    free(c->links);
}
