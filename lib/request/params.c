/* Transform parameters: parsing (options and queries), validation,
 * derivatives, mode rules and the canonical form. See params.h.
 *
 * THE CANONICAL FORM (vr_params_canonical), the one text cache keys are
 * built from. Fields in this fixed order, "name=value" joined by '&', and
 * only the fields that can change the output of the mode:
 *
 *   video        mode width height fit time duration fps quality
 *                compression bitrate audio format
 *   frame        mode width height fit time quality compression format
 *   spritesheet  mode width height fit time duration quality compression
 *                format columns rows
 *   audio        mode time duration bitrate format
 *
 * e.g. "mode=frame&width=640&height=360&fit=cover&time=2&quality=auto&
 * compression=auto&format=png". Values:
 *
 *   mode, fit, quality, compression, format   the names of vr_mode_name()
 *        and friends: the lowercase long form, never an alias (jpeg -> jpg,
 *        obj-fit=crop -> cover); format is resolved (never "auto"); quality
 *        and compression print "auto" for medium too, which every encoder
 *        reads alike (lib/av/encode.c)
 *   width, height, columns, rows   decimal integers, 0 when not given
 *   time, duration   seconds, rounded to the microsecond when parsed, printed
 *        as the shortest exact decimal: 2, 1.5, 0.000001; duration -1 means
 *        "to the end of the input"
 *   fps      the exact rate, 0 for the input's. It is parsed as a rational
 *        (a decimal with at most 3 decimals, "29.97" = 2997/100, or
 *        NUM/DEN, "30000/1001") and reduced, and printed as: the integer
 *        when it is whole (25), else the exact decimal when it has one of
 *        at most 3 decimals (29.97, 12.5, 0.001), else the reduced
 *        fraction NUM/DEN (30000/1001). So 25, 25.0, 50/2 and 25/1 all
 *        print 25; 12.5 and 25/2 print 12.5; 30000/1001 and 60000/2002
 *        print 30000/1001
 *   bitrate  bits/s as a decimal integer, 0 for no cap
 *   audio    1 or 0
 *
 * Equivalent sets print equal keys: finalize normalises the struct itself
 * (so the engine sees what the key says) — fit is "contain" when there is
 * no box (neither width nor height) and "cover" becomes "contain" when only
 * one of width/height is given (both just scale; "scale-down" stays, it
 * never enlarges); a video's sides are rounded down to even numbers, as
 * its 4:2:0 encoders need them anyway (641 and 640 are one output); mode
 * audio's quality and compression are "auto", its output does not depend
 * on them (the AAC track is copied when it can be, which ignores them,
 * else encoded at the auto rate under the bitrate cap: a key cannot know
 * which, so neither may change the output); and a level an encoder does
 * not read is "auto": compression for JPEG (frames and spritesheets: the
 * MJPEG encoder has a quality scale only), quality for PNG (lossless, only
 * its zlib level is set). The derivative name and the
 * imwidth/imheight hints are not in the key: what they chose is, as
 * expanded fields.
 *
 * Decisions where the brief was silent are noted where they are made. */
#include "params.h"
#include "log.h"
#include "defaults.h"
#include "lifecycle.h"
#include "cli.h"
#include "config.h"
#include "num.h"
#include "status.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FIELD_BITS                                                                          \
	(VR_P_MODE | VR_P_WIDTH | VR_P_HEIGHT | VR_P_FIT | VR_P_TIME | VR_P_DURATION |      \
	 VR_P_FPS | VR_P_QUALITY | VR_P_COMPRESSION | VR_P_BITRATE | VR_P_AUDIO |           \
	 VR_P_FORMAT | VR_P_COLUMNS | VR_P_ROWS)

#define SPRITE_DEFAULT_DURATION 10.0
#define MAX_GRID 20
#define LIMIT_MAX_DIM 16384 /* no encoder vr uses goes past this */

/* ---------------------------------------------------------------- names */

/* in enum order; NULL-terminated, they are also the option layer's words */
static const char *const mode_names[] = {"video", "frame", "spritesheet", "audio", NULL};
static const char *const fit_names[] = {"contain", "scale-down", "cover", NULL};
static const char *const level_names[] = {"auto", "low", "medium", "high", NULL};
static const char *const format_names[] = {"auto", "mp4", "webm", "jpg", "png", "webp", "m4a", NULL};

const char *vr_mode_name(enum vr_mode m)
{
	return (unsigned)m < 4 ? mode_names[m] : "?";
}

const char *vr_fit_name(enum vr_fit f)
{
	return (unsigned)f < 3 ? fit_names[f] : "?";
}

const char *vr_level_name(enum vr_level l)
{
	return (unsigned)l < 4 ? level_names[l] : "?";
}

const char *vr_format_name(enum vr_format f)
{
	return (unsigned)f < 7 ? format_names[f] : "?";
}

/* ---------------------------------------------------------------- errors */

/* An untrusted value, made safe to print: at most 48 bytes, control and
 * non-ASCII bytes as '?', "..." when cut. */
struct shown {
	char s[56];
};

static struct shown show(const char *v)
{
	struct shown o;
	size_t i = 0;
	for (; v[i] && i < 48; i++)
		o.s[i] = (v[i] < 0x20 || v[i] >= 0x7f) ? '?' : v[i];
	if (v[i])
		memcpy(o.s + i, "...", 4);
	else
		o.s[i] = '\0';
	return o;
}

/* ---------------------------------------------------------------- limits */

void vr_limits_default(struct vr_limits *l)
{
	l->min_dim = VR_DEFAULT_MIN_DIMENSION;
	l->max_dim = VR_DEFAULT_MAX_DIMENSION;
	l->max_input_pixels = VR_DEFAULT_MAX_INPUT_PIXELS;
	l->max_output_pixels = VR_DEFAULT_MAX_OUTPUT_PIXELS;
	l->max_duration = VR_DEFAULT_MAX_DURATION;
	l->max_input_bytes = VR_DEFAULT_MAX_INPUT_BYTES;
	l->max_tiles = MAX_GRID * MAX_GRID;
	static const struct vr_breakpoint bp[] = {{854, "mobile"}, {1280, "tablet"}, {0, "desktop"}};
	l->nbreakpoints = 3;
	memcpy(l->breakpoints, bp, sizeof bp);
	l->imquery_threshold = VR_PARAMS_IMQUERY_THRESHOLD;
	snprintf(l->ignore, sizeof l->ignore, "%s", VR_PARAMS_IGNORE_DEFAULT);
	snprintf(l->bypass, sizeof l->bypass, "%s", VR_PARAMS_BYPASS_DEFAULT);
}

static int imquery_load(struct vr_limits *l, const struct vr_config *cfg, char *err,
			size_t errlen);

/* An integer [limits] key in [lo, hi]: 0 (absent: *out unchanged) or VR_EDATA. */
static int limit_int(const struct vr_config *cfg, const char *key, int64_t lo, int64_t hi,
		     int64_t *out, char *err, size_t errlen)
{
	const char *v = vr_config_get(cfg, "limits", NULL, key);
	if (!v)
		return 0;
	uint64_t u;
	if (vr_parse_u64(v, &u) < 0 || u < (uint64_t)lo || u > (uint64_t)hi)
		return vr_errf(err, errlen, VR_EDATA,
			    "%s: [limits] %s: '%s' is not an integer in range %lld-%lld",
			    vr_config_where(cfg, "limits", NULL, key), key, show(v).s, (long long)lo,
			    (long long)hi);
	*out = (int64_t)u;
	return 0;
}

static int bypass_names_load(const struct vr_config *cfg, char *list, size_t len, char *err,
			     size_t errlen);

int vr_limits_load(struct vr_limits *l, const struct vr_config *cfg, char *err, size_t errlen)
{
	vr_limits_default(l);
	if (!cfg)
		return 0;
	static const char *const limit_keys[] = {
		"min-dimension", "max-dimension", "max-input-pixels", "max-output-pixels",
		"max-duration", "max-input-bytes", "max-tiles", NULL,
	};
	int bad = vr_config_check_keys(cfg, "limits", NULL, limit_keys, err, errlen);
	if (bad)
		return bad;
	/* Decision: dimensions are capped at 16384 (no encoder vr uses goes
	 * further, and products of them stay far inside int); max-tiles at
	 * 400, what 20 columns by 20 rows can reach. */
	int64_t mind = l->min_dim, maxd = l->max_dim, tiles = l->max_tiles;
	int r;
	if ((r = limit_int(cfg, "min-dimension", 1, LIMIT_MAX_DIM, &mind, err, errlen)) ||
	    (r = limit_int(cfg, "max-dimension", 1, LIMIT_MAX_DIM, &maxd, err, errlen)) ||
	    (r = limit_int(cfg, "max-input-pixels", 1, INT64_MAX, &l->max_input_pixels, err,
			   errlen)) ||
	    (r = limit_int(cfg, "max-output-pixels", 1, INT64_MAX, &l->max_output_pixels, err,
			   errlen)) ||
	    (r = limit_int(cfg, "max-tiles", 1, MAX_GRID * MAX_GRID, &tiles, err, errlen)) ||
	    (r = vr_config_size(cfg, "limits", NULL, "max-input-bytes", &l->max_input_bytes, err,
				errlen)))
		return r;
	if (mind > maxd) {
		const char *k = vr_config_get(cfg, "limits", NULL, "min-dimension") ? "min-dimension"
										      : "max-dimension";
		return vr_errf(err, errlen, VR_EDATA,
			    "%s: [limits] min-dimension %lld is more than max-dimension %lld",
			    vr_config_where(cfg, "limits", NULL, k), (long long)mind, (long long)maxd);
	}
	l->min_dim = (int)mind;
	l->max_dim = (int)maxd;
	l->max_tiles = (int)tiles;

	const char *s = vr_config_get(cfg, "limits", NULL, "max-duration");
	if (s) {
		double d;
		if (vr_parse_seconds(s, &d) < 0 || llround(d * 1e6) < 1 || d > VR_PARAMS_MAX_TIME)
			return vr_errf(err, errlen, VR_EDATA,
				    "%s: [limits] max-duration: '%s' is not a duration in range (0-%g] seconds (like 3600, 90s, 1h)",
				    vr_config_where(cfg, "limits", NULL, "max-duration"), show(s).s,
				    VR_PARAMS_MAX_TIME);
		l->max_duration = (double)llround(d * 1e6) / 1e6;
	}
	if ((r = vr_params_ignore_load(cfg, l->ignore, sizeof l->ignore, err, errlen)) ||
	    (r = bypass_names_load(cfg, l->bypass, sizeof l->bypass, err, errlen)))
		return r;
	return imquery_load(l, cfg, err, errlen);
}

/* ---------------------------------------------------------------- values */

