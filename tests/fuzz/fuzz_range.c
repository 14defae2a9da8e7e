/* libFuzzer target: the RFC 9110 range parser (lib/request/range), then what every
 * program does with a parsed set: resolving it against sizes, planning the
 * HTTP response (lib/request/response), Content-Range and multipart framing, and
 * the one-pass slicer over a small synthetic input, whose output is checked
 * byte for byte against an independent reference. */
#include "range.h"
#include "response.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INPUT_MAX 5000
static unsigned char range_input[INPUT_MAX];

struct range_sink {
	unsigned char buf[INPUT_MAX * 4];
	size_t len;
	int overflow;
};

static int range_emit(void *ctx, const void *p, size_t n)
{
	struct range_sink *k = ctx;
	if (n > sizeof k->buf - k->len) {
		k->overflow = 1;
		return 0;
	}
	memcpy(k->buf + k->len, p, n);
	k->len += n;
	return 0;
}

/* What a set selects from L bytes, written apart from lib/request/range. */
static size_t range_ref(const struct vr_range_set *s, uint64_t L, struct vr_span *out)
{
	size_t n = 0;
	for (size_t i = 0; i < s->n; i++) {
		const struct vr_range_spec *sp = &s->spec[i];
		uint64_t a, b;
		if (sp->kind == VR_SPEC_SUFFIX) {
			if (sp->suffix == 0 || L == 0)
				continue;
			a = sp->suffix >= L ? 0 : L - sp->suffix;
			b = L - 1;
		} else {
			if (sp->first >= L)
				continue;
			a = sp->first;
			b = sp->last >= L ? L - 1 : sp->last;
		}
		out[n].start = a;
		out[n].end = b;
		n++;
	}
	return n;
}

#define FAIL(...)                                                   \
	do {                                                        \
		fprintf(stderr, "fuzz_range: " __VA_ARGS__);        \
		fputc('\n', stderr);                                \
		abort();                                            \
	} while (0)

static void range_check_slice(const struct vr_range_set *rs, size_t L, int known, uint64_t max_buffer,
			unsigned step)
{
	static struct vr_slicer s;
	static struct vr_span want[VR_RANGE_MAX], got[VR_RANGE_MAX + 1];
	static struct range_sink k;
	char e[256] = "";
	size_t nw = range_ref(rs, L, want);
	int r = vr_slicer_init(&s, rs, known ? (int64_t)L : -1, max_buffer, e, sizeof e);
	int ordered = 1;
	for (size_t i = 1; i < nw; i++)
		ordered &= want[i].start > want[i - 1].end;
	if (known && nw == 0) {
		if (r != VR_RANGE_UNSATISFIABLE)
			FAIL("known size %zu, nothing satisfiable, init %d", L, r);
		vr_slicer_free(&s);
		return;
	}
	if (known && !ordered) {
		if (r != VR_RANGE_NEEDS_SEEK)
			FAIL("known size %zu, unordered spans, init %d", L, r);
		vr_slicer_free(&s);
		return;
	}
	if (known && r != VR_RANGE_OK)
		FAIL("known size %zu, init %d (%s)", L, r, e);
	if (r != VR_RANGE_OK) {
		vr_slicer_free(&s);
		return;
	}
	k.len = 0;
	k.overflow = 0;
	size_t off = 0;
	int finished = 0;
	while (vr_slicer_wants_input(&s) && off < L) {
		size_t n = 1 + (off * 31 + step) % 700;
		if (n > L - off)
			n = L - off;
		if (vr_slicer_feed(&s, range_input + off, n, range_emit, &k))
			FAIL("feed failed");
		off += n;
	}
	if (vr_slicer_wants_input(&s) || s.suffix) {
		finished = 1;
		if (vr_slicer_finish(&s, range_emit, &k))
			FAIL("finish failed");
	}
	size_t wl = 0;
	for (size_t i = 0; i < nw; i++)
		wl += want[i].end - want[i].start + 1;
	if (k.overflow || k.len != wl)
		FAIL("L=%zu known=%d: %zu bytes out, want %zu", L, known, k.len, wl);
	size_t o = 0;
	for (size_t i = 0; i < nw; i++) {
		size_t len = want[i].end - want[i].start + 1;
		if (memcmp(k.buf + o, range_input + want[i].start, len))
			FAIL("L=%zu known=%d: span %zu has the wrong bytes", L, known, i);
		o += len;
	}
	int64_t total = 99;
	size_t ng = vr_slicer_spans(&s, got, &total);
	if (ng != nw || memcmp(got, want, nw * sizeof *want))
		FAIL("L=%zu known=%d: slicer spans differ from the reference", L, known);
	if (!known && total != (finished ? (int64_t)L : -1))
		FAIL("L=%zu: total %lld", L, (long long)total);
	vr_slicer_free(&s);
}

