/* The read side: sr_search and sr_query_from_text.
 *
 * A query is analysed like a document and turned into units, the things a
 * document must contain: a Latin word or number; a single CJK character
 * standing alone; and for longer CJK runs the bigrams of each dictionary
 * word (consecutive one-character words are joined first, so "不能用"
 * needs 不能 and 能用).  Dictionary words of three or more characters also
 * score as whole words.  A document matches when it holds enough units (all
 * of one or two, then a falling share: see need_units), passes the filters
 * and is not excluded; total counts those.
 *
 * Scoring is BM25F over the six fields, term at a time into an accumulator
 * per document slot.  The best candidates are then re-ranked with phrase
 * proximity from their forward records (query units found next to each
 * other, in order, score higher) and a small popularity boost. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "search/internal.h"

#define TOUCHED (1u << 31)
#define RERANK_MIN 30
#define RERANK_EXTRA 20
#define CAND_TERMS_MAX 128

static const double field_w[SR_F__COUNT] = {
    [SR_F_TITLE] = 4.0, [SR_F_KEYWORDS] = 2.5, [SR_F_FAULT] = 1.5,
    [SR_F_CAUSE] = 1.0, [SR_F_SOLUTION] = 1.5, [SR_F_SCRIPT] = 1.0};
static const double field_b[SR_F__COUNT] = {
    [SR_F_TITLE] = 0.5,   [SR_F_KEYWORDS] = 0.5, [SR_F_FAULT] = 0.75,
    [SR_F_CAUSE] = 0.75,  [SR_F_SOLUTION] = 0.75, [SR_F_SCRIPT] = 0.75};
#define BM25_K1 1.2
#define PROX_WEIGHT 0.6

struct qterm {
    uint32_t toff, tlen, hash;
    int unit;             /* bit number, -1: scoring only */
    uint32_t qpos;        /* position in the query */
    uint32_t qs, qe;      /* bytes of the query text it came from */
    int kind;
    uint32_t occ;         /* occurrences (sr_query_from_text) */
    struct sr_centry *c;  /* pinned segment postings */
    const struct sr_bvec *bv;
    uint32_t df;
    double idf;
    int active;
};

struct qctx {
    struct qterm *t;
    size_t n, cap;
    const char *tb; /* term bytes (the analysis' buffer) */
    int nunits;
    struct sr_tmap set; /* every scored term, for snippets */
    int *setunit;       /* per set entry: its unit or -1 */
    double *setidf;
};

static void qctx_free(struct sr_engine *e, struct qctx *qc)
{
    for (size_t i = 0; i < qc->n; i++)
        sr_cache_unpin(e, qc->t[i].c);
    free(qc->t);
    free(qc->setunit);
    free(qc->setidf);
    sr_tmap_free(&qc->set);
    memset(qc, 0, sizeof *qc);
}

/* Adds a term (deduplicated); a repeated term keeps its first unit. */
static int qterm_add(struct qctx *qc, const struct sr_analysis *a,
                     const struct sr_atok *tk, int is_unit, uint32_t qs,
                     uint32_t qe)
{
    const char *term = a->terms + tk->toff;
    uint32_t h = sr_hash(term, tk->tlen);
    for (size_t i = 0; i < qc->n; i++)
        if (qc->t[i].hash == h && qc->t[i].tlen == tk->tlen &&
            memcmp(a->terms + qc->t[i].toff, term, tk->tlen) == 0) {
            qc->t[i].occ++;
            if (is_unit && qc->t[i].unit < 0)
                qc->t[i].unit = 0; /* numbered later */
            return 0;
        }
    if (qc->n == qc->cap) {
        size_t c = qc->cap ? qc->cap * 2 : 16;
        struct qterm *nt = realloc(qc->t, c * sizeof *nt);
        if (nt == NULL)
            return GD_ENOMEM;
        qc->t = nt;
        qc->cap = c;
    }
    struct qterm *q = &qc->t[qc->n++];
    memset(q, 0, sizeof *q);
    q->toff = tk->toff;
    q->tlen = tk->tlen;
    q->hash = h;
    q->unit = is_unit ? 0 : -1;
    q->qpos = tk->pos;
    q->qs = qs;
    q->qe = qe;
    q->kind = tk->kind;
    q->occ = 1;
    q->active = 1;
    return 0;
}

