/* Unit tests of lib/base/pressure: the concurrency controller as a pure
 * function (lower on RSS, MemAvailable and failures, raise when clear,
 * hold times, bounds) and the /proc parsers. */
#include "pressure.h"

#include <stdio.h>
#include <string.h>

#include "check.h"

#define GiB_KB (1024ULL * 1024)

static struct vr_pressure_sample calm(double now)
{
	struct vr_pressure_sample s = {.now = now, .rss_kb = 100 * 1024,
				       .mem_available_kb = 8 * GiB_KB, .mem_total_kb = 16 * GiB_KB};
	return s;
}

static void test_rss(void)
{
	struct vr_pressure_config c;
	struct vr_pressure_state st;
	enum vr_pressure_reason why;
	vr_pressure_config_default(&c, 1, 8, GiB_KB);
	vr_pressure_state_init(&st, &c, 8);
	struct vr_pressure_sample s = calm(0);
	CHECK(vr_pressure_decide(&c, &st, &s, &why) == 8 && why == VR_PRESSURE_STEADY);
	s.rss_kb = GiB_KB * 85 / 100;   /* past 80 % */
	CHECK(vr_pressure_decide(&c, &st, &s, &why) == 4 && why == VR_PRESSURE_RSS);
	/* within the hold time: no second step */
	s.now = 0.5;
	CHECK(vr_pressure_decide(&c, &st, &s, &why) == 4 && why == VR_PRESSURE_STEADY);
	s.now = 1.0;
	CHECK(vr_pressure_decide(&c, &st, &s, &why) == 2);
	s.now = 2.0;
	CHECK(vr_pressure_decide(&c, &st, &s, &why) == 1);
	s.now = 3.0;  /* the floor holds */
	CHECK(vr_pressure_decide(&c, &st, &s, &why) == 1 && why == VR_PRESSURE_STEADY);
	/* 70 %: between the marks, no move either way */
	s.rss_kb = GiB_KB * 70 / 100;
	s.now = 10;
	CHECK(vr_pressure_decide(&c, &st, &s, &why) == 1 && why == VR_PRESSURE_STEADY);
	/* well clear: one step up per up-hold */
	s.rss_kb = GiB_KB * 30 / 100;
	s.now = 11;
	CHECK(vr_pressure_decide(&c, &st, &s, &why) == 2 && why == VR_PRESSURE_CLEAR);
	s.now = 12;
	CHECK(vr_pressure_decide(&c, &st, &s, &why) == 2);
	s.now = 13;
	CHECK(vr_pressure_decide(&c, &st, &s, &why) == 3);
	for (int t = 15; t < 40; t += 2) {
		s.now = t;
		vr_pressure_decide(&c, &st, &s, &why);
	}
	CHECK(st.concurrency == 8);  /* the ceiling holds */
}

static void test_memavailable(void)
{
	struct vr_pressure_config c;
	struct vr_pressure_state st;
	enum vr_pressure_reason why;
	vr_pressure_config_default(&c, 2, 6, 0);   /* no limit on RSS */
	vr_pressure_state_init(&st, &c, 6);
	struct vr_pressure_sample s = calm(0);
	s.rss_kb = 64 * GiB_KB;     /* ignored without a limit */
	CHECK(vr_pressure_decide(&c, &st, &s, &why) == 6);
	s.mem_available_kb = s.mem_total_kb / 20;  /* 5 % */
	CHECK(vr_pressure_decide(&c, &st, &s, &why) == 3 && why == VR_PRESSURE_MEMAVAIL);
	s.now = 5;
	CHECK(vr_pressure_decide(&c, &st, &s, &why) == 2);   /* min_jobs 2 */
	/* 15 %: not low, not well clear */
	s.mem_available_kb = s.mem_total_kb * 15 / 100;
	s.now = 10;
	CHECK(vr_pressure_decide(&c, &st, &s, &why) == 2 && why == VR_PRESSURE_STEADY);
	s.mem_available_kb = s.mem_total_kb / 2;
	CHECK(vr_pressure_decide(&c, &st, &s, &why) == 3 && why == VR_PRESSURE_CLEAR);
	/* unknown meminfo counts as clear */
	s.mem_available_kb = s.mem_total_kb = 0;
	s.now = 20;
	CHECK(vr_pressure_decide(&c, &st, &s, &why) == 4);
}

