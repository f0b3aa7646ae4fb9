"""Integration-test harness: real grideskd processes on 127.0.0.1.

Starts nodes on free ports with their own temp dirs, keeps each Popen, signals
only the processes it started (by PID), and kills whatever is still running at
exit.  Python 3 standard library only.

Environment:
  GRIDESK_BIN    directory holding grideskd and gridesk (default /work/main/bin)
  GRIDESK_KEEP=1 keep temp dirs (data + logs) after the run
  GRIDESK_SLOW   multiplier for every timeout (default 2 when GRIDESK_BIN
                 looks like a sanitizer build, else 1)
"""

import atexit
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BIN_DIR = os.path.abspath(os.environ.get("GRIDESK_BIN", os.path.join(REPO, "bin")))
GRIDESKD = os.path.join(BIN_DIR, "grideskd")
GRIDESK = os.path.join(BIN_DIR, "gridesk")
KEEP = os.environ.get("GRIDESK_KEEP") == "1"
SLOW = float(os.environ.get("GRIDESK_SLOW",
                            "2" if "san" in os.path.basename(BIN_DIR) else "1"))
PASSWORD = "it-admin-pw-7Qx"
ADMIN = "admin"

CLASSES = ["complaint", "fault_repair", "service_request", "consultation",
           "suggestion", "opinion", "praise"]
CHANNELS = ["hotline", "hall", "web", "app", "wechat", "sms", "field"]

# Sanitizer builds: a report makes the process exit with a code of its own,
# and the runner fails any test whose node logs hold a report.
ASAN_OPTIONS = "detect_leaks=0:abort_on_error=0:exitcode=86"
UBSAN_OPTIONS = "print_stacktrace=1:halt_on_error=1:exitcode=87"
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "ERROR: UndefinedBehaviorSanitizer", "WARNING: AddressSanitizer")


def sanitizer_report(text):
    """The first sanitizer report line in text, or None."""
    for line in (text or "").splitlines():
        if any(m in line for m in SANITIZER_MARKERS):
            return line.strip()
    return None


_lock = threading.Lock()
_all_nodes = []        # every Node ever created in this process
_temp_dirs = []        # every temp dir we made
_ports_given = set()   # never hand out the same port twice in one run


def t(seconds):
    """A timeout scaled for slow (sanitizer) builds."""
    return seconds * SLOW


# ---------------------------------------------------------------- resources

def free_port():
    """A TCP port that was free on 127.0.0.1 a moment ago (bind :0, release)."""
    for _ in range(50):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        finally:
            s.close()
        with _lock:
            if port not in _ports_given:
                _ports_given.add(port)
                return port
    raise RuntimeError("could not find a free port")


def make_temp_dir(prefix="gridesk-it-"):
    d = tempfile.mkdtemp(prefix=prefix)
    with _lock:
        _temp_dirs.append(d)
    return d


def _cleanup_at_exit():
    kill_all()
    if not KEEP:
        for d in _temp_dirs:
            shutil.rmtree(d, ignore_errors=True)
    elif _temp_dirs:
        sys.stderr.write("GRIDESK_KEEP=1: kept %s\n" % " ".join(_temp_dirs))


atexit.register(_cleanup_at_exit)


def kill_all():
    """SIGKILL every grideskd this process started that is still running."""
    with _lock:
        nodes = list(_all_nodes)
    for n in nodes:
        n.kill9(quiet=True)


def live_nodes():
    with _lock:
        return [n for n in _all_nodes if n.running()]


def nodes_since(mark):
    """Nodes created after mark (= len of the registry at some earlier time)."""
    with _lock:
        return list(_all_nodes[mark:])


def node_mark():
    with _lock:
        return len(_all_nodes)


# ---------------------------------------------------------------- HTTP

