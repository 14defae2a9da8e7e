#include "pressure.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void vr_pressure_config_default(struct vr_pressure_config *c, int min_jobs, int max_jobs,
				uint64_t memory_limit_kb)
{
	memset(c, 0, sizeof *c);
	if (min_jobs < 1)
		min_jobs = 1;
	if (max_jobs < min_jobs)
		max_jobs = min_jobs;
	c->min_jobs = min_jobs;
	c->max_jobs = max_jobs;
	c->memory_limit_kb = memory_limit_kb;
	c->rss_high = 0.80;
	c->rss_low = 0.60;
	c->avail_low = 0.10;
	c->avail_high = 0.20;
	c->fail_high = 0.50;
	c->fail_low = 0.20;
	c->fail_min_jobs = 8;
	c->down_hold_s = 1.0;
	c->up_hold_s = 2.0;
}

static int clamp(const struct vr_pressure_config *c, int n)
{
	if (n > c->max_jobs)
		n = c->max_jobs;
	if (n < c->min_jobs)
		n = c->min_jobs;
	return n;
}

void vr_pressure_state_init(struct vr_pressure_state *st, const struct vr_pressure_config *c,
			    int initial)
{
	st->concurrency = clamp(c, initial);
	st->last_change = -1;
}

int vr_pressure_decide(const struct vr_pressure_config *c, struct vr_pressure_state *st,
		       const struct vr_pressure_sample *s, enum vr_pressure_reason *why)
{
	enum vr_pressure_reason r = VR_PRESSURE_STEADY;
	int cur = clamp(c, st->concurrency);
	int next = cur;
	double since = st->last_change < 0 ? 1e300 : s->now - st->last_change;

	double rss_frac = c->memory_limit_kb && s->rss_kb
				  ? (double)s->rss_kb / (double)c->memory_limit_kb : 0;
	double avail_frac = s->mem_total_kb && s->mem_available_kb <= s->mem_total_kb
				    ? (double)s->mem_available_kb / (double)s->mem_total_kb : 1;
	int judge_fail = s->recent_jobs >= c->fail_min_jobs && s->recent_jobs > 0;
	double fail_frac = judge_fail ? (double)s->recent_failed / (double)s->recent_jobs : 0;

	if (rss_frac > c->rss_high)
		r = VR_PRESSURE_RSS;
	else if (avail_frac < c->avail_low)
		r = VR_PRESSURE_MEMAVAIL;
	else if (judge_fail && fail_frac > c->fail_high)
		r = VR_PRESSURE_FAILURES;

	if (r != VR_PRESSURE_STEADY) {
		/* memory halves at once (a transform's buffers are large and
		 * the next one may tip the process over); failures back off
		 * one step, since a broken origin is not made worse by load */
		if (cur > c->min_jobs && since >= c->down_hold_s)
			next = r == VR_PRESSURE_FAILURES ? cur - 1 : cur / 2;
		else
			r = VR_PRESSURE_STEADY;
	} else if (cur < c->max_jobs && since >= c->up_hold_s && rss_frac < c->rss_low &&
		   avail_frac > c->avail_high && (!judge_fail || fail_frac <= c->fail_low)) {
		next = cur + 1;
		r = VR_PRESSURE_CLEAR;
	}
	next = clamp(c, next);
	if (next == cur)
		r = VR_PRESSURE_STEADY;
	else
		st->last_change = s->now;
	st->concurrency = next;
	if (why)
		*why = r;
	return next;
}

const char *vr_pressure_reason_name(enum vr_pressure_reason r)
{
	switch (r) {
	case VR_PRESSURE_RSS: return "rss";
	case VR_PRESSURE_MEMAVAIL: return "memavailable";
	case VR_PRESSURE_FAILURES: return "failures";
	case VR_PRESSURE_CLEAR: return "clear";
	default: return "steady";
	}
}

int vr_pressure_parse_statm(const char *text, long page_size, uint64_t *rss_kb)
{
	/* "size resident shared text lib data dt", in pages */
	char *end;
	errno = 0;
	unsigned long long size = strtoull(text, &end, 10);
	(void)size;
	if (end == text || errno || *end != ' ')
		return -1;
	const char *p = end + 1;
	unsigned long long res = strtoull(p, &end, 10);
	if (end == p || errno || page_size <= 0)
		return -1;
	*rss_kb = (uint64_t)res * (uint64_t)page_size / 1024;
	return 0;
}

static int meminfo_field(const char *text, const char *name, uint64_t *kb)
{
	size_t n = strlen(name);
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, name, n) || p[n] != ':')
			continue;
		const char *v = p + n + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		char *end;
		errno = 0;
		unsigned long long x = strtoull(v, &end, 10);
		if (end == v || errno)
			return -1;
		*kb = x;
		return 0;
	}
	return -1;
}

int vr_pressure_parse_meminfo(const char *text, uint64_t *available_kb, uint64_t *total_kb)
{
	if (meminfo_field(text, "MemTotal", total_kb) < 0 ||
	    meminfo_field(text, "MemAvailable", available_kb) < 0)
		return -1;
	return 0;
}

/* The whole of a small /proc file into buf, NUL-terminated; no stdio, so
 * the sampler allocates nothing. */
static int read_small(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t len = 0;
	while (len + 1 < cap) {
		ssize_t n = read(fd, buf + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	return len ? 0 : -1;
}

uint64_t vr_rss_kb(void)
{
	char buf[256];
	uint64_t kb = 0;
	if (read_small("/proc/self/statm", buf, sizeof buf) == 0)
		vr_pressure_parse_statm(buf, sysconf(_SC_PAGESIZE), &kb);
	return kb;
}

int vr_pressure_sample_read(struct vr_pressure_sample *s)
{
	char buf[8192];
	int got = 0;
	s->rss_kb = vr_rss_kb();
	if (s->rss_kb)
		got = 1;
	s->mem_available_kb = s->mem_total_kb = 0;
	if (read_small("/proc/meminfo", buf, sizeof buf) == 0 &&
	    vr_pressure_parse_meminfo(buf, &s->mem_available_kb, &s->mem_total_kb) == 0)
		got = 1;
	else
		s->mem_available_kb = s->mem_total_kb = 0;
	return got ? 0 : -1;
}
