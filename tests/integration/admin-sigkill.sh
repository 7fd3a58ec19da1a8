#!/bin/bash
# Nothing acknowledged may be lost to a crash of the admin app (PROTOCOL.md
# sections 2 and 4): 4 publishers post without pause through nginx, the app
# is killed with SIGKILL in the middle and restarted on the same socket, and
# every message that was answered 200 must be in the queue afterwards.
. "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"
th_init
PORT=$(th_port)
URL=http://127.0.0.1:$PORT
th_config "$TH_DIR/aphlict.json" '{
  "servers": [{"type": "admin", "port": '"$PORT"', "listen": "127.0.0.1"}],
  "admin.socket_mode": "0666"
}'
th_start_admin "$TH_DIR/aphlict.json"
th_start_nginx "$PORT"
FP=$(th_sql "SELECT fingerprint FROM node")
LOOPS=4
POSTS=250
DEADLINE=$((SECONDS + 150))

# post_loop N: POSTS messages, each with its own uniqueID; "uid time" of
# every one answered 200 with the receipt goes to ok.N, the others with
# their code to bad.N. Bounded by POSTS and by DEADLINE.
post_loop() {
    local n=$1 i uid code
    : >"$TH_DIR/ok.$n"
    : >"$TH_DIR/bad.$n"
    for ((i = 1; i <= POSTS; i++)); do
        [ "$SECONDS" -lt "$DEADLINE" ] || break
        uid=$(th_uid "kill${n}x" "$i")
        code=$(curl -sS -o "$TH_DIR/body.$n" -w '%{http_code}' --max-time 10 -H 'Expect:' \
            -H 'Content-Type: application/json' \
            --data-binary '{"type":"notification","subscribers":["PHID-USER-k"],"uniqueID":"'"$uid"'"}' \
            "$URL/" 2>/dev/null) || code="${code:-000}x"
        if [ "$code" = 200 ] && [ "$(cat "$TH_DIR/body.$n")" = "{\"fingerprint\":\"$FP\"}" ]; then
            echo "$uid $EPOCHREALTIME" >>"$TH_DIR/ok.$n"
        else
            echo "$uid $code" >>"$TH_DIR/bad.$n"
        fi
    done
}

LOOP_PIDS=()
for n in $(seq "$LOOPS"); do
    post_loop "$n" &
    LOOP_PIDS+=($!)
    th_track "$!"
done

sleep 1
before_kill=$(cat "$TH_DIR"/ok.* | wc -l)
OLD_PID=$ADMIN_PID
kill -KILL "$OLD_PID"
th_wait_exit "$OLD_PID" 10
is "$TH_STATUS" 137 "the app died of SIGKILL while the publishers were posting"
ok test "$before_kill" -gt 0 "some posts were answered before the kill ($before_kill)"
sleep 0.3
th_start_admin "$TH_DIR/aphlict.json"
RESTARTED_AT=$EPOCHREALTIME
ok test "$ADMIN_PID" != "$OLD_PID" "the app was restarted on the same socket"

for pid in "${LOOP_PIDS[@]}"; do wait "$pid"; done
ok test "$SECONDS" -lt "$DEADLINE" "the publishers finished in time"

cat "$TH_DIR"/ok.* | sort >"$TH_DIR/ok.all"
cat "$TH_DIR"/bad.* | sort >"$TH_DIR/bad.all"
n_ok=$(wc -l <"$TH_DIR/ok.all")
n_bad=$(wc -l <"$TH_DIR/bad.all")
echo "# $n_ok posts answered 200, $n_bad not ($(awk '{print $2}' "$TH_DIR/bad.all" | sort | uniq -c | tr -s ' \n' ' '))"
is "$((n_ok + n_bad))" "$((LOOPS * POSTS))" "all $((LOOPS * POSTS)) posts were made"
ok test "$n_bad" -gt 0 "some posts failed while the app was down ($n_bad)"
is "$(awk '$2 !~ /^(502|503|504)$/' "$TH_DIR/bad.all" | wc -l)" 0 "every failure was a 502/503/504 from nginx, not a wrong answer"

awk '{print $1}' "$TH_DIR/ok.all" | sort >"$TH_DIR/ok.uids"
th_sql "SELECT unique_id FROM messages" | sort >"$TH_DIR/db.uids"
missing=$(comm -23 "$TH_DIR/ok.uids" "$TH_DIR/db.uids" | wc -l)
echo "# $n_ok acknowledged, $(wc -l <"$TH_DIR/db.uids") in the queue, $missing acknowledged but missing"
is "$missing" 0 "every uniqueID answered 200 is in the queue"
is "$(th_sql "SELECT count(*) FROM messages")" "$(th_sql "SELECT count(DISTINCT unique_id) FROM messages")" "no message is in the queue twice"
in_db=$(wc -l <"$TH_DIR/db.uids")
ok test "$in_db" -le "$((LOOPS * POSTS))" "the queue holds no more than was posted ($in_db)"
is "$(th_sql "PRAGMA integrity_check")" ok "the queue passes PRAGMA integrity_check"

after=$(awk -v t="$RESTARTED_AT" '$2 > t' "$TH_DIR/ok.all" | wc -l)
ok test "$after" -gt 0 "posts made after the restart were answered 200 ($after)"
from_after=$(awk -v t="$RESTARTED_AT" '$2 > t {print $1}' "$TH_DIR/ok.all" | sort | comm -12 - "$TH_DIR/db.uids" | wc -l)
is "$from_after" "$after" "... and every one of them is in the queue"

th_http POST "$URL/" '{"subscribers":["PHID-USER-k"],"uniqueID":"'"$(th_uid after 1)"'"}'
is "$HTTP_CODE" 200 "the restarted app answers 200"
is "$HTTP_BODY" "{\"fingerprint\":\"$FP\"}" "... with the same node fingerprint as before the crash"
is "$(th_sql "SELECT count(*) FROM messages WHERE unique_id='$(th_uid after 1)'")" 1 "... and the message lands"
th_http GET "$URL/status/"
is "$(th_json_get "$HTTP_BODY" messages.in)" "$(th_sql "SELECT messages_in FROM instance_counters WHERE instance='default'")" \
   "/status/ messages.in matches the queue after the crash"
is "$(th_sql "SELECT messages_in FROM instance_counters WHERE instance='default'")" "$(th_sql "SELECT count(*) FROM messages")" \
   "messages.in equals the rows: no commit was half-way"

th_done
