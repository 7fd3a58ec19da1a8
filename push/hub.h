/* hub.h - the push daemon's state in memory, free of libwebsockets: the
 * instances, each with its index from PHID to subscribed listeners and its
 * replay history; each listener's subscriptions and bounded send queue.
 *
 * The cost of delivering a message grows with the listeners subscribed to
 * it, never with the number connected: the message's PHIDs are looked up
 * in the index. Each message is one refcounted frame shared by every
 * listener it goes to. */
#ifndef APH_HUB_H
#define APH_HUB_H

#include "hmap.h"

#include <stddef.h>
#include <stdint.h>

/* Headroom before every payload, as libwebsockets needs (LWS_PRE). */
#define HUB_FRAME_PRE 16
#define HUB_PHID_MAX 256        /* longest PHID accepted in a subscribe */

struct frame {
    uint32_t refs;
    uint32_t len;
    long long received_ms;      /* when the queue took the message; 0: not a message */
    unsigned char data[];       /* HUB_FRAME_PRE bytes, then the payload */
};

struct sub_bucket {             /* one PHID of one instance */
    struct hentry e;
    /* Most PHIDs have one listener (a user's own): it is kept inline, and
     * an array is allocated only for the second. cap 0: `one` is in use. */
    union {
        struct listener *one;
        struct listener **many;
    } m;
    uint32_t n, cap;
    char phid[];
};

/* The members of a bucket, as an array of n. */
static inline struct listener **bucket_members(struct sub_bucket *b) {
    return b->cap ? b->m.many : &b->m.one;
}

struct history_entry {
    long long id;
    long long received_ms;
    struct frame *frame;
    char **phids;
    uint64_t *hashes;           /* hmap_hash of each PHID, in the block of phids */
    int nphids;
};

struct instance {
    struct hentry e;
    char *name;
    struct hmap subs;           /* PHID -> struct sub_bucket */
    struct history_entry *hist; /* ring, oldest at hist_head */
    size_t hist_head, hist_count, hist_cap;
    long long clients_active;
    long long delta_messages_out, delta_clients_total;   /* not yet written */
    long long written_active;   /* clients_active as last written, -1 never */
};

/* A listener that sends nothing for client.idle_timeout_s is pinged; one
 * that still sends nothing for as long again is closed. */
enum { LISTENER_PING_NONE = 0, LISTENER_PING_DUE, LISTENER_PING_SENT, LISTENER_IDLE_CLOSING };

struct listener {
    void *wsi;                  /* the connection (struct lws *) */
    struct instance *inst;
    struct pset subs;           /* of struct sub_bucket * */
    struct frame **ring;        /* the send queue */
    uint32_t head, count, cap;
    uint32_t last_rx_s;         /* when it last sent anything, s on the daemon's clock */
    size_t bytes;
    long long last_msg_id;      /* guards against sending one message twice */
    int close_code;             /* set: close at the next writable callback */
    int ping_state;             /* LISTENER_PING_* */
    const char *close_reason;
    char *rx;                   /* a fragmented frame being reassembled */
    size_t rx_len;
    unsigned long serial;       /* connection number, for logs */
    struct listener *prev, *next;   /* every listener, for shutdown */
};

/* Delivery latency, queue append to frame written, for /metrics. */
#define HUB_LATENCY_BUCKETS 13
extern const double hub_latency_bounds[HUB_LATENCY_BUCKETS];   /* seconds */

struct hub_latency {
    long long bucket[HUB_LATENCY_BUCKETS + 1];   /* not cumulative; last is +Inf */
    double sum_s;
    long long count;
};

struct hub_limits {
    long long max_subscriptions;
    long long send_queue_bytes;
    long long send_queue_frames;
    long long history_max_age_ms;
    long long history_max_messages;
};

struct hub {
    struct hmap instances;
    struct hub_limits limits;
    /* Asks the transport for a writable callback on this listener. */
    void (*want_write)(struct listener *l);
    unsigned long next_serial;
    struct listener *all;       /* every attached listener */
    long long nlisteners;
    long long listeners_cut;    /* closed for a full send queue */
    long long frames_queued;
    long long replay_frames;    /* queued by replay */
    struct hub_latency latency; /* of live frames written */
};

void hub_init(struct hub *h, const struct hub_limits *limits, void (*want_write)(struct listener *));
void hub_free(struct hub *h);

struct frame *frame_new(const char *text, size_t len);
void frame_unref(struct frame *f);

struct instance *hub_instance(struct hub *h, const char *name);

/* A new listener of the named instance. Returns 0, -1 on no memory. */
int hub_attach(struct hub *h, struct listener *l, void *wsi, const char *instance);
void hub_detach(struct hub *h, struct listener *l);

/* Returns 0, or -1 when the listener is over max_subscriptions. */
int hub_subscribe(struct hub *h, struct listener *l, const char *phid);
void hub_unsubscribe(struct hub *h, struct listener *l, const char *phid);

/* Takes in one message of the queue: keeps it for replay and, when
 * deliver is set, queues it for every listener subscribed to one of its
 * PHIDs. Returns the number of listeners it was queued for, -1 when the
 * body is not a message (logged and skipped). */
int hub_message(struct hub *h, long long id, const char *instance, long long received_ms,
                const char *body, size_t len, int deliver);

/* Queues, oldest first, every held message of the listener's instance
 * younger than age_ms to which it is subscribed. Returns how many. */
int hub_replay(struct hub *h, struct listener *l, long long age_ms, long long now_ms);

/* Queues one frame for one listener, within its bounds; past them the
 * listener is marked for closing. `replay` marks a frame sent by replay,
 * whose age is not a delivery latency. Returns 0, or -1 when cut off. */
int hub_enqueue(struct hub *h, struct listener *l, struct frame *f, int replay);
/* The next frame to write, or NULL (*replay set as it was queued); the
 * caller unrefs it once written. */
struct frame *hub_dequeue(struct listener *l, int *replay);
/* The payload length of the next frame to write (the queue is not empty). */
size_t hub_peek_len(const struct listener *l);
/* Counts a live message frame written at now_ms in the latency histogram. */
void hub_written(struct hub *h, const struct frame *f, long long now_ms);

/* Drops history past the age and count bounds. */
void hub_prune(struct hub *h, long long now_ms);

#endif
