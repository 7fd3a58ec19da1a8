/* tail.c - see tail.h. */
#include "tail.h"

#include "config.h"
#include "hub.h"
#include "log.h"
#include "queue.h"
#include "route.h"

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int prep(struct tail *t, sqlite3_stmt **st, const char *sql, char *err, size_t errlen) {
    sqlite3 *db = queue_db(t->queue);
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) == SQLITE_OK) return 0;
    snprintf(err, errlen, "preparing the daemon's statements: %s", sqlite3_errmsg(db));
    return -1;
}

int tail_open(struct tail *t, const struct config *cfg, char *err, size_t errlen) {
    memset(t, 0, sizeof *t);
    t->cfg = cfg;
    if (queue_open_config(cfg, &t->queue, err, errlen) < 0) return -1;
    sqlite3_busy_timeout(queue_db(t->queue), TAIL_BUSY_TIMEOUT_MS);
    if (prep(t, &t->after, "SELECT id, instance, received_ms, body FROM messages WHERE id > ?1 ORDER BY id LIMIT ?2",
             err, errlen) ||
        prep(t, &t->heartbeat,
             "INSERT INTO push_daemon (id, pid, started_ms, heartbeat_ms) VALUES (1, ?1, ?2, ?3) "
             "ON CONFLICT (id) DO UPDATE SET pid = ?1, started_ms = ?2, heartbeat_ms = ?3", err, errlen) ||
        prep(t, &t->counters,
             "INSERT INTO instance_counters (instance, messages_out, clients_active, clients_total) "
             "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (instance) DO UPDATE SET "
             "messages_out = messages_out + ?2, clients_active = ?3, clients_total = clients_total + ?4",
             err, errlen) ||
        prep(t, &t->metric,
             "INSERT INTO push_metrics (name, le, value) VALUES (?1, ?2, ?3) "
             "ON CONFLICT (name, le) DO UPDATE SET value = ?3", err, errlen) ||
        prep(t, &t->prune_age,
             "DELETE FROM messages WHERE id IN (SELECT id FROM messages ORDER BY id LIMIT ?2) "
             "AND received_ms < ?1", err, errlen) ||
        prep(t, &t->over_count,
             "SELECT instance, count(*) - ?1 FROM messages GROUP BY instance HAVING count(*) > ?1", err, errlen) ||
        prep(t, &t->prune_count,
             "DELETE FROM messages WHERE id IN (SELECT id FROM messages WHERE instance = ?1 "
             "ORDER BY id LIMIT ?2)", err, errlen)) {
        tail_close(t);
        return -1;
    }
    t->pid = getpid();
    return 0;
}

void tail_close(struct tail *t) {
    sqlite3_finalize(t->after);
    sqlite3_finalize(t->heartbeat);
    sqlite3_finalize(t->counters);
    sqlite3_finalize(t->metric);
    sqlite3_finalize(t->prune_age);
    sqlite3_finalize(t->over_count);
    sqlite3_finalize(t->prune_count);
    queue_close(t->queue);
    memset(t, 0, sizeof *t);
}

/* Reads one batch after last_id into the hub. Returns rows read, -1 on error. */
static int read_batch(struct tail *t, struct hub *h, int deliver, long long since_ms) {
    sqlite3_stmt *st = t->after;
    sqlite3_bind_int64(st, 1, t->last_id);
    sqlite3_bind_int(st, 2, TAIL_BATCH);
    int n = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        long long id = sqlite3_column_int64(st, 0);
        long long received = sqlite3_column_int64(st, 2);
        if (received >= since_ms)
            hub_message(h, id, (const char *)sqlite3_column_text(st, 1), received,
                        (const char *)sqlite3_column_text(st, 3), (size_t)sqlite3_column_bytes(st, 3), deliver);
        t->last_id = id;
        n++;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        log_error("reading the queue after message %lld: %s", t->last_id, sqlite3_errmsg(queue_db(t->queue)));
        return -1;
    }
    return n;
}

int tail_start(struct tail *t, struct hub *h, long long now_ms) {
    sqlite3 *db = queue_db(t->queue);
    t->started_ms = now_ms;
    t->last_id = 0;
    /* Skip straight to the window: older rows are only waiting to be pruned. */
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT coalesce(min(id) - 1, (SELECT coalesce(max(id), 0) FROM messages)) "
                               "FROM messages WHERE received_ms >= ?1", -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(st, 1, now_ms - t->cfg->history_max_age_ms);
    if (sqlite3_step(st) == SQLITE_ROW) t->last_id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    int n, total = 0;
    while ((n = read_batch(t, h, 0, now_ms - t->cfg->history_max_age_ms)) > 0) total += n;
    if (n < 0) return -1;
    log_info("replay history: %d messages loaded from the queue; delivering from message %lld on",
             total, t->last_id + 1);
    /* The previous daemon's listeners are gone. */
    queue_write_lock();
    sqlite3_exec(db, "UPDATE instance_counters SET clients_active = 0; DELETE FROM push_metrics", NULL, NULL, NULL);
    queue_write_unlock();
    return 0;
}

