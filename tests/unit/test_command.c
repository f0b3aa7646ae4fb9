/* Unit tests for core/command: batch and record codecs round-trip every
 * command type byte-exactly, and refuse truncated, trailing, mistyped,
 * oversized and unknown input with GD_ECORRUPT. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <msgpack.h>

#include "core/command.h"
#include "core/error.h"
#include "core/util.h"

static char *xstrdup(const char *s)
{
    char *p = NULL;
    assert_int_equal(gd_strdup(&p, s), 0);
    return p;
}

/* One command of each type. */
#define N_SAMPLE 5
static void sample(struct command *c)
{
    for (int i = 0; i < N_SAMPLE; i++)
        command_init(&c[i]);
    c[0].type = CMD_TICKET;
    c[0].ev.type = EVENT_TICKET_CREATE;
    strcpy(c[0].ev.id.origin, "n1");
    c[0].ev.id.hlc = 117661245538566144ULL;
    c[0].ev.entity = xstrdup("n1-20261122-0001");
    c[0].ev.actor = xstrdup("a1");
    c[0].ev.channel = xstrdup("hotline");
    c[0].ev.customer = xstrdup("0301234567");
    c[0].ev.cls = xstrdup("complaint");
    c[0].ev.summary = xstrdup("抄表数据异常");
    c[1].type = CMD_USER_PUT;
    c[1].user.name = xstrdup("alice");
    c[1].user.role = xstrdup("admin");
    c[1].user.pwhash = xstrdup("$argon2id$v=19$m=65536,t=2,p=1$abc$def");
    c[1].user.hlc = 42;
    c[2].type = CMD_MEMBER_PUT;
    c[2].member.id = 3;
    c[2].member.raft = xstrdup("127.0.0.1:9003");
    c[2].member.http = xstrdup("127.0.0.1:8003");
    c[3].type = CMD_MEMBER_DEL;
    c[3].member.id = UINT64_MAX;
    c[4].type = CMD_CLUSTER_INIT;
    c[4].cluster.cluster_id = xstrdup("c-7f3a");
    c[4].cluster.region = xstrdup("肇庆");
    for (int i = 0; i < CLUSTER_SECRET_LEN; i++)
        c[4].cluster.secret[i] = (unsigned char)(i * 37 + 1);
    c[4].user.name = xstrdup("admin"); /* the first admin rides along */
    c[4].user.role = xstrdup("admin");
    c[4].user.pwhash = xstrdup("$argon2id$first");
}

static void free_sample(struct command *c)
{
    for (int i = 0; i < N_SAMPLE; i++)
        command_clear(&c[i]);
}

static int str_eq(const char *a, const char *b)
{
    return (a == NULL || b == NULL) ? a == b : strcmp(a, b) == 0;
}

static void assert_commands_equal(const struct command *a,
                                  const struct command *b)
{
    assert_int_equal(a->type, b->type);
    assert_int_equal(event_cmp(&a->ev, &b->ev), 0);
    assert_true(str_eq(a->user.name, b->user.name));
    assert_true(str_eq(a->user.role, b->user.role));
    assert_true(str_eq(a->user.pwhash, b->user.pwhash));
    assert_int_equal(a->user.hlc, b->user.hlc);
    assert_int_equal(a->member.id, b->member.id);
    assert_true(str_eq(a->member.raft, b->member.raft));
    assert_true(str_eq(a->member.http, b->member.http));
    assert_true(str_eq(a->cluster.cluster_id, b->cluster.cluster_id));
    assert_true(str_eq(a->cluster.region, b->cluster.region));
    assert_memory_equal(a->cluster.secret, b->cluster.secret,
                        CLUSTER_SECRET_LEN);
}

