#include "fetch.h"
#include "origin.h"
#include "s3sign.h"
#include "httpio.h"
#include "num.h"
#include "response.h"
#include "io.h"
#include "lifecycle.h"
#include "log.h"
#include "metrics.h"
#include "mime.h"
#include "status.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define COPY_CHUNK ((uint64_t)8 << 20) /* zero-copy step between deadline checks */
#define BACKOFF_BASE_MS 100u

enum fail_kind { FK_NOTFOUND, FK_TIMEOUT, FK_TRANSIENT, FK_OTHER };
enum body_kind { B_NONE, B_FILE, B_STREAM, B_HTTP };
enum open_result { OPEN_OK, OPEN_FAILED, OPEN_AGAIN, OPEN_DROP, OPEN_FATAL };
enum item_state { ITEM_READY, ITEM_DROP, ITEM_NEED_SIZE };
enum http_mode { M_WHOLE, M_RANGED, M_SLICE, M_PROBE };

struct vr_fetch {
	const struct vr_resolved *srcs;
	struct vr_range_set set; /* the request; the whole body is one spec 0- */
	int whole;
	uint64_t max_bytes, max_buffer;
	double max_time, deadline_ms;

	/* where the output stands: range-spec `item`, item_done bytes of it */
	size_t item;
	int item_ready;
	uint64_t span_start, span_end; /* end may be VR_RANGE_OPEN */
	uint64_t item_done;
	size_t served; /* items that gave bytes */
	int64_t size;  /* of the representation; -1 unknown */
	uint64_t delivered, bytes_in;
	int limit_hit;

	/* the candidates */
	size_t src;
	unsigned tries; /* failed attempts on src */
	unsigned attempts;
	int src_ignores_ranges;
	int probe_plain; /* learn a suffix's size from a plain request */
	int info;        /* opts.info: HEAD, stat(); no body */
	size_t head_refused; /* info: source index + 1 that refused HEAD */
	void (*on_written)(void *arg, uint64_t written);
	void *on_written_arg;
	int any_failure, all_notfound;
	enum fail_kind last_kind;
	int failed; /* sticky final status */
	char failures[3072];

	/* the body being read */
	enum body_kind body;
	int fd;
	struct vr_httpio *io; /* B_HTTP */
	int slicing, multi, slicer_eof;
	struct vr_slicer slicer;
	uint64_t pass_left; /* pass-through: bytes left, or VR_RANGE_OPEN */
	int64_t file_off;
	int span_set; /* B_FILE: file_off/pass_left are set for the item */
	const unsigned char *pend[2]; /* slicer output that did not fit yet */
	size_t pend_len[2];
	unsigned char *dst; /* where the slicer emits */
	size_t dst_cap, dst_len;
	unsigned char *buf;

	double idle_ms, idle_deadline_ms;
	double stall_ms, progress_ms; /* opts.stall_timeout; the last byte from a source */
	int hit_deadline, hit_idle, hit_stall;

	int status;
	int saw_416;
	int output_closed;
	char content_type[256];
	char source[2048];
	char err[4096];
};

/* ---- the http transport's interrupt callback ---- */

static int interrupted(void *opaque)
{
	struct vr_fetch *f = opaque;
	if (vr_stop_requested())
		return 1;
	double now = vr_now_ms();
	if (f->deadline_ms > 0 && now >= f->deadline_ms) {
		f->hit_deadline = 1;
		return 1;
	}
	if (f->idle_deadline_ms > 0 && now >= f->idle_deadline_ms) {
		f->hit_idle = 1;
		return 1;
	}
	if (f->stall_ms > 0 && now - f->progress_ms >= f->stall_ms) {
		f->hit_stall = 1;
		return 1;
	}
	return 0;
}

/* ---- small helpers ---- */

/* A URL for messages, "user:password@" hidden. */
static void redact(const char *in, char *out, size_t outlen) { vr_url_redact(in, out, outlen); }

static const char *shown(const struct vr_fetch *f, char *buf, size_t len)
{
	redact(f->srcs->src[f->src].location, buf, len);
	return buf;
}

