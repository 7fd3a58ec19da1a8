/* main.c - aphlict-admin: the admin API as a FastCGI application.
 *
 * Serves PROTOCOL.md section 2 behind any web server. It listens on the
 * socket named by --socket or admin.socket, else on the socket handed to it
 * as standard input (spawn-fcgi, systemd, mod_fcgid), else answers one
 * plain CGI request. Request threads each hold their own SQLite connection;
 * the main thread only waits for signals. */
#include "config.h"
#include "exchange.h"
#include "handler.h"
#include "log.h"
#include "netacl.h"
#include "privs.h"
#include "queue.h"
#include "wake.h"

#include <errno.h>
#include <fcgiapp.h>
#include <getopt.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_CONFIG "/etc/aphlict/aphlict.json"

struct options {
    const char *config_path;
    const char *state_dir;
    const char *socket;
    int test_only;
    int debug;
};

static void usage(FILE *to) {
    fprintf(to,
            "usage: aphlict-admin [--config FILE] [--state-dir DIR] [--socket PATH|HOST:PORT]\n"
            "                     [--test] [--debug]\n"
            "\n"
            "The admin API of the notification server (POST /, GET /status/) as a\n"
            "FastCGI application. Without --socket or admin.socket it serves the\n"
            "listening socket on standard input, or one CGI request.\n"
            "\n"
            "  --config FILE     aphlict.json to read (default %s)\n"
            "  --state-dir DIR   overrides the file's state.dir\n"
            "  --socket ADDR     FastCGI socket: a UNIX path, or HOST:PORT / :PORT\n"
            "  --test            check the configuration file, then exit 0 (good) or 1\n"
            "  --debug           log every request, to stderr as well\n",
            DEFAULT_CONFIG);
}

