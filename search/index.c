/* The write side: sr_batch_begin / sr_index_put / sr_batch_end.
 *
 * Every put writes two records into the caller's batch: the document record
 * ('D', small: attributes, field lengths, version) and the forward record
 * ('F': the texts and the document's sorted term list with per-field tf and
 * positions).  Postings are not written per document: they collect in the
 * in-memory buffer index, and when the buffered documents hold
 * flush_postings distinct (term, document) pairs the put that crosses the
 * line freezes them as the next segment ('P' term 0x00 seg: one key per
 * term); that put and the following ones each write a bounded share of its
 * terms into their batches, and the one that writes the last term adds the
 * 'S' record that makes the segment exist.  Every decision depends only on
 * the calls, so the bytes are the same everywhere; after a restart the
 * buffered documents are found again from their forward records and the
 * writing resumes after the last term 'M' names.
 *
 * A changed document gets a new version (seq); postings of older versions
 * become stale and every reader skips them by comparing with the document
 * table, so an update or removal never reads or rewrites postings.  Within
 * a batch the overlay (struct sr_batch) holds the new document states; the
 * engine's tables take them only when sr_batch_end reports the commit. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "search/internal.h"
#include "storage/store.h"

/* ---------------------------------------------------------------- overlay */

static inline struct sr_pend *pend_find(struct sr_batch *bt, uint32_t docno)
{
    if (bt->mapcap == 0)
        return NULL;
    size_t mask = bt->mapcap - 1;
    for (size_t i = (docno * 2654435761u) & mask;; i = (i + 1) & mask) {
        uint32_t s = bt->map[i];
        if (s == 0)
            return NULL;
        if (bt->p[s - 1].docno == docno)
            return &bt->p[s - 1];
    }
}

static void map_insert(uint32_t *map, size_t cap, uint32_t docno, uint32_t v)
{
    size_t i = (docno * 2654435761u) & (cap - 1);
    while (map[i] != 0)
        i = (i + 1) & (cap - 1);
    map[i] = v;
}

/* Reserves room for one more pending entry. */
static int pend_reserve(struct sr_batch *bt)
{
    if (bt->np == bt->pcap) {
        size_t c = bt->pcap ? bt->pcap * 2 : 16;
        struct sr_pend *np = realloc(bt->p, c * sizeof *np);
        if (np == NULL)
            return GD_ENOMEM;
        bt->p = np;
        bt->pcap = c;
    }
    if ((bt->np + 1) * 2 > bt->mapcap) {
        size_t c = bt->mapcap ? bt->mapcap * 2 : 64;
        uint32_t *m = calloc(c, sizeof *m);
        if (m == NULL)
            return GD_ENOMEM;
        for (size_t i = 0; i < bt->np; i++)
            map_insert(m, c, bt->p[i].docno, (uint32_t)(i + 1));
        free(bt->map);
        bt->map = m;
        bt->mapcap = c;
    }
    return 0;
}

/* Sets docno's pending state (room reserved); takes d->strs. */
static void pend_set(struct sr_batch *bt, uint32_t docno, const struct sr_dent *d)
{
    struct sr_pend *p = pend_find(bt, docno);
    if (p == NULL) {
        p = &bt->p[bt->np++];
        map_insert(bt->map, bt->mapcap, docno, (uint32_t)bt->np);
    } else if (!p->removed) {
        free(p->d.strs);
    }
    p->docno = docno;
    p->removed = d == NULL;
    if (d != NULL)
        p->d = *d;
    else
        memset(&p->d, 0, sizeof p->d);
}

/* The document as the batch sees it (NULL: absent). */
static const struct sr_dent *w_lookup(struct sr_engine *e, uint32_t docno)
{
    struct sr_pend *p = pend_find(e->bt, docno);
    if (p != NULL)
        return p->removed ? NULL : &p->d;
    return sr_doc_get(e, docno);
}

static void batch_free(struct sr_batch *bt)
{
    for (size_t i = 0; i < bt->np; i++)
        if (!bt->p[i].removed)
            free(bt->p[i].d.strs);
    free(bt->p);
    free(bt->map);
    free(bt->new_hi);
    free(bt->undo);
    if (bt->frz_own)
        free(bt->frz_terms);
    free(bt);
}

