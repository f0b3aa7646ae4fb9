/* Knowledge-base search benchmark: gridesk's search engine (search/search.h)
 * against SQLite FTS5, in one process, on the same corpus, the same labelled
 * queries and the same timing loop.  bench/kb/run.sh builds the corpus with
 * bench/kb/gen.py, runs this program at each size and turns its JSON (on
 * stdout) into the table of docs/BENCHMARKS.md.
 *
 * Engines:
 *   gridesk         a fresh store in a temp dir; per batch of 256 articles:
 *                   store_batch_put of the article JSON into STORE_CF_KB plus
 *                   sr_index_put (docno 1..N), one store_batch_commit; then
 *                   store_flush.
 *   fts5-trigram    FTS5 table, tokenize='trigram', content stored; MATCH for
 *                   queries of 3+ characters, LIKE '%q%' over the columns for
 *                   shorter ones (trigram cannot MATCH them).
 *   fts5-unicode61  FTS5 table, tokenize='unicode61' (SQLite's default).
 *   fts5-trigram-t2s  as fts5-trigram, but every text and query is first
 *                   folded Traditional→Simplified with OpenCC (t2s.json): what
 *                   a careful FTS5 user would add for mixed-script Chinese.
 *
 * Every query asks for 5 hits with snippets.  Latency is measured around the
 * whole call (execute, step through the hits, copy ids, free), per query,
 * with CLOCK_MONOTONIC; the engines take turns round by round so that noise
 * from other work on the machine spreads over all of them. */
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <opencc/opencc.h>
#include <sqlite3.h>

#include "core/error.h"
#include "search/search.h"
#include "storage/store.h"

#define TOPK 5
#define BATCH 256
#define ID_MAX 64

/* Field weights: the order of search/search.h (title > keywords > solution,
 * fault > cause, script), used for FTS5's bm25() and the LIKE fallback. */
static const double W_TITLE = 10.0, W_KEYWORDS = 6.0, W_FAULT = 2.0,
                    W_CAUSE = 1.0, W_SOLUTION = 2.0, W_SCRIPT = 1.0;

/* ------------------------------------------------------------ corpus */

struct article {
    char *line; /* the JSON line as imported */
    size_t line_len;
    char *id;
    char *text[SR_F__COUNT]; /* keywords joined by '\n' */
    size_t len[SR_F__COUNT];
    char *category, *status, *region;
};

struct query {
    char *q;
    char **rel; /* relevant ids */
    size_t nrel;
};

struct corpus {
    struct article *a;
    size_t n, cap;
    size_t bytes;
    struct query *q;
    size_t nq;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Allocation helpers: NULL on OOM (callers check), never a zero-size
 * malloc. */
static void *alloc(size_t n)
{
    return malloc(n ? n : 1);
}

static char *dupn(const char *s, size_t n)
{
    char *p = alloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

static char *dup0(const char *s)
{
    return dupn(s, strlen(s));
}

static int oom(void)
{
    fprintf(stderr, "kbbench: out of memory\n");
    return -1;
}

static const char *jstr(json_t *o, const char *k, size_t *len)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_string(v)) {
        *len = 0;
        return NULL;
    }
    *len = json_string_length(v);
    return json_string_value(v);
}

/* Fills a (zeroed) from one parsed article; the line is kept as the stored
 * value.  0, -1 on OOM (a is then partly filled: article_free frees it). */
static int article_fill(struct article *a, json_t *o, const char *line,
                        size_t n)
{
    static const char *const fields[SR_F__COUNT] = {
        "title", NULL, "fault", "cause", "solution", "script"};
    size_t l;
    const char *s = jstr(o, "id", &l);
    if (!(a->id = dupn(s, l)))
        return -1;
    for (int i = 0; i < SR_F__COUNT; i++) {
        if (!fields[i])
            continue;
        s = jstr(o, fields[i], &l);
        if (!(a->text[i] = dupn(s ? s : "", l)))
            return -1;
        a->len[i] = l;
    }
    /* keywords: one field, joined with '\n' (search.h) */
    json_t *kw = json_object_get(o, "keywords");
    size_t tot = 0, idx;
    json_t *v;
    json_array_foreach(kw, idx, v) tot += json_string_length(v) + 1;
    char *k = alloc(tot + 1);
    if (!k)
        return -1;
    size_t kl = 0;
    json_array_foreach(kw, idx, v)
    {
        if (!json_is_string(v))
            continue;
        if (kl)
            k[kl++] = '\n';
        memcpy(k + kl, json_string_value(v), json_string_length(v));
        kl += json_string_length(v);
    }
    k[kl] = '\0';
    a->text[SR_F_KEYWORDS] = k;
    a->len[SR_F_KEYWORDS] = kl;
    s = jstr(o, "category", &l);
    if (!(a->category = dupn(s ? s : "", l)))
        return -1;
    s = jstr(o, "status", &l);
    if (!(a->status = s ? dupn(s, l) : dup0("published")))
        return -1;
    s = jstr(o, "region", &l);
    if (!(a->region = dupn(s ? s : "", l)))
        return -1;
    if (!(a->line = dupn(line, n)))
        return -1;
    a->line_len = n;
    return 0;
}

