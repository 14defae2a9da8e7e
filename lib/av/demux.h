/* Opening untrusted media input for the transform engine: a local path, an
 * http(s) URL, or stdin, through libavformat with every byte passing our
 * own AVIOContext, so that we count it, enforce the input byte limit and
 * can stop a stalled read.
 *
 * - Protocols: local files and stdin never go through a libavformat
 *   protocol; URLs are opened with the whitelist http,https,tcp,tls. Nested
 *   opens by a demuxer (references to other files) are refused.
 * - Demuxers: a whitelist of plain containers, no playlists (hls, dash,
 *   concat) and no image sequences that could open other files.
 * - Non-seekable stdin: the first bytes are probed; a streamable container
 *   (MPEG-TS, Matroska/WebM, FLV, MP3, AAC, WAV, Ogg) is read as it comes,
 *   anything else (MP4/MOV, AVI, unknown) is spooled to a temporary file
 *   first (lib/av/spool), which makes moov-at-end MP4 from a pipe work.
 * - A watchdog: the interrupt callback ends any blocking libavformat call
 *   when a signal asked us to stop or when no progress was reported for
 *   stall_timeout seconds.
 *
 * Contract: one vr_demux per thread; it owns its streams, spool file and
 * buffers until vr_demux_close; o->input and o->root are only read during
 * open. vr_av_last_error returns this thread's last libav error (a copy,
 * valid until the thread's next call), emptied by vr_av_error_reset when a
 * run starts; messages of an attached codec context's worker threads count
 * as the owner's. */
#ifndef VR_DEMUX_H
#define VR_DEMUX_H

#include <stddef.h>
#include <stdint.h>

struct AVFormatContext;

#define VR_DEMUX_FORMATS "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,mpegts,avi,flv,mp3,aac,wav,ogg"

struct vr_demux_opts {
	const char *input;     /* path, http(s) URL, "-" or NULL for stdin */
	const char *root;      /* a local path must resolve inside it; NULL: none */
	const char *headers;   /* http: extra "Name: value\r\n" lines; NULL: none */
	uint64_t max_bytes;    /* 0: none; past it VR_ELIMIT */
	int64_t max_pixels;    /* decoders probing the streams refuse larger
				* pictures (their size then shows in codecpar,
				* undecoded); 0: none */
	double stall_timeout;  /* seconds without progress; 0: none */
	double deadline_ms;    /* vr_now_ms() by which opening and every read
				* end (VR_ETIMEOUT); 0: none */
};

struct vr_demux {
	struct AVFormatContext *fmt;
	char what[256];        /* the input for messages ("stdin", a path, a URL) */
	int64_t size;          /* bytes, -1 unknown */
	int seekable;
	int spooled;           /* stdin was copied to a temporary file */
	int is_stream;         /* read as it comes (no seeking) */
	/* private */
	void *priv;
};

/* Install the av_log callback: libav messages go to vr_debug (-vv), and
 * the last error-level line is kept for vr_av_last_error(). Idempotent. */
void vr_av_log_setup(void);
/* The last error-level message libav printed, "" if none. */
const char *vr_av_last_error(void);
/* Forget this thread's last libav error: a run starts with none, so its
 * messages only ever carry errors of that run. */
void vr_av_error_reset(void);
/* Messages of ctx (a decoder's worker threads included) count as this
 * thread's: it sets ctx->opaque, which nothing else may use. */
struct AVCodecContext;
void vr_av_error_attach(struct AVCodecContext *ctx);
/* av_err2str into buf, plus the last libav error line when it adds to it;
 * an HTTP status in the one wording of vr_http_failure_text (lib/request/http). */
const char *vr_av_describe(int averr, char *buf, size_t len);

/* Open and probe (avformat_open_input + avformat_find_stream_info).
 * Returns 0 or a vr_status with err; the status comes from what failed:
 * 5 not found, 3 undecodable or a format outside the whitelist, 6 I/O,
 * 7 stall timeout, 8 input byte limit. */
int vr_demux_open(struct vr_demux *d, const struct vr_demux_opts *o, char *err, size_t errlen);
void vr_demux_close(struct vr_demux *d);

/* Progress was made: restart the stall clock. */
void vr_demux_touch(struct vr_demux *d);
/* Map an error of av_read_frame/seek/decoding on this input to a vr_status:
 * the watchdog's timeout (7), the byte limit (8), a signal (1), I/O (6),
 * else bad data (3). */
int vr_demux_status(struct vr_demux *d, int averr);
/* Why reading failed, in words: "broken off at byte N of M" when an http
 * body ended before the size its server announced (whatever error the
 * demuxer met first), else vr_av_describe. Returns buf. */
const char *vr_demux_read_error(const struct vr_demux *d, int averr, char *buf, size_t len);
/* Bytes read from the source so far. */
uint64_t vr_demux_bytes(const struct vr_demux *d);

#endif
