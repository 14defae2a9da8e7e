#include "lru.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct node {
	struct node *chain;        /* next in the bucket */
	struct node *prev, *next;  /* recency list: head is the most recent */
	uint64_t hash, id;
	double expires;            /* 0: never */
	void *value;
	size_t keylen;
	unsigned char key[];
};

struct vr_lru {
	pthread_mutex_t mu;
	struct node **buckets;
	size_t nbuckets, size, max;
	struct node *head, *tail;
	double ttl;
	uint64_t next_id;
	vr_lru_evict_fn on_evict;
	void *ctx;
	double (*now)(void *);
	void *now_ctx;
	struct vr_lru_stats st;
};

static double mono_now(void *ctx)
{
	(void)ctx;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

uint64_t vr_hash64(const void *key, size_t n)
{
	const unsigned char *p = key;
	uint64_t h = 14695981039346656037ULL; /* the FNV offset basis */
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 1099511628211ULL;
	}
	return h;
}

struct vr_lru *vr_lru_new(size_t max_entries, double ttl, vr_lru_evict_fn on_evict, void *ctx)
{
	if (max_entries == 0)
		return NULL;
	struct vr_lru *m = calloc(1, sizeof *m);
	if (!m)
		return NULL;
	/* the table never grows: max_entries is known, keep the load under 1 */
	m->nbuckets = 16;
	while (m->nbuckets < max_entries + max_entries / 2)
		m->nbuckets <<= 1;
	m->buckets = calloc(m->nbuckets, sizeof *m->buckets);
	if (!m->buckets) {
		free(m);
		return NULL;
	}
	pthread_mutex_init(&m->mu, NULL);
	m->max = max_entries;
	m->ttl = ttl;
	m->on_evict = on_evict;
	m->ctx = ctx;
	m->now = mono_now;
	m->next_id = 1;
	return m;
}

void vr_lru_set_clock(struct vr_lru *m, double (*now)(void *), void *ctx)
{
	m->now = now ? now : mono_now;
	m->now_ctx = ctx;
}

static void list_unlink(struct vr_lru *m, struct node *n)
{
	if (n->prev)
		n->prev->next = n->next;
	else
		m->head = n->next;
	if (n->next)
		n->next->prev = n->prev;
	else
		m->tail = n->prev;
	n->prev = n->next = NULL;
}

static void list_push_front(struct vr_lru *m, struct node *n)
{
	n->prev = NULL;
	n->next = m->head;
	if (m->head)
		m->head->prev = n;
	m->head = n;
	if (!m->tail)
		m->tail = n;
}

static struct node **find_slot(struct vr_lru *m, const void *key, size_t keylen, uint64_t h)
{
	struct node **pp = &m->buckets[h & (m->nbuckets - 1)];
	for (; *pp; pp = &(*pp)->chain) {
		struct node *n = *pp;
		if (n->hash == h && n->keylen == keylen && !memcmp(n->key, key, keylen))
			return pp;
	}
	return pp;
}

/* Unlink n from its bucket and the list and free it; the value is the
 * caller's. */
static void remove_node(struct vr_lru *m, struct node **slot)
{
	struct node *n = *slot;
	*slot = n->chain;
	list_unlink(m, n);
	m->size--;
	free(n);
}

/* Evictions and expirations call back after the node is gone, with the
 * lock released, so a callback may use the map. Collected here. */
struct dropped {
	void *value;
	enum vr_lru_reason why;
	size_t keylen;
	unsigned char *key;
};

static void drop(struct vr_lru *m, struct node *n, enum vr_lru_reason why, struct dropped *d)
{
	d->value = n->value;
	d->why = why;
	d->keylen = n->keylen;
	d->key = malloc(n->keylen ? n->keylen : 1);
	if (d->key)
		memcpy(d->key, n->key, n->keylen);
	if (why == VR_LRU_EXPIRED)
		m->st.expirations++;
	else
		m->st.evictions++;
	remove_node(m, find_slot(m, n->key, n->keylen, n->hash));
}

static void fire(struct vr_lru *m, struct dropped *d, size_t nd)
{
	for (size_t i = 0; i < nd; i++) {
		if (m->on_evict)
			m->on_evict(m->ctx, d[i].key ? d[i].key : (unsigned char *)"", d[i].key ? d[i].keylen : 0,
				    d[i].value, d[i].why);
		free(d[i].key);
	}
}

