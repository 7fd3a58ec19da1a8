#!/bin/bash
# TLS on the client port (ssl.key, ssl.cert, ssl.chain of PROTOCOL.md
# section 6), with certificates this test makes with the openssl command:
# a root CA, an intermediate that signs the server's certificate, so that
# a client trusting only the root verifies only if the chain is served.
. "$(dirname "$0")/../lib/harness.sh"
th_init
PUSH_PORT=$(th_port)
ADMIN_PORT=$(th_port)
pki=$TH_DIR/pki
mkdir -p "$pki"
(
    cd "$pki"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout root.key -out root.pem -days 2 -subj /CN=test-root \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
    openssl req -newkey rsa:2048 -nodes -keyout inter.key -out inter.csr -subj /CN=test-intermediate
    printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n' > inter.ext
    openssl x509 -req -in inter.csr -CA root.pem -CAkey root.key -CAcreateserial -out inter.pem -days 2 -extfile inter.ext
    openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=127.0.0.1
    printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > server.ext
    openssl x509 -req -in server.csr -CA inter.pem -CAkey inter.key -CAcreateserial -out server.pem -days 2 -extfile server.ext
) >"$TH_DIR/openssl.log" 2>&1
ok test -s "$pki/server.pem" "the test made its certificates"

th_config "$TH_DIR/aphlict.json" '{
  "servers": [{"type": "client", "port": '"$PUSH_PORT"', "listen": "127.0.0.1",
               "ssl.key": "'"$pki/server.key"'", "ssl.cert": "'"$pki/server.pem"'", "ssl.chain": "'"$pki/inter.pem"'"},
              {"type": "admin", "port": '"$ADMIN_PORT"', "listen": "127.0.0.1"}],
  "admin.socket_mode": "0666"
}'
th_start_admin "$TH_DIR/aphlict.json"
th_start_nginx "$ADMIN_PORT"
th_start_push "$TH_DIR/aphlict.json"

"$SUBSCRIBE_BIN" --ca "$pki/root.pem" --count 1 --timeout 10 "wss://127.0.0.1:$PUSH_PORT/" PHID-USER-tls \
    > "$TH_DIR/tls.out" 2>"$TH_DIR/tls.err" &
sub=$!
for _ in $(seq 100); do grep -q connected "$TH_DIR/tls.err" && break; sleep 0.05; done
curl -sS -o /dev/null -d '{"type":"notification","key":"tls-1","subscribers":["PHID-USER-tls"]}' "http://127.0.0.1:$ADMIN_PORT/"
wait "$sub"
is $? 0 "a wss:// client trusting only the root CA verifies the served chain and subscribes"
like "$(cat "$TH_DIR/tls.out")" '"key":"tls-1"' "... and receives the message over TLS"

chain=$(openssl s_client -connect "127.0.0.1:$PUSH_PORT" -showcerts </dev/null 2>/dev/null | grep -c 'BEGIN CERTIFICATE')
is "$chain" 2 "the server sends its certificate and the ssl.chain intermediate"
verify=$(openssl s_client -connect "127.0.0.1:$PUSH_PORT" -CAfile "$pki/root.pem" -verify_return_error </dev/null 2>&1)
like "$verify" 'Server certificate' "openssl gets the server's certificate"
like "$verify" 'Verify return code: 0 \(ok\)' "openssl verifies the chain against the root"
old=$(openssl s_client -connect "127.0.0.1:$PUSH_PORT" -tls1_1 </dev/null 2>&1 | grep -c 'BEGIN CERTIFICATE')
is "$old" 0 "TLS 1.1 is refused"

"$SUBSCRIBE_BIN" --timeout 3 "wss://127.0.0.1:$PUSH_PORT/" PHID-USER-tls >/dev/null 2>&1
ok test $? -ne 0 "a client that trusts no CA for it is refused (certificate not verified)"
th_http GET "http://127.0.0.1:$PUSH_PORT/"
ok test "$HTTP_CODE" != 501 "plain HTTP to the TLS port gets no WebSocket service"
curl -sS -k -o /dev/null -w '%{http_code}' "https://127.0.0.1:$PUSH_PORT/" > "$TH_DIR/https.code" 2>/dev/null
is "$(cat "$TH_DIR/https.code")" 501 "HTTPS without Upgrade answers 501"
kill -0 "$PUSH_PID" 2>/dev/null
is $? 0 "the daemon is still running"
th_done
