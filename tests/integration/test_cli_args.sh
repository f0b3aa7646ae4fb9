#!/bin/bash
# gridesk CLI argument handling and exit codes that need no server: help
# (exit 0, stdout), usage errors (exit 2, one "gridesk:" line and a "usage:"
# hint on stderr, nothing on stdout), connection refused (exit 3), a token
# that cannot be sent (exit 4).  Runs against a free port on 127.0.0.1 with
# a temporary HOME; cleans up.  GRIDESK_BIN: directory holding gridesk.
set -u
BIN="${GRIDESK_BIN:-$(cd "$(dirname "$0")/../.." && pwd)/bin}"
G="$BIN/gridesk"
[ -x "$G" ] || { echo "test_cli_args: $G not built (make bin/gridesk)" >&2; exit 1; }

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
export HOME="$TMP/home" XDG_CONFIG_HOME="$TMP/config"
unset GRIDESK_NODE GRIDESK_TOKEN GRIDESK_PASSWORD
mkdir -p "$HOME"
# A port nobody listens on: bind, note it, close.
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
DEAD="http://127.0.0.1:$PORT"

fails=0
checks=0
# expect RC STDOUT_PATTERN STDERR_PATTERN -- ARGS...  (patterns: grep -E;
# "" means the stream must be empty)
expect() {
    local want=$1 outpat=$2 errpat=$3
    shift 4
    checks=$((checks + 1))
    "$G" "$@" >"$TMP/out" 2>"$TMP/err" </dev/null
    local rc=$? bad=""
    [ "$rc" = "$want" ] || bad="exit $rc, want $want"
    if [ -z "$outpat" ]; then
        [ -s "$TMP/out" ] && bad="$bad; stdout not empty"
    else
        grep -qE -- "$outpat" "$TMP/out" || bad="$bad; stdout lacks /$outpat/"
    fi
    if [ -z "$errpat" ]; then
        [ -s "$TMP/err" ] && bad="$bad; stderr not empty"
    else
        grep -qE -- "$errpat" "$TMP/err" || bad="$bad; stderr lacks /$errpat/"
    fi
    if [ -n "$bad" ]; then
        fails=$((fails + 1))
        echo "FAIL gridesk $*: $bad"
        sed 's/^/  out: /' "$TMP/out"
        sed 's/^/  err: /' "$TMP/err"
    fi
}

# Help: exit 0, on stdout, documents the exit codes.
expect 0 '^Exit status:' '' -- --help
expect 0 '4  authentication' '' -- help
expect 0 'usage: gridesk ticket list' '' -- ticket list --help
expect 0 'usage: gridesk ticket list' '' -- help ticket list
expect 0 'usage: gridesk ticket event' '' -- --node "$DEAD" ticket event -h
expect 0 'gridesk cluster remove ID' '' -- cluster --help
expect 0 'usage: gridesk login' '' -- --json login --help

# Usage errors: exit 2, nothing on stdout, message plus a usage hint.
expect 2 '' '^gridesk: missing command' --
expect 2 '' "^gridesk: unknown command 'frobnicate'" -- frobnicate
expect 2 '' '^usage: gridesk ticket \{create\|show\|list\|event\|suggest\}' -- ticket
expect 2 '' "unknown command 'ticket delete'" -- ticket delete 1
expect 2 '' '^gridesk: unknown flag --bogus' -- --bogus cluster status
expect 2 '' '^gridesk: unknown flag --bogus' -- ticket list --bogus
expect 2 '' '^gridesk: unknown flag -x' -- ticket list -x
expect 2 '' '^gridesk: --node needs a URL' -- cluster status --node
expect 2 '' '^gridesk: --json takes no value' -- --json=yes cluster status
expect 2 '' '^gridesk: --all takes no value' -- ticket list --all=1
expect 2 '' "unexpected argument 'extra'" -- cluster status extra
expect 2 '' '^gridesk: --limit must be a positive number' -- ticket list --limit 0
expect 2 '' '^gridesk: --limit needs a value' -- ticket list --limit
expect 2 '' '^gridesk: missing --summary' -- ticket create --customer C --class praise --channel web
expect 2 '' '^gridesk: --customer must not be empty' -- ticket create --customer "" --class praise --channel web --summary s
expect 2 '' '^gridesk: ticket show needs a ticket ID' -- ticket show
expect 2 '' "^gridesk: unknown event 'close'" -- ticket event 7 close
expect 2 '' '^gridesk: missing --text' -- ticket event 7 comment
expect 2 '' '^gridesk: missing --to' -- ticket event 7 status --note x
expect 2 '' "^gridesk: --text does not apply to 'accept'" -- ticket event 7 accept --text x
expect 2 '' "member id 'abc' is not a positive number" -- cluster add abc 127.0.0.1:9001 127.0.0.1:8081
expect 2 '' "raft address 'nohost' is not HOST:PORT" -- cluster add 4 nohost 127.0.0.1:8081
expect 2 '' "http address '127.0.0.1:70000' is not HOST:PORT" -- cluster add 4 127.0.0.1:9001 127.0.0.1:70000
expect 2 '' 'cluster remove needs ID' -- cluster remove
expect 2 '' '^gridesk: missing --user' -- login
expect 2 '' 'only http:// is supported \(from --node\)' -- --node https://example.com cluster status
expect 2 '' 'bad node URL' -- --node not-a-url cluster status
expect 2 '' 'no terminal to read the password from' -- --node "$DEAD" login --user admin
GRIDESK_NODE=ftp://x expect 2 '' 'from GRIDESK_NODE' -- cluster status

# Global flags anywhere; the value of a command flag is never taken for a
# global flag.  These reach the network, which refuses: exit 3.
expect 3 '' "^gridesk: cannot connect to 127.0.0.1:$PORT: Connection refused" -- --node "$DEAD" cluster status
expect 3 '' 'cannot connect' -- cluster status --node "$DEAD" --json
expect 3 '' 'cannot connect' -- ticket --json list --node="$DEAD" --all
expect 3 '' 'cannot connect' -- --node "$DEAD" ticket event 7 comment --text --json
expect 3 '' 'cannot connect' -- --node "$DEAD" ticket create --summary -- --customer C --class praise --channel web
GRIDESK_NODE="$DEAD" expect 3 '' 'cannot connect' -- ticket show 7
GRIDESK_NODE="$DEAD" GRIDESK_PASSWORD=pw expect 3 '' 'cannot connect' -- login --user admin
expect 3 '' 'cannot connect' -- --node "$DEAD" ticket list --customer 客户 --status new --limit 5 --after abc

# A token that cannot go into a header: exit 4 before any connection.
GRIDESK_TOKEN=$'abc\r\nX-Evil: 1' expect 4 '' "run 'gridesk login'" -- --node "$DEAD" ticket list

# Nothing was saved by failed logins.
checks=$((checks + 1))
if [ -e "$XDG_CONFIG_HOME/gridesk/token" ]; then
    fails=$((fails + 1))
    echo "FAIL a failed login left a token behind"
fi

echo "test_cli_args: $checks checks, $fails failed"
[ "$fails" = 0 ]