void *vr_lru_get(struct vr_lru *m, const void *key, size_t keylen, uint64_t *id)
{
	struct dropped d;
	size_t nd = 0;
	void *value = NULL;
	uint64_t h = vr_hash64(key, keylen);
	pthread_mutex_lock(&m->mu);
	struct node **slot = find_slot(m, key, keylen, h);
	struct node *n = *slot;
	if (n && n->expires && n->expires <= m->now(m->now_ctx)) {
		drop(m, n, VR_LRU_EXPIRED, &d);
		nd = 1;
		n = NULL;
	}
	if (n) {
		list_unlink(m, n);
		list_push_front(m, n);
		value = n->value;
		if (id)
			*id = n->id;
		m->st.hits++;
	} else {
		m->st.misses++;
	}
	pthread_mutex_unlock(&m->mu);
	fire(m, &d, nd);
	return value;
}

uint64_t vr_lru_set(struct vr_lru *m, const void *key, size_t keylen, void *value, void **old)
{
	struct dropped d[2];
	size_t nd = 0;
	uint64_t h = vr_hash64(key, keylen);
	if (old)
		*old = NULL;
	struct node *fresh = malloc(sizeof *fresh + (keylen ? keylen : 1));
	if (!fresh)
		return 0;
	memcpy(fresh->key, key, keylen);
	fresh->keylen = keylen;
	fresh->hash = h;
	fresh->value = value;
	fresh->chain = NULL;
	fresh->prev = fresh->next = NULL;
	pthread_mutex_lock(&m->mu);
	double now = m->now(m->now_ctx);
	fresh->expires = m->ttl > 0 ? now + m->ttl : 0;
	fresh->id = m->next_id++;
	struct node **slot = find_slot(m, key, keylen, h);
	if (*slot) {
		struct node *n = *slot;
		if (old)
			*old = n->value;
		m->st.replaces++;
		remove_node(m, slot);
		slot = find_slot(m, key, keylen, h);
	}
	/* make room: an expired tail goes first, as an expiration */
	if (m->size >= m->max && m->tail) {
		struct node *t = m->tail;
		drop(m, t, t->expires && t->expires <= now ? VR_LRU_EXPIRED : VR_LRU_EVICTED, &d[nd++]);
		slot = find_slot(m, key, keylen, h);
	}
	*slot = fresh;
	list_push_front(m, fresh);
	m->size++;
	m->st.inserts++;
	uint64_t id = fresh->id;
	pthread_mutex_unlock(&m->mu);
	fire(m, d, nd);
	return id;
}

int vr_lru_delete(struct vr_lru *m, const void *key, size_t keylen, uint64_t id, void **value)
{
	uint64_t h = vr_hash64(key, keylen);
	int removed = 0;
	if (value)
		*value = NULL;
	pthread_mutex_lock(&m->mu);
	struct node **slot = find_slot(m, key, keylen, h);
	if (*slot && (id == 0 || (*slot)->id == id)) {
		if (value)
			*value = (*slot)->value;
		remove_node(m, slot);
		m->st.deletes++;
		removed = 1;
	}
	pthread_mutex_unlock(&m->mu);
	return removed;
}

size_t vr_lru_expire(struct vr_lru *m)
{
	size_t count = 0;
	for (;;) {
		struct dropped d[16];
		size_t nd = 0;
		pthread_mutex_lock(&m->mu);
		double now = m->now(m->now_ctx);
		/* expiry order follows insertion, not recency: scan the list */
		for (struct node *n = m->tail, *prev; n && nd < 16; n = prev) {
			prev = n->prev;
			if (n->expires && n->expires <= now)
				drop(m, n, VR_LRU_EXPIRED, &d[nd++]);
		}
		pthread_mutex_unlock(&m->mu);
		fire(m, d, nd);
		count += nd;
		if (nd < 16)
			return count;
	}
}

void vr_lru_stats(struct vr_lru *m, struct vr_lru_stats *s)
{
	pthread_mutex_lock(&m->mu);
	*s = m->st;
	s->size = m->size;
	s->max = m->max;
	pthread_mutex_unlock(&m->mu);
}

void vr_lru_free(struct vr_lru *m, int free_values)
{
	if (!m)
		return;
	struct node *n = m->head;
	while (n) {
		struct node *next = n->next;
		if (free_values && m->on_evict)
			m->on_evict(m->ctx, n->key, n->keylen, n->value, VR_LRU_EVICTED);
		free(n);
		n = next;
	}
	pthread_mutex_destroy(&m->mu);
	free(m->buckets);
	free(m);
}
