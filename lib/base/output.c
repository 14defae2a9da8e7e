#include "output.h"
#include "lifecycle.h"
#include "log.h"
#include "status.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* mkstemp(3) replaces these six characters */
#define MKSTEMP_TEMPLATE "\x58\x58\x58\x58\x58\x58"

int vr_output_open(struct vr_output *o, const char *path)
{
	memset(o, 0, sizeof *o);
	o->cleanup_id = -1;
	if (!path || !strcmp(path, "-")) {
		if (!path && isatty(STDOUT_FILENO)) {
			vr_error("refusing to write binary data to a terminal; redirect stdout or use -o -");
			return VR_EUSAGE;
		}
		o->fd = STDOUT_FILENO;
		o->is_stdout = 1;
		return 0;
	}
	/* Only a regular file (or a new one) is replaced atomically; a device,
	 * FIFO or socket such as /dev/null is simply opened and written. */
	struct stat st;
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		if (S_ISDIR(st.st_mode)) {
			vr_error("%s is a directory", path);
			return VR_EUSAGE;
		}
		o->fd = open(path, O_WRONLY | O_CLOEXEC);
		if (o->fd < 0) {
			vr_error("cannot open %s: %s", path, strerror(errno));
			return VR_EIO;
		}
		o->is_stdout = 1; /* nothing to commit or remove */
		o->close_fd = 1;
		return 0;
	}
	if (snprintf(o->final, sizeof o->final, "%s", path) >= (int)sizeof o->final ||
	    snprintf(o->tmp, sizeof o->tmp, "%s.vr-tmp-%s", path, MKSTEMP_TEMPLATE) >= (int)sizeof o->tmp) {
		vr_error("output path too long: %s", path);
		return VR_EUSAGE;
	}
	o->fd = mkostemp(o->tmp, O_CLOEXEC);
	if (o->fd < 0) {
		vr_error("cannot create %s: %s", path, strerror(errno));
		return VR_EIO;
	}
	o->cleanup_id = vr_cleanup_path(o->tmp);
	if (o->cleanup_id < 0) {
		unlink(o->tmp);
		close(o->fd);
		vr_error("too many temporary files");
		return VR_EFAIL;
	}
	/* mkostemp makes 0600; an output is an ordinary file, so honour umask */
	mode_t mask = umask(0);
	umask(mask);
	(void)fchmod(o->fd, 0666 & ~mask);
	return 0;
}

int vr_output_commit(struct vr_output *o)
{
	if (o->is_stdout) {
		if (o->close_fd && close(o->fd) < 0) {
			vr_error("writing output: %s", strerror(errno));
			return VR_EIO;
		}
		return 0;
	}
	int rc = 0;
	if (close(o->fd) < 0) {
		vr_error("writing %s: %s", o->final, strerror(errno));
		rc = VR_EIO;
	} else if (rename(o->tmp, o->final) < 0) {
		vr_error("cannot rename into %s: %s", o->final, strerror(errno));
		rc = VR_EIO;
	}
	o->fd = -1;
	if (rc)
		unlink(o->tmp);
	vr_cleanup_forget(o->cleanup_id);
	return rc;
}

void vr_output_abort(struct vr_output *o)
{
	if (o->is_stdout) {
		if (o->close_fd)
			close(o->fd);
		return;
	}
	if (o->fd >= 0)
		close(o->fd);
	o->fd = -1;
	unlink(o->tmp);
	vr_cleanup_forget(o->cleanup_id);
}

int vr_output_end(struct vr_output *o, int rc)
{
	if (rc == VR_OK)
		return vr_output_commit(o);
	vr_output_abort(o);
	return rc;
}
