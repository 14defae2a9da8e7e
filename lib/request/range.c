#include "range.h"
#include "status.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int is_ows(char c) { return c == ' ' || c == '\t'; }
static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* 1*DIGIT, saturating at VR_RANGE_NUM_MAX. Returns chars consumed, 0 if none. */
static size_t parse_pos(const char *p, const char *end, uint64_t *out)
{
	uint64_t v = 0;
	size_t n = 0;
	while (p + n < end && is_digit(p[n])) {
		unsigned d = (unsigned)(p[n] - '0');
		v = v > (VR_RANGE_NUM_MAX - d) / 10 ? VR_RANGE_NUM_MAX : v * 10 + d;
		n++;
	}
	*out = v;
	return n;
}

static int fail(char *err, size_t errlen, const char *fmt, const char *a, int alen)
{
	if (err && errlen)
		snprintf(err, errlen, fmt, alen, a);
	return VR_RANGE_MALFORMED;
}

/* One range-spec in [p, end), already trimmed of OWS. */
static int parse_spec(const char *p, const char *end, struct vr_range_spec *sp, char *err,
		      size_t errlen)
{
	int len = (int)(end - p);
	if (*p == '-') {
		size_t n = parse_pos(p + 1, end, &sp->suffix);
		if (n == 0 || p + 1 + n != end)
			return fail(err, errlen, "malformed range '%.*s': expected -LENGTH", p, len);
		sp->kind = VR_SPEC_SUFFIX;
		return 0;
	}
	size_t n = parse_pos(p, end, &sp->first);
	if (n == 0)
		return fail(err, errlen, "malformed range '%.*s': expected FIRST-[LAST] or -LENGTH", p, len);
	const char *q = p + n;
	if (q == end || *q != '-')
		return fail(err, errlen, "malformed range '%.*s': missing '-'", p, len);
	q++;
	sp->kind = VR_SPEC_INT;
	if (q == end) {
		sp->last = VR_RANGE_OPEN;
		return 0;
	}
	n = parse_pos(q, end, &sp->last);
	if (n == 0 || q + n != end)
		return fail(err, errlen, "malformed range '%.*s': last position is not a number", p, len);
	if (sp->last < sp->first)
		return fail(err, errlen, "malformed range '%.*s': last position before first", p, len);
	return 0;
}

int vr_range_parse(const char *text, struct vr_range_set *set, char *err, size_t errlen)
{
	set->n = 0;
	const char *p = text, *end = text + strlen(text);
	while (p < end && is_ows(*p))
		p++;
	while (end > p && is_ows(end[-1]))
		end--;
	const char *eq = memchr(p, '=', (size_t)(end - p));
	if (eq) {
		if (eq - p != 5 || strncasecmp(p, "bytes", 5) != 0)
			return fail(err, errlen, "unsupported range unit '%.*s' (only bytes)", p, (int)(eq - p));
		p = eq + 1;
	}
	while (p <= end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *e = comma ? comma : end;
		const char *a = p, *b = e;
		while (a < b && is_ows(*a))
			a++;
		while (b > a && is_ows(b[-1]))
			b--;
		if (a < b) { /* RFC 9110 5.6.1: empty list elements are ignored */
			if (set->n == VR_RANGE_MAX) {
				if (err && errlen)
					snprintf(err, errlen, "too many ranges (at most %d)", VR_RANGE_MAX);
				return VR_RANGE_MALFORMED;
			}
			int r = parse_spec(a, b, &set->spec[set->n], err, errlen);
			if (r)
				return r;
			set->n++;
		}
		if (!comma)
			break;
		p = comma + 1;
	}
	if (set->n == 0)
		return fail(err, errlen, "empty range set '%.*s'", text, (int)strlen(text));
	return VR_RANGE_OK;
}

/* One spec against a known size; 0 and *span on success, -1 unsatisfiable. */
static int resolve_spec(const struct vr_range_spec *sp, uint64_t size, struct vr_span *span)
{
	if (size == 0)
		return -1;
	if (sp->kind == VR_SPEC_SUFFIX) {
		if (sp->suffix == 0)
			return -1;
		span->start = sp->suffix >= size ? 0 : size - sp->suffix;
		span->end = size - 1;
		return 0;
	}
	if (sp->first >= size)
		return -1;
	span->start = sp->first;
	span->end = sp->last >= size ? size - 1 : sp->last;
	return 0;
}

int vr_range_resolve(const struct vr_range_set *set, uint64_t size, struct vr_span *out, size_t *n)
{
	*n = 0;
	for (size_t i = 0; i < set->n; i++)
		if (resolve_spec(&set->spec[i], size, &out[*n]) == 0)
			(*n)++;
	return *n ? VR_RANGE_OK : VR_RANGE_UNSATISFIABLE;
}