void sr_batch_discard(struct sr_engine *e)
{
    struct sr_batch *bt = e->bt;
    e->bt_oom = 0;
    if (bt == NULL)
        return;
    for (size_t i = 0; i < bt->nundo; i++) {
        struct sr_bvec *v = &e->bi[bt->undo[i]];
        e->bi_total -= v->n - v->undo_n;
        v->n = v->undo_n;
        v->mark = 0;
    }
    batch_free(bt);
    e->bt = NULL;
}

void sr_batch_begin(struct sr_engine *e, struct store_batch *b)
{
    sr_batch_discard(e);
    if (e->broken) {
        struct gd_err err;
        if (sr_engine_reload(e, &err) != 0)
            return; /* sr_index_put reports it */
    }
    struct sr_batch *bt = calloc(1, sizeof *bt);
    if (bt == NULL || b == NULL) {
        free(bt);
        e->bt_oom = bt == NULL;
        return;
    }
    bt->b = b;
    bt->next_seq = e->next_seq;
    bt->flushed_seq = e->nseg > 0 ? e->seg_hi[e->nseg - 1] : 0;
    bt->buf_postings = e->buf_postings;
    bt->frz_postings = e->frz_postings;
    bt->frz_hi = e->frz_hi;
    bt->frz_terms = e->frz_terms;
    bt->frz_n = e->frz_n;
    bt->frz_pos = e->frz_pos;
    bt->frz_keys = e->frz_keys;
    bt->frz_posts = e->frz_posts;
    if (++e->batch_no == 0)
        e->batch_no = 1;
    e->bt = bt;
}

/* ---------------------------------------------------------------- records */

/* M: format 2, next version, segments, the segment being written (last
 * version, last term written, keys and postings so far) and the analyser
 * stamp the index was built with. */
static void put_meta(struct sr_engine *e)
{
    struct sr_batch *bt = e->bt;
    unsigned char v[64 + SR_TERM_MAX + SR_STAMP_MAX];
    struct sr_wbuf w = {v, 0, sizeof v, 0};
    sr_wbuf_u8(&w, SR_META_FORMAT);
    sr_wbuf_varint(&w, bt->next_seq);
    sr_wbuf_varint(&w, e->nseg + bt->nnew);
    sr_wbuf_varint(&w, bt->frz_hi);
    size_t tl = 0;
    const char *t = "";
    if (bt->frz_hi != 0 && bt->frz_pos > 0)
        t = sr_tmap_term(&e->bi_terms, bt->frz_terms[bt->frz_pos - 1], &tl);
    sr_wbuf_str(&w, t, tl);
    sr_wbuf_varint(&w, bt->frz_hi != 0 ? bt->frz_keys : 0);
    sr_wbuf_varint(&w, bt->frz_hi != 0 ? bt->frz_posts : 0);
    sr_wbuf_str(&w, e->stored_stamp, strlen(e->stored_stamp));
    assert(!w.oom && w.p == v);
    unsigned char k = SR_KEY_META;
    store_batch_put(bt->b, STORE_CF_SEARCH, &k, 1, v, w.len);
}

static void doc_key(unsigned char *k, int kind, uint32_t docno)
{
    k[0] = (unsigned char)kind;
    sr_be32_put(k + 1, docno);
}

/* ---------------------------------------------------------------- flush */

/* Freezes the buffered documents (versions up to next_seq) as the next
 * segment: from now on the puts of this and later batches write its terms,
 * in term order, a bounded number of postings each (flush_step).  The term
 * list may name terms whose postings all went stale; they cost nothing and
 * write nothing, so a replica that rebuilt its buffer index after a restart
 * (and lacks them) writes the same keys in the same puts. */
