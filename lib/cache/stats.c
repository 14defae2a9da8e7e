/* Metrics-file analysis for vr-cache stats: see stats.h. */
#include "stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int vr_stats_bucket(double ms)
{
	if (!(ms > 1)) /* also NaN */
		return 0;
	double b = log(ms) / log(1.01) + 1;
	return b >= VR_STATS_BUCKETS - 1 ? VR_STATS_BUCKETS - 1 : (int)b;
}

double vr_stats_bucket_value(int b)
{
	return b <= 0 ? 1 : pow(1.01, b);
}

double vr_stats_percentile(const uint64_t *hist, uint64_t n, double pct)
{
	if (!n)
		return 0;
	uint64_t want = (uint64_t)ceil(pct * (double)n), seen = 0;
	if (!want)
		want = 1;
	for (int b = 0; b < VR_STATS_BUCKETS; b++) {
		seen += hist[b];
		if (seen >= want)
			return vr_stats_bucket_value(b);
	}
	return vr_stats_bucket_value(VR_STATS_BUCKETS - 1);
}

int vr_stats_field(const char *line, const char *name, char *out, size_t len)
{
	size_t nl = strlen(name);
	if (!len)
		return 0;
	/* "name": at the start of a member (after '{' or ','): never inside
	 * a string, where a quote would be escaped */
	for (const char *p = strchr(line, '"'); p; p = strchr(p + 1, '"')) {
		if (p == line || (p[-1] != '{' && p[-1] != ','))
			continue;
		if (strncmp(p + 1, name, nl) || p[1 + nl] != '"' || p[2 + nl] != ':')
			continue;
		p += nl + 3;
		size_t n = 0;
		if (*p == '"') {
			p++;
			while (p[n] && p[n] != '"')
				n++;
		} else {
			while (p[n] && p[n] != ',' && p[n] != '}' && p[n] != '\n')
				n++;
		}
		if (n >= len)
			n = len - 1;
		memcpy(out, p, n);
		out[n] = '\0';
		return 1;
	}
	return 0;
}

int vr_stats_is_metrics_line(const char *line)
{
	size_t n = strlen(line);
	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	if (n < 2 || line[0] != '{' || line[n - 1] != '}')
		return 0;
	char v[8];
	return vr_stats_field(line, "program", v, sizeof v);
}

void vr_stats_init(struct vr_stats *s)
{
	memset(s, 0, sizeof *s);
}

void vr_stats_add_line(struct vr_stats *s, const char *line)
{
	char v[64];
	if (!vr_stats_is_metrics_line(line)) {
		if (line[strspn(line, " \t\r\n")])
			s->skipped++;
		return;
	}
	if (!vr_stats_field(line, "result", v, sizeof v))
		return; /* not a get or warm job line */
	s->requests++;
	if (!strcmp(v, "hit"))
		s->hits++;
	else if (!strcmp(v, "miss"))
		s->misses++;
	else if (!strcmp(v, "coalesced"))
		s->coalesced++;
	else if (!strcmp(v, "negative"))
		s->negative++;
	else if (!strcmp(v, "bypass"))
		s->bypass++;
	else
		s->errors++;
	if (vr_stats_field(line, "wall_ms", v, sizeof v))
		s->hist[vr_stats_bucket(strtod(v, NULL))]++;
	if (vr_stats_field(line, "lru_evictions", v, sizeof v))
		s->evictions += strtoull(v, NULL, 10);
}

double vr_stats_hit_ratio(const struct vr_stats *s)
{
	return s->requests ? (double)(s->hits + s->coalesced) / (double)s->requests : 0;
}

double vr_stats_wall_ms(const struct vr_stats *s, double pct)
{
	return vr_stats_percentile(s->hist, s->requests, pct);
}
