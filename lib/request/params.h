/* Transform parameters: from long options or URL query strings (with the
 * Akamai and IMQuery aliases), validated, with derivatives expanded, and
 * their canonical form — the one text that cache keys are built from.
 *
 * Contract: vr_params holds copies (fixed arrays), not pointers into the
 * query or config; vr_settings borrows its names and values (argv); the *_name functions return string literals. Any
 * thread, except vr_params_options, which builds its table in static
 * storage on first use: main thread (option parsing). */
#ifndef VR_PARAMS_H
#define VR_PARAMS_H

#include <stddef.h>
#include <stdint.h>

struct vr_config;

enum vr_mode { VR_MODE_VIDEO, VR_MODE_FRAME, VR_MODE_SPRITESHEET, VR_MODE_AUDIO };
enum vr_fit { VR_FIT_CONTAIN, VR_FIT_SCALE_DOWN, VR_FIT_COVER };
enum vr_level { VR_LEVEL_AUTO, VR_LEVEL_LOW, VR_LEVEL_MEDIUM, VR_LEVEL_HIGH };
enum vr_format {
	VR_FORMAT_AUTO, /* the mode's default: mp4, jpg, jpg, m4a */
	VR_FORMAT_MP4,  /* H.264 + AAC */
	VR_FORMAT_WEBM, /* VP9 + Opus */
	VR_FORMAT_JPG,
	VR_FORMAT_PNG,
	VR_FORMAT_WEBP,
	VR_FORMAT_M4A,  /* AAC in MP4 */
};

/* Which fields were given explicitly (options or query), so that a
 * derivative fills only the others. */
enum vr_param_bit {
	VR_P_MODE = 1 << 0, VR_P_WIDTH = 1 << 1, VR_P_HEIGHT = 1 << 2, VR_P_FIT = 1 << 3,
	VR_P_TIME = 1 << 4, VR_P_DURATION = 1 << 5, VR_P_FPS = 1 << 6, VR_P_QUALITY = 1 << 7,
	VR_P_COMPRESSION = 1 << 8, VR_P_BITRATE = 1 << 9, VR_P_AUDIO = 1 << 10,
	VR_P_FORMAT = 1 << 11, VR_P_COLUMNS = 1 << 12, VR_P_ROWS = 1 << 13,
	/* not output fields themselves: the preset named, the IMQuery hints */
	VR_P_DERIVATIVE = 1 << 14, VR_P_IMWIDTH = 1 << 15, VR_P_IMHEIGHT = 1 << 16,
};

/* Bounds that do not depend on the config. */
#define VR_PARAMS_MAX_TIME 8640000.0 /* seconds (100 days): time, and time + duration */
#define VR_PARAMS_MAX_IMSIZE 100000  /* imwidth, imheight */
#define VR_PARAMS_MAX_VALUE 1024     /* bytes of one decoded query name or value */
#define VR_PARAMS_CANONICAL_MAX 256  /* a buffer this size always holds the canonical form */
#define VR_PARAMS_BREAKPOINTS_MAX 16 /* [imquery] breakpoint lines */
#define VR_PARAMS_IGNORE_MAX 512     /* bytes of the [request] ignore list */
#define VR_PARAMS_BYPASS_DEFAULT "nocache bypass" /* [request] bypass-names */
/* the names dropped from a query when [request] ignore is not set */
#define VR_PARAMS_IGNORE_DEFAULT "utm_* fbclid gclid msclkid _"
#define VR_PARAMS_IMQUERY_THRESHOLD 0.375 /* the original's 25% with its 1.5x fallback */

struct vr_limits {
	int min_dim, max_dim;        /* output width/height bounds: 10 and 2000 */
	int64_t max_input_pixels;    /* width*height of the input: 8192*8192 */
	int64_t max_output_pixels;   /* of one output picture (a spritesheet whole): 4096*4096 */
	double max_duration;         /* seconds of output: 3600 */
	uint64_t max_input_bytes;    /* 0: none; default 16G */
	int max_tiles;               /* spritesheet columns*rows: 400 */
	/* Not limits, but what else the config says about requests, loaded
	 * with them. [imquery]: imwidth alone picks the derivative of the
	 * first breakpoint whose max holds it (max 0: no bound; above every
	 * max, the last); imheight, or both, the derivative closest within
	 * imquery_threshold (the mean relative difference of the sides). */
	int nbreakpoints;
	struct vr_breakpoint {
		int max;
		char derivative[64];
	} breakpoints[VR_PARAMS_BREAKPOINTS_MAX];
	double imquery_threshold;
	/* [request] ignore: names dropped from a query before the key,
	 * space-separated; a trailing '*' matches a prefix ("utm_*") */
	char ignore[VR_PARAMS_IGNORE_MAX];
	/* [request] bypass-names: the query flags that bypass the cache,
	 * space-separated (default VR_PARAMS_BYPASS_DEFAULT) */
	char bypass[VR_PARAMS_IGNORE_MAX];
};

