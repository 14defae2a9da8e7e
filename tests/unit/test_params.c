/* Unit tests of lib/request/params: names and aliases, validation messages,
 * derivatives, mode rules, queries, limits and the canonical form. */
#include "config.h"
#include "params.h"
#include "status.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"


static struct vr_limits L;
static struct vr_config *CFG; /* used by finalize in the helpers; NULL mostly */
static char err[1024];
#define KEYMAX (sizeof err + 16) /* an error key holds a whole message */
static char keybuf[4][KEYMAX];
static int keyslot;

/* The canonical key of a query after finalize, or "ERR<code>: message". */
static const char *qkey(const char *query)
{
	char *k = keybuf[keyslot++ % 4];
	struct vr_params p;
	vr_params_init(&p);
	err[0] = '\0';
	int r = vr_params_parse_query(&p, &L, query, NULL, err, sizeof err);
	if (!r)
		r = vr_params_finalize(&p, &L, CFG, err, sizeof err);
	if (r) {
		snprintf(k, KEYMAX, "ERR%d: %s", r, err);
		return k;
	}
	int n = vr_params_canonical(&p, k, VR_PARAMS_CANONICAL_MAX);
	if (n <= 0 || n >= VR_PARAMS_CANONICAL_MAX)
		snprintf(k, KEYMAX, "ERR: canonical returned %d", n);
	return k;
}

/* The same from options: "name=value" pairs separated by '&' go through
 * vr_params_set one by one with from_query 0 (no percent-decoding). */
static const char *okey(const char *opts)
{
	char *k = keybuf[keyslot++ % 4];
	char copy[512];
	struct vr_params p;
	vr_params_init(&p);
	err[0] = '\0';
	snprintf(copy, sizeof copy, "%s", opts);
	int r = 0;
	for (char *save = NULL, *kv = strtok_r(copy, "&", &save); kv && !r;
	     kv = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(kv, '=');
		if (eq)
			*eq++ = '\0';
		r = vr_params_set(&p, &L, kv, eq ? eq : "", 0, err, sizeof err);
	}
	if (!r)
		r = vr_params_finalize(&p, &L, CFG, err, sizeof err);
	if (r) {
		snprintf(k, KEYMAX, "ERR%d: %s", r, err);
		return k;
	}
	vr_params_canonical(&p, k, VR_PARAMS_CANONICAL_MAX);
	return k;
}

static int str_is(const char *got, const char *want)
{
	if (strcmp(got, want))
		fprintf(stderr, "  got  '%s'\n  want '%s'\n", got, want);
	return !strcmp(got, want);
}

/* A key that is an error with `code` whose message holds every one of the
 * NULL-terminated words. */
static int is_err(const char *key, int code, const char *w1, const char *w2, const char *w3)
{
	char pre[16];
	snprintf(pre, sizeof pre, "ERR%d: ", code);
	int ok = !strncmp(key, pre, strlen(pre)) && (!w1 || strstr(key, w1)) &&
		 (!w2 || strstr(key, w2)) && (!w3 || strstr(key, w3));
	if (!ok)
		fprintf(stderr, "  got '%s'; want %s with '%s' '%s' '%s'\n", key, pre, w1 ? w1 : "",
			w2 ? w2 : "", w3 ? w3 : "");
	return ok;
}

static int keys_equal(const char *a, const char *b)
{
	int ok = strncmp(a, "ERR", 3) && !strcmp(a, b);
	if (!ok)
		fprintf(stderr, "  keys differ or fail:\n    '%s'\n    '%s'\n", a, b);
	return ok;
}

/* Parse a query into p (init first), no finalize. */
static int q(struct vr_params *p, const char *query)
{
	vr_params_init(p);
	err[0] = '\0';
	return vr_params_parse_query(p, &L, query, NULL, err, sizeof err);
}

static void load_cfg(const char *text)
{
	vr_config_free(CFG);
	CFG = NULL;
	err[0] = '\0';
	int r = vr_config_parse(&CFG, text, strlen(text), "t.conf", err, sizeof err);
	if (r)
		fprintf(stderr, "  config: %s\n", err);
	CHECK(r == 0);
}

#define VIDEO_DEFAULT                                                                    \
	"mode=video&width=0&height=0&fit=contain&time=0&duration=-1&fps=0&quality=auto&" \
	"compression=auto&bitrate=0&audio=1&format=mp4"

static void test_defaults_and_names(void)
{
	struct vr_params p;
	vr_params_init(&p);
	CHECK(p.set == 0 && p.mode == VR_MODE_VIDEO && p.width == 0 && p.height == 0);
	CHECK(p.fit == VR_FIT_CONTAIN && p.time == 0 && p.duration < 0 && p.fps_num == 0);
	CHECK(p.quality == VR_LEVEL_AUTO && p.compression == VR_LEVEL_AUTO && p.bitrate == 0);
	CHECK(p.audio == 1 && p.format == VR_FORMAT_AUTO && !p.columns && !p.rows);
	CHECK(!p.derivative[0] && !p.imwidth && !p.imheight && !p.from_query);

	CHECK(str_is(qkey(""), VIDEO_DEFAULT));
	CHECK(str_is(qkey("?"), VIDEO_DEFAULT));
	CHECK(str_is(okey(""), VIDEO_DEFAULT));

	/* every long name, as an option and in a query */
	const char *all = "mode=video&width=640&height=360&fit=cover&time=1.5&duration=10&fps=30&"
			  "quality=high&compression=low&bitrate=800k&audio=false&format=webm";
	const char *want = "mode=video&width=640&height=360&fit=cover&time=1.5&duration=10&fps=30&"
			   "quality=high&compression=low&bitrate=800000&audio=0&format=webm";
	CHECK(str_is(qkey(all), want));
	CHECK(str_is(okey(all), want));
	CHECK(q(&p, all) == 0);
	CHECK(p.set == (VR_P_MODE | VR_P_WIDTH | VR_P_HEIGHT | VR_P_FIT | VR_P_TIME |
			VR_P_DURATION | VR_P_FPS | VR_P_QUALITY | VR_P_COMPRESSION | VR_P_BITRATE |
			VR_P_AUDIO | VR_P_FORMAT));
	CHECK(p.from_query == p.set);
	CHECK(p.width == 640 && p.height == 360 && p.fit == VR_FIT_COVER && p.time == 1.5);
	CHECK(p.duration == 10 && p.fps_num == 30 && p.fps_den == 1 && p.quality == VR_LEVEL_HIGH);
	CHECK(p.compression == VR_LEVEL_LOW && p.bitrate == 800000 && p.audio == 0);
	CHECK(p.format == VR_FORMAT_WEBM);

	/* the aliases, in a query */
	const char *aliases = "w=640&h=360&obj-fit=crop&start=1.5&dur=10&fps=30&q=high&"
			      "compression=low&bitrate=800k&mute=true&f=webm";
	CHECK(str_is(qkey(aliases), want));
	CHECK(q(&p, "obj-fit=fill") == 0 && p.fit == VR_FIT_CONTAIN && p.set == VR_P_FIT);
	CHECK(q(&p, "obj-fit=crop") == 0 && p.fit == VR_FIT_COVER);
	CHECK(q(&p, "obj-fit=contain") == 0 && p.fit == VR_FIT_CONTAIN);
	CHECK(q(&p, "obj-fit=cover") == 0 && p.fit == VR_FIT_COVER);
	CHECK(q(&p, "obj-fit=scale-down") == 0 && p.fit == VR_FIT_SCALE_DOWN);
	CHECK(q(&p, "fit=scale-down") == 0 && p.fit == VR_FIT_SCALE_DOWN);
	CHECK(q(&p, "imwidth=800&imheight=600") == 0 && p.imwidth == 800 && p.imheight == 600);
	CHECK(p.set == (VR_P_IMWIDTH | VR_P_IMHEIGHT));
	CHECK(q(&p, "derivative=mobile") == 0 && !strcmp(p.derivative, "mobile"));
	CHECK(p.set == VR_P_DERIVATIVE);
	CHECK(q(&p, "mode=spritesheet&columns=4&rows=5") == 0 && p.mode == VR_MODE_SPRITESHEET);
	CHECK(p.columns == 4 && p.rows == 5);
	CHECK(q(&p, "mode=frame") == 0 && p.mode == VR_MODE_FRAME);
	CHECK(q(&p, "mode=audio") == 0 && p.mode == VR_MODE_AUDIO);

	/* aliases are query names only; options take the long names */
	static const char *const qonly[] = {"w", "h", "obj-fit", "q", "f", "start", "dur",
					    "mute", "imwidth", "imheight"};
	for (size_t i = 0; i < sizeof qonly / sizeof *qonly; i++) {
		vr_params_init(&p);
		int r = vr_params_set(&p, &L, qonly[i], "1", 0, err, sizeof err);
		CHECK(r == VR_EUSAGE && strstr(err, qonly[i]) && strstr(err, "unknown parameter"));
		CHECK(p.set == 0);
	}

	/* values: every choice, case-insensitive */
	CHECK(q(&p, "quality=low&compression=medium") == 0 && p.quality == VR_LEVEL_LOW);
	CHECK(p.compression == VR_LEVEL_MEDIUM);
	CHECK(q(&p, "q=auto&compression=high") == 0 && p.quality == VR_LEVEL_AUTO);
	CHECK(p.compression == VR_LEVEL_HIGH);
	CHECK(q(&p, "format=JPEG&fit=Cover&mode=Frame") == 0 && p.format == VR_FORMAT_JPG);
	CHECK(p.fit == VR_FIT_COVER && p.mode == VR_MODE_FRAME);
	static const struct {
		const char *v;
		enum vr_format f;
	} fmts[] = {{"mp4", VR_FORMAT_MP4}, {"webm", VR_FORMAT_WEBM}, {"jpg", VR_FORMAT_JPG},
		    {"jpeg", VR_FORMAT_JPG}, {"png", VR_FORMAT_PNG},   {"webp", VR_FORMAT_WEBP},
		    {"m4a", VR_FORMAT_M4A}};
	for (size_t i = 0; i < sizeof fmts / sizeof *fmts; i++) {
		char qs[32];
		snprintf(qs, sizeof qs, "f=%s", fmts[i].v);
		CHECK(q(&p, qs) == 0 && p.format == fmts[i].f && p.set == VR_P_FORMAT);
	}
	static const struct {
		const char *v;
		int audio;
	} bools[] = {{"true", 1}, {"false", 0}, {"1", 1}, {"0", 0}, {"yes", 1}, {"no", 0},
		     {"TRUE", 1}, {"No", 0}};
	for (size_t i = 0; i < sizeof bools / sizeof *bools; i++) {
		char qs[32];
		snprintf(qs, sizeof qs, "audio=%s", bools[i].v);
		CHECK(q(&p, qs) == 0 && p.audio == bools[i].audio && p.set == VR_P_AUDIO);
		snprintf(qs, sizeof qs, "mute=%s", bools[i].v);
		CHECK(q(&p, qs) == 0 && p.audio == !bools[i].audio && p.set == VR_P_AUDIO);
	}

	CHECK(!strcmp(vr_mode_name(VR_MODE_SPRITESHEET), "spritesheet"));
	CHECK(!strcmp(vr_fit_name(VR_FIT_SCALE_DOWN), "scale-down"));
	CHECK(!strcmp(vr_level_name(VR_LEVEL_MEDIUM), "medium"));
	CHECK(!strcmp(vr_format_name(VR_FORMAT_M4A), "m4a"));
	CHECK(!strcmp(vr_format_name(VR_FORMAT_AUTO), "auto"));

	/* options after a query: last wins, and the origin follows */
	vr_params_init(&p);
	CHECK(vr_params_parse_query(&p, &L, "width=640&fit=cover", NULL, err, sizeof err) == 0);
	CHECK(vr_params_set(&p, &L, "width", "320", 0, err, sizeof err) == 0);
	CHECK(p.width == 320 && p.from_query == VR_P_FIT && (p.set & VR_P_WIDTH));
}

/* Each bad value is refused with the parameter's name and the value in the
 * message, VR_EDATA from a query and VR_EUSAGE as an option, or VR_ELIMIT
 * (exit 8) from both when a well-formed value is past a [limits] bound
 * (min-dimension, max-dimension, max-duration); nothing set. */
