"""(c) Membership: a 4th node joins a cluster whose log was compacted (so it
catches up from a snapshot), is listed by every node, receives new writes, and
is removed again; writes keep working.  A data dir restarted under another
--id is refused with exit code 2 and a message."""

import fcntl
import os
import re
import struct
import threading
import time

from harness import (Cluster, list_all, run_prog, sanitizer_report, strip_applied, t, ticket_body,
                     wait_same_listings, wait_tickets_everywhere, wait_until)

TIMEOUT = 150


def _create_many(c, n, nodes):
    """n creates spread over nodes by 4 threads; returns the created tickets."""
    out = []
    errs = []
    lock = threading.Lock()
    per = (n + 3) // 4

    def worker(k):
        for i in range(per):
            if k * per + i >= n:
                return
            nd = nodes[(k + i) % len(nodes)]
            try:
                st, b = c.write(nd, "POST", "/v1/tickets", ticket_body(), expect=(201,))
                with lock:
                    out.append(b)
            except Exception as e:  # noqa: BLE001
                with lock:
                    errs.append(repr(e))
                return
    ths = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(4)]
    for th in ths:
        th.start()
    for th in ths:
        th.join(t(120))
    assert not errs, "creates failed: %r" % errs[:3]
    assert len(out) == n, "only %d of %d creates finished" % (len(out), n)
    return out


def _wait_same_listing(c, nodes, timeout, what):
    return wait_same_listings(c, nodes, timeout, what)


def _member_ids(c, nd):
    st = c.status(nd)
    ms = st.get("members")
    assert isinstance(ms, list), "status without members list: %r" % st
    for m in ms:
        for f in ("id", "raft", "http", "role"):
            assert f in m, "member entry lacks %r: %r" % (f, m)
    return sorted(int(m["id"]) for m in ms)


