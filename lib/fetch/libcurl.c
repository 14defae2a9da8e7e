/* libcurl, opened on first use. See libcurl.h. */
#include "libcurl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static struct vr_libcurl curl;
static const struct vr_libcurl *loaded;
static char load_error[512];
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* name -> slot, in the order of struct vr_libcurl */
static const struct {
	const char *name;
	size_t offset;
} syms[] = {
#define SYM(f) {"curl_" #f, offsetof(struct vr_libcurl, f)}
	SYM(easy_init),
	SYM(easy_setopt),
	SYM(easy_getinfo),
	SYM(easy_pause),
	SYM(easy_strerror),
	SYM(easy_cleanup),
	SYM(multi_init),
	SYM(multi_add_handle),
	SYM(multi_remove_handle),
	SYM(multi_perform),
	SYM(multi_poll),
	SYM(multi_info_read),
	SYM(multi_strerror),
	SYM(multi_cleanup),
	SYM(slist_append),
	SYM(slist_free_all),
#undef SYM
};

static void load(void)
{
	const char *env = getenv("VR_LIBCURL");
	const char *name = env && *env ? env : "libcurl.so.4";
	/* RTLD_LOCAL: its symbols serve this table only */
	void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		snprintf(load_error, sizeof load_error, "cannot load libcurl: %s", dlerror());
		return;
	}
	for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
		void *f = dlsym(h, syms[i].name);
		if (!f) {
			snprintf(load_error, sizeof load_error, "cannot load libcurl: %s lacks %s", name,
				 syms[i].name);
			dlclose(h);
			return;
		}
		*(void **)((char *)&curl + syms[i].offset) = f;
	}
	/* once per process, before any thread makes a handle: it is not
	 * thread-safe in every libcurl build */
	CURLcode (*global_init)(long) = (CURLcode(*)(long))dlsym(h, "curl_global_init");
	CURLcode rc = global_init ? global_init(CURL_GLOBAL_DEFAULT) : CURLE_FAILED_INIT;
	if (rc != CURLE_OK) {
		snprintf(load_error, sizeof load_error, "cannot load libcurl: curl_global_init: %s",
			 curl.easy_strerror(rc));
		return;
	}
	loaded = &curl;
}

const struct vr_libcurl *vr_libcurl(char *why, size_t len)
{
	pthread_once(&once, load);
	if (!loaded && why)
		snprintf(why, len, "%s", load_error);
	return loaded;
}
