/* The engine's read-side state and its life cycle: opening (ICU/OpenCC and
 * loading the document table from the store), the document table itself,
 * the in-memory buffer index of documents not yet flushed into a segment,
 * the LRU cache of decoded segment posting lists, and the codecs of the
 * per-document records.  See docs/SEARCH.md for the key layout. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "search/internal.h"
#include "storage/store.h"

#define PAGE_BITS SR_PAGE_BITS
#define PAGE_SIZE (1u << PAGE_BITS)

static int corrupt(struct gd_err *err, const char *what, uint32_t n)
{
    return gd_err_set(err, GD_ECORRUPT, "search: malformed %s (%u)", what, n);
}

/* ------------------------------------------------------- document table */

static void sums_add(struct sr_engine *e, const struct sr_dent *d, int sign)
{
    for (int f = 0; f < SR_F__COUNT; f++)
        e->sumlen[f] += sign * (double)d->flen[f];
    if (sign > 0)
        e->ndocs++;
    else
        e->ndocs--;
}

static int intern(struct sr_engine *e, const char *s, size_t n, uint32_t *id)
{
    return sr_tmap_get(&e->attrs, s, n, sr_hash(s, n), id, NULL);
}

int sr_doc_set(struct sr_engine *e, const struct sr_dent *din)
{
    struct sr_dent dd = *din, *d = &dd;
    if (intern(e, sr_dent_cat(d), d->cat_len, &dd.cat_id) != 0 ||
        intern(e, sr_dent_status(d), d->st_len, &dd.st_id) != 0 ||
        intern(e, sr_dent_region(d), d->rg_len, &dd.rg_id) != 0)
        return GD_ENOMEM;
    size_t pg = d->docno >> PAGE_BITS;
    if (pg >= e->npages) {
        size_t n = pg + 1 > e->npages * 2 ? pg + 1 : e->npages * 2;
        uint32_t **np = realloc(e->pages, n * sizeof *np);
        if (np == NULL)
            return GD_ENOMEM;
        memset(np + e->npages, 0, (n - e->npages) * sizeof *np);
        e->pages = np;
        e->npages = n;
    }
    if (e->pages[pg] == NULL) {
        e->pages[pg] = calloc(PAGE_SIZE, sizeof **e->pages);
        if (e->pages[pg] == NULL)
            return GD_ENOMEM;
    }
    uint32_t *sp = &e->pages[pg][d->docno & (PAGE_SIZE - 1)];
    if (*sp != 0) {
        struct sr_dent *old = &e->docs[*sp];
        sums_add(e, old, -1);
        free(old->strs);
        *old = *d;
        e->dattr[*sp] = (struct sr_dattr){d->cat_id, d->st_id, d->rg_id};
        sums_add(e, old, 1);
        e->gen++;
        return 0;
    }
    uint32_t slot = e->free_slot;
    if (slot != 0) {
        e->free_slot = e->docs[slot].seg;
    } else {
        if (e->nslots + 1 >= e->slotcap) {
            size_t c = e->slotcap ? e->slotcap * 2 : 1024;
            struct sr_dent *nd = realloc(e->docs, c * sizeof *nd);
            if (nd == NULL)
                return GD_ENOMEM;
            e->docs = nd;
            struct sr_dattr *na = realloc(e->dattr, c * sizeof *na);
            if (na == NULL)
                return GD_ENOMEM;
            e->dattr = na;
            e->slotcap = c;
        }
        if (e->nslots == 0)
            e->nslots = 1; /* slot 0 means "none" */
        slot = (uint32_t)e->nslots++;
    }
    e->docs[slot] = *d;
    e->dattr[slot] = (struct sr_dattr){d->cat_id, d->st_id, d->rg_id};
    *sp = slot;
    sums_add(e, d, 1);
    e->gen++;
    return 0;
}

void sr_doc_remove(struct sr_engine *e, uint32_t docno)
{
    size_t pg = docno >> PAGE_BITS;
    if (pg >= e->npages || e->pages[pg] == NULL)
        return;
    uint32_t *sp = &e->pages[pg][docno & (PAGE_SIZE - 1)];
    if (*sp == 0)
        return;
    struct sr_dent *d = &e->docs[*sp];
    sums_add(e, d, -1);
    free(d->strs);
    memset(d, 0, sizeof *d);
    d->seg = e->free_slot;
    e->free_slot = *sp;
    *sp = 0;
    e->gen++;
}

static void docs_free(struct sr_engine *e)
{
    for (size_t i = 1; i < e->nslots; i++)
        if (e->docs[i].docno != 0)
            free(e->docs[i].strs);
    free(e->docs);
    e->docs = NULL;
    free(e->dattr);
    e->dattr = NULL;
    e->nslots = e->slotcap = 0;
    e->free_slot = 0;
    for (size_t i = 0; i < e->npages; i++)
        free(e->pages[i]);
    free(e->pages);
    e->pages = NULL;
    e->npages = 0;
    e->ndocs = 0;
    memset(e->sumlen, 0, sizeof e->sumlen);
    e->gen++;
}

