#include "demux.h"
#include "http.h"
#include "num.h"
#include "lifecycle.h"
#include "log.h"
#include "metrics.h"
#include "origin.h"
#include "spool.h"
#include "status.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avstring.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define AVIO_BUFSIZE (64 * 1024)
#define PROBE_BYTES (64 * 1024)
/* containers that demux from a pipe without seeking */
#define STREAMABLE "mpegts,matroska,webm,flv,mp3,aac,wav,ogg"

/* ---- libav log capture ---- */

/* The last error line is per thread, so that a run (a vr-cache warm job)
 * only ever reports its own libav errors: each thread has its buffer,
 * vr_av_error_reset empties it when a run starts, and decoders tag their
 * worker threads' messages with the buffer of the thread that owns them
 * (vr_av_error_attach). Writes and reads hold log_lock, as a decoder's
 * worker may write the owner's buffer. */
#define ERRBUF_MAGIC 0x76726572u /* "vrer" */
struct errbuf {
	unsigned magic;
	char text[512];
};

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static _Thread_local struct errbuf tl_error = {ERRBUF_MAGIC, ""};

/* The buffer a message from avcl belongs to: its owner's for a codec
 * context attached to one, else this thread's. */
static struct errbuf *error_target(void *avcl)
{
	const AVClass *c = avcl ? *(const AVClass **)avcl : NULL;
	/* by name: vr-fetch links this file without libavcodec */
	if (c && c->class_name && !strcmp(c->class_name, "AVCodecContext")) {
		struct errbuf *b = ((AVCodecContext *)avcl)->opaque;
		if (b && b->magic == ERRBUF_MAGIC)
			return b;
	}
	return &tl_error;
}

static void av_log_to_vr(void *avcl, int level, const char *fmt, va_list vl)
{
	/* AV_LOG_DEBUG and below carry the request, credentials included */
	if (level > (vr_log_verbosity() >= VR_DEBUG ? AV_LOG_VERBOSE : AV_LOG_WARNING))
		return;
	char line[1024];
	static int print_prefix = 1;
	pthread_mutex_lock(&log_lock);
	av_log_format_line2(avcl, level, fmt, vl, line, sizeof line, &print_prefix);
	size_t n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	if (level <= AV_LOG_ERROR && n > 0) {
		/* without the "[mov,mp4,... @ 0x55...] " context prefix */
		const char *m = line, *e = line[0] == '[' ? strstr(line, "] ") : NULL;
		if (e && memchr(line, '@', (size_t)(e - line)))
			m = e + 2;
		struct errbuf *b = error_target(avcl);
		snprintf(b->text, sizeof b->text, "%.*s", (int)sizeof b->text - 1, m);
	}
	pthread_mutex_unlock(&log_lock);
	if (n == 0)
		return;
	if (vr_log_verbosity() >= VR_DEBUG)
		vr_debug("libav: %s", line);
	else if (vr_log_verbosity() >= VR_VERBOSE && level <= AV_LOG_WARNING)
		vr_info("libav: %s", line);
}

static void log_setup_once(void) { av_log_set_callback(av_log_to_vr); }

void vr_av_log_setup(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, log_setup_once);
}

void vr_av_error_reset(void)
{
	pthread_mutex_lock(&log_lock);
	tl_error.text[0] = '\0';
	pthread_mutex_unlock(&log_lock);
}

void vr_av_error_attach(struct AVCodecContext *ctx) { ctx->opaque = &tl_error; }

const char *vr_av_last_error(void)
{
	/* a copy: a decoder's worker may still write the buffer */
	static _Thread_local char copy[sizeof tl_error.text];
	pthread_mutex_lock(&log_lock);
	memcpy(copy, tl_error.text, sizeof copy);
	pthread_mutex_unlock(&log_lock);
	return copy;
}

/* An HTTP status in the one wording of every program (lib/request/http);
 * libavformat tells the status of a few only. NULL: not an HTTP status. */
