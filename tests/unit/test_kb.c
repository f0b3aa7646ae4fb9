/* Unit tests for core/kb: article/proposal/op codecs round-trip and refuse
 * malformed input, content checks name the bad field, status moves follow
 * the documented graph, diff and assign work field by field, and a CMD_KB
 * command travels through a command batch. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/command.h"
#include "core/kb.h"
#include "core/util.h"

static char *xs(const char *s)
{
    char *p = NULL;
    assert_int_equal(gd_strdup(&p, s), 0);
    return p;
}

static void sample(struct kb_article *a)
{
    kb_article_init(a);
    a->id = xs("KB-20261123-0001");
    a->title = xs("电费突然增加怎么办");
    a->category = xs("电费电价/电费异常");
    a->text[KB_FAULT] = xs("客户反映本月电费比上月高出一倍。");
    a->text[KB_CAUSE] = xs("阶梯电价第二档；空调用电增加。");
    a->text[KB_SOLUTION] = xs("1. 核对抄表示数\n2. 解释阶梯电价");
    a->text[KB_SCRIPT] = xs("您好，请您提供户号，我帮您核对。");
    a->n_keywords = 2;
    a->keywords = calloc(2, sizeof *a->keywords);
    assert_non_null(a->keywords);
    a->keywords[0] = xs("电费");
    a->keywords[1] = xs("阶梯电价");
    a->n_sources = 1;
    a->sources = calloc(1, sizeof *a->sources);
    assert_non_null(a->sources);
    a->sources[0].type = KB_SRC_POLICY;
    a->sources[0].title = xs("居民阶梯电价实施方案");
    a->region = xs("GD");
    a->status = KB_PUBLISHED;
    a->version = 3;
    a->docno = 42;
    a->created_hlc = 1000;
    a->updated_hlc = 2000;
    a->created_by = xs("admin");
    a->updated_by = xs("curator1");
    a->note = xs("补充话术");
    a->changed = KB_F_SCRIPT;
    a->uses = 7;
    a->n_tickets = 1;
    a->tickets = calloc(1, sizeof *a->tickets);
    assert_non_null(a->tickets);
    a->tickets[0] = xs("GD-20261123-0001");
}

static void assert_same(const struct kb_article *a, const struct kb_article *b)
{
    assert_int_equal(kb_article_diff(a, b), 0);
    assert_string_equal(a->id, b->id);
    assert_int_equal(a->version, b->version);
    assert_int_equal(a->docno, b->docno);
    assert_int_equal(a->created_hlc, b->created_hlc);
    assert_int_equal(a->updated_hlc, b->updated_hlc);
    assert_string_equal(a->created_by, b->created_by);
    assert_string_equal(a->updated_by, b->updated_by);
    assert_string_equal(a->note, b->note);
    assert_int_equal(a->changed, b->changed);
    assert_int_equal(a->uses, b->uses);
    assert_int_equal(a->n_tickets, b->n_tickets);
    assert_string_equal(a->tickets[0], b->tickets[0]);
}

static void test_article_roundtrip(void **state)
{
    struct kb_article a, b;
    struct gd_err err;
    char *buf = NULL, *buf2 = NULL;
    size_t len = 0, len2 = 0;

    sample(&a);
    kb_article_init(&b);
    assert_int_equal(kb_article_encode(&a, &buf, &len), 0);
    assert_int_equal(kb_article_decode(buf, len, &b, &err), 0);
    assert_same(&a, &b);
    /* Byte-identical re-encoding: replicas store the same bytes. */
    assert_int_equal(kb_article_encode(&b, &buf2, &len2), 0);
    assert_int_equal(len, len2);
    assert_memory_equal(buf, buf2, len);
    free(buf2);

    /* Every truncation is refused, never a crash. */
    for (size_t n = 0; n < len; n++) {
        assert_int_equal(kb_article_decode(buf, n, &b, &err), GD_ECORRUPT);
        assert_null(b.id);
    }
    /* Trailing bytes are refused. */
    buf2 = malloc(len + 1);
    assert_non_null(buf2);
    memcpy(buf2, buf, len);
    buf2[len] = 0;
    assert_int_equal(kb_article_decode(buf2, len + 1, &b, &err), GD_ECORRUPT);
    /* Unknown codec version. */
    memcpy(buf2, buf, len);
    /* array16 header (0xdc + 2 bytes), then the version. */
    assert_int_equal((unsigned char)buf2[0], 0xdc);
    assert_int_equal((unsigned char)buf2[3], 1);
    buf2[3] = 2;
    assert_int_equal(kb_article_decode(buf2, len, &b, &err), GD_ECORRUPT);
    assert_non_null(strstr(err.msg, "version"));
    free(buf2);
    free(buf);
    kb_article_clear(&a);
    kb_article_clear(&b);
}