int vr_range_option(const char *text, struct vr_range_set **out, char *err, size_t errlen)
{
	*out = NULL;
	if (!text || !text[strspn(text, " \t")])
		return 0;
	struct vr_range_set *set = calloc(1, sizeof *set);
	if (!set) {
		snprintf(err, errlen, "out of memory");
		return VR_EFAIL;
	}
	if (vr_range_parse(text, set, err, errlen) != VR_RANGE_OK) {
		free(set);
		return VR_EDATA;
	}
	*out = set;
	return 0;
}

const char *vr_range_text(const struct vr_range_set *set, char *buf, size_t len)
{
	size_t o = (size_t)snprintf(buf, len, "bytes=");
	for (size_t i = 0; i < set->n && o < len; i++) {
		const struct vr_range_spec *sp = &set->spec[i];
		const char *sep = i ? "," : "";
		if (sp->kind == VR_SPEC_SUFFIX)
			o += (size_t)snprintf(buf + o, len - o, "%s-%" PRIu64, sep, sp->suffix);
		else if (sp->last == VR_RANGE_OPEN)
			o += (size_t)snprintf(buf + o, len - o, "%s%" PRIu64 "-", sep, sp->first);
		else
			o += (size_t)snprintf(buf + o, len - o, "%s%" PRIu64 "-%" PRIu64, sep, sp->first,
					      sp->last);
	}
	return buf;
}

int vr_content_range(char *buf, size_t len, const struct vr_span *span, int64_t total)
{
	if (!span)
		return snprintf(buf, len, "bytes */%" PRId64, total);
	if (total < 0)
		return snprintf(buf, len, "bytes %" PRIu64 "-%" PRIu64 "/*", span->start, span->end);
	return snprintf(buf, len, "bytes %" PRIu64 "-%" PRIu64 "/%" PRId64, span->start, span->end,
			total);
}

int vr_multipart_head(char *buf, size_t len, const char *boundary, const char *content_type,
		      const struct vr_span *span, int64_t total)
{
	char cr[96];
	vr_content_range(cr, sizeof cr, span, total);
	return snprintf(buf, len, "\r\n--%s\r\nContent-Type: %s\r\nContent-Range: %s\r\n\r\n",
			boundary, content_type, cr);
}

int vr_multipart_tail(char *buf, size_t len, const char *boundary)
{
	return snprintf(buf, len, "\r\n--%s--\r\n", boundary);
}

uint64_t vr_multipart_length(const char *boundary, const char *content_type,
			     const struct vr_span *spans, size_t n, int64_t total)
{
	uint64_t sum = (uint64_t)vr_multipart_tail(NULL, 0, boundary);
	for (size_t i = 0; i < n; i++)
		sum += (uint64_t)vr_multipart_head(NULL, 0, boundary, content_type, &spans[i], total) +
		       (spans[i].end - spans[i].start + 1);
	return sum;
}

/* ---- the one-pass slicer ---- */

static int slicer_fail(char *err, size_t errlen, int code, const char *msg)
{
	if (err && errlen)
		snprintf(err, errlen, "%s", msg);
	return code;
}

int vr_slicer_init(struct vr_slicer *s, const struct vr_range_set *set, int64_t size,
		   uint64_t max_buffer, char *err, size_t errlen)
{
	memset(s, 0, sizeof *s);
	if (size >= 0) {
		if (vr_range_resolve(set, (uint64_t)size, s->part, &s->nparts) != VR_RANGE_OK)
			return slicer_fail(err, errlen, VR_RANGE_UNSATISFIABLE, "range not satisfiable");
	} else {
		/* "-0" is unsatisfiable whatever the size: it is dropped, so it
		 * neither needs a ring nor has to come last. */
		size_t last = set->n;
		while (last > 0 && set->spec[last - 1].kind == VR_SPEC_SUFFIX &&
		       set->spec[last - 1].suffix == 0)
			last--;
		for (size_t i = 0; i < set->n; i++) {
			const struct vr_range_spec *sp = &set->spec[i];
			if (sp->kind == VR_SPEC_SUFFIX && sp->suffix == 0)
				continue;
			if (sp->kind == VR_SPEC_SUFFIX) {
				if (i != last - 1)
					return slicer_fail(err, errlen, VR_RANGE_NEEDS_SEEK,
							   "a suffix range on a stream of unknown size must come last");
				if (sp->suffix > max_buffer)
					return slicer_fail(err, errlen, VR_RANGE_TOO_BIG,
							   "suffix range is larger than --max-buffer");
				s->suffix = sp->suffix;
				continue;
			}
			s->part[s->nparts].start = sp->first;
			s->part[s->nparts].end = sp->last;
			s->nparts++;
		}
		if (s->nparts == 0 && !s->suffix) {
			/* Only "-0": nothing to serve, but the 416 must still say
			 * "bytes *" "/N", so read to the end through a span that
			 * starts past any real input (as "9223372036854775807-"). */
			s->part[0].start = VR_RANGE_NUM_MAX;
			s->part[0].end = VR_RANGE_OPEN;
			s->nparts = 1;
		}
	}
	for (size_t i = 1; i < s->nparts; i++)
		if (s->part[i - 1].end == VR_RANGE_OPEN || s->part[i].start <= s->part[i - 1].end)
			return slicer_fail(err, errlen, VR_RANGE_NEEDS_SEEK,
					   "ranges overlap or are out of order, which a stream cannot "
					   "serve in one pass (use a regular file, which can seek)");
	if (s->suffix) {
		if (s->nparts && s->part[s->nparts - 1].end == VR_RANGE_OPEN)
			return slicer_fail(err, errlen, VR_RANGE_NEEDS_SEEK,
					   "an open range followed by a suffix range needs a rewind");
		s->ring_cap = (size_t)s->suffix;
		s->ring = malloc(s->ring_cap);
		if (!s->ring)
			return slicer_fail(err, errlen, VR_RANGE_TOO_BIG, "out of memory for the suffix ring");
	}
	return VR_RANGE_OK;
}

