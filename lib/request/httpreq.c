/* The request of a CGI program and an HTTP origin's policy. See httpreq.h. */
#include "httpreq.h"
#include "config.h"
#include "log.h"
#include "num.h"
#include "status.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *var(char *(*get)(const char *), const char *name)
{
	const char *v = get(name);
	return v && *v ? v : NULL;
}

/* Percent-decode s[0..n) into out: -1 for a malformed escape or a result
 * that does not fit. plus: '+' is a space (a query value). */
static int decode(const char *s, size_t n, char *out, size_t len, int plus)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (ch == '%') {
			if (i + 2 >= n)
				return -1;
			int a = vr_hex_digit(s[i + 1]), b = vr_hex_digit(s[i + 2]);
			if (a < 0 || b < 0)
				return -1;
			ch = (char)(a * 16 + b);
			i += 2;
		} else if (plus && ch == '+') {
			ch = ' ';
		}
		if (o + 1 >= len)
			return -1;
		out[o++] = ch;
	}
	out[o] = '\0';
	return (int)o;
}

/* A path a client may ask for: absolute, no dot segment, nothing that
 * would read as a query, a fragment or a control character. */
static int path_ok(const char *p, size_t n)
{
	if (n == 0 || p[0] != '/')
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)p[i];
		if (ch < 0x20 || ch == 0x7f || ch == '?' || ch == '#' || ch == '\\')
			return 0;
		if (ch == '/' && i + 1 < n && p[i + 1] == '.') {
			size_t k = i + 2;
			if (k < n && p[k] == '.')
				k++;
			if (k == n || p[k] == '/')
				return 0;
		}
	}
	return 1;
}

static int read_path(struct vr_cgi_request *r, char *(*get)(const char *), char *err,
		     size_t errlen)
{
	char raw[VR_CGI_PATH_MAX];
	const char *uri = var(get, "REQUEST_URI");
	if (uri) {
		size_t n = strcspn(uri, "?#");
		if (n >= sizeof raw)
			return vr_errf(err, errlen, VR_EUSAGE, "the request path is too long");
		memcpy(raw, uri, n);
		raw[n] = '\0';
	} else {
		const char *sn = var(get, "SCRIPT_NAME"), *pi = var(get, "PATH_INFO");
		if ((size_t)snprintf(raw, sizeof raw, "%s%s", sn ? sn : "", pi ? pi : "") >= sizeof raw)
			return vr_errf(err, errlen, VR_EUSAGE, "the request path is too long");
	}
	int n = decode(raw, strlen(raw), r->path, sizeof r->path, 0);
	if (n < 0)
		return vr_errf(err, errlen, VR_EUSAGE, "the request path has a bad percent-encoding");
	if ((size_t)n != strlen(r->path) || !path_ok(r->path, (size_t)n))
		return vr_errf(err, errlen, VR_EUSAGE, "the request path is not a plain absolute path");
	return 0;
}

/* QUERY_STRING without its filename parameter, which goes to r->filename. */
static int read_query(struct vr_cgi_request *r, char *(*get)(const char *), char *err,
		      size_t errlen)
{
	const char *q = var(get, "QUERY_STRING");
	size_t o = 0;
	while (q && *q) {
		size_t n = strcspn(q, "&");
		if (n >= 9 && !strncmp(q, "filename=", 9)) {
			if (decode(q + 9, n - 9, r->filename, sizeof r->filename, 1) < 0)
				return vr_errf(err, errlen, VR_EUSAGE,
					       "the filename parameter is malformed or too long");
		} else if (n) {
			if (o + n + 2 > sizeof r->query)
				return vr_errf(err, errlen, VR_EUSAGE, "the query is too long");
			if (o)
				r->query[o++] = '&';
			memcpy(r->query + o, q, n);
			o += n;
		}
		q += n;
		if (*q == '&')
			q++;
	}
	r->query[o] = '\0';
	return 0;
}

int vr_cgi_read(struct vr_cgi_request *r, char *(*get)(const char *name), char *err,
		size_t errlen)
{
	memset(r, 0, sizeof *r);
	r->method = var(get, "REQUEST_METHOD");
	if (!r->method)
		return vr_errf(err, errlen, VR_EUSAGE,
			       "REQUEST_METHOD is not set: not run as a CGI program");
	r->range = var(get, "HTTP_RANGE");
	r->cond.if_match = var(get, "HTTP_IF_MATCH");
	r->cond.if_none_match = var(get, "HTTP_IF_NONE_MATCH");
	r->cond.if_modified_since = var(get, "HTTP_IF_MODIFIED_SINCE");
	r->cond.if_unmodified_since = var(get, "HTTP_IF_UNMODIFIED_SINCE");
	r->cond.if_range = var(get, "HTTP_IF_RANGE");
	r->origin = var(get, "HTTP_ORIGIN");
	r->cache_control = var(get, "HTTP_CACHE_CONTROL");
	r->preflight_method = var(get, "HTTP_ACCESS_CONTROL_REQUEST_METHOD");
	int rc = read_path(r, get, err, errlen);
	return rc ? rc : read_query(r, get, err, errlen);
}

/* ---- policy ---- */

static int yes_no(const struct vr_config *cfg, const char *key, int *out, char *err, size_t errlen)
{
	return vr_config_yes_no(cfg, "http", NULL, key, out, err, errlen);
}