static void test_article_decode_flips(void **state)
{
    struct kb_article a, b;
    struct gd_err err;
    char *buf = NULL;
    size_t len = 0;

    sample(&a);
    kb_article_init(&b);
    assert_int_equal(kb_article_encode(&a, &buf, &len), 0);
    /* Flipping any single byte either still decodes to a valid record or
     * is refused; never a crash or a leak (ASan checks). */
    for (size_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit += 3) {
            buf[i] ^= (char)(1 << bit);
            int rc = kb_article_decode(buf, len, &b, &err);
            assert_true(rc == 0 || rc == GD_ECORRUPT);
            kb_article_clear(&b);
            buf[i] ^= (char)(1 << bit);
        }
    }
    free(buf);
    kb_article_clear(&a);
}

static void test_check(void **state)
{
    struct kb_article a;
    struct gd_err err;
    char *old;

    sample(&a);
    assert_int_equal(kb_article_check(&a, &err), 0);

    old = a.title;
    a.title = xs("   ");
    assert_int_equal(kb_article_check(&a, &err), GD_EINVAL);
    assert_non_null(strstr(err.msg, "title"));
    free(a.title);
    a.title = malloc(KB_TITLE_MAX + 2);
    assert_non_null(a.title);
    memset(a.title, 'x', KB_TITLE_MAX + 1);
    a.title[KB_TITLE_MAX + 1] = '\0';
    assert_int_equal(kb_article_check(&a, &err), GD_EINVAL);
    free(a.title);
    a.title = xs("a\x01b");
    assert_int_equal(kb_article_check(&a, &err), GD_EINVAL);
    assert_non_null(strstr(err.msg, "control"));
    free(a.title);
    a.title = xs("bad \xc3\x28 utf8");
    assert_int_equal(kb_article_check(&a, &err), GD_EINVAL);
    assert_non_null(strstr(err.msg, "UTF-8"));
    free(a.title);
    a.title = old;

    const char *bad_cats[] = {"", "/电费", "电费/", "电费//电价", "电费/ 电价"};
    old = a.category;
    for (size_t i = 0; i < sizeof bad_cats / sizeof bad_cats[0]; i++) {
        a.category = xs(bad_cats[i]);
        assert_int_equal(kb_article_check(&a, &err), GD_EINVAL);
        assert_non_null(strstr(err.msg, "category"));
        free(a.category);
    }
    a.category = old;

    for (int i = 0; i < KB_TEXT__COUNT; i++) {
        free(a.text[i]);
        a.text[i] = NULL;
    }
    assert_int_equal(kb_article_check(&a, &err), GD_EINVAL);
    assert_non_null(strstr(err.msg, "at least one"));
    a.text[KB_SCRIPT] = xs("第一行\n第二行\t完");
    assert_int_equal(kb_article_check(&a, &err), 0);

    free(a.keywords[1]);
    a.keywords[1] = xs(" ");
    assert_int_equal(kb_article_check(&a, &err), GD_EINVAL);
    assert_non_null(strstr(err.msg, "keyword"));
    free(a.keywords[1]);
    a.keywords[1] = xs("ok");

    free(a.region);
    a.region = xs("gd");
    assert_int_equal(kb_article_check(&a, &err), GD_EINVAL);
    assert_non_null(strstr(err.msg, "region"));
    free(a.region);
    a.region = xs("");
    assert_int_equal(kb_article_check(&a, &err), 0);

    a.sources[0].type = KB_SRC__COUNT;
    assert_int_equal(kb_article_check(&a, &err), GD_EINVAL);
    a.sources[0].type = KB_SRC_LAW;
    assert_int_equal(kb_article_check(&a, &err), 0);
    kb_article_clear(&a);
}

