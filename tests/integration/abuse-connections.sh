#!/bin/bash
# Abuse (issue 6): CONNS (2,000) WebSocket listeners opened at once against
# the real stack. Every one is accepted and gets a message published to
# all of them; /status/ counts them; closed cleanly, clients.active goes
# back to 0; the daemon's memory stays bounded and it serves a new
# listener afterwards.
. "$(dirname "$0")/../lib/harness.sh"
th_init
ulimit -n 20000 2>/dev/null || true
CONNS=${ABUSE_CONNS:-2000}
th_stack_nginx
# A small quarantine, so that ASan's held-back frees do not read as growth.
ASAN_OPTIONS=${ASAN_OPTIONS:-}:quarantine_size_mb=4 th_start_push "$TH_DIR/aphlict.json"

WS=ws://127.0.0.1:$PUSH_PORT ADMIN=http://127.0.0.1:$ADMIN_PORT PUSH_PID=$PUSH_PID CONNS=$CONNS \
    th_py "$TOP_SRCDIR/tests/integration/abuse_connections.py"

kill -0 "$PUSH_PID" 2>/dev/null
is $? 0 "the daemon is still running"
th_no_sanitizer_report "$TH_DIR/push.log" "the daemon's"
th_done
