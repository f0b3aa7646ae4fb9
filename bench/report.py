#!/usr/bin/env python3
"""Report for bench/run.sh: reads bench/out/<run>/, prints the comparison table,
writes <run>/report.md and, with --doc, the results section of docs/BENCHMARKS.md
(between the bench:results markers; the rest of that file is left alone)."""
import argparse
import datetime
import glob
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys

BEGIN = "<!-- bench:results:begin -->"
END = "<!-- bench:results:end -->"


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def run(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine(data_dir, loadavg):
    cpu = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "unknown"
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal:"):
                mem = "%.1f GiB" % (int(line.split()[1]) / 1024 / 1024)
                break
    except OSError:
        pass
    probe = data_dir if os.path.isdir(data_dir) else os.path.dirname(data_dir) or "/"
    while not os.path.isdir(probe) and probe != "/":
        probe = os.path.dirname(probe)
    du = shutil.disk_usage(probe)
    fstype = run(["stat", "-f", "-c", "%T", probe]) or "unknown"
    # The mount's real type (stat -f says ext2/ext3 for ext4).
    best = ""
    try:
        for line in open("/proc/mounts"):
            dev, mnt, typ = line.split()[:3]
            if (probe + "/").startswith(mnt.rstrip("/") + "/") and len(mnt) >= len(best):
                best, fstype = mnt, "%s (%s on %s)" % (typ, dev, mnt)
    except OSError:
        pass
    return {
        "CPU": cpu,
        "cores (online)": str(os.cpu_count()),
        "memory": mem,
        "kernel": "%s %s" % (platform.system(), platform.release()),
        "disk free (data dirs)": "%.1f GiB free of %.1f GiB at %s" % (
            du.free / 2**30, du.total / 2**30, os.path.dirname(data_dir.rstrip("/")) or "/"),
        "filesystem (data dirs)": fstype,
        "load average at start (1/5/15 min)": loadavg,
    }


def versions(root, etcd, wrk):
    v = {}
    ev = run([etcd, "--version"]).splitlines()
    v["etcd"] = "; ".join(l.strip() for l in ev if l.startswith(("etcd Version", "Go Version"))) or "not found"
    v["wrk"] = (run([wrk, "-v"]).splitlines() or ["not found"])[0].split("Copyright")[0].strip()
    for pkg in ("raft", "rocksdb", "libuv", "jansson", "yajl"):
        v["lib" + pkg if pkg == "raft" else pkg] = run(["pkg-config", "--modversion", pkg]) or "not found"
    rev = run(["git", "-C", root, "rev-parse", "HEAD"]) or "unknown"
    dirty = run(["git", "-C", root, "status", "--porcelain"])
    v["gridesk (git rev)"] = rev + (" + uncommitted changes" if dirty else "")
    v["python3 (failover probe)"] = platform.python_version()
    return v


def fmt_num(x, nd=0):
    if x is None:
        return "n/a"
    return ("{:,.%df}" % nd).format(x)


def ratio(g, e):
    if g is None or e is None or e == 0:
        return "n/a"
    return "%.2f" % (g / e)


def collect(out, system):
    """wrk and meta: clients -> [round results, by round]."""
    d = os.path.join(out, system)
    res = {"status": load(os.path.join(d, "status.json")), "wrk": {}, "meta": {}, "failover": []}
    runs = []
    for p in glob.glob(os.path.join(d, "wrk-c*.json")):
        # wrk-cC-rR.json; wrk-cC.json (one round) from older runs
        m = re.search(r"wrk-c(\d+)(?:-r(\d+))?\.json$", p)
        if m:
            runs.append((int(m.group(1)), int(m.group(2) or 1), p))
    for c, r, p in sorted(runs):
        w = load(p)
        if w is None:
            continue
        meta = load(p[:-len(".json")] + ".meta.json") or {}
        meta.setdefault("round", r)
        res["wrk"].setdefault(c, []).append(w)
        res["meta"].setdefault(c, []).append(meta)
    for p in sorted(glob.glob(os.path.join(d, "failover-*.json")),
                    key=lambda p: int(re.search(r"(\d+)\.json$", p).group(1))):
        r = load(p)
        if r is not None:
            res["failover"].append(r)
    try:
        res["version"] = open(os.path.join(d, "version.txt")).read().strip()
    except OSError:
        res["version"] = ""
    return res


def median_of(ws, f):
    vals = [f(w) for w in ws or []]
    return statistics.median(vals) if vals else None


def measures(sysres, clients):
    """measure key -> value: the median over the rounds."""
    vals = {}
    for c in clients:
        ws = sysres["wrk"].get(c)
        vals[("tput", c)] = median_of(ws, lambda w: w["rps_ok"])
        vals[("p50", c)] = median_of(ws, lambda w: w["lat_p50_us"] / 1000.0)
        vals[("p99", c)] = median_of(ws, lambda w: w["lat_p99_us"] / 1000.0)
    fo = [r for r in sysres["failover"] if r.get("ok")]
    times = [r["failover_ms"] for r in fo]
    vals["fo_med"] = statistics.median(times) if times else None
    vals["fo_max"] = max(times) if times else None
    vals["fo_n"] = len(times)
    return vals


def round_ratios(res, c, kind):
    """Per round: gridesk's value / etcd's value of the same round."""
    key = {"tput": "rps_ok", "p50": "lat_p50_us", "p99": "lat_p99_us"}[kind]
    g = {m.get("round"): w[key] for w, m in zip(res["gridesk"]["wrk"].get(c, []), res["gridesk"]["meta"].get(c, []))}
    e = {m.get("round"): w[key] for w, m in zip(res["etcd"]["wrk"].get(c, []), res["etcd"]["meta"].get(c, []))}
    return [(r, g[r] / e[r]) for r in sorted(set(g) & set(e)) if e[r]]


def label(key, nruns):
    if key == "fo_med":
        return "failover: kill -9 leader → first acked write, median of %s (ms; lower is better)" % nruns
    if key == "fo_max":
        return "failover: kill -9 leader → first acked write, max of %s (ms; lower is better)" % nruns
    kind, c = key
    cw = "%d client%s" % (c, "" if c == 1 else "s")
    return {
        "tput": "throughput, %s (acked writes/s; higher is better)" % cw,
        "p50": "latency p50, %s (ms; lower is better)" % cw,
        "p99": "latency p99, %s (ms; lower is better)" % cw,
    }[kind]


def build(args):
    systems = args.systems.split()
    res = {s: collect(args.out, s) for s in ("gridesk", "etcd")}
    clients = sorted(set(res["gridesk"]["wrk"]) | set(res["etcd"]["wrk"]) |
                     {int(c) for c in args.clients.split()})
    vals = {s: measures(res[s], clients) for s in ("gridesk", "etcd")}
    nruns = max(len(res["gridesk"]["failover"]), len(res["etcd"]["failover"])) or 0
    nrounds = max([len(v) for s in ("gridesk", "etcd") for v in res[s]["wrk"].values()] or [0])

    rows = []
    for c in clients:
        for kind in ("tput", "p50", "p99"):
            g, e = vals["gridesk"][(kind, c)], vals["etcd"][(kind, c)]
            nd = 0 if kind == "tput" else 2
            rows.append((label((kind, c), nruns), fmt_num(g, nd), fmt_num(e, nd), ratio(g, e)))
    for key in ("fo_med", "fo_max"):
        g, e = vals["gridesk"][key], vals["etcd"][key]
        rows.append((label(key, nruns), fmt_num(g, 0), fmt_num(e, 0), ratio(g, e)))

    # Plain-text table for the terminal.
    hdr = ("measure", "gridesk", "etcd", "ratio gridesk/etcd")
    widths = [max(len(hdr[i]), *(len(r[i]) for r in rows)) for i in range(4)]
    line = "  ".join("-" * w for w in widths)
    text = ["  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(hdr, widths))), line]
    for r in rows:
        text.append("  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(r, widths))))

    # Markdown.
    md = []
    md.append("Results of the run that started %s (UTC), written by `bench/report.py`." % args.start)
    md.append("")
    md.append("Ratio = gridesk ÷ etcd. For throughput a ratio above 1 means gridesk is better; "
              "for latency and failover time a ratio below 1 means gridesk is better.")
    md.append("")
    md.append("| measure | gridesk | etcd | ratio gridesk/etcd |")
    md.append("|---|---:|---:|---:|")
    for r in rows:
        md.append("| %s | %s | %s | %s |" % r)
    md.append("")
    if nrounds > 1:
        md.append("Throughput and latency are the median over %d rounds; in each round both systems ran on fresh "
                  "clusters, one after the other, in alternating order. Each round's own ratio:" % nrounds)
        md.append("")
        md.append("| measure | " + " | ".join("round %d" % r for r in range(1, nrounds + 1)) + " |")
        md.append("|---|" + "---:|" * nrounds)
        for c in clients:
            for kind in ("tput", "p99"):
                rr = dict(round_ratios(res, c, kind))
                md.append("| %s | %s |" % (label((kind, c), nruns).split(" (")[0],
                                           " | ".join("%.2f" % rr[r] if r in rr else "–"
                                                      for r in range(1, nrounds + 1))))
        md.append("")
        text.append("")
        text.append("median of %d rounds; per-round throughput ratios: %s" % (nrounds, "; ".join(
            "%d clients %s" % (c, " ".join("%.2f" % v for _, v in round_ratios(res, c, "tput")))
            for c in clients)))

    notes = []
    for s in ("gridesk", "etcd"):
        st = res[s]["status"]
        if s not in systems:
            notes.append("%s: not run (BENCH_SYSTEMS)." % s)
        elif st is None:
            notes.append("%s: no status recorded (run interrupted?)." % s)
        elif not st.get("ok"):
            notes.append("%s: **not measured (or incomplete)**: %s" % (s, st.get("error")))
        for c in clients:
            for w, m in zip(res[s]["wrk"].get(c, []), res[s]["meta"].get(c, [])):
                rn = "%s, %d clients, round %s" % (s, c, m.get("round"))
                errs = {k[4:]: w[k] for k in ("err_status", "err_timeout", "err_connect", "err_read", "err_write")
                        if w[k]}
                if errs:
                    notes.append("%s: errors %s (not counted as acked writes)." % (rn, errs))
                if m.get("leader_after") not in (None, m.get("leader_before")):
                    notes.append("%s: leader changed during the run (m%s → m%s)." % (
                        rn, m.get("leader_before"), m.get("leader_after")))
                ks = m.get("keys_stored")
                if isinstance(ks, int) and not (w["ok"] <= ks <= w["generated"]):
                    notes.append("%s: %d keys stored but %d puts acked / %d sent: keys not unique?" % (
                        rn, ks, w["ok"], w["generated"]))
        try:
            notes.extend("%s: %s" % (s, l.strip()) for l in open(os.path.join(args.out, s, "notes.txt")) if l.strip())
        except OSError:
            pass
        bad = [r for r in res[s]["failover"] if not r.get("ok")]
        for r in bad:
            notes.append("%s failover run %s failed: %s" % (s, r.get("run"), r.get("error")))
    # Only the load at the start says whether something else was running: by
    # the end the benchmark's own nodes and wrk have raised it (3-4 on 2 cores).
    try:
        load1 = float(args.loadavg.split()[0])
        if load1 > 0.5 * (os.cpu_count() or 1):
            notes.append("the machine was busy with other work (1-minute load average %.2f at the start, "
                         "on %d cores): the numbers are less reliable than on an idle machine."
                         % (load1, os.cpu_count() or 1))
    except (ValueError, IndexError):
        pass
    if notes:
        md.append("Notes on this run:")
        md.append("")
        md.extend("- " + n for n in notes)
        md.append("")

    # Details.
    md.append("<details><summary>Details: every wrk run and failover round</summary>")
    md.append("")
    md.append("| system | clients | round | wrk threads | seconds | acked | acked/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | errors | keys stored |")
    md.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|")
    for s in ("gridesk", "etcd"):
        for c in clients:
            for w, m in zip(res[s]["wrk"].get(c, []), res[s]["meta"].get(c, [])):
                errs = sum(w[k] for k in ("err_status", "err_timeout", "err_connect", "err_read", "err_write"))
                md.append("| %s | %d | %s | %s | %s | %s | %s | %.2f | %.2f | %.2f | %.2f | %.2f | %d | %s |" % (
                    s, c, m.get("round", "?"), m.get("threads", "?"), m.get("seconds", "?"), fmt_num(w["ok"]),
                    fmt_num(w["rps_ok"]), w["lat_p50_us"] / 1000, w["lat_p90_us"] / 1000, w["lat_p99_us"] / 1000,
                    w["lat_p999_us"] / 1000, w["lat_max_us"] / 1000, errs,
                    fmt_num(m.get("keys_stored")) if isinstance(m.get("keys_stored"), int) else "–"))
    md.append("")
    md.append("| system | round | killed | first ack (ms after kill) | that write sent at (ms) | attempts | responses | client errors |")
    md.append("|---|---:|---|---:|---:|---:|---|---|")
    for s in ("gridesk", "etcd"):
        for r in res[s]["failover"]:
            md.append("| %s | %s | m%s | %s | %s | %s | %s | %s |" % (
                s, r.get("run"), r.get("killed_member"),
                fmt_num(r.get("failover_ms"), 1) if r.get("ok") else "failed: " + str(r.get("error"))[:80],
                fmt_num(r.get("first_ack_sent_ms"), 1), r.get("attempts", "–"),
                json.dumps(r.get("statuses", {}), sort_keys=True).replace("|", "/"),
                json.dumps(r.get("errors", {}), sort_keys=True).replace("|", "/")))
    md.append("")
    md.append("</details>")
    md.append("")

    md.append("Machine:")
    md.append("")
    for k, v in machine(args.data_dir, args.loadavg).items():
        md.append("- %s: %s" % (k, v))
    md.append("")
    md.append("Versions:")
    md.append("")
    vs = versions(args.root, args.etcd, args.wrk)
    if res["gridesk"]["version"]:  # as it was when the gridesk half started
        vs["gridesk (git rev)"] = res["gridesk"]["version"].replace("gridesk ", "", 1)
    for k, v in vs.items():
        md.append("- %s: %s" % (k, v))
    md.append("")
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    md.append("Date: %s (started %s). Raw results: `bench/out/%s/` (not committed)." % (
        now, args.start, os.path.basename(args.out.rstrip("/"))))
    md.append("")
    md.append("Command:")
    md.append("")
    md.append("```")
    md.append(args.command)
    md.append("```")
    return "\n".join(text), "\n".join(md) + "\n", notes


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--command", required=True)
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--start", required=True)
    ap.add_argument("--systems", default="gridesk etcd")
    ap.add_argument("--clients", default="1 16 64")
    ap.add_argument("--loadavg", default="unknown")
    ap.add_argument("--wrk", default="/usr/bin/wrk")
    ap.add_argument("--etcd", default="/usr/bin/etcd")
    ap.add_argument("--root", required=True)
    ap.add_argument("--doc")
    a = ap.parse_args()

    text, md, notes = build(a)
    print()
    print("Throughput: higher is better. Latency and failover: lower is better. Ratio = gridesk/etcd.")
    print(text)
    for n in notes:
        print("note: " + n.replace("**", ""))
    print()
    with open(os.path.join(a.out, "report.md"), "w") as f:
        f.write(md)
    if a.doc:
        try:
            cur = open(a.doc).read()
        except OSError:
            cur = "# Benchmarks\n\n"
        block = BEGIN + "\n" + md + END
        if BEGIN in cur and END in cur:
            new = cur[:cur.index(BEGIN)] + block + cur[cur.index(END) + len(END):]
        else:
            new = cur.rstrip("\n") + "\n\n## Results\n\n" + block + "\n"
        with open(a.doc, "w") as f:
            f.write(new)
        print("wrote %s" % a.doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
