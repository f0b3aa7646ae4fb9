/* node/jsonio.c gives exactly what jansson gives: the same value (and key
 * order) for every input jansson takes, a failure with jansson's own error
 * for every input it refuses, and the same bytes as json_dumps(JSON_COMPACT)
 * for every value.  Checked over hand-picked edge cases and over seeded
 * random documents and mutations of them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/strbuf.h"
#include "core/util.h"
#include "node/jsonio.h"
#include "node/views.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

/* jsonio_dump(v) against json_dumps(v, JSON_COMPACT). */
static void same_dump(const json_t *v)
{
    struct strbuf b;
    char *want = json_dumps(v, JSON_COMPACT);
    int rc;

    strbuf_init(&b);
    strbuf_puts(&b, "prefix:"); /* appended, not overwritten */
    rc = jsonio_dump(v, &b);
    if (want == NULL) {
        assert_int_equal(rc, -1);
    } else {
        assert_int_equal(rc, 0);
        assert_true(b.len >= 7);
        assert_memory_equal(b.s, "prefix:", 7);
        assert_int_equal(b.len - 7, strlen(want));
        assert_memory_equal(b.s + 7, want, strlen(want));
    }
    free(want);
    strbuf_free(&b);
}

/* jsonio_load(text) against json_loadb(text) with the same flags. */
static void same_load_flags(const char *text, size_t len, size_t flags)
{
    json_error_t e1, e2;
    json_t *a = jsonio_load(text, len, flags, &e1);
    json_t *b = json_loadb(text, len, flags, &e2);

    if (b == NULL) {
        assert_null(a);
        assert_string_equal(e1.text, e2.text);
        assert_int_equal(e1.line, e2.line);
        assert_int_equal(e1.column, e2.column);
        return;
    }
    assert_non_null(a);
    assert_true(json_equal(a, b));
    /* equal as values and in key order */
    {
        char *da = json_dumps(a, JSON_COMPACT | JSON_ENCODE_ANY);
        char *db = json_dumps(b, JSON_COMPACT | JSON_ENCODE_ANY);
        assert_non_null(da);
        assert_non_null(db);
        assert_string_equal(da, db);
        free(da);
        free(db);
    }
    json_decref(a);
    json_decref(b);
}

static void same_load(const char *text, size_t len)
{
    same_load_flags(text, len, 0);
    same_load_flags(text, len, JSON_REJECT_DUPLICATES);
}

static void same_load_str(const char *text)
{
    same_load(text, strlen(text));
}

static void test_ticket_body_takes_fast_path(void **state)
{
    static const char body[] =
        "{\"customer\":\"C0001\",\"class\":\"fault_repair\",\"channel\":"
        "\"hotline\",\"summary\":\"停电 bench 1\",\"description\":\"楼道灯不亮"
        " / no power \\\"quoted\\\" \\\\ tab\\t end\"}";
    struct jsonio_stats before, after;
    json_error_t err;
    json_t *v;
    struct strbuf b;

    jsonio_stats(&before);
    v = jsonio_load(body, sizeof body - 1, JSON_REJECT_DUPLICATES, &err);
    assert_non_null(v);
    assert_string_equal(json_string_value(json_object_get(v, "summary")),
                        "停电 bench 1");
    assert_string_equal(
        json_string_value(json_object_get(v, "description")),
        "楼道灯不亮 / no power \"quoted\" \\ tab\t end");
    strbuf_init(&b);
    assert_int_equal(jsonio_dump(v, &b), 0);
    jsonio_stats(&after);
    assert_int_equal(after.fast_loads, before.fast_loads + 1);
    assert_int_equal(after.jansson_loads, before.jansson_loads);
    assert_int_equal(after.fast_dumps, before.fast_dumps + 1);
    assert_int_equal(after.jansson_dumps, before.jansson_dumps);
    same_dump(v);
    same_load(body, sizeof body - 1);
    strbuf_free(&b);
    json_decref(v);
}

