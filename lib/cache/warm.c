/* vr-cache warm: see warm.h. The reader (the calling thread) parses lines,
 * computes keys, filters the shard and coalesces duplicates; workers run
 * the jobs; a monitor thread samples memory, steers the concurrency and
 * draws the progress bar. */
#include "warm.h"
#include "io.h"
#include "jobline.h"
#include "json.h"
#include "lifecycle.h"
#include "log.h"
#include "lru.h"
#include "metrics.h"
#include "num.h"
#include "pressure.h"
#include "progress.h"
#include "queue.h"
#include "status.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RECENT 20             /* jobs in the failure-rate window */
#define TICK_MS 100           /* monitor period */
#define MAX_WORKERS VR_WARM_MAX_WORKERS

unsigned vr_warm_shard_of(const char *key, size_t len, unsigned n)
{
	return n ? (unsigned)(vr_hash64(key, len) % n) : 0;
}

int vr_warm_parse_shard(const char *s, unsigned *k, unsigned *n)
{
	const char *slash = s ? strchr(s, '/') : NULL;
	char a[24];
	uint64_t kk, nn;
	if (!slash || (size_t)(slash - s) >= sizeof a)
		return -1;
	memcpy(a, s, (size_t)(slash - s));
	a[slash - s] = '\0';
	if (vr_parse_u64(a, &kk) < 0 || vr_parse_u64(slash + 1, &nn) < 0 || nn < 1 ||
	    nn > 1000000 || kk < 1 || kk > nn)
		return -1;
	*k = (unsigned)kk;
	*n = (unsigned)nn;
	return 0;
}

/* ------------------------------------------------------------------ state */

struct warm_job {
	uint64_t line;
	uint64_t lru_id;
	int use_params;
	struct vr_params params;
	char *source;
	size_t keylen;
	char key[];
};

struct warm {
	/* options */
	int min_jobs, max_jobs;
	size_t queue_cap;
	uint64_t memory_limit;
	double job_timeout;
	unsigned shard_k, shard_n;
	int progress, json, dry_run;
	const char *file;
	struct vr_cache_opts copts;

	struct vr_queue *q;
	struct vr_lru *inflight;
	int metrics_fd;
	double t0;

	pthread_mutex_t mu;    /* counters, recent window, caches, stderr */
	uint64_t lines, hits, misses, coalesced, skipped, failed, malformed, cancelled;
	uint64_t remembered; /* of failed: a remembered failure answered at once */
	uint64_t bytes, total;
	unsigned char recent[RECENT];
	unsigned nrecent, recent_pos;
	struct vr_cache *caches[MAX_WORKERS];
	int ncaches;
	int bar_drawn;

	/* monitor */
	pthread_t mon;
	pthread_mutex_t mon_mu;
	pthread_cond_t mon_cv;
	int mon_stop, mon_started;
	struct vr_pressure_config pc;
	struct vr_pressure_state ps;
	int conc_min, conc_max;
	uint64_t ups, downs;
	uint64_t rss_peak_statm;
};

static const char marker = 1; /* the in-flight map's value: presence is all */

/* A message on stderr that does not collide with the progress bar. */
__attribute__((format(printf, 2, 3))) static void say(struct warm *w, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&w->mu);
	if (w->bar_drawn) {
		vr_progress_clear(STDERR_FILENO);
		w->bar_drawn = 0;
	}
	fprintf(stderr, "%s: %s\n", vr_prog(), msg);
	pthread_mutex_unlock(&w->mu);
}

