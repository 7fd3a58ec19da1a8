#!/bin/bash
# The demo page (demo/, PROTOCOL.md section 3: what Phorge's browser client
# does) in a real headless Chromium, against the real stack: nginx serving
# the admin API and /demo/ as tools/quickstart does, aphlict-admin, and the
# push daemon, which is stopped and started again under the page's feet.
# Chromium is driven over the DevTools protocol by cdp.py.
. "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ] || ! /usr/bin/python3 -c 'import websockets' 2>/dev/null; then
    echo "1..0 # SKIP needs $CHROMIUM and python3-websockets"
    exit 0
fi
T0=$SECONDS
th_init
CDP=(/usr/bin/python3 "$TOP_SRCDIR/tests/integration/cdp.py")

# Three distinct free ports: WebSocket clients, admin (nginx), DevTools.
CPORT=$(th_port)
APORT=$(th_port); while [ "$APORT" = "$CPORT" ]; do APORT=$(th_port); done
DPORT=$(th_port); while [ "$DPORT" = "$CPORT" ] || [ "$DPORT" = "$APORT" ]; do DPORT=$(th_port); done
URL=http://127.0.0.1:$APORT
CFG=$TH_DIR/aphlict.json
th_config "$CFG" '{
  "servers": [
    {"type": "client", "port": '"$CPORT"', "listen": "127.0.0.1"},
    {"type": "admin", "port": '"$APORT"', "listen": "127.0.0.1"}
  ],
  "admin.socket_mode": "0666"
}'

# --- the stack ----------------------------------------------------------------
th_start_admin "$CFG"
# nginx as tools/quickstart writes it: the admin API, and /demo/ from the tree.
stack_nginx_conf "$TH_DIR/nginx" 127.0.0.1 "$APORT" "$ADMIN_SOCK" "" "" \
    "location /demo/ { alias $TOP_SRCDIR/demo/; }"
th_run_nginx "$TH_DIR/nginx" "$APORT"

start_push() {
    "$PUSH_BIN" --config "$CFG" --state-dir "$TH_DIR/state" >>"$TH_DIR/push.log" 2>&1 &
    PUSH_PID=$!
    th_track "$PUSH_PID"
    stack_wait_port 127.0.0.1 "$CPORT" 10
}
start_push

th_http GET "$URL/demo/"
is "$HTTP_CODE" 200 "nginx serves /demo/ as tools/quickstart configures it"
like "$HTTP_BODY" 'aphlict-c demo client' "... and it is the demo page"
th_http GET "$URL/demo/client.js"
like "$HTTP_HEADERS" 'Content-Type: application/javascript' "... with client.js as application/javascript"

# --- the browser ----------------------------------------------------------------
mkdir -p "$TH_DIR/chromium-profile"
"$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$TH_DIR/chromium-profile" --remote-debugging-address=127.0.0.1 \
    --remote-debugging-port="$DPORT" about:blank >>"$TH_DIR/chromium.log" 2>&1 &
CHROME_PID=$!
th_track "$CHROME_PID"
if ! stack_wait_port 127.0.0.1 "$DPORT" 30; then
    echo "Bail out! Chromium's DevTools port $DPORT never opened (see $TH_DIR/chromium.log)"
    TH_FAILED=1
    exit 1
fi

cdp() { timeout 60 "${CDP[@]}" "$DPORT" "$@" 2>>"$TH_DIR/cdp.log"; }
# js EXPR: the value of EXPR in the page (a string as is, else JSON).
js() { cdp eval "$TARGET" "$1"; }
# wait_js EXPR SECONDS: polls EXPR in the page until it is truthy.
wait_js() { cdp wait "$TARGET" "$1" "$2" >/dev/null; }
# shown UID: how many list items show that uniqueID.
shown() { js "document.querySelectorAll('li.notification[data-unique-id=\"$1\"]').length"; }
post() {
    th_http POST "$URL/" "$1"
    is "$HTTP_CODE" 200 "$2"
}
notification() {   # notification UID KEY PHID...
    local uid=$1 key=$2; shift 2
    local subs; subs=$(printf '"%s",' "$@")
    printf '{"type":"notification","key":"%s","subscribers":[%s],"uniqueID":"%s"}' "$key" "${subs%,}" "$uid"
}

ME=PHID-USER-demo
PROJ=PHID-PROJ-demo
# ping=1000: the page pings every second (15 s by default, as Phorge) so
# that the test sees a pong within its time.
PAGE="$URL/demo/index.html?ws=ws://127.0.0.1:$CPORT/&phids=$ME,$PROJ&ping=1000"
TARGET=$(cdp open "$PAGE")
like "$TARGET" '^[0-9A-Fa-f]{16,}$' "Chromium opens the demo page in a new tab"

ok wait_js "document.getElementById('status').textContent === 'connected'" 15 \
    "the page says connected"
is "$(js "aphlictDemo.sent.filter(function (t) { return JSON.parse(t).command !== 'ping'; }).join(' ')")" \
    '{"command":"subscribe","data":["'"$ME"'","'"$PROJ"'"]}' \
    "on the first connect the page sends subscribe with its PHIDs, and no replay"

# --- delivery ---------------------------------------------------------------------
U1=$(th_uid brw 1); U2=$(th_uid brw 2); U3=$(th_uid brw 3); U4=$(th_uid brw 4)
U5=$(th_uid brw 5); U6=$(th_uid brw 6)

