/* lib/request/http: the exit-status table, validators, HTTP-dates, and
 * conditional requests in RFC 9110 section 13.2.2's order, each checked
 * against the RFC's own examples and rules. */
#include "check.h"
#include "http.h"
#include "status.h"

#include <stdlib.h>
#include <string.h>

static void test_status_table(void)
{
	CHECK_EQ_INT(vr_http_status_for_exit(VR_OK), 200);
	CHECK_EQ_INT(vr_http_status_for_exit(VR_EFAIL), 500);
	CHECK_EQ_INT(vr_http_status_for_exit(VR_EUSAGE), 400);
	CHECK_EQ_INT(vr_http_status_for_exit(VR_EDATA), 400);
	CHECK_EQ_INT(vr_http_status_for_exit(VR_ERANGE), 416);
	CHECK_EQ_INT(vr_http_status_for_exit(VR_ENOTFOUND), 404);
	CHECK_EQ_INT(vr_http_status_for_exit(VR_EIO), 502);
	CHECK_EQ_INT(vr_http_status_for_exit(VR_ETIMEOUT), 504);
	CHECK_EQ_INT(vr_http_status_for_exit(VR_ELIMIT), 422);
	CHECK_EQ_INT(vr_http_status_for_exit(143), 500);
	CHECK_EQ_STR(vr_http_reason(304), "Not Modified");
	CHECK_EQ_STR(vr_http_reason(412), "Precondition Failed");
	CHECK_EQ_STR(vr_http_reason(299), "");
}

/* the one wording of an origin's failing status, which the tests of
 * every program that fetches look for */
static void test_failure_text(void)
{
	char b[64];
	CHECK_EQ_STR(vr_http_failure_text(404, b, sizeof b), "HTTP 404 (not found)");
	CHECK_EQ_STR(vr_http_failure_text(503, b, sizeof b), "HTTP 503 (server error)");
	CHECK_EQ_STR(vr_http_failure_text(403, b, sizeof b), "HTTP 403 (forbidden)");
	CHECK_EQ_STR(vr_http_failure_text(401, b, sizeof b), "HTTP 401 (unauthorized)");
	CHECK_EQ_STR(vr_http_failure_text(416, b, sizeof b), "HTTP 416");
	CHECK_EQ_STR(vr_http_failure_text(5, b, sizeof b), "HTTP 5xx (server error)");
	CHECK_EQ_STR(vr_http_failure_text(4, b, sizeof b), "HTTP 4xx (client error)");
}

static void test_validators(void)
{
	char b[64];
	vr_http_etag(b, sizeof b, "3a7bd3e2360a3d29eea436fcfb7e44c735d117c42d1c1835420b6b9942dd4f1b");
	CHECK_EQ_STR(b, "\"3a7bd3e2360a3d29eea436fcfb7e44c7\"");
	vr_http_etag(b, sizeof b, "");
	CHECK_EQ_STR(b, "");
	vr_http_etag(b, sizeof b, "3a7b");
	CHECK_EQ_STR(b, "");
	/* RFC 9110 5.6.7's example, in all three forms */
	vr_http_date(b, sizeof b, 784111777);
	CHECK_EQ_STR(b, "Sun, 06 Nov 1994 08:49:37 GMT");
	CHECK(vr_http_parse_date("Sun, 06 Nov 1994 08:49:37 GMT") == 784111777);
	CHECK(vr_http_parse_date("Sunday, 06-Nov-94 08:49:37 GMT") == 784111777);
	CHECK(vr_http_parse_date("Sun Nov  6 08:49:37 1994") == 784111777);
	vr_http_date(b, sizeof b, 0);
	CHECK_EQ_STR(b, "Thu, 01 Jan 1970 00:00:00 GMT");
	CHECK(vr_http_parse_date("Thu, 01 Jan 1970 00:00:00 GMT") == 0);
	CHECK(vr_http_parse_date("Sat, 29 Feb 2020 23:59:59 GMT") == 1583020799);
	/* garbage and near misses are no date */
	CHECK(vr_http_parse_date("yesterday") == -1);
	CHECK(vr_http_parse_date("Sun, 06 Nov 1994 08:49:37 UTC") == -1);
	CHECK(vr_http_parse_date("Sun, 06 Xyz 1994 08:49:37 GMT") == -1);
	CHECK(vr_http_parse_date("Sun, 06 Nov 1994 25:49:37 GMT") == -1);
	CHECK(vr_http_parse_date("Sun, 06 Nov 1994 08:49:37 GMT trailing") == -1);
	CHECK(vr_http_parse_date(NULL) == -1);
}

