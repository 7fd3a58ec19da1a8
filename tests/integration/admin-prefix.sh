#!/bin/bash
# admin.path_prefix: the admin API mounted under /aphlict (Phorge's `path`
# key), with the shipped nginx snippet (`location /`) unchanged: the app
# itself routes /aphlict/ and /aphlict/status/, and 404s everything else.
. "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"
th_init
PORT=$(th_port)
URL=http://127.0.0.1:$PORT
th_config "$TH_DIR/aphlict.json" '{
  "servers": [{"type": "admin", "port": '"$PORT"', "listen": "127.0.0.1"}],
  "admin.socket_mode": "0666",
  "admin.path_prefix": "/aphlict"
}'
th_start_admin "$TH_DIR/aphlict.json"
th_start_nginx "$PORT"
ok grep -q 'location / {' "$TH_DIR/nginx-$PORT/nginx.conf" "nginx runs the shipped snippet's location /"
FP=$(th_sql "SELECT fingerprint FROM node")

# Phorge builds rtrim(path, '/') . '/' and . '/status/' from its `path` key.
th_http POST "$URL/aphlict/" '{"type":"notification","subscribers":["PHID-USER-a"],"uniqueID":"'"$(th_uid pfx 1)"'"}'
is "$HTTP_CODE" 200 "POST /aphlict/ answers 200"
is "$HTTP_BODY" "{\"fingerprint\":\"$FP\"}" "POST /aphlict/ answers the receipt"
is "$(th_sql "SELECT instance FROM messages WHERE unique_id='$(th_uid pfx 1)'")" default "POST /aphlict/: the message landed in default"
th_http POST "$URL/aphlict/?instance=acme" '{"type":"notification","subscribers":["PHID-USER-a"],"uniqueID":"'"$(th_uid pfx 2)"'"}'
is "$HTTP_CODE" 200 "POST /aphlict/?instance=acme answers 200"
is "$(th_sql "SELECT instance FROM messages WHERE unique_id='$(th_uid pfx 2)'")" acme "POST /aphlict/?instance=acme: landed in acme"

th_http GET "$URL/aphlict/status/"
is "$HTTP_CODE" 503 "GET /aphlict/status/ answers 503 (no push daemon)"
like "$HTTP_HEADERS" 'Content-Type: application/json' "GET /aphlict/status/ is application/json"
for f in instance uptime clients.active clients.total messages.in messages.out version history.size history.age error; do
    v=$(th_json_get "$HTTP_BODY" "$f")
    ok test "$v" != "<absent>" -a "$v" != "<not json>" "GET /aphlict/status/ has $f"
done
is "$(th_json_get "$HTTP_BODY" messages.in)" 1 "GET /aphlict/status/: messages.in of default is 1"
th_http GET "$URL/aphlict/status/?instance=acme"
is "$(th_json_get "$HTTP_BODY" instance)" acme "GET /aphlict/status/?instance=acme reports acme"
is "$(th_json_get "$HTTP_BODY" history.size)" 1 "... holding its one message"

n=$(th_sql "SELECT count(*) FROM messages")
# route CODE METHOD PATH DESC: a path that is not the API must not publish.
route() {
    if [ "$2" = POST ]; then th_http POST "$URL$3" '{"subscribers":["PHID-USER-wrong"]}'; else th_http "$2" "$URL$3"; fi
    is "$HTTP_CODE" "$1" "$2 $3 answers $1"
    like "$HTTP_BODY" '^\{"error":"' "$2 $3: ... with a JSON error"
}
route 404 POST / "outside the prefix"
route 404 GET /status/ "outside the prefix"
route 404 POST /other/ "another prefix"
route 404 POST /aphlictx/ "a longer name that starts with the prefix"
route 404 POST /aphlict/aphlict/ "the prefix twice"
route 404 POST /aphlict/nowhere "an unknown path under the prefix"
route 405 GET /aphlict/ "GET on the publish path"
is "$(th_sql "SELECT count(*) FROM messages")" "$n" "no request outside the API reached the queue"
th_http POST "$URL/aphlict/" '{"subscribers":["PHID-USER-a"],"uniqueID":"'"$(th_uid pfx 3)"'"}'
is "$HTTP_CODE" 200 "POST /aphlict/ still answers 200 after the 404s"
is "$(th_sql "SELECT count(*) FROM messages")" "$((n + 1))" "... and lands"

# "/aphlict/" (with the slash) mounts at the same place as "/aphlict".
th_stop "$ADMIN_PID"
th_config "$TH_DIR/aphlict.json" '{
  "servers": [{"type": "admin", "port": '"$PORT"', "listen": "127.0.0.1"}],
  "admin.socket_mode": "0666",
  "admin.path_prefix": "/aphlict/"
}'
th_start_admin "$TH_DIR/aphlict.json"
th_http POST "$URL/aphlict/" '{"subscribers":["PHID-USER-a"],"uniqueID":"'"$(th_uid pfx 4)"'"}'
is "$HTTP_CODE" 200 "prefix \"/aphlict/\": POST /aphlict/ answers 200"
is "$(th_sql "SELECT count(*) FROM messages WHERE unique_id='$(th_uid pfx 4)'")" 1 "prefix \"/aphlict/\": ... and lands"
th_http GET "$URL/aphlict/status/"
is "$HTTP_CODE" 503 "prefix \"/aphlict/\": GET /aphlict/status/ answers 503 JSON"
is "$(th_json_get "$HTTP_BODY" version)" 7 "prefix \"/aphlict/\": ... with version 7"
th_http POST "$URL/" '{"subscribers":["PHID-USER-wrong"]}'
is "$HTTP_CODE" 404 "prefix \"/aphlict/\": POST / answers 404"
is "$(th_sql "SELECT count(*) FROM messages WHERE body LIKE '%PHID-USER-wrong%'")" 0 "nothing posted outside the API was stored"

th_done