static void range_check_resolve(const struct vr_range_set *set, uint64_t size)
{
	static struct vr_span got[VR_RANGE_MAX], want[VR_RANGE_MAX];
	static struct vr_response resp;
	size_t n = 99;
	int r = vr_range_resolve(set, size, got, &n);
	size_t nw = range_ref(set, size, want);
	if (nw == 0 && r != VR_RANGE_UNSATISFIABLE)
		FAIL("size %llu: resolve %d with nothing satisfiable", (unsigned long long)size, r);
	if (nw > 0 && (r != VR_RANGE_OK || n != nw || memcmp(got, want, nw * sizeof *want)))
		FAIL("size %llu: resolve differs from the reference", (unsigned long long)size);

	char buf[512];
	for (int multipart = 0; multipart < 2; multipart++) {
		memset(&resp, 0, sizeof resp);
		int pr = vr_response_plan(&resp, set, size, multipart, "video/mp4", "vrfuzzboundary");
		if (pr != VR_RANGE_OK && pr != VR_RANGE_UNSATISFIABLE)
			FAIL("plan returned %d", pr);
		if (pr == VR_RANGE_UNSATISFIABLE ? resp.status != 416 : resp.status != 200 && resp.status != 206)
			FAIL("plan %d with status %d", pr, resp.status);
		if (resp.n > VR_RANGE_MAX)
			FAIL("plan has %zu spans", resp.n);
		for (size_t i = 0; i < resp.n; i++) {
			if (resp.spans[i].start > resp.spans[i].end || resp.spans[i].end >= size)
				FAIL("plan span %zu out of the body", i);
			int l = vr_content_range(buf, sizeof buf, &resp.spans[i], (int64_t)size);
			if (l < 0 || (size_t)l >= sizeof buf || strlen(buf) != (size_t)l)
				FAIL("content-range length %d", l);
			l = vr_multipart_head(buf, sizeof buf, "vrfuzzboundary", "video/mp4", &resp.spans[i],
					      (int64_t)size);
			if (l < 0 || (size_t)l >= sizeof buf)
				FAIL("multipart head length %d", l);
		}
		if (resp.n > 0)
			(void)vr_multipart_length("vrfuzzboundary", "video/mp4", resp.spans, resp.n,
						  (int64_t)size);
	}
	vr_content_range(buf, sizeof buf, NULL, (int64_t)size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vr_range_set set;
	if (!range_input[1])
		for (size_t i = 0; i < INPUT_MAX; i++)
			range_input[i] = (unsigned char)(i * 7 + (i >> 8) + 1);
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	char err[256];
	int r = vr_range_parse(text, &set, err, sizeof err);
	free(text);
	if (r != VR_RANGE_OK) {
		if (r != VR_RANGE_MALFORMED || !err[0])
			FAIL("parse returned %d without a message", r);
		return 0;
	}
	if (set.n == 0 || set.n > VR_RANGE_MAX)
		FAIL("parse ok with %zu specs", set.n);
	for (size_t i = 0; i < set.n; i++) {
		const struct vr_range_spec *sp = &set.spec[i];
		if (sp->kind == VR_SPEC_INT && sp->last != VR_RANGE_OPEN && sp->last < sp->first)
			FAIL("spec %zu: last before first", i);
	}
	static const uint64_t sizes[] = {0, 1, 100, 4096, (uint64_t)1 << 40, VR_RANGE_NUM_MAX};
	for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
		range_check_resolve(&set, sizes[i]);
	static const size_t lens[] = {0, 1, 37, 1000, INPUT_MAX};
	unsigned step = (unsigned)size;
	for (size_t i = 0; i < sizeof lens / sizeof *lens; i++) {
		range_check_slice(&set, lens[i], 1, 1 << 20, step);
		range_check_slice(&set, lens[i], 0, 1 << 20, step);
		range_check_slice(&set, lens[i], 0, 64, step);
	}
	return 0;
}
