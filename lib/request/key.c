#include "key.h"
#include "origin.h"
#include "status.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* lib/request/params' query names (long names and aliases) and the cache flags. */
static const char *const query_names[] = {
	"mode", "width", "height", "fit", "time", "duration", "fps", "quality", "compression",
	"bitrate", "audio", "format", "columns", "rows", "derivative", "w", "h", "obj-fit", "q",
	"f", "start", "dur", "mute", "imwidth", "imheight", "v", "nocache", "bypass", NULL,
};

int vr_key_query_name(const char *name, size_t n)
{
	for (const char *const *q = query_names; *q; q++)
		if (strlen(*q) == n && !memcmp(*q, name, n))
			return 1;
	return 0;
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

/* Split an http(s) URL's query: transform names and flags to ks->query,
 * the rest stays in the URL (it may select the origin's object). */
static int split_url(const char *url, struct vr_key_source *ks, char *err, size_t errlen)
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
			int ours = vr_key_query_name(p, namelen);
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
		if ((rc = split_url(source, ks, err, errlen)))
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
	struct vr_resolved local = {0};
	struct vr_resolved *r = res ? res : &local;
	struct vr_origin_params op = {.timeout = -1, .retries = -1};
	if ((rc = vr_origin_resolve(cfg, ks->locator, &op, r, err, errlen)))
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

int vr_key_make(const char *canonical_source, int64_t version, const char *params, char *out,
		size_t len)
{
	int n = snprintf(out, len, "vr1|%s|%lld|%s", canonical_source, (long long)version,
			 params && *params ? params : "raw");
	return n < 0 || (size_t)n >= len ? -1 : n;
}
