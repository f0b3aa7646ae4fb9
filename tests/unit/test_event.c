/* Unit tests for core/event (ids, types, codec) and the core/util helpers
 * the codecs stand on (time formatting, UTF-8, the msgpack pre-scan).
 * Malformed input of every kind must give GD_ECORRUPT, never a crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <msgpack.h>

#include "core/error.h"
#include "core/event.h"
#include "core/util.h"

/* ---- helpers --------------------------------------------------------- */

static char *xstrdup(const char *s)
{
    char *p = NULL;
    assert_int_equal(gd_strdup(&p, s), 0);
    return p;
}

static void full_event(struct event *e)
{
    event_init(e);
    strcpy(e->id.origin, "ZQ-DH01");
    e->id.hlc = 0x1a2b3c4d5e6f7788ULL;
    e->id.counter = 4000000000u;
    e->type = EVENT_TICKET_CREATE;
    e->entity = xstrdup("ZQ-DH01-20261122-0042");
    e->actor = xstrdup("agent7");
    e->channel = xstrdup("hall");
    e->node = xstrdup("ZQ-DH01");
    e->customer = xstrdup("0301234567");
    e->cls = xstrdup("fault_repair");
    e->summary = xstrdup("整栋楼停电 / 整棟樓停電");
    e->description = xstrdup("客户报告：变压器有异响，约 08:10 起停电。");
    e->owner = xstrdup("agent7");
    e->text = xstrdup("");
    e->status = xstrdup("accepted");
}

static void assert_event_cleared(const struct event *e)
{
    struct event z;
    event_init(&z);
    assert_memory_equal(e, &z, sizeof z);
}

static void assert_events_equal(const struct event *a, const struct event *b)
{
    assert_int_equal(event_cmp(a, b), 0);
    assert_int_equal(event_id_cmp(&a->id, &b->id), 0);
    assert_string_equal(a->id.origin, b->id.origin);
}

/* Packs with fn into a malloc'd buffer. */
static char *build(void (*fn)(msgpack_packer *pk), size_t *len)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    fn(&pk);
    *len = sb.size;
    return msgpack_sbuffer_release(&sb);
}

static void pk_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

static void pk_strn(msgpack_packer *pk, const char *s, size_t n)
{
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

static void pk_id(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 3);
    pk_str(pk, "n1");
    msgpack_pack_uint64(pk, 77);
    msgpack_pack_uint32(pk, 1);
}

/* A valid event with a hook at each position that a bad case replaces. */
enum slot { S_NONE, S_VERSION, S_TYPE, S_ID, S_ENTITY, S_PAYLOAD, S_COUNT };
static void (*g_bad)(msgpack_packer *pk);
static enum slot g_slot;
static int g_len = 8;

static void pk_event(msgpack_packer *pk)
{
    msgpack_pack_array(pk, (size_t)g_len);
    if (g_slot == S_VERSION)
        g_bad(pk);
    else
        msgpack_pack_uint32(pk, 1);
    if (g_slot == S_TYPE)
        g_bad(pk);
    else
        msgpack_pack_uint32(pk, 3);
    if (g_slot == S_ID)
        g_bad(pk);
    else
        pk_id(pk);
    if (g_slot == S_ENTITY)
        g_bad(pk);
    else
        pk_str(pk, "n1-20261122-0001");
    pk_str(pk, "agent7");
    msgpack_pack_nil(pk);
    msgpack_pack_nil(pk);
    if (g_slot == S_PAYLOAD) {
        g_bad(pk);
    } else {
        msgpack_pack_map(pk, 1);
        pk_str(pk, "tx");
        pk_str(pk, "hello");
    }
    for (int i = 8; i < g_len; i++)
        msgpack_pack_nil(pk);
}

