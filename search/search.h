/* Full-text search over documents with named fields: text normalisation
 * (ICU NFKC + case/width folding, OpenCC Traditional→Simplified, ICU
 * dictionary word segmentation, CJK character bigrams, Latin words and
 * numbers), an inverted index kept in the SEARCH column family of the store,
 * BM25F ranking with field weights and phrase proximity, filters, and
 * highlighted snippets.
 *
 * search/ knows nothing about articles, HTTP or Raft: a document is a number
 * (docno, assigned by the caller), an external id string, six text fields
 * and three filter attributes.  The knowledge base (core/kb, consensus/fsm)
 * maps articles onto documents.
 *
 * Write side.  Index changes go into the caller's store_batch, the same batch
 * that carries the document's own record and the Raft applied index, so the
 * index is always exactly as new as the data.  Between sr_batch_begin and
 * sr_batch_end the engine keeps an overlay of what the batch has changed, so
 * one batch may touch the same docno several times.  Index contents depend
 * only on the calls made (no clocks, no randomness): replicas that apply the
 * same entries hold byte-identical SEARCH column families.
 *
 * Read side.  The engine keeps caches derived from the store (document
 * table, decoded posting lists); they are refreshed by sr_batch_end after a
 * commit and rebuilt by sr_engine_reload after the store was replaced.
 *
 * Threads: an engine belongs to one thread (the node's libuv loop). */
#ifndef GD_SEARCH_H
#define GD_SEARCH_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

struct store;
struct store_batch;
struct sr_engine; /* opaque */

/* The indexed fields, in falling weight order of BM25F:
 * title > keywords > solution, fault > cause, script. */
enum sr_field {
    SR_F_TITLE = 0,
    SR_F_KEYWORDS,
    SR_F_FAULT,
    SR_F_CAUSE,
    SR_F_SOLUTION,
    SR_F_SCRIPT,
    SR_F__COUNT
};

/* One document as the caller hands it over.  Strings are UTF-8 (invalid
 * UTF-8 → GD_EINVAL), not necessarily NUL-terminated; NULL text with len 0
 * is an empty field.  keywords is one field: the caller joins keywords with
 * a newline.  category is a path such as "电费电价/电价政策" ('/' separates
 * levels); status and region are short plain strings ("published", "GD");
 * region "" means "applies everywhere".  uses is a non-negative popularity
 * count the ranking may use (0 = unknown). */
struct sr_doc {
    const char *id; /* external id, 1..64 bytes, returned in hits */
    size_t id_len;
    const char *text[SR_F__COUNT];
    size_t len[SR_F__COUNT];
    const char *category;
    size_t category_len;
    const char *status;
    size_t status_len;
    const char *region;
    size_t region_len;
    uint32_t uses;
};

/* Opens an engine over the store: loads the ICU and OpenCC data and the
 * document table.  GD_EIO when ICU/OpenCC data cannot be loaded (with their
 * message), GD_ECORRUPT for a malformed SEARCH entry, GD_ENOMEM. */
int sr_engine_open(struct store *s, struct sr_engine **out, struct gd_err *err);
void sr_engine_close(struct sr_engine *e); /* NULL is a no-op */

/* Drops every cache and reloads the document table from the store (after a
 * snapshot was loaded).  Errors as sr_engine_open. */
int sr_engine_reload(struct sr_engine *e, struct gd_err *err);

/* --- Write side ----------------------------------------------------------- */

/* Starts collecting index changes for batch b.  Only one batch at a time. */
void sr_batch_begin(struct sr_engine *e, struct store_batch *b);

/* Records into the current batch the changes that make docno hold doc
 * (NULL: remove docno from the index; removing an absent docno is a no-op).
 * docno 0 is invalid.  GD_EINVAL (bad UTF-8, id length, docno 0, no batch
 * begun), GD_EIO (reading the store), GD_ENOMEM.  On error the batch must
 * not be committed (the caller fails the whole entry). */
int sr_index_put(struct sr_engine *e, uint32_t docno, const struct sr_doc *doc,
                 struct gd_err *err);

