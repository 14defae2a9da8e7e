/* vr-range: write the bytes of an RFC 9110 range set from a file or stdin.
 *
 * A regular file is read at the range offsets (sendfile/copy_file_range),
 * never through the skipped bytes; a pipe is served in one pass with
 * splice, and a suffix range on a pipe of unknown size keeps only its last
 * N bytes. Memory stays at one transfer buffer whatever the input size. */
#include "cli.h"
#include "defaults.h"
#include "io.h"
#include "json.h"
#include "lifecycle.h"
#include "log.h"
#include "metrics.h"
#include "mime.h"
#include "num.h"
#include "output.h"
#include "range.h"
#include "response.h"
#include "status.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct opts {
	struct vr_cli_common common;
	const char *range_text;
	const char *file;
	int64_t size;          /* -1 unknown */
	uint64_t max_buffer;
	struct vr_cli_multipart mp;
	const char *content_type;
	int headers, json;
	const char *output;
};

static int set_size(void *field, const struct vr_opt *o, const char *arg, char *err, size_t errlen)
{
	(void)o;
	uint64_t u;
	if (vr_parse_size(arg, &u) < 0 || u > (uint64_t)INT64_MAX) {
		snprintf(err, errlen, "'%s' is not a byte count", arg);
		return VR_EUSAGE;
	}
	*(int64_t *)field = (int64_t)u;
	return 0;
}

#define O(m) offsetof(struct opts, m)
static const struct vr_opt range_opts[] = {
	{.name = "size", .letter = 's', .kind = VR_OPT_CALL, .arg = "N", .off = O(size),
	 .fn = set_size, .help = "total input size, for a pipe"},
	{.name = "max-buffer", .kind = VR_OPT_SIZE, .arg = "SIZE", .off = O(max_buffer),
	 .def = VR_DEFAULT_MAX_BUFFER, .lo = 1, .hi = 1099511627776.0,
	 .help = "largest suffix kept from a pipe of unknown size\n(past it exit 8)"},
	VR_OPT_MULTIPART(O(mp)),
	VR_OPT_CONTENT_TYPE(O(content_type), "Content-Type of the parts (default: from FILE's name)"),
	VR_OPT_HEADERS(O(headers)),
	VR_OPT_JSON(O(json), "print the same facts as one JSON object on stderr"),
	VR_OPT_OUTPUT(O(output)),
	{0},
};
#undef O

static int out_fd = STDOUT_FILENO;

/* Map a lib/base/io result to an exit status; EPIPE is a quiet success. */
static int io_status(int r, const char *what)
{
	switch (r) {
	case VR_IO_OK:
	case VR_IO_EPIPE:
		return VR_OK;
	case VR_IO_ESTOP:
		return VR_EFAIL;
	case VR_IO_EREAD:
		vr_error("reading %s: %s", what, strerror(errno));
		return VR_EIO;
	default:
		vr_error("writing output: %s", strerror(errno));
		return VR_EIO;
	}
}

static int write_out(const void *buf, size_t n)
{
	int r = vr_write_full(out_fd, buf, n);
	if (r == VR_IO_OK)
		vr_metrics_bytes_out(n);
	return r;
}

static int out_result; /* the write result that made emit_out say VR_STOP */

static int emit_out(void *ctx, const void *buf, size_t n)
{
	(void)ctx;
	int w = write_out(buf, n);
	if (w == VR_IO_OK)
		return 0;
	out_result = w;
	return VR_STOP;
}

/* A regular file (or any seekable input of known size): each span read at
 * its offset, in the order given, through the shared span server. */
struct file_serve {
	int in;
	const char *what;
	int status;            /* why a callback said VR_STOP */
};

static int file_emit(void *ctx, const void *buf, size_t n)
{
	struct file_serve *f = ctx;
	int w = write_out(buf, n);
	if (w == VR_IO_OK)
		return 0;
	f->status = io_status(w, f->what);
	return VR_STOP;
}

