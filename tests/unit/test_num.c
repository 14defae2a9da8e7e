/* Unit tests of lib/base/num: strict numbers, sizes and durations. */
#include "num.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"

static const uint64_t SENTINEL = 0xdeadbeefcafef00dull;

static int u64_is(const char *s, uint64_t want)
{
	uint64_t v = SENTINEL;
	return vr_parse_u64(s, &v) == 0 && v == want;
}

/* Rejected, and *out left alone. */
static int u64_bad(const char *s)
{
	uint64_t v = SENTINEL;
	return vr_parse_u64(s, &v) == -1 && v == SENTINEL;
}

static int size_is(const char *s, uint64_t want)
{
	uint64_t v = SENTINEL;
	int r = vr_parse_size(s, &v);
	if (r != 0 || v != want)
		fprintf(stderr, "  vr_parse_size('%s') = %d, %llu; want %llu\n", s, r,
			(unsigned long long)v, (unsigned long long)want);
	return r == 0 && v == want;
}

static int size_bad(const char *s)
{
	uint64_t v = SENTINEL;
	return vr_parse_size(s, &v) == -1 && v == SENTINEL;
}

static int secs_is(const char *s, double want)
{
	double v = -12345;
	int r = vr_parse_seconds(s, &v);
	if (r != 0 || fabs(v - want) > 1e-9 * (1 + fabs(want)))
		fprintf(stderr, "  vr_parse_seconds('%s') = %d, %.12g; want %.12g\n", s, r, v, want);
	return r == 0 && fabs(v - want) <= 1e-9 * (1 + fabs(want));
}

static int secs_bad(const char *s)
{
	double v = -12345;
	int r = vr_parse_seconds(s, &v);
	if (r != -1 || v != -12345)
		fprintf(stderr, "  vr_parse_seconds('%s') = %d, %.12g; want -1, untouched\n", s, r, v);
	return r == -1 && v == -12345;
}

static void test_u64(void)
{
	CHECK(u64_is("0", 0));
	CHECK(u64_is("1", 1));
	CHECK(u64_is("007", 7));
	CHECK(u64_is("4294967296", 4294967296ull));
	CHECK(u64_is("9223372036854775807", 9223372036854775807ull));
	CHECK(u64_is("18446744073709551615", UINT64_MAX));
	CHECK(u64_is("000000000000000000000000018446744073709551615", UINT64_MAX));
	CHECK(u64_bad("18446744073709551616"));
	CHECK(u64_bad("18446744073709551620"));
	CHECK(u64_bad("99999999999999999999"));
	CHECK(u64_bad("184467440737095516150"));
	CHECK(u64_bad(""));
	CHECK(u64_bad(NULL));
	CHECK(u64_bad("-1"));
	CHECK(u64_bad("+1"));
	CHECK(u64_bad(" 1"));
	CHECK(u64_bad("1 "));
	CHECK(u64_bad("1x"));
	CHECK(u64_bad("0x10"));
	CHECK(u64_bad("1.0"));
	CHECK(u64_bad("1e3"));
	CHECK(u64_bad("1K"));
	CHECK(u64_bad("abc"));
}

static void test_size(void)
{
	CHECK(size_is("0", 0));
	CHECK(size_is("512", 512));
	CHECK(size_is("512B", 512));
	CHECK(size_is("512b", 512));
	CHECK(size_is("64K", 64u << 10));
	CHECK(size_is("64k", 64u << 10));
	CHECK(size_is("64KB", 64u << 10));
	CHECK(size_is("64KiB", 64u << 10));
	CHECK(size_is("64kib", 64u << 10));
	CHECK(size_is("64Ki", 64u << 10));
	CHECK(size_is("4M", 4u << 20));
	CHECK(size_is("4MiB", 4u << 20));
	CHECK(size_is("4MB", 4u << 20));
	CHECK(size_is("1G", 1ull << 30));
	CHECK(size_is("1GiB", 1ull << 30));
	CHECK(size_is("2T", 2ull << 40));
	CHECK(size_is("2TB", 2ull << 40));
	CHECK(size_is("0K", 0));
	CHECK(size_is("18446744073709551615", UINT64_MAX));
	CHECK(size_is("16777215T", 16777215ull << 40));
	CHECK(size_is("17179869183G", 17179869183ull << 30));
	/* overflow, with or without a suffix */
	CHECK(size_bad("18446744073709551616"));
	CHECK(size_bad("16777216T"));
	CHECK(size_bad("17179869184G"));
	CHECK(size_bad("18014398509481984K"));
	CHECK(size_bad("99999999999999999999999M"));
	/* garbage */
	CHECK(size_bad(""));
	CHECK(size_bad(NULL));
	CHECK(size_bad("K"));
	CHECK(size_bad("-1"));
	CHECK(size_bad("+1"));
	CHECK(size_bad(" 1"));
	CHECK(size_bad("1 "));
	CHECK(size_bad("1 K"));
	CHECK(size_bad("1.5M"));
	CHECK(size_bad("1P"));
	CHECK(size_bad("1E"));
	CHECK(size_bad("1X"));
	CHECK(size_bad("1KK"));
	CHECK(size_bad("1KiBx"));
	CHECK(size_bad("1BB"));
	CHECK(size_bad("1Bi"));
	CHECK(size_bad("1iB"));
	CHECK(size_bad("0x10"));
}

