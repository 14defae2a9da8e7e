/* HTTP semantics of an answer (RFC 9110, RFC 9111): the HTTP status each
 * exit status stands for, validators (a strong ETag from an entry's
 * checksum, Last-Modified from its publication), and the evaluation of
 * conditional requests in RFC 9110 section 13.2.2's order. What the CGI
 * mode of vr-cache and --headers print is decided here; nothing here does
 * I/O.
 *
 * Contract: pure functions of their arguments; strings are borrowed for
 * the call and results written into the caller's buffers. Safe from any
 * thread. */
#ifndef VR_HTTP_H
#define VR_HTTP_H

#include <stddef.h>
#include <stdint.h>

/* The HTTP status an exit status (status.h) stands for: 0 200, 1 500,
 * 2 400, 3 400, 4 416, 5 404, 6 502, 7 504, 8 422 (a limit exceeded by
 * what was asked); anything else 500. */
int vr_http_status_for_exit(int exit_status);

/* The reason phrase of a status ("Not Modified"), "" when unknown. */
const char *vr_http_reason(int status);

/* The one wording of a failing HTTP status that an origin answered, in
 * every program: "HTTP 404 (not found)", "HTTP 503 (server error)",
 * "HTTP 403 (forbidden)", "HTTP 401 (unauthorized)", "HTTP 416"; code 5
 * or 4 for a class whose status is not known: "HTTP 5xx (server error)",
 * "HTTP 4xx (client error)". Returns buf. */
const char *vr_http_failure_text(int code, char *buf, size_t len);

/* A strong entity-tag from an entry's SHA-256 (hex): the quoted first 32
 * hex digits, "\"3a7bd3e2360a3d29eea436fcfb7e44c7\"". An empty or short
 * checksum gives "" (no validator). */
void vr_http_etag(char *buf, size_t len, const char *sha256_hex);

/* IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT" (29 bytes and NUL). */
void vr_http_date(char *buf, size_t len, int64_t unix_time);

/* An HTTP-date in any of RFC 9110's three forms (IMF-fixdate, RFC 850,
 * asctime); -1 when it is none of them. */
int64_t vr_http_parse_date(const char *s);

/* The request's preconditions; NULL: the header is absent. */
struct vr_http_conditions {
	const char *if_match;
	const char *if_none_match;
	const char *if_modified_since;
	const char *if_unmodified_since;
	const char *if_range;
};

enum vr_http_precondition {
	VR_HTTP_PROCEED,       /* answer the request (200, 206) */
	VR_HTTP_NOT_MODIFIED,  /* 304, no body */
	VR_HTTP_FAILED,        /* 412, no body */
};

/* Evaluate the preconditions of a request (method "GET", "HEAD", ...)
 * against the representation's strong ETag (may be "" for none) and its
 * Last-Modified time (< 0 for none), in RFC 9110 section 13.2.2's order:
 * If-Match, else If-Unmodified-Since; If-None-Match, else (GET, HEAD)
 * If-Modified-Since. *use_range tells whether a Range header may be
 * honoured: If-Range (GET only) must match the strong ETag or equal the
 * Last-Modified time exactly, else the whole representation is sent.
 * A date that does not parse is ignored, as the RFC says. */
enum vr_http_precondition vr_http_evaluate(const struct vr_http_conditions *c, const char *method,
					   const char *etag, int64_t last_modified,
					   int *use_range);

/* Whether a header value (a list of entity-tags, or "*") matches etag:
 * strong comparison for If-Match and If-Range, weak for If-None-Match. */
int vr_http_etag_matches(const char *list, const char *etag, int weak);

/* A response head being written: the status line (HTTP/1.1, or a CGI
 * "Status:" line), header fields, the blank line. A field that does not
 * fit marks the head overflowed (and is left out); nothing is cut. */
#define VR_HTTP_HEAD_MAX 16384

struct vr_http_head {
	char buf[VR_HTTP_HEAD_MAX];
	size_t len;
	int status;
	int overflow;
};

void vr_http_head_begin(struct vr_http_head *h, int status, int cgi);
/* One field, "Name: value\r\n" with the value from fmt. */
void vr_http_head_add(struct vr_http_head *h, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Ready-made "Name: value\r\n" lines (may be NULL). */
void vr_http_head_lines(struct vr_http_head *h, const char *lines);
/* The blank line that ends the head. */
void vr_http_head_end(struct vr_http_head *h);

/* The short plain-text body of an error answer: the status and its reason,
 * and what a client can do about it; it never names a path, a URL or an
 * origin. */
const char *vr_http_error_text(int status);

#endif
