/* Unit tests for storage/: the RocksDB layer (batches, applied index,
 * iteration, dump/load), ticket key layouts and indexes, and records.  Each
 * test works in its own temp directory under /tmp, removed at the end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <rocksdb/c.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/command.h"
#include "core/event.h"
#include "core/ticket.h"
#include "storage/records.h"
#include "storage/store.h"
#include "storage/tickets.h"
#include "same_store.h"

/* ------------------------------------------------------------- helpers */

static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw)
{
    return remove(path);
}

static void rm_rf(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

struct tmp {
    char dir[64];
};

static void tmp_make(struct tmp *t)
{
    strcpy(t->dir, "/tmp/gd-test-store-XXXXXX");
    assert_non_null(mkdtemp(t->dir));
}

/* A path inside t (a static buffer per slot: at most 4 alive). */
static const char *tmp_path(struct tmp *t, const char *name)
{
    static char bufs[4][128];
    static int slot;
    char *b = bufs[slot++ % 4];
    snprintf(b, 128, "%s/%s", t->dir, name);
    return b;
}

static struct store *open_store(const char *dir)
{
    struct store *s = NULL;
    struct gd_err err = {0};
    int rc = store_open(dir, &s, &err);
    if (rc != 0)
        fail_msg("store_open %s: %d %s", dir, rc, err.msg);
    return s;
}

static void commit(struct store *s, struct store_batch *b, uint64_t idx)
{
    struct gd_err err = {0};
    int rc = store_batch_commit(s, b, idx, &err);
    if (rc != 0)
        fail_msg("commit: %d %s", rc, err.msg);
}

static void put1(struct store *s, int cf, const char *k, const char *v,
                 uint64_t idx)
{
    struct store_batch *b = store_batch_new();
    assert_non_null(b);
    store_batch_put(b, cf, k, strlen(k), v, strlen(v));
    commit(s, b, idx);
    store_batch_free(b);
}

/* Asserts cf[k] == v (v NULL: absent). */
static void expect(struct store *s, int cf, const char *k, const char *v)
{
    char *got = NULL;
    size_t n = 0;
    int rc = store_get(s, cf, k, strlen(k), &got, &n);
    if (v == NULL) {
        assert_int_equal(rc, GD_ENOTFOUND);
        assert_null(got);
        return;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(n, strlen(v));
    assert_memory_equal(got, v, n);
    assert_int_equal(got[n], '\0');
    free(got);
}

/* Every pair of cf as one malloc'd blob (<klen><k><vlen><v>...), to compare
 * whole column families. */
static char *cf_blob(struct store *s, int cf, size_t *len, size_t *pairs)
{
    size_t cap = 1024, n = 0;
    char *b = malloc(cap);
    assert_non_null(b);
    *pairs = 0;
    struct store_iter *it = store_iter_new(s, cf, NULL, 0, NULL, 0);
    assert_non_null(it);
    for (; store_iter_valid(it); store_iter_next(it)) {
        size_t kl, vl;
        const char *k = store_iter_key(it, &kl);
        const char *v = store_iter_value(it, &vl);
        while (cap - n < kl + vl + 2 * sizeof(size_t)) {
            cap *= 2;
            b = realloc(b, cap);
            assert_non_null(b);
        }
        memcpy(b + n, &kl, sizeof kl);
        memcpy(b + n + sizeof kl, k, kl);
        n += sizeof kl + kl;
        memcpy(b + n, &vl, sizeof vl);
        memcpy(b + n + sizeof vl, v, vl);
        n += sizeof vl + vl;
        (*pairs)++;
    }
    assert_int_equal(store_iter_error(it, NULL), 0);
    store_iter_free(it);
    *len = n;
    return b;
}

static void expect_same_cfs(struct store *a, struct store *b)
{
    for (int cf = STORE_CF_META + 1; cf < STORE_CF__COUNT; cf++) {
        size_t la, lb, pa, pb;
        char *ba = cf_blob(a, cf, &la, &pa);
        char *bb = cf_blob(b, cf, &lb, &pb);
        assert_int_equal(pa, pb);
        assert_int_equal(la, lb);
        assert_memory_equal(ba, bb, la);
        free(ba);
        free(bb);
    }
    assert_int_equal(store_applied_index(a), store_applied_index(b));
}

static size_t cf_count(struct store *s, int cf, const void *prefix, size_t plen)
{
    size_t n = 0;
    struct store_iter *it = store_iter_new(s, cf, prefix, plen, NULL, 0);
    assert_non_null(it);
    for (; store_iter_valid(it); store_iter_next(it))
        n++;
    store_iter_free(it);
    return n;
}

static char *xstrdup(const char *s)
{
    char *d = strdup(s);
    assert_non_null(d);
    return d;
}

static void make_ticket(struct ticket *t, const char *id, const char *customer,
                        int status, uint64_t hlc)
{
    ticket_init(t);
    t->id = xstrdup(id);
    t->customer = customer != NULL ? xstrdup(customer) : NULL;
    t->cls = xstrdup("fault_repair");
    t->channel = xstrdup("hotline");
    t->summary = xstrdup("停电 no power");
    t->created_by = xstrdup("agent1");
    t->node = xstrdup("N1");
    t->status = status;
    t->created_hlc = hlc;
    t->updated_hlc = hlc;
    strcpy(t->last_event.origin, "N1");
    t->last_event.hlc = hlc;
    t->n_events = 1;
}

static void put_ticket(struct store *s, const struct ticket *old,
                       const struct ticket *nw, uint64_t idx)
{
    struct store_batch *b = store_batch_new();
    assert_non_null(b);
    assert_int_equal(store_ticket_put(b, old, nw), 0);
    commit(s, b, idx);
    store_batch_free(b);
}

/* --------------------------------------------------------- store core */

static void test_commit_and_reopen(void **state)
{
    struct tmp t;
    tmp_make(&t);
    const char *dir = tmp_path(&t, "a/b/db"); /* store_open makes parents */
    struct store *s = open_store(dir);
    assert_int_equal(store_applied_index(s), 0);

    struct store_batch *b = store_batch_new();
    assert_non_null(b);
    store_batch_put(b, STORE_CF_TICKETS, "t1", 2, "one", 3);
    store_batch_put(b, STORE_CF_USERS, "u1", 2, "", 0); /* empty value */
    store_batch_put(b, STORE_CF_COUNTERS, "c", 1, "x", 1);
    store_batch_delete(b, STORE_CF_COUNTERS, "c", 1); /* order is kept */
    assert_int_equal(store_batch_count(b), 4);
    commit(s, b, 7);
    store_batch_free(b);
    assert_int_equal(store_applied_index(s), 7);

    put1(s, STORE_CF_TICKETS, "t2", "two", 0); /* 0: index unchanged */
    assert_int_equal(store_applied_index(s), 7);
    assert_int_equal(store_meta_put(s, "node_id", "3"), 0);
    assert_int_equal(store_meta_put(s, "applied_index", "9"), GD_EINVAL);
    char *v = NULL;
    assert_int_equal(store_meta_get(s, "applied_index", &v), GD_EINVAL);
    assert_int_equal(store_meta_get(s, "cluster_id", &v), GD_ENOTFOUND);
    assert_int_equal(store_get(s, STORE_CF__COUNT, "t1", 2, &v, &(size_t){0}),
                     GD_EINVAL);
    store_close(s);

    s = open_store(dir);
    assert_int_equal(store_applied_index(s), 7);
    expect(s, STORE_CF_TICKETS, "t1", "one");
    expect(s, STORE_CF_TICKETS, "t2", "two");
    expect(s, STORE_CF_USERS, "u1", "");
    expect(s, STORE_CF_COUNTERS, "c", NULL);
    expect(s, STORE_CF_EVENTS, "t1", NULL); /* CFs are separate */
    assert_int_equal(store_meta_get(s, "node_id", &v), 0);
    assert_string_equal(v, "3");
    free(v);
    put1(s, STORE_CF_TICKETS, "t3", "three", 8);
    assert_int_equal(store_flush(s), 0);
    store_close(s);

    s = open_store(dir); /* after a flush: from SST files */
    assert_int_equal(store_applied_index(s), 8);
    expect(s, STORE_CF_TICKETS, "t3", "three");
    store_close(s);
    rm_rf(t.dir);
}

/* A database that a newer version gave an extra column family still opens;
 * a malformed applied index and a non-directory are clear errors. */
static void test_open_edge_cases(void **state)
{
    struct tmp t;
    tmp_make(&t);
    struct gd_err err = {0};
    struct store *s = NULL;
    const char *file = tmp_path(&t, "file");
    int fd = open(file, O_CREAT | O_WRONLY, 0644);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(store_open(file, &s, &err), GD_EIO);
    assert_null(s);

    const char *dir = tmp_path(&t, "db");
    s = open_store(dir);
    put1(s, STORE_CF_TICKETS, "t", "v", 3);
    store_close(s);
    rocksdb_options_t *o = rocksdb_options_create();
    const char *names[] = {"default", "tickets",  "events", "index",
                           "users",   "members",  "counters", "kb",
                           "search"};
    enum { NCF = sizeof names / sizeof names[0] };
    const rocksdb_options_t *opts[NCF] = {o, o, o, o, o, o, o, o, o};
    rocksdb_column_family_handle_t *h[NCF];
    char *e = NULL;
    rocksdb_t *db = rocksdb_open_column_families(o, dir, NCF, names, opts, h, &e);
    assert_null(e);
    rocksdb_column_family_handle_t *fut =
        rocksdb_create_column_family(db, o, "future", &e);
    assert_null(e);
    rocksdb_column_family_handle_destroy(fut);
    rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
    rocksdb_put(db, wo, "applied_index", 13, "abc", 3, &e);
    assert_null(e);
    for (int i = 0; i < NCF; i++)
        rocksdb_column_family_handle_destroy(h[i]);
    rocksdb_close(db);
    assert_int_equal(store_open(dir, &s, &err), GD_ECORRUPT);
    assert_null(s);

    db = rocksdb_open_column_families(o, dir, NCF, names, opts, h, &e);
    assert_non_null(e); /* "future" must be named too */
    rocksdb_free(e);
    e = NULL;
    const char *names8[] = {"default", "tickets",  "events", "index",
                            "users",   "members",  "counters", "kb",
                            "search",  "future"};
    const rocksdb_options_t *opts8[NCF + 1] = {o, o, o, o, o, o, o, o, o, o};
    rocksdb_column_family_handle_t *h8[NCF + 1];
    db = rocksdb_open_column_families(o, dir, NCF + 1, names8, opts8, h8, &e);
    assert_null(e);
    rocksdb_delete(db, wo, "applied_index", 13, &e);
    assert_null(e);
    rocksdb_writeoptions_destroy(wo);
    for (int i = 0; i < NCF + 1; i++)
        rocksdb_column_family_handle_destroy(h8[i]);
    rocksdb_close(db);
    rocksdb_options_destroy(o);
    s = open_store(dir); /* with "future" opened and left alone */
    expect(s, STORE_CF_TICKETS, "t", "v");
    assert_int_equal(store_applied_index(s), 0);
    store_close(s);
    rm_rf(t.dir);
}

static void test_batch_invisible_until_commit(void **state)
{
    struct tmp t;
    tmp_make(&t);
    struct store *s = open_store(t.dir);
    put1(s, STORE_CF_TICKETS, "k0", "old", 1);
    struct store_batch *b = store_batch_new();
    assert_non_null(b);
    for (int i = 0; i < 100; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%d", i);
        store_batch_put(b, STORE_CF_TICKETS, k, strlen(k), "new", 3);
        store_batch_put(b, STORE_CF_INDEX, k, strlen(k), "", 0);
    }
    expect(s, STORE_CF_TICKETS, "k0", "old");
    expect(s, STORE_CF_TICKETS, "k99", NULL);
    assert_int_equal(cf_count(s, STORE_CF_INDEX, NULL, 0), 0);
    assert_int_equal(store_applied_index(s), 1);
    commit(s, b, 2);
    store_batch_free(b);
    expect(s, STORE_CF_TICKETS, "k0", "new");
    assert_int_equal(cf_count(s, STORE_CF_TICKETS, NULL, 0), 100);
    assert_int_equal(cf_count(s, STORE_CF_INDEX, NULL, 0), 100);
    store_close(s);
    rm_rf(t.dir);
}

/* The commit hands the operations to RocksDB sorted by (CF, key); the
 * outcome must still be that of applying them in batch order: for one key
 * the last operation wins, whatever other keys sort between them. */
static void test_batch_order_per_key_kept(void **state)
{
    struct tmp t;
    tmp_make(&t);
    struct store *s = open_store(t.dir);
    put1(s, STORE_CF_TICKETS, "gone", "old", 1);
    struct store_batch *b = store_batch_new();
    assert_non_null(b);
    store_batch_put(b, STORE_CF_TICKETS, "z", 1, "1", 1);
    store_batch_put(b, STORE_CF_TICKETS, "a", 1, "1", 1);
    store_batch_delete(b, STORE_CF_TICKETS, "z", 1); /* z: put, delete */
    store_batch_put(b, STORE_CF_INDEX, "z", 1, "x", 1);
    store_batch_put(b, STORE_CF_TICKETS, "a", 1, "2", 1); /* a: 1 then 2 */
    store_batch_delete(b, STORE_CF_TICKETS, "gone", 4);
    store_batch_put(b, STORE_CF_TICKETS, "gone", 4, "back", 4); /* del, put */
    store_batch_put(b, STORE_CF_TICKETS, "m", 1, "1", 1);
    store_batch_delete(b, STORE_CF_TICKETS, "m", 1);
    store_batch_put(b, STORE_CF_TICKETS, "m", 1, "3", 1); /* put, del, put */
    commit(s, b, 2);
    store_batch_free(b);
    expect(s, STORE_CF_TICKETS, "z", NULL);
    expect(s, STORE_CF_INDEX, "z", "x");
    expect(s, STORE_CF_TICKETS, "a", "2");
    expect(s, STORE_CF_TICKETS, "gone", "back");
    expect(s, STORE_CF_TICKETS, "m", "3");
    assert_int_equal(store_applied_index(s), 2);
    store_close(s);
    rm_rf(t.dir);
}

/* Sorting a batch (by CF, then by key through its first byte and 8-byte
 * prefix, same keys in batch order) must not change what it writes: 600
 * random puts and deletes over keys that differ in length, in NUL bytes,
 * past the 8-byte prefix and in high bytes, across three CFs, committed as
 * one batch, leave the store byte-identical to the same operations
 * committed one at a time (a batch of one is never sorted). */
static void test_batch_sort_same_as_one_by_one(void **state)
{
    static const struct { const char *k; size_t n; } keys[] = {
        {"", 0}, {"\0", 1}, {"\0\0", 2}, {"a", 1}, {"a\0", 2}, {"ab", 2},
        {"abcdefgh", 8}, {"abcdefgh\0", 9}, {"abcdefghi", 9},
        {"abcdefgha", 9}, {"abcdefg", 7}, {"\xff", 1}, {"\xff\xff\xff", 3},
        {"s\0new\0\0\0\1", 10}, {"s\0new\0\0\0\2", 10}, {"c\0C1", 4},
        {"GD-20261123-10000", 17}, {"GD-20261123-1000", 16},
        {"GD-20261123-1001", 16}, {"\x80", 1},
    };
    const int cfs[] = {STORE_CF_TICKETS, STORE_CF_INDEX, STORE_CF_EVENTS};
    struct tmp ta, tb;
    tmp_make(&ta);
    tmp_make(&tb);
    struct store *sa = open_store(ta.dir), *sb = open_store(tb.dir);
    struct store_batch *all = store_batch_new();
    assert_non_null(all);
    unsigned seed = 12345;
    for (int i = 0; i < 600; i++) {
        seed = seed * 1103515245u + 12345u;
        unsigned r = seed >> 8;
        size_t ki = r % (sizeof keys / sizeof keys[0]);
        int cf = cfs[(r / 32) % 3];
        int del = (r / 128) % 4 == 0;
        /* a key of the table, or it with one more byte (0-7 or 0xf8-0xff):
         * most keys get one operation, some several */
        char k[32], v[16];
        size_t kn = keys[ki].n;
        memcpy(k, keys[ki].k, kn);
        if ((r / 512) % 4 != 0)
            k[kn++] = (char)((r / 2048) % 2 ? (r / 4096) % 8 : 0xf8 + (r / 4096) % 8);
        int vn = snprintf(v, sizeof v, "v%d", i);
        struct store_batch *one = store_batch_new();
        assert_non_null(one);
        if (del) {
            store_batch_delete(all, cf, k, kn);
            store_batch_delete(one, cf, k, kn);
        } else {
            store_batch_put(all, cf, k, kn, v, (size_t)vn);
            store_batch_put(one, cf, k, kn, v, (size_t)vn);
        }
        commit(sb, one, 0);
        store_batch_free(one);
    }
    commit(sa, all, 9);
    store_batch_free(all);
    struct store_batch *none = store_batch_new();
    assert_non_null(none);
    commit(sb, none, 9);
    store_batch_free(none);
    assert_same_store(sa, sb);
    store_close(sa);
    store_close(sb);
    rm_rf(ta.dir);
    rm_rf(tb.dir);
}

#define CRASH_KEYS 40

/* Commits batch i (CRASH_KEYS tickets "b<i>.<j>" + counter "last" = i,
 * applied index i): batches 1..20 here, then a close; a child reopens the
 * store and goes on until SIGKILL.  Whatever the moment of the kill, the
 * reopened store must hold exactly batches 1..applied, whole, applied at
 * least 20, and nothing above.  (The child never needs a flush: RocksDB's
 * background threads do not exist in a forked child.) */
static void commit_crash_batch(struct store *s, uint64_t i)
{
    struct store_batch *b = store_batch_new();
    if (b == NULL)
        _exit(3);
    for (int j = 0; j < CRASH_KEYS; j++) {
        char k[48];
        snprintf(k, sizeof k, "b%llu.%d", (unsigned long long)i, j);
        store_batch_put(b, STORE_CF_TICKETS, k, strlen(k), k, strlen(k));
    }
    store_counter_put(b, "last", i);
    if (store_batch_commit(s, b, i, NULL) != 0)
        _exit(4);
    store_batch_free(b);
}

static void test_batch_atomic_across_kill(void **state)
{
    struct tmp t;
    tmp_make(&t);
    struct store *s0 = open_store(t.dir);
    for (uint64_t i = 1; i <= 20; i++)
        commit_crash_batch(s0, i);
    store_close(s0);
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(pfd[0]);
        struct store *s = NULL;
        if (store_open(t.dir, &s, NULL) != 0 || store_applied_index(s) != 20)
            _exit(2);
        if (write(pfd[1], "x", 1) != 1)
            _exit(5);
        for (uint64_t i = 21;; i++)
            commit_crash_batch(s, i);
    }
    close(pfd[1]);
    char c;
    assert_int_equal(read(pfd[0], &c, 1), 1); /* the child writes on */
    close(pfd[0]);
    usleep(30000);
    kill(pid, SIGKILL);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));

    struct store *s = open_store(t.dir);
    uint64_t applied = store_applied_index(s), last = 0;
    assert_true(applied >= 20);
    assert_int_equal(store_counter_get(s, "last", &last), 0);
    assert_int_equal(last, applied);
    assert_int_equal(cf_count(s, STORE_CF_TICKETS, NULL, 0),
                     applied * CRASH_KEYS);
    char k[48];
    snprintf(k, sizeof k, "b%llu.%d", (unsigned long long)applied,
             CRASH_KEYS - 1);
    expect(s, STORE_CF_TICKETS, k, k);
    snprintf(k, sizeof k, "b%llu.0", (unsigned long long)applied + 1);
    expect(s, STORE_CF_TICKETS, k, NULL);
    print_message("      after the kill: batches 1..%llu\n",
                  (unsigned long long)applied);
    store_close(s);
    rm_rf(t.dir);
}

