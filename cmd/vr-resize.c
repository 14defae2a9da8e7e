/* vr-resize: transform a video with the FFmpeg libraries — a resized
 * video, a still frame, a spritesheet or the audio track — streaming, one
 * frame at a time, from a file, a URL or a pipe to a file or a pipe.
 *
 * Options and URL queries become one struct vr_params through lib/request/params
 * (which also prints the canonical key); the work is in lib/av/transform.
 * This file parses options, opens the output and maps results to the
 * shared exit statuses. */
#include "cli.h"
#include "config.h"
#include "defaults.h"
#include "lifecycle.h"
#include "log.h"
#include "metrics.h"
#include "num.h"
#include "origin.h"
#include "output.h"
#include "params.h"
#include "status.h"
#include "transform.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct opts {
	struct vr_cli_common common;
	struct vr_settings settings;
	int print_key;
	double timeout;
	int timeout_given;     /* else an origin's own timeout applies to its sources */
	const char *input;
	const char *output;
};

#define O(m) offsetof(struct opts, m)
static const struct vr_opt resize_opts[] = {
	{.name = "print-key", .kind = VR_OPT_FLAG, .off = O(print_key),
	 .help = "print the canonical parameters (the cache key) and exit"},
	{.name = "output", .letter = 'o', .kind = VR_OPT_STR, .arg = "FILE", .off = O(output),
	 .flags = VR_OPT_FILE,
	 .help = "write FILE (atomically; MP4 with faststart) instead of\n"
		 "stdout (fragmented MP4 or WebM); its extension (.mp4,\n"
		 ".webm, .m4a, .jpg, .png, .webp) is the format when none\n"
		 "is given"},
	{.name = "timeout", .kind = VR_OPT_SECONDS, .arg = "S", .off = O(timeout),
	 .def = VR_DEFAULT_STALL_TIMEOUT, .hi = 86400, .given_off = O(timeout_given),
	 .help = "give up when the input stalls for S (0: never)"},
	{0},
};
#undef O

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
	vr_metrics_int("key_tiles", st->key_tiles);
	vr_metrics_bytes_in(st->bytes_in);
	vr_metrics_bytes_out(st->bytes_out);
	if (st->source[0])
		vr_metrics_str("source", st->source);
}

static int run_resize(struct opts *o)
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

	int rc = vr_config_load(&cfg, o->common.config, err, sizeof err);
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
	rc = vr_settings_apply(&p, &lim, &o->settings, err, sizeof err);
	/* -o FILE's extension is the format when none is given */
	if (!rc)
		rc = vr_params_output_path(&p, o->output, err, sizeof err);
	if (rc) {
		vr_error("%s", err);
		if (rc == VR_EUSAGE)
			vr_usage_hint();
		goto done;
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
	struct vr_origin_params op = {.timeout = o->timeout_given ? o->timeout : -1, .retries = -1};
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
		.progress = vr_cli_progress(&o->common),
	};
	rc = vr_transform_run(&to, &st, err, sizeof err);
	vr_stream_closed();
	if (rc)
		vr_error("%s", err);
	else if (st.output_closed)
		vr_info("the reader closed the output: stopped");
	metrics_stats(&p, &st);

done:
	if (out_open)
		rc = vr_output_end(&out, rc);
	vr_resolved_free(&sources);
	vr_config_free(cfg);
	return rc;
}

static int run(void *opts, int argc, char **argv)
{
	struct opts *o = opts;
	o->input = argc ? argv[0] : NULL;
	return run_resize(o);
}

static const struct vr_cli_prog prog = {
	.name = "vr-resize",
	.operands = "[INPUT]",
	.about = "Transform the video INPUT (a path, an http(s) URL, or stdin when absent or '-')\n"
		 "into a resized video, a frame, a spritesheet or its audio, on stdout or -o FILE.",
	.shared = VR_CLI_METRICS | VR_CLI_CONFIG | VR_CLI_PROGRESS,
	.min_args = 0,
	.max_args = 1,
	.tables = {{.get = vr_params_options, .base = offsetof(struct opts, settings),
		    .title = "Transform options"},
		   {resize_opts}},
	.run = run,
	.exits = "Exit status: 0 ok, 1 unexpected failure, 2 usage, 3 bad value in --query or\n"
		 "undecodable input, 5 input not found, 6 I/O error, 7 timeout, 8 limit exceeded.",
	.complete = VR_CLI_COMPLETE_FILES,
};

int main(int argc, char **argv)
{
	static struct opts o;
	vr_cli_main(&prog, argc, argv, &o);
}