/* Turns the analysed query (e->an) into terms and units. */
static int build_terms(struct sr_engine *e, struct qctx *qc)
{
    const struct sr_analysis *a = &e->an;
    qc->tb = a->terms;
    size_t i = 0;
    while (i < a->ntok) {
        const struct sr_atok *tk = &a->tok[i];
        if (tk->kind == SR_TK_SUB) { /* the whole token is the unit */
            i++;
            continue;
        }
        if (tk->kind == SR_TK_LATIN) {
            if (qterm_add(qc, a, tk, 1, tk->start, tk->end) != 0)
                return GD_ENOMEM;
            i++;
            continue;
        }
        /* one CJK run: tokens [i, j) */
        size_t j = i;
        uint32_t run = tk->run, p0 = tk->pos, nch = 0;
        while (j < a->ntok && a->tok[j].kind != SR_TK_LATIN &&
               a->tok[j].kind != SR_TK_SUB &&
               a->tok[j].run == run) {
            if (a->tok[j].kind == SR_TK_UNI)
                nch++;
            j++;
        }
        const struct sr_atok **uni = calloc((size_t)nch * 2 + 1, sizeof *uni);
        uint16_t *wlen = calloc((size_t)nch + 1, sizeof *wlen);
        if (uni == NULL || wlen == NULL) {
            free(uni);
            free(wlen);
            return GD_ENOMEM;
        }
        const struct sr_atok **bi = uni + nch;
        for (size_t k = i; k < j; k++) {
            const struct sr_atok *t = &a->tok[k];
            uint32_t c = t->pos - p0;
            if (c >= nch)
                continue;
            if (t->kind == SR_TK_UNI)
                uni[c] = t;
            else if (t->kind == SR_TK_BI)
                bi[c] = t;
            else if (t->kind == SR_TK_WORD && t->nch > wlen[c])
                wlen[c] = t->nch;
        }
        int rc = 0;
        uint32_t c = 0;
        while (c < nch && rc == 0) {
            /* a chunk: a dictionary word of 2+ characters, or a run of
             * one-character words */
            uint32_t len = wlen[c] >= 2 ? wlen[c] : 1;
            if (len > nch - c)
                len = nch - c;
            if (len == 1) {
                while (c + len < nch && wlen[c + len] < 2)
                    len++;
            }
            if (len == 1 && nch == 1) {
                if (uni[c] != NULL)
                    rc = qterm_add(qc, a, uni[c], 1, uni[c]->start,
                                   uni[c]->end);
            } else if (len == 1) {
                /* a lone character inside a longer run joins its
                 * neighbour: 电采暖 asks for 电采 and 采暖, not for every
                 * document with 电 */
                const struct sr_atok *b = c + 1 < nch ? bi[c] : bi[c - 1];
                if (b != NULL)
                    rc = qterm_add(qc, a, b, 1, b->start, b->end);
            } else {
                for (uint32_t k = c; k + 1 < c + len && rc == 0; k++)
                    if (bi[k] != NULL)
                        rc = qterm_add(qc, a, bi[k], 1, bi[k]->start,
                                       bi[k]->end);
            }
            c += len;
        }
        /* whole words of three or more characters score too */
        for (size_t k = i; k < j && rc == 0; k++)
            if (a->tok[k].kind == SR_TK_WORD && a->tok[k].nch >= 3)
                rc = qterm_add(qc, a, &a->tok[k], 0, a->tok[k].start,
                               a->tok[k].end);
        free(uni);
        free(wlen);
        if (rc != 0)
            return rc;
        i = j;
    }
    return 0;
}

static double idf_of(uint64_t n, uint32_t df)
{
    return log(1.0 + ((double)n - df + 0.5) / (df + 0.5));
}

struct scorer {
    double a[SR_F__COUNT], b[SR_F__COUNT]; /* norm = a + b * len */
};

static void scorer_init(const struct sr_engine *e, struct scorer *sc)
{
    for (int f = 0; f < SR_F__COUNT; f++) {
        double avg = e->ndocs > 0 ? e->sumlen[f] / (double)e->ndocs : 1.0;
        if (avg < 1.0)
            avg = 1.0;
        sc->a[f] = 1.0 - field_b[f];
        sc->b[f] = field_b[f] / avg;
    }
}

/* BM25F's weighted, length-normalised term frequency. */
static inline float weighted_tf(const struct scorer *sc, const struct sr_dent *d,
                                const uint8_t *tf)
{
    double w = 0;
    for (int f = 0; f < SR_F__COUNT; f++)
        if (tf[f] != 0)
            w += field_w[f] * tf[f] / (sc->a[f] + sc->b[f] * d->flen[f]);
    return (float)w;
}

static inline uint8_t tf_mask(const uint8_t *tf)
{
    uint8_t m = 0;
    for (int f = 0; f < SR_F__COUNT; f++)
        m |= tf[f] != 0 ? (uint8_t)(1u << f) : 0;
    return m;
}

/* Brings the live arrays of a cached entry up to the document table: the
 * slots of the postings whose document still has that version, with their
 * weighted tf.  Done once per change of the table, so a steady stream of
 * queries only walks two flat arrays per term. */
static int seg_validate(struct sr_engine *e, struct sr_centry *c,
                        const struct scorer *sc)
{
    if (c->df_gen == e->gen)
        return 0;
    if (c->lslot == NULL && c->n > 0) {
        c->lslot = malloc((size_t)c->n * sizeof *c->lslot);
        c->lw = malloc((size_t)c->n * sizeof *c->lw);
        c->lm = malloc((size_t)c->n);
        if (c->lslot == NULL || c->lw == NULL || c->lm == NULL) {
            free(c->lslot);
            free(c->lw);
            free(c->lm);
            c->lslot = NULL;
            c->lw = NULL;
            c->lm = NULL;
            return GD_ENOMEM;
        }
        sr_cache_grow(e, c, (size_t)c->n * (sizeof *c->lslot + sizeof *c->lw + 1));
    }
    uint32_t live = 0;
    for (uint32_t h = 0; h < c->nch; h++) {
        uint32_t end = h + 1 < c->nch ? c->ch[h + 1].start : c->n;
        uint32_t seg = c->ch[h].seg;
        for (uint32_t k = c->ch[h].start; k < end; k++) {
            uint32_t docno = c->docno[k];
            size_t pg = docno >> 12;
            if (pg >= e->npages || e->pages[pg] == NULL)
                continue;
            uint32_t slot = e->pages[pg][docno & 4095];
            if (slot == 0 || e->docs[slot].seg != seg)
                continue;
            c->lslot[live] = slot;
            c->lw[live] = weighted_tf(sc, &e->docs[slot], c->tf[k]);
            c->lm[live] = tf_mask(c->tf[k]);
            live++;
        }
    }
    c->live_df = live;
    c->df_gen = e->gen;
    return 0;
}

