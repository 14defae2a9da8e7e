/* Where a program's data goes: stdout, or -o FILE written to a temporary
 * name beside it and renamed into place only on success, so a failed or
 * interrupted run never leaves a truncated file under the final name.
 *
 * Contract: the struct is the caller's; path is copied. Any thread: the
 * temporary's cleanup slot comes from lib/base/lifecycle's atomic table. */
#ifndef VR_OUTPUT_H
#define VR_OUTPUT_H

#include <limits.h>

struct vr_output {
	int fd;
	int is_stdout;   /* no temporary: stdout, or an existing device or FIFO */
	int close_fd;
	int cleanup_id;
	char final[PATH_MAX];
	char tmp[PATH_MAX];
};

/* path NULL: stdout (refused when it is a terminal); "-": stdout, even a
 * terminal; an existing non-regular file (/dev/null, a FIFO) is written
 * in place. Returns 0 or a vr_status with the message printed. */
int vr_output_open(struct vr_output *o, const char *path);
/* Success: fsync-free rename of the temporary into place. 0 or VR_EIO. */
int vr_output_commit(struct vr_output *o);
/* Failure: remove the temporary. */
void vr_output_abort(struct vr_output *o);
/* The end of a run's output: committed when rc is VR_OK (its status, or a
 * commit failure, returned), else dropped (rc returned). */
int vr_output_end(struct vr_output *o, int rc);

#endif