/* store_load over a store whose memtable deleted a key the SST files still
 * hold, then a kill before any flush: after reopening, the store is exactly
 * the loaded state, and no key of the older state comes back. */
static void test_load_then_kill_leaves_no_stale_key(void **state)
{
    struct tmp t;
    tmp_make(&t);
    const char *src_dir = tmp_path(&t, "src");
    const char *dir = tmp_path(&t, "db");
    struct gd_err err = {0};
    char *dump = NULL;
    size_t dump_len = 0;

    struct store *src = open_store(src_dir);
    put1(src, STORE_CF_TICKETS, "m5", "five", 5);
    assert_int_equal(store_dump(src, malloc, &dump, &dump_len, &err), 0);
    store_close(src);

    struct store *s = open_store(dir);
    put1(s, STORE_CF_TICKETS, "a1", "one", 1);
    put1(s, STORE_CF_TICKETS, "z9", "nine", 1);
    put1(s, STORE_CF_EVENTS, "\xfe", "high", 1);
    store_close(s); /* flushed: a1, z9 and \xfe are in SST files */

    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct store *c = NULL;
        if (store_open(dir, &c, NULL) != 0)
            _exit(2);
        struct store_batch *b = store_batch_new();
        if (b == NULL)
            _exit(3);
        store_batch_delete(b, STORE_CF_TICKETS, "a1", 2);
        store_batch_delete(b, STORE_CF_EVENTS, "\xfe", 1);
        if (store_batch_commit(c, b, 2, NULL) != 0) /* not flushed */
            _exit(4);
        store_batch_free(b);
        if (store_load(c, dump, dump_len, NULL) != 0)
            _exit(5);
        raise(SIGKILL);
        _exit(6);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);

    s = open_store(dir);
    assert_int_equal(store_applied_index(s), 5);
    expect(s, STORE_CF_TICKETS, "m5", "five");
    expect(s, STORE_CF_TICKETS, "a1", NULL);
    expect(s, STORE_CF_TICKETS, "z9", NULL);
    expect(s, STORE_CF_EVENTS, "\xfe", NULL);
    assert_int_equal(cf_count(s, STORE_CF_TICKETS, NULL, 0), 1);
    store_close(s);
    free(dump);
    rm_rf(t.dir);
}

