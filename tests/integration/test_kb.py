"""The knowledge-base API contract (docs/API.md "Knowledge base") on a real
3-node cluster: articles are created, read, edited into new versions with a
history and diffs, refused on a stale version (409); status moves follow the
documented graph; import keeps given ids and reports bad articles by index
without writing them; search folds Simplified/Traditional both ways, hits 1-
and 2-character queries and Latin words/numbers, filters by category, status
and region, and highlights with <em>; similar articles and ticket
suggestions; proposals are reviewed once; links count a ticket once; bad
input gets the documented 4xx and changes nothing; and an article written
through a follower is found by search on every node."""

import json
import re
from urllib.parse import urlencode, quote

from harness import Cluster, t, wait_until

TIMEOUT = 120

S = {}  # module state: the cluster


def setup_module():
    S["c"] = Cluster(3)
    S["leader"] = S["c"].leader()


def teardown_module():
    if "c" in S:
        S["c"].close()


# ------------------------------------------------------------------ helpers

def _c():
    return S["c"]


def _node(which=None):
    """The leader, a follower ("f0", "f1"), or a given node."""
    c = _c()
    if which is None:
        return c.leader()
    if isinstance(which, str) and which.startswith("f"):
        return c.followers()[int(which[1:])]
    return which


def _req(method, path, body=None, node=None, **kw):
    return _c().request(_node(node), method, path, body, **kw)


def _write(method, path, body, expect=(200, 201), node=None):
    return _c().write(_node(node), method, path, body, expect=expect)


def _art_path(aid, tail=""):
    return "/v1/kb/articles/" + quote(aid, safe="") + tail


def _article(aid=None, **fields):
    body = {
        "title": "测试文章",
        "category": "测试/集成",
        "fault": "故障描述",
        "cause": "原因分析",
        "solution": "解决方案",
        "script": "应答话术",
        "keywords": ["测试"],
    }
    if aid is not None:
        body["id"] = aid
    body.update(fields)
    return body


def _create(aid=None, node=None, **fields):
    st, b = _write("POST", "/v1/kb/articles", _article(aid, **fields), expect=(201,),
                   node=node)
    assert isinstance(b, dict) and b.get("id"), "POST /v1/kb/articles: %r" % b
    if aid is not None:
        assert b["id"] == aid, "given id not kept: sent %r, got %r" % (aid, b["id"])
    return b


def _publish(aid, node=None):
    st, b = _write("POST", _art_path(aid, "/status"), {"status": "published"},
                   expect=(200,), node=node)
    assert b["status"] == "published", b
    return b


def _get(aid, node=None, query=""):
    st, b = _req("GET", _art_path(aid) + query, node=node)
    return st, b


def _search(q, node=None, **params):
    params = dict(params)
    params["q"] = q
    params.setdefault("limit", "100")
    path = "/v1/kb/search?" + urlencode(params)
    st, b = _req("GET", path, node=node)
    assert st == 200, "GET %s: %s %r" % (path, st, b)
    assert isinstance(b, dict) and isinstance(b.get("items"), list), \
        "GET %s: not the search shape: %r" % (path, b)
    assert "total" in b and "suggestion" in b, "GET %s: no total/suggestion: %r" % (path, b)
    return b


def _ids(result):
    return [x["id"] for x in result["items"]]


def _finds(q, aid, node=None, **params):
    return aid in _ids(_search(q, node=node, **params))


def _wait_found(q, aid, nodes=None, what=None, **params):
    """Every node in nodes (default: all) finds aid for q."""
    for nd in nodes or _c().nodes:
        wait_until(lambda nd=nd: _finds(q, aid, node=nd, **params), t(15),
                   what=what or "search %r finding %s on node %d" % (q, aid, nd.id))


def _expect_error(res, status, code, what):
    st, b = res
    assert st == status, "%s: expected %d, got %s %r" % (what, status, st, b)
    assert isinstance(b, dict) and isinstance(b.get("error"), dict), \
        "%s: error body not {error:{code,message}}: %r" % (what, b)
    assert b["error"].get("code") == code, "%s: code %r, want %r (%r)" % (
        what, b["error"].get("code"), code, b)
    assert isinstance(b["error"].get("message"), str) and b["error"]["message"], \
        "%s: empty message: %r" % (what, b)


def _strip(a):
    return {k: v for k, v in a.items() if k != "applied_index"}


def _count(category):
    """Articles under category, every status, through the listing."""
    n, after = 0, None
    for _ in range(1000):
        q = {"category": category, "limit": "1000"}
        if after:
            q["after"] = after
        st, b = _req("GET", "/v1/kb/articles?" + urlencode(q))
        assert st == 200 and isinstance(b.get("items"), list), "list: %s %r" % (st, b)
        n += len(b["items"])
        after = b.get("next")
        if not after:
            return n
    raise AssertionError("article listing did not end")


