#include "transform.h"
#include "s3sign.h"
#include "num.h"
#include "demux.h"
#include "encode.h"
#include "fit.h"
#include "lifecycle.h"
#include "log.h"
#include "metrics.h"
#include "mux.h"
#include "origin.h"
#include "status.h"

#include <libavcodec/avcodec.h>
#include <libavfilter/avfilter.h>
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/display.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CHAIN_MAX 1024
#define MAX_STREAMS 64

struct graph {
	AVFilterGraph *g;
	AVFilterContext *src, *sink;
	int w, h, fmt;          /* video: what the source was configured for */
	AVRational sar;
};

struct run {
	const struct vr_transform_opts *o;
	const struct vr_params *p;
	const struct vr_limits *l;
	struct vr_transform_stats *st;
	char *err;
	size_t errlen;

	struct vr_demux in;
	double stall_timeout;   /* seconds: the watchdog of the source that opened */
	AVFormatContext *ifmt;
	int vi, ai;
	AVStream *vst, *ast;
	AVCodecContext *vdec, *adec;
	int rotation;
	struct vr_geometry geo;
	double in_start;       /* seconds: the input's first timestamp */
	double in_dur;         /* seconds, -1 unknown */
	double expect;         /* seconds of output expected, -1 unknown */

	struct graph vg, ag;
	AVCodecContext *venc, *aenc;
	struct vr_mux mux;
	AVStream *ovst, *oast;
	int audio_copy;
	int64_t v_start, v_end; /* trim in video stream time base (end INT64_MAX: none) */
	int64_t v_from;        /* the first video timestamp kept (v_start, or a little before) */
	int64_t a_start, a_end; /* in audio stream time base */
	int video_done, audio_done;
	int64_t last_vpts;     /* last video pts sent to the encoder */
	int64_t next_vpts;     /* guess for frames without timestamps */
	int vframes_sent;
	int64_t aframes;       /* audio frames sent to the encoder */
	int apts_known;        /* next_apts holds: a frame with a timestamp came */
	int64_t aprime;        /* fragmented MP4: audio frames before this pts are dropped */
	int64_t next_apts;     /* where the next audio frame should start */
	int64_t ts_offset;     /* AV_TIME_BASE: added to input timestamps (discontinuities) */
	int64_t last_dts[MAX_STREAMS]; /* AV_TIME_BASE: last input dts per stream, offset applied */
	double out_sec;        /* output position, seconds */

	AVPacket *pkt;
	AVFrame *frame, *filt;

	double t0, prog_last;
	int prog_shown;
};

static int fail(struct run *r, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(struct run *r, int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->err, r->errlen, fmt, ap);
	va_end(ap);
	return status;
}

static const char *averr(int e, char *buf, size_t len) { return vr_av_describe(e, buf, len); }

/* ---- progress ---- */

static void clock_text(char *buf, size_t len, double s)
{
	if (s < 0) {
		snprintf(buf, len, "--:--:--");
		return;
	}
	s = round(s * 10) / 10; /* so that 59.96 s shows as 00:01:00.0, not 00:00:60.0 */
	int h = (int)(s / 3600), m = (int)fmod(s / 60, 60);
	snprintf(buf, len, "%02d:%02d:%04.1f", h, m, fmod(s, 60));
}

/* "vr-resize:  45%  00:00:04.5 / 00:00:10.0  120.0 fps  2.3x  ETA 0:05":
 * the output position of the expected length (percent and ETA only when
 * that is known), video frames encoded per second of wall time, and the
 * speed. On a terminal the line is rewritten in place; elsewhere
 * (--progress into a file) each update is a line of its own. */
/* final: 0 while running, 1 the last line, 2 the last line of a success */
static void progress(struct run *r, int final)
{
	if (!r->o->progress)
		return;
	double now = vr_now_ms();
	if (!final && now - r->prog_last < 500)
		return;
	r->prog_last = now;
	double el = (now - r->t0) / 1000;
	double speed = el > 0 ? r->out_sec / el : 0.0;
	char a[32], b[32], pct[16] = "", fps[32] = "", eta[32];
	clock_text(a, sizeof a, r->out_sec);
	clock_text(b, sizeof b, r->expect);
	if (r->expect > 0) {
		/* 2: the end of a run that succeeded (its last frame starts
		 * before the expected end) */
		double f = final == 2 || r->out_sec >= r->expect ? 1 : r->out_sec / r->expect;
		snprintf(pct, sizeof pct, "%3d%%  ", (int)(f * 100));
	}
	if (r->vframes_sent > 0 && el > 0)
		snprintf(fps, sizeof fps, "  %.1f fps", r->vframes_sent / el);
	if (final == 2)
		snprintf(eta, sizeof eta, "ETA 0:00");
	else if (r->expect > 0 && speed > 0) {
		long left = lround((r->expect > r->out_sec ? r->expect - r->out_sec : 0) / speed);
		if (left >= 3600)
			snprintf(eta, sizeof eta, "ETA %ld:%02ld:%02ld", left / 3600, left / 60 % 60,
				 left % 60);
		else
			snprintf(eta, sizeof eta, "ETA %ld:%02ld", left / 60, left % 60);
	} else
		snprintf(eta, sizeof eta, "ETA --:--");
	int tty = isatty(STDERR_FILENO);
	fprintf(stderr, "%s%s: %s%s / %s%s  %.1fx  %s%s", tty ? "\r" : "", vr_prog(), pct, a, b,
		fps, speed, eta, tty ? "\033[K" : "\n");
	if (final && tty)
		fputc('\n', stderr);
	fflush(stderr);
	r->prog_shown = 1;
}

/* ---- output (lib/av/mux) ---- */

static void touch_input(void *demux) { vr_demux_touch(demux); }

/* The reader leaving sets output_closed and is not an error. */
static int mux_result(struct run *r, int rc)
{
	r->st->output_closed = r->mux.closed;
	r->st->bytes_out = r->mux.bytes;
	return rc;
}

static int mux_alloc(struct run *r)
{
	int rc = vr_mux_alloc(&r->mux, r->p->format, r->o->out_fd, r->o->out_path, r->o->seekable_path,
			      r->err, r->errlen);
	r->mux.on_write = touch_input;
	r->mux.on_write_arg = &r->in;
	return rc;
}

static int mux_open(struct run *r) { return mux_result(r, vr_mux_start(&r->mux, r->err, r->errlen)); }

static int mux_packet(struct run *r, AVPacket *pkt)
{
	return mux_result(r, vr_mux_write(&r->mux, pkt, r->err, r->errlen));
}

static int mux_finish(struct run *r) { return mux_result(r, vr_mux_finish(&r->mux, r->err, r->errlen)); }

static int write_picture(struct run *r, const AVPacket *pkt)
{
	r->mux.fd = r->o->out_fd;
	return mux_result(r, vr_mux_write_raw(&r->mux, pkt->data, (size_t)pkt->size, r->err, r->errlen));
}

/* ---- encoders ---- */

static int encode(struct run *r, AVCodecContext *enc, AVStream *ost, AVFrame *f)
{
	char b[600];
	int e = avcodec_send_frame(enc, f);
	if (e < 0 && e != AVERROR_EOF)
		return fail(r, VR_EFAIL, "encoding with %s: %s", enc->codec->name, averr(e, b, sizeof b));
	for (;;) {
		e = avcodec_receive_packet(enc, r->pkt);
		if (e == AVERROR(EAGAIN) || e == AVERROR_EOF)
			return 0;
		if (e < 0)
			return fail(r, VR_EFAIL, "encoding with %s: %s", enc->codec->name,
				    averr(e, b, sizeof b));
		r->pkt->stream_index = ost->index;
		av_packet_rescale_ts(r->pkt, enc->time_base, ost->time_base);
		e = mux_packet(r, r->pkt);
		if (e || r->st->output_closed)
			return e;
	}
}

/* ---- filter graphs ---- */

static void graph_free(struct graph *g)
{
	avfilter_graph_free(&g->g);
	g->src = g->sink = NULL;
}