def http_request(addr, method, path, body=None, token=None, raw_body=None,
                 headers=None, timeout=None):
    """One HTTP request on a fresh connection.

    addr is "host:port".  body is JSON-encoded; raw_body (bytes/str) is sent
    as is.  Returns (status, parsed JSON or text).  Network errors raise
    OSError (ConnectionRefusedError, socket.timeout, ...)."""
    host, port = addr.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port),
                                      timeout=timeout if timeout else t(15))
    try:
        hdrs = {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        if raw_body is not None:
            data = raw_body.encode() if isinstance(raw_body, str) else raw_body
            hdrs.setdefault("Content-Type", "application/json")
        if token:
            hdrs["Authorization"] = "Bearer " + token
        if headers:
            hdrs.update(headers)
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        raw = resp.read()
        return resp.status, parse_body(raw, resp.getheader("Content-Type", ""))
    except http.client.HTTPException as e:
        # Malformed/short response: treat as a network-level failure.
        raise ConnectionError("bad HTTP response: %r" % (e,))
    finally:
        conn.close()


def parse_body(raw, ctype=""):
    text = raw.decode("utf-8", "replace")
    if text.strip() and ("json" in ctype or text.lstrip()[:1] in "{["):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def strip_applied(obj):
    """A ticket (or list of tickets) without its applied_index field."""
    if isinstance(obj, list):
        return [strip_applied(x) for x in obj]
    if isinstance(obj, dict):
        return {k: v for k, v in obj.items() if k != "applied_index"}
    return obj


class Fatal(AssertionError):
    """Raised inside a wait_until predicate: stop waiting, fail now."""


def wait_until(pred, timeout, interval=0.1, what=None):
    """Poll pred() until it returns a truthy value (returned) or timeout
    seconds pass (AssertionError).  Exceptions from pred count as 'not yet'.
    Bounded by time and by count."""
    deadline = time.monotonic() + timeout
    last_exc = None
    last_val = None
    max_iters = int(timeout / max(interval, 0.01)) + 10
    for _ in range(max_iters):
        try:
            v = pred()
            if v:
                return v
            last_val = v
        except Fatal:
            raise
        except Exception as e:  # noqa: BLE001 -- polling: any failure is "not yet"
            last_exc = e
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    msg = "timed out after %.1fs waiting for %s" % (
        timeout, what or getattr(pred, "__name__", "condition"))
    if last_exc is not None:
        msg += "; last error: %r" % (last_exc,)
    elif last_val is not None:
        msg += "; last value: %r" % (last_val,)
    raise AssertionError(msg)


def leader_id_of(v):
    """Normalize a 'leader' field (int, numeric string, {"id":..}, null)."""
    if isinstance(v, dict):
        v = v.get("id")
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, int):
        return v if v > 0 else None
    if isinstance(v, str) and v.strip().isdigit():
        i = int(v)
        return i if i > 0 else None
    return None


def tail(path, lines=40):
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024))
            data = f.read().decode("utf-8", "replace")
        return "\n".join(data.splitlines()[-lines:])
    except OSError as e:
        return "(no log: %s)" % e


# ---------------------------------------------------------------- Node

