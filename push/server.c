/* server.c - see server.h. Everything runs on the one libwebsockets
 * service thread; nothing here blocks but the short, bounded SQLite
 * statements of tail.c. */
#include "server.h"

#include "command.h"
#include "config.h"
#include "hub.h"
#include "log.h"
#include "lwslog.h"
#include "privs.h"
#include "queue.h"
#include "relay.h"
#include "route.h"
#include "tail.h"
#include "wake.h"

#include <errno.h>
#include <fcntl.h>
#include <libwebsockets.h>
#include <ev.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

_Static_assert(HUB_FRAME_PRE >= LWS_PRE, "HUB_FRAME_PRE must leave LWS_PRE bytes of headroom");

static struct daemon {
    const struct config *cfg;
    struct lws_context *context;
    struct ev_loop *loop;       /* client.event_loop "epoll"; NULL: lws's own poll() */
    struct hub hub;
    struct tail tail;
    struct relay *relay;
    struct frame *pong;
    lws_sorted_usec_list_t tick_timer, stop_timer;
    unsigned long ticks;
    time_t started_s;           /* CLOCK_MONOTONIC, for daemon_clock_s */
    int stopping, done;
    /* lws keeps the vhost name pointer (and compares Host headers with it
     * on every request): it must outlive the vhost, not the call. */
    char vhost_names[CONFIG_MAX_SERVERS][32];
} D;

static void want_write(struct listener *l) { lws_callback_on_writable((struct lws *)l->wsi); }

static void heard_from(struct listener *l);

static void poll_queue(void) {
    if (tail_poll(&D.tail, &D.hub) > 0) relay_notify(D.relay);
}

/* --- frames from a listener --------------------------------------------------- */

static void close_with(struct lws *wsi, int code, const char *reason) {
    lws_close_reason(wsi, (enum lws_close_status)code, (unsigned char *)reason, strlen(reason));
}

/* Closes a listener at its next writable callback (a broken limit,
 * shutdown), and until then ignores what it sends. Closing from inside the receive
 * callback instead leaves lws 4.1 holding the rest of the read buffer,
 * where the client's close reply can sit unparsed until lws's 5 s
 * close-ack timeout (one close in 15 took 5 s). */
static void close_later(struct listener *l, int code, const char *reason) {
    l->close_code = code;
    l->close_reason = reason;
    want_write(l);
}

/* Acts on one text frame. */
static void handle_frame(struct listener *l, const char *text, size_t len) {
    struct command c;
    command_parse(text, len, &c);
    switch (c.kind) {
    case COMMAND_IGNORED:
        log_info("listener %lu: frame ignored: %s", l->serial, c.why);
        break;
    case COMMAND_SUBSCRIBE:
    case COMMAND_UNSUBSCRIBE:
        for (size_t i = 0; i < command_phid_count(&c) && !l->close_code; i++) {
            const char *phid = command_phid(&c, i, HUB_PHID_MAX);
            if (!phid) continue;
            if (c.kind == COMMAND_UNSUBSCRIBE) {
                hub_unsubscribe(&D.hub, l, phid);
            } else if (hub_subscribe(&D.hub, l, phid) < 0) {
                log_warn("listener %lu: more than client.max_subscriptions (%lld) PHIDs: closing", l->serial,
                         D.cfg->client_max_subscriptions);
                close_later(l, LWS_CLOSE_STATUS_POLICY_VIOLATION, "too many subscriptions");
            }
        }
        break;
    case COMMAND_REPLAY: {
        long long age = c.age_ms > D.cfg->history_max_age_ms ? D.cfg->history_max_age_ms : c.age_ms;
        int n = hub_replay(&D.hub, l, age, queue_now_ms());
        log_debug("listener %lu: replay of the last %lld ms: %d messages", l->serial, age, n);
        break;
    }
    case COMMAND_PING:
        hub_enqueue(&D.hub, l, D.pong, 0);
        break;
    }
    command_free(&c);
}

