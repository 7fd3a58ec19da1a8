/* relay.c - see relay.h. */
#include "relay.h"

#include "config.h"
#include "log.h"
#include "message.h"
#include "queue.h"
#include "sign.h"

#include <curl/curl.h>
#include <json-c/json.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct peer {
    struct relay *relay;
    pthread_t thread;
    char url[512];              /* protocol://host:port/ : the peers row key */
    char name[300];             /* host:port, for logs */
    char fingerprint[32];       /* learned; "" until the first receipt */
    int is_self;
    long long cursor;
    long long retry_ms;
    struct queue *queue;
    CURL *curl;
    sqlite3_stmt *next_batch, *save_ok, *save_error, *lag;
    long long lag_logged_ms;
    char last_error[300];
};

struct relay {
    const struct config *cfg;
    char own_fingerprint[32];
    pthread_mutex_t lock;
    pthread_cond_t wake;
    unsigned long generation;   /* bumped by relay_notify */
    int stopping;
    int npeers;
    struct peer *peers;
};

static long long relay_now_ms(void) { return queue_now_ms(); }

static int open_peer_db(struct peer *p) {
    const struct config *cfg = p->relay->cfg;
    char err[QUEUE_ERR_MAX + 256];
    if (queue_open_config(cfg, &p->queue, err, sizeof err) < 0) {
        log_error("relay to %s: %s", p->name, err);
        return -1;
    }
    sqlite3 *db = queue_db(p->queue);
    const char *ensure = "INSERT INTO peers (url) VALUES (?1) ON CONFLICT (url) DO NOTHING";
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, ensure, -1, &st, NULL) != SQLITE_OK) goto fail;
    sqlite3_bind_text(st, 1, p->url, -1, SQLITE_STATIC);
    queue_write_lock();
    int rc = sqlite3_step(st);
    queue_write_unlock();
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) goto fail;
    if (sqlite3_prepare_v2(db, "SELECT coalesce(fingerprint, ''), is_self, cursor FROM peers WHERE url = ?1", -1,
                           &st, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_bind_text(st, 1, p->url, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        snprintf(p->fingerprint, sizeof p->fingerprint, "%s", (const char *)sqlite3_column_text(st, 0));
        p->is_self = sqlite3_column_int(st, 1);
        p->cursor = sqlite3_column_int64(st, 2);
    }
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(db, "SELECT id, instance, received_ms, body FROM messages WHERE id > ?1 ORDER BY id LIMIT ?2",
                           -1, &p->next_batch, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "UPDATE peers SET cursor = ?2, fingerprint = nullif(?3, ''), is_self = ?4, "
                               "relayed = relayed + ?5, last_success_ms = coalesce(?6, last_success_ms) WHERE url = ?1",
                           -1, &p->save_ok, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "UPDATE peers SET last_error = ?2, last_error_ms = ?3, errors = errors + 1 WHERE url = ?1",
                           -1, &p->save_error, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "SELECT count(*), min(received_ms) FROM messages WHERE id > ?1", -1, &p->lag, NULL) !=
            SQLITE_OK)
        goto fail;
    return 0;
fail:
    log_error("relay to %s: preparing the peers table: %s", p->name, sqlite3_errmsg(db));
    return -1;
}

static void save_progress(struct peer *p, int relayed, long long success_ms) {
    sqlite3_bind_text(p->save_ok, 1, p->url, -1, SQLITE_STATIC);
    sqlite3_bind_int64(p->save_ok, 2, p->cursor);
    sqlite3_bind_text(p->save_ok, 3, p->fingerprint, -1, SQLITE_STATIC);
    sqlite3_bind_int(p->save_ok, 4, p->is_self);
    sqlite3_bind_int(p->save_ok, 5, relayed);
    if (success_ms) sqlite3_bind_int64(p->save_ok, 6, success_ms);
    else sqlite3_bind_null(p->save_ok, 6);
    queue_write_lock();
    int rc = sqlite3_step(p->save_ok);
    queue_write_unlock();
    sqlite3_reset(p->save_ok);
    if (rc != SQLITE_DONE)
        log_warn("relay to %s: cursor %lld not saved (it will be resent): %s", p->name, p->cursor,
                 sqlite3_errmsg(queue_db(p->queue)));
}