/* Collects the keys an iterator yields, joined with '|'. */
static void iter_keys(struct store *s, const char *prefix, size_t plen,
                      const char *start, size_t slen, char *out, size_t cap)
{
    out[0] = '\0';
    struct store_iter *it =
        store_iter_new(s, STORE_CF_INDEX, prefix, plen, start, slen);
    assert_non_null(it);
    for (; store_iter_valid(it); store_iter_next(it)) {
        size_t kl;
        const char *k = store_iter_key(it, &kl);
        char tmp[32];
        size_t o = 0;
        for (size_t i = 0; i < kl && o + 4 < sizeof tmp; i++)
            o += (size_t)snprintf(
                tmp + o, sizeof tmp - o,
                (unsigned char)k[i] < 0x80 && k[i] > 0x20 ? "%c" : "%%%02x",
                (unsigned char)k[i]);
        tmp[o] = '\0';
        if (out[0] != '\0')
            strncat(out, "|", cap - strlen(out) - 1);
        strncat(out, tmp, cap - strlen(out) - 1);
    }
    assert_int_equal(store_iter_error(it, NULL), 0);
    store_iter_free(it);
}

static void test_iter_prefix_and_start(void **state)
{
    struct tmp t;
    tmp_make(&t);
    struct store *s = open_store(t.dir);
    static const char *keys[] = {"a",        "ab",           "abc",
                                 "ab\xff",   "ac",           "b",
                                 "\xff\xff", "\xff\xff\x01", "ab\xff\xff"};
    struct store_batch *b = store_batch_new();
    assert_non_null(b);
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        store_batch_put(b, STORE_CF_INDEX, keys[i], strlen(keys[i]), "", 0);
    store_batch_put(b, STORE_CF_TICKETS, "ab", 2, "", 0); /* other CF */
    commit(s, b, 1);
    store_batch_free(b);

    char got[256];
    iter_keys(s, NULL, 0, NULL, 0, got, sizeof got);
    assert_string_equal(got, "a|ab|abc|ab%ff|ab%ff%ff|ac|b|%ff%ff|%ff%ff%01");
    iter_keys(s, "ab", 2, NULL, 0, got, sizeof got);
    assert_string_equal(got, "ab|abc|ab%ff|ab%ff%ff");
    iter_keys(s, "ab", 2, "abd", 3, got, sizeof got);
    assert_string_equal(got, "ab%ff|ab%ff%ff");
    iter_keys(s, "ab", 2, "a", 1, got, sizeof got); /* start < prefix */
    assert_string_equal(got, "ab|abc|ab%ff|ab%ff%ff");
    iter_keys(s, "ab", 2, "b", 1, got, sizeof got); /* start past prefix */
    assert_string_equal(got, "");
    iter_keys(s, "ab\xff", 3, NULL, 0, got, sizeof got);
    assert_string_equal(got, "ab%ff|ab%ff%ff");
    iter_keys(s, "\xff\xff", 2, NULL, 0, got, sizeof got); /* no bound */
    assert_string_equal(got, "%ff%ff|%ff%ff%01");
    iter_keys(s, NULL, 0, "ac", 2, got, sizeof got);
    assert_string_equal(got, "ac|b|%ff%ff|%ff%ff%01");
    iter_keys(s, "zz", 2, NULL, 0, got, sizeof got);
    assert_string_equal(got, "");

    /* An iterator sees the state as of its creation. */
    struct store_iter *it = store_iter_new(s, STORE_CF_INDEX, "ab", 2, NULL, 0);
    put1(s, STORE_CF_INDEX, "abb", "", 2);
    size_t n = 0;
    for (; store_iter_valid(it); store_iter_next(it))
        n++;
    store_iter_free(it);
    assert_int_equal(n, 4);
    assert_int_equal(cf_count(s, STORE_CF_INDEX, "ab", 2), 5);
    assert_null(store_iter_new(s, -1, NULL, 0, NULL, 0));
    assert_false(store_iter_valid(NULL));
    store_close(s);
    rm_rf(t.dir);
}

