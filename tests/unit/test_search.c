/* Unit tests for search/: analysis (folding, segmentation, offsets), the
 * index in the SEARCH column family (updates, removals, dropped batches,
 * segments, reload, byte-identical replicas), ranking, filters, paging,
 * snippets, suggestions and bad input.  Each test works in its own temp
 * directory under /tmp, removed at the end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/util.h"
#include "search/internal.h"
#include "search/search.h"
#include "storage/store.h"

/* ------------------------------------------------------------- helpers */

static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw)
{
    return remove(path);
}

struct env {
    char dir[64];
    struct store *s;
    struct sr_engine *e;
};

static void env_open_at(struct env *v, const char *dir)
{
    struct gd_err err = {0};
    snprintf(v->dir, sizeof v->dir, "%s", dir);
    if (store_open(v->dir, &v->s, &err) != 0)
        fail_msg("store_open: %s", err.msg);
    if (sr_engine_open(v->s, &v->e, &err) != 0)
        fail_msg("sr_engine_open: %s", err.msg);
}

static void env_open(struct env *v)
{
    char d[64];
    strcpy(d, "/tmp/gd-test-search-XXXXXX");
    assert_non_null(mkdtemp(d));
    env_open_at(v, d);
}

static void env_close(struct env *v, int remove_dir)
{
    sr_engine_close(v->e);
    store_close(v->s);
    v->e = NULL;
    v->s = NULL;
    if (remove_dir)
        nftw(v->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

struct tdoc {
    const char *id;
    const char *f[SR_F__COUNT];
    const char *category, *status, *region;
    uint32_t uses;
};

static void to_doc(const struct tdoc *t, struct sr_doc *d)
{
    memset(d, 0, sizeof *d);
    d->id = t->id;
    d->id_len = strlen(t->id);
    for (int i = 0; i < SR_F__COUNT; i++) {
        d->text[i] = t->f[i];
        d->len[i] = t->f[i] ? strlen(t->f[i]) : 0;
    }
    const char *st = t->status ? t->status : "published";
    d->category = t->category ? t->category : "";
    d->category_len = strlen(d->category);
    d->status = st;
    d->status_len = strlen(st);
    d->region = t->region ? t->region : "";
    d->region_len = strlen(d->region);
    d->uses = t->uses;
}

/* One committed batch putting (docno, doc) pairs; doc NULL removes. */
static void put_docs(struct env *v, const uint32_t *docnos,
                     const struct tdoc *const *docs, size_t n)
{
    struct gd_err err = {0};
    struct store_batch *b = store_batch_new();
    assert_non_null(b);
    sr_batch_begin(v->e, b);
    for (size_t i = 0; i < n; i++) {
        struct sr_doc d;
        if (docs[i] != NULL)
            to_doc(docs[i], &d);
        int rc = sr_index_put(v->e, docnos[i], docs[i] ? &d : NULL, &err);
        if (rc != 0)
            fail_msg("sr_index_put %u: %d %s", docnos[i], rc, err.msg);
    }
    if (store_batch_commit(v->s, b, 0, &err) != 0)
        fail_msg("commit: %s", err.msg);
    sr_batch_end(v->e, 1);
    store_batch_free(b);
}

static void put1(struct env *v, uint32_t docno, const struct tdoc *t)
{
    const struct tdoc *docs[1] = {t};
    put_docs(v, &docno, docs, 1);
}

struct qopt {
    const char *category, *status, *region;
    uint32_t exclude;
    size_t limit, offset;
    int snippets;
    int match_any;
};

static int search(struct env *v, const char *q, const struct qopt *o,
                  struct sr_result *r)
{
    struct sr_query sq = {0};
    struct gd_err err = {0};
    sq.q = q;
    sq.q_len = strlen(q);
    sq.limit = 10;
    if (o != NULL) {
        sq.category = o->category;
        sq.status = o->status;
        sq.region = o->region;
        sq.exclude_docno = o->exclude;
        if (o->limit)
            sq.limit = o->limit;
        sq.offset = o->offset;
        sq.snippets = o->snippets;
        sq.match_any = o->match_any;
    }
    return sr_search(v->e, &sq, r, &err);
}

/* Total hits of q (default filters). */
static size_t total_of(struct env *v, const char *q)
{
    struct sr_result r;
    int rc = search(v, q, NULL, &r);
    if (rc != 0)
        fail_msg("search %s: %d", q, rc);
    size_t t = r.total;
    sr_result_free(&r);
    return t;
}

static int has_doc(const struct sr_result *r, uint32_t docno)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->hits[i].docno == docno)
            return 1;
    return 0;
}

static int finds(struct env *v, const char *q, uint32_t docno)
{
    struct sr_result r;
    int rc = search(v, q, NULL, &r);
    if (rc != 0)
        fail_msg("search %s: %d", q, rc);
    int f = has_doc(&r, docno);
    sr_result_free(&r);
    return f;
}

static int has_term(const struct sr_tokens *t, const char *term)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->v[i].term, term) == 0)
            return 1;
    return 0;
}

static const struct sr_token *find_term(const struct sr_tokens *t,
                                        const char *term)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->v[i].term, term) == 0)
            return &t->v[i];
    return NULL;
}

/* Whole SEARCH CF as one blob. */
static char *cf_blob(struct store *s, size_t *len)
{
    size_t cap = 4096, n = 0;
    char *b = malloc(cap);
    assert_non_null(b);
    struct store_iter *it = store_iter_new(s, STORE_CF_SEARCH, NULL, 0, NULL, 0);
    assert_non_null(it);
    for (; store_iter_valid(it); store_iter_next(it)) {
        size_t kl, vl;
        const char *k = store_iter_key(it, &kl);
        const char *val = store_iter_value(it, &vl);
        while (n + kl + vl + 16 > cap) {
            cap *= 2;
            b = realloc(b, cap);
            assert_non_null(b);
        }
        memcpy(b + n, &kl, sizeof kl);
        n += sizeof kl;
        memcpy(b + n, k, kl);
        n += kl;
        memcpy(b + n, &vl, sizeof vl);
        n += sizeof vl;
        memcpy(b + n, val, vl);
        n += vl;
    }
    assert_int_equal(store_iter_error(it, NULL), 0);
    store_iter_free(it);
    *len = n;
    return b;
}

static const struct tdoc d_fee = {
    "KB-1",
    {"电费缴纳后多久恢复供电", "电费\n复电", "欠费停电后客户缴清电费",
     "系统处理需要时间", "缴费成功后24小时内恢复供电，可拨打95598查询",
     "您好，缴费后我们会尽快为您恢复供电"},
    "电费电价/缴费",
    NULL,
    NULL,
    0};

static const struct tdoc d_meter = {
    "KB-2",
    {"智能電能表顯示異常", "電能表", "DDZY71-Z型電能表屏幕不亮",
     "表計故障或電池耗盡", "聯繫供電所更換電能表，用電量按kWh計",
     "請您耐心等待工作人員上門"},
    "计量/电能表",
    NULL,
    NULL,
    0};

/* ------------------------------------------------------------- tests */

