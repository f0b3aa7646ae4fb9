#!/usr/bin/env python3
"""Runs every tests/integration/test_*.py module's test_* functions.

    python3 tests/integration/run.py [FILTER ...]

A test runs when its "module.function" name contains any FILTER (all run when
none is given).  Each test has a timeout (function attribute `timeout`, else the
module's TIMEOUT, else 180 s; all scaled by GRIDESK_SLOW).  Prints
"PASS name (Xs)" or "FAIL name: reason" with the traceback and the tail of every
involved node's log, then exactly one line "N passed, N failed"; exits 1 if any
failed.  Modules may define setup_module()/teardown_module().
"""

import importlib
import inspect
import os
import signal
import sys
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import harness  # noqa: E402

DEFAULT_TIMEOUT = 180


def _sigterm(signum, frame):
    raise SystemExit(130)


def discover():
    """Module names of tests/integration/test_*.py, sorted."""
    return [f[:-3] for f in sorted(os.listdir(HERE))
            if f.startswith("test_") and f.endswith(".py")]


def module_tests(mod):
    fns = [(name, fn) for name, fn in vars(mod).items()
           if name.startswith("test_") and inspect.isfunction(fn)
           and fn.__module__ == mod.__name__]
    fns.sort(key=lambda nf: nf[1].__code__.co_firstlineno)
    return fns


def run_with_timeout(fn, timeout):
    """Runs fn in a thread.  Returns (exc_info or None, timed_out)."""
    result = {}

    def body():
        try:
            fn()
        except BaseException:  # noqa: BLE001 -- report everything, incl. SystemExit
            result["exc"] = sys.exc_info()

    th = threading.Thread(target=body, daemon=True)
    th.start()
    th.join(timeout)
    if th.is_alive():
        # Kill every node so the test's requests fail and its thread ends.
        harness.kill_all()
        th.join(harness.t(20))
        return None, True
    return result.get("exc"), False


def print_logs(mark):
    nodes = harness.nodes_since(mark)
    for nd in harness.live_nodes():
        if nd not in nodes:
            nodes.append(nd)
    for nd in nodes:
        print("  --- log tail: node %d pid %s (%s) ---" % (nd.id, nd.pid(), nd.log_path))
        for line in nd.log_tail(40).splitlines():
            print("  | " + line)


def main(argv):
    signal.signal(signal.SIGTERM, _sigterm)
    filters = [a for a in argv if not a.startswith("-")]
    passed = failed = 0
    t_suite = time.monotonic()
    print("grideskd: %s (GRIDESK_SLOW=%g)" % (harness.GRIDESKD, harness.SLOW), flush=True)
    for modname in discover():
        try:
            mod = importlib.import_module(modname)
        except Exception:  # noqa: BLE001
            print("FAIL %s: import error" % modname)
            traceback.print_exc(file=sys.stdout)
            failed += 1
            continue
        tests = [(n, f) for n, f in module_tests(mod)
                 if not filters or any(flt in "%s.%s" % (modname, n) for flt in filters)]
        if not tests:
            continue
        mod_mark = harness.node_mark()
        setup_err = None
        if hasattr(mod, "setup_module"):
            exc, timed_out = run_with_timeout(mod.setup_module,
                                              harness.t(getattr(mod, "SETUP_TIMEOUT", 120)))
            if exc or timed_out:
                setup_err = "setup_module timed out" if timed_out else \
                    "setup_module: %s" % "".join(traceback.format_exception_only(*exc[:2])).strip()
                if exc:
                    traceback.print_exception(*exc, file=sys.stdout)
                print_logs(mod_mark)
        for name, fn in tests:
            full = "%s.%s" % (modname, name)
            if setup_err:
                print("FAIL %s: %s" % (full, setup_err), flush=True)
                failed += 1
                continue
            timeout = harness.t(getattr(fn, "timeout", getattr(mod, "TIMEOUT", DEFAULT_TIMEOUT)))
            mark = harness.node_mark()
            t0 = time.monotonic()
            exc, timed_out = run_with_timeout(fn, timeout)
            dt = time.monotonic() - t0
            # A sanitizer report in any node's log fails the test, even if
            # the node kept answering.
            reports = []
            for nd in set(harness.nodes_since(mod_mark)):
                reports += ["node %d: %s" % (nd.id, r) for r in nd.new_sanitizer_reports()]
            if reports and not exc and not timed_out:
                try:
                    raise AssertionError("sanitizer report in node logs: %s" % "; ".join(reports[:3]))
                except AssertionError:
                    exc = sys.exc_info()
            if not exc and not timed_out:
                print("PASS %s (%.1fs)" % (full, dt), flush=True)
                passed += 1
            else:
                failed += 1
                if timed_out:
                    print("FAIL %s: timed out after %.0fs" % (full, timeout))
                else:
                    reason = "".join(traceback.format_exception_only(*exc[:2])).strip()
                    print("FAIL %s: %s (%.1fs)" % (full, reason.splitlines()[0] if reason else "?", dt))
                    traceback.print_exception(*exc, file=sys.stdout)
                print_logs(mark if not hasattr(mod, "setup_module") else mod_mark)
                sys.stdout.flush()
            # Nodes a test started and left running must not leak into the next.
            for nd in harness.nodes_since(mark):
                nd.kill9(quiet=True)
        if hasattr(mod, "teardown_module"):
            try:
                mod.teardown_module()
            except Exception:  # noqa: BLE001
                traceback.print_exc(file=sys.stdout)
        for nd in harness.nodes_since(mod_mark):
            nd.kill9(quiet=True)
    sys.stdout.flush()
    sys.stderr.write("suite time %.1fs\n" % (time.monotonic() - t_suite))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
