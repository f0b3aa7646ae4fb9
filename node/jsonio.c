/* Fast JSON in and out: yajl lexes and writes, jansson's json_t is the
 * model.  See jsonio.h for the contract (jansson's results, exactly). */
#include "node/jsonio.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_parse.h>

#include "core/strbuf.h"
#include "core/util.h"

/* Deeper documents go to jansson (whose own limit is 2048). */
#define LOAD_MAX_DEPTH 64
/* Longer keys go to jansson (none of the API's keys comes close). */
#define LOAD_KEY_MAX 256

static struct jsonio_stats stats;

void jsonio_stats(struct jsonio_stats *st)
{
    *st = stats;
}

/* ---- in ---------------------------------------------------------------- */

struct builder {
    json_t *root;
    json_t *open[LOAD_MAX_DEPTH]; /* containers being filled, borrowed */
    int depth;
    int reject_dups;
    char key[LOAD_KEY_MAX];
    size_t key_len;
};

/* A string jansson's decoder would take as is: valid UTF-8 (RFC 3629, as
 * jansson checks it) and no NUL byte. */
static int plain_string(const unsigned char *s, size_t len)
{
    return memchr(s, '\0', len) == NULL &&
           gd_utf8_valid((const char *)s, len);
}

/* Puts v (a new reference, taken) into the innermost open container.  The
 * callbacks return 0 to stop yajl: then jansson parses the input again. */
static int add(struct builder *b, json_t *v)
{
    json_t *top;

    if (v == NULL) {
        return 0;
    }
    if (b->depth == 0) {
        /* A bare scalar: jansson refuses it, with its own message. */
        json_decref(v);
        return 0;
    }
    top = b->open[b->depth - 1];
    if (json_is_object(top)) {
        if (b->reject_dups &&
            json_object_getn(top, b->key, b->key_len) != NULL) {
            json_decref(v);
            return 0;
        }
        return json_object_setn_new_nocheck(top, b->key, b->key_len, v) == 0;
    }
    return json_array_append_new(top, v) == 0;
}

static int open_container(struct builder *b, json_t *v)
{
    if (v == NULL || b->depth == LOAD_MAX_DEPTH) {
        json_decref(v);
        return 0;
    }
    if (b->depth == 0) {
        if (b->root != NULL) {
            json_decref(v);
            return 0;
        }
        b->root = v;
    } else if (!add(b, v)) {
        return 0;
    }
    b->open[b->depth++] = v; /* the parent (or root) holds the reference */
    return 1;
}

static int cb_null(void *ctx)
{
    return add(ctx, json_null());
}

static int cb_boolean(void *ctx, int val)
{
    return add(ctx, json_boolean(val));
}

/* Numbers arrive as text.  Integers become json_integer as jansson makes
 * them; reals (and integers out of range, which jansson refuses) go to
 * jansson. */