# ------------------------------------------------- create, get, edit, versions

def test_create_get_patch_versions_history_diff():
    src = [{"type": "policy", "title": "《供电营业规则》第三十五条"}]
    a = _create("T1-ART.1_x", title="居民峰谷分时电价咨询", category="电费电价/电价政策",
                keywords=["峰谷", "分时电价"], sources=src, region="GD")
    assert a["status"] == "draft" and a["version"] == 1, a
    assert a["title"] == "居民峰谷分时电价咨询" and a["category"] == "电费电价/电价政策", a
    assert a["keywords"] == ["峰谷", "分时电价"] and a["sources"] == src, a
    assert a["region"] == "GD" and a["uses"] == 0, a
    assert a.get("created_by") == "admin" and a.get("created_at") is not None, a
    for f in ("fault", "cause", "solution", "script"):
        assert a[f] == _article()[f], (f, a)

    st, got = _get(a["id"])
    assert st == 200, (st, got)
    diff = [k for k in a if k != "applied_index" and got.get(k) != a[k]]
    assert not diff, "GET differs from the POST answer in %r:\n%r\n%r" % (diff, got, a)

    # Edit: a new version each time.
    st, v2 = _write("PATCH", _art_path(a["id"]),
                    {"title": "居民峰谷电价咨询", "note": "shorter title"}, expect=(200,))
    assert v2["version"] == 2 and v2["title"] == "居民峰谷电价咨询", v2
    assert v2["solution"] == a["solution"], "PATCH changed a field not sent: %r" % v2
    st, v3 = _write("PATCH", _art_path(a["id"]),
                    {"solution": "执行峰谷分时电价，低谷时段 22:00-8:00", "version": 2},
                    expect=(200,))
    assert v3["version"] == 3, v3

    # Stale version: 409 and nothing changes.
    _expect_error(_req("PATCH", _art_path(a["id"]), {"title": "stale", "version": 2}),
                  409, "conflict", "PATCH from version 2 when at 3")
    st, cur = _get(a["id"])
    assert cur["version"] == 3 and cur["title"] == "居民峰谷电价咨询", cur

    # An edit that changes nothing: 200, same version.
    st, same = _write("PATCH", _art_path(a["id"]), {"title": "居民峰谷电价咨询"}, expect=(200,))
    assert same["version"] == 3, "no-op edit made version %r" % same.get("version")

    # Old versions stay readable.
    st, old = _get(a["id"], query="?version=1")
    assert st == 200 and old["version"] == 1 and old["title"] == "居民峰谷分时电价咨询", (st, old)
    st, b = _get(a["id"], query="?version=99")
    assert st == 404, "version 99: %s %r" % (st, b)

    # History: oldest first, with who/when/why/what.
    st, h = _req("GET", _art_path(a["id"], "/history"))
    assert st == 200, (st, h)
    vers = [x["version"] for x in h["items"]]
    assert vers == [1, 2, 3], "history versions %r" % vers
    assert h["items"][1]["note"] == "shorter title", h["items"][1]
    assert "title" in h["items"][1]["changed"], h["items"][1]
    assert "solution" in h["items"][2]["changed"], h["items"][2]
    for x in h["items"]:
        assert x.get("by") == "admin" and x.get("at") is not None and x.get("status"), x

    # Diff: default previous -> current; explicit range.
    st, d = _req("GET", _art_path(a["id"], "/diff"))
    assert st == 200 and d["from"] == 2 and d["to"] == 3, (st, d)
    assert [x["field"] for x in d["changes"]] == ["solution"], d
    assert d["changes"][0]["from"] == a["solution"], d
    assert d["changes"][0]["to"] == "执行峰谷分时电价，低谷时段 22:00-8:00", d
    st, d = _req("GET", _art_path(a["id"], "/diff?from=1&to=3"))
    assert st == 200 and sorted(x["field"] for x in d["changes"]) == ["solution", "title"], d
    ch = {x["field"]: x for x in d["changes"]}
    assert ch["title"]["from"] == "居民峰谷分时电价咨询" and ch["title"]["to"] == "居民峰谷电价咨询", d

    # id and status are not writable by PATCH; the id is taken.
    for body in ({"id": "other"}, {"status": "published"}):
        _expect_error(_req("PATCH", _art_path(a["id"]), body), 400, "invalid_argument",
                      "PATCH %r" % body)
    _expect_error(_req("POST", "/v1/kb/articles", _article(a["id"])), 409, "conflict",
                  "POST with an existing id")
    st, cur = _get(a["id"])
    assert cur["version"] == 3 and cur["status"] == "draft", cur

    # No id: KB-yyyymmdd-seq.
    gen = _create(title="自动编号文章")
    assert re.match(r"^KB-\d{8}-\d+$", gen["id"]), "generated id %r" % gen["id"]


