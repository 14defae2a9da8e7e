#include "origin.h"
#include "lifecycle.h"
#include "log.h"
#include "config.h"
#include "defaults.h"
#include "num.h"
#include "sigv4.h"
#include "status.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define TEMPLATE_MAX 8192 /* an expanded path, URL or header line */

static char *xstrdup(const char *s)
{
	char *d = strdup(s);
	if (!d)
		vr_oom();
	return d;
}

static int is_name_start(char c) { return isalpha((unsigned char)c) || c == '_'; }
static int is_name_char(char c) { return isalnum((unsigned char)c) || c == '_'; }

/* ---- templates ---- */


long vr_percent_decode(const char *in, size_t n, char *out, size_t outlen)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		char c = in[i];
		if (c == '%' && i + 2 < n) {
			int hi = vr_hex_digit(in[i + 1]), lo = vr_hex_digit(in[i + 2]);
			if (hi >= 0 && lo >= 0 && (hi | lo) != 0) {
				c = (char)(hi * 16 + lo);
				i += 2;
			}
		}
		if (o + 1 >= outlen)
			return -1;
		out[o++] = c;
	}
	if (outlen == 0)
		return -1;
	out[o] = '\0';
	return (long)o;
}

/* Characters a URL path may carry as they are: unreserved, sub-delims,
 * ':', '@', '/' and '%' (captures may already be percent-encoded). */
static int url_safe(unsigned char c)
{
	return isalnum(c) || strchr("-._~!$&'()*+,;=:@/%", c) != NULL;
}

struct sink {
	char *out;
	size_t len, cap;
	int overflow;
};

static void sink_put(struct sink *s, const char *p, size_t n, int flags)
{
	static const char hex[] = "0123456789ABCDEF";
	char tmp[TEMPLATE_MAX];
	if (flags & VR_EXPAND_PCT_DECODE) {
		long d = vr_percent_decode(p, n, tmp, sizeof tmp);
		if (d < 0) {
			s->overflow = 1;
			return;
		}
		p = tmp;
		n = (size_t)d;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if ((flags & VR_EXPAND_URL_ENCODE) && !url_safe(c)) {
			if (s->len + 3 >= s->cap) {
				s->overflow = 1;
				return;
			}
			s->out[s->len++] = '%';
			s->out[s->len++] = hex[c >> 4];
			s->out[s->len++] = hex[c & 15];
			continue;
		}
		if ((flags & VR_EXPAND_KEEP_ENV) && c == '$') {
			if (s->len + 2 >= s->cap) {
				s->overflow = 1;
				return;
			}
			s->out[s->len++] = '$';
			s->out[s->len++] = '$';
			continue;
		}
		if (s->len + 1 >= s->cap) {
			s->overflow = 1;
			return;
		}
		s->out[s->len++] = (char)c;
	}
}

static int put_group(struct sink *s, size_t g, const struct vr_pattern *p, const char *subject,
		     const regmatch_t *m, int flags, const char *tmpl, char *err, size_t errlen)
{
	size_t ngroups = p ? p->ngroups : 0;
	if (!p || !m || !subject || g > ngroups)
		return vr_errf(err, errlen, -1, "template '%s': no group %zu (the match has %zu%s)", tmpl, g,
			     ngroups,
			     p && p->noncapturing ? "; (?:...) groups take no number" : "");
	if (m[g].rm_so >= 0)
		sink_put(s, subject + m[g].rm_so, (size_t)(m[g].rm_eo - m[g].rm_so),
			 flags & (VR_EXPAND_URL_ENCODE | VR_EXPAND_PCT_DECODE | VR_EXPAND_KEEP_ENV));
	return 0;
}

