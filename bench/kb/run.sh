#!/usr/bin/env bash
# Knowledge-base search: gridesk's engine vs SQLite FTS5, in one process
# (`make bench-kb`; `make bench` runs it too, from bench/run.sh).
#
# For each size: bench/kb/gen.py writes (or reuses, when its inputs did not
# change) a synthetic utility knowledge base and its labelled queries into
# bench/out/kb/<size>/; build/bench/kbbench indexes it in gridesk and in FTS5
# (trigram, unicode61, trigram over OpenCC-folded text) and runs the queries;
# bench/kb/report.py prints the table and writes docs/BENCHMARKS.md between
# the kb:results markers.
#
# Environment (all optional):
#   KB_SIZES="10000 100000"   corpus sizes (articles)
#   KB_ROUNDS=20              measured rounds over the whole query set
#                             (BENCH_QUICK=1: 5)
#   KB_WARMUP=1               unmeasured rounds first
#   KB_BUDGET_S=90            an engine stops after 3 rounds once its measured
#                             queries took this many seconds (BENCH_QUICK=1: 20)
#   KB_ENGINES="gridesk,fts5-trigram,fts5-unicode61,fts5-trigram-t2s"
#   KB_WRITE_DOC=auto         auto: write docs/BENCHMARKS.md only if every size
#                             ran cleanly; 1: always; 0: never
#   KB_BIN=build/bench/kbbench
#   BENCH_TMPDIR=$TMPDIR|/tmp where the index directories go
#   BENCH_KEEP=0              1: keep the index directories
#   KB_IMPORT=1               0: skip the bulk import through a 3-node cluster
#                             (bench/kb/import.sh, KB_IMPORT_SIZE=100000)
# Results: bench/out/kb/run-<timestamp>/ (JSON per size, logs, report.md).
set -uo pipefail

KB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$KB_DIR/../.." && pwd)

