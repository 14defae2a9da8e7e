/* vr-cache: the orchestrator. `get` answers one request from the store
 * (a hit) or by fetch -> transform -> tee to the output and the store (a
 * miss), coalescing concurrent requests across processes; invalidate,
 * purge, gc and stats look after the store (the metrics-file analysis is
 * lib/cache/stats); warm (lib/cache/warm) pre-warms it from a job list. The work is in
 * lib/cache/cache; this file describes the commands and their options to lib/base/cli
 * and maps results to the shared exit statuses. */
#include "cache.h"
#include "cgi.h"
#include "cli.h"
#include "config.h"
#include "defaults.h"
#include "json.h"
#include "lifecycle.h"
#include "log.h"
#include "lru.h"
#include "metrics.h"
#include "num.h"
#include "origin.h"
#include "output.h"
#include "params.h"
#include "range.h"
#include "response.h"
#include "stats.h"
#include "status.h"
#include "store.h"
#include "warm.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_TAGS 32

struct tags {
	const char *v[MAX_TAGS];
	size_t n;
};

struct shard {
	unsigned k, n;
};

struct opts {
	struct vr_cli_common common;
	/* get */
	struct vr_settings settings;
	int print_key, headers, json;
	const char *range_text, *output;
	struct vr_cli_multipart mp;
	double wait, timeout;
	int no_wait_fallback, bypass, no_store, strict;
	struct tags tags;
	/* purge */
	const char *purge_tag, *purge_source;
	/* gc */
	int vacuum;
	/* stats (and --json above) */
	const char *metrics_file;
	/* warm (and --json above) */
	int64_t jobs, min_jobs, max_jobs, queue;
	int min_jobs_given;
	uint64_t memory_limit;
	double job_timeout;
	struct shard shard;
	int dry_run;
	/* loaded by the commands that need them */
	struct vr_config *cfg;
	struct vr_limits lim;
};

static int add_tag(void *field, const struct vr_opt *o, const char *arg, char *err, size_t errlen)
{
	(void)o;
	struct tags *t = field;
	if (t->n == MAX_TAGS || !*arg || strlen(arg) > VR_STORE_TAG_MAX) {
		snprintf(err, errlen, "at most %d tags of 1 to %d bytes", MAX_TAGS, VR_STORE_TAG_MAX);
		return VR_EUSAGE;
	}
	t->v[t->n++] = arg;
	return 0;
}

static int set_shard(void *field, const struct vr_opt *o, const char *arg, char *err,
		     size_t errlen)
{
	(void)o;
	struct shard *sh = field;
	if (vr_warm_parse_shard(arg, &sh->k, &sh->n) < 0) {
		snprintf(err, errlen, "'%s' is not K/N with 1 <= K <= N <= 1000000 (like 2/3)", arg);
		return VR_EUSAGE;
	}
	return 0;
}

#define O(m) offsetof(struct opts, m)
static const struct vr_opt get_opts[] = {
	VR_OPT_RANGE(O(range_text)),
	VR_OPT_HEADERS(O(headers)),
	VR_OPT_JSON(O(json), "the response's facts as one JSON object on stderr"),
	VR_OPT_MULTIPART(O(mp)),
	VR_OPT_OUTPUT(O(output)),
	{.name = "wait", .kind = VR_OPT_SECONDS, .arg = "S", .off = O(wait),
	 .def = VR_DEFAULT_CACHE_WAIT, .hi = 86400,
	 .help = "wait up to S for another process's miss of the same key"},
	{.name = "no-wait-fallback", .kind = VR_OPT_FLAG, .off = O(no_wait_fallback),
	 .help = "past --wait: transform without storing (else exit 7)"},
	{.name = "bypass", .kind = VR_OPT_FLAG, .off = O(bypass),
	 .help = "skip the lookup, store the fresh result"},
	{.name = "no-store", .kind = VR_OPT_FLAG, .off = O(no_store),
	 .help = "skip the lookup and the store"},
	{.name = "strict", .kind = VR_OPT_FLAG, .off = O(strict),
	 .help = "a failed store write is exit 6, not a warning"},
	{.name = "tag", .kind = VR_OPT_CALL, .arg = "TAG", .off = O(tags), .fn = add_tag,
	 .help = "an extra tag on the stored entry (repeatable)"},
	{.name = "timeout", .kind = VR_OPT_SECONDS, .arg = "S", .off = O(timeout),
	 .def = VR_DEFAULT_STALL_TIMEOUT, .hi = 86400,
	 .help = "give up when the transform's input stalls for S"},
	{.name = "print-key", .kind = VR_OPT_FLAG, .off = O(print_key),
	 .help = "print the cache key and exit"},
	{0},
};

