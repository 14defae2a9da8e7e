/* Unit tests of lib/request/jobline: both job forms, quoting, comments, errors
 * (with the parameter's own message), and the cheap line count. */
#include "jobline.h"
#include "lru.h"
#include "status.h"
#include "warm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

static struct vr_limits lim;
static char buf[VR_JOBLINE_MAX + 2];
static char err[512];

static int parse(const char *line, struct vr_jobline *j)
{
	err[0] = '\0';
	return vr_jobline_parse(line, strlen(line), &lim, NULL, j, buf, sizeof buf, err,
				sizeof err);
}

static void test_skip(void)
{
	struct vr_jobline j;
	CHECK(parse("", &j) == VR_JOBLINE_SKIP);
	CHECK(parse("   \t ", &j) == VR_JOBLINE_SKIP);
	CHECK(parse("# a comment", &j) == VR_JOBLINE_SKIP);
	CHECK(parse("   #indented comment", &j) == VR_JOBLINE_SKIP);
	CHECK(parse("\r", &j) == VR_JOBLINE_SKIP);
	CHECK(!vr_jobline_is_job("", 0));
	CHECK(!vr_jobline_is_job("  # x", 5));
	CHECK(vr_jobline_is_job(" /a", 3));
}

static void test_query_form(void)
{
	struct vr_jobline j;
	CHECK(parse("/videos/a.mp4?width=640&mode=frame", &j) == 0);
	CHECK(!strcmp(j.source, "/videos/a.mp4?width=640&mode=frame"));
	CHECK(!strcmp(j.path, "/videos/a.mp4"));
	CHECK(!j.has_options && !j.raw);
	CHECK(j.params.mode == VR_MODE_FRAME && j.params.width == 640);
	CHECK(parse("/videos/a.mp4?width=640&nocache=1\r", &j) == 0);
	CHECK(j.bypass == 1);
	CHECK(!strcmp(j.source, "/videos/a.mp4?width=640&nocache=1"));
	/* only cache-busting: still the raw bytes */
	CHECK(parse("/videos/a.mp4?v=3", &j) == 0 && j.raw);
	CHECK(parse("/videos/a.mp4?width=5000", &j) == VR_ELIMIT); /* a [limits] bound: exit 8 */
	CHECK(strstr(err, "width") && strstr(err, "5000") && strstr(err, "out of range"));
	CHECK(parse("/videos/a.mp4?colour=red", &j) != 0);
}

static void test_option_form(void)
{
	struct vr_jobline j;
	CHECK(parse("/videos/a.mp4 --width 640 --fit cover --height=360", &j) == 0);
	CHECK(j.has_options && !j.raw);
	CHECK(j.params.width == 640 && j.params.height == 360 && j.params.fit == VR_FIT_COVER);
	CHECK(!strcmp(j.source, "/videos/a.mp4") && !strcmp(j.path, "/videos/a.mp4"));

	CHECK(parse("/v/b.mp4 --query 'w=320&mode=frame' --time=2s", &j) == 0);
	CHECK(j.params.width == 320 && j.params.mode == VR_MODE_FRAME && j.params.time == 2);

	CHECK(parse("/v/b.mp4 --derivative thumbnail", &j) == 0);
	CHECK(j.params.width == 640 && j.params.height == 360 && j.params.format == VR_FORMAT_PNG);

	CHECK(parse("/v/b.mp4 -w 200 -m frame", &j) == 0);
	CHECK(j.params.width == 200 && j.params.mode == VR_MODE_FRAME);
	CHECK(parse("/v/b.mp4 -w200", &j) == 0 && j.params.width == 200);

	/* a source's query joins the options */
	CHECK(parse("/v/c.mp4?mode=frame --width 300", &j) == 0);
	CHECK(j.params.mode == VR_MODE_FRAME && j.params.width == 300);
	CHECK(!strcmp(j.path, "/v/c.mp4") && !strcmp(j.source, "/v/c.mp4?mode=frame"));

	/* a trailing comment */
	CHECK(parse("/v/c.mp4 --width 300   # small", &j) == 0 && j.params.width == 300);
}

static void test_quoting(void)
{
	struct vr_jobline j;
	CHECK(parse("'/videos/my file.mp4' --width 640", &j) == 0);
	CHECK(!strcmp(j.source, "/videos/my file.mp4"));
	CHECK(parse("\"/videos/say \\\"hi\\\".mp4\"", &j) == 0);
	CHECK(!strcmp(j.source, "/videos/say \"hi\".mp4") && j.raw);
	CHECK(parse("/videos/a\\ b.mp4 -w 100 --height 90 --fit=\"cover\"", &j) == 0);
	CHECK(!strcmp(j.source, "/videos/a b.mp4") && j.params.fit == VR_FIT_COVER);
	CHECK(parse("/videos/a#b.mp4", &j) == 0 && !strcmp(j.source, "/videos/a#b.mp4"));
	CHECK(parse("'/videos/open.mp4", &j) == VR_EDATA && strstr(err, "unterminated"));
	CHECK(parse("\"/videos/open.mp4", &j) == VR_EDATA && strstr(err, "unterminated"));
	CHECK(parse("/v/a.mp4 \\", &j) == VR_EDATA);
}

