/* Unit tests of lib/request/range: parsing, resolving, Content-Range, multipart
 * framing, boundaries and the one-pass slicer (checked against an
 * independent reference on pseudo-random inputs and range sets).
 * VR_TEST_SEED=N replays another random sequence. */
#include "mime.h"
#include "range.h"
#include "response.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#define MAXN VR_RANGE_MAX
static const uint64_t NUM_MAX = VR_RANGE_NUM_MAX;

/* ---- helpers ---- */

static struct vr_range_set set; /* large: keep off the stack */
static char err[512];

static int parse(const char *t)
{
	err[0] = '\0';
	return vr_range_parse(t, &set, err, sizeof err);
}

/* The set as "0-499,500-,-500". */
static const char *fmt_set(const struct vr_range_set *s)
{
	static char buf[MAXN * 48];
	size_t o = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < s->n && o < sizeof buf - 48; i++) {
		const struct vr_range_spec *sp = &s->spec[i];
		const char *sep = i ? "," : "";
		if (sp->kind == VR_SPEC_SUFFIX)
			o += (size_t)snprintf(buf + o, sizeof buf - o, "%s-%" PRIu64, sep, sp->suffix);
		else if (sp->last == VR_RANGE_OPEN)
			o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%" PRIu64 "-", sep, sp->first);
		else
			o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%" PRIu64 "-%" PRIu64, sep,
					      sp->first, sp->last);
	}
	return buf;
}

/* Parses and yields exactly `want`. */
static int parses_as(const char *t, const char *want)
{
	if (parse(t) != VR_RANGE_OK) {
		fprintf(stderr, "  parse('%s') failed: %s\n", t, err);
		return 0;
	}
	if (strcmp(fmt_set(&set), want)) {
		fprintf(stderr, "  parse('%s') = '%s', want '%s'\n", t, fmt_set(&set), want);
		return 0;
	}
	return 1;
}

/* Malformed, with a message that contains `names` (the bad part). */
static int malformed(const char *t, const char *names)
{
	int r = parse(t);
	if (r != VR_RANGE_MALFORMED) {
		fprintf(stderr, "  parse('%s') = %d, want MALFORMED\n", t, r);
		return 0;
	}
	if (!err[0] || (names && !strstr(err, names))) {
		fprintf(stderr, "  parse('%s'): message '%s' does not name '%s'\n", t, err,
			names ? names : "");
		return 0;
	}
	return 1;
}

static const char *fmt_spans(const struct vr_span *sp, size_t n)
{
	static char buf[MAXN * 48];
	size_t o = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < n && o < sizeof buf - 48; i++) {
		if (sp[i].end == VR_RANGE_OPEN)
			o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%" PRIu64 "-", i ? "," : "",
					      sp[i].start);
		else
			o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%" PRIu64 "-%" PRIu64,
					      i ? "," : "", sp[i].start, sp[i].end);
	}
	return buf;
}

/* Parse t, resolve against size; "" means unsatisfiable. */
static int resolves_as(const char *t, uint64_t size, const char *want)
{
	static struct vr_span out[MAXN];
	size_t n = 12345;
	if (parse(t) != VR_RANGE_OK) {
		fprintf(stderr, "  parse('%s') failed: %s\n", t, err);
		return 0;
	}
	int r = vr_range_resolve(&set, size, out, &n);
	const char *got = r == VR_RANGE_OK ? fmt_spans(out, n) : "";
	if ((r == VR_RANGE_OK) != (want[0] != '\0') || (r != VR_RANGE_OK && n != 0) ||
	    (r != VR_RANGE_OK && r != VR_RANGE_UNSATISFIABLE) || strcmp(got, want)) {
		fprintf(stderr, "  resolve('%s', %" PRIu64 ") = %d '%s', want '%s'\n", t, size, r, got,
			want);
		return 0;
	}
	return 1;
}

/* ---- parse ---- */

static void test_parse_valid(void)
{
	CHECK(parses_as("bytes=0-499", "0-499"));
	CHECK(parses_as("bytes=500-", "500-"));
	CHECK(parses_as("bytes=-500", "-500"));
	CHECK(parses_as("bytes=0-99,200-299", "0-99,200-299"));
	CHECK(parses_as("0-499", "0-499"));
	CHECK(parses_as("-500", "-500"));
	CHECK(parses_as("500-", "500-"));
	CHECK(parses_as("0-0", "0-0"));
	CHECK(parses_as("-0", "-0"));
	CHECK(parses_as("7-7", "7-7"));
	CHECK(parses_as("007-010", "7-10"));
	CHECK(parses_as("BYTES=1-2", "1-2"));
	CHECK(parses_as("Bytes=1-2", "1-2"));
	CHECK(parses_as("bYtEs=1-", "1-"));
	/* request order is kept, overlaps and duplicates too (resolve/slicer judge) */
	CHECK(parses_as("bytes=500-,0-9,-5,0-9", "500-,0-9,-5,0-9"));
	CHECK(parses_as("5-9,0-100", "5-9,0-100"));
}

static void test_parse_whitespace_and_empty(void)
{
	CHECK(parses_as("bytes=0-1, 2-3", "0-1,2-3"));
	CHECK(parses_as("bytes=0-1 ,2-3", "0-1,2-3"));
	CHECK(parses_as("bytes=0-1 \t,\t 2-3", "0-1,2-3"));
	CHECK(parses_as("  bytes=0-1  ", "0-1"));
	CHECK(parses_as("\tbytes=0-1\t", "0-1"));
	CHECK(parses_as(" 0-1 , -5 ", "0-1,-5"));
	CHECK(parses_as("bytes= 0-1", "0-1"));
	/* RFC 9110 5.6.1: empty list elements are ignored */
	CHECK(parses_as("0-1,,3-4", "0-1,3-4"));
	CHECK(parses_as(", 0-1", "0-1"));
	CHECK(parses_as("0-1,", "0-1"));
	CHECK(parses_as("bytes=,,0-1,, ,\t,2-", "0-1,2-"));
	/* ...but a set with no element is malformed */
	CHECK(malformed("", NULL));
	CHECK(malformed(" ", NULL));
	CHECK(malformed("bytes=", NULL));
	CHECK(malformed("bytes= ", NULL));
	CHECK(malformed(",", NULL));
	CHECK(malformed("bytes=, ,\t,", NULL));
	/* spaces inside a spec */
	CHECK(malformed("0 -1", "0 -1"));
	CHECK(malformed("0- 1", "0- 1"));
	CHECK(malformed("- 5", "- 5"));
	CHECK(malformed("0-1 2-3", "0-1 2-3"));
	CHECK(malformed("1 0-20", "1 0-20"));
}

