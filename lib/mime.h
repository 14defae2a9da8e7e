/* Content types from file names, for Content-Type when none is given. */
#ifndef VR_MIME_H
#define VR_MIME_H

/* "video/mp4" for "a.mp4", "application/octet-stream" when unknown. */
const char *vr_mime_from_path(const char *path);

/* A content type given by a user goes into response heads and multipart
 * part heads: 1 to VR_MIME_MAX printable characters. */
#define VR_MIME_MAX 255
int vr_mime_valid(const char *type);

#endif
