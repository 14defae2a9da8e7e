#include "httpio.h"
#include "demux.h"

#include <libavformat/avformat.h>
#include <libavformat/avio.h>
#include <libavutil/dict.h>
#include <libavutil/error.h>
#include <libavutil/log.h>
#include <libavutil/mem.h>
#include <libavutil/opt.h>

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef VR_VERSION
#define VR_VERSION "0.0.0"
#endif

#define PROTOCOLS "http,https,tcp,tls"

struct vr_httpio {
	AVIOContext *io;
};

/* The status code of the last HTTP response parsed on this thread, taken
 * from libavformat's own log lines: it exports no http_code option. */
static _Thread_local int tl_http_code;
/* libavformat's last error-level line on this thread ("Peer certificate
 * failed verification", "Stream ends prematurely at ..."): the reason
 * behind a bare AVERROR(EIO). */
static _Thread_local char tl_av_error[256];
static pthread_once_t net_once = PTHREAD_ONCE_INIT;

int vr_httpio_log_capture(int level, const char *fmt, va_list vl)
{
	if (!fmt)
		return 1;
	if (!strncmp(fmt, "http_code=%d", 12) || !strncmp(fmt, "HTTP error %d", 13)) {
		va_list c;
		va_copy(c, vl);
		tl_http_code = va_arg(c, int);
		va_end(c);
		return 1;
	}
	if (level <= AV_LOG_ERROR) {
		va_list c;
		va_copy(c, vl);
		vsnprintf(tl_av_error, sizeof tl_av_error, fmt, c);
		va_end(c);
		size_t n = strlen(tl_av_error);
		while (n > 0 && (tl_av_error[n - 1] == '\n' || tl_av_error[n - 1] == '\r'))
			tl_av_error[--n] = '\0';
	}
	return 0;
}

/* One av_log callback for the whole plugin (lib/av/demux's): it hands
 * every line to vr_httpio_log_capture first. */
static void net_setup(void)
{
	vr_av_log_setup();
	avformat_network_init();
}

/* What a libavformat error means for the engine. */
static int failed(int err, struct vr_httpio_status *st)
{
	char msg[AV_ERROR_MAX_STRING_SIZE];
	st->code = tl_http_code;
	if (err == AVERROR_EXIT || err == AVERROR(ETIMEDOUT)) {
		st->fail = VR_HTTPIO_TIMEOUT;
		snprintf(st->why, sizeof st->why, "timed out");
		return -1;
	}
	if (vr_http_describe(err, st->code, st->why, sizeof st->why)) {
		st->fail = err == AVERROR_HTTP_NOT_FOUND	? VR_HTTPIO_NOTFOUND
			   : err == AVERROR_HTTP_SERVER_ERROR ? VR_HTTPIO_SERVER
							      : VR_HTTPIO_CLIENT;
		return -1;
	}
	switch (err) {
	case AVERROR(ENOMEM):
		st->fail = VR_HTTPIO_NOMEM;
		break;
	case AVERROR(EPERM):
		st->fail = VR_HTTPIO_MISPLACED;
		break;
	case AVERROR(EINVAL):
	case AVERROR_PROTOCOL_NOT_FOUND:
		st->fail = VR_HTTPIO_REFUSED;
		break;
	default:
		st->fail = VR_HTTPIO_TRANSIENT;
		break;
	}
	if (strstr(tl_av_error, "certificate"))
		st->fail = VR_HTTPIO_REFUSED; /* TLS verification: retrying will not help */
	av_strerror(err, msg, sizeof msg);
	if (tl_av_error[0])
		snprintf(st->why, sizeof st->why, "%s (%s)", msg, tl_av_error);
	else
		snprintf(st->why, sizeof st->why, "%s", msg);
	return -1;
}

int vr_httpio_ready(char *why, size_t len)
{
	(void)why;
	(void)len;
	pthread_once(&net_once, net_setup);
	return 0;
}

static void set_us(AVDictionary **d, const char *key, double seconds)
{
	char v[32];
	snprintf(v, sizeof v, "%" PRId64, (int64_t)(seconds * 1e6));
	av_dict_set(d, key, v, 0);
}

int vr_httpio_open(struct vr_httpio **out, const struct vr_httpio_request *r,
		   struct vr_httpio_status *st)
{
	AVDictionary *d = NULL;
	*out = NULL;
	st->code = 0;
	st->why[0] = '\0';
	pthread_once(&net_once, net_setup);
	struct vr_httpio *h = calloc(1, sizeof *h);
	if (!h)
		return failed(AVERROR(ENOMEM), st);
	av_dict_set(&d, "protocol_whitelist", PROTOCOLS, 0);
	av_dict_set(&d, "icy", "0", 0);      /* bytes as they are, no ICY metadata */
	av_dict_set(&d, "seekable", "0", 0); /* no Range: bytes=0- of its own */
	av_dict_set(&d, "user_agent", "vr/" VR_VERSION, 0);
	av_dict_set(&d, "tls_verify", "1", 0);
	if (r->method)
		av_dict_set(&d, "method", r->method, 0);
	if (r->timeout > 0) {
		set_us(&d, "rw_timeout", r->timeout);
		set_us(&d, "timeout", r->timeout);
	}
	if (r->offset > 0) {
		/* libavformat refuses a response whose Content-Range start is
		 * not its "offset" */
		char off[32];
		snprintf(off, sizeof off, "%" PRIu64, r->offset);
		av_dict_set(&d, "offset", off, 0);
	}
	if (r->headers && r->headers[0])
		av_dict_set(&d, "headers", r->headers, 0);
	AVIOInterruptCB cb = {r->interrupted, r->arg};
	tl_http_code = 0;
	tl_av_error[0] = '\0';
	int ret = avio_open2(&h->io, r->url, AVIO_FLAG_READ, &cb, &d);
	av_dict_free(&d);
	st->code = tl_http_code;
	if (ret < 0) {
		free(h);
		return failed(ret, st);
	}
	*out = h;
	return 0;
}

long vr_httpio_read(struct vr_httpio *h, void *p, size_t n, struct vr_httpio_status *st)
{
	if (n > INT_MAX)
		n = INT_MAX;
	for (;;) {
		tl_av_error[0] = '\0';
		int r = avio_read_partial(h->io, p, (int)n);
		if (r > 0)
			return r;
		if (r == AVERROR_EOF || (r == 0 && avio_feof(h->io)))
			return 0;
		if (r == 0)
			continue;
		return failed(r, st);
	}
}

int64_t vr_httpio_size(struct vr_httpio *h)
{
	int64_t n = avio_size(h->io);
	return n < 0 ? -1 : n;
}

static int option(struct vr_httpio *h, const char *name, char *buf, size_t len)
{
	uint8_t *val = NULL;
	int found = av_opt_get(h->io, name, AV_OPT_SEARCH_CHILDREN, &val) >= 0 && val && *val;
	if (found)
		snprintf(buf, len, "%s", (char *)val);
	av_freep(&val);
	return found;
}

int vr_httpio_content_type(struct vr_httpio *h, char *buf, size_t len)
{
	return option(h, "mime_type", buf, len);
}

int vr_httpio_location(struct vr_httpio *h, char *buf, size_t len)
{
	return option(h, "location", buf, len);
}

void vr_httpio_close(struct vr_httpio *h)
{
	if (!h)
		return;
	avio_closep(&h->io);
	free(h);
}