def test_join_after_compaction_catches_up_then_remove():
    with Cluster(3, snapshot_threshold=64, snapshot_trailing=16) as c:
        leader = c.leader()
        followers = [nd for nd in c.nodes if nd is not leader]
        created = _create_many(c, 300, c.nodes)
        assert len({x["id"] for x in created}) == 300, "duplicate ids among 300 creates"

        # Status: the three bootstrap members, with their addresses.
        st = c.status(followers[0])
        for f in ("id", "leader", "term", "applied_index", "members"):
            assert f in st, "cluster status lacks %r: %r" % (f, st)
        assert _member_ids(c, followers[0]) == [1, 2, 3]
        by_id = {int(m["id"]): m for m in st["members"]}
        for nd in c.nodes[:3]:
            assert by_id[nd.id]["raft"] == nd.raft, (by_id[nd.id], nd.raft)
            assert by_id[nd.id]["http"] == nd.http, (by_id[nd.id], nd.http)

        # The log was compacted: every node has taken snapshots.
        for nd in c.nodes:
            taken = nd.metric("gridesk_snapshots_taken_total")
            assert taken is None or taken >= 1, "node %d took no snapshot after 300 writes " \
                "with --snapshot-threshold 64" % nd.id

        # A 4th node joins through a follower's HTTP address.
        n4 = c.add_node(join_via=followers[0])
        assert n4.id == 4
        wait_until(lambda: n4.health() is not None or not n4.running(), t(30), interval=0.3,
                   what="node 4 answering /healthz")
        assert n4.running(), "joining node exited with rc=%s" % n4.proc.returncode
        ref = _wait_same_listing(c, [leader, n4], t(30),
                                 "node 4 listing equal to the leader's after join")
        assert {x["id"] for x in ref} >= {x["id"] for x in created}

        restored = n4.metric("gridesk_snapshots_restored_total")
        print("  node 4 snapshots restored: %s" % restored)
        assert restored is None or restored >= 1, \
            "node 4 caught up on a compacted log without installing a snapshot?"
        for nd in c.nodes:
            wait_until(lambda nd=nd: _member_ids(c, nd) == [1, 2, 3, 4], t(30),
                       what="node %d status listing members 1-4" % nd.id)
        m4 = [m for m in c.status(leader)["members"] if int(m["id"]) == 4][0]
        assert m4["raft"] == n4.raft and m4["http"] == n4.http, m4

        # More writes: visible on node 4; a write through node 4 is forwarded.
        more = _create_many(c, 20, c.nodes[:3])
        via4 = c.create_ticket(n4, summary="written through node 4")
        wait_tickets_everywhere(c, c.nodes, more + [via4], t(15), "tickets written after the join")
        _wait_same_listing(c, c.nodes, t(20), "all four listings equal")

        # Remove node 4 (ask a follower: forwarded to the leader).
        st, b = c.write(followers[1], "DELETE", "/v1/cluster/members/4", None, expect=(200, 204))
        for nd in c.nodes[:3]:
            wait_until(lambda nd=nd: _member_ids(c, nd) == [1, 2, 3], t(30),
                       what="node %d status listing members 1-3 after removal" % nd.id)
        n4.stop(timeout=t(20))
        after = _create_many(c, 10, c.nodes[:3])
        wait_tickets_everywhere(c, c.nodes[:3], after, t(15), "tickets written after removing node 4")

        # A 5th node joins with a token (GRIDESK_TOKEN) instead of the admin
        # password, catches up, and is removed again.
        n5 = c.add_node(join_via=leader, node_id=5,
                        extra_env={"GRIDESK_ADMIN_PASSWORD": None, "GRIDESK_TOKEN": c.token})
        wait_until(lambda: n5.health() is not None or not n5.running(), t(30), interval=0.3,
                   what="node 5 (joined with GRIDESK_TOKEN) answering /healthz")
        assert n5.running(), "node 5 joining with GRIDESK_TOKEN exited rc=%s" % n5.proc.returncode
        _wait_same_listing(c, [leader, n5], t(30), "node 5 listing equal to the leader's")
        wait_until(lambda: _member_ids(c, leader) == [1, 2, 3, 5], t(30),
                   what="leader status listing members 1, 2, 3, 5")
        c.write(leader, "DELETE", "/v1/cluster/members/5", None, expect=(200, 204))
        wait_until(lambda: _member_ids(c, leader) == [1, 2, 3], t(30),
                   what="leader status listing members 1-3 after removing 5")
        n5.stop(timeout=t(20))

        # Unknown member -> 404.
        st, b = c.request(leader, "DELETE", "/v1/cluster/members/99")
        assert st == 404, "DELETE unknown member: %s %r" % (st, b)


def test_restart_with_other_id_is_refused_and_snapshot_restart_works():
    with Cluster(3, snapshot_threshold=64, snapshot_trailing=16) as c:
        _create_many(c, 120, c.nodes)
        leader = c.leader()
        victim = [nd for nd in c.nodes if nd is not leader][0]
        rc = victim.stop()
        assert rc == 0, "SIGTERM exit code %s" % rc

        argv = victim.argv(node_id=9)
        p = run_prog(argv, env={"GRIDESK_ADMIN_PASSWORD": "x"}, timeout=t(30))
        out = (p.stderr + p.stdout).strip()
        print("  --id 9 on node %d's data dir: rc=%d: %s" % (victim.id, p.returncode, out[-300:]))
        assert sanitizer_report(out) is None, "sanitizer: %s" % sanitizer_report(out)
        assert p.returncode == 2, "restart with a different --id exited %d (want 2): %s" % (
            p.returncode, out[-500:])
        assert p.stderr.strip(), "no message on stderr"
        assert "id" in p.stderr.lower(), "message does not mention the id: %r" % p.stderr

        # Meanwhile the cluster goes on; the node restarts (from its snapshot +
        # log tail) under its own id and catches up.
        more = _create_many(c, 40, [nd for nd in c.nodes if nd is not victim])
        victim.start()
        c.wait_ready(timeout=t(30))
        _wait_same_listing(c, c.nodes, t(20), "restarted node's listing equal to the others'")
        for tk in more:
            st, b = c.request(victim, "GET", "/v1/tickets/" + tk["id"])
            assert st == 200 and strip_applied(b) == strip_applied(tk), (tk["id"], st, b)