/* Decoding must fail with GD_ECORRUPT and leave *cmds NULL, *n 0. */
static int batch_corrupt(const char *buf, size_t len)
{
    struct command *cmds = (struct command *)1;
    size_t n = 99;
    struct gd_err err = {0, ""};
    int rc = cmd_batch_decode(buf, len, &cmds, &n, &err);
    if (rc == 0)
        cmd_batch_free(cmds, n);
    if (rc != GD_ECORRUPT)
        return rc == 0 ? 1 : rc;
    assert_null(cmds);
    assert_int_equal(n, 0);
    assert_true(err.msg[0] != '\0');
    return 0;
}

static void test_batch_roundtrip(void **state)
{
    (void)state;
    struct command c[N_SAMPLE], *out;
    size_t len, len2, n;
    char *buf, *buf2;
    sample(c);
    assert_int_equal(cmd_batch_encode(c, N_SAMPLE, &buf, &len), 0);
    assert_int_equal(cmd_batch_decode(buf, len, &out, &n, NULL), 0);
    assert_int_equal(n, N_SAMPLE);
    for (int i = 0; i < N_SAMPLE; i++)
        assert_commands_equal(&c[i], &out[i]);
    /* re-encoding gives the same bytes: replicas can compare entries */
    assert_int_equal(cmd_batch_encode(out, n, &buf2, &len2), 0);
    assert_int_equal(len, len2);
    assert_memory_equal(buf, buf2, len);
    cmd_batch_free(out, n);
    free(buf);
    free(buf2);
    /* only the part the type names is carried */
    c[2].user.name = xstrdup("ignored");
    assert_int_equal(cmd_batch_encode(&c[2], 1, &buf, &len), 0);
    assert_int_equal(cmd_batch_decode(buf, len, &out, &n, NULL), 0);
    assert_null(out[0].user.name);
    assert_string_equal(out[0].member.raft, "127.0.0.1:9003");
    cmd_batch_free(out, n);
    free(buf);
    free_sample(c);
}

/* A kept zone (as the FSM keeps one) decodes like a fresh one, call after
 * call: with a chunk far smaller than the entry (the zone grows, then is
 * cleared back), after a refused input, and for every cut of the entry. */
static void test_batch_decode_in_kept_zone(void **state)
{
    (void)state;
    struct command c[N_SAMPLE], *out;
    size_t len, n;
    char *buf;
    sample(c);
    assert_int_equal(cmd_batch_encode(c, N_SAMPLE, &buf, &len), 0);
    msgpack_zone *z = msgpack_zone_new(64);
    assert_non_null(z);
    for (int round = 0; round < 3; round++) {
        assert_int_equal(cmd_batch_decode_in(z, buf, len, &out, &n, NULL), 0);
        assert_int_equal(n, N_SAMPLE);
        for (int i = 0; i < N_SAMPLE; i++)
            assert_commands_equal(&c[i], &out[i]);
        cmd_batch_free(out, n);
        for (size_t cut = 0; cut < len; cut++) {
            struct gd_err err = {0, ""};
            if (cmd_batch_decode_in(z, buf, cut, &out, &n, &err) == 0)
                fail_msg("cut at %zu of %zu decoded", cut, len);
            assert_null(out);
            assert_int_equal(n, 0);
        }
    }
    msgpack_zone_free(z);
    free(buf);
    free_sample(c);
}