post "$(notification "$U1" 1001 PHID-USER-nobody "$ME")" "a notification for the page's PHID is accepted"
ok wait_js "document.querySelectorAll('li.notification[data-unique-id=\"$U1\"]').length > 0" 10 \
    "... and appears on the page"
like "$(js "document.querySelector('li.notification[data-unique-id=\"$U1\"]').textContent")" \
    "notification.*1001" "... showing its type and key"

# Not for us, then one for the page's other PHID: the second arriving
# proves the first would have arrived by then (one connection, in order).
post "$(notification "$U2" 1002 PHID-USER-other)" "a notification for another PHID is accepted"
post "$(notification "$U3" 1003 "$PROJ")" "a notification for the page's second PHID is accepted"
ok wait_js "document.querySelectorAll('li.notification[data-unique-id=\"$U3\"]').length > 0" 10 \
    "the notification for the page's second PHID appears"
is "$(shown "$U2")" 0 "the notification for another PHID does not"

post "$(notification "$U4" 1004 "$ME")" "a notification is accepted"
post "$(notification "$U4" 1004 "$ME")" "the same uniqueID posted again is accepted"
post "$(notification "$U5" 1005 "$ME")" "a third one is accepted"
ok wait_js "document.querySelectorAll('li.notification[data-unique-id=\"$U5\"]').length > 0" 10 \
    "the third one appears"
is "$(shown "$U4")" 1 "the uniqueID posted twice shows once"

ok wait_js "aphlictDemo.pongs > 0" 10 "the page pings and the server answers with pong"
is "$(js "document.querySelectorAll('li.notification').length + ' ' + document.querySelectorAll('li[data-type=\"pong\"]').length")" \
    '4 0' "pongs are not shown; the page shows exactly the 4 notifications for it"

active=""
for _ in $(seq 50); do
    th_http GET "$URL/status/"
    active=$(th_json_get "$HTTP_BODY" clients.active)
    [ "$HTTP_CODE" = 200 ] && [ "$active" = 1 ] && break
    sleep 0.1
done
is "$HTTP_CODE $active" "200 1" "/status/ counts the browser as one active client"

# --- the push daemon goes away and comes back -------------------------------------
th_stop "$PUSH_PID"
ok wait_js "/^reconnecting in [0-9]+ s\$/.test(document.getElementById('status').textContent)" 10 \
    "with the push daemon stopped, the page says reconnecting in N s"
ok wait_js "aphlictDemo.nextDelayMs >= 2000" 10 \
    "when reconnecting at once fails, the page waits 2 s before the next attempt"
post "$(notification "$U6" 1006 "$ME")" "a notification posted while the push daemon is down is accepted (queued)"
is "$(th_count "SELECT count(*) FROM messages WHERE unique_id='$U6'")" 1 "... and it is in the queue"
t_restart=$SECONDS
start_push
ok wait_js "document.querySelectorAll('li.notification[data-unique-id=\"$U6\"]').length > 0" 15 \
    "within 15 s of the restart the page reconnects and shows it (from replay)"
echo "# the page showed the queued message $((SECONDS - t_restart)) s after the restart"
is "$(js "document.getElementById('status').textContent")" connected "the page says connected again"
# S: the subscribe above, R: {"command":"replay","data":{"age":60000}}.
like "$(js "aphlictDemo.sent.filter(function (t) { return JSON.parse(t).command !== 'ping'; }).map(function (t) {
        return t === '{\"command\":\"subscribe\",\"data\":[\"$ME\",\"$PROJ\"]}' ? 'S' :
               t === '{\"command\":\"replay\",\"data\":{\"age\":60000}}' ? 'R' : '?'; }).join('')")" \
    '^S(SR)+$' "on every reconnect the page sends subscribe, then replay with age 60000"
# While it stops, the push daemon refuses handshakes before they complete,
# so the browser sees a failed connection and backs off: one more open.
is "$(js "aphlictDemo.opens")" 2 "across the restart the page opened one more connection, not one per refused handshake"
# The replay sent U1, U3, U4, U5 again: the page must have dropped them.
ok wait_js "aphlictDemo.duplicates >= 4" 5 "the replayed messages already shown were dropped as duplicates"
is "$(js "[$(printf "'%s'," "$U1" "$U3" "$U4" "$U5" "$U6")].map(function (u) { return document.querySelectorAll('li.notification[data-unique-id=\"' + u + '\"]').length; }).join(' ') + ' / ' + document.querySelectorAll('li.notification').length")" \
    '1 1 1 1 1 / 5' "after the replay each notification is shown exactly once"

# --- a picture, and the end -----------------------------------------------------------
cdp screenshot "$TARGET" "$TH_DIR/page.png"
is "$(head -c 8 "$TH_DIR/page.png" 2>/dev/null | od -An -tx1 | tr -d ' \n')" 89504e470d0a1a0a \
    "a screenshot of the page is a PNG"
ok test "$(stat -c %s "$TH_DIR/page.png" 2>/dev/null || echo 0)" -gt 1000 "... and not an empty one"

ok test -z "$(grep -E 'Sanitizer|runtime error' "$TH_DIR/push.log" "$TH_DIR/admin.log")" \
    "neither daemon left a sanitizer report (the first push daemon has exited)"

cdp close
th_wait_exit "$CHROME_PID" 10 || th_stop "$CHROME_PID" KILL
is "$TH_STATUS" 0 "Chromium exits when asked to"
echo "# browser test took $((SECONDS - T0)) s"
th_done
