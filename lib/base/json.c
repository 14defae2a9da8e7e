#include "json.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void put(struct vr_json *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct vr_json *j, const char *fmt, ...)
{
	if (j->overflow)
		return;
	va_list ap;
	va_start(ap, fmt);
	int w = vsnprintf(j->buf + j->len, sizeof j->buf - j->len, fmt, ap);
	va_end(ap);
	if (w < 0 || (size_t)w >= sizeof j->buf - j->len) {
		j->overflow = 1;
		j->buf[j->len] = '\0';
		return;
	}
	j->len += (size_t)w;
}

size_t vr_json_escape(char *dst, size_t cap, const char *s, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char tmp[8];
		const char *rep = NULL;
		switch (c) {
		case '"': rep = "\\\""; break;
		case '\\': rep = "\\\\"; break;
		case '\n': rep = "\\n"; break;
		case '\r': rep = "\\r"; break;
		case '\t': rep = "\\t"; break;
		default:
			if (c < 0x20 || c == 0x7f) {
				snprintf(tmp, sizeof tmp, "\\u%04x", c);
				rep = tmp;
			}
		}
		size_t rl = rep ? strlen(rep) : 1;
		if (o + rl + 1 > cap)
			break;
		if (rep)
			memcpy(dst + o, rep, rl);
		else
			dst[o] = (char)c;
		o += rl;
	}
	if (cap)
		dst[o < cap ? o : cap - 1] = '\0';
	return o;
}

static void key(struct vr_json *j, const char *k)
{
	char esc[256];
	vr_json_escape(esc, sizeof esc, k, strlen(k));
	put(j, "%s\"%s\":", j->n++ ? "," : "", esc);
}

void vr_json_begin(struct vr_json *j)
{
	j->len = 0;
	j->n = 0;
	j->overflow = 0;
	j->buf[0] = '\0';
	put(j, "{");
}

static void json_strn(struct vr_json *j, const char *k, const char *v, size_t n)
{
	char esc[4096];
	key(j, k);
	vr_json_escape(esc, sizeof esc, v, n);
	put(j, "\"%s\"", esc);
}

void vr_json_str(struct vr_json *j, const char *k, const char *v)
{
	if (!v)
		vr_json_null(j, k);
	else
		json_strn(j, k, v, strlen(v));
}

void vr_json_int(struct vr_json *j, const char *k, int64_t v)
{
	key(j, k);
	put(j, "%" PRId64, v);
}

void vr_json_uint(struct vr_json *j, const char *k, uint64_t v)
{
	key(j, k);
	put(j, "%" PRIu64, v);
}

void vr_json_bool(struct vr_json *j, const char *k, int v)
{
	key(j, k);
	put(j, "%s", v ? "true" : "false");
}

void vr_json_null(struct vr_json *j, const char *k)
{
	key(j, k);
	put(j, "null");
}

void vr_json_raw(struct vr_json *j, const char *k, const char *raw)
{
	key(j, k);
	put(j, "%s", raw);
}

void vr_json_end(struct vr_json *j)
{
	put(j, "}");
}