static const char *http_describe(int averr, char *buf, size_t len)
{
	switch (averr) {
	case AVERROR_HTTP_NOT_FOUND: return vr_http_failure_text(404, buf, len);
	case AVERROR_HTTP_SERVER_ERROR: return vr_http_failure_text(5, buf, len);
	case AVERROR_HTTP_BAD_REQUEST: return vr_http_failure_text(400, buf, len);
	case AVERROR_HTTP_UNAUTHORIZED: return vr_http_failure_text(401, buf, len);
	case AVERROR_HTTP_FORBIDDEN: return vr_http_failure_text(403, buf, len);
	case AVERROR_HTTP_OTHER_4XX: return vr_http_failure_text(4, buf, len);
	default: return NULL;
	}
}

const char *vr_av_describe(int averr, char *buf, size_t len)
{
	if (http_describe(averr, buf, len))
		return buf;
	char e[AV_ERROR_MAX_STRING_SIZE];
	av_strerror(averr, e, sizeof e);
	pthread_mutex_lock(&log_lock);
	if (tl_error.text[0] && !strstr(tl_error.text, e))
		snprintf(buf, len, "%s (%s)", e, tl_error.text);
	else
		snprintf(buf, len, "%s", e);
	pthread_mutex_unlock(&log_lock);
	return buf;
}

/* ---- the byte source under libavformat ---- */

struct src {
	int fd;
	int own_fd;
	int seekable;
	int64_t size;
	unsigned char *prefix;     /* bytes read while probing a pipe */
	size_t plen, ppos;
	AVIOContext *inner;        /* http(s) */
	AVIOContext *pb;           /* ours, handed to libavformat */
	uint64_t count, max;
	int limit_hit, timed_out;
	int past_deadline;         /* timed out by deadline_ms, not a stall */
	int io_error;              /* a read of the source itself failed */
	int64_t short_at;          /* > 0: an http body ended here, before its size */
	double last_ms, stall_ms;
	double deadline_ms;
	struct vr_spool spool;
};

static int interrupted(void *opaque)
{
	struct src *s = opaque;
	if (vr_stop_requested())
		return 1;
	double now = vr_now_ms();
	/* the deadline first: with a stall timeout as long, it is the reason */
	if (s->deadline_ms > 0 && now >= s->deadline_ms) {
		s->timed_out = s->past_deadline = 1;
		return 1;
	}
	if (s->stall_ms > 0 && now - s->last_ms > s->stall_ms) {
		s->timed_out = 1;
		return 1;
	}
	return 0;
}

/* Wait until fd is readable, checking the watchdog every 250 ms. */
static int wait_readable(struct src *s)
{
	for (;;) {
		if (interrupted(s))
			return AVERROR_EXIT;
		struct pollfd p = {.fd = s->fd, .events = POLLIN};
		int r = poll(&p, 1, 250);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return AVERROR(errno);
	}
}

static int src_read(void *opaque, uint8_t *buf, int size)
{
	struct src *s = opaque;
	int n;
	if (s->ppos < s->plen) {
		size_t left = s->plen - s->ppos;
		n = (size_t)size < left ? size : (int)left;
		memcpy(buf, s->prefix + s->ppos, (size_t)n);
		s->ppos += (size_t)n;
		return n;
	}
	if (s->max) {
		/* read one byte past the limit to know that it was passed */
		uint64_t room = s->max - (s->count < s->max ? s->count : s->max) + 1;
		if ((uint64_t)size > room)
			size = (int)room;
	}
	if (s->inner) {
		n = avio_read_partial(s->inner, buf, size);
		if (n == 0)
			n = avio_feof(s->inner) ? AVERROR_EOF : AVERROR(EAGAIN);
		if (n < 0) {
			if (n != AVERROR_EOF && n != AVERROR_EXIT && n != AVERROR(EAGAIN))
				s->io_error = 1;
			int64_t at = avio_tell(s->inner);
			if (n != AVERROR_EXIT && n != AVERROR(EAGAIN) && s->size > 0 && at >= 0 &&
			    at < s->size) {
				s->short_at = at; /* the body was broken off */
				s->io_error = 1;
			}
			return n;
		}
	} else {
		for (;;) {
			if (!s->seekable) {
				int w = wait_readable(s);
				if (w < 0) {
					s->io_error = w != AVERROR_EXIT;
					return w;
				}
			}
			ssize_t r = read(s->fd, buf, (size_t)size);
			if (r < 0 && errno == EINTR) {
				if (vr_stop_requested())
					return AVERROR_EXIT;
				continue;
			}
			if (r < 0 && errno == EAGAIN)
				continue;
			if (r < 0) {
				s->io_error = 1;
				return AVERROR(errno);
			}
			if (r == 0)
				return AVERROR_EOF;
			n = (int)r;
			break;
		}
	}
	s->count += (uint64_t)n;
	s->last_ms = vr_now_ms();
	if (s->max && s->count > s->max) {
		s->limit_hit = 1;
		return AVERROR(EFBIG);
	}
	return n;
}