uint32_t sr_seg_of(const uint64_t *seg_hi, uint32_t nseg, uint64_t seq)
{
    if (nseg == 0 || seq > seg_hi[nseg - 1])
        return 0;
    uint32_t lo = 0, hi = nseg;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (seg_hi[mid] < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo + 1;
}

/* ------------------------------------------------------- records */

void sr_dent_encode(struct sr_wbuf *w, const struct sr_dent *d)
{
    sr_wbuf_u8(w, SR_FORMAT);
    sr_wbuf_varint(w, d->seq);
    sr_wbuf_str(w, sr_dent_id(d), d->id_len);
    sr_wbuf_str(w, sr_dent_cat(d), d->cat_len);
    sr_wbuf_str(w, sr_dent_status(d), d->st_len);
    sr_wbuf_str(w, sr_dent_region(d), d->rg_len);
    sr_wbuf_varint(w, d->uses);
    for (int f = 0; f < SR_F__COUNT; f++)
        sr_wbuf_varint(w, d->flen[f]);
    sr_wbuf_varint(w, d->nterms);
    unsigned char h[8];
    store_be64_put(h, d->chash);
    sr_wbuf_put(w, h, 8);
}

int sr_dent_decode(const unsigned char *v, size_t n, uint32_t docno,
                   struct sr_dent *d, struct gd_err *err)
{
    struct sr_rbuf r = {v, v + n};
    unsigned ver;
    const char *s[4];
    size_t sl[4];
    const unsigned char *h;
    memset(d, 0, sizeof *d);
    if (sr_rbuf_u8(&r, &ver) != 0 || ver != SR_FORMAT ||
        sr_rbuf_varint(&r, &d->seq) != 0 ||
        sr_rbuf_str(&r, SR_ID_MAX, &s[0], &sl[0]) != 0 || sl[0] == 0 ||
        sr_rbuf_str(&r, SR_ATTR_MAX, &s[1], &sl[1]) != 0 ||
        sr_rbuf_str(&r, SR_ATTR_MAX, &s[2], &sl[2]) != 0 ||
        sr_rbuf_str(&r, SR_ATTR_MAX, &s[3], &sl[3]) != 0 ||
        sr_rbuf_varint32(&r, &d->uses) != 0)
        return corrupt(err, "document record", docno);
    for (int f = 0; f < SR_F__COUNT; f++)
        if (sr_rbuf_varint32(&r, &d->flen[f]) != 0)
            return corrupt(err, "document record", docno);
    if (sr_rbuf_varint32(&r, &d->nterms) != 0 || sr_rbuf_bytes(&r, 8, &h) != 0 ||
        r.p != r.end)
        return corrupt(err, "document record", docno);
    for (int i = 0; i < 4; i++)
        if (memchr(s[i], 0, sl[i]) != NULL || !gd_utf8_valid(s[i], sl[i]))
            return corrupt(err, "document record", docno);
    d->chash = store_be64_get(h);
    d->docno = docno;
    d->strs = malloc(sl[0] + sl[1] + sl[2] + sl[3] + 4);
    if (d->strs == NULL)
        return gd_err_set(err, GD_ENOMEM, "search: out of memory");
    char *p = d->strs;
    for (int i = 0; i < 4; i++) {
        memcpy(p, s[i], sl[i]);
        p[sl[i]] = '\0';
        p += sl[i] + 1;
    }
    d->id_len = (uint16_t)sl[0];
    d->cat_len = (uint16_t)sl[1];
    d->st_len = (uint16_t)sl[2];
    d->rg_len = (uint16_t)sl[3];
    return 0;
}

void sr_fwd_free(struct sr_fwd *f)
{
    free(f->rec);
    memset(f, 0, sizeof *f);
}

int sr_fwd_decode(struct sr_fwd *f, struct gd_err *err)
{
    struct sr_rbuf r = {(const unsigned char *)f->rec,
                        (const unsigned char *)f->rec + f->reclen};
    unsigned ver;
    if (sr_rbuf_u8(&r, &ver) != 0 || ver != SR_FORMAT)
        return corrupt(err, "forward record", 0);
    for (int fl = 0; fl < SR_F__COUNT; fl++)
        if (sr_rbuf_str(&r, SR_TEXT_MAX, &f->text[fl], &f->len[fl]) != 0)
            return corrupt(err, "forward record", 1);
    if (r.p != r.end)
        return corrupt(err, "forward record", 2);
    for (int fl = 0; fl < SR_F__COUNT; fl++)
        if (!gd_utf8_valid(f->text[fl], f->len[fl]))
            return corrupt(err, "forward record", 3);
    return 0;
}

int sr_fwd_get(struct sr_engine *e, uint32_t docno, const struct sr_fwd **out,
               struct gd_err *err)
{
    *out = NULL;
    if (e->fcache == NULL) {
        e->fcache = calloc(SR_FCACHE_SLOTS, sizeof *e->fcache);
        if (e->fcache == NULL)
            return gd_err_set(err, GD_ENOMEM, "search: out of memory");
    }
    struct sr_fslot *fs = &e->fcache[(docno * 2654435761u) >> 22];
    if (fs->docno != docno) {
        if (fs->docno != 0)
            sr_fwd_free(&fs->f);
        fs->docno = 0;
        int rc = sr_fwd_load(e, docno, &fs->f, err);
        if (rc != 0) {
            sr_fwd_free(&fs->f);
            return rc;
        }
        fs->docno = docno;
    }
    *out = &fs->f;
    return 0;
}

void sr_fwd_forget(struct sr_engine *e, uint32_t docno)
{
    if (e->fcache == NULL)
        return;
    struct sr_fslot *fs = &e->fcache[(docno * 2654435761u) >> 22];
    if (fs->docno == docno) {
        sr_fwd_free(&fs->f);
        fs->docno = 0;
    }
}

static void fcache_free(struct sr_engine *e)
{
    if (e->fcache == NULL)
        return;
    for (size_t i = 0; i < SR_FCACHE_SLOTS; i++)
        if (e->fcache[i].docno != 0)
            sr_fwd_free(&e->fcache[i].f);
    free(e->fcache);
    e->fcache = NULL;
}

int sr_fwd_load(struct sr_engine *e, uint32_t docno, struct sr_fwd *f,
                struct gd_err *err)
{
    unsigned char key[5];
    key[0] = SR_KEY_FWD;
    sr_be32_put(key + 1, docno);
    memset(f, 0, sizeof *f);
    int rc = store_get(e->s, STORE_CF_SEARCH, key, 5, &f->rec, &f->reclen);
    if (rc == GD_ENOTFOUND)
        return gd_err_set(err, GD_ECORRUPT,
                          "search: document %u has no forward record", docno);
    if (rc != 0)
        return gd_err_set(err, rc, "search: reading forward record %u: %s",
                          docno, gd_code_name(rc));
    return sr_fwd_decode(f, err);
}

/* --------------------------------------------------------- buffer index */

static int bi_reserve(struct sr_engine *e, size_t n)
{
    if (n <= e->bicap)
        return 0;
    size_t c = e->bicap ? e->bicap : 1024;
    while (c < n)
        c *= 2;
    struct sr_bvec *nb = realloc(e->bi, c * sizeof *nb);
    if (nb == NULL)
        return GD_ENOMEM;
    memset(nb + e->bicap, 0, (c - e->bicap) * sizeof *nb);
    e->bi = nb;
    e->bicap = c;
    return 0;
}

/* Appends p to the postings of buffer term idx (bi reserved), saving the
 * term's length for the undo of a dropped batch. */
static int bi_push(struct sr_engine *e, uint32_t idx, const struct sr_bpost *p)
{
    struct sr_bvec *v = &e->bi[idx];
    struct sr_batch *bt = e->bt;
    if (bt != NULL && v->mark != e->batch_no) {
        if (bt->nundo == bt->undocap) {
            size_t c = bt->undocap ? bt->undocap * 2 : 256;
            uint32_t *nu = realloc(bt->undo, c * sizeof *nu);
            if (nu == NULL)
                return GD_ENOMEM;
            bt->undo = nu;
            bt->undocap = c;
        }
        bt->undo[bt->nundo++] = idx;
        v->mark = e->batch_no;
        v->undo_n = v->n;
    }
    if (v->n == v->cap) {
        uint32_t c = v->cap ? v->cap * 2 : 4;
        struct sr_bpost *nv = realloc(v->v, (size_t)c * sizeof *nv);
        if (nv == NULL)
            return GD_ENOMEM;
        v->v = nv;
        v->cap = c;
    }
    v->v[v->n++] = *p;
    e->bi_total++;
    return 0;
}

/* Groups of terms for sr_bi_append_terms: enough independent lookups to
 * keep several cache misses in flight, few enough to stay in L1. */
#define BI_GROUP 16

int sr_bi_append_terms(struct sr_engine *e, const struct sr_tmap *m,
                       const uint32_t (*tf)[SR_F__COUNT], uint32_t docno,
                       uint32_t seq)
{
    /* The buffer index is far larger than the caches, and a document's
     * terms are scattered over it: each term costs a miss on its map slot,
     * its map entry, its posting vector and the vector's tail.  Done one
     * stage at a time over a group of terms (prefetching the next stage),
     * those misses overlap instead of following one another.  The result
     * is exactly that of finding (or adding) each term and appending its
     * posting, term by term in the map's order. */
    struct sr_tmap *bm = &e->bi_terms;
    struct sr_bpost bp;
    uint32_t idx[BI_GROUP];
    bp.docno = docno;
    bp.seq = seq;
    for (size_t i0 = 0; i0 < m->n; i0 += BI_GROUP) {
        size_t g = m->n - i0 < BI_GROUP ? m->n - i0 : BI_GROUP;
        const struct sr_tment *te = m->ent + i0;
        if (bm->cap > 0) {
            size_t mask = bm->cap - 1;
            for (size_t j = 0; j < g; j++)
                __builtin_prefetch(&bm->slot[te[j].hash & mask]);
            for (size_t j = 0; j < g; j++) {
                uint32_t s = bm->slot[te[j].hash & mask];
                if (s != 0)
                    __builtin_prefetch(&bm->ent[s - 1]);
            }
        }
        for (size_t j = 0; j < g; j++) {
            if (sr_tmap_get(bm, m->arena + te[j].off, te[j].len, te[j].hash,
                            &idx[j], NULL) != 0 ||
                bi_reserve(e, (size_t)idx[j] + 1) != 0)
                return GD_ENOMEM;
            __builtin_prefetch(&e->bi[idx[j]]);
        }
        for (size_t j = 0; j < g; j++) {
            const struct sr_bvec *v = &e->bi[idx[j]];
            if (v->n < v->cap)
                __builtin_prefetch(&v->v[v->n], 1);
        }
        for (size_t j = 0; j < g; j++) {
            const uint32_t *f = tf[i0 + j];
            for (int k = 0; k < SR_F__COUNT; k++)
                bp.tf[k] = (uint8_t)(f[k] > 255 ? 255 : f[k]);
            if (bi_push(e, idx[j], &bp) != 0)
                return GD_ENOMEM;
        }
    }
    return 0;
}

const struct sr_bvec *sr_bi_find(struct sr_engine *e, const char *t, size_t n,
                                 uint32_t h)
{
    long i = sr_tmap_find(&e->bi_terms, t, n, h);
    return i >= 0 ? &e->bi[i] : NULL;
}

static void bi_free(struct sr_engine *e)
{
    for (size_t i = 0; i < e->bi_terms.n; i++)
        free(e->bi[i].v);
    free(e->bi);
    e->bi = NULL;
    e->bicap = 0;
    sr_tmap_free(&e->bi_terms);
    e->bi_total = 0;
}

/* Renumbers the buffer's terms, dropping those without postings: the
 * posting arrays move, nothing is copied.  Outside batches and while no
 * segment is being written (frz_terms holds term numbers). */
int sr_bi_rebuild(struct sr_engine *e)
{
    struct sr_tmap nt = {0};
    struct sr_bvec *nb = NULL;
    size_t nbcap = 0, live = 0;
    assert(e->bt == NULL && e->frz_hi == 0);
    for (size_t i = 0; i < e->bi_terms.n; i++)
        live += e->bi[i].n > 0;
    if (live > 0) {
        nbcap = live;
        nb = calloc(nbcap, sizeof *nb);
        if (nb == NULL)
            return GD_ENOMEM;
    }
    for (size_t i = 0; i < e->bi_terms.n; i++) {
        struct sr_bvec *v = &e->bi[i];
        if (v->n == 0)
            continue;
        size_t tl;
        const char *t = sr_tmap_term(&e->bi_terms, (uint32_t)i, &tl);
        uint32_t idx;
        if (sr_tmap_get(&nt, t, tl, e->bi_terms.ent[i].hash, &idx, NULL) !=
            0) {
            free(nb); /* the posting arrays still belong to e->bi */
            sr_tmap_free(&nt);
            return GD_ENOMEM;
        }
        assert(idx < nbcap);
        nb[idx] = (struct sr_bvec){v->v, v->n, v->cap, 0, 0};
    }
    for (size_t i = 0; i < e->bi_terms.n; i++)
        if (e->bi[i].n == 0)
            free(e->bi[i].v);
    free(e->bi);
    sr_tmap_free(&e->bi_terms);
    e->bi_terms = nt;
    e->bi = nb;
    e->bicap = nbcap;
    e->gc_pos = 0;
    return 0;
}

void sr_bi_gc(struct sr_engine *e, size_t budget)
{
    size_t nt = e->bi_terms.n, seen = 0, empty = 0;
    if (nt == 0 || e->bt != NULL)
        return;
    if (e->gc_pos >= nt)
        e->gc_pos = 0;
    while (seen < budget) {
        struct sr_bvec *v = &e->bi[e->gc_pos];
        uint32_t live = 0;
        for (uint32_t k = 0; k < v->n; k++) {
            const struct sr_dent *d = sr_doc_get(e, v->v[k].docno);
            if (d != NULL && d->seg == 0 && (uint32_t)d->seq == v->v[k].seq)
                v->v[live++] = v->v[k];
        }
        seen += v->n + 1;
        e->bi_total -= v->n - live;
        v->n = live;
        if (live == 0) {
            free(v->v);
            v->v = NULL;
            v->cap = 0;
        } else if (live < v->cap / 4) {
            struct sr_bpost *nv = realloc(v->v, (size_t)live * sizeof *nv);
            if (nv != NULL) {
                v->v = nv;
                v->cap = live;
            }
        }
        if (++e->gc_pos == nt) {
            /* a whole pass: renumber when most terms are empty */
            e->gc_pos = 0;
            for (size_t i = 0; i < nt; i++)
                empty += e->bi[i].n == 0;
            if (e->frz_hi == 0 && empty > nt / 2 && empty > 1024)
                (void)sr_bi_rebuild(e); /* on failure they just stay */
            return;
        }
    }
}

static int term_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    return c != 0 ? c : (an > bn) - (an < bn);
}

