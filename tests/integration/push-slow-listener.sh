#!/bin/bash
# A listener that never reads while 10,000 messages flow (PROTOCOL.md
# section 3, Beyond): it is cut off once its send queue passes the bound,
# the daemon's memory stays bounded, and a reading listener still gets
# every message, in order.
. "$(dirname "$0")/../lib/harness.sh"
th_init
PUSH_PORT=$(th_port)
ADMIN_PORT=$(th_port)
th_config "$TH_DIR/aphlict.json" '{
  "servers": [{"type": "client", "port": '"$PUSH_PORT"', "listen": "127.0.0.1"},
              {"type": "admin", "port": '"$ADMIN_PORT"', "listen": "127.0.0.1"}],
  "admin.socket_mode": "0666",
  "client.send_queue_bytes": 1048576,
  "client.send_queue_frames": 4096,
  "history.max_messages": 200
}'
th_start_admin "$TH_DIR/aphlict.json"
th_start_nginx "$ADMIN_PORT"
# A small quarantine, so that ASan's held-back frees do not read as growth.
ASAN_OPTIONS=${ASAN_OPTIONS:-}:quarantine_size_mb=4 th_start_push "$TH_DIR/aphlict.json"

WS=ws://127.0.0.1:$PUSH_PORT ADMIN=http://127.0.0.1:$ADMIN_PORT PUSH_PID=$PUSH_PID COUNT=10000 PAD=8000 \
    th_py "$TOP_SRCDIR/tests/integration/push_slow_listener.py"
like "$(cat "$TH_DIR/push.log")" 'send queue full' "the daemon logs the listener it cut off"
kill -0 "$PUSH_PID" 2>/dev/null
is $? 0 "the daemon is still running"
th_done
