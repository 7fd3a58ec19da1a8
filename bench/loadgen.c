/* loadgen.c - a load generator for any server that speaks the Aphlict
 * notification protocol (../shared/PROTOCOL.md): this project, or stock
 * Aphlict.
 *
 * One process, one libwebsockets service thread holding up to 20,000
 * WebSocket listeners, and one libcurl multi thread keeping 1..N POSTs in
 * flight to the admin URL(s). Each message carries the time it was handed
 * to libcurl ("sent_us", CLOCK_MONOTONIC) and its sequence number ("seq"),
 * so every frame received gives an end-to-end latency and can be checked
 * against what was expected: per listener, a bitmap of the messages seen
 * finds duplicates and what is missing.
 *
 * Prints a human summary on stderr and one JSON line per run on stdout
 * (and appended to --json FILE). See usage() for the options, bench/run
 * for the workloads. */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <ev.h>
#include <getopt.h>
#include <inttypes.h>
#include <libwebsockets.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_URLS 16
#define MAX_PIDS 16
#define RX_MAX (1 << 20)
#define SHARED_PHID "PHID-PROJ-benchshared0000000000"

/* --- options ----------------------------------------------------------------- */

static struct {
    const char *ws[MAX_URLS];
    int nws;
    const char *admin[MAX_URLS];
    int nadmin;
    const char *bind[MAX_URLS];
    int nbind;
    int conns;
    int shared;             /* every listener on SHARED_PHID */
    int phids;              /* distinct PHIDs per listener */
    int messages;
    int targets;            /* listeners per message (distinct mode) */
    int inflight;
    double rate;            /* POSTs per second, 0 = unbounded */
    double duration;        /* stop posting after this long, 0 = never */
    int new_conn;
    double drain_s;
    double connect_timeout_s;
    double max_time_s;
    int max_pending;
    double hold_s;          /* after all are subscribed, before posting */
    int pad;
    const char *label;
    const char *json_file;
    struct { const char *name, *spec; } pids[MAX_PIDS];
    int npids;
    /* reconnect storm */
    int storm;
    const char *hook_down, *hook_up;
    int down_messages;
    int retry_ms;           /* first back-off after a failed reconnect */
    int retry_max_ms;
    long long replay_age;
    double storm_timeout_s;
    const char *on_ready, *on_done;
} O = {
    .phids = 1, .targets = 1, .inflight = 16, .drain_s = 10, .connect_timeout_s = 60, .max_time_s = 300,
    .max_pending = 256, .label = "run", .retry_ms = 2000, .retry_max_ms = 300000, .replay_age = 60000,
    .storm_timeout_s = 60,
};

static void usage(FILE *to) {
    fprintf(to,
"usage: loadgen [options]\n"
"\n"
"Drives a notification server (PROTOCOL.md) with WebSocket listeners and\n"
"POSTs; reports deliveries, duplicates, latency and the server's CPU and RSS.\n"
"\n"
"  --ws URL            client URL (ws://host:port/path); repeat: listeners round-robin\n"
"  --admin URL         admin URL to POST to; repeat: messages round-robin\n"
"  --conns N           listeners (default 0)\n"
"  --shared            every listener subscribes to one PHID, every message goes to it\n"
"  --phids K           distinct PHIDs per listener (default 1)\n"
"  --messages M        messages to post (default 0)\n"
"  --targets T         listeners per message, when not --shared (default 1)\n"
"  --inflight F        POSTs in flight (default 16)\n"
"  --rate R            at most R POSTs per second (default unbounded)\n"
"  --duration S        stop posting after S seconds (default: when M are posted)\n"
"  --new-conn          a new TCP connection per POST (default keep-alive)\n"
"  --drain S           wait S seconds for deliveries after the last POST (default 10)\n"
"  --hold S            wait S seconds after subscribing, before posting (default 0)\n"
"  --pad N             N bytes of padding in each message\n"
"  --max-pending N     WebSocket handshakes in flight at once (default 256)\n"
"  --bind ADDR         local address for listeners; repeat: round-robin\n"
"  --connect-timeout S give up on connecting after S seconds (default 60)\n"
"  --max-time S        hard bound on the whole run (default 300)\n"
"  --pid NAME=PID      a server process to measure; NAME=@FILE reads the pid from FILE\n"
"                      at each measurement (repeat)\n"
"  --label TEXT        name of the run in the JSON line\n"
"  --json FILE         append the JSON line to FILE as well as stdout\n"
"reconnect storm:\n"
"  --storm             post --messages, run --hook-down (returns once the server is\n"
"                      down), post --down-messages, run --hook-up (starts it again);\n"
"                      listeners reconnect, subscribe and replay; measures until every\n"
"                      listener has every message of both phases again\n"
"  --hook-down CMD, --hook-up CMD, --down-messages M2\n"
"  --retry-ms MS       back-off after a failed reconnect, doubling (default 2000, the\n"
"                      browser client's); the first reconnect is immediate\n"
"  --replay-age MS     age asked for in replay (default 60000)\n"
"  --storm-timeout S   (default 60)\n"
"  --poll              use libwebsockets' own poll() loop instead of libev (epoll)\n"
"  --on-ready CMD      run CMD (and wait for it) once subscribed, before posting\n"
"  --on-done CMD       run CMD (and wait for it) once the run is over, before the last\n"
"                      measurement (bench/profile starts and stops profilers so)\n");
}

/* --- time and small helpers ----------------------------------------------------- */

static inline int64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "loadgen: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

static void *xcalloc(size_t n, size_t s) {
    void *p = calloc(n ? n : 1, s ? s : 1);
    if (!p) die("out of memory");
    return p;
}

/* A growable array of microsecond latencies. */
struct lat {
    uint32_t *v;
    size_t n, cap;
};

static void lat_add(struct lat *l, int64_t us) {
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 65536;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        if (!l->v) die("out of memory");
    }
    l->v[l->n++] = us < 0 ? 0 : us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

struct pct { double p50, p99, max; };

static struct pct lat_pct(struct lat *l) {
    struct pct p = { 0, 0, 0 };
    if (!l->n) return p;
    qsort(l->v, l->n, sizeof *l->v, cmp_u32);
    p.p50 = l->v[(l->n - 1) / 2];
    p.p99 = l->v[(size_t)((double)(l->n - 1) * 0.99)];
    p.max = l->v[l->n - 1];
    return p;
}

