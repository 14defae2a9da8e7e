#include "s3sign.h"
#include "lifecycle.h"
#include "origin.h"
#include "sigv4.h"
#include "status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CRED_MAX 4096 /* an expanded credential */

static char *xstrdup(const char *s)
{
	char *d = strdup(s);
	if (!d)
		vr_oom();
	return d;
}

static const char *where(const struct vr_source *s)
{
	return s->where ? s->where : "origin";
}

/* A credential template expanded now into buf. 0, or VR_EDATA with err
 * naming the key and the variable, never the value. */
static int credential(const struct vr_source *s, const char *key, const char *tmpl, char *buf,
		      size_t len, char *err, size_t errlen)
{
	char why[512];
	int r = vr_template_expand(tmpl, NULL, NULL, NULL, VR_EXPAND_ENV, buf, len, why, sizeof why);
	if (r == VR_EXPAND_UNSET) {
		/* why: "environment variable NAME is not set (used in '...')" */
		const char *v = why + strlen("environment variable ");
		int n = (int)strcspn(v, " ");
		snprintf(err, errlen, "%s %s: environment variable %.*s is not set", where(s), key, n,
			 v);
		return VR_EDATA;
	}
	if (r < 0) {
		snprintf(err, errlen, "%s %s: cannot be expanded (longer than %zu bytes?)", where(s), key,
			 len - 1);
		return VR_EDATA;
	}
	for (const char *c = buf; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f) {
			snprintf(err, errlen, "%s %s: the value has a control character", where(s), key);
			return VR_EDATA;
		}
	if (!buf[0]) {
		snprintf(err, errlen, "%s %s: the value is empty", where(s), key);
		return VR_EDATA;
	}
	return 0;
}

/* Append "Name: value\r\n". */
static void add_line(char **acc, const char *name, const char *value)
{
	size_t old = *acc ? strlen(*acc) : 0, n = strlen(name) + strlen(value) + 5;
	char *a = realloc(*acc, old + n);
	if (!a)
		vr_oom();
	snprintf(a + old, n, "%s: %s\r\n", name, value);
	*acc = a;
}

/* The configured x-amz-* header lines of hdrs as separate strings (they
 * must be signed); *n of them. */
static char **amz_lines(const char *hdrs, size_t *n)
{
	char **v = NULL;
	*n = 0;
	for (const char *p = hdrs; p && *p;) {
		const char *eol = strstr(p, "\r\n");
		size_t l = eol ? (size_t)(eol - p) : strlen(p);
		if (l > 6 && !strncasecmp(p, "x-amz-", 6)) {
			char **nv = realloc(v, (*n + 1) * sizeof *v);
			if (!nv)
				vr_oom();
			v = nv;
			v[*n] = strndup(p, l);
			if (!v[*n])
				vr_oom();
			(*n)++;
		}
		p += l + (eol ? 2 : 0);
	}
	return v;
}

/* A header line that signing sets itself: Authorization, x-amz-date,
 * x-amz-content-sha256, x-amz-security-token. Its name into name. */
static int own_header(const char *hdrs, char *name, size_t len)
{
	static const char *const own[] = {"authorization", "x-amz-date", "x-amz-content-sha256",
					  "x-amz-security-token"};
	for (const char *p = hdrs; p && *p;) {
		size_t l = strcspn(p, ":\r");
		for (size_t i = 0; i < sizeof own / sizeof *own; i++)
			if (l == strlen(own[i]) && !strncasecmp(p, own[i], l)) {
				snprintf(name, len, "%.*s", (int)l, p);
				return 1;
			}
		const char *eol = strstr(p, "\r\n");
		p = eol ? eol + 2 : p + strlen(p);
	}
	return 0;
}