static void test_parse_overflow(void)
{
	CHECK(parses_as("0-9223372036854775807", "0-9223372036854775807"));
	CHECK(parses_as("0-9223372036854775808", "0-9223372036854775807"));
	CHECK(parses_as("0-99999999999999999999999", "0-9223372036854775807"));
	CHECK(parses_as("99999999999999999999999-", "9223372036854775807-"));
	CHECK(parses_as("-99999999999999999999999", "-9223372036854775807"));
	/* 2^64-1 must not turn into the "open" marker, and 2^64 must not wrap */
	CHECK(parses_as("0-18446744073709551615", "0-9223372036854775807"));
	CHECK(parse("0-18446744073709551615") == 0 && set.spec[0].last == NUM_MAX);
	CHECK(parses_as("0-18446744073709551616", "0-9223372036854775807"));
	CHECK(parses_as("18446744073709551616-", "9223372036854775807-"));
	CHECK(parses_as("184467440737095516160-", "9223372036854775807-"));
	/* both ends saturate to the same number: accepted, and unsatisfiable */
	CHECK(parses_as("99999999999999999999999-99999999999999999999998",
			"9223372036854775807-9223372036854775807"));
	CHECK(parses_as("9223372036854775806-99999999999999999999999",
			"9223372036854775806-9223372036854775807"));
	/* a very long digit string */
	char big[600];
	memset(big, '9', 500);
	strcpy(big + 500, "-");
	CHECK(parses_as(big, "9223372036854775807-"));
}

static void test_parse_malformed(void)
{
	CHECK(malformed("items=0-1", "items"));
	CHECK(malformed("byte=0-1", "byte"));
	CHECK(malformed("bytesx=0-1", "bytesx"));
	CHECK(malformed("=0-1", "unit"));
	CHECK(malformed("bytes =0-1", "bytes "));
	CHECK(malformed("bytes=5-3", "5-3"));
	CHECK(malformed("bytes=0-1,5-3", "5-3"));
	CHECK(malformed("1-0", "1-0"));
	CHECK(malformed("-", "-"));
	CHECK(malformed("bytes=-", "-"));
	CHECK(malformed("0-1,-", "-"));
	CHECK(malformed("1-2-3", "1-2-3"));
	CHECK(malformed("--5", "--5"));
	CHECK(malformed("-5-", "-5-"));
	CHECK(malformed("0--1", "0--1"));
	CHECK(malformed("abc", "abc"));
	CHECK(malformed("bytes=abc", "abc"));
	CHECK(malformed("0-1x", "0-1x"));
	CHECK(malformed("x0-1", "x0-1"));
	CHECK(malformed("0x10-20", "0x10-20"));
	CHECK(malformed("1.5-2", "1.5-2"));
	CHECK(malformed("5", "5"));
	CHECK(malformed("0-1,7", "7"));
	CHECK(malformed("+1-2", "+1-2"));
	CHECK(malformed("1-+2", "1-+2"));
	CHECK(malformed("-+5", "-+5"));
	CHECK(malformed("--", "--"));
	CHECK(malformed("=", NULL));
	CHECK(malformed("bytes==0-1", "=0-1"));
	CHECK(malformed("bytes=0-1=2", "0-1=2"));
	CHECK(malformed("bytes=0-1,bytes=2-3", "bytes=2-3"));
	CHECK(malformed("0-1;2-3", "0-1;2-3"));
	CHECK(malformed("0-1\n", NULL));
	CHECK(malformed("0-1\r", NULL));
	CHECK(malformed("\xff-1", NULL));
	/* nothing is half-parsed into a usable set by a failure */
	CHECK(parse("0-1,5-3") == VR_RANGE_MALFORMED);
	/* err may be NULL */
	CHECK(vr_range_parse("x", &set, NULL, 0) == VR_RANGE_MALFORMED);
	/* a tiny err buffer is not overrun and stays terminated */
	char small[8];
	memset(small, 'Z', sizeof small);
	CHECK(vr_range_parse("items=0-1", &set, small, 4) == VR_RANGE_MALFORMED);
	CHECK(strlen(small) == 3 && small[4] == 'Z');
}

static void test_parse_count(void)
{
	static char t[MAXN * 16 + 64];
	size_t o = 0;
	o += (size_t)sprintf(t + o, "bytes=");
	for (int i = 0; i < MAXN; i++)
		o += (size_t)sprintf(t + o, "%s%d-%d", i ? "," : "", i * 10, i * 10 + 1);
	CHECK(parse(t) == VR_RANGE_OK && set.n == MAXN);
	CHECK(set.spec[MAXN - 1].first == (MAXN - 1) * 10 && set.spec[MAXN - 1].last == (MAXN - 1) * 10 + 1);
	/* empty elements do not count */
	size_t o2 = o;
	o2 += (size_t)sprintf(t + o2, ",, ,");
	CHECK(parse(t) == VR_RANGE_OK && set.n == MAXN);
	/* one more is too many */
	sprintf(t + o, ",9999-");
	CHECK(malformed(t, "too many"));
	sprintf(t + o, ",-1");
	CHECK(malformed(t, "too many"));
}

/* ---- resolve ---- */