static void article_free(struct article *a)
{
    free(a->line);
    free(a->id);
    for (int f = 0; f < SR_F__COUNT; f++)
        free(a->text[f]);
    free(a->category);
    free(a->status);
    free(a->region);
}

/* Reads the JSON Lines corpus (at most limit articles, 0 = all).  0, or -1
 * after printing why. */
static int corpus_load(struct corpus *c, const char *path, size_t limit)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "kbbench: %s: %s\n", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    size_t lineno = 0;
    while ((n = getline(&line, &cap, f)) > 0) {
        lineno++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (n == 0)
            continue;
        if (limit && c->n == limit)
            break;
        json_error_t je;
        json_t *o = json_loadb(line, (size_t)n, 0, &je);
        if (!json_is_object(o)) {
            fprintf(stderr, "kbbench: %s:%zu: %s\n", path, lineno,
                    o ? "not an object" : je.text);
            json_decref(o);
            free(line);
            fclose(f);
            return -1;
        }
        size_t l;
        const char *s = jstr(o, "id", &l);
        if (!s || l == 0 || l > ID_MAX) {
            fprintf(stderr, "kbbench: %s:%zu: bad id\n", path, lineno);
            json_decref(o);
            free(line);
            fclose(f);
            return -1;
        }
        if (c->n == c->cap) {
            size_t nc = c->cap ? c->cap * 2 : 1024;
            struct article *na = realloc(c->a, nc * sizeof *na);
            if (!na) {
                json_decref(o);
                free(line);
                fclose(f);
                return oom();
            }
            c->a = na;
            c->cap = nc;
        }
        struct article *a = &c->a[c->n];
        memset(a, 0, sizeof *a);
        int rc = article_fill(a, o, line, (size_t)n);
        json_decref(o);
        if (rc) {
            article_free(a);
            free(line);
            fclose(f);
            return oom();
        }
        c->bytes += (size_t)n + 1;
        c->n++;
    }
    free(line);
    fclose(f);
    if (c->n == 0) {
        fprintf(stderr, "kbbench: %s: no articles\n", path);
        return -1;
    }
    return 0;
}

static int labels_load(struct corpus *c, const char *path)
{
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    json_t *qs = json_object_get(root, "queries");
    if (!json_is_array(qs)) {
        fprintf(stderr, "kbbench: %s: %s\n", path,
                root ? "no \"queries\" array" : je.text);
        json_decref(root);
        return -1;
    }
    size_t nq = json_array_size(qs);
    c->q = calloc(nq ? nq : 1, sizeof *c->q);
    if (!c->q) {
        json_decref(root);
        return oom();
    }
    for (size_t i = 0; i < nq; i++) {
        json_t *o = json_array_get(qs, i);
        json_t *q = json_object_get(o, "q"),
               *rel = json_object_get(o, "relevant");
        if (!json_is_string(q) || !json_is_array(rel)) {
            fprintf(stderr, "kbbench: %s: query %zu malformed\n", path, i);
            json_decref(root);
            return -1;
        }
        struct query *cq = &c->q[c->nq++];
        size_t nrel = json_array_size(rel);
        if (!(cq->q = dup0(json_string_value(q))) ||
            !(cq->rel = calloc(nrel ? nrel : 1, sizeof(char *)))) {
            json_decref(root);
            return oom();
        }
        for (size_t j = 0; j < nrel; j++) {
            json_t *r = json_array_get(rel, j);
            if (!(cq->rel[j] =
                      dup0(json_is_string(r) ? json_string_value(r) : ""))) {
                json_decref(root);
                return oom();
            }
            cq->nrel++;
        }
    }
    json_decref(root);
    return 0;
}

/* ------------------------------------------------------------ engines */

struct hits {
    char id[TOPK][ID_MAX + 1];
    size_t n;
    size_t snippet_bytes;
};

struct engine {
    const char *name;
    const char *desc;
    int (*build)(struct engine *e, const struct corpus *c, const char *dir);
    /* 0, or -1 after printing why (the run stops: a query must not fail). */
    int (*query)(struct engine *e, const char *q, struct hits *h);
    int (*sizes)(struct engine *e); /* index_bytes, content_bytes */
    void (*close)(struct engine *e);
    char dir[4096];
    double build_s;
    uint64_t disk_bytes, apparent_bytes;
    /* Logical (uncompressed) key + value bytes: the search index, and the
     * stored articles (gridesk: CF KB; FTS5: the content table). */
    uint64_t index_bytes, content_bytes;
    /* gridesk */
    struct store *store;
    struct sr_engine *sr;
    /* FTS5 */
    sqlite3 *db;
    sqlite3_stmt *match, *like;
    int trigram, fold;
    opencc_t cc;
    /* results */
    double *lat;   /* [round * nq + query], seconds */
    size_t rounds; /* measured rounds done */
    double measured_s;
    struct hits *first; /* [nq], hits of the first measured round */
    size_t unstable;    /* queries whose hits changed between rounds */
    size_t failed;      /* queries that returned an error */
};