def test_status_moves_allowed_and_refused():
    a = _create("T2-STATUS")
    path = _art_path(a["id"], "/status")
    version = a["version"]
    for to in ["review", "draft", "review", "published", "retired", "published",
               "draft", "published"]:
        st, b = _write("POST", path, {"status": to, "note": "to " + to}, expect=(200,))
        assert b["status"] == to, "move to %s: %r" % (to, b)
        assert b["version"] > version, "status move to %s kept version %r" % (to, b["version"])
        version = b["version"]
    st, h = _req("GET", _art_path(a["id"], "/history"))
    assert [x["status"] for x in h["items"]][-3:] == ["published", "draft", "published"], h

    # Now published.  Walk through each status and try the refused moves:
    # 409, and nothing changes.
    def refuse(start, bad_moves):
        st, before = _get(a["id"])
        assert before["status"] == start, (start, before)
        for to in bad_moves:
            _expect_error(_req("POST", path, {"status": to}), 409, "conflict",
                          "move %s -> %s" % (start, to))
        st, after = _get(a["id"])
        assert after["status"] == start and after["version"] == before["version"], \
            (before, after)

    refuse("published", ["review"])
    _write("POST", path, {"status": "draft"}, expect=(200,))
    refuse("draft", ["retired"])
    _write("POST", path, {"status": "review"}, expect=(200,))
    refuse("review", ["retired"])
    _write("POST", path, {"status": "published"}, expect=(200,))
    _write("POST", path, {"status": "retired"}, expect=(200,))
    refuse("retired", ["review", "draft"])

    _expect_error(_req("POST", path, {"status": "archived"}), 400, "invalid_argument",
                  "unknown status")
    st, b = _req("POST", _art_path("T2-NO-SUCH", "/status"), {"status": "published"})
    assert st == 404, "status of a missing article: %s %r" % (st, b)


# ------------------------------------------------------------------ import

def test_import_keeps_ids_and_reports_bad_rows():
    cat = "测试/导入"
    before = _count(cat)
    arts = [
        _article("IMP-1", category=cat, title="导入一"),
        _article("IMP-2", category=cat, title="导入二", status="published"),
        {"title": "no category", "fault": "x"},
        _article("IMP-BAD", category=cat, frobnicate=1),
        _article(None, category=cat, title="导入无编号"),
        _article("IMP 5", category=cat),
        {"id": "IMP-6", "title": "x" * 201, "category": cat, "fault": "f"},
        {"id": "IMP-7", "title": "t", "category": cat, "keywords": "notalist", "fault": "f"},
        {"id": "IMP-8", "title": "t", "category": cat},
    ]
    st, r = _write("POST", "/v1/kb/import", {"articles": arts}, expect=(200,))
    assert r["imported"] == 3 and r["created"] == 3, r
    assert r.get("updated") == 0 and r.get("unchanged") == 0, r
    rej = sorted(x["index"] for x in r["rejected"])
    assert rej == [2, 3, 5, 6, 7, 8], "rejected indexes %r" % r["rejected"]
    for x in r["rejected"]:
        assert isinstance(x.get("error"), str) and x["error"], x
        assert x.get("code") == "invalid_argument", x
    by_index = {x["index"]: x for x in r["rejected"]}
    assert by_index[5].get("id") == "IMP 5" and by_index[6].get("id") == "IMP-6", r
    assert _count(cat) == before + 3, "count %d, want %d" % (_count(cat), before + 3)
    for aid in ("IMP-1", "IMP-2"):
        st, b = _get(aid)
        assert st == 200 and b["id"] == aid, (aid, st, b)
    assert _get("IMP-2")[1]["status"] == "published"
    assert _get("IMP-1")[1]["status"] == "draft"
    for bad in ("IMP-BAD", "IMP-6", "IMP-7", "IMP-8"):
        assert _get(bad)[0] == 404, "rejected article %s was written" % bad

    # Again: same -> unchanged, changed -> updated (new version);
    # default_status is for new articles: IMP-1 (no status in the row) keeps
    # draft, IMP-2 keeps published.
    arts2 = [_article("IMP-1", category=cat, title="导入一"),
             _article("IMP-2", category=cat, title="导入二（修订）", status="published"),
             _article("IMP-9", category=cat, title="导入九")]
    st, r = _write("POST", "/v1/kb/import", {"articles": arts2, "default_status": "review"},
                   expect=(200,))
    assert (r["imported"], r["created"], r["updated"], r["unchanged"]) == (3, 1, 1, 1), r
    assert r["rejected"] == [], r
    assert _get("IMP-2")[1]["version"] == 2 and _get("IMP-1")[1]["version"] == 1
    assert _get("IMP-9")[1]["status"] == "review", _get("IMP-9")
    assert _get("IMP-1")[1]["status"] == "draft", _get("IMP-1")
    # A row without status updates an article and keeps its status.
    st, r = _write("POST", "/v1/kb/import", {"articles": [
        _article("IMP-2", category=cat, title="导入二（再修订）")],
        "default_status": "draft"}, expect=(200,))
    assert (r["imported"], r["updated"]) == (1, 1), r
    st, b = _get("IMP-2")
    assert b["status"] == "published" and b["version"] == 3, b
    assert _count(cat) == before + 4

    # More than 1000 articles: refused whole.
    many = [{"id": "IMP-MANY-%d" % i, "title": "t%d" % i, "category": cat, "fault": "f"}
            for i in range(1001)]
    _expect_error(_req("POST", "/v1/kb/import", {"articles": many}), 400, "invalid_argument",
                  "import of 1001 articles")
    assert _count(cat) == before + 4
    assert _get("IMP-MANY-0")[0] == 404


