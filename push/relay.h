/* relay.h - the cluster relay (PROTOCOL.md section 4): one thread per
 * "cluster" peer, each with its own SQLite connection and libcurl handle,
 * so that neither a slow peer nor a blocking name lookup ever touches the
 * event loop (STACK-NOTES.md: lws 4.1 resolves names synchronously).
 *
 * Each peer has a durable cursor in the `peers` table, advanced only on a
 * 200 receipt: a peer that was down, or a daemon that restarted, resumes
 * from it, oldest first, skipping what has aged past the replay window. */
#ifndef APH_RELAY_H
#define APH_RELAY_H

struct config;
struct relay;

#define RELAY_BATCH 64             /* messages read per query */
#define RELAY_IDLE_WAIT_MS 1000    /* re-check the queue at least this often */
#define RELAY_RETRY_MIN_MS 250
#define RELAY_LAG_LOG_MS 30000     /* how often a lagging peer is logged */

/* Starts a thread per cluster peer. Returns NULL (logged) on failure, or
 * a relay with no threads when the cluster list is empty. */
struct relay *relay_start(const struct config *cfg);
/* Wakes every relay thread: new messages are in the queue. Thread-safe. */
void relay_notify(struct relay *r);
/* Stops and joins every thread (an HTTP request in flight is aborted). */
void relay_stop(struct relay *r);

#endif
