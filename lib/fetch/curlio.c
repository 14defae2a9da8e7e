/* One http(s) request through libcurl's multi interface. See httpio.h. */
#include "httpio.h"
#include "http.h"
#include "libcurl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#ifndef VR_VERSION
#define VR_VERSION "0.0.0"
#endif

#define MAX_REDIRECTS 8L
/* how often a blocked request looks at its interrupted callback */
#define POLL_MS 100
/* the body between libcurl and the reader: libcurl hands over at most
 * CURL_MAX_WRITE_SIZE at a time, and is paused when the room left is less */
#define BUF_SIZE (2 * CURL_MAX_WRITE_SIZE)

struct vr_httpio {
	const struct vr_libcurl *c;
	CURL *easy;
	CURLM *multi;
	struct curl_slist *headers;
	int (*interrupted)(void *arg);
	void *arg;
	double timeout_ms; /* 0: none of ours */
	double last_ms;    /* when a byte last came */
	/* the response being received: its status line and the headers that
	 * decide what it is */
	int code;
	int location;                 /* a Location header: libcurl follows a 3xx */
	int head_done;                /* the final response's head is in */
	int64_t length;               /* Content-Length; -1 none */
	int64_t range_first, range_total; /* Content-Range; -1 none or "*" */
	/* the transfer */
	int paused, done;
	CURLcode result;
	unsigned char buf[BUF_SIZE];
	size_t pos, len;
	char errbuf[CURL_ERROR_SIZE];
};

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int fail(struct vr_httpio_status *st, enum vr_httpio_fail kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct vr_httpio_status *st, enum vr_httpio_fail kind, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(st->why, sizeof st->why, fmt, ap);
	va_end(ap);
	st->fail = kind;
	return -1;
}

/* ---- libcurl's callbacks ---- */

/* A decimal count, whole: -1 when s is not one. */
static int64_t count_of(const char *s, const char **end)
{
	if (*s < '0' || *s > '9')
		return -1;
	char *e;
	errno = 0;
	long long v = strtoll(s, &e, 10);
	if (errno || v < 0)
		return -1;
	*end = e;
	return v;
}

static int header_is(const char *line, size_t n, const char *name, const char **value)
{
	size_t k = strlen(name);
	if (n <= k || strncasecmp(line, name, k) || line[k] != ':')
		return 0;
	const char *v = line + k + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	*value = v;
	return 1;
}

/* Each header line of each response, redirects' included; "\r\n" ends a
 * head. The line is not NUL-terminated: it is copied first. */
static size_t on_header(char *p, size_t size, size_t nmemb, void *arg)
{
	struct vr_httpio *h = arg;
	size_t n = size * nmemb;
	char line[1024];
	snprintf(line, sizeof line, "%.*s", (int)(n < sizeof line ? n : sizeof line - 1), p);
	const char *v, *e;
	h->last_ms = now_ms();
	if (!strncmp(line, "HTTP/", 5)) {
		/* a new response: forget the last one's */
		const char *sp = strchr(line, ' ');
		h->code = sp ? atoi(sp + 1) : 0;
		h->location = 0;
		h->length = h->range_first = h->range_total = -1;
	} else if (header_is(line, n, "Location", &v)) {
		h->location = 1;
	} else if (header_is(line, n, "Content-Length", &v)) {
		h->length = count_of(v, &e);
	} else if (header_is(line, n, "Content-Range", &v)) {
		/* "bytes FIRST-LAST/TOTAL" (TOTAL may be "*") */
		if (!strncasecmp(v, "bytes ", 6) && (h->range_first = count_of(v + 6, &e)) >= 0) {
			const char *slash = strchr(e, '/');
			h->range_total = slash ? count_of(slash + 1, &e) : -1;
		}
	} else if (!strcmp(line, "\r\n") || !strcmp(line, "\n")) {
		/* the end of a head: interim (1xx) and followed redirects
		 * (a 3xx with a Location, but 304, 305 and 306) come before
		 * the final one */
		int redirect = h->code >= 300 && h->code < 400 && h->code != 304 && h->code != 305 &&
			       h->code != 306 && h->location;
		if (h->code >= 200 && !redirect)
			h->head_done = 1;
	}
	return n;
}

