/* vr-fetch: stream a source (local file, http/https URL, or a request path
 * mapped through the [origin] sections of the config) to stdout, whole or
 * as byte ranges, with per-source timeouts, retries and fallback.
 *
 * The work is in lib/origin (what SOURCE names) and lib/fetch (opening,
 * ranges, retries, fallback); this file parses options, prints and maps
 * the result to the shared exit statuses. */
#include "cli.h"
#include "config.h"
#include "fetch.h"
#include "io.h"
#include "json.h"
#include "lifecycle.h"
#include "log.h"
#include "metrics.h"
#include "num.h"
#include "origin.h"
#include "output.h"
#include "range.h"
#include "status.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_HEADERS 64

static void usage(void)
{
	printf("Usage: %s [OPTIONS] SOURCE\n"
	       "Stream SOURCE to stdout: a local path, a file://, http:// or https:// URL, '-'\n"
	       "for stdin, or a request path matched against the [origin] sections of the\n"
	       "config, whose sources are tried in order.\n"
	       "\n"
	       "  -r, --range R           only the bytes of the RFC 9110 range set R\n"
	       "                          (bytes=0-499, 500-, -500, 0-99,200-299)\n"
	       "      --info              print size, content type, source, origin and\n"
	       "                          status as one JSON line instead of the body\n"
	       "  -H, --header 'N: V'     add a request header (repeatable; ${env:NAME}\n"
	       "                          expands from the environment)\n"
	       "      --max-bytes N       fail (exit 8) past N bytes of output (K, M, G)\n"
	       "      --timeout S         idle/connect timeout of one attempt (default 30s;\n"
	       "                          0: none)\n"
	       "      --max-time S        time limit of the whole fetch\n"
	       "      --retries N         retries per source after a transient failure\n"
	       "                          (default 2)\n"
	       "  -o, --output FILE       write to FILE (atomically) instead of stdout\n"
	       "      --config FILE       config file (default $VR_CONFIG, else\n"
	       "                          ~/.config/vr/vr.conf)\n"
	       "      --metrics FILE      append a JSON metrics line (default $VR_METRICS)\n"
	       "  -q, --quiet             only errors on stderr\n"
	       "  -v, --verbose           say which source served, and why others failed\n"
	       "  -h, --help              this help\n"
	       "  -V, --version           version\n"
	       "\n"
	       "Exit status: 0 ok, 1 unexpected failure, 2 usage error, 3 malformed range or\n"
	       "bad config, 4 range not satisfiable, 5 not found, 6 I/O or HTTP error,\n"
	       "7 timeout, 8 --max-bytes exceeded. See vr-fetch(1).\n",
	       vr_prog());
}

struct opts {
	const char *source;
	const char *range_text;
	int info;
	const char *headers[MAX_HEADERS];
	size_t nheaders;
	uint64_t max_bytes;
	double timeout;  /* < 0: config */
	double max_time; /* 0: none */
	long retries;    /* < 0: config */
	const char *output;
	const char *config;
	const char *metrics;
};

static int print_info(struct vr_fetch *f, const char *path)
{
	static struct vr_json j;
	struct vr_output out;
	int rc = vr_output_open(&out, path ? path : "-");
	if (rc)
		return rc;
	vr_json_begin(&j);
	if (vr_fetch_size(f) >= 0)
		vr_json_int(&j, "size", vr_fetch_size(f));
	else
		vr_json_null(&j, "size");
	vr_json_str(&j, "content_type", vr_fetch_content_type(f));
	vr_json_str(&j, "source", vr_fetch_source(f));
	vr_json_str(&j, "origin", vr_fetch_origin(f));
	vr_json_int(&j, "status", vr_fetch_status(f));
	vr_json_end(&j);
	if (j.len + 1 < sizeof j.buf)
		j.buf[j.len++] = '\n';
	int w = vr_write_full(out.fd, j.buf, j.len);
	if (w != VR_IO_OK && w != VR_IO_EPIPE) {
		vr_error("writing output: %m");
		vr_output_abort(&out);
		return VR_EIO;
	}
	return vr_output_commit(&out);
}

