/* vr-cache: the orchestrator. `get` answers one request from the store
 * (a hit) or by fetch -> transform -> tee to the output and the store (a
 * miss), coalescing concurrent requests across processes; invalidate,
 * purge, gc and stats look after the store; warm (lib/warm) pre-warms it
 * from a job list. The work is in lib/cache; this file parses options and
 * maps results to the shared exit statuses. */
#include "cache.h"
#include "cli.h"
#include "config.h"
#include "json.h"
#include "lifecycle.h"
#include "log.h"
#include "lru.h"
#include "metrics.h"
#include "num.h"
#include "output.h"
#include "params.h"
#include "range.h"
#include "status.h"
#include "store.h"

#if __has_include("warm.c")
#include "warm.h"
#define HAVE_WARM 1
#else
#define HAVE_WARM 0
#endif

#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_SETTINGS 64
#define MAX_TAGS 32

static void usage(void)
{
	printf("Usage: %s [--store FILE] [--config FILE] COMMAND [ARGS]\n"
	       "Answer video requests from a chunked cache: a hit streams the stored entry,\n"
	       "a miss fetches, transforms and stores while it streams.\n"
	       "\n"
	       "Commands:\n"
	       "  get SOURCE [OPTIONS]  the (transformed) bytes of SOURCE: a path, URL or\n"
	       "                        request path, with an optional ?query\n"
	       "      transform options as vr-resize: -m/--mode, -w/--width, --height, --fit,\n"
	       "      -t/--time, -d/--duration, --fps, --quality, --compression, --bitrate,\n"
	       "      --audio, -f/--format, --columns, --rows, --derivative, -Q/--query\n"
	       "      (none and no query: the source bytes themselves are cached)\n"
	       "      --range R          only these bytes (the whole entry is still stored)\n"
	       "      --headers, --json  the HTTP head / facts on stderr\n"
	       "      --multipart        several ranges as multipart/byteranges\n"
	       "      -o, --output FILE  write FILE instead of stdout\n"
	       "      --wait S           wait for another process's miss (default 60s)\n"
	       "      --no-wait-fallback past --wait: transform without storing (else exit 7)\n"
	       "      --bypass           skip the lookup, store the fresh result\n"
	       "      --no-store         skip the lookup and the store\n"
	       "      --strict           a failed store write is exit 6, not a warning\n"
	       "      --tag T            an extra tag on the stored entry (repeatable)\n"
	       "      --timeout S        give up when the transform's input stalls (30s)\n"
	       "      --print-key        print the cache key and exit\n"
	       "  invalidate SOURCE     every variant of SOURCE misses from now on\n"
	       "  purge --tag T | --source S   remove entries at once\n"
	       "  gc [--vacuum]         reclaim expired entries, old source versions,\n"
	       "                        abandoned writes, stale locks, expired failures\n"
	       "  stats [--json] [--metrics-file F]  the store's entries and bytes; requests,\n"
	       "                        hit ratio, p50/p95 wall_ms and errors of a metrics file\n"
	       "  warm [FILE]           pre-warm from a job list (see vr-cache(1))\n"
	       "\n"
	       "Options:\n"
	       "      --store FILE    the store (default $VR_STORE, else\n"
	       "                      $XDG_CACHE_HOME/vr/store.db)\n"
	       "      --config FILE   config file (default $VR_CONFIG): [origin], [cache] TTLs\n"
	       "      --metrics FILE  append a JSON metrics line (default $VR_METRICS)\n"
	       "  -q, --quiet         only errors\n"
	       "  -v, --verbose       more detail\n"
	       "  -h, --help          this help\n"
	       "  -V, --version       version\n"
	       "\n"
	       "Exit status: 0 ok, 1 unexpected failure, 2 usage, 3 bad input or query value,\n"
	       "4 range not satisfiable, 5 not found, 6 I/O or store failure, 7 wait exceeded\n"
	       "or timeout, 8 limit exceeded. See vr-cache(1).\n",
	       vr_prog());
}

struct ctx {
	const char *store_path;
	const char *config_path;
	struct vr_config *cfg;
	struct vr_limits lim;
};

struct setting {
	const char *name; /* NULL: a query */
	const char *value;
};

