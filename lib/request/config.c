#include "config.h"
#include "lifecycle.h"
#include "io.h"
#include "num.h"
#include "status.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

struct entry {
	char *section, *sub, *key, *value;
	int line;
};

struct vr_config {
	char *source;
	struct entry *e;
	size_t n, cap;
};

static char *dupn(const char *s, size_t n)
{
	char *d = malloc(n + 1);
	if (!d)
		vr_oom();
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

static int is_keych(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-' || c == '.';
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

static struct vr_config *config_new(void)
{
	struct vr_config *c = calloc(1, sizeof *c);
	if (!c)
		vr_oom();
	return c;
}

static void add_entry(struct vr_config *c, const char *sec, const char *sub, const char *k,
		      size_t kn, const char *v, size_t vn, int line)
{
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 16;
		c->e = realloc(c->e, c->cap * sizeof *c->e);
		if (!c->e)
			vr_oom();
	}
	struct entry *e = &c->e[c->n++];
	e->section = dupn(sec, strlen(sec));
	e->sub = sub ? dupn(sub, strlen(sub)) : NULL;
	e->key = dupn(k, kn);
	e->value = dupn(v, vn);
	e->line = line;
}

/* Unquote "..." with \" and \\ in place; returns new length or -1. */
static long unquote(char *v, size_t n)
{
	if (n < 2 || v[0] != '"')
		return (long)n;
	if (v[n - 1] != '"')
		return -1;
	size_t o = 0;
	for (size_t i = 1; i < n - 1; i++) {
		if (v[i] == '\\' && i + 1 < n - 1 && (v[i + 1] == '"' || v[i + 1] == '\\'))
			i++;
		else if (v[i] == '"')
			return -1;
		v[o++] = v[i];
	}
	v[o] = '\0';
	return (long)o;
}

int vr_config_parse(struct vr_config **cfg, const char *text, size_t len, const char *name,
		    char *err, size_t errlen)
{
	struct vr_config *c = config_new();
	*cfg = c;
	if (name)
		c->source = dupn(name, strlen(name));
	char section[256] = "", sub[256] = "";
	int have_sub = 0;
	int lineno = 0;
	char *line = malloc(VR_CONFIG_MAX_LINE + 1);
	if (!line)
		vr_oom();
	size_t pos = 0;
	int rc = 0;
	while (pos < len) {
		lineno++;
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t ll = nl ? (size_t)(nl - (text + pos)) : len - pos;
		if (ll > VR_CONFIG_MAX_LINE) {
			snprintf(err, errlen, "%s:%d: line longer than %d bytes", name, lineno,
				 VR_CONFIG_MAX_LINE);
			rc = VR_EDATA;
			break;
		}
		if (memchr(text + pos, '\0', ll)) {
			snprintf(err, errlen, "%s:%d: NUL byte in config", name, lineno);
			rc = VR_EDATA;
			break;
		}
		memcpy(line, text + pos, ll);
		line[ll] = '\0';
		pos += ll + (nl ? 1 : 0);

		char *p = line, *end = line + ll;
		while (p < end && is_space(*p))
			p++;
		while (end > p && is_space(end[-1]))
			*--end = '\0';
		if (p == end || *p == '#' || *p == ';')
			continue;
		if (*p == '[') {
			if (end[-1] != ']')
				goto syntax;
			char *q = p + 1;
			char *s0 = q;
			while (q < end - 1 && is_keych(*q))
				q++;
			size_t sl = (size_t)(q - s0);
			if (sl == 0 || sl >= sizeof section)
				goto syntax;
			memcpy(section, s0, sl);
			section[sl] = '\0';
			while (q < end - 1 && is_space(*q))
				q++;
			have_sub = 0;
			if (*q == '"') {
				char *close = end - 2;
				while (close > q && is_space(*close))
					close--;
				if (close <= q || *close != '"')
					goto syntax;
				size_t nl2 = (size_t)(close - q - 1);
				if (nl2 >= sizeof sub || memchr(q + 1, '"', nl2))
					goto syntax;
				memcpy(sub, q + 1, nl2);
				sub[nl2] = '\0';
				have_sub = 1;
			} else if (q != end - 1) {
				goto syntax;
			}
			continue;
		}
		if (!section[0]) {
			snprintf(err, errlen, "%s:%d: key outside of any [section]", name, lineno);
			rc = VR_EDATA;
			break;
		}
		char *k = p;
		while (p < end && is_keych(*p))
			p++;
		size_t kn = (size_t)(p - k);
		while (p < end && is_space(*p))
			p++;
		if (kn == 0 || p == end || *p != '=')
			goto syntax;
		p++;
		while (p < end && is_space(*p))
			p++;
		/* an inline comment starts at '#' or ';' after a space or tab,
		 * outside a quoted value */
		if (*p != '"') {
			for (char *q = p; q < end; q++)
				if ((*q == '#' || *q == ';') && q > p && (q[-1] == ' ' || q[-1] == '\t')) {
					end = q;
					while (end > p && is_space(end[-1]))
						end--;
					*end = '\0';
					break;
				}
		} else {
			/* after a closing quote only a comment may follow */
			char *close = NULL;
			for (char *q = p + 1; q < end; q++) {
				if (*q == '\\' && q + 1 < end) {
					q++;
					continue;
				}
				if (*q == '"') {
					close = q;
					break;
				}
			}
			if (close) {
				char *after = close + 1;
				while (after < end && is_space(*after))
					after++;
				if (after < end && (*after == '#' || *after == ';')) {
					end = close + 1;
					*end = '\0';
				}
			}
		}
		long vn = unquote(p, (size_t)(end - p));
		if (vn < 0)
			goto syntax;
		add_entry(c, section, have_sub ? sub : NULL, k, kn, p, (size_t)vn, lineno);
		continue;
	syntax:
		snprintf(err, errlen, "%s:%d: syntax error in '%.80s'", name, lineno, line);
		rc = VR_EDATA;
		break;
	}
	free(line);
	return rc;
}

int vr_config_load(struct vr_config **cfg, const char *path, char *err, size_t errlen)
{
	char buf[4096];
	int explicit_path = path != NULL;
	if (!path) {
		const char *env = getenv("VR_CONFIG");
		if (env && *env) {
			path = env;
			explicit_path = 1;
		} else {
			const char *xdg = getenv("XDG_CONFIG_HOME");
			const char *home = getenv("HOME");
			if (xdg && *xdg)
				snprintf(buf, sizeof buf, "%s/vr/vr.conf", xdg);
			else if (home && *home)
				snprintf(buf, sizeof buf, "%s/.config/vr/vr.conf", home);
			else
				buf[0] = '\0';
			path = buf;
		}
	}
	int fd = path[0] ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	if (fd < 0) {
		/* keep open()'s errno (calloc may change it); an empty name
		 * names no file at all */
		int e = path[0] ? errno : ENOENT;
		*cfg = config_new();
		if (!explicit_path && (e == ENOENT || e == ENOTDIR))
			return 0;
		snprintf(err, errlen, "config %s: %s", path, strerror(e));
		return e == ENOENT || e == ENOTDIR ? VR_ENOTFOUND : VR_EIO;
	}
	char *text = malloc(VR_CONFIG_MAX_BYTES + 1);
	if (!text)
		vr_oom();
	ssize_t n = vr_read_full(fd, text, VR_CONFIG_MAX_BYTES + 1);
	int saved = errno;
	close(fd);
	if (n < 0 || n > VR_CONFIG_MAX_BYTES) {
		free(text);
		*cfg = config_new();
		if (n < 0)
			snprintf(err, errlen, "config %s: %s", path, strerror(saved));
		else
			snprintf(err, errlen, "config %s: larger than %d bytes", path, VR_CONFIG_MAX_BYTES);
		return n < 0 ? VR_EIO : VR_EDATA;
	}
	int rc = vr_config_parse(cfg, text, (size_t)n, path, err, errlen);
	free(text);
	return rc;
}

void vr_config_free(struct vr_config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++) {
		free(c->e[i].section);
		free(c->e[i].sub);
		free(c->e[i].key);
		free(c->e[i].value);
	}
	free(c->e);
	free(c->source);
	free(c);
}