/* The buffer of a frame being reassembled holds rx_len + 1 bytes rounded up
 * to a power of two: lws hands over a frame in pieces as small as the
 * receive buffer (SERVER_RX_BUFFER), and growing by each piece would copy a large
 * frame quadratically. Derived from rx_len, so a listener stores no extra
 * field for it. */
static size_t rx_capacity(size_t len) {
    size_t cap = 256;
    while (cap < len + 1) cap *= 2;
    return cap;
}

static void rx_drop(struct listener *l) {
    free(l->rx);
    l->rx = NULL;
    l->rx_len = 0;
}

/* Reassembles fragments; refuses a frame over client.max_frame_bytes. */
static int receive(struct lws *wsi, struct listener *l, const char *in, size_t len) {
    if (l->close_code) return 0;
    if (l->rx_len + len > (size_t)D.cfg->client_max_frame_bytes) {
        log_warn("listener %lu: frame over client.max_frame_bytes (%lld): closing", l->serial,
                 D.cfg->client_max_frame_bytes);
        close_later(l, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "frame too large");
        rx_drop(l);
        return 0;
    }
    int final = lws_is_final_fragment(wsi);
    if (final && l->rx_len == 0) {
        if (lws_frame_is_binary(wsi)) {
            log_info("listener %lu: binary frame ignored", l->serial);
            return 0;
        }
        handle_frame(l, in, len);
        return 0;
    }
    size_t need = l->rx_len + len + 1;
    if (l->rx == NULL || need > rx_capacity(l->rx_len)) {
        char *rx = realloc(l->rx, rx_capacity(need - 1));
        if (!rx) return -1;
        l->rx = rx;
    }
    memcpy(l->rx + l->rx_len, in, len);
    l->rx_len += len;
    if (!final) return 0;
    if (lws_frame_is_binary(wsi)) log_info("listener %lu: binary frame ignored", l->serial);
    else handle_frame(l, l->rx, l->rx_len);
    rx_drop(l);
    return 0;
}

/* --- the listener protocol ------------------------------------------------------ */

/* Refuses an upgrade before the handshake completes, so that a browser
 * sees a failed connection and backs off, instead of an open one that
 * closes at once (it would reconnect immediately, in a loop). */
static int filter_upgrade(struct lws *wsi) {
    char uri[1024] = "/", instance[ROUTE_INSTANCE_MAX + 1];
    lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI);
    if (route_client_instance(uri, instance, sizeof instance) < 0) {
        log_info("refusing a listener: instance name longer than %d bytes", ROUTE_INSTANCE_MAX);
        return -1;
    }
    if (D.stopping || D.hub.nlisteners >= D.cfg->client_max_connections) {
        log_warn("refusing a listener: %s", D.stopping ? "shutting down" : "client.max_connections reached");
        return -1;
    }
    const struct config_list *origins = &D.cfg->client_allowed_origins;
    if (origins->n > 0) {
        char origin[512] = "";
        lws_hdr_copy(wsi, origin, sizeof origin, WSI_TOKEN_ORIGIN);
        for (int i = 0; i < origins->n; i++)
            if (strcmp(origins->items[i], origin) == 0) return 0;
        log_warn("refusing a listener: Origin \"%.200s\" is not in client.allowed_origins", origin);
        return -1;
    }
    return 0;
}

static int established(struct lws *wsi, struct listener *l) {
    char uri[1024] = "/", instance[ROUTE_INSTANCE_MAX + 1];
    lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI);
    if (route_client_instance(uri, instance, sizeof instance) < 0 || hub_attach(&D.hub, l, wsi, instance) < 0) {
        memset(l, 0, sizeof *l);
        return -1;
    }
    heard_from(l);
    char peer[64] = "";
    lws_get_peer_simple(wsi, peer, sizeof peer);
    log_debug("listener %lu connected from %s, instance %s", l->serial, peer, instance);
    return 0;
}

