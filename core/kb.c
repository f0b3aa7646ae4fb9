/* Knowledge base records, rules and codecs: see kb.h.
 *
 * Wire forms (msgpack arrays, first element the codec version 1):
 *   article  [1, id, title, category, fault, cause, solution, script,
 *             [keyword...], [[type, title]...], region, status, version,
 *             docno, created_hlc, created_by, updated_hlc, updated_by, note,
 *             changed, uses, [ticket...]]
 *   proposal [1, id, status, ticket, article, content (article form),
 *             reason, proposed_by, proposed_hlc, reviewed_by, reviewed_hlc,
 *             decision_reason, result_article, result_version]
 *   op       [1, op, actor, hlc, article, mask, expect_version, status, note,
 *             ticket, target, approve, publish, reason]
 * Strings are str or nil. */
#include "core/kb.h"

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/event.h"
#include "core/hlc.h"
#include "core/util.h"

#define KB_CODEC_VERSION 1
#define ARTICLE_WIRE_LEN 22
#define PROPOSAL_WIRE_LEN 14
#define OP_WIRE_LEN 14

/* ---- life cycle ------------------------------------------------------ */

static void strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void kb_article_init(struct kb_article *a)
{
    memset(a, 0, sizeof *a);
}

void kb_article_clear(struct kb_article *a)
{
    free(a->id);
    free(a->title);
    free(a->category);
    for (int i = 0; i < KB_TEXT__COUNT; i++)
        free(a->text[i]);
    strv_free(a->keywords, a->n_keywords);
    for (size_t i = 0; i < a->n_sources; i++)
        free(a->sources[i].title);
    free(a->sources);
    free(a->region);
    free(a->created_by);
    free(a->updated_by);
    free(a->note);
    strv_free(a->tickets, a->n_tickets);
    kb_article_init(a);
}

void kb_proposal_init(struct kb_proposal *p)
{
    memset(p, 0, sizeof *p);
    kb_article_init(&p->content);
}

void kb_proposal_clear(struct kb_proposal *p)
{
    free(p->id);
    free(p->ticket);
    free(p->article);
    kb_article_clear(&p->content);
    free(p->reason);
    free(p->proposed_by);
    free(p->reviewed_by);
    free(p->decision_reason);
    free(p->result_article);
    kb_proposal_init(p);
}

void kb_op_init(struct kb_op *o)
{
    memset(o, 0, sizeof *o);
    kb_article_init(&o->art);
}

void kb_op_clear(struct kb_op *o)
{
    free(o->actor);
    kb_article_clear(&o->art);
    free(o->note);
    free(o->ticket);
    free(o->target);
    free(o->reason);
    kb_op_init(o);
}

static int strv_copy(char ***dst, size_t *dn, char *const *src, size_t n)
{
    char **v = NULL;

    if (n > 0) {
        v = calloc(n, sizeof *v);
        if (v == NULL)
            return GD_ENOMEM;
        for (size_t i = 0; i < n; i++) {
            if (gd_strdup(&v[i], src[i]) != 0) {
                strv_free(v, n);
                return GD_ENOMEM;
            }
        }
    }
    strv_free(*dst, *dn);
    *dst = v;
    *dn = n;
    return 0;
}

static int sources_copy(struct kb_article *dst, const struct kb_article *src)
{
    struct kb_source *v = NULL;

    if (src->n_sources > 0) {
        v = calloc(src->n_sources, sizeof *v);
        if (v == NULL)
            return GD_ENOMEM;
        for (size_t i = 0; i < src->n_sources; i++) {
            v[i].type = src->sources[i].type;
            if (gd_strdup(&v[i].title, src->sources[i].title) != 0) {
                for (size_t j = 0; j < i; j++)
                    free(v[j].title);
                free(v);
                return GD_ENOMEM;
            }
        }
    }
    for (size_t i = 0; i < dst->n_sources; i++)
        free(dst->sources[i].title);
    free(dst->sources);
    dst->sources = v;
    dst->n_sources = src->n_sources;
    return 0;
}

