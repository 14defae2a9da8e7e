/* Unit tests of lib/request/origin and pattern: regexes, templates, resolution,
 * confinement of local sources. */
#include "config.h"
#include "origin.h"
#include "status.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"

static void test_compile(void)
{
	char err[256];
	struct vr_pattern p;

	CHECK(vr_pattern_compile(&p, "^/v/(?<id>[0-9]+)/(.*)$", err, sizeof err) == 0);
	CHECK(p.ngroups == 2);
	CHECK_EQ_STR(p.names[1], "id");
	CHECK_EQ_STR(p.names[2], "");
	CHECK(vr_pattern_group(&p, "id", 2) == 1);
	CHECK(vr_pattern_group(&p, "i", 1) == 0);
	vr_pattern_free(&p);

	/* (?:...) does not capture (as in Perl and JavaScript); escaped and
	 * bracketed parens are not groups */
	CHECK(vr_pattern_compile(&p, "(?:a|b)\\((?<x>[()])[]()]", err, sizeof err) == 0);
	CHECK(p.ngroups == 1);
	CHECK_EQ_STR(p.names[1], "x");
	vr_pattern_free(&p);
	CHECK(vr_pattern_compile(&p, "[[:alpha:]()](?<n>x)", err, sizeof err) == 0);
	CHECK(p.ngroups == 1);
	CHECK_EQ_STR(p.names[1], "n");
	vr_pattern_free(&p);
	/* PCRE2's other ways of naming a group name it too */
	/* a template counting a (?:...) group, as before PCRE2, is told why */
	CHECK(vr_pattern_compile(&p, "^/(?:a|b)/(.*)$", err, sizeof err) == 0);
	regmatch_t m[VR_ORIGIN_MAX_GROUPS + 1];
	char out[64];
	CHECK(vr_pattern_match(&p, "/a/x", m) == 1);
	CHECK(vr_template_expand("/srv/$2", &p, "/a/x", m, 0, out, sizeof out, err, sizeof err) < 0);
	CHECK(strstr(err, "(?:...) groups take no number") != NULL);
	CHECK(vr_template_expand("/srv/$1", &p, "/a/x", m, 0, out, sizeof out, err, sizeof err) == 0);
	CHECK_EQ_STR(out, "/srv/x");
	vr_pattern_free(&p);
	CHECK(vr_pattern_compile(&p, "(?P<a>x)(?'b'y)", err, sizeof err) == 0);
	CHECK(vr_pattern_group(&p, "b", 1) == 2);
	vr_pattern_free(&p);
	/* lookarounds: supported now */
	CHECK(vr_pattern_compile(&p, "^/(?=v)(\\w+)(?<!x)$", err, sizeof err) == 0);
	CHECK(p.ngroups == 1);
	vr_pattern_free(&p);

	CHECK(vr_pattern_compile(&p, "(?<a>x)(?<a>y)", err, sizeof err) < 0);
	vr_pattern_free(&p);
	/* (?J) would let PCRE2 take one name twice; ${a} would be ambiguous */
	CHECK(vr_pattern_compile(&p, "(?J)(?<a>x)(?<a>y)", err, sizeof err) < 0);
	CHECK(strstr(err, "twice") != NULL);
	vr_pattern_free(&p);
	CHECK(vr_pattern_compile(&p, "(?<env>x)", err, sizeof err) < 0);
	CHECK(strstr(err, "reserved") != NULL);
	vr_pattern_free(&p);
	CHECK(vr_pattern_compile(&p, "(?<abcdefghijabcdefghijabcdefghijab>x)", err, sizeof err) < 0);
	vr_pattern_free(&p);
	CHECK(vr_pattern_compile(&p, "[abc", err, sizeof err) < 0);
	CHECK(strstr(err, "[abc") != NULL);
	vr_pattern_free(&p);
	CHECK(vr_pattern_compile(&p, "(?<1a>x)", err, sizeof err) < 0);
	vr_pattern_free(&p);
	/* 32 groups: one more than a match may have */
	char many[200] = "";
	for (int i = 0; i < 32; i++)
		strcat(many, "(a)");
	CHECK(vr_pattern_compile(&p, many, err, sizeof err) < 0);
	CHECK(strstr(err, "more than 31 groups") != NULL);
	vr_pattern_free(&p);
}