static int64_t src_seek(void *opaque, int64_t offset, int whence)
{
	struct src *s = opaque;
	if (whence & AVSEEK_SIZE)
		return s->size >= 0 ? s->size : AVERROR(ENOSYS);
	whence &= ~AVSEEK_FORCE;
	if (s->inner)
		return avio_seek(s->inner, offset, whence);
	off_t r = lseek(s->fd, offset, whence);
	return r < 0 ? AVERROR(errno) : (int64_t)r;
}

/* A demuxer asking to open another file or URL (mov drefs, playlists):
 * never. */
static int deny_io_open(struct AVFormatContext *s, AVIOContext **pb, const char *url, int flags,
			AVDictionary **options)
{
	(void)pb;
	(void)flags;
	(void)options;
	av_log(s, AV_LOG_ERROR, "refusing to open %s from inside the input\n", url);
	return AVERROR(EPERM);
}

static int is_url(const char *s)
{
	return !strncmp(s, "http://", 7) || !strncmp(s, "https://", 8);
}

/* One of the names of f (a comma list) is in list. */
static int format_in(const AVInputFormat *f, const char *list)
{
	char names[128];
	snprintf(names, sizeof names, "%s", f->name);
	char *save = NULL;
	for (char *t = strtok_r(names, ",", &save); t; t = strtok_r(NULL, ",", &save))
		if (av_match_name(t, list))
			return 1;
	return 0;
}

/* Read up to PROBE_BYTES of a pipe into s->prefix; 0 or a vr_status. */
static int read_prefix(struct src *s, char *err, size_t errlen)
{
	s->prefix = av_mallocz(PROBE_BYTES + AVPROBE_PADDING_SIZE);
	if (!s->prefix) {
		snprintf(err, errlen, "out of memory");
		return VR_EFAIL;
	}
	while (s->plen < PROBE_BYTES) {
		int w = wait_readable(s);
		if (w < 0) {
			char dur[32];
			vr_duration_text(s->stall_ms / 1000, dur, sizeof dur);
			if (s->past_deadline)
				snprintf(err, errlen, "the transform ran past its time limit");
			else if (s->timed_out)
				snprintf(err, errlen, "no data for %s", dur);
			else
				snprintf(err, errlen, "interrupted");
			return s->timed_out ? VR_ETIMEOUT : VR_EFAIL;
		}
		ssize_t r = read(s->fd, s->prefix + s->plen, PROBE_BYTES - s->plen);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r < 0) {
			snprintf(err, errlen, "reading input: %s", strerror(errno));
			return VR_EIO;
		}
		if (r == 0)
			break;
		s->plen += (size_t)r;
		s->last_ms = vr_now_ms();
	}
	s->count = s->plen;
	if (s->plen == 0) {
		snprintf(err, errlen, "the input is empty");
		return VR_EDATA;
	}
	return 0;
}

/* The bytes of an http body that does not seek, for the probe and the
 * spool (a vr_spool_reader): the watchdog is the interrupt callback. */
