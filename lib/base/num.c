#include "num.h"

#include <stdio.h>

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int vr_parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	if (!s || !*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		unsigned d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int vr_parse_size(const char *s, uint64_t *out)
{
	if (!s || !isdigit((unsigned char)*s))
		return -1;
	uint64_t v = 0;
	while (isdigit((unsigned char)*s)) {
		unsigned d = (unsigned)(*s++ - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	unsigned shift = 0;
	if (*s) {
		switch (toupper((unsigned char)*s)) {
		case 'B': shift = 0; break;
		case 'K': shift = 10; break;
		case 'M': shift = 20; break;
		case 'G': shift = 30; break;
		case 'T': shift = 40; break;
		default: return -1;
		}
		if (toupper((unsigned char)*s) != 'B') {
			s++;
			if (*s == 'i' || *s == 'I')
				s++;
			if (*s == 'B' || *s == 'b')
				s++;
		} else {
			s++;
		}
		if (*s)
			return -1;
	}
	if (shift && v > (UINT64_MAX >> shift))
		return -1;
	*out = v << shift;
	return 0;
}

/* A non-negative decimal with optional fraction; advances *s. */
static int parse_decimal(const char **s, double *out)
{
	const char *p = *s;
	if (!isdigit((unsigned char)*p) && !(*p == '.' && isdigit((unsigned char)p[1])))
		return -1;
	double v = 0;
	while (isdigit((unsigned char)*p))
		v = v * 10 + (*p++ - '0');
	if (*p == '.') {
		double scale = 0.1;
		p++;
		if (!isdigit((unsigned char)*p))
			return -1;
		while (isdigit((unsigned char)*p)) {
			v += (*p++ - '0') * scale;
			scale /= 10;
		}
	}
	*s = p;
	*out = v;
	return 0;
}

int vr_parse_seconds(const char *s, double *out)
{
	if (!s || !*s)
		return -1;
	if (strchr(s, ':')) {
		/* [HH:]MM:SS(.fff); each field but the first below 60 */
		double fields[3];
		int n = 0;
		const char *p = s;
		for (;;) {
			if (n == 3 || parse_decimal(&p, &fields[n]) < 0)
				return -1;
			n++;
			if (*p == ':') {
				p++;
				continue;
			}
			break;
		}
		if (*p || n < 2)
			return -1;
		for (int i = 0; i < n - 1; i++)
			if (fields[i] != floor(fields[i]))
				return -1;
		for (int i = 1; i < n; i++)
			if (fields[i] >= 60)
				return -1;
		double v = 0;
		for (int i = 0; i < n; i++)
			v = v * 60 + fields[i];
		if (!isfinite(v)) /* hundreds of digits overflow a double */
			return -1;
		*out = v;
		return 0;
	}
	const char *p = s;
	double v;
	if (parse_decimal(&p, &v) < 0)
		return -1;
	if (!*p || !strcmp(p, "s"))
		;
	else if (!strcmp(p, "ms"))
		v /= 1000;
	else if (!strcmp(p, "m"))
		v *= 60;
	else if (!strcmp(p, "h"))
		v *= 3600;
	else if (!strcmp(p, "d")) /* TTLs are often days */
		v *= 86400;
	else
		return -1;
	if (!isfinite(v)) /* like the other parsers, leave *out alone on failure */
		return -1;
	*out = v;
	return 0;
}

const char *vr_duration_text(double seconds, char *buf, size_t len)
{
	long long ms = llround(seconds * 1000);
	if (ms > 0 && ms % 3600000 == 0)
		snprintf(buf, len, "%lldh", ms / 3600000);
	else if (ms >= 60000 && ms % 60000 == 0)
		snprintf(buf, len, "%lldm", ms / 60000);
	else if (ms >= 1000 || ms == 0)
		snprintf(buf, len, "%gs", (double)ms / 1000);
	else
		snprintf(buf, len, "%lldms", ms);
	return buf;
}

int vr_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}
