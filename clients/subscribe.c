/* subscribe.c - aphlict-subscribe: a listener on the command line.
 *
 * Connects to a client URL the way Phorge's browser client does, subscribes
 * to the given PHIDs, optionally asks for replay, and prints every frame it
 * receives on its own line. Used by operators to watch a node and by the
 * tests as a real WebSocket client. */
#include <getopt.h>
#include <libwebsockets.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_PHIDS 1024
#define RX_MAX (16 * 1024 * 1024)

static struct {
    const char *phids[MAX_PHIDS];
    int nphids;
    long long replay_age;     /* -1: no replay */
    long count;               /* exit after this many frames; 0 = never */
    double timeout_s;         /* exit after this long; 0 = never */
    int ping;
    int quiet_ready;
    long received;
    int connected, done, status;
    char *rx;
    size_t rx_len;
    char *pending;            /* the subscribe/replay/ping frames to send */
    int pending_step;
} S = { .replay_age = -1, .status = 1 };

static void usage(FILE *to) {
    fprintf(to,
            "usage: aphlict-subscribe [options] URL PHID...\n"
            "\n"
            "Connects to a notification server's client URL (ws:// or wss://),\n"
            "subscribes to the PHIDs and prints each frame received, one per line.\n"
            "\n"
            "  --instance NAME  connect to instance NAME (adds /~NAME/ to the path)\n"
            "  --replay MS      after subscribing, ask for the last MS milliseconds\n"
            "  --count N        exit 0 after N frames\n"
            "  --timeout S      exit after S seconds (status 1 if --count was not reached)\n"
            "  --ping           send a ping after subscribing (the answer is a frame)\n"
            "  --insecure       do not verify the server's TLS certificate\n"
            "  --ca FILE        verify the server's certificate against FILE\n"
            "\n"
            "Prints \"# connected\" to stderr once subscribed.\n");
}

static int send_text(struct lws *wsi, const char *text) {
    size_t len = strlen(text);
    unsigned char *buf = malloc(LWS_PRE + len);
    memcpy(buf + LWS_PRE, text, len);
    int n = lws_write(wsi, buf + LWS_PRE, len, LWS_WRITE_TEXT);
    free(buf);
    return n < (int)len ? -1 : 0;
}

static char *subscribe_frame(void) {
    size_t cap = 64;
    for (int i = 0; i < S.nphids; i++) cap += strlen(S.phids[i]) * 2 + 4;
    char *f = malloc(cap), *p = f;
    p += sprintf(p, "{\"command\":\"subscribe\",\"data\":[");
    for (int i = 0; i < S.nphids; i++) {
        *p++ = i ? ',' : ' ';
        *p++ = '"';
        for (const char *c = S.phids[i]; *c; c++) {
            if (*c == '"' || *c == '\\') *p++ = '\\';
            *p++ = *c;
        }
        *p++ = '"';
    }
    strcpy(p, "]}");
    return f;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len) {
    switch (reason) {
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        fprintf(stderr, "aphlict-subscribe: cannot connect: %s\n", in ? (const char *)in : "error");
        S.done = 1;
        break;
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        S.connected = 1;
        lws_callback_on_writable(wsi);
        break;
    case LWS_CALLBACK_CLIENT_WRITEABLE: {
        char frame[96];
        int rc = 0;
        if (S.pending_step == 0) {
            char *f = subscribe_frame();
            rc = send_text(wsi, f);
            free(f);
        } else if (S.pending_step == 1 && S.replay_age >= 0) {
            snprintf(frame, sizeof frame, "{\"command\":\"replay\",\"data\":{\"age\":%lld}}", S.replay_age);
            rc = send_text(wsi, frame);
        } else if (S.pending_step == 2 && S.ping) {
            rc = send_text(wsi, "{\"command\":\"ping\",\"data\":null}");
        }
        if (rc < 0) return -1;
        if (++S.pending_step < 3) {
            lws_callback_on_writable(wsi);
        } else if (!S.quiet_ready) {
            S.quiet_ready = 1;
            fprintf(stderr, "# connected\n");
        }
        break;
    }
    case LWS_CALLBACK_CLIENT_RECEIVE: {
        if (S.rx_len + len > RX_MAX) return -1;
        S.rx = realloc(S.rx, S.rx_len + len + 1);
        memcpy(S.rx + S.rx_len, in, len);
        S.rx_len += len;
        if (!lws_is_final_fragment(wsi)) break;
        fwrite(S.rx, 1, S.rx_len, stdout);
        fputc('\n', stdout);
        fflush(stdout);
        S.rx_len = 0;
        S.received++;
        if (S.count && S.received >= S.count) {
            S.status = 0;
            S.done = 1;
            return -1;
        }
        break;
    }
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (len >= 2) {
            const unsigned char *p = in;
            fprintf(stderr, "# closed by server: %d %.*s\n", p[0] << 8 | p[1], (int)len - 2, (const char *)in + 2);
        }
        break;
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (!S.done) fprintf(stderr, "# connection closed\n");
        S.done = 1;
        break;
    default:
        break;
    }
    return 0;
}

