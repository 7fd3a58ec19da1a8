#!/bin/bash
# aphlict-admin as a plain CGI program (no --socket, no listening socket on
# standard input): one request from the CGI environment and standard input,
# one answer on standard output, then exit. And without a CGI environment
# it must refuse, pointing at --socket.
. "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"
th_init
th_config "$TH_DIR/aphlict.json" '{
  "servers": [{"type": "admin", "port": 22281, "listen": "127.0.0.1"}],
  "admin.max_body_bytes": 4096
}'

# cgi METHOD SCRIPT_NAME QUERY_STRING [BODY [CONTENT_LENGTH]]: one CGI run,
# the body from a file on standard input. Sets CGI_RC, CGI_OUT (everything
# on stdout), CGI_HEAD (the header lines), CGI_BODY, CGI_ERR.
cgi() {
    local method=$1 script=$2 query=$3 body=${4-} clen=${5-}
    printf '%s' "$body" > "$TH_DIR/cgi.in"
    [ -n "$clen" ] || clen=$(stat -c %s "$TH_DIR/cgi.in")
    local env=(GATEWAY_INTERFACE=CGI/1.1 SERVER_PROTOCOL=HTTP/1.1 REQUEST_METHOD="$method"
               SCRIPT_NAME="$script" QUERY_STRING="$query" REMOTE_ADDR=127.0.0.1)
    [ "$method" = POST ] && env+=(CONTENT_LENGTH="$clen" CONTENT_TYPE=application/json)
    timeout 20 env -u PATH_INFO -u REQUEST_URI "${env[@]}" \
        "$ADMIN_BIN" --config "$TH_DIR/aphlict.json" --state-dir "$TH_DIR/state" \
        <"$TH_DIR/cgi.in" >"$TH_DIR/cgi.out" 2>"$TH_DIR/cgi.err"
    CGI_RC=$?
    CGI_OUT=$(cat "$TH_DIR/cgi.out")
    CGI_ERR=$(cat "$TH_DIR/cgi.err")
    CGI_HEAD=$(sed -n '1,/^\r\{0,1\}$/p' "$TH_DIR/cgi.out" | tr -d '\r')
    CGI_BODY=$(sed '1,/^\r\{0,1\}$/d' "$TH_DIR/cgi.out")
}

# --- POST / --------------------------------------------------------------
cgi POST / '' '{"type":"notification","key":"7","subscribers":["PHID-USER-a"],"uniqueID":"cgi00000000000000000000000000001"}'
is "$CGI_RC" 0 "CGI POST / exits 0"
ok test -z "$(grep -E 'Sanitizer|runtime error' "$TH_DIR/cgi.err")" "CGI POST / leaves no sanitizer report on stderr"
is "$(head -n 1 "$TH_DIR/cgi.out" | tr -d '\r')" "Status: 200 OK" "CGI POST / starts with Status: 200 OK"
like "$CGI_HEAD" '^Content-Type: application/json$' "CGI POST / answers application/json"
FP=$(th_sql "SELECT fingerprint FROM node")
like "$FP" '^[23456789a-zA-Z]{16}$' "CGI: the queue was created with a node fingerprint"
is "$CGI_BODY" "{\"fingerprint\":\"$FP\"}" "CGI POST / answers the receipt with the node fingerprint"
clen=$(printf '%s' "$CGI_HEAD" | sed -n 's/^Content-Length: //p')
is "$clen" "$(sed '1,/^\r\{0,1\}$/d' "$TH_DIR/cgi.out" | wc -c)" "CGI: Content-Length matches the body written"
is "$(th_sql "SELECT instance, json_extract(body,'\$.key'), json_extract(body,'\$.touched') FROM messages WHERE unique_id='cgi00000000000000000000000000001'")" \
   "default|7|[\"$FP\"]" "CGI: the message is in the queue, touched by this node"

cgi POST / 'instance=acme' '{"type":"workboards","subscribers":["PHID-PROJ-x"],"uniqueID":"cgi00000000000000000000000000002"}'
is "$CGI_RC" 0 "CGI POST /?instance=acme exits 0"
is "$(th_sql "SELECT instance FROM messages WHERE unique_id='cgi00000000000000000000000000002'")" acme \
   "CGI: QUERY_STRING instance=acme lands in instance acme"

# CGI has no end-of-body marker: the app must read CONTENT_LENGTH bytes, no more.
msg='{"subscribers":["PHID-USER-b"],"uniqueID":"cgi00000000000000000000000000003"}'
cgi POST / '' "${msg}GARBAGE AFTER THE BODY" "${#msg}"
is "$(head -n 1 "$TH_DIR/cgi.out" | tr -d '\r')" "Status: 200 OK" "CGI: bytes past CONTENT_LENGTH are not read (200)"
is "$(th_sql "SELECT count(*) FROM messages WHERE unique_id='cgi00000000000000000000000000003'")" 1 \
   "CGI: ... and the message within CONTENT_LENGTH landed"

# A CONTENT_LENGTH longer than what arrives (the client went away): no hang, 400.
cgi POST / '' '{"subscribers":["PHID-USER-c"],"uniq' 500
is "$CGI_RC" 0 "CGI: a body shorter than CONTENT_LENGTH exits 0 (no hang)"
is "$(head -n 1 "$TH_DIR/cgi.out" | tr -d '\r')" "Status: 400 Bad Request" "CGI: ... and answers 400"

