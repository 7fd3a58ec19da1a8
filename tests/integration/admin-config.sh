#!/bin/bash
# The configuration file (PROTOCOL.md section 6) as aphlict-admin reads it:
# `--test` accepts the reference server's file and the shipped example,
# warns about unknown keys, and rejects every broken file naming the file
# and the key; a broken file also stops the app from starting at all.
. "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"
th_init
C=$TH_DIR/conf
mkdir -p "$C"

# check FILE: `aphlict-admin --test --config FILE`; sets RC, OUT, ERR.
check() {
    timeout 20 "$ADMIN_BIN" --test --config "$1" >"$TH_DIR/out" 2>"$TH_DIR/err"
    RC=$?
    OUT=$(cat "$TH_DIR/out")
    ERR=$(cat "$TH_DIR/err")
}

# The reference file of PROTOCOL.md section 6, as a stock Aphlict install has it.
cat > "$C/reference.json" <<'JSON'
{
  "servers": [
    {"type": "client", "port": 22280, "listen": "0.0.0.0",
     "ssl.key": null, "ssl.cert": null, "ssl.chain": null},
    {"type": "admin", "port": 22281, "listen": "127.0.0.1",
     "ssl.key": null, "ssl.cert": null, "ssl.chain": null}
  ],
  "logs": [{"path": "/var/log/aphlict.log"}],
  "cluster": [{"host": "notify002.example.com", "port": 22281, "protocol": "http"}],
  "pidfile": "/var/tmp/aphlict/pid/aphlict.pid"
}
JSON
check "$C/reference.json"
is "$RC" 0 "--test: the reference aphlict.json of PROTOCOL section 6 exits 0"
is "$OUT" "$C/reference.json: configuration OK" "--test: ... and says configuration OK, naming the file"
is "$ERR" "" "--test: ... with no warning"

# --test only reads: no state directory, no queue, no log file.
th_config "$C/state.json" '{"servers": [{"type": "admin", "port": 22281}],
  "state.dir": "'"$TH_DIR/never"'", "logs": [{"path": "'"$TH_DIR/never.log"'"}]}'
check "$C/state.json"
is "$RC" 0 "--test: a file with state.dir and logs exits 0"
ok test ! -e "$TH_DIR/never" -a ! -e "$TH_DIR/never.log" "--test: ... and creates neither the state.dir nor the log file"

check "$TOP_SRCDIR/conf/aphlict.example.json"
is "$RC" 0 "--test: conf/aphlict.example.json exits 0"
is "$OUT" "$TOP_SRCDIR/conf/aphlict.example.json: configuration OK" "--test: ... and says configuration OK"

# memory.hint (a Node setting) is known and ignored silently; a key nobody
# knows is a warning, never an error.
th_config "$C/unknown.json" '{"servers": [{"type": "admin", "port": 22281}], "memory.hint": 512, "frobnicate.level": 3}'
check "$C/unknown.json"
is "$RC" 0 "--test: an unknown key still exits 0"
like "$OUT" 'configuration OK' "--test: ... and says configuration OK"
like "$ERR" "unknown\\.json: frobnicate\\.level: unknown key" "--test: ... warning with the file and the key"
ok test -z "$(printf '%s' "$ERR" | grep memory.hint)" "--test: memory.hint is not warned about"

# bad NAME JSON KEY-PATTERN [DESC]: --test on a broken file must exit 1 with
# one message naming the file and the key.
bad() {
    local name=$1 json=$2 pattern=$3 desc=${4:-$1}
    printf '%s\n' "$json" > "$C/$name.json"
    check "$C/$name.json"
    is "$RC" 1 "--test: $desc exits 1"
    like "$ERR" "^aphlict-admin: $C/$name\\.json: $pattern" "--test: $desc names the file and says what is wrong"
    is "$OUT" "" "--test: $desc does not say configuration OK"
}
A='{"type": "admin", "port": 22281}'
check "$C/does-not-exist.json"
is "$RC" 1 "--test: a missing file exits 1"
like "$ERR" "$C/does-not-exist\\.json: cannot open: No such file or directory" "--test: ... naming the file and why"
bad truncated '{"servers": [{"type": "admin", "port": 22281}' \
    'line 2, column 1: not valid JSON' "a truncated file"
