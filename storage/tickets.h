/* Ticket and event key layouts on top of storage/store.h, with the secondary
 * indexes that make listing by status or customer a range scan.
 *
 *   TICKETS  <id>                                   → ticket_encode
 *   EVENTS   <ticket id>\0<be64 hlc><origin>\0<be32 counter> → event_encode
 *   INDEX    a\0<be64 created_hlc><id>                           → ""
 *            s\0<status name>\0<be64 created_hlc><id>            → ""
 *            c\0<customer>\0<be64 created_hlc><id>               → ""
 *
 * Every index key ends in the same suffix <be64 created_hlc><id>, so lists
 * are in (created_hlc, id) order whatever the filter, and a list cursor is
 * that suffix in hex.  Tickets without a customer have no "c" key. */
#ifndef GD_STORE_TICKETS_H
#define GD_STORE_TICKETS_H

#include <stddef.h>

#include "core/error.h"
#include "core/event.h"
#include "core/ticket.h"
#include "storage/store.h"

#define STORE_LIST_MAX 1000 /* most tickets one store_ticket_list returns */

/* Reads a ticket into out (initialised here; the caller ticket_clears it on
 * success, and it is left empty on error).  GD_ENOTFOUND, GD_EINVAL (empty
 * id), GD_ECORRUPT, GD_EIO, GD_ENOMEM. */
int store_ticket_get(struct store *s, const char *id, struct ticket *out,
                     struct gd_err *err);

/* Adds to b the ticket nw and its index keys.  When old (the stored version
 * of the same ticket) is not NULL, deletes its index keys that changed and
 * puts only the new ones.  GD_EINVAL (no id, ids differ, unknown status),
 * GD_ENOMEM. */
int store_ticket_put(struct store_batch *b, const struct ticket *old,
                     const struct ticket *nw);

/* Adds to b the event ev of ticket ticket_id.  GD_EINVAL, GD_ENOMEM. */
int store_event_put(struct store_batch *b, const char *ticket_id,
                    const struct event *ev);

/* Every event of a ticket in event id order (hlc, origin, counter).  *evs is
 * a malloc'd array (NULL when *n is 0) the caller frees with
 * store_events_free.  GD_EINVAL, GD_ECORRUPT, GD_EIO, GD_ENOMEM. */
int store_ticket_events(struct store *s, const char *ticket_id,
                        struct event **evs, size_t *n, struct gd_err *err);
void store_events_free(struct event *evs, size_t n);

/* Lists tickets in (created_hlc, id) order.  status and customer may be
 * NULL (no filter); with both, the customer index is scanned and filtered by
 * status.  after is NULL or a cursor from a previous call's *next (any
 * filter).  limit is 1..STORE_LIST_MAX.  *items is a malloc'd array (NULL
 * when *n is 0) freed with store_tickets_free; *next is a malloc'd cursor
 * (lower-case hex, URL-safe) when more may follow, else NULL.  Each ticket is
 * re-checked against the filters after it is read, so a concurrent change
 * never yields a ticket that does not match.  GD_EINVAL (bad limit or
 * cursor), GD_ECORRUPT, GD_EIO, GD_ENOMEM. */
int store_ticket_list(struct store *s, const char *status, const char *customer,
                      const char *after, size_t limit, struct ticket **items,
                      size_t *n, char **next, struct gd_err *err);
void store_tickets_free(struct ticket *items, size_t n);

/* Number of tickets (a scan of the "a" index); 0 on a read error. */
size_t store_ticket_count(struct store *s);

#endif
