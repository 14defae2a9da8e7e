/* The adaptive concurrency controller of vr-cache warm.
 *
 * A pure decision (vr_pressure_decide) fed by a sampler that reads this
 * process's resident set (/proc/self/statm) and the system's available
 * memory (/proc/meminfo). Lower when the process passes rss_high of its
 * memory limit, when MemAvailable drops under avail_low of MemTotal, or
 * when more than fail_high of the recent jobs failed; raise one step at a
 * time when every signal is well clear again. Decreases halve (memory) or
 * step down by one (failures); changes are spaced by hold times so that
 * the effect of one change is measured before the next.
 *
 * Contract: the decision is pure and the sampler reads /proc with no
 * shared state: any thread (warm's monitor thread calls them). */
#ifndef VR_PRESSURE_H
#define VR_PRESSURE_H

#include <stddef.h>
#include <stdint.h>

struct vr_pressure_config {
	int min_jobs, max_jobs;
	uint64_t memory_limit_kb;  /* 0: no limit on the process RSS */
	double rss_high, rss_low;  /* fractions of the limit: lower above high, raise below low */
	double avail_low, avail_high; /* MemAvailable/MemTotal: lower under low, raise above high */
	double fail_high, fail_low;   /* failed/recent: lower above high, raise at or below low */
	unsigned fail_min_jobs;    /* recent jobs needed before the failure rate counts */
	double down_hold_s, up_hold_s; /* least seconds since the last change */
};

struct vr_pressure_sample {
	double now;                /* seconds, any monotonic origin */
	uint64_t rss_kb;           /* 0: unknown */
	uint64_t mem_available_kb, mem_total_kb; /* 0: unknown */
	unsigned recent_jobs, recent_failed;
};

struct vr_pressure_state {
	int concurrency;
	double last_change;        /* sample time of the last change; < 0: none yet */
};

enum vr_pressure_reason {
	VR_PRESSURE_STEADY,
	VR_PRESSURE_RSS,           /* lowered: RSS above rss_high of the limit */
	VR_PRESSURE_MEMAVAIL,      /* lowered: MemAvailable under avail_low */
	VR_PRESSURE_FAILURES,      /* lowered: failure rate above fail_high */
	VR_PRESSURE_CLEAR,         /* raised: every signal well clear */
};

/* Defaults: 80 %/60 % of the limit, 10 %/20 % available, 50 %/20 % failed
 * of at least 8 recent jobs, 1 s between decreases and 2 s before a raise. */
void vr_pressure_config_default(struct vr_pressure_config *c, int min_jobs, int max_jobs,
				uint64_t memory_limit_kb);

void vr_pressure_state_init(struct vr_pressure_state *st, const struct vr_pressure_config *c,
			    int initial);

/* Decide the concurrency for this sample: returns the new value (also
 * stored in st), always within [min_jobs, max_jobs]; *why says what moved
 * it (STEADY when unchanged). */
int vr_pressure_decide(const struct vr_pressure_config *c, struct vr_pressure_state *st,
		       const struct vr_pressure_sample *s, enum vr_pressure_reason *why);

const char *vr_pressure_reason_name(enum vr_pressure_reason r);

/* The sampler: resident KiB of this process and the system's memory
 * (fields left 0 when unreadable). 0, or -1 when nothing could be read. */
int vr_pressure_sample_read(struct vr_pressure_sample *s);

/* Parsers the sampler uses, exposed for tests. 0 or -1. */
int vr_pressure_parse_statm(const char *text, long page_size, uint64_t *rss_kb);
int vr_pressure_parse_meminfo(const char *text, uint64_t *available_kb, uint64_t *total_kb);

/* Current resident KiB of this process (statm), 0 when unknown. */
uint64_t vr_rss_kb(void);

#endif