def test_import_rejections_name_the_article_id():
    """Each rejected entry carries the id the article was sent with, whatever
    was wrong with it (here: an unknown field, a wrong type)."""
    cat = "测试/导入编号"
    arts = [_article("IMPID-1", category=cat, frobnicate=1),
            _article("IMPID-2", category=cat, keywords="notalist"),
            _article("IMPID-3", category=cat)]
    st, r = _write("POST", "/v1/kb/import", {"articles": arts}, expect=(200,))
    assert r["imported"] == 1, r
    got = {x["index"]: x.get("id") for x in r["rejected"]}
    assert got == {0: "IMPID-1", 1: "IMPID-2"}, "rejected ids %r" % r["rejected"]


# ------------------------------------------------------------------ search

def test_search_folds_simplified_and_traditional():
    trad = _create("T4-TRAD", title="電費繳納與查詢", category="電費電價/繳費",
                   fault="客戶詢問如何繳納電費", solution="可通過網上國網APP繳費",
                   keywords=["電費", "繳費"])
    simp = _create("T4-SIMP", title="阶梯电价标准说明", category="电费电价/电价政策",
                   fault="客户询问阶梯电价", solution="按年度阶梯电量执行",
                   keywords=["阶梯电价"])
    _publish(trad["id"])
    _publish(simp["id"])
    assert _finds("电费缴纳", "T4-TRAD"), "simplified query missed the traditional article"
    assert _finds("缴费", "T4-TRAD")
    assert _finds("階梯電價", "T4-SIMP"), "traditional query missed the simplified article"
    assert _finds("階梯", "T4-SIMP")
    assert _finds("電費繳納", "T4-TRAD"), "traditional query missed the traditional article"


def test_search_one_and_two_character_queries():
    a = _create("T5-SHORT", title="燚淼供电营业规则解读", category="测试/短查询",
                fault="营业厅窗口办理业务", solution="参照供电营业规则办理")
    _publish(a["id"])
    assert _finds("燚", "T5-SHORT"), "1-character query missed"
    assert _finds("淼", "T5-SHORT"), "1-character query missed"
    assert _finds("营业", "T5-SHORT"), "2-character query inside a compound missed"
    assert _finds("规则", "T5-SHORT"), "2-character query missed"
    assert _finds("供电营业规则", "T5-SHORT"), "compound query missed"


def test_search_latin_words_and_numbers():
    a = _create("T6-LATIN", title="DDZY71 智能电能表读数说明", category="测试/拉丁",
                fault="拨打95598咨询电表读数 kWh 的含义",
                solution="DDZY71 表计显示单位为 kWh，即千瓦时")
    _publish(a["id"])
    for q in ("95598", "kWh", "DDZY71", "DDZY71 kWh", "电能表 95598"):
        assert _finds(q, "T6-LATIN"), "query %r missed" % q