COMMAND=""
while IFS= read -r kv; do
  COMMAND+="${kv%%=*}=$(printf '%q' "${kv#*=}") "
done < <(env | grep -E '^(KB|BENCH)_[A-Z_]+=' | grep -v '^KB_FROM_BENCH=' | sort)
if [ -n "${MAKELEVEL:-}" ] && [ "${KB_FROM_BENCH:-0}" = 1 ]; then COMMAND+="make bench"
elif [ -n "${MAKELEVEL:-}" ]; then COMMAND+="make bench-kb"
else COMMAND+="./bench/kb/run.sh"; fi

if [ "${BENCH_QUICK:-0}" = 1 ]; then
  KB_ROUNDS=${KB_ROUNDS:-5}
  KB_BUDGET_S=${KB_BUDGET_S:-20}
else
  KB_ROUNDS=${KB_ROUNDS:-20}
  KB_BUDGET_S=${KB_BUDGET_S:-90}
fi
KB_SIZES=${KB_SIZES:-"10000 100000"}
KB_WARMUP=${KB_WARMUP:-1}
KB_ENGINES=${KB_ENGINES:-gridesk,fts5-trigram,fts5-unicode61,fts5-trigram-t2s}
KB_WRITE_DOC=${KB_WRITE_DOC:-auto}
BENCH_KEEP=${BENCH_KEEP:-0}

for v in KB_ROUNDS KB_WARMUP KB_BUDGET_S; do
  [[ ${!v} =~ ^[0-9]+$ ]] || { echo "bench-kb: $v must be a whole number (got '${!v}')" >&2; exit 2; }
done
for s in $KB_SIZES; do
  [[ $s =~ ^[1-9][0-9]*$ ]] || { echo "bench-kb: KB_SIZES: bad value '$s'" >&2; exit 2; }
done

log() { printf '%s bench-kb: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# The benchmark binary: build it unless one was named.
if [ -z "${KB_BIN:-}" ]; then
  KB_BIN=$ROOT/build/bench/kbbench
  make -C "$ROOT" --no-print-directory build/bench/kbbench >&2 \
    || { echo "bench-kb: building build/bench/kbbench failed" >&2; exit 2; }
fi
[ -x "$KB_BIN" ] || { echo "bench-kb: $KB_BIN not found (make build/bench/kbbench)" >&2; exit 2; }
# Which engine sources this binary was built from (the report checks again at the end).
SEARCH_SHA=$(python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); import report; print(report.search_digest(sys.argv[2]))' "$KB_DIR" "$ROOT")
BIN_BUILT=$(date -u -r "$KB_BIN" +%Y-%m-%dT%H:%M:%SZ)

OUT_BASE=$ROOT/bench/out/kb
OUT=$OUT_BASE/run-$(date +%Y%m%d-%H%M%S)
mkdir -p "$OUT" || exit 2
WORK_TMP=$(mktemp -d "${BENCH_TMPDIR:-${TMPDIR:-/tmp}}/gridesk-kbbench.XXXXXX") || exit 2
# Every size runs a copy taken now, so a rebuild during the run changes nothing.
cp "$KB_BIN" "$WORK_TMP/kbbench" || exit 2
RUN_BIN=$WORK_TMP/kbbench
KB_PID=""
cleanup() {
  if [ -n "$KB_PID" ]; then kill -TERM "$KB_PID" 2>/dev/null; wait "$KB_PID" 2>/dev/null; fi
  if [ "$BENCH_KEEP" = 1 ]; then log "index directories kept in $WORK_TMP"; else rm -rf "$WORK_TMP"; fi
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

START_DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
START_LOAD=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)
log "output: $OUT; indexes: $WORK_TMP; sizes: $KB_SIZES; $KB_ROUNDS rounds; engines: $KB_ENGINES"

all_ok=1
results=()
for size in $KB_SIZES; do
  cdir=$OUT_BASE/$size
  log "corpus $size: bench/kb/gen.py (reused when unchanged)"
  if ! python3 "$KB_DIR/gen.py" --size "$size" --out "$cdir" --if-stale 2>"$OUT/gen-$size.log"; then
    cat "$OUT/gen-$size.log" >&2
    log "corpus $size: generation failed"
    all_ok=0
    continue
  fi
  cat "$OUT/gen-$size.log" >&2
  log "corpus $size: kbbench"
  mkdir -p "$WORK_TMP/$size"
  # In the background so that an interrupt reaches it through cleanup.
  "$RUN_BIN" --corpus "$cdir/articles.jsonl" --labels "$cdir/labels.json" --tmp "$WORK_TMP/$size" \
    --rounds "$KB_ROUNDS" --warmup "$KB_WARMUP" --budget-s "$KB_BUDGET_S" --engines "$KB_ENGINES" \
    >"$OUT/kb-$size.json" 2>"$OUT/kb-$size.log" &
  KB_PID=$!
  wait "$KB_PID"
  rc=$?
  KB_PID=""
  tail -n 4 "$OUT/kb-$size.log" >&2
  if [ "$rc" -ne 0 ]; then
    log "corpus $size: kbbench failed (exit $rc; log: $OUT/kb-$size.log)"
    all_ok=0
    [ -s "$OUT/kb-$size.json" ] || continue
  fi
  results+=(--result "$size=$OUT/kb-$size.json" --labels "$size=$cdir/labels.json" --stats "$size=$cdir/stats.json")
done

write_doc=0
case $KB_WRITE_DOC in
  1) write_doc=1 ;;
  auto) [ "$all_ok" = 1 ] && write_doc=1 ;;
esac
doc_args=()
[ "$write_doc" = 1 ] && doc_args=(--doc "$ROOT/docs/BENCHMARKS.md")
if [ "${#results[@]}" -gt 0 ]; then
  python3 "$KB_DIR/report.py" --out "$OUT" --command "$COMMAND" --data-dir "$WORK_TMP" \
    --start "$START_DATE" --loadavg "$START_LOAD" --root "$ROOT" --bin-built "$BIN_BUILT" --search-sha "$SEARCH_SHA" \
    "${results[@]}" "${doc_args[@]}" || all_ok=0
else
  log "no results"
  all_ok=0
fi
if [ "$write_doc" = 0 ]; then
  log "docs/BENCHMARKS.md not written (KB_WRITE_DOC=$KB_WRITE_DOC, all sizes ok: $all_ok); report in $OUT/report.md"
fi
# Bulk import through a real 3-node cluster (KB_IMPORT=0 skips it).
if [ "${KB_IMPORT:-1}" = 1 ]; then
  "$KB_DIR/import.sh" || all_ok=0
fi
[ "$all_ok" = 1 ]
