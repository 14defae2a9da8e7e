#include "pattern.h"
#include "lifecycle.h"
#include "log.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <limits.h>
#include <stdio.h>
#include <string.h>

/* The group names from PCRE2's name table into p->names: each entry is
 * the group's number (2 bytes, big-endian) then its name. 0 or -1. */
static int take_names(struct vr_pattern *p, const char *pattern, char *err, size_t errlen)
{
	uint32_t count = 0, size = 0;
	PCRE2_SPTR table = NULL;
	pcre2_pattern_info(p->code, PCRE2_INFO_NAMECOUNT, &count);
	pcre2_pattern_info(p->code, PCRE2_INFO_NAMEENTRYSIZE, &size);
	pcre2_pattern_info(p->code, PCRE2_INFO_NAMETABLE, &table);
	for (uint32_t i = 0; i < count; i++) {
		PCRE2_SPTR e = table + (size_t)i * size;
		size_t g = ((size_t)e[0] << 8) | e[1];
		const char *name = (const char *)e + 2;
		size_t n = strlen(name);
		if (g == 0 || g > p->ngroups)
			return vr_errf(err, errlen, -1, "regex '%s': cannot number its groups", pattern);
		if (n >= VR_ORIGIN_MAX_NAME)
			return vr_errf(err, errlen, -1, "regex '%s': group name longer than %d bytes", pattern,
				     VR_ORIGIN_MAX_NAME - 1);
		if (!strcmp(name, "env"))
			return vr_errf(err, errlen, -1, "regex '%s': 'env' is reserved, not a group name",
				     pattern);
		/* (?J) lets PCRE2 give two groups one name; ${name} would be
		 * ambiguous */
		if (vr_pattern_group(p, name, n) || p->names[g][0])
			return vr_errf(err, errlen, -1, "regex '%s': group name '%s' used twice", pattern,
				     name);
		memcpy(p->names[g], name, n + 1);
	}
	return 0;
}

int vr_pattern_compile(struct vr_pattern *p, const char *pattern, char *err, size_t errlen)
{
	memset(p, 0, sizeof *p);
	size_t len = strlen(pattern);
	if (len > VR_PATTERN_MAX_LEN)
		return vr_errf(err, errlen, -1, "regex '%.64s...' is too long (more than %d bytes)", pattern,
			     VR_PATTERN_MAX_LEN);
	int code = 0;
	PCRE2_SIZE at = 0;
	p->code = pcre2_compile((PCRE2_SPTR)pattern, len,
				PCRE2_DOLLAR_ENDONLY | PCRE2_NEVER_UTF | PCRE2_NEVER_UCP, &code, &at,
				NULL);
	if (!p->code) {
		PCRE2_UCHAR msg[256];
		if (pcre2_get_error_message(code, msg, sizeof msg) < 0)
			snprintf((char *)msg, sizeof msg, "error %d", code);
		return vr_errf(err, errlen, -1, "regex '%s': %s at offset %zu", pattern, (char *)msg,
			     (size_t)at);
	}
	uint32_t groups = 0;
	pcre2_pattern_info(p->code, PCRE2_INFO_CAPTURECOUNT, &groups);
	p->ngroups = groups;
	p->noncapturing = strstr(pattern, "(?:") != NULL;
	if (groups > VR_ORIGIN_MAX_GROUPS) {
		vr_errf(err, errlen, -1, "regex '%s': more than %d groups", pattern, VR_ORIGIN_MAX_GROUPS);
		vr_pattern_free(p);
		return -1;
	}
	if (take_names(p, pattern, err, errlen) < 0) {
		vr_pattern_free(p);
		return -1;
	}
	if (!(p->mctx = pcre2_match_context_create(NULL)))
		vr_oom();
	pcre2_set_match_limit(p->mctx, VR_PATTERN_MATCH_LIMIT);
	pcre2_set_depth_limit(p->mctx, VR_PATTERN_DEPTH_LIMIT);
	pcre2_set_heap_limit(p->mctx, VR_PATTERN_HEAP_LIMIT_KIB);
	/* where PCRE2 has no JIT for this machine (or may not map executable
	 * memory), the interpreter does the same matching, only slower */
	p->jit = pcre2_jit_compile(p->code, PCRE2_JIT_COMPLETE) == 0;
	return 0;
}

