/* config.c - parse and check the configuration file; see config.h.
 *
 * The reference keys are checked by hand, as their shapes vary. This
 * project's own keys are flat, dotted names ("queue.path") described by one
 * table, so that every limit has a name, a default and a range in one
 * place, and a new key is one line. */
#include "config.h"

#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum key_kind { KEY_INT, KEY_STRING, KEY_PATH, KEY_MODE, KEY_CHOICE, KEY_LIST };

struct key_spec {
    const char *name;
    enum key_kind kind;
    size_t offset;
    long long def_int;
    const char *def_str;
    long long min, max;       /* KEY_INT, KEY_MODE */
    const char *choices;      /* KEY_CHOICE: "a|b" */
    const char *what;         /* what it bounds, for error messages */
};

#define OFF(field) offsetof(struct config, field)
#define KB 1024LL
#define MB (1024LL * 1024LL)

static const struct key_spec own_keys[] = {
    { "state.dir", KEY_STRING, OFF(state_dir), 0, CONFIG_DEFAULT_STATE_DIR, 0, 0, NULL,
      "directory for the queue, sockets and pid files" },
    { "queue.path", KEY_PATH, OFF(queue_path), 0, "queue.db", 0, 0, NULL,
      "the SQLite queue file" },
    { "queue.busy_timeout_ms", KEY_INT, OFF(queue_busy_timeout_ms), 1000, NULL, 0, 60000, NULL,
      "wait for a locked queue before answering 503" },
    { "queue.mode", KEY_MODE, OFF(queue_mode), 0640, NULL, 0, 0777, NULL,
      "permissions of a new queue file (its -wal and -shm files follow it)" },
    { "queue.synchronous", KEY_CHOICE, OFF(queue_synchronous), 0, "normal", 0, 0, "normal|full",
      "durability: normal survives a process crash, full also a machine crash" },
    { "admin.max_body_bytes", KEY_INT, OFF(admin_max_body_bytes), 1 * MB, NULL, 64, 64 * MB, NULL,
      "largest POST body accepted (413 above)" },
    { "admin.max_drain_bytes", KEY_INT, OFF(admin_max_drain_bytes), 64 * MB, NULL, 0, 1024 * MB, NULL,
      "body bytes past the limit read and discarded so a reused connection stays usable" },
    { "admin.path_prefix", KEY_STRING, OFF(admin_path_prefix), 0, "", 0, 0, NULL,
      "where the admin app is mounted, e.g. \"/aphlict\"" },
    { "admin.allow", KEY_LIST, OFF(admin_allow), 0, NULL, 0, 0, NULL,
      "networks (CIDR) that may publish; default loopback and the cluster peers" },
    { "admin.socket_group", KEY_STRING, OFF(admin_socket_group), 0, NULL, 0, 0, NULL,
      "group given the FastCGI UNIX socket (e.g. www-data)" },
    { "process.user", KEY_STRING, OFF(process_user), 0, NULL, 0, 0, NULL,
      "user to run as once sockets are bound (when started as root)" },
    { "process.group", KEY_STRING, OFF(process_group), 0, NULL, 0, 0, NULL,
      "group to run as (default: the user's)" },
    { "cluster.secret", KEY_STRING, OFF(cluster_secret), 0, NULL, 0, 0, NULL,
      "shared secret signing relays between peers (HMAC-SHA256); off when absent" },
    { "admin.threads", KEY_INT, OFF(admin_threads), 8, NULL, 1, 256, NULL,
      "FastCGI request threads" },
    { "admin.socket", KEY_PATH, OFF(admin_socket), 0, NULL, 0, 0, NULL,
      "FastCGI socket to listen on: a path, or host:port" },
    { "admin.socket_mode", KEY_MODE, OFF(admin_socket_mode), 0660, NULL, 0, 0777, NULL,
      "permissions of the FastCGI UNIX socket" },
    { "admin.listen_backlog", KEY_INT, OFF(admin_listen_backlog), 1024, NULL, 1, 65535, NULL,
      "FastCGI listen backlog" },
    { "history.max_age_ms", KEY_INT, OFF(history_max_age_ms), 60000, NULL, 1000, 86400000LL, NULL,
      "replay window" },
    { "history.max_messages", KEY_INT, OFF(history_max_messages), 4096, NULL, 1, 10000000, NULL,
      "messages held for replay per instance" },
    { "push.heartbeat_stale_ms", KEY_INT, OFF(push_heartbeat_stale_ms), 5000, NULL, 1000, 600000, NULL,
      "age of the push daemon's heartbeat after which /status/ answers 503" },
    { "push.wake_socket", KEY_PATH, OFF(push_wake_socket), 0, "push.wake", 0, 0, NULL,
      "datagram socket the admin app rings after each append" },
    { "push.pidfile", KEY_PATH, OFF(push_pidfile), 0, NULL, 0, 0, NULL,
      "pid file of the push daemon (defaults to \"pidfile\")" },
    { "cluster.ca_file", KEY_STRING, OFF(cluster_ca_file), 0, NULL, 0, 0, NULL,
      "CA certificates to verify https peers with (default: the system store)" },
    { "cluster.timeout_ms", KEY_INT, OFF(cluster_timeout_ms), 5000, NULL, 100, 600000, NULL,
      "longest relay POST to a peer before it counts as failed" },
    { "cluster.connect_timeout_ms", KEY_INT, OFF(cluster_connect_timeout_ms), 2000, NULL, 100, 600000, NULL,
      "longest connection attempt to a peer" },
    { "cluster.retry_max_ms", KEY_INT, OFF(cluster_retry_max_ms), 30000, NULL, 250, 3600000, NULL,
      "longest back-off between retries to a peer that is down" },
    { "client.max_frame_bytes", KEY_INT, OFF(client_max_frame_bytes), 64 * KB, NULL, 256, 16 * MB, NULL,
      "largest frame accepted from a listener" },
    { "client.max_subscriptions", KEY_INT, OFF(client_max_subscriptions), 10000, NULL, 1, 10000000, NULL,
      "PHIDs one listener may subscribe to" },
    { "client.send_queue_bytes", KEY_INT, OFF(client_send_queue_bytes), 4 * MB, NULL, 4 * KB, 1024 * MB, NULL,
      "bytes queued for one listener before it is cut off" },
    { "client.send_queue_frames", KEY_INT, OFF(client_send_queue_frames), 4096, NULL, 1, 10000000, NULL,
      "frames queued for one listener before it is cut off" },
    { "client.idle_timeout_s", KEY_INT, OFF(client_idle_timeout_s), 60, NULL, 5, 86400, NULL,
      "seconds without traffic before a listener is pinged, and again before it is closed" },
    { "client.allowed_origins", KEY_LIST, OFF(client_allowed_origins), 0, NULL, 0, 0, NULL,
      "Origins that may open a WebSocket (e.g. \"https://phorge.example.com\"); default any" },
    { "client.max_connections", KEY_INT, OFF(client_max_connections), 20000, NULL, 1, 1000000, NULL,
      "listeners connected at once" },
    { "client.event_loop", KEY_CHOICE, OFF(client_event_loop), 0, "epoll", 0, 0, "epoll|poll",
      "how the push daemon waits on its connections: epoll (through libev) costs the same with 10 or "
      "20,000 listeners; poll scans every connection on each turn" },
};