static int load_config(struct ctx *c)
{
	char err[1024];
	int rc = vr_config_load(&c->cfg, c->config_path, err, sizeof err);
	if (!rc)
		rc = vr_limits_load(&c->lim, c->cfg, err, sizeof err);
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
	vr_metrics_int("bytes_stored", (int64_t)o->bytes_stored);
	vr_metrics_int("ttfb_ms", (int64_t)llround(o->ttfb_ms));
	vr_metrics_int("transform_ms", (int64_t)llround(o->transform_ms));
	vr_metrics_int("store_ms", (int64_t)llround(o->store_ms));
	vr_metrics_int("transformed", o->transformed);
	vr_metrics_int("store_failed", o->store_failed);
	vr_metrics_int("lru_size", (int64_t)ls.size);
	vr_metrics_int("lru_max", (int64_t)ls.max);
	vr_metrics_int("lru_evictions", (int64_t)ls.evictions);
	if (ls.max && ls.size >= ls.max)
		vr_warn("the remembered-failures map is at its bound (%zu)", ls.max);
}

static int cmd_get(struct ctx *c, int argc, char **argv)
{
	struct setting set[MAX_SETTINGS];
	int nset = 0;
	const char *tags[MAX_TAGS];
	size_t ntags = 0;
	const char *range_text = NULL, *output = NULL;
	int headers = 0, json = 0, multipart = 0, print_key = 0;
	struct vr_cache_opts co = {.wait = 60, .transform_timeout = 30};
	enum {
		OPT_PRINT_KEY = 256, OPT_RANGE,
		OPT_HEADERS, OPT_JSON, OPT_MULTIPART, OPT_WAIT, OPT_NO_WAIT_FALLBACK, OPT_BYPASS,
		OPT_NO_STORE, OPT_STRICT, OPT_TAG, OPT_TIMEOUT, OPT_STORE, OPT_CONFIG, OPT_METRICS,
	};
	/* until vr-cache moves onto lib/cli: the transform options from
	 * the parameter table */
	struct option lo[64];
	char shortopts[64] = "";
	int nlo = 0;
	for (const struct vr_opt *t = vr_params_options(); t->name; t++) {
		lo[nlo++] = (struct option){t->name, required_argument, NULL, t->letter ? t->letter : 0x1000 + nlo};
		if (t->letter)
			snprintf(shortopts + strlen(shortopts), 8, "%c:", t->letter);
	}
	static const struct option lo_rest[] = {
		{"print-key", no_argument, NULL, OPT_PRINT_KEY},
		{"range", required_argument, NULL, OPT_RANGE},
		{"headers", no_argument, NULL, OPT_HEADERS},
		{"json", no_argument, NULL, OPT_JSON},
		{"multipart", no_argument, NULL, OPT_MULTIPART},
		{"output", required_argument, NULL, 'o'},
		{"wait", required_argument, NULL, OPT_WAIT},
		{"no-wait-fallback", no_argument, NULL, OPT_NO_WAIT_FALLBACK},
		{"bypass", no_argument, NULL, OPT_BYPASS},
		{"no-store", no_argument, NULL, OPT_NO_STORE},
		{"strict", no_argument, NULL, OPT_STRICT},
		{"tag", required_argument, NULL, OPT_TAG},
		{"timeout", required_argument, NULL, OPT_TIMEOUT},
		{"store", required_argument, NULL, OPT_STORE},
		{"config", required_argument, NULL, OPT_CONFIG},
		{"metrics", required_argument, NULL, OPT_METRICS},
		{"quiet", no_argument, NULL, 'q'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	memcpy(lo + nlo, lo_rest, sizeof lo_rest);
	strcat(shortopts, "o:qvh");
	int ch, idx;
	while ((ch = getopt_long(argc, argv, shortopts, lo, &idx)) != -1) {
		const char *name = ch == 'Q' ? NULL
				   : ch >= 0x1000 ? lo[ch - 0x1000 - 1].name
						  : vr_params_letter_name(ch);
		switch (name ? 0 : ch) {
		case 0: break; /* a transform option: below */
		case 'Q':
			if (nset == MAX_SETTINGS) {
				vr_error("too many parameters");
				return vr_usage_hint();
			}
			set[nset++] = (struct setting){NULL, optarg};
			break;
		case OPT_PRINT_KEY: print_key = 1; break;
		case OPT_RANGE: range_text = optarg; break;
		case OPT_HEADERS: headers = 1; break;
		case OPT_JSON: json = 1; break;
		case OPT_MULTIPART: multipart = 1; break;
		case 'o': output = optarg; break;
		case OPT_WAIT:
			if (vr_parse_seconds(optarg, &co.wait) < 0 || co.wait < 0 || co.wait > 86400) {
				vr_error("--wait: '%s' is not a duration of 0 to 86400 seconds", optarg);
				return vr_usage_hint();
			}
			break;
		case OPT_NO_WAIT_FALLBACK: co.no_wait_fallback = 1; break;
		case OPT_BYPASS: co.bypass = 1; break;
		case OPT_NO_STORE: co.no_store = 1; break;
		case OPT_STRICT: co.strict = 1; break;
		case OPT_TAG:
			if (ntags == MAX_TAGS || !*optarg || strlen(optarg) > VR_STORE_TAG_MAX) {
				vr_error("--tag: at most %d tags of 1 to %d bytes", MAX_TAGS,
					 VR_STORE_TAG_MAX);
				return vr_usage_hint();
			}
			tags[ntags++] = optarg;
			break;
		case OPT_TIMEOUT:
			if (vr_parse_seconds(optarg, &co.transform_timeout) < 0 ||
			    co.transform_timeout < 0 || co.transform_timeout > 86400) {
				vr_error("--timeout: '%s' is not a duration of 0 to 86400 seconds", optarg);
				return vr_usage_hint();
			}
			break;
		case OPT_STORE: c->store_path = optarg; break;
		case OPT_CONFIG: c->config_path = optarg; break;
		case OPT_METRICS: vr_metrics_set_path(optarg); break;
		case 'q': vr_log_set_verbosity(VR_QUIET); break;
		case 'v': vr_log_set_verbosity(vr_log_verbosity() + 1); break;
		case 'h': usage(); return VR_OK;
		default: return vr_usage_hint();
		}
		if (name) {
			if (nset == MAX_SETTINGS) {
				vr_error("too many parameters");
				return vr_usage_hint();
			}
			set[nset++] = (struct setting){name, optarg};
		}
	}
	if (optind >= argc) {
		vr_error("get: missing SOURCE");
		return vr_usage_hint();
	}
	const char *source = argv[optind++];
	if (optind < argc) {
		vr_error("get: unexpected argument '%s'", argv[optind]);
		return vr_usage_hint();
	}
	char err[1024];
	int rc = load_config(c);
	if (rc)
		return rc;
	struct vr_range_set *rs = NULL;
	if (range_text) {
		rs = calloc(1, sizeof *rs);
		if (!rs) {
			vr_error("out of memory");
			return VR_EFAIL;
		}
		if (vr_range_parse(range_text, rs, err, sizeof err) != VR_RANGE_OK) {
			vr_error("%s", err);
			free(rs);
			return VR_EDATA;
		}
	}
	/* options given: the source's query first, then the options, then
	 * finalize; none: lib/cache reads the query alone (or caches raw) */
	struct vr_params p;
	int have_params = nset > 0;
	if (have_params) {
		char query[4096];
		vr_params_init(&p);
		rc = vr_cache_source_query(c->cfg, source, query, sizeof query, err, sizeof err);
		if (!rc && query[0])
			rc = vr_params_parse_query(&p, &c->lim, query, NULL, err, sizeof err);
		for (int i = 0; !rc && i < nset; i++)
			rc = set[i].name ? vr_params_set(&p, &c->lim, set[i].name, set[i].value, 0, err,
							 sizeof err)
					 : vr_params_parse_query(&p, &c->lim, set[i].value, NULL, err,
								 sizeof err);
		if (!rc)
			rc = vr_params_finalize(&p, &c->lim, c->cfg, err, sizeof err);
		if (rc) {
			vr_error("%s", err);
			if (rc == VR_EUSAGE)
				vr_usage_hint();
			free(rs);
			return rc;
		}
	}
	co.store_path = c->store_path;
	co.cfg = c->cfg;
	co.limits = &c->lim;
	co.tags = tags;
	co.ntags = ntags;
	struct vr_cache *cache = NULL;
	if ((rc = vr_cache_open(&cache, &co, err, sizeof err))) {
		vr_error("%s", err);
		free(rs);
		return rc;
	}
	struct vr_cache_request req = {
		.source = source,
		.params = have_params ? &p : NULL,
		.range = rs,
		.out_fd = -1,
		.headers = headers,
		.json = json,
		.multipart = multipart,
	};
	if (print_key) {
		char key[VR_CACHE_KEY_MAX];
		rc = vr_cache_key(cache, &req, key, sizeof key, err, sizeof err);
		if (rc)
			vr_error("%s", err);
		else {
			printf("%s\n", key);
			rc = fflush(stdout) == 0 ? VR_OK : VR_EIO;
		}
		vr_cache_close(cache);
		free(rs);
		return rc;
	}
	struct vr_output out;
	if ((rc = vr_output_open(&out, output))) {
		vr_cache_close(cache);
		free(rs);
		return rc;
	}
	vr_stream_opened();
	req.out_fd = out.fd;
	struct vr_cache_outcome *oc = calloc(1, sizeof *oc);
	if (!oc) {
		vr_error("out of memory");
		rc = VR_EFAIL;
	} else {
		rc = vr_cache_get(cache, &req, oc);
		if (rc)
			vr_error("%s", oc->error[0] ? oc->error : "failed");
		if (oc->store_failed)
			vr_warn("the result was served but not stored: %s", oc->store_error);
		vr_info("%s: %s", oc->key, vr_cache_result_name(oc->result));
		metrics_outcome(oc);
	}
	if (rc == VR_OK || rc == VR_ERANGE) {
		int crc = vr_output_commit(&out);
		if (!rc)
			rc = crc;
	} else {
		vr_output_abort(&out);
	}
	vr_stream_closed();
	free(oc);
	vr_cache_close(cache);
	free(rs);
	return rc;
}

/* Options of the tidying commands: --store, --config, --metrics, -q, -v. */
static int tidy_opts(struct ctx *c, int argc, char **argv, const struct option *extra,
		     size_t nextra, int (*on)(void *, int, const char *), void *arg)
{
	enum { OPT_STORE = 300, OPT_CONFIG, OPT_METRICS };
	struct option lo[16];
	size_t n = 0;
	lo[n++] = (struct option){"store", required_argument, NULL, OPT_STORE};
	lo[n++] = (struct option){"config", required_argument, NULL, OPT_CONFIG};
	lo[n++] = (struct option){"metrics", required_argument, NULL, OPT_METRICS};
	lo[n++] = (struct option){"quiet", no_argument, NULL, 'q'};
	lo[n++] = (struct option){"verbose", no_argument, NULL, 'v'};
	lo[n++] = (struct option){"help", no_argument, NULL, 'h'};
	for (size_t i = 0; i < nextra && n < 15; i++)
		lo[n++] = extra[i];
	lo[n] = (struct option){NULL, 0, NULL, 0};
	int ch;
	while ((ch = getopt_long(argc, argv, "qvh", lo, NULL)) != -1) {
		switch (ch) {
		case OPT_STORE: c->store_path = optarg; break;
		case OPT_CONFIG: c->config_path = optarg; break;
		case OPT_METRICS: vr_metrics_set_path(optarg); break;
		case 'q': vr_log_set_verbosity(VR_QUIET); break;
		case 'v': vr_log_set_verbosity(vr_log_verbosity() + 1); break;
		case 'h': usage(); return -1;
		default:
			if (on && ch >= 400 && on(arg, ch, optarg) == 0)
				break;
			return vr_usage_hint();
		}
	}
	return 0;
}

static int open_store(struct ctx *c, struct vr_store **st, int create)
{
	char err[1024];
	int rc = create ? vr_store_open(st, c->store_path, err, sizeof err)
			: vr_store_open_existing(st, c->store_path, err, sizeof err);
	if (rc)
		vr_error("%s", err);
	return rc;
}

static int cmd_invalidate(struct ctx *c, int argc, char **argv)
{
	int rc = tidy_opts(c, argc, argv, NULL, 0, NULL, NULL);
	if (rc)
		return rc < 0 ? VR_OK : rc;
	if (optind + 1 != argc) {
		vr_error("invalidate: give one SOURCE");
		return vr_usage_hint();
	}
	if ((rc = load_config(c)))
		return rc;
	char err[1024], canon[4096];
	if ((rc = vr_cache_canonical_source(c->cfg, argv[optind], canon, sizeof canon, err,
					    sizeof err))) {
		vr_error("%s", err);
		return rc;
	}
	struct vr_store *st;
	if ((rc = open_store(c, &st, 1)))
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

struct purge_args {
	const char *tag, *source;
};

static int purge_on(void *arg, int ch, const char *val)
{
	struct purge_args *a = arg;
	if (ch == 400)
		a->tag = val;
	else if (ch == 401)
		a->source = val;
	else
		return -1;
	return 0;
}

static int cmd_purge(struct ctx *c, int argc, char **argv)
{
	static const struct option extra[] = {
		{"tag", required_argument, NULL, 400},
		{"source", required_argument, NULL, 401},
	};
	struct purge_args a = {0};
	int rc = tidy_opts(c, argc, argv, extra, 2, purge_on, &a);
	if (rc)
		return rc < 0 ? VR_OK : rc;
	if ((!a.tag) == (!a.source) || optind < argc) {
		vr_error("purge: give --tag T or --source S");
		return vr_usage_hint();
	}
	char tag[VR_STORE_TAG_MAX + 8 + 4096];
	if (a.source) {
		char err[1024], canon[4096];
		if ((rc = load_config(c)))
			return rc;
		if ((rc = vr_cache_canonical_source(c->cfg, a.source, canon, sizeof canon, err,
						    sizeof err))) {
			vr_error("%s", err);
			return rc;
		}
		snprintf(tag, sizeof tag, "source:%s", canon);
		tag[VR_STORE_TAG_MAX] = '\0'; /* as the tag was stored (cut to its bound) */
	} else {
		snprintf(tag, sizeof tag, "%s", a.tag);
	}
	struct vr_store *st;
	if ((rc = open_store(c, &st, 0)))
		return rc;
	uint64_t n = 0;
	rc = vr_store_purge_tag(st, tag, &n);
	if (rc)
		vr_error("%s", vr_store_error(st));
	else
		vr_info("%" PRIu64 " entries removed", n);
	vr_metrics_int("removed", (int64_t)n);
	vr_store_close(st);
	return rc;
}

static int gc_on(void *arg, int ch, const char *val)
{
	(void)val;
	if (ch != 400)
		return -1;
	*(int *)arg = 1;
	return 0;
}

static int cmd_gc(struct ctx *c, int argc, char **argv)
{
	static const struct option extra[] = {{"vacuum", no_argument, NULL, 400}};
	int vacuum = 0;
	int rc = tidy_opts(c, argc, argv, extra, 1, gc_on, &vacuum);
	if (rc)
		return rc < 0 ? VR_OK : rc;
	if (optind < argc) {
		vr_error("gc: unexpected argument '%s'", argv[optind]);
		return vr_usage_hint();
	}
	struct vr_store *st;
	if ((rc = open_store(c, &st, 0)))
		return rc;
	uint64_t old = 0, neg = 0;
	struct vr_gc_report r;
	memset(&r, 0, sizeof r);
	if ((rc = vr_store_gc_versions(st, &old)) || (rc = vr_store_negative_gc(st, &neg)) ||
	    (rc = vr_store_gc(st, vacuum, &r)))
		vr_error("%s", vr_store_error(st));
	else
		vr_info("removed %" PRIu64 " old versions, %" PRIu64 " expired, %" PRIu64
			" abandoned, %" PRIu64 " stale locks, %" PRIu64 " remembered failures",
			old, r.expired, r.abandoned, r.stale_locks, neg);
	vr_metrics_int("old_versions", (int64_t)old);
	vr_metrics_int("expired", (int64_t)r.expired);
	vr_metrics_int("abandoned", (int64_t)r.abandoned);
	vr_metrics_int("stale_locks", (int64_t)r.stale_locks);
	vr_metrics_int("negative_expired", (int64_t)neg);
	vr_store_close(st);
	return rc;
}

/* ---- stats ---- */

#define HIST_BUCKETS 2400 /* log-spaced wall_ms: 1% steps from 1 ms up past a day */

static int hist_bucket(double ms)
{
	int b = ms <= 1 ? 0 : (int)(log(ms) / log(1.01)) + 1;
	return b >= HIST_BUCKETS ? HIST_BUCKETS - 1 : b;
}

static double hist_value(int b) { return b == 0 ? 1 : pow(1.01, b); }

static double hist_pct(const uint64_t *h, uint64_t n, double pct)
{
	if (!n)
		return 0;
	uint64_t want = (uint64_t)ceil(pct * (double)n), seen = 0;
	if (!want)
		want = 1;
	for (int b = 0; b < HIST_BUCKETS; b++) {
		seen += h[b];
		if (seen >= want)
			return hist_value(b);
	}
	return hist_value(HIST_BUCKETS - 1);
}

static int json_field(const char *line, const char *name, char *out, size_t len)
{
	char pat[64];
	snprintf(pat, sizeof pat, "\"%s\":", name);
	const char *p = strstr(line, pat);
	if (!p)
		return 0;
	p += strlen(pat);
	size_t n = 0;
	if (*p == '"') {
		p++;
		while (p[n] && p[n] != '"')
			n++;
	} else {
		while (p[n] && p[n] != ',' && p[n] != '}')
			n++;
	}
	if (n >= len)
		n = len - 1;
	memcpy(out, p, n);
	out[n] = '\0';
	return 1;
}

struct stats_args {
	int json;
	const char *metrics_file;
};

static int stats_on(void *arg, int ch, const char *val)
{
	struct stats_args *a = arg;
	if (ch == 400)
		a->json = 1;
	else if (ch == 401)
		a->metrics_file = val;
	else
		return -1;
	return 0;
}

static int cmd_stats(struct ctx *c, int argc, char **argv)
{
	static const struct option extra[] = {
		{"json", no_argument, NULL, 400},
		{"metrics-file", required_argument, NULL, 401},
	};
	struct stats_args a = {0};
	int rc = tidy_opts(c, argc, argv, extra, 2, stats_on, &a);
	if (rc)
		return rc < 0 ? VR_OK : rc;
	if (optind < argc) {
		vr_error("stats: unexpected argument '%s'", argv[optind]);
		return vr_usage_hint();
	}
	uint64_t entries = 0, bytes = 0;
	struct vr_store *st;
	if ((rc = open_store(c, &st, 0)))
		return rc;
	rc = vr_store_totals(st, &entries, &bytes);
	if (rc)
		vr_error("%s", vr_store_error(st));
	vr_store_close(st);
	if (rc)
		return rc;
	uint64_t requests = 0, hits = 0, misses = 0, coalesced = 0, errors = 0, negative = 0,
		 bypass = 0, evictions = 0;
	uint64_t *hist = NULL;
	if (a.metrics_file) {
		FILE *f = fopen(a.metrics_file, "r");
		if (!f) {
			vr_error("%s: %m", a.metrics_file);
			return VR_ENOTFOUND;
		}
		hist = calloc(HIST_BUCKETS, sizeof *hist);
		char *line = NULL;
		size_t cap = 0;
		char v[64];
		while (hist && getline(&line, &cap, f) > 0) {
			if (!json_field(line, "result", v, sizeof v))
				continue; /* not a get or warm job line */
			requests++;
			if (!strcmp(v, "hit"))
				hits++;
			else if (!strcmp(v, "miss"))
				misses++;
			else if (!strcmp(v, "coalesced"))
				coalesced++;
			else if (!strcmp(v, "negative"))
				negative++;
			else if (!strcmp(v, "bypass"))
				bypass++;
			else
				errors++;
			if (json_field(line, "wall_ms", v, sizeof v))
				hist[hist_bucket(strtod(v, NULL))]++;
			if (json_field(line, "lru_evictions", v, sizeof v))
				evictions += strtoull(v, NULL, 10);
		}
		free(line);
		fclose(f);
		if (!hist) {
			vr_error("out of memory");
			return VR_EFAIL;
		}
	}
	double ratio = requests ? (double)(hits + coalesced) / (double)requests : 0;
	double p50 = hist ? hist_pct(hist, requests, 0.50) : 0,
	       p95 = hist ? hist_pct(hist, requests, 0.95) : 0;
	if (a.json) {
		struct vr_json j;
		vr_json_begin(&j);
		vr_json_uint(&j, "entries", entries);
		vr_json_uint(&j, "bytes", bytes);
		if (a.metrics_file) {
			char num[32];
			vr_json_uint(&j, "requests", requests);
			vr_json_uint(&j, "hits", hits);
			vr_json_uint(&j, "misses", misses);
			vr_json_uint(&j, "coalesced", coalesced);
			vr_json_uint(&j, "negative", negative);
			vr_json_uint(&j, "bypass", bypass);
			vr_json_uint(&j, "errors", errors);
			snprintf(num, sizeof num, "%.4f", ratio);
			vr_json_raw(&j, "hit_ratio", num);
			vr_json_int(&j, "p50_wall_ms", (int64_t)llround(p50));
			vr_json_int(&j, "p95_wall_ms", (int64_t)llround(p95));
			vr_json_uint(&j, "lru_evictions", evictions);
		}
		vr_json_end(&j);
		printf("%s\n", j.buf);
	} else {
		printf("entries      %" PRIu64 "\n", entries);
		printf("bytes        %" PRIu64 "\n", bytes);
		if (a.metrics_file) {
			printf("requests     %" PRIu64 "\n", requests);
			printf("hits         %" PRIu64 "\n", hits);
			printf("misses       %" PRIu64 "\n", misses);
			printf("coalesced    %" PRIu64 "\n", coalesced);
			printf("negative     %" PRIu64 "\n", negative);
			printf("bypass       %" PRIu64 "\n", bypass);
			printf("errors       %" PRIu64 "\n", errors);
			printf("hit ratio    %.4f\n", ratio);
			printf("p50 wall_ms  %.0f\n", p50);
			printf("p95 wall_ms  %.0f\n", p95);
			printf("evictions    %" PRIu64 "\n", evictions);
		}
	}
	free(hist);
	return fflush(stdout) == 0 ? VR_OK : VR_EIO;
}

static int cmd_warm(struct ctx *c, int argc, char **argv)
{
#if HAVE_WARM
	int rc = load_config(c);
	if (rc)
		return rc;
	struct vr_cache_opts base = {
		.store_path = c->store_path,
		.cfg = c->cfg,
		.limits = &c->lim,
		.wait = 60,
		.transform_timeout = 30,
	};
	return vr_warm_main(argc, argv, &base);
#else
	(void)c, (void)argc, (void)argv;
	vr_error("warm is not part of this build");
	return VR_EFAIL;
#endif
}

static const struct {
	const char *name;
	int (*fn)(struct ctx *, int, char **);
} commands[] = {
	{"get", cmd_get},	{"invalidate", cmd_invalidate}, {"purge", cmd_purge},
	{"gc", cmd_gc},		{"stats", cmd_stats},		{"warm", cmd_warm},
};

int main(int argc, char **argv)
{
	vr_log_init(argv[0]);
	vr_lifecycle_init();
	struct ctx c = {0};
	const char *metrics = NULL;
	enum { O_STORE = 256, O_CONFIG, O_METRICS };
	static const struct option lo[] = {
		{"store", required_argument, NULL, O_STORE},
		{"config", required_argument, NULL, O_CONFIG},
		{"metrics", required_argument, NULL, O_METRICS},
		{"quiet", no_argument, NULL, 'q'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int ch;
	while ((ch = getopt_long(argc, argv, "+qvhV", lo, NULL)) != -1) {
		switch (ch) {
		case O_STORE: c.store_path = optarg; break;
		case O_CONFIG: c.config_path = optarg; break;
		case O_METRICS: metrics = optarg; break;
		case 'q': vr_log_set_verbosity(VR_QUIET); break;
		case 'v': vr_log_set_verbosity(vr_log_verbosity() + 1); break;
		case 'h': usage(); return VR_OK;
		case 'V': vr_print_version(); return VR_OK;
		default: return vr_usage_hint();
		}
	}
	if (optind >= argc) {
		vr_error("missing COMMAND");
		return vr_usage_hint();
	}
	const char *name = argv[optind];
	int (*fn)(struct ctx *, int, char **) = NULL;
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (!strcmp(commands[i].name, name))
			fn = commands[i].fn;
	if (!fn) {
		vr_error("unknown command '%s'", name);
		return vr_usage_hint();
	}
	int sub_argc = argc - optind;
	char **sub_argv = argv + optind;
	optind = 0; /* glibc: 0 re-initialises getopt for the command's options */
	vr_metrics_start("vr-cache", metrics);
	vr_metrics_str("command", name);
	int rc = fn(&c, sub_argc, sub_argv);
	vr_config_free(c.cfg);
	if (vr_streams_open()) {
		vr_warn("%d streams still open at exit", vr_streams_open());
		vr_metrics_int("alert_open_streams", 1);
	}
	vr_metrics_finish(rc);
	vr_exit(rc);
}