static uint32_t bi_live(struct sr_engine *e, const struct sr_bvec *v)
{
    uint32_t live = 0;
    if (v == NULL)
        return 0;
    for (uint32_t k = 0; k < v->n; k++) {
        const struct sr_dent *d = sr_doc_get(e, v->v[k].docno);
        live += d != NULL && d->seg == 0 && (uint32_t)d->seq == v->v[k].seq;
    }
    return live;
}

static int qterm_cmp_idf(const void *a, const void *b)
{
    const struct qterm *x = *(const struct qterm *const *)a;
    const struct qterm *y = *(const struct qterm *const *)b;
    if (x->idf != y->idf)
        return x->idf > y->idf ? -1 : 1;
    return x->qpos < y->qpos ? -1 : x->qpos > y->qpos;
}

/* Fetches postings and document frequencies, caps the units at
 * SR_UNITS_MAX (the rarest win) and numbers them. */
static int fetch_terms(struct sr_engine *e, struct qctx *qc,
                       const struct scorer *sc, struct gd_err *err)
{
    if (qc->n > CAND_TERMS_MAX)
        qc->n = CAND_TERMS_MAX;
    for (size_t i = 0; i < qc->n; i++) {
        struct qterm *t = &qc->t[i];
        const char *term = qc->tb + t->toff;
        int rc = sr_cache_get(e, term, t->tlen, &t->c, err);
        if (rc != 0)
            return rc;
        if (seg_validate(e, t->c, sc) != 0)
            return gd_err_set(err, GD_ENOMEM, "search: out of memory");
        t->bv = sr_bi_find(e, term, t->tlen, t->hash);
        t->df = t->c->live_df + bi_live(e, t->bv);
        t->idf = idf_of(e->ndocs, t->df);
    }
    struct qterm **units = malloc((qc->n ? qc->n : 1) * sizeof *units);
    if (units == NULL)
        return gd_err_set(err, GD_ENOMEM, "search: out of memory");
    size_t nu = 0, nb = 0;
    for (size_t i = 0; i < qc->n; i++)
        if (qc->t[i].unit >= 0)
            units[nu++] = &qc->t[i];
    qsort(units, nu, sizeof *units, qterm_cmp_idf);
    for (size_t i = 0; i < nu; i++) {
        if (i < SR_UNITS_MAX) {
            units[i]->unit = (int)i;
        } else {
            units[i]->unit = -1;
            units[i]->active = 0;
        }
    }
    qc->nunits = nu < SR_UNITS_MAX ? (int)nu : SR_UNITS_MAX;
    for (size_t i = 0; i < qc->n; i++)
        if (qc->t[i].unit < 0 && qc->t[i].active && ++nb > SR_QTERMS_MAX - 32)
            qc->t[i].active = 0;
    free(units);
    qc->setunit = malloc((qc->n ? qc->n : 1) * sizeof *qc->setunit);
    qc->setidf = malloc((qc->n ? qc->n : 1) * sizeof *qc->setidf);
    if (qc->setunit == NULL || qc->setidf == NULL)
        return gd_err_set(err, GD_ENOMEM, "search: out of memory");
    for (size_t i = 0; i < qc->n; i++) {
        const struct qterm *t = &qc->t[i];
        uint32_t idx;
        if (!t->active)
            continue;
        if (sr_tmap_get(&qc->set, qc->tb + t->toff, t->tlen, t->hash, &idx,
                        NULL) != 0)
            return gd_err_set(err, GD_ENOMEM, "search: out of memory");
        qc->setunit[idx] = t->unit;
        qc->setidf[idx] = t->idf;
    }
    return 0;
}

/* How many of n units a document must hold. */
static int need_units(int n)
{
    if (n <= 2)
        return n;
    if (n <= 4)
        return n - 1;
    if (n <= 8)
        return (n * 6 + 9) / 10;
    int m = (n * 35 + 99) / 100;
    return m < 5 ? 5 : m;
}

static int ensure_acc(struct sr_engine *e)
{
    if (e->acccap >= e->nslots)
        return 0;
    size_t c = e->nslots + 1024;
    float *acc = realloc(e->acc, c * sizeof *acc);
    if (acc == NULL)
        return GD_ENOMEM;
    e->acc = acc;
    uint32_t *mask = realloc(e->mask, c * sizeof *mask);
    if (mask == NULL)
        return GD_ENOMEM;
    e->mask = mask;
    uint32_t *tch = realloc(e->touched, c * sizeof *tch);
    if (tch == NULL)
        return GD_ENOMEM;
    e->touched = tch;
    uint8_t *fm = realloc(e->fmask, c);
    if (fm == NULL)
        return GD_ENOMEM;
    e->fmask = fm;
    memset(e->fmask + e->acccap, 0, c - e->acccap);
    memset(e->acc + e->acccap, 0, (c - e->acccap) * sizeof *acc);
    memset(e->mask + e->acccap, 0, (c - e->acccap) * sizeof *mask);
    e->acccap = c;
    return 0;
}

static inline float saturate(float w, double idf)
{
    return (float)(idf * w * (BM25_K1 + 1) / (w + BM25_K1));
}

/* Term-at-a-time accumulation of every active term; returns the number of
 * touched slots. */