#define NKEYS (sizeof own_keys / sizeof own_keys[0])

/* Keys of the reference file that this project knows and handles. */
static const char *reference_keys[] = { "servers", "logs", "cluster", "pidfile", "memory.hint", NULL };

struct parse_ctx {
    const char *name;
    char *err;
    size_t errlen;
    char warnings[2048];
};

__attribute__((format(printf, 3, 4)))
static int fail(struct parse_ctx *p, const char *key, const char *fmt, ...) {
    char what[CONFIG_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (key) snprintf(p->err, p->errlen, "%s: %s: %s", p->name, key, what);
    else snprintf(p->err, p->errlen, "%s: %s", p->name, what);
    return -1;
}

static void warn(struct parse_ctx *p, const char *key, const char *what) {
    size_t used = strlen(p->warnings);
    snprintf(p->warnings + used, sizeof p->warnings - used, "%s: %s: %s\n", p->name, key, what);
}

/* The value as text for an error message, cut to a readable length. */
static const char *shown(struct json_object *v) {
    static __thread char buf[80];
    snprintf(buf, sizeof buf, "%s", v ? json_object_to_json_string_ext(v, JSON_C_TO_STRING_NOSLASHESCAPE) : "nothing");
    return buf;
}

static int get_int(struct parse_ctx *p, const char *key, struct json_object *v,
                   long long min, long long max, long long *out) {
    long long n;
    if (v && json_object_is_type(v, json_type_int)) {
        errno = 0;
        n = json_object_get_int64(v);
    } else if (v && json_object_is_type(v, json_type_string)) {
        /* Node accepted "22280" for a port; an existing file may say so. */
        const char *s = json_object_get_string(v);
        char *end;
        errno = 0;
        n = strtoll(s, &end, 10);
        if (*s == '\0' || *end != '\0' || errno)
            return fail(p, key, "expected an integer from %lld to %lld, got %s", min, max, shown(v));
    } else {
        return fail(p, key, "expected an integer from %lld to %lld, got %s", min, max, shown(v));
    }
    if (n < min || n > max)
        return fail(p, key, "expected an integer from %lld to %lld, got %lld", min, max, n);
    *out = n;
    return 0;
}

/* A string, or NULL for null/absent when allow_null. */
static int get_string(struct parse_ctx *p, const char *key, struct json_object *v,
                      int allow_null, char **out) {
    if (!v || json_object_is_type(v, json_type_null)) {
        if (allow_null) { *out = NULL; return 0; }
        return fail(p, key, "is required: expected a string");
    }
    if (!json_object_is_type(v, json_type_string))
        return fail(p, key, "expected a string%s, got %s", allow_null ? " or null" : "", shown(v));
    if (json_object_get_string_len(v) == 0 && !allow_null)
        return fail(p, key, "expected a non-empty string");
    *out = strdup(json_object_get_string(v));
    return 0;
}

static int parse_server(struct parse_ctx *p, int i, struct json_object *s, struct config_server *out) {
    char key[64];
    snprintf(key, sizeof key, "servers[%d]", i);
    if (!json_object_is_type(s, json_type_object))
        return fail(p, key, "expected an object with \"type\" and \"port\", got %s", shown(s));

    struct json_object *v;
    snprintf(key, sizeof key, "servers[%d].type", i);
    if (!json_object_object_get_ex(s, "type", &v) || !json_object_is_type(v, json_type_string))
        return fail(p, key, "expected \"client\" or \"admin\", got %s",
                    json_object_object_get_ex(s, "type", &v) ? shown(v) : "nothing");
    const char *type = json_object_get_string(v);
    if (strcmp(type, "client") == 0) out->type = SERVER_CLIENT;
    else if (strcmp(type, "admin") == 0) out->type = SERVER_ADMIN;
    else return fail(p, key, "expected \"client\" or \"admin\", got %s", shown(v));

    long long port;
    snprintf(key, sizeof key, "servers[%d].port", i);
    if (get_int(p, key, json_object_object_get_ex(s, "port", &v) ? v : NULL, 1, 65535, &port)) return -1;
    out->port = (int)port;

    snprintf(key, sizeof key, "servers[%d].listen", i);
    if (get_string(p, key, json_object_object_get_ex(s, "listen", &v) ? v : NULL, 1, &out->listen)) return -1;
    if (!out->listen) out->listen = strdup("0.0.0.0");

    static const char *ssl_names[] = { "ssl.key", "ssl.cert", "ssl.chain" };
    char **ssl_out[] = { &out->ssl_key, &out->ssl_cert, &out->ssl_chain };
    for (int k = 0; k < 3; k++) {
        snprintf(key, sizeof key, "servers[%d].%s", i, ssl_names[k]);
        if (get_string(p, key, json_object_object_get_ex(s, ssl_names[k], &v) ? v : NULL, 1, ssl_out[k]))
            return -1;
    }
    snprintf(key, sizeof key, "servers[%d]", i);
    if ((out->ssl_key == NULL) != (out->ssl_cert == NULL))
        return fail(p, key, "\"ssl.key\" and \"ssl.cert\" must be given together");
    if (out->ssl_chain && !out->ssl_cert)
        return fail(p, key, "\"ssl.chain\" needs \"ssl.cert\" and \"ssl.key\"");
    return 0;
}

static int parse_servers(struct parse_ctx *p, struct json_object *root, struct config *cfg) {
    struct json_object *list;
    if (!json_object_object_get_ex(root, "servers", &list))
        return fail(p, "servers", "is required: expected a list of {\"type\", \"port\"} objects");
    if (!json_object_is_type(list, json_type_array))
        return fail(p, "servers", "expected a list, got %s", shown(list));
    int n = (int)json_object_array_length(list);
    if (n > CONFIG_MAX_SERVERS)
        return fail(p, "servers", "at most %d servers are supported, got %d", CONFIG_MAX_SERVERS, n);
    for (int i = 0; i < n; i++) {
        cfg->nservers = i + 1;   /* counted first, so config_free frees a half-parsed entry */
        if (parse_server(p, i, json_object_array_get_idx(list, i), &cfg->servers[i])) return -1;
    }
    return 0;
}

static int parse_logs(struct parse_ctx *p, struct json_object *root, struct config *cfg) {
    struct json_object *list, *v;
    if (!json_object_object_get_ex(root, "logs", &list) || json_object_is_type(list, json_type_null))
        return 0;
    if (!json_object_is_type(list, json_type_array))
        return fail(p, "logs", "expected a list of {\"path\"} objects, got %s", shown(list));
    int n = (int)json_object_array_length(list);
    if (n > CONFIG_MAX_LOGS)
        return fail(p, "logs", "at most %d log files are supported, got %d", CONFIG_MAX_LOGS, n);
    char key[64];
    for (int i = 0; i < n; i++) {
        struct json_object *e = json_object_array_get_idx(list, i);
        snprintf(key, sizeof key, "logs[%d].path", i);
        if (!json_object_is_type(e, json_type_object))
            return fail(p, key, "expected an object {\"path\": ...}, got %s", shown(e));
        if (get_string(p, key, json_object_object_get_ex(e, "path", &v) ? v : NULL, 0, &cfg->logs[i]))
            return -1;
        cfg->nlogs = i + 1;
    }
    return 0;
}

static int parse_cluster(struct parse_ctx *p, struct json_object *root, struct config *cfg) {
    struct json_object *list, *v;
    if (!json_object_object_get_ex(root, "cluster", &list) || json_object_is_type(list, json_type_null))
        return 0;
    if (!json_object_is_type(list, json_type_array))
        return fail(p, "cluster", "expected a list of {\"host\", \"port\", \"protocol\"} objects, got %s", shown(list));
    int n = (int)json_object_array_length(list);
    if (n > CONFIG_MAX_PEERS)
        return fail(p, "cluster", "at most %d peers are supported, got %d", CONFIG_MAX_PEERS, n);
    char key[64];
    for (int i = 0; i < n; i++) {
        struct json_object *e = json_object_array_get_idx(list, i);
        struct config_peer *peer = &cfg->cluster[i];
        snprintf(key, sizeof key, "cluster[%d]", i);
        if (!json_object_is_type(e, json_type_object))
            return fail(p, key, "expected an object with \"host\", \"port\", \"protocol\", got %s", shown(e));
        cfg->npeers = i + 1;
        snprintf(key, sizeof key, "cluster[%d].host", i);
        if (get_string(p, key, json_object_object_get_ex(e, "host", &v) ? v : NULL, 0, &peer->host)) return -1;
        long long port;
        snprintf(key, sizeof key, "cluster[%d].port", i);
        if (get_int(p, key, json_object_object_get_ex(e, "port", &v) ? v : NULL, 1, 65535, &port)) return -1;
        peer->port = (int)port;
        snprintf(key, sizeof key, "cluster[%d].protocol", i);
        if (!json_object_object_get_ex(e, "protocol", &v) || json_object_is_type(v, json_type_null)) {
            peer->protocol = strdup("http");
        } else if (json_object_is_type(v, json_type_string) &&
                   (strcmp(json_object_get_string(v), "http") == 0 ||
                    strcmp(json_object_get_string(v), "https") == 0)) {
            peer->protocol = strdup(json_object_get_string(v));
        } else {
            return fail(p, key, "expected \"http\" or \"https\", got %s", shown(v));
        }
    }
    return 0;
}

static int get_list(struct parse_ctx *p, const char *key, struct json_object *v, struct config_list *out) {
    if (!v || json_object_is_type(v, json_type_null)) return 0;
    if (!json_object_is_type(v, json_type_array))
        return fail(p, key, "expected a list of strings, got %s", shown(v));
    int n = (int)json_object_array_length(v);
    if (n > CONFIG_MAX_LIST) return fail(p, key, "at most %d entries are supported, got %d", CONFIG_MAX_LIST, n);
    out->items = calloc((size_t)n + 1, sizeof *out->items);
    for (int i = 0; i < n; i++) {
        struct json_object *e = json_object_array_get_idx(v, i);
        if (!json_object_is_type(e, json_type_string) || json_object_get_string_len(e) == 0)
            return fail(p, key, "entry %d: expected a non-empty string, got %s", i, shown(e));
        out->items[i] = strdup(json_object_get_string(e));
        out->n = i + 1;
    }
    return 0;
}

static void free_list(struct config_list *l) {
    for (int i = 0; i < l->n; i++) free(l->items[i]);
    free(l->items);
    memset(l, 0, sizeof *l);
}

static int choice_ok(const char *choices, const char *s) {
    size_t len = strlen(s);
    for (const char *c = choices; *c;) {
        const char *bar = strchr(c, '|');
        size_t clen = bar ? (size_t)(bar - c) : strlen(c);
        if (clen == len && strncmp(c, s, len) == 0) return 1;
        if (!bar) break;
        c = bar + 1;
    }
    return 0;
}

static int parse_own_key(struct parse_ctx *p, const struct key_spec *k, struct json_object *v,
                         struct config *cfg) {
    char *base = (char *)cfg;
    long long *ip = (long long *)(base + k->offset);
    char **sp = (char **)(base + k->offset);
    switch (k->kind) {
    case KEY_INT:
        return get_int(p, k->name, v, k->min, k->max, ip);
    case KEY_MODE:
        if (v && json_object_is_type(v, json_type_string)) {
            const char *s = json_object_get_string(v);
            char *end;
            long long m = strtoll(s, &end, 8);
            if (*s == '\0' || *end != '\0' || m < k->min || m > k->max)
                return fail(p, k->name, "expected an octal mode such as \"0660\", got %s", shown(v));
            *ip = m;
            return 0;
        }
        return fail(p, k->name, "expected an octal mode as a string such as \"0660\", got %s", shown(v));
    case KEY_CHOICE:
        if (!v || !json_object_is_type(v, json_type_string) || !choice_ok(k->choices, json_object_get_string(v)))
            return fail(p, k->name, "expected one of %s, got %s", k->choices, shown(v));
        free(*sp);
        *sp = strdup(json_object_get_string(v));
        return 0;
    case KEY_STRING:
    case KEY_PATH:
        /* The programs use a key with a default (queue.path,
         * push.wake_socket...) without a NULL check: null is refused, but
         * for state.dir, which --state-dir may still give (checked below). */
        if (json_object_is_type(v, json_type_null) && k->def_str && k->offset != OFF(state_dir))
            return fail(p, k->name, "expected a string (leave the key out for the default \"%s\"), got null",
                        k->def_str);
        free(*sp);
        *sp = NULL;
        return get_string(p, k->name, v, 1, sp);
    case KEY_LIST:
        return get_list(p, k->name, v, (struct config_list *)(base + k->offset));
    }
    return 0;
}

static void set_defaults(struct config *cfg) {
    char *base = (char *)cfg;
    for (size_t i = 0; i < NKEYS; i++) {
        const struct key_spec *k = &own_keys[i];
        if (k->kind == KEY_INT || k->kind == KEY_MODE)
            *(long long *)(base + k->offset) = k->def_int;
        else if (k->kind == KEY_LIST)
            memset(base + k->offset, 0, sizeof(struct config_list));
        else
            *(char **)(base + k->offset) = k->def_str ? strdup(k->def_str) : NULL;
    }
}

/* Relative paths are taken against state.dir, so that one directory holds
 * all of a node's state. A FastCGI "host:port" is left as it is. */
static void resolve_paths(struct config *cfg) {
    char *base = (char *)cfg;
    for (size_t i = 0; i < NKEYS; i++) {
        const struct key_spec *k = &own_keys[i];
        char **sp = (char **)(base + k->offset);
        if (k->kind != KEY_PATH || !*sp || (*sp)[0] == '/') continue;
        if (k->offset == OFF(admin_socket) && strchr(*sp, ':')) continue;
        size_t len = strlen(cfg->state_dir) + strlen(*sp) + 2;
        char *full = malloc(len);
        snprintf(full, len, "%s/%s", cfg->state_dir, *sp);
        free(*sp);
        *sp = full;
    }
    if (!cfg->push_pidfile && cfg->pidfile) cfg->push_pidfile = strdup(cfg->pidfile);
}

static const struct key_spec *find_own_key(const char *name) {
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(own_keys[i].name, name) == 0) return &own_keys[i];
    return NULL;
}

