/* The output side of the transform engine: a muxer (MP4, M4A, WebM) or raw
 * picture bytes, to a pipe or to a file.
 *
 * To a pipe (path NULL) the muxer writes through our own AVIOContext over
 * the descriptor, declared non-seekable: MP4 is fragmented
 * (frag_keyframe+empty_moov+default_base_moof, plus delay_moov so that the
 * first fragment's edit list starts the video at 0), WebM is written
 * without seeking back. A reader that closes the pipe (EPIPE) is a quiet
 * end: the write fails, `closed` is set and callers stop with status 0.
 *
 * To a file (path: a regular file, in practice lib/base/output's temporary),
 * libavformat opens it by name with only the file protocol allowed, so
 * that MP4 faststart can re-open it to move the index to the front.
 *
 * The seekable copy (seek_path, MP4/M4A to a pipe only): a second muxer of
 * the same format gets every stream and every packet too and writes them,
 * progressive with the index first (faststart), to that file. It is a
 * by-product: when it fails (disk full...) it is given up (seek_err says
 * why) and the stream goes on; seek_done is set once its trailer is
 * written, faststart done and the file closed. Memory: the mov muxer's
 * index and its interleaving queue, whose packets share the stream's
 * buffers (references, not copies).
 *
 * Contract: one vr_mux per thread; it owns its format context and AVIO
 * buffer until vr_mux_free; the descriptor stays the caller's. */
#ifndef VR_MUX_H
#define VR_MUX_H

#include "params.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>

#include <stddef.h>
#include <stdint.h>

struct vr_mux {
	AVFormatContext *fmt;
	AVIOContext *pb;           /* ours, over fd (pipes) */
	int fd;
	const char *path;
	int closed;                /* the reader went away: a quiet end */
	uint64_t bytes;            /* written so far (a file: at the end) */
	void (*on_write)(void *);  /* called after each write (watchdogs) */
	void *on_write_arg;
	/* the seekable copy: NULL seek when none or given up */
	const char *seek_path;
	AVFormatContext *seek;
	AVPacket *seek_pkt;        /* the reference handed to its muxer */
	int seek_done;             /* written completely and closed */
	char seek_err[256];        /* why it was given up, "" none */
};

/* The muxer for a video (mp4, webm) or audio (m4a) format. seek_path
 * (may be NULL) asks for the seekable copy, made only for MP4/M4A to fd
 * (path NULL); the file is the caller's (created, removed by it). 0 or a
 * vr_status with err; the copy failing to set up is not an error. */
int vr_mux_alloc(struct vr_mux *m, enum vr_format format, int fd, const char *path,
		 const char *seek_path, char *err, size_t errlen);
/* The muxer wants codec extradata out of band (set before opening encoders). */
int vr_mux_global_header(const struct vr_mux *m);
/* The output is fragmented MP4/M4A (streamed to fd): its readers ignore the
 * edit list, so a stream's first timestamp is where it starts for them. */
int vr_mux_fragmented(const struct vr_mux *m);
/* A stream for an opened encoder, or a copy of codecpar in time base tb
 * (in the seekable copy too, at the same index). */
AVStream *vr_mux_add_encoder(struct vr_mux *m, const AVCodecContext *enc);
AVStream *vr_mux_add_copy(struct vr_mux *m, const AVCodecParameters *par, AVRational tb);
/* Open the output and write the header. */
int vr_mux_start(struct vr_mux *m, char *err, size_t errlen);
/* One packet (timestamps in the stream's time base, as it is after
 * vr_mux_start), interleaved; the packet is consumed (unreferenced). The
 * seekable copy gets a reference, rescaled to its own stream's time base. */
int vr_mux_write(struct vr_mux *m, AVPacket *pkt, char *err, size_t errlen);
/* Trailer, flush, close; bytes counts the whole output. Then the seekable
 * copy's trailer (faststart) and close: seek_done, or seek_err. */
int vr_mux_finish(struct vr_mux *m, char *err, size_t errlen);
void vr_mux_free(struct vr_mux *m);

/* Raw bytes (an encoded picture) to the descriptor. 0 (closed may be set)
 * or a vr_status. */
int vr_mux_write_raw(struct vr_mux *m, const void *buf, size_t n, char *err, size_t errlen);

#endif