int sr_bi_terms_in(struct sr_engine *e, uint64_t lo, uint64_t hi,
                   uint32_t **out, size_t *n)
{
    size_t nt = e->bi_terms.n, m = 0;
    uint32_t *v = malloc((nt ? nt : 1) * sizeof *v);
    *out = NULL;
    *n = 0;
    if (v == NULL)
        return GD_ENOMEM;
    for (size_t i = 0; i < nt; i++) {
        const struct sr_bvec *b = &e->bi[i];
        for (uint32_t k = 0; k < b->n; k++) {
            const struct sr_dent *d = sr_doc_get(e, b->v[k].docno);
            if (d != NULL && (uint32_t)d->seq == b->v[k].seq && d->seq > lo &&
                d->seq <= hi) {
                v[m++] = (uint32_t)i;
                break;
            }
        }
    }
    if (sr_tmap_sort(&e->bi_terms, v, m) != 0) {
        free(v);
        return GD_ENOMEM;
    }
    *out = v;
    *n = m;
    return 0;
}

/* --------------------------------------------------------- posting cache */

static void lru_unlink(struct sr_engine *e, struct sr_centry *c)
{
    if (c->lprev != NULL)
        c->lprev->lnext = c->lnext;
    else
        e->lru_head = c->lnext;
    if (c->lnext != NULL)
        c->lnext->lprev = c->lprev;
    else
        e->lru_tail = c->lprev;
    c->lprev = c->lnext = NULL;
}