int kb_article_assign(struct kb_article *dst, const struct kb_article *src,
                      uint32_t mask)
{
    static const uint32_t text_bits[KB_TEXT__COUNT] = {
        KB_F_FAULT, KB_F_CAUSE, KB_F_SOLUTION, KB_F_SCRIPT};

    if ((mask & KB_F_TITLE) && gd_strdup(&dst->title, src->title) != 0)
        return GD_ENOMEM;
    if ((mask & KB_F_CATEGORY) &&
        gd_strdup(&dst->category, src->category) != 0)
        return GD_ENOMEM;
    for (int i = 0; i < KB_TEXT__COUNT; i++)
        if ((mask & text_bits[i]) &&
            gd_strdup(&dst->text[i], src->text[i]) != 0)
            return GD_ENOMEM;
    if ((mask & KB_F_KEYWORDS) &&
        strv_copy(&dst->keywords, &dst->n_keywords, src->keywords,
                  src->n_keywords) != 0)
        return GD_ENOMEM;
    if ((mask & KB_F_SOURCES) && sources_copy(dst, src) != 0)
        return GD_ENOMEM;
    if ((mask & KB_F_REGION) && gd_strdup(&dst->region, src->region) != 0)
        return GD_ENOMEM;
    if (mask & KB_F_STATUS)
        dst->status = src->status;
    return 0;
}

int kb_article_copy(struct kb_article *dst, const struct kb_article *src)
{
    struct kb_article a;

    kb_article_init(&a);
    if (kb_article_assign(&a, src, KB_F__ALL) != 0 ||
        gd_strdup(&a.id, src->id) != 0 ||
        gd_strdup(&a.created_by, src->created_by) != 0 ||
        gd_strdup(&a.updated_by, src->updated_by) != 0 ||
        gd_strdup(&a.note, src->note) != 0 ||
        strv_copy(&a.tickets, &a.n_tickets, src->tickets, src->n_tickets)) {
        kb_article_clear(&a);
        return GD_ENOMEM;
    }
    a.version = src->version;
    a.docno = src->docno;
    a.created_hlc = src->created_hlc;
    a.updated_hlc = src->updated_hlc;
    a.changed = src->changed;
    a.uses = src->uses;
    kb_article_clear(dst);
    *dst = a;
    return 0;
}

/* ---- names and rules ------------------------------------------------- */

static const char *const status_names[KB_STATUS__COUNT] = {
    "draft", "review", "published", "retired"};
static const char *const source_names[KB_SRC__COUNT] = {
    "policy", "law", "standard", "manual", "case"};
static const char *const pstatus_names[] = {"pending", "approved",
                                            "rejected"};
static const char *const text_names[KB_TEXT__COUNT] = {"fault", "cause",
                                                       "solution", "script"};
static const char *const field_names[] = {
    "title",    "category", "fault",   "cause",  "solution",
    "script",   "keywords", "sources", "region", "status"};

static int name_parse(const char *const *names, int n, const char *s)
{
    if (s == NULL)
        return -1;
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], s) == 0)
            return i;
    return -1;
}

const char *kb_status_name(int s)
{
    return s >= 0 && s < KB_STATUS__COUNT ? status_names[s] : "unknown";
}

int kb_status_parse(const char *s)
{
    return name_parse(status_names, KB_STATUS__COUNT, s);
}

const char *kb_source_name(int t)
{
    return t >= 0 && t < KB_SRC__COUNT ? source_names[t] : "unknown";
}

int kb_source_parse(const char *s)
{
    return name_parse(source_names, KB_SRC__COUNT, s);
}

const char *kb_proposal_status_name(int s)
{
    return s >= 0 && s <= KB_P_REJECTED ? pstatus_names[s] : "unknown";
}

int kb_proposal_status_parse(const char *s)
{
    return name_parse(pstatus_names, KB_P_REJECTED + 1, s);
}

const char *kb_text_name(int f)
{
    return f >= 0 && f < KB_TEXT__COUNT ? text_names[f] : "unknown";
}