/* Untrusted text (a source from the list) made safe for one log line. */
static const char *shown(const char *s, char *buf, size_t cap)
{
	size_t i = 0;
	for (; s[i] && i + 4 < cap && i < 200; i++)
		buf[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
	if (s[i])
		memcpy(buf + i, "...", 4);
	else
		buf[i] = '\0';
	return buf;
}

/* ---------------------------------------------------------------- metrics */

static void metrics_line(struct warm *w, struct vr_json *j)
{
	if (w->metrics_fd < 0)
		return;
	vr_json_end(j);
	if (j->len + 1 >= sizeof j->buf)
		return;
	j->buf[j->len++] = '\n';
	/* one write on an O_APPEND descriptor: lines of concurrent workers
	 * (and of other processes) never interleave */
	ssize_t n;
	do
		n = write(w->metrics_fd, j->buf, j->len);
	while (n < 0 && errno == EINTR);
}

static void job_metrics(struct warm *w, uint64_t line, const char *key, const char *source,
			const char *result, const struct vr_cache_outcome *o, double wall_ms,
			int fresh, const char *error)
{
	if (w->metrics_fd < 0)
		return;
	struct vr_json j;
	struct vr_queue_stats qs = {0};
	struct vr_lru_stats ls = {0};
	if (w->q)
		vr_queue_stats(w->q, &qs);
	vr_lru_stats(w->inflight, &ls);
	vr_json_begin(&j);
	vr_json_str(&j, "program", "vr-cache");
	vr_json_str(&j, "command", "warm");
	vr_json_str(&j, "type", "job");
	vr_json_uint(&j, "line", line);
	vr_json_str(&j, "key", key);
	vr_json_str(&j, "source", source);
	vr_json_str(&j, "result", result);
	vr_json_int(&j, "status", o ? o->status : error ? VR_EFAIL : 0);
	vr_json_int(&j, "fresh", fresh);
	vr_json_uint(&j, "bytes_in", o ? o->bytes_in : 0);
	vr_json_uint(&j, "bytes_out", o ? o->bytes_out : 0);
	vr_json_uint(&j, "bytes_stored", o ? o->bytes_stored : 0);
	vr_json_int(&j, "wall_ms", (int64_t)wall_ms);
	vr_json_int(&j, "ttfb_ms", o ? (int64_t)o->ttfb_ms : 0);
	vr_json_int(&j, "transform_ms", o ? (int64_t)o->transform_ms : 0);
	vr_json_int(&j, "store_ms", o ? (int64_t)o->store_ms : 0);
	vr_json_int(&j, "transformed", o ? o->transformed : 0);
	vr_json_int(&j, "fallback", o ? o->fallback : 0); /* the original was served */
	vr_json_int(&j, "peak_rss_kb", vr_peak_rss_kb());
	vr_json_uint(&j, "rss_kb", vr_rss_kb());
	vr_json_uint(&j, "queue_depth", qs.depth);
	vr_json_int(&j, "concurrency", qs.concurrency);
	vr_json_uint(&j, "inflight", ls.size);
	vr_json_uint(&j, "inflight_evictions", ls.evictions);
	struct vr_lru_stats ns = {0};
	vr_cache_negative_stats(&ns);
	vr_json_uint(&j, "negative", ns.size);
	vr_json_uint(&j, "negative_evictions", ns.evictions);
	vr_json_int(&j, "open_streams", vr_streams_open());
	if (error && *error)
		vr_json_str(&j, "error", error);
	metrics_line(w, &j);
}

/* ---------------------------------------------------------------- workers */

static _Thread_local struct vr_cache *tl_cache;

static void record(struct warm *w, int ok)
{
	/* under w->mu */
	w->recent[w->recent_pos] = (unsigned char)!ok;
	w->recent_pos = (w->recent_pos + 1) % RECENT;
	if (w->nrecent < RECENT)
		w->nrecent++;
}

static void run_job(void *ctx, void *arg)
{
	struct warm *w = ctx;
	struct warm_job *job = arg;
	char err[512] = "", tmp[256];
	double t = vr_now_ms();

	if (vr_stop_requested()) {
		pthread_mutex_lock(&w->mu);
		w->cancelled++;
		w->failed++;
		pthread_mutex_unlock(&w->mu);
		job_metrics(w, job->line, job->key, job->source, "cancelled", NULL, 0, 0,
			    "stopped by a signal");
		goto done;
	}
	if (!tl_cache) {
		struct vr_cache *c = NULL;
		if (vr_cache_open(&c, &w->copts, err, sizeof err) != 0 || !c) {
			say(w, "line %" PRIu64 ": %s: %s", job->line,
			    shown(job->source, tmp, sizeof tmp), err[0] ? err : "cannot open the cache");
			pthread_mutex_lock(&w->mu);
			w->failed++;
			record(w, 0);
			pthread_mutex_unlock(&w->mu);
			job_metrics(w, job->line, job->key, job->source, "error", NULL,
				    vr_now_ms() - t, 0, err);
			goto done;
		}
		pthread_mutex_lock(&w->mu);
		if (w->ncaches < MAX_WORKERS) {
			w->caches[w->ncaches++] = c;
			tl_cache = c;
		}
		pthread_mutex_unlock(&w->mu);
		if (!tl_cache) { /* cannot happen: at most MAX_WORKERS threads */
			vr_cache_close(c);
			goto done;
		}
	}

	struct vr_cache_request req = {
		.source = job->source,
		.params = job->use_params ? &job->params : NULL,
		.out_fd = -1,
	};
	static _Thread_local struct vr_cache_outcome out;
	memset(&out, 0, sizeof out);
	int fresh = 0, ok;
	const char *result;
	if (!w->copts.bypass && !w->copts.no_store && vr_cache_fresh(tl_cache, &req) == 1) {
		/* a hit, answered without opening the entry */
		fresh = 1;
		ok = 1;
		result = "hit";
		out.result = VR_CACHE_HIT;
		snprintf(out.key, sizeof out.key, "%s", job->key);
	} else {
		vr_cache_get(tl_cache, &req, &out);
		ok = out.status == VR_OK && out.result != VR_CACHE_ERROR &&
		     out.result != VR_CACHE_NEGATIVE;
		result = vr_cache_result_name(out.result);
		if (!ok && !out.error[0])
			snprintf(out.error, sizeof out.error, "failed (exit status %d)", out.status);
	}
	if (!ok && strstr(out.error, job->source))
		say(w, "line %" PRIu64 ": %s", job->line, out.error);
	else if (!ok)
		say(w, "line %" PRIu64 ": %s: %s", job->line, shown(job->source, tmp, sizeof tmp),
		    out.error);
	else if (vr_log_verbosity() >= VR_DEBUG)
		say(w, "debug: line %" PRIu64 ": %s: %s", job->line,
		    shown(job->source, tmp, sizeof tmp), result);

	pthread_mutex_lock(&w->mu);
	if (!ok && out.result == VR_CACHE_NEGATIVE)
		w->remembered++;
	if (!ok)
		w->failed++;
	else if (out.result == VR_CACHE_HIT)
		w->hits++;
	else if (out.result == VR_CACHE_COALESCED)
		w->coalesced++;
	else
		w->misses++;
	w->bytes += out.bytes_stored ? out.bytes_stored : out.bytes_out;
	record(w, ok);
	pthread_mutex_unlock(&w->mu);
	job_metrics(w, job->line, out.key[0] ? out.key : job->key, job->source, result, &out,
		    vr_now_ms() - t, fresh, ok ? NULL : out.error);
done:
	/* by identity: a newer entry for the same key is left alone */
	vr_lru_delete(w->inflight, job->key, job->keylen, job->lru_id, NULL);
	free(job->source);
	free(job);
}

/* ---------------------------------------------------------------- monitor */

static void progress_counts(struct warm *w, struct vr_progress *p)
{
	/* under w->mu */
	p->done = w->hits + w->misses + w->coalesced + w->failed + w->skipped;
	p->total = w->total;
	if (p->total && p->done > p->total)
		p->total = p->done;
	/* the summary's categories, each job in one */
	p->hits = w->hits;
	p->coalesced = w->coalesced;
	p->misses = w->misses;
	p->failed = w->failed;
	p->bytes = w->bytes;
	p->elapsed_s = (vr_now_ms() - w->t0) / 1000.0;
}

static void monitor_tick(struct warm *w, int draw)
{
	struct vr_pressure_sample s;
	memset(&s, 0, sizeof s);
	vr_pressure_sample_read(&s);
	s.now = vr_now_ms() / 1000.0;
	if (s.rss_kb > w->rss_peak_statm)
		w->rss_peak_statm = s.rss_kb;
	pthread_mutex_lock(&w->mu);
	s.recent_jobs = w->nrecent;
	for (unsigned i = 0; i < w->nrecent; i++)
		s.recent_failed += w->recent[i];
	pthread_mutex_unlock(&w->mu);

	int before = w->ps.concurrency;
	enum vr_pressure_reason why;
	int now = vr_pressure_decide(&w->pc, &w->ps, &s, &why);
	if (now != before) {
		vr_queue_set_concurrency(w->q, now);
		if (now > before)
			w->ups++;
		else
			w->downs++;
		if (now < w->conc_min)
			w->conc_min = now;
		if (now > w->conc_max)
			w->conc_max = now;
		if (vr_log_verbosity() >= VR_VERBOSE)
			say(w, "concurrency %d -> %d (%s: rss %" PRIu64 " KiB of %" PRIu64
			       " KiB, MemAvailable %" PRIu64 " of %" PRIu64 " KiB, %u of %u recent jobs failed)",
			    before, now, vr_pressure_reason_name(why), s.rss_kb,
			    w->memory_limit / 1024, s.mem_available_kb, s.mem_total_kb,
			    s.recent_failed, s.recent_jobs);
	}
	if (draw) {
		struct vr_progress p;
		pthread_mutex_lock(&w->mu);
		progress_counts(w, &p);
		p.concurrency = now;
		vr_progress_draw(STDERR_FILENO, &p);
		w->bar_drawn = 1;
		pthread_mutex_unlock(&w->mu);
	}
}

static void *monitor(void *arg)
{
	struct warm *w = arg;
	unsigned tick = 0;
	pthread_mutex_lock(&w->mon_mu);
	while (!w->mon_stop) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += TICK_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&w->mon_cv, &w->mon_mu, &ts);
		if (w->mon_stop)
			break;
		pthread_mutex_unlock(&w->mon_mu);
		monitor_tick(w, w->progress && (tick++ % 2) == 0);
		pthread_mutex_lock(&w->mon_mu);
	}
	pthread_mutex_unlock(&w->mon_mu);
	return NULL;
}

