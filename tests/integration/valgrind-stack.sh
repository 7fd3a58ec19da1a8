#!/bin/bash
# valgrind memcheck on the real stack (issue 6): aphlict-admin (behind
# nginx) and aphlict-push, each under
#   valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
# through a little of everything: publishes (with and without uniqueID, two
# instances, already touched, a duplicate), /status/, /metrics, bad bodies
# and routes, listeners that subscribe, replay, ping, unsubscribe, send bad
# and oversized frames, a cluster peer that turns out to be this node.
# Both are stopped with SIGTERM; valgrind must report no error and no
# definite leak in either.
#
# valgrind cannot run ASan binaries: when those of $TOP_BUILDDIR are ASan
# builds, a plain copy is built in $TOP_BUILDDIR/valgrind-build first.
. "$(dirname "$0")/../lib/harness.sh"
if ! command -v valgrind >/dev/null 2>&1; then
    echo "1..0 # SKIP valgrind not installed"
    exit 0
fi
th_init

is_asan() { ldd "$1" 2>/dev/null | grep -q libasan || nm "$1" 2>/dev/null | grep -q '__asan_init'; }
if is_asan "$ADMIN_BIN" || is_asan "$PUSH_BIN"; then
    vdir=$TOP_BUILDDIR/valgrind-build
    echo "# $TOP_BUILDDIR has ASan builds: building a plain copy in $vdir"
    if ! timeout 600 "$TOP_SRCDIR/tools/build" "$vdir" >"$TH_DIR/build.log" 2>&1; then
        th_result 0 "a plain build for valgrind in $vdir"
        tail -20 "$TH_DIR/build.log" | sed 's/^/#   /'
        th_done
        exit 1
    fi
    ADMIN_BIN=$vdir/fcgi-admin/aphlict-admin
    PUSH_BIN=$vdir/push/aphlict-push
fi
ok test -x "$ADMIN_BIN" -a -x "$PUSH_BIN" "the programs to check are built"
is_asan "$ADMIN_BIN" || is_asan "$PUSH_BIN"
is $? 1 "they are not ASan builds"

ADMIN_PORT=$(th_port)
th_stack_config ', "cluster": [{"host": "127.0.0.1", "port": '"$ADMIN_PORT"', "protocol": "http"}],
  "admin.threads": 4, "admin.max_body_bytes": 65536,
  "client.max_frame_bytes": 65536, "client.max_subscriptions": 100'
VALGRIND=(valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
          --show-leak-kinds=definite --num-callers=30)
export ASAN_OPTIONS= UBSAN_OPTIONS=

ADMIN_SOCK=$TH_DIR/state/admin.sock
"${VALGRIND[@]}" --log-file="$TH_DIR/valgrind-admin.log" "$ADMIN_BIN" --config "$TH_DIR/aphlict.json" \
    --state-dir "$TH_DIR/state" --socket "$ADMIN_SOCK" >>"$TH_DIR/admin.log" 2>&1 &
ADMIN_PID=$!
th_track "$ADMIN_PID"
stack_wait_socket "$ADMIN_SOCK" 60
th_start_nginx "$ADMIN_PORT"
"${VALGRIND[@]}" --log-file="$TH_DIR/valgrind-push.log" "$PUSH_BIN" --config "$TH_DIR/aphlict.json" \
    --state-dir "$TH_DIR/state" >>"$TH_DIR/push.log" 2>&1 &
PUSH_PID=$!
th_track "$PUSH_PID"
stack_wait_port 127.0.0.1 "$PUSH_PORT" 60
URL=http://127.0.0.1:$ADMIN_PORT

# --- traffic --------------------------------------------------------------------
WS=ws://127.0.0.1:$PUSH_PORT ADMIN=$URL th_py /dev/stdin <<'PY'
import asyncio, json, os
from wstest import check, close_code, connect, finish, frames, get, ping, post
WS, ADMIN = os.environ["WS"], os.environ["ADMIN"]

def publish(phids, instance=None, **fields):
    url = ADMIN + "/" + (f"?instance={instance}" if instance else "")
    return post(url, {"type": "notification", "subscribers": phids, **fields}, timeout=30)[0]