static void test_status_moves(void **state)
{
    /* The documented graph, every pair. */
    int ok[KB_STATUS__COUNT][KB_STATUS__COUNT] = {{0}};
    ok[KB_DRAFT][KB_REVIEW] = ok[KB_DRAFT][KB_PUBLISHED] = 1;
    ok[KB_REVIEW][KB_PUBLISHED] = ok[KB_REVIEW][KB_DRAFT] = 1;
    ok[KB_PUBLISHED][KB_RETIRED] = ok[KB_PUBLISHED][KB_DRAFT] = 1;
    ok[KB_RETIRED][KB_PUBLISHED] = 1;
    for (int f = 0; f < KB_STATUS__COUNT; f++)
        for (int t = 0; t < KB_STATUS__COUNT; t++)
            assert_int_equal(kb_status_move_ok(f, t), ok[f][t]);
    for (int s = 0; s < KB_STATUS__COUNT; s++)
        assert_int_equal(kb_status_parse(kb_status_name(s)), s);
    assert_int_equal(kb_status_parse("Published"), -1);
    assert_int_equal(kb_source_parse("manual"), KB_SRC_MANUAL);
    assert_int_equal(kb_source_parse("blog"), -1);
}

static void test_ids_and_categories(void **state)
{
    char id[64];

    assert_true(kb_id_valid("KB-20261123-0001"));
    assert_true(kb_id_valid("faq.power_01"));
    assert_false(kb_id_valid(""));
    assert_false(kb_id_valid("a/b"));
    assert_false(kb_id_valid("知识"));
    char longid[KB_ID_MAX + 2];
    memset(longid, 'a', sizeof longid - 1);
    longid[sizeof longid - 1] = '\0';
    assert_false(kb_id_valid(longid));
    longid[KB_ID_MAX] = '\0';
    assert_true(kb_id_valid(longid));

    /* 2026-11-23 00:30 +08:00 is 2026-11-22 16:30 UTC. */
    uint64_t ms = 1795365000000ULL;
    kb_id_format(id, sizeof id, "KB", ms << 16, 7);
    assert_string_equal(id, "KB-20261123-0007");

    assert_true(kb_category_under("电费电价/电价政策", "电费电价"));
    assert_true(kb_category_under("电费电价", "电费电价"));
    assert_false(kb_category_under("电费电价X", "电费电价"));
    assert_false(kb_category_under("电费", "电费电价"));
}

static void test_diff_assign_copy(void **state)
{
    struct kb_article a, b, c;

    sample(&a);
    kb_article_init(&b);
    kb_article_init(&c);
    assert_int_equal(kb_article_copy(&b, &a), 0);
    assert_same(&a, &b);
    free(b.text[KB_CAUSE]);
    b.text[KB_CAUSE] = xs("不同");
    b.status = KB_RETIRED;
    assert_int_equal(kb_article_diff(&a, &b), KB_F_CAUSE | KB_F_STATUS);
    /* NULL and "" are the same. */
    free(b.region);
    b.region = NULL;
    free(a.region);
    a.region = xs("");
    assert_int_equal(kb_article_diff(&a, &b), KB_F_CAUSE | KB_F_STATUS);

    /* assign copies only the masked fields. */
    c.title = xs("新标题");
    c.status = KB_REVIEW;
    assert_int_equal(kb_article_assign(&b, &c, KB_F_TITLE), 0);
    assert_string_equal(b.title, "新标题");
    assert_int_equal(b.status, KB_RETIRED);
    assert_int_equal(kb_article_assign(&b, &c, KB_F_KEYWORDS), 0);
    assert_int_equal(b.n_keywords, 0);
    assert_null(b.keywords);
    kb_article_clear(&a);
    kb_article_clear(&b);
    kb_article_clear(&c);
}