static const struct vr_opt cgi_opts[] = {
	{.name = "wait", .kind = VR_OPT_SECONDS, .arg = "S", .off = O(wait),
	 .def = VR_DEFAULT_CACHE_WAIT, .hi = 86400,
	 .help = "wait up to S for another process's miss (then 503)"},
	{.name = "timeout", .kind = VR_OPT_SECONDS, .arg = "S", .off = O(timeout),
	 .def = VR_DEFAULT_STALL_TIMEOUT, .hi = 86400,
	 .help = "give up when the transform's input stalls for S (504)"},
	{0},
};

static const struct vr_opt purge_opts[] = {
	{.name = "tag", .kind = VR_OPT_STR, .arg = "TAG", .off = O(purge_tag),
	 .help = "remove every entry with TAG"},
	{.name = "source", .kind = VR_OPT_STR, .arg = "SOURCE", .off = O(purge_source),
	 .help = "remove every entry of SOURCE"},
	{0},
};

static const struct vr_opt gc_opts[] = {
	{.name = "vacuum", .kind = VR_OPT_FLAG, .off = O(vacuum),
	 .help = "give the space back to the file system"},
	{0},
};

static const struct vr_opt stats_opts[] = {
	VR_OPT_JSON(O(json), "one JSON object on stdout"),
	{.name = "metrics-file", .kind = VR_OPT_STR, .arg = "FILE", .off = O(metrics_file),
	 .flags = VR_OPT_FILE,
	 .help = "also requests, hit ratio, p50/p95 wall_ms and errors\nof the metrics lines in FILE"},
	{0},
};

static const struct vr_opt warm_opts[] = {
	{.name = "jobs", .letter = 'j', .kind = VR_OPT_COUNT, .arg = "N", .off = O(jobs), .lo = 1,
	 .hi = VR_WARM_MAX_WORKERS, .help = "run N jobs at once (sets --min-jobs and --max-jobs)"},
	{.name = "min-jobs", .kind = VR_OPT_COUNT, .arg = "N", .off = O(min_jobs), .lo = 1,
	 .hi = VR_WARM_MAX_WORKERS, .def = VR_DEFAULT_WARM_MIN_JOBS,
	 .given_off = O(min_jobs_given), .help = "least concurrency under pressure"},
	{.name = "max-jobs", .kind = VR_OPT_COUNT, .arg = "N", .off = O(max_jobs), .lo = 1,
	 .hi = VR_WARM_MAX_WORKERS, .help = "most concurrency (default: the number of CPUs)"},
	{.name = "queue", .kind = VR_OPT_COUNT, .arg = "N", .off = O(queue), .lo = 1, .hi = 1000000,
	 .def = VR_DEFAULT_WARM_QUEUE, .help = "jobs read ahead of the workers"},
	{.name = "memory-limit", .kind = VR_OPT_SIZE, .arg = "SIZE", .off = O(memory_limit),
	 .lo = 1048576, .def = VR_DEFAULT_WARM_MEMORY_LIMIT,
	 .help = "the RSS the concurrency steers under"},
	{.name = "job-timeout", .kind = VR_OPT_SECONDS, .arg = "S", .off = O(job_timeout),
	 .hi = 604800, .flags = VR_OPT_LO_OPEN, .def = VR_DEFAULT_WARM_JOB_TIMEOUT,
	 .help = "a job's time limit, stall timeout and wait"},
	{.name = "shard", .kind = VR_OPT_CALL, .arg = "K/N", .off = O(shard), .fn = set_shard,
	 .def = VR_DEFAULT_WARM_SHARD,
	 .help = "only the jobs whose key hashes to shard K of N"},
	{.name = "dry-run", .kind = VR_OPT_FLAG, .off = O(dry_run),
	 .help = "print the keys of this shard's jobs, warm nothing"},
	VR_OPT_JSON(O(json), "the summary as one JSON object on stdout"),
	{0},
};
#undef O

