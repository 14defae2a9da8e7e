#include "mux.h"
#include "demux.h"
#include "io.h"
#include "lifecycle.h"
#include "status.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define OUT_BUFSIZE (64 * 1024)

static const char *muxer_name(enum vr_format f)
{
	return f == VR_FORMAT_WEBM ? "webm" : f == VR_FORMAT_M4A ? "ipod" : "mp4";
}

/* Map a write result of lib/base/io; the reader leaving is not an error. */
static int io_result(struct vr_mux *m, int w, size_t n)
{
	if (w == VR_IO_OK) {
		m->bytes += n;
		if (m->on_write)
			m->on_write(m->on_write_arg);
		return 0;
	}
	if (w == VR_IO_EPIPE) {
		m->closed = 1;
		return AVERROR(EPIPE);
	}
	if (w == VR_IO_ESTOP)
		return AVERROR_EXIT;
	return AVERROR(errno ? errno : EIO);
}

static int out_write(void *opaque, uint8_t *buf, int n)
{
	struct vr_mux *m = opaque;
	int e = io_result(m, vr_write_full(m->fd, buf, (size_t)n), (size_t)n);
	return e ? e : n;
}

static int fail(struct vr_mux *m, int e, const char *what, char *err, size_t errlen)
{
	char b[600];
	if (m->closed)
		return 0;
	if (e == AVERROR_EXIT || vr_stop_requested()) {
		snprintf(err, errlen, "interrupted");
		return VR_EFAIL;
	}
	snprintf(err, errlen, "%s: %s", what, vr_av_describe(e, b, sizeof b));
	/* the muxer refusing our packets is a fault in the data we fed it */
	return e == AVERROR(EINVAL) ? VR_EDATA : VR_EIO;
}

int vr_mux_alloc(struct vr_mux *m, enum vr_format format, int fd, const char *path, char *err,
		 size_t errlen)
{
	memset(m, 0, sizeof *m);
	m->fd = fd;
	m->path = path;
	if (avformat_alloc_output_context2(&m->fmt, NULL, muxer_name(format), NULL) < 0) {
		snprintf(err, errlen, "cannot create the %s muxer", muxer_name(format));
		return VR_EFAIL;
	}
	return 0;
}

int vr_mux_global_header(const struct vr_mux *m)
{
	return (m->fmt->oformat->flags & AVFMT_GLOBALHEADER) != 0;
}

AVStream *vr_mux_add_encoder(struct vr_mux *m, const AVCodecContext *enc)
{
	AVStream *st = avformat_new_stream(m->fmt, NULL);
	if (!st || avcodec_parameters_from_context(st->codecpar, enc) < 0)
		return NULL;
	st->time_base = enc->time_base;
	if (enc->codec_type == AVMEDIA_TYPE_VIDEO)
		st->avg_frame_rate = enc->framerate;
	return st;
}

AVStream *vr_mux_add_copy(struct vr_mux *m, const AVCodecParameters *par, AVRational tb)
{
	AVStream *st = avformat_new_stream(m->fmt, NULL);
	if (!st || avcodec_parameters_copy(st->codecpar, par) < 0)
		return NULL;
	st->codecpar->codec_tag = 0;
	st->time_base = tb;
	return st;
}

int vr_mux_start(struct vr_mux *m, char *err, size_t errlen)
{
	AVDictionary *opts = NULL;
	char b[600];
	int mp4 = strcmp(m->fmt->oformat->name, "webm") != 0;
	if (m->path) {
		AVDictionary *po = NULL;
		av_dict_set(&po, "protocol_whitelist", "file", 0);
		int e = avio_open2(&m->fmt->pb, m->path, AVIO_FLAG_WRITE, NULL, &po);
		av_dict_free(&po);
		if (e < 0) {
			snprintf(err, errlen, "cannot open %s: %s", m->path, vr_av_describe(e, b, sizeof b));
			return VR_EIO;
		}
		/* faststart re-opens the file by name to move the index up front */
		av_freep(&m->fmt->url);
		m->fmt->url = av_strdup(m->path);
		m->fmt->protocol_whitelist = av_strdup("file");
		if (mp4)
			av_dict_set(&opts, "movflags", "+faststart", 0);
	} else {
		unsigned char *buf = av_malloc(OUT_BUFSIZE);
		m->pb = buf ? avio_alloc_context(buf, OUT_BUFSIZE, 1, m, NULL, out_write, NULL) : NULL;
		if (!m->pb) {
			av_free(buf);
			snprintf(err, errlen, "out of memory");
			return VR_EFAIL;
		}
		m->pb->seekable = 0;
		m->fmt->pb = m->pb;
		m->fmt->flags |= AVFMT_FLAG_CUSTOM_IO;
		if (mp4)
			av_dict_set(&opts, "movflags",
				    "+frag_keyframe+empty_moov+default_base_moof+delay_moov", 0);
	}
	int e = avformat_write_header(m->fmt, &opts);
	av_dict_free(&opts);
	return e < 0 ? fail(m, e, "writing the output header", err, errlen) : 0;
}

int vr_mux_write(struct vr_mux *m, AVPacket *pkt, char *err, size_t errlen)
{
	int e = av_interleaved_write_frame(m->fmt, pkt);
	return e < 0 ? fail(m, e, "writing output", err, errlen) : 0;
}

int vr_mux_finish(struct vr_mux *m, char *err, size_t errlen)
{
	int e = av_write_trailer(m->fmt);
	if (e < 0)
		return fail(m, e, "finishing the output", err, errlen);
	if (m->path) {
		e = avio_closep(&m->fmt->pb);
		if (e < 0)
			return fail(m, e, "closing the output", err, errlen);
		struct stat sb;
		if (stat(m->path, &sb) == 0)
			m->bytes = (uint64_t)sb.st_size;
		return 0;
	}
	avio_flush(m->pb);
	return m->pb->error < 0 ? fail(m, m->pb->error, "writing output", err, errlen) : 0;
}

void vr_mux_free(struct vr_mux *m)
{
	if (m->fmt) {
		if (m->path && m->fmt->pb)
			avio_closep(&m->fmt->pb);
		avformat_free_context(m->fmt);
		m->fmt = NULL;
	}
	if (m->pb) {
		av_freep(&m->pb->buffer);
		avio_context_free(&m->pb);
	}
}

int vr_mux_write_raw(struct vr_mux *m, const void *buf, size_t n, char *err, size_t errlen)
{
	int e = io_result(m, vr_write_full(m->fd, buf, n), n);
	if (e == 0 || m->closed)
		return 0;
	if (e == AVERROR_EXIT) {
		snprintf(err, errlen, "interrupted");
		return VR_EFAIL;
	}
	snprintf(err, errlen, "writing output: %s", strerror(AVUNERROR(e)));
	return VR_EIO;
}
