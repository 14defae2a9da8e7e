/* One http(s) request through libcurl: the transport under the fetch
 * engine (lib/fetch/fetch.c), implemented by lib/fetch/curlio.c. libcurl
 * is opened on the first request (lib/fetch/libcurl.c), not linked, so
 * that a program that fetches local files never loads it.
 *
 * Only http and https are spoken, redirects included (at most 8, the
 * final URL told by vr_httpio_location); TLS peers and host names are
 * verified against the system's CAs. The body is pulled: a read drives
 * the transfer until bytes are there, and libcurl is paused while its
 * small fixed buffer is full, so memory never grows with the body.
 * A failure is told as a class (what the engine does with it: retry,
 * next source, give up) and a message.
 *
 * Contract: a connection belongs to one thread (several threads may each
 * have their own); its getters' strings are copied into the caller's
 * buffers. */
#ifndef VR_HTTPIO_H
#define VR_HTTPIO_H

#include <stddef.h>
#include <stdint.h>

struct vr_httpio;

struct vr_httpio_request {
	const char *url;
	const char *method;  /* NULL: GET; "HEAD": no body */
	const char *headers; /* "Name: value\r\n" lines, Range included; NULL: none */
	uint64_t offset;     /* a Range's first byte: a response starting elsewhere fails (MISPLACED) */
	double timeout;      /* seconds for connecting and for each read; 0: libcurl's */
	int (*interrupted)(void *arg); /* polled every 100 ms while blocked; nonzero aborts (TIMEOUT) */
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
	VR_HTTPIO_UNAVAILABLE, /* libcurl could not be loaded (lib/fetch/libcurl.c) */
};

struct vr_httpio_status {
	int code;                 /* the last HTTP status seen; 0: none */
	enum vr_httpio_fail fail; /* set on failure */
	char why[512];            /* on failure: "HTTP 404 (not found)", "Couldn't connect to server (...)" */
};

/* Make the transport ready (load libcurl, curl_global_init): 0, or -1
 * with why. Opening does it too; the engine calls it first so that the
 * loading's time is not taken from a request's timeout. */
int vr_httpio_ready(char *why, size_t len);

/* Send the request and read the response's head. 0, or -1 with st->fail
 * and st->why set; st->code is set either way. */
int vr_httpio_open(struct vr_httpio **io, const struct vr_httpio_request *r,
		   struct vr_httpio_status *st);

/* Up to n bytes of the body: > 0, 0 at its end, -1 on failure (st set). */
long vr_httpio_read(struct vr_httpio *io, void *p, size_t n, struct vr_httpio_status *st);

/* The source's length from the response: a 206's Content-Range total,
 * else Content-Length; -1 unknown. */
int64_t vr_httpio_size(struct vr_httpio *io);

/* The response's Content-Type, and the final URL when redirects were
 * followed, into buf: 1, or 0 when the response has none. */
int vr_httpio_content_type(struct vr_httpio *io, char *buf, size_t len);
int vr_httpio_location(struct vr_httpio *io, char *buf, size_t len);

void vr_httpio_close(struct vr_httpio *io); /* NULL is fine */

#endif