static void test_match_and_expand(void)
{
	char out[512], err[256];
	struct vr_pattern p;
	regmatch_t m[VR_ORIGIN_MAX_GROUPS + 1];
	const char *subj = "/videos/abc/clip one.mp4";

	CHECK(vr_pattern_compile(&p, "^/videos/(?<dir>[^/]+)/(.*)$", err, sizeof err) == 0);
	CHECK(vr_pattern_match(&p, subj, m) == 1);
	CHECK(vr_pattern_match(&p, "/other/x", m) == 0);
	CHECK(vr_pattern_match(&p, subj, m) == 1);

	CHECK(vr_template_expand("/srv/$1/$2", &p, subj, m, 0, out, sizeof out, err, sizeof err) == 0);
	CHECK_EQ_STR(out, "/srv/abc/clip one.mp4");
	CHECK(vr_template_expand("/srv/${dir}/${2}x$$1", &p, subj, m, 0, out, sizeof out, err,
				 sizeof err) == 0);
	CHECK_EQ_STR(out, "/srv/abc/clip one.mp4x$1");
	/* $0 is the whole match; a single digit after '$' */
	CHECK(vr_template_expand("$0|$10", &p, subj, m, 0, out, sizeof out, err, sizeof err) == 0);
	CHECK_EQ_STR(out, "/videos/abc/clip one.mp4|abc0");
	/* URLs get captures percent-encoded, literals untouched */
	CHECK(vr_template_expand("http://h/a b/$2", &p, subj, m, VR_EXPAND_URL_ENCODE, out, sizeof out,
				 err, sizeof err) == 0);
	CHECK_EQ_STR(out, "http://h/a b/clip%20one.mp4");

	CHECK(vr_template_expand("$3", &p, subj, m, 0, out, sizeof out, err, sizeof err) < 0);
	CHECK(strstr(err, "no group 3") != NULL);
	CHECK(vr_template_expand("${nope}", &p, subj, m, 0, out, sizeof out, err, sizeof err) < 0);
	CHECK(strstr(err, "nope") != NULL);
	CHECK(vr_template_expand("a$", &p, subj, m, 0, out, sizeof out, err, sizeof err) < 0);
	CHECK(vr_template_expand("$x", &p, subj, m, 0, out, sizeof out, err, sizeof err) < 0);
	CHECK(strstr(err, "$$") != NULL);
	CHECK(vr_template_expand("${1", &p, subj, m, 0, out, sizeof out, err, sizeof err) < 0);
	CHECK(vr_template_expand("/srv/$2", &p, subj, m, 0, out, 8, err, sizeof err) < 0);
	CHECK(strstr(err, "longer") != NULL);
	vr_pattern_free(&p);

	/* a group that did not take part expands to nothing */
	CHECK(vr_pattern_compile(&p, "^/a(/x)?/(.*)$", err, sizeof err) == 0);
	CHECK(vr_pattern_match(&p, "/a/b", m) == 1);
	CHECK(vr_template_expand("[$1][$2]", &p, "/a/b", m, 0, out, sizeof out, err, sizeof err) == 0);
	CHECK_EQ_STR(out, "[][b]");
	vr_pattern_free(&p);

	/* captures are decoded for local paths */
	CHECK(vr_pattern_compile(&p, "^/v/(.*)$", err, sizeof err) == 0);
	CHECK(vr_pattern_match(&p, "/v/a%20b%2F..", m) == 1);
	CHECK(vr_template_expand("/srv/$1", &p, "/v/a%20b%2F..", m, VR_EXPAND_PCT_DECODE, out, sizeof out,
				 err, sizeof err) == 0);
	CHECK_EQ_STR(out, "/srv/a b/..");
	vr_pattern_free(&p);

	CHECK(vr_pattern_compile(&p, "^(unclosed$", err, sizeof err) < 0);
}