static int load_config(struct opts *o)
{
	char err[1024];
	int rc = vr_config_load(&o->cfg, o->common.config, err, sizeof err);
	if (!rc)
		rc = vr_limits_load(&o->lim, o->cfg, err, sizeof err);
	if (rc)
		vr_error("%s", err);
	return rc;
}

static void metrics_outcome(const struct vr_cache_outcome *o)
{
	struct vr_lru_stats ls;
	vr_cache_negative_stats(&ls);
	vr_metrics_str("key", o->key);
	vr_metrics_str("result", vr_cache_result_name(o->result));
	vr_metrics_set_bytes_out(o->bytes_out);
	vr_metrics_bytes_in(o->bytes_in);
	vr_metrics_int("bytes_stored", (int64_t)o->bytes_stored);
	vr_metrics_int("ttfb_ms", (int64_t)llround(o->ttfb_ms));
	vr_metrics_int("transform_ms", (int64_t)llround(o->transform_ms));
	vr_metrics_int("store_ms", (int64_t)llround(o->store_ms));
	vr_metrics_int("transformed", o->transformed);
	vr_metrics_int("store_failed", o->store_failed);
	if (o->fallback)
		vr_metrics_str("fallback", "original");
	vr_metrics_int("lru_size", (int64_t)ls.size);
	vr_metrics_int("lru_max", (int64_t)ls.max);
	vr_metrics_int("lru_evictions", (int64_t)ls.evictions);
	if (ls.max && ls.size >= ls.max)
		vr_warn("the remembered-failures map is at its bound (%zu)", ls.max);
}

/* get, in stages: the range, the transform parameters, the cache, then
 * the key (--print-key) or the answer. */

/* Transform options given, or -o FILE with an extension that names a
 * format: the source's query first, then the options, then the
 * extension, then finalize. (None: lib/cache reads the query alone, or
 * caches raw; a request with no transform parameter at all stays raw
 * whatever -o's extension, *have 0.) */
static int get_params(const struct opts *o, const char *source, struct vr_params *p, int *have)
{
	char query[4096], err[1024];
	vr_params_init(p);
	int rc = vr_cache_source_query(o->cfg, source, query, sizeof query, err, sizeof err);
	if (!rc && query[0])
		rc = vr_params_parse_query(p, &o->lim, query, NULL, err, sizeof err);
	if (!rc)
		rc = vr_settings_apply(p, &o->lim, &o->settings, err, sizeof err);
	*have = !rc && (o->settings.n > 0 || p->set);
	if (!rc && !*have)
		return 0; /* the source's bytes as they are */
	if (!rc)
		rc = vr_params_output_path(p, o->output, err, sizeof err);
	if (!rc)
		rc = vr_params_finalize(p, &o->lim, o->cfg, err, sizeof err);
	if (rc) {
		vr_error("%s", err);
		if (rc == VR_EUSAGE)
			vr_usage_hint();
	}
	return rc;
}

