/* JSON views of tickets and events: see views.h. */
#include "node/views.h"

#include <stdlib.h>
#include <string.h>

#include "core/hlc.h"
#include "core/strbuf.h"
#include "core/util.h"
#include "node/jsonio.h"
#include "storage/tickets.h"

/* The strings here come from decoded records and commands, whose decoders
 * refuse invalid UTF-8, and the keys are ASCII literals: jansson's checks
 * would only repeat that work (about a third of building a view). */
static json_t *str_or_null(const char *s)
{
    return s != NULL ? json_string_nocheck(s) : json_null();
}

static void put(json_t *o, const char *key, json_t *v)
{
    json_object_set_new_nocheck(o, key, v);
}

static void set_time(json_t *o, const char *key, uint64_t hlc)
{
    char buf[40];
    if (hlc == 0) {
        put(o, key, json_null());
        return;
    }
    gd_time_format(hlc_ms(hlc), buf, sizeof buf);
    put(o, key, json_string_nocheck(buf));
}

json_t *view_event(const struct event *ev)
{
    char id[96];
    json_t *o = json_object();

    if (o == NULL) {
        return NULL;
    }
    event_id_format(&ev->id, id, sizeof id);
    put(o, "id", json_string_nocheck(id));
    put(o, "type", json_string_nocheck(event_type_name(ev->type)));
    put(o, "actor", str_or_null(ev->actor));
    set_time(o, "at", ev->id.hlc);
    put(o, "channel", str_or_null(ev->channel));
    put(o, "node", str_or_null(ev->node));
    switch (ev->type) {
    case EVENT_TICKET_CREATE:
        put(o, "customer", str_or_null(ev->customer));
        put(o, "class", str_or_null(ev->cls));
        put(o, "summary", str_or_null(ev->summary));
        break;
    case EVENT_TICKET_ACCEPT:
        put(o, "owner", str_or_null(ev->owner));
        break;
    case EVENT_TICKET_COMMENT:
        put(o, "text", str_or_null(ev->text));
        break;
    case EVENT_TICKET_STATUS:
        put(o, "status", str_or_null(ev->status));
        if (ev->text != NULL) {
            put(o, "note", json_string_nocheck(ev->text));
        }
        break;
    case EVENT_TICKET_REOPEN:
        put(o, "reason", str_or_null(ev->text));
        break;
    default:
        break;
    }
    return o;
}

static json_t *ticket_fields(const struct ticket *t)
{
    json_t *o = json_object();

    if (o == NULL) {
        return NULL;
    }
    put(o, "id", str_or_null(t->id));
    put(o, "customer", str_or_null(t->customer));
    put(o, "class", str_or_null(t->cls));
    put(o, "channel", str_or_null(t->channel));
    put(o, "summary", str_or_null(t->summary));
    put(o, "description", str_or_null(t->description));
    put(o, "status", json_string_nocheck(ticket_status_name(t->status)));
    put(o, "owner", str_or_null(t->owner));
    put(o, "created_by", str_or_null(t->created_by));
    put(o, "node", str_or_null(t->node));
    set_time(o, "created_at", t->created_hlc);
    set_time(o, "updated_at", t->updated_hlc);
    put(o, "reopen_count", json_integer(t->n_reopens));
    put(o, "conflicts", json_integer(t->n_conflicts));
    return o;
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
    put(o, "events", arr);
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
