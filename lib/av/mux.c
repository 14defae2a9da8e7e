#include "mux.h"
#include "demux.h"
#include "io.h"
#include "lifecycle.h"
#include "log.h"
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

/* ---- the seekable copy: its failures give it up, never the stream ---- */

static void seek_close(struct vr_mux *m)
{
	if (m->seek) {
		if (m->seek->pb)
			avio_closep(&m->seek->pb);
		avformat_free_context(m->seek);
		m->seek = NULL;
	}
	av_packet_free(&m->seek_pkt);
}

static void seek_give_up(struct vr_mux *m, const char *what, int e)
{
	char b[600];
	snprintf(m->seek_err, sizeof m->seek_err, "%s %s: %s", what, m->seek_path,
		 vr_av_describe(e, b, sizeof b));
	vr_debug("the seekable copy is given up: %s", m->seek_err);
	seek_close(m);
}

static void seek_add(struct vr_mux *m, const AVStream *st)
{
	if (!m->seek)
		return;
	AVStream *s = avformat_new_stream(m->seek, NULL);
	int e = s ? avcodec_parameters_copy(s->codecpar, st->codecpar) : AVERROR(ENOMEM);
	if (e < 0) {
		seek_give_up(m, "setting up", e);
		return;
	}
	s->time_base = st->time_base;
	s->avg_frame_rate = st->avg_frame_rate;
}

/* Open path for fmt by name, only the file protocol allowed: MP4 faststart
 * re-opens it by name to move the index up front. */
static int open_file(AVFormatContext *fmt, const char *path)
{
	AVDictionary *po = NULL;
	av_dict_set(&po, "protocol_whitelist", "file", 0);
	int e = avio_open2(&fmt->pb, path, AVIO_FLAG_WRITE, NULL, &po);
	av_dict_free(&po);
	if (e < 0)
		return e;
	av_freep(&fmt->url);
	fmt->url = av_strdup(path);
	fmt->protocol_whitelist = av_strdup("file");
	return fmt->url && fmt->protocol_whitelist ? 0 : AVERROR(ENOMEM);
}

static void seek_start(struct vr_mux *m)
{
	AVDictionary *opts = NULL;
	int e = open_file(m->seek, m->seek_path);
	if (e < 0) {
		seek_give_up(m, "cannot open", e);
		return;
	}
	av_dict_set(&opts, "movflags", "+faststart", 0);
	e = avformat_write_header(m->seek, &opts);
	av_dict_free(&opts);
	if (e < 0)
		seek_give_up(m, "writing the header of", e);
}

static void seek_write(struct vr_mux *m, const AVPacket *pkt)
{
	int i = pkt->stream_index;
	if (i < 0 || (unsigned)i >= m->seek->nb_streams) {
		seek_give_up(m, "writing", AVERROR(EINVAL));
		return;
	}
	/* a reference: the stream's muxer consumes pkt; time bases may differ
	 * (each muxer chose its own in its header) */
	int e = av_packet_ref(m->seek_pkt, pkt);
	if (e >= 0) {
		AVRational from = m->fmt->streams[i]->time_base, to = m->seek->streams[i]->time_base;
		av_packet_rescale_ts(m->seek_pkt, from, to);
		m->seek_pkt->time_base = to;
		e = av_interleaved_write_frame(m->seek, m->seek_pkt);
	}
	av_packet_unref(m->seek_pkt);
	if (e < 0)
		seek_give_up(m, "writing", e);
}

static void seek_finish(struct vr_mux *m)
{
	int e = av_write_trailer(m->seek);
	if (e < 0) {
		seek_give_up(m, "finishing", e);
		return;
	}
	e = avio_closep(&m->seek->pb);
	if (e < 0) {
		seek_give_up(m, "closing", e);
		return;
	}
	seek_close(m);
	m->seek_done = 1;
}

int vr_mux_alloc(struct vr_mux *m, enum vr_format format, int fd, const char *path,
		 const char *seek_path, char *err, size_t errlen)
{
	memset(m, 0, sizeof *m);
	m->fd = fd;
	m->path = path;
	if (avformat_alloc_output_context2(&m->fmt, NULL, muxer_name(format), NULL) < 0) {
		snprintf(err, errlen, "cannot create the %s muxer", muxer_name(format));
		return VR_EFAIL;
	}
	/* a file output is already progressive with its index first */
	if (seek_path && !path && (format == VR_FORMAT_MP4 || format == VR_FORMAT_M4A)) {
		m->seek_path = seek_path;
		m->seek_pkt = av_packet_alloc();
		if (!m->seek_pkt ||
		    avformat_alloc_output_context2(&m->seek, NULL, muxer_name(format), NULL) < 0)
			seek_give_up(m, "setting up", AVERROR(ENOMEM));
	}
	return 0;
}

int vr_mux_global_header(const struct vr_mux *m)
{
	return (m->fmt->oformat->flags & AVFMT_GLOBALHEADER) != 0;
}

int vr_mux_fragmented(const struct vr_mux *m)
{
	return !m->path && strcmp(m->fmt->oformat->name, "webm") != 0;
}

AVStream *vr_mux_add_encoder(struct vr_mux *m, const AVCodecContext *enc)
{
	AVStream *st = avformat_new_stream(m->fmt, NULL);
	if (!st || avcodec_parameters_from_context(st->codecpar, enc) < 0)
		return NULL;
	st->time_base = enc->time_base;
	if (enc->codec_type == AVMEDIA_TYPE_VIDEO)
		st->avg_frame_rate = enc->framerate;
	seek_add(m, st);
	return st;
}

AVStream *vr_mux_add_copy(struct vr_mux *m, const AVCodecParameters *par, AVRational tb)
{
	AVStream *st = avformat_new_stream(m->fmt, NULL);
	if (!st || avcodec_parameters_copy(st->codecpar, par) < 0)
		return NULL;
	st->codecpar->codec_tag = 0;
	st->time_base = tb;
	seek_add(m, st);
	return st;
}

int vr_mux_start(struct vr_mux *m, char *err, size_t errlen)
{
	AVDictionary *opts = NULL;
	char b[600];
	int mp4 = strcmp(m->fmt->oformat->name, "webm") != 0;
	if (m->path) {
		int e = open_file(m->fmt, m->path);
		if (e < 0) {
			snprintf(err, errlen, "cannot open %s: %s", m->path, vr_av_describe(e, b, sizeof b));
			return VR_EIO;
		}
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
		if (mp4) {
			av_dict_set(&opts, "movflags",
				    "+frag_keyframe+empty_moov+default_base_moof+delay_moov", 0);
			/* a fragment at least every half second of media, not only
			 * at keyframes: a streamed answer's first bytes come after
			 * the encoder's lookahead, not after a whole GOP */
			av_dict_set(&opts, "frag_duration", "500000", 0);
			/* and each fragment goes out when it is complete */
			m->fmt->flush_packets = 1;
		}
	}
	int e = avformat_write_header(m->fmt, &opts);
	av_dict_free(&opts);
	if (e < 0)
		return fail(m, e, "writing the output header", err, errlen);
	if (m->seek)
		seek_start(m);
	return 0;
}

int vr_mux_write(struct vr_mux *m, AVPacket *pkt, char *err, size_t errlen)
{
	if (m->seek)
		seek_write(m, pkt);
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
	if (m->pb->error < 0)
		return fail(m, m->pb->error, "writing output", err, errlen);
	/* after the stream's end is out: faststart rewrites the whole file */
	if (m->seek)
		seek_finish(m);
	return 0;
}

void vr_mux_free(struct vr_mux *m)
{
	seek_close(m);
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