static void test_proposal_and_op(void **state)
{
    struct kb_proposal p, q;
    struct command cmd, *out = NULL;
    struct gd_err err;
    char *buf = NULL;
    size_t len = 0, n = 0;

    kb_proposal_init(&p);
    kb_proposal_init(&q);
    p.id = xs("KP-20261123-0001");
    p.status = KB_P_APPROVED;
    p.ticket = xs("GD-20261123-0009");
    sample(&p.content);
    p.reason = xs("客户常问");
    p.proposed_by = xs("agent7");
    p.proposed_hlc = 99;
    p.result_article = xs("KB-20261123-0001");
    p.result_version = 4;
    assert_int_equal(kb_proposal_encode(&p, &buf, &len), 0);
    assert_int_equal(kb_proposal_decode(buf, len, &q, &err), 0);
    assert_string_equal(q.id, p.id);
    assert_int_equal(q.status, KB_P_APPROVED);
    assert_null(q.article);
    assert_string_equal(q.ticket, p.ticket);
    assert_int_equal(kb_article_diff(&q.content, &p.content), 0);
    assert_int_equal(q.result_version, 4);
    for (size_t i = 0; i < len; i++)
        assert_int_equal(kb_proposal_decode(buf, i, &q, &err), GD_ECORRUPT);
    free(buf);
    p.status = 7;
    assert_int_equal(kb_proposal_encode(&p, &buf, &len), GD_EINVAL);
    kb_proposal_clear(&p);
    kb_proposal_clear(&q);

    /* A CMD_KB command through a batch. */
    command_init(&cmd);
    cmd.type = CMD_KB;
    cmd.kb.op = KB_OP_UPDATE;
    cmd.kb.actor = xs("curator1");
    cmd.kb.hlc = 12345;
    sample(&cmd.kb.art);
    cmd.kb.mask = KB_F_TITLE | KB_F_SCRIPT;
    cmd.kb.expect_version = 3;
    cmd.kb.note = xs("改标题");
    assert_int_equal(cmd_batch_encode(&cmd, 1, &buf, &len), 0);
    assert_int_equal(cmd_batch_decode(buf, len, &out, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(out[0].type, CMD_KB);
    assert_int_equal(out[0].kb.op, KB_OP_UPDATE);
    assert_string_equal(out[0].kb.actor, "curator1");
    assert_int_equal(out[0].kb.hlc, 12345);
    assert_int_equal(out[0].kb.mask, KB_F_TITLE | KB_F_SCRIPT);
    assert_int_equal(out[0].kb.expect_version, 3);
    assert_int_equal(kb_article_diff(&out[0].kb.art, &cmd.kb.art), 0);
    cmd_batch_free(out, n);
    for (size_t i = 0; i < len; i++) {
        assert_int_equal(cmd_batch_decode(buf, i, &out, &n, &err),
                         GD_ECORRUPT);
        assert_null(out);
    }
    free(buf);
    /* Unknown op type is refused by the encoder. */
    cmd.kb.op = 99;
    assert_int_equal(cmd_batch_encode(&cmd, 1, &buf, &len), GD_EINVAL);
    command_clear(&cmd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_article_roundtrip),
        cmocka_unit_test(test_article_decode_flips),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_status_moves),
        cmocka_unit_test(test_ids_and_categories),
        cmocka_unit_test(test_diff_assign_copy),
        cmocka_unit_test(test_proposal_and_op),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
