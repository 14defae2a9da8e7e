/* Replays the fuzz corpora through the fuzz targets themselves, built here
 * with the ordinary compiler (no clang, no libFuzzer): every seed of
 * tests/fuzz/TARGET/ and every saved crash of tests/fuzz/regressions/TARGET/
 * goes through the same LLVMFuzzerTestOneInput, with the same checks (a
 * failed one aborts with a message naming it). Under `make SAN=1 unit` this
 * is the sanitizer replay of every input a fuzzer ever crashed on.
 *
 * VR_FUZZ_DIR overrides where the corpora are (default tests/fuzz, as
 * `make unit` runs from the top of the tree). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define LLVMFuzzerTestOneInput fuzz_range_one
#include "../fuzz/fuzz_range.c"
#undef LLVMFuzzerTestOneInput
#undef FAIL

#define LLVMFuzzerTestOneInput fuzz_params_one
#include "../fuzz/fuzz_params.c"
#undef LLVMFuzzerTestOneInput
#undef FAIL

#define LLVMFuzzerTestOneInput fuzz_config_one
#include "../fuzz/fuzz_config.c"
#undef LLVMFuzzerTestOneInput
#undef FAIL

#define LLVMFuzzerTestOneInput fuzz_origin_one
#include "../fuzz/fuzz_origin.c"
#undef LLVMFuzzerTestOneInput
#undef FAIL

#define LLVMFuzzerTestOneInput fuzz_store_one
#include "../fuzz/fuzz_store.c"
#undef LLVMFuzzerTestOneInput
#undef FAIL

#define LLVMFuzzerTestOneInput fuzz_transform_one
#include "../fuzz/fuzz_transform.c"
#undef LLVMFuzzerTestOneInput
#undef FAIL

#include "check.h"

static const struct {
	const char *name;
	int (*one)(const uint8_t *, size_t);
} targets[] = {
	{"range", fuzz_range_one},   {"params", fuzz_params_one}, {"config", fuzz_config_one},
	{"origin", fuzz_origin_one}, {"store", fuzz_store_one},   {"transform", fuzz_transform_one},
};

static int names_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file of dir through one(), in name order (one check a
 * file: it was read whole); the count, or -1 when a file cannot be read. A
 * missing folder counts 0. */
static long replay_dir(const char *dir, int (*one)(const uint8_t *, size_t))
{
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			names = realloc(names, cap * sizeof *names);
			if (!names)
				abort();
		}
		names[n++] = strdup(de->d_name);
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof *names, names_cmp);
	long count = 0;
	for (size_t i = 0; i < n; i++) {
		char p[4096];
		snprintf(p, sizeof p, "%s/%s", dir, names[i]);
		struct stat sb;
		if (stat(p, &sb) == 0 && S_ISREG(sb.st_mode)) {
			FILE *f = fopen(p, "rb");
			unsigned char *buf = malloc((size_t)sb.st_size + 1);
			size_t got = f && buf ? fread(buf, 1, (size_t)sb.st_size, f) : 0;
			if (!CHECK(f && buf && got == (size_t)sb.st_size)) {
				fprintf(stderr, "test_fuzz_regressions: cannot read %s\n", p);
				count = -1;
			} else {
				one(buf, got);
				if (count >= 0)
					count++;
			}
			if (f)
				fclose(f);
			free(buf);
		}
		free(names[i]);
	}
	free(names);
	return count;
}

/* What the fuzzers found in lib/request/origin, checked directly. They
 * were regexes that glibc's regcomp needed minutes and gigabytes for, or
 * whose matching backtracked for minutes on the request path. With PCRE2
 * each is refused when compiled (stacked quantifiers, a compiled size
 * past PCRE2's), or compiles and its matching of an adversarial path ends
 * at once: a match, no match, or a limit with a message (exec's -1). */