static int fatal(struct vr_fetch *f, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fatal(struct vr_fetch *f, int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(f->err, sizeof f->err, fmt, ap);
	va_end(ap);
	f->failed = status;
	return status;
}

/* The whole fetch's time limit, or the stall limit across attempts */
static int deadline_fatal(struct vr_fetch *f)
{
	char s[1024], d[32];
	if (f->hit_stall && !f->hit_deadline)
		return fatal(f, VR_ETIMEOUT, "%s: no data for %s", shown(f, s, sizeof s),
			     vr_duration_text(f->stall_ms / 1000, d, sizeof d));
	return fatal(f, VR_ETIMEOUT, "%s: time limit of %s exceeded", shown(f, s, sizeof s),
		     vr_duration_text(f->max_time, d, sizeof d));
}

static int deadline_passed(struct vr_fetch *f)
{
	double now = vr_now_ms();
	if (f->deadline_ms > 0 && now >= f->deadline_ms)
		f->hit_deadline = 1;
	if (f->stall_ms > 0 && now - f->progress_ms >= f->stall_ms)
		f->hit_stall = 1;
	return f->hit_deadline || f->hit_stall;
}

static void start_idle_timer(struct vr_fetch *f, double seconds)
{
	/* an attempt waits no longer than the fetch may stall */
	if (f->stall_ms > 0 && (seconds <= 0 || seconds * 1000 > f->stall_ms))
		seconds = f->stall_ms / 1000;
	f->hit_idle = 0;
	f->idle_ms = seconds > 0 ? seconds * 1000 : 0;
	f->idle_deadline_ms = f->idle_ms > 0 ? vr_now_ms() + f->idle_ms : 0;
}

static void touch_idle_timer(struct vr_fetch *f)
{
	if (f->idle_ms > 0)
		f->idle_deadline_ms = vr_now_ms() + f->idle_ms;
}

static void close_body(struct vr_fetch *f)
{
	vr_httpio_close(f->io);
	f->io = NULL;
	if (f->fd > STDERR_FILENO)
		close(f->fd);
	if (f->body != B_NONE)
		vr_stream_closed();
	f->fd = -1;
	f->body = B_NONE;
	if (f->slicing)
		vr_slicer_free(&f->slicer);
	f->slicing = f->multi = f->slicer_eof = 0;
	f->pend_len[0] = f->pend_len[1] = 0;
	f->pass_left = 0;
	f->span_set = 0;
	f->idle_deadline_ms = 0;
}

static void next_item(struct vr_fetch *f)
{
	if (f->item_done > 0)
		f->served++;
	f->item++;
	f->item_ready = 0;
	f->item_done = 0;
	f->span_set = 0;
}

/* Resolve the current range-spec against the size when it is known. */
static enum item_state prepare_item(struct vr_fetch *f)
{
	if (f->item_ready)
		return ITEM_READY;
	const struct vr_range_spec *sp = &f->set.spec[f->item];
	if (f->size >= 0) {
		if (sp->kind == VR_SPEC_SUFFIX) {
			if (sp->suffix == 0 || f->size == 0)
				return ITEM_DROP;
			f->span_start = sp->suffix >= (uint64_t)f->size ? 0 : (uint64_t)f->size - sp->suffix;
		} else {
			if (sp->first >= (uint64_t)f->size)
				return ITEM_DROP;
			f->span_start = sp->first;
		}
		f->span_end = (uint64_t)f->size - 1;
		if (sp->kind == VR_SPEC_INT && sp->last < f->span_end)
			f->span_end = sp->last;
	} else if (sp->kind == VR_SPEC_SUFFIX) {
		return ITEM_NEED_SIZE;
	} else {
		f->span_start = sp->first;
		f->span_end = sp->last;
	}
	f->item_ready = 1;
	return ITEM_READY;
}

/* The representation size became known (n >= 0). Returns 0, -1 when it
 * contradicts an earlier source, or a fatal status (416, over the limit). */
static int learn_size(struct vr_fetch *f, int64_t n, char *why, size_t wl)
{
	if (n < 0)
		return 0;
	if (f->size >= 0) {
		if (f->size != n) {
			snprintf(why, wl, "has %" PRId64 " bytes where an earlier source had %" PRId64, n,
				 f->size);
			return -1;
		}
		return 0;
	}
	f->size = n;
	/* resolve the current spec again, against the size this time (its
	 * start does not move; it may turn out unsatisfiable) */
	f->item_ready = 0;
	if (f->delivered > 0)
		return 0;
	uint64_t total = (uint64_t)n;
	if (!f->whole) {
		struct vr_span spans[VR_RANGE_MAX];
		size_t ns;
		char s[1024], m[1536];
		if (vr_range_resolve(&f->set, (uint64_t)n, spans, &ns) != VR_RANGE_OK)
			return fatal(f, VR_ERANGE, "%s",
				     vr_unsatisfiable_text(m, sizeof m, &f->set, shown(f, s, sizeof s),
							   n, 0));
		total = 0;
		for (size_t i = 0; i < ns; i++)
			total += spans[i].end - spans[i].start + 1;
	}
	if (f->max_bytes && total > f->max_bytes) {
		char s[1024];
		return fatal(f, VR_ELIMIT, "%s: %" PRIu64 " bytes to fetch, more than the limit of %" PRIu64,
			     shown(f, s, sizeof s), total, f->max_bytes);
	}
	return 0;
}

static int backoff(struct vr_fetch *f, unsigned ms)
{
	double until = vr_now_ms() + ms;
	while (vr_now_ms() < until) {
		if (vr_stop_requested())
			return fatal(f, VR_EFAIL, "interrupted");
		if (deadline_passed(f))
			return deadline_fatal(f);
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return 0;
}

/* A failed attempt on the current source: retry it (transient failures,
 * within its retries), else move on to the next. Returns 0 to go on, or
 * the final status when no source is left. */
static int source_failed(struct vr_fetch *f, enum fail_kind kind, const char *why)
{
	const struct vr_source *s = &f->srcs->src[f->src];
	char name[1024];
	shown(f, name, sizeof name);
	close_body(f);
	f->tries++;
	f->last_kind = kind;
	if (!f->any_failure)
		f->all_notfound = 1;
	f->any_failure = 1;
	if (kind != FK_NOTFOUND)
		f->all_notfound = 0;
	if ((kind == FK_TIMEOUT || kind == FK_TRANSIENT) && f->tries <= s->retries) {
		unsigned shift = f->tries - 1 < 10 ? f->tries - 1 : 10;
		unsigned delay = BACKOFF_BASE_MS << shift;
		vr_info("%s: %s (attempt %u of %u); retrying in %u ms", name, why, f->tries,
			s->retries + 1, delay);
		return backoff(f, delay);
	}
	if (f->tries > 1)
		vr_info("%s: %s (attempt %u of %u)", name, why, f->tries, s->retries + 1);
	else
		vr_info("%s: %s", name, why);
	size_t fl = strlen(f->failures);
	snprintf(f->failures + fl, sizeof f->failures - fl, "%s%s: %s", fl ? "; " : "", name, why);
	if (f->tries > 1) {
		fl = strlen(f->failures);
		snprintf(f->failures + fl, sizeof f->failures - fl, " (%u attempts)", f->tries);
	}
	f->src++;
	f->tries = 0;
	f->src_ignores_ranges = 0;
	f->probe_plain = 0;
	if (f->src < f->srcs->n) {
		if (f->delivered > 0) {
			char next[1024];
			if (f->whole)
				vr_info("continuing from byte %" PRIu64 " with %s", f->item_done,
					shown(f, next, sizeof next));
			else
				vr_info("continuing from byte %" PRIu64 " (range-spec %zu) with %s",
					f->span_start + f->item_done, f->item + 1, shown(f, next, sizeof next));
		}
		return 0;
	}
	int status = f->all_notfound ? VR_ENOTFOUND : kind == FK_TIMEOUT ? VR_ETIMEOUT : VR_EIO;
	f->src = f->srcs->n - 1; /* keep shown() valid */
	if (f->srcs->n == 1)
		return fatal(f, status, "%s", f->failures);
	if (f->srcs->origin)
		return fatal(f, status, "all %zu sources of origin \"%s\" failed: %s", f->srcs->n,
			     f->srcs->origin, f->failures);
	return fatal(f, status, "all %zu sources failed: %s", f->srcs->n, f->failures);
}

/* Map a failed http request or read (lib/fetch/httpio.h). Returns 0 with
 * kind/why set, or a fatal status. */
static int classify_http(struct vr_fetch *f, const struct vr_httpio_status *st, const char *doing,
			 enum fail_kind *kind, char *why, size_t wl)
{
	if (vr_stop_requested())
		return fatal(f, VR_EFAIL, "interrupted");
	switch (st->fail) {
	case VR_HTTPIO_TIMEOUT: {
		if (f->hit_deadline || f->hit_stall || deadline_passed(f))
			return deadline_fatal(f);
		*kind = FK_TIMEOUT;
		char d[32];
		snprintf(why, wl, "no data for %s", vr_duration_text(f->idle_ms / 1000, d, sizeof d));
		return 0;
	}
	case VR_HTTPIO_NOMEM:
		return fatal(f, VR_EFAIL, "out of memory");
	case VR_HTTPIO_UNAVAILABLE:
		return fatal(f, VR_EFAIL, "%s", st->why);
	case VR_HTTPIO_NOTFOUND:
	case VR_HTTPIO_SERVER:
	case VR_HTTPIO_CLIENT:
		*kind = st->fail == VR_HTTPIO_NOTFOUND ? FK_NOTFOUND
			: st->fail == VR_HTTPIO_SERVER ? FK_TRANSIENT
						       : FK_OTHER;
		snprintf(why, wl, "%s", st->why);
		return 0;
	case VR_HTTPIO_REFUSED:
		*kind = FK_OTHER;
		break;
	default:
		*kind = FK_TRANSIENT;
		break;
	}
	snprintf(why, wl, "%s: %s", doing, st->why);
	return 0;
}

static int ensure_buf(struct vr_fetch *f)
{
	if (!f->buf) {
		f->buf = malloc(VR_FETCH_BUFSIZE);
		if (!f->buf)
			return fatal(f, VR_EFAIL, "out of memory");
	}
	return 0;
}

/* Slice a body that starts at byte 0 down to one spec. Returns 0, 1 when
 * the spec is unsatisfiable, or a fatal status. */
static int start_slicing(struct vr_fetch *f, const struct vr_range_spec *sp)
{
	static _Thread_local struct vr_range_set one;
	char e[256];
	if (ensure_buf(f))
		return f->failed;
	one.n = 1;
	one.spec[0] = *sp;
	int r = vr_slicer_init(&f->slicer, &one, f->size, f->max_buffer, e, sizeof e);
	f->slicing = 1; /* vr_slicer_free is safe after any init result */
	if (r == VR_RANGE_UNSATISFIABLE)
		return 1;
	if (r == VR_RANGE_TOO_BIG)
		return fatal(f, VR_ELIMIT, "%s (the source gives neither its size nor ranges; "
			     "limit %" PRIu64 " bytes)", e, f->max_buffer);
	if (r != VR_RANGE_OK)
		return fatal(f, VR_EFAIL, "%s", e);
	return 0;
}

/* ---- opening one candidate ---- */

static int open_local(struct vr_fetch *f, const struct vr_source *s, enum fail_kind *kind,
		      char *why, size_t wl)
{
	char real[PATH_MAX];
	const char *path = s->location;
	int flags = O_RDONLY | O_CLOEXEC;
	int fd;
	struct stat st;

	if (s->kind == VR_SOURCE_STDIN) {
		fd = STDIN_FILENO;
	} else {
		if (s->root) {
			int rc = vr_origin_confine(s->root, path, real, why, wl);
			if (rc) {
				*kind = rc == VR_ENOTFOUND ? FK_NOTFOUND : FK_OTHER;
				return OPEN_FAILED;
			}
			path = real;
			flags |= O_NOFOLLOW; /* the last component may not turn into a link meanwhile */
		}
		/* --info: the file's facts without opening it (lstat under a
		 * root, as O_NOFOLLOW would refuse a link) */
		fd = f->info ? -1 : open(path, flags);
		if (f->info && (s->root ? lstat(path, &st) : stat(path, &st)) < 0)
			fd = -2;
		if (fd < -1 || (fd < 0 && !f->info)) {
			*kind = errno == ENOENT || errno == ENOTDIR ? FK_NOTFOUND
				: errno == ELOOP && s->root ? FK_NOTFOUND : FK_OTHER;
			snprintf(why, wl, "%s", strerror(errno));
			return OPEN_FAILED;
		}
	}
	if (fd != -1 && fstat(fd, &st) < 0) {
		*kind = FK_OTHER;
		snprintf(why, wl, "%s", strerror(errno));
		if (fd > STDIN_FILENO)
			close(fd);
		return OPEN_FAILED;
	}
	if (S_ISDIR(st.st_mode) || (!S_ISREG(st.st_mode) && s->root)) {
		*kind = FK_NOTFOUND;
		snprintf(why, wl, S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file");
		if (fd > STDIN_FILENO)
			close(fd);
		return OPEN_FAILED;
	}
	f->fd = fd;
	vr_stream_opened();
	snprintf(f->content_type, sizeof f->content_type, "%s",
		 vr_mime_from_path(s->kind == VR_SOURCE_STDIN ? NULL : s->location));
	snprintf(f->source, sizeof f->source, "%s", s->location);
	if (S_ISREG(st.st_mode)) {
		f->body = B_FILE;
		int r = learn_size(f, st.st_size, why, wl);
		if (r < 0) {
			*kind = FK_OTHER;
			return OPEN_FAILED;
		}
		if (r > 0)
			return OPEN_FATAL;
		if (!f->status)
			f->status = f->whole ? 200 : 206;
		vr_info("%s: local file, %" PRId64 " bytes", f->source, f->size);
		return OPEN_OK; /* the span is set up by ensure_body */
	}
	/* a pipe or device: one pass, no resuming */
	f->body = B_STREAM;
	if (f->delivered > 0 || f->item > 0 || f->item_done > 0) {
		*kind = FK_OTHER;
		snprintf(why, wl, "a stream cannot be resumed at byte %" PRIu64, f->delivered);
		return OPEN_FAILED;
	}
	if (!f->status)
		f->status = f->whole ? 200 : 206;
	vr_info("%s: stream", f->source);
	if (f->whole) {
		f->pass_left = VR_RANGE_OPEN;
		return OPEN_OK;
	}
	char e[256];
	if (ensure_buf(f))
		return OPEN_FATAL;
	int r = vr_slicer_init(&f->slicer, &f->set, -1, f->max_buffer, e, sizeof e);
	f->slicing = f->multi = 1;
	if (r == VR_RANGE_NEEDS_SEEK) {
		fatal(f, VR_EUSAGE, "%s: %s", f->source, e);
		return OPEN_FATAL;
	}
	if (r == VR_RANGE_TOO_BIG) {
		fatal(f, VR_ELIMIT, "%s: %s (limit %" PRIu64 " bytes)", f->source, e, f->max_buffer);
		return OPEN_FATAL;
	}
	if (r != VR_RANGE_OK) {
		fatal(f, VR_EFAIL, "%s: %s", f->source, e);
		return OPEN_FATAL;
	}
	return OPEN_OK;
}

/* Opening an http(s) source, in stages: which request this is (the mode),
 * the request's options (headers, Range, timeouts), the connection and
 * what its failure means, what the response says (type, final location,
 * status, size), and where its bytes go (passed through, or sliced). */

/* --info, and the current source refused HEAD: one byte by GET instead */
static int info_by_get(const struct vr_fetch *f)
{
	return f->info && f->head_refused == f->src + 1;
}

/* The method of the current request: HEAD for --info (the facts without
 * the body) unless the source refused it, else GET. An S3 source's
 * signature covers it. */
static const char *http_method(const struct vr_fetch *f)
{
	return f->info && !info_by_get(f) ? "HEAD" : "GET";
}

/* The request for the current item: probing a suffix range's size, the
 * whole body, a Range request, or the whole body sliced here because the
 * source ignores ranges. *pos: where the item's bytes start. */
static enum http_mode http_mode_for(const struct vr_fetch *f, enum item_state st, uint64_t *pos)
{
	*pos = 0;
	if (st == ITEM_NEED_SIZE || info_by_get(f))
		return M_PROBE; /* info_by_get: GET Range: bytes=0-0 */
	*pos = f->span_start + f->item_done;
	if (f->whole && *pos == 0)
		return M_WHOLE;
	return f->src_ignores_ranges ? M_SLICE : M_RANGED;
}

/* The request's header lines: the source's (vr_source_headers, or NULL)
 * and the Range; range gets the Range value sent ("" none). A malloc'd
 * string, or NULL when out of memory. */
static char *http_headers(const struct vr_fetch *f, const char *hdrs, enum http_mode mode,
			  uint64_t pos, char *range, size_t rlen)
{
	range[0] = '\0';
	if (mode == M_PROBE && !f->probe_plain) {
		/* a 206 tells the size for one byte; a 200 is the whole body,
		 * which is then sliced at once */
		snprintf(range, rlen, "bytes=0-0");
	} else if (mode == M_RANGED) {
		if (f->span_end == VR_RANGE_OPEN)
			snprintf(range, rlen, "bytes=%" PRIu64 "-", pos);
		else
			snprintf(range, rlen, "bytes=%" PRIu64 "-%" PRIu64, pos, f->span_end);
	}
	size_t hl = (hdrs ? strlen(hdrs) : 0) + strlen(range) + 16;
	char *headers = malloc(hl);
	if (headers)
		snprintf(headers, hl, "%s%s%s%s", hdrs ? hdrs : "", range[0] ? "Range: " : "",
			 range, range[0] ? "\r\n" : "");
	return headers;
}

/* A connection that failed: a Range the source ignores (try again,
 * slicing), a 416 (the range-spec is dropped), or a failure classified. */
static int http_open_failed(struct vr_fetch *f, enum http_mode mode,
			    const struct vr_httpio_status *hs, const char *name, const char *range,
			    enum fail_kind *kind, char *why, size_t wl)
{
	int code = hs->code;
	if (f->info && !info_by_get(f) && (code == 405 || code == 501)) {
		vr_info("%s: HTTP %d to HEAD; asking for one byte instead", name, code);
		f->head_refused = f->src + 1;
		return OPEN_AGAIN;
	}
	if (mode == M_RANGED && hs->fail == VR_HTTPIO_MISPLACED && !vr_stop_requested() && !f->hit_deadline &&
	    !f->hit_idle && !f->hit_stall) {
		/* the response did not start at pos: Range was ignored */
		vr_info("%s: HTTP %d to Range: %s; the origin ignores ranges, slicing locally", name,
			code ? code : 200, range);
		f->src_ignores_ranges = 1;
		return OPEN_AGAIN;
	}
	if (code == 416 && mode != M_WHOLE) {
		vr_info("%s: HTTP 416 to Range: %s; range-spec dropped", name, range);
		f->saw_416 = 1;
		return OPEN_DROP;
	}
	if (classify_http(f, hs, "connection failed", kind, why, wl))
		return OPEN_FATAL;
	return OPEN_FAILED;
}

/* What the response says: its content type and final location (without
 * credentials); returns the status it stands for. */
static int http_response(struct vr_fetch *f, enum http_mode mode, uint64_t pos, int code,
			 const char *name, const char *opened)
{
	char val[2048];
	if (!vr_httpio_content_type(f->io, f->content_type, sizeof f->content_type) &&
	    !f->content_type[0])
		snprintf(f->content_type, sizeof f->content_type, "application/octet-stream");
	/* a redirect's target; not the URL opened, which may be presigned */
	if (vr_httpio_location(f->io, val, sizeof val) && strcmp(val, opened))
		redact(val, f->source, sizeof f->source);
	else
		snprintf(f->source, sizeof f->source, "%s", name);
	if (mode == M_RANGED && pos > 0)
		return 206; /* the transport checked Content-Range against the offset */
	return code == 200 || code == 206 ? code : 200;
}

/* Where the body's bytes go: passed through as they come (a whole body,
 * a 206), or a 200's whole body sliced here. */
static int http_route(struct vr_fetch *f, enum http_mode mode, uint64_t pos, int code, int status)
{
	struct vr_range_spec sp = {.kind = VR_SPEC_INT, .first = pos, .last = f->span_end};
	if (info_by_get(f)) {
		/* the one byte that stands in for a refused HEAD told the size
		 * (Content-Range, or Content-Length of a 200 that ignored the
		 * Range); the status is what the request would have had: 200
		 * for the whole body, else 206 when the origin serves ranges.
		 * Its body is not read. */
		if (!f->status)
			f->status = f->whole || code != 206 ? 200 : 206;
		f->pass_left = 0;
		return OPEN_OK;
	}
	if (mode == M_PROBE) {
		/* learning the size for a suffix range */
		enum item_state now = prepare_item(f);
		if (now == ITEM_DROP)
			return OPEN_DROP;
		if (!f->probe_plain && code != 200) {
			/* a 206: now a Range request can say where; a 206 that
			 * gave no size: ask for the whole body next time */
			if (now == ITEM_NEED_SIZE)
				f->probe_plain = 1;
			return OPEN_AGAIN;
		}
		if (!f->probe_plain)
			f->src_ignores_ranges = 1;
		/* the whole body came: cut the suffix out of it */
		if (now == ITEM_READY) {
			sp.first = f->span_start;
			sp.last = f->span_end;
		} else {
			sp = f->set.spec[f->item];
		}
	} else if (mode == M_WHOLE) {
		f->pass_left = f->size >= 0 ? (uint64_t)f->size : VR_RANGE_OPEN;
		goto serving;
	} else if (mode == M_RANGED && status == 206) {
		uint64_t end = f->span_end;
		if (f->size >= 0 && (end == VR_RANGE_OPEN || end >= (uint64_t)f->size))
			end = (uint64_t)f->size - 1;
		f->pass_left = end == VR_RANGE_OPEN ? VR_RANGE_OPEN : end - pos + 1;
		goto serving;
	}
	/* a 200 with the whole body: cut the range out of it here */
	status = 200;
	int r = start_slicing(f, &sp);
	if (r == 1)
		return OPEN_DROP;
	if (r)
		return OPEN_FATAL;
serving:
	if (!f->status)
		f->status = status;
	return OPEN_OK;
}

static int open_http(struct vr_fetch *f, const struct vr_source *s, enum item_state st,
		     enum fail_kind *kind, char *why, size_t wl)
{
	uint64_t pos;
	char range[80], name[1024];

	/* the transport first (libcurl, on the first http source): its
	 * loading is the program's start-up, not the source's slowness, so
	 * it counts against neither --max-time nor the stall timeout */
	double t0 = vr_now_ms();
	if (vr_httpio_ready(why, wl)) {
		fatal(f, VR_EFAIL, "%s", why);
		return OPEN_FATAL;
	}
	double loading = vr_now_ms() - t0;
	if (f->deadline_ms > 0)
		f->deadline_ms += loading;
	if (f->progress_ms > 0)
		f->progress_ms += loading;
	enum http_mode mode = http_mode_for(f, st, &pos);
	/* credentials are read from the environment only now, when a
	 * request is made, and an S3 source is signed for this attempt (a
	 * fresh x-amz-date); an unset one is a configuration error */
	char *hdrs = NULL, *url = NULL, e[1024];
	int hr = vr_source_request(s, http_method(f), time(NULL), &url, &hdrs, e, sizeof e);
	if (hr) {
		fatal(f, hr, "%s", e);
		return OPEN_FATAL;
	}
	char *headers = http_headers(f, hdrs, mode, pos, range, sizeof range);
	if (hdrs)
		explicit_bzero(hdrs, strlen(hdrs));
	free(hdrs);
	if (!headers) {
		free(url);
		fatal(f, VR_EFAIL, "out of memory");
		return OPEN_FATAL;
	}
	struct vr_httpio_request rq = {
		.url = url,
		.method = f->info ? http_method(f) : NULL, /* the facts without the body */
		.headers = headers,
		.offset = mode == M_RANGED ? pos : 0,
		.timeout = s->timeout,
		.interrupted = interrupted,
		.arg = f,
	};
	struct vr_httpio_status hs;
	start_idle_timer(f, s->timeout);
	int ret = vr_httpio_open(&f->io, &rq, &hs);
	explicit_bzero(headers, strlen(headers));
	free(headers);
	redact(s->location, name, sizeof name);
	if (ret < 0) {
		f->io = NULL;
		free(url);
		int r = http_open_failed(f, mode, &hs, name, range, kind, why, wl);
		if (r == OPEN_FAILED && s->s3 && hs.code == 403)
			vr_s3_rejected_text(f->srcs->origin, why, wl);
		return r;
	}
	int code = hs.code;
	f->body = B_HTTP;
	vr_stream_opened();
	int64_t n = vr_httpio_size(f->io);
	int status = http_response(f, mode, pos, code, name, url);
	free(url);
	int r = learn_size(f, n, why, wl);
	if (r < 0) {
		*kind = FK_OTHER;
		return OPEN_FAILED;
	}
	if (r > 0)
		return OPEN_FATAL;
	if (range[0])
		vr_info("%s: HTTP %d to Range: %s (size %" PRId64 ")", f->source, status, range, f->size);
	else
		vr_info("%s: HTTP %d (size %" PRId64 ")", f->source, status, f->size);
	return http_route(f, mode, pos, code, status);
}

/* Have a body for the current item, opening candidates as needed.
 * Returns 0 (a body, or the end: f->item == set.n) or a final status. */
static int ensure_body(struct vr_fetch *f)
{
	char why[1024];
	for (;;) {
		if (f->failed)
			return f->failed;
		if (f->item >= f->set.n) {
			close_body(f);
			return 0;
		}
		if (f->body == B_FILE) {
			if (!f->item_ready && prepare_item(f) == ITEM_DROP) {
				next_item(f);
				continue;
			}
			if (!f->span_set) {
				f->file_off = (int64_t)(f->span_start + f->item_done);
				f->pass_left = f->span_end - (uint64_t)f->file_off + 1;
				f->span_set = 1;
			}
			return 0;
		}
		if (f->body != B_NONE)
			return 0;
		if (deadline_passed(f))
			return deadline_fatal(f);
		if (vr_stop_requested())
			return fatal(f, VR_EFAIL, "interrupted");
		enum item_state st = prepare_item(f);
		if (st == ITEM_DROP) {
			next_item(f);
			continue;
		}
		const struct vr_source *s = &f->srcs->src[f->src];
		enum fail_kind kind = FK_OTHER;
		why[0] = '\0';
		f->attempts++;
		int r = s->kind == VR_SOURCE_HTTP ? open_http(f, s, st, &kind, why, sizeof why)
						  : open_local(f, s, &kind, why, sizeof why);
		switch (r) {
		case OPEN_OK:
			if (f->body == B_FILE)
				continue; /* positioned at the top of the loop */
			return 0;
		case OPEN_AGAIN:
			close_body(f);
			continue;
		case OPEN_DROP:
			close_body(f);
			next_item(f);
			continue;
		case OPEN_FATAL:
			close_body(f);
			return f->failed ? f->failed : fatal(f, VR_EFAIL, "cannot open the source");
		default: {
			int st2 = source_failed(f, kind, why);
			if (st2)
				return st2;
			continue;
		}
		}
	}
}

/* ---- reading ---- */

static int emit_to_dst(void *ctx, const void *p, size_t n)
{
	struct vr_fetch *f = ctx;
	size_t room = f->dst_cap - f->dst_len, take = n < room ? n : room;
	memcpy(f->dst + f->dst_len, p, take);
	f->dst_len += take;
	if (take < n) {
		/* only vr_slicer_finish emits more than was fed (the suffix
		 * ring, in at most two pieces that stay valid until the slicer
		 * is freed) */
		int i = f->pend_len[0] ? 1 : 0;
		f->pend[i] = (const unsigned char *)p + take;
		f->pend_len[i] = n - take;
	}
	return 0;
}

/* How many of n bytes may be delivered under max_bytes. */
static size_t within_limit(struct vr_fetch *f, size_t n)
{
	if (!f->max_bytes)
		return n;
	uint64_t room = f->max_bytes - f->delivered;
	if (n > room) {
		f->limit_hit = 1;
		return (size_t)room;
	}
	return n;
}

static void delivered(struct vr_fetch *f, size_t n)
{
	f->delivered += n;
	f->item_done += n;
}

/* What body_read returns besides a byte count (> 0) or 0 at the end. */
enum { READ_FAILED = -1, /* the source failed: kind and why say how */
       READ_FATAL = -2   /* the fetch is over: f->failed holds the status */ };

/* Raw bytes from the body: > 0, 0 at the end, READ_FAILED or READ_FATAL. */
static long body_read(struct vr_fetch *f, void *p, size_t n, enum fail_kind *kind, char *why,
		      size_t wl)
{
	if (n > INT_MAX)
		n = INT_MAX;
	if (deadline_passed(f)) {
		deadline_fatal(f);
		return READ_FATAL;
	}
	if (f->body == B_HTTP) {
		struct vr_httpio_status hs;
		long r = vr_httpio_read(f->io, p, n, &hs);
		if (r > 0) {
			touch_idle_timer(f);
			f->bytes_in += (uint64_t)r;
			f->progress_ms = vr_now_ms();
			return r;
		}
		if (r == 0)
			return 0;
		char doing[96];
		snprintf(doing, sizeof doing, "body broken off after %" PRIu64 " bytes of this range",
			 f->item_done);
		if (classify_http(f, &hs, doing, kind, why, wl))
			return READ_FATAL;
		return READ_FAILED;
	}
	for (;;) {
		ssize_t r = f->body == B_FILE ? pread(f->fd, p, n, f->file_off) : read(f->fd, p, n);
		if (r >= 0) {
			f->bytes_in += (uint64_t)r;
			f->progress_ms = vr_now_ms();
			if (f->body == B_FILE)
				f->file_off += r;
			return r;
		}
		if (errno == EINTR && !vr_stop_requested())
			continue;
		if (vr_stop_requested()) {
			fatal(f, VR_EFAIL, "interrupted");
			return READ_FATAL;
		}
		*kind = FK_OTHER;
		snprintf(why, wl, "read: %s", strerror(errno));
		return READ_FAILED;
	}
}

static void item_complete(struct vr_fetch *f)
{
	if (f->body != B_FILE)
		close_body(f);
	next_item(f);
}

/* What one stage of step() came to: bytes in *got, nothing yet (go round
 * again), the end with a final status, or a failed read of the source
 * (why and kind say how; the source may be retried or left). */
enum step_result { STEP_GOT, STEP_AGAIN, STEP_END, STEP_READ_FAILED };

/* Bytes kept back from an earlier read go first. */
static enum step_result take_pending(struct vr_fetch *f, unsigned char *buf, size_t cap,
				     size_t *got)
{
	size_t n = f->pend_len[0] < cap ? f->pend_len[0] : cap;
	n = within_limit(f, n);
	if (n == 0)
		return STEP_AGAIN;
	memcpy(buf, f->pend[0], n);
	f->pend[0] += n;
	f->pend_len[0] -= n;
	if (!f->pend_len[0]) {
		f->pend[0] = f->pend[1];
		f->pend_len[0] = f->pend_len[1];
		f->pend_len[1] = 0;
	}
	delivered(f, n);
	*got = n;
	return STEP_GOT;
}

/* Every item is done: the end, or a range set nothing satisfied. */
static int items_done(struct vr_fetch *f)
{
	if (f->whole || f->served || f->delivered)
		return 0;
	char s[1024], m[1536];
	return fatal(f, VR_ERANGE, "%s",
		     vr_unsatisfiable_text(m, sizeof m, &f->set, shown(f, s, sizeof s), f->size,
					   f->saw_416));
}

/* A local file: copied straight to outfd (sendfile, copy_file_range) when
 * there is one, else read into buf. */
static enum step_result step_file(struct vr_fetch *f, unsigned char *buf, size_t cap, int outfd,
				  size_t *got, int *direct, enum fail_kind *kind, char *why,
				  size_t wl, int *status)
{
	if (f->pass_left == 0) {
		item_complete(f);
		return STEP_AGAIN;
	}
	uint64_t want = f->pass_left;
	if (f->max_bytes) {
		uint64_t room = f->max_bytes - f->delivered;
		if (room == 0) {
			f->limit_hit = 1;
			return STEP_AGAIN;
		}
		if (want > room)
			want = room;
	}
	if (outfd < 0) {
		size_t n = want < cap ? (size_t)want : cap;
		long r = body_read(f, buf, n, kind, why, wl);
		if (r == READ_FATAL) {
			*status = f->failed;
			return STEP_END;
		}
		if (r == 0) {
			snprintf(why, wl, "ended at byte %" PRId64 " (the file shrank?)", f->file_off);
			return STEP_READ_FAILED;
		}
		if (r < 0)
			return STEP_READ_FAILED;
		f->pass_left -= (uint64_t)r;
		delivered(f, (size_t)r);
		*got = (size_t)r;
		return STEP_GOT;
	}
	if (deadline_passed(f)) {
		*status = deadline_fatal(f);
		return STEP_END;
	}
	if (want > COPY_CHUNK)
		want = COPY_CHUNK;
	int64_t off = f->file_off;
	uint64_t moved = 0;
	int c = vr_copy(f->fd, &off, outfd, want, &moved);
	f->file_off = off;
	f->bytes_in += moved;
	f->progress_ms = vr_now_ms();
	f->pass_left -= moved;
	delivered(f, (size_t)moved);
	*got = (size_t)moved;
	*direct = 1;
	switch (c) {
	case VR_IO_OK:
		return STEP_GOT;
	case VR_IO_EPIPE:
		f->output_closed = 1;
		return STEP_GOT;
	case VR_IO_ESTOP:
		*status = fatal(f, VR_EFAIL, "interrupted");
		return STEP_END;
	case VR_IO_EWRITE:
		*status = fatal(f, VR_EIO, "writing output: %s", strerror(errno));
		return STEP_END;
	case VR_IO_EOF:
		snprintf(why, wl, "ended at byte %" PRId64 " (the file shrank?)", f->file_off);
		break;
	default:
		snprintf(why, wl, "read: %s", strerror(errno));
		break;
	}
	int s2 = source_failed(f, FK_OTHER, why);
	if (s2) {
		*status = s2;
		return STEP_END;
	}
	return moved ? STEP_GOT : STEP_AGAIN;
}

/* An http body passed through as it comes (a whole body, a 206). */
static enum step_result step_pass(struct vr_fetch *f, unsigned char *buf, size_t cap,
				  size_t *got, enum fail_kind *kind, char *why, size_t wl,
				  int *status)
{
	if (f->pass_left == 0) {
		item_complete(f);
		return STEP_AGAIN;
	}
	size_t n = f->pass_left < cap ? (size_t)f->pass_left : cap;
	long r = body_read(f, buf, n, kind, why, wl);
	if (r == READ_FATAL) {
		*status = f->failed;
		return STEP_END;
	}
	if (r < 0)
		return STEP_READ_FAILED;
	if (r == 0) {
		if (f->pass_left == VR_RANGE_OPEN) {
			if (f->whole && f->size < 0)
				f->size = (int64_t)f->item_done;
			item_complete(f);
			return STEP_AGAIN;
		}
		*kind = FK_TRANSIENT;
		snprintf(why, wl, "ended early: %" PRIu64 " bytes short", f->pass_left);
		return STEP_READ_FAILED;
	}
	size_t take = within_limit(f, (size_t)r);
	if (f->pass_left != VR_RANGE_OPEN)
		f->pass_left -= (uint64_t)r;
	delivered(f, take);
	*got = take;
	return take ? STEP_GOT : STEP_AGAIN;
}

/* A 200's whole body cut by the slicer into the range's bytes. */
static enum step_result step_slice(struct vr_fetch *f, unsigned char *buf, size_t cap,
				   size_t *got, enum fail_kind *kind, char *why, size_t wl,
				   int *status)
{
	if (f->slicer_eof || !vr_slicer_wants_input(&f->slicer)) {
		if (f->multi) {
			struct vr_span spans[VR_RANGE_MAX];
			int64_t total;
			f->served = vr_slicer_spans(&f->slicer, spans, &total);
			if (total >= 0 && f->size < 0)
				f->size = total;
			close_body(f);
			f->item = f->set.n;
			f->item_done = 0;
			return STEP_AGAIN;
		}
		item_complete(f);
		return STEP_AGAIN;
	}
	size_t n = cap < VR_FETCH_BUFSIZE ? cap : VR_FETCH_BUFSIZE;
	long r = body_read(f, f->buf, n, kind, why, wl);
	f->dst = buf;
	f->dst_cap = cap;
	f->dst_len = 0;
	if (r == READ_FATAL) {
		*status = f->failed;
		return STEP_END;
	}
	if (r < 0)
		return STEP_READ_FAILED;
	if (r == 0) {
		int64_t seen = (int64_t)f->slicer.pos;
		if (f->size >= 0 && seen < f->size) {
			*kind = FK_TRANSIENT;
			snprintf(why, wl, "ended early at byte %" PRId64 " of %" PRId64, seen, f->size);
			return STEP_READ_FAILED;
		}
		if (f->size < 0 && !f->multi) {
			char lw[256];
			learn_size(f, seen, lw, sizeof lw);
		}
		vr_slicer_finish(&f->slicer, emit_to_dst, f);
		f->slicer_eof = 1;
	} else {
		vr_slicer_feed(&f->slicer, f->buf, (size_t)r, emit_to_dst, f);
	}
	size_t take = within_limit(f, f->dst_len);
	delivered(f, take);
	*got = take;
	return take ? STEP_GOT : STEP_AGAIN;
}

/* One step of output: bytes into buf, or (B_FILE and outfd >= 0) written
 * straight to outfd (*direct). *got == 0 and 0 returned: the end. */
static int step(struct vr_fetch *f, unsigned char *buf, size_t cap, int outfd, size_t *got,
		int *direct)
{
	char why[1024];
	enum fail_kind kind = FK_OTHER;
	*got = 0;
	*direct = 0;
	/* the stall counts the sources' time, not the caller's between reads */
	f->progress_ms = vr_now_ms();
	for (;;) {
		if (f->failed)
			return f->failed;
		if (f->limit_hit)
			return fatal(f, VR_ELIMIT, "more than %" PRIu64 " bytes: stopped at the limit",
				     f->max_bytes);
		if (f->pend_len[0]) {
			if (take_pending(f, buf, cap, got) == STEP_GOT)
				return 0;
			continue;
		}
		int rc = ensure_body(f);
		if (rc)
			return rc;
		if (f->item >= f->set.n)
			return items_done(f);
		int status = 0;
		enum step_result r =
			f->body == B_FILE ? step_file(f, buf, cap, outfd, got, direct, &kind, why,
						      sizeof why, &status)
			: !f->slicing	  ? step_pass(f, buf, cap, got, &kind, why, sizeof why, &status)
					  : step_slice(f, buf, cap, got, &kind, why, sizeof why, &status);
		if (r == STEP_GOT)
			return 0;
		if (r == STEP_AGAIN)
			continue;
		if (r == STEP_END)
			return status;
		/* the source's read failed */
		if (f->multi) {
			char s[1024];
			close_body(f);
			return fatal(f, VR_EIO, "%s: %s", shown(f, s, sizeof s), why);
		}
		int s2 = source_failed(f, kind, why);
		if (s2)
			return s2;
	}
}

/* ---- the API ---- */

int vr_fetch_open(struct vr_fetch **out, const struct vr_resolved *srcs, const struct vr_fetch_opts *o)
{
	struct vr_fetch *f = calloc(1, sizeof *f);
	*out = f;
	if (!f)
		return VR_EFAIL;
	f->srcs = srcs;
	f->fd = -1;
	f->size = -1;
	f->max_bytes = o ? o->max_bytes : 0;
	f->max_buffer = o && o->max_buffer ? o->max_buffer : VR_FETCH_MAX_BUFFER;
	f->max_time = o ? o->max_time : 0;
	if (f->max_time > 0)
		f->deadline_ms = vr_now_ms() + f->max_time * 1000;
	f->stall_ms = o && o->stall_timeout > 0 ? o->stall_timeout * 1000 : 0;
	f->info = o ? o->info : 0;
	if (o) {
		f->on_written = o->on_written;
		f->on_written_arg = o->on_written_arg;
	}
	f->progress_ms = vr_now_ms();
	if (o && o->range && o->range->n > 0) {
		f->set = *o->range;
	} else {
		f->whole = 1;
		f->set.n = 1;
		f->set.spec[0].kind = VR_SPEC_INT;
		f->set.spec[0].first = 0;
		f->set.spec[0].last = VR_RANGE_OPEN;
	}
	snprintf(f->content_type, sizeof f->content_type, "application/octet-stream");
	if (!srcs || srcs->n == 0)
		return fatal(f, VR_EUSAGE, "no source to fetch");
	int rc = ensure_body(f);
	if (rc == 0 && f->item >= f->set.n && !f->whole && f->served == 0) {
		char s[1024], m[1536];
		rc = fatal(f, VR_ERANGE, "%s",
			   vr_unsatisfiable_text(m, sizeof m, &f->set, shown(f, s, sizeof s), f->size,
						 f->saw_416));
	}
	return rc;
}

int vr_fetch_read(struct vr_fetch *f, void *buf, size_t cap, size_t *got)
{
	int direct;
	*got = 0;
	if (cap == 0)
		return f->failed;
	return step(f, buf, cap, -1, got, &direct);
}

int vr_fetch_to_fd(struct vr_fetch *f, int fd, uint64_t *written)
{
	uint64_t dummy;
	if (!written)
		written = &dummy;
	*written = 0;
	unsigned char *buf = malloc(VR_FETCH_BUFSIZE);
	if (!buf)
		return fatal(f, VR_EFAIL, "out of memory");
	int rc;
	for (;;) {
		size_t got;
		int direct;
		rc = step(f, buf, VR_FETCH_BUFSIZE, fd, &got, &direct);
		if (rc)
			break;
		if (direct) {
			*written += got;
			if (f->on_written)
				f->on_written(f->on_written_arg, *written);
			if (f->output_closed)
				break;
			continue;
		}
		if (got == 0)
			break;
		int w = vr_write_full(fd, buf, got);
		if (w == VR_IO_EPIPE) {
			f->output_closed = 1;
			break;
		}
		if (w == VR_IO_ESTOP) {
			rc = fatal(f, VR_EFAIL, "interrupted");
			break;
		}
		if (w != VR_IO_OK) {
			rc = fatal(f, VR_EIO, "writing output: %s", strerror(errno));
			break;
		}
		*written += got;
		if (f->on_written)
			f->on_written(f->on_written_arg, *written);
	}
	free(buf);
	return rc;
}

void vr_fetch_close(struct vr_fetch *f)
{
	if (!f)
		return;
	close_body(f);
	free(f->buf);
	free(f);
}

int64_t vr_fetch_size(const struct vr_fetch *f) { return f->size; }
const char *vr_fetch_content_type(const struct vr_fetch *f) { return f->content_type; }
const char *vr_fetch_source(const struct vr_fetch *f) { return f->source; }
const char *vr_fetch_origin(const struct vr_fetch *f) { return f->srcs ? f->srcs->origin : NULL; }
int vr_fetch_status(const struct vr_fetch *f) { return f->status; }
unsigned vr_fetch_attempts(const struct vr_fetch *f) { return f->attempts; }
uint64_t vr_fetch_bytes_in(const struct vr_fetch *f) { return f->bytes_in; }
uint64_t vr_fetch_bytes_out(const struct vr_fetch *f) { return f->delivered; }
int vr_fetch_output_closed(const struct vr_fetch *f) { return f->output_closed; }
const char *vr_fetch_error(const struct vr_fetch *f) { return f ? f->err : "out of memory"; }
