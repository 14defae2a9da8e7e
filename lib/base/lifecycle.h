/* Signals and cleanup on every exit path.
 *
 * SIGINT, SIGTERM and SIGHUP set a stop flag (installed without SA_RESTART,
 * so blocking calls return EINTR and loops notice), unlink the registered
 * temporary files at once (unlink is async-signal-safe) and arm a 5 s alarm
 * as a last resort. A second signal ends the process immediately. SIGPIPE is
 * ignored: EPIPE on output is handled as a quiet end by lib/base/io; so is
 * SIGXFSZ, so that a file size limit is an I/O error, not a silent death. */
#ifndef VR_LIFECYCLE_H
#define VR_LIFECYCLE_H

void vr_lifecycle_init(void);

/* The signal number that asked the process to stop, or 0. */
int vr_stop_requested(void);

/* Temporary files removed on every exit path, signals included. Returns a
 * slot id for vr_cleanup_forget() (after a successful rename), or -1 when
 * the table (64 paths) is full (the caller must then fail: it cannot
 * promise cleanup). The path is copied. Safe from any thread: slots are
 * claimed and released atomically, and the signal handler only unlinks
 * paths that are whole. */
int vr_cleanup_path(const char *path);
void vr_cleanup_forget(int id);

/* The one out-of-memory policy: an allocation that fails is reported as
 * "out of memory" and the process ends with status 1 (VR_EFAIL) after the
 * cleanups (partial outputs removed), from any thread. Functions that can
 * fail a request instead (a buffer sized by the request) return VR_EFAIL
 * with the same message up to the program, which exits 1 the same way. */
__attribute__((noreturn)) void vr_oom(void);

/* Run the cleanups and exit with status; when a signal asked us to stop,
 * re-raise it so that the parent sees death by that signal. */
__attribute__((noreturn)) void vr_exit(int status);

/* Open streams registered by the programs (origin readers, writers,
 * outputs); the count at exit goes into the metrics line. Atomic: safe
 * from any thread. */
void vr_stream_opened(void);
void vr_stream_closed(void);
int vr_streams_open(void);

#endif