static size_t accumulate(struct sr_engine *e, const struct qctx *qc,
                         const struct scorer *sc)
{
    size_t nt = 0;
    float *acc = e->acc;
    uint32_t *mask = e->mask;
    for (size_t i = 0; i < qc->n; i++) {
        const struct qterm *t = &qc->t[i];
        if (!t->active || t->df == 0)
            continue;
        uint32_t bit = t->unit >= 0 ? 1u << t->unit : 0;
        const struct sr_centry *c = t->c;
        uint8_t *fmask = bit != 0 ? e->fmask : NULL;
        for (uint32_t k = 0; k < c->live_df; k++) {
            uint32_t slot = c->lslot[k];
            if (!(mask[slot] & TOUCHED)) {
                mask[slot] = TOUCHED;
                e->touched[nt++] = slot;
            }
            mask[slot] |= bit;
            if (fmask != NULL)
                fmask[slot] |= c->lm[k];
            acc[slot] += saturate(c->lw[k], t->idf);
        }
        const struct sr_bvec *v = t->bv;
        for (uint32_t k = 0; v != NULL && k < v->n; k++) {
            const struct sr_dent *d = sr_doc_get(e, v->v[k].docno);
            if (d == NULL || d->seg != 0 || (uint32_t)d->seq != v->v[k].seq)
                continue;
            uint32_t slot = (uint32_t)(d - e->docs);
            if (!(mask[slot] & TOUCHED)) {
                mask[slot] = TOUCHED;
                e->touched[nt++] = slot;
            }
            mask[slot] |= bit;
            if (bit != 0)
                e->fmask[slot] |= tf_mask(v->v[k].tf);
            acc[slot] += saturate(weighted_tf(sc, d, v->v[k].tf), t->idf);
        }
    }
    return nt;
}

struct filt {
    const char *cat;
    size_t catlen;
    const char *status;
    const char *region;
    uint32_t exclude;
    int any; /* sr_query.match_any */
    /* resolved against the engine's interned strings by filt_resolve */
    long st_id, rg_id, empty_id;
    uint8_t *catok; /* per interned id: a category under cat */
};

static int filt_resolve(struct sr_engine *e, struct filt *f)
{
    const struct sr_tmap *m = &e->attrs;
    f->st_id = sr_tmap_find(m, f->status, strlen(f->status),
                            sr_hash(f->status, strlen(f->status)));
    f->empty_id = sr_tmap_find(m, "", 0, sr_hash("", 0));
    f->rg_id = -1;
    if (f->region != NULL)
        f->rg_id = sr_tmap_find(m, f->region, strlen(f->region),
                                sr_hash(f->region, strlen(f->region)));
    f->catok = NULL;
    if (f->cat == NULL || f->catlen == 0)
        return 0;
    f->catok = calloc(m->n ? m->n : 1, 1);
    if (f->catok == NULL)
        return GD_ENOMEM;
    for (size_t i = 0; i < m->n; i++) {
        size_t n;
        const char *s = sr_tmap_term(m, (uint32_t)i, &n);
        f->catok[i] = n >= f->catlen && memcmp(s, f->cat, f->catlen) == 0 &&
                      (n == f->catlen || s[f->catlen] == '/');
    }
    return 0;
}

static inline int filter_ok(const struct filt *f, const struct sr_dattr *d)
{
    if ((long)d->st != f->st_id)
        return 0;
    if (f->region != NULL && (long)d->rg != f->rg_id &&
        (long)d->rg != f->empty_id)
        return 0;
    if (f->catok != NULL && !f->catok[d->cat])
        return 0;
    return 1;
}

static inline int popcount32(uint32_t x)
{
    x = x - ((x >> 1) & 0x55555555u);
    x = (x & 0x33333333u) + ((x >> 2) & 0x33333333u);
    return (int)((((x + (x >> 4)) & 0x0f0f0f0fu) * 0x01010101u) >> 24);
}

struct cand {
    float score;
    uint32_t slot;
    uint32_t docno;
    int sfield; /* the snippet's field, -1 = not chosen yet */
    uint8_t fmask; /* fields holding any unit */
};

/* better-first order: higher score, then lower docno */
static int cand_better(const struct cand *x, const struct cand *y)
{
    if (x->score != y->score)
        return x->score > y->score;
    return x->docno < y->docno;
}

/* min-heap on "better": the root is the worst kept */
static void heap_sift_down(struct cand *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, w = i;
        if (l < n && cand_better(&h[w], &h[l]))
            w = l;
        if (r < n && cand_better(&h[w], &h[r]))
            w = r;
        if (w == i)
            return;
        struct cand t = h[i];
        h[i] = h[w];
        h[w] = t;
        i = w;
    }
}

static void heap_push(struct cand *h, size_t *n, size_t cap,
                      const struct cand *c)
{
    if (*n < cap) {
        size_t i = (*n)++;
        h[i] = *c;
        while (i > 0) {
            size_t p = (i - 1) / 2;
            if (!cand_better(&h[p], &h[i]))
                break;
            struct cand t = h[i];
            h[i] = h[p];
            h[p] = t;
            i = p;
        }
    } else if (cap > 0 && cand_better(c, &h[0])) {
        h[0] = *c;
        heap_sift_down(h, *n, 0);
    }
}

static int cand_cmp(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    if (cand_better(x, y))
        return -1;
    return cand_better(y, x) ? 1 : 0;
}

/* Runs accumulation and selection: total, and the best `cap` candidates
 * (sorted best first) into *top / *ntop when top != NULL. */