static void test_errors(void)
{
	struct vr_jobline j;
	CHECK(parse("/v/a.mp4 --width 5000", &j) != 0);
	CHECK(strstr(err, "width") && strstr(err, "'5000'") && strstr(err, "out of range 10-2000"));
	CHECK(parse("/v/a.mp4 --width", &j) == VR_EUSAGE && strstr(err, "needs a value"));
	CHECK(parse("/v/a.mp4 --colour red", &j) != 0);
	CHECK(parse("/v/a.mp4 /v/b.mp4", &j) == VR_EUSAGE && strstr(err, "one SOURCE"));
	CHECK(parse("--width 640 /v/a.mp4", &j) == VR_EUSAGE);
	CHECK(parse("/v/a.mp4 --mode spritesheet", &j) != 0); /* needs width and height */
	CHECK(parse("?width=640", &j) == VR_EDATA);
	const char nul[] = "/v/a\0b.mp4";
	CHECK(vr_jobline_parse(nul, sizeof nul - 1, &lim, NULL, &j, buf, sizeof buf, err,
			       sizeof err) == VR_EDATA);
	/* many words */
	char many[2000];
	size_t o = (size_t)snprintf(many, sizeof many, "/v/a.mp4");
	for (int i = 0; i < 140; i++)
		o += (size_t)snprintf(many + o, sizeof many - o, " x");
	CHECK(parse(many, &j) == VR_EDATA && strstr(err, "words"));
	/* too long */
	char *big = malloc(VR_JOBLINE_MAX + 10);
	memset(big, 'a', VR_JOBLINE_MAX + 9);
	big[0] = '/';
	big[VR_JOBLINE_MAX + 9] = '\0';
	CHECK(parse(big, &j) == VR_EDATA && strstr(err, "longer"));
	free(big);
}

static void test_count(void)
{
	char path[] = "/tmp/test_jobline.XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	const char text[] = "# header\n/a.mp4\n\n   \n  /b.mp4 --width 10\n\t# indented\n/c.mp4?w=20";
	CHECK(write(fd, text, sizeof text - 1) == (ssize_t)(sizeof text - 1));
	uint64_t n = 0;
	CHECK(vr_jobline_count(fd, 0, &n) == 0 && n == 3);
	CHECK(vr_jobline_count(fd, 9, &n) == 0 && n == 3);
	CHECK(vr_jobline_count(fd, 16, &n) == 0 && n == 2);
	close(fd);
	unlink(path);
}

/* warm's own parsing: --shard K/N and the stable hash behind it */
static void test_shard(void)
{
	unsigned k = 0, n = 0;
	CHECK(vr_warm_parse_shard("2/3", &k, &n) == 0 && k == 2 && n == 3);
	CHECK(vr_warm_parse_shard("1/1", &k, &n) == 0 && k == 1 && n == 1);
	CHECK(vr_warm_parse_shard("0/3", &k, &n) == -1);
	CHECK(vr_warm_parse_shard("4/3", &k, &n) == -1);
	CHECK(vr_warm_parse_shard("1/0", &k, &n) == -1);
	CHECK(vr_warm_parse_shard("-1/3", &k, &n) == -1);
	CHECK(vr_warm_parse_shard("1/3x", &k, &n) == -1);
	CHECK(vr_warm_parse_shard("13", &k, &n) == -1);
	CHECK(vr_warm_parse_shard("/3", &k, &n) == -1);
	CHECK(vr_warm_parse_shard(NULL, &k, &n) == -1);
	/* FNV-1a 64 reference values: stable across machines and builds */
	CHECK(vr_hash64("", 0) == 0xcbf29ce484222325ULL);
	CHECK(vr_hash64("a", 1) == 0xaf63dc4c8601ec8cULL);
	CHECK(vr_hash64("foobar", 6) == 0x85944171f73967e8ULL);
	/* every key lands in exactly one shard, and the shards are used */
	unsigned seen[5] = {0};
	char key[32];
	for (int i = 0; i < 1000; i++) {
		int len = snprintf(key, sizeof key, "vr1|/v/%d.mp4|0|raw", i);
		unsigned s = vr_warm_shard_of(key, (size_t)len, 5);
		CHECK(s < 5);
		if (s < 5)
			seen[s]++;
	}
	for (int i = 0; i < 5; i++)
		CHECK(seen[i] > 100);
}

int main(void)
{
	vr_limits_default(&lim);
	test_skip();
	test_query_form();
	test_option_form();
	test_quoting();
	test_errors();
	test_count();
	test_shard();
	return check_done();
}