static void test_etag_lists(void)
{
	const char *e = "\"abc\"";
	CHECK(vr_http_etag_matches("\"abc\"", e, 0));
	CHECK(vr_http_etag_matches("\"x\", \"abc\"", e, 0));
	CHECK(vr_http_etag_matches("*", e, 0));
	CHECK(vr_http_etag_matches(" * ", "", 1));
	CHECK(!vr_http_etag_matches("\"abd\"", e, 0));
	/* a weak tag never matches strongly, always weakly */
	CHECK(!vr_http_etag_matches("W/\"abc\"", e, 0));
	CHECK(vr_http_etag_matches("W/\"abc\"", e, 1));
	CHECK(!vr_http_etag_matches("abc", e, 1)); /* unquoted: no tag */
	CHECK(!vr_http_etag_matches("\"abc", e, 1));
	CHECK(!vr_http_etag_matches("\"abc\"", "", 1));
}

/* evaluate with only the headers given */
static int eval(const char *method, const char *im, const char *inm, const char *ims,
		const char *ius, const char *ir, int *use_range)
{
	struct vr_http_conditions c = {im, inm, ims, ius, ir};
	return vr_http_evaluate(&c, method, "\"abc\"", 784111777, use_range);
}

static void test_preconditions(void)
{
	const char *before = "Sun, 06 Nov 1994 08:49:36 GMT", *at = "Sun, 06 Nov 1994 08:49:37 GMT",
		   *after = "Sun, 06 Nov 1994 08:49:38 GMT";
	int ur;
	CHECK_EQ_INT(eval("GET", NULL, NULL, NULL, NULL, NULL, &ur), VR_HTTP_PROCEED);
	CHECK_EQ_INT(ur, 1);
	/* If-None-Match: 304 for GET and HEAD, 412 otherwise */
	CHECK_EQ_INT(eval("GET", NULL, "\"abc\"", NULL, NULL, NULL, &ur), VR_HTTP_NOT_MODIFIED);
	CHECK_EQ_INT(eval("HEAD", NULL, "W/\"abc\"", NULL, NULL, NULL, &ur), VR_HTTP_NOT_MODIFIED);
	CHECK_EQ_INT(eval("POST", NULL, "\"abc\"", NULL, NULL, NULL, &ur), VR_HTTP_FAILED);
	CHECK_EQ_INT(eval("GET", NULL, "\"other\"", NULL, NULL, NULL, &ur), VR_HTTP_PROCEED);
	/* If-Modified-Since: not later than the date is not modified */
	CHECK_EQ_INT(eval("GET", NULL, NULL, at, NULL, NULL, &ur), VR_HTTP_NOT_MODIFIED);
	CHECK_EQ_INT(eval("GET", NULL, NULL, after, NULL, NULL, &ur), VR_HTTP_NOT_MODIFIED);
	CHECK_EQ_INT(eval("GET", NULL, NULL, before, NULL, NULL, &ur), VR_HTTP_PROCEED);
	CHECK_EQ_INT(eval("GET", NULL, NULL, "garbage", NULL, NULL, &ur), VR_HTTP_PROCEED);
	CHECK_EQ_INT(eval("POST", NULL, NULL, at, NULL, NULL, &ur), VR_HTTP_PROCEED);
	/* If-None-Match wins over If-Modified-Since (13.2.2 step 4 only without it) */
	CHECK_EQ_INT(eval("GET", NULL, "\"other\"", at, NULL, NULL, &ur), VR_HTTP_PROCEED);
	/* If-Match and If-Unmodified-Since: 412 */
	CHECK_EQ_INT(eval("GET", "\"other\"", NULL, NULL, NULL, NULL, &ur), VR_HTTP_FAILED);
	CHECK_EQ_INT(eval("GET", "W/\"abc\"", NULL, NULL, NULL, NULL, &ur), VR_HTTP_FAILED);
	CHECK_EQ_INT(eval("GET", "\"abc\"", NULL, NULL, NULL, NULL, &ur), VR_HTTP_PROCEED);
	CHECK_EQ_INT(eval("GET", "*", NULL, NULL, NULL, NULL, &ur), VR_HTTP_PROCEED);
	CHECK_EQ_INT(eval("GET", NULL, NULL, NULL, before, NULL, &ur), VR_HTTP_FAILED);
	CHECK_EQ_INT(eval("GET", NULL, NULL, NULL, at, NULL, &ur), VR_HTTP_PROCEED);
	/* If-Match is evaluated first, and If-Unmodified-Since only without it */
	CHECK_EQ_INT(eval("GET", "\"abc\"", NULL, NULL, before, NULL, &ur), VR_HTTP_PROCEED);
	CHECK_EQ_INT(eval("GET", "\"other\"", "\"abc\"", NULL, NULL, NULL, &ur), VR_HTTP_FAILED);
	/* If-Range: a strong match or the exact date keeps the Range */
	CHECK_EQ_INT(eval("GET", NULL, NULL, NULL, NULL, "\"abc\"", &ur), VR_HTTP_PROCEED);
	CHECK_EQ_INT(ur, 1);
	eval("GET", NULL, NULL, NULL, NULL, "\"other\"", &ur);
	CHECK_EQ_INT(ur, 0);
	eval("GET", NULL, NULL, NULL, NULL, "W/\"abc\"", &ur);
	CHECK_EQ_INT(ur, 0);
	eval("GET", NULL, NULL, NULL, NULL, at, &ur);
	CHECK_EQ_INT(ur, 1);
	eval("GET", NULL, NULL, NULL, NULL, after, &ur);
	CHECK_EQ_INT(ur, 0);
	eval("GET", NULL, NULL, NULL, NULL, "not a date", &ur);
	CHECK_EQ_INT(ur, 0);
	eval("HEAD", NULL, NULL, NULL, NULL, "\"other\"", &ur);
	CHECK_EQ_INT(ur, 1); /* If-Range is for GET */
}

