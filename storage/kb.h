/* Knowledge-base key layouts on top of storage/store.h (column family KB):
 *
 *   a<id>                       → kb_article_encode (current version)
 *   v<id>\0<be32 version>       → kb_article_encode (that version, kept)
 *   l<id>\0<ticket id>          → ""  (the article solved that ticket)
 *   p<id>                       → kb_proposal_encode
 *
 * Ids never contain \0 (kb_id_valid), so prefixes are unambiguous.  The
 * search index of the articles lives in the SEARCH column family (search/).
 * Everything here is replicated state: writes go through a store_batch. */
#ifndef GD_STORE_KB_H
#define GD_STORE_KB_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/kb.h"
#include "storage/store.h"

#define STORE_KB_LIST_MAX 1000
/* Counters CF: KB_CAT_COUNTER + category path → articles in that category
 * (any status; written by apply). */
#define KB_CAT_COUNTER "kbcat/"

struct kb_category_count {
    char *path;
    uint64_t count;
};

/* Every category with at least one article, in path order.  *out malloc'd
 * (free with store_kb_categories_free).  GD_EIO, GD_ECORRUPT, GD_ENOMEM. */
int store_kb_categories(struct store *s, struct kb_category_count **out,
                        size_t *n, struct gd_err *err);
void store_kb_categories_free(struct kb_category_count *c, size_t n);

/* Reads the current article id (version 0) or one version of it into out
 * (initialised; cleared on error).  GD_ENOTFOUND, GD_EINVAL (bad id),
 * GD_ECORRUPT, GD_EIO, GD_ENOMEM. */
int store_kb_article_get(struct store *s, const char *id, uint32_t version,
                         struct kb_article *out, struct gd_err *err);

/* Adds to b the article as the current version and, when with_version, as
 * version a->version in the history.  GD_EINVAL, GD_ENOMEM. */
int store_kb_article_put(struct store_batch *b, const struct kb_article *a,
                         int with_version);

/* Every stored version of an article, oldest first (*out malloc'd, NULL
 * when *n is 0; free with store_kb_articles_free).  GD_EINVAL, GD_ECORRUPT,
 * GD_EIO, GD_ENOMEM. */
int store_kb_versions(struct store *s, const char *id, struct kb_article **out,
                      size_t *n, struct gd_err *err);
void store_kb_articles_free(struct kb_article *a, size_t n);

/* Lists current articles in id order after the id `after` (NULL: from the
 * start), keeping those whose category is cat or below it (NULL: any) and
 * whose status is status (-1: any).  At most limit (1..STORE_KB_LIST_MAX)
 * items; *next is a malloc'd id to pass as after when more may follow, else
 * NULL.  Scans at most 20 * limit + 1000 articles per call, so a rare filter
 * returns a short page with a next cursor rather than reading everything.
 * GD_EINVAL, GD_ECORRUPT, GD_EIO, GD_ENOMEM. */
int store_kb_article_list(struct store *s, const char *cat, int status,
                          const char *after, size_t limit,
                          struct kb_article **items, size_t *n, char **next,
                          struct gd_err *err);

/* 1 when the link exists, 0 when not, <0 on error (GD_EIO, GD_ENOMEM). */
int store_kb_link_exists(struct store *s, const char *id, const char *ticket);
/* GD_ENOMEM. */
int store_kb_link_put(struct store_batch *b, const char *id,
                      const char *ticket);

/* Proposals, as articles above. */
int store_kb_proposal_get(struct store *s, const char *id,
                          struct kb_proposal *out, struct gd_err *err);
int store_kb_proposal_put(struct store_batch *b, const struct kb_proposal *p);
/* status -1: any. */
int store_kb_proposal_list(struct store *s, int status, const char *after,
                           size_t limit, struct kb_proposal **items, size_t *n,
                           char **next, struct gd_err *err);
void store_kb_proposals_free(struct kb_proposal *p, size_t n);

#endif