static void b_v2(msgpack_packer *pk)
{
    msgpack_pack_uint32(pk, 2);
}
static void b_v0(msgpack_packer *pk)
{
    msgpack_pack_uint32(pk, 0);
}
static void b_str(msgpack_packer *pk)
{
    pk_str(pk, "1");
}
static void b_neg(msgpack_packer *pk)
{
    msgpack_pack_int(pk, -1);
}
static void b_nil(msgpack_packer *pk)
{
    msgpack_pack_nil(pk);
}
static void b_float(msgpack_packer *pk)
{
    msgpack_pack_double(pk, 1.0);
}
static void b_t6(msgpack_packer *pk)
{
    msgpack_pack_uint32(pk, 6);
}
static void b_big(msgpack_packer *pk)
{
    msgpack_pack_uint64(pk, 1ULL << 40);
}
static void b_int(msgpack_packer *pk)
{
    msgpack_pack_int(pk, 5);
}
static void b_bin(msgpack_packer *pk)
{
    msgpack_pack_bin(pk, 2);
    msgpack_pack_bin_body(pk, "ab", 2);
}
static void b_id2(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 2);
    pk_str(pk, "n1");
    msgpack_pack_uint64(pk, 77);
}
static void b_id4(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 4);
    pk_str(pk, "n1");
    msgpack_pack_uint64(pk, 77);
    msgpack_pack_uint32(pk, 1);
    msgpack_pack_uint32(pk, 1);
}
static void b_id_origin_long(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 3);
    pk_str(pk, "abcdefghijabcdefghijabcdefghijabc"); /* 33 bytes */
    msgpack_pack_uint64(pk, 77);
    msgpack_pack_uint32(pk, 1);
}
static void b_id_origin_slash(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 3);
    pk_str(pk, "n/1");
    msgpack_pack_uint64(pk, 77);
    msgpack_pack_uint32(pk, 1);
}
static void b_id_origin_nul(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 3);
    pk_strn(pk, "n1\0x", 4);
    msgpack_pack_uint64(pk, 77);
    msgpack_pack_uint32(pk, 1);
}
static void b_id_origin_int(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 3);
    msgpack_pack_int(pk, 1);
    msgpack_pack_uint64(pk, 77);
    msgpack_pack_uint32(pk, 1);
}
static void b_id_hlc_neg(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 3);
    pk_str(pk, "n1");
    msgpack_pack_int64(pk, -77);
    msgpack_pack_uint32(pk, 1);
}
static void b_id_counter_big(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 3);
    pk_str(pk, "n1");
    msgpack_pack_uint64(pk, 77);
    msgpack_pack_uint64(pk, 1ULL << 32);
}
static void b_embedded_nul(msgpack_packer *pk)
{
    pk_strn(pk, "a\0b", 3);
}
static void b_bad_utf8(msgpack_packer *pk)
{
    pk_strn(pk, "\xc3\x28", 2);
}
static void b_overlong_utf8(msgpack_packer *pk)
{
    pk_strn(pk, "\xc0\xaf", 2);
}
static void b_surrogate(msgpack_packer *pk)
{
    pk_strn(pk, "\xed\xa0\x80", 3);
}
static void b_huge_str(msgpack_packer *pk)
{
    size_t n = GD_FIELD_MAX + 1;
    char *s = malloc(n);
    memset(s, 'x', n);
    pk_strn(pk, s, n);
    free(s);
}
static void b_pl_array(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 0);
}
static void b_pl_unknown(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 1);
    pk_str(pk, "zz");
    pk_str(pk, "v");
}
static void b_pl_prefix(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 1);
    pk_str(pk, "t"); /* prefix of "tx" */
    pk_str(pk, "v");
}
static void b_pl_repeat(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 2);
    pk_str(pk, "tx");
    pk_str(pk, "a");
    pk_str(pk, "tx");
    pk_str(pk, "b");
}
static void b_pl_nil_val(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 1);
    pk_str(pk, "tx");
    msgpack_pack_nil(pk);
}
static void b_pl_int_key(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 1);
    msgpack_pack_int(pk, 1);
    pk_str(pk, "v");
}
static void b_pl_int_val(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 1);
    pk_str(pk, "st");
    msgpack_pack_int(pk, 3);
}
static void b_pl_big_val(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 1);
    pk_str(pk, "de");
    b_huge_str(pk);
}
static void b_pl_nul_val(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 1);
    pk_str(pk, "su");
    b_embedded_nul(pk);
}

static const struct bad_case {
    const char *name;
    enum slot slot;
    void (*fn)(msgpack_packer *pk);
    int len;
} bad_cases[] = {
    {"version 2", S_VERSION, b_v2, 8},
    {"version 0", S_VERSION, b_v0, 8},
    {"version as string", S_VERSION, b_str, 8},
    {"version negative", S_VERSION, b_neg, 8},
    {"version nil", S_VERSION, b_nil, 8},
    {"version float", S_VERSION, b_float, 8},
    {"type 0", S_TYPE, b_v0, 8},
    {"type 6", S_TYPE, b_t6, 8},
    {"type 2^40", S_TYPE, b_big, 8},
    {"type string", S_TYPE, b_str, 8},
    {"type negative", S_TYPE, b_neg, 8},
    {"id nil", S_ID, b_nil, 8},
    {"id string", S_ID, b_str, 8},
    {"id 2 elements", S_ID, b_id2, 8},
    {"id 4 elements", S_ID, b_id4, 8},
    {"id origin 33 bytes", S_ID, b_id_origin_long, 8},
    {"id origin with slash", S_ID, b_id_origin_slash, 8},
    {"id origin with NUL", S_ID, b_id_origin_nul, 8},
    {"id origin int", S_ID, b_id_origin_int, 8},
    {"id hlc negative", S_ID, b_id_hlc_neg, 8},
    {"id counter 2^32", S_ID, b_id_counter_big, 8},
    {"entity int", S_ENTITY, b_int, 8},
    {"entity bin", S_ENTITY, b_bin, 8},
    {"entity embedded NUL", S_ENTITY, b_embedded_nul, 8},
    {"entity bad UTF-8", S_ENTITY, b_bad_utf8, 8},
    {"entity overlong UTF-8", S_ENTITY, b_overlong_utf8, 8},
    {"entity surrogate", S_ENTITY, b_surrogate, 8},
    {"entity over GD_FIELD_MAX", S_ENTITY, b_huge_str, 8},
    {"payload array", S_PAYLOAD, b_pl_array, 8},
    {"payload nil", S_PAYLOAD, b_nil, 8},
    {"payload unknown key", S_PAYLOAD, b_pl_unknown, 8},
    {"payload key prefix", S_PAYLOAD, b_pl_prefix, 8},
    {"payload repeated key", S_PAYLOAD, b_pl_repeat, 8},
    {"payload nil value", S_PAYLOAD, b_pl_nil_val, 8},
    {"payload int key", S_PAYLOAD, b_pl_int_key, 8},
    {"payload int value", S_PAYLOAD, b_pl_int_val, 8},
    {"payload value over limit", S_PAYLOAD, b_pl_big_val, 8},
    {"payload value NUL", S_PAYLOAD, b_pl_nul_val, 8},
    {"7 elements", S_NONE, NULL, 7},
    {"9 elements", S_NONE, NULL, 9},
    {"0 elements", S_NONE, NULL, 0},
};