static int get_open_cache(const struct opts *o, struct vr_cache **cache)
{
	char err[1024];
	struct vr_cache_opts co = {
		.store_path = o->common.store,
		.cfg = o->cfg,
		.limits = &o->lim,
		.wait = o->wait,
		.no_wait_fallback = o->no_wait_fallback,
		.bypass = o->bypass,
		.no_store = o->no_store,
		.no_create = o->print_key,
		.strict = o->strict,
		.tags = o->tags.v,
		.ntags = o->tags.n,
		.transform_timeout = o->timeout,
		/* --headers: stderr carries the response head, no line between */
		.progress = !o->headers && vr_cli_progress(&o->common),
	};
	int rc = vr_cache_open(cache, &co, err, sizeof err);
	if (rc)
		vr_error("%s", err);
	return rc;
}

static int get_print_key(struct vr_cache *cache, const struct vr_cache_request *req)
{
	char key[VR_CACHE_KEY_MAX], err[1024];
	int rc = vr_cache_key(cache, req, key, sizeof key, err, sizeof err);
	if (rc) {
		vr_error("%s", err);
		return rc;
	}
	printf("%s\n", key);
	return fflush(stdout) == 0 ? VR_OK : VR_EIO;
}

/* --headers/--json of a request that failed before its answer was
 * printed: the status its exit status stands for (404, 502, 504, ...),
 * what the cache did and the key, so that a script needs no exit-status
 * mapping. A usage error (2) is no answer. */
static void print_failure(const struct vr_cache_request *req, const struct vr_cache_outcome *oc,
			  int rc)
{
	if (!rc || rc == VR_EUSAGE || oc->head_printed || (!req->headers && !req->json))
		return;
	char xc[16], hdr[VR_CACHE_KEY_MAX + 64], js[2 * VR_CACHE_KEY_MAX + 64];
	char ek[2 * VR_CACHE_KEY_MAX];
	size_t i = 0;
	for (const char *p = vr_cache_result_name(oc->result); *p && i + 1 < sizeof xc; p++)
		xc[i++] = (char)toupper((unsigned char)*p);
	xc[i] = '\0';
	int n = snprintf(hdr, sizeof hdr, "X-Cache: %s\r\n", xc);
	int m = snprintf(js, sizeof js, ",\"cache\":\"%s\"", xc);
	if (oc->key[0]) {
		vr_json_escape(ek, sizeof ek, oc->key, strlen(oc->key));
		snprintf(hdr + n, sizeof hdr - (size_t)n, "X-Cache-Key: %s\r\n", oc->key);
		snprintf(js + m, sizeof js - (size_t)m, ",\"key\":\"%s\"", ek);
	}
	vr_response_print_failure(rc, oc->error[0] ? oc->error : NULL, hdr, js, req->headers,
				  req->json);
}

/* The answer into the output (atomically, for -o FILE): kept on success
 * and on a 416, dropped on any other failure. */
static int get_answer(struct vr_cache *cache, struct vr_cache_request *req, const char *output)
{
	struct vr_output out;
	int rc = vr_output_open(&out, output);
	if (rc)
		return rc;
	vr_stream_opened();
	req->out_fd = out.fd;
	struct vr_cache_outcome *oc = calloc(1, sizeof *oc);
	if (!oc) {
		vr_error("out of memory");
		rc = VR_EFAIL;
	} else {
		rc = vr_cache_get(cache, req, oc);
		print_failure(req, oc, rc);
		if (rc)
			vr_error("%s", oc->error[0] ? oc->error : "failed");
		if (oc->store_failed)
			vr_warn("the result was served but not stored: %s", oc->store_error);
		vr_info("%s: %s", oc->key, vr_cache_result_name(oc->result));
		metrics_outcome(oc);
	}
	/* a 416 keeps its (empty) output, as an HTTP answer would */
	int end = vr_output_end(&out, rc == VR_ERANGE ? VR_OK : rc);
	if (!rc)
		rc = end;
	vr_stream_closed();
	free(oc);
	return rc;
}

