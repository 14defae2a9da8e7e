#include "tee.h"
#include "io.h"
#include "lifecycle.h"
#include "metrics.h"
#include "status.h"
#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

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

static void store_bytes(struct vr_tee *t, const void *buf, size_t n)
{
	double t0 = vr_now_ms();
	int rc = vr_store_writer_write(t->w, buf, n);
	if (!rc)
		rc = vr_store_writer_tick(t->w);
	t->store_ms += vr_now_ms() - t0;
	t->bytes_stored += n;
	if (rc)
		store_failed(t, rc, t->st ? vr_store_error(t->st) : NULL);
}

int vr_tee_store_fd(struct vr_tee *t, int fd, void *buf, size_t buflen)
{
	t->defer_store = 0;
	while (t->w) {
		ssize_t n = vr_read_some(fd, buf, buflen);
		if (n < 0) {
			char msg[300];
			snprintf(msg, sizeof msg, "reading the seekable copy: %s", strerror(errno));
			store_failed(t, VR_EIO, msg);
			break;
		}
		if (n == 0)
			break;
		store_bytes(t, buf, (size_t)n);
	}
	return t->store_rc;
}

int vr_tee_feed(struct vr_tee *t, const void *buf, size_t n)
{
	t->bytes_in += n;
	/* a closed output stops the slicer's emit loop; the store side goes on */
	if (vr_sink_open(&t->out)) {
		if (t->slicer) {
			if (vr_slicer_wants_input(t->slicer) || t->slicer->suffix)
				vr_slicer_feed(t->slicer, buf, n, vr_sink_write, &t->out);
		} else {
			vr_sink_write(&t->out, buf, n);
		}
	}
	if (t->w && !t->defer_store)
		store_bytes(t, buf, n);
	int out_wants = vr_sink_open(&t->out) &&
			(!t->slicer || vr_slicer_wants_input(t->slicer) || t->slicer->suffix);
	return !out_wants && !t->w;
}

void vr_tee_finish_output(struct vr_tee *t)
{
	if (t->slicer && vr_sink_open(&t->out))
		vr_slicer_finish(t->slicer, vr_sink_write, &t->out);
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
