#include "mime.h"

#include <string.h>
#include <strings.h>

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
