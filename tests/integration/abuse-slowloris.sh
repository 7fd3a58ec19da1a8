#!/bin/bash
# Abuse (issue 6): half-open handshakes that never finish (slowloris) on the
# client port: raw TCP connections that send nothing, half an HTTP request,
# or drip one byte a second. The daemon cuts every one of them after its
# handshake timeout (lws timeout_secs 10: within 15 s), while a listener
# connected before, and one connecting during the attack, keep working;
# memory stays bounded.
. "$(dirname "$0")/../lib/harness.sh"
th_init
ulimit -n 20000 2>/dev/null || true
th_stack_nginx
ASAN_OPTIONS=${ASAN_OPTIONS:-}:quarantine_size_mb=4 th_start_push "$TH_DIR/aphlict.json"

WS=ws://127.0.0.1:$PUSH_PORT ADMIN=http://127.0.0.1:$ADMIN_PORT PUSH_PID=$PUSH_PID HALF_OPEN=${ABUSE_HALF_OPEN:-1000} \
    th_py "$TOP_SRCDIR/tests/integration/abuse_slowloris.py"

kill -0 "$PUSH_PID" 2>/dev/null
is $? 0 "the daemon is still running"
th_done