static uint64_t du_total, du_apparent;

static int du_cb(const char *path, const struct stat *st, int flag,
                 struct FTW *ftw)
{
    (void)path;
    (void)ftw;
    if (flag == FTW_F) {
        du_total += (uint64_t)st->st_blocks * 512u;
        du_apparent += (uint64_t)st->st_size;
    }
    return 0;
}

static void du(const char *dir, uint64_t *blocks, uint64_t *apparent)
{
    du_total = du_apparent = 0;
    nftw(dir, du_cb, 16, FTW_PHYS);
    *blocks = du_total;
    *apparent = du_apparent;
}

/* --- gridesk --------------------------------------------------------- */

static int gd_build(struct engine *e, const struct corpus *c, const char *dir)
{
    struct gd_err err = {0};
    int rc = store_open(dir, &e->store, &err);
    if (rc) {
        fprintf(stderr, "kbbench: store_open %s: %s\n", dir, err.msg);
        return -1;
    }
    rc = sr_engine_open(e->store, &e->sr, &err);
    if (rc) {
        fprintf(stderr, "kbbench: sr_engine_open: %s\n", err.msg);
        return -1;
    }
    char key[ID_MAX + 2];
    uint64_t applied = 0;
    for (size_t i = 0; i < c->n; i += BATCH) {
        struct store_batch *b = store_batch_new();
        if (!b) {
            fprintf(stderr, "kbbench: store_batch_new: out of memory\n");
            return -1;
        }
        sr_batch_begin(e->sr, b);
        size_t end = i + BATCH < c->n ? i + BATCH : c->n;
        for (size_t j = i; j < end; j++) {
            const struct article *a = &c->a[j];
            size_t kl = strlen(a->id);
            key[0] = 'a';
            memcpy(key + 1, a->id, kl);
            store_batch_put(b, STORE_CF_KB, key, kl + 1, a->line, a->line_len);
            struct sr_doc d = {
                .id = a->id,
                .id_len = kl,
                .category = a->category,
                .category_len = strlen(a->category),
                .status = a->status,
                .status_len = strlen(a->status),
                .region = a->region,
                .region_len = strlen(a->region),
            };
            for (int f = 0; f < SR_F__COUNT; f++) {
                d.text[f] = a->text[f];
                d.len[f] = a->len[f];
            }
            rc = sr_index_put(e->sr, (uint32_t)(j + 1), &d, &err);
            if (rc) {
                fprintf(stderr, "kbbench: sr_index_put %s: %s\n", a->id,
                        err.msg);
                sr_batch_end(e->sr, 0);
                store_batch_free(b);
                return -1;
            }
        }
        rc = store_batch_commit(e->store, b, ++applied, &err);
        sr_batch_end(e->sr, rc == 0);
        store_batch_free(b);
        if (rc) {
            fprintf(stderr, "kbbench: store_batch_commit: %s\n", err.msg);
            return -1;
        }
    }
    if (store_flush(e->store)) {
        fprintf(stderr, "kbbench: store_flush failed\n");
        return -1;
    }
    return 0;
}

/* Sums key + value bytes of one column family. */
static int cf_bytes(struct store *s, int cf, uint64_t *out)
{
    struct store_iter *it = store_iter_new(s, cf, NULL, 0, NULL, 0);
    struct gd_err err = {0};
    *out = 0;
    for (; store_iter_valid(it); store_iter_next(it)) {
        size_t kl, vl;
        store_iter_key(it, &kl);
        store_iter_value(it, &vl);
        *out += kl + vl;
    }
    int rc = store_iter_error(it, &err);
    store_iter_free(it);
    if (rc)
        fprintf(stderr, "kbbench: iterating cf %d: %s\n", cf, err.msg);
    return rc;
}

static int gd_sizes(struct engine *e)
{
    return cf_bytes(e->store, STORE_CF_SEARCH, &e->index_bytes) ||
           cf_bytes(e->store, STORE_CF_KB, &e->content_bytes);
}

static int gd_query(struct engine *e, const char *q, struct hits *h)
{
    struct sr_query sq = {
        .q = q, .q_len = strlen(q), .limit = TOPK, .snippets = 1};
    struct sr_result r = {0};
    struct gd_err err = {0};
    int rc = sr_search(e->sr, &sq, &r, &err);
    h->n = 0;
    h->snippet_bytes = 0;
    if (rc == GD_EINVAL) { /* "empty query": nothing indexable, no hits */
        sr_result_free(&r);
        return 0;
    }
    if (rc) {
        fprintf(stderr, "kbbench: gridesk: sr_search(%s): %s\n", q, err.msg);
        sr_result_free(&r);
        return -1;
    }
    for (size_t i = 0; i < r.n && h->n < TOPK; i++) {
        snprintf(h->id[h->n++], ID_MAX + 1, "%s", r.hits[i].id);
        if (r.hits[i].snippet)
            h->snippet_bytes += strlen(r.hits[i].snippet);
    }
    sr_result_free(&r);
    return 0;
}