static void lru_push(struct sr_engine *e, struct sr_centry *c)
{
    c->lprev = NULL;
    c->lnext = e->lru_head;
    if (e->lru_head != NULL)
        e->lru_head->lprev = c;
    e->lru_head = c;
    if (e->lru_tail == NULL)
        e->lru_tail = c;
}

static void centry_free(struct sr_centry *c)
{
    free(c->lslot);
    free(c->lw);
    free(c->lm);
    free(c->term);
    free(c->docno);
    free(c->tf);
    free(c->ch);
    free(c);
}

static void cache_remove(struct sr_engine *e, struct sr_centry *c)
{
    struct sr_centry **pp = &e->ctab[c->hash & (e->ctabcap - 1)];
    while (*pp != c)
        pp = &(*pp)->hnext;
    *pp = c->hnext;
    lru_unlink(e, c);
    e->cache_bytes -= c->bytes;
    e->ncentries--;
    centry_free(c);
}

static struct sr_centry *cache_find(struct sr_engine *e, const char *t,
                                    size_t n, uint32_t h)
{
    if (e->ctabcap == 0)
        return NULL;
    for (struct sr_centry *c = e->ctab[h & (e->ctabcap - 1)]; c != NULL;
         c = c->hnext)
        if (c->hash == h && c->tlen == n && memcmp(c->term, t, n) == 0)
            return c;
    return NULL;
}