async def main():
    a = await connect(WS + "/", ["PHID-USER-a", "PHID-USER-b"])
    acme = await connect(WS + "/ws/~acme/", ["PHID-USER-a"])
    await ping(a, 30), await ping(acme, 30)
    codes = [publish(["PHID-USER-a"], key="1"),
             publish(["PHID-USER-a", "PHID-USER-b"], key="2", uniqueID="vg000000000000000000000000000002"),
             publish(["PHID-USER-a"], key="2", uniqueID="vg000000000000000000000000000002"),
             publish(["PHID-USER-a"], instance="acme", key="acme-1", path="/T1"),
             publish(["PHID-USER-a"], key="seen", touched=["zzzzzzzzzzzzzzzz"])]
    check(codes == [200] * 5, "publishes answer 200", codes)
    got = await frames(a, 3, timeout=20)
    check([f.get("key") for f in got] == ["1", "2", "seen"], "the listener receives them, the duplicate once",
          [f.get("key") for f in got])
    got = await frames(acme, 1, timeout=20)
    check(len(got) == 1 and got[0]["key"] == "acme-1", "instance acme receives its own", got)
    await a.send(json.dumps({"command": "unsubscribe", "data": ["PHID-USER-b"]}))
    r = await connect(WS + "/", ["PHID-USER-a"])
    await r.send(json.dumps({"command": "replay", "data": {"age": 60000}}))
    got = await ping(r, 30)
    check([f.get("key") for f in got] == ["1", "2", "seen"], "replay sends them again", [f.get("key") for f in got])
    bad = await connect(WS + "/", ["PHID-USER-nobody"])
    for frame in [b"\x00binary", "{not json", "[1]", json.dumps({"command": "launch"}),
                  json.dumps({"command": "subscribe", "data": [1, None, "", "x" * 300, "a\u0000b"]}),
                  json.dumps({"command": "replay", "data": {"age": "soon"}}), "[" * 100]:
        await bad.send(frame)
    check(await ping(bad, 30) == [], "bad frames are ignored")
    big = await connect(WS + "/")
    await big.send(json.dumps({"command": "subscribe", "data": ["x" * 70000]}))
    code = await close_code(big, 30)
    check(code and code[0] == 1009, "an oversized frame is closed with 1009", code)
    many = await connect(WS + "/")
    await many.send(json.dumps({"command": "subscribe", "data": [f"PHID-{i}" for i in range(101)]}))
    code = await close_code(many, 30)
    check(code and code[0] == 1008, "too many subscriptions are closed with 1008", code)
    answers = [post(ADMIN + "/", b, timeout=30)[0] for b in
           ["not json", "", "[1]", '{"subscribers":"x"}', '{"subscribers":["a"],"uniqueID":"a\\u0000b"}',
            '{"subscribers":["a"],"x":' + "[" * 200 + "]" * 200 + "}", '{"subscribers":["a"],"p":"' + "x" * 70000 + '"}']]
    check(answers == [400] * 6 + [413], "bad bodies answer 400, an oversized one 413", answers)
    check(post(ADMIN + "/nowhere", "{}", timeout=30)[0] == 404, "an unknown path answers 404")
    check(get(ADMIN + "/?instance=%00", timeout=30)[0] in (400, 405), "a bad instance or method is refused")
    await asyncio.sleep(2.5)
    code, body = get(ADMIN + "/status/", timeout=30)
    check(code == 200 and json.loads(body).get("clients.active") == 3, "/status/ answers 200 and counts the default instance's listeners",
          (code, body))
    code, body = get(ADMIN + "/metrics", timeout=30)
    check(code in (200, 404), f"/metrics answers ({code})", code)
    for ws in (a, acme, r, bad):
        await ws.close()

asyncio.run(asyncio.wait_for(main(), 240))
finish()
PY
ok grep -q 'that is this node' "$TH_DIR/push.log" "the cluster peer is recognised as this node (relay and libcurl ran)" \
    || grep -i 'self\|relay' "$TH_DIR/push.log" | head -5 | sed 's/^/#   /'

# --- stop both, read valgrind's verdict --------------------------------------------
verdict() {
    local name=$1 pid=$2 log=$3 status
    kill -TERM "$pid"
    if th_wait_exit "$pid" 120; then status=$TH_STATUS; else status=running; fi
    isnt_99=1; [ "$status" = 99 ] && isnt_99=0
    is "$status" 0 "$name: exits 0 on SIGTERM under valgrind (99 would be valgrind's error exit)"
    local summary lost
    summary=$(grep -E 'ERROR SUMMARY:' "$log" | tail -1)
    like "$summary" 'ERROR SUMMARY: 0 errors' "$name: valgrind: ERROR SUMMARY: 0 errors"
    lost=$(grep -E 'definitely lost:' "$log" | tail -1)
    if [ -z "$lost" ] && grep -q 'All heap blocks were freed' "$log"; then lost="definitely lost: 0 bytes"; fi
    like "$lost" 'definitely lost: 0 bytes' "$name: valgrind: no definite leak"
    grep -E 'in use at exit|definitely lost|indirectly lost|possibly lost|ERROR SUMMARY' "$log" | sed "s/^/# $name: /"
    if [ "$isnt_99" = 0 ] || ! printf '%s' "$summary" | grep -q ' 0 errors'; then
        grep -E -B2 -A25 '^==[0-9]+== (Invalid|Conditional|Use of|Syscall|Mismatched|[0-9,]+ bytes in [0-9,]+ blocks are definitely)' "$log" \
            | head -80 | sed 's/^/#   /'
    fi
}
verdict aphlict-push "$PUSH_PID" "$TH_DIR/valgrind-push.log"
verdict aphlict-admin "$ADMIN_PID" "$TH_DIR/valgrind-admin.log"
th_done
