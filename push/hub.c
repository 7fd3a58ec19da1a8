/* hub.c - see hub.h. */
#include "hub.h"

#include "log.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

/* --- frames ----------------------------------------------------------------- */

struct frame *frame_new(const char *text, size_t len) {
    struct frame *f = malloc(sizeof *f + HUB_FRAME_PRE + len);
    if (!f) return NULL;
    f->refs = 1;
    f->len = (uint32_t)len;
    f->received_ms = 0;
    memcpy(f->data + HUB_FRAME_PRE, text, len);
    return f;
}

void frame_unref(struct frame *f) {
    if (f && --f->refs == 0) free(f);
}

/* --- instances and the index -------------------------------------------------- */

void hub_init(struct hub *h, const struct hub_limits *limits, void (*want_write)(struct listener *)) {
    memset(h, 0, sizeof *h);
    h->limits = *limits;
    h->want_write = want_write;
}

struct instance *hub_instance(struct hub *h, const char *name) {
    struct hentry *e = hmap_find(&h->instances, name);
    if (e) return (struct instance *)e;
    struct instance *in = calloc(1, sizeof *in);
    if (!in || !(in->name = strdup(name))) {
        free(in);
        return NULL;
    }
    in->e.key = in->name;
    in->written_active = -1;
    if (hmap_insert(&h->instances, &in->e) < 0) {
        free(in->name);
        free(in);
        return NULL;
    }
    return in;
}

static struct sub_bucket *bucket_get(struct instance *in, const char *phid, int create) {
    struct hentry *e = hmap_find(&in->subs, phid);
    if (e || !create) return (struct sub_bucket *)e;
    size_t len = strlen(phid);
    struct sub_bucket *b = calloc(1, sizeof *b + len + 1);
    if (!b) return NULL;
    memcpy(b->phid, phid, len + 1);
    b->e.key = b->phid;
    if (hmap_insert(&in->subs, &b->e) < 0) {
        free(b);
        return NULL;
    }
    return b;
}

static void bucket_free(struct sub_bucket *b) {
    if (b->cap) free(b->m.many);
    free(b);
}

static void bucket_drop_member(struct instance *in, struct sub_bucket *b, struct listener *l) {
    struct listener **members = bucket_members(b);
    for (uint32_t i = 0; i < b->n; i++) {
        if (members[i] == l) {
            members[i] = members[--b->n];
            break;
        }
    }
    if (b->n == 0) {
        hmap_remove(&in->subs, &b->e);
        bucket_free(b);
    }
}

static int bucket_add_member(struct sub_bucket *b, struct listener *l) {
    if (b->n == 0 && b->cap == 0) {
        b->m.one = l;
        b->n = 1;
        return 0;
    }
    if (b->n == b->cap || b->cap == 0) {
        uint32_t cap = b->cap ? b->cap * 2 : 4;
        struct listener **many = malloc(cap * sizeof *many);
        if (!many) return -1;
        memcpy(many, bucket_members(b), b->n * sizeof *many);
        if (b->cap) free(b->m.many);
        b->m.many = many;
        b->cap = cap;
    }
    b->m.many[b->n++] = l;
    return 0;
}

int hub_attach(struct hub *h, struct listener *l, void *wsi, const char *instance) {
    memset(l, 0, sizeof *l);
    l->wsi = wsi;
    l->serial = ++h->next_serial;
    l->inst = hub_instance(h, instance);
    if (!l->inst) return -1;
    l->inst->clients_active++;
    l->inst->delta_clients_total++;
    l->next = h->all;
    if (h->all) h->all->prev = l;
    h->all = l;
    h->nlisteners++;
    return 0;
}

static void drop_subscription(void *p, void *arg) {
    struct listener *l = arg;
    bucket_drop_member(l->inst, p, l);
}

void hub_detach(struct hub *h, struct listener *l) {
    if (!l->inst) return;
    if (l->prev) l->prev->next = l->next;
    else h->all = l->next;
    if (l->next) l->next->prev = l->prev;
    h->nlisteners--;
    pset_each(&l->subs, drop_subscription, l);
    pset_free(&l->subs);
    struct frame *f;
    while ((f = hub_dequeue(l, NULL))) frame_unref(f);
    free(l->ring);
    free(l->rx);
    l->inst->clients_active--;
    l->inst = NULL;
}

int hub_subscribe(struct hub *h, struct listener *l, const char *phid) {
    struct sub_bucket *b = bucket_get(l->inst, phid, 1);
    if (!b) return -1;
    if (pset_has(&l->subs, b)) return 0;
    if ((long long)l->subs.count >= h->limits.max_subscriptions) {
        if (b->n == 0) bucket_drop_member(l->inst, b, l);
        return -1;
    }
    if (pset_add(&l->subs, b) < 0) return -1;
    if (bucket_add_member(b, l) < 0) {
        pset_del(&l->subs, b);
        return -1;
    }
    return 0;
}

