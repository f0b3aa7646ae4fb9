/* Ticket state machine and fold: see ticket.h.  ticket_fold decides with
 * ticket_check itself, so that what a command is refused for and what a
 * replayed event becomes a conflict for can never differ. */
#include "core/ticket.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/catalog.h"
#include "core/hlc.h"
#include "core/util.h"

#define TFIELD(name) offsetof(struct ticket, name)

/* Every owned string of struct ticket, in wire order. */
static const struct {
    size_t off;
    const char *name;
} str_fields[] = {
    {TFIELD(id), "id"},           {TFIELD(customer), "customer"},
    {TFIELD(cls), "cls"},         {TFIELD(channel), "channel"},
    {TFIELD(summary), "summary"}, {TFIELD(description), "description"},
    {TFIELD(owner), "owner"},     {TFIELD(created_by), "created_by"},
    {TFIELD(node), "node"},
};
#define N_STR_FIELDS (sizeof str_fields / sizeof str_fields[0])
/* version, strings, status, created, updated, last_event, 3 counters */
#define TICKET_WIRE_LEN (1 + N_STR_FIELDS + 1 + 2 + 1 + 3)

static char **str_at(struct ticket *t, size_t off)
{
    return (char **)((char *)t + off);
}

static const char *cstr_at(const struct ticket *t, size_t off)
{
    return *(char *const *)((const char *)t + off);
}

/* ---- statuses -------------------------------------------------------- */

static const char *const status_names[] = {
    [TICKET_NEW] = "new",
    [TICKET_ACCEPTED] = "accepted",
    [TICKET_IN_PROGRESS] = "in_progress",
    [TICKET_RESOLVED] = "resolved",
    [TICKET_CLOSED] = "closed",
};
#define N_STATUS ((int)(sizeof status_names / sizeof status_names[0]))

static int status_known(int s)
{
    return s >= 0 && s < N_STATUS;
}

const char *ticket_status_name(int s)
{
    return status_known(s) ? status_names[s] : "unknown";
}

int ticket_status_parse(const char *s)
{
    if (s == NULL)
        return GD_EINVAL;
    for (int i = 0; i < N_STATUS; i++)
        if (strcmp(s, status_names[i]) == 0)
            return i;
    return GD_EINVAL;
}

int ticket_transition_allowed(int from, int to)
{
    /* allowed[from] is a bit set of targets. */
    static const unsigned allowed[] = {
        [TICKET_NEW] = 1u << TICKET_ACCEPTED | 1u << TICKET_CLOSED,
        [TICKET_ACCEPTED] = 1u << TICKET_IN_PROGRESS | 1u << TICKET_RESOLVED,
        [TICKET_IN_PROGRESS] = 1u << TICKET_RESOLVED,
        [TICKET_RESOLVED] = 1u << TICKET_CLOSED,
        [TICKET_CLOSED] = 0,
    };

    if (!status_known(from) || !status_known(to))
        return 0;
    return (allowed[from] >> to) & 1u;
}

/* ---- life cycle ------------------------------------------------------ */

void ticket_init(struct ticket *t)
{
    memset(t, 0, sizeof *t);
    for (size_t i = 0; i < N_STR_FIELDS; i++)
        *str_at(t, str_fields[i].off) = NULL;
}

void ticket_clear(struct ticket *t)
{
    for (size_t i = 0; i < N_STR_FIELDS; i++)
        free(*str_at(t, str_fields[i].off));
    ticket_init(t);
}

int ticket_copy(struct ticket *dst, const struct ticket *src)
{
    ticket_clear(dst);
    dst->status = src->status;
    dst->created_hlc = src->created_hlc;
    dst->updated_hlc = src->updated_hlc;
    dst->last_event = src->last_event;
    dst->n_events = src->n_events;
    dst->n_reopens = src->n_reopens;
    dst->n_conflicts = src->n_conflicts;
    for (size_t i = 0; i < N_STR_FIELDS; i++) {
        size_t off = str_fields[i].off;
        if (gd_strdup(str_at(dst, off), cstr_at(src, off)) != 0) {
            ticket_clear(dst);
            return GD_ENOMEM;
        }
    }
    return 0;
}

/* ---- check ----------------------------------------------------------- */

/* Copies s for an error message: at most 32 bytes, anything but printable
 * ASCII as '?', so that a message is always short, valid UTF-8. */
static const char *echo(const char *s, char *buf, size_t cap)
{
    size_t i = 0;

    if (s == NULL)
        s = "(none)";
    for (; s[i] != '\0' && i + 1 < cap && i < 32; i++)
        buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    buf[i] = '\0';
    return buf;
}