int vr_template_expand(const char *tmpl, const struct vr_pattern *p, const char *subject,
		       const regmatch_t *m, int flags, char *out, size_t outlen, char *err,
		       size_t errlen)
{
	struct sink s = {.out = out, .cap = outlen};
	if (outlen == 0)
		return vr_errf(err, errlen, -1, "template '%s': no room", tmpl);
	for (const char *t = tmpl; *t;) {
		const char *dollar = strchr(t, '$');
		size_t lit = dollar ? (size_t)(dollar - t) : strlen(t);
		sink_put(&s, t, lit, 0);
		t += lit;
		if (!*t)
			break;
		/* at a '$' */
		if (t[1] == '$') {
			sink_put(&s, "$", 1, flags & VR_EXPAND_KEEP_ENV);
			t += 2;
		} else if (isdigit((unsigned char)t[1])) {
			if (put_group(&s, (size_t)(t[1] - '0'), p, subject, m, flags, tmpl, err, errlen) < 0)
				return VR_EXPAND_BAD;
			t += 2;
		} else if (t[1] == '{') {
			const char *a = t + 2, *close = strchr(a, '}');
			if (!close)
				return vr_errf(err, errlen, -1, "template '%s': unclosed '${'", tmpl);
			size_t n = (size_t)(close - a);
			if (n > 4 && !strncmp(a, "env:", 4)) {
				char var[256];
				if (!(flags & (VR_EXPAND_ENV | VR_EXPAND_KEEP_ENV)))
					return vr_errf(err, errlen, -1,
						     "template '%s': ${env:...} is only allowed in header values",
						     tmpl);
				if (n - 4 >= sizeof var || !is_name_start(a[4]))
					return vr_errf(err, errlen, -1, "template '%s': bad variable name in '%.*s'",
						     tmpl, (int)(n + 3), t);
				memcpy(var, a + 4, n - 4);
				var[n - 4] = '\0';
				for (size_t i = 0; var[i]; i++)
					if (!is_name_char(var[i]))
						return vr_errf(err, errlen, -1,
							     "template '%s': bad variable name '%s'", tmpl, var);
				if (flags & VR_EXPAND_KEEP_ENV) {
					/* read when a request is made (vr_source_headers) */
					sink_put(&s, t, (size_t)(close + 1 - t), 0);
					t = close + 1;
					continue;
				}
				const char *v = getenv(var);
				if (!v) {
					vr_errf(err, errlen, -1, "environment variable %s is not set (used in '%s')", var,
					      tmpl);
					return VR_EXPAND_UNSET;
				}
				sink_put(&s, v, strlen(v), 0);
			} else if (n > 0 && strspn(a, "0123456789") == n) {
				size_t g = 0;
				for (size_t i = 0; i < n && g <= VR_ORIGIN_MAX_GROUPS; i++)
					g = g * 10 + (size_t)(a[i] - '0');
				if (put_group(&s, g, p, subject, m, flags, tmpl, err, errlen) < 0)
					return VR_EXPAND_BAD;
			} else if (n > 0 && is_name_start(a[0])) {
				size_t g = vr_pattern_group(p, a, n);
				if (!g)
					return vr_errf(err, errlen, -1, "template '%s': no group named '%.*s'", tmpl,
						     (int)n, a);
				if (put_group(&s, g, p, subject, m, flags, tmpl, err, errlen) < 0)
					return VR_EXPAND_BAD;
			} else {
				return vr_errf(err, errlen, -1, "template '%s': '${%.*s}' is not a group or ${env:NAME}",
					     tmpl, (int)n, a);
			}
			t = close + 1;
		} else {
			return vr_errf(err, errlen, -1, "template '%s': stray '$' (write $$ for a dollar sign)", tmpl);
		}
	}
	if (s.overflow)
		return vr_errf(err, errlen, -1, "template '%s': result longer than %zu bytes", tmpl, outlen - 1);
	out[s.len] = '\0';
	return 0;
}

void vr_template_root(const char *tmpl, char *out, size_t outlen)
{
	const char *dollar = strchr(tmpl, '$');
	size_t lit = dollar ? (size_t)(dollar - tmpl) : strlen(tmpl);
	size_t slash = lit;
	while (slash > 0 && tmpl[slash - 1] != '/')
		slash--;
	if (slash == 0) {
		snprintf(out, outlen, ".");
		return;
	}
	/* drop the trailing '/' (and repeated ones), keeping "/" itself */
	size_t n = slash;
	while (n > 1 && tmpl[n - 1] == '/')
		n--;
	snprintf(out, outlen, "%.*s", (int)n, tmpl);
}

