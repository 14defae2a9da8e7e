/* Unit tests of lib/request/config: parsing good and bad texts, lookups, and where
 * vr_config_load looks for the file. */
#include "config.h"
#include "status.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"

static char err[1024];

static int str_is(const char *got, const char *want)
{
	if (!got || !want)
		return got == want;
	if (strcmp(got, want))
		fprintf(stderr, "  got '%s', want '%s'\n", got, want);
	return !strcmp(got, want);
}

static struct vr_config *parse_ok(const char *text)
{
	struct vr_config *c = NULL;
	err[0] = '\0';
	int r = vr_config_parse(&c, text, strlen(text), "test.conf", err, sizeof err);
	if (r)
		fprintf(stderr, "  parse failed (%d): %s\n", r, err);
	CHECK(r == 0);
	CHECK(c != NULL);
	return c;
}

/* A syntax error reported as VR_EDATA at `where` ("test.conf:3"), with
 * `what` in the message; the config stays usable. */
static int parse_bad_n(const char *text, size_t len, const char *where, const char *what)
{
	struct vr_config *c = NULL;
	err[0] = '\0';
	int r = vr_config_parse(&c, text, len, "test.conf", err, sizeof err);
	int ok = r == VR_EDATA && c != NULL && strstr(err, where) && (!what || strstr(err, what));
	if (!ok)
		fprintf(stderr, "  parse of '%.60s' = %d '%s', want EDATA at %s (%s)\n", text, r, err,
			where, what ? what : "");
	if (c) {
		(void)vr_config_get(c, "a", NULL, "k"); /* usable */
		vr_config_free(c);
	}
	return ok;
}

static int parse_bad(const char *text, const char *where, const char *what)
{
	return parse_bad_n(text, strlen(text), where, what);
}

static const char good[] =
	"# a comment\n"                              /* 1 */
	"; another comment\n"                        /* 2 */
	"\n"                                         /* 3 */
	"[origin \"media\"]\n"                       /* 4 */
	"url = https://a.example/v\n"                /* 5 */
	"  url=https://b.example/v\n"                /* 6 */
	"timeout = 5s\n"                             /* 7 */
	"[cache]\n"                                  /* 8 */
	"max-size = \"64M\"\n"                       /* 9 */
	"name = \"a \\\"quoted\\\" \\\\ value\"\n"   /* 10 */
	"empty =\n"                                  /* 11 */
	"qempty = \"\" ; comment after quotes\n"     /* 12 */
	"spaced   =   value with  inner  spaces   \n"/* 13 */
	"hash = a#b # an inline comment\n"          /* 14 */
	"\t[origin \"b c\"]  \n"                     /* 15 */
	"url=x\r\n"                                  /* 16 */
	"under_score.dot-dash = 1\n"                 /* 17 */
	"[origin   \"media\"]\n"                     /* 18 */
	"url = third\n"                              /* 19 */
	"[origin]\n"                                 /* 20 */
	"url = plain\n"                              /* 21 */
	"[origin \"\"]\n"                            /* 22 */
	"url = empty-name\n"                         /* 23 */
	"[cache]\n"                                  /* 24 */
	"bad-size = lots\n"                          /* 25 */
	"bad-time = soon\n"                          /* 26 */
	"last = no newline";                         /* 27 */