def test_search_filters_category_status_region():
    term = "鑫垚滘"
    a = _create("T7-PUB-GD", title=term + "广东专用", category="测试过滤/电价政策/居民",
                region="GD")
    b = _create("T7-PUB-ALL", title=term + "全国通用", category="测试过滤/电价政策",
                region="")
    c = _create("T7-PUB-ZJ", title=term + "浙江专用", category="测试过滤/业务办理",
                region="ZJ")
    d = _create("T7-DRAFT", title=term + "草稿", category="测试过滤/电价政策")
    e = _create("T7-RETIRED", title=term + "已退役", category="测试过滤/电价政策")
    for x in (a, b, c, e):
        _publish(x["id"])
    _write("POST", _art_path(e["id"], "/status"), {"status": "retired"}, expect=(200,))

    ids = set(_ids(_search(term)))
    assert {"T7-PUB-GD", "T7-PUB-ALL", "T7-PUB-ZJ"} <= ids, ids
    assert "T7-DRAFT" not in ids, "a draft was found without status=draft"
    assert "T7-RETIRED" not in ids, "a retired article was found by default"
    assert set(_ids(_search(term, status="draft"))) & {"T7-DRAFT"}, "status=draft missed it"
    assert "T7-PUB-GD" not in _ids(_search(term, status="draft"))
    assert "T7-RETIRED" in _ids(_search(term, status="retired"))

    ids = set(_ids(_search(term, category="测试过滤/电价政策")))
    assert {"T7-PUB-GD", "T7-PUB-ALL"} <= ids, "category path + below: %r" % ids
    assert "T7-PUB-ZJ" not in ids, "category filter let another branch in: %r" % ids
    ids = set(_ids(_search(term, category="测试过滤/业务办理")))
    assert ids == {"T7-PUB-ZJ"}, ids

    ids = set(_ids(_search(term, region="GD")))
    assert {"T7-PUB-GD", "T7-PUB-ALL"} <= ids and "T7-PUB-ZJ" not in ids, ids
    ids = set(_ids(_search(term, region="ZJ")))
    assert {"T7-PUB-ZJ", "T7-PUB-ALL"} <= ids and "T7-PUB-GD" not in ids, ids


def test_search_snippet_limit_paging_and_shape():
    a = _create("T8-SNIP", title="电表箱<门>锁损坏处理", category="测试/摘要",
                fault="客户反映电表箱门锁损坏 & 无法关闭",
                solution="安排表计班更换电表箱门锁")
    b = _create("T8-SNIP2", title="电表箱门锁更换说明", category="测试/摘要",
                solution="电表箱门锁由供电公司负责更换")
    _publish(a["id"])
    _publish(b["id"])
    r = _search("门锁", category="测试/摘要")
    assert set(_ids(r)) == {"T8-SNIP", "T8-SNIP2"}, r
    assert r["total"] == 2, r
    for hit in r["items"]:
        for k in ("id", "title", "category", "score", "snippet", "status", "version"):
            assert k in hit, "hit without %s: %r" % (k, hit)
        assert isinstance(hit["score"], (int, float)) and hit["score"] > 0, hit
        assert "<em>" in hit["snippet"] and "</em>" in hit["snippet"], hit
        assert re.search(r"<em>[^<]*(门|锁)[^<]*</em>", hit["snippet"]), hit
        # HTML-escaped apart from the <em> tags
        rest = hit["snippet"].replace("<em>", "").replace("</em>", "")
        assert "<" not in rest and ">" not in rest, "snippet not escaped: %r" % hit
    scores = [x["score"] for x in r["items"]]
    assert scores == sorted(scores, reverse=True), "not best first: %r" % scores

    one = _search("门锁", category="测试/摘要", limit="1")
    assert len(one["items"]) == 1 and one["total"] == 2, one
    two = _search("门锁", category="测试/摘要", limit="1", offset="1")
    assert len(two["items"]) == 1 and two["items"][0]["id"] != one["items"][0]["id"], (one, two)
    for bad in ("0", "101", "x", "-1"):
        _expect_error(_req("GET", "/v1/kb/search?" + urlencode({"q": "门锁", "limit": bad})),
                      400, "invalid_argument", "search limit=%s" % bad)
    for q in ("%FF%FE", "%C3%28"):
        _expect_error(_req("GET", "/v1/kb/search?q=" + q), 400, "invalid_argument",
                      "search with a query that is not UTF-8")
    none = _search("完全不存在的词汇组合" + "zqxjkv")
    assert none["items"] == [] and none["total"] == 0, none