static int file_span(void *ctx, const struct vr_span *sp)
{
	struct file_serve *f = ctx;
	int64_t off = (int64_t)sp->start;
	uint64_t len = sp->end - sp->start + 1, moved = 0;
	int c = vr_copy(f->in, &off, out_fd, len, &moved);
	vr_metrics_bytes_in(moved);
	vr_metrics_bytes_out(moved);
	if (c == VR_IO_OK)
		return 0;
	if (c == VR_IO_EOF) {
		vr_error("%s shrank while being read (ended before byte %" PRIu64 ")", f->what,
			 sp->start + moved);
		f->status = VR_EIO;
	} else {
		f->status = io_status(c, f->what);
	}
	return VR_STOP;
}

static int serve_file(int in, const struct vr_response *r, const char *what)
{
	struct file_serve f = {in, what, VR_OK};
	struct vr_serve s = {file_emit, file_span, &f};
	int rc = vr_response_serve(r, &s);
	return rc == VR_STOP ? f.status : rc;
}

/* A stream: one pass, zero-copy where no ring is needed. Sets *ended when
 * input ran out. */
static int serve_stream(int in, const struct opts *o, int multipart, struct vr_slicer *s,
			const char *what, int64_t total)
{
	char head[512];
	size_t head_for = (size_t)-1;
	while (vr_slicer_wants_input(s)) {
		uint64_t skip, take;
		if (!vr_slicer_next(s, &skip, &take)) {
			ssize_t n = vr_read_some(in, vr_io_buffer(), VR_IO_BUFSIZE);
			if (n < 0)
				return io_status(vr_stop_requested() ? VR_IO_ESTOP : VR_IO_EREAD, what);
			if (n == 0)
				break;
			vr_metrics_bytes_in((uint64_t)n);
			if (vr_slicer_feed(s, vr_io_buffer(), (size_t)n, emit_out, NULL))
				return io_status(out_result, what);
			continue;
		}
		uint64_t moved = 0;
		int r = vr_skip(in, skip, &moved);
		vr_metrics_bytes_in(moved);
		vr_slicer_advance(s, moved);
		if (r == VR_IO_EOF)
			break;
		if (r != VR_IO_OK)
			return io_status(r, what);
		if (multipart && head_for != s->idx) {
			head_for = s->idx;
			int hl = vr_multipart_head(head, sizeof head, o->mp.boundary, o->content_type,
						   &s->part[s->idx], total);
			int w = write_out(head, (size_t)hl);
			if (w != VR_IO_OK)
				return io_status(w, what);
		}
		r = vr_copy(in, NULL, out_fd, take == VR_RANGE_OPEN ? VR_IO_ALL : take, &moved);
		vr_metrics_bytes_in(moved);
		vr_metrics_bytes_out(moved);
		vr_slicer_advance(s, moved);
		if (r == VR_IO_EOF || (r == VR_IO_OK && take == VR_RANGE_OPEN))
			break;
		if (r != VR_IO_OK)
			return io_status(r, what);
	}
	if (vr_slicer_wants_input(s) || s->suffix) {
		/* input ended */
		if (vr_slicer_finish(s, emit_out, NULL))
			return io_status(out_result, what);
	}
	if (multipart) {
		int tl = vr_multipart_tail(head, sizeof head, o->mp.boundary);
		return io_status(write_out(head, (size_t)tl), what);
	}
	return VR_OK;
}

/* One run, in the stages run_range() calls top to bottom: the range set,
 * the input and its size, the response plan (all of it for a known size),
 * the slicer for a stream, the output, serving, and for a stream of unknown
 * size the facts known only at its end. */
struct job {
	struct opts *o;
	struct vr_range_set *set;
	struct vr_slicer *slicer;
	struct vr_response *r;
	int whole;            /* no range: the whole input, an HTTP 200 */
	int in;
	const char *what;     /* the input, for messages */
	int64_t size;         /* -1 unknown */
	int seekable;
	char err[512];
};

