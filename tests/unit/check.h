/* The unit tests' checks. Each macro counts one check and, when it fails,
 * prints file:line, the expressions and both sides, and goes on (a test
 * reports every failure, not the first). At exit a summary line
 * ("test_range: 486 checks, 0 failed"); a test with a failed check exits 1
 * even if its main returned 0. Every macro is an expression, true when
 * the check passed:
 *
 *   CHECK(cond)
 *   CHECK_EQ_INT(a, b)     signed integers (as intmax_t)
 *   CHECK_EQ_UINT(a, b)    unsigned integers (as uintmax_t)
 *   CHECK_EQ_STR(a, b)     C strings (NULL allowed)
 *   CHECK_EQ_MEM(a, b, n)  n bytes; the first difference is shown
 *
 * main ends with `return check_done();`. */
#ifndef VR_TEST_CHECK_H
#define VR_TEST_CHECK_H

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHECK_UNUSED __attribute__((unused))

static int check_count, check_failed;

CHECK_UNUSED static const char *check_program(void)
{
	/* the test's own source file: tests/unit/test_range.c -> test_range */
	static char name[64];
	if (!name[0]) {
		const char *f = __BASE_FILE__, *slash = strrchr(f, '/');
		snprintf(name, sizeof name, "%s", slash ? slash + 1 : f);
		char *dot = strrchr(name, '.');
		if (dot)
			*dot = '\0';
	}
	return name;
}

static void check_summary(void)
{
	printf("%s: %d checks, %d failed\n", check_program(), check_count, check_failed);
	fflush(stdout);
	fflush(stderr);
	if (check_failed)
		_exit(1);
}

__attribute__((constructor)) static void check_setup(void) { atexit(check_summary); }

/* main's result: 1 if any check failed */
CHECK_UNUSED static int check_done(void) { return check_failed ? 1 : 0; }

static int check_result(int ok)
{
	check_count++;
	if (!ok)
		check_failed++;
	return ok;
}

CHECK_UNUSED static int check_cond(const char *file, int line, const char *expr, int ok)
{
	if (!check_result(ok))
		fprintf(stderr, "%s:%d: CHECK failed: %s\n", file, line, expr);
	return ok;
}

CHECK_UNUSED static int check_int(const char *file, int line, const char *ea, const char *eb,
				  intmax_t a, intmax_t b)
{
	if (!check_result(a == b))
		fprintf(stderr, "%s:%d: CHECK_EQ_INT(%s, %s) failed:\n  left:  %jd\n  right: %jd\n",
			file, line, ea, eb, a, b);
	return a == b;
}

CHECK_UNUSED static int check_uint(const char *file, int line, const char *ea, const char *eb,
				   uintmax_t a, uintmax_t b)
{
	if (!check_result(a == b))
		fprintf(stderr, "%s:%d: CHECK_EQ_UINT(%s, %s) failed:\n  left:  %ju\n  right: %ju\n",
			file, line, ea, eb, a, b);
	return a == b;
}

CHECK_UNUSED static int check_str(const char *file, int line, const char *ea, const char *eb,
				  const char *a, const char *b)
{
	int ok = (a && b) ? !strcmp(a, b) : a == b;
	if (!check_result(ok))
		fprintf(stderr, "%s:%d: CHECK_EQ_STR(%s, %s) failed:\n  left:  %s%s%s\n  right: %s%s%s\n",
			file, line, ea, eb, a ? "\"" : "", a ? a : "NULL", a ? "\"" : "", b ? "\"" : "",
			b ? b : "NULL", b ? "\"" : "");
	return ok;
}

static void check_hex(const unsigned char *p, size_t n, size_t from, size_t to)
{
	for (size_t i = from; i < to && i < n; i++)
		fprintf(stderr, " %02x", p[i]);
}

CHECK_UNUSED static int check_mem(const char *file, int line, const char *ea, const char *eb,
				  const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;
	size_t at = 0;
	while (at < n && x[at] == y[at])
		at++;
	int ok = at == n;
	if (!check_result(ok)) {
		size_t from = at > 4 ? at - 4 : 0, to = at + 12;
		fprintf(stderr, "%s:%d: CHECK_EQ_MEM(%s, %s, %zu) failed: first difference at byte %zu\n",
			file, line, ea, eb, n, at);
		fprintf(stderr, "  left  [%zu..]:", from);
		check_hex(x, n, from, to);
		fprintf(stderr, "\n  right [%zu..]:", from);
		check_hex(y, n, from, to);
		fprintf(stderr, "\n");
	}
	return ok;
}

#define CHECK(e) check_cond(__FILE__, __LINE__, #e, !!(e))
#define CHECK_EQ_INT(a, b) check_int(__FILE__, __LINE__, #a, #b, (intmax_t)(a), (intmax_t)(b))
#define CHECK_EQ_UINT(a, b) check_uint(__FILE__, __LINE__, #a, #b, (uintmax_t)(a), (uintmax_t)(b))
#define CHECK_EQ_STR(a, b) check_str(__FILE__, __LINE__, #a, #b, (a), (b))
#define CHECK_EQ_MEM(a, b, n) check_mem(__FILE__, __LINE__, #a, #b, (a), (b), (n))

#endif