int vr_header_check(const char *line, char *err, size_t errlen)
{
	const char *colon = strchr(line, ':');
	if (!colon || colon == line)
		return vr_errf(err, errlen, -1, "header '%s' is not 'Name: value'", line);
	for (const char *c = line; c < colon; c++)
		if (!isalnum((unsigned char)*c) && !strchr("!#$%&'*+-.^_`|~", *c))
			return vr_errf(err, errlen, -1, "header '%s': the name has a character not allowed in a token",
				     line);
	for (const char *c = colon + 1; *c; c++)
		if ((unsigned char)*c < 0x20 && *c != '\t')
			return vr_errf(err, errlen, -1, "header '%.*s': control character in the value",
				     (int)(colon - line), line);
	if (colon - line == 5 && !strncasecmp(line, "Range", 5))
		return vr_errf(err, errlen, -1, "header 'Range' is managed by vr-fetch; use -r/--range");
	return 0;
}

/* ---- confinement of local sources ---- */

static int inside(const char *path, const char *root)
{
	size_t n = strlen(root);
	if (!strcmp(root, "/"))
		return 1;
	return !strncmp(path, root, n) && (path[n] == '/' || path[n] == '\0');
}

int vr_origin_confine(const char *root, const char *path, char real[PATH_MAX], char *err,
		      size_t errlen)
{
	char rroot[PATH_MAX];
	if (!realpath(root, rroot)) {
		snprintf(err, errlen, "origin root %s: %s", root, strerror(errno));
		return VR_ENOTFOUND;
	}
	if (!realpath(path, real)) {
		int e = errno;
		snprintf(err, errlen, "%s", strerror(e));
		return e == ENOENT || e == ENOTDIR ? VR_ENOTFOUND : VR_EIO;
	}
	if (!inside(real, rroot)) {
		snprintf(err, errlen, "refused: resolves to %.480s, outside the origin root %.480s", real,
			 rroot);
		return VR_ENOTFOUND;
	}
	return 0;
}

/* ---- resolution ---- */

static struct vr_source *add_source(struct vr_resolved *r, enum vr_source_kind kind,
				    const char *location)
{
	struct vr_source *n = realloc(r->src, (r->n + 1) * sizeof *n);
	if (!n)
		vr_oom();
	r->src = n;
	struct vr_source *s = &r->src[r->n++];
	memset(s, 0, sizeof *s);
	s->kind = kind;
	s->location = xstrdup(location);
	return s;
}

/* Append one checked header line (CRLF added) to *acc; with escape, its
 * '$' written "$$" (a line already expanded, kept as a template: see
 * vr_source.headers). */
static int append_header(char **acc, const char *line, int escape, char *err, size_t errlen)
{
	if (vr_header_check(line, err, errlen) < 0)
		return -1;
	size_t old = *acc ? strlen(*acc) : 0, n = strlen(line), dollars = 0;
	for (size_t i = 0; escape && i < n; i++)
		dollars += line[i] == '$';
	char *a = realloc(*acc, old + n + dollars + 3);
	if (!a)
		vr_oom();
	char *w = a + old;
	for (size_t i = 0; i < n; i++) {
		*w++ = line[i];
		if (escape && line[i] == '$')
			*w++ = '$';
	}
	memcpy(w, "\r\n", 3);
	*acc = a;
	return 0;
}

