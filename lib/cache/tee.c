#include "tee.h"
#include "io.h"
#include "lifecycle.h"
#include "metrics.h"
#include "status.h"
#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int out_write(struct vr_tee *t, const void *buf, size_t n)
{
	if (t->out_closed || t->out_errno || n == 0)
		return 0;
	if (!t->first_byte_ms)
		t->first_byte_ms = vr_now_ms();
	int w = vr_write_full(t->out_fd, buf, n);
	if (w == VR_IO_OK) {
		t->bytes_out += n;
		return 0;
	}
	if (w == VR_IO_EPIPE)
		t->out_closed = 1;
	else
		t->out_errno = errno ? errno : EIO;
	return VR_STOP; /* stops the slicer's emit loop; the store side goes on */
}

static int emit(void *ctx, const void *buf, size_t n)
{
	return out_write(ctx, buf, n);
}

static void store_failed(struct vr_tee *t, int rc, const char *msg)
{
	if (!t->store_rc) {
		t->store_rc = rc ? rc : VR_EIO;
		snprintf(t->store_err, sizeof t->store_err, "%s", msg && *msg ? msg : "store write failed");
	}
	if (t->w) {
		vr_store_writer_abort(t->w);
		t->w = NULL;
		vr_stream_closed();
	}
}

int vr_tee_feed(struct vr_tee *t, const void *buf, size_t n)
{
	t->bytes_in += n;
	if (t->out_fd >= 0 && !t->out_closed && !t->out_errno) {
		if (t->slicer) {
			if (vr_slicer_wants_input(t->slicer) || t->slicer->suffix)
				vr_slicer_feed(t->slicer, buf, n, emit, t);
		} else {
			out_write(t, buf, n);
		}
	}
	if (t->w) {
		double t0 = vr_now_ms();
		int rc = vr_store_writer_write(t->w, buf, n);
		if (!rc)
			rc = vr_store_writer_tick(t->w);
		t->store_ms += vr_now_ms() - t0;
		if (rc)
			store_failed(t, rc, t->st ? vr_store_error(t->st) : NULL);
	}
	int out_wants = t->out_fd >= 0 && !t->out_closed && !t->out_errno &&
			(!t->slicer || vr_slicer_wants_input(t->slicer) || t->slicer->suffix);
	return !out_wants && !t->w;
}

void vr_tee_finish_output(struct vr_tee *t)
{
	if (t->slicer && t->out_fd >= 0 && !t->out_closed && !t->out_errno)
		vr_slicer_finish(t->slicer, emit, t);
	else if (t->slicer)
		t->slicer->at_eof = 1;
}

int vr_tee_commit(struct vr_tee *t, struct vr_entry *published)
{
	if (!t->w)
		return t->store_rc;
	double t0 = vr_now_ms();
	struct vr_store_writer *w = t->w;
	t->w = NULL;
	int rc = vr_store_writer_commit(w, published);
	vr_stream_closed();
	t->store_ms += vr_now_ms() - t0;
	if (rc)
		store_failed(t, rc, t->st ? vr_store_error(t->st) : NULL);
	return rc;
}

void vr_tee_abort(struct vr_tee *t)
{
	if (t->w) {
		vr_store_writer_abort(t->w);
		t->w = NULL;
		vr_stream_closed();
	}
}
