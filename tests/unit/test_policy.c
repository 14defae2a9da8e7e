/* Unit tests of lib/cache/policy: the sliding TTL's thresholds, the
 * failures the original stands in for, and the [cache]/[origin] keys with
 * their defaults and errors. */
#include "policy.h"
#include "config.h"
#include "status.h"

#include <stdio.h>
#include <string.h>

#include "check.h"

static void test_refresh_due(void)
{
	struct vr_cache_policy p = {.ttl_refresh = 1, .refresh_after = 10, .refresh_remaining = 60};
	int64_t now = 1000000;
	/* TTL 1000 s: due once 100 s of it passed and while 60 s remain */
	CHECK_EQ_INT(vr_cache_policy_refresh_due(&p, now, now + 1000, 1000), 0); /* just stored */
	CHECK_EQ_INT(vr_cache_policy_refresh_due(&p, now, now + 901, 1000), 0);  /* 99 s elapsed */
	CHECK_EQ_INT(vr_cache_policy_refresh_due(&p, now, now + 900, 1000), 1);  /* 100 s */
	CHECK_EQ_INT(vr_cache_policy_refresh_due(&p, now, now + 60, 1000), 1);   /* 60 s left */
	CHECK_EQ_INT(vr_cache_policy_refresh_due(&p, now, now + 59, 1000), 0);   /* too late */
	CHECK_EQ_INT(vr_cache_policy_refresh_due(&p, now, now, 1000), 0);        /* expired */
	CHECK_EQ_INT(vr_cache_policy_refresh_due(&p, now, now - 5, 1000), 0);    /* never revived */
	CHECK_EQ_INT(vr_cache_policy_refresh_due(&p, now, 0, 1000), 0);          /* no expiry */
	CHECK_EQ_INT(vr_cache_policy_refresh_due(&p, now, now + 500, 0), 0);     /* TTL 0: never expires */
	/* a TTL shortened in the config since: expiry already past now + ttl */
	CHECK_EQ_INT(vr_cache_policy_refresh_due(&p, now, now + 900, 100), 0);
	p.ttl_refresh = 0;
	CHECK_EQ_INT(vr_cache_policy_refresh_due(&p, now, now + 500, 1000), 0); /* off */
}

static void test_fallback_status(void)
{
	CHECK(vr_cache_policy_fallback_status(VR_EDATA));
	CHECK(vr_cache_policy_fallback_status(VR_ELIMIT));
	CHECK(!vr_cache_policy_fallback_status(VR_OK));
	CHECK(!vr_cache_policy_fallback_status(VR_EFAIL));
	CHECK(!vr_cache_policy_fallback_status(VR_ENOTFOUND));
	CHECK(!vr_cache_policy_fallback_status(VR_EIO));
	CHECK(!vr_cache_policy_fallback_status(VR_ETIMEOUT));
}

static int load(const char *text, const char *origin, struct vr_cache_policy *p, char *err,
		size_t errlen)
{
	struct vr_config *cfg = NULL;
	int rc = vr_config_parse(&cfg, text, strlen(text), "t.conf", err, errlen);
	if (!rc)
		rc = vr_cache_policy_load(p, cfg, origin, 60, err, errlen);
	vr_config_free(cfg);
	return rc;
}

static void test_load(void)
{
	struct vr_cache_policy p;
	char err[512];
	/* defaults: the original's thresholds and cap; off otherwise; a bad
	 * source remembered as long as a client error */
	CHECK_EQ_INT(vr_cache_policy_load(&p, NULL, NULL, 60, err, sizeof err), 0);
	CHECK_EQ_INT(p.ttl_refresh, 0);
	CHECK(p.refresh_after == 10 && p.refresh_remaining == 60);
	CHECK_EQ_INT(p.store_indefinitely, 0);
	CHECK(p.ttl_bad_source == 60);
	CHECK_EQ_INT(p.fallback, 0);
	CHECK_EQ_UINT(p.fallback_max, 25u << 20);

	CHECK_EQ_INT(load("[cache]\nttl-refresh = yes\nttl-refresh-after = 25%\n"
			  "ttl-refresh-remaining = 2m\nstore-indefinitely = on\n"
			  "ttl-bad-source = 7d\nfallback = original\nfallback-max-size = 1M\n",
			  NULL, &p, err, sizeof err),
		     0);
	CHECK_EQ_INT(p.ttl_refresh, 1);
	CHECK(p.refresh_after == 25 && p.refresh_remaining == 120);
	CHECK_EQ_INT(p.store_indefinitely, 1);
	CHECK(p.ttl_bad_source == 7 * 86400);
	CHECK_EQ_INT(p.fallback, 1);
	CHECK_EQ_UINT(p.fallback_max, 1u << 20);

	/* an origin overrides the fallback and the bad-source TTL */
	const char *two = "[cache]\nfallback = original\nttl-bad-source = 100\n"
			  "[origin \"o\"]\nmatch = ^/o/\nsource = /x\nfallback = none\n"
			  "ttl-bad-source = 5\nfallback-max-size = 2K\n";
	CHECK_EQ_INT(load(two, "o", &p, err, sizeof err), 0);
	CHECK_EQ_INT(p.fallback, 0);
	CHECK(p.ttl_bad_source == 5);
	CHECK_EQ_UINT(p.fallback_max, 2048);
	CHECK_EQ_INT(load(two, "other", &p, err, sizeof err), 0);
	CHECK_EQ_INT(p.fallback, 1);
	CHECK(p.ttl_bad_source == 100);

	/* bad values name the file, line and key */
	CHECK_EQ_INT(load("[cache]\nttl-refresh = maybe\n", NULL, &p, err, sizeof err), VR_EDATA);
	CHECK(strstr(err, "t.conf:2") && strstr(err, "ttl-refresh"));
	CHECK_EQ_INT(load("[cache]\nttl-refresh-after = 101\n", NULL, &p, err, sizeof err), VR_EDATA);
	CHECK_EQ_INT(load("[cache]\nttl-refresh-after = -1%\n", NULL, &p, err, sizeof err), VR_EDATA);
	CHECK_EQ_INT(load("[cache]\nttl-refresh-after = 10%%\n", NULL, &p, err, sizeof err), VR_EDATA);
	CHECK_EQ_INT(load("[cache]\nfallback = yes\n", NULL, &p, err, sizeof err), VR_EDATA);
	CHECK(strstr(err, "original or none") != NULL);
	CHECK_EQ_INT(load("[origin \"o\"]\nfallback = transcode\n", "o", &p, err, sizeof err),
		     VR_EDATA);
	CHECK(strstr(err, "[origin \"o\"] fallback") != NULL);
	CHECK_EQ_INT(load("[cache]\nttl-bad-source = soon\n", NULL, &p, err, sizeof err), VR_EDATA);
	CHECK_EQ_INT(load("[cache]\nfallback-max-size = big\n", NULL, &p, err, sizeof err), VR_EDATA);
}

int main(void)
{
	test_refresh_due();
	test_fallback_status();
	test_load();
	return check_done();
}