static void test_failures(void)
{
	struct vr_pressure_config c;
	struct vr_pressure_state st;
	enum vr_pressure_reason why;
	vr_pressure_config_default(&c, 1, 4, GiB_KB);
	vr_pressure_state_init(&st, &c, 4);
	struct vr_pressure_sample s = calm(0);
	/* too few jobs to judge */
	s.recent_jobs = 4;
	s.recent_failed = 4;
	CHECK(vr_pressure_decide(&c, &st, &s, &why) == 4);
	s.recent_jobs = 20;
	s.recent_failed = 10;  /* exactly 50 %: not past */
	CHECK(vr_pressure_decide(&c, &st, &s, &why) == 4);
	s.recent_failed = 11;
	CHECK(vr_pressure_decide(&c, &st, &s, &why) == 3 && why == VR_PRESSURE_FAILURES);
	s.now = 1;
	CHECK(vr_pressure_decide(&c, &st, &s, &why) == 2);
	/* 30 % failures: no raise yet (needs <= 20 %) */
	s.recent_failed = 6;
	s.now = 5;
	CHECK(vr_pressure_decide(&c, &st, &s, &why) == 2 && why == VR_PRESSURE_STEADY);
	s.recent_failed = 2;
	CHECK(vr_pressure_decide(&c, &st, &s, &why) == 3 && why == VR_PRESSURE_CLEAR);
}

static void test_bounds(void)
{
	struct vr_pressure_config c;
	struct vr_pressure_state st;
	enum vr_pressure_reason why;
	/* --jobs 3: min = max = 3, nothing moves it */
	vr_pressure_config_default(&c, 3, 3, GiB_KB);
	vr_pressure_state_init(&st, &c, 10);
	CHECK(st.concurrency == 3);
	struct vr_pressure_sample s = calm(0);
	s.rss_kb = GiB_KB;
	CHECK(vr_pressure_decide(&c, &st, &s, &why) == 3 && why == VR_PRESSURE_STEADY);
	s.rss_kb = 1;
	s.now = 100;
	CHECK(vr_pressure_decide(&c, &st, &s, &why) == 3 && why == VR_PRESSURE_STEADY);
	/* nonsense bounds are repaired */
	vr_pressure_config_default(&c, 0, -5, 0);
	CHECK(c.min_jobs == 1 && c.max_jobs == 1);
	/* a state outside the bounds is clamped */
	vr_pressure_config_default(&c, 2, 4, GiB_KB);
	st.concurrency = 9;
	st.last_change = -1;
	s = calm(0);
	CHECK(vr_pressure_decide(&c, &st, &s, &why) == 4);
	CHECK(!strcmp(vr_pressure_reason_name(VR_PRESSURE_RSS), "rss"));
}

static void test_parsers(void)
{
	uint64_t kb = 0, avail = 0, total = 0;
	CHECK(vr_pressure_parse_statm("12345 2560 300 10 0 900 0\n", 4096, &kb) == 0 && kb == 10240);
	CHECK(vr_pressure_parse_statm("garbage", 4096, &kb) == -1);
	CHECK(vr_pressure_parse_statm("", 4096, &kb) == -1);
	const char *mi = "MemTotal:       16303428 kB\nMemFree:         1000 kB\n"
			 "MemAvailable:    8123456 kB\nBuffers:  1 kB\n";
	CHECK(vr_pressure_parse_meminfo(mi, &avail, &total) == 0);
	CHECK(avail == 8123456 && total == 16303428);
	CHECK(vr_pressure_parse_meminfo("MemTotal: 5 kB\n", &avail, &total) == -1);
	CHECK(vr_pressure_parse_meminfo("MemTotalX: 5 kB\nMemAvailable: 1 kB\n", &avail, &total) == -1);
	struct vr_pressure_sample s;
	CHECK(vr_pressure_sample_read(&s) == 0);
	CHECK(s.rss_kb > 0 && s.mem_total_kb > 0 && s.mem_available_kb <= s.mem_total_kb);
	CHECK(vr_rss_kb() > 0);
}

int main(void)
{
	test_rss();
	test_memavailable();
	test_failures();
	test_bounds();
	test_parsers();
	return check_done();
}