void vr_params_init(struct vr_params *p)
{
	memset(p, 0, sizeof *p);
	p->mode = VR_MODE_VIDEO;
	p->fit = VR_FIT_CONTAIN;
	p->duration = -1;
	p->quality = VR_LEVEL_AUTO;
	p->compression = VR_LEVEL_AUTO;
	p->audio = 1;
	p->format = VR_FORMAT_AUTO;
}

/* Index of v among names (case-insensitive), or -1. */
static int pick(const char *v, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (!strcasecmp(v, names[i]))
			return i;
	return -1;
}

/* A decimal integer in [lo, hi]: 0; -1 not an integer; -2 out of range. */
static int parse_int(const char *v, long lo, long hi, int *out)
{
	uint64_t u;
	if (vr_parse_u64(v, &u) < 0) {
		for (const char *c = v; *c; c++)
			if (*c < '0' || *c > '9')
				return -1;
		return *v ? -2 : -1; /* all digits: too many of them */
	}
	if (u < (uint64_t)lo || u > (uint64_t)hi)
		return -2;
	*out = (int)u;
	return 0;
}

/* A frame rate: "29.97" (digits with at most 3 decimals) or "30000/1001"
 * (two decimal integers), as a reduced fraction. Decision: more decimals
 * are refused rather than rounded, so that the key prints the exact value
 * the engine uses. Returns 0; -1 not a number; -2 out of range (a part
 * above 1000000, or a zero denominator); -3 more than 3 decimals. The
 * (0-120] check is the caller's. */
