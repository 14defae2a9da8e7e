#include "io.h"
#include "lifecycle.h"
#include "metrics.h"
#include "status.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

/* Largest single zero-copy request; big enough to amortise the syscall,
 * small enough to notice a stop request promptly. */
#define ZC_CHUNK (1u << 20)

enum vr_fd_kind vr_fd_kind(int fd, int64_t *size)
{
	struct stat st;
	if (size)
		*size = -1;
	if (fstat(fd, &st) < 0)
		return VR_FD_OTHER;
	if (S_ISREG(st.st_mode)) {
		if (size)
			*size = st.st_size;
		return VR_FD_FILE;
	}
	if (S_ISFIFO(st.st_mode))
		return VR_FD_PIPE;
	return VR_FD_OTHER;
}

unsigned char *vr_io_buffer(void)
{
	static unsigned char *buf;
	if (!buf) {
		buf = malloc(VR_IO_BUFSIZE);
		if (!buf)
			vr_oom();
	}
	return buf;
}

ssize_t vr_read_some(int fd, void *buf, size_t n)
{
	for (;;) {
		ssize_t r = read(fd, buf, n);
		if (r >= 0)
			return r;
		if (errno != EINTR || vr_stop_requested())
			return -1;
	}
}

ssize_t vr_read_full(int fd, void *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = vr_read_some(fd, (char *)buf + got, n - got);
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

int vr_write_full(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR && !vr_stop_requested())
				continue;
			if (errno == EPIPE)
				return VR_IO_EPIPE;
			return vr_stop_requested() ? VR_IO_ESTOP : VR_IO_EWRITE;
		}
		p += w;
		n -= (size_t)w;
	}
	return VR_IO_OK;
}

static size_t chunk_of(uint64_t left)
{
	return left < ZC_CHUNK ? (size_t)left : ZC_CHUNK;
}

/* Map a failed zero-copy or read/write call to a result. which: 0 = unknown
 * side (splice/sendfile), 'r' read, 'w' write. */
static int fail_result(int which)
{
	if (errno == EPIPE)
		return VR_IO_EPIPE;
	if (vr_stop_requested())
		return VR_IO_ESTOP;
	return which == 'r' ? VR_IO_EREAD : VR_IO_EWRITE;
}

/* Plain buffered copy: the path for everything the kernel cannot do for us. */
static int copy_buffered(int in, int64_t *in_off, int out, uint64_t len, uint64_t *moved)
{
	unsigned char *buf = vr_io_buffer();
	while (len > 0) {
		size_t want = len < VR_IO_BUFSIZE ? (size_t)len : VR_IO_BUFSIZE;
		ssize_t r;
		if (in_off) {
			do
				r = pread(in, buf, want, *in_off);
			while (r < 0 && errno == EINTR && !vr_stop_requested());
		} else {
			r = vr_read_some(in, buf, want);
		}
		if (r < 0)
			return fail_result('r');
		if (r == 0)
			return VR_IO_EOF;
		int w = vr_write_full(out, buf, (size_t)r);
		if (w != VR_IO_OK)
			return w;
		if (in_off)
			*in_off += r;
		*moved += (uint64_t)r;
		len -= (uint64_t)r;
	}
	return VR_IO_OK;
}

/* Zero-copy loop. Returns a result, or 1 when the method is not supported
 * for this pair of descriptors before any byte moved (caller falls back). */
static int copy_zero(int method, int in, int64_t *in_off, int out, uint64_t *len, uint64_t *moved)
{
	int first = 1;
	while (*len > 0) {
		ssize_t n;
		loff_t off = in_off ? *in_off : 0;
		switch (method) {
		case 'c':
			n = copy_file_range(in, in_off ? &off : NULL, out, NULL, chunk_of(*len), 0);
			break;
		case 's':
			n = sendfile(out, in, in_off ? &off : NULL, chunk_of(*len));
			break;
		default:
			n = splice(in, in_off ? &off : NULL, out, NULL, chunk_of(*len),
				   SPLICE_F_MOVE | SPLICE_F_MORE);
			break;
		}
		if (n < 0) {
			if (errno == EINTR && !vr_stop_requested())
				continue;
			if (first && (errno == EINVAL || errno == EXDEV || errno == ENOSYS ||
				      errno == EBADF || errno == EOPNOTSUPP))
				return 1;
			return fail_result(0);
		}
		if (n == 0)
			return VR_IO_EOF;
		first = 0;
		if (in_off)
			*in_off = off;
		*moved += (uint64_t)n;
		*len -= (uint64_t)n;
	}
	return VR_IO_OK;
}

