/* AWS Signature Version 4: the canonical request, the string to sign, the
 * signing key and the signature, as an Authorization header or as the
 * query of a presigned URL. Pure: no clock, no environment, no I/O; the
 * caller gives the time ("YYYYMMDDTHHMMSSZ") and the credentials.
 * SHA-256 and HMAC-SHA256 come from libcrypto (OpenSSL).
 *
 * Path rules: for S3 (req.s3) the path as sent is percent-decoded and
 * encoded once (S3 keys are not normalized, nor encoded twice); for any
 * other service it is normalized (empty and "." segments dropped, ".."
 * taken back) and every byte but the unreserved ones and '/' encoded, so
 * an already encoded path is encoded twice, as AWS services expect.
 *
 * Contract: strings returned through char ** are malloc'd (free them);
 * out of memory ends the process (vr_oom). Secrets are only read: nothing
 * here logs or keeps them, and the signing key is wiped after use. Any
 * thread: there is no shared state. */
#ifndef VR_SIGV4_H
#define VR_SIGV4_H

#include <stddef.h>
#include <time.h>

#define VR_SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
/* the hash of an empty payload, a GET's */
#define VR_SIGV4_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
/* what a presigned URL signs for the payload */
#define VR_SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
#define VR_SIGV4_PRESIGN_MAX 604800u /* seconds a presigned URL may live: 7 days */

struct vr_sigv4_cred {
	const char *access_key;
	const char *secret_key;
	const char *session_token; /* NULL or "": none */
	const char *region;
	const char *service;       /* "s3" for S3 and its look-alikes */
};

struct vr_sigv4_req {
	const char *method;        /* "GET" */
	const char *path;          /* as sent, without the query; "" is "/" */
	const char *query;         /* as sent, without '?'; NULL or "": none */
	const char *const *headers; /* "Name: value" lines to sign (Host among them) */
	size_t nheaders;
	const char *payload_hash;  /* hex SHA-256 of the body, or UNSIGNED-PAYLOAD */
	int s3;                    /* the S3 path rule (see above) */
};

/* t as "YYYYMMDDTHHMMSSZ" (UTC). */
void vr_sigv4_amz_date(time_t t, char out[17]);

/* The canonical request (six lines joined by '\n'), and the signed header
 * list ("host;x-amz-date") when signed is not NULL. */
void vr_sigv4_canonical_request(const struct vr_sigv4_req *r, char **creq, char **signed_headers);

/* The string to sign for a canonical request at amz_date, in scope
 * "DATE/REGION/SERVICE/aws4_request". */
void vr_sigv4_string_to_sign(const char *amz_date, const char *scope, const char *creq,
			     char **out);

/* The signing key: HMAC chain over date (YYYYMMDD), region, service,
 * "aws4_request", keyed by "AWS4" + secret. */
void vr_sigv4_signing_key(const char *secret, const char *date, const char *region,
			  const char *service, unsigned char key[32]);

/* The Authorization header value ("AWS4-HMAC-SHA256 Credential=..., SignedHeaders=...,
 * Signature=...") for r at amz_date. */
void vr_sigv4_authorization(const struct vr_sigv4_cred *c, const char *amz_date,
			    const struct vr_sigv4_req *r, char **out);

/* The query of a presigned URL for r: r->query's own parameters, then
 * X-Amz-Algorithm, -Credential, -Date, -Expires, -SignedHeaders (and
 * -Security-Token), and last X-Amz-Signature. r->payload_hash is normally
 * UNSIGNED-PAYLOAD; expires is in seconds (1..VR_SIGV4_PRESIGN_MAX, the
 * caller checks). */
void vr_sigv4_presign_query(const struct vr_sigv4_cred *c, const char *amz_date,
			    unsigned expires, const struct vr_sigv4_req *r, char **out);

/* Lowercase hex SHA-256 of n bytes. */
/* 1 when libcrypto (opened on the first call) is there to sign with;
 * the functions below need it, and end the process (vr_oom) without. */
int vr_sigv4_ready(void);

void vr_sigv4_sha256_hex(const void *p, size_t n, char hex[65]);

/* n bytes percent-encoded the SigV4 way: A-Z a-z 0-9 - . _ ~ as they
 * are, '/' too when keep_slash, every other byte as %XX (upper case). */
char *vr_sigv4_uri_encode(const char *p, size_t n, int keep_slash);

#endif