static void test_resolve(void)
{
	CHECK(resolves_as("0-499", 1000, "0-499"));
	CHECK(resolves_as("500-", 1000, "500-999"));
	CHECK(resolves_as("-500", 1000, "500-999"));
	CHECK(resolves_as("0-99,200-299", 1000, "0-99,200-299"));
	CHECK(resolves_as("0-0", 1000, "0-0"));
	CHECK(resolves_as("999-", 1000, "999-999"));
	CHECK(resolves_as("999-999", 1000, "999-999"));
	CHECK(resolves_as("-1", 1000, "999-999"));
	CHECK(resolves_as("-1000", 1000, "0-999"));
	/* clamping */
	CHECK(resolves_as("0-1999", 1000, "0-999"));
	CHECK(resolves_as("990-5000", 1000, "990-999"));
	CHECK(resolves_as("-2000", 1000, "0-999"));
	CHECK(resolves_as("0-99999999999999999999999", 1000, "0-999"));
	CHECK(resolves_as("-99999999999999999999999", 1000, "0-999"));
	/* not satisfiable */
	CHECK(resolves_as("1000-", 1000, ""));
	CHECK(resolves_as("1000-1000", 1000, ""));
	CHECK(resolves_as("1001-2000", 1000, ""));
	CHECK(resolves_as("-0", 1000, ""));
	CHECK(resolves_as("99999999999999999999999-", 1000, ""));
	CHECK(resolves_as("99999999999999999999999-", NUM_MAX, ""));
	CHECK(resolves_as("1000-,-0,5000-6000", 1000, ""));
	/* dropping: the others stay, in request order */
	CHECK(resolves_as("1000-2000,0-1", 1000, "0-1"));
	CHECK(resolves_as("-0,5-5", 1000, "5-5"));
	CHECK(resolves_as("900-,0-9,-5,2000-,0-9", 1000, "900-999,0-9,995-999,0-9"));
	/* size 0: everything is unsatisfiable */
	CHECK(resolves_as("0-", 0, ""));
	CHECK(resolves_as("0-0", 0, ""));
	CHECK(resolves_as("-5", 0, ""));
	CHECK(resolves_as("-0", 0, ""));
	/* size 1 */
	CHECK(resolves_as("0-", 1, "0-0"));
	CHECK(resolves_as("-1", 1, "0-0"));
	CHECK(resolves_as("-9", 1, "0-0"));
	CHECK(resolves_as("1-", 1, ""));
	/* the largest size */
	CHECK(resolves_as("-99999999999999999999999", NUM_MAX, "0-9223372036854775806"));
	CHECK(resolves_as("9223372036854775806-", NUM_MAX, "9223372036854775806-9223372036854775806"));
	CHECK(resolves_as("-1", NUM_MAX, "9223372036854775806-9223372036854775806"));
}

/* ---- Content-Range and multipart ---- */

static void test_content_range(void)
{
	char buf[128];
	struct vr_span sp = {0, 99};
	CHECK(vr_content_range(buf, sizeof buf, &sp, 1000) == 15 && !strcmp(buf, "bytes 0-99/1000"));
	CHECK(vr_content_range(buf, sizeof buf, &sp, -1) == 12 && !strcmp(buf, "bytes 0-99/*"));
	CHECK(vr_content_range(buf, sizeof buf, NULL, 1000) == 12 && !strcmp(buf, "bytes */1000"));
	CHECK(vr_content_range(buf, sizeof buf, NULL, 0) == 9 && !strcmp(buf, "bytes */0"));
	struct vr_span big = {NUM_MAX - 1, NUM_MAX - 1};
	vr_content_range(buf, sizeof buf, &big, (int64_t)NUM_MAX);
	CHECK(!strcmp(buf, "bytes 9223372036854775806-9223372036854775806/9223372036854775807"));
	/* truncation: the would-be length, a terminated prefix */
	char small[8];
	CHECK(vr_content_range(small, sizeof small, &sp, 1000) == 15 && !strcmp(small, "bytes 0"));
	CHECK(vr_content_range(NULL, 0, &sp, 1000) == 15);
}

static void test_multipart(void)
{
	char buf[512];
	struct vr_span sp = {0, 1};
	int n = vr_multipart_head(buf, sizeof buf, "B", "text/plain", &sp, 10);
	const char *want = "\r\n--B\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-1/10\r\n\r\n";
	CHECK(n == (int)strlen(want) && !strcmp(buf, want));
	n = vr_multipart_head(buf, sizeof buf, "a b", "video/mp4", &sp, -1);
	want = "\r\n--a b\r\nContent-Type: video/mp4\r\nContent-Range: bytes 0-1/*\r\n\r\n";
	CHECK(n == (int)strlen(want) && !strcmp(buf, want));
	n = vr_multipart_tail(buf, sizeof buf, "B");
	CHECK(n == 9 && !strcmp(buf, "\r\n--B--\r\n"));

	/* vr_multipart_length equals the bytes of the framed body */
	static const char *bounds[] = {"B", "vr0000abcd00001234", "'()+_,-./:=? x",
				       "0123456789012345678901234567890123456789012345678901234567890123456789"};
	static const char *types[] = {"application/octet-stream", "video/mp4", "x"};
	static const struct vr_span spans[][3] = {
		{{0, 0}, {5, 9}, {0, 0}},
		{{0, 99}, {200, 299}, {999, 999}},
		{{123456789, 987654321}, {0, 9}, {NUM_MAX - 10, NUM_MAX - 1}},
	};
	static const int64_t totals[] = {10, 1000, (int64_t)NUM_MAX, -1};
	for (size_t b = 0; b < sizeof bounds / sizeof *bounds; b++)
		for (size_t t = 0; t < sizeof types / sizeof *types; t++)
			for (size_t s = 0; s < sizeof spans / sizeof *spans; s++)
				for (size_t k = 0; k < sizeof totals / sizeof *totals; k++)
					for (size_t cnt = 0; cnt <= 3; cnt++) {
						uint64_t len = 0;
						for (size_t i = 0; i < cnt; i++) {
							len += (uint64_t)vr_multipart_head(
								buf, sizeof buf, bounds[b], types[t],
								&spans[s][i], totals[k]);
							CHECK(strlen(buf) < sizeof buf - 1);
							len += spans[s][i].end - spans[s][i].start + 1;
						}
						len += (uint64_t)vr_multipart_tail(buf, sizeof buf, bounds[b]);
						CHECK(vr_multipart_length(bounds[b], types[t], spans[s], cnt,
									  totals[k]) == len);
					}
	/* a concrete whole body, byte for byte */
	const char *data = "0123456789";
	struct vr_span two[2] = {{1, 2}, {7, 9}};
	char body[512];
	size_t o = 0;
	for (int i = 0; i < 2; i++) {
		o += (size_t)vr_multipart_head(body + o, sizeof body - o, "XY", "text/plain", &two[i], 10);
		memcpy(body + o, data + two[i].start, two[i].end - two[i].start + 1);
		o += two[i].end - two[i].start + 1;
	}
	o += (size_t)vr_multipart_tail(body + o, sizeof body - o, "XY");
	const char *expect = "\r\n--XY\r\nContent-Type: text/plain\r\nContent-Range: bytes 1-2/10\r\n\r\n12"
			     "\r\n--XY\r\nContent-Type: text/plain\r\nContent-Range: bytes 7-9/10\r\n\r\n789"
			     "\r\n--XY--\r\n";
	CHECK(o == strlen(expect) && !memcmp(body, expect, o));
	CHECK(vr_multipart_length("XY", "text/plain", two, 2, 10) == o);
}