void hub_unsubscribe(struct hub *h, struct listener *l, const char *phid) {
    (void)h;
    struct sub_bucket *b = bucket_get(l->inst, phid, 0);
    if (b && pset_del(&l->subs, b)) bucket_drop_member(l->inst, b, l);
}

/* --- send queues ---------------------------------------------------------------- */

const double hub_latency_bounds[HUB_LATENCY_BUCKETS] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                          0.25,  0.5,    1,     2.5,  5,     10 };

void hub_written(struct hub *h, const struct frame *f, long long now_ms) {
    double s = (double)(now_ms - f->received_ms) / 1000.0;
    if (s < 0) s = 0;
    int i = 0;
    while (i < HUB_LATENCY_BUCKETS && s > hub_latency_bounds[i]) i++;
    h->latency.bucket[i]++;
    h->latency.sum_s += s;
    h->latency.count++;
}

/* Ring entries are frame pointers with the replay mark in the low bit
 * (frames are malloc'ed, so at least 8-aligned). */
static struct frame *entry_frame(struct frame *e, int *replay) {
    uintptr_t v = (uintptr_t)e;
    if (replay) *replay = (int)(v & 1);
    return (struct frame *)(v & ~(uintptr_t)1);
}

int hub_enqueue(struct hub *h, struct listener *l, struct frame *f, int replay) {
    if (l->close_code) return -1;
    if ((long long)l->count + 1 > h->limits.send_queue_frames ||
        (long long)(l->bytes + f->len) > h->limits.send_queue_bytes) {
        l->close_code = 1008;
        l->close_reason = "send queue full: the listener does not read its frames";
        h->listeners_cut++;
        log_warn("listener %lu (instance %s): send queue full (%u frames, %zu bytes): cutting it off",
                 l->serial, l->inst->name, l->count, l->bytes);
        h->want_write(l);
        return -1;
    }
    /* The ring starts empty and grows on demand, so an idle listener
     * costs no queue memory at all. */
    if (l->count == l->cap) {
        uint32_t cap = l->cap ? l->cap * 2 : 4;
        struct frame **ring = malloc(cap * sizeof *ring);
        if (!ring) return -1;
        for (uint32_t i = 0; i < l->count; i++) ring[i] = l->ring[(l->head + i) % l->cap];
        free(l->ring);
        l->ring = ring;
        l->cap = cap;
        l->head = 0;
    }
    l->ring[(l->head + l->count) % l->cap] = (struct frame *)((uintptr_t)f | (replay ? 1 : 0));
    l->count++;
    l->bytes += f->len;
    f->refs++;
    h->frames_queued++;
    if (l->count == 1) h->want_write(l);
    return 0;
}

size_t hub_peek_len(const struct listener *l) {
    return entry_frame(l->ring[l->head], NULL)->len;
}

struct frame *hub_dequeue(struct listener *l, int *replay) {
    if (l->count == 0) return NULL;
    struct frame *f = entry_frame(l->ring[l->head], replay);
    l->head = (l->head + 1) % l->cap;
    l->count--;
    l->bytes -= f->len;
    return f;
}

/* --- history and delivery ---------------------------------------------------------- */

static void history_entry_free(struct history_entry *e) {
    frame_unref(e->frame);
    for (int i = 0; i < e->nphids; i++) free(e->phids[i]);
    free(e->phids);
}

static struct history_entry *history_at(struct instance *in, size_t i) {
    return &in->hist[(in->hist_head + i) % in->hist_cap];
}

static void history_drop_oldest(struct instance *in) {
    history_entry_free(history_at(in, 0));
    in->hist_head = (in->hist_head + 1) % in->hist_cap;
    in->hist_count--;
}

static int history_push(struct hub *h, struct instance *in, const struct history_entry *e) {
    if ((long long)in->hist_count >= h->limits.history_max_messages) history_drop_oldest(in);
    if (in->hist_count == in->hist_cap) {
        size_t cap = in->hist_cap ? in->hist_cap * 2 : 16;
        struct history_entry *ring = malloc(cap * sizeof *ring);
        if (!ring) return -1;
        for (size_t i = 0; i < in->hist_count; i++) ring[i] = *history_at(in, i);
        free(in->hist);
        in->hist = ring;
        in->hist_cap = cap;
        in->hist_head = 0;
    }
    *history_at(in, in->hist_count) = *e;
    in->hist_count++;
    return 0;
}

/* Reads the subscribers of a stored body into e->phids. */
static int read_subscribers(const char *body, size_t len, struct history_entry *e) {
    struct json_tokener *tok = json_tokener_new();
    struct json_object *obj = json_tokener_parse_ex(tok, body, (int)len);
    json_tokener_free(tok);
    struct json_object *subs;
    if (!obj || !json_object_object_get_ex(obj, "subscribers", &subs) ||
        !json_object_is_type(subs, json_type_array)) {
        json_object_put(obj);
        return -1;
    }
    size_t n = json_object_array_length(subs);
    /* One block: the PHID pointers, then their hashes. */
    e->phids = calloc(n ? n : 1, sizeof *e->phids + sizeof *e->hashes);
    if (!e->phids) {
        json_object_put(obj);
        return -1;
    }
    e->hashes = (uint64_t *)(e->phids + (n ? n : 1));
    e->nphids = 0;
    for (size_t i = 0; i < n; i++) {
        const char *s = json_object_get_string(json_object_array_get_idx(subs, i));
        if (s && (e->phids[e->nphids] = strdup(s))) e->hashes[e->nphids++] = hmap_hash(s);
    }
    json_object_put(obj);
    return 0;
}