/* Counts one frame as written. */
static void written(struct listener *l, struct frame *f, int replay, long long now_ms) {
    if (f->received_ms) {
        l->inst->delta_messages_out++;
        if (!replay) hub_written(&D.hub, f, now_ms);
    }
    frame_unref(f);
}

/* A WebSocket text frame header, server to client (no mask). */
static size_t frame_header(unsigned char *p, size_t len) {
    p[0] = 0x81;   /* FIN, text */
    if (len < 126) {
        p[1] = (unsigned char)len;
        return 2;
    }
    if (len < 65536) {
        p[1] = 126;
        p[2] = (unsigned char)(len >> 8);
        p[3] = (unsigned char)len;
        return 4;
    }
    p[1] = 127;
    for (int i = 0; i < 8; i++) p[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
    return 10;
}

/* With several frames queued, they go out framed by hand in one write:
 * one system call instead of one per frame (STACK-NOTES.md: a write costs
 * about 7.8 us, four frames in one about 1.9 us each). Plain TCP only:
 * over TLS, lws must see each frame. */
static int write_batch(struct lws *wsi, struct listener *l) {
    static unsigned char buf[LWS_PRE + SERVER_BATCH_BYTES];
    size_t used = 0;
    int frames = 0, replay;
    long long now = queue_now_ms();
    while (l->count && frames < SERVER_BATCH_FRAMES) {
        if (used + 10 + hub_peek_len(l) > SERVER_BATCH_BYTES) break;
        struct frame *f = hub_dequeue(l, &replay);
        used += frame_header(buf + LWS_PRE + used, f->len);
        memcpy(buf + LWS_PRE + used, f->data + HUB_FRAME_PRE, f->len);
        used += f->len;
        frames++;
        written(l, f, replay, now);
    }
    return lws_write(wsi, buf + LWS_PRE, used, LWS_WRITE_RAW) < 0 ? -1 : 0;
}

static int writeable(struct lws *wsi, struct listener *l) {
    if (l->close_code) {
        close_with(wsi, l->close_code, l->close_reason ? l->close_reason : "");
        return -1;
    }
    if (l->ping_state == LISTENER_PING_DUE) {
        /* With a payload: lws 4.1 does not raise RECEIVE_PONG for an empty pong. */
        static unsigned char ping[LWS_PRE + 4] = { [LWS_PRE] = 'i', 'd', 'l', 'e' };
        l->ping_state = LISTENER_PING_SENT;
        if (lws_write(wsi, ping + LWS_PRE, 4, LWS_WRITE_PING) < 0) return -1;
        if (l->count) lws_callback_on_writable(wsi);
        return 0;
    }
    if (l->count == 0) return 0;
    int rc;
    if (l->count > 1 && !lws_is_ssl(wsi) && hub_peek_len(l) + 10 <= SERVER_BATCH_BYTES) {
        rc = write_batch(wsi, l);
    } else {
        int replay;
        struct frame *f = hub_dequeue(l, &replay);
        rc = lws_write(wsi, f->data + HUB_FRAME_PRE, f->len, LWS_WRITE_TEXT) < 0 ? -1 : 0;
        written(l, f, replay, queue_now_ms());
    }
    if (rc < 0) return -1;
    if (l->count) lws_callback_on_writable(wsi);
    return 0;
}

/* --- idle listeners --------------------------------------------------------------- */

/* lws's own idle policy keeps a timer per connection in one sorted list:
 * every frame received re-inserted its timer, a walk over all of them (with
 * 15,000 listeners, 42% of the daemon's CPU while they connected). A
 * timestamp per listener and a scan once per tick do the same. */
static uint32_t daemon_clock_s(void) {
    /* Monotonic: a wall clock set back would make every listener look idle. */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint32_t)(ts.tv_sec - D.started_s);
}

static void heard_from(struct listener *l) {
    l->last_rx_s = daemon_clock_s();
    l->ping_state = LISTENER_PING_NONE;
}