static void test_boundary(void)
{
	char b71[72], b70[71];
	memset(b71, 'a', 71);
	b71[71] = '\0';
	memcpy(b70, b71, 70);
	b70[70] = '\0';
	CHECK(vr_mime_boundary_valid("a"));
	CHECK(vr_mime_boundary_valid("B"));
	CHECK(vr_mime_boundary_valid("0"));
	CHECK(vr_mime_boundary_valid(b70));
	CHECK(!vr_mime_boundary_valid(b71));
	CHECK(!vr_mime_boundary_valid(""));
	CHECK(vr_mime_boundary_valid("a b"));
	CHECK(vr_mime_boundary_valid(" a"));
	CHECK(!vr_mime_boundary_valid("ab "));
	CHECK(!vr_mime_boundary_valid(" "));
	CHECK(vr_mime_boundary_valid("'()+_,-./:=?"));
	CHECK(vr_mime_boundary_valid("gc0p4Jq0M2Yt08jU534c0p"));
	CHECK(!vr_mime_boundary_valid("a\"b"));
	CHECK(!vr_mime_boundary_valid("a;b"));
	CHECK(!vr_mime_boundary_valid("a\r\nb"));
	CHECK(!vr_mime_boundary_valid("a\tb"));
	CHECK(!vr_mime_boundary_valid("a@b"));
	CHECK(!vr_mime_boundary_valid("a<b>"));
	CHECK(!vr_mime_boundary_valid("a\\b"));
	CHECK(!vr_mime_boundary_valid("caf\xc3\xa9"));
	CHECK(!vr_mime_boundary_valid("a\x7f"));
}

/* ---- the slicer ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
	uint64_t x = rng_state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}
static uint64_t rnd_below(uint64_t n) { return n ? rnd() % n : 0; }

#define BUFMAX 6000
static unsigned char input[BUFMAX];

struct sink {
	unsigned char *buf;
	size_t len, cap;
	int calls;
	int fail_after; /* > 0: return 7 from that call on */
};

static int sink_emit(void *ctx, const void *p, size_t n)
{
	struct sink *k = ctx;
	k->calls++;
	if (k->fail_after && k->calls >= k->fail_after)
		return 7;
	if (k->len + n > k->cap) {
		k->cap = (k->len + n) * 2;
		k->buf = realloc(k->buf, k->cap);
		if (!k->buf)
			abort();
	}
	memcpy(k->buf + k->len, p, n);
	k->len += n;
	return 0;
}

/* An independent reference for what a set selects from L bytes. */
static size_t ref_resolve(const struct vr_range_set *s, uint64_t L, struct vr_span *out)
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

enum feed_mode { FEED_RANDOM, FEED_ONE, FEED_WHOLE, FEED_ZEROCOPY };

/* Drive a slicer over input[0..L) the way vr-range does; returns 0 or
 * the emit error. *finished: the slicer saw the end of input. */
static int drive(struct vr_slicer *s, size_t L, enum feed_mode mode, struct sink *k, int *finished)
{
	size_t off = 0;
	*finished = 0;
	while (vr_slicer_wants_input(s)) {
		uint64_t skip, take;
		if (mode == FEED_ZEROCOPY && vr_slicer_next(s, &skip, &take)) {
			CHECK(s->pos == off);
			uint64_t step = skip < L - off ? skip : L - off;
			vr_slicer_advance(s, step);
			off += (size_t)step;
			if (step < skip)
				break; /* input ended inside the gap */
			/* copy `take` in a few pieces, as splice would */
			while (take > 0 && off < L) {
				uint64_t piece = 1 + rnd_below(900);
				if (piece > take)
					piece = take;
				if (piece > L - off)
					piece = L - off;
				int r = sink_emit(k, input + off, (size_t)piece);
				if (r)
					return r;
				vr_slicer_advance(s, piece);
				off += (size_t)piece;
				if (take != VR_RANGE_OPEN)
					take -= piece;
			}
			if (off == L && (take > 0))
				break; /* input ended inside the range */
			continue;
		}
		if (off == L)
			break;
		size_t n = mode == FEED_ONE ? 1 : mode == FEED_WHOLE ? L - off : 1 + (size_t)rnd_below(700);
		if (n > L - off)
			n = L - off;
		int r = vr_slicer_feed(s, input + off, n, sink_emit, k);
		off += n;
		if (r)
			return r;
	}
	/* a reader notices the end only when it asks for more */
	if (vr_slicer_wants_input(s) || s->suffix) {
		CHECK(off == L);
		*finished = 1;
		return vr_slicer_finish(s, sink_emit, k);
	}
	return 0;
}