/* ----------------------------------------------------------------- reader */

struct lines {
	int fd;
	char *buf;
	size_t cap, start, end;
	int eof;
};

/* The next line (without its newline) in line and len: 1; 0 at the end; -1
 * on a read error or a stop signal. A line longer than the buffer is
 * consumed to its newline and returned empty with *overlong set. */
static int next_line(struct lines *r, char **line, size_t *len, int *overlong)
{
	*overlong = 0;
	for (;;) {
		char *nl = r->end > r->start ? memchr(r->buf + r->start, '\n', r->end - r->start)
					     : NULL;
		if (nl) {
			*line = r->buf + r->start;
			*len = (size_t)(nl - *line);
			r->start = (size_t)(nl - r->buf) + 1;
			if (*overlong)
				*len = 0;
			return 1;
		}
		if (r->eof) {
			if (r->start == r->end)
				return 0;
			*line = r->buf + r->start;
			*len = *overlong ? 0 : r->end - r->start;
			r->start = r->end;
			return 1;
		}
		if (r->start > 0) {
			memmove(r->buf, r->buf + r->start, r->end - r->start);
			r->end -= r->start;
			r->start = 0;
		}
		if (r->end == r->cap) {
			/* no newline in a full buffer: drop it, keep looking */
			*overlong = 1;
			r->start = r->end = 0;
		}
		ssize_t n = read(r->fd, r->buf + r->end, r->cap - r->end);
		if (n < 0 && errno == EINTR) {
			if (vr_stop_requested())
				return -1;
			continue;
		}
		if (n < 0)
			return -1;
		if (n == 0)
			r->eof = 1;
		r->end += (size_t)n;
	}
}

