/* Unit tests of lib/store/digest: the FIPS 180-2 (appendix B) SHA-256
 * answers, the same digest from one call and from pieces, and a digest
 * reused after its final and after a reset. */
#include "digest.h"

#include <stdlib.h>
#include <string.h>

#include "check.h"

static const char *hex_of(struct vr_digest *d)
{
	static char hex[2 * VR_DIGEST_LEN + 1];
	uint8_t out[VR_DIGEST_LEN];
	vr_digest_final(d, out);
	vr_digest_hex(out, hex);
	return hex;
}

int main(void)
{
	static const char abc[] = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
	static const char empty[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
	static const char two_blocks[] = "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
	static const char million_a[] = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
	static const char msg2[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

	struct vr_digest *d = vr_digest_new();
	if (!CHECK(d != NULL))
		return check_done();
	vr_digest_update(d, "abc", 3);
	CHECK_EQ_STR(hex_of(d), abc);
	/* final resets: the next digest starts empty */
	CHECK_EQ_STR(hex_of(d), empty);
	vr_digest_update(d, msg2, strlen(msg2));
	CHECK_EQ_STR(hex_of(d), two_blocks);

	/* a million 'a' in one call, and in uneven pieces */
	size_t n = 1000000;
	char *a = malloc(n);
	if (!CHECK(a != NULL))
		return check_done();
	memset(a, 'a', n);
	vr_digest_update(d, a, n);
	CHECK_EQ_STR(hex_of(d), million_a);
	for (size_t off = 0, step = 1; off < n; off += step, step = step * 3 + 1) {
		size_t k = n - off < step ? n - off : step;
		vr_digest_update(d, a + off, k);
	}
	CHECK_EQ_STR(hex_of(d), million_a);

	/* reset drops what was fed */
	vr_digest_update(d, a, 12345);
	vr_digest_reset(d);
	vr_digest_update(d, "abc", 3);
	CHECK_EQ_STR(hex_of(d), abc);

	/* two digests at once keep their own state */
	struct vr_digest *e = vr_digest_new();
	if (CHECK(e != NULL)) {
		vr_digest_update(d, "ab", 2);
		vr_digest_update(e, msg2, strlen(msg2));
		vr_digest_update(d, "c", 1);
		CHECK_EQ_STR(hex_of(d), abc);
		CHECK_EQ_STR(hex_of(e), two_blocks);
		vr_digest_free(e);
	}
	free(a);
	vr_digest_free(d);
	return check_done();
}