static void gd_close(struct engine *e)
{
    sr_engine_close(e->sr);
    store_close(e->store);
    e->sr = NULL;
    e->store = NULL;
}

/* --- SQLite FTS5 ------------------------------------------------------ */

static int sql_exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fprintf(stderr, "kbbench: sqlite: %s: %s\n", sql, msg ? msg : "?");
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

/* OpenCC t2s of s (malloc'd, caller frees); a copy when e->fold is 0.
 * NULL after printing why (OOM, OpenCC error). */
static char *fold_text(struct engine *e, const char *s, size_t len)
{
    if (!e->fold) {
        char *p = dupn(s, len);
        if (!p)
            oom();
        return p;
    }
    char *t = opencc_convert_utf8(e->cc, s, len);
    if (!t) {
        fprintf(stderr, "kbbench: opencc: %s\n", opencc_error());
        return NULL;
    }
    char *out = dup0(t);
    opencc_convert_utf8_free(t);
    if (!out)
        oom();
    return out;
}

/* Columns in the order of enum sr_field, then the id (not indexed). */
static int fts_build(struct engine *e, const struct corpus *c, const char *dir)
{
    char path[4200], sql[1024];
    snprintf(path, sizeof path, "%s/kb.db", dir);
    if (sqlite3_open(path, &e->db) != SQLITE_OK) {
        fprintf(stderr, "kbbench: sqlite3_open %s: %s\n", path,
                sqlite3_errmsg(e->db));
        return -1;
    }
    if (e->fold) {
        e->cc = opencc_open("t2s.json");
        if (e->cc == (opencc_t)-1) {
            fprintf(stderr, "kbbench: opencc_open(t2s.json): %s\n",
                    opencc_error());
            return -1;
        }
    }
    /* WAL without a sync per commit is the closest match to gridesk's
     * store (WAL on, sync off); the page cache gets the same 256 MiB as
     * gridesk's posting cache. */
    snprintf(
        sql, sizeof sql,
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
        " PRAGMA cache_size=-262144;"
        " CREATE VIRTUAL TABLE kb USING fts5(title, keywords, fault, cause,"
        " solution, script, id UNINDEXED, tokenize='%s');",
        e->trigram ? "trigram" : "unicode61");
    if (sql_exec(e->db, sql))
        return -1;
    sqlite3_stmt *ins;
    if (sqlite3_prepare_v2(
            e->db,
            "INSERT INTO kb(rowid, title, keywords, fault, cause,"
            " solution, script, id) VALUES(?,?,?,?,?,?,?,?)",
            -1, &ins, NULL) != SQLITE_OK) {
        fprintf(stderr, "kbbench: prepare insert: %s\n", sqlite3_errmsg(e->db));
        return -1;
    }
    for (size_t i = 0; i < c->n; i += BATCH) {
        if (sql_exec(e->db, "BEGIN"))
            return -1;
        size_t end = i + BATCH < c->n ? i + BATCH : c->n;
        for (size_t j = i; j < end; j++) {
            const struct article *a = &c->a[j];
            sqlite3_bind_int64(ins, 1, (sqlite3_int64)(j + 1));
            for (int f = 0; f < SR_F__COUNT; f++) {
                char *t = fold_text(e, a->text[f], a->len[f]);
                if (!t) {
                    sqlite3_finalize(ins);
                    return -1;
                }
                sqlite3_bind_text(ins, 2 + f, t, -1, free);
            }
            sqlite3_bind_text(ins, 8, a->id, -1, SQLITE_STATIC);
            if (sqlite3_step(ins) != SQLITE_DONE) {
                fprintf(stderr, "kbbench: insert %s: %s\n", a->id,
                        sqlite3_errmsg(e->db));
                sqlite3_finalize(ins);
                return -1;
            }
            sqlite3_reset(ins);
        }
        if (sql_exec(e->db, "COMMIT"))
            return -1;
    }
    sqlite3_finalize(ins);
    /* A bulk load ends with 'optimize' (one b-tree per index: the fastest
     * queries FTS5 can give) and a checkpoint, so the size is the db file. */
    if (sql_exec(e->db, "INSERT INTO kb(kb) VALUES('optimize');"
                        " PRAGMA wal_checkpoint(TRUNCATE);"))
        return -1;

    snprintf(
        sql, sizeof sql,
        "SELECT id, snippet(kb, -1, '<em>', '</em>', '…', 24) FROM kb"
        " WHERE kb MATCH ?1 ORDER BY bm25(kb, %g, %g, %g, %g, %g, %g) LIMIT %d",
        W_TITLE, W_KEYWORDS, W_FAULT, W_CAUSE, W_SOLUTION, W_SCRIPT, TOPK);
    if (sqlite3_prepare_v2(e->db, sql, -1, &e->match, NULL) != SQLITE_OK) {
        fprintf(stderr, "kbbench: prepare match: %s\n", sqlite3_errmsg(e->db));
        return -1;
    }
    if (e->trigram) {
        /* Under 3 characters: LIKE over every column (a scan), ranked by
         * the same field weights, snippet cut around the first match. */
#define L(col) "(" col " LIKE ?1 ESCAPE '\\')"
#define P(col) "WHEN instr(" col ", ?2) > 0 THEN " col " "
        snprintf(
            sql, sizeof sql,
            "WITH top AS (SELECT rowid AS r, %g*" L("title") " + %g*" L("keywor"
                                                                        "ds") " + %g*" L("fault") " + %g*" L("cause") " + %g*" L("solution") " + %g*" L("script") " AS sc FROM kb WHERE " L("title") " OR " L(
                "keywords") " OR " L("fault") " OR " L("cause") " OR " L("solut"
                                                                         "ion") " OR " L("script") " ORDER BY sc DESC, rowid LIMIT %d),"
                                                                                                   " f AS (SELECT top.r, top.sc, kb.id, CASE " P(
                                                                                                       "title") P("keywords")
                                                                                                       P("fault") P(
                                                                                                           "cause")
                                                                                                           P("solution")
                                                                                                               P("script") "ELSE title END AS t FROM top JOIN kb ON kb.rowid = top.r)"
                                                                                                                           " SELECT id, replace(substr(t, max(1, instr(t, ?2) - 20), 60), ?2,"
                                                                                                                           " '<em>' || ?2 || '</em>') FROM f ORDER BY sc DESC, r",
            W_TITLE, W_KEYWORDS, W_FAULT, W_CAUSE, W_SOLUTION, W_SCRIPT, TOPK);
#undef L
#undef P
        if (sqlite3_prepare_v2(e->db, sql, -1, &e->like, NULL) != SQLITE_OK) {
            fprintf(stderr, "kbbench: prepare like: %s\n",
                    sqlite3_errmsg(e->db));
            return -1;
        }
    }
    return 0;
}

