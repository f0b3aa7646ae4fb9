/* The RocksDB layer behind store.h: opening and tuning the database, batches
 * that commit the Raft applied index with the data, prefix iterators, and the
 * msgpack dump/load used for Raft snapshots.  META is RocksDB's "default"
 * column family, so the database always has exactly the CFs named below
 * (plus any a newer version created, which are opened and left alone). */
#include "storage/store.h"

#include <assert.h>
#include <errno.h>
#include <rocksdb/c.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const cf_names[STORE_CF__COUNT] = {
    [STORE_CF_META] = "default",      [STORE_CF_TICKETS] = "tickets",
    [STORE_CF_EVENTS] = "events",     [STORE_CF_INDEX] = "index",
    [STORE_CF_USERS] = "users",       [STORE_CF_MEMBERS] = "members",
    [STORE_CF_COUNTERS] = "counters", [STORE_CF_KB] = "kb",
    [STORE_CF_SEARCH] = "search",
};

#define APPLIED_KEY "applied_index"
#define APPLIED_KEY_LEN (sizeof APPLIED_KEY - 1)

/* Tuning for many small values (tickets, events and index keys of a few
 * hundred bytes): a shared block cache, full bloom filters for the point
 * lookups the apply path does, 64 MB memtables capped at 256 MB in total, and
 * a WAL cap so that a rarely written CF does not pin old WAL files. */
#define BLOCK_CACHE_BYTES (64u << 20)
#define WRITE_BUFFER_BYTES (64u << 20)
#define DB_WRITE_BUFFER_BYTES (256u << 20)
#define MAX_TOTAL_WAL_BYTES (256u << 20)
#define BLOOM_BITS_PER_KEY 10
#define BYTES_PER_SYNC (1u << 20)

struct store {
    rocksdb_t *db;
    rocksdb_options_t *opts;
    rocksdb_cache_t *cache;
    rocksdb_readoptions_t *ropts;
    rocksdb_writeoptions_t *wopts;      /* WAL on, no sync: apply path */
    rocksdb_writeoptions_t *wopts_sync; /* load and local metadata */
    rocksdb_column_family_handle_t *cf[STORE_CF__COUNT];
    rocksdb_column_family_handle_t **extra; /* CFs this version ignores */
    size_t n_extra;
    uint64_t applied; /* read and written with __atomic builtins */
    /* Kept between store_batch_commit calls (one thread commits): the
     * WriteBatch keeps its buffer's capacity when cleared, and the sort
     * array its size, instead of growing both from nothing per entry. */
    rocksdb_writebatch_t *wb;
    struct op_ref *refs;
    size_t refs_cap;
};

/* Larger than this, the kept WriteBatch and sort array are let go after the
 * commit (a snapshot-sized batch should not stay allocated). */
#define KEEP_BATCH_BYTES (8u << 20)
#define KEEP_REFS 65536

static bool cf_ok(int cf)
{
    return cf >= 0 && cf < STORE_CF__COUNT;
}

/* Takes ownership of a RocksDB error string. */
static int rocks_err(struct gd_err *err, char *e, const char *what)
{
    int rc = gd_err_set(err, GD_EIO, "%s: %s", what, e != NULL ? e : "?");
    rocksdb_free(e);
    return rc;
}

/* ---------------------------------------------------------------- open */

/* mkdir -p: RocksDB only creates the last component. */
static int make_dirs(const char *dir, struct gd_err *err)
{
    size_t n = strlen(dir);
    char *p = malloc(n + 1);
    if (p == NULL)
        return gd_err_set(err, GD_ENOMEM, "store: out of memory");
    memcpy(p, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != '\0')
            continue;
        char c = p[i];
        p[i] = '\0';
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            int rc = gd_err_set(err, GD_EIO, "store: mkdir %s: %s", p,
                                strerror(errno));
            free(p);
            return rc;
        }
        p[i] = c;
    }
    free(p);
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return gd_err_set(err, GD_EIO, "store: %s is not a directory", dir);
    return 0;
}

/* Compactions run in RocksDB's low-priority pool of the process-wide default
 * Env.  They are never urgent, but on a small machine a compaction thread
 * at normal priority takes a whole core for seconds and the event loop,
 * which answers clients and Raft, waits for it.  So their CPU (and I/O)
 * priority is lowered, once per process.  Flushes (high-priority pool) keep
 * theirs: a late flush would stall writes. */
static void lower_compaction_priority(void)
{
    static int done;
    if (!done) {
        rocksdb_env_t *env = rocksdb_create_default_env();
        rocksdb_env_lower_thread_pool_cpu_priority(env);
        rocksdb_env_lower_thread_pool_io_priority(env);
        rocksdb_env_destroy(env); /* the default Env itself stays */
        done = 1;
    }
}

static void set_options(struct store *s, int compression)
{
    rocksdb_options_t *o = s->opts;
    rocksdb_options_set_create_if_missing(o, 1);
    rocksdb_options_set_create_missing_column_families(o, 1);
    rocksdb_options_increase_parallelism(o, 2);
    lower_compaction_priority();
    rocksdb_options_set_write_buffer_size(o, WRITE_BUFFER_BYTES);
    rocksdb_options_set_db_write_buffer_size(o, DB_WRITE_BUFFER_BYTES);
    rocksdb_options_set_max_total_wal_size(o, MAX_TOTAL_WAL_BYTES);
    rocksdb_options_set_level_compaction_dynamic_level_bytes(o, 1);
    rocksdb_options_set_compression(o, compression);
    rocksdb_options_set_keep_log_file_num(o, 4);
    rocksdb_options_set_max_log_file_size(o, 8u << 20);
    /* Write SST and WAL data out as it is produced instead of leaving tens
     * of MB dirty for a final fsync: that fsync made ext4 stall the Raft
     * log's synchronous writes for 150-400 ms. */
    rocksdb_options_set_bytes_per_sync(o, BYTES_PER_SYNC);
    rocksdb_options_set_wal_bytes_per_sync(o, BYTES_PER_SYNC);

    rocksdb_block_based_table_options_t *t =
        rocksdb_block_based_options_create();
    rocksdb_block_based_options_set_block_cache(t, s->cache);
    /* The table options take ownership of the filter policy. */
    rocksdb_block_based_options_set_filter_policy(
        t, rocksdb_filterpolicy_create_bloom_full(BLOOM_BITS_PER_KEY));
    rocksdb_options_set_block_based_table_factory(o, t); /* copies t */
    rocksdb_block_based_options_destroy(t);
}