static int cb_number(void *ctx, const char *s, size_t len)
{
    char buf[32];
    char *end;
    long long v;

    if (len == 0 || len >= sizeof buf || memchr(s, '.', len) != NULL ||
        memchr(s, 'e', len) != NULL || memchr(s, 'E', len) != NULL) {
        return 0;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    errno = 0;
    v = strtoll(buf, &end, 10);
    if (errno != 0 || *end != '\0') {
        return 0;
    }
    return add(ctx, json_integer((json_int_t)v));
}

static int cb_string(void *ctx, const unsigned char *s, size_t len)
{
    if (!plain_string(s, len)) {
        return 0;
    }
    return add(ctx, json_stringn_nocheck((const char *)s, len));
}

static int cb_start_map(void *ctx)
{
    return open_container(ctx, json_object());
}

static int cb_map_key(void *ctx, const unsigned char *key, size_t len)
{
    struct builder *b = ctx;

    if (len > sizeof b->key || !plain_string(key, len)) {
        return 0;
    }
    memcpy(b->key, key, len);
    b->key_len = len;
    return 1;
}

static int cb_end(void *ctx)
{
    struct builder *b = ctx;
    b->depth--;
    return 1;
}

static int cb_start_array(void *ctx)
{
    return open_container(ctx, json_array());
}

static const yajl_callbacks load_callbacks = {
    cb_null,      cb_boolean, NULL,   NULL,           cb_number, cb_string,
    cb_start_map, cb_map_key, cb_end, cb_start_array, cb_end,
};

/* Input the fast path leaves to jansson without trying: \u escapes (yajl
 * turns a lone surrogate into '?', jansson refuses it; "\u0000" needs
 * JSON_ALLOW_NUL in jansson) and form feed / vertical tab, which yajl
 * takes as whitespace between tokens and jansson does not. */
static int needs_jansson(const char *buf, size_t len)
{
    return memmem(buf, len, "\\u", 2) != NULL ||
           memchr(buf, '\f', len) != NULL || memchr(buf, '\v', len) != NULL;
}

static json_t *fast_load(const char *buf, size_t len, size_t flags)
{
    struct builder b;
    yajl_handle h;
    int ok;

    if (len == 0 || needs_jansson(buf, len)) {
        return NULL;
    }
    b.root = NULL;
    b.depth = 0;
    b.reject_dups = (flags & JSON_REJECT_DUPLICATES) != 0;
    b.key_len = 0;
    h = yajl_alloc(&load_callbacks, NULL, &b);
    if (h == NULL) {
        return NULL;
    }
    /* yajl's defaults are strict JSON: no comments, one value, no
     * trailing garbage, no partial values. */
    ok = yajl_parse(h, (const unsigned char *)buf, len) == yajl_status_ok &&
         yajl_complete_parse(h) == yajl_status_ok && b.depth == 0 &&
         b.root != NULL;
    yajl_free(h);
    if (!ok) {
        json_decref(b.root);
        return NULL;
    }
    return b.root;
}

json_t *jsonio_load(const char *buf, size_t len, size_t flags,
                    json_error_t *err)
{
    json_t *v = NULL;

    if ((flags & ~(size_t)JSON_REJECT_DUPLICATES) == 0) {
        v = fast_load(buf, len, flags);
    }
    if (v != NULL) {
        stats.fast_loads++;
        return v;
    }
    stats.jansson_loads++;
    return json_loadb(buf, len, flags, err);
}

/* ---- out --------------------------------------------------------------- */

static void print_cb(void *ctx, const char *s, size_t len)
{
    strbuf_append(ctx, s, len);
}

/* Writes v with g: 0, or -1 for anything the fast path leaves to jansson
 * (reals, whose formatting is jansson's own; strings that are not valid
 * UTF-8, which jansson refuses to dump; nesting beyond yajl's limit). */
static int gen_value(yajl_gen g, json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *key;
        size_t key_len;
        json_t *x;

        if (yajl_gen_map_open(g) != yajl_gen_status_ok) {
            return -1;
        }
        json_object_keylen_foreach(v, key, key_len, x)
        {
            if (!plain_string((const unsigned char *)key, key_len) ||
                yajl_gen_string(g, (const unsigned char *)key, key_len) !=
                    yajl_gen_status_ok ||
                gen_value(g, x) != 0) {
                return -1;
            }
        }
        return yajl_gen_map_close(g) == yajl_gen_status_ok ? 0 : -1;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(v);

        if (yajl_gen_array_open(g) != yajl_gen_status_ok) {
            return -1;
        }
        for (size_t i = 0; i < n; i++) {
            if (gen_value(g, json_array_get(v, i)) != 0) {
                return -1;
            }
        }
        return yajl_gen_array_close(g) == yajl_gen_status_ok ? 0 : -1;
    }
    case JSON_STRING: {
        const char *s = json_string_value(v);
        size_t len = json_string_length(v);

        if (!gd_utf8_valid(s, len)) {
            return -1;
        }
        return yajl_gen_string(g, (const unsigned char *)s, len) ==
                       yajl_gen_status_ok
                   ? 0
                   : -1;
    }
    case JSON_INTEGER:
        return yajl_gen_integer(g, (long long)json_integer_value(v)) ==
                       yajl_gen_status_ok
                   ? 0
                   : -1;
    case JSON_TRUE:
        return yajl_gen_bool(g, 1) == yajl_gen_status_ok ? 0 : -1;
    case JSON_FALSE:
        return yajl_gen_bool(g, 0) == yajl_gen_status_ok ? 0 : -1;
    case JSON_NULL:
        return yajl_gen_null(g) == yajl_gen_status_ok ? 0 : -1;
    default: /* JSON_REAL */
        return -1;
    }
}

static int dump_cb(const char *buf, size_t size, void *data)
{
    struct strbuf *b = data;
    strbuf_append(b, buf, size);
    return b->oom ? -1 : 0;
}