static int sql_sum(sqlite3 *db, const char *sql, uint64_t *out)
{
    sqlite3_stmt *st;
    *out = 0;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "kbbench: %s: %s\n", sql, sqlite3_errmsg(db));
        return -1;
    }
    if (sqlite3_step(st) == SQLITE_ROW)
        *out = (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return 0;
}

/* FTS5's shadow tables: kb_data (the index) and kb_idx (its b-tree of
 * segment keys); kb_content and kb_docsize (the stored rows). */
static int fts_sizes(struct engine *e)
{
    uint64_t a, b;
    if (sql_sum(e->db,
                "SELECT coalesce(sum(8 + length(block)), 0) FROM kb_data",
                &a) ||
        sql_sum(e->db, "SELECT coalesce(sum(8 + length(term)), 0) FROM kb_idx",
                &b))
        return -1;
    e->index_bytes = a + b;
    /* length() of text counts characters: cast to count bytes. */
#define B(c) " length(CAST(" c " AS BLOB))"
    if (sql_sum(
            e->db,
            "SELECT coalesce(sum(8 +" B("c0") " +" B("c1") " +" B("c2") " +" B(
                "c3") " +" B("c4") " +" B("c5") " +" B("c6") "), 0) FROM "
                                                             "kb_content",
            &a) ||
        sql_sum(e->db,
                "SELECT coalesce(sum(8 + length(sz)), 0) FROM kb_docsize", &b))
        return -1;
#undef B
    e->content_bytes = a + b;
    return 0;
}

static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static int fts_query(struct engine *e, const char *q, struct hits *h)
{
    char *fq = fold_text(e, q, strlen(q));
    if (!fq)
        return -1;
    size_t ql = strlen(fq);
    sqlite3_stmt *st;
    char *arg = alloc(2 * ql + 3);
    if (!arg) {
        free(fq);
        return oom();
    }
    size_t k = 0;
    h->n = 0;
    h->snippet_bytes = 0;
    if (e->trigram && utf8_chars(fq) < 3) {
        st = e->like;
        arg[k++] = '%';
        for (size_t i = 0; i < ql; i++) {
            if (fq[i] == '%' || fq[i] == '_' || fq[i] == '\\')
                arg[k++] = '\\';
            arg[k++] = fq[i];
        }
        arg[k++] = '%';
        sqlite3_bind_text(st, 2, fq, (int)ql, SQLITE_STATIC);
    } else {
        /* The query as one FTS5 string: "..." with " doubled. */
        st = e->match;
        arg[k++] = '"';
        for (size_t i = 0; i < ql; i++) {
            if (fq[i] == '"')
                arg[k++] = '"';
            arg[k++] = fq[i];
        }
        arg[k++] = '"';
    }
    sqlite3_bind_text(st, 1, arg, (int)k, SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *id = sqlite3_column_text(st, 0);
        const unsigned char *sn = sqlite3_column_text(st, 1);
        if (h->n < TOPK)
            snprintf(h->id[h->n++], ID_MAX + 1, "%s",
                     id ? (const char *)id : "");
        if (sn)
            h->snippet_bytes += strlen((const char *)sn);
    }
    int ok = rc == SQLITE_DONE;
    if (!ok)
        fprintf(stderr, "kbbench: %s: query %s: %s\n", e->name, q,
                sqlite3_errmsg(e->db));
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    free(arg);
    free(fq);
    return ok ? 0 : -1;
}

