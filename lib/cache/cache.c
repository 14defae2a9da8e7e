/* The cache orchestration (see cache.h): key, lookup, leader election on
 * the store's key lock, the miss (a producer feeding lib/cache/tee), followers
 * that poll for the leader's entry, and remembered failures. */
#include "cache.h"
#include "config.h"
#include "httpreq.h"
#include "defaults.h"
#include "fetch.h"
#include "io.h"
#include "json.h"
#include "key.h"
#include "lifecycle.h"
#include "log.h"
#include "lru.h"
#include "metrics.h"
#include "mime.h"
#include "num.h"
#include "origin.h"
#include "policy.h"
#include "response.h"
#include "status.h"
#include "store.h"
#include "tee.h"
#include "transform.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <inttypes.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NEG_LRU_MAX 4096      /* remembered failures held in memory */
#define MAX_DERIVED_TAGS 5

struct vr_cache {
	struct vr_cache_opts o;
	struct vr_limits lim;
	struct vr_store *st;
	int store_tried;
	char store_err[512];
	unsigned char *buf; /* the one read buffer of a miss */
};

/* What one request resolves to. */
struct plan {
	struct vr_key_source ks;
	struct vr_resolved res;
	struct vr_params p;
	int raw;
	int bypass;
	char params[VR_PARAMS_CANONICAL_MAX];
	char key[VR_CACHE_KEY_MAX];
	char negkey[VR_CACHE_KEY_MAX];
	int64_t version;
	double ttl_ok, ttl_client, ttl_server;
	struct vr_cache_policy pol;
	int fallback;               /* the raw plan of a fallback: stored, then served */
	char content_type[VR_MIME_MAX + 1];
	char tagbuf[MAX_DERIVED_TAGS][VR_STORE_TAG_MAX + 1];
	const char *tags[MAX_DERIVED_TAGS + VR_STORE_TAGS_MAX];
	size_t ntags;
};

/* ---- remembered failures in memory: one map per process ---- */

struct negative {
	int status;
	int64_t expires;
	char msg[400];
};

static struct vr_lru *neg_lru;
static pthread_once_t neg_once = PTHREAD_ONCE_INIT;
/* A value is read after vr_lru_get returns it: this keeps another thread
 * (warm's workers) from replacing and freeing it meanwhile. */
static pthread_mutex_t neg_mu = PTHREAD_MUTEX_INITIALIZER;

static void neg_free(void *ctx, const void *key, size_t keylen, void *value, enum vr_lru_reason why)
{
	(void)ctx, (void)key, (void)keylen, (void)why;
	free(value);
}

static void neg_init(void) { neg_lru = vr_lru_new(NEG_LRU_MAX, 0, neg_free, NULL); }

void vr_cache_negative_stats(struct vr_lru_stats *s)
{
	pthread_once(&neg_once, neg_init);
	memset(s, 0, sizeof *s);
	if (neg_lru)
		vr_lru_stats(neg_lru, s);
}

static void neg_remember(const char *key, int status, const char *msg, int64_t expires)
{
	pthread_once(&neg_once, neg_init);
	struct negative *n = calloc(1, sizeof *n);
	if (!neg_lru || !n) {
		free(n);
		return;
	}
	n->status = status;
	n->expires = expires;
	snprintf(n->msg, sizeof n->msg, "%s", msg);
	void *old = NULL;
	pthread_mutex_lock(&neg_mu);
	if (!vr_lru_set(neg_lru, key, strlen(key), n, &old))
		free(n);
	free(old);
	pthread_mutex_unlock(&neg_mu);
}

/* A success for key: its remembered failure, if any, is forgotten, so that
 * the entry just made is not shadowed by a failure it proved stale. */
static void neg_forget(struct vr_cache *c, const char *key)
{
	pthread_once(&neg_once, neg_init);
	if (neg_lru) {
		void *gone = NULL;
		pthread_mutex_lock(&neg_mu);
		if (vr_lru_delete(neg_lru, key, strlen(key), 0, &gone))
			free(gone);
		pthread_mutex_unlock(&neg_mu);
	}
	int status;
	int64_t expires;
	char msg[8];
	/* a read first: the common success has nothing to forget, and no write */
	if (c->st && !c->o.no_store &&
	    vr_store_negative_get(c->st, key, strlen(key), &status, msg, sizeof msg, &expires) == 0)
		vr_store_negative_clear(c->st, key, strlen(key));
}

/* 1 with status/msg when key's failure is remembered (memory, then store). */
static int neg_lookup(struct vr_cache *c, const char *key, int *status, char *msg, size_t msglen)
{
	pthread_once(&neg_once, neg_init);
	int64_t now = time(NULL);
	if (neg_lru) {
		uint64_t id = 0;
		int found = 0;
		pthread_mutex_lock(&neg_mu);
		struct negative *n = vr_lru_get(neg_lru, key, strlen(key), &id);
		if (n && n->expires > now) {
			*status = n->status;
			snprintf(msg, msglen, "%s", n->msg);
			found = 1;
		} else if (n) {
			void *gone = NULL;
			if (vr_lru_delete(neg_lru, key, strlen(key), id, &gone))
				free(gone);
		}
		pthread_mutex_unlock(&neg_mu);
		if (found)
			return 1;
	}
	if (c->st) {
		int64_t expires = 0;
		if (vr_store_negative_get(c->st, key, strlen(key), status, msg, msglen, &expires) == 0) {
			neg_remember(key, *status, msg, expires);
			return 1;
		}
	}
	return 0;
}

/* A remembered failure of the plan: its source's (not found, transient),
 * then its variant's (a bad source). */
static int plan_negative(struct vr_cache *c, const struct plan *pl, int *status, char *msg,
			 size_t msglen)
{
	return neg_lookup(c, pl->negkey, status, msg, msglen) ||
	       (!pl->raw && neg_lookup(c, pl->key, status, msg, msglen));
}

int vr_cache_forget_source(struct vr_store *st, const char *canonical, uint64_t *count)
{
	char key[VR_CACHE_KEY_MAX];
	if (count)
		*count = 0;
	if (vr_key_make(canonical, 0, NULL, NULL, key, sizeof key) < 0)
		return 0; /* too long for a key: nothing was remembered under it */
	/* "vr1|SOURCE|": every version and variant of the source */
	return vr_store_negative_clear_prefix(st, key, 4 + strlen(canonical) + 1, count);
}

/* ---- opening ---- */

static const char *const ttl_keys[] = {"ttl-ok", "ttl-client-error", "ttl-server-error", NULL};

/* The [cache] keys: the TTLs here and the policy's. */
static int check_cache_keys(const struct vr_config *cfg, char *err, size_t errlen)
{
	const char *keys[32];
	size_t n = 0;
	for (const char *const *k = ttl_keys; *k && n < 31; k++)
		keys[n++] = *k;
	for (const char *const *k = vr_cache_policy_keys; *k && n < 31; k++)
		keys[n++] = *k;
	keys[n] = NULL;
	return vr_config_check_keys(cfg, "cache", NULL, keys, err, errlen);
}

int vr_cache_open(struct vr_cache **out, const struct vr_cache_opts *o, char *err, size_t errlen)
{
	*out = NULL;
	struct vr_cache *c = calloc(1, sizeof *c);
	if (!c || !(c->buf = malloc(VR_IO_BUFSIZE))) {
		free(c);
		snprintf(err, errlen, "out of memory");
		return VR_EFAIL;
	}
	c->o = *o;
	if (c->o.wait <= 0 && c->o.wait != 0)
		vr_parse_seconds(VR_DEFAULT_CACHE_WAIT, &c->o.wait);
	if (c->o.transform_timeout <= 0)
		vr_parse_seconds(VR_DEFAULT_STALL_TIMEOUT, &c->o.transform_timeout);
	int rc = 0;
	if (o->limits)
		c->lim = *o->limits;
	else
		rc = vr_limits_load(&c->lim, o->cfg, err, errlen);
	if (!rc && o->cfg)
		rc = check_cache_keys(o->cfg, err, errlen);
	if (rc) {
		vr_cache_close(c);
		return rc;
	}
	pthread_once(&neg_once, neg_init);
	*out = c;
	return 0;
}

