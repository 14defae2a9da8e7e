/* HTTP semantics of an answer. See http.h. */
#include "http.h"
#include "status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

int vr_http_status_for_exit(int exit_status)
{
	switch (exit_status) {
	case VR_OK: return 200;
	case VR_EUSAGE:
	case VR_EDATA: return 400;
	case VR_ERANGE: return 416;
	case VR_ENOTFOUND: return 404;
	case VR_EIO: return 502;
	case VR_ETIMEOUT: return 504;
	case VR_ELIMIT: return 422;
	default: return 500;
	}
}

const char *vr_http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 412: return "Precondition Failed";
	case 413: return "Content Too Large";
	case 416: return "Range Not Satisfiable";
	case 422: return "Unprocessable Content";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "";
	}
}

const char *vr_http_failure_text(int code, char *buf, size_t len)
{
	if (code == 5)
		snprintf(buf, len, "HTTP 5xx (server error)");
	else if (code == 4)
		snprintf(buf, len, "HTTP 4xx (client error)");
	else if (code >= 500)
		snprintf(buf, len, "HTTP %d (server error)", code);
	else
		snprintf(buf, len, "HTTP %d%s", code,
			 code == 404 ? " (not found)" : code == 403 ? " (forbidden)"
			 : code == 401 ? " (unauthorized)" : "");
	return buf;
}

void vr_http_etag(char *buf, size_t len, const char *sha256_hex)
{
	size_t n = sha256_hex ? strspn(sha256_hex, "0123456789abcdef") : 0;
	if (n < 32) {
		snprintf(buf, len, "%s", "");
		return;
	}
	snprintf(buf, len, "\"%.32s\"", sha256_hex);
}

static const char *const wdays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
				     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