/* --- the server's processes ------------------------------------------------------- */

struct proc_sample {
    int pid;
    double cpu_s;           /* utime + stime, /proc/PID/stat */
    double sched_s;         /* sum over threads of /proc/PID/task/N/schedstat: ns precision */
    long rss_kb;            /* VmRSS */
    int ok;
};

static int pid_of(int i) {
    const char *spec = O.pids[i].spec;
    if (spec[0] != '@') return atoi(spec);
    FILE *f = fopen(spec + 1, "r");
    int pid = 0;
    if (f) {
        if (fscanf(f, "%d", &pid) != 1) pid = 0;
        fclose(f);
    }
    return pid;
}

static struct proc_sample sample(int i) {
    struct proc_sample s = { pid_of(i), 0, 0, 0, 0 };
    char path[128], buf[4096];
    if (s.pid <= 0) return s;
    snprintf(path, sizeof path, "/proc/%d/stat", s.pid);
    FILE *f = fopen(path, "r");
    if (!f) return s;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');   /* the command name may hold spaces */
    if (!p) return s;
    unsigned long long ut = 0, st = 0;
    /* after ")": state(3) ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime(14) stime(15) */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2) return s;
    s.cpu_s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
    snprintf(path, sizeof path, "/proc/%d/status", s.pid);
    if ((f = fopen(path, "r"))) {
        while (fgets(buf, sizeof buf, f))
            if (strncmp(buf, "VmRSS:", 6) == 0) s.rss_kb = atol(buf + 6);
        fclose(f);
    }
    /* Threads still alive; exited threads are only in /proc/PID/stat. */
    snprintf(path, sizeof path, "/proc/%d/task", s.pid);
    DIR *dir = opendir(path);
    if (dir) {
        struct dirent *de;
        while ((de = readdir(dir))) {
            if (de->d_name[0] == '.') continue;
            char tp[512];
            snprintf(tp, sizeof tp, "%s/%s/schedstat", path, de->d_name);
            FILE *d = fopen(tp, "r");
            if (!d) continue;
            unsigned long long ns = 0;
            if (fscanf(d, "%llu", &ns) == 1) s.sched_s += (double)ns / 1e9;
            fclose(d);
        }
        closedir(dir);
    }
    s.ok = 1;
    return s;
}

static struct proc_sample S0[MAX_PIDS], S1[MAX_PIDS], S2[MAX_PIDS];

static void sample_all(struct proc_sample *out) {
    for (int i = 0; i < O.npids; i++) out[i] = sample(i);
}

/* --- listeners ------------------------------------------------------------------------ */

enum cstate { C_IDLE, C_QUEUED, C_CONNECTING, C_SUBSCRIBING, C_READY, C_CLOSED };

struct conn {
    struct lws *wsi;
    int idx, url;
    enum cstate state;
    int step;               /* frames sent after the handshake */
    int session;            /* connections made so far */
    int counted;            /* expected deliveries are counted for it */
    int failures;           /* reconnect attempts failed in a row */
    uint32_t expect, got;   /* messages addressed to it / seen in this session */
    uint8_t *seen;          /* bitmap by seq */
    char *rx;
    size_t rx_len;
    lws_sorted_usec_list_t sul;
};

static struct lws_context *CTX;
static struct conn *C;
static int *CQ;                 /* connect queue: conn indexes */
static int cq_head, cq_tail;    /* ring of size conns + 1 */
static int pending;             /* handshakes in flight */
static int nready;
static struct {
    char *buf, *host, *path;
    int port;
} W[MAX_URLS];
static char RUN_ID[16];
static char CMDLINE[4096];      /* the command line, for the JSON line */
static int TOTAL_MSGS;          /* messages of the run: seq in [0, TOTAL_MSGS) */
static uint8_t *ACCEPTED;       /* by seq: answered 200 (written by the POST thread, read after it is joined) */

static struct {
    long long received, duplicates, foreign, pongs, conn_errors, closes, connects;
    int64_t t_first_frame, t_last_frame;
    struct lat lat;
    long long per_url_received[MAX_URLS], per_url_dup[MAX_URLS], per_url_expect[MAX_URLS];
    int per_url_conns[MAX_URLS];
} R;

/* The listeners message `seq` is addressed to, in distinct mode. */
static inline int target_of(int seq, int j) { return (int)(((long long)seq * O.targets + j) % O.conns); }

static void phid_of(char *out, size_t cap, int conn, int k) {
    snprintf(out, cap, "PHID-USER-bench%07dk%03d", conn, k);
}

static void cq_push(int i) {
    C[i].state = C_QUEUED;
    CQ[cq_tail] = i;
    cq_tail = (cq_tail + 1) % (O.conns + 1);
}

static int cq_pop(void) {
    if (cq_head == cq_tail) return -1;
    int i = CQ[cq_head];
    cq_head = (cq_head + 1) % (O.conns + 1);
    return i;
}

static void schedule_retry(struct conn *c);

static void start_connect(struct conn *c) {
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof ci);
    ci.context = CTX;
    ci.address = W[c->url].host;
    ci.port = W[c->url].port;
    ci.path = W[c->url].path;
    ci.host = W[c->url].host;
    ci.origin = W[c->url].host;
    ci.protocol = NULL;   /* as browsers do: no subprotocol */
    ci.local_protocol_name = "loadgen";
    ci.opaque_user_data = c;
    ci.pwsi = &c->wsi;
    /* No per-connection validity timer: lws 4.1 keeps its timers in one
     * sorted list, so 20,000 of them make every insertion O(N). */
    static const lws_retry_bo_t no_validity = { .secs_since_valid_ping = 0, .secs_since_valid_hangup = 0 };
    ci.retry_and_idle_policy = &no_validity;
    if (O.nbind) ci.iface = O.bind[c->idx % O.nbind];
    c->state = C_CONNECTING;
    c->step = 0;
    pending++;
    R.connects++;
    if (!lws_client_connect_via_info(&ci)) {
        /* CONNECTION_ERROR was already called, or it failed at once. */
        if (c->state == C_CONNECTING) {
            pending--;
            c->state = C_CLOSED;
            R.conn_errors++;
            schedule_retry(c);
        }
    }
}

static void retry_cb(lws_sorted_usec_list_t *sul) {
    struct conn *c = lws_container_of(sul, struct conn, sul);
    if (c->state == C_CLOSED) cq_push(c->idx);
}