int vr_http_policy_load(struct vr_http_policy *p, const struct vr_config *cfg, char *err,
			size_t errlen)
{
	static const char *const known[] = {"cors-origins", "cors-max-age", "allow-bypass",
					    "cache-key-header", NULL};
	memset(p, 0, sizeof *p);
	p->cors_max_age = 86400;
	if (!cfg)
		return 0;
	int rc = vr_config_check_keys(cfg, "http", NULL, known, err, errlen);
	if (!rc)
		rc = vr_config_seconds(cfg, "http", NULL, "cors-max-age", &p->cors_max_age, err,
				       errlen);
	if (!rc)
		rc = yes_no(cfg, "allow-bypass", &p->allow_bypass, err, errlen);
	if (!rc)
		rc = yes_no(cfg, "cache-key-header", &p->key_header, err, errlen);
	const char *o = vr_config_get(cfg, "http", NULL, "cors-origins");
	if (!rc && o && (size_t)snprintf(p->cors_origins, sizeof p->cors_origins, "%s", o) >=
				sizeof p->cors_origins)
		rc = vr_errf(err, errlen, VR_EDATA, "%s: [http] cors-origins is too long",
			     vr_config_where(cfg, "http", NULL, "cors-origins"));
	return rc;
}

/* Is origin in the list (exact, ASCII case-insensitive as origins are)? */
static int origin_listed(const char *list, const char *origin)
{
	size_t on = strlen(origin);
	while (*list) {
		list += strspn(list, " ,\t");
		size_t n = strcspn(list, " ,\t");
		if (n == 1 && *list == '*')
			return 1;
		if (n && n == on && !strncasecmp(list, origin, n))
			return 1;
		list += n;
	}
	return 0;
}

void vr_http_cors(char *buf, size_t len, const struct vr_http_policy *p, const char *origin)
{
	buf[0] = '\0';
	if (!origin || !p->cors_origins[0] || !origin_listed(p->cors_origins, origin))
		return;
	int any = !strcmp(p->cors_origins, "*");
	/* a cache in between must keep answers for different origins apart */
	snprintf(buf, len,
		 "Access-Control-Allow-Origin: %s\r\n"
		 "Access-Control-Expose-Headers: Content-Range, Content-Length, Accept-Ranges, "
		 "ETag, Last-Modified, Cache-Status\r\n%s",
		 any ? "*" : origin, any ? "" : "Vary: Origin\r\n");
	/* an origin with a CR or LF could split the head: never echoed */
	if (strpbrk(origin, "\r\n"))
		buf[0] = '\0';
}

int vr_http_no_cache(const char *cc)
{
	while (cc && *cc) {
		cc += strspn(cc, " ,\t");
		size_t n = strcspn(cc, " ,\t");
		if ((n == 8 && !strncasecmp(cc, "no-cache", 8)) ||
		    (n == 8 && !strncasecmp(cc, "no-store", 8)) ||
		    (n == 9 && !strncasecmp(cc, "max-age=0", 9)))
			return 1;
		cc += n;
	}
	return 0;
}

static const char *extension(const char *content_type)
{
	static const struct {
		const char *type, *ext;
	} map[] = {
		{"video/mp4", "mp4"},   {"video/webm", "webm"}, {"image/jpeg", "jpg"},
		{"image/png", "png"},   {"image/webp", "webp"}, {"audio/mp4", "m4a"},
		{"video/quicktime", "mov"}, {"video/x-matroska", "mkv"}, {"audio/mpeg", "mp3"},
	};
	for (size_t i = 0; i < sizeof map / sizeof *map; i++)
		if (content_type && !strncasecmp(content_type, map[i].type, strlen(map[i].type)))
			return map[i].ext;
	return "bin";
}

void vr_http_content_disposition(char *buf, size_t len, const char *name,
				 const char *content_type)
{
	buf[0] = '\0';
	if (!name || !*name)
		return;
	/* the last path segment, without its extension */
	const char *base = name;
	for (const char *s = name; *s; s++)
		if (*s == '/' || *s == '\\')
			base = s + 1;
	size_t n = strlen(base);
	const char *dot = strrchr(base, '.');
	if (dot && dot != base)
		n = (size_t)(dot - base);
	char ascii[VR_CGI_FILENAME_MAX], utf8[3 * VR_CGI_FILENAME_MAX + 1];
	size_t a = 0, u = 0;
	for (size_t i = 0; i < n && a + 1 < sizeof ascii; i++) {
		unsigned char ch = (unsigned char)base[i];
		ascii[a++] = isalnum(ch) || ch == '.' || ch == '-' || ch == '_' ? (char)ch : '_';
		if (ch < 0x20 || ch == 0x7f)
			continue; /* never in filename* either */
		if (isalnum(ch) || strchr("!#$&+-.^_`|~", ch))
			utf8[u++] = (char)ch;
		else
			u += (size_t)snprintf(utf8 + u, sizeof utf8 - u, "%%%02X", ch);
	}
	ascii[a] = '\0';
	utf8[u] = '\0';
	if (!a || strspn(ascii, "._") == a)
		snprintf(ascii, sizeof ascii, "video");
	const char *ext = extension(content_type);
	snprintf(buf, len, "Content-Disposition: attachment; filename=\"%s.%s\"%s%s%s%s\r\n", ascii,
		 ext, u ? "; filename*=UTF-8''" : "", u ? utf8 : "", u ? "." : "", u ? ext : "");
}