static int match(struct sr_engine *e, const struct qctx *qc,
                 const struct filt *fl, size_t cap, struct cand **top,
                 size_t *ntop, size_t *total)
{
    *total = 0;
    if (top != NULL) {
        *top = NULL;
        *ntop = 0;
    }
    if (ensure_acc(e) != 0)
        return GD_ENOMEM;
    struct scorer sc;
    scorer_init(e, &sc);
    uint32_t units = 0;
    int nactive = 0;
    for (size_t i = 0; i < qc->n; i++)
        if (qc->t[i].active && qc->t[i].unit >= 0) {
            units |= 1u << qc->t[i].unit;
            nactive++;
        }
    /* "More like this" ranks documents that share any of the units (two
     * once there are four or more); typed queries need most of them. */
    int need = fl->any ? (nactive >= 4 ? 2 : nactive > 0)
                       : need_units(nactive);
    struct cand *h = NULL;
    size_t nh = 0;
    if (top != NULL && cap > 0) {
        h = malloc(cap * sizeof *h);
        if (h == NULL)
            return GD_ENOMEM;
    }
    size_t nt = accumulate(e, qc, &sc);
    uint32_t exclude = 0;
    if (fl->exclude != 0) {
        const struct sr_dent *x = sr_doc_get(e, fl->exclude);
        exclude = x != NULL ? (uint32_t)(x - e->docs) : 0;
    }
    for (size_t i = 0; i < nt; i++) {
        uint32_t slot = e->touched[i];
        uint32_t m = e->mask[slot] & units;
        float s = e->acc[slot];
        uint8_t fm = e->fmask[slot];
        e->mask[slot] = 0;
        e->acc[slot] = 0;
        e->fmask[slot] = 0;
        if (need == 0 || popcount32(m) < need)
            continue;
        if (slot == exclude || !filter_ok(fl, &e->dattr[slot]))
            continue;
        (*total)++;
        if (h != NULL && (nh < cap || s >= h[0].score)) {
            /* the docno (a cold load) only for possible entrants */
            struct cand c = {s, slot, e->docs[slot].docno, -1, fm};
            heap_push(h, &nh, cap, &c);
        }
    }
    if (h != NULL) {
        qsort(h, nh, sizeof *h, cand_cmp);
        *top = h;
        *ntop = nh;
    }
    return 0;
}

/* ------------------------------------------------------------ proximity */

/* Smallest |pb - pa - gap| over the two sorted position lists. */
static uint32_t min_gap(const uint32_t *pa, size_t na, const uint32_t *pb,
                        size_t nb, uint32_t gap)
{
    uint32_t best = UINT32_MAX;
    size_t j = 0;
    for (size_t i = 0; i < na && best > 0; i++) {
        uint64_t want = (uint64_t)pa[i] + gap;
        while (j < nb && pb[j] < want)
            j++;
        if (j < nb && pb[j] - want < best)
            best = (uint32_t)(pb[j] - want);
        if (j > 0 && want - pb[j - 1] < best)
            best = (uint32_t)(want - pb[j - 1]);
    }
    return best;
}

static int qpos_cmp(const void *a, const void *b)
{
    const struct qterm *x = *(const struct qterm *const *)a;
    const struct qterm *y = *(const struct qterm *const *)b;
    return x->qpos < y->qpos ? -1 : x->qpos > y->qpos;
}

struct occ {
    uint32_t key; /* unit * SR_F__COUNT + field */
    uint32_t pos;
};

/* Where the query's units occur in one document (its fields analysed
 * again, without dictionary words: units are bigrams, characters and Latin
 * tokens), then:
 *  - *prox, 0..1: how closely the document keeps consecutive units
 *    together and in order (exact gap 1, decaying with the distance),
 *    weighted by field;
 *  - *sfield: the field to show, the best weighted body field (fault,
 *    cause, solution, script) holding units, else the keywords, else the
 *    title, else the first non-empty field. */
static int doc_match(struct sr_engine *e, const struct sr_fwd *f,
                     unsigned fields, const struct qctx *qc,
                     struct qterm **seq, size_t nseq, double *prox,
                     int *sfield)
{
    struct sr_analysis *a = &e->an2;
    struct occ *oc = NULL;
    size_t no = 0, ocap = 0;
    uint32_t start[SR_UNITS_MAX * SR_F__COUNT + 1];
    double fsc[SR_F__COUNT] = {0};
    *prox = 0;
    a->no_words = 1;
    for (int fl = 0; fl < SR_F__COUNT; fl++) {
        if (!(fields & (1u << fl)))
            continue; /* the postings say no unit is there */
        sr_analysis_reset(a);
        uint32_t pos = 0;
        if (sr_analyze_into(e, a, f->text[fl], f->len[fl], &pos) != 0) {
            free(oc);
            return GD_ENOMEM;
        }
        uint32_t seen = 0;
        for (size_t i = 0; i < a->ntok; i++) {
            const struct sr_atok *t = &a->tok[i];
            const char *term = a->terms + t->toff;
            long k = sr_tmap_find(&qc->set, term, t->tlen,
                                  sr_hash(term, t->tlen));
            if (k < 0 || qc->setunit[k] < 0)
                continue;
            int u = qc->setunit[k];
            if (!(seen & (1u << u))) {
                seen |= 1u << u;
                fsc[fl] += qc->setidf[k] + 0.01;
            }
            if (no == ocap) {
                size_t c = ocap ? ocap * 2 : 64;
                struct occ *x = realloc(oc, c * sizeof *x);
                if (x == NULL) {
                    free(oc);
                    return GD_ENOMEM;
                }
                oc = x;
                ocap = c;
            }
            oc[no].key = (uint32_t)u * SR_F__COUNT + (uint32_t)fl;
            oc[no].pos = t->pos;
            no++;
        }
    }
    /* group by (unit, field), positions stay in order */
    size_t nk = SR_UNITS_MAX * SR_F__COUNT;
    memset(start, 0, sizeof start);
    for (size_t i = 0; i < no; i++)
        start[oc[i].key + 1]++;
    for (size_t k = 1; k <= nk; k++)
        start[k] += start[k - 1];
    uint32_t *pos = malloc((no ? no : 1) * sizeof *pos);
    if (pos == NULL) {
        free(oc);
        return GD_ENOMEM;
    }
    {
        uint32_t fill[SR_UNITS_MAX * SR_F__COUNT];
        memcpy(fill, start, sizeof fill);
        for (size_t i = 0; i < no; i++)
            pos[fill[oc[i].key]++] = oc[i].pos;
    }
    free(oc);
    double sum = 0;
    size_t pairs = 0;
    for (size_t i = 0; i + 1 < nseq; i++) {
        const struct qterm *x = seq[i], *y = seq[i + 1];
        if (y->qpos <= x->qpos)
            continue;
        pairs++;
        double best = 0;
        for (int fl = 0; fl < SR_F__COUNT; fl++) {
            uint32_t ka = (uint32_t)x->unit * SR_F__COUNT + (uint32_t)fl;
            uint32_t kb = (uint32_t)y->unit * SR_F__COUNT + (uint32_t)fl;
            if (start[ka] == start[ka + 1] || start[kb] == start[kb + 1])
                continue;
            uint32_t d = min_gap(pos + start[ka], start[ka + 1] - start[ka],
                                 pos + start[kb], start[kb + 1] - start[kb],
                                 y->qpos - x->qpos);
            double v = field_w[fl] / field_w[SR_F_TITLE] /
                       ((1.0 + d) * (1.0 + d));
            if (v > best)
                best = v;
        }
        sum += best;
    }
    free(pos);
    *prox = pairs > 0 ? sum / (double)pairs : 0;
    /* The title is shown next to the snippet anyway, and keywords are a
     * bare list: a sentence from the body tells the agent more. */
    double bs = 0;
    int bf = -1;
    for (int fl = SR_F_FAULT; fl < SR_F__COUNT; fl++)
        if (fsc[fl] * field_w[fl] > bs) {
            bs = fsc[fl] * field_w[fl];
            bf = fl;
        }
    if (bf < 0 && fsc[SR_F_KEYWORDS] > 0)
        bf = SR_F_KEYWORDS;
    if (bf < 0 && fsc[SR_F_TITLE] > 0)
        bf = SR_F_TITLE;
    for (int fl = SR_F_FAULT; bf < 0 && fl < SR_F__COUNT; fl++)
        if (f->len[fl] > 0)
            bf = fl;
    *sfield = bf < 0 ? SR_F_TITLE : bf;
    return 0;
}

