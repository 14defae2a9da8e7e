/* vr-cache warm: pre-warm the cache from a job list.
 *
 * One job per line (see jobline.h), read from FILE or stdin by a reader
 * that blocks while the bounded queue is full, so only the queued jobs are
 * ever in memory; worker threads, each with its own vr_cache, run them
 * with a concurrency that adapts to memory pressure and failures
 * (pressure.h). Duplicates in flight are coalesced through a bounded
 * in-process map, fresh entries are skipped as hits without opening them,
 * --shard K/N keeps the jobs whose key hashes to shard K of N. A failing
 * job never stops the batch: the exit status is 0 when every job
 * succeeded, 1 when some failed or were malformed, 2 on a usage error.
 *
 * Metrics: one JSON line per job (written by the worker with a single
 * write() on an O_APPEND descriptor, so lines never interleave) and the
 * batch line through lib/base/metrics, to --metrics FILE or $VR_METRICS.
 *
 * Contract: one batch per process (its state is static), run from the main
 * thread; its workers each own a vr_cache (a store connection) and a
 * monitor thread steers the concurrency. cfg and the options are shared
 * read-only. */
#ifndef VR_WARM_H
#define VR_WARM_H

#include <stddef.h>
#include <stdint.h>

#include "cache.h"

#define VR_WARM_MAX_WORKERS 256

/* The options of a batch, checked and resolved by the caller (vr-cache
 * warm's option table). */
struct vr_warm_opts {
	const char *file;        /* the job list; NULL or "-": stdin */
	int min_jobs, max_jobs;  /* 1 <= min_jobs <= max_jobs <= VR_WARM_MAX_WORKERS */
	size_t queue;            /* jobs read ahead of the workers, >= 1 */
	uint64_t memory_limit;   /* bytes of RSS the concurrency steers under */
	double job_timeout;      /* seconds, > 0 */
	unsigned shard_k, shard_n; /* 1 <= K <= N */
	int dry_run;             /* print the keys of this shard's jobs, warm nothing */
	int json;                /* the summary as one JSON object on stdout */
	int progress;            /* draw the progress bar on stderr */
};

/* Run a batch. The caller has set up logging, lifecycle and the metrics
 * line (lib/base/metrics: its path also receives the per-job lines); base
 * carries the store, config and limits. Returns the exit status. */
int vr_warm_run(const struct vr_warm_opts *o, const struct vr_cache_opts *base);

/* "K/N" with 1 <= K <= N <= 1000000: 0, or -1 on anything else. */
int vr_warm_parse_shard(const char *s, unsigned *k, unsigned *n);

/* The 0-based shard of N that a key falls in. */
unsigned vr_warm_shard_of(const char *key, size_t len, unsigned n);

#endif