static long inner_read(void *ctx, void *buf, size_t cap, char *err, size_t errlen)
{
	struct src *s = ctx;
	for (;;) {
		int n = avio_read_partial(s->inner, buf, cap > INT_MAX ? INT_MAX : (int)cap);
		if (n > 0) {
			s->last_ms = vr_now_ms();
			return n;
		}
		if (n == 0 && !avio_feof(s->inner))
			continue;
		char e[600];
		if (n == 0 || n == AVERROR_EOF) {
			int64_t at = avio_tell(s->inner);
			if (s->size > 0 && at >= 0 && at < s->size) {
				snprintf(err, errlen, "broken off at byte %lld of %lld", (long long)at,
					 (long long)s->size);
				return -VR_SPOOL_EIO;
			}
			return 0;
		}
		if (s->past_deadline) {
			snprintf(err, errlen, "the transform ran past its time limit");
			return -VR_SPOOL_ETIMEOUT;
		}
		if (s->timed_out || n == AVERROR(ETIMEDOUT)) {
			snprintf(err, errlen, "no data for %s",
				 vr_duration_text(s->stall_ms / 1000, e, sizeof e));
			return -VR_SPOOL_ETIMEOUT;
		}
		if (n == AVERROR_EXIT || vr_stop_requested()) {
			snprintf(err, errlen, "interrupted");
			return -VR_SPOOL_ESTOP;
		}
		snprintf(err, errlen, "reading: %s", vr_av_describe(n, e, sizeof e));
		return -VR_SPOOL_EIO;
	}
}

/* The first bytes of an http body that does not seek into s->prefix. */
static int read_inner_prefix(struct src *s, char *err, size_t errlen)
{
	s->prefix = av_mallocz(PROBE_BYTES + AVPROBE_PADDING_SIZE);
	if (!s->prefix) {
		snprintf(err, errlen, "out of memory");
		return VR_EFAIL;
	}
	while (s->plen < PROBE_BYTES) {
		long n = inner_read(s, s->prefix + s->plen, PROBE_BYTES - s->plen, err, errlen);
		if (n < 0)
			return n == -VR_SPOOL_ETIMEOUT ? VR_ETIMEOUT
			       : n == -VR_SPOOL_ESTOP  ? VR_EFAIL
						       : VR_EIO;
		if (n == 0)
			break;
		s->plen += (size_t)n;
	}
	s->count = s->plen;
	if (s->plen == 0) {
		snprintf(err, errlen, "the input is empty");
		return VR_EDATA;
	}
	return 0;
}

/* s->prefix holds the first bytes of a source that does not seek (a pipe,
 * an http body): a streamable container is read as it comes, anything
 * else (MP4 with its moov at the end) is spooled to a temporary file. */
static int probe_or_spool(struct vr_demux *d, struct src *s, char *err, size_t errlen)
{
	AVProbeData pd = {.filename = "", .buf = s->prefix, .buf_size = (int)s->plen};
	int score = 0;
	const AVInputFormat *f = av_probe_input_format2(&pd, 1, &score);
	if (f && format_in(f, STREAMABLE)) {
		d->is_stream = 1;
		vr_debug("input probes as %s: read as a stream", f->name);
		return 0;
	}
	vr_debug("input probes as %s: spooling to a temporary file", f ? f->name : "unknown");
	int r = s->inner ? vr_spool_read(&s->spool, inner_read, s, s->prefix, s->plen, s->max, err,
					 errlen)
			 : vr_spool_fd(&s->spool, s->fd, s->prefix, s->plen, s->max, s->stall_ms / 1000,
				       err, errlen);
	switch (r) {
	case VR_SPOOL_OK: break;
	case VR_SPOOL_ELIMIT: return VR_ELIMIT;
	case VR_SPOOL_ETIMEOUT: return VR_ETIMEOUT;
	case VR_SPOOL_ESTOP: return VR_EFAIL;
	default: return VR_EIO;
	}
	av_freep(&s->prefix);
	s->plen = s->ppos = 0;
	if (s->inner)
		avio_closep(&s->inner);
	if (s->own_fd)
		close(s->fd);
	s->own_fd = 0;
	s->fd = s->spool.fd;
	s->seekable = 1;
	s->size = (int64_t)s->spool.size;
	s->count = 0;
	s->max = 0; /* already enforced while spooling */
	d->spooled = 1;
	d->is_stream = 0;
	return 0;
}

