/* queue.c - see queue.h. */
#include "queue.h"
#include "config.h"
#include "schema.h"
#include "token.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct queue {
    sqlite3 *db;
    char fingerprint[TOKEN_FINGERPRINT_LEN + 1];
    sqlite3_stmt *insert_message;
    sqlite3_stmt *count_in;
    sqlite3_stmt *read_counters;
    sqlite3_stmt *read_history;
    sqlite3_stmt *read_daemon;
};

static pthread_mutex_t writer_lock = PTHREAD_MUTEX_INITIALIZER;

void queue_write_lock(void) { pthread_mutex_lock(&writer_lock); }
void queue_write_unlock(void) { pthread_mutex_unlock(&writer_lock); }

long long queue_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int db_error(sqlite3 *db, const char *doing, char *err, size_t errlen) {
    snprintf(err, errlen, "%s: %s", doing, db ? sqlite3_errmsg(db) : "out of memory");
    return -1;
}

int queue_latest_schema_version(void) {
    return schema_migrations[schema_migration_count - 1].version;
}

static int read_user_version(sqlite3 *db, int *version) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK) return -1;
    int rc = sqlite3_step(st);
    *version = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : -1;
}

static int create_fingerprint(sqlite3 *db, char *err, size_t errlen) {
    char fp[TOKEN_FINGERPRINT_LEN + 1];
    if (token_random(fp, TOKEN_FINGERPRINT_LEN, TOKEN_FINGERPRINT_ALPHABET) < 0) {
        snprintf(err, errlen, "no randomness for the node fingerprint");
        return -1;
    }
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "INSERT INTO node (id, fingerprint, created_ms) VALUES (1, ?, ?)",
                           -1, &st, NULL) != SQLITE_OK)
        return db_error(db, "creating the node fingerprint", err, errlen);
    sqlite3_bind_text(st, 1, fp, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, queue_now_ms());
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : db_error(db, "creating the node fingerprint", err, errlen);
}

/* BEGIN IMMEDIATE takes the write lock before user_version is read, so two
 * processes opening a new file at once apply each migration exactly once:
 * the second waits (busy timeout), then sees the new version. */
static int migrate(sqlite3 *db, char *err, size_t errlen) {
    int version;
    if (read_user_version(db, &version) < 0) return db_error(db, "reading the schema version", err, errlen);
    if (version >= queue_latest_schema_version()) {
        if (version > queue_latest_schema_version()) {
            snprintf(err, errlen, "the queue has schema version %d, newer than this program's %d",
                     version, queue_latest_schema_version());
            return -1;
        }
        return 0;
    }
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return db_error(db, "locking the queue to apply the schema", err, errlen);
    if (read_user_version(db, &version) < 0) goto fail;
    for (int i = 0; i < schema_migration_count; i++) {
        const struct schema_migration *m = &schema_migrations[i];
        if (m->version <= version) continue;
        char *msg = NULL;
        if (sqlite3_exec(db, m->sql, NULL, NULL, &msg) != SQLITE_OK) {
            snprintf(err, errlen, "applying schema/%s: %s", m->name, msg ? msg : "error");
            sqlite3_free(msg);
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return -1;
        }
        if (m->version == 1 && create_fingerprint(db, err, errlen) < 0) {
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return -1;
        }
        char pragma[64];
        snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", m->version);
        if (sqlite3_exec(db, pragma, NULL, NULL, NULL) != SQLITE_OK) goto fail;
    }
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) goto fail;
    return 0;
fail:
    db_error(db, "applying the schema", err, errlen);
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

static int load_fingerprint(struct queue *q, char *err, size_t errlen) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(q->db, "SELECT fingerprint FROM node WHERE id = 1", -1, &st, NULL) != SQLITE_OK)
        return db_error(q->db, "reading the node fingerprint", err, errlen);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        snprintf(q->fingerprint, sizeof q->fingerprint, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW) {
        if (rc == SQLITE_DONE) snprintf(err, errlen, "the queue has no node fingerprint (table node is empty)");
        else db_error(q->db, "reading the node fingerprint", err, errlen);
        return -1;
    }
    return 0;
}