static void test_batch_empty_and_limits(void **state)
{
    (void)state;
    struct command *out, *many;
    size_t len, n;
    char *buf;
    assert_int_equal(cmd_batch_encode(NULL, 0, &buf, &len), 0);
    assert_int_equal(cmd_batch_decode(buf, len, &out, &n, NULL), 0);
    assert_int_equal(n, 0);
    assert_non_null(out);
    cmd_batch_free(out, n);
    free(buf);
    cmd_batch_free(NULL, 0);

    /* CMD_BATCH_MAX commands pass, one more does not */
    many = calloc(CMD_BATCH_MAX + 1, sizeof *many);
    for (size_t i = 0; i <= CMD_BATCH_MAX; i++) {
        command_init(&many[i]);
        many[i].type = CMD_MEMBER_DEL;
        many[i].member.id = i;
    }
    assert_int_equal(cmd_batch_encode(many, CMD_BATCH_MAX, &buf, &len), 0);
    assert_int_equal(cmd_batch_decode(buf, len, &out, &n, NULL), 0);
    assert_int_equal(n, CMD_BATCH_MAX);
    assert_int_equal(out[CMD_BATCH_MAX - 1].member.id, CMD_BATCH_MAX - 1);
    cmd_batch_free(out, n);
    free(buf);
    assert_int_equal(cmd_batch_encode(many, CMD_BATCH_MAX + 1, &buf, &len),
                     GD_ETOOBIG);
    assert_null(buf);
    free(many);

    /* a hand-made batch of CMD_BATCH_MAX + 1 commands is refused */
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_uint32(&pk, 1);
    msgpack_pack_array(&pk, CMD_BATCH_MAX + 1);
    for (int i = 0; i <= CMD_BATCH_MAX; i++) {
        msgpack_pack_array(&pk, 2);
        msgpack_pack_int(&pk, CMD_MEMBER_DEL);
        msgpack_pack_array(&pk, 4);
        msgpack_pack_uint32(&pk, 1);
        msgpack_pack_uint32(&pk, i);
        msgpack_pack_nil(&pk);
        msgpack_pack_nil(&pk);
    }
    assert_int_equal(batch_corrupt(sb.data, sb.size), 0);
    msgpack_sbuffer_destroy(&sb);
}

static void test_batch_encode_refuses(void **state)
{
    (void)state;
    struct command c[N_SAMPLE];
    size_t len;
    char *buf;
    sample(c);
    c[1].type = 0;
    assert_int_equal(cmd_batch_encode(c, N_SAMPLE, &buf, &len), GD_EINVAL);
    assert_null(buf);
    c[1].type = 6;
    assert_int_equal(cmd_batch_encode(c, N_SAMPLE, &buf, &len), GD_EINVAL);
    c[1].type = CMD_USER_PUT;
    c[0].ev.type = 0; /* bad event inside */
    assert_int_equal(cmd_batch_encode(c, N_SAMPLE, &buf, &len), GD_EINVAL);
    c[0].ev.type = EVENT_TICKET_CREATE;
    free(c[2].member.http);
    c[2].member.http = xstrdup("\xe4\xb8"); /* truncated UTF-8 */
    assert_int_equal(cmd_batch_encode(c, N_SAMPLE, &buf, &len), GD_EINVAL);
    free_sample(c);
}

static void test_batch_truncated_and_trailing(void **state)
{
    (void)state;
    struct command c[N_SAMPLE];
    size_t len;
    char *buf;
    sample(c);
    assert_int_equal(cmd_batch_encode(c, N_SAMPLE, &buf, &len), 0);
    for (size_t cut = 0; cut < len; cut++) {
        char *p = malloc(cut ? cut : 1);
        memcpy(p, buf, cut);
        if (batch_corrupt(cut ? p : NULL, cut) != 0)
            fail_msg("truncated at %zu of %zu decoded", cut, len);
        free(p);
    }
    char *p = malloc(len + 1);
    memcpy(p, buf, len);
    p[len] = (char)0x90;
    assert_int_equal(batch_corrupt(p, len + 1), 0);
    free(p);
    free(buf);
    free_sample(c);
}

static void pk_s(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

static void pk_user(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 5);
    msgpack_pack_uint32(pk, 1);
    pk_s(pk, "admin");
    pk_s(pk, "admin");
    msgpack_pack_nil(pk);
    msgpack_pack_uint64(pk, 9);
}

/* Builds [version, [[type, body]]] with the given pieces ([type, body,
 * user] for CLUSTER_INIT, unless extra < 0: then no user; extra > 0: one
 * element too many). */
