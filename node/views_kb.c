/* JSON views of knowledge-base records (jansson): articles, proposals,
 * and the small helpers they share with the KB routes.  Every function
 * returns a new reference, or NULL on OOM. */
#include <stdio.h>
#include <string.h>

#include "core/hlc.h"
#include "core/util.h"
#include "node/views.h"

json_t *view_time(uint64_t hlc)
{
    char buf[40];

    if (hlc == 0)
        return json_null();
    gd_time_format(hlc_ms(hlc), buf, sizeof buf);
    return json_string(buf);
}

json_t *view_str(const char *s)
{
    return json_string(s ? s : "");
}

json_t *view_opt_str(const char *s)
{
    return s && *s ? json_string(s) : json_null();
}

json_t *view_strv(char *const *v, size_t n)
{
    json_t *a = json_array();

    for (size_t i = 0; a != NULL && i < n; i++)
        if (json_array_append_new(a, view_str(v[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

json_t *view_kb_changed(uint32_t changed)
{
    json_t *a = json_array();

    for (uint32_t b = 1; a != NULL && b <= KB_F_STATUS; b <<= 1)
        if ((changed & b) &&
            json_array_append_new(a, json_string(kb_field_name(b))) != 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

json_t *view_article(const struct kb_article *a, int with_tickets)
{
    json_t *src = json_array(), *v;

    for (size_t i = 0; src != NULL && i < a->n_sources; i++)
        if (json_array_append_new(
                src, json_pack("{s:s,s:o}", "type",
                               kb_source_name(a->sources[i].type), "title",
                               view_str(a->sources[i].title))) != 0) {
            json_decref(src);
            src = NULL;
        }
    if (src == NULL)
        return NULL;
    v = json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:s,s:I,s:o,s:o,"
                  "s:o,s:o,s:I}",
                  "id", view_str(a->id), "title", view_str(a->title), "category",
                  view_str(a->category), "fault", view_str(a->text[KB_FAULT]),
                  "cause", view_str(a->text[KB_CAUSE]), "solution",
                  view_str(a->text[KB_SOLUTION]), "script",
                  view_str(a->text[KB_SCRIPT]), "keywords",
                  view_strv(a->keywords, a->n_keywords), "sources", src,
                  "region", view_str(a->region), "status",
                  kb_status_name(a->status), "version",
                  (json_int_t)a->version, "created_at", view_time(a->created_hlc),
                  "created_by", view_str(a->created_by), "updated_at",
                  view_time(a->updated_hlc), "updated_by", view_str(a->updated_by),
                  "uses", (json_int_t)a->uses);
    if (v != NULL && with_tickets &&
        json_object_set_new(v, "tickets",
                            view_strv(a->tickets, a->n_tickets)) != 0) {
        json_decref(v);
        return NULL;
    }
    return v;
}

json_t *view_proposal(const struct kb_proposal *p)
{
    json_t *v = view_article(&p->content, 0);

    if (v == NULL)
        return NULL;
    /* The content is the proposal's, not an article's: drop article-only
     * fields, then add the proposal's own. */
    json_object_del(v, "version");
    json_object_del(v, "created_at");
    json_object_del(v, "created_by");
    json_object_del(v, "updated_at");
    json_object_del(v, "updated_by");
    json_object_del(v, "uses");
    json_object_del(v, "status");
    if (json_object_set_new(v, "id", view_str(p->id)) ||
        json_object_set_new(v, "status",
                            json_string(kb_proposal_status_name(p->status))) ||
        json_object_set_new(v, "ticket", view_opt_str(p->ticket)) ||
        json_object_set_new(v, "article", view_opt_str(p->article)) ||
        json_object_set_new(v, "reason", view_opt_str(p->reason)) ||
        json_object_set_new(v, "proposed_by", view_str(p->proposed_by)) ||
        json_object_set_new(v, "proposed_at", view_time(p->proposed_hlc)) ||
        json_object_set_new(v, "reviewed_by", view_opt_str(p->reviewed_by)) ||
        json_object_set_new(v, "reviewed_at", view_time(p->reviewed_hlc)) ||
        json_object_set_new(v, "decision_reason", view_opt_str(p->decision_reason)) ||
        json_object_set_new(v, "result_article", view_opt_str(p->result_article)) ||
        json_object_set_new(v, "result_version",
                            p->result_version
                                ? json_integer((json_int_t)p->result_version)
                                : json_null())) {
        json_decref(v);
        return NULL;
    }
    return v;
}

/* The value of one field bit of a, as JSON. */
json_t *view_article_field(const struct kb_article *a, uint32_t bit)
{
    json_t *all = view_article(a, 0), *v;
    const char *name = kb_field_name(bit);

    if (all == NULL || name == NULL) {
        json_decref(all);
        return NULL;
    }
    v = json_object_get(all, name);
    json_incref(v);
    json_decref(all);
    return v;
}