/* What configs written for the original service's JavaScript matchers
 * use, and the limits that stop a backtracking regex. */
static void test_dialect_and_limits(void)
{
	char out[512], err[256];
	struct vr_pattern p;
	regmatch_t m[VR_ORIGIN_MAX_GROUPS + 1];

	CHECK(vr_pattern_compile(&p, "^\\/videos\\/(?<videoId>[^.]+)\\.(?<extension>mp4|webm)$", err,
				 sizeof err) == 0);
	CHECK(vr_pattern_match(&p, "/videos/ab-12.webm", m) == 1);
	CHECK(vr_template_expand("videos/${videoId}.${extension}", &p, "/videos/ab-12.webm", m, 0, out,
				 sizeof out, err, sizeof err) == 0);
	CHECK_EQ_STR(out, "videos/ab-12.webm");
	CHECK(vr_template_expand("$1|$2", &p, "/videos/ab-12.webm", m, 0, out, sizeof out, err,
				 sizeof err) == 0);
	CHECK_EQ_STR(out, "ab-12|webm");
	CHECK(vr_pattern_match(&p, "/videos/ab-12.mkv", m) == 0);
	vr_pattern_free(&p);

	/* \d and \w are ASCII; a lookahead takes part */
	CHECK(vr_pattern_compile(&p, "^/(\\d+)/(?!tmp/)(\\w+)$", err, sizeof err) == 0);
	CHECK(vr_pattern_match(&p, "/42/clip_1", m) == 1);
	CHECK(m[2].rm_so == 4);
	CHECK(vr_pattern_match(&p, "/42/tmp/x", m) == 0);
	CHECK(vr_pattern_match(&p, "/4\xd9\xa3/clip", m) == 0);
	vr_pattern_free(&p);

	/* '$' is the end of the path, never before a final newline */
	CHECK(vr_pattern_compile(&p, "^/a$", err, sizeof err) == 0);
	CHECK(vr_pattern_match(&p, "/a\n", m) == 0);
	CHECK(vr_pattern_match(&p, "/a", m) == 1);
	vr_pattern_free(&p);
	/* not anchored unless ^ says so */
	CHECK(vr_pattern_compile(&p, "/v/(.*)", err, sizeof err) == 0);
	CHECK(vr_pattern_match(&p, "/x/v/y", m) == 1);
	CHECK(m[1].rm_so == 5);
	vr_pattern_free(&p);

	/* catastrophic backtracking stops at the match limit, with a message */
	char subj[4096];
	subj[0] = '/';
	memset(subj + 1, 'a', sizeof subj - 3);
	subj[sizeof subj - 2] = 'b';
	subj[sizeof subj - 1] = '\0';
	CHECK(vr_pattern_compile(&p, "^/(a+)+$", err, sizeof err) == 0);
	err[0] = '\0';
	CHECK(vr_pattern_exec(&p, subj, m, err, sizeof err) == -1);
	CHECK(strstr(err, "match limit") != NULL);
	CHECK(vr_pattern_match(&p, subj, m) == -1);
	subj[sizeof subj - 2] = 'a';
	CHECK(vr_pattern_exec(&p, subj, m, err, sizeof err) == 1);
	vr_pattern_free(&p);
	/* a back-reference's backtracking too */
	subj[sizeof subj - 3] = 'x';
	subj[sizeof subj - 2] = 'y';
	CHECK(vr_pattern_compile(&p, "^/(.*)(.*)(.*)\\3\\2\\1x$", err, sizeof err) == 0);
	CHECK(vr_pattern_exec(&p, subj, m, err, sizeof err) == -1);
	vr_pattern_free(&p);
}

