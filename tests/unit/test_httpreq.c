/* lib/request/httpreq: reading a CGI request (path, query, headers) from a
 * table of variables, the [http] policy, CORS, Cache-Control and
 * Content-Disposition, against RFC 3875, RFC 6266 and the Fetch rules. */
#include "cgi.h"
#include "check.h"
#include "config.h"
#include "httpreq.h"
#include "status.h"

#include <string.h>

static const char *const *vars; /* NAME, VALUE, ..., NULL */

static char *get(const char *name)
{
	for (size_t i = 0; vars[i]; i += 2)
		if (!strcmp(vars[i], name))
			return (char *)vars[i + 1];
	return NULL;
}

static int read_req(struct vr_cgi_request *r, const char *const *v)
{
	char err[256];
	vars = v;
	return vr_cgi_read(r, get, err, sizeof err);
}

static void test_request(void)
{
	struct vr_cgi_request r;
	static const char *const a[] = {"REQUEST_METHOD", "GET",
					"REQUEST_URI", "/videos/My%20Clip.mp4?width=320&filename=Hi+there.mov",
					"QUERY_STRING", "width=320&filename=Hi+there.mov&format=webm",
					"HTTP_RANGE", "bytes=0-99",
					"HTTP_IF_NONE_MATCH", "\"abc\"",
					"HTTP_ORIGIN", "https://app.example",
					NULL};
	CHECK_EQ_INT(read_req(&r, a), 0);
	CHECK_EQ_STR(r.method, "GET");
	CHECK_EQ_STR(r.path, "/videos/My Clip.mp4");
	CHECK_EQ_STR(r.query, "width=320&format=webm");
	CHECK_EQ_STR(r.filename, "Hi there.mov");
	CHECK_EQ_STR(r.range, "bytes=0-99");
	CHECK_EQ_STR(r.cond.if_none_match, "\"abc\"");
	CHECK(r.cond.if_match == NULL);
	CHECK_EQ_STR(r.origin, "https://app.example");

	/* no REQUEST_URI: SCRIPT_NAME + PATH_INFO */
	static const char *const b[] = {"REQUEST_METHOD", "HEAD", "SCRIPT_NAME", "/videos",
					"PATH_INFO", "/a.mp4", NULL};
	CHECK_EQ_INT(read_req(&r, b), 0);
	CHECK_EQ_STR(r.path, "/videos/a.mp4");
	CHECK_EQ_STR(r.query, "");

	/* what a client may not ask for */
	static const char *const bad[][6] = {
		{"REQUEST_METHOD", "GET", "REQUEST_URI", "/videos/../etc/passwd", NULL, NULL},
		{"REQUEST_METHOD", "GET", "REQUEST_URI", "/videos/%2e%2e/x", NULL, NULL},
		{"REQUEST_METHOD", "GET", "REQUEST_URI", "/videos/..", NULL, NULL},
		{"REQUEST_METHOD", "GET", "REQUEST_URI", "/videos/./a", NULL, NULL},
		{"REQUEST_METHOD", "GET", "REQUEST_URI", "/videos/a%00b", NULL, NULL},
		{"REQUEST_METHOD", "GET", "REQUEST_URI", "/videos/a%3Fwidth=1", NULL, NULL},
		{"REQUEST_METHOD", "GET", "REQUEST_URI", "/videos/a%0d%0aX: y", NULL, NULL},
		{"REQUEST_METHOD", "GET", "REQUEST_URI", "/videos/a%zz", NULL, NULL},
		{"REQUEST_METHOD", "GET", "REQUEST_URI", "videos/a", NULL, NULL},
		{"REQUEST_URI", "/videos/a", NULL, NULL, NULL, NULL},
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		CHECK_EQ_INT(read_req(&r, bad[i]), VR_EUSAGE);
	/* a dot inside a name is fine */
	static const char *const dots[] = {"REQUEST_METHOD", "GET", "REQUEST_URI", "/v/a..b/.c", NULL};
	CHECK_EQ_INT(read_req(&r, dots), 0);
}

static void test_policy(void)
{
	struct vr_config *cfg = NULL;
	struct vr_http_policy p;
	char err[512], buf[1024];
	static const char text[] = "[http]\ncors-origins = https://a.example, https://B.example\n"
				   "allow-bypass = yes\ncors-max-age = 10m\n";
	CHECK_EQ_INT(vr_config_parse(&cfg, text, strlen(text), "t.conf", err, sizeof err), 0);
	CHECK_EQ_INT(vr_http_policy_load(&p, cfg, err, sizeof err), 0);
	CHECK_EQ_INT(p.allow_bypass, 1);
	CHECK_EQ_INT(p.key_header, 0);
	CHECK(p.cors_max_age == 600);
	vr_http_cors(buf, sizeof buf, &p, "https://b.example");
	CHECK(strstr(buf, "Access-Control-Allow-Origin: https://b.example\r\n") != NULL);
	CHECK(strstr(buf, "Vary: Origin\r\n") != NULL);
	CHECK(strstr(buf, "Access-Control-Expose-Headers: Content-Range, Content-Length, "
			  "Accept-Ranges, ETag") != NULL);
	vr_http_cors(buf, sizeof buf, &p, "https://evil.example");
	CHECK_EQ_STR(buf, "");
	vr_http_cors(buf, sizeof buf, &p, NULL);
	CHECK_EQ_STR(buf, "");
	vr_config_free(cfg);

	static const char any[] = "[http]\ncors-origins = *\ncache-key-header = no\n";
	CHECK_EQ_INT(vr_config_parse(&cfg, any, strlen(any), "t.conf", err, sizeof err), 0);
	CHECK_EQ_INT(vr_http_policy_load(&p, cfg, err, sizeof err), 0);
	vr_http_cors(buf, sizeof buf, &p, "https://x.example");
	CHECK(strstr(buf, "Access-Control-Allow-Origin: *\r\n") != NULL);
	CHECK(strstr(buf, "Vary") == NULL);
	vr_config_free(cfg);

	static const char typo[] = "[http]\nallow-bypas = yes\n";
	CHECK_EQ_INT(vr_config_parse(&cfg, typo, strlen(typo), "t.conf", err, sizeof err), 0);
	CHECK_EQ_INT(vr_http_policy_load(&p, cfg, err, sizeof err), VR_EDATA);
	CHECK(strstr(err, "allow-bypas") != NULL);
	vr_config_free(cfg);
	static const char notbool[] = "[http]\nallow-bypass = maybe\n";
	CHECK_EQ_INT(vr_config_parse(&cfg, notbool, strlen(notbool), "t.conf", err, sizeof err), 0);
	CHECK_EQ_INT(vr_http_policy_load(&p, cfg, err, sizeof err), VR_EDATA);
	vr_config_free(cfg);
	/* nothing configured: no CORS, no bypass, no key */
	CHECK_EQ_INT(vr_http_policy_load(&p, NULL, err, sizeof err), 0);
	CHECK_EQ_INT(p.allow_bypass, 0);
	vr_http_cors(buf, sizeof buf, &p, "https://a.example");
	CHECK_EQ_STR(buf, "");
}

static void test_headers(void)
{
	CHECK_EQ_INT(vr_http_no_cache("no-cache"), 1);
	CHECK_EQ_INT(vr_http_no_cache("max-age=0"), 1);
	CHECK_EQ_INT(vr_http_no_cache("public, No-Store"), 1);
	CHECK_EQ_INT(vr_http_no_cache("max-age=60"), 0);
	CHECK_EQ_INT(vr_http_no_cache(NULL), 0);
	char b[1024];
	vr_http_content_disposition(b, sizeof b, "Hi there.mov", "video/mp4");
	CHECK_EQ_STR(b, "Content-Disposition: attachment; filename=\"Hi_there.mp4\"; "
			"filename*=UTF-8''Hi%20there.mp4\r\n");
	vr_http_content_disposition(b, sizeof b, "../../etc/pa\"ss\r\nX", "image/jpeg");
	CHECK(strstr(b, "filename=\"pa_ss__X.jpg\"") != NULL);
	CHECK(strchr(b, '\n') == b + strlen(b) - 1);
	vr_http_content_disposition(b, sizeof b, "caf\xc3\xa9", "audio/mp4");
	CHECK_EQ_STR(b, "Content-Disposition: attachment; filename=\"caf__.m4a\"; "
			"filename*=UTF-8''caf%C3%A9.m4a\r\n");
	vr_http_content_disposition(b, sizeof b, "", "video/mp4");
	CHECK_EQ_STR(b, "");
	vr_http_content_disposition(b, sizeof b, "...", "video/webm");
	CHECK(strstr(b, "filename=\"video.webm\"") != NULL);
}

/* vr-cache cgi's table (lib/cache/cgi.h): the failures that depend on
 * where they happened */
static void test_error_status(void)
{
	CHECK_EQ_INT(vr_cgi_error_status(VR_EDATA, 0, 0), 400);  /* a bad query value */
	CHECK_EQ_INT(vr_cgi_error_status(VR_EDATA, 1, 0), 502);  /* the source's data */
	CHECK_EQ_INT(vr_cgi_error_status(VR_ETIMEOUT, 1, 0), 504);
	CHECK_EQ_INT(vr_cgi_error_status(VR_ETIMEOUT, 0, 1), 503); /* waited for another */
	CHECK_EQ_INT(vr_cgi_error_status(VR_ENOTFOUND, 0, 0), 404);
	CHECK_EQ_INT(vr_cgi_error_status(VR_ERANGE, 0, 0), 416);
	CHECK_EQ_INT(vr_cgi_error_status(VR_ELIMIT, 1, 0), 422);
	CHECK_EQ_INT(vr_cgi_error_status(VR_EIO, 1, 0), 502);
	CHECK_EQ_INT(vr_cgi_error_status(VR_EUSAGE, 0, 0), 400);
	CHECK_EQ_INT(vr_cgi_error_status(VR_EFAIL, 0, 0), 500);
}

int main(void)
{
	test_error_status();
	test_request();
	test_policy();
	test_headers();
	return check_done();
}
