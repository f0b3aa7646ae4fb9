/* The generic RocksDB layer: one database with a column family per kind of
 * record, write batches that carry the Raft applied index atomically with the
 * data, prefix iteration, and whole-state dumps for Raft snapshots.  Domain
 * key layouts live in storage/tickets.h and storage/records.h; this file
 * knows nothing about tickets, HTTP or Raft.
 *
 * Threads: a struct store may be used from several threads at once (RocksDB
 * is thread-safe); a store_batch or store_iter belongs to one thread. */
#ifndef GD_STORE_H
#define GD_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* Column families.  META holds local, non-replicated node metadata plus the
 * applied index; every other CF is replicated state (it goes into dumps). */
enum store_cf {
    STORE_CF_META = 0,
    STORE_CF_TICKETS,
    STORE_CF_EVENTS,
    STORE_CF_INDEX,
    STORE_CF_USERS,
    STORE_CF_MEMBERS,
    STORE_CF_COUNTERS,
    STORE_CF_KB,     /* knowledge base: articles, versions, proposals */
    STORE_CF_SEARCH, /* inverted index (search/ owns the key layout) */
    STORE_CF__COUNT
};

struct store;       /* opaque */
struct store_batch; /* opaque; an ordered list of puts and deletes */
struct store_iter;  /* opaque */

/* Opens (creating the directory, the database and any missing column family
 * as needed) the store in dir.  On success *out is a store the caller closes
 * with store_close.  GD_EIO with RocksDB's message when the database cannot
 * be opened, GD_ECORRUPT when the stored applied index is malformed,
 * GD_ENOMEM. */
int store_open(const char *dir, struct store **out, struct gd_err *err);

/* Closes the store and frees it; NULL is a no-op.  Every iterator must have
 * been freed before. */
void store_close(struct store *s);

/* The Raft index of the last batch committed with one (cached in memory);
 * 0 when none ever was. */
uint64_t store_applied_index(struct store *s);

/* Reads one value.  On success *val is a malloc'd copy the caller frees, with
 * a NUL byte after the *vlen bytes (not counted).  GD_ENOTFOUND, GD_EINVAL
 * (bad cf), GD_EIO, GD_ENOMEM. */
int store_get(struct store *s, int cf, const void *key, size_t klen, char **val,
              size_t *vlen);

/* --- Write batches ---------------------------------------------------------
 * A batch records puts and deletes in order; nothing is visible until
 * store_batch_commit writes all of them atomically.  put/delete copy their
 * arguments.  They cannot fail: an allocation failure is remembered and
 * reported by store_batch_commit (GD_ENOMEM), which then writes nothing. */

/* A new empty batch, freed with store_batch_free; NULL on OOM. */
struct store_batch *store_batch_new(void);
void store_batch_put(struct store_batch *b, int cf, const void *k, size_t klen,
                     const void *v, size_t vlen);
void store_batch_delete(struct store_batch *b, int cf, const void *k,
                        size_t klen);
/* Number of puts and deletes recorded so far. */
size_t store_batch_count(struct store_batch *b);

/* Writes the batch plus the applied index (META key "applied_index", 8 bytes
 * big-endian) atomically, WAL on, sync off (the Raft log is the durable
 * record: raft replays what a crash lost above the stored index), and
 * updates the cached index.  applied_index 0 leaves the index
 * unchanged.  The batch is not consumed: the caller still frees it.  One
 * thread at a time commits (the loop): the store keeps its WriteBatch and
 * sort array from one commit to the next.
 * GD_ENOMEM (see above), GD_EIO with RocksDB's message. */
int store_batch_commit(struct store *s, struct store_batch *b,
                       uint64_t applied_index, struct gd_err *err);

/* Frees a batch; NULL is a no-op. */
void store_batch_free(struct store_batch *b);

/* Empties b for reuse, keeping its buffer (unless above 8 MB). */
void store_batch_clear(struct store_batch *b);