int jsonio_dump(const json_t *v, struct strbuf *out)
{
    size_t mark = out->len;
    yajl_gen g = NULL;
    int rc = -1;

    /* jansson dumps only an object or an array at the top (no
     * JSON_ENCODE_ANY); it answers anything else. */
    if (json_is_object(v) || json_is_array(v)) {
        g = yajl_gen_alloc(NULL);
    }
    if (g != NULL) {
        /* Compact, no escaped '/', no UTF-8 check of its own (gen_value
         * checks as jansson does): jansson's JSON_COMPACT output. */
        yajl_gen_config(g, yajl_gen_print_callback, print_cb, out);
        rc = gen_value(g, (json_t *)v);
        yajl_gen_free(g);
    }
    if (rc == 0) {
        stats.fast_dumps++;
        return out->oom ? -1 : 0;
    }
    stats.jansson_dumps++;
    /* Left to jansson: drop what the fast path wrote and start again. */
    out->len = mark;
    if (out->s != NULL && !out->oom) {
        out->s[mark] = '\0';
    }
    return json_dump_callback(v, dump_cb, out, JSON_COMPACT) == 0 && !out->oom
               ? 0
               : -1;
}

/* ---- writer -------------------------------------------------------------- */

struct jsonio_writer {
    yajl_gen g;
    struct strbuf *out;
    size_t mark;
    int failed;
};

struct jsonio_writer *jsonio_writer_new(struct strbuf *out)
{
    struct jsonio_writer *w = malloc(sizeof *w);

    if (w == NULL) {
        return NULL;
    }
    w->g = yajl_gen_alloc(NULL);
    if (w->g == NULL) {
        free(w);
        return NULL;
    }
    /* as jsonio_dump configures it */
    yajl_gen_config(w->g, yajl_gen_print_callback, print_cb, out);
    w->out = out;
    w->mark = out->len;
    w->failed = 0;
    return w;
}

static void jw_check(struct jsonio_writer *w, yajl_gen_status st)
{
    if (st != yajl_gen_status_ok) {
        w->failed = 1;
    }
}

void jw_map_open(struct jsonio_writer *w)
{
    if (w != NULL && !w->failed) {
        jw_check(w, yajl_gen_map_open(w->g));
    }
}

void jw_map_close(struct jsonio_writer *w)
{
    if (w != NULL && !w->failed) {
        jw_check(w, yajl_gen_map_close(w->g));
    }
}

void jw_array_open(struct jsonio_writer *w)
{
    if (w != NULL && !w->failed) {
        jw_check(w, yajl_gen_array_open(w->g));
    }
}

void jw_array_close(struct jsonio_writer *w)
{
    if (w != NULL && !w->failed) {
        jw_check(w, yajl_gen_array_close(w->g));
    }
}

/* Keys and strings with gen_value's checks (a C string has no NUL). */
void jw_key(struct jsonio_writer *w, const char *key)
{
    if (w != NULL && !w->failed) {
        size_t len = strlen(key);
        if (!plain_string((const unsigned char *)key, len)) {
            w->failed = 1;
            return;
        }
        jw_check(w, yajl_gen_string(w->g, (const unsigned char *)key, len));
    }
}

void jw_string(struct jsonio_writer *w, const char *s)
{
    if (w == NULL || w->failed) {
        return;
    }
    if (s == NULL) {
        jw_check(w, yajl_gen_null(w->g));
        return;
    }
    size_t len = strlen(s);
    if (!gd_utf8_valid(s, len)) {
        w->failed = 1;
        return;
    }
    jw_check(w, yajl_gen_string(w->g, (const unsigned char *)s, len));
}

void jw_integer(struct jsonio_writer *w, long long v)
{
    if (w != NULL && !w->failed) {
        jw_check(w, yajl_gen_integer(w->g, v));
    }
}

int jsonio_writer_end(struct jsonio_writer *w)
{
    int rc;

    if (w == NULL) {
        return -1;
    }
    rc = w->failed || w->out->oom ? -1 : 0;
    if (rc != 0) {
        w->out->len = w->mark;
        if (w->out->s != NULL && !w->out->oom) {
            w->out->s[w->mark] = '\0';
        }
    }
    yajl_gen_free(w->g);
    free(w);
    return rc;
}
