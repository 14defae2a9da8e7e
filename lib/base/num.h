/* Strict parsing of numbers, sizes and durations from options and config.
 *
 * Contract: pure: any thread. */
#ifndef VR_NUM_H
#define VR_NUM_H

#include <stddef.h>
#include <stdint.h>

/* Decimal digits only, no sign or spaces; 0 on success, -1 on garbage or overflow. */
int vr_parse_u64(const char *s, uint64_t *out);
/* A byte count with an optional binary suffix: 512, 64K, 4M, 1G, 2T (also KiB, MB...). */
int vr_parse_size(const char *s, uint64_t *out);
/* A duration: 5, 1.5, 5s, 250ms, 2m, 1h, 1d, MM:SS, HH:MM:SS(.fff). Seconds in *out. */
int vr_parse_seconds(const char *s, double *out);
/* A duration as vr_parse_seconds reads it back, in the unit it was most
 * likely given: 400ms, 1.5s, 30s, 2m, 1h (to the millisecond). Every
 * message that prints a duration uses this. Returns buf. */
const char *vr_duration_text(double seconds, char *buf, size_t len);

/* The value of a hex digit (0-9, a-f, A-F), or -1. */
int vr_hex_digit(char c);

#endif
