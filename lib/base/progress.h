/* A one-line progress bar on stderr for batch commands (vr-cache warm):
 *
 *   [#########-----------]  45%  450/1000  hit 200 miss 220 fail 10  12.3 MiB  35.2/s  ETA 0:15
 *
 * Formatting is a pure function (for tests); drawing rewrites the line in
 * place with one write. */
#ifndef VR_PROGRESS_H
#define VR_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

struct vr_progress {
	uint64_t done, total;        /* total 0: unknown (no bar, no ETA) */
	uint64_t hits, misses, failed;
	uint64_t bytes;
	double elapsed_s;
	int concurrency;             /* 0: not shown */
};

/* The line, without "\r" or newline, at most width columns (>= 20);
 * returns its length. */
size_t vr_progress_format(char *buf, size_t cap, const struct vr_progress *p, int width);

/* "\r" + the line + clear to the end of the line, one write to fd. */
void vr_progress_draw(int fd, const struct vr_progress *p);
/* Erase the line (before other messages and at the end). */
void vr_progress_clear(int fd);

/* "12.3 MiB" style; returns buf. */
const char *vr_progress_bytes(char *buf, size_t cap, uint64_t bytes);

#endif