static void scan_idle(void) {
    uint32_t now = daemon_clock_s(), timeout = (uint32_t)D.cfg->client_idle_timeout_s;
    for (struct listener *l = D.hub.all; l; l = l->next) {
        uint32_t idle = now - l->last_rx_s;
        if (l->ping_state == LISTENER_IDLE_CLOSING) continue;
        if (idle >= 2 * timeout) {
            l->ping_state = LISTENER_IDLE_CLOSING;
            log_info("listener %lu: nothing received for %u s, not even a pong: closing", l->serial, idle);
            lws_set_timeout((struct lws *)l->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        } else if (idle >= timeout && l->ping_state == LISTENER_PING_NONE) {
            l->ping_state = LISTENER_PING_DUE;
            lws_callback_on_writable((struct lws *)l->wsi);
        }
    }
}

static const char not_implemented[] =
    "This is the notification server's WebSocket port (Aphlict protocol): connect with a WebSocket client.";

static int callback_listener(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                             size_t len) {
    struct listener *l = user;
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        /* Phorge's "test client" check expects exactly 501 here. */
        if (lws_return_http_status(wsi, HTTP_STATUS_NOT_IMPLEMENTED, not_implemented)) return -1;
        return lws_http_transaction_completed(wsi) ? -1 : 0;
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return filter_upgrade(wsi);
    case LWS_CALLBACK_ESTABLISHED:
        return established(wsi, l);
    case LWS_CALLBACK_RECEIVE:
        if (!l->inst) return -1;
        heard_from(l);
        return receive(wsi, l, in, len);
    case LWS_CALLBACK_RECEIVE_PONG:
        if (l->inst) heard_from(l);
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return l->inst ? writeable(wsi, l) : -1;
    case LWS_CALLBACK_CLOSED:
        if (l && l->inst) {
            log_debug("listener %lu closed", l->serial);
            hub_detach(&D.hub, l);
        }
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

/* --- the doorbell, signals and timers ---------------------------------------------- */

static void begin_shutdown(const char *why);

static int callback_wake(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len) {
    if (reason == LWS_CALLBACK_RAW_RX_FILE) {
        wake_drain(lws_get_socket_fd(wsi));
        poll_queue();
    }
    return 0;
}

static int callback_signal(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len) {
    if (reason != LWS_CALLBACK_RAW_RX_FILE) return 0;
    struct signalfd_siginfo si;
    while (read(lws_get_socket_fd(wsi), &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGHUP) {
            /* Reopen first, so the line lands in the new file (logrotate). */
            log_reopen();
            log_info("SIGHUP: log files reopened");
        } else {
            begin_shutdown(si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
        }
    }
    return 0;
}

static void stop_now(lws_sorted_usec_list_t *sul) {
    (void)sul;
    D.done = 1;
    lws_cancel_service(D.context);
}

static void begin_shutdown(const char *why) {
    if (D.stopping) return;
    D.stopping = 1;
    log_info("%s: closing %lld listeners with going-away, then stopping", why, D.hub.nlisteners);
    for (struct listener *l = D.hub.all; l; l = l->next) {
        close_later(l, LWS_CLOSE_STATUS_GOINGAWAY, "server shutting down");
    }
    lws_sul_schedule(D.context, 0, &D.stop_timer, stop_now, SERVER_SHUTDOWN_GRACE_MS * LWS_US_PER_MS);
}


static void tick(lws_sorted_usec_list_t *sul) {
    long long now = queue_now_ms();
    poll_queue();   /* the fallback for a lost doorbell */
    lwslog_tick();
    scan_idle();
    tail_heartbeat(&D.tail, &D.hub, now);
    queue_checkpoint(D.tail.queue, NULL);
    if (++D.ticks % SERVER_PRUNE_EVERY == 0) {
        tail_prune(&D.tail, now);
        hub_prune(&D.hub, now);
    }
    lws_sul_schedule(D.context, 0, sul, tick, SERVER_TICK_MS * LWS_US_PER_MS);
}

static struct lws_protocols protocols[] = {
    /* A WebSocket without a subprotocol binds to the first entry. */
    /* tx_packet_size: without it lws cuts every send to rx_buffer_size. */
    { "aphlict", callback_listener, sizeof(struct listener), SERVER_RX_BUFFER, 0, NULL,
      SERVER_BATCH_BYTES + 16 },
    { "aphlict-wake", callback_wake, 0, 0, 0, NULL, 0 },
    { "aphlict-signal", callback_signal, 0, 0, 0, NULL, 0 },
    { NULL, NULL, 0, 0, 0, NULL, 0 },
};

/* --- setup ------------------------------------------------------------------------- */


/* "ssl.chain is appended to ssl.cert": libwebsockets reads one chain file. */
static char *cert_with_chain(const struct config *cfg, const struct config_server *s) {
    if (!s->ssl_chain) return strdup(s->ssl_cert);
    char path[4096];
    snprintf(path, sizeof path, "%s/client-%d-cert-chain.pem", cfg->state_dir, s->port);
    FILE *out = fopen(path, "w");
    if (!out) return NULL;
    const char *parts[2] = { s->ssl_cert, s->ssl_chain };
    for (int i = 0; i < 2; i++) {
        FILE *in = fopen(parts[i], "r");
        if (!in) { fclose(out); return NULL; }
        char buf[8192];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, in)) > 0) fwrite(buf, 1, n, out);
        fputc('\n', out);
        fclose(in);
    }
    fclose(out);
    return strdup(path);
}

