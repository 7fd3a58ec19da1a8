/* config.h - the configuration file: the reference server's aphlict.json,
 * read unchanged, plus this project's own keys (all optional, with
 * defaults that need no editing).
 *
 * Every error names the file, the key at fault and what was expected, in
 * the style "aphlict.json: servers[1].port: expected ...". */
#ifndef APH_CONFIG_H
#define APH_CONFIG_H

#include <stddef.h>

#define CONFIG_MAX_SERVERS 16
#define CONFIG_MAX_PEERS 64
#define CONFIG_MAX_LOGS 8
#define CONFIG_ERR_MAX 512

#define CONFIG_DEFAULT_STATE_DIR "/var/lib/aphlict"

enum server_type { SERVER_CLIENT, SERVER_ADMIN };

struct config_server {
    enum server_type type;
    int port;
    char *listen;     /* "0.0.0.0" when absent, as the reference */
    char *ssl_key;    /* NULL when absent or null */
    char *ssl_cert;
    char *ssl_chain;
};

struct config_peer {
    char *host;
    int port;
    char *protocol;   /* "http" or "https" */
};

/* A list of strings from the file; n = 0 when absent. */
struct config_list {
    char **items;
    int n;
};
#define CONFIG_MAX_LIST 256

struct config {
    char *file;       /* the path it was read from, for messages */

    /* The reference server's keys. */
    struct config_server servers[CONFIG_MAX_SERVERS];
    int nservers;
    char *logs[CONFIG_MAX_LOGS];
    int nlogs;
    struct config_peer cluster[CONFIG_MAX_PEERS];
    int npeers;
    char *pidfile;

    /* This project's keys: see config.c's table for defaults and bounds. */
    char *state_dir;
    char *queue_path;
    long long queue_busy_timeout_ms;
    char *queue_synchronous;          /* "normal" or "full" */
    long long admin_max_body_bytes;
    long long admin_max_drain_bytes;
    char *admin_path_prefix;          /* "" when mounted at the root */
    long long admin_threads;
    char *admin_socket;               /* NULL: use stdin or CGI */
    long long admin_socket_mode;
    long long admin_listen_backlog;
    struct config_list admin_allow;   /* networks that may publish; empty: loopback + peers */
    char *cluster_secret;             /* HMAC key for peer relays; NULL: off */
    char *process_user;               /* drop to this user after binding; NULL: stay */
    char *process_group;
    char *admin_socket_group;         /* group of the FastCGI UNIX socket */
    long long queue_mode;             /* mode of a new queue file */
    long long history_max_age_ms;
    long long history_max_messages;
    long long push_heartbeat_stale_ms;
    char *push_wake_socket;
    char *push_pidfile;
    char *cluster_ca_file;            /* NULL: the system store */
    long long cluster_timeout_ms;
    long long cluster_connect_timeout_ms;
    long long cluster_retry_max_ms;
    long long client_max_frame_bytes;
    long long client_max_subscriptions;
    long long client_send_queue_bytes;
    long long client_send_queue_frames;
    long long client_idle_timeout_s;
    long long client_max_connections;
    char *client_event_loop;          /* "epoll" or "poll" */
    struct config_list client_allowed_origins;   /* empty: any Origin */

    /* Non-fatal remarks (unknown keys), one per line, for --test. */
    char *warnings;
};

/* Reads and checks `path`. state_dir_override (or NULL) replaces the file's
 * "state.dir". Returns 0, or -1 with err filled in. */
int config_load(const char *path, const char *state_dir_override,
                struct config *cfg, char *err, size_t errlen);
/* The same for text already in memory; `name` stands for the file name. */
int config_parse(const char *text, const char *name, const char *state_dir_override,
                 struct config *cfg, char *err, size_t errlen);
void config_free(struct config *cfg);

/* The first server of the given type, or NULL. */
const struct config_server *config_first_server(const struct config *cfg, enum server_type t);

#endif
