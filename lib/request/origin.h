/* Source resolution: what a SOURCE argument names, as an ordered list of
 * candidate sources to try (see vr-fetch(1), vr.conf(5)).
 *
 *   http:// or https://   that URL
 *   file://PATH           the local PATH (percent-decoded)
 *   "-"                   standard input
 *   a request path        matched against the [origin "NAME"] sections of
 *                         the config, first match in file order (the query
 *                         after '?' is dropped); its source templates, in order
 *   anything else         a local path
 *
 * An origin section:
 *
 *   [origin "videos"]
 *   match   = ^/videos/(?<id>[^/]+)/(.*)$   PCRE2 (lib/request/pattern.h);
 *                                           (?<name>...) is also ${name}
 *   source  = /srv/media/${id}/$2           repeatable, tried in file order
 *   source  = http://10.0.0.1/media/$1/$2
 *   root    = /srv/media                    confinement of local sources
 *   timeout = 10s                           per attempt (else [fetch] timeout)
 *   retries = 1                             (else [fetch] retries)
 *   header  = Authorization: Bearer ${env:TOKEN}   repeatable, http only
 *   s3-region     = us-east-1                 S3 request signing (SigV4) of
 *   s3-access-key = ${env:AWS_ACCESS_KEY_ID}  the http sources, per request:
 *   s3-secret-key = ${env:AWS_SECRET_ACCESS_KEY}  see lib/request/s3sign
 *   s3-session-token, s3-service (s3), s3-presign = SECONDS
 *
 * Templates: $N (one digit), ${N}, ${name}, $$ for '$'; header values also
 * ${env:NAME}. A group that did not take part in the match expands to
 * nothing. A config header's ${env:NAME} is read only when a request is
 * made (vr_source_headers), so that what contacts no origin (a hit, a key,
 * a local source) does not need its credentials; -H values are expanded
 * at once (an unset variable there is a usage error). Captures are percent-encoded where
 * a URL needs it for http sources and percent-decoded for local ones.
 *
 * Resolution is pure (no I/O but getenv for -H); opening belongs to lib/av (fetch,
 * demux), which both confine an origin's local source with
 * vr_origin_confine, the one filesystem-touching function here.
 *
 * Contract: a vr_resolved owns copies of its strings (free them with
 * vr_resolved_free); cfg and source are only read. Any thread: there is no
 * shared state. */
#ifndef VR_ORIGIN_H
#define VR_ORIGIN_H

#include "pattern.h"

#include <limits.h>
#include <stddef.h>

struct vr_config;

#define VR_ORIGIN_MAX_SOURCES 32  /* source templates in one origin */
#define VR_ORIGIN_MAX_RETRIES 100u

enum vr_source_kind {
	VR_SOURCE_LOCAL, /* a path on this machine */
	VR_SOURCE_HTTP,  /* an http:// or https:// URL, fetched through AVIO */
	VR_SOURCE_STDIN, /* "-" */
};

struct vr_source {
	enum vr_source_kind kind;
	char *location; /* the path or URL */
	char *root;     /* local sources of an origin: the confinement root as
			 * configured (realpath'd when opened); NULL: none */
	double timeout; /* idle/connect timeout of one attempt, seconds; 0: none */
	unsigned retries; /* further attempts after a transient failure */
	char *headers;  /* http: "Name: value\r\n" lines, captures expanded but
			 * ${env:NAME} not yet ('$' written "$$"): get them
			 * for a request from vr_source_headers; NULL: none */
	char *where;    /* headers or S3 keys from a config: "FILE: [origin
			 * \"NAME\"]" for messages; NULL: none */
	struct vr_s3_auth *s3; /* http sources of an origin with s3-* keys:
				* sign each request (lib/request/s3sign);
				* NULL: none */
};

/* An origin's S3 signing settings. The credentials are templates whose
 * ${env:NAME} is read only when a request is signed ('$' written "$$"),
 * like header values, so that a hit or a key needs none of them. */
struct vr_s3_auth {
	char *access_key, *secret_key, *session_token; /* token NULL: none */
	char *region, *service;
	unsigned presign; /* a presigned URL living this many seconds;
			   * 0: an Authorization header instead */
};

struct vr_resolved {
	char *origin; /* the [origin "NAME"] that matched, or NULL */
	size_t n;
	struct vr_source *src;
};

