/* Diagnostics on stderr, prefixed with the program name.
 *
 * Contract: vr_log_init keeps prog (borrowed: pass argv[0] or a literal);
 * it and vr_log_set_verbosity run on the main thread before other threads
 * start. The message functions keep no state (one fprintf a line): any
 * thread. */
#ifndef VR_LOG_H
#define VR_LOG_H

#include <stddef.h>

enum vr_verbosity { VR_QUIET = 0, VR_NORMAL = 1, VR_VERBOSE = 2, VR_DEBUG = 3 };

void vr_log_init(const char *prog);
const char *vr_prog(void);
void vr_log_set_verbosity(int level);
int vr_log_verbosity(void);

/* "prog: error: ..." — always printed. */
void vr_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "prog: warning: ..." — hidden by --quiet. */
void vr_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "prog: ..." — only with --verbose. */
void vr_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "prog: debug: ..." — only with -vv. */
void vr_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Format a message into err (may be NULL) and return code: the one way a
 * library function says why it failed to its caller, which prints it. */
int vr_errf(char *err, size_t errlen, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
