/* Internals shared by the files of search/: the engine struct, the analyser's
 * token stream, the byte codecs of the SEARCH column family, the term map,
 * the document table, the in-memory buffer index and the posting cache.
 * Nothing here is part of the public contract (search/search.h); the unit
 * test includes it only for the flush-threshold hook. */
#ifndef GD_SEARCH_INTERNAL_H
#define GD_SEARCH_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/error.h"
#include "search/search.h"

/* ---------------------------------------------------------------- limits */

#define SR_ID_MAX 64
#define SR_ATTR_MAX 255          /* category, status, region bytes */
#define SR_TEXT_MAX (4u << 20)   /* bytes per field */
#define SR_TERM_MAX 96           /* bytes of one term; longer Latin words are cut */
#define SR_UNITS_MAX 31          /* query units (one bit each in a mask) */
#define SR_QTERMS_MAX 48         /* every term a query scores */
#define SR_LIMIT_MAX 100
#define SR_OFFSET_MAX 10000
#define SR_FLUSH_POSTINGS_DEFAULT (1u << 21)
/* Segment writing is spread over the puts that follow the one that crosses
 * the flush line: each text-changing put writes whole terms of the frozen
 * buffer until it has written SR_FLUSH_STEP_BASE + SR_FLUSH_STEP_PER_TERM *
 * (its own distinct terms) postings.  Constants of the format: every
 * replica must use the same values. */
#define SR_FLUSH_STEP_BASE 4096u
#define SR_FLUSH_STEP_PER_TERM 3u
/* Buffer-index garbage collection after a commit: postings examined per
 * sr_batch_end (memory only, no effect on stored bytes). */
#define SR_GC_STEP (1u << 17)
#define SR_STAMP_MAX 96
#define SR_ANALYSER_VERSION 1 /* bump when analyze.c changes its output */
#define SR_CACHE_BYTES_DEFAULT ((size_t)256 << 20)
#define SR_FCACHE_SLOTS 1024
#define SR_WMEMO_SLOTS (1u << 16)
#define SR_WMEMO_RUN_MAX 64

/* ------------------------------------------------- bytes, varints (codec.c) */

/* A growable output buffer; like strbuf, an allocation failure sets oom and
 * later writes do nothing. */
struct sr_wbuf {
    unsigned char *p;
    size_t len, cap;
    int oom;
};

void sr_wbuf_free(struct sr_wbuf *b);
void sr_wbuf_put(struct sr_wbuf *b, const void *src, size_t n);
void sr_wbuf_u8_slow(struct sr_wbuf *b, unsigned v);
void sr_wbuf_varint_slow(struct sr_wbuf *b, uint64_t v);

static inline void sr_wbuf_u8(struct sr_wbuf *b, unsigned v)
{
    if (b->cap - b->len >= 1 && !b->oom)
        b->p[b->len++] = (unsigned char)v;
    else
        sr_wbuf_u8_slow(b, v);
}