/* Check one set over input[0..L) with known or unknown size. */
static void check_slice(const struct vr_range_set *rs, size_t L, int known, uint64_t max_buffer,
			enum feed_mode mode, const char *label)
{
	static struct vr_slicer s;
	static struct vr_span want[MAXN], got[MAXN + 1];
	char e[256] = "";
	size_t nw = ref_resolve(rs, L, want);
	int r = vr_slicer_init(&s, rs, known ? (int64_t)L : -1, max_buffer, e, sizeof e);
	if (known && nw == 0) {
		CHECK(r == VR_RANGE_UNSATISFIABLE);
		vr_slicer_free(&s);
		return;
	}
	int ordered = 1;
	for (size_t i = 1; i < nw; i++)
		ordered &= want[i].start > want[i - 1].end;
	if (known && !ordered) { /* resolved spans a stream cannot serve in one pass */
		CHECK(r == VR_RANGE_NEEDS_SEEK);
		vr_slicer_free(&s);
		return;
	}
	if (r != VR_RANGE_OK) {
		fprintf(stderr, "  %s: init('%s', L=%zu, known=%d) = %d (%s)\n", label, fmt_set(rs), L,
			known, r, e);
		CHECK(r == VR_RANGE_OK);
		vr_slicer_free(&s);
		return;
	}
	struct sink k = {0};
	int finished;
	CHECK(drive(&s, L, mode, &k, &finished) == 0);
	size_t wl = 0;
	for (size_t i = 0; i < nw; i++)
		wl += want[i].end - want[i].start + 1;
	int ok = k.len == wl;
	size_t o = 0;
	for (size_t i = 0; ok && i < nw; i++) {
		size_t len = want[i].end - want[i].start + 1;
		ok = !memcmp(k.buf + o, input + want[i].start, len);
		o += len;
	}
	if (!ok)
		fprintf(stderr, "  %s: '%s' L=%zu known=%d mode=%d: %zu bytes out, want %zu (spans %s)\n",
			label, fmt_set(rs), L, known, mode, k.len, wl, fmt_spans(want, nw));
	CHECK(ok);
	int64_t total = 99;
	size_t ng = vr_slicer_spans(&s, got, &total);
	if (!known) {
		/* what the head reports: the input's length, or "*" if reading stopped early */
		CHECK(total == (finished ? (int64_t)L : -1));
		int same = ng == nw && !memcmp(got, want, nw * sizeof *want);
		if (!same)
			fprintf(stderr, "  %s: '%s' L=%zu: spans %s", label, fmt_set(rs), L, fmt_spans(got, ng));
		if (!same)
			fprintf(stderr, ", want %s\n", fmt_spans(want, nw));
		CHECK(same);
		/* nothing to serve: the input is still read to its end, so
		 * that the 416 can name the real size */
		if (nw == 0 && !finished)
			fprintf(stderr, "  %s: '%s' L=%zu: unsatisfiable but the input was not read to its end\n",
				label, fmt_set(rs), L);
		CHECK(nw > 0 || finished);
	} else {
		CHECK(ng == nw && !memcmp(got, want, nw * sizeof *want));
	}
	free(k.buf);
	vr_slicer_free(&s);
}

static void set_add_int(struct vr_range_set *rs, uint64_t a, uint64_t b)
{
	rs->spec[rs->n].kind = VR_SPEC_INT;
	rs->spec[rs->n].first = a;
	rs->spec[rs->n].last = b;
	rs->n++;
}

static void set_add_suffix(struct vr_range_set *rs, uint64_t n)
{
	rs->spec[rs->n].kind = VR_SPEC_SUFFIX;
	rs->spec[rs->n].suffix = n;
	rs->n++;
}

/* A random set a single pass can serve: ascending, non-overlapping int
 * ranges (the last maybe open), maybe a trailing suffix. */
static void random_set(struct vr_range_set *rs, size_t L, int allow_suffix)
{
	memset(rs, 0, sizeof *rs);
	size_t k = 1 + (size_t)rnd_below(rnd_below(4) ? 4 : 20);
	uint64_t pos = rnd_below(3) ? 0 : rnd_below(L + 1);
	int suffix = allow_suffix && rnd_below(3) == 0;
	for (size_t i = 0; i < k && rs->n < MAXN - 1; i++) {
		uint64_t a = pos + rnd_below(L / (k + 1) + 3);
		uint64_t len = 1 + rnd_below(L / (k + 1) + 3);
		int open = i == k - 1 && !suffix && rnd_below(4) == 0;
		if (rnd_below(10) == 0)
			a = pos; /* adjacent to the previous */
		set_add_int(rs, a, open ? VR_RANGE_OPEN : a + len - 1);
		pos = a + len;
	}
	if (suffix) {
		if (rnd_below(2))
			rs->n = 0; /* the suffix alone */
		set_add_suffix(rs, rnd_below(6) == 0 ? 0 : rnd_below(L + 50));
	}
}