static void fts_close(struct engine *e)
{
    sqlite3_finalize(e->match);
    sqlite3_finalize(e->like);
    sqlite3_close(e->db);
    if (e->fold && e->cc && e->cc != (opencc_t)-1)
        opencc_close(e->cc);
    e->db = NULL;
    e->match = e->like = NULL;
    e->cc = NULL;
}

/* ------------------------------------------------------------ measuring */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted v[n]. */
static double pct(const double *v, size_t n, double p)
{
    if (n == 0)
        return NAN;
    size_t r = (size_t)ceil(p * (double)n);
    if (r < 1)
        r = 1;
    if (r > n)
        r = n;
    return v[r - 1];
}

static int hits_equal(const struct hits *a, const struct hits *b)
{
    if (a->n != b->n)
        return 0;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->id[i], b->id[i]))
            return 0;
    return 1;
}

static void usage(void)
{
    fprintf(
        stderr,
        "usage: kbbench --corpus FILE.jsonl --labels labels.json --tmp DIR\n"
        "               [--rounds 20] [--warmup 1] [--budget-s 90] "
        "[--min-rounds 3]\n"
        "               [--engines "
        "gridesk,fts5-trigram,fts5-unicode61,fts5-trigram-t2s]\n"
        "               [--limit N] [--keep]\n"
        "Builds every engine on the corpus, runs the labelled queries and "
        "prints\n"
        "JSON results on stdout.  An engine stops after --min-rounds measured\n"
        "rounds once it has spent --budget-s seconds in measured queries.\n");
}