/* A pipe: probe its first bytes; stream what streams, spool the rest. */
static int open_pipe(struct vr_demux *d, struct src *s, char *err, size_t errlen)
{
	int rc = read_prefix(s, err, errlen);
	if (rc)
		return rc;
	return probe_or_spool(d, s, err, errlen);
}

static void network_init(void) { avformat_network_init(); }

static int open_url(struct vr_demux *d, struct src *s, const char *url, const char *headers,
		    char *err, size_t errlen)
{
	static pthread_once_t net = PTHREAD_ONCE_INIT;
	pthread_once(&net, network_init);
	AVDictionary *o = NULL;
	av_dict_set(&o, "protocol_whitelist", "http,https,tcp,tls", 0);
	if (headers && headers[0])
		av_dict_set(&o, "headers", headers, 0);
	av_dict_set(&o, "user_agent", "vr/" VR_VERSION, 0);
	/* check the peer against the system's CAs, as vr-fetch does: FFmpeg's
	 * default is not to */
	av_dict_set(&o, "tls_verify", "1", 0);
	if (s->stall_ms > 0)
		av_dict_set_int(&o, "rw_timeout", (int64_t)(s->stall_ms * 1000), 0);
	AVIOInterruptCB cb = {interrupted, s};
	int r = avio_open2(&s->inner, url, AVIO_FLAG_READ, &cb, &o);
	av_dict_free(&o);
	if (r < 0) {
		char e[600];
		vr_av_describe(r, e, sizeof e);
		if (s->past_deadline) {
			snprintf(e, sizeof e, "the transform ran past its time limit");
		} else if (s->timed_out || r == AVERROR(ETIMEDOUT)) {
			char dur[32];
			snprintf(e, sizeof e, "no data for %s",
				 vr_duration_text(s->stall_ms / 1000, dur, sizeof dur));
		}
		snprintf(err, errlen, "%s: %s", d->what, e);
		if (r == AVERROR_HTTP_NOT_FOUND || r == AVERROR(ENOENT))
			return VR_ENOTFOUND;
		if (s->timed_out || r == AVERROR(ETIMEDOUT))
			return VR_ETIMEOUT;
		if (r == AVERROR_EXIT)
			return VR_EFAIL;
		return VR_EIO;
	}
	s->seekable = (s->inner->seekable & AVIO_SEEKABLE_NORMAL) != 0;
	s->size = avio_size(s->inner);
	if (s->size < 0)
		s->size = -1;
	/* too large: vr_demux_open says so, before any byte is spooled */
	if (s->seekable || (s->max && s->size >= 0 && (uint64_t)s->size > s->max))
		return 0;
	/* an origin that ignores Range (no Accept-Ranges: bytes): as a pipe */
	char e[512];
	int rc = read_inner_prefix(s, e, sizeof e);
	if (!rc)
		rc = probe_or_spool(d, s, e, sizeof e);
	if (rc)
		snprintf(err, errlen, "%s: %s", d->what, e);
	return rc;
}