class Node:
    """One grideskd process with its own data dir and log file."""

    def __init__(self, node_id, base_dir, http_port=None, raft_port=None,
                 args=None, env=None):
        self.id = node_id
        self.dir = os.path.join(base_dir, "node%d" % node_id)
        os.makedirs(self.dir, exist_ok=True)
        self.data = os.path.join(self.dir, "data")
        self.log_path = os.path.join(self.dir, "grideskd.log")
        self.http_port = http_port or free_port()
        self.raft_port = raft_port or free_port()
        self.extra_args = list(args or [])
        self.env = dict(env or {})
        self.proc = None
        self.starts = 0
        with _lock:
            _all_nodes.append(self)

    @property
    def http(self):
        return "127.0.0.1:%d" % self.http_port

    @property
    def raft(self):
        return "127.0.0.1:%d" % self.raft_port

    def argv(self, node_id=None):
        return [GRIDESKD, "--id", str(self.id if node_id is None else node_id),
                "--data", self.data, "--http", self.http,
                "--raft", self.raft] + self.extra_args

    def full_env(self):
        env = dict(os.environ)
        env.pop("GRIDESK_TOKEN", None)
        env["GRIDESK_ADMIN_PASSWORD"] = PASSWORD
        # Sanitizer builds: fail loudly, no leak noise at every exit.
        env.setdefault("ASAN_OPTIONS", ASAN_OPTIONS)
        env.setdefault("UBSAN_OPTIONS", UBSAN_OPTIONS)
        env.update(self.env)
        # A value of None in the node's env removes the variable.
        return {k: v for k, v in env.items() if v is not None}

    def metric(self, name, timeout=None):
        """Value of an unlabelled metric from /metrics (None if absent)."""
        st, text = self.request("GET", "/metrics", timeout=timeout or t(5))
        assert st == 200, "/metrics on node %d: %s %r" % (self.id, st, text)
        for line in str(text).splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == name:
                return float(parts[1])
        return None

    def start(self):
        if not os.path.exists(GRIDESKD):
            raise AssertionError("grideskd not found at %s (set GRIDESK_BIN)" % GRIDESKD)
        assert not self.running(), "node %d already running" % self.id
        self.starts += 1
        log = open(self.log_path, "ab")
        try:
            log.write(("=== harness: start #%d: %s\n" % (
                self.starts, " ".join(self.argv()))).encode())
            log.flush()
            self.proc = subprocess.Popen(
                self.argv(), stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, env=self.full_env(), cwd=self.dir,
                start_new_session=True)
        finally:
            log.close()
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def pid(self):
        return self.proc.pid if self.proc else None

    def _note(self, text):
        try:
            with open(self.log_path, "ab") as f:
                f.write(("=== harness: %s\n" % text).encode())
        except OSError:
            pass

    def stop(self, timeout=None):
        """SIGTERM and wait; SIGKILL if it does not exit in time.
        Returns the exit code (negative = killed by signal)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self._note("SIGTERM pid %d" % self.proc.pid)
            try:
                os.kill(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=timeout or t(20))
            except subprocess.TimeoutExpired:
                self._note("did not exit after SIGTERM; SIGKILL")
                self.kill9(quiet=True)
                raise AssertionError("node %d did not exit within %.0fs of SIGTERM"
                                     % (self.id, timeout or t(20)))
        rc = self.proc.returncode
        self._note("exited rc=%s" % rc)
        return rc

    def term(self):
        """Send SIGTERM and return at once (see wait())."""
        if self.running():
            self._note("SIGTERM pid %d" % self.proc.pid)
            try:
                os.kill(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def wait(self, timeout):
        """Wait for exit; returns the exit code, or None if still running."""
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        self._note("exited rc=%s" % rc)
        return rc

    def kill9(self, quiet=False):
        if self.proc is None or self.proc.poll() is not None:
            return
        if not quiet:
            self._note("SIGKILL pid %d" % self.proc.pid)
        try:
            os.kill(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass

    def restart(self):
        if self.running():
            self.stop()
        return self.start()

    def new_sanitizer_reports(self):
        """Sanitizer report lines written to the log since the last call."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(getattr(self, "_scanned", 0))
                data = f.read()
                self._scanned = f.tell()
        except OSError:
            return []
        return [ln.strip() for ln in data.decode("utf-8", "replace").splitlines()
                if any(m in ln for m in SANITIZER_MARKERS)]

    def log_tail(self, lines=40):
        return tail(self.log_path, lines)

    def request(self, method, path, body=None, token=None, raw_body=None,
                headers=None, timeout=None):
        return http_request(self.http, method, path, body=body, token=token,
                            raw_body=raw_body, headers=headers, timeout=timeout)

    def health(self, timeout=None):
        """Parsed /healthz body if it answers 200, else None."""
        try:
            st, b = self.request("GET", "/healthz", timeout=timeout or t(5))
        except OSError:
            return None
        return b if st == 200 and isinstance(b, dict) else None

    def __repr__(self):
        return "<node %d http=%s raft=%s pid=%s>" % (self.id, self.http, self.raft, self.pid())


# ---------------------------------------------------------------- Cluster

_DEFAULT = object()


