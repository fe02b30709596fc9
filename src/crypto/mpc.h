/*
 * mpc.h — the arithmetic of the two-party engine (docs/architecture.md,
 * protocol 6): additive 2-of-2 sharing over Z_2^64 with fixed point,
 * opening, Beaver multiplication, a linear layer (dot products) and the
 * sign bit of a shared value by a GMW carry tree on XOR shares.
 *
 * Pure C, no PostgreSQL calls.  Each online step is local computation that
 * produces a message for the peer; the step after it consumes the peer's
 * message.  Both parties send in every round.  Triples come from triples.h.
 *
 * Fixed point and its bound (docs/mpc-design.md has the derivation):
 *   a value x is encoded as X = round(x · 2^16), and must satisfy
 *   |X| < 2^29 (|x| < 8192, resolution 2^-16).  A product of two encoded
 *   values has scale 2^32 and |X·W| < 2^58; a sum of k ≤ 32 such products
 *   stays below 2^63, so it never wraps in Z_2^64 and is exact (no
 *   truncation is done).  Comparing such a sum with a threshold T (scale
 *   2^32) is exact when k·max|X|·max|W| + |T| < 2^63; mpc_dot_within_bound
 *   checks this for given maxima.  The sign of any shared value is exact in
 *   two's complement; the bound is what makes it the sign of the real value.
 */
#ifndef PGPRIV_CRYPTO_MPC_H
#define PGPRIV_CRYPTO_MPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/ot.h"

#define MPC_FRAC_BITS		16
#define MPC_VALUE_BITS		29		/* |encoded value| < 2^29 */
#define MPC_VALUE_BOUND		((int64_t) 1 << MPC_VALUE_BITS)
#define MPC_DOT_MAX_TERMS	32		/* 32 · (2^29 − 1)^2 < 2^63 */
#define MPC_MAX_BATCH		(1u << 24)	/* values per online message */

/* ---- fixed point ---- */

/* round(v · 2^16); MPC_OUT_OF_RANGE unless |result| < 2^29 (NaN too). */
extern mpc_status mpc_fixed_encode(double v, int64_t *out);
extern double mpc_fixed_decode(int64_t v);			/* scale 2^16 */
extern double mpc_fixed_decode_product(int64_t v);	/* scale 2^32 */

/*
 * True when terms·max_abs_x·max_abs_w + max_abs_threshold < 2^63 (encoded
 * units; the threshold at scale 2^32), so neither the dot product nor its
 * difference with the threshold can wrap.
 */
extern bool mpc_dot_within_bound(size_t terms, uint64_t max_abs_x, uint64_t max_abs_w,
								 uint64_t max_abs_threshold);

/* ---- sharing and opening (messages of 8 bytes per value) ---- */

extern size_t mpc_values_msg_bytes(size_t n);

/*
 * The owner of the values splits each as v = (v − r) + r with r uniform
 * (randombytes_buf), keeps v − r in mine and puts r in the message for the
 * peer, who gets it with mpc_share_accept.
 */
extern mpc_status mpc_share_input(const uint64_t *values, size_t n, uint64_t *mine,
								  uint8_t *msg, size_t cap, size_t *len);
extern mpc_status mpc_share_accept(const uint8_t *msg, size_t len, size_t n,
								   uint64_t *mine);

/*
 * Opening: a party sends its shares; the receiver adds them to its own.
 * Opening to both = both send and both receive; revealing to one party only
 * = only the other one sends.
 */
extern mpc_status mpc_open_send(const uint64_t *shares, size_t n,
								uint8_t *msg, size_t cap, size_t *len);
extern mpc_status mpc_open_receive(const uint64_t *shares, size_t n,
								   const uint8_t *peer, size_t peer_len, uint64_t *values);

/* Local linear operations on shares (party 0 carries public constants). */
extern void mpc_add_public(int party, uint64_t *shares, size_t n, uint64_t c);

/*
 * ---- Truncation on shares (SecureML local truncation) ----
 *
 * Each party shifts its own share by t bits, no message: for a value with
 * |x| < 2^l the result opens to ⌊x/2^t⌋ or ⌊x/2^t⌋ + 1 (an error of at most
 * one unit in the last place), except with probability ≤ 2^(l+1−64), when
 * it is off by about 2^(64−t) — so keep l well below 64 (joint_train keeps
 * l ≤ 44: ≤ 2^−19 per value).  Arithmetic shift of the share read as
 * signed; needs an arithmetic >> on int64_t (GCC and Clang).
 */