static int storm_reconnecting;   /* closed listeners come back (browser-like) */

static int initial_phase = 1;
static long long initial_retries;   /* first connects that failed may be retried, a few times each */

static void schedule_retry(struct conn *c) {
    if (!storm_reconnecting) {
        if (initial_phase && c->session == 0 && initial_retries-- > 0) cq_push(c->idx);
        return;
    }
    /* The browser client: at once after a drop, then 2 s, 4 s, ... */
    int64_t delay = 0;
    if (c->failures > 0) {
        delay = (int64_t)O.retry_ms << (c->failures - 1 > 16 ? 16 : c->failures - 1);
        if (delay > O.retry_max_ms) delay = O.retry_max_ms;
    }
    c->failures++;
    if (delay == 0) cq_push(c->idx);
    else lws_sul_schedule(CTX, 0, &c->sul, retry_cb, delay * 1000);
}

static void fill_connects(void) {
    int i;
    while (pending < O.max_pending && (i = cq_pop()) >= 0)
        if (C[i].state == C_QUEUED) start_connect(&C[i]);
}

static int send_text(struct lws *wsi, const char *text, size_t len) {
    unsigned char *buf = malloc(LWS_PRE + len);
    if (!buf) return -1;
    memcpy(buf + LWS_PRE, text, len);
    int n = lws_write(wsi, buf + LWS_PRE, len, LWS_WRITE_TEXT);
    free(buf);
    return n < (int)len ? -1 : 0;
}

static int send_next(struct lws *wsi, struct conn *c) {
    char buf[64 * 1024];
    int n;
    if (c->step == 0) {
        n = snprintf(buf, sizeof buf, "{\"command\":\"subscribe\",\"data\":[");
        if (O.shared) n += snprintf(buf + n, sizeof buf - n, "\"%s\"", SHARED_PHID);
        else
            for (int k = 0; k < O.phids && n < (int)sizeof buf - 64; k++) {
                char phid[64];
                phid_of(phid, sizeof phid, c->idx, k);
                n += snprintf(buf + n, sizeof buf - n, "%s\"%s\"", k ? "," : "", phid);
            }
        n += snprintf(buf + n, sizeof buf - n, "]}");
        c->step = c->session > 1 && O.storm ? 1 : 2;
    } else if (c->step == 1) {
        n = snprintf(buf, sizeof buf, "{\"command\":\"replay\",\"data\":{\"age\":%lld}}", O.replay_age);
        c->step = 2;
    } else if (c->step == 2) {
        /* The answer comes after everything the commands before it queued:
         * subscribed, and the replay is complete. */
        n = snprintf(buf, sizeof buf, "{\"command\":\"ping\",\"data\":null}");
        c->step = 3;
    } else {
        return 0;
    }
    if (send_text(wsi, buf, (size_t)n) < 0) return -1;
    if (c->step < 3) lws_callback_on_writable(wsi);
    return 0;
}

static const char *memfind(const char *h, size_t hl, const char *n, size_t nl) {
    return memmem(h, hl, n, nl);
}

static void on_frame(struct conn *c, const char *f, size_t len) {
    int64_t t = now_us();
    if (len < 40 && memfind(f, len, "\"pong\"", 6)) {
        R.pongs++;
        if (c->state == C_SUBSCRIBING) {
            c->state = C_READY;
            nready++;
        }
        return;
    }
    const char *p = memfind(f, len, "\"bench\":\"", 9), *q, *r;
    if (!p || strncmp(p + 9, RUN_ID, strlen(RUN_ID)) != 0 || !(q = memfind(f, len, "\"seq\":", 6)) ||
        !(r = memfind(f, len, "\"sent_us\":", 10))) {
        R.foreign++;
        return;
    }
    long seq = strtol(q + 6, NULL, 10);
    long long sent = strtoll(r + 10, NULL, 10);
    if (seq < 0 || seq >= TOTAL_MSGS) {
        R.foreign++;
        return;
    }
    if (!c->seen) c->seen = xcalloc((size_t)(TOTAL_MSGS + 7) / 8, 1);
    uint8_t bit = (uint8_t)(1u << (seq & 7));
    if (c->seen[seq >> 3] & bit) {
        R.duplicates++;
        R.per_url_dup[c->url]++;
        return;
    }
    c->seen[seq >> 3] |= bit;
    c->got++;
    R.received++;
    R.per_url_received[c->url]++;
    lat_add(&R.lat, t - sent);
    if (!R.t_first_frame) R.t_first_frame = t;
    R.t_last_frame = t;
}

static void conn_gone(struct conn *c, int was_error) {
    if (c->state == C_CONNECTING) pending--;
    if (c->state == C_READY) nready--;
    c->state = C_CLOSED;
    c->wsi = NULL;
    free(c->rx);
    c->rx = NULL;
    c->rx_len = 0;
    if (was_error) R.conn_errors++;
    else R.closes++;
    schedule_retry(c);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len) {
    struct conn *c = wsi ? lws_get_opaque_user_data(wsi) : NULL;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (c) conn_gone(c, 1);
        break;
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        if (!c) break;
        pending--;
        c->state = C_SUBSCRIBING;
        c->session++;
        c->failures = 0;
        c->got = 0;
        if (c->seen) memset(c->seen, 0, (size_t)(TOTAL_MSGS + 7) / 8);
        lws_callback_on_writable(wsi);
        break;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        if (c && send_next(wsi, c) < 0) return -1;
        break;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        if (!c) break;
        if (lws_is_final_fragment(wsi) && c->rx_len == 0) {
            on_frame(c, in, len);
            break;
        }
        if (c->rx_len + len > RX_MAX) return -1;
        c->rx = realloc(c->rx, c->rx_len + len + 1);
        if (!c->rx) die("out of memory");
        memcpy(c->rx + c->rx_len, in, len);
        c->rx_len += len;
        if (lws_is_final_fragment(wsi)) {
            on_frame(c, c->rx, c->rx_len);
            c->rx_len = 0;
        }
        break;
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (c) conn_gone(c, 0);
        break;
    default:
        break;
    }
    return 0;
}

static const struct lws_protocols protocols[] = {
    { "loadgen", callback, 0, 2048, 0, NULL, 0 },
    { NULL, NULL, 0, 0, 0, NULL, 0 },
};

/* --- POSTs ------------------------------------------------------------------------------ */

