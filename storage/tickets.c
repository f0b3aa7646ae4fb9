/* Ticket and event key layouts and the ticket indexes (see tickets.h).  The
 * index keys share the suffix <be64 created_hlc><id>, which is also the list
 * cursor: the next page starts at the smallest key after prefix+suffix,
 * that is prefix+suffix+"\0". */
#include "storage/tickets.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define CURSOR_ID_MAX 1024 /* longest id a cursor may carry */

/* A key assembled from parts; NULL when out of memory. */
struct key {
    char *p;
    size_t n;
};

static void key_free(struct key *k)
{
    free(k->p);
    k->p = NULL;
    k->n = 0;
}

static bool key_eq(const struct key *a, const struct key *b)
{
    return a->n == b->n && memcmp(a->p, b->p, a->n) == 0;
}

/* Index key: <tag>\0[<field>\0]<be64 hlc><id>; field NULL for the "a" index.
 * Returns false on OOM. */
static bool index_key(struct key *k, char tag, const char *field, uint64_t hlc,
                      const char *id)
{
    size_t flen = field != NULL ? strlen(field) + 1 : 0;
    size_t ilen = strlen(id);
    k->n = 2 + flen + 8 + ilen;
    k->p = malloc(k->n);
    if (k->p == NULL)
        return false;
    char *p = k->p;
    *p++ = tag;
    *p++ = '\0';
    if (field != NULL) {
        memcpy(p, field, flen); /* with its NUL */
        p += flen;
    }
    store_be64_put((unsigned char *)p, hlc);
    memcpy(p + 8, id, ilen);
    return true;
}

/* Index prefix: <tag>\0[<field>\0]. */
static bool index_prefix(struct key *k, char tag, const char *field)
{
    size_t flen = field != NULL ? strlen(field) + 1 : 0;
    k->n = 2 + flen;
    k->p = malloc(k->n);
    if (k->p == NULL)
        return false;
    k->p[0] = tag;
    k->p[1] = '\0';
    if (field != NULL)
        memcpy(k->p + 2, field, flen);
    return true;
}

static bool has_customer(const struct ticket *t)
{
    return t->customer != NULL && t->customer[0] != '\0';
}

/* The three index keys of t (c is empty when t has no customer). */
static int ticket_index_keys(const struct ticket *t, struct key ks[3])
{
    memset(ks, 0, 3 * sizeof *ks);
    const char *st = ticket_status_name(t->status);
    if (ticket_status_parse(st) != t->status)
        return GD_EINVAL; /* "unknown" */
    if (!index_key(&ks[0], 'a', NULL, t->created_hlc, t->id) ||
        !index_key(&ks[1], 's', st, t->created_hlc, t->id) ||
        (has_customer(t) &&
         !index_key(&ks[2], 'c', t->customer, t->created_hlc, t->id))) {
        for (int i = 0; i < 3; i++)
            key_free(&ks[i]);
        return GD_ENOMEM;
    }
    return 0;
}

int store_ticket_get(struct store *s, const char *id, struct ticket *out,
                     struct gd_err *err)
{
    ticket_init(out);
    if (id == NULL || id[0] == '\0')
        return gd_err_set(err, GD_EINVAL, "ticket id is empty");
    char *v;
    size_t vlen;
    int rc = store_get(s, STORE_CF_TICKETS, id, strlen(id), &v, &vlen);
    if (rc == GD_ENOTFOUND)
        return gd_err_set(err, rc, "no ticket %s", id);
    if (rc != 0)
        return gd_err_set(err, rc, "cannot read ticket %s", id);
    rc = ticket_decode(v, vlen, out, err);
    free(v);
    if (rc != 0) { /* out is left cleared */
        return gd_err_set(err, GD_ECORRUPT, "stored ticket %s does not decode",
                          id);
    }
    return 0;
}

int store_ticket_put(struct store_batch *b, const struct ticket *old,
                     const struct ticket *nw)
{
    if (nw->id == NULL || nw->id[0] == '\0')
        return GD_EINVAL;
    if (old != NULL && (old->id == NULL || strcmp(old->id, nw->id) != 0))
        return GD_EINVAL;
    struct key nk[3], ok[3] = {{0}};
    int rc = ticket_index_keys(nw, nk);
    if (rc != 0)
        return rc;
    if (old != NULL && (rc = ticket_index_keys(old, ok)) != 0) {
        for (int i = 0; i < 3; i++)
            key_free(&nk[i]);
        return rc;
    }
    char *v;
    size_t vlen;
    rc = ticket_encode(nw, &v, &vlen);
    if (rc == 0) {
        store_batch_put(b, STORE_CF_TICKETS, nw->id, strlen(nw->id), v, vlen);
        free(v);
        for (int i = 0; i < 3; i++) {
            bool same = old != NULL && key_eq(&ok[i], &nk[i]);
            if (ok[i].p != NULL && !same)
                store_batch_delete(b, STORE_CF_INDEX, ok[i].p, ok[i].n);
            if (nk[i].p != NULL && !same)
                store_batch_put(b, STORE_CF_INDEX, nk[i].p, nk[i].n, "", 0);
        }
    }
    for (int i = 0; i < 3; i++) {
        key_free(&nk[i]);
        key_free(&ok[i]);
    }
    return rc;
}

