#!/usr/bin/env python3
"""Small helpers for bench/*.sh (python3 stdlib only; no throughput measured here).

  util.py freeports N            print N free TCP ports on 127.0.0.1, one a line
  util.py json PATH [PATH...]    read JSON on stdin, print the value at each dotted
                                 PATH (one a line; "null" when missing)
  util.py etcd-leader ENDPOINTS  read `etcdctl endpoint status -w json` on stdin and
                                 print the 1-based index (in ENDPOINTS, comma list)
                                 of the leader, if all answering members agree
  util.py gridesk-leader         read one line per node "idx json" on stdin (its
                                 /healthz body) and print the leader id, if all
                                 three name it and it says role "leader"
  util.py etcd-count             read a /v3/kv/range count_only answer on stdin and
                                 print the count (the gateway omits a zero count)
  util.py ticket-body BYTES      print the ticket JSON body template of exactly BYTES
                                 bytes (same builder as bench/wrk_common.lua)
"""
import json
import socket
import sys


def freeports(n):
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        for s in socks:
            print(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()


def dig(obj, path):
    for part in path.split("."):
        if isinstance(obj, list):
            try:
                obj = obj[int(part)]
            except (ValueError, IndexError):
                return None
        elif isinstance(obj, dict):
            obj = obj.get(part)
        else:
            return None
        if obj is None:
            return None
    return obj


def cmd_json(paths):
    try:
        obj = json.load(sys.stdin)
    except ValueError:
        obj = None
    for p in paths:
        v = dig(obj, p)
        if v is None:
            print("null")
        elif isinstance(v, (dict, list)):
            print(json.dumps(v))
        elif isinstance(v, bool):
            print("true" if v else "false")
        else:
            print(v)


def etcd_leader(endpoints):
    eps = [e.strip().rstrip("/") for e in endpoints.split(",")]
    try:
        data = json.load(sys.stdin)
    except ValueError:
        return 1
    leaders = set()
    by_member = {}
    for st in data:
        s = st.get("Status") or {}
        lead = s.get("leader")
        mid = (s.get("header") or {}).get("member_id")
        if not lead:
            return 1
        leaders.add(lead)
        by_member[mid] = st.get("Endpoint", "").rstrip("/")
    if len(leaders) != 1:
        return 1
    ep = by_member.get(leaders.pop())
    if ep in eps:
        print(eps.index(ep) + 1)
        return 0
    return 1


def gridesk_leader():
    """Every node answered, each names the same leader, and that node says it
    is the leader: print its id."""
    seen = {}
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        idx, _, body = line.partition(" ")
        try:
            seen[int(idx)] = json.loads(body)
        except ValueError:
            return 1
    if len(seen) < 3:
        return 1
    leaders = set()
    for h in seen.values():
        lid = h.get("leader")
        if lid is None:
            return 1
        try:
            leaders.add(int(lid))
        except (TypeError, ValueError):
            return 1
    if len(leaders) != 1:
        return 1
    lid = leaders.pop()
    if lid not in seen or seen[lid].get("role") != "leader":
        return 1
    print(lid)
    return 0


def ticket_body(size, tid=0, n=0):
    # Must stay byte-identical to body_template() in bench/wrk_common.lua.
    head = ('{"customer":"C0001","class":"fault_repair","channel":"hotline",'
            '"summary":"bench ticket t%03d-%010d","description":"' % (tid, n))
    tail = '"}'
    pad = size - len(head) - len(tail)
    if pad < 1:
        raise SystemExit("body size %d too small (min %d)" % (size, len(head) + len(tail) + 1))
    filler = "Meter reading disputed; customer reports outage on feeder. "
    desc = (filler * (pad // len(filler) + 1))[:pad]
    return head + desc + tail


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    cmd = argv[1]
    if cmd == "freeports":
        freeports(int(argv[2]))
        return 0
    if cmd == "json":
        cmd_json(argv[2:])
        return 0
    if cmd == "etcd-leader":
        return etcd_leader(argv[2])
    if cmd == "gridesk-leader":
        return gridesk_leader()
    if cmd == "etcd-count":
        try:
            obj = json.load(sys.stdin)
        except ValueError:
            return 1
        if not isinstance(obj, dict) or "header" not in obj:
            return 1
        print(int(obj.get("count", 0)))
        return 0
    if cmd == "ticket-body":
        sys.stdout.write(ticket_body(int(argv[2])))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
