-- 002-peers.sql: the cluster relay's state (PROTOCOL.md section 4).
--
-- One row per "cluster" entry of the configuration, written by the push
-- daemon's relay threads. `cursor` is the id of the newest message the
-- peer has acknowledged with a 200 receipt (or that it did not need); it
-- only moves forward, so a peer that was down, or a daemon that
-- restarted, resumes from it.
CREATE TABLE peers (
    url             TEXT PRIMARY KEY,       -- protocol://host:port/
    fingerprint     TEXT,                   -- learned from its receipt
    is_self         INTEGER NOT NULL DEFAULT 0 CHECK (is_self IN (0, 1)),
    cursor          INTEGER NOT NULL DEFAULT 0,
    relayed         INTEGER NOT NULL DEFAULT 0,   -- messages it acknowledged
    last_success_ms INTEGER,
    last_error      TEXT,
    last_error_ms   INTEGER,
    errors          INTEGER NOT NULL DEFAULT 0
);

-- "Is node 2 keeping up?": SELECT * FROM peer_status;
CREATE VIEW peer_status AS
SELECT p.url,
       p.fingerprint,
       p.is_self,
       p.cursor,
       (SELECT count(*) FROM messages m WHERE m.id > p.cursor) AS messages_behind,
       (SELECT (CAST(strftime('%s', 'now') AS INTEGER) * 1000 - min(m.received_ms)) / 1000.0
          FROM messages m WHERE m.id > p.cursor) AS seconds_behind,
       p.relayed,
       strftime('%Y-%m-%d %H:%M:%f', p.last_success_ms / 1000.0, 'unixepoch') AS last_success_at,
       p.last_error,
       strftime('%Y-%m-%d %H:%M:%f', p.last_error_ms / 1000.0, 'unixepoch') AS last_error_at,
       p.errors
FROM peers p;
