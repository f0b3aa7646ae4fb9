/* Knowledge-base helpers shared by the kb commands: see kb.h.  The local
 * article check mirrors the server's rules in docs/API.md so that an import
 * can name the bad rows of a file by line before anything is sent; the
 * server still checks everything again. */
#include "cli/kb.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/api.h"

/* Largest file read for a text flag (@PATH) or --file. */
#define KB_FLAG_FILE_MAX (4u * 1024 * 1024)

/* ------------------------------------------------------------ small checks */

bool kb_status_valid(const char *s)
{
    return strcmp(s, "draft") == 0 || strcmp(s, "review") == 0 ||
           strcmp(s, "published") == 0 || strcmp(s, "retired") == 0;
}

bool kb_id_valid(const char *s, size_t n)
{
    size_t i;

    if (n == 0 || n > KB_ID_MAX)
        return false;
    for (i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static bool source_type_valid(const char *s)
{
    static const char *const types[] = {"policy", "law", "standard", "manual",
                                        "case"};
    size_t i;

    for (i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcmp(s, types[i]) == 0)
            return true;
    return false;
}

/* Length of the blank (ASCII white space or U+3000 ideographic space)
 * prefix of s[0..n). */
static size_t blank_prefix(const char *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        if (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n' ||
            s[i] == '\v' || s[i] == '\f')
            i++;
        else if (n - i >= 3 && memcmp(s + i, "\xe3\x80\x80", 3) == 0)
            i += 3;
        else
            break;
    }
    return i;
}

/* s[0..n) without its blank suffix: the new length. */
static size_t trim_end(const char *s, size_t n)
{
    while (n > 0) {
        char c = s[n - 1];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' ||
            c == '\f')
            n--;
        else if (n >= 3 && memcmp(s + n - 3, "\xe3\x80\x80", 3) == 0)
            n -= 3;
        else
            break;
    }
    return n;
}

static bool is_blank(const char *s, size_t n)
{
    return blank_prefix(s, n) == n;
}

/* A member name made safe for a message: printable ASCII, at most 40
 * characters; anything else becomes '?'. */
static void safe_name(const char *key, char *buf, size_t n)
{
    size_t i;

    for (i = 0; key[i] != '\0' && i + 1 < n && i < 40; i++)
        buf[i] = (key[i] > 0x20 && key[i] < 0x7f) ? key[i] : '?';
    buf[i] = '\0';
}

static bool fail(char *msg, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool fail(char *msg, size_t n, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, n, fmt, ap);
    va_end(ap);
    return false;
}

/* ------------------------------------------------------- the article check */

static const char *const article_fields[] = {
    "id",       "title",   "category", "fault",  "cause", "solution", "script",
    "keywords", "sources", "region",   "status", "note",  NULL,
};

static const char *const body_fields[] = {"fault", "cause", "solution",
                                          "script"};

/* A required one-line text member: present, a string, not blank, at most
 * max bytes. */
static bool check_required(const json_t *a, const char *key, size_t max,
                           char *msg, size_t n)
{
    const json_t *v = json_object_get(a, key);

    if (v == NULL)
        return fail(msg, n, "missing %s", key);
    if (!json_is_string(v))
        return fail(msg, n, "field \"%s\" must be a string", key);
    if (is_blank(json_string_value(v), json_string_length(v)))
        return fail(msg, n, "empty %s", key);
    if (json_string_length(v) > max)
        return fail(msg, n, "%s longer than %zu bytes (%zu)", key, max,
                    json_string_length(v));
    return true;
}

/* An optional string member of at most max bytes. */
static bool check_string(const json_t *a, const char *key, size_t max,
                         char *msg, size_t n)
{
    const json_t *v = json_object_get(a, key);

    if (v == NULL)
        return true;
    if (!json_is_string(v))
        return fail(msg, n, "field \"%s\" must be a string", key);
    if (max > 0 && json_string_length(v) > max)
        return fail(msg, n, "%s longer than %zu bytes (%zu)", key, max,
                    json_string_length(v));
    return true;
}

