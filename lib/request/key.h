/* Cache keys: one function builds every key of the toolset.
 *
 *   "vr1|" canonical source "|" version "|" canonical parameters or "raw"
 *          ["&v=" the request's cache-busting v]
 *
 * The canonical source says which bytes a request reads, whatever way it
 * was written: "origin:NAME:/request/path" when a configured [origin]
 * matched (the query dropped; the path with unreserved characters
 * percent-decoded, other escapes in uppercase hex, and repeated slashes
 * as one), the URL without its cache-busting `v`, the ignored names, its
 * bypass flags and its transform parameters for http(s) sources, and the
 * real path for local files. The version is the source's invalidation
 * count (vr_store_source_version).
 *
 * Contract: results go into the caller's buffers; res, when given, owns
 * its strings (vr_resolved_free). No shared state: any thread. */
#ifndef VR_KEY_H
#define VR_KEY_H

#include <stddef.h>
#include <stdint.h>

struct vr_config;
struct vr_resolved;

#define VR_KEY_SOURCE_MAX 3072
#define VR_KEY_QUERY_MAX 4096
#define VR_KEY_VERSION_MAX 388 /* a v of at most 128 bytes, each as %XX */

struct vr_key_source {
	char canonical[VR_KEY_SOURCE_MAX]; /* the source's part of the key */
	char locator[VR_KEY_SOURCE_MAX];   /* what lib/request/origin resolves and fetches */
	char query[VR_KEY_QUERY_MAX];      /* the transform part of the query ("" none),
					    * with v/nocache/bypass kept so that
					    * vr_params_parse_query reports them */
	char origin[64];                   /* the matched origin, "" none */
	char v[VR_KEY_VERSION_MAX];        /* the query's cache-busting v, decoded and
					    * re-encoded (all but unreserved bytes
					    * as %XX); "" none */
};

/* Split SOURCE (a path, URL or request path with an optional ?query) and
 * resolve it through cfg's origins; with res non-NULL the candidates are
 * left there (free with vr_resolved_free). Returns 0 or a vr_status with
 * err (VR_EUSAGE for stdin, which cannot be cached). */
int vr_key_source(const struct vr_config *cfg, const char *source, struct vr_key_source *ks,
		  struct vr_resolved *res, char *err, size_t errlen);

/* The key: returns its length, or -1 when it does not fit len. params
 * NULL or "" means the raw source bytes; v (NULL or "": none) the
 * cache-busting v of vr_key_source, which makes its own entry. */
int vr_key_make(const char *canonical_source, int64_t version, const char *params,
		const char *v, char *out, size_t len);

/* Is name a name of the parameter table or a cache flag of a query string
 * (so it is taken out of an http source's URL)? */
int vr_key_query_name(const char *name, size_t n);

#endif