/* A piece of the body into the buffer. Receiving is paused as soon as
 * the room left could not take libcurl's largest piece, so that libcurl
 * stops reading the socket rather than keeping a copy of a refused piece
 * (CURL_WRITEFUNC_PAUSE: a malloc'd copy at every pause, then more);
 * that is only the fallback. vr_httpio_read unpauses once it is drained. */
static size_t on_body(char *p, size_t size, size_t nmemb, void *arg)
{
	struct vr_httpio *h = arg;
	size_t n = size * nmemb;
	h->last_ms = now_ms();
	if (h->pos == h->len)
		h->pos = h->len = 0;
	if (n > sizeof h->buf - h->len && h->pos > 0) {
		memmove(h->buf, h->buf + h->pos, h->len - h->pos);
		h->len -= h->pos;
		h->pos = 0;
	}
	if (n > sizeof h->buf)
		return 0; /* a piece larger than libcurl's largest: fail */
	if (n > sizeof h->buf - h->len) {
		h->paused = 1;
		return CURL_WRITEFUNC_PAUSE;
	}
	memcpy(h->buf + h->len, p, n);
	h->len += n;
	if (sizeof h->buf - (h->len - h->pos) < CURL_MAX_WRITE_SIZE &&
	    h->c->easy_pause(h->easy, CURLPAUSE_RECV) == CURLE_OK)
		h->paused = 1;
	return n;
}

/* ---- driving the transfer ---- */

/* What a failed transfer means for the engine. */
static int transfer_failed(struct vr_httpio *h, struct vr_httpio_status *st)
{
	CURLcode rc = h->result;
	const char *what = h->c->easy_strerror(rc);
	enum vr_httpio_fail kind;
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		return fail(st, VR_HTTPIO_TIMEOUT, "timed out");
	case CURLE_OUT_OF_MEMORY:
		kind = VR_HTTPIO_NOMEM;
		break;
	/* retrying will not help */
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_TOO_MANY_REDIRECTS:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
		kind = VR_HTTPIO_REFUSED;
		break;
	default:
		kind = VR_HTTPIO_TRANSIENT;
		break;
	}
	/* the system's word first when a connection failed ("Connection
	 * refused"), then libcurl's details, which often repeat its summary */
	long os_errno = 0;
	if (h->c->easy_getinfo(h->easy, CURLINFO_OS_ERRNO, &os_errno) != CURLE_OK)
		os_errno = 0;
	if (os_errno > 0)
		what = strerror((int)os_errno);
	if (h->errbuf[0] && !strstr(h->errbuf, what))
		return fail(st, kind, "%s (%s)", what, h->errbuf);
	return fail(st, kind, "%s", h->errbuf[0] ? h->errbuf : what);
}

/* Run the transfer until ready(h) or its end, waiting on its sockets at
 * most POLL_MS at a time: 0, or -1 with st set (interrupted, no byte for
 * the timeout, libcurl's multi failing). */
static int drive(struct vr_httpio *h, int (*ready)(const struct vr_httpio *),
		 struct vr_httpio_status *st)
{
	for (;;) {
		int running = 0;
		CURLMcode mc = h->c->multi_perform(h->multi, &running);
		if (mc != CURLM_OK)
			return fail(st, VR_HTTPIO_TRANSIENT, "%s", h->c->multi_strerror(mc));
		if (!running && !h->done) {
			int left;
			CURLMsg *m;
			h->done = 1;
			h->result = CURLE_OK;
			while ((m = h->c->multi_info_read(h->multi, &left)))
				if (m->msg == CURLMSG_DONE && m->easy_handle == h->easy)
					h->result = m->data.result;
		}
		if (h->done || ready(h))
			return 0;
		if (h->interrupted && h->interrupted(h->arg))
			return fail(st, VR_HTTPIO_TIMEOUT, "timed out");
		double wait = POLL_MS;
		if (h->timeout_ms > 0) {
			double left = h->last_ms + h->timeout_ms - now_ms();
			if (left <= 0)
				return fail(st, VR_HTTPIO_TIMEOUT, "timed out");
			if (left < wait)
				wait = left + 1;
		}
		mc = h->c->multi_poll(h->multi, NULL, 0, (int)wait, NULL);
		if (mc != CURLM_OK)
			return fail(st, VR_HTTPIO_TRANSIENT, "%s", h->c->multi_strerror(mc));
	}
}

