/* Unit tests of lib/base/progress's transfer line (vr-fetch --progress):
 * percent, bytes of the total, rate and ETA, and the form without a total. */
#include "progress.h"

#include <stdio.h>

#include "check.h"

static const char *text(uint64_t bytes, int64_t total, double elapsed)
{
	static char buf[256];
	return vr_progress_transfer_text(buf, sizeof buf, bytes, total, elapsed);
}

int main(void)
{
	/* 1 MiB of 4 MiB in 2 s: 512 KiB/s, 3 MiB left: 6 s */
	CHECK_EQ_STR(text(1 << 20, 4 << 20, 2), " 25%  1.0 MiB of 4.0 MiB  512.0 KiB/s  ETA 0:06");
	/* done */
	CHECK_EQ_STR(text(100, 100, 0.5), "100%  100 B of 100 B  200 B/s  ETA 0:00");
	/* nothing yet: no rate, so no ETA */
	CHECK_EQ_STR(text(0, 1000, 0), "  0%  0 B of 1000 B  0 B/s  ETA --:--");
	/* an empty output is complete */
	CHECK_EQ_STR(text(0, 0, 1), "100%  0 B of 0 B  0 B/s  ETA 0:00");
	/* hours */
	CHECK_EQ_STR(text(1 << 20, (int64_t)1 << 40, 1), "  0%  1.0 MiB of 1.0 TiB  1.0 MiB/s  ETA --:--");
	CHECK_EQ_STR(text(1 << 20, (int64_t)3601 << 20, 1), "  0%  1.0 MiB of 3.5 GiB  1.0 MiB/s  ETA 1:00:00");
	/* the total unknown: bytes and rate only */
	CHECK_EQ_STR(text(3 << 20, -1, 2), "3.0 MiB  1.5 MiB/s");
	/* a small buffer is cut, never overrun */
	char small[8];
	vr_progress_transfer_text(small, sizeof small, 1 << 20, 4 << 20, 2);
	CHECK_EQ_STR(small, " 25%  1");
	return check_done();
}
