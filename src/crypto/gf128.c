/*
 * gf128.c — GF(2^128) multiplication, PCLMULQDQ and portable (see gf128.h).
 *
 * Both paths compute the 256-bit carry-less product as four 64×64 products
 * (lo·lo, hi·hi, and the two cross terms) and reduce it the same way:
 * write the product as L + H·X^128, then H·X^128 ≡ H·(X^7 + X^2 + X + 1);
 * H·R is at most 135 bits, and its 7 bits above X^127 are folded once more.
 */
#include <string.h>

#include "crypto/gf128.h"

#if defined(__x86_64__) || defined(__i386__)
#define GF128_X86 1
#include <wmmintrin.h>
#include <emmintrin.h>
#endif

#define GF128_R 0x87u			/* X^7 + X^2 + X + 1 */

/* ------------------------------------------------------------ portable */

/*
 * 64×64 carry-less product, constant time: every bit of b selects a shifted
 * copy of a through a mask, never through a branch or an index.
 */
static inline void
clmul64(uint64_t a, uint64_t b, uint64_t *lo, uint64_t *hi)
{
	uint64_t	l = a & ((uint64_t) 0 - (b & 1)),
				h = 0;

	for (unsigned i = 1; i < 64; i++)
	{
		uint64_t	m = (uint64_t) 0 - ((b >> i) & 1);

		l ^= (a << i) & m;
		h ^= (a >> (64 - i)) & m;
	}
	*lo = l;
	*hi = h;
}

/* (p3 p2 p1 p0) mod X^128 + R, words of 64 bits, p0 lowest. */
static inline ot_block
reduce_portable(uint64_t p0, uint64_t p1, uint64_t p2, uint64_t p3)
{
	ot_block	r;
	uint64_t	over;

	/* H·R for H = (p3 p2): H ⊕ H<<1 ⊕ H<<2 ⊕ H<<7, bits above 127 in over */
	over = (p3 >> 63) ^ (p3 >> 62) ^ (p3 >> 57);
	r.w[0] = p0 ^ p2 ^ (p2 << 1) ^ (p2 << 2) ^ (p2 << 7);
	r.w[1] = p1 ^ p3 ^ (p3 << 1) ^ (p2 >> 63) ^ (p3 << 2) ^ (p2 >> 62) ^
		(p3 << 7) ^ (p2 >> 57);
	/* over ≤ 7 bits: over·R ≤ 14 bits, no further overflow */
	r.w[0] ^= over ^ (over << 1) ^ (over << 2) ^ (over << 7);
	return r;
}

ot_block
gf128_mul_portable(ot_block a, ot_block b)
{
	uint64_t	ll_lo,
				ll_hi,
				hh_lo,
				hh_hi,
				m1_lo,
				m1_hi,
				m2_lo,
				m2_hi;

	clmul64(a.w[0], b.w[0], &ll_lo, &ll_hi);
	clmul64(a.w[1], b.w[1], &hh_lo, &hh_hi);
	clmul64(a.w[0], b.w[1], &m1_lo, &m1_hi);
	clmul64(a.w[1], b.w[0], &m2_lo, &m2_hi);
	return reduce_portable(ll_lo, ll_hi ^ m1_lo ^ m2_lo, hh_lo ^ m1_hi ^ m2_hi, hh_hi);
}

void
gf128_mul_const_portable(const ot_block *in, size_t n, ot_block c, ot_block *out)
{
	for (size_t i = 0; i < n; i++)
		out[i] = gf128_mul_portable(in[i], c);
}

static void
muladd_const_portable(const ot_block *in, size_t n, ot_block c, ot_block *acc)
{
	for (size_t i = 0; i < n; i++)
	{
		ot_block	p = gf128_mul_portable(in[i], c);

		acc[i].w[0] ^= p.w[0];
		acc[i].w[1] ^= p.w[1];
	}
}

