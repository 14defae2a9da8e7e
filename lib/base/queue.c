#include "queue.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct vr_queue {
	pthread_mutex_t mu;
	pthread_cond_t not_empty, not_full, may_run;
	void **ring;
	size_t cap, head, depth;
	int closing;
	int concurrency, running, nworkers;
	pthread_t *threads;
	vr_job_fn fn;
	void *ctx;
	struct vr_queue_stats st;
};

static void *worker(void *arg)
{
	struct vr_queue *q = arg;
	pthread_mutex_lock(&q->mu);
	for (;;) {
		while (!q->closing && (q->depth == 0 || q->running >= q->concurrency))
			pthread_cond_wait(q->depth == 0 ? &q->not_empty : &q->may_run, &q->mu);
		if (q->depth == 0 && q->closing)
			break;
		if (q->running >= q->concurrency) {
			/* closing with jobs left but no slot: wait for one */
			pthread_cond_wait(&q->may_run, &q->mu);
			continue;
		}
		void *job = q->ring[q->head];
		q->head = (q->head + 1) % q->cap;
		q->depth--;
		q->running++;
		pthread_cond_signal(&q->not_full);
		pthread_mutex_unlock(&q->mu);
		q->fn(q->ctx, job);
		pthread_mutex_lock(&q->mu);
		q->running--;
		q->st.completed++;
		pthread_cond_broadcast(&q->may_run);
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

struct vr_queue *vr_queue_new(size_t capacity, int workers, vr_job_fn fn, void *ctx)
{
	if (capacity < 1 || workers < 1)
		return NULL;
	struct vr_queue *q = calloc(1, sizeof *q);
	if (!q)
		return NULL;
	q->ring = calloc(capacity, sizeof *q->ring);
	q->threads = calloc((size_t)workers, sizeof *q->threads);
	if (!q->ring || !q->threads) {
		free(q->ring);
		free(q->threads);
		free(q);
		return NULL;
	}
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->not_empty, NULL);
	pthread_cond_init(&q->not_full, NULL);
	pthread_cond_init(&q->may_run, NULL);
	q->cap = capacity;
	q->fn = fn;
	q->ctx = ctx;
	q->concurrency = workers;
	q->st.capacity = capacity;
	for (int i = 0; i < workers; i++) {
		if (pthread_create(&q->threads[i], NULL, worker, q) != 0)
			break;
		q->nworkers++;
	}
	if (q->nworkers == 0) {
		free(q->ring);
		free(q->threads);
		free(q);
		return NULL;
	}
	q->concurrency = q->nworkers;
	return q;
}

int vr_queue_push(struct vr_queue *q, void *job, double timeout)
{
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	if (timeout >= 0) {
		deadline.tv_sec += (time_t)timeout;
		deadline.tv_nsec += (long)((timeout - (double)(time_t)timeout) * 1e9);
		if (deadline.tv_nsec >= 1000000000L) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000L;
		}
	}
	pthread_mutex_lock(&q->mu);
	if (q->depth == q->cap && !q->closing)
		q->st.blocked++;
	while (q->depth == q->cap && !q->closing) {
		if (timeout < 0) {
			pthread_cond_wait(&q->not_full, &q->mu);
		} else if (pthread_cond_timedwait(&q->not_full, &q->mu, &deadline) == ETIMEDOUT) {
			q->st.rejected++;
			pthread_mutex_unlock(&q->mu);
			return -1;
		}
	}
	if (q->closing) {
		q->st.rejected++;
		pthread_mutex_unlock(&q->mu);
		return -1;
	}
	q->ring[(q->head + q->depth) % q->cap] = job;
	q->depth++;
	q->st.pushed++;
	if (q->depth > q->st.max_depth)
		q->st.max_depth = q->depth;
	pthread_cond_signal(&q->not_empty);
	pthread_mutex_unlock(&q->mu);
	return 0;
}

void vr_queue_set_concurrency(struct vr_queue *q, int n)
{
	pthread_mutex_lock(&q->mu);
	if (n < 1)
		n = 1;
	if (n > q->nworkers)
		n = q->nworkers;
	if (n != q->concurrency) {
		q->concurrency = n;
		q->st.concurrency_changes++;
		pthread_cond_broadcast(&q->may_run);
	}
	pthread_mutex_unlock(&q->mu);
}

void vr_queue_stats(struct vr_queue *q, struct vr_queue_stats *s)
{
	pthread_mutex_lock(&q->mu);
	*s = q->st;
	s->depth = q->depth;
	s->concurrency = q->concurrency;
	s->workers = q->nworkers;
	s->running = q->running;
	pthread_mutex_unlock(&q->mu);
}

void vr_queue_finish(struct vr_queue *q)
{
	pthread_mutex_lock(&q->mu);
	q->closing = 1;
	pthread_cond_broadcast(&q->not_empty);
	pthread_cond_broadcast(&q->not_full);
	pthread_cond_broadcast(&q->may_run);
	pthread_mutex_unlock(&q->mu);
	for (int i = 0; i < q->nworkers; i++)
		pthread_join(q->threads[i], NULL);
	pthread_cond_destroy(&q->not_empty);
	pthread_cond_destroy(&q->not_full);
	pthread_cond_destroy(&q->may_run);
	pthread_mutex_destroy(&q->mu);
	free(q->ring);
	free(q->threads);
	free(q);
}