static void test_load_edge_cases(void **state)
{
    static const char *const cases[] = {
        "{}", "[]", " { } ", "{\"a\":1}", "{\"a\":-0}", "[0,-1,12345]",
        "[9223372036854775807]", "[-9223372036854775808]",
        "[9223372036854775808]", "[-9223372036854775809]",
        "[1.5]", "[1e5]", "[1E-3]", "[-0.0]", "[01]", "[-]", "[1.]", "[.5]",
        "[+1]", "[0x10]", "[NaN]", "[Infinity]", "[true,false,null]",
        "[tru]", "[nul]", "\"bare string\"", "42", "null", "true", "",
        "   ", "{", "[", "}", "]", "{\"a\"}", "{\"a\":}", "{\"a\":1,}",
        "[1,]", "[,1]", "{\"a\":1 \"b\":2}", "{a:1}", "{'a':1}",
        "[1] [2]", "[1] x", "[1]   ", "[1]\n", "\t[1]\r\n",
        "[1]\f", "[\f1]", "[1\v]", "/* c */ [1]", "[1] // c",
        "{\"a\":1,\"a\":2}", "{\"a\":{\"b\":1},\"a\":[]}",
        "{\"b\":1,\"a\":2,\"c\":3}", "{\"\":\"\"}",
        "[\"\\u00e9\"]", "[\"\\ud834\\udd1e\"]", "[\"\\ud800\"]",
        "[\"\\udc00\"]", "[\"\\u0000\"]", "{\"\\u0000\":1}", "[\"\\u12\"]",
        "[\"\\x41\"]", "[\"\\/\\b\\f\\n\\r\\t\\\"\\\\\"]", "[\"a\tb\"]",
        "[\"a\nb\"]", "[\"\x7f\"]", "[\"\xc3\xa9\"]", "[\"\xc0\x80\"]",
        "[\"\xed\xa0\x80\"]", "[\"\xf4\x90\x80\x80\"]", "[\"\xf5\x80\"]",
        "[\"\xe2\x82\"]", "[\"\xff\"]", "\xef\xbb\xbf[1]", "[\"\xe2\x80\xa8\"]",
        "{\"\xc3\xa9\":1}", "{\"\xc0\xaf\":1}", "[[[[[[[[[[]]]]]]]]]]",
        "[\"unterminated]", "{\"k\":\"v\"}garbage", "[1,[2,[3,{\"x\":[4]}]]]",
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        same_load_str(cases[i]);
    }
    /* an embedded NUL byte, inside and outside a string */
    same_load("[\"a\0b\"]", 7);
    same_load("[1]\0", 4);
}

static void test_load_depth_and_long_keys(void **state)
{
    struct strbuf b;

    /* nesting around the fast path's limit and far beyond */
    for (int depth = 60; depth <= 70; depth += 2) {
        strbuf_init(&b);
        for (int i = 0; i < depth; i++)
            strbuf_puts(&b, i % 2 ? "[" : "{\"k\":");
        strbuf_puts(&b, "1");
        for (int i = depth - 1; i >= 0; i--)
            strbuf_puts(&b, i % 2 ? "]" : "}");
        same_load(b.s, b.len);
        strbuf_free(&b);
    }
    strbuf_init(&b);
    for (int i = 0; i < 3000; i++)
        strbuf_puts(&b, "[");
    for (int i = 0; i < 3000; i++)
        strbuf_puts(&b, "]");
    same_load(b.s, b.len);
    strbuf_free(&b);
    /* keys just under, at and over the fast path's key buffer */
    for (int len = 254; len <= 258; len++) {
        strbuf_init(&b);
        strbuf_puts(&b, "{\"");
        for (int i = 0; i < len; i++)
            strbuf_puts(&b, "k");
        strbuf_puts(&b, "\":1,\"");
        for (int i = 0; i < len; i++)
            strbuf_puts(&b, "k");
        strbuf_puts(&b, "\":2}");
        same_load(b.s, b.len);
        strbuf_free(&b);
    }
}

static json_t *random_value(int depth);

static void random_text(char *buf, size_t cap, size_t *len)
{
    static const char *const pieces[] = {
        "a", "Z", "0", " ", "\"", "\\", "/", "\b", "\f", "\n", "\r", "\t",
        "\x01", "\x1f", "\x7f", "é", "停电", "𝄞", "\xe2\x80\xa8", "\xef\xbf\xbf",
        "<b>", "&", "'", "\xc2\xa0",
    };
    size_t n = rnd(12), k = 0;

    for (size_t i = 0; i < n; i++) {
        const char *p = pieces[rnd(sizeof pieces / sizeof pieces[0])];
        size_t pl = strlen(p);
        if (k + pl >= cap)
            break;
        memcpy(buf + k, p, pl);
        k += pl;
    }
    buf[k] = '\0';
    *len = k;
}

