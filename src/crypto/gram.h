/*
 * gram.h — cross products of two parties' columns on additive shares, the
 * building block of joint training (issue #11; docs/mpc-design.md,
 * "Cross products").
 *
 * One party (the bureau, OT receiver) holds a matrix x of rows × k signed
 * fixed-point values, |x| < 2^(bits−1); the other (the bank, OT sender)
 * holds v of rows × q values of Z_2^64.  Together they get additive shares
 * over Z_2^64 of G[j][m] = Σ_i x[i][j]·v[i][m]: the bank's share and the
 * bureau's add up to G, neither learns anything else.
 *
 * Gilboa's multiplication over random OT: with u = x + 2^(bits−1) in
 * [0, 2^bits), one random OT per (i, j, t) with the bureau choosing bit t of
 * u[i][j]; the two 128-bit keys expand (fixed-key AES in MMO mode) to q pads
 * P0[m], P1[m] each; the bank sends c[m] = P0[m] − P1[m] + 2^t·v[i][m] and
 * keeps −P0[m]; the bureau keeps P_b[m] + b·c[m] = P0[m] + b·2^t·v[i][m].
 * The sums over t give u·v, and the bank takes 2^(bits−1)·Σ_i v[i][m] off
 * its share.  The OT extension is the semi-honest IKNP of ot.h.
 *
 * Work comes in chunks of rows (at most GRAM_MAX_OTS OTs each): one flight
 * bureau → bank (the extension's u matrix), one flight back (the
 * corrections).  Shares accumulate, so a caller may sum chunks into one
 * result or keep one per batch of rows.  Pure C, no PostgreSQL calls.
 */
#ifndef PGPRIV_CRYPTO_GRAM_H
#define PGPRIV_CRYPTO_GRAM_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/ot.h"

#define GRAM_MAX_Q		16			/* bank columns per run */
#define GRAM_MAX_BITS	30			/* bits of the bureau's values */
#define GRAM_MAX_OTS	(1u << 20)	/* OTs per chunk */

/* OTs of a chunk, and the bytes of its two messages. */
extern size_t gram_chunk_ots(size_t rows, size_t k, int bits);
extern size_t gram_corrections_bytes(size_t rows, size_t k, int bits, size_t q);

/*
 * Bureau, step 1: the extension's u message for the chunk's choice bits
 * (bits of x + 2^(bits−1)); keeps its random-OT keys in keys
 * (gram_chunk_ots entries).  A value out of range is MPC_OUT_OF_RANGE.
 */
extern mpc_status gram_receiver_start(ot_ext_receiver *r, size_t rows, size_t k, int bits,
									  const int64_t *x, uint8_t *msg, size_t cap, size_t *len,
									  ot_block *keys);

/*
 * Bank: reads the u message, writes the corrections message and adds its
 * shares of the chunk's k×q products into acc (k×q, row-major).
 */
extern mpc_status gram_sender_respond(ot_ext_sender *s, size_t rows, size_t k, int bits, size_t q,
									  const uint64_t *v, const uint8_t *msg_u, size_t len_u,
									  uint8_t *msg, size_t cap, size_t *len, uint64_t *acc);

/*
 * Bureau, step 2: reads the corrections of the chunk it started last and
 * adds its shares into acc (k×q).
 */
extern mpc_status gram_receiver_finish(ot_ext_receiver *r, size_t rows, size_t k, int bits, size_t q, const int64_t *x,
									   const ot_block *keys, const uint8_t *msg, size_t len,
									   uint64_t *acc);

#endif