static int deliver(struct hub *h, struct instance *in, const struct history_entry *e) {
    int n = 0;
    for (int i = 0; i < e->nphids; i++) {
        struct sub_bucket *b = (struct sub_bucket *)hmap_find_hashed(&in->subs, e->phids[i], e->hashes[i]);
        if (!b) continue;
        /* hub_enqueue may not change the bucket: cutting off only marks. */
        for (uint32_t j = 0; j < b->n; j++) {
            struct listener *l = bucket_members(b)[j];
            if (l->last_msg_id == e->id) continue;
            l->last_msg_id = e->id;
            if (hub_enqueue(h, l, e->frame, 0) == 0) n++;
        }
    }
    return n;
}

int hub_message(struct hub *h, long long id, const char *instance, long long received_ms,
                const char *body, size_t len, int live) {
    struct history_entry e = { id, received_ms, NULL, NULL, NULL, 0 };
    if (read_subscribers(body, len, &e) < 0) {
        log_warn("queue message %lld is not a message with subscribers: skipped", id);
        return -1;
    }
    struct instance *in = hub_instance(h, instance);
    e.frame = frame_new(body, len);
    if (!in || !e.frame) {
        history_entry_free(&e);
        return -1;
    }
    e.frame->received_ms = received_ms;
    int n = live ? deliver(h, in, &e) : 0;
    if (history_push(h, in, &e) < 0) history_entry_free(&e);
    return n;
}

static int subscribed_to(struct listener *l, const struct history_entry *e) {
    for (int i = 0; i < e->nphids; i++) {
        struct sub_bucket *b = (struct sub_bucket *)hmap_find_hashed(&l->inst->subs, e->phids[i], e->hashes[i]);
        if (b && pset_has(&l->subs, b)) return 1;
    }
    return 0;
}

/* A listener with at most this many subscriptions (the common case: a
 * user's PHID and a few projects) replays by comparing each held message's
 * PHID hashes with its own, with no hash table lookup. A reconnect storm
 * replays the whole history to every listener, so this is its cost. */
#define REPLAY_FEW_SUBS 16

struct few_subs {
    struct sub_bucket *b[REPLAY_FEW_SUBS];
    int n;
};

static void collect_sub(void *p, void *arg) {
    struct few_subs *f = arg;
    if (f->n < REPLAY_FEW_SUBS) f->b[f->n++] = p;
}

static int subscribed_to_few(const struct few_subs *f, const struct history_entry *e) {
    for (int i = 0; i < e->nphids; i++)
        for (int j = 0; j < f->n; j++)
            if (f->b[j]->e.hash == e->hashes[i] && strcmp(f->b[j]->phid, e->phids[i]) == 0) return 1;
    return 0;
}

int hub_replay(struct hub *h, struct listener *l, long long age_ms, long long now_ms) {
    struct instance *in = l->inst;
    long long since = now_ms - age_ms;
    struct few_subs few = { .n = 0 };
    int use_few = l->subs.count <= REPLAY_FEW_SUBS;
    if (use_few) pset_each(&l->subs, collect_sub, &few);
    if (use_few && few.n == 0) return 0;
    int n = 0;
    for (size_t i = 0; i < in->hist_count; i++) {
        struct history_entry *e = history_at(in, i);
        if (e->received_ms < since) continue;
        if (!(use_few ? subscribed_to_few(&few, e) : subscribed_to(l, e))) continue;
        if (hub_enqueue(h, l, e->frame, 1) < 0) break;
        n++;
    }
    h->replay_frames += n;
    return n;
}

void hub_prune(struct hub *h, long long now_ms) {
    for (size_t s = 0; s < h->instances.nslots; s++) {
        for (struct hentry *x = h->instances.slots[s]; x; x = x->next) {
            struct instance *in = (struct instance *)x;
            while (in->hist_count > 0 &&
                   history_at(in, 0)->received_ms < now_ms - h->limits.history_max_age_ms)
                history_drop_oldest(in);
        }
    }
}

static void free_bucket(struct hentry *e, void *arg) {
    (void)arg;
    bucket_free((struct sub_bucket *)e);
}

static void free_instance(struct hentry *x, void *arg) {
    (void)arg;
    struct instance *in = (struct instance *)x;
    while (in->hist_count) history_drop_oldest(in);
    free(in->hist);
    hmap_each(&in->subs, free_bucket, NULL);
    hmap_free(&in->subs);
    free(in->name);
    free(in);
}

void hub_free(struct hub *h) {
    hmap_each(&h->instances, free_instance, NULL);
    hmap_free(&h->instances);
}