/* Length of "scheme://" at s, or 0. */
static size_t scheme_len(const char *s)
{
	if (!isalpha((unsigned char)s[0]))
		return 0;
	size_t i = 1;
	while (isalnum((unsigned char)s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.')
		i++;
	return strncmp(s + i, "://", 3) ? 0 : i + 3;
}

static int has_prefix_ci(const char *s, const char *prefix)
{
	return !strncasecmp(s, prefix, strlen(prefix));
}

/* "file://[localhost]/path" -> "/path" (not decoded); NULL for another host. */
static const char *file_url_path(const char *url)
{
	const char *p = url + 7;
	if (*p == '/')
		return p;
	if (has_prefix_ci(p, "localhost/"))
		return p + 9;
	return NULL;
}

/* The keys each section may have: a misspelt one is an error, never a
 * silently ignored setting. */
static const char *const fetch_keys[] = {"timeout", "retries", NULL};
static const char *const origin_keys[] = {"match", "source", "root", "timeout", "retries", "header", "ttl-ok", "ttl-client-error", "ttl-server-error",
					  "quality", "compression", "s3-region", "s3-access-key",
					  "s3-secret-key", "s3-session-token", "s3-service", "s3-presign",
					  "ttl-bad-source", "fallback", "fallback-max-size", /* lib/cache/policy */
					  NULL};

static const char *cfg_name(const struct vr_config *cfg)
{
	const char *n = cfg ? vr_config_source(cfg) : NULL;
	return n ? n : "config";
}

static int config_timeout(const struct vr_config *cfg, const char *section, const char *sub,
			  double *out, char *err, size_t errlen)
{
	if (!cfg)
		return 0;
	if (vr_config_seconds(cfg, section, sub, "timeout", out, err, errlen) != 0)
		return -1;
	return 0;
}

static int config_retries(const struct vr_config *cfg, const char *section, const char *sub,
			  unsigned *out, char *err, size_t errlen)
{
	const char *v = cfg ? vr_config_get(cfg, section, sub, "retries") : NULL;
	uint64_t u;
	if (!v)
		return 0;
	if (vr_parse_u64(v, &u) < 0 || u > VR_ORIGIN_MAX_RETRIES)
		return vr_errf(err, errlen, -1, "%s: retries: '%s' is not a number from 0 to %u",
			     vr_config_where(cfg, section, sub, "retries"), v, VR_ORIGIN_MAX_RETRIES);
	*out = (unsigned)u;
	return 0;
}

/* ---- S3 signing settings ---- */

static void s3_auth_free(struct vr_s3_auth *a)
{
	if (!a)
		return;
	free(a->access_key);
	free(a->secret_key);
	free(a->session_token);
	free(a->region);
	free(a->service);
	free(a);
}

static struct vr_s3_auth *s3_auth_dup(const struct vr_s3_auth *a)
{
	struct vr_s3_auth *d = calloc(1, sizeof *d);
	if (!d)
		vr_oom();
	d->access_key = xstrdup(a->access_key);
	d->secret_key = xstrdup(a->secret_key);
	d->session_token = a->session_token ? xstrdup(a->session_token) : NULL;
	d->region = xstrdup(a->region);
	d->service = xstrdup(a->service);
	d->presign = a->presign;
	return d;
}

/* A credential key's value as a template for the time a request is
 * signed: ${env:NAME} kept, checked (the name, no captures, no stray
 * '$'), never expanded here. NULL with err when it is wrong; the message
 * quotes no value, which may be a secret written in the file. */
static char *s3_credential(const struct vr_config *cfg, const char *name, const char *key,
			   char *err, size_t errlen)
{
	const char *v = vr_config_get(cfg, "origin", name, key);
	char buf[TEMPLATE_MAX], why[512];
	if (!v || !*v) {
		vr_errf(err, errlen, -1, "%s: [origin \"%s\"] %s is %s", cfg_name(cfg), name, key,
		      v ? "empty" : "missing (s3-region, s3-access-key and s3-secret-key go together)");
		return NULL;
	}
	if (vr_template_expand(v, NULL, NULL, NULL, VR_EXPAND_KEEP_ENV, buf, sizeof buf, why,
			       sizeof why) < 0) {
		/* why quotes the template; say only what kind of mistake */
		const char *kind = strstr(why, "variable name") ? "a bad ${env:NAME}"
				   : strstr(why, "unclosed")    ? "an unclosed '${'"
				   : strstr(why, "longer")	 ? "a value too long"
								 : "a '$' that is neither ${env:NAME} nor $$";
		vr_errf(err, errlen, -1, "%s: %s has %s", vr_config_where(cfg, "origin", name, key), key, kind);
		return NULL;
	}
	return xstrdup(buf);
}

/* A region or service name: letters, digits, '-' and '_'. */
static int s3_token(const char *v)
{
	if (!v || !*v || strlen(v) > 64)
		return 0;
	for (const char *c = v; *c; c++)
		if (!isalnum((unsigned char)*c) && *c != '-' && *c != '_')
			return 0;
	return 1;
}

/* The [origin "NAME"] s3-* keys: *out NULL when there are none. 0 or -1
 * with err. */
static int config_s3(const struct vr_config *cfg, const char *name, struct vr_s3_auth **out,
		     char *err, size_t errlen)
{
	static const char *const keys[] = {"s3-region", "s3-access-key", "s3-secret-key",
					   "s3-session-token", "s3-service", "s3-presign"};
	int any = 0;
	*out = NULL;
	for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
		any |= vr_config_get(cfg, "origin", name, keys[i]) != NULL;
	if (!any)
		return 0;
	struct vr_s3_auth *a = calloc(1, sizeof *a);
	if (!a)
		vr_oom();
	const char *region = vr_config_get(cfg, "origin", name, "s3-region");
	const char *service = vr_config_get(cfg, "origin", name, "s3-service");
	if (!region) {
		vr_errf(err, errlen, -1, "%s: [origin \"%s\"] s3-region is missing (s3-region, s3-access-key "
		      "and s3-secret-key go together)", cfg_name(cfg), name);
		goto fail;
	}
	if (!s3_token(region)) {
		vr_errf(err, errlen, -1, "%s: s3-region: '%s' is not a region name (letters, digits, '-')",
		      vr_config_where(cfg, "origin", name, "s3-region"), region);
		goto fail;
	}
	if (service && !s3_token(service)) {
		vr_errf(err, errlen, -1, "%s: s3-service: '%s' is not a service name (letters, digits, '-')",
		      vr_config_where(cfg, "origin", name, "s3-service"), service);
		goto fail;
	}
	a->region = xstrdup(region);
	a->service = xstrdup(service ? service : "s3");
	if (!(a->access_key = s3_credential(cfg, name, "s3-access-key", err, errlen)) ||
	    !(a->secret_key = s3_credential(cfg, name, "s3-secret-key", err, errlen)))
		goto fail;
	if (vr_config_get(cfg, "origin", name, "s3-session-token") &&
	    !(a->session_token = s3_credential(cfg, name, "s3-session-token", err, errlen)))
		goto fail;
	const char *ps = vr_config_get(cfg, "origin", name, "s3-presign");
	if (ps) {
		double sec = 0;
		if (vr_parse_seconds(ps, &sec) < 0 || sec < 1 || sec > VR_SIGV4_PRESIGN_MAX) {
			vr_errf(err, errlen, -1, "%s: s3-presign: '%s' is not a lifetime from 1s to 7d (%u s)",
			      vr_config_where(cfg, "origin", name, "s3-presign"), ps, VR_SIGV4_PRESIGN_MAX);
			goto fail;
		}
		a->presign = (unsigned)sec;
	}
	*out = a;
	return 0;
fail:
	s3_auth_free(a);
	return -1;
}

/* -H values; errors are usage errors. */
static int expand_cli_headers(const struct vr_origin_params *pp, char **acc, char *err,
			      size_t errlen)
{
	char line[TEMPLATE_MAX], why[512];
	for (size_t i = 0; pp && i < pp->nheaders; i++) {
		if (vr_template_expand(pp->headers[i], NULL, NULL, NULL, VR_EXPAND_ENV, line, sizeof line,
				       why, sizeof why) < 0)
			return vr_errf(err, errlen, -1, "--header: %s", why);
		if (append_header(acc, line, 1, why, sizeof why) < 0)
			return vr_errf(err, errlen, -1, "--header: %s", why);
	}
	return 0;
}

/* The sources of origin `name`, whose compiled pattern matched `path`.
 * Returns 0, VR_EDATA (a bad config value) or VR_EUSAGE (-H). The
 * headers' ${env:NAME} stay for vr_source_headers. */
static int resolve_origin(const struct vr_config *cfg, const char *name, const struct vr_pattern *pat,
			  const char *path, const regmatch_t *m, const struct vr_origin_params *pp,
			  double timeout, unsigned retries, struct vr_resolved *out, char *err,
			  size_t errlen)
{
	char buf[TEMPLATE_MAX], why[512];
	char *headers = NULL;
	const char *tmpl;
	int rc = VR_EDATA;

	struct vr_s3_auth *s3 = NULL;
	if (config_timeout(cfg, "origin", name, &timeout, err, errlen) < 0 ||
	    config_retries(cfg, "origin", name, &retries, err, errlen) < 0 ||
	    config_s3(cfg, name, &s3, err, errlen) < 0)
		return VR_EDATA;
	for (size_t i = 0; (tmpl = vr_config_get_nth(cfg, "origin", name, "header", i)); i++) {
		if (vr_template_expand(tmpl, pat, path, m, VR_EXPAND_KEEP_ENV, buf, sizeof buf, why,
				       sizeof why) < 0 ||
		    append_header(&headers, buf, 0, why, sizeof why) < 0) {
			vr_errf(err, errlen, -1, "%s: [origin \"%s\"] header: %s", cfg_name(cfg), name, why);
			goto out;
		}
	}
	int cfg_headers = headers != NULL;
	if (expand_cli_headers(pp, &headers, err, errlen) < 0) {
		rc = VR_EUSAGE;
		goto out;
	}
	const char *root = vr_config_get(cfg, "origin", name, "root");
	out->origin = xstrdup(name);
	for (size_t i = 0; (tmpl = vr_config_get_nth(cfg, "origin", name, "source", i)); i++) {
		if (i == VR_ORIGIN_MAX_SOURCES) {
			vr_errf(err, errlen, -1, "%s: [origin \"%s\"]: more than %d sources", cfg_name(cfg),
			      name, VR_ORIGIN_MAX_SOURCES);
			goto out;
		}
		size_t sl = scheme_len(tmpl);
		int http = sl && (has_prefix_ci(tmpl, "http://") || has_prefix_ci(tmpl, "https://"));
		const char *ltmpl = tmpl;
		if (sl && !http) {
			if (!has_prefix_ci(tmpl, "file://") || !(ltmpl = file_url_path(tmpl))) {
				vr_errf(err, errlen, -1, "%s: [origin \"%s\"] source '%s': only http, https and "
				      "file:///path sources are supported", cfg_name(cfg), name, tmpl);
				goto out;
			}
		}
		int flags = http ? VR_EXPAND_URL_ENCODE : VR_EXPAND_PCT_DECODE;
		if (vr_template_expand(ltmpl, pat, path, m, flags, buf, sizeof buf, why, sizeof why) < 0) {
			vr_errf(err, errlen, -1, "%s: [origin \"%s\"] source: %s", cfg_name(cfg), name, why);
			goto out;
		}
		if (!http && !buf[0]) {
			vr_errf(err, errlen, -1, "%s: [origin \"%s\"] source '%s' expands to an empty path",
			      cfg_name(cfg), name, tmpl);
			goto out;
		}
		struct vr_source *s = add_source(out, http ? VR_SOURCE_HTTP : VR_SOURCE_LOCAL, buf);
		s->timeout = timeout;
		s->retries = retries;
		if (http) {
			s->headers = headers ? xstrdup(headers) : NULL;
			s->s3 = s3 ? s3_auth_dup(s3) : NULL;
			if (cfg_headers || s3) {
				char where[600];
				snprintf(where, sizeof where, "%s: [origin \"%s\"]", cfg_name(cfg), name);
				s->where = xstrdup(where);
			}
		} else {
			char def[TEMPLATE_MAX];
			vr_template_root(ltmpl, def, sizeof def);
			s->root = xstrdup(root ? root : def);
		}
	}
	if (out->n == 0) {
		vr_errf(err, errlen, -1, "%s: [origin \"%s\"] has no source", cfg_name(cfg), name);
		goto out;
	}
	rc = 0;
out:
	free(headers);
	s3_auth_free(s3);
	return rc;
}

int vr_origin_resolve(const struct vr_config *cfg, const char *source,
		      const struct vr_origin_params *pp, struct vr_resolved *out, char *err,
		      size_t errlen)
{
	double timeout = 0;
	uint64_t dflt_retries = 0;
	/* the defaults from their one home, parsed as an argument would be */
	vr_parse_seconds(VR_DEFAULT_FETCH_TIMEOUT, &timeout);
	vr_parse_u64(VR_DEFAULT_FETCH_RETRIES, &dflt_retries);
	unsigned retries = (unsigned)dflt_retries;
	char *headers = NULL;
	int rc = VR_EUSAGE;

	memset(out, 0, sizeof *out);
	if (!source || !*source) {
		vr_errf(err, errlen, -1, "empty SOURCE");
		return VR_EUSAGE;
	}
	if ((cfg && vr_config_check_keys(cfg, "fetch", NULL, fetch_keys, err, errlen)) ||
	    config_timeout(cfg, "fetch", NULL, &timeout, err, errlen) < 0 ||
	    config_retries(cfg, "fetch", NULL, &retries, err, errlen) < 0) {
		rc = VR_EDATA;
		goto fail;
	}
	size_t sl = scheme_len(source);
	if (sl && (has_prefix_ci(source, "http://") || has_prefix_ci(source, "https://"))) {
		if (expand_cli_headers(pp, &headers, err, errlen) < 0)
			goto fail;
		struct vr_source *s = add_source(out, VR_SOURCE_HTTP, source);
		s->headers = headers;
		headers = NULL;
	} else if (sl && has_prefix_ci(source, "file://")) {
		const char *p = file_url_path(source);
		char path[TEMPLATE_MAX];
		if (!p) {
			vr_errf(err, errlen, -1, "%s: only file:///path (or file://localhost/path) is supported",
			      source);
			goto fail;
		}
		if (vr_percent_decode(p, strlen(p), path, sizeof path) < 0) {
			vr_errf(err, errlen, -1, "%s: path too long", source);
			goto fail;
		}
		if (expand_cli_headers(pp, &headers, err, errlen) < 0)
			goto fail;
		add_source(out, VR_SOURCE_LOCAL, path);
	} else if (sl) {
		vr_errf(err, errlen, -1, "%s: unsupported scheme '%.*s' (http, https and file only)", source,
		      (int)(sl - 3), source);
		goto fail;
	} else if (!strcmp(source, "-")) {
		if (expand_cli_headers(pp, &headers, err, errlen) < 0)
			goto fail;
		add_source(out, VR_SOURCE_STDIN, "-");
	} else {
		/* an origin's request path, else a local path */
		const char *names[256];
		size_t nn = cfg ? vr_config_names(cfg, "origin", names, 256) : 0;
		if (nn > 256) {
			vr_errf(err, errlen, -1, "more than 256 [origin] sections");
			rc = VR_EDATA;
			goto fail;
		}
		const char *q = strchr(source, '?');
		size_t plen = q ? (size_t)(q - source) : strlen(source);
		char *path = malloc(plen + 1);
		if (!path)
			vr_oom();
		memcpy(path, source, plen);
		path[plen] = '\0';
		int matched = 0;
		for (size_t i = 0; i < nn && !matched; i++) {
			const char *re = vr_config_get(cfg, "origin", names[i], "match");
			struct vr_pattern pat;
			regmatch_t m[VR_ORIGIN_MAX_GROUPS + 1];
			char why[512];
			if (vr_config_check_keys(cfg, "origin", names[i], origin_keys, err, errlen)) {
				free(path);
				rc = VR_EDATA;
				goto fail;
			}
			if (!re) {
				vr_errf(err, errlen, -1, "%s: [origin \"%s\"] has no 'match' regex", cfg_name(cfg),
				      names[i]);
				free(path);
				rc = VR_EDATA;
				goto fail;
			}
			if (vr_pattern_compile(&pat, re, why, sizeof why) < 0) {
				vr_errf(err, errlen, -1, "%s: match: %s",
				      vr_config_where(cfg, "origin", names[i], "match"), why);
				free(path);
				rc = VR_EDATA;
				goto fail;
			}
			int hit = vr_pattern_exec(&pat, path, m, why, sizeof why);
			if (hit < 0) {
				/* the regex of the config is what a careless path
				 * makes explode: a config error, not a silent miss
				 * that would fall through to the next origin */
				vr_errf(err, errlen, -1, "%s: match: regex '%s': %s",
				      vr_config_where(cfg, "origin", names[i], "match"), re, why);
				vr_pattern_free(&pat);
				free(path);
				rc = VR_EDATA;
				goto fail;
			}
			if (hit) {
				matched = 1;
				int r = resolve_origin(cfg, names[i], &pat, path, m, pp, timeout, retries,
						       out, err, errlen);
				vr_pattern_free(&pat);
				if (r) {
					free(path);
					rc = r;
					goto fail;
				}
			} else {
				vr_pattern_free(&pat);
			}
		}
		free(path);
		if (!matched) {
			if (expand_cli_headers(pp, &headers, err, errlen) < 0)
				goto fail;
			add_source(out, VR_SOURCE_LOCAL, source);
		}
	}
	for (size_t i = 0; i < out->n; i++) {
		if (!out->origin) { /* named directly: the [fetch] defaults */
			out->src[i].timeout = timeout;
			out->src[i].retries = retries;
		}
		/* the command line wins over the config */
		if (pp && pp->timeout >= 0)
			out->src[i].timeout = pp->timeout;
		if (pp && pp->retries >= 0)
			out->src[i].retries = (unsigned)pp->retries;
	}
	free(headers);
	return 0;
fail:
	free(headers);
	vr_resolved_free(out);
	return rc;
}

void vr_resolved_free(struct vr_resolved *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->src[i].location);
		free(r->src[i].root);
		free(r->src[i].headers);
		free(r->src[i].where);
		s3_auth_free(r->src[i].s3);
	}
	free(r->src);
	free(r->origin);
	memset(r, 0, sizeof *r);
}

