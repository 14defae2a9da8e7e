/* S3 origins: the s3-* keys of vr.conf (lib/request/origin), the request
 * each attempt makes (lib/request/s3sign: credentials read from the
 * environment then, signed for that moment), and the redaction of a
 * presigned URL. The signature itself is test_sigv4's: here the checks
 * are of what is sent and what is never shown. */
#include "check.h"
#include "config.h"
#include "origin.h"
#include "s3sign.h"
#include "sigv4.h"
#include "status.h"

#include <stdlib.h>
#include <string.h>

#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

static int resolve(const char *conf, const char *path, struct vr_resolved *r, char *err,
		   size_t errlen)
{
	struct vr_config *cfg;
	char e[512];
	CHECK(vr_config_parse(&cfg, conf, strlen(conf), "s3.conf", e, sizeof e) == 0);
	int rc = vr_origin_resolve(cfg, path, NULL, r, err, errlen);
	vr_config_free(cfg);
	return rc;
}

static const char conf[] =
	"[origin \"s3\"]\n"
	"match = ^/s3/(.*)$\n"
	"source = /srv/local/$1\n"
	"source = https://examplebucket.s3.amazonaws.com/$1\n"
	"s3-region = us-east-1\n"
	"s3-access-key = ${env:VR_TEST_AK}\n"
	"s3-secret-key = ${env:VR_TEST_SK}\n"
	"[origin \"pre\"]\n"
	"match = ^/pre/(.*)$\n"
	"source = http://127.0.0.1:9000/bucket/$1?versionId=7\n"
	"header = x-amz-request-payer: requester\n"
	"s3-region = auto\n"
	"s3-access-key = AKIAIOSFODNN7EXAMPLE\n"
	"s3-secret-key = ${env:VR_TEST_SK}\n"
	"s3-session-token = ${env:VR_TEST_TOKEN}\n"
	"s3-presign = 1h\n";

