/* vr-resize: transform a video with the FFmpeg libraries — a resized
 * video, a still frame, a spritesheet or the audio track — streaming, one
 * frame at a time, from a file, a URL or a pipe to a file or a pipe.
 *
 * Options and URL queries become one struct vr_params through lib/params
 * (which also prints the canonical key); the work is in lib/transform.
 * This file parses options, opens the output and maps results to the
 * shared exit statuses. */
#include "cli.h"
#include "config.h"
#include "lifecycle.h"
#include "log.h"
#include "metrics.h"
#include "num.h"
#include "origin.h"
#include "output.h"
#include "params.h"
#include "status.h"
#include "transform.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_SETTINGS 64
#define DEFAULT_STALL_TIMEOUT 30.0

static void usage(void)
{
	printf("Usage: %s [OPTIONS] [INPUT]\n"
	       "Transform the video INPUT (a path, an http(s) URL, or stdin when absent or '-')\n"
	       "into a resized video, a frame, a spritesheet or its audio, on stdout or -o FILE.\n"
	       "\n"
	       "  -m, --mode M            video (default), frame, spritesheet, audio\n"
	       "  -w, --width N           output width (10-2000); one side alone keeps the aspect\n"
	       "      --height N          output height (10-2000)\n"
	       "      --fit F             contain (default), scale-down, cover\n"
	       "  -t, --time T            start (5s, 1.5s, 2m, 01:02:03.5)\n"
	       "  -d, --duration D        length (video, audio, spritesheet)\n"
	       "      --fps N             output frame rate (video)\n"
	       "      --quality Q         low, medium, high, auto\n"
	       "      --compression C     low, medium, high, auto (encoder speed)\n"
	       "      --bitrate B         video bitrate cap (800k, 2M)\n"
	       "      --audio BOOL        keep the audio track (true, false)\n"
	       "  -f, --format F          mp4, webm (video); jpg, png, webp (frame); jpg\n"
	       "                          (spritesheet); m4a (audio)\n"
	       "      --columns N, --rows N  spritesheet grid\n"
	       "      --derivative NAME   a preset: desktop, tablet, mobile, thumbnail or a\n"
	       "                          [derivative \"NAME\"] of the config\n"
	       "  -Q, --query Q           parameters as a URL query (width=640&fit=cover,\n"
	       "                          also w, h, obj-fit, q, f, start, dur, mute, imwidth)\n"
	       "      --print-key         print the canonical parameters (the cache key) and exit\n"
	       "  -o, --output FILE       write FILE (atomically; MP4 with faststart) instead of\n"
	       "                          stdout (fragmented MP4 or WebM)\n"
	       "      --timeout S         give up when the input stalls for S (default 30s; 0 none)\n"
	       "      --config FILE       config file (default $VR_CONFIG, else\n"
	       "                          ~/.config/vr/vr.conf): [limits], [derivative]\n"
	       "      --progress          progress line on stderr even when it is not a terminal\n"
	       "      --metrics FILE      append a JSON metrics line (default $VR_METRICS)\n"
	       "  -q, --quiet             only errors on stderr, no progress\n"
	       "  -v, --verbose           say more (twice: libav's own messages)\n"
	       "  -h, --help              this help\n"
	       "  -V, --version           version\n"
	       "\n"
	       "Exit status: 0 ok, 1 unexpected failure, 2 usage, 3 bad value in --query or\n"
	       "undecodable input, 5 input not found, 6 I/O error, 7 timeout, 8 limit exceeded.\n"
	       "See vr-resize(1).\n",
	       vr_prog());
}

struct setting {
	const char *name;   /* NULL: a query */
	const char *value;
};

struct opts {
	struct setting set[MAX_SETTINGS];
	int nset;
	int print_key;
	int progress;       /* -1 default, 0 off, 1 forced */
	double timeout;
	int timeout_set;
	const char *input;
	const char *output;
	const char *config;
	const char *metrics;
};

