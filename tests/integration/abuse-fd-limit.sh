#!/bin/bash
# Abuse (issue 6): 20,000 WebSocket connections opened at once, as many as
# the open-file limit allows (20,000 here, even as root), from two
# bench/loadgen processes of 10,000 each, all handshakes in flight
# together. The daemon cannot hold them all (its own descriptors count
# against the same limit): it holds all it can, refuses the rest at
# accept, does not spin or flood its log doing so (lws 4.1 retried a
# failing accept on every turn of its loop, writing a line each time),
# keeps serving a listener connected before the storm, stays bounded in
# memory, and is back to that one listener once the storm leaves.
. "$(dirname "$0")/../lib/harness.sh"
th_init
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
LIMIT=$(ulimit -n)
HALF=$((LIMIT / 2))
LOADGEN=$TOP_BUILDDIR/bench/loadgen
ok test -x "$LOADGEN" "bench/loadgen is built (make check builds it)"

PORTS=()
for _ in 1 2 3 4; do PORTS+=("$(th_port)"); done
PUSH_PORT=${PORTS[0]}
ADMIN_PORT=$(th_port)
# Four client ports: 20,000 connections to one address and port make the
# kernel's search for a free ephemeral port the bottleneck (bench/RESULTS.md).
clients=""
for p in "${PORTS[@]}"; do clients+='{"type": "client", "port": '$p', "listen": "127.0.0.1"}, '; done
th_config "$TH_DIR/aphlict.json" '{
  "servers": ['"$clients"'{"type": "admin", "port": '"$ADMIN_PORT"', "listen": "127.0.0.1"}],
  "admin.socket_mode": "0666"
}'
th_start_admin "$TH_DIR/aphlict.json"
th_start_nginx "$ADMIN_PORT"
ASAN_OPTIONS=${ASAN_OPTIONS:-}:quarantine_size_mb=4 th_start_push "$TH_DIR/aphlict.json"
URL=http://127.0.0.1:$ADMIN_PORT
like "$(cat "$TH_DIR/push.log")" "listeners: at most $((LIMIT - 32)) descriptors \(open-file limit $LIMIT" \
    "the daemon keeps 32 of its $LIMIT descriptors for its queue and logs (no cluster peers)"
SHARE=$((LIMIT - 32))
like "$(cat "$TH_DIR/push.log")" 'event loop: epoll \(libev\)' "by default the daemon waits on its connections with epoll (libev)"

# A listener from before the storm; it prints each frame it gets.
"$SUBSCRIBE_BIN" --timeout 240 "ws://127.0.0.1:$PUSH_PORT/" PHID-USER-before >"$TH_DIR/before.frames" \
    2>"$TH_DIR/before.err" &
BEFORE_PID=$!
th_track "$BEFORE_PID"
for _ in $(seq 100); do grep -q '# connected' "$TH_DIR/before.err" && break; sleep 0.1; done

WS=()
for p in "${PORTS[@]}"; do WS+=(--ws "ws://127.0.0.1:$p/"); done
LG_PIDS=()
for i in 1 2; do
    ASAN_OPTIONS=detect_leaks=0 "$LOADGEN" --label "storm-$i" "${WS[@]}" --conns "$HALF" --phids 1 \
        --max-pending "$HALF" --connect-timeout 45 --hold 20 --max-time 150 --json "$TH_DIR/storm-$i.json" \
        >/dev/null 2>"$TH_DIR/loadgen-$i.err" &
    LG_PIDS+=($!)
    th_track "$!"
done

# While they connect and hold: the most listeners /status/ saw at once.
peak=0
for _ in $(seq 120); do
    th_http GET "$URL/status/"
    n=$(th_json_get "$HTTP_BODY" clients.active)
    case $n in ''|*[!0-9]*) n=0 ;; esac
    [ "$n" -gt "$peak" ] && peak=$n
    [ "$peak" -ge $((LIMIT - 400)) ] && break
    sleep 1
done
ok test "$peak" -ge $((LIMIT - 400)) -a "$peak" -le "$SHARE" \
    "the daemon holds ${peak} listeners at once, up to its share of the open-file limit ($SHARE)"
kill -0 "$PUSH_PID" 2>/dev/null
is $? 0 "the daemon is still running at the limit"

# At the limit, the listener from before is still served.
th_http POST "$URL/" '{"type":"notification","key":"at-the-limit","subscribers":["PHID-USER-before"]}'
is "$HTTP_CODE" 200 "a message published at the limit is accepted"
for _ in $(seq 100); do grep -q at-the-limit "$TH_DIR/before.frames" && break; sleep 0.1; done
like "$(cat "$TH_DIR/before.frames")" '"key":"at-the-limit"' "the listener from before the storm receives it"
rss=$(th_rss_kb "$PUSH_PID")

for i in 0 1; do th_wait_exit "${LG_PIDS[$i]}" 150; done
connected=$(/usr/bin/python3 -c 'import json, sys
print(sum(json.loads(open(f).readline())["connected"] for f in sys.argv[1:]))' "$TH_DIR"/storm-*.json 2>/dev/null)
ok test "${connected:-0}" -ge $((LIMIT - 400)) "the two load generators had ${connected:-?} of $LIMIT subscribed"
refused=$(grep -c 'Socket fd [0-9]* is too high\|accept: errno' "$TH_DIR/push.log")
lines=$(wc -l <"$TH_DIR/push.log")
ok test "$lines" -lt 5000 "the daemon's log stays short: $lines lines ($refused refusals written, the rest counted)"
if grep -q 'more lines in [0-9]* ms not written' "$TH_DIR/push.log"; then
    th_result 1 "... the refusals past 20 a second are counted in one line a second"
else
    th_result 0 "... the refusals past 20 a second are counted in one line a second"
    grep 'lws:' "$TH_DIR/push.log" | tail -5 | sed 's/^/#   /'
fi
# ASan roughly doubles the daemon's memory; 20,000 listeners and their
# handshakes take about 130 MB without it, 215 MB with it.
ok test "$rss" -lt 1000000 "the daemon's memory stays bounded at the limit (${rss} KiB)"

# Back to the one listener, and serving new ones.
active=
for _ in $(seq 60); do
    th_http GET "$URL/status/"
    active=$(th_json_get "$HTTP_BODY" clients.active)
    [ "$active" = 1 ] && break
    sleep 0.5
done
is "$active" 1 "once the storm is gone, /status/ counts the one listener from before"
"$SUBSCRIBE_BIN" --count 1 --timeout 30 "ws://127.0.0.1:${PORTS[3]}/" PHID-USER-after >"$TH_DIR/after.frames" \
    2>"$TH_DIR/after.err" &
AFTER_PID=$!
th_track "$AFTER_PID"
for _ in $(seq 100); do grep -q '# connected' "$TH_DIR/after.err" && break; sleep 0.1; done
th_http POST "$URL/" '{"type":"notification","key":"after","subscribers":["PHID-USER-after"]}'
th_wait_exit "$AFTER_PID" 30
like "$(cat "$TH_DIR/after.frames")" '"key":"after"' "a listener connected after the storm is served"
th_no_sanitizer_report "$TH_DIR/push.log" "the daemon's"
th_done