static int open_local(struct vr_demux *d, struct src *s, const char *path, const char *root,
		      char *err, size_t errlen)
{
	char real[PATH_MAX];
	int flags = O_RDONLY | O_CLOEXEC;
	if (path && root) {
		/* an origin's local source stays under its root, links resolved */
		char why[1024];
		int rc = vr_origin_confine(root, path, real, why, sizeof why);
		if (rc) {
			snprintf(err, errlen, "%s: %s", path, why);
			return rc;
		}
		path = real;
		flags |= O_NOFOLLOW;
	}
	if (path) {
		s->fd = open(path, flags);
		if (s->fd < 0) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			return errno == ENOENT || errno == ENOTDIR ? VR_ENOTFOUND : VR_EIO;
		}
		s->own_fd = 1;
	} else {
		s->fd = STDIN_FILENO;
	}
	struct stat st;
	if (fstat(s->fd, &st) < 0) {
		snprintf(err, errlen, "%s: %s", d->what, strerror(errno));
		return VR_EIO;
	}
	if (S_ISDIR(st.st_mode)) { /* as vr_open_input says it */
		snprintf(err, errlen, "%s: is a directory", d->what);
		return VR_ENOTFOUND;
	}
	if (root && !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", d->what);
		return VR_ENOTFOUND;
	}
	if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)) {
		s->seekable = 1;
		s->size = S_ISREG(st.st_mode) ? st.st_size : -1;
		return 0;
	}
	return open_pipe(d, s, err, errlen);
}

int vr_demux_open(struct vr_demux *d, const struct vr_demux_opts *o, char *err, size_t errlen)
{
	vr_av_log_setup();
	memset(d, 0, sizeof *d);
	struct src *s = av_mallocz(sizeof *s);
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return VR_EFAIL;
	}
	d->priv = s;
	s->fd = -1;
	s->spool.fd = -1;
	s->size = -1;
	s->max = o->max_bytes;
	s->stall_ms = o->stall_timeout * 1000;
	s->deadline_ms = o->deadline_ms;
	s->last_ms = vr_now_ms();
	const char *in = o->input && strcmp(o->input, "-") ? o->input : NULL;
	snprintf(d->what, sizeof d->what, "%s", in ? in : "stdin");
	if (in && is_url(in)) {
		vr_url_redact(in, d->what, sizeof d->what); /* never print credentials */
	}
	int rc = in && is_url(in) ? open_url(d, s, in, o->headers, err, errlen)
				  : open_local(d, s, in, o->root, err, errlen);
	if (rc)
		return rc;
	d->size = s->size;
	d->seekable = s->seekable;
	if (s->max && s->size >= 0 && (uint64_t)s->size > s->max) {
		snprintf(err, errlen, "%s has %lld bytes, more than the limit of %llu", d->what,
			 (long long)s->size, (unsigned long long)s->max);
		return VR_ELIMIT;
	}

	unsigned char *buf = av_malloc(AVIO_BUFSIZE);
	if (buf)
		s->pb = avio_alloc_context(buf, AVIO_BUFSIZE, 0, s, src_read, NULL,
					   s->seekable ? src_seek : NULL);
	if (!s->pb) {
		av_free(buf);
		snprintf(err, errlen, "out of memory");
		return VR_EFAIL;
	}
	if (!s->seekable)
		s->pb->seekable = 0;
	AVFormatContext *fmt = avformat_alloc_context();
	if (!fmt) {
		snprintf(err, errlen, "out of memory");
		return VR_EFAIL;
	}
	fmt->pb = s->pb;
	fmt->flags |= AVFMT_FLAG_CUSTOM_IO;
	fmt->interrupt_callback.callback = interrupted;
	fmt->interrupt_callback.opaque = s;
	fmt->format_whitelist = av_strdup(VR_DEMUX_FORMATS);
	fmt->protocol_whitelist = av_strdup("none");
	fmt->io_open = deny_io_open;
	/* the name only hints the probe (by extension) */
	int r = avformat_open_input(&fmt, in && !is_url(in) ? in : "", NULL, NULL);
	if (r < 0) {
		int st = vr_demux_status(d, r);
		char e[600];
		snprintf(err, errlen, "%s: %s", d->what,
			 st == VR_EDATA	   ? vr_av_describe(r, e, sizeof e)
			 : s->timed_out ? vr_demux_read_error(d, r, e, sizeof e)
					: av_err2str(r));
		if (st == VR_EDATA && strstr(vr_av_last_error(), "whitelist"))
			snprintf(err, errlen, "%s: not an allowed media format (%s)", d->what,
				 vr_av_last_error());
		return st;
	}
	d->fmt = fmt;
	if (fmt->probe_score < AVPROBE_SCORE_RETRY) {
		snprintf(err, errlen, "%s: not a recognised media format (a guess of %s, score %d)",
			 d->what, fmt->iformat->name, fmt->probe_score);
		return VR_EDATA;
	}
	/* a tiny file may claim a huge picture: the probing decoders must
	 * not allocate it before the caller checks the size against its limit */
	AVDictionary **sopts = NULL;
	unsigned nst = fmt->nb_streams;
	if (o->max_pixels > 0 && nst > 0 && (sopts = av_calloc(nst, sizeof *sopts))) {
		char v[32];
		snprintf(v, sizeof v, "%" PRId64, o->max_pixels < INT_MAX ? o->max_pixels : INT_MAX);
		for (unsigned i = 0; i < nst; i++)
			av_dict_set(&sopts[i], "max_pixels", v, 0);
	}
	r = avformat_find_stream_info(fmt, sopts);
	if (sopts) {
		for (unsigned i = 0; i < nst; i++)
			av_dict_free(&sopts[i]);
		av_freep(&sopts);
	}
	if (r < 0) {
		int st = vr_demux_status(d, r);
		char e[600];
		snprintf(err, errlen, "%s: cannot read stream information: %s", d->what,
			 s->timed_out ? vr_demux_read_error(d, r, e, sizeof e)
				      : vr_av_describe(r, e, sizeof e));
		return st;
	}
	vr_demux_touch(d);
	return 0;
}