/* Names to open: ours first (so cf[i] lines up), then any other CF already
 * on disk (RocksDB refuses to open a database without all of them). */
static int cf_list(const char *dir, rocksdb_options_t *o, char ***names_out,
                   size_t *n_out)
{
    char *e = NULL;
    size_t n_disk = 0;
    char **disk = rocksdb_list_column_families(o, dir, &n_disk, &e);
    if (e != NULL) { /* a new database: nothing on disk yet */
        rocksdb_free(e);
        if (disk != NULL) /* RocksDB allocates the array even then */
            rocksdb_list_column_families_destroy(disk, n_disk);
        disk = NULL;
        n_disk = 0;
    }
    char **names = calloc(STORE_CF__COUNT + n_disk, sizeof *names);
    if (names == NULL) {
        if (disk != NULL)
            rocksdb_list_column_families_destroy(disk, n_disk);
        return GD_ENOMEM;
    }
    size_t n = 0;
    for (int i = 0; i < STORE_CF__COUNT; i++)
        names[n++] = (char *)cf_names[i];
    for (size_t j = 0; j < n_disk; j++) {
        bool ours = false;
        for (int i = 0; i < STORE_CF__COUNT; i++)
            ours = ours || strcmp(disk[j], cf_names[i]) == 0;
        if (!ours) {
            names[n] = strdup(disk[j]);
            if (names[n] == NULL) {
                for (size_t k = STORE_CF__COUNT; k < n; k++)
                    free(names[k]);
                free(names);
                rocksdb_list_column_families_destroy(disk, n_disk);
                return GD_ENOMEM;
            }
            n++;
        }
    }
    if (disk != NULL)
        rocksdb_list_column_families_destroy(disk, n_disk);
    *names_out = names;
    *n_out = n;
    return 0;
}

static void cf_list_free(char **names, size_t n)
{
    for (size_t k = STORE_CF__COUNT; k < n; k++)
        free(names[k]);
    free(names);
}

static int open_db(struct store *s, const char *dir, struct gd_err *err)
{
    char **names;
    size_t n;
    if (cf_list(dir, s->opts, &names, &n) != 0)
        return gd_err_set(err, GD_ENOMEM, "store: out of memory");
    const rocksdb_options_t **opts = calloc(n, sizeof *opts);
    rocksdb_column_family_handle_t **h = calloc(n, sizeof *h);
    if (opts == NULL || h == NULL) {
        free(opts);
        free(h);
        cf_list_free(names, n);
        return gd_err_set(err, GD_ENOMEM, "store: out of memory");
    }
    for (size_t i = 0; i < n; i++)
        opts[i] = s->opts;
    char *e = NULL;
    s->db = rocksdb_open_column_families(
        s->opts, dir, (int)n, (const char *const *)names, opts, h, &e);
    free(opts);
    cf_list_free(names, n);
    if (e != NULL) {
        free(h);
        s->db = NULL;
        return rocks_err(err, e, "store: open");
    }
    memcpy(s->cf, h, sizeof s->cf);
    s->n_extra = n - STORE_CF__COUNT;
    if (s->n_extra > 0) {
        memmove(h, h + STORE_CF__COUNT, s->n_extra * sizeof *h);
        s->extra = h;
    } else {
        free(h);
    }
    return 0;
}

static int load_applied(struct store *s, struct gd_err *err)
{
    char *v;
    size_t vlen;
    int rc =
        store_get(s, STORE_CF_META, APPLIED_KEY, APPLIED_KEY_LEN, &v, &vlen);
    if (rc == GD_ENOTFOUND)
        return 0;
    if (rc != 0)
        return gd_err_set(err, rc, "store: cannot read the applied index");
    if (vlen != 8) {
        free(v);
        return gd_err_set(err, GD_ECORRUPT,
                          "store: applied index is %zu bytes, not 8", vlen);
    }
    __atomic_store_n(&s->applied, store_be64_get((unsigned char *)v),
                     __ATOMIC_RELEASE);
    free(v);
    return 0;
}

int store_open(const char *dir, struct store **out, struct gd_err *err)
{
    *out = NULL;
    if (dir == NULL || dir[0] == '\0')
        return gd_err_set(err, GD_EINVAL, "store: empty directory name");
    int rc = make_dirs(dir, err);
    if (rc != 0)
        return rc;
    struct store *s = calloc(1, sizeof *s);
    if (s == NULL)
        return gd_err_set(err, GD_ENOMEM, "store: out of memory");
    /* RocksDB's constructors use operator new: they never return NULL. */
    s->cache = rocksdb_cache_create_lru(BLOCK_CACHE_BYTES);
    s->ropts = rocksdb_readoptions_create();
    /* Applied entries go through the WAL, unsynced: the Raft log is the
     * durable record, and the WAL lets a killed node reopen at (nearly)
     * where it was instead of re-applying everything since the last flush
     * on its loop.  See docs/ARCHITECTURE.md "Restart and snapshots". */
    s->wopts = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(s->wopts, 0);
    s->wopts_sync = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(s->wopts_sync, 1);

    /* LZ4 when this librocksdb was built with it: RocksDB checks at open
     * ("Compression type LZ4 is not linked with the binary"), so try LZ4 and
     * fall back to no compression on exactly that error. */
    struct gd_err e = {0};
    s->opts = rocksdb_options_create();
    set_options(s, rocksdb_lz4_compression);
    rc = open_db(s, dir, &e);
    if (rc == GD_EIO && strstr(e.msg, "not linked") != NULL) {
        rocksdb_options_destroy(s->opts);
        s->opts = rocksdb_options_create();
        set_options(s, rocksdb_no_compression);
        rc = open_db(s, dir, &e);
    }
    if (rc == 0)
        rc = load_applied(s, &e);
    if (rc != 0) {
        store_close(s);
        return gd_err_set(err, rc, "%s", e.msg);
    }
    *out = s;
    return 0;
}

