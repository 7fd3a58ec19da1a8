#!/bin/bash
# Abuse (issue 6) of the admin side: POST bodies that never finish, through
# nginx (its client_body_timeout, lowered to 3 s in this test's copy of the
# configuration, cuts them; the app never sees them); garbage bytes written
# straight to the FastCGI UNIX socket (the app survives); deeply nested
# JSON in a POST (400). Each time: the answer, the app's memory bounded,
# and other publishers still served through nginx.
. "$(dirname "$0")/../lib/harness.sh"
th_init
PORT=$(th_port)
th_config "$TH_DIR/aphlict.json" '{
  "servers": [{"type": "admin", "port": '"$PORT"', "listen": "127.0.0.1"}],
  "admin.socket_mode": "0666"
}'
th_start_admin "$TH_DIR/aphlict.json"
stack_nginx_conf "$TH_DIR/nginx" 127.0.0.1 "$PORT" "$ADMIN_SOCK" "" "" "client_body_timeout 3s;"
grep -q 'client_body_timeout 3s;' "$TH_DIR/nginx/nginx.conf"
is $? 0 "this test's nginx configuration sets client_body_timeout 3s"
th_run_nginx "$TH_DIR/nginx" "$PORT"

ADMIN=http://127.0.0.1:$PORT ADMIN_PID=$ADMIN_PID ADMIN_SOCK=$ADMIN_SOCK THREADS=8 \
    th_py "$TOP_SRCDIR/tests/integration/abuse_admin.py"

kill -0 "$ADMIN_PID" 2>/dev/null
is $? 0 "the app is still running"
is "$(th_count "SELECT count(*) FROM messages WHERE body LIKE '%PHID-USER-stalled%'")" 0 \
    "no message of a body that never finished reached the queue"
is "$(th_count "SELECT count(*) FROM messages WHERE body LIKE '%PHID-USER-deep%'")" 0 \
    "no deeply nested message reached the queue"
good=$(th_count "SELECT count(*) FROM messages WHERE body LIKE '%PHID-USER-alive%'")
is "$(th_count "SELECT count(*) FROM messages WHERE body LIKE '%PHID-USER-alive%' AND json_valid(body)")" "$good" \
    "every good message in the queue is valid JSON ($good of them)"
th_no_sanitizer_report "$TH_DIR/admin.log" "the app's"
th_done
