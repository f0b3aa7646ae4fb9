# shellcheck shell=bash
# gridesk side of the benchmark: a 3-node cluster of bin/grideskd on 127.0.0.1,
# driven over its HTTP/JSON API (POST /v1/tickets).  Sourced by bench/run.sh.
# Nodes run with their defaults (no tuning flags) unless BENCH_GRIDESK_FLAGS
# adds some (word-split), e.g. "--election-timeout 1000 --heartbeat 100".

GRIDESKD_BIN=${BENCH_GRIDESKD:-$ROOT/bin/grideskd}
GRIDESK_PASSWORD=benchpw
BENCH_GRIDESK_FLAGS=${BENCH_GRIDESK_FLAGS:-}
declare -a GRIDESK_HPORT=() GRIDESK_RPORT=()
GRIDESK_CLUSTER=""
BENCH_GRIDESK_TOKEN=""

# The nodes run a private copy of the binary, so a rebuild of bin/grideskd in
# the middle of a run (other people build in this tree) changes nothing.
GRIDESKD_RUN=""

gridesk_check() {
  [ -x "$GRIDESKD_BIN" ] || { echo "$GRIDESKD_BIN not built (make all)"; return 1; }
  GRIDESKD_RUN="$WORK_TMP/grideskd"
  cp "$GRIDESKD_BIN" "$GRIDESKD_RUN" || { echo "cannot copy $GRIDESKD_BIN"; return 1; }
}

gridesk_version() {
  local rev
  rev=$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)
  if [ -n "$(git -C "$ROOT" status --porcelain 2>/dev/null)" ]; then rev="$rev + uncommitted changes"; fi
  echo "gridesk $rev; binary $(sha256sum "$GRIDESKD_RUN" | cut -c1-12) built $(date -u -r "$GRIDESKD_BIN" +%Y-%m-%dT%H:%M:%SZ)"
}

# gridesk_start_member I: (re)start node I with its existing data dir.
# Called directly (not in $(...)) so the PID is a child of this shell.
gridesk_start_member() {
  local i=$1
  MEMBER_EXE=$GRIDESKD_RUN
  mkdir -p "${MEMBER_DATA[$i]}"
  GRIDESK_ADMIN_PASSWORD=$GRIDESK_PASSWORD "$GRIDESKD_RUN" --id "$i" --data "${MEMBER_DATA[$i]}" \
    --http "127.0.0.1:${GRIDESK_HPORT[$i]}" --raft "127.0.0.1:${GRIDESK_RPORT[$i]}" \
    --cluster "$GRIDESK_CLUSTER" $BENCH_GRIDESK_FLAGS \
    >>"$SYS_OUT/gridesk-n$i.log" 2>&1 &
  MEMBER_PID[i]=$!
  disown "$!"  # no "Killed" job notice after kill -9; bash still reaps it
  started "${MEMBER_PID[$i]}" || log "member $i (pid ${MEMBER_PID[$i]}) did not start"
}

gridesk_cluster_start() {
  local i
  free_ports 6 || return 1
  GRIDESK_CLUSTER=""
  for i in 1 2 3; do
    GRIDESK_HPORT[i]=${PORTS[$((i - 1))]}
    GRIDESK_RPORT[i]=${PORTS[$((i + 2))]}
    MEMBER_URL[i]="http://127.0.0.1:${GRIDESK_HPORT[$i]}"
    MEMBER_DATA[i]="$WORK_TMP/gridesk-$(now_ms)/n$i"
    GRIDESK_CLUSTER+="${GRIDESK_CLUSTER:+,}$i=127.0.0.1:${GRIDESK_RPORT[$i]}"
  done
  for i in 1 2 3; do gridesk_start_member "$i"; done
  wait_for 60 gridesk_healthy || { log "gridesk cluster did not become healthy"; return 1; }
}

# gridesk_leader: the agreed leader's id (== index), from every node's /healthz.
gridesk_leader() {
  local i body
  for i in 1 2 3; do
    body=$(http_get "${MEMBER_URL[$i]}/healthz") || return 1
    printf '%s %s\n' "$i" "$(printf '%s' "$body" | tr -d '\n')"
  done | python3 "$BENCH_DIR/util.py" gridesk-leader
}

# gridesk_describe I: node I's /healthz, for notes.
gridesk_describe() { http_get "${MEMBER_URL[$1]}/healthz" || echo "no /healthz answer"; }

gridesk_healthy() {
  local i
  for i in 1 2 3; do pid_alive "${MEMBER_PID[$i]}" || return 1; done
  gridesk_leader >/dev/null
}

# gridesk_login_once: one login at the leader; sets BENCH_GRIDESK_TOKEN.
gridesk_login_once() {
  local leader
  leader=$(gridesk_leader) || return 1
  GRIDESK_LOGIN_RESP=$(curl -s --max-time 5 -X POST -H 'Content-Type: application/json' \
    -d "{\"user\":\"admin\",\"password\":\"$GRIDESK_PASSWORD\"}" "${MEMBER_URL[$leader]}/v1/login") || true
  BENCH_GRIDESK_TOKEN=$(printf '%s' "$GRIDESK_LOGIN_RESP" | python3 "$BENCH_DIR/util.py" json token)
  [ -n "$BENCH_GRIDESK_TOKEN" ] && [ "$BENCH_GRIDESK_TOKEN" != null ]
}

# gridesk_prepare: log in at the leader; the token goes to wrk via env.  A new
# cluster answers 503 "not initialised yet" until its first entry (the admin
# user) is applied, which waits for the first Raft segment to be zero-filled
# (--segment-fill zero), so this retries for up to 30 s.
gridesk_prepare() {
  GRIDESK_LOGIN_RESP=""
  if ! wait_for 30 gridesk_login_once; then
    log "gridesk login failed: $GRIDESK_LOGIN_RESP"
    return 1
  fi
}

gridesk_wrk_script() { echo "$BENCH_DIR/gridesk_ticket.lua"; }

gridesk_wrk_env() { echo "BENCH_GRIDESK_TOKEN=$BENCH_GRIDESK_TOKEN"; }

gridesk_count_keys() { echo null; }  # no cheap count over the API