/* ------------------------------------------------------- dump and load */

/* Tickets, events, users, members, cluster, counters and local meta. */
static void populate(struct store *s, int n, uint64_t idx)
{
    struct store_batch *b = store_batch_new();
    assert_non_null(b);
    for (int i = 0; i < n; i++) {
        char id[32];
        snprintf(id, sizeof id, "ZQ-20261122-%04d", i);
        struct ticket tk;
        make_ticket(&tk, id, i % 3 ? "C1" : "C2", i % 5, 1000 + (uint64_t)i);
        assert_int_equal(store_ticket_put(b, NULL, &tk), 0);
        ticket_clear(&tk);
        struct event ev;
        event_init(&ev);
        strcpy(ev.id.origin, "N1");
        ev.id.hlc = 1000 + (uint64_t)i;
        ev.type = EVENT_TICKET_COMMENT;
        ev.entity = xstrdup(id);
        ev.actor = xstrdup("agent1");
        ev.text = xstrdup("called back");
        assert_int_equal(store_event_put(b, id, &ev), 0);
        event_clear(&ev);
    }
    struct user_rec u;
    user_rec_init(&u);
    u.name = xstrdup("admin");
    u.role = xstrdup("admin");
    u.pwhash = xstrdup("$argon2id$x");
    u.hlc = 5;
    assert_int_equal(store_user_put(b, &u), 0);
    user_rec_clear(&u);
    struct member_rec m;
    member_rec_init(&m);
    m.id = 1;
    m.raft = xstrdup("127.0.0.1:7001");
    m.http = xstrdup("127.0.0.1:8001");
    assert_int_equal(store_member_put(b, &m), 0);
    member_rec_clear(&m);
    struct cluster_rec c;
    cluster_rec_init(&c);
    c.cluster_id = xstrdup("c-1");
    c.region = xstrdup("zq");
    memset(c.secret, 0xab, sizeof c.secret);
    assert_int_equal(store_cluster_put(b, &c), 0);
    cluster_rec_clear(&c);
    store_counter_put(b, "tickets", (uint64_t)n);
    commit(s, b, idx);
    store_batch_free(b);
}