struct post_phase {
    int first, count;       /* seq range */
    /* results */
    atomic_long done;       /* answered, any status */
    long ok, failed, status_other;
    int last_bad_status;
    struct lat lat;         /* POST answered - sent */
    int64_t t_start, t_end;
    atomic_int finished;
};

static atomic_int STOP;

static size_t discard(char *p, size_t s, size_t n, void *u) {
    (void)p; (void)u;
    return s * n;
}

struct slot {
    CURL *h;
    int64_t sent;
    int seq;
    char body[4096];
    struct curl_slist *hdr;
};

static int build_body(char *out, size_t cap, int seq, int64_t sent) {
    char uid[40];
    snprintf(uid, sizeof uid, "B%s%0*d", RUN_ID, (int)(31 - strlen(RUN_ID)), seq);
    int n = snprintf(out, cap, "{\"type\":\"notification\",\"key\":\"%d\",\"subscribers\":[", seq);
    if (O.shared) {
        n += snprintf(out + n, cap - n, "\"%s\"", SHARED_PHID);
    } else if (O.conns == 0) {
        n += snprintf(out + n, cap - n, "\"PHID-USER-benchnobody0000000\"");
    } else {
        int t = O.targets < O.conns ? O.targets : O.conns;
        for (int j = 0; j < t && n < (int)cap - 128; j++) {
            char phid[64];
            phid_of(phid, sizeof phid, target_of(seq, j), 0);
            n += snprintf(out + n, cap - n, "%s\"%s\"", j ? "," : "", phid);
        }
    }
    n += snprintf(out + n, cap - n, "],\"uniqueID\":\"%s\",\"bench\":\"%s\",\"seq\":%d,", uid, RUN_ID, seq);
    if (O.pad > 0 && n + O.pad + 64 < (int)cap) {
        n += snprintf(out + n, cap - n, "\"pad\":\"");
        memset(out + n, 'x', (size_t)O.pad);
        n += O.pad;
        n += snprintf(out + n, cap - n, "\",");
    }
    n += snprintf(out + n, cap - n, "\"sent_us\":%" PRId64 "}", sent);
    return n;
}

static void *post_thread(void *arg) {
    struct post_phase *ph = arg;
    CURLM *m = curl_multi_init();
    int nslots = O.inflight;
    struct slot *slots = xcalloc((size_t)nslots, sizeof *slots);
    int *freelist = xcalloc((size_t)nslots, sizeof *freelist), nfree = 0;
    for (int i = 0; i < nslots; i++) {
        struct slot *s = &slots[i];
        s->h = curl_easy_init();
        s->hdr = curl_slist_append(NULL, "Content-Type: application/json");
        s->hdr = curl_slist_append(s->hdr, "Expect:");
        curl_easy_setopt(s->h, CURLOPT_HTTPHEADER, s->hdr);
        curl_easy_setopt(s->h, CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(s->h, CURLOPT_PRIVATE, s);
        curl_easy_setopt(s->h, CURLOPT_TIMEOUT_MS, 20000L);
        curl_easy_setopt(s->h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(s->h, CURLOPT_TCP_NODELAY, 1L);
        if (O.new_conn) {
            curl_easy_setopt(s->h, CURLOPT_FRESH_CONNECT, 1L);
            curl_easy_setopt(s->h, CURLOPT_FORBID_REUSE, 1L);
        }
        freelist[nfree++] = i;
    }
    int next = 0, active = 0;
    ph->t_start = now_us();
    int64_t deadline = O.duration > 0 ? ph->t_start + (int64_t)(O.duration * 1e6) : INT64_MAX;
    while (!atomic_load(&STOP)) {
        int64_t t = now_us();
        while (nfree > 0 && next < ph->count && t < deadline) {
            if (O.rate > 0 && t < ph->t_start + (int64_t)((double)next * 1e6 / O.rate)) break;
            struct slot *s = &slots[freelist[--nfree]];
            int seq = ph->first + next;
            s->seq = seq;
            s->sent = now_us();
            int len = build_body(s->body, sizeof s->body, seq, s->sent);
            curl_easy_setopt(s->h, CURLOPT_URL, O.admin[seq % O.nadmin]);
            curl_easy_setopt(s->h, CURLOPT_POSTFIELDS, s->body);
            curl_easy_setopt(s->h, CURLOPT_POSTFIELDSIZE, (long)len);
            curl_multi_add_handle(m, s->h);
            next++;
            active++;
            t = now_us();
        }
        if (active == 0 && (next >= ph->count || t >= deadline)) break;
        int running;
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left))) {
            if (msg->msg != CURLMSG_DONE) continue;
            struct slot *s;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            long code = 0;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
            int64_t t1 = now_us();
            if (msg->data.result == CURLE_OK && code == 200) {
                ph->ok++;
                ACCEPTED[s->seq >> 3] |= (uint8_t)(1u << (s->seq & 7));
                lat_add(&ph->lat, t1 - s->sent);
            } else {
                ph->failed++;
                ph->last_bad_status = msg->data.result == CURLE_OK ? (int)code : -(int)msg->data.result;
            }
            atomic_fetch_add(&ph->done, 1);
            curl_multi_remove_handle(m, msg->easy_handle);
            freelist[nfree++] = (int)(s - slots);
            active--;
        }
        if (active > 0 || (O.rate > 0 && next < ph->count)) {
            int timeout = 1;
            if (active > 0 && !(O.rate > 0 && nfree > 0 && next < ph->count)) timeout = 5;
            curl_multi_poll(m, NULL, 0, timeout, NULL);
        }
    }
    ph->t_end = now_us();
    for (int i = 0; i < nslots; i++) {
        curl_multi_remove_handle(m, slots[i].h);
        curl_easy_cleanup(slots[i].h);
        curl_slist_free_all(slots[i].hdr);
    }
    curl_multi_cleanup(m);
    free(slots);
    free(freelist);
    /* Anything not answered is a failure; messages never sent are not. */
    atomic_store(&ph->finished, 1);
    lws_cancel_service(CTX);
    return NULL;
}

/* --- hooks -------------------------------------------------------------------------------- */

