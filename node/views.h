/* JSON views of stored records for the agent API (jansson).  Every
 * function returns a new reference, or NULL on OOM/storage error. */
#ifndef GD_VIEWS_H
#define GD_VIEWS_H

#include <jansson.h>

#include "core/event.h"
#include "core/ticket.h"
#include "storage/store.h"

json_t *view_event(const struct event *ev);
/* The ticket, with its timeline when with_events (read from the store). */
json_t *view_ticket(struct store *s, const struct ticket *t, int with_events);
/* Serialises v compactly into a malloc'd string (caller frees); NULL on
 * OOM. */
char *view_dump(const json_t *v, size_t *len);

#endif