const char *kb_field_name(uint32_t bit)
{
    for (size_t i = 0; i < sizeof field_names / sizeof field_names[0]; i++)
        if (bit == 1u << i)
            return field_names[i];
    return NULL;
}

int kb_status_move_ok(int from, int to)
{
    switch (from) {
    case KB_DRAFT: return to == KB_REVIEW || to == KB_PUBLISHED;
    case KB_REVIEW: return to == KB_PUBLISHED || to == KB_DRAFT;
    case KB_PUBLISHED: return to == KB_RETIRED || to == KB_DRAFT;
    case KB_RETIRED: return to == KB_PUBLISHED;
    default: return 0;
    }
}

int kb_category_under(const char *c, const char *cat)
{
    size_t n = strlen(cat);

    if (c == NULL || strncmp(c, cat, n) != 0)
        return 0;
    return c[n] == '\0' || c[n] == '/';
}

int kb_id_valid(const char *s)
{
    size_t n = 0;

    if (s == NULL)
        return 0;
    for (; s[n] != '\0'; n++) {
        char c = s[n];
        if (n >= KB_ID_MAX ||
            !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return n > 0;
}

static size_t slen(const char *s)
{
    return s != NULL ? strlen(s) : 0;
}

/* UTF-8, at most max bytes, no control characters (multiline: \n, \r and \t
 * allowed). */
static int str_check(const char *s, size_t max, int multiline,
                     const char *what, struct gd_err *err)
{
    size_t n = slen(s);

    if (n > max)
        return gd_err_set(err, GD_EINVAL, "%s: %zu bytes, limit %zu", what, n,
                          max);
    if (n > 0 && !gd_utf8_valid(s, n))
        return gd_err_set(err, GD_EINVAL, "%s: not valid UTF-8", what);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 || c == 0x7f) &&
            !(multiline && (c == '\n' || c == '\r' || c == '\t')))
            return gd_err_set(err, GD_EINVAL,
                              "%s: control character at byte %zu", what, i);
    }
    return 0;
}

static int blank(const char *s)
{
    if (s == NULL)
        return 1;
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
            return 0;
    return 1;
}

static int category_check(const char *c, struct gd_err *err)
{
    int rc = str_check(c, KB_CATEGORY_MAX, 0, "category", err);
    const char *p = c;

    if (rc != 0)
        return rc;
    if (blank(c))
        return gd_err_set(err, GD_EINVAL, "category is required");
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (n == 0 || p[0] == ' ' || p[n - 1] == ' ')
            return gd_err_set(err, GD_EINVAL,
                              "category \"%s\": empty level or blanks around "
                              "'/'",
                              c);
        if (slash == NULL)
            return 0;
        p = slash + 1;
    }
}

