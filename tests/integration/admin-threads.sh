#!/bin/bash
# admin.threads: with 2 request threads and 16 clients at once (a new
# connection each, as the snippet has no fastcgi_keep_conn), every post
# gets its 200 and its row. SIGHUP reopens the log files and keeps serving;
# SIGTERM exits 0 and removes the UNIX socket the app created.
. "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"
th_init
PORT=$(th_port)
URL=http://127.0.0.1:$PORT
LOG=$TH_DIR/logs/admin-file.log
mkdir -p "$TH_DIR/logs"
th_config "$TH_DIR/aphlict.json" '{
  "servers": [{"type": "admin", "port": '"$PORT"', "listen": "127.0.0.1"}],
  "logs": [{"path": "'"$LOG"'"}],
  "admin.socket_mode": "0666",
  "admin.threads": 2
}'
th_start_admin "$TH_DIR/aphlict.json"
th_start_nginx "$PORT"
like "$(cat "$LOG")" 'serving the admin API with 2 threads' "the app says it serves with 2 threads"
is "$(ls "/proc/$ADMIN_PID/task" | wc -l)" 3 "the app runs 3 threads: the signal thread and 2 request threads"
FP=$(th_sql "SELECT fingerprint FROM node")

# burst TAG TOTAL PARALLEL: TOTAL posts, PARALLEL at a time, each with its
# own curl (a new connection); "uniqueID code" per line in $TH_DIR/TAG.codes.
burst() {
    local tag=$1 total=$2 par=$3
    seq -w 1 "$total" | timeout 120 xargs -P "$par" -I{} curl -sS -o /dev/null -w "$tag{} %{http_code}\n" \
        --max-time 20 -H 'Expect:' -H 'Content-Type: application/json' \
        --data-binary '{"type":"notification","subscribers":["PHID-USER-t"],"uniqueID":"'"$tag"'{}"}' "$URL/" \
        >"$TH_DIR/$tag.codes" 2>>"$TH_DIR/curl.err"
}

start=$EPOCHREALTIME
burst thr 400 16
secs=$(/usr/bin/python3 -c "import sys; print('%.2f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$start" "$EPOCHREALTIME")
echo "# 400 posts, 16 at a time, 2 threads: ${secs}s"
is "$(wc -l < "$TH_DIR/thr.codes")" 400 "2 threads, 16 clients: 400 answers"
is "$(grep -c ' 200$' "$TH_DIR/thr.codes")" 400 "2 threads, 16 clients: all 400 posts answer 200"
is "$(th_sql "SELECT count(*) FROM messages WHERE unique_id LIKE 'thr%'")" 400 "2 threads, 16 clients: 400 rows landed"
is "$(th_sql "SELECT count(DISTINCT unique_id) FROM messages WHERE unique_id LIKE 'thr%'")" 400 "... each one once"
awk '$2 == 200 {print $1}' "$TH_DIR/thr.codes" | sort > "$TH_DIR/thr.ok"
th_sql "SELECT unique_id FROM messages WHERE unique_id LIKE 'thr%'" | sort > "$TH_DIR/thr.db"
is "$(comm -23 "$TH_DIR/thr.ok" "$TH_DIR/thr.db" | wc -l)" 0 "... and every uniqueID answered 200 is in the queue"
is "$(th_sql "SELECT messages_in FROM instance_counters WHERE instance='default'")" 400 "messages.in is 400"
ok kill -0 "$ADMIN_PID" "the app is still running after the burst"

