/* One line of a vr-cache warm job list.
 *
 *   /videos/a.mp4?width=640&mode=frame          a request path with a query
 *   /videos/a.mp4 --width 640 --fit cover       SOURCE plus vr-resize options
 *   '/videos/my file.mp4' --query 'w=320' --derivative=mobile
 *   # a comment; blank lines are skipped too
 *
 * Words split on blanks with simple shell-like quoting: '...' is literal,
 * "..." allows \" \\ \$ \` escapes, a backslash outside quotes escapes the
 * next character, and an unquoted word starting with '#' begins a comment.
 * Options are vr-resize's long transform options (--name value or
 * --name=value, passed to vr_params_set), --query/-Q Q, and the short
 * forms -w -m -t -d -f.
 *
 * Contract: the words, source and path point into the caller's buf and
 * live as long as it; params is a copy. No shared state: any thread. */
#ifndef VR_JOBLINE_H
#define VR_JOBLINE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "params.h"

#define VR_JOBLINE_MAX 65536   /* bytes of one line, newline excluded */
#define VR_JOBLINE_WORDS 128
#define VR_JOBLINE_SKIP (-1)   /* blank line or comment */

struct vr_jobline {
	const char *source;   /* SOURCE as written (with its ?query), in the caller's buffer */
	const char *path;     /* SOURCE without its ?query, in the caller's buffer */
	int has_options;      /* options followed SOURCE */
	int bypass;           /* the query asked for nocache/bypass */
	int raw;              /* no transform parameter at all: the source bytes are cached */
	struct vr_params params; /* finalized from the query and the options (unless raw) */
};

/* Parse one line (len bytes, no newline; a trailing \r is ignored). buf
 * (at least len + 2 bytes... use VR_JOBLINE_MAX + 2) receives the words.
 * Returns 0 for a job, VR_JOBLINE_SKIP for a blank line or comment, or a
 * vr_status (VR_EDATA, VR_EUSAGE) with err saying what is wrong — without
 * a line number, which the caller adds. */
int vr_jobline_parse(const char *line, size_t len, const struct vr_limits *l,
		     const struct vr_config *cfg, struct vr_jobline *j, char *buf, size_t buflen,
		     char *err, size_t errlen);

/* 1 when the line holds a job (a first non-blank character that is not
 * '#'), 0 when it is blank or a comment. */
int vr_jobline_is_job(const char *line, size_t len);

/* Count the job lines of fd from offset on with pread (the file position
 * is not moved; a few KiB of stack, whatever the file's size). 0 or -1. */
int vr_jobline_count(int fd, off_t offset, uint64_t *jobs);

#endif