printf '{\n  "servers": [\n    {"type" "admin", "port": 22281}\n  ]\n}\n' > "$C/colon.json"
check "$C/colon.json"
is "$RC" 1 "--test: a missing ':' exits 1"
like "$ERR" "colon\\.json: line 3, column 13: not valid JSON" "--test: ... with the line and column of the fault"
bad trailing '{"servers": ['"$A"']} {"x": 1}' 'line 1, column 4[0-9]: not valid JSON' "text after the object"
bad comma '{"servers": ['"$A"',]}' 'line 1, column [0-9]+: not valid JSON' "a trailing comma (refused, as Node's JSON.parse did)"
bad comment '{"servers": ['"$A"'] /* no */}' 'line 1, column [0-9]+: not valid JSON' "a comment"
bad array '[1, 2]' 'expected a JSON object at the top' "a JSON array at the top"
bad noservers '{"logs": []}' 'servers: is required' 'no "servers"'
bad serversobj '{"servers": {"type": "admin"}}' 'servers: expected a list' '"servers" as an object'
bad porttext '{"servers": [{"type": "admin", "port": "abc"}]}' 'servers\[0\]\.port: expected an integer from 1 to 65535, got "abc"' 'port "abc"'
bad porthigh '{"servers": [{"type": "admin", "port": 70000}]}' 'servers\[0\]\.port: expected an integer from 1 to 65535, got 70000' 'port 70000'
bad portzero '{"servers": [{"type": "admin", "port": 0}]}' 'servers\[0\]\.port: expected an integer' 'port 0'
bad noport '{"servers": [{"type": "admin"}]}' 'servers\[0\]\.port: expected an integer' 'a server without port'
bad typeother '{"servers": [{"type": "other", "port": 22281}]}' 'servers\[0\]\.type: expected "client" or "admin", got "other"' 'type "other"'
bad second '{"servers": ['"$A"', {"type": "client", "port": -1}]}' 'servers\[1\]\.port: ' 'a bad second server'
bad sslhalf '{"servers": [{"type": "client", "port": 22280, "ssl.key": "/k.pem"}]}' 'servers\[0\]: "ssl.key" and "ssl.cert" must be given together' 'ssl.key without ssl.cert'
bad ftp '{"servers": ['"$A"'], "cluster": [{"host": "n2.example.com", "port": 22281, "protocol": "ftp"}]}' \
    'cluster\[0\]\.protocol: expected "http" or "https", got "ftp"' 'cluster protocol "ftp"'
bad peerport '{"servers": ['"$A"'], "cluster": [{"host": "n2.example.com", "port": "x"}]}' 'cluster\[0\]\.port: ' 'a cluster port "x"'
bad logspath '{"servers": ['"$A"'], "logs": [{"file": "/tmp/x"}]}' 'logs\[0\]\.path: is required' 'a log without path'
bad threads0 '{"servers": ['"$A"'], "admin.threads": 0}' 'admin\.threads: expected an integer from 1 to 256, got 0' 'admin.threads 0'
bad threadsbig '{"servers": ['"$A"'], "admin.threads": 100000}' 'admin\.threads: expected an integer from 1 to 256' 'admin.threads 100000'
bad syncfast '{"servers": ['"$A"'], "queue.synchronous": "fast"}' 'queue\.synchronous: expected one of normal\|full, got "fast"' 'queue.synchronous "fast"'
bad mode9 '{"servers": ['"$A"'], "admin.socket_mode": "9"}' 'admin\.socket_mode: expected an octal mode such as "0660", got "9"' 'admin.socket_mode "9"'
bad modeint '{"servers": ['"$A"'], "admin.socket_mode": 660}' 'admin\.socket_mode: expected an octal mode as a string' 'admin.socket_mode as a number'
bad busyneg '{"servers": ['"$A"'], "queue.busy_timeout_ms": -1}' 'queue\.busy_timeout_ms: expected an integer from 0 to 60000, got -1' 'queue.busy_timeout_ms -1'
bad bodysmall '{"servers": ['"$A"'], "admin.max_body_bytes": 10}' 'admin\.max_body_bytes: expected an integer from 64' 'admin.max_body_bytes 10'
bad prefixnum '{"servers": ['"$A"'], "admin.path_prefix": 5}' 'admin\.path_prefix: expected a string or null, got 5' 'admin.path_prefix 5'