static int freeze(struct sr_engine *e, struct gd_err *err)
{
    struct sr_batch *bt = e->bt;
    size_t nt = e->bi_terms.n;
    uint32_t *terms = malloc((nt ? nt : 1) * sizeof *terms);
    if (terms == NULL)
        return gd_err_set(err, GD_ENOMEM, "search: out of memory");
    size_t n = 0;
    for (size_t i = 0; i < nt; i++)
        if (e->bi[i].n > 0)
            terms[n++] = (uint32_t)i;
    if (sr_tmap_sort(&e->bi_terms, terms, n) != 0) {
        free(terms);
        return gd_err_set(err, GD_ENOMEM, "search: out of memory");
    }
    if (bt->frz_own)
        free(bt->frz_terms);
    bt->frz_terms = terms;
    bt->frz_own = 1;
    bt->frz_n = n;
    bt->frz_pos = 0;
    bt->frz_keys = bt->frz_posts = 0;
    bt->frz_hi = bt->next_seq;
    bt->frz_postings += bt->buf_postings;
    bt->buf_postings = 0;
    return 0;
}

struct fl_post {
    uint32_t docno;
    const uint8_t *tf;
};

static int fl_post_cmp(const void *a, const void *b)
{
    uint32_t x = ((const struct fl_post *)a)->docno,
             y = ((const struct fl_post *)b)->docno;
    return x < y ? -1 : x > y;
}

/* Writes whole terms of the frozen segment until budget postings are
 * written or the terms run out; then the 'S' record makes the segment
 * complete (it becomes visible to readers at commit).  What is written
 * depends only on the calls made: the live postings of versions
 * (flushed_seq, frz_hi] of each term, as the batch sees the documents. */
static int flush_step(struct sr_engine *e, uint64_t budget, struct gd_err *err)
{
    struct sr_batch *bt = e->bt;
    uint32_t seg = e->nseg + (uint32_t)bt->nnew + 1;
    struct sr_wbuf *w = &e->wb_post;
    unsigned char key[SR_TERM_MAX + 8];
    struct fl_post *ps = NULL;
    size_t pscap = 0;
    uint64_t written = 0;
    while (bt->frz_pos < bt->frz_n && written < budget) {
        uint32_t ti = bt->frz_terms[bt->frz_pos];
        const struct sr_bvec *v = &e->bi[ti];
        if (v->n > pscap) {
            free(ps);
            pscap = v->n;
            ps = malloc(pscap * sizeof *ps);
            if (ps == NULL)
                return gd_err_set(err, GD_ENOMEM, "search: out of memory");
        }
        size_t np = 0;
        for (uint32_t k = 0; k < v->n; k++) {
            const struct sr_dent *d = w_lookup(e, v->v[k].docno);
            if (d != NULL && (uint32_t)d->seq == v->v[k].seq &&
                d->seq > bt->flushed_seq && d->seq <= bt->frz_hi)
                ps[np++] = (struct fl_post){v->v[k].docno, v->v[k].tf};
        }
        bt->frz_pos++;
        if (np == 0)
            continue;
        int sorted = 1; /* usually: documents arrive in docno order */
        for (size_t k = 1; k < np && sorted; k++)
            sorted = ps[k - 1].docno < ps[k].docno;
        if (!sorted)
            qsort(ps, np, sizeof *ps, fl_post_cmp);
        w->len = 0;
        sr_wbuf_varint(w, np);
        uint32_t prev = 0;
        for (size_t k = 0; k < np; k++) {
            sr_wbuf_varint(w, ps[k].docno - prev);
            prev = ps[k].docno;
            unsigned mask = 0;
            for (int f = 0; f < SR_F__COUNT; f++)
                mask |= ps[k].tf[f] != 0 ? 1u << f : 0;
            sr_wbuf_u8(w, mask);
            for (int f = 0; f < SR_F__COUNT; f++)
                if (ps[k].tf[f] != 0)
                    sr_wbuf_varint(w, ps[k].tf[f]);
        }
        if (w->oom) {
            free(ps);
            sr_wbuf_free(w);
            return gd_err_set(err, GD_ENOMEM, "search: out of memory");
        }
        size_t tl;
        const char *t = sr_tmap_term(&e->bi_terms, ti, &tl);
        assert(tl <= SR_TERM_MAX);
        key[0] = SR_KEY_POST;
        memcpy(key + 1, t, tl);
        key[tl + 1] = 0;
        sr_be32_put(key + tl + 2, seg);
        store_batch_put(bt->b, STORE_CF_SEARCH, key, tl + 6, w->p, w->len);
        bt->frz_keys++;
        bt->frz_posts += np;
        written += np;
    }
    free(ps);
    if (bt->frz_pos < bt->frz_n)
        return 0;
    /* every term written: the segment is complete */
    if (bt->nnew == bt->newcap) {
        size_t c = bt->newcap ? bt->newcap * 2 : 4;
        uint64_t *nh = realloc(bt->new_hi, c * sizeof *nh);
        if (nh == NULL)
            return gd_err_set(err, GD_ENOMEM, "search: out of memory");
        bt->new_hi = nh;
        bt->newcap = c;
    }
    unsigned char sk[5], sv[64];
    struct sr_wbuf sw = {sv, 0, sizeof sv, 0};
    sr_wbuf_varint(&sw, bt->frz_hi);
    sr_wbuf_varint(&sw, bt->frz_keys);
    sr_wbuf_varint(&sw, bt->frz_posts);
    doc_key(sk, SR_KEY_SEG, seg);
    store_batch_put(bt->b, STORE_CF_SEARCH, sk, 5, sv, sw.len);
    bt->new_hi[bt->nnew++] = bt->frz_hi;
    bt->flushed_seq = bt->frz_hi;
    bt->frz_hi = 0;
    bt->frz_n = bt->frz_pos = 0;
    bt->frz_keys = bt->frz_posts = 0;
    bt->frz_postings = 0;
    return 0;
}

