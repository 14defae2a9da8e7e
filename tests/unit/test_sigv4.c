/* lib/request/sigv4 against published vectors: AWS's SigV4 test suite
 * (service "service", 20150830T123600Z, AKIDEXAMPLE) and the worked
 * examples of the S3 documentation (examplebucket, 20130524T000000Z,
 * AKIAIOSFODNN7EXAMPLE). The expected strings are AWS's, not ours. */
#include "check.h"
#include "sigv4.h"

#include <stdlib.h>
#include <string.h>

#define SUITE_DATE "20150830T123600Z"
#define SUITE_HOST "Host:example.amazonaws.com"
#define SUITE_PREFIX                                                                          \
	"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "   \
	"SignedHeaders=host;x-amz-date, Signature="

static const struct vr_sigv4_cred suite = {
	.access_key = "AKIDEXAMPLE",
	.secret_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
	.region = "us-east-1",
	.service = "service",
};

static const struct vr_sigv4_cred s3doc = {
	.access_key = "AKIAIOSFODNN7EXAMPLE",
	.secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
	.region = "us-east-1",
	.service = "s3",
};

/* One request of the test suite: its request line's path and query, the
 * host and date headers; want: the Authorization header. */
static void suite_case(const char *path, const char *query, const char *want)
{
	const char *h[] = {SUITE_HOST, "X-Amz-Date:" SUITE_DATE};
	struct vr_sigv4_req r = {.method = "GET", .path = path, .query = query, .headers = h,
				 .nheaders = 2, .payload_hash = VR_SIGV4_EMPTY_SHA256};
	char *auth;
	vr_sigv4_authorization(&suite, SUITE_DATE, &r, &auth);
	if (!CHECK_EQ_STR(auth, want))
		fprintf(stderr, "  (path %s, query %s)\n", path, query ? query : "");
	free(auth);
}