static int head_ready(const struct vr_httpio *h) { return h->head_done; }
static int body_ready(const struct vr_httpio *h) { return h->pos < h->len || h->paused; }

/* ---- the API ---- */

int vr_httpio_ready(char *why, size_t len) { return vr_libcurl(why, len) ? 0 : -1; }

/* "Name: value\r\n" lines into a list of "Name: value". */
static int add_headers(struct vr_httpio *h, const char *lines)
{
	char one[8192];
	for (const char *p = lines; p && *p;) {
		size_t n = strcspn(p, "\r\n");
		if (n > 0) {
			if (n >= sizeof one)
				return -1;
			memcpy(one, p, n);
			one[n] = '\0';
			struct curl_slist *l = h->c->slist_append(h->headers, one);
			explicit_bzero(one, n);
			if (!l)
				return -1;
			h->headers = l;
		}
		p += n;
		p += strspn(p, "\r\n");
	}
	return 0;
}

static int set_options(struct vr_httpio *h, const struct vr_httpio_request *r)
{
	const struct vr_libcurl *c = h->c;
	CURL *e = h->easy;
	int bad = 0;
#define SET(opt, val) (bad |= c->easy_setopt(e, opt, val) != CURLE_OK)
	SET(CURLOPT_URL, r->url);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_FOLLOWLOCATION, 1L);
	SET(CURLOPT_MAXREDIRS, MAX_REDIRECTS);
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	SET(CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
	SET(CURLOPT_USERAGENT, "vr/" VR_VERSION);
	SET(CURLOPT_ERRORBUFFER, h->errbuf);
	SET(CURLOPT_HEADERFUNCTION, on_header);
	SET(CURLOPT_HEADERDATA, h);
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_WRITEDATA, h);
	if (r->timeout > 0)
		SET(CURLOPT_CONNECTTIMEOUT_MS, (long)(r->timeout * 1000 + 0.5));
	if (r->method && !strcmp(r->method, "HEAD"))
		SET(CURLOPT_NOBODY, 1L);
	else if (r->method && strcmp(r->method, "GET"))
		SET(CURLOPT_CUSTOMREQUEST, r->method);
	if (h->headers)
		SET(CURLOPT_HTTPHEADER, h->headers);
#undef SET
	return bad ? -1 : 0;
}

/* The final response's head is in: an HTTP failure, or a body that
 * starts elsewhere than asked, fails the request. */
static int judge_head(struct vr_httpio *h, uint64_t offset, struct vr_httpio_status *st)
{
	int code = h->code;
	if (code >= 400) {
		char text[64];
		enum vr_httpio_fail kind = code == 404 ? VR_HTTPIO_NOTFOUND
					   : code >= 500 ? VR_HTTPIO_SERVER
							 : VR_HTTPIO_CLIENT;
		return fail(st, kind, "%s", vr_http_failure_text(code, text, sizeof text));
	}
	if (offset > 0 && (code != 206 || h->range_first != (int64_t)offset))
		return fail(st, VR_HTTPIO_MISPLACED, "the response starts at byte %" PRId64 ", not %" PRIu64,
			    code == 206 ? h->range_first : 0, offset);
	return 0;
}