def test_similar_articles_and_ticket_suggestions():
    a = _create("T9-METER-A", title="电能表走字快怎么办", category="测试/相似",
                fault="客户反映电能表走字快，电费突然增加",
                solution="申请校验电能表，误差超标则退补电费", keywords=["电能表", "校验"])
    b = _create("T9-METER-B", title="电能表计量不准申请校验", category="测试/相似",
                fault="怀疑电能表计量不准", solution="提交电能表校验申请",
                keywords=["电能表", "计量"])
    c = _create("T9-OTHER", title="营业厅营业时间", category="测试/相似",
                fault="询问营业厅几点开门", solution="工作日 8:30-17:30")
    for x in (a, b, c):
        _publish(x["id"])
    st, r = _req("GET", _art_path("T9-METER-A", "/similar?limit=10"))
    assert st == 200 and isinstance(r.get("items"), list), (st, r)
    ids = [x["id"] for x in r["items"]]
    assert "T9-METER-B" in ids, "similar to A misses B: %r" % ids
    assert "T9-METER-A" not in ids, "similar lists the article itself: %r" % ids
    if "T9-OTHER" in ids:
        assert ids.index("T9-METER-B") < ids.index("T9-OTHER"), ids
    st, r = _req("GET", _art_path("T9-NO-SUCH", "/similar"))
    assert st == 404, (st, r)

    tk = _c().create_ticket(_node(), summary="电能表走字太快",
                            description="客户说最近电能表走字快，电费比上月多一倍")
    st, r = _req("GET", "/v1/tickets/%s/suggestions?limit=10" % tk["id"])
    assert st == 200 and isinstance(r.get("items"), list), (st, r)
    ids = [x["id"] for x in r["items"]]
    assert "T9-METER-A" in ids, "suggestions for a meter ticket: %r" % ids
    for hit in r["items"]:
        assert hit.get("status", "published") == "published", hit
    st, r = _req("GET", "/v1/tickets/GD-20200101-9999/suggestions")
    assert st == 404, (st, r)


def test_category_tree_counts_follow_edits():
    def tree():
        st, b = _req("GET", "/v1/kb/categories", node="f0")
        assert st == 200 and isinstance(b.get("items"), list), (st, b)
        return {x["path"]: x for x in b["items"]}

    _create("TREE-1", category="树测/甲")
    _create("TREE-2", category="树测/甲/子")
    _create("TREE-3", category="树测/乙")
    wait_until(lambda: "树测" in tree() and tree()["树测"]["total"] == 3, t(10),
               what="category tree on a follower")
    root = tree()["树测"]
    assert root["name"] == "树测" and root["count"] == 0, root
    kids = {k["name"]: k for k in root["children"]}
    assert set(kids) == {"甲", "乙"}, root
    assert kids["甲"]["path"] == "树测/甲" and kids["甲"]["count"] == 1, kids["甲"]
    assert kids["甲"]["total"] == 2 and kids["甲"]["children"][0]["name"] == "子", kids["甲"]
    # Moving an article moves its count; an emptied category disappears.
    _write("PATCH", _art_path("TREE-3"), {"category": "树测/甲"}, expect=(200,))
    wait_until(lambda: {k["name"] for k in tree()["树测"]["children"]} == {"甲"}, t(10),
               what="乙 gone from the tree")
    kids = {k["name"]: k for k in tree()["树测"]["children"]}
    assert kids["甲"]["count"] == 2 and kids["甲"]["total"] == 3, kids
    assert tree()["树测"]["total"] == 3


# ------------------------------------------------------------ proposals

