/* Text analysis: turns UTF-8 into normalised terms with positions and byte
 * offsets into the original text.
 *
 * Normalisation works per code point (ASCII and CJK ideographs, the bulk of
 * the text, by table) or per short cluster (a code point and its combining
 * marks, through ICU's NFKC_Casefold), so every normalised code point knows
 * the original bytes it came from.  Traditional characters are folded to
 * Simplified with a table built once per engine from OpenCC's t2s
 * conversion of every CJK code point (character level: the same fold at
 * index and query time, so 繁體 and 简体 meet).  ICU's dictionary word break
 * iterator then segments the folded text; CJK runs give unigrams, bigrams
 * and dictionary words, everything else alphanumeric gives one token per
 * word or number (digits joined across '.', as in 3.5). */
#include <opencc/opencc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/ubrk.h>
#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/uscript.h>
#include <unicode/utf16.h>
#include <unicode/uversion.h>

#include "core/util.h"
#include "search/internal.h"

#define T2S_LO 0x3400u
#define T2S_HI 0xFB00u /* exclusive */

enum { CL_OTHER = 0, CL_SPACE, CL_CJK, CL_ALNUM };

/* ------------------------------------------------------------ open/close */

static size_t utf8_put(char *o, uint32_t c)
{
    if (c < 0x80) {
        o[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        o[0] = (char)(0xc0 | c >> 6);
        o[1] = (char)(0x80 | (c & 0x3f));
        return 2;
    }
    if (c < 0x10000) {
        o[0] = (char)(0xe0 | c >> 12);
        o[1] = (char)(0x80 | ((c >> 6) & 0x3f));
        o[2] = (char)(0x80 | (c & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | c >> 18);
    o[1] = (char)(0x80 | ((c >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((c >> 6) & 0x3f));
    o[3] = (char)(0x80 | (c & 0x3f));
    return 4;
}

/* Decodes one code point of valid UTF-8 at s[*i] (advancing *i); any
 * malformed byte gives U+FFFD so that even unchecked input is safe. */
static uint32_t utf8_next(const unsigned char *s, size_t len, size_t *i)
{
    unsigned c = s[*i];
    size_t n = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
    if (c >= 0x80 && (c < 0xc2 || c > 0xf4)) {
        (*i)++;
        return 0xfffd;
    }
    if (*i + n > len) {
        *i = len;
        return 0xfffd;
    }
    uint32_t v = n == 1 ? c : n == 2 ? c & 0x1f : n == 3 ? c & 0x0f : c & 0x07;
    for (size_t k = 1; k < n; k++) {
        unsigned d = s[*i + k];
        if ((d & 0xc0) != 0x80) {
            *i += k;
            return 0xfffd;
        }
        v = v << 6 | (d & 0x3f);
    }
    *i += n;
    return v;
}

static int pair_cmp(const void *a, const void *b)
{
    uint32_t x = ((const uint32_t *)a)[0], y = ((const uint32_t *)b)[0];
    return x < y ? -1 : x > y;
}

/* The Traditional->Simplified table: every code point of the CJK blocks,
 * one per line, through OpenCC's t2s in one call; lines that come back as a
 * different single code point are the fold. */
static int t2s_build(struct sr_engine *e, struct gd_err *err)
{
    static const uint32_t ranges[][2] = {
        {0x3400, 0x4dbf}, {0x4e00, 0x9fff}, {0xf900, 0xfaff}, {0x20000, 0x2a6df}};
    size_t cap = 0;
    for (size_t r = 0; r < 4; r++)
        cap += (ranges[r][1] - ranges[r][0] + 1) * 5;
    char *in = malloc(cap + 1);
    e->t2s = calloc(T2S_HI - T2S_LO, sizeof *e->t2s);
    if (in == NULL || e->t2s == NULL) {
        free(in);
        return gd_err_set(err, GD_ENOMEM, "search: out of memory");
    }
    size_t n = 0;
    for (size_t r = 0; r < 4; r++)
        for (uint32_t c = ranges[r][0]; c <= ranges[r][1]; c++) {
            n += utf8_put(in + n, c);
            in[n++] = '\n';
        }
    opencc_t cc = opencc_open(OPENCC_DEFAULT_CONFIG_TRAD_TO_SIMP);
    if (cc == (opencc_t)-1)
        cc = opencc_open("/usr/share/opencc/t2s.json");
    if (cc == (opencc_t)-1) {
        free(in);
        return gd_err_set(err, GD_EIO, "search: opencc t2s.json: %s",
                          opencc_error());
    }
    char *out = opencc_convert_utf8(cc, in, n);
    opencc_close(cc);
    if (out == NULL) {
        free(in);
        return gd_err_set(err, GD_EIO, "search: opencc convert: %s",
                          opencc_error());
    }
    size_t olen = strlen(out);
    size_t ip = 0, op = 0, nsup = 0, supcap = 0;
    int rc = 0;
    while (ip < n && op < olen) {
        size_t i2 = ip;
        uint32_t from = utf8_next((const unsigned char *)in, n, &i2);
        size_t ie = i2 + 1; /* past '\n' */
        size_t oe = op;
        while (oe < olen && out[oe] != '\n')
            oe++;
        size_t o2 = op;
        uint32_t to = utf8_next((const unsigned char *)out, oe, &o2);
        if (o2 == oe && oe > op && to != from) {
            if (from >= T2S_LO && from < T2S_HI) {
                e->t2s[from - T2S_LO] = to;
            } else {
                if (nsup == supcap) {
                    size_t c = supcap ? supcap * 2 : 64;
                    uint32_t(*p)[2] = realloc(e->t2s_sup, c * sizeof *p);
                    if (p == NULL) {
                        rc = gd_err_set(err, GD_ENOMEM, "search: out of memory");
                        break;
                    }
                    e->t2s_sup = p;
                    supcap = c;
                }
                e->t2s_sup[nsup][0] = from;
                e->t2s_sup[nsup][1] = to;
                nsup++;
            }
        }
        ip = ie;
        op = oe + 1;
    }
    e->nt2s_sup = nsup;
    if (nsup > 1)
        qsort(e->t2s_sup, nsup, sizeof *e->t2s_sup, pair_cmp);
    opencc_convert_utf8_free(out);
    free(in);
    return rc;
}

int sr_norm_open(struct sr_engine *e, struct gd_err *err)
{
    UErrorCode st = U_ZERO_ERROR;
    e->nfkc = unorm2_getNFKCCasefoldInstance(&st);
    if (U_FAILURE(st))
        return gd_err_set(err, GD_EIO, "search: ICU NFKC_Casefold: %s",
                          u_errorName(st));
    st = U_ZERO_ERROR;
    e->brk = ubrk_open(UBRK_WORD, "zh", NULL, 0, &st);
    if (U_FAILURE(st)) {
        e->brk = NULL;
        return gd_err_set(err, GD_EIO, "search: ICU word break: %s",
                          u_errorName(st));
    }
    int rc = t2s_build(e, err);
    if (rc != 0)
        return rc;
    /* The analyser's identity: ICU's version (word dictionary, NFKC data)
     * and a fingerprint of the OpenCC fold as built (OpenCC has no version
     * call, and the table is exactly what analysis uses). */
    uint64_t h = 0;
    unsigned char b[4];
    for (uint32_t c = 0; c < T2S_HI - T2S_LO; c++)
        if (e->t2s[c] != 0) {
            sr_be32_put(b, c + T2S_LO);
            h = sr_hash64(h, b, 4);
            sr_be32_put(b, e->t2s[c]);
            h = sr_hash64(h, b, 4);
        }
    for (size_t i = 0; i < e->nt2s_sup; i++) {
        sr_be32_put(b, e->t2s_sup[i][0]);
        h = sr_hash64(h, b, 4);
        sr_be32_put(b, e->t2s_sup[i][1]);
        h = sr_hash64(h, b, 4);
    }
    UVersionInfo iv, uv;
    char is[U_MAX_VERSION_STRING_LENGTH], us[U_MAX_VERSION_STRING_LENGTH];
    u_getVersion(iv);
    u_getUnicodeVersion(uv);
    u_versionToString(iv, is);
    u_versionToString(uv, us);
    snprintf(e->stamp, sizeof e->stamp, "a%d icu%s u%s t2s%016llx",
             SR_ANALYSER_VERSION, is, us, (unsigned long long)h);
    return 0;
}

void sr_norm_close(struct sr_engine *e)
{
    if (e->brk != NULL)
        ubrk_close(e->brk);
    e->brk = NULL;
    if (e->wmemo != NULL)
        for (size_t i = 0; i < SR_WMEMO_SLOTS; i++)
            free(e->wmemo[i].v);
    free(e->wmemo);
    e->wmemo = NULL;
    free(e->t2s);
    e->t2s = NULL;
    free(e->t2s_sup);
    e->t2s_sup = NULL;
}

static uint32_t t2s(const struct sr_engine *e, uint32_t c)
{
    if (c >= T2S_LO && c < T2S_HI) {
        uint32_t t = e->t2s[c - T2S_LO];
        return t != 0 ? t : c;
    }
    if (c >= 0x20000 && e->nt2s_sup > 0) {
        size_t lo = 0, hi = e->nt2s_sup;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (e->t2s_sup[mid][0] < c)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < e->nt2s_sup && e->t2s_sup[lo][0] == c)
            return e->t2s_sup[lo][1];
    }
    return c;
}

/* ---------------------------------------------------------- scratch */

void sr_analysis_free(struct sr_analysis *a)
{
    free(a->tok);
    free(a->terms);
    free(a->cp);
    free(a->cs);
    free(a->ce);
    free(a->cls);
    free(a->u16);
    free(a->u2c);
    free(a->words);
    free(a->runs);
    memset(a, 0, sizeof *a);
}

void sr_analysis_reset(struct sr_analysis *a)
{
    a->ntok = 0;
    a->tlen = 0;
    a->nrun = 0;
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

static int cp_reserve(struct sr_analysis *a, size_t need)
{
    if (need <= a->cpcap)
        return 0;
    size_t c = a->cpcap ? a->cpcap : 256;
    while (c < need)
        c *= 2;
    uint32_t *cp = realloc(a->cp, c * sizeof *cp);
    if (cp == NULL)
        return GD_ENOMEM;
    a->cp = cp;
    uint32_t *cs = realloc(a->cs, c * sizeof *cs);
    if (cs == NULL)
        return GD_ENOMEM;
    a->cs = cs;
    uint32_t *ce = realloc(a->ce, c * sizeof *ce);
    if (ce == NULL)
        return GD_ENOMEM;
    a->ce = ce;
    uint8_t *cl = realloc(a->cls, c);
    if (cl == NULL)
        return GD_ENOMEM;
    a->cls = cl;
    a->cpcap = c;
    return 0;
}

static int classify(uint32_t c)
{
    if (c < 0x80) {
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            (c >= 'A' && c <= 'Z'))
            return CL_ALNUM;
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' ? CL_SPACE
                                                                : CL_OTHER;
    }
    if ((c >= 0x4e00 && c <= 0x9fff) || (c >= 0x3400 && c <= 0x4dbf))
        return CL_CJK;
    if ((c >= 0x3040 && c <= 0x30ff) || c == 0x3005 || c == 0x3007 ||
        (c >= 0xf900 && c <= 0xfaff) || (c >= 0x20000 && c <= 0x3134f))
        return CL_CJK;
    if (u_hasBinaryProperty((UChar32)c, UCHAR_IDEOGRAPHIC))
        return CL_CJK;
    uint32_t gc = U_GET_GC_MASK((UChar32)c);
    if (gc & (U_GC_L_MASK | U_GC_N_MASK | U_GC_M_MASK))
        return CL_ALNUM;
    if (gc & U_GC_Z_MASK)
        return CL_SPACE;
    return CL_OTHER;
}

static int emit_cp(struct sr_analysis *a, uint32_t c, uint32_t s, uint32_t en)
{
    if (cp_reserve(a, a->ncp + 1) != 0)
        return GD_ENOMEM;
    a->cp[a->ncp] = c;
    a->cs[a->ncp] = s;
    a->ce[a->ncp] = en;
    a->cls[a->ncp] = (uint8_t)classify(c);
    a->ncp++;
    return 0;
}

/* Normalises text into a->cp/cs/ce/cls. */
static int normalise(struct sr_engine *e, struct sr_analysis *a,
                     const unsigned char *s, size_t len)
{
    const UNormalizer2 *nf = e->nfkc;
    a->ncp = 0;
    size_t i = 0;
    while (i < len) {
        size_t st = i;
        uint32_t c;
        if (s[i] < 0x80) {
            c = s[i++];
            if (c >= 'A' && c <= 'Z')
                c += 32;
            if (c == 0)
                c = ' ';
            if (emit_cp(a, c, (uint32_t)st, (uint32_t)i) != 0)
                return GD_ENOMEM;
            continue;
        }
        c = utf8_next(s, len, &i);
        if ((c >= 0x4e00 && c <= 0x9fff) || (c >= 0x3400 && c <= 0x4dbf)) {
            if (emit_cp(a, t2s(e, c), (uint32_t)st, (uint32_t)i) != 0)
                return GD_ENOMEM;
            continue;
        }
        /* A cluster: c and what follows without a normalisation boundary
         * (combining marks), at most 16 code points. */
        UChar src[40], dst[80];
        int32_t ns = 0;
        U16_APPEND_UNSAFE(src, ns, (UChar32)c);
        size_t j = i;
        int k = 1;
        while (j < len && k < 16) {
            size_t j2 = j;
            uint32_t d = utf8_next(s, len, &j2);
            if (unorm2_hasBoundaryBefore(nf, (UChar32)d))
                break;
            U16_APPEND_UNSAFE(src, ns, (UChar32)d);
            j = j2;
            k++;
        }
        i = j;
        UErrorCode err = U_ZERO_ERROR;
        int32_t nd = unorm2_normalize(nf, src, ns, dst, 80, &err);
        const UChar *o = dst;
        if (U_FAILURE(err) || nd > 80) { /* keep the cluster as it is */
            o = src;
            nd = ns;
        }
        for (int32_t p = 0; p < nd;) {
            UChar32 d;
            U16_NEXT(o, p, nd, d);
            if (d < 0 || (d >= 0xd800 && d <= 0xdfff))
                d = 0xfffd;
            if (d == 0)
                d = ' ';
            if (emit_cp(a, t2s(e, (uint32_t)d), (uint32_t)st, (uint32_t)i) != 0)
                return GD_ENOMEM;
        }
    }
    return 0;
}

/* ------------------------------------------------------------ tokens */

static int add_tok(struct sr_analysis *a, int kind, size_t c0, size_t c1,
                   uint32_t pos, uint32_t run)
{
    if (grow((void **)&a->tok, &a->tokcap, a->ntok + 1, sizeof *a->tok) != 0)
        return GD_ENOMEM;
    size_t need = (c1 - c0) * 4;
    if (grow((void **)&a->terms, &a->tcap, a->tlen + need + 1, 1) != 0)
        return GD_ENOMEM;
    size_t off = a->tlen;
    for (size_t k = c0; k < c1; k++) {
        size_t w = utf8_put(a->terms + a->tlen, a->cp[k]);
        if (a->tlen + w - off > SR_TERM_MAX)
            break;
        a->tlen += w;
    }
    struct sr_atok *t = &a->tok[a->ntok++];
    t->toff = (uint32_t)off;
    t->tlen = (uint32_t)(a->tlen - off);
    t->pos = pos;
    t->start = a->cs[c0];
    t->end = a->ce[c1 - 1];
    t->run = run;
    t->nch = (uint16_t)(c1 - c0 > 0xffff ? 0xffff : c1 - c0);
    t->kind = (uint8_t)kind;
    return 0;
}

struct wlist {
    struct sr_aword *v;
    size_t n, cap;
};

static int wl_add(struct wlist *w, uint32_t c0, uint32_t c1)
{
    if (grow((void **)&w->v, &w->cap, w->n + 1, sizeof *w->v) != 0)
        return GD_ENOMEM;
    w->v[w->n].c0 = c0;
    w->v[w->n].c1 = c1;
    w->n++;
    return 0;
}

/* ICU dictionary segmentation of one CJK run, cp[r0..r1), appending the
 * words to w.  A run is segmented on its own (runs end at non-CJK
 * characters, where ICU's dictionary ranges end too), so the result
 * depends only on the run's text and is remembered in a small
 * direct-mapped memo: knowledge-base text repeats its phrases a lot, and
 * the dictionary walk is most of the cost of analysis. */
static int run_words(struct sr_engine *e, struct sr_analysis *a, size_t r0,
                     size_t r1, uint32_t h, struct wlist *w)
{
    size_t n = r1 - r0;
    struct sr_wmemo *m = NULL;
    if (n <= SR_WMEMO_RUN_MAX) {
        if (e->wmemo != NULL) {
            m = &e->wmemo[h & (SR_WMEMO_SLOTS - 1)];
            if (m->v != NULL && m->hash == h && m->ncp == n &&
                memcmp(m->v, a->cp + r0, n * sizeof *a->cp) == 0) {
                const uint32_t *b = m->v + n; /* word boundaries */
                for (uint16_t k = 0; k < m->nw; k++)
                    if (wl_add(w, (uint32_t)r0 + (b[k] >> 16),
                               (uint32_t)r0 + (b[k] & 0xffff)) != 0)
                        return GD_ENOMEM;
                return 0;
            }
        }
    }
    if (grow((void **)&a->u16, &a->u16cap, n * 2 + 1, sizeof *a->u16) != 0 ||
        grow((void **)&a->u2c, &a->u2ccap, n * 2 + 1, sizeof *a->u2c) != 0)
        return GD_ENOMEM;
    size_t u = 0;
    for (size_t k = r0; k < r1; k++) {
        uint32_t c = a->cp[k];
        if (c > 0xffff) {
            a->u16[u] = (uint16_t)U16_LEAD(c);
            a->u2c[u++] = (uint32_t)(k - r0);
            a->u16[u] = (uint16_t)U16_TRAIL(c);
        } else {
            a->u16[u] = (uint16_t)c;
        }
        a->u2c[u++] = (uint32_t)(k - r0);
    }
    a->u2c[u] = (uint32_t)n;
    size_t first = w->n;
    UErrorCode st = U_ZERO_ERROR;
    ubrk_setText(e->brk, a->u16, (int32_t)u, &st);
    if (U_FAILURE(st))
        return 0; /* no words: unigrams and bigrams still index the run */
    int32_t prev = ubrk_first(e->brk);
    for (int32_t b = ubrk_next(e->brk); b != UBRK_DONE;
         prev = b, b = ubrk_next(e->brk)) {
        int32_t rs = ubrk_getRuleStatus(e->brk);
        if (rs < UBRK_WORD_KANA || rs >= UBRK_WORD_IDEO_LIMIT)
            continue;
        uint32_t c0 = a->u2c[prev], c1 = a->u2c[b];
        if (c1 > c0 && wl_add(w, (uint32_t)r0 + c0, (uint32_t)r0 + c1) != 0)
            return GD_ENOMEM;
    }
    if (m != NULL) {
        size_t nw = w->n - first;
        /* the slot's old array is reused when it is large enough */
        uint32_t *v = m->v;
        if (v == NULL || (size_t)m->ncp + m->nw < n + nw) {
            v = realloc(m->v, (n + nw) * sizeof *v);
            if (v == NULL) { /* a memo that cannot be kept is just dropped */
                free(m->v);
                m->v = NULL;
                return 0;
            }
        }
        {
            memcpy(v, a->cp + r0, n * sizeof *v);
            for (size_t k = 0; k < nw; k++)
                v[n + k] = (w->v[first + k].c0 - (uint32_t)r0) << 16 |
                           (w->v[first + k].c1 - (uint32_t)r0);
            m->v = v;
            m->hash = h;
            m->ncp = (uint16_t)n;
            m->nw = (uint16_t)nw;
        }
    }
    return 0;
}

/* The memo's key: a hash of a run's code points (memory only; never
 * stored), a word at a time. */
static uint32_t run_hash(const uint32_t *cp, size_t n)
{
    uint32_t h = 0x9e3779b9u ^ (uint32_t)n;
    for (size_t k = 0; k < n; k++)
        h = ((h << 5 | h >> 27) ^ cp[k]) * 0x9e3779b1u;
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    return h;
}

/* The dictionary words of every CJK run of two or more characters, into
 * a->words.  The runs are found first and their memo slots fetched ahead
 * (the memo is far larger than the caches), then segmented in order. */
static int cjk_words(struct sr_engine *e, struct sr_analysis *a,
                     struct sr_aword **out, size_t *nout)
{
    struct wlist w = {a->words, 0, a->wcap};
    size_t nr = 0;
    *out = NULL;
    *nout = 0;
    if (e->wmemo == NULL) /* without a memo every run goes to ICU */
        e->wmemo = calloc(SR_WMEMO_SLOTS, sizeof *e->wmemo);
    for (size_t k = 0; k < a->ncp;) {
        if (a->cls[k] != CL_CJK) {
            k++;
            continue;
        }
        size_t r1 = k;
        while (r1 < a->ncp && a->cls[r1] == CL_CJK)
            r1++;
        if (r1 - k >= 2 && r1 - k < 0x8000) {
            if (grow((void **)&a->runs, &a->runcap, nr + 1, sizeof *a->runs) !=
                0)
                return GD_ENOMEM;
            struct sr_arun *r = &a->runs[nr++];
            r->r0 = (uint32_t)k;
            r->r1 = (uint32_t)r1;
            r->hash = run_hash(a->cp + k, r1 - k);
            if (e->wmemo != NULL && r1 - k <= SR_WMEMO_RUN_MAX)
                __builtin_prefetch(&e->wmemo[r->hash & (SR_WMEMO_SLOTS - 1)]);
        }
        k = r1;
    }
    if (e->wmemo != NULL)
        for (size_t i = 0; i < nr; i++) {
            const struct sr_wmemo *m =
                &e->wmemo[a->runs[i].hash & (SR_WMEMO_SLOTS - 1)];
            if (m->v != NULL && m->hash == a->runs[i].hash)
                __builtin_prefetch(m->v);
        }
    int rc = 0;
    for (size_t i = 0; i < nr && rc == 0; i++)
        rc = run_words(e, a, a->runs[i].r0, a->runs[i].r1, a->runs[i].hash, &w);
    a->words = w.v; /* kept for the next text */
    a->wcap = w.cap;
    if (rc != 0)
        return rc;
    *out = w.v;
    *nout = w.n;
    return 0;
}

static int is_digit_cp(uint32_t c)
{
    return c >= '0' && c <= '9';
}

int sr_analyze_into(struct sr_engine *e, struct sr_analysis *a,
                    const char *text, size_t len, uint32_t *pos)
{
    if (len == 0)
        return 0;
    int rc = normalise(e, a, (const unsigned char *)text, len);
    if (rc != 0)
        return rc;
    struct sr_aword *w = NULL; /* a->words */
    size_t nw = 0, wi = 0;
    int has_run = 0;
    for (size_t k = 0; k + 1 < a->ncp && !has_run; k++)
        has_run = a->cls[k] == CL_CJK && a->cls[k + 1] == CL_CJK;
    if (has_run && !a->no_words && (rc = cjk_words(e, a, &w, &nw)) != 0)
        return rc;
    uint32_t p = *pos;
    size_t k = 0;
    while (k < a->ncp && rc == 0) {
        int cl = a->cls[k];
        if (cl == CL_CJK) {
            size_t r0 = k, r1 = k;
            while (r1 < a->ncp && a->cls[r1] == CL_CJK)
                r1++;
            uint32_t run = a->nrun++;
            for (size_t i = r0; i < r1 && rc == 0; i++) {
                uint32_t ip = p + (uint32_t)(i - r0);
                rc = add_tok(a, SR_TK_UNI, i, i + 1, ip, run);
                if (rc == 0 && i + 1 < r1)
                    rc = add_tok(a, SR_TK_BI, i, i + 2, ip, run);
                while (rc == 0 && wi < nw && w[wi].c0 <= i) {
                    if (w[wi].c0 == i && w[wi].c1 <= r1)
                        rc = add_tok(a, SR_TK_WORD, i, w[wi].c1, ip, run);
                    wi++;
                }
            }
            p += (uint32_t)(r1 - r0);
            k = r1;
        } else if (cl == CL_ALNUM) {
            size_t t1 = k;
            while (t1 < a->ncp) {
                if (a->cls[t1] == CL_ALNUM) {
                    t1++;
                } else if ((a->cp[t1] == '.' || a->cp[t1] == ',') &&
                           t1 > k && is_digit_cp(a->cp[t1 - 1]) &&
                           t1 + 1 < a->ncp && is_digit_cp(a->cp[t1 + 1])) {
                    t1++;
                } else {
                    break;
                }
            }
            rc = add_tok(a, SR_TK_LATIN, k, t1, p, UINT32_MAX);
            /* model numbers: dtzy341 is also found as dtzy and as 341 */
            size_t nparts = 0;
            for (size_t q = k; q < t1; q++)
                nparts += a->cls[q] == CL_ALNUM &&
                          (q == k || a->cls[q - 1] != CL_ALNUM ||
                           is_digit_cp(a->cp[q]) != is_digit_cp(a->cp[q - 1]));
            for (size_t q = k; q < t1 && nparts > 1 && rc == 0;) {
                if (a->cls[q] != CL_ALNUM) {
                    q++;
                    continue;
                }
                size_t q1 = q + 1;
                while (q1 < t1 && a->cls[q1] == CL_ALNUM &&
                       is_digit_cp(a->cp[q1]) == is_digit_cp(a->cp[q]))
                    q1++;
                rc = add_tok(a, SR_TK_SUB, q, q1, p, UINT32_MAX);
                q = q1;
            }
            p++;
            k = t1;
        } else {
            /* punctuation keeps phrases apart, spaces do not */
            size_t t1 = k;
            int punct = 0;
            while (t1 < a->ncp && a->cls[t1] != CL_CJK &&
                   a->cls[t1] != CL_ALNUM) {
                punct |= a->cls[t1] == CL_OTHER;
                t1++;
            }
            if (punct && k > 0)
                p++;
            k = t1;
        }
    }
    *pos = p;
    return rc;
}

/* ------------------------------------------------------------ public */

void sr_tokens_free(struct sr_tokens *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->n; i++)
        free(t->v[i].term);
    free(t->v);
    t->v = NULL;
    t->n = 0;
}

int sr_analyze(struct sr_engine *e, const char *text, size_t len,
               struct sr_tokens *out, struct gd_err *err)
{
    out->v = NULL;
    out->n = 0;
    if (e == NULL || (text == NULL && len > 0))
        return gd_err_set(err, GD_EINVAL, "search: no engine or text");
    if (len > SR_TEXT_MAX)
        return gd_err_set(err, GD_EINVAL, "search: text over %u bytes",
                          SR_TEXT_MAX);
    if (!gd_utf8_valid(text, len))
        return gd_err_set(err, GD_EINVAL, "search: text is not UTF-8");
    struct sr_analysis *a = &e->an2;
    sr_analysis_reset(a);
    a->no_words = 0;
    uint32_t pos = 0;
    if (sr_analyze_into(e, a, text, len, &pos) != 0)
        return gd_err_set(err, GD_ENOMEM, "search: out of memory");
    size_t n = 0;
    for (size_t i = 0; i < a->ntok; i++)
        n += a->tok[i].kind != SR_TK_WORD || a->tok[i].nch >= 3;
    if (n == 0)
        return 0;
    out->v = calloc(n, sizeof *out->v);
    if (out->v == NULL)
        return gd_err_set(err, GD_ENOMEM, "search: out of memory");
    for (size_t i = 0; i < a->ntok; i++) {
        const struct sr_atok *t = &a->tok[i];
        if (t->kind == SR_TK_WORD && t->nch < 3)
            continue;
        struct sr_token *o = &out->v[out->n];
        o->term = malloc(t->tlen + 1);
        if (o->term == NULL) {
            sr_tokens_free(out);
            return gd_err_set(err, GD_ENOMEM, "search: out of memory");
        }
        memcpy(o->term, a->terms + t->toff, t->tlen);
        o->term[t->tlen] = '\0';
        o->pos = t->pos;
        o->start = t->start;
        o->end = t->end;
        out->n++;
    }
    return 0;
}