static int graph_build(struct run *r, struct graph *g, int audio, const char *src_args,
		       const char *chain)
{
	char b[600];
	graph_free(g);
	g->g = avfilter_graph_alloc();
	if (!g->g)
		return fail(r, VR_EFAIL, "out of memory");
	int e = avfilter_graph_create_filter(&g->src, avfilter_get_by_name(audio ? "abuffer" : "buffer"),
					     "in", src_args, NULL, g->g);
	if (e >= 0)
		e = avfilter_graph_create_filter(
			&g->sink, avfilter_get_by_name(audio ? "abuffersink" : "buffersink"), "out", NULL,
			NULL, g->g);
	AVFilterInOut *outs = avfilter_inout_alloc(), *ins = avfilter_inout_alloc();
	if (e >= 0 && (!outs || !ins))
		e = AVERROR(ENOMEM);
	if (e >= 0) {
		outs->name = av_strdup("in");
		outs->filter_ctx = g->src;
		ins->name = av_strdup("out");
		ins->filter_ctx = g->sink;
		e = avfilter_graph_parse_ptr(g->g, chain, &ins, &outs, NULL);
	}
	avfilter_inout_free(&ins);
	avfilter_inout_free(&outs);
	if (e >= 0)
		e = avfilter_graph_config(g->g, NULL);
	if (e < 0)
		return fail(r, VR_EFAIL, "cannot set up the filters '%s': %s", chain,
			    averr(e, b, sizeof b));
	vr_debug("%s filters: %s", audio ? "audio" : "video", chain);
	return 0;
}

static int video_graph(struct run *r, struct graph *g, int w, int h, int fmt, AVRational sar,
		       const char *head, const char *tail)
{
	char args[256], chain[CHAIN_MAX], fit[512];
	AVRational tb = r->vst->time_base;
	snprintf(args, sizeof args, "video_size=%dx%d:pix_fmt=%d:time_base=%d/%d:pixel_aspect=%d/%d",
		 w, h, fmt, tb.num, tb.den, sar.num > 0 ? sar.num : 1, sar.den > 0 ? sar.den : 1);
	/* a later frame of another size is scaled to the size chosen first */
	struct vr_geometry geo = r->geo;
	if (w != r->vdec->width || h != r->vdec->height) {
		geo.crop = geo.pad = 0;
		geo.scale_w = geo.out_w;
		geo.scale_h = geo.out_h;
	}
	vr_fit_filters(&geo, fit, sizeof fit);
	snprintf(chain, sizeof chain, "%s%s%s", head, fit, tail);
	g->w = w;
	g->h = h;
	g->fmt = fmt;
	g->sar = sar;
	return graph_build(r, g, 0, args, chain);
}

/* ---- input ---- */

static int open_decoder(struct run *r, AVStream *st, AVCodecContext **dec)
{
	char b[600];
	const AVCodec *c = avcodec_find_decoder(st->codecpar->codec_id);
	if (!c)
		return fail(r, VR_EDATA, "%s: no decoder for %s", r->in.what,
			    avcodec_get_name(st->codecpar->codec_id));
	*dec = avcodec_alloc_context3(c);
	if (!*dec)
		return fail(r, VR_EFAIL, "out of memory");
	int e = avcodec_parameters_to_context(*dec, st->codecpar);
	if (e < 0)
		return fail(r, VR_EDATA, "%s: %s", r->in.what, averr(e, b, sizeof b));
	(*dec)->pkt_timebase = st->time_base;
	/* a picture past the limit is refused before it is allocated */
	if (r->l->max_input_pixels > 0)
		(*dec)->max_pixels = r->l->max_input_pixels < INT_MAX ? r->l->max_input_pixels : INT_MAX;
	(*dec)->thread_count = 0;
	(*dec)->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
	vr_av_error_attach(*dec);
	e = avcodec_open2(*dec, c, NULL);
	if (e < 0)
		return fail(r, VR_EDATA, "%s: cannot open the %s decoder: %s", r->in.what, c->name,
			    averr(e, b, sizeof b));
	return 0;
}