void vr_cache_close(struct vr_cache *c)
{
	if (!c)
		return;
	vr_store_close(c->st);
	free(c->buf);
	free(c);
}

/* The store, opened on first use; NULL (with c->store_err) when it cannot
 * be: a request is then served without it. */
static struct vr_store *cache_store(struct vr_cache *c)
{
	if (!c->store_tried) {
		c->store_tried = 1;
		int rc = c->o.no_store || c->o.no_create
				 ? vr_store_open_existing(&c->st, c->o.store_path, c->store_err,
							  sizeof c->store_err)
				 : vr_store_open(&c->st, c->o.store_path, c->store_err, sizeof c->store_err);
		if (rc)
			c->st = NULL;
	}
	return c->st;
}

const char *vr_cache_result_name(enum vr_cache_result r)
{
	static const char *const names[] = {"hit", "miss", "coalesced", "bypass", "negative", "error"};
	return (unsigned)r < sizeof names / sizeof *names ? names[r] : "error";
}

/* ---- planning a request ---- */

static const char *format_type(enum vr_format f)
{
	switch (f) {
	case VR_FORMAT_WEBM: return "video/webm";
	case VR_FORMAT_JPG: return "image/jpeg";
	case VR_FORMAT_PNG: return "image/png";
	case VR_FORMAT_WEBP: return "image/webp";
	case VR_FORMAT_M4A: return "audio/mp4";
	default: return "video/mp4";
	}
}

static int ttl_get(const struct vr_config *cfg, const char *origin, const char *key, double *out,
		   char *err, size_t errlen)
{
	int rc = vr_config_seconds(cfg, "cache", NULL, key, out, err, errlen);
	if (!rc && origin && *origin)
		rc = vr_config_seconds(cfg, "origin", origin, key, out, err, errlen);
	return rc;
}

static void add_tag(struct plan *pl, size_t slot, const char *fmt, const char *a, const char *b)
{
	/* a long source is cut to the store's tag bound, as purge --source cuts it */
	int n = snprintf(pl->tagbuf[slot], sizeof pl->tagbuf[slot], fmt, a, b ? b : "");
	if (n > 0)
		pl->tags[pl->ntags++] = pl->tagbuf[slot];
}

static void plan_free(struct plan *pl)
{
	if (pl) {
		vr_resolved_free(&pl->res);
		free(pl);
	}
}

static void plan_describe(struct vr_cache *c, struct plan *pl);

static int plan_build(struct vr_cache *c, const struct vr_cache_request *r, struct plan **out,
		      char *err, size_t errlen)
{
	struct plan *pl = calloc(1, sizeof *pl);
	*out = pl;
	if (!pl) {
		snprintf(err, errlen, "out of memory");
		return VR_EFAIL;
	}
	int rc = vr_key_source(c->o.cfg, r->source, &pl->ks, &pl->res, err, errlen);
	if (rc)
		return rc;
	/* the query says whether to bypass, and is the transform when no
	 * options were given */
	struct vr_params q;
	vr_params_init(&q);
	if (pl->ks.query[0] &&
	    (rc = vr_params_parse_query(&q, &c->lim, pl->ks.query, &pl->bypass, err, errlen)))
		return rc;
	if (r->params) {
		pl->p = *r->params;
	} else if (q.set) {
		pl->p = q;
		if ((rc = vr_params_finalize(&pl->p, &c->lim, c->o.cfg, err, errlen)))
			return rc;
	} else {
		pl->raw = 1;
	}
	/* the origin's defaults, for what neither the request nor its
	 * derivative gave: here, where the origin is known, for queries,
	 * options and job lines alike */
	if (!pl->raw &&
	    (rc = vr_params_origin_defaults(&pl->p, c->o.cfg, pl->ks.origin, err, errlen)))
		return rc;
	if (!pl->raw)
		vr_params_canonical(&pl->p, pl->params, sizeof pl->params);
	if (c->o.no_query_bypass)
		pl->bypass = 0;
	if (c->o.bypass)
		pl->bypass = 1;
	if (cache_store(c) && (rc = vr_store_source_version(c->st, pl->ks.canonical, &pl->version))) {
		snprintf(err, errlen, "%s", vr_store_error(c->st));
		return rc;
	}
	if (vr_key_make(pl->ks.canonical, pl->version, pl->raw ? NULL : pl->params, pl->ks.v,
			pl->key, sizeof pl->key) < 0 ||
	    vr_key_make(pl->ks.canonical, pl->version, "negative", NULL, pl->negkey,
			sizeof pl->negkey) < 0) {
		snprintf(err, errlen, "source too long for a key");
		return VR_EUSAGE;
	}
	pl->ttl_ok = VR_DEFAULT_TTL_OK;
	pl->ttl_client = VR_DEFAULT_TTL_CLIENT_ERROR;
	pl->ttl_server = VR_DEFAULT_TTL_SERVER_ERROR;
	if (c->o.cfg &&
	    ((rc = ttl_get(c->o.cfg, pl->ks.origin, "ttl-ok", &pl->ttl_ok, err, errlen)) ||
	     (rc = ttl_get(c->o.cfg, pl->ks.origin, "ttl-client-error", &pl->ttl_client, err, errlen)) ||
	     (rc = ttl_get(c->o.cfg, pl->ks.origin, "ttl-server-error", &pl->ttl_server, err, errlen))))
		return rc;
	if ((rc = vr_cache_policy_load(&pl->pol, c->o.cfg, pl->ks.origin, pl->ttl_client, err,
				       errlen)))
		return rc;
	plan_describe(c, pl);
	return 0;
}

/* What the plan stores: its content type and tags. */
static void plan_describe(struct vr_cache *c, struct plan *pl)
{
	snprintf(pl->content_type, sizeof pl->content_type, "%s",
		 pl->raw ? vr_mime_from_path(pl->ks.locator) : format_type(pl->p.format));
	char ver[32];
	snprintf(ver, sizeof ver, "%lld", (long long)pl->version);
	pl->ntags = 0;
	add_tag(pl, 0, "source:%s%s", pl->ks.canonical, NULL);
	add_tag(pl, 1, "mode:%s%s", pl->raw ? "raw" : vr_mode_name(pl->p.mode), NULL);
	if (!pl->raw)
		add_tag(pl, 2, "format:%s%s", vr_format_name(pl->p.format), NULL);
	if (!pl->raw && pl->p.derivative[0])
		add_tag(pl, 3, "derivative:%s%s", pl->p.derivative, NULL);
	add_tag(pl, 4, "srcver:%s#%s", pl->ks.canonical, ver);
	for (size_t i = 0; i < c->o.ntags && pl->ntags < VR_STORE_TAGS_MAX; i++)
		pl->tags[pl->ntags++] = c->o.tags[i];
}

/* The variant's plan turned into its source's raw plan (a fallback to the
 * original): the raw key, type and tags, stored before it is served. */
static int plan_make_raw(struct vr_cache *c, struct plan *pl)
{
	pl->raw = 1;
	pl->fallback = 1;
	pl->bypass = 0; /* the bypass was the variant's; the raw entry may serve */
	pl->params[0] = '\0';
	if (vr_key_make(pl->ks.canonical, pl->version, NULL, pl->ks.v, pl->key, sizeof pl->key) < 0)
		return VR_EUSAGE;
	plan_describe(c, pl);
	return 0;
}