static json_t *random_value(int depth)
{
    char text[128];
    size_t len;
    uint32_t kind = depth > 4 ? 2 + rnd(6) : rnd(8);

    switch (kind) {
    case 0: {
        json_t *o = json_object();
        uint32_t n = rnd(6);
        for (uint32_t i = 0; i < n; i++) {
            random_text(text, sizeof text, &len);
            json_object_setn_new(o, text, len, random_value(depth + 1));
        }
        return o;
    }
    case 1: {
        json_t *a = json_array();
        uint32_t n = rnd(6);
        for (uint32_t i = 0; i < n; i++)
            json_array_append_new(a, random_value(depth + 1));
        return a;
    }
    case 2:
    case 3:
        random_text(text, sizeof text, &len);
        return json_stringn(text, len);
    case 4: {
        static const json_int_t ints[] = {0, 1, -1, 42, -1000000007,
                                          INT64_MAX, INT64_MIN};
        return json_integer(rnd(2) ? ints[rnd(7)]
                                   : (json_int_t)rnd(1u << 31) - (1 << 30));
    }
    case 5:
        return rnd(2) ? json_true() : json_false();
    case 6:
        return json_null();
    default: {
        static const double reals[] = {0.5, -2.25, 1e300, 1e-7, 3.0, 0.1};
        return json_real(reals[rnd(6)]);
    }
    }
}

static void test_dump_matches_jansson(void **state)
{
    json_t *v;

    /* every ASCII byte, alone and in a run */
    for (int c = 1; c < 128; c++) {
        char s[4] = {(char)c, 'x', (char)c, 0};
        v = json_pack("{s:s,s:[s]}", "k", s, s, s);
        assert_non_null(v);
        same_dump(v);
        json_decref(v);
    }
    /* a string jansson cannot dump (made without its check) and reals */
    v = json_object();
    json_object_set_new(v, "bad", json_stringn_nocheck("\xc0\x80", 2));
    same_dump(v);
    json_decref(v);
    v = json_pack("{s:f,s:[f,i]}", "r", 0.1, "a", 1e21, 7);
    same_dump(v);
    json_decref(v);
    /* scalars at the top: jansson refuses them without JSON_ENCODE_ANY */
    v = json_integer(5);
    same_dump(v);
    json_decref(v);
    v = json_string("s");
    same_dump(v);
    json_decref(v);
    /* deeper than yajl's writer allows */
    v = json_array();
    {
        json_t *cur = v;
        for (int i = 0; i < 200; i++) {
            json_t *next = json_array();
            json_array_append_new(cur, next);
            cur = next;
        }
    }
    same_dump(v);
    json_decref(v);
    /* seeded random documents */
    for (int i = 0; i < 3000; i++) {
        v = json_object();
        json_object_set_new(v, "v", random_value(0));
        same_dump(v);
        json_decref(v);
    }
}

static void test_load_random_and_mutated(void **state)
{
    for (int i = 0; i < 3000; i++) {
        json_t *v = json_array();
        char *text;
        size_t len;

        json_array_append_new(v, random_value(0));
        text = json_dumps(v, JSON_COMPACT);
        assert_non_null(text);
        len = strlen(text);
        same_load(text, len);
        /* flip, drop or insert bytes: mostly invalid, some still valid */
        for (int m = 0; m < 4; m++) {
            char *t = malloc(len + 2);
            size_t tl = len;
            uint32_t at;
            static const char ins[] = "\"\\{}[],:0 \xc3\x80\f";

            assert_non_null(t);
            memcpy(t, text, len);
            at = rnd((uint32_t)len);
            switch (rnd(3)) {
            case 0:
                t[at] = ins[rnd(sizeof ins - 1)];
                break;
            case 1:
                memmove(t + at, t + at + 1, len - at - 1);
                tl--;
                break;
            default:
                memmove(t + at + 1, t + at, len - at);
                t[at] = ins[rnd(sizeof ins - 1)];
                tl++;
                break;
            }
            same_load(t, tl);
            /* truncated */
            same_load(t, at);
            free(t);
        }
        free(text);
        json_decref(v);
    }
}

/* strbuf_reserve: room in one go, content kept; an impossible size is an
 * OOM (later appends do nothing), never a wrap-around. */
static void test_strbuf_reserve(void **state)
{
    (void)state;
    struct strbuf b;
    strbuf_init(&b);
    strbuf_puts(&b, "ab");
    strbuf_reserve(&b, 5000);
    assert_false(b.oom);
    assert_true(b.cap >= 5003);
    char *before = b.s;
    for (int i = 0; i < 1000; i++)
        strbuf_puts(&b, "xyzw1");
    assert_ptr_equal(b.s, before); /* no reallocation was needed */
    assert_int_equal(b.len, 5002);
    assert_memory_equal(b.s, "abxyzw1", 7);
    strbuf_reserve(&b, (size_t)-1);
    assert_true(b.oom);
    strbuf_puts(&b, "more");
    assert_int_equal(b.len, 5002);
    strbuf_free(&b);
}

