/* A tiny JSON object writer into a fixed buffer (no allocation).
 *
 * Contract: the writer is the caller's struct (no static state): any
 * thread, one writer per thread. Keys and values are copied into buf. */
#ifndef VR_JSON_H
#define VR_JSON_H

#include <stddef.h>
#include <stdint.h>

struct vr_json {
	char buf[8192];
	size_t len;
	int n;          /* members written at the current level */
	int overflow;
};

void vr_json_begin(struct vr_json *j);                  /* "{" */
void vr_json_str(struct vr_json *j, const char *k, const char *v); /* v NULL: null */
void vr_json_int(struct vr_json *j, const char *k, int64_t v);
void vr_json_uint(struct vr_json *j, const char *k, uint64_t v);
void vr_json_bool(struct vr_json *j, const char *k, int v);
void vr_json_null(struct vr_json *j, const char *k);
void vr_json_raw(struct vr_json *j, const char *k, const char *raw); /* pre-formatted value */
void vr_json_end(struct vr_json *j);                    /* "}" */
/* Escape s (n bytes) as a JSON string body into dst; returns length. */
size_t vr_json_escape(char *dst, size_t cap, const char *s, size_t n);

#endif