# --- SIGHUP: reopen the log files, keep serving ----------------------------
mv "$LOG" "$LOG.1"
kill -HUP "$ADMIN_PID"
for _ in $(seq 100); do [ -e "$LOG" ] && grep -q 'SIGHUP' "$LOG" && break; sleep 0.05; done
ok test -e "$LOG" "SIGHUP: the log file is opened again at its path"
like "$(cat "$LOG")" 'SIGHUP: log files reopened' "SIGHUP is logged in the new file"
is "$(grep -c SIGHUP "$LOG.1")" 0 "... not in the rotated one"
ok kill -0 "$ADMIN_PID" "SIGHUP: the app is still running"
th_http POST "$URL/" '{"subscribers":["PHID-USER-t"],"uniqueID":"'"$(th_uid hup 1)"'"}'
is "$HTTP_CODE" 200 "SIGHUP: POST / still answers 200"
is "$HTTP_BODY" "{\"fingerprint\":\"$FP\"}" "SIGHUP: ... with the receipt"
is "$(th_sql "SELECT count(*) FROM messages WHERE unique_id='$(th_uid hup 1)'")" 1 "SIGHUP: ... and the message landed"
th_http POST "$URL/" 'not json after HUP'
is "$HTTP_CODE" 400 "SIGHUP: a bad body answers 400"
for _ in $(seq 40); do grep -q '400' "$LOG" 2>/dev/null && break; sleep 0.05; done
like "$(cat "$LOG" 2>/dev/null)" 'publish from 127\.0\.0\.1: 400' "SIGHUP: ... and that is logged to the new file"
ok test -z "$(grep ' 400' "$LOG.1" | grep -v SIGHUP)" "SIGHUP: ... not to the old one"
# Several HUPs in a row during traffic.
burst hupburst 100 8 &
BURST_PID=$!
for _ in 1 2 3 4 5; do kill -HUP "$ADMIN_PID"; sleep 0.1; done
wait "$BURST_PID"
is "$(grep -c ' 200$' "$TH_DIR/hupburst.codes")" 100 "5 SIGHUPs during 100 posts: all answer 200"
is "$(th_sql "SELECT count(*) FROM messages WHERE unique_id LIKE 'hupburst%'")" 100 "... and all landed"
ok kill -0 "$ADMIN_PID" "... and the app is still running"

# --- SIGTERM: exit 0, socket removed ---------------------------------------
ok test -S "$ADMIN_SOCK" "the UNIX socket is there before SIGTERM"
kill -TERM "$ADMIN_PID"
th_wait_exit "$ADMIN_PID" 10
is "$TH_STATUS" 0 "SIGTERM: the app exits 0"
ok test ! -e "$ADMIN_SOCK" "SIGTERM: ... and removes its UNIX socket"
like "$(cat "$LOG")" 'SIGTERM: stopping' "SIGTERM: ... saying so in the log"
th_http POST "$URL/" '{"subscribers":["PHID-USER-t"]}'
is "$HTTP_CODE" 502 "SIGTERM: nginx then answers 502"
is "$(th_sql "SELECT count(*) FROM messages")" 501 "the queue holds exactly the 501 accepted messages"

# SIGINT does the same.
th_start_admin "$TH_DIR/aphlict.json"
th_http POST "$URL/" '{"subscribers":["PHID-USER-t"],"uniqueID":"'"$(th_uid int 1)"'"}'
is "$HTTP_CODE" 200 "restarted: POST / answers 200"
kill -INT "$ADMIN_PID"
th_wait_exit "$ADMIN_PID" 10
is "$TH_STATUS" 0 "SIGINT: the app exits 0"
ok test ! -e "$ADMIN_SOCK" "SIGINT: ... and removes its UNIX socket"

# A socket given as a relative path (here admin.socket resolved against a
# relative --state-dir) gets the configured mode and is removed too.
th_config "$TH_DIR/rel.json" '{
  "servers": [{"type": "admin", "port": '"$PORT"', "listen": "127.0.0.1"}],
  "admin.socket": "rel.sock",
  "admin.socket_mode": "0666",
  "admin.threads": 2
}'
(cd "$TH_DIR" && exec "$ADMIN_BIN" --config rel.json --state-dir state) >>"$TH_DIR/admin.log" 2>&1 &
REL_PID=$!
th_track "$REL_PID"
stack_wait_socket "$TH_DIR/state/rel.sock" 10
is "$(stat -c %a "$TH_DIR/state/rel.sock" 2>/dev/null)" 666 "relative admin.socket: created with admin.socket_mode 0666"
RPORT=$(th_port)
th_start_nginx "$RPORT" "$TH_DIR/state/rel.sock"
th_http POST "http://127.0.0.1:$RPORT/" '{"subscribers":["PHID-USER-t"],"uniqueID":"'"$(th_uid rel 1)"'"}'
is "$HTTP_CODE" 200 "relative admin.socket: POST / through nginx answers 200"
is "$(th_sql "SELECT count(*) FROM messages WHERE unique_id='$(th_uid rel 1)'")" 1 "relative admin.socket: ... and lands"
kill -TERM "$REL_PID"
th_wait_exit "$REL_PID" 10
is "$TH_STATUS" 0 "relative admin.socket: SIGTERM exits 0"
ok test ! -e "$TH_DIR/state/rel.sock" "relative admin.socket: ... and removes the socket"

th_done
