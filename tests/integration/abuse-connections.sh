#!/bin/bash
# Abuse (issue 6): CONNS (2,000) WebSocket listeners opened at once against
# the real stack. Every one is accepted and gets a message published to
# all of them; /status/ counts them; closed cleanly, clients.active goes
# back to 0; the daemon's memory stays bounded and it serves a new
# listener afterwards.
. "$(dirname "$0")/../lib/harness.sh"
th_init
ulimit -n 20000 2>/dev/null || true
CONNS=${ABUSE_CONNS:-2000}
PUSH_PORT=$(th_port)
ADMIN_PORT=$(th_port)
th_config "$TH_DIR/aphlict.json" '{
  "servers": [{"type": "client", "port": '"$PUSH_PORT"', "listen": "127.0.0.1"},
              {"type": "admin", "port": '"$ADMIN_PORT"', "listen": "127.0.0.1"}],
  "admin.socket_mode": "0666"
}'
th_start_admin "$TH_DIR/aphlict.json"
th_start_nginx "$ADMIN_PORT"
# A small quarantine, so that ASan's held-back frees do not read as growth.
ASAN_OPTIONS=${ASAN_OPTIONS:-}:quarantine_size_mb=4 th_start_push "$TH_DIR/aphlict.json"

WS=ws://127.0.0.1:$PUSH_PORT ADMIN=http://127.0.0.1:$ADMIN_PORT PUSH_PID=$PUSH_PID CONNS=$CONNS \
    th_py "$TOP_SRCDIR/tests/integration/abuse_connections.py"

kill -0 "$PUSH_PID" 2>/dev/null
is $? 0 "the daemon is still running"
if grep -E 'ERROR: AddressSanitizer|runtime error' "$TH_DIR/push.log" >/dev/null; then
    th_result 0 "no sanitizer report in the daemon's log"
    grep -E -A5 'ERROR: AddressSanitizer|runtime error' "$TH_DIR/push.log" | head -20 | sed 's/^/#   /'
else
    th_result 1 "no sanitizer report in the daemon's log"
fi
th_done
