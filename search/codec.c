/* The small building blocks of search/: an output buffer with varints, a
 * bounds-checked reader for stored bytes, FNV hashing and the term map (an
 * open-addressing hash from term bytes to a dense index) used by analysis,
 * the buffer index and queries. */
#include <stdlib.h>
#include <string.h>

#include "search/internal.h"

/* ------------------------------------------------------------ writing */

void sr_wbuf_free(struct sr_wbuf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
    b->oom = 0;
}

static int wbuf_grow(struct sr_wbuf *b, size_t n)
{
    if (b->oom)
        return -1;
    if (n <= b->cap - b->len)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap - b->len < n) {
        if (cap > SIZE_MAX / 2) {
            b->oom = 1;
            return -1;
        }
        cap *= 2;
    }
    unsigned char *p = realloc(b->p, cap);
    if (p == NULL) {
        b->oom = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

void sr_wbuf_put(struct sr_wbuf *b, const void *src, size_t n)
{
    if (n == 0 || wbuf_grow(b, n) != 0)
        return;
    memcpy(b->p + b->len, src, n);
    b->len += n;
}

void sr_wbuf_u8_slow(struct sr_wbuf *b, unsigned v)
{
    if (wbuf_grow(b, 1) != 0)
        return;
    b->p[b->len++] = (unsigned char)v;
}

void sr_wbuf_varint_slow(struct sr_wbuf *b, uint64_t v)
{
    if (wbuf_grow(b, 10) != 0)
        return;
    while (v >= 0x80) {
        b->p[b->len++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    b->p[b->len++] = (unsigned char)v;
}

void sr_wbuf_be32(struct sr_wbuf *b, uint32_t v)
{
    if (wbuf_grow(b, 4) != 0)
        return;
    sr_be32_put(b->p + b->len, v);
    b->len += 4;
}

void sr_wbuf_str(struct sr_wbuf *b, const char *s, size_t n)
{
    sr_wbuf_varint(b, n);
    sr_wbuf_put(b, s, n);
}

/* ------------------------------------------------------------ reading */

int sr_rbuf_u8(struct sr_rbuf *r, unsigned *v)
{
    if (r->p >= r->end)
        return -1;
    *v = *r->p++;
    return 0;
}

int sr_rbuf_varint(struct sr_rbuf *r, uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end)
            return -1;
        unsigned c = *r->p++;
        if (shift == 63 && c > 1)
            return -1;
        x |= (uint64_t)(c & 0x7f) << shift;
        if (c < 0x80) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

int sr_rbuf_varint32(struct sr_rbuf *r, uint32_t *v)
{
    uint64_t x;
    if (sr_rbuf_varint(r, &x) != 0 || x > UINT32_MAX)
        return -1;
    *v = (uint32_t)x;
    return 0;
}

int sr_rbuf_bytes(struct sr_rbuf *r, size_t n, const unsigned char **out)
{
    if ((size_t)(r->end - r->p) < n)
        return -1;
    *out = r->p;
    r->p += n;
    return 0;
}

int sr_rbuf_str(struct sr_rbuf *r, size_t max, const char **s, size_t *n)
{
    uint64_t len;
    const unsigned char *p;
    if (sr_rbuf_varint(r, &len) != 0 || len > max ||
        sr_rbuf_bytes(r, (size_t)len, &p) != 0)
        return -1;
    *s = (const char *)p;
    *n = (size_t)len;
    return 0;
}

/* ------------------------------------------------------------ hashing */

uint64_t sr_hash64(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    if (h == 0)
        h = 14695981039346656037ull;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* ------------------------------------------------------------ term map */

void sr_tmap_free(struct sr_tmap *m)
{
    free(m->slot);
    free(m->ent);
    free(m->arena);
    memset(m, 0, sizeof *m);
}

void sr_tmap_clear(struct sr_tmap *m)
{
    if (m->slot != NULL && m->n > 0)
        memset(m->slot, 0, m->cap * sizeof *m->slot);
    m->n = 0;
    m->alen = 0;
}

long sr_tmap_find(const struct sr_tmap *m, const char *t, size_t n, uint32_t h)
{
    if (m->cap == 0)
        return -1;
    size_t mask = m->cap - 1;
    uint64_t pre = sr_tmap_pre(t, n);
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        uint32_t s = m->slot[i];
        if (s == 0)
            return -1;
        const struct sr_tment *en = &m->ent[s - 1];
        if (en->hash == h && en->len == n && en->pre == pre &&
            (n <= 8 || memcmp(m->arena + en->off + 8, t + 8, n - 8) == 0))
            return (long)(s - 1);
    }
}

static int tmap_rehash(struct sr_tmap *m, size_t cap)
{
    uint32_t *slot = calloc(cap, sizeof *slot);
    if (slot == NULL)
        return GD_ENOMEM;
    for (size_t k = 0; k < m->n; k++) {
        size_t i = m->ent[k].hash & (cap - 1);
        while (slot[i] != 0)
            i = (i + 1) & (cap - 1);
        slot[i] = (uint32_t)(k + 1);
    }
    free(m->slot);
    m->slot = slot;
    m->cap = cap;
    return 0;
}

int sr_tmap_get(struct sr_tmap *m, const char *t, size_t n, uint32_t h,
                uint32_t *idx, int *created)
{
    long f = sr_tmap_find(m, t, n, h);
    if (f >= 0) {
        *idx = (uint32_t)f;
        if (created != NULL)
            *created = 0;
        return 0;
    }
    if (m->n >= UINT32_MAX - 1 || n > UINT32_MAX)
        return GD_ENOMEM;
    if ((m->n + 1) * 2 > m->cap &&
        tmap_rehash(m, m->cap ? m->cap * 2 : 64) != 0)
        return GD_ENOMEM;
    if (m->n == m->ecap) {
        size_t c = m->ecap ? m->ecap * 2 : 32;
        struct sr_tment *ne = realloc(m->ent, c * sizeof *ne);
        if (ne == NULL)
            return GD_ENOMEM;
        m->ent = ne;
        m->ecap = c;
    }
    if (n > m->acap - m->alen) {
        size_t c = m->acap ? m->acap : 256;
        while (c - m->alen < n)
            c *= 2;
        char *na = realloc(m->arena, c);
        if (na == NULL)
            return GD_ENOMEM;
        m->arena = na;
        m->acap = c;
    }
    if (m->alen > UINT32_MAX - n)
        return GD_ENOMEM;
    if (n > 0)
        memcpy(m->arena + m->alen, t, n);
    struct sr_tment *en = &m->ent[m->n];
    en->off = (uint32_t)m->alen;
    en->len = (uint32_t)n;
    en->hash = h;
    en->pre = sr_tmap_pre(t, n);
    m->alen += n;
    size_t i = h & (m->cap - 1);
    while (m->slot[i] != 0)
        i = (i + 1) & (m->cap - 1);
    m->slot[i] = (uint32_t)(m->n + 1);
    *idx = (uint32_t)m->n++;
    if (created != NULL)
        *created = 1;
    return 0;
}

/* ------------------------------------------------------------ sorting */

struct skey {
    uint64_t key; /* the first 8 bytes, big-endian, zero-padded */
    uint32_t idx;
};

/* Terms never contain a 0 byte, so zero padding orders a prefix first. */
static int skey_less(const struct sr_tmap *m, const struct skey *a,
                     const struct skey *b)
{
    if (a->key != b->key)
        return a->key < b->key;
    const struct sr_tment *x = &m->ent[a->idx], *y = &m->ent[b->idx];
    if (x->len <= 8 || y->len <= 8)
        return x->len < y->len;
    size_t l = (x->len < y->len ? x->len : y->len) - 8;
    int c = memcmp(m->arena + x->off + 8, m->arena + y->off + 8, l);
    return c != 0 ? c < 0 : x->len < y->len;
}

static void skey_sort(const struct sr_tmap *m, struct skey *v, size_t n)
{
    while (n > 16) {
        /* median of three as the pivot, Hoare partition */
        size_t mid = n / 2;
        if (skey_less(m, &v[mid], &v[0])) {
            struct skey t = v[mid]; v[mid] = v[0]; v[0] = t;
        }
        if (skey_less(m, &v[n - 1], &v[0])) {
            struct skey t = v[n - 1]; v[n - 1] = v[0]; v[0] = t;
        }
        if (skey_less(m, &v[n - 1], &v[mid])) {
            struct skey t = v[n - 1]; v[n - 1] = v[mid]; v[mid] = t;
        }
        struct skey p = v[mid];
        size_t i = 0, j = n - 1;
        for (;;) {
            while (skey_less(m, &v[i], &p))
                i++;
            while (skey_less(m, &p, &v[j]))
                j--;
            if (i >= j)
                break;
            struct skey t = v[i]; v[i] = v[j]; v[j] = t;
            i++;
            j--;
        }
        /* recurse into the smaller part, loop on the larger */
        size_t left = j + 1;
        if (left < n - left) {
            skey_sort(m, v, left);
            v += left;
            n -= left;
        } else {
            skey_sort(m, v + left, n - left);
            n = left;
        }
    }
    for (size_t i = 1; i < n; i++) {
        struct skey t = v[i];
        size_t j = i;
        while (j > 0 && skey_less(m, &t, &v[j - 1])) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = t;
    }
}

int sr_tmap_sort(const struct sr_tmap *m, uint32_t *idx, size_t n)
{
    if (n < 2)
        return 0;
    struct skey *v = malloc(n * sizeof *v);
    if (v == NULL)
        return GD_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const struct sr_tment *t = &m->ent[idx[i]];
        const unsigned char *p = (const unsigned char *)m->arena + t->off;
        uint64_t k = 0;
        for (size_t b = 0; b < 8; b++)
            k = k << 8 | (b < t->len ? p[b] : 0);
        v[i].key = k;
        v[i].idx = idx[i];
    }
    skey_sort(m, v, n);
    for (size_t i = 0; i < n; i++)
        idx[i] = v[i].idx;
    free(v);
    return 0;
}