int vr_source_request(const struct vr_source *s, const char *method, time_t now, char **url,
		      char **headers, char *err, size_t errlen)
{
	char *hdrs = NULL;
	*url = NULL;
	*headers = NULL;
	int rc = vr_source_headers(s, &hdrs, err, errlen);
	if (rc)
		return rc;
	if (!s->s3) {
		*url = xstrdup(s->location);
		*headers = hdrs;
		return 0;
	}
	const struct vr_s3_auth *a = s->s3;
	char own[64];
	if (own_header(hdrs, own, sizeof own)) {
		snprintf(err, errlen, "%s: header %s: an S3 origin's requests carry their own signature "
			 "headers", where(s), own);
		free(hdrs);
		return VR_EDATA;
	}
	/* scheme://authority/path?query#fragment; the Host libavformat sends
	 * is the authority as written */
	const char *loc = s->location, *auth = strstr(loc, "://");
	if (!auth) {
		snprintf(err, errlen, "%s: an S3 source must be an http(s) URL", where(s));
		free(hdrs);
		return VR_EDATA;
	}
	auth += 3;
	size_t al = strcspn(auth, "/?#");
	if (memchr(auth, '@', al)) {
		snprintf(err, errlen, "%s: an S3 source URL takes no user:password@", where(s));
		free(hdrs);
		return VR_EDATA;
	}
	const char *path = auth + al;
	size_t pl = strcspn(path, "?#");
	const char *q = path[pl] == '?' ? path + pl + 1 : NULL;
	size_t ql = q ? strcspn(q, "#") : 0;
	char *host = strndup(auth, al), *cpath = strndup(path, pl), *query = q ? strndup(q, ql) : NULL;
	if (!host || !cpath || (q && !query))
		vr_oom();

	char ak[CRED_MAX], sk[CRED_MAX], tok[CRED_MAX];
	tok[0] = '\0';
	if ((rc = credential(s, "s3-access-key", a->access_key, ak, sizeof ak, err, errlen)) ||
	    (rc = credential(s, "s3-secret-key", a->secret_key, sk, sizeof sk, err, errlen)) ||
	    (a->session_token &&
	     (rc = credential(s, "s3-session-token", a->session_token, tok, sizeof tok, err, errlen))))
		goto out;
	if (!vr_sigv4_ready()) {
		snprintf(err, errlen, "%s: S3 signing needs OpenSSL's libcrypto, which cannot be loaded",
			 where(s));
		rc = VR_EFAIL;
		goto out;
	}

	struct vr_sigv4_cred c = {.access_key = ak, .secret_key = sk, .session_token = tok,
				  .region = a->region, .service = a->service};
	char amz[17];
	vr_sigv4_amz_date(now, amz);
	size_t namz;
	char **amzh = amz_lines(hdrs, &namz);
	/* host, the configured x-amz-* headers, then ours */
	const char **sign = calloc(namz + 4, sizeof *sign);
	char *hl = malloc(strlen(host) + 6), *dl = malloc(40), *pl2 = malloc(100),
	     *tl = malloc(strlen(tok) + 24);
	if (!sign || !hl || !dl || !pl2 || !tl)
		vr_oom();
	tl[0] = '\0'; /* written only with a session token; wiped in any case */
	size_t ns = 0;
	sprintf(hl, "host:%s", host);
	sign[ns++] = hl;
	for (size_t i = 0; i < namz; i++)
		sign[ns++] = amzh[i];
	struct vr_sigv4_req r = {.method = method, .path = cpath, .query = query, .headers = sign,
				 .s3 = !strcmp(a->service, "s3")};
	if (a->presign) {
		char *pq;
		r.nheaders = ns;
		r.payload_hash = VR_SIGV4_UNSIGNED_PAYLOAD;
		vr_sigv4_presign_query(&c, amz, a->presign, &r, &pq);
		/* the URL without its query (the query is in pq) */
		size_t base = (size_t)(path + pl - loc);
		size_t n = base + strlen(pq) + 2;
		*url = malloc(n);
		if (!*url)
			vr_oom();
		snprintf(*url, n, "%.*s?%s", (int)base, loc, pq);
		explicit_bzero(pq, strlen(pq));
		free(pq);
		*headers = hdrs;
		hdrs = NULL;
	} else {
		char *authz;
		sprintf(dl, "x-amz-date:%s", amz);
		sprintf(pl2, "x-amz-content-sha256:%s", VR_SIGV4_EMPTY_SHA256);
		sign[ns++] = dl;
		sign[ns++] = pl2;
		if (tok[0]) {
			sprintf(tl, "x-amz-security-token:%s", tok);
			sign[ns++] = tl;
		}
		r.nheaders = ns;
		r.payload_hash = VR_SIGV4_EMPTY_SHA256;
		vr_sigv4_authorization(&c, amz, &r, &authz);
		*headers = hdrs;
		hdrs = NULL;
		add_line(headers, "x-amz-date", amz);
		add_line(headers, "x-amz-content-sha256", VR_SIGV4_EMPTY_SHA256);
		if (tok[0])
			add_line(headers, "x-amz-security-token", tok);
		add_line(headers, "Authorization", authz);
		explicit_bzero(authz, strlen(authz));
		free(authz);
		*url = xstrdup(loc);
	}
	explicit_bzero(tl, strlen(tl));
	for (size_t i = 0; i < namz; i++)
		free(amzh[i]);
	free(amzh);
	free(sign);
	free(hl);
	free(dl);
	free(pl2);
	free(tl);
	rc = 0;
out:
	explicit_bzero(ak, sizeof ak);
	explicit_bzero(sk, sizeof sk);
	explicit_bzero(tok, sizeof tok);
	free(host);
	free(cpath);
	free(query);
	free(hdrs);
	return rc;
}

const char *vr_s3_rejected_text(const char *origin, char *out, size_t len)
{
	snprintf(out, len,
		 "HTTP 403: the S3 request signature or credentials of origin \"%s\" were rejected "
		 "(SignatureDoesNotMatch, InvalidAccessKeyId, AccessDenied or an expired request); "
		 "check its s3-access-key, s3-secret-key and s3-region",
		 origin ? origin : "?");
	return out;
}