/* Ends the batch: committed != 0 after store_batch_commit succeeded (caches
 * take the changes), 0 when the batch was dropped (caches unchanged). */
void sr_batch_end(struct sr_engine *e, int committed);

/* --- Read side ------------------------------------------------------------ */

struct sr_query {
    const char *q; /* the user's query text, UTF-8, any script */
    size_t q_len;
    /* Filters; NULL = any.  category matches the path and everything below
     * it ("电费电价" matches "电费电价/电价政策").  status NULL means
     * "published".  region matches documents of that region and documents
     * that apply everywhere (""). */
    const char *category;
    const char *status;
    const char *region;
    uint32_t exclude_docno; /* 0 = none; "similar articles" excludes itself */
    size_t limit;           /* 1..100 */
    size_t offset;          /* for paging */
    int snippets;           /* non-zero: fill hit.snippet */
    /* 0: a document must hold most of the query's units (typed queries).
     * Non-zero: it may hold any of them (two once the query has four or
     * more) and ranking decides: for queries made by sr_query_from_text
     * ("similar articles", "cases like this ticket"). */
    int match_any;
};

struct sr_hit {
    uint32_t docno;
    char *id;      /* external id, NUL-terminated */
    double score;  /* > 0, higher is better */
    char *snippet; /* NULL unless asked: ≤ ~120 characters of the best
                      matching field, HTML-escaped, matches in <em>…</em> */
};

struct sr_result {
    struct sr_hit *hits; /* best first */
    size_t n;
    size_t total;     /* documents that match the query and filters */
    char *suggestion; /* "did you mean" when total is 0, else NULL */
};

/* Runs a query.  A query with no indexable term is GD_EINVAL ("empty
 * query").  GD_EIO, GD_ENOMEM.  The result is freed with sr_result_free
 * (also after an error: it is then empty). */
int sr_search(struct sr_engine *e, const struct sr_query *q,
              struct sr_result *out, struct gd_err *err);
void sr_result_free(struct sr_result *r);

/* A query made from a longer text (a ticket's summary and description, an
 * article's title and keywords): the text's most distinctive terms, at most
 * max_terms, joined by spaces, NUL-terminated, malloc'd into *out.  Feed it
 * to sr_search as q.  GD_EINVAL (bad UTF-8 or nothing indexable),
 * GD_ENOMEM. */
int sr_query_from_text(struct sr_engine *e, const char *text, size_t len,
                       size_t max_terms, char **out, struct gd_err *err);

/* --- Analysis (exposed for tests, the benchmark and the API) -------------- */

struct sr_token {
    char *term;     /* normalised term, NUL-terminated */
    uint32_t pos;   /* position in the field (words and bigrams share it) */
    uint32_t start; /* byte offsets of the token in the original text */
    uint32_t end;
};

struct sr_tokens {
    struct sr_token *v;
    size_t n;
};

/* Splits text into normalised tokens (words, CJK bigrams, Latin words,
 * numbers).  Deterministic for a given ICU/OpenCC version.  GD_EINVAL for
 * invalid UTF-8, GD_ENOMEM.  Free with sr_tokens_free (also after error). */
int sr_analyze(struct sr_engine *e, const char *text, size_t len,
               struct sr_tokens *out, struct gd_err *err);
void sr_tokens_free(struct sr_tokens *t);

/* Counters for /metrics. */
struct sr_stats {
    uint64_t docs;          /* documents in the index */
    uint64_t queries;       /* sr_search calls */
    uint64_t cache_hits;    /* posting lists served from memory */
    uint64_t cache_misses;  /* posting lists read from the store */
    uint64_t cache_bytes;   /* memory held by cached posting lists */
    /* Added after the first release: */
    uint64_t segments;      /* posting segments in the store */
    uint64_t flushing;      /* 1 while a segment is being written */
    uint64_t buffered_postings; /* (term, document) pairs held in memory */
    /* 1 when the index was built by another analyser (ICU version, OpenCC
     * fold table or analyser format): queries keep working but may miss
     * documents; rebuild the index (sr_engine_open logs a warning). */
    uint64_t analyser_mismatch;
};
void sr_engine_stats(struct sr_engine *e, struct sr_stats *out);

#endif