static json_t *jnum(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static int rm_cb(const char *path, const struct stat *st, int flag,
                 struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int main(int argc, char **argv)
{
    const char *corpus_path = NULL, *labels_path = NULL, *tmp = NULL;
    const char *engines_arg =
        "gridesk,fts5-trigram,fts5-unicode61,fts5-trigram-t2s";
    long rounds = 20, warmup = 1, min_rounds = 3;
    double budget = 90.0;
    size_t limit = 0;
    int keep = 0;
    static const struct option opts[] = {
        {"corpus", required_argument, NULL, 'c'},
        {"labels", required_argument, NULL, 'l'},
        {"tmp", required_argument, NULL, 't'},
        {"rounds", required_argument, NULL, 'r'},
        {"warmup", required_argument, NULL, 'w'},
        {"budget-s", required_argument, NULL, 'b'},
        {"min-rounds", required_argument, NULL, 'm'},
        {"engines", required_argument, NULL, 'e'},
        {"limit", required_argument, NULL, 'n'},
        {"keep", no_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        char *end = NULL;
        switch (o) {
        case 'c': corpus_path = optarg; break;
        case 'l': labels_path = optarg; break;
        case 't': tmp = optarg; break;
        case 'e': engines_arg = optarg; break;
        case 'k': keep = 1; break;
        case 'r': rounds = strtol(optarg, &end, 10); break;
        case 'w': warmup = strtol(optarg, &end, 10); break;
        case 'm': min_rounds = strtol(optarg, &end, 10); break;
        case 'b': budget = strtod(optarg, &end); break;
        case 'n': limit = (size_t)strtoul(optarg, &end, 10); break;
        case 'h': usage(); return 0;
        default: usage(); return 2;
        }
        if (end && *end) {
            fprintf(stderr, "kbbench: bad number '%s'\n", optarg);
            return 2;
        }
    }
    if (!corpus_path || !labels_path || !tmp || rounds < 1 || warmup < 0 ||
        min_rounds < 1 || budget <= 0) {
        usage();
        return 2;
    }

    static struct engine all[] = {
        {.name = "gridesk",
         .desc =
             "gridesk search/ (BM25F, ICU words + CJK bigrams, OpenCC folding)",
         .build = gd_build,
         .query = gd_query,
         .sizes = gd_sizes,
         .close = gd_close},
        {.name = "fts5-trigram",
         .desc = "SQLite FTS5 tokenize='trigram'; LIKE for queries under 3 "
                 "characters",
         .build = fts_build,
         .query = fts_query,
         .sizes = fts_sizes,
         .close = fts_close,
         .trigram = 1},
        {.name = "fts5-unicode61",
         .desc = "SQLite FTS5 tokenize='unicode61' (the default)",
         .build = fts_build,
         .query = fts_query,
         .sizes = fts_sizes,
         .close = fts_close},
        {.name = "fts5-trigram-t2s",
         .desc = "SQLite FTS5 trigram over OpenCC t2s-folded text and queries",
         .build = fts_build,
         .query = fts_query,
         .sizes = fts_sizes,
         .close = fts_close,
         .trigram = 1,
         .fold = 1},
    };
    enum { NALL = sizeof all / sizeof all[0] };
    struct engine *eng[NALL];
    size_t ne = 0;
    char *list = dup0(engines_arg), *save = NULL;
    if (!list)
        return oom(), 1;
    for (char *tok = strtok_r(list, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        size_t i;
        for (i = 0; i < NALL; i++)
            if (!strcmp(tok, all[i].name))
                break;
        if (i == NALL) {
            fprintf(stderr, "kbbench: unknown engine '%s'\n", tok);
            return 2;
        }
        eng[ne++] = &all[i];
    }
    free(list);

    struct corpus c = {0};
    double t0 = now_s();
    if (corpus_load(&c, corpus_path, limit) || labels_load(&c, labels_path))
        return 1;
    fprintf(stderr,
            "kbbench: %zu articles (%.1f MB), %zu queries, loaded in %.1f s\n",
            c.n, (double)c.bytes / 1e6, c.nq, now_s() - t0);

    /* Build each engine into its own fresh directory under tmp. */
    for (size_t i = 0; i < ne; i++) {
        struct engine *e = eng[i];
        snprintf(e->dir, sizeof e->dir, "%s/%s", tmp, e->name);
        nftw(e->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
        if (mkdir(e->dir, 0700) && errno != EEXIST) {
            fprintf(stderr, "kbbench: mkdir %s: %s\n", e->dir, strerror(errno));
            return 1;
        }
        fprintf(stderr, "kbbench: building %s ...\n", e->name);
        t0 = now_s();
        if (e->build(e, &c, e->dir))
            return 1;
        e->build_s = now_s() - t0;
        du(e->dir, &e->disk_bytes, &e->apparent_bytes);
        if (e->sizes(e))
            return 1;
        fprintf(stderr, "kbbench: %s: built in %.2f s, %.1f MB on disk\n",
                e->name, e->build_s, (double)e->disk_bytes / 1e6);
        e->lat = alloc((size_t)rounds * c.nq * sizeof(double));
        e->first = alloc(c.nq * sizeof(struct hits));
        if (!e->lat || !e->first)
            return oom(), 1;
    }

    /* Rounds: warm-up rounds are not measured; engines take turns, starting
     * with a different one each round. */
    struct hits h;
    for (long r = -warmup; r < rounds; r++) {
        for (size_t k = 0; k < ne; k++) {
            struct engine *e = eng[((size_t)(r + warmup) + k) % ne];
            if (r >= 0 && e->rounds >= (size_t)min_rounds &&
                e->measured_s >= budget)
                continue;
            double rs = 0;
            for (size_t qi = 0; qi < c.nq; qi++) {
                double a = now_s();
                int rc = e->query(e, c.q[qi].q, &h);
                double dt = now_s() - a;
                if (rc) {
                    e->failed++;
                    h.n = 0;
                }
                if (r < 0)
                    continue;
                e->lat[e->rounds * c.nq + qi] = dt;
                rs += dt;
                if (e->rounds == 0)
                    e->first[qi] = h;
                else if (!hits_equal(&e->first[qi], &h))
                    e->unstable++;
            }
            if (r >= 0) {
                e->rounds++;
                e->measured_s += rs;
            }
        }
        if (r >= 0)
            fprintf(stderr, "kbbench: round %ld/%ld done\n", r + 1, rounds);
    }

    /* Results. */
    json_t *out = json_object();
    json_t *jeng = json_array(), *jq = json_array();
    if (!out || !jeng || !jq) {
        fprintf(stderr, "kbbench: out of memory\n");
        return 1;
    }
    json_object_set_new(out, "articles", json_integer((json_int_t)c.n));
    json_object_set_new(out, "corpus_bytes", json_integer((json_int_t)c.bytes));
    json_object_set_new(out, "queries", json_integer((json_int_t)c.nq));
    json_object_set_new(out, "rounds", json_integer(rounds));
    json_object_set_new(out, "warmup_rounds", json_integer(warmup));
    json_object_set_new(out, "budget_s", json_real(budget));
    json_object_set_new(out, "batch", json_integer(BATCH));
    json_object_set_new(out, "top_k", json_integer(TOPK));
    json_object_set_new(out, "sqlite_version",
                        json_string(sqlite3_libversion()));
    json_t *w = json_object();
    json_object_set_new(w, "title", json_real(W_TITLE));
    json_object_set_new(w, "keywords", json_real(W_KEYWORDS));
    json_object_set_new(w, "fault", json_real(W_FAULT));
    json_object_set_new(w, "cause", json_real(W_CAUSE));
    json_object_set_new(w, "solution", json_real(W_SOLUTION));
    json_object_set_new(w, "script", json_real(W_SCRIPT));
    json_object_set_new(out, "fts5_weights", w);

    int status = 0;
    for (size_t i = 0; i < ne; i++) {
        struct engine *e = eng[i];
        size_t nl = e->rounds * c.nq;
        double *s = alloc(nl * sizeof(double));
        if (!s)
            return oom(), 1;
        memcpy(s, e->lat, nl * sizeof(double));
        qsort(s, nl, sizeof(double), cmp_double);
        double rec = 0, mrr = 0, mean = 0;
        size_t snip = 0;
        for (size_t qi = 0; qi < c.nq && e->rounds; qi++) {
            const struct query *q = &c.q[qi];
            const struct hits *hq = &e->first[qi];
            size_t found = 0;
            double rr = 0;
            for (size_t j = 0; j < hq->n; j++)
                for (size_t t = 0; t < q->nrel; t++)
                    if (!strcmp(hq->id[j], q->rel[t])) {
                        found++;
                        if (rr == 0)
                            rr = 1.0 / (double)(j + 1);
                    }
            rec += q->nrel ? (double)found / (double)q->nrel : 0;
            mrr += rr;
            snip += hq->snippet_bytes;
        }
        for (size_t j = 0; j < nl; j++)
            mean += e->lat[j];
        json_t *je = json_object();
        json_object_set_new(je, "name", json_string(e->name));
        json_object_set_new(je, "description", json_string(e->desc));
        json_object_set_new(je, "build_s", json_real(e->build_s));
        json_object_set_new(je, "disk_bytes",
                            json_integer((json_int_t)e->disk_bytes));
        json_object_set_new(je, "apparent_bytes",
                            json_integer((json_int_t)e->apparent_bytes));
        json_object_set_new(je, "index_logical_bytes",
                            json_integer((json_int_t)e->index_bytes));
        json_object_set_new(je, "content_logical_bytes",
                            json_integer((json_int_t)e->content_bytes));
        json_object_set_new(je, "rounds", json_integer((json_int_t)e->rounds));
        json_object_set_new(je, "samples", json_integer((json_int_t)nl));
        json_object_set_new(je, "p50_ms", jnum(pct(s, nl, 0.50) * 1e3));
        json_object_set_new(je, "p90_ms", jnum(pct(s, nl, 0.90) * 1e3));
        json_object_set_new(je, "p99_ms", jnum(pct(s, nl, 0.99) * 1e3));
        json_object_set_new(je, "max_ms", jnum(nl ? s[nl - 1] * 1e3 : NAN));
        json_object_set_new(je, "mean_ms",
                            jnum(nl ? mean / (double)nl * 1e3 : NAN));
        json_object_set_new(je, "recall_at_5",
                            jnum(e->rounds ? rec / (double)c.nq : NAN));
        json_object_set_new(je, "mrr",
                            jnum(e->rounds ? mrr / (double)c.nq : NAN));
        json_object_set_new(je, "mean_snippet_bytes_per_query",
                            jnum(c.nq ? (double)snip / (double)c.nq : NAN));
        json_object_set_new(je, "unstable_results",
                            json_integer((json_int_t)e->unstable));
        json_object_set_new(je, "failed_queries",
                            json_integer((json_int_t)e->failed));
        json_array_append_new(jeng, je);
        if (e->failed)
            status = 1;
        free(s);
    }
    for (size_t qi = 0; qi < c.nq; qi++) {
        json_t *o2 = json_object(), *rel = json_array(), *res = json_object();
        json_object_set_new(o2, "q", json_string(c.q[qi].q));
        for (size_t t = 0; t < c.q[qi].nrel; t++)
            json_array_append_new(rel, json_string(c.q[qi].rel[t]));
        json_object_set_new(o2, "relevant", rel);
        for (size_t i = 0; i < ne; i++) {
            struct engine *e = eng[i];
            json_t *x = json_object(), *top = json_array(), *lat = json_array();
            for (size_t j = 0; e->rounds && j < e->first[qi].n; j++)
                json_array_append_new(top, json_string(e->first[qi].id[j]));
            for (size_t rr = 0; rr < e->rounds; rr++)
                json_array_append_new(
                    lat, json_real(round(e->lat[rr * c.nq + qi] * 1e7) / 1e4));
            json_object_set_new(x, "top", top);
            json_object_set_new(x, "lat_ms", lat);
            json_object_set_new(res, e->name, x);
        }
        json_object_set_new(o2, "engines", res);
        json_array_append_new(jq, o2);
    }
    json_object_set_new(out, "engines", jeng);
    json_object_set_new(out, "per_query", jq);
    if (json_dumpf(out, stdout, JSON_INDENT(1) | JSON_PRESERVE_ORDER) ||
        fflush(stdout)) {
        fprintf(stderr, "kbbench: writing results failed\n");
        status = 1;
    }
    putchar('\n');
    json_decref(out);

    for (size_t i = 0; i < ne; i++) {
        eng[i]->close(eng[i]);
        if (!keep)
            nftw(eng[i]->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
        free(eng[i]->lat);
        free(eng[i]->first);
    }
    for (size_t i = 0; i < c.n; i++)
        article_free(&c.a[i]);
    free(c.a);
    for (size_t i = 0; i < c.nq; i++) {
        free(c.q[i].q);
        for (size_t t = 0; t < c.q[i].nrel; t++)
            free(c.q[i].rel[t]);
        free(c.q[i].rel);
    }
    free(c.q);
    return status;
}
