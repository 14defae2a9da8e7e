#include "sigv4.h"
#include "libcrypto.h"
#include "lifecycle.h"
#include "num.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a growing string ---- */

struct str {
	char *p;
	size_t len, cap;
};

static void str_add(struct str *s, const char *p, size_t n)
{
	if (s->len + n + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 64;
		while (cap < s->len + n + 1)
			cap *= 2;
		char *q = realloc(s->p, cap);
		if (!q)
			vr_oom();
		s->p = q;
		s->cap = cap;
	}
	memcpy(s->p + s->len, p, n);
	s->len += n;
	s->p[s->len] = '\0';
}


static void str_printf(struct str *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void str_printf(struct str *s, const char *fmt, ...)
{
	va_list ap, ap2;
	va_start(ap, fmt);
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		vr_oom();
	char *tmp = malloc((size_t)n + 1);
	if (!tmp)
		vr_oom();
	vsnprintf(tmp, (size_t)n + 1, fmt, ap2);
	va_end(ap2);
	str_add(s, tmp, (size_t)n);
	free(tmp);
}

/* an empty string is "" rather than NULL */
static char *str_take(struct str *s)
{
	if (!s->p)
		str_add(s, "", 0);
	return s->p;
}

/* ---- hashing ---- */

static void hex(const unsigned char *b, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[b[i] >> 4];
		out[2 * i + 1] = d[b[i] & 15];
	}
	out[2 * n] = '\0';
}

/* ---- libcrypto, opened on first use ---- */

/* SHA-256 and HMAC-SHA256 come from OpenSSL's libcrypto, opened when the
 * first request is signed rather than linked (as lib/store/digest.c
 * does): linked, it cost every start of vr-fetch 1.4 MiB of RSS and its
 * relocation, and only an S3 source is ever signed. */
static struct {
	__typeof__(EVP_Digest) *digest;
	__typeof__(EVP_sha256) *sha256;
	__typeof__(HMAC) *hmac;
	int ok;
} ssl;
static pthread_once_t ssl_once = PTHREAD_ONCE_INIT;

static void ssl_load(void)
{
	*(void **)&ssl.digest = vr_libcrypto_sym("EVP_Digest");
	*(void **)&ssl.sha256 = vr_libcrypto_sym("EVP_sha256");
	*(void **)&ssl.hmac = vr_libcrypto_sym("HMAC");
	ssl.ok = ssl.digest && ssl.sha256 && ssl.hmac;
}

int vr_sigv4_ready(void)
{
	pthread_once(&ssl_once, ssl_load);
	return ssl.ok;
}

/* The hashes below run only after vr_sigv4_ready() said yes (the signer
 * checks it first); without libcrypto they cannot give an answer. */
static void need_crypto(void)
{
	if (!vr_sigv4_ready())
		vr_oom();
}

void vr_sigv4_sha256_hex(const void *p, size_t n, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	need_crypto();
	if (!ssl.digest(p, n, md, &len, ssl.sha256(), NULL) || len != 32)
		vr_oom(); /* libcrypto fails only when it cannot allocate */
	hex(md, 32, out);
}

static void hmac(const unsigned char *key, size_t keylen, const char *msg, unsigned char out[32])
{
	unsigned int len = 0;
	need_crypto();
	if (!ssl.hmac(ssl.sha256(), key, (int)keylen, (const unsigned char *)msg, strlen(msg), out, &len) ||
	    len != 32)
		vr_oom();
}

void vr_sigv4_signing_key(const char *secret, const char *date, const char *region,
			  const char *service, unsigned char key[32])
{
	size_t n = strlen(secret) + 5;
	char *k = malloc(n);
	if (!k)
		vr_oom();
	snprintf(k, n, "AWS4%s", secret);
	hmac((const unsigned char *)k, n - 1, date, key);
	explicit_bzero(k, n);
	free(k);
	hmac(key, 32, region, key);
	hmac(key, 32, service, key);
	hmac(key, 32, "aws4_request", key);
}

/* ---- encoding ---- */