static void test_slicer_random(void)
{
	static struct vr_range_set rs;
	for (int iter = 0; iter < 4000; iter++) {
		size_t L = rnd_below(5) == 0 ? rnd_below(4) : (size_t)rnd_below(BUFMAX + 1);
		int known = (int)rnd_below(2);
		random_set(&rs, L, 1);
		enum feed_mode mode = (enum feed_mode)rnd_below(4);
		if (mode == FEED_ONE && L > 2500)
			mode = FEED_RANDOM;
		check_slice(&rs, L, known, 1 << 20, mode, "random");
	}
	/* every mode on a few fixed sets */
	static const char *fixed[] = {"0-9", "5-", "-10", "0-0,1-1,2-2", "0-99,200-299,-50",
				      "10-19,30-", "0-", "-5000", "-1", "4000-", "100-200,5000-9000",
				      "0-99999999999999999999999", "99999999999999999999999-", "-0",
				      "0-9,-0", "-0,0-9", "-7,-0", "5-9,-0,-3"};
	for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++) {
		CHECK(vr_range_parse(fixed[i], &rs, NULL, 0) == VR_RANGE_OK);
		static const size_t lens[] = {0, 1, 2, 9, 10, 11, 100, 4096, BUFMAX};
		for (size_t l = 0; l < sizeof lens / sizeof *lens; l++)
			for (int known = 0; known < 2; known++)
				for (int m = 0; m < 4; m++)
					check_slice(&rs, lens[l], known, 1 << 20, (enum feed_mode)m, fixed[i]);
	}
}

static void test_slicer_suffix_ring(void)
{
	static struct vr_range_set rs;
	/* ring smaller than the input, fed in many ways */
	for (size_t cap = 1; cap <= 300; cap += 37) {
		memset(&rs, 0, sizeof rs);
		set_add_suffix(&rs, cap);
		for (int m = 0; m < 3; m++) {
			check_slice(&rs, 1000, 0, cap, (enum feed_mode)m, "ring<input");
			check_slice(&rs, cap, 0, cap, (enum feed_mode)m, "ring==input");
			check_slice(&rs, cap / 2, 0, cap, (enum feed_mode)m, "ring>input");
		}
	}
	/* a ring larger than the input: the whole input, spans 0..L-1 */
	CHECK(vr_range_parse("-100", &rs, NULL, 0) == 0);
	static struct vr_slicer s;
	CHECK(vr_slicer_init(&s, &rs, -1, 100, NULL, 0) == VR_RANGE_OK);
	struct sink k = {0};
	CHECK(vr_slicer_feed(&s, "hello", 5, sink_emit, &k) == 0);
	CHECK(k.len == 0); /* nothing before the end */
	CHECK(vr_slicer_wants_input(&s));
	uint64_t sk, tk;
	CHECK(vr_slicer_next(&s, &sk, &tk) == 0); /* a ring: no zero-copy */
	CHECK(vr_slicer_finish(&s, sink_emit, &k) == 0);
	CHECK(k.len == 5 && !memcmp(k.buf, "hello", 5));
	CHECK(!vr_slicer_wants_input(&s));
	struct vr_span sp[2];
	int64_t total;
	CHECK(vr_slicer_spans(&s, sp, &total) == 1 && total == 5 && sp[0].start == 0 && sp[0].end == 4);
	vr_slicer_free(&s);
	free(k.buf);
	/* int ranges then the suffix; the suffix may overlap what came before */
	CHECK(vr_range_parse("0-3,-6", &rs, NULL, 0) == 0);
	CHECK(vr_slicer_init(&s, &rs, -1, 100, NULL, 0) == VR_RANGE_OK);
	memset(&k, 0, sizeof k);
	CHECK(vr_slicer_feed(&s, "abcdefgh", 8, sink_emit, &k) == 0);
	CHECK(k.len == 4 && !memcmp(k.buf, "abcd", 4));
	CHECK(vr_slicer_finish(&s, sink_emit, &k) == 0);
	CHECK(k.len == 10 && !memcmp(k.buf, "abcdcdefgh", 10));
	CHECK(vr_slicer_spans(&s, sp, &total) == 2 && total == 8 && sp[1].start == 2 && sp[1].end == 7);
	vr_slicer_free(&s);
	free(k.buf);
	/* empty input: no span, total 0 */
	CHECK(vr_range_parse("-6", &rs, NULL, 0) == 0);
	CHECK(vr_slicer_init(&s, &rs, -1, 100, NULL, 0) == VR_RANGE_OK);
	memset(&k, 0, sizeof k);
	CHECK(vr_slicer_finish(&s, sink_emit, &k) == 0 && k.len == 0);
	CHECK(vr_slicer_spans(&s, sp, &total) == 0 && total == 0);
	vr_slicer_free(&s);
	free(k.buf);
}

