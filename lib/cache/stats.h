/* The analysis behind `vr-cache stats --metrics-file`: a metrics file's
 * request counts by result, a log-spaced wall_ms histogram and its
 * percentiles, and the field reader for one metrics line.
 *
 * A metrics line is one JSON object per line, as lib/base/metrics and warm's
 * per-job lines write them (flat: no nested objects; strings escaped).
 * Lines of a command that served no request (no "result": gc, stats, a
 * warm batch line) are metrics lines that count nothing; lines that are
 * not metrics lines at all are counted as skipped.
 *
 * Contract: pure over the caller's buffers and structs: any thread. */
#ifndef VR_STATS_H
#define VR_STATS_H

#include <stddef.h>
#include <stdint.h>

/* log-spaced wall_ms: 1% steps from 1 ms up past a day */
#define VR_STATS_BUCKETS 2400

/* The bucket of a duration in ms (<= 1 ms: bucket 0; past the last: the
 * last) and the value that stands for a bucket (its upper edge: at most 1% above
 * the values in it). */
int vr_stats_bucket(double ms);
double vr_stats_bucket_value(int b);

/* The value of the bucket where the pct share (0 to 1) of n samples is
 * reached; 0 when n is 0. n may exceed the histogram's own count (requests
 * without a wall_ms count towards n, not towards any bucket). */
double vr_stats_percentile(const uint64_t *hist, uint64_t n, double pct);

/* The value of the top-level field name of a metrics line, without quotes
 * for a string (escapes are not decoded), cut to len - 1 bytes: 1, or 0
 * when the line has no such field. */
int vr_stats_field(const char *line, const char *name, char *out, size_t len);

/* Whether line (with or without its newline) is a metrics line: a JSON
 * object with a "program" field. */
int vr_stats_is_metrics_line(const char *line);

struct vr_stats {
	uint64_t requests, hits, misses, coalesced, negative, bypass, errors;
	uint64_t evictions;  /* sum of lru_evictions */
	uint64_t skipped;    /* lines that are not metrics lines (blank ones aside) */
	uint64_t hist[VR_STATS_BUCKETS];
};

void vr_stats_init(struct vr_stats *s);
/* Count one line of a metrics file. */
void vr_stats_add_line(struct vr_stats *s, const char *line);
/* (hits + coalesced) / requests; 0 without requests. */
double vr_stats_hit_ratio(const struct vr_stats *s);
/* A percentile of wall_ms over the requests. */
double vr_stats_wall_ms(const struct vr_stats *s, double pct);

#endif