/* The snippet field from the postings alone (single-unit queries): the
 * heaviest body field holding the unit, else the title, else the first
 * non-empty body field. */
static int mask_field(unsigned fields, const struct sr_fwd *f)
{
    static const int order[] = {SR_F_FAULT, SR_F_SOLUTION, SR_F_CAUSE,
                                SR_F_SCRIPT, SR_F_KEYWORDS};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        if (fields & (1u << order[i]))
            return order[i];
    if (fields & (1u << SR_F_TITLE))
        return SR_F_TITLE;
    for (int fl = SR_F_FAULT; fl < SR_F__COUNT; fl++)
        if (f->len[fl] > 0)
            return fl;
    return SR_F_TITLE;
}

/* ------------------------------------------------------------ search */

static int parse(struct sr_engine *e, const char *q, size_t len,
                 struct qctx *qc, struct gd_err *err)
{
    if (q == NULL && len > 0)
        return gd_err_set(err, GD_EINVAL, "search: no query text");
    if (len > SR_TEXT_MAX)
        return gd_err_set(err, GD_EINVAL, "search: query too long");
    if (!gd_utf8_valid(q, len))
        return gd_err_set(err, GD_EINVAL, "search: query is not UTF-8");
    sr_analysis_reset(&e->an);
    uint32_t pos = 0;
    if (sr_analyze_into(e, &e->an, q, len, &pos) != 0 ||
        build_terms(e, qc) != 0)
        return gd_err_set(err, GD_ENOMEM, "search: out of memory");
    int units = 0;
    for (size_t i = 0; i < qc->n; i++)
        units += qc->t[i].unit >= 0;
    if (units == 0)
        return gd_err_set(err, GD_EINVAL, "search: empty query");
    return 0;
}

struct sspan {
    uint32_t s, e;
};

static int sspan_cmp(const void *a, const void *b)
{
    const struct sspan *x = a, *y = b;
    return x->s < y->s ? -1 : x->s > y->s ? 1 : (x->e > y->e) - (x->e < y->e);
}

/* The query text of the active units, overlapping spans merged, others
 * joined by a space. */
static char *suggest_text(const struct qctx *qc, const char *q)
{
    struct sspan *sp = malloc((qc->n ? qc->n : 1) * sizeof *sp);
    if (sp == NULL)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < qc->n; i++)
        if (qc->t[i].active && qc->t[i].unit >= 0)
            sp[n++] = (struct sspan){qc->t[i].qs, qc->t[i].qe};
    qsort(sp, n, sizeof *sp, sspan_cmp);
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += sp[i].e - sp[i].s + 1;
    char *out = malloc(total + 1);
    if (out == NULL) {
        free(sp);
        return NULL;
    }
    size_t o = 0;
    uint32_t end = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t s = sp[i].s;
        if (o > 0 && s > end)
            out[o++] = ' ';
        if (s < end)
            s = end;
        if (sp[i].e > s) {
            memcpy(out + o, q + s, sp[i].e - s);
            o += sp[i].e - s;
        }
        if (sp[i].e > end)
            end = sp[i].e;
    }
    out[o] = '\0';
    free(sp);
    return out;
}

/* "Did you mean": without the units no document holds, or else the single
 * unit with the most documents that gives hits.  NULL when nothing helps. */
