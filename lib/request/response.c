#include "response.h"
#include "http.h"
#include "json.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

int vr_response_plan(struct vr_response *r, const struct vr_range_set *set, uint64_t size,
		     int multipart, const char *content_type, const char *boundary)
{
	memset(r, 0, sizeof *r);
	r->total = (int64_t)size;
	r->content_type = content_type ? content_type : "application/octet-stream";
	r->boundary = boundary;
	r->length_known = 1;
	if (!set) {
		r->status = 200;
		if (size > 0) {
			r->spans[0].start = 0;
			r->spans[0].end = size - 1;
			r->n = 1;
		}
		r->content_length = size;
		return VR_RANGE_OK;
	}
	if (vr_range_resolve(set, size, r->spans, &r->n) != VR_RANGE_OK) {
		r->status = 416;
		r->n = 0;
		return VR_RANGE_UNSATISFIABLE;
	}
	r->status = 206;
	r->multipart = multipart && r->n > 1 && boundary;
	if (r->multipart)
		r->content_length = vr_multipart_length(boundary, r->content_type, r->spans, r->n,
							r->total);
	else
		for (size_t i = 0; i < r->n; i++)
			r->content_length += r->spans[i].end - r->spans[i].start + 1;
	return VR_RANGE_OK;
}

int vr_response_serve(const struct vr_response *r, const struct vr_serve *s)
{
	char head[512];
	int rc = 0;
	for (size_t i = 0; i < r->n && !rc; i++) {
		if (r->multipart) {
			int hl = vr_multipart_head(head, sizeof head, r->boundary, r->content_type,
						   &r->spans[i], r->total);
			if ((rc = s->emit(s->ctx, head, (size_t)hl)))
				break;
		}
		rc = s->span(s->ctx, &r->spans[i]);
	}
	if (!rc && r->multipart) {
		int tl = vr_multipart_tail(head, sizeof head, r->boundary);
		rc = s->emit(s->ctx, head, (size_t)tl);
	}
	return rc;
}

/* Content-Range, when the answer has one. */
static int content_range(const struct vr_response *r, char *cr, size_t len)
{
	if (r->status == 416) {
		vr_content_range(cr, len, NULL, r->total);
		return 1;
	}
	if (r->status == 206 && r->n == 1) {
		vr_content_range(cr, len, &r->spans[0], r->total);
		return 1;
	}
	return 0;
}

static void content_type(const struct vr_response *r, char *ct, size_t len)
{
	if (r->multipart)
		/* RFC 2046: a boundary with characters outside a token is quoted */
		snprintf(ct, len,
			 strpbrk(r->boundary, " '()+,/:=?") ? "multipart/byteranges; boundary=\"%s\""
							    : "multipart/byteranges; boundary=%s",
			 r->boundary);
	else
		snprintf(ct, len, "%s", r->content_type);
}

void vr_response_head(const struct vr_response *r, struct vr_http_head *h, int cgi)
{
	char cr[128], ct[256];
	int has_cr = content_range(r, cr, sizeof cr);
	content_type(r, ct, sizeof ct);
	vr_http_head_begin(h, r->status, cgi);
	if (has_cr)
		vr_http_head_add(h, "Content-Range", "%s", cr);
	if (r->status != 416)
		vr_http_head_add(h, "Content-Type", "%s", ct);
	if (r->status == 416)
		vr_http_head_add(h, "Content-Length", "0");
	else if (r->length_known)
		vr_http_head_add(h, "Content-Length", "%" PRIu64, r->content_length);
	vr_http_head_add(h, "Accept-Ranges", "bytes");
	vr_http_head_lines(h, r->extra_headers);
	vr_http_head_end(h);
}

void vr_response_print(const struct vr_response *r, int headers, int json)
{
	char cr[128];
	int has_cr = content_range(r, cr, sizeof cr);
	char ct[256];
	content_type(r, ct, sizeof ct);
	if (headers) {
		static struct vr_http_head h; /* one thread (see response.h) */
		vr_response_head(r, &h, 0);
		fputs(h.buf, stderr);
	}
	if (json) {
		static struct vr_json j;
		/* the worst case: 128 times ,{"start":N,"end":N} with 20-digit N */
		static char list[VR_RANGE_MAX * 64 + 4];
		size_t ll = 0;
		list[ll++] = '[';
		for (size_t i = 0; i < r->n; i++)
			ll += (size_t)snprintf(list + ll, sizeof list - ll,
					       "%s{\"start\":%" PRIu64 ",\"end\":%" PRIu64 "}", i ? "," : "",
					       r->spans[i].start, r->spans[i].end);
		snprintf(list + ll, sizeof list - ll, "]");
		vr_json_begin(&j);
		vr_json_int(&j, "status", r->status);
		if (r->total >= 0)
			vr_json_int(&j, "size", r->total);
		else
			vr_json_null(&j, "size");
		vr_json_str(&j, "content_range", has_cr ? cr : NULL);
		if (r->status == 416)
			vr_json_int(&j, "content_length", 0);
		else if (r->length_known)
			vr_json_uint(&j, "content_length", r->content_length);
		else
			vr_json_null(&j, "content_length");
		vr_json_str(&j, "content_type", ct);
		vr_json_bool(&j, "multipart", r->multipart);
		vr_json_raw(&j, "ranges", list);
		if (r->extra_json && j.len > 0) {
			/* splice the caller's members in before the closing brace */
			fprintf(stderr, "%s%s}\n", j.buf, r->extra_json);
		} else {
			vr_json_end(&j);
			fprintf(stderr, "%s\n", j.buf);
		}
	}
	fflush(stderr);
}

void vr_response_print_failure(int exit_status, const char *error, const char *extra_headers,
			       const char *extra_json, int headers, int json)
{
	int status = vr_http_status_for_exit(exit_status);
	if (headers) {
		static struct vr_http_head h; /* one thread (see response.h) */
		vr_http_head_begin(&h, status, 0);
		vr_http_head_add(&h, "Content-Length", "0");
		vr_http_head_lines(&h, extra_headers);
		vr_http_head_end(&h);
		fputs(h.buf, stderr);
	}
	if (json) {
		static struct vr_json j;
		vr_json_begin(&j);
		vr_json_int(&j, "status", status);
		vr_json_null(&j, "size");
		vr_json_null(&j, "content_range");
		vr_json_int(&j, "content_length", 0);
		vr_json_null(&j, "content_type");
		vr_json_bool(&j, "multipart", 0);
		vr_json_raw(&j, "ranges", "[]");
		vr_json_str(&j, "error", error);
		if (extra_json && j.len > 0) {
			fprintf(stderr, "%s%s}\n", j.buf, extra_json);
		} else {
			vr_json_end(&j);
			fprintf(stderr, "%s\n", j.buf);
		}
	}
	fflush(stderr);
}

const char *vr_unsatisfiable_text(char *buf, size_t len, const struct vr_range_set *set,
				  const char *what, int64_t size, int http416)
{
	char r[256];
	vr_range_text(set, r, sizeof r);
	if (size >= 0)
		snprintf(buf, len,
			 "range %s not satisfiable: %s has %" PRId64
			 " bytes (Content-Range: bytes */%" PRId64 ")",
			 r, what, size, size);
	else
		snprintf(buf, len, "range %s not satisfiable: %s%s", r, what,
			 http416 ? " answered HTTP 416" : " has fewer bytes");
	return buf;
}