void store_close(struct store *s)
{
    if (s == NULL)
        return;
    if (s->db != NULL) {
        for (int i = 0; i < STORE_CF__COUNT; i++)
            rocksdb_column_family_handle_destroy(s->cf[i]);
        for (size_t i = 0; i < s->n_extra; i++)
            rocksdb_column_family_handle_destroy(s->extra[i]);
        rocksdb_close(s->db);
    }
    free(s->extra);
    if (s->opts != NULL)
        rocksdb_options_destroy(s->opts);
    rocksdb_readoptions_destroy(s->ropts);
    rocksdb_writeoptions_destroy(s->wopts);
    rocksdb_writeoptions_destroy(s->wopts_sync);
    if (s->wb != NULL)
        rocksdb_writebatch_destroy(s->wb);
    free(s->refs);
    rocksdb_cache_destroy(s->cache);
    free(s);
}

uint64_t store_applied_index(struct store *s)
{
    return __atomic_load_n(&s->applied, __ATOMIC_ACQUIRE);
}

static int get_ro(struct store *s, const rocksdb_readoptions_t *ro, int cf,
                  const void *key, size_t klen, char **val, size_t *vlen)
{
    *val = NULL;
    *vlen = 0;
    if (!cf_ok(cf))
        return GD_EINVAL;
    char *e = NULL;
    rocksdb_pinnableslice_t *p =
        rocksdb_get_pinned_cf(s->db, ro, s->cf[cf], key, klen, &e);
    if (e != NULL) {
        rocksdb_free(e);
        return GD_EIO;
    }
    if (p == NULL)
        return GD_ENOTFOUND;
    size_t n;
    const char *v = rocksdb_pinnableslice_value(p, &n);
    char *copy = malloc(n + 1);
    if (copy == NULL) {
        rocksdb_pinnableslice_destroy(p);
        return GD_ENOMEM;
    }
    if (n > 0)
        memcpy(copy, v, n);
    copy[n] = '\0';
    rocksdb_pinnableslice_destroy(p);
    *val = copy;
    *vlen = n;
    return 0;
}

int store_get(struct store *s, int cf, const void *key, size_t klen, char **val,
              size_t *vlen)
{
    return get_ro(s, s->ropts, cf, key, klen, val, vlen);
}

/* --------------------------------------------------------------- batches */

/* The batch is our own op log rather than a rocksdb_writebatch_t because a
 * batch is built without a store (so without CF handles), and so that an
 * allocation failure is reported instead of thrown.  Each op is a header
 * followed by the key and value bytes. */
struct batch_op {
    unsigned char del; /* 1 = delete */
    unsigned char cf;
    size_t klen, vlen;
};

struct store_batch {
    char *buf;
    size_t len, cap;
    size_t count;
    bool oom;
};

struct store_batch *store_batch_new(void)
{
    return calloc(1, sizeof(struct store_batch));
}

static void batch_add(struct store_batch *b, int del, int cf, const void *k,
                      size_t klen, const void *v, size_t vlen)
{
    assert(cf_ok(cf));
    if (b->oom || !cf_ok(cf))
        return;
    size_t need = sizeof(struct batch_op) + klen + vlen;
    if (need > b->cap - b->len) {
        size_t cap = b->cap != 0 ? b->cap : 256;
        while (cap - b->len < need) {
            if (cap > SIZE_MAX / 2) {
                b->oom = true;
                return;
            }
            cap *= 2;
        }
        char *nb = realloc(b->buf, cap);
        if (nb == NULL) {
            b->oom = true;
            return;
        }
        b->buf = nb;
        b->cap = cap;
    }
    struct batch_op op = {(unsigned char)del, (unsigned char)cf, klen, vlen};
    char *p = b->buf + b->len;
    memcpy(p, &op, sizeof op);
    p += sizeof op;
    if (klen > 0)
        memcpy(p, k, klen);
    if (vlen > 0)
        memcpy(p + klen, v, vlen);
    b->len += need;
    b->count++;
}

void store_batch_put(struct store_batch *b, int cf, const void *k, size_t klen,
                     const void *v, size_t vlen)
{
    batch_add(b, 0, cf, k, klen, v, vlen);
}

void store_batch_delete(struct store_batch *b, int cf, const void *k,
                        size_t klen)
{
    batch_add(b, 1, cf, k, klen, NULL, 0);
}

size_t store_batch_count(struct store_batch *b)
{
    return b->count;
}

void store_batch_clear(struct store_batch *b)
{
    if (b->cap > KEEP_BATCH_BYTES) {
        free(b->buf);
        b->buf = NULL;
        b->cap = 0;
    }
    b->len = b->count = 0;
    b->oom = false;
}

void store_batch_free(struct store_batch *b)
{
    if (b == NULL)
        return;
    free(b->buf);
    free(b);
}

/* One operation of a batch being committed: where it is in the buffer. */
struct op_ref {
    const char *key;
    size_t klen;
    size_t off;   /* offset of its batch_op header; also the tie-break */
    uint64_t pre; /* the key's first 8 bytes, big-endian, zero-padded */
};

static uint64_t key_prefix(const char *k, size_t klen)
{
    unsigned char b[8] = {0};
    memcpy(b, k, klen < 8 ? klen : 8);
    return store_be64_get(b);
}

/* The bucket of a ref in sort_group: 0 for the empty key, else its first
 * byte + 1, so that buckets come in key order. */
static unsigned first_byte_bucket(const struct op_ref *r)
{
    return r->klen != 0 ? (unsigned char)r->key[0] + 1u : 0u;
}

/* Orders the operations of one column family by key, and operations on the
 * same key by their place in the batch, so the sort is stable where it
 * matters.  The prefixes decide most comparisons without a memcmp (equal
 * prefixes fall through to the whole keys: zero padding makes "ab" and
 * "ab\0" look alike there). */
static int op_ref_cmp(const void *pa, const void *pb)
{
    const struct op_ref *a = pa, *b = pb;
    if (a->pre != b->pre)
        return a->pre < b->pre ? -1 : 1;
    size_t n = a->klen < b->klen ? a->klen : b->klen;
    int c = n > 0 ? memcmp(a->key, b->key, n) : 0;
    if (c != 0)
        return c;
    if (a->klen != b->klen)
        return a->klen < b->klen ? -1 : 1;
    return a->off < b->off ? -1 : a->off > b->off;
}