static void metrics_stats(const struct vr_params *p, const struct vr_transform_stats *st)
{
	vr_metrics_str("mode", vr_mode_name(p->mode));
	vr_metrics_str("format", vr_format_name(p->format));
	vr_metrics_int("frames_in", st->frames_in);
	vr_metrics_int("frames_out", st->frames_out);
	vr_metrics_int("in_width", st->in_width);
	vr_metrics_int("in_height", st->in_height);
	vr_metrics_int("out_width", st->out_width);
	vr_metrics_int("out_height", st->out_height);
	vr_metrics_str("in_format", st->in_format);
	vr_metrics_str("in_codec", st->in_codec);
	vr_metrics_str("out_codec", st->out_codec);
	vr_metrics_str("in_audio_codec", st->in_audio_codec);
	vr_metrics_str("out_audio_codec", st->out_audio_codec);
	vr_metrics_int("in_duration_ms", st->in_duration < 0 ? -1 : (int64_t)(st->in_duration * 1000));
	vr_metrics_int("out_duration_ms", (int64_t)(st->out_duration * 1000));
	vr_metrics_int("spooled", st->spooled);
	vr_metrics_int("seeks", st->seeks);
	vr_metrics_bytes_in(st->bytes_in);
	vr_metrics_bytes_out(st->bytes_out);
	if (st->source[0])
		vr_metrics_str("source", st->source);
}

static int run(struct opts *o)
{
	char err[1024];
	struct vr_config *cfg = NULL;
	struct vr_limits lim;
	struct vr_params p;
	struct vr_transform_stats st;
	struct vr_output out;
	struct vr_resolved sources;
	int out_open = 0;
	memset(&st, 0, sizeof st);
	memset(&sources, 0, sizeof sources);

	int rc = vr_config_load(&cfg, o->config, err, sizeof err);
	if (rc) {
		vr_error("%s", err);
		goto done;
	}
	rc = vr_limits_load(&lim, cfg, err, sizeof err);
	if (rc) {
		vr_error("%s", err);
		goto done;
	}
	vr_params_init(&p);
	for (int i = 0; i < o->nset; i++) {
		const struct setting *s = &o->set[i];
		rc = s->name ? vr_params_set(&p, &lim, s->name, s->value, 0, err, sizeof err)
			     : vr_params_parse_query(&p, &lim, s->value, NULL, err, sizeof err);
		if (rc) {
			vr_error("%s", err);
			if (rc == VR_EUSAGE)
				vr_usage_hint();
			goto done;
		}
	}
	rc = vr_params_finalize(&p, &lim, cfg, err, sizeof err);
	if (rc) {
		vr_error("%s", err);
		if (rc == VR_EUSAGE)
			vr_usage_hint();
		goto done;
	}
	char key[VR_PARAMS_CANONICAL_MAX];
	vr_params_canonical(&p, key, sizeof key);
	vr_metrics_str("key", key);
	if (o->print_key) {
		printf("%s\n", key);
		rc = fflush(stdout) == 0 ? VR_OK : VR_EIO;
		goto done;
	}
	vr_info("parameters: %s", key);

	/* INPUT as vr-fetch reads it: a path, a URL, "-", or a request path
	 * of a configured [origin] with its sources in order */
	struct vr_origin_params op = {.timeout = o->timeout_set ? o->timeout : -1, .retries = -1};
	rc = vr_origin_resolve(cfg, o->input ? o->input : "-", &op, &sources, err, sizeof err);
	if (rc) {
		vr_error("%s", err);
		goto done;
	}

	rc = vr_output_open(&out, o->output);
	if (rc)
		goto done;
	out_open = 1;
	vr_stream_opened();
	int muxed = p.mode == VR_MODE_VIDEO || p.mode == VR_MODE_AUDIO;
	struct vr_transform_opts to = {
		.input = o->input,
		.sources = &sources,
		.params = &p,
		.limits = &lim,
		.out_fd = out.fd,
		.out_path = muxed && !out.is_stdout ? out.tmp : NULL,
		.stall_timeout = o->timeout,
		.progress = o->progress >= 0 ? o->progress
					     : vr_log_verbosity() >= VR_NORMAL && isatty(STDERR_FILENO),
	};
	rc = vr_transform_run(&to, &st, err, sizeof err);
	vr_stream_closed();
	if (rc)
		vr_error("%s", err);
	else if (st.output_closed)
		vr_info("the reader closed the output: stopped");
	metrics_stats(&p, &st);

done:
	if (out_open) {
		if (rc == VR_OK)
			rc = vr_output_commit(&out);
		else
			vr_output_abort(&out);
	}
	vr_resolved_free(&sources);
	vr_config_free(cfg);
	return rc;
}