extern void mpc_trunc_local(int party, uint64_t *shares, size_t n, int t);

/* Shares times a public constant c (both parties), mod 2^64. */
extern void mpc_mul_public(uint64_t *shares, size_t n, uint64_t c);

/* ---- Beaver multiplication (Beaver, CRYPTO 1991) ---- */

extern size_t mpc_mul_msg_bytes(size_t n);

/* Local step: d_i = x_i − a_i, e_i = y_i − b_i into the message. */
extern mpc_status mpc_mul_start(const uint64_t *x, const uint64_t *y, size_t n,
								const uint64_t *ta, const uint64_t *tb,
								uint8_t *msg, size_t cap, size_t *len);

/*
 * After the exchange: d, e opened from both messages; z_i = c_i + d·b_i +
 * e·a_i (+ d·e for party 0).  own is the message this party sent.
 */
extern mpc_status mpc_mul_finish(int party, size_t n,
								 const uint64_t *ta, const uint64_t *tb, const uint64_t *tc,
								 const uint8_t *own, size_t own_len,
								 const uint8_t *peer, size_t peer_len, uint64_t *z);

/*
 * Linear layer: z_r = Σ_j x[r·k + j] · w[j] for rows r < rows, on shares,
 * with rows·k triples (index r·k + j).  One exchange; result at scale
 * 2^(2f), not truncated.
 */
extern mpc_status mpc_dot_start(size_t rows, size_t k, const uint64_t *x, const uint64_t *w,
								const uint64_t *ta, const uint64_t *tb,
								uint8_t *msg, size_t cap, size_t *len);
extern mpc_status mpc_dot_finish(int party, size_t rows, size_t k,
								 const uint64_t *ta, const uint64_t *tb, const uint64_t *tc,
								 const uint8_t *own, size_t own_len,
								 const uint8_t *peer, size_t peer_len, uint64_t *z);

/* ---- XOR-shared bits, packed: bit k of word k/64 is value k ---- */

extern size_t mpc_bits_msg_bytes(size_t n);
extern mpc_status mpc_open_bits_send(const uint64_t *bits, size_t n,
									 uint8_t *msg, size_t cap, size_t *len);
extern mpc_status mpc_open_bits_receive(const uint64_t *bits, size_t n,
										const uint8_t *peer, size_t peer_len,
										uint64_t *values);

/* ---- sign bit (comparison with zero) ---- */

/*
 * MSB(x_0 + x_1) = MSB(x_0) ⊕ MSB(x_1) ⊕ carry into bit 63.  Party i's
 * share x_i is taken bit by bit as its XOR share of the bits (the other
 * party's share being 0); the carry out of bits 0..62 is a parallel-prefix
 * (Kogge–Stone style) tree of (generate, propagate) pairs evaluated with AND
 * triples in MPC_SIGN_ROUNDS rounds, each round batched over all n values
 * (bit-sliced, 64 values per word).
 */
#define MPC_SIGN_ROUNDS		7

typedef struct mpc_sign mpc_sign;

/* AND gates per value, and AND triples needed for n values (a multiple of 64). */
extern size_t mpc_sign_and_gates(void);
extern size_t mpc_sign_and_triples(size_t n);

/*
 * x: this party's arithmetic shares (n of them).  ta, tb, tc: packed AND
 * triples, mpc_sign_and_triples(n)/64 words each; they must stay valid until
 * mpc_sign_free.  NULL on bad arguments or out of memory.
 */
extern mpc_sign *mpc_sign_new(int party, size_t n, const uint64_t *x,
							  const uint64_t *ta, const uint64_t *tb, const uint64_t *tc);
extern void mpc_sign_free(mpc_sign *st);	/* wipes */

/* Largest message of any round for this state. */
extern size_t mpc_sign_msg_bytes(const mpc_sign *st);

/* Round 1's message. */
extern mpc_status mpc_sign_start(mpc_sign *st, uint8_t *msg, size_t cap, size_t *len);

/*
 * Consumes the peer's message of the current round; unless that was the
 * last round, produces this party's message of the next round.  *done is
 * set after the last round (then *len = 0).
 */
extern mpc_status mpc_sign_next(mpc_sign *st, const uint8_t *peer, size_t peer_len,
								uint8_t *msg, size_t cap, size_t *len, bool *done);

/* XOR shares of the sign bits, (n+63)/64 words; bits ≥ n are 0. */
extern mpc_status mpc_sign_result(const mpc_sign *st, uint64_t *bits);

#endif