static void test_head(void)
{
	static struct vr_http_head h;
	vr_http_head_begin(&h, 206, 1);
	vr_http_head_add(&h, "Content-Range", "bytes %d-%d/%d", 0, 99, 1000);
	vr_http_head_lines(&h, "X-A: 1\r\n");
	vr_http_head_end(&h);
	CHECK_EQ_STR(h.buf, "Status: 206 Partial Content\r\nContent-Range: bytes 0-99/1000\r\n"
			    "X-A: 1\r\n\r\n");
	CHECK_EQ_INT((int)h.len, (int)strlen(h.buf));
	CHECK_EQ_INT(h.overflow, 0);
	vr_http_head_begin(&h, 304, 0);
	vr_http_head_end(&h);
	CHECK_EQ_STR(h.buf, "HTTP/1.1 304 Not Modified\r\n\r\n");
	/* a field that does not fit is left out whole, and said */
	static char big[VR_HTTP_HEAD_MAX];
	memset(big, 'a', sizeof big - 1);
	vr_http_head_begin(&h, 200, 1);
	for (int i = 0; i < 8; i++)
		vr_http_head_add(&h, "X-Big", "%.3000s", big);
	vr_http_head_end(&h);
	CHECK_EQ_INT(h.overflow, 1);
	CHECK(h.len < VR_HTTP_HEAD_MAX);
	CHECK(strcmp(h.buf + h.len - 4, "a\r\n\r") != 0);
	CHECK_EQ_STR(h.buf + h.len - 2, "\r\n");
	/* error bodies are short and name no path */
	int codes[] = {400, 404, 405, 412, 416, 422, 500, 502, 503, 504};
	for (size_t i = 0; i < sizeof codes / sizeof *codes; i++) {
		const char *t = vr_http_error_text(codes[i]);
		CHECK(strlen(t) < 100);
		CHECK(strchr(t, '/') == NULL);
		CHECK(atoi(t) == codes[i]);
	}
}

int main(void)
{
	test_head();
	test_status_table();
	test_failure_text();
	test_validators();
	test_etag_lists();
	test_preconditions();
	return check_done();
}