int kb_article_check(const struct kb_article *a, struct gd_err *err)
{
    int rc, any = 0;

    if ((rc = str_check(a->title, KB_TITLE_MAX, 0, "title", err)))
        return rc;
    if (blank(a->title))
        return gd_err_set(err, GD_EINVAL, "title is required");
    if ((rc = category_check(a->category, err)))
        return rc;
    for (int i = 0; i < KB_TEXT__COUNT; i++) {
        if ((rc = str_check(a->text[i], KB_TEXT_MAX, 1, text_names[i], err)))
            return rc;
        any = any || !blank(a->text[i]);
    }
    if (!any)
        return gd_err_set(err, GD_EINVAL,
                          "an article needs at least one of fault, cause, "
                          "solution, script");
    if (a->n_keywords > KB_KEYWORDS_MAX)
        return gd_err_set(err, GD_EINVAL, "%zu keywords, limit %d",
                          a->n_keywords, KB_KEYWORDS_MAX);
    for (size_t i = 0; i < a->n_keywords; i++) {
        if ((rc = str_check(a->keywords[i], KB_KEYWORD_MAX, 0, "keyword",
                            err)))
            return rc;
        if (blank(a->keywords[i]))
            return gd_err_set(err, GD_EINVAL, "keyword %zu is empty", i + 1);
    }
    if (a->n_sources > KB_SOURCES_MAX)
        return gd_err_set(err, GD_EINVAL, "%zu sources, limit %d",
                          a->n_sources, KB_SOURCES_MAX);
    for (size_t i = 0; i < a->n_sources; i++) {
        if (a->sources[i].type < 0 || a->sources[i].type >= KB_SRC__COUNT)
            return gd_err_set(err, GD_EINVAL, "source %zu: unknown type",
                              i + 1);
        if ((rc = str_check(a->sources[i].title, KB_SOURCE_TITLE_MAX, 0,
                            "source title", err)))
            return rc;
        if (blank(a->sources[i].title))
            return gd_err_set(err, GD_EINVAL, "source %zu: title is required",
                              i + 1);
    }
    if (a->region != NULL && a->region[0] != '\0') {
        size_t n = strlen(a->region);
        if (n > KB_REGION_MAX)
            return gd_err_set(err, GD_EINVAL, "region: %zu bytes, limit %d",
                              n, KB_REGION_MAX);
        for (size_t i = 0; i < n; i++) {
            char c = a->region[i];
            if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-'))
                return gd_err_set(err, GD_EINVAL,
                                  "region \"%s\": use A-Z, 0-9 and -",
                                  a->region);
        }
    }
    if (a->status < 0 || a->status >= KB_STATUS__COUNT)
        return gd_err_set(err, GD_EINVAL, "unknown status");
    return 0;
}