static void check_regex_bounds(void)
{
	static const char *const refused[] = {
		"^/videos/(?<path>.*+++++++++++++++++++++++++++++++)$",
		"^/a(.*++++++++++++++)$",
		"^/a((((.{1,200}){1,200}){1,200}))$",
		"^/*+++++\xda.*\x96$",
	};
	static const char *const bounded[] = {
		"^/a((.{1,140}){1,140})$",
		"^/a([a-z]+/){1,5000}$",
		"^/a(.*){1,19000}$",
		"^/(.*)(.*)(.*)\\3\\2\\1x$",
		"^/x*+$",
		"^((((/*)+)+)+)+.*$",
		"^(.*){1,255}$",
		"^/a(.*)+$",
		"^/a(b?){2,5}$",
		"^/a(x*|y){3}$",
		"^/a(x|){3}$",
		"^/(a+)+$",
		"^/((a|aa)+)+$",
	};
	static const char *const accepted[] = {
		"^/videos/(?<id>[^/]+)/(.*)$",
		"^/v/([0-9a-f]{8})/(.{1,200})$",
		"^/a(.{1,40}){1,20}$",
		"^/x[\\1]+$",
		"^/b{2}c{1,3}d{4,}$",
		"^(/.*){1,400}$",
		"^([^/]*/)+(.*)$",
		"^/a((x*)*)*$",
		"^/a(b?){1}(c|d?)$",
		"^/a(x*y){3}$",
	};
	char err[512];
	struct vr_pattern p;
	/* an adversarial path: long runs of what the regexes repeat, then
	 * what makes them fail at the very end */
	static char subject[4096];
	subject[0] = '/';
	for (size_t i = 1; i < sizeof subject - 3; i++)
		subject[i] = "aaaaaaaaaaaaaaa/"[i % 16];
	subject[sizeof subject - 3] = 'x';
	subject[sizeof subject - 2] = '!';
	subject[sizeof subject - 1] = '\0';
	for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
		if (!CHECK(vr_pattern_compile(&p, refused[i], err, sizeof err) != 0))
			fprintf(stderr, "test_fuzz_regressions: '%s' compiled\n", refused[i]);
		vr_pattern_free(&p);
	}
	for (size_t i = 0; i < sizeof bounded / sizeof *bounded; i++) {
		regmatch_t m[VR_ORIGIN_MAX_GROUPS + 1];
		if (vr_pattern_compile(&p, bounded[i], err, sizeof err) == 0) {
			err[0] = '\0';
			int r = vr_pattern_exec(&p, subject, m, err, sizeof err);
			if (!CHECK(r == 0 || r == 1 || (r == -1 && err[0])))
				fprintf(stderr, "test_fuzz_regressions: '%s' matched %d\n", bounded[i], r);
			r = vr_pattern_exec(&p, subject + sizeof subject - 40, m, err, sizeof err);
			if (!CHECK(r == 0 || r == 1 || (r == -1 && err[0])))
				fprintf(stderr, "test_fuzz_regressions: '%s' matched %d\n", bounded[i], r);
		} else if (!CHECK(err[0] != '\0')) {
			fprintf(stderr, "test_fuzz_regressions: '%s' refused without a message\n", bounded[i]);
		}
		vr_pattern_free(&p);
	}
	for (size_t i = 0; i < sizeof accepted / sizeof *accepted; i++) {
		if (!CHECK(vr_pattern_compile(&p, accepted[i], err, sizeof err) == 0))
			fprintf(stderr, "test_fuzz_regressions: '%s' refused: %s\n", accepted[i], err);
		vr_pattern_free(&p);
	}
}

int main(void)
{
	const char *base = getenv("VR_FUZZ_DIR");
	if (!base || !*base)
		base = "tests/fuzz";
	check_regex_bounds();
	long total = 0, regressions = 0;
	for (size_t i = 0; i < sizeof targets / sizeof *targets; i++) {
		char dir[1024];
		snprintf(dir, sizeof dir, "%s/%s", base, targets[i].name);
		long seeds = replay_dir(dir, targets[i].one);
		snprintf(dir, sizeof dir, "%s/regressions/%s", base, targets[i].name);
		long regs = replay_dir(dir, targets[i].one);
		if (!CHECK(seeds > 0))
			fprintf(stderr, "test_fuzz_regressions: no seeds read for %s in %s/%s\n",
				targets[i].name, base, targets[i].name);
		CHECK(regs >= 0);
		total += seeds > 0 ? seeds : 0;
		regressions += regs > 0 ? regs : 0;
	}
	printf("test_fuzz_regressions: %ld seeds and %ld regression inputs replayed through %zu targets\n",
	       total, regressions, sizeof targets / sizeof *targets);
	return check_done();
}