printf '{"servers": [%s]}\n\0\n' "$A" > "$C/nul.json"
check "$C/nul.json"
is "$RC" 1 "--test: a file with a NUL byte exits 1"
like "$ERR" 'nul\.json: contains a NUL byte' "--test: ... saying so"
check "$C"
is "$RC" 1 "--test: a directory as the file exits 1"
like "$ERR" "^aphlict-admin: $C: " "--test: ... naming it"

# Ports given as strings are what some existing Node installs have: accepted.
th_config "$C/portstring.json" '{"servers": [{"type": "admin", "port": "22281"}]}'
check "$C/portstring.json"
is "$RC" 0 "--test: a port given as the string \"22281\" is accepted"

# --- a bad file stops the app from starting --------------------------------
for name in noservers porthigh threads0 mode9 truncated; do
    rm -rf "$TH_DIR/st-$name"
    mkdir -p "$TH_DIR/st-$name"
    timeout 20 "$ADMIN_BIN" --config "$C/$name.json" --state-dir "$TH_DIR/st-$name" \
        --socket "$TH_DIR/st-$name/admin.sock" >"$TH_DIR/out" 2>"$TH_DIR/err"
    RC=$?
    is "$RC" 1 "start with $name.json: refuses to start (exit 1)"
    like "$(cat "$TH_DIR/err")" "$name\\.json: " "start with $name.json: ... naming the file"
    ok test ! -e "$TH_DIR/st-$name/admin.sock" "start with $name.json: ... and no socket was created"
    ok test ! -e "$TH_DIR/st-$name/queue.db" "start with $name.json: ... nor a queue"
done

# A good file with an unknown key does start, and serves.
th_config "$TH_DIR/good.json" '{"servers": [{"type": "admin", "port": 22281}], "frobnicate.level": 3, "admin.socket_mode": "0666"}'
th_start_admin "$TH_DIR/good.json"
ok test -S "$ADMIN_SOCK" "start with an unknown key: the socket is there"
is "$(stat -c %a "$ADMIN_SOCK")" 666 "start with an unknown key: ... with admin.socket_mode 0666"
like "$(cat "$TH_DIR/admin.log")" 'frobnicate\.level: unknown key' "start with an unknown key: ... and the warning was logged"
ok kill -0 "$ADMIN_PID" "start with an unknown key: ... and the app is running"
PORT=$(th_port)
th_start_nginx "$PORT"
th_http POST "http://127.0.0.1:$PORT/" '{"subscribers":["PHID-USER-cfg"],"uniqueID":"cfg00000000000000000000000000001"}'
is "$HTTP_CODE" 200 "start with an unknown key: POST / answers 200"
is "$(th_sql "SELECT count(*) FROM messages WHERE unique_id='cfg00000000000000000000000000001'")" 1 \
   "start with an unknown key: ... and the message landed"

# --- options -----------------------------------------------------------------
timeout 20 "$ADMIN_BIN" --help >"$TH_DIR/out" 2>"$TH_DIR/err"
is "$?" 0 "--help exits 0"
like "$(cat "$TH_DIR/out")" '^usage: aphlict-admin ' "--help prints the usage on stdout"
like "$(cat "$TH_DIR/out")" '--socket' "--help mentions --socket"
timeout 20 "$ADMIN_BIN" --no-such-option >"$TH_DIR/out" 2>"$TH_DIR/err"
is "$?" 1 "an unknown option exits 1"
like "$(cat "$TH_DIR/err")" 'unrecognized option' "an unknown option is named on stderr"
like "$(cat "$TH_DIR/err")" 'usage: aphlict-admin' "... followed by the usage"
is "$(cat "$TH_DIR/out")" "" "... and nothing on stdout"
timeout 20 "$ADMIN_BIN" --test --config "$C/reference.json" extra-arg >"$TH_DIR/out" 2>"$TH_DIR/err"
is "$?" 1 "a stray argument exits 1"
like "$(cat "$TH_DIR/err")" 'unexpected argument: extra-arg' "... naming it"
timeout 20 "$ADMIN_BIN" --test --config >"$TH_DIR/out" 2>"$TH_DIR/err"
is "$?" 1 "--config without a value exits 1"

th_done
