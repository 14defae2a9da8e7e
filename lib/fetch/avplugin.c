/* The FFmpeg side of vr-cache, loaded on first use.
 *
 * vr-cache serves hits from the store with SQLite alone; only a transform
 * needs FFmpeg, whose loading (some 160 shared objects) took ~0.2 s,
 * 3,000 page faults and ~28 MiB of RSS at every start. That code is built
 * as a plugin (vr-av.so: exactly lib/av/, transform and the modules under
 * it) that vr-cache opens the first time it calls into it; the function
 * here stands in for the real one and forwards to it. The plugin uses the
 * host's own copies of the rest of libvr (the host is linked with
 * -rdynamic), so logging, the stop flag and the open-stream count stay
 * one; lib/av/IMPORTS lists the symbols it takes (tests/plugin.bats keeps
 * the list true). The http transport is not in it: fetching goes through
 * libcurl (lib/fetch/curlio.c).
 *
 * Where the plugin is looked for, first found wins:
 *   $VR_AV_PLUGIN
 *   the directory of the running program: vr-av.so
 *   that directory's ../lib/vr/vr-av.so (an installed layout)
 *   VR_LIBDIR/vr-av.so (the install directory given at build time)
 *
 * This file is not part of libvr: programs that link the real transform
 * (vr-resize, the unit tests) never see it. */
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
	*(void **)&av.transform_run = dlsym(h, "vr_transform_run");
	av.ok = av.transform_run != NULL;
	if (!av.ok)
		snprintf(av.err, sizeof av.err, "the FFmpeg plugin " PLUGIN " lacks a function");
}

static int loaded(void)
{
	pthread_once(&av_once, av_load);
	return av.ok;
}

int vr_transform_run(const struct vr_transform_opts *o, struct vr_transform_stats *st, char *err,
		     size_t errlen)
{
	if (!loaded()) {
		snprintf(err, errlen, "%s", av.err);
		return VR_EFAIL;
	}
	return av.transform_run(o, st, err, errlen);
}
