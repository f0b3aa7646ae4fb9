/* FSM apply of knowledge-base ops: create/edit/import make versions, status
 * moves follow the graph, refused ops write nothing, proposals and reviews,
 * links count once, the search index is updated in the same batch (found by
 * search right after apply, on every replica alike), and two replicas hold
 * byte-identical state including the index. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "consensus/fsm.h"
#include "core/command.h"
#include "core/util.h"
#include "search/search.h"
#include "storage/kb.h"
#include "storage/tickets.h"
#include "tests/unit/same_store.h"

#define T0 ((uint64_t)1795365000000ULL << 16) /* 2026-11-23 00:30 +08:00 */

struct fx {
    char dir[64];
    struct store *s;
    struct fsm f;
    uint64_t idx;
};

static struct fx *fx_new(void)
{
    struct fx *x = calloc(1, sizeof *x);
    struct gd_err err;
    assert_non_null(x);
    snprintf(x->dir, sizeof x->dir, "/tmp/gd-fsmkb-XXXXXX");
    assert_non_null(mkdtemp(x->dir));
    assert_int_equal(store_open(x->dir, &x->s, &err), 0);
    assert_int_equal(fsm_init(&x->f, x->s, &err), 0);
    assert_non_null(x->f.search);
    return x;
}

static void fx_free(struct fx *x)
{
    char cmd[128];
    fsm_close(&x->f);
    store_close(x->s);
    snprintf(cmd, sizeof cmd, "rm -rf %s", x->dir);
    assert_int_equal(system(cmd), 0);
    free(x);
}

static char *xs(const char *s)
{
    char *p = NULL;
    assert_int_equal(gd_strdup(&p, s), 0);
    return p;
}

static void mk_article(struct command *c, int op, const char *id,
                       const char *title, const char *solution, int status)
{
    command_init(c);
    c->type = CMD_KB;
    c->kb.op = op;
    c->kb.actor = xs("curator1");
    c->kb.hlc = T0;
    if (id != NULL)
        c->kb.art.id = xs(id);
    if (title != NULL)
        c->kb.art.title = xs(title);
    c->kb.art.category = xs("电费电价/电价政策");
    if (solution != NULL)
        c->kb.art.text[KB_SOLUTION] = xs(solution);
    c->kb.art.status = status;
}

/* Applies cmds as one entry and clears them. */
static void apply(struct fx *x, struct command *cmds, size_t n)
{
    char *buf;
    size_t len;
    assert_int_equal(cmd_batch_encode(cmds, n, &buf, &len), 0);
    assert_int_equal(fsm_apply_batch(&x->f, ++x->idx, buf, len), 0);
    free(buf);
    for (size_t i = 0; i < n; i++)
        command_clear(&cmds[i]);
}

static size_t search_n(struct fx *x, const char *q, const char *status,
                       const char *want_id)
{
    struct sr_query sq;
    struct sr_result r;
    struct gd_err err;
    size_t found = 0;

    memset(&sq, 0, sizeof sq);
    sq.q = q;
    sq.q_len = strlen(q);
    sq.status = status;
    sq.limit = 10;
    assert_int_equal(sr_search(x->f.search, &sq, &r, &err), 0);
    for (size_t i = 0; i < r.n; i++)
        if (want_id == NULL || strcmp(r.hits[i].id, want_id) == 0)
            found++;
    sr_result_free(&r);
    return found;
}