static int str_eq(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

uint32_t kb_article_diff(const struct kb_article *a,
                         const struct kb_article *b)
{
    static const uint32_t text_bits[KB_TEXT__COUNT] = {
        KB_F_FAULT, KB_F_CAUSE, KB_F_SOLUTION, KB_F_SCRIPT};
    uint32_t d = 0;

    if (!str_eq(a->title, b->title))
        d |= KB_F_TITLE;
    if (!str_eq(a->category, b->category))
        d |= KB_F_CATEGORY;
    for (int i = 0; i < KB_TEXT__COUNT; i++)
        if (!str_eq(a->text[i], b->text[i]))
            d |= text_bits[i];
    if (a->n_keywords != b->n_keywords) {
        d |= KB_F_KEYWORDS;
    } else {
        for (size_t i = 0; i < a->n_keywords; i++)
            if (!str_eq(a->keywords[i], b->keywords[i]))
                d |= KB_F_KEYWORDS;
    }
    if (a->n_sources != b->n_sources) {
        d |= KB_F_SOURCES;
    } else {
        for (size_t i = 0; i < a->n_sources; i++)
            if (a->sources[i].type != b->sources[i].type ||
                !str_eq(a->sources[i].title, b->sources[i].title))
                d |= KB_F_SOURCES;
    }
    if (!str_eq(a->region, b->region))
        d |= KB_F_REGION;
    if (a->status != b->status)
        d |= KB_F_STATUS;
    return d;
}

void kb_id_format(char *out, size_t cap, const char *prefix, uint64_t hlc,
                  uint32_t seq)
{
    char date[16];

    gd_date_yyyymmdd(hlc_ms(hlc), date, sizeof date);
    snprintf(out, cap, "%s-%s-%04u", prefix, date, (unsigned)seq);
}

/* ---- pack ------------------------------------------------------------ */

static int pk_ok(int r)
{
    return r == 0 ? 0 : GD_ENOMEM;
}

static int pack_str(msgpack_packer *pk, const char *s)
{
    int rc = gd_mp_str_ok(s, GD_FIELD_MAX);
    return rc != 0 ? rc : gd_mp_pack_str(pk, s);
}

static int pack_strv(msgpack_packer *pk, char *const *v, size_t n)
{
    int rc;

    if (n > UINT32_MAX)
        return GD_ETOOBIG;
    if ((rc = pk_ok(msgpack_pack_array(pk, (uint32_t)n))))
        return rc;
    for (size_t i = 0; i < n; i++)
        if ((rc = pack_str(pk, v[i])))
            return rc;
    return 0;
}

static int article_pack(msgpack_packer *pk, const struct kb_article *a)
{
    const char *head[] = {a->id,          a->title,         a->category,
                          a->text[0],     a->text[1],       a->text[2],
                          a->text[3]};
    int rc;

    if (a->status < 0 || a->status >= KB_STATUS__COUNT)
        return GD_EINVAL;
    if ((rc = pk_ok(msgpack_pack_array(pk, ARTICLE_WIRE_LEN))) ||
        (rc = pk_ok(msgpack_pack_uint32(pk, KB_CODEC_VERSION))))
        return rc;
    for (size_t i = 0; i < sizeof head / sizeof head[0]; i++)
        if ((rc = pack_str(pk, head[i])))
            return rc;
    if ((rc = pack_strv(pk, a->keywords, a->n_keywords)))
        return rc;
    if ((rc = pk_ok(msgpack_pack_array(pk, (uint32_t)a->n_sources))))
        return rc;
    for (size_t i = 0; i < a->n_sources; i++) {
        if (a->sources[i].type < 0 || a->sources[i].type >= KB_SRC__COUNT)
            return GD_EINVAL;
        if ((rc = pk_ok(msgpack_pack_array(pk, 2))) ||
            (rc = pk_ok(msgpack_pack_int(pk, a->sources[i].type))) ||
            (rc = pack_str(pk, a->sources[i].title)))
            return rc;
    }
    if ((rc = pack_str(pk, a->region)) ||
        (rc = pk_ok(msgpack_pack_int(pk, a->status))) ||
        (rc = pk_ok(msgpack_pack_uint32(pk, a->version))) ||
        (rc = pk_ok(msgpack_pack_uint32(pk, a->docno))) ||
        (rc = pk_ok(msgpack_pack_uint64(pk, a->created_hlc))) ||
        (rc = pack_str(pk, a->created_by)) ||
        (rc = pk_ok(msgpack_pack_uint64(pk, a->updated_hlc))) ||
        (rc = pack_str(pk, a->updated_by)) || (rc = pack_str(pk, a->note)) ||
        (rc = pk_ok(msgpack_pack_uint32(pk, a->changed))) ||
        (rc = pk_ok(msgpack_pack_uint32(pk, a->uses))))
        return rc;
    return pack_strv(pk, a->tickets, a->n_tickets);
}

static int article_pack_cb(msgpack_packer *pk, const void *arg)
{
    return article_pack(pk, arg);
}

int kb_article_encode(const struct kb_article *a, char **buf, size_t *len)
{
    return gd_mp_encode(article_pack_cb, a, buf, len);
}

static int proposal_pack(msgpack_packer *pk, const void *arg)
{
    const struct kb_proposal *p = arg;
    int rc;

    if ((rc = pk_ok(msgpack_pack_array(pk, PROPOSAL_WIRE_LEN))) ||
        (rc = pk_ok(msgpack_pack_uint32(pk, KB_CODEC_VERSION))) ||
        (rc = pack_str(pk, p->id)) ||
        (rc = pk_ok(msgpack_pack_int(pk, p->status))) ||
        (rc = pack_str(pk, p->ticket)) || (rc = pack_str(pk, p->article)) ||
        (rc = article_pack(pk, &p->content)) ||
        (rc = pack_str(pk, p->reason)) ||
        (rc = pack_str(pk, p->proposed_by)) ||
        (rc = pk_ok(msgpack_pack_uint64(pk, p->proposed_hlc))) ||
        (rc = pack_str(pk, p->reviewed_by)) ||
        (rc = pk_ok(msgpack_pack_uint64(pk, p->reviewed_hlc))) ||
        (rc = pack_str(pk, p->decision_reason)) ||
        (rc = pack_str(pk, p->result_article)))
        return rc;
    return pk_ok(msgpack_pack_uint32(pk, p->result_version));
}

int kb_proposal_encode(const struct kb_proposal *p, char **buf, size_t *len)
{
    if (p->status < KB_P_PENDING || p->status > KB_P_REJECTED)
        return GD_EINVAL;
    return gd_mp_encode(proposal_pack, p, buf, len);
}

int kb_op_pack(msgpack_packer *pk, const struct kb_op *o)
{
    int rc;

    if (o->op < KB_OP_CREATE || o->op > KB_OP_REVIEW)
        return GD_EINVAL;
    if ((rc = pk_ok(msgpack_pack_array(pk, OP_WIRE_LEN))) ||
        (rc = pk_ok(msgpack_pack_uint32(pk, KB_CODEC_VERSION))) ||
        (rc = pk_ok(msgpack_pack_int(pk, o->op))) ||
        (rc = pack_str(pk, o->actor)) ||
        (rc = pk_ok(msgpack_pack_uint64(pk, o->hlc))) ||
        (rc = article_pack(pk, &o->art)) ||
        (rc = pk_ok(msgpack_pack_uint32(pk, o->mask))) ||
        (rc = pk_ok(msgpack_pack_uint32(pk, o->expect_version))) ||
        (rc = pk_ok(msgpack_pack_int(pk, o->status))) ||
        (rc = pack_str(pk, o->note)) || (rc = pack_str(pk, o->ticket)) ||
        (rc = pack_str(pk, o->target)) ||
        (rc = pk_ok(msgpack_pack_int(pk, o->approve ? 1 : 0))) ||
        (rc = pk_ok(msgpack_pack_int(pk, o->publish ? 1 : 0))))
        return rc;
    return pack_str(pk, o->reason);
}

/* ---- unpack ---------------------------------------------------------- */

static int unpack_head(const msgpack_object *o, uint32_t n, const char *what,
                       struct gd_err *err)
{
    uint64_t v;
    int rc;

    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size < 1)
        return gd_err_set(err, GD_ECORRUPT, "%s: not an array", what);
    rc = gd_mp_uint(&o->via.array.ptr[0], UINT32_MAX, &v, what, err);
    if (rc != 0)
        return rc;
    if (v != KB_CODEC_VERSION)
        return gd_err_set(err, GD_ECORRUPT, "%s: unknown codec version %llu",
                          what, (unsigned long long)v);
    return gd_mp_array(o, n, what, err);
}

