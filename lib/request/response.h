/* The HTTP response that goes with a ranged body: planning it from a range
 * set and a size, and printing its head (--headers) or facts (--json) on
 * stderr. Shared by every program that answers range requests.
 *
 * Contract: a vr_response borrows content_type, boundary and the extra
 * strings (they must outlive it). vr_response_print with json set formats
 * in static buffers: one thread at a time (the programs call it from the
 * main thread; warm never asks for it). */
#ifndef VR_RESPONSE_H
#define VR_RESPONSE_H

#include <stdint.h>

#include "range.h"

struct vr_response {
	int status;               /* 200, 206 or 416 */
	struct vr_span spans[VR_RANGE_MAX];
	size_t n;
	int64_t total;            /* -1 unknown */
	uint64_t content_length;
	int length_known;
	int multipart;            /* the body is multipart/byteranges */
	const char *content_type;
	const char *boundary;
	const char *extra_headers; /* "Name: value\r\n"... or NULL */
	const char *extra_json;    /* ",\"k\":v..." members or NULL */
};

/* Plan the response for set (NULL: no Range, the whole body) against a
 * known size. Returns VR_RANGE_OK, or VR_RANGE_UNSATISFIABLE with the
 * response made a 416. multipart applies only to more than one span. */
int vr_response_plan(struct vr_response *r, const struct vr_range_set *set, uint64_t size,
		     int multipart, const char *content_type, const char *boundary);

/* The head of the answer: status line (HTTP/1.1, or CGI's Status:),
 * Content-Range, Content-Type, Content-Length, Accept-Ranges, then the
 * extra headers and the blank line. */
struct vr_http_head;
void vr_response_head(const struct vr_response *r, struct vr_http_head *h, int cgi);

/* Print the head (CRLF lines, blank line at the end) and/or the JSON object
 * on stderr. */
void vr_response_print(const struct vr_response *r, int headers, int json);

/* The one wording of a 416, in every program: "range bytes=5000- not
 * satisfiable: the entry has 1000 bytes (Content-Range: bytes * /1000)";
 * what names the thing measured ("the input", "the entry", "the output",
 * a source). size < 0: unknown ("(HTTP 416)" then, when http416). */
/* The head and/or JSON object of a request that failed before its answer
 * was printed (a 416 prints its own): the status exit_status stands for
 * (vr_http_status_for_exit: 5 404, 6 502, 7 504, ...) with Content-Length:
 * 0 and the extra headers; the JSON object with the members of
 * vr_response_print (size and content_type null, no ranges), the extra
 * members, and "error" (NULL: none). So that a script reading --headers or
 * --json gets an answer for every outcome, not only for the good ones. */
void vr_response_print_failure(int exit_status, const char *error, const char *extra_headers,
			       const char *extra_json, int headers, int json);

const char *vr_unsatisfiable_text(char *buf, size_t len, const struct vr_range_set *set,
				  const char *what, int64_t size, int http416);

/* Writing a planned body: the bytes of each span through span(), and,
 * when the body is multipart, each part's head and the closing delimiter
 * through emit(). Both return 0, VR_STOP (status.h) or a vr_status. */
struct vr_serve {
	int (*emit)(void *ctx, const void *buf, size_t n);
	int (*span)(void *ctx, const struct vr_span *s);
	void *ctx;
};

/* The one routine that serves byte spans (vr-range from a file, vr-chunk
 * get, a vr-cache hit): 0, or the first nonzero result of a callback. */
int vr_response_serve(const struct vr_response *r, const struct vr_serve *s);

#endif