static int64_t gcd64(int64_t a, int64_t b)
{
	while (b) {
		int64_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

#define FPS_PART_MAX 1000000

static int parse_fps(const char *v, int *num, int *den)
{
	int64_t n = 0, d = 1;
	const char *slash = strchr(v, '/');
	if (slash) {
		int64_t part[2] = {0, 0};
		const char *c = v;
		for (int k = 0; k < 2; k++) {
			int nd = 0;
			for (; *c >= '0' && *c <= '9'; c++, nd++) {
				if (part[k] > FPS_PART_MAX)
					return -2;
				part[k] = part[k] * 10 + (*c - '0');
			}
			if (nd == 0 || (k == 0 ? *c != '/' : *c != '\0'))
				return -1;
			c++;
		}
		if (part[0] > FPS_PART_MAX || part[1] > FPS_PART_MAX || part[1] == 0)
			return -2;
		n = part[0];
		d = part[1];
	} else {
		int64_t ip = 0, frac = 0;
		int nd = 0, nf = 0;
		const char *c = v;
		for (; *c >= '0' && *c <= '9'; c++, nd++) {
			if (ip > FPS_PART_MAX)
				return -2;
			ip = ip * 10 + (*c - '0');
		}
		if (*c == '.') {
			c++;
			for (; *c >= '0' && *c <= '9'; c++, nf++) {
				if (nf == 3)
					return -3;
				frac = frac * 10 + (*c - '0');
			}
			if (nf == 0)
				return -1;
		}
		if (*c || (nd == 0 && nf == 0))
			return -1;
		if (ip > FPS_PART_MAX)
			return -2;
		while (nf++ < 3)
			frac *= 10;
		n = ip * 1000 + frac;
		d = 1000;
	}
	int64_t g = n ? gcd64(n, d) : d;
	*num = (int)(n / g);
	*den = (int)(d / g);
	return 0;
}

/* "800k", "2M", "1.5M", "1500000": bits/s with decimal SI suffixes. */
static int parse_bitrate(const char *v, int64_t *out)
{
	int64_t ip = 0, frac = 0, scale = 1, mult = 1;
	int nd = 0, nf = 0;
	const char *c = v;
	for (; *c >= '0' && *c <= '9'; c++, nd++) {
		if (ip > 1000000000000LL)
			return -2;
		ip = ip * 10 + (*c - '0');
	}
	if (*c == '.') {
		c++;
		for (; *c >= '0' && *c <= '9'; c++, nf++) {
			if (nf == 6)
				return -1;
			frac = frac * 10 + (*c - '0');
			scale *= 10;
		}
		if (nf == 0)
			return -1;
	}
	if (nd == 0 && nf == 0)
		return -1;
	if (*c == 'k' || *c == 'K')
		mult = 1000, c++;
	else if (*c == 'm' || *c == 'M')
		mult = 1000000, c++;
	if (*c)
		return -1;
	int64_t num = ip * scale + frac; /* < 1e12 * 1e6: fits */
	if (num > INT64_MAX / mult)
		return -2;
	num *= mult;
	if (num % scale)
		return -3; /* a fraction of a bit */
	*out = num / scale;
	return 0;
}

/* 1 true, 0 false, -1 neither. */
static int parse_bool(const char *v)
{
	static const char *const t[] = {"true", "1", "yes"}, *const f[] = {"false", "0", "no"};
	if (pick(v, t, 3) >= 0)
		return 1;
	if (pick(v, f, 3) >= 0)
		return 0;
	return -1;
}

/* Seconds, rounded to the microsecond (AV_TIME_BASE, the engine's
 * resolution), so that the key prints exactly what the engine uses. */
static int parse_secs(const char *v, double *out)
{
	double d;
	if (vr_parse_seconds(v, &d) < 0 || !isfinite(d) || d < 0)
		return -1;
	if (d > VR_PARAMS_MAX_TIME)
		return -2;
	*out = (double)llround(d * 1e6) / 1e6;
	return 0;
}

enum kind {
	K_MODE, K_WIDTH, K_HEIGHT, K_FIT, K_OBJFIT, K_TIME, K_DURATION, K_FPS, K_QUALITY,
	K_COMPRESSION, K_BITRATE, K_AUDIO, K_MUTE, K_FORMAT, K_COLUMNS, K_ROWS, K_DERIVATIVE,
	K_IMWIDTH, K_IMHEIGHT, K_PLAYBACK, K_PRELOAD, K_DENSITY, K_VIEWSIZE, K_IMREF,
};

/* THE TRANSFORM PARAMETER TABLE: every name a parameter is known by (the
 * long names, which are also vr-resize's and vr-cache get's options and
 * the job-line words, and the query-only aliases and hints), its kind,
 * the field bit it sets, and for the long names the option letter,
 * argument and help line. The option table (vr_params_options), job-line
 * short options and the --query help are built from it. */
static const char *const bool_words[] = {"true", "false", NULL};

static const struct pname {
	const char *name;
	enum kind kind;
	unsigned bit;
	int query_only; /* an alias or hint: query strings only */
	char letter;
	const char *arg, *help;
	const char *const *words;
} pnames[] = {
	{"mode", K_MODE, VR_P_MODE, 0, 'm', "MODE", "what to make", mode_names},
	{"width", K_WIDTH, VR_P_WIDTH, 0, 'w', "N",
	 "output width in pixels (10-2000); one side alone\nkeeps the aspect", NULL},
	{"height", K_HEIGHT, VR_P_HEIGHT, 0, 0, "N", "output height in pixels (10-2000)", NULL},
	{"fit", K_FIT, VR_P_FIT, 0, 0, "FIT", "how the picture fills width x height", fit_names},
	{"time", K_TIME, VR_P_TIME, 0, 't', "T", "start (5s, 1.5s, 2m, 01:02:03.5)", NULL},
	{"duration", K_DURATION, VR_P_DURATION, 0, 'd', "D",
	 "length (video, audio, spritesheet)", NULL},
	{"fps", K_FPS, VR_P_FPS, 0, 0, "N", "output frame rate (video): 25, 29.97, 30000/1001",
	 NULL},
	{"quality", K_QUALITY, VR_P_QUALITY, 0, 0, "Q", "quality", level_names},
	{"compression", K_COMPRESSION, VR_P_COMPRESSION, 0, 0, "C",
	 "encoder effort", level_names},
	{"bitrate", K_BITRATE, VR_P_BITRATE, 0, 0, "B", "video bitrate cap (800k, 2M)", NULL},
	{"audio", K_AUDIO, VR_P_AUDIO, 0, 0, "BOOL", "keep the audio track", bool_words},
	{"format", K_FORMAT, VR_P_FORMAT, 0, 'f', "F",
	 "output format (which ones a mode takes: vr-resize(1))",
	 format_names + 1},
	{"columns", K_COLUMNS, VR_P_COLUMNS, 0, 0, "N", "spritesheet columns", NULL},
	{"rows", K_ROWS, VR_P_ROWS, 0, 0, "N", "spritesheet rows", NULL},
	{"derivative", K_DERIVATIVE, VR_P_DERIVATIVE, 0, 0, "NAME",
	 "a preset: desktop, tablet, mobile, thumbnail or a\n[derivative \"NAME\"] of the config",
	 NULL},
	{"w", K_WIDTH, VR_P_WIDTH, 1, 0, NULL, NULL, NULL},
	{"h", K_HEIGHT, VR_P_HEIGHT, 1, 0, NULL, NULL, NULL},
	{"obj-fit", K_OBJFIT, VR_P_FIT, 1, 0, NULL, NULL, NULL},
	{"q", K_QUALITY, VR_P_QUALITY, 1, 0, NULL, NULL, NULL},
	{"f", K_FORMAT, VR_P_FORMAT, 1, 0, NULL, NULL, NULL},
	{"start", K_TIME, VR_P_TIME, 1, 0, NULL, NULL, NULL},
	{"dur", K_DURATION, VR_P_DURATION, 1, 0, NULL, NULL, NULL},
	{"mute", K_MUTE, VR_P_AUDIO, 1, 0, NULL, NULL, NULL},
	{"imwidth", K_IMWIDTH, VR_P_IMWIDTH, 1, 0, NULL, NULL, NULL},
	{"imheight", K_IMHEIGHT, VR_P_IMHEIGHT, 1, 0, NULL, NULL, NULL},
	/* accepted, checked, and without effect on the output or the key: the
	 * HTML playback attributes that players append, and the IMQuery hints
	 * the original read only for diagnostics (bit 0: no field) */
	{"loop", K_PLAYBACK, 0, 1, 0, NULL, NULL, NULL},
	{"autoplay", K_PLAYBACK, 0, 1, 0, NULL, NULL, NULL},
	{"muted", K_PLAYBACK, 0, 1, 0, NULL, NULL, NULL},
	{"preload", K_PRELOAD, 0, 1, 0, NULL, NULL, NULL},
	{"im-density", K_DENSITY, 0, 1, 0, NULL, NULL, NULL},
	{"im-viewwidth", K_VIEWSIZE, 0, 1, 0, NULL, NULL, NULL},
	{"im-viewheight", K_VIEWSIZE, 0, 1, 0, NULL, NULL, NULL},
	{"imref", K_IMREF, 0, 1, 0, NULL, NULL, NULL},
};
#define NPNAMES (sizeof pnames / sizeof *pnames)

static const struct pname *find_name(const char *name)
{
	for (size_t i = 0; i < sizeof pnames / sizeof *pnames; i++)
		if (!strcmp(pnames[i].name, name))
			return &pnames[i];
	return NULL;
}

/* the cache flags of a query, not transform parameters */
static const char *const flag_names[] = {"v", "nocache", "bypass", NULL};

int vr_params_is_name(const char *name, size_t n)
{
	for (size_t i = 0; i < NPNAMES; i++)
		if (strlen(pnames[i].name) == n && !memcmp(pnames[i].name, name, n))
			return 1;
	for (const char *const *f = flag_names; *f; f++)
		if (strlen(*f) == n && !memcmp(*f, name, n))
			return 1;
	return 0;
}

int vr_params_ignored(const char *list, const char *name, size_t n)
{
	const char *s = list ? list : "";
	while (*s) {
		size_t tl = strcspn(s, " ");
		if (tl && s[tl - 1] == '*' ? n >= tl - 1 && !memcmp(s, name, tl - 1)
					   : tl == n && !memcmp(s, name, n))
			return 1;
		s += tl;
		s += strspn(s, " ");
	}
	return 0;
}

/* A name of the ignore list: letters, digits, '-', '_', '.', '~', with an
 * optional trailing '*'. */
static int ignore_token_ok(const char *t, size_t n)
{
	size_t body = n && t[n - 1] == '*' ? n - 1 : n;
	if (!body)
		return 0;
	for (size_t i = 0; i < body; i++) {
		char c = t[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.' || c == '~'))
			return 0;
	}
	return 1;
}

int vr_params_ignore_load(const struct vr_config *cfg, char *list, size_t len, char *err,
			  size_t errlen)
{
	snprintf(list, len, "%s", VR_PARAMS_IGNORE_DEFAULT);
	if (!cfg)
		return 0;
	static const char *const keys[] = {"ignore", "bypass-names", NULL};
	if (vr_config_check_keys(cfg, "request", NULL, keys, err, errlen))
		return VR_EDATA;
	if (!vr_config_get(cfg, "request", NULL, "ignore"))
		return 0;
	/* set: the values replace the default, in file order */
	size_t o = 0;
	list[0] = '\0';
	const char *v;
	for (size_t i = 0; (v = vr_config_get_nth(cfg, "request", NULL, "ignore", i)); i++) {
		const char *where = vr_config_where(cfg, "request", NULL, "ignore");
		/* vr_config_where names the last value; say which value is bad */
		while (*v) {
			v += strspn(v, " \t,");
			size_t tl = strcspn(v, " \t,");
			if (!tl)
				break;
			char tok[72];
			snprintf(tok, sizeof tok, "%.*s", (int)(tl < 64 ? tl : 64), v);
			if (!ignore_token_ok(v, tl))
				return vr_errf(err, errlen, VR_EDATA,
					    "%s: [request] ignore: '%s' is not a query name (letters, digits, '-', '_', '.', '~'), with an optional trailing '*'",
					    where, show(tok).s);
			for (size_t k = 0; k < NPNAMES; k++) {
				const char *pn = pnames[k].name;
				if (vr_params_ignored(tok, pn, strlen(pn)))
					return vr_errf(err, errlen, VR_EDATA,
						    "%s: [request] ignore: '%s' would drop the parameter '%s'",
						    where, show(tok).s, pn);
			}
			for (const char *const *f = flag_names; *f; f++)
				if (vr_params_ignored(tok, *f, strlen(*f)))
					return vr_errf(err, errlen, VR_EDATA,
						    "%s: [request] ignore: '%s' would drop the cache flag '%s'",
						    where, show(tok).s, *f);
			if (o + tl + 2 > len)
				return vr_errf(err, errlen, VR_EDATA,
					    "%s: [request] ignore: longer than %zu bytes", where, len - 1);
			o += (size_t)snprintf(list + o, len - o, "%s%s", o ? " " : "", tok);
			v += tl;
		}
	}
	return 0;
}

/* [request] bypass-names: the query flags that bypass the cache (they
 * replace "nocache bypass"); names of the ignore list's alphabet, never a
 * parameter's or the cache-busting v. */
static int bypass_names_load(const struct vr_config *cfg, char *list, size_t len, char *err,
			     size_t errlen)
{
	const char *v = vr_config_get(cfg, "request", NULL, "bypass-names");
	if (!v)
		return 0;
	const char *where = vr_config_where(cfg, "request", NULL, "bypass-names");
	size_t o = 0;
	list[0] = '\0';
	while (*v) {
		v += strspn(v, " \t,");
		size_t tl = strcspn(v, " \t,");
		if (!tl)
			break;
		char tok[72];
		snprintf(tok, sizeof tok, "%.*s", (int)(tl < 64 ? tl : 64), v);
		if (v[tl - 1] == '*' || !ignore_token_ok(v, tl))
			return vr_errf(err, errlen, VR_EDATA,
				    "%s: [request] bypass-names: '%s' is not a query name (letters, digits, '-', '_', '.', '~')",
				    where, show(tok).s);
		if (find_name(tok) || !strcmp(tok, "v"))
			return vr_errf(err, errlen, VR_EDATA,
				    "%s: [request] bypass-names: '%s' is a parameter", where,
				    show(tok).s);
		if (o + tl + 2 > len)
			return vr_errf(err, errlen, VR_EDATA,
				    "%s: [request] bypass-names: longer than %zu bytes", where, len - 1);
		o += (size_t)snprintf(list + o, len - o, "%s%s", o ? " " : "", tok);
		v += tl;
	}
	return 0;
}

/* The long name of a field bit, for messages. */
static const char *bit_name(unsigned bit)
{
	for (size_t i = 0; i < sizeof pnames / sizeof *pnames; i++)
		if (pnames[i].bit == bit && !pnames[i].query_only)
			return pnames[i].name;
	return bit == VR_P_IMWIDTH ? "imwidth" : bit == VR_P_IMHEIGHT ? "imheight" : "?";
}

static int valid_deriv_name(const char *v)
{
	size_t n = strlen(v);
	if (n == 0 || n >= sizeof ((struct vr_params *)0)->derivative)
		return 0;
	for (; *v; v++)
		if (!((*v >= 'a' && *v <= 'z') || (*v >= 'A' && *v <= 'Z') ||
		      (*v >= '0' && *v <= '9') || *v == '-' || *v == '_' || *v == '.'))
			return 0;
	return 1;
}

static int set_one(struct vr_params *p, const struct vr_limits *l, const char *name,
		   const char *value, int from_query, char *err, size_t errlen);

/* The word a field's value is printed as (the canonical form's), or NULL
 * for numeric fields. */
static const char *value_word(const struct vr_params *p, unsigned bit)
{
	switch (bit) {
	case VR_P_MODE: return vr_mode_name(p->mode);
	case VR_P_FIT: return vr_fit_name(p->fit);
	case VR_P_QUALITY: return vr_level_name(p->quality);
	case VR_P_COMPRESSION: return vr_level_name(p->compression);
	case VR_P_FORMAT: return vr_format_name(p->format);
	case VR_P_AUDIO: return p->audio ? "true" : "false";
	default: return NULL;
	}
}

/* A value refused under one name may be a word of another name of the
 * same field, whose words differ (fit=crop: crop is obj-fit's): say both
 * spellings that are accepted. Appends " (did you mean ...?)" to err. */
static void suggest_alias(const struct pname *pn, const struct vr_limits *l, const char *value,
			  int from_query, char *err, size_t errlen)
{
	size_t have = strlen(err);
	if (!pn->bit)
		return;
	for (size_t i = 0; i < NPNAMES; i++) {
		const struct pname *other = &pnames[i];
		if (other == pn || other->bit != pn->bit)
			continue;
		struct vr_params t;
		vr_params_init(&t);
		char e2[256];
		if (set_one(&t, l, other->name, value, 1, e2, sizeof e2))
			continue;
		const char *word = value_word(&t, pn->bit);
		if (!word)
			continue;
		/* the same field under the name that was used: its word for it */
		struct vr_params u;
		vr_params_init(&u);
		if (set_one(&u, l, pn->name, word, from_query, e2, sizeof e2))
			continue;
		struct shown sv = show(value);
		if (from_query)
			snprintf(err + have, errlen - have, " (did you mean %s=%s or %s=%s?)",
				 other->name, sv.s, pn->name, word);
		else if (other->query_only)
			snprintf(err + have, errlen - have,
				 " (did you mean %s? '%s' is a value of %s, a query name)", word, sv.s,
				 other->name);
		else
			snprintf(err + have, errlen - have, " (did you mean %s %s, or %s %s?)",
				 other->name, sv.s, pn->name, word);
		return;
	}
}

int vr_params_set(struct vr_params *p, const struct vr_limits *l, const char *name,
		  const char *value, int from_query, char *err, size_t errlen)
{
	int r = set_one(p, l, name, value, from_query, err, errlen);
	if (r && err && errlen && value && *value) {
		const struct pname *pn = find_name(name);
		if (pn && (from_query || !pn->query_only) && strlen(err) + 1 < errlen)
			suggest_alias(pn, l, value, from_query, err, errlen);
	}
	return r;
}

/* Setting a parameter is table-driven: each kind has a setter that
 * parses and checks a value and stores it. A setter returns 0, BAD (the
 * value is not one of the kind: exit 3 from a query, 2 from an option) or
 * VR_ELIMIT (a well-formed value past a configured [limits] bound: exit 8
 * from anywhere), with why saying what is accepted (without the name). */
#define BAD VR_EDATA

struct setter_ctx {
	struct vr_params *p;
	const struct vr_limits *l;
	const struct pname *pn;
	const char *value, *sv; /* the value, and its printable form */
	char *why;
	size_t wl;
};

#define WHY(c, ...) (snprintf((c)->why, (c)->wl, __VA_ARGS__), BAD)
#define WHY_LIMIT(c, ...) (snprintf((c)->why, (c)->wl, __VA_ARGS__), VR_ELIMIT)

static int set_mode(struct setter_ctx *c)
{
	int i = pick(c->value, mode_names, 4);
	if (i < 0)
		return WHY(c, "'%s' is not one of video, frame, spritesheet, audio", c->sv);
	c->p->mode = (enum vr_mode)i;
	return 0;
}

static int set_dimension(struct setter_ctx *c)
{
	int i, r = parse_int(c->value, c->l->min_dim, c->l->max_dim, &i);
	if (r == -1)
		return WHY(c, "'%s' is not an integer number of pixels in range %d-%d", c->sv,
			   c->l->min_dim, c->l->max_dim);
	if (r < 0) /* [limits] min-dimension, max-dimension */
		return WHY_LIMIT(c, "'%s' is out of range %d-%d", c->sv, c->l->min_dim, c->l->max_dim);
	if (c->pn->kind == K_WIDTH)
		c->p->width = i;
	else
		c->p->height = i;
	return 0;
}

static int set_fit(struct setter_ctx *c)
{
	int i = pick(c->value, fit_names, 3);
	if (i < 0)
		return WHY(c, "'%s' is not one of contain, scale-down, cover", c->sv);
	c->p->fit = (enum vr_fit)i;
	return 0;
}

static int set_objfit(struct setter_ctx *c)
{
	int i;
	if (!strcasecmp(c->value, "crop"))
		i = VR_FIT_COVER;
	else if (!strcasecmp(c->value, "fill"))
		i = VR_FIT_CONTAIN;
	else if ((i = pick(c->value, fit_names, 3)) < 0)
		return WHY(c, "'%s' is not one of crop, fill, contain, scale-down, cover", c->sv);
	c->p->fit = (enum vr_fit)i;
	return 0;
}

static int set_time(struct setter_ctx *c)
{
	double d;
	int r = parse_secs(c->value, &d);
	if (r == -1)
		return WHY(c,
			   "'%s' is not a duration (like 5s, 1.5s, 2m, 90, 00:01:30.5); allowed 0-%.0f "
			   "seconds",
			   c->sv, VR_PARAMS_MAX_TIME);
	if (r < 0)
		return WHY(c, "'%s' is out of range 0-%.0f seconds", c->sv, VR_PARAMS_MAX_TIME);
	c->p->time = d;
	return 0;
}

static int set_duration(struct setter_ctx *c)
{
	double d;
	int r = parse_secs(c->value, &d);
	if (r == -1)
		return WHY(c,
			   "'%s' is not a duration (like 5s, 1.5s, 2m, 90, 00:01:30.5); allowed "
			   "(0-%.15g] seconds",
			   c->sv, c->l->max_duration);
	if (r < 0 || d <= 0)
		return WHY(c, "'%s' is out of range (0-%.15g] seconds (more than 0)", c->sv,
			   c->l->max_duration);
	if (d > c->l->max_duration) /* [limits] max-duration */
		return WHY_LIMIT(c, "'%s' is out of range (0-%.15g] seconds (max-duration)", c->sv,
				 c->l->max_duration);
	c->p->duration = d;
	return 0;
}

static int set_fps(struct setter_ctx *c)
{
	int fn = 0, fd = 1;
	int r = parse_fps(c->value, &fn, &fd);
	/* (0, 120]: num > 0 and num <= 120 den */
	if (r == 0 && !(fn > 0 && (int64_t)fn <= 120 * (int64_t)fd))
		r = -2;
	if (r == -3)
		return WHY(c,
			   "'%s' has more than 3 decimals (give NUM/DEN for an exact rate such as "
			   "30000/1001); allowed (0-120] frames per second",
			   c->sv);
	if (r < 0)
		return WHY(c, "'%s' is %s (0-120] frames per second (like 25, 29.97, 30000/1001)",
			   c->sv, r == -1 ? "not a number in range" : "out of range");
	c->p->fps_num = fn;
	c->p->fps_den = fd;
	return 0;
}

static int set_level(struct setter_ctx *c)
{
	int i = pick(c->value, level_names, 4);
	if (i < 0)
		return WHY(c, "'%s' is not one of low, medium, high, auto", c->sv);
	if (c->pn->kind == K_QUALITY)
		c->p->quality = (enum vr_level)i;
	else
		c->p->compression = (enum vr_level)i;
	return 0;
}

static int set_bitrate(struct setter_ctx *c)
{
	int64_t v;
	int r = parse_bitrate(c->value, &v);
	if (r == 0 && !(v >= 10000 && v <= 100000000))
		r = -2;
	if (r < 0)
		return WHY(c, "'%s' is %s 10k-100M bits/s (like 800k, 2M, 1500000)", c->sv,
			   r == -1   ? "not a bitrate in range"
			   : r == -2 ? "out of range"
				     : "not a whole number of bits/s; allowed");
	c->p->bitrate = v;
	return 0;
}

static int set_audio(struct setter_ctx *c)
{
	int i = parse_bool(c->value);
	if (i < 0)
		return WHY(c, "'%s' is not one of true, false, 1, 0, yes, no", c->sv);
	c->p->audio = c->pn->kind == K_MUTE ? !i : i;
	return 0;
}

static int set_format(struct setter_ctx *c)
{
	int i;
	if (!strcasecmp(c->value, "jpeg"))
		i = VR_FORMAT_JPG;
	else if ((i = pick(c->value, format_names, 7)) <= 0) /* "auto" is not a value */
		return WHY(c, "'%s' is not one of mp4, webm, jpg, jpeg, png, webp, m4a", c->sv);
	c->p->format = (enum vr_format)i;
	return 0;
}

static int set_grid(struct setter_ctx *c)
{
	int i, r = parse_int(c->value, 1, MAX_GRID, &i);
	if (r < 0)
		return WHY(c, "'%s' is %s 1-%d", c->sv,
			   r == -1 ? "not an integer in range" : "out of range", MAX_GRID);
	if (c->pn->kind == K_COLUMNS)
		c->p->columns = i;
	else
		c->p->rows = i;
	return 0;
}

static int set_derivative(struct setter_ctx *c)
{
	/* only the shape here: which names exist needs the config, that is
	 * finalize's job */
	if (!valid_deriv_name(c->value))
		return WHY(c, "'%s' is not a derivative name (1-%zu letters, digits, '-', '_', '.')",
			   c->sv, sizeof c->p->derivative - 1);
	strcpy(c->p->derivative, c->value);
	return 0;
}

static int set_imsize(struct setter_ctx *c)
{
	int i, r = parse_int(c->value, 1, VR_PARAMS_MAX_IMSIZE, &i);
	if (r < 0)
		return WHY(c, "'%s' is %s 1-%d", c->sv,
			   r == -1 ? "not an integer in range" : "out of range", VR_PARAMS_MAX_IMSIZE);
	if (c->pn->kind == K_IMWIDTH)
		c->p->imwidth = i;
	else
		c->p->imheight = i;
	return 0;
}

/* The names without effect: checked so that a typo in a value shows, then
 * dropped. A bare attribute ("loop", "loop=") is true, as in HTML. */
static int set_playback(struct setter_ctx *c)
{
	if (parse_bool(c->value) < 0)
		return WHY(c, "'%s' is not one of true, false, 1, 0, yes, no", c->sv);
	return 0;
}

static int set_preload(struct setter_ctx *c)
{
	static const char *const words[] = {"none", "metadata", "auto"};
	if (pick(c->value, words, 3) < 0)
		return WHY(c, "'%s' is not one of none, metadata, auto", c->sv);
	return 0;
}

static int set_density(struct setter_ctx *c)
{
	double d;
	char *end;
	if (!(c->value[0] >= '0' && c->value[0] <= '9') ||
	    (d = strtod(c->value, &end), *end) || !(d > 0 && d <= 10))
		return WHY(c, "'%s' is not a pixel ratio in range (0-10] (like 1, 1.5, 2)", c->sv);
	return 0;
}

static int set_viewsize(struct setter_ctx *c)
{
	int i, r = parse_int(c->value, 1, VR_PARAMS_MAX_IMSIZE, &i);
	if (r < 0)
		return WHY(c, "'%s' is %s 1-%d", c->sv,
			   r == -1 ? "not an integer in range" : "out of range", VR_PARAMS_MAX_IMSIZE);
	return 0;
}

static int set_imref(struct setter_ctx *c)
{
	(void)c; /* not reached: set_one takes any imref ("w=800,h=600", "hero", "") */
	return 0;
}

/* The setter of each kind, in enum kind order. */
static int (*const setters[])(struct setter_ctx *) = {
	[K_MODE] = set_mode,	     [K_WIDTH] = set_dimension,	 [K_HEIGHT] = set_dimension,
	[K_FIT] = set_fit,	     [K_OBJFIT] = set_objfit,	 [K_TIME] = set_time,
	[K_DURATION] = set_duration, [K_FPS] = set_fps,		 [K_QUALITY] = set_level,
	[K_COMPRESSION] = set_level, [K_BITRATE] = set_bitrate,	 [K_AUDIO] = set_audio,
	[K_MUTE] = set_audio,	     [K_FORMAT] = set_format,	 [K_COLUMNS] = set_grid,
	[K_ROWS] = set_grid,	     [K_DERIVATIVE] = set_derivative, [K_IMWIDTH] = set_imsize,
	[K_IMHEIGHT] = set_imsize,  [K_PLAYBACK] = set_playback, [K_PRELOAD] = set_preload,
	[K_DENSITY] = set_density,   [K_VIEWSIZE] = set_viewsize, [K_IMREF] = set_imref,
};

static int set_one(struct vr_params *p, const struct vr_limits *l, const char *name,
		   const char *value, int from_query, char *err, size_t errlen)
{
	struct vr_limits dl;
	if (!l) {
		vr_limits_default(&dl);
		l = &dl;
	}
	int code = from_query ? VR_EDATA : VR_EUSAGE;
	const struct pname *pn = find_name(name);
	if (!pn || (pn->query_only && !from_query)) {
		if (pn && !pn->bit)
			return vr_errf(err, errlen, code,
				    "unknown parameter '%s' (a query name only, accepted there without effect)",
				    show(name).s);
		if (pn) /* an alias given as an option */
			return vr_errf(err, errlen, code,
				    "unknown parameter '%s' (a query name only; the option is --%s)",
				    show(name).s,
				    pn->kind == K_MUTE	   ? "audio"
				    : pn->kind == K_OBJFIT ? "fit"
							   : bit_name(pn->bit));
		return vr_errf(err, errlen, code, "unknown parameter '%s'", show(name).s);
	}
	if ((!value || !*value) && (pn->kind == K_PLAYBACK || pn->kind == K_PRELOAD))
		value = pn->kind == K_PLAYBACK ? "true" : "auto"; /* a bare HTML attribute */
	if (pn->kind == K_IMREF)
		return 0; /* free text, empty too, bounded by the query parser */
	if (!value || !*value)
		return vr_errf(err, errlen, code, "%s: empty value", pn->name);
	char why[512];
	struct shown sv = show(value);
	struct setter_ctx c = {p, l, pn, value, sv.s, why, sizeof why};
	int r = setters[pn->kind](&c);
	if (r)
		return vr_errf(err, errlen, r == VR_ELIMIT ? VR_ELIMIT : code, "%s: %s", pn->name, why);
	p->set |= pn->bit;
	if (from_query)
		p->from_query |= pn->bit;
	else
		p->from_query &= ~pn->bit;
	return 0;
}

/* ---------------------------------------------------------------- queries */


/* Percent-decode s[0..n) into out (size VR_PARAMS_MAX_VALUE); '+' is a
 * space. -1 malformed or NUL, -2 too long. */
static int decode(const char *s, size_t n, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			int hi = i + 1 < n ? vr_hex_digit(s[i + 1]) : -1;
			int lo = i + 2 < n ? vr_hex_digit(s[i + 2]) : -1;
			if (hi < 0 || lo < 0)
				return -1;
			c = (char)(hi * 16 + lo);
			if (!c)
				return -1;
			i += 2;
		}
		if (o + 1 >= VR_PARAMS_MAX_VALUE)
			return -2;
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}

/* Does field `bit` hold the same value in a and b? */
static int same_field(const struct vr_params *a, const struct vr_params *b, unsigned bit)
{
	switch (bit) {
	case VR_P_MODE: return a->mode == b->mode;
	case VR_P_WIDTH: return a->width == b->width;
	case VR_P_HEIGHT: return a->height == b->height;
	case VR_P_FIT: return a->fit == b->fit;
	case VR_P_TIME: return a->time == b->time;
	case VR_P_DURATION: return a->duration == b->duration;
	case VR_P_FPS: return a->fps_num == b->fps_num && a->fps_den == b->fps_den;
	case VR_P_QUALITY: return a->quality == b->quality;
	case VR_P_COMPRESSION: return a->compression == b->compression;
	case VR_P_BITRATE: return a->bitrate == b->bitrate;
	case VR_P_AUDIO: return a->audio == b->audio;
	case VR_P_FORMAT: return a->format == b->format;
	case VR_P_COLUMNS: return a->columns == b->columns;
	case VR_P_ROWS: return a->rows == b->rows;
	case VR_P_DERIVATIVE: return !strcmp(a->derivative, b->derivative);
	case VR_P_IMWIDTH: return a->imwidth == b->imwidth;
	case VR_P_IMHEIGHT: return a->imheight == b->imheight;
	}
	return 0;
}

static int bit_index(unsigned bit)
{
	int i = 0;
	while (bit > 1)
		bit >>= 1, i++;
	return i;
}

int vr_params_parse_query(struct vr_params *p, const struct vr_limits *l, const char *query,
			  int *bypass, char *err, size_t errlen)
{
	char name[VR_PARAMS_MAX_VALUE], value[VR_PARAMS_MAX_VALUE];
	char first[17][72]; /* "name=value" that first set each field, for messages */
	unsigned seen = 0;
	const char *s = query ? query : "";
	if (*s == '?')
		s++;
	while (*s) {
		size_t n = strcspn(s, "&");
		const char *seg = s;
		s += n;
		if (*s == '&')
			s++;
		if (n == 0) /* "a=1&&b=2", a trailing '&' */
			continue;
		const char *eq = memchr(seg, '=', n);
		size_t nn = eq ? (size_t)(eq - seg) : n;
		int r = decode(seg, nn, name);
		if (r == 0 && eq)
			r = decode(eq + 1, n - nn - 1, value);
		else if (r == 0)
			value[0] = '\0';
		if (r < 0) {
			char raw[64];
			snprintf(raw, sizeof raw, "%.*s", (int)(n < 60 ? n : 60), seg);
			return vr_errf(err, errlen, VR_EDATA, "query: '%s%s' %s", show(raw).s,
				    n < 60 ? "" : "...",
				    r == -1 ? "has a malformed percent-encoding (%XX, not %00)"
					    : "is longer than the limit of one parameter");
		}
		if (!strcmp(name, "v")) /* cache-busting version: not a transform parameter */
			continue;
		if (vr_params_ignored(l ? l->bypass : VR_PARAMS_BYPASS_DEFAULT, name, strlen(name))) {
			/* Decision: a bare flag ("nocache", "nocache=") means true */
			int b = value[0] ? parse_bool(value) : 1;
			if (b < 0)
				return vr_errf(err, errlen, VR_EDATA,
					    "%s: '%s' is not one of true, false, 1, 0, yes, no", name,
					    show(value).s);
			if (b && bypass)
				*bypass = 1;
			continue;
		}
		const struct pname *pn = find_name(name);
		if (!pn && vr_params_ignored(l ? l->ignore : VR_PARAMS_IGNORE_DEFAULT, name,
					     strlen(name)))
			continue; /* a tracking or cache-buster name of [request] ignore */
		struct vr_params before = *p;
		r = vr_params_set(p, l, name, value, 1, err, errlen);
		if (r)
			return r;
		if (!pn->bit)
			continue; /* no field: nothing to contradict */
		int bi = bit_index(pn->bit);
		if (seen & pn->bit) {
			if (!same_field(&before, p, pn->bit))
				return vr_errf(err, errlen, VR_EDATA,
					    "%s: given twice with different values ('%s' and '%s=%s')",
					    bit_name(pn->bit), first[bi], name, show(value).s);
		} else {
			seen |= pn->bit;
			snprintf(first[bi], sizeof first[bi], "%.12s=%.55s", name, show(value).s);
		}
	}
	return 0;
}

/* ---------------------------------------------------------------- derivatives */

/* The keys of a [derivative "NAME"] section: the long parameter names of
 * the table that set output fields (every one but derivative itself).
 * Returns their count; keys holds them and a NULL. */
static size_t deriv_keys(const char *keys[NPNAMES + 1])
{
	size_t n = 0;
	for (size_t i = 0; i < NPNAMES; i++)
		if (!pnames[i].query_only && (pnames[i].bit & FIELD_BITS))
			keys[n++] = pnames[i].name;
	keys[n] = NULL;
	return n;
}

/* The original's shipped derivatives (its worker config): the video ones
 * play at most 5 minutes with their audio (a shorter input is simply
 * whole); its "loop" is a playback attribute, without effect here. */
static const struct builtin {
	const char *name;
	const char *kv[7][2];
} builtins[] = {
	{"desktop",
	 {{"mode", "video"}, {"width", "1920"}, {"height", "1080"}, {"fit", "contain"},
	  {"audio", "true"}, {"duration", "5m"}}},
	{"tablet",
	 {{"mode", "video"}, {"width", "1280"}, {"height", "720"}, {"fit", "contain"},
	  {"audio", "true"}, {"duration", "5m"}}},
	{"mobile",
	 {{"mode", "video"}, {"width", "854"}, {"height", "640"}, {"fit", "contain"},
	  {"audio", "true"}, {"duration", "5m"}}},
	{"thumbnail",
	 {{"mode", "frame"}, {"width", "640"}, {"height", "360"}, {"format", "png"}, {"time", "2s"},
	  {"fit", "cover"}}},
};
#define N_BUILTINS (sizeof builtins / sizeof *builtins)

/* The [derivative "x"] names of cfg; *names malloc'd (free it). */
static size_t config_derivs(const struct vr_config *cfg, const char ***names)
{
	*names = NULL;
	if (!cfg)
		return 0;
	size_t n = vr_config_names(cfg, "derivative", NULL, 0);
	if (!n)
		return 0;
	*names = calloc(n, sizeof **names);
	if (!*names)
		vr_oom();
	return vr_config_names(cfg, "derivative", *names, n);
}

static void list_known(const struct vr_config *cfg, char *out, size_t len)
{
	size_t o = 0;
	out[0] = '\0';
	const char **names;
	size_t n = config_derivs(cfg, &names);
	for (size_t i = 0; i < N_BUILTINS + n; i++) {
		const char *nm = i < N_BUILTINS ? builtins[i].name : names[i - N_BUILTINS];
		int dup = 0;
		for (size_t j = 0; j < N_BUILTINS && i >= N_BUILTINS; j++)
			dup |= !strcmp(nm, builtins[j].name);
		if (dup)
			continue;
		int w = snprintf(out + o, len - o, "%s%s", o ? ", " : "", show(nm).s);
		if (w < 0 || (size_t)w >= len - o)
			break;
		o += (size_t)w;
	}
	free(names);
}

/* Load derivative `name` into d (initialised, its set bits the fields it
 * gives). *from_config set when it comes from cfg. */
static int load_derivative(struct vr_params *d, const char *name, const struct vr_limits *l,
			   const struct vr_config *cfg, int code, int *from_config, char *err,
			   size_t errlen)
{
	char e2[512];
	vr_params_init(d);
	*from_config = 0;
	const char **names;
	size_t n = config_derivs(cfg, &names);
	int in_config = 0;
	for (size_t i = 0; i < n; i++)
		in_config |= !strcmp(names[i], name);
	free(names);
	if (in_config) {
		/* a config section replaces a built-in of the same name whole */
		*from_config = 1;
		const char *known[NPNAMES + 1];
		size_t nk = deriv_keys(known);
		if (vr_config_check_keys(cfg, "derivative", name, known, err, errlen))
			return VR_EDATA;
		for (size_t k = 0; k < nk; k++) {
			const char *v = vr_config_get(cfg, "derivative", name, known[k]);
			if (v && vr_params_set(d, l, known[k], v, 0, e2, sizeof e2))
				return vr_errf(err, errlen, VR_EDATA, "%s: derivative \"%s\": %s",
					    vr_config_where(cfg, "derivative", name, known[k]),
					    show(name).s, e2);
		}
		if (!(d->set & FIELD_BITS))
			return vr_errf(err, errlen, VR_EDATA,
				    "%s: derivative \"%s\" sets none of mode, width, height, fit, time, duration, fps, quality, compression, bitrate, audio, format, columns, rows",
				    vr_config_source(cfg) ? vr_config_source(cfg) : "config",
				    show(name).s);
		return 0;
	}
	for (size_t b = 0; b < N_BUILTINS; b++) {
		if (strcmp(builtins[b].name, name))
			continue;
		/* Decision: a built-in's duration is a cap, not a demand: under
		 * a smaller [limits] max-duration it shrinks to it (as the
		 * spritesheet's default does) rather than making the preset
		 * unusable */
		struct vr_limits wide = *l;
		wide.max_duration = VR_PARAMS_MAX_TIME;
		for (size_t k = 0; k < 7 && builtins[b].kv[k][0]; k++)
			if (vr_params_set(d, &wide, builtins[b].kv[k][0], builtins[b].kv[k][1], 0, e2,
					  sizeof e2))
				/* only when [limits] exclude a built-in's values */
				return vr_errf(err, errlen, VR_EDATA,
					    "derivative \"%s\" (built in) does not fit the configured limits: %s",
					    name, e2);
		if (d->duration > l->max_duration)
			d->duration = l->max_duration;
		return 0;
	}
	char known[512];
	list_known(cfg, known, sizeof known);
	return vr_errf(err, errlen, code, "derivative: '%s' is not one of %s", show(name).s, known);
}

/* ---------------------------------------------------------------- IMQuery */

/* Is name a built-in derivative or a [derivative "name"] of cfg? */
static int deriv_exists(const struct vr_config *cfg, const char *name)
{
	for (size_t b = 0; b < N_BUILTINS; b++)
		if (!strcmp(builtins[b].name, name))
			return 1;
	const char **names;
	size_t n = config_derivs(cfg, &names);
	int found = 0;
	for (size_t i = 0; i < n; i++)
		found |= !strcmp(names[i], name);
	free(names);
	return found;
}

/* "37.5%" or "0.375": a fraction in [0, 10]; -1 when not one. */
static double parse_fraction(const char *v)
{
	char *end;
	if (!(v[0] >= '0' && v[0] <= '9'))
		return -1;
	double d = strtod(v, &end);
	if (*end == '%' && !end[1])
		d /= 100;
	else if (*end)
		return -1;
	return d >= 0 && d <= 10 ? d : -1;
}

/* [imquery]: breakpoint = [MAX] NAME (repeatable, ascending, replacing the
 * built-in three; no MAX: no bound, the last), threshold = FRACTION. */
static int imquery_load(struct vr_limits *l, const struct vr_config *cfg, char *err,
			size_t errlen)
{
	static const char *const keys[] = {"breakpoint", "threshold", NULL};
	if (vr_config_check_keys(cfg, "imquery", NULL, keys, err, errlen))
		return VR_EDATA;
	const char *v = vr_config_get(cfg, "imquery", NULL, "threshold");
	if (v) {
		double t = parse_fraction(v);
		if (t < 0)
			return vr_errf(err, errlen, VR_EDATA,
				    "%s: [imquery] threshold: '%s' is not a fraction in range 0-10 or a percentage (like 0.375, 37.5%%)",
				    vr_config_where(cfg, "imquery", NULL, "threshold"), show(v).s);
		l->imquery_threshold = t;
	}
	if (!vr_config_get(cfg, "imquery", NULL, "breakpoint"))
		return 0;
	int n = 0;
	for (size_t i = 0; (v = vr_config_get_nth(cfg, "imquery", NULL, "breakpoint", i)); i++) {
		const char *where = vr_config_where(cfg, "imquery", NULL, "breakpoint");
		char word[2][72] = {"", ""};
		int nw = 0;
		const char *c = v;
		while (*c && nw < 3) {
			c += strspn(c, " \t");
			size_t wl = strcspn(c, " \t");
			if (!wl)
				break;
			if (nw < 2)
				snprintf(word[nw], sizeof word[nw], "%.*s", (int)(wl < 70 ? wl : 70), c);
			nw++;
			c += wl;
		}
		struct vr_breakpoint bp = {0, ""};
		const char *name = nw == 2 ? word[1] : word[0];
		int bad = nw < 1 || nw > 2;
		if (!bad && nw == 2 && parse_int(word[0], 1, VR_PARAMS_MAX_IMSIZE, &bp.max) < 0)
			bad = 1;
		if (bad)
			return vr_errf(err, errlen, VR_EDATA,
				    "%s: [imquery] breakpoint: '%s' is not 'MAX NAME' (MAX 1-%d pixels) or 'NAME' for all above",
				    where, show(v).s, VR_PARAMS_MAX_IMSIZE);
		if (!valid_deriv_name(name) || !deriv_exists(cfg, name)) {
			char known[512];
			list_known(cfg, known, sizeof known);
			return vr_errf(err, errlen, VR_EDATA,
				    "%s: [imquery] breakpoint: '%s' is not a derivative (one of %s)", where,
				    show(name).s, known);
		}
		if (n == VR_PARAMS_BREAKPOINTS_MAX)
			return vr_errf(err, errlen, VR_EDATA, "%s: [imquery] more than %d breakpoints",
				    where, VR_PARAMS_BREAKPOINTS_MAX);
		if (n && (l->breakpoints[n - 1].max == 0 || (bp.max && bp.max <= l->breakpoints[n - 1].max)))
			return vr_errf(err, errlen, VR_EDATA,
				    "%s: [imquery] breakpoint: '%s' does not follow the one before it (ascending maxima, the one without MAX last)",
				    where, show(v).s);
		strcpy(bp.derivative, name);
		l->breakpoints[n++] = bp;
	}
	l->nbreakpoints = n;
	return 0;
}

/* The derivative that IMQuery hints pick for a request of mode `want`:
 * imwidth alone by the breakpoints; imheight alone or both, the derivative
 * of mode want (built in or configured) whose sides are closest to them
 * by the mean relative difference of the sides both have, within the
 * threshold. 0 with name set, 0 with name "" when none is close enough
 * (the requested size is used then), or an error of a configured
 * derivative. */
static int imquery_pick(const struct vr_params *p, const struct vr_limits *l,
			const struct vr_config *cfg, enum vr_mode want, char name[64], char *err,
			size_t errlen)
{
	name[0] = '\0';
	if (p->imwidth > 0 && p->imheight <= 0) {
		for (int i = 0; i < l->nbreakpoints; i++)
			if (!l->breakpoints[i].max || p->imwidth <= l->breakpoints[i].max ||
			    i == l->nbreakpoints - 1) {
				strcpy(name, l->breakpoints[i].derivative);
				return 0;
			}
		return 0;
	}
	const char **cnames;
	size_t nc = config_derivs(cfg, &cnames);
	double best = INFINITY;
	for (size_t i = 0; i < N_BUILTINS + nc; i++) {
		const char *nm = i < N_BUILTINS ? builtins[i].name : cnames[i - N_BUILTINS];
		int dup = 0; /* a configured one that replaces a built-in: seen there */
		for (size_t j = 0; j < N_BUILTINS && i >= N_BUILTINS; j++)
			dup |= !strcmp(nm, builtins[j].name);
		if (dup || !valid_deriv_name(nm))
			continue;
		struct vr_params d;
		int from_config = 0;
		char e2[512];
		int r = load_derivative(&d, nm, l, cfg, VR_EDATA, &from_config, e2, sizeof e2);
		if (r && from_config) {
			free(cnames);
			return vr_errf(err, errlen, r, "%s", e2);
		}
		if (r) /* a built-in outside the configured limits: not a candidate */
			continue;
		if (((d.set & VR_P_MODE) ? d.mode : VR_MODE_VIDEO) != want)
			continue;
		double sum = 0;
		int sides = 0;
		if (p->imwidth > 0 && d.width > 0)
			sum += fabs((double)(d.width - p->imwidth)) / p->imwidth, sides++;
		if (p->imheight > 0 && d.height > 0)
			sum += fabs((double)(d.height - p->imheight)) / p->imheight, sides++;
		if (!sides)
			continue;
		if (sum / sides < best) { /* a tie keeps the first, in table then file order */
			best = sum / sides;
			snprintf(name, 64, "%s", nm);
		}
	}
	free(cnames);
	if (!(best <= l->imquery_threshold + 1e-12))
		name[0] = '\0';
	return 0;
}

/* Copy field `bit` from src to dst. */
static void copy_field(struct vr_params *dst, const struct vr_params *src, unsigned bit)
{
	switch (bit) {
	case VR_P_MODE: dst->mode = src->mode; break;
	case VR_P_WIDTH: dst->width = src->width; break;
	case VR_P_HEIGHT: dst->height = src->height; break;
	case VR_P_FIT: dst->fit = src->fit; break;
	case VR_P_TIME: dst->time = src->time; break;
	case VR_P_DURATION: dst->duration = src->duration; break;
	case VR_P_FPS:
		dst->fps_num = src->fps_num;
		dst->fps_den = src->fps_den;
		break;
	case VR_P_QUALITY: dst->quality = src->quality; break;
	case VR_P_COMPRESSION: dst->compression = src->compression; break;
	case VR_P_BITRATE: dst->bitrate = src->bitrate; break;
	case VR_P_AUDIO: dst->audio = src->audio; break;
	case VR_P_FORMAT: dst->format = src->format; break;
	case VR_P_COLUMNS: dst->columns = src->columns; break;
	case VR_P_ROWS: dst->rows = src->rows; break;
	}
}

/* ---------------------------------------------------------------- finalize */

/* The fields each mode accepts; all of them are in its canonical form. */
static unsigned mode_fields(enum vr_mode m)
{
	switch (m) {
	case VR_MODE_VIDEO:
		return FIELD_BITS & ~(unsigned)(VR_P_COLUMNS | VR_P_ROWS);
	case VR_MODE_FRAME:
		return VR_P_MODE | VR_P_WIDTH | VR_P_HEIGHT | VR_P_FIT | VR_P_TIME | VR_P_QUALITY |
		       VR_P_COMPRESSION | VR_P_FORMAT;
	case VR_MODE_SPRITESHEET:
		/* Decision: fps, bitrate and audio are playback parameters
		 * and a spritesheet is one JPEG: rejected like for frame */
		return VR_P_MODE | VR_P_WIDTH | VR_P_HEIGHT | VR_P_FIT | VR_P_TIME | VR_P_DURATION |
		       VR_P_QUALITY | VR_P_COMPRESSION | VR_P_FORMAT | VR_P_COLUMNS | VR_P_ROWS;
	case VR_MODE_AUDIO:
		return VR_P_MODE | VR_P_TIME | VR_P_DURATION | VR_P_QUALITY | VR_P_COMPRESSION |
		       VR_P_BITRATE | VR_P_AUDIO | VR_P_FORMAT;
	}
	return 0;
}

static const char *mode_formats(enum vr_mode m)
{
	switch (m) {
	case VR_MODE_VIDEO: return "mp4, webm";
	case VR_MODE_FRAME: return "jpg, png, webp";
	case VR_MODE_SPRITESHEET: return "jpg";
	case VR_MODE_AUDIO: return "m4a";
	}
	return "";
}

static int format_fits(enum vr_mode m, enum vr_format f)
{
	switch (m) {
	case VR_MODE_VIDEO: return f == VR_FORMAT_MP4 || f == VR_FORMAT_WEBM;
	case VR_MODE_FRAME: return f == VR_FORMAT_JPG || f == VR_FORMAT_PNG || f == VR_FORMAT_WEBP;
	case VR_MODE_SPRITESHEET: return f == VR_FORMAT_JPG;
	case VR_MODE_AUDIO: return f == VR_FORMAT_M4A;
	}
	return 0;
}

static enum vr_format mode_default_format(enum vr_mode m)
{
	return m == VR_MODE_VIDEO ? VR_FORMAT_MP4 : m == VR_MODE_AUDIO ? VR_FORMAT_M4A : VR_FORMAT_JPG;
}

/* Make equivalent sets equal (see the top of this file). */
static void normalise(struct vr_params *p)
{
	if (p->format == VR_FORMAT_AUTO)
		p->format = mode_default_format(p->mode);
	if (p->mode == VR_MODE_AUDIO || (!p->width && !p->height))
		p->fit = VR_FIT_CONTAIN;
	else if ((!p->width || !p->height) && p->fit == VR_FIT_COVER)
		p->fit = VR_FIT_CONTAIN;
	if (p->mode == VR_MODE_VIDEO) {
		/* 4:2:0 video: the engine's box is even, ties down (641 -> 640) */
		if (p->width > 2)
			p->width &= ~1;
		if (p->height > 2)
			p->height &= ~1;
	}
	if (p->mode == VR_MODE_AUDIO)
		p->quality = p->compression = VR_LEVEL_AUTO;
	/* every encoder reads auto as medium (lib/av/encode.c): one key */
	if (p->quality == VR_LEVEL_MEDIUM)
		p->quality = VR_LEVEL_AUTO;
	if (p->compression == VR_LEVEL_MEDIUM)
		p->compression = VR_LEVEL_AUTO;
	/* pictures: JPEG (frames and spritesheets) has a quality and no
	 * effort setting; PNG is lossless, only its effort is set */
	if (p->mode != VR_MODE_VIDEO && p->format == VR_FORMAT_JPG)
		p->compression = VR_LEVEL_AUTO;
	if (p->mode == VR_MODE_FRAME && p->format == VR_FORMAT_PNG)
		p->quality = VR_LEVEL_AUTO;
}

/* The mode an explicit format asks for when the preset's mode does not
 * take it: video for mp4 and webm, audio for m4a, frame for pictures. */
static enum vr_mode format_mode(enum vr_format f)
{
	switch (f) {
	case VR_FORMAT_JPG:
	case VR_FORMAT_PNG:
	case VR_FORMAT_WEBP: return VR_MODE_FRAME;
	case VR_FORMAT_M4A: return VR_MODE_AUDIO;
	default: return VR_MODE_VIDEO;
	}
}

struct fin {
	const struct vr_params *p;
	const struct vr_config *cfg;
	unsigned from_deriv;
	int deriv_config;
};

/* VR_EDATA when a field in bits came from a query or from the config,
 * else VR_EUSAGE (all options). */
static int code_for(const struct fin *f, unsigned bits)
{
	if (f->p->from_query & bits)
		return VR_EDATA;
	if ((f->from_deriv & bits) && f->deriv_config)
		return VR_EDATA;
	return VR_EUSAGE;
}

/* " (from derivative NAME, FILE:LINE)" when field bit came from the preset. */
static const char *origin_of(const struct fin *f, unsigned bit, char *buf, size_t len)
{
	buf[0] = '\0';
	if (!(f->from_deriv & bit))
		return buf;
	const char *where = f->deriv_config ? vr_config_where(f->cfg, "derivative",
							      f->p->derivative, bit_name(bit))
					    : "built in";
	snprintf(buf, len, " (from derivative %s, %s)", f->p->derivative, where);
	return buf;
}

/* Finalize, stage 1: IMQuery picks a derivative (into p->derivative), or
 * its requested size (*from_im: the fields it set). */
static int imquery_stage(struct vr_params *p, const struct vr_limits *l,
			 const struct vr_config *cfg, unsigned given, unsigned *from_im, char *err,
			 size_t errlen)
{
	*from_im = 0;
	/* IMQuery: a derivative by breakpoints or closeness, only when none is
	 * named. Decision: not for mode audio, which has no picture (the hint
	 * is sent by clients, it must not make a request fail). */
	if (!p->derivative[0] && (p->imwidth > 0 || p->imheight > 0) &&
	    !((given & VR_P_MODE) && p->mode == VR_MODE_AUDIO)) {
		char name[64];
		int r = imquery_pick(p, l, cfg, (given & VR_P_MODE) ? p->mode : VR_MODE_VIDEO, name,
				     err, errlen);
		if (r)
			return r;
		if (name[0]) {
			strcpy(p->derivative, name);
		} else if (!(given & (VR_P_WIDTH | VR_P_HEIGHT))) {
			/* none close enough: the requested size itself, within
			 * the limits like any size (an explicit side wins, as
			 * over a derivative's size) */
			int side[2] = {p->imwidth, p->imheight};
			for (int k = 0; k < 2; k++)
				if (side[k] > 0 && (side[k] < l->min_dim || side[k] > l->max_dim))
					return vr_errf(err, errlen, VR_ELIMIT,
						    "%s: %d is out of range %d-%d, and no derivative is within %.15g%% of the size asked",
						    k ? "imheight" : "imwidth", side[k], l->min_dim,
						    l->max_dim, l->imquery_threshold * 100);
			if (p->imwidth > 0)
				p->width = p->imwidth, *from_im |= VR_P_WIDTH;
			if (p->imheight > 0)
				p->height = p->imheight, *from_im |= VR_P_HEIGHT;
		}
	}
	return 0;
}

/* Finalize, stage 2: the named derivative fills the fields the request
 * did not give (f->from_deriv: those it filled). */
static int derivative_stage(struct vr_params *p, const struct vr_limits *l,
			    const struct vr_config *cfg, struct fin *f, unsigned given, char *err,
			    size_t errlen)
{
	struct vr_params d;
	int r = load_derivative(&d, p->derivative, l, cfg, code_for(f, VR_P_DERIVATIVE),
				&f->deriv_config, err, errlen);
	if (r)
		return r;
	unsigned take = d.set & FIELD_BITS & ~given;
	/* Decision: width and height are one size. A single explicit
	 * dimension means "keep the aspect from it"; filling the other
	 * from the preset would change that (a thumbnail's 640x360
	 * cover with width=320 would crop to 320x360). So the preset's
	 * size applies only when neither is explicit. This is also how
	 * imwidth never overrides an explicit width or height. */
	if (given & (VR_P_WIDTH | VR_P_HEIGHT))
		take &= ~(unsigned)(VR_P_WIDTH | VR_P_HEIGHT);
	/* An explicit mode wins over the preset's, and so does an
	 * explicit format that the preset's mode does not take
	 * (thumbnail with format=mp4 is a video): the request says
	 * what it wants made, the preset fills in what still applies.
	 * Its fields the resulting mode has no use for are left out,
	 * not reported: they are the preset's, not the request's. A
	 * preset used in its own mode keeps its errors (a config
	 * section that contradicts itself). */
	enum vr_mode dmode = (d.set & VR_P_MODE) ? d.mode : VR_MODE_VIDEO;
	enum vr_mode mode = (given & VR_P_MODE) ? p->mode : dmode;
	if (!(given & VR_P_MODE) && (given & VR_P_FORMAT) && !p->output_ext[0] &&
	    !format_fits(mode, p->format))
		mode = format_mode(p->format);
	if (mode != dmode) {
		p->mode = mode;
		take &= mode_fields(mode) & ~(unsigned)VR_P_MODE;
		/* a spritesheet's duration is the span it samples, not
		 * a playback length: its own default, not the preset's */
		if (mode == VR_MODE_SPRITESHEET)
			take &= ~(unsigned)VR_P_DURATION;
		if ((take & VR_P_FORMAT) && !format_fits(mode, d.format))
			take &= ~(unsigned)VR_P_FORMAT;
		if ((take & VR_P_AUDIO) && mode == VR_MODE_AUDIO && !d.audio)
			take &= ~(unsigned)VR_P_AUDIO;
	}
	for (unsigned b = 1; b & FIELD_BITS; b <<= 1)
		if (take & b)
			copy_field(p, &d, b);
	f->from_deriv = take;
	return 0;
}

/* Finalize, last stage: the limits of the sizes, tiles and durations. */
static int limits_stage(struct vr_params *p, const struct vr_limits *l, const struct fin *f,
			unsigned has, char *err, size_t errlen)
{
	char o[256];
	if (p->mode == VR_MODE_SPRITESHEET) {
		if (!p->width || !p->height)
			return vr_errf(err, errlen, code_for(f, VR_P_MODE | VR_P_WIDTH | VR_P_HEIGHT),
				    "mode spritesheet needs both width and height (the tile size); %s",
				    !p->width && !p->height ? "neither is given"
				    : p->width		    ? "height is missing"
							    : "width is missing");
		if (!(has & VR_P_DURATION)) {
			/* Decision: the default shrinks to a smaller max-duration */
			p->duration = SPRITE_DEFAULT_DURATION < l->max_duration
					      ? SPRITE_DEFAULT_DURATION
					      : l->max_duration;
		}
		if (p->columns && p->rows && p->columns * p->rows > l->max_tiles)
			return vr_errf(err, errlen, VR_ELIMIT,
				    "columns*rows: %dx%d is %d tiles, more than max-tiles %d",
				    p->columns, p->rows, p->columns * p->rows, l->max_tiles);
		if (p->columns && p->rows &&
		    (int64_t)p->columns * p->width * p->rows * p->height > l->max_output_pixels)
			return vr_errf(err, errlen, VR_ELIMIT,
				    "spritesheet of %dx%d tiles of %dx%d is %lld pixels, more than max-output-pixels %lld",
				    p->columns, p->rows, p->width, p->height,
				    (long long)p->columns * p->width * p->rows * p->height,
				    (long long)l->max_output_pixels);
	} else if (p->width && p->height &&
		   (int64_t)p->width * p->height > l->max_output_pixels) {
		return vr_errf(err, errlen, VR_ELIMIT,
			    "width*height: %dx%d is %lld pixels, more than max-output-pixels %lld",
			    p->width, p->height, (long long)p->width * p->height,
			    (long long)l->max_output_pixels);
	}
	if (p->duration > 0 && !(p->duration <= l->max_duration))
		return vr_errf(err, errlen, VR_ELIMIT, "duration: %.15g%s is more than max-duration %.15g seconds",
			    p->duration, origin_of(f, VR_P_DURATION, o, sizeof o), l->max_duration);
	if (p->duration > 0 && p->time + p->duration > VR_PARAMS_MAX_TIME)
		return vr_errf(err, errlen, code_for(f, VR_P_TIME | VR_P_DURATION),
			    "time + duration: %.15g + %.15g ends after %.0f seconds, the latest allowed",
			    p->time, p->duration, VR_PARAMS_MAX_TIME);

	return 0;
}

int vr_params_finalize(struct vr_params *p, const struct vr_limits *l,
		       const struct vr_config *cfg, char *err, size_t errlen)
{
	struct vr_limits dl;
	if (!l) {
		vr_limits_default(&dl);
		l = &dl;
	}
	struct fin f = {p, cfg, 0, 0};
	char o[256];
	unsigned given = p->set & FIELD_BITS;

	/* format m4a without a mode means mode audio (as the original read
	 * it): the mode is then as good as given. Decision: -o FILE's
	 * extension is weaker than a format given, it never overrides a
	 * named derivative's mode (-o a.m4a with derivative=desktop is a
	 * contradiction, reported below) */
	if (!(given & VR_P_MODE) && (given & VR_P_FORMAT) && p->format == VR_FORMAT_M4A &&
	    !(p->output_ext[0] && p->derivative[0])) {
		p->mode = VR_MODE_AUDIO;
		given |= VR_P_MODE;
	}

	/* IMQuery: a derivative by breakpoints or closeness, only when none is
	 * named */
	unsigned from_im;
	int r = imquery_stage(p, l, cfg, given, &from_im, err, errlen);
	if (r)
		return r;
	if (p->derivative[0] && (r = derivative_stage(p, l, cfg, &f, given, err, errlen)))
		return r;
	unsigned has = given | f.from_deriv | from_im;
	p->filled = f.from_deriv | from_im;
	const char *mode = vr_mode_name(p->mode);

	/* fields the mode has no use for */
	unsigned extra = has & ~mode_fields(p->mode);
	if (extra) {
		unsigned b = extra & -extra;
		const char *what = b == VR_P_AUDIO ? "audio (or mute)" : bit_name(b);
		return vr_errf(err, errlen, code_for(&f, b | VR_P_MODE),
			    "%s%s: does not apply to mode %s (it is for %s)", what,
			    origin_of(&f, b, o, sizeof o), mode,
			    b == VR_P_COLUMNS || b == VR_P_ROWS ? "spritesheet"
			    : b == VR_P_DURATION		? "video, spritesheet and audio"
			    : b == VR_P_BITRATE || b == VR_P_AUDIO ? "video and audio"
			    : b == VR_P_FPS			? "video"
								: "video, frame and spritesheet");
	}
	if (p->format != VR_FORMAT_AUTO && !format_fits(p->mode, p->format) && p->output_ext[0])
		return vr_errf(err, errlen, VR_EUSAGE,
			    "output: a .%s file (format %s) does not fit mode %s (allowed: %s); name the file for the mode, or give --mode or --format",
			    p->output_ext, vr_format_name(p->format), mode, mode_formats(p->mode));
	if (p->format != VR_FORMAT_AUTO && !format_fits(p->mode, p->format))
		return vr_errf(err, errlen, code_for(&f, VR_P_FORMAT | VR_P_MODE),
			    "format: '%s'%s does not fit mode %s (allowed: %s)", vr_format_name(p->format),
			    origin_of(&f, VR_P_FORMAT, o, sizeof o), mode, mode_formats(p->mode));
	if (p->mode == VR_MODE_AUDIO && (has & VR_P_AUDIO) && !p->audio)
		return vr_errf(err, errlen, code_for(&f, VR_P_AUDIO | VR_P_MODE),
			    "audio: false (or mute=true)%s contradicts mode audio",
			    origin_of(&f, VR_P_AUDIO, o, sizeof o));

	if ((r = limits_stage(p, l, &f, has, err, errlen)))
		return r;
	normalise(p);
	return 0;
}

/* ---------------------------------------------------------------- output */

enum vr_format vr_format_from_path(const char *path)
{
	static const struct {
		const char *ext;
		enum vr_format f;
	} exts[] = {
		{"mp4", VR_FORMAT_MP4}, {"webm", VR_FORMAT_WEBM}, {"m4a", VR_FORMAT_M4A},
		{"jpg", VR_FORMAT_JPG}, {"jpeg", VR_FORMAT_JPG},  {"png", VR_FORMAT_PNG},
		{"webp", VR_FORMAT_WEBP},
	};
	if (!path || !strcmp(path, "-"))
		return VR_FORMAT_AUTO;
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	const char *dot = strrchr(base, '.');
	if (!dot || dot == base) /* none, or a dot file such as ".mp4" */
		return VR_FORMAT_AUTO;
	for (size_t i = 0; i < sizeof exts / sizeof *exts; i++)
		if (!strcasecmp(dot + 1, exts[i].ext))
			return exts[i].f;
	return VR_FORMAT_AUTO;
}

int vr_params_output_path(struct vr_params *p, const char *path, char *err, size_t errlen)
{
	enum vr_format f = vr_format_from_path(path);
	if (f == VR_FORMAT_AUTO)
		return 0;
	const char *ext = strrchr(path, '.') + 1;
	if (p->set & VR_P_FORMAT) {
		if (p->format != f)
			return vr_errf(err, errlen, VR_EUSAGE,
				    "output: a .%s file is format %s, but format %s is asked for; name the file .%s or drop the format",
				    show(ext).s, vr_format_name(f), vr_format_name(p->format),
				    vr_format_name(p->format));
		return 0;
	}
	p->format = f;
	p->set |= VR_P_FORMAT;
	p->from_query &= ~(unsigned)VR_P_FORMAT;
	snprintf(p->output_ext, sizeof p->output_ext, "%s", ext);
	return 0;
}

/* ---------------------------------------------------------------- canonical */

struct out {
	char *buf;
	size_t len, n;
};

__attribute__((format(printf, 2, 3))) static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int w = vsnprintf(o->n < o->len ? o->buf + o->n : NULL, o->n < o->len ? o->len - o->n : 0,
			  fmt, ap);
	va_end(ap);
	if (w > 0)
		o->n += (size_t)w;
}

/* Seconds as the shortest exact decimal of whole microseconds. */
static void put_secs(struct out *o, const char *name, double s)
{
	long long us = llround(s * 1e6);
	const char *sign = us < 0 ? "-" : "";
	if (us < 0)
		us = -us;
	if (us % 1000000 == 0) {
		put(o, "&%s=%s%lld", name, sign, us / 1000000);
		return;
	}
	char frac[8];
	snprintf(frac, sizeof frac, "%06lld", us % 1000000);
	for (int i = 5; i > 0 && frac[i] == '0'; i--)
		frac[i] = '\0';
	put(o, "&%s=%s%lld.%s", name, sign, us / 1000000, frac);
}

/* A frame rate (reduced num/den) as the comment at the top says: whole,
 * else an exact decimal of at most 3 decimals, else NUM/DEN. */
static void put_fps(struct out *o, int num, int den)
{
	if (num <= 0 || den <= 0) {
		put(o, "&fps=0");
		return;
	}
	if (den == 1) {
		put(o, "&fps=%d", num);
		return;
	}
	if (1000 % den == 0) { /* den is 2, 4, 5, 8, 10, ... 1000 */
		long long milli = (long long)num * (1000 / den);
		char frac[4];
		snprintf(frac, sizeof frac, "%03lld", milli % 1000);
		for (int i = 2; i > 0 && frac[i] == '0'; i--)
			frac[i] = '\0';
		put(o, "&fps=%lld.%s", milli / 1000, frac);
		return;
	}
	put(o, "&fps=%d/%d", num, den);
}

int vr_params_canonical(const struct vr_params *p, char *buf, size_t len)
{
	struct vr_params c = *p;
	normalise(&c);
	unsigned f = mode_fields(c.mode);
	struct out o = {buf, len, 0};
	if (len)
		buf[0] = '\0';
	put(&o, "mode=%s", vr_mode_name(c.mode));
	if (f & VR_P_WIDTH)
		put(&o, "&width=%d&height=%d&fit=%s", c.width, c.height, vr_fit_name(c.fit));
	put_secs(&o, "time", c.time);
	if (f & VR_P_DURATION)
		put_secs(&o, "duration", c.duration < 0 ? -1 : c.duration);
	if (f & VR_P_FPS)
		put_fps(&o, c.fps_num, c.fps_den);
	if (c.mode != VR_MODE_AUDIO)
		put(&o, "&quality=%s&compression=%s", vr_level_name(c.quality),
		    vr_level_name(c.compression));
	if (f & VR_P_BITRATE)
		put(&o, "&bitrate=%lld", (long long)c.bitrate);
	if ((f & VR_P_AUDIO) && c.mode != VR_MODE_AUDIO)
		put(&o, "&audio=%d", c.audio ? 1 : 0);
	put(&o, "&format=%s", vr_format_name(c.format));
	if (f & VR_P_COLUMNS)
		put(&o, "&columns=%d&rows=%d", c.columns, c.rows);
	return (int)o.n;
}

int vr_params_origin_defaults(struct vr_params *p, const struct vr_config *cfg,
			      const char *origin, char *err, size_t errlen)
{
	if (!cfg || !origin || !origin[0])
		return 0;
	static const char *const keys[] = {"quality", "compression"};
	static const unsigned bits[] = {VR_P_QUALITY, VR_P_COMPRESSION};
	for (int k = 0; k < 2; k++) {
		const char *v = vr_config_get(cfg, "origin", origin, keys[k]);
		if (!v)
			continue;
		int i = pick(v, level_names, 4);
		if (i < 0)
			return vr_errf(err, errlen, VR_EDATA,
				    "%s: [origin \"%s\"] %s: '%s' is not one of low, medium, high, auto",
				    vr_config_where(cfg, "origin", origin, keys[k]), show(origin).s,
				    keys[k], show(v).s);
		if ((p->set | p->filled) & bits[k])
			continue; /* the request or its derivative gave one */
		if (k == 0)
			p->quality = (enum vr_level)i;
		else
			p->compression = (enum vr_level)i;
	}
	normalise(p);
	return 0;
}

const char *vr_params_letter_name(int letter)
{
	if (letter == 'Q')
		return "query";
	for (size_t i = 0; i < NPNAMES; i++)
		if (letter && pnames[i].letter == letter)
			return pnames[i].name;
	return NULL;
}

static int settings_add(void *field, const struct vr_opt *o, const char *arg, char *err,
			size_t errlen)
{
	struct vr_settings *s = field;
	if (s->n == VR_SETTINGS_MAX) {
		snprintf(err, errlen, "more than %d transform parameters", VR_SETTINGS_MAX);
		return VR_EUSAGE;
	}
	s->v[s->n].name = strcmp(o->name, "query") ? o->name : NULL;
	s->v[s->n].value = arg;
	s->n++;
	return 0;
}

const struct vr_opt *vr_params_options(void)
{
	static struct vr_opt t[NPNAMES + 2];
	static char qhelp[512];
	if (t[0].name)
		return t;
	size_t n = 0;
	int q = snprintf(qhelp, sizeof qhelp, "parameters as a URL query (width=640&fit=cover),\nalso");
	for (size_t i = 0; i < NPNAMES; i++) {
		const struct pname *pn = &pnames[i];
		if (pn->query_only) {
			if (pn->bit) /* the names without effect follow below */
				q += snprintf(qhelp + q, sizeof qhelp - (size_t)q, " %s", pn->name);
			continue;
		}
		t[n++] = (struct vr_opt){.name = pn->name, .letter = pn->letter, .kind = VR_OPT_CALL,
					 .arg = pn->arg, .help = pn->help, .words = pn->words,
					 .fn = settings_add};
	}
	q += snprintf(qhelp + q, sizeof qhelp - (size_t)q, ";\naccepted without effect:");
	for (size_t i = 0; i < NPNAMES; i++)
		if (pnames[i].query_only && !pnames[i].bit)
			q += snprintf(qhelp + q, sizeof qhelp - (size_t)q, " %s", pnames[i].name);
	t[n++] = (struct vr_opt){.name = "query", .letter = 'Q', .kind = VR_OPT_CALL, .arg = "QUERY",
				 .help = qhelp, .fn = settings_add};
	t[n] = (struct vr_opt){0};
	return t;
}

int vr_settings_apply(struct vr_params *p, const struct vr_limits *l, const struct vr_settings *s,
		      char *err, size_t errlen)
{
	for (size_t i = 0; i < s->n; i++) {
		int rc = s->v[i].name
				 ? vr_params_set(p, l, s->v[i].name, s->v[i].value, 0, err, errlen)
				 : vr_params_parse_query(p, l, s->v[i].value, NULL, err, errlen);
		if (rc)
			return rc;
	}
	return 0;
}