int vr_cache_key(struct vr_cache *c, const struct vr_cache_request *r, char *key, size_t len,
		 char *err, size_t errlen)
{
	struct plan *pl;
	int rc = plan_build(c, r, &pl, err, errlen);
	if (!rc)
		snprintf(key, len, "%s", pl->key);
	plan_free(pl);
	return rc;
}

/* One field of what the key sees of a source (its query, its canonical
 * name), copied out: 0 or a vr_status with err. */
static int source_field(const struct vr_config *cfg, const char *source, int canonical, char *out,
			size_t len, char *err, size_t errlen)
{
	struct vr_key_source *ks = malloc(sizeof *ks);
	if (!ks)
		return vr_errf(err, errlen, VR_EFAIL, "out of memory");
	int rc = vr_key_source(cfg, source, ks, NULL, err, errlen);
	if (!rc)
		snprintf(out, len, "%s", canonical ? ks->canonical : ks->query);
	free(ks);
	return rc;
}

int vr_cache_source_query(const struct vr_config *cfg, const char *source, char *query, size_t len,
			  char *err, size_t errlen)
{
	return source_field(cfg, source, 0, query, len, err, errlen);
}

int vr_cache_canonical_source(const struct vr_config *cfg, const char *source, char *out,
			      size_t len, char *err, size_t errlen)
{
	return source_field(cfg, source, 1, out, len, err, errlen);
}

/* ---- serving a stored entry ---- */

/* A hit's output: the shared sink (lib/base/io) and what it serves. */
struct sink {
	struct vr_sink out;
	struct vr_cache *c;
	const struct vr_entry *e;   /* the entry served (read snapshot open) */
};

static int sink_write(void *ctx, const void *buf, size_t n)
{
	struct sink *s = ctx;
	return vr_sink_write(&s->out, buf, n);
}

/* The bytes of one span of the entry, chunk by chunk. */
static int sink_span(void *ctx, const struct vr_span *sp)
{
	struct sink *s = ctx;
	return vr_store_read_span(s->c->st, s->e, sp->start, sp->end, 0, sink_write, s);
}

/* The planned body of the entry through the sink: 0 or the store's
 * failure (with out->error). */
static int sink_serve(struct sink *s, const struct vr_response *resp, struct vr_cache_outcome *out)
{
	struct vr_serve sv = {sink_write, sink_span, s};
	int sr = vr_response_serve(resp, &sv);
	if (!sr || sr == VR_STOP)
		return 0;
	snprintf(out->error, sizeof out->error, "%s", vr_store_error(s->c->st));
	return sr;
}

/* What the sink did, into the outcome; a failed write is VR_EIO when
 * nothing failed before it. */
static int sink_settle(const struct sink *s, int rc, struct vr_cache_outcome *out)
{
	if (!rc && s->out.error) {
		snprintf(out->error, sizeof out->error, "writing the output: %s", strerror(s->out.error));
		rc = VR_EIO;
	}
	out->bytes_out += s->out.bytes;
	if (s->out.first_byte_ms && !out->ttfb_ms)
		out->ttfb_ms = s->out.first_byte_ms;
	return rc;
}

static void cache_headers(char *hdr, size_t hlen, char *js, size_t jlen, const char *xcache,
			  const char *key, int64_t max_age, int64_t age, int fallback)
{
	snprintf(hdr, hlen,
		 "Cache-Control: max-age=%lld\r\nAge: %lld\r\nX-Cache: %s\r\nX-Cache-Key: %s\r\n%s",
		 (long long)max_age, (long long)age, xcache, key,
		 fallback ? "X-Fallback: original\r\n" : "");
	char ek[2 * VR_CACHE_KEY_MAX];
	vr_json_escape(ek, sizeof ek, key, strlen(key));
	snprintf(js, jlen, ",\"cache\":\"%s\",\"max_age\":%lld,\"age\":%lld,\"key\":\"%s\"%s", xcache,
		 (long long)max_age, (long long)age, ek, fallback ? ",\"fallback\":\"original\"" : "");
}

/* An entry's freshness as answers state it: max-age is its lifetime from
 * publication (RFC 9111 4.2.3: a downstream cache subtracts Age), or, for
 * an entry stored without expiry (store-indefinitely), the TTL from this
 * answer, with Age 0: vr holds it fresh for ever, so every answer is as
 * good as a revalidated one. */
static void entry_freshness(const struct plan *pl, const struct vr_entry *e, int64_t now,
			    int64_t *max_age, int64_t *age)
{
	*max_age = e->expires ? e->expires - e->created : (int64_t)pl->ttl_ok;
	*age = e->expires && now > e->created ? now - e->created : 0;
	if (*max_age < 0)
		*max_age = 0;
}

/* Stream e (read snapshot open) to r's output. */
static int serve_entry(struct vr_cache *c, const struct vr_cache_request *r, const struct plan *pl,
		       const struct vr_entry *e, struct vr_cache_outcome *out)
{
	struct vr_response *resp = calloc(1, sizeof *resp);
	char *hdr = malloc(VR_CACHE_KEY_MAX + 256), *js = malloc(2 * VR_CACHE_KEY_MAX + 256);
	int rc = VR_OK;
	if (!resp || !hdr || !js) {
		snprintf(out->error, sizeof out->error, "out of memory");
		rc = VR_EFAIL;
		goto done;
	}
	if (r->out_fd >= 0)
		vr_pipe_grow(r->out_fd); /* 1 MiB: a write per chunk, not sixteen */
	char boundary[80];
	if (r->boundary && r->boundary[0])
		snprintf(boundary, sizeof boundary, "%s", r->boundary);
	else
		vr_mime_boundary(boundary, sizeof boundary);
	int64_t max_age, age;
	entry_freshness(pl, e, time(NULL), &max_age, &age);
	cache_headers(hdr, VR_CACHE_KEY_MAX + 256, js, 2 * VR_CACHE_KEY_MAX + 256,
		      out->result == VR_CACHE_MISS ? "MISS" : "HIT", pl->key, max_age, age,
		      out->fallback);
	int pr = vr_response_plan(resp, r->range && r->range->n ? r->range : NULL, e->size,
				  r->multipart, e->content_type, boundary);
	resp->extra_headers = hdr;
	resp->extra_json = js;
	if (pr != VR_RANGE_OK) {
		if (r->range && r->range->n) {
			vr_response_print(resp, r->headers, r->json);
			out->head_printed = 1;
			vr_unsatisfiable_text(out->error, sizeof out->error, r->range, "the entry",
					      (int64_t)e->size, 0);
			rc = VR_ERANGE;
			goto done;
		}
		resp->n = 0; /* an empty entry: a complete, empty 200 */
	}
	vr_response_print(resp, r->headers, r->json);
	out->head_printed = 1;
	struct sink s = {.out = {.fd = r->out_fd}, .c = c, .e = e};
	if (r->out_fd >= 0)
		rc = sink_serve(&s, resp, out);
	rc = sink_settle(&s, rc, out);
done:
	free(resp);
	free(hdr);
	free(js);
	return rc;
}

/* The fields every HTTP answer of the request carries: validators and
 * freshness of the entry (NULL: a streamed miss, which has none), what the
 * cache did (RFC 9211 Cache-Status), the key when configured, and the
 * caller's lines. */
