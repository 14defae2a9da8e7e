/* The FFmpeg side of vr-cache, loaded on first use.
 *
 * vr-cache serves hits from the store with SQLite alone; only a miss needs
 * the fetch and transform code and the FFmpeg libraries under it, whose
 * loading (some 160 shared objects) took ~0.2 s and 3,000 page faults at
 * every start. That code is built as a plugin (vr-av.so: exactly lib/av/,
 * fetch and transform and the modules under them) that vr-cache opens the
 * first time a miss calls into it; these functions stand in for the real
 * ones and forward to them. The plugin uses vr-cache's own copies of the
 * rest of libvr (vr-cache is linked with -rdynamic), so logging, the
 * stop flag and the open-stream count stay one; lib/av/IMPORTS lists the
 * symbols it takes (tests/plugin.bats keeps the list true).
 *
 * Where the plugin is looked for, first found wins:
 *   $VR_AV_PLUGIN
 *   the directory of the running program: vr-av.so
 *   that directory's ../lib/vr/vr-av.so (an installed layout)
 *   VR_LIBDIR/vr-av.so (the install directory given at build time)
 *
 * This file is not part of libvr: programs that link the real fetch and
 * transform (vr-fetch, vr-resize, the unit tests) never see it. */
#include "fetch.h"
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
#define PLUGIN "vr-av.so"

static struct {
	int (*fetch_open)(struct vr_fetch **, const struct vr_resolved *,
			  const struct vr_fetch_opts *);
	int (*fetch_read)(struct vr_fetch *, void *, size_t, size_t *);
	void (*fetch_close)(struct vr_fetch *);
	const char *(*fetch_content_type)(const struct vr_fetch *);
	const char *(*fetch_error)(const struct vr_fetch *);
	uint64_t (*fetch_bytes_in)(const struct vr_fetch *);
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
		snprintf(av.err, sizeof av.err, "cannot load the transform plugin " PLUGIN ": %s", why);
		return;
	}
	*(void **)&av.fetch_open = dlsym(h, "vr_fetch_open");
	*(void **)&av.fetch_read = dlsym(h, "vr_fetch_read");
	*(void **)&av.fetch_close = dlsym(h, "vr_fetch_close");
	*(void **)&av.fetch_content_type = dlsym(h, "vr_fetch_content_type");
	*(void **)&av.fetch_error = dlsym(h, "vr_fetch_error");
	*(void **)&av.fetch_bytes_in = dlsym(h, "vr_fetch_bytes_in");
	*(void **)&av.transform_run = dlsym(h, "vr_transform_run");
	av.ok = av.fetch_open && av.fetch_read && av.fetch_close && av.fetch_content_type &&
		av.fetch_error && av.fetch_bytes_in && av.transform_run;
	if (!av.ok)
		snprintf(av.err, sizeof av.err, "the transform plugin " PLUGIN " lacks a function");
}

static int loaded(void)
{
	pthread_once(&av_once, av_load);
	return av.ok;
}

int vr_fetch_open(struct vr_fetch **f, const struct vr_resolved *sources,
		  const struct vr_fetch_opts *o)
{
	if (!loaded()) {
		*f = NULL; /* vr_fetch_error(NULL) then says why */
		return VR_EFAIL;
	}
	return av.fetch_open(f, sources, o);
}

int vr_fetch_read(struct vr_fetch *f, void *buf, size_t cap, size_t *got)
{
	return av.fetch_read(f, buf, cap, got);
}

void vr_fetch_close(struct vr_fetch *f)
{
	if (f && av.ok)
		av.fetch_close(f);
}

const char *vr_fetch_content_type(const struct vr_fetch *f) { return av.fetch_content_type(f); }

/* NULL f: the reason the last open failed without a reader (the plugin
 * did not load, or memory ran out) */
const char *vr_fetch_error(const struct vr_fetch *f) { return av.ok ? av.fetch_error(f) : av.err; }

/* NULL f: nothing was read */
uint64_t vr_fetch_bytes_in(const struct vr_fetch *f) { return f && av.ok ? av.fetch_bytes_in(f) : 0; }

int vr_transform_run(const struct vr_transform_opts *o, struct vr_transform_stats *st, char *err,
		     size_t errlen)
{
	if (!loaded()) {
		snprintf(err, errlen, "%s", av.err);
		return VR_EFAIL;
	}
	return av.transform_run(o, st, err, errlen);
}
