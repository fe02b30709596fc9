/*
 * test_gf128.c — GF(2^128) arithmetic (crypto/gf128.h) against a plain
 * shift-and-add model written here, on both paths (PCLMULQDQ when the CPU
 * has it, and the portable one), plus field identities; reports the speed.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "crypto/gf128.h"
#include "tap.h"

/* The model: Horner over b's bits, a·X with the reduction by X^128 = 0x87. */
static ot_block
ref_mul(ot_block a, ot_block b)
{
	ot_block	r = {{0, 0}};

	for (int i = 127; i >= 0; i--)
	{
		uint64_t	top = r.w[1] >> 63;

		r.w[1] = (r.w[1] << 1) | (r.w[0] >> 63);
		r.w[0] = (r.w[0] << 1) ^ (top ? 0x87 : 0);
		if ((b.w[i / 64] >> (i % 64)) & 1)
		{
			r.w[0] ^= a.w[0];
			r.w[1] ^= a.w[1];
		}
	}
	return r;
}

static int
eq(ot_block a, ot_block b)
{
	return a.w[0] == b.w[0] && a.w[1] == b.w[1];
}

static ot_block
rnd(void)
{
	ot_block	x;

	randombytes_buf(&x, sizeof(x));
	return x;
}

static ot_block
blk(uint64_t lo, uint64_t hi)
{
	ot_block	x = {{lo, hi}};

	return x;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* a^(2^128 − 2) by square-and-multiply with the model */
static ot_block
ref_inv(ot_block a)
{
	ot_block	r = blk(1, 0);

	for (int i = 127; i >= 0; i--)
	{
		r = ref_mul(r, r);
		if (i != 0)
			r = ref_mul(r, a);
	}
	return r;
}

int
main(void)
{
	enum
	{
		N = 20000
	};
	static ot_block in[N],
				out[N],
				acc[N],
				acc0[N];
	int			bad_fast = 0,
				bad_port = 0,
				bad_const = 0,
				bad_muladd = 0,
				bad_cport = 0,
				bad_dist = 0;
	ot_block	c;

	if (sodium_init() < 0)
		return 1;
	diag("PCLMULQDQ path %s", gf128_accelerated() ? "in use" : "not available (portable only)");

	/* the model itself on known identities */
	ok(eq(ref_mul(blk(0, 1ull << 63), blk(2, 0)), blk(0x87, 0)),
	   "model: X^127·X = X^7 + X^2 + X + 1");
	ok(eq(gf128_mul(blk(0, 1ull << 63), blk(2, 0)), blk(0x87, 0)),
	   "gf128_mul: X^127·X = X^7 + X^2 + X + 1");
	ok(eq(gf128_mul_portable(blk(0, 1ull << 63), blk(2, 0)), blk(0x87, 0)),
	   "portable: X^127·X = X^7 + X^2 + X + 1");
	/* X^254 = X^126·(X^7 + X^2 + X + 1) = X^127 + X^126 + X^12 + X^6 + X^5 + X^2 + X + 1 */
	ok(eq(gf128_mul(blk(0, 1ull << 63), blk(0, 1ull << 63)), blk(0x1067, 0xC000000000000000ull)) &&
	   eq(gf128_mul_portable(blk(0, 1ull << 63), blk(0, 1ull << 63)), blk(0x1067, 0xC000000000000000ull)) &&
	   eq(ref_mul(blk(0, 1ull << 63), blk(0, 1ull << 63)), blk(0x1067, 0xC000000000000000ull)),
	   "X^127·X^127 = X^127 + X^126 + X^12 + X^6 + X^5 + X^2 + X + 1 (both paths, model)");
	ok(eq(gf128_mul(blk(1, 0), blk(0x1234, 0x5678)), blk(0x1234, 0x5678)) &&
	   eq(gf128_mul_portable(blk(0x1234, 0x5678), blk(1, 0)), blk(0x1234, 0x5678)),
	   "1 is the unit");
	ok(eq(gf128_mul(blk(0, 0), rnd()), blk(0, 0)), "0 absorbs");
	/* all-ones operands exercise every overflow bit */
	ok(eq(gf128_mul(blk(~0ull, ~0ull), blk(~0ull, ~0ull)), ref_mul(blk(~0ull, ~0ull), blk(~0ull, ~0ull))) &&
	   eq(gf128_mul_portable(blk(~0ull, ~0ull), blk(~0ull, ~0ull)), ref_mul(blk(~0ull, ~0ull), blk(~0ull, ~0ull))),
	   "all-ones squared agrees with the model on both paths");

	for (int i = 0; i < N; i++)
	{
		ot_block	a = rnd(),
					b = rnd(),
					d = rnd(),
					r = ref_mul(a, b);

		/* sparse operands too: single bits and low-weight words */
		if (i % 4 == 1)
			a = blk(1ull << (i % 64), (i & 8) ? 1ull << ((i / 64) % 64) : 0);
		if (i % 4 == 2)
			b = blk(0, 1ull << (i % 64));
		r = ref_mul(a, b);
		bad_fast += !eq(gf128_mul(a, b), r);
		bad_port += !eq(gf128_mul_portable(a, b), r);
		/* distributivity: a·(b + d) = a·b + a·d */
		bad_dist += !eq(gf128_mul(a, gf128_add(b, d)),
						gf128_add(gf128_mul(a, b), gf128_mul(a, d)));
	}
	ok(bad_fast == 0, "gf128_mul = model on %d inputs (%d differ)", N, bad_fast);
	ok(bad_port == 0, "gf128_mul_portable = model on %d inputs (%d differ)", N, bad_port);
	ok(bad_dist == 0, "distributivity on %d triples (%d fail)", N, bad_dist);

	c = rnd();
	for (int i = 0; i < N; i++)
	{
		in[i] = rnd();
		acc[i] = acc0[i] = rnd();
	}
	gf128_mul_const(in, N, c, out);
	gf128_muladd_const(in, N, c, acc);
	for (int i = 0; i < N; i++)
	{
		ot_block	r = ref_mul(in[i], c);

		bad_const += !eq(out[i], r);
		bad_muladd += !eq(acc[i], gf128_add(acc0[i], r));
	}
	ok(bad_const == 0, "gf128_mul_const = model (%d differ)", bad_const);
	ok(bad_muladd == 0, "gf128_muladd_const = model (%d differ)", bad_muladd);
	gf128_mul_const_portable(in, N, c, out);
	for (int i = 0; i < N; i++)
		bad_cport += !eq(out[i], ref_mul(in[i], c));
	ok(bad_cport == 0, "gf128_mul_const_portable = model (%d differ)", bad_cport);
	memcpy(out, in, sizeof(in));
	gf128_mul_const(out, N, c, out);
	ok(eq(out[7], ref_mul(in[7], c)) && eq(out[N - 1], ref_mul(in[N - 1], c)),
	   "gf128_mul_const in place");

	for (int k = 0; k < 4; k++)
	{
		ot_block	a = k == 0 ? blk(2, 0) : rnd(),
					inv = ref_inv(a);

		ok(eq(gf128_mul(a, inv), blk(1, 0)) && eq(gf128_mul_portable(inv, a), blk(1, 0)),
		   "a·a^(2^128−2) = 1 (%s)", k == 0 ? "a = X" : "random a");
	}

	/* speed */
	{
		enum
		{
			S = 1 << 20
		};
		static ot_block big[S];
		double		t0,
					t1,
					t2;

		for (int i = 0; i < S; i++)
			big[i] = rnd();
		t0 = now();
		gf128_mul_const(big, S, c, big);
		t1 = now();
		gf128_mul_const_portable(big, S / 16, c, big);
		t2 = now();
		diag("gf128_mul_const: %.1f ns/element (%s); portable %.1f ns/element",
			 (t1 - t0) * 1e9 / S, gf128_accelerated() ? "PCLMULQDQ" : "portable",
			 (t2 - t1) * 1e9 / (S / 16));
	}
	return tap_done();
}