static void test_parse_good(void)
{
	struct vr_config *c = parse_ok(good);
	if (!c)
		return;
	CHECK(str_is(vr_config_source(c), "test.conf"));
	/* the last value wins; get_nth gives them all in file order */
	CHECK(str_is(vr_config_get(c, "origin", "media", "url"), "third"));
	CHECK(str_is(vr_config_get_nth(c, "origin", "media", "url", 0), "https://a.example/v"));
	CHECK(str_is(vr_config_get_nth(c, "origin", "media", "url", 1), "https://b.example/v"));
	CHECK(str_is(vr_config_get_nth(c, "origin", "media", "url", 2), "third"));
	CHECK(vr_config_get_nth(c, "origin", "media", "url", 3) == NULL);
	CHECK(vr_config_get_nth(c, "origin", "media", "nope", 0) == NULL);
	CHECK(str_is(vr_config_where(c, "origin", "media", "url"), "test.conf:19"));
	CHECK(str_is(vr_config_where(c, "origin", "media", "timeout"), "test.conf:7"));
	CHECK(str_is(vr_config_where(c, "origin", "media", "absent"), ""));
	CHECK(str_is(vr_config_get(c, "origin", "media", "timeout"), "5s"));
	/* sub-names are exact: no sub, another sub, the empty sub are different blocks */
	CHECK(str_is(vr_config_get(c, "origin", NULL, "url"), "plain"));
	CHECK(str_is(vr_config_get(c, "origin", "b c", "url"), "x"));
	CHECK(str_is(vr_config_get(c, "origin", "", "url"), "empty-name"));
	CHECK(vr_config_get(c, "origin", "b", "url") == NULL);
	CHECK(vr_config_get(c, "origin", "MEDIA", "url") == NULL);
	CHECK(vr_config_get(c, "cache", "media", "max-size") == NULL);
	CHECK(vr_config_get(c, "nosuch", NULL, "url") == NULL);
	CHECK(vr_config_get(c, "origin", "b c", "timeout") == NULL);
	/* values: unquoted, escapes, empty, inner spaces kept, CR dropped */
	CHECK(str_is(vr_config_get(c, "cache", NULL, "max-size"), "64M"));
	CHECK(str_is(vr_config_get(c, "cache", NULL, "name"), "a \"quoted\" \\ value"));
	CHECK(str_is(vr_config_get(c, "cache", NULL, "empty"), ""));
	CHECK(str_is(vr_config_get(c, "cache", NULL, "qempty"), ""));
	CHECK(str_is(vr_config_get(c, "cache", NULL, "spaced"), "value with  inner  spaces"));
	/* '#' or ';' after a space starts a comment; inside a word it does not */
	CHECK(str_is(vr_config_get(c, "cache", NULL, "hash"), "a#b"));
	CHECK(str_is(vr_config_get(c, "origin", "b c", "under_score.dot-dash"), "1"));
	CHECK(str_is(vr_config_get(c, "cache", NULL, "last"), "no newline"));
	CHECK(str_is(vr_config_where(c, "cache", NULL, "last"), "test.conf:27"));
	/* keys are case-sensitive */
	CHECK(vr_config_get(c, "cache", NULL, "Max-Size") == NULL);

	/* names: distinct sub-names of one kind, in file order */
	const char *names[8] = {0};
	size_t n = vr_config_names(c, "origin", names, 8);
	CHECK(n == 3);
	CHECK(str_is(names[0], "media"));
	CHECK(str_is(names[1], "b c"));
	CHECK(str_is(names[2], ""));
	const char *one[1] = {0};
	CHECK(vr_config_names(c, "origin", one, 1) == 3 && str_is(one[0], "media"));
	CHECK(vr_config_names(c, "origin", NULL, 0) == 3);
	CHECK(vr_config_names(c, "cache", names, 8) == 0);
	CHECK(vr_config_names(c, "nosuch", names, 8) == 0);

	/* typed getters */
	uint64_t sz = 7;
	double secs = 7;
	CHECK(vr_config_size(c, "cache", NULL, "max-size", &sz, err, sizeof err) == 0 && sz == 64u << 20);
	CHECK(vr_config_seconds(c, "origin", "media", "timeout", &secs, err, sizeof err) == 0 && secs == 5);
	sz = 7;
	secs = 7;
	CHECK(vr_config_size(c, "cache", NULL, "absent", &sz, err, sizeof err) == 0 && sz == 7);
	CHECK(vr_config_seconds(c, "cache", NULL, "absent", &secs, err, sizeof err) == 0 && secs == 7);
	err[0] = '\0';
	CHECK(vr_config_size(c, "cache", NULL, "bad-size", &sz, err, sizeof err) == VR_EDATA);
	CHECK(strstr(err, "test.conf:25") && strstr(err, "bad-size") && strstr(err, "lots"));
	err[0] = '\0';
	CHECK(vr_config_seconds(c, "cache", NULL, "bad-time", &secs, err, sizeof err) == VR_EDATA);
	CHECK(strstr(err, "test.conf:26") && strstr(err, "bad-time") && strstr(err, "soon"));
	CHECK(vr_config_seconds(c, "cache", NULL, "name", &secs, err, sizeof err) == VR_EDATA);
	vr_config_free(c);

	/* empty and blank texts */
	c = parse_ok("");
	CHECK(c && vr_config_get(c, "a", NULL, "k") == NULL && vr_config_names(c, "a", NULL, 0) == 0);
	vr_config_free(c);
	c = parse_ok("\n\n  \n\t\n# only comments\n; and more\n");
	vr_config_free(c);
	/* comments and blank lines before any section are fine */
	c = parse_ok("# header\n\n[a]\nk = v\n");
	CHECK(c && str_is(vr_config_get(c, "a", NULL, "k"), "v"));
	vr_config_free(c);
	/* a plain section after a named one drops the name */
	c = parse_ok("[a \"x\"]\nk = 1\n[a]\nk = 2\n");
	CHECK(c && str_is(vr_config_get(c, "a", "x", "k"), "1") && str_is(vr_config_get(c, "a", NULL, "k"), "2"));
	vr_config_free(c);
	/* odd quoting that is still a plain value */
	c = parse_ok("[a]\nk = a\"b\nq = \"\nr = \"x\\\\\"\n");
	CHECK(c && str_is(vr_config_get(c, "a", NULL, "k"), "a\"b"));
	CHECK(c && str_is(vr_config_get(c, "a", NULL, "q"), "\""));
	CHECK(c && str_is(vr_config_get(c, "a", NULL, "r"), "x\\"));
	vr_config_free(c);
	/* a line of exactly the limit */
	static char line[VR_CONFIG_MAX_LINE + 64];
	strcpy(line, "[a]\nk=");
	size_t pre = strlen(line);
	memset(line + pre, 'v', VR_CONFIG_MAX_LINE - 2);
	line[pre + VR_CONFIG_MAX_LINE - 2] = '\0';
	c = parse_ok(line);
	CHECK(c && vr_config_get(c, "a", NULL, "k") && strlen(vr_config_get(c, "a", NULL, "k")) == VR_CONFIG_MAX_LINE - 2);
	vr_config_free(c);
	/* many entries (the table grows) */
	static char many[64 * 1024];
	size_t o = (size_t)sprintf(many, "[a]\n");
	for (int i = 0; i < 2000; i++)
		o += (size_t)sprintf(many + o, "k = %d\n", i);
	c = parse_ok(many);
	CHECK(c && str_is(vr_config_get(c, "a", NULL, "k"), "1999"));
	CHECK(c && str_is(vr_config_get_nth(c, "a", NULL, "k", 1000), "1000"));
	CHECK(c && str_is(vr_config_where(c, "a", NULL, "k"), "test.conf:2001"));
	vr_config_free(c);
	/* a NULL config is fine to free */
	vr_config_free(NULL);
}

