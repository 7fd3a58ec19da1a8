/* hmap.h - two small hash tables for the push daemon's index:
 *
 * - hmap: string key -> intrusive entry (chained), for PHID -> subscribers
 *   and name -> instance. The entry lives inside the caller's struct.
 * - pset: a set of pointers (open addressing), for the subscriptions of
 *   one listener, so "is this listener subscribed?" is O(1). */
#ifndef APH_HMAP_H
#define APH_HMAP_H

#include <stddef.h>
#include <stdint.h>

struct hentry {
    struct hentry *next;
    uint64_t hash;
    const char *key;        /* owned by the struct the entry is part of */
};

struct hmap {
    struct hentry **slots;
    size_t nslots;          /* a power of two, or 0 before the first insert */
    size_t count;
};

uint64_t hmap_hash(const char *key);
struct hentry *hmap_find(const struct hmap *m, const char *key);
/* hmap_find with the key's hmap_hash already known (kept beside the key). */
struct hentry *hmap_find_hashed(const struct hmap *m, const char *key, uint64_t hash);
/* Inserts e (whose key is set and not present). Returns 0, -1 on no memory. */
int hmap_insert(struct hmap *m, struct hentry *e);
void hmap_remove(struct hmap *m, struct hentry *e);
void hmap_free(struct hmap *m);
/* Calls fn on every entry; fn may not insert or remove. */
void hmap_each(const struct hmap *m, void (*fn)(struct hentry *e, void *arg), void *arg);

struct pset {
    void **slots;           /* NULL = empty, PSET_TOMB = removed */
    uint32_t nslots, count, used;
};

int pset_add(struct pset *s, void *p);       /* 1 added, 0 already there, -1 no memory */
int pset_has(const struct pset *s, const void *p);
int pset_del(struct pset *s, const void *p); /* 1 removed, 0 absent */
void pset_free(struct pset *s);
void pset_each(const struct pset *s, void (*fn)(void *p, void *arg), void *arg);

#endif