void vr_http_date(char *buf, size_t len, int64_t unix_time)
{
	time_t t = (time_t)unix_time;
	struct tm tm;
	if (!gmtime_r(&t, &tm)) {
		snprintf(buf, len, "%s", "");
		return;
	}
	snprintf(buf, len, "%s, %02d %s %04d %02d:%02d:%02d GMT", wdays[tm.tm_wday], tm.tm_mday,
		 months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static int month_of(const char *m)
{
	for (int i = 0; i < 12; i++)
		if (!strncmp(m, months[i], 3))
			return i;
	return -1;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian), no timezone. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int64_t to_unix(int year, int mon, int day, int h, int mi, int s)
{
	if (mon < 0 || day < 1 || day > 31 || h > 23 || mi > 59 || s > 60 || year < 1900)
		return -1;
	return days_from_civil(year, mon + 1, day) * 86400 + h * 3600 + mi * 60 + s;
}

int64_t vr_http_parse_date(const char *s)
{
	char wd[16], mon[4];
	int day, year, h, mi, sec, n = 0;
	if (!s)
		return -1;
	/* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
	if (sscanf(s, "%3s, %2d %3s %4d %2d:%2d:%2d GMT%n", wd, &day, mon, &year, &h, &mi, &sec,
		   &n) == 7 &&
	    n > 0 && s[n] == '\0')
		return to_unix(year, month_of(mon), day, h, mi, sec);
	/* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT */
	n = 0;
	if (sscanf(s, "%15[A-Za-z], %2d-%3s-%2d %2d:%2d:%2d GMT%n", wd, &day, mon, &year, &h, &mi,
		   &sec, &n) == 7 &&
	    n > 0 && s[n] == '\0') {
		/* a two-digit year more than 50 years ahead is in the past */
		time_t now = time(NULL);
		struct tm tm;
		gmtime_r(&now, &tm);
		int century = (tm.tm_year + 1900) / 100 * 100;
		year += century;
		if (year > tm.tm_year + 1900 + 50)
			year -= 100;
		return to_unix(year, month_of(mon), day, h, mi, sec);
	}
	/* asctime: Sun Nov  6 08:49:37 1994 */
	n = 0;
	if (sscanf(s, "%3s %3s %2d %2d:%2d:%2d %4d%n", wd, mon, &day, &h, &mi, &sec, &year, &n) == 7 &&
	    n > 0 && s[n] == '\0')
		return to_unix(year, month_of(mon), day, h, mi, sec);
	return -1;
}

/* The next entity-tag of a list: *tag, *taglen (quotes included) and
 * *weak; returns the rest of the list, or NULL at its end or on garbage. */
static const char *next_tag(const char *p, const char **tag, size_t *taglen, int *weak)
{
	p += strspn(p, " \t,");
	if (!*p)
		return NULL;
	*weak = 0;
	if (!strncmp(p, "W/", 2)) {
		*weak = 1;
		p += 2;
	}
	if (*p != '"')
		return NULL;
	const char *close = strchr(p + 1, '"');
	if (!close)
		return NULL;
	*tag = p;
	*taglen = (size_t)(close - p + 1);
	return close + 1;
}

int vr_http_etag_matches(const char *list, const char *etag, int weak)
{
	if (!list)
		return 0;
	const char *p = list + strspn(list, " \t");
	if (*p == '*') /* any current representation: the caller has one */
		return 1;
	if (!etag || !*etag)
		return 0;
	const char *tag;
	size_t tl;
	int is_weak;
	size_t el = strlen(etag);
	while ((p = next_tag(p, &tag, &tl, &is_weak))) {
		/* ours is strong: a strong comparison needs theirs strong too */
		if (is_weak && !weak)
			continue;
		if (tl == el && !memcmp(tag, etag, el))
			return 1;
	}
	return 0;
}

enum vr_http_precondition vr_http_evaluate(const struct vr_http_conditions *c, const char *method,
					   const char *etag, int64_t last_modified,
					   int *use_range)
{
	int get_or_head = method && (!strcmp(method, "GET") || !strcmp(method, "HEAD"));
	*use_range = 1;
	/* 1. If-Match; 2. else If-Unmodified-Since */
	if (c->if_match) {
		if (!vr_http_etag_matches(c->if_match, etag, 0))
			return VR_HTTP_FAILED;
	} else if (c->if_unmodified_since) {
		int64_t d = vr_http_parse_date(c->if_unmodified_since);
		if (d >= 0 && last_modified >= 0 && last_modified > d)
			return VR_HTTP_FAILED;
	}
	/* 3. If-None-Match; 4. else If-Modified-Since (GET, HEAD) */
	if (c->if_none_match) {
		if (vr_http_etag_matches(c->if_none_match, etag, 1))
			return get_or_head ? VR_HTTP_NOT_MODIFIED : VR_HTTP_FAILED;
	} else if (c->if_modified_since && get_or_head) {
		int64_t d = vr_http_parse_date(c->if_modified_since);
		if (d >= 0 && last_modified >= 0 && last_modified <= d)
			return VR_HTTP_NOT_MODIFIED;
	}
	/* 5. If-Range (GET with a Range): a strong ETag or the exact date */
	if (c->if_range && method && !strcmp(method, "GET")) {
		const char *v = c->if_range + strspn(c->if_range, " \t");
		if (*v == '"' || !strncmp(v, "W/", 2)) {
			*use_range = !strncmp(v, "W/", 2) ? 0 : vr_http_etag_matches(v, etag, 0);
		} else {
			int64_t d = vr_http_parse_date(v);
			*use_range = d >= 0 && last_modified >= 0 && d == last_modified;
		}
	}
	return VR_HTTP_PROCEED;
}

/* ---- the head ---- */

static void head_put(struct vr_http_head *h, const char *s, size_t n)
{
	if (h->overflow || h->len + n + 3 > sizeof h->buf) { /* room for the blank line */
		h->overflow = 1;
		return;
	}
	memcpy(h->buf + h->len, s, n);
	h->len += n;
	h->buf[h->len] = '\0';
}

void vr_http_head_begin(struct vr_http_head *h, int status, int cgi)
{
	h->len = 0;
	h->overflow = 0;
	h->status = status;
	h->buf[0] = '\0';
	char line[96];
	int n = snprintf(line, sizeof line, cgi ? "Status: %d %s\r\n" : "HTTP/1.1 %d %s\r\n", status,
			 vr_http_reason(status));
	head_put(h, line, (size_t)n);
}

void vr_http_head_add(struct vr_http_head *h, const char *name, const char *fmt, ...)
{
	char line[4096];
	int n = snprintf(line, sizeof line, "%s: ", name);
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	va_end(ap);
	if (n < 0 || m < 0 || (size_t)(n + m + 2) >= sizeof line) {
		h->overflow = 1;
		return;
	}
	memcpy(line + n + m, "\r\n", 3);
	head_put(h, line, (size_t)(n + m + 2));
}

void vr_http_head_lines(struct vr_http_head *h, const char *lines)
{
	if (lines)
		head_put(h, lines, strlen(lines));
}

void vr_http_head_end(struct vr_http_head *h)
{
	/* head_put kept room for it */
	memcpy(h->buf + h->len, "\r\n", 3);
	h->len += 2;
}

const char *vr_http_error_text(int status)
{
	switch (status) {
	case 400: return "400 Bad Request: the request or one of its parameters is not valid.\n";
	case 404: return "404 Not Found: no such video.\n";
	case 405: return "405 Method Not Allowed: use GET, HEAD or OPTIONS.\n";
	case 412: return "412 Precondition Failed.\n";
	case 416: return "416 Range Not Satisfiable.\n";
	case 422: return "422 Unprocessable Content: the request exceeds a configured limit.\n";
	case 502: return "502 Bad Gateway: the origin failed or sent bad data.\n";
	case 503: return "503 Service Unavailable: busy, try again shortly.\n";
	case 504: return "504 Gateway Timeout: the origin or the transform took too long.\n";
	default: return "500 Internal Server Error.\n";
	}
}