static int cmd_get(void *opts, int argc, char **argv)
{
	struct opts *o = opts;
	(void)argc;
	const char *source = argv[0];
	struct vr_range_set *rs = NULL;
	struct vr_cache *cache = NULL;
	char shown[4096];
	vr_metrics_str("source", vr_url_redact(source, shown, sizeof shown));
	struct vr_params p;
	int have_params = o->settings.n > 0;
	int rc = load_config(o);
	if (!rc) {
		char err[1024];
		if ((rc = vr_range_option(o->range_text, &rs, err, sizeof err)))
			vr_error("%s", err);
		else
			vr_cli_multipart_for_headers(&o->mp, o->headers, rs ? rs->n : 0);
	}
	if (!rc && (have_params || vr_format_from_path(o->output) != VR_FORMAT_AUTO))
		rc = get_params(o, source, &p, &have_params);
	if (!rc)
		rc = get_open_cache(o, &cache);
	if (!rc) {
		struct vr_cache_request req = {
			.source = source,
			.params = have_params ? &p : NULL,
			.range = rs,
			.out_fd = -1,
			.headers = o->headers,
			.json = o->json,
			.multipart = o->mp.on,
			.boundary = o->mp.boundary[0] ? o->mp.boundary : NULL,
		};
		rc = o->print_key ? get_print_key(cache, &req) : get_answer(cache, &req, o->output);
	}
	if (cache)
		vr_cache_close(cache);
	free(rs);
	return rc;
}

static int cmd_cgi(void *opts, int argc, char **argv)
{
	struct opts *o = opts;
	(void)argc, (void)argv;
	char err[1024];
	/* a config that cannot be read is the server's fault: 500, no detail */
	int rc = vr_config_load(&o->cfg, o->common.config, err, sizeof err);
	if (!rc)
		rc = vr_limits_load(&o->lim, o->cfg, err, sizeof err);
	if (rc) {
		vr_error("%s", err);
		static const char text[] = "500 Internal Server Error.\n";
		printf("Status: 500 Internal Server Error\r\nContent-Type: text/plain; "
		       "charset=utf-8\r\nContent-Length: %zu\r\nCache-Control: no-store\r\n\r\n%s",
		       sizeof text - 1, text);
		fflush(stdout);
		return rc;
	}
	struct vr_cgi_opts co = {
		.store_path = o->common.store,
		.cfg = o->cfg,
		.limits = &o->lim,
		.wait = o->wait,
		.transform_timeout = o->timeout,
	};
	return vr_cgi_serve(&co);
}

/* The store of a command that reads or changes what is there (invalidate,
 * purge, gc, stats): one that does not exist is not created but not found
 * (5), so that a mistyped --store is an error, not a new empty store. */
static int open_store(struct opts *o, struct vr_store **st)
{
	char err[1024];
	int rc = vr_store_open_existing(st, o->common.store, err, sizeof err);
	if (rc == VR_ENOTFOUND)
		vr_error("%s (vr-cache get or warm creates it)", err);
	else if (rc)
		vr_error("%s", err);
	return rc;
}

static int cmd_invalidate(void *opts, int argc, char **argv)
{
	struct opts *o = opts;
	(void)argc;
	int rc;
	if ((rc = load_config(o)))
		return rc;
	char err[1024], canon[4096];
	if ((rc = vr_cache_canonical_source(o->cfg, argv[0], canon, sizeof canon, err,
					    sizeof err))) {
		vr_error("%s", err);
		return rc;
	}
	struct vr_store *st;
	if ((rc = open_store(o, &st)))
		return rc;
	int64_t v = 0;
	rc = vr_store_source_bump(st, canon, &v);
	if (rc)
		vr_error("%s", vr_store_error(st));
	else
		vr_info("%s: now at version %" PRId64, canon, v);
	vr_metrics_str("source", canon);
	vr_metrics_int("version", v);
	vr_store_close(st);
	return rc;
}