static void http_fields(char *buf, size_t len, const struct vr_cache_request *r,
			const struct plan *pl, const struct vr_entry *e,
			const struct vr_cache_outcome *out, int storing)
{
	const struct vr_cache_http *h = r->http;
	size_t n = 0;
#define PUT(...)                                                                 \
	do {                                                                     \
		int w_ = snprintf(buf + n, n < len ? len - n : 0, __VA_ARGS__); \
		if (w_ > 0)                                                      \
			n += (size_t)w_;                                         \
	} while (0)
	const char *xc = out->result == VR_CACHE_HIT         ? "HIT"
			 : out->result == VR_CACHE_COALESCED ? "COALESCED"
			 : out->result == VR_CACHE_BYPASS    ? "BYPASS"
							     : "MISS";
	const char *fwd = out->result == VR_CACHE_BYPASS ? "fwd=request" : "fwd=miss";
	/* RFC 9211's detail: the answer is the original, not the variant */
	const char *detail = out->fallback ? "; detail=fallback-original" : "";
	if (e) {
		int64_t max_age, age;
		entry_freshness(pl, e, time(NULL), &max_age, &age);
		char etag[48], lm[40];
		vr_http_etag(etag, sizeof etag, e->sha256);
		vr_http_date(lm, sizeof lm, e->created);
		if (etag[0])
			PUT("ETag: %s\r\n", etag);
		PUT("Last-Modified: %s\r\nCache-Control: max-age=%lld\r\nAge: %lld\r\n", lm,
		    (long long)max_age, (long long)age);
		if (out->result == VR_CACHE_HIT)
			PUT("Cache-Status: vr; hit; ttl=%lld%s\r\n",
			    (long long)(max_age > age ? max_age - age : 0), detail);
		else
			PUT("Cache-Status: vr; %s; stored%s%s\r\n", fwd,
			    out->result == VR_CACHE_COALESCED ? "; collapsed" : "", detail);
		if (out->fallback)
			PUT("X-Fallback: original\r\n");
	} else {
		PUT("Cache-Control: no-store\r\nCache-Status: vr; %s%s\r\n", fwd,
		    storing ? "; stored" : "");
	}
	PUT("X-Cache: %s\r\n", xc);
	if (h->key_header)
		PUT("X-Cache-Key: %s\r\n", pl->key);
	if (h->filename && *h->filename) {
		char cd[1024];
		vr_http_content_disposition(cd, sizeof cd, h->filename, pl->content_type);
		PUT("%s", cd);
	}
	if (h->extra_headers)
		PUT("%s", h->extra_headers);
#undef PUT
	if (n >= len && len)
		buf[0] = '\0'; /* never a cut line */
}

/* A short answer with no entry body: 304 or 412 (with its text). */
static int http_short(struct vr_sink *s, struct vr_http_head *hd, int status, const char *fields,
		      int head_only)
{
	const char *text = status == 412 ? vr_http_error_text(412) : NULL;
	vr_http_head_begin(hd, status, 1);
	if (text) {
		vr_http_head_add(hd, "Content-Type", "text/plain; charset=utf-8");
		vr_http_head_add(hd, "Content-Length", "%zu", strlen(text));
	}
	vr_http_head_lines(hd, fields);
	vr_http_head_end(hd);
	s->head = hd->buf;
	s->head_len = hd->len;
	vr_sink_flush_head(s);
	if (text && !head_only)
		vr_sink_write(s, text, strlen(text));
	return status;
}

/* Stream e (read snapshot open) as an HTTP answer. */
static int serve_entry_http(struct vr_cache *c, const struct vr_cache_request *r,
			    const struct plan *pl, const struct vr_entry *e,
			    struct vr_cache_outcome *out)
{
	const struct vr_cache_http *h = r->http;
	struct vr_response *resp = calloc(1, sizeof *resp);
	struct vr_http_head *hd = malloc(sizeof *hd);
	char *fields = malloc(VR_HTTP_HEAD_MAX / 2);
	int rc = VR_OK;
	out->size = (int64_t)e->size;
	if (!resp || !hd || !fields) {
		snprintf(out->error, sizeof out->error, "out of memory");
		rc = VR_EFAIL;
		goto done;
	}
	http_fields(fields, VR_HTTP_HEAD_MAX / 2, r, pl, e, out, 0);
	char etag[48];
	vr_http_etag(etag, sizeof etag, e->sha256);
	int use_range = 1;
	enum vr_http_precondition pc =
		vr_http_evaluate(&h->cond, h->head_only ? "HEAD" : "GET", etag, e->created, &use_range);
	struct sink s = {.out = {.fd = r->out_fd}, .c = c, .e = e};
	if (pc != VR_HTTP_PROCEED) {
		out->http_status = http_short(&s.out, hd, pc == VR_HTTP_NOT_MODIFIED ? 304 : 412,
					      fields, h->head_only);
		goto sent;
	}
	char boundary[80];
	vr_mime_boundary(boundary, sizeof boundary);
	const struct vr_range_set *rs = use_range && r->range && r->range->n ? r->range : NULL;
	if (vr_response_plan(resp, rs, e->size, 1, e->content_type, boundary) != VR_RANGE_OK) {
		if (rs) { /* 416, with the entry's size and fields, and a short text */
			const char *text = vr_http_error_text(416);
			vr_http_head_begin(hd, 416, 1);
			vr_http_head_add(hd, "Content-Range", "bytes */%" PRIu64, e->size);
			vr_http_head_add(hd, "Content-Type", "text/plain; charset=utf-8");
			vr_http_head_add(hd, "Content-Length", "%zu", strlen(text));
			vr_http_head_lines(hd, fields);
			vr_http_head_end(hd);
			s.out.head = hd->buf;
			s.out.head_len = hd->len;
			vr_sink_flush_head(&s.out);
			vr_sink_write(&s.out, text, strlen(text));
			out->head_sent = s.out.head_sent;
			out->http_status = 416;
			vr_unsatisfiable_text(out->error, sizeof out->error, r->range, "the entry",
					      (int64_t)e->size, 0);
			rc = VR_ERANGE;
			goto done;
		}
		resp->n = 0; /* an empty entry: a complete, empty 200 */
	}
	resp->extra_headers = fields;
	vr_response_head(resp, hd, 1);
	if (hd->overflow) {
		snprintf(out->error, sizeof out->error, "the response head is too large");
		rc = VR_EFAIL;
		goto done;
	}
	s.out.head = hd->buf;
	s.out.head_len = hd->len;
	out->http_status = resp->status;
	if (r->out_fd >= 0 && !h->head_only) {
		vr_pipe_grow(r->out_fd);
		rc = sink_serve(&s, resp, out);
	}
	if (!rc)
		vr_sink_flush_head(&s.out);
sent:
	out->head_sent = s.out.head_sent;
	rc = sink_settle(&s, rc, out);
done:
	free(resp);
	free(hd);
	free(fields);
	return rc;
}

/* A ready entry for the key: serve it. 1 served (rc in *status), 0 none
 * (no entry, or a damaged one found before anything was sent: it is
 * dropped, and the request can be answered as a miss). */
