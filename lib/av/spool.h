/* Spooling a non-seekable input (a pipe) to a temporary file on disk, so
 * that a demuxer that must seek (MP4 with the moov atom at the end) can read
 * it. Never in memory: the bytes go through one transfer buffer.
 *
 * The file is made with mkstemp in $TMPDIR (else /tmp), registered with
 * vr_cleanup_path for the instant it has a name, and unlinked at once: from
 * then on only the open descriptor holds it, so every exit path, SIGKILL
 * included, gives the space back.
 *
 * Contract: the spool owns its descriptor (closed by vr_spool_close);
 * any thread (the cleanup slot is taken atomically). */
#ifndef VR_SPOOL_H
#define VR_SPOOL_H

#include <stddef.h>
#include <stdint.h>

struct vr_spool {
	int fd;          /* readable, seekable; -1 when closed */
	uint64_t size;   /* bytes spooled */
};

enum vr_spool_result {
	VR_SPOOL_OK = 0,
	VR_SPOOL_ELIMIT = 1,   /* more than max_bytes */
	VR_SPOOL_EIO = 2,      /* reading, creating or writing failed (err says which) */
	VR_SPOOL_ESTOP = 3,    /* a signal asked us to stop */
	VR_SPOOL_ETIMEOUT = 4, /* no byte arrived for stall_timeout seconds */
};

/* Write prefix (bytes already read from in) and then the rest of in until
 * EOF into a new temporary file. max_bytes 0: no limit; stall_timeout 0:
 * wait forever. */
int vr_spool_fd(struct vr_spool *s, int in, const void *prefix, size_t prefix_len,
		uint64_t max_bytes, double stall_timeout, char *err, size_t errlen);
/* The same from a reader other than a descriptor (an http body):
 * read(ctx, buf, cap, err, errlen) returns the bytes read, 0 at the end,
 * or a vr_spool_result negated with err set; it watches stalls itself. */
typedef long (*vr_spool_reader)(void *ctx, void *buf, size_t cap, char *err, size_t errlen);
int vr_spool_read(struct vr_spool *s, vr_spool_reader read, void *ctx, const void *prefix,
		  size_t prefix_len, uint64_t max_bytes, char *err, size_t errlen);
void vr_spool_close(struct vr_spool *s);

#endif
