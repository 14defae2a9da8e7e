#include "digest.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#include <libavutil/hash.h>
#include <libavutil/version.h>

/* libavutil is opened on first use rather than linked: it pulls in some
 * twenty libraries (VA-API, VDPAU, X11, OpenCL) whose loading costs ~6 ms
 * at every start, and most runs of vr-chunk (get, stat, ls) never hash. */
static struct {
	int (*alloc)(struct AVHashContext **, const char *);
	void (*init)(struct AVHashContext *);
	void (*update)(struct AVHashContext *, const uint8_t *, size_t);
	void (*final_bin)(struct AVHashContext *, uint8_t *, int);
	void (*freep)(struct AVHashContext **);
	int ok;
} av;
static pthread_once_t av_once = PTHREAD_ONCE_INIT;

#define STR2(x) #x
#define STR(x) STR2(x)

static void av_load(void)
{
	void *h = dlopen("libavutil.so." STR(LIBAVUTIL_VERSION_MAJOR), RTLD_NOW | RTLD_LOCAL);
	if (!h)
		h = dlopen("libavutil.so", RTLD_NOW | RTLD_LOCAL);
	if (!h)
		return;
	*(void **)&av.alloc = dlsym(h, "av_hash_alloc");
	*(void **)&av.init = dlsym(h, "av_hash_init");
	*(void **)&av.update = dlsym(h, "av_hash_update");
	*(void **)&av.final_bin = dlsym(h, "av_hash_final_bin");
	*(void **)&av.freep = dlsym(h, "av_hash_freep");
	av.ok = av.alloc && av.init && av.update && av.final_bin && av.freep;
}

struct vr_digest *vr_digest_new(void)
{
	pthread_once(&av_once, av_load);
	if (!av.ok)
		return NULL;
	struct AVHashContext *h = NULL;
	if (av.alloc(&h, "SHA256") < 0)
		return NULL;
	av.init(h);
	return (struct vr_digest *)h;
}

void vr_digest_reset(struct vr_digest *d) { av.init((struct AVHashContext *)d); }

void vr_digest_update(struct vr_digest *d, const void *buf, size_t n)
{
	av.update((struct AVHashContext *)d, buf, n);
}

void vr_digest_final(struct vr_digest *d, uint8_t out[VR_DIGEST_LEN])
{
	av.final_bin((struct AVHashContext *)d, out, VR_DIGEST_LEN);
	av.init((struct AVHashContext *)d);
}

void vr_digest_free(struct vr_digest *d)
{
	struct AVHashContext *h = (struct AVHashContext *)d;
	av.freep(&h);
}

void vr_digest_hex(const uint8_t bin[VR_DIGEST_LEN], char hex[2 * VR_DIGEST_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";
	for (int i = 0; i < VR_DIGEST_LEN; i++) {
		hex[2 * i] = digits[bin[i] >> 4];
		hex[2 * i + 1] = digits[bin[i] & 15];
	}
	hex[2 * VR_DIGEST_LEN] = '\0';
}
