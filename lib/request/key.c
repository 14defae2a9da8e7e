#include "key.h"
#include "origin.h"
#include "log.h"
#include "num.h"
#include "params.h"
#include "status.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int vr_key_query_name(const char *name, size_t n)
{
	return vr_params_is_name(name, n); /* the one parameter table's names */
}

static int is_url(const char *s)
{
	return !strncmp(s, "http://", 7) || !strncmp(s, "https://", 8);
}

static int append(char *dst, size_t cap, const char *src, size_t n)
{
	size_t len = strlen(dst);
	if (len + n + 1 > cap)
		return -1;
	memcpy(dst + len, src, n);
	dst[len + n] = '\0';
	return 0;
}

/* Split an http(s) URL's query: transform names, flags and the names of
 * the ignore list to ks->query (which drops the last), the rest stays in
 * the URL (it may select the origin's object). */
static int split_url(const char *url, const char *ignore, struct vr_key_source *ks, char *err,
		     size_t errlen)
{
	const char *q = strchr(url, '?');
	const char *hash = strchr(url, '#');
	size_t base = q ? (size_t)(q - url) : hash ? (size_t)(hash - url) : strlen(url);
	ks->locator[0] = ks->query[0] = '\0';
	if (append(ks->locator, sizeof ks->locator, url, base) < 0)
		goto long_;
	if (!q)
		return 0;
	const char *p = q + 1, *end = hash && hash > q ? hash : q + strlen(q);
	int first = 1;
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *stop = amp ? amp : end;
		const char *eq = memchr(p, '=', (size_t)(stop - p));
		size_t namelen = (size_t)((eq ? eq : stop) - p);
		if (stop > p) {
			int ours = vr_key_query_name(p, namelen) ||
				   vr_params_ignored(ignore, p, namelen);
			char *dst = ours ? ks->query : ks->locator;
			size_t cap = ours ? sizeof ks->query : sizeof ks->locator;
			const char *sep = ours ? (ks->query[0] ? "&" : "") : (first ? "?" : "&");
			if (!ours)
				first = 0;
			if (append(dst, cap, sep, strlen(sep)) < 0 ||
			    append(dst, cap, p, (size_t)(stop - p)) < 0)
				goto long_;
		}
		p = amp ? amp + 1 : end;
	}
	return 0;
long_:
	snprintf(err, errlen, "source too long (at most %d bytes)", VR_KEY_SOURCE_MAX - 1);
	return VR_EUSAGE;
}

/* in without the "user:password@" of a URL's authority. */
static void strip_userinfo(const char *in, char *out, size_t len)
{
	const char *p = strstr(in, "://");
	if (p) {
		const char *host = p + 3;
		const char *at = memrchr(host, '@', strcspn(host, "/?#"));
		if (at) {
			snprintf(out, len, "%.*s%s", (int)(host - in), in, at + 1);
			return;
		}
	}
	snprintf(out, len, "%s", in);
}

static int unreserved(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

/* A request path as RFC 3986 compares it, and with one slash where there
 * were several: percent-encoded unreserved characters decoded, other
 * escapes with uppercase hex digits. out holds at least strlen(in) + 1. */
static void normalise_path(const char *in, char *out)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	for (size_t i = 0; in[i]; i++) {
		int hi, lo;
		if (in[i] == '/' && o && out[o - 1] == '/')
			continue;
		if (in[i] == '%' && (hi = vr_hex_digit(in[i + 1])) >= 0 &&
		    (lo = vr_hex_digit(in[i + 2])) >= 0) {
			int c = hi * 16 + lo;
			if (unreserved(c)) {
				out[o++] = (char)c;
			} else {
				out[o++] = '%';
				out[o++] = hex[hi];
				out[o++] = hex[lo];
			}
			i += 2;
			continue;
		}
		out[o++] = in[i];
	}
	out[o] = '\0';
}

/* The cache-busting v of a query: its value, decoded ('+' a space), then
 * with every byte but the unreserved ones as %XX, into v ("" when absent
 * or empty). 0, or VR_EDATA when given twice with different values or
 * longer than the key allows. */
static int cache_version(const char *query, char *v, size_t vlen, char *err, size_t errlen)
{
	static const char hex[] = "0123456789ABCDEF";
	v[0] = '\0';
	int seen = 0;
	for (const char *s = query; *s;) {
		size_t n = strcspn(s, "&");
		const char *eq = memchr(s, '=', n);
		size_t nl = eq ? (size_t)(eq - s) : n;
		if ((nl == 1 && s[0] == 'v') || (nl == 3 && !strncasecmp(s, "%76", 3))) {
			char raw[VR_KEY_VERSION_MAX], dec[VR_KEY_VERSION_MAX], enc[VR_KEY_VERSION_MAX];
			size_t vl = eq ? n - nl - 1 : 0;
			if (vl >= sizeof raw / 3)
				return vr_errf(err, errlen, VR_EDATA, "v: longer than %zu bytes",
					    sizeof raw / 3 - 1);
			memcpy(raw, eq ? eq + 1 : "", vl);
			raw[vl] = '\0';
			for (char *c = raw; *c; c++)
				if (*c == '+')
					*c = ' ';
			long dl = vr_percent_decode(raw, vl, dec, sizeof dec);
			size_t o = 0;
			for (long i = 0; i < dl; i++) {
				unsigned char c = (unsigned char)dec[i];
				if (unreserved(c)) {
					enc[o++] = (char)c;
				} else {
					enc[o++] = '%';
					enc[o++] = hex[c >> 4];
					enc[o++] = hex[c & 15];
				}
			}
			enc[o] = '\0';
			if (seen && strcmp(v, enc))
				return vr_errf(err, errlen, VR_EDATA,
					    "v: given twice with different values");
			seen = 1;
			snprintf(v, vlen, "%s", enc);
		}
		s += n;
		if (*s == '&')
			s++;
	}
	return 0;
}