/* ---------------------------------------------------------------- put */

static int attr_ok(const char *s, size_t n, size_t max)
{
    return (s != NULL || n == 0) && n <= max &&
           (n == 0 || (memchr(s, 0, n) == NULL && gd_utf8_valid(s, n)));
}

static int check_doc(const struct sr_doc *doc, struct gd_err *err)
{
    if (doc->id == NULL || doc->id_len == 0 || doc->id_len > SR_ID_MAX ||
        !attr_ok(doc->id, doc->id_len, SR_ID_MAX))
        return gd_err_set(err, GD_EINVAL,
                          "search: id must be 1..%d bytes of UTF-8", SR_ID_MAX);
    if (!attr_ok(doc->category, doc->category_len, SR_ATTR_MAX) ||
        !attr_ok(doc->status, doc->status_len, SR_ATTR_MAX) ||
        !attr_ok(doc->region, doc->region_len, SR_ATTR_MAX))
        return gd_err_set(err, GD_EINVAL,
                          "search: category, status and region must be "
                          "UTF-8 of at most %d bytes",
                          SR_ATTR_MAX);
    for (int f = 0; f < SR_F__COUNT; f++) {
        if (doc->text[f] == NULL && doc->len[f] > 0)
            return gd_err_set(err, GD_EINVAL, "search: field %d is NULL", f);
        if (doc->len[f] > SR_TEXT_MAX)
            return gd_err_set(err, GD_EINVAL,
                              "search: field %d over %u bytes", f, SR_TEXT_MAX);
        if (!gd_utf8_valid(doc->text[f], doc->len[f]))
            return gd_err_set(err, GD_EINVAL,
                              "search: field %d is not UTF-8", f);
    }
    return 0;
}

static uint64_t content_hash(const struct sr_doc *doc)
{
    unsigned char n[8];
    uint64_t h = 0;
    store_be64_put(n, doc->id_len);
    h = sr_hash64(h, n, 8);
    h = sr_hash64(h, doc->id, doc->id_len);
    for (int f = 0; f < SR_F__COUNT; f++) {
        store_be64_put(n, doc->len[f]);
        h = sr_hash64(h, n, 8);
        if (doc->len[f] > 0)
            h = sr_hash64(h, doc->text[f], doc->len[f]);
    }
    return h;
}

