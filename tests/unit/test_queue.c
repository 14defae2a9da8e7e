/* Unit tests of lib/base/queue: every job runs once, the queue's bound holds
 * (push blocks: backpressure), timeouts reject, and the concurrency limit
 * is obeyed when it changes. */
#include "queue.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static atomic_int running, peak, done_count;
static atomic_int seen[1000];
static atomic_int gate; /* jobs wait while gate is closed (0) */

static void job_fn(void *ctx, void *job)
{
	(void)ctx;
	int now = atomic_fetch_add(&running, 1) + 1;
	int p = atomic_load(&peak);
	while (now > p && !atomic_compare_exchange_weak(&peak, &p, now))
		;
	while (!atomic_load(&gate))
		usleep(1000);
	usleep(200);
	atomic_fetch_add(&seen[(long)job], 1);
	atomic_fetch_add(&done_count, 1);
	atomic_fetch_sub(&running, 1);
}

static void test_all_jobs_once(void)
{
	atomic_store(&gate, 1);
	struct vr_queue *q = vr_queue_new(8, 4, job_fn, NULL);
	CHECK(q != NULL);
	for (long i = 0; i < 1000; i++)
		CHECK(vr_queue_push(q, (void *)i, -1) == 0 || (fprintf(stderr, "push %ld\n", i), 0));
	struct vr_queue_stats s;
	vr_queue_stats(q, &s);
	CHECK(s.max_depth <= 8);
	CHECK(s.pushed == 1000);
	vr_queue_finish(q);
	int once = 1;
	for (int i = 0; i < 1000; i++)
		if (atomic_load(&seen[i]) != 1)
			once = 0;
	CHECK(once);
	CHECK(atomic_load(&done_count) == 1000);
	CHECK(atomic_load(&peak) <= 4);
}

static void test_backpressure(void)
{
	atomic_store(&gate, 0); /* jobs block until opened */
	atomic_store(&peak, 0);
	struct vr_queue *q = vr_queue_new(2, 1, job_fn, NULL);
	/* one running (blocked) + two queued fill it */
	CHECK(vr_queue_push(q, (void *)0L, -1) == 0);
	usleep(20000);
	CHECK(vr_queue_push(q, (void *)1L, -1) == 0);
	CHECK(vr_queue_push(q, (void *)2L, -1) == 0);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	CHECK(vr_queue_push(q, (void *)3L, 0.1) == -1); /* full: waits, then rejects */
	clock_gettime(CLOCK_MONOTONIC, &b);
	double waited = (double)(b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
	CHECK(waited >= 0.09);
	struct vr_queue_stats s;
	vr_queue_stats(q, &s);
	CHECK(s.rejected == 1 && s.blocked == 1);
	CHECK(s.depth == 2);
	atomic_store(&gate, 1);
	vr_queue_finish(q);
}

static void test_concurrency_limit(void)
{
	atomic_store(&gate, 0);
	atomic_store(&peak, 0);
	atomic_store(&running, 0);
	struct vr_queue *q = vr_queue_new(64, 4, job_fn, NULL);
	vr_queue_set_concurrency(q, 2);
	for (long i = 0; i < 40; i++)
		vr_queue_push(q, (void *)i, -1);
	usleep(50000);
	CHECK(atomic_load(&running) <= 2);
	atomic_store(&gate, 1);
	usleep(20000);
	vr_queue_set_concurrency(q, 1);
	vr_queue_set_concurrency(q, 99); /* clamped to the pool */
	struct vr_queue_stats s;
	vr_queue_stats(q, &s);
	CHECK(s.concurrency == 4);
	CHECK(s.concurrency_changes == 3);
	vr_queue_finish(q);
	CHECK(atomic_load(&peak) <= 4);
}

int main(void)
{
	test_all_jobs_once();
	test_backpressure();
	test_concurrency_limit();
	return check_done();
}
