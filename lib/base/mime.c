#include "mime.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static const struct {
	const char *ext, *type;
} types[] = {
	{"mp4", "video/mp4"},   {"m4v", "video/mp4"},        {"mov", "video/quicktime"},
	{"webm", "video/webm"}, {"mkv", "video/x-matroska"}, {"ts", "video/mp2t"},
	{"m4a", "audio/mp4"},   {"mp3", "audio/mpeg"},       {"ogg", "audio/ogg"},
	{"opus", "audio/ogg"},  {"jpg", "image/jpeg"},       {"jpeg", "image/jpeg"},
	{"png", "image/png"},   {"webp", "image/webp"},      {"gif", "image/gif"},
	{"txt", "text/plain"},  {"json", "application/json"},
};

const char *vr_mime_from_path(const char *path)
{
	if (path) {
		const char *q = strpbrk(path, "?#");
		size_t n = q ? (size_t)(q - path) : strlen(path);
		const char *dot = NULL;
		for (size_t i = n; i-- > 0 && path[i] != '/';)
			if (path[i] == '.') {
				dot = path + i + 1;
				break;
			}
		if (dot) {
			size_t el = (size_t)(path + n - dot);
			for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
				if (strlen(types[i].ext) == el && !strncasecmp(dot, types[i].ext, el))
					return types[i].type;
		}
	}
	return "application/octet-stream";
}

int vr_mime_valid(const char *t)
{
	size_t n = strlen(t);
	if (n < 1 || n > VR_MIME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (((unsigned char)t[i] < 0x20 && t[i] != '\t') || t[i] == 0x7f)
			return 0;
	return 1;
}

void vr_mime_boundary(char *buf, size_t len)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(buf, len, "vr%08lx%08lx", (unsigned long)getpid(),
		 (unsigned long)(ts.tv_nsec ^ ts.tv_sec));
}

int vr_mime_boundary_valid(const char *b)
{
	static const char extra[] = "'()+_,-./:=? ";
	size_t n = strlen(b);
	if (n < 1 || n > 70 || b[n - 1] == ' ')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = b[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      strchr(extra, c)))
			return 0;
	}
	return 1;
}