/* --- Iteration -------------------------------------------------------------
 * Iterates one CF in key order from the first key >= start (start may be
 * NULL/0) over the keys that begin with prefix (prefix may be NULL/0 = the
 * whole CF).  Sees the state as of store_iter_new.  NULL on OOM or a bad cf;
 * store_iter_valid(NULL) is 0 and store_iter_free(NULL) a no-op.
 *
 *   for (it = store_iter_new(...); store_iter_valid(it); store_iter_next(it))
 *
 * key/value pointers stay valid until the next store_iter_next or
 * store_iter_free.  When store_iter_valid returns 0, store_iter_error says
 * whether the iteration ended or failed. */
struct store_iter *store_iter_new(struct store *s, int cf, const void *prefix,
                                  size_t plen, const void *start, size_t slen);
int store_iter_valid(struct store_iter *it);
void store_iter_next(struct store_iter *it);
const char *store_iter_key(struct store_iter *it, size_t *len);
const char *store_iter_value(struct store_iter *it, size_t *len);
/* 0 while the iteration is fine; GD_EIO (with RocksDB's message) after a read
 * error, GD_ENOMEM when it is NULL. */
int store_iter_error(struct store_iter *it, struct gd_err *err);
void store_iter_free(struct store_iter *it);

/* --- Dumps (Raft snapshots) ------------------------------------------------
 * A dump is the whole replicated state (every CF but META, plus the applied
 * index) as ONE msgpack buffer:
 *   [ "gridesk-store-dump", 1, applied_index,
 *     [ [cf_name, [key, value, key, value, ...]], ... ],   (bins, keys sorted)
 *     checksum ]                                           (uint64, see .c)
 */

/* Dumps from one consistent RocksDB snapshot into a buffer allocated with
 * alloc (raft_malloc for Raft, malloc in tests): two passes over the
 * snapshot, one to size the buffer and one to fill it, so the dump is never
 * held twice.  The caller frees *buf with the matching free whenever it is
 * not NULL, also on error: a read failure in the second pass comes after the
 * allocation and hands the buffer back (with *len 0).  GD_ENOMEM, GD_EIO,
 * GD_ETOOBIG (over 2^31 pairs in one CF), GD_ECORRUPT. */
int store_dump(struct store *s, void *(*alloc)(size_t), char **buf, size_t *len,
               struct gd_err *err);

/* A point-in-time view of the store (a RocksDB snapshot): store_dump_view
 * dumps the store as it was at store_view_take, and may run on another
 * thread while the loop goes on writing (Raft snapshots are made so, off
 * the loop).  take returns NULL on OOM; release takes NULL. */
struct store_view;
struct store_view *store_view_take(struct store *s);
void store_view_release(struct store *s, struct store_view *v);
int store_dump_view(struct store *s, const struct store_view *v,
                    void *(*alloc)(size_t), char **buf, size_t *len,
                    struct gd_err *err);

/* Validates a whole dump (structure and checksum) and reads its applied
 * index.  GD_ECORRUPT for anything malformed. */
int store_dump_index(const char *buf, size_t len, uint64_t *applied_index,
                     struct gd_err *err);

/* Replaces the whole replicated state with a dump, atomically (one batch:
 * delete every key of every replicated CF, write the dump's pairs and applied
 * index), synced.  META keys other than the applied index are kept.  The dump
 * is validated first; on any error nothing changes.  GD_ECORRUPT, GD_ENOMEM,
 * GD_EIO. */
int store_load(struct store *s, const char *buf, size_t len,
               struct gd_err *err);

/* --- Local node metadata ---------------------------------------------------
 * Non-replicated name → string pairs in META (e.g. "node_id",
 * "cluster_id").  The name "applied_index" is reserved (GD_EINVAL). */

/* *val is a malloc'd NUL-terminated copy the caller frees.  GD_ENOTFOUND,
 * GD_EINVAL, GD_EIO, GD_ENOMEM. */
int store_meta_get(struct store *s, const char *name, char **val);
/* Synced write.  GD_EINVAL, GD_EIO. */
int store_meta_put(struct store *s, const char *name, const char *val);

/* Flushes the memtables to SST files, one column family after another,
 * and syncs the WAL (tools that measure files, tests).  GD_EIO. */
int store_flush(struct store *s);

/* Big-endian fixed-width integers, the sort-friendly encoding of every
 * numeric key part. */
static inline void store_be64_put(unsigned char *out, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        out[i] = (unsigned char)v;
}

static inline uint64_t store_be64_get(const unsigned char *in)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | in[i];
    return v;
}

#endif