/* ---------------------------------------------------------------- summary */

static void summary(struct warm *w, const struct vr_queue_stats *qsp, int rc, double wall_ms)
{
	struct vr_queue_stats qs = *qsp;
	struct vr_lru_stats ls = {0};
	vr_lru_stats(w->inflight, &ls);
	long peak = vr_peak_rss_kb();
	uint64_t jobs = w->hits + w->misses + w->coalesced + w->failed;
	uint64_t pushed = qs.pushed + qs.rejected;

	/* alerts: a warning now and a flag in the batch line */
	const char *alerts[8];
	int na = 0;
	if (w->dry_run)
		goto report;
	if (peak > 0 && (double)peak > 0.8 * (double)(w->memory_limit / 1024)) {
		alerts[na++] = "rss";
		vr_warn("alert: peak RSS %ld KiB passed 80%% of --memory-limit (%" PRIu64 " KiB)",
			peak, w->memory_limit / 1024);
	}
	if (ls.evictions > 0) {
		alerts[na++] = "inflight_map";
		vr_warn("alert: the in-flight map ran at its bound (%zu) and evicted %" PRIu64
			" entries", ls.max, ls.evictions);
	}
	struct vr_lru_stats ns = {0};
	vr_cache_negative_stats(&ns);
	if (ns.evictions > 0) {
		alerts[na++] = "negative_map";
		vr_warn("alert: the remembered-failures map ran at its bound (%zu) and evicted %" PRIu64
			" entries", ns.max, ns.evictions);
	}
	if (pushed && qs.rejected * 20 > pushed) {
		alerts[na++] = "queue_rejections";
		vr_warn("alert: the queue rejected %" PRIu64 " of %" PRIu64 " jobs", qs.rejected,
			pushed);
	}
	if (jobs && w->failed * 20 > jobs) {
		alerts[na++] = "failures";
		vr_warn("alert: %" PRIu64 " of %" PRIu64 " jobs failed", w->failed, jobs);
	}
	if (vr_streams_open() > 0) {
		alerts[na++] = "open_streams";
		vr_warn("alert: %d streams still open at exit", vr_streams_open());
	}
report:;
	/* one shape for the batch: the --json summary and the batch metrics
	 * line carry the same names with the same types (lib/base/metrics adds
	 * wall_ms, peak_rss_kb and exit to the line; the summary adds them
	 * itself) */
	char shard[32];
	snprintf(shard, sizeof shard, "%u/%u", w->shard_k, w->shard_n);
	char arr[200];
	size_t ao = 0;
	arr[ao++] = '[';
	for (int i = 0; i < na; i++)
		ao += (size_t)snprintf(arr + ao, sizeof arr - ao, "%s\"%s\"", i ? "," : "", alerts[i]);
	snprintf(arr + ao, sizeof arr - ao, "]");
	const struct {
		const char *name;
		int64_t v;
	} f[] = {
		{"lines", (int64_t)w->lines},
		{"jobs", (int64_t)jobs},
		{"hits", (int64_t)w->hits},
		{"misses", (int64_t)w->misses},
		{"coalesced", (int64_t)w->coalesced},
		{"skipped", (int64_t)w->skipped},
		{"failed", (int64_t)w->failed},
		{"malformed", (int64_t)w->malformed},
		{"remembered", (int64_t)w->remembered},
		{"bytes", (int64_t)w->bytes},
		{"queue_capacity", (int64_t)qs.capacity},
		{"queue_max_depth", (int64_t)qs.max_depth},
		{"queue_rejections", (int64_t)qs.rejected},
		{"queue_blocked", (int64_t)qs.blocked},
		{"concurrency_changes", (int64_t)qs.concurrency_changes},
		{"concurrency_ups", (int64_t)w->ups},
		{"concurrency_downs", (int64_t)w->downs},
		{"concurrency_min", w->conc_min},
		{"concurrency_max", w->conc_max},
		{"min_jobs", w->min_jobs},
		{"max_jobs", w->max_jobs},
		{"memory_limit_kb", (int64_t)(w->memory_limit / 1024)},
		{"inflight_max", (int64_t)ls.max},
		{"inflight_evictions", (int64_t)ls.evictions},
	};
	const size_t nf = sizeof f / sizeof f[0];

	if (!w->dry_run) {
		vr_metrics_str("command", "warm");
		vr_metrics_str("type", "batch");
		vr_metrics_str("shard", shard);
		for (size_t i = 0; i < nf; i++)
			vr_metrics_int(f[i].name, f[i].v);
		vr_metrics_raw("alerts", arr);
		vr_metrics_finish(rc);
	}

	if (w->json) {
		struct vr_json j;
		vr_json_begin(&j);
		vr_json_str(&j, "shard", shard);
		for (size_t i = 0; i < nf; i++)
			vr_json_int(&j, f[i].name, f[i].v);
		vr_json_int(&j, "wall_ms", (int64_t)wall_ms);
		vr_json_int(&j, "peak_rss_kb", peak);
		vr_json_raw(&j, "alerts", arr);
		vr_json_int(&j, "exit", rc);
		vr_json_end(&j);
		printf("%.*s\n", (int)j.len, j.buf);
		fflush(stdout);
	}
	if (vr_log_verbosity() >= VR_NORMAL && !w->dry_run) {
		char sz[32];
		fprintf(stderr,
			"%s: warm: %" PRIu64 " jobs: %" PRIu64 " hits, %" PRIu64 " misses, %" PRIu64
			" coalesced, %" PRIu64 " failed (%" PRIu64 " malformed, %" PRIu64
			" remembered), %" PRIu64
			" in other shards; %s stored in %.1f s; peak RSS %ld KiB; concurrency %d-%d, %" PRIu64
			" changes\n",
			vr_prog(), jobs, w->hits, w->misses, w->coalesced, w->failed, w->malformed,
			w->remembered, w->skipped, vr_progress_bytes(sz, sizeof sz, w->bytes), wall_ms / 1000.0,
			peak, w->conc_min, w->conc_max, (uint64_t)qs.concurrency_changes);
	}
}