static void test_parse_bad(void)
{
	CHECK(parse_bad("k = v\n", "test.conf:1", "section"));
	CHECK(parse_bad("# c\n\nk = v\n[a]\n", "test.conf:3", "section"));
	CHECK(parse_bad("[a\nk=v\n", "test.conf:1", "syntax"));
	CHECK(parse_bad("a]\n", "test.conf:1", NULL));
	CHECK(parse_bad("[]\n", "test.conf:1", "syntax"));
	CHECK(parse_bad("[ a]\n", "test.conf:1", "syntax"));
	CHECK(parse_bad("[a b]\n", "test.conf:1", "syntax"));
	CHECK(parse_bad("[a \"x]\n", "test.conf:1", "syntax"));
	CHECK(parse_bad("[a x\"]\n", "test.conf:1", "syntax"));
	CHECK(parse_bad("[a \"]\n", "test.conf:1", "syntax"));
	CHECK(parse_bad("[a \"x\"y\"]\n", "test.conf:1", "syntax"));
	CHECK(parse_bad("[a \"x\" y]\n", "test.conf:1", "syntax"));
	CHECK(parse_bad("[a!]\n", "test.conf:1", "syntax"));
	CHECK(parse_bad("[a]]\n", "test.conf:1", "syntax"));
	CHECK(parse_bad("[a]\nnoequals\n", "test.conf:2", "noequals"));
	CHECK(parse_bad("[a]\n= v\n", "test.conf:2", "syntax"));
	CHECK(parse_bad("[a]\nk v\n", "test.conf:2", "syntax"));
	CHECK(parse_bad("[a]\nk! = v\n", "test.conf:2", "syntax"));
	CHECK(parse_bad("[a]\nk k = v\n", "test.conf:2", "syntax"));
	CHECK(parse_bad("[a]\nk = \"unterminated\n", "test.conf:2", "syntax"));
	CHECK(parse_bad("[a]\nk = \"a\"b\"\n", "test.conf:2", "syntax"));
	CHECK(parse_bad("[a]\nk = \"x\"  y\n", "test.conf:2", "syntax"));
	CHECK(parse_bad("[a]\nk = 1\nk = 2\n[b\n", "test.conf:4", "syntax"));
	/* an over-long section name */
	static char sec[400];
	sec[0] = '[';
	memset(sec + 1, 's', 300);
	strcpy(sec + 301, "]\n");
	CHECK(parse_bad(sec, "test.conf:1", "syntax"));
	/* an over-long line */
	static char line[VR_CONFIG_MAX_LINE + 64];
	strcpy(line, "[a]\nk=");
	size_t pre = strlen(line);
	memset(line + pre, 'v', VR_CONFIG_MAX_LINE - 1);
	strcpy(line + pre + VR_CONFIG_MAX_LINE - 1, "\n[b]\n");
	CHECK(parse_bad(line, "test.conf:2", "longer"));
	/* a NUL byte */
	static const char nul[] = "[a]\nk = v\nj = x\0y\nl = z\n";
	CHECK(parse_bad_n(nul, sizeof nul - 1, "test.conf:3", "NUL"));
	static const char nul2[] = "\0";
	CHECK(parse_bad_n(nul2, 1, "test.conf:1", "NUL"));
	/* err may be NULL */
	struct vr_config *c = NULL;
	CHECK(vr_config_parse(&c, "k=v", 3, "x", NULL, 0) == VR_EDATA && c);
	vr_config_free(c);
}