/* ------------------------------------------------------------ PCLMULQDQ */

#ifdef GF128_X86

#define GF128_TARGET __attribute__((target("pclmul,sse2")))

GF128_TARGET static inline __m128i
mul_clmul(__m128i a, __m128i b)
{
	const __m128i r = _mm_set_epi64x(0, GF128_R);
	__m128i		lo = _mm_clmulepi64_si128(a, b, 0x00),
				hi = _mm_clmulepi64_si128(a, b, 0x11),
				mid = _mm_xor_si128(_mm_clmulepi64_si128(a, b, 0x01),
									_mm_clmulepi64_si128(a, b, 0x10)),
				t0,
				t1;

	lo = _mm_xor_si128(lo, _mm_slli_si128(mid, 8));
	hi = _mm_xor_si128(hi, _mm_srli_si128(mid, 8));
	/* hi·R: the low word's product lands in bits 0..70 */
	t0 = _mm_clmulepi64_si128(hi, r, 0x00);
	/* the high word's product at bits 64..198: its low word to 64..127 */
	t1 = _mm_clmulepi64_si128(hi, r, 0x01);
	lo = _mm_xor_si128(lo, t0);
	lo = _mm_xor_si128(lo, _mm_slli_si128(t1, 8));
	/* its high word (≤ 7 bits, at X^128..) times R once more */
	lo = _mm_xor_si128(lo, _mm_clmulepi64_si128(t1, r, 0x01));
	return lo;
}

GF128_TARGET static ot_block
gf128_mul_pclmul(ot_block a, ot_block b)
{
	__m128i		x = _mm_loadu_si128((const __m128i *) a.w),
				y = _mm_loadu_si128((const __m128i *) b.w);
	ot_block	r;

	_mm_storeu_si128((__m128i *) r.w, mul_clmul(x, y));
	return r;
}

GF128_TARGET static void
mul_const_pclmul(const ot_block *in, size_t n, ot_block c, ot_block *out)
{
	__m128i		y = _mm_loadu_si128((const __m128i *) c.w);

	for (size_t i = 0; i < n; i++)
	{
		__m128i		x = _mm_loadu_si128((const __m128i *) in[i].w);

		_mm_storeu_si128((__m128i *) out[i].w, mul_clmul(x, y));
	}
}

GF128_TARGET static void
muladd_const_pclmul(const ot_block *in, size_t n, ot_block c, ot_block *acc)
{
	__m128i		y = _mm_loadu_si128((const __m128i *) c.w);

	for (size_t i = 0; i < n; i++)
	{
		__m128i		x = _mm_loadu_si128((const __m128i *) in[i].w),
					z = _mm_loadu_si128((const __m128i *) acc[i].w);

		_mm_storeu_si128((__m128i *) acc[i].w, _mm_xor_si128(z, mul_clmul(x, y)));
	}
}

bool
gf128_accelerated(void)
{
	return __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse2");
}

#else

bool
gf128_accelerated(void)
{
	return false;
}

#endif

/* -------------------------------------------------------------- dispatch */

ot_block
gf128_mul(ot_block a, ot_block b)
{
#ifdef GF128_X86
	if (gf128_accelerated())
		return gf128_mul_pclmul(a, b);
#endif
	return gf128_mul_portable(a, b);
}

void
gf128_mul_const(const ot_block *in, size_t n, ot_block c, ot_block *out)
{
#ifdef GF128_X86
	if (gf128_accelerated())
	{
		mul_const_pclmul(in, n, c, out);
		return;
	}
#endif
	gf128_mul_const_portable(in, n, c, out);
}

void
gf128_muladd_const(const ot_block *in, size_t n, ot_block c, ot_block *acc)
{
#ifdef GF128_X86
	if (gf128_accelerated())
	{
		muladd_const_pclmul(in, n, c, acc);
		return;
	}
#endif
	muladd_const_portable(in, n, c, acc);
}