static void test_create_edit_versions(void **state)
{
    struct fx *x = fx_new();
    struct command c[3];
    struct kb_article a;
    struct kb_article *v = NULL;
    size_t nv = 0;
    struct gd_err err;

    mk_article(&c[0], KB_OP_CREATE, NULL, "阶梯电价怎么算", "按年累计用电量分档",
               KB_PUBLISHED);
    mk_article(&c[1], KB_OP_CREATE, "faq-1", "电表箱漏电", "立即报修95598",
               KB_DRAFT);
    apply(x, c, 2);
    assert_int_equal(x->f.results[0].code, 0);
    assert_string_equal(x->f.results[0].entity, "KB-20261123-0001");
    assert_string_equal(x->f.results[1].entity, "faq-1");
    assert_string_equal(x->f.results[1].msg, "created");

    /* Found right after apply; drafts only when asked for. */
    assert_int_equal(search_n(x, "阶梯", NULL, "KB-20261123-0001"), 1);
    assert_int_equal(search_n(x, "階梯電價", NULL, "KB-20261123-0001"), 1);
    assert_int_equal(search_n(x, "漏电", NULL, "faq-1"), 0);
    assert_int_equal(search_n(x, "漏电", "draft", "faq-1"), 1);

    /* Edit the title: version 2; the old word no longer finds it. */
    mk_article(&c[0], KB_OP_UPDATE, "faq-1", "计量箱带电", NULL, 0);
    c[0].kb.mask = KB_F_TITLE;
    c[0].kb.expect_version = 1;
    c[0].kb.note = xs("标题改为规范用语");
    apply(x, c, 1);
    assert_int_equal(x->f.results[0].code, 0);
    assert_int_equal(store_kb_article_get(x->s, "faq-1", 0, &a, &err), 0);
    assert_int_equal(a.version, 2);
    assert_string_equal(a.title, "计量箱带电");
    assert_string_equal(a.text[KB_SOLUTION], "立即报修95598");
    assert_int_equal(a.changed, KB_F_TITLE);
    kb_article_clear(&a);
    assert_int_equal(search_n(x, "漏电", "draft", "faq-1"), 0);
    assert_int_equal(search_n(x, "计量箱", "draft", "faq-1"), 1);

    /* A stale expected version is refused and writes nothing. */
    mk_article(&c[0], KB_OP_UPDATE, "faq-1", "又一个标题", NULL, 0);
    c[0].kb.mask = KB_F_TITLE;
    c[0].kb.expect_version = 1;
    apply(x, c, 1);
    assert_int_equal(x->f.results[0].code, GD_ECONFLICT);
    assert_int_equal(store_kb_article_get(x->s, "faq-1", 0, &a, &err), 0);
    assert_int_equal(a.version, 2);
    kb_article_clear(&a);

    /* An edit that changes nothing is no version. */
    mk_article(&c[0], KB_OP_UPDATE, "faq-1", "计量箱带电", NULL, 0);
    c[0].kb.mask = KB_F_TITLE;
    apply(x, c, 1);
    assert_string_equal(x->f.results[0].msg, "unchanged");

    assert_int_equal(store_kb_versions(x->s, "faq-1", &v, &nv, &err), 0);
    assert_int_equal(nv, 2);
    assert_string_equal(v[0].title, "电表箱漏电");
    assert_string_equal(v[1].title, "计量箱带电");
    assert_string_equal(v[1].note, "标题改为规范用语");
    store_kb_articles_free(v, nv);
    fx_free(x);
}

static void test_refusals_write_nothing(void **state)
{
    struct fx *x = fx_new();
    struct command c[4];
    struct kb_article a;
    struct gd_err err;
    uint64_t before;

    mk_article(&c[0], KB_OP_CREATE, "a1", "停电查询", "登录网上国网", KB_DRAFT);
    apply(x, c, 1);
    before = store_applied_index(x->s);

    /* Same id again, no title, bad id, unknown article: all refused. */
    mk_article(&c[0], KB_OP_CREATE, "a1", "重复", "x", KB_DRAFT);
    mk_article(&c[1], KB_OP_CREATE, NULL, NULL, "x", KB_DRAFT);
    mk_article(&c[2], KB_OP_CREATE, "bad id", "标题", "x", KB_DRAFT);
    mk_article(&c[3], KB_OP_UPDATE, "nope", "标题", NULL, 0);
    c[3].kb.mask = KB_F_TITLE;
    apply(x, c, 4);
    assert_int_equal(x->f.results[0].code, GD_ECONFLICT);
    assert_int_equal(x->f.results[1].code, GD_EINVAL);
    assert_non_null(strstr(x->f.results[1].msg, "title"));
    assert_int_equal(x->f.results[2].code, GD_EINVAL);
    assert_int_equal(x->f.results[3].code, GD_ENOTFOUND);
    assert_int_equal(store_applied_index(x->s), before + 1);
    assert_int_equal(store_kb_article_get(x->s, "a1", 0, &a, &err), 0);
    assert_string_equal(a.title, "停电查询");
    assert_int_equal(a.version, 1);
    kb_article_clear(&a);
    assert_int_equal(search_n(x, "重复", "draft", NULL), 0);

    /* Status: draft → retired is not a move; draft → review → published. */
    mk_article(&c[0], KB_OP_STATUS, "a1", NULL, NULL, 0);
    c[0].kb.status = KB_RETIRED;
    mk_article(&c[1], KB_OP_STATUS, "a1", NULL, NULL, 0);
    c[1].kb.status = KB_REVIEW;
    mk_article(&c[2], KB_OP_STATUS, "a1", NULL, NULL, 0);
    c[2].kb.status = KB_PUBLISHED;
    apply(x, c, 3);
    assert_int_equal(x->f.results[0].code, GD_ECONFLICT);
    assert_int_equal(x->f.results[1].code, 0);
    assert_int_equal(x->f.results[2].code, 0);
    assert_int_equal(store_kb_article_get(x->s, "a1", 0, &a, &err), 0);
    assert_int_equal(a.status, KB_PUBLISHED);
    assert_int_equal(a.version, 3);
    kb_article_clear(&a);
    assert_int_equal(search_n(x, "停电", NULL, "a1"), 1);
    fx_free(x);
}

