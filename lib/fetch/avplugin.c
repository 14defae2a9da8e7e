/* The FFmpeg side of vr-fetch and vr-cache, loaded on first use.
 *
 * vr-cache serves hits from the store with SQLite alone, and vr-fetch
 * copies local files with libc alone; only an http(s) request or a
 * transform needs FFmpeg, whose loading (some 160 shared objects) took
 * ~0.2 s, 3,000 page faults and ~28 MiB of RSS at every start. That code
 * is built as a plugin (vr-av.so: exactly lib/av/, the http transport and
 * transform and the modules under them) that these programs open the
 * first time they call into it; these functions stand in for the real
 * ones and forward to them. The plugin uses the host's own copies of the
 * rest of libvr (the host is linked with -rdynamic), so logging, the
 * stop flag and the open-stream count stay one; lib/av/IMPORTS lists the
 * symbols it takes (tests/plugin.bats keeps the list true).
 *
 * Where the plugin is looked for, first found wins:
 *   $VR_AV_PLUGIN
 *   the directory of the running program: vr-av.so
 *   that directory's ../lib/vr/vr-av.so (an installed layout)
 *   VR_LIBDIR/vr-av.so (the install directory given at build time)
 *
 * This file is not part of libvr: programs that link the real transport
 * and transform (vr-resize, the unit tests) never see it. */
#include "httpio.h"
#include "status.h"
#include "transform.h"

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef VR_LIBDIR
#define VR_LIBDIR "/usr/local/lib/vr"
#endif
/* vr-cache opens vr-av.so; vr-fetch, which needs the http transport
 * alone, the lighter vr-http.so (httpio and demux, libavformat without
 * libavfilter and the encoders' libraries: 12 MiB less RSS), built from
 * this file with -DVR_PLUGIN='"vr-http.so"' -DVR_PLUGIN_HTTP_ONLY. A
 * process opens one of the two, never both: each holds its own av_log
 * callback and per-thread HTTP status. */
#ifndef VR_PLUGIN
#define VR_PLUGIN "vr-av.so"
#endif
#define PLUGIN VR_PLUGIN

static struct {
	int (*httpio_ready)(char *, size_t);
	int (*httpio_open)(struct vr_httpio **, const struct vr_httpio_request *,
			   struct vr_httpio_status *);
	long (*httpio_read)(struct vr_httpio *, void *, size_t, struct vr_httpio_status *);
	int64_t (*httpio_size)(struct vr_httpio *);
	int (*httpio_content_type)(struct vr_httpio *, char *, size_t);
	int (*httpio_location)(struct vr_httpio *, char *, size_t);
	void (*httpio_close)(struct vr_httpio *);
	int (*transform_run)(const struct vr_transform_opts *, struct vr_transform_stats *, char *,
			     size_t);
	int ok;
	char err[PATH_MAX + 256];
} av;
static pthread_once_t av_once = PTHREAD_ONCE_INIT;

static void *try_open(const char *path, char *why, size_t whylen)
{
	if (access(path, F_OK) != 0)
		return NULL;
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h && !why[0])
		snprintf(why, whylen, "%s", dlerror());
	return h;
}

static void av_load(void)
{
	char why[PATH_MAX + 128] = "", path[PATH_MAX + 32], self[PATH_MAX];
	void *h = NULL;
	const char *env = getenv("VR_AV_PLUGIN");
	if (env && *env) {
		h = try_open(env, why, sizeof why);
		if (!h && !why[0])
			snprintf(why, sizeof why, "%s: no such file", env);
	} else {
		ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
		if (n > 0) {
			self[n] = '\0';
			char *slash = strrchr(self, '/');
			if (slash)
				*slash = '\0';
			snprintf(path, sizeof path, "%s/" PLUGIN, self);
			h = try_open(path, why, sizeof why);
			if (!h) {
				snprintf(path, sizeof path, "%s/../lib/vr/" PLUGIN, self);
				h = try_open(path, why, sizeof why);
			}
		}
		if (!h)
			h = try_open(VR_LIBDIR "/" PLUGIN, why, sizeof why);
		if (!h && !why[0])
			snprintf(why, sizeof why, "not found next to the program, in ../lib/vr or in "
				 VR_LIBDIR " (or set VR_AV_PLUGIN)");
	}
	if (!h) {
		snprintf(av.err, sizeof av.err, "cannot load the FFmpeg plugin " PLUGIN ": %s", why);
		return;
	}
	*(void **)&av.httpio_ready = dlsym(h, "vr_httpio_ready");
	*(void **)&av.httpio_open = dlsym(h, "vr_httpio_open");
	*(void **)&av.httpio_read = dlsym(h, "vr_httpio_read");
	*(void **)&av.httpio_size = dlsym(h, "vr_httpio_size");
	*(void **)&av.httpio_content_type = dlsym(h, "vr_httpio_content_type");
	*(void **)&av.httpio_location = dlsym(h, "vr_httpio_location");
	*(void **)&av.httpio_close = dlsym(h, "vr_httpio_close");
	*(void **)&av.transform_run = dlsym(h, "vr_transform_run");
	av.ok = av.httpio_ready && av.httpio_open && av.httpio_read && av.httpio_size &&
		av.httpio_content_type && av.httpio_location && av.httpio_close;
#ifndef VR_PLUGIN_HTTP_ONLY
	av.ok = av.ok && av.transform_run;
#endif
	if (!av.ok)
		snprintf(av.err, sizeof av.err, "the FFmpeg plugin " PLUGIN " lacks a function");
}

static int loaded(void)
{
	pthread_once(&av_once, av_load);
	return av.ok;
}

/* Not loaded: the request fails as UNAVAILABLE, and the fetch engine
 * ends with av.err (exit 1), whichever source needed it. */
int vr_httpio_ready(char *why, size_t len)
{
	if (!loaded()) {
		snprintf(why, len, "%s", av.err);
		return -1;
	}
	return av.httpio_ready(why, len);
}

int vr_httpio_open(struct vr_httpio **io, const struct vr_httpio_request *r,
		   struct vr_httpio_status *st)
{
	if (!loaded()) {
		*io = NULL;
		st->code = 0;
		st->fail = VR_HTTPIO_UNAVAILABLE;
		snprintf(st->why, sizeof st->why, "%.*s", (int)sizeof st->why - 1, av.err);
		return -1;
	}
	return av.httpio_open(io, r, st);
}

/* The rest are only called with a connection that the plugin opened. */
long vr_httpio_read(struct vr_httpio *io, void *p, size_t n, struct vr_httpio_status *st)
{
	return av.httpio_read(io, p, n, st);
}

int64_t vr_httpio_size(struct vr_httpio *io) { return av.httpio_size(io); }

int vr_httpio_content_type(struct vr_httpio *io, char *buf, size_t len)
{
	return av.httpio_content_type(io, buf, len);
}

int vr_httpio_location(struct vr_httpio *io, char *buf, size_t len)
{
	return av.httpio_location(io, buf, len);
}

void vr_httpio_close(struct vr_httpio *io)
{
	if (io && av.ok)
		av.httpio_close(io);
}

int vr_transform_run(const struct vr_transform_opts *o, struct vr_transform_stats *st, char *err,
		     size_t errlen)
{
	if (!loaded()) {
		snprintf(err, errlen, "%s", av.err);
		return VR_EFAIL;
	}
	if (!av.transform_run) { /* vr-http.so has no transform */
		snprintf(err, errlen, "the FFmpeg plugin " PLUGIN " has no transform");
		return VR_EFAIL;
	}
	return av.transform_run(o, st, err, errlen);
}
