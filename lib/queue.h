/* queue.h - the SQLite queue shared by the admin app and the push daemon.
 *
 * One `struct queue` is one SQLite connection: open one per thread. All
 * writes in a process go through one writer lock, because SQLite's own
 * busy-waiting between threads gives a far worse tail latency (see
 * STACK-NOTES.md). Errors come back as QUEUE_UNAVAILABLE with SQLite's
 * reason, so the admin app can answer 503 rather than drop a message. */
#ifndef APH_QUEUE_H
#define APH_QUEUE_H

#include <stddef.h>

struct queue;

#define QUEUE_ERR_MAX 256

enum queue_result {
    QUEUE_OK = 0,
    QUEUE_DUPLICATE = 1,     /* a message with this uniqueID is already held */
    QUEUE_UNAVAILABLE = -1,  /* locked past the busy timeout, full, read-only... */
};

struct queue_options {
    const char *path;
    long long busy_timeout_ms;
    int synchronous_full;    /* 1: fsync at each commit (survives a machine crash) */
    int file_mode;           /* mode of a new file (its -wal, -shm follow); 0: SQLite's */
};

/* Opens (creating the file and applying the schema when needed). */
int queue_open(const struct queue_options *opt, struct queue **out, char *err, size_t errlen);

/* WAL pages past which a writer checkpoints by itself (SQLite's default is
 * 1000; the push daemon checkpoints every second instead). */
#define QUEUE_WRITER_CHECKPOINT_PAGES 10000

/* Copies what the WAL holds into the database, as far as readers allow,
 * without waiting for anyone (SQLITE_CHECKPOINT_PASSIVE). Returns 0 (busy
 * counts as done: the next one goes on), -1 on an error; *pages, when
 * given, is the number of pages copied. */
int queue_checkpoint(struct queue *q, int *pages);
struct config;
/* The same, with the options of the configuration (queue.*). */
int queue_open_config(const struct config *cfg, struct queue **out, char *err, size_t errlen);
void queue_close(struct queue *q);
const char *queue_fingerprint(const struct queue *q);
/* The schema version of the open file (PRAGMA user_version). */
int queue_schema_version(struct queue *q);
/* The newest schema version this program knows. */
int queue_latest_schema_version(void);

/* Appends one message and counts it in messages_in, in one transaction.
 * Returns QUEUE_OK (with *id set), QUEUE_DUPLICATE, or QUEUE_UNAVAILABLE. */
enum queue_result queue_append(struct queue *q, const char *instance, const char *unique_id,
                               const char *body, size_t len, long long now_ms,
                               long long *id, char *err, size_t errlen);
/* Counts a message that was received but not stored (already seen). */
enum queue_result queue_count_received(struct queue *q, const char *instance,
                                       char *err, size_t errlen);

struct queue_status {
    long long messages_in, messages_out, clients_active, clients_total;
    long long history_size;
    long long history_oldest_ms;    /* -1 when none held */
    int daemon_seen;                /* a heartbeat row exists */
    long long daemon_pid, daemon_started_ms, daemon_heartbeat_ms;
};

/* The figures behind /status/ for one instance. History counts what is
 * younger than max_age_ms, at most max_messages. */
enum queue_result queue_read_status(struct queue *q, const char *instance, long long now_ms,
                                    long long max_age_ms, long long max_messages,
                                    struct queue_status *st, char *err, size_t errlen);

/* Milliseconds since the Unix epoch, from the real-time clock. */
long long queue_now_ms(void);

/* The raw connection, for the push daemon's own statements and for tests. */
struct sqlite3 *queue_db(struct queue *q);
/* Takes and releases the process-wide writer lock around a write
 * transaction run on queue_db(). */
void queue_write_lock(void);
void queue_write_unlock(void);

#endif
