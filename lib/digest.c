#include "digest.h"

#include <libavutil/hash.h>

/* A struct vr_digest is libavutil's hash context under an opaque name. */

struct vr_digest *vr_digest_new(void)
{
	struct AVHashContext *h = NULL;
	if (av_hash_alloc(&h, "SHA256") < 0)
		return NULL;
	av_hash_init(h);
	return (struct vr_digest *)h;
}

void vr_digest_reset(struct vr_digest *d) { av_hash_init((struct AVHashContext *)d); }

void vr_digest_update(struct vr_digest *d, const void *buf, size_t n)
{
	av_hash_update((struct AVHashContext *)d, buf, n);
}

void vr_digest_final(struct vr_digest *d, uint8_t out[VR_DIGEST_LEN])
{
	av_hash_final_bin((struct AVHashContext *)d, out, VR_DIGEST_LEN);
	av_hash_init((struct AVHashContext *)d);
}

void vr_digest_free(struct vr_digest *d)
{
	struct AVHashContext *h = (struct AVHashContext *)d;
	av_hash_freep(&h);
}

void vr_digest_hex(const uint8_t bin[VR_DIGEST_LEN], char hex[2 * VR_DIGEST_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";
	for (int i = 0; i < VR_DIGEST_LEN; i++) {
		hex[2 * i] = digits[bin[i] >> 4];
		hex[2 * i + 1] = digits[bin[i] & 15];
	}
	hex[2 * VR_DIGEST_LEN] = '\0';
}