int store_event_put(struct store_batch *b, const char *ticket_id,
                    const struct event *ev)
{
    if (ticket_id == NULL || ticket_id[0] == '\0')
        return GD_EINVAL;
    size_t olen = strnlen(ev->id.origin, sizeof ev->id.origin);
    if (olen == sizeof ev->id.origin)
        return GD_EINVAL; /* not NUL-terminated */
    size_t ilen = strlen(ticket_id);
    size_t klen = ilen + 1 + 8 + olen + 1 + 4;
    char *k = malloc(klen);
    if (k == NULL)
        return GD_ENOMEM;
    char *p = k;
    memcpy(p, ticket_id, ilen + 1);
    p += ilen + 1;
    store_be64_put((unsigned char *)p, ev->id.hlc);
    p += 8;
    memcpy(p, ev->id.origin, olen + 1);
    p += olen + 1;
    for (int i = 3; i >= 0; i--)
        p[3 - i] = (char)(ev->id.counter >> (8 * i));
    char *v;
    size_t vlen;
    int rc = event_encode(ev, &v, &vlen);
    if (rc == 0) {
        store_batch_put(b, STORE_CF_EVENTS, k, klen, v, vlen);
        free(v);
    }
    free(k);
    return rc;
}

void store_events_free(struct event *evs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        event_clear(&evs[i]);
    free(evs);
}

int store_ticket_events(struct store *s, const char *ticket_id,
                        struct event **evs, size_t *n, struct gd_err *err)
{
    *evs = NULL;
    *n = 0;
    if (ticket_id == NULL || ticket_id[0] == '\0')
        return gd_err_set(err, GD_EINVAL, "ticket id is empty");
    struct store_iter *it = store_iter_new(s, STORE_CF_EVENTS, ticket_id,
                                           strlen(ticket_id) + 1, NULL, 0);
    struct event *a = NULL;
    size_t na = 0, cap = 0;
    int rc = 0;
    for (; store_iter_valid(it); store_iter_next(it)) {
        if (na == cap) {
            size_t ncap = cap != 0 ? 2 * cap : 16;
            struct event *g = realloc(a, ncap * sizeof *a);
            if (g == NULL) {
                rc = gd_err_set(err, GD_ENOMEM, "out of memory");
                break;
            }
            a = g;
            cap = ncap;
        }
        size_t vlen;
        const char *v = store_iter_value(it, &vlen);
        event_init(&a[na]);
        if (event_decode(v, vlen, &a[na], err) != 0) {
            rc = gd_err_set(err, GD_ECORRUPT,
                            "stored event of ticket %s does not decode",
                            ticket_id);
            break;
        }
        na++;
    }
    if (rc == 0)
        rc = store_iter_error(it, err);
    store_iter_free(it);
    if (rc != 0) {
        store_events_free(a, na);
        return rc;
    }
    *evs = a;
    *n = na;
    return 0;
}

void store_tickets_free(struct ticket *items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ticket_clear(&items[i]);
    free(items);
}

static char *hex_encode(const char *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    char *h = malloc(2 * n + 1);
    if (h == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        h[2 * i] = digits[(unsigned char)p[i] >> 4];
        h[2 * i + 1] = digits[(unsigned char)p[i] & 15];
    }
    h[2 * n] = '\0';
    return h;
}

