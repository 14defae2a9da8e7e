/* The cache's policy, from the config (see vr.conf(5), [cache] and
 * [origin]):
 *
 *   ttl-refresh            a hit moves its entry's expiry to now + ttl-ok
 *                          (the value is never rewritten) once at least
 *                          ttl-refresh-after (a share of the TTL, 10 %) of
 *                          its lifetime has passed and while at least
 *                          ttl-refresh-remaining seconds (60) are left: an
 *                          expired entry is never brought back
 *   store-indefinitely     entries are stored without an expiry; answers
 *                          still carry max-age from ttl-ok
 *   ttl-bad-source         how long a variant whose source turned out bad
 *                          (exit 3 once the source was read) is remembered
 *   fallback               "original": a variant that cannot be made from
 *                          its source (bad data, exit 3; a limit, exit 8)
 *                          is answered with the source's bytes, stored
 *                          under the raw key, when they are at most
 *                          fallback-max-size (25 MiB)
 *
 * [cache] gives the defaults, an [origin "NAME"] overrides ttl-bad-source,
 * fallback and fallback-max-size for its requests. Plain data: any thread. */
#ifndef VR_CACHE_POLICY_H
#define VR_CACHE_POLICY_H

#include <stddef.h>
#include <stdint.h>

struct vr_config;

#define VR_POLICY_FALLBACK_MAX_SIZE (25ull << 20) /* what the original capped */
#define VR_POLICY_REFRESH_AFTER 10.0              /* percent of the TTL elapsed */
#define VR_POLICY_REFRESH_REMAINING 60.0          /* seconds still to run */

struct vr_cache_policy {
	int ttl_refresh;            /* slide the expiry on a hit */
	double refresh_after;       /* percent of the TTL that must have elapsed */
	double refresh_remaining;   /* seconds that must remain */
	int store_indefinitely;     /* entries without an expiry */
	double ttl_bad_source;      /* seconds; 0: a bad source is not remembered */
	int fallback;               /* serve the original on a transform failure */
	uint64_t fallback_max;      /* bytes of the original at most */
};

/* The [cache] keys this module reads (for the section's key check). */
extern const char *const vr_cache_policy_keys[];

/* The policy of a request to origin (NULL or "": [cache] alone). 0, or
 * VR_EDATA with err naming FILE:LINE. ttl_client is the request's
 * ttl-client-error, the default of ttl-bad-source. */
int vr_cache_policy_load(struct vr_cache_policy *p, const struct vr_config *cfg,
			 const char *origin, double ttl_client, char *err, size_t errlen);

/* Should a hit at now on an entry expiring at expires, whose TTL is ttl
 * seconds, move its expiry to now + ttl? 1 yes, 0 no. */
int vr_cache_policy_refresh_due(const struct vr_cache_policy *p, int64_t now, int64_t expires,
				int64_t ttl);

/* Is a failure with this exit status one the original may stand in for
 * (bad data, a limit)? */
int vr_cache_policy_fallback_status(int status);

#endif