void sr_cache_drop(struct sr_engine *e, const char *t, size_t n, uint32_t h)
{
    struct sr_centry *c = cache_find(e, t, n, h);
    if (c != NULL && c->pin == 0)
        cache_remove(e, c);
}

void sr_cache_clear(struct sr_engine *e)
{
    while (e->lru_head != NULL)
        cache_remove(e, e->lru_head);
    free(e->ctab);
    e->ctab = NULL;
    e->ctabcap = 0;
}

void sr_cache_grow(struct sr_engine *e, struct sr_centry *c, size_t bytes)
{
    c->bytes += bytes;
    e->cache_bytes += bytes;
}

void sr_cache_unpin(struct sr_engine *e, struct sr_centry *c)
{
    if (c != NULL && c->pin > 0)
        c->pin--;
}

static void cache_evict(struct sr_engine *e)
{
    struct sr_centry *c = e->lru_tail;
    while (e->cache_bytes > e->cache_max && c != NULL) {
        struct sr_centry *prev = c->lprev;
        if (c->pin == 0)
            cache_remove(e, c);
        c = prev;
    }
}

static int cache_insert(struct sr_engine *e, struct sr_centry *c)
{
    if (e->ncentries + 1 > e->ctabcap) {
        size_t cap = e->ctabcap ? e->ctabcap * 2 : 1024;
        struct sr_centry **nt = calloc(cap, sizeof *nt);
        if (nt == NULL)
            return GD_ENOMEM;
        for (size_t i = 0; i < e->ctabcap; i++)
            for (struct sr_centry *x = e->ctab[i], *nx; x != NULL; x = nx) {
                nx = x->hnext;
                x->hnext = nt[x->hash & (cap - 1)];
                nt[x->hash & (cap - 1)] = x;
            }
        free(e->ctab);
        e->ctab = nt;
        e->ctabcap = cap;
    }
    c->hnext = e->ctab[c->hash & (e->ctabcap - 1)];
    e->ctab[c->hash & (e->ctabcap - 1)] = c;
    lru_push(e, c);
    e->ncentries++;
    e->cache_bytes += c->bytes;
    cache_evict(e);
    return 0;
}

