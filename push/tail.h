/* tail.h - the push daemon's side of the queue: it follows `messages` by
 * id into the hub, loads the replay history at start, writes the heartbeat
 * and the /status/ counters, and prunes what is past the replay window.
 *
 * The daemon's connection waits at most TAIL_BUSY_TIMEOUT_MS for a lock:
 * it runs on the event loop, and a skipped heartbeat or prune is retried
 * at the next tick, while a stalled loop would stall every listener. */
#ifndef APH_TAIL_H
#define APH_TAIL_H

#include <stddef.h>

struct config;
struct hub;
struct queue;
struct sqlite3_stmt;

#define TAIL_BUSY_TIMEOUT_MS 20
#define TAIL_BATCH 256          /* messages read per query */
#define TAIL_PRUNE_BATCH 500    /* rows deleted per statement */

struct tail {
    struct queue *queue;
    const struct config *cfg;
    long long last_id;          /* newest message handed to the hub */
    long long pid, started_ms;
    struct sqlite3_stmt *after, *heartbeat, *counters, *metric, *prune_age, *over_count, *prune_count;
};

int tail_open(struct tail *t, const struct config *cfg, char *err, size_t errlen);
void tail_close(struct tail *t);
/* Loads the history of the replay window into the hub without delivering
 * it, and starts tailing after the newest message: a restart floods no
 * one, and replay still covers what arrived while the daemon was down. */
int tail_start(struct tail *t, struct hub *h, long long now_ms);
/* Hands every message newer than last_id to the hub for delivery. Returns
 * how many, or -1 on a queue error (logged; retried at the next poll). */
int tail_poll(struct tail *t, struct hub *h);
/* Writes the heartbeat and the counters that changed. */
int tail_heartbeat(struct tail *t, struct hub *h, long long now_ms);
/* Deletes, in small batches, messages past the age and count bounds. */
int tail_prune(struct tail *t, long long now_ms);

#endif