static int is_reference_key(const char *name) {
    for (int i = 0; reference_keys[i]; i++)
        if (strcmp(reference_keys[i], name) == 0) return 1;
    return 0;
}

static int parse_root(struct parse_ctx *p, struct json_object *root, const char *state_dir_override,
                      struct config *cfg) {
    if (!json_object_is_type(root, json_type_object))
        return fail(p, NULL, "expected a JSON object at the top, got %s", shown(root));
    if (parse_servers(p, root, cfg) || parse_logs(p, root, cfg) || parse_cluster(p, root, cfg))
        return -1;
    struct json_object *v;
    if (json_object_object_get_ex(root, "pidfile", &v) && get_string(p, "pidfile", v, 1, &cfg->pidfile))
        return -1;
    json_object_object_foreach(root, key, val) {
        const struct key_spec *k = find_own_key(key);
        if (k) {
            if (parse_own_key(p, k, val, cfg)) return -1;
        } else if (!is_reference_key(key)) {
            warn(p, key, "unknown key, ignored");
        }
    }
    if (state_dir_override) {
        free(cfg->state_dir);
        cfg->state_dir = strdup(state_dir_override);
    }
    if (!cfg->state_dir || !cfg->state_dir[0])
        return fail(p, "state.dir", "expected a non-empty directory path");
    resolve_paths(cfg);
    return 0;
}