/* ------------------------------------------------------------------- main */

/* The batch, in the stages vr_warm_run() calls top to bottom: set up from
 * the options, open the job list and the metrics file, start the cache,
 * the in-flight map, the workers and the pressure monitor, read the list
 * one line at a time into the bounded queue (a line: parse, key, shard,
 * dry-run, coalesce, enqueue), drain the queue, stop, summarise. */

/* The reading side's state: the job list and its buffers, the key cache. */
struct reader {
	struct lines in;
	char *words;            /* vr_jobline_parse's word buffer */
	char *key;              /* VR_CACHE_KEY_MAX */
	struct vr_cache *cache; /* keys of the reading thread */
	uint64_t lineno;
	int read_failed;
};

/* counter++ under the batch's lock */
static void bump(struct warm *w, uint64_t *counter)
{
	pthread_mutex_lock(&w->mu);
	(*counter)++;
	pthread_mutex_unlock(&w->mu);
}

/* A line's own failure (malformed, or no key): reported by the one shard
 * that the line's text hashes to, so N shards report it once. */
static int line_is_mine(struct warm *w, const char *line, size_t len)
{
	return vr_warm_shard_of(line, len, w->shard_n) == w->shard_k - 1;
}

static void warm_setup(struct warm *w, const struct vr_warm_opts *o,
		       const struct vr_cache_opts *base)
{
	memset(w, 0, sizeof *w);
	w->metrics_fd = -1;
	w->file = o->file && strcmp(o->file, "-") ? o->file : NULL;
	w->min_jobs = o->min_jobs;
	w->max_jobs = o->max_jobs;
	w->queue_cap = o->queue;
	w->memory_limit = o->memory_limit;
	w->job_timeout = o->job_timeout;
	w->shard_k = o->shard_k;
	w->shard_n = o->shard_n;
	w->dry_run = o->dry_run;
	w->json = o->json;
	w->progress = o->progress;
	w->t0 = vr_now_ms();
	pthread_mutex_init(&w->mu, NULL);
	pthread_mutex_init(&w->mon_mu, NULL);
	pthread_cond_init(&w->mon_cv, NULL);
	/* each job's stall timeout, and the longest wait on another
	 * process's transform of the same key */
	w->copts = *base;
	if (w->dry_run)
		w->copts.no_create = 1; /* a dry run writes nothing, a store neither */
	w->copts.transform_timeout = w->job_timeout;
	w->copts.job_timeout = w->job_timeout;
	if (w->copts.wait <= 0 || w->copts.wait > w->job_timeout)
		w->copts.wait = w->job_timeout;
}

