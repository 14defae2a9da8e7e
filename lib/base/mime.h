/* Content types from file names, for Content-Type when none is given, and
 * multipart boundaries (RFC 2046).
 *
 * Contract: vr_mime_from_path returns a string literal (static, never
 * freed); nothing here keeps state: any thread. */
#ifndef VR_MIME_H
#define VR_MIME_H

#include <stddef.h>

/* "video/mp4" for "a.mp4", "application/octet-stream" when unknown. */
const char *vr_mime_from_path(const char *path);

/* A content type given by a user goes into response heads and multipart
 * part heads: 1 to VR_MIME_MAX printable characters. */
#define VR_MIME_MAX 255
int vr_mime_valid(const char *type);

/* A boundary for multipart bodies: "vr" and 16 hex digits. */
void vr_mime_boundary(char *buf, size_t len);
/* A boundary is 1 to 70 of RFC 2046's bchars, not ending in a space. */
int vr_mime_boundary_valid(const char *boundary);

#endif