/* The range set; an empty one is the whole input. */
static int job_range(struct job *j)
{
	j->whole = j->o->range_text[strspn(j->o->range_text, " \t")] == '\0';
	if (j->whole) { /* no Range header: the whole representation */
		j->set->n = 1;
		j->set->spec[0].kind = VR_SPEC_INT;
		j->set->spec[0].first = 0;
		j->set->spec[0].last = VR_RANGE_OPEN;
		return 0;
	}
	if (vr_range_parse(j->o->range_text, j->set, j->err, sizeof j->err) != VR_RANGE_OK) {
		vr_error("%s", j->err);
		return VR_EDATA;
	}
	vr_cli_multipart_for_headers(&j->o->mp, j->o->headers, j->set->n);
	return 0;
}

/* FILE or stdin, and its size: a regular file's own, else --size. */
static int job_input(struct job *j)
{
	struct opts *o = j->o;
	if (o->file && strcmp(o->file, "-")) {
		int rc = vr_open_input(o->file, &j->in, j->err, sizeof j->err);
		if (rc) {
			vr_error("%s", j->err);
			return rc;
		}
	}
	int64_t fsize;
	enum vr_fd_kind kind = vr_fd_kind(j->in, &fsize);
	j->seekable = kind == VR_FD_FILE;
	j->size = j->seekable ? fsize : o->size;
	if (j->seekable && o->size >= 0 && o->size != fsize)
		vr_warn("--size %" PRId64 " ignored: %s has %" PRId64 " bytes", o->size, j->what, fsize);
	if (!o->content_type)
		o->content_type = vr_mime_from_path(o->file);
	if (kind == VR_FD_PIPE)
		vr_pipe_grow(j->in);
	return 0;
}

/* The response: planned whole for a known size (a 416 said here), else
 * the facts a stream of unknown size starts with. */
static int job_plan(struct job *j)
{
	struct opts *o = j->o;
	struct vr_response *r = j->r;
	r->total = j->size;
	r->status = j->whole ? 200 : 206;
	r->content_type = o->content_type;
	r->boundary = o->mp.boundary;
	if (j->size >= 0) {
		if (vr_response_plan(r, j->whole ? NULL : j->set, (uint64_t)j->size, o->mp.on,
				     o->content_type, o->mp.boundary) != VR_RANGE_OK) {
			vr_response_print(r, o->headers, o->json);
			vr_error("%s", vr_unsatisfiable_text(j->err, sizeof j->err, j->set, "the input",
							     j->size, 0));
			return VR_ERANGE;
		}
	} else if (o->mp.on && j->set->n > 1) {
		vr_error("several ranges as multipart (--multipart, or --headers) need the total size: give --size N or a regular file");
		return VR_EUSAGE;
	}
	return 0;
}

/* A stream is cut in one pass: the slicer, bounded by --max-buffer. */
static int job_slicer(struct job *j)
{
	struct opts *o = j->o;
	if (j->seekable)
		return 0;
	int s = vr_slicer_init(j->slicer, j->set, j->size, o->max_buffer, j->err, sizeof j->err);
	if (s == VR_RANGE_NEEDS_SEEK) {
		vr_error("%s: %s", o->range_text, j->err);
		return VR_EUSAGE;
	}
	if (s == VR_RANGE_TOO_BIG) {
		vr_error("%s: %s (%" PRIu64 " bytes)", o->range_text, j->err, o->max_buffer);
		return VR_ELIMIT;
	}
	return 0;
}

/* After a stream: what it held against --size, and for an unknown size
 * the spans, the total and the head (or the 416) known only now. */
