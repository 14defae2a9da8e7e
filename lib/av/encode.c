#include "encode.h"
#include "status.h"

#include <libavutil/channel_layout.h>
#include <libavutil/cpu.h>
#include <libavutil/opt.h>

#include <stdio.h>

/* auto is medium in every encoder: lib/request/params' canonical form
 * prints both as auto (one output, one key), so keep them alike. */
static int pick(enum vr_level l, int low, int medium, int high)
{
	return l == VR_LEVEL_LOW ? low : l == VR_LEVEL_HIGH ? high : medium;
}

enum AVPixelFormat vr_encode_video_pix_fmt(enum vr_format f)
{
	(void)f; /* H.264 and VP9 both: 8-bit 4:2:0, what every player decodes */
	return AV_PIX_FMT_YUV420P;
}

enum AVPixelFormat vr_encode_picture_pix_fmt(enum vr_format f)
{
	switch (f) {
	case VR_FORMAT_PNG: return AV_PIX_FMT_RGB24;
	case VR_FORMAT_WEBP: return AV_PIX_FMT_YUV420P;
	default: return AV_PIX_FMT_YUVJ420P;
	}
}

static int alloc(AVCodecContext **enc, const char *name, char *err, size_t errlen)
{
	const AVCodec *c = avcodec_find_encoder_by_name(name);
	if (!c) {
		snprintf(err, errlen, "encoder %s is not available in this libavcodec", name);
		return VR_EFAIL;
	}
	*enc = avcodec_alloc_context3(c);
	if (!*enc) {
		snprintf(err, errlen, "out of memory");
		return VR_EFAIL;
	}
	return 0;
}

static int open_enc(AVCodecContext *enc, AVDictionary **opts, char *err, size_t errlen)
{
	int r = avcodec_open2(enc, enc->codec, opts);
	av_dict_free(opts);
	if (r < 0) {
		snprintf(err, errlen, "cannot open encoder %s: %s", enc->codec->name, av_err2str(r));
		return VR_EFAIL;
	}
	return 0;
}

int vr_encode_open_video(AVCodecContext **encp, const struct vr_video_enc *c, char *err,
			 size_t errlen)
{
	int webm = c->format == VR_FORMAT_WEBM;
	int rc = alloc(encp, webm ? "libvpx-vp9" : "libx264", err, errlen);
	if (rc)
		return rc;
	AVCodecContext *enc = *encp;
	AVDictionary *o = NULL;
	enc->width = c->width;
	enc->height = c->height;
	enc->pix_fmt = vr_encode_video_pix_fmt(c->format);
	enc->time_base = c->time_base;
	enc->framerate = c->frame_rate;
	enc->sample_aspect_ratio = c->sar;
	/* a keyframe at least every 2 s: fragments of a piped MP4 stay small
	 * (the muxer holds one in memory) and players can seek */
	double fps = c->frame_rate.num > 0 && c->frame_rate.den > 0 ? av_q2d(c->frame_rate) : 25;
	enc->gop_size = fps * 2 < 1 ? 1 : fps * 2 > 600 ? 600 : (int)(fps * 2 + 0.5);
	if (c->global_header)
		enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
	if (c->bitrate > 0) {
		enc->rc_max_rate = c->bitrate;
		enc->rc_buffer_size = (int)(c->bitrate * 2 > INT32_MAX ? INT32_MAX : c->bitrate * 2);
	}
	if (webm) {
		enc->thread_count = av_cpu_count();
		enc->bit_rate = c->bitrate > 0 ? c->bitrate : 0;
		av_dict_set_int(&o, "crf", pick(c->quality, 40, 33, 24), 0);
		av_dict_set_int(&o, "cpu-used", pick(c->compression, 5, 2, 1), 0);
		av_dict_set(&o, "deadline", "good", 0);
		av_dict_set_int(&o, "row-mt", 1, 0);
	} else {
		enc->thread_count = 0; /* x264 picks from the cores */
		av_dict_set_int(&o, "crf", pick(c->quality, 28, 23, 18), 0);
		av_dict_set(&o, "preset", c->compression == VR_LEVEL_LOW    ? "veryfast"
					  : c->compression == VR_LEVEL_HIGH ? "slow"
									    : "medium",
			    0);
	}
	return open_enc(enc, &o, err, errlen);
}

static const int aac_rates[] = {96000, 88200, 64000, 48000, 44100, 32000, 24000,
				22050, 16000, 12000, 11025, 8000,  7350};

int vr_encode_open_audio(AVCodecContext **encp, enum vr_format format, enum vr_level quality,
			 int64_t bitrate_cap, int in_rate, int in_channels, int global_header,
			 char *err, size_t errlen)
{
	int opus = format == VR_FORMAT_WEBM;
	int rc = alloc(encp, opus ? "libopus" : "aac", err, errlen);
	if (rc)
		return rc;
	AVCodecContext *enc = *encp;
	AVDictionary *o = NULL;
	int channels = in_channels >= 2 ? 2 : 1;
	av_channel_layout_default(&enc->ch_layout, channels);
	if (opus) {
		enc->sample_rate = 48000;
		enc->sample_fmt = AV_SAMPLE_FMT_FLT;
		enc->bit_rate = pick(quality, 64000, 96000, 128000);
	} else {
		enc->sample_rate = 48000;
		for (size_t i = 0; i < sizeof aac_rates / sizeof *aac_rates; i++)
			if (aac_rates[i] == in_rate)
				enc->sample_rate = in_rate;
		enc->sample_fmt = AV_SAMPLE_FMT_FLTP;
		enc->bit_rate = pick(quality, 96000, 128000, 192000);
	}
	if (channels == 1)
		enc->bit_rate = enc->bit_rate * 2 / 3;
	if (bitrate_cap > 0 && enc->bit_rate > bitrate_cap)
		enc->bit_rate = bitrate_cap < 6000 ? 6000 : bitrate_cap;
	enc->time_base = (AVRational){1, enc->sample_rate};
	if (global_header)
		enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
	return open_enc(enc, &o, err, errlen);
}

int vr_encode_open_picture(AVCodecContext **encp, enum vr_format format, enum vr_level quality,
			   enum vr_level compression, int width, int height, int pix_fmt, char *err,
			   size_t errlen)
{
	const char *name = format == VR_FORMAT_PNG ? "png" : format == VR_FORMAT_WEBP ? "libwebp" : "mjpeg";
	int rc = alloc(encp, name, err, errlen);
	if (rc)
		return rc;
	AVCodecContext *enc = *encp;
	AVDictionary *o = NULL;
	enc->width = width;
	enc->height = height;
	enc->pix_fmt = pix_fmt >= 0 ? pix_fmt : vr_encode_picture_pix_fmt(format);
	enc->time_base = (AVRational){1, 25};
	enc->sample_aspect_ratio = (AVRational){1, 1};
	switch (format) {
	case VR_FORMAT_PNG:
		enc->compression_level = pick(compression, 1, 6, 9);
		break;
	case VR_FORMAT_WEBP:
		av_dict_set_int(&o, "quality", pick(quality, 50, 75, 90), 0);
		enc->compression_level = pick(compression, 2, 4, 6);
		break;
	default:
		enc->color_range = AVCOL_RANGE_JPEG;
		enc->flags |= AV_CODEC_FLAG_QSCALE;
		enc->global_quality = FF_QP2LAMBDA * pick(quality, 8, 4, 2);
		enc->qmin = enc->qmax = pick(quality, 8, 4, 2);
		break;
	}
	return open_enc(enc, &o, err, errlen);
}
