/*
 * vole.h — silent random VOLE over F = GF(2^128) (crypto/gf128.h), step 2
 * of the RR22-class balanced join (docs/psi.md, "Balanced joins"; pgpriv
 * issue #12).  The owner (VOLE sender) ends with Δ ∈ F and B ∈ F^m, the
 * asker (VOLE receiver) with A, C ∈ F^m, C = B + A·Δ, A pseudorandom; the
 * wire carries O(t·log N) field elements, not O(m).
 *
 * Construction (semi-honest, κ = 128): the PCG of Boyle, Couteau, Gilboa,
 * Ishai, Kohl, Scholl ("Efficient Two-Round OT Extension and Silent
 * Non-Interactive Secure Computation", CCS 2019; "Efficient Pseudorandom
 * Correlation Generators: Silent OT Extension and More", CRYPTO 2019):
 *   - Regular noise: N = VOLE_TREES·2^d positions (d the least depth, at
 *     least 1, with N >= VOLE_SCALER·m), one noise value β_j ∈ F \ {0} at
 *     position α_j ∈ [0, 2^d) of each block j < t = VOLE_TREES, chosen by
 *     the asker.
 *   - One IKNP extension (crypto/ot.h) whose extension sender is the owner
 *     with s = Δ: every row pair is a correlated OT q = t ⊕ r·Δ.  128 COTs
 *     whose choices are the bits of β_j give a base VOLE: owner
 *     γ_j = Σ_i X^i·q_{j,i}, asker z_j = Σ_i X^i·t_{j,i} = γ_j + β_j·Δ.
 *     d COTs per block, choices the complements of α_j's bits (most
 *     significant first), carry the GGM level sums.
 *   - Single-point VOLE per block (the GGM-tree construction of BCGIKS
 *     CCS 2019 §4, as in Ferret, Yang, Weng, Lan, Zhang, Wang, CCS 2020):
 *     the owner expands a fresh root into 2^d leaves v_{j,k} with the
 *     length-doubling PRG G(s) = (π_0(s) ⊕ s, π_1(s) ⊕ s), π_b AES-128
 *     under fixed public keys (MMO; a PRG in the random-permutation model),
 *     sends per level ℓ both level sums K^ℓ_0, K^ℓ_1 (XOR of the left,
 *     resp. right children) masked with the tweakable correlation-robust
 *     hash of its COT (ot_ext_sender_hash_tweaked, GKWY S&P 2020 TMMO:
 *     H(q), H(q ⊕ Δ)), and ψ_j = Σ_k v_{j,k} + γ_j.  The asker recovers
 *     every leaf but α_j and sets C'_j[α_j] = ψ_j + Σ_{k≠α_j} v_{j,k} + z_j
 *     = v_{j,α_j} + β_j·Δ.  So C' = B' + A'·Δ with B' the leaves and A'
 *     the regular noise.
 *   - Compression by the expand-accumulate code (Boyle, Couteau, Gilboa,
 *     Ishai, Kohl, Resch, Scholl, "Correlated Pseudorandomness from
 *     Expand-Accumulate Codes", CRYPTO 2022): X = G·X' for X' ∈ {A', B',
 *     C'}, G = E·Acc with Acc the N×N accumulator (prefix XOR) and E an
 *     m×N matrix of VOLE_EXPANDER_WEIGHT distinct uniform ones per row,
 *     derived from a code seed that hashes both parties' shares (neither
 *     chooses the code).  G is binary, so C = B + A·Δ survives.  A = G·A'
 *     is pseudorandom under dual LPN with regular noise for the EA code.
 *
 * Parameters and their source: VOLE_SCALER = 5 and VOLE_EXPANDER_WEIGHT =
 * 7 are libOTe's EA configuration "ExAcc7" (ConfigureCode.cpp, EAConfigure),
 * whose minimum-distance estimate is δ = 0.1·N; the noise weight follows
 * libOTe's getRegNoiseWeight for regular noise against linear tests,
 * t = ⌈κ / −log2(1 − 2δ)⌉ rounded up to a multiple of 8 = ⌈128 / 0.3219⌉
 * → 400 (the bias of any linear test is at most (1 − 2δ)^t <= 2^-128).
 * We take twice that, t = 800, as a margin: the algebraic and
 * regular-structure attacks on regular syndrome decoding published since
 * (Briaud, Øygarden, EUROCRYPT 2023) were not evaluated against these exact
 * numbers, and a larger weight only makes the noise harder to find.  N stays
 * the same (d is one less); the wire grows by about 8 bits per element.
 * δ is libOTe's estimate (its EAChecker searches for low-weight codewords),
 * not a proven bound; linear tests are the attacks the EA paper analyses.
 * docs/psi.md says what of the later cryptanalysis of regular noise was
 * checked against these numbers and what was not.
 *
 * Flights (every message starts with the 12-byte frame of crypto/ot.h:
 * version 1, type, reserved zero, seq 0, count; every length is exact):
 *   1 asker→owner HELLO  count = m;   asker's code-seed share (16) ‖
 *                        Chou–Orlandi message A for 128 base OTs (44)
 *   2 owner→asker BASE   count = m;   owner's code-seed share (16) ‖
 *                        base-OT B's (12 + 128·32), choice bits = Δ
 *   3 asker→owner COT    count = t·(128 + d); the IKNP u message
 *                        (ot_ext_u_msg_bytes, its own frame) of those COTs
 *   4 owner→asker TREES  count = t;   per block d·(K^ℓ_0, K^ℓ_1) masked ‖ ψ_j
 *                        (t·(32·d + 16) bytes)
 *
 * A message that fails its checks returns a non-OK status and changes
 * nothing; the peer's m is bounded by the caller's max_m and VOLE_MAX_M
 * before any allocation.  Memory: N·16 bytes (the noisy vector, freed once
 * compressed) plus 16·m per output vector.  Pure C over libsodium and
 * OpenSSL, no PostgreSQL calls; the heavy steps run on crypto_parallel_for.
 * No branch and no memory address depends on Δ, β_j or α_j (the asker
 * rewrites each tree level under masks).  Not covered: a malicious peer
 * (it can make the other side's outputs wrong, never read past a buffer).
 */
