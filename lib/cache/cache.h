/* The cache: what a CDN video resizer does per request.
 *
 *   key     canonical source (origin resolution applied, cache-busting `v`
 *           and bypass flags removed) + the source's version + canonical
 *           transform parameters (vr_params_canonical), or "raw" when the
 *           request has no transform (the source bytes are cached)
 *   hit     stream the entry, or only the chunks a range needs, from the
 *           store
 *   miss    fetch -> transform -> one stream that goes to the output and
 *           into the store writer at once (no second copy of the body, no
 *           buffering of the whole); with a range, the whole output is
 *           still stored and only the range is written; a closed output
 *           does not stop the store write; a failed store write does not
 *           stop the output (a warning, or VR_EIO with strict)
 *   coalesce concurrent requests for one key across processes: the one
 *           that takes the store's key lock runs the miss, the others wait
 *           for the entry to be ready and stream it (within `wait`), and
 *           take over when the leader dies
 *   negative a source that is not found is remembered for the origin's
 *           client-error TTL, a transient failure for its server-error
 *           TTL, a variant whose source turned out bad (exit 3 or 8 once
 *           the source was read) under the variant's key for
 *           ttl-bad-source, in a bounded in-process map and in the store
 *   policy  sliding TTL on hits, entries without expiry, and the fallback
 *           to the original (lib/cache/policy.h)
 *
 * One struct vr_cache per thread: it owns a store connection, and the
 * cfg and store path in its options are borrowed (they must outlive it).
 * The in-process negative map is process-wide and locked (one mutex):
 * every vr_cache of every thread shares it, as does
 * vr_cache_negative_stats. */
#ifndef VR_CACHE_H
#define VR_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "http.h"
#include "params.h"
#include "range.h"

struct vr_config;

#define VR_CACHE_KEY_MAX 4096

struct vr_cache_opts {
	const char *store_path;      /* NULL: the default store */
	const struct vr_config *cfg; /* origins, TTLs ([cache], [origin]), limits, derivatives */
	const struct vr_limits *limits;
	double wait;                 /* seconds a follower waits for the leader (default 60) */
	int no_wait_fallback;        /* past wait: transform without storing instead of VR_ETIMEOUT */
	int bypass;                  /* skip the lookup, store the fresh result */
	int no_store;                /* skip the lookup and the store */
	int no_create;               /* keys only (--print-key, warm --dry-run): a store
				      * that does not exist is not created, and its
				      * sources are at version 0 */
	int strict;                  /* a failed store write is VR_EIO, not a warning */
	const char *const *tags;     /* extra tags for stored entries */
	size_t ntags;
	double transform_timeout;    /* stall timeout of one transform, seconds */
	double job_timeout;          /* wall seconds for one miss's fetch or transform; 0 none */
	int no_query_bypass;         /* the bypass flags of a request's query ([request]
				      * bypass-names, nocache/bypass by default) are ignored
				      * (an HTTP origin whose config does not allow them) */
	int progress;                /* a miss draws the transform's progress line on
				      * stderr (vr-cache get; a hit draws nothing) */
};

/* An answer to an HTTP client (vr-cache cgi). The head goes on out_fd
 * before the body, as a CGI head, and HTTP's rules apply:
 *   a stored entry  answers with its validators (a strong ETag from its
 *                   checksum, Last-Modified from its publication), after
 *                   the request's preconditions (RFC 9110 13.2.2: 304,
 *                   412, If-Range); HEAD reads no chunk; several ranges
 *                   are multipart/byteranges
 *   a miss          a plain GET streams the transform's output as it is
 *                   made: no validator, no length, Cache-Control:
 *                   no-store, Accept-Ranges: none; the store receives the
 *                   seekable (progressive) version of the same packets.
 *                   A range, a precondition or HEAD waits for the entry
 *                   and is answered from it, so every answer that carries
 *                   a validator carries the stored bytes
 *   a damaged entry found before the head went out is dropped and the
 *                   request becomes a miss */
struct vr_cache_http {
	int head_only;                  /* HEAD */
	struct vr_http_conditions cond; /* the request's If-* headers */
	const char *extra_headers;      /* "Name: value\r\n" lines for every answer
					 * (CORS, Content-Disposition); NULL none */
	int key_header;                 /* send X-Cache-Key */
	const char *filename;           /* a download's name: Content-Disposition; NULL none */
};