/* The job list (FILE or stdin; its job count when it is a regular file)
 * and the reader's buffers: 0 or an exit status, said. */
static int open_job_list(struct warm *w, struct reader *rd)
{
	rd->in.fd = STDIN_FILENO;
	if (w->file) {
		char err[512];
		int rc = vr_open_input(w->file, &rd->in.fd, err, sizeof err);
		if (rc) {
			rd->in.fd = -1;
			vr_error("%s", err);
			return rc;
		}
	}
	struct stat st;
	if (fstat(rd->in.fd, &st) == 0 && S_ISREG(st.st_mode)) {
		off_t pos = lseek(rd->in.fd, 0, SEEK_CUR);
		vr_jobline_count(rd->in.fd, pos < 0 ? 0 : pos, &w->total);
	}
	rd->in.cap = VR_JOBLINE_MAX + 1;
	rd->in.buf = malloc(rd->in.cap);
	rd->words = malloc(VR_JOBLINE_MAX + 2);
	rd->key = malloc(VR_CACHE_KEY_MAX);
	if (!rd->in.buf || !rd->words || !rd->key) {
		vr_error("out of memory");
		return VR_EFAIL;
	}
	return 0;
}

/* The per-job lines go where the batch line goes (--metrics or
 * $VR_METRICS). */
