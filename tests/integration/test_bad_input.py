"""(d) Bad input gets the right error and changes nothing: malformed and
mistyped JSON, unknown codes, missing fields, oversized bodies, missing or bad
tokens, bad events, bad transitions, bad paging parameters.  Afterwards the
ticket count on every node and the ticket that was refused events are
unchanged.  Bad CLI / daemon usage exits 2."""

import json
import os
import re
import socket
import time

from harness import (ADMIN, GRIDESK, GRIDESKD, Cluster, free_port, make_temp_dir,
                     run_prog, sanitizer_report, strip_applied, t, ticket_body, wait_until)

TIMEOUT = 90
MAX_BODY = 65536

S = {}  # module state: cluster, baseline


def setup_module():
    c = Cluster(3, max_body=MAX_BODY, region="ZQ")
    S["c"] = c
    leader = c.leader()
    S["tickets"] = [c.create_ticket(leader, customer="BAD-%d" % i) for i in range(3)]
    tk = S["tickets"][0]
    assert re.match(r"^ZQ-\d{8}-\d+$", tk["id"]), "--region ZQ: ticket id %r" % tk["id"]
    # one ticket in state accepted, to refuse events on
    st, tk = c.write(leader, "POST", "/v1/tickets/%s/events" % tk["id"],
                     {"type": "accept", "owner": "agent1"}, expect=(200,))
    S["target"] = tk
    # one ticket closed straight from new
    st, closed = c.write(leader, "POST", "/v1/tickets/%s/events" % S["tickets"][2]["id"],
                         {"type": "status", "status": "closed"}, expect=(200,))
    assert closed["status"] == "closed", closed
    S["closed"] = closed
    for x in S["tickets"]:
        for nd in c.nodes:
            wait_until(lambda nd=nd, x=x: c.request(nd, "GET", "/v1/tickets/" + x["id"])[0] == 200,
                       t(10), what="baseline ticket on node %d" % nd.id)
    wait_until(lambda: _target_everywhere(c), t(10), what="accepted target on every node")
    S["count"] = len(c.list_all(leader, limit=100))
    S["nodes"] = list(c.nodes)


def teardown_module():
    if "c" in S:
        S["c"].close()


def _target_everywhere(c):
    want = strip_applied(S["target"])
    for nd in c.nodes:
        st, b = c.request(nd, "GET", "/v1/tickets/" + S["target"]["id"])
        if st != 200 or strip_applied(b) != want:
            return False
    return True


def _expect_error(res, status, code, what):
    st, b = res
    assert st == status, "%s: expected %d, got %s %r" % (what, status, st, b)
    assert isinstance(b, dict) and isinstance(b.get("error"), dict), \
        "%s: error body not {error:{code,message}}: %r" % (what, b)
    assert b["error"].get("code") == code, "%s: error code %r, want %r" % (
        what, b["error"].get("code"), code)
    assert isinstance(b["error"].get("message"), str) and b["error"]["message"], \
        "%s: empty error message: %r" % (what, b)


def _all_nodes():
    return S["c"].nodes


def _post_raw(nd, path, raw, token=True):
    c = S["c"]
    return c.request(nd, "POST", path, raw_body=raw, token=c.token if token else None)


# ------------------------------------------------------------------ tickets

def test_malformed_json_is_400():
    for nd in _all_nodes():
        for raw in ['{"customer": "x", ', "{not json}", "", "   ", '{"a":1}}', "\x00\x01\x02",
                    '{"customer":"C1","class":"complaint","channel":"web","summary":"s",'
                    '"description":"d"} trailing']:
            _expect_error(_post_raw(nd, "/v1/tickets", raw), 400, "invalid_argument",
                          "POST /v1/tickets %r on node %d" % (raw, nd.id))


def test_json_not_an_object_is_400():
    for nd in _all_nodes():
        for raw in ["[]", '["customer"]', '"customer"', "42", "null", "true"]:
            _expect_error(_post_raw(nd, "/v1/tickets", raw), 400, "invalid_argument",
                          "POST /v1/tickets %s on node %d" % (raw, nd.id))


def test_wrong_types_are_400():
    c = S["c"]
    for nd in _all_nodes():
        for field, bad in [("customer", 5), ("customer", None), ("customer", ["C1"]),
                           ("class", 1), ("channel", {"x": 1}), ("summary", True),
                           ("summary", 3.5), ("description", 7)]:
            body = ticket_body()
            body[field] = bad
            _expect_error(c.request(nd, "POST", "/v1/tickets", body), 400, "invalid_argument",
                          "create with %s=%r on node %d" % (field, bad, nd.id))