static int decode_expect_corrupt(const char *buf, size_t len)
{
    struct event e;
    struct gd_err err = {0, ""};
    int rc;
    full_event(&e); /* must be freed and cleared by the failing decode */
    rc = event_decode(buf, len, &e, &err);
    if (rc != GD_ECORRUPT)
        return rc == 0 ? 1 : rc;
    assert_event_cleared(&e);
    assert_int_equal(err.code, GD_ECORRUPT);
    assert_true(err.msg[0] != '\0');
    return 0;
}

/* ---- ids and types --------------------------------------------------- */

static void test_origin_valid(void **state)
{
    (void)state;
    assert_true(event_origin_valid("ZQ-DH01"));
    assert_true(event_origin_valid("n1"));
    assert_true(event_origin_valid("a.b_c-D9"));
    assert_true(
        event_origin_valid("abcdefghijabcdefghijabcdefghijab")); /* 32 */
    assert_false(event_origin_valid("abcdefghijabcdefghijabcdefghijabc"));
    assert_false(event_origin_valid(""));
    assert_false(event_origin_valid(NULL));
    assert_false(event_origin_valid("a/b"));
    assert_false(event_origin_valid("a b"));
    assert_false(event_origin_valid("营业厅"));
}

static void test_id_cmp_order(void **state)
{
    (void)state;
    struct event_id a = {"b", 10, 0}, b = {"a", 11, 0}, c = {"a", 10, 5},
                    d = {"a", 10, 6}, e = {"a", 10, 6};
    assert_true(event_id_cmp(&a, &b) < 0); /* hlc first */
    assert_true(event_id_cmp(&b, &a) > 0);
    assert_true(event_id_cmp(&c, &a) < 0); /* then origin */
    assert_true(event_id_cmp(&c, &d) < 0); /* then counter */
    assert_int_equal(event_id_cmp(&d, &e), 0);
    struct event_id big = {"a", UINT64_MAX, UINT32_MAX}, zero = {"", 0, 0};
    assert_true(event_id_cmp(&zero, &big) < 0);
    assert_true(event_id_cmp(&big, &zero) > 0);
}

static void test_id_format_parse(void **state)
{
    (void)state;
    char buf[EVENT_ID_STR_MAX];
    struct event_id id = {"ZQ-DH01", 117661245538566144ULL, 42}, back;
    event_id_format(&id, buf, sizeof buf);
    assert_string_equal(buf, "ZQ-DH01/117661245538566144/42");
    memset(&back, 0x55, sizeof back);
    assert_int_equal(event_id_parse(buf, &back), 0);
    assert_int_equal(event_id_cmp(&id, &back), 0);

    struct event_id max = {"abcdefghijabcdefghijabcdefghijab", UINT64_MAX,
                           UINT32_MAX};
    event_id_format(&max, buf, sizeof buf);
    assert_int_equal(strlen(buf) + 1, EVENT_ID_STR_MAX);
    assert_int_equal(event_id_parse(buf, &back), 0);
    assert_int_equal(event_id_cmp(&max, &back), 0);

    struct event_id zero = {"n1", 0, 0};
    event_id_format(&zero, buf, sizeof buf);
    assert_string_equal(buf, "n1/0/0");
    assert_int_equal(event_id_parse(buf, &back), 0);
    assert_int_equal(event_id_cmp(&zero, &back), 0);

    /* small cap truncates, never overflows */
    char small[5];
    event_id_format(&id, small, sizeof small);
    assert_string_equal(small, "ZQ-D");
}