int vr_key_source(const struct vr_config *cfg, const char *source, struct vr_key_source *ks,
		  struct vr_resolved *res, char *err, size_t errlen)
{
	memset(ks, 0, sizeof *ks);
	if (!source || !*source || !strcmp(source, "-")) {
		snprintf(err, errlen, "a cached SOURCE must be a path, URL or request path, not stdin");
		return VR_EUSAGE;
	}
	int rc;
	if (is_url(source)) {
		char ignore[VR_PARAMS_IGNORE_MAX];
		if ((rc = vr_params_ignore_load(cfg, ignore, sizeof ignore, err, errlen)) ||
		    (rc = split_url(source, ignore, ks, err, errlen)))
			return rc;
	} else {
		const char *q = strchr(source, '?');
		size_t n = q ? (size_t)(q - source) : strlen(source);
		if (n >= sizeof ks->locator || (q && strlen(q + 1) >= sizeof ks->query)) {
			snprintf(err, errlen, "source too long (at most %d bytes)",
				 VR_KEY_SOURCE_MAX - 1);
			return VR_EUSAGE;
		}
		memcpy(ks->locator, source, n);
		if (q)
			snprintf(ks->query, sizeof ks->query, "%s", q + 1);
	}
	if ((rc = cache_version(ks->query, ks->v, sizeof ks->v, err, errlen)))
		return rc;
	struct vr_resolved local = {0};
	struct vr_resolved *r = res ? res : &local;
	struct vr_origin_params op = {.timeout = -1, .retries = -1};
	if (!is_url(source)) {
		/* a request path of an origin in its normal form, so that
		 * spellings of one path are one key and one fetch; a local
		 * path (no origin matches) stays as written, its realpath
		 * is its canonical form */
		char norm[VR_KEY_SOURCE_MAX];
		normalise_path(ks->locator, norm);
		if (strcmp(norm, ks->locator)) {
			if ((rc = vr_origin_resolve(cfg, norm, &op, r, err, errlen)))
				return rc;
			if (r->origin)
				memcpy(ks->locator, norm, strlen(norm) + 1);
			else
				vr_resolved_free(r);
		}
	}
	if (!r->origin && (rc = vr_origin_resolve(cfg, ks->locator, &op, r, err, errlen)))
		return rc;
	if (r->origin) {
		snprintf(ks->origin, sizeof ks->origin, "%s", r->origin);
		int n = snprintf(ks->canonical, sizeof ks->canonical, "origin:%.32s:", r->origin);
		if (append(ks->canonical, sizeof ks->canonical, ks->locator, strlen(ks->locator)) < 0 ||
		    n < 0) {
			vr_resolved_free(r);
			snprintf(err, errlen, "source too long (at most %d bytes)", VR_KEY_SOURCE_MAX - 64);
			return VR_EUSAGE;
		}
	} else if (r->n == 1 && r->src[0].kind == VR_SOURCE_LOCAL) {
		char real[PATH_MAX];
		/* a missing file keeps its name: its failure is remembered too */
		const char *path = realpath(r->src[0].location, real) ? real : r->src[0].location;
		if (append(ks->canonical, sizeof ks->canonical, path, strlen(path)) < 0) {
			vr_resolved_free(r);
			snprintf(err, errlen, "source too long (at most %d bytes)", VR_KEY_SOURCE_MAX - 1);
			return VR_EUSAGE;
		}
	} else if (r->n == 1 && r->src[0].kind == VR_SOURCE_STDIN) {
		vr_resolved_free(r);
		snprintf(err, errlen, "a cached SOURCE must be a path, URL or request path, not stdin");
		return VR_EUSAGE;
	} else {
		/* a URL names its bytes without the user information: the same
		 * object under other credentials is the same entry, and no
		 * credential reaches a key (nor the tags, logs and listings
		 * that show keys) */
		strip_userinfo(ks->locator, ks->canonical, sizeof ks->canonical);
	}
	if (!res)
		vr_resolved_free(&local);
	return 0;
}

int vr_key_make(const char *canonical_source, int64_t version, const char *params,
		const char *v, char *out, size_t len)
{
	int n = snprintf(out, len, "vr1|%s|%lld|%s%s%s", canonical_source, (long long)version,
			 params && *params ? params : "raw", v && *v ? "&v=" : "", v && *v ? v : "");
	return n < 0 || (size_t)n >= len ? -1 : n;
}
