#!/bin/bash
# A queue locked by another writer (here: a python3 sqlite3 process holding
# BEGIN IMMEDIATE) past queue.busy_timeout_ms: POST / answers 503 with
# Retry-After, never a silent drop and never a hang; once the lock is gone
# the same running app takes messages again.
. "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"
th_init
PORT=$(th_port)
URL=http://127.0.0.1:$PORT
th_config "$TH_DIR/aphlict.json" '{
  "servers": [{"type": "admin", "port": '"$PORT"', "listen": "127.0.0.1"}],
  "admin.socket_mode": "0666",
  "queue.busy_timeout_ms": 200
}'
th_start_admin "$TH_DIR/aphlict.json"
th_start_nginx "$PORT"
FP=$(th_sql "SELECT fingerprint FROM node")

th_http POST "$URL/" '{"subscribers":["PHID-USER-a"],"uniqueID":"'"$(th_uid lock 1)"'"}'
is "$HTTP_CODE" 200 "before the lock: POST / answers 200"
in_before=$(th_sql "SELECT messages_in FROM instance_counters WHERE instance='default'")

# The other writer: takes the write lock, says "locked", holds it, rolls back.
HOLD=4
/usr/bin/python3 - "$TH_DIR/state/queue.db" "$HOLD" >"$TH_DIR/locker.out" 2>&1 <<'PY' &
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=5)
db.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
db.execute("ROLLBACK")
print("released", flush=True)
PY
LOCKER_PID=$!
th_track "$LOCKER_PID"
for _ in $(seq 100); do grep -q locked "$TH_DIR/locker.out" && break; sleep 0.05; done
is "$(head -n 1 "$TH_DIR/locker.out")" locked "python3 holds BEGIN IMMEDIATE on the queue"
LOCKED_AT=$EPOCHREALTIME

th_http POST "$URL/" '{"subscribers":["PHID-USER-a"],"uniqueID":"'"$(th_uid lock 2)"'"}'
T=$(curl -sS -o "$TH_DIR/t.body" -D "$TH_DIR/t.headers" -w '%{http_code} %{time_total}' --max-time 20 -H 'Expect:' \
    -H 'Content-Type: application/json' --data-binary '{"subscribers":["PHID-USER-a"],"uniqueID":"'"$(th_uid lock 3)"'"}' "$URL/")
elapsed_during=$(/usr/bin/python3 -c "import sys; print('%.2f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$LOCKED_AT" "$EPOCHREALTIME")
is "$HTTP_CODE" 503 "while locked: POST / answers 503"
is "$(th_json_get "$HTTP_BODY" error | cut -c1-18)" "queue unavailable:" "while locked: ... with {\"error\": \"queue unavailable: ...\"}"
like "$(th_json_get "$HTTP_BODY" error)" 'locked|busy' "while locked: ... saying the queue is locked"
like "$HTTP_HEADERS" $'Retry-After: 1\r' "while locked: ... and Retry-After: 1"
like "$HTTP_HEADERS" 'Content-Type: application/json' "while locked: ... as application/json"
code=${T% *}; secs=${T#* }
is "$code" 503 "while locked: a second POST also answers 503"
ok /usr/bin/python3 -c "import sys; sys.exit(not (0.15 <= float(sys.argv[1]) < 0.9))" "$secs" \
   "while locked: ... after about queue.busy_timeout_ms (200 ms; not the default 1000, not the whole lock; took ${secs}s)"
ok /usr/bin/python3 -c "import sys; sys.exit(not (float(sys.argv[1]) < $HOLD))" "$elapsed_during" \
   "while locked: both answers came while the lock was still held (${elapsed_during}s)"
# Several at once while locked: every request thread meets the lock and
# answers 503 (they queue on the app's writer lock, ~200 ms each).
seq 1 6 | timeout 60 xargs -P 6 -I{} curl -sS -o /dev/null -w '%{http_code}\n' --max-time 20 -H 'Expect:' \
    -H 'Content-Type: application/json' --data-binary '{"subscribers":["PHID-USER-p"],"uniqueID":"lockduring{}"}' "$URL/" \
    >"$TH_DIR/during.codes" 2>/dev/null
is "$(grep -c '^503$' "$TH_DIR/during.codes")" 6 "while locked: 6 posts at once all answer 503"
ok kill -0 "$LOCKER_PID" "while locked: the locker is indeed still holding"

# Reads are not blocked by a writer in WAL mode: /status/ still answers.
th_http GET "$URL/status/"
is "$HTTP_CODE" 503 "while locked: /status/ still answers (503: no push daemon)"
like "$(th_json_get "$HTTP_BODY" error)" 'push daemon not running' "while locked: ... and it is about the daemon, not the queue"
is "$(th_json_get "$HTTP_BODY" messages.in)" "$in_before" "while locked: ... and messages.in did not count the refused posts"

# Bad input is still judged without touching the queue.
th_http POST "$URL/" 'not json'
is "$HTTP_CODE" 400 "while locked: a bad body still answers 400"

th_wait_exit "$LOCKER_PID" 15
is "$(tail -n 1 "$TH_DIR/locker.out")" released "the locker released the queue and exited"
is "$TH_STATUS" 0 "... cleanly"

th_http POST "$URL/" '{"subscribers":["PHID-USER-a"],"uniqueID":"'"$(th_uid lock 4)"'"}'
is "$HTTP_CODE" 200 "after the lock: POST / answers 200 again (no restart)"
is "$HTTP_BODY" "{\"fingerprint\":\"$FP\"}" "after the lock: ... with the receipt"
is "$(th_sql "SELECT count(*) FROM messages WHERE unique_id='$(th_uid lock 4)'")" 1 "after the lock: ... and the message landed"
is "$(th_sql "SELECT count(*) FROM messages WHERE unique_id IN ('$(th_uid lock 2)','$(th_uid lock 3)') OR unique_id LIKE 'lockduring%'")" 0 \
   "the refused messages are not in the queue (the publisher must retry them)"
is "$(th_sql "SELECT messages_in FROM instance_counters WHERE instance='default'")" "$((in_before + 1))" \
   "messages.in counts exactly the accepted ones"
# A refused message can be retried and is then taken.
th_http POST "$URL/" '{"subscribers":["PHID-USER-a"],"uniqueID":"'"$(th_uid lock 2)"'"}'
is "$HTTP_CODE" 200 "the refused message, retried, answers 200"
is "$(th_sql "SELECT count(*) FROM messages WHERE unique_id='$(th_uid lock 2)'")" 1 "... and lands once"
ok kill -0 "$ADMIN_PID" "the app kept running throughout"

# Every request thread recovered, not only the one that happened to answer:
# more posts than threads, a new connection each.
seq 1 32 | timeout 60 xargs -P 8 -I{} curl -sS -o /dev/null -w '%{http_code}\n' --max-time 20 -H 'Expect:' \
    -H 'Content-Type: application/json' --data-binary '{"subscribers":["PHID-USER-p"],"uniqueID":"lockafter{}"}' "$URL/" \
    >"$TH_DIR/after.codes" 2>/dev/null
is "$(grep -c '^200$' "$TH_DIR/after.codes")" 32 "after the lock: 32 posts 8 at a time all answer 200"
is "$(th_sql "SELECT count(*) FROM messages WHERE unique_id LIKE 'lockafter%'")" 32 "after the lock: ... and all landed"

th_done
