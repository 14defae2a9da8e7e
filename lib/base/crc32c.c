#include "crc32c.h"

#include <pthread.h>
#include <string.h>

#define POLY 0x82f63b78u /* reflected Castagnoli polynomial */

static uint32_t table[256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void make_table(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ POLY : c >> 1;
		table[i] = c;
	}
}

/* The register after n more bytes, one byte at a time (no pre- or
 * post-inversion: callers do that). */
static uint32_t crc_table(uint32_t crc, const unsigned char *p, size_t n)
{
	/* once, for all threads: a thread that saw table[1] set while another
	 * was still filling the rest would compute wrong checksums */
	pthread_once(&table_once, make_table);
	while (n--)
		crc = (crc >> 8) ^ table[(crc ^ *p++) & 0xff];
	return crc;
}

#if defined(__x86_64__)
#include <nmmintrin.h>

/* The crc32 instruction takes 3 cycles but can start every cycle, so one
 * dependent chain uses a third of it. Long buffers are cut into blocks of
 * three lanes of LANE bytes, each lane its own chain; the lanes are then
 * joined: the register is linear, so
 *   reg(s, A || B) = shift(reg(s, A), |B|) ^ reg(0, B)
 * where shift(x, n) is x followed by n zero bytes, a linear map of x that
 * is tabulated once for n = LANE (four 256-entry tables, one per byte). */
#define LANE 4096u

static uint32_t shift_tab[4][256];
static pthread_once_t shift_once = PTHREAD_ONCE_INIT;

__attribute__((target("sse4.2"))) static uint32_t crc_run(uint32_t c32, const unsigned char *p,
							   size_t n)
{
	uint64_t c = c32;
	while (n >= 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		c = _mm_crc32_u64(c, v);
		p += 8;
		n -= 8;
	}
	c32 = (uint32_t)c;
	while (n--)
		c32 = _mm_crc32_u8(c32, *p++);
	return c32;
}

__attribute__((target("sse4.2"))) static void make_shift(void)
{
	static const unsigned char zeros[LANE];
	uint32_t basis[32];
	for (int i = 0; i < 32; i++)
		basis[i] = crc_run(1u << i, zeros, LANE);
	for (int k = 0; k < 4; k++)
		for (uint32_t v = 0; v < 256; v++) {
			uint32_t x = 0;
			for (int j = 0; j < 8; j++)
				if (v >> j & 1)
					x ^= basis[8 * k + j];
			shift_tab[k][v] = x;
		}
}

static uint32_t shift_lane(uint32_t x)
{
	return shift_tab[0][x & 0xff] ^ shift_tab[1][x >> 8 & 0xff] ^ shift_tab[2][x >> 16 & 0xff] ^
	       shift_tab[3][x >> 24];
}

__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t crc, const unsigned char *p,
							  size_t n)
{
	if (n >= 3 * LANE) {
		pthread_once(&shift_once, make_shift);
		while (n >= 3 * LANE) {
			uint64_t a = crc, b = 0, c = 0;
			const unsigned char *q = p;
			for (size_t i = 0; i < LANE; i += 8, q += 8) {
				uint64_t va, vb, vc;
				memcpy(&va, q, 8);
				memcpy(&vb, q + LANE, 8);
				memcpy(&vc, q + 2 * LANE, 8);
				a = _mm_crc32_u64(a, va);
				b = _mm_crc32_u64(b, vb);
				c = _mm_crc32_u64(c, vc);
			}
			crc = shift_lane(shift_lane((uint32_t)a) ^ (uint32_t)b) ^ (uint32_t)c;
			p += 3 * LANE;
			n -= 3 * LANE;
		}
	}
	return crc_run(crc, p, n);
}
#endif

uint32_t vr_crc32c(uint32_t crc, const void *buf, size_t n)
{
	crc = ~crc;
#if defined(__x86_64__)
	/* a load of libgcc's CPU model, set before main: no cached flag to race on */
	if (__builtin_cpu_supports("sse4.2"))
		return ~crc_hw(crc, buf, n);
#endif
	return ~crc_table(crc, buf, n);
}

uint32_t vr_crc32c_portable(uint32_t crc, const void *buf, size_t n)
{
	return ~crc_table(~crc, buf, n);
}
