/* libFuzzer target: origin path templating (lib/request/origin). The input is
 * lines: a match regex, a request path, then source templates (and the
 * same lines as header templates). Each goes through the building blocks
 * (pattern compile/match, template expansion with every flag,
 * percent-decoding, template roots, header checks) and then end to end:
 * a config with one [origin] built from the lines, resolved for the path.
 *
 * The regexes that glibc's regcomp/regexec needed exponential time or
 * memory for were found here (tests/fuzz/regressions/origin); PCRE2's
 * match, depth and heap limits (lib/request/pattern) now bound them: any
 * regex is fed, up to 256 bytes, and a match either ends within the
 * limits or fails with a message. */
#include "config.h"
#include "origin.h"
#include "status.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAIL(...)                                            \
	do {                                                 \
		fprintf(stderr, "fuzz_origin: " __VA_ARGS__); \
		fputc('\n', stderr);                         \
		abort();                                     \
	} while (0)

#define MAX_LINES 10
#define OUT_MAX 512

static int origin_regex_ok(const char *re) { return strlen(re) <= 256; }

static void origin_expand_all(const char *tmpl, const struct vr_pattern *p, const char *subject,
		       const regmatch_t *m)
{
	static const int flags[] = {0, VR_EXPAND_ENV, VR_EXPAND_URL_ENCODE, VR_EXPAND_PCT_DECODE,
				    VR_EXPAND_ENV | VR_EXPAND_URL_ENCODE, VR_EXPAND_KEEP_ENV};
	char out[OUT_MAX], err[512];
	for (size_t i = 0; i < sizeof flags / sizeof *flags; i++) {
		memset(out, 'X', sizeof out);
		err[0] = '\0';
		int r = vr_template_expand(tmpl, p, subject, m, flags[i], out, sizeof out, err, sizeof err);
		if (r == 0 && !memchr(out, '\0', sizeof out))
			FAIL("expand: output not terminated");
		if (r != 0 && r != -1 && r != -2)
			FAIL("expand returned %d", r);
		if (r != 0 && !err[0])
			FAIL("expand returned %d without a message", r);
		/* a tiny buffer must fail cleanly, never overrun */
		char small[4];
		(void)vr_template_expand(tmpl, p, subject, m, flags[i], small, sizeof small, err, sizeof err);
	}
	vr_template_root(tmpl, out, sizeof out);
	vr_template_root(tmpl, out, 2);
	(void)vr_header_check(tmpl, err, sizeof err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int env_done;
	if (!env_done) {
		setenv("VR_FUZZ_TOKEN", "s3cr%t value", 1);
		env_done = 1;
	}
	if (memchr(data, '\0', size))
		return 0; /* config text and regexes are C strings */
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	char *line[MAX_LINES];
	size_t n = 0;
	for (char *save = NULL, *l = strtok_r(text, "\n", &save); l && n < MAX_LINES;
	     l = strtok_r(NULL, "\n", &save))
		line[n++] = l;
	if (n < 2) {
		free(text);
		return 0;
	}
	const char *re = line[0], *path = line[1];
	char err[1024], buf[OUT_MAX];

	/* percent-decoding of the path, also into a too-small buffer */
	long d = vr_percent_decode(path, strlen(path), buf, sizeof buf);
	if (d >= 0 && ((size_t)d >= sizeof buf || strlen(buf) > (size_t)d))
		FAIL("percent_decode returned %ld", d);
	(void)vr_percent_decode(path, strlen(path), buf, 3);

	/* the building blocks */
	int have_re = origin_regex_ok(re);
	if (have_re) {
		struct vr_pattern p;
		memset(&p, 0, sizeof p);
		if (vr_pattern_compile(&p, re, err, sizeof err) == 0) {
			if (p.ngroups > VR_ORIGIN_MAX_GROUPS)
				FAIL("%zu groups", p.ngroups);
			regmatch_t m[VR_ORIGIN_MAX_GROUPS + 1];
			err[0] = '\0';
			int hit = vr_pattern_exec(&p, path, m, err, sizeof err);
			if (hit < 0 && !err[0])
				FAIL("match failed without a message");
			if (hit != 0 && hit != 1 && hit != -1)
				FAIL("match returned %d", hit);
			if (hit < 0)
				hit = 0;
			for (size_t i = 2; i < n; i++)
				origin_expand_all(line[i], hit ? &p : NULL, hit ? path : NULL, hit ? m : NULL);
		}
		vr_pattern_free(&p);
	} else {
		for (size_t i = 2; i < n; i++)
			origin_expand_all(line[i], NULL, NULL, NULL);
	}

	/* end to end: SOURCE without a config (URL, file://, a path) ... */
	struct vr_origin_params op = {.timeout = -1, .retries = -1};
	struct vr_resolved res;
	memset(&res, 0, sizeof res);
	err[0] = '\0';
	int r = vr_origin_resolve(NULL, path, &op, &res, err, sizeof err);
	if (r && !err[0])
		FAIL("resolve returned %d without a message", r);
	vr_resolved_free(&res);

	/* ... and with an [origin] made of the lines, headers from -H too */
	if (have_re) {
		size_t cap = size * 2 + 256, len = 0;
		char *conf = malloc(cap);
		if (!conf)
			FAIL("out of memory");
		len += (size_t)snprintf(conf + len, cap - len, "[origin \"fuzz\"]\nmatch = %s\n", re);
		for (size_t i = 2; i < n; i++)
			len += (size_t)snprintf(conf + len, cap - len, "%s = %s\n",
						(i & 1) ? "header" : "source", line[i]);
		struct vr_config *cfg = NULL;
		if (vr_config_parse(&cfg, conf, len, "fuzz.conf", err, sizeof err) == 0) {
			const char *hdr[2] = {n > 2 ? line[2] : "X-A: b", "X-Token: ${env:VR_FUZZ_TOKEN}"};
			struct vr_origin_params hp = {.timeout = -1, .retries = -1, .headers = hdr, .nheaders = 2};
			memset(&res, 0, sizeof res);
			err[0] = '\0';
			r = vr_origin_resolve(cfg, path, &hp, &res, err, sizeof err);
			if (r && !err[0])
				FAIL("resolve with the origin returned %d without a message", r);
			if (!r && (res.n == 0 || res.n > VR_ORIGIN_MAX_SOURCES))
				FAIL("resolve gave %zu sources", res.n);
			for (size_t i = 0; !r && i < res.n; i++) {
				if (!res.src[i].location)
					FAIL("source %zu without a location", i);
				/* the headers kept for a request expand, or fail
				 * with a message and a config status */
				char *h = NULL;
				err[0] = '\0';
				int hr = vr_source_headers(&res.src[i], &h, err, sizeof err);
				if (hr && (hr != VR_EDATA || !err[0] || h))
					FAIL("source headers returned %d", hr);
				free(h);
			}
			vr_resolved_free(&res);
		}
		vr_config_free(cfg);
		free(conf);
	}
	free(text);
	return 0;
}