/* Every RELAY_LAG_LOG_MS while a peer is behind, one line saying how far,
 * so "is node 2 keeping up?" shows in the log as well as in peer_status. */
static void log_lag(struct peer *p) {
    long long now = relay_now_ms();
    if (p->is_self || now - p->lag_logged_ms < RELAY_LAG_LOG_MS) return;
    sqlite3_bind_int64(p->lag, 1, p->cursor);
    long long behind = 0, oldest = 0;
    if (sqlite3_step(p->lag) == SQLITE_ROW) {
        behind = sqlite3_column_int64(p->lag, 0);
        oldest = sqlite3_column_int64(p->lag, 1);
    }
    sqlite3_reset(p->lag);
    if (behind == 0) return;
    p->lag_logged_ms = now;
    log_warn("relay to %s: %lld messages behind (oldest %.1f s), fingerprint %s, cursor %lld, last error: %s", p->name,
             behind, (now - oldest) / 1000.0, p->fingerprint[0] ? p->fingerprint : "not yet known", p->cursor,
             p->last_error[0] ? p->last_error : "none");
}

static void save_error(struct peer *p, const char *what) {
    snprintf(p->last_error, sizeof p->last_error, "%s", what);
    sqlite3_bind_text(p->save_error, 1, p->url, -1, SQLITE_STATIC);
    sqlite3_bind_text(p->save_error, 2, what, -1, SQLITE_STATIC);
    sqlite3_bind_int64(p->save_error, 3, relay_now_ms());
    queue_write_lock();
    int rc = sqlite3_step(p->save_error);
    queue_write_unlock();
    sqlite3_reset(p->save_error);
    if (rc != SQLITE_DONE)
        log_warn("relay to %s: error not saved in the peers table: %s", p->name, sqlite3_errmsg(queue_db(p->queue)));
}

/* --- HTTP ------------------------------------------------------------------------ */

struct answer {
    char buf[1024];
    size_t len;
};

static size_t collect(char *data, size_t size, size_t n, void *arg) {
    struct answer *a = arg;
    size_t len = size * n, room = sizeof a->buf - 1 - a->len;
    memcpy(a->buf + a->len, data, len < room ? len : room);
    a->len += len < room ? len : room;
    a->buf[a->len] = '\0';
    return len;
}

static int abort_on_stop(void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d) {
    struct relay *r = arg;
    return __atomic_load_n(&r->stopping, __ATOMIC_RELAXED);
}

static CURL *make_curl(struct peer *p) {
    const struct config *cfg = p->relay->cfg;
    CURL *c = curl_easy_init();
    if (!c) return NULL;
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)cfg->cluster_connect_timeout_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)cfg->cluster_timeout_ms);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, abort_on_stop);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, p->relay);
    /* Verification stays on: the system store, or the configured CA. */
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    if (cfg->cluster_ca_file) curl_easy_setopt(c, CURLOPT_CAINFO, cfg->cluster_ca_file);
    return c;
}

/* POSTs one message. Returns 0 with the receipt's fingerprint in fp, or -1
 * with a one-line reason in err. */
