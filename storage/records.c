/* Users, members, the cluster record and counters: thin key layouts over
 * store.h (see records.h).  The cluster record shares the MEMBERS CF under
 * a 7-byte key, so member scans only look at 8-byte keys. */
#include "storage/records.h"

#include <stdlib.h>
#include <string.h>

#define CLUSTER_KEY "cluster"
#define CLUSTER_KEY_LEN (sizeof CLUSTER_KEY - 1)

int store_user_get(struct store *s, const char *name, struct user_rec *out,
                   struct gd_err *err)
{
    user_rec_init(out);
    if (name == NULL || name[0] == '\0')
        return gd_err_set(err, GD_EINVAL, "user name is empty");
    char *v;
    size_t vlen;
    int rc = store_get(s, STORE_CF_USERS, name, strlen(name), &v, &vlen);
    if (rc == GD_ENOTFOUND)
        return gd_err_set(err, rc, "no user %s", name);
    if (rc != 0)
        return gd_err_set(err, rc, "cannot read user %s", name);
    rc = user_rec_decode(v, vlen, out, err);
    free(v);
    if (rc != 0) {
        user_rec_clear(out);
        return gd_err_set(err, GD_ECORRUPT, "stored user %s does not decode",
                          name);
    }
    return 0;
}

int store_user_put(struct store_batch *b, const struct user_rec *u)
{
    if (u->name == NULL || u->name[0] == '\0')
        return GD_EINVAL;
    char *v;
    size_t vlen;
    int rc = user_rec_encode(u, &v, &vlen);
    if (rc != 0)
        return rc;
    store_batch_put(b, STORE_CF_USERS, u->name, strlen(u->name), v, vlen);
    free(v);
    return 0;
}

int store_member_put(struct store_batch *b, const struct member_rec *m)
{
    char *v;
    size_t vlen;
    int rc = member_rec_encode(m, &v, &vlen);
    if (rc != 0)
        return rc;
    unsigned char k[8];
    store_be64_put(k, m->id);
    store_batch_put(b, STORE_CF_MEMBERS, k, sizeof k, v, vlen);
    free(v);
    return 0;
}

void store_member_delete(struct store_batch *b, uint64_t id)
{
    unsigned char k[8];
    store_be64_put(k, id);
    store_batch_delete(b, STORE_CF_MEMBERS, k, sizeof k);
}

void store_members_free(struct member_rec *m, size_t n)
{
    for (size_t i = 0; i < n; i++)
        member_rec_clear(&m[i]);
    free(m);
}

int store_member_list(struct store *s, struct member_rec **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    struct store_iter *it =
        store_iter_new(s, STORE_CF_MEMBERS, NULL, 0, NULL, 0);
    struct member_rec *a = NULL;
    size_t na = 0, cap = 0;
    int rc = it != NULL ? 0 : GD_ENOMEM;
    for (; rc == 0 && store_iter_valid(it); store_iter_next(it)) {
        size_t klen, vlen;
        const char *k = store_iter_key(it, &klen);
        if (klen != 8)
            continue; /* the cluster record */
        if (na == cap) {
            size_t ncap = cap != 0 ? 2 * cap : 8;
            struct member_rec *g = realloc(a, ncap * sizeof *a);
            if (g == NULL) {
                rc = GD_ENOMEM;
                break;
            }
            a = g;
            cap = ncap;
        }
        const char *v = store_iter_value(it, &vlen);
        member_rec_init(&a[na]);
        if (member_rec_decode(v, vlen, &a[na], NULL) != 0) {
            rc = GD_ECORRUPT;
            break;
        }
        na++;
        if (a[na - 1].id != store_be64_get((const unsigned char *)k)) {
            rc = GD_ECORRUPT;
            break;
        }
    }
    if (rc == 0)
        rc = store_iter_error(it, NULL);
    store_iter_free(it);
    if (rc != 0) {
        store_members_free(a, na);
        return rc;
    }
    *out = a;
    *n = na;
    return 0;
}

int store_cluster_get(struct store *s, struct cluster_rec *out,
                      struct gd_err *err)
{
    cluster_rec_init(out);
    char *v;
    size_t vlen;
    int rc =
        store_get(s, STORE_CF_MEMBERS, CLUSTER_KEY, CLUSTER_KEY_LEN, &v, &vlen);
    if (rc == GD_ENOTFOUND)
        return gd_err_set(err, rc, "the cluster is not initialised");
    if (rc != 0)
        return gd_err_set(err, rc, "cannot read the cluster record");
    rc = cluster_rec_decode(v, vlen, out, err);
    free(v);
    if (rc != 0) {
        cluster_rec_clear(out);
        return gd_err_set(err, GD_ECORRUPT,
                          "stored cluster record does not decode");
    }
    return 0;
}

int store_cluster_put(struct store_batch *b, const struct cluster_rec *c)
{
    char *v;
    size_t vlen;
    int rc = cluster_rec_encode(c, &v, &vlen);
    if (rc != 0)
        return rc;
    store_batch_put(b, STORE_CF_MEMBERS, CLUSTER_KEY, CLUSTER_KEY_LEN, v, vlen);
    free(v);
    return 0;
}

int store_counter_get(struct store *s, const char *name, uint64_t *val)
{
    *val = 0;
    if (name == NULL)
        return GD_EINVAL;
    char *v;
    size_t vlen;
    int rc = store_get(s, STORE_CF_COUNTERS, name, strlen(name), &v, &vlen);
    if (rc == GD_ENOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    if (vlen == 8)
        *val = store_be64_get((unsigned char *)v);
    free(v);
    return vlen == 8 ? 0 : GD_ECORRUPT;
}

void store_counter_put(struct store_batch *b, const char *name, uint64_t val)
{
    unsigned char v[8];
    store_be64_put(v, val);
    store_batch_put(b, STORE_CF_COUNTERS, name, strlen(name), v, sizeof v);
}
