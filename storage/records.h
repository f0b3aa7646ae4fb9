/* Users, cluster members, the cluster record and named counters on top of
 * storage/store.h.  Key layouts:
 *
 *   USERS     <name>                 → user_rec_encode
 *   MEMBERS   <be64 id>              → member_rec_encode
 *   MEMBERS   "cluster" (7 bytes)    → cluster_rec_encode (the only key of
 *                                      another length than 8)
 *   COUNTERS  <name>                 → be64 value
 *
 * All of them are replicated state: writes go through a store_batch. */
#ifndef GD_STORE_RECORDS_H
#define GD_STORE_RECORDS_H

#include <stddef.h>
#include <stdint.h>

#include "core/command.h"
#include "core/error.h"
#include "storage/store.h"

/* Reads user name into out (the caller user_rec_clears it on success; left
 * empty on error).  GD_ENOTFOUND, GD_EINVAL, GD_ECORRUPT, GD_EIO,
 * GD_ENOMEM. */
int store_user_get(struct store *s, const char *name, struct user_rec *out,
                   struct gd_err *err);
/* Adds user u (keyed by u->name) to b.  GD_EINVAL (no name), GD_ENOMEM. */
int store_user_put(struct store_batch *b, const struct user_rec *u);

/* Adds member m (keyed by m->id) to b.  GD_ENOMEM. */
int store_member_put(struct store_batch *b, const struct member_rec *m);
void store_member_delete(struct store_batch *b, uint64_t id);
/* Every member in id order.  *out is a malloc'd array (NULL when *n is 0)
 * freed with store_members_free.  GD_ECORRUPT (also when a record's id is
 * not its key), GD_EIO, GD_ENOMEM. */
int store_member_list(struct store *s, struct member_rec **out, size_t *n);
void store_members_free(struct member_rec *m, size_t n);

/* Reads the cluster record (the caller cluster_rec_clears it on success).
 * GD_ENOTFOUND before the cluster is initialised, GD_ECORRUPT, GD_EIO,
 * GD_ENOMEM. */
int store_cluster_get(struct store *s, struct cluster_rec *out,
                      struct gd_err *err);
/* GD_ENOMEM. */
int store_cluster_put(struct store_batch *b, const struct cluster_rec *c);

/* *val is 0 when the counter was never written.  GD_EINVAL, GD_ECORRUPT,
 * GD_EIO, GD_ENOMEM. */
int store_counter_get(struct store *s, const char *name, uint64_t *val);
void store_counter_put(struct store_batch *b, const char *name, uint64_t val);

#endif