static int job_stream_end(struct job *j)
{
	struct opts *o = j->o;
	struct vr_response *r = j->r;
	int64_t seen;
	r->n = vr_slicer_spans(j->slicer, r->spans, &seen);
	if (j->size >= 0 && seen >= 0 && seen < j->size && j->slicer->at_eof) {
		vr_error("%s ended at byte %" PRId64 ", before the %" PRId64 " bytes given by --size",
			 j->what, seen, j->size);
		return VR_EDATA;
	}
	if (j->size >= 0)
		return 0;
	r->total = seen;
	if (r->n == 0 && !j->whole) {
		r->status = 416;
		vr_response_print(r, o->headers, o->json);
		vr_error("%s",
			 vr_unsatisfiable_text(j->err, sizeof j->err, j->set, "the input", seen, 0));
		return VR_ERANGE;
	}
	r->length_known = 1;
	r->content_length = vr_metrics_get_bytes_out();
	vr_response_print(r, o->headers, o->json);
	return 0;
}

static int run_range(struct opts *o)
{
	struct job j = {
		.o = o,
		.set = calloc(1, sizeof *j.set),
		.slicer = calloc(1, sizeof *j.slicer),
		.r = calloc(1, sizeof *j.r),
		.in = STDIN_FILENO,
		.what = o->file && strcmp(o->file, "-") ? o->file : "stdin",
	};
	struct vr_output out;
	int out_open = 0, rc;
	if (!j.set || !j.slicer || !j.r) {
		vr_error("out of memory");
		rc = VR_EFAIL;
		goto done;
	}
	if ((rc = job_range(&j)) || (rc = job_input(&j)) || (rc = job_plan(&j)) ||
	    (rc = job_slicer(&j)) || (rc = vr_output_open(&out, o->output)))
		goto done;
	out_open = 1;
	/* the head comes once the output is known to be writable */
	if (j.size >= 0)
		vr_response_print(j.r, o->headers, o->json);
	out_fd = out.fd;
	vr_pipe_grow(out_fd);
	vr_stream_opened();
	if (j.seekable) {
		rc = serve_file(j.in, j.r, j.what);
	} else {
		rc = serve_stream(j.in, o, j.r->multipart, j.slicer, j.what, j.size);
		if (rc == VR_OK)
			rc = job_stream_end(&j);
	}
	vr_stream_closed();
	if (rc == VR_OK && vr_stop_requested())
		rc = VR_EFAIL;
done:
	if (out_open)
		rc = vr_output_end(&out, rc);
	if (j.in != STDIN_FILENO)
		close(j.in);
	if (j.slicer)
		vr_slicer_free(j.slicer);
	free(j.slicer);
	free(j.set);
	free(j.r);
	return rc;
}

static int run(void *opts, int argc, char **argv)
{
	struct opts *o = opts;
	o->range_text = argv[0];
	o->file = argc > 1 ? argv[1] : NULL;
	vr_metrics_str("source", o->file && strcmp(o->file, "-") ? o->file : "stdin");
	vr_cli_multipart_finish(&o->mp);
	return run_range(o);
}

static const struct vr_cli_prog prog = {
	.name = "vr-range",
	.operands = "RANGE [FILE]",
	.about = "Write the bytes of RANGE (an RFC 9110 byte-range set such as bytes=0-499,\n"
		 "bytes=500-, bytes=-500 or 0-99,200-299) from FILE or stdin to stdout.\n"
		 "An empty RANGE means the whole input (an HTTP 200).",
	.shared = VR_CLI_METRICS,
	.min_args = 1,
	.max_args = 2,
	.tables = {{range_opts}},
	.run = run,
	.exits = "Exit status: 0 ok, 2 usage, 3 malformed range or short input, 4 not\n"
		 "satisfiable, 5 FILE not found, 6 I/O error, 8 suffix above --max-buffer.",
	.complete = VR_CLI_COMPLETE_FILES,
};

int main(int argc, char **argv)
{
	static struct opts o = {.size = -1};
	vr_cli_main(&prog, argc, argv, &o);
}