static int try_serve(struct vr_cache *c, const struct vr_cache_request *r, const struct plan *pl,
		     struct vr_cache_outcome *out, enum vr_cache_result as, int *status)
{
	struct vr_entry *e = malloc(sizeof *e);
	if (!e)
		return 0;
	int rc = vr_store_read_begin(c->st, pl->key, strlen(pl->key), e);
	if (rc) {
		vr_store_read_end(c->st);
		free(e);
		return 0;
	}
	out->result = as;
	*status = r->http ? serve_entry_http(c, r, pl, e, out) : serve_entry(c, r, pl, e, out);
	vr_store_read_end(c->st);
	/* the sliding TTL: after the answer, only the expiry, never waiting
	 * on a busy store (a refresh missed now is made by a later hit) */
	if (as == VR_CACHE_HIT && *status == VR_OK &&
	    vr_cache_policy_refresh_due(&pl->pol, time(NULL), e->expires, (int64_t)pl->ttl_ok) &&
	    vr_store_refresh(c->st, e, (int64_t)pl->ttl_ok))
		vr_debug("%s: the expiry was not refreshed: %s", pl->key, vr_store_error(c->st));
	int served = 1;
	if (*status == VR_EIO && vr_store_read_damaged(c->st)) {
		/* it can only fail again: gone, the next request makes it anew */
		if (vr_store_drop_generation(c->st, e) == 0)
			vr_warn("%s: the stored entry is damaged (%s); removed", pl->key, out->error);
		/* nothing sent yet: this request makes it anew */
		if (r->http ? !out->head_sent : !out->bytes_out && !r->headers && !r->json) {
			served = 0;
			out->error[0] = '\0';
			out->result = VR_CACHE_MISS;
		}
	}
	free(e);
	return served;
}

/* ---- the miss ---- */

struct producer {
	pthread_t th;
	struct vr_transform_opts to;
	struct vr_transform_stats stats;
	int wfd;
	int rc;
	char err[1024];
	double ms;
};

static void *transform_thread(void *arg)
{
	struct producer *p = arg;
	double t0 = vr_now_ms();
	p->rc = vr_transform_run(&p->to, &p->stats, p->err, sizeof p->err);
	p->ms = vr_now_ms() - t0;
	close(p->wfd); /* the reader sees the end */
	return NULL;
}

static int transient(int status) { return status == VR_EIO || status == VR_ETIMEOUT; }

/* One miss, in the stages run_miss() calls top to bottom: prepare the
 * output (the tee, and the slicer for a range), produce (fetch the raw
 * bytes, or run the transform on its thread), settle (remember a failure,
 * or publish the entry), report (outcome figures, the head of a streamed
 * body, a range that turned out unsatisfiable) and, for several ranges as
 * multipart, serve the stored entry. */
struct miss {
	struct vr_cache *c;
	const struct vr_cache_request *r;
	struct plan *pl;
	struct vr_cache_outcome *out;
	struct vr_tee t;
	struct vr_slicer *slicer;   /* NULL: every byte goes out */
	int has_range;
	int serve_after;            /* answered from the entry once stored (a range,
				     * several as multipart, an HTTP HEAD or precondition) */
	struct vr_http_head *head;  /* an HTTP answer streamed: its head */
	char seekable[4096];        /* the progressive copy of a streamed MP4, "" none */
	int seekable_id;            /* its cleanup slot */
	double deadline;            /* vr_now_ms() bound of a warm job, 0 none */
	int prc;                    /* the producer's status */
	char perr[1024];            /* and its message */
	int committed;
};

static void miss_free_slicer(struct miss *m)
{
	if (m->slicer)
		vr_slicer_free(m->slicer);
	free(m->slicer);
	m->slicer = NULL;
	free(m->head);
	m->head = NULL;
}

/* A failure before anything was produced: the tee is dropped. */
static int miss_fail_early(struct miss *m, int rc, const char *fmt, const char *arg)
{
	if (m->seekable[0]) {
		unlink(m->seekable);
		vr_cleanup_forget(m->seekable_id);
		m->seekable[0] = '\0';
	}
	vr_tee_abort(&m->t);
	miss_free_slicer(m);
	snprintf(m->out->error, sizeof m->out->error, fmt, arg);
	return rc;
}

/* A range that asks for the whole body (bytes=0-, what players send
 * first) is, on a miss, a request for the whole body. */
static int whole_range(const struct vr_range_set *rs)
{
	return rs->n == 1 && rs->spec[0].kind == VR_SPEC_INT && rs->spec[0].first == 0 &&
	       rs->spec[0].last == VR_RANGE_OPEN;
}

static int http_preconditions(const struct vr_cache_http *h)
{
	const struct vr_http_conditions *c = &h->cond;
	return c->if_match || c->if_none_match || c->if_modified_since || c->if_unmodified_since;
}

/* The head of a streamed HTTP miss: no length, no validator. */
static int miss_http_head(struct miss *m)
{
	char *fields = malloc(VR_HTTP_HEAD_MAX / 2);
	if (!(m->head = malloc(sizeof *m->head)) || !fields) {
		free(fields);
		return miss_fail_early(m, VR_EFAIL, "%s", "out of memory");
	}
	http_fields(fields, VR_HTTP_HEAD_MAX / 2, m->r, m->pl, NULL, m->out, m->t.w != NULL);
	vr_http_head_begin(m->head, 200, 1);
	vr_http_head_add(m->head, "Content-Type", "%s", m->pl->content_type);
	/* a player must not ask this answer for ranges: they come from the
	 * stored entry, another representation */
	vr_http_head_add(m->head, "Accept-Ranges", "none");
	vr_http_head_lines(m->head, fields);
	vr_http_head_end(m->head);
	free(fields);
	m->t.out.head = m->head->buf;
	m->t.out.head_len = m->head->len;
	return 0;
}

static int miss_prepare(struct miss *m)
{
	const struct vr_cache_request *r = m->r;
	m->has_range = r->range && r->range->n && !(r->http && whole_range(r->range));
	/* an HTTP answer without the store has no entry to cut ranges from:
	 * the whole, as RFC 9110 lets a server answer a Range */
	if (r->http && !m->t.w)
		m->has_range = 0;
	/* with the store, a range is cut from the entry once it is stored:
	 * the same bytes a hit gives, and the size known up front */
	/* a fallback's original is stored whole (within its cap) before a
	 * byte of it goes out: past the cap, nothing has been answered */
	if (m->pl->fallback && !m->t.w)
		return miss_fail_early(m, VR_EIO, "%s",
				       "the original is served only through the store");
	m->serve_after = m->t.w && (m->pl->fallback || m->has_range ||
				    (r->http && (r->http->head_only || http_preconditions(r->http))));
	if (m->has_range && r->multipart && r->range->n > 1 && !m->t.w)
		return miss_fail_early(m, VR_EUSAGE, "%s",
				       "--multipart on a miss needs the store (the size is "
				       "known only once the entry is stored)");
	if (m->serve_after) {
		m->t.out.fd = -1;
	} else if (m->has_range && r->out_fd >= 0) {
		char err[256];
		m->slicer = calloc(1, sizeof *m->slicer);
		if (!m->slicer)
			return miss_fail_early(m, VR_EFAIL, "%s", "out of memory");
		int s = vr_slicer_init(m->slicer, r->range, -1, VR_FETCH_MAX_BUFFER, err, sizeof err);
		if (s != VR_RANGE_OK) {
			free(m->slicer); /* vr_slicer_init failed: nothing to free inside */
			m->slicer = NULL;
			return miss_fail_early(m, s == VR_RANGE_TOO_BIG ? VR_ELIMIT : VR_EUSAGE, "%s",
					       err);
		}
		m->t.slicer = m->slicer;
	} else if (r->http && r->out_fd >= 0) {
		if (r->http->head_only)
			m->t.out.fd = -1; /* HEAD without the store: the head alone */
		int hr = miss_http_head(m);
		if (hr)
			return hr;
		if (r->http->head_only) {
			struct vr_sink hs = {.fd = r->out_fd, .head = m->head->buf,
					     .head_len = m->head->len};
			vr_sink_flush_head(&hs);
			m->out->head_sent = hs.head_sent;
			m->out->http_status = 200;
		}
	}
	return 0;
}

static const char *temp_dir(void)
{
	const char *dir = getenv("TMPDIR");
	return dir && *dir ? dir : "/tmp";
}