void vr_demux_close(struct vr_demux *d)
{
	struct src *s = d->priv;
	if (d->fmt)
		avformat_close_input(&d->fmt);
	if (s) {
		if (s->pb) {
			av_freep(&s->pb->buffer);
			avio_context_free(&s->pb);
		}
		if (s->inner)
			avio_closep(&s->inner);
		if (s->own_fd && s->fd >= 0 && s->fd != s->spool.fd)
			close(s->fd);
		vr_spool_close(&s->spool);
		av_freep(&s->prefix);
		av_freep(&d->priv);
	}
}

void vr_demux_touch(struct vr_demux *d)
{
	struct src *s = d->priv;
	if (s)
		s->last_ms = vr_now_ms();
}

const char *vr_demux_read_error(const struct vr_demux *d, int averr, char *buf, size_t len)
{
	const struct src *s = d->priv;
	if (s && s->timed_out) {
		char dur[32];
		if (s->past_deadline)
			snprintf(buf, len, "the transform ran past its time limit");
		else
			snprintf(buf, len, "no data for %s",
				 vr_duration_text(s->stall_ms / 1000, dur, sizeof dur));
		return buf;
	}
	if (s && s->short_at > 0) {
		snprintf(buf, len, "broken off at byte %lld of %lld", (long long)s->short_at,
			 (long long)s->size);
		return buf;
	}
	return vr_av_describe(averr, buf, len);
}

int vr_demux_status(struct vr_demux *d, int averr)
{
	struct src *s = d->priv;
	if (s && s->limit_hit)
		return VR_ELIMIT;
	if (s && s->timed_out)
		return VR_ETIMEOUT;
	if (averr == AVERROR_EXIT || vr_stop_requested())
		return VR_EFAIL;
	if (averr == AVERROR(ETIMEDOUT))
		return VR_ETIMEOUT;
	/* demuxers (matroska) say EIO of data that ends early: an I/O
	 * failure only when reading the source failed */
	if (averr == AVERROR(EIO) && s && !s->io_error)
		return VR_EDATA;
	if (averr == AVERROR(EIO) || averr == AVERROR(ENOSPC) || averr == AVERROR(ECONNRESET) ||
	    averr == AVERROR(EPIPE) || averr == AVERROR(ECONNREFUSED))
		return VR_EIO;
	if (averr == AVERROR_HTTP_NOT_FOUND)
		return VR_ENOTFOUND;
	return VR_EDATA;
}

uint64_t vr_demux_bytes(const struct vr_demux *d)
{
	const struct src *s = d->priv;
	return s ? (d->spooled ? s->spool.size : s->count) : 0;
}
