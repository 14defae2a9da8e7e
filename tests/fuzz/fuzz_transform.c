/* libFuzzer target: arbitrary bytes as the input video of the transform
 * engine (lib/av/transform via lib/av/demux: open, probe, decode, filter, encode).
 * The bytes go to one temporary file per process under $TMPDIR (rewritten
 * for every input, removed at exit) and vr_transform_run reads it with
 * small limits so that each input is fast. The mode follows the input's
 * length, so that mutations reach every mode: mostly frame (png, 32 wide),
 * else video (H.264 in fragmented MP4, at most 1 s), audio (m4a, at most
 * 1 s) or a 2x2 spritesheet. Output goes to /dev/null.
 *
 * Checked: the status is one of the documented ones (0, 3, 5, 6, 8) and a
 * failure comes with a message. */
#include "log.h"
#include "params.h"
#include "status.h"
#include "transform.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FAIL(...)                                               \
	do {                                                    \
		fprintf(stderr, "fuzz_transform: " __VA_ARGS__); \
		fputc('\n', stderr);                            \
		abort();                                        \
	} while (0)

static char tf_dir[512], tf_path[600];
static int tf_null_fd = -1;
static struct vr_limits tf_limits;

static void tf_cleanup(void)
{
	unlink(tf_path);
	rmdir(tf_dir);
	if (tf_null_fd >= 0)
		close(tf_null_fd);
}

static void tf_init(void)
{
	vr_log_init("fuzz_transform");
	vr_log_set_verbosity(VR_QUIET);
	const char *tmp = getenv("TMPDIR");
	snprintf(tf_dir, sizeof tf_dir, "%s/vr-fuzz-transform.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(tf_dir))
		FAIL("mkdtemp %s", tf_dir);
	snprintf(tf_path, sizeof tf_path, "%s/input", tf_dir);
	tf_null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (tf_null_fd < 0)
		FAIL("open /dev/null");
	atexit(tf_cleanup);
	vr_limits_default(&tf_limits);
	tf_limits.max_input_pixels = 1024 * 1024;
	tf_limits.max_output_pixels = 512 * 512;
	tf_limits.max_input_bytes = 1 << 20;
	tf_limits.max_duration = 5;
	tf_limits.max_tiles = 16;
}

static void tf_write_input(const uint8_t *data, size_t size)
{
	int fd = open(tf_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		FAIL("open %s", tf_path);
	for (size_t off = 0; off < size;) {
		ssize_t n = write(fd, data + off, size - off);
		if (n <= 0)
			FAIL("write %s", tf_path);
		off += (size_t)n;
	}
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (tf_null_fd < 0)
		tf_init();
	tf_write_input(data, size);

	static const char *const queries[] = {
		"mode=video&width=32&duration=1&fps=10&quality=low",
		"mode=audio&duration=1",
		"mode=spritesheet&width=32&height=32&columns=2&rows=2",
		"mode=frame&width=32&format=png",
		"mode=frame&width=32&time=0.1&format=jpg",
	};
	const char *q = queries[size % 5];
	struct vr_params p;
	char err[1024] = "";
	vr_params_init(&p);
	if (vr_params_parse_query(&p, &tf_limits, q, NULL, err, sizeof err) ||
	    vr_params_finalize(&p, &tf_limits, NULL, err, sizeof err))
		FAIL("params '%s': %s", q, err);

	struct vr_transform_opts o = {
		.input = tf_path,
		.params = &p,
		.limits = &tf_limits,
		.out_fd = tf_null_fd,
		.stall_timeout = 10,
	};
	struct vr_transform_stats s;
	err[0] = '\0';
	int r = vr_transform_run(&o, &s, err, sizeof err);
	if (r != VR_OK && r != VR_EDATA && r != VR_ENOTFOUND && r != VR_EIO && r != VR_ELIMIT)
		FAIL("transform '%s' returned %d: %s", q, r, err);
	if (r && !err[0])
		FAIL("transform '%s' returned %d without a message", q, r);
	if (getenv("FUZZ_VERBOSE"))
		fprintf(stderr, "fuzz_transform: '%s': %d %s (%lld frames in, %lld out)\n", q, r, err,
			(long long)s.frames_in, (long long)s.frames_out);
	return 0;
}
