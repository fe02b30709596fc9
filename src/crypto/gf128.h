/*
 * gf128.h — arithmetic in GF(2^128) for the silent VOLE (crypto/vole.h) and
 * the RR22-class PSI step on top of it (docs/psi.md, "Balanced joins").
 *
 * Construction: GF(2^128) = GF(2)[X]/(X^128 + X^7 + X^2 + X + 1), the GCM
 * modulus but in the natural bit order (bit i of the block is the
 * coefficient of X^i; no GHASH bit reflection).  Addition is XOR.
 * Multiplication is a 128×128 carry-less product and a reduction by
 * X^128 = X^7 + X^2 + X + 1: with PCLMULQDQ where the CPU has it (chosen at
 * run time, __builtin_cpu_supports), else a portable constant-time
 * shift-and-mask carry-less product (Intel, "Carry-Less Multiplication
 * Instruction and its Usage for Computing the GCM Mode", Gueron, Kounavis,
 * 2010, for the reduction by folding).
 *
 * Security model: both paths run in time independent of the operands (no
 * table lookups, no branches on their bits), since Δ and the VOLE outputs
 * are secret.  Pure C: no PostgreSQL calls, thread-safe.
 */
#ifndef PGPRIV_CRYPTO_GF128_H
#define PGPRIV_CRYPTO_GF128_H

#include <stdbool.h>
#include <stddef.h>

#include "crypto/ot.h"			/* ot_block: w[0] = bits 0..63, w[1] = bits 64..127 */

extern ot_block gf128_mul(ot_block a, ot_block b);

/* out[i] = in[i]·c, n elements (in == out allowed). */
extern void gf128_mul_const(const ot_block *in, size_t n, ot_block c, ot_block *out);

/* acc[i] ^= in[i]·c */
extern void gf128_muladd_const(const ot_block *in, size_t n, ot_block c, ot_block *acc);

/* The portable path alone (for the tests, which check both paths). */
extern ot_block gf128_mul_portable(ot_block a, ot_block b);
extern void gf128_mul_const_portable(const ot_block *in, size_t n, ot_block c, ot_block *out);

/* True when gf128_mul and friends use PCLMULQDQ on this CPU. */
extern bool gf128_accelerated(void);

static inline ot_block
gf128_add(ot_block a, ot_block b)
{
	ot_block	r;

	r.w[0] = a.w[0] ^ b.w[0];
	r.w[1] = a.w[1] ^ b.w[1];
	return r;
}

#endif