int vr_cache_sweep_temp(uint64_t *removed)
{
	*removed = 0;
	DIR *d = opendir(temp_dir());
	if (!d)
		return 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		char *end;
		if (strncmp(de->d_name, "vr-miss-", 8))
			continue;
		long pid = strtol(de->d_name + 8, &end, 10);
		if (pid <= 0 || *end != '-' || strlen(end) != 7)
			continue;
		if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue; /* its process lives (or is not ours to judge) */
		if (unlinkat(dirfd(d), de->d_name, 0) == 0)
			(*removed)++;
	}
	closedir(d);
	return 0;
}

/* A stored MP4 (M4A): the transform streams fragmented MP4 into the pipe
 * (what a streamed miss answers with) and also writes the same packets,
 * progressive with the index first, into a temporary file; that file, not
 * the stream, is what the store receives, so that a player reads the
 * stored entry's metadata with one small range and seeks by range. */
static void miss_seekable_begin(struct miss *m)
{
	const struct vr_params *p = &m->pl->p;
	int mp4 = (p->mode == VR_MODE_VIDEO && p->format == VR_FORMAT_MP4) ||
		  (p->mode == VR_MODE_AUDIO && p->format == VR_FORMAT_M4A);
	if (!mp4 || !m->t.w) /* every stored MP4, streamed or not (warm, a range) */
		return;
	const char *dir = temp_dir();
	/* the pid in the name: gc removes the copies of processes that died
	 * by SIGKILL (vr_cache_sweep_temp) */
	if ((size_t)snprintf(m->seekable, sizeof m->seekable, "%s/vr-miss-%ld-XXXXXX", dir,
			     (long)getpid()) >=
	    sizeof m->seekable) {
		m->seekable[0] = '\0';
		return;
	}
	int fd = mkstemp(m->seekable);
	if (fd < 0) {
		vr_warn("cannot make a temporary file in %s (%s): the stream itself is stored", dir,
			strerror(errno));
		m->seekable[0] = '\0';
		return;
	}
	close(fd);
	m->seekable_id = vr_cleanup_path(m->seekable);
	m->t.defer_store = 1;
}

/* The transform ended: the progressive copy goes into the store. */
static void miss_seekable_end(struct miss *m, int written)
{
	if (!m->seekable[0])
		return;
	int fd = written && !m->prc ? open(m->seekable, O_RDONLY | O_CLOEXEC) : -1;
	unlink(m->seekable);
	vr_cleanup_forget(m->seekable_id);
	m->seekable[0] = '\0';
	if (fd >= 0) {
		vr_tee_store_fd(&m->t, fd, m->c->buf, VR_IO_BUFSIZE);
		close(fd);
	} else if (!m->prc && m->t.w) {
		/* the stream is fine, its seekable copy is not: nothing stored */
		vr_tee_abort(&m->t);
		m->t.store_rc = VR_EIO;
		snprintf(m->t.store_err, sizeof m->t.store_err,
			 "the seekable copy of the output was not written");
	}
}

/* The raw bytes of the source, fetched into the tee. */
static void miss_fetch_raw(struct miss *m)
{
	struct vr_cache *c = m->c;
	struct vr_fetch *f = NULL;
	double t0 = vr_now_ms();
	/* --timeout bounds waiting on the source, retries included; a warm
	 * job's deadline the whole fetch */
	uint64_t cap = c->lim.max_input_bytes;
	if (m->pl->fallback && (!cap || cap > m->pl->pol.fallback_max))
		cap = m->pl->pol.fallback_max;
	struct vr_fetch_opts fo = {
		.max_bytes = cap,
		.stall_timeout = c->o.transform_timeout,
		.max_time = m->deadline <= 0 ? 0 : m->deadline > t0 + 1 ? (m->deadline - t0) / 1000 : 0.001,
	};
	vr_stream_opened();
	m->prc = vr_fetch_open(&f, &m->pl->res, &fo);
	if (!m->prc) {
		const char *ct = vr_fetch_content_type(f);
		if (ct && *ct && strcmp(ct, "application/octet-stream")) {
			snprintf(m->pl->content_type, sizeof m->pl->content_type, "%s", ct);
			vr_store_writer_set_content_type(m->t.w, ct);
		}
		for (;;) {
			size_t got = 0;
			m->prc = vr_fetch_read(f, c->buf, VR_IO_BUFSIZE, &got);
			if (m->prc || got == 0)
				break;
			if (vr_tee_feed(&m->t, c->buf, got))
				break; /* nobody wants more */
			if (vr_stop_requested()) {
				m->prc = VR_EFAIL;
				snprintf(m->perr, sizeof m->perr, "interrupted");
				break;
			}
			if (m->deadline > 0 && vr_now_ms() > m->deadline) {
				m->prc = VR_ETIMEOUT;
				snprintf(m->perr, sizeof m->perr, "the fetch ran past its time limit");
				break;
			}
		}
	}
	if (m->prc && !m->perr[0] && m->deadline > 0 && vr_now_ms() >= m->deadline) {
		m->prc = VR_ETIMEOUT;
		snprintf(m->perr, sizeof m->perr, "the fetch ran past its time limit");
	}
	if (m->prc && !m->perr[0])
		snprintf(m->perr, sizeof m->perr, "%s", vr_fetch_error(f)); /* NULL f is fine */
	/* += : a fallback's fetch adds to what its failed transform read */
	m->out->bytes_in += f ? vr_fetch_bytes_in(f) : 0;
	vr_fetch_close(f);
	vr_stream_closed();
	m->out->transform_ms = vr_now_ms() - t0;
}

/* The transform, on its own thread, writing into a pipe that this thread
 * reads into the tee. 0, or a failure to start it (the tee dropped). */
static int miss_transform(struct miss *m)
{
	struct vr_cache *c = m->c;
	int fds[2];
	struct producer *p = calloc(1, sizeof *p);
	if (!p || pipe2(fds, O_CLOEXEC) < 0) {
		free(p);
		return miss_fail_early(m, VR_EFAIL, "cannot start the transform: %s", strerror(errno));
	}
	vr_pipe_grow(fds[1]);
	p->wfd = fds[1];
	/* --timeout (warm: --job-timeout) bounds the wait on every source: an
	 * origin's own timeout only within it */
	double stall = c->o.transform_timeout;
	for (size_t i = 0; stall > 0 && i < m->pl->res.n; i++)
		if (m->pl->res.src[i].timeout <= 0 || m->pl->res.src[i].timeout > stall)
			m->pl->res.src[i].timeout = stall;
	p->to = (struct vr_transform_opts){
		.input = m->pl->ks.locator,
		.sources = &m->pl->res,
		.params = &m->pl->p,
		.limits = &c->lim,
		.out_fd = fds[1],
		.stall_timeout = c->o.transform_timeout,
		.deadline_ms = m->deadline,
		.seekable_path = m->seekable[0] ? m->seekable : NULL,
		.progress = c->o.progress,
	};
	vr_stream_opened();
	if (pthread_create(&p->th, NULL, transform_thread, p)) {
		vr_stream_closed();
		close(fds[0]);
		close(fds[1]);
		free(p);
		return miss_fail_early(m, VR_EFAIL, "%s", "cannot start the transform thread");
	}
	int stopped = 0;
	for (;;) {
		ssize_t n = vr_read_some(fds[0], c->buf, VR_IO_BUFSIZE);
		if (n < 0) {
			if (vr_stop_requested()) {
				stopped = 1;
				break;
			}
			snprintf(m->perr, sizeof m->perr, "reading the transform: %s", strerror(errno));
			m->prc = VR_EIO;
			break;
		}
		if (n == 0)
			break;
		if (vr_tee_feed(&m->t, c->buf, (size_t)n))
			break; /* closing the pipe stops the transform */
	}
	close(fds[0]); /* a transform still writing gets EPIPE and ends */
	pthread_join(p->th, NULL);
	vr_stream_closed();
	m->out->transform_ms = p->ms;
	m->out->bytes_in = p->stats.bytes_in;
	if (!m->prc && p->rc) {
		m->prc = p->rc;
		snprintf(m->perr, sizeof m->perr, "%s", p->err);
	}
	if (!m->prc && stopped) {
		m->prc = VR_EFAIL;
		snprintf(m->perr, sizeof m->perr, "interrupted");
	}
	miss_seekable_end(m, p->stats.seekable_written);
	free(p);
	return 0;
}

