/* One http(s) request through libavformat's AVIO: the transport under the
 * fetch engine (lib/fetch/fetch.c), and the only part of fetching that
 * needs FFmpeg. It lives in the plugin vr-av.so, so that a program that
 * fetches local files never loads FFmpeg; vr-fetch and vr-cache reach it
 * through the loader's stand-ins (lib/fetch/avplugin.c), vr-resize and the
 * unit tests link it directly.
 *
 * Protocols are limited to http,https,tcp,tls; TLS peers are verified.
 * A failure is told as a class (what the engine does with it: retry,
 * next source, give up) and a message; the HTTP status code of the last
 * response is taken from libavformat's log lines, kept per thread.
 *
 * Contract: a connection belongs to one thread; its getters' strings are
 * copied into the caller's buffers. */
#ifndef VR_HTTPIO_H
#define VR_HTTPIO_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct vr_httpio;

struct vr_httpio_request {
	const char *url;
	const char *method;  /* NULL: GET */
	const char *headers; /* "Name: value\r\n" lines, Range included; NULL: none */
	uint64_t offset;     /* a Range's first byte: a response starting elsewhere fails (MISPLACED) */
	double timeout;      /* seconds for connecting and for each read; 0: libavformat's */
	int (*interrupted)(void *arg); /* polled while blocked; nonzero aborts (TIMEOUT) */
	void *arg;
};

enum vr_httpio_fail {
	VR_HTTPIO_TIMEOUT,     /* interrupted or timed out */
	VR_HTTPIO_MISPLACED,   /* the body does not start at offset: Range ignored */
	VR_HTTPIO_NOMEM,
	VR_HTTPIO_NOTFOUND,    /* HTTP 404 */
	VR_HTTPIO_SERVER,      /* HTTP 5xx */
	VR_HTTPIO_CLIENT,      /* another HTTP 4xx */
	VR_HTTPIO_REFUSED,     /* invalid request, protocol not allowed, TLS verification */
	VR_HTTPIO_TRANSIENT,   /* connection failure, a body that ends early */
	VR_HTTPIO_UNAVAILABLE, /* the plugin could not be loaded (lib/fetch/avplugin.c) */
};

struct vr_httpio_status {
	int code;                 /* the last HTTP status seen; 0: none */
	enum vr_httpio_fail fail; /* set on failure */
	char why[512];            /* on failure: "HTTP 404 (not found)", "Connection refused" */
};

/* Make the transport ready (in a host: load the plugin; then set up
 * libavformat's network layer): 0, or -1 with why. Opening does it too;
 * the engine calls it first so that the loading's time is not taken from
 * a request's timeout. */
int vr_httpio_ready(char *why, size_t len);

/* Send the request and read the response's head. 0, or -1 with st->fail
 * and st->why set; st->code is set either way. */
int vr_httpio_open(struct vr_httpio **io, const struct vr_httpio_request *r,
		   struct vr_httpio_status *st);

/* Up to n bytes of the body: > 0, 0 at its end, -1 on failure (st set). */
long vr_httpio_read(struct vr_httpio *io, void *p, size_t n, struct vr_httpio_status *st);

/* The body's length from the response; -1 unknown. */
int64_t vr_httpio_size(struct vr_httpio *io);

/* The response's Content-Type, and the final URL after redirects, into
 * buf: 1, or 0 when the response has none. */
int vr_httpio_content_type(struct vr_httpio *io, char *buf, size_t len);
int vr_httpio_location(struct vr_httpio *io, char *buf, size_t len);

void vr_httpio_close(struct vr_httpio *io); /* NULL is fine */

/* The plugin's one av_log callback (lib/av/demux) hands each libav line
 * here first: the status code of the HTTP response and the last error
 * line, kept per thread for the request that runs on it. Returns 1 when
 * the line is consumed (not to be printed). */
int vr_httpio_log_capture(int level, const char *fmt, va_list vl);

#endif
