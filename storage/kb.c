/* Knowledge-base records in the KB column family: see storage/kb.h. */
#include "storage/kb.h"

#include <stdlib.h>
#include <string.h>

#include "core/util.h"

/* key = tag, id [, \0, rest (rlen bytes)] into a malloc'd buffer. */
static char *key_make(char tag, const char *id, const void *rest, size_t rlen,
                      size_t *klen)
{
    size_t n = strlen(id);
    char *k = malloc(1 + n + (rest ? 1 + rlen : 0));

    if (k == NULL)
        return NULL;
    k[0] = tag;
    memcpy(k + 1, id, n);
    *klen = 1 + n;
    if (rest != NULL) {
        k[*klen] = '\0';
        memcpy(k + *klen + 1, rest, rlen);
        *klen += 1 + rlen;
    }
    return k;
}

static int get_record(struct store *s, char *key, size_t klen, char **val,
                      size_t *vlen, struct gd_err *err)
{
    int rc;

    if (key == NULL)
        return gd_err_set(err, GD_ENOMEM, "out of memory");
    rc = store_get(s, STORE_CF_KB, key, klen, val, vlen);
    free(key);
    if (rc == GD_ENOTFOUND)
        return gd_err_set(err, rc, "not found");
    if (rc != 0)
        return gd_err_set(err, rc, "cannot read the knowledge base");
    return 0;
}

int store_kb_article_get(struct store *s, const char *id, uint32_t version,
                         struct kb_article *out, struct gd_err *err)
{
    unsigned char be[4];
    char *val = NULL, *key;
    size_t klen = 0, vlen = 0;
    int rc;

    kb_article_init(out);
    if (!kb_id_valid(id))
        return gd_err_set(err, GD_EINVAL, "bad article id");
    if (version == 0) {
        key = key_make('a', id, NULL, 0, &klen);
    } else {
        be[0] = (unsigned char)(version >> 24);
        be[1] = (unsigned char)(version >> 16);
        be[2] = (unsigned char)(version >> 8);
        be[3] = (unsigned char)version;
        key = key_make('v', id, be, 4, &klen);
    }
    rc = get_record(s, key, klen, &val, &vlen, err);
    if (rc != 0)
        return rc;
    rc = kb_article_decode(val, vlen, out, err);
    free(val);
    return rc;
}

int store_kb_article_put(struct store_batch *b, const struct kb_article *a,
                         int with_version)
{
    unsigned char be[4];
    char *buf = NULL, *key;
    size_t len = 0, klen = 0;
    int rc;

    if (!kb_id_valid(a->id))
        return GD_EINVAL;
    rc = kb_article_encode(a, &buf, &len);
    if (rc != 0)
        return rc;
    key = key_make('a', a->id, NULL, 0, &klen);
    if (key == NULL) {
        free(buf);
        return GD_ENOMEM;
    }
    store_batch_put(b, STORE_CF_KB, key, klen, buf, len);
    free(key);
    if (with_version) {
        be[0] = (unsigned char)(a->version >> 24);
        be[1] = (unsigned char)(a->version >> 16);
        be[2] = (unsigned char)(a->version >> 8);
        be[3] = (unsigned char)a->version;
        key = key_make('v', a->id, be, 4, &klen);
        if (key == NULL) {
            free(buf);
            return GD_ENOMEM;
        }
        store_batch_put(b, STORE_CF_KB, key, klen, buf, len);
        free(key);
    }
    free(buf);
    return 0;
}

void store_kb_articles_free(struct kb_article *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        kb_article_clear(&a[i]);
    free(a);
}

void store_kb_proposals_free(struct kb_proposal *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        kb_proposal_clear(&p[i]);
    free(p);
}

