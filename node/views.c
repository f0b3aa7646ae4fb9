/* JSON views of tickets and events: see views.h. */
#include "node/views.h"

#include <stdlib.h>
#include <string.h>

#include "core/hlc.h"
#include "core/util.h"
#include "storage/tickets.h"

static json_t *str_or_null(const char *s)
{
    return s != NULL ? json_string(s) : json_null();
}

static void set_time(json_t *o, const char *key, uint64_t hlc)
{
    char buf[40];
    if (hlc == 0) {
        json_object_set_new(o, key, json_null());
        return;
    }
    gd_time_format(hlc_ms(hlc), buf, sizeof buf);
    json_object_set_new(o, key, json_string(buf));
}

json_t *view_event(const struct event *ev)
{
    char id[96];
    json_t *o = json_object();

    if (o == NULL) {
        return NULL;
    }
    event_id_format(&ev->id, id, sizeof id);
    json_object_set_new(o, "id", json_string(id));
    json_object_set_new(o, "type", json_string(event_type_name(ev->type)));
    json_object_set_new(o, "actor", str_or_null(ev->actor));
    set_time(o, "at", ev->id.hlc);
    json_object_set_new(o, "channel", str_or_null(ev->channel));
    json_object_set_new(o, "node", str_or_null(ev->node));
    switch (ev->type) {
    case EVENT_TICKET_CREATE:
        json_object_set_new(o, "customer", str_or_null(ev->customer));
        json_object_set_new(o, "class", str_or_null(ev->cls));
        json_object_set_new(o, "summary", str_or_null(ev->summary));
        break;
    case EVENT_TICKET_ACCEPT:
        json_object_set_new(o, "owner", str_or_null(ev->owner));
        break;
    case EVENT_TICKET_COMMENT:
        json_object_set_new(o, "text", str_or_null(ev->text));
        break;
    case EVENT_TICKET_STATUS:
        json_object_set_new(o, "status", str_or_null(ev->status));
        if (ev->text != NULL) {
            json_object_set_new(o, "note", json_string(ev->text));
        }
        break;
    case EVENT_TICKET_REOPEN:
        json_object_set_new(o, "reason", str_or_null(ev->text));
        break;
    default:
        break;
    }
    return o;
}

json_t *view_ticket(struct store *s, const struct ticket *t, int with_events)
{
    json_t *o = json_object();

    if (o == NULL) {
        return NULL;
    }
    json_object_set_new(o, "id", str_or_null(t->id));
    json_object_set_new(o, "customer", str_or_null(t->customer));
    json_object_set_new(o, "class", str_or_null(t->cls));
    json_object_set_new(o, "channel", str_or_null(t->channel));
    json_object_set_new(o, "summary", str_or_null(t->summary));
    json_object_set_new(o, "description", str_or_null(t->description));
    json_object_set_new(o, "status",
                        json_string(ticket_status_name(t->status)));
    json_object_set_new(o, "owner", str_or_null(t->owner));
    json_object_set_new(o, "created_by", str_or_null(t->created_by));
    json_object_set_new(o, "node", str_or_null(t->node));
    set_time(o, "created_at", t->created_hlc);
    set_time(o, "updated_at", t->updated_hlc);
    json_object_set_new(o, "reopen_count", json_integer(t->n_reopens));
    json_object_set_new(o, "conflicts", json_integer(t->n_conflicts));
    if (with_events) {
        struct event *evs = NULL;
        size_t n = 0;
        struct gd_err err;
        json_t *arr = json_array();

        if (arr == NULL ||
            store_ticket_events(s, t->id, &evs, &n, &err) != 0) {
            json_decref(arr);
            json_decref(o);
            return NULL;
        }
        for (size_t i = 0; i < n; i++) {
            json_t *e = view_event(&evs[i]);
            if (e == NULL || json_array_append_new(arr, e) != 0) {
                store_events_free(evs, n);
                json_decref(arr);
                json_decref(o);
                return NULL;
            }
        }
        store_events_free(evs, n);
        json_object_set_new(o, "events", arr);
    }
    return o;
}

char *view_dump(const json_t *v, size_t *len)
{
    char *s = json_dumps(v, JSON_COMPACT);
    if (s != NULL && len != NULL) {
        *len = strlen(s);
    }
    return s;
}
