# harness.sh - what every integration test sources: a private directory,
# free ports, starting and stopping the real stack (nginx or Apache, the
# FastCGI app, the push daemon) by PID, and TAP assertions.
#
# A test runs under `make check` (TOP_BUILDDIR and TOP_SRCDIR are set) or
# by hand from the source tree after a build in ./build.

set -u
TOP_SRCDIR=${TOP_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
TOP_BUILDDIR=${TOP_BUILDDIR:-$TOP_SRCDIR/build}
TOP_SRCDIR=$(cd "$TOP_SRCDIR" && pwd)
TOP_BUILDDIR=$(cd "$TOP_BUILDDIR" && pwd)
STACK_TOP=$TOP_SRCDIR
. "$TOP_SRCDIR/tools/stack.sh"

ADMIN_BIN=$TOP_BUILDDIR/fcgi-admin/aphlict-admin
PUSH_BIN=$TOP_BUILDDIR/push/aphlict-push
SUBSCRIBE_BIN=$TOP_BUILDDIR/clients/aphlict-subscribe
NOTIFY_BIN=$TOP_BUILDDIR/clients/aphlict-notify

TH_PIDS=()
TH_N=0
TH_FAILED=0

th_cleanup() {
    local pid
    for pid in "${TH_PIDS[@]}"; do
        kill "$pid" 2>/dev/null
    done
    for pid in "${TH_PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null
    done
    if [ "$TH_FAILED" = 0 ] && [ -z "${TH_KEEP:-}" ]; then
        rm -rf "$TH_DIR"
    else
        echo "# kept $TH_DIR for inspection"
    fi
}

# th_init: makes $TH_DIR (state, logs, configs of this test only).
th_init() {
    TH_DIR=$(mktemp -d "${TMPDIR:-/tmp}/aphlict-test.XXXXXX")
    chmod 755 "$TH_DIR"
    mkdir -p "$TH_DIR/state"
    chmod 755 "$TH_DIR/state"
    trap th_cleanup EXIT
}

# th_port: a free TCP port for a server of this test. It is drawn below
# the kernel's ephemeral range, so that no outgoing connection (of this
# test or of anything else running) can take it between now and the bind.
th_port() {
    /usr/bin/python3 - <<'PY'
import random, socket
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
for _ in range(200):
    port = random.randrange(10000, low)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        continue
    finally:
        s.close()
    print(port)
    break
PY
}

# th_track PID: stop PID at the end of the test.
th_track() { TH_PIDS+=("$1"); }

# th_stop PID [SIGNAL]: signals PID (SIGTERM) and waits until it is gone.
th_stop() {
    local pid=$1 sig=${2:-TERM}
    kill "-$sig" "$pid" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    wait "$pid" 2>/dev/null
    return 0
}

# th_config FILE JSON: writes a configuration file.
th_config() { printf '%s\n' "$2" > "$1"; }

# th_start_admin CONFIG [ARGS...]: aphlict-admin on $TH_DIR/state/admin.sock.
# Sets ADMIN_PID and ADMIN_SOCK.
th_start_admin() {
    local cfg=$1; shift
    ADMIN_SOCK=${ADMIN_SOCK:-$TH_DIR/state/admin.sock}
    rm -f "$ADMIN_SOCK"
    "$ADMIN_BIN" --config "$cfg" --state-dir "$TH_DIR/state" --socket "$ADMIN_SOCK" "$@" \
        >>"$TH_DIR/admin.log" 2>&1 &
    ADMIN_PID=$!
    th_track "$ADMIN_PID"
    stack_wait_socket "$ADMIN_SOCK" 10
}

# th_start_nginx PORT [SOCK]: nginx on 127.0.0.1:PORT in front of SOCK.
th_start_nginx() {
    local port=$1 sock=${2:-$ADMIN_SOCK}
    stack_nginx_conf "$TH_DIR/nginx-$port" 127.0.0.1 "$port" "$sock"
    nginx -p "$TH_DIR/nginx-$port" -c "$TH_DIR/nginx-$port/nginx.conf" >>"$TH_DIR/nginx.log" 2>&1 &
    NGINX_PID=$!
    th_track "$NGINX_PID"
    stack_wait_port 127.0.0.1 "$port" 10
}

# th_start_apache PORT [SOCK]: Apache on 127.0.0.1:PORT in front of SOCK.
th_start_apache() {
    local port=$1 sock=${2:-$ADMIN_SOCK}
    stack_apache_conf "$TH_DIR/apache-$port" 127.0.0.1 "$port" "$sock"
    apache2 -f "$TH_DIR/apache-$port/apache.conf" -DFOREGROUND >>"$TH_DIR/apache.log" 2>&1 &
    APACHE_PID=$!
    th_track "$APACHE_PID"
    stack_wait_port 127.0.0.1 "$port" 10
}

# th_http METHOD URL [BODY]: sets HTTP_CODE and HTTP_BODY (and
# HTTP_HEADERS). BODY "@FILE" sends a file.
th_http() {
    local method=$1 url=$2 out
    local args=(-sS -o "$TH_DIR/http.body" -D "$TH_DIR/http.headers" -w '%{http_code}' -X "$method"
                --max-time 20 -H 'Expect:')
    if [ $# -ge 3 ]; then
        args+=(-H 'Content-Type: application/json' --data-binary "$3")
    fi
    out=$(curl "${args[@]}" "$url" 2>"$TH_DIR/http.err") || out=${out:-000}
    HTTP_CODE=$out
    HTTP_BODY=$(cat "$TH_DIR/http.body" 2>/dev/null)
    HTTP_HEADERS=$(cat "$TH_DIR/http.headers" 2>/dev/null)
}

# th_sql SQL: runs SQL on the test's queue with the sqlite3 shell.
th_sql() { sqlite3 -batch -noheader "$TH_DIR/state/queue.db" "$1"; }

# --- TAP assertions -------------------------------------------------------

th_result() {
    local good=$1 desc=$2
    TH_N=$((TH_N + 1))
    if [ "$good" = 1 ]; then
        echo "ok $TH_N - $desc"
    else
        echo "not ok $TH_N - $desc"
        TH_FAILED=$((TH_FAILED + 1))
    fi
}

# is GOT EXPECTED DESC
is() {
    if [ "$1" = "$2" ]; then th_result 1 "$3"; else
        th_result 0 "$3"; echo "#   got:      '$1'"; echo "#   expected: '$2'"; fi
}

# like GOT EXTENDED-REGEX DESC
like() {
    if printf '%s' "$1" | grep -Eq -- "$2"; then th_result 1 "$3"; else
        th_result 0 "$3"; echo "#   got:      '$(printf '%s' "$1" | head -c 400)'"; echo "#   expected to match: '$2'"; fi
}

# ok COMMAND... : passes when the command succeeds; the last argument is the description.
ok() {
    local desc=${*: -1}
    if "${@:1:$#-1}"; then th_result 1 "$desc"; else th_result 0 "$desc"; fi
}

# th_json_get JSON KEY: the value of a top-level key (keys may contain dots).
th_json_get() {
    /usr/bin/python3 -c 'import json,sys
v = json.loads(sys.argv[1]).get(sys.argv[2], "<absent>")
print("null" if v is None else (json.dumps(v) if isinstance(v, (list, dict, bool)) else v))' "$1" "$2" 2>/dev/null \
        || echo "<not json>"
}

th_done() {
    echo "1..$TH_N"
    [ "$TH_FAILED" = 0 ]
}

# --- added for the admin-*.sh tests -----------------------------------------

# th_wait_exit PID [SECONDS]: waits until PID (a child of this shell) has
# exited and sets TH_STATUS to its exit status; "running" (and returns 1)
# if it is still there after SECONDS (default 10).
th_wait_exit() {
    local pid=$1 limit=${2:-10} i
    for ((i = 0; i < limit * 20; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null; then
        TH_STATUS=running
        return 1
    fi
    wait "$pid" 2>/dev/null
    TH_STATUS=$?
    return 0
}

# th_run_nginx DIR PORT: nginx on 127.0.0.1:PORT from an nginx.conf already
# in DIR (written by stack_nginx_conf, then edited). Sets NGINX_PID.
th_run_nginx() {
    local dir=$1 port=$2
    nginx -p "$dir" -c "$dir/nginx.conf" >>"$TH_DIR/nginx.log" 2>&1 &
    NGINX_PID=$!
    th_track "$NGINX_PID"
    stack_wait_port 127.0.0.1 "$port" 10
}

# th_uid PREFIX N: a 32-character uniqueID made of PREFIX and N.
th_uid() {
    local p=$1 n=$2
    printf '%s%0*d' "$p" $((32 - ${#p})) "$n"
}

# th_count SQL: th_sql, but "" becomes "<error>" so a comparison with a
# number always fails when the queue could not be read.
th_count() {
    local v
    v=$(th_sql "$1" 2>/dev/null) || v="<error>"
    printf '%s' "${v:-<error>}"
}

# th_py SCRIPT ARGS...: runs a Python half of a test (tests/lib/wstest.py)
# and turns each PASS/FAIL line into a TAP result.
th_py() {
    local line
    while IFS= read -r line; do
        case $line in
            "PASS "*) th_result 1 "${line#PASS }" ;;
            "FAIL "*) th_result 0 "${line#FAIL }" ;;
            *) echo "# $line" ;;
        esac
    done < <(PYTHONPATH="$TOP_SRCDIR/tests/lib" timeout 300 /usr/bin/python3 "$@" 2>&1)
}

# th_start_push CONFIG [ARGS...]: the push daemon; sets PUSH_PID. Waits for
# the first client port of CONFIG ($PUSH_PORT when set).
th_start_push() {
    local cfg=$1; shift
    "$PUSH_BIN" --config "$cfg" --state-dir "$TH_DIR/state" "$@" >>"$TH_DIR/push.log" 2>&1 &
    PUSH_PID=$!
    th_track "$PUSH_PID"
    stack_wait_port 127.0.0.1 "${PUSH_PORT:?set PUSH_PORT}" 10
}

# th_rss_kb PID: resident memory of PID in KiB.
th_rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# th_no_sanitizer_report LOG WHOSE: one result, failed (with the report) when
# ASan or UBSan wrote to LOG.
th_no_sanitizer_report() {
    local log=$1 whose=$2
    if grep -E 'ERROR: AddressSanitizer|runtime error' "$log" >/dev/null; then
        th_result 0 "no sanitizer report in $whose log"
        grep -E -A5 'ERROR: AddressSanitizer|runtime error' "$log" | head -20 | sed 's/^/#   /'
    else
        th_result 1 "no sanitizer report in $whose log"
    fi
}

# th_stack_config [EXTRA-JSON]: picks PUSH_PORT and ADMIN_PORT (unless set)
# and writes $TH_DIR/aphlict.json for one node: one client and one admin
# entry on 127.0.0.1, the FastCGI socket open to nginx, then EXTRA-JSON
# (e.g. ', "client.idle_timeout_s": 5'). Called again, it rewrites the file
# with the same ports.
th_stack_config() {
    PUSH_PORT=${PUSH_PORT:-$(th_port)}
    ADMIN_PORT=${ADMIN_PORT:-$(th_port)}
    th_config "$TH_DIR/aphlict.json" '{
  "servers": [{"type": "client", "port": '"$PUSH_PORT"', "listen": "127.0.0.1"},
              {"type": "admin", "port": '"$ADMIN_PORT"', "listen": "127.0.0.1"}],
  "admin.socket_mode": "0666"'"${1:-}"'
}'
}

# th_stack_nginx [EXTRA-JSON]: th_stack_config, then the FastCGI app and
# nginx. The push daemon is left to the test (th_start_push).
th_stack_nginx() {
    th_stack_config "${1:-}"
    th_start_admin "$TH_DIR/aphlict.json"
    th_start_nginx "$ADMIN_PORT"
}