static void test_id_parse_junk(void **state)
{
    (void)state;
    static const char *const junk[] = {
        "",
        "a",
        "a/1",
        "/1/2",
        "a/1/",
        "a//2",
        "a/01/2",
        "a/1/02",
        "a/+1/2",
        "a/-1/2",
        "a/ 1/2",
        "a/1/2 ",
        "a/1/2/3",
        "a/0x10/2",
        "a/18446744073709551616/0",
        "a/99999999999999999999/0",
        "a/1/4294967296",
        "a b/1/2",
        "a\n/1/2",
        "abcdefghijabcdefghijabcdefghijabc/1/2",
        "营业厅/1/2",
        "a/1/2\n",
    };
    struct event_id id = {"keep", 5, 6};
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
        if (event_id_parse(junk[i], &id) != GD_EINVAL)
            fail_msg("accepted junk id \"%s\"", junk[i]);
        assert_string_equal(id.origin, "keep");
        assert_int_equal(id.hlc, 5);
    }
    assert_int_equal(event_id_parse(NULL, &id), GD_EINVAL);
    /* the largest values still parse */
    assert_int_equal(event_id_parse("a/18446744073709551615/4294967295", &id),
                     0);
    assert_int_equal(id.hlc, UINT64_MAX);
    assert_int_equal(id.counter, UINT32_MAX);
}

static void test_type_names(void **state)
{
    (void)state;
    static const char *const names[] = {"create", "accept", "comment", "status",
                                        "reopen"};
    for (int t = 1; t <= 5; t++) {
        assert_string_equal(event_type_name(t), names[t - 1]);
        assert_int_equal(event_type_parse(names[t - 1]), t);
    }
    assert_string_equal(event_type_name(0), "unknown");
    assert_string_equal(event_type_name(6), "unknown");
    assert_string_equal(event_type_name(-1), "unknown");
    assert_int_equal(event_type_parse("Create"), GD_EINVAL);
    assert_int_equal(event_type_parse(""), GD_EINVAL);
    assert_int_equal(event_type_parse(NULL), GD_EINVAL);
    assert_int_equal(event_type_parse("unknown"), GD_EINVAL);
}

/* ---- life cycle ------------------------------------------------------ */

static void test_init_clear_copy(void **state)
{
    (void)state;
    struct event a, b;
    full_event(&a);
    full_event(&b); /* copy must free b's old strings (LeakSanitizer) */
    free(b.summary);
    b.summary = xstrdup("other");
    assert_int_equal(event_copy(&b, &a), 0);
    assert_events_equal(&a, &b);
    assert_ptr_not_equal(a.summary, b.summary);
    event_clear(&a);
    assert_event_cleared(&a);
    assert_string_equal(b.summary, "整栋楼停电 / 整棟樓停電");
    /* copy of an empty event */
    assert_int_equal(event_copy(&b, &a), 0);
    assert_event_cleared(&b);
    event_clear(&b);
    event_clear(&b); /* clearing twice is fine */
}

static void test_event_cmp(void **state)
{
    (void)state;
    struct event a, b;
    full_event(&a);
    full_event(&b);
    assert_int_equal(event_cmp(&a, &b), 0);
    free(b.text);
    b.text = NULL;
    assert_true(event_cmp(&b, &a) < 0); /* NULL before any string */
    assert_true(event_cmp(&a, &b) > 0);
    b.text = xstrdup("a");
    assert_true(event_cmp(&a, &b) < 0); /* "" < "a" */
    b.id.hlc--;
    assert_true(event_cmp(&a, &b) > 0); /* id first */
    event_clear(&a);
    event_clear(&b);
}

/* ---- codec ----------------------------------------------------------- */

static void test_roundtrip_full(void **state)
{
    (void)state;
    struct event a, b;
    struct gd_err err = {0, ""};
    char *buf, *buf2;
    size_t len, len2;
    full_event(&a);
    event_init(&b);
    assert_int_equal(event_encode(&a, &buf, &len), 0);
    assert_int_equal(event_decode(buf, len, &b, &err), 0);
    assert_events_equal(&a, &b);
    assert_int_equal(b.id.counter, 4000000000u);
    assert_int_equal(b.id.hlc, 0x1a2b3c4d5e6f7788ULL);
    /* re-encoding gives the same bytes */
    assert_int_equal(event_encode(&b, &buf2, &len2), 0);
    assert_int_equal(len, len2);
    assert_memory_equal(buf, buf2, len);
    /* decoding into a used event replaces its contents */
    assert_int_equal(event_decode(buf, len, &b, &err), 0);
    assert_events_equal(&a, &b);
    free(buf);
    free(buf2);
    event_clear(&a);
    event_clear(&b);
}

static void test_roundtrip_minimal(void **state)
{
    (void)state;
    struct event a, b;
    char *buf;
    size_t len;
    event_init(&a);
    event_init(&b);
    a.type =
        EVENT_TICKET_COMMENT; /* origin "" (not yet assigned), no strings */
    assert_int_equal(event_encode(&a, &buf, &len), 0);
    assert_int_equal(event_decode(buf, len, &b, NULL), 0);
    assert_events_equal(&a, &b);
    assert_null(b.entity);
    assert_null(b.text);
    free(buf);
    /* each payload field alone survives (only set fields are sent) */
    char **fields[] = {&a.customer, &a.cls,  &a.summary, &a.description,
                       &a.owner,    &a.text, &a.status};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        *fields[i] = xstrdup("v");
        assert_int_equal(event_encode(&a, &buf, &len), 0);
        assert_int_equal(event_decode(buf, len, &b, NULL), 0);
        assert_events_equal(&a, &b);
        free(buf);
        free(*fields[i]);
        *fields[i] = NULL;
    }
    event_clear(&a);
    event_clear(&b);
}

