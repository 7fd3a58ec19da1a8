/* metrics.c - see metrics.h. One read transaction, so the families agree. */
#include "metrics.h"

#include "config.h"
#include "queue.h"

#include <sqlite3.h>
#include <string.h>

/* A label value as Prometheus wants it: \, " and newline escaped. */
static void label(FILE *out, const char *name, const char *value) {
    fprintf(out, "%s=\"", name);
    for (const char *c = value ? value : ""; *c; c++) {
        if (*c == '\\' || *c == '"') fputc('\\', out), fputc(*c, out);
        else if (*c == '\n') fputs("\\n", out);
        else fputc(*c, out);
    }
    fputc('"', out);
}

static void family(FILE *out, const char *name, const char *type, const char *help) {
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Runs sql and prints one sample of `metric` per row: column 0 is the
 * label value, column 1 the sample. */
static int per_label(FILE *out, sqlite3 *db, const char *metric, const char *type, const char *help,
                     const char *label_name, const char *sql, long long arg) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) return -1;
    if (sqlite3_bind_parameter_count(st) > 0) sqlite3_bind_int64(st, 1, arg);
    family(out, metric, type, help);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        fprintf(out, "%s{", metric);
        label(out, label_name, (const char *)sqlite3_column_text(st, 0));
        fprintf(out, "} %.17g\n", sqlite3_column_double(st, 1));
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

static double one_value(sqlite3 *db, const char *sql, long long arg, double fallback) {
    sqlite3_stmt *st;
    double v = fallback;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) return fallback;
    if (sqlite3_bind_parameter_count(st) > 0) sqlite3_bind_int64(st, 1, arg);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) v = sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
    return v;
}

static int latency(FILE *out, sqlite3 *db) {
    const char *name = "aphlict_delivery_latency_seconds";
    family(out, name, "histogram", "Time from the queue append to the frame written to a listener (live frames).");
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT le, value FROM push_metrics WHERE name = 'delivery_latency_seconds_bucket' "
                               "ORDER BY le = '+Inf', CAST(le AS REAL)", -1, &st, NULL) != SQLITE_OK)
        return -1;
    int rows = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        fprintf(out, "%s_bucket{le=\"%s\"} %.17g\n", name, (const char *)sqlite3_column_text(st, 0),
                sqlite3_column_double(st, 1));
        rows++;
    }
    sqlite3_finalize(st);
    if (rows == 0) fprintf(out, "%s_bucket{le=\"+Inf\"} 0\n", name);
    fprintf(out, "%s_sum %.17g\n", name,
            one_value(db, "SELECT value FROM push_metrics WHERE name = 'delivery_latency_seconds_sum'", 0, 0));
    fprintf(out, "%s_count %.17g\n", name,
            one_value(db, "SELECT value FROM push_metrics WHERE name = 'delivery_latency_seconds_count'", 0, 0));
    return 0;
}

static void plain(FILE *out, sqlite3 *db, const char *metric, const char *type, const char *help, const char *key) {
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT value FROM push_metrics WHERE name = '%s'", key);
    family(out, metric, type, help);
    fprintf(out, "%s %.17g\n", metric, one_value(db, sql, 0, 0));
}

int metrics_write(FILE *out, struct queue *q, const struct config *cfg, long long now_ms, char *err, size_t errlen) {
    sqlite3 *db = queue_db(q);
    if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) goto fail;
    double heartbeat = one_value(db, "SELECT heartbeat_ms FROM push_daemon WHERE id = 1", 0, -1);
    int up = heartbeat >= 0 && now_ms - heartbeat <= cfg->push_heartbeat_stale_ms;
    family(out, "aphlict_push_up", "gauge", "1 while the push daemon's heartbeat is fresh.");
    fprintf(out, "aphlict_push_up %d\n", up);
    family(out, "aphlict_push_heartbeat_age_seconds", "gauge", "Age of the push daemon's last heartbeat.");
    fprintf(out, "aphlict_push_heartbeat_age_seconds %.3f\n", heartbeat >= 0 ? (now_ms - heartbeat) / 1000.0 : -1.0);
    if (per_label(out, db, "aphlict_messages_in_total", "counter", "Messages received on the admin API.", "instance",
                  "SELECT instance, messages_in FROM instance_counters ORDER BY instance", 0) ||
        per_label(out, db, "aphlict_messages_out_total", "counter", "Message frames written to listeners.", "instance",
                  "SELECT instance, messages_out FROM instance_counters ORDER BY instance", 0) ||
        per_label(out, db, "aphlict_listeners", "gauge", "WebSocket listeners connected now.", "instance",
                  "SELECT instance, CASE WHEN ?1 THEN clients_active ELSE 0 END FROM instance_counters ORDER BY instance",
                  up) ||
        per_label(out, db, "aphlict_listeners_connected_total", "counter", "Listeners ever connected.", "instance",
                  "SELECT instance, clients_total FROM instance_counters ORDER BY instance", 0) ||
        per_label(out, db, "aphlict_queue_messages", "gauge", "Messages held in the queue.", "instance",
                  "SELECT instance, count(*) FROM messages GROUP BY instance ORDER BY instance", 0) ||
        per_label(out, db, "aphlict_queue_oldest_age_seconds", "gauge", "Age of the oldest message held.", "instance",
                  "SELECT instance, (?1 - min(received_ms)) / 1000.0 FROM messages GROUP BY instance ORDER BY instance",
                  now_ms) ||
        per_label(out, db, "aphlict_peer_lag_messages", "gauge", "Messages a cluster peer has not acknowledged yet.",
                  "peer", "SELECT url, messages_behind FROM peer_status WHERE NOT is_self ORDER BY url", 0) ||
        per_label(out, db, "aphlict_peer_lag_seconds", "gauge", "Age of the oldest message a peer has not acknowledged.",
                  "peer", "SELECT url, coalesce(seconds_behind, 0) FROM peer_status WHERE NOT is_self ORDER BY url", 0) ||
        per_label(out, db, "aphlict_peer_errors_total", "counter", "Failed relays to a peer.", "peer",
                  "SELECT url, errors FROM peers WHERE NOT is_self ORDER BY url", 0) ||
        per_label(out, db, "aphlict_peer_relayed_total", "counter", "Messages a peer acknowledged.", "peer",
                  "SELECT url, relayed FROM peers WHERE NOT is_self ORDER BY url", 0) ||
        latency(out, db))
        goto fail;
    plain(out, db, "aphlict_listeners_cut_total", "counter", "Listeners cut off for a full send queue.",
          "listeners_cut_total");
    plain(out, db, "aphlict_replay_frames_total", "counter", "Frames sent by replay.", "replay_frames_total");
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    return 0;
fail:
    snprintf(err, errlen, "reading the queue for /metrics: %s", sqlite3_errmsg(db));
    if (!sqlite3_get_autocommit(db)) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}