# --- bad input -----------------------------------------------------------
n_before=$(th_sql "SELECT count(*) FROM messages")
cgi POST / '' 'this is not json'
is "$CGI_RC" 0 "CGI: a body that is not JSON exits 0"
is "$(head -n 1 "$TH_DIR/cgi.out" | tr -d '\r')" "Status: 400 Bad Request" "CGI: a body that is not JSON answers 400"
like "$CGI_BODY" '^\{"error":"body is not JSON' "CGI: ... with a one-line JSON error"
cgi POST / '' '{"type":"notification"}'
is "$(head -n 1 "$TH_DIR/cgi.out" | tr -d '\r')" "Status: 400 Bad Request" "CGI: missing subscribers answers 400"
big=$(/usr/bin/python3 -c 'print("{\"subscribers\":[\"a\"],\"pad\":\"" + "x"*5000 + "\"}")')
cgi POST / '' "$big"
is "$(head -n 1 "$TH_DIR/cgi.out" | tr -d '\r')" "Status: 413 Payload Too Large" "CGI: a body over admin.max_body_bytes answers 413"
is "$(th_sql "SELECT count(*) FROM messages")" "$n_before" "CGI: no bad input reached the queue"

# --- routes --------------------------------------------------------------
cgi GET / ''
is "$(head -n 1 "$TH_DIR/cgi.out" | tr -d '\r')" "Status: 405 Method Not Allowed" "CGI: GET / answers 405"
like "$CGI_HEAD" '^Allow: POST$' "CGI: ... with Allow: POST"
cgi POST /elsewhere '' '{"subscribers":["PHID-USER-a"]}'
is "$(head -n 1 "$TH_DIR/cgi.out" | tr -d '\r')" "Status: 404 Not Found" "CGI: another path answers 404"
is "$(th_sql "SELECT count(*) FROM messages")" "$n_before" "CGI: ... and stores nothing"

# --- GET /status/ ----------------------------------------------------------
cgi GET /status/ ''
is "$CGI_RC" 0 "CGI GET /status/ exits 0"
is "$(head -n 1 "$TH_DIR/cgi.out" | tr -d '\r')" "Status: 503 Service Unavailable" "CGI GET /status/ answers 503 (no push daemon)"
like "$CGI_HEAD" '^Content-Type: application/json$' "CGI GET /status/ is application/json"
for f in instance uptime clients.active clients.total messages.in messages.out version history.size history.age error; do
    v=$(th_json_get "$CGI_BODY" "$f")
    ok test "$v" != "<absent>" -a "$v" != "<not json>" "CGI /status/ has $f"
done
is "$(th_json_get "$CGI_BODY" messages.in)" "$(th_sql "SELECT messages_in FROM instance_counters WHERE instance='default'")" \
   "CGI /status/ messages.in matches the queue's counter"
is "$(th_json_get "$CGI_BODY" version)" 7 "CGI /status/ version is 7"
cgi GET /status/ 'instance=acme'
is "$(th_json_get "$CGI_BODY" instance)" acme "CGI /status/ with QUERY_STRING instance=acme reports acme"
is "$(th_json_get "$CGI_BODY" history.size)" 1 "CGI /status/ acme holds one message"

# --- no CGI environment, no socket: refuse -----------------------------------
# no_cgi LABEL: runs the app with no CGI variables and standard input as
# already redirected by the caller; sets NC_RC and NC_ERR.
no_cgi() {
    timeout 20 env -u GATEWAY_INTERFACE -u REQUEST_METHOD -u SCRIPT_NAME -u QUERY_STRING -u CONTENT_LENGTH \
        "$ADMIN_BIN" --config "$TH_DIR/aphlict.json" --state-dir "$TH_DIR/state" \
        >"$TH_DIR/nocgi.out" 2>"$TH_DIR/nocgi.err"
    NC_RC=$?
    NC_ERR=$(cat "$TH_DIR/nocgi.err")
}
no_cgi </dev/null
is "$NC_RC" 1 "no CGI env, stdin /dev/null: exits 1"
like "$NC_ERR" 'give --socket' "... with a message about --socket"
like "$NC_ERR" "admin\\.socket in $TH_DIR/aphlict\\.json" "... naming admin.socket and the file"
is "$(wc -c < "$TH_DIR/nocgi.out")" 0 "... and writes nothing on stdout"
no_cgi <"$TH_DIR/aphlict.json"
is "$NC_RC" 1 "no CGI env, stdin a regular file: exits 1"
like "$NC_ERR" 'give --socket' "... with a message about --socket"
no_cgi < <(echo '{"subscribers":["PHID-USER-pipe"]}')
is "$NC_RC" 1 "no CGI env, stdin a pipe: exits 1"
like "$NC_ERR" 'give --socket' "... with a message about --socket"
is "$(th_sql "SELECT count(*) FROM messages WHERE body LIKE '%PHID-USER-pipe%'")" 0 "... and stores nothing"

# And a CGI run still works afterwards (the queue is fine).
cgi POST / '' '{"subscribers":["PHID-USER-z"],"uniqueID":"cgi00000000000000000000000000009"}'
is "$(head -n 1 "$TH_DIR/cgi.out" | tr -d '\r')" "Status: 200 OK" "CGI: a good POST after all that answers 200"
is "$(th_sql "SELECT count(*) FROM messages")" "$((n_before + 1))" "CGI: ... and it is the only new row"

th_done