static void report_failure(const struct opts *o, struct vr_fetch *f, int rc)
{
	const char *msg = vr_fetch_error(f);
	if (rc == VR_ELIMIT && o->max_bytes)
		vr_error("%s (--max-bytes %" PRIu64 ")", msg, o->max_bytes);
	else if (rc == VR_ETIMEOUT && o->max_time > 0 && strstr(msg, "time limit"))
		vr_error("%s (--max-time)", msg);
	else
		vr_error("%s", msg[0] ? msg : "fetch failed");
}

static int run(const struct opts *o)
{
	struct vr_range_set *set = NULL;
	struct vr_config *cfg = NULL;
	struct vr_resolved res = {0};
	struct vr_fetch *f = NULL;
	struct vr_output out;
	int out_open = 0;
	char err[1024];
	int rc;

	if (o->range_text && o->range_text[strspn(o->range_text, " \t")]) {
		set = calloc(1, sizeof *set);
		if (!set) {
			vr_error("out of memory");
			return VR_EFAIL;
		}
		if (vr_range_parse(o->range_text, set, err, sizeof err) != VR_RANGE_OK) {
			vr_error("%s", err);
			rc = VR_EDATA;
			goto done;
		}
	}
	rc = vr_config_load(&cfg, o->config, err, sizeof err);
	if (rc) { /* 3 bad file, 5 a named file missing, 6 unreadable (vr.conf(5)) */
		vr_error("%s", err);
		goto done;
	}
	struct vr_origin_params params = {
		.timeout = o->timeout,
		.retries = o->retries,
		.headers = o->headers,
		.nheaders = o->nheaders,
	};
	rc = vr_origin_resolve(cfg, o->source, &params, &res, err, sizeof err);
	if (rc) {
		vr_error("%s", err);
		goto done;
	}
	if (res.origin)
		vr_info("%s: origin \"%s\", %zu source%s", o->source, res.origin, res.n,
			res.n == 1 ? "" : "s");
	if (!o->info) {
		rc = vr_output_open(&out, o->output);
		if (rc)
			goto done;
		out_open = 1;
	}
	struct vr_fetch_opts fo = {
		.range = set,
		.max_bytes = o->max_bytes,
		.max_time = o->max_time,
	};
	rc = vr_fetch_open(&f, &res, &fo);
	if (rc == VR_OK && !o->info) {
		uint64_t written = 0;
		rc = vr_fetch_to_fd(f, out.fd, &written);
		if (rc == VR_OK && vr_fetch_output_closed(f))
			vr_info("output closed after %" PRIu64 " bytes; stopping", written);
		else if (rc == VR_OK)
			vr_info("%" PRIu64 " bytes from %s", written, vr_fetch_source(f));
	}
	if (rc && f)
		report_failure(o, f, rc);
	else if (rc)
		vr_error("out of memory");
	if (rc == VR_OK && o->info)
		rc = print_info(f, o->output); /* prints its own errors */
	if (f) {
		vr_metrics_bytes_in(vr_fetch_bytes_in(f));
		vr_metrics_bytes_out(o->info ? 0 : vr_fetch_bytes_out(f));
		vr_metrics_str("source", vr_fetch_source(f));
		vr_metrics_int("attempts", vr_fetch_attempts(f));
		if (vr_fetch_origin(f))
			vr_metrics_str("origin", vr_fetch_origin(f));
		if (vr_fetch_status(f))
			vr_metrics_int("status", vr_fetch_status(f));
	}
	if (rc == VR_OK && vr_stop_requested())
		rc = VR_EFAIL;
done:
	vr_fetch_close(f);
	if (out_open) {
		if (rc == VR_OK)
			rc = vr_output_commit(&out);
		else
			vr_output_abort(&out);
	}
	vr_resolved_free(&res);
	vr_config_free(cfg);
	free(set);
	return rc;
}