/* keywords: an array of strings; each is trimmed, empty ones dropped. */
static bool check_keywords(json_t *a, char *msg, size_t n)
{
    json_t *kw = json_object_get(a, "keywords"), *tidy, *v;
    size_t i;

    if (kw == NULL)
        return true;
    if (!json_is_array(kw))
        return fail(msg, n, "field \"keywords\" must be an array of strings");
    tidy = json_array();
    if (tidy == NULL)
        return fail(msg, n, "out of memory");
    json_array_foreach(kw, i, v)
    {
        const char *s;
        size_t len, skip;
        if (!json_is_string(v)) {
            json_decref(tidy);
            return fail(msg, n, "keyword %zu is not a string", i + 1);
        }
        s = json_string_value(v);
        len = json_string_length(v);
        skip = blank_prefix(s, len);
        len = trim_end(s + skip, len - skip);
        if (len == 0)
            continue;
        if (len > KB_KEYWORD_MAX) {
            json_decref(tidy);
            return fail(msg, n, "keyword %zu longer than %d bytes", i + 1,
                        KB_KEYWORD_MAX);
        }
        if (json_array_append_new(tidy, json_stringn(s + skip, len)) != 0) {
            json_decref(tidy);
            return fail(msg, n, "out of memory");
        }
    }
    if (json_array_size(tidy) > KB_KEYWORDS_MAX) {
        size_t have = json_array_size(tidy);
        json_decref(tidy);
        return fail(msg, n, "%zu keywords (at most %d)", have, KB_KEYWORDS_MAX);
    }
    if (json_object_set_new(a, "keywords", tidy) != 0)
        return fail(msg, n, "out of memory");
    return true;
}

/* sources: at most 16 objects {"type","title"} with a known type. */
static bool check_sources(const json_t *a, char *msg, size_t n)
{
    const json_t *src = json_object_get(a, "sources"), *v;
    size_t i;

    if (src == NULL)
        return true;
    if (!json_is_array(src))
        return fail(msg, n, "field \"sources\" must be an array");
    if (json_array_size(src) > KB_SOURCES_MAX)
        return fail(msg, n, "%zu sources (at most %d)", json_array_size(src),
                    KB_SOURCES_MAX);
    json_array_foreach(src, i, v)
    {
        const json_t *type = json_object_get(v, "type");
        const json_t *title = json_object_get(v, "title");
        const char *key;
        json_t *m;
        char name[48];

        if (!json_is_object(v))
            return fail(msg, n, "source %zu is not an object", i + 1);
        json_object_foreach((json_t *)v, key, m)
        {
            if (strcmp(key, "type") != 0 && strcmp(key, "title") != 0) {
                safe_name(key, name, sizeof name);
                return fail(msg, n, "source %zu: unknown field \"%s\"", i + 1,
                            name);
            }
        }
        if (!json_is_string(type) ||
            !source_type_valid(json_string_value(type)))
            return fail(msg, n,
                        "source %zu: type must be policy, law, standard, "
                        "manual or case",
                        i + 1);
        if (!json_is_string(title) ||
            is_blank(json_string_value(title), json_string_length(title)))
            return fail(msg, n, "source %zu: missing title", i + 1);
    }
    return true;
}