/* An optional string: NULL or at most max bytes of UTF-8. */
static int opt_str(const char *v, size_t max, const char *field,
                   struct gd_err *err)
{
    switch (gd_mp_str_ok(v, max)) {
    case 0: return 0;
    case GD_ETOOBIG:
        return gd_err_set(err, GD_EINVAL, "%s: longer than %zu bytes", field,
                          max);
    default: return gd_err_set(err, GD_EINVAL, "%s: not valid UTF-8", field);
    }
}

/* A required string: non-empty, at most max bytes of UTF-8. */
static int req_str(const char *v, size_t max, const char *field,
                   struct gd_err *err)
{
    if (v == NULL || v[0] == '\0')
        return gd_err_set(err, GD_EINVAL, "%s: required", field);
    return opt_str(v, max, field, err);
}

static int same_str(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

static int check_create(const struct ticket *cur, const struct event *ev,
                        struct gd_err *err)
{
    char b[40];
    int rc;

    if (cur != NULL)
        return gd_err_set(err, GD_ECONFLICT, "ticket %s already exists",
                          echo(cur->id, b, sizeof b));
    if ((rc = req_str(ev->customer, TICKET_CUSTOMER_MAX, "customer", err)) ||
        (rc = req_str(ev->cls, GD_FIELD_MAX, "cls", err)))
        return rc;
    if (catalog_class_find(ev->cls) == NULL)
        return gd_err_set(err, GD_EINVAL, "cls: unknown class \"%s\"",
                          echo(ev->cls, b, sizeof b));
    if ((rc = req_str(ev->summary, TICKET_SUMMARY_MAX, "summary", err)) ||
        (rc = opt_str(ev->description, TICKET_DESCRIPTION_MAX, "description",
                      err)))
        return rc;
    return 0;
}

static int check_change(const struct ticket *cur, const struct event *ev,
                        struct gd_err *err)
{
    char b1[40];
    int rc, to;

    switch (ev->type) {
    case EVENT_TICKET_ACCEPT:
        rc = req_str(ev->owner != NULL ? ev->owner : ev->actor,
                     TICKET_OWNER_MAX, "owner", err);
        if (rc != 0)
            return rc;
        if (cur->owner != NULL)
            return gd_err_set(err, GD_ECONFLICT,
                              "ticket is already owned by %s "
                              "(first-contact responsibility)",
                              echo(cur->owner, b1, sizeof b1));
        /* Unowned tickets are new, or accepted again after a reopen. */
        if (cur->status != TICKET_NEW && cur->status != TICKET_ACCEPTED)
            return gd_err_set(err, GD_ECONFLICT,
                              "cannot accept a ticket that is %s",
                              ticket_status_name(cur->status));
        return 0;
    case EVENT_TICKET_COMMENT:
        return req_str(ev->text, TICKET_TEXT_MAX, "text", err);
    case EVENT_TICKET_STATUS:
        if (ev->status == NULL)
            return gd_err_set(err, GD_EINVAL, "status: required");
        to = ticket_status_parse(ev->status);
        if (to < 0)
            return gd_err_set(err, GD_EINVAL, "status: unknown status \"%s\"",
                              echo(ev->status, b1, sizeof b1));
        if (!ticket_transition_allowed(cur->status, to))
            return gd_err_set(err, GD_ECONFLICT, "cannot go from %s to %s",
                              ticket_status_name(cur->status),
                              ticket_status_name(to));
        return opt_str(ev->text, TICKET_TEXT_MAX, "text", err);
    case EVENT_TICKET_REOPEN:
        if (cur->status != TICKET_RESOLVED && cur->status != TICKET_CLOSED)
            return gd_err_set(err, GD_ECONFLICT,
                              "cannot reopen a ticket that is %s",
                              ticket_status_name(cur->status));
        return req_str(ev->text, TICKET_TEXT_MAX, "text (reopen reason)", err);
    default:
        return gd_err_set(err, GD_EINVAL, "type: unknown event type %d",
                          ev->type);
    }
}

int ticket_check(const struct ticket *cur, const struct event *ev,
                 struct gd_err *err)
{
    char b1[40], b2[40];
    int rc;

    if (ev->type < EVENT_TICKET_CREATE || ev->type > EVENT_TICKET_REOPEN)
        return gd_err_set(err, GD_EINVAL, "type: unknown event type %d",
                          ev->type);
    if ((rc = req_str(ev->actor, TICKET_OWNER_MAX, "actor", err)))
        return rc;
    if (ev->type == EVENT_TICKET_CREATE && ev->channel == NULL)
        return gd_err_set(err, GD_EINVAL, "channel: required");
    if (ev->channel != NULL && !catalog_channel_valid(ev->channel))
        return gd_err_set(err, GD_EINVAL, "channel: unknown channel \"%s\"",
                          echo(ev->channel, b1, sizeof b1));
    if ((rc = opt_str(ev->node, TICKET_NODE_MAX, "node", err)) ||
        (rc = opt_str(ev->entity, TICKET_ID_MAX, "entity", err)))
        return rc;
    if (ev->type == EVENT_TICKET_CREATE)
        return check_create(cur, ev, err);
    if (cur == NULL)
        return gd_err_set(err, GD_ENOTFOUND, "ticket %s not found",
                          echo(ev->entity, b1, sizeof b1));
    if (!same_str(ev->entity, cur->id))
        return gd_err_set(
            err, GD_EINVAL, "entity: event for ticket %s applied to %s",
            echo(ev->entity, b1, sizeof b1), echo(cur->id, b2, sizeof b2));
    return check_change(cur, ev, err);
}

/* ---- fold ------------------------------------------------------------ */

/* Applies a checked event.  All allocation happens before t is touched, so
 * GD_ENOMEM leaves t as it was. */
static int apply(struct ticket *t, const struct event *ev)
{
    char *owner = NULL;

    switch (ev->type) {
    case EVENT_TICKET_CREATE: {
        const char *src[] = {ev->entity,  ev->customer, ev->cls,
                             ev->channel, ev->summary,  ev->description,
                             NULL,        ev->actor,    ev->node};
        char *v[N_STR_FIELDS] = {0};

        _Static_assert(sizeof src / sizeof src[0] == N_STR_FIELDS,
                       "create sets every string field");
        for (size_t i = 0; i < N_STR_FIELDS; i++) {
            if (gd_strdup(&v[i], src[i]) != 0) {
                for (size_t k = 0; k < i; k++)
                    free(v[k]);
                return GD_ENOMEM;
            }
        }
        for (size_t i = 0; i < N_STR_FIELDS; i++) {
            char **slot = str_at(t, str_fields[i].off);
            free(*slot);
            *slot = v[i];
        }
        t->status = TICKET_NEW;
        t->created_hlc = ev->id.hlc;
        return 0;
    }
    case EVENT_TICKET_ACCEPT:
        if (gd_strdup(&owner, ev->owner != NULL ? ev->owner : ev->actor))
            return GD_ENOMEM;
        free(t->owner);
        t->owner = owner;
        if (t->status == TICKET_NEW)
            t->status = TICKET_ACCEPTED;
        return 0;
    case EVENT_TICKET_COMMENT:
        return 0; /* the comment lives in the event, on the timeline */
    case EVENT_TICKET_STATUS: {
        int to = ticket_status_parse(ev->status);

        if (to == TICKET_ACCEPTED && t->owner == NULL) {
            if (gd_strdup(&owner, ev->actor) != 0)
                return GD_ENOMEM;
            t->owner = owner;
        }
        t->status = to;
        return 0;
    }
    case EVENT_TICKET_REOPEN:
        t->status = TICKET_ACCEPTED;
        t->n_reopens++;
        return 0;
    default: return GD_EINVAL; /* unreachable: ticket_check refused it */
    }
}

int ticket_fold(struct ticket *t, const struct event *ev)
{
    int exists = t->n_events > 0;
    int rc;

    if ((t->n_events > 0 || t->n_conflicts > 0) &&
        event_id_cmp(&ev->id, &t->last_event) <= 0)
        return TICKET_FOLD_DUPLICATE;
    if (ticket_check(exists ? t : NULL, ev, NULL) != 0) {
        t->n_conflicts++;
        t->last_event = ev->id;
        return TICKET_FOLD_CONFLICT;
    }
    rc = apply(t, ev);
    if (rc != 0)
        return rc;
    t->updated_hlc = ev->id.hlc;
    t->last_event = ev->id;
    t->n_events++;
    return TICKET_FOLD_APPLIED;
}

static int cmp_event_ptr(const void *a, const void *b)
{
    return event_cmp(*(const struct event *const *)a,
                     *(const struct event *const *)b);
}

int ticket_fold_all(struct ticket *out, const struct event *evs, size_t n)
{
    const struct event **order;
    struct ticket t;

    if (n > SIZE_MAX / sizeof *order)
        return GD_ENOMEM;
    order = malloc((n > 0 ? n : 1) * sizeof *order);
    if (order == NULL)
        return GD_ENOMEM;
    for (size_t i = 0; i < n; i++)
        order[i] = &evs[i];
    if (n > 1)
        qsort(order, n, sizeof *order, cmp_event_ptr);
    ticket_init(&t);
    for (size_t i = 0; i < n; i++) {
        /* Equal ids after sorting: the first (smallest content) wins; fold
         * would call the rest duplicates anyway. */
        int rc = ticket_fold(&t, order[i]);
        if (rc < 0) {
            ticket_clear(&t);
            free(order);
            return rc;
        }
    }
    free(order);
    ticket_clear(out);
    *out = t;
    return 0;
}

/* ---- codec ----------------------------------------------------------- */

static int ticket_pack(msgpack_packer *pk, const void *arg)
{
    const struct ticket *t = arg;
    int rc;

    if (!status_known(t->status))
        return GD_EINVAL;
    for (size_t i = 0; i < N_STR_FIELDS; i++)
        if ((rc = gd_mp_str_ok(cstr_at(t, str_fields[i].off), GD_FIELD_MAX)) !=
            0)
            return rc;
    if (msgpack_pack_array(pk, TICKET_WIRE_LEN) != 0 ||
        msgpack_pack_uint32(pk, TICKET_CODEC_VERSION) != 0)
        return GD_ENOMEM;
    for (size_t i = 0; i < N_STR_FIELDS; i++)
        if ((rc = gd_mp_pack_str(pk, cstr_at(t, str_fields[i].off))) != 0)
            return rc;
    if (msgpack_pack_uint32(pk, (uint32_t)t->status) != 0 ||
        msgpack_pack_uint64(pk, t->created_hlc) != 0 ||
        msgpack_pack_uint64(pk, t->updated_hlc) != 0)
        return GD_ENOMEM;
    if ((rc = event_id_pack(&t->last_event, pk)) != 0)
        return rc;
    if (msgpack_pack_uint32(pk, t->n_events) != 0 ||
        msgpack_pack_uint32(pk, t->n_reopens) != 0 ||
        msgpack_pack_uint32(pk, t->n_conflicts) != 0)
        return GD_ENOMEM;
    return 0;
}

int ticket_encode(const struct ticket *t, char **buf, size_t *len)
{
    return gd_mp_encode(ticket_pack, t, buf, len);
}

static int ticket_unpack(const msgpack_object *o, void *arg, struct gd_err *err)
{
    struct ticket *t = arg;
    const msgpack_object *a;
    uint64_t v;
    size_t k;
    int rc;

    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size < 1)
        return gd_err_set(err, GD_ECORRUPT, "ticket: not a non-empty array");
    a = o->via.array.ptr;
    if ((rc = gd_mp_uint(&a[0], UINT32_MAX, &v, "ticket version", err)))
        return rc;
    if (v != TICKET_CODEC_VERSION)
        return gd_err_set(err, GD_ECORRUPT,
                          "ticket: unknown codec version %llu",
                          (unsigned long long)v);
    if ((rc = gd_mp_array(o, TICKET_WIRE_LEN, "ticket", err)))
        return rc;
    k = 1;
    for (size_t i = 0; i < N_STR_FIELDS; i++, k++)
        if ((rc =
                 gd_mp_str(&a[k], 1, GD_FIELD_MAX, str_at(t, str_fields[i].off),
                           str_fields[i].name, err)))
            return rc;
    if ((rc = gd_mp_uint(&a[k++], N_STATUS - 1, &v, "ticket status", err)))
        return rc;
    t->status = (int)v;
    if ((rc = gd_mp_uint(&a[k++], UINT64_MAX, &t->created_hlc,
                         "ticket created_hlc", err)) ||
        (rc = gd_mp_uint(&a[k++], UINT64_MAX, &t->updated_hlc,
                         "ticket updated_hlc", err)) ||
        (rc = event_id_unpack(&a[k++], &t->last_event, err)))
        return rc;
    if ((rc = gd_mp_uint(&a[k++], UINT32_MAX, &v, "ticket n_events", err)))
        return rc;
    t->n_events = (uint32_t)v;
    if ((rc = gd_mp_uint(&a[k++], UINT32_MAX, &v, "ticket n_reopens", err)))
        return rc;
    t->n_reopens = (uint32_t)v;
    if ((rc = gd_mp_uint(&a[k++], UINT32_MAX, &v, "ticket n_conflicts", err)))
        return rc;
    t->n_conflicts = (uint32_t)v;
    return 0;
}

int ticket_decode(const char *buf, size_t len, struct ticket *t,
                  struct gd_err *err)
{
    int rc;

    ticket_clear(t);
    rc = gd_mp_decode(buf, len, ticket_unpack, t, err);
    if (rc != 0)
        ticket_clear(t);
    return rc;
}

/* ---- ids ------------------------------------------------------------- */

void ticket_id_format(char *out, size_t cap, const char *origin, uint64_t hlc,
                      uint32_t seq)
{
    char date[16];

    if (cap == 0)
        return;
    gd_date_yyyymmdd(hlc_ms(hlc), date, sizeof date);
    /* "%s-%s-%04u" without snprintf: one per create, on every replica */
    char digits[11], *d = digits + sizeof digits - 1;
    unsigned v = (unsigned)seq;
    int w = 0;
    *d = '\0';
    do {
        *--d = (char)('0' + v % 10);
        v /= 10;
        w++;
    } while (v != 0 || w < 4);
    gd_strcat_n(out, cap, origin != NULL ? origin : "", "-", date, "-", d,
                (char *)NULL);
}
