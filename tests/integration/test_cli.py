"""The gridesk CLI against a real cluster: login saves a token under
$XDG_CONFIG_HOME, ticket create/show/list/event and cluster status work with
--json output that parses, and exit codes are the documented ones: 1 when the
server refuses (409), 4 without credentials, 2 for bad usage."""

import json
import os
import stat

from harness import GRIDESK, PASSWORD, Cluster, make_temp_dir, run_prog, t, wait_until

TIMEOUT = 60


class Cli:
    def __init__(self, node_url=None):
        self.home = make_temp_dir("gridesk-cli-")
        self.xdg = os.path.join(self.home, "config")
        self.env = {"HOME": self.home, "XDG_CONFIG_HOME": self.xdg}
        self.node_url = node_url

    def run(self, *args, env=None, node=True):
        assert os.path.exists(GRIDESK), "gridesk not found at %s" % GRIDESK
        argv = [GRIDESK]
        if node and self.node_url:
            argv += ["--node", self.node_url]
        argv += list(args)
        e = dict(self.env)
        e.pop("GRIDESK_NODE", None)
        if env:
            e.update(env)
        p = run_prog(argv, env=e, timeout=t(40), cwd=self.home)
        return p

    def ok_json(self, *args, **kw):
        p = self.run(*(list(args) + ["--json"]), **kw)
        assert p.returncode == 0, "gridesk %s: rc=%d stderr=%r stdout=%r" % (
            " ".join(args), p.returncode, p.stderr, p.stdout[:500])
        try:
            return json.loads(p.stdout)
        except ValueError:
            raise AssertionError("gridesk %s --json: stdout is not JSON: %r" % (
                " ".join(args), p.stdout[:500]))


def _items(v):
    if isinstance(v, dict) and "items" in v:
        return v["items"]
    assert isinstance(v, list), "ticket list --json: neither {items} nor a list: %r" % v
    return v