bool kb_article_check(json_t *a, char *msg, size_t n)
{
    const char *key;
    json_t *v, *tmp, *st, *id;
    bool any_body = false;
    char name[48];
    size_t i;

    if (!json_is_object(a))
        return fail(msg, n, "not a JSON object");
    json_object_foreach_safe(a, tmp, key, v)
    {
        for (i = 0; article_fields[i] != NULL; i++)
            if (strcmp(key, article_fields[i]) == 0)
                break;
        if (article_fields[i] == NULL) {
            safe_name(key, name, sizeof name);
            return fail(msg, n, "unknown field \"%s\"", name);
        }
        if (json_is_null(v) || (strcmp(key, "id") == 0 && json_is_string(v) &&
                                json_string_length(v) == 0))
            json_object_del(a, key); /* absent, as the node takes them */
    }
    id = json_object_get(a, "id");
    if (id != NULL && !json_is_string(id))
        return fail(msg, n, "field \"id\" must be a string");
    if (id != NULL &&
        !kb_id_valid(json_string_value(id), json_string_length(id)))
        return fail(msg, n, "id must be 1-%d characters of A-Z a-z 0-9 . _ -",
                    KB_ID_MAX);
    if (!check_required(a, "title", KB_TITLE_MAX, msg, n) ||
        !check_required(a, "category", KB_CATEGORY_MAX, msg, n))
        return false;
    for (i = 0; i < 4; i++) {
        if (!check_string(a, body_fields[i], KB_BODY_MAX, msg, n))
            return false;
        v = json_object_get(a, body_fields[i]);
        if (v != NULL && !is_blank(json_string_value(v), json_string_length(v)))
            any_body = true;
    }
    if (!any_body)
        return fail(msg, n,
                    "empty article: needs fault, cause, solution or script");
    if (!check_keywords(a, msg, n) || !check_sources(a, msg, n) ||
        !check_string(a, "region", KB_REGION_MAX, msg, n) ||
        !check_string(a, "note", 0, msg, n) ||
        !check_string(a, "status", 0, msg, n))
        return false;
    st = json_object_get(a, "status");
    if (st != NULL && !kb_status_valid(json_string_value(st)))
        return fail(msg, n,
                    "status must be draft, review, published or retired");
    return true;
}

/* -------------------------------------------------- keywords and sources */

/* Length of the separator at s, or 0: ; | , newline, ； ， (U+FF1B, U+FF0C). */
static size_t keyword_sep(const char *s)
{
    if (*s == ';' || *s == '|' || *s == ',' || *s == '\n' || *s == '\r')
        return 1;
    if (strncmp(s, "\xef\xbc\x9b", 3) == 0 ||
        strncmp(s, "\xef\xbc\x8c", 3) == 0)
        return 3;
    return 0;
}

int kb_split_keywords(const char *cell, json_t *arr)
{
    const char *p = cell;

    while (*p != '\0') {
        const char *start = p;
        size_t len, skip, sep = 0;
        json_t *s;

        while (*p != '\0' && (sep = keyword_sep(p)) == 0)
            p++;
        len = (size_t)(p - start);
        skip = blank_prefix(start, len);
        len = trim_end(start + skip, len - skip);
        if (len > 0) {
            s = json_stringn(start + skip, len);
            if (s == NULL)
                return CLI_EUSAGE; /* invalid UTF-8 */
            if (json_array_append_new(arr, s) != 0)
                return CLI_ENOMEM;
        }
        if (*p != '\0')
            p += sep;
    }
    return 0;
}

int kb_parse_source(const char *text, json_t **out, char *msg, size_t n)
{
    const char *colon = strchr(text, ':');
    const char *wide = strstr(text, "\xef\xbc\x9a"); /* ： */
    const char *title;
    size_t tlen, skip, ttl;
    char type[16];

    *out = NULL;
    if (wide != NULL && (colon == NULL || wide < colon)) {
        tlen = (size_t)(wide - text);
        title = wide + 3;
    } else if (colon != NULL) {
        tlen = (size_t)(colon - text);
        title = colon + 1;
    } else {
        fail(msg, n, "source '%.60s' is not TYPE:TITLE", text);
        return CLI_EUSAGE;
    }
    skip = blank_prefix(text, tlen);
    tlen = trim_end(text + skip, tlen - skip);
    if (tlen == 0 || tlen >= sizeof type) {
        fail(msg, n, "source '%.60s' is not TYPE:TITLE", text);
        return CLI_EUSAGE;
    }
    memcpy(type, text + skip, tlen);
    type[tlen] = '\0';
    if (!source_type_valid(type)) {
        fail(msg, n,
             "source type '%s' is not policy, law, standard, manual or case",
             type);
        return CLI_EUSAGE;
    }
    ttl = strlen(title);
    skip = blank_prefix(title, ttl);
    ttl = trim_end(title + skip, ttl - skip);
    if (ttl == 0) {
        fail(msg, n, "source '%.60s' has no title", text);
        return CLI_EUSAGE;
    }
    *out = json_pack("{s:s, s:s%}", "type", type, "title", title + skip, ttl);
    if (*out == NULL) {
        fail(msg, n, "source '%.60s' is not valid UTF-8", text);
        return CLI_EUSAGE;
    }
    return 0;
}

