/* The tee of a cache miss: one stream of bytes goes to the output (whole,
 * or through the range slicer) and into a store writer at once, from the
 * caller's one read buffer: no second copy, nothing accumulated.
 *
 * The two sides fail independently. A closed output (EPIPE) stops the
 * output side quietly and the store side goes on to the end, so the entry
 * is still complete; a failed store write aborts the writer (releasing the
 * key's lock for another process at once) and the output goes on.
 *
 * Contract: the tee borrows out_fd, slicer and st; it owns w once given
 * (commit or abort releases it). One tee per request, on one thread. */
#ifndef VR_TEE_H
#define VR_TEE_H

#include <stddef.h>
#include <stdint.h>

#include "io.h"
#include "range.h"

struct vr_store;
struct vr_store_writer;
struct vr_entry;

struct vr_tee {
	/* output side */
	struct vr_sink out;         /* fd -1: none */
	struct vr_slicer *slicer;   /* NULL: every byte goes out */
	/* store side: the tee owns the writer once given (and its stream count) */
	struct vr_store_writer *w;  /* NULL: not storing (or failed) */
	struct vr_store *st;        /* w's store, for the text of its failures */
	int store_rc;               /* the first store failure, 0 none */
	char store_err[512];
	double store_ms;
	uint64_t bytes_in;
	uint64_t bytes_stored;      /* given to the writer */
	int defer_store;            /* the store side takes its bytes later (vr_tee_store_fd):
				     * the stream is not stored, but still wanted */
};

/* Both sides: 0, or 1 when neither side wants more bytes (output gone and
 * nothing is being stored), so the producer may be stopped. */
int vr_tee_feed(struct vr_tee *t, const void *buf, size_t n);
/* The store side's bytes from fd (read to its end through buf): 0, or
 * the store failure (also kept in t). Ends defer_store. */
int vr_tee_store_fd(struct vr_tee *t, int fd, void *buf, size_t buflen);
/* Input ended: the slicer's suffix ring goes out. */
void vr_tee_finish_output(struct vr_tee *t);
/* Publish the stored entry: 0, or the store failure (also kept in t). */
int vr_tee_commit(struct vr_tee *t, struct vr_entry *published);
/* Drop the stored generation (the producer failed: partial output is never
 * stored). */
void vr_tee_abort(struct vr_tee *t);

#endif