#ifndef PGPRIV_CRYPTO_VOLE_H
#define PGPRIV_CRYPTO_VOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/ot.h"			/* mpc_status, ot_block, the frame, base OT, IKNP */

#define VOLE_MAX_M				(1u << 26)
#define VOLE_SCALER				5	/* N >= 5·m (libOTe ExAcc7) */
#define VOLE_EXPANDER_WEIGHT	7	/* ones per row of E (libOTe ExAcc7) */
#define VOLE_MIN_DIST_RATIO		0.1	/* δ of ExAcc7 in libOTe */
#define VOLE_TREES				800 /* 2 × ⌈128 / −log2(1 − 2δ)⌉ (400, a multiple of 8) */
#define VOLE_SEED_BYTES			16

typedef struct vole_sender vole_sender; /* owner: Δ, B */
typedef struct vole_receiver vole_receiver; /* asker: A, C */

typedef enum
{
	VOLE_MSG_HELLO = 0x51,
	VOLE_MSG_BASE = 0x52,
	VOLE_MSG_COT = 0x53,
	VOLE_MSG_TREES = 0x54
} vole_msg_type;

/* t, d and N = t·2^d for length m (1 <= m <= VOLE_MAX_M); false otherwise. */
extern bool vole_params(size_t m, size_t *t, size_t *depth, size_t *noise_len);

extern size_t vole_hello_bytes(void);
extern size_t vole_base_bytes(void);
extern size_t vole_cot_bytes(size_t m);		/* 0 for m out of range */
extern size_t vole_trees_bytes(size_t m);	/* 0 for m out of range */

/*
 * The compression both parties apply: out = E·Acc·vec for the code of
 * `seed` (vec, N entries, is overwritten with its prefix XOR Acc·vec; out
 * has m entries).  Exposed so the tests can check the asker's sparse path
 * against it; N >= VOLE_EXPANDER_WEIGHT, 1 <= m.
 */
extern mpc_status vole_ea_compress(const uint8_t seed[VOLE_SEED_BYTES], size_t N, size_t m,
								   int nthreads, ot_block *vec, ot_block *out);

/*
 * The code seed of a run, BLAKE2b-128 with personal "pgpriv-vole-code" of
 * the asker's share (HELLO) ‖ the owner's share (BASE) ‖ m (8 bytes LE).
 */
#define VOLE_CODE_PERSONAL "pgpriv-vole-code"

/* ------------------------------------------------------------ receiver */

extern vole_receiver *vole_receiver_new(size_t m, mpc_status *st);	/* 1 <= m <= VOLE_MAX_M */

/* Threads for the tree expansion and the compression (default: CPU count). */
extern void vole_receiver_set_threads(vole_receiver *r, int nthreads);

/* Flight 1. */
extern mpc_status vole_receiver_hello(vole_receiver *r, uint8_t *msg, size_t cap, size_t *len);

/* Reads flight 2 (its count must be this m), writes flight 3. */
extern mpc_status vole_receiver_base(vole_receiver *r, const uint8_t *msg, size_t len,
									 uint8_t *out, size_t cap, size_t *out_len);

/* Reads flight 4; computes A and C. */
extern mpc_status vole_receiver_trees(vole_receiver *r, const uint8_t *msg, size_t len);

extern const ot_block *vole_receiver_a(const vole_receiver *r);	/* m elements, NULL before done */
extern const ot_block *vole_receiver_c(const vole_receiver *r);
extern size_t vole_receiver_m(const vole_receiver *r);
extern size_t vole_receiver_memory(const vole_receiver *r);
extern void vole_receiver_free(vole_receiver *r);	/* wipes */

/*
 * For the tests only: the asker's own noise of block j (position α_j in its
 * block, value β_j), after flight 3 was made.  Secret; never to be sent.
 */
extern bool vole_receiver_noise(const vole_receiver *r, size_t j, uint32_t *alpha,
								ot_block *beta);

/* -------------------------------------------------------------- sender */

extern vole_sender *vole_sender_new(mpc_status *st);
extern void vole_sender_set_threads(vole_sender *s, int nthreads);

/* Reads flight 1 (1 <= m <= max_m, m <= VOLE_MAX_M), writes flight 2. */
extern mpc_status vole_sender_hello(vole_sender *s, const uint8_t *msg, size_t len, size_t max_m,
									uint8_t *out, size_t cap, size_t *out_len);
extern size_t vole_sender_m(const vole_sender *s);	/* 0 before flight 1 */

/* Reads flight 3, writes flight 4, computes B. */
extern mpc_status vole_sender_cot(vole_sender *s, const uint8_t *msg, size_t len,
								  uint8_t *out, size_t cap, size_t *out_len);
extern const ot_block *vole_sender_b(const vole_sender *s);	/* m elements, NULL before done */
extern ot_block vole_sender_delta(const vole_sender *s);
extern size_t vole_sender_memory(const vole_sender *s);
extern void vole_sender_free(vole_sender *s);	/* wipes */

#endif