static int hex_val(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Decodes a cursor into *out (a suffix: be64 hlc + a non-empty id without
 * NUL bytes).  Returns false when it is not one. */
static bool cursor_decode(const char *c, struct key *out)
{
    size_t hl = strlen(c);
    if (hl % 2 != 0 || hl < 2 * 9 || hl > 2 * (8 + CURSOR_ID_MAX))
        return false;
    out->n = hl / 2;
    out->p = malloc(out->n);
    if (out->p == NULL)
        return false;
    for (size_t i = 0; i < out->n; i++) {
        int hi = hex_val(c[2 * i]), lo = hex_val(c[2 * i + 1]);
        if (hi < 0 || lo < 0 || (i >= 8 && hi == 0 && lo == 0)) {
            key_free(out);
            return false;
        }
        out->p[i] = (char)(hi << 4 | lo);
    }
    return true;
}

/* Whether t still matches the filters (it was read after its index key). */
static bool ticket_matches(const struct ticket *t, const char *status,
                           const char *customer)
{
    if (status != NULL) {
        const char *st = ticket_status_name(t->status);
        if (st == NULL || strcmp(st, status) != 0)
            return false;
    }
    if (customer != NULL &&
        (t->customer == NULL || strcmp(t->customer, customer) != 0))
        return false;
    return true;
}

int store_ticket_list(struct store *s, const char *status, const char *customer,
                      const char *after, size_t limit, struct ticket **items,
                      size_t *n, char **next, struct gd_err *err)
{
    *items = NULL;
    *n = 0;
    *next = NULL;
    if (limit < 1 || limit > STORE_LIST_MAX)
        return gd_err_set(err, GD_EINVAL, "limit must be 1..%d",
                          STORE_LIST_MAX);
    struct key prefix = {0}, cur = {0}, start = {0}, last = {0};
    if (after != NULL && !cursor_decode(after, &cur))
        return gd_err_set(err, GD_EINVAL, "bad cursor");
    bool ok = customer != NULL ? index_prefix(&prefix, 'c', customer)
              : status != NULL ? index_prefix(&prefix, 's', status)
                               : index_prefix(&prefix, 'a', NULL);
    if (ok && cur.p != NULL) {
        start.n = prefix.n + cur.n + 1;
        start.p = malloc(start.n);
        ok = start.p != NULL;
        if (ok) {
            memcpy(start.p, prefix.p, prefix.n);
            memcpy(start.p + prefix.n, cur.p, cur.n);
            start.p[start.n - 1] = '\0';
        }
    }
    struct store_iter *it = NULL;
    if (ok)
        it = store_iter_new(s, STORE_CF_INDEX, prefix.p, prefix.n, start.p,
                            start.n);
    int rc = ok && it != NULL ? 0 : gd_err_set(err, GD_ENOMEM, "out of memory");
    struct ticket *a = NULL;
    size_t na = 0, cap = 0;
    for (; rc == 0 && store_iter_valid(it); store_iter_next(it)) {
        size_t klen;
        const char *k = store_iter_key(it, &klen);
        const char *suffix = k + prefix.n;
        size_t slen = klen - prefix.n;
        if (na == limit) { /* one more key: there may be a next page */
            if ((*next = hex_encode(last.p, last.n)) == NULL)
                rc = gd_err_set(err, GD_ENOMEM, "out of memory");
            break;
        }
        if (slen < 9 || memchr(suffix + 8, '\0', slen - 8) != NULL) {
            rc = gd_err_set(err, GD_ECORRUPT, "malformed ticket index key");
            break;
        }
        if (na == cap) {
            size_t ncap = cap != 0 ? 2 * cap : 32;
            ncap = ncap < limit ? ncap : limit;
            struct ticket *g = realloc(a, ncap * sizeof *a);
            if (g == NULL) {
                rc = gd_err_set(err, GD_ENOMEM, "out of memory");
                break;
            }
            a = g;
            cap = ncap;
        }
        char *id = strndup(suffix + 8, slen - 8);
        if (id == NULL) {
            rc = gd_err_set(err, GD_ENOMEM, "out of memory");
            break;
        }
        rc = store_ticket_get(s, id, &a[na], err); /* inits a[na] */
        free(id);
        if (rc == GD_ENOTFOUND) { /* removed since the iterator began */
            rc = 0;
            continue;
        }
        if (rc != 0)
            break;
        if (!ticket_matches(&a[na], status, customer)) {
            ticket_clear(&a[na]);
            continue;
        }
        na++;
        key_free(&last);
        last.p = malloc(slen);
        if (last.p == NULL) {
            rc = gd_err_set(err, GD_ENOMEM, "out of memory");
            break;
        }
        memcpy(last.p, suffix, slen);
        last.n = slen;
    }
    if (rc == 0)
        rc = store_iter_error(it, err);
    store_iter_free(it);
    key_free(&prefix);
    key_free(&cur);
    key_free(&start);
    key_free(&last);
    if (rc != 0) {
        store_tickets_free(a, na);
        free(*next);
        *next = NULL;
        return rc;
    }
    *items = a;
    *n = na;
    return 0;
}

size_t store_ticket_count(struct store *s)
{
    size_t n = 0;
    struct store_iter *it = store_iter_new(s, STORE_CF_INDEX, "a", 2, NULL, 0);
    for (; store_iter_valid(it); store_iter_next(it))
        n++;
    if (store_iter_error(it, NULL) != 0)
        n = 0;
    store_iter_free(it);
    return n;
}