/* ------------------------------------------------------------ field flags */

int kb_flags_each(const struct args_opt *o, const char *value, void *data,
                  struct cli_err *err)
{
    struct kb_flags *f = data;
    json_t *item = NULL;

    if (strcmp(o->name, "keyword") == 0) {
        if (f->keywords == NULL && (f->keywords = json_array()) == NULL)
            return cli_no_memory(err);
        if (value[0] == '\0')
            return 0; /* --keyword '' : the list may stay empty */
        item = json_string(value);
        if (item == NULL)
            return cli_err_set(err, CLI_EUSAGE,
                               "--keyword must be valid UTF-8");
        if (json_array_append_new(f->keywords, item) != 0)
            return cli_no_memory(err);
        return 0;
    }
    if (strcmp(o->name, "source") == 0) {
        char msg[200];
        int rc;

        if (f->sources == NULL && (f->sources = json_array()) == NULL)
            return cli_no_memory(err);
        rc = kb_parse_source(value, &item, msg, sizeof msg);
        if (rc < 0)
            return cli_err_set(err, rc, "--source: %s", msg);
        if (json_array_append_new(f->sources, item) != 0)
            return cli_no_memory(err);
    }
    return 0;
}

void kb_flags_close(struct kb_flags *f)
{
    json_decref(f->keywords);
    json_decref(f->sources);
    f->keywords = NULL;
    f->sources = NULL;
}

/* Reads all of path ("-": stdin) into a NUL-terminated malloc'd buffer. */
static int read_whole(const char *flag, const char *path, char **out,
                      size_t *len, struct cli_err *err)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    struct strbuf sb;
    char buf[65536];
    size_t n;

    *out = NULL;
    if (f == NULL)
        return cli_err_set(err, CLI_ELOCAL, "%s: cannot open %s: %s", flag,
                           path, strerror(errno));
    strbuf_init(&sb);
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        if (sb.len + n > KB_FLAG_FILE_MAX) {
            if (f != stdin)
                fclose(f);
            strbuf_close(&sb);
            return cli_err_set(err, CLI_EUSAGE,
                               "%s: %s is larger than %u "
                               "bytes",
                               flag, path, KB_FLAG_FILE_MAX);
        }
        strbuf_append(&sb, buf, n);
    }
    if (ferror(f)) {
        int e = errno;
        if (f != stdin)
            fclose(f);
        strbuf_close(&sb);
        return cli_err_set(err, CLI_ELOCAL, "%s: reading %s: %s", flag, path,
                           strerror(e));
    }
    if (f != stdin)
        fclose(f);
    *len = sb.len;
    *out = strbuf_take(&sb);
    return *out != NULL ? 0 : cli_no_memory(err);
}

int kb_flag_text(const char *flag, const char *value, json_t **out,
                 struct cli_err *err)
{
    char *text;
    size_t len;
    int rc;

    *out = NULL;
    if (value[0] != '@' || value[1] == '@') {
        *out = json_string(value[0] == '@' ? value + 1 : value);
        if (*out == NULL)
            return cli_err_set(err, CLI_EUSAGE, "--%s must be valid UTF-8",
                               flag);
        return 0;
    }
    if (value[1] == '\0')
        return cli_err_set(err, CLI_EUSAGE,
                           "--%s @: give a file after '@' (or @- for stdin)",
                           flag);
    rc = read_whole(flag, value + 1, &text, &len, err);
    if (rc < 0)
        return rc;
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
        len--; /* a file's final newline is not part of the text */
    *out = json_stringn(text, len);
    free(text);
    if (*out == NULL)
        return cli_err_set(err, CLI_EUSAGE, "--%s %s: not valid UTF-8 text",
                           flag, value);
    return 0;
}

