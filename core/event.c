/* Events, their ids and their msgpack codec: see event.h.  The string fields
 * are handled through one offset table so that init, clear, copy, pack and
 * unpack cannot drift apart when a field is added. */
#include "core/event.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

#define FIELD(name) offsetof(struct event, name)

/* Every owned string of struct event. */
static const size_t str_fields[] = {
    FIELD(entity),   FIELD(actor), FIELD(channel), FIELD(node),
    FIELD(customer), FIELD(cls),   FIELD(summary), FIELD(description),
    FIELD(owner),    FIELD(text),  FIELD(status),
};
#define N_STR_FIELDS (sizeof str_fields / sizeof str_fields[0])

/* The header strings, in wire order after the id. */
static const struct {
    size_t off;
    const char *name;
} head_fields[] = {
    {FIELD(entity), "entity"},
    {FIELD(actor), "actor"},
    {FIELD(channel), "channel"},
    {FIELD(node), "node"},
};
#define N_HEAD_FIELDS (sizeof head_fields / sizeof head_fields[0])

/* The payload map: short key, field, and name for messages.  Pack order. */
static const struct {
    const char *key;
    size_t off;
    const char *name;
} payload_fields[] = {
    {"cu", FIELD(customer), "customer"},
    {"cl", FIELD(cls), "cls"},
    {"su", FIELD(summary), "summary"},
    {"de", FIELD(description), "description"},
    {"ow", FIELD(owner), "owner"},
    {"tx", FIELD(text), "text"},
    {"st", FIELD(status), "status"},
};
#define N_PAYLOAD_FIELDS (sizeof payload_fields / sizeof payload_fields[0])

/* Wire elements of an event array. */
#define EVENT_WIRE_LEN 8

static char **str_at(struct event *e, size_t off)
{
    return (char **)((char *)e + off);
}

static const char *cstr_at(const struct event *e, size_t off)
{
    return *(char *const *)((const char *)e + off);
}

/* ---- ids ------------------------------------------------------------- */