static void test_field_limit_exact(void **state)
{
    (void)state;
    struct event a, b;
    char *buf;
    size_t len;
    event_init(&a);
    event_init(&b);
    a.type = EVENT_TICKET_COMMENT;
    a.text = malloc(GD_FIELD_MAX + 2);
    memset(a.text, 'x', GD_FIELD_MAX);
    a.text[GD_FIELD_MAX] = '\0';
    assert_int_equal(event_encode(&a, &buf, &len), 0);
    assert_int_equal(event_decode(buf, len, &b, NULL), 0);
    assert_int_equal(strlen(b.text), GD_FIELD_MAX);
    free(buf);
    /* one more byte: refused on the way out, so nothing undecodable exists */
    a.text[GD_FIELD_MAX] = 'x';
    a.text[GD_FIELD_MAX + 1] = '\0';
    buf = (char *)1;
    assert_int_equal(event_encode(&a, &buf, &len), GD_ETOOBIG);
    assert_null(buf);
    assert_int_equal(len, 0);
    event_clear(&a);
    event_clear(&b);
}

static void test_pack_refuses(void **state)
{
    (void)state;
    struct event a;
    char *buf;
    size_t len;
    full_event(&a);
    a.type = 0;
    assert_int_equal(event_encode(&a, &buf, &len), GD_EINVAL);
    a.type = 6;
    assert_int_equal(event_encode(&a, &buf, &len), GD_EINVAL);
    a.type = EVENT_TICKET_STATUS;
    strcpy(a.id.origin, "bad/origin");
    assert_int_equal(event_encode(&a, &buf, &len), GD_EINVAL);
    memset(a.id.origin, 'a', sizeof a.id.origin); /* not terminated */
    assert_int_equal(event_encode(&a, &buf, &len), GD_EINVAL);
    strcpy(a.id.origin, "n1");
    free(a.actor);
    a.actor = xstrdup("\xff\xfe");
    assert_int_equal(event_encode(&a, &buf, &len), GD_EINVAL);
    event_clear(&a);
}

static void test_truncated_every_offset(void **state)
{
    (void)state;
    struct event a;
    char *buf;
    size_t len;
    full_event(&a);
    assert_int_equal(event_encode(&a, &buf, &len), 0);
    for (size_t cut = 0; cut < len; cut++) {
        /* copy so that ASan sees any read past the cut */
        char *p = malloc(cut > 0 ? cut : 1);
        memcpy(p, buf, cut);
        if (decode_expect_corrupt(cut > 0 ? p : NULL, cut) != 0)
            fail_msg("truncated at %zu of %zu decoded", cut, len);
        free(p);
    }
    free(buf);
    event_clear(&a);
}

static void test_trailing_bytes(void **state)
{
    (void)state;
    struct event a;
    char *buf;
    size_t len;
    full_event(&a);
    assert_int_equal(event_encode(&a, &buf, &len), 0);
    buf = realloc(buf, len + 9);
    memcpy(buf + len, "\xc0", 1);
    assert_int_equal(decode_expect_corrupt(buf, len + 1), 0);
    memcpy(buf + len, buf, 9); /* the start of a second value */
    assert_int_equal(decode_expect_corrupt(buf, len + 9), 0);
    free(buf);
    event_clear(&a);
}

static void test_malformed_table(void **state)
{
    (void)state;
    char *buf;
    size_t len;
    /* the unmodified template decodes: the cases differ only in the defect */
    g_slot = S_NONE;
    g_len = 8;
    buf = build(pk_event, &len);
    struct event e;
    event_init(&e);
    assert_int_equal(event_decode(buf, len, &e, NULL), 0);
    assert_string_equal(e.text, "hello");
    event_clear(&e);
    free(buf);

    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        g_slot = bad_cases[i].slot;
        g_bad = bad_cases[i].fn;
        g_len = bad_cases[i].len;
        buf = build(pk_event, &len);
        int rc = decode_expect_corrupt(buf, len);
        if (rc != 0)
            fail_msg("case \"%s\": got %d, want GD_ECORRUPT", bad_cases[i].name,
                     rc);
        free(buf);
    }
    g_slot = S_NONE;
    g_len = 8;
}