const char *vr_config_source(const struct vr_config *c) { return c->source; }

static int matches(const struct entry *e, const char *section, const char *sub, const char *key)
{
	if (strcmp(e->section, section) || strcmp(e->key, key))
		return 0;
	if (!sub)
		return e->sub == NULL;
	return e->sub && !strcmp(e->sub, sub);
}

static const struct entry *find_last(const struct vr_config *c, const char *section,
				     const char *sub, const char *key)
{
	for (size_t i = c->n; i-- > 0;)
		if (matches(&c->e[i], section, sub, key))
			return &c->e[i];
	return NULL;
}

const char *vr_config_get(const struct vr_config *c, const char *section, const char *sub,
			  const char *key)
{
	const struct entry *e = find_last(c, section, sub, key);
	return e ? e->value : NULL;
}

const char *vr_config_get_nth(const struct vr_config *c, const char *section, const char *sub,
			      const char *key, size_t n)
{
	for (size_t i = 0; i < c->n; i++)
		if (matches(&c->e[i], section, sub, key) && n-- == 0)
			return c->e[i].value;
	return NULL;
}

const char *vr_config_where(const struct vr_config *c, const char *section, const char *sub,
			    const char *key)
{
	/* per thread: warm's workers share one config and may all be
	 * reporting a bad value at once */
	static _Thread_local char where[64 + 4096];
	const struct entry *e = find_last(c, section, sub, key);
	if (!e)
		return "";
	snprintf(where, sizeof where, "%s:%d", c->source ? c->source : "config", e->line);
	return where;
}