static lws_retry_bo_t idle_policy;

static struct lws_vhost *create_vhost(const struct config *cfg, int index) {
    const struct config_server *s = &cfg->servers[index];
    struct lws_context_creation_info vi;
    memset(&vi, 0, sizeof vi);
    char *name = D.vhost_names[index];
    snprintf(name, sizeof D.vhost_names[index], "client-%d", index);
    vi.vhost_name = name;
    vi.port = s->port;
    vi.iface = strcmp(s->listen, "0.0.0.0") == 0 ? NULL : s->listen;
    /* lws 4.1 with IPv6 on binds every address when iface is an IPv4
     * literal: an IPv4 listen address must be served by an IPv4 socket. */
    if (vi.iface && !strchr(vi.iface, ':')) vi.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    vi.protocols = protocols;
    vi.retry_and_idle_policy = &idle_policy;
    char *cert = NULL;
    if (s->ssl_cert) {
        cert = cert_with_chain(cfg, s);
        if (!cert) {
            log_error("%s: servers[%d]: cannot read ssl.cert %s or ssl.chain %s", cfg->file, index, s->ssl_cert,
                      s->ssl_chain ? s->ssl_chain : "-");
            return NULL;
        }
        vi.ssl_cert_filepath = cert;
        /* lws reads this flag from the vhost's own options, not only the context's. */
        vi.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        vi.ssl_private_key_filepath = s->ssl_key;
    }
    struct lws_vhost *vh = lws_create_vhost(D.context, &vi);
    free(cert);
    if (!vh)
        log_error("%s: servers[%d]: cannot serve %s:%d%s (port in use, address not local, or bad certificate)",
                  cfg->file, index, s->listen, s->port, s->ssl_cert ? " with TLS" : "");
    else
        log_info("listening for WebSocket clients on %s://%s:%d/", s->ssl_cert ? "wss" : "ws", s->listen, s->port);
    return vh;
}

/* lws's own loop calls poll() on every connection at each turn: with 10,000
 * listeners that scan was 70% of the daemon's CPU. libev's epoll backend
 * wakes only for the connections that are ready. lws loads its libev glue
 * as a plugin (Debian: libwebsockets-evlib-ev); without it, poll() it is. */