static int unpack_u32(const msgpack_object *o, uint32_t *out, const char *what,
                      struct gd_err *err)
{
    uint64_t v;
    int rc = gd_mp_uint(o, UINT32_MAX, &v, what, err);
    if (rc == 0)
        *out = (uint32_t)v;
    return rc;
}

static int unpack_small(const msgpack_object *o, int max, int *out,
                        const char *what, struct gd_err *err)
{
    uint64_t v;
    int rc = gd_mp_uint(o, (uint64_t)max, &v, what, err);
    if (rc == 0)
        *out = (int)v;
    return rc;
}

static int unpack_strv(const msgpack_object *o, size_t max, char ***out,
                       size_t *n, const char *what, struct gd_err *err)
{
    char **v;
    uint32_t k;
    int rc;

    if (o->type != MSGPACK_OBJECT_ARRAY)
        return gd_err_set(err, GD_ECORRUPT, "%s: not an array", what);
    k = o->via.array.size;
    if (k > max)
        return gd_err_set(err, GD_ECORRUPT, "%s: %u items, limit %zu", what,
                          (unsigned)k, max);
    strv_free(*out, *n);
    *out = NULL;
    *n = 0;
    if (k == 0)
        return 0;
    v = calloc(k, sizeof *v);
    if (v == NULL)
        return gd_err_set(err, GD_ENOMEM, "%s: out of memory", what);
    for (uint32_t i = 0; i < k; i++) {
        rc = gd_mp_str(&o->via.array.ptr[i], 0, GD_FIELD_MAX, &v[i], what, err);
        if (rc != 0) {
            strv_free(v, k);
            return rc;
        }
    }
    *out = v;
    *n = k;
    return 0;
}