/* A new sr_dent for doc (strs allocated), without version or terms. */
static int dent_make(const struct sr_doc *doc, uint32_t docno,
                     struct sr_dent *d)
{
    memset(d, 0, sizeof *d);
    size_t n = doc->id_len + doc->category_len + doc->status_len +
               doc->region_len + 4;
    d->strs = malloc(n);
    if (d->strs == NULL)
        return GD_ENOMEM;
    const char *s[4] = {doc->id, doc->category, doc->status, doc->region};
    size_t l[4] = {doc->id_len, doc->category_len, doc->status_len,
                   doc->region_len};
    char *p = d->strs;
    for (int i = 0; i < 4; i++) {
        if (l[i] > 0)
            memcpy(p, s[i], l[i]);
        p[l[i]] = '\0';
        p += l[i] + 1;
    }
    d->docno = docno;
    d->id_len = (uint16_t)l[0];
    d->cat_len = (uint16_t)l[1];
    d->st_len = (uint16_t)l[2];
    d->rg_len = (uint16_t)l[3];
    d->uses = doc->uses;
    d->chash = content_hash(doc);
    return 0;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 256;
    while (c < need)
        c *= 2;
    void *np = realloc(*p, c * elem);
    if (np == NULL)
        return GD_ENOMEM;
    *p = np;
    *cap = c;
    return 0;
}

/* The document's distinct terms with their per-field tf, into e->dterms
 * and e->dtf; flen gets the field lengths in positions.  The same function
 * serves sr_index_put and the rebuild of the buffer index at open, so both
 * see exactly the same terms. */
int sr_doc_terms(struct sr_engine *e, const char *const *text,
                 const size_t *len, uint32_t *flen)
{
    struct sr_analysis *a = &e->an;
    sr_tmap_clear(&e->dterms);
    a->no_words = 0;
    for (int f = 0; f < SR_F__COUNT; f++) {
        sr_analysis_reset(a);
        uint32_t pos = 0;
        if (sr_analyze_into(e, a, text[f], len[f], &pos) != 0)
            return GD_ENOMEM;
        flen[f] = pos;
        for (size_t i = 0; i < a->ntok; i++) {
            const struct sr_atok *t = &a->tok[i];
            if (t->kind == SR_TK_WORD && t->nch < 3)
                continue; /* the same string as the unigram or bigram */
            const char *term = a->terms + t->toff;
            uint32_t idx;
            int created;
            if (sr_tmap_get(&e->dterms, term, t->tlen, sr_hash(term, t->tlen),
                            &idx, &created) != 0 ||
                grow((void **)&e->dtf, &e->dtfcap, (size_t)idx + 1,
                     sizeof *e->dtf) != 0)
                return GD_ENOMEM;
            if (created)
                memset(e->dtf[idx], 0, sizeof e->dtf[idx]);
            e->dtf[idx][f]++;
        }
    }
    return 0;
}

/* Appends the terms in e->dterms to the buffer index for (docno, seq). */
int sr_doc_terms_buffer(struct sr_engine *e, uint32_t docno, uint64_t seq)
{
    return sr_bi_append_terms(e, &e->dterms,
                              (const uint32_t(*)[SR_F__COUNT])e->dtf, docno,
                              (uint32_t)seq);
}

/* The forward record: the six texts, for snippets, proximity and the
 * rebuild of the buffer index. */
static void fwd_encode(struct sr_wbuf *w, const struct sr_doc *doc)
{
    w->len = 0;
    sr_wbuf_u8(w, SR_FORMAT);
    for (int f = 0; f < SR_F__COUNT; f++)
        sr_wbuf_str(w, doc->text[f], doc->len[f]);
}

/* The old version of a document leaves the buffered counts. */
static void unbuffer(struct sr_batch *bt, const struct sr_dent *old)
{
    if (old == NULL || old->seq <= bt->flushed_seq)
        return;
    if (bt->frz_hi != 0 && old->seq <= bt->frz_hi)
        bt->frz_postings -= old->nterms;
    else
        bt->buf_postings -= old->nterms;
}