class Cluster:
    """n bootstrap nodes; more can join with add_node().

    Keyword flags become grideskd flags: snapshot_threshold=64 ->
    --snapshot-threshold 64; election_timeout, max_body, region likewise.
    A flag given as None is left out (grideskd's default).

    Clusters run with 8 MiB Raft log segments unless a test says otherwise:
    grideskd zero-fills every new segment, and libraft prepares three at
    start, so the default 64 MiB cost each node start ~200 MB of disk
    writes and the first write ~0.3 s of waiting, dozens of times over a
    suite.  test_segment_size_default_and_flag checks the default size."""

    def __init__(self, n=3, start=True, **flags):
        self.base = make_temp_dir()
        self.flags = []
        flags.setdefault("segment_size", 8)
        for k, v in flags.items():
            if v is not None:
                self.flags += ["--" + k.replace("_", "-"), str(v)]
        self.nodes = [Node(i, self.base, args=None) for i in range(1, n + 1)]
        members = ",".join("%d=%s" % (nd.id, nd.raft) for nd in self.nodes)
        for nd in self.nodes:
            nd.extra_args = ["--cluster", members] + self.flags
        self.token = None
        if start:
            self.start()

    # context manager: always stop the processes
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self):
        for nd in self.nodes:
            if nd.running():
                try:
                    nd.stop(timeout=t(10))
                except AssertionError:
                    pass

    def node(self, node_id):
        for nd in self.nodes:
            if nd.id == node_id:
                return nd
        raise KeyError(node_id)

    def start(self, timeout=None):
        for nd in self.nodes:
            nd.start()
        self.wait_ready(timeout=timeout)
        self.login()
        return self

    def wait_ready(self, nodes=None, timeout=None):
        """Every (running) node answers /healthz, and they all know the same leader."""
        nodes = nodes or [nd for nd in self.nodes if nd.running()]

        def ready():
            leaders = set()
            for nd in nodes:
                if not nd.running():
                    raise Fatal("node %d exited with rc=%s while waiting for it to be ready; "
                                "log tail:\n%s" % (nd.id, nd.proc.returncode, nd.log_tail(15)))
                h = nd.health(timeout=t(3))
                if h is None:
                    return False
                lid = leader_id_of(h.get("leader"))
                if lid is None:
                    return False
                leaders.add(lid)
            return len(leaders) == 1

        wait_until(ready, timeout or t(45), interval=0.2,
                   what="healthz + agreed leader on nodes %s" % [n.id for n in nodes])

    def login(self, node=None):
        node = node or self.running_nodes()[0]
        st, b = wait_until(lambda: _ok_or_none(node.request(
            "POST", "/v1/login", {"user": ADMIN, "password": PASSWORD})),
            t(20), interval=0.2, what="login on node %d" % node.id)
        self.token = b["token"]
        return self.token

    def running_nodes(self):
        return [nd for nd in self.nodes if nd.running()]

    def leader(self, timeout=None):
        """The running node whose /healthz says role=leader (waits for one)."""
        def find():
            found = []
            for nd in self.running_nodes():
                h = nd.health(timeout=t(3))
                if h and h.get("role") == "leader":
                    found.append(nd)
            return found[0] if len(found) == 1 else None
        return wait_until(find, timeout or t(30), interval=0.1, what="a single leader")

    def followers(self):
        ld = self.leader()
        return [nd for nd in self.running_nodes() if nd is not ld]

    def request(self, node, method, path, body=None, token=_DEFAULT,
                raw_body=None, headers=None, timeout=None):
        if token is _DEFAULT:
            token = self.token
        return node.request(method, path, body=body, token=token,
                            raw_body=raw_body, headers=headers, timeout=timeout)

    def write(self, node, method, path, body, expect=(200, 201), timeout=None):
        """A write that retries while the cluster has no leader (503) or the
        node is not listening yet (connection refused: nothing was sent).
        Returns (status, body) of the first other answer."""
        deadline = time.monotonic() + (timeout or t(30))
        last = None
        for _ in range(10000):
            try:
                st, b = self.request(node, method, path, body)
                if st != 503:
                    if expect and st not in expect:
                        raise AssertionError("%s %s on node %d: expected %s, got %s %r"
                                             % (method, path, node.id, expect, st, b))
                    return st, b
                last = (st, b)
            except ConnectionRefusedError as e:
                last = e
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)
        raise AssertionError("%s %s on node %d: no answer but 503/refused for %.0fs: %r"
                             % (method, path, node.id, timeout or t(30), last))

    def create_ticket(self, node, **fields):
        body = ticket_body(**fields)
        st, b = self.write(node, "POST", "/v1/tickets", body, expect=(201,))
        return b

    def list_all(self, node, params=None, limit=50, max_items=100000):
        return list_all(self, node, params, limit, max_items)

    def status(self, node):
        st, b = self.request(node, "GET", "/v1/cluster/status")
        assert st == 200, "cluster status on node %d: %s %r" % (node.id, st, b)
        return b

    def add_node(self, join_via, node_id=None, extra_env=None, start=True):
        """A new node that joins through join_via's HTTP address."""
        node_id = node_id or (max(nd.id for nd in self.nodes) + 1)
        nd = Node(node_id, self.base, env=extra_env)
        nd.extra_args = ["--join", join_via.http] + self.flags
        self.nodes.append(nd)
        if start:
            nd.start()
        return nd

    def log_tails(self, lines=40):
        return "\n".join("--- node %d (%s) ---\n%s" % (nd.id, nd.log_path, nd.log_tail(lines))
                         for nd in self.nodes)


def _ok_or_none(res):
    st, b = res
    return (st, b) if st == 200 and isinstance(b, dict) and b.get("token") else None


_seq = [0]


def ticket_body(**fields):
    with _lock:
        _seq[0] += 1
        n = _seq[0]
    body = {
        "customer": "C%05d" % (n % 7),
        "class": CLASSES[n % len(CLASSES)],
        "channel": CHANNELS[n % len(CHANNELS)],
        "summary": "summary %d 停电" % n,
        "description": "description of ticket %d: 表后线路故障" % n,
    }
    body.update(fields)
    return body


