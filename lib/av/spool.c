#include "spool.h"
#include "num.h"
#include "io.h"
#include "lifecycle.h"
#include "metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* mkstemp(3) replaces these six characters */
#define MKSTEMP_TEMPLATE "\x58\x58\x58\x58\x58\x58"

static int spool_create(char *err, size_t errlen)
{
	const char *dir = getenv("TMPDIR");
	char path[PATH_MAX];
	if (!dir || !*dir)
		dir = "/tmp";
	if (snprintf(path, sizeof path, "%s/vr-spool-%s", dir, MKSTEMP_TEMPLATE) >= (int)sizeof path) {
		snprintf(err, errlen, "TMPDIR is too long");
		return -1;
	}
	int fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create a spool file in %s: %s", dir, strerror(errno));
		return -1;
	}
	/* named only between mkostemp and unlink; a signal in between finds
	 * it in the cleanup table */
	int id = vr_cleanup_path(path);
	unlink(path);
	vr_cleanup_forget(id);
	return fd;
}

/* A descriptor as a vr_spool_reader: poll with the stall timeout. */
struct fd_reader {
	int fd;
	double stall_timeout, last;
};

static long fd_read(void *ctx, void *buf, size_t cap, char *err, size_t errlen)
{
	struct fd_reader *r = ctx;
	for (;;) {
		if (vr_stop_requested())
			break;
		struct pollfd p = {.fd = r->fd, .events = POLLIN};
		int pr = poll(&p, 1, 250);
		if (pr < 0 && errno != EINTR) {
			snprintf(err, errlen, "reading input: %s", strerror(errno));
			return -VR_SPOOL_EIO;
		}
		if (pr <= 0) {
			if (r->stall_timeout > 0 && vr_now_ms() - r->last > r->stall_timeout * 1000) {
				char d[32];
				snprintf(err, errlen, "no data for %s",
					 vr_duration_text(r->stall_timeout, d, sizeof d));
				return -VR_SPOOL_ETIMEOUT;
			}
			continue;
		}
		ssize_t n = vr_read_some(r->fd, buf, cap);
		if (n < 0) {
			if (vr_stop_requested())
				break;
			snprintf(err, errlen, "reading input: %s", strerror(errno));
			return -VR_SPOOL_EIO;
		}
		r->last = vr_now_ms();
		return (long)n;
	}
	snprintf(err, errlen, "interrupted");
	return -VR_SPOOL_ESTOP;
}

int vr_spool_fd(struct vr_spool *s, int in, const void *prefix, size_t prefix_len,
		uint64_t max_bytes, double stall_timeout, char *err, size_t errlen)
{
	struct fd_reader r = {.fd = in, .stall_timeout = stall_timeout, .last = vr_now_ms()};
	return vr_spool_read(s, fd_read, &r, prefix, prefix_len, max_bytes, err, errlen);
}

int vr_spool_read(struct vr_spool *s, vr_spool_reader read, void *ctx, const void *prefix,
		  size_t prefix_len, uint64_t max_bytes, char *err, size_t errlen)
{
	int rc = VR_SPOOL_OK;
	unsigned char *buf = NULL;
	s->size = 0;
	s->fd = spool_create(err, errlen);
	if (s->fd < 0)
		return VR_SPOOL_EIO;
	if (max_bytes && prefix_len > max_bytes)
		goto limit;
	if (prefix_len && vr_write_full(s->fd, prefix, prefix_len) != VR_IO_OK)
		goto write_error;
	s->size = prefix_len;
	buf = malloc(VR_IO_BUFSIZE);
	if (!buf) {
		snprintf(err, errlen, "out of memory");
		rc = VR_SPOOL_EIO;
		goto out;
	}
	for (;;) {
		if (vr_stop_requested())
			goto stop;
		long n = read(ctx, buf, VR_IO_BUFSIZE, err, errlen);
		if (n < 0) {
			rc = (int)-n;
			goto out;
		}
		if (n == 0)
			break;
		if (max_bytes && s->size + (uint64_t)n > max_bytes)
			goto limit;
		int w = vr_write_full(s->fd, buf, (size_t)n);
		if (w == VR_IO_ESTOP)
			goto stop;
		if (w != VR_IO_OK)
			goto write_error;
		s->size += (uint64_t)n;
	}
	if (lseek(s->fd, 0, SEEK_SET) < 0)
		goto write_error;
	goto out;
limit:
	snprintf(err, errlen, "input is larger than the limit of %llu bytes",
		 (unsigned long long)max_bytes);
	rc = VR_SPOOL_ELIMIT;
	goto out;
write_error:
	snprintf(err, errlen, "writing the spool file: %s", strerror(errno));
	rc = VR_SPOOL_EIO;
	goto out;
stop:
	snprintf(err, errlen, "interrupted");
	rc = VR_SPOOL_ESTOP;
out:
	free(buf);
	if (rc)
		vr_spool_close(s);
	return rc;
}

void vr_spool_close(struct vr_spool *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}
