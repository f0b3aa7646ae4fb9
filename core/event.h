/* The event model: every change to a ticket is an event with an id (origin
 * node or hall + HLC + counter), who, where, through which channel, and a
 * payload.  Events are what Raft replicates and edges sync; entity state is a
 * fold over them (core/ticket.h).  This file owns the event struct, its ids,
 * and its strict msgpack codec. */
#ifndef GD_EVENT_H
#define GD_EVENT_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define GD_ORIGIN_MAX 32   /* max bytes of an origin code, e.g. "ZQ-DH01" */
#define GD_FIELD_MAX 65536 /* max bytes of any string field */
#define EVENT_CODEC_VERSION 1
/* Longest event_id_format output incl. NUL: origin/20 digits/10 digits. */
#define EVENT_ID_STR_MAX (GD_ORIGIN_MAX + 1 + 20 + 1 + 10 + 1)

/* Identifies an event cluster-wide without coordination.  origin is a
 * NUL-terminated code of 1..GD_ORIGIN_MAX bytes from [A-Za-z0-9._-] (or ""
 * while not yet assigned). */
struct event_id {
    char origin[GD_ORIGIN_MAX + 1];
    uint64_t hlc;
    uint32_t counter; /* tells apart events one origin made with one hlc */
};

/* 1 if s is a valid origin code: 1..GD_ORIGIN_MAX bytes of [A-Za-z0-9._-]. */
int event_origin_valid(const char *s);

/* Total order: hlc, then origin (strcmp), then counter.  <0, 0, >0. */
int event_id_cmp(const struct event_id *a, const struct event_id *b);

/* Writes "origin/hlc-as-decimal/counter" into out (cap >= EVENT_ID_STR_MAX
 * always fits; smaller cap truncates, cap 0 writes nothing). */
void event_id_format(const struct event_id *id, char *out, size_t cap);

/* Parses what event_id_format writes, and only that: a valid non-empty
 * origin, decimal numbers without sign, spaces or leading zeros, in range.
 * Returns 0 or GD_EINVAL (id untouched). */
int event_id_parse(const char *s, struct event_id *id);

/* Appends [origin, hlc, counter] to pk.  Returns 0, GD_EINVAL for an origin
 * that is neither "" nor valid, or GD_ENOMEM. */
int event_id_pack(const struct event_id *id, msgpack_packer *pk);
/* Reads [origin, hlc, counter] (origin "" or valid) into id.  Returns 0 or
 * GD_ECORRUPT with a message. */
int event_id_unpack(const msgpack_object *o, struct event_id *id,
                    struct gd_err *err);

enum event_type {
    EVENT_TICKET_CREATE = 1,
    EVENT_TICKET_ACCEPT = 2,
    EVENT_TICKET_COMMENT = 3,
    EVENT_TICKET_STATUS = 4,
    EVENT_TICKET_REOPEN = 5,
};

/* "create","accept","comment","status","reopen"; "unknown" otherwise. */
const char *event_type_name(int type);
/* Inverse of event_type_name: the type, or GD_EINVAL (NULL or unknown). */
int event_type_parse(const char *name);

/* Every char* is owned by the struct (malloc'd) or NULL; event_clear frees
 * them.  Which fields a type uses is ticket_check's business; the codec
 * carries whatever is set. */
struct event {
    struct event_id id;
    int type;
    char *entity;  /* ticket id (NULL in a create command before assigned) */
    char *actor;   /* user who did it */
    char *channel; /* hotline hall web app wechat sms field */
    char *node;    /* where: the node or hall code that took the request */
    char *customer, *cls, *summary, *description; /* create */
    char *owner;  /* accept (NULL: the actor accepts) */
    char *text;   /* comment text; status note; reopen reason */
    char *status; /* status: target status name */
};

/* Sets all fields to zero/NULL. */
void event_init(struct event *e);
/* Frees the strings and returns e to the init state. */
void event_clear(struct event *e);
/* Deep copy.  dst must be initialised; its old contents are freed.  Returns
 * 0, or GD_ENOMEM leaving dst cleared. */
int event_copy(struct event *dst, const struct event *src);

/* Total order on whole events: event_id_cmp, then type, then each string
 * field (NULL first, then strcmp).  0 only for equal content.  Lets a set
 * of events be sorted and de-duplicated the same way on every replica, even
 * if two different events were (wrongly) given the same id. */
int event_cmp(const struct event *a, const struct event *b);

/* Appends the wire form of e to pk:
 *   [version, type, [origin, hlc, counter], entity|nil, actor|nil,
 *    channel|nil, node|nil, {payload}]
 * payload keys, each present only when set, always in this order:
 *   "cu" customer, "cl" cls, "su" summary, "de" description, "ow" owner,
 *   "tx" text, "st" status.
 * Refuses what event_unpack would refuse, so that anything encoded decodes:
 * GD_EINVAL for an unknown type, an origin that is neither "" nor valid, or
 * a string that is not UTF-8; GD_ETOOBIG for a string over GD_FIELD_MAX.
 * Otherwise 0 or GD_ENOMEM. */
int event_pack(const struct event *e, msgpack_packer *pk);

/* Reads the wire form from o into e (initialised; old contents freed).
 * Strict: GD_ECORRUPT with a message for a wrong type, missing or extra
 * element, unknown or repeated payload key, unknown version or event type,
 * bad origin, string over GD_FIELD_MAX, embedded NUL or invalid UTF-8;
 * GD_ENOMEM.  On error e is left cleared.  Strings are copied: e does not
 * point into o. */
int event_unpack(const msgpack_object *o, struct event *e, struct gd_err *err);

/* event_pack into a fresh malloc'd buffer (*buf, caller frees; *len). */
int event_encode(const struct event *e, char **buf, size_t *len);

/* Decodes exactly one event from buf[0..len): like event_unpack, and also
 * GD_ECORRUPT for truncated input, trailing bytes, or hostile container
 * sizes.  e initialised; left cleared on error. */
int event_decode(const char *buf, size_t len, struct event *e,
                 struct gd_err *err);

#endif
