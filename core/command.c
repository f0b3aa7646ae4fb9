/* Command batches and the user/member/cluster records: see command.h.
 * Each record has one pack and one unpack function used both standalone
 * (storage values) and as the body of a command in a batch. */
#include "core/command.h"

#include <stdlib.h>
#include <string.h>

#include "core/util.h"

/* ---- life cycle ------------------------------------------------------ */

void user_rec_init(struct user_rec *u)
{
    u->name = u->role = u->pwhash = NULL;
    u->hlc = 0;
}

void member_rec_init(struct member_rec *m)
{
    m->id = 0;
    m->raft = m->http = NULL;
}

void cluster_rec_init(struct cluster_rec *c)
{
    c->cluster_id = c->region = NULL;
    memset(c->secret, 0, sizeof c->secret);
}

void user_rec_clear(struct user_rec *u)
{
    free(u->name);
    free(u->role);
    if (u->pwhash != NULL)
        explicit_bzero(u->pwhash, strlen(u->pwhash));
    free(u->pwhash);
    user_rec_init(u);
}

void member_rec_clear(struct member_rec *m)
{
    free(m->raft);
    free(m->http);
    member_rec_init(m);
}

void cluster_rec_clear(struct cluster_rec *c)
{
    free(c->cluster_id);
    free(c->region);
    explicit_bzero(c->secret, sizeof c->secret);
    cluster_rec_init(c);
}

void command_init(struct command *c)
{
    c->type = 0;
    event_init(&c->ev);
    user_rec_init(&c->user);
    member_rec_init(&c->member);
    cluster_rec_init(&c->cluster);
    kb_op_init(&c->kb);
}

void command_clear(struct command *c)
{
    event_clear(&c->ev);
    user_rec_clear(&c->user);
    member_rec_clear(&c->member);
    cluster_rec_clear(&c->cluster);
    kb_op_clear(&c->kb);
    c->type = 0;
}

/* ---- records: pack --------------------------------------------------- */

/* Packs strs[0..n) as str|nil, refusing (GD_ETOOBIG/GD_EINVAL) what
 * gd_mp_str would not read back.  A refused encoding is thrown away whole. */
static int pack_strs(msgpack_packer *pk, const char *const *strs, size_t n)
{
    int rc;

    for (size_t i = 0; i < n; i++)
        if ((rc = gd_mp_str_ok(strs[i], GD_FIELD_MAX)) != 0)
            return rc;
    for (size_t i = 0; i < n; i++)
        if ((rc = gd_mp_pack_str(pk, strs[i])) != 0)
            return rc;
    return 0;
}

static int pack_head(msgpack_packer *pk, uint32_t n)
{
    if (msgpack_pack_array(pk, n) != 0 ||
        msgpack_pack_uint32(pk, CMD_CODEC_VERSION) != 0)
        return GD_ENOMEM;
    return 0;
}

static int user_pack(msgpack_packer *pk, const void *arg)
{
    const struct user_rec *u = arg;
    const char *strs[] = {u->name, u->role, u->pwhash};
    int rc;

    if ((rc = pack_head(pk, 5)) || (rc = pack_strs(pk, strs, 3)))
        return rc;
    return msgpack_pack_uint64(pk, u->hlc) == 0 ? 0 : GD_ENOMEM;
}

static int member_pack(msgpack_packer *pk, const void *arg)
{
    const struct member_rec *m = arg;
    const char *strs[] = {m->raft, m->http};
    int rc;

    if ((rc = pack_head(pk, 4)))
        return rc;
    if (msgpack_pack_uint64(pk, m->id) != 0)
        return GD_ENOMEM;
    return pack_strs(pk, strs, 2);
}

static int cluster_pack(msgpack_packer *pk, const void *arg)
{
    const struct cluster_rec *c = arg;
    const char *strs[] = {c->cluster_id, c->region};
    int rc;

    if ((rc = pack_head(pk, 4)) || (rc = pack_strs(pk, strs, 2)))
        return rc;
    if (msgpack_pack_bin(pk, sizeof c->secret) != 0 ||
        msgpack_pack_bin_body(pk, c->secret, sizeof c->secret) != 0)
        return GD_ENOMEM;
    return 0;
}

/* ---- records: unpack ------------------------------------------------- */

/* Checks [version, ...] of exactly n elements. */
static int unpack_head(const msgpack_object *o, uint32_t n, const char *what,
                       struct gd_err *err)
{
    uint64_t v;
    int rc;

    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size < 1)
        return gd_err_set(err, GD_ECORRUPT, "%s: not a non-empty array", what);
    rc = gd_mp_uint(&o->via.array.ptr[0], UINT32_MAX, &v, what, err);
    if (rc != 0)
        return rc;
    if (v != CMD_CODEC_VERSION)
        return gd_err_set(err, GD_ECORRUPT, "%s: unknown codec version %llu",
                          what, (unsigned long long)v);
    return gd_mp_array(o, n, what, err);
}

