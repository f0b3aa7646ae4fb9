"""(a) Replication: writes through followers are committed, applied and
readable -- identical except applied_index -- on every node; listings with
filters and paging return every ticket exactly once, in the same order, on
every node."""

import re

from harness import (ADMIN, PASSWORD, Cluster, strip_applied, t, wait_until)

TIMEOUT = 90

ID_RE = re.compile(r"^GD-\d{8}-\d{4,}$")
EVENT_FIELDS = ("id", "type", "actor", "at", "channel", "node")
TICKET_FIELDS = ("id", "customer", "class", "channel", "summary", "description",
                 "status", "owner", "created_by", "created_at", "updated_at",
                 "events", "applied_index")


def _get(c, node, tid):
    st, b = c.request(node, "GET", "/v1/tickets/" + tid)
    return b if st == 200 else None


def _same_everywhere(c, expected):
    """Wait until every node serves ticket `expected` identical (minus applied_index)."""
    want = strip_applied(expected)
    for nd in c.nodes:
        def same(nd=nd):
            got = _get(c, nd, expected["id"])
            return got is not None and strip_applied(got) == want
        try:
            wait_until(same, t(10), what="ticket %s identical on node %d" % (expected["id"], nd.id))
        except AssertionError:
            raise AssertionError("ticket %s on node %d differs:\n want %r\n got  %r"
                                 % (expected["id"], nd.id, want, _get(c, nd, expected["id"])))


