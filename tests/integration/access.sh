#!/bin/bash
# Access control (issue 6): who may publish (admin.allow, by the address
# the web server passes), relays signed with cluster.secret, the Origin
# allow-list of the client port, and running as an unprivileged user.
. "$(dirname "$0")/../lib/harness.sh"
th_init
PUSH_PORT=$(th_port)
ADMIN_PORT=$(th_port)
th_config "$TH_DIR/aphlict.json" '{
  "servers": [{"type": "client", "port": '"$PUSH_PORT"', "listen": "127.0.0.1"},
              {"type": "admin", "port": '"$ADMIN_PORT"', "listen": "127.0.0.1"}],
  "admin.socket_mode": "0666",
  "admin.allow": ["127.0.0.2/32", "2001:db8::/32"],
  "cluster.secret": "s3cret",
  "client.allowed_origins": ["https://phorge.example.com"],
  "process.user": "nobody",
  "queue.mode": "0640"
}'
th_start_admin "$TH_DIR/aphlict.json"
th_start_nginx "$ADMIN_PORT"
th_start_push "$TH_DIR/aphlict.json"
URL=http://127.0.0.1:$ADMIN_PORT/
MSG='{"type":"notification","key":"acl","subscribers":["PHID-USER-acl"]}'
sig() { /usr/bin/python3 -c 'import hmac,hashlib,sys; print("sha256=" + hmac.new(sys.argv[1].encode(), sys.argv[2].encode(), hashlib.sha256).hexdigest())' "$1" "$2"; }
post() { curl -sS -o "$TH_DIR/body" -w '%{http_code}' -H 'Content-Type: application/json' "$@" "$URL"; }

is "$(post -d "$MSG")" 403 "a publish from an address outside admin.allow answers 403"
like "$(cat "$TH_DIR/body")" '"error":".*admin\.allow' "... saying why"
is "$(post --interface 127.0.0.2 -d "$MSG")" 200 "a publish from an address in admin.allow answers 200"
is "$(post -H "X-Aphlict-Signature: $(sig s3cret "$MSG")" -d "$MSG")" 200 \
    "a relay signed with cluster.secret is accepted from any address"
is "$(post -H "X-Aphlict-Signature: $(sig wrong "$MSG")" --interface 127.0.0.2 -d "$MSG")" 403 \
    "a wrong signature answers 403, even from an allowed address"
like "$(cat "$TH_DIR/body")" 'X-Aphlict-Signature' "... naming the header"
is "$(th_sql "SELECT count(*) FROM messages")" 2 "only the two accepted publishes are in the queue"
th_http GET "$URL/status/"
is "$HTTP_CODE" 200 "/status/ stays readable from anywhere"

# Running as nobody, with the queue's mode.
nobody=$(id -u nobody)
is "$(awk '/^Uid:/ {print $2}' "/proc/$ADMIN_PID/status")" "$nobody" "aphlict-admin runs as process.user"
is "$(awk '/^Uid:/ {print $2}' "/proc/$PUSH_PID/status")" "$nobody" "aphlict-push runs as process.user"
is "$(stat -c '%U %a' "$TH_DIR/state/queue.db")" "nobody 640" "the queue file is the user's, mode queue.mode (0640)"
is "$(stat -c '%a' "$TH_DIR/state/queue.db-wal")" 640 "its WAL has the same mode"

# The Origin allow-list of the client port.
/usr/bin/python3 - "ws://127.0.0.1:$PUSH_PORT/" > "$TH_DIR/origin.out" 2>&1 <<'PY'
import asyncio, sys, websockets
async def attempt(origin):
    try:
        async with websockets.connect(sys.argv[1], origin=origin, open_timeout=5) as ws:
            await ws.send('{"command":"ping","data":null}')
            return "open " + await asyncio.wait_for(ws.recv(), 5)
    except Exception as e:
        return "refused " + type(e).__name__
async def main():
    print(await attempt("https://phorge.example.com"))
    print(await attempt("https://evil.example.com"))
asyncio.run(main())
PY
is "$(sed -n 1p "$TH_DIR/origin.out")" 'open {"type":"pong"}' "a WebSocket from an allowed Origin is served"
like "$(sed -n 2p "$TH_DIR/origin.out")" '^refused' "a WebSocket from another Origin is refused at the handshake"

# A bad admin.allow entry stops the app at start, naming the key.
th_config "$TH_DIR/bad.json" '{"servers": [{"type": "admin", "port": 1}], "admin.allow": ["300.1.1.1/8"]}'
out=$("$ADMIN_BIN" --config "$TH_DIR/bad.json" --state-dir "$TH_DIR/bad-state" --socket "$TH_DIR/bad.sock" 2>&1)
is "$?" 1 "a bad admin.allow entry stops aphlict-admin"
like "$out" 'bad\.json: admin\.allow: entry 0: "300\.1\.1\.1/8"' "... naming the file, the key and the entry"
kill -0 "$ADMIN_PID" && kill -0 "$PUSH_PID"
is $? 0 "both programs still run"
th_done