static void test_analyze(void **state)
{
    struct env v;
    env_open(&v);
    struct sr_tokens t;
    struct gd_err err = {0};
    const char *txt = "電費 DDZY71-Z 型ＡＢＣ KWh 95598 3.5元";
    assert_int_equal(sr_analyze(v.e, txt, strlen(txt), &t, &err), 0);
    assert_true(has_term(&t, "电费")); /* folded to simplified */
    assert_true(has_term(&t, "电"));
    assert_true(has_term(&t, "费"));
    assert_true(has_term(&t, "ddzy71"));
    assert_true(has_term(&t, "z"));
    assert_true(has_term(&t, "abc")); /* width and case folded */
    assert_true(has_term(&t, "kwh"));
    assert_true(has_term(&t, "95598"));
    assert_true(has_term(&t, "3.5"));
    assert_true(has_term(&t, "ddzy")); /* parts of a mixed token */
    assert_true(has_term(&t, "71"));
    assert_false(has_term(&t, "."));
    assert_false(has_term(&t, "電費"));
    /* offsets point into the original text */
    const struct sr_token *tk = find_term(&t, "电费");
    assert_non_null(tk);
    assert_int_equal(tk->start, 0);
    assert_int_equal(tk->end, 6);
    tk = find_term(&t, "abc");
    assert_non_null(tk);
    assert_memory_equal(txt + tk->start, "ＡＢＣ", tk->end - tk->start);
    tk = find_term(&t, "ddzy71");
    assert_memory_equal(txt + tk->start, "DDZY71", 6);
    sr_tokens_free(&t);

    /* dictionary words of 3+ characters come with their bigrams */
    const char *w = "变压器烧坏了";
    assert_int_equal(sr_analyze(v.e, w, strlen(w), &t, &err), 0);
    assert_true(has_term(&t, "变压器"));
    assert_true(has_term(&t, "变压"));
    assert_true(has_term(&t, "压器"));
    assert_true(has_term(&t, "了"));
    sr_tokens_free(&t);

    assert_int_equal(sr_analyze(v.e, "\xff\xfe", 2, &t, &err), GD_EINVAL);
    assert_int_equal(t.n, 0);
    assert_int_equal(sr_analyze(v.e, "", 0, &t, &err), 0);
    assert_int_equal(t.n, 0);
    sr_tokens_free(&t);
    env_close(&v, 1);
}

static void test_trad_simp(void **state)
{
    struct env v;
    env_open(&v);
    put1(&v, 1, &d_fee);   /* simplified */
    put1(&v, 2, &d_meter); /* traditional */
    assert_true(finds(&v, "電費繳納", 1));
    assert_true(finds(&v, "电费缴纳", 1));
    assert_true(finds(&v, "电能表显示异常", 2));
    assert_true(finds(&v, "智能電能表", 2));
    assert_true(finds(&v, "联系供电所", 2));
    assert_false(finds(&v, "電費繳納", 2));
    env_close(&v, 1);
}

static void test_short_and_latin(void **state)
{
    struct env v;
    env_open(&v);
    put1(&v, 1, &d_fee);
    put1(&v, 2, &d_meter);
    /* one character, also where it only ends a run */
    assert_true(finds(&v, "费", 1));
    assert_true(finds(&v, "屏", 2));
    assert_true(finds(&v, "亮", 2)); /* last character of 不亮 */
    assert_true(finds(&v, "電", 2));
    /* two characters, across a word boundary too */
    assert_true(finds(&v, "复电", 1));
    assert_true(finds(&v, "费后", 1));
    assert_true(finds(&v, "不亮", 2));
    /* Latin words and numbers, case-insensitive */
    assert_true(finds(&v, "95598", 1));
    assert_false(finds(&v, "95598", 2));
    assert_true(finds(&v, "KWH", 2));
    assert_true(finds(&v, "kwh", 2));
    assert_true(finds(&v, "ddzy71", 2));
    assert_true(finds(&v, "DDZY71-Z", 2));
    assert_true(finds(&v, "DDZY", 2)); /* a part of a model number */
    assert_false(finds(&v, "DDZ", 2));
    assert_int_equal(total_of(&v, "95599"), 0);
    assert_int_equal(total_of(&v, "电"), 2);
    env_close(&v, 1);
}

static void test_title_outranks_body(void **state)
{
    struct env v;
    env_open(&v);
    struct tdoc body = {.id = "B", .f = {"用电咨询", NULL, NULL, NULL,
                              "关于峰谷电价的说明和执行时间", NULL}};
    struct tdoc title = {.id = "T", .f = {"峰谷电价", NULL, NULL, NULL,
                               "居民用电的计价方式和执行时间说明", NULL}};
    struct tdoc other = {.id = "O", .f = {"停电通知", NULL, "计划停电", NULL, NULL, NULL}};
    uint32_t nos[3] = {1, 2, 3};
    const struct tdoc *docs[3] = {&body, &title, &other};
    put_docs(&v, nos, docs, 3);
    struct sr_result r;
    assert_int_equal(search(&v, "峰谷电价", NULL, &r), 0);
    assert_int_equal(r.total, 2);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.hits[0].docno, 2);
    assert_string_equal(r.hits[0].id, "T");
    assert_int_equal(r.hits[1].docno, 1);
    assert_true(r.hits[0].score > r.hits[1].score);
    assert_true(r.hits[1].score > 0);
    assert_null(r.suggestion);
    sr_result_free(&r);

    /* a phrase in order beats the same words apart */
    struct tdoc near = {.id = "N", .f = {NULL, NULL, NULL, NULL, "居民 阶梯 电价 标准", NULL}};
    struct tdoc far = {.id = "F", .f = {NULL, NULL, NULL, NULL,
                             "电价 按照 年度 阶梯 居民 标准", NULL}};
    uint32_t nos2[2] = {4, 5};
    const struct tdoc *docs2[2] = {&far, &near};
    put_docs(&v, nos2, docs2, 2);
    assert_int_equal(search(&v, "阶梯电价", NULL, &r), 0);
    assert_true(r.n >= 2);
    assert_int_equal(r.hits[0].docno, 5); /* near */
    sr_result_free(&r);
    env_close(&v, 1);
}

