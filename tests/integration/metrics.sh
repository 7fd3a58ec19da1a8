#!/bin/bash
# GET /metrics (issue 5): the Prometheus text format, every family with its
# HELP, TYPE and labels, and the values agreeing with the traffic sent.
. "$(dirname "$0")/../lib/harness.sh"
th_init
DEAD_PORT=$(th_port)
th_stack_nginx ', "cluster": [{"host": "127.0.0.1", "port": '"$DEAD_PORT"', "protocol": "http"}],
  "cluster.retry_max_ms": 500'
th_start_push "$TH_DIR/aphlict.json"
WS=ws://127.0.0.1:$PUSH_PORT ADMIN=http://127.0.0.1:$ADMIN_PORT \
    th_py "$TOP_SRCDIR/tests/integration/metrics_check.py"
like "$(cat "$TH_DIR/push.log")" "relay to 127\.0\.0\.1:$DEAD_PORT: [0-9]+ messages behind \(oldest [0-9.]+ s\), fingerprint not yet known, cursor 0, last error: " \
    "the daemon's log says how far behind the dead peer is, and why"
th_done