def test_proposal_review_approve_reject_once():
    tk = _c().create_ticket(_node(), summary="充电桩报装咨询")
    term = "淏燊充电桩报装"
    st, p = _write("POST", "/v1/kb/proposals", {
        "ticket": tk["id"], "title": term + "流程", "category": "测试/申请",
        "fault": "客户咨询家用充电桩报装", "solution": "携带产权证明到营业厅办理",
        "keywords": ["充电桩"], "reason": "工单中多次遇到"}, expect=(201,))
    assert re.match(r"^KP-\d{8}-\d+$", p["id"]), p
    assert p["status"] == "pending" and p["ticket"] == tk["id"], p
    assert p.get("proposed_by") == "admin" and p.get("reason") == "工单中多次遇到", p
    st, lst = _req("GET", "/v1/kb/proposals?status=pending&limit=1000")
    assert st == 200 and p["id"] in [x["id"] for x in lst["items"]], lst
    st, got = _req("GET", "/v1/kb/proposals/" + p["id"])
    assert st == 200 and got["id"] == p["id"] and got["title"] == term + "流程", got

    review = "/v1/kb/proposals/%s/review" % p["id"]
    st, r = _write("POST", review, {"decision": "approve", "publish": True}, expect=(200,))
    assert r["status"] == "approved" and r.get("reviewed_by") == "admin", r
    art_id = r["result_article"]
    assert r["result_version"] == 1, r
    st, art = _get(art_id)
    assert st == 200 and art["status"] == "published" and art["title"] == term + "流程", art
    assert art["uses"] == 1 and art["tickets"] == [tk["id"]], \
        "approving a proposal links its ticket: %r" % art
    assert _finds(term, art_id), "approved + published proposal not found by search"
    _expect_error(_req("POST", review, {"decision": "reject", "reason": "late"}), 409,
                  "conflict", "second review")
    st, p2 = _req("GET", "/v1/kb/proposals/" + p["id"])
    assert p2["status"] == "approved", p2

    # A proposed new version of that article, approved without publish.
    st, pv = _write("POST", "/v1/kb/proposals", {
        "article": art_id, "title": term + "流程（2026版）", "category": "测试/申请",
        "solution": "线上网上国网APP申请，无需到厅"}, expect=(201,))
    assert pv["article"] == art_id, pv
    st, r = _write("POST", "/v1/kb/proposals/%s/review" % pv["id"], {"decision": "approve"},
                   expect=(200,))
    assert r["result_article"] == art_id and r["result_version"] == 2, r
    st, art = _get(art_id)
    assert art["version"] == 2 and art["title"] == term + "流程（2026版）", art
    assert art["status"] == "published", "an approved amendment keeps the status: %r" % art

    # Reject needs a reason; then a second review is refused.
    st, pr = _write("POST", "/v1/kb/proposals", {
        "title": "无用提议", "category": "测试/申请", "fault": "x"}, expect=(201,))
    review = "/v1/kb/proposals/%s/review" % pr["id"]
    _expect_error(_req("POST", review, {"decision": "reject"}), 400, "invalid_argument",
                  "reject without a reason")
    st, still = _req("GET", "/v1/kb/proposals/" + pr["id"])
    assert still["status"] == "pending", still
    st, r = _write("POST", review, {"decision": "reject", "reason": "重复"}, expect=(200,))
    assert r["status"] == "rejected" and r.get("decision_reason") == "重复", r
    assert not r.get("result_article"), r
    _expect_error(_req("POST", review, {"decision": "approve"}), 409, "conflict",
                  "approve after reject")
    _expect_error(_req("POST", review, {"decision": "maybe"}), 400, "invalid_argument",
                  "unknown decision")
    st, lst = _req("GET", "/v1/kb/proposals?status=rejected&limit=1000")
    assert pr["id"] in [x["id"] for x in lst["items"]], lst
    st, b = _req("POST", "/v1/kb/proposals/KP-20200101-9999/review", {"decision": "approve"})
    assert st == 404, (st, b)


def test_links_count_each_ticket_once():
    a = _create("T11-LINK")
    t1 = _c().create_ticket(_node())
    t2 = _c().create_ticket(_node())
    path = _art_path(a["id"], "/links")
    st, b = _write("POST", path, {"ticket": t1["id"]}, expect=(200,))
    assert b["uses"] == 1 and b["tickets"] == [t1["id"]], b
    st, b = _write("POST", path, {"ticket": t1["id"]}, expect=(200,))
    assert b["uses"] == 1 and b["tickets"] == [t1["id"]], "second link of the same ticket: %r" % b
    st, b = _write("POST", path, {"ticket": t2["id"]}, expect=(200,))
    assert b["uses"] == 2 and b["tickets"] == [t1["id"], t2["id"]], b
    st, b = _get(a["id"])
    assert b["uses"] == 2, b
    st, b = _req("POST", _art_path("T11-NO-SUCH", "/links"), {"ticket": t1["id"]})
    assert st == 404, (st, b)
    _expect_error(_req("POST", path, {}), 400, "invalid_argument", "link without ticket")


# ------------------------------------------------------------ bad input

