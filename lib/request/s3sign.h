/* The request for one attempt on an http source: the URL to open and the
 * header lines to send, the source's configured headers with their
 * ${env:NAME} read now and, for a source of an origin with s3-* keys
 * (vr.conf(5), S3 SOURCES), an AWS Signature Version 4 made for this
 * moment: either x-amz-date, x-amz-content-sha256 (the empty body's
 * hash), x-amz-security-token and Authorization headers, or a presigned
 * URL that lives s3-presign seconds. Signed: host, the x-amz-* headers;
 * not Range, so that one signature serves any range.
 *
 * The credentials are read from the environment here, per request, and
 * wiped from memory once signed; no message names a value, only the
 * variable and the origin. A presigned URL's credential and signature
 * are hidden from messages by vr_url_redact.
 *
 * Contract: *url and *headers are malloc'd (free them); any thread (reads
 * the environment, no shared state). */
#ifndef VR_S3SIGN_H
#define VR_S3SIGN_H

#include <stddef.h>
#include <time.h>

struct vr_source;

/* method: the request's method ("GET", "HEAD"), which the signature
 * covers. now: the signing time (time(NULL)). *url: what to open (s->location,
 * or the presigned URL); *headers: "Name: value\r\n" lines or NULL.
 * Returns 0, or VR_EDATA with err (an unset variable, a control
 * character in a header or credential, a URL S3 signing cannot take). */
int vr_source_request(const struct vr_source *s, const char *method, time_t now, char **url,
		      char **headers, char *err, size_t errlen);

/* What an HTTP 403 from a signed source means, for messages: "HTTP 403:
 * the S3 request signature or credentials of origin \"NAME\" were
 * rejected ...; check ..." into out. Returns out. */
const char *vr_s3_rejected_text(const char *origin, char *out, size_t len);

#endif