static int create_context(const struct config *cfg) {
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.timeout_secs = 10;   /* handshakes that never finish */
    info.count_threads = 1;
    void *foreign[1];
    if (strcmp(cfg->client_event_loop, "epoll") == 0) {
        D.loop = ev_loop_new(EVBACKEND_EPOLL | EVFLAG_NOSIGMASK);
        if (!D.loop) log_warn("client.event_loop: libev has no epoll backend here: using poll()");
    }
    if (D.loop) {
        foreign[0] = D.loop;
        info.foreign_loops = foreign;
        info.options |= LWS_SERVER_OPTION_LIBEV;
        D.context = lws_create_context(&info);
        if (D.context) {
            log_info("event loop: epoll (libev)");
            return 0;
        }
        log_warn("client.event_loop: libwebsockets could not start on libev (is its plugin, Debian's "
                 "libwebsockets-evlib-ev, installed?): using poll()");
        ev_loop_destroy(D.loop);
        D.loop = NULL;
        info.foreign_loops = NULL;
        info.options &= ~(uint64_t)LWS_SERVER_OPTION_LIBEV;
    }
    D.context = lws_create_context(&info);
    if (!D.context) {
        log_error("libwebsockets could not start");
        return -1;
    }
    log_info("event loop: poll()");
    return 0;
}

/* Descriptors kept out of libwebsockets' share: standard streams, logs,
 * the queue (database, WAL, shared memory), and per cluster peer its relay
 * thread's queue connection and HTTP connection. */
#define SERVER_FD_RESERVE_BASE 32
#define SERVER_FD_RESERVE_PER_PEER 8

static int fd_reserve(const struct config *cfg) {
    return SERVER_FD_RESERVE_BASE + SERVER_FD_RESERVE_PER_PEER * cfg->npeers;
}

/* The open-file limit bounds the listeners: the daemon takes all of it
 * (the hard limit). lws 4.1 sizes its tables by the soft limit when the
 * context is created and stops accepting near it; with the whole limit,
 * the process's other descriptors made accept() fail first (EMFILE), and
 * lws retried it on every turn of the loop, spinning. Its own cap
 * (fd_limit_per_thread) would switch it to a linear search of every
 * connection per event. So the soft limit is the hard one less the reserve
 * while the context is created, and the whole hard limit after, which
 * leaves the reserve to everything else. */
static int create_context_within_fd_limit(const struct config *cfg) {
    int reserve = fd_reserve(cfg);
    struct rlimit rl;
    int kept = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max != RLIM_INFINITY &&
               rl.rlim_max >= 4 * (rlim_t)reserve;
    if (kept) {
        rl.rlim_cur = rl.rlim_max - (rlim_t)reserve;
        kept = setrlimit(RLIMIT_NOFILE, &rl) == 0;
    }
    int rc = create_context(cfg);
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (kept)
        log_info("listeners: at most %llu descriptors (open-file limit %llu, less %d kept for the queue, logs "
                 "and relays)", (unsigned long long)(rl.rlim_max - (rlim_t)reserve), (unsigned long long)rl.rlim_max,
                 reserve);
    return rc;
}

static int adopt_fd(struct lws_vhost *vh, int fd, const char *protocol) {
    lws_sock_file_fd_type u;
    u.filefd = (lws_filefd_type)fd;
    return lws_adopt_descriptor_vhost(vh, LWS_ADOPT_RAW_FILE_DESC, u, protocol, NULL) ? 0 : -1;
}