static inline void sr_wbuf_varint(struct sr_wbuf *b, uint64_t v)
{
    if (b->cap - b->len < 10 || b->oom) {
        sr_wbuf_varint_slow(b, v);
        return;
    }
    while (v >= 0x80) {
        b->p[b->len++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    b->p[b->len++] = (unsigned char)v;
}
void sr_wbuf_be32(struct sr_wbuf *b, uint32_t v);
void sr_wbuf_str(struct sr_wbuf *b, const char *s, size_t n); /* varint + bytes */

/* A bounds-checked reader over stored bytes: every function returns 0, or -1
 * when the bytes end early or a value is out of range (the caller turns -1
 * into GD_ECORRUPT). */
struct sr_rbuf {
    const unsigned char *p, *end;
};

int sr_rbuf_u8(struct sr_rbuf *r, unsigned *v);
int sr_rbuf_varint(struct sr_rbuf *r, uint64_t *v);
int sr_rbuf_varint32(struct sr_rbuf *r, uint32_t *v);
int sr_rbuf_bytes(struct sr_rbuf *r, size_t n, const unsigned char **out);
int sr_rbuf_str(struct sr_rbuf *r, size_t max, const char **s, size_t *n);

static inline uint32_t sr_be32_get(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

static inline void sr_be32_put(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* FNV-1a: terms are short, and the value never reaches the store.  Inline:
 * analysis hashes every token. */
static inline uint32_t sr_hash(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 16777619u;
    }
    return h;
}
uint64_t sr_hash64(uint64_t h, const void *p, size_t n);

/* --------------------------------------------------- term map (codec.c) */

/* Open addressing map from a term (bytes) to a dense index 0..n-1 in
 * insertion order.  No deletion; sr_tmap_clear keeps the memory. */
struct sr_tment {
    uint32_t off, len, hash;
    uint64_t pre; /* the first 8 bytes, zero-padded: terms of up to 8 bytes
                     (most of them) compare without touching the arena */
};

struct sr_tmap {
    uint32_t *slot; /* index + 1, 0 = empty */
    size_t cap;     /* power of two */
    struct sr_tment *ent;
    size_t n, ecap;
    char *arena;
    size_t alen, acap;
};

void sr_tmap_free(struct sr_tmap *m);
void sr_tmap_clear(struct sr_tmap *m);
/* The first min(n, 8) bytes of t, zero-padded (struct sr_tment.pre; the
 * byte order of the host, compared only in memory). */
static inline uint64_t sr_tmap_pre(const char *t, size_t n)
{
    const unsigned char *p = (const unsigned char *)t;
    uint64_t v;
    uint32_t lo, hi;
    if (n >= 8) {
        memcpy(&v, p, 8);
        return v;
    }
    if (n >= 4) { /* two loads that overlap: the same bytes OR'ed */
        memcpy(&lo, p, 4);
        memcpy(&hi, p + n - 4, 4);
        return (uint64_t)lo | (uint64_t)hi << (8 * (n - 4));
    }
    if (n == 0)
        return 0;
    return (uint64_t)p[0] | (uint64_t)p[n / 2] << (8 * (n / 2)) |
           (uint64_t)p[n - 1] << (8 * (n - 1));
}

/* Index of the term, or -1. */
long sr_tmap_find(const struct sr_tmap *m, const char *t, size_t n, uint32_t h);
/* Finds or inserts; *idx is its index, *created 1 when new.  GD_ENOMEM. */
int sr_tmap_get(struct sr_tmap *m, const char *t, size_t n, uint32_t h,
                uint32_t *idx, int *created);

/* Sorts the term indices idx[0..n) by term bytes.  0 or GD_ENOMEM. */
int sr_tmap_sort(const struct sr_tmap *m, uint32_t *idx, size_t n);

static inline const char *sr_tmap_term(const struct sr_tmap *m, uint32_t i,
                                       size_t *n)
{
    *n = m->ent[i].len;
    return m->arena + m->ent[i].off;
}

/* ------------------------------------------------ analysis (analyze.c) */

enum sr_tkind {
    SR_TK_UNI = 0, /* one CJK character */
    SR_TK_BI,      /* two adjacent CJK characters */
    SR_TK_WORD,    /* a dictionary word of a CJK run (nch characters) */
    SR_TK_LATIN,   /* a word or number outside CJK runs */
    SR_TK_SUB,     /* the letter or digit part of a mixed Latin token
                      (dtzy and 341 of dtzy341), indexed, not a query unit */
};

struct sr_atok {
    uint32_t toff, tlen;   /* term bytes in the analysis' term buffer */
    uint32_t pos;          /* first position */
    uint32_t start, end;   /* byte offsets in the original text */
    uint32_t run;          /* CJK run number, UINT32_MAX for Latin */
    uint16_t nch;          /* characters (CJK) */
    uint8_t kind;
};

/* Scratch and output of the analyser, reused between calls. */
struct sr_analysis {
    struct sr_atok *tok;
    size_t ntok, tokcap;
    char *terms;
    size_t tlen, tcap;
    /* normalised code points of the current text */
    uint32_t *cp, *cs, *ce; /* code point, original start and end */
    uint8_t *cls;
    size_t ncp, cpcap;
    uint16_t *u16;  /* UTF-16 of the normalised text, for ICU */
    uint32_t *u2c;  /* UTF-16 index -> code point index */
    size_t nu16, u16cap, u2ccap;
    uint32_t nrun;  /* CJK runs so far */
    int no_words;   /* skip dictionary words (snippets need none) */
    /* dictionary words of the current text and its CJK runs (scratch) */
    struct sr_aword {
        uint32_t c0, c1; /* code points [c0, c1) */
    } *words;
    size_t wcap;
    struct sr_arun {
        uint32_t r0, r1, hash;
    } *runs;
    size_t runcap;
};

void sr_analysis_free(struct sr_analysis *a);
void sr_analysis_reset(struct sr_analysis *a);
/* Appends the tokens of text (valid UTF-8, checked by the caller) to a,
 * positions from *pos on (advanced past the text).  0 or GD_ENOMEM. */
int sr_analyze_into(struct sr_engine *e, struct sr_analysis *a,
                    const char *text, size_t len, uint32_t *pos);

/* Normaliser state opened once per engine. */
int sr_norm_open(struct sr_engine *e, struct gd_err *err);
void sr_norm_close(struct sr_engine *e);

/* ------------------------------------------------------- document table */

/* One live document as the read side sees it. */
struct sr_dent {
    uint32_t docno;      /* 0: free slot */
    uint32_t seg;        /* segment holding its postings, 0 = buffer */
    uint64_t seq;        /* version: changes when the text changes */
    uint64_t chash;      /* hash of id and texts */
    uint32_t uses;
    uint32_t nterms;     /* distinct terms */
    uint32_t flen[SR_F__COUNT];
    char *strs;          /* id \0 category \0 status \0 region \0 */
    uint16_t id_len, cat_len, st_len, rg_len;
    uint32_t cat_id, st_id, rg_id; /* interned (engine attrs), committed only */
};

static inline const char *sr_dent_id(const struct sr_dent *d)
{
    return d->strs;
}
static inline const char *sr_dent_cat(const struct sr_dent *d)
{
    return d->strs + d->id_len + 1;
}
static inline const char *sr_dent_status(const struct sr_dent *d)
{
    return d->strs + d->id_len + d->cat_len + 2;
}
static inline const char *sr_dent_region(const struct sr_dent *d)
{
    return d->strs + d->id_len + d->cat_len + d->st_len + 3;
}

/* --------------------------------------------------------- buffer index */

/* Postings of documents not yet flushed into a segment, in memory only (the
 * store holds their forward records).  Stale entries (the document changed
 * or went away) stay until the next rebuild and are skipped by seq. */
struct sr_bpost {
    uint32_t docno;
    uint32_t seq; /* low 32 bits of the version */
    uint8_t tf[SR_F__COUNT];
};

struct sr_bvec {
    struct sr_bpost *v;
    uint32_t n, cap;
    uint32_t mark;     /* batch number that saved undo_n */
    uint32_t undo_n;
};

/* --------------------------------------------------------- posting cache */

struct sr_chunk {
    uint32_t seg, start; /* postings [start, next chunk's start) */
};

struct sr_centry {
    struct sr_centry *hnext;
    struct sr_centry *lprev, *lnext;
    char *term;
    uint32_t tlen, hash;
    uint32_t n, nch;
    uint32_t *docno;
    uint8_t (*tf)[SR_F__COUNT];
    struct sr_chunk *ch;
    uint64_t df_gen;  /* document table generation of the live arrays */
    uint32_t live_df; /* segment postings live at df_gen */
    uint32_t *lslot;  /* their document slots */
    float *lw;        /* their BM25F weighted, length-normalised tf */
    uint8_t *lm;      /* their fields (bit per field with tf > 0) */
    uint32_t pin;
    size_t bytes;
};

/* A forward record: the six texts of a document (pointing into rec). */
struct sr_fwd {
    char *rec;
    size_t reclen;
    const char *text[SR_F__COUNT];
    size_t len[SR_F__COUNT];
};

/* ------------------------------------------------------------ the batch */



struct sr_pend {
    uint32_t docno;
    int removed;
    struct sr_dent d; /* the new state (strs owned) when !removed */
};

struct sr_batch {
    struct store_batch *b;
    struct sr_pend *p;
    size_t np, pcap;
    uint32_t *map; /* open addressing docno -> index + 1 */
    size_t mapcap;
    uint64_t next_seq;
    uint64_t flushed_seq; /* versions up to this one are in segments */
    uint64_t *new_hi;     /* last version of each segment flushed here */
    size_t nnew, newcap;
    uint64_t buf_postings; /* distinct terms of live documents above frz_hi */
    uint64_t frz_postings; /* ... of live documents being flushed */
    /* the segment being written (0: none): versions (flushed_seq, frz_hi],
     * terms frz_terms[frz_pos..frz_n) still to write */
    uint64_t frz_hi;
    uint32_t *frz_terms; /* the engine's list, or one this batch made */
    size_t frz_n, frz_pos;
    uint64_t frz_keys, frz_posts;
    int frz_own; /* frz_terms was allocated in this batch */
    uint32_t *undo;    /* buffer-index terms touched */
    size_t nundo, undocap;
};

/* ------------------------------------------------------------ the engine */

struct sr_engine {
    struct store *s;

    /* normalisation: ICU handles and the Traditional->Simplified table */
    const void *nfkc;          /* const UNormalizer2 * */
    void *brk;                 /* UBreakIterator * */
    uint32_t *t2s;             /* U+3400..U+FAFF, 0 = unchanged */
    uint32_t (*t2s_sup)[2];    /* sorted supplementary pairs */
    size_t nt2s_sup;
    struct sr_wmemo {          /* ICU words of recently seen CJK runs */
        uint32_t *v;           /* the run's code points, then the words */
        uint32_t hash;
        uint16_t ncp, nw;
    } *wmemo;
    struct sr_analysis an;     /* scratch for writes and queries */
    struct sr_analysis an2;    /* scratch for snippets */

    /* document table */
    struct sr_dent *docs; /* slot 0 unused */
    struct sr_dattr {     /* per slot, compact for the filters */
        uint32_t cat, st, rg;
    } *dattr;
    size_t nslots, slotcap;
    uint32_t free_slot; /* head of the free list (through seg), 0 = none */
    uint32_t **pages;   /* docno >> 12 -> slot per docno */
    size_t npages;
    uint64_t ndocs;
    double sumlen[SR_F__COUNT];
    uint64_t gen; /* bumped on every committed change of the table */
    struct sr_tmap attrs; /* category, status and region strings -> id */

    /* meta */
    uint64_t next_seq;
    uint32_t nseg;
    uint64_t *seg_hi; /* seg_hi[i] = last seq of segment i + 1 */
    size_t seg_cap;
    uint64_t buf_postings; /* distinct terms of buffered documents above
                              frz_hi (the flush line counts these) */
    uint64_t frz_postings; /* ... of documents in the segment being written */
    uint32_t flush_postings;
    uint32_t step_base, step_per_term; /* SR_FLUSH_STEP_* (tests: less) */
    /* the segment being written, committed state (see struct sr_batch) */
    uint64_t frz_hi;
    uint32_t *frz_terms; /* bi_terms indices in term order */
    size_t frz_n, frz_pos;
    uint64_t frz_keys, frz_posts;

    /* analyser identity: ours, and the one the index was built with */
    char stamp[SR_STAMP_MAX];
    char stored_stamp[SR_STAMP_MAX];
    int stamp_mismatch;

    /* buffer index */
    struct sr_tmap bi_terms;
    struct sr_bvec *bi;
    size_t bicap;
    uint64_t bi_total; /* postings held, stale included */
    size_t gc_pos;     /* next term the garbage collector looks at */

    /* posting cache */
    struct sr_centry **ctab;
    size_t ctabcap, ncentries;
    struct sr_centry *lru_head, *lru_tail; /* head = most recent */
    size_t cache_bytes, cache_max;

    /* decoded forward records, direct-mapped by docno */
    struct sr_fslot {
        uint32_t docno; /* 0: empty */
        struct sr_fwd f;
    } *fcache;

    /* the open batch */
    struct sr_batch *bt;
    uint32_t batch_no;
    int bt_oom;  /* sr_batch_begin could not allocate */
    int broken;  /* a commit could not be applied in memory: reload */

    /* per-document scratch of sr_index_put */
    struct sr_tmap dterms;
    uint32_t (*dtf)[SR_F__COUNT];
    size_t dtfcap;
    struct sr_wbuf wb_doc, wb_fwd, wb_post;

    /* query scratch */
    float *acc;
    uint32_t *mask;
    uint8_t *fmask;
    uint32_t *touched;
    size_t acccap;

    uint64_t queries, cache_hits, cache_misses;
};

/* index.c: drops the open batch's overlay (sr_batch_end(e, 0)). */
void sr_batch_discard(struct sr_engine *e);

/* engine.c: document table.  sr_doc_get is inline: the flush and the
 * buffer's garbage collector look up every posting's document. */
#define SR_PAGE_BITS 12 /* docno >> SR_PAGE_BITS: page of the slot table */
static inline struct sr_dent *sr_doc_get(struct sr_engine *e, uint32_t docno)
{
    size_t pg = docno >> SR_PAGE_BITS;
    if (pg >= e->npages || e->pages[pg] == NULL)
        return NULL;
    uint32_t slot = e->pages[pg][docno & ((1u << SR_PAGE_BITS) - 1)];
    return slot != 0 ? &e->docs[slot] : NULL;
}
int sr_doc_set(struct sr_engine *e, const struct sr_dent *d); /* takes strs */
void sr_doc_remove(struct sr_engine *e, uint32_t docno);
uint32_t sr_seg_of(const uint64_t *seg_hi, uint32_t nseg, uint64_t seq);

/* engine.c: buffer index */
/* Appends a posting for (docno, seq) to every term of m, in m's order,
 * adding the terms the buffer lacks; tf[i] is term i's per-field tf
 * (clamped to 255).  0 or GD_ENOMEM (postings appended so far stay; the
 * batch's undo drops them). */
int sr_bi_append_terms(struct sr_engine *e, const struct sr_tmap *m,
                       const uint32_t (*tf)[SR_F__COUNT], uint32_t docno,
                       uint32_t seq);
int sr_bi_rebuild(struct sr_engine *e);
/* Drops dead postings of buffer terms from gc_pos on, examining about
 * budget postings; outside batches only.  Memory only. */
void sr_bi_gc(struct sr_engine *e, size_t budget);
/* The terms with postings of versions (lo, hi], in term order, malloc'd
 * into *out (committed document table; used at load).  0 or GD_ENOMEM. */
int sr_bi_terms_in(struct sr_engine *e, uint64_t lo, uint64_t hi,
                   uint32_t **out, size_t *n);
const struct sr_bvec *sr_bi_find(struct sr_engine *e, const char *t, size_t n,
                                 uint32_t h);

/* engine.c: posting cache */
int sr_cache_get(struct sr_engine *e, const char *t, size_t n,
                 struct sr_centry **out, struct gd_err *err);
void sr_cache_unpin(struct sr_engine *e, struct sr_centry *c);
void sr_cache_drop(struct sr_engine *e, const char *t, size_t n, uint32_t h);
void sr_cache_clear(struct sr_engine *e);

/* records: keys and the forward record */
#define SR_KEY_META 'M'
#define SR_KEY_DOC 'D'
#define SR_KEY_FWD 'F'
#define SR_KEY_SEG 'S'
#define SR_KEY_POST 'P'
#define SR_FORMAT 1
#define SR_META_FORMAT 2 /* M: 1 = format, seq, nseg; 2 adds the flush
                            state and the analyser stamp */

int sr_dent_decode(const unsigned char *v, size_t n, uint32_t docno,
                   struct sr_dent *d, struct gd_err *err);
void sr_dent_encode(struct sr_wbuf *w, const struct sr_dent *d);

int sr_fwd_load(struct sr_engine *e, uint32_t docno, struct sr_fwd *f,
                struct gd_err *err);
/* The forward record of docno through the engine's small cache: *out stays
 * valid until the next sr_fwd_get or commit. */
int sr_fwd_get(struct sr_engine *e, uint32_t docno, const struct sr_fwd **out,
               struct gd_err *err);
void sr_fwd_forget(struct sr_engine *e, uint32_t docno);
void sr_cache_grow(struct sr_engine *e, struct sr_centry *c, size_t bytes);
int sr_fwd_decode(struct sr_fwd *f, struct gd_err *err); /* f->rec set */
void sr_fwd_free(struct sr_fwd *f);

/* index.c: a document's terms into e->dterms / e->dtf, and from there into
 * the buffer index. */
int sr_doc_terms(struct sr_engine *e, const char *const *text,
                 const size_t *len, uint32_t *flen);
int sr_doc_terms_buffer(struct sr_engine *e, uint32_t docno, uint64_t seq);

/* query.c / snippet.c */
int sr_snippet(struct sr_engine *e, const struct sr_fwd *f, int field,
               const struct sr_tmap *qterms, char **out);

/* Test hook: segments flush when buffered postings reach n (default
 * SR_FLUSH_POSTINGS_DEFAULT).  Every replica must use the same value. */
void sr_engine_set_flush_threshold(struct sr_engine *e, uint32_t n);
/* Test hook: postings written per put while a segment is being written
 * (default SR_FLUSH_STEP_BASE + SR_FLUSH_STEP_PER_TERM * the put's terms).
 * Every replica must use the same values. */
void sr_engine_set_flush_step(struct sr_engine *e, uint32_t base,
                              uint32_t per_term);
void sr_engine_set_cache_limit(struct sr_engine *e, size_t bytes);

#endif
