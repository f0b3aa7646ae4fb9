/* JSON views of tickets and events: see views.h. */
#include "node/views.h"

#include <stdlib.h>
#include <string.h>

#include "core/hlc.h"
#include "core/strbuf.h"
#include "core/util.h"
#include "node/jsonio.h"
#include "storage/tickets.h"

/* Where a view's fields go: into the json_t object o, or straight out
 * through the writer w (inside a map it opened).  Each view's fields are
 * written once, in vo_* calls, for both: the same keys in the same order.
 *
 * The strings here come from decoded records and commands, whose decoders
 * refuse invalid UTF-8, and the keys are ASCII literals: jansson's checks
 * would only repeat that work (about a third of building a view), so the
 * json_t side uses the nocheck setters.  The writer checks as jsonio_dump
 * does before writing. */
struct vout {
    json_t *o;
    struct jsonio_writer *w;
};

static void vo_str(struct vout *v, const char *key, const char *s)
{
    if (v->w != NULL) {
        jw_key(v->w, key);
        jw_string(v->w, s);
    } else {
        json_object_set_new_nocheck(
            v->o, key, s != NULL ? json_string_nocheck(s) : json_null());
    }
}

static void vo_int(struct vout *v, const char *key, long long n)
{
    if (v->w != NULL) {
        jw_key(v->w, key);
        jw_integer(v->w, n);
    } else {
        json_object_set_new_nocheck(v->o, key, json_integer(n));
    }
}

static void vo_time(struct vout *v, const char *key, uint64_t hlc)
{
    char buf[40];
    if (hlc == 0) {
        vo_str(v, key, NULL);
        return;
    }
    gd_time_format(hlc_ms(hlc), buf, sizeof buf);
    vo_str(v, key, buf);
}

static void event_fields(struct vout *v, const struct event *ev)
{
    char id[96];

    event_id_format(&ev->id, id, sizeof id);
    vo_str(v, "id", id);
    vo_str(v, "type", event_type_name(ev->type));
    vo_str(v, "actor", ev->actor);
    vo_time(v, "at", ev->id.hlc);
    vo_str(v, "channel", ev->channel);
    vo_str(v, "node", ev->node);
    switch (ev->type) {
    case EVENT_TICKET_CREATE:
        vo_str(v, "customer", ev->customer);
        vo_str(v, "class", ev->cls);
        vo_str(v, "summary", ev->summary);
        break;
    case EVENT_TICKET_ACCEPT:
        vo_str(v, "owner", ev->owner);
        break;
    case EVENT_TICKET_COMMENT:
        vo_str(v, "text", ev->text);
        break;
    case EVENT_TICKET_STATUS:
        vo_str(v, "status", ev->status);
        if (ev->text != NULL) {
            vo_str(v, "note", ev->text);
        }
        break;
    case EVENT_TICKET_REOPEN:
        vo_str(v, "reason", ev->text);
        break;
    default:
        break;
    }
}

static void ticket_fields_out(struct vout *v, const struct ticket *t)
{
    vo_str(v, "id", t->id);
    vo_str(v, "customer", t->customer);
    vo_str(v, "class", t->cls);
    vo_str(v, "channel", t->channel);
    vo_str(v, "summary", t->summary);
    vo_str(v, "description", t->description);
    vo_str(v, "status", ticket_status_name(t->status));
    vo_str(v, "owner", t->owner);
    vo_str(v, "created_by", t->created_by);
    vo_str(v, "node", t->node);
    vo_time(v, "created_at", t->created_hlc);
    vo_time(v, "updated_at", t->updated_hlc);
    vo_int(v, "reopen_count", t->n_reopens);
    vo_int(v, "conflicts", t->n_conflicts);
}

json_t *view_event(const struct event *ev)
{
    struct vout v = {json_object(), NULL};

    if (v.o != NULL) {
        event_fields(&v, ev);
    }
    return v.o;
}

static json_t *ticket_fields(const struct ticket *t)
{
    struct vout v = {json_object(), NULL};

    if (v.o != NULL) {
        ticket_fields_out(&v, t);
    }
    return v.o;
}

/* o plus "events": the views of evs; o is released on failure. */
static json_t *add_events(json_t *o, const struct event *evs,
                           const struct event *const *pevs, size_t n)
{
    json_t *arr = json_array();

    if (o == NULL || arr == NULL) {
        json_decref(arr);
        json_decref(o);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *e = view_event(pevs != NULL ? pevs[i] : &evs[i]);
        if (e == NULL || json_array_append_new(arr, e) != 0) {
            json_decref(arr);
            json_decref(o);
            return NULL;
        }
    }
    json_object_set_new_nocheck(o, "events", arr);
    return o;
}

json_t *view_ticket(struct store *s, const struct ticket *t, int with_events)
{
    json_t *o = ticket_fields(t);
    struct event *evs = NULL;
    size_t n = 0;
    struct gd_err err;

    if (o == NULL || !with_events) {
        return o;
    }
    if (store_ticket_events(s, t->id, &evs, &n, &err) != 0) {
        json_decref(o);
        return NULL;
    }
    o = add_events(o, evs, NULL, n);
    store_events_free(evs, n);
    return o;
}

json_t *view_ticket_events(const struct ticket *t,
                           const struct event *const *evs, size_t n)
{
    return add_events(ticket_fields(t), NULL, evs, n);
}

int view_dump(const json_t *v, struct strbuf *out)
{
    return jsonio_dump(v, out);
}

int view_ticket_events_write(const struct ticket *t,
                             const struct event *const *evs, size_t n,
                             long long applied_index, struct strbuf *out)
{
    struct vout v = {NULL, jsonio_writer_new(out)};

    jw_map_open(v.w);
    ticket_fields_out(&v, t);
    jw_key(v.w, "events");
    jw_array_open(v.w);
    for (size_t i = 0; i < n; i++) {
        jw_map_open(v.w);
        event_fields(&v, evs[i]);
        jw_map_close(v.w);
    }
    jw_array_close(v.w);
    if (applied_index >= 0) {
        vo_int(&v, "applied_index", applied_index);
    }
    jw_map_close(v.w);
    return jsonio_writer_end(v.w);
}