size_t vr_config_names(const struct vr_config *c, const char *section, const char **names,
		       size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < c->n; i++) {
		const struct entry *e = &c->e[i];
		if (!e->sub || strcmp(e->section, section))
			continue;
		int seen = 0;
		for (size_t j = 0; j < i && !seen; j++)
			seen = c->e[j].sub && !strcmp(c->e[j].section, section) &&
			       !strcmp(c->e[j].sub, e->sub);
		if (seen)
			continue;
		if (n < max)
			names[n] = e->sub;
		n++;
	}
	return n;
}

int vr_config_seconds(const struct vr_config *c, const char *section, const char *sub,
		      const char *key, double *out, char *err, size_t errlen)
{
	const char *v = vr_config_get(c, section, sub, key);
	if (!v)
		return 0;
	if (vr_parse_seconds(v, out) < 0) {
		snprintf(err, errlen, "%s: %s: '%s' is not a duration (like 30, 1.5s, 2m)",
			 vr_config_where(c, section, sub, key), key, v);
		return VR_EDATA;
	}
	return 0;
}

int vr_config_size(const struct vr_config *c, const char *section, const char *sub,
		   const char *key, uint64_t *out, char *err, size_t errlen)
{
	const char *v = vr_config_get(c, section, sub, key);
	if (!v)
		return 0;
	if (vr_parse_size(v, out) < 0) {
		snprintf(err, errlen, "%s: %s: '%s' is not a size (like 4096, 64K, 16M)",
			 vr_config_where(c, section, sub, key), key, v);
		return VR_EDATA;
	}
	return 0;
}

int vr_config_yes_no(const struct vr_config *c, const char *section, const char *sub,
		     const char *key, int *out, char *err, size_t errlen)
{
	const char *v = vr_config_get(c, section, sub, key);
	if (!v)
		return 0;
	if (!strcasecmp(v, "yes") || !strcasecmp(v, "true") || !strcmp(v, "1") ||
	    !strcasecmp(v, "on"))
		*out = 1;
	else if (!strcasecmp(v, "no") || !strcasecmp(v, "false") || !strcmp(v, "0") ||
		 !strcasecmp(v, "off"))
		*out = 0;
	else {
		snprintf(err, errlen, "%s: [%s%s%s%s] %s = '%.100s' is not yes or no",
			 vr_config_where(c, section, sub, key), section, sub ? " \"" : "",
			 sub ? sub : "", sub ? "\"" : "", key, v);
		return VR_EDATA;
	}
	return 0;
}

int vr_config_check_keys(const struct vr_config *c, const char *section, const char *sub,
			 const char *const *known, char *err, size_t errlen)
{
	for (size_t i = 0; i < c->n; i++) {
		const struct entry *e = &c->e[i];
		if (strcmp(e->section, section) || (sub ? !e->sub || strcmp(e->sub, sub) : !!e->sub))
			continue;
		int ok = 0;
		for (const char *const *k = known; *k && !ok; k++)
			ok = !strcmp(*k, e->key);
		if (!ok) {
			char names[512];
			size_t o = 0;
			names[0] = '\0';
			for (const char *const *k = known; *k && o < sizeof names; k++)
				o += (size_t)snprintf(names + o, sizeof names - o, "%s%s",
						      k == known ? "" : ", ", *k);
			snprintf(err, errlen, "%s:%d: unknown key '%s' in [%s%s%s%s] (known: %s)",
				 c->source ? c->source : "config", e->line, e->key, section,
				 sub ? " \"" : "", sub ? sub : "", sub ? "\"" : "", names);
			return VR_EDATA;
		}
	}
	return 0;
}