/* Members a --file may carry that the server manages: dropped. */
static const char *const managed[] = {
    "created_at", "created_by", "updated_at",    "updated_by",
    "uses",       "tickets",    "applied_index", NULL,
};
static const char *const proposal_managed[] = {
    "status",      "proposed_by",     "proposed_at",    "reviewed_by",
    "reviewed_at", "decision_reason", "result_article", "result_version",
    "sources",     "region",          "version",        "note",
    NULL,
};

static bool in_list(const char *const *list, const char *key)
{
    for (; *list != NULL; list++)
        if (strcmp(*list, key) == 0)
            return true;
    return false;
}

/* Loads --file into *out and drops what the kind of request cannot take. */
static int load_file_body(enum kb_body_kind kind, const char *path,
                          const char *edit_id, json_t **out,
                          struct cli_err *err)
{
    json_error_t je;
    json_t *doc, *v, *tmp;
    const char *key;
    char *text;
    size_t len;
    int rc;

    *out = NULL;
    rc = read_whole("--file", path, &text, &len, err);
    if (rc < 0)
        return rc;
    doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    free(text);
    if (doc == NULL)
        return cli_err_set(err, CLI_EUSAGE,
                           "--file %s: bad JSON: %s at line "
                           "%d",
                           path, je.text, je.line);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return cli_err_set(err, CLI_EUSAGE, "--file %s: not a JSON object",
                           path);
    }
    json_object_foreach_safe(doc, tmp, key, v)
    {
        bool drop = in_list(managed, key);
        if (kind == KB_BODY_ADD)
            drop = drop || strcmp(key, "version") == 0;
        if (kind == KB_BODY_EDIT)
            drop = drop || strcmp(key, "status") == 0 || strcmp(key, "id") == 0;
        if (kind == KB_BODY_PROPOSE)
            drop = drop || in_list(proposal_managed, key);
        if (kind == KB_BODY_EDIT && strcmp(key, "id") == 0 &&
            (!json_is_string(v) ||
             strcmp(json_string_value(v), edit_id) != 0)) {
            json_decref(doc);
            return cli_err_set(
                err, CLI_EUSAGE, "--file %s is article '%s', not '%s'", path,
                json_is_string(v) ? json_string_value(v) : "?", edit_id);
        }
        if (kind == KB_BODY_PROPOSE && strcmp(key, "id") == 0) {
            /* An article (kb show --json): propose a new version of it.
             * A proposal's own id (KP-...) is simply dropped. */
            if (json_is_string(v) && json_object_get(doc, "article") == NULL &&
                json_object_get(doc, "proposed_by") == NULL &&
                json_object_set(doc, "article", v) != 0) {
                json_decref(doc);
                return cli_no_memory(err);
            }
            drop = true;
        }
        if (drop)
            json_object_del(doc, key);
    }
    *out = doc;
    return 0;
}

/* Flag name and JSON member of each field flag, and which kinds take it. */
struct field_flag {
    const char *flag;
    const char *field;
    bool text; /* takes @PATH */
    unsigned kinds;
};

#define K_ADD (1u << KB_BODY_ADD)
#define K_EDIT (1u << KB_BODY_EDIT)
#define K_PROP (1u << KB_BODY_PROPOSE)

static const struct field_flag field_flags[] = {
    {"id", "id", false, K_ADD},
    {"title", "title", false, K_ADD | K_EDIT | K_PROP},
    {"category", "category", false, K_ADD | K_EDIT | K_PROP},
    {"fault", "fault", true, K_ADD | K_EDIT | K_PROP},
    {"cause", "cause", true, K_ADD | K_EDIT | K_PROP},
    {"solution", "solution", true, K_ADD | K_EDIT | K_PROP},
    {"script", "script", true, K_ADD | K_EDIT | K_PROP},
    {"region", "region", false, K_ADD | K_EDIT},
    {"status", "status", false, K_ADD},
    {"note", "note", true, K_ADD | K_EDIT},
    {"ticket", "ticket", false, K_PROP},
    {"article", "article", false, K_PROP},
    {"reason", "reason", true, K_PROP},
};