static void test_env(void)
{
	char out[256], err[256];
	setenv("VR_TEST_ORIGIN_TOKEN", "s3cr3t", 1);
	unsetenv("VR_TEST_ORIGIN_UNSET");
	CHECK(vr_template_expand("Bearer ${env:VR_TEST_ORIGIN_TOKEN}", NULL, NULL, NULL, VR_EXPAND_ENV, out,
				 sizeof out, err, sizeof err) == 0);
	CHECK_EQ_STR(out, "Bearer s3cr3t");
	CHECK(vr_template_expand("${env:VR_TEST_ORIGIN_UNSET}", NULL, NULL, NULL, VR_EXPAND_ENV, out,
				 sizeof out, err, sizeof err) == -2);
	CHECK(strstr(err, "VR_TEST_ORIGIN_UNSET") != NULL);
	/* not in paths */
	CHECK(vr_template_expand("/x/${env:VR_TEST_ORIGIN_TOKEN}", NULL, NULL, NULL, 0, out, sizeof out,
				 err, sizeof err) < 0);
	CHECK(vr_template_expand("${env:BAD-NAME}", NULL, NULL, NULL, VR_EXPAND_ENV, out, sizeof out, err,
				 sizeof err) < 0);
	/* no captures without a match */
	CHECK(vr_template_expand("$1", NULL, NULL, NULL, VR_EXPAND_ENV, out, sizeof out, err, sizeof err) < 0);
	CHECK(vr_template_expand("cost: $$5", NULL, NULL, NULL, VR_EXPAND_ENV, out, sizeof out, err,
				 sizeof err) == 0);
	CHECK_EQ_STR(out, "cost: $5");
	/* kept for later: ${env:NAME} as written (its name checked, the
	 * variable not read), every other '$' doubled, captures included, so
	 * that a second VR_EXPAND_ENV pass gives each '$' back once */
	struct vr_pattern p;
	regmatch_t m[VR_ORIGIN_MAX_GROUPS + 1];
	CHECK(vr_pattern_compile(&p, "^/(.*)$", err, sizeof err) == 0);
	CHECK(vr_pattern_match(&p, "/a$b", m) == 1);
	CHECK(vr_template_expand("K: ${env:VR_TEST_ORIGIN_UNSET} $$5 [$1]", &p, "/a$b", m,
				 VR_EXPAND_KEEP_ENV, out, sizeof out, err, sizeof err) == 0);
	CHECK_EQ_STR(out, "K: ${env:VR_TEST_ORIGIN_UNSET} $$5 [a$$b]");
	CHECK(vr_template_expand("${env:BAD-NAME}", NULL, NULL, NULL, VR_EXPAND_KEEP_ENV, out,
				 sizeof out, err, sizeof err) < 0);
	CHECK(vr_template_expand("K: ${env:VR_TEST_ORIGIN_TOKEN} $$5 [a$$b]", NULL, NULL, NULL,
				 VR_EXPAND_ENV, out, sizeof out, err, sizeof err) == 0);
	CHECK_EQ_STR(out, "K: s3cr3t $5 [a$b]");
	vr_pattern_free(&p);
}

static void test_helpers(void)
{
	char out[64], err[256];
	CHECK(vr_percent_decode("a%20b%2fc%00%zz%4", 17, out, sizeof out) == 13);
	CHECK_EQ_STR(out, "a b/c%00%zz%4");
	CHECK(vr_percent_decode("abcdef", 6, out, 4) < 0);

	vr_template_root("/srv/media/$1", out, sizeof out);
	CHECK_EQ_STR(out, "/srv/media");
	vr_template_root("/srv/media/v$1.mp4", out, sizeof out);
	CHECK_EQ_STR(out, "/srv/media");
	vr_template_root("/srv//$1", out, sizeof out);
	CHECK_EQ_STR(out, "/srv");
	vr_template_root("/$1", out, sizeof out);
	CHECK_EQ_STR(out, "/");
	vr_template_root("$1", out, sizeof out);
	CHECK_EQ_STR(out, ".");
	vr_template_root("media/x.mp4", out, sizeof out);
	CHECK_EQ_STR(out, "media");

	CHECK(vr_header_check("Authorization: Bearer x", err, sizeof err) == 0);
	CHECK(vr_header_check("X-Empty:", err, sizeof err) == 0);
	CHECK(vr_header_check("NoColon", err, sizeof err) < 0);
	CHECK(vr_header_check(": v", err, sizeof err) < 0);
	CHECK(vr_header_check("Bad Name: v", err, sizeof err) < 0);
	CHECK(vr_header_check("X: a\r\nInjected: 1", err, sizeof err) < 0);
	CHECK(vr_header_check("range: bytes=0-1", err, sizeof err) < 0);
}

