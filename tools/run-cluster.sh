#!/usr/bin/env bash
# make run: a local 3-node gridesk cluster on 127.0.0.1 with a little demo
# data.  Ctrl-C stops every node this script started (by PID).
# Env: GRIDESK_ADMIN_PASSWORD (default: gridesk-demo), GRIDESK_RUN_DIR
# (default: ./gridesk-data/run, wiped at start unless GRIDESK_RUN_KEEP=1),
# GRIDESK_HTTP_BASE (default 8080: nodes on 8080..8082, raft on 9080..9082).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${GRIDESK_BIN:-$PWD/bin}
DIR=${GRIDESK_RUN_DIR:-$PWD/gridesk-data/run}
BASE=${GRIDESK_HTTP_BASE:-8080}
export GRIDESK_ADMIN_PASSWORD=${GRIDESK_ADMIN_PASSWORD:-gridesk-demo}
PIDS=()

stop() {
    trap - INT TERM EXIT
    echo
    echo "stopping nodes: ${PIDS[*]:-none}"
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    echo "stopped; data kept in $DIR"
}
trap stop INT TERM EXIT

if [ "${GRIDESK_RUN_KEEP:-0}" != 1 ]; then rm -rf "$DIR"; fi
mkdir -p "$DIR"
CLUSTER=""
for i in 1 2 3; do
    CLUSTER+="${CLUSTER:+,}$i=127.0.0.1:$((BASE + 1000 + i - 1))"
done
for i in 1 2 3; do
    "$BIN/grideskd" --id "$i" --data "$DIR/n$i" \
        --http "127.0.0.1:$((BASE + i - 1))" \
        --raft "127.0.0.1:$((BASE + 1000 + i - 1))" \
        --cluster "$CLUSTER" >"$DIR/n$i.log" 2>&1 &
    PIDS+=($!)
done

NODE="http://127.0.0.1:$BASE"
export GRIDESK_NODE=$NODE
export XDG_CONFIG_HOME="$DIR/cli-config"
echo "waiting for the cluster to elect a leader..."
ok=0
for _ in $(seq 1 100); do
    if GRIDESK_PASSWORD=$GRIDESK_ADMIN_PASSWORD "$BIN/gridesk" login --user admin >/dev/null 2>&1; then
        ok=1; break
    fi
    for p in "${PIDS[@]}"; do
        kill -0 "$p" 2>/dev/null || { echo "a node exited; see $DIR/n*.log" >&2; tail -n 5 "$DIR"/n*.log >&2; exit 1; }
    done
    sleep 0.2
done
[ $ok = 1 ] || { echo "no leader after 20 s; see $DIR/n*.log" >&2; exit 1; }

echo "loading demo tickets..."
demo() { "$BIN/gridesk" ticket create "$@" >/dev/null; }
demo --customer 3100012345 --class fault_repair --channel hotline \
     --summary "小区整栋楼停电" --description "客户来电：幸福里3号楼自18:20起停电，邻居家也停电。"
demo --customer 3100012345 --class complaint --channel wechat \
     --summary "抢修人员迟迟未到" --description "报修两小时后仍未见抢修人员，客户不满。"
demo --customer 3100067890 --class consultation --channel hall \
     --summary "阶梯电价如何计算" --description "客户咨询居民阶梯电价分档标准与年度结算方式。"
demo --customer 5200011111 --class service_request --channel app \
     --summary "申请增容至20kW" --description "客户新购充电桩，申请将容量从8kW增至20kW。"
demo --customer 5200022222 --class fault_repair --channel hotline \
     --summary "水表漏水" --description "水表井内管道接口渗漏，请派员维修。"
first=$("$BIN/gridesk" --json ticket list --limit 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])' 2>/dev/null || true)
if [ -n "$first" ]; then
    "$BIN/gridesk" ticket event "$first" accept >/dev/null || true
    "$BIN/gridesk" ticket event "$first" comment --text "已派抢修班组，预计30分钟到达。" >/dev/null || true
fi

echo "loading the demo knowledge base..."
if ! "$BIN/gridesk" kb import "$(dirname "$0")/demo-kb.jsonl" >/dev/null; then
    echo "warning: demo knowledge base not loaded (see the message above)" >&2
fi

cat <<MSG

gridesk is running: 3 nodes on 127.0.0.1
  node 1  http://127.0.0.1:$BASE     (raft 127.0.0.1:$((BASE + 1000)))
  node 2  http://127.0.0.1:$((BASE + 1))     (raft 127.0.0.1:$((BASE + 1001)))
  node 3  http://127.0.0.1:$((BASE + 2))     (raft 127.0.0.1:$((BASE + 1002)))
login: user admin, password $GRIDESK_ADMIN_PASSWORD

try:
  export GRIDESK_NODE=$NODE XDG_CONFIG_HOME=$XDG_CONFIG_HOME
  bin/gridesk cluster status
  bin/gridesk ticket list
  bin/gridesk kb search 电费          (Traditional works too: bin/gridesk kb search 電費)
  bin/gridesk kb search 95598
  curl -s -X POST $NODE/v1/login -d '{"user":"admin","password":"$GRIDESK_ADMIN_PASSWORD"}'
logs: $DIR/n1.log n2.log n3.log
Ctrl-C stops the cluster.
MSG
wait
