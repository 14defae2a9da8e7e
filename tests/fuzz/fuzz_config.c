/* libFuzzer target: the INI config parser (lib/request/config) on arbitrary bytes,
 * then everything that reads a config: the getters, key checks, typed
 * values, [limits] (lib/request/params), [derivative "NAME"] presets through
 * finalize, and [origin "NAME"] resolution of a few request paths
 * (lib/request/origin). */
#include "config.h"
#include "origin.h"
#include "params.h"
#include "status.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAIL(...)                                            \
	do {                                                 \
		fprintf(stderr, "fuzz_config: " __VA_ARGS__); \
		fputc('\n', stderr);                         \
		abort();                                     \
	} while (0)

static void config_walk(const struct vr_config *cfg, const char *section, const char *sub,
			 const char *const *keys)
{
	char err[1024];
	for (const char *const *k = keys; *k; k++) {
		const char *last = vr_config_get(cfg, section, sub, *k);
		const char *v = NULL;
		size_t n = 0;
		while ((v = vr_config_get_nth(cfg, section, sub, *k, n)) != NULL && n < 100000)
			n++;
		if (last && (n == 0 || strcmp(last, vr_config_get_nth(cfg, section, sub, *k, n - 1))))
			FAIL("get and get_nth disagree on [%s] %s", section, *k);
		(void)vr_config_where(cfg, section, sub, *k);
		double s = 0;
		uint64_t b = 0;
		err[0] = '\0';
		if (vr_config_seconds(cfg, section, sub, *k, &s, err, sizeof err) && !err[0])
			FAIL("seconds failed without a message");
		err[0] = '\0';
		if (vr_config_size(cfg, section, sub, *k, &b, err, sizeof err) && !err[0])
			FAIL("size failed without a message");
	}
	(void)vr_config_check_keys(cfg, section, sub, keys, err, sizeof err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vr_config *cfg = NULL;
	char err[1024] = "";
	int r = vr_config_parse(&cfg, (const char *)data, size, "fuzz.conf", err, sizeof err);
	if (!cfg)
		FAIL("parse left no config (%d)", r);
	if (r) {
		if (!err[0])
			FAIL("parse returned %d without a message", r);
		(void)vr_config_get(cfg, "a", NULL, "k"); /* still usable */
		vr_config_free(cfg);
		return 0;
	}
	(void)vr_config_source(cfg);

	static const char *const plain[] = {"timeout", "retries", "ttl-ok", "ttl-client-error",
					    "ttl-server-error", "max-bytes", "chunk-size", NULL};
	static const char *const limits[] = {"min-dimension", "max-dimension", "max-input-pixels",
					     "max-output-pixels", "max-duration", "max-input-bytes",
					     "max-tiles", NULL};
	static const char *const origin[] = {"match", "source", "root", "timeout", "retries", "header",
					     "ttl-ok", "ttl-client-error", "ttl-server-error", NULL};
	static const char *const deriv[] = {"mode", "width", "height", "fit", "time", "format", NULL};
	config_walk(cfg, "cache", NULL, plain);
	config_walk(cfg, "fetch", NULL, plain);
	config_walk(cfg, "store", NULL, plain);
	config_walk(cfg, "limits", NULL, limits);

	struct vr_limits lim;
	vr_limits_default(&lim);
	err[0] = '\0';
	if (vr_limits_load(&lim, cfg, err, sizeof err)) {
		if (!err[0])
			FAIL("limits_load failed without a message");
		vr_limits_default(&lim);
	}

	const char *names[16];
	size_t n = vr_config_names(cfg, "derivative", names, 16);
	for (size_t i = 0; i < n && i < 16; i++) {
		config_walk(cfg, "derivative", names[i], deriv);
		struct vr_params p;
		vr_params_init(&p);
		err[0] = '\0';
		if (vr_params_set(&p, &lim, "derivative", names[i], 1, err, sizeof err) == 0 &&
		    vr_params_finalize(&p, &lim, cfg, err, sizeof err) == 0) {
			char key[VR_PARAMS_CANONICAL_MAX];
			int k = vr_params_canonical(&p, key, sizeof key);
			if (k <= 0 || k >= (int)sizeof key)
				FAIL("canonical of derivative '%s' returned %d", names[i], k);
		}
	}
	/* finalize with imwidth picks a built-in or configured preset */
	struct vr_params p;
	vr_params_init(&p);
	if (vr_params_parse_query(&p, &lim, "imwidth=900", NULL, err, sizeof err) == 0)
		(void)vr_params_finalize(&p, &lim, cfg, err, sizeof err);

	n = vr_config_names(cfg, "origin", names, 16);
	for (size_t i = 0; i < n && i < 16; i++)
		config_walk(cfg, "origin", names[i], origin);
	static const char *const paths[] = {"/videos/abc/def.mp4?width=640", "/a", "/", "/v/1/2/3.mp4"};
	for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
		struct vr_origin_params op = {.timeout = -1, .retries = -1};
		struct vr_resolved res;
		memset(&res, 0, sizeof res);
		err[0] = '\0';
		r = vr_origin_resolve(cfg, paths[i], &op, &res, err, sizeof err);
		if (r && !err[0])
			FAIL("origin_resolve returned %d without a message", r);
		vr_resolved_free(&res);
	}
	vr_config_free(cfg);
	return 0;
}
