#!/bin/bash
# The two other ways aphlict-admin gets its FastCGI socket: handed a
# listening UNIX socket on standard input (spawn-fcgi here; systemd socket
# activation and mod_fcgid do the same), and listening on TCP host:port
# itself. Both behind real nginx.
. "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"
th_init
th_config "$TH_DIR/aphlict.json" '{
  "servers": [{"type": "admin", "port": 22281, "listen": "127.0.0.1"}]
}'

# serves LABEL URL PREFIX: POST, the row, /status/, an error, POST again.
serves() {
    local label=$1 url=$2 p=$3
    th_http POST "$url/" '{"type":"notification","subscribers":["PHID-USER-a"],"uniqueID":"'"$(th_uid "$p" 1)"'"}'
    is "$HTTP_CODE" 200 "$label: POST / answers 200"
    is "$HTTP_BODY" "{\"fingerprint\":\"$(th_sql "SELECT fingerprint FROM node")\"}" "$label: ... with the receipt"
    is "$(th_sql "SELECT instance FROM messages WHERE unique_id='$(th_uid "$p" 1)'")" default "$label: ... and the message landed"
    th_http POST "$url/?instance=acme" '{"type":"notification","subscribers":["PHID-USER-a"],"uniqueID":"'"$(th_uid "$p" 2)"'"}'
    is "$(th_sql "SELECT instance FROM messages WHERE unique_id='$(th_uid "$p" 2)'")" acme "$label: ?instance=acme lands in acme"
    th_http GET "$url/status/"
    is "$HTTP_CODE" 503 "$label: /status/ answers 503 (no push daemon)"
    like "$(th_json_get "$HTTP_BODY" error)" 'push daemon not running' "$label: ... with the JSON saying why"
    is "$(th_json_get "$HTTP_BODY" messages.in)" "$(th_sql "SELECT messages_in FROM instance_counters WHERE instance='default'")" \
       "$label: ... and messages.in from the queue"
    th_http POST "$url/" 'not json'
    is "$HTTP_CODE" 400 "$label: a bad body answers 400"
    th_http POST "$url/" '{"subscribers":["PHID-USER-a"],"uniqueID":"'"$(th_uid "$p" 3)"'"}'
    is "$HTTP_CODE" 200 "$label: ... and the next POST 200"
    is "$(th_sql "SELECT count(*) FROM messages WHERE unique_id LIKE '$p%'")" 3 "$label: exactly the 3 good messages are queued"
}

# --- a listening socket on standard input (spawn-fcgi -n) ---------------------
SOCK=$TH_DIR/state/spawned.sock
spawn-fcgi -n -s "$SOCK" -M 0666 -- "$ADMIN_BIN" --config "$TH_DIR/aphlict.json" --state-dir "$TH_DIR/state" \
    >>"$TH_DIR/admin.log" 2>&1 &
SPAWN_PID=$!
th_track "$SPAWN_PID"
stack_wait_socket "$SOCK" 10
PORT=$(th_port)
th_start_nginx "$PORT" "$SOCK"
URL=http://127.0.0.1:$PORT
serves "stdin socket" "$URL" stdin
is "$(stat -c %a "$SOCK")" 666 "stdin socket: the socket keeps the mode spawn-fcgi gave it (-M 0666)"
like "$(cat "$TH_DIR/admin.log")" 'listening on the socket passed as standard input' "stdin socket: the app says it serves standard input"
is "$(readlink "/proc/$SPAWN_PID/exe")" "$ADMIN_BIN" "stdin socket: spawn-fcgi -n exec'd the app itself (its PID is ours)"
ok kill -0 "$SPAWN_PID" "stdin socket: the app is still running"
kill -TERM "$SPAWN_PID"
th_wait_exit "$SPAWN_PID" 10
is "$TH_STATUS" 0 "stdin socket: SIGTERM makes it exit 0"
th_http POST "$URL/" '{"subscribers":["PHID-USER-a"]}'
is "$HTTP_CODE" 502 "stdin socket: with the app gone nginx answers 502"
th_stop "$NGINX_PID"

# --- TCP: --socket 127.0.0.1:PORT ------------------------------------------
FPORT=$(th_port)
"$ADMIN_BIN" --config "$TH_DIR/aphlict.json" --state-dir "$TH_DIR/state" --socket "127.0.0.1:$FPORT" \
    >>"$TH_DIR/admin-tcp.log" 2>&1 &
TCP_PID=$!
th_track "$TCP_PID"
stack_wait_port 127.0.0.1 "$FPORT" 10
listen=$(ss -Hltn "sport = :$FPORT" | awk '{print $4}')
is "$listen" "127.0.0.1:$FPORT" "tcp: the app listens on 127.0.0.1:$FPORT only"
PORT=$(th_port)
NDIR=$TH_DIR/nginx-tcp
stack_nginx_conf "$NDIR" 127.0.0.1 "$PORT" /nonexistent.sock
sed -i "s|fastcgi_pass unix:[^;]*;|fastcgi_pass 127.0.0.1:$FPORT;|" "$NDIR/nginx.conf"
is "$(grep -c "fastcgi_pass 127.0.0.1:$FPORT;" "$NDIR/nginx.conf")" 1 "tcp: nginx.conf passes to 127.0.0.1:$FPORT"
th_run_nginx "$NDIR" "$PORT"
URL=http://127.0.0.1:$PORT
serves "tcp" "$URL" tcpsock
ok kill -0 "$TCP_PID" "tcp: the app is still running"
# Several at once over TCP, a new connection each.
seq 1 40 | timeout 60 xargs -P 8 -I{} curl -sS -o /dev/null -w '%{http_code}\n' --max-time 20 -H 'Expect:' \
    -H 'Content-Type: application/json' --data-binary '{"subscribers":["PHID-USER-p"],"uniqueID":"tcppar{}"}' "$URL/" \
    >"$TH_DIR/par.codes" 2>/dev/null
is "$(grep -c '^200$' "$TH_DIR/par.codes")" 40 "tcp: 40 posts 8 at a time all answer 200"
is "$(th_sql "SELECT count(*) FROM messages WHERE unique_id LIKE 'tcppar%'")" 40 "tcp: ... and all 40 landed"
kill -TERM "$TCP_PID"
th_wait_exit "$TCP_PID" 10
is "$TH_STATUS" 0 "tcp: SIGTERM makes it exit 0"
ok test -z "$(ss -Hltn "sport = :$FPORT")" "tcp: ... and the port is closed"

th_done
