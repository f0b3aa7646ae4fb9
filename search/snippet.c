/* Highlighted snippets: the ~120 characters of one field that hold the most
 * query matches, HTML-escaped, matches wrapped in <em>…</em>.  The field is
 * analysed again (offsets point into the original text), so highlighting
 * covers exactly the original characters that produced a matching term,
 * whatever their script or width, and a cut never splits a UTF-8 sequence
 * because the window moves in whole code points. */
#include <stdlib.h>
#include <string.h>

#include "core/strbuf.h"
#include "core/util.h"
#include "search/internal.h"

#define SNIP_CHARS 120
#define SNIP_LEAD 12 /* characters of context before the first match */

struct span {
    uint32_t s, e;
};

static int span_cmp(const void *a, const void *b)
{
    const struct span *x = a, *y = b;
    if (x->s != y->s)
        return x->s < y->s ? -1 : 1;
    return (x->e > y->e) - (x->e < y->e);
}

static void put_escaped(struct strbuf *o, const char *s, size_t n)
{
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        const char *rep = NULL;
        switch (s[i]) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\n': case '\r': case '\t': rep = " "; break;
        default:
            if ((unsigned char)s[i] < 0x20)
                rep = " ";
            break;
        }
        if (rep == NULL)
            continue;
        strbuf_append(o, s + run, i - run);
        strbuf_puts(o, rep);
        run = i + 1;
    }
    strbuf_append(o, s + run, n - run);
}

/* Byte offset of every code point start, plus len at the end. */
static uint32_t *cp_offsets(const char *s, size_t len, size_t *n)
{
    size_t cnt = 0;
    for (size_t i = 0; i < len; i++)
        cnt += ((unsigned char)s[i] & 0xc0) != 0x80;
    uint32_t *v = malloc((cnt + 1) * sizeof *v);
    if (v == NULL)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] & 0xc0) != 0x80)
            v[k++] = (uint32_t)i;
    v[k] = (uint32_t)len;
    *n = k;
    return v;
}

/* Index of the code point starting at or after byte off. */
static size_t cp_index(const uint32_t *offs, size_t n, uint32_t off)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (offs[mid] < off)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int sr_snippet(struct sr_engine *e, const struct sr_fwd *f, int field,
               const struct sr_tmap *qterms, char **out)
{
    *out = NULL;
    const char *text = f->text[field];
    size_t len = f->len[field];
    if (!gd_utf8_valid(text, len))
        return GD_ECORRUPT;
    struct sr_analysis *a = &e->an2;
    sr_analysis_reset(a);
    a->no_words = 1; /* bigrams cover every character a word would */
    uint32_t pos = 0;
    if (sr_analyze_into(e, a, text, len, &pos) != 0)
        return GD_ENOMEM;
    struct span *sp = malloc((a->ntok ? a->ntok : 1) * sizeof *sp);
    size_t nsp = 0, ncp = 0;
    uint32_t *offs = cp_offsets(text, len, &ncp);
    if (sp == NULL || offs == NULL) {
        free(sp);
        free(offs);
        return GD_ENOMEM;
    }
    for (size_t i = 0; i < a->ntok; i++) {
        const struct sr_atok *t = &a->tok[i];
        const char *term = a->terms + t->toff;
        if (t->start < t->end &&
            sr_tmap_find(qterms, term, t->tlen, sr_hash(term, t->tlen)) >= 0)
            sp[nsp++] = (struct span){t->start, t->end};
    }
    qsort(sp, nsp, sizeof *sp, span_cmp);
    size_t m = 0; /* merge overlapping and touching spans */
    for (size_t i = 0; i < nsp; i++) {
        if (m > 0 && sp[i].s <= sp[m - 1].e) {
            if (sp[i].e > sp[m - 1].e)
                sp[m - 1].e = sp[i].e;
        } else {
            sp[m++] = sp[i];
        }
    }
    nsp = m;

    /* The window [w0, w1) in code points holding the most spans. */
    size_t w0 = 0, w1 = ncp;
    if (ncp > SNIP_CHARS) {
        size_t best = 0, best_cnt = 0, j = 0;
        for (size_t i = 0; i < nsp; i++) {
            size_t c0 = cp_index(offs, ncp, sp[i].s);
            size_t start = c0 > SNIP_LEAD ? c0 - SNIP_LEAD : 0;
            if (start + SNIP_CHARS > ncp)
                start = ncp - SNIP_CHARS;
            if (j < i)
                j = i;
            while (j < nsp && sp[j].e <= offs[start + SNIP_CHARS])
                j++;
            if (j - i > best_cnt) {
                best_cnt = j - i;
                best = start;
            }
        }
        w0 = best;
        w1 = w0 + SNIP_CHARS;
    }
    uint32_t b0 = offs[w0], b1 = offs[w1];
    struct strbuf o;
    strbuf_init(&o);
    if (w0 > 0)
        strbuf_puts(&o, "…");
    uint32_t at = b0;
    for (size_t i = 0; i < nsp; i++) {
        uint32_t s = sp[i].s < b0 ? b0 : sp[i].s;
        uint32_t en = sp[i].e > b1 ? b1 : sp[i].e;
        if (s >= en)
            continue;
        put_escaped(&o, text + at, s - at);
        strbuf_puts(&o, "<em>");
        put_escaped(&o, text + s, en - s);
        strbuf_puts(&o, "</em>");
        at = en;
    }
    put_escaped(&o, text + at, b1 - at);
    if (w1 < ncp)
        strbuf_puts(&o, "…");
    free(sp);
    free(offs);
    if (o.oom) {
        strbuf_free(&o);
        return GD_ENOMEM;
    }
    const char *c = strbuf_cstr(&o);
    *out = strdup(c);
    strbuf_free(&o);
    return *out != NULL ? 0 : GD_ENOMEM;
}