struct vr_params {
	unsigned set;                /* vr_param_bit of the explicit fields */
	enum vr_mode mode;
	int width, height;           /* 0: not given (keep aspect from the other / the input) */
	enum vr_fit fit;
	double time;                 /* start offset, seconds */
	double duration;             /* seconds; < 0: to the end (video, audio) */
	int fps_num, fps_den;        /* output frame rate fps_num/fps_den, reduced;
				      * fps_num 0: keep the input's */
	enum vr_level quality, compression;
	int64_t bitrate;             /* bits/s cap, 0: none */
	int audio;                   /* 1: keep the audio track, 0: drop it */
	enum vr_format format;
	int columns, rows;           /* spritesheet grid; 0: chosen from the count */
	char derivative[64];         /* the preset applied, "" for none */
	int imwidth, imheight;       /* IMQuery hints, used only to pick a derivative */
	unsigned from_query;         /* vr_param_bit of the fields set from a query string:
				      * finalize's errors about them are VR_EDATA, not VR_EUSAGE */
	unsigned filled;             /* vr_param_bit of the fields finalize filled from a
				      * derivative or from the IMQuery size */
	char output_ext[8];          /* the extension of -o FILE that gave the format
				      * (vr_params_output_path), "" none */
};

void vr_limits_default(struct vr_limits *l);
/* Limits from the config's [limits] section over the defaults, and the
 * [imquery] and [request] sections; 0 or a vr_status (VR_EDATA) with err
 * naming FILE:LINE. */
int vr_limits_load(struct vr_limits *l, const struct vr_config *cfg, char *err, size_t errlen);

void vr_params_init(struct vr_params *p);

/* Set one parameter by name: the long names (mode, width, height, fit,
 * time, duration, fps, quality, compression, bitrate, audio, format,
 * columns, rows, derivative) and, when from_query, also the aliases (w, h,
 * obj-fit with crop->cover and fill->contain, q, f, start, dur, mute,
 * imwidth, imheight). Returns 0, or VR_EDATA (from_query) / VR_EUSAGE
 * (options) with a message naming the parameter and the allowed values.
 * Unknown names are errors too: nothing is silently ignored. */
int vr_params_set(struct vr_params *p, const struct vr_limits *l, const char *name,
		  const char *value, int from_query, char *err, size_t errlen);

/* Is name (n bytes, decoded) a name of the parameter table (long names,
 * aliases, IMQuery hints, the HTML playback attributes) or a cache flag
 * (v, nocache, bypass)? */
int vr_params_is_name(const char *name, size_t n);
/* Is it dropped by the ignore list (vr_limits.ignore)? */
int vr_params_ignored(const char *list, const char *name, size_t n);
/* The [request] ignore list of cfg (may be NULL: the default) into list;
 * 0 or VR_EDATA naming FILE:LINE (a malformed name, or one that would
 * drop a parameter). */
int vr_params_ignore_load(const struct vr_config *cfg, char *list, size_t len, char *err,
			  size_t errlen);

/* Parse "width=640&height=360&fit=cover" (leading '?' allowed,
 * percent-decoding, '+' as space). Cache-busting "v" and the bypass flags
 * (l->bypass: "nocache"/"bypass" by default) are not transform parameters: they are reported
 * through *bypass (may be NULL) and otherwise ignored ("v" is the key's,
 * lib/request/key). The HTML playback attributes (loop, autoplay, muted,
 * preload) and the IMQuery hints im-density, im-viewwidth, im-viewheight
 * and imref are checked and change nothing; names of l->ignore are
 * dropped; any other name is an error. A parameter given
 * twice in one query (under any of its names, e.g. w and width, or mute and
 * audio) is an error unless both give the same value. */
int vr_params_parse_query(struct vr_params *p, const struct vr_limits *l, const char *query,
			  int *bypass, char *err, size_t errlen);