static int post_message(struct peer *p, const char *instance, const char *body, size_t len,
                        char *fp, size_t fplen, char *err, size_t errlen) {
    char url[1024];
    char *esc = curl_easy_escape(p->curl, instance, 0);
    snprintf(url, sizeof url, "%s?instance=%s", p->url, esc ? esc : "default");
    curl_free(esc);
    struct answer a = { "", 0 };
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    headers = curl_slist_append(headers, "Expect:");
    if (p->relay->cfg->cluster_secret) {
        char sig[SIGN_VALUE_MAX], line[SIGN_VALUE_MAX + 40];
        sign_body(p->relay->cfg->cluster_secret, body, len, sig);
        snprintf(line, sizeof line, SIGN_HEADER ": %s", sig);
        headers = curl_slist_append(headers, line);
    }
    curl_easy_setopt(p->curl, CURLOPT_URL, url);
    curl_easy_setopt(p->curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(p->curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(p->curl, CURLOPT_POSTFIELDSIZE, (long)len);
    curl_easy_setopt(p->curl, CURLOPT_WRITEDATA, &a);
    CURLcode rc = curl_easy_perform(p->curl);
    curl_slist_free_all(headers);
    long code = 0;
    curl_easy_getinfo(p->curl, CURLINFO_RESPONSE_CODE, &code);
    if (rc != CURLE_OK) {
        snprintf(err, errlen, "%s", curl_easy_strerror(rc));
        return -1;
    }
    if (code != 200) {
        snprintf(err, errlen, "answered %ld: %.200s", code, a.buf);
        return -1;
    }
    char why[MESSAGE_ERR_MAX];
    if (message_parse_receipt(a.buf, a.len, fp, fplen, why, sizeof why) < 0) {
        snprintf(err, errlen, "answered 200 with a bad receipt (%s): %.80s", why, a.buf);
        return -1;
    }
    return 0;
}

/* --- the peer's loop ----------------------------------------------------------- */

/* Whether the peer already has the message: its learned fingerprint is in
 * `touched`. */
static int touched_by(const char *body, const char *fingerprint) {
    if (!fingerprint[0]) return 0;
    char quoted[40];
    snprintf(quoted, sizeof quoted, "\"%s\"", fingerprint);
    if (!strstr(body, quoted)) return 0;   /* fast path: most messages */
    struct json_object *o = json_tokener_parse(body), *t;
    int found = 0;
    if (o && json_object_object_get_ex(o, "touched", &t) && json_object_is_type(t, json_type_array)) {
        size_t n = json_object_array_length(t);
        for (size_t i = 0; i < n && !found; i++)
            found = strcmp(json_object_get_string(json_object_array_get_idx(t, i)), fingerprint) == 0;
    }
    json_object_put(o);
    return found;
}

/* Sleeps until stopped, ms pass, or (when seen is not NULL) notified.
 * Returns 1 when stopping. */
static int wait_for(struct relay *r, unsigned long *seen, long long ms) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&r->lock);
    while (!r->stopping && (!seen || r->generation == *seen))
        if (pthread_cond_timedwait(&r->wake, &r->lock, &until) != 0) break;
    if (seen) *seen = r->generation;
    int stopping = r->stopping;
    pthread_mutex_unlock(&r->lock);
    return stopping;
}

/* Relays one batch. Returns the number of messages the cursor moved past,
 * or -1 after a failed POST (the cursor stays on that message). */
static int relay_batch(struct peer *p) {
    struct relay *r = p->relay;
    long long window_start = relay_now_ms() - r->cfg->history_max_age_ms;
    sqlite3_stmt *st = p->next_batch;
    sqlite3_bind_int64(st, 1, p->cursor);
    sqlite3_bind_int(st, 2, RELAY_BATCH);
    int moved = 0, relayed = 0, failed = 0;
    long long success_ms = 0;
    char err[300];
    while (!failed && sqlite3_step(st) == SQLITE_ROW) {
        long long id = sqlite3_column_int64(st, 0);
        const char *instance = (const char *)sqlite3_column_text(st, 1);
        long long received = sqlite3_column_int64(st, 2);
        const char *body = (const char *)sqlite3_column_text(st, 3);
        size_t len = (size_t)sqlite3_column_bytes(st, 3);
        if (!p->is_self && received >= window_start && !touched_by(body, p->fingerprint)) {
            char fp[sizeof p->fingerprint];
            if (post_message(p, instance, body, len, fp, sizeof fp, err, sizeof err) < 0) {
                log_warn("relay to %s: message %lld: %s (retrying in %lld ms)", p->name, id, err, p->retry_ms);
                failed = 1;
                break;
            }
            success_ms = relay_now_ms();
            relayed++;
            if (strcmp(fp, p->fingerprint) != 0) {
                snprintf(p->fingerprint, sizeof p->fingerprint, "%s", fp);
                p->is_self = strcmp(fp, r->own_fingerprint) == 0;
                log_info("relay to %s: its fingerprint is %s%s", p->name, fp,
                         p->is_self ? ": that is this node, so nothing more is sent there" : "");
            }
        }
        p->cursor = id;
        moved++;
    }
    /* The read ends before anything is written: a write from inside it
     * fails at once (SQLITE_BUSY_SNAPSHOT) whenever another connection
     * has written since it began, as the heartbeat does every second. */
    sqlite3_reset(st);
    if (moved) save_progress(p, relayed, success_ms);
    if (failed) save_error(p, err);
    return failed ? -1 : moved;
}

