/* Unit tests of lib/base/crc32c: known answers, and the three-lane hardware path
 * against the byte-at-a-time table for every length around the lane and
 * block sizes, at odd alignments and in split calls. */
#include "crc32c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

int main(void)
{
	/* RFC 3720 B.4 and the usual check value */
	CHECK(vr_crc32c(0, "123456789", 9) == 0xe3069283u);
	CHECK(vr_crc32c_portable(0, "123456789", 9) == 0xe3069283u);
	unsigned char z[32] = {0}, ff[32];
	memset(ff, 0xff, sizeof ff);
	CHECK(vr_crc32c(0, z, 32) == 0x8a9136aau);
	CHECK(vr_crc32c(0, ff, 32) == 0x62a8ab43u);
	CHECK(vr_crc32c(0, "", 0) == 0);

	size_t big = 200000;
	unsigned char *buf = malloc(big + 16);
	if (!buf)
		return 1;
	uint32_t x = 2463534242u;
	for (size_t i = 0; i < big + 16; i++) {
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		buf[i] = (unsigned char)x;
	}
	/* lengths around one and several blocks of three 4 KiB lanes */
	size_t lens[] = {0, 1, 7, 8, 9, 4095, 4096, 12287, 12288, 12289, 12295, 24576, 24577,
			 36863, 65536, 100003, big};
	for (size_t a = 0; a < 9; a++)
		for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
			const unsigned char *p = buf + a;
			size_t n = lens[i];
			uint32_t want = vr_crc32c_portable(0, p, n);
			CHECK(vr_crc32c(0, p, n) == want);
			/* continued across two calls, cut anywhere */
			size_t cut = n / 3 + a;
			if (cut > n)
				cut = n;
			CHECK(vr_crc32c(vr_crc32c(0, p, cut), p + cut, n - cut) == want);
			CHECK(vr_crc32c_portable(vr_crc32c_portable(0, p, cut), p + cut, n - cut) == want);
		}
	/* a flipped bit anywhere changes it */
	uint32_t whole = vr_crc32c(0, buf, big);
	for (size_t i = 0; i < big; i += 9973) {
		buf[i] ^= 0x10;
		CHECK(vr_crc32c(0, buf, big) != whole);
		buf[i] ^= 0x10;
	}
	CHECK(vr_crc32c(0, buf, big) == whole);
	free(buf);
	return check_done();
}