static int g_extra;
static char *one(uint32_t version, int type_kind, int type,
                 void (*body)(msgpack_packer *), size_t *len)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_uint32(&pk, version);
    msgpack_pack_array(&pk, 1);
    int cluster = type_kind == 0 && type == CMD_CLUSTER_INIT;
    msgpack_pack_array(&pk, (size_t)(2 + cluster + g_extra));
    if (type_kind == 0)
        msgpack_pack_int(&pk, type);
    else
        msgpack_pack_str(&pk, 0);
    body(&pk);
    if (cluster && g_extra >= 0)
        pk_user(&pk);
    if (g_extra > 0)
        msgpack_pack_nil(&pk);
    *len = sb.size;
    return msgpack_sbuffer_release(&sb);
}

static void body_member(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 4);
    msgpack_pack_uint32(pk, 1);
    msgpack_pack_uint32(pk, 7);
    pk_s(pk, "h:1");
    pk_s(pk, "h:2");
}
static void body_member_v2(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 4);
    msgpack_pack_uint32(pk, 2);
    msgpack_pack_uint32(pk, 7);
    pk_s(pk, "h:1");
    pk_s(pk, "h:2");
}
static void body_member_neg_id(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 4);
    msgpack_pack_uint32(pk, 1);
    msgpack_pack_int(pk, -7);
    pk_s(pk, "h:1");
    pk_s(pk, "h:2");
}
static void body_member_3(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 3);
    msgpack_pack_uint32(pk, 1);
    msgpack_pack_uint32(pk, 7);
    pk_s(pk, "h:1");
}
static void body_member_bin_addr(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 4);
    msgpack_pack_uint32(pk, 1);
    msgpack_pack_uint32(pk, 7);
    msgpack_pack_bin(pk, 3);
    msgpack_pack_bin_body(pk, "h:1", 3);
    pk_s(pk, "h:2");
}
static void body_user_hlc_str(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 5);
    msgpack_pack_uint32(pk, 1);
    pk_s(pk, "u");
    pk_s(pk, "agent");
    msgpack_pack_nil(pk);
    pk_s(pk, "42");
}
static void body_cluster_short_secret(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 4);
    msgpack_pack_uint32(pk, 1);
    pk_s(pk, "c");
    pk_s(pk, "r");
    msgpack_pack_bin(pk, 31);
    msgpack_pack_bin_body(pk, "0123456789012345678901234567890", 31);
}
static void body_cluster_str_secret(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 4);
    msgpack_pack_uint32(pk, 1);
    pk_s(pk, "c");
    pk_s(pk, "r");
    pk_s(pk, "01234567890123456789012345678901");
}
static void body_nil(msgpack_packer *pk)
{
    msgpack_pack_nil(pk);
}
static void body_cluster(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 4);
    msgpack_pack_uint32(pk, 1);
    pk_s(pk, "c");
    pk_s(pk, "r");
    msgpack_pack_bin(pk, 32);
    msgpack_pack_bin_body(pk, "01234567890123456789012345678901", 32);
}