static void open_job_metrics(struct warm *w)
{
	const char *mpath = vr_metrics_path();
	if (w->dry_run || !mpath || !*mpath)
		return;
	w->metrics_fd = open(mpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (w->metrics_fd < 0)
		vr_warn("metrics %s: cannot open: %s", mpath, strerror(errno));
}

/* The reader's cache, the in-flight map, the workers and the monitor. */
static int start_workers(struct warm *w, struct reader *rd)
{
	char err[1024];
	int rc = vr_cache_open(&rd->cache, &w->copts, err, sizeof err);
	if (rc || !rd->cache) {
		vr_error("%s", err);
		return rc ? rc : VR_EFAIL;
	}
	/* in flight: at most the queue plus the running jobs; an eviction
	 * means the bound was wrong, and is an alert */
	w->inflight = vr_lru_new(w->queue_cap + (size_t)w->max_jobs + 1, w->job_timeout, NULL, NULL);
	w->q = w->dry_run ? NULL : vr_queue_new(w->queue_cap, w->max_jobs, run_job, w);
	if (!w->inflight || (!w->dry_run && !w->q)) {
		vr_error("cannot start %d workers", w->max_jobs);
		return VR_EFAIL;
	}
	vr_pressure_config_default(&w->pc, w->min_jobs, w->max_jobs, w->memory_limit / 1024);
	vr_pressure_state_init(&w->ps, &w->pc, w->max_jobs);
	w->conc_min = w->conc_max = w->ps.concurrency;
	if (w->q && pthread_create(&w->mon, NULL, monitor, w) == 0)
		w->mon_started = 1;
	vr_info("warm: %d-%d jobs at once, queue %zu, memory limit %" PRIu64
		" KiB, job timeout %g s, shard %u/%u",
		w->min_jobs, w->max_jobs, w->queue_cap, w->memory_limit / 1024, w->job_timeout,
		w->shard_k, w->shard_n);
	return 0;
}

/* A line that is not a job for this batch's workers: malformed, without a
 * key, or another shard's. */
static void line_failed(struct warm *w, const char *line, size_t len, uint64_t lineno,
			const char *source, const char *result, const char *err)
{
	char tmp[256];
	if (!line_is_mine(w, line, len)) {
		bump(w, &w->skipped);
		return;
	}
	if (source[0])
		say(w, "line %" PRIu64 ": %s: %s", lineno, shown(source, tmp, sizeof tmp), err);
	else
		say(w, "line %" PRIu64 ": %s", lineno, err);
	pthread_mutex_lock(&w->mu);
	if (!strcmp(result, "malformed"))
		w->malformed++;
	else
		record(w, 0);
	w->failed++;
	pthread_mutex_unlock(&w->mu);
	if (!w->dry_run)
		job_metrics(w, lineno, "", source, result, NULL, 0, 0, err);
}

/* Hand a job to the workers; blocks while the queue is full (the
 * backpressure). */
static void enqueue(struct warm *w, uint64_t lineno, const char *source, const char *key,
		    size_t keylen, const struct vr_jobline *jl, int use_params)
{
	struct warm_job *job = malloc(sizeof *job + keylen + 1);
	char *src = strdup(source);
	if (!job || !src) {
		free(job);
		free(src);
		say(w, "line %" PRIu64 ": out of memory", lineno);
		bump(w, &w->failed);
		return;
	}
	job->line = lineno;
	job->source = src;
	job->use_params = use_params;
	job->params = jl->params;
	job->keylen = keylen;
	memcpy(job->key, key, keylen + 1);
	job->lru_id = vr_lru_set(w->inflight, job->key, keylen, (void *)&marker, NULL);
	if (vr_queue_push(w->q, job, -1) != 0) {
		vr_lru_delete(w->inflight, job->key, keylen, job->lru_id, NULL);
		free(job->source);
		free(job);
		bump(w, &w->failed);
	}
}

/* One line of the list. */
static void read_line(struct warm *w, struct reader *rd, const char *line, size_t len,
		      int overlong)
{
	char err[1024];
	uint64_t lineno = rd->lineno;
	if (!overlong && !vr_jobline_is_job(line, len))
		return;
	struct vr_jobline jl;
	int pr = overlong ? VR_EDATA
			  : vr_jobline_parse(line, len, w->copts.limits, w->copts.cfg, &jl, rd->words,
					     VR_JOBLINE_MAX + 2, err, sizeof err);
	if (overlong)
		snprintf(err, sizeof err, "longer than %d bytes", VR_JOBLINE_MAX);
	if (pr == VR_JOBLINE_SKIP)
		return;
	if (pr != 0) {
		line_failed(w, line, len, lineno, "", "malformed", err);
		return;
	}
	/* with options, the query of SOURCE has joined them in the params
	 * (the cache still reads its bypass flags); without, the cache reads
	 * the query itself */
	const char *source = jl.source;
	struct vr_cache_request req = {
		.source = source,
		.params = jl.has_options && !jl.raw ? &jl.params : NULL,
		.out_fd = -1,
	};
	rd->key[0] = '\0';
	if (vr_cache_key(rd->cache, &req, rd->key, VR_CACHE_KEY_MAX, err, sizeof err) != 0) {
		line_failed(w, line, len, lineno, source, "error", err);
		return;
	}
	size_t keylen = strlen(rd->key);
	if (vr_warm_shard_of(rd->key, keylen, w->shard_n) != w->shard_k - 1) {
		bump(w, &w->skipped);
		return;
	}
	if (w->dry_run) {
		printf("%s\t%" PRIu64 "\t%s\n", rd->key, lineno, source);
		w->misses++;
		return;
	}
	if (vr_lru_get(w->inflight, rd->key, keylen, NULL)) {
		/* the same key is queued or running: it warms this one too */
		bump(w, &w->coalesced);
		job_metrics(w, lineno, rd->key, source, "coalesced", NULL, 0, 0, NULL);
		return;
	}
	enqueue(w, lineno, source, rd->key, keylen, &jl, req.params != NULL);
}

/* The list, line by line, until its end, a read error or a stop. */
static void read_job_list(struct warm *w, struct reader *rd)
{
	for (;;) {
		char *line;
		size_t len;
		int overlong, r = next_line(&rd->in, &line, &len, &overlong);
		if (r == 0)
			break;
		if (r < 0) {
			if (!vr_stop_requested()) {
				vr_error("%s: %s", w->file ? w->file : "stdin", strerror(errno));
				rd->read_failed = 1;
			}
			break;
		}
		if (vr_stop_requested())
			break;
		rd->lineno++;
		pthread_mutex_lock(&w->mu);
		w->lines = rd->lineno;
		pthread_mutex_unlock(&w->mu);
		read_line(w, rd, line, len, overlong);
	}
	if (w->dry_run)
		fflush(stdout);
}

/* Every queued job runs to its end, with the monitor still steering. */
static void drain(struct warm *w, struct vr_queue_stats *qs)
{
	if (!w->q)
		return;
	for (;;) {
		vr_queue_stats(w->q, qs);
		if (qs->depth == 0 && qs->running == 0 && qs->completed >= qs->pushed)
			break;
		struct timespec ts = {0, 20 * 1000000L};
		nanosleep(&ts, NULL);
	}
}

/* The monitor and the workers stopped, the progress bar's last state
 * drawn and cleared, the caches closed. */
static void stop_workers(struct warm *w, struct reader *rd, struct vr_queue_stats *qs)
{
	if (w->mon_started) {
		pthread_mutex_lock(&w->mon_mu);
		w->mon_stop = 1;
		pthread_cond_signal(&w->mon_cv);
		pthread_mutex_unlock(&w->mon_mu);
		pthread_join(w->mon, NULL);
		w->mon_started = 0;
	}
	if (w->q) {
		vr_queue_stats(w->q, qs);
		vr_queue_finish(w->q);
		w->q = NULL;
	}
	if (w->progress > 0) {
		/* the final state, even when the batch ended before the first
		 * tick drew anything; a terminal then clears it for the summary */
		struct vr_progress p = {0};
		pthread_mutex_lock(&w->mu);
		progress_counts(w, &p);
		vr_progress_draw(STDERR_FILENO, &p);
		pthread_mutex_unlock(&w->mu);
		w->bar_drawn = 1;
	}
	if (w->bar_drawn) {
		vr_progress_clear(STDERR_FILENO);
		w->bar_drawn = 0;
	}
	for (int i = 0; i < w->ncaches; i++)
		vr_cache_close(w->caches[i]);
	w->ncaches = 0;
	if (rd->cache)
		vr_cache_close(rd->cache);
	rd->cache = NULL;
}

static void cleanup(struct warm *w, struct reader *rd)
{
	if (w->inflight)
		vr_lru_free(w->inflight, 0);
	if (w->metrics_fd >= 0)
		close(w->metrics_fd);
	if (w->file && rd->in.fd >= 0)
		close(rd->in.fd);
	free(rd->in.buf);
	free(rd->words);
	free(rd->key);
	pthread_cond_destroy(&w->mon_cv);
	pthread_mutex_destroy(&w->mon_mu);
	pthread_mutex_destroy(&w->mu);
}

int vr_warm_run(const struct vr_warm_opts *o, const struct vr_cache_opts *base)
{
	static struct warm w; /* big (cache pointers); one batch per process */
	struct reader rd = {.in = {.fd = -1}};
	struct vr_queue_stats qs;
	memset(&qs, 0, sizeof qs);

	warm_setup(&w, o, base);
	int rc = open_job_list(&w, &rd);
	if (rc == 0) {
		open_job_metrics(&w);
		rc = start_workers(&w, &rd);
	}
	if (rc == 0) {
		read_job_list(&w, &rd);
		drain(&w, &qs);
		rc = w.failed || rd.read_failed || vr_stop_requested() ? VR_EFAIL : VR_OK;
	}
	stop_workers(&w, &rd, &qs);
	if (w.inflight && rc != VR_EUSAGE)
		summary(&w, &qs, rc, vr_now_ms() - w.t0);
	cleanup(&w, &rd);
	return rc;
}