/* json-c reports an offset; a person wants a line and a column. */
static void offset_to_line(const char *text, size_t off, int *line, int *col) {
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off && text[i]; i++) {
        if (text[i] == '\n') { (*line)++; *col = 1; }
        else (*col)++;
    }
}

int config_parse(const char *text, const char *name, const char *state_dir_override,
                 struct config *cfg, char *err, size_t errlen) {
    struct parse_ctx p = { name, err, errlen, "" };
    memset(cfg, 0, sizeof *cfg);
    cfg->file = strdup(name);
    set_defaults(cfg);

    /* Strict, as Node's JSON.parse was: a file the reference server
     * refused (trailing commas, comments) is refused here too. */
    struct json_tokener *tok = json_tokener_new();
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    size_t len = strlen(text);
    struct json_object *root = json_tokener_parse_ex(tok, text, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t off = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (jerr != json_tokener_success || !root) {
        int line, col;
        offset_to_line(text, off, &line, &col);
        fail(&p, NULL, "line %d, column %d: not valid JSON: %s", line, col,
             jerr == json_tokener_continue ? "unexpected end of file" : json_tokener_error_desc(jerr));
        json_object_put(root);
        return -1;
    }
    int rc = parse_root(&p, root, state_dir_override, cfg);
    json_object_put(root);
    if (p.warnings[0]) cfg->warnings = strdup(p.warnings);
    return rc;
}

int config_load(const char *path, const char *state_dir_override,
                struct config *cfg, char *err, size_t errlen) {
    memset(cfg, 0, sizeof *cfg);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    enum { CONFIG_FILE_MAX = 1 << 20 };
    char *text = malloc(CONFIG_FILE_MAX + 1);
    size_t n = fread(text, 1, CONFIG_FILE_MAX + 1, f);
    int read_error = ferror(f);
    fclose(f);
    if (read_error || n > CONFIG_FILE_MAX) {
        snprintf(err, errlen, "%s: %s", path, read_error ? "read error" : "larger than 1 MiB");
        free(text);
        return -1;
    }
    text[n] = '\0';
    if (strlen(text) != n) {
        snprintf(err, errlen, "%s: contains a NUL byte: not a JSON text file", path);
        free(text);
        return -1;
    }
    int rc = config_parse(text, path, state_dir_override, cfg, err, errlen);
    free(text);
    return rc;
}

void config_free(struct config *cfg) {
    for (int i = 0; i < cfg->nservers; i++) {
        free(cfg->servers[i].listen);
        free(cfg->servers[i].ssl_key);
        free(cfg->servers[i].ssl_cert);
        free(cfg->servers[i].ssl_chain);
    }
    for (int i = 0; i < cfg->nlogs; i++) free(cfg->logs[i]);
    for (int i = 0; i < cfg->npeers; i++) {
        free(cfg->cluster[i].host);
        free(cfg->cluster[i].protocol);
    }
    char *base = (char *)cfg;
    for (size_t i = 0; i < NKEYS; i++) {
        const struct key_spec *k = &own_keys[i];
        if (k->kind == KEY_LIST) free_list((struct config_list *)(base + k->offset));
        else if (k->kind != KEY_INT && k->kind != KEY_MODE) free(*(char **)(base + k->offset));
    }
    free(cfg->pidfile);
    free(cfg->file);
    free(cfg->warnings);
    memset(cfg, 0, sizeof *cfg);
}

const struct config_server *config_first_server(const struct config *cfg, enum server_type t) {
    for (int i = 0; i < cfg->nservers; i++)
        if (cfg->servers[i].type == t) return &cfg->servers[i];
    return NULL;
}
