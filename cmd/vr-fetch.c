/* vr-fetch: stream a source (local file, http/https URL, or a request path
 * mapped through the [origin] sections of the config) to stdout, whole or
 * as byte ranges, with per-source timeouts, retries and fallback.
 *
 * The work is in lib/request/origin (what SOURCE names) and lib/av/fetch (opening,
 * ranges, retries, fallback); this file parses options, prints and maps
 * the result to the shared exit statuses. */
#include "cli.h"
#include "config.h"
#include "defaults.h"
#include "fetch.h"
#include "http.h"
#include "io.h"
#include "json.h"
#include "lifecycle.h"
#include "log.h"
#include "metrics.h"
#include "num.h"
#include "origin.h"
#include "output.h"
#include "progress.h"
#include "range.h"
#include "status.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_HEADERS 64

struct opts {
	struct vr_cli_common common;
	const char *source;
	const char *range_text;
	int info;
	const char *headers[MAX_HEADERS];
	size_t nheaders;
	uint64_t max_bytes;    /* 0: no limit */
	double timeout;
	int timeout_given;     /* else the origin's (or [fetch]'s) timeout applies */
	double max_time;       /* 0: none */
	int64_t retries;
	int retries_given;     /* else the origin's (or [fetch]'s) retries apply */
	const char *output;
};

#define O(m) offsetof(struct opts, m)
static const struct vr_opt fetch_opts[] = {
	VR_OPT_RANGE(O(range_text)),
	{.name = "info", .kind = VR_OPT_FLAG, .off = O(info),
	 .help = "print size, content type, source, origin and status as "
		 "one JSON line instead of the body"},
	{.name = "header", .letter = 'H', .kind = VR_OPT_LIST, .arg = "'N: V'",
	 .off = O(headers), .count_off = O(nheaders), .max = MAX_HEADERS,
	 .help = "add a request header (repeatable; ${env:NAME} expands "
		 "from the environment)"},
	{.name = "max-bytes", .kind = VR_OPT_SIZE, .arg = "SIZE", .off = O(max_bytes), .lo = 1,
	 .help = "fail (exit 8) past SIZE bytes of output"},
	{.name = "timeout", .kind = VR_OPT_SECONDS, .arg = "S", .off = O(timeout),
	 .def = VR_DEFAULT_FETCH_TIMEOUT, .hi = 86400, .given_off = O(timeout_given),
	 .help = "idle/connect timeout of one attempt (0: none); when not "
		 "given, the config's ([origin], else [fetch]) if it sets one"},
	{.name = "max-time", .kind = VR_OPT_SECONDS, .arg = "S", .off = O(max_time),
	 .hi = 7 * 86400.0, .help = "time limit of the whole fetch (0: none)"},
	{.name = "retries", .kind = VR_OPT_COUNT, .arg = "N", .off = O(retries),
	 .def = VR_DEFAULT_FETCH_RETRIES, .hi = VR_ORIGIN_MAX_RETRIES,
	 .given_off = O(retries_given),
	 .help = "retries per source after a transient failure; when not "
		 "given, the config's ([origin], else [fetch]) if it sets one"},
	VR_OPT_OUTPUT(O(output)),
	{0},
};
#undef O

/* The --info object; failed: the fetch's exit status (0: it did not
 * fail), which gives the HTTP status it stands for (5 404, 6 502, 7 504,
 * ...; vr_http_status_for_exit), with the reason in "error", so that a
 * script reading it needs no exit-status mapping. */