/* The format a file name's extension names, case-insensitive: .mp4,
 * .webm, .m4a, .jpg, .jpeg, .png, .webp; VR_FORMAT_AUTO for any other
 * extension, none, NULL or "-". */
enum vr_format vr_format_from_path(const char *path);

/* -o FILE, before finalize: a known extension (vr_format_from_path) is
 * the format when none was given; it makes the mode audio (m4a) only when
 * neither a mode nor a derivative is named, and never overrides a
 * derivative's mode as a format given does. An explicit format that
 * differs is VR_EUSAGE, and finalize reports a mode that the extension's
 * format does not fit as VR_EUSAGE naming the extension. Any other
 * extension changes nothing. 0 or VR_EUSAGE with err. */
int vr_params_output_path(struct vr_params *p, const char *path, char *err, size_t errlen);

/* Apply the derivative (explicit fields win; when none is named, imwidth
 * alone picks one by the breakpoints of l (<=854 mobile, <=1280 tablet,
 * else desktop), imheight alone or both the closest derivative of the
 * request's mode within l->imquery_threshold, else the requested size is
 * used, exit 8 past the dimension limits), take mode audio from format
 * m4a without a mode, fill the mode's defaults, and check the mode's rules
 * (spritesheet needs width and height; formats and playback-only
 * parameters that do not fit the mode are rejected). Derivatives come from
 * [derivative "NAME"] sections of cfg (may be NULL) over the built-ins,
 * the original's shipped presets: desktop 1920x1080, tablet 1280x720,
 * mobile 854x640 (video, contain, audio, duration 5m, or max-duration
 * when that is less), thumbnail 640x360 (frame, png, time 2s, cover).
 * An explicit mode, or an explicit format that the preset's mode does not
 * take (mp4/webm: video; jpg, png, webp: frame), wins over the preset's
 * mode; the preset's fields that the resulting mode has no use for (or
 * whose format or audio=false it contradicts) are then left out rather
 * than reported. Width and height count
 * as one size: a preset's size applies only when neither is explicit (one
 * explicit side keeps the input's aspect). Finalize also resolves format
 * auto and normalises what cannot change the output (see the top of
 * params.c: fit without a box, levels an encoder does not read, medium
 * as auto), so that the struct the engine
 * runs on says exactly what the canonical form says. */
int vr_params_finalize(struct vr_params *p, const struct vr_limits *l,
		       const struct vr_config *cfg, char *err, size_t errlen);

/* Defaults of quality and compression from the [origin "NAME"] section of
 * cfg, applied after finalize to what neither the request nor its
 * derivative gave. origin NULL or "": none. 0 or VR_EDATA naming FILE:LINE. */
int vr_params_origin_defaults(struct vr_params *p, const struct vr_config *cfg,
			      const char *origin, char *err, size_t errlen);

/* The canonical form after finalize: every output-affecting parameter,
 * defaults filled, derivative expanded, in a fixed order, e.g.
 * "mode=video&width=640&height=0&fit=contain&time=0&duration=-1&fps=0&
 * quality=auto&compression=auto&bitrate=0&audio=1&format=mp4".
 * Two parameter sets with the same output print the same text. Returns the
 * length (like snprintf). */
int vr_params_canonical(const struct vr_params *p, char *buf, size_t len);

/* The transform options of vr-resize and vr-cache get, for the option
 * layer (cli.h): one entry per long parameter name and --query, each
 * appending (name, value) to a struct vr_settings, in the order given.
 * Built on first use from the parameter table of params.c, the one place
 * where parameter names, aliases, letters and help lines are written. */
struct vr_opt;
const struct vr_opt *vr_params_options(void);

#define VR_SETTINGS_MAX 64
struct vr_settings {
	size_t n;
	struct {
		const char *name;  /* NULL: a query string */
		const char *value;
	} v[VR_SETTINGS_MAX];
};

/* Apply settings in order (vr_params_set / vr_params_parse_query); the
 * caller finalizes. 0 or the first error. */
int vr_settings_apply(struct vr_params *p, const struct vr_limits *l, const struct vr_settings *s,
		      char *err, size_t errlen);

/* The long name of a parameter's short option letter (m, w, t, d, f; Q is
 * "query"), or NULL: job lines accept the same short forms. */
const char *vr_params_letter_name(int letter);

const char *vr_mode_name(enum vr_mode m);
const char *vr_format_name(enum vr_format f);
const char *vr_fit_name(enum vr_fit f);
const char *vr_level_name(enum vr_level l);

#endif
