#!/bin/bash
# The relay to https peers (issue 3, TLS): certificates are verified, here
# against a CA this test makes and names in cluster.ca_file; a peer whose
# certificate that CA did not sign is refused, and the refusal is reported
# in the peers table and the log with the peer's name.
. "$(dirname "$0")/../lib/harness.sh"
th_init
PA=$(th_port)
PC=$(th_port)
pki=$TH_DIR/pki
mkdir -p "$pki"
(
    cd "$pki"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=cluster-ca \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
    openssl req -newkey rsa:2048 -nodes -keyout b.key -out b.csr -subj /CN=127.0.0.3
    printf 'subjectAltName=IP:127.0.0.3\nextendedKeyUsage=serverAuth\n' > b.ext
    openssl x509 -req -in b.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out b.pem -days 2 -extfile b.ext
    # Node C's certificate is self-signed: nothing in cluster.ca_file vouches for it.
    openssl req -x509 -newkey rsa:2048 -nodes -keyout c.key -out c.pem -days 2 -subj /CN=127.0.0.4 \
        -addext subjectAltName=IP:127.0.0.4
) >"$TH_DIR/openssl.log" 2>&1
ok test -s "$pki/b.pem" -a -s "$pki/c.pem" "the test made its certificates"

# node N: an aphlict-admin and a queue, behind nginx on 127.0.0.(N+1):PA,
# with TLS when a certificate is given.
start_admin_node() {
    local n=$1 cfg=$2 cert=${3:-} key=${4:-} addr=127.0.0.$(($1 + 1)) d=$TH_DIR/node$1
    mkdir -p "$d/state"; chmod 755 "$d" "$d/state"
    printf '%s\n' "$cfg" > "$d/aphlict.json"
    "$ADMIN_BIN" --config "$d/aphlict.json" --state-dir "$d/state" --socket "$d/state/admin.sock" >>"$d/admin.log" 2>&1 &
    th_track $!
    stack_wait_socket "$d/state/admin.sock" 10
    stack_nginx_conf "$d/nginx" "$addr" "$PA" "$d/state/admin.sock" "$cert" "$key"
    nginx -p "$d/nginx" -c "$d/nginx/nginx.conf" >>"$d/nginx.log" 2>&1 &
    th_track $!
    stack_wait_port "$addr" "$PA" 10
}
plain='{"servers": [{"type": "admin", "port": '"$PA"'}], "admin.socket_mode": "0666"}'
# Node 2 takes publishes only when signed with the cluster's secret.
signed='{"servers": [{"type": "admin", "port": '"$PA"'}], "admin.socket_mode": "0666",
         "admin.allow": ["192.0.2.1/32"], "cluster.secret": "mesh-secret"}'
start_admin_node 2 "$signed" "$pki/b.pem" "$pki/b.key"
start_admin_node 3 "$plain" "$pki/c.pem" "$pki/c.key"
start_admin_node 1 '{
  "servers": [{"type": "client", "port": '"$PC"', "listen": "127.0.0.2"},
              {"type": "admin", "port": '"$PA"', "listen": "127.0.0.2"}],
  "cluster": [{"host": "127.0.0.3", "port": '"$PA"', "protocol": "https"},
              {"host": "127.0.0.4", "port": '"$PA"', "protocol": "https"}],
  "cluster.ca_file": "'"$pki/ca.pem"'",
  "cluster.secret": "mesh-secret",
  "cluster.retry_max_ms": 1000,
  "admin.socket_mode": "0666"
}'
"$PUSH_BIN" --config "$TH_DIR/node1/aphlict.json" --state-dir "$TH_DIR/node1/state" >>"$TH_DIR/node1/push.log" 2>&1 &
th_track $!
stack_wait_port 127.0.0.2 "$PC" 10

code=$(curl -sS -o /dev/null -w '%{http_code}' \
    -d '{"type":"notification","key":"tls","subscribers":["PHID-USER-t"],"uniqueID":"tlsrelay000000000000000000000001"}' \
    "http://127.0.0.2:$PA/")
is "$code" 200 "node 1 accepts the message"
q() { sqlite3 -batch "$TH_DIR/node$1/state/queue.db" "$2"; }
for _ in $(seq 100); do [ "$(q 2 "SELECT count(*) FROM messages")" = 1 ] && break; sleep 0.1; done
is "$(q 2 "SELECT unique_id FROM messages")" tlsrelay000000000000000000000001 \
    "the https peer with a certificate from cluster.ca_file received it, signed with cluster.secret"
code=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$pki/ca.pem" -d '{"subscribers":["PHID-USER-t"]}' "https://127.0.0.3:$PA/")
is "$code" 403 "node 2 refuses an unsigned publish (so the relay above was signed)"
is "$(q 1 "SELECT fingerprint FROM peers WHERE url LIKE '%127.0.0.3%'")" "$(q 2 "SELECT fingerprint FROM node")" \
    "node 1 learned the https peer's fingerprint from its receipt"
for _ in $(seq 100); do [ -n "$(q 1 "SELECT last_error FROM peers WHERE url LIKE '%127.0.0.4%'")" ] && break; sleep 0.1; done
is "$(q 3 "SELECT count(*) FROM messages")" 0 "the peer with an unverifiable certificate received nothing"
like "$(q 1 "SELECT last_error FROM peers WHERE url LIKE '%127.0.0.4%'")" '[Cc]ertificate|SSL' \
    "the refusal is recorded in the peers table"
like "$(cat "$TH_DIR/node1/push.log")" "relay to 127\\.0\\.0\\.4:$PA: .*([Cc]ertificate|SSL)" \
    "the refusal is logged with the peer's name"
is "$(q 1 "SELECT cursor FROM peers WHERE url LIKE '%127.0.0.4%'")" 0 "the refused peer's cursor did not move"
th_done
