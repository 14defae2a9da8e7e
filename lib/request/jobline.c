#include "jobline.h"
#include "log.h"
#include "status.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>


/* A word made safe to print in a message. */
static const char *shown(const char *w, char *tmp, size_t cap)
{
	size_t i = 0;
	for (; w[i] && i + 4 < cap && i < 60; i++)
		tmp[i] = (w[i] < 0x20 || w[i] >= 0x7f) ? '?' : w[i];
	if (w[i])
		memcpy(tmp + i, "...", 4);
	else
		tmp[i] = '\0';
	return tmp;
}

int vr_jobline_is_job(const char *line, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		char c = line[i];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v')
			continue;
		return c != '#';
	}
	return 0;
}

/* Split into words (see jobline.h); returns the count or a negative vr_status. */
static int split(const char *line, size_t len, char *buf, size_t buflen, char **words,
		 char *err, size_t errlen)
{
	size_t o = 0, i = 0;
	int n = 0;
	if (buflen < len + 2)
		return -vr_errf(err, errlen, VR_EDATA, "longer than %d bytes", VR_JOBLINE_MAX);
	while (i < len) {
		while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
			i++;
		if (i == len || line[i] == '#')
			break;
		if (n == VR_JOBLINE_WORDS)
			return -vr_errf(err, errlen, VR_EDATA, "more than %d words", VR_JOBLINE_WORDS);
		words[n++] = buf + o;
		while (i < len && line[i] != ' ' && line[i] != '\t' && line[i] != '\r') {
			char c = line[i++];
			if (c == '\0')
				return -vr_errf(err, errlen, VR_EDATA, "a NUL byte in the line");
			if (c == '\'') {
				while (i < len && line[i] != '\'')
					buf[o++] = line[i++];
				if (i == len)
					return -vr_errf(err, errlen, VR_EDATA, "unterminated ' quote");
				i++;
			} else if (c == '"') {
				while (i < len && line[i] != '"') {
					if (line[i] == '\\' && i + 1 < len &&
					    strchr("\"\\$`", line[i + 1]))
						i++;
					buf[o++] = line[i++];
				}
				if (i == len)
					return -vr_errf(err, errlen, VR_EDATA, "unterminated \" quote");
				i++;
			} else if (c == '\\') {
				if (i == len)
					return -vr_errf(err, errlen, VR_EDATA,
						     "a backslash at the end of the line");
				buf[o++] = line[i++];
			} else {
				buf[o++] = c;
			}
		}
		buf[o++] = '\0';
	}
	/* a trailing \r (CRLF lists) was skipped as a blank above */
	return n;
}

int vr_jobline_parse(const char *line, size_t len, const struct vr_limits *l,
		     const struct vr_config *cfg, struct vr_jobline *j, char *buf, size_t buflen,
		     char *err, size_t errlen)
{
	char *w[VR_JOBLINE_WORDS];
	char tmp[72];
	memset(j, 0, sizeof *j);
	vr_params_init(&j->params);
	if (len > VR_JOBLINE_MAX)
		return vr_errf(err, errlen, VR_EDATA, "longer than %d bytes", VR_JOBLINE_MAX);
	int n = split(line, len, buf, buflen, w, err, errlen);
	if (n < 0)
		return -n;
	if (n == 0)
		return VR_JOBLINE_SKIP;
	if (w[0][0] == '-' && w[0][1])
		return vr_errf(err, errlen, VR_EUSAGE, "'%s': the line must start with a SOURCE",
			    shown(w[0], tmp, sizeof tmp));
	if (!w[0][0])
		return vr_errf(err, errlen, VR_EDATA, "an empty SOURCE");
	j->source = w[0];
	j->has_options = n > 1;

	/* the path is the source up to its '?': stored after the words */
	char *q = strchr(w[0], '?');
	if (q) {
		/* split() used at most len + 1 bytes of buf for words;
		 * the source itself is shorter than the line */
		size_t used = (size_t)(w[n - 1] - buf) + strlen(w[n - 1]) + 1;
		size_t plen = (size_t)(q - w[0]);
		if (used + plen + 1 > buflen)
			return vr_errf(err, errlen, VR_EDATA, "longer than %d bytes", VR_JOBLINE_MAX);
		memcpy(buf + used, w[0], plen);
		buf[used + plen] = '\0';
		j->path = buf + used;
		if (!plen)
			return vr_errf(err, errlen, VR_EDATA, "an empty SOURCE before '?'");
		int rc = vr_params_parse_query(&j->params, l, q + 1, &j->bypass, err, errlen);
		if (rc)
			return rc;
	} else {
		j->path = w[0];
	}

	for (int i = 1; i < n; i++) {
		const char *name, *value = NULL;
		char nbuf[64];
		if (w[i][0] == '-' && w[i][1] == '-' && w[i][2]) {
			const char *eq = strchr(w[i] + 2, '=');
			size_t nl = eq ? (size_t)(eq - w[i] - 2) : strlen(w[i] + 2);
			if (nl >= sizeof nbuf)
				return vr_errf(err, errlen, VR_EUSAGE, "unknown option '%s'",
					    shown(w[i], tmp, sizeof tmp));
			memcpy(nbuf, w[i] + 2, nl);
			nbuf[nl] = '\0';
			name = nbuf;
			if (eq)
				value = eq + 1;
		} else if (w[i][0] == '-' && w[i][1] && vr_params_letter_name(w[i][1])) {
			name = vr_params_letter_name(w[i][1]);
			if (w[i][2])
				value = w[i] + 2;
		} else {
			return vr_errf(err, errlen, VR_EUSAGE,
				    "'%s': one SOURCE per line, then options (--width 640)",
				    shown(w[i], tmp, sizeof tmp));
		}
		if (!value) {
			if (i + 1 == n)
				return vr_errf(err, errlen, VR_EUSAGE, "option '%s' needs a value",
					    shown(w[i], tmp, sizeof tmp));
			value = w[++i];
		}
		int rc = !strcmp(name, "query")
				 ? vr_params_parse_query(&j->params, l, value, NULL, err, errlen)
				 : vr_params_set(&j->params, l, name, value, 0, err, errlen);
		if (rc)
			return rc;
	}
	if (j->params.set == 0) {
		/* no transform parameter: the source's bytes themselves */
		j->raw = 1;
		return 0;
	}
	return vr_params_finalize(&j->params, l, cfg, err, errlen);
}

int vr_jobline_count(int fd, off_t offset, uint64_t *jobs)
{
	char buf[16384];
	uint64_t count = 0;
	int at_start = 1;   /* no non-blank character on this line yet */
	for (;;) {
		ssize_t n = pread(fd, buf, sizeof buf, offset);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		offset += n;
		for (ssize_t i = 0; i < n; i++) {
			char c = buf[i];
			if (c == '\n') {
				at_start = 1;
			} else if (at_start && c != ' ' && c != '\t' && c != '\r' && c != '\f' &&
				   c != '\v') {
				at_start = 0;
				if (c != '#')
					count++;
			}
		}
	}
	*jobs = count;
	return 0;
}
