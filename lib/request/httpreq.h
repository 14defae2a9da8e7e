/* The request of a CGI program (RFC 3875): method, path, query and the
 * request headers vr answers by, read from the CGI variables; and the
 * policy of an HTTP origin from the config's [http] section. vr-cache cgi
 * (lib/cache/cgi) answers what this reads.
 *
 *   path     the path of REQUEST_URI, percent-decoded (what the client
 *            asked for, on every server), else SCRIPT_NAME + PATH_INFO;
 *            a path with a dot segment, a NUL, '?', '#' or a control
 *            character is refused (400)
 *   query    QUERY_STRING with the `filename` parameter taken out (it
 *            names a download, not a variant: it is not in the key)
 *   headers  HTTP_RANGE, HTTP_IF_MATCH, HTTP_IF_NONE_MATCH,
 *            HTTP_IF_MODIFIED_SINCE, HTTP_IF_UNMODIFIED_SINCE,
 *            HTTP_IF_RANGE, HTTP_ORIGIN, HTTP_CACHE_CONTROL,
 *            HTTP_ACCESS_CONTROL_REQUEST_METHOD
 *
 * Contract: a vr_cgi_request borrows the variables' strings (from the
 * getter; getenv's live as long as the process); the rest is copied. Pure
 * otherwise: any thread. */
#ifndef VR_HTTPREQ_H
#define VR_HTTPREQ_H

#include <stddef.h>

#include "http.h"

struct vr_config;

#define VR_CGI_PATH_MAX 2048
#define VR_CGI_QUERY_MAX 4096
#define VR_CGI_FILENAME_MAX 200

struct vr_cgi_request {
	const char *method;                 /* REQUEST_METHOD, "" when unset */
	char path[VR_CGI_PATH_MAX];
	char query[VR_CGI_QUERY_MAX];
	char filename[VR_CGI_FILENAME_MAX]; /* the filename parameter, decoded; "" none */
	const char *range;                  /* NULL: absent */
	struct vr_http_conditions cond;
	const char *origin;                 /* Origin */
	const char *cache_control;          /* Cache-Control */
	const char *preflight_method;       /* Access-Control-Request-Method */
};

/* Read the request through get (getenv, or a test's table). Returns 0, or
 * VR_EUSAGE with err saying what is wrong (answered 400). */
int vr_cgi_read(struct vr_cgi_request *r, char *(*get)(const char *name), char *err,
		size_t errlen);

/* [http] of the config: what an HTTP client may ask for. */
struct vr_http_policy {
	char cors_origins[2048]; /* "" none, "*" any, else a space/comma list */
	double cors_max_age;     /* seconds a preflight may be cached */
	int allow_bypass;        /* the query's nocache/bypass and Cache-Control: no-cache */
	int key_header;          /* send X-Cache-Key */
};

/* 0, or VR_EDATA with err naming the file, line and key. */
int vr_http_policy_load(struct vr_http_policy *p, const struct vr_config *cfg, char *err,
			size_t errlen);

/* The CORS header lines for a request from origin (NULL: not a CORS
 * request) into buf ("" when none apply). */
void vr_http_cors(char *buf, size_t len, const struct vr_http_policy *p, const char *origin);

/* Does a Cache-Control request header ask for no cached answer
 * (no-cache, no-store, max-age=0)? */
int vr_http_no_cache(const char *cache_control);

/* Content-Disposition for a download named name (RFC 6266): attachment,
 * an ASCII filename (characters outside [A-Za-z0-9._-] become '_') with
 * the extension of content_type in place of any the name had, and the
 * UTF-8 name as filename*. "" when name is empty. */
void vr_http_content_disposition(char *buf, size_t len, const char *name,
				 const char *content_type);

#endif
