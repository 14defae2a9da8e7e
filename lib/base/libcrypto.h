/* OpenSSL's libcrypto, opened on first use rather than linked: linked, its
 * loading and relocation cost every start of a program a few ms and over
 * 1 MiB of RSS, and most runs never hash or sign (lib/store/digest.c,
 * lib/request/sigv4.c). */
#ifndef VR_LIBCRYPTO_H
#define VR_LIBCRYPTO_H

/* dlsym(3) of libcrypto's symbol name; NULL when libcrypto cannot be
 * opened or has no such symbol. Thread-safe; opens the library once. */
void *vr_libcrypto_sym(const char *name);

#endif