int vr_source_headers(const struct vr_source *s, char **out, char *err, size_t errlen)
{
	char tmpl[TEMPLATE_MAX], line[TEMPLATE_MAX], why[512];
	*out = NULL;
	for (const char *p = s->headers; p && *p;) {
		const char *eol = strstr(p, "\r\n");
		size_t n = eol ? (size_t)(eol - p) : strlen(p);
		if (n >= sizeof tmpl) {
			snprintf(why, sizeof why, "a line longer than %zu bytes", sizeof tmpl - 1);
			goto bad;
		}
		memcpy(tmpl, p, n);
		tmpl[n] = '\0';
		p += n + (eol ? 2 : 0);
		/* the name was checked when resolved; the value may only now
		 * hold what the environment gave */
		if (vr_template_expand(tmpl, NULL, NULL, NULL, VR_EXPAND_ENV, line, sizeof line, why,
				       sizeof why) < 0 ||
		    append_header(out, line, 0, why, sizeof why) < 0)
			goto bad;
	}
	return 0;
bad:
	free(*out);
	*out = NULL;
	if (s->where)
		snprintf(err, errlen, "%s header: %s", s->where, why);
	else
		snprintf(err, errlen, "header: %s", why);
	return VR_EDATA;
}

/* Query parameters of a presigned URL that carry credentials (the access
 * key id, the signature, a session token). */