static int refs_sorted(const struct op_ref *r, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (op_ref_cmp(&r[i - 1], &r[i]) > 0)
            return 0;
    return 1;
}

/* Sorts n refs of one column family, with tmp (room for n) as scratch: a
 * stable counting pass on the first key byte (an empty key first), then a
 * sort of each bucket not already in order.  The index CF gets its keys as
 * interleaved runs (a…, c…, s… per ticket), each run sorted already. */
static void sort_group(struct op_ref *r, size_t n, struct op_ref *tmp)
{
    size_t at[258] = {0};

    for (size_t i = 0; i < n; i++)
        at[first_byte_bucket(&r[i]) + 1]++;
    for (int b = 1; b < 258; b++)
        at[b] += at[b - 1];
    for (size_t i = 0; i < n; i++)
        tmp[at[first_byte_bucket(&r[i])]++] = r[i];
    /* at[b] is now the end of bucket b */
    memcpy(r, tmp, n * sizeof *r);
    for (size_t b = 0, from = 0; b < 257; from = at[b], b++) {
        size_t k = at[b] - from;
        if (!refs_sorted(r + from, k))
            qsort(r + from, k, sizeof *r, op_ref_cmp);
    }
}

/* Fills refs (b->count of them) grouped by column family in CF order, each
 * group in batch order, then sorts each group that is not already in key
 * order (a batch's ticket and event keys mostly arrive sorted).  tmp has
 * room for b->count refs. */
static void batch_sort(const struct store_batch *b, struct op_ref *refs,
                       struct op_ref *tmp)
{
    size_t start[STORE_CF__COUNT + 1] = {0}, at[STORE_CF__COUNT];
    struct batch_op op;
    size_t off;

    for (off = 0; off < b->len; off += sizeof op + op.klen + op.vlen) {
        memcpy(&op, b->buf + off, sizeof op);
        start[op.cf + 1]++;
    }
    for (int cf = 0; cf < STORE_CF__COUNT; cf++) {
        start[cf + 1] += start[cf];
        at[cf] = start[cf];
    }
    for (off = 0; off < b->len; off += sizeof op + op.klen + op.vlen) {
        memcpy(&op, b->buf + off, sizeof op);
        const char *k = b->buf + off + sizeof op;
        refs[at[op.cf]++] =
            (struct op_ref){k, op.klen, off, key_prefix(k, op.klen)};
    }
    for (int cf = 0; cf < STORE_CF__COUNT; cf++) {
        size_t n = start[cf + 1] - start[cf];
        if (!refs_sorted(refs + start[cf], n))
            sort_group(refs + start[cf], n, tmp);
    }
}

/* The memtable is a skip list that keeps the position of its last insert:
 * keys inserted in order cost a short walk from there, keys that jump about
 * a walk from the top.  So the operations go to RocksDB sorted by (CF, key);
 * two operations on one key keep their order, so the result is the same as
 * applying them in batch order. */
int store_batch_commit(struct store *s, struct store_batch *b,
                       uint64_t applied_index, struct gd_err *err)
{
    if (b->oom)
        return gd_err_set(err, GD_ENOMEM,
                          "store: out of memory building a batch");
    struct op_ref *refs = NULL;
    if (b->count > 1) {
        /* the refs, then as many for scratch */
        if (b->count > s->refs_cap) {
            refs = b->count <= SIZE_MAX / (2 * sizeof *refs)
                       ? realloc(s->refs, 2 * b->count * sizeof *refs)
                       : NULL;
            if (refs == NULL)
                return gd_err_set(err, GD_ENOMEM,
                                  "store: out of memory sorting a batch");
            s->refs = refs;
            s->refs_cap = b->count;
        }
        refs = s->refs;
        batch_sort(b, refs, refs + b->count);
    }
    if (s->wb == NULL)
        s->wb = rocksdb_writebatch_create();
    else
        rocksdb_writebatch_clear(s->wb);
    rocksdb_writebatch_t *wb = s->wb;
    for (size_t i = 0; i < b->count; i++) {
        /* without refs (count <= 1) the only operation is at offset 0 */
        size_t at = refs != NULL ? refs[i].off : 0;
        struct batch_op op;
        memcpy(&op, b->buf + at, sizeof op);
        const char *k = b->buf + at + sizeof op;
        if (op.del)
            rocksdb_writebatch_delete_cf(wb, s->cf[op.cf], k, op.klen);
        else
            rocksdb_writebatch_put_cf(wb, s->cf[op.cf], k, op.klen, k + op.klen,
                                      op.vlen);
    }
    if (s->refs_cap > KEEP_REFS) {
        free(s->refs);
        s->refs = NULL;
        s->refs_cap = 0;
    }
    unsigned char idx[8];
    if (applied_index != 0) {
        store_be64_put(idx, applied_index);
        rocksdb_writebatch_put_cf(wb, s->cf[STORE_CF_META], APPLIED_KEY,
                                  APPLIED_KEY_LEN, (char *)idx, sizeof idx);
    }
    char *e = NULL;
    rocksdb_write(s->db, s->wopts, wb, &e);
    size_t wb_bytes = 0;
    rocksdb_writebatch_data(wb, &wb_bytes);
    if (wb_bytes > KEEP_BATCH_BYTES) {
        rocksdb_writebatch_destroy(wb);
        s->wb = NULL;
    }
    if (e != NULL)
        return rocks_err(err, e, "store: write");
    if (applied_index != 0)
        __atomic_store_n(&s->applied, applied_index, __ATOMIC_RELEASE);
    return 0;
}

/* ------------------------------------------------------------- iterators */

struct store_iter {
    rocksdb_iterator_t *it;
    rocksdb_readoptions_t *ro;
    char *prefix; /* plen bytes, then the upper bound (ulen bytes) */
    size_t plen, ulen;
};

static int key_cmp(const void *a, size_t alen, const void *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = n > 0 ? memcmp(a, b, n) : 0;
    if (c != 0)
        return c;
    return alen < blen ? -1 : alen > blen;
}