static void test_slicer_init_errors(void)
{
	static struct vr_range_set rs;
	static struct vr_slicer s;
	char e[256];
#define INIT(text, size, maxbuf)                                               \
	(vr_range_parse(text, &rs, NULL, 0) == 0 ? (e[0] = '\0', vr_slicer_init(&s, &rs, size, maxbuf, e, sizeof e)) \
						 : 999)
	/* a stream cannot rewind */
	CHECK(INIT("10-19,0-5", -1, 100) == VR_RANGE_NEEDS_SEEK && e[0]);
	vr_slicer_free(&s);
	CHECK(INIT("0-9,5-20", -1, 100) == VR_RANGE_NEEDS_SEEK);
	vr_slicer_free(&s);
	CHECK(INIT("0-9,9-19", -1, 100) == VR_RANGE_NEEDS_SEEK);
	vr_slicer_free(&s);
	CHECK(INIT("0-9,0-9", -1, 100) == VR_RANGE_NEEDS_SEEK);
	vr_slicer_free(&s);
	CHECK(INIT("0-9,10-19", -1, 100) == VR_RANGE_OK); /* adjacent is fine */
	vr_slicer_free(&s);
	CHECK(INIT("0-,5-9", -1, 100) == VR_RANGE_NEEDS_SEEK);
	vr_slicer_free(&s);
	CHECK(INIT("-5,0-1", -1, 100) == VR_RANGE_NEEDS_SEEK && strstr(e, "last"));
	vr_slicer_free(&s);
	CHECK(INIT("-5,-6", -1, 100) == VR_RANGE_NEEDS_SEEK);
	vr_slicer_free(&s);
	CHECK(INIT("0-,-5", -1, 100) == VR_RANGE_NEEDS_SEEK);
	vr_slicer_free(&s);
	/* with a known size the spans are resolved first */
	CHECK(INIT("-5,0-1", 100, 100) == VR_RANGE_NEEDS_SEEK);
	vr_slicer_free(&s);
	CHECK(INIT("0-1,-5", 100, 100) == VR_RANGE_OK);
	vr_slicer_free(&s);
	CHECK(INIT("0-,-5", 100, 100) == VR_RANGE_NEEDS_SEEK); /* 0-99 then 95-99 */
	vr_slicer_free(&s);
	CHECK(INIT("0-1,-99", 100, 100) == VR_RANGE_NEEDS_SEEK); /* 0-1 then 1-99 */
	vr_slicer_free(&s);
	CHECK(INIT("500-,0-1", 100, 100) == VR_RANGE_OK); /* 500- dropped */
	vr_slicer_free(&s);
	CHECK(INIT("-0,-5", 100, 1) == VR_RANGE_OK); /* no ring needed with a size */
	vr_slicer_free(&s);
	/* not satisfiable with a known size */
	CHECK(INIT("100-", 100, 100) == VR_RANGE_UNSATISFIABLE && e[0]);
	vr_slicer_free(&s);
	CHECK(INIT("0-", 0, 100) == VR_RANGE_UNSATISFIABLE);
	vr_slicer_free(&s);
	CHECK(INIT("-0", 100, 100) == VR_RANGE_UNSATISFIABLE);
	vr_slicer_free(&s);
	/* a suffix above the buffer limit, on a stream of unknown size */
	CHECK(INIT("-101", -1, 100) == VR_RANGE_TOO_BIG && e[0]);
	vr_slicer_free(&s);
	CHECK(INIT("0-9,-101", -1, 100) == VR_RANGE_TOO_BIG);
	vr_slicer_free(&s);
	CHECK(INIT("-99999999999999999999999", -1, (uint64_t)1 << 40) == VR_RANGE_TOO_BIG);
	vr_slicer_free(&s);
	CHECK(INIT("-100", -1, 100) == VR_RANGE_OK && s.ring_cap == 100);
	vr_slicer_free(&s);
	CHECK(INIT("-101", 1000, 100) == VR_RANGE_OK); /* known size: no ring */
	vr_slicer_free(&s);
	/* "-0" is unsatisfiable whatever the size: it needs no ring and no position */
	CHECK(INIT("-0", -1, 100) == VR_RANGE_OK);
	vr_slicer_free(&s);
	CHECK(INIT("-0,0-1", -1, 100) == VR_RANGE_OK);
	vr_slicer_free(&s);
	CHECK(INIT("-5,-0", -1, 100) == VR_RANGE_OK && s.ring_cap == 5);
	vr_slicer_free(&s);
	/* free is idempotent */
	vr_slicer_free(&s);
#undef INIT
}

/* An unknown-size stream stops being read once the last range is out. */
static void test_slicer_stops_early(void)
{
	static struct vr_range_set rs;
	static struct vr_slicer s;
	CHECK(vr_range_parse("2-4,6-7", &rs, NULL, 0) == 0);
	CHECK(vr_slicer_init(&s, &rs, -1, 100, NULL, 0) == 0);
	struct sink k = {0};
	CHECK(vr_slicer_wants_input(&s));
	uint64_t skip = 9, take = 9;
	CHECK(vr_slicer_next(&s, &skip, &take) == 1 && skip == 2 && take == 3);
	CHECK(vr_slicer_feed(&s, "0123456789abcdef", 16, sink_emit, &k) == 0);
	CHECK(k.len == 5 && !memcmp(k.buf, "23467", 5));
	CHECK(!vr_slicer_wants_input(&s));
	CHECK(vr_slicer_next(&s, &skip, &take) == 0);
	struct vr_span sp[2];
	int64_t total = 0;
	CHECK(vr_slicer_spans(&s, sp, &total) == 2 && total == -1);
	CHECK(sp[0].start == 2 && sp[0].end == 4 && sp[1].start == 6 && sp[1].end == 7);
	vr_slicer_free(&s);
	free(k.buf);

	/* next/advance: the zero-copy protocol, with a partial advance */
	CHECK(vr_range_parse("10-19,30-", &rs, NULL, 0) == 0);
	CHECK(vr_slicer_init(&s, &rs, -1, 100, NULL, 0) == 0);
	CHECK(vr_slicer_next(&s, &skip, &take) && skip == 10 && take == 10);
	vr_slicer_advance(&s, 4);
	CHECK(vr_slicer_next(&s, &skip, &take) && skip == 6 && take == 10);
	vr_slicer_advance(&s, 6 + 3);
	CHECK(vr_slicer_next(&s, &skip, &take) && skip == 0 && take == 7);
	vr_slicer_advance(&s, 7);
	CHECK(s.idx == 1);
	CHECK(vr_slicer_next(&s, &skip, &take) && skip == 10 && take == VR_RANGE_OPEN);
	vr_slicer_advance(&s, 10 + 1000);
	CHECK(vr_slicer_wants_input(&s)); /* open: until the end */
	CHECK(vr_slicer_finish(&s, sink_emit, &k) == 0);
	CHECK(!vr_slicer_wants_input(&s));
	CHECK(vr_slicer_spans(&s, sp, &total) == 2 && total == 1030 && sp[1].start == 30 &&
	      sp[1].end == 1029);
	vr_slicer_free(&s);
}

