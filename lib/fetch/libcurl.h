/* libcurl, opened on first use rather than linked: a program that never
 * makes an http request (vr-fetch of a local file, a vr-cache hit) does
 * not pay for loading it and the ~30 libraries under it. The functions
 * the transport (lib/fetch/curlio.c) calls are resolved into one table;
 * their types come from the official header.
 *
 * Where it is looked for: $VR_LIBCURL (a path or a name for dlopen(3)),
 * else libcurl.so.4 by the dynamic linker's search. */
#ifndef VR_LIBCURL_H
#define VR_LIBCURL_H

#include <stddef.h>

#include <curl/curl.h>

struct vr_libcurl {
	__typeof__(curl_easy_init) *easy_init;
	__typeof__(curl_easy_setopt) *easy_setopt;
	__typeof__(curl_easy_getinfo) *easy_getinfo;
	__typeof__(curl_easy_pause) *easy_pause;
	__typeof__(curl_easy_strerror) *easy_strerror;
	__typeof__(curl_easy_cleanup) *easy_cleanup;
	__typeof__(curl_multi_init) *multi_init;
	__typeof__(curl_multi_add_handle) *multi_add_handle;
	__typeof__(curl_multi_remove_handle) *multi_remove_handle;
	__typeof__(curl_multi_perform) *multi_perform;
	__typeof__(curl_multi_poll) *multi_poll;
	__typeof__(curl_multi_info_read) *multi_info_read;
	__typeof__(curl_multi_strerror) *multi_strerror;
	__typeof__(curl_multi_cleanup) *multi_cleanup;
	__typeof__(curl_slist_append) *slist_append;
	__typeof__(curl_slist_free_all) *slist_free_all;
};

/* The table, with curl_global_init done; NULL when libcurl cannot be
 * opened, lacks a function or fails to initialise, with why ("cannot
 * load libcurl.so.4: ..."). Thread-safe; opens the library once. */
const struct vr_libcurl *vr_libcurl(char *why, size_t len);

#endif