static int parse_options(int argc, char **argv, struct options *o) {
    static const struct option longopts[] = {
        { "config", required_argument, NULL, 'c' }, { "state-dir", required_argument, NULL, 's' },
        { "socket", required_argument, NULL, 'S' }, { "test", no_argument, NULL, 't' },
        { "debug", no_argument, NULL, 'd' },        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    memset(o, 0, sizeof *o);
    o->config_path = DEFAULT_CONFIG;
    int c;
    while ((c = getopt_long(argc, argv, "c:s:S:tdh", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': o->config_path = optarg; break;
        case 's': o->state_dir = optarg; break;
        case 'S': o->socket = optarg; break;
        case 't': o->test_only = 1; break;
        case 'd': o->debug = 1; break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "aphlict-admin: unexpected argument: %s\n", argv[optind]);
        usage(stderr);
        return -1;
    }
    return 0;
}

static int ensure_state_dir(const char *dir) {
    struct stat sb;
    if (stat(dir, &sb) == 0) {
        if (S_ISDIR(sb.st_mode)) return 0;
        log_error("state.dir %s exists but is not a directory", dir);
        return -1;
    }
    if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
        log_error("cannot create state.dir %s: %s", dir, strerror(errno));
        return -1;
    }
    return 0;
}

static int open_queue(const struct config *cfg, struct queue **q) {
    char err[QUEUE_ERR_MAX + 256];
    if (queue_open_config(cfg, q, err, sizeof err) < 0) {
        log_error("%s", err);
        return -1;
    }
    return 0;
}

struct worker {
    pthread_t thread;
    const struct config *cfg;
    int listen_fd;
    long long started_ms;
    const struct netacl *publishers;
};

static struct netacl publishers;

/* admin.allow, or by default loopback and every cluster peer's addresses,
 * so that a mesh works out of the box and nothing else may publish. */
static int build_publishers(const struct config *cfg) {
    if (cfg->admin_allow.n > 0) {
        for (int i = 0; i < cfg->admin_allow.n; i++) {
            if (netacl_add(&publishers, cfg->admin_allow.items[i]) < 0) {
                log_error("%s: admin.allow: entry %d: \"%s\" is not an address or a CIDR network", cfg->file, i,
                          cfg->admin_allow.items[i]);
                return -1;
            }
        }
        return 0;
    }
    netacl_add(&publishers, "127.0.0.0/8");
    netacl_add(&publishers, "::1");
    for (int i = 0; i < cfg->npeers; i++)
        if (netacl_add_host(&publishers, cfg->cluster[i].host) == 0)
            log_warn("%s: cluster[%d].host %s does not resolve: it may not publish until restart", cfg->file, i,
                     cfg->cluster[i].host);
    return 0;
}

/* Once the socket is bound: hand the state over to process.user and
 * become it. */
static int drop_privileges(const struct config *cfg) {
    if (!cfg->process_user) return 0;
    uid_t uid;
    gid_t gid;
    char err[256];
    if (privs_lookup(cfg->process_user, cfg->process_group, &uid, &gid, err, sizeof err) < 0 ||
        (privs_chown(cfg->state_dir, uid, gid), privs_drop(cfg->process_user, uid, gid, err, sizeof err)) < 0) {
        log_error("%s: %s", cfg->file, err);
        return -1;
    }
    log_info("running as %s (uid %d, gid %d)", cfg->process_user, (int)uid, (int)gid);
    return 0;
}

static void *worker_main(void *arg) {
    struct worker *w = arg;
    struct admin_ctx ctx = { w->cfg, NULL, wake_sender_open(), w->started_ms, w->publishers };
    if (open_queue(w->cfg, &ctx.queue) < 0) exit(1);
    FCGX_Request req;
    FCGX_InitRequest(&req, w->listen_fd, 0);
    for (;;) {
        if (FCGX_Accept_r(&req) < 0) {
            if (errno == EINTR) continue;
            log_error("FastCGI accept failed: %s", strerror(errno));
            break;
        }
        struct exchange ex;
        exchange_init_fcgi(&ex, &req);
        handle_request(&ctx, &ex);
        /* libfcgi closes a connection gracefully: shutdown(), then reads
         * until the web server closes its side, so that unread input
         * cannot turn into a reset that destroys the answer. With the
         * whole body read there is none, and the wait (a poll and a
         * wake-up per request, a tenth of this process's CPU) is skipped.
         * A refused body (413) is not read to its end: that one still
         * closes gracefully. Set each time, not by FCGX_Detach: on a kept
         * connection the flag would outlive the request that set it. */
        req.detached = FCGX_HasSeenEOF(req.in) == EOF;
        FCGX_Finish_r(&req);
    }
    queue_close(ctx.queue);
    return NULL;
}

static int serve_cgi(const struct config *cfg, long long started_ms) {
    if (!getenv("GATEWAY_INTERFACE") && !getenv("REQUEST_METHOD")) {
        log_error("standard input is neither a FastCGI listening socket nor a CGI request: "
                  "give --socket or admin.socket in %s", cfg->file);
        return 1;
    }
    struct admin_ctx ctx = { cfg, NULL, wake_sender_open(), started_ms, &publishers };
    if (open_queue(cfg, &ctx.queue) < 0) {
        fputs("Status: 503 Service Unavailable\r\nContent-Type: application/json\r\n\r\n"
              "{\"error\":\"queue unavailable\"}\n", stdout);
        return 1;
    }
    struct exchange ex;
    exchange_init_cgi(&ex);
    handle_request(&ctx, &ex);
    fflush(stdout);
    queue_close(ctx.queue);
    return 0;
}

/* As libfcgi decides: "host:port" (a non-zero port after a colon) is TCP,
 * anything else a UNIX socket path, absolute or relative. */
static int is_unix_path(const char *addr) {
    const char *colon = strchr(addr, ':');
    return !colon || atoi(colon + 1) == 0;
}

static int open_listen_socket(const struct config *cfg, const char *addr) {
    int fd = FCGX_OpenSocket(addr, (int)cfg->admin_listen_backlog);
    if (fd < 0) {
        log_error("cannot listen on FastCGI socket %s: %s", addr, strerror(errno));
        return -1;
    }
    /* libfcgi leaves a UNIX socket 0755, which the web server's user cannot
     * connect to (STACK-NOTES.md): set the configured mode. */
    if (is_unix_path(addr) && chmod(addr, (mode_t)cfg->admin_socket_mode) < 0) {
        log_error("cannot set mode %llo on %s: %s", cfg->admin_socket_mode, addr, strerror(errno));
        return -1;
    }
    if (is_unix_path(addr) && cfg->admin_socket_group) {
        struct group *gr = getgrnam(cfg->admin_socket_group);
        if (!gr || chown(addr, (uid_t)-1, gr->gr_gid) < 0) {
            log_error("%s: admin.socket_group: cannot give %s to group %s: %s", cfg->file, addr,
                      cfg->admin_socket_group, gr ? strerror(errno) : "no such group");
            return -1;
        }
    }
    return fd;
}

static int run_threads(const struct config *cfg, int listen_fd, long long started_ms, const char *unix_path) {
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    int n = (int)cfg->admin_threads;
    struct worker *workers = calloc((size_t)n, sizeof *workers);
    for (int i = 0; i < n; i++) {
        workers[i] = (struct worker){ 0, cfg, listen_fd, started_ms, &publishers };
        if (pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]) != 0) {
            log_error("cannot start request thread %d: %s", i, strerror(errno));
            return 1;
        }
    }
    log_info("serving the admin API with %d threads, queue %s", n, cfg->queue_path);
    for (;;) {
        int sig;
        if (sigwait(&sigs, &sig) != 0) continue;
        if (sig == SIGHUP) {
            /* Reopen first, so the line lands in the new file (logrotate). */
            log_reopen();
            log_info("SIGHUP: log files reopened");
            continue;
        }
        log_info("%s: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        /* Holding the writer lock means no commit is half-way when we exit;
         * a request answered after its commit is then cut, never lost. */
        queue_write_lock();
        if (unix_path) unlink(unix_path);
        _exit(0);
    }
}