static int print_info(struct vr_fetch *f, const char *path, const char *source, int failed)
{
	static struct vr_json j;
	struct vr_output out;
	char shown[1024];
	int rc = vr_output_open(&out, path ? path : "-");
	if (rc)
		return rc;
	vr_json_begin(&j);
	if (!failed && vr_fetch_size(f) >= 0)
		vr_json_int(&j, "size", vr_fetch_size(f));
	else
		vr_json_null(&j, "size");
	vr_json_str(&j, "content_type", failed ? NULL : vr_fetch_content_type(f));
	const char *src = f ? vr_fetch_source(f) : NULL;
	vr_json_str(&j, "source", src && *src ? src : vr_url_redact(source, shown, sizeof shown));
	vr_json_str(&j, "origin", f ? vr_fetch_origin(f) : NULL);
	vr_json_int(&j, "status", failed ? vr_http_status_for_exit(failed) : vr_fetch_status(f));
	if (failed)
		vr_json_str(&j, "error", f && vr_fetch_error(f)[0] ? vr_fetch_error(f) : "fetch failed");
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

/* --progress: bytes, rate and, when the output's length is known, percent
 * and ETA; at most twice a second, and once more at the end. */
struct meter {
	struct vr_fetch *f;
	const struct vr_range_set *set;
	double t0, last;
	int64_t total; /* -1 unknown */
	int known;     /* total was looked for */
};

static void meter_total(struct meter *m)
{
	int64_t size = vr_fetch_size(m->f);
	m->total = -1;
	if (size < 0)
		return;
	m->known = 1;
	if (!m->set || m->set->n == 0) {
		m->total = size;
		return;
	}
	struct vr_span spans[VR_RANGE_MAX];
	size_t n;
	if (vr_range_resolve(m->set, (uint64_t)size, spans, &n) != VR_RANGE_OK)
		return;
	m->total = 0;
	for (size_t i = 0; i < n; i++)
		m->total += (int64_t)(spans[i].end - spans[i].start + 1);
}

static void meter_draw(struct meter *m, uint64_t written, int final)
{
	double now = vr_now_ms();
	if (!final && now - m->last < 500)
		return;
	m->last = now;
	if (!m->known)
		meter_total(m);
	char text[256];
	vr_progress_line(STDERR_FILENO, vr_progress_transfer_text(text, sizeof text, written, m->total,
								     (now - m->t0) / 1000));
	if (final)
		vr_progress_line_end(STDERR_FILENO);
}

static void meter_written(void *arg, uint64_t written) { meter_draw(arg, written, 0); }

static int run_fetch(const struct opts *o)
{
	struct vr_range_set *set = NULL;
	struct vr_config *cfg = NULL;
	struct vr_resolved res = {0};
	struct vr_fetch *f = NULL;
	struct vr_output out;
	int out_open = 0;
	char err[1024];
	int rc;

	if ((rc = vr_range_option(o->range_text, &set, err, sizeof err))) {
		vr_error("%s", err);
		return rc;
	}
	rc = vr_config_load(&cfg, o->common.config, err, sizeof err);
	if (rc) { /* 3 bad file, 5 a named file missing, 6 unreadable (vr.conf(5)) */
		vr_error("%s", err);
		goto done;
	}
	struct vr_origin_params params = {
		.timeout = o->timeout_given ? o->timeout : -1,
		.retries = o->retries_given ? (long)o->retries : -1,
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
		.info = o->info,
	};
	struct meter m = {.set = set, .t0 = vr_now_ms(), .total = -1};
	int progress = !o->info && vr_cli_progress(&o->common);
	if (progress) {
		fo.on_written = meter_written;
		fo.on_written_arg = &m;
		m.last = m.t0; /* the first line after half a second */
	}
	rc = vr_fetch_open(&f, &res, &fo);
	if (rc == VR_OK && !o->info) {
		uint64_t written = 0;
		m.f = f;
		rc = vr_fetch_to_fd(f, out.fd, &written);
		if (progress)
			meter_draw(&m, written, 1);
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
		rc = print_info(f, o->output, o->source, 0); /* prints its own errors */
	else if (rc && rc != VR_EUSAGE && o->info)
		(void)print_info(f, o->output, o->source, rc); /* the exit status stays rc */
	/* the line names its source, also when it failed: what answered, or
	 * SOURCE as given (without credentials) */
	char shown[1024];
	const char *src = f ? vr_fetch_source(f) : NULL;
	vr_metrics_str("source", src && *src ? src : vr_url_redact(o->source, shown, sizeof shown));
	if (f) {
		vr_metrics_bytes_in(vr_fetch_bytes_in(f));
		vr_metrics_bytes_out(o->info ? 0 : vr_fetch_bytes_out(f));
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
	if (out_open)
		rc = vr_output_end(&out, rc);
	vr_resolved_free(&res);
	vr_config_free(cfg);
	free(set);
	return rc;
}

static int run(void *opts, int argc, char **argv)
{
	(void)argc;
	struct opts *o = opts;
	o->source = argv[0];
	return run_fetch(o);
}

static const struct vr_cli_prog prog = {
	.name = "vr-fetch",
	.operands = "SOURCE",
	.about = "Stream SOURCE to stdout: a local path, a file://, http:// or https:// URL, '-'\n"
		 "for stdin, or a request path matched against the [origin] sections of the\n"
		 "config, whose sources are tried in order.",
	.shared = VR_CLI_METRICS | VR_CLI_CONFIG | VR_CLI_PROGRESS,
	.min_args = 1,
	.max_args = 1,
	.tables = {{fetch_opts}},
	.run = run,
	.exits = "Exit status: 0 ok, 1 unexpected failure, 2 usage error, 3 malformed range or\n"
		 "bad config, 4 range not satisfiable, 5 not found, 6 I/O or HTTP error,\n"
		 "7 timeout, 8 --max-bytes exceeded.",
	.complete = VR_CLI_COMPLETE_FILES,
};

int main(int argc, char **argv)
{
	static struct opts o;
	vr_cli_main(&prog, argc, argv, &o);
}