/* What the command line sets; it wins over the config. */
struct vr_origin_params {
	double timeout;      /* < 0: from the config */
	long retries;        /* < 0: from the config */
	const char *const *headers; /* -H 'Name: value' (templates: ${env:X}, $$) */
	size_t nheaders;
};

/* SOURCE + config (may be NULL) -> candidates. Returns 0, VR_EDATA for a
 * bad config value (timeout, retries, regex, template, header line) or a
 * path whose matching reached a regex's limits (lib/request/pattern), or
 * VR_EUSAGE for what the command line got wrong (-H and an unset
 * ${env:NAME} in it, an unsupported scheme); err says what and, for the
 * config, where. A config header's ${env:NAME} is not read here. */
int vr_origin_resolve(const struct vr_config *cfg, const char *source,
		      const struct vr_origin_params *params, struct vr_resolved *out, char *err,
		      size_t errlen);
void vr_resolved_free(struct vr_resolved *r);

/* The header lines of http source s for a request about to be made, its
 * ${env:NAME} read now: *out gets a malloc'd "Name: value\r\n"... string
 * (free it), or NULL when there are none. Returns 0, or VR_EDATA with err
 * (a configuration error: an unset variable, or a value that puts a
 * control character into a header; err names the variable and the origin,
 * never a value). Reads the environment: any thread, no shared state. */
int vr_source_headers(const struct vr_source *s, char **out, char *err, size_t errlen);

/* Confinement of an origin's local source: path, links followed
 * (realpath), must lie under root, also resolved. Returns 0 with the
 * resolved path in real (open it with O_NOFOLLOW), or VR_ENOTFOUND (root
 * unresolvable, path missing, or outside the root) or VR_EIO (path
 * unresolvable otherwise) with err saying why, without naming path: the
 * caller prefixes "PATH: ". Touches only its arguments: any thread. */
int vr_origin_confine(const char *root, const char *path, char real[PATH_MAX], char *err,
		      size_t errlen);

/* ---- building blocks (exposed for reuse and unit tests) ---- */

/* The match regex: struct vr_pattern, vr_pattern_compile, vr_pattern_exec
 * (lib/request/pattern.h). */

enum vr_expand_flags {
	VR_EXPAND_ENV = 1,        /* allow ${env:NAME} */
	VR_EXPAND_URL_ENCODE = 2, /* percent-encode captures for a URL */
	VR_EXPAND_PCT_DECODE = 4, /* percent-decode captures for a path */
	VR_EXPAND_KEEP_ENV = 8,   /* copy ${env:NAME} as it is (name checked) and
				   * write every other '$' as "$$": the result is
				   * a template for a later VR_EXPAND_ENV pass */
};

/* What vr_template_expand returns besides 0. */
enum { VR_EXPAND_BAD = -1,   /* unknown group, stray '$', output longer than outlen */
       VR_EXPAND_UNSET = -2  /* an unset ${env:NAME}: the caller's environment */ };

/* Expand a template. p/subject/m may be NULL when there are no captures.
 * Returns 0, or VR_EXPAND_BAD or VR_EXPAND_UNSET with err. */
int vr_template_expand(const char *tmpl, const struct vr_pattern *p, const char *subject,
		       const regmatch_t *m, int flags, char *out, size_t outlen, char *err,
		       size_t errlen);

/* Percent-decode n bytes of in; "%00" and malformed escapes stay as they
 * are. Returns the length written (out gets a NUL), or -1 if too long. */
long vr_percent_decode(const char *in, size_t n, char *out, size_t outlen);

/* The default confinement root of a local template: its literal text
 * before the first '$', up to the last '/' ("/srv/media/$1" -> "/srv/media",
 * "$1" -> "."). */
void vr_template_root(const char *tmpl, char *out, size_t outlen);

/* Check one "Name: value" header line: a token name, no CR/LF/NUL, and
 * not a header vr-fetch manages itself (Range). 0 or -1 with err. */
int vr_header_check(const char *line, char *err, size_t errlen);

/* in with the user information of a URL (user:password@) and the values
 * of a presigned URL's X-Amz-Credential, X-Amz-Signature and
 * X-Amz-Security-Token shown as "***", so that credentials reach no
 * message, metrics field or listing; other text is copied as it is (cut
 * at outlen). Returns out. The one redaction every module uses. */
const char *vr_url_redact(const char *in, char *out, size_t outlen);

#endif
