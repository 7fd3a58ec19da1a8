-- 001-queue.sql: the queue shared by the admin app and the push daemon.
--
-- The admin app (fcgi-admin) appends one row to `messages` per accepted
-- message and bumps `instance_counters.messages_in`; the push daemon tails
-- `messages` by id, delivers, and writes its heartbeat and counters.
-- Applied by whichever program opens a new database first; the version is
-- PRAGMA user_version. Times are Unix milliseconds (INTEGER), so that
-- "how old" is a subtraction; the views show them as text for people.

-- This node: its fingerprint (PROTOCOL.md section 4), made once with the
-- database and kept, so peers recognise the node across restarts.
CREATE TABLE node (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    fingerprint TEXT NOT NULL CHECK (length(fingerprint) = 16),
    created_ms  INTEGER NOT NULL
);

-- One row per accepted message. AUTOINCREMENT: ids never go backwards,
-- even after every row has been pruned, because the daemon tails by id.
CREATE TABLE messages (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    instance    TEXT NOT NULL,
    unique_id   TEXT NOT NULL,
    received_ms INTEGER NOT NULL,
    body        TEXT NOT NULL CHECK (json_valid(body))   -- as delivered, `touched` included
);
-- A message that reaches this node twice (two paths in a mesh, a retried
-- POST) is stored, and so delivered, once.
CREATE UNIQUE INDEX messages_by_unique_id ON messages (instance, unique_id);
CREATE INDEX messages_by_instance_time ON messages (instance, received_ms);

-- The counters behind GET /status/, per instance, since the queue was
-- created. messages_in is written by the admin app, the rest by the push
-- daemon (clients_active is a current value, the others only grow).
CREATE TABLE instance_counters (
    instance       TEXT PRIMARY KEY,
    messages_in    INTEGER NOT NULL DEFAULT 0,
    messages_out   INTEGER NOT NULL DEFAULT 0,
    clients_active INTEGER NOT NULL DEFAULT 0,
    clients_total  INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- The push daemon's heartbeat, about once a second. /status/ answers 503
-- when it is older than push.heartbeat_stale_ms.
CREATE TABLE push_daemon (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    pid          INTEGER NOT NULL,
    started_ms   INTEGER NOT NULL,
    heartbeat_ms INTEGER NOT NULL
);

-- For people at the sqlite3 shell: newest first, with readable times.
CREATE VIEW recent_messages AS
SELECT id,
       instance,
       strftime('%Y-%m-%d %H:%M:%f', received_ms / 1000.0, 'unixepoch') AS received_at,
       json_extract(body, '$.type') AS type,
       json_array_length(body, '$.subscribers') AS subscribers,
       unique_id,
       body
FROM messages
ORDER BY id DESC;

CREATE VIEW queue_by_instance AS
SELECT instance,
       count(*) AS messages,
       min(id) AS oldest_id,
       max(id) AS newest_id,
       (CAST(strftime('%s', 'now') AS INTEGER) * 1000 - min(received_ms)) / 1000.0 AS oldest_age_s
FROM messages
GROUP BY instance;

CREATE VIEW daemon_status AS
SELECT pid,
       strftime('%Y-%m-%d %H:%M:%f', started_ms / 1000.0, 'unixepoch') AS started_at,
       (CAST(strftime('%s', 'now') AS INTEGER) * 1000 - heartbeat_ms) / 1000.0 AS heartbeat_age_s
FROM push_daemon;
