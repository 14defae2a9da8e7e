/* A bounded job queue served by a pool of worker threads.
 *
 * push() blocks while the queue is full, so a fast producer (a reader of a
 * million-line job list) is held back instead of filling memory: that is
 * the backpressure. The number of jobs running at once can be changed at
 * any time between 1 and the pool size (a controller lowers it under
 * memory pressure); workers above the limit finish their job and wait.
 *
 * Contract: one mutex guards the queue: push, set_concurrency and stats
 * from any thread; fn runs on the worker threads with ctx and the job
 * (pointers handed over as they are, never copied or freed here).
 * vr_queue_finish once, from the producer, after its last push. */
#ifndef VR_QUEUE_H
#define VR_QUEUE_H

#include <stddef.h>
#include <stdint.h>

typedef void (*vr_job_fn)(void *ctx, void *job);

struct vr_queue_stats {
	size_t depth, max_depth, capacity;
	uint64_t pushed, completed, rejected, blocked;
	int concurrency, workers, running;
	uint64_t concurrency_changes;
};

struct vr_queue;

/* capacity >= 1 jobs waiting, workers >= 1 threads; NULL on error. */
struct vr_queue *vr_queue_new(size_t capacity, int workers, vr_job_fn fn, void *ctx);

/* Queue a job, waiting while the queue is full: up to timeout seconds
 * (< 0: forever). 0 on success; -1 when it timed out (counted as a
 * rejection) or the queue is finished. */
int vr_queue_push(struct vr_queue *q, void *job, double timeout);

/* How many jobs may run at once (clamped to 1..workers). */
void vr_queue_set_concurrency(struct vr_queue *q, int n);

void vr_queue_stats(struct vr_queue *q, struct vr_queue_stats *s);

/* No more jobs: wait until every queued job has run, stop the workers and
 * free the queue. */
void vr_queue_finish(struct vr_queue *q);

#endif