def test_bad_input_is_refused_and_changes_nothing():
    c = _c()
    cat = "测试/坏输入"
    a = _create("T12-TARGET", category=cat)
    nodes = c.nodes
    before = _count(cat)
    good = _article(None, category=cat)

    def post_raw(nd, raw, path="/v1/kb/articles"):
        return c.request(nd, "POST", path, raw_body=raw)

    for nd in nodes:
        for raw in ['{"title": "x", ', "{not json}", "", "[]", '"str"', "42",
                    json.dumps(good) + " trailing"]:
            _expect_error(post_raw(nd, raw), 400, "invalid_argument",
                          "POST %r on node %d" % (raw[:30], nd.id))
        _expect_error(post_raw(nd, "{broken", "/v1/kb/import"), 400, "invalid_argument",
                      "import malformed JSON on node %d" % nd.id)

    bad_bodies = [
        ("unknown field", dict(good, sumary="typo")),
        ("title number", dict(good, title=5)),
        ("title null", dict(good, title=None)),
        ("category list", dict(good, category=["a"])),
        ("fault number", dict(good, fault=1)),
        ("keywords string", dict(good, keywords="电费")),
        ("keywords numbers", dict(good, keywords=[1, 2])),
        ("sources bad type", dict(good, sources=[{"type": "rumour", "title": "x"}])),
        ("sources not objects", dict(good, sources=["policy"])),
        ("status unknown", dict(good, status="archived")),
        ("region number", dict(good, region=5)),
        ("missing title", {k: v for k, v in good.items() if k != "title"}),
        ("missing category", {k: v for k, v in good.items() if k != "category"}),
        ("empty body", {"title": "t", "category": cat}),
        ("title 201 bytes", dict(good, title="电" * 67)),
        ("category 201 bytes", dict(good, category="a" * 201)),
        ("fault 16001 bytes", dict(good, fault="x" * 16001)),
        ("33 keywords", dict(good, keywords=["k%d" % i for i in range(33)])),
        ("keyword 65 bytes", dict(good, keywords=["k" * 65])),
        ("17 sources", dict(good, sources=[{"type": "law", "title": "l%d" % i}
                                           for i in range(17)])),
        ("id with space", dict(good, id="a b")),
        ("id with slash", dict(good, id="a/b")),
        ("id in Chinese", dict(good, id="知识一")),
        ("id 65 chars", dict(good, id="a" * 65)),
    ]
    for what, body in bad_bodies:
        _expect_error(_req("POST", "/v1/kb/articles", body), 400, "invalid_argument",
                      "POST article with %s" % what)
    # the limits themselves are fine
    ok = _create("T12-" + "a" * 60, category=cat, title="电" * 66 + "ab",
                 keywords=["k%d" % i for i in range(32)])
    assert len(ok["title"].encode()) == 200, ok

    # PATCH: bad fields, wrong types, unknown article.
    for body in ({"sumary": "x"}, {"title": 1}, {"title": "电" * 67}, {"keywords": "x"},
                 {"version": "2"}):
        _expect_error(_req("PATCH", _art_path(a["id"]), body), 400, "invalid_argument",
                      "PATCH %r" % body)
    st, b = _req("PATCH", _art_path("T12-NO-SUCH"), {"title": "x"})
    assert st == 404, (st, b)
    st, b = _req("GET", _art_path("T12-NO-SUCH"))
    assert st == 404, (st, b)

    # No token / bad token: 401 everywhere.
    for method, path, body in [("POST", "/v1/kb/articles", good),
                               ("GET", _art_path(a["id"]), None),
                               ("GET", "/v1/kb/search?q=x", None),
                               ("POST", "/v1/kb/import", {"articles": [good]}),
                               ("POST", "/v1/kb/proposals", dict(good))]:
        for tok in (None, "bogus-token"):
            _expect_error(_req(method, path, body, token=tok), 401, "unauthorized",
                          "%s %s with token %r" % (method, path, tok))

    # Over the body limit: 413.
    big = dict(good, fault="x" * (1 << 20))
    _expect_error(_req("POST", "/v1/kb/articles", big), 413, "too_large", "1 MiB+ body")

    # Nothing changed: count and the target article, on every node.
    assert _count(cat) == before + 1, "count %d, want %d" % (_count(cat), before + 1)
    want = _strip(_get(a["id"])[1])
    for nd in nodes:
        wait_until(lambda nd=nd: _strip(_get(a["id"], node=nd)[1]) == want, t(10),
                   what="target article unchanged on node %d" % nd.id)
    assert want["version"] == 1, want


# ------------------------------------------------------------ replication

def test_follower_writes_are_searchable_on_every_node():
    c = _c()
    f0, f1 = c.followers()[:2]
    term = "璟珩同步检验"
    a = _create("T13-REPL", node=f0, title=term + "一号", category="测试/复制")
    _publish(a["id"], node=f0)
    assert _finds(term, a["id"], node=f0), "not found on the follower it was written through"
    _wait_found(term, a["id"])

    # Import through the other follower.
    st, r = _write("POST", "/v1/kb/import", {"articles": [
        _article("T13-REPL-IMP", title=term + "二号", category="测试/复制",
                 status="published")]}, expect=(200,), node=f1)
    assert r["imported"] == 1, r
    _wait_found(term + "二号", "T13-REPL-IMP")

    # An edit through a follower replaces the old text everywhere.
    st, b = _write("PATCH", _art_path(a["id"]), {"title": "珣玥更名文章"}, expect=(200,),
                   node=f1)
    assert b["version"] >= 2, b
    _wait_found("珣玥", a["id"])
    for nd in c.nodes:
        wait_until(lambda nd=nd: not _finds(term + "一号", a["id"], node=nd), t(15),
                   what="old title gone from search on node %d" % nd.id)
    # Every node holds the same article.
    ref = _strip(_get(a["id"])[1])
    for nd in c.nodes:
        wait_until(lambda nd=nd: _strip(_get(a["id"], node=nd)[1]) == ref, t(10),
                   what="same article on node %d" % nd.id)
