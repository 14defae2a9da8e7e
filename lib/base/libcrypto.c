#include "libcrypto.h"

#include <dlfcn.h>
#include <pthread.h>

#include <openssl/opensslv.h>

#define STR2(x) #x
#define STR(x) STR2(x)

static void *handle;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void load(void)
{
	handle = dlopen("libcrypto.so." STR(OPENSSL_SHLIB_VERSION), RTLD_NOW | RTLD_LOCAL);
	if (!handle)
		handle = dlopen("libcrypto.so", RTLD_NOW | RTLD_LOCAL);
}

void *vr_libcrypto_sym(const char *name)
{
	pthread_once(&once, load);
	return handle ? dlsym(handle, name) : NULL;
}