/* A failed producer: remember the failure (before the lock goes, so that a
 * follower finds it instead of taking over and failing again) and drop the
 * partial entry. A good one: forget any remembered failure and publish. */
static int miss_settle(struct miss *m)
{
	struct vr_cache *c = m->c;
	struct plan *pl = m->pl;
	if (m->prc) {
		int64_t ttl = m->prc == VR_ENOTFOUND ? (int64_t)pl->ttl_client
			      : transient(m->prc)    ? (int64_t)pl->ttl_server
						     : 0;
		/* a variant that cannot be made from what its source holds (bad
		 * data, a limit: found once the source was read, not a config
		 * fault before it) is remembered per variant: other variants of
		 * the source may well work */
		const char *nk = pl->negkey;
		if (!pl->raw && vr_cache_policy_fallback_status(m->prc) && m->out->bytes_in > 0) {
			ttl = (int64_t)pl->pol.ttl_bad_source;
			nk = pl->key;
		}
		/* a job that ran out of time says nothing about the source */
		if (m->deadline > 0 && vr_now_ms() > m->deadline)
			ttl = 0;
		if (ttl > 0 && !vr_stop_requested() && !c->o.no_store) {
			neg_remember(nk, m->prc, m->perr, (int64_t)time(NULL) + ttl);
			if (c->st)
				vr_store_negative_put(c->st, nk, strlen(nk), m->prc, m->perr, ttl);
		}
		vr_tee_abort(&m->t);
		snprintf(m->out->error, sizeof m->out->error, "%.500s", m->perr);
		return m->prc;
	}
	neg_forget(c, pl->negkey);
	if (!pl->raw)
		neg_forget(c, pl->key);
	if (m->slicer)
		vr_tee_finish_output(&m->t);
	if (m->t.w) {
		struct vr_entry *pub = malloc(sizeof *pub);
		if (vr_tee_commit(&m->t, pub) == 0)
			m->committed = 1;
		free(pub);
	}
	return VR_OK;
}

/* The head of a streamed body comes after it: only now is its size known. */
static void miss_print_head(struct miss *m, int ended)
{
	struct vr_response *resp = calloc(1, sizeof *resp);
	char *hdr = malloc(VR_CACHE_KEY_MAX + 256), *js = malloc(2 * VR_CACHE_KEY_MAX + 256);
	if (resp && hdr && js) {
		cache_headers(hdr, VR_CACHE_KEY_MAX + 256, js, 2 * VR_CACHE_KEY_MAX + 256, "MISS",
			      m->pl->key, (int64_t)m->pl->ttl_ok, 0, m->out->fallback);
		resp->extra_headers = hdr;
		resp->extra_json = js;
		resp->content_type = m->pl->content_type;
		resp->total = ended ? (int64_t)m->t.bytes_in : -1;
		resp->status = m->has_range ? 206 : 200;
		if (m->slicer) {
			int64_t seen;
			resp->n = vr_slicer_spans(m->slicer, resp->spans, &seen);
			if (resp->n == 0 && ended)
				resp->status = 416;
		} else if (m->t.bytes_in) {
			resp->n = 1;
			resp->spans[0].start = 0;
			resp->spans[0].end = m->t.bytes_in - 1;
		}
		resp->length_known = ended;
		resp->content_length = m->t.out.bytes;
		vr_response_print(resp, m->r->headers, m->r->json);
		m->out->head_printed = 1;
	}
	free(resp);
	free(hdr);
	free(js);
}

/* The outcome's figures, the head, and a range the whole output could not
 * satisfy. */
static int miss_report(struct miss *m, int rc)
{
	struct vr_cache_outcome *out = m->out;
	int ended = !m->prc && !m->t.out.closed && !m->t.out.error;
	out->store_ms = m->t.store_ms;
	out->bytes_out = m->t.out.bytes;
	out->bytes_stored = m->committed ? m->t.bytes_stored : 0;
	out->head_sent = out->head_sent || m->t.out.head_sent;
	if (m->t.out.head_sent)
		out->http_status = 200;
	if (m->t.out.first_byte_ms)
		out->ttfb_ms = m->t.out.first_byte_ms;
	if (!rc && m->t.out.error) {
		rc = VR_EIO;
		snprintf(out->error, sizeof out->error, "writing the output: %s",
			 strerror(m->t.out.error));
	}
	if (m->t.store_rc) {
		out->store_failed = 1;
		snprintf(out->store_error, sizeof out->store_error, "%s", m->t.store_err);
	}
	if (!rc && !m->serve_after && (m->r->headers || m->r->json))
		miss_print_head(m, ended);
	if (!rc && m->slicer && ended) {
		struct vr_span *sp = malloc(VR_RANGE_MAX * sizeof *sp);
		int64_t seen;
		size_t nsp = sp ? vr_slicer_spans(m->slicer, sp, &seen) : 1;
		free(sp);
		if (nsp == 0) {
			rc = VR_ERANGE;
			vr_unsatisfiable_text(out->error, sizeof out->error, m->r->range, "the output",
					      (int64_t)m->t.bytes_in, 0);
		}
	}
	return rc;
}

/* A range, several as multipart, an HTTP HEAD or precondition: from the
 * entry just stored. */
static int miss_serve_stored(struct miss *m)
{
	struct vr_cache_outcome *out = m->out;
	if (out->store_failed) {
		snprintf(out->error, sizeof out->error, "%s", out->store_error);
		return VR_EIO;
	}
	int st = 0;
	if (!try_serve(m->c, m->r, m->pl, out, out->result, &st)) {
		snprintf(out->error, sizeof out->error,
			 "the stored entry disappeared before it was served");
		return VR_EIO;
	}
	return st;
}

/* Run the producer (fetch for raw, else the transform) into the tee; w (may
 * be NULL) is handed over to the tee. */
static int run_miss(struct vr_cache *c, const struct vr_cache_request *r, struct plan *pl,
		    struct vr_store_writer *w, struct vr_cache_outcome *out)
{
	struct miss m = {.c = c, .r = r, .pl = pl, .out = out,
			 .t = {.out = {.fd = r->out_fd}, .w = w, .st = c->st}};
	int rc = miss_prepare(&m);
	if (rc)
		return rc;
	out->transformed = 1;
	/* --job-timeout of warm: a wall-clock bound on this fetch or transform */
	m.deadline = c->o.job_timeout > 0 ? vr_now_ms() + c->o.job_timeout * 1000 : 0;
	if (pl->raw) {
		miss_fetch_raw(&m);
	} else {
		miss_seekable_begin(&m);
		if ((rc = miss_transform(&m)))
			return rc;
	}
	if (!m.prc && vr_stop_requested()) {
		m.prc = VR_EFAIL;
		snprintf(m.perr, sizeof m.perr, "interrupted");
	}
	rc = miss_settle(&m);
	rc = miss_report(&m, rc);
	miss_free_slicer(&m);
	if (!rc && m.serve_after)
		rc = miss_serve_stored(&m);
	return rc;
}