int main(int argc, char **argv) {
    struct options o;
    if (parse_options(argc, argv, &o) < 0) return 1;
    log_init("aphlict-admin", o.debug ? LOG_DEBUG : LOG_INFO, o.debug);
    signal(SIGPIPE, SIG_IGN);

    struct config cfg;
    char err[CONFIG_ERR_MAX];
    if (config_load(o.config_path, o.state_dir, &cfg, err, sizeof err) < 0) {
        fprintf(stderr, "aphlict-admin: %s\n", err);
        return 1;
    }
    if (cfg.warnings) fprintf(stderr, "%s", cfg.warnings);
    if (o.test_only) {
        printf("%s: configuration OK\n", cfg.file);
        config_free(&cfg);
        return 0;
    }
    if (log_open_files((const char *const *)cfg.logs, cfg.nlogs, err, sizeof err) < 0) {
        fprintf(stderr, "aphlict-admin: %s: logs: %s\n", cfg.file, err);
        return 1;
    }
    if (ensure_state_dir(cfg.state_dir) < 0 || build_publishers(&cfg) < 0) return 1;

    long long started_ms = queue_now_ms();
    if (FCGX_Init() != 0) {
        log_error("libfcgi failed to initialise");
        return 1;
    }
    /* Bind first (perhaps as root), then become process.user. */
    const char *addr = o.socket ? o.socket : cfg.admin_socket;
    int listen_fd = -1;
    if (addr) {
        listen_fd = open_listen_socket(&cfg, addr);
        if (listen_fd < 0) return 1;
        log_info("listening on %s", addr);
    } else if (!FCGX_IsCGI()) {
        listen_fd = 0;
        log_info("listening on the socket passed as standard input");
    }
    if (drop_privileges(&cfg) < 0) return 1;

    /* Opening here applies the schema once, before any thread races it, and
     * fails loudly at start rather than at the first request. */
    struct queue *q;
    if (open_queue(&cfg, &q) < 0) return 1;
    log_info("queue %s: schema %d, node fingerprint %s", cfg.queue_path, queue_schema_version(q),
             queue_fingerprint(q));
    queue_close(q);

    if (listen_fd >= 0) return run_threads(&cfg, listen_fd, started_ms, addr && is_unix_path(addr) ? addr : NULL);
    int rc = serve_cgi(&cfg, started_ms);
    config_free(&cfg);
    return rc;
}
