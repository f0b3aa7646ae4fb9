"""Knowledge base through faults: the search index lives in the same RocksDB
WriteBatch as the articles, so (a) a node that joins after the log was
compacted gets articles AND index from the snapshot and answers searches
exactly like the leader, and (b) a follower killed with -9 in the middle of
an import restarts and answers every search exactly like the others, and
every acknowledged article is on every node."""

import json
import os
import subprocess
import time
import urllib.parse

from harness import GRIDESK, Cluster, make_temp_dir, t, wait_until

QUERIES = ["电费", "電費", "停电", "水质", "95598", "kWh", "表", "阶梯电价", "充電樁"]
TOPICS = [("电费", "电费电价/电费查询"), ("停电", "故障报修/停电"), ("水质", "供水/水质"),
          ("充电桩", "业扩报装/充电桩"), ("电表", "计量表计/智能电表")]


def _article(i):
    word, cat = TOPICS[i % len(TOPICS)]
    title = "%s问题第%d例" % (word, i)
    if i % 5 == 0:
        title = title.replace("电", "電").replace("费", "費")  # some Traditional
    return {"id": "REC-%04d" % i, "title": title, "category": cat,
            "fault": "客户反映%s异常，户号31000%05d，拨打95598" % (word, i),
            "solution": "核实后处理，用电量按kWh计，第%d步" % (i % 7),
            "keywords": [word, "K%d" % (i % 11)], "status": "published"}


def _import(c, node, arts):
    st, b = c.write(node, "POST", "/v1/kb/import", {"articles": arts}, expect=(200,),
                    timeout=t(60))
    assert b["rejected"] == [], b["rejected"][:3]
    return b


def _search(c, node, q):
    st, b = c.request(node, "GET", "/v1/kb/search?limit=20&q=" + urllib.parse.quote(q))
    assert st == 200, (node.id, q, st, b)
    return [(x["id"], round(x["score"], 9)) for x in b["items"]], b["total"]


def _same_search_everywhere(c, nodes, what):
    def same():
        ref = [_search(c, nodes[0], q) for q in QUERIES]
        return all([_search(c, nd, q) for q in QUERIES] == ref for nd in nodes[1:])
    wait_until(same, t(30), interval=0.3, what=what)
    return [_search(c, nodes[0], q) for q in QUERIES]


def test_join_after_compaction_gets_the_index_by_snapshot():
    with Cluster(3, snapshot_threshold=32, snapshot_trailing=8) as c:
        leader = c.leader()
        follower = [nd for nd in c.nodes if nd is not leader][0]
        # Many small entries so the log is compacted several times.
        for k in range(0, 120, 3):
            _import(c, c.nodes[k % 3], [_article(i) for i in range(k, k + 3)])
        ref = _same_search_everywhere(c, c.nodes, "equal search results on 3 nodes")
        hits, total = ref[0]
        assert total > 0 and hits, "no hits for 电费 after importing 120 articles"

        n4 = c.add_node(join_via=follower)
        wait_until(lambda: n4.health() is not None or not n4.running(), t(30),
                   interval=0.3, what="node 4 answering /healthz")
        assert n4.running(), "node 4 exited rc=%s" % n4.proc.returncode
        got = _same_search_everywhere(c, [leader, n4], "node 4 searches like the leader")
        assert got == ref, "node 4 after snapshot differs"
        restored = n4.metric("gridesk_snapshots_restored_total")
        assert restored is None or restored >= 1, "node 4 did not install a snapshot"
        docs = n4.metric("gridesk_kb_docs")
        assert docs is None or docs == 120, "node 4 index holds %s docs, want 120" % docs

        # Writes after the join are indexed on node 4 too (edit = new terms).
        st, b = c.write(n4, "PATCH", "/v1/kb/articles/REC-0001",
                        {"title": "淏燊独有标题", "note": "after join"}, expect=(200,))
        def first_hit(nd, q):
            hits, _ = _search(c, nd, q)
            return hits[0][0] if hits else None
        for nd in c.nodes:
            wait_until(lambda nd=nd: first_hit(nd, "淏燊") == "REC-0001", t(15),
                       what="edit searchable on node %d" % nd.id)
        c.write(leader, "DELETE", "/v1/cluster/members/4", None, expect=(200, 204))
        n4.stop(timeout=t(20))


def test_kill9_follower_mid_import_then_identical_search():
    with Cluster(3) as c:
        leader = c.leader()
        victim = [nd for nd in c.nodes if nd is not leader][0]
        acked = []
        for k in range(0, 200, 20):
            if k == 100:
                victim.kill9()
            b = _import(c, leader, [_article(i) for i in range(k, k + 20)])
            assert b["imported"] == 20, b
            acked += ["REC-%04d" % i for i in range(k, k + 20)]
        victim.start()
        c.wait_ready(timeout=t(30))
        _same_search_everywhere(c, c.nodes, "equal search results after kill -9 + restart")
        # Every acknowledged article is on every node.
        for nd in c.nodes:
            for aid in acked[::7] + acked[-3:]:
                st, b = c.request(nd, "GET", "/v1/kb/articles/" + aid)
                assert st == 200 and b["id"] == aid, (nd.id, aid, st, b)
        for nd in c.nodes:
            docs = nd.metric("gridesk_kb_docs")
            assert docs is None or docs == 200, "node %d index holds %s docs" % (nd.id, docs)


def test_cli_import_survives_kill9_of_the_leader():
    """`gridesk kb import` through a follower while the leader is killed:
    rows with ids whose outcome was unknown are sent again, so every row
    ends up imported exactly once (same id, one version) on every node."""
    with Cluster(3) as c:
        leader = c.leader()
        via = [nd for nd in c.nodes if nd is not leader][0]
        home = make_temp_dir("gridesk-kbrec-")
        path = os.path.join(home, "rows.jsonl")
        n = 3000
        with open(path, "w", encoding="utf-8") as f:
            for i in range(n):
                f.write(json.dumps(_article(i), ensure_ascii=False) + "\n")
        env = dict(os.environ)
        env.update({"HOME": home, "XDG_CONFIG_HOME": os.path.join(home, "cfg"),
                    "GRIDESK_TOKEN": c.token})
        proc = subprocess.Popen([GRIDESK, "--node", "http://" + via.http, "--json",
                                 "kb", "import", "--batch", "100", path],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL)
        # Kill the leader once part of the file is in.
        wait_until(lambda: (via.metric("gridesk_kb_docs") or 0) >= 300 or
                   proc.poll() is not None, t(60), interval=0.05,
                   what="the import under way")
        leader.kill9()
        out, err = proc.communicate(timeout=t(180))
        assert proc.returncode == 0, "import rc=%s err=%r out=%r" % (
            proc.returncode, err[-1500:], out[:800])
        res = json.loads(out)
        assert res["imported"] == n and res["rejected"] == [], \
            {k: res[k] for k in res if k != "rejected"}
        leader.start()
        c.wait_ready(timeout=t(30))
        _same_search_everywhere(c, c.nodes, "equal search after the import")
        for nd in c.nodes:
            wait_until(lambda nd=nd: nd.metric("gridesk_kb_docs") in (None, n), t(30),
                       what="node %d indexing %d articles" % (nd.id, n))
            for i in list(range(0, n, 97)) + [n - 1]:
                st, b = c.request(nd, "GET", "/v1/kb/articles/REC-%04d" % i)
                assert st == 200, (nd.id, i, st, b)
                assert b["version"] == 1, "REC-%04d has version %s: written twice?" % (
                    i, b["version"])
