/*
 * triples.h — correlated randomness for the two-party engine, made by the two
 * parties themselves (no dealer): Beaver multiplication triples over Z_2^64
 * by Gilboa's OT-based multiplication, and AND (bit) triples from random OT.
 * docs/architecture.md, protocol 6; construction and costs in docs/mpc-design.md.
 *
 * Each party holds one mpc_triple_party.  Both parties call the same steps
 * in the same order; every step's message goes to the other party, which
 * feeds it to its next step.  Both parties send in every flight, so a
 * flight is one exchange (one round trip when carried over libpq):
 *
 *   setup   start → respond → finish            2 flights, once per session
 *   Beaver  start → respond → finish            2 flights per batch of n
 *   AND     start → finish                      1 flight  per batch of n
 *
 * Batches of Beaver and AND triples may be interleaved, but both parties
 * must run them in the same order (each OT extension is a stream; a batch
 * out of order is refused with MPC_OUT_OF_ORDER).  After any error other
 * than a refused message, the party object must be discarded.
 *
 * Pure C over libsodium and OpenSSL, no PostgreSQL calls.
 */
#ifndef PGPRIV_CRYPTO_TRIPLES_H
#define PGPRIV_CRYPTO_TRIPLES_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/ot.h"

#define MPC_BEAVER_MAX_BATCH	(OT_EXT_MAX_COUNT / 64)	/* 262144 triples */
#define MPC_AND_MAX_BATCH		OT_EXT_MAX_COUNT			/* 16 Mi triples */

/* Bytes of the τ corrections per Beaver triple and direction: Σ_{i<64}(64−i) bits. */
#define MPC_GILBOA_TAU_BYTES	260

typedef struct mpc_triple_party mpc_triple_party;

/* party is 0 or 1.  NULL on bad party or out of memory. */
extern mpc_triple_party *mpc_triple_party_new(int party);
extern void mpc_triple_party_free(mpc_triple_party *p);	/* wipes */

/* ---- setup: Chou–Orlandi base OTs in both directions ---- */
extern size_t mpc_triple_setup_msg1_bytes(void);
extern size_t mpc_triple_setup_msg2_bytes(void);
extern mpc_status mpc_triple_setup_start(mpc_triple_party *p,
										 uint8_t *msg, size_t cap, size_t *len);
extern mpc_status mpc_triple_setup_respond(mpc_triple_party *p,
										   const uint8_t *peer, size_t peer_len,
										   uint8_t *msg, size_t cap, size_t *len);
extern mpc_status mpc_triple_setup_finish(mpc_triple_party *p,
										  const uint8_t *peer, size_t peer_len);

/* ---- Beaver triples over Z_2^64, n per batch (both parties use the same n) ---- */
extern size_t mpc_beaver_msg1_bytes(size_t n);
extern size_t mpc_beaver_msg2_bytes(size_t n);

/* Draws this party's a_i, b_i; message = IKNP u for its 64·n receiver OTs. */
extern mpc_status mpc_beaver_start(mpc_triple_party *p, size_t n,
								   uint8_t *msg, size_t cap, size_t *len);

/* Sender half with a_i against the peer's b_{1−i}; message = packed τ. */
extern mpc_status mpc_beaver_respond(mpc_triple_party *p,
									 const uint8_t *peer, size_t peer_len,
									 uint8_t *msg, size_t cap, size_t *len);

/* Shares (a_i, b_i, c_i), n each, with Σa·Σb = Σc mod 2^64. */
extern mpc_status mpc_beaver_finish(mpc_triple_party *p,
									const uint8_t *peer, size_t peer_len,
									uint64_t *a, uint64_t *b, uint64_t *c);

/* ---- AND triples, n per batch, bit k of word k/64 is triple k ---- */
extern size_t mpc_and_msg_bytes(size_t n);
extern mpc_status mpc_and_start(mpc_triple_party *p, size_t n,
								uint8_t *msg, size_t cap, size_t *len);

/* a, b, c: (n+63)/64 words each, (a_0⊕a_1)∧(b_0⊕b_1) = c_0⊕c_1; bits ≥ n are 0. */
extern mpc_status mpc_and_finish(mpc_triple_party *p,
								 const uint8_t *peer, size_t peer_len,
								 uint64_t *a, uint64_t *b, uint64_t *c);

/*
 * ---- Products of inputs (Gilboa's OT multiplication applied to inputs) ----
 *
 * The receiver holds x_i < 2^MPC_PRODUCT_BITS (non-negative), the sender a
 * multiplier w_i; afterwards they hold additive shares of x_i·w_i mod 2^64.
 * This is one cross term of a Beaver triple with real inputs instead of
 * random ones: MPC_PRODUCT_BITS correlated OTs per product instead of
 * 2 × 64, and no online step.  Flights: receiver → sender (u), sender →
 * receiver (τ).  The receiver uses its extension receiver, the sender its
 * extension sender (the streams Beaver batches use too; order them alike).
 */
#define MPC_PRODUCT_BITS		32
#define MPC_PRODUCT_TAU_BYTES	194		/* Σ_{k<32}(64−k) = 1552 bits */
#define MPC_PRODUCT_MAX_BATCH	(OT_EXT_MAX_COUNT / MPC_PRODUCT_BITS)

extern size_t mpc_product_msg1_bytes(size_t n);
extern size_t mpc_product_msg2_bytes(size_t n);

/* Receiver: message u for n products with inputs x (each < 2^MPC_PRODUCT_BITS). */
extern mpc_status mpc_product_receive_start(mpc_triple_party *p, size_t n, const uint64_t *x,
											uint8_t *msg, size_t cap, size_t *len);

/* Sender: consumes u, writes τ for multipliers w (n) and its shares (n). */
extern mpc_status mpc_product_send(mpc_triple_party *p, const uint8_t *peer, size_t peer_len,
								   size_t n, const uint64_t *w,
								   uint8_t *msg, size_t cap, size_t *len, uint64_t *share);

/* Receiver: consumes τ, writes its shares (n). */
extern mpc_status mpc_product_receive_finish(mpc_triple_party *p, const uint8_t *peer,
											 size_t peer_len, uint64_t *share);

#endif