int vr_httpio_open(struct vr_httpio **out, const struct vr_httpio_request *r,
		   struct vr_httpio_status *st)
{
	*out = NULL;
	st->code = 0;
	st->why[0] = '\0';
	const struct vr_libcurl *c = vr_libcurl(st->why, sizeof st->why);
	if (!c)
		return fail(st, VR_HTTPIO_UNAVAILABLE, "%s", st->why);
	struct vr_httpio *h = calloc(1, sizeof *h);
	if (!h)
		return fail(st, VR_HTTPIO_NOMEM, "out of memory");
	h->c = c;
	h->interrupted = r->interrupted;
	h->arg = r->arg;
	h->timeout_ms = r->timeout > 0 ? r->timeout * 1000 : 0;
	h->last_ms = now_ms();
	h->length = h->range_first = h->range_total = -1;
	h->easy = c->easy_init();
	h->multi = c->multi_init();
	if (!h->easy || !h->multi || add_headers(h, r->headers)) {
		vr_httpio_close(h);
		return fail(st, VR_HTTPIO_NOMEM, "out of memory");
	}
	if (set_options(h, r) || c->multi_add_handle(h->multi, h->easy) != CURLM_OK) {
		vr_httpio_close(h);
		return fail(st, VR_HTTPIO_REFUSED, "libcurl refuses the request's options");
	}
	int rc = drive(h, head_ready, st);
	st->code = h->code;
	if (!rc && h->done && h->result != CURLE_OK)
		rc = transfer_failed(h, st);
	if (!rc)
		rc = judge_head(h, r->offset, st);
	if (rc) {
		vr_httpio_close(h);
		return rc;
	}
	*out = h;
	return 0;
}

long vr_httpio_read(struct vr_httpio *h, void *p, size_t n, struct vr_httpio_status *st)
{
	st->code = h->code;
	for (;;) {
		if (h->pos < h->len) {
			size_t k = h->len - h->pos < n ? h->len - h->pos : n;
			memcpy(p, h->buf + h->pos, k);
			h->pos += k;
			return (long)k;
		}
		if (h->done) {
			if (h->result != CURLE_OK)
				return transfer_failed(h, st);
			return 0;
		}
		if (h->paused) {
			/* libcurl hands over the piece it kept, here or in the
			 * next perform */
			h->paused = 0;
			CURLcode rc = h->c->easy_pause(h->easy, CURLPAUSE_CONT);
			if (rc != CURLE_OK) {
				h->done = 1;
				h->result = rc;
			}
			continue;
		}
		h->last_ms = now_ms(); /* the timeout is for each read */
		if (drive(h, body_ready, st))
			return -1;
	}
}

int64_t vr_httpio_size(struct vr_httpio *h)
{
	if (h->code == 206)
		return h->range_total;
	return h->length;
}

int vr_httpio_content_type(struct vr_httpio *h, char *buf, size_t len)
{
	char *ct = NULL;
	if (h->c->easy_getinfo(h->easy, CURLINFO_CONTENT_TYPE, &ct) != CURLE_OK || !ct || !*ct)
		return 0;
	snprintf(buf, len, "%s", ct);
	return 1;
}

int vr_httpio_location(struct vr_httpio *h, char *buf, size_t len)
{
	long redirects = 0;
	char *url = NULL;
	if (h->c->easy_getinfo(h->easy, CURLINFO_REDIRECT_COUNT, &redirects) != CURLE_OK ||
	    redirects <= 0 || h->c->easy_getinfo(h->easy, CURLINFO_EFFECTIVE_URL, &url) != CURLE_OK ||
	    !url)
		return 0;
	snprintf(buf, len, "%s", url);
	return 1;
}

void vr_httpio_close(struct vr_httpio *h)
{
	if (!h)
		return;
	if (h->multi && h->easy)
		h->c->multi_remove_handle(h->multi, h->easy);
	if (h->easy)
		h->c->easy_cleanup(h->easy);
	if (h->multi)
		h->c->multi_cleanup(h->multi);
	if (h->headers)
		h->c->slist_free_all(h->headers);
	free(h);
}
