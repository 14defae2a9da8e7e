/* libFuzzer target: transform parameters from a URL query string
 * (lib/request/params: vr_params_parse_query, finalize, canonical) and the same
 * text as long options (vr_params_set one name=value at a time).
 *
 * Checked: the canonical form always fits VR_PARAMS_CANONICAL_MAX,
 * finalize is idempotent, and a canonical form read back as a query (when
 * the limits accept it) gives the same canonical form, since cache keys are
 * built from it. */
#include "params.h"
#include "status.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAIL(...)                                            \
	do {                                                 \
		fprintf(stderr, "fuzz_params: " __VA_ARGS__); \
		fputc('\n', stderr);                         \
		abort();                                     \
	} while (0)

static struct vr_limits params_limits;

static int params_canonical(const struct vr_params *p, char *buf)
{
	int n = vr_params_canonical(p, buf, VR_PARAMS_CANONICAL_MAX);
	if (n <= 0 || n >= VR_PARAMS_CANONICAL_MAX || strlen(buf) != (size_t)n)
		FAIL("params_canonical returned %d", n);
	if (vr_params_canonical(p, NULL, 0) != n)
		FAIL("params_canonical length without a buffer differs");
	return n;
}

static void params_check_status(int r, const char *err, const char *what)
{
	if (r == 0)
		return;
	if (r != VR_EDATA && r != VR_EUSAGE && r != VR_ELIMIT)
		FAIL("%s returned %d (%s)", what, r, err);
	if (!err[0])
		FAIL("%s returned %d without a message", what, r);
}

static void params_finalize_check(struct vr_params *p, const char *what)
{
	char err[1024] = "";
	char k1[VR_PARAMS_CANONICAL_MAX], k2[VR_PARAMS_CANONICAL_MAX], k3[VR_PARAMS_CANONICAL_MAX];
	int r = vr_params_finalize(p, &params_limits, NULL, err, sizeof err);
	params_check_status(r, err, what);
	if (r)
		return;
	params_canonical(p, k1);
	if (vr_params_finalize(p, &params_limits, NULL, err, sizeof err))
		FAIL("%s: a second finalize failed: %s", what, err);
	params_canonical(p, k2);
	if (strcmp(k1, k2))
		FAIL("%s: finalize twice: '%s' then '%s'", what, k1, k2);
	/* the key read back as a query */
	struct vr_params q;
	vr_params_init(&q);
	if (vr_params_parse_query(&q, &params_limits, k1, NULL, err, sizeof err) == 0 &&
	    vr_params_finalize(&q, &params_limits, NULL, err, sizeof err) == 0) {
		params_canonical(&q, k3);
		if (strcmp(k1, k3))
			FAIL("%s: params_canonical '%s' read back gives '%s'", what, k1, k3);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!params_limits.max_dim)
		vr_limits_default(&params_limits);
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	/* as a query string */
	struct vr_params p;
	char err[1024] = "";
	int bypass = -1;
	vr_params_init(&p);
	int r = vr_params_parse_query(&p, &params_limits, text, &bypass, err, sizeof err);
	params_check_status(r, err, "parse_query");
	if (!r)
		params_finalize_check(&p, "query");

	/* as long options: name=value pairs split at '&', no decoding */
	vr_params_init(&p);
	r = 0;
	char *save = NULL;
	for (char *kv = strtok_r(text, "&", &save); kv && !r; kv = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(kv, '=');
		if (eq)
			*eq++ = '\0';
		err[0] = '\0';
		r = vr_params_set(&p, &params_limits, kv, eq ? eq : "", 0, err, sizeof err);
		params_check_status(r, err, "set");
	}
	if (!r)
		params_finalize_check(&p, "options");
	free(text);
	return 0;
}
