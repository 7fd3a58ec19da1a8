/* handler.c - see handler.h. Every answer is JSON with a Content-Length;
 * every error is a one-line {"error": "..."} saying what was wrong. */
#include "handler.h"

#include "config.h"
#include "log.h"
#include "message.h"
#include "metrics.h"
#include "netacl.h"
#include "queue.h"
#include "route.h"
#include "sign.h"
#include "wake.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define READ_CHUNK 65536

static const char *param_or(struct exchange *ex, const char *name, const char *fallback) {
    const char *v = ex->param(ex, name);
    return v ? v : fallback;
}

static const char *status_line(int code) {
    switch (code) {
    case 200: return "200 OK";
    case 400: return "400 Bad Request";
    case 403: return "403 Forbidden";
    case 404: return "404 Not Found";
    case 405: return "405 Method Not Allowed";
    case 413: return "413 Payload Too Large";
    case 500: return "500 Internal Server Error";
    default: return "503 Service Unavailable";
    }
}

static void respond_typed(struct exchange *ex, int code, const char *type, const char *extra_headers,
                          const char *body, size_t len) {
    char head[512];
    int n = snprintf(head, sizeof head,
                     "Status: %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Cache-Control: no-store\r\n%s\r\n",
                     status_line(code), type, len, extra_headers ? extra_headers : "");
    ex->write(ex, head, n);
    ex->write(ex, body, (int)len);
}

/* A JSON answer: the body and a newline. */
static void respond(struct exchange *ex, int code, const char *extra_headers, const char *body) {
    size_t len = strlen(body);
    char *line = malloc(len + 2);
    memcpy(line, body, len);
    line[len] = '\n';
    line[len + 1] = '\0';
    respond_typed(ex, code, "application/json", extra_headers, line, len + 1);
    free(line);
}

