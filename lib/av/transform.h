/* The transform engine: demux -> decode -> filter -> encode -> mux, one
 * frame at a time, for the four modes of vr-resize(1).
 *
 *   video        resized H.264 + AAC in MP4, or VP9 + Opus in WebM; trimmed
 *                by time/duration with timestamps starting at 0 and the
 *                streams kept in sync (both shifted by the same offset)
 *   frame        one picture (jpg, png, webp) at time: seek to the keyframe
 *                before it and decode forward only to that frame
 *   spritesheet  a jpg grid of columns x rows tiles spread evenly over
 *                [time, time + duration], seeking per tile (or decoding on
 *                when the next tile is before the next keyframe)
 *   audio        the audio track as m4a; an AAC track untrimmed at the
 *                start is copied without re-encoding
 *
 * Memory is bounded by the codecs' and filters' own buffers (a GOP of the
 * x264 look-ahead, one MP4 fragment when piping), never by input length.
 *
 * Output: to a pipe (out_path NULL), MP4 is fragmented
 * (frag_keyframe+empty_moov+default_base_moof) and WebM is written without
 * seeking back; to a file (out_path, a regular file that may be reopened
 * for reading), MP4 gets faststart. Pictures are written as they are
 * encoded.
 *
 * The seekable copy (seekable_path): while MP4 or M4A is streamed to
 * out_fd, the same packets can also go to a file, progressive with the
 * index first, e.g. to be stored while the stream is served. Memory stays
 * flat: the body goes to the file as it is muxed; only the mov index is
 * held. The copy is a by-product: its failure never fails the stream.
 *
 * Nothing here touches the process-wide metrics: callers add bytes_in and
 * bytes_out from the stats. Runs in separate threads are independent (the
 * last libav error text, used in messages, is shared). */
#ifndef VR_TRANSFORM_H
#define VR_TRANSFORM_H

#include "params.h"

#include <stddef.h>
#include <stdint.h>

struct vr_resolved;

struct vr_transform_opts {
	const char *input;              /* path, http(s) URL, "-" or NULL: stdin */
	/* or, when non-NULL, the candidates of lib/request/origin tried in order: a
	 * source that is not found, fails to read or times out moves on to the
	 * next; bad data or a limit ends the run */
	const struct vr_resolved *sources;
	const struct vr_params *params; /* finalized */
	const struct vr_limits *limits;
	int out_fd;                     /* pipes and pictures write here */
	const char *out_path;           /* non-NULL: muxed output opened by name (faststart) */
	/* when set and the output is MP4 or M4A streamed to out_fd, the same
	 * packets are also written, progressive with the index first (movflags
	 * +faststart), to this file; the caller owns the file (creates the
	 * name, removes it). Ignored for other formats and modes (webm,
	 * pictures, spritesheets) and with out_path. Nothing is removed on
	 * failure: a partial file is the caller's to delete. */
	const char *seekable_path;
	double stall_timeout;           /* seconds without input progress: exit 7; 0 none */
	double deadline_ms;             /* vr_now_ms() by which the run must end: exit 7; 0 none */
	int progress;                   /* a progress line on stderr */
};

struct vr_transform_stats {
	int64_t frames_in, frames_out;  /* video (or picture) frames decoded / written */
	int in_width, in_height;        /* coded size of the input video */
	int out_width, out_height;
	char in_codec[32], out_codec[32];             /* video codecs ("" none) */
	char in_audio_codec[32], out_audio_codec[32]; /* "copy" when copied */
	char in_format[64];
	char source[256];               /* the input that was read (a URL, a path) */
	double in_duration;             /* seconds, -1 unknown */
	double out_duration;            /* seconds of output written */
	int spooled;                    /* stdin went through a temporary file */
	int seeks;                      /* seeks done (frame, spritesheet) */
	int key_tiles;                  /* spritesheet tiles from a keyframe decoded alone */
	int output_closed;              /* the reader closed the pipe: a quiet end */
	uint64_t bytes_in;              /* read from the source (spooled bytes included) */
	uint64_t bytes_out;             /* written to out_fd or out_path */
	/* 1 only when the run succeeded (returned 0, output_closed 0) and
	 * seekable_path was written completely and closed (trailer written,
	 * faststart done); else 0, and the file, if any, is not usable. A
	 * reader closing out_fd stops the run: the copy is then incomplete. */
	int seekable_written;
	/* why the copy was given up (opening, a write, disk full, faststart),
	 * "" otherwise; that failure did not fail the run */
	char seekable_error[256];
};

/* Run the transform. Returns 0 or a vr_status (with err): 3 undecodable
 * input or a value that does not fit it (time past the end), 5 input not
 * found, 6 I/O, 7 stall timeout, 8 a limit, 1 unexpected. */
int vr_transform_run(const struct vr_transform_opts *o, struct vr_transform_stats *st, char *err,
		     size_t errlen);

#endif
