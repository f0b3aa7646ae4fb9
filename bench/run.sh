#!/usr/bin/env bash
# gridesk vs etcd 3.4 on 3-node loopback clusters, in one run (`make bench`).
#
# BENCH_ROUNDS rounds, the systems' order alternating from round to round; in
# each, per system: a fresh 3-member cluster on 127.0.0.1; wrk (Lua scripts)
# drives replicated writes at the leader's HTTP endpoint with 1, 16 and 64
# connections (gridesk: POST /v1/tickets; etcd: POST /v3/kv/put on its JSON
# gateway, a unique key per request, value of the same byte size as the ticket
# body).  Then, per system on a fresh cluster, BENCH_FAILOVER_RUNS times: kill -9 the leader and time the first
# acknowledged write through a survivor (bench/failover.py), restart the killed
# member, wait for the cluster to heal.  bench/report.py prints the table and
# writes docs/BENCHMARKS.md.
#
# Environment (all optional):
#   BENCH_SECONDS=10          measured seconds per wrk run (BENCH_QUICK=1: 3)
#   BENCH_ROUNDS=3            rounds per system, the order alternating (gridesk
#                             etcd, etcd gridesk, ...), each on fresh clusters;
#                             the table gives each measure's median over them
#                             (BENCH_QUICK=1: 1)
#   BENCH_QUICK=1             quick mode: 3 s runs, 1 s warm-up
#   BENCH_WARMUP_SECONDS=2    unmeasured wrk run before each measured one
#   BENCH_CLIENTS="1 16 64"   concurrent connections (wrk -c)
#   BENCH_WRK_THREADS=2       wrk threads (never more than the connections)
#   BENCH_WRK_TIMEOUT=5       wrk per-request timeout, seconds
#   BENCH_BODY_BYTES=512      ticket body bytes == etcd value bytes (pre-base64)
#   BENCH_FAILOVER_RUNS=5     kill -9 rounds per system; median and max reported
#   BENCH_FAILOVER_DEADLINE=30  seconds a failover round may take before it fails
#   BENCH_HEAL_TIMEOUT=30     seconds for the restarted member to rejoin before the
#                             next round (else: a fresh cluster, and a note)
#   BENCH_GRIDESK_FLAGS=""    extra grideskd flags (default: none, as a user would)
#   BENCH_SYSTEMS="gridesk etcd"
#   BENCH_KB=1                0: skip the knowledge-base part (bench/kb/run.sh)
#   BENCH_WRITE_DOC=auto      auto: write docs/BENCHMARKS.md only if every system
#                             ran cleanly; 1: always; 0: never
#   BENCH_TMPDIR=$TMPDIR|/tmp where the data dirs go (both systems, same disk)
#   BENCH_KEEP=0              1: keep the data dirs
#   BENCH_GRIDESKD, BENCH_ETCD, BENCH_ETCDCTL, BENCH_WRK: binaries
# Results: bench/out/<timestamp>/ (raw JSON, logs, report.md).
set -uo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)

