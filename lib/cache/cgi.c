/* vr-cache cgi (see cgi.h): one HTTP request from the CGI variables. */
#include "cgi.h"
#include "cache.h"
#include "config.h"
#include "io.h"
#include "key.h"
#include "lifecycle.h"
#include "log.h"
#include "lru.h"
#include "metrics.h"
#include "origin.h"
#include "range.h"
#include "status.h"
#include "httpreq.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define ALLOW "GET, HEAD, OPTIONS"

int vr_cgi_error_status(int exit_status, int transformed, int busy)
{
	if (exit_status == VR_EDATA && transformed)
		return 502;
	if (exit_status == VR_ETIMEOUT && busy)
		return 503;
	return vr_http_status_for_exit(exit_status);
}

/* An answer of its own (no entry): status, the given lines, a short text
 * body (not for HEAD). */
static void answer(int status, const char *lines, int head_only, int with_text)
{
	struct vr_http_head *h = malloc(sizeof *h);
	if (!h)
		return;
	const char *text = with_text ? vr_http_error_text(status) : NULL;
	vr_http_head_begin(h, status, 1);
	if (text) {
		vr_http_head_add(h, "Content-Type", "text/plain; charset=utf-8");
		vr_http_head_add(h, "Content-Length", "%zu", strlen(text));
	} else if (status != 204 && status != 304) {
		vr_http_head_add(h, "Content-Length", "0");
	}
	vr_http_head_add(h, "Cache-Control", "no-store");
	vr_http_head_lines(h, lines);
	vr_http_head_end(h);
	struct vr_sink s = {.fd = STDOUT_FILENO, .head = h->buf, .head_len = h->len};
	vr_sink_flush_head(&s);
	if (text && !head_only)
		vr_sink_write(&s, text, strlen(text));
	free(h);
}

static void answer_error(int status, const char *cors, int head_only, const char *why)
{
	char lines[2560];
	snprintf(lines, sizeof lines, "%s%s", status == 405 ? "Allow: " ALLOW "\r\n" : "",
		 cors ? cors : "");
	if (status == 503)
		strncat(lines, "Retry-After: 1\r\n", sizeof lines - strlen(lines) - 1);
	answer(status, lines, head_only, 1);
	vr_metrics_int("http_status", status);
	if (why)
		vr_info("HTTP %d: %s", status, why);
}

/* OPTIONS: a CORS preflight when it is one from an allowed origin, else
 * what the resource allows. */
static void answer_options(const struct vr_cgi_request *rq, const struct vr_http_policy *pol,
			   const char *cors)
{
	char lines[4096];
	if (rq->preflight_method && cors[0])
		snprintf(lines, sizeof lines,
			 "%sAccess-Control-Allow-Methods: " ALLOW "\r\n"
			 "Access-Control-Allow-Headers: Range, If-Match, If-None-Match, "
			 "If-Modified-Since, If-Unmodified-Since, If-Range, Cache-Control\r\n"
			 "Access-Control-Max-Age: %lld\r\nAllow: " ALLOW "\r\n",
			 cors, (long long)llround(pol->cors_max_age));
	else
		snprintf(lines, sizeof lines, "Allow: " ALLOW "\r\n%s", cors);
	answer(204, lines, 1, 0);
	vr_metrics_int("http_status", 204);
}

/* A Range header as HTTP takes it: the bytes unit, a valid set; anything
 * else is ignored (the whole representation, 200), as RFC 9110 14.2 says. */
static struct vr_range_set *http_range(const char *text)
{
	if (!text || strncasecmp(text, "bytes=", 6))
		return NULL;
	struct vr_range_set *rs = malloc(sizeof *rs);
	char err[256];
	if (rs && vr_range_parse(text, rs, err, sizeof err) == VR_RANGE_OK && rs->n)
		return rs;
	free(rs);
	return NULL;
}

/* The request path names a configured origin (never a local path or a URL
 * of the client's choosing): 0, or the status to answer. */
static int check_origin(const struct vr_config *cfg, const char *source, char *err,
			size_t errlen)
{
	struct vr_key_source *ks = malloc(sizeof *ks);
	if (!ks)
		return vr_errf(err, errlen, VR_EFAIL, "out of memory");
	int rc = vr_key_source(cfg, source, ks, NULL, err, errlen);
	if (!rc && !ks->origin[0])
		rc = vr_errf(err, errlen, VR_ENOTFOUND, "no [origin] of the config matches the path");
	free(ks);
	return rc;
}

static void metrics_outcome(const struct vr_cache_outcome *oc)
{
	vr_metrics_str("key", oc->key);
	vr_metrics_str("result", vr_cache_result_name(oc->result));
	vr_metrics_set_bytes_out(oc->bytes_out);
	vr_metrics_bytes_in(oc->bytes_in);
	vr_metrics_int("bytes_stored", (int64_t)oc->bytes_stored);
	vr_metrics_int("ttfb_ms", (int64_t)llround(oc->ttfb_ms));
	vr_metrics_int("transform_ms", (int64_t)llround(oc->transform_ms));
	vr_metrics_int("transformed", oc->transformed);
	vr_metrics_int("store_failed", oc->store_failed);
	if (oc->fallback)
		vr_metrics_str("fallback", "original");
}