static void test_errors_name_the_parameter(void)
{
	static const struct {
		const char *name, *value, *range; /* range: text the message must hold */
		int limit;                        /* past a [limits] bound: VR_ELIMIT */
	} bad[] = {
		{"mode", "movie", "video, frame, spritesheet, audio"},
		{"width", "5000", "10-2000", 1},
		{"width", "abc", "10-2000"},
		{"width", "-5", "10-2000"},
		{"width", "640px", "10-2000"},
		{"width", "64.0", "10-2000"},
		{"width", "99999999999999999999999", "10-2000", 1},
		{"height", "9", "10-2000", 1},
		{"height", "0", "10-2000", 1},
		{"fit", "stretch", "contain, scale-down, cover"},
		{"fit", "crop", "contain, scale-down, cover"}, /* only obj-fit takes crop */
		{"time", "-1", "0-"},
		{"time", "soon", "5s"},
		{"time", "1:75", "5s"},
		{"time", "99999999", "0-8640000"},
		{"duration", "0", "(0-3600]"},
		{"duration", "0s", "(0-3600]"},
		{"duration", "3601", "(0-3600]", 1},
		{"duration", "2h", "(0-3600]", 1},
		{"duration", "0.0000001", "(0-3600]"},
		{"duration", "x", "(0-3600]"},
		{"fps", "0", "(0-120]"},
		{"fps", "121", "(0-120]"},
		{"fps", "30fps", "(0-120]"},
		{"fps", "29.97001", "3 decimals"},
		{"fps", "-1", "(0-120]"},
		{"fps", "1e2", "(0-120]"},
		{"quality", "best", "low, medium, high, auto"},
		{"compression", "max", "low, medium, high, auto"},
		{"bitrate", "5k", "10k-100M"},
		{"bitrate", "101M", "10k-100M"},
		{"bitrate", "1G", "10k-100M"},
		{"bitrate", "fast", "10k-100M"},
		{"bitrate", "1.0005k", "whole number"},
		{"bitrate", "-800k", "10k-100M"},
		{"audio", "maybe", "true, false"},
		{"format", "gif", "mp4, webm, jpg"},
		{"format", "auto", "mp4, webm, jpg"},
		{"columns", "0", "1-20"},
		{"columns", "21", "1-20"},
		{"rows", "21", "1-20"},
		{"rows", "x", "1-20"},
		{"derivative", "no such", "derivative name"},
		{"derivative", "a/b", "derivative name"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		for (int from_query = 0; from_query < 2; from_query++) {
			struct vr_params p;
			vr_params_init(&p);
			err[0] = '\0';
			int r = vr_params_set(&p, &L, bad[i].name, bad[i].value, from_query, err,
					      sizeof err);
			int want = bad[i].limit ? VR_ELIMIT : from_query ? VR_EDATA : VR_EUSAGE;
			int ok = r == want &&
				 strstr(err, bad[i].name) && strstr(err, bad[i].value) &&
				 strstr(err, bad[i].range) && p.set == 0;
			if (!ok)
				fprintf(stderr, "  %s=%s (query %d): %d '%s'\n", bad[i].name,
					bad[i].value, from_query, r, err);
			CHECK(ok);
		}
	}
	/* the messages of the brief, word for word */
	CHECK(str_is(qkey("width=5000"), "ERR8: width: '5000' is out of range 10-2000"));
	CHECK(str_is(qkey("fit=stretch"), "ERR3: fit: 'stretch' is not one of contain, scale-down, cover"));
	/* query-only names carry their own name */
	static const struct {
		const char *query, *name;
		int code;
	} qbad[] = {
		{"w=5000", "w", VR_ELIMIT},	{"h=1", "h", VR_ELIMIT},
		{"obj-fit=stretch", "obj-fit", VR_EDATA}, {"q=best", "q", VR_EDATA},
		{"f=gif", "f", VR_EDATA},	{"start=-1", "start", VR_EDATA},
		{"dur=0", "dur", VR_EDATA},	{"mute=maybe", "mute", VR_EDATA},
		{"imwidth=0", "imwidth", VR_EDATA}, {"imheight=x", "imheight", VR_EDATA},
		{"imwidth=100001", "imwidth", VR_EDATA},
	};
	for (size_t i = 0; i < sizeof qbad / sizeof *qbad; i++)
		CHECK(is_err(qkey(qbad[i].query), qbad[i].code, qbad[i].name, "'", NULL));
	CHECK(is_err(qkey("obj-fit=stretch"), VR_EDATA, "crop, fill", NULL, NULL));

	/* empty values */
	CHECK(is_err(qkey("width="), VR_EDATA, "width", "empty", NULL));
	CHECK(is_err(qkey("width"), VR_EDATA, "width", "empty", NULL));
	CHECK(is_err(qkey("mode=&width=640"), VR_EDATA, "mode", "empty", NULL));
	CHECK(is_err(okey("fit="), VR_EUSAGE, "fit", "empty", NULL));
	struct vr_params p;
	vr_params_init(&p);
	CHECK(vr_params_set(&p, &L, "width", NULL, 1, err, sizeof err) == VR_EDATA);

	/* unknown names */
	CHECK(str_is(qkey("foo=1"), "ERR3: unknown parameter 'foo'"));
	CHECK(is_err(qkey("width=640&Width=640"), VR_EDATA, "unknown parameter 'Width'", NULL, NULL));
	CHECK(is_err(okey("foo=1"), VR_EUSAGE, "unknown parameter 'foo'", NULL, NULL));
	CHECK(is_err(okey("v=1"), VR_EUSAGE, "unknown parameter 'v'", NULL, NULL));
	CHECK(is_err(qkey("imquery=1"), VR_EDATA, "imquery", NULL, NULL));
	/* untrusted bytes are not echoed raw */
	CHECK(is_err(qkey("width=%1b%5b2J"), VR_EDATA, "width: '?[2J'", NULL, NULL));
	CHECK(is_err(qkey("%0a=1"), VR_EDATA, "unknown parameter '?'", NULL, NULL));
	/* a long value is cut in the message */
	char longq[700] = "mode=";
	memset(longq + 5, 'x', 600);
	longq[605] = '\0';
	const char *k = qkey(longq);
	CHECK(is_err(k, VR_EDATA, "mode", "...", NULL) && strlen(k) < 200);
}

static void test_boundaries(void)
{
	CHECK(is_err(qkey("width=9"), VR_ELIMIT, "width", "'9'", "10-2000"));
	CHECK(strstr(qkey("width=10"), "&width=10&") != NULL);
	CHECK(strstr(qkey("width=2000"), "&width=2000&") != NULL);
	CHECK(is_err(qkey("width=2001"), VR_ELIMIT, "width", "'2001'", "10-2000"));
	CHECK(is_err(qkey("height=9"), VR_ELIMIT, "height", "'9'", "10-2000"));
	CHECK(strstr(qkey("height=10"), "&height=10&") != NULL);
	CHECK(strstr(qkey("height=2000"), "&height=2000&") != NULL);
	CHECK(is_err(qkey("height=2001"), VR_ELIMIT, "height", "'2001'", "10-2000"));
	CHECK(strstr(qkey("width=0640"), "&width=640&") != NULL);

	CHECK(strstr(qkey("fps=0.001"), "&fps=0.001&") != NULL);
	CHECK(strstr(qkey("fps=120"), "&fps=120&") != NULL);
	CHECK(strstr(qkey("fps=120.000"), "&fps=120&") != NULL);
	CHECK(is_err(qkey("fps=120.001"), VR_EDATA, "fps", NULL, NULL));
	CHECK(strstr(qkey("fps=29.97"), "&fps=29.97&") != NULL);
	CHECK(strstr(qkey("fps=119.999"), "&fps=119.999&") != NULL);
	CHECK(strstr(qkey("fps=.5"), "&fps=0.5&") != NULL);
	CHECK(is_err(qkey("fps=5."), VR_EDATA, "fps", NULL, NULL));

	CHECK(is_err(qkey("bitrate=9999"), VR_EDATA, "bitrate", NULL, NULL));
	CHECK(strstr(qkey("bitrate=10000"), "&bitrate=10000&") != NULL);
	CHECK(strstr(qkey("bitrate=10k"), "&bitrate=10000&") != NULL);
	CHECK(strstr(qkey("bitrate=100M"), "&bitrate=100000000&") != NULL);
	CHECK(is_err(qkey("bitrate=100000001"), VR_EDATA, "bitrate", NULL, NULL));
	CHECK(strstr(qkey("bitrate=1.5M"), "&bitrate=1500000&") != NULL);
	CHECK(strstr(qkey("bitrate=2m"), "&bitrate=2000000&") != NULL);
	CHECK(strstr(qkey("bitrate=800K"), "&bitrate=800000&") != NULL);
	CHECK(strstr(qkey("bitrate=1500000"), "&bitrate=1500000&") != NULL);
	CHECK(strstr(qkey("bitrate=0.05M"), "&bitrate=50000&") != NULL);

	CHECK(strstr(qkey("duration=0.000001"), "&duration=0.000001&") != NULL);
	CHECK(strstr(qkey("duration=3600"), "&duration=3600&") != NULL);
	CHECK(strstr(qkey("duration=1h"), "&duration=3600&") != NULL);
	CHECK(is_err(qkey("duration=3600.001"), VR_ELIMIT, "duration", NULL, NULL));
	CHECK(strstr(qkey("time=0"), "&time=0&") != NULL);
	CHECK(strstr(qkey("time=8640000"), "&time=8640000&") != NULL);
	CHECK(is_err(qkey("time=8640000.001"), VR_EDATA, "time", NULL, NULL));
	/* a combination past the end */
	CHECK(is_err(qkey("time=8639999&duration=2"), VR_EDATA, "time + duration", NULL, NULL));
	CHECK(strstr(qkey("time=8639998&duration=2"), "&duration=2&") != NULL);

	CHECK(is_err(qkey("mode=spritesheet&w=10&h=10&columns=0"), VR_EDATA, "columns", NULL, NULL));
	CHECK(strstr(qkey("mode=spritesheet&w=10&h=10&columns=1&rows=1"), "&columns=1&rows=1") != NULL);
	CHECK(strstr(qkey("mode=spritesheet&w=10&h=10&columns=20&rows=20"), "&columns=20&rows=20") != NULL);
	CHECK(is_err(qkey("mode=spritesheet&w=10&h=10&rows=21"), VR_EDATA, "rows", NULL, NULL));

	CHECK(!strncmp(qkey("imwidth=1"), "mode=video", 10));
	CHECK(!strncmp(qkey("imwidth=100000"), "mode=video", 10));
	CHECK(is_err(qkey("imwidth=100001"), VR_EDATA, "imwidth", NULL, NULL));
}

static void test_time_forms(void)
{
	static const struct {
		const char *v, *want;
	} t[] = {
		{"5s", "&time=5&"},	     {"1.5s", "&time=1.5&"},	{"2m", "&time=120&"},
		{"90", "&time=90&"},	     {"2", "&time=2&"},		{"2.000", "&time=2&"},
		{"00:00:02", "&time=2&"},    {"00:01:30.5", "&time=90.5&"},
		{"01:30", "&time=90&"},	     {"1:00:00", "&time=3600&"}, {"250ms", "&time=0.25&"},
		{"0.1", "&time=0.1&"},	     {"0.0000004", "&time=0&"}, {"0.0000006", "&time=0.000001&"},
		{"12.3456789", "&time=12.345679&"}, {"1h", "&time=3600&"},
	};
	for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
		char qs[64];
		snprintf(qs, sizeof qs, "time=%s", t[i].v);
		const char *k = qkey(qs);
		if (!strstr(k, t[i].want))
			fprintf(stderr, "  time=%s -> '%s', want '%s'\n", t[i].v, k, t[i].want);
		CHECK(strstr(k, t[i].want) != NULL);
		snprintf(qs, sizeof qs, "start=%s", t[i].v);
		CHECK(strstr(qkey(qs), t[i].want) != NULL);
		snprintf(qs, sizeof qs, "time=%s", t[i].v);
		CHECK(strstr(okey(qs), t[i].want) != NULL);
	}
	CHECK(strstr(qkey("dur=00:00:01.5"), "&duration=1.5&") != NULL);
	CHECK(strstr(qkey("duration=2m"), "&duration=120&") != NULL);
	/* the struct holds the rounded value the key prints */
	struct vr_params p;
	CHECK(q(&p, "time=12.3456789") == 0 && p.time == 12.345679);
}

