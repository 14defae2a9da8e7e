/* Run metrics: one JSON line per run appended to --metrics FILE or
 * $VR_METRICS, with at least program, bytes_in, bytes_out, wall_ms,
 * peak_rss_kb, open_streams and exit. Programs add their own fields.
 *
 * Contract: one process-wide line in unlocked static state: main thread
 * only (warm's workers write their per-job lines themselves, to
 * vr_metrics_path()). Keys and values are copied; program and path
 * are kept as given (borrowed: argv or literals). */
#ifndef VR_METRICS_H
#define VR_METRICS_H

#include <stdint.h>

/* path NULL: $VR_METRICS; neither set: nothing is written. */
void vr_metrics_start(const char *program, const char *path);
/* The path lines go to ("" when none): for commands that append lines of
 * their own (vr-cache warm's per-job lines). */
const char *vr_metrics_path(void);
void vr_metrics_bytes_in(uint64_t n);
void vr_metrics_bytes_out(uint64_t n);
uint64_t vr_metrics_get_bytes_out(void);
/* Replace the count (a program whose library stages counted bytes that
 * were not its output, e.g. the transform writing into vr-cache's pipe). */
void vr_metrics_set_bytes_out(uint64_t n);
void vr_metrics_str(const char *key, const char *value);
void vr_metrics_int(const char *key, int64_t value);
/* A pre-formatted JSON value (an array: ["rss","failures"]), at most 511
 * bytes; longer is written as null. */
void vr_metrics_raw(const char *key, const char *json);
/* Append the line (one write with O_APPEND, so concurrent runs do not
 * interleave). Safe to call once; later calls do nothing. */
void vr_metrics_finish(int exit_status);

/* Peak resident set size of this process, in KiB. */
long vr_peak_rss_kb(void);
/* Monotonic milliseconds. */
double vr_now_ms(void);

#endif