static int secret_param(const char *p, size_t n)
{
	static const char *const names[] = {"X-Amz-Credential", "X-Amz-Signature",
					    "X-Amz-Security-Token"};
	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		if (n == strlen(names[i]) && !strncasecmp(p, names[i], n))
			return 1;
	return 0;
}

const char *vr_url_redact(const char *in, char *out, size_t outlen)
{
	struct sink s = {.out = out, .cap = outlen};
	const char *p = strstr(in, "://"), *q;
	if (!outlen)
		return out;
	if (p) {
		const char *host = p + 3;
		size_t hl = strcspn(host, "/?#");
		const char *at = memrchr(host, '@', hl);
		if (at) {
			sink_put(&s, in, (size_t)(host - in), 0);
			sink_put(&s, "***", 3, 0);
			in = at;
		}
	}
	q = strchr(in, '?');
	if (!q) {
		sink_put(&s, in, strlen(in), 0);
	} else {
		sink_put(&s, in, (size_t)(q + 1 - in), 0);
		for (const char *a = q + 1; *a;) {
			size_t l = strcspn(a, "&#"), kl = strcspn(a, "=&#");
			if (kl < l && secret_param(a, kl)) {
				sink_put(&s, a, kl + 1, 0);
				sink_put(&s, "***", 3, 0);
			} else {
				sink_put(&s, a, l, 0);
			}
			a += l;
			if (*a == '#') {
				sink_put(&s, a, strlen(a), 0);
				break;
			}
			if (*a == '&')
				sink_put(&s, a++, 1, 0);
		}
	}
	/* cut short rather than fail: it is only for messages */
	out[s.len < outlen ? s.len : outlen - 1] = '\0';
	return out;
}