# The exact command, for the report: BENCH_* as given, then the entry point.
COMMAND=""
while IFS= read -r kv; do
  COMMAND+="${kv%%=*}=$(printf '%q' "${kv#*=}") "
done < <(env | grep -E '^BENCH_[A-Z_]+=' | sort)
if [ -n "${MAKELEVEL:-}" ]; then COMMAND+="make bench"; else COMMAND+="./bench/run.sh"; fi

BENCH_QUICK=${BENCH_QUICK:-0}
if [ "$BENCH_QUICK" = 1 ]; then
  BENCH_SECONDS=${BENCH_SECONDS:-3}
  BENCH_WARMUP_SECONDS=${BENCH_WARMUP_SECONDS:-1}
  BENCH_ROUNDS=${BENCH_ROUNDS:-1}
else
  BENCH_SECONDS=${BENCH_SECONDS:-10}
  BENCH_WARMUP_SECONDS=${BENCH_WARMUP_SECONDS:-2}
fi
BENCH_ROUNDS=${BENCH_ROUNDS:-3}
BENCH_FAILOVER_RUNS=${BENCH_FAILOVER_RUNS:-5}
BENCH_CLIENTS=${BENCH_CLIENTS:-"1 16 64"}
BENCH_WRK_THREADS=${BENCH_WRK_THREADS:-2}
BENCH_WRK_TIMEOUT=${BENCH_WRK_TIMEOUT:-5}
BENCH_BODY_BYTES=${BENCH_BODY_BYTES:-512}
BENCH_FAILOVER_DEADLINE=${BENCH_FAILOVER_DEADLINE:-30}
BENCH_HEAL_TIMEOUT=${BENCH_HEAL_TIMEOUT:-30}
BENCH_SYSTEMS=${BENCH_SYSTEMS:-"gridesk etcd"}
BENCH_WRITE_DOC=${BENCH_WRITE_DOC:-auto}
BENCH_KEEP=${BENCH_KEEP:-0}
WRK=${BENCH_WRK:-/usr/bin/wrk}

for v in BENCH_SECONDS BENCH_WARMUP_SECONDS BENCH_ROUNDS BENCH_FAILOVER_RUNS BENCH_WRK_THREADS \
         BENCH_WRK_TIMEOUT BENCH_BODY_BYTES BENCH_FAILOVER_DEADLINE BENCH_HEAL_TIMEOUT; do
  [[ ${!v} =~ ^[0-9]+$ ]] || { echo "bench: $v must be a whole number (got '${!v}')" >&2; exit 2; }
done
[ "$BENCH_ROUNDS" -ge 1 ] || { echo "bench: BENCH_ROUNDS must be at least 1" >&2; exit 2; }
for c in $BENCH_CLIENTS; do
  [[ $c =~ ^[1-9][0-9]*$ ]] || { echo "bench: BENCH_CLIENTS: bad value '$c'" >&2; exit 2; }
done

# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"
# shellcheck source=bench/etcd.sh
. "$BENCH_DIR/etcd.sh"
# shellcheck source=bench/gridesk.sh
. "$BENCH_DIR/gridesk.sh"

for tool in "$WRK" curl python3 timeout; do
  command -v "$tool" >/dev/null || { echo "bench: $tool not found (make deps)" >&2; exit 2; }
done
python3 "$BENCH_DIR/util.py" ticket-body "$BENCH_BODY_BYTES" >/dev/null || exit 2

OUT="$ROOT/bench/out/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"
WORK_TMP=$(mktemp -d "${BENCH_TMPDIR:-${TMPDIR:-/tmp}}/gridesk-bench.XXXXXX") || exit 2

cleanup() {
  if [ -n "$WRK_PID" ]; then kill -TERM "$WRK_PID" 2>/dev/null; wait "$WRK_PID" 2>/dev/null; fi
  stop_members
  if [ "$BENCH_KEEP" = 1 ]; then log "data kept in $WORK_TMP"; else rm -rf "$WORK_TMP"; fi
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

# write_json FILE KEY=VALUE...: a flat JSON object (values: numbers stay numbers).
write_json() {
  local f=$1; shift
  python3 - "$f" "$@" <<'EOF'
import json, sys
out = {}
for kv in sys.argv[2:]:
    k, _, v = kv.partition("=")
    try:
        out[k] = json.loads(v)
    except ValueError:
        out[k] = v
json.dump(out, open(sys.argv[1], "w"))
EOF
}

# sys_fail SYSTEM MESSAGE: record why the system has no (complete) numbers.
sys_fail() {
  log "$1: $2"
  write_json "$OUT/$1/status.json" ok=false "error=$2"
  stop_members
}

# wrk_ok FILE: a run that got answers and no errors >399 or timeouts.
wrk_ok() {
  python3 - "$1" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
sys.exit(0 if r["ok"] > 0 and r["err_status"] == 0 and r["err_timeout"] == 0 else 1)
EOF
}

# diagnose SYSTEM URL: one request by curl with the same body, for the log.
diagnose() {
  local s=$1 url=$2 body
  body=$(python3 "$BENCH_DIR/util.py" ticket-body "$BENCH_BODY_BYTES")
  if [ "$s" = gridesk ]; then
    curl -s --max-time 5 -i -X POST -H 'Content-Type: application/json' \
      -H "Authorization: Bearer $BENCH_GRIDESK_TOKEN" -d "$body" "$url/v1/tickets" | head -c 2000
  else
    curl -s --max-time 5 -i -X POST -H 'Content-Type: application/json' \
      -d "{\"key\":\"$(printf 'bench/diag' | base64 -w0)\",\"value\":\"$(printf '%s' "$body" | base64 -w0)\"}" \
      "$url/v3/kv/put" | head -c 2000
  fi
}

# note SYSTEM TEXT: a line for the report's notes.
note() { log "$1: $2"; printf '%s\n' "$2" >>"$OUT/$1/notes.txt"; }

# failover_fail SYSTEM K TEXT: a round that measured nothing.
failover_fail() {
  log "$1: failover round $2: $3"
  write_json "$SYS_OUT/failover-$2.json" ok=false run="$2" "error=$3"
  return 1
}

# failover_round SYSTEM K
failover_round() {
  local s=$1 k=$2 leader pid i rc
  local -a targets=() login=()
  if ! wait_for "$BENCH_HEAL_TIMEOUT" "${s}_healthy"; then
    note "$s" "before failover round $k the cluster was not healthy within ${BENCH_HEAL_TIMEOUT} s (all 3 up, one leader named by all); $(heal_state "$s"); started a fresh cluster"
    stop_members
    "${s}_cluster_start" || { failover_fail "$s" "$k" "a fresh cluster did not start"; return 1; }
  fi
  leader=$("${s}_leader") || { failover_fail "$s" "$k" "no agreed leader"; return 1; }
  pid=${MEMBER_PID[$leader]}
  for i in 1 2 3; do [ "$i" = "$leader" ] || targets+=(--target "${MEMBER_URL[$i]}"); done
  [ "$s" = gridesk ] && login=(--login "admin:$GRIDESK_PASSWORD")
  log "$s: failover round $k: kill -9 leader m$leader (pid $pid)"
  timeout -k 5 $((BENCH_FAILOVER_DEADLINE + 40)) python3 "$BENCH_DIR/failover.py" \
    --system "$s" --kill-pid "$pid" --expect-exe "$MEMBER_EXE" --leader-id "$leader" "${targets[@]}" "${login[@]}" \
    --run "$k" --body-bytes "$BENCH_BODY_BYTES" --deadline-s "$BENCH_FAILOVER_DEADLINE" \
    --out "$SYS_OUT/failover-$k.json" >"$SYS_OUT/failover-$k.log" 2>&1
  rc=$?
  grep -h '^failover-result' "$SYS_OUT/failover-$k.log" | cut -c1-300 >&2
  [ -s "$SYS_OUT/failover-$k.json" ] || failover_fail "$s" "$k" "probe wrote no result (rc $rc, see failover-$k.log)"
  # Restart the member only if the probe did kill it; a SIGKILLed process can
  # take a moment to finish exiting.
  if [ "$(python3 "$BENCH_DIR/util.py" json killed <"$SYS_OUT/failover-$k.json" 2>/dev/null)" = true ]; then
    reap_pid "$pid"
    if pid_alive "$pid"; then
      note "$s" "failover round $k: m$leader (pid $pid) still running 5 s after SIGKILL"
    else
      "${s}_start_member" "$leader"
    fi
  fi
  return $rc
}

# died_how PID: the kernel's line if that process crashed (segfault etc.).
died_how() {
  local line
  line=$(dmesg 2>/dev/null | grep -F "[$1]: " | grep -E 'segfault|trap|general protection' | tail -1 \
    | sed 's/^\[[ 0-9.]*\] //' | cut -c1-200)
  [ -n "$line" ] && printf ' (kernel: %s)' "$line"
}

# heal_state SYSTEM: what each member says, for a note.
heal_state() {
  local i out=""
  for i in 1 2 3; do
    if ! pid_alive "${MEMBER_PID[$i]}"; then
      out+="m$i: not running$(died_how "${MEMBER_PID[$i]}"); "
      continue
    fi
    out+="m$i: $("${1}_describe" "$i" 2>/dev/null | tr -d '\n' | cut -c1-160); "
  done
  printf '%s' "${out%; }"
}

# setup_system SYSTEM: checks and the version, once per system.
setup_system() {
  local s=$1
  SYS_OUT="$OUT/$s"
  mkdir -p "$SYS_OUT"
  # Not in $(...): a check may set variables (gridesk copies its binary).
  "${s}_check" >"$SYS_OUT/check.txt" 2>&1 || { sys_fail "$s" "$(head -c 300 "$SYS_OUT/check.txt")"; return 1; }
  "${s}_version" >"$SYS_OUT/version.txt" 2>&1
}

# throughput_round SYSTEM R: a fresh 3-member cluster, a warm-up and a
# measured wrk run per client count, into $OUT/SYSTEM/wrk-cC-rR.json.
throughput_round() {
  local s=$1 r=$2 c i leader leader_after url t keys
  local -a extra=()
  SYS_OUT="$OUT/$s"
  MEMBER_PID=() MEMBER_URL=() MEMBER_DATA=()
  log "$s: round $r of $BENCH_ROUNDS: starting 3-member cluster"
  "${s}_cluster_start" || { sys_fail "$s" "cluster did not become healthy in round $r (logs in $SYS_OUT)"; return 1; }
  "${s}_prepare" || { sys_fail "$s" "prepare (login) failed in round $r (logs in $SYS_OUT)"; return 1; }
  mapfile -t extra < <("${s}_wrk_env")
  for c in $BENCH_CLIENTS; do
    leader=$("${s}_leader") || { sys_fail "$s" "no leader before the $c-client run of round $r"; return 1; }
    url=${MEMBER_URL[$leader]}
    t=$(min "$BENCH_WRK_THREADS" "$c")
    if [ "$BENCH_WARMUP_SECONDS" -gt 0 ]; then
      log "$s: round $r: warm-up ${BENCH_WARMUP_SECONDS}s, $c clients -> m$leader"
      run_wrk "$("${s}_wrk_script")" "$url" "$c" "$BENCH_WARMUP_SECONDS" "$SYS_OUT/warm-c$c-r$r.json" \
        "$SYS_OUT/warm-c$c-r$r.log" BENCH_RUN_TAG="w$c-$r" "${extra[@]}" \
        || { sys_fail "$s" "wrk warm-up failed at $c clients in round $r"; return 1; }
      if ! wrk_ok "$SYS_OUT/warm-c$c-r$r.json"; then
        diagnose "$s" "$url" >"$SYS_OUT/diagnose-c$c-r$r.txt" 2>&1
        sys_fail "$s" "writes failed during warm-up at $c clients in round $r: $(head -c 300 "$SYS_OUT/warm-c$c-r$r.json"); a sample response is in $SYS_OUT/diagnose-c$c-r$r.txt"
        return 1
      fi
    fi
    log "$s: round $r: measuring ${BENCH_SECONDS}s, $c clients ($t wrk threads) -> m$leader"
    run_wrk "$("${s}_wrk_script")" "$url" "$c" "$BENCH_SECONDS" "$SYS_OUT/wrk-c$c-r$r.json" \
      "$SYS_OUT/wrk-c$c-r$r.log" BENCH_RUN_TAG="m$c-$r" "${extra[@]}" \
      || { sys_fail "$s" "wrk failed at $c clients in round $r"; return 1; }
    grep -h '^wrk-result' "$SYS_OUT/wrk-c$c-r$r.log" | cut -c1-200 >&2
    leader_after=$("${s}_leader") || leader_after=null
    keys=$("${s}_count_keys" "m$c-$r") || keys=null
    write_json "$SYS_OUT/wrk-c$c-r$r.meta.json" clients="$c" round="$r" threads="$t" seconds="$BENCH_SECONDS" \
      url="$url" leader_before="$leader" leader_after="$leader_after" keys_stored="${keys:-null}"
  done
  stop_members
  # The next round starts on empty disks, like this one.
  if [ "$BENCH_KEEP" != 1 ]; then
    for i in 1 2 3; do rm -rf "$(dirname "${MEMBER_DATA[$i]}")"; done
  fi
}

# failover_phase SYSTEM: a fresh cluster, BENCH_FAILOVER_RUNS kill -9 rounds.
failover_phase() {
  local s=$1 k fails=0
  SYS_OUT="$OUT/$s"
  MEMBER_PID=() MEMBER_URL=() MEMBER_DATA=()
  log "$s: failover: starting 3-member cluster"
  "${s}_cluster_start" || { sys_fail "$s" "cluster did not become healthy for the failover rounds (logs in $SYS_OUT)"; return 1; }
  "${s}_prepare" || { sys_fail "$s" "prepare (login) failed before the failover rounds (logs in $SYS_OUT)"; return 1; }
  for k in $(seq 1 "$BENCH_FAILOVER_RUNS"); do
    failover_round "$s" "$k" || fails=$((fails + 1))
  done
  stop_members
  write_json "$SYS_OUT/status.json" ok=true failover_failed="$fails"
  [ "$fails" -eq 0 ]
}

log "output: $OUT; data: $WORK_TMP; $BENCH_ROUNDS rounds of $BENCH_SECONDS s per client count, clients: $BENCH_CLIENTS, body $BENCH_BODY_BYTES B, failover runs: $BENCH_FAILOVER_RUNS"
START_DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
START_LOAD=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)
all_ok=1
systems=()
for s in $BENCH_SYSTEMS; do
  case $s in
    gridesk|etcd) if setup_system "$s"; then systems+=("$s"); else all_ok=0; fi ;;
    *) echo "bench: unknown system '$s' in BENCH_SYSTEMS" >&2; all_ok=0 ;;
  esac