/* Iterator on cf, reading at snap when not NULL. */
static struct store_iter *iter_new(struct store *s, int cf,
                                   const rocksdb_snapshot_t *snap,
                                   const void *prefix, size_t plen,
                                   const void *start, size_t slen)
{
    if (!cf_ok(cf))
        return NULL;
    if (prefix == NULL)
        plen = 0;
    if (start == NULL)
        slen = 0;
    struct store_iter *it = calloc(1, sizeof *it);
    if (it == NULL)
        return NULL;
    if (plen > 0) {
        it->prefix = malloc(2 * plen);
        if (it->prefix == NULL) {
            free(it);
            return NULL;
        }
        memcpy(it->prefix, prefix, plen);
        it->plen = plen;
        /* The upper bound is the smallest key greater than every key with
         * this prefix: drop trailing 0xff bytes and increment the last. */
        char *u = it->prefix + plen;
        memcpy(u, prefix, plen);
        size_t ulen = plen;
        while (ulen > 0 && (unsigned char)u[ulen - 1] == 0xff)
            ulen--;
        if (ulen > 0)
            u[ulen - 1] = (char)((unsigned char)u[ulen - 1] + 1);
        it->ulen = ulen; /* 0: prefix is all 0xff, no bound */
    }
    it->ro = rocksdb_readoptions_create();
    if (snap != NULL) { /* a dump: a full scan, keep the cache for reads */
        rocksdb_readoptions_set_snapshot(it->ro, snap);
        rocksdb_readoptions_set_fill_cache(it->ro, 0);
    }
    if (it->ulen > 0)
        rocksdb_readoptions_set_iterate_upper_bound(
            it->ro, it->prefix + it->plen, it->ulen);
    it->it = rocksdb_create_iterator_cf(s->db, it->ro, s->cf[cf]);
    if (slen > 0 && key_cmp(start, slen, prefix, plen) > 0)
        rocksdb_iter_seek(it->it, start, slen);
    else if (plen > 0)
        rocksdb_iter_seek(it->it, prefix, plen);
    else
        rocksdb_iter_seek_to_first(it->it);
    return it;
}

struct store_iter *store_iter_new(struct store *s, int cf, const void *prefix,
                                  size_t plen, const void *start, size_t slen)
{
    return iter_new(s, cf, NULL, prefix, plen, start, slen);
}

int store_iter_valid(struct store_iter *it)
{
    if (it == NULL || !rocksdb_iter_valid(it->it))
        return 0;
    if (it->plen == 0)
        return 1;
    size_t klen;
    const char *k = rocksdb_iter_key(it->it, &klen);
    return klen >= it->plen && memcmp(k, it->prefix, it->plen) == 0;
}

void store_iter_next(struct store_iter *it)
{
    rocksdb_iter_next(it->it);
}

const char *store_iter_key(struct store_iter *it, size_t *len)
{
    return rocksdb_iter_key(it->it, len);
}

const char *store_iter_value(struct store_iter *it, size_t *len)
{
    return rocksdb_iter_value(it->it, len);
}

int store_iter_error(struct store_iter *it, struct gd_err *err)
{
    if (it == NULL)
        return gd_err_set(err, GD_ENOMEM, "store: out of memory (iterator)");
    char *e = NULL;
    rocksdb_iter_get_error(it->it, &e);
    if (e != NULL)
        return rocks_err(err, e, "store: read");
    return 0;
}

void store_iter_free(struct store_iter *it)
{
    if (it == NULL)
        return;
    rocksdb_iter_destroy(it->it);
    rocksdb_readoptions_destroy(it->ro);
    free(it->prefix);
    free(it);
}

/* ------------------------------------------------------------ local meta */

static int meta_name_ok(const char *name)
{
    return name != NULL && name[0] != '\0' && strcmp(name, APPLIED_KEY) != 0;
}

int store_meta_get(struct store *s, const char *name, char **val)
{
    *val = NULL;
    if (!meta_name_ok(name))
        return GD_EINVAL;
    size_t vlen;
    return store_get(s, STORE_CF_META, name, strlen(name), val, &vlen);
}

int store_meta_put(struct store *s, const char *name, const char *val)
{
    if (!meta_name_ok(name) || val == NULL)
        return GD_EINVAL;
    char *e = NULL;
    rocksdb_put_cf(s->db, s->wopts_sync, s->cf[STORE_CF_META], name,
                   strlen(name), val, strlen(val), &e);
    if (e != NULL) {
        rocksdb_free(e);
        return GD_EIO;
    }
    return 0;
}

int store_flush(struct store *s)
{
    rocksdb_flushoptions_t *fo = rocksdb_flushoptions_create();
    rocksdb_flushoptions_set_wait(fo, 1);
    char *e = NULL;
    for (int i = 0; i < STORE_CF__COUNT && e == NULL; i++)
        rocksdb_flush_cf(s->db, fo, s->cf[i], &e);
    rocksdb_flushoptions_destroy(fo);
    if (e == NULL)
        rocksdb_flush_wal(s->db, 1, &e);
    if (e != NULL) {
        rocksdb_free(e);
        return GD_EIO;
    }
    return 0;
}

/* ----------------------------------------------------------------- dumps
 * A minimal msgpack writer and strict reader for the dump layout in
 * store.h.  The writer uses the shortest encodings; the reader accepts any
 * width of the expected type and nothing else. */

#define DUMP_MAGIC "gridesk-store-dump"
#define DUMP_MAGIC_LEN (sizeof DUMP_MAGIC - 1)
#define DUMP_VERSION 1
#define DUMP_HASH_SIZE 9 /* the checksum is always a uint64 (0xcf) */

/* Corruption check over every byte before the checksum.  Each step is a
 * bijection of the running state for a fixed word and of the word for a
 * fixed state, so any change confined to one 8-byte word is always caught;
 * the murmur3 finaliser spreads the result.  Not cryptographic. */