def test_unknown_class_and_channel_are_400():
    c = S["c"]
    for nd in _all_nodes():
        for field, bad in [("class", "bribery"), ("class", ""), ("class", "Complaint"),
                           ("channel", "telegram"), ("channel", ""), ("channel", "HOTLINE")]:
            body = ticket_body()
            body[field] = bad
            _expect_error(c.request(nd, "POST", "/v1/tickets", body), 400, "invalid_argument",
                          "create with %s=%r on node %d" % (field, bad, nd.id))


def test_missing_fields_are_400():
    c = S["c"]
    for nd in _all_nodes():
        for field in ("summary", "customer", "class", "channel"):
            body = ticket_body()
            del body[field]
            _expect_error(c.request(nd, "POST", "/v1/tickets", body), 400, "invalid_argument",
                          "create without %s on node %d" % (field, nd.id))
        _expect_error(c.request(nd, "POST", "/v1/tickets", {}), 400, "invalid_argument",
                      "create with {} on node %d" % nd.id)


def test_invalid_utf8_and_deep_nesting_are_400():
    c = S["c"]
    nd = c.nodes[0]
    body = json.dumps(ticket_body()).encode().replace(b"summary ", b"summary \xff\xfe ")
    _expect_error(_post_raw(nd, "/v1/tickets", body), 400, "invalid_argument", "invalid UTF-8")
    deep = "[" * 30000 + "]" * 30000
    _expect_error(_post_raw(nd, "/v1/tickets", deep), 400, "invalid_argument", "30000-deep array")
    deep = '{"customer":' + '{"a":' * 10000 + "1" + "}" * 10000 + "}"
    _expect_error(_post_raw(nd, "/v1/tickets", deep), 400, "invalid_argument", "10000-deep object")
    assert nd.health() is not None, "node stopped answering after deeply nested JSON"


def test_body_over_max_body_is_413():
    c = S["c"]
    for nd in _all_nodes():
        body = ticket_body(description="x" * (MAX_BODY + 10))
        _expect_error(c.request(nd, "POST", "/v1/tickets", body), 413, "too_large",
                      "create with a %d-byte body on node %d" % (MAX_BODY + 200, nd.id))