static void test_slicer_emit_error(void)
{
	static struct vr_range_set rs;
	static struct vr_slicer s;
	CHECK(vr_range_parse("0-1,3-4,6-", &rs, NULL, 0) == 0);
	CHECK(vr_slicer_init(&s, &rs, -1, 100, NULL, 0) == 0);
	struct sink k = {.fail_after = 2};
	CHECK(vr_slicer_feed(&s, "0123456789", 10, sink_emit, &k) == 7);
	CHECK(k.calls == 2 && k.len == 2);
	vr_slicer_free(&s);
	free(k.buf);
	/* and from the ring at the end */
	CHECK(vr_range_parse("-4", &rs, NULL, 0) == 0);
	CHECK(vr_slicer_init(&s, &rs, -1, 100, NULL, 0) == 0);
	memset(&k, 0, sizeof k);
	k.fail_after = 1;
	CHECK(vr_slicer_feed(&s, "0123456789", 10, sink_emit, &k) == 0);
	CHECK(vr_slicer_finish(&s, sink_emit, &k) == 7);
	vr_slicer_free(&s);
	free(k.buf);
}

/* Range end and suffix arithmetic against an oracle that knows nothing of
 * spans: byte i of a SIZE-byte body is in "A-B" iff A <= i <= B, in "A-"
 * iff A <= i, in "-N" iff i + N >= SIZE (the last N bytes); the span must
 * be exactly the bytes selected, and "unsatisfiable" exactly none. Every
 * spec with positions up to SIZE+2, for every SIZE up to 40. */
static int oracle_one(const char *text, uint64_t size, int kind, uint64_t a, uint64_t b)
{
	static struct vr_span out[MAXN];
	size_t n = 0;
	if (vr_range_parse(text, &set, NULL, 0) != VR_RANGE_OK)
		return CHECK(!"parse");
	int r = vr_range_resolve(&set, size, out, &n);
	/* the selected bytes, by membership */
	uint64_t lo = UINT64_MAX, hi = 0, count = 0;
	for (uint64_t i = 0; i < size; i++) {
		int in = kind == 0 ? (a <= i && i <= b) : kind == 1 ? a <= i : i + a >= size;
		if (in) {
			lo = i < lo ? i : lo;
			hi = i;
			count++;
		}
	}
	if (count == 0) {
		if (r == VR_RANGE_UNSATISFIABLE && n == 0)
			return 1;
		fprintf(stderr, "  '%s' of %" PRIu64 " bytes selects nothing, resolve gave %d '%s'\n",
			text, size, r, r == VR_RANGE_OK ? fmt_spans(out, n) : "");
		return 0;
	}
	if (r == VR_RANGE_OK && n == 1 && out[0].start == lo && out[0].end == hi &&
	    hi - lo + 1 == count)
		return 1;
	fprintf(stderr, "  '%s' of %" PRIu64 " bytes selects %" PRIu64 "-%" PRIu64 ", resolve gave %d '%s'\n",
		text, size, lo, hi, r, r == VR_RANGE_OK ? fmt_spans(out, n) : "");
	return 0;
}

static void test_resolve_oracle(void)
{
	char t[64];
	for (uint64_t size = 0; size <= 40; size++) {
		int ok = 1;
		for (uint64_t a = 0; a <= size + 2; a++) {
			snprintf(t, sizeof t, "-%" PRIu64, a);
			ok &= oracle_one(t, size, 2, a, 0);
			snprintf(t, sizeof t, "%" PRIu64 "-", a);
			ok &= oracle_one(t, size, 1, a, 0);
			for (uint64_t b = a; b <= size + 2; b++) {
				snprintf(t, sizeof t, "%" PRIu64 "-%" PRIu64, a, b);
				ok &= oracle_one(t, size, 0, a, b);
			}
		}
		CHECK(ok); /* one check per size: the lines above name what failed */
	}
	/* the edges by name: a last position at the size, or just below or
	 * above it; a suffix at the size, one short, one over */
	CHECK(resolves_as("0-1000", 1000, "0-999"));
	CHECK(resolves_as("5-999", 1000, "5-999"));
	CHECK(resolves_as("5-998", 1000, "5-998"));
	CHECK(resolves_as("5-1001", 1000, "5-999"));
	CHECK(resolves_as("-999", 1000, "1-999"));
	CHECK(resolves_as("-1001", 1000, "0-999"));
	CHECK(resolves_as("0-1,-1,998-1000", 1000, "0-1,999-999,998-999"));
}

/* A set printed back as text, and the one wording of a 416. */
static void test_range_text(void)
{
	struct vr_range_set rs;
	char e[256], b[256];
	CHECK_EQ_INT(vr_range_parse("bytes=0-499, 1000-,-500", &rs, e, sizeof e), VR_RANGE_OK);
	CHECK_EQ_STR(vr_range_text(&rs, b, sizeof b), "bytes=0-499,1000-,-500");
	CHECK_EQ_INT(vr_range_parse("5000-", &rs, e, sizeof e), VR_RANGE_OK);
	CHECK_EQ_STR(vr_unsatisfiable_text(b, sizeof b, &rs, "the entry", 1000, 0),
		     "range bytes=5000- not satisfiable: the entry has 1000 bytes "
		     "(Content-Range: bytes */1000)");
	CHECK_EQ_STR(vr_unsatisfiable_text(b, sizeof b, &rs, "http://o/a", -1, 1),
		     "range bytes=5000- not satisfiable: http://o/a answered HTTP 416");
}

int main(void)
{
	test_range_text();
	const char *seed = getenv("VR_TEST_SEED");
	if (seed && *seed)
		rng_state = strtoull(seed, NULL, 0) | 1;
	uint64_t seed_used = rng_state;
	for (size_t i = 0; i < BUFMAX; i++)
		input[i] = (unsigned char)(rnd() >> 32);

	test_parse_valid();
	test_parse_whitespace_and_empty();
	test_parse_overflow();
	test_parse_malformed();
	test_parse_count();
	test_resolve();
	test_content_range();
	test_multipart();
	test_boundary();
	test_slicer_init_errors();
	test_slicer_stops_early();
	test_slicer_emit_error();
	test_slicer_suffix_ring();
	test_slicer_random();
	test_resolve_oracle();

	if (check_failed)
		printf("test_range: replay with VR_TEST_SEED=0x%" PRIx64 "\n", seed_used);
	return check_done();
}