struct cgi_run {
	struct vr_cgi_request rq;
	struct vr_http_policy pol;
	char cors[2048];
	char source[VR_CGI_PATH_MAX + VR_CGI_QUERY_MAX + 2];
	char err[1024];
	struct vr_cache_outcome oc;
};

static int serve(const struct vr_cgi_opts *o, struct cgi_run *x)
{
	int head_only = !strcmp(x->rq.method, "HEAD");
	snprintf(x->source, sizeof x->source, "%s%s%s", x->rq.path, x->rq.query[0] ? "?" : "",
		 x->rq.query);
	vr_metrics_str("path", x->rq.path);
	vr_metrics_str("method", x->rq.method);
	int rc = check_origin(o->cfg, x->source, x->err, sizeof x->err);
	if (rc) {
		answer_error(vr_cgi_error_status(rc, 0, 0), x->cors, head_only, x->err);
		return rc;
	}
	struct vr_cache_opts co = {
		.store_path = o->store_path,
		.cfg = o->cfg,
		.limits = o->limits,
		.wait = o->wait,
		.transform_timeout = o->transform_timeout,
		.no_query_bypass = !x->pol.allow_bypass,
		.bypass = x->pol.allow_bypass && vr_http_no_cache(x->rq.cache_control),
	};
	struct vr_cache *c = NULL;
	if ((rc = vr_cache_open(&c, &co, x->err, sizeof x->err))) {
		answer_error(500, x->cors, head_only, x->err);
		return rc;
	}
	struct vr_range_set *rs = head_only ? NULL : http_range(x->rq.range);
	struct vr_cache_http h = {
		.head_only = head_only,
		.cond = x->rq.cond,
		.extra_headers = x->cors,
		.key_header = x->pol.key_header,
		.filename = x->rq.filename,
	};
	struct vr_cache_request req = {
		.source = x->source,
		.range = rs,
		.out_fd = STDOUT_FILENO,
		.multipart = 1,
		.http = &h,
	};
	vr_stream_opened();
	rc = vr_cache_get(c, &req, &x->oc);
	vr_stream_closed();
	metrics_outcome(&x->oc);
	if (x->oc.store_failed)
		vr_warn("%s: served but not stored: %s", x->oc.key, x->oc.store_error);
	if (rc && !x->oc.head_sent) {
		/* a remembered failure came from the source as well */
		int from_source = x->oc.transformed || x->oc.result == VR_CACHE_NEGATIVE;
		int status = vr_cgi_error_status(rc, from_source, x->oc.busy);
		char lines[2560];
		snprintf(lines, sizeof lines, "%s", x->cors);
		if (status == 416 && x->oc.size >= 0) {
			/* the representation's size, so a client can ask again */
			char cr[64];
			snprintf(cr, sizeof cr, "Content-Range: bytes */%lld\r\n", (long long)x->oc.size);
			strncat(lines, cr, sizeof lines - strlen(lines) - 1);
		}
		answer_error(status, lines, head_only, NULL);
		vr_error("%s: %s", x->rq.path, x->oc.error[0] ? x->oc.error : "failed");
	} else if (rc && rc != VR_ERANGE) {
		/* the head is out: the server sees the body end short */
		vr_error("%s: %s (after the answer began)", x->rq.path,
			 x->oc.error[0] ? x->oc.error : "failed");
		vr_metrics_int("http_status", x->oc.http_status);
	} else {
		vr_metrics_int("http_status", x->oc.http_status);
		vr_info("%s: %s %d", x->oc.key, vr_cache_result_name(x->oc.result),
			x->oc.http_status);
	}
	free(rs);
	vr_cache_close(c);
	return rc;
}

int vr_cgi_serve(const struct vr_cgi_opts *o)
{
	struct cgi_run *x = calloc(1, sizeof *x);
	if (!x) {
		answer_error(500, NULL, 0, "out of memory");
		return VR_EFAIL;
	}
	x->oc.size = -1;
	int rc = vr_http_policy_load(&x->pol, o->cfg, x->err, sizeof x->err);
	if (rc) {
		vr_error("%s", x->err);
		answer_error(500, NULL, 0, NULL);
		goto done;
	}
	if ((rc = vr_cgi_read(&x->rq, getenv, x->err, sizeof x->err))) {
		vr_error("%s", x->err);
		answer_error(400, NULL, x->rq.method && !strcmp(x->rq.method, "HEAD"), NULL);
		goto done;
	}
	vr_http_cors(x->cors, sizeof x->cors, &x->pol, x->rq.origin);
	if (!strcmp(x->rq.method, "OPTIONS")) {
		answer_options(&x->rq, &x->pol, x->cors);
	} else if (strcmp(x->rq.method, "GET") && strcmp(x->rq.method, "HEAD")) {
		answer_error(405, x->cors, 0, x->rq.method);
		rc = VR_EUSAGE;
	} else {
		rc = serve(o, x);
	}
done:
	free(x);
	return rc;
}
