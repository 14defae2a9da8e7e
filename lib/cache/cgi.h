/* vr-cache cgi: the cache as an HTTP origin behind any web server that
 * runs CGI programs (RFC 3875). One request per process: read it from the
 * CGI variables (lib/request/cgi), refuse what a client may not ask for,
 * answer through vr_cache_get with the head first on stdout, and map a
 * failure that happened before the head to an HTTP status with a short
 * plain-text body that names no path:
 *
 *   exit status                       HTTP
 *   0                                 200, 206, 304, 412 (the request's)
 *   2 usage, 3 a bad query value      400
 *   3 the source's data is bad        502
 *   4 range not satisfiable           416 (Content-Range: bytes * /SIZE)
 *   5 not found, no origin matches    404
 *   6 the origin or store failed      502
 *   7 waited for another process      503 (Retry-After)
 *   7 origin or transform timed out   504
 *   8 a limit exceeded                422
 *   1, anything else                  500
 *   a method not GET, HEAD, OPTIONS   405 (Allow)
 *
 * Contract: cfg and lim are borrowed for the call; one call per process
 * (it writes on fd 1). */
#ifndef VR_CACHE_CGI_H
#define VR_CACHE_CGI_H

struct vr_config;
struct vr_limits;

struct vr_cgi_opts {
	const char *store_path;      /* NULL: $VR_STORE, else the default store */
	const struct vr_config *cfg;
	const struct vr_limits *limits;
	double wait;                 /* seconds to wait for another process's miss */
	double transform_timeout;    /* stall timeout */
};

/* Answer the request in the environment: the exit status (above). */
int vr_cgi_serve(const struct vr_cgi_opts *o);

/* The HTTP status of a failed answer (the table above). transformed: the
 * failure came from the source or the transform; busy: a wait for another
 * process ran out. */
int vr_cgi_error_status(int exit_status, int transformed, int busy);

#endif