def test_kill9_follower_comes_back_identical():
    """A follower killed with -9 while the log is compacted comes back (its
    store, the newest Raft snapshot when it is behind it, and the log above)
    identical to the others, and serves what was written while it was
    down."""
    with Cluster(3, snapshot_threshold=64, snapshot_trailing=16) as c:
        before = _create_many(c, 150, c.nodes)
        leader = c.leader()
        victim = [nd for nd in c.nodes if nd is not leader][0]
        victim.kill9()
        others = [nd for nd in c.nodes if nd is not victim]
        more = _create_many(c, 40, others)
        victim.start()
        c.wait_ready(timeout=t(30))
        _wait_same_listing(c, c.nodes, t(20), "killed node's listing equal to the others'")
        for tk in before[:10] + more:
            st, b = c.request(victim, "GET", "/v1/tickets/" + tk["id"])
            assert st == 200 and strip_applied(b) == strip_applied(tk), (tk["id"], st, b)
        print("  killed node: snapshots restored %s, entries skipped %s" % (
            victim.metric("gridesk_snapshots_restored_total"),
            victim.metric("gridesk_entries_skipped_total")))


def _segments(nd):
    """(closed, open) Raft log segment files of a node: (name, size) pairs."""
    d = os.path.join(nd.data, "raft")
    closed, opened = [], []
    for name in sorted(os.listdir(d)):
        size = os.path.getsize(os.path.join(d, name))
        if re.fullmatch(r"[0-9]{16}-[0-9]{16}", name):
            closed.append((name, size))
        elif name.startswith("open-"):
            opened.append((name, size))
    return closed, opened


# FS_IOC_FIEMAP and its flags (linux/fs.h, linux/fiemap.h)
_FS_IOC_FIEMAP = 0xC020660B
_FIEMAP_FLAG_SYNC = 0x1
_FIEMAP_EXTENT_LAST = 0x1
_FIEMAP_EXTENT_UNWRITTEN = 0x800


def _unwritten_extents(path):
    """How many of path's extents are allocated but unwritten (what
    fallocate leaves on ext4 and XFS), or None where the file system cannot
    say (no FIEMAP, e.g. tmpfs)."""
    n = 512
    buf = bytearray(struct.pack("=QQIIII", 0, 0xFFFFFFFFFFFFFFFF, _FIEMAP_FLAG_SYNC, 0, n, 0)
                    + bytes(56 * n))
    with open(path, "rb") as f:
        try:
            fcntl.ioctl(f.fileno(), _FS_IOC_FIEMAP, buf)
        except OSError:
            return None
    mapped = struct.unpack_from("=I", buf, 20)[0]
    assert mapped < n, "%s: more than %d extents" % (path, n)
    flags = [struct.unpack_from("=I", buf, 32 + 56 * i + 40)[0] for i in range(mapped)]
    assert mapped == 0 or flags[-1] & _FIEMAP_EXTENT_LAST, (path, mapped, flags)
    return sum(1 for fl in flags if fl & _FIEMAP_EXTENT_UNWRITTEN)


def _fs_type(path):
    """The type of the file system path is on, from /proc/mounts."""
    best, fstype = "", None
    real = os.path.realpath(path)
    with open("/proc/mounts") as f:
        for line in f:
            mnt, typ = line.split()[1], line.split()[2]
            if (real == mnt or real.startswith(mnt.rstrip("/") + "/")) and len(mnt) > len(best):
                best, fstype = mnt, typ
    return fstype


def _prepared_segments(nd, size, timeout):
    """The open segments of nd once libraft has prepared them all at size
    (zero-filling takes a moment after the first write)."""
    deadline = time.time() + timeout
    while True:
        _, opened = _segments(nd)
        filled = nd.metric("gridesk_raft_segments_zero_filled_total")
        if len(opened) >= 2 and all(sz == size for _, sz in opened) and \
                (filled == 0 or filled >= len(opened)):
            return opened
        assert time.time() < deadline, "open segments %r, zero-filled %r" % (opened, filled)
        time.sleep(0.05)


