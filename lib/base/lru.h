/* A bounded map: O(1) get, set and delete (hash table + recency list), at
 * most max entries, a time to live, LRU eviction and counters. Deleting is
 * by identity: set() returns a token, and delete() removes the entry only
 * if it is still the one that token names, so a slow request can never
 * delete a newer request's entry for the same key. The eviction callback
 * fires for evictions and expirations only, never for explicit deletes or
 * replacements. Thread-safe (one mutex). */
#ifndef VR_LRU_H
#define VR_LRU_H

#include <stddef.h>
#include <stdint.h>

enum vr_lru_reason { VR_LRU_EVICTED = 1, VR_LRU_EXPIRED = 2 };

typedef void (*vr_lru_evict_fn)(void *ctx, const void *key, size_t keylen, void *value,
				enum vr_lru_reason why);

struct vr_lru_stats {
	uint64_t hits, misses, inserts, replaces, deletes, evictions, expirations;
	size_t size, max;
};

struct vr_lru;

/* ttl <= 0: entries do not expire. on_evict may be NULL. NULL on error. */
struct vr_lru *vr_lru_new(size_t max_entries, double ttl, vr_lru_evict_fn on_evict, void *ctx);
/* Frees the map; values still in it are handed to on_evict as EVICTED
 * when free_values is set, else left to the caller. */
void vr_lru_free(struct vr_lru *m, int free_values);

/* The value for key, or NULL (a miss; an expired entry is removed and
 * reported). A hit makes the entry the most recent. With id non-NULL, the
 * entry's identity is stored there. */
void *vr_lru_get(struct vr_lru *m, const void *key, size_t keylen, uint64_t *id);

/* Insert or replace. Returns the new entry's identity (never 0), or 0 when
 * out of memory. A replaced value is returned through *old (else NULL) —
 * the callback does not fire for it. May evict the least recent entry. */
uint64_t vr_lru_set(struct vr_lru *m, const void *key, size_t keylen, void *value, void **old);

/* Remove the entry for key if its identity is id (id 0: whatever entry).
 * Returns the removed value through *value; 1 if removed, 0 if not (gone,
 * or replaced by a newer entry). */
int vr_lru_delete(struct vr_lru *m, const void *key, size_t keylen, uint64_t id, void **value);

/* Drop expired entries now (get and set do it lazily); returns how many. */
size_t vr_lru_expire(struct vr_lru *m);

void vr_lru_stats(struct vr_lru *m, struct vr_lru_stats *s);

/* For tests: a clock in seconds instead of CLOCK_MONOTONIC. */
void vr_lru_set_clock(struct vr_lru *m, double (*now)(void *), void *ctx);

/* FNV-1a, 64-bit, of n bytes: the one hash of the tree (the map's buckets,
 * warm's --shard); stable across runs and machines, which --shard needs. */
uint64_t vr_hash64(const void *p, size_t n);

#endif
