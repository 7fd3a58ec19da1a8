#!/bin/bash
# Abuse (issue 6): oversized frames on the client port. With the default
# limits (client.max_frame_bytes 64 KiB, client.max_subscriptions 10,000):
# a 10 MB frame, whole or in fragments, text or binary, is closed with 1009
# (message too big) before it is buffered; so is a subscribe to 1,000,000
# PHIDs, since its frame (about 17 MB) passes the frame limit long before
# the subscription limit is looked at. With the frame limit at its maximum
# (16 MiB), the same 1,000,000 PHIDs (written short, 10 MB) get through the
# frame check and are refused by the subscription limit: 1008. Each time
# the daemon's memory stays bounded and other listeners are served.
. "$(dirname "$0")/../lib/harness.sh"
th_init
th_stack_nginx
ASAN_OPTIONS=${ASAN_OPTIONS:-}:quarantine_size_mb=4 th_start_push "$TH_DIR/aphlict.json"

WS=ws://127.0.0.1:$PUSH_PORT ADMIN=http://127.0.0.1:$ADMIN_PORT PUSH_PID=$PUSH_PID PHASE=default \
    th_py "$TOP_SRCDIR/tests/integration/abuse_frames.py"
kill -0 "$PUSH_PID" 2>/dev/null
is $? 0 "default limits: the daemon is still running"
like "$(cat "$TH_DIR/push.log")" 'frame over client.max_frame_bytes' "default limits: the daemon logs the frames it refused"

th_stop "$PUSH_PID"
th_stack_config ', "client.max_frame_bytes": 16777216'
ASAN_OPTIONS=${ASAN_OPTIONS:-}:quarantine_size_mb=4 th_start_push "$TH_DIR/aphlict.json"
big=1000000
WS=ws://127.0.0.1:$PUSH_PORT ADMIN=http://127.0.0.1:$ADMIN_PORT PUSH_PID=$PUSH_PID PHASE=big-frames BIG_PHIDS=$big \
    th_py "$TOP_SRCDIR/tests/integration/abuse_frames.py"
kill -0 "$PUSH_PID" 2>/dev/null
is $? 0 "16 MiB frames: the daemon is still running"
like "$(cat "$TH_DIR/push.log")" 'more than client.max_subscriptions \(10000\)' "16 MiB frames: the daemon logs the refused subscribe"
th_no_sanitizer_report "$TH_DIR/push.log" "the daemon's"
th_done