int event_origin_valid(const char *s)
{
    size_t n = 0;

    if (s == NULL)
        return 0;
    for (; s[n] != '\0'; n++) {
        char c = s[n];
        if (n >= GD_ORIGIN_MAX)
            return 0;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return n > 0;
}

int event_id_cmp(const struct event_id *a, const struct event_id *b)
{
    int c;

    if (a->hlc != b->hlc)
        return a->hlc < b->hlc ? -1 : 1;
    c = strcmp(a->origin, b->origin);
    if (c != 0)
        return c < 0 ? -1 : 1;
    if (a->counter != b->counter)
        return a->counter < b->counter ? -1 : 1;
    return 0;
}

void event_id_format(const struct event_id *id, char *out, size_t cap)
{
    if (cap == 0)
        return;
    snprintf(out, cap, "%.*s/%llu/%u", GD_ORIGIN_MAX, id->origin,
             (unsigned long long)id->hlc, (unsigned)id->counter);
}

/* Parses a canonical unsigned decimal of s[0..n) no greater than max. */
static int parse_decimal(const char *s, size_t n, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;

    if (n == 0 || (n > 1 && s[0] == '0'))
        return GD_EINVAL;
    for (size_t i = 0; i < n; i++) {
        unsigned d;
        if (s[i] < '0' || s[i] > '9')
            return GD_EINVAL;
        d = (unsigned)(s[i] - '0');
        if (v > (max - d) / 10)
            return GD_EINVAL;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int event_id_parse(const char *s, struct event_id *id)
{
    const char *a, *b;
    char origin[GD_ORIGIN_MAX + 1];
    uint64_t hlc, counter;
    size_t on;

    if (s == NULL)
        return GD_EINVAL;
    a = strchr(s, '/');
    if (a == NULL)
        return GD_EINVAL;
    b = strchr(a + 1, '/');
    if (b == NULL)
        return GD_EINVAL;
    on = (size_t)(a - s);
    if (on == 0 || on > GD_ORIGIN_MAX)
        return GD_EINVAL;
    memcpy(origin, s, on);
    origin[on] = '\0';
    if (!event_origin_valid(origin))
        return GD_EINVAL;
    if (parse_decimal(a + 1, (size_t)(b - a - 1), UINT64_MAX, &hlc) != 0)
        return GD_EINVAL;
    if (parse_decimal(b + 1, strlen(b + 1), UINT32_MAX, &counter) != 0)
        return GD_EINVAL;
    memcpy(id->origin, origin, on + 1);
    id->hlc = hlc;
    id->counter = (uint32_t)counter;
    return 0;
}

/* ---- types ----------------------------------------------------------- */

static const char *const type_names[] = {
    [EVENT_TICKET_CREATE] = "create",   [EVENT_TICKET_ACCEPT] = "accept",
    [EVENT_TICKET_COMMENT] = "comment", [EVENT_TICKET_STATUS] = "status",
    [EVENT_TICKET_REOPEN] = "reopen",
};
#define TYPE_MIN EVENT_TICKET_CREATE
#define TYPE_MAX EVENT_TICKET_REOPEN

static int type_known(int type)
{
    return type >= TYPE_MIN && type <= TYPE_MAX;
}

const char *event_type_name(int type)
{
    return type_known(type) ? type_names[type] : "unknown";
}

int event_type_parse(const char *name)
{
    if (name == NULL)
        return GD_EINVAL;
    for (int t = TYPE_MIN; t <= TYPE_MAX; t++)
        if (strcmp(name, type_names[t]) == 0)
            return t;
    return GD_EINVAL;
}

/* ---- life cycle ------------------------------------------------------ */

void event_init(struct event *e)
{
    memset(e, 0, sizeof *e);
    for (size_t i = 0; i < N_STR_FIELDS; i++)
        *str_at(e, str_fields[i]) = NULL;
}

void event_clear(struct event *e)
{
    for (size_t i = 0; i < N_STR_FIELDS; i++)
        free(*str_at(e, str_fields[i]));
    event_init(e);
}

int event_copy(struct event *dst, const struct event *src)
{
    event_clear(dst);
    dst->id = src->id;
    dst->type = src->type;
    for (size_t i = 0; i < N_STR_FIELDS; i++) {
        size_t off = str_fields[i];
        if (gd_strdup(str_at(dst, off), cstr_at(src, off)) != 0) {
            event_clear(dst);
            return GD_ENOMEM;
        }
    }
    return 0;
}

int event_cmp(const struct event *a, const struct event *b)
{
    int c = event_id_cmp(&a->id, &b->id);

    if (c != 0)
        return c;
    if (a->type != b->type)
        return a->type < b->type ? -1 : 1;
    for (size_t i = 0; i < N_STR_FIELDS; i++) {
        const char *x = cstr_at(a, str_fields[i]);
        const char *y = cstr_at(b, str_fields[i]);
        if (x == y)
            continue;
        if (x == NULL || y == NULL)
            return x == NULL ? -1 : 1;
        c = strcmp(x, y);
        if (c != 0)
            return c < 0 ? -1 : 1;
    }
    return 0;
}

/* ---- codec ----------------------------------------------------------- */

static int origin_packable(const struct event_id *id)
{
    return memchr(id->origin, '\0', sizeof id->origin) != NULL &&
           (id->origin[0] == '\0' || event_origin_valid(id->origin));
}

int event_id_pack(const struct event_id *id, msgpack_packer *pk)
{
    int rc;

    if (!origin_packable(id))
        return GD_EINVAL;
    if (msgpack_pack_array(pk, 3) != 0)
        return GD_ENOMEM;
    if ((rc = gd_mp_pack_str(pk, id->origin)) != 0)
        return rc;
    if (msgpack_pack_uint64(pk, id->hlc) != 0 ||
        msgpack_pack_uint32(pk, id->counter) != 0)
        return GD_ENOMEM;
    return 0;
}

/* The checks event_unpack makes, made on the sending side. */
static int event_packable(const struct event *e)
{
    if (!type_known(e->type) || !origin_packable(&e->id))
        return GD_EINVAL;
    for (size_t i = 0; i < N_STR_FIELDS; i++) {
        int rc = gd_mp_str_ok(cstr_at(e, str_fields[i]), GD_FIELD_MAX);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int event_pack(const struct event *e, msgpack_packer *pk)
{
    uint32_t n_payload = 0;
    int rc = event_packable(e);

    if (rc != 0)
        return rc;
    if (msgpack_pack_array(pk, EVENT_WIRE_LEN) != 0 ||
        msgpack_pack_uint32(pk, EVENT_CODEC_VERSION) != 0 ||
        msgpack_pack_int(pk, e->type) != 0)
        return GD_ENOMEM;
    if ((rc = event_id_pack(&e->id, pk)) != 0)
        return rc;
    for (size_t i = 0; i < N_HEAD_FIELDS; i++)
        if ((rc = gd_mp_pack_str(pk, cstr_at(e, head_fields[i].off))) != 0)
            return rc;
    for (size_t i = 0; i < N_PAYLOAD_FIELDS; i++)
        n_payload += cstr_at(e, payload_fields[i].off) != NULL;
    if (msgpack_pack_map(pk, n_payload) != 0)
        return GD_ENOMEM;
    for (size_t i = 0; i < N_PAYLOAD_FIELDS; i++) {
        const char *v = cstr_at(e, payload_fields[i].off);
        if (v == NULL)
            continue;
        if ((rc = gd_mp_pack_str(pk, payload_fields[i].key)) != 0 ||
            (rc = gd_mp_pack_str(pk, v)) != 0)
            return rc;
    }
    return 0;
}

int event_id_unpack(const msgpack_object *o, struct event_id *id,
                    struct gd_err *err)
{
    const msgpack_object *a;
    struct event_id v;
    uint64_t counter;
    uint32_t n;
    int rc;

    if ((rc = gd_mp_array(o, 3, "event id", err)) != 0)
        return rc;
    a = o->via.array.ptr;
    if (a[0].type != MSGPACK_OBJECT_STR)
        return gd_err_set(err, GD_ECORRUPT, "event id origin: not a string");
    n = a[0].via.str.size;
    if (n > GD_ORIGIN_MAX)
        return gd_err_set(err, GD_ECORRUPT,
                          "event id origin: %u bytes, limit %d", (unsigned)n,
                          GD_ORIGIN_MAX);
    memset(&v, 0, sizeof v);
    if (n > 0)
        memcpy(v.origin, a[0].via.str.ptr, n);
    if (n > 0 && (strlen(v.origin) != n || !event_origin_valid(v.origin)))
        return gd_err_set(err, GD_ECORRUPT,
                          "event id origin: not a valid origin code");
    if ((rc = gd_mp_uint(&a[1], UINT64_MAX, &v.hlc, "event id hlc", err)) != 0)
        return rc;
    if ((rc = gd_mp_uint(&a[2], UINT32_MAX, &counter, "event id counter",
                         err)) != 0)
        return rc;
    v.counter = (uint32_t)counter;
    *id = v;
    return 0;
}

static int unpack_payload(const msgpack_object *o, struct event *e,
                          struct gd_err *err)
{
    unsigned seen = 0;

    if (o->type != MSGPACK_OBJECT_MAP)
        return gd_err_set(err, GD_ECORRUPT, "event payload: not a map");
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object_kv *kv = &o->via.map.ptr[i];
        size_t f;
        int rc;

        if (kv->key.type != MSGPACK_OBJECT_STR)
            return gd_err_set(err, GD_ECORRUPT,
                              "event payload: key is not a string");
        for (f = 0; f < N_PAYLOAD_FIELDS; f++)
            if (kv->key.via.str.size == strlen(payload_fields[f].key) &&
                memcmp(kv->key.via.str.ptr, payload_fields[f].key,
                       kv->key.via.str.size) == 0)
                break;
        if (f == N_PAYLOAD_FIELDS)
            return gd_err_set(err, GD_ECORRUPT,
                              "event payload: unknown key (%u bytes)",
                              (unsigned)kv->key.via.str.size);
        if (seen & (1u << f))
            return gd_err_set(err, GD_ECORRUPT,
                              "event payload: key \"%s\" repeated",
                              payload_fields[f].key);
        seen |= 1u << f;
        /* An absent field is "not set"; nil would be a second spelling. */
        rc = gd_mp_str(&kv->val, 0, GD_FIELD_MAX,
                       str_at(e, payload_fields[f].off), payload_fields[f].name,
                       err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int unpack_fields(const msgpack_object *o, struct event *e,
                         struct gd_err *err)
{
    const msgpack_object *a;
    uint64_t v;
    int rc;

    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size < 1)
        return gd_err_set(err, GD_ECORRUPT, "event: not a non-empty array");
    a = o->via.array.ptr;
    if ((rc = gd_mp_uint(&a[0], UINT32_MAX, &v, "event version", err)) != 0)
        return rc;
    if (v != EVENT_CODEC_VERSION)
        return gd_err_set(err, GD_ECORRUPT, "event: unknown codec version %llu",
                          (unsigned long long)v);
    if ((rc = gd_mp_array(o, EVENT_WIRE_LEN, "event", err)) != 0)
        return rc;
    if ((rc = gd_mp_uint(&a[1], TYPE_MAX, &v, "event type", err)) != 0)
        return rc;
    if (!type_known((int)v))
        return gd_err_set(err, GD_ECORRUPT, "event type: unknown %llu",
                          (unsigned long long)v);
    e->type = (int)v;
    if ((rc = event_id_unpack(&a[2], &e->id, err)) != 0)
        return rc;
    for (size_t i = 0; i < N_HEAD_FIELDS; i++) {
        rc = gd_mp_str(&a[3 + i], 1, GD_FIELD_MAX,
                       str_at(e, head_fields[i].off), head_fields[i].name, err);
        if (rc != 0)
            return rc;
    }
    return unpack_payload(&a[3 + N_HEAD_FIELDS], e, err);
}

int event_unpack(const msgpack_object *o, struct event *e, struct gd_err *err)
{
    int rc;

    event_clear(e);
    rc = unpack_fields(o, e, err);
    if (rc != 0)
        event_clear(e);
    return rc;
}

static int pack_cb(msgpack_packer *pk, const void *arg)
{
    return event_pack(arg, pk);
}

int event_encode(const struct event *e, char **buf, size_t *len)
{
    return gd_mp_encode(pack_cb, e, buf, len);
}

static int unpack_cb(const msgpack_object *root, void *arg, struct gd_err *err)
{
    return event_unpack(root, arg, err);
}

int event_decode(const char *buf, size_t len, struct event *e,
                 struct gd_err *err)
{
    int rc;

    event_clear(e);
    rc = gd_mp_decode(buf, len, unpack_cb, e, err);
    if (rc != 0)
        event_clear(e);
    return rc;
}