int tail_poll(struct tail *t, struct hub *h) {
    int n, total = 0;
    while ((n = read_batch(t, h, 1, 0)) > 0) {
        total += n;
        if (n < TAIL_BATCH) break;
    }
    return n < 0 ? -1 : total;
}

static int step_reset(sqlite3_stmt *st) {
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

static int put_metric(struct tail *t, const char *name, const char *le, double value) {
    sqlite3_bind_text(t->metric, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(t->metric, 2, le, -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(t->metric, 3, value);
    return step_reset(t->metric);
}

/* The hub's own figures, as Prometheus wants them: cumulative buckets. */
static int put_metrics(struct tail *t, const struct hub *h) {
    int rc = put_metric(t, "listeners_cut_total", "", (double)h->listeners_cut) |
             put_metric(t, "replay_frames_total", "", (double)h->replay_frames) |
             put_metric(t, "delivery_latency_seconds_sum", "", h->latency.sum_s) |
             put_metric(t, "delivery_latency_seconds_count", "", (double)h->latency.count);
    long long cumulative = 0;
    char le[32];
    for (int i = 0; i <= HUB_LATENCY_BUCKETS; i++) {
        cumulative += h->latency.bucket[i];
        if (i < HUB_LATENCY_BUCKETS) snprintf(le, sizeof le, "%g", hub_latency_bounds[i]);
        else snprintf(le, sizeof le, "+Inf");
        rc |= put_metric(t, "delivery_latency_seconds_bucket", le, (double)cumulative);
    }
    return rc ? -1 : 0;
}

int tail_heartbeat(struct tail *t, struct hub *h, long long now_ms) {
    sqlite3 *db = queue_db(t->queue);
    queue_write_lock();
    int ok = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK;
    if (ok) {
        sqlite3_bind_int64(t->heartbeat, 1, t->pid);
        sqlite3_bind_int64(t->heartbeat, 2, t->started_ms);
        sqlite3_bind_int64(t->heartbeat, 3, now_ms);
        ok = step_reset(t->heartbeat) == 0;
    }
    for (size_t s = 0; ok && s < h->instances.nslots; s++) {
        for (struct hentry *x = h->instances.slots[s]; ok && x; x = x->next) {
            struct instance *in = (struct instance *)x;
            if (!in->delta_messages_out && !in->delta_clients_total && in->written_active == in->clients_active)
                continue;
            sqlite3_bind_text(t->counters, 1, in->name, -1, SQLITE_STATIC);
            sqlite3_bind_int64(t->counters, 2, in->delta_messages_out);
            sqlite3_bind_int64(t->counters, 3, in->clients_active);
            sqlite3_bind_int64(t->counters, 4, in->delta_clients_total);
            ok = step_reset(t->counters) == 0;
        }
    }
    if (ok) ok = put_metrics(t, h) == 0;
    if (ok) ok = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK;
    if (!ok) {
        log_warn("heartbeat not written (retried in a second): %s", sqlite3_errmsg(db));
        if (!sqlite3_get_autocommit(db)) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        queue_write_unlock();
        return -1;
    }
    queue_write_unlock();
    /* Only once committed are the deltas spent. */
    for (size_t s = 0; s < h->instances.nslots; s++) {
        for (struct hentry *x = h->instances.slots[s]; x; x = x->next) {
            struct instance *in = (struct instance *)x;
            in->delta_messages_out = in->delta_clients_total = 0;
            in->written_active = in->clients_active;
        }
    }
    return 0;
}

int tail_prune(struct tail *t, long long now_ms) {
    sqlite3 *db = queue_db(t->queue);
    int deleted = 0;
    queue_write_lock();
    sqlite3_bind_int64(t->prune_age, 1, now_ms - t->cfg->history_max_age_ms);
    sqlite3_bind_int(t->prune_age, 2, TAIL_PRUNE_BATCH);
    if (step_reset(t->prune_age) == 0) deleted += sqlite3_changes(db);
    queue_write_unlock();

    /* Instances over the count bound: collect first, delete after, so no
     * statement writes while another reads. */
    char names[8][ROUTE_INSTANCE_MAX + 1];
    long long excess[8];
    int n = 0;
    sqlite3_bind_int64(t->over_count, 1, t->cfg->history_max_messages);
    while (n < 8 && sqlite3_step(t->over_count) == SQLITE_ROW) {
        snprintf(names[n], sizeof names[n], "%s", (const char *)sqlite3_column_text(t->over_count, 0));
        excess[n++] = sqlite3_column_int64(t->over_count, 1);
    }
    sqlite3_reset(t->over_count);
    for (int i = 0; i < n; i++) {
        queue_write_lock();
        sqlite3_bind_text(t->prune_count, 1, names[i], -1, SQLITE_STATIC);
        sqlite3_bind_int64(t->prune_count, 2, excess[i] < TAIL_PRUNE_BATCH ? excess[i] : TAIL_PRUNE_BATCH);
        if (step_reset(t->prune_count) == 0) deleted += sqlite3_changes(db);
        queue_write_unlock();
    }
    if (deleted) log_debug("pruned %d messages from the queue", deleted);
    return deleted;
}
