# shellcheck shell=bash
# Common helpers for bench/run.sh, bench/etcd.sh and bench/gridesk.sh.
# Sourced, not run.  Every loop here is bounded by a deadline.

# Members of the cluster currently under test (index 1..3).
# shellcheck disable=SC2034  # used by the sourcing scripts
declare -a MEMBER_PID=() MEMBER_URL=() MEMBER_DATA=()
WRK_PID=""  # the running load generator (its timeout(1) wrapper), if any
MEMBER_EXE=/nonexistent  # binary of the members (set by each system's start)

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

now_ms() { date +%s%3N; }

# pid_alive PID: true while PID runs (a zombie counts as dead).
pid_alive() {
  local pid=$1 st
  [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 1
  st=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
  [ "$st" != "Z" ] && [ "$st" != "X" ]
}

# ours PID: the PID still runs the binary we started there (MEMBER_EXE), so a
# member that died and was reaped is never confused with a recycled PID.
# A script binary (#!) shows as its interpreter, with the script as argv[1].
ours() {
  local want exe arg
  want=$(readlink -f "$MEMBER_EXE")
  exe=$(readlink "/proc/$1/exe" 2>/dev/null) || return 1
  [ "${exe% (deleted)}" = "$want" ] && return 0
  arg=$(tr '\0' '\n' <"/proc/$1/cmdline" 2>/dev/null | sed -n 2p)
  [ -n "$arg" ] && [ "$(readlink -f "$arg")" = "$want" ]
}

# started PID: after `BIN ... &`, wait (bounded) until the child has exec'd BIN,
# so that ours() recognises it from then on.
started() {
  local pid=$1 deadline
  deadline=$(( $(now_ms) + 5000 ))
  until ours "$pid"; do
    pid_alive "$pid" || return 1
    [ "$(now_ms)" -lt "$deadline" ] || return 1
    sleep 0.01
  done
}

# stop_pid PID: TERM, up to 5 s, then KILL; reaps it.  Only PIDs we started.
stop_pid() {
  local pid=$1 deadline
  [ -n "$pid" ] || return 0
  if pid_alive "$pid" && ! ours "$pid"; then
    log "not stopping pid $pid: it does not run $MEMBER_EXE (any more)"
  elif pid_alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$(( $(now_ms) + 5000 ))
    while pid_alive "$pid" && [ "$(now_ms)" -lt "$deadline" ]; do sleep 0.05; done
    if pid_alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
  fi
  wait "$pid" 2>/dev/null || true
}

# reap_pid PID: after someone else SIGKILLed our child; bounded wait.
reap_pid() {
  local pid=$1 deadline
  deadline=$(( $(now_ms) + 5000 ))
  while pid_alive "$pid" && [ "$(now_ms)" -lt "$deadline" ]; do sleep 0.02; done
  pid_alive "$pid" || wait "$pid" 2>/dev/null || true
}

stop_members() {
  local i
  for i in 1 2 3; do
    stop_pid "${MEMBER_PID[$i]:-}"
    MEMBER_PID[i]=""
  done
}

# wait_for SECONDS CMD...: run CMD every 100 ms until it succeeds or time runs out.
wait_for() {
  local secs=$1; shift
  local deadline=$(( $(now_ms) + secs * 1000 ))
  while :; do
    if "$@"; then return 0; fi
    [ "$(now_ms)" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

# free_ports N: N distinct free ports on 127.0.0.1 (into the array PORTS).
free_ports() {
  mapfile -t PORTS < <(python3 "$BENCH_DIR/util.py" freeports "$1")
  [ "${#PORTS[@]}" -eq "$1" ]
}

# http_get URL: body on stdout, fails unless 2xx.  1 s timeout.
http_get() { curl -sf --max-time 1 "$1"; }

# min A B
min() { if [ "$1" -lt "$2" ]; then echo "$1"; else echo "$2"; fi; }

# run_wrk SCRIPT URL CLIENTS SECONDS OUTJSON LOGFILE [extra env assignments...]
run_wrk() {
  local script=$1 url=$2 c=$3 secs=$4 out=$5 logf=$6; shift 6
  local t
  t=$(min "$BENCH_WRK_THREADS" "$c")
  rm -f "$out"
  # wrk's own -d bounds the run; timeout(1) is a guard against a hang.
  # In the background + wait, so that a trapped INT/TERM is handled at once
  # (cleanup stops WRK_PID).
  env BENCH_DIR="$BENCH_DIR" BENCH_BODY_BYTES="$BENCH_BODY_BYTES" BENCH_WRK_OUT="$out" "$@" \
    timeout -k 5 $((secs + 30)) "$WRK" -t "$t" -c "$c" -d "${secs}s" --timeout "${BENCH_WRK_TIMEOUT}s" \
    -s "$script" "$url" >"$logf" 2>&1 &
  WRK_PID=$!
  wait "$WRK_PID" || { WRK_PID=""; log "wrk failed (see $logf)"; return 1; }
  WRK_PID=""
  [ -s "$out" ] || { log "wrk wrote no result (see $logf)"; return 1; }
}
