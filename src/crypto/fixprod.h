/*
 * fixprod.h — products of a fixed matrix and changing multipliers on
 * additive shares, with one OT extension for the whole run (joint_train,
 * docs/joint_train.md; issue #11).
 *
 * The receiver holds a matrix x of n rows × k columns of signed values of
 * `bits` bits (two's complement, |x| ≤ 2^(bits−1)), which does not change
 * during a run; the sender holds multipliers over Z_2^64 that change with
 * every use.  Each use gives the two parties additive shares over Z_2^64 of
 *
 *   by column:  out[r] = Σ_j x[r][j] · m[j]        (m: k values; a forward pass)
 *   by row:     out[j] = Σ_r x[r][j] · m[r]        (m: n values; a gradient)
 *
 * over a slice of rows.  Gilboa's multiplication over correlated OT: OT
 * number ((r·k + j)·bits + i) is chosen with bit i of x[r][j]; its sender
 * pair is (x0, x0 + m) and the product is Σ_i w_i·(y_i − x0_i) with
 * w_i = 2^i, and w_{bits−1} = −2^(bits−1) for the sign bit.
 *
 * Since the choice bits never change, the IKNP matrix is extended once
 * (fixprod_*_extend, 16 bytes per OT, receiver → sender) and every use
 * derives fresh pads from the stored rows with the tweakable hash of ot.h
 * under a use number both parties count alike (never one twice: the
 * library refuses a use number not above the last).  Reusing the same
 * choice bits reveals nothing new: they are the same bits.  A use costs the
 * sender's corrections only: the low 64 − i bits for OT i of a product,
 * packed (484 bits per product of 8 bits; sender → receiver).
 *
 * Base OTs: the extension's receiver is the base-OT sender.  Flights:
 * receiver → sender (A), sender → receiver (B), then the extension's u
 * matrix in slices of rows, in order.  Pure C, no PostgreSQL calls; the
 * state is malloc'd and wiped by the free functions.
 */
#ifndef PGPRIV_CRYPTO_FIXPROD_H
#define PGPRIV_CRYPTO_FIXPROD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/ot.h"

#define FIXPROD_MAX_BITS	16
#define FIXPROD_MAX_K		32
#define FIXPROD_MAX_SLICE_OTS	(1u << 22)	/* OTs per extend or use message */

typedef enum fixprod_mode
{
	FIXPROD_BY_COLUMN = 1,		/* out[r] += Σ_j x[r][j]·m[j] */
	FIXPROD_BY_ROW = 2			/* out[j] += Σ_r x[r][j]·m[r] */
} fixprod_mode;

typedef struct fixprod_receiver fixprod_receiver;
typedef struct fixprod_sender fixprod_sender;

/* x: n × k values, each in [−2^(bits−1), 2^(bits−1)); copied. NULL on bad shape or memory. */
extern fixprod_receiver *fixprod_receiver_new(size_t n, size_t k, int bits, const int32_t *x);
extern fixprod_sender *fixprod_sender_new(size_t n, size_t k, int bits);
extern void fixprod_receiver_free(fixprod_receiver *fr);	/* wipes */
extern void fixprod_sender_free(fixprod_sender *fs);		/* wipes */

/* ---- base OTs ---- */
extern size_t fixprod_base_a_bytes(void);
extern size_t fixprod_base_b_bytes(void);
extern mpc_status fixprod_receiver_base_start(fixprod_receiver *fr, uint8_t *msg, size_t cap, size_t *len);
extern mpc_status fixprod_sender_base_respond(fixprod_sender *fs, const uint8_t *peer, size_t peer_len,
											  uint8_t *msg, size_t cap, size_t *len);
extern mpc_status fixprod_receiver_base_finish(fixprod_receiver *fr, const uint8_t *peer, size_t peer_len);

/* ---- the one extension, in slices of rows, in order ---- */
extern size_t fixprod_extend_bytes(const fixprod_receiver *fr, size_t nrows);
extern size_t fixprod_rows_extended_r(const fixprod_receiver *fr);
extern size_t fixprod_rows_extended_s(const fixprod_sender *fs);
extern mpc_status fixprod_receiver_extend(fixprod_receiver *fr, size_t nrows,
										  uint8_t *msg, size_t cap, size_t *len);
/* nrows: what the sender expects (it knows the schedule); a message for another count is refused. */
extern mpc_status fixprod_sender_extend(fixprod_sender *fs, size_t nrows, const uint8_t *msg, size_t len);

/* ---- one use over rows [row0, row0 + nrows) ---- */
extern size_t fixprod_use_bytes(size_t nrows, size_t k, int bits);

/*
 * Sender: m as the mode says (k values by column, nrows values by row);
 * writes the corrections and adds its shares into out (nrows or k values).
 */
extern mpc_status fixprod_sender_use(fixprod_sender *fs, uint64_t use, size_t row0, size_t nrows,
									 fixprod_mode mode, const uint64_t *m,
									 uint8_t *msg, size_t cap, size_t *len, uint64_t *out);

/* Receiver: reads the corrections of the same use and adds its shares into out. */
extern mpc_status fixprod_receiver_use(fixprod_receiver *fr, uint64_t use, size_t row0, size_t nrows,
									   fixprod_mode mode, const uint8_t *msg, size_t len, uint64_t *out);

#endif