/* Decodes one segment value, appending to c. */
static int post_decode(struct sr_centry *c, size_t *cap, uint32_t seg,
                       const unsigned char *v, size_t vn)
{
    struct sr_rbuf r = {v, v + vn};
    uint64_t cnt;
    if (sr_rbuf_varint(&r, &cnt) != 0 || cnt == 0 || cnt > vn / 2 ||
        cnt > UINT32_MAX - c->n)
        return -1;
    size_t need = c->n + (size_t)cnt;
    if (need > *cap) {
        size_t nc = *cap ? *cap : 16;
        while (nc < need)
            nc *= 2;
        uint32_t *nd = realloc(c->docno, nc * sizeof *nd);
        if (nd == NULL)
            return GD_ENOMEM;
        c->docno = nd;
        uint8_t(*ntf)[SR_F__COUNT] = realloc(c->tf, nc * sizeof *ntf);
        if (ntf == NULL)
            return GD_ENOMEM;
        c->tf = ntf;
        *cap = nc;
    }
    struct sr_chunk *nch = realloc(c->ch, (c->nch + 1) * sizeof *nch);
    if (nch == NULL)
        return GD_ENOMEM;
    c->ch = nch;
    c->ch[c->nch].seg = seg;
    c->ch[c->nch].start = c->n;
    c->nch++;
    uint64_t doc = 0;
    for (uint64_t k = 0; k < cnt; k++) {
        uint64_t dd;
        unsigned mask;
        if (sr_rbuf_varint(&r, &dd) != 0 || (k > 0 && dd == 0) ||
            sr_rbuf_u8(&r, &mask) != 0 || mask == 0 ||
            mask >= (1u << SR_F__COUNT))
            return -1;
        doc += dd;
        if (doc == 0 || doc > UINT32_MAX)
            return -1;
        uint8_t *tf = c->tf[c->n];
        for (int f = 0; f < SR_F__COUNT; f++) {
            tf[f] = 0;
            if (mask & (1u << f)) {
                uint64_t x;
                if (sr_rbuf_varint(&r, &x) != 0 || x == 0)
                    return -1;
                tf[f] = (uint8_t)(x > 255 ? 255 : x);
            }
        }
        c->docno[c->n++] = (uint32_t)doc;
    }
    return r.p == r.end ? 0 : -1;
}

