#!/usr/bin/env bash
# Knowledge-base bulk import through a real cluster: `gridesk kb import` of
# the generated 100k-article corpus into a fresh 3-node loopback cluster
# (every node applies and indexes every article), timed end to end, with the
# leader changes and slow applies the nodes logged.  Writes the result into
# docs/BENCHMARKS.md between the kb:import markers.  Run by bench/kb/run.sh
# after the search benchmark (KB_IMPORT=0 skips it) or on its own.
#
# Environment (optional): KB_IMPORT_SIZE=100000 (a corpus bench/kb/gen.py
# made under bench/out/kb/<size>/), KB_WRITE_DOC=auto|1|0,
# BENCH_TMPDIR=$TMPDIR|/tmp.
set -uo pipefail

KB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$KB_DIR/../.." && pwd)
SIZE=${KB_IMPORT_SIZE:-100000}
CORPUS=$ROOT/bench/out/kb/$SIZE/articles.jsonl
DOC=$ROOT/docs/BENCHMARKS.md
log() { printf '%s bench-kb-import: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

[ -f "$CORPUS" ] || python3 "$KB_DIR/gen.py" --size "$SIZE" --out "$ROOT/bench/out/kb/$SIZE" \
  || { log "cannot generate $CORPUS"; exit 1; }
[ -x "$ROOT/bin/grideskd" ] && [ -x "$ROOT/bin/gridesk" ] || { log "build first (make all)"; exit 1; }

WORK=$(mktemp -d "${BENCH_TMPDIR:-${TMPDIR:-/tmp}}/gridesk-kbimport.XXXXXX")
cp "$ROOT/bin/grideskd" "$WORK/grideskd"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT

read -r -a PORTS < <(python3 -c 'import socket
ss=[socket.socket() for _ in range(6)]
[s.bind(("127.0.0.1",0)) for s in ss]
print(" ".join(str(s.getsockname()[1]) for s in ss))')
CLUSTER="1=127.0.0.1:${PORTS[3]},2=127.0.0.1:${PORTS[4]},3=127.0.0.1:${PORTS[5]}"
for i in 1 2 3; do
  GRIDESK_ADMIN_PASSWORD=benchpw "$WORK/grideskd" --id "$i" --data "$WORK/n$i" \
    --http "127.0.0.1:${PORTS[$((i - 1))]}" --raft "127.0.0.1:${PORTS[$((i + 2))]}" \
    --cluster "$CLUSTER" >"$WORK/n$i.log" 2>&1 &
  PIDS+=($!)
done
export XDG_CONFIG_HOME=$WORK/cli GRIDESK_NODE=http://127.0.0.1:${PORTS[1]}
for _ in $(seq 100); do
  GRIDESK_PASSWORD=benchpw "$ROOT/bin/gridesk" login --user admin >/dev/null 2>&1 && break
  sleep 0.2
done

log "importing $SIZE articles ($(du -m "$CORPUS" | cut -f1) MB) through a follower-or-leader node"
t0=$(date +%s.%N)
"$ROOT/bin/gridesk" --json kb import "$CORPUS" >"$WORK/out.json" 2>"$WORK/err.txt"
rc=$?
t1=$(date +%s.%N)
secs=$(python3 -c "print(round($t1 - $t0, 1))")
imported=$(python3 -c "import json; print(json.load(open('$WORK/out.json'))['imported'])" 2>/dev/null || echo 0)
rejected=$(python3 -c "import json; print(len(json.load(open('$WORK/out.json'))['rejected']))" 2>/dev/null || echo "?")
leaders=$(cat "$WORK"/n*.log | grep -c 'msg="became leader"')
slow=$(cat "$WORK"/n*.log | grep -c 'msg="slow apply"')
maxapply=$(curl -s "$GRIDESK_NODE/metrics" | awk '/^gridesk_apply_seconds_max/ {printf "%.0f", $2 * 1000}')
log "rc=$rc imported=$imported rejected=$rejected in $secs s; leader elections: $leaders; slow applies: $slow; longest apply on node 2: ${maxapply} ms"

ok=0
[ "$rc" = 0 ] && [ "$imported" = "$SIZE" ] && ok=1
write=${KB_WRITE_DOC:-auto}
if [ "$write" = 1 ] || { [ "$write" = auto ] && [ "$ok" = 1 ]; }; then
  python3 - "$DOC" "$SIZE" "$secs" "$imported" "$rejected" "$leaders" "$slow" "$maxapply" <<'EOF'
import datetime, os, platform, sys
doc, size, secs, imported, rejected, leaders, slow, maxapply = sys.argv[1:]
rate = int(int(imported) / float(secs)) if float(secs) > 0 else 0
block = f"""<!-- kb:import begin -->
Run of {datetime.datetime.utcnow().strftime('%Y-%m-%dT%H:%M:%SZ')} (UTC) on {platform.node()}, {os.cpu_count()} cores,
`bench/kb/import.sh`: `gridesk kb import` of the {int(size):,}-article corpus into a fresh
3-node cluster on 127.0.0.1 (all three nodes on the same 2 cores; each one
applies and indexes every article).

| measure | value |
|---|---:|
| articles imported / rejected | {int(imported):,} / {rejected} |
| time, end to end (s) | {secs} |
| articles per second | {rate:,} |
| leader elections (the first one included) | {leaders} |
| applies of 100 ms or more, all nodes | {slow} |
| longest apply on the node the CLI talked to (ms) | {maxapply} |
<!-- kb:import end -->"""
text = open(doc, encoding="utf-8").read()
b, e = "<!-- kb:import begin -->", "<!-- kb:import end -->"
if b in text and e in text:
    text = text[:text.index(b)] + block + text[text.index(e) + len(e):]
else:
    text = text.rstrip("\n") + "\n\n### Bulk import through the cluster\n\n" + block + "\n"
open(doc, "w", encoding="utf-8").write(text)
EOF
  log "docs/BENCHMARKS.md updated (kb:import)"
fi
[ "$ok" = 1 ]