static void test_mute(void)
{
	CHECK(strstr(qkey("mute=true"), "&audio=0&") != NULL);
	CHECK(strstr(qkey("mute=1"), "&audio=0&") != NULL);
	CHECK(strstr(qkey("mute=false"), "&audio=1&") != NULL);
	CHECK(strstr(qkey("mute=no"), "&audio=1&") != NULL);
	CHECK(keys_equal(qkey("mute=true"), qkey("audio=false")));
	CHECK(keys_equal(qkey("mute=false"), qkey("audio=true")));
	CHECK(keys_equal(qkey("mute=false"), qkey("")));
	/* agreeing twice is fine, disagreeing is not */
	CHECK(keys_equal(qkey("mute=true&audio=false"), qkey("audio=0")));
	CHECK(is_err(qkey("mute=true&audio=true"), VR_EDATA, "audio", "twice", "mute=true"));
	CHECK(is_err(qkey("mute=true&mode=audio"), VR_EDATA, "audio", "mode audio", NULL));
	CHECK(is_err(qkey("mute=false&mode=frame"), VR_EDATA, "audio", "mode frame", NULL));
}

static void test_imquery(void)
{
	static const struct {
		int w;
		const char *deriv, *size;
	} bp[] = {
		{1, "mobile", "&width=854&height=640&"},    {854, "mobile", "&width=854&height=640&"},
		{855, "tablet", "&width=1280&height=720&"}, {1280, "tablet", "&width=1280&height=720&"},
		{1281, "desktop", "&width=1920&height=1080&"},
		{5000, "desktop", "&width=1920&height=1080&"},
	};
	for (size_t i = 0; i < sizeof bp / sizeof *bp; i++) {
		char qs[64];
		struct vr_params p;
		snprintf(qs, sizeof qs, "imwidth=%d", bp[i].w);
		CHECK(q(&p, qs) == 0);
		CHECK(vr_params_finalize(&p, &L, NULL, err, sizeof err) == 0);
		CHECK(!strcmp(p.derivative, bp[i].deriv));
		CHECK(strstr(qkey(qs), bp[i].size) != NULL);
	}
	/* explicit width or height wins: the preset's size is not used at all
	 * (one dimension keeps the aspect); its other fields are (the 5m) */
	CHECK(str_is(qkey("imwidth=1281&width=640"),
		     "mode=video&width=640&height=0&fit=contain&time=0&duration=300&fps=0&"
		     "quality=auto&compression=auto&bitrate=0&audio=1&format=mp4"));
	CHECK(keys_equal(qkey("imwidth=1281&width=640"), qkey("width=640&duration=5m")));
	CHECK(keys_equal(qkey("w=300&imwidth=800"), qkey("width=300&duration=5m")));
	CHECK(keys_equal(qkey("h=300&imwidth=2000"), qkey("height=300&duration=5m")));
	CHECK(keys_equal(qkey("w=300&h=200&imwidth=2000"),
			 qkey("width=300&height=200&duration=5m")));
	struct vr_params p;
	CHECK(q(&p, "imwidth=1281&width=640") == 0);
	CHECK(vr_params_finalize(&p, &L, NULL, err, sizeof err) == 0);
	CHECK(p.width == 640 && p.height == 0 && p.imwidth == 1281);
	/* a named derivative wins over the hint */
	CHECK(keys_equal(qkey("imwidth=300&derivative=desktop"), qkey("derivative=desktop")));
	/* the hint does not make other modes fail: frame takes the size, audio ignores it */
	CHECK(strstr(qkey("imwidth=300&mode=frame"), "mode=frame&width=854&height=640&") != NULL);
	CHECK(keys_equal(qkey("imwidth=300&mode=audio"), qkey("mode=audio")));
	/* the hint is not in the key */
	CHECK(keys_equal(qkey("imwidth=300"), qkey("imwidth=800")));
	CHECK(keys_equal(qkey("imwidth=300"), qkey("derivative=mobile")));
}

/* The expectations of the original's own tests (imqueryUtils.spec.ts of
 * the service vr re-creates, with its shipped derivatives mobile 854x640,
 * tablet 1280x720, desktop 1920x1080): imheight alone, or both sides, pick
 * the closest derivative within the threshold; none close enough means
 * the requested size itself. */
