#!/bin/bash
# GET /metrics (issue 5): the Prometheus text format, every family with its
# HELP, TYPE and labels, and the values agreeing with the traffic sent.
. "$(dirname "$0")/../lib/harness.sh"
th_init
PUSH_PORT=$(th_port)
ADMIN_PORT=$(th_port)
DEAD_PORT=$(th_port)
th_config "$TH_DIR/aphlict.json" '{
  "servers": [{"type": "client", "port": '"$PUSH_PORT"', "listen": "127.0.0.1"},
              {"type": "admin", "port": '"$ADMIN_PORT"', "listen": "127.0.0.1"}],
  "cluster": [{"host": "127.0.0.1", "port": '"$DEAD_PORT"', "protocol": "http"}],
  "cluster.retry_max_ms": 500,
  "admin.socket_mode": "0666"
}'
th_start_admin "$TH_DIR/aphlict.json"
th_start_nginx "$ADMIN_PORT"
th_start_push "$TH_DIR/aphlict.json"
WS=ws://127.0.0.1:$PUSH_PORT ADMIN=http://127.0.0.1:$ADMIN_PORT \
    th_py "$TOP_SRCDIR/tests/integration/metrics_check.py"
like "$(cat "$TH_DIR/push.log")" "relay to 127\.0\.0\.1:$DEAD_PORT: [0-9]+ messages behind \(oldest [0-9.]+ s\), fingerprint not yet known, cursor 0, last error: " \
    "the daemon's log says how far behind the dead peer is, and why"
th_done