static int cmd_purge(void *opts, int argc, char **argv)
{
	struct opts *o = opts;
	(void)argc, (void)argv;
	int rc;
	if (!o->purge_tag == !o->purge_source) {
		vr_error("give --tag TAG or --source SOURCE");
		return vr_usage_hint();
	}
	char tag[VR_STORE_TAG_MAX + 8 + 4096], canon[4096];
	if (o->purge_source) {
		char err[1024];
		if ((rc = load_config(o)))
			return rc;
		if ((rc = vr_cache_canonical_source(o->cfg, o->purge_source, canon, sizeof canon, err,
						    sizeof err))) {
			vr_error("%s", err);
			return rc;
		}
		snprintf(tag, sizeof tag, "source:%s", canon);
		tag[VR_STORE_TAG_MAX] = '\0'; /* as the tag was stored (cut to its bound) */
	} else {
		snprintf(tag, sizeof tag, "%s", o->purge_tag);
	}
	struct vr_store *st;
	if ((rc = open_store(o, &st)))
		return rc;
	uint64_t n = 0;
	rc = vr_store_purge_tag(st, tag, &n);
	uint64_t forgot = 0;
	/* and what was remembered of the source's failures (a bad source is
	 * fetched again) */
	if (!rc && o->purge_source && (rc = vr_cache_forget_source(st, canon, &forgot)) == 0 &&
	    forgot)
		vr_info("%" PRIu64 " remembered failures forgotten", forgot);
	if (rc)
		vr_error("%s", vr_store_error(st));
	else
		vr_info("%" PRIu64 " entries removed", n);
	vr_metrics_int("removed", (int64_t)n);
	vr_store_close(st);
	return rc;
}

static int cmd_gc(void *opts, int argc, char **argv)
{
	struct opts *o = opts;
	(void)argc, (void)argv;
	int vacuum = o->vacuum, rc;
	struct vr_store *st;
	if ((rc = open_store(o, &st)))
		return rc;
	uint64_t old = 0, neg = 0;
	struct vr_gc_report r;
	memset(&r, 0, sizeof r);
	uint64_t temp = 0;
	if ((rc = vr_store_gc_versions(st, &old)) || (rc = vr_store_negative_gc(st, &neg)) ||
	    (rc = vr_store_gc(st, vacuum, &r)))
		vr_error("%s", vr_store_error(st));
	else
		vr_info("removed %" PRIu64 " old versions, %" PRIu64 " expired, %" PRIu64
			" abandoned, %" PRIu64 " stale locks, %" PRIu64 " remembered failures, %" PRIu64
			" temporary copies of killed misses",
			old, r.expired, r.abandoned, r.stale_locks, neg,
			(vr_cache_sweep_temp(&temp), temp));
	vr_metrics_int("old_versions", (int64_t)old);
	vr_metrics_int("expired", (int64_t)r.expired);
	vr_metrics_int("abandoned", (int64_t)r.abandoned);
	vr_metrics_int("stale_locks", (int64_t)r.stale_locks);
	vr_metrics_int("negative_expired", (int64_t)neg);
	vr_metrics_int("temp_removed", (int64_t)temp);
	vr_store_close(st);
	return rc;
}