/* view_ticket_events_write (straight from the structs) writes the bytes
 * the json_t view dumps, for tickets and every kind of event, with the
 * strings JSON must escape and NULL fields; and a string that is not UTF-8
 * makes it fail with the buffer as it was, as the json_t path fails. */
static void test_ticket_view_writer_same_bytes(void **state)
{
    (void)state;
    static const char *texts[] = {
        "停电 \"quoted\" back\\slash / tab\t nl\n cr\r \x01\x1f",
        "emoji \xf0\x9f\x98\x80 line sep \xe2\x80\xa8 para \xe2\x80\xa9",
        "", "plain", NULL,
    };
    static const int types[] = {EVENT_TICKET_CREATE, EVENT_TICKET_ACCEPT,
                                EVENT_TICKET_COMMENT, EVENT_TICKET_STATUS,
                                EVENT_TICKET_REOPEN};
    for (size_t k = 0; k < sizeof texts / sizeof texts[0]; k++) {
        const char *x = texts[k];
        struct ticket t;
        struct event evs[5];
        const struct event *pevs[5];
        ticket_init(&t);
        assert_int_equal(gd_strdup(&t.id, "ZQ-20261123-0001"), 0);
        assert_int_equal(gd_strdup(&t.customer, x), 0);
        assert_int_equal(gd_strdup(&t.cls, "fault_repair"), 0);
        assert_int_equal(gd_strdup(&t.summary, x), 0);
        assert_int_equal(gd_strdup(&t.description, x), 0);
        assert_int_equal(gd_strdup(&t.owner, k % 2 ? x : NULL), 0);
        t.created_hlc = k == 4 ? 0 : (1795392000123ull << 16) + k;
        t.updated_hlc = t.created_hlc + 7;
        t.n_reopens = (uint32_t)k;
        t.n_conflicts = 4000000000u;
        for (int e = 0; e < 5; e++) {
            event_init(&evs[e]);
            evs[e].type = types[e];
            snprintf(evs[e].id.origin, sizeof evs[e].id.origin, "n%d", e);
            evs[e].id.hlc = (1795392000123ull << 16) + (uint64_t)e;
            evs[e].id.counter = (uint32_t)e;
            assert_int_equal(gd_strdup(&evs[e].actor, x), 0);
            assert_int_equal(gd_strdup(&evs[e].channel, "hotline"), 0);
            assert_int_equal(gd_strdup(&evs[e].customer, x), 0);
            assert_int_equal(gd_strdup(&evs[e].summary, x), 0);
            assert_int_equal(gd_strdup(&evs[e].owner, x), 0);
            assert_int_equal(gd_strdup(&evs[e].status, "resolved"), 0);
            assert_int_equal(gd_strdup(&evs[e].text, x), 0);
            pevs[e] = &evs[e];
        }
        for (size_t n = 0; n <= 5; n++) {
            for (long long idx = -1; idx <= 1; idx += 2) {
                struct strbuf want, got;
                strbuf_init(&want);
                strbuf_init(&got);
                strbuf_puts(&got, "kept:");
                json_t *v = view_ticket_events(&t, pevs, n);
                assert_non_null(v);
                if (idx >= 0)
                    json_object_set_new(v, "applied_index", json_integer(idx));
                assert_int_equal(view_dump(v, &want), 0);
                json_decref(v);
                assert_int_equal(
                    view_ticket_events_write(&t, pevs, n, idx, &got), 0);
                assert_int_equal(got.len, 5 + want.len);
                assert_memory_equal(got.s, "kept:", 5);
                assert_memory_equal(got.s + 5, want.s, want.len);
                strbuf_free(&want);
                strbuf_free(&got);
            }
        }
        /* not UTF-8: refused, nothing left behind */
        if (x != NULL && x[0] != '\0') {
            struct strbuf got;
            strbuf_init(&got);
            strbuf_puts(&got, "kept:");
            evs[2].text[0] = (char)0xff;
            assert_int_equal(view_ticket_events_write(&t, pevs, 5, 1, &got),
                             -1);
            assert_string_equal(strbuf_cstr(&got), "kept:");
            strbuf_free(&got);
        }
        for (int e = 0; e < 5; e++)
            event_clear(&evs[e]);
        ticket_clear(&t);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strbuf_reserve),
        cmocka_unit_test(test_ticket_view_writer_same_bytes),
        cmocka_unit_test(test_ticket_body_takes_fast_path),
        cmocka_unit_test(test_load_edge_cases),
        cmocka_unit_test(test_load_depth_and_long_keys),
        cmocka_unit_test(test_dump_matches_jansson),
        cmocka_unit_test(test_load_random_and_mutated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
