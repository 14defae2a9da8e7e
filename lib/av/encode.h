/* Encoder set-up for the transform engine: which codec each output format
 * uses and how quality, compression and a bitrate cap map onto its
 * options.
 *
 *   format  video                    audio
 *   mp4     libx264, yuv420p         aac (native), fltp
 *   webm    libvpx-vp9, yuv420p      libopus, 48 kHz
 *   m4a     -                        aac, or the input's AAC copied
 *   jpg     mjpeg, yuvj420p          (frame, spritesheet)
 *   png     png, rgb24
 *   webp    libwebp, yuv420p
 *
 *   quality        low   medium/auto  high
 *   x264 crf        28       23        18
 *   vp9 crf (b=0)   40       33        24
 *   jpeg q           8        4         2
 *   webp quality    50       75        90
 *   aac bitrate    96k     128k      192k
 *   opus bitrate   64k      96k      128k
 *
 *   compression    low        medium/auto  high
 *   x264 preset    veryfast   medium       slow
 *   vp9 cpu-used   5          2            1
 *   png level      1          6            9
 *   webp method    2          4            6
 *
 * A bitrate cap sets maxrate = cap and bufsize = 2 x cap (x264: capped
 * CRF; VP9: constrained quality with the cap as target). In audio mode the
 * cap applies to the audio bitrate instead (bitrate_cap, 0: none).
 *
 * Contract: no shared state; the contexts it sets up belong to the
 * caller's transform: any thread. */
#ifndef VR_ENCODE_H
#define VR_ENCODE_H

#include "params.h"

#include <libavcodec/avcodec.h>

struct vr_video_enc {
	enum vr_format format;       /* mp4 or webm */
	enum vr_level quality, compression;
	int64_t bitrate;             /* 0: no cap */
	int width, height;
	AVRational time_base, frame_rate, sar;
	int global_header;           /* the muxer wants extradata (mp4, webm) */
};

/* The encoder's pixel format, for the filter graph's last step. */
enum AVPixelFormat vr_encode_video_pix_fmt(enum vr_format f);
enum AVPixelFormat vr_encode_picture_pix_fmt(enum vr_format f);

int vr_encode_open_video(AVCodecContext **enc, const struct vr_video_enc *c, char *err,
			 size_t errlen);

/* Audio for mp4/m4a (AAC) or webm (Opus). in_rate and in_channels are the
 * input's; the chosen rate, sample format and layout are in the opened
 * context (the filter graph converts to them). */
int vr_encode_open_audio(AVCodecContext **enc, enum vr_format format, enum vr_level quality,
			 int64_t bitrate_cap, int in_rate, int in_channels, int global_header,
			 char *err, size_t errlen);

/* One still picture (jpg, png, webp); pix_fmt -1: the format's own
 * (vr_encode_picture_pix_fmt), else an AVPixelFormat the encoder takes. */
int vr_encode_open_picture(AVCodecContext **enc, enum vr_format format, enum vr_level quality,
			   enum vr_level compression, int width, int height, int pix_fmt, char *err,
			   size_t errlen);

#endif