static void test_import_upsert(void **state)
{
    struct fx *x = fx_new();
    struct command c[3];
    struct kb_article a;
    struct gd_err err;

    mk_article(&c[0], KB_OP_IMPORT, "imp-1", "水质发黄", "放水数分钟", KB_PUBLISHED);
    mk_article(&c[1], KB_OP_IMPORT, NULL, "水压低", "检查阀门", KB_PUBLISHED);
    /* The same id twice in one entry: the second is a new version. */
    mk_article(&c[2], KB_OP_IMPORT, "imp-1", "水质发黄怎么办", "放水数分钟",
               KB_PUBLISHED);
    apply(x, c, 3);
    assert_string_equal(x->f.results[0].msg, "created");
    assert_string_equal(x->f.results[1].msg, "created");
    assert_string_equal(x->f.results[2].msg, "updated");
    assert_int_equal(store_kb_article_get(x->s, "imp-1", 0, &a, &err), 0);
    assert_int_equal(a.version, 2);
    kb_article_clear(&a);
    assert_int_equal(search_n(x, "水質", NULL, "imp-1"), 1);

    mk_article(&c[0], KB_OP_IMPORT, "imp-1", "水质发黄怎么办", "放水数分钟",
               KB_PUBLISHED);
    apply(x, c, 1);
    assert_string_equal(x->f.results[0].msg, "unchanged");
    fx_free(x);
}