/* ---- one request ---- */

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static int finish(struct vr_cache_outcome *out, double t0, int status)
{
	out->status = status;
	out->wall_ms = vr_now_ms() - t0;
	out->ttfb_ms = out->ttfb_ms ? out->ttfb_ms - t0 : 0;
	if (status && status != VR_ERANGE && out->result != VR_CACHE_NEGATIVE)
		out->result = VR_CACHE_ERROR;
	return status;
}

/* A miss served without storing, and the store's failure reported. */
static int miss_unstored(struct vr_cache *c, const struct vr_cache_request *r, struct plan *pl,
			 struct vr_cache_outcome *out, const char *why)
{
	int rc = run_miss(c, r, pl, NULL, out);
	if (why) {
		out->store_failed = 1;
		snprintf(out->store_error, sizeof out->store_error, "%s", why);
	}
	return rc;
}

/* The plan's answer: the lookup, then leading or following its miss.
 * Returns the request's status (out says how). */
static int serve_plan(struct vr_cache *c, const struct vr_cache_request *r, struct plan *pl,
		      struct vr_cache_outcome *out, double t0)
{
	int rc;
	if (c->o.no_store) {
		out->result = VR_CACHE_BYPASS;
		return run_miss(c, r, pl, NULL, out);
	}
	if (!c->st) {
		/* the store cannot be opened: serve, and say so */
		rc = miss_unstored(c, r, pl, out, c->store_err);
		goto stored;
	}
	int status;
	char msg[400];
	if (!pl->bypass) {
		if (plan_negative(c, pl, &status, msg, sizeof msg)) {
			out->result = VR_CACHE_NEGATIVE;
			snprintf(out->error, sizeof out->error, "%s (a remembered failure)", msg);
			return status;
		}
		if (try_serve(c, r, pl, out, VR_CACHE_HIT, &status))
			return status;
	} else {
		out->result = VR_CACHE_BYPASS;
	}
	struct vr_put_opts po = {
		.content_type = pl->content_type,
		/* store-indefinitely: no expiry; answers still say max-age */
		.ttl = pl->pol.store_indefinitely ? 0 : (int64_t)pl->ttl_ok,
		.tags = pl->tags,
		.ntags = pl->ntags,
		.wait = 0,
		.if_absent = !pl->bypass,
	};
	double deadline = t0 + c->o.wait * 1000;
	long nap = 50;
	for (int round = 0;; round++) {
		struct vr_store_writer *w = NULL;
		int br = vr_store_writer_begin(c->st, pl->key, strlen(pl->key), &po, &w);
		if (br == 0 && w) { /* the leader */
			vr_stream_opened();
			if (round > 0)
				vr_info("%s: taking over as the writer", pl->key);
			rc = run_miss(c, r, pl, w, out);
			break;
		}
		if (br == 0) { /* published while we asked */
			if (try_serve(c, r, pl, out, VR_CACHE_COALESCED, &status)) {
				rc = status;
				break;
			}
			continue;
		}
		if (br != VR_ETIMEOUT) {
			rc = miss_unstored(c, r, pl, out, vr_store_error(c->st));
			break;
		}
		if (pl->bypass) { /* another writer is at it: serve fresh, unstored */
			rc = run_miss(c, r, pl, NULL, out);
			break;
		}
		/* a follower: wait for the leader's entry, its failure, or its death */
		if (vr_now_ms() >= deadline) {
			if (c->o.no_wait_fallback) {
				vr_warn("%s: waited %.1f s for another process: transforming without "
					"storing",
					pl->key, c->o.wait);
				rc = run_miss(c, r, pl, NULL, out);
			} else {
				snprintf(out->error, sizeof out->error,
					 "another process is producing %.300s: waited %.1f s (see --wait)",
					 pl->key, c->o.wait);
				rc = VR_ETIMEOUT;
				out->busy = 1;
			}
			break;
		}
		if (vr_stop_requested()) {
			snprintf(out->error, sizeof out->error, "interrupted while waiting");
			rc = VR_EFAIL;
			break;
		}
		sleep_ms(nap);
		if (nap < 200)
			nap = nap * 2 > 200 ? 200 : nap * 2;
		if (plan_negative(c, pl, &status, msg, sizeof msg)) {
			out->result = VR_CACHE_NEGATIVE;
			snprintf(out->error, sizeof out->error, "%s (a remembered failure)", msg);
			rc = status;
			break;
		}
		if (try_serve(c, r, pl, out, VR_CACHE_COALESCED, &status)) {
			rc = status;
			break;
		}
	}
stored:
	if (!rc && out->store_failed && c->o.strict) {
		snprintf(out->error, sizeof out->error, "the store failed: %.480s", out->store_error);
		rc = VR_EIO;
	}
	return rc;
}

/* A variant that could not be made (bad data, a limit), with nothing of
 * an answer out yet, and fallback = original: the source's own bytes,
 * through its raw entry (a hit, or fetched within fallback-max-size into
 * the store, then served from it; concurrent fallbacks coalesce on the
 * raw key). Past the cap, or any failure of its own, the variant's
 * failure stands, with why the original was not served. */
static int serve_fallback(struct vr_cache *c, const struct vr_cache_request *r, struct plan *pl,
			  struct vr_cache_outcome *out, double t0, int rc)
{
	if (!pl->pol.fallback || pl->raw || !vr_cache_policy_fallback_status(rc) ||
	    out->head_sent || out->head_printed || out->bytes_out || c->o.no_store || !c->st)
		return rc;
	struct vr_cache_outcome *was = malloc(sizeof *was);
	if (!was)
		return rc;
	*was = *out;
	if (plan_make_raw(c, pl)) {
		free(was);
		return rc;
	}
	out->result = VR_CACHE_MISS;
	out->error[0] = '\0';
	out->fallback = 1;
	out->size = -1;
	int frc = serve_plan(c, r, pl, out, t0);
	if (frc == VR_OK || frc == VR_ERANGE || out->head_sent || out->bytes_out) {
		vr_info("%s: served the original (%s)", was->key, was->error);
		out->transformed = out->transformed || was->transformed;
		free(was);
		return frc;
	}
	/* the variant's failure, and why no original */
	char why[sizeof out->error];
	snprintf(why, sizeof why, "%s", out->error);
	uint64_t in = out->bytes_in;
	*out = *was;
	out->bytes_in = in > was->bytes_in ? in : was->bytes_in;
	snprintf(out->error, sizeof out->error, "%.280s (the original was not served: %.190s)",
		 was->error, why);
	free(was);
	return rc;
}

int vr_cache_get(struct vr_cache *c, const struct vr_cache_request *r, struct vr_cache_outcome *out)
{
	double t0 = vr_now_ms();
	memset(out, 0, sizeof *out);
	out->result = VR_CACHE_MISS;
	struct plan *pl = NULL;
	int rc = plan_build(c, r, &pl, out->error, sizeof out->error);
	if (pl)
		snprintf(out->key, sizeof out->key, "%s", pl->key);
	if (!rc) {
		rc = serve_plan(c, r, pl, out, t0);
		if (rc)
			rc = serve_fallback(c, r, pl, out, t0, rc);
	}
	plan_free(pl);
	return finish(out, t0, rc);
}

int vr_cache_fresh(struct vr_cache *c, const struct vr_cache_request *r)
{
	struct plan *pl = NULL;
	char err[512];
	int fresh = 0;
	if (!plan_build(c, r, &pl, err, sizeof err) && c->st && !pl->bypass) {
		int status;
		char msg[400];
		struct vr_entry *e = malloc(sizeof *e);
		if (plan_negative(c, pl, &status, msg, sizeof msg))
			fresh = 2;
		else if (e && vr_store_stat(c->st, pl->key, strlen(pl->key), e) == 0)
			fresh = 1;
		free(e);
	}
	plan_free(pl);
	return fresh;
}