static int setup(const struct config *cfg, int debug) {
    D.cfg = cfg;
    struct hub_limits limits = { cfg->client_max_subscriptions, cfg->client_send_queue_bytes,
                                 cfg->client_send_queue_frames, cfg->history_max_age_ms,
                                 cfg->history_max_messages };
    hub_init(&D.hub, &limits, want_write);
    static const char pong[] = "{\"type\":\"pong\"}";
    D.pong = frame_new(pong, sizeof pong - 1);

    lws_set_log_level(LLL_ERR | LLL_WARN | (debug ? LLL_NOTICE : 0), lwslog_emit);
    /* No lws validity timers (secs_since_valid_hangup 0): scan_idle does it. */
    idle_policy.secs_since_valid_ping = 0;
    idle_policy.secs_since_valid_hangup = 0;
    struct timespec started;
    clock_gettime(CLOCK_MONOTONIC, &started);
    D.started_s = started.tv_sec;

    if (create_context_within_fd_limit(cfg) < 0) return -1;
    struct lws_vhost *first = NULL;
    for (int i = 0; i < cfg->nservers; i++) {
        if (cfg->servers[i].type != SERVER_CLIENT) continue;
        struct lws_vhost *vh = create_vhost(cfg, i);
        if (!vh) return -1;
        if (!first) first = vh;
    }
    if (!first) {
        log_error("%s: servers: no entry of type \"client\": nothing for the push daemon to serve", cfg->file);
        return -1;
    }

    int wake = wake_listener_open(cfg->push_wake_socket);
    if (wake < 0 || adopt_fd(first, wake, "aphlict-wake") < 0) {
        log_error("cannot listen on the doorbell socket %s: %s", cfg->push_wake_socket, strerror(errno));
        return -1;
    }
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    sigprocmask(SIG_BLOCK, &sigs, NULL);
    int sfd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sfd < 0 || adopt_fd(first, sfd, "aphlict-signal") < 0) {
        log_error("cannot watch signals: %s", strerror(errno));
        return -1;
    }
    /* Ports and the doorbell are bound: become process.user. */
    if (cfg->process_user) {
        uid_t uid;
        gid_t gid;
        char perr[256];
        if (privs_lookup(cfg->process_user, cfg->process_group, &uid, &gid, perr, sizeof perr) < 0) {
            log_error("%s: %s", cfg->file, perr);
            return -1;
        }
        privs_chown(cfg->state_dir, uid, gid);
        privs_chown(cfg->push_wake_socket, uid, gid);
        if (privs_drop(cfg->process_user, uid, gid, perr, sizeof perr) < 0) {
            log_error("%s: %s", cfg->file, perr);
            return -1;
        }
        log_info("running as %s (uid %d, gid %d)", cfg->process_user, (int)uid, (int)gid);
    }
    char err[QUEUE_ERR_MAX + 256];
    if (tail_open(&D.tail, cfg, err, sizeof err) < 0) {
        log_error("%s", err);
        return -1;
    }
    if (tail_start(&D.tail, &D.hub, queue_now_ms()) < 0) {
        log_error("cannot read the queue %s", cfg->queue_path);
        return -1;
    }

    D.relay = relay_start(cfg);
    if (!D.relay) return -1;
    lws_sul_schedule(D.context, 0, &D.tick_timer, tick, 1);
    return 0;
}

int server_run(const struct config *cfg, int debug) {
    int rc = 1;
    if (setup(cfg, debug) == 0) {
        log_info("push daemon running (pid %d), queue %s", (int)getpid(), cfg->queue_path);
        while (!D.done) {
            if (D.loop) ev_run(D.loop, EVRUN_ONCE);
            else if (lws_service(D.context, 0) < 0) break;
        }
        rc = 0;
    }
    relay_stop(D.relay);
    D.relay = NULL;
    if (D.context) lws_context_destroy(D.context);
    D.context = NULL;
    if (D.loop) ev_loop_destroy(D.loop);
    D.loop = NULL;
    if (D.tail.queue) {
        tail_heartbeat(&D.tail, &D.hub, 0);   /* heartbeat 0: /status/ sees it stopped at once */
        tail_close(&D.tail);
    }
    unlink(cfg->push_wake_socket);
    frame_unref(D.pong);
    hub_free(&D.hub);
    if (rc == 0) log_info("push daemon stopped");
    return rc;
}