static void respond_error(struct exchange *ex, int code, const char *extra_headers, const char *what) {
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "error", json_object_new_string(what));
    respond(ex, code, extra_headers, json_object_to_json_string_ext(o, JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
}

static void respond_receipt(struct admin_ctx *ctx, struct exchange *ex) {
    char body[64];
    snprintf(body, sizeof body, "{\"fingerprint\":\"%s\"}", queue_fingerprint(ctx->queue));
    respond(ex, 200, NULL, body);
}

/* Reads and throws away up to `limit` more body bytes, so that a web
 * server reusing the connection finds it at a record boundary. */
static void drain_body(struct exchange *ex, long long limit) {
    char buf[READ_CHUNK];
    int n;
    while (limit > 0 && (n = ex->read(ex, buf, sizeof buf)) > 0) limit -= n;
}

/* Reads the whole body into a new buffer. Returns its length, -1 on a
 * read error, or -2 when it is over the limit (not read past it, bar the
 * bounded drain). */
static long long read_body(struct admin_ctx *ctx, struct exchange *ex, char **out) {
    long long max = ctx->cfg->admin_max_body_bytes;
    const char *declared = ex->param(ex, "CONTENT_LENGTH");
    if (declared && *declared && atoll(declared) > max) {
        drain_body(ex, ctx->cfg->admin_max_drain_bytes + atoll(declared));
        return -2;
    }
    char *buf = malloc((size_t)max + 1);
    long long used = 0;
    int n;
    while ((n = ex->read(ex, buf + used, (int)(max + 1 - used < READ_CHUNK ? max + 1 - used : READ_CHUNK))) > 0) {
        used += n;
        if (used > max) {
            free(buf);
            drain_body(ex, ctx->cfg->admin_max_drain_bytes);
            return -2;
        }
    }
    if (n < 0) {
        free(buf);
        return -1;
    }
    buf[used] = '\0';
    *out = buf;
    return used;
}

static void handle_publish(struct admin_ctx *ctx, struct exchange *ex, const char *instance) {
    const char *peer = param_or(ex, "REMOTE_ADDR", "-");
    char *body = NULL;
    long long len = read_body(ctx, ex, &body);
    if (len == -2) {
        char what[128];
        snprintf(what, sizeof what, "body is larger than admin.max_body_bytes (%lld bytes)",
                 ctx->cfg->admin_max_body_bytes);
        log_warn("publish from %s: 413: %s", peer, what);
        respond_error(ex, 413, NULL, what);
        return;
    }
    if (len < 0) {
        log_warn("publish from %s: the request body could not be read", peer);
        respond_error(ex, 400, NULL, "the request body could not be read");
        return;
    }

    /* A relay signed with cluster.secret may come from anywhere; anything
     * else only from the networks of admin.allow. */
    const char *signature = ex->param(ex, SIGN_CGI_PARAM);
    const char *secret = ctx->cfg->cluster_secret;
    const char *refusal = NULL;
    if (secret && signature) {
        if (!sign_check(secret, body, (size_t)len, signature)) refusal = "bad " SIGN_HEADER ": not signed with cluster.secret";
    } else if (!netacl_match(ctx->publishers, peer)) {
        refusal = "this address may not publish (see admin.allow)";
    }
    if (refusal) {
        free(body);
        log_warn("publish from %s: 403: %s", peer, refusal);
        respond_error(ex, 403, NULL, refusal);
        return;
    }

    struct message m;
    char err[MESSAGE_ERR_MAX + QUEUE_ERR_MAX];
    if (message_parse(body, (size_t)len, &m, err, sizeof err) < 0) {
        free(body);
        message_free(&m);
        log_warn("publish from %s: 400: %s", peer, err);
        respond_error(ex, 400, NULL, err);
        return;
    }
    free(body);

    if (message_touch(&m, queue_fingerprint(ctx->queue))) {
        /* Seen before (it came back to us around the cluster): receipt only. */
        if (queue_count_received(ctx->queue, instance, err, sizeof err) != QUEUE_OK)
            log_warn("publish from %s: counting a message already seen: %s", peer, err);
        log_debug("publish from %s: already touched by this node, not stored", peer);
        message_free(&m);
        respond_receipt(ctx, ex);
        return;
    }
    if (message_ensure_unique_id(&m) < 0) {
        message_free(&m);
        respond_error(ex, 503, NULL, "no randomness available for a uniqueID");
        return;
    }

    size_t tlen;
    const char *text = message_text(&m, &tlen);
    long long id = 0;
    enum queue_result r = queue_append(ctx->queue, instance, m.unique_id, text, tlen, queue_now_ms(),
                                       &id, err, sizeof err);
    if (r == QUEUE_UNAVAILABLE) {
        char what[sizeof err + 32];
        snprintf(what, sizeof what, "queue unavailable: %s", err);
        log_error("publish from %s: 503: %s", peer, what);
        message_free(&m);
        respond_error(ex, 503, "Retry-After: 1\r\n", what);
        return;
    }
    if (r == QUEUE_OK) {
        wake_ring(ctx->wake_fd, ctx->cfg->push_wake_socket);
        log_debug("publish from %s: instance %s, message %lld, uniqueID %s", peer, instance, id, m.unique_id);
    } else {
        log_debug("publish from %s: uniqueID %s already queued, not stored again", peer, m.unique_id);
    }
    message_free(&m);
    respond_receipt(ctx, ex);
}

static void add_int(struct json_object *o, const char *key, long long v) {
    json_object_object_add(o, key, json_object_new_int64(v));
}

static void handle_status(struct admin_ctx *ctx, struct exchange *ex, const char *instance) {
    drain_body(ex, ctx->cfg->admin_max_drain_bytes);
    const struct config *cfg = ctx->cfg;
    long long now = queue_now_ms();
    struct queue_status st;
    char err[QUEUE_ERR_MAX];
    if (queue_read_status(ctx->queue, instance, now, cfg->history_max_age_ms, cfg->history_max_messages,
                          &st, err, sizeof err) != QUEUE_OK) {
        char what[sizeof err + 32];
        snprintf(what, sizeof what, "queue unavailable: %s", err);
        log_error("status: 503: %s", what);
        respond_error(ex, 503, NULL, what);
        return;
    }
    long long heartbeat_age = now - st.daemon_heartbeat_ms;
    int running = st.daemon_seen && heartbeat_age <= cfg->push_heartbeat_stale_ms;

    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "instance", json_object_new_string(instance));
    add_int(o, "uptime", running ? now - st.daemon_started_ms : now - ctx->started_ms);
    add_int(o, "clients.active", running ? st.clients_active : 0);
    add_int(o, "clients.total", st.clients_total);
    add_int(o, "messages.in", st.messages_in);
    add_int(o, "messages.out", st.messages_out);
    add_int(o, "version", 7);
    add_int(o, "history.size", st.history_size);
    json_object_object_add(o, "history.age",
                           st.history_oldest_ms < 0 ? NULL : json_object_new_int64(now - st.history_oldest_ms));
    if (!running) {
        char why[160];
        if (!st.daemon_seen)
            snprintf(why, sizeof why, "push daemon not running: it has never written a heartbeat to this queue");
        else
            snprintf(why, sizeof why, "push daemon not running: last heartbeat %.1f s ago (pid %lld)",
                     heartbeat_age / 1000.0, st.daemon_pid);
        json_object_object_add(o, "error", json_object_new_string(why));
    }
    respond(ex, running ? 200 : 503, NULL, json_object_to_json_string_ext(o, JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
}

static void handle_metrics(struct admin_ctx *ctx, struct exchange *ex) {
    drain_body(ex, ctx->cfg->admin_max_drain_bytes);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    char err[QUEUE_ERR_MAX + 64];
    int rc = metrics_write(out, ctx->queue, ctx->cfg, queue_now_ms(), err, sizeof err);
    fclose(out);
    if (rc < 0) {
        log_error("metrics: 503: %s", err);
        respond_error(ex, 503, NULL, err);
    } else {
        respond_typed(ex, 200, "text/plain; version=0.0.4", NULL, text, len);
    }
    free(text);
}

/* The path the request was for: SCRIPT_NAME + PATH_INFO works behind nginx
 * and Apache alike (STACK-NOTES.md); REQUEST_URI is the fallback. */
static void request_path(struct exchange *ex, char *out, size_t outlen) {
    const char *script = param_or(ex, "SCRIPT_NAME", "");
    const char *info = param_or(ex, "PATH_INFO", "");
    if (*script || *info) {
        snprintf(out, outlen, "%s%s", script, info);
        return;
    }
    const char *uri = param_or(ex, "REQUEST_URI", "/");
    size_t len = strcspn(uri, "?");
    snprintf(out, outlen, "%.*s", (int)len, uri);
}

void handle_request(struct admin_ctx *ctx, struct exchange *ex) {
    char path[1024];
    request_path(ex, path, sizeof path);
    const char *method = param_or(ex, "REQUEST_METHOD", "GET");

    enum admin_route route = route_admin(path, ctx->cfg->admin_path_prefix);
    if (route == ROUTE_NOT_FOUND) {
        drain_body(ex, ctx->cfg->admin_max_drain_bytes);
        respond_error(ex, 404, NULL, "not found: the admin API serves POST / and GET /status/");
        return;
    }
    char instance[ROUTE_INSTANCE_MAX + 1];
    if (route_query_instance(param_or(ex, "QUERY_STRING", ""), instance, sizeof instance) < 0) {
        drain_body(ex, ctx->cfg->admin_max_drain_bytes);
        respond_error(ex, 400, NULL, "bad instance name in the query string (at most 128 bytes, valid %-escapes)");
        return;
    }
    if (route == ROUTE_STATUS) {
        handle_status(ctx, ex, instance);
        return;
    }
    if (route == ROUTE_METRICS) {
        handle_metrics(ctx, ex);
        return;
    }
    if (strcmp(method, "POST") != 0) {
        drain_body(ex, ctx->cfg->admin_max_drain_bytes);
        respond_error(ex, 405, "Allow: POST\r\n", "method not allowed: publish with POST");
        return;
    }
    handle_publish(ctx, ex, instance);
}