int kb_body_from_flags(enum kb_body_kind kind, const struct args_opt *opts,
                       const struct kb_flags *f, const char *edit_id,
                       json_t **out, struct cli_err *err)
{
    const char *file = args_get(opts, "file"), *version;
    json_t *body = NULL, *v;
    size_t i;
    int rc;

    *out = NULL;
    if (file != NULL) {
        if (file[0] == '\0')
            return cli_err_set(err, CLI_EUSAGE, "--file must not be empty");
        rc = load_file_body(kind, file, edit_id, &body, err);
        if (rc < 0)
            return rc;
    } else if ((body = json_object()) == NULL) {
        return cli_no_memory(err);
    }
    for (i = 0; i < sizeof field_flags / sizeof field_flags[0]; i++) {
        const struct field_flag *ff = &field_flags[i];
        const char *value;

        if (!(ff->kinds & (1u << kind)))
            continue;
        value = args_get(opts, ff->flag);
        if (value == NULL)
            continue;
        if (ff->text) {
            rc = kb_flag_text(ff->flag, value, &v, err);
            if (rc < 0)
                goto fail;
        } else if ((v = json_string(value)) == NULL) {
            rc = cli_err_set(err, CLI_EUSAGE, "--%s must be valid UTF-8",
                             ff->flag);
            goto fail;
        }
        if (json_object_set_new(body, ff->field, v) != 0) {
            rc = cli_no_memory(err);
            goto fail;
        }
    }
    if (f->keywords != NULL &&
        json_object_set(body, "keywords", f->keywords) != 0) {
        rc = cli_no_memory(err);
        goto fail;
    }
    if (f->sources != NULL && kind != KB_BODY_PROPOSE &&
        json_object_set(body, "sources", f->sources) != 0) {
        rc = cli_no_memory(err);
        goto fail;
    }
    version = kind == KB_BODY_EDIT ? args_get(opts, "version") : NULL;
    if (version != NULL) {
        long n;
        rc = kb_parse_count("--version", version, 1, 2147483647L, &n, err);
        if (rc < 0)
            goto fail;
        if (json_object_set_new(body, "version", json_integer(n)) != 0) {
            rc = cli_no_memory(err);
            goto fail;
        }
    }
    *out = body;
    return 0;
fail:
    json_decref(body);
    return rc;
}

/* ------------------------------------------------------------ requests */

int kb_path(struct strbuf *sb, const char *collection, const char *id,
            const char *tail, struct cli_err *err)
{
    if (id[0] == '\0')
        return cli_err_set(err, CLI_EUSAGE, "the ID must not be empty");
    strbuf_printf(sb, "/v1/kb/%s/", collection);
    strbuf_put_urlenc(sb, id);
    strbuf_puts(sb, tail);
    return strbuf_ok(sb) ? 0 : cli_no_memory(err);
}

int kb_request(const struct cli_ctx *ctx, const char *method, const char *path,
               json_t *body, json_t **out, struct cli_err *err)
{
    struct api_conn conn;
    int rc;

    *out = NULL;
    rc = api_open(&conn, ctx, 0, err);
    if (rc < 0)
        return rc;
    rc = api_call(&conn, method, path, body, out, err);
    if (rc == 0 && *out == NULL && !ctx->json)
        rc = cli_err_set(err, CLI_ENET, "%s sent an empty answer to %s %s",
                         conn.node, method, path);
    api_close(&conn);
    return rc;
}

int kb_parse_count(const char *flag, const char *s, long min, long max,
                   long *out, struct cli_err *err)
{
    char *end;
    long n;

    errno = 0;
    n = strtol(s, &end, 10);
    if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno != 0 || n < min ||
        n > max) {
        if (max >= 2147483647L)
            return cli_err_set(err, CLI_EUSAGE, "%s must be a number from %ld",
                               flag, min);
        return cli_err_set(err, CLI_EUSAGE,
                           "%s must be a number from %ld to "
                           "%ld",
                           flag, min, max);
    }
    *out = n;
    return 0;
}