static void test_seconds(void)
{
	CHECK(secs_is("5", 5));
	CHECK(secs_is("0", 0));
	CHECK(secs_is("1.5", 1.5));
	CHECK(secs_is(".5", 0.5));
	CHECK(secs_is("5s", 5));
	CHECK(secs_is("1.25s", 1.25));
	CHECK(secs_is("250ms", 0.25));
	CHECK(secs_is("1500ms", 1.5));
	CHECK(secs_is("2m", 120));
	CHECK(secs_is("1.5m", 90));
	CHECK(secs_is("1h", 3600));
	CHECK(secs_is("1d", 86400));
	CHECK(secs_is("1.5d", 129600));
	CHECK(secs_is("0.5h", 1800));
	CHECK(secs_is("01:02:03.5", 3723.5));
	CHECK(secs_is("1:02:03", 3723));
	CHECK(secs_is("2:30", 150));
	CHECK(secs_is("00:00", 0));
	CHECK(secs_is("0:59.999", 59.999));
	CHECK(secs_is("100:00", 6000)); /* the first field may be large */
	CHECK(secs_is("25:00:00", 90000));
	/* invalid */
	CHECK(secs_bad("1:60"));
	CHECK(secs_bad("1:60.0"));
	CHECK(secs_bad("1:59.9999:00"));
	CHECK(secs_bad("01:60:00"));
	CHECK(secs_bad("01:02:60"));
	CHECK(secs_bad("1:2:3:4"));
	CHECK(secs_bad("1.5:00"));
	CHECK(secs_bad("1:30.5:00"));
	CHECK(secs_bad(":30"));
	CHECK(secs_bad("1:"));
	CHECK(secs_bad("1::2"));
	CHECK(secs_bad("1:-1"));
	CHECK(secs_bad("1:30s"));
	CHECK(secs_bad("-1"));
	CHECK(secs_bad("+1"));
	CHECK(secs_bad("abc"));
	CHECK(secs_bad(""));
	CHECK(secs_bad(NULL));
	CHECK(secs_bad("1.5.2"));
	CHECK(secs_bad("5."));
	CHECK(secs_bad("."));
	CHECK(secs_bad("5 s"));
	CHECK(secs_bad(" 5"));
	CHECK(secs_bad("5 "));
	CHECK(secs_bad("5S"));
	CHECK(secs_bad("5sec"));
	CHECK(secs_bad("5D"));
	CHECK(secs_bad("5dd"));
	CHECK(secs_bad("1e3"));
	CHECK(secs_bad("inf"));
	CHECK(secs_bad("nan"));
	CHECK(secs_bad("0x10"));
	/* too large to be a finite double, in every notation */
	char huge[420];
	memset(huge, '9', 400);
	huge[400] = '\0';
	CHECK(secs_bad(huge));
	strcpy(huge + 400, "h");
	CHECK(secs_bad(huge));
	strcpy(huge + 400, ":00");
	CHECK(secs_bad(huge));
	strcpy(huge + 400, ":00:00");
	CHECK(secs_bad(huge));
	/* large but finite stays accepted */
	CHECK(secs_is("1000000h", 3.6e9));
}

/* Durations printed in the unit they were most likely given, and read
 * back to the same value by vr_parse_seconds. */
static void test_duration_text(void)
{
	char b[32];
	CHECK_EQ_STR(vr_duration_text(0.4, b, sizeof b), "400ms");
	CHECK_EQ_STR(vr_duration_text(0.25, b, sizeof b), "250ms");
	CHECK_EQ_STR(vr_duration_text(1.5, b, sizeof b), "1.5s");
	CHECK_EQ_STR(vr_duration_text(30, b, sizeof b), "30s");
	CHECK_EQ_STR(vr_duration_text(90, b, sizeof b), "90s");
	CHECK_EQ_STR(vr_duration_text(120, b, sizeof b), "2m");
	CHECK_EQ_STR(vr_duration_text(600, b, sizeof b), "10m");
	CHECK_EQ_STR(vr_duration_text(3600, b, sizeof b), "1h");
	CHECK_EQ_STR(vr_duration_text(86400, b, sizeof b), "24h");
	CHECK_EQ_STR(vr_duration_text(0, b, sizeof b), "0s");
	static const double v[] = {0.001, 0.4, 0.999, 1, 1.001, 2.5, 59, 60, 61, 599.5, 3599, 3600,
				   5400, 7200, 86400, 604800};
	for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
		double back = -1;
		CHECK_EQ_INT(vr_parse_seconds(vr_duration_text(v[i], b, sizeof b), &back), 0);
		CHECK(back > v[i] - 1e-9 && back < v[i] + 1e-9);
	}
}

int main(void)
{
	test_duration_text();
	test_u64();
	test_size();
	test_seconds();
	return check_done();
}