def test_writes_through_follower_replicate_and_list_on_every_node():
    with Cluster(3) as c:
        leader = c.leader()
        fa, fb = [nd for nd in c.nodes if nd is not leader]

        # A token issued by one node works on every node.
        st, b = fa.request("POST", "/v1/login", {"user": ADMIN, "password": PASSWORD})
        assert st == 200 and isinstance(b.get("token"), str) and b["token"], (st, b)
        tok_fa = b["token"]
        for nd in c.nodes:
            st, b = nd.request("GET", "/v1/tickets?limit=1", token=tok_fa)
            assert st == 200, "token from node %d refused by node %d: %s %r" % (fa.id, nd.id, st, b)
        c.token = tok_fa

        # /healthz and /metrics answer without a token on every node.
        for nd in c.nodes:
            h = nd.health()
            for f in ("status", "id", "role", "leader", "applied_index"):
                assert f in h, "healthz lacks %r: %r" % (f, h)
            assert h["status"] == "ok" and h["id"] == nd.id, h
            st, text = nd.request("GET", "/metrics")
            assert st == 200 and "# TYPE" in str(text), "/metrics on node %d: %s %r" % (
                nd.id, st, str(text)[:200])

        # --- creates through follower A
        customers = ["CUST-A", "CUST-B", "CUST-C"]
        created = []
        for i in range(21):
            body = {"customer": customers[i % 3],
                    "class": ["complaint", "fault_repair", "service_request", "consultation",
                              "suggestion", "opinion", "praise"][i % 7],
                    "channel": ["hotline", "hall", "web", "app", "wechat", "sms", "field"][i % 7],
                    "summary": "停电 %d" % i,
                    "description": "楼道灯不亮 / no power, case %d" % i}
            st, tk = c.write(fa, "POST", "/v1/tickets", body, expect=(201,))
            for f in TICKET_FIELDS:
                assert f in tk, "create response lacks %r: %r" % (f, tk)
            assert ID_RE.match(tk["id"]), "ticket id %r does not look like GD-YYYYMMDD-NNNN" % tk["id"]
            for f in ("customer", "class", "channel", "summary", "description"):
                assert tk[f] == body[f], "field %s: sent %r got %r" % (f, body[f], tk[f])
            assert tk["status"] == "new", tk
            assert tk["owner"] is None, tk
            assert tk["created_by"] == ADMIN, tk
            assert isinstance(tk["events"], list) and len(tk["events"]) >= 1, tk
            for f in EVENT_FIELDS:
                assert f in tk["events"][0], "event lacks %r: %r" % (f, tk["events"][0])
            assert isinstance(tk["applied_index"], int) and tk["applied_index"] > 0, tk
            created.append(tk)
        ids = [tk["id"] for tk in created]
        assert len(set(ids)) == len(ids), "duplicate ticket ids: %r" % ids


        # A 2xx means committed and applied: the leader must have it right away.
        for tk in created:
            got = _get(c, leader, tk["id"])
            assert got is not None, "ticket %s acknowledged by follower but not on leader" % tk["id"]
        for tk in created:
            _same_everywhere(c, tk)

        # --- events through follower B
        current = {tk["id"]: tk for tk in created}
        want_status = {tk["id"]: "new" for tk in created}

        def ev(tid, body, expect_status):
            st, tk = c.write(fb, "POST", "/v1/tickets/%s/events" % tid, body, expect=(200,))
            n_before = len(current[tid]["events"])
            assert len(tk["events"]) == n_before + 1, \
                "event %r on %s: events %d -> %d" % (body, tid, n_before, len(tk["events"]))
            assert tk["events"][-1]["type"] == body["type"], (body, tk["events"][-1])
            for f in EVENT_FIELDS:
                assert f in tk["events"][-1], "event lacks %r: %r" % (f, tk["events"][-1])
            assert tk["status"] == expect_status, "after %r: status %r, want %r" % (
                body, tk["status"], expect_status)
            current[tid] = tk
            want_status[tid] = expect_status
            return tk

        # 0-5 stay new; 6-9 accepted; 10-12 in_progress; 13-15 resolved;
        # 16-17 closed via resolved; 18 closed straight from new; 19 reopened
        # from resolved; 20 reopened from closed.
        for i in range(6, 21):
            tid = ids[i]
            if i == 18:
                ev(tid, {"type": "comment", "text": "客户来电催办"}, "new")
                ev(tid, {"type": "status", "status": "closed", "note": "duplicate"}, "closed")
                continue
            tk = ev(tid, {"type": "accept", "owner": "agent%d" % (i % 2)}, "accepted")
            assert tk["owner"] == "agent%d" % (i % 2), tk
            if i < 10:
                ev(tid, {"type": "comment", "text": "已联系客户 %d" % i}, "accepted")
                continue
            if i < 13:
                ev(tid, {"type": "status", "status": "in_progress"}, "in_progress")
                continue
            if i in (13, 16, 19):
                ev(tid, {"type": "status", "status": "in_progress"}, "in_progress")
            ev(tid, {"type": "status", "status": "resolved", "note": "fixed"}, "resolved")
            if i in (16, 17, 20):
                ev(tid, {"type": "status", "status": "closed"}, "closed")
            if i == 19:
                ev(tid, {"type": "reopen", "reason": "客户不满意"}, "accepted")
            if i == 20:
                ev(tid, {"type": "reopen"}, "accepted")  # reason is optional
        # accept without owner on a new ticket: owner becomes the actor
        tk = ev(ids[5], {"type": "accept"}, "accepted")
        assert tk["owner"], "accept without owner left owner empty: %r" % tk

        for tid in ids:
            _same_everywhere(c, current[tid])

        # --- listings on every node, small pages
        by_status = {}
        for tid, s in want_status.items():
            by_status.setdefault(s, set()).add(tid)
        by_customer = {}
        for tk in created:
            by_customer.setdefault(tk["customer"], set()).add(tk["id"])

        reference = None
        for nd in c.nodes:
            full = c.list_all(nd, limit=4)
            full_ids = [x["id"] for x in full]
            assert len(full_ids) == len(set(full_ids)), \
                "node %d: full listing repeats ids: %r" % (nd.id, full_ids)
            assert set(full_ids) == set(ids), "node %d: full listing %r != created %r" % (
                nd.id, sorted(full_ids), sorted(ids))
            # stable order: same order with one big page and on every node
            big = c.list_all(nd, limit=100)
            assert [x["id"] for x in big] == full_ids, \
                "node %d: order differs between limit=4 and limit=100" % nd.id
            if reference is None:
                reference = full_ids
            assert full_ids == reference, "node %d lists in a different order" % nd.id
            for x in full:
                assert strip_applied(x)["status"] == want_status[x["id"]], (nd.id, x)

            for s, want in by_status.items():
                got = c.list_all(nd, {"status": s}, limit=2)
                gids = [x["id"] for x in got]
                assert len(gids) == len(set(gids)), "node %d status=%s repeats: %r" % (nd.id, s, gids)
                assert set(gids) == want, "node %d status=%s: got %r want %r" % (
                    nd.id, s, sorted(gids), sorted(want))
                assert all(x["status"] == s for x in got), (nd.id, s, got)
            for cust, want in by_customer.items():
                got = c.list_all(nd, {"customer": cust}, limit=3)
                gids = [x["id"] for x in got]
                assert len(gids) == len(set(gids)), "node %d customer=%s repeats" % (nd.id, cust)
                assert set(gids) == want, "node %d customer=%s: got %r want %r" % (
                    nd.id, cust, sorted(gids), sorted(want))
                assert all(x["customer"] == cust for x in got), (nd.id, cust)
            # both filters at once
            want = {tid for tid in by_customer["CUST-B"] if want_status[tid] == "new"}
            got = c.list_all(nd, {"customer": "CUST-B", "status": "new"}, limit=2)
            assert {x["id"] for x in got} == want and len(got) == len(want), \
                "node %d customer=CUST-B&status=new: %r want %r" % (
                    nd.id, [x["id"] for x in got], sorted(want))
            # unknown customer: empty, next null
            st, b = c.request(nd, "GET", "/v1/tickets?customer=NOBODY")
            assert st == 200 and b["items"] == [] and b["next"] is None, (st, b)

        # The leader answers a create from the entry it applied, not from the
        # store: the answer must still be exactly what every node serves,
        # also for text that JSON must escape.
        odd = {"customer": "CUST-\"Q\"", "class": "complaint", "channel": "hotline",
               "summary": "引号\"<b>&</b>\\ \t tab \u0001 ctl 𝄞 emoji",
               "description": "多行\n第二行 \u00e9 \u2028 end"}
        st, tk = c.write(leader, "POST", "/v1/tickets", odd, expect=(201,))
        for f in odd:
            assert tk[f] == odd[f], "field %s: sent %r got %r" % (f, odd[f], tk[f])
        _same_everywhere(c, tk)

        # Followers write each entry to RocksDB after answering the leader
        # (deferred apply); what they serve is the same (checked above) and
        # the counter shows the path was taken.
        for nd in (fa, fb):
            st, text = nd.request("GET", "/metrics")
            m = re.search(r"^gridesk_entries_deferred_total (\d+)$", str(text), re.M)
            assert st == 200 and m, "/metrics on node %d lacks gridesk_entries_deferred_total" % nd.id
            assert int(m.group(1)) > 0, "follower %d deferred no entry" % nd.id