static void test_suite(void)
{
	suite_case("/", NULL, SUITE_PREFIX "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
	suite_case("/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", NULL,
		   SUITE_PREFIX "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f");
	suite_case("/\xe1\x88\xb4", NULL,
		   SUITE_PREFIX "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85");
	suite_case("/example space/", NULL,
		   SUITE_PREFIX "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741");
	suite_case("//example//", NULL,
		   SUITE_PREFIX "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84");
	/* get-relative-relative: normalized to "/", so get-vanilla's signature */
	suite_case("/example1/example2/../..", NULL,
		   SUITE_PREFIX "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
	suite_case("/", "Param2=value2&Param1=value1",
		   SUITE_PREFIX "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
	suite_case("/", "\xe1\x88\xb4=bar",
		   SUITE_PREFIX "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04");
	suite_case("/",
		   "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz="
		   "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
		   SUITE_PREFIX "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197");
}

static void test_suite_headers(void)
{
	/* get-header-value-trim: names lower-cased, values trimmed, inner
	 * runs of spaces made one */
	const char *h[] = {SUITE_HOST, "My-Header1: value1", "My-Header2: \"a   b   c\"",
			   "X-Amz-Date:" SUITE_DATE};
	struct vr_sigv4_req r = {.method = "GET", .path = "/", .headers = h, .nheaders = 4,
				 .payload_hash = VR_SIGV4_EMPTY_SHA256};
	char *auth;
	vr_sigv4_authorization(&suite, SUITE_DATE, &r, &auth);
	CHECK_EQ_STR(auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
			   "SignedHeaders=host;my-header1;my-header2;x-amz-date, "
			   "Signature=acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736");
	free(auth);

	/* get-vanilla-with-session-token: the token is a signed header */
	struct vr_sigv4_cred tok = suite;
	tok.session_token = "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267";
	const char *h2[] = {SUITE_HOST, "X-Amz-Date:" SUITE_DATE,
			    "X-Amz-Security-Token:6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267"};
	struct vr_sigv4_req r2 = {.method = "GET", .path = "/", .headers = h2, .nheaders = 3,
				  .payload_hash = VR_SIGV4_EMPTY_SHA256};
	vr_sigv4_authorization(&tok, SUITE_DATE, &r2, &auth);
	CHECK_EQ_STR(auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
			   "SignedHeaders=host;x-amz-date;x-amz-security-token, "
			   "Signature=07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8");
	free(auth);
}

#define S3_DATE "20130524T000000Z"
#define S3_HOST "Host: examplebucket.s3.amazonaws.com"

static void test_s3_documentation(void)
{
	char *auth, *creq, *sl;
	/* GET Object with a Range, which it signs */
	const char *h[] = {S3_HOST, "Range: bytes=0-9", "x-amz-content-sha256: " VR_SIGV4_EMPTY_SHA256,
			   "x-amz-date: " S3_DATE};
	struct vr_sigv4_req r = {.method = "GET", .path = "/test.txt", .headers = h, .nheaders = 4,
				 .payload_hash = VR_SIGV4_EMPTY_SHA256, .s3 = 1};
	vr_sigv4_canonical_request(&r, &creq, &sl);
	CHECK_EQ_STR(creq, "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
			   "x-amz-content-sha256:" VR_SIGV4_EMPTY_SHA256 "\nx-amz-date:" S3_DATE "\n\n"
			   "host;range;x-amz-content-sha256;x-amz-date\n" VR_SIGV4_EMPTY_SHA256);
	CHECK_EQ_STR(sl, "host;range;x-amz-content-sha256;x-amz-date");
	char *sts;
	vr_sigv4_string_to_sign(S3_DATE, "20130524/us-east-1/s3/aws4_request", creq, &sts);
	CHECK_EQ_STR(sts, "AWS4-HMAC-SHA256\n" S3_DATE "\n20130524/us-east-1/s3/aws4_request\n"
			  "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
	free(sts);
	free(creq);
	free(sl);
	vr_sigv4_authorization(&s3doc, S3_DATE, &r, &auth);
	CHECK_EQ_STR(auth, "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
			   "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
			   "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
	free(auth);

	/* GET Bucket (List Objects): a query, the headers vr signs */
	const char *h2[] = {S3_HOST, "x-amz-content-sha256: " VR_SIGV4_EMPTY_SHA256,
			    "x-amz-date: " S3_DATE};
	struct vr_sigv4_req r2 = {.method = "GET", .path = "/", .query = "max-keys=2&prefix=J",
				  .headers = h2, .nheaders = 3,
				  .payload_hash = VR_SIGV4_EMPTY_SHA256, .s3 = 1};
	vr_sigv4_authorization(&s3doc, S3_DATE, &r2, &auth);
	CHECK_EQ_STR(auth, "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
			   "SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
			   "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
	free(auth);

	/* PUT Object "test$file.text": the key's '$' is encoded once, whether
	 * the URL had it plain or as %24 */
	char body_hash[65];
	vr_sigv4_sha256_hex("Welcome to Amazon S3.", 21, body_hash);
	CHECK_EQ_STR(body_hash, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
	const char *h3[] = {"Date: Fri, 24 May 2013 00:00:00 GMT", S3_HOST,
			    "x-amz-content-sha256: 44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
			    "x-amz-date: " S3_DATE, "x-amz-storage-class: REDUCED_REDUNDANCY"};
	const char *want3 =
		"AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
		"SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class, "
		"Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd";
	const char *paths[] = {"/test$file.text", "/test%24file.text"};
	for (size_t i = 0; i < 2; i++) {
		struct vr_sigv4_req r3 = {.method = "PUT", .path = paths[i], .headers = h3, .nheaders = 5,
					  .payload_hash = body_hash, .s3 = 1};
		vr_sigv4_authorization(&s3doc, S3_DATE, &r3, &auth);
		CHECK_EQ_STR(auth, want3);
		free(auth);
	}

	/* the presigned URL example: 86400 s, only host signed */
	const char *h4[] = {S3_HOST};
	struct vr_sigv4_req r4 = {.method = "GET", .path = "/test.txt", .headers = h4, .nheaders = 1,
				  .payload_hash = VR_SIGV4_UNSIGNED_PAYLOAD, .s3 = 1};
	char *q;
	vr_sigv4_presign_query(&s3doc, S3_DATE, 86400, &r4, &q);
	CHECK_EQ_STR(q, "X-Amz-Algorithm=AWS4-HMAC-SHA256"
			"&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
			"&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
			"&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
	free(q);
	/* a query of the URL's own stays first and is signed too: another
	 * signature */
	r4.query = "versionId=1";
	vr_sigv4_presign_query(&s3doc, S3_DATE, 86400, &r4, &q);
	CHECK(!strncmp(q, "versionId=1&X-Amz-Algorithm=AWS4-HMAC-SHA256&", 45));
	CHECK(strstr(q, "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404") == NULL);
	free(q);
}

static void test_pieces(void)
{
	char d[17];
	vr_sigv4_amz_date(1369353600, d);
	CHECK_EQ_STR(d, "20130524T000000Z");
	vr_sigv4_amz_date(1440938160, d);
	CHECK_EQ_STR(d, SUITE_DATE);
	char *e = vr_sigv4_uri_encode("a b/c~d+e%", 10, 1);
	CHECK_EQ_STR(e, "a%20b/c~d%2Be%25");
	free(e);
	e = vr_sigv4_uri_encode("a/b", 3, 0);
	CHECK_EQ_STR(e, "a%2Fb");
	free(e);
	/* S3 paths: decoded then encoded once; never normalized */
	const char *h[] = {"host:h"};
	struct vr_sigv4_req r = {.method = "GET", .path = "/a%20b/./c//d+%2B", .headers = h,
				 .nheaders = 1, .payload_hash = "UNSIGNED-PAYLOAD", .s3 = 1};
	char *creq;
	vr_sigv4_canonical_request(&r, &creq, NULL);
	CHECK_EQ_STR(creq, "GET\n/a%20b/./c//d%2B%2B\n\nhost:h\n\nhost\nUNSIGNED-PAYLOAD");
	free(creq);
	/* other services: normalized, and an encoded path encoded again */
	r.s3 = 0;
	r.path = "/a%20b/./c//d";
	vr_sigv4_canonical_request(&r, &creq, NULL);
	CHECK_EQ_STR(creq, "GET\n/a%2520b/c/d\n\nhost:h\n\nhost\nUNSIGNED-PAYLOAD");
	free(creq);
	/* an empty query value, a key given twice (sorted by value) */
	r.path = "";
	r.query = "b=2&a&b=1&&c=";
	vr_sigv4_canonical_request(&r, &creq, NULL);
	CHECK_EQ_STR(creq, "GET\n/\na=&b=1&b=2&c=\nhost:h\n\nhost\nUNSIGNED-PAYLOAD");
	free(creq);
	/* the signing key of the suite's credentials (the IAM doc's example
	 * derivation uses these inputs) is deterministic and date-bound */
	unsigned char k1[32], k2[32];
	vr_sigv4_signing_key("s", "20150830", "us-east-1", "s3", k1);
	vr_sigv4_signing_key("s", "20150831", "us-east-1", "s3", k2);
	CHECK(memcmp(k1, k2, 32) != 0);
}

int main(void)
{
	test_suite();
	test_suite_headers();
	test_s3_documentation();
	test_pieces();
	return check_done();
}