static int unreserved(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static void encode_into(struct str *s, const char *p, size_t n, int keep_slash)
{
	static const char d[] = "0123456789ABCDEF";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (unreserved(c) || (keep_slash && c == '/')) {
			str_add(s, (const char *)&c, 1);
		} else {
			char e[3] = {'%', d[c >> 4], d[c & 15]};
			str_add(s, e, 3);
		}
	}
}

char *vr_sigv4_uri_encode(const char *p, size_t n, int keep_slash)
{
	struct str s = {0};
	encode_into(&s, p, n, keep_slash);
	return str_take(&s);
}

/* n bytes percent-decoded (every valid %XX, %00 included: it is a byte of
 * an S3 key like any other) into a new string; *outlen its length. */
static char *decode(const char *p, size_t n, size_t *outlen)
{
	char *o = malloc(n + 1);
	size_t k = 0;
	if (!o)
		vr_oom();
	for (size_t i = 0; i < n; i++) {
		int hi, lo;
		if (p[i] == '%' && i + 2 < n &&
		    (hi = vr_hex_digit(p[i + 1])) >= 0 && (lo = vr_hex_digit(p[i + 2])) >= 0) {
			o[k++] = (char)(hi * 16 + lo);
			i += 2;
		} else {
			o[k++] = p[i];
		}
	}
	o[k] = '\0';
	*outlen = k;
	return o;
}

/* ---- the canonical request ---- */

/* The generic rule: dot segments and empty segments gone, a trailing '/'
 * kept. */
static void normalized_path(struct str *s, const char *path)
{
	size_t n = strlen(path);
	const char **seg = malloc((n / 2 + 2) * sizeof *seg);
	size_t *len = malloc((n / 2 + 2) * sizeof *len);
	size_t ns = 0;
	if (!seg || !len)
		vr_oom();
	for (const char *p = path; *p;) {
		if (*p == '/') {
			p++;
			continue;
		}
		size_t l = strcspn(p, "/");
		if (l == 1 && p[0] == '.') {
			/* nothing */
		} else if (l == 2 && p[0] == '.' && p[1] == '.') {
			if (ns)
				ns--;
		} else {
			seg[ns] = p;
			len[ns++] = l;
		}
		p += l;
	}
	for (size_t i = 0; i < ns; i++) {
		str_add(s, "/", 1);
		encode_into(s, seg[i], len[i], 0);
	}
	if (ns == 0 || (n > 0 && path[n - 1] == '/'))
		str_add(s, "/", 1);
	free(seg);
	free(len);
}

static void canonical_path(struct str *s, const char *path, int s3)
{
	if (!path || !*path) {
		str_add(s, "/", 1);
		return;
	}
	if (!s3) {
		normalized_path(s, path);
		return;
	}
	size_t n;
	char *d = decode(path, strlen(path), &n);
	encode_into(s, d, n, 1);
	free(d);
}

struct pair {
	char *k, *v; /* encoded */
};

static int pair_cmp(const void *a, const void *b)
{
	const struct pair *x = a, *y = b;
	int c = strcmp(x->k, y->k);
	return c ? c : strcmp(x->v, y->v);
}

/* query's parameters, decoded and encoded again the SigV4 way, sorted by
 * name then value, joined by '&'; extra (already encoded pairs) joins
 * them. */
