/* The cache's policy from the config (see policy.h). */
#include "policy.h"
#include "config.h"
#include "status.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const vr_cache_policy_keys[] = {
	"ttl-refresh", "ttl-refresh-after", "ttl-refresh-remaining", "store-indefinitely",
	"ttl-bad-source", "fallback", "fallback-max-size", NULL,
};

static int errf(char *err, size_t errlen, const struct vr_config *cfg, const char *sec,
		const char *sub, const char *key, const char *v, const char *what)
{
	snprintf(err, errlen, "%s: [%s%s%s%s] %s = '%.100s' is not %s",
		 vr_config_where(cfg, sec, sub, key), sec, sub ? " \"" : "", sub ? sub : "",
		 sub ? "\"" : "", key, v, what);
	return VR_EDATA;
}


/* "10" or "10%": a share of 0 to 100. */
static int percent(const struct vr_config *cfg, const char *key, double *out, char *err,
		   size_t errlen)
{
	const char *v = vr_config_get(cfg, "cache", NULL, key);
	if (!v)
		return 0;
	char *end;
	errno = 0;
	double d = strtod(v, &end);
	if (*end == '%')
		end++;
	if (end == v || *end || errno || !isfinite(d) || d < 0 || d > 100)
		return errf(err, errlen, cfg, "cache", NULL, key, v, "a percentage from 0 to 100");
	*out = d;
	return 0;
}

/* fallback = original | none, from [cache] then the origin's section. */
static int fallback_mode(const struct vr_config *cfg, const char *sub, int *out, char *err,
			 size_t errlen)
{
	const char *v = vr_config_get(cfg, sub ? "origin" : "cache", sub, "fallback");
	if (!v)
		return 0;
	if (!strcmp(v, "original"))
		*out = 1;
	else if (!strcmp(v, "none"))
		*out = 0;
	else
		return errf(err, errlen, cfg, sub ? "origin" : "cache", sub, "fallback", v,
			    "original or none");
	return 0;
}

int vr_cache_policy_load(struct vr_cache_policy *p, const struct vr_config *cfg,
			 const char *origin, double ttl_client, char *err, size_t errlen)
{
	*p = (struct vr_cache_policy){
		.refresh_after = VR_POLICY_REFRESH_AFTER,
		.refresh_remaining = VR_POLICY_REFRESH_REMAINING,
		.ttl_bad_source = ttl_client,
		.fallback_max = VR_POLICY_FALLBACK_MAX_SIZE,
	};
	if (!cfg)
		return 0;
	const char *sub = origin && *origin ? origin : NULL;
	int rc;
	if ((rc = vr_config_yes_no(cfg, "cache", NULL, "ttl-refresh", &p->ttl_refresh, err, errlen)) ||
	    (rc = percent(cfg, "ttl-refresh-after", &p->refresh_after, err, errlen)) ||
	    (rc = vr_config_seconds(cfg, "cache", NULL, "ttl-refresh-remaining",
				    &p->refresh_remaining, err, errlen)) ||
	    (rc = vr_config_yes_no(cfg, "cache", NULL, "store-indefinitely", &p->store_indefinitely, err,
			 errlen)) ||
	    (rc = vr_config_seconds(cfg, "cache", NULL, "ttl-bad-source", &p->ttl_bad_source, err,
				    errlen)) ||
	    (rc = fallback_mode(cfg, NULL, &p->fallback, err, errlen)) ||
	    (rc = vr_config_size(cfg, "cache", NULL, "fallback-max-size", &p->fallback_max, err,
				 errlen)))
		return rc;
	if (sub && ((rc = vr_config_seconds(cfg, "origin", sub, "ttl-bad-source",
					    &p->ttl_bad_source, err, errlen)) ||
		    (rc = fallback_mode(cfg, sub, &p->fallback, err, errlen)) ||
		    (rc = vr_config_size(cfg, "origin", sub, "fallback-max-size", &p->fallback_max,
					 err, errlen))))
		return rc;
	return 0;
}

int vr_cache_policy_refresh_due(const struct vr_cache_policy *p, int64_t now, int64_t expires,
				int64_t ttl)
{
	if (!p->ttl_refresh || ttl <= 0 || expires <= 0 || expires <= now)
		return 0;
	double remaining = (double)(expires - now);
	/* the lifetime began ttl before the expiry (publication or the last
	 * refresh) */
	double elapsed = (double)ttl - remaining;
	if (remaining < p->refresh_remaining)
		return 0;
	if (elapsed < (double)ttl * p->refresh_after / 100.0)
		return 0;
	return expires < now + ttl; /* a refresh that moves the expiry later */
}

int vr_cache_policy_fallback_status(int status)
{
	return status == VR_EDATA || status == VR_ELIMIT;
}