def test_huge_content_length_is_refused_before_the_body_is_read():
    """Declare 512 MiB, send 256 KiB, and expect a 413 without sending more."""
    c = S["c"]
    nd = c.nodes[1]
    declared = 512 * 1024 * 1024
    s = socket.create_connection(("127.0.0.1", nd.http_port), timeout=t(10))
    try:
        head = ("POST /v1/tickets HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
                "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                % (nd.http, c.token, declared)).encode()
        s.sendall(head)
        chunk = b'{"description":"' + b"y" * 65536
        sent = 0
        try:
            for _ in range(4):
                s.sendall(chunk)
                sent += len(chunk)
        except OSError:
            pass  # the server may close as soon as it has refused: fine
        s.settimeout(t(10))
        data = b""
        try:
            for _ in range(100):
                part = s.recv(65536)
                if not part:
                    break
                data += part
                if b"\r\n\r\n" in data:
                    hdr, _, rest = data.partition(b"\r\n\r\n")
                    m = re.search(rb"(?i)content-length:\s*(\d+)", hdr)
                    if m and len(rest) >= int(m.group(1)):
                        break
        except (socket.timeout, ConnectionResetError):
            pass
    finally:
        s.close()
    assert data, ("no response to a request declaring Content-Length %d after %d body bytes "
                  "(the server is waiting for the whole body?)" % (declared, sent))
    status_line = data.split(b"\r\n", 1)[0].decode("latin-1")
    assert " 413 " in status_line + " ", "declared %d bytes: got %r" % (declared, status_line)
    assert nd.health() is not None, "node stopped answering after the oversized request"


# ------------------------------------------------------------------ auth

def test_missing_or_bad_token_is_401():
    c = S["c"]
    tid = S["target"]["id"]
    for nd in _all_nodes():
        for hdrs in [None, {"Authorization": "Bearer not-a-token"},
                     {"Authorization": "Bearer "}, {"Authorization": "Basic YWRtaW46eA=="},
                     {"Authorization": c.token}, {"Authorization": "Bearer " + c.token[:-1] + ("A" if c.token[-1:] != "A" else "B")}]:
            what = "%s on node %d" % (hdrs, nd.id)
            _expect_error(nd.request("GET", "/v1/tickets", headers=hdrs), 401, "unauthorized",
                          "GET /v1/tickets " + what)
            _expect_error(nd.request("GET", "/v1/tickets/" + tid, headers=hdrs), 401,
                          "unauthorized", "GET ticket " + what)
            _expect_error(nd.request("POST", "/v1/tickets", ticket_body(), headers=hdrs), 401,
                          "unauthorized", "POST /v1/tickets " + what)
            _expect_error(nd.request("POST", "/v1/tickets/%s/events" % tid,
                                     {"type": "comment", "text": "x"}, headers=hdrs), 401,
                          "unauthorized", "POST event " + what)
            _expect_error(nd.request("GET", "/v1/cluster/status", headers=hdrs), 401,
                          "unauthorized", "GET /v1/cluster/status " + what)


def test_bad_login_is_rejected():
    nd = S["c"].nodes[2]
    _expect_error(nd.request("POST", "/v1/login", {"user": ADMIN, "password": "wrong"}), 401,
                  "unauthorized", "login with a wrong password")
    _expect_error(nd.request("POST", "/v1/login", {"user": "nobody", "password": "x"}), 401,
                  "unauthorized", "login as an unknown user")
    _expect_error(nd.request("POST", "/v1/login", raw_body="{user"), 400, "invalid_argument",
                  "login with malformed JSON")
    _expect_error(nd.request("POST", "/v1/login", {"user": ADMIN}), 400, "invalid_argument",
                  "login without password")
    _expect_error(nd.request("POST", "/v1/login", {"user": 1, "password": 2}), 400,
                  "invalid_argument", "login with numbers")


# ------------------------------------------------------------------ events

def test_bad_events():
    c = S["c"]
    tid = S["target"]["id"]  # status accepted, owner agent1
    path = "/v1/tickets/%s/events" % tid
    for nd in _all_nodes():
        for body in [{"type": "teleport"}, {"type": ""}, {"type": 3}, {}, {"text": "no type"},
                     {"type": "status", "status": "bogus"}, {"type": "status"},
                     {"type": "comment"}, {"type": "comment", "text": 5},
                     {"type": "accept", "owner": 12}]:
            _expect_error(c.request(nd, "POST", path, body), 400, "invalid_argument",
                          "event %r on node %d" % (body, nd.id))
        for raw in ["{", "[]", '"comment"']:
            _expect_error(_post_raw(nd, path, raw), 400, "invalid_argument",
                          "event body %r on node %d" % (raw, nd.id))
        missing = "/v1/tickets/ZQ-20200101-9999/events"
        _expect_error(c.request(nd, "POST", missing, {"type": "comment", "text": "x"}), 404,
                      "not_found", "event on a missing ticket, node %d" % nd.id)
        _expect_error(c.request(nd, "GET", "/v1/tickets/ZQ-20200101-9999"), 404, "not_found",
                      "GET a missing ticket, node %d" % nd.id)
        # accepted -> closed, accepted -> accepted (owned), reopen of an open ticket
        for body in [{"type": "status", "status": "closed"},
                     {"type": "accept", "owner": "agent2"},
                     {"type": "accept"},
                     {"type": "reopen", "reason": "x"},
                     {"type": "status", "status": "accepted"}]:
            _expect_error(c.request(nd, "POST", path, body), 409, "conflict",
                          "event %r on an accepted ticket, node %d" % (body, nd.id))


def test_bad_transitions_from_new_are_409():
    c = S["c"]
    tid = S["tickets"][1]["id"]  # status new
    for body in [{"type": "status", "status": "in_progress"},
                 {"type": "status", "status": "resolved"},
                 {"type": "reopen"}]:
        _expect_error(c.request(c.nodes[0], "POST", "/v1/tickets/%s/events" % tid, body), 409,
                      "conflict", "event %r on a new ticket" % body)
    st, b = c.request(c.nodes[0], "GET", "/v1/tickets/" + tid)
    assert st == 200 and strip_applied(b) == strip_applied(S["tickets"][1]), \
        "ticket changed by refused events: %r" % b


def test_bad_transitions_from_closed_are_409():
    """closed only reopens: accept is new -> accepted, nothing else."""
    c = S["c"]
    tid = S["closed"]["id"]
    for body in [{"type": "accept", "owner": "agent3"}, {"type": "accept"},
                 {"type": "status", "status": "in_progress"},
                 {"type": "status", "status": "resolved"},
                 {"type": "status", "status": "closed"},
                 {"type": "status", "status": "accepted"}]:
        _expect_error(c.request(c.nodes[1], "POST", "/v1/tickets/%s/events" % tid, body), 409,
                      "conflict", "event %r on a closed ticket" % body)
    st, b = c.request(c.nodes[1], "GET", "/v1/tickets/" + tid)
    assert st == 200 and strip_applied(b) == strip_applied(S["closed"]), \
        "closed ticket changed by refused events:\n was %r\n now %r" % (
            strip_applied(S["closed"]), strip_applied(b))


# ------------------------------------------------------------------ listing

def test_bad_limit_and_cursor_are_400():
    c = S["c"]
    for nd in _all_nodes():
        for q in ["limit=abc", "limit=-1", "limit=1.5", "limit=99999999999999999999",
                  "limit=10x", "after=%25%25%25not-a-cursor", "after=!!!",
                  "limit=2&after=%00%01"]:
            _expect_error(c.request(nd, "GET", "/v1/tickets?" + q), 400, "invalid_argument",
                          "GET /v1/tickets?%s on node %d" % (q, nd.id))


# ------------------------------------------------------------------ nothing changed

def test_zz_nothing_changed_and_every_node_alive():
    """Runs last (source order): the bad requests above changed nothing."""
    c = S["c"]
    for nd in c.nodes:
        assert nd.running(), "node %d exited (rc=%s)" % (nd.id, nd.proc.returncode)
        assert nd.health() is not None, "node %d does not answer /healthz" % nd.id
    # let any stray write (there must be none) replicate before counting
    time.sleep(1.0)
    for nd in c.nodes:
        n = len(c.list_all(nd, limit=7))
        assert n == S["count"], "node %d lists %d tickets, %d before the bad requests" % (
            nd.id, n, S["count"])
        st, b = c.request(nd, "GET", "/v1/tickets/" + S["target"]["id"])
        assert st == 200 and strip_applied(b) == strip_applied(S["target"]), \
            "node %d: refused events changed the ticket:\n was %r\n now %r" % (
                nd.id, strip_applied(S["target"]), b)


# ------------------------------------------------------------------ corrupt files

def test_corrupt_raft_log_is_refused_with_a_message_not_a_crash():
    """A data dir whose Raft segments were damaged: grideskd must refuse to
    start with a message (exit 1 or 2), not die on a signal."""
    with Cluster(1) as c:
        nd = c.nodes[0]
        for _ in range(20):
            c.create_ticket(nd)
        assert nd.stop() == 0
        raft_dir = os.path.join(nd.data, "raft")
        assert os.path.isdir(raft_dir), "no raft dir in %s: %r" % (nd.data, os.listdir(nd.data))
        segs = [os.path.join(raft_dir, f) for f in sorted(os.listdir(raft_dir))
                if f[:1].isdigit() or f.startswith("open-")]
        damaged = 0
        for sg in segs:
            size = os.path.getsize(sg)
            if size < 64:
                continue
            with open(sg, "r+b") as f:
                f.seek(min(size // 2, 200))
                f.write(b"\xde\xad\xbe\xef" * 8)
            damaged += 1
        assert damaged, "no segment to damage in %r" % os.listdir(raft_dir)
        p = run_prog(nd.argv(), env={"GRIDESK_ADMIN_PASSWORD": "x"}, timeout=t(30))
        print("  damaged %d segment(s): rc=%d stderr=%r" % (damaged, p.returncode, p.stderr[-300:]))
        assert p.returncode >= 0, "grideskd died on signal %d on a damaged Raft log (stderr %r)" % (
            -p.returncode, p.stderr[-500:])
        rep = sanitizer_report(p.stderr + p.stdout)
        assert rep is None, "damaged Raft log: sanitizer report: %s" % rep
        assert p.returncode in (1, 2), "damaged Raft log: exit %d (want 1 or 2)" % p.returncode
        assert p.stderr.strip(), "damaged Raft log: no message on stderr"


# ------------------------------------------------------------------ CLI / daemon usage

def test_cli_unknown_command_exits_2():
    assert os.path.exists(GRIDESK), "gridesk not found at %s" % GRIDESK
    for argv in [["frobnicate"], ["ticket", "frobnicate"], ["--no-such-flag"]]:
        p = run_prog([GRIDESK] + argv, timeout=t(15))
        assert p.returncode == 2, "gridesk %s exited %d (want 2); stderr %r" % (
            " ".join(argv), p.returncode, p.stderr)
        assert p.stderr.strip(), "gridesk %s: no message on stderr" % " ".join(argv)


def test_grideskd_bad_flags_exit_2_with_one_line():
    d = make_temp_dir()
    hp, rp = free_port(), free_port()
    base = ["--data", os.path.join(d, "data"), "--http", "127.0.0.1:%d" % hp,
            "--raft", "127.0.0.1:%d" % rp]
    cases = [
        ["--id", "1", "--bogus-flag"] + base,
        ["--id", "abc"] + base + ["--cluster", "1=127.0.0.1:%d" % rp],
        ["--id", "1", "--data", os.path.join(d, "x"), "--http", "not-an-address",
         "--raft", "127.0.0.1:%d" % rp, "--cluster", "1=127.0.0.1:%d" % rp],
        ["--id", "1"] + base + ["--cluster", "garbage"],
        ["--id", "1"] + base + ["--cluster", "1=127.0.0.1:%d" % rp, "--join", "127.0.0.1:1"],
        ["--id", "1"] + base + ["--cluster", "1=127.0.0.1:%d" % rp, "--max-body", "-5"],
        ["--id", "1"] + base + ["--cluster", "1=127.0.0.1:%d" % rp, "--election-timeout", "x"],
        ["--id", "1"] + base + ["--cluster", "1=127.0.0.1:%d" % rp, "--segment-size", "0"],
        ["--id", "1"] + base + ["--cluster", "1=127.0.0.1:%d" % rp, "--segment-size", "4096"],
        ["--id", "1"] + base + ["--cluster", "1=127.0.0.1:%d" % rp, "--segment-fill", "sparse"],
        ["--id", "1"] + base + ["--cluster", "1=127.0.0.1:%d" % rp, "--segment-fill", ""],
        ["--id", "1", "--data", os.path.join(d, "y"), "--http", "192.0.2.1:80",
         "--raft", "127.0.0.1:%d" % rp, "--cluster", "1=127.0.0.1:%d" % rp],
        ["--id", "2", "--data", os.path.join(d, "z"), "--http", "127.0.0.1:%d" % hp,
         "--raft", "127.0.0.1:%d" % rp, "--join", "127.0.0.1:%d" % free_port()],
        ["--id"],
    ]
    bad = []
    for argv in cases:
        try:
            p = run_prog([GRIDESKD] + argv, env={"GRIDESK_ADMIN_PASSWORD": "x"}, timeout=t(30))
        except Exception as e:  # noqa: BLE001 -- a timeout means it started running
            bad.append("grideskd %s: %r" % (" ".join(argv), e))
            continue
        # One error line; a node that got as far as running (the --join
        # case retries for a while) may also have written log lines.
        lines = [ln for ln in p.stderr.splitlines()
                 if ln.strip() and not ln.startswith("ts=")]
        if sanitizer_report(p.stderr):
            bad.append("grideskd %s: sanitizer: %s" % (" ".join(argv), sanitizer_report(p.stderr)))
        elif p.returncode != 2 or len(lines) != 1:
            bad.append("grideskd %s: rc=%d stderr=%r" % (" ".join(argv), p.returncode, p.stderr[-400:]))
    assert not bad, "bad usage not refused with exit 2 + one stderr line:\n  " + "\n  ".join(bad)


def test_refused_start_leaves_the_data_dir_unclaimed():
    """A start refused for a bad --cluster must not record its --id in the
    data dir: the same dir then starts under another id (it is refused here
    only for that run's own bad flag, not as "belongs to node 5")."""
    d = make_temp_dir()
    data = os.path.join(d, "data")
    rp = free_port()
    base = ["--data", data, "--http", "127.0.0.1:%d" % free_port(),
            "--raft", "127.0.0.1:%d" % rp]
    p = run_prog([GRIDESKD, "--id", "5"] + base + ["--cluster", "1=127.0.0.1:%d" % rp],
                 env={"GRIDESK_ADMIN_PASSWORD": "x"}, timeout=t(30))
    assert p.returncode == 2 and "does not list" in p.stderr, (p.returncode, p.stderr)
    p = run_prog([GRIDESKD, "--id", "6"] + base + ["--cluster", "1=127.0.0.1:%d" % rp],
                 env={"GRIDESK_ADMIN_PASSWORD": "x"}, timeout=t(30))
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert "belongs to node" not in p.stderr, "the refused start claimed the dir: %r" % p.stderr
    assert "does not list this node's --id 6" in p.stderr, p.stderr