static void *fail_alloc(size_t n)
{
    return NULL;
}

static void test_dump_load_roundtrip(void **state)
{
    struct tmp t;
    tmp_make(&t);
    struct store *a = open_store(tmp_path(&t, "a"));
    struct store *b = open_store(tmp_path(&t, "b"));
    populate(a, 300, 42);
    assert_int_equal(store_meta_put(a, "node_id", "1"), 0);
    /* b has other state, which the load must replace entirely. */
    populate(b, 7, 3);
    put1(b, STORE_CF_TICKETS, "only-in-b", "x", 4);
    put1(b, STORE_CF_EVENTS, "only-in-b", "x", 0);
    assert_int_equal(store_meta_put(b, "node_id", "2"), 0);

    char *buf = NULL;
    size_t len = 0;
    struct gd_err err = {0};
    assert_int_equal(store_dump(a, malloc, &buf, &len, &err), 0);
    assert_non_null(buf);
    uint64_t idx = 0;
    assert_int_equal(store_dump_index(buf, len, &idx, &err), 0);
    assert_int_equal(idx, 42);
    int rc = store_load(b, buf, len, &err);
    if (rc != 0)
        fail_msg("load: %d %s", rc, err.msg);
    expect_same_cfs(a, b);
    assert_int_equal(store_applied_index(b), 42);
    expect(b, STORE_CF_TICKETS, "only-in-b", NULL);
    char *v = NULL;
    assert_int_equal(store_meta_get(b, "node_id", &v), 0); /* local: kept */
    assert_string_equal(v, "2");
    free(v);

    /* The dump of the loaded store is the same bytes. */
    char *buf2 = NULL;
    size_t len2 = 0;
    assert_int_equal(store_dump(b, malloc, &buf2, &len2, &err), 0);
    assert_int_equal(len2, len);
    assert_memory_equal(buf2, buf, len);
    free(buf2);

    /* The loaded state survives a reopen (the load is synced). */
    store_close(b);
    b = open_store(tmp_path(&t, "b"));
    expect_same_cfs(a, b);
    assert_int_equal(store_ticket_count(b), 300);

    /* An allocator that fails: GD_ENOMEM and no buffer. */
    char *nobuf = (char *)1;
    assert_int_equal(store_dump(a, fail_alloc, &nobuf, &len2, &err), GD_ENOMEM);
    assert_null(nobuf);

    /* An empty store dumps and loads too (and empties b). */
    struct store *e = open_store(tmp_path(&t, "e"));
    free(buf);
    assert_int_equal(store_dump(e, malloc, &buf, &len, &err), 0);
    assert_int_equal(store_dump_index(buf, len, &idx, &err), 0);
    assert_int_equal(idx, 0);
    assert_int_equal(store_load(b, buf, len, &err), 0);
    expect_same_cfs(e, b);
    assert_int_equal(store_ticket_count(b), 0);
    free(buf);
    store_close(e);
    store_close(a);
    store_close(b);
    rm_rf(t.dir);
}

