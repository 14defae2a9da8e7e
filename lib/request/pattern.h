/* The match regex of an [origin] (see vr.conf(5)): PCRE2, the dialect of
 * Perl and, for what origin configs use, of JavaScript, so that the
 * matchers of configs written for the original service (\d, \w, named
 * groups, lookaheads) match here as they did there.
 *
 * Compiled with PCRE2_DOLLAR_ENDONLY ('$' is the end of the path, as in
 * JavaScript and POSIX, never before a final newline), PCRE2_NEVER_UTF
 * and PCRE2_NEVER_UCP (a path is bytes; \d and \w are ASCII, as in
 * JavaScript without the u flag). Not anchored: ^ and $ say so, as in
 * POSIX regexec and JavaScript's test. JIT-compiled where PCRE2 has a JIT
 * for this machine, else interpreted; both stop at the match limits
 * below, so that no path costs more than a bounded time and memory
 * whatever the regex (the request path is untrusted; the regex is not,
 * but a careless one must not hang a request).
 *
 * Contract: a vr_pattern owns its compiled code; free it with
 * vr_pattern_free (also after a failed compile). Matching does not
 * change the pattern: one pattern may be matched from several threads. */
#ifndef VR_PATTERN_H
#define VR_PATTERN_H

#include <regex.h> /* regmatch_t: a group's span, rm_so -1 when unset */
#include <stddef.h>

#define VR_ORIGIN_MAX_GROUPS 31 /* capture groups in one match regex */
#define VR_ORIGIN_MAX_NAME 32   /* bytes of a group name, NUL included */

#define VR_PATTERN_MAX_LEN 8192          /* bytes of a regex */
#define VR_PATTERN_MATCH_LIMIT 1000000u  /* PCRE2 match limit: backtracking steps of one match */
#define VR_PATTERN_DEPTH_LIMIT 10000u    /* PCRE2 depth limit: nested backtracking points */
#define VR_PATTERN_HEAP_LIMIT_KIB 16384u /* PCRE2 heap limit of one match */

/* A match regex with its group names. */
struct vr_pattern {
	void *code;  /* pcre2_code (8-bit), NULL: not compiled */
	void *mctx;  /* pcre2_match_context with the limits */
	int jit;     /* 1: JIT-compiled */
	int noncapturing; /* 1: the regex has a "(?:" (messages only: before
			   * PCRE2, such a group took a number) */
	size_t ngroups;
	char names[VR_ORIGIN_MAX_GROUPS + 1][VR_ORIGIN_MAX_NAME]; /* "" unnamed */
};

/* Compile pattern into p. 0, or -1 with err quoting the regex and saying
 * what is wrong (PCRE2's message and offset, more than
 * VR_ORIGIN_MAX_GROUPS groups, a name used twice or "env"). */
int vr_pattern_compile(struct vr_pattern *p, const char *pattern, char *err, size_t errlen);

/* Match subject: 1 when it matches (m gets ngroups + 1 spans), 0 when
 * not, -1 when matching stopped at a limit or failed otherwise, with err
 * saying which (err may be NULL). */
int vr_pattern_exec(const struct vr_pattern *p, const char *subject,
		    regmatch_t m[VR_ORIGIN_MAX_GROUPS + 1], char *err, size_t errlen);
/* vr_pattern_exec without a message. */
int vr_pattern_match(const struct vr_pattern *p, const char *subject,
		     regmatch_t m[VR_ORIGIN_MAX_GROUPS + 1]);

/* The number of the group called name (n bytes), 0 when there is none. */
size_t vr_pattern_group(const struct vr_pattern *p, const char *name, size_t n);

void vr_pattern_free(struct vr_pattern *p);

#endif