static void canonical_query(struct str *s, const char *query, const struct pair *extra,
			    size_t nextra)
{
	size_t cap = nextra + 1;
	for (const char *p = query; p && *p; p++)
		cap += *p == '&';
	struct pair *v = calloc(cap, sizeof *v);
	size_t nv = 0;
	if (!v)
		vr_oom();
	for (const char *p = query; p && *p;) {
		size_t l = strcspn(p, "&");
		if (l > 0) {
			const char *eq = memchr(p, '=', l);
			size_t kl = eq ? (size_t)(eq - p) : l, dl;
			char *d = decode(p, kl, &dl);
			v[nv].k = vr_sigv4_uri_encode(d, dl, 0);
			free(d);
			d = eq ? decode(eq + 1, l - kl - 1, &dl) : decode("", 0, &dl);
			v[nv].v = vr_sigv4_uri_encode(d, dl, 0);
			free(d);
			nv++;
		}
		p += l;
		if (*p == '&')
			p++;
	}
	for (size_t i = 0; i < nextra; i++) {
		v[nv].k = strdup(extra[i].k);
		v[nv].v = strdup(extra[i].v);
		if (!v[nv].k || !v[nv].v)
			vr_oom();
		nv++;
	}
	qsort(v, nv, sizeof *v, pair_cmp);
	for (size_t i = 0; i < nv; i++) {
		str_printf(s, "%s%s=%s", i ? "&" : "", v[i].k, v[i].v);
		free(v[i].k);
		free(v[i].v);
	}
	free(v);
}

struct header {
	char *name;  /* lower case */
	char *value; /* trimmed, inner runs of spaces made one */
};

static int header_cmp(const void *a, const void *b)
{
	return strcmp(((const struct header *)a)->name, ((const struct header *)b)->name);
}

/* canonical headers ("name:value\n" each, sorted; a name given twice has
 * its values joined by ',') and the signed list ("a;b") */
static void canonical_headers(const char *const *lines, size_t n, struct str *ch,
			      struct str *signed_list)
{
	struct header *h = calloc(n + 1, sizeof *h);
	if (!h)
		vr_oom();
	for (size_t i = 0; i < n; i++) {
		const char *colon = strchr(lines[i], ':');
		size_t nl = colon ? (size_t)(colon - lines[i]) : strlen(lines[i]);
		const char *val = colon ? colon + 1 : "";
		h[i].name = strndup(lines[i], nl);
		h[i].value = malloc(strlen(val) + 1);
		if (!h[i].name || !h[i].value)
			vr_oom();
		for (char *c = h[i].name; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		size_t k = 0;
		while (*val == ' ' || *val == '\t')
			val++;
		for (; *val; val++) {
			int sp = *val == ' ' || *val == '\t';
			if (sp && (k == 0 || h[i].value[k - 1] == ' '))
				continue;
			h[i].value[k++] = sp ? ' ' : *val;
		}
		while (k > 0 && h[i].value[k - 1] == ' ')
			k--;
		h[i].value[k] = '\0';
	}
	/* stable for equal names: a name's values keep their order */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && header_cmp(&h[j - 1], &h[j]) > 0; j--) {
			struct header t = h[j];
			h[j] = h[j - 1];
			h[j - 1] = t;
		}
	for (size_t i = 0; i < n; i++) {
		int same = i > 0 && !strcmp(h[i].name, h[i - 1].name);
		if (same) {
			ch->len--; /* the '\n' */
			str_printf(ch, ",%s\n", h[i].value);
		} else {
			str_printf(ch, "%s:%s\n", h[i].name, h[i].value);
			str_printf(signed_list, "%s%s", i ? ";" : "", h[i].name);
		}
	}
	for (size_t i = 0; i < n; i++) {
		free(h[i].name);
		free(h[i].value);
	}
	free(h);
}

static void creq_build(const struct vr_sigv4_req *r, const struct pair *extra, size_t nextra,
		       char **creq, char **signed_headers)
{
	struct str s = {0}, ch = {0}, sl = {0};
	str_printf(&s, "%s\n", r->method);
	canonical_path(&s, r->path, r->s3);
	str_add(&s, "\n", 1);
	canonical_query(&s, r->query, extra, nextra);
	str_add(&s, "\n", 1);
	canonical_headers(r->headers, r->nheaders, &ch, &sl);
	str_printf(&s, "%s\n%s\n%s", str_take(&ch), str_take(&sl), r->payload_hash);
	free(ch.p);
	*creq = str_take(&s);
	if (signed_headers)
		*signed_headers = str_take(&sl);
	else
		free(sl.p);
}

void vr_sigv4_canonical_request(const struct vr_sigv4_req *r, char **creq, char **signed_headers)
{
	creq_build(r, NULL, 0, creq, signed_headers);
}