static void test_batch_malformed_table(void **state)
{
    (void)state;
    size_t len;
    char *buf;
    struct command *out;
    size_t n;
    /* the template itself is valid */
    g_extra = 0;
    buf = one(1, 0, CMD_MEMBER_PUT, body_member, &len);
    assert_int_equal(cmd_batch_decode(buf, len, &out, &n, NULL), 0);
    assert_int_equal(out[0].member.id, 7);
    cmd_batch_free(out, n);
    free(buf);
    buf = one(1, 0, CMD_CLUSTER_INIT, body_cluster, &len);
    assert_int_equal(cmd_batch_decode(buf, len, &out, &n, NULL), 0);
    assert_string_equal(out[0].cluster.region, "r");
    assert_string_equal(out[0].user.name, "admin");
    cmd_batch_free(out, n);
    free(buf);
    /* a command with one element too few or too many */
    static const struct {
        int type;
        void (*body)(msgpack_packer *);
    } arity[] = {{CMD_MEMBER_PUT, body_member},
                 {CMD_CLUSTER_INIT, body_cluster}};
    for (int extra = -1; extra <= 1; extra += 2)
        for (size_t i = 0; i < 2; i++) {
            if (extra < 0 && arity[i].type != CMD_CLUSTER_INIT)
                continue; /* [type] alone is in the shapes below */
            g_extra = extra;
            buf = one(1, 0, arity[i].type, arity[i].body, &len);
            if (batch_corrupt(buf, len) != 0)
                fail_msg("arity case type %d extra %d decoded", arity[i].type,
                         extra);
            free(buf);
        }
    g_extra = 0;

    static const struct {
        const char *name;
        uint32_t version;
        int type_kind, type;
        void (*body)(msgpack_packer *);
    } cases[] = {
        {"batch version 2", 2, 0, CMD_MEMBER_PUT, body_member},
        {"batch version 0", 0, 0, CMD_MEMBER_PUT, body_member},
        {"type 0", 1, 0, 0, body_member},
        {"type 6", 1, 0, 6, body_member},
        {"type -1", 1, 0, -1, body_member},
        {"type as string", 1, 1, 0, body_member},
        {"record version 2", 1, 0, CMD_MEMBER_PUT, body_member_v2},
        {"member id negative", 1, 0, CMD_MEMBER_PUT, body_member_neg_id},
        {"member 3 elements", 1, 0, CMD_MEMBER_DEL, body_member_3},
        {"member addr bin", 1, 0, CMD_MEMBER_PUT, body_member_bin_addr},
        {"member body for user", 1, 0, CMD_USER_PUT, body_member},
        {"member body for ticket", 1, 0, CMD_TICKET, body_member},
        {"member body for cluster", 1, 0, CMD_CLUSTER_INIT, body_member},
        {"user hlc string", 1, 0, CMD_USER_PUT, body_user_hlc_str},
        {"secret 31 bytes", 1, 0, CMD_CLUSTER_INIT, body_cluster_short_secret},
        {"secret as str", 1, 0, CMD_CLUSTER_INIT, body_cluster_str_secret},
        {"nil body", 1, 0, CMD_TICKET, body_nil},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        buf = one(cases[i].version, cases[i].type_kind, cases[i].type,
                  cases[i].body, &len);
        if (batch_corrupt(buf, len) != 0)
            fail_msg("case \"%s\" decoded", cases[i].name);
        free(buf);
    }
    /* shapes around the batch */
    static const struct {
        const char *b;
        size_t len;
    } shapes[] = {
        {"\x90", 1},                         /* [] */
        {"\x91\x01", 2},                     /* [1] */
        {"\x92\x01\xc0", 3},                 /* [1, nil] */
        {"\x92\x01\x80", 3},                 /* [1, {}] */
        {"\x93\x01\x90\xc0", 4},             /* [1, [], nil] */
        {"\x92\x01\x91\x90", 4},             /* [1, [[]]] */
        {"\x92\x01\x91\x91\x01", 5},         /* [1, [[1]]] */
        {"\x92\x01\xdd\xff\xff\xff\xff", 7}, /* 4G commands claimed */
        {"\x80", 1},
        {"\xc0", 1},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        if (batch_corrupt(shapes[i].b, shapes[i].len) != 0)
            fail_msg("shape %zu decoded", i);
    /* the error names the failing command's position */
    {
        struct command c[N_SAMPLE];
        struct gd_err err = {0, ""};
        sample(c);
        assert_int_equal(cmd_batch_encode(c, N_SAMPLE, &buf, &len), 0);
        /* the cluster secret is the only bin (bin8 header c4 20): make it
         * a str8 of the same size */
        char *hdr = memmem(buf, len, "\xc4\x20", 2);
        assert_non_null(hdr);
        *hdr = (char)0xd9;
        struct command *o = NULL;
        size_t on = 0;
        assert_int_equal(cmd_batch_decode(buf, len, &o, &on, &err),
                         GD_ECORRUPT);
        assert_non_null(strstr(err.msg, "command 4"));
        assert_non_null(strstr(err.msg, "secret"));
        free(buf);
        free_sample(c);
    }
}

static void test_batch_mutations(void **state)
{
    (void)state;
    struct command c[N_SAMPLE], *out;
    size_t len, n;
    char *buf;
    uint64_t seed = 2026;
    int ok = 0;
    sample(c);
    assert_int_equal(cmd_batch_encode(c, N_SAMPLE, &buf, &len), 0);
    char *m = malloc(len);
    for (int it = 0; it < 20000; it++) {
        memcpy(m, buf, len);
        for (int k = 0; k < 1 + it % 3; k++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            m[(seed >> 33) % len] = (char)(seed >> 21);
        }
        int rc = cmd_batch_decode(m, len, &out, &n, NULL);
        if (rc == 0) {
            char *re;
            size_t relen;
            assert_int_equal(cmd_batch_encode(out, n, &re, &relen), 0);
            free(re);
            cmd_batch_free(out, n);
            ok++;
        } else {
            assert_int_equal(rc, GD_ECORRUPT);
        }
    }
    assert_true(ok > 0);
    free(m);
    free(buf);
    free_sample(c);
}

/* ---- records ---------------------------------------------------------- */

static void test_records_roundtrip(void **state)
{
    (void)state;
    struct command c[N_SAMPLE];
    struct user_rec u;
    struct member_rec m;
    struct cluster_rec k;
    size_t len;
    char *buf;
    sample(c);
    user_rec_init(&u);
    member_rec_init(&m);
    cluster_rec_init(&k);

    assert_int_equal(user_rec_encode(&c[1].user, &buf, &len), 0);
    assert_int_equal(user_rec_decode(buf, len, &u, NULL), 0);
    assert_string_equal(u.name, "alice");
    assert_string_equal(u.role, "admin");
    assert_string_equal(u.pwhash, c[1].user.pwhash);
    assert_int_equal(u.hlc, 42);
    assert_int_equal(user_rec_decode(buf, len, &u, NULL), 0); /* reuse */
    free(buf);

    assert_int_equal(member_rec_encode(&c[2].member, &buf, &len), 0);
    assert_int_equal(member_rec_decode(buf, len, &m, NULL), 0);
    assert_int_equal(m.id, 3);
    assert_string_equal(m.raft, "127.0.0.1:9003");
    assert_string_equal(m.http, "127.0.0.1:8003");
    free(buf);
    assert_int_equal(member_rec_encode(&c[3].member, &buf, &len), 0);
    assert_int_equal(member_rec_decode(buf, len, &m, NULL), 0);
    assert_int_equal(m.id, UINT64_MAX);
    assert_null(m.raft);
    free(buf);

    assert_int_equal(cluster_rec_encode(&c[4].cluster, &buf, &len), 0);
    assert_int_equal(cluster_rec_decode(buf, len, &k, NULL), 0);
    assert_string_equal(k.cluster_id, "c-7f3a");
    assert_string_equal(k.region, "肇庆");
    assert_memory_equal(k.secret, c[4].cluster.secret, CLUSTER_SECRET_LEN);
    free(buf);
    /* a user record with every string nil */
    struct user_rec empty;
    user_rec_init(&empty);
    assert_int_equal(user_rec_encode(&empty, &buf, &len), 0);
    assert_int_equal(gd_strdup(&u.name, "x"), 0);
    assert_int_equal(user_rec_decode(buf, len, &u, NULL), 0);
    assert_null(u.name);
    assert_null(u.pwhash);
    free(buf);

    /* clear wipes the secret */
    cluster_rec_clear(&k);
    unsigned char zero[CLUSTER_SECRET_LEN] = {0};
    assert_memory_equal(k.secret, zero, sizeof zero);
    assert_null(k.cluster_id);

    user_rec_clear(&u);
    member_rec_clear(&m);
    free_sample(c);
}

static void test_records_malformed(void **state)
{
    (void)state;
    struct command c[N_SAMPLE];
    size_t lens[3];
    char *bufs[3];
    sample(c);
    assert_int_equal(user_rec_encode(&c[1].user, &bufs[0], &lens[0]), 0);
    assert_int_equal(member_rec_encode(&c[2].member, &bufs[1], &lens[1]), 0);
    assert_int_equal(cluster_rec_encode(&c[4].cluster, &bufs[2], &lens[2]), 0);
    for (int r = 0; r < 3; r++) {
        /* truncated at every offset, and one trailing byte */
        for (size_t cut = 0; cut <= lens[r]; cut++) {
            size_t l = cut < lens[r] ? cut : lens[r] + 1;
            char *p = malloc(l ? l : 1);
            memcpy(p, bufs[r], cut < lens[r] ? cut : lens[r]);
            if (cut == lens[r])
                p[lens[r]] = 0;
            struct gd_err err = {0, ""};
            int rc;
            if (r == 0) {
                struct user_rec u;
                user_rec_init(&u);
                u.name = xstrdup("old");
                rc = user_rec_decode(l ? p : NULL, l, &u, &err);
                assert_null(u.name);
            } else if (r == 1) {
                struct member_rec m;
                member_rec_init(&m);
                m.raft = xstrdup("old");
                rc = member_rec_decode(l ? p : NULL, l, &m, &err);
                assert_null(m.raft);
            } else {
                struct cluster_rec k;
                cluster_rec_init(&k);
                k.region = xstrdup("old");
                rc = cluster_rec_decode(l ? p : NULL, l, &k, &err);
                assert_null(k.region);
            }
            if (rc != GD_ECORRUPT)
                fail_msg("record %d cut %zu: %d", r, cut, rc);
            assert_true(err.msg[0] != '\0');
            free(p);
        }
        /* one record type is not another */
        for (int o = 0; o < 3; o++) {
            if (o == r)
                continue;
            int rc;
            if (o == 0) {
                struct user_rec u;
                user_rec_init(&u);
                rc = user_rec_decode(bufs[r], lens[r], &u, NULL);
                user_rec_clear(&u);
            } else if (o == 1) {
                struct member_rec m;
                member_rec_init(&m);
                rc = member_rec_decode(bufs[r], lens[r], &m, NULL);
                member_rec_clear(&m);
            } else {
                struct cluster_rec k;
                cluster_rec_init(&k);
                rc = cluster_rec_decode(bufs[r], lens[r], &k, NULL);
                cluster_rec_clear(&k);
            }
            if (rc != GD_ECORRUPT)
                fail_msg("record %d decoded as %d", r, o);
        }
        free(bufs[r]);
    }
    /* oversized strings are refused both ways */
    struct user_rec u;
    user_rec_init(&u);
    u.name = malloc(GD_FIELD_MAX + 2);
    memset(u.name, 'n', GD_FIELD_MAX + 1);
    u.name[GD_FIELD_MAX + 1] = '\0';
    char *buf;
    size_t len;
    assert_int_equal(user_rec_encode(&u, &buf, &len), GD_ETOOBIG);
    user_rec_clear(&u);
    free_sample(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_roundtrip),
        cmocka_unit_test(test_batch_decode_in_kept_zone),
        cmocka_unit_test(test_batch_empty_and_limits),
        cmocka_unit_test(test_batch_encode_refuses),
        cmocka_unit_test(test_batch_truncated_and_trailing),
        cmocka_unit_test(test_batch_malformed_table),
        cmocka_unit_test(test_batch_mutations),
        cmocka_unit_test(test_records_roundtrip),
        cmocka_unit_test(test_records_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