int main(int argc, char **argv)
{
	vr_log_init(argv[0]);
	vr_lifecycle_init();

	struct opts o = {.timeout = -1, .retries = -1};
	enum { OPT_INFO = 256, OPT_MAXBYTES, OPT_TIMEOUT, OPT_MAXTIME, OPT_RETRIES, OPT_CONFIG, OPT_METRICS };
	static const struct option longopts[] = {
		{"range", required_argument, NULL, 'r'},
		{"info", no_argument, NULL, OPT_INFO},
		{"header", required_argument, NULL, 'H'},
		{"max-bytes", required_argument, NULL, OPT_MAXBYTES},
		{"timeout", required_argument, NULL, OPT_TIMEOUT},
		{"max-time", required_argument, NULL, OPT_MAXTIME},
		{"retries", required_argument, NULL, OPT_RETRIES},
		{"output", required_argument, NULL, 'o'},
		{"config", required_argument, NULL, OPT_CONFIG},
		{"metrics", required_argument, NULL, OPT_METRICS},
		{"quiet", no_argument, NULL, 'q'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int c;
	uint64_t u;
	double d;
	while ((c = getopt_long(argc, argv, "r:H:o:qvhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'r': o.range_text = optarg; break;
		case OPT_INFO: o.info = 1; break;
		case 'H':
			if (o.nheaders == MAX_HEADERS) {
				vr_error("--header: at most %d headers", MAX_HEADERS);
				return vr_usage_hint();
			}
			o.headers[o.nheaders++] = optarg;
			break;
		case OPT_MAXBYTES:
			if (vr_parse_size(optarg, &u) < 0 || u == 0) {
				vr_error("--max-bytes: '%s' is not a byte count of at least 1", optarg);
				return vr_usage_hint();
			}
			o.max_bytes = u;
			break;
		case OPT_TIMEOUT:
			if (vr_parse_seconds(optarg, &d) < 0 || d > 86400) {
				vr_error("--timeout: '%s' is not a duration up to 24h (like 30, 1.5s, 250ms)",
					 optarg);
				return vr_usage_hint();
			}
			o.timeout = d;
			break;
		case OPT_MAXTIME:
			if (vr_parse_seconds(optarg, &d) < 0 || d > 7 * 86400.0) {
				vr_error("--max-time: '%s' is not a duration (like 60, 2m, 1h)", optarg);
				return vr_usage_hint();
			}
			o.max_time = d;
			break;
		case OPT_RETRIES:
			if (vr_parse_u64(optarg, &u) < 0 || u > VR_ORIGIN_MAX_RETRIES) {
				vr_error("--retries: '%s' is not a number from 0 to %u", optarg,
					 VR_ORIGIN_MAX_RETRIES);
				return vr_usage_hint();
			}
			o.retries = (long)u;
			break;
		case 'o': o.output = optarg; break;
		case OPT_CONFIG: o.config = optarg; break;
		case OPT_METRICS: o.metrics = optarg; break;
		case 'q': vr_log_set_verbosity(VR_QUIET); break;
		case 'v': vr_log_set_verbosity(vr_log_verbosity() + 1); break;
		case 'h': usage(); return VR_OK;
		case 'V': vr_print_version(); return VR_OK;
		default: return vr_usage_hint();
		}
	}
	if (optind >= argc) {
		vr_error("missing SOURCE");
		return vr_usage_hint();
	}
	o.source = argv[optind++];
	if (optind < argc) {
		vr_error("unexpected argument '%s'", argv[optind]);
		return vr_usage_hint();
	}
	vr_metrics_start("vr-fetch", o.metrics);
	int rc = run(&o);
	vr_metrics_finish(rc);
	vr_exit(rc);
}