static int prepare(struct queue *q, sqlite3_stmt **st, const char *sql, char *err, size_t errlen) {
    if (sqlite3_prepare_v3(q->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK)
        return db_error(q->db, "preparing a statement", err, errlen);
    return 0;
}

static int prepare_all(struct queue *q, char *err, size_t errlen) {
    return prepare(q, &q->insert_message,
                   "INSERT INTO messages (instance, unique_id, received_ms, body) "
                   "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (instance, unique_id) DO NOTHING", err, errlen) ||
           prepare(q, &q->count_in,
                   "INSERT INTO instance_counters (instance, messages_in) VALUES (?1, 1) "
                   "ON CONFLICT (instance) DO UPDATE SET messages_in = messages_in + 1", err, errlen) ||
           prepare(q, &q->read_counters,
                   "SELECT messages_in, messages_out, clients_active, clients_total "
                   "FROM instance_counters WHERE instance = ?1", err, errlen) ||
           prepare(q, &q->read_history,
                   "SELECT count(*), min(received_ms) FROM (SELECT received_ms FROM messages "
                   "WHERE instance = ?1 AND received_ms >= ?2 ORDER BY received_ms DESC LIMIT ?3)",
                   err, errlen) ||
           prepare(q, &q->read_daemon,
                   "SELECT pid, started_ms, heartbeat_ms FROM push_daemon WHERE id = 1", err, errlen)
               ? -1 : 0;
}

int queue_open(const struct queue_options *opt, struct queue **out, char *err, size_t errlen) {
    struct queue *q = calloc(1, sizeof *q);
    if (!q) return db_error(NULL, "opening the queue", err, errlen);
    if (opt->file_mode) {
        /* SQLite gives -wal and -shm the mode of the main file: make it first. */
        int fd = open(opt->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, (mode_t)opt->file_mode);
        if (fd >= 0) {
            fchmod(fd, (mode_t)opt->file_mode);   /* past the umask */
            close(fd);
        }
    }
    int rc = sqlite3_open_v2(opt->path, &q->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    char doing[512];
    snprintf(doing, sizeof doing, "opening the queue %s", opt->path);
    if (rc != SQLITE_OK) goto fail;
    sqlite3_busy_timeout(q->db, (int)opt->busy_timeout_ms);
    sqlite3_extended_result_codes(q->db, 1);
    /* WAL must be set outside a transaction. Switching takes an exclusive
     * lock for which SQLite does not call the busy handler, so a second
     * opener of a new file retries here, up to the busy timeout. */
    for (long long waited = 0;; waited += 10) {
        rc = sqlite3_exec(q->db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL);
        if ((rc & 0xff) != SQLITE_BUSY || waited >= opt->busy_timeout_ms) break;
        sqlite3_sleep(10);
    }
    if (rc != SQLITE_OK) goto fail;
    if (sqlite3_exec(q->db, opt->synchronous_full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL",
                     NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    /* The push daemon checkpoints every second (queue_checkpoint); a
     * writer only does it past this many pages, when the daemon is not
     * there to, so that a POST seldom pays for copying pages and syncing. */
    char pragma[64];
    snprintf(pragma, sizeof pragma, "PRAGMA wal_autocheckpoint = %d", QUEUE_WRITER_CHECKPOINT_PAGES);
    if (sqlite3_exec(q->db, pragma, NULL, NULL, NULL) != SQLITE_OK) goto fail;
    if (migrate(q->db, err, errlen) < 0 || load_fingerprint(q, err, errlen) < 0 ||
        prepare_all(q, err, errlen) < 0) {
        queue_close(q);
        return -1;
    }
    *out = q;
    return 0;
fail:
    db_error(q->db, doing, err, errlen);
    queue_close(q);
    return -1;
}

int queue_checkpoint(struct queue *q, int *pages) {
    int log = 0, done = 0;
    int rc = sqlite3_wal_checkpoint_v2(q->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
    if (pages) *pages = done;
    return rc == SQLITE_OK || rc == SQLITE_BUSY ? 0 : -1;
}

int queue_open_config(const struct config *cfg, struct queue **out, char *err, size_t errlen) {
    struct queue_options qo = { cfg->queue_path, cfg->queue_busy_timeout_ms,
                                strcmp(cfg->queue_synchronous, "full") == 0, (int)cfg->queue_mode };
    return queue_open(&qo, out, err, errlen);
}

void queue_close(struct queue *q) {
    if (!q) return;
    sqlite3_finalize(q->insert_message);
    sqlite3_finalize(q->count_in);
    sqlite3_finalize(q->read_counters);
    sqlite3_finalize(q->read_history);
    sqlite3_finalize(q->read_daemon);
    sqlite3_close_v2(q->db);
    free(q);
}

const char *queue_fingerprint(const struct queue *q) { return q->fingerprint; }
sqlite3 *queue_db(struct queue *q) { return q->db; }

int queue_schema_version(struct queue *q) {
    int v = 0;
    read_user_version(q->db, &v);
    return v;
}

static int step_done(sqlite3_stmt *st) {
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

static enum queue_result unavailable(struct queue *q, const char *doing, char *err, size_t errlen) {
    db_error(q->db, doing, err, errlen);
    if (!sqlite3_get_autocommit(q->db)) sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
    return QUEUE_UNAVAILABLE;
}

enum queue_result queue_append(struct queue *q, const char *instance, const char *unique_id,
                               const char *body, size_t len, long long now_ms,
                               long long *id, char *err, size_t errlen) {
    enum queue_result result = QUEUE_OK;
    queue_write_lock();
    if (sqlite3_exec(q->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        result = unavailable(q, "locking the queue", err, errlen);
        goto out;
    }
    sqlite3_bind_text(q->insert_message, 1, instance, -1, SQLITE_STATIC);
    sqlite3_bind_text(q->insert_message, 2, unique_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q->insert_message, 3, now_ms);
    sqlite3_bind_text(q->insert_message, 4, body, (int)len, SQLITE_STATIC);
    if (step_done(q->insert_message) < 0) {
        result = unavailable(q, "appending to the queue", err, errlen);
        goto out;
    }
    if (sqlite3_changes(q->db) == 0) result = QUEUE_DUPLICATE;
    else *id = sqlite3_last_insert_rowid(q->db);
    sqlite3_bind_text(q->count_in, 1, instance, -1, SQLITE_STATIC);
    if (step_done(q->count_in) < 0) {
        result = unavailable(q, "counting the message", err, errlen);
        goto out;
    }
    if (sqlite3_exec(q->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        result = unavailable(q, "committing to the queue", err, errlen);
out:
    queue_write_unlock();
    return result;
}

enum queue_result queue_count_received(struct queue *q, const char *instance, char *err, size_t errlen) {
    enum queue_result result = QUEUE_OK;
    queue_write_lock();
    sqlite3_bind_text(q->count_in, 1, instance, -1, SQLITE_STATIC);
    if (step_done(q->count_in) < 0) result = unavailable(q, "counting the message", err, errlen);
    queue_write_unlock();
    return result;
}

enum queue_result queue_read_status(struct queue *q, const char *instance, long long now_ms,
                                    long long max_age_ms, long long max_messages,
                                    struct queue_status *st, char *err, size_t errlen) {
    memset(st, 0, sizeof *st);
    st->history_oldest_ms = -1;
    /* One read transaction, so the figures agree with each other. */
    if (sqlite3_exec(q->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return unavailable(q, "reading the queue", err, errlen);
    int rc;
    sqlite3_bind_text(q->read_counters, 1, instance, -1, SQLITE_STATIC);
    if ((rc = sqlite3_step(q->read_counters)) == SQLITE_ROW) {
        st->messages_in = sqlite3_column_int64(q->read_counters, 0);
        st->messages_out = sqlite3_column_int64(q->read_counters, 1);
        st->clients_active = sqlite3_column_int64(q->read_counters, 2);
        st->clients_total = sqlite3_column_int64(q->read_counters, 3);
    }
    sqlite3_reset(q->read_counters);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return unavailable(q, "reading the counters", err, errlen);

    sqlite3_bind_text(q->read_history, 1, instance, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q->read_history, 2, now_ms - max_age_ms);
    sqlite3_bind_int64(q->read_history, 3, max_messages);
    if ((rc = sqlite3_step(q->read_history)) == SQLITE_ROW) {
        st->history_size = sqlite3_column_int64(q->read_history, 0);
        if (sqlite3_column_type(q->read_history, 1) != SQLITE_NULL)
            st->history_oldest_ms = sqlite3_column_int64(q->read_history, 1);
    }
    sqlite3_reset(q->read_history);
    if (rc != SQLITE_ROW) return unavailable(q, "reading the history", err, errlen);

    if ((rc = sqlite3_step(q->read_daemon)) == SQLITE_ROW) {
        st->daemon_seen = 1;
        st->daemon_pid = sqlite3_column_int64(q->read_daemon, 0);
        st->daemon_started_ms = sqlite3_column_int64(q->read_daemon, 1);
        st->daemon_heartbeat_ms = sqlite3_column_int64(q->read_daemon, 2);
    }
    sqlite3_reset(q->read_daemon);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return unavailable(q, "reading the heartbeat", err, errlen);
    sqlite3_exec(q->db, "COMMIT", NULL, NULL, NULL);
    return QUEUE_OK;
}
