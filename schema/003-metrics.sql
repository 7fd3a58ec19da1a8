-- 003-metrics.sql: the push daemon's own figures behind GET /metrics that
-- are not already counters of instance_counters or peers: the delivery
-- latency histogram (queue append to frame written), listeners cut off
-- for a full send queue, replay frames sent. Absolute values since the
-- daemon started (Prometheus counters may reset on a restart), written
-- with the heartbeat.
CREATE TABLE push_metrics (
    name  TEXT NOT NULL,
    le    TEXT NOT NULL DEFAULT '',   -- histogram bucket bound, '' for plain values
    value REAL NOT NULL,
    PRIMARY KEY (name, le)
) WITHOUT ROWID;
