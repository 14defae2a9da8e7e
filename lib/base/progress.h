/* A one-line progress bar on stderr for batch commands (vr-cache warm):
 *
 *   [#######-----]  45%  450/1000  hit 200 miss 215 coalesced 5 fail 10  12.3 MiB  35.2/s  ETA 0:15
 *
 * The counts are the categories of warm's summary, each job in one. 
 *
 * Drawing rewrites the line in place with one write to fd. No shared
 * state (stack buffers only): any thread may call these, but two threads
 * drawing on one fd interleave lines, so warm draws and clears under its
 * own mutex. */
#ifndef VR_PROGRESS_H
#define VR_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

struct vr_progress {
	uint64_t done, total;        /* total 0: unknown (no bar, no ETA) */
	uint64_t hits, misses, coalesced, failed;
	uint64_t bytes;
	double elapsed_s;
	int concurrency;             /* 0: not shown */
};

/* "\r" + the line + clear to the end of the line, one write to fd. */
void vr_progress_draw(int fd, const struct vr_progress *p);
/* Erase the line (before other messages and at the end). */
void vr_progress_clear(int fd);

/* "12.3 MiB" style; returns buf. */
const char *vr_progress_bytes(char *buf, size_t cap, uint64_t bytes);

/* A transfer's line (vr-fetch --progress), without the program's name:
 *   " 45%  1.2 MiB of 2.6 MiB  3.1 MiB/s  ETA 0:03"   total known
 *   "1.2 MiB  3.1 MiB/s"                              total < 0: unknown
 * Returns buf. */
const char *vr_progress_transfer_text(char *buf, size_t cap, uint64_t bytes, int64_t total,
				      double elapsed_s);

/* "PROG: text" on fd: on a terminal rewritten in place ("\r", clear to
 * the end of the line), elsewhere (--progress into a file) a line of its
 * own each time. vr_progress_line_end ends a line drawn in place. */
void vr_progress_line(int fd, const char *text);
void vr_progress_line_end(int fd);

#endif