struct vr_cache_request {
	const char *source;            /* path, URL or request path, maybe with ?query */
	const struct vr_params *params; /* finalized options, or NULL: from the query alone */
	const struct vr_range_set *range; /* NULL: the whole body */
	int out_fd;                    /* -1: discard the body (warm) */
	int headers, json;             /* print the response head / facts on stderr */
	int multipart;                 /* several ranges as multipart/byteranges */
	const char *boundary;          /* its boundary; NULL or "": a fresh one */
	const struct vr_cache_http *http; /* NULL: not an HTTP answer (see above) */
};

enum vr_cache_result {
	VR_CACHE_HIT,
	VR_CACHE_MISS,
	VR_CACHE_COALESCED, /* served what another process's miss stored */
	VR_CACHE_BYPASS,
	VR_CACHE_NEGATIVE,  /* a remembered failure, answered without fetching */
	VR_CACHE_ERROR,
};

struct vr_cache_outcome {
	enum vr_cache_result result;
	int status;                  /* vr_status of the request */
	char key[VR_CACHE_KEY_MAX];
	uint64_t bytes_out;          /* written to out_fd */
	uint64_t bytes_in;           /* read from the source by this request's fetch or
				      * transform (0 when it ran none: a hit) */
	uint64_t bytes_stored;
	double wall_ms, ttfb_ms, transform_ms, store_ms;
	int transformed;             /* this request ran fetch/transform */
	char error[512];
	int store_failed;            /* served, but the entry was not stored */
	char store_error[512];
	/* HTTP answers */
	int http_status;             /* the status sent, 0 none yet */
	int head_sent;               /* the head went out (an error can no longer be answered) */
	int head_printed;            /* --headers/--json: the answer's head or object went
				      * to stderr (a failure before it prints its own) */
	int64_t size;                /* the entry's size, -1 unknown (Content-Range of a 416) */
	int busy;                    /* gave up waiting for another process (503, not 504) */
	int fallback;                /* the variant could not be made: the source's own
				      * bytes were served (fallback = original), from
				      * the raw entry; error keeps why */
};

struct vr_cache;

int vr_cache_open(struct vr_cache **c, const struct vr_cache_opts *o, char *err, size_t errlen);
void vr_cache_close(struct vr_cache *c);

/* The key a request maps to: 0 or a vr_status with err. */
int vr_cache_key(struct vr_cache *c, const struct vr_cache_request *r, char *key, size_t len,
		 char *err, size_t errlen);

/* Serve one request; the outcome says how. Returns outcome->status. */
int vr_cache_get(struct vr_cache *c, const struct vr_cache_request *r,
		 struct vr_cache_outcome *out);

/* Is a fresh entry present for the request's key? 1 yes, 2 a remembered
 * failure (vr_cache_get answers it at once, as a failure), 0 neither; for
 * warm to skip hits without opening them. */
int vr_cache_fresh(struct vr_cache *c, const struct vr_cache_request *r);

const char *vr_cache_result_name(enum vr_cache_result r);

/* The transform part of SOURCE's query (for a command that merges it with
 * its options before finalizing the parameters). */
int vr_cache_source_query(const struct vr_config *cfg, const char *source, char *query,
			  size_t len, char *err, size_t errlen);
/* SOURCE's canonical form, as in keys and in the source:... tag. */
int vr_cache_canonical_source(const struct vr_config *cfg, const char *source, char *out,
			      size_t len, char *err, size_t errlen);

/* Forget the remembered failures of a source (canonical, as
 * vr_cache_canonical_source gives it), every version and variant, in the
 * store; this process's map forgets them as they expire. 0 or a
 * vr_status; *count (may be NULL) gets how many. For purge --source. */
struct vr_store;
int vr_cache_forget_source(struct vr_store *st, const char *canonical, uint64_t *count);

/* Remove the temporary progressive copies (vr-miss-PID-*) in $TMPDIR
 * (else /tmp) whose process is gone: a miss killed with SIGKILL leaves
 * one. Returns 0; *removed says how many. */
int vr_cache_sweep_temp(uint64_t *removed);

/* The remembered-failures map of this process (size, evictions). */
struct vr_lru_stats;
void vr_cache_negative_stats(struct vr_lru_stats *s);

#endif