int main(int argc, char **argv)
{
	vr_log_init(argv[0]);
	vr_lifecycle_init();

	struct opts o = {.progress = -1, .timeout = DEFAULT_STALL_TIMEOUT};
	enum {
		OPT_PRINT_KEY = 256, OPT_TIMEOUT,
		OPT_CONFIG, OPT_PROGRESS, OPT_METRICS,
	};
	static const struct option longopts[] = {
		VR_PARAMS_LONGOPTS,
		{"print-key", no_argument, NULL, OPT_PRINT_KEY},
		{"output", required_argument, NULL, 'o'},
		{"timeout", required_argument, NULL, OPT_TIMEOUT},
		{"config", required_argument, NULL, OPT_CONFIG},
		{"progress", no_argument, NULL, OPT_PROGRESS},
		{"metrics", required_argument, NULL, OPT_METRICS},
		{"quiet", no_argument, NULL, 'q'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int c, idx;
	while ((c = getopt_long(argc, argv, VR_PARAMS_SHORTOPTS "o:qvhV", longopts, &idx)) != -1) {
		const char *name = vr_params_option_name(c);
		switch (name ? 0 : c) {
		case 0: break; /* a transform option: below */
		case 'Q':
			if (o.nset == MAX_SETTINGS) {
				vr_error("too many parameters");
				return vr_usage_hint();
			}
			o.set[o.nset++] = (struct setting){NULL, optarg};
			break;
		case OPT_PRINT_KEY: o.print_key = 1; break;
		case 'o': o.output = optarg; break;
		case OPT_TIMEOUT:
			if (vr_parse_seconds(optarg, &o.timeout) < 0 || o.timeout < 0 || o.timeout > 86400) {
				vr_error("--timeout: '%s' is not a duration of 0 to 86400 seconds", optarg);
				return vr_usage_hint();
			}
			o.timeout_set = 1;
			break;
		case OPT_CONFIG: o.config = optarg; break;
		case OPT_PROGRESS: o.progress = 1; break;
		case OPT_METRICS: o.metrics = optarg; break;
		case 'q':
			vr_log_set_verbosity(VR_QUIET);
			if (o.progress < 0)
				o.progress = 0;
			break;
		case 'v': vr_log_set_verbosity(vr_log_verbosity() + 1); break;
		case 'h': usage(); return VR_OK;
		case 'V': vr_print_version(); return VR_OK;
		default: return vr_usage_hint();
		}
		if (name) {
			if (o.nset == MAX_SETTINGS) {
				vr_error("too many parameters");
				return vr_usage_hint();
			}
			o.set[o.nset++] = (struct setting){name, optarg};
		}
	}
	if (optind < argc)
		o.input = argv[optind++];
	if (optind < argc) {
		vr_error("unexpected argument '%s'", argv[optind]);
		return vr_usage_hint();
	}
	vr_metrics_start("vr-resize", o.metrics);
	int rc = run(&o);
	vr_metrics_finish(rc);
	vr_exit(rc);
}