def list_all(cluster, node, params=None, limit=50, max_items=100000):
    """Every item of GET /v1/tickets?params, following next cursors.
    Asserts each page is well formed and the walk terminates."""
    from urllib.parse import urlencode
    items = []
    after = None
    max_pages = max_items // max(limit, 1) + 5
    for _ in range(max_pages):
        q = dict(params or {})
        q["limit"] = str(limit)
        if after is not None:
            q["after"] = after
        path = "/v1/tickets?" + urlencode(q)
        st, b = cluster.request(node, "GET", path)
        assert st == 200, "GET %s on node %d: %s %r" % (path, node.id, st, b)
        assert isinstance(b, dict) and isinstance(b.get("items"), list), \
            "GET %s: not {items:[...]}: %r" % (path, b)
        assert len(b["items"]) <= limit, "GET %s returned %d > limit items" % (path, len(b["items"]))
        items.extend(b["items"])
        after = b.get("next")
        if after is None:
            return items
        assert b["items"], "GET %s: empty page with a next cursor %r" % (path, after)
    raise AssertionError("listing on node %d did not end after %d pages" % (node.id, max_pages))


# ---------------------------------------------------------------- programs

def run_prog(argv, env=None, timeout=None, cwd=None, input_text=None):
    """Run a short-lived program; returns CompletedProcess (text)."""
    full = dict(os.environ)
    full.pop("GRIDESK_TOKEN", None)
    full.pop("GRIDESK_PASSWORD", None)
    full.setdefault("ASAN_OPTIONS", ASAN_OPTIONS)
    full.setdefault("UBSAN_OPTIONS", UBSAN_OPTIONS)
    if env:
        full.update(env)
    return subprocess.run(argv, env=full, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout or t(30), input=input_text,
                          stdin=None if input_text is not None else subprocess.DEVNULL)


def wait_same_listings(cluster, nodes, timeout, what="identical listings", limit=200):
    """Wait until the full ticket listings (minus applied_index) of nodes are
    identical; returns the listing.  On timeout the error says which node
    differs from the first and how (counts, missing and extra ids)."""
    last = {}

    def same():
        last.clear()
        for nd in nodes:
            if nd.proc is not None and not nd.running():
                raise Fatal("node %d exited with rc=%s; log tail:\n%s" % (
                    nd.id, nd.proc.returncode, nd.log_tail(15)))
        for nd in nodes:
            last[nd.id] = [strip_applied(x) for x in cluster.list_all(nd, limit=limit)]
        ref = last[nodes[0].id]
        return ref if all(last[nd.id] == ref for nd in nodes[1:]) else None
    try:
        return wait_until(same, timeout, interval=0.5, what=what)
    except AssertionError as e:
        if len(last) != len(nodes):
            raise
        ref = last[nodes[0].id]
        ref_ids = [x["id"] for x in ref]
        lines = [str(e), "  node %d: %d tickets" % (nodes[0].id, len(ref))]
        for nd in nodes[1:]:
            got = last[nd.id]
            ids = [x["id"] for x in got]
            missing = [i for i in ref_ids if i not in set(ids)]
            extra = [i for i in ids if i not in set(ref_ids)]
            changed = [x["id"] for x in got if x["id"] in set(ref_ids) and x not in ref]
            lines.append("  node %d: %d tickets; missing %d %r; extra %d %r; differing %d %r; "
                         "same order: %s" % (nd.id, len(got), len(missing), missing[:5], len(extra),
                                             extra[:5], len(changed), changed[:5],
                                             [i for i in ids if i in set(ref_ids)] ==
                                             [i for i in ref_ids if i in set(ids)]))
        raise AssertionError("\n".join(lines))


def wait_tickets_everywhere(cluster, nodes, tickets, timeout, what="tickets"):
    """Wait, with ONE deadline for all of them, until every node in nodes
    answers 200 for every ticket (dicts with "id", or ids).  Fails listing
    what is still missing where."""
    ids = [x["id"] if isinstance(x, dict) else x for x in tickets]
    pending = {(nd.id, tid) for nd in nodes for tid in ids}
    by_id = {nd.id: nd for nd in nodes}
    deadline = time.monotonic() + timeout
    for _ in range(100000):
        for key in sorted(pending):
            nid, tid = key
            try:
                st, _ = cluster.request(by_id[nid], "GET", "/v1/tickets/" + tid, timeout=t(5))
            except OSError:
                continue
            if st == 200:
                pending.discard(key)
        if not pending or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    if pending:
        where = {}
        for nid, tid in sorted(pending):
            where.setdefault(nid, []).append(tid)
        raise AssertionError("%s: after %.0fs still missing %s" % (
            what, timeout, "; ".join("node %d: %d, e.g. %r" % (nid, len(v), v[:5])
                                     for nid, v in sorted(where.items()))))