static int suggest(struct sr_engine *e, struct qctx *qc, const struct filt *fl,
                   const char *q, char **out)
{
    *out = NULL;
    size_t nu = 0, dropped = 0;
    int *was = malloc((qc->n ? qc->n : 1) * sizeof *was);
    if (was == NULL)
        return GD_ENOMEM;
    for (size_t i = 0; i < qc->n; i++) {
        was[i] = qc->t[i].active;
        if (!qc->t[i].active || qc->t[i].unit < 0)
            continue;
        nu++;
        if (qc->t[i].df == 0) {
            qc->t[i].active = 0;
            dropped++;
        }
    }
    size_t total = 0;
    int rc = 0;
    if (dropped > 0 && dropped < nu) {
        rc = match(e, qc, fl, 0, NULL, NULL, &total);
        if (rc == 0 && total > 0)
            *out = suggest_text(qc, q);
    }
    /* best single units, most frequent first, three tries */
    for (int tries = 0; rc == 0 && *out == NULL && tries < 3 && nu > 1;
         tries++) {
        long best = -1;
        for (size_t i = 0; i < qc->n; i++) {
            const struct qterm *t = &qc->t[i];
            if (was[i] && t->unit >= 0 && t->df > 0 && t->occ < 1000000 &&
                (best < 0 || t->df > qc->t[best].df))
                best = (long)i;
        }
        if (best < 0)
            break;
        for (size_t i = 0; i < qc->n; i++)
            qc->t[i].active = (long)i == best;
        rc = match(e, qc, fl, 0, NULL, NULL, &total);
        if (rc == 0 && total > 0)
            *out = suggest_text(qc, q);
        qc->t[best].occ = 1000000; /* tried */
    }
    for (size_t i = 0; i < qc->n; i++)
        qc->t[i].active = was[i];
    free(was);
    return rc;
}

void sr_result_free(struct sr_result *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n; i++) {
        free(r->hits[i].id);
        free(r->hits[i].snippet);
    }
    free(r->hits);
    free(r->suggestion);
    memset(r, 0, sizeof *r);
}

static int ensure_fresh(struct sr_engine *e, struct gd_err *err)
{
    if (!e->broken)
        return 0;
    return sr_engine_reload(e, err);
}

int sr_search(struct sr_engine *e, const struct sr_query *q,
              struct sr_result *out, struct gd_err *err)
{
    memset(out, 0, sizeof *out);
    if (e == NULL || q == NULL)
        return gd_err_set(err, GD_EINVAL, "search: no engine or query");
    if (q->limit < 1 || q->limit > SR_LIMIT_MAX)
        return gd_err_set(err, GD_EINVAL, "search: limit must be 1..%d",
                          SR_LIMIT_MAX);
    if (q->offset > SR_OFFSET_MAX)
        return gd_err_set(err, GD_EINVAL, "search: offset over %d",
                          SR_OFFSET_MAX);
    struct filt fl = {0};
    fl.status = q->status != NULL ? q->status : "published";
    fl.region = q->region;
    fl.exclude = q->exclude_docno;
    fl.any = q->match_any;
    if (q->category != NULL) {
        fl.cat = q->category;
        fl.catlen = strlen(q->category);
        while (fl.catlen > 0 && fl.cat[fl.catlen - 1] == '/')
            fl.catlen--;
    }
    int rc = ensure_fresh(e, err);
    if (rc != 0)
        return rc;
    if (filt_resolve(e, &fl) != 0)
        return gd_err_set(err, GD_ENOMEM, "search: out of memory");
    struct scorer sc;
    scorer_init(e, &sc);
    e->queries++;
    struct qctx qc = {0};
    rc = parse(e, q->q, q->q_len, &qc, err);
    if (rc == 0)
        rc = fetch_terms(e, &qc, &sc, err);
    struct cand *top = NULL;
    size_t ntop = 0, total = 0;
    /* positions need at least two units in order */
    struct qterm **seq = NULL;
    size_t nseq = 0;
    if (rc == 0) {
        seq = malloc((qc.n ? qc.n : 1) * sizeof *seq);
        if (seq == NULL)
            rc = gd_err_set(err, GD_ENOMEM, "search: out of memory");
    }
    if (rc == 0) {
        for (size_t i = 0; i < qc.n; i++)
            if (qc.t[i].active && qc.t[i].unit >= 0)
                seq[nseq++] = &qc.t[i];
        qsort(seq, nseq, sizeof *seq, qpos_cmp);
        size_t want = q->offset + q->limit;
        size_t cap = want;
        if (nseq >= 2) {
            cap = want + RERANK_EXTRA;
            if (cap < RERANK_MIN)
                cap = RERANK_MIN;
        }
        rc = match(e, &qc, &fl, cap, &top, &ntop, &total);
        if (rc != 0)
            gd_err_set(err, rc, "search: out of memory");
    }
    /* Re-rank: proximity and popularity on the forward records. */
    int need_fwd = nseq >= 2;
    for (size_t i = 0; rc == 0 && i < ntop; i++) {
        const struct sr_dent *d = &e->docs[top[i].slot];
        double boost = 1.0 + 0.04 * log1p((double)d->uses);
        if (boost > 1.3)
            boost = 1.3;
        top[i].sfield = -1;
        if (need_fwd) {
            double prox = 0;
            const struct sr_fwd *fw;
            rc = sr_fwd_get(e, d->docno, &fw, err);
            if (rc == 0 && (rc = doc_match(e, fw, top[i].fmask, &qc, seq,
                                           nseq, &prox, &top[i].sfield)) != 0)
                gd_err_set(err, rc, "search: out of memory");
            boost *= 1.0 + PROX_WEIGHT * prox;
        }
        top[i].score = (float)(top[i].score * boost);
    }
    if (rc == 0 && ntop > 1)
        qsort(top, ntop, sizeof *top, cand_cmp);
    if (rc == 0)
        out->total = total;
    size_t first = q->offset, last = q->offset + q->limit;
    if (last > ntop)
        last = ntop;
    if (rc == 0 && first < last) {
        out->hits = calloc(last - first, sizeof *out->hits);
        if (out->hits == NULL)
            rc = gd_err_set(err, GD_ENOMEM, "search: out of memory");
    }
    for (size_t i = first; rc == 0 && i < last; i++) {
        const struct sr_dent *d = &e->docs[top[i].slot];
        struct sr_hit *hit = &out->hits[out->n];
        hit->docno = d->docno;
        hit->score = top[i].score > 0 ? top[i].score : 1e-9;
        hit->id = strdup(sr_dent_id(d));
        out->n++;
        if (hit->id == NULL) {
            rc = gd_err_set(err, GD_ENOMEM, "search: out of memory");
            break;
        }
        if (!q->snippets)
            continue;
        const struct sr_fwd *fw;
        if ((rc = sr_fwd_get(e, d->docno, &fw, err)) != 0)
            break;
        int sf = top[i].sfield;
        if (sf < 0)
            sf = mask_field(top[i].fmask, fw);
        rc = sr_snippet(e, fw, sf, &qc.set, &hit->snippet);
        if (rc != 0)
            gd_err_set(err, rc, "search: snippet of %u", d->docno);
    }
    if (rc == 0 && total == 0 && (rc = suggest(e, &qc, &fl, q->q,
                                               &out->suggestion)) != 0)
        gd_err_set(err, rc, "search: out of memory");
    free(top);
    free(seq);
    free(fl.catok);
    qctx_free(e, &qc);
    if (rc != 0)
        sr_result_free(out);
    return rc;
}