void vr_sigv4_string_to_sign(const char *amz_date, const char *scope, const char *creq,
			     char **out)
{
	char h[65];
	struct str s = {0};
	vr_sigv4_sha256_hex(creq, strlen(creq), h);
	str_printf(&s, VR_SIGV4_ALGORITHM "\n%s\n%s\n%s", amz_date, scope, h);
	*out = str_take(&s);
}

void vr_sigv4_amz_date(time_t t, char out[17])
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

/* "DATE/REGION/SERVICE/aws4_request" */
static char *scope_of(const struct vr_sigv4_cred *c, const char *amz_date)
{
	struct str s = {0};
	str_printf(&s, "%.8s/%s/%s/aws4_request", amz_date, c->region, c->service);
	return str_take(&s);
}

/* The hex signature of a canonical request. */
static void signature(const struct vr_sigv4_cred *c, const char *amz_date, const char *scope,
		      const char *creq, char sig[65])
{
	char date[9], *sts;
	unsigned char key[32], mac[32];
	snprintf(date, sizeof date, "%.8s", amz_date);
	vr_sigv4_string_to_sign(amz_date, scope, creq, &sts);
	vr_sigv4_signing_key(c->secret_key, date, c->region, c->service, key);
	hmac(key, sizeof key, sts, mac);
	explicit_bzero(key, sizeof key);
	hex(mac, sizeof mac, sig);
	free(sts);
}

void vr_sigv4_authorization(const struct vr_sigv4_cred *c, const char *amz_date,
			    const struct vr_sigv4_req *r, char **out)
{
	char *creq, *sl, sig[65];
	char *scope = scope_of(c, amz_date);
	struct str s = {0};
	creq_build(r, NULL, 0, &creq, &sl);
	signature(c, amz_date, scope, creq, sig);
	str_printf(&s, VR_SIGV4_ALGORITHM " Credential=%s/%s, SignedHeaders=%s, Signature=%s",
		   c->access_key, scope, sl, sig);
	free(creq);
	free(sl);
	free(scope);
	*out = str_take(&s);
}

void vr_sigv4_presign_query(const struct vr_sigv4_cred *c, const char *amz_date,
			    unsigned expires, const struct vr_sigv4_req *r, char **out)
{
	char *scope = scope_of(c, amz_date), *creq, sig[65], exp[16];
	struct str cred = {0}, sl = {0}, ch = {0}, s = {0};
	snprintf(exp, sizeof exp, "%u", expires);
	str_printf(&cred, "%s/%s", c->access_key, scope);
	canonical_headers(r->headers, r->nheaders, &ch, &sl);
	free(ch.p);
	char *cred_enc = vr_sigv4_uri_encode(cred.p, cred.len, 0);
	char *sl_enc = vr_sigv4_uri_encode(str_take(&sl), sl.len, 0);
	char *tok_enc = c->session_token && *c->session_token
				? vr_sigv4_uri_encode(c->session_token, strlen(c->session_token), 0)
				: NULL;
	struct pair x[6] = {
		{"X-Amz-Algorithm", VR_SIGV4_ALGORITHM},
		{"X-Amz-Credential", cred_enc},
		{"X-Amz-Date", (char *)amz_date},
		{"X-Amz-Expires", exp},
		{"X-Amz-SignedHeaders", sl_enc},
		{"X-Amz-Security-Token", tok_enc},
	};
	size_t nx = tok_enc ? 6 : 5;
	creq_build(r, x, nx, &creq, NULL);
	signature(c, amz_date, scope, creq, sig);
	/* the request's own parameters as they were sent, then ours */
	if (r->query && *r->query)
		str_printf(&s, "%s&", r->query);
	for (size_t i = 0; i < nx; i++)
		str_printf(&s, "%s=%s&", x[i].k, x[i].v);
	str_printf(&s, "X-Amz-Signature=%s", sig);
	free(scope);
	free(creq);
	free(cred.p);
	free(sl.p);
	free(cred_enc);
	free(sl_enc);
	free(tok_enc);
	*out = str_take(&s);
}