static void test_config(void)
{
	struct vr_resolved r;
	char err[1024];
	CHECK_EQ_INT(resolve(conf, "/s3/v/a b.mp4", &r, err, sizeof err), 0);
	CHECK_EQ_UINT(r.n, 2);
	CHECK(r.src[0].s3 == NULL); /* a local source is not signed */
	CHECK(r.src[1].s3 != NULL);
	if (r.n == 2 && r.src[1].s3) {
		CHECK_EQ_STR(r.src[1].s3->region, "us-east-1");
		CHECK_EQ_STR(r.src[1].s3->service, "s3");
		CHECK_EQ_STR(r.src[1].s3->access_key, "${env:VR_TEST_AK}"); /* read later */
		CHECK_EQ_UINT(r.src[1].s3->presign, 0);
		CHECK(r.src[1].s3->session_token == NULL);
	}
	vr_resolved_free(&r);
	CHECK_EQ_INT(resolve(conf, "/pre/x", &r, err, sizeof err), 0);
	if (r.n == 1 && r.src[0].s3)
		CHECK_EQ_UINT(r.src[0].s3->presign, 3600);
	vr_resolved_free(&r);

	/* what is wrong is said, and where; a secret written in the file is
	 * never quoted */
	static const struct {
		const char *conf, *want;
	} bad[] = {
		{"[origin \"o\"]\nmatch = ^/o/(.*)$\nsource = http://h/$1\ns3-region = eu\n"
		 "s3-access-key = AK\n",
		 "s3-secret-key is missing"},
		{"[origin \"o\"]\nmatch = ^/o/(.*)$\nsource = http://h/$1\n"
		 "s3-access-key = AK\ns3-secret-key = " SECRET "\n",
		 "s3-region is missing"},
		{"[origin \"o\"]\nmatch = ^/o/(.*)$\nsource = http://h/$1\ns3-region = eu west\n"
		 "s3-access-key = AK\ns3-secret-key = " SECRET "\n",
		 "not a region name"},
		{"[origin \"o\"]\nmatch = ^/o/(.*)$\nsource = http://h/$1\ns3-region = eu\n"
		 "s3-access-key = AK\ns3-secret-key = " SECRET "$1\n",
		 "s3-secret-key has"},
		{"[origin \"o\"]\nmatch = ^/o/(.*)$\nsource = http://h/$1\ns3-region = eu\n"
		 "s3-access-key = AK\ns3-secret-key = " SECRET "\ns3-presign = 8d\n",
		 "not a lifetime from 1s to 7d"},
		{"[origin \"o\"]\nmatch = ^/o/(.*)$\nsource = http://h/$1\ns3-region = eu\n"
		 "s3-access-key = AK\ns3-secret-key = " SECRET "\ns3-presign = 0\n",
		 "not a lifetime"},
		{"[origin \"o\"]\nmatch = ^/o/(.*)$\nsource = http://h/$1\ns3-regoin = eu\n",
		 "s3-regoin"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		err[0] = '\0';
		CHECK_EQ_INT(resolve(bad[i].conf, "/o/x", &r, err, sizeof err), VR_EDATA);
		if (!CHECK(strstr(err, bad[i].want) != NULL))
			fprintf(stderr, "  case %zu: %s\n", i, err);
		CHECK(strstr(err, "EXAMPLEKEY") == NULL);
		vr_resolved_free(&r);
	}
}

static void test_request(void)
{
	struct vr_resolved r;
	char err[1024], *url, *hdrs;
	unsetenv("VR_TEST_AK");
	setenv("VR_TEST_SK", SECRET, 1);
	CHECK_EQ_INT(resolve(conf, "/s3/v/a b.mp4", &r, err, sizeof err), 0);
	/* an unset credential: a configuration error naming the variable */
	CHECK_EQ_INT(vr_source_request(&r.src[1], "GET", 1369353600, &url, &hdrs, err, sizeof err), VR_EDATA);
	CHECK(strstr(err, "VR_TEST_AK is not set") != NULL);
	CHECK(strstr(err, "[origin \"s3\"] s3-access-key") != NULL);
	setenv("VR_TEST_AK", "AKIAIOSFODNN7EXAMPLE", 1);
	CHECK_EQ_INT(vr_source_request(&r.src[1], "GET", 1369353600, &url, &hdrs, err, sizeof err), 0);
	CHECK_EQ_STR(url, "https://examplebucket.s3.amazonaws.com/v/a%20b.mp4");
	/* the Authorization header is what sigv4 gives for the request as
	 * libavformat sends it: host as in the URL, the path as sent */
	const char *sh[] = {"host:examplebucket.s3.amazonaws.com",
			    "x-amz-content-sha256:" VR_SIGV4_EMPTY_SHA256,
			    "x-amz-date:20130524T000000Z"};
	struct vr_sigv4_req q = {.method = "GET", .path = "/v/a%20b.mp4", .headers = sh, .nheaders = 3,
				 .payload_hash = VR_SIGV4_EMPTY_SHA256, .s3 = 1};
	struct vr_sigv4_cred c = {.access_key = "AKIAIOSFODNN7EXAMPLE", .secret_key = SECRET,
				  .region = "us-east-1", .service = "s3"};
	char *auth, want[1024];
	vr_sigv4_authorization(&c, "20130524T000000Z", &q, &auth);
	snprintf(want, sizeof want,
		 "x-amz-date: 20130524T000000Z\r\nx-amz-content-sha256: " VR_SIGV4_EMPTY_SHA256
		 "\r\nAuthorization: %s\r\n", auth);
	CHECK_EQ_STR(hdrs, want);
	CHECK(strstr(hdrs, "EXAMPLEKEY") == NULL);
	free(auth);
	free(url);
	free(hdrs);
	/* a later attempt is signed again, for its own moment */
	CHECK_EQ_INT(vr_source_request(&r.src[1], "GET", 1369353601, &url, &hdrs, err, sizeof err), 0);
	CHECK(strstr(hdrs, "x-amz-date: 20130524T000001Z\r\n") != NULL);
	free(url);
	free(hdrs);
	vr_resolved_free(&r);

	/* a header that signing sets itself is refused, not sent twice */
	static const char own[] = "[origin \"o\"]\nmatch = ^/o/(.*)$\nsource = http://h/$1\n"
				  "header = X-Amz-Date: 20000101T000000Z\ns3-region = eu\n"
				  "s3-access-key = ${env:VR_TEST_AK}\ns3-secret-key = ${env:VR_TEST_SK}\n";
	CHECK_EQ_INT(resolve(own, "/o/x", &r, err, sizeof err), 0);
	CHECK_EQ_INT(vr_source_request(&r.src[0], "GET", 1369353600, &url, &hdrs, err, sizeof err), VR_EDATA);
	CHECK(strstr(err, "header X-Amz-Date: an S3 origin's requests carry their own") != NULL);
	CHECK(url == NULL && hdrs == NULL);
	vr_resolved_free(&r);

	/* presigned: the URL's own query kept, the configured x-amz-* header
	 * signed, the token in the query */
	setenv("VR_TEST_TOKEN", "tok/en+", 1);
	CHECK_EQ_INT(resolve(conf, "/pre/a.mp4", &r, err, sizeof err), 0);
	CHECK_EQ_INT(vr_source_request(&r.src[0], "GET", 1369353600, &url, &hdrs, err, sizeof err), 0);
	static const char prefix[] =
		"http://127.0.0.1:9000/bucket/a.mp4?versionId=7&X-Amz-Algorithm=AWS4-HMAC-SHA256"
		"&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fauto%2Fs3%2Faws4_request"
		"&X-Amz-Date=20130524T000000Z&X-Amz-Expires=3600"
		"&X-Amz-SignedHeaders=host%3Bx-amz-request-payer"
		"&X-Amz-Security-Token=tok%2Fen%2B&X-Amz-Signature=";
	CHECK(!strncmp(url, prefix, strlen(prefix)));
	CHECK_EQ_UINT(strlen(url), strlen(prefix) + 64);
	CHECK_EQ_STR(hdrs, "x-amz-request-payer: requester\r\n");
	char shown[1024];
	vr_url_redact(url, shown, sizeof shown);
	CHECK_EQ_STR(shown, "http://127.0.0.1:9000/bucket/a.mp4?versionId=7&X-Amz-Algorithm=AWS4-HMAC-SHA256"
			    "&X-Amz-Credential=***&X-Amz-Date=20130524T000000Z&X-Amz-Expires=3600"
			    "&X-Amz-SignedHeaders=host%3Bx-amz-request-payer"
			    "&X-Amz-Security-Token=***&X-Amz-Signature=***");
	free(url);
	free(hdrs);
	vr_resolved_free(&r);
	unsetenv("VR_TEST_TOKEN");
	unsetenv("VR_TEST_AK");
	unsetenv("VR_TEST_SK");
}

static void test_redact(void)
{
	char out[256];
	CHECK_EQ_STR(vr_url_redact("https://u:p@h/x?a=1", out, sizeof out), "https://***@h/x?a=1");
	CHECK_EQ_STR(vr_url_redact("http://h/x?x-amz-signature=abc&b=2#f", out, sizeof out),
		     "http://h/x?x-amz-signature=***&b=2#f");
	CHECK_EQ_STR(vr_url_redact("/local/path", out, sizeof out), "/local/path");
	CHECK_EQ_STR(vr_url_redact("http://h/x?X-Amz-Signature=abcdef", out, 24), "http://h/x?X-Amz-Signat");
	char rej[512];
	vr_s3_rejected_text("media", rej, sizeof rej);
	CHECK(strstr(rej, "origin \"media\"") != NULL);
	CHECK(strstr(rej, "signature") != NULL);
}

int main(void)
{
	test_config();
	test_request();
	test_redact();
	return check_done();
}