static int user_unpack(const msgpack_object *o, void *arg, struct gd_err *err)
{
    struct user_rec *u = arg;
    const msgpack_object *a;
    int rc;

    if ((rc = unpack_head(o, 5, "user", err)))
        return rc;
    a = o->via.array.ptr;
    if ((rc = gd_mp_str(&a[1], 1, GD_FIELD_MAX, &u->name, "user name", err)) ||
        (rc = gd_mp_str(&a[2], 1, GD_FIELD_MAX, &u->role, "user role", err)) ||
        (rc =
             gd_mp_str(&a[3], 1, GD_FIELD_MAX, &u->pwhash, "user pwhash", err)))
        return rc;
    return gd_mp_uint(&a[4], UINT64_MAX, &u->hlc, "user hlc", err);
}

static int member_unpack(const msgpack_object *o, void *arg, struct gd_err *err)
{
    struct member_rec *m = arg;
    const msgpack_object *a;
    int rc;

    if ((rc = unpack_head(o, 4, "member", err)))
        return rc;
    a = o->via.array.ptr;
    if ((rc = gd_mp_uint(&a[1], UINT64_MAX, &m->id, "member id", err)))
        return rc;
    if ((rc = gd_mp_str(&a[2], 1, GD_FIELD_MAX, &m->raft, "member raft", err)))
        return rc;
    return gd_mp_str(&a[3], 1, GD_FIELD_MAX, &m->http, "member http", err);
}

static int cluster_unpack(const msgpack_object *o, void *arg,
                          struct gd_err *err)
{
    struct cluster_rec *c = arg;
    const msgpack_object *a;
    int rc;

    if ((rc = unpack_head(o, 4, "cluster", err)))
        return rc;
    a = o->via.array.ptr;
    if ((rc = gd_mp_str(&a[1], 1, GD_FIELD_MAX, &c->cluster_id, "cluster id",
                        err)) ||
        (rc = gd_mp_str(&a[2], 1, GD_FIELD_MAX, &c->region, "cluster region",
                        err)))
        return rc;
    if (a[3].type != MSGPACK_OBJECT_BIN ||
        a[3].via.bin.size != sizeof c->secret)
        return gd_err_set(err, GD_ECORRUPT,
                          "cluster secret: not %zu bytes of bin",
                          sizeof c->secret);
    memcpy(c->secret, a[3].via.bin.ptr, sizeof c->secret);
    return 0;
}

/* ---- records: public codecs ------------------------------------------ */

int user_rec_encode(const struct user_rec *u, char **buf, size_t *len)
{
    return gd_mp_encode(user_pack, u, buf, len);
}

int member_rec_encode(const struct member_rec *m, char **buf, size_t *len)
{
    return gd_mp_encode(member_pack, m, buf, len);
}

int cluster_rec_encode(const struct cluster_rec *c, char **buf, size_t *len)
{
    return gd_mp_encode(cluster_pack, c, buf, len);
}

int user_rec_decode(const char *buf, size_t len, struct user_rec *u,
                    struct gd_err *err)
{
    int rc;

    user_rec_clear(u);
    rc = gd_mp_decode(buf, len, user_unpack, u, err);
    if (rc != 0)
        user_rec_clear(u);
    return rc;
}

int member_rec_decode(const char *buf, size_t len, struct member_rec *m,
                      struct gd_err *err)
{
    int rc;

    member_rec_clear(m);
    rc = gd_mp_decode(buf, len, member_unpack, m, err);
    if (rc != 0)
        member_rec_clear(m);
    return rc;
}

int cluster_rec_decode(const char *buf, size_t len, struct cluster_rec *c,
                       struct gd_err *err)
{
    int rc;

    cluster_rec_clear(c);
    rc = gd_mp_decode(buf, len, cluster_unpack, c, err);
    if (rc != 0)
        cluster_rec_clear(c);
    return rc;
}

/* ---- batches --------------------------------------------------------- */

struct batch {
    const struct command *cmds;
    size_t n;
};

/* Elements of a command's array: [type, body], except CLUSTER_INIT, which
 * carries the cluster record and the first admin user: [type, cluster,
 * user].  0 for an unknown type. */
static uint32_t command_wire_len(int type)
{
    switch (type) {
    case CMD_TICKET:
    case CMD_USER_PUT:
    case CMD_MEMBER_PUT:
    case CMD_MEMBER_DEL:
    case CMD_KB: return 2;
    case CMD_CLUSTER_INIT: return 3;
    default: return 0;
    }
}

static int command_pack(msgpack_packer *pk, const struct command *c)
{
    uint32_t n = command_wire_len(c->type);
    int rc;

    if (n == 0)
        return GD_EINVAL;
    if (msgpack_pack_array(pk, n) != 0 || msgpack_pack_int(pk, c->type) != 0)
        return GD_ENOMEM;
    switch (c->type) {
    case CMD_TICKET: return event_pack(&c->ev, pk);
    case CMD_USER_PUT: return user_pack(pk, &c->user);
    case CMD_KB: return kb_op_pack(pk, &c->kb);
    case CMD_CLUSTER_INIT:
        if ((rc = cluster_pack(pk, &c->cluster)) != 0)
            return rc;
        return user_pack(pk, &c->user);
    default: return member_pack(pk, &c->member);
    }
}

