/* Fetching a resolved source list (lib/request/origin): open the candidates in
 * order, stream the body or the requested byte ranges, retry transient
 * failures with backoff, fall back to the next source, and resume from
 * the byte reached when a source fails mid-body.
 *
 * Local files are read with pread/sendfile/splice (lib/base/io) and need
 * nothing beyond libc; http and https requests go through
 * lib/fetch/httpio.h (libcurl, opened on the first http source), so that
 * a local fetch never loads it.
 * Memory is bounded by one transfer buffer whatever the size of the
 * source.
 *
 * Ranges over http: one request per range-spec, in the given order. A 206
 * is passed through as it is; an origin that ignores Range (200 with the
 * whole body) is sliced locally with lib/request/range's one-pass slicer, so the
 * output is the same as vr-range gives on the same bytes. Never both.
 *
 * Failure classes: not found (missing file, HTTP 404, outside the origin
 * root), transient (connection failure, HTTP 5xx, timeout, a body that
 * ends early) and others (HTTP 403 and other 4xx, local I/O errors). Only
 * transient failures are retried on the same source (100 ms, 200 ms, ...);
 * any failure moves on to the next source. An HTTP 416 drops that
 * range-spec (RFC 9110: unsatisfiable specs are ignored).
 *
 * Contract: one vr_fetch per thread; it owns its buffers and connection,
 * and the strings its getters return are valid until vr_fetch_close.
 * vr_fetch_to_fd may copy through
 * lib/base/io's shared buffer: main thread only (vr-fetch); vr-cache reads
 * with vr_fetch_read. */
#ifndef VR_FETCH_H
#define VR_FETCH_H

#include "origin.h"
#include "range.h"

#include <stddef.h>
#include <stdint.h>

#define VR_FETCH_BUFSIZE (256 * 1024)      /* transfer buffer */
#define VR_FETCH_MAX_BUFFER (64u << 20)    /* default suffix ring, see below */

struct vr_fetch_opts {
	/* NULL or n == 0: the whole body (a 200). Copied by vr_fetch_open. */
	const struct vr_range_set *range;
	/* 0: no limit. Past it VR_ELIMIT; when the output length is known
	 * from the first response and exceeds it, VR_ELIMIT before any byte. */
	uint64_t max_bytes;
	/* Seconds for the whole fetch, from vr_fetch_open; 0: none. */
	double max_time;
	/* Seconds without a byte from the sources, across attempts, retries
	 * and their backoff: past it VR_ETIMEOUT ("no data for ..."). It also
	 * caps each attempt's own timeout (connecting, the next byte). 0: only
	 * each source's timeout. */
	double stall_timeout;
	/* A suffix range on a source that gives neither its size nor ranges
	 * keeps its last bytes in a ring of at most this size (0: the
	 * default); past it VR_ELIMIT. */
	uint64_t max_buffer;
	/* Only the facts of the response (size, type, source, status), never
	 * the body: an http source is asked with HEAD (with the Range of the
	 * request, if any), or with GET Range: bytes=0-0 when it refuses HEAD
	 * (405, 501); a local file is stat()ed, not opened. Nothing is to be
	 * read from such a fetch. */
	int info;
	/* Called by vr_fetch_to_fd after each piece written, with the bytes
	 * written so far (vr-fetch --progress); NULL: none. */
	void (*on_written)(void *arg, uint64_t written);
	void *on_written_arg;
};

struct vr_fetch;

/* Open the first candidate that answers (for the first satisfiable
 * range-spec). Returns 0 or a vr_status; *f is set in both cases (NULL
 * only when out of memory) so that vr_fetch_error() can say why; close it
 * either way. `sources` must outlive *f. */
int vr_fetch_open(struct vr_fetch **f, const struct vr_resolved *sources,
		  const struct vr_fetch_opts *o);

/* Up to cap bytes of output into buf; *got == 0 means the end. Returns 0
 * or a vr_status (then vr_fetch_error() says why). After a failure the
 * reader stays failed. */
int vr_fetch_read(struct vr_fetch *f, void *buf, size_t cap, size_t *got);

/* Everything (from where reading stands) to fd, zero-copy for local files.
 * *written (may be NULL) gets the bytes written. EPIPE is a quiet end:
 * returns 0 and vr_fetch_output_closed() becomes true. */
int vr_fetch_to_fd(struct vr_fetch *f, int fd, uint64_t *written);

void vr_fetch_close(struct vr_fetch *f);

/* Facts about the response, valid after a successful open. */
int64_t vr_fetch_size(const struct vr_fetch *f);           /* whole representation; -1 unknown */
const char *vr_fetch_content_type(const struct vr_fetch *f); /* never NULL */
const char *vr_fetch_source(const struct vr_fetch *f);     /* what answered (credentials hidden) */
const char *vr_fetch_origin(const struct vr_fetch *f);     /* origin name or NULL */
int vr_fetch_status(const struct vr_fetch *f);             /* 200 or 206, of the first response */
unsigned vr_fetch_attempts(const struct vr_fetch *f);      /* opens tried, retries included */
uint64_t vr_fetch_bytes_in(const struct vr_fetch *f);      /* read from sources (skipped included) */
uint64_t vr_fetch_bytes_out(const struct vr_fetch *f);     /* output delivered */
int vr_fetch_output_closed(const struct vr_fetch *f);      /* vr_fetch_to_fd met EPIPE */
const char *vr_fetch_error(const struct vr_fetch *f);      /* "" when none */

#endif