static uint64_t dump_hash(const unsigned char *p, size_t n)
{
    const uint64_t m = 0x9fb21c651e98df25ull;
    uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
    for (; n >= 8; p += 8, n -= 8) {
        uint64_t w = 0;
        for (int i = 7; i >= 0; i--)
            w = w << 8 | p[i];
        h = (h ^ w) * m;
        h = h << 31 | h >> 33;
    }
    uint64_t w = 0;
    for (size_t i = n; i > 0; i--)
        w = w << 8 | p[i - 1];
    h = (h ^ w) * m;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

static size_t mp_uint_size(uint64_t v)
{
    return v < 128 ? 1 : v < 256 ? 2 : v < 65536 ? 3 : v <= UINT32_MAX ? 5 : 9;
}

static size_t mp_arr_size(uint64_t n)
{
    return n < 16 ? 1 : n < 65536 ? 3 : 5;
}

static size_t mp_str_size(size_t n)
{
    return n + (n < 32 ? 1 : n < 256 ? 2 : n < 65536 ? 3 : 5);
}

static size_t mp_bin_size(size_t n)
{
    return n + (n < 256 ? 2 : n < 65536 ? 3 : 5);
}

struct mpw {
    unsigned char *p, *end;
    bool overflow; /* more was written than measured: cannot happen */
};

static void mpw_raw(struct mpw *w, const void *src, size_t n)
{
    if ((size_t)(w->end - w->p) < n) {
        w->overflow = true;
        return;
    }
    if (n > 0)
        memcpy(w->p, src, n);
    w->p += n;
}

static void mpw_be(struct mpw *w, unsigned char tag, uint64_t v, int bytes)
{
    unsigned char b[9];
    b[0] = tag;
    for (int i = bytes; i >= 1; i--, v >>= 8)
        b[i] = (unsigned char)v;
    mpw_raw(w, b, (size_t)bytes + 1);
}

static void mpw_uint(struct mpw *w, uint64_t v)
{
    if (v < 128) {
        unsigned char b = (unsigned char)v;
        mpw_raw(w, &b, 1);
    } else if (v < 256) {
        mpw_be(w, 0xcc, v, 1);
    } else if (v < 65536) {
        mpw_be(w, 0xcd, v, 2);
    } else if (v <= UINT32_MAX) {
        mpw_be(w, 0xce, v, 4);
    } else {
        mpw_be(w, 0xcf, v, 8);
    }
}

static void mpw_arr(struct mpw *w, uint64_t n)
{
    if (n < 16) {
        unsigned char b = (unsigned char)(0x90 | n);
        mpw_raw(w, &b, 1);
    } else if (n < 65536) {
        mpw_be(w, 0xdc, n, 2);
    } else {
        mpw_be(w, 0xdd, n, 4);
    }
}

static void mpw_str(struct mpw *w, const char *s, size_t n)
{
    if (n < 32) {
        unsigned char b = (unsigned char)(0xa0 | n);
        mpw_raw(w, &b, 1);
    } else if (n < 256) {
        mpw_be(w, 0xd9, n, 1);
    } else if (n < 65536) {
        mpw_be(w, 0xda, n, 2);
    } else {
        mpw_be(w, 0xdb, n, 4);
    }
    mpw_raw(w, s, n);
}

static void mpw_bin(struct mpw *w, const char *s, size_t n)
{
    if (n < 256)
        mpw_be(w, 0xc4, n, 1);
    else if (n < 65536)
        mpw_be(w, 0xc5, n, 2);
    else
        mpw_be(w, 0xc6, n, 4);
    mpw_raw(w, s, n);
}

struct mpr {
    const unsigned char *p, *end;
};

/* Reads a big-endian integer of `bytes` bytes after the tag byte. */
static bool mpr_be(struct mpr *r, int bytes, uint64_t *v)
{
    if (r->end - r->p < bytes)
        return false;
    uint64_t x = 0;
    for (int i = 0; i < bytes; i++)
        x = x << 8 | r->p[i];
    r->p += bytes;
    *v = x;
    return true;
}

static bool mpr_uint(struct mpr *r, uint64_t *v)
{
    if (r->p >= r->end)
        return false;
    unsigned char t = *r->p++;
    if (t < 0x80) {
        *v = t;
        return true;
    }
    switch (t) {
    case 0xcc: return mpr_be(r, 1, v);
    case 0xcd: return mpr_be(r, 2, v);
    case 0xce: return mpr_be(r, 4, v);
    case 0xcf: return mpr_be(r, 8, v);
    default: return false;
    }
}

static bool mpr_arr(struct mpr *r, uint64_t *n)
{
    if (r->p >= r->end)
        return false;
    unsigned char t = *r->p++;
    if ((t & 0xf0) == 0x90) {
        *n = t & 0x0f;
        return true;
    }
    switch (t) {
    case 0xdc: return mpr_be(r, 2, n);
    case 0xdd: return mpr_be(r, 4, n);
    default: return false;
    }
}

/* A str (want_bin false) or bin (true); *s points into the buffer. */
static bool mpr_bytes(struct mpr *r, bool want_bin, const char **s, size_t *n)
{
    if (r->p >= r->end)
        return false;
    unsigned char t = *r->p++;
    uint64_t len;
    bool ok;
    if (!want_bin && (t & 0xe0) == 0xa0) {
        len = t & 0x1f;
        ok = true;
    } else if (want_bin) {
        ok = (t == 0xc4 && mpr_be(r, 1, &len)) ||
             (t == 0xc5 && mpr_be(r, 2, &len)) ||
             (t == 0xc6 && mpr_be(r, 4, &len));
    } else {
        ok = (t == 0xd9 && mpr_be(r, 1, &len)) ||
             (t == 0xda && mpr_be(r, 2, &len)) ||
             (t == 0xdb && mpr_be(r, 4, &len));
    }
    if (!ok || (uint64_t)(r->end - r->p) < len)
        return false;
    *s = (const char *)r->p;
    *n = (size_t)len;
    r->p += len;
    return true;
}

/* Called for every pair of a dump being loaded. */
typedef void (*dump_pair_fn)(void *ctx, int cf, const char *k, size_t klen,
                             const char *v, size_t vlen);

/* Parses and validates a whole dump; calls fn (when not NULL) for every pair.
 * Strict: the exact layout, known CF names at most once each, keys strictly
 * ascending within a CF, the checksum, no trailing bytes. */
static int dump_parse(const char *buf, size_t len, uint64_t *applied,
                      dump_pair_fn fn, void *ctx, struct gd_err *err)
{
    struct mpr r = {(const unsigned char *)buf,
                    (const unsigned char *)buf + len};
    uint64_t n, version, ncf;
    const char *s;
    size_t slen;
    if (buf == NULL || !mpr_arr(&r, &n) || n != 5)
        goto bad;
    if (!mpr_bytes(&r, false, &s, &slen) || slen != DUMP_MAGIC_LEN ||
        memcmp(s, DUMP_MAGIC, slen) != 0)
        return gd_err_set(err, GD_ECORRUPT, "store dump: not a store dump");
    if (!mpr_uint(&r, &version))
        goto bad;
    if (version != DUMP_VERSION)
        return gd_err_set(err, GD_ECORRUPT,
                          "store dump: version %llu, expected %d",
                          (unsigned long long)version, DUMP_VERSION);
    if (!mpr_uint(&r, applied) || !mpr_arr(&r, &ncf) ||
        ncf > STORE_CF__COUNT - 1)
        goto bad;
    bool seen[STORE_CF__COUNT] = {false};
    for (uint64_t i = 0; i < ncf; i++) {
        uint64_t two, npairs;
        if (!mpr_arr(&r, &two) || two != 2 || !mpr_bytes(&r, false, &s, &slen))
            goto bad;
        int cf = -1;
        for (int c = STORE_CF_META + 1; c < STORE_CF__COUNT; c++)
            if (strlen(cf_names[c]) == slen &&
                memcmp(cf_names[c], s, slen) == 0)
                cf = c;
        if (cf < 0 || seen[cf])
            return gd_err_set(err, GD_ECORRUPT,
                              "store dump: unknown or repeated column family");
        seen[cf] = true;
        if (!mpr_arr(&r, &npairs) || npairs % 2 != 0)
            goto bad;
        const char *prev = NULL;
        size_t prev_len = 0;
        for (uint64_t j = 0; j < npairs; j += 2) {
            const char *k, *v;
            size_t klen, vlen;
            if (!mpr_bytes(&r, true, &k, &klen) ||
                !mpr_bytes(&r, true, &v, &vlen))
                goto bad;
            if (prev != NULL && key_cmp(prev, prev_len, k, klen) >= 0)
                return gd_err_set(err, GD_ECORRUPT,
                                  "store dump: keys out of order in %s",
                                  cf_names[cf]);
            prev = k;
            prev_len = klen;
            if (fn != NULL)
                fn(ctx, cf, k, klen, v, vlen);
        }
    }
    size_t body = (size_t)(r.p - (const unsigned char *)buf);
    uint64_t sum;
    if (r.end - r.p != DUMP_HASH_SIZE || *r.p != 0xcf || !mpr_uint(&r, &sum))
        goto bad;
    if (sum != dump_hash((const unsigned char *)buf, body))
        return gd_err_set(err, GD_ECORRUPT, "store dump: checksum mismatch");
    return 0;
bad:
    return gd_err_set(err, GD_ECORRUPT,
                      "store dump: malformed or truncated at byte %zu of %zu",
                      (size_t)(r.p - (const unsigned char *)buf), len);
}

int store_dump_index(const char *buf, size_t len, uint64_t *applied_index,
                     struct gd_err *err)
{
    uint64_t idx = 0;
    int rc = dump_parse(buf, len, &idx, NULL, NULL, err);
    if (rc == 0)
        *applied_index = idx;
    return rc;
}

/* One pass over the replicated CFs at snap.  Without w it measures (sizes
 * and pair counts into size/pairs); with w it writes and checks that the
 * pair counts are the measured ones. */
static int dump_pass(struct store *s, const rocksdb_snapshot_t *snap,
                     struct mpw *w, size_t *size, uint64_t pairs[],
                     struct gd_err *err)
{
    for (int cf = STORE_CF_META + 1; cf < STORE_CF__COUNT; cf++) {
        struct store_iter *it = iter_new(s, cf, snap, NULL, 0, NULL, 0);
        if (it == NULL)
            return gd_err_set(err, GD_ENOMEM, "store dump: out of memory");
        if (w != NULL) {
            mpw_arr(w, 2);
            mpw_str(w, cf_names[cf], strlen(cf_names[cf]));
            mpw_arr(w, 2 * pairs[cf]);
        }
        uint64_t np = 0;
        size_t data = 0;
        for (; store_iter_valid(it); store_iter_next(it)) {
            size_t klen, vlen;
            const char *k = store_iter_key(it, &klen);
            const char *v = store_iter_value(it, &vlen);
            if (klen > UINT32_MAX || vlen > UINT32_MAX ||
                np >= UINT32_MAX / 2) {
                store_iter_free(it);
                return gd_err_set(err, GD_ETOOBIG,
                                  "store dump: %s too large for a dump",
                                  cf_names[cf]);
            }
            np++;
            if (w != NULL) {
                if (np > pairs[cf] || w->overflow)
                    break;
                mpw_bin(w, k, klen);
                mpw_bin(w, v, vlen);
            } else {
                data += mp_bin_size(klen) + mp_bin_size(vlen);
            }
        }
        int rc = store_iter_error(it, err);
        store_iter_free(it);
        if (rc != 0)
            return rc;
        if (w == NULL) {
            pairs[cf] = np;
            *size += mp_arr_size(2) + mp_str_size(strlen(cf_names[cf])) +
                     mp_arr_size(2 * np) + data;
        } else if (np != pairs[cf]) { /* cannot happen on a snapshot */
            return gd_err_set(err, GD_EIO, "store dump: snapshot changed");
        }
    }
    return 0;
}

struct store_view {
    const rocksdb_snapshot_t *snap;
};

struct store_view *store_view_take(struct store *s)
{
    struct store_view *v = malloc(sizeof *v);
    if (v != NULL)
        v->snap = rocksdb_create_snapshot(s->db);
    return v;
}

void store_view_release(struct store *s, struct store_view *v)
{
    if (v == NULL)
        return;
    rocksdb_release_snapshot(s->db, v->snap);
    free(v);
}

int store_dump(struct store *s, void *(*alloc)(size_t), char **buf, size_t *len,
               struct gd_err *err)
{
    struct store_view *v = store_view_take(s);
    if (v == NULL) {
        *buf = NULL;
        *len = 0;
        return gd_err_set(err, GD_ENOMEM, "store dump: out of memory");
    }
    int rc = store_dump_view(s, v, alloc, buf, len, err);
    store_view_release(s, v);
    return rc;
}

/* Reads only through its own read options and iterators at the view's
 * snapshot: safe beside the loop's writes. */
int store_dump_view(struct store *s, const struct store_view *view,
                    void *(*alloc)(size_t), char **buf, size_t *len,
                    struct gd_err *err)
{
    *buf = NULL;
    *len = 0;
    const rocksdb_snapshot_t *snap = view->snap;
    rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
    rocksdb_readoptions_set_snapshot(ro, snap);
    uint64_t applied = 0, pairs[STORE_CF__COUNT] = {0};
    char *v;
    size_t vlen;
    int rc =
        get_ro(s, ro, STORE_CF_META, APPLIED_KEY, APPLIED_KEY_LEN, &v, &vlen);
    if (rc == 0) {
        if (vlen == 8)
            applied = store_be64_get((unsigned char *)v);
        else
            rc = gd_err_set(err, GD_ECORRUPT, "store: bad applied index");
        free(v);
    } else if (rc == GD_ENOTFOUND) {
        rc = 0;
    } else {
        rc = gd_err_set(err, rc, "store dump: cannot read the applied index");
    }

    size_t size = mp_arr_size(5) + mp_str_size(DUMP_MAGIC_LEN) +
                  mp_uint_size(DUMP_VERSION) + mp_uint_size(applied) +
                  mp_arr_size(STORE_CF__COUNT - 1) + DUMP_HASH_SIZE;
    if (rc == 0)
        rc = dump_pass(s, snap, NULL, &size, pairs, err);
    char *out = NULL;
    if (rc == 0 && (out = alloc(size)) == NULL)
        rc = gd_err_set(err, GD_ENOMEM, "store dump: cannot allocate %zu bytes",
                        size);
    if (rc == 0) {
        struct mpw w = {(unsigned char *)out, (unsigned char *)out + size,
                        false};
        mpw_arr(&w, 5);
        mpw_str(&w, DUMP_MAGIC, DUMP_MAGIC_LEN);
        mpw_uint(&w, DUMP_VERSION);
        mpw_uint(&w, applied);
        mpw_arr(&w, STORE_CF__COUNT - 1);
        rc = dump_pass(s, snap, &w, NULL, pairs, err);
        size_t body = (size_t)(w.p - (unsigned char *)out);
        if (rc == 0 && (w.overflow || body + DUMP_HASH_SIZE != size))
            rc = gd_err_set(err, GD_EIO, "store dump: snapshot changed");
        if (rc == 0)
            mpw_be(&w, 0xcf, dump_hash((unsigned char *)out, body), 8);
        /* The buffer came from alloc, whose free we do not know: it goes
         * back to the caller even on this (second-pass) failure. */
        *buf = out;
        *len = rc == 0 ? size : 0;
    }
    rocksdb_readoptions_destroy(ro);
    return rc;
}

static void load_pair(void *ctx, int cf, const char *k, size_t klen,
                      const char *v, size_t vlen)
{
    void **c = ctx; /* {rocksdb_writebatch_t *, struct store *} */
    struct store *s = c[1];
    rocksdb_writebatch_put_cf(c[0], s->cf[cf], k, klen, v, vlen);
}

/* Adds to wb the deletion of every key of cf: one range tombstone from the
 * empty key to past both the current last key (last + "\0") and every key
 * that does not start with 64 0xff bytes (no key of ours does: they start
 * with ASCII or UTF-8 text).  A range, whatever the number of keys (a point
 * delete per key made loading 100k tickets over themselves take 3.3 s
 * instead of 1.5 s), and not just the keys this view holds, so that the
 * load removes whatever any older state (files or WAL) could bring back.
 * Puts later in the same batch have higher sequence numbers, so the
 * tombstone does not hide them. */
#define DELETE_ALL_FF 64
static int delete_all(struct store *s, rocksdb_writebatch_t *wb, int cf,
                      struct gd_err *err)
{
    char ff[DELETE_ALL_FF];
    struct store_iter *it = iter_new(s, cf, NULL, NULL, 0, NULL, 0);
    char *end = NULL;
    size_t elen = 0;
    int rc = 0;

    if (it == NULL)
        return gd_err_set(err, GD_ENOMEM, "store load: out of memory");
    memset(ff, 0xff, sizeof ff);
    if (rocksdb_iter_valid(it->it))
        rocksdb_iter_seek_to_last(it->it);
    if (rocksdb_iter_valid(it->it)) {
        size_t llen;
        const char *k = rocksdb_iter_key(it->it, &llen);
        /* last + "\0" when it sorts after the 0xff run (memcmp order) */
        size_t m = llen < DELETE_ALL_FF ? llen : DELETE_ALL_FF;
        int c = memcmp(k, ff, m);
        if (c > 0 || (c == 0 && llen >= DELETE_ALL_FF)) {
            end = malloc(llen + 1);
            if (end == NULL)
                rc = gd_err_set(err, GD_ENOMEM, "store load: out of memory");
            else {
                memcpy(end, k, llen);
                end[llen] = '\0';
                elen = llen + 1;
            }
        }
    }
    if (rc == 0)
        rc = store_iter_error(it, err);
    if (rc == 0)
        rocksdb_writebatch_delete_range_cf(wb, s->cf[cf], "", 0,
                                           end != NULL ? end : ff,
                                           end != NULL ? elen : sizeof ff);
    free(end);
    store_iter_free(it);
    return rc;
}

int store_load(struct store *s, const char *buf, size_t len, struct gd_err *err)
{
    uint64_t applied;
    int rc = dump_parse(buf, len, &applied, NULL, NULL, err);
    if (rc != 0)
        return rc;
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    for (int cf = STORE_CF_META + 1; cf < STORE_CF__COUNT && rc == 0; cf++)
        rc = delete_all(s, wb, cf, err);
    if (rc == 0) {
        void *ctx[2] = {wb, s};
        rc = dump_parse(buf, len, &applied, load_pair, ctx, err);
        assert(rc == 0); /* validated above */
    }
    if (rc == 0) {
        unsigned char idx[8];
        store_be64_put(idx, applied);
        rocksdb_writebatch_put_cf(wb, s->cf[STORE_CF_META], APPLIED_KEY,
                                  APPLIED_KEY_LEN, (char *)idx, sizeof idx);
        char *e = NULL;
        rocksdb_write(s->db, s->wopts_sync, wb, &e);
        if (e != NULL)
            rc = rocks_err(err, e, "store load: write");
        else
            __atomic_store_n(&s->applied, applied, __ATOMIC_RELEASE);
    }
    rocksdb_writebatch_destroy(wb);
    return rc;
}
