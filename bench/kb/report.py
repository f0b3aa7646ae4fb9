#!/usr/bin/env python3
"""Report for bench/kb/run.sh: reads kbbench's JSON (one file per corpus
size), prints the comparison, writes <run>/report.md and, with --doc, the
knowledge-base section of docs/BENCHMARKS.md between the kb:results markers
(the rest of that file is left alone)."""
import argparse
import datetime
import hashlib
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys

BEGIN = "<!-- kb:results begin -->"
END = "<!-- kb:results end -->"

ENGINES = ["gridesk", "fts5-trigram", "fts5-unicode61", "fts5-trigram-t2s"]
LABEL = {
    "gridesk": "gridesk",
    "fts5-trigram": "FTS5 trigram",
    "fts5-unicode61": "FTS5 unicode61",
    "fts5-trigram-t2s": "FTS5 trigram + OpenCC t2s",
}
PLAIN_FTS5 = ["fts5-trigram", "fts5-unicode61"]

# The aims, checked at the largest size.
P99_AIM_MS = 5.0
RECALL_AIM = 0.95


def base_report():
    """bench/report.py, for its machine() description."""
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "report.py")
    spec = importlib.util.spec_from_file_location("bench_report", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def run(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def load(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def kv_args(items):
    out = {}
    for it in items or []:
        k, _, v = it.partition("=")
        out[int(k)] = v
    return out


def fmt(x, nd):
    if x is None:
        return "n/a"
    return ("{:,.%df}" % nd).format(x)


def ratio(g, f):
    if g is None or f is None or f == 0:
        return "n/a"
    r = g / f
    # Two significant digits below 0.1, so 0.0008 does not print as 0.00.
    return "%.2g" % r if 0 < r < 0.1 else "%.2f" % r


def best_plain(engs):
    """The plain FTS5 tokenizer with the best recall@5 (then the lower p99)."""
    c = [engs[n] for n in PLAIN_FTS5 if n in engs and engs[n].get("recall_at_5") is not None]
    if not c:
        return None
    return max(c, key=lambda e: (e["recall_at_5"], -(e["p99_ms"] or 1e9)))["name"]


def pctl(v, p):
    v = sorted(v)
    if not v:
        return None
    r = max(1, min(len(v), int(-(-p * len(v) // 1))))
    return v[r - 1]


def length_class(n):
    return "1 character" if n == 1 else "2 characters" if n == 2 else \
        "3–4 characters" if n <= 4 else "5–7 characters"


def class_rows(res, labels, names):
    """Per query class: recall@5 and p99 per engine."""
    meta = {q["q"]: q for q in labels["queries"]}
    groups = {}
    for q in res["per_query"]:
        m = meta.get(q["q"], {})
        for key in (length_class(len(q["q"])), "script: " + m.get("script", "?")):
            groups.setdefault(key, []).append(q)
    order = ["1 character", "2 characters", "3–4 characters", "5–7 characters",
             "script: simplified", "script: traditional", "script: latin", "script: mixed"]
    rows = []
    for key in order + sorted(k for k in groups if k not in order):
        qs = groups.get(key)
        if not qs:
            continue
        cells = []
        for n in names:
            rec, lat = [], []
            for q in qs:
                e = q["engines"].get(n)
                if e is None:
                    continue
                rel = q["relevant"]
                rec.append(sum(1 for r in rel if r in e["top"]) / len(rel) if rel else 0)
                lat.extend(e["lat_ms"])
            cells.append("%s / %s" % (fmt(statistics.mean(rec), 2) if rec else "n/a",
                                      fmt(pctl(lat, 0.99), 2) if lat else "n/a"))
        rows.append("| %s | %d | %s |" % (key, len(qs), " | ".join(cells)))
    return rows


def misses(res, name):
    out = []
    for q in res["per_query"]:
        e = q["engines"].get(name)
        if e is None:
            continue
        missing = [r for r in q["relevant"] if r not in e["top"]]
        if missing:
            out.append("`%s` → missing %s (top 5: %s)" % (
                q["q"], ", ".join(missing), ", ".join(e["top"]) or "nothing"))
    return out


def slowest(res, name, k=5):
    qs = []
    for q in res["per_query"]:
        e = q["engines"].get(name)
        if e and e["lat_ms"]:
            qs.append((statistics.median(e["lat_ms"]), max(e["lat_ms"]), q["q"]))
    qs.sort(reverse=True)
    return ", ".join("`%s` %.2f ms (max %.2f)" % (q, m, mx) for m, mx, q in qs[:k])


def search_digest(root):
    """sha256 of search/*.c and *.h (names and contents), 16 hex digits: the
    same computation as bench/kb/run.sh's, to tell which engine was measured."""
    h = hashlib.sha256()
    sd = os.path.join(root, "search")
    try:
        for n in sorted(os.listdir(sd)):
            if n.endswith((".c", ".h")):
                h.update(n.encode() + b"\0")
                with open(os.path.join(sd, n), "rb") as f:
                    h.update(f.read())
    except OSError:
        return ""
    return h.hexdigest()[:16]


def versions(root, bin_built, search_sha):
    v = {}
    v["SQLite"] = run(["pkg-config", "--modversion", "sqlite3"]) or "unknown"
    v["ICU"] = run(["pkg-config", "--modversion", "icu-uc"]) or "unknown"
    v["OpenCC"] = run(["pkg-config", "--modversion", "opencc"]) or "unknown"
    v["RocksDB"] = run(["pkg-config", "--modversion", "rocksdb"]) or "unknown"
    v["jansson"] = run(["pkg-config", "--modversion", "jansson"]) or "unknown"
    cc = run(["cc", "--version"]).splitlines()
    v["compiler"] = (cc[0] if cc else "unknown") + " (-O2, the Makefile's flags)"
    rev = run(["git", "-C", root, "rev-parse", "HEAD"]) or "unknown"
    dirty = run(["git", "-C", root, "status", "--porcelain"])
    v["gridesk (git rev)"] = rev + (" + uncommitted changes" if dirty else "")
    if search_sha:
        v["search/ sources when kbbench was built (sha256 of search/*.c *.h)"] = search_sha
    if bin_built:
        v["kbbench binary"] = "built %s (the run used a copy taken at its start)" % bin_built
    v["python3 (generator)"] = platform.python_version()
    return v


def build(a):
    results = kv_args(a.result)
    labels_p = kv_args(a.labels)
    stats_p = kv_args(a.stats)
    sizes = sorted(results)
    data = {s: load(results[s]) for s in sizes}
    sizes = [s for s in sizes if data[s]]
    md, text, notes = [], [], []
    md.append("Results of the run that started %s (UTC), written by `bench/kb/report.py`." % a.start)
    md.append("")
    md.append("Each ratio is gridesk ÷ FTS5. For time, size and latency, a ratio below 1 means "
              "gridesk is better. For recall@5 and MRR, a ratio above 1 means gridesk is better. "
              "\"Best plain FTS5\" is the plain tokenizer (trigram or unicode61) with the higher "
              "recall@5 at that size.")
    md.append("")
    verdict = []
    for s in sizes:
        d = data[s]
        engs = {e["name"]: e for e in d["engines"]}
        names = [n for n in ENGINES if n in engs]
        bp = best_plain(engs)
        st = load(stats_p.get(s, "")) or {}
        md.append("### %s articles" % fmt(s, 0))
        md.append("")
        md.append("Corpus: %.1f MB of JSON Lines, %.0f bytes per article on average, %.1f%% in "
                  "Traditional characters. %d labelled queries, %d measured rounds "
                  "(each preceded by %d warm-up round).%s" % (
                      d["corpus_bytes"] / 1e6, d["corpus_bytes"] / d["articles"],
                      100 * st.get("traditional_fraction", 0), d["queries"], d["rounds"],
                      d["warmup_rounds"],
                      "" if all(engs[n]["rounds"] == d["rounds"] for n in names) else
                      " An engine whose measured queries took more than %g s stopped after "
                      "3 rounds; the rounds row shows how many each one ran." % d["budget_s"]))
        md.append("")
        cols = [LABEL[n] for n in names]
        rcols = []
        if bp and "gridesk" in engs:
            rcols.append(("best plain FTS5 (%s)" % LABEL[bp].replace("FTS5 ", ""), bp))
        if "fts5-trigram-t2s" in engs and "gridesk" in engs:
            rcols.append(("FTS5 trigram + t2s", "fts5-trigram-t2s"))
        hdr = ["measure"] + cols + ["gridesk ÷ %s" % r[0] for r in rcols]
        md.append("| " + " | ".join(hdr) + " |")
        md.append("|---|" + "---:|" * (len(hdr) - 1))
        rows = [
            ("index build (s; lower is better)", "build_s", 1, 1),
            ("size on disk (MB; lower is better)", "disk_bytes", 1, 1e-6),
            ("… of which the index (MB of keys and values before compression)", "index_logical_bytes", 1, 1e-6),
            ("… and the stored articles (MB, same measure)", "content_logical_bytes", 1, 1e-6),
            ("query latency p50 (ms; lower is better)", "p50_ms", 3, 1),
            ("query latency p99 (ms; lower is better)", "p99_ms", 3, 1),
            ("recall@5 (higher is better)", "recall_at_5", 3, 1),
            ("MRR (higher is better)", "mrr", 3, 1),
        ]
        for label, key, nd, mul in rows:
            vals = [engs[n].get(key) for n in names]
            vals = [v * mul if v is not None else None for v in vals]
            rv = []
            for _, rn in rcols:
                g = engs["gridesk"].get(key)
                f = engs[rn].get(key)
                rv.append(ratio(g * mul if g is not None else None, f * mul if f is not None else None))
            md.append("| " + " | ".join([label] + [fmt(v, nd) for v in vals] + rv) + " |")
        md.append("| " + " | ".join(["measured rounds × queries"] + [
            "%d × %d" % (engs[n]["rounds"], d["queries"]) for n in names] + ["" for _ in rcols]) + " |")
        md.append("")
        text.append("%d articles:" % s)
        for n in names:
            e = engs[n]
            text.append("  %-18s build %7.2f s  disk %8.1f MB  p50 %8.3f ms  p99 %8.3f ms  recall@5 %.3f  MRR %.3f" % (
                n, e["build_s"], e["disk_bytes"] / 1e6, e["p50_ms"] or 0, e["p99_ms"] or 0,
                e["recall_at_5"] or 0, e["mrr"] or 0))
        for n in names:
            e = engs[n]
            if e.get("failed_queries"):
                notes.append("%s, %d articles: %d query calls failed (counted as no hits)." % (
                    LABEL[n], s, e["failed_queries"]))
            if e.get("unstable_results"):
                notes.append("%s, %d articles: %d query runs returned a different top 5 than the "
                             "first measured round." % (LABEL[n], s, e["unstable_results"]))
        if s == sizes[-1] and "gridesk" in engs:
            g = engs["gridesk"]
            verdict.append((s, g, engs.get(bp) if bp else None, engs.get("fts5-trigram-t2s")))

    # Aims of the issue, at the largest size.
    if verdict:
        s, g, b, t = verdict[0]

        def yes(ok):
            return "**met**" if ok else "**not met**"
        md.append("### Aims (at %s articles)" % fmt(s, 0))
        md.append("")
        md.append("- p99 under %g ms: %s (gridesk p99 %s ms)." % (
            P99_AIM_MS, yes(g["p99_ms"] is not None and g["p99_ms"] < P99_AIM_MS), fmt(g["p99_ms"], 3)))
        md.append("- recall@5 at least %.2f: %s (gridesk %s)." % (
            RECALL_AIM, yes(g["recall_at_5"] is not None and g["recall_at_5"] >= RECALL_AIM),
            fmt(g["recall_at_5"], 3)))
        if b:
            md.append("- both better than FTS5's best tokenizer (%s: p99 %s ms, recall@5 %s): "
                      "p99 %s, recall@5 %s." % (
                          LABEL[b["name"]], fmt(b["p99_ms"], 3), fmt(b["recall_at_5"], 3),
                          yes(g["p99_ms"] < b["p99_ms"]), yes(g["recall_at_5"] > b["recall_at_5"])))
        if t:
            md.append("- for reference, against FTS5 trigram over OpenCC-folded text (p99 %s ms, "
                      "recall@5 %s): p99 %s, recall@5 %s." % (
                          fmt(t["p99_ms"], 3), fmt(t["recall_at_5"], 3),
                          "better" if g["p99_ms"] < t["p99_ms"] else "worse",
                          "better" if g["recall_at_5"] > t["recall_at_5"] else
                          "equal" if g["recall_at_5"] == t["recall_at_5"] else "worse"))
        md.append("")

    # Per-class breakdown and misses at the largest size.
    if sizes:
        s = sizes[-1]
        d = data[s]
        engs = {e["name"]: e for e in d["engines"]}
        names = [n for n in ENGINES if n in engs]
        lab = load(labels_p.get(s, ""))
        if lab:
            md.append("**By query class** at %s articles: recall@5 / p99 latency in ms." % fmt(s, 0))
            md.append("")
            md.append("| queries | n | %s |" % " | ".join(LABEL[n] for n in names))
            md.append("|---|---:|%s" % ("---:|" * len(names)))
            md.extend(class_rows(d, lab, names))
            md.append("")
        md.append("Slowest queries at %s articles (median over the rounds):" % fmt(s, 0))
        md.append("")
        for n in names:
            md.append("- %s: %s" % (LABEL[n], slowest(d, n)))
        md.append("")
        md.append("<details><summary>Queries whose labelled articles were not all in the top 5 "
                  "(%s articles)</summary>" % fmt(s, 0))
        md.append("")
        for n in names:
            m = misses(d, n)
            md.append("%s (%d of %d queries)%s" % (LABEL[n], len(m), d["queries"], ":" if m else ": none."))
            md.append("")
            if m:
                md.extend("- " + x for x in m[:60])
                if len(m) > 60:
                    md.append("- … and %d more (see the raw JSON)" % (len(m) - 60))
                md.append("")
        md.append("</details>")
        md.append("")

    if a.search_sha and search_digest(a.root) != a.search_sha:
        notes.append("search/ changed while this run was going on: the numbers belong to the sources "
                     "hashed under Versions, not to the current ones.")
    try:
        load1 = float(a.loadavg.split()[0])
        end1 = float(open("/proc/loadavg").read().split()[0])
        if max(load1, end1) > 0.5 * (os.cpu_count() or 1):
            notes.append("the machine was busy with other work (1-minute load average %.2f at the start, "
                         "%.2f at the end, on %d cores): latencies are noisier than on an idle machine."
                         % (load1, end1, os.cpu_count() or 1))
    except (ValueError, IndexError, OSError):
        pass
    if notes:
        md.append("Notes on this run:")
        md.append("")
        md.extend("- " + n for n in notes)
        md.append("")

    md.append("Machine:")
    md.append("")
    try:
        for k, v in base_report().machine(a.data_dir, a.loadavg).items():
            if k.startswith("load average"):
                v = "%s; at the end %s" % (v, " ".join(open("/proc/loadavg").read().split()[:3]))
            md.append("- %s: %s" % (k, v))
    except Exception as ex:  # the description is a courtesy, not the result
        md.append("- (machine description failed: %s)" % ex)
    md.append("")
    md.append("Versions:")
    md.append("")
    for k, v in versions(a.root, a.bin_built, a.search_sha).items():
        md.append("- %s: %s" % (k, v))
    md.append("")
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    md.append("Date: %s (started %s). Raw results: `bench/out/kb/%s/` (not committed)." % (
        now, a.start, os.path.basename(a.out.rstrip("/"))))
    md.append("")
    md.append("Command:")
    md.append("")
    md.append("```")
    md.append(a.command)
    md.append("```")
    return "\n".join(text), "\n".join(md) + "\n", notes


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--command", required=True)
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--start", required=True)
    ap.add_argument("--loadavg", default="unknown")
    ap.add_argument("--root", required=True)
    ap.add_argument("--bin-built", default="", help="when the kbbench binary was built (UTC)")
    ap.add_argument("--search-sha", default="", help="search_digest() when kbbench was built")
    ap.add_argument("--result", action="append", help="SIZE=kbbench.json")
    ap.add_argument("--labels", action="append", help="SIZE=labels.json")
    ap.add_argument("--stats", action="append", help="SIZE=stats.json")
    ap.add_argument("--doc")
    a = ap.parse_args()

    text, md, notes = build(a)
    print()
    print(text)
    for n in notes:
        print("note: " + n)
    print()
    with open(os.path.join(a.out, "report.md"), "w", encoding="utf-8") as f:
        f.write(md)
    if a.doc:
        try:
            cur = open(a.doc, encoding="utf-8").read()
        except OSError:
            cur = "# Benchmarks\n\n"
        block = BEGIN + "\n" + md + END
        if BEGIN in cur and END in cur:
            new = cur[:cur.index(BEGIN)] + block + cur[cur.index(END) + len(END):]
        else:
            new = cur.rstrip("\n") + "\n\n## Knowledge-base search vs SQLite FTS5\n\n" + block + "\n"
        with open(a.doc, "w", encoding="utf-8") as f:
            f.write(new)
        print("wrote %s" % a.doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