def test_cli_login_tickets_cluster_status_and_exit_codes():
    with Cluster(3) as c:
        follower = c.followers()[0]
        cli = Cli("http://" + follower.http)

        # Without a token: exit 4.
        p = cli.run("ticket", "list")
        assert p.returncode == 4, "ticket list without login: rc=%d stderr=%r" % (p.returncode, p.stderr)
        assert p.stderr.strip(), "no message on stderr for a missing token"
        # Wrong password: exit 4 too, and nothing saved.
        p = cli.run("login", "--user", "admin", env={"GRIDESK_PASSWORD": "wrong"})
        assert p.returncode == 4, "login with a wrong password: rc=%d %r" % (p.returncode, p.stderr)
        assert not os.path.exists(os.path.join(cli.xdg, "gridesk", "token")), \
            "a failed login left a token file"

        # Login: password from the environment, token saved 0600 under XDG_CONFIG_HOME.
        p = cli.run("login", "--user", "admin", env={"GRIDESK_PASSWORD": PASSWORD})
        assert p.returncode == 0, "login: rc=%d stderr=%r" % (p.returncode, p.stderr)
        tok_path = os.path.join(cli.xdg, "gridesk", "token")
        assert os.path.exists(tok_path), "login saved no token at %s" % tok_path
        mode = stat.S_IMODE(os.stat(tok_path).st_mode)
        assert mode & 0o077 == 0, "token file mode %o is readable by others" % mode
        with open(tok_path) as f:
            saved = f.read().strip()
        assert PASSWORD not in saved and saved, "token file content odd: %r" % saved
        st, b = c.node(1).request("GET", "/v1/tickets?limit=1", token=saved)
        assert st == 200, "token saved by the CLI refused by node 1: %s %r" % (st, b)

        # ticket create -> JSON ticket, readable through the API on every node.
        tk = cli.ok_json("ticket", "create", "--customer", "CLI-1", "--class", "fault_repair",
                         "--channel", "hotline", "--summary", "变压器异响",
                         "--description", "customer reports humming transformer")
        assert isinstance(tk, dict) and tk.get("id"), "ticket create --json: %r" % tk
        assert tk["status"] == "new" and tk["customer"] == "CLI-1" and tk["class"] == "fault_repair", tk
        assert tk["summary"] == "变压器异响", tk
        for nd in c.nodes:
            wait_until(lambda nd=nd: c.request(nd, "GET", "/v1/tickets/" + tk["id"])[0] == 200,
                       t(10), what="CLI-created ticket on node %d" % nd.id)

        # The node saved at login is used when --node is absent.
        shown = cli.ok_json("ticket", "show", tk["id"], node=False)
        assert shown["id"] == tk["id"] and shown["summary"] == tk["summary"], shown

        # Human output (no --json) works and mentions the id.
        p = cli.run("ticket", "show", tk["id"])
        assert p.returncode == 0 and tk["id"] in p.stdout, (p.returncode, p.stdout, p.stderr)

        # A second ticket; list with a filter.
        tk2 = cli.ok_json("ticket", "create", "--customer", "CLI-2", "--class", "complaint",
                          "--channel", "web", "--summary", "s2", "--description", "d2")
        # Reads are local to the follower and may lag a moment behind the commit.
        ids = wait_until(lambda: (lambda ids: ids if tk2["id"] in ids else None)(
            [x["id"] for x in _items(cli.ok_json("ticket", "list"))]), t(10),
            what="ticket list showing the second ticket")
        assert tk["id"] in ids, "ticket list: %r" % ids
        only1 = _items(cli.ok_json("ticket", "list", "--customer", "CLI-1"))
        assert [x["id"] for x in only1] == [tk["id"]], "ticket list --customer CLI-1: %r" % only1

        # Events: accept, comment, status.
        ev = cli.ok_json("ticket", "event", tk["id"], "accept", "--owner", "agent7")
        assert ev["status"] == "accepted" and ev["owner"] == "agent7", ev
        ev = cli.ok_json("ticket", "event", tk["id"], "comment", "--text", "已派单")
        assert ev["events"][-1]["type"] == "comment", ev
        ev = cli.ok_json("ticket", "event", tk["id"], "status", "--to", "in_progress")
        assert ev["status"] == "in_progress", ev

        # A refused transition (409): exit 1 with the server's message.
        p = cli.run("ticket", "event", tk["id"], "accept", "--owner", "agent8")
        assert p.returncode == 1, "accept on an owned ticket: rc=%d stderr=%r" % (p.returncode, p.stderr)
        assert p.stderr.strip(), "no message for a refused transition"
        p = cli.run("ticket", "event", tk2["id"], "status", "--to", "resolved")
        assert p.returncode == 1, "new -> resolved: rc=%d stderr=%r" % (p.returncode, p.stderr)
        # Unknown ticket (404): exit 1 as well.
        p = cli.run("ticket", "show", "GD-20200101-9999")
        assert p.returncode == 1, "show a missing ticket: rc=%d stderr=%r" % (p.returncode, p.stderr)

        # cluster status --json: the server's status object.
        stt = cli.ok_json("cluster", "status")
        assert isinstance(stt, dict) and sorted(int(m["id"]) for m in stt["members"]) == [1, 2, 3], stt
        p = cli.run("cluster", "status")
        assert p.returncode == 0 and p.stdout.strip(), (p.returncode, p.stderr)

        # GRIDESK_TOKEN overrides: a bad one -> exit 4.
        p = cli.run("ticket", "list", env={"GRIDESK_TOKEN": "bogus"})
        assert p.returncode == 4, "bad GRIDESK_TOKEN: rc=%d stderr=%r" % (p.returncode, p.stderr)

        # Bad usage: exit 2.
        for args in (["ticket", "create", "--customer", "x"], ["ticket", "show"],
                     ["ticket", "list", "--no-such-option"], ["frobnicate"]):
            p = cli.run(*args)
            assert p.returncode == 2, "gridesk %s: rc=%d (want 2) stderr=%r" % (
                " ".join(args), p.returncode, p.stderr)

        # No node listening: exit 3.
        p = cli.run("ticket", "list", "--node", "http://127.0.0.1:1", node=False)
        assert p.returncode == 3, "unreachable node: rc=%d stderr=%r" % (p.returncode, p.stderr)
