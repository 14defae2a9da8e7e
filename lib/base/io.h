/* Byte moving: full reads and writes with EINTR handled, EPIPE as a quiet
 * end, and the zero-copy paths (copy_file_range, sendfile, splice) chosen
 * from what the two descriptors are.
 *
 * Contract: buffers and descriptors are the caller's. vr_io_buffer is one
 * process-wide buffer, never freed: main thread only, and so are vr_copy and
 * vr_skip, which fall back to it (vr_skip also keeps a static /dev/null
 * descriptor). vr_read_some, vr_read_full, vr_write_full, vr_fd_kind,
 * vr_pipe_grow and vr_open_input keep no state: any thread; the descriptor
 * vr_open_input gives is the caller's to close. */
#ifndef VR_IO_H
#define VR_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define VR_IO_BUFSIZE (256 * 1024)
#define VR_IO_ALL UINT64_MAX

enum vr_io_result {
	VR_IO_OK = 0,
	VR_IO_EOF = 1,     /* input ended before the requested length */
	VR_IO_EPIPE = 2,   /* the output was closed by the reader: a quiet end */
	VR_IO_EREAD = -1,  /* errno says why */
	VR_IO_EWRITE = -2, /* errno says why */
	VR_IO_ESTOP = -3,  /* a signal asked us to stop */
};

enum vr_fd_kind { VR_FD_FILE, VR_FD_PIPE, VR_FD_OTHER };

/* What fd is; for a regular file *size gets its size (else -1). */
enum vr_fd_kind vr_fd_kind(int fd, int64_t *size);

/* One shared transfer buffer of VR_IO_BUFSIZE bytes, allocated on first use. */
unsigned char *vr_io_buffer(void);

/* read(2) retried on EINTR unless a stop was requested; 0 at EOF, -1 error. */
ssize_t vr_read_some(int fd, void *buf, size_t n);
/* Read until n bytes or EOF; returns the count, or -1 on error. */
ssize_t vr_read_full(int fd, void *buf, size_t n);
/* Write everything: VR_IO_OK, VR_IO_EPIPE, VR_IO_EWRITE or VR_IO_ESTOP. */
int vr_write_full(int fd, const void *buf, size_t n);

/* Copy up to len bytes (VR_IO_ALL: to end of input) from in to out.
 * With in_off non-NULL, in is read at *in_off (pread semantics), which is
 * advanced. *moved gets the number of bytes written. Returns VR_IO_OK when
 * len bytes were moved (or input ended with len == VR_IO_ALL), VR_IO_EOF
 * when input ended early, or an error result. */
int vr_copy(int in, int64_t *in_off, int out, uint64_t len, uint64_t *moved);

/* Discard n bytes of in (lseek on files, splice into /dev/null on pipes,
 * read otherwise). *skipped gets the count; VR_IO_EOF when input ended. */
int vr_skip(int in, uint64_t n, uint64_t *skipped);

/* Grow a pipe's kernel buffer (fewer wake-ups, faster splice); harmless
 * on other descriptors. */
void vr_pipe_grow(int fd);

/* Open a named input file for reading, the one way every program does it:
 * 0 with *fd set, or VR_ENOTFOUND ("PATH: No such file or directory",
 * "PATH: is a directory": a directory is no input) or VR_EIO, with err
 * saying so. */
int vr_open_input(const char *path, int *fd, char *err, size_t errlen);

/* An output where a reader that goes away is a quiet end, not a failure:
 * the body of a cache hit, the output side of a miss's tee. It notes how
 * it ended, so that its writer can stop producing and say why. One per
 * output; not shared between threads. */
struct vr_sink {
	int fd;               /* -1: none (every byte is dropped) */
	int closed;           /* the reader went away (EPIPE) */
	int error;            /* errno of a failed write, 0 none */
	uint64_t bytes;       /* written */
	double first_byte_ms; /* vr_now_ms() of the first write, 0 none */
	/* a response head written just before the first byte (CGI): an
	 * answer that fails before its first byte can still become another
	 * answer. Borrowed; NULL none. */
	const char *head;
	size_t head_len;
	int head_sent;
};
/* Write n bytes (a vr_emit_fn): 0, or VR_STOP once the sink is closed or
 * failed (nothing more is written; closed and error say which). */
int vr_sink_write(void *sink, const void *buf, size_t n);
/* Write the pending head now (an answer without a body): 0 or VR_STOP. */
int vr_sink_flush_head(struct vr_sink *s);
/* The sink still takes bytes. */
int vr_sink_open(const struct vr_sink *s);

#endif