static void test_load_corrupt_changes_nothing(void **state)
{
    struct tmp t;
    tmp_make(&t);
    struct store *a = open_store(tmp_path(&t, "a"));
    struct store *b = open_store(tmp_path(&t, "b"));
    struct store *ref = open_store(tmp_path(&t, "ref"));
    populate(a, 20, 9);
    populate(b, 5, 2);
    populate(ref, 5, 2);

    char *buf = NULL;
    size_t len = 0;
    struct gd_err err = {0};
    assert_int_equal(store_dump(a, malloc, &buf, &len, &err), 0);
    uint64_t idx;
    /* Every truncation, every single-byte change, and trailing bytes. */
    for (size_t n = 0; n < len; n++) {
        assert_int_equal(store_dump_index(buf, n, &idx, &err), GD_ECORRUPT);
        assert_int_equal(store_load(b, buf, n, &err), GD_ECORRUPT);
    }
    for (size_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit += 3) {
            buf[i] ^= (char)(1 << bit);
            assert_int_equal(store_load(b, buf, len, &err), GD_ECORRUPT);
            buf[i] ^= (char)(1 << bit);
        }
    }
    char *longer = malloc(len + 1);
    assert_non_null(longer);
    memcpy(longer, buf, len);
    longer[len] = 0;
    assert_int_equal(store_load(b, longer, len + 1, &err), GD_ECORRUPT);
    free(longer);
    assert_int_equal(store_load(b, NULL, 0, &err), GD_ECORRUPT);
    assert_int_equal(store_load(b, "\x93\x01\x02\x03", 4, &err), GD_ECORRUPT);
    expect_same_cfs(b, ref);
    assert_int_equal(store_applied_index(b), 2);
    /* And the intact dump still loads. */
    assert_int_equal(store_load(b, buf, len, &err), 0);
    expect_same_cfs(a, b);
    free(buf);
    store_close(a);
    store_close(b);
    store_close(ref);
    rm_rf(t.dir);
}

/* ------------------------------------------------------------- tickets */

static void test_ticket_put_get_and_index(void **state)
{
    struct tmp t;
    tmp_make(&t);
    struct store *s = open_store(t.dir);
    struct ticket t1, got;
    struct gd_err err = {0};
    make_ticket(&t1, "ZQ-20261122-0001", "C100", TICKET_NEW, 5000);
    put_ticket(s, NULL, &t1, 1);
    assert_int_equal(store_ticket_get(s, "ZQ-20261122-0001", &got, &err), 0);
    assert_string_equal(got.id, t1.id);
    assert_string_equal(got.customer, "C100");
    assert_string_equal(got.summary, t1.summary);
    assert_int_equal(got.created_hlc, 5000);
    ticket_clear(&got);
    assert_int_equal(store_ticket_get(s, "nope", &got, &err), GD_ENOTFOUND);
    assert_int_equal(store_ticket_get(s, "", &got, &err), GD_EINVAL);
    assert_int_equal(cf_count(s, STORE_CF_INDEX, "a", 2), 1);
    assert_int_equal(cf_count(s, STORE_CF_INDEX, "s\0new", 6), 1);
    assert_int_equal(cf_count(s, STORE_CF_INDEX, "c\0C100", 7), 1);

    /* Status change: the old status key goes, the others stay. */
    struct ticket t2;
    make_ticket(&t2, "ZQ-20261122-0001", "C100", TICKET_ACCEPTED, 5000);
    t2.owner = xstrdup("agent7");
    struct store_batch *b = store_batch_new();
    assert_non_null(b);
    assert_int_equal(store_ticket_put(b, &t1, &t2), 0);
    assert_int_equal(store_batch_count(b), 3); /* ticket, -s, +s */
    commit(s, b, 2);
    store_batch_free(b);
    assert_int_equal(cf_count(s, STORE_CF_INDEX, "s\0new", 6), 0);
    assert_int_equal(cf_count(s, STORE_CF_INDEX, "s\0accepted", 11), 1);
    assert_int_equal(cf_count(s, STORE_CF_INDEX, NULL, 0), 3);
    assert_int_equal(store_ticket_get(s, t1.id, &got, &err), 0);
    assert_int_equal(got.status, TICKET_ACCEPTED);
    assert_string_equal(got.owner, "agent7");
    ticket_clear(&got);

    /* Customer change; then no customer at all. */
    struct ticket t3;
    make_ticket(&t3, "ZQ-20261122-0001", "C200", TICKET_ACCEPTED, 5000);
    put_ticket(s, &t2, &t3, 3);
    assert_int_equal(cf_count(s, STORE_CF_INDEX, "c\0C100", 7), 0);
    assert_int_equal(cf_count(s, STORE_CF_INDEX, "c\0C200", 7), 1);
    struct ticket t4;
    make_ticket(&t4, "ZQ-20261122-0001", NULL, TICKET_ACCEPTED, 5000);
    put_ticket(s, &t3, &t4, 4);
    assert_int_equal(cf_count(s, STORE_CF_INDEX, "c", 1), 0);
    assert_int_equal(cf_count(s, STORE_CF_INDEX, NULL, 0), 2);
    assert_int_equal(store_ticket_count(s), 1);

    /* Bad input changes nothing. */
    b = store_batch_new();
    assert_non_null(b);
    struct ticket bad;
    make_ticket(&bad, "ZQ-20261122-0002", "C1", 99, 1);
    assert_int_equal(store_ticket_put(b, NULL, &bad), GD_EINVAL);
    free(bad.id);
    bad.id = xstrdup("");
    bad.status = TICKET_NEW;
    assert_int_equal(store_ticket_put(b, NULL, &bad), GD_EINVAL);
    assert_int_equal(store_ticket_put(b, &t4, &t1), 0); /* same id: ok */
    free(t1.id);
    t1.id = xstrdup("other");
    assert_int_equal(store_ticket_put(b, &t4, &t1), GD_EINVAL);
    store_batch_free(b);
    ticket_clear(&bad);
    ticket_clear(&t1);
    ticket_clear(&t2);
    ticket_clear(&t3);
    ticket_clear(&t4);
    store_close(s);
    rm_rf(t.dir);
}

