# bench/lib.sh - what bench/run and bench/profile share: the build, the
# processes started (and only those stopped), free ports, and one node of
# the stack (nginx + aphlict-admin + aphlict-push, from tools/stack.sh).
# The caller sets TOP, BUILD, OUT, JSON and LOG first.

STACK_TOP=$TOP
. "$TOP/tools/stack.sh"

say() { echo "bench: $*" | tee -a "$LOG" >&2; }

# --- build --------------------------------------------------------------------
say "building a non-sanitized tree in $BUILD"
"$TOP/tools/build" "$BUILD" || { echo "bench: build failed" >&2; exit 1; }
if grep -q '^SAN_CFLAGS = .*sanitize' "$BUILD/Makefile"; then
    echo "bench: $BUILD is configured with sanitizers: benchmark a plain build" >&2
    exit 1
fi
make -s -C "$BUILD" bench/loadgen >/dev/null || { echo "bench: building bench/loadgen failed" >&2; exit 1; }
ADMIN_BIN=$BUILD/fcgi-admin/aphlict-admin
PUSH_BIN=$BUILD/push/aphlict-push
LOADGEN=$BUILD/bench/loadgen

ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
say "open-file limit $(ulimit -n); output in $OUT"

# --- processes: only what this script started is ever signalled ------------------
STARTED=()
track() { STARTED+=("$1"); }

# stop_pid PID: SIGTERM, wait up to $STOP_WAIT seconds (default 5; a zombie
# counts as gone), then SIGKILL.
stop_pid() {
    local pid=$1 i st
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < ${STOP_WAIT:-5} * 20; i++)); do
        st=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || break
        [ "$st" = Z ] && break
        sleep 0.05
    done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 0
}

cleanup() {
    local pid
    for pid in "${STARTED[@]}"; do stop_pid "$pid"; done
    STARTED=()
}

# free_port, ports: free TCP ports for servers (one, four), drawn below the
# kernel's ephemeral range (as tests/lib/harness.sh does), so that none of
# the 20,000 outgoing connections can take one between the draw and the bind.
free_ports() {
    /usr/bin/python3 - "$1" <<'PY'
import random, socket, sys
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
got = []
for _ in range(1000):
    if len(got) == int(sys.argv[1]):
        break
    port = random.randrange(10000, low)
    if port in got:
        continue
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", port))
        got.append(port)
    except OSError:
        pass
    finally:
        s.close()
print(" ".join(map(str, got)))
PY
}
free_port() { free_ports 1; }
ports() { free_ports 4; }

# --- one node: nginx + aphlict-admin + aphlict-push --------------------------------
# node_up NAME ADDR ADMIN_PORT "CLIENT_PORT..." [CLUSTER_JSON]: starts a node with
# its own state in $OUT/NAME, serving WebSockets on every CLIENT_PORT (several
# ports on one address spread 20,000 client connections over several 4-tuple
# spaces: connect() then finds a free ephemeral port at once); sets N_DIR,
# N_CFG, N_ADMIN, N_NGINX, N_WORKER, N_PUSH and N_WS (--ws arguments).
node_up() {
    local name=$1 addr=$2 pa=$3 pcs=$4 cluster=${5:-[]} pc servers=""
    N_DIR=$OUT/$name
    rm -rf "$N_DIR"
    mkdir -p "$N_DIR/state"
    chmod 755 "$N_DIR" "$N_DIR/state"
    N_CFG=$N_DIR/aphlict.json
    N_WS=()
    for pc in $pcs; do
        servers+='{"type": "client", "port": '$pc', "listen": "'$addr'"}, '
        N_WS+=(--ws "ws://$addr:$pc/")
    done
    cat > "$N_CFG" <<JSON
{
  "servers": [$servers
              {"type": "admin", "port": $pa, "listen": "$addr"}],
  "logs": [],
  "cluster": $cluster,
  "admin.socket_mode": "0666",
  "cluster.retry_max_ms": 1000
}
JSON
    rm -f "$N_DIR/state/admin.sock"
    "$ADMIN_BIN" --config "$N_CFG" --state-dir "$N_DIR/state" --socket "$N_DIR/state/admin.sock" \
        >>"$N_DIR/admin.log" 2>&1 &
    N_ADMIN=$!; track "$N_ADMIN"
    stack_wait_socket "$N_DIR/state/admin.sock" 10 || return 1
    stack_nginx_conf "$N_DIR/nginx" "$addr" "$pa" "$N_DIR/state/admin.sock"
    nginx -p "$N_DIR/nginx" -c "$N_DIR/nginx/nginx.conf" >>"$N_DIR/nginx.log" 2>&1 &
    N_NGINX=$!; track "$N_NGINX"
    # PUSH_WRAP: a command to run the daemon under (bench/profile: valgrind).
    ${PUSH_WRAP:-} "$PUSH_BIN" --config "$N_CFG" --state-dir "$N_DIR/state" >>"$N_DIR/push.log" 2>&1 &
    N_PUSH=$!; track "$N_PUSH"
    echo "$N_PUSH" > "$N_DIR/push.pid"
    stack_wait_port "$addr" "$pa" 10 || return 1
    for pc in $pcs; do stack_wait_port "$addr" "$pc" "${PUSH_WAIT:-10}" || return 1; done
    N_WORKER=
    local i
    for ((i = 0; i < 40; i++)); do
        N_WORKER=$(awk '{print $1; exit}' "/proc/$N_NGINX/task/$N_NGINX/children" 2>/dev/null)
        [ -n "$N_WORKER" ] && break
        sleep 0.05
    done
    return 0
}


# node_down: stops every process started so far, and a push daemon that a
# storm hook started (its pid is in the node's push.pid).
node_down() {
    local f pid
    for f in "$OUT"/*/push.pid; do
        pid=$(cat "$f" 2>/dev/null)
        # Only a daemon of ours: its command line names our state directory.
        [ -n "$pid" ] && grep -qF "$OUT" "/proc/$pid/cmdline" 2>/dev/null && stop_pid "$pid"
        rm -f "$f"
    done
    cleanup
}

# lg ARGS...: one loadgen run; its JSON line goes to $JSON, its text to the log and stderr.
lg() {
    echo "+ loadgen $*" >>"$LOG"
    "$LOADGEN" --json "$JSON" "$@" 2> >(grep -v ' subscribed, .* connecting$' | tee -a "$LOG" >&2) >/dev/null
}

SERVERS() { echo --pid "push=$N_PUSH" --pid "admin=$N_ADMIN" --pid "nginx=$N_WORKER"; }