static void test_imquery_closeness(void)
{
	static const struct {
		const char *q, *deriv;
	} cases[] = {
		{"imheight=700", "tablet"}, /* the parity case: it read as a width before */
		{"imwidth=800&imheight=600", "mobile"},
		{"imwidth=1200&imheight=700", "tablet"},
		{"imwidth=1800&imheight=1000", "desktop"},
		{"imwidth=1200&imheight=675", "tablet"},
		{"imwidth=854&imheight=640", "mobile"},
		{"imwidth=1280&imheight=720", "tablet"},
		{"imwidth=1920&imheight=1080", "desktop"},
		{"imwidth=805&imheight=600", "mobile"},
		{"imwidth=802&imheight=598", "mobile"},
		{"imwidth=809&imheight=605", "mobile"},
		{"imwidth=600&imheight=500", "mobile"}, /* past 25%, within the 1.5x fallback */
		{"imheight=600&imwidth=800", "mobile"}, /* order does not matter */
		{"imheight=1080", "desktop"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct vr_params p;
		CHECK(q(&p, cases[i].q) == 0);
		int r = vr_params_finalize(&p, &L, NULL, err, sizeof err);
		if (r || strcmp(p.derivative, cases[i].deriv))
			fprintf(stderr, "  %s: got '%s' (%d %s), want %s\n", cases[i].q, p.derivative,
				r, err, cases[i].deriv);
		CHECK(r == 0 && !strcmp(p.derivative, cases[i].deriv));
		char want[32];
		snprintf(want, sizeof want, "derivative=%s", cases[i].deriv);
		CHECK(keys_equal(qkey(cases[i].q), qkey(want)));
	}
	/* width alone keeps the breakpoints (the original's exact boundaries) */
	CHECK(keys_equal(qkey("imwidth=854"), qkey("derivative=mobile")));
	CHECK(keys_equal(qkey("imwidth=855"), qkey("derivative=tablet")));
	CHECK(keys_equal(qkey("imwidth=1280"), qkey("derivative=tablet")));
	CHECK(keys_equal(qkey("imwidth=1281"), qkey("derivative=desktop")));
	CHECK(keys_equal(qkey("imwidth=1500"), qkey("derivative=desktop")));

	/* none close enough: the requested size, rounded for video as any */
	CHECK(keys_equal(qkey("imheight=200"), qkey("height=200")));
	CHECK(keys_equal(qkey("imwidth=200&imheight=150"), qkey("width=200&height=150")));
	CHECK(keys_equal(qkey("imwidth=201&imheight=151"), qkey("width=200&height=150")));
	struct vr_params p;
	CHECK(q(&p, "imwidth=200&imheight=150") == 0);
	CHECK(vr_params_finalize(&p, &L, NULL, err, sizeof err) == 0);
	CHECK(!p.derivative[0] && p.width == 200 && p.height == 150 && p.set == (VR_P_IMWIDTH | VR_P_IMHEIGHT));
	CHECK(p.filled == (VR_P_WIDTH | VR_P_HEIGHT));
	/* an explicit side wins over the requested size too */
	CHECK(keys_equal(qkey("imwidth=200&imheight=150&width=300"), qkey("width=300")));
	/* past the limits: refused as a limit (exit 8), as the original refused it */
	CHECK(is_err(qkey("imheight=5000"), VR_ELIMIT, "imheight", "5000", "10-2000"));
	CHECK(is_err(qkey("imwidth=3000&imheight=3000"), VR_ELIMIT, "imwidth", "3000", NULL));
	CHECK(is_err(qkey("imwidth=5&imheight=5"), VR_ELIMIT, "imwidth", "10-2000", NULL));
	/* the threshold is configurable: 1% finds nothing for 800x450 (the
	 * original's strict-threshold test), so 800x450 itself */
	struct vr_limits saved = L;
	L.imquery_threshold = 0.01;
	CHECK(keys_equal(qkey("imwidth=800&imheight=450"), qkey("width=800&height=450")));
	CHECK(keys_equal(qkey("imwidth=854&imheight=640"), qkey("derivative=mobile")));
	L = saved;
	L.imquery_threshold = 0.25; /* the original's nominal threshold, without its fallback */
	CHECK(keys_equal(qkey("imwidth=600&imheight=500"), qkey("width=600&height=500")));
	L = saved;

	/* configured derivatives are candidates, of the request's mode only:
	 * a picture preset never turns a video request into a picture */
	load_cfg("[derivative \"square\"]\nwidth = 720\nheight = 720\n"
		 "[derivative \"poster\"]\nmode = frame\nwidth = 1200\nheight = 700\nformat = png\n"
		 "[derivative \"tablet\"]\nwidth = 1024\nheight = 768\n");
	CHECK(keys_equal(qkey("imwidth=720&imheight=720"), qkey("derivative=square")));
	CHECK(keys_equal(qkey("imwidth=700&imheight=700"), qkey("derivative=square")));
	CHECK(keys_equal(qkey("imwidth=1200&imheight=700"), qkey("derivative=tablet")));
	CHECK(keys_equal(qkey("imwidth=1200&imheight=700&mode=frame"), qkey("derivative=poster")));
	CHECK(keys_equal(qkey("imheight=768"), qkey("width=1024&height=768"))); /* replaced */
	vr_config_free(CFG);
	CFG = NULL;
	/* a built-in outside the configured limits is no candidate */
	L.max_dim = 1500;
	CHECK(keys_equal(qkey("imheight=1000"), qkey("derivative=tablet")));
	L = saved;
}

static int limits_from(const char *text, struct vr_limits *l);

static void test_imquery_config(void)
{
	struct vr_limits l;
	CHECK(limits_from("[imquery]\nbreakpoint = 640 mobile\nbreakpoint = 1024 tablet\n"
			  "breakpoint = desktop\nthreshold = 10%\n", &l) == 0);
	CHECK(l.nbreakpoints == 3 && l.breakpoints[0].max == 640 && l.breakpoints[2].max == 0);
	CHECK(!strcmp(l.breakpoints[1].derivative, "tablet") && fabs(l.imquery_threshold - 0.1) < 1e-12);
	struct vr_limits saved = L;
	L = l;
	CHECK(keys_equal(qkey("imwidth=641"), qkey("derivative=tablet")));
	CHECK(keys_equal(qkey("imwidth=640"), qkey("derivative=mobile")));
	CHECK(keys_equal(qkey("imwidth=1025"), qkey("derivative=desktop")));
	CHECK(keys_equal(qkey("imheight=500"), qkey("height=500"))); /* 28% from 640 */
	CHECK(keys_equal(qkey("imheight=620"), qkey("derivative=mobile")));
	L = saved;
	/* above the last maximum: the last */
	CHECK(limits_from("[imquery]\nbreakpoint = 900 mobile\nbreakpoint = 1300 tablet\n", &l) == 0);
	saved = L;
	L = l;
	CHECK(keys_equal(qkey("imwidth=5000"), qkey("derivative=tablet")));
	L = saved;
	CHECK(limits_from("[imquery]\nthreshold = 0.5\n", &l) == 0 && l.imquery_threshold == 0.5);
	CHECK(l.nbreakpoints == 3 && l.breakpoints[0].max == 854 && l.breakpoints[1].max == 1280);
	/* errors name the line */
	CHECK(limits_from("[imquery]\nbreakpoint = 900 huge\n", &l) == VR_EDATA);
	CHECK(strstr(err, "lim.conf:2") && strstr(err, "'huge' is not a derivative"));
	CHECK(limits_from("[imquery]\nbreakpoint = 900 tablet\nbreakpoint = 800 mobile\n", &l) == VR_EDATA);
	CHECK(strstr(err, "lim.conf:3") && strstr(err, "ascending"));
	CHECK(limits_from("[imquery]\nbreakpoint = desktop\nbreakpoint = 800 mobile\n", &l) == VR_EDATA);
	CHECK(limits_from("[imquery]\nbreakpoint = x 1 mobile\n", &l) == VR_EDATA);
	CHECK(limits_from("[imquery]\nthreshold = lots\n", &l) == VR_EDATA && strstr(err, "threshold"));
	CHECK(limits_from("[imquery]\nthreshold = 20\n", &l) == VR_EDATA);
	CHECK(limits_from("[imquery]\nbreakpionts = 1\n", &l) == VR_EDATA && strstr(err, "breakpionts"));
	/* a configured derivative may be a breakpoint */
	CHECK(limits_from("[derivative \"hd\"]\nwidth = 1280\n[imquery]\nbreakpoint = 900 mobile\n"
			  "breakpoint = hd\n", &l) == 0 && !strcmp(l.breakpoints[1].derivative, "hd"));
}

/* Names the original accepted: the HTML playback attributes and IMQuery
 * hints are checked and change nothing; the ignore list drops its names;
 * every other unknown name stays an error. */
static void test_accepted_names(void)
{
	struct vr_params p;
	CHECK(q(&p, "loop&autoplay=false&muted=yes&preload=none&im-density=1.5&im-viewwidth=1200&"
		    "im-viewheight=800&imref=hero") == 0 && p.set == 0);
	CHECK(q(&p, "loop=maybe") == VR_EDATA && strstr(err, "loop") && strstr(err, "maybe"));
	CHECK(q(&p, "imref=&imref=w%3D1,h%3D2") == 0 && p.set == 0);
	CHECK(q(&p, "preload=all") == VR_EDATA && strstr(err, "preload"));
	CHECK(q(&p, "im-density=0") == VR_EDATA && strstr(err, "im-density"));
	CHECK(q(&p, "im-density=x") == VR_EDATA);
	CHECK(q(&p, "im-viewwidth=wide") == VR_EDATA && strstr(err, "im-viewwidth"));
	/* given twice is no contradiction: they have no field */
	CHECK(q(&p, "loop=1&loop=0&mode=frame") == 0 && p.mode == VR_MODE_FRAME);
	/* query names only: as an option they are unknown */
	vr_params_init(&p);
	CHECK(vr_params_set(&p, &L, "loop", "1", 0, err, sizeof err) == VR_EUSAGE);
	CHECK(strstr(err, "unknown parameter 'loop'") != NULL);
	/* the default ignore list */
	CHECK(q(&p, "utm_source=a&utm_=b&fbclid=c&gclid=d&msclkid=e&_=1&w=10") == 0);
	CHECK(p.set == VR_P_WIDTH);
	CHECK(q(&p, "utm=a") == VR_EDATA && strstr(err, "unknown parameter 'utm'"));
	CHECK(q(&p, "__=1") == VR_EDATA);
	CHECK(q(&p, "fbclid2=1") == VR_EDATA);
	CHECK(vr_params_ignored(VR_PARAMS_IGNORE_DEFAULT, "utm_x", 5));
	CHECK(!vr_params_ignored(VR_PARAMS_IGNORE_DEFAULT, "utm", 3));
	/* a configured list replaces it */
	struct vr_limits l, saved = L;
	CHECK(limits_from("[request]\nignore = ref, mc_*\nignore = x.y\n", &l) == 0);
	CHECK(!strcmp(l.ignore, "ref mc_* x.y"));
	L = l;
	CHECK(q(&p, "ref=1&mc_cid=2&x.y=3&w=10") == 0 && p.set == VR_P_WIDTH);
	CHECK(q(&p, "fbclid=1") == VR_EDATA);
	L = saved;
	CHECK(limits_from("[request]\nignore = \"\"\n", &l) == 0 && !l.ignore[0]);
	CHECK(limits_from("[request]\nignore = w*\n", &l) == VR_EDATA);
	CHECK(strstr(err, "lim.conf:2") && strstr(err, "would drop the parameter 'width'"));
	CHECK(limits_from("[request]\nignore = nocache\n", &l) == VR_EDATA && strstr(err, "nocache"));
	CHECK(limits_from("[request]\nignore = *\n", &l) == VR_EDATA);
	CHECK(limits_from("[request]\nignore = a=b\n", &l) == VR_EDATA && strstr(err, "'a=b'"));
	CHECK(limits_from("[request]\nignored = x\n", &l) == VR_EDATA && strstr(err, "ignored"));
	CHECK(vr_params_is_name("im-viewheight", 13) && vr_params_is_name("bypass", 6));
	CHECK(!vr_params_is_name("utm_source", 10));
}

/* [origin "NAME"] quality and compression: defaults for what neither the
 * request nor its derivative gave. */
static void test_origin_defaults(void)
{
	load_cfg("[origin \"o\"]\nmatch = ^/o/\nsource = /srv/$0\nquality = high\ncompression = low\n"
		 "[origin \"bad\"]\nmatch = ^/b/\nsource = /srv/$0\nquality = best\n"
		 "[derivative \"lq\"]\nquality = low\nwidth = 320\n");
	static const struct {
		const char *q, *want;
	} cases[] = {
		{"w=640", "quality=high&compression=low"},
		{"w=640&q=medium", "quality=auto&compression=low"}, /* medium is auto */
		{"w=640&compression=auto", "quality=high&compression=auto"},
		{"derivative=lq", "quality=low&compression=low"},
		{"mode=frame", "quality=high&compression=auto"}, /* JPEG: no effort setting */
		{"mode=frame&f=png", "quality=auto&compression=low"}, /* PNG: lossless */
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct vr_params p;
		char k[VR_PARAMS_CANONICAL_MAX];
		CHECK(q(&p, cases[i].q) == 0 && vr_params_finalize(&p, &L, CFG, err, sizeof err) == 0);
		CHECK(vr_params_origin_defaults(&p, CFG, "o", err, sizeof err) == 0);
		vr_params_canonical(&p, k, sizeof k);
		if (!strstr(k, cases[i].want))
			fprintf(stderr, "  %s: '%s' lacks '%s'\n", cases[i].q, k, cases[i].want);
		CHECK(strstr(k, cases[i].want) != NULL);
	}
	struct vr_params p;
	char k[VR_PARAMS_CANONICAL_MAX];
	/* mode audio has neither */
	CHECK(q(&p, "mode=audio") == 0 && vr_params_finalize(&p, &L, CFG, err, sizeof err) == 0);
	CHECK(vr_params_origin_defaults(&p, CFG, "o", err, sizeof err) == 0);
	vr_params_canonical(&p, k, sizeof k);
	CHECK(keys_equal(k, qkey("mode=audio")));
	/* no origin, or one without them: nothing */
	CHECK(q(&p, "w=640") == 0 && vr_params_finalize(&p, &L, CFG, err, sizeof err) == 0);
	CHECK(vr_params_origin_defaults(&p, CFG, "", err, sizeof err) == 0);
	CHECK(vr_params_origin_defaults(&p, NULL, "o", err, sizeof err) == 0);
	vr_params_canonical(&p, k, sizeof k);
	CHECK(keys_equal(k, qkey("w=640")));
	/* a bad value names its line */
	CHECK(vr_params_origin_defaults(&p, CFG, "bad", err, sizeof err) == VR_EDATA);
	CHECK(strstr(err, "t.conf:9") && strstr(err, "'best'"));
	vr_config_free(CFG);
	CFG = NULL;
}

static void test_derivatives(void)
{
	/* the original's shipped presets, durations included */
	const char *mobile = "mode=video&width=854&height=640&fit=contain&time=0&duration=300&fps=0&"
			     "quality=auto&compression=auto&bitrate=0&audio=1&format=mp4";
	CHECK(str_is(qkey("derivative=mobile"), mobile));
	CHECK(keys_equal(qkey("derivative=mobile"),
			 qkey("mode=video&w=854&h=640&obj-fit=fill&dur=5m&audio=true&loop")));
	CHECK(keys_equal(qkey("derivative=tablet"), qkey("width=1280&height=720&duration=300")));
	CHECK(keys_equal(qkey("derivative=desktop"),
			 qkey("width=1920&height=1080&fit=contain&duration=5m&audio=true")));
	CHECK(keys_equal(okey("derivative=desktop"),
			 okey("mode=video&width=1920&height=1080&fit=contain&duration=5m&audio=true")));
	/* an explicit duration wins over the preset's */
	CHECK(keys_equal(qkey("derivative=desktop&duration=10s"),
			 qkey("width=1920&height=1080&duration=10")));
	/* under a smaller max-duration the preset's 5m shrinks to it */
	struct vr_limits wide = L;
	L.max_duration = 60;
	CHECK(keys_equal(qkey("derivative=tablet"), qkey("width=1280&height=720&duration=60")));
	L = wide;
	CHECK(str_is(qkey("derivative=thumbnail"),
		     "mode=frame&width=640&height=360&fit=cover&time=2&quality=auto&"
		     "compression=auto&format=png"));
	CHECK(keys_equal(qkey("derivative=thumbnail"),
			 qkey("mode=frame&w=640&h=360&format=png&start=2s&obj-fit=crop")));
	CHECK(keys_equal(okey("derivative=thumbnail"), qkey("derivative=thumbnail")));
	/* explicit fields win */
	CHECK(keys_equal(qkey("derivative=thumbnail&format=jpg&time=5"),
			 qkey("mode=frame&w=640&h=360&format=jpg&start=5&obj-fit=crop")));
	CHECK(keys_equal(qkey("derivative=desktop&fit=cover&quality=high"),
			 qkey("width=1920&height=1080&fit=cover&quality=high&duration=300")));
	/* one explicit dimension: the preset's size stays out, so cover with one
	 * dimension is plain scaling */
	CHECK(keys_equal(qkey("derivative=thumbnail&width=320"),
			 qkey("mode=frame&width=320&format=png&time=2")));
	/* the struct records the preset; the key does not */
	struct vr_params p;
	CHECK(q(&p, "derivative=tablet") == 0);
	CHECK(vr_params_finalize(&p, &L, NULL, err, sizeof err) == 0);
	CHECK(!strcmp(p.derivative, "tablet") && p.width == 1280 && p.height == 720);
	CHECK(p.set == VR_P_DERIVATIVE); /* set keeps only what was explicit */
	/* finalize twice gives the same */
	char k1[256], k2[256];
	vr_params_canonical(&p, k1, sizeof k1);
	CHECK(vr_params_finalize(&p, &L, NULL, err, sizeof err) == 0);
	vr_params_canonical(&p, k2, sizeof k2);
	CHECK(str_is(k1, k2));

	/* unknown names list the known ones */
	CHECK(str_is(qkey("derivative=huge"),
		     "ERR3: derivative: 'huge' is not one of desktop, tablet, mobile, thumbnail"));
	CHECK(is_err(okey("derivative=huge"), VR_EUSAGE, "derivative", "'huge'", "mobile"));
	CHECK(is_err(qkey("derivative=Mobile"), VR_EDATA, "derivative", NULL, NULL));

	/* from a config: new ones, and one that replaces a built-in whole */
	load_cfg("[derivative \"promo\"]\n"
		 "mode = video\nwidth = 1280\nheight = 720\nfit = cover\ntime = 1m\n"
		 "duration = 30s\nfps = 24\nquality = high\ncompression = low\n"
		 "bitrate = 2M\naudio = false\nformat = webm\n"
		 "[derivative \"mobile\"]\nwidth = 720\n"
		 "[derivative \"sheet\"]\nmode = spritesheet\nwidth = 160\nheight = 90\n"
		 "columns = 5\nrows = 4\n"
		 "[derivative \"clip\"]\nmode = audio\nformat = m4a\nduration = 20\n");
	CHECK(str_is(qkey("derivative=promo"),
		     "mode=video&width=1280&height=720&fit=cover&time=60&duration=30&fps=24&"
		     "quality=high&compression=low&bitrate=2000000&audio=0&format=webm"));
	CHECK(keys_equal(qkey("derivative=promo"),
			 qkey("width=1280&height=720&fit=cover&time=60&duration=30&fps=24&q=high&"
			      "compression=low&bitrate=2000k&mute=1&f=webm")));
	CHECK(keys_equal(qkey("derivative=mobile"), qkey("width=720")));
	CHECK(keys_equal(qkey("imwidth=500"), qkey("width=720"))); /* the replaced one */
	CHECK(keys_equal(qkey("derivative=sheet"),
			 qkey("mode=spritesheet&w=160&h=90&columns=5&rows=4")));
	CHECK(keys_equal(qkey("derivative=clip"), qkey("mode=audio&dur=20")));
	CHECK(keys_equal(qkey("derivative=promo&audio=true&f=mp4"),
			 qkey("width=1280&height=720&fit=cover&time=60&duration=30&fps=24&q=high&"
			      "compression=low&bitrate=2000k")));
	CHECK(keys_equal(qkey("derivative=thumbnail"),
			 qkey("mode=frame&w=640&h=360&format=png&start=2s&obj-fit=crop")));
	CHECK(str_is(qkey("derivative=nope"),
		     "ERR3: derivative: 'nope' is not one of desktop, tablet, mobile, thumbnail, "
		     "promo, sheet, clip"));
	/* an explicit mode wins: the preset's fields that the mode has no use
	 * for, or whose format or audio=false it contradicts, are left out */
	CHECK(keys_equal(qkey("derivative=promo&mode=frame"),
			 qkey("mode=frame&width=1280&height=720&fit=cover&time=60&q=high&"
			      "compression=low")));
	CHECK(keys_equal(qkey("derivative=promo&mode=audio"),
			 qkey("mode=audio&time=60&duration=30&bitrate=2M")));
	CHECK(keys_equal(qkey("derivative=sheet&mode=frame"), qkey("mode=frame&w=160&h=90")));
	CHECK(keys_equal(qkey("derivative=clip&mode=video"), qkey("mode=video&duration=20")));
	/* a preset used in its own mode keeps its errors */
	load_cfg("[derivative \"odd\"]\nmode = frame\nduration = 5\n");
	CHECK(is_err(qkey("derivative=odd"), VR_EDATA, "duration", "derivative odd, t.conf:3",
		     "mode frame"));
	CHECK(is_err(qkey("derivative=odd&mode=frame"), VR_EDATA, "duration", NULL, NULL));
	CHECK(keys_equal(qkey("derivative=odd&mode=video"), qkey("duration=5")));

	/* invalid values in a config derivative name FILE:LINE */
	load_cfg("[derivative \"bad\"]\nmode = video\nwidth = 5000\n");
	CHECK(str_is(qkey("derivative=bad"),
		     "ERR3: t.conf:3: derivative \"bad\": width: '5000' is out of range 10-2000"));
	CHECK(is_err(okey("derivative=bad"), VR_EDATA, "t.conf:3", "width", NULL));
	load_cfg("[derivative \"bad\"]\nfit = stretch\n");
	CHECK(is_err(qkey("derivative=bad"), VR_EDATA, "t.conf:2", "fit", "stretch"));
	load_cfg("[derivative \"bad\"]\nmode = frame\nformat = mp4\n");
	CHECK(is_err(qkey("derivative=bad"), VR_EDATA, "format", "t.conf:3", "mode frame"));
	load_cfg("[derivative \"bad\"]\nwidht = 640\n");
	CHECK(is_err(qkey("derivative=bad"), VR_EDATA, "t.conf:2", "unknown key 'widht'", NULL));
	load_cfg("[derivative \"bad\"]\nwidth = 640\nhieght = 360\n");
	CHECK(is_err(qkey("derivative=bad"), VR_EDATA, "t.conf:3", "unknown key 'hieght'", NULL));
	load_cfg("[derivative \"bad\"]\nmode = spritesheet\nwidth = 100\n");
	CHECK(is_err(qkey("derivative=bad"), VR_EDATA, "spritesheet", "height", NULL));
	vr_config_free(CFG);
	CFG = NULL;

	/* a built-in beyond configured limits says so */
	struct vr_limits saved = L;
	L.max_dim = 1000;
	CHECK(is_err(qkey("derivative=desktop"), VR_EDATA, "desktop", "1920", "10-1000"));
	CHECK(is_err(qkey("imwidth=2000"), VR_EDATA, "desktop", "1920", NULL));
	L = saved;
}

/* An explicit mode, or a format the preset's mode does not take, wins
 * over a built-in derivative; what still applies (the size, fit, time)
 * is kept, the rest left out; the key is the explicit parameters'. */
static void test_derivative_mode_wins(void)
{
	static const char *const same[][2] = {
		{"derivative=desktop&mode=frame", "mode=frame&width=1920&height=1080&fit=contain"},
		{"derivative=desktop&format=png", "mode=frame&width=1920&height=1080&format=png"},
		{"derivative=desktop&format=jpg", "mode=frame&width=1920&height=1080"},
		{"derivative=mobile&mode=audio", "mode=audio&duration=300"},
		{"derivative=tablet&mode=spritesheet",
		 "mode=spritesheet&width=1280&height=720&fit=contain"},
		{"derivative=thumbnail&mode=video", "mode=video&w=640&h=360&fit=cover&time=2"},
		{"derivative=thumbnail&format=mp4", "mode=video&w=640&h=360&fit=cover&time=2"},
		{"derivative=thumbnail&format=webm", "w=640&h=360&fit=cover&time=2&f=webm"},
		{"derivative=thumbnail&mode=spritesheet",
		 "mode=spritesheet&w=640&h=360&fit=cover&time=2"},
		{"derivative=thumbnail&format=m4a", "mode=audio&time=2"},
		{"derivative=thumbnail&mode=video&width=320", "w=320&time=2"},
		{"derivative=desktop&mode=frame&format=webp",
		 "mode=frame&width=1920&height=1080&format=webp"},
		/* a format the preset's mode takes keeps the mode */
		{"derivative=thumbnail&format=jpg", "mode=frame&w=640&h=360&fit=cover&time=2"},
		{"derivative=desktop&format=webm", "w=1920&h=1080&duration=5m&f=webm"},
	};
	for (size_t i = 0; i < sizeof same / sizeof *same; i++) {
		const char *a = qkey(same[i][0]), *b = qkey(same[i][1]);
		if (!strncmp(a, "ERR", 3) || strcmp(a, b))
			fprintf(stderr, "  pair %zu: '%s' vs '%s'\n", i, same[i][0], same[i][1]);
		CHECK(keys_equal(a, b));
		CHECK(keys_equal(okey(same[i][0]), a)); /* the same as options */
	}
	/* the struct the engine runs on says it too */
	struct vr_params p;
	CHECK(q(&p, "derivative=desktop&mode=frame") == 0);
	CHECK(vr_params_finalize(&p, &L, NULL, err, sizeof err) == 0);
	CHECK(p.mode == VR_MODE_FRAME && p.width == 1920 && p.height == 1080);
	CHECK(p.format == VR_FORMAT_JPG && p.duration < 0);
	CHECK(p.filled == (VR_P_WIDTH | VR_P_HEIGHT | VR_P_FIT));
	CHECK(q(&p, "derivative=thumbnail&f=mp4") == 0);
	CHECK(vr_params_finalize(&p, &L, NULL, err, sizeof err) == 0);
	CHECK(p.mode == VR_MODE_VIDEO && p.format == VR_FORMAT_MP4 && p.time == 2);
	/* explicit fields that do not fit the mode stay errors */
	CHECK(is_err(qkey("derivative=desktop&mode=frame&duration=5"), VR_EDATA, "duration",
		     "mode frame", NULL));
	CHECK(is_err(qkey("derivative=thumbnail&mode=video&f=png"), VR_EDATA, "format", "png",
		     "mode video"));
	CHECK(is_err(qkey("derivative=thumbnail&mode=frame&f=mp4"), VR_EDATA, "format", "mp4",
		     NULL));
}

/* Levels that an encoder reads the same, or not at all, are one key
 * (lib/av/encode.c: auto is medium everywhere; JPEG has no effort
 * setting, PNG no quality). */
static void test_levels_normalised(void)
{
	static const char *const same[][2] = {
		{"", "quality=medium"},
		{"", "compression=medium"},
		{"q=auto&compression=auto", "q=medium&compression=medium"},
		{"f=webm&q=medium", "f=webm"},
		{"mode=frame&q=medium", "mode=frame"},
		{"mode=frame", "mode=frame&compression=high"},
		{"mode=frame&q=low", "mode=frame&q=low&compression=low"},
		{"mode=frame&f=png", "mode=frame&f=png&q=high"},
		{"mode=frame&f=png&compression=high", "mode=frame&f=png&q=low&compression=high"},
		{"mode=spritesheet&w=100&h=100", "mode=spritesheet&w=100&h=100&compression=low"},
		{"derivative=thumbnail", "derivative=thumbnail&q=low"},
	};
	for (size_t i = 0; i < sizeof same / sizeof *same; i++) {
		const char *a = qkey(same[i][0]), *b = qkey(same[i][1]);
		if (!strncmp(a, "ERR", 3) || strcmp(a, b))
			fprintf(stderr, "  pair %zu: '%s' vs '%s'\n", i, same[i][0], same[i][1]);
		CHECK(keys_equal(a, b));
	}
	static const char *const diff[][2] = {
		{"", "quality=low"},
		{"", "quality=high"},
		{"", "compression=low"},
		{"", "compression=high"},
		{"mode=frame", "mode=frame&q=high"},
		{"mode=frame&f=webp", "mode=frame&f=webp&q=high"},
		{"mode=frame&f=webp", "mode=frame&f=webp&compression=high"},
		{"mode=frame&f=png", "mode=frame&f=png&compression=low"},
		{"mode=spritesheet&w=100&h=100", "mode=spritesheet&w=100&h=100&q=low"},
	};
	for (size_t i = 0; i < sizeof diff / sizeof *diff; i++) {
		const char *a = qkey(diff[i][0]), *b = qkey(diff[i][1]);
		int ok = strncmp(a, "ERR", 3) && strncmp(b, "ERR", 3) && strcmp(a, b);
		if (!ok)
			fprintf(stderr, "  pair %zu should differ: '%s' / '%s'\n", i, a, b);
		CHECK(ok);
	}
	/* the struct says it too: what the engine encodes with */
	struct vr_params p;
	CHECK(q(&p, "mode=frame&q=high&compression=high") == 0);
	CHECK(vr_params_finalize(&p, &L, NULL, err, sizeof err) == 0);
	CHECK(p.quality == VR_LEVEL_HIGH && p.compression == VR_LEVEL_AUTO);
}

/* -o FILE: the extension is the format when none is given. */
static const char *outkey(const char *query, const char *path)
{
	char *k = keybuf[keyslot++ % 4];
	struct vr_params p;
	vr_params_init(&p);
	err[0] = '\0';
	int r = vr_params_parse_query(&p, &L, query, NULL, err, sizeof err);
	if (!r)
		r = vr_params_output_path(&p, path, err, sizeof err);
	if (!r)
		r = vr_params_finalize(&p, &L, CFG, err, sizeof err);
	if (r)
		snprintf(k, KEYMAX, "ERR%d: %s", r, err);
	else
		vr_params_canonical(&p, k, VR_PARAMS_CANONICAL_MAX);
	return k;
}

static void test_output_path(void)
{
	CHECK(vr_format_from_path("a.webm") == VR_FORMAT_WEBM);
	CHECK(vr_format_from_path("dir.x/A.MP4") == VR_FORMAT_MP4);
	CHECK(vr_format_from_path("t.jpeg") == VR_FORMAT_JPG);
	CHECK(vr_format_from_path("t.JPG") == VR_FORMAT_JPG);
	CHECK(vr_format_from_path("t.png") == VR_FORMAT_PNG);
	CHECK(vr_format_from_path("t.webp") == VR_FORMAT_WEBP);
	CHECK(vr_format_from_path("t.m4a") == VR_FORMAT_M4A);
	CHECK(vr_format_from_path("t.mkv") == VR_FORMAT_AUTO);
	CHECK(vr_format_from_path("out") == VR_FORMAT_AUTO);
	CHECK(vr_format_from_path("dir.webm/out") == VR_FORMAT_AUTO);
	CHECK(vr_format_from_path(".webm") == VR_FORMAT_AUTO);
	CHECK(vr_format_from_path("-") == VR_FORMAT_AUTO);
	CHECK(vr_format_from_path(NULL) == VR_FORMAT_AUTO);
	static const char *const same[][3] = {
		{"w=160", "x.webm", "w=160&f=webm"},
		{"w=160", "x.mp4", "w=160"},
		{"w=160", "x.bin", "w=160"},
		{"w=160", "x", "w=160"},
		{"", "a.m4a", "mode=audio"},
		{"mode=frame", "t.png", "mode=frame&f=png"},
		{"mode=frame", "t.jpeg", "mode=frame"},
		{"mode=frame&f=jpeg", "t.jpg", "mode=frame"},
		{"mode=spritesheet&w=10&h=10", "s.jpg", "mode=spritesheet&w=10&h=10"},
		{"derivative=thumbnail", "t.jpg", "derivative=thumbnail&f=jpg"},
		{"derivative=thumbnail", "t.png", "derivative=thumbnail"},
		{"derivative=desktop", "d.webm", "derivative=desktop&f=webm"},
		{"f=webm", "x.WEBM", "f=webm"},
	};
	for (size_t i = 0; i < sizeof same / sizeof *same; i++) {
		const char *a = outkey(same[i][0], same[i][1]), *b = qkey(same[i][2]);
		if (!strncmp(a, "ERR", 3) || strcmp(a, b))
			fprintf(stderr, "  case %zu: '%s' -o %s\n", i, same[i][0], same[i][1]);
		CHECK(keys_equal(a, b));
	}
	/* contradictions are usage errors, whatever gave the format or mode */
	CHECK(is_err(outkey("f=mp4", "y.webm"), VR_EUSAGE, ".webm", "format mp4", NULL));
	CHECK(is_err(outkey("mode=frame", "x.mp4"), VR_EUSAGE, ".mp4", "mode frame", "jpg, png"));
	CHECK(is_err(outkey("", "x.png"), VR_EUSAGE, ".png", "mode video", NULL));
	CHECK(is_err(outkey("mode=spritesheet&w=10&h=10", "s.png"), VR_EUSAGE, ".png",
		     "mode spritesheet", NULL));
	CHECK(is_err(outkey("mode=audio", "a.mp4"), VR_EUSAGE, ".mp4", "mode audio", "m4a"));
	CHECK(is_err(outkey("mode=frame&f=png", "t.jpg"), VR_EUSAGE, ".jpg", "format png", NULL));
	/* the extension is weaker than a format given: it never overrides a
	 * derivative's mode (a format given does) */
	CHECK(is_err(outkey("derivative=thumbnail", "t.mp4"), VR_EUSAGE, ".mp4", "mode frame", NULL));
	CHECK(is_err(outkey("derivative=desktop", "t.png"), VR_EUSAGE, ".png", "mode video", NULL));
	CHECK(is_err(outkey("derivative=desktop", "a.m4a"), VR_EUSAGE, ".m4a", "mode video", NULL));
	CHECK(keys_equal(outkey("derivative=thumbnail&f=mp4", "t.mp4"),
			 qkey("derivative=thumbnail&f=mp4")));
}

static void test_mode_rules(void)
{
	/* defaults per mode */
	CHECK(str_is(qkey("mode=frame"), "mode=frame&width=0&height=0&fit=contain&time=0&"
					"quality=auto&compression=auto&format=jpg"));
	CHECK(str_is(qkey("mode=spritesheet&width=160&height=90"),
		     "mode=spritesheet&width=160&height=90&fit=contain&time=0&duration=10&"
		     "quality=auto&compression=auto&format=jpg&columns=0&rows=0"));
	CHECK(str_is(qkey("mode=audio"), "mode=audio&time=0&duration=-1&bitrate=0&format=m4a"));
	struct vr_params p;
	CHECK(q(&p, "mode=audio") == 0 && vr_params_finalize(&p, &L, NULL, err, sizeof err) == 0);
	CHECK(p.format == VR_FORMAT_M4A && p.audio == 1);
	CHECK(q(&p, "") == 0 && vr_params_finalize(&p, &L, NULL, err, sizeof err) == 0);
	CHECK(p.format == VR_FORMAT_MP4);
	CHECK(q(&p, "mode=spritesheet&w=10&h=10") == 0);
	CHECK(vr_params_finalize(&p, &L, NULL, err, sizeof err) == 0);
	CHECK(p.format == VR_FORMAT_JPG && p.duration == 10 && p.time == 0);

	/* spritesheet */
	CHECK(is_err(qkey("mode=spritesheet"), VR_EDATA, "spritesheet", "width and height", "neither"));
	CHECK(is_err(qkey("mode=spritesheet&w=100"), VR_EDATA, "spritesheet", "height is missing", NULL));
	CHECK(is_err(okey("mode=spritesheet&height=100"), VR_EUSAGE, "spritesheet", "width is missing", NULL));
	CHECK(is_err(qkey("mode=spritesheet&w=100&h=100&f=png"), VR_EDATA, "format", "png", "jpg"));
	CHECK(strstr(qkey("mode=spritesheet&w=100&h=100&f=jpeg"), "&format=jpg") != NULL);
	CHECK(is_err(qkey("mode=spritesheet&w=100&h=100&fps=5"), VR_EDATA, "fps", "spritesheet", NULL));
	CHECK(is_err(qkey("mode=spritesheet&w=100&h=100&bitrate=1M"), VR_EDATA, "bitrate", NULL, NULL));
	CHECK(is_err(qkey("mode=spritesheet&w=100&h=100&audio=1"), VR_EDATA, "audio", NULL, NULL));
	CHECK(strstr(qkey("mode=spritesheet&w=100&h=100&time=5&duration=20"), "&time=5&duration=20&") != NULL);
	/* frame */
	static const char *const frame_bad[] = {"duration=5", "fps=30", "bitrate=1M", "audio=true",
						"columns=2", "rows=2"};
	for (size_t i = 0; i < sizeof frame_bad / sizeof *frame_bad; i++) {
		char qs[64], nm[16];
		snprintf(qs, sizeof qs, "mode=frame&%s", frame_bad[i]);
		snprintf(nm, sizeof nm, "%.*s", (int)strcspn(frame_bad[i], "="), frame_bad[i]);
		CHECK(is_err(qkey(qs), VR_EDATA, nm, "mode frame", NULL));
		CHECK(is_err(okey(qs), VR_EUSAGE, nm, "mode frame", NULL));
	}
	CHECK(is_err(qkey("mode=frame&f=mp4"), VR_EDATA, "format", "jpg, png, webp", NULL));
	CHECK(is_err(qkey("mode=frame&f=m4a"), VR_EDATA, "format", NULL, NULL));
	CHECK(strstr(qkey("mode=frame&f=webp"), "&format=webp") != NULL);
	CHECK(strstr(qkey("mode=frame&f=png"), "&format=png") != NULL);
	/* audio */
	static const char *const audio_bad[] = {"width=100", "height=100", "fit=cover", "fps=30",
						"columns=2", "rows=2"};
	for (size_t i = 0; i < sizeof audio_bad / sizeof *audio_bad; i++) {
		char qs[64], nm[16];
		snprintf(qs, sizeof qs, "mode=audio&%s", audio_bad[i]);
		snprintf(nm, sizeof nm, "%.*s", (int)strcspn(audio_bad[i], "="), audio_bad[i]);
		CHECK(is_err(qkey(qs), VR_EDATA, nm, "mode audio", NULL));
	}
	CHECK(is_err(qkey("mode=audio&audio=false"), VR_EDATA, "audio", "mode audio", NULL));
	CHECK(keys_equal(qkey("mode=audio&audio=true"), qkey("mode=audio")));
	CHECK(is_err(qkey("mode=audio&f=mp4"), VR_EDATA, "format", "m4a", NULL));
	CHECK(strstr(qkey("mode=audio&bitrate=128k&dur=30"), "&duration=30&") != NULL);
	/* video */
	CHECK(is_err(qkey("f=jpg"), VR_EDATA, "format: 'jpg' does not fit mode video (allowed: mp4, webm)", NULL, NULL));
	/* format m4a without a mode is mode audio, as the original read it */
	CHECK(keys_equal(qkey("f=m4a"), qkey("mode=audio")));
	CHECK(keys_equal(qkey("format=m4a&dur=5"), qkey("mode=audio&duration=5")));
	CHECK(is_err(qkey("f=m4a&mode=video"), VR_EDATA, "format", "mp4, webm", NULL));
	CHECK(is_err(qkey("f=m4a&width=640"), VR_EDATA, "width", "mode audio", NULL));
	CHECK(keys_equal(qkey("f=m4a&imwidth=800"), qkey("mode=audio")));
	CHECK(is_err(okey("format=png"), VR_EUSAGE, "format", NULL, NULL));
	CHECK(is_err(qkey("columns=2"), VR_EDATA, "columns", "mode video", NULL));
	CHECK(is_err(qkey("rows=2"), VR_EDATA, "rows", "mode video", NULL));

	/* limits on combinations */
	struct vr_limits saved = L;
	L.max_tiles = 12;
	CHECK(is_err(qkey("mode=spritesheet&w=10&h=10&columns=4&rows=4"), VR_ELIMIT, "columns*rows", "12", NULL));
	CHECK(strncmp(qkey("mode=spritesheet&w=10&h=10&columns=4&rows=3"), "ERR", 3));
	L = saved;
	L.max_output_pixels = 1000000;
	CHECK(is_err(qkey("mode=spritesheet&w=200&h=200&columns=5&rows=6"), VR_ELIMIT, "max-output-pixels", NULL, NULL));
	CHECK(strncmp(qkey("mode=spritesheet&w=200&h=200&columns=5&rows=5"), "ERR", 3));
	CHECK(is_err(qkey("w=1001&h=1000"), VR_ELIMIT, "width*height", "max-output-pixels", NULL));
	CHECK(strncmp(qkey("w=1000&h=1000"), "ERR", 3));
	L = saved;
	L.max_duration = 5;
	CHECK(strstr(qkey("mode=spritesheet&w=10&h=10"), "&duration=5&") != NULL);
	CHECK(is_err(qkey("duration=6"), VR_ELIMIT, "duration", "(0-5]", NULL));
	CHECK(is_err(qkey("dur=6"), VR_ELIMIT, "dur: '6'", "(0-5]", NULL));
	L = saved;

	/* mixed origins: an option mode with a query format is a data error */
	vr_params_init(&p);
	CHECK(vr_params_set(&p, &L, "mode", "frame", 0, err, sizeof err) == 0);
	CHECK(vr_params_parse_query(&p, &L, "f=mp4", NULL, err, sizeof err) == 0);
	CHECK(vr_params_finalize(&p, &L, NULL, err, sizeof err) == VR_EDATA);
}

static void test_query_syntax(void)
{
	struct vr_params p;
	int bypass = 0;
	/* cache parameters */
	vr_params_init(&p);
	CHECK(vr_params_parse_query(&p, &L, "v=3&width=640&v=4", &bypass, err, sizeof err) == 0);
	CHECK(bypass == 0 && p.set == VR_P_WIDTH && p.width == 640);
	CHECK(keys_equal(qkey("v=3&width=640"), qkey("width=640")));
	CHECK(keys_equal(qkey("v=&width=640"), qkey("width=640&v=zzz")));
	static const struct {
		const char *query;
		int bypass;
	} bq[] = {{"nocache", 1},	 {"nocache=1", 1},     {"nocache=true", 1},
		  {"bypass", 1},	 {"bypass=yes", 1},     {"nocache=", 1},
		  {"nocache=0", 0},	 {"bypass=false", 0},   {"w=640&bypass&v=2", 1},
		  {"nocache=0&bypass=1", 1}};
	for (size_t i = 0; i < sizeof bq / sizeof *bq; i++) {
		vr_params_init(&p);
		bypass = 0;
		CHECK(vr_params_parse_query(&p, &L, bq[i].query, &bypass, err, sizeof err) == 0);
		CHECK(bypass == bq[i].bypass);
		CHECK((p.set & ~(unsigned)VR_P_WIDTH) == 0);
	}
	vr_params_init(&p);
	CHECK(vr_params_parse_query(&p, &L, "nocache=1", NULL, err, sizeof err) == 0);
	CHECK(vr_params_parse_query(&p, &L, "nocache=perhaps", &bypass, err, sizeof err) == VR_EDATA);
	CHECK(strstr(err, "nocache") && strstr(err, "perhaps"));
	CHECK(keys_equal(qkey("nocache&width=640"), qkey("width=640")));

	/* duplicates: equal values are fine, different ones are not */
	CHECK(keys_equal(qkey("width=640&width=640"), qkey("width=640")));
	CHECK(keys_equal(qkey("w=640&width=640"), qkey("width=640")));
	CHECK(keys_equal(qkey("fit=cover&obj-fit=crop&w=20&h=20"), qkey("fit=cover&w=20&h=20")));
	CHECK(keys_equal(qkey("time=90&start=00:01:30"), qkey("time=90")));
	CHECK(keys_equal(qkey("bitrate=1M&bitrate=1000k"), qkey("bitrate=1000000")));
	CHECK(keys_equal(qkey("f=jpeg&format=jpg&mode=frame"), qkey("mode=frame&format=jpg")));
	CHECK(str_is(qkey("width=640&width=320"),
		     "ERR3: width: given twice with different values ('width=640' and 'width=320')"));
	CHECK(is_err(qkey("w=640&width=320"), VR_EDATA, "width", "twice", "w=640"));
	CHECK(is_err(qkey("fit=cover&obj-fit=fill"), VR_EDATA, "fit", "twice", NULL));
	CHECK(is_err(qkey("q=low&quality=high"), VR_EDATA, "quality", "twice", NULL));
	CHECK(is_err(qkey("mode=frame&mode=video"), VR_EDATA, "mode", "twice", NULL));
	CHECK(is_err(qkey("start=1&time=2"), VR_EDATA, "time", "twice", NULL));
	CHECK(is_err(qkey("dur=1&duration=2"), VR_EDATA, "duration", "twice", NULL));
	CHECK(is_err(qkey("derivative=mobile&derivative=tablet"), VR_EDATA, "derivative", "twice", NULL));
	CHECK(is_err(qkey("imwidth=100&imwidth=2000"), VR_EDATA, "imwidth", "twice", NULL));
	CHECK(keys_equal(qkey("derivative=mobile&derivative=mobile"), qkey("derivative=mobile")));
	/* but a query may override earlier options (the caller's order) */
	vr_params_init(&p);
	CHECK(vr_params_set(&p, &L, "width", "640", 0, err, sizeof err) == 0);
	CHECK(vr_params_parse_query(&p, &L, "width=320", NULL, err, sizeof err) == 0 && p.width == 320);

	/* percent-decoding, '+' as a space, empty segments */
	CHECK(keys_equal(qkey("%77idth=640"), qkey("width=640")));
	CHECK(keys_equal(qkey("width=%36%34%30"), qkey("width=640")));
	CHECK(keys_equal(qkey("obj%2Dfit=crop&w=20&h=20"), qkey("fit=cover&w=20&h=20")));
	CHECK(keys_equal(qkey("obj%2dfit=crop&w=20&h=20"), qkey("fit=cover&w=20&h=20")));
	CHECK(keys_equal(qkey("&&width=640&"), qkey("width=640")));
	CHECK(keys_equal(qkey("?width=640"), qkey("width=640")));
	CHECK(keys_equal(qkey("time=00%3A00%3A02"), qkey("time=2")));
	CHECK(is_err(qkey("width=640+"), VR_EDATA, "width", "'640 '", NULL));
	CHECK(is_err(qkey("derivative=a+b"), VR_EDATA, "derivative", "'a b'", NULL));
	CHECK(is_err(qkey("width=%3"), VR_EDATA, "percent", NULL, NULL));
	CHECK(is_err(qkey("width=%zz"), VR_EDATA, "percent", NULL, NULL));
	CHECK(is_err(qkey("width=64%00"), VR_EDATA, "percent", NULL, NULL));
	CHECK(is_err(qkey("%=1"), VR_EDATA, "percent", NULL, NULL));
	CHECK(is_err(qkey("=640"), VR_EDATA, "unknown parameter ''", NULL, NULL));
	CHECK(is_err(qkey("width=640=1"), VR_EDATA, "width", "'640=1'", NULL));
	CHECK(is_err(qkey("width=640#frag"), VR_EDATA, "width", NULL, NULL));
	/* one value longer than the bound */
	char *big = malloc(5000);
	if (big) {
		memcpy(big, "mode=", 5);
		memset(big + 5, 'a', 4000);
		big[4005] = '\0';
		CHECK(is_err(qkey(big), VR_EDATA, "longer", NULL, NULL));
		free(big);
	}
	/* a NULL query is empty */
	vr_params_init(&p);
	CHECK(vr_params_parse_query(&p, &L, NULL, NULL, err, sizeof err) == 0 && p.set == 0);
	/* a failed query does not set the failing field */
	vr_params_init(&p);
	CHECK(vr_params_parse_query(&p, &L, "width=640&height=5000", NULL, err, sizeof err) == VR_ELIMIT);
	CHECK(p.width == 640 && p.height == 0 && !(p.set & VR_P_HEIGHT));
	/* NULL limits mean the defaults */
	vr_params_init(&p);
	CHECK(vr_params_set(&p, NULL, "width", "2000", 1, err, sizeof err) == 0);
	CHECK(vr_params_set(&p, NULL, "width", "2001", 1, err, sizeof err) == VR_ELIMIT);
	CHECK(vr_params_finalize(&p, NULL, NULL, err, sizeof err) == 0);
}

/* Sets with the same output print the same key. */
static void test_canonical_equal(void)
{
	static const char *const same[][2] = {
		{"w=640", "width=640&fit=contain"},
		{"w=640", "width=640&fit=cover"},
		{"h=360&obj-fit=crop", "height=360"},
		{"", "fit=cover"},
		{"", "fit=scale-down"},
		{"", "mode=video&format=mp4&audio=true&quality=auto&compression=auto&time=0"},
		{"derivative=mobile", "mode=video&width=854&height=640&fit=contain&duration=5m"},
		{"derivative=thumbnail", "mode=frame&width=640&height=360&fit=cover&time=2&format=png"},
		{"w=640&h=360&fit=cover", "h=360&w=640&obj-fit=crop"},
		{"time=2", "time=00:00:02.000"},
		{"time=120", "start=2m"},
		{"dur=1.5", "duration=1500ms"},
		{"fps=30", "fps=30.000"},
		{"fps=30", "fps=60/2"},
		{"fps=30000/1001", "fps=60000/2002"},
		{"fps=12.5", "fps=25/2"},
		{"bitrate=2M", "bitrate=2000000"},
		{"bitrate=800k", "bitrate=0.8M"},
		{"mute=true", "audio=no"},
		{"f=jpeg&mode=frame", "mode=frame"},
		{"mode=frame&w=100&fit=cover", "mode=frame&w=100"},
		{"mode=spritesheet&w=100&h=100", "mode=spritesheet&w=100&h=100&time=0&duration=10&f=jpg"},
		{"mode=audio", "mode=audio&format=m4a&audio=1"},
		{"mode=audio&imwidth=900", "mode=audio"},
		{"width=640&v=2&nocache=1", "width=640"},
		/* a video's sides are even for its 4:2:0 encoders, ties down */
		{"width=641", "width=640"},
		{"w=641&h=361", "w=640&h=360"},
		{"w=641&h=361&fit=cover", "w=640&h=360&fit=cover"},
		{"derivative=mobile&w=855", "derivative=mobile&w=854"},
		/* a stream copy of the audio ignores quality and compression:
		 * in mode audio neither changes the output */
		{"mode=audio", "mode=audio&q=low"},
		{"mode=audio", "mode=audio&quality=high&compression=low"},
		{"mode=audio&bitrate=64k", "mode=audio&bitrate=64k&q=high"},
		/* the playback attributes and IMQuery hints change nothing */
		{"w=640", "w=640&loop&autoplay=true&muted=1&preload=metadata"},
		{"w=640", "w=640&im-density=2&im-viewwidth=1200&im-viewheight=800&imref=w%3D800,h%3D600"},
		/* the ignore list: tracking and cache-buster names */
		{"w=640", "w=640&utm_source=news&utm_medium=mail&fbclid=abc&_=1700000000"},
		{"derivative=tablet&mode=frame", "mode=frame&width=1280&height=720"},
	};
	for (size_t i = 0; i < sizeof same / sizeof *same; i++) {
		const char *a = qkey(same[i][0]), *b = qkey(same[i][1]);
		if (!strncmp(a, "ERR", 3) || strcmp(a, b))
			fprintf(stderr, "  pair %zu: '%s' vs '%s'\n", i, same[i][0], same[i][1]);
		CHECK(keys_equal(a, b));
	}
	/* a query and the same options */
	static const char *const both[] = {
		"",
		"mode=video&width=640&height=360&fit=scale-down&time=5&duration=10&fps=25&"
		"quality=low&compression=high&bitrate=1M&audio=false&format=webm",
		"mode=frame&width=320&time=1.5&format=webp&quality=high",
		"mode=spritesheet&width=160&height=90&columns=4&rows=4&time=10&duration=60",
		"mode=audio&time=30&duration=15&bitrate=96k",
		"derivative=thumbnail",
		"derivative=desktop&fps=30",
	};
	for (size_t i = 0; i < sizeof both / sizeof *both; i++)
		CHECK(keys_equal(qkey(both[i]), okey(both[i])));
}

/* Any single output-affecting difference changes the key. */
static void test_canonical_differs(void)
{
	static const char *const diff[][2] = {
		/* video */
		{"", "mode=frame"},
		{"", "width=640"},
		{"width=640", "width=642"},
		{"width=641", "width=642"},
		{"mode=frame&f=png&w=640", "mode=frame&f=png&w=641"}, /* PNG keeps odd sides */
		{"width=640", "height=640"},
		{"", "height=360"},
		{"w=640&h=360", "w=640&h=362"},
		{"w=640&h=360", "w=640&h=360&fit=cover"},
		{"w=640&h=360", "w=640&h=360&fit=scale-down"},
		{"w=640&h=360&fit=cover", "w=640&h=360&fit=scale-down"},
		{"w=640", "w=640&fit=scale-down"},
		{"", "time=1"},
		{"time=1", "time=1.000001"},
		{"", "duration=10"},
		{"duration=10", "duration=10.5"},
		{"", "fps=30"},
		{"fps=29.97", "fps=29.971"},
		{"fps=29.97", "fps=30000/1001"},
		{"fps=30", "fps=30000/1001"},
		{"fps=30000/1001", "fps=30001/1001"},
		{"fps=24000/1001", "fps=23.976"},
		{"", "quality=low"},
		{"quality=low", "quality=medium"},
		{"quality=medium", "quality=high"},
		{"quality=high", "quality=auto"},
		{"", "compression=low"},
		{"compression=medium", "compression=high"},
		{"compression=medium", "compression=low"},
		{"", "bitrate=1M"},
		{"bitrate=1M", "bitrate=1000001"},
		{"", "audio=false"},
		{"", "format=webm"},
		{"derivative=mobile", "derivative=tablet"},
		{"derivative=tablet", "derivative=desktop"},
		{"imwidth=854", "imwidth=855"},
		{"imwidth=1280", "imwidth=1281"},
		/* frame */
		{"mode=frame", "mode=frame&w=100"},
		{"mode=frame&w=100&h=100", "mode=frame&w=100&h=100&fit=cover"},
		{"mode=frame", "mode=frame&time=2"},
		{"mode=frame", "mode=frame&f=png"},
		{"mode=frame&f=png", "mode=frame&f=webp"},
		{"mode=frame", "mode=frame&q=high"},
		{"mode=frame&f=png", "mode=frame&f=png&compression=high"},
		{"derivative=thumbnail", "derivative=thumbnail&f=jpg"},
		{"derivative=thumbnail", "derivative=thumbnail&time=3"},
		/* spritesheet */
		{"mode=spritesheet&w=100&h=100", "mode=spritesheet&w=100&h=101"},
		{"mode=spritesheet&w=100&h=100", "mode=spritesheet&w=100&h=100&fit=cover"},
		{"mode=spritesheet&w=100&h=100", "mode=spritesheet&w=100&h=100&time=1"},
		{"mode=spritesheet&w=100&h=100", "mode=spritesheet&w=100&h=100&duration=11"},
		{"mode=spritesheet&w=100&h=100", "mode=spritesheet&w=100&h=100&columns=4"},
		{"mode=spritesheet&w=100&h=100", "mode=spritesheet&w=100&h=100&rows=4"},
		{"mode=spritesheet&w=100&h=100&columns=4&rows=5",
		 "mode=spritesheet&w=100&h=100&columns=5&rows=4"},
		{"mode=spritesheet&w=100&h=100", "mode=spritesheet&w=100&h=100&q=low"},
		/* audio */
		{"mode=audio", "mode=audio&time=1"},
		{"mode=audio", "mode=audio&duration=1"},
		{"mode=audio", "mode=audio&bitrate=64k"},
		{"mode=audio&bitrate=64k", "mode=audio&bitrate=96k"},
		/* across modes with otherwise equal fields */
		{"mode=frame&w=100&h=100", "mode=spritesheet&w=100&h=100"},
		{"mode=video&time=2", "mode=audio&time=2"},
	};
	for (size_t i = 0; i < sizeof diff / sizeof *diff; i++) {
		const char *a = qkey(diff[i][0]), *b = qkey(diff[i][1]);
		int ok = strncmp(a, "ERR", 3) && strncmp(b, "ERR", 3) && strcmp(a, b);
		if (!ok)
			fprintf(stderr, "  pair %zu should differ: '%s' -> '%s' / '%s' -> '%s'\n", i,
				diff[i][0], a, diff[i][1], b);
		CHECK(ok);
	}
	/* and every field of every mode is in the key, in the fixed order */
	CHECK(str_is(qkey("mode=spritesheet&w=100&h=50&fit=scale-down&time=1&duration=2&q=low&"
			  "compression=high&columns=3&rows=2"),
		     "mode=spritesheet&width=100&height=50&fit=scale-down&time=1&duration=2&"
		     "quality=low&compression=auto&format=jpg&columns=3&rows=2"));
	CHECK(str_is(qkey("mode=audio&time=1&duration=2&q=low&compression=high&bitrate=64k"),
		     "mode=audio&time=1&duration=2&bitrate=64000&format=m4a"));
}

static void test_canonical_buffer(void)
{
	struct vr_params p;
	CHECK(q(&p, "w=640&h=360&fit=scale-down&time=8639999.999999&duration=0.000001&fps=119.999&"
		    "q=medium&compression=medium&bitrate=100M&f=webm") == 0);
	CHECK(vr_params_finalize(&p, &L, NULL, err, sizeof err) == 0);
	char full[VR_PARAMS_CANONICAL_MAX], small[16];
	int n = vr_params_canonical(&p, full, sizeof full);
	CHECK(n > 0 && (size_t)n == strlen(full) && n < VR_PARAMS_CANONICAL_MAX);
	CHECK(strstr(full, "&time=8639999.999999&duration=0.000001&fps=119.999&") != NULL);
	memset(small, 'x', sizeof small);
	CHECK(vr_params_canonical(&p, small, sizeof small) == n);
	CHECK(strlen(small) == sizeof small - 1 && !strncmp(small, full, sizeof small - 1));
	CHECK(vr_params_canonical(&p, NULL, 0) == n);
	/* canonical normalises an unfinalized struct the same way */
	vr_params_init(&p);
	p.width = 640;
	p.fit = VR_FIT_COVER;
	CHECK(vr_params_canonical(&p, full, sizeof full) > 0);
	CHECK(keys_equal(full, qkey("w=640")));
	/* finalize normalises the struct itself, so the engine sees the key */
	CHECK(q(&p, "w=640&fit=cover") == 0);
	CHECK(vr_params_finalize(&p, &L, NULL, err, sizeof err) == 0 && p.fit == VR_FIT_CONTAIN);
	CHECK(q(&p, "w=640&h=360&fit=cover") == 0);
	CHECK(vr_params_finalize(&p, &L, NULL, err, sizeof err) == 0 && p.fit == VR_FIT_COVER);
}

static int limits_from(const char *text, struct vr_limits *l)
{
	struct vr_config *c = NULL;
	err[0] = '\0';
	CHECK(vr_config_parse(&c, text, strlen(text), "lim.conf", err, sizeof err) == 0);
	int r = vr_limits_load(l, c, err, sizeof err);
	vr_config_free(c);
	return r;
}

static void test_limits(void)
{
	struct vr_limits l;
	vr_limits_default(&l);
	CHECK(l.min_dim == 10 && l.max_dim == 2000);
	CHECK(l.max_input_pixels == 8192LL * 8192 && l.max_output_pixels == 4096LL * 4096);
	CHECK(l.max_duration == 3600 && l.max_input_bytes == 16ULL << 30 && l.max_tiles == 400);
	memset(&l, 0, sizeof l);
	CHECK(vr_limits_load(&l, NULL, err, sizeof err) == 0 && l.max_dim == 2000);
	CHECK(limits_from("[other]\nx = 1\n", &l) == 0 && l.max_tiles == 400);

	CHECK(limits_from("[limits]\nmin-dimension = 16\nmax-dimension = 4096\n"
			  "max-input-pixels = 1000000\nmax-output-pixels = 500000\n"
			  "max-duration = 10m\nmax-input-bytes = 1G\nmax-tiles = 100\n",
			  &l) == 0);
	CHECK(l.min_dim == 16 && l.max_dim == 4096 && l.max_input_pixels == 1000000);
	CHECK(l.max_output_pixels == 500000 && l.max_duration == 600);
	CHECK(l.max_input_bytes == 1ULL << 30 && l.max_tiles == 100);
	CHECK(limits_from("[limits]\nmax-input-bytes = 0\n", &l) == 0 && l.max_input_bytes == 0);

	static const struct {
		const char *text, *key, *line;
	} bad[] = {
		{"[limits]\nmin-dimension = 0\n", "min-dimension", "lim.conf:2"},
		{"[limits]\nmax-dimension = 20000\n", "max-dimension", "lim.conf:2"},
		{"[limits]\nmax-dimension = big\n", "max-dimension", "lim.conf:2"},
		{"[limits]\nmin-dimension = 500\nmax-dimension = 100\n", "min-dimension", "lim.conf:2"},
		{"[limits]\nmin-dimension = 3000\n", "max-dimension", "lim.conf:2"},
		{"[limits]\nmax-input-pixels = -1\n", "max-input-pixels", "lim.conf:2"},
		{"[limits]\nmax-output-pixels = 0\n", "max-output-pixels", "lim.conf:2"},
		{"[limits]\n\nmax-duration = 0\n", "max-duration", "lim.conf:3"},
		{"[limits]\nmax-duration = soon\n", "max-duration", "lim.conf:2"},
		{"[limits]\nmax-input-bytes = lots\n", "max-input-bytes", "lim.conf:2"},
		{"[limits]\nmax-tiles = 401\n", "max-tiles", "lim.conf:2"},
		{"[limits]\nmax-tiles = 0\n", "max-tiles", "lim.conf:2"},
		{"[limits]\nmax-tiles = 10\nmax-widht = 5\n", "unknown key 'max-widht'", "lim.conf:3"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		int r = limits_from(bad[i].text, &l);
		int ok = r == VR_EDATA && strstr(err, bad[i].key) && strstr(err, bad[i].line);
		if (!ok)
			fprintf(stderr, "  limits %zu: %d '%s'\n", i, r, err);
		CHECK(ok);
	}

	/* loaded limits drive validation */
	CHECK(limits_from("[limits]\nmin-dimension = 16\nmax-dimension = 4096\nmax-duration = 1m\n",
			  &l) == 0);
	struct vr_limits saved = L;
	L = l;
	CHECK(is_err(qkey("width=15"), VR_ELIMIT, "width", "16-4096", NULL));
	CHECK(strstr(qkey("width=4096"), "&width=4096&") != NULL);
	CHECK(is_err(qkey("dur=61"), VR_ELIMIT, "dur: '61'", "(0-60]", NULL));
	L = saved;
}

/* Frame rates: rationals, reduced, one canonical spelling each (the
 * comment at the top of params.c): whole, else an exact decimal of at most
 * 3 decimals, else NUM/DEN. */
static void test_fps_rationals(void)
{
	struct vr_params p;
	CHECK(q(&p, "fps=30000/1001") == 0);
	CHECK(p.fps_num == 30000);
	CHECK(p.fps_den == 1001);
	CHECK(q(&p, "fps=60000/2002") == 0);
	CHECK(p.fps_num == 30000);
	CHECK(p.fps_den == 1001);
	CHECK(q(&p, "fps=29.97") == 0);
	CHECK(p.fps_num == 2997);
	CHECK(p.fps_den == 100);
	CHECK(q(&p, "fps=25") == 0);
	CHECK(p.fps_num == 25);
	CHECK(p.fps_den == 1);

	CHECK(strstr(qkey("fps=30000/1001"), "&fps=30000/1001&") != NULL);
	CHECK(strstr(qkey("fps=60000/2002"), "&fps=30000/1001&") != NULL);
	CHECK(strstr(qkey("fps=24000/1001"), "&fps=24000/1001&") != NULL);
	CHECK(strstr(qkey("fps=50/2"), "&fps=25&") != NULL);
	CHECK(strstr(qkey("fps=25/1"), "&fps=25&") != NULL);
	CHECK(strstr(qkey("fps=25.0"), "&fps=25&") != NULL);
	CHECK(strstr(qkey("fps=25/2"), "&fps=12.5&") != NULL);
	CHECK(strstr(qkey("fps=2997/100"), "&fps=29.97&") != NULL);
	CHECK(strstr(qkey("fps=1/1000"), "&fps=0.001&") != NULL);
	CHECK(strstr(qkey("fps=1/3"), "&fps=1/3&") != NULL);
	CHECK(strstr(qkey("fps=240/2"), "&fps=120&") != NULL);
	CHECK(strstr(qkey("fps=1000000/1000000"), "&fps=1&") != NULL);
	/* options spell it the same way */
	CHECK(keys_equal(okey("fps=30000/1001"), qkey("fps=60000/2002")));
	CHECK(keys_equal(qkey("fps=1/3"), qkey("fps=2/6")));
	/* the key's fps value, given back as fps, gives the same key */
	static const char *const back[] = {"fps=60000/2002", "fps=12.500", "fps=2/6", "fps=50/2"};
	for (size_t i = 0; i < sizeof back / sizeof *back; i++) {
		char k1[VR_PARAMS_CANONICAL_MAX], again[64];
		snprintf(k1, sizeof k1, "%s", qkey(back[i]));
		const char *v = strstr(k1, "&fps=");
		CHECK(v != NULL);
		if (!v)
			continue;
		snprintf(again, sizeof again, "%.*s", (int)strcspn(v + 1, "&"), v + 1);
		CHECK(str_is(qkey(again), k1));
	}

	/* refused */
	CHECK(is_err(qkey("fps=121/1"), VR_EDATA, "fps", "(0-120]", NULL));
	CHECK(is_err(qkey("fps=120001/1000"), VR_EDATA, "fps", "(0-120]", NULL));
	CHECK(is_err(qkey("fps=0/1001"), VR_EDATA, "fps", "(0-120]", NULL));
	CHECK(is_err(qkey("fps=30000/0"), VR_EDATA, "fps", "out of range", NULL));
	CHECK(is_err(qkey("fps=30000/"), VR_EDATA, "fps", "not a number", NULL));
	CHECK(is_err(qkey("fps=/1001"), VR_EDATA, "fps", "not a number", NULL));
	CHECK(is_err(qkey("fps=30000/1001/1"), VR_EDATA, "fps", "not a number", NULL));
	CHECK(is_err(qkey("fps=29.97/1"), VR_EDATA, "fps", "not a number", NULL));
	CHECK(is_err(qkey("fps=30/1.5"), VR_EDATA, "fps", "not a number", NULL));
	CHECK(is_err(qkey("fps=-30/1"), VR_EDATA, "fps", "not a number", NULL));
	CHECK(is_err(qkey("fps=1000001/1000001"), VR_EDATA, "fps", "out of range", NULL));
	CHECK(is_err(qkey("fps=99999999999999999999/1"), VR_EDATA, "fps", "out of range", NULL));
	CHECK(is_err(qkey("fps=29.97001"), VR_EDATA, "fps", "30000/1001", "3 decimals"));
	CHECK(is_err(okey("fps=30000/0"), VR_EUSAGE, "fps", NULL, NULL));
}

/* A value refused under one name that another name of the field takes
 * says both accepted spellings. */
static void test_alias_suggestions(void)
{
	CHECK(str_is(qkey("fit=crop"),
		     "ERR3: fit: 'crop' is not one of contain, scale-down, cover "
		     "(did you mean obj-fit=crop or fit=cover?)"));
	CHECK(str_is(qkey("fit=fill"),
		     "ERR3: fit: 'fill' is not one of contain, scale-down, cover "
		     "(did you mean obj-fit=fill or fit=contain?)"));
	CHECK(str_is(qkey("w=100&h=100&fit=CROP"),
		     "ERR3: fit: 'CROP' is not one of contain, scale-down, cover "
		     "(did you mean obj-fit=CROP or fit=cover?)"));
	/* each suggestion is accepted, and they mean the same */
	CHECK(keys_equal(qkey("w=100&h=100&obj-fit=crop"), qkey("w=100&h=100&fit=cover")));
	CHECK(keys_equal(qkey("w=100&h=100&obj-fit=fill"), qkey("w=100&h=100&fit=contain")));
	/* as an option (or a job line, or a derivative): obj-fit is a query
	 * name, so the option's own word comes first */
	CHECK(str_is(okey("fit=crop"),
		     "ERR2: fit: 'crop' is not one of contain, scale-down, cover "
		     "(did you mean cover? 'crop' is a value of obj-fit, a query name)"));
	/* no alias takes it: no suggestion */
	CHECK(str_is(qkey("fit=stretch"),
		     "ERR3: fit: 'stretch' is not one of contain, scale-down, cover"));
	CHECK(str_is(qkey("obj-fit=stretch"),
		     "ERR3: obj-fit: 'stretch' is not one of crop, fill, contain, scale-down, cover"));
	CHECK(str_is(qkey("q=best"), "ERR3: q: 'best' is not one of low, medium, high, auto"));
	CHECK(is_err(qkey("mute=maybe"), VR_EDATA, "mute", "maybe", NULL));
	CHECK(strstr(qkey("mute=maybe"), "did you mean") == NULL);
	CHECK(strstr(qkey("width=5"), "did you mean") == NULL);
	/* an unprintable value is shown safely in the suggestion too */
	CHECK(strstr(qkey("fit=%01crop"), "did you mean") == NULL);
}

int main(void)
{
	vr_limits_default(&L);
	test_defaults_and_names();
	test_errors_name_the_parameter();
	test_boundaries();
	test_fps_rationals();
	test_alias_suggestions();
	test_time_forms();
	test_mute();
	test_imquery();
	test_imquery_closeness();
	test_imquery_config();
	test_accepted_names();
	test_origin_defaults();
	test_derivatives();
	test_derivative_mode_wins();
	test_levels_normalised();
	test_output_path();
	test_mode_rules();
	test_query_syntax();
	test_canonical_equal();
	test_canonical_differs();
	test_canonical_buffer();
	test_limits();
	vr_config_free(CFG);
	return check_done();
}
