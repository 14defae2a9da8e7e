/* Unit tests of lib/cache/stats: the metrics-line field reader, the wall_ms
 * histogram and its percentiles, and counting a metrics file's lines. */
#include "stats.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static int field_is(const char *line, const char *name, const char *want)
{
	char v[64] = "untouched";
	int r = vr_stats_field(line, name, v, sizeof v);
	if (r != 1 || strcmp(v, want))
		fprintf(stderr, "  field %s of %s = %d '%s'; want '%s'\n", name, line, r, v, want);
	return r == 1 && !strcmp(v, want);
}

static int field_absent(const char *line, const char *name)
{
	char v[64];
	return vr_stats_field(line, name, v, sizeof v) == 0;
}

static void test_field(void)
{
	const char *l = "{\"program\":\"vr-cache\",\"wall_ms\":12,\"result\":\"hit\",\"key\":\"a,b\"}";
	CHECK(field_is(l, "program", "vr-cache"));
	CHECK(field_is(l, "wall_ms", "12"));
	CHECK(field_is(l, "result", "hit"));
	CHECK(field_is(l, "key", "a,b"));
	CHECK(field_absent(l, "exit"));
	CHECK(field_absent(l, "wall"));   /* a prefix of a name is not the name */
	CHECK(field_absent(l, "ms"));     /* nor a suffix */
	/* the last field, before the brace and a newline */
	CHECK(field_is("{\"program\":\"x\",\"exit\":3}\n", "exit", "3"));
	/* a name inside a string value is not a field */
	CHECK(field_absent("{\"program\":\"x\",\"error\":\"a \\\"result\\\":\\\"hit\\\"\"}",
			   "result"));
	CHECK(field_absent("{\"program\":\"x\",\"source\":\"/v/a,\\\"result\\\":1\"}", "result"));
	/* cut to the buffer */
	char small[4];
	CHECK(vr_stats_field(l, "program", small, sizeof small) == 1);
	CHECK(!strcmp(small, "vr-"));
}

static void test_metrics_line(void)
{
	CHECK(vr_stats_is_metrics_line("{\"program\":\"vr-cache\",\"exit\":0}\n"));
	CHECK(vr_stats_is_metrics_line("{\"program\":\"vr-cache\",\"exit\":0}"));
	CHECK(!vr_stats_is_metrics_line("{\"exit\":0}"));
	CHECK(!vr_stats_is_metrics_line("hello world\n"));
	CHECK(!vr_stats_is_metrics_line("{\"program\":\"vr-cache\",\"exit\":0"));
	CHECK(!vr_stats_is_metrics_line(""));
	CHECK(!vr_stats_is_metrics_line("\n"));
}

static void test_hist(void)
{
	CHECK(vr_stats_bucket(0) == 0);
	CHECK(vr_stats_bucket(1) == 0);
	CHECK(vr_stats_bucket(-5) == 0);
	CHECK(vr_stats_bucket(NAN) == 0);
	CHECK(vr_stats_bucket(INFINITY) == VR_STATS_BUCKETS - 1);
	CHECK(vr_stats_bucket(1e300) == VR_STATS_BUCKETS - 1);
	/* buckets grow with the value; a bucket stands for its upper edge, at
	 * most 1% above the value */
	int prev = 0;
	for (double ms = 1.5; ms < 1e8; ms *= 1.37) {
		int b = vr_stats_bucket(ms);
		CHECK(b >= prev);
		prev = b;
		double v = vr_stats_bucket_value(b);
		CHECK(v >= ms / 1.0000001);
		CHECK(v < ms * 1.0101);
	}
	CHECK(vr_stats_bucket_value(0) == 1);

	static uint64_t h[VR_STATS_BUCKETS];
	CHECK(vr_stats_percentile(h, 0, 0.5) == 0);
	/* 1..100 ms: p50 near 50, p95 near 95, p100 near 100 */
	for (int i = 1; i <= 100; i++)
		h[vr_stats_bucket(i)]++;
	double p50 = vr_stats_percentile(h, 100, 0.50);
	double p95 = vr_stats_percentile(h, 100, 0.95);
	double p100 = vr_stats_percentile(h, 100, 1.0);
	CHECK(fabs(p50 - 50) <= 0.5);
	CHECK(fabs(p95 - 95) <= 0.95);
	CHECK(fabs(p100 - 100) <= 1);
	CHECK(p50 <= p95);
	/* pct 0 is the smallest sample */
	CHECK(vr_stats_percentile(h, 100, 0) == 1);
	/* requests without a wall_ms push the percentile past every bucket */
	CHECK(vr_stats_percentile(h, 1000, 0.5) == vr_stats_bucket_value(VR_STATS_BUCKETS - 1));
}

static void test_lines(void)
{
	struct vr_stats *s = malloc(sizeof *s);
	if (!s)
		abort();
	vr_stats_init(s);
	const char *lines[] = {
		"{\"program\":\"vr-cache\",\"command\":\"get\",\"wall_ms\":10,\"result\":\"hit\",\"lru_evictions\":2}\n",
		"{\"program\":\"vr-cache\",\"command\":\"get\",\"wall_ms\":200,\"result\":\"miss\"}\n",
		"{\"program\":\"vr-cache\",\"command\":\"warm\",\"type\":\"job\",\"wall_ms\":30,\"result\":\"coalesced\"}\n",
		"{\"program\":\"vr-cache\",\"command\":\"get\",\"wall_ms\":5,\"result\":\"negative\"}\n",
		"{\"program\":\"vr-cache\",\"command\":\"get\",\"wall_ms\":7,\"result\":\"bypass\",\"lru_evictions\":3}\n",
		"{\"program\":\"vr-cache\",\"command\":\"warm\",\"type\":\"job\",\"result\":\"malformed\"}\n",
		"{\"program\":\"vr-cache\",\"command\":\"gc\",\"wall_ms\":3}\n", /* no request */
		"not json\n",
		"{\"half\":\n",
		"{\"result\":\"hit\"}\n", /* no program: not a metrics line */
		"\n",                    /* blank: neither */
	};
	for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
		vr_stats_add_line(s, lines[i]);
	CHECK(s->requests == 6);
	CHECK(s->hits == 1);
	CHECK(s->misses == 1);
	CHECK(s->coalesced == 1);
	CHECK(s->negative == 1);
	CHECK(s->bypass == 1);
	CHECK(s->errors == 1);
	CHECK(s->evictions == 5);
	CHECK(s->skipped == 3);
	CHECK(fabs(vr_stats_hit_ratio(s) - 2.0 / 6) < 1e-12);
	double p50 = vr_stats_wall_ms(s, 0.5), p95 = vr_stats_wall_ms(s, 0.95);
	CHECK(p50 <= p95);
	CHECK(fabs(p50 - 10) < 0.11); /* the third of 6: 5, 7, 10 */
	vr_stats_init(s);
	CHECK(vr_stats_hit_ratio(s) == 0);
	CHECK(vr_stats_wall_ms(s, 0.5) == 0);
	free(s);
}

int main(void)
{
	test_field();
	test_metrics_line();
	test_hist();
	test_lines();
	return check_done();
}