done
# Rounds alternate the order (A B, B A, A B, ...): a machine whose speed
# drifts over minutes (a shared VM) weighs on both systems alike, and the
# table takes each measure's median over the rounds.
declare -A failed=()
for r in $(seq 1 "$BENCH_ROUNDS"); do
  order=("${systems[@]}")
  if [ $((r % 2)) -eq 0 ]; then
    order=(); for ((i = ${#systems[@]} - 1; i >= 0; i--)); do order+=("${systems[$i]}"); done
  fi
  for s in "${order[@]}"; do
    [ -n "${failed[$s]:-}" ] && continue
    throughput_round "$s" "$r" || { failed[$s]=1; all_ok=0; }
  done
done
for s in "${systems[@]}"; do
  [ -n "${failed[$s]:-}" ] && continue
  failover_phase "$s" || all_ok=0
done

write_doc=0
case $BENCH_WRITE_DOC in
  1) write_doc=1 ;;
  auto) [ "$all_ok" = 1 ] && write_doc=1 ;;
esac
doc_args=()
[ "$write_doc" = 1 ] && doc_args=(--doc "$ROOT/docs/BENCHMARKS.md")
python3 "$BENCH_DIR/report.py" --out "$OUT" --command "$COMMAND" --data-dir "$WORK_TMP" \
  --start "$START_DATE" --loadavg "$START_LOAD" --systems "$BENCH_SYSTEMS" --clients "$BENCH_CLIENTS" --wrk "$WRK" --etcd "$ETCD_BIN" \
  --root "$ROOT" "${doc_args[@]}" || all_ok=0
if [ "$write_doc" = 0 ]; then
  log "docs/BENCHMARKS.md not written (BENCH_WRITE_DOC=$BENCH_WRITE_DOC, all systems ok: $all_ok); report in $OUT/report.md"
fi
if [ "${BENCH_KB:-1}" != 0 ]; then
  KB_FROM_BENCH=1 "$BENCH_DIR/kb/run.sh" || all_ok=0  # knowledge-base search vs SQLite FTS5
fi
[ "$all_ok" = 1 ]