int vr_copy(int in, int64_t *in_off, int out, uint64_t len, uint64_t *moved)
{
	uint64_t dummy = 0;
	if (!moved)
		moved = &dummy;
	*moved = 0;
	int to_end = len == VR_IO_ALL;
	enum vr_fd_kind ik = vr_fd_kind(in, NULL), ok = vr_fd_kind(out, NULL);
	int methods[2], nm = 0;
	if (ik == VR_FD_FILE) {
		if (ok == VR_FD_FILE)
			methods[nm++] = 'c';
		methods[nm++] = 's';
	} else if (ik == VR_FD_PIPE || ok == VR_FD_PIPE) {
		methods[nm++] = 'p';
	}
	int r = 1;
	for (int i = 0; i < nm && r == 1; i++)
		r = copy_zero(methods[i], in, in_off, out, &len, moved);
	if (r == 1)
		r = copy_buffered(in, in_off, out, len, moved);
	if (r == VR_IO_EOF && to_end)
		return VR_IO_OK;
	return r;
}

int vr_skip(int in, uint64_t n, uint64_t *skipped)
{
	uint64_t dummy = 0;
	if (!skipped)
		skipped = &dummy;
	*skipped = 0;
	if (n == 0)
		return VR_IO_OK;
	int64_t size;
	enum vr_fd_kind k = vr_fd_kind(in, &size);
	if (k == VR_FD_FILE) {
		off_t cur = lseek(in, 0, SEEK_CUR);
		if (cur >= 0) {
			uint64_t left = size > cur ? (uint64_t)(size - cur) : 0;
			uint64_t step = n < left ? n : left;
			if (lseek(in, (off_t)step, SEEK_CUR) < 0)
				return VR_IO_EREAD;
			*skipped = step;
			return step == n ? VR_IO_OK : VR_IO_EOF;
		}
	}
	if (k == VR_FD_PIPE) {
		static int devnull = -1;
		if (devnull < 0)
			devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (devnull >= 0) {
			uint64_t left = n;
			int r = copy_zero('p', in, NULL, devnull, &left, skipped);
			if (r != 1)
				return r == VR_IO_EPIPE ? VR_IO_EREAD : r;
		}
	}
	unsigned char *buf = vr_io_buffer();
	while (*skipped < n) {
		uint64_t left = n - *skipped;
		ssize_t r = vr_read_some(in, buf, left < VR_IO_BUFSIZE ? (size_t)left : VR_IO_BUFSIZE);
		if (r < 0)
			return fail_result('r');
		if (r == 0)
			return VR_IO_EOF;
		*skipped += (uint64_t)r;
	}
	return VR_IO_OK;
}

void vr_pipe_grow(int fd)
{
	if (vr_fd_kind(fd, NULL) == VR_FD_PIPE)
		(void)fcntl(fd, F_SETPIPE_SZ, 1 << 20);
}

int vr_open_input(const char *path, int *fd, char *err, size_t errlen)
{
	int f = open(path, O_RDONLY | O_CLOEXEC);
	if (f < 0) {
		int e = errno;
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		return e == ENOENT || e == ENOTDIR ? VR_ENOTFOUND : VR_EIO;
	}
	struct stat st;
	if (fstat(f, &st) == 0 && S_ISDIR(st.st_mode)) {
		close(f);
		snprintf(err, errlen, "%s: is a directory", path);
		return VR_ENOTFOUND;
	}
	*fd = f;
	return 0;
}

static int sink_put(struct vr_sink *s, const void *buf, size_t n)
{
	int w = vr_write_full(s->fd, buf, n);
	if (w == VR_IO_OK)
		return 0;
	if (w == VR_IO_EPIPE)
		s->closed = 1;
	else
		s->error = errno ? errno : EIO;
	return VR_STOP; /* the sink says why: closed or error */
}

int vr_sink_flush_head(struct vr_sink *s)
{
	if (s->fd < 0 || !s->head || s->head_sent)
		return 0;
	if (s->closed || s->error)
		return VR_STOP;
	s->head_sent = 1;
	return sink_put(s, s->head, s->head_len);
}

int vr_sink_write(void *sink, const void *buf, size_t n)
{
	struct vr_sink *s = sink;
	if (s->fd < 0 || n == 0)
		return 0;
	if (s->closed || s->error)
		return VR_STOP;
	if (!s->first_byte_ms)
		s->first_byte_ms = vr_now_ms();
	if (vr_sink_flush_head(s))
		return VR_STOP;
	if (sink_put(s, buf, n))
		return VR_STOP;
	s->bytes += n;
	return 0;
}

int vr_sink_open(const struct vr_sink *s) { return s->fd >= 0 && !s->closed && !s->error; }