static int run(const struct vr_pattern *p, const char *subject, size_t len, pcre2_match_data *md,
	       uint32_t options)
{
	return pcre2_match(p->code, (PCRE2_SPTR)subject, len, 0, options, md, p->mctx);
}

int vr_pattern_exec(const struct vr_pattern *p, const char *subject,
		    regmatch_t m[VR_ORIGIN_MAX_GROUPS + 1], char *err, size_t errlen)
{
	size_t len = strlen(subject);
	if (!p->code)
		return vr_errf(err, errlen, -1, "regex not compiled");
	if (len > INT_MAX) /* regmatch_t's offsets are ints */
		return vr_errf(err, errlen, -1, "path longer than %d bytes", INT_MAX);
	pcre2_match_data *md = pcre2_match_data_create(VR_ORIGIN_MAX_GROUPS + 1, NULL);
	if (!md)
		vr_oom();
	int rc = run(p, subject, len, md, 0);
	/* the JIT's stack (32 KiB) is smaller than what the depth and heap
	 * limits allow the interpreter: a deep but legitimate match gets it */
	if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
		rc = run(p, subject, len, md, PCRE2_NO_JIT);
	if (rc >= 0) {
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
		for (size_t g = 0; g <= p->ngroups; g++) {
			int set = g < (size_t)rc && ov[2 * g] != PCRE2_UNSET;
			m[g].rm_so = set ? (regoff_t)ov[2 * g] : -1;
			m[g].rm_eo = set ? (regoff_t)ov[2 * g + 1] : -1;
		}
		pcre2_match_data_free(md);
		return 1;
	}
	pcre2_match_data_free(md);
	if (rc == PCRE2_ERROR_NOMATCH)
		return 0;
	switch (rc) {
	case PCRE2_ERROR_MATCHLIMIT:
		return vr_errf(err, errlen, -1, "matching gave up after %u backtracking steps (the match limit)",
			     VR_PATTERN_MATCH_LIMIT);
	case PCRE2_ERROR_DEPTHLIMIT:
		return vr_errf(err, errlen, -1, "matching gave up at %u nested backtracking points (the depth limit)",
			     VR_PATTERN_DEPTH_LIMIT);
	case PCRE2_ERROR_HEAPLIMIT:
		return vr_errf(err, errlen, -1, "matching gave up at %u KiB of backtracking memory (the heap limit)",
			     VR_PATTERN_HEAP_LIMIT_KIB);
	default: {
		PCRE2_UCHAR msg[256];
		if (pcre2_get_error_message(rc, msg, sizeof msg) < 0)
			snprintf((char *)msg, sizeof msg, "error %d", rc);
		return vr_errf(err, errlen, -1, "matching failed: %s", (char *)msg);
	}
	}
}

int vr_pattern_match(const struct vr_pattern *p, const char *subject,
		     regmatch_t m[VR_ORIGIN_MAX_GROUPS + 1])
{
	return vr_pattern_exec(p, subject, m, NULL, 0);
}

size_t vr_pattern_group(const struct vr_pattern *p, const char *name, size_t n)
{
	for (size_t g = 1; p && g <= p->ngroups; g++)
		if (strlen(p->names[g]) == n && !strncmp(p->names[g], name, n))
			return g;
	return 0;
}

void vr_pattern_free(struct vr_pattern *p)
{
	pcre2_match_context_free(p->mctx);
	pcre2_code_free(p->code);
	p->mctx = NULL;
	p->code = NULL;
	p->jit = 0;
}
