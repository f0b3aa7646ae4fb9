#!/usr/bin/env python3
"""Leader-failover probe for bench/run.sh (python3 stdlib; not a throughput tool).

Checks that a write through every survivor succeeds, then SIGKILLs the leader
(a PID that bench/run.sh started) and, from that instant, starts one write
attempt every --interval-ms (default 5 ms) through the survivors in turn, each
on a new connection with a short timeout (--timeout-ms, default 300 ms), at
most --max-inflight at once.  The result is the time from the kill to the
first 2xx response received: "ms until the first acknowledged write through a
survivor".  Attempts overlap, so a write that a survivor held until a new
leader was elected counts when it is acknowledged; the probe's own resolution
is about one interval.  Gives up after --deadline-s (default 30 s).

  failover.py --system etcd|gridesk --kill-pid PID --target URL --target URL \
              --body-bytes N --out FILE [--login USER:PASSWORD] [--run K]
"""
import argparse
import base64
import http.client
import json
import os
import signal
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import util  # noqa: E402


class Writer:
    def __init__(self, system, body_bytes, run, token=None):
        self.system = system
        self.body_bytes = body_bytes
        self.run = run
        self.token = token
        self.value_b64 = base64.b64encode(util.ticket_body(body_bytes).encode()).decode()

    def request(self, n):
        """(path, body, headers) of write attempt n."""
        if self.system == "etcd":
            key = base64.b64encode(("bench-failover/r%d/%d" % (self.run, n)).encode()).decode()
            body = '{"key":"%s","value":"%s"}' % (key, self.value_b64)
            return "/v3/kv/put", body, {"Content-Type": "application/json"}
        body = util.ticket_body(self.body_bytes, 900 + self.run % 100, n)
        hdr = {"Content-Type": "application/json"}
        if self.token:
            hdr["Authorization"] = "Bearer " + self.token
        return "/v1/tickets", body, hdr


def runs(pid, exe):
    """PID runs EXE (directly, or as the script of an interpreter)."""
    want = os.path.realpath(exe)
    try:
        if os.readlink("/proc/%d/exe" % pid).replace(" (deleted)", "") == want:
            return True
        argv = open("/proc/%d/cmdline" % pid, "rb").read().split(b"\0")
    except OSError:
        return False
    return len(argv) > 1 and os.path.realpath(argv[1].decode(errors="replace")) == want


def post(url, path, body, headers, timeout):
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        conn.request("POST", path, body=body.encode(), headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, data
    finally:
        conn.close()


def login(url, user, password):
    st, data = post(url, "/v1/login", json.dumps({"user": user, "password": password}),
                    {"Content-Type": "application/json"}, 5.0)
    if st // 100 != 2:
        raise RuntimeError("login at %s: HTTP %d %s" % (url, st, data[:200]))
    return json.loads(data)["token"]


def precheck(writer, targets, deadline_s=10.0):
    """One successful write through each survivor, within deadline_s."""
    end = time.monotonic() + deadline_s
    n = 0
    for t in targets:
        last = None
        while True:
            n += 1
            path, body, hdr = writer.request(-n)
            try:
                st, data = post(t, path, body, hdr, 2.0)
                if st // 100 == 2:
                    break
                last = "HTTP %d %s" % (st, data[:200])
            except (OSError, http.client.HTTPException) as e:
                last = repr(e)
            if time.monotonic() > end:
                raise RuntimeError("pre-kill write through %s failed: %s" % (t, last))
            time.sleep(0.1)


killed = []  # the PID, once SIGKILL was sent


def measure(writer, targets, pid, interval, timeout, deadline, max_inflight):
    lock = threading.Lock()
    done = threading.Event()
    slots = threading.Semaphore(max_inflight)
    statuses = {}
    errors = {}
    first = {}

    def attempt(n, target, t_kill):
        path, body, hdr = writer.request(n)
        sent = time.monotonic()
        try:
            st, _ = post(target, path, body, hdr, timeout)
            now = time.monotonic()
            with lock:
                statuses[str(st)] = statuses.get(str(st), 0) + 1
                if st // 100 == 2 and not first:
                    first.update(ack_ms=(now - t_kill) * 1000.0, sent_ms=(sent - t_kill) * 1000.0,
                                 target=target, attempt=n)
                    done.set()
        except (OSError, http.client.HTTPException) as e:
            with lock:
                k = type(e).__name__
                errors[k] = errors.get(k, 0) + 1
        finally:
            slots.release()

    t_kill = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    killed.append(pid)
    n = 0
    skipped = 0
    while not done.is_set():
        now = time.monotonic()
        if now - t_kill > deadline:
            break
        if slots.acquire(blocking=False):
            target = targets[n % len(targets)]
            n += 1
            threading.Thread(target=attempt, args=(n, target, t_kill), daemon=True).start()
        else:
            skipped += 1
        next_t = t_kill + n * interval if n else now + interval
        done.wait(max(0.0, min(next_t, now + interval) - time.monotonic()))
    with lock:
        return dict(first), n, skipped, dict(statuses), dict(errors)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--system", choices=["etcd", "gridesk"], required=True)
    ap.add_argument("--kill-pid", type=int, required=True)
    ap.add_argument("--target", action="append", required=True, help="survivor base URL")
    ap.add_argument("--body-bytes", type=int, default=512)
    ap.add_argument("--login", help="USER:PASSWORD (gridesk)")
    ap.add_argument("--run", type=int, default=1)
    ap.add_argument("--expect-exe", help="refuse to kill unless /proc/PID/exe is this file")
    ap.add_argument("--leader-id", type=int, help="member index of the killed leader (recorded)")
    ap.add_argument("--interval-ms", type=float, default=5.0)
    ap.add_argument("--timeout-ms", type=float, default=300.0)
    ap.add_argument("--max-inflight", type=int, default=64)
    ap.add_argument("--deadline-s", type=float, default=30.0)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    res = {"system": a.system, "run": a.run, "killed_pid": a.kill_pid, "killed_member": a.leader_id,
           "targets": a.target,
           "interval_ms": a.interval_ms, "timeout_ms": a.timeout_ms}
    try:
        if a.expect_exe and not runs(a.kill_pid, a.expect_exe):
            raise RuntimeError("pid %d is not %s; not killing it" % (a.kill_pid, a.expect_exe))
        token = None
        if a.login:
            user, _, pw = a.login.partition(":")
            token = login(a.target[0], user, pw)
        writer = Writer(a.system, a.body_bytes, a.run, token)
        precheck(writer, a.target)
        first, attempts, skipped, statuses, errors = measure(
            writer, a.target, a.kill_pid, a.interval_ms / 1000.0, a.timeout_ms / 1000.0,
            a.deadline_s, a.max_inflight)
        res.update(attempts=attempts, skipped_full=skipped, statuses=statuses, errors=errors)
        if first:
            res.update(ok=True, failover_ms=round(first["ack_ms"], 1),
                       first_ack_sent_ms=round(first["sent_ms"], 1),
                       first_ack_target=first["target"], first_ack_attempt=first["attempt"])
        else:
            res.update(ok=False, error="no acknowledged write within %.0f s" % a.deadline_s)
    except Exception as e:  # recorded in the result file, reported in the table
        res.update(ok=False, error=str(e))
    res["killed"] = bool(killed)
    with open(a.out, "w") as f:
        json.dump(res, f)
        f.write("\n")
    print("failover-result " + json.dumps(res))
    return 0 if res.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