static const char conf[] =
	"[fetch]\n"
	"timeout = 7s\n"
	"retries = 3\n"
	"[origin \"first\"]\n"
	"match = ^/v/(?<name>[^/]+)$\n"
	"source = /srv/a/${name}\n"
	"source = http://h1/m/$1\n"
	"source = file:///srv/b/$1\n"
	"header = X-Token: ${env:VR_TEST_ORIGIN_TOKEN}\n"
	"timeout = 2s\n"
	"[origin \"second\"]\n"
	"match = ^/v/\n"
	"source = http://h2/$0\n"
	"retries = 0\n"
	"root = /srv\n"
	"[origin \"rooted\"]\n"
	"match = ^/r/(.*)$\n"
	"source = /data/r/$1\n"
	"root = /data\n"
	"[origin \"broken\"]\n"
	"match = ^/broken/(.*)$\n"
	"source = /x/$2\n"
	"[origin \"badre\"]\n"
	"match = ^/badre/((\n"
	"source = /x\n"
	"[origin \"scheme\"]\n"
	"match = ^/scheme/\n"
	"source = ftp://h/x\n";

static void test_resolve(void)
{
	struct vr_config *cfg;
	struct vr_resolved r;
	char err[512];
	struct vr_origin_params pp = {.timeout = -1, .retries = -1};
	char *h = NULL;

	setenv("VR_TEST_ORIGIN_TOKEN", "tok", 1);
	CHECK(vr_config_parse(&cfg, conf, strlen(conf), "test.conf", err, sizeof err) == 0);

	CHECK(vr_origin_resolve(cfg, "/v/clip.mp4?width=5", &pp, &r, err, sizeof err) == 0);
	CHECK_EQ_STR(r.origin, "first");
	CHECK(r.n == 3);
	if (r.n == 3) {
		CHECK(r.src[0].kind == VR_SOURCE_LOCAL);
		CHECK_EQ_STR(r.src[0].location, "/srv/a/clip.mp4");
		CHECK_EQ_STR(r.src[0].root, "/srv/a");
		CHECK(r.src[0].timeout == 2.0);
		CHECK(r.src[0].retries == 3);
		CHECK(r.src[1].kind == VR_SOURCE_HTTP);
		CHECK_EQ_STR(r.src[1].location, "http://h1/m/clip.mp4");
		/* the variable is read when a request is made, not here */
		CHECK_EQ_STR(r.src[1].headers, "X-Token: ${env:VR_TEST_ORIGIN_TOKEN}\r\n");
		CHECK(vr_source_headers(&r.src[1], &h, err, sizeof err) == 0);
		CHECK_EQ_STR(h, "X-Token: tok\r\n");
		free(h);
		CHECK(r.src[1].root == NULL);
		CHECK(r.src[2].kind == VR_SOURCE_LOCAL);
		CHECK_EQ_STR(r.src[2].location, "/srv/b/clip.mp4");
		CHECK_EQ_STR(r.src[2].root, "/srv/b");
	}
	vr_resolved_free(&r);

	/* first match in file order wins; the second only gets other paths */
	CHECK(vr_origin_resolve(cfg, "/v/a/b", &pp, &r, err, sizeof err) == 0);
	CHECK_EQ_STR(r.origin, "second");
	CHECK(r.n == 1 && r.src[0].retries == 0 && r.src[0].timeout == 7.0);
	if (r.n == 1)
		CHECK_EQ_STR(r.src[0].location, "http://h2//v/");
	vr_resolved_free(&r);

	CHECK(vr_origin_resolve(cfg, "/r/x/y", &pp, &r, err, sizeof err) == 0);
	CHECK(r.n == 1);
	if (r.n == 1)
		CHECK_EQ_STR(r.src[0].root, "/data");
	vr_resolved_free(&r);

	/* the command line wins */
	const char *hdrs[] = {"X-Cli: ${env:VR_TEST_ORIGIN_TOKEN}!"};
	struct vr_origin_params cli = {.timeout = 0.5, .retries = 9, .headers = hdrs, .nheaders = 1};
	CHECK(vr_origin_resolve(cfg, "/v/z", &cli, &r, err, sizeof err) == 0);
	CHECK(r.n == 3 && r.src[1].timeout == 0.5 && r.src[1].retries == 9);
	if (r.n == 3) {
		CHECK(vr_source_headers(&r.src[1], &h, err, sizeof err) == 0);
		CHECK_EQ_STR(h, "X-Token: tok\r\nX-Cli: tok!\r\n");
		free(h);
	}
	vr_resolved_free(&r);

	/* direct sources */
	CHECK(vr_origin_resolve(cfg, "https://example.com/a.mp4", &cli, &r, err, sizeof err) == 0);
	CHECK(r.origin == NULL && r.n == 1 && r.src[0].kind == VR_SOURCE_HTTP);
	if (r.n == 1) {
		CHECK(vr_source_headers(&r.src[0], &h, err, sizeof err) == 0);
		CHECK_EQ_STR(h, "X-Cli: tok!\r\n");
		free(h);
	}
	vr_resolved_free(&r);
	CHECK(vr_origin_resolve(cfg, "file:///tmp/a%20b.mp4", &pp, &r, err, sizeof err) == 0);
	CHECK(r.n == 1 && r.src[0].kind == VR_SOURCE_LOCAL && r.src[0].root == NULL);
	if (r.n == 1)
		CHECK_EQ_STR(r.src[0].location, "/tmp/a b.mp4");
	CHECK(r.n == 1 && r.src[0].timeout == 7.0 && r.src[0].retries == 3);
	vr_resolved_free(&r);
	CHECK(vr_origin_resolve(cfg, "file://localhost/tmp/x", &pp, &r, err, sizeof err) == 0);
	vr_resolved_free(&r);
	CHECK(vr_origin_resolve(cfg, "file://otherhost/tmp/x", &pp, &r, err, sizeof err) == VR_EUSAGE);
	CHECK(vr_origin_resolve(cfg, "ftp://h/x", &pp, &r, err, sizeof err) == VR_EUSAGE);
	CHECK(strstr(err, "ftp") != NULL);
	CHECK(vr_origin_resolve(cfg, "-", &pp, &r, err, sizeof err) == 0);
	CHECK(r.n == 1 && r.src[0].kind == VR_SOURCE_STDIN);
	vr_resolved_free(&r);
	/* every origin before a match is compiled: a broken regex is an
	 * error even for paths it would not match */
	CHECK(vr_origin_resolve(cfg, "/tmp/x?y", &pp, &r, err, sizeof err) == VR_EDATA);
	CHECK(strstr(err, "^/badre/((") != NULL);

	/* config errors are bad data (3), naming the file */
	CHECK(vr_origin_resolve(cfg, "/broken/x", &pp, &r, err, sizeof err) == VR_EDATA);
	CHECK(strstr(err, "no group 2") != NULL);
	CHECK(strstr(err, "test.conf") != NULL);
	CHECK(vr_origin_resolve(cfg, "/badre/x", &pp, &r, err, sizeof err) == VR_EDATA);
	CHECK(strstr(err, "test.conf:24: match:") != NULL);
	CHECK(vr_origin_resolve(cfg, "/scheme/x", &pp, &r, err, sizeof err) == VR_EDATA);
	/* a bad -H is a usage error */
	const char *badh[] = {"Bad Header"};
	struct vr_origin_params clibad = {.timeout = -1, .retries = -1, .headers = badh, .nheaders = 1};
	CHECK(vr_origin_resolve(cfg, "/v/x", &clibad, &r, err, sizeof err) == VR_EUSAGE);
	CHECK(vr_origin_resolve(NULL, "/tmp/x", &clibad, &r, err, sizeof err) == VR_EUSAGE);
	/* an unset ${env:NAME} in a config header: resolving needs no
	 * credentials; a request does, and then it is a config error (3)
	 * naming the variable and the origin */
	unsetenv("VR_TEST_ORIGIN_TOKEN");
	CHECK(vr_origin_resolve(cfg, "/v/clip.mp4", &pp, &r, err, sizeof err) == 0);
	CHECK(r.n == 3);
	if (r.n == 3) {
		h = (char *)"untouched";
		CHECK(vr_source_headers(&r.src[1], &h, err, sizeof err) == VR_EDATA);
		CHECK(h == NULL);
		CHECK(strstr(err, "VR_TEST_ORIGIN_TOKEN") != NULL);
		CHECK(strstr(err, "test.conf: [origin \"first\"] header") != NULL);
		/* a value that would put a line break into the request */
		setenv("VR_TEST_ORIGIN_TOKEN", "a\r\nX-Evil: 1", 1);
		CHECK(vr_source_headers(&r.src[1], &h, err, sizeof err) == VR_EDATA);
		CHECK(strstr(err, "control character") != NULL && strstr(err, "Evil") == NULL);
		unsetenv("VR_TEST_ORIGIN_TOKEN");
	}
	vr_resolved_free(&r);
	/* -H is the command line's: an unset variable there is usage, at once */
	const char *unset_h[] = {"X-K: ${env:VR_TEST_ORIGIN_TOKEN}"};
	struct vr_origin_params cliunset = {.timeout = -1, .retries = -1, .headers = unset_h,
					    .nheaders = 1};
	CHECK(vr_origin_resolve(cfg, "/v/clip.mp4", &cliunset, &r, err, sizeof err) == VR_EUSAGE);
	CHECK(strstr(err, "VR_TEST_ORIGIN_TOKEN") != NULL);
	CHECK(r.n == 0 && r.src == NULL);
	vr_config_free(cfg);

	static const char bad[] = "[fetch]\nretries = lots\n";
	CHECK(vr_config_parse(&cfg, bad, strlen(bad), "bad.conf", err, sizeof err) == 0);
	CHECK(vr_origin_resolve(cfg, "/x", &pp, &r, err, sizeof err) == VR_EDATA);
	CHECK(strstr(err, "bad.conf:2") != NULL);
	vr_config_free(cfg);

	/* no origin matches: a local path, query and all */
	static const char ok[] = "[origin \"o\"]\nmatch = ^/v/(.*)$\nsource = /srv/$1\n";
	CHECK(vr_config_parse(&cfg, ok, strlen(ok), "ok.conf", err, sizeof err) == 0);
	CHECK(vr_origin_resolve(cfg, "/tmp/x?y", &pp, &r, err, sizeof err) == 0);
	CHECK(r.origin == NULL && r.n == 1 && r.src[0].kind == VR_SOURCE_LOCAL);
	if (r.n == 1)
		CHECK_EQ_STR(r.src[0].location, "/tmp/x?y");
	vr_resolved_free(&r);
	/* the query is not part of the path an origin sees */
	CHECK(vr_origin_resolve(cfg, "/v/a?b=/c", &pp, &r, err, sizeof err) == 0);
	CHECK(r.n == 1);
	if (r.n == 1)
		CHECK_EQ_STR(r.src[0].location, "/srv/a");
	vr_resolved_free(&r);
	vr_config_free(cfg);

	/* a misspelt key is an error naming its line */
	static const char typo[] = "[origin \"o\"]\nmatch = ^/v/(.*)$\nsorce = /srv/$1\n";
	CHECK(vr_config_parse(&cfg, typo, strlen(typo), "typo.conf", err, sizeof err) == 0);
	CHECK(vr_origin_resolve(cfg, "/v/a", &pp, &r, err, sizeof err) == VR_EDATA);
	CHECK(strstr(err, "typo.conf:3") != NULL && strstr(err, "sorce") != NULL);
	vr_config_free(cfg);
	static const char typo2[] = "[fetch]\ntimeuot = 5\n";
	CHECK(vr_config_parse(&cfg, typo2, strlen(typo2), "typo.conf", err, sizeof err) == 0);
	CHECK(vr_origin_resolve(cfg, "/v/a", &pp, &r, err, sizeof err) == VR_EDATA);
	CHECK(strstr(err, "timeuot") != NULL);
	vr_config_free(cfg);

	/* no config at all */
	CHECK(vr_origin_resolve(NULL, "/x", &pp, &r, err, sizeof err) == 0);
	/* the documented defaults (vr.conf(5), lib/base/defaults.h): 30 s, 2 retries */
	CHECK(r.n == 1);
	CHECK(r.src[0].timeout == 30.0);
	CHECK(r.src[0].retries == 2);
	vr_resolved_free(&r);
	CHECK(vr_origin_resolve(NULL, "", &pp, &r, err, sizeof err) == VR_EUSAGE);
}

