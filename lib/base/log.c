#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *log_prog = "vr";
static int log_level = VR_NORMAL;

void vr_log_init(const char *prog)
{
	const char *slash = prog ? strrchr(prog, '/') : NULL;
	if (prog)
		log_prog = slash ? slash + 1 : prog;
}

const char *vr_prog(void) { return log_prog; }
void vr_log_set_verbosity(int level) { log_level = level; }
int vr_log_verbosity(void) { return log_level; }

/* One fprintf per message so that lines from concurrent processes sharing a
 * stderr do not interleave mid-line. */
static void log_emit(const char *kind, const char *fmt, va_list ap)
{
	char msg[2048];
	vsnprintf(msg, sizeof msg, fmt, ap);
	size_t n = strlen(msg);
	while (n > 0 && msg[n - 1] == '\n')
		msg[--n] = '\0';
	fprintf(stderr, "%s: %s%s\n", log_prog, kind, msg);
}

void vr_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_emit("error: ", fmt, ap);
	va_end(ap);
}

void vr_warn(const char *fmt, ...)
{
	if (log_level < VR_NORMAL)
		return;
	va_list ap;
	va_start(ap, fmt);
	log_emit("warning: ", fmt, ap);
	va_end(ap);
}

void vr_info(const char *fmt, ...)
{
	if (log_level < VR_VERBOSE)
		return;
	va_list ap;
	va_start(ap, fmt);
	log_emit("", fmt, ap);
	va_end(ap);
}

void vr_debug(const char *fmt, ...)
{
	if (log_level < VR_DEBUG)
		return;
	va_list ap;
	va_start(ap, fmt);
	log_emit("debug: ", fmt, ap);
	va_end(ap);
}

int vr_errf(char *err, size_t errlen, int code, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}
