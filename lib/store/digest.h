/* SHA-256 through OpenSSL's libcrypto (EVP, opened on first use).
 *
 * Contract: one vr_digest per user, freed with vr_digest_free; libcrypto
 * is loaded once (pthread_once): any thread. */
#ifndef VR_DIGEST_H
#define VR_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#define VR_DIGEST_LEN 32

struct vr_digest;

struct vr_digest *vr_digest_new(void);  /* NULL when out of memory or libcrypto has no SHA-256 */
void vr_digest_reset(struct vr_digest *d);
void vr_digest_update(struct vr_digest *d, const void *buf, size_t n);
/* Finish into 32 bytes and reset for reuse. */
void vr_digest_final(struct vr_digest *d, uint8_t out[VR_DIGEST_LEN]);
void vr_digest_free(struct vr_digest *d);
/* 64 lowercase hex digits and a NUL. */
void vr_digest_hex(const uint8_t bin[VR_DIGEST_LEN], char hex[2 * VR_DIGEST_LEN + 1]);

#endif