static int batch_pack(msgpack_packer *pk, const void *arg)
{
    const struct batch *b = arg;
    int rc;

    if (b->n > CMD_BATCH_MAX)
        return GD_ETOOBIG;
    if (msgpack_pack_array(pk, 2) != 0 ||
        msgpack_pack_uint32(pk, CMD_CODEC_VERSION) != 0 ||
        msgpack_pack_array(pk, (uint32_t)b->n) != 0)
        return GD_ENOMEM;
    for (size_t i = 0; i < b->n; i++)
        if ((rc = command_pack(pk, &b->cmds[i])) != 0)
            return rc;
    return 0;
}

int cmd_batch_encode(const struct command *cmds, size_t n, char **buf,
                     size_t *len)
{
    struct batch b = {cmds, n};

    return gd_mp_encode(batch_pack, &b, buf, len);
}

struct batch_out {
    struct command *cmds;
    size_t n;
};

static int command_unpack(const msgpack_object *o, struct command *c,
                          struct gd_err *err)
{
    const msgpack_object *a;
    uint64_t type;
    int rc;

    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size < 2)
        return gd_err_set(err, GD_ECORRUPT,
                          "command: not an array of 2 or more");
    a = o->via.array.ptr;
    if ((rc = gd_mp_uint(&a[0], UINT32_MAX, &type, "command type", err)))
        return rc;
    if (command_wire_len((int)type) == 0 || type > CMD_KB)
        return gd_err_set(err, GD_ECORRUPT, "command type: unknown %llu",
                          (unsigned long long)type);
    if ((rc = gd_mp_array(o, command_wire_len((int)type), "command", err)))
        return rc;
    switch (type) {
    case CMD_TICKET: rc = event_unpack(&a[1], &c->ev, err); break;
    case CMD_USER_PUT: rc = user_unpack(&a[1], &c->user, err); break;
    case CMD_KB: rc = kb_op_unpack(&a[1], &c->kb, err); break;
    case CMD_CLUSTER_INIT:
        rc = cluster_unpack(&a[1], &c->cluster, err);
        if (rc == 0)
            rc = user_unpack(&a[2], &c->user, err);
        break;
    default: rc = member_unpack(&a[1], &c->member, err); break;
    }
    if (rc == 0)
        c->type = (int)type;
    return rc;
}

static int batch_unpack(const msgpack_object *o, void *arg, struct gd_err *err)
{
    struct batch_out *out = arg;
    const msgpack_object *list;
    uint64_t v;
    size_t n;
    int rc;

    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size < 1)
        return gd_err_set(err, GD_ECORRUPT, "batch: not a non-empty array");
    rc = gd_mp_uint(&o->via.array.ptr[0], UINT32_MAX, &v, "batch version", err);
    if (rc != 0)
        return rc;
    if (v != CMD_CODEC_VERSION)
        return gd_err_set(err, GD_ECORRUPT, "batch: unknown codec version %llu",
                          (unsigned long long)v);
    if ((rc = gd_mp_array(o, 2, "batch", err)))
        return rc;
    list = &o->via.array.ptr[1];
    if (list->type != MSGPACK_OBJECT_ARRAY)
        return gd_err_set(err, GD_ECORRUPT, "batch commands: not an array");
    n = list->via.array.size;
    if (n > CMD_BATCH_MAX)
        return gd_err_set(err, GD_ECORRUPT, "batch: %zu commands, limit %d", n,
                          CMD_BATCH_MAX);
    out->cmds = malloc((n > 0 ? n : 1) * sizeof *out->cmds);
    if (out->cmds == NULL)
        return gd_err_set(err, GD_ENOMEM, "batch: out of memory");
    for (size_t i = 0; i < n; i++)
        command_init(&out->cmds[i]);
    out->n = n;
    for (size_t i = 0; i < n; i++) {
        rc = command_unpack(&list->via.array.ptr[i], &out->cmds[i], err);
        if (rc != 0) {
            if (err != NULL && rc == GD_ECORRUPT) {
                char msg[GD_ERR_MSG_MAX];
                memcpy(msg, err->msg, sizeof msg);
                msg[sizeof msg - 1] = '\0';
                gd_err_set(err, rc, "command %zu: %s", i, msg);
            }
            return rc;
        }
    }
    return 0;
}

int cmd_batch_decode(const char *buf, size_t len, struct command **cmds,
                     size_t *n, struct gd_err *err)
{
    return cmd_batch_decode_in(NULL, buf, len, cmds, n, err);
}

int cmd_batch_decode_in(struct msgpack_zone *zone, const char *buf,
                        size_t len, struct command **cmds, size_t *n,
                        struct gd_err *err)
{
    struct batch_out out = {NULL, 0};
    int rc;

    *cmds = NULL;
    *n = 0;
    rc = gd_mp_decode_in(zone, buf, len, batch_unpack, &out, err);
    if (rc != 0) {
        cmd_batch_free(out.cmds, out.n);
        return rc;
    }
    *cmds = out.cmds;
    *n = out.n;
    return 0;
}

void cmd_batch_free(struct command *cmds, size_t n)
{
    if (cmds == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        command_clear(&cmds[i]);
    free(cmds);
}
