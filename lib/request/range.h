/* RFC 9110 byte ranges: parsing a range set, resolving it against a size,
 * Content-Range and multipart/byteranges framing, and the one-pass slicer
 * that cuts ranges out of a stream of unknown length.
 *
 * Contract: pure over the caller's structs: any thread. A slicer owns its
 * ring (allocated by vr_slicer_init, freed by vr_slicer_free, which is safe
 * after any init result). */
#ifndef VR_RANGE_H
#define VR_RANGE_H

#include <stddef.h>
#include <stdint.h>

#define VR_RANGE_MAX 128        /* range-specs accepted in one set */
#define VR_RANGE_OPEN UINT64_MAX /* "to the end of the representation" */
#define VR_RANGE_NUM_MAX ((uint64_t)INT64_MAX) /* larger numbers saturate */

enum vr_spec_kind { VR_SPEC_INT, VR_SPEC_SUFFIX };

struct vr_range_spec {
	enum vr_spec_kind kind;
	uint64_t first;  /* int-range: first-pos */
	uint64_t last;   /* int-range: last-pos, or VR_RANGE_OPEN */
	uint64_t suffix; /* suffix-range: suffix-length */
};

struct vr_range_set {
	size_t n;
	struct vr_range_spec spec[VR_RANGE_MAX];
};

/* An inclusive byte span; end may be VR_RANGE_OPEN before the size is known. */
struct vr_span {
	uint64_t start;
	uint64_t end;
};

enum vr_range_result {
	VR_RANGE_OK = 0,
	VR_RANGE_MALFORMED = -1,
	VR_RANGE_UNSATISFIABLE = -2,
	VR_RANGE_NEEDS_SEEK = -3, /* one pass cannot serve this order */
	VR_RANGE_TOO_BIG = -4,    /* a suffix on a stream needs more buffer than allowed */
};

/* Parse "bytes=0-99, 200-", "-500" ("bytes=" optional). On error returns
 * VR_RANGE_MALFORMED with a message naming the bad part in err. */
int vr_range_parse(const char *text, struct vr_range_set *set, char *err, size_t errlen);

/* Resolve against a known size: the satisfiable specs as clamped spans, in
 * request order (unsatisfiable ones dropped, as RFC 9110 allows). Returns
 * VR_RANGE_OK or VR_RANGE_UNSATISFIABLE. out must hold set->n spans. */
int vr_range_resolve(const struct vr_range_set *set, uint64_t size, struct vr_span *out, size_t *n);

/* "bytes 0-99/1000", "bytes 0-99/" "*" (total < 0) or "bytes *" "/1000" for an
 * unsatisfied request (span NULL). Returns the length written. */
int vr_content_range(char *buf, size_t len, const struct vr_span *span, int64_t total);
/* A --range value, the same in every program: NULL or blank is no Range
 * (the whole body: *out stays NULL); else a set allocated for the caller
 * (free() it). 0, VR_EDATA with err, or VR_EFAIL (out of memory). */
int vr_range_option(const char *text, struct vr_range_set **out, char *err, size_t errlen);

/* The range set as text again: "bytes=0-499,1000-,-500". Returns buf. */
const char *vr_range_text(const struct vr_range_set *set, char *buf, size_t len);

/* multipart/byteranges framing, as an HTTP 206 would send it. */
int vr_multipart_head(char *buf, size_t len, const char *boundary, const char *content_type,
		      const struct vr_span *span, int64_t total);
int vr_multipart_tail(char *buf, size_t len, const char *boundary);
/* Total body length of the multipart response (headers and data). */
uint64_t vr_multipart_length(const char *boundary, const char *content_type,
			     const struct vr_span *spans, size_t n, int64_t total);

/* The one-pass slicer. Input bytes are fed in order; the bytes of each
 * range go to emit() in request order. Ranges must be ascending and not
 * overlapping (a stream cannot rewind); with an unknown size a suffix
 * range may only come last and is kept in a ring of at most max_buffer
 * bytes until input ends. */
/* A sink: 0 to go on, or VR_STOP (status.h) having recorded why in ctx.
 * The one callback convention for bytes in lib/ (the store's span reads,
 * the slicer, the tee, the span server). */
typedef int (*vr_emit_fn)(void *ctx, const void *buf, size_t n);

struct vr_slicer {
	struct vr_span part[VR_RANGE_MAX];
	size_t nparts;       /* int ranges (or resolved spans) */
	uint64_t suffix;     /* > 0: a trailing suffix range, size unknown */
	size_t idx;          /* current part */
	uint64_t pos;        /* input offset of the next byte */
	int at_eof;
	unsigned char *ring; /* the last `suffix` bytes seen */
	size_t ring_cap, ring_fill, ring_head;
};

/* size < 0: unknown. Returns VR_RANGE_OK, VR_RANGE_UNSATISFIABLE (size
 * known), VR_RANGE_NEEDS_SEEK, VR_RANGE_TOO_BIG; err explains. */
int vr_slicer_init(struct vr_slicer *s, const struct vr_range_set *set, int64_t size,
		   uint64_t max_buffer, char *err, size_t errlen);
void vr_slicer_free(struct vr_slicer *s);

/* True while more input is needed. */
int vr_slicer_wants_input(const struct vr_slicer *s);
/* Whether the caller may move bytes itself (no ring): then *skip bytes are
 * to be discarded and the next *take bytes (VR_RANGE_OPEN: all) copied;
 * report what was moved with vr_slicer_advance(). */
int vr_slicer_next(const struct vr_slicer *s, uint64_t *skip, uint64_t *take);
void vr_slicer_advance(struct vr_slicer *s, uint64_t n);

/* Feed the next n input bytes. Returns 0, or emit()'s non-zero result. */
int vr_slicer_feed(struct vr_slicer *s, const void *buf, size_t n, vr_emit_fn emit, void *ctx);
/* Input ended: emit the suffix ring and settle the spans. Returns 0 or
 * emit()'s result. */
int vr_slicer_finish(struct vr_slicer *s, vr_emit_fn emit, void *ctx);
/* What was (or will be) served: satisfiable spans in order, clamped to the
 * input seen once it ended; *total is the input size, or -1 when reading
 * stopped before the end. Returns the number of spans. */
size_t vr_slicer_spans(const struct vr_slicer *s, struct vr_span *out, int64_t *total);

#endif