int sr_cache_get(struct sr_engine *e, const char *t, size_t n,
                 struct sr_centry **out, struct gd_err *err)
{
    uint32_t h = sr_hash(t, n);
    struct sr_centry *c = cache_find(e, t, n, h);
    *out = NULL;
    if (c != NULL) {
        e->cache_hits++;
        lru_unlink(e, c);
        lru_push(e, c);
        c->pin++;
        *out = c;
        return 0;
    }
    e->cache_misses++;
    c = calloc(1, sizeof *c);
    unsigned char *prefix = malloc(n + 2);
    if (c == NULL || prefix == NULL) {
        free(c);
        free(prefix);
        return gd_err_set(err, GD_ENOMEM, "search: out of memory");
    }
    c->term = malloc(n + 1);
    if (c->term == NULL) {
        free(c);
        free(prefix);
        return gd_err_set(err, GD_ENOMEM, "search: out of memory");
    }
    memcpy(c->term, t, n);
    c->term[n] = '\0';
    c->tlen = (uint32_t)n;
    c->hash = h;
    c->df_gen = UINT64_MAX;
    prefix[0] = SR_KEY_POST;
    memcpy(prefix + 1, t, n);
    prefix[n + 1] = 0;
    size_t cap = 0;
    int rc = 0;
    uint32_t last_seg = 0;
    struct store_iter *it =
        store_iter_new(e->s, STORE_CF_SEARCH, prefix, n + 2, NULL, 0);
    for (; store_iter_valid(it); store_iter_next(it)) {
        size_t kl, vl;
        const unsigned char *k =
            (const unsigned char *)store_iter_key(it, &kl);
        const unsigned char *v =
            (const unsigned char *)store_iter_value(it, &vl);
        uint32_t seg = kl == n + 6 ? sr_be32_get(k + n + 2) : 0;
        if (seg == e->nseg + 1 && e->frz_hi != 0)
            continue; /* being written: visible once complete */
        if (seg == 0 || seg > e->nseg || seg <= last_seg) {
            rc = corrupt(err, "posting key", seg);
            break;
        }
        last_seg = seg;
        int d = post_decode(c, &cap, seg, v, vl);
        if (d != 0) {
            rc = d == GD_ENOMEM
                     ? gd_err_set(err, GD_ENOMEM, "search: out of memory")
                     : corrupt(err, "posting list", seg);
            break;
        }
    }
    if (rc == 0)
        rc = store_iter_error(it, err);
    store_iter_free(it);
    free(prefix);
    if (rc == 0) {
        c->bytes = sizeof *c + n + (size_t)c->n * (4 + SR_F__COUNT) +
                   (size_t)c->nch * sizeof *c->ch;
        c->pin = 1;
        rc = cache_insert(e, c);
        if (rc != 0)
            gd_err_set(err, rc, "search: out of memory");
    }
    if (rc != 0) {
        centry_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void sr_engine_set_flush_threshold(struct sr_engine *e, uint32_t n)
{
    e->flush_postings = n > 0 ? n : 1;
}

void sr_engine_set_flush_step(struct sr_engine *e, uint32_t base,
                              uint32_t per_term)
{
    e->step_base = base > 0 ? base : 1;
    e->step_per_term = per_term;
}

void sr_engine_set_cache_limit(struct sr_engine *e, size_t bytes)
{
    e->cache_max = bytes;
    cache_evict(e);
}

/* ----------------------------------------------------------------- load */

/* Reads M; *cur gets the last term written of the segment being written
 * (cur holds SR_TERM_MAX + 1 bytes). */
static int load_meta(struct sr_engine *e, char *cur, size_t *curlen,
                     struct gd_err *err)
{
    char *v = NULL;
    size_t vn = 0;
    unsigned char key = SR_KEY_META;
    int rc = store_get(e->s, STORE_CF_SEARCH, &key, 1, &v, &vn);
    e->next_seq = 0;
    e->nseg = 0;
    e->frz_hi = e->frz_keys = e->frz_posts = 0;
    *curlen = 0;
    e->stored_stamp[0] = '\0';
    if (rc == GD_ENOTFOUND)
        return 0;
    if (rc != 0)
        return gd_err_set(err, rc, "search: reading meta: %s",
                          gd_code_name(rc));
    struct sr_rbuf r = {(unsigned char *)v, (unsigned char *)v + vn};
    unsigned ver;
    uint32_t nseg;
    const char *t = NULL, *st = NULL;
    size_t tl = 0, sl = 0;
    if (sr_rbuf_u8(&r, &ver) != 0 ||
        (ver != SR_FORMAT && ver != SR_META_FORMAT) ||
        sr_rbuf_varint(&r, &e->next_seq) != 0 ||
        sr_rbuf_varint32(&r, &nseg) != 0 || nseg >= INT32_MAX ||
        (ver == SR_META_FORMAT &&
         (sr_rbuf_varint(&r, &e->frz_hi) != 0 ||
          sr_rbuf_str(&r, SR_TERM_MAX, &t, &tl) != 0 ||
          sr_rbuf_varint(&r, &e->frz_keys) != 0 ||
          sr_rbuf_varint(&r, &e->frz_posts) != 0 ||
          sr_rbuf_str(&r, SR_STAMP_MAX - 1, &st, &sl) != 0 ||
          memchr(st, 0, sl) != NULL || e->frz_hi > e->next_seq ||
          (e->frz_hi == 0 && tl > 0))) ||
        r.p != r.end) {
        free(v);
        return corrupt(err, "meta record", 0);
    }
    if (tl > 0)
        memcpy(cur, t, tl);
    *curlen = tl;
    if (sl > 0)
        memcpy(e->stored_stamp, st, sl);
    e->stored_stamp[sl] = '\0';
    free(v);
    e->nseg = nseg;
    if (nseg == 0)
        return 0;
    e->seg_hi = malloc((size_t)nseg * sizeof *e->seg_hi);
    if (e->seg_hi == NULL)
        return gd_err_set(err, GD_ENOMEM, "search: out of memory");
    e->seg_cap = nseg;
    uint32_t i = 0;
    rc = 0;
    struct store_iter *it =
        store_iter_new(e->s, STORE_CF_SEARCH, "S", 1, NULL, 0);
    for (; store_iter_valid(it); store_iter_next(it)) {
        size_t kl, vl;
        const unsigned char *k =
            (const unsigned char *)store_iter_key(it, &kl);
        const unsigned char *val =
            (const unsigned char *)store_iter_value(it, &vl);
        struct sr_rbuf sr = {val, val + vl};
        uint64_t hi;
        if (kl != 5 || i >= nseg || sr_be32_get(k + 1) != i + 1 ||
            sr_rbuf_varint(&sr, &hi) != 0 || hi > e->next_seq ||
            (i > 0 && hi <= e->seg_hi[i - 1])) {
            rc = corrupt(err, "segment record", i + 1);
            break;
        }
        e->seg_hi[i++] = hi;
    }
    if (rc == 0)
        rc = store_iter_error(it, err);
    store_iter_free(it);
    if (rc == 0 && i != nseg)
        rc = corrupt(err, "segment list", i);
    return rc;
}

static int load(struct sr_engine *e, struct gd_err *err)
{
    char cur[SR_TERM_MAX + 1];
    size_t curlen;
    int rc = load_meta(e, cur, &curlen, err);
    if (rc != 0)
        return rc;
    uint64_t flushed = e->nseg > 0 ? e->seg_hi[e->nseg - 1] : 0;
    if (e->frz_hi != 0 && e->frz_hi <= flushed)
        return corrupt(err, "meta record", 1);
    struct store_iter *it =
        store_iter_new(e->s, STORE_CF_SEARCH, "D", 1, NULL, 0);
    for (; store_iter_valid(it); store_iter_next(it)) {
        size_t kl, vl;
        const unsigned char *k =
            (const unsigned char *)store_iter_key(it, &kl);
        const unsigned char *v =
            (const unsigned char *)store_iter_value(it, &vl);
        uint32_t docno = kl == 5 ? sr_be32_get(k + 1) : 0;
        if (docno == 0) {
            rc = corrupt(err, "document key", 0);
            break;
        }
        struct sr_dent d;
        if ((rc = sr_dent_decode(v, vl, docno, &d, err)) != 0)
            break;
        if (d.seq == 0 || d.seq > e->next_seq) {
            free(d.strs);
            rc = corrupt(err, "document version", docno);
            break;
        }
        d.seg = sr_seg_of(e->seg_hi, e->nseg, d.seq);
        if ((rc = sr_doc_set(e, &d)) != 0) {
            free(d.strs);
            gd_err_set(err, rc, "search: out of memory");
            break;
        }
        if (d.seg == 0) {
            struct sr_fwd f;
            rc = sr_fwd_load(e, docno, &f, err);
            uint32_t flen[SR_F__COUNT];
            if (rc == 0 && (sr_doc_terms(e, f.text, f.len, flen) != 0 ||
                            sr_doc_terms_buffer(e, docno, d.seq) != 0))
                rc = gd_err_set(err, GD_ENOMEM, "search: out of memory");
            sr_fwd_free(&f);
            if (rc != 0)
                break;
            if (e->frz_hi != 0 && d.seq <= e->frz_hi)
                e->frz_postings += d.nterms;
            else
                e->buf_postings += d.nterms;
        }
    }
    if (rc == 0)
        rc = store_iter_error(it, err);
    store_iter_free(it);
    if (rc == 0 && e->frz_hi != 0) {
        /* the segment being written: its terms in order, resuming after
         * the last one written (see freeze in index.c) */
        if (sr_bi_terms_in(e, flushed, e->frz_hi, &e->frz_terms, &e->frz_n) !=
            0)
            return gd_err_set(err, GD_ENOMEM, "search: out of memory");
        size_t lo = 0, hi = e->frz_n;
        while (curlen > 0 && lo < hi) {
            size_t mid = (lo + hi) / 2, tl;
            const char *t =
                sr_tmap_term(&e->bi_terms, e->frz_terms[mid], &tl);
            if (term_cmp(t, tl, cur, curlen) <= 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        e->frz_pos = lo;
    }
    if (rc == 0) {
        if (e->stored_stamp[0] == '\0') {
            /* a new index, or one from before stamps: ours from now on */
            memcpy(e->stored_stamp, e->stamp, sizeof e->stamp);
        } else if (strcmp(e->stored_stamp, e->stamp) != 0) {
            e->stamp_mismatch = 1;
            log_warn("search index built by another analyser",
                     "index=\"%s\" ours=\"%s\" action=\"rebuild the "
                     "index\"",
                     e->stored_stamp, e->stamp);
        }
    }
    return rc;
}

static void state_free(struct sr_engine *e)
{
    docs_free(e);
    bi_free(e);
    sr_cache_clear(e);
    fcache_free(e);
    sr_tmap_free(&e->attrs);
    free(e->seg_hi);
    e->seg_hi = NULL;
    e->seg_cap = 0;
    e->nseg = 0;
    e->next_seq = 0;
    e->buf_postings = 0;
    e->frz_postings = 0;
    free(e->frz_terms);
    e->frz_terms = NULL;
    e->frz_hi = 0;
    e->frz_n = e->frz_pos = 0;
    e->frz_keys = e->frz_posts = 0;
    e->gc_pos = 0;
    e->stamp_mismatch = 0;
}

int sr_engine_open(struct store *s, struct sr_engine **out,
                   struct gd_err *err)
{
    *out = NULL;
    if (s == NULL)
        return gd_err_set(err, GD_EINVAL, "search: no store");
    struct sr_engine *e = calloc(1, sizeof *e);
    if (e == NULL)
        return gd_err_set(err, GD_ENOMEM, "search: out of memory");
    e->s = s;
    e->flush_postings = SR_FLUSH_POSTINGS_DEFAULT;
    e->step_base = SR_FLUSH_STEP_BASE;
    e->step_per_term = SR_FLUSH_STEP_PER_TERM;
    e->cache_max = SR_CACHE_BYTES_DEFAULT;
    int rc = sr_norm_open(e, err);
    if (rc == 0)
        rc = load(e, err);
    if (rc != 0) {
        sr_engine_close(e);
        return rc;
    }
    *out = e;
    return 0;
}

int sr_engine_reload(struct sr_engine *e, struct gd_err *err)
{
    sr_batch_discard(e);
    state_free(e);
    int rc = load(e, err);
    if (rc != 0)
        state_free(e); /* an empty engine rather than a half-loaded one */
    /* until a reload succeeds, writes fail and queries retry the reload */
    e->broken = rc != 0;
    return rc;
}

void sr_engine_close(struct sr_engine *e)
{
    if (e == NULL)
        return;
    sr_batch_discard(e);
    state_free(e);
    sr_norm_close(e);
    sr_analysis_free(&e->an);
    sr_analysis_free(&e->an2);
    sr_tmap_free(&e->dterms);
    free(e->dtf);
    sr_wbuf_free(&e->wb_doc);
    sr_wbuf_free(&e->wb_fwd);
    sr_wbuf_free(&e->wb_post);
    free(e->acc);
    free(e->mask);
    free(e->fmask);
    free(e->touched);
    free(e);
}

void sr_engine_stats(struct sr_engine *e, struct sr_stats *out)
{
    memset(out, 0, sizeof *out);
    if (e == NULL)
        return;
    out->docs = e->ndocs;
    out->queries = e->queries;
    out->cache_hits = e->cache_hits;
    out->cache_misses = e->cache_misses;
    out->cache_bytes = e->cache_bytes;
    out->segments = e->nseg;
    out->flushing = e->frz_hi != 0;
    out->buffered_postings = e->bi_total;
    out->analyser_mismatch = (uint64_t)e->stamp_mismatch;
}