void vr_slicer_free(struct vr_slicer *s)
{
	free(s->ring);
	s->ring = NULL;
}

int vr_slicer_wants_input(const struct vr_slicer *s)
{
	return !s->at_eof && (s->suffix || s->idx < s->nparts);
}

int vr_slicer_next(const struct vr_slicer *s, uint64_t *skip, uint64_t *take)
{
	if (s->suffix || s->idx >= s->nparts)
		return 0;
	const struct vr_span *p = &s->part[s->idx];
	*skip = p->start > s->pos ? p->start - s->pos : 0;
	uint64_t from = s->pos > p->start ? s->pos : p->start;
	*take = p->end == VR_RANGE_OPEN ? VR_RANGE_OPEN : p->end - from + 1;
	return 1;
}

void vr_slicer_advance(struct vr_slicer *s, uint64_t n)
{
	s->pos += n;
	while (s->idx < s->nparts && s->part[s->idx].end != VR_RANGE_OPEN &&
	       s->pos > s->part[s->idx].end)
		s->idx++;
}

static void ring_push(struct vr_slicer *s, const unsigned char *p, size_t n)
{
	if (n >= s->ring_cap) {
		memcpy(s->ring, p + n - s->ring_cap, s->ring_cap);
		s->ring_head = 0;
		s->ring_fill = s->ring_cap;
		return;
	}
	size_t first = s->ring_cap - s->ring_head;
	if (first > n)
		first = n;
	memcpy(s->ring + s->ring_head, p, first);
	memcpy(s->ring, p + first, n - first);
	s->ring_head = (s->ring_head + n) % s->ring_cap;
	s->ring_fill = s->ring_fill + n > s->ring_cap ? s->ring_cap : s->ring_fill + n;
}

int vr_slicer_feed(struct vr_slicer *s, const void *buf, size_t n, vr_emit_fn emit, void *ctx)
{
	const unsigned char *p = buf;
	if (s->suffix)
		ring_push(s, p, n);
	while (n > 0 && s->idx < s->nparts) {
		const struct vr_span *part = &s->part[s->idx];
		if (s->pos < part->start) {
			uint64_t gap = part->start - s->pos;
			size_t step = gap < n ? (size_t)gap : n;
			p += step;
			n -= step;
			s->pos += step;
			continue;
		}
		uint64_t left = part->end == VR_RANGE_OPEN ? UINT64_MAX : part->end - s->pos + 1;
		size_t step = left < n ? (size_t)left : n;
		int r = emit(ctx, p, step);
		if (r)
			return r;
		p += step;
		n -= step;
		vr_slicer_advance(s, step);
	}
	s->pos += n;
	return 0;
}

int vr_slicer_finish(struct vr_slicer *s, vr_emit_fn emit, void *ctx)
{
	s->at_eof = 1;
	if (!s->suffix || s->ring_fill == 0)
		return 0;
	size_t start = (s->ring_head + s->ring_cap - s->ring_fill) % s->ring_cap;
	size_t first = s->ring_cap - start;
	if (first > s->ring_fill)
		first = s->ring_fill;
	int r = emit(ctx, s->ring + start, first);
	if (!r && s->ring_fill > first)
		r = emit(ctx, s->ring, s->ring_fill - first);
	return r;
}

size_t vr_slicer_spans(const struct vr_slicer *s, struct vr_span *out, int64_t *total)
{
	*total = s->at_eof ? (int64_t)s->pos : -1;
	size_t n = 0;
	for (size_t i = 0; i < s->nparts; i++) {
		struct vr_span sp = s->part[i];
		if (s->at_eof) {
			if (sp.start >= s->pos)
				continue;
			if (sp.end == VR_RANGE_OPEN || sp.end >= s->pos)
				sp.end = s->pos - 1;
		}
		out[n++] = sp;
	}
	if (s->suffix && s->at_eof && s->pos > 0) {
		out[n].start = s->pos - s->ring_fill;
		out[n].end = s->pos - 1;
		n++;
	}
	return n;
}