static void test_filters(void **state)
{
    struct env v;
    env_open(&v);
    struct tdoc a = {.id = "A", .f = {"电价政策说明"}, .category = "电费电价/电价政策", .region = "GD"};
    struct tdoc b = {.id = "B", .f = {"电价政策解读"}, .category = "电费电价", .region = ""};
    struct tdoc c = {.id = "C", .f = {"电价政策问答"}, .category = "电费电价X", .region = "GX"};
    struct tdoc d = {.id = "D", .f = {"电价政策草稿"}, .category = "电费电价", .status = "draft", .region = "GD"};
    uint32_t nos[4] = {1, 2, 3, 4};
    const struct tdoc *docs[4] = {&a, &b, &c, &d};
    put_docs(&v, nos, docs, 4);
    struct sr_result r;
    /* status NULL = published */
    assert_int_equal(search(&v, "电价政策", NULL, &r), 0);
    assert_int_equal(r.total, 3);
    assert_false(has_doc(&r, 4));
    sr_result_free(&r);
    struct qopt o = {0};
    o.status = "draft";
    assert_int_equal(search(&v, "电价政策", &o, &r), 0);
    assert_int_equal(r.total, 1);
    assert_int_equal(r.hits[0].docno, 4);
    sr_result_free(&r);
    /* category prefix at '/' boundaries */
    memset(&o, 0, sizeof o);
    o.category = "电费电价";
    assert_int_equal(search(&v, "电价政策", &o, &r), 0);
    assert_int_equal(r.total, 2);
    assert_true(has_doc(&r, 1) && has_doc(&r, 2));
    assert_false(has_doc(&r, 3));
    sr_result_free(&r);
    o.category = "电费电价/电价政策";
    assert_int_equal(search(&v, "电价政策", &o, &r), 0);
    assert_int_equal(r.total, 1);
    assert_int_equal(r.hits[0].docno, 1);
    sr_result_free(&r);
    o.category = "电费";
    assert_int_equal(search(&v, "电价政策", &o, &r), 0);
    assert_int_equal(r.total, 0);
    sr_result_free(&r);
    /* region: that region or everywhere */
    memset(&o, 0, sizeof o);
    o.region = "GD";
    assert_int_equal(search(&v, "电价政策", &o, &r), 0);
    assert_int_equal(r.total, 2);
    assert_true(has_doc(&r, 1) && has_doc(&r, 2));
    sr_result_free(&r);
    o.region = "GX";
    assert_int_equal(search(&v, "电价政策", &o, &r), 0);
    assert_int_equal(r.total, 2);
    assert_true(has_doc(&r, 2) && has_doc(&r, 3));
    sr_result_free(&r);
    /* exclude_docno */
    memset(&o, 0, sizeof o);
    o.exclude = 2;
    assert_int_equal(search(&v, "电价政策", &o, &r), 0);
    assert_int_equal(r.total, 2);
    assert_false(has_doc(&r, 2));
    sr_result_free(&r);
    env_close(&v, 1);
}

static void test_update_remove(void **state)
{
    struct env v;
    env_open(&v);
    struct tdoc old = {.id = "X", .f = {"变压器噪音投诉", NULL, "夜间噪音很大"}};
    struct tdoc neu = {.id = "X", .f = {"路灯不亮报修", NULL, "小区路灯损坏"}};
    put1(&v, 7, &old);
    assert_true(finds(&v, "噪音", 7));
    put1(&v, 7, &neu);
    assert_false(finds(&v, "噪音", 7)); /* old-only term */
    assert_int_equal(total_of(&v, "噪音"), 0);
    assert_true(finds(&v, "路灯", 7));
    assert_int_equal(total_of(&v, "路灯"), 1);
    /* attributes only: same texts, new status */
    struct tdoc draft = neu;
    draft.status = "retired";
    put1(&v, 7, &draft);
    assert_int_equal(total_of(&v, "路灯"), 0);
    struct sr_stats st;
    sr_engine_stats(v.e, &st);
    assert_int_equal(st.docs, 1);
    put1(&v, 7, &neu);
    assert_int_equal(total_of(&v, "路灯"), 1);
    /* removal, and removing an absent docno */
    put1(&v, 7, NULL);
    assert_int_equal(total_of(&v, "路灯"), 0);
    put1(&v, 99, NULL);
    sr_engine_stats(v.e, &st);
    assert_int_equal(st.docs, 0);

    /* the same docno twice in one batch: the last one counts */
    uint32_t nos[3] = {8, 8, 9};
    const struct tdoc *docs[3] = {&old, &neu, &old};
    put_docs(&v, nos, docs, 3);
    assert_true(finds(&v, "路灯", 8));
    assert_false(finds(&v, "噪音", 8));
    assert_true(finds(&v, "噪音", 9));
    assert_int_equal(total_of(&v, "噪音"), 1);
    /* put then remove in one batch */
    uint32_t nos2[2] = {10, 10};
    const struct tdoc *docs2[2] = {&old, NULL};
    put_docs(&v, nos2, docs2, 2);
    assert_int_equal(total_of(&v, "噪音"), 1);
    /* the engine reopened from the store agrees */
    sr_engine_close(v.e);
    struct gd_err err = {0};
    assert_int_equal(sr_engine_open(v.s, &v.e, &err), 0);
    assert_int_equal(total_of(&v, "噪音"), 1);
    assert_true(finds(&v, "路灯", 8));
    assert_false(finds(&v, "噪音", 8));
    sr_engine_stats(v.e, &st);
    assert_int_equal(st.docs, 2);
    env_close(&v, 1);
}

static void test_dropped_batch(void **state)
{
    struct env v;
    env_open(&v);
    put1(&v, 1, &d_fee);
    struct tdoc x = {.id = "Y", .f = {"燃气泄漏应急处置"}};
    struct gd_err err = {0};
    struct store_batch *b = store_batch_new();
    sr_batch_begin(v.e, b);
    struct sr_doc d;
    to_doc(&x, &d);
    assert_int_equal(sr_index_put(v.e, 2, &d, &err), 0);
    assert_int_equal(sr_index_put(v.e, 1, NULL, &err), 0);
    /* queries during the batch see the committed state */
    assert_int_equal(total_of(&v, "燃气"), 0);
    assert_true(finds(&v, "电费", 1));
    sr_batch_end(v.e, 0); /* dropped: not committed */
    store_batch_free(b);
    assert_int_equal(total_of(&v, "燃气"), 0);
    assert_true(finds(&v, "电费", 1));
    struct sr_stats st;
    sr_engine_stats(v.e, &st);
    assert_int_equal(st.docs, 1);
    /* the same docno again, committed this time */
    put1(&v, 2, &x);
    assert_true(finds(&v, "燃气", 2));
    assert_int_equal(total_of(&v, "燃气"), 1);
    /* no batch: EINVAL */
    assert_int_equal(sr_index_put(v.e, 3, &d, &err), GD_EINVAL);
    env_close(&v, 1);
}

static const char *const words[] = {
    "电费", "缴纳", "停电", "复电", "电能表", "故障", "报修", "抢修", "电压",
    "跳闸", "峰谷", "电价", "阶梯", "居民", "客户", "投诉", "咨询", "营业厅",
    "供电所", "线路", "变压器", "光伏", "并网", "增容", "过户", "发票", "短信",
    "欠费", "预付费", "智能", "表计", "计量", "电量", "查询", "申请", "业扩",
    "安全", "隐患", "树障", "台区", "低压", "高压", "抄表", "账单", "退费"};
#define NWORDS (sizeof words / sizeof words[0])