static int cmd_stats(void *opts, int argc, char **argv)
{
	struct opts *o = opts;
	(void)argc, (void)argv;
	uint64_t entries = 0, bytes = 0;
	struct vr_store *st;
	int rc;
	if ((rc = open_store(o, &st)))
		return rc;
	rc = vr_store_totals(st, &entries, &bytes);
	if (rc)
		vr_error("%s", vr_store_error(st));
	vr_store_close(st);
	if (rc)
		return rc;
	struct vr_stats *s = calloc(1, sizeof *s);
	if (!s) {
		vr_error("out of memory");
		return VR_EFAIL;
	}
	vr_stats_init(s);
	if (o->metrics_file) {
		FILE *f = fopen(o->metrics_file, "r");
		if (!f) {
			vr_error("%s: %m", o->metrics_file);
			free(s);
			return VR_ENOTFOUND;
		}
		char *line = NULL;
		size_t cap = 0;
		while (getline(&line, &cap, f) > 0)
			vr_stats_add_line(s, line);
		free(line);
		fclose(f);
		if (s->skipped)
			vr_warn("%s: skipped %" PRIu64 " line%s that %s not metrics lines",
				o->metrics_file, s->skipped, s->skipped == 1 ? "" : "s",
				s->skipped == 1 ? "is" : "are");
	}
	double ratio = vr_stats_hit_ratio(s);
	double p50 = vr_stats_wall_ms(s, 0.50), p95 = vr_stats_wall_ms(s, 0.95);
	if (o->json) {
		struct vr_json j;
		vr_json_begin(&j);
		vr_json_uint(&j, "entries", entries);
		vr_json_uint(&j, "bytes", bytes);
		if (o->metrics_file) {
			char num[32];
			vr_json_uint(&j, "requests", s->requests);
			vr_json_uint(&j, "hits", s->hits);
			vr_json_uint(&j, "misses", s->misses);
			vr_json_uint(&j, "coalesced", s->coalesced);
			vr_json_uint(&j, "negative", s->negative);
			vr_json_uint(&j, "bypass", s->bypass);
			vr_json_uint(&j, "errors", s->errors);
			snprintf(num, sizeof num, "%.4f", ratio);
			vr_json_raw(&j, "hit_ratio", num);
			vr_json_int(&j, "p50_wall_ms", (int64_t)llround(p50));
			vr_json_int(&j, "p95_wall_ms", (int64_t)llround(p95));
			vr_json_uint(&j, "lru_evictions", s->evictions);
			vr_json_uint(&j, "skipped", s->skipped);
		}
		vr_json_end(&j);
		printf("%s\n", j.buf);
	} else {
		printf("entries      %" PRIu64 "\n", entries);
		printf("bytes        %" PRIu64 "\n", bytes);
		if (o->metrics_file) {
			printf("requests     %" PRIu64 "\n", s->requests);
			printf("hits         %" PRIu64 "\n", s->hits);
			printf("misses       %" PRIu64 "\n", s->misses);
			printf("coalesced    %" PRIu64 "\n", s->coalesced);
			printf("negative     %" PRIu64 "\n", s->negative);
			printf("bypass       %" PRIu64 "\n", s->bypass);
			printf("errors       %" PRIu64 "\n", s->errors);
			printf("hit ratio    %.4f\n", ratio);
			printf("p50 wall_ms  %.0f\n", p50);
			printf("p95 wall_ms  %.0f\n", p95);
			printf("evictions    %" PRIu64 "\n", s->evictions);
			printf("skipped      %" PRIu64 "\n", s->skipped);
		}
	}
	free(s);
	return fflush(stdout) == 0 ? VR_OK : VR_EIO;
}

static int cmd_warm(void *opts, int argc, char **argv)
{
	struct opts *o = opts;
	struct vr_warm_opts wo = {
		.file = argc ? argv[0] : NULL,
		.min_jobs = (int)o->min_jobs,
		.max_jobs = (int)o->max_jobs,
		.queue = (size_t)o->queue,
		.memory_limit = o->memory_limit,
		.job_timeout = o->job_timeout,
		.shard_k = o->shard.k,
		.shard_n = o->shard.n,
		.dry_run = o->dry_run,
		.json = o->json,
		.progress = vr_cli_progress(&o->common), /* -q wins over --progress */
	};
	if (o->jobs > 0) {
		if ((o->min_jobs_given && o->min_jobs != o->jobs) ||
		    (o->max_jobs > 0 && o->max_jobs != o->jobs)) {
			vr_error("--jobs sets --min-jobs and --max-jobs: give one or the others");
			return vr_usage_hint();
		}
		wo.min_jobs = wo.max_jobs = (int)o->jobs;
	}
	if (wo.max_jobs > 0 && wo.max_jobs < wo.min_jobs) {
		vr_error("--min-jobs %d is more than --max-jobs %d", wo.min_jobs, wo.max_jobs);
		return vr_usage_hint();
	}
	if (wo.max_jobs <= 0) { /* the CPUs, or more when --min-jobs asks for more */
		long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		wo.max_jobs = ncpu < wo.min_jobs ? wo.min_jobs
			      : ncpu > VR_WARM_MAX_WORKERS ? VR_WARM_MAX_WORKERS
							  : (int)ncpu;
	}
	int rc = load_config(o);
	if (rc)
		return rc;
	/* get's --wait and --timeout at their defaults (the layer applies
	 * every command's); warm bounds both by --job-timeout */
	struct vr_cache_opts base = {
		.store_path = o->common.store,
		.cfg = o->cfg,
		.limits = &o->lim,
		.wait = o->wait,
		.transform_timeout = o->timeout,
	};
	return vr_warm_run(&wo, &base);
}

