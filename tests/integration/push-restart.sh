#!/bin/bash
# The queue behind the push daemon (PROTOCOL.md sections 3 and 5): replay
# across a daemon restart (SIGTERM and SIGKILL) covers what was accepted
# while it was down, a restart floods no one, and delivery still happens
# when the doorbell is lost (the periodic check).
. "$(dirname "$0")/../lib/harness.sh"
th_init
th_stack_nginx
th_start_push "$TH_DIR/aphlict.json"
ADMIN=http://127.0.0.1:$ADMIN_PORT
SUB=(timeout 20 "$SUBSCRIBE_BIN")

post() { curl -sS -o /dev/null -w '%{http_code}' -d "{\"type\":\"notification\",\"key\":\"$1\",\"subscribers\":[\"PHID-USER-r\"]}" "$ADMIN/"; }
keys() { /usr/bin/python3 -c 'import json,sys; print(" ".join(json.loads(l)["key"] for l in sys.stdin if l.strip()))'; }

for k in a1 a2; do post $k >/dev/null; done
for restart in TERM KILL; do
    th_stop "$PUSH_PID" "$restart"
    codes=""
    for k in "down-$restart-1" "down-$restart-2"; do codes="$codes $(post "$k")"; done
    is "$codes" " 200 200" "SIGTERM/SIGKILL ($restart): posts while the daemon is down are accepted"
    th_start_push "$TH_DIR/aphlict.json"
    # A listener that asks for no replay gets nothing old: no flood on restart.
    "${SUB[@]}" --timeout 1.5 "ws://127.0.0.1:$PUSH_PORT/" PHID-USER-r > "$TH_DIR/noreplay.out" 2>/dev/null
    is "$(keys < "$TH_DIR/noreplay.out")" "" "$restart: a restarted daemon sends nothing old unasked"
done
"${SUB[@]}" --replay 60000 --count 6 --timeout 10 "ws://127.0.0.1:$PUSH_PORT/" PHID-USER-r > "$TH_DIR/replay.out" 2>/dev/null
is "$(keys < "$TH_DIR/replay.out")" "a1 a2 down-TERM-1 down-TERM-2 down-KILL-1 down-KILL-2" \
    "replay after two restarts has everything accepted, oldest first"

# Live delivery after the restarts.
"${SUB[@]}" --count 1 --timeout 10 "ws://127.0.0.1:$PUSH_PORT/" PHID-USER-r > "$TH_DIR/live.out" 2>"$TH_DIR/live.err" &
sub=$!
for _ in $(seq 100); do grep -q connected "$TH_DIR/live.err" && break; sleep 0.05; done
post live-1 >/dev/null
wait "$sub"
is "$(keys < "$TH_DIR/live.out")" "live-1" "after the restarts, live delivery works"

# The doorbell lost: remove the daemon's datagram socket, so the admin app's
# ring goes nowhere; the periodic check still delivers.
rm -f "$TH_DIR/state/push.wake"
"${SUB[@]}" --count 1 --timeout 10 "ws://127.0.0.1:$PUSH_PORT/" PHID-USER-r > "$TH_DIR/fallback.out" 2>"$TH_DIR/fallback.err" &
sub=$!
for _ in $(seq 100); do grep -q connected "$TH_DIR/fallback.err" && break; sleep 0.05; done
post fallback-1 >/dev/null
wait "$sub"
is "$(keys < "$TH_DIR/fallback.out")" "fallback-1" "with the doorbell lost, the periodic check still delivers"
is "$(th_sql "SELECT count(*) FROM messages")" 8 "the queue holds every accepted message"
th_done