/* vr_origin_confine: a file under the root is accepted (through a link
 * that stays inside too); a link out of the root, a ".." out of it, a
 * missing file and a missing root are refused. */
static void test_confine(void)
{
	char dir[] = "/tmp/vr-test-origin-XXXXXX";
	char root[64], in[128], out[128], link_in[128], link_out[128], dotdot[128];
	char real[PATH_MAX], want[PATH_MAX], err[1024];
	CHECK(mkdtemp(dir) != NULL);
	snprintf(root, sizeof root, "%s/root", dir);
	snprintf(in, sizeof in, "%s/a.mp4", root);
	snprintf(out, sizeof out, "%s/secret", dir);
	snprintf(link_in, sizeof link_in, "%s/in.mp4", root);
	snprintf(link_out, sizeof link_out, "%s/out.mp4", root);
	snprintf(dotdot, sizeof dotdot, "%s/../secret", root);
	CHECK(mkdir(root, 0700) == 0);
	FILE *f = fopen(in, "w");
	CHECK(f != NULL);
	if (f)
		fclose(f);
	f = fopen(out, "w");
	CHECK(f != NULL);
	if (f)
		fclose(f);
	CHECK(symlink(in, link_in) == 0);
	CHECK(symlink(out, link_out) == 0);
	CHECK(realpath(in, want) != NULL);

	CHECK(vr_origin_confine(root, in, real, err, sizeof err) == 0);
	CHECK_EQ_STR(real, want);
	CHECK(vr_origin_confine(root, link_in, real, err, sizeof err) == 0);
	CHECK_EQ_STR(real, want);
	CHECK(vr_origin_confine(dir, link_out, real, err, sizeof err) == 0); /* a wider root */

	CHECK(vr_origin_confine(root, link_out, real, err, sizeof err) == VR_ENOTFOUND);
	CHECK(strstr(err, "refused: resolves to ") == err);
	CHECK(strstr(err, ", outside the origin root ") != NULL);
	CHECK(vr_origin_confine(root, dotdot, real, err, sizeof err) == VR_ENOTFOUND);
	CHECK(strstr(err, "outside the origin root") != NULL);
	/* a sibling sharing the root's name as a prefix is outside it */
	char sibling[128];
	snprintf(sibling, sizeof sibling, "%s2", root);
	CHECK(mkdir(sibling, 0700) == 0);
	CHECK(vr_origin_confine(root, sibling, real, err, sizeof err) == VR_ENOTFOUND);
	CHECK(vr_origin_confine("/", out, real, err, sizeof err) == 0);

	snprintf(real, sizeof real, "%s/none.mp4", root);
	CHECK(vr_origin_confine(root, real, real, err, sizeof err) == VR_ENOTFOUND);
	char noroot[128];
	snprintf(noroot, sizeof noroot, "%s/nowhere", dir);
	CHECK(vr_origin_confine(noroot, in, real, err, sizeof err) == VR_ENOTFOUND);
	CHECK(strstr(err, "origin root ") == err);

	unlink(link_in);
	unlink(link_out);
	unlink(in);
	unlink(out);
	rmdir(sibling);
	rmdir(root);
	rmdir(dir);
}

int main(void)
{
	test_compile();
	test_dialect_and_limits();
	test_match_and_expand();
	test_env();
	test_helpers();
	test_resolve();
	test_confine();
	return check_done();
}
