/* JSON views of stored records for the agent API (jansson).  Every
 * function returns a new reference, or NULL on OOM/storage error. */
#ifndef GD_VIEWS_H
#define GD_VIEWS_H

#include <jansson.h>

#include "core/event.h"
#include "core/kb.h"
#include "core/ticket.h"
#include "storage/store.h"

json_t *view_event(const struct event *ev);
/* The ticket, with its timeline when with_events (read from the store). */
json_t *view_ticket(struct store *s, const struct ticket *t, int with_events);
/* The ticket with the given timeline (evs in stored order). */
json_t *view_ticket_events(const struct ticket *t,
                           const struct event *const *evs, size_t n);
/* Appends to out the bytes view_dump writes for view_ticket_events(t, evs,
 * n), with "applied_index" last when applied_index >= 0, but straight from
 * the structs (no json_t tree): 0, or -1 with out as it was (then build
 * the json_t view: it fails the same way or answers in full). */
struct strbuf;
int view_ticket_events_write(const struct ticket *t,
                             const struct event *const *evs, size_t n,
                             long long applied_index, struct strbuf *out);
/* Appends v, serialised compactly (jansson's JSON_COMPACT bytes, written
 * by node/jsonio.c), to out (core/strbuf.h); 0, or -1 on OOM. */
struct strbuf;
int view_dump(const json_t *v, struct strbuf *out);

/* Knowledge base (node/views_kb.c). */
json_t *view_time(uint64_t hlc);     /* +08:00 time of an HLC, null for 0 */
json_t *view_str(const char *s);     /* NULL as "" */
json_t *view_opt_str(const char *s); /* NULL or "" as null */
json_t *view_strv(char *const *v, size_t n);
json_t *view_kb_changed(uint32_t changed); /* ["title", ...] */
/* The article; its linked tickets too when with_tickets. */
json_t *view_article(const struct kb_article *a, int with_tickets);
json_t *view_proposal(const struct kb_proposal *p);
/* The JSON value of one field (a kb_field_bit) of a. */
json_t *view_article_field(const struct kb_article *a, uint32_t bit);

#endif