/* ------------------------------------------------------------ from text */

static int score_cmp(const void *a, const void *b)
{
    const struct qterm *x = *(const struct qterm *const *)a;
    const struct qterm *y = *(const struct qterm *const *)b;
    /* idf holds the selection score here */
    if (x->idf != y->idf)
        return x->idf > y->idf ? -1 : 1;
    return x->qpos < y->qpos ? -1 : x->qpos > y->qpos;
}

int sr_query_from_text(struct sr_engine *e, const char *text, size_t len,
                       size_t max_terms, char **out, struct gd_err *err)
{
    *out = NULL;
    if (e == NULL)
        return gd_err_set(err, GD_EINVAL, "search: no engine");
    if (max_terms == 0)
        return gd_err_set(err, GD_EINVAL, "search: max_terms is 0");
    if (max_terms > SR_UNITS_MAX)
        max_terms = SR_UNITS_MAX;
    int rc = ensure_fresh(e, err);
    if (rc != 0)
        return rc;
    struct qctx qc = {0};
    struct scorer sc;
    scorer_init(e, &sc);
    rc = parse(e, text, len, &qc, err);
    if (rc == GD_EINVAL && qc.n == 0 && gd_utf8_valid(text, len))
        gd_err_set(err, GD_EINVAL, "search: nothing indexable in the text");
    struct qterm **v = NULL;
    size_t nv = 0;
    if (rc == 0) {
        /* keep the first CAND_TERMS_MAX units; whole words are split into
         * their bigrams by sr_search anyway */
        size_t k = 0;
        for (size_t i = 0; i < qc.n; i++)
            if (qc.t[i].unit >= 0)
                qc.t[k++] = qc.t[i];
        qc.n = k;
        if (qc.n > CAND_TERMS_MAX)
            qc.n = CAND_TERMS_MAX;
        for (size_t i = 0; i < qc.n && rc == 0; i++) {
            struct qterm *t = &qc.t[i];
            const char *term = qc.tb + t->toff;
            rc = sr_cache_get(e, term, t->tlen, &t->c, err);
            if (rc == 0 && seg_validate(e, t->c, &sc) != 0)
                rc = gd_err_set(err, GD_ENOMEM, "search: out of memory");
            if (rc == 0) {
                t->bv = sr_bi_find(e, term, t->tlen, t->hash);
                t->df = t->c->live_df + bi_live(e, t->bv);
            }
        }
        v = malloc((qc.n ? qc.n : 1) * sizeof *v);
        if (rc == 0 && v == NULL)
            rc = gd_err_set(err, GD_ENOMEM, "search: out of memory");
    }
    if (rc == 0) {
        int any = 0;
        for (size_t i = 0; i < qc.n; i++)
            any |= qc.t[i].df > 0;
        for (size_t i = 0; i < qc.n; i++) {
            struct qterm *t = &qc.t[i];
            if (any && (t->df == 0 || t->df * 2 > e->ndocs))
                continue; /* matches nothing, or half of everything */
            double w = (1.0 + log((double)t->occ)) * idf_of(e->ndocs, t->df);
            if (t->kind == SR_TK_UNI)
                w *= 0.5;
            t->idf = w;
            v[nv++] = t;
        }
        if (nv == 0)
            for (size_t i = 0; i < qc.n; i++) {
                qc.t[i].idf = idf_of(e->ndocs, qc.t[i].df);
                v[nv++] = &qc.t[i];
            }
        qsort(v, nv, sizeof *v, score_cmp);
        if (nv > max_terms)
            nv = max_terms;
        size_t total = 0;
        for (size_t i = 0; i < nv; i++)
            total += v[i]->tlen + 1;
        *out = malloc(total + 1);
        if (*out == NULL) {
            rc = gd_err_set(err, GD_ENOMEM, "search: out of memory");
        } else {
            size_t o = 0;
            for (size_t i = 0; i < nv; i++) {
                if (i > 0)
                    (*out)[o++] = ' ';
                memcpy(*out + o, qc.tb + v[i]->toff, v[i]->tlen);
                o += v[i]->tlen;
            }
            (*out)[o] = '\0';
        }
    }
    free(v);
    qctx_free(e, &qc);
    return rc;
}