#define NLIST 250

static const char *list_customer(int i)
{
    return i % 3 == 0 ? "C-A" : i % 3 == 1 ? "C-B" : "C-AB";
}

/* Pages through a filtered list with the given limit and checks that it
 * yields exactly the tickets expected by brute force, once each, in
 * (created_hlc, id) order.  Returns the number of pages. */
static int check_paging(struct store *s, const char *status,
                        const char *customer, size_t limit)
{
    /* hlc of ticket i is 10000 + i / 2 (pairs share an hlc, so the id breaks
     * the tie) and ids are zero-padded, so i order is (hlc, id) order. */
    int expected[NLIST], ne = 0;
    for (int i = 0; i < NLIST; i++)
        if ((status == NULL ||
             strcmp(ticket_status_name(i % 4), status) == 0) &&
            (customer == NULL || strcmp(list_customer(i), customer) == 0))
            expected[ne++] = i;
    int seen = 0, pages = 0;
    char *cursor = NULL;
    do {
        struct ticket *items;
        size_t n;
        char *next;
        struct gd_err err = {0};
        int rc = store_ticket_list(s, status, customer, cursor, limit, &items,
                                   &n, &next, &err);
        if (rc != 0)
            fail_msg("list: %d %s", rc, err.msg);
        pages++;
        assert_true(n <= limit);
        for (size_t j = 0; j < n; j++) {
            char id[32];
            assert_true(seen < ne);
            snprintf(id, sizeof id, "T-%04d", expected[seen]);
            assert_string_equal(items[j].id, id);
            seen++;
        }
        store_tickets_free(items, n);
        free(cursor);
        cursor = next;
        if (cursor != NULL)
            for (const char *p = cursor; *p; p++)
                assert_non_null(strchr("0123456789abcdef", *p));
    } while (cursor != NULL);
    assert_int_equal(seen, ne);
    return pages;
}

static void test_ticket_list_paging_and_filters(void **state)
{
    struct tmp t;
    tmp_make(&t);
    struct store *s = open_store(t.dir);
    struct store_batch *b = store_batch_new();
    assert_non_null(b);
    /* Inserted in a scrambled order: the list order must not depend on it. */
    for (int k = 0; k < NLIST; k++) {
        int i = (k * 97) % NLIST;
        char id[32];
        snprintf(id, sizeof id, "T-%04d", i);
        struct ticket tk;
        make_ticket(&tk, id, list_customer(i), i % 4, 10000 + (uint64_t)i / 2);
        assert_int_equal(store_ticket_put(b, NULL, &tk), 0);
        ticket_clear(&tk);
    }
    commit(s, b, 1);
    store_batch_free(b);
    assert_int_equal(store_ticket_count(s), NLIST);

    /* 2.5 pages: 100 + 100 + 50. */
    assert_int_equal(check_paging(s, NULL, NULL, 100), 3);
    check_paging(s, NULL, NULL, 1000);
    check_paging(s, NULL, NULL, 1);
    check_paging(s, "accepted", NULL, 7);
    check_paging(s, NULL, "C-A", 10); /* not C-AB */
    check_paging(s, NULL, "C-AB", 10);
    check_paging(s, "resolved", "C-B", 3);
    check_paging(s, "closed", NULL, 5); /* none */
    check_paging(s, NULL, "nobody", 5);

    /* Exactly a full last page: no cursor after it. */
    struct ticket *items;
    size_t n;
    char *next;
    struct gd_err err = {0};
    assert_int_equal(
        store_ticket_list(s, NULL, NULL, NULL, 250, &items, &n, &next, &err),
        0);
    assert_int_equal(n, 250);
    assert_null(next);
    store_tickets_free(items, n);

    /* Bad cursors and limits. */
    static const char *bad[] = {
        "",
        "zz",
        "0000000000002710",       /* hlc without id */
        "00000000000027105",      /* odd length */
        "00000000000027105A2D",   /* upper-case hex */
        "0000000000002710542d00", /* NUL in the id */
        "00000000000027105x2d",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(store_ticket_list(s, NULL, NULL, bad[i], 10, &items,
                                           &n, &next, &err),
                         GD_EINVAL);
    assert_int_equal(
        store_ticket_list(s, NULL, NULL, NULL, 0, &items, &n, &next, &err),
        GD_EINVAL);
    assert_int_equal(
        store_ticket_list(s, NULL, NULL, NULL, 1001, &items, &n, &next, &err),
        GD_EINVAL);
    /* A well-formed cursor past the end: an empty last page. */
    assert_int_equal(store_ticket_list(s, NULL, NULL, "ffffffffffffffff41", 10,
                                       &items, &n, &next, &err),
                     0);
    assert_int_equal(n, 0);
    assert_null(items);
    assert_null(next);
    store_close(s);
    rm_rf(t.dir);
}

static void test_events_sorted_by_id(void **state)
{
    struct tmp t;
    tmp_make(&t);
    struct store *s = open_store(t.dir);
    /* (hlc, origin, counter) in shuffled order, for T1 and for T10 (whose
     * key begins with "T1" too). */
    static const struct {
        uint64_t hlc;
        const char *origin;
        uint32_t counter;
    } ids[] = {
        {300, "A", 0},          {100, "B", 0},   {100, "A", 2},
        {0x10000, "A", 0},      {100, "AB", 0},  {100, "A", 1},
        {0xffffffff00, "Z", 7}, {100, "A", 256}, {255, "A", 0},
        {100, "a", 0},
    };
    size_t nids = sizeof ids / sizeof *ids;
    struct store_batch *b = store_batch_new();
    assert_non_null(b);
    for (int tk = 0; tk < 2; tk++) {
        const char *tid = tk == 0 ? "T1" : "T10";
        for (size_t i = 0; i < nids; i++) {
            struct event ev;
            event_init(&ev);
            strcpy(ev.id.origin, ids[i].origin);
            ev.id.hlc = ids[i].hlc;
            ev.id.counter = ids[i].counter;
            ev.type = EVENT_TICKET_COMMENT;
            ev.entity = xstrdup(tid);
            ev.actor = xstrdup("agent1");
            ev.text = xstrdup(tid);
            assert_int_equal(store_event_put(b, tid, &ev), 0);
            event_clear(&ev);
        }
    }
    commit(s, b, 1);
    store_batch_free(b);

    struct event *evs;
    size_t n;
    struct gd_err err = {0};
    assert_int_equal(store_ticket_events(s, "T1", &evs, &n, &err), 0);
    assert_int_equal(n, nids);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(evs[i].text, "T1");
        if (i > 0)
            assert_true(event_id_cmp(&evs[i - 1].id, &evs[i].id) < 0);
    }
    assert_int_equal(evs[0].id.hlc, 100);
    assert_string_equal(evs[0].id.origin, "A");
    assert_int_equal(evs[0].id.counter, 1);
    assert_int_equal(evs[n - 1].id.hlc, 0xffffffff00);
    store_events_free(evs, n);
    assert_int_equal(store_ticket_events(s, "T", &evs, &n, &err), 0);
    assert_int_equal(n, 0);
    assert_null(evs);
    assert_int_equal(store_ticket_events(s, "", &evs, &n, &err), GD_EINVAL);
    store_close(s);
    rm_rf(t.dir);
}

