#!/bin/bash
# The cluster relay (PROTOCOL.md section 4) on three nodes, each on its own
# loopback address (127.0.0.2-4) with its own nginx, aphlict-admin,
# aphlict-push and queue, every node listing all three (itself included).
. "$(dirname "$0")/../lib/harness.sh"
th_init
PA=$(th_port)
PC=$(th_port)
cluster='[{"host":"127.0.0.2","port":'$PA',"protocol":"http"},{"host":"127.0.0.3","port":'$PA',"protocol":"http"},{"host":"127.0.0.4","port":'$PA',"protocol":"http"}]'
declare -A ADMIN_PIDS NGINX_PIDS PUSH_PIDS

start_nginx_node() {
    local n=$1 addr=127.0.0.$(($1 + 1)) d=$TH_DIR/node$1
    stack_nginx_conf "$d/nginx" "$addr" "$PA" "$d/state/admin.sock"
    setsid nginx -p "$d/nginx" -c "$d/nginx/nginx.conf" >>"$d/nginx.log" 2>&1 &
    NGINX_PIDS[$n]=$!; th_track $!
    stack_wait_port "$addr" "$PA" 10
}

start_node() {
    local n=$1 addr=127.0.0.$(($1 + 1)) d=$TH_DIR/node$1
    mkdir -p "$d/state"
    chmod 755 "$d" "$d/state"
    th_config "$d/aphlict.json" '{
      "servers": [{"type": "client", "port": '"$PC"', "listen": "'"$addr"'"},
                  {"type": "admin", "port": '"$PA"', "listen": "'"$addr"'"}],
      "cluster": '"$cluster"',
      "admin.socket_mode": "0666",
      "cluster.retry_max_ms": 1000
    }'
    rm -f "$d/state/admin.sock"
    # Each process leads its own process group, so that "the node dies"
    # can kill nginx's workers with their master.
    setsid "$ADMIN_BIN" --config "$d/aphlict.json" --state-dir "$d/state" --socket "$d/state/admin.sock" >>"$d/admin.log" 2>&1 &
    ADMIN_PIDS[$n]=$!; th_track $!
    stack_wait_socket "$d/state/admin.sock" 10
    start_nginx_node "$n"
    setsid "$PUSH_BIN" --config "$d/aphlict.json" --state-dir "$d/state" >>"$d/push.log" 2>&1 &
    PUSH_PIDS[$n]=$!; th_track $!
    stack_wait_port "$addr" "$PA" 10 && stack_wait_port "$addr" "$PC" 10
}
for n in 1 2 3; do start_node $n; done
node_sql() { sqlite3 -batch "$TH_DIR/node$1/state/queue.db" "$2"; }

export PA PC TH_DIR
PHASE=mesh th_py "$TOP_SRCDIR/tests/integration/cluster.py"

# Every node learned the fingerprints and found itself in the list.
for n in 1 2 3; do
    is "$(node_sql $n "SELECT count(*) FROM peers WHERE fingerprint IS NOT NULL")" 3 "node $n learned all three fingerprints"
    is "$(node_sql $n "SELECT url FROM peers WHERE is_self = 1")" "http://127.0.0.$((n + 1)):$PA/" "node $n recognised itself in the list"
    is "$(node_sql $n "SELECT fingerprint FROM peers WHERE is_self = 1")" "$(node_sql $n "SELECT fingerprint FROM node")" \
        "node $n: its own entry carries its own fingerprint"
done

# SIGKILL node 3 while messages flow to nodes 1 and 2.
PHASE=kill KILL_PIDS="${ADMIN_PIDS[3]} ${NGINX_PIDS[3]} ${PUSH_PIDS[3]}" \
    th_py "$TOP_SRCDIR/tests/integration/cluster.py"
like "$(node_sql 1 "SELECT last_error FROM peers WHERE url LIKE '%127.0.0.4%'")" '.' "node 1 records the error of the dead peer"
behind=$(node_sql 1 "SELECT messages_behind FROM peer_status WHERE url LIKE '%127.0.0.4%'")
ok test "${behind:-0}" -gt 0 "peer_status shows how far behind the dead peer is ($behind messages)"

# Restart node 3: its peers send it the backlog.
start_node 3
PHASE=backlog th_py "$TOP_SRCDIR/tests/integration/cluster.py"

# A partition: node 2's admin port goes away (its nginx killed) while its
# listeners stay connected; messages posted to nodes 1 and 3 meanwhile
# reach node 2's listeners once the partition heals, each exactly once.
# The python half runs in the foreground (its results count); a watcher
# restarts node 2's nginx when asked, and leaves its PID in a file.
(
    for _ in $(seq 300); do [ -f "$TH_DIR/partition-heal" ] && break; sleep 0.1; done
    start_nginx_node 2 && echo "${NGINX_PIDS[2]}" > "$TH_DIR/partition-nginx.pid"
    touch "$TH_DIR/partition-healed"
) &
watcher=$!
PHASE=partition CUT_PID=${NGINX_PIDS[2]} th_py "$TOP_SRCDIR/tests/integration/cluster.py"
wait "$watcher"
th_track "$(cat "$TH_DIR/partition-nginx.pid")"
th_done