static int article_unpack(const msgpack_object *o, struct kb_article *a,
                          struct gd_err *err)
{
    const msgpack_object *v;
    char **head[] = {&a->id,      &a->title,   &a->category, &a->text[0],
                     &a->text[1], &a->text[2], &a->text[3]};
    static const char *const head_names[] = {
        "article id", "article title", "article category", "article fault",
        "article cause", "article solution", "article script"};
    int rc;

    if ((rc = unpack_head(o, ARTICLE_WIRE_LEN, "article", err)))
        return rc;
    v = o->via.array.ptr;
    for (size_t i = 0; i < 7; i++)
        if ((rc = gd_mp_str(&v[1 + i], 1, GD_FIELD_MAX, head[i], head_names[i],
                            err)))
            return rc;
    if ((rc = unpack_strv(&v[8], 1024, &a->keywords, &a->n_keywords,
                          "article keywords", err)))
        return rc;
    if (v[9].type != MSGPACK_OBJECT_ARRAY || v[9].via.array.size > 1024)
        return gd_err_set(err, GD_ECORRUPT, "article sources: not an array");
    if (v[9].via.array.size > 0) {
        uint32_t k = v[9].via.array.size;
        a->sources = calloc(k, sizeof *a->sources);
        if (a->sources == NULL)
            return gd_err_set(err, GD_ENOMEM, "sources: out of memory");
        a->n_sources = k;
        for (uint32_t i = 0; i < k; i++) {
            const msgpack_object *s = &v[9].via.array.ptr[i];
            if ((rc = gd_mp_array(s, 2, "article source", err)) ||
                (rc = unpack_small(&s->via.array.ptr[0], KB_SRC__COUNT - 1,
                                   &a->sources[i].type, "source type", err)) ||
                (rc = gd_mp_str(&s->via.array.ptr[1], 1, GD_FIELD_MAX,
                                &a->sources[i].title, "source title", err)))
                return rc;
        }
    }
    if ((rc = gd_mp_str(&v[10], 1, GD_FIELD_MAX, &a->region, "article region",
                        err)) ||
        (rc = unpack_small(&v[11], KB_STATUS__COUNT - 1, &a->status,
                           "article status", err)) ||
        (rc = unpack_u32(&v[12], &a->version, "article version", err)) ||
        (rc = unpack_u32(&v[13], &a->docno, "article docno", err)) ||
        (rc = gd_mp_uint(&v[14], UINT64_MAX, &a->created_hlc, "created", err)) ||
        (rc = gd_mp_str(&v[15], 1, GD_FIELD_MAX, &a->created_by, "created_by",
                        err)) ||
        (rc = gd_mp_uint(&v[16], UINT64_MAX, &a->updated_hlc, "updated", err)) ||
        (rc = gd_mp_str(&v[17], 1, GD_FIELD_MAX, &a->updated_by, "updated_by",
                        err)) ||
        (rc = gd_mp_str(&v[18], 1, GD_FIELD_MAX, &a->note, "note", err)) ||
        (rc = unpack_u32(&v[19], &a->changed, "changed", err)) ||
        (rc = unpack_u32(&v[20], &a->uses, "uses", err)))
        return rc;
    return unpack_strv(&v[21], 4096, &a->tickets, &a->n_tickets,
                       "article tickets", err);
}

static int article_unpack_cb(const msgpack_object *o, void *arg,
                             struct gd_err *err)
{
    return article_unpack(o, arg, err);
}

int kb_article_decode(const char *buf, size_t len, struct kb_article *a,
                      struct gd_err *err)
{
    int rc;

    kb_article_clear(a);
    rc = gd_mp_decode(buf, len, article_unpack_cb, a, err);
    if (rc != 0)
        kb_article_clear(a);
    return rc;
}

static int proposal_unpack(const msgpack_object *o, void *arg,
                           struct gd_err *err)
{
    struct kb_proposal *p = arg;
    const msgpack_object *v;
    int rc;