static char dir[200];

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (!f)
		return;
	fputs(text, f);
	fclose(f);
}

static void mkdirs(const char *path)
{
	char p[512];
	snprintf(p, sizeof p, "%s", path);
	for (char *s = p + 1; *s; s++)
		if (*s == '/') {
			*s = '\0';
			mkdir(p, 0755);
			*s = '/';
		}
	mkdir(p, 0755);
}

static void test_load(void)
{
	char path[1024], home[400], xdg[400];
	struct vr_config *c;
	snprintf(home, sizeof home, "%s/home", dir);
	snprintf(xdg, sizeof xdg, "%s/xdg", dir);
	mkdirs(home);
	unsetenv("VR_CONFIG");
	unsetenv("XDG_CONFIG_HOME");
	setenv("HOME", home, 1);

	/* an explicit missing file is an error */
	snprintf(path, sizeof path, "%s/missing.conf", dir);
	c = NULL;
	err[0] = '\0';
	CHECK(vr_config_load(&c, path, err, sizeof err) == VR_ENOTFOUND);
	CHECK(c != NULL && vr_config_get(c, "a", NULL, "k") == NULL && vr_config_source(c) == NULL);
	CHECK(strstr(err, "missing.conf") != NULL);
	vr_config_free(c);
	/* ...also below a missing directory */
	snprintf(path, sizeof path, "%s/nodir/x.conf", dir);
	c = NULL;
	CHECK(vr_config_load(&c, path, err, sizeof err) == VR_ENOTFOUND && c);
	vr_config_free(c);
	/* an explicit empty name names no file */
	c = NULL;
	errno = 0;
	CHECK(vr_config_load(&c, "", err, sizeof err) == VR_ENOTFOUND && c);
	vr_config_free(c);

	/* no path, HOME with no config: built-in defaults */
	c = NULL;
	err[0] = '\0';
	CHECK(vr_config_load(&c, NULL, err, sizeof err) == 0);
	CHECK(c != NULL && vr_config_source(c) == NULL && vr_config_names(c, "origin", NULL, 0) == 0);
	vr_config_free(c);
	/* HOME unset as well */
	unsetenv("HOME");
	c = NULL;
	CHECK(vr_config_load(&c, NULL, err, sizeof err) == 0 && c && vr_config_source(c) == NULL);
	vr_config_free(c);
	setenv("HOME", home, 1);
	/* HOME is a file, not a directory: still defaults */
	snprintf(path, sizeof path, "%s/plainfile", dir);
	write_file(path, "x");
	setenv("HOME", path, 1);
	c = NULL;
	CHECK(vr_config_load(&c, NULL, err, sizeof err) == 0 && c);
	vr_config_free(c);
	setenv("HOME", home, 1);

	/* ~/.config/vr/vr.conf */
	snprintf(path, sizeof path, "%s/.config/vr", home);
	mkdirs(path);
	snprintf(path, sizeof path, "%s/.config/vr/vr.conf", home);
	write_file(path, "[a]\nk = home\n");
	c = NULL;
	CHECK(vr_config_load(&c, NULL, err, sizeof err) == 0);
	CHECK(c && str_is(vr_config_get(c, "a", NULL, "k"), "home"));
	CHECK(c && str_is(vr_config_source(c), path));
	vr_config_free(c);

	/* $XDG_CONFIG_HOME/vr/vr.conf wins over HOME, even when missing */
	setenv("XDG_CONFIG_HOME", xdg, 1);
	c = NULL;
	CHECK(vr_config_load(&c, NULL, err, sizeof err) == 0 && c && vr_config_source(c) == NULL);
	vr_config_free(c);
	snprintf(path, sizeof path, "%s/vr", xdg);
	mkdirs(path);
	snprintf(path, sizeof path, "%s/vr/vr.conf", xdg);
	write_file(path, "[a]\nk = xdg\n");
	c = NULL;
	CHECK(vr_config_load(&c, NULL, err, sizeof err) == 0 && c &&
	      str_is(vr_config_get(c, "a", NULL, "k"), "xdg"));
	vr_config_free(c);
	/* an empty XDG_CONFIG_HOME is as if unset */
	setenv("XDG_CONFIG_HOME", "", 1);
	c = NULL;
	CHECK(vr_config_load(&c, NULL, err, sizeof err) == 0 && c &&
	      str_is(vr_config_get(c, "a", NULL, "k"), "home"));
	vr_config_free(c);

	/* $VR_CONFIG beats both, and is explicit: missing is an error */
	snprintf(path, sizeof path, "%s/env.conf", dir);
	write_file(path, "[a]\nk = env\n");
	setenv("VR_CONFIG", path, 1);
	c = NULL;
	CHECK(vr_config_load(&c, NULL, err, sizeof err) == 0 && c &&
	      str_is(vr_config_get(c, "a", NULL, "k"), "env"));
	vr_config_free(c);
	snprintf(path, sizeof path, "%s/env-missing.conf", dir);
	setenv("VR_CONFIG", path, 1);
	c = NULL;
	CHECK(vr_config_load(&c, NULL, err, sizeof err) == VR_ENOTFOUND && c);
	vr_config_free(c);
	/* ...but --config (path) beats $VR_CONFIG */
	snprintf(path, sizeof path, "%s/vr/vr.conf", xdg);
	c = NULL;
	CHECK(vr_config_load(&c, path, err, sizeof err) == 0 && c &&
	      str_is(vr_config_get(c, "a", NULL, "k"), "xdg"));
	vr_config_free(c);
	/* an empty $VR_CONFIG is as if unset */
	setenv("VR_CONFIG", "", 1);
	unsetenv("XDG_CONFIG_HOME");
	c = NULL;
	CHECK(vr_config_load(&c, NULL, err, sizeof err) == 0 && c &&
	      str_is(vr_config_get(c, "a", NULL, "k"), "home"));
	vr_config_free(c);
	unsetenv("VR_CONFIG");

	/* a syntax error in a file names the file and line */
	snprintf(path, sizeof path, "%s/bad.conf", dir);
	write_file(path, "[a]\nk = 1\noops\n");
	c = NULL;
	err[0] = '\0';
	CHECK(vr_config_load(&c, path, err, sizeof err) == VR_EDATA && c);
	CHECK(strstr(err, "bad.conf:3") != NULL);
	vr_config_free(c);
	/* a directory is not a config file */
	c = NULL;
	CHECK(vr_config_load(&c, dir, err, sizeof err) == VR_EIO && c);
	vr_config_free(c);
	/* a file above the size limit */
	snprintf(path, sizeof path, "%s/big.conf", dir);
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		long w = fprintf(f, "[a]\n");
		while (w <= VR_CONFIG_MAX_BYTES)
			w += fprintf(f, "# padding.....\n");
		fclose(f);
	}
	c = NULL;
	err[0] = '\0';
	CHECK(vr_config_load(&c, path, err, sizeof err) == VR_EDATA && c && strstr(err, "larger"));
	vr_config_free(c);
	/* exactly at the limit is fine */
	CHECK(truncate(path, VR_CONFIG_MAX_BYTES) == 0);
	c = NULL;
	CHECK(vr_config_load(&c, path, err, sizeof err) == 0 && c);
	vr_config_free(c);
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, sizeof dir, "%s/test_config.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_parse_good();
	test_parse_bad();
	test_load();
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "test_config: could not remove %s\n", dir);
	return check_done();
}
