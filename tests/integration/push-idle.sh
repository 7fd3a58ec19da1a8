#!/bin/bash
# Dead connections and the daemon's own files (issue 7), on lws's poll()
# loop (client.event_loop "poll"; every other test runs epoll): a listener that
# never answers WebSocket pings is closed after client.idle_timeout_s (ping)
# plus as long again (hangup), one that answers stays; the pid file, and
# log files reopened on SIGHUP.
. "$(dirname "$0")/../lib/harness.sh"
th_init
PUSH_PORT=$(th_port)
th_config "$TH_DIR/aphlict.json" '{
  "servers": [{"type": "client", "port": '"$PUSH_PORT"', "listen": "127.0.0.1"}],
  "logs": [{"path": "'"$TH_DIR/push-file.log"'"}],
  "pidfile": "'"$TH_DIR/aphlict.pid"'",
  "client.idle_timeout_s": 5,
  "client.event_loop": "poll"
}'
th_start_push "$TH_DIR/aphlict.json"
# The other tests run the default loop (epoll); this one lws's own poll().
like "$(cat "$TH_DIR/push-file.log")" 'event loop: poll\(\)' "client.event_loop \"poll\": the daemon runs lws's own poll() loop"
is "$(cat "$TH_DIR/aphlict.pid")" "$PUSH_PID" "the pid file holds the daemon's PID"

/usr/bin/python3 - "$PUSH_PORT" > "$TH_DIR/idle.out" 2>&1 <<'PY'
import asyncio, base64, os, socket, sys, time, websockets
port = int(sys.argv[1])
def dead():
    """A raw WebSocket client that completes the handshake, then never
    answers anything (no pong to the server's pings)."""
    s = socket.create_connection(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(f"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
    return s
async def main():
    s = dead()
    alive = await websockets.connect(f"ws://127.0.0.1:{port}/", ping_interval=None)  # it still answers pings
    t0 = time.time()
    s.settimeout(0.5)
    closed_after = None
    while time.time() - t0 < 25:
        try:
            if s.recv(4096) == b"" :
                closed_after = time.time() - t0
                break
        except socket.timeout:
            pass
        await asyncio.sleep(0)   # let the live client answer pings
        await asyncio.sleep(0.2)
    print("dead closed after", None if closed_after is None else round(closed_after, 1))
    await alive.send('{"command":"ping","data":null}')
    print("alive", await asyncio.wait_for(alive.recv(), 5))
asyncio.run(main())
PY
dead=$(sed -n 's/^dead closed after //p' "$TH_DIR/idle.out")
ok test -n "$dead" -a "$dead" != None "a listener that never answers pings is closed (after ${dead:-?} s)"
ok /usr/bin/python3 -c "import sys; sys.exit(not 9 <= float('${dead:-0}'.replace('None','0')) <= 20)" \
    "... after about twice client.idle_timeout_s (5 s), not before"
is "$(sed -n 's/^alive //p' "$TH_DIR/idle.out")" '{"type":"pong"}' "a listener that answers pings stays connected"

# SIGHUP reopens the log files (logrotate's postrotate).
mv "$TH_DIR/push-file.log" "$TH_DIR/push-file.log.1"
kill -HUP "$PUSH_PID"
for _ in $(seq 100); do [ -e "$TH_DIR/push-file.log" ] && grep -q SIGHUP "$TH_DIR/push-file.log" && break; sleep 0.05; done
like "$(cat "$TH_DIR/push-file.log" 2>/dev/null)" 'aphlict-push\[[0-9]+\] info: SIGHUP: log files reopened' \
    "SIGHUP: the log file is reopened at its path, with a timestamped line"
like "$(cat "$TH_DIR/push-file.log.1")" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z aphlict-push\[[0-9]+\] info: ' \
    "log lines carry a UTC timestamp, the program and the level"
th_stop "$PUSH_PID"
ok test ! -e "$TH_DIR/aphlict.pid" "the pid file is removed at exit"
th_done