static int put_remove(struct sr_engine *e, uint32_t docno, struct gd_err *err)
{
    struct sr_batch *bt = e->bt;
    if (w_lookup(e, docno) == NULL)
        return 0;
    if (pend_reserve(bt) != 0) /* may move the overlay: look up again */
        return gd_err_set(err, GD_ENOMEM, "search: out of memory");
    const struct sr_dent *old = w_lookup(e, docno);
    unbuffer(bt, old);
    unsigned char k[5];
    doc_key(k, SR_KEY_DOC, docno);
    store_batch_delete(bt->b, STORE_CF_SEARCH, k, 5);
    doc_key(k, SR_KEY_FWD, docno);
    store_batch_delete(bt->b, STORE_CF_SEARCH, k, 5);
    pend_set(bt, docno, NULL);
    return 0;
}

int sr_index_put(struct sr_engine *e, uint32_t docno, const struct sr_doc *doc,
                 struct gd_err *err)
{
    if (e == NULL)
        return gd_err_set(err, GD_EINVAL, "search: no engine");
    struct sr_batch *bt = e->bt;
    if (bt == NULL && e->broken)
        return gd_err_set(err, GD_ECORRUPT,
                          "search: the index could not be loaded from the "
                          "store; writes wait for a successful reload");
    if (bt == NULL)
        return e->bt_oom ? gd_err_set(err, GD_ENOMEM, "search: out of memory")
                         : gd_err_set(err, GD_EINVAL, "search: no batch begun");
    if (docno == 0)
        return gd_err_set(err, GD_EINVAL, "search: docno 0 is invalid");
    if (doc == NULL)
        return put_remove(e, docno, err);
    int rc = check_doc(doc, err);
    if (rc != 0)
        return rc;
    struct sr_dent d;
    if (dent_make(doc, docno, &d) != 0 || pend_reserve(bt) != 0) {
        if (d.strs != NULL)
            free(d.strs);
        return gd_err_set(err, GD_ENOMEM, "search: out of memory");
    }
    const struct sr_dent *old = w_lookup(e, docno);
    unsigned char k[5];
    struct sr_wbuf *wd = &e->wb_doc;
    if (old != NULL && old->chash == d.chash) {
        /* Same id and texts: only the attributes change; the postings and
         * forward record stay as they are. */
        d.seq = old->seq;
        d.nterms = old->nterms;
        memcpy(d.flen, old->flen, sizeof d.flen);
        wd->len = 0;
        sr_dent_encode(wd, &d);
        if (wd->oom) {
            free(d.strs);
            sr_wbuf_free(wd);
            return gd_err_set(err, GD_ENOMEM, "search: out of memory");
        }
        doc_key(k, SR_KEY_DOC, docno);
        store_batch_put(bt->b, STORE_CF_SEARCH, k, 5, wd->p, wd->len);
        pend_set(bt, docno, &d);
        return 0;
    }
    if (sr_doc_terms(e, doc->text, doc->len, d.flen) != 0) {
        free(d.strs);
        return gd_err_set(err, GD_ENOMEM, "search: out of memory");
    }
    d.nterms = (uint32_t)e->dterms.n;
    d.seq = ++bt->next_seq;
    wd->len = 0;
    sr_dent_encode(wd, &d);
    fwd_encode(&e->wb_fwd, doc);
    if (wd->oom || e->wb_fwd.oom) {
        free(d.strs);
        sr_wbuf_free(wd);
        sr_wbuf_free(&e->wb_fwd);
        return gd_err_set(err, GD_ENOMEM, "search: out of memory");
    }
    /* The buffer index takes the postings now (undone if the batch is
     * dropped); they are invisible to queries until the commit makes seq
     * the document's version. */
    if (sr_doc_terms_buffer(e, docno, d.seq) != 0) {
        free(d.strs);
        return gd_err_set(err, GD_ENOMEM, "search: out of memory");
    }
    doc_key(k, SR_KEY_DOC, docno);
    store_batch_put(bt->b, STORE_CF_SEARCH, k, 5, wd->p, wd->len);
    doc_key(k, SR_KEY_FWD, docno);
    store_batch_put(bt->b, STORE_CF_SEARCH, k, 5, e->wb_fwd.p, e->wb_fwd.len);
    unbuffer(bt, old);
    bt->buf_postings += d.nterms;
    pend_set(bt, docno, &d);
    /* The put that crosses the flush line freezes the buffer (unless a
     * segment is still being written: then a later put does); every put
     * writes a share of the frozen segment proportional to its own size, so
     * no put pays for a whole segment. */
    if (bt->frz_hi == 0 && bt->buf_postings >= e->flush_postings &&
        (rc = freeze(e, err)) != 0)
        return rc;
    if (bt->frz_hi != 0 &&
        (rc = flush_step(e,
                         e->step_base + (uint64_t)e->step_per_term * d.nterms,
                         err)) != 0)
        return rc;
    put_meta(e);
    return 0;
}