static pid_t run_hook(const char *cmd) {
    pid_t pid = fork();
    if (pid == 0) {
        /* Keep the listeners' sockets out of the hook's processes. */
        struct rlimit rl;
        getrlimit(RLIMIT_NOFILE, &rl);
        for (int fd = 3; fd < (int)rl.rlim_cur && fd < 65536; fd++) close(fd);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    if (pid < 0) die("fork: %s", strerror(errno));
    return pid;
}

/* 1 when the hook exited (status in *st), 0 while it runs. */
static int hook_done(pid_t pid, int *st) {
    int status;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) {
        *st = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return 1;
    }
    return r < 0;
}

/* --- the run ---------------------------------------------------------------------------- */

static volatile sig_atomic_t interrupted;
static void on_signal(int sig) { (void)sig; interrupted = 1; }

static struct ev_loop *LOOP;   /* epoll: lws's own poll() loop scans every fd each time */
static int use_poll;

static void service_once(void) {
    if (LOOP) ev_run(LOOP, EVRUN_ONCE);
    else lws_service(CTX, 0);
}

static lws_sorted_usec_list_t tick_sul;
static void tick(lws_sorted_usec_list_t *sul) {
    fill_connects();
    /* Often while connecting; otherwise only to look at the clock. */
    int busy = cq_head != cq_tail || pending > 0;
    lws_sul_schedule(CTX, 0, sul, tick, busy ? 2000 : 20000);
}

static void service_for(int64_t until_us) {
    while (!interrupted && now_us() < until_us) service_once();
}

static int64_t T0;

/* The 1-minute load average: how busy the shared machine was. */
static double loadavg(void) {
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1) l = -1;
        fclose(f);
    }
    return l;
}
static double secs(int64_t a, int64_t b) { return (double)(b - a) / 1e6; }

/* Counts the deliveries expected by every counted listener for the
 * messages in [a, b) that the server accepted (answered 200), and sets
 * each listener's own count. */
static long long count_expected(int a, int b) {
    long long e = 0;
    memset(R.per_url_expect, 0, sizeof R.per_url_expect);
    for (int i = 0; i < O.conns; i++) C[i].expect = 0;
    if (O.conns == 0) return 0;
    int t = O.shared ? O.conns : O.targets < O.conns ? O.targets : O.conns;
    for (int s = a; s < b; s++) {
        if (!(ACCEPTED[s >> 3] & (1u << (s & 7)))) continue;
        for (int j = 0; j < t; j++) {
            struct conn *c = &C[O.shared ? j : target_of(s, j)];
            if (!c->counted) continue;
            c->expect++;
            R.per_url_expect[c->url]++;
            e++;
        }
    }
    return e;
}

static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', f);
        if ((unsigned char)*s < 0x20) fprintf(f, "\\u%04x", *s);
        else fputc(*s, f);
    }
    fputc('"', f);
}

