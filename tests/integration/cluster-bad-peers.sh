#!/bin/bash
# Cluster peers that misbehave (issue 3): one that answers 200 with no
# receipt, one with a page that is not JSON, one with a fingerprint that
# has a quote in it, one that answers 500, one that hangs (past
# cluster.timeout_ms). Each is retried with back-off, its cursor stays
# where it was, its error is in the peers table and the log under its
# name, and nothing of it slows the local listener or the other peers. Each
# got the message with this node's fingerprint in touched. A peer that
# comes right gets its backlog in order, is learned by its fingerprint, and
# from then on is not sent what already carries that fingerprint.
. "$(dirname "$0")/../lib/harness.sh"
th_init
MODES=(no-receipt not-json bad-fp error-500 hang)
declare -A PORT
specs=()
peers=""
for m in "${MODES[@]}"; do
    PORT[$m]=$(th_port)
    specs+=("$m:${PORT[$m]}")
    peers+=', {"host": "127.0.0.1", "port": '"${PORT[$m]}"', "protocol": "http"}'
done
/usr/bin/python3 "$TOP_SRCDIR/tests/integration/fake_peer.py" "$TH_DIR" "${specs[@]}" >"$TH_DIR/peers.out" 2>&1 &
th_track "$!"
for _ in $(seq 100); do grep -q ready "$TH_DIR/peers.out" && break; sleep 0.1; done
ADMIN_PORT=$(th_port)
th_stack_nginx ', "cluster": [{"host": "127.0.0.1", "port": '"$ADMIN_PORT"', "protocol": "http"}'"$peers"'],
  "cluster.timeout_ms": 1000, "cluster.retry_max_ms": 1000'
th_start_push "$TH_DIR/aphlict.json"
URL=http://127.0.0.1:$ADMIN_PORT
FP=$(th_sql "SELECT fingerprint FROM node")
peer() { th_sql "SELECT $2 FROM peers WHERE url LIKE '%:${PORT[$1]}/%'"; }

"$SUBSCRIBE_BIN" --count 3 --timeout 30 "ws://127.0.0.1:$PUSH_PORT/" PHID-USER-bad-peers >"$TH_DIR/frames" \
    2>"$TH_DIR/subscribe.err" &
SUB_PID=$!
th_track "$SUB_PID"
for _ in $(seq 100); do grep -q '# connected' "$TH_DIR/subscribe.err" && break; sleep 0.1; done
codes=""
for k in m1 m2 m3; do
    th_http POST "$URL/" '{"type":"notification","key":"'"$k"'","subscribers":["PHID-USER-bad-peers"]}'
    codes+="$HTTP_CODE "
done
is "$codes" "200 200 200 " "three messages are accepted while every peer but this node misbehaves"
th_wait_exit "$SUB_PID" 30
is "$(grep -c '"key":"m' "$TH_DIR/frames")" 3 "the local listener gets all three at once, whatever the peers do"

for _ in $(seq 150); do
    missing=0
    for m in "${MODES[@]}"; do [ -n "$(peer "$m" last_error)" ] || missing=1; done
    [ "$missing" = 0 ] && break
    sleep 0.1
done
declare -A WANT=(
    [no-receipt]='bad receipt \(the receipt is not JSON\)'
    [not-json]='bad receipt \(the receipt is not JSON\)'
    [bad-fp]='bad receipt \(.*not printable ASCII, or a quote\)'
    [error-500]='answered 500'
    [hang]='[Tt]imeout'
)
for m in "${MODES[@]}"; do
    like "$(peer "$m" last_error)" "${WANT[$m]}" "$m: the peers table records why ($(peer "$m" last_error | head -c 60))"
    is "$(peer "$m" "cursor = 0 AND fingerprint IS NULL AND is_self = 0")" 1 \
        "$m: its cursor did not move and no fingerprint was learned"
    like "$(cat "$TH_DIR/push.log")" "relay to [^ ]*:${PORT[$m]}[^ ]*: message 1: " "$m: the log names the peer and the message"
    first=$(head -1 "$TH_DIR/$m.bodies" 2>/dev/null)
    like "$first" '"key":"m1"' "$m: it was sent the first message first"
    like "$first" "\"touched\":\\[\"$FP\"\\]" "$m: ... carrying this node's fingerprint in touched"
done
is "$(th_sql "SELECT is_self FROM peers WHERE url LIKE '%:$ADMIN_PORT/%'")" 1 "this node found itself in the list by its receipt"

# Retried with back-off, at most once a second now (cluster.retry_max_ms),
# always from message 1; every failure counted in the peers table.
n0=$(wc -l <"$TH_DIR/error-500.bodies")
sleep 3
n=$(( $(wc -l <"$TH_DIR/error-500.bodies") - n0 ))
ok test "$n" -ge 1 -a "$n" -le 5 "error-500: retried $n times in 3 s, backing off to once a second"
tries=$(wc -l <"$TH_DIR/error-500.bodies")
errors=$(peer error-500 errors)
ok test "$errors" -ge $((tries - 1)) -a "$errors" -le "$tries" "error-500: the peers table counts each failure ($errors of $tries tries)"
is "$(grep -vc '"key":"m1"' "$TH_DIR/error-500.bodies")" 0 "error-500: every retry is message 1 again, never a later one"
th_http GET "$URL/status/"
is "$HTTP_CODE" 200 "/status/ answers 200 all along"

# no-receipt comes right: its backlog, in order; its fingerprint learned.
GOOD=zzzzzzzzzzzzzzz2
printf '%s' "$GOOD" >"$TH_DIR/no-receipt.good"
for _ in $(seq 100); do [ "$(peer no-receipt fingerprint)" = "$GOOD" ] && break; sleep 0.1; done
is "$(peer no-receipt fingerprint)" "$GOOD" "no-receipt answers a receipt now: its fingerprint is learned"
for _ in $(seq 50); do [ "$(peer no-receipt cursor)" = "$(th_sql 'SELECT max(id) FROM messages')" ] && break; sleep 0.1; done
is "$(peer no-receipt cursor)" "$(th_sql 'SELECT max(id) FROM messages')" "... and its cursor reaches the last message"
keys=$(grep -o '"key":"m[0-9]"' "$TH_DIR/no-receipt.bodies" | uniq | tr -d '\n')
is "$keys" '"key":"m1""key":"m2""key":"m3"' "... which it got in order once it answered"
# The touched rule: what already carries its fingerprint is not sent to it.
th_http POST "$URL/" '{"type":"notification","key":"seen","subscribers":["x"],"touched":["'"$GOOD"'"]}'
th_http POST "$URL/" '{"type":"notification","key":"marker","subscribers":["x"]}'
for _ in $(seq 100); do grep -q '"key":"marker"' "$TH_DIR/no-receipt.bodies" && break; sleep 0.1; done
like "$(cat "$TH_DIR/no-receipt.bodies")" '"key":"marker"' "the peer gets the next message"
ok test "$(grep -c '"key":"seen"' "$TH_DIR/no-receipt.bodies")" = 0 \
    "... but not the one whose touched already has its fingerprint"
th_done