static void test_links_and_proposals(void **state)
{
    struct fx *x = fx_new();
    struct command c[3];
    struct kb_article a;
    struct kb_proposal p;
    struct gd_err err;

    /* A ticket to link. */
    command_init(&c[0]);
    c[0].type = CMD_TICKET;
    c[0].ev.type = EVENT_TICKET_CREATE;
    snprintf(c[0].ev.id.origin, sizeof c[0].ev.id.origin, "n1");
    c[0].ev.id.hlc = T0;
    c[0].ev.actor = xs("agent1");
    c[0].ev.channel = xs("hotline");
    c[0].ev.node = xs("n1");
    c[0].ev.customer = xs("C1");
    c[0].ev.cls = xs("fault_repair");
    c[0].ev.summary = xs("计量箱带电");
    c[0].ev.description = xs("");
    mk_article(&c[1], KB_OP_CREATE, "a1", "计量箱带电", "断开总闸", KB_PUBLISHED);
    apply(x, c, 2);
    const char *tid = "GD-20261123-0001";
    assert_string_equal(x->f.results[0].entity, tid);

    /* Linking twice (and in the same entry) counts once. */
    mk_article(&c[0], KB_OP_LINK, "a1", NULL, NULL, 0);
    c[0].kb.ticket = xs(tid);
    mk_article(&c[1], KB_OP_LINK, "a1", NULL, NULL, 0);
    c[1].kb.ticket = xs(tid);
    mk_article(&c[2], KB_OP_LINK, "a1", NULL, NULL, 0);
    c[2].kb.ticket = xs("GD-20261123-9999");
    apply(x, c, 3);
    assert_int_equal(x->f.results[0].code, 0);
    assert_int_equal(x->f.results[1].code, 0);
    assert_int_equal(x->f.results[2].code, GD_ENOTFOUND);
    mk_article(&c[0], KB_OP_LINK, "a1", NULL, NULL, 0);
    c[0].kb.ticket = xs(tid);
    apply(x, c, 1);
    assert_int_equal(store_kb_article_get(x->s, "a1", 0, &a, &err), 0);
    assert_int_equal(a.uses, 1);
    assert_int_equal(a.n_tickets, 1);
    assert_int_equal(a.version, 1); /* links are not edits */
    kb_article_clear(&a);

    /* Proposal from the ticket for a new article, approved and published. */
    mk_article(&c[0], KB_OP_PROPOSE, NULL, "电表黑屏", "联系95598更换", 0);
    c[0].kb.ticket = xs(tid);
    c[0].kb.reason = xs("本月第三次遇到");
    apply(x, c, 1);
    assert_int_equal(x->f.results[0].code, 0);
    char pid[96];
    snprintf(pid, sizeof pid, "%s", x->f.results[0].entity);
    assert_string_equal(pid, "KP-20261123-0001");
    assert_int_equal(search_n(x, "黑屏", "draft", NULL), 0); /* not yet */

    /* Reject without a reason is refused; approve works; twice is 409. */
    mk_article(&c[0], KB_OP_REVIEW, NULL, NULL, NULL, 0);
    c[0].kb.target = xs(pid);
    mk_article(&c[1], KB_OP_REVIEW, NULL, NULL, NULL, 0);
    c[1].kb.target = xs(pid);
    c[1].kb.approve = 1;
    c[1].kb.publish = 1;
    mk_article(&c[2], KB_OP_REVIEW, NULL, NULL, NULL, 0);
    c[2].kb.target = xs(pid);
    c[2].kb.approve = 1;
    apply(x, c, 3);
    assert_int_equal(x->f.results[0].code, GD_EINVAL);
    assert_int_equal(x->f.results[1].code, 0);
    assert_int_equal(x->f.results[2].code, GD_ECONFLICT);
    assert_int_equal(store_kb_proposal_get(x->s, pid, &p, &err), 0);
    assert_int_equal(p.status, KB_P_APPROVED);
    assert_non_null(p.result_article);
    assert_int_equal(store_kb_article_get(x->s, p.result_article, 0, &a, &err),
                     0);
    assert_int_equal(a.status, KB_PUBLISHED);
    assert_int_equal(a.uses, 1); /* linked to the proposal's ticket */
    kb_article_clear(&a);
    assert_int_equal(search_n(x, "黑屏", NULL, p.result_article), 1);
    kb_proposal_clear(&p);
    fx_free(x);
}

static void test_replicas_identical(void **state)
{
    struct fx *a = fx_new(), *b = fx_new();
    struct gd_err err;

    for (int round = 0; round < 30; round++) {
        struct command c[3];
        char id[32], title[64];
        snprintf(id, sizeof id, "r%d", round % 7);
        snprintf(title, sizeof title, "第%d号 停電 與 电费 kWh%d", round,
                 round * 13);
        mk_article(&c[0], KB_OP_IMPORT, id, title, "抄表 95598 DDZY71-Z",
                   round % 3 ? KB_PUBLISHED : KB_DRAFT);
        mk_article(&c[1], KB_OP_CREATE, NULL, title, "水质 检测", KB_DRAFT);
        mk_article(&c[2], KB_OP_STATUS, id, NULL, NULL, 0);
        c[2].kb.status = KB_RETIRED;
        struct command d[3];
        for (int i = 0; i < 3; i++) {
            char *buf;
            size_t len;
            assert_int_equal(cmd_batch_encode(&c[i], 1, &buf, &len), 0);
            size_t n = 0;
            struct command *out = NULL;
            assert_int_equal(cmd_batch_decode(buf, len, &out, &n, &err), 0);
            d[i] = out[0];
            free(out);
            free(buf);
        }
        apply(a, c, 3);
        apply(b, d, 3);
    }
    assert_same_store(a->s, b->s);
    fx_free(a);
    fx_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_edit_versions),
        cmocka_unit_test(test_refusals_write_nothing),
        cmocka_unit_test(test_import_upsert),
        cmocka_unit_test(test_links_and_proposals),
        cmocka_unit_test(test_replicas_identical),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
