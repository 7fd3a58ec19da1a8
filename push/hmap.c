/* hmap.c - see hmap.h. */
#include "hmap.h"

#include <stdlib.h>
#include <string.h>

uint64_t hmap_hash(const char *key) {
    /* FNV-1a: keys are short PHIDs and instance names. */
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
        h ^= *p;
        h *= 1099511628211ULL;
    }
    return h;
}

struct hentry *hmap_find(const struct hmap *m, const char *key) {
    return m->nslots ? hmap_find_hashed(m, key, hmap_hash(key)) : NULL;
}

struct hentry *hmap_find_hashed(const struct hmap *m, const char *key, uint64_t h) {
    if (m->nslots == 0) return NULL;
    for (struct hentry *e = m->slots[h & (m->nslots - 1)]; e; e = e->next)
        if (e->hash == h && strcmp(e->key, key) == 0) return e;
    return NULL;
}

static int grow(struct hmap *m) {
    size_t n = m->nslots ? m->nslots * 2 : 16;
    struct hentry **slots = calloc(n, sizeof *slots);
    if (!slots) return -1;
    for (size_t i = 0; i < m->nslots; i++) {
        struct hentry *e = m->slots[i], *next;
        for (; e; e = next) {
            next = e->next;
            e->next = slots[e->hash & (n - 1)];
            slots[e->hash & (n - 1)] = e;
        }
    }
    free(m->slots);
    m->slots = slots;
    m->nslots = n;
    return 0;
}

int hmap_insert(struct hmap *m, struct hentry *e) {
    if (m->count >= m->nslots && grow(m) < 0) return -1;
    e->hash = hmap_hash(e->key);
    struct hentry **slot = &m->slots[e->hash & (m->nslots - 1)];
    e->next = *slot;
    *slot = e;
    m->count++;
    return 0;
}

void hmap_remove(struct hmap *m, struct hentry *e) {
    struct hentry **p = &m->slots[e->hash & (m->nslots - 1)];
    while (*p && *p != e) p = &(*p)->next;
    if (*p) {
        *p = e->next;
        m->count--;
    }
}

void hmap_free(struct hmap *m) {
    free(m->slots);
    memset(m, 0, sizeof *m);
}

void hmap_each(const struct hmap *m, void (*fn)(struct hentry *e, void *arg), void *arg) {
    for (size_t i = 0; i < m->nslots; i++) {
        struct hentry *e = m->slots[i], *next;
        for (; e; e = next) {
            next = e->next;
            fn(e, arg);
        }
    }
}

static char tomb_marker;
#define PSET_TOMB ((void *)&tomb_marker)

static uint32_t pslot(const void *p, uint32_t nslots) {
    uint64_t x = (uint64_t)(uintptr_t)p;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return (uint32_t)x & (nslots - 1);
}

static int pset_resize(struct pset *s, uint32_t n) {
    void **slots = calloc(n, sizeof *slots);
    if (!slots) return -1;
    for (uint32_t i = 0; i < s->nslots; i++) {
        void *p = s->slots[i];
        if (!p || p == PSET_TOMB) continue;
        uint32_t j = pslot(p, n);
        while (slots[j]) j = (j + 1) & (n - 1);
        slots[j] = p;
    }
    free(s->slots);
    s->slots = slots;
    s->nslots = n;
    s->used = s->count;
    return 0;
}

int pset_has(const struct pset *s, const void *p) {
    if (s->nslots == 0) return 0;
    for (uint32_t j = pslot(p, s->nslots);; j = (j + 1) & (s->nslots - 1)) {
        if (s->slots[j] == NULL) return 0;
        if (s->slots[j] == p) return 1;
    }
}

int pset_add(struct pset *s, void *p) {
    if (pset_has(s, p)) return 0;
    /* Keep at least a quarter of the slots truly empty so probes end. */
    if ((s->used + 1) * 4 > s->nslots * 3 &&
        pset_resize(s, s->nslots == 0 ? 4 : (s->count * 2 + 2 > s->nslots ? s->nslots * 2 : s->nslots)) < 0)
        return -1;
    uint32_t j = pslot(p, s->nslots);
    while (s->slots[j] && s->slots[j] != PSET_TOMB) j = (j + 1) & (s->nslots - 1);
    if (s->slots[j] == NULL) s->used++;
    s->slots[j] = p;
    s->count++;
    return 1;
}

int pset_del(struct pset *s, const void *p) {
    if (s->nslots == 0) return 0;
    for (uint32_t j = pslot(p, s->nslots);; j = (j + 1) & (s->nslots - 1)) {
        if (s->slots[j] == NULL) return 0;
        if (s->slots[j] == p) {
            s->slots[j] = PSET_TOMB;
            s->count--;
            return 1;
        }
    }
}

void pset_free(struct pset *s) {
    free(s->slots);
    memset(s, 0, sizeof *s);
}

void pset_each(const struct pset *s, void (*fn)(void *p, void *arg), void *arg) {
    for (uint32_t i = 0; i < s->nslots; i++)
        if (s->slots[i] && s->slots[i] != PSET_TOMB) fn(s->slots[i], arg);
}