int main(int argc, char **argv) {
    enum { OPT_WS = 256, OPT_ADMIN, OPT_CONNS, OPT_SHARED, OPT_PHIDS, OPT_MESSAGES, OPT_TARGETS, OPT_INFLIGHT,
           OPT_RATE, OPT_DURATION, OPT_NEWCONN, OPT_DRAIN, OPT_HOLD, OPT_PAD, OPT_MAXPEND, OPT_BIND,
           OPT_CTIMEOUT, OPT_MAXTIME, OPT_PID, OPT_LABEL, OPT_JSON, OPT_STORM, OPT_HDOWN, OPT_HUP,
           OPT_DOWNMSG, OPT_RETRY, OPT_REPLAYAGE, OPT_STIMEOUT, OPT_POLL, OPT_READY, OPT_DONE };
    static const struct option longopts[] = {
        { "ws", 1, NULL, OPT_WS }, { "admin", 1, NULL, OPT_ADMIN }, { "conns", 1, NULL, OPT_CONNS },
        { "shared", 0, NULL, OPT_SHARED }, { "phids", 1, NULL, OPT_PHIDS }, { "messages", 1, NULL, OPT_MESSAGES },
        { "targets", 1, NULL, OPT_TARGETS }, { "inflight", 1, NULL, OPT_INFLIGHT }, { "rate", 1, NULL, OPT_RATE },
        { "duration", 1, NULL, OPT_DURATION }, { "new-conn", 0, NULL, OPT_NEWCONN }, { "drain", 1, NULL, OPT_DRAIN },
        { "hold", 1, NULL, OPT_HOLD }, { "pad", 1, NULL, OPT_PAD }, { "max-pending", 1, NULL, OPT_MAXPEND },
        { "bind", 1, NULL, OPT_BIND }, { "connect-timeout", 1, NULL, OPT_CTIMEOUT },
        { "max-time", 1, NULL, OPT_MAXTIME }, { "pid", 1, NULL, OPT_PID }, { "label", 1, NULL, OPT_LABEL },
        { "json", 1, NULL, OPT_JSON }, { "storm", 0, NULL, OPT_STORM }, { "hook-down", 1, NULL, OPT_HDOWN },
        { "hook-up", 1, NULL, OPT_HUP }, { "down-messages", 1, NULL, OPT_DOWNMSG },
        { "retry-ms", 1, NULL, OPT_RETRY }, { "replay-age", 1, NULL, OPT_REPLAYAGE },
        { "storm-timeout", 1, NULL, OPT_STIMEOUT }, { "poll", 0, NULL, OPT_POLL },
        { "on-ready", 1, NULL, OPT_READY }, { "on-done", 1, NULL, OPT_DONE }, { "help", 0, NULL, 'h' }, { NULL, 0, NULL, 0 },
    };
    {   /* before getopt: --pid is parsed in place */
        size_t used = 0;
        for (int i = 0; i < argc && used < sizeof CMDLINE - 2; i++) {
            const char *a = strrchr(argv[i], '/') && i == 0 ? strrchr(argv[i], '/') + 1 : argv[i];
            int q = strchr(a, ' ') != NULL;
            used += (size_t)snprintf(CMDLINE + used, sizeof CMDLINE - used, "%s%s%s%s", i ? " " : "", q ? "'" : "", a,
                                     q ? "'" : "");
        }
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_WS: if (O.nws < MAX_URLS) O.ws[O.nws++] = optarg; break;
        case OPT_ADMIN: if (O.nadmin < MAX_URLS) O.admin[O.nadmin++] = optarg; break;
        case OPT_BIND: if (O.nbind < MAX_URLS) O.bind[O.nbind++] = optarg; break;
        case OPT_CONNS: O.conns = atoi(optarg); break;
        case OPT_SHARED: O.shared = 1; break;
        case OPT_PHIDS: O.phids = atoi(optarg); break;
        case OPT_MESSAGES: O.messages = atoi(optarg); break;
        case OPT_TARGETS: O.targets = atoi(optarg); break;
        case OPT_INFLIGHT: O.inflight = atoi(optarg); break;
        case OPT_RATE: O.rate = atof(optarg); break;
        case OPT_DURATION: O.duration = atof(optarg); break;
        case OPT_NEWCONN: O.new_conn = 1; break;
        case OPT_DRAIN: O.drain_s = atof(optarg); break;
        case OPT_HOLD: O.hold_s = atof(optarg); break;
        case OPT_PAD: O.pad = atoi(optarg); break;
        case OPT_MAXPEND: O.max_pending = atoi(optarg); break;
        case OPT_CTIMEOUT: O.connect_timeout_s = atof(optarg); break;
        case OPT_MAXTIME: O.max_time_s = atof(optarg); break;
        case OPT_PID: {
            char *eq = strchr(optarg, '=');
            if (!eq || O.npids >= MAX_PIDS) die("--pid NAME=PID or NAME=@FILE");
            *eq = '\0';
            O.pids[O.npids].name = optarg;
            O.pids[O.npids++].spec = eq + 1;
            break;
        }
        case OPT_LABEL: O.label = optarg; break;
        case OPT_JSON: O.json_file = optarg; break;
        case OPT_STORM: O.storm = 1; break;
        case OPT_HDOWN: O.hook_down = optarg; break;
        case OPT_HUP: O.hook_up = optarg; break;
        case OPT_DOWNMSG: O.down_messages = atoi(optarg); break;
        case OPT_RETRY: O.retry_ms = atoi(optarg); break;
        case OPT_REPLAYAGE: O.replay_age = atoll(optarg); break;
        case OPT_STIMEOUT: O.storm_timeout_s = atof(optarg); break;
        case OPT_POLL: use_poll = 1; break;
        case OPT_READY: O.on_ready = optarg; break;
        case OPT_DONE: O.on_done = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) die("unexpected argument %s", argv[optind]);
    }
    if (O.conns > 0 && O.nws == 0) die("--conns needs --ws");
    if ((O.messages > 0 || O.down_messages > 0) && O.nadmin == 0) die("--messages needs --admin");
    if (O.inflight < 1) O.inflight = 1;
    if (O.storm && (!O.hook_down || !O.hook_up || O.conns == 0)) die("--storm needs --conns, --hook-down, --hook-up");
    TOTAL_MSGS = O.messages + (O.storm ? O.down_messages : 0);
    ACCEPTED = xcalloc((size_t)TOTAL_MSGS / 8 + 1, 1);

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    getrlimit(RLIMIT_NOFILE, &rl);
    if ((rlim_t)O.conns + O.inflight + 32 > rl.rlim_cur)
        fprintf(stderr, "loadgen: warning: %d listeners + %d POSTs need more than the open-file limit %llu\n",
                O.conns, O.inflight, (unsigned long long)rl.rlim_cur);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    srand((unsigned)(time(NULL) ^ getpid()));
    snprintf(RUN_ID, sizeof RUN_ID, "%08x", (unsigned)rand() ^ (unsigned)now_us());

    for (int i = 0; i < O.nws; i++) {
        const char *scheme, *host, *path;
        W[i].buf = strdup(O.ws[i]);
        if (lws_parse_uri(W[i].buf, &scheme, &host, &W[i].port, &path) || strcmp(scheme, "ws") != 0)
            die("not a ws:// URL: %s", O.ws[i]);
        W[i].host = (char *)host;
        size_t pl = strlen(path) + 2;
        W[i].path = malloc(pl);
        snprintf(W[i].path, pl, "/%s", path);
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);

    lws_set_log_level(LLL_ERR, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.count_threads = 1;
    info.fd_limit_per_thread = (unsigned)rl.rlim_cur;
    info.timeout_secs = 30;
    /* One read takes up to 64 KiB: many frames per system call when the
     * server sends them in bursts (one buffer per service thread). */
    info.pt_serv_buf_size = 65536;
    void *foreign[1];
    if (!use_poll) {
        LOOP = ev_loop_new(EVBACKEND_EPOLL);
        if (!LOOP) die("libev: no epoll loop");
        foreign[0] = LOOP;
        info.foreign_loops = foreign;
        info.options |= LWS_SERVER_OPTION_LIBEV;
    }
    CTX = lws_create_context(&info);
    if (!CTX) die("libwebsockets could not start");

    C = xcalloc((size_t)O.conns, sizeof *C);
    CQ = xcalloc((size_t)O.conns + 1, sizeof *CQ);
    for (int i = 0; i < O.conns; i++) {
        C[i].idx = i;
        C[i].url = i % (O.nws ? O.nws : 1);
        R.per_url_conns[C[i].url]++;
        cq_push(i);
    }
    lws_sul_schedule(CTX, 0, &tick_sul, tick, 1000);

    /* 1. Connect and subscribe everyone. */
    T0 = now_us();
    double load0 = loadavg();
    int64_t hard_end = T0 + (int64_t)(O.max_time_s * 1e6);
    sample_all(S0);
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    int64_t cdeadline = T0 + (int64_t)(O.connect_timeout_s * 1e6);
    initial_retries = 3LL * O.conns;
    int64_t next_note = T0 + 2000000;
    while (!interrupted && nready < O.conns && now_us() < cdeadline) {
        service_once();
        if (now_us() > next_note) {
            fprintf(stderr, "loadgen: %s: %.0f s: %d subscribed, %d connecting\n", O.label, secs(T0, now_us()), nready,
                    pending);
            next_note += 2000000;
        }
    }
    int64_t t_connected = now_us();
    initial_phase = 0;
    int connected = nready;
    if (O.hold_s > 0) service_for(now_us() + (int64_t)(O.hold_s * 1e6));
    for (int i = 0; i < O.conns; i++) C[i].counted = C[i].state == C_READY;
    if (O.on_ready) {
        int st;
        pid_t hp = run_hook(O.on_ready);
        while (!interrupted && !hook_done(hp, &st)) service_once();
    }
    sample_all(S1);
    if (O.conns)
        fprintf(stderr, "loadgen: %s: %d of %d listeners subscribed in %.2f s\n", O.label, connected, O.conns,
                secs(T0, t_connected));

    /* 2. Post, and receive. */
    struct post_phase ph1 = { .first = 0, .count = O.messages };
    long long expected = 0;
    pthread_t th;
    int64_t t_post0 = now_us(), t_post_end = 0, t_done = 0;
    if (O.messages > 0) {
        pthread_create(&th, NULL, post_thread, &ph1);
        int joined = 0;
        while (!interrupted && now_us() < hard_end) {
            service_once();
            if (!joined && atomic_load(&ph1.finished)) {
                pthread_join(th, NULL);
                joined = 1;
                t_post_end = now_us();
                expected = count_expected(0, O.messages);   /* what was accepted */
            }
            if (joined && (R.received >= expected || now_us() > t_post_end + (int64_t)(O.drain_s * 1e6))) break;
        }
        if (!joined) {
            atomic_store(&STOP, 1);
            pthread_join(th, NULL);
            t_post_end = now_us();
        }
        t_done = now_us();
    }
    /* Only what was posted and accepted is expected (with --duration,
     * fewer than --messages may have been posted). */
    long long posted = atomic_load(&ph1.done);
    expected = count_expected(0, O.messages);
    long long received1 = R.received, dup1 = R.duplicates;
    struct lat lat1 = R.lat;
    memset(&R.lat, 0, sizeof R.lat);

    /* 3. The storm: down, post while down, up, everyone back and replayed. */
    struct post_phase ph2 = { .first = O.messages, .count = O.down_messages };
    int64_t t_down0 = 0, t_down = 0, t_up0 = 0, t_up = 0, t_first_back = 0, t_all_back = 0, t_storm_end = 0;
    int storm_back = 0, hook_down_st = -1, hook_up_st = -1;
    long long storm_missing = 0, storm_expected = 0, storm_got = 0, storm_dup0 = R.duplicates;
    long long connects0 = R.connects, errors0 = R.conn_errors;
    if (O.storm && !interrupted) {
        for (int i = 0; i < O.conns; i++) C[i].counted = 1;
        storm_reconnecting = 1;
        t_down0 = now_us();
        pid_t hp = run_hook(O.hook_down);
        while (!interrupted && !hook_done(hp, &hook_down_st) && now_us() < hard_end) {
            lws_sul_schedule(CTX, 0, &tick_sul, tick, 1000);
            service_once();
        }
        t_down = now_us();
        fprintf(stderr, "loadgen: %s: hook-down done in %.2f s (status %d); %d listeners still up\n", O.label,
                secs(t_down0, t_down), hook_down_st, nready);
        if (O.down_messages > 0) {
            pthread_create(&th, NULL, post_thread, &ph2);
            while (!interrupted && !atomic_load(&ph2.finished)) service_once();
            pthread_join(th, NULL);
        }
        t_up0 = now_us();
        hp = run_hook(O.hook_up);
        int up_done = 0;
        sample_all(S1);   /* the new server's pid, via @FILE, once the hook wrote it */
        /* Every listener now expects every message of both phases. */
        storm_expected = count_expected(0, O.messages + O.down_messages);
        int64_t send = t_up0 + (int64_t)(O.storm_timeout_s * 1e6);
        while (!interrupted && now_us() < send && now_us() < hard_end) {
            service_once();
            if (!up_done && hook_done(hp, &hook_up_st)) {
                up_done = 1;
                t_up = now_us();
                sample_all(S1);
            }
            if (!t_first_back && nready > 0) t_first_back = now_us();
            int back = 0;
            if (nready == O.conns) {
                /* Ready means the pong after replay arrived: compare. */
                back = 1;
                for (int i = 0; i < O.conns && back; i++)
                    if (C[i].session < 2) back = 0;
                if (back && !t_all_back) t_all_back = now_us();
            }
            if (back) break;
        }
        t_storm_end = now_us();
        for (int i = 0; i < O.conns; i++) {
            if (C[i].session >= 2 && C[i].state == C_READY) storm_back++;
            storm_got += C[i].got < C[i].expect ? C[i].got : C[i].expect;
        }
        storm_missing = storm_expected - storm_got;
        if (!up_done) {
            /* Leave it: it is the caller's server. */
            waitpid(hp, &hook_up_st, 0);
        }
    }
    if (O.on_done) {
        int st;
        pid_t hp = run_hook(O.on_done);
        while (!interrupted && !hook_done(hp, &st)) service_once();
    }
    int64_t t_end = now_us();
    sample_all(S2);
    getrusage(RUSAGE_SELF, &ru1);
    double lg_cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec + ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
                    (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec + ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
    long lg_rss = 0;
    {
        FILE *f = fopen("/proc/self/status", "r");
        char line[256];
        while (f && fgets(line, sizeof line, f))
            if (strncmp(line, "VmRSS:", 6) == 0) lg_rss = atol(line + 6);
        if (f) fclose(f);
    }

    /* --- report --- */
    struct pct pl = lat_pct(&lat1), pp = lat_pct(&ph1.lat);
    double deliver_s = R.t_first_frame && t_post0 ? secs(t_post0, R.t_last_frame ? R.t_last_frame : t_done) : 0;
    double post_s = ph1.t_end > ph1.t_start ? secs(ph1.t_start, ph1.t_end) : 0;
    if (O.storm) deliver_s = received1 && R.t_first_frame ? deliver_s : 0;
    double dps = deliver_s > 0 ? (double)received1 / deliver_s : 0;
    double pps = post_s > 0 ? (double)ph1.ok / post_s : 0;
    long long missing = expected - received1;

    FILE *outs[2] = { stdout, O.json_file ? fopen(O.json_file, "a") : NULL };
    for (int k = 0; k < 2; k++) {
        FILE *f = outs[k];
        if (!f) continue;
        fprintf(f, "{\"label\":");
        json_str(f, O.label);
        fprintf(f, ",\"cmd\":");
        json_str(f, CMDLINE);
        fprintf(f, ",\"mode\":\"%s\",\"conns\":%d,\"connected\":%d,\"connect_s\":%.3f,\"shared\":%d,\"phids\":%d,"
                   "\"targets\":%d,\"inflight\":%d,\"new_conn\":%d,\"rate\":%.1f,",
                O.storm ? "storm" : O.messages ? (O.conns ? "deliver" : "ingest") : "idle", O.conns, connected,
                secs(T0, t_connected), O.shared, O.phids, O.targets, O.inflight, O.new_conn, O.rate);
        fprintf(f, "\"messages\":%d,\"posted\":%lld,\"accepted\":%ld,\"post_failed\":%ld,\"last_bad_status\":%d,"
                   "\"post_s\":%.3f,\"posts_per_s\":%.1f,\"post_lat_us\":{\"p50\":%.0f,\"p99\":%.0f,\"max\":%.0f},",
                O.messages, posted, ph1.ok, ph1.failed, ph1.last_bad_status, post_s, pps, pp.p50, pp.p99, pp.max);
        fprintf(f, "\"expected\":%lld,\"received\":%lld,\"missing\":%lld,\"duplicates\":%lld,\"foreign\":%lld,"
                   "\"deliver_s\":%.3f,\"deliveries_per_s\":%.1f,\"lat_us\":{\"p50\":%.0f,\"p99\":%.0f,\"max\":%.0f},",
                expected, received1, missing, dup1, R.foreign, deliver_s, dps, pl.p50, pl.p99, pl.max);
        fprintf(f, "\"per_url\":[");
        for (int u = 0; u < (O.nws ? O.nws : 0); u++)
            fprintf(f, "%s{\"url\":\"%s\",\"conns\":%d,\"expected\":%lld,\"received\":%lld,\"duplicates\":%lld}",
                    u ? "," : "", O.ws[u], R.per_url_conns[u], R.per_url_expect[u], R.per_url_received[u],
                    R.per_url_dup[u]);
        fprintf(f, "],\"servers\":[");
        for (int i = 0; i < O.npids; i++) {
            double cpu = S2[i].cpu_s - S1[i].cpu_s, sched = S2[i].sched_s - S1[i].sched_s;
            if (S2[i].pid != S1[i].pid) cpu = sched = -1;
            fprintf(f, "%s{\"name\":\"%s\",\"pid\":%d,\"cpu_s_connect\":%.3f,\"cpu_s\":%.3f,\"sched_s\":%.4f,"
                       "\"cpu_s_total\":%.3f,\"rss_kb_start\":%ld,\"rss_kb_connected\":%ld,\"rss_kb_end\":%ld,"
                       "\"cpu_us_per_delivery\":%.3f,\"cpu_us_per_message\":%.3f,\"rss_bytes_per_conn\":%.1f}",
                    i ? "," : "", O.pids[i].name, S2[i].pid, S1[i].cpu_s - S0[i].cpu_s, cpu, sched, S2[i].cpu_s,
                    S0[i].rss_kb, S1[i].rss_kb, S2[i].rss_kb,
                    received1 ? sched * 1e6 / (double)received1 : 0, ph1.ok ? sched * 1e6 / (double)ph1.ok : 0,
                    connected && !O.storm ? (double)(S1[i].rss_kb - S0[i].rss_kb) * 1024.0 / connected : 0);
        }
        fprintf(f, "],");
        if (O.storm) {
            fprintf(f, "\"storm\":{\"down_messages\":%d,\"down_accepted\":%ld,\"hook_down_s\":%.3f,\"hook_down_status\":%d,"
                       "\"hook_up_s\":%.3f,\"hook_up_status\":%d,\"first_back_s\":%.3f,\"all_back_s\":%.3f,"
                       "\"from_drop_s\":%.3f,\"back\":%d,\"expected\":%lld,\"received\":%lld,\"missing\":%lld,"
                       "\"duplicates\":%lld,\"connects\":%lld,\"connect_errors\":%lld,\"storm_s\":%.3f},",
                    O.down_messages, ph2.ok, secs(t_down0, t_down), hook_down_st, t_up ? secs(t_up0, t_up) : -1,
                    hook_up_st, t_first_back ? secs(t_up0, t_first_back) : -1,
                    t_all_back ? secs(t_up0, t_all_back) : -1, t_all_back ? secs(t_down0, t_all_back) : -1,
                    storm_back, storm_expected, storm_got, storm_missing, R.duplicates - storm_dup0,
                    R.connects - connects0, R.conn_errors - errors0, secs(t_down0, t_storm_end));
        }
        fprintf(f, "\"conn_errors\":%lld,\"closes\":%lld,\"elapsed_s\":%.3f,\"loadgen_cpu_s\":%.3f,\"loadgen_rss_kb\":%ld,"
                   "\"loadavg_start\":%.2f,\"loadavg_end\":%.2f}\n",
                R.conn_errors, R.closes, secs(T0, t_end), lg_cpu, lg_rss, load0, loadavg());
        fflush(f);
        if (k == 1) fclose(f);
    }

    fprintf(stderr, "loadgen: %s: ", O.label);
    if (O.messages)
        fprintf(stderr, "%ld/%lld POSTs accepted (%ld failed) at %.0f/s, POST p50 %.2f ms p99 %.2f ms; ", ph1.ok,
                posted, ph1.failed, pps, pp.p50 / 1000, pp.p99 / 1000);
    if (O.conns && O.messages)
        fprintf(stderr, "%lld/%lld deliveries, %lld duplicates, %.0f/s, latency p50 %.2f ms p99 %.2f ms max %.2f ms; ",
                received1, expected, dup1, dps, pl.p50 / 1000, pl.p99 / 1000, pl.max / 1000);
    for (int i = 0; i < O.npids; i++)
        fprintf(stderr, "%s: %.3f s CPU, RSS %ld -> %ld -> %ld KiB; ", O.pids[i].name, S2[i].sched_s - S1[i].sched_s,
                S0[i].rss_kb, S1[i].rss_kb, S2[i].rss_kb);
    if (O.storm)
        fprintf(stderr, "storm: %d/%d back, all back and replayed %.2f s after the restart (%.2f s after the drop), "
                        "%lld of %lld replayed messages missing; ",
                storm_back, O.conns, t_all_back ? secs(t_up0, t_all_back) : -1.0,
                t_all_back ? secs(t_down0, t_all_back) : -1.0, storm_missing, storm_expected);
    fprintf(stderr, "loadgen %.2f s CPU\n", lg_cpu);

    lws_context_destroy(CTX);
    if (LOOP) ev_loop_destroy(LOOP);
    curl_global_cleanup();
    int bad = (O.conns && connected < O.conns) || missing > 0 || (O.storm && (storm_back < O.conns || storm_missing));
    return bad ? 1 : 0;
}