static void test_not_an_array(void **state)
{
    (void)state;
    static const struct {
        const char *bytes;
        size_t len;
    } cases[] = {
        {"\xc0", 1},                 /* nil */
        {"\x01", 1},                 /* int */
        {"\x80", 1},                 /* empty map */
        {"\x90", 1},                 /* empty array */
        {"\x91\x01", 2},             /* [1] */
        {"\xa1x", 2},                /* "x" */
        {"\xc1", 1},                 /* reserved byte */
        {"\xdd\xff\xff\xff\xff", 5}, /* array claiming 4G elements */
        {"\xdf\xff\xff\xff\xff", 5}, /* map claiming 4G pairs */
        {"\x98\x01\xdd\x7f\xff\xff\xff\x00", 8}, /* nested liar */
        {"\xdb\xff\xff\xff\xff"
         "ab",
         7}, /* str32 claiming 4 GB */
        {"\xc6\x00\x10\x00\x00"
         "ab",
         7},                             /* bin32 claiming 1 MB */
        {"\xc9\xff\xff\xff\xff\x01", 6}, /* ext32 claiming 4 GB */
        {"\xd8\x01", 2},                 /* fixext16, truncated */
        {"\xcf\x00", 2},                 /* uint64, truncated */
        {"\xde\x00", 2},                 /* map16 header, truncated */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (decode_expect_corrupt(cases[i].bytes, cases[i].len) != 0)
            fail_msg("case %zu decoded", i);
    assert_int_equal(decode_expect_corrupt(NULL, 0), 0);
}

static void test_deep_nesting(void **state)
{
    (void)state;
    char buf[200];
    /* [[[[...1...]]]] nested far beyond any event */
    memset(buf, 0x91, sizeof buf - 1);
    buf[sizeof buf - 1] = 0x01;
    assert_int_equal(decode_expect_corrupt(buf, sizeof buf), 0);
    assert_int_equal(gd_mp_check(buf, sizeof buf, NULL), GD_ECORRUPT);
    /* exactly GD_MP_DEPTH_MAX levels is well-formed msgpack */
    assert_int_equal(gd_mp_check(buf + sizeof buf - 1 - GD_MP_DEPTH_MAX,
                                 GD_MP_DEPTH_MAX + 1, NULL),
                     0);
    assert_int_equal(gd_mp_check(buf + sizeof buf - 2 - GD_MP_DEPTH_MAX,
                                 GD_MP_DEPTH_MAX + 2, NULL),
                     GD_ECORRUPT);
}

static void test_mp_check_accepts_all_formats(void **state)
{
    (void)state;
    /* one of every msgpack type, in one array: the pre-scan must agree with
     * msgpack-c on sizes, or valid input would be refused */
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 38);
    msgpack_pack_nil(&pk);
    msgpack_pack_true(&pk);
    msgpack_pack_false(&pk);
    msgpack_pack_int(&pk, -5);
    msgpack_pack_int(&pk, -100);
    msgpack_pack_int(&pk, -1000);
    msgpack_pack_int(&pk, -100000);
    msgpack_pack_int64(&pk, -10000000000LL);
    msgpack_pack_uint64(&pk, 5);
    msgpack_pack_uint64(&pk, 200);
    msgpack_pack_uint64(&pk, 60000);
    msgpack_pack_uint64(&pk, 4000000000ULL);
    msgpack_pack_uint64(&pk, UINT64_MAX);
    msgpack_pack_float(&pk, 1.5f);
    msgpack_pack_double(&pk, 2.5);
    static char big[70000];
    memset(big, 'a', sizeof big);
    size_t sizes[] = {0, 31, 32, 255, 256, 65535, 65536};
    for (size_t i = 0; i < 7; i++) {
        msgpack_pack_str(&pk, sizes[i]);
        msgpack_pack_str_body(&pk, big, sizes[i]);
    }
    for (size_t i = 0; i < 4; i++) {
        msgpack_pack_bin(&pk, sizes[i + 3]);
        msgpack_pack_bin_body(&pk, big, sizes[i + 3]);
    }
    size_t ext_sizes[] = {1, 2, 4, 8, 16, 3, 300, 70000};
    for (size_t i = 0; i < 8; i++) {
        msgpack_pack_ext(&pk, ext_sizes[i], 7);
        msgpack_pack_ext_body(&pk, big, ext_sizes[i]);
    }
    msgpack_pack_array(&pk, 16);
    for (int i = 0; i < 16; i++)
        msgpack_pack_nil(&pk);
    msgpack_pack_map(&pk, 16);
    for (int i = 0; i < 32; i++)
        msgpack_pack_int(&pk, i);
    msgpack_pack_array(&pk, 70000);
    for (int i = 0; i < 70000; i++)
        msgpack_pack_int(&pk, 1);
    msgpack_pack_map(&pk, 0);
    assert_int_equal(gd_mp_check(sb.data, sb.size, NULL), 0);
    /* and msgpack-c agrees that it is exactly one value */
    msgpack_unpacked u;
    size_t off = 0;
    msgpack_unpacked_init(&u);
    assert_int_equal(msgpack_unpack_next(&u, sb.data, sb.size, &off),
                     MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(off, sb.size);
    assert_int_equal(u.data.via.array.size, 38);
    msgpack_unpacked_destroy(&u);
    /* and every strict prefix is refused */
    for (size_t cut = 0; cut < sb.size; cut += (cut < 2000 ? 1 : 997))
        assert_int_equal(gd_mp_check(sb.data, cut, NULL), GD_ECORRUPT);
    msgpack_sbuffer_destroy(&sb);
}

/* Random corruption of a valid encoding: decode succeeds (and then the
 * event re-encodes) or fails with GD_ECORRUPT; nothing else, no crash. */
static void test_mutations(void **state)
{
    (void)state;
    struct event a, b;
    char *buf;
    size_t len;
    uint64_t seed = 12345;
    int ok = 0, bad = 0;
    full_event(&a);
    event_init(&b);
    assert_int_equal(event_encode(&a, &buf, &len), 0);
    char *m = malloc(len + 8);
    for (int it = 0; it < 20000; it++) {
        size_t mlen = len;
        memcpy(m, buf, len);
        for (int k = 0; k < 1 + it % 4; k++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            size_t pos = (size_t)(seed >> 33) % len;
            m[pos] = (char)(seed >> 20);
        }
        if (it % 7 == 0)
            mlen = (size_t)(seed >> 40) % (len + 8);
        int rc = event_decode(m, mlen, &b, NULL);
        if (rc == 0) {
            char *re;
            size_t relen;
            assert_int_equal(event_encode(&b, &re, &relen), 0);
            free(re);
            ok++;
        } else {
            assert_int_equal(rc, GD_ECORRUPT);
            assert_event_cleared(&b);
            bad++;
        }
    }
    assert_true(bad > 0);
    assert_true(ok > 0); /* some mutations only touch string bytes */
    free(m);
    free(buf);
    event_clear(&a);
    event_clear(&b);
}

static void test_unpack_object(void **state)
{
    (void)state;
    /* event_unpack on an object from a larger frame: [event, event] */
    struct event a, b;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_unpacked u;
    size_t off = 0;
    full_event(&a);
    event_init(&b);
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 2);
    assert_int_equal(event_pack(&a, &pk), 0);
    assert_int_equal(event_pack(&a, &pk), 0);
    assert_int_equal(gd_mp_check(sb.data, sb.size, NULL), 0);
    msgpack_unpacked_init(&u);
    assert_int_equal(msgpack_unpack_next(&u, sb.data, sb.size, &off),
                     MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(event_unpack(&u.data.via.array.ptr[1], &b, NULL), 0);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
    assert_events_equal(&a, &b); /* b owns its strings: frame is gone */
    struct gd_err err = {0, ""};
    msgpack_object nil = {.type = MSGPACK_OBJECT_NIL};
    assert_int_equal(event_unpack(&nil, &b, &err), GD_ECORRUPT);
    assert_event_cleared(&b);
    event_clear(&a);
}

/* ---- util ------------------------------------------------------------ */

static void test_strdup(void **state)
{
    (void)state;
    char *p = NULL;
    assert_int_equal(gd_strdup(&p, "abc"), 0);
    assert_string_equal(p, "abc");
    assert_int_equal(gd_strdup(&p, "de"), 0); /* old freed (LSan) */
    assert_string_equal(p, "de");
    assert_int_equal(gd_strdup(&p, NULL), 0);
    assert_null(p);
    assert_int_equal(gd_strdup(&p, ""), 0);
    assert_string_equal(p, "");
    free(p);
}

static void test_strcat_n(void **state)
{
    (void)state;
    char out[8] = "zzzzzzz";
    assert_string_equal(gd_strcat_n(out, sizeof out, "ab", "", "cd", (char *)NULL),
                        "abcd");
    gd_strcat_n(out, 5, "ab", "cd", "ef", (char *)NULL); /* truncated */
    assert_string_equal(out, "abcd");
    gd_strcat_n(out, 1, "ab", (char *)NULL);
    assert_string_equal(out, "");
    out[0] = 'q';
    gd_strcat_n(out, 0, "ab", (char *)NULL); /* writes nothing */
    assert_int_equal(out[0], 'q');
    gd_strcat_n(out, sizeof out, (char *)NULL);
    assert_string_equal(out, "");
}

static void test_time_format(void **state)
{
    (void)state;
    char out[40];
    gd_time_format(1795306530123ULL, out, sizeof out);
    assert_string_equal(out, "2026-11-22T08:15:30.123+08:00");
    gd_time_format(0, out, sizeof out);
    assert_string_equal(out, "1970-01-01T08:00:00.000+08:00");
    /* midnight in Beijing is 16:00 UTC the day before */
    gd_time_format(1795276800000ULL, out, sizeof out);
    assert_string_equal(out, "2026-11-22T00:00:00.000+08:00");
    gd_time_format(1795276799999ULL, out, sizeof out);
    assert_string_equal(out, "2026-11-21T23:59:59.999+08:00");
    /* leap day and the end of a year */
    gd_time_format(1709136000000ULL, out, sizeof out); /* 2024-02-28T16Z */
    assert_string_equal(out, "2024-02-29T00:00:00.000+08:00");
    gd_time_format(1735660800000ULL, out, sizeof out); /* 2024-12-31T16Z */
    assert_string_equal(out, "2025-01-01T00:00:00.000+08:00");
    /* the largest HLC millisecond fits in 32 bytes */
    char small[32];
    gd_time_format((1ULL << 48) - 1, small, sizeof small);
    assert_int_equal(small[0] != '\0', 1);
    assert_true(strlen(small) < sizeof small);
    assert_non_null(strstr(small, "+08:00"));
    /* any value, any cap: no overflow (ASan checks) */
    gd_time_format(UINT64_MAX, out, sizeof out);
    gd_time_format(1795306530123ULL, small, 5);
    assert_string_equal(small, "2026");
    gd_time_format(1, small, 0);

    gd_date_yyyymmdd(1795276800000ULL, out, sizeof out);
    assert_string_equal(out, "20261122");
    gd_date_yyyymmdd(1795276799999ULL, out, sizeof out);
    assert_string_equal(out, "20261121");
    char d9[9];
    gd_date_yyyymmdd(0, d9, sizeof d9);
    assert_string_equal(d9, "19700101");
}

/* Cross-check against libc's gmtime_r on shifted times over four
 * centuries (pseudo-random, deterministic). */
static void test_time_vs_gmtime(void **state)
{
    (void)state;
    uint64_t seed = 99;
    for (int i = 0; i < 200000; i++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        uint64_t ms = (seed >> 11) % 13000000000000ULL; /* to ~2381 */
        time_t secs = (time_t)((ms + 8ULL * 3600 * 1000) / 1000);
        struct tm tm;
        char want[48], got[48];
        assert_non_null(gmtime_r(&secs, &tm));
        snprintf(want, sizeof want, "%04d-%02d-%02dT%02d:%02d:%02d.%03u+08:00",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, (unsigned)(ms % 1000));
        gd_time_format(ms, got, sizeof got);
        if (strcmp(want, got) != 0)
            fail_msg("%llu: want %s got %s", (unsigned long long)ms, want, got);
    }
}

static void test_utf8(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        size_t n;
        int ok;
    } cases[] = {
        {"", 0, 1},
        {"abc", 3, 1},
        {"停电", 6, 1},
        {"\xf0\x9f\x98\x80", 4, 1}, /* emoji */
        {"\xf4\x8f\xbf\xbf", 4, 1}, /* U+10FFFF */
        {"\xef\xbf\xbd", 3, 1},     /* U+FFFD */
        {"\xc2\x80", 2, 1},
        {"\x80", 1, 0},             /* lone continuation */
        {"\xc3", 1, 0},             /* truncated */
        {"\xe5\x81", 2, 0},         /* truncated */
        {"\xc0\x80", 2, 0},         /* overlong NUL */
        {"\xc1\xbf", 2, 0},         /* overlong */
        {"\xe0\x80\x80", 3, 0},     /* overlong */
        {"\xf0\x80\x80\x80", 4, 0}, /* overlong */
        {"\xed\xa0\x80", 3, 0},     /* surrogate */
        {"\xf4\x90\x80\x80", 4, 0}, /* > U+10FFFF */
        {"\xf5\x80\x80\x80", 4, 0},
        {"\xff", 1, 0},
        {"a\xe5\x81\x9c"
         "b\xc3\x28",
         7, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (gd_utf8_valid(cases[i].s, cases[i].n) != cases[i].ok)
            fail_msg("utf8 case %zu", i);

    /* ASCII is checked 32 and 8 bytes at a time: a bad or multi-byte
     * sequence at every offset of a longer run, and a truncated one at the
     * end. */
    for (size_t at = 0; at < 72; at++) {
        char buf[80];
        memset(buf, 'a', sizeof buf);
        buf[at] = (char)0xff;
        if (gd_utf8_valid(buf, sizeof buf))
            fail_msg("0xff at %zu accepted", at);
        memcpy(buf + at, "\xe5\x81\x9c", 3); /* 停 */
        if (!gd_utf8_valid(buf, sizeof buf))
            fail_msg("valid 3-byte sequence at %zu refused", at);
        if (gd_utf8_valid(buf, at + 2))
            fail_msg("truncated sequence ending at %zu accepted", at + 2);
        buf[at + 1] = 'a'; /* lead byte followed by ASCII */
        if (gd_utf8_valid(buf, sizeof buf))
            fail_msg("bad continuation at %zu accepted", at + 1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_origin_valid),
        cmocka_unit_test(test_id_cmp_order),
        cmocka_unit_test(test_id_format_parse),
        cmocka_unit_test(test_id_parse_junk),
        cmocka_unit_test(test_type_names),
        cmocka_unit_test(test_init_clear_copy),
        cmocka_unit_test(test_event_cmp),
        cmocka_unit_test(test_roundtrip_full),
        cmocka_unit_test(test_roundtrip_minimal),
        cmocka_unit_test(test_field_limit_exact),
        cmocka_unit_test(test_pack_refuses),
        cmocka_unit_test(test_truncated_every_offset),
        cmocka_unit_test(test_trailing_bytes),
        cmocka_unit_test(test_malformed_table),
        cmocka_unit_test(test_not_an_array),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_mp_check_accepts_all_formats),
        cmocka_unit_test(test_mutations),
        cmocka_unit_test(test_unpack_object),
        cmocka_unit_test(test_strdup),
        cmocka_unit_test(test_strcat_n),
        cmocka_unit_test(test_time_format),
        cmocka_unit_test(test_time_vs_gmtime),
        cmocka_unit_test(test_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