    if ((rc = unpack_head(o, PROPOSAL_WIRE_LEN, "proposal", err)))
        return rc;
    v = o->via.array.ptr;
    if ((rc = gd_mp_str(&v[1], 1, GD_FIELD_MAX, &p->id, "proposal id", err)) ||
        (rc = unpack_small(&v[2], KB_P_REJECTED, &p->status, "proposal status",
                           err)) ||
        (rc = gd_mp_str(&v[3], 1, GD_FIELD_MAX, &p->ticket, "ticket", err)) ||
        (rc = gd_mp_str(&v[4], 1, GD_FIELD_MAX, &p->article, "article", err)) ||
        (rc = article_unpack(&v[5], &p->content, err)) ||
        (rc = gd_mp_str(&v[6], 1, GD_FIELD_MAX, &p->reason, "reason", err)) ||
        (rc = gd_mp_str(&v[7], 1, GD_FIELD_MAX, &p->proposed_by, "proposed_by",
                        err)) ||
        (rc = gd_mp_uint(&v[8], UINT64_MAX, &p->proposed_hlc, "proposed",
                         err)) ||
        (rc = gd_mp_str(&v[9], 1, GD_FIELD_MAX, &p->reviewed_by, "reviewed_by",
                        err)) ||
        (rc = gd_mp_uint(&v[10], UINT64_MAX, &p->reviewed_hlc, "reviewed",
                         err)) ||
        (rc = gd_mp_str(&v[11], 1, GD_FIELD_MAX, &p->decision_reason,
                        "decision_reason", err)) ||
        (rc = gd_mp_str(&v[12], 1, GD_FIELD_MAX, &p->result_article,
                        "result_article", err)))
        return rc;
    return unpack_u32(&v[13], &p->result_version, "result_version", err);
}

int kb_proposal_decode(const char *buf, size_t len, struct kb_proposal *p,
                       struct gd_err *err)
{
    int rc;

    kb_proposal_clear(p);
    rc = gd_mp_decode(buf, len, proposal_unpack, p, err);
    if (rc != 0)
        kb_proposal_clear(p);
    return rc;
}

int kb_op_unpack(const msgpack_object *obj, struct kb_op *o,
                 struct gd_err *err)
{
    const msgpack_object *v;
    int rc;

    if ((rc = unpack_head(obj, OP_WIRE_LEN, "kb op", err)))
        return rc;
    v = obj->via.array.ptr;
    if ((rc = unpack_small(&v[1], KB_OP_REVIEW, &o->op, "kb op type", err)))
        return rc;
    if (o->op < KB_OP_CREATE)
        return gd_err_set(err, GD_ECORRUPT, "kb op type: unknown %d", o->op);
    if ((rc = gd_mp_str(&v[2], 1, GD_FIELD_MAX, &o->actor, "actor", err)) ||
        (rc = gd_mp_uint(&v[3], UINT64_MAX, &o->hlc, "kb op hlc", err)) ||
        (rc = article_unpack(&v[4], &o->art, err)) ||
        (rc = unpack_u32(&v[5], &o->mask, "mask", err)) ||
        (rc = unpack_u32(&v[6], &o->expect_version, "expect_version", err)) ||
        (rc = unpack_small(&v[7], KB_STATUS__COUNT - 1, &o->status, "status",
                           err)) ||
        (rc = gd_mp_str(&v[8], 1, GD_FIELD_MAX, &o->note, "note", err)) ||
        (rc = gd_mp_str(&v[9], 1, GD_FIELD_MAX, &o->ticket, "ticket", err)) ||
        (rc = gd_mp_str(&v[10], 1, GD_FIELD_MAX, &o->target, "target", err)) ||
        (rc = unpack_small(&v[11], 1, &o->approve, "approve", err)) ||
        (rc = unpack_small(&v[12], 1, &o->publish, "publish", err)))
        return rc;
    if (o->mask & ~(uint32_t)KB_F__ALL)
        return gd_err_set(err, GD_ECORRUPT, "kb op mask: unknown bits");
    return gd_mp_str(&v[13], 1, GD_FIELD_MAX, &o->reason, "reason", err);
}
