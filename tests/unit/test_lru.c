/* Unit tests of lib/base/lru: bounds, LRU order, TTL, identity delete, the
 * eviction callback's rules, counters, and concurrent use. */
#include "lru.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static double fake_time;
static double fake_now(void *ctx) { (void)ctx; return fake_time; }

static int evicted, expired;
static char last_key[64];
static void on_evict(void *ctx, const void *key, size_t keylen, void *value, enum vr_lru_reason why)
{
	(void)ctx;
	(void)value;
	if (why == VR_LRU_EVICTED)
		evicted++;
	else
		expired++;
	snprintf(last_key, sizeof last_key, "%.*s", (int)keylen, (const char *)key);
}

#define K(s) (s), strlen(s)

static void test_bounds_and_order(void)
{
	evicted = expired = 0;
	struct vr_lru *m = vr_lru_new(3, 0, on_evict, NULL);
	CHECK(m != NULL);
	int a = 1, b = 2, c = 3, d = 4;
	CHECK(vr_lru_set(m, K("a"), &a, NULL) != 0);
	vr_lru_set(m, K("b"), &b, NULL);
	vr_lru_set(m, K("c"), &c, NULL);
	CHECK(vr_lru_get(m, K("a"), NULL) == &a); /* a becomes most recent */
	vr_lru_set(m, K("d"), &d, NULL);          /* evicts b, the least recent */
	CHECK(evicted == 1);
	CHECK(!strcmp(last_key, "b"));
	CHECK(vr_lru_get(m, K("b"), NULL) == NULL);
	CHECK(vr_lru_get(m, K("c"), NULL) == &c);
	CHECK(vr_lru_get(m, K("d"), NULL) == &d);
	struct vr_lru_stats s;
	vr_lru_stats(m, &s);
	CHECK(s.size == 3 && s.max == 3);
	CHECK(s.evictions == 1);
	CHECK(s.hits == 3 && s.misses == 1);
	CHECK(s.inserts == 4);
	/* many more inserts never exceed the bound */
	char key[16];
	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof key, "k%d", i);
		vr_lru_set(m, K(key), &a, NULL);
	}
	vr_lru_stats(m, &s);
	CHECK(s.size == 3);
	CHECK(s.evictions == 1 + 1000);
	vr_lru_free(m, 0);
}

static void test_ttl(void)
{
	evicted = expired = 0;
	struct vr_lru *m = vr_lru_new(10, 5, on_evict, NULL);
	vr_lru_set_clock(m, fake_now, NULL);
	fake_time = 100;
	int a = 1, b = 2;
	vr_lru_set(m, K("a"), &a, NULL);
	fake_time = 103;
	vr_lru_set(m, K("b"), &b, NULL);
	CHECK(vr_lru_get(m, K("a"), NULL) == &a);
	fake_time = 105; /* a expires at 105 exactly */
	CHECK(vr_lru_get(m, K("a"), NULL) == NULL);
	CHECK(expired == 1 && evicted == 0);
	CHECK(vr_lru_get(m, K("b"), NULL) == &b);
	fake_time = 200;
	CHECK(vr_lru_expire(m) == 1);
	CHECK(expired == 2);
	struct vr_lru_stats s;
	vr_lru_stats(m, &s);
	CHECK(s.size == 0 && s.expirations == 2);
	vr_lru_free(m, 0);
}

static void test_identity_delete(void)
{
	evicted = expired = 0;
	struct vr_lru *m = vr_lru_new(10, 0, on_evict, NULL);
	int old = 1, newer = 2;
	void *prev = &old;
	uint64_t id1 = vr_lru_set(m, K("k"), &old, &prev);
	CHECK(prev == NULL);
	uint64_t id2 = vr_lru_set(m, K("k"), &newer, &prev); /* a newer request */
	CHECK(prev == &old);
	CHECK(id1 != id2);
	void *v = NULL;
	/* the slow first request finishes: it must not delete the newer entry */
	CHECK(vr_lru_delete(m, K("k"), id1, &v) == 0);
	CHECK(vr_lru_get(m, K("k"), NULL) == &newer);
	uint64_t got = 0;
	vr_lru_get(m, K("k"), &got);
	CHECK(got == id2);
	CHECK(vr_lru_delete(m, K("k"), id2, &v) == 1);
	CHECK(v == &newer);
	CHECK(vr_lru_get(m, K("k"), NULL) == NULL);
	/* neither replacement nor delete fired the callback */
	CHECK(evicted == 0 && expired == 0);
	CHECK(vr_lru_delete(m, K("nothing"), 0, NULL) == 0);
	/* id 0 deletes whatever is there */
	vr_lru_set(m, K("z"), &old, NULL);
	CHECK(vr_lru_delete(m, K("z"), 0, NULL) == 1);
	struct vr_lru_stats s;
	vr_lru_stats(m, &s);
	CHECK(s.deletes == 2 && s.replaces == 1);
	vr_lru_free(m, 0);
}

static void test_binary_keys(void)
{
	struct vr_lru *m = vr_lru_new(4, 0, NULL, NULL);
	int a = 1, b = 2, e = 3;
	vr_lru_set(m, "a\0b", 3, &a, NULL);
	vr_lru_set(m, "a\0c", 3, &b, NULL);
	vr_lru_set(m, "", 0, &e, NULL);
	CHECK(vr_lru_get(m, "a\0b", 3, NULL) == &a);
	CHECK(vr_lru_get(m, "a\0c", 3, NULL) == &b);
	CHECK(vr_lru_get(m, "a", 1, NULL) == NULL);
	CHECK(vr_lru_get(m, "", 0, NULL) == &e);
	vr_lru_free(m, 0);
}

static int freed;
static void free_value(void *ctx, const void *key, size_t keylen, void *value, enum vr_lru_reason why)
{
	(void)ctx; (void)key; (void)keylen; (void)why;
	free(value);
	freed++;
}

static void test_free_values(void)
{
	struct vr_lru *m = vr_lru_new(2, 0, free_value, NULL);
	for (int i = 0; i < 5; i++) {
		char key[16];
		snprintf(key, sizeof key, "%d", i);
		vr_lru_set(m, K(key), malloc(16), NULL);
	}
	CHECK(freed == 3);
	vr_lru_free(m, 1);
	CHECK(freed == 5);
}

static struct vr_lru *shared;
static void *hammer(void *arg)
{
	long t = (long)arg;
	char key[32];
	for (int i = 0; i < 20000; i++) {
		snprintf(key, sizeof key, "t%ld-%d", t, i % 300);
		uint64_t id = vr_lru_set(shared, K(key), &shared, NULL);
		vr_lru_get(shared, K(key), NULL);
		if (i % 3 == 0)
			vr_lru_delete(shared, K(key), id, NULL);
	}
	return NULL;
}

static void test_threads(void)
{
	shared = vr_lru_new(100, 0, NULL, NULL);
	pthread_t th[4];
	for (long i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, hammer, (void *)i);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	struct vr_lru_stats s;
	vr_lru_stats(shared, &s);
	CHECK(s.size <= 100);
	CHECK(s.inserts == 80000);
	vr_lru_free(shared, 0);
}

int main(void)
{
	test_bounds_and_order();
	test_ttl();
	test_identity_delete();
	test_binary_keys();
	test_free_values();
	test_threads();
	return check_done();
}