/* Grows *arr (elements of size sz) to hold n + 1. */
static int grow(void **arr, size_t *cap, size_t n, size_t sz)
{
    if (n < *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 16;
    void *p = realloc(*arr, c * sz);
    if (p == NULL)
        return GD_ENOMEM;
    *arr = p;
    *cap = c;
    return 0;
}

int store_kb_versions(struct store *s, const char *id, struct kb_article **out,
                      size_t *n, struct gd_err *err)
{
    struct kb_article *v = NULL;
    size_t cap = 0, k = 0, plen = 0;
    char *prefix;
    struct store_iter *it;
    int rc = 0;

    *out = NULL;
    *n = 0;
    if (!kb_id_valid(id))
        return gd_err_set(err, GD_EINVAL, "bad article id");
    prefix = key_make('v', id, "", 0, &plen);
    if (prefix == NULL)
        return gd_err_set(err, GD_ENOMEM, "out of memory");
    it = store_iter_new(s, STORE_CF_KB, prefix, plen, NULL, 0);
    for (; store_iter_valid(it); store_iter_next(it)) {
        size_t vlen;
        const char *val = store_iter_value(it, &vlen);
        if ((rc = grow((void **)&v, &cap, k, sizeof *v)) != 0) {
            gd_err_set(err, rc, "out of memory");
            break;
        }
        kb_article_init(&v[k]);
        if ((rc = kb_article_decode(val, vlen, &v[k], err)) != 0)
            break;
        k++;
    }
    if (rc == 0)
        rc = store_iter_error(it, err);
    store_iter_free(it);
    free(prefix);
    if (rc != 0) {
        store_kb_articles_free(v, k);
        return rc;
    }
    *out = v;
    *n = k;
    return 0;
}

/* Scans records under tag after `after`, calling take() on each value;
 * take returns 1 when it kept the item, 0 when filtered out, <0 on error.
 * Stops after limit kept items or the scan budget; when a record follows,
 * *next is the id of the last one looked at (the next call starts after
 * it). */
static int scan(struct store *s, char tag, const char *after, size_t limit,
                int (*take)(void *ctx, const char *val, size_t vlen,
                            struct gd_err *err),
                void *ctx, char **next, struct gd_err *err)
{
    char start[1 + KB_ID_MAX + 1], last[KB_ID_MAX + 1] = "";
    size_t slen = 0, kept = 0, seen = 0, budget = limit * 20 + 1000;
    struct store_iter *it;
    int rc = 0;

    *next = NULL;
    if (limit == 0 || limit > STORE_KB_LIST_MAX)
        return gd_err_set(err, GD_EINVAL, "limit must be 1..%d",
                          STORE_KB_LIST_MAX);
    if (after != NULL) {
        if (!kb_id_valid(after))
            return gd_err_set(err, GD_EINVAL, "bad cursor");
        /* Ids hold no \0: <tag><after>\0 is the first possible key after
         * <tag><after>, and ids that extend after ("ab" after "a") sort
         * after it as they do after "a". */
        start[0] = tag;
        memcpy(start + 1, after, strlen(after));
        slen = 1 + strlen(after);
        start[slen++] = '\0';
    }
    it = store_iter_new(s, STORE_CF_KB, &tag, 1, after ? start : NULL, slen);
    for (; store_iter_valid(it); store_iter_next(it)) {
        size_t klen, vlen;
        const char *key = store_iter_key(it, &klen);
        const char *val = store_iter_value(it, &vlen);
        if (kept == limit || seen == budget) {
            if ((rc = gd_strdup(next, last)) != 0)
                gd_err_set(err, rc, "out of memory");
            break;
        }
        if (klen < 2 || klen - 1 > KB_ID_MAX) {
            rc = gd_err_set(err, GD_ECORRUPT, "bad knowledge-base key");
            break;
        }
        memcpy(last, key + 1, klen - 1);
        last[klen - 1] = '\0';
        seen++;
        rc = take(ctx, val, vlen, err);
        if (rc < 0)
            break;
        kept += (size_t)rc;
        rc = 0;
    }
    if (rc == 0 && *next == NULL)
        rc = store_iter_error(it, err);
    store_iter_free(it);
    return rc;
}

struct art_list {
    const char *cat;
    int status;
    struct kb_article *v;
    size_t n, cap;
};

static int take_article(void *ctx, const char *val, size_t vlen,
                        struct gd_err *err)
{
    struct art_list *l = ctx;
    int rc;

    if (grow((void **)&l->v, &l->cap, l->n, sizeof *l->v) != 0)
        return gd_err_set(err, GD_ENOMEM, "out of memory");
    kb_article_init(&l->v[l->n]);
    if ((rc = kb_article_decode(val, vlen, &l->v[l->n], err)) != 0)
        return rc;
    if ((l->cat != NULL && !kb_category_under(l->v[l->n].category, l->cat)) ||
        (l->status >= 0 && l->v[l->n].status != l->status)) {
        kb_article_clear(&l->v[l->n]);
        return 0;
    }
    l->n++;
    return 1;
}

int store_kb_article_list(struct store *s, const char *cat, int status,
                          const char *after, size_t limit,
                          struct kb_article **items, size_t *n, char **next,
                          struct gd_err *err)
{
    struct art_list l = {cat, status, NULL, 0, 0};
    int rc = scan(s, 'a', after, limit, take_article, &l, next, err);

    if (rc != 0) {
        store_kb_articles_free(l.v, l.n);
        free(*next);
        *next = NULL;
        *items = NULL;
        *n = 0;
        return rc;
    }
    *items = l.v;
    *n = l.n;
    return 0;
}

int store_kb_link_exists(struct store *s, const char *id, const char *ticket)
{
    size_t klen = 0, vlen = 0;
    char *val = NULL;
    char *key = key_make('l', id, ticket, strlen(ticket), &klen);
    int rc;

    if (key == NULL)
        return GD_ENOMEM;
    rc = store_get(s, STORE_CF_KB, key, klen, &val, &vlen);
    free(key);
    free(val);
    if (rc == GD_ENOTFOUND)
        return 0;
    return rc == 0 ? 1 : rc;
}

int store_kb_link_put(struct store_batch *b, const char *id,
                      const char *ticket)
{
    size_t klen = 0;
    char *key = key_make('l', id, ticket, strlen(ticket), &klen);

    if (key == NULL)
        return GD_ENOMEM;
    store_batch_put(b, STORE_CF_KB, key, klen, "", 0);
    free(key);
    return 0;
}

int store_kb_proposal_get(struct store *s, const char *id,
                          struct kb_proposal *out, struct gd_err *err)
{
    char *val = NULL, *key;
    size_t klen = 0, vlen = 0;
    int rc;

    kb_proposal_init(out);
    if (!kb_id_valid(id))
        return gd_err_set(err, GD_EINVAL, "bad proposal id");
    key = key_make('p', id, NULL, 0, &klen);
    rc = get_record(s, key, klen, &val, &vlen, err);
    if (rc != 0)
        return rc;
    rc = kb_proposal_decode(val, vlen, out, err);
    free(val);
    return rc;
}

int store_kb_proposal_put(struct store_batch *b, const struct kb_proposal *p)
{
    char *buf = NULL, *key;
    size_t len = 0, klen = 0;
    int rc;

    if (!kb_id_valid(p->id))
        return GD_EINVAL;
    if ((rc = kb_proposal_encode(p, &buf, &len)) != 0)
        return rc;
    key = key_make('p', p->id, NULL, 0, &klen);
    if (key == NULL) {
        free(buf);
        return GD_ENOMEM;
    }
    store_batch_put(b, STORE_CF_KB, key, klen, buf, len);
    free(key);
    free(buf);
    return 0;
}

struct prop_list {
    int status;
    struct kb_proposal *v;
    size_t n, cap;
};

static int take_proposal(void *ctx, const char *val, size_t vlen,
                         struct gd_err *err)
{
    struct prop_list *l = ctx;
    int rc;

    if (grow((void **)&l->v, &l->cap, l->n, sizeof *l->v) != 0)
        return gd_err_set(err, GD_ENOMEM, "out of memory");
    kb_proposal_init(&l->v[l->n]);
    if ((rc = kb_proposal_decode(val, vlen, &l->v[l->n], err)) != 0)
        return rc;
    if (l->status >= 0 && l->v[l->n].status != l->status) {
        kb_proposal_clear(&l->v[l->n]);
        return 0;
    }
    l->n++;
    return 1;
}

int store_kb_proposal_list(struct store *s, int status, const char *after,
                           size_t limit, struct kb_proposal **items, size_t *n,
                           char **next, struct gd_err *err)
{
    struct prop_list l = {status, NULL, 0, 0};
    int rc = scan(s, 'p', after, limit, take_proposal, &l, next, err);

    if (rc != 0) {
        store_kb_proposals_free(l.v, l.n);
        free(*next);
        *next = NULL;
        *items = NULL;
        *n = 0;
        return rc;
    }
    *items = l.v;
    *n = l.n;
    return 0;
}

int store_kb_categories(struct store *s, struct kb_category_count **out,
                        size_t *n, struct gd_err *err)
{
    const size_t plen = sizeof KB_CAT_COUNTER - 1;
    struct kb_category_count *v = NULL;
    size_t k = 0, cap = 0;
    struct store_iter *it;
    int rc = 0;

    *out = NULL;
    *n = 0;
    it = store_iter_new(s, STORE_CF_COUNTERS, KB_CAT_COUNTER, plen, NULL, 0);
    for (; store_iter_valid(it); store_iter_next(it)) {
        size_t klen, vlen;
        const char *key = store_iter_key(it, &klen);
        const char *val = store_iter_value(it, &vlen);
        uint64_t count;
        if (vlen != 8) {
            rc = gd_err_set(err, GD_ECORRUPT, "bad category counter");
            break;
        }
        count = store_be64_get((const unsigned char *)val);
        if (count == 0)
            continue;
        if (grow((void **)&v, &cap, k, sizeof *v) != 0 ||
            (v[k].path = malloc(klen - plen + 1)) == NULL) {
            rc = gd_err_set(err, GD_ENOMEM, "out of memory");
            break;
        }
        memcpy(v[k].path, key + plen, klen - plen);
        v[k].path[klen - plen] = '\0';
        v[k].count = count;
        k++;
    }
    if (rc == 0)
        rc = store_iter_error(it, err);
    store_iter_free(it);
    if (rc != 0) {
        store_kb_categories_free(v, k);
        return rc;
    }
    *out = v;
    *n = k;
    return 0;
}

void store_kb_categories_free(struct kb_category_count *c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(c[i].path);
    free(c);
}