def test_segment_size_default_and_flag():
    """Open Raft log segments are 64 MiB by default (libraft's 8 MiB ended a
    segment every few seconds under load, each end a 30-60 ms stall of the
    loop on every node) and written with zeros before use, so that appends
    are plain overwrites: no unwritten extents.  --segment-size MB sets
    another size; --segment-fill allocate leaves libraft's fallocate (whose
    extents ext4 and XFS mark unwritten)."""
    with Cluster(1, segment_size=None) as c:
        nd = c.nodes[0]
        c.write(nd, "POST", "/v1/tickets", ticket_body(), expect=(201,))
        opened = _prepared_segments(nd, 64 << 20, t(30))
        assert nd.metric("gridesk_raft_segments_zero_filled_total") >= len(opened), opened
        assert nd.metric("gridesk_raft_segment_fill_bytes_total") >= len(opened) * (64 << 20)
        # open-1, which the first write waits for, is filled at full speed;
        # the ones prepared ahead of need are paced (read paced first: a fill
        # ending between the two reads only raises the second)
        paced = nd.metric("gridesk_raft_segments_fill_paced_total")
        assert len(opened) - 1 <= paced <= nd.metric("gridesk_raft_segments_zero_filled_total") - 1, \
            (opened, paced)
        unwritten = [_unwritten_extents(os.path.join(nd.data, "raft", name)) for name, _ in opened]
        print("  default: open segments %r, unwritten extents %r, fill %.2f s" % (
            opened, unwritten, nd.metric("gridesk_raft_segment_fill_seconds_total")))
        assert all(u in (0, None) for u in unwritten), unwritten
    with Cluster(1, segment_size=2, segment_fill="allocate") as c:
        nd = c.nodes[0]
        c.write(nd, "POST", "/v1/tickets", ticket_body(), expect=(201,))
        opened = _prepared_segments(nd, 2 << 20, t(30))
        assert nd.metric("gridesk_raft_segments_zero_filled_total") == 0
        unwritten = [_unwritten_extents(os.path.join(nd.data, "raft", name)) for name, _ in opened]
        fstype = _fs_type(nd.data)
        print("  allocate on %s: open segments %r, unwritten extents %r" % (fstype, opened, unwritten))
        if fstype in ("ext4", "xfs"):
            # the first segment has the log in its first blocks; the others
            # are untouched
            assert all(u is not None and u > 0 for u in unwritten[1:]), unwritten


def test_small_segments_roll_over_and_survive_kill9_of_every_node():
    """With 1 MiB segments, writes fill several segments on every node; after
    kill -9 of all three nodes at once, the cluster comes back with every
    acknowledged ticket, identical on all nodes."""
    big = "表后线路故障，客户报修。" * 100  # ~3.6 KB per ticket
    with Cluster(3, segment_size=1, snapshot_threshold=100000) as c:
        made = [c.write(c.leader(), "POST", "/v1/tickets", ticket_body(description=big),
                        expect=(201,))[1] for _ in range(450)]
        for nd in c.nodes:
            closed, opened = _segments(nd)
            assert len(closed) >= 2, "node %d: closed segments %r" % (nd.id, closed)
            assert all(sz <= 1 << 20 for _, sz in closed), closed
            assert all(sz == 1 << 20 for _, sz in opened), opened
        for nd in c.nodes:
            nd.kill9()
        for nd in c.nodes:
            nd.start()
        c.wait_ready(timeout=t(30))
        _wait_same_listing(c, c.nodes, t(30), "listing after kill -9 of every node")
        for nd in c.nodes:
            for tk in made[::37] + made[-3:]:
                st, b = c.request(nd, "GET", "/v1/tickets/" + tk["id"])
                assert st == 200 and strip_applied(b) == strip_applied(tk), (nd.id, tk["id"], st)
            ids = {x["id"] for x in list_all(c, nd)}
            assert ids == {tk["id"] for tk in made}, "node %d: %d tickets, %d made" % (
                nd.id, len(ids), len(made))