static const struct lws_protocols protocols[] = {
    { "aphlict-subscribe", callback, 0, 65536, 0, NULL, 0 },
    { NULL, NULL, 0, 0, 0, NULL, 0 },
};

static volatile sig_atomic_t interrupted;
static void on_signal(int sig) { (void)sig; interrupted = 1; }

int main(int argc, char **argv) {
    static const struct option longopts[] = {
        { "instance", required_argument, NULL, 'i' }, { "replay", required_argument, NULL, 'r' },
        { "count", required_argument, NULL, 'n' },    { "timeout", required_argument, NULL, 't' },
        { "ping", no_argument, NULL, 'p' },           { "insecure", no_argument, NULL, 'k' },
        { "ca", required_argument, NULL, 'C' },       { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *instance = NULL, *ca = NULL;
    int insecure = 0, c;
    while ((c = getopt_long(argc, argv, "i:r:n:t:pkC:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'i': instance = optarg; break;
        case 'r': S.replay_age = atoll(optarg); break;
        case 'n': S.count = atol(optarg); break;
        case 't': S.timeout_s = atof(optarg); break;
        case 'p': S.ping = 1; break;
        case 'k': insecure = 1; break;
        case 'C': ca = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (argc - optind < 1) {
        usage(stderr);
        return 2;
    }
    char *url = strdup(argv[optind++]);
    for (; optind < argc && S.nphids < MAX_PHIDS; optind++) S.phids[S.nphids++] = argv[optind];

    const char *scheme, *host, *path;
    int port;
    if (lws_parse_uri(url, &scheme, &host, &port, &path)) {
        fprintf(stderr, "aphlict-subscribe: not a URL: %s\n", argv[optind - 1]);
        return 2;
    }
    int tls = strcmp(scheme, "wss") == 0 || strcmp(scheme, "https") == 0;
    char fullpath[2048];
    snprintf(fullpath, sizeof fullpath, "/%s%s%s%s", path, instance ? (path[0] && path[strlen(path) - 1] != '/' ? "/~" : "~") : "",
             instance ? instance : "", instance ? "/" : "");

    lws_set_log_level(LLL_ERR, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.client_ssl_ca_filepath = ca;
    struct lws_context *ctx = lws_create_context(&info);
    if (!ctx) return 1;

    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof ci);
    ci.context = ctx;
    ci.address = host;
    ci.port = port;
    ci.path = fullpath;
    ci.host = host;
    ci.origin = host;
    ci.protocol = NULL;   /* as browsers do: no subprotocol */
    ci.local_protocol_name = "aphlict-subscribe";
    if (tls) ci.ssl_connection = LCCSCF_USE_SSL | (insecure ? LCCSCF_ALLOW_SELFSIGNED | LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK | LCCSCF_ALLOW_INSECURE : 0);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    if (!lws_client_connect_via_info(&ci)) {
        fprintf(stderr, "aphlict-subscribe: cannot connect to %s\n", argv[1]);
        return 1;
    }
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (!S.done && !interrupted) {
        lws_service(ctx, 100);
        clock_gettime(CLOCK_MONOTONIC, &now);
        double elapsed = (double)(now.tv_sec - t0.tv_sec) + (now.tv_nsec - t0.tv_nsec) / 1e9;
        if (S.timeout_s > 0 && elapsed >= S.timeout_s) {
            if (!S.count) S.status = 0;
            break;
        }
    }
    if (interrupted && !S.count) S.status = 0;
    lws_context_destroy(ctx);
    free(S.rx);
    free(url);
    if (!S.connected) return 1;
    return S.status;
}
