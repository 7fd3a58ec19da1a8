#!/bin/bash
# The client API (PROTOCOL.md section 3) against the real stack: nginx,
# aphlict-admin, a SQLite file and aphlict-push, with real WebSocket
# clients; and the live /status/ counters of section 2.
. "$(dirname "$0")/../lib/harness.sh"
th_init
PUSH_PORT=$(th_port)
ADMIN_PORT=$(th_port)
th_config "$TH_DIR/aphlict.json" '{
  "servers": [{"type": "client", "port": '"$PUSH_PORT"', "listen": "127.0.0.1"},
              {"type": "admin", "port": '"$ADMIN_PORT"', "listen": "127.0.0.1"}],
  "admin.socket_mode": "0666",
  "client.max_frame_bytes": 65536,
  "client.max_subscriptions": 100
}'
th_start_admin "$TH_DIR/aphlict.json"
th_start_nginx "$ADMIN_PORT"
th_start_push "$TH_DIR/aphlict.json"

th_http GET "http://127.0.0.1:$PUSH_PORT/"
is "$HTTP_CODE" 501 "a plain HTTP request to the client port answers 501"
th_http GET "http://127.0.0.1:$PUSH_PORT/anything/else?x=1"
is "$HTTP_CODE" 501 "... on any path"

WS=ws://127.0.0.1:$PUSH_PORT ADMIN=http://127.0.0.1:$ADMIN_PORT \
    th_py "$TOP_SRCDIR/tests/integration/push_protocol.py"

kill -0 "$PUSH_PID" 2>/dev/null
is $? 0 "the daemon is still running after every bad input"

# SIGTERM: listeners are closed with going-away (1001), the daemon exits 0.
/usr/bin/python3 - "ws://127.0.0.1:$PUSH_PORT/" > "$TH_DIR/goaway.out" 2>&1 <<'PY' &
import asyncio, sys, websockets
async def main():
    async with websockets.connect(sys.argv[1]) as ws:
        print("open", flush=True)
        try:
            await asyncio.wait_for(ws.recv(), 20)
        except websockets.ConnectionClosed as e:
            print("closed", e.code, flush=True)
asyncio.run(main())
PY
client=$!
for _ in $(seq 50); do grep -q open "$TH_DIR/goaway.out" && break; sleep 0.1; done
kill -TERM "$PUSH_PID"
wait "$PUSH_PID"
is $? 0 "SIGTERM: the daemon exits 0"
wait "$client"
like "$(cat "$TH_DIR/goaway.out")" 'closed 1001' "SIGTERM: listeners are closed with going-away (1001)"
ok test ! -S "$TH_DIR/state/push.wake" "SIGTERM: the doorbell socket is removed"
th_http GET "http://127.0.0.1:$ADMIN_PORT/status/"
is "$HTTP_CODE" 503 "/status/ answers 503 at once after the daemon stopped"
th_done
