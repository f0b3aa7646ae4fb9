# shellcheck shell=bash
# etcd 3.4 side of the benchmark: a 3-member cluster on 127.0.0.1, driven over
# its HTTP/JSON gateway (POST /v3/kv/put).  Sourced by bench/run.sh.
# etcd runs with its defaults for everything that affects performance (election
# timeout 1000 ms, heartbeat 100 ms, snapshot count, quota, logging).

ETCD_BIN=${BENCH_ETCD:-/usr/bin/etcd}
ETCDCTL_BIN=${BENCH_ETCDCTL:-/usr/bin/etcdctl}
declare -a ETCD_CPORT=() ETCD_PPORT=()
ETCD_INITIAL_CLUSTER=""
ETCD_TOKEN="gridesk-bench-$$"

etcd_check() {
  [ -x "$ETCD_BIN" ] || { echo "etcd not found at $ETCD_BIN (apt-get install etcd-server)"; return 1; }
  [ -x "$ETCDCTL_BIN" ] || { echo "etcdctl not found at $ETCDCTL_BIN (apt-get install etcd-client)"; return 1; }
}

etcd_version() { "$ETCD_BIN" --version 2>/dev/null | head -1; }

etcd_endpoints() {
  echo "http://127.0.0.1:${ETCD_CPORT[1]},http://127.0.0.1:${ETCD_CPORT[2]},http://127.0.0.1:${ETCD_CPORT[3]}"
}

# etcd_start_member I: (re)start member I with its existing data dir.
# Called directly (not in $(...)) so the PID is a child of this shell.
etcd_start_member() {
  local i=$1
  MEMBER_EXE=$ETCD_BIN
  mkdir -p "${MEMBER_DATA[$i]}"
  "$ETCD_BIN" --name "m$i" --data-dir "${MEMBER_DATA[$i]}" \
    --listen-client-urls "http://127.0.0.1:${ETCD_CPORT[$i]}" \
    --advertise-client-urls "http://127.0.0.1:${ETCD_CPORT[$i]}" \
    --listen-peer-urls "http://127.0.0.1:${ETCD_PPORT[$i]}" \
    --initial-advertise-peer-urls "http://127.0.0.1:${ETCD_PPORT[$i]}" \
    --initial-cluster "$ETCD_INITIAL_CLUSTER" \
    --initial-cluster-token "$ETCD_TOKEN" \
    --initial-cluster-state new \
    >>"$SYS_OUT/etcd-m$i.log" 2>&1 &
  MEMBER_PID[i]=$!
  disown "$!"  # no "Killed" job notice after kill -9; bash still reaps it
  started "${MEMBER_PID[$i]}" || log "member $i (pid ${MEMBER_PID[$i]}) did not start"
}

# etcd_cluster_start: fresh data dirs and ports, 3 members, wait until healthy.
etcd_cluster_start() {
  local i
  free_ports 6 || return 1
  ETCD_INITIAL_CLUSTER=""
  for i in 1 2 3; do
    ETCD_CPORT[i]=${PORTS[$((i - 1))]}
    ETCD_PPORT[i]=${PORTS[$((i + 2))]}
    MEMBER_URL[i]="http://127.0.0.1:${ETCD_CPORT[$i]}"
    MEMBER_DATA[i]="$WORK_TMP/etcd-$(now_ms)/m$i"
    ETCD_INITIAL_CLUSTER+="${ETCD_INITIAL_CLUSTER:+,}m$i=http://127.0.0.1:${ETCD_PPORT[$i]}"
  done
  for i in 1 2 3; do etcd_start_member "$i"; done
  wait_for 60 etcd_healthy || { log "etcd cluster did not become healthy"; return 1; }
}

# etcd_leader: print the leader's index (1..3); fails unless all members agree.
etcd_leader() {
  local eps
  eps=$(etcd_endpoints)
  ETCDCTL_API=3 timeout 5 "$ETCDCTL_BIN" --endpoints="$eps" --dial-timeout=1s --command-timeout=2s \
    endpoint status -w json 2>/dev/null | python3 "$BENCH_DIR/util.py" etcd-leader "$eps"
}

# etcd_healthy: every member alive and answering /health, one agreed leader.
etcd_healthy() {
  local i
  for i in 1 2 3; do
    pid_alive "${MEMBER_PID[$i]}" || return 1
    http_get "${MEMBER_URL[$i]}/health" | grep -q '"health":"true"' || return 1
  done
  etcd_leader >/dev/null
}

# etcd_describe I: member I's view, for notes.
etcd_describe() {
  ETCDCTL_API=3 timeout 5 "$ETCDCTL_BIN" --endpoints="${MEMBER_URL[$1]}" --dial-timeout=1s \
    --command-timeout=2s endpoint status -w json 2>&1 | python3 "$BENCH_DIR/util.py" json 0.Status.leader 0.Status.raftTerm \
    | paste -sd' ' | sed 's/^/leader=/; s/ / term=/'
}

etcd_prepare() { :; }

etcd_wrk_script() { echo "$BENCH_DIR/etcd_put.lua"; }

# etcd_wrk_env: extra env for wrk (none).
etcd_wrk_env() { :; }

# etcd_count_keys TAG: keys one wrk run (BENCH_RUN_TAG=TAG) stored (sanity check:
# every acknowledged put made a distinct key).  etcdctl 3.4 has no --count-only,
# so this is a count_only range on the gateway ("/" + 1 == "0" ends the prefix).
etcd_count_keys() {
  local leader key end
  leader=$(etcd_leader) || return 1
  key=$(printf 'bench/%s/' "$1" | base64 -w0)
  end=$(printf 'bench/%s0' "$1" | base64 -w0)
  curl -sf --max-time 30 -X POST -H 'Content-Type: application/json' \
    -d "{\"key\":\"$key\",\"range_end\":\"$end\",\"count_only\":true}" \
    "${MEMBER_URL[$leader]}/v3/kv/range" | python3 "$BENCH_DIR/util.py" etcd-count
}