static void finish(void *opts, int *rc)
{
	struct opts *o = opts;
	(void)rc;
	vr_config_free(o->cfg);
	o->cfg = NULL;
	if (vr_streams_open()) {
		vr_warn("%d streams still open at exit", vr_streams_open());
		vr_metrics_int("alert_open_streams", 1);
	}
}

static const struct vr_cli_cmd commands[] = {
	{.name = "get", .operands = "SOURCE",
	 .about = "the (transformed) bytes of SOURCE, from the store or fresh",
	 .min_args = 1, .max_args = 1,
	 .tables = {{.get = vr_params_options, .base = offsetof(struct opts, settings), .man = "vr-resize",
		     .title = "Transform options"},
		    {get_opts}},
	 .run = cmd_get},
	{.name = "cgi",
	 .about = "answer one HTTP request as a CGI program (a video origin)",
	 .min_args = 0, .max_args = 0, .tables = {{cgi_opts}}, .run = cmd_cgi},
	{.name = "invalidate", .operands = "SOURCE",
	 .about = "every variant of SOURCE misses from now on",
	 .min_args = 1, .max_args = 1, .run = cmd_invalidate},
	{.name = "purge", .operands = "--tag TAG | --source SOURCE",
	 .about = "remove the entries with a tag, or of a source",
	 .min_args = 0, .max_args = 0, .tables = {{purge_opts}}, .run = cmd_purge},
	{.name = "gc",
	 .about = "reclaim expired, old-version and abandoned entries",
	 .min_args = 0, .max_args = 0, .tables = {{gc_opts}}, .run = cmd_gc},
	{.name = "stats",
	 .about = "the store's totals; a metrics file's hit ratio, latency",
	 .min_args = 0, .max_args = 0, .tables = {{stats_opts}}, .run = cmd_stats},
	{.name = "warm", .operands = "[FILE]",
	 .about = "pre-warm the store from a job list (FILE or stdin)",
	 .min_args = 0, .max_args = 1, .tables = {{warm_opts}}, .run = cmd_warm,
	 .complete = VR_CLI_COMPLETE_FILES},
	{0},
};

static const struct vr_cli_prog prog = {
	.name = "vr-cache",
	.about = "Answer video requests from a chunked cache: a hit streams the stored entry,\n"
		 "a miss fetches, transforms and stores while it streams.",
	.shared = VR_CLI_METRICS | VR_CLI_CONFIG | VR_CLI_STORE | VR_CLI_PROGRESS,
	.cmds = commands,
	.finish = finish,
	.exits = "Exit status: 0 ok, 1 unexpected failure (warm: some jobs failed), 2 usage,\n"
		 "3 bad input or query value, 4 range not satisfiable, 5 not found, 6 I/O or\n"
		 "store failure, 7 wait exceeded or timeout, 8 limit exceeded.",
};

int main(int argc, char **argv)
{
	static struct opts o;
	vr_cli_main(&prog, argc, argv, &o);
}