static int open_input(struct run *r, int want_video, int want_audio)
{
	struct vr_demux_opts dopts = {
		.input = r->o->input,
		.max_bytes = r->l->max_input_bytes,
		.max_pixels = r->l->max_input_pixels,
		.stall_timeout = r->o->stall_timeout,
		.deadline_ms = r->o->deadline_ms,
	};
	const struct vr_resolved *rs = r->o->sources;
	size_t n = rs ? rs->n : 1;
	int rc = VR_ENOTFOUND;
	for (size_t i = 0; i < n; i++) {
		char *hdrs = NULL, *url = NULL;
		if (rs) {
			const struct vr_source *src = &rs->src[i];
			dopts.input = src->kind == VR_SOURCE_STDIN ? NULL : src->location;
			dopts.root = src->root;
			dopts.stall_timeout = src->timeout;
			/* credentials are read only when a request is made; an S3
			 * source is signed now (lib/request/s3sign) */
			if (src->kind == VR_SOURCE_HTTP &&
			    (rc = vr_source_request(src, "GET", time(NULL), &url, &hdrs, r->err, r->errlen)))
				break;
			if (url)
				dopts.input = url;
			dopts.headers = hdrs;
		}
		if (i > 0)
			vr_demux_close(&r->in);
		rc = vr_demux_open(&r->in, &dopts, r->err, r->errlen);
		if (rc && rs && rs->src[i].s3 && strstr(r->err, "HTTP 403")) {
			/* say what a 403 from a signed source means */
			char shown[1024], why[512];
			snprintf(r->err, r->errlen, "%s: %s",
				 vr_url_redact(rs->src[i].location, shown, sizeof shown),
				 vr_s3_rejected_text(rs->origin, why, sizeof why));
		}
		if (hdrs)
			explicit_bzero(hdrs, strlen(hdrs));
		free(hdrs);
		free(url);
		dopts.headers = NULL;
		r->stall_timeout = dopts.stall_timeout;
		if (rc != VR_ENOTFOUND && rc != VR_EIO && rc != VR_ETIMEOUT)
			break;
		if (i + 1 < n)
			vr_info("%s; trying the next source", r->err);
	}
	r->st->spooled = r->in.spooled;
	snprintf(r->st->source, sizeof r->st->source, "%s", r->in.what);
	if (rc)
		return rc;
	r->ifmt = r->in.fmt;
	snprintf(r->st->in_format, sizeof r->st->in_format, "%s", r->ifmt->iformat->name);
	r->in_start = r->ifmt->start_time != AV_NOPTS_VALUE ? r->ifmt->start_time / (double)AV_TIME_BASE : 0;
	r->in_dur = r->ifmt->duration > 0 ? r->ifmt->duration / (double)AV_TIME_BASE : -1;
	/* Matroska's Duration counts from the segment's 0, which libavformat
	 * passes on: with timestamps from 10 s (-output_ts_offset) it is the
	 * end time, 13 s for 3 s of data, which the truncation check took for
	 * the length. The length is what comes after the start. */
	if (r->in_dur > r->in_start && r->in_start > 0 &&
	    !strcmp(r->ifmt->iformat->name, "matroska,webm"))
		r->in_dur -= r->in_start;
	r->st->in_duration = r->in_dur;
	r->vi = r->ai = -1;
	for (unsigned i = 0; i < r->ifmt->nb_streams; i++)
		r->ifmt->streams[i]->discard = AVDISCARD_ALL;
	if (want_video) {
		int vi = av_find_best_stream(r->ifmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
		if (vi >= 0 && !(r->ifmt->streams[vi]->disposition & AV_DISPOSITION_ATTACHED_PIC))
			r->vi = vi;
		if (r->vi < 0)
			return fail(r, VR_EDATA, "%s: no video stream", r->in.what);
		r->vst = r->ifmt->streams[r->vi];
		r->vst->discard = AVDISCARD_DEFAULT;
		AVCodecParameters *cp = r->vst->codecpar;
		r->st->in_width = cp->width;
		r->st->in_height = cp->height;
		snprintf(r->st->in_codec, sizeof r->st->in_codec, "%s", avcodec_get_name(cp->codec_id));
		if (cp->width <= 0 || cp->height <= 0)
			return fail(r, VR_EDATA, "%s: the video stream has no picture size", r->in.what);
		if ((int64_t)cp->width * cp->height > r->l->max_input_pixels)
			return fail(r, VR_ELIMIT, "%s: input picture %dx%d is larger than the limit of %" PRId64 " pixels",
				    r->in.what, cp->width, cp->height, r->l->max_input_pixels);
		r->rotation = vr_fit_rotation(
			(const int32_t *)av_stream_get_side_data(r->vst, AV_PKT_DATA_DISPLAYMATRIX, NULL));
		rc = open_decoder(r, r->vst, &r->vdec);
		if (rc)
			return rc;
	}
	if (want_audio) {
		int ai = av_find_best_stream(r->ifmt, AVMEDIA_TYPE_AUDIO, -1, r->vi, NULL, 0);
		if (ai >= 0) {
			r->ai = ai;
			r->ast = r->ifmt->streams[ai];
			r->ast->discard = AVDISCARD_DEFAULT;
			snprintf(r->st->in_audio_codec, sizeof r->st->in_audio_codec, "%s",
				 avcodec_get_name(r->ast->codecpar->codec_id));
		}
	}
	return 0;
}

/* Output geometry from the input and params; checks the output limit. */
static int plan_geometry(struct run *r, int box_w, int box_h, int even, int tile, int64_t mult)
{
	AVRational sar = r->vst->sample_aspect_ratio.num ? r->vst->sample_aspect_ratio
							 : r->vdec->sample_aspect_ratio;
	if (vr_fit_compute(&r->geo, r->vdec->width, r->vdec->height, sar.num, sar.den, r->rotation,
			   box_w, box_h, r->p->fit, even, tile) < 0)
		return fail(r, VR_EDATA, "%s: unusable picture size %dx%d", r->in.what, r->vdec->width,
			    r->vdec->height);
	int64_t px = (int64_t)r->geo.out_w * r->geo.out_h * mult;
	if (px > r->l->max_output_pixels)
		return fail(r, VR_ELIMIT, "output of %" PRId64 " pixels is larger than the limit of %" PRId64,
			    px, r->l->max_output_pixels);
	r->st->out_width = r->geo.out_w;
	r->st->out_height = r->geo.out_h;
	return 0;
}

/* time/duration against the input; the duration limit up front when known */
static int plan_times(struct run *r)
{
	const struct vr_params *p = r->p;
	if (r->in_dur >= 0 && p->time > 0 && p->time >= r->in_dur)
		return fail(r, VR_EDATA, "time %.3gs is past the end of the input (%.3gs)", p->time,
			    r->in_dur);
	double left = r->in_dur >= 0 ? r->in_dur - p->time : -1;
	r->expect = p->duration >= 0 ? (left >= 0 && left < p->duration ? left : p->duration) : left;
	if (r->expect > r->l->max_duration)
		return fail(r, VR_ELIMIT, "output of %.1f s is longer than the limit of %.0f s", r->expect,
			    r->l->max_duration);
	return 0;
}

/* ---- the packet pump ---- */

typedef int (*frame_fn)(struct run *r, AVFrame *f);

static int decode_packet(struct run *r, AVCodecContext *dec, const AVPacket *pkt, frame_fn fn)
{
	int e = avcodec_send_packet(dec, pkt);
	if (e < 0 && e != AVERROR_EOF) {
		if (e == AVERROR(ENOMEM))
			return fail(r, VR_EFAIL, "out of memory");
		/* a damaged packet: skip it as the ffmpeg command does */
		vr_debug("decoding a packet: %s", av_err2str(e));
		if (!pkt)
			return 0;
	}
	for (;;) {
		e = avcodec_receive_frame(dec, r->frame);
		if (e == AVERROR(EAGAIN) || e == AVERROR_EOF)
			return 0;
		if (e < 0) {
			vr_debug("decoding: %s", av_err2str(e));
			if (e == AVERROR(ENOMEM))
				return fail(r, VR_EFAIL, "out of memory");
			continue;
		}
		int rc = fn(r, r->frame);
		av_frame_unref(r->frame);
		if (rc || r->st->output_closed)
			return rc;
	}
}

static int check_stop(struct run *r)
{
	if (vr_stop_requested())
		return fail(r, VR_EFAIL, "interrupted");
	if (r->o->deadline_ms > 0 && vr_now_ms() > r->o->deadline_ms)
		return fail(r, VR_ETIMEOUT, "the transform ran past its time limit");
	return 0;
}

/* ---- video mode ---- */

static int video_drain(struct run *r)
{
	for (;;) {
		int e = av_buffersink_get_frame(r->vg.sink, r->filt);
		if (e == AVERROR(EAGAIN) || e == AVERROR_EOF)
			return 0;
		if (e < 0) {
			char b[600];
			return fail(r, VR_EFAIL, "filtering video: %s", averr(e, b, sizeof b));
		}
		AVFrame *f = r->filt;
		/* the first frame after a cut may sit a little after the cut
		 * point (or a millisecond before, see plan_trim): start it at
		 * 0 so the output begins with a picture */
		if (r->vframes_sent == 0 && f->pts != 0 &&
		    fabs(f->pts * av_q2d(r->venc->time_base)) < 0.5)
			f->pts = 0;
		if (r->vframes_sent > 0 && f->pts <= r->last_vpts)
			f->pts = r->last_vpts + 1;
		r->last_vpts = f->pts;
		r->vframes_sent++;
		f->pict_type = AV_PICTURE_TYPE_NONE;
		double t = f->pts * av_q2d(r->venc->time_base);
		if (t > r->l->max_duration) {
			av_frame_unref(f);
			return fail(r, VR_ELIMIT, "output passed the duration limit of %.0f s",
				    r->l->max_duration);
		}
		if (t > r->out_sec)
			r->out_sec = t;
		r->st->frames_out++;
		int rc = encode(r, r->venc, r->ovst, f);
		av_frame_unref(f);
		if (rc || r->st->output_closed)
			return rc;
		progress(r, 0);
	}
}

/* What comes before the geometry (the cut and the shift to 0, in the
 * input's time base, the same for every graph of the run) and after it
 * (frame rate, the encoder's pixel format). */
static void video_chain_ends(struct run *r, char *head, size_t hl, char *tail, size_t tl)
{
	char end[64] = "";
	if (r->v_end != INT64_MAX)
		snprintf(end, sizeof end, ":end_pts=%" PRId64, r->v_end);
	snprintf(head, hl, "trim=start_pts=%" PRId64 "%s,setpts=PTS-%" PRId64 ",", r->v_from, end,
		 r->v_start);
	const char *pf = av_get_pix_fmt_name(vr_encode_video_pix_fmt(r->p->format));
	if (r->p->fps_num > 0) /* the exact rational: 30000/1001 stays itself */
		snprintf(tail, tl, ",fps=fps=%d/%d,format=%s", r->p->fps_num, r->p->fps_den, pf);
	else
		snprintf(tail, tl, ",format=%s", pf);
}

static int video_frame(struct run *r, AVFrame *f)
{
	f->pts = f->best_effort_timestamp;
	if (f->pts == AV_NOPTS_VALUE)
		f->pts = r->next_vpts;
	r->next_vpts = f->pts + (f->pkt_duration > 0 ? f->pkt_duration : 1);
	r->st->frames_in++;
	if (r->video_done)
		return 0;
	if (f->pts >= r->v_end) {
		r->video_done = 1;
		return 0;
	}
	if ((int64_t)f->width * f->height > r->l->max_input_pixels)
		return fail(r, VR_ELIMIT, "input picture %dx%d is larger than the limit", f->width,
			    f->height);
	if (f->width != r->vg.w || f->height != r->vg.h || f->format != r->vg.fmt) {
		/* the stream changed size or format: drain and rebuild */
		vr_info("input picture changed to %dx%d %s", f->width, f->height,
			av_get_pix_fmt_name(f->format));
		int e = av_buffersrc_add_frame(r->vg.src, NULL);
		int rc = e < 0 ? fail(r, VR_EFAIL, "flushing the filters") : video_drain(r);
		if (rc)
			return rc;
		char head[256], tail[128];
		/* the same trim and shift: timestamps are absolute */
		video_chain_ends(r, head, sizeof head, tail, sizeof tail);
		rc = video_graph(r, &r->vg, f->width, f->height, f->format, f->sample_aspect_ratio,
				 head, tail);
		if (rc)
			return rc;
	}
	int e = av_buffersrc_add_frame_flags(r->vg.src, f, AV_BUFFERSRC_FLAG_KEEP_REF);
	if (e < 0) {
		char b[600];
		return fail(r, VR_EFAIL, "filtering video: %s", averr(e, b, sizeof b));
	}
	return video_drain(r);
}

static int audio_drain(struct run *r)
{
	for (;;) {
		int e = av_buffersink_get_frame(r->ag.sink, r->filt);
		if (e == AVERROR(EAGAIN) || e == AVERROR_EOF)
			return 0;
		if (e < 0) {
			char b[600];
			return fail(r, VR_EFAIL, "filtering audio: %s", averr(e, b, sizeof b));
		}
		/* timestamps that go back (a damaged or concatenated input)
		 * would make the muxer fail: audio just continues */
		if (r->apts_known && r->filt->pts < r->next_apts)
			r->filt->pts = r->next_apts;
		r->apts_known = r->filt->pts != AV_NOPTS_VALUE;
		r->next_apts = r->filt->pts + r->filt->nb_samples;
		/* The encoder's priming (AAC: 1024 samples) puts its first
		 * packet that far before its first sample. A progressive MP4
		 * hides it with an edit list, but readers of a fragmented one
		 * ignore edit lists: the audio would start before 0 there, and
		 * a player or ffmpeg shifts the whole timeline by that odd
		 * amount, which lands video frames half a frame off their
		 * grid, two of them on one timestamp. Drop the frames that
		 * start within the priming instead (exact sync; the first few
		 * tens of ms of sound give way). */
		if (r->apts_known && r->filt->pts < r->aprime) {
			av_frame_unref(r->filt);
			continue;
		}
		double t = r->filt->pts * av_q2d(r->aenc->time_base);
		if (t > r->l->max_duration) {
			av_frame_unref(r->filt);
			return fail(r, VR_ELIMIT, "output passed the duration limit of %.0f s",
				    r->l->max_duration);
		}
		if (!r->venc && t > r->out_sec)
			r->out_sec = t;
		r->aframes++;
		int rc = encode(r, r->aenc, r->oast, r->filt);
		av_frame_unref(r->filt);
		if (rc || r->st->output_closed)
			return rc;
		if (!r->venc)
			progress(r, 0);
	}
}

static int audio_frame(struct run *r, AVFrame *f)
{
	f->pts = f->best_effort_timestamp;
	if (r->audio_done)
		return 0;
	if (f->pts != AV_NOPTS_VALUE && f->pts >= r->a_end) {
		r->audio_done = 1;
		return 0;
	}
	int e = av_buffersrc_add_frame_flags(r->ag.src, f, AV_BUFFERSRC_FLAG_KEEP_REF);
	if (e < 0) {
		char b[600];
		/* a layout or rate change mid-stream: not worth a rebuild */
		return fail(r, VR_EDATA, "%s: audio changed format mid-stream: %s", r->in.what,
			    averr(e, b, sizeof b));
	}
	return audio_drain(r);
}

static int setup_audio_chain(struct run *r)
{
	char args[512], chain[CHAIN_MAX], layout[128];
	AVCodecContext *d = r->adec;
	AVChannelLayout in_l = { 0 }; /* _copy() uninits its destination first */
	if (d->ch_layout.order == AV_CHANNEL_ORDER_NATIVE)
		av_channel_layout_copy(&in_l, &d->ch_layout);
	else
		av_channel_layout_default(&in_l, d->ch_layout.nb_channels > 0 ? d->ch_layout.nb_channels : 2);
	av_channel_layout_describe(&in_l, layout, sizeof layout);
	av_channel_layout_uninit(&in_l);
	AVRational tb = r->ast->time_base;
	snprintf(args, sizeof args, "time_base=%d/%d:sample_rate=%d:sample_fmt=%s:channel_layout=%s",
		 tb.num, tb.den, d->sample_rate, av_get_sample_fmt_name(d->sample_fmt), layout);
	char out_layout[128];
	av_channel_layout_describe(&r->aenc->ch_layout, out_layout, sizeof out_layout);
	/* atrim's *_pts options count samples, not time base units: give
	 * seconds (to the microsecond) */
	char end[64] = "";
	if (r->a_end != INT64_MAX)
		snprintf(end, sizeof end, ":end=%.6f", r->a_end * av_q2d(tb));
	snprintf(chain, sizeof chain,
		 "atrim=start=%.6f%s,asetpts=PTS-%" PRId64 ",aresample=%d,"
		 "aformat=sample_fmts=%s:channel_layouts=%s",
		 r->a_start * av_q2d(tb), end, r->a_start, r->aenc->sample_rate,
		 av_get_sample_fmt_name(r->aenc->sample_fmt), out_layout);
	int rc = graph_build(r, &r->ag, 1, args, chain);
	if (rc)
		return rc;
	if (r->aenc->frame_size > 0 &&
	    !(r->aenc->codec->capabilities & AV_CODEC_CAP_VARIABLE_FRAME_SIZE))
		av_buffersink_set_frame_size(r->ag.sink, (unsigned)r->aenc->frame_size);
	return 0;
}

static int64_t to_tb(double s, AVRational tb) { return llrint(s / av_q2d(tb)); }

/* Where the output's 0 is, in input seconds: the first picture when it
 * comes a little after the input's first timestamp, else that timestamp.
 * Opus in WebM starts a few ms before the video (its pre-skip); were the
 * input's start the 0, the first frame would sit that far after it and be
 * pulled to 0 (video_drain), one long first frame: the irregular start
 * makes readers of a fragmented MP4 (which has no frame rate in its
 * header) guess the rate wrong, 95/4 for 24000/1001, and ffmpeg then
 * lands two frames on one timestamp. The audio before the first picture
 * is cut instead, so both streams start together on the video's cadence.
 * Audio that starts much earlier (half a second or more) is kept, as the
 * picture would have been pulled no further. */
static double origin(struct run *r)
{
	if (!r->vst || r->vst->start_time == AV_NOPTS_VALUE)
		return r->in_start;
	double v = r->vst->start_time * av_q2d(r->vst->time_base);
	return v > r->in_start && v - r->in_start < 0.5 ? v : r->in_start;
}

/* The duration of a frame of a video stream of constant rate, in seconds;
 * 0 when the rate is unknown or varies. */
static double frame_step(const AVStream *s)
{
	AVRational fr = s->r_frame_rate, avg = s->avg_frame_rate;
	if (fr.num <= 0 || fr.den <= 0)
		return 0;
	if (avg.num > 0 && avg.den > 0 && fabs(av_q2d(avg) / av_q2d(fr) - 1) > 0.001)
		return 0;
	return av_q2d(av_inv_q(fr));
}

/* Trim points of both streams, from one absolute start, so A/V stay in sync. */
static void plan_trim(struct run *r)
{
	double start = origin(r) + r->p->time;
	/* A cut between two frames would leave the first one late and pulled
	 * to 0 (video_drain), the same irregular start as origin() avoids:
	 * at a constant frame rate the cut moves on to the next frame's time,
	 * within a millisecond (timestamps in ms are rounded), and the audio
	 * is cut there too. */
	double step = r->vst && r->p->time > 0 ? frame_step(r->vst) : 0;
	int64_t v_from = INT64_MIN;
	if (step > 0) {
		start = origin(r) + ceil(r->p->time / step - 0.02) * step;
		v_from = to_tb(start - 0.001, r->vst->time_base);
	}
	double end = r->p->duration >= 0 ? start + r->p->duration : -1;
	r->v_end = r->a_end = INT64_MAX;
	if (r->vst) {
		r->v_start = to_tb(start, r->vst->time_base);
		r->v_from = v_from != INT64_MIN && v_from < r->v_start ? v_from : r->v_start;
		if (end >= 0)
			r->v_end = to_tb(end, r->vst->time_base);
	}
	if (r->ast) {
		r->a_start = to_tb(start, r->ast->time_base);
		if (end >= 0)
			r->a_end = to_tb(end, r->ast->time_base);
	}
}

static void seek_to_start(struct run *r)
{
	if (r->p->time <= 0 || !r->in.seekable)
		return;
	/* Matroska stores times unsigned: in a file whose timestamps start
	 * before 0 (a -ss cut kept as it was) the demuxer's index is empty or
	 * wrong, and its seek fails having read to the end, where nothing is
	 * left to decode (the ffmpeg command's -ss outputs nothing). Such a
	 * file is decoded from the start. */
	if (r->in_start < 0 && !strcmp(r->ifmt->iformat->name, "matroska,webm"))
		return;
	/* where plan_trim starts (it runs first) */
	int64_t ts = r->vst ? av_rescale_q(r->v_from, r->vst->time_base, AV_TIME_BASE_Q)
			    : av_rescale_q(r->a_start, r->ast->time_base, AV_TIME_BASE_Q);
	int e = avformat_seek_file(r->ifmt, -1, INT64_MIN, ts, ts, 0);
	if (e < 0) {
		vr_debug("seek to %.3f s failed (%s): decoding from the start", r->p->time, av_err2str(e));
		return;
	}
	r->st->seeks++;
	if (r->vdec)
		avcodec_flush_buffers(r->vdec);
	if (r->adec)
		avcodec_flush_buffers(r->adec);
}

/* At a clean end of a seekable input that declares its duration: did the
 * data cover it? A cut file often reads to a silent EOF. */
static int check_truncated(struct run *r, double reached)
{
	if (!r->in.seekable || r->in_dur < 0 || r->video_done || r->audio_done)
		return 0;
	double want = r->in_start + (r->p->duration >= 0 && r->p->time + r->p->duration < r->in_dur
					     ? r->p->time + r->p->duration
					     : r->in_dur);
	if (reached < want - 1.0 - 0.05 * (want - r->in_start))
		return fail(r, VR_EDATA, "%s: the data ends at %.1f s of the %.1f s it declares (truncated?)",
			    r->in.what, reached - r->in_start, r->in_dur);
	return 0;
}

/* MPEG-TS and the like may jump in time (a concatenation, a wrap): keep
 * one timeline by shifting everything after a jump so that it continues
 * where it was, as the ffmpeg command does. */
static void fix_discontinuity(struct run *r, AVStream *s, AVPacket *pkt)
{
	if (!(r->ifmt->iformat->flags & AVFMT_TS_DISCONT) || pkt->dts == AV_NOPTS_VALUE ||
	    pkt->stream_index >= MAX_STREAMS)
		return;
	int64_t *last = &r->last_dts[pkt->stream_index];
	int64_t off = av_rescale_q(r->ts_offset, AV_TIME_BASE_Q, s->time_base);
	int64_t dts = av_rescale_q(pkt->dts + off, s->time_base, AV_TIME_BASE_Q);
	/* forward: more than 10 s; backward: more than 1 s (reordering never
	 * goes that far back) */
	if (*last != AV_NOPTS_VALUE &&
	    (dts - *last > 10 * (int64_t)AV_TIME_BASE || *last - dts > (int64_t)AV_TIME_BASE)) {
		int64_t step = pkt->duration > 0 ? av_rescale_q(pkt->duration, s->time_base, AV_TIME_BASE_Q)
						 : AV_TIME_BASE / 100;
		vr_info("input timestamps jump by %.1f s: continuing the timeline",
			(dts - *last) / (double)AV_TIME_BASE);
		r->ts_offset -= dts - (*last + step);
		off = av_rescale_q(r->ts_offset, AV_TIME_BASE_Q, s->time_base);
		dts = *last + step;
	}
	*last = dts;
	pkt->dts += off;
	if (pkt->pts != AV_NOPTS_VALUE)
		pkt->pts += off;
}

/* The next packet of the input into r->pkt: 0, -1 at the end of the
 * input, or an exit status with the run's error set: a stall (--timeout's
 * "no data", or the run's deadline), the input size limit, a read error. */
static int read_packet(struct run *r)
{
	int e = av_read_frame(r->ifmt, r->pkt);
	if (e == AVERROR_EOF)
		return -1;
	if (e >= 0) {
		vr_demux_touch(&r->in);
		return 0;
	}
	int st = vr_demux_status(&r->in, e);
	char b[600];
	if (st == VR_ETIMEOUT && check_stop(r))
		return VR_ETIMEOUT; /* the run's deadline */
	if (st == VR_ETIMEOUT) {
		char d[32];
		return fail(r, st, "%s: no data for %s", r->in.what,
			    vr_duration_text(r->stall_timeout, d, sizeof d));
	}
	if (st == VR_ELIMIT)
		return fail(r, st, "%s is larger than the limit of %" PRIu64 " bytes", r->in.what,
			    r->l->max_input_bytes);
	return fail(r, st, "%s: reading: %s", r->in.what, vr_demux_read_error(&r->in, e, b, sizeof b));
}

static int pump(struct run *r, frame_fn vfn, frame_fn afn)
{
	double reached = -1;
	int rc = 0;
	for (;;) {
		if ((rc = check_stop(r)))
			return rc;
		if ((!r->vdec || r->video_done) && (!r->adec || r->audio_done))
			break;
		if ((rc = read_packet(r)) > 0)
			return rc;
		if (rc < 0) {
			rc = 0;
			break;
		}
		AVStream *s = r->ifmt->streams[r->pkt->stream_index];
		fix_discontinuity(r, s, r->pkt);
		if (r->pkt->pts != AV_NOPTS_VALUE) {
			double t = (r->pkt->pts + r->pkt->duration) * av_q2d(s->time_base);
			if (t > reached)
				reached = t;
		}
		if (r->pkt->stream_index == r->vi && r->vdec)
			rc = decode_packet(r, r->vdec, r->pkt, vfn);
		else if (r->pkt->stream_index == r->ai && afn && r->adec)
			rc = decode_packet(r, r->adec, r->pkt, afn);
		av_packet_unref(r->pkt);
		if (rc || r->st->output_closed)
			return rc;
	}
	if (r->vdec && (rc = decode_packet(r, r->vdec, NULL, vfn)))
		return rc;
	if (r->adec && afn && (rc = decode_packet(r, r->adec, NULL, afn)))
		return rc;
	if (r->st->output_closed)
		return 0;
	return check_truncated(r, reached);
}


/* The audio encoder of the output, its filter chain and its stream in the
 * muxer (video and audio modes). */
static int open_audio_output(struct run *r, enum vr_format format, int64_t bitrate, int gh)
{
	int rc = vr_encode_open_audio(&r->aenc, format, r->p->quality, bitrate, r->adec->sample_rate,
				      r->adec->ch_layout.nb_channels, gh, r->err, r->errlen);
	if (rc || (rc = setup_audio_chain(r)))
		return rc;
	r->aprime = vr_mux_fragmented(&r->mux) ? r->aenc->initial_padding : 0;
	snprintf(r->st->out_audio_codec, sizeof r->st->out_audio_codec, "%s",
		 avcodec_get_name(r->aenc->codec_id));
	if (!(r->oast = vr_mux_add_encoder(&r->mux, r->aenc)))
		return fail(r, VR_EFAIL, "out of memory");
	return 0;
}
static int run_video(struct run *r)
{
	const struct vr_params *p = r->p;
	int rc = open_input(r, 1, p->audio);
	if (rc)
		return rc;
	if ((rc = plan_times(r)) || (rc = plan_geometry(r, p->width, p->height, 1, 0, 1)))
		return rc;
	if (r->ast && open_decoder(r, r->ast, &r->adec)) {
		/* a picture is still worth having: go on without the sound */
		vr_warn("%s; the output has no audio", r->err);
		avcodec_free_context(&r->adec);
		r->ast->discard = AVDISCARD_ALL;
		r->ast = NULL;
		r->ai = -1;
		r->st->in_audio_codec[0] = '\0';
	}
	plan_trim(r);
	seek_to_start(r);
	r->vdec->pix_fmt = r->vdec->pix_fmt == AV_PIX_FMT_NONE ? AV_PIX_FMT_YUV420P : r->vdec->pix_fmt;

	char head[256], tail[128];
	video_chain_ends(r, head, sizeof head, tail, sizeof tail);
	AVRational sar = r->vst->sample_aspect_ratio.num ? r->vst->sample_aspect_ratio
							 : r->vdec->sample_aspect_ratio;
	if ((rc = video_graph(r, &r->vg, r->vdec->width, r->vdec->height, r->vdec->pix_fmt, sar, head,
			      tail)))
		return rc;
	if ((rc = mux_alloc(r)))
		return rc;
	int gh = vr_mux_global_header(&r->mux);
	AVRational fr = av_buffersink_get_frame_rate(r->vg.sink);
	if (fr.num <= 0 || fr.den <= 0)
		fr = av_guess_frame_rate(r->ifmt, r->vst, NULL);
	if (fr.num <= 0 || fr.den <= 0)
		fr = (AVRational){25, 1};
	struct vr_video_enc ve = {
		.format = p->format,
		.quality = p->quality,
		.compression = p->compression,
		.bitrate = p->bitrate,
		.width = r->geo.out_w,
		.height = r->geo.out_h,
		.time_base = av_buffersink_get_time_base(r->vg.sink),
		.frame_rate = fr,
		.sar = (AVRational){1, 1},
		.global_header = gh,
	};
	if ((rc = vr_encode_open_video(&r->venc, &ve, r->err, r->errlen)))
		return rc;
	snprintf(r->st->out_codec, sizeof r->st->out_codec, "%s", avcodec_get_name(r->venc->codec_id));
	if (!(r->ovst = vr_mux_add_encoder(&r->mux, r->venc)))
		return fail(r, VR_EFAIL, "out of memory");
	if (r->adec) {
		if ((rc = open_audio_output(r, p->format, 0, gh)))
			return rc;
	}
	if ((rc = mux_open(r)) || r->st->output_closed)
		return rc;
	if ((rc = pump(r, video_frame, r->adec ? audio_frame : NULL)) || r->st->output_closed)
		return rc;
	/* flush filters and encoders */
	/* a frame at or past the cut's end came: the video ends there, not at
	 * the last frame kept (--fps fills the time up to the end) */
	int e = r->video_done ? av_buffersrc_close(r->vg.src, r->v_end, 0)
			      : av_buffersrc_add_frame(r->vg.src, NULL);
	if (e < 0 || (rc = video_drain(r)))
		return rc ? rc : fail(r, VR_EFAIL, "flushing the video filters");
	if (r->st->output_closed || (rc = encode(r, r->venc, r->ovst, NULL)))
		return rc;
	if (r->aenc) {
		if (av_buffersrc_add_frame(r->ag.src, NULL) < 0 || (rc = audio_drain(r)))
			return rc ? rc : fail(r, VR_EFAIL, "flushing the audio filters");
		if (r->st->output_closed || (rc = encode(r, r->aenc, r->oast, NULL)))
			return rc;
	}
	if (r->st->output_closed)
		return 0;
	if (r->st->frames_out == 0)
		return fail(r, VR_EDATA, "%s: no picture could be decoded%s%s", r->in.what,
			    vr_av_last_error()[0] ? ": " : "", vr_av_last_error());
	r->st->out_duration = r->out_sec;
	return mux_finish(r);
}

/* ---- audio mode ---- */

static int audio_copy_packets(struct run *r)
{
	double reached = -1;
	int64_t shift = r->a_start;
	for (;;) {
		int rc = check_stop(r);
		if (rc)
			return rc;
		if ((rc = read_packet(r)) > 0)
			return rc;
		if (rc < 0)
			break;
		if (r->pkt->stream_index != r->ai) {
			av_packet_unref(r->pkt);
			continue;
		}
		if (r->pkt->pts != AV_NOPTS_VALUE && r->pkt->pts >= r->a_end) {
			av_packet_unref(r->pkt);
			r->audio_done = 1;
			break;
		}
		if (r->pkt->pts != AV_NOPTS_VALUE) {
			double t = (r->pkt->pts + r->pkt->duration) * av_q2d(r->ast->time_base);
			reached = t > reached ? t : reached;
			r->out_sec = t - r->in_start;
			if (r->out_sec > r->l->max_duration) {
				av_packet_unref(r->pkt);
				return fail(r, VR_ELIMIT, "output passed the duration limit of %.0f s",
					    r->l->max_duration);
			}
		}
		if (r->pkt->pts != AV_NOPTS_VALUE)
			r->pkt->pts -= shift;
		if (r->pkt->dts != AV_NOPTS_VALUE)
			r->pkt->dts -= shift;
		r->pkt->stream_index = r->oast->index;
		r->pkt->pos = -1;
		av_packet_rescale_ts(r->pkt, r->ast->time_base, r->oast->time_base);
		rc = mux_packet(r, r->pkt);
		if (rc || r->st->output_closed)
			return rc;
		progress(r, 0);
	}
	return check_truncated(r, reached);
}

static int run_audio(struct run *r)
{
	const struct vr_params *p = r->p;
	int rc = open_input(r, 0, 1);
	if (rc)
		return rc;
	if (r->ai < 0)
		return fail(r, VR_EDATA, "%s: no audio stream", r->in.what);
	if ((rc = plan_times(r)))
		return rc;
	plan_trim(r);
	if ((rc = mux_alloc(r)))
		return rc;
	int gh = vr_mux_global_header(&r->mux);
	/* copy when nothing is cut at the start (a cut mid-packet needs the
	 * decoder) and the stream is within a bitrate cap */
	int64_t in_rate = r->ast->codecpar->bit_rate;
	r->audio_copy = r->ast->codecpar->codec_id == AV_CODEC_ID_AAC && p->time <= 0 &&
			p->format == VR_FORMAT_M4A && r->ast->codecpar->ch_layout.nb_channels <= 8 &&
			(p->bitrate <= 0 || (in_rate > 0 && in_rate <= p->bitrate));
	if (r->audio_copy) {
		if (!(r->oast = vr_mux_add_copy(&r->mux, r->ast->codecpar, r->ast->time_base)))
			return fail(r, VR_EFAIL, "out of memory");
		snprintf(r->st->out_audio_codec, sizeof r->st->out_audio_codec, "copy");
		if ((rc = mux_open(r)) || r->st->output_closed)
			return rc;
		if ((rc = audio_copy_packets(r)) || r->st->output_closed)
			return rc;
	} else {
		if ((rc = open_decoder(r, r->ast, &r->adec)))
			return rc;
		seek_to_start(r);
		if ((rc = open_audio_output(r, VR_FORMAT_M4A, p->bitrate, gh)))
			return rc;
		if ((rc = mux_open(r)) || r->st->output_closed)
			return rc;
		if ((rc = pump(r, NULL, audio_frame)) || r->st->output_closed)
			return rc;
		if (av_buffersrc_add_frame(r->ag.src, NULL) < 0 || (rc = audio_drain(r)))
			return rc ? rc : fail(r, VR_EFAIL, "flushing the audio filters");
		if (r->st->output_closed || (rc = encode(r, r->aenc, r->oast, NULL)))
			return rc;
		if (r->st->output_closed)
			return 0;
	}
	if (!r->audio_copy && r->aframes == 0)
		return fail(r, VR_EDATA, "%s: no audio could be decoded", r->in.what);
	r->st->out_duration = r->out_sec;
	return mux_finish(r);
}

/* ---- pictures: frame and spritesheet ---- */

struct grabber {
	int64_t pos;           /* pts of the last frame decoded, INT64_MIN: none */
	int eof;
	int pending;           /* r->frame holds a decoded frame not yet looked at */
	double reached;        /* the end (s) of the latest packet read, any stream */
	int resync;            /* the decoder does not follow the demuxer (a keyframe
				* was decoded alone): seek before decoding on */
	int64_t key;           /* the last keyframe decoded alone, INT64_MIN: none */
};

/* The next decoded video frame into r->frame: 1, 0 at the end, <0 error
 * (a vr_status negated). */
static int next_frame(struct run *r, struct grabber *g, int64_t skip_before)
{
	for (;;) {
		int e = avcodec_receive_frame(r->vdec, r->frame);
		if (e >= 0) {
			r->frame->pts = r->frame->best_effort_timestamp;
			r->st->frames_in++;
			return 1;
		}
		if (e == AVERROR_EOF)
			return 0;
		if (e != AVERROR(EAGAIN)) {
			vr_debug("decoding: %s", av_err2str(e));
			continue;
		}
		if (g->eof)
			return 0;
		int rc = check_stop(r);
		if (rc)
			return -rc;
		if ((rc = read_packet(r)) > 0)
			return -rc;
		if (rc < 0) {
			g->eof = 1;
			avcodec_send_packet(r->vdec, NULL);
			continue;
		}
		if (r->pkt->pts != AV_NOPTS_VALUE) {
			AVStream *s = r->ifmt->streams[r->pkt->stream_index];
			double t = (r->pkt->pts + r->pkt->duration) * av_q2d(s->time_base);
			if (t > g->reached)
				g->reached = t;
		}
		if (r->pkt->stream_index == r->vi) {
			/* frames shown before the target are not decoded unless
			 * others refer to them */
			r->vdec->skip_frame = r->pkt->pts != AV_NOPTS_VALUE && r->pkt->pts < skip_before
						      ? AVDISCARD_NONREF
						      : AVDISCARD_DEFAULT;
			e = avcodec_send_packet(r->vdec, r->pkt);
			if (e < 0 && e != AVERROR(EAGAIN))
				vr_debug("decoding a packet: %s", av_err2str(e));
		}
		av_packet_unref(r->pkt);
	}
}

/* Keyframe at or before ts from the index, INT64_MIN when unknown. */
static int64_t keyframe_before(AVStream *st, int64_t ts)
{
	const AVIndexEntry *e = avformat_index_get_entry_from_timestamp(st, ts, AVSEEK_FLAG_BACKWARD);
	return e ? e->timestamp : INT64_MIN;
}

/* The first frame at or after target (or the last one before the end) into
 * out. Seeks unless decoding on from where we are is shorter. */
static int grab(struct run *r, struct grabber *g, int64_t target, AVFrame *out)
{
	/* the first frame at or after the time, as the ffmpeg command picks
	 * it; 1 ms of slack for the rounding of times to time bases */
	int64_t tol = av_rescale_q(1, (AVRational){1, 1000}, r->vst->time_base);
	/* out holds the first frame at or after an earlier target; when it is
	 * at or after this one too, no frame lies between and it is this
	 * tile's picture as well. Tiles denser than the frames reuse it
	 * instead of seeking back, so the work stays bounded by the source. */
	if (g->pos != INT64_MIN && out->data[0] && g->pos >= target - tol)
		return 0;
	int seek = g->resync || (g->pos == INT64_MIN ? r->p->time > 0 : target < g->pos);
	if (!seek && g->pos != INT64_MIN) {
		int64_t kf = keyframe_before(r->vst, target);
		if (kf != INT64_MIN ? kf > g->pos
				    : target - g->pos > av_rescale_q(2, (AVRational){1, 1}, r->vst->time_base))
			seek = 1;
	}
	if (seek && r->in.seekable) {
		int e = avformat_seek_file(r->ifmt, r->vi, INT64_MIN, target, target, 0);
		if (e < 0)
			e = av_seek_frame(r->ifmt, r->vi, target, AVSEEK_FLAG_BACKWARD);
		if (e >= 0) {
			r->st->seeks++;
			avcodec_flush_buffers(r->vdec);
			g->eof = 0;
			g->pos = INT64_MIN;
			g->resync = 0;
		} else {
			vr_debug("seek failed: %s", av_err2str(e));
		}
	}
	/* out still holds the previous tile's picture: past the end of an
	 * input of unknown length, the last picture repeats */
	int have = out->data[0] != NULL;
	for (;;) {
		int n = next_frame(r, g, target - tol);
		if (n < 0)
			return -n;
		if (n == 0)
			break;
		g->pos = r->frame->pts;
		if (r->frame->pts == AV_NOPTS_VALUE || r->frame->pts >= target - tol) {
			av_frame_unref(out);
			av_frame_move_ref(out, r->frame);
			return 0;
		}
		av_frame_unref(out);
		av_frame_move_ref(out, r->frame);
		have = 1;
	}
	if (!have)
		return fail(r, VR_EDATA, "%s: no picture could be decoded%s%s", r->in.what,
			    vr_av_last_error()[0] ? ": " : "", vr_av_last_error());
	return 0;
}

/* The first keyframe at or after lo and before hi by the index (for MP4
 * its decoding time, a few frames before its presentation time with
 * B-frames), INT64_MIN when the index shows none there. */
static int64_t keyframe_within(AVStream *st, int64_t lo, int64_t hi)
{
	const AVIndexEntry *e = avformat_index_get_entry_from_timestamp(st, lo, 0);
	return e && e->timestamp < hi ? e->timestamp : INT64_MIN;
}

/* The keyframe at kf (an index timestamp) into out, decoded alone: seek to
 * it, send its packet only and drain the decoder, so that neither the
 * frames before it nor those after it are decoded (a frame-threaded decoder
 * would otherwise wait for more packets). 0 done, -1 not found or shown
 * before lo (decode the exact frame instead), >0 a vr_status. The decoder
 * no longer follows the demuxer afterwards: g->resync makes the next exact
 * grab seek. */
static int grab_key(struct run *r, struct grabber *g, int64_t kf, int64_t lo, AVFrame *out)
{
	int e = avformat_seek_file(r->ifmt, r->vi, lo, lo, INT64_MAX, 0);
	if (e < 0) {
		vr_debug("seek to a keyframe failed: %s", av_err2str(e));
		return -1;
	}
	r->st->seeks++;
	avcodec_flush_buffers(r->vdec);
	g->eof = 0;
	g->resync = 1;
	for (;;) {
		int rc = check_stop(r);
		if (rc)
			return rc;
		if ((rc = read_packet(r)))
			return rc; /* -1 at the end: as a failed seek */
		int key = r->pkt->stream_index == r->vi && (r->pkt->flags & AV_PKT_FLAG_KEY);
		/* a demuxer that lands before the keyframe asked for */
		if (key && r->pkt->pts != AV_NOPTS_VALUE && r->pkt->pts < lo) {
			av_packet_unref(r->pkt);
			return -1;
		}
		if (key) {
			r->vdec->skip_frame = AVDISCARD_DEFAULT;
			e = avcodec_send_packet(r->vdec, r->pkt);
		}
		av_packet_unref(r->pkt);
		if (key)
			break;
	}
	if (e >= 0)
		e = avcodec_send_packet(r->vdec, NULL);
	while (e >= 0) {
		e = avcodec_receive_frame(r->vdec, r->frame);
		if (e >= 0)
			break;
	}
	avcodec_flush_buffers(r->vdec);
	if (e < 0) {
		vr_debug("decoding a keyframe: %s", av_err2str(e));
		return -1;
	}
	r->frame->pts = r->frame->best_effort_timestamp;
	r->st->frames_in++;
	r->st->key_tiles++;
	g->pos = r->frame->pts;
	g->key = kf;
	av_frame_unref(out);
	av_frame_move_ref(out, r->frame);
	return 0;
}

/* Filter one decoded frame into r->filt (the output picture). */
static int picture_filter(struct run *r, AVFrame *f, enum AVPixelFormat pf)
{
	char tail[64];
	snprintf(tail, sizeof tail, ",format=%s", av_get_pix_fmt_name(pf));
	if (!r->vg.g || f->width != r->vg.w || f->height != r->vg.h || f->format != r->vg.fmt) {
		int rc = video_graph(r, &r->vg, f->width, f->height, f->format, f->sample_aspect_ratio,
				     "", tail);
		if (rc)
			return rc;
	}
	char b[600];
	int e = av_buffersrc_add_frame_flags(r->vg.src, f, AV_BUFFERSRC_FLAG_KEEP_REF);
	if (e >= 0)
		e = av_buffersink_get_frame(r->vg.sink, r->filt);
	if (e < 0)
		return fail(r, VR_EFAIL, "filtering the picture: %s", averr(e, b, sizeof b));
	return 0;
}

static int encode_picture(struct run *r, AVFrame *pic)
{
	char b[600];
	pic->pts = 0;
	pic->quality = r->venc->global_quality;
	int e = avcodec_send_frame(r->venc, pic);
	if (e >= 0)
		e = avcodec_send_frame(r->venc, NULL);
	while (e >= 0) {
		e = avcodec_receive_packet(r->venc, r->pkt);
		if (e < 0)
			break;
		int rc = write_picture(r, r->pkt);
		av_packet_unref(r->pkt);
		if (rc)
			return rc;
		r->st->frames_out++;
	}
	if (e != AVERROR_EOF)
		return fail(r, VR_EFAIL, "encoding the picture: %s", averr(e, b, sizeof b));
	return 0;
}

static int64_t stream_ts(struct run *r, double s)
{
	double start = r->vst->start_time != AV_NOPTS_VALUE ? r->vst->start_time * av_q2d(r->vst->time_base)
							    : r->in_start;
	return to_tb(start + s, r->vst->time_base);
}

static int run_frame(struct run *r)
{
	const struct vr_params *p = r->p;
	int rc = open_input(r, 1, 0);
	if (rc)
		return rc;
	if (r->in_dur >= 0 && p->time > 0 && p->time >= r->in_dur)
		return fail(r, VR_EDATA, "time %.3gs is past the end of the input (%.3gs)", p->time,
			    r->in_dur);
	/* any size, odd ones included: MJPEG codes 4:2:0 of odd sides as
	 * PNG and WebP do */
	if ((rc = plan_geometry(r, p->width, p->height, 0, 0, 1)))
		return rc;
	if ((rc = vr_encode_open_picture(&r->venc, p->format, p->quality, p->compression, r->geo.out_w,
					 r->geo.out_h, -1, r->err, r->errlen)))
		return rc;
	snprintf(r->st->out_codec, sizeof r->st->out_codec, "%s", r->venc->codec->name);
	struct grabber g = {.pos = INT64_MIN, .reached = -1};
	AVFrame *pic = av_frame_alloc();
	if (!pic)
		return fail(r, VR_EFAIL, "out of memory");
	rc = grab(r, &g, stream_ts(r, p->time), pic);
	/* the last picture stands in for a time past the end only when the
	 * data covers what the input declares (a cut file reads to EOF) */
	if (!rc && g.eof)
		rc = check_truncated(r, g.reached);
	if (!rc)
		rc = picture_filter(r, pic, vr_encode_picture_pix_fmt(p->format));
	av_frame_free(&pic);
	if (!rc)
		rc = encode_picture(r, r->filt);
	return rc;
}

static void choose_grid(const struct vr_params *p, const struct vr_limits *l, double span, int *cols,
			int *rows)
{
	int c = p->columns, rw = p->rows;
	if (c <= 0 || rw <= 0) {
		/* one tile a second of the span, at least 1 */
		int n = (int)lrint(span);
		if (n < 1)
			n = 1;
		if (l->max_tiles > 0 && n > l->max_tiles)
			n = l->max_tiles;
		if (c > 0)
			rw = (n + c - 1) / c;
		else if (rw > 0)
			c = (n + rw - 1) / rw;
		else {
			c = (int)ceil(sqrt(n));
			rw = (n + c - 1) / c;
		}
	}
	*cols = c;
	*rows = rw;
}

static void copy_tile(AVFrame *sheet, const AVFrame *tile, int x, int y)
{
	const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(sheet->format);
	for (int pl = 0; pl < 3; pl++) {
		int sx = pl ? d->log2_chroma_w : 0, sy = pl ? d->log2_chroma_h : 0;
		av_image_copy_plane(sheet->data[pl] + (y >> sy) * sheet->linesize[pl] + (x >> sx),
				    sheet->linesize[pl], tile->data[pl], tile->linesize[pl],
				    AV_CEIL_RSHIFT(tile->width, sx), AV_CEIL_RSHIFT(tile->height, sy));
	}
}

static int run_spritesheet(struct run *r)
{
	const struct vr_params *p = r->p;
	int rc = open_input(r, 1, 0);
	if (rc)
		return rc;
	if (r->in_dur >= 0 && p->time > 0 && p->time >= r->in_dur)
		return fail(r, VR_EDATA, "time %.3gs is past the end of the input (%.3gs)", p->time,
			    r->in_dur);
	double span = p->duration >= 0 ? p->duration : 10;
	if (r->in_dur >= 0 && p->time + span > r->in_dur)
		span = r->in_dur - p->time;
	int cols, rows;
	choose_grid(p, r->l, span, &cols, &rows);
	int n = cols * rows;
	if (r->l->max_tiles > 0 && n > r->l->max_tiles)
		return fail(r, VR_ELIMIT, "%d tiles are more than the limit of %d", n, r->l->max_tiles);
	if ((rc = plan_geometry(r, p->width, p->height, 0, 1, n)))
		return rc;
	int tw = r->geo.out_w, th = r->geo.out_h;
	r->st->out_width = tw * cols;
	r->st->out_height = th * rows;
	/* tiles of odd sides start at odd offsets, where 4:2:0 chroma cannot
	 * be split between neighbours: the sheet is 4:4:4 then */
	enum AVPixelFormat sheet_fmt = (tw | th) & 1 ? AV_PIX_FMT_YUVJ444P : AV_PIX_FMT_YUVJ420P;
	if ((rc = vr_encode_open_picture(&r->venc, VR_FORMAT_JPG, p->quality, p->compression, tw * cols,
					 th * rows, sheet_fmt, r->err, r->errlen)))
		return rc;
	snprintf(r->st->out_codec, sizeof r->st->out_codec, "%s", r->venc->codec->name);
	AVFrame *sheet = av_frame_alloc(), *pic = av_frame_alloc();
	if (!sheet || !pic) {
		av_frame_free(&sheet);
		av_frame_free(&pic);
		return fail(r, VR_EFAIL, "out of memory");
	}
	sheet->format = sheet_fmt;
	sheet->width = tw * cols;
	sheet->height = th * rows;
	sheet->color_range = AVCOL_RANGE_JPEG;
	if (av_frame_get_buffer(sheet, 0) < 0) {
		rc = fail(r, VR_EFAIL, "out of memory");
		goto done;
	}
	/* black: Y 0, chroma 128 (full range) */
	const AVPixFmtDescriptor *sd = av_pix_fmt_desc_get(sheet_fmt);
	for (int y = 0; y < sheet->height; y++)
		memset(sheet->data[0] + y * sheet->linesize[0], 0, (size_t)sheet->width);
	for (int pl = 1; pl < 3; pl++)
		for (int y = 0; y < AV_CEIL_RSHIFT(sheet->height, sd->log2_chroma_h); y++)
			memset(sheet->data[pl] + y * sheet->linesize[pl], 128,
			       (size_t)AV_CEIL_RSHIFT(sheet->width, sd->log2_chroma_w));
	struct grabber g = {.pos = INT64_MIN, .reached = -1, .key = INT64_MIN};
	/* A tile stands for its interval [t, t + span/n). Past the first
	 * (the frame at the start time, as asked), a tile whose interval holds
	 * a keyframe by the index shows that keyframe, decoded alone, unless
	 * its exact frame is at most two frames of decoding away: with tiles
	 * at least as far apart as the keyframes, a sheet decodes one frame a
	 * tile. Any other tile shows the frame at its time, decoded from the
	 * keyframe before it or on from the previous tile. Without an index or
	 * a seekable input, every tile is exact. */
	AVStream *vs = r->vst;
	int keyed = r->in.seekable && avformat_index_get_entries_count(vs) > 0;
	int64_t tol = av_rescale_q(1, (AVRational){1, 1000}, vs->time_base);
	AVRational rate = vs->avg_frame_rate.num > 0 && vs->avg_frame_rate.den > 0 ? vs->avg_frame_rate
			  : vs->r_frame_rate.num > 0 && vs->r_frame_rate.den > 0 ? vs->r_frame_rate
										 : (AVRational){25, 1};
	int64_t frame = av_rescale_q(1, av_inv_q(rate), vs->time_base);
	for (int i = 0; i < n; i++) {
		double t = p->time + span * i / n;
		int64_t ts = stream_ts(r, t);
		rc = -1;
		if (keyed && i > 0) {
			int64_t kf = keyframe_within(vs, ts - tol, stream_ts(r, p->time + span * (i + 1) / n) - tol);
			/* worth it only when the exact frame is more than a
			 * couple of frames of decoding away: tiles denser than
			 * the keyframes decode on instead of seeking about */
			int64_t from = keyframe_before(vs, ts);
			if (!g.resync && g.pos != INT64_MIN && g.pos > from)
				from = g.pos;
			if (kf != INT64_MIN && (g.key == INT64_MIN || kf > g.key) &&
			    (from == INT64_MIN || ts - from > 2 * frame))
				rc = grab_key(r, &g, kf, ts - tol, pic);
		}
		if (rc < 0)
			rc = grab(r, &g, ts, pic);
		if (!rc && g.eof)
			rc = check_truncated(r, g.reached);
		if (!rc)
			rc = picture_filter(r, pic, sheet_fmt);
		if (rc)
			goto done;
		copy_tile(sheet, r->filt, (i % cols) * tw, (i / cols) * th);
		av_frame_unref(r->filt);
		r->out_sec = t - p->time;
		r->expect = span;
		progress(r, 0);
	}
	rc = encode_picture(r, sheet);
done:
	av_frame_free(&sheet);
	av_frame_free(&pic);
	return rc;
}

/* ---- entry ---- */

static void run_free(struct run *r)
{
	graph_free(&r->vg);
	graph_free(&r->ag);
	avcodec_free_context(&r->vdec);
	avcodec_free_context(&r->adec);
	avcodec_free_context(&r->venc);
	avcodec_free_context(&r->aenc);
	vr_mux_free(&r->mux);
	vr_demux_close(&r->in);
	av_packet_free(&r->pkt);
	av_frame_free(&r->frame);
	av_frame_free(&r->filt);
}

int vr_transform_run(const struct vr_transform_opts *o, struct vr_transform_stats *st, char *err,
		     size_t errlen)
{
	struct run r;
	memset(&r, 0, sizeof r);
	memset(st, 0, sizeof *st);
	st->in_duration = -1;
	r.o = o;
	r.p = o->params;
	r.l = o->limits;
	r.st = st;
	r.err = err;
	r.errlen = errlen;
	r.expect = -1;
	r.t0 = vr_now_ms();
	r.v_end = r.a_end = INT64_MAX;
	for (int i = 0; i < MAX_STREAMS; i++)
		r.last_dts[i] = AV_NOPTS_VALUE;
	err[0] = '\0';
	vr_av_log_setup();
	vr_av_error_reset(); /* this run's messages carry only its own errors */
	r.pkt = av_packet_alloc();
	r.frame = av_frame_alloc();
	r.filt = av_frame_alloc();
	int rc;
	if (!r.pkt || !r.frame || !r.filt) {
		rc = fail(&r, VR_EFAIL, "out of memory");
	} else {
		switch (r.p->mode) {
		case VR_MODE_FRAME: rc = run_frame(&r); break;
		case VR_MODE_SPRITESHEET: rc = run_spritesheet(&r); break;
		case VR_MODE_AUDIO: rc = run_audio(&r); break;
		default: rc = run_video(&r); break;
		}
	}
	if (r.prog_shown || (rc == 0 && o->progress && r.out_sec > 0))
		progress(&r, rc == 0 ? 2 : 1);
	if (rc == 0 && vr_stop_requested())
		rc = fail(&r, VR_EFAIL, "interrupted");
	st->bytes_in = vr_demux_bytes(&r.in);
	st->bytes_out = r.mux.bytes;
	/* a copy of a run that failed or stopped early is not the output */
	st->seekable_written = rc == 0 && !st->output_closed && r.mux.seek_done;
	snprintf(st->seekable_error, sizeof st->seekable_error, "%s", r.mux.seek_err);
	run_free(&r);
	return rc;
}