static void *peer_main(void *arg) {
    struct peer *p = arg;
    struct relay *r = p->relay;
    unsigned long seen = 0;
    p->retry_ms = RELAY_RETRY_MIN_MS;
    while (!__atomic_load_n(&r->stopping, __ATOMIC_RELAXED)) {
        int n = relay_batch(p);
        log_lag(p);
        if (n < 0) {
            /* New messages must not cut the back-off short. */
            if (wait_for(r, NULL, p->retry_ms)) break;
            /* Back off while the peer stays down, up to cluster.retry_max_ms. */
            p->retry_ms = p->retry_ms * 2 > r->cfg->cluster_retry_max_ms ? r->cfg->cluster_retry_max_ms : p->retry_ms * 2;
            continue;
        }
        p->retry_ms = RELAY_RETRY_MIN_MS;
        if (n == RELAY_BATCH) continue;
        if (wait_for(r, &seen, RELAY_IDLE_WAIT_MS)) break;
    }
    return NULL;
}

struct relay *relay_start(const struct config *cfg) {
    struct relay *r = calloc(1, sizeof *r);
    r->cfg = cfg;
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->wake, NULL);
    if (cfg->npeers == 0) return r;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    r->peers = calloc((size_t)cfg->npeers, sizeof *r->peers);
    for (int i = 0; i < cfg->npeers; i++) {
        struct peer *p = &r->peers[i];
        const struct config_peer *c = &cfg->cluster[i];
        p->relay = r;
        /* A bare IPv6 address needs brackets in a URL. */
        int v6 = strchr(c->host, ':') != NULL;
        snprintf(p->url, sizeof p->url, "%s://%s%s%s:%d/", c->protocol, v6 ? "[" : "", c->host, v6 ? "]" : "", c->port);
        snprintf(p->name, sizeof p->name, "%s:%d", c->host, c->port);
        if (open_peer_db(p) < 0 || !(p->curl = make_curl(p))) {
            relay_stop(r);
            return NULL;
        }
        if (i == 0) snprintf(r->own_fingerprint, sizeof r->own_fingerprint, "%s", queue_fingerprint(p->queue));
        r->npeers = i + 1;
        if (pthread_create(&p->thread, NULL, peer_main, p) != 0) {
            log_error("relay to %s: cannot start its thread", p->name);
            r->npeers = i;
            relay_stop(r);
            return NULL;
        }
        log_info("relaying to %s%s, from message %lld on", p->url, p->is_self ? " (this node: nothing sent)" : "",
                 p->cursor + 1);
    }
    return r;
}

void relay_notify(struct relay *r) {
    if (!r || r->npeers == 0) return;
    pthread_mutex_lock(&r->lock);
    r->generation++;
    pthread_cond_broadcast(&r->wake);
    pthread_mutex_unlock(&r->lock);
}

void relay_stop(struct relay *r) {
    if (!r) return;
    pthread_mutex_lock(&r->lock);
    __atomic_store_n(&r->stopping, 1, __ATOMIC_RELAXED);
    pthread_cond_broadcast(&r->wake);
    pthread_mutex_unlock(&r->lock);
    for (int i = 0; i < r->npeers; i++) pthread_join(r->peers[i].thread, NULL);
    for (int i = 0; r->peers && i < r->cfg->npeers; i++) {
        struct peer *p = &r->peers[i];
        sqlite3_finalize(p->next_batch);
        sqlite3_finalize(p->save_ok);
        sqlite3_finalize(p->save_error);
        sqlite3_finalize(p->lag);
        queue_close(p->queue);
        if (p->curl) curl_easy_cleanup(p->curl);
    }
    if (r->cfg->npeers) curl_global_cleanup();
    free(r->peers);
    pthread_cond_destroy(&r->wake);
    pthread_mutex_destroy(&r->lock);
    free(r);
}