static uint32_t rnd(uint32_t *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

/* A deterministic synthetic article. */
static void gen_doc(uint32_t seed, char *buf, size_t cap, struct tdoc *t,
                    char *id)
{
    uint32_t s = seed * 2654435761u + 1;
    size_t o = 0;
    for (int f = 0; f < SR_F__COUNT; f++) {
        t->f[f] = buf + o;
        int n = f == SR_F_TITLE ? 3 : f == SR_F_KEYWORDS ? 2 : 12;
        for (int k = 0; k < n && o + 40 < cap; k++) {
            const char *w = words[rnd(&s) % NWORDS];
            size_t l = strlen(w);
            memcpy(buf + o, w, l);
            o += l;
            if (rnd(&s) % 5 == 0)
                buf[o++] = rnd(&s) % 2 ? ' ' : ',';
        }
        buf[o++] = '\0';
    }
    sprintf(id, "KB-%u", seed);
    t->id = id;
    t->category = seed % 3 ? "电费电价" : "故障报修";
    t->status = NULL;
    t->region = seed % 4 ? "" : "GD";
    t->uses = seed % 7;
}

static void load_corpus_cb(struct env *v, uint32_t n, uint32_t per,
                           void (*cb)(struct env *, const uint32_t *,
                                      const struct tdoc *const *, size_t));

/* n documents in batches of per; every 5th later updated, every 11th
 * removed. */
static void load_corpus(struct env *v, uint32_t n, uint32_t per)
{
    load_corpus_cb(v, n, per, put_docs);
}

/* As load_corpus, each batch applied by cb. */
static void load_corpus_cb(struct env *v, uint32_t n, uint32_t per,
                           void (*put)(struct env *, const uint32_t *,
                                       const struct tdoc *const *, size_t))
{
    char (*bufs)[2048] = malloc(per * sizeof *bufs);
    char (*ids)[32] = malloc(per * sizeof *ids);
    struct tdoc *t = calloc(per, sizeof *t);
    const struct tdoc **p = calloc(per, sizeof *p);
    uint32_t *nos = calloc(per, sizeof *nos);
    for (uint32_t i = 1; i <= n;) {
        uint32_t k = 0;
        for (; k < per && i <= n; k++, i++) {
            gen_doc(i, bufs[k], sizeof bufs[k], &t[k], ids[k]);
            nos[k] = i;
            p[k] = &t[k];
        }
        put(v, nos, p, k);
    }
    uint32_t k = 0;
    for (uint32_t i = 5; i <= n; i += 5) {
        gen_doc(i + 100000, bufs[k], sizeof bufs[k], &t[k], ids[k]);
        nos[k] = i;
        p[k] = &t[k];
        if (++k == per) {
            put(v, nos, p, k);
            k = 0;
        }
    }
    for (uint32_t i = 11; i <= n; i += 11) {
        nos[k] = i;
        p[k] = NULL;
        if (++k == per) {
            put(v, nos, p, k);
            k = 0;
        }
    }
    if (k > 0)
        put(v, nos, p, k);
    free(bufs);
    free(ids);
    free(t);
    free(p);
    free(nos);
}

static const char *const queries[] = {
    "电费", "停电", "电能表故障", "峰谷电价", "变压器", "表", "费",
    "居民阶梯电价", "光伏并网申请", "营业厅 发票", "客户投诉咨询",
    "抄表 账单 退费"};
#define NQUERIES (sizeof queries / sizeof queries[0])

/* Every query gives the same hits on two engines. */
static void same_results(struct env *a, struct env *b)
{
    for (size_t i = 0; i < NQUERIES; i++) {
        struct sr_result ra, rb;
        struct qopt o = {0};
        o.limit = 50;
        assert_int_equal(search(a, queries[i], &o, &ra), 0);
        assert_int_equal(search(b, queries[i], &o, &rb), 0);
        assert_int_equal(ra.total, rb.total);
        assert_int_equal(ra.n, rb.n);
        for (size_t k = 0; k < ra.n; k++) {
            assert_int_equal(ra.hits[k].docno, rb.hits[k].docno);
            assert_string_equal(ra.hits[k].id, rb.hits[k].id);
            assert_true(ra.hits[k].score == rb.hits[k].score);
        }
        sr_result_free(&ra);
        sr_result_free(&rb);
    }
}

static void test_determinism(void **state)
{
    struct env a, b;
    env_open(&a);
    env_open(&b);
    /* b runs a cache of one byte and an extra reload: caches must not
     * change the bytes */
    sr_engine_set_flush_threshold(a.e, 5000);
    sr_engine_set_flush_threshold(b.e, 5000);
    sr_engine_set_cache_limit(b.e, 1);
    load_corpus(&a, 400, 37);
    load_corpus(&b, 400, 37);
    size_t la, lb;
    char *ba = cf_blob(a.s, &la);
    char *bb = cf_blob(b.s, &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(ba, bb, la);
    free(ba);
    free(bb);
    same_results(&a, &b);
    assert_true(a.e->nseg > 2); /* segments were flushed */
    env_close(&a, 1);
    env_close(&b, 1);
}

static void test_segments_match_buffer(void **state)
{
    /* the same corpus with many flushes and with none gives the same
     * answers, before and after reopening */
    struct env a, b;
    env_open(&a);
    env_open(&b);
    sr_engine_set_flush_threshold(a.e, 3000);
    load_corpus(&a, 300, 20);
    load_corpus(&b, 300, 20);
    assert_true(a.e->nseg > 3);
    assert_int_equal(b.e->nseg, 0);
    same_results(&a, &b);
    struct sr_stats sa, sb;
    sr_engine_stats(a.e, &sa);
    sr_engine_stats(b.e, &sb);
    assert_int_equal(sa.docs, sb.docs);
    assert_int_equal(sa.docs, 300 - 300 / 11);
    sr_engine_close(a.e);
    struct gd_err err = {0};
    assert_int_equal(sr_engine_open(a.s, &a.e, &err), 0);
    sr_engine_close(b.e);
    assert_int_equal(sr_engine_open(b.s, &b.e, &err), 0);
    same_results(&a, &b);
    sr_engine_stats(a.e, &sa);
    assert_true(sa.cache_misses > 0);
    env_close(&a, 1);
    env_close(&b, 1);
}

static void test_reload_after_load(void **state)
{
    struct env a, b;
    env_open(&a);
    env_open(&b);
    sr_engine_set_flush_threshold(a.e, 2000);
    load_corpus(&a, 120, 10);
    put1(&b, 1, &d_fee);
    assert_true(finds(&b, "电费", 1));
    char *dump = NULL;
    size_t dlen = 0;
    struct gd_err err = {0};
    assert_int_equal(store_dump(a.s, malloc, &dump, &dlen, &err), 0);
    assert_int_equal(store_load(b.s, dump, dlen, &err), 0);
    free(dump);
    assert_int_equal(sr_engine_reload(b.e, &err), 0);
    same_results(&a, &b);
    assert_int_equal(total_of(&b, "复电"), total_of(&a, "复电"));
    struct sr_stats st;
    sr_engine_stats(b.e, &st);
    assert_int_equal(st.docs, 120 - 120 / 11);
    env_close(&a, 1);
    env_close(&b, 1);
}

/* 1 if s is valid UTF-8 and has no unescaped < > & " outside the tags. */
static int snippet_ok(const char *s)
{
    if (!gd_utf8_valid(s, strlen(s)))
        return 0;
    for (const char *p = s; *p; p++) {
        if (*p == '<') {
            if (strncmp(p, "<em>", 4) != 0 && strncmp(p, "</em>", 5) != 0)
                return 0;
            p = strchr(p, '>');
        } else if (*p == '>' || *p == '"') {
            return 0;
        } else if (*p == '&') {
            if (strncmp(p, "&amp;", 5) && strncmp(p, "&lt;", 4) &&
                strncmp(p, "&gt;", 4) && strncmp(p, "&quot;", 6))
                return 0;
        }
    }
    return 1;
}

static size_t cps(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

static void test_snippets(void **state)
{
    struct env v;
    env_open(&v);
    struct tdoc x = {.id = "S", .f = {"标题", NULL, "屏幕显示<b>\"错误\"</b> & 电能表不亮"}};
    put1(&v, 1, &x);
    struct sr_result r;
    struct qopt o = {0};
    o.snippets = 1;
    assert_int_equal(search(&v, "電能表", &o, &r), 0);
    assert_int_equal(r.n, 1);
    assert_non_null(r.hits[0].snippet);
    assert_string_equal(r.hits[0].snippet,
                        "屏幕显示&lt;b&gt;&quot;错误&quot;&lt;/b&gt; &amp; "
                        "<em>电能表</em>不亮");
    sr_result_free(&r);

    /* long text: a window around the match, cut at characters */
    char big[8192];
    size_t n = 0;
    for (int i = 0; i < 300; i++)
        n += (size_t)sprintf(big + n, "%s", i == 200 ? "欠费停电" : "用电");
    struct tdoc y = {.id = "L", .f = {"长文", NULL, NULL, NULL, big}};
    put1(&v, 2, &y);
    assert_int_equal(search(&v, "欠费停电", &o, &r), 0);
    assert_int_equal(r.n, 1);
    const char *sn = r.hits[0].snippet;
    assert_non_null(sn);
    assert_true(snippet_ok(sn));
    assert_non_null(strstr(sn, "<em>欠费停电</em>"));
    assert_true(cps(sn) <= 120 + 2 + 9);
    assert_true(strncmp(sn, "…", 3) == 0);
    sr_result_free(&r);
    /* no snippets unless asked */
    assert_int_equal(search(&v, "欠费停电", NULL, &r), 0);
    assert_null(r.hits[0].snippet);
    sr_result_free(&r);
    /* mixed scripts and Latin */
    put1(&v, 3, &d_meter);
    assert_int_equal(search(&v, "ddzy71 电能表", &o, &r), 0);
    assert_int_equal(r.hits[0].docno, 3);
    assert_true(snippet_ok(r.hits[0].snippet));
    assert_non_null(strstr(r.hits[0].snippet, "<em>DDZY71</em>"));
    assert_non_null(strstr(r.hits[0].snippet, "<em>電能表</em>"));
    sr_result_free(&r);
    env_close(&v, 1);
}

static void test_bad_input(void **state)
{
    struct env v;
    env_open(&v);
    struct gd_err err = {0};
    struct store_batch *b = store_batch_new();
    sr_batch_begin(v.e, b);
    struct tdoc bad = {.id = "B", .f = {"ok", NULL, "bad \xc3\x28 utf8"}};
    struct sr_doc d;
    to_doc(&bad, &d);
    assert_int_equal(sr_index_put(v.e, 1, &d, &err), GD_EINVAL);
    assert_int_equal(store_batch_count(b), 0); /* nothing written */
    struct tdoc ok = {.id = "B", .f = {"正常"}};
    to_doc(&ok, &d);
    assert_int_equal(sr_index_put(v.e, 0, &d, &err), GD_EINVAL);
    d.id_len = 0;
    assert_int_equal(sr_index_put(v.e, 1, &d, &err), GD_EINVAL);
    char longid[80];
    memset(longid, 'a', sizeof longid);
    d.id = longid;
    d.id_len = 65;
    assert_int_equal(sr_index_put(v.e, 1, &d, &err), GD_EINVAL);
    to_doc(&ok, &d);
    d.text[SR_F_CAUSE] = NULL;
    d.len[SR_F_CAUSE] = 3;
    assert_int_equal(sr_index_put(v.e, 1, &d, &err), GD_EINVAL);
    to_doc(&ok, &d);
    d.region = "\xff";
    d.region_len = 1;
    assert_int_equal(sr_index_put(v.e, 1, &d, &err), GD_EINVAL);
    assert_int_equal(store_batch_count(b), 0);
    sr_batch_end(v.e, 0);
    store_batch_free(b);

    put1(&v, 1, &d_fee);
    struct sr_result r;
    assert_int_equal(search(&v, "", NULL, &r), GD_EINVAL);
    assert_int_equal(r.n, 0);
    sr_result_free(&r);
    assert_int_equal(search(&v, "，。！ ？", NULL, &r), GD_EINVAL);
    assert_int_equal(search(&v, "\xe7\x94", NULL, &r), GD_EINVAL);
    struct qopt o = {0};
    o.limit = 101;
    assert_int_equal(search(&v, "电费", &o, &r), GD_EINVAL);
    o.limit = 1;
    o.offset = 10001;
    assert_int_equal(search(&v, "电费", &o, &r), GD_EINVAL);
    struct sr_query q0 = {0};
    q0.q = "电费";
    q0.q_len = strlen(q0.q);
    assert_int_equal(sr_search(v.e, &q0, &r, &err), GD_EINVAL); /* limit 0 */
    char *qt = NULL;
    assert_int_equal(sr_query_from_text(v.e, "\xff", 1, 5, &qt, &err),
                     GD_EINVAL);
    assert_null(qt);
    assert_int_equal(sr_query_from_text(v.e, "!!!", 3, 5, &qt, &err),
                     GD_EINVAL);
    sr_engine_close(NULL);
    sr_result_free(NULL);
    env_close(&v, 1);
}

static void test_paging_total(void **state)
{
    struct env v;
    env_open(&v);
    char bufs[25][128], ids[25][16];
    struct tdoc t[25];
    const struct tdoc *p[25];
    uint32_t nos[25];
    for (int i = 0; i < 25; i++) {
        memset(&t[i], 0, sizeof t[i]);
        snprintf(bufs[i], sizeof bufs[i], "第%d号台区线路巡视%s", i,
                 i % 3 ? "记录" : "计划和记录");
        snprintf(ids[i], sizeof ids[i], "P-%d", i);
        t[i].id = ids[i];
        t[i].f[SR_F_TITLE] = bufs[i];
        t[i].uses = (uint32_t)i;
        p[i] = &t[i];
        nos[i] = (uint32_t)(100 + i);
    }
    put_docs(&v, nos, p, 25);
    int seen[25] = {0};
    for (size_t off = 0; off < 30; off += 10) {
        struct sr_result r;
        struct qopt o = {0};
        o.limit = 10;
        o.offset = off;
        assert_int_equal(search(&v, "线路巡视", &o, &r), 0);
        assert_int_equal(r.total, 25);
        assert_int_equal(r.n, off < 20 ? 10 : 5);
        for (size_t i = 0; i < r.n; i++) {
            uint32_t k = r.hits[i].docno - 100;
            assert_true(k < 25);
            assert_int_equal(seen[k], 0);
            seen[k] = 1;
            if (i > 0)
                assert_true(r.hits[i - 1].score >= r.hits[i].score);
        }
        sr_result_free(&r);
    }
    for (int i = 0; i < 25; i++)
        assert_int_equal(seen[i], 1);
    struct sr_result r;
    struct qopt o = {0};
    o.offset = 40;
    assert_int_equal(search(&v, "线路巡视", &o, &r), 0);
    assert_int_equal(r.total, 25);
    assert_int_equal(r.n, 0);
    sr_result_free(&r);
    env_close(&v, 1);
}

static void test_suggestion(void **state)
{
    struct env v;
    env_open(&v);
    put1(&v, 1, &d_fee);
    put1(&v, 2, &d_meter);
    struct sr_result r;
    assert_int_equal(search(&v, "电费 xyzzy", NULL, &r), 0);
    assert_int_equal(r.total, 0);
    assert_non_null(r.suggestion);
    assert_string_equal(r.suggestion, "电费");
    sr_result_free(&r);
    assert_int_equal(search(&v, "电费 屏幕", NULL, &r), 0);
    assert_int_equal(r.total, 0);
    assert_non_null(r.suggestion);
    assert_true(strcmp(r.suggestion, "电费") == 0 ||
                strcmp(r.suggestion, "屏幕") == 0);
    sr_result_free(&r);
    assert_int_equal(search(&v, "电费", NULL, &r), 0);
    assert_null(r.suggestion);
    sr_result_free(&r);
    assert_int_equal(search(&v, "qqqq", NULL, &r), 0);
    assert_int_equal(r.total, 0);
    assert_null(r.suggestion);
    sr_result_free(&r);
    env_close(&v, 1);
}

static void test_query_from_text(void **state)
{
    struct env v;
    env_open(&v);
    load_corpus(&v, 60, 60);
    put1(&v, 1000, &d_fee);
    put1(&v, 1001, &d_meter);
    struct tdoc like = d_fee;
    like.id = "KB-1-copy";
    put1(&v, 1002, &like);
    struct gd_err err = {0};
    char *q = NULL;
    const char *ticket = "客户反映欠费停电，已经缴清电费，询问多久恢复供电。";
    assert_int_equal(sr_query_from_text(v.e, ticket, strlen(ticket), 6, &q,
                                        &err),
                     0);
    assert_non_null(q);
    assert_true(strlen(q) > 0);
    size_t spaces = 0;
    for (char *p = q; *p; p++)
        spaces += *p == ' ';
    assert_true(spaces <= 5);
    struct sr_result r;
    struct qopt o = {0};
    o.exclude = 1002;
    assert_int_equal(search(&v, q, &o, &r), 0);
    assert_true(r.n > 0);
    assert_int_equal(r.hits[0].docno, 1000);
    assert_false(has_doc(&r, 1002));
    sr_result_free(&r);
    free(q);
    env_close(&v, 1);
}

/* A "more like this" query (match_any) finds a document that shares only
 * a few of its units; a typed query with the same words does not. */
static void test_match_any(void **state)
{
    struct env v;
    env_open(&v);
    const struct tdoc a = {.id = "A",
                           .f = {[SR_F_TITLE] = "电能表走字快怎么办",
                                 [SR_F_SOLUTION] = "申请校验电能表"}};
    const struct tdoc b = {.id = "B",
                           .f = {[SR_F_TITLE] = "营业厅营业时间",
                                 [SR_F_SOLUTION] = "工作日开门"}};
    put1(&v, 1, &a);
    put1(&v, 2, &b);
    const char *q = "电能 走字 光伏 并网 发票 过户";
    struct sr_result r;
    struct qopt o = {0};
    assert_int_equal(search(&v, q, &o, &r), 0);
    assert_int_equal(r.total, 0);
    sr_result_free(&r);
    o.match_any = 1;
    assert_int_equal(search(&v, q, &o, &r), 0);
    assert_int_equal(r.total, 1);
    assert_int_equal(r.hits[0].docno, 1);
    sr_result_free(&r);
    /* One shared unit of six is not enough: two are needed from four on. */
    assert_int_equal(search(&v, "电能 光伏 并网 发票 过户 销户", &o, &r), 0);
    assert_int_equal(r.total, 0);
    sr_result_free(&r);
    env_close(&v, 1);
}

/* The snippet is a sentence of the body when the body matches, even when
 * the title and keywords match too (they are shown or read anyway). */
static void test_snippet_prefers_body(void **state)
{
    struct env v;
    env_open(&v);
    const struct tdoc a = {.id = "A",
                           .f = {[SR_F_TITLE] = "电费缴纳",
                                 [SR_F_KEYWORDS] = "电费\n缴费",
                                 [SR_F_SOLUTION] = "可在网上国网缴纳电费"}};
    put1(&v, 1, &a);
    struct sr_result r;
    struct qopt o = {0};
    o.snippets = 1;
    assert_int_equal(search(&v, "电费", &o, &r), 0);
    assert_int_equal(r.n, 1);
    assert_non_null(r.hits[0].snippet);
    assert_non_null(strstr(r.hits[0].snippet, "网上国网"));
    sr_result_free(&r);
    env_close(&v, 1);
}

static void test_corrupt(void **state)
{
    struct env v;
    env_open(&v);
    put1(&v, 1, &d_fee);
    struct gd_err err = {0};
    /* a posting key of a segment that does not exist */
    struct store_batch *b = store_batch_new();
    store_batch_put(b, STORE_CF_SEARCH, "P\xe7\x94\xb5\x00\x00\x00\x00\x05", 9,
                    "\x01\x01\x01\x01", 4);
    assert_int_equal(store_batch_commit(v.s, b, 0, &err), 0);
    store_batch_free(b);
    struct sr_result r;
    assert_int_equal(search(&v, "电", NULL, &r), GD_ECORRUPT);
    assert_int_equal(r.n, 0);
    sr_result_free(&r);
    /* a truncated document record */
    b = store_batch_new();
    store_batch_put(b, STORE_CF_SEARCH, "D\x00\x00\x00\x02", 5, "\x01\x05", 2);
    assert_int_equal(store_batch_commit(v.s, b, 0, &err), 0);
    store_batch_free(b);
    sr_engine_close(v.e);
    v.e = NULL;
    assert_int_equal(sr_engine_open(v.s, &v.e, &err), GD_ECORRUPT);
    assert_null(v.e);
    /* garbage meta */
    b = store_batch_new();
    store_batch_delete(b, STORE_CF_SEARCH, "D\x00\x00\x00\x02", 5);
    store_batch_put(b, STORE_CF_SEARCH, "M", 1, "\x01\xff", 2);
    assert_int_equal(store_batch_commit(v.s, b, 0, &err), 0);
    store_batch_free(b);
    assert_int_equal(sr_engine_open(v.s, &v.e, &err), GD_ECORRUPT);
    env_close(&v, 1);
}

static void test_stats_and_cache(void **state)
{
    struct env v;
    env_open(&v);
    sr_engine_set_flush_threshold(v.e, 500);
    load_corpus(&v, 100, 25);
    struct sr_stats st;
    sr_engine_stats(v.e, &st);
    assert_int_equal(st.docs, 100 - 100 / 11);
    uint64_t q0 = st.queries;
    size_t t1 = total_of(&v, "电能表故障");
    sr_engine_stats(v.e, &st);
    assert_int_equal(st.queries, q0 + 1);
    uint64_t hits = st.cache_hits;
    assert_true(st.cache_bytes > 0);
    assert_int_equal(total_of(&v, "电能表故障"), t1);
    sr_engine_stats(v.e, &st);
    assert_true(st.cache_hits > hits);
    /* a tiny cache evicts but answers the same */
    sr_engine_set_cache_limit(v.e, 1);
    assert_int_equal(total_of(&v, "电能表故障"), t1);
    sr_engine_stats(v.e, &st);
    assert_true(st.cache_bytes < 4096);
    env_close(&v, 1);
}


static int bytes_cmp(const void *a, const void *b)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    return strcmp(x, y);
}

static void test_term_sort(void **state)
{
    /* sr_tmap_sort agrees with byte order, across the 8-byte key prefix */
    static const char *const t[] = {
        "电", "电费", "电费缴纳", "电费缴纳后", "a", "ab", "abcdefgh",
        "abcdefghi", "abcdefgha", "abcdefg", "z", "95598", "9", "变压器",
        "变压", "kwh", "ｚ", "\xf0\xa0\x80\x80", "电费缴纳前", "abcdefghij"};
    size_t n = sizeof t / sizeof t[0];
    struct sr_tmap m = {0};
    uint32_t idx[64];
    for (size_t i = 0; i < n; i++) {
        uint32_t k;
        assert_int_equal(
            sr_tmap_get(&m, t[i], strlen(t[i]), sr_hash(t[i], strlen(t[i])),
                        &k, NULL),
            0);
        idx[i] = k;
    }
    /* many more, to go through the quicksort path */
    char more[40][8];
    for (int i = 0; i < 40; i++) {
        snprintf(more[i], sizeof more[i], "%c%02d", 'c' + (i * 7) % 5,
                 (i * 37) % 100);
        uint32_t k;
        sr_tmap_get(&m, more[i], strlen(more[i]),
                    sr_hash(more[i], strlen(more[i])), &k, NULL);
        idx[n + (size_t)i] = k;
    }
    size_t total = m.n;
    assert_int_equal(sr_tmap_sort(&m, idx, total), 0);
    const char *ref[64];
    for (size_t i = 0; i < total; i++) {
        size_t l;
        const char *x = sr_tmap_term(&m, (uint32_t)i, &l);
        ref[i] = strndup(x, l);
    }
    qsort(ref, total, sizeof *ref, bytes_cmp);
    for (size_t i = 0; i < total; i++) {
        size_t l;
        const char *x = sr_tmap_term(&m, idx[i], &l);
        assert_int_equal(l, strlen(ref[i]));
        assert_memory_equal(x, ref[i], l);
    }
    for (size_t i = 0; i < total; i++)
        free((void *)ref[i]);
    sr_tmap_free(&m);
}

/* The word memo changes nothing: the same tokens cold, warm and on a fresh
 * engine. */
static void test_analysis_stable(void **state)
{
    struct env a, b;
    env_open(&a);
    env_open(&b);
    const char *txt = "变压器烧坏了，客户反映小区停电；变压器烧坏了。"
                      "配電變壓器過載跳閘，请尽快恢复供电";
    struct sr_tokens t1, t2, t3;
    struct gd_err err = {0};
    assert_int_equal(sr_analyze(a.e, txt, strlen(txt), &t1, &err), 0);
    assert_int_equal(sr_analyze(a.e, txt, strlen(txt), &t2, &err), 0);
    assert_int_equal(sr_analyze(b.e, txt, strlen(txt), &t3, &err), 0);
    assert_int_equal(t1.n, t2.n);
    assert_int_equal(t1.n, t3.n);
    for (size_t i = 0; i < t1.n; i++) {
        assert_string_equal(t1.v[i].term, t2.v[i].term);
        assert_string_equal(t1.v[i].term, t3.v[i].term);
        assert_int_equal(t1.v[i].start, t3.v[i].start);
        assert_int_equal(t1.v[i].end, t3.v[i].end);
        assert_int_equal(t1.v[i].pos, t3.v[i].pos);
        assert_true(t1.v[i].start < t1.v[i].end);
        assert_true(t1.v[i].end <= strlen(txt));
    }
    assert_true(has_term(&t1, "变压器"));
    assert_true(has_term(&t1, "过载")); /* 過載 folded */
    sr_tokens_free(&t1);
    sr_tokens_free(&t2);
    sr_tokens_free(&t3);
    env_close(&a, 1);
    env_close(&b, 1);
}

/* A dropped batch that flushed a segment leaves the engine as the store
 * is: the same answers as an engine opened afresh. */
static void test_dropped_flush(void **state)
{
    struct env v;
    env_open(&v);
    sr_engine_set_flush_threshold(v.e, 1500);
    load_corpus(&v, 40, 40);
    uint32_t nseg = v.e->nseg;
    struct gd_err err = {0};
    struct store_batch *b = store_batch_new();
    sr_batch_begin(v.e, b);
    char buf[2048], id[32];
    struct tdoc t;
    for (uint32_t i = 1; i <= 40; i++) {
        gen_doc(i + 500, buf, sizeof buf, &t, id);
        struct sr_doc d;
        to_doc(&t, &d);
        assert_int_equal(sr_index_put(v.e, i, &d, &err), 0);
    }
    assert_true(store_batch_count(b) > 80); /* segment keys were written */
    /* a second begin drops the first batch too */
    struct store_batch *b2 = store_batch_new();
    sr_batch_begin(v.e, b2);
    sr_batch_end(v.e, 0);
    store_batch_free(b);
    store_batch_free(b2);
    assert_int_equal(v.e->nseg, nseg);
    struct env w;
    memset(&w, 0, sizeof w);
    w.s = v.s;
    assert_int_equal(sr_engine_open(v.s, &w.e, &err), 0);
    same_results(&v, &w);
    /* and a committed batch after it keeps them in step */
    load_corpus(&v, 30, 7);
    sr_engine_close(w.e);
    assert_int_equal(sr_engine_open(v.s, &w.e, &err), 0);
    same_results(&v, &w);
    sr_engine_close(w.e);
    env_close(&v, 1);
}

static void test_long_query(void **state)
{
    struct env v;
    env_open(&v);
    load_corpus(&v, 80, 80);
    /* more units than a mask holds: the rarest are kept */
    char q[4096];
    size_t n = 0;
    for (size_t i = 0; i < NWORDS; i++)
        n += (size_t)snprintf(q + n, sizeof q - n, "%s ", words[i]);
    struct sr_result r;
    assert_int_equal(search(&v, q, NULL, &r), 0);
    assert_true(r.total > 0);
    sr_result_free(&r);
    char *qt = NULL;
    struct gd_err err = {0};
    assert_int_equal(sr_query_from_text(v.e, q, n, 100, &qt, &err), 0);
    assert_non_null(qt);
    assert_int_equal(search(&v, qt, NULL, &r), 0);
    assert_true(r.total > 0);
    sr_result_free(&r);
    free(qt);
    /* a large docno */
    put1(&v, UINT32_MAX, &d_fee);
    assert_true(finds(&v, "95598", UINT32_MAX));
    assert_int_equal(total_of(&v, "95598"), 1);
    env_close(&v, 1);
}


/* Replica b restarts its engine after every batch and first drops every
 * third batch before applying it: while segments are written over many
 * puts and batches, it must hold the same bytes as a replica that ran
 * without interruption, and answer like an index without segments. */
static int restart_every;

static void put_docs_restart(struct env *v, const uint32_t *docnos,
                             const struct tdoc *const *docs, size_t n)
{
    static unsigned calls;
    struct gd_err err = {0};
    if (++calls % 3 == 0) {
        struct store_batch *b = store_batch_new();
        assert_non_null(b);
        sr_batch_begin(v->e, b);
        for (size_t i = 0; i < n; i++) {
            struct sr_doc d;
            if (docs[i] != NULL)
                to_doc(docs[i], &d);
            assert_int_equal(
                sr_index_put(v->e, docnos[i], docs[i] ? &d : NULL, &err), 0);
        }
        sr_batch_end(v->e, 0);
        store_batch_free(b);
    }
    put_docs(v, docnos, docs, n);
    if (restart_every && calls % restart_every == 0) {
        sr_engine_close(v->e);
        assert_int_equal(sr_engine_open(v->s, &v->e, &err), 0);
        sr_engine_set_flush_threshold(v->e, 3000);
        sr_engine_set_flush_step(v->e, 200, 1);
    }
}

static int inflight_seen;

static void put_docs_watch(struct env *v, const uint32_t *docnos,
                           const struct tdoc *const *docs, size_t n)
{
    put_docs(v, docnos, docs, n);
    struct sr_stats st;
    sr_engine_stats(v->e, &st);
    inflight_seen += st.flushing != 0;
}

static void test_spread_flush(void **state)
{
    struct env a, b, c;
    env_open(&a);
    env_open(&b);
    env_open(&c);
    sr_engine_set_flush_threshold(a.e, 3000);
    sr_engine_set_flush_step(a.e, 200, 1);
    sr_engine_set_flush_threshold(b.e, 3000);
    sr_engine_set_flush_step(b.e, 200, 1);
    restart_every = 1;
    inflight_seen = 0;
    load_corpus_cb(&a, 400, 3, put_docs_watch);
    load_corpus_cb(&b, 400, 3, put_docs_restart);
    load_corpus(&c, 400, 50);
    assert_true(inflight_seen > 20); /* segments were written over batches */
    assert_true(a.e->nseg > 2);
    size_t la, lb;
    char *ba = cf_blob(a.s, &la);
    char *bb = cf_blob(b.s, &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(ba, bb, la);
    free(ba);
    free(bb);
    same_results(&a, &b);
    same_results(&a, &c);
    /* answers stay right while a segment is half written */
    struct env d;
    env_open(&d);
    sr_engine_set_flush_threshold(d.e, 3000);
    sr_engine_set_flush_step(d.e, 50, 0);
    char buf[2048], id[32];
    struct tdoc t;
    int checked = 0;
    for (uint32_t i = 1; i <= 200; i++) {
        gen_doc(i, buf, sizeof buf, &t, id);
        put1(&d, i, &t);
        if (d.e->frz_hi != 0 && d.e->frz_pos > 0 && i % 5 == 0) {
            struct env e2;
            env_open(&e2);
            for (uint32_t k = 1; k <= i; k++) {
                gen_doc(k, buf, sizeof buf, &t, id);
                put1(&e2, k, &t);
            }
            same_results(&d, &e2);
            env_close(&e2, 1);
            checked++;
        }
    }
    assert_true(checked > 0);
    restart_every = 0;
    env_close(&a, 1);
    env_close(&b, 1);
    env_close(&c, 1);
    env_close(&d, 1);
}

/* The analyser stamp in M: a fresh index takes ours; an index built by
 * another analyser is reported (stats) and keeps its stamp. */
static void test_analyser_stamp(void **state)
{
    struct env v;
    env_open(&v);
    put1(&v, 1, &d_fee);
    struct sr_stats st;
    sr_engine_stats(v.e, &st);
    assert_int_equal(st.analyser_mismatch, 0);
    assert_string_equal(v.e->stored_stamp, v.e->stamp);
    assert_non_null(strstr(v.e->stamp, "icu"));
    struct gd_err err = {0};
    assert_int_equal(sr_engine_reload(v.e, &err), 0);
    sr_engine_stats(v.e, &st);
    assert_int_equal(st.analyser_mismatch, 0);
    /* pretend the index was written by another version */
    snprintf(v.e->stored_stamp, sizeof v.e->stored_stamp, "a0 icu1.0");
    put1(&v, 2, &d_fee);
    assert_int_equal(sr_engine_reload(v.e, &err), 0);
    sr_engine_stats(v.e, &st);
    assert_int_equal(st.analyser_mismatch, 1);
    assert_string_equal(v.e->stored_stamp, "a0 icu1.0");
    assert_true(finds(&v, "电费", 1)); /* still answers */
    put1(&v, 3, &d_fee);
    sr_engine_close(v.e);
    assert_int_equal(sr_engine_open(v.s, &v.e, &err), 0);
    sr_engine_stats(v.e, &st);
    assert_int_equal(st.analyser_mismatch, 1);
    env_close(&v, 1);
}

/* Random bytes in every kind of record: open and search answer 0 or
 * GD_ECORRUPT, and never crash (run under ASan/UBSan). */
static void test_garbage_records(void **state)
{
    uint32_t seed = 12345;
    for (int round = 0; round < 40; round++) {
        struct env v;
        env_open(&v);
        sr_engine_set_flush_threshold(v.e, 300);
        load_corpus(&v, 30, 30);
        struct gd_err err = {0};
        unsigned char val[64], key[16];
        size_t vl = rnd(&seed) % sizeof val;
        for (size_t i = 0; i < vl; i++)
            val[i] = (unsigned char)rnd(&seed);
        static const char kinds[] = "DFPSM";
        char kind = kinds[round % 5];
        size_t kl;
        key[0] = (unsigned char)kind;
        if (kind == 'P') {
            memcpy(key + 1, "\xe7\x94\xb5\x00", 4); /* 电 */
            sr_be32_put(key + 5, 1 + rnd(&seed) % 2);
            kl = 9;
        } else if (kind == 'M') {
            kl = 1;
        } else {
            sr_be32_put(key + 1, 1 + rnd(&seed) % 30);
            kl = 5;
        }
        struct store_batch *b = store_batch_new();
        store_batch_put(b, STORE_CF_SEARCH, key, kl, val, vl);
        assert_int_equal(store_batch_commit(v.s, b, 0, &err), 0);
        store_batch_free(b);
        int rc = sr_engine_reload(v.e, &err);
        assert_true(rc == 0 || rc == GD_ECORRUPT);
        if (rc != 0) {
            /* writes refuse until a reload succeeds */
            struct store_batch *b2 = store_batch_new();
            struct sr_doc d;
            to_doc(&d_fee, &d);
            sr_batch_begin(v.e, b2);
            assert_int_equal(sr_index_put(v.e, 99, &d, &err), GD_ECORRUPT);
            sr_batch_end(v.e, 0);
            assert_int_equal(store_batch_count(b2), 0);
            store_batch_free(b2);
        }
        struct qopt o = {0};
        o.snippets = 1;
        o.limit = 50;
        for (size_t q = 0; q < NQUERIES; q++) {
            struct sr_result r;
            rc = search(&v, queries[q], &o, &r);
            assert_true(rc == 0 || rc == GD_ECORRUPT);
            sr_result_free(&r);
        }
        env_close(&v, 1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_analyze),
        cmocka_unit_test(test_trad_simp),
        cmocka_unit_test(test_short_and_latin),
        cmocka_unit_test(test_title_outranks_body),
        cmocka_unit_test(test_filters),
        cmocka_unit_test(test_update_remove),
        cmocka_unit_test(test_dropped_batch),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_segments_match_buffer),
        cmocka_unit_test(test_reload_after_load),
        cmocka_unit_test(test_snippets),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_paging_total),
        cmocka_unit_test(test_suggestion),
        cmocka_unit_test(test_query_from_text),
        cmocka_unit_test(test_match_any),
        cmocka_unit_test(test_snippet_prefers_body),
        cmocka_unit_test(test_corrupt),
        cmocka_unit_test(test_stats_and_cache),
        cmocka_unit_test(test_term_sort),
        cmocka_unit_test(test_analysis_stable),
        cmocka_unit_test(test_dropped_flush),
        cmocka_unit_test(test_long_query),
        cmocka_unit_test(test_spread_flush),
        cmocka_unit_test(test_analyser_stamp),
        cmocka_unit_test(test_garbage_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