/* ---------------------------------------------------------------- end */

static int commit(struct sr_engine *e)
{
    struct sr_batch *bt = e->bt;
    int rc = 0;
    if (bt->nnew > 0) {
        size_t need = e->nseg + bt->nnew;
        if (need > e->seg_cap) {
            uint64_t *nh = realloc(e->seg_hi, need * 2 * sizeof *nh);
            if (nh == NULL)
                return GD_ENOMEM;
            e->seg_hi = nh;
            e->seg_cap = need * 2;
        }
        memcpy(e->seg_hi + e->nseg, bt->new_hi, bt->nnew * sizeof *e->seg_hi);
        e->nseg += (uint32_t)bt->nnew;
    }
    e->next_seq = bt->next_seq;
    for (size_t i = 0; i < bt->np; i++) {
        struct sr_pend *p = &bt->p[i];
        sr_fwd_forget(e, p->docno);
        if (p->removed) {
            sr_doc_remove(e, p->docno);
            continue;
        }
        p->d.seg = sr_seg_of(e->seg_hi, e->nseg, p->d.seq);
        if (sr_doc_set(e, &p->d) != 0)
            rc = GD_ENOMEM;
        else
            p->d.strs = NULL; /* the table owns it now */
    }
    e->buf_postings = bt->buf_postings;
    e->frz_postings = bt->frz_postings;
    if (bt->frz_terms != e->frz_terms) {
        free(e->frz_terms);
        e->frz_terms = bt->frz_terms;
        bt->frz_own = 0; /* the engine owns it now */
    }
    e->frz_hi = bt->frz_hi;
    e->frz_n = bt->frz_n;
    e->frz_pos = bt->frz_pos;
    e->frz_keys = bt->frz_keys;
    e->frz_posts = bt->frz_posts;
    if (e->frz_hi == 0) {
        free(e->frz_terms);
        e->frz_terms = NULL;
    }
    if (bt->nnew > 0) {
        /* Documents buffered before this batch moved into the new segment;
         * the cached lists of the flushed terms lack it. */
        for (size_t i = 1; i < e->nslots; i++)
            if (e->docs[i].docno != 0 && e->docs[i].seg == 0)
                e->docs[i].seg = sr_seg_of(e->seg_hi, e->nseg, e->docs[i].seq);
        for (size_t i = 0; i < e->bi_terms.n; i++)
            if (e->bi[i].n > 0) {
                size_t tl;
                const char *t = sr_tmap_term(&e->bi_terms, (uint32_t)i, &tl);
                sr_cache_drop(e, t, tl, e->bi_terms.ent[i].hash);
            }
        e->gen++;
    }
    return rc;
}

void sr_batch_end(struct sr_engine *e, int committed)
{
    if (e == NULL)
        return;
    if (e->bt == NULL) {
        e->bt_oom = 0;
        return;
    }
    if (!committed) {
        sr_batch_discard(e);
        return;
    }
    if (commit(e) != 0)
        e->broken = 1; /* the store has it; reload before the next use */
    batch_free(e->bt);
    e->bt = NULL;
    /* Postings of flushed or replaced versions leave the buffer index a
     * bounded number at a time (a whole rebuild took ~10 ms at 2^21). */
    if (e->bi_total > e->buf_postings + e->frz_postings + 65536)
        sr_bi_gc(e, SR_GC_STEP);
}
