/* Ticket state and the fold that makes it from events.  A ticket is a pure
 * function of the set of its events: ticket_check validates a new command
 * against the current state, ticket_fold applies one event (a refused one
 * becomes a counted conflict, never a silent loss), and ticket_fold_all
 * gives the same bytes for any order or repetition of the same events. */
#ifndef GD_TICKET_H
#define GD_TICKET_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/event.h"

/* Field limits, in bytes, enforced by ticket_check. */
#define TICKET_SUMMARY_MAX 200
#define TICKET_CUSTOMER_MAX 64
#define TICKET_DESCRIPTION_MAX 8000
#define TICKET_TEXT_MAX 8000
#define TICKET_OWNER_MAX 64 /* also actor */
#define TICKET_ID_MAX 64    /* entity */
#define TICKET_NODE_MAX 64
#define TICKET_CODEC_VERSION 1

enum ticket_status {
    TICKET_NEW = 0,
    TICKET_ACCEPTED,
    TICKET_IN_PROGRESS,
    TICKET_RESOLVED,
    TICKET_CLOSED,
};

/* "new","accepted","in_progress","resolved","closed"; "unknown" otherwise. */
const char *ticket_status_name(int s);
/* Inverse of ticket_status_name: the status, or GD_EINVAL (NULL/unknown). */
int ticket_status_parse(const char *s);

/* 1 if a status event may move a ticket from `from` to `to`, else 0:
 * new→accepted, new→closed (duplicate or invalid ticket),
 * accepted→in_progress, accepted→resolved, in_progress→resolved,
 * resolved→closed.  (Reopen is its own event: resolved|closed→accepted.) */
int ticket_transition_allowed(int from, int to);

/* Every char* is owned by the struct (malloc'd) or NULL. */
struct ticket {
    char *id, *customer, *cls, *channel, *summary, *description, *owner,
        *created_by, *node;
    int status;
    uint64_t created_hlc, updated_hlc; /* updated: last applied event */
    struct event_id last_event;        /* greatest event id folded */
    uint32_t n_events; /* events applied (the create included) */
    uint32_t n_reopens;
    uint32_t n_conflicts; /* events folded but refused by the rules */
};

/* Empty ticket (does not exist yet): all zero/NULL. */
void ticket_init(struct ticket *t);
/* Frees the strings; back to the init state. */
void ticket_clear(struct ticket *t);
/* Deep copy; dst initialised, old contents freed.  0 or GD_ENOMEM (dst
 * left cleared). */
int ticket_copy(struct ticket *dst, const struct ticket *src);

/* Encodes every field, in a fixed order, as a versioned msgpack array into
 * a fresh malloc'd *buf (caller frees), *len.  Equal tickets give equal
 * bytes.  0, GD_EINVAL (status out of range, bad origin, non-UTF-8 string),
 * GD_ETOOBIG (string over GD_FIELD_MAX) or GD_ENOMEM. */
int ticket_encode(const struct ticket *t, char **buf, size_t *len);
/* Strict inverse of ticket_encode (t initialised; old contents freed; left
 * cleared on error): GD_ECORRUPT with a message for truncated input,
 * trailing bytes, wrong types, unknown version, bad status, oversized
 * strings; GD_ENOMEM. */
int ticket_decode(const char *buf, size_t len, struct ticket *t,
                  struct gd_err *err);

/* Validates a new event ev against the current state cur (NULL: the ticket
 * does not exist).  Returns 0, or an error with a message naming the field:
 *  all types: actor required (<= TICKET_OWNER_MAX); channel, when set (always
 *    for create), one of catalog_channel_valid; node <= TICKET_NODE_MAX;
 *    entity <= TICKET_ID_MAX and, on an existing ticket, equal to its id;
 *    unknown type → GD_EINVAL.
 *  create: GD_ECONFLICT if cur exists; customer (<= 64) and summary (<= 200)
 *    non-empty, cls in the catalogue, description <= 8000 → GD_EINVAL.
 *    entity may be NULL (id not assigned yet).
 *  other types on cur NULL → GD_ENOTFOUND.
 *  accept: owner (or, when NULL, the actor) <= 64; GD_ECONFLICT if the
 *    ticket already has an owner (first-contact responsibility: the first
 *    agent keeps it).  Moves new → accepted; in other states only sets owner.
 *  comment: text non-empty, <= 8000; allowed in every status.
 *  status: unknown status name → GD_EINVAL; target not allowed from the
 *    current status → GD_ECONFLICT "cannot go from X to Y"; note (text)
 *    <= 8000.  Moving to accepted makes the actor owner if there is none.
 *  reopen: only from resolved or closed (else GD_ECONFLICT); reason (text)
 *    required, <= 8000.
 * ticket_fold applies exactly the events this accepts. */
int ticket_check(const struct ticket *cur, const struct event *ev,
                 struct gd_err *err);

/* Results of ticket_fold (non-negative; errors are negative). */
enum ticket_fold_result {
    TICKET_FOLD_APPLIED = 0,
    TICKET_FOLD_DUPLICATE = 1,
    TICKET_FOLD_CONFLICT = 2,
};

/* Folds one event into t (ticket_init'ed for a ticket that does not exist;
 * it exists once a create has been applied, i.e. n_events > 0).  Total and
 * deterministic:
 *  - an event whose id is <= t->last_event (once anything was folded) is a
 *    no-op: TICKET_FOLD_DUPLICATE.  Events must therefore come in id order;
 *    one arriving late needs ticket_fold_all over the whole set;
 *  - an event ticket_check(exists ? t : NULL, ev) refuses leaves the domain
 *    fields as they are, sets last_event, n_conflicts++: CONFLICT;
 *  - otherwise it is applied: fields, updated_hlc = ev hlc, last_event,
 *    n_events++ (create: status new, created_by = actor, created_hlc, node;
 *    reopen: status accepted, n_reopens++): APPLIED.
 * GD_ENOMEM leaves t unchanged. */
int ticket_fold(struct ticket *t, const struct event *ev);

/* The ticket made by the SET of events evs[0..n): sorts them by id (equal
 * ids by content, so even a colliding id is resolved the same way
 * everywhere), drops repeats, folds from empty.  Same bytes for any order
 * and repetition of the same set.  out initialised; on success its old
 * contents are replaced; on GD_ENOMEM it is unchanged. */
int ticket_fold_all(struct ticket *out, const struct event *evs, size_t n);

/* Writes "<origin>-<yyyymmdd of hlc_ms(hlc) in +08:00>-<seq, at least 4
 * digits>", e.g. "ZQ-20261122-0042", into out (truncates to cap). */
void ticket_id_format(char *out, size_t cap, const char *origin, uint64_t hlc,
                      uint32_t seq);

#endif