/* ------------------------------------------------------------- records */

static void test_records(void **state)
{
    struct tmp t;
    tmp_make(&t);
    struct store *s = open_store(t.dir);
    struct gd_err err = {0};
    struct cluster_rec c;
    assert_int_equal(store_cluster_get(s, &c, &err), GD_ENOTFOUND);
    struct member_rec *ms;
    size_t n;
    assert_int_equal(store_member_list(s, &ms, &n), 0);
    assert_int_equal(n, 0);
    uint64_t v = 99;
    assert_int_equal(store_counter_get(s, "tickets", &v), 0);
    assert_int_equal(v, 0);

    populate(s, 0, 1); /* admin, member 1, cluster, counter */
    struct store_batch *b = store_batch_new();
    assert_non_null(b);
    static const uint64_t ids[] = {300, 151, 2};
    for (size_t i = 0; i < 3; i++) {
        struct member_rec m;
        member_rec_init(&m);
        m.id = ids[i];
        m.raft = xstrdup("r");
        assert_int_equal(store_member_put(b, &m), 0);
        member_rec_clear(&m);
    }
    store_member_delete(b, 151);
    store_counter_put(b, "big", UINT64_MAX);
    commit(s, b, 2);
    store_batch_free(b);

    assert_int_equal(store_member_list(s, &ms, &n), 0);
    assert_int_equal(n, 3); /* 1, 2, 300 in id order; not the cluster key */
    assert_int_equal(ms[0].id, 1);
    assert_string_equal(ms[0].http, "127.0.0.1:8001");
    assert_int_equal(ms[1].id, 2);
    assert_null(ms[1].http);
    assert_int_equal(ms[2].id, 300);
    store_members_free(ms, n);

    assert_int_equal(store_cluster_get(s, &c, &err), 0);
    assert_string_equal(c.cluster_id, "c-1");
    assert_int_equal(c.secret[31], 0xab);
    cluster_rec_clear(&c);

    struct user_rec u;
    assert_int_equal(store_user_get(s, "admin", &u, &err), 0);
    assert_string_equal(u.role, "admin");
    assert_int_equal(u.hlc, 5);
    user_rec_clear(&u);
    assert_int_equal(store_user_get(s, "root", &u, &err), GD_ENOTFOUND);

    assert_int_equal(store_counter_get(s, "big", &v), 0);
    assert_int_equal(v, UINT64_MAX);
    put1(s, STORE_CF_COUNTERS, "bad", "123", 3); /* not 8 bytes */
    assert_int_equal(store_counter_get(s, "bad", &v), GD_ECORRUPT);
    put1(s, STORE_CF_USERS, "junk", "\xc1", 4);
    assert_int_equal(store_user_get(s, "junk", &u, &err), GD_ECORRUPT);
    store_close(s);
    rm_rf(t.dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commit_and_reopen),
        cmocka_unit_test(test_open_edge_cases),
        cmocka_unit_test(test_batch_invisible_until_commit),
        cmocka_unit_test(test_batch_order_per_key_kept),
        cmocka_unit_test(test_batch_sort_same_as_one_by_one),
        cmocka_unit_test(test_batch_atomic_across_kill),
        cmocka_unit_test(test_load_then_kill_leaves_no_stale_key),
        cmocka_unit_test(test_iter_prefix_and_start),
        cmocka_unit_test(test_dump_load_roundtrip),
        cmocka_unit_test(test_load_corrupt_changes_nothing),
        cmocka_unit_test(test_ticket_put_get_and_index),
        cmocka_unit_test(test_ticket_list_paging_and_filters),
        cmocka_unit_test(test_events_sorted_by_id),
        cmocka_unit_test(test_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
