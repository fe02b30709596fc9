/*
 * rr22.h — PSI from an OKVS and a random VOLE over GF(2^128)
 * (Raghuraman, Rindal, "Blazing Fast PSI from Improved OKVS and Subfield
 * VOLE", CCS 2022: "RR22", its fast variant with 𝔹 = F = GF(2^128)), the
 * second step of the balanced-join PSI (docs/psi.md, "balanced joins").
 *
 * Both parties' halves, each a state machine that consumes and produces
 * byte buffers (the transport is the caller's), in the style of kkrt.h.
 * Pure C over libsodium and OpenSSL: no PostgreSQL calls; the functions
 * marked "thread-safe" may run concurrently on distinct chunks/batches of
 * one state.
 *
 * The construction (semi-honest, κ = 128, λ = 40).  The receiver R (the
 * asker, items X, |X| = n_R) and the sender S (the owner, items Y):
 *   - A random VOLE of length m = okvs_columns(n_R) (crypto/vole.h, the
 *     silent VOLE of Boyle, Couteau, Gilboa, Ishai, Kohl, Scholl): S holds
 *     Δ ∈ F and B ∈ F^m, R holds A, C ∈ F^m with C = B + A·Δ.
 *   - A run seed σ = BLAKE2b(both parties' 16-byte shares, n_R, n_S), so
 *     neither chooses the hashes alone; R's set is fixed before σ exists.
 *     From σ: the OKVS seed (per try t, below), the AES key of H1 and the
 *     salt of H_o.
 *   - H1(x) = AES_{k1}(x) ⊕ x (Matyas–Meyer–Oseas under the run's key k1,
 *     modelled as a random function F → F), H_o(x, v) = BLAKE2b-256 of
 *     x ‖ v with the run's salt and personal "pgpriv-rr22-out".
 *   - R: P = OKVS.Encode({(x, H1(x))}) (crypto/okvs.h; a try t ∈ 0..3 of
 *     the OKVS seed, each failing with probability about 2^-40, so R's
 *     choice among them is worth at most 2 bits of a hash it cannot
 *     otherwise steer), sends D = A + P.  R's output for x:
 *     H_o(x, Decode(C, x)).
 *   - S: K = B + D·Δ (= C + P·Δ, Decode is GF(2)-linear).  Its output for
 *     y: F(y) = H_o(y, Decode(K, y) + Δ·H1(y)), equal to R's for y ∈ X; for
 *     y ∉ X, Decode(K, y) + Δ·H1(y) = Decode(C, y) + Δ·(Decode(P, y) +
 *     H1(y)), where the factor of Δ is non-zero except with probability
 *     2^-128, so R (without Δ) sees H_o of an unpredictable value.
 *   - PSI: for each of its items y (in an order that carries no secret:
 *     shuffle it) S sends the first τ bytes of F(y), τ = ⌈(λ + log2 n_R +
 *     log2 n_S)/8⌉ as kkrt_tag_bytes; R reports x as a member when its own
 *     output's first τ bytes equal some tag.  One output per item (no
 *     cuckoo bins): bytes 16..31 of F(y) are never sent, so the protocol
 *     layer can key item y's payload with them (psi_fetch).
 *   - A modified R can make D anything: S's outputs are then H_o(y,
 *     Decode(C', y)) for some C' it cannot know beyond m linear relations, so
 *     R learns at most m outputs (a linear system of m unknowns): the
 *     caller charges R for m keys, not n_R.  S learns n_R only through m.
 *
 * Flights (every message starts with the 12-byte frame of crypto/ot.h:
 * version 1, type, reserved zero, seq, count; every length is exact):
 *   1 R→S HELLO  count = n_R;  share (16) ‖ the VOLE HELLO
 *   2 S→R BASE   count = n_S;  share (16) ‖ the VOLE BASE
 *   3 R→S COT    count = m;    OKVS try (4, LE) ‖ the VOLE COT
 *   4 S→R TREES  count = m;    the VOLE TREES
 *   5 R→S D      seq = chunk, count = elements in it; count × 16 bytes
 *                (the chunks, in any order, each once)
 *   6 S→R TAGS   seq = batch, count = items in batch; count × τ bytes
 * Bytes on the wire: 16·m R→S (+ the VOLE's), τ·n_S S→R (+ the VOLE's).
 *
 * A message that fails its checks returns an error status and changes
 * nothing; a peer's counts are bounded by the caller's max_peer_n before any
 * allocation.  Not covered: a malicious peer beyond the m-output bound above
 * (it can make the other side's output wrong, never read past a buffer);
 * see docs/security.md.
 */
#ifndef PGPRIV_CRYPTO_RR22_H
#define PGPRIV_CRYPTO_RR22_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/ot.h"			/* mpc_status, ot_block, the frame */

#define RR22_OUT_BYTES		32
#define RR22_ITEM_BYTES		16
#define RR22_MAX_N			(1u << 25)	/* m = okvs_columns(n) stays under VOLE_MAX_M */
#define RR22_CHUNK_ELEMS	32768	/* D elements per message (512 KiB) */
#define RR22_TAG_BATCH		16384	/* sender items per TAGS message */
#define RR22_OKVS_TRIES		4

typedef enum rr22_msg_type
{
	RR22_MSG_HELLO = 0x61,
	RR22_MSG_BASE = 0x62,
	RR22_MSG_COT = 0x63,
	RR22_MSG_TREES = 0x64,
	RR22_MSG_D = 0x65,
	RR22_MSG_TAGS = 0x66
} rr22_msg_type;

typedef struct rr22_receiver rr22_receiver;
typedef struct rr22_sender rr22_sender;

/* m: the VOLE length and OKVS size for n_R receiver items (0 if out of range). */
extern size_t rr22_columns(size_t n_r);

/* τ: bytes of each PSI tag for these set sizes (5..16). */
extern size_t rr22_tag_bytes(size_t n_r, size_t n_s);

/* Bytes of each message. */
extern size_t rr22_hello_bytes(void);
extern size_t rr22_base_bytes(void);
extern size_t rr22_cot_bytes(size_t m);
extern size_t rr22_trees_bytes(size_t m);
extern size_t rr22_d_bytes(size_t elems);
extern size_t rr22_tags_bytes(size_t items, size_t tag_bytes);

/* ------------------------------------------------------------ receiver */

/*
 * n distinct items of 16 bytes (the caller hashes longer keys to 16 bytes),
 * 1 <= n <= RR22_MAX_N.  NULL with *st set on failure.  nthreads: threads
 * for the receiver's own bulk steps (OKVS decoding, the VOLE), >= 1.
 */
extern rr22_receiver *rr22_receiver_new(const uint8_t *items, size_t n, int nthreads,
										mpc_status *st);
extern void rr22_receiver_free(rr22_receiver *r);	/* wipes */

/* Flight 1. */
extern mpc_status rr22_receiver_hello(rr22_receiver *r, uint8_t *msg, size_t cap, size_t *len);

/*
 * Reads flight 2 (n_S in 1..max_peer_n), encodes the OKVS and writes
 * flight 3 (rr22_cot_bytes(m) bytes).  MPC_OUT_OF_RANGE if no OKVS try
 * solved (each fails with probability about 2^-40).
 */
extern mpc_status rr22_receiver_base(rr22_receiver *r, const uint8_t *msg, size_t len,
									 size_t max_peer_n, uint8_t *out, size_t cap, size_t *out_len);

/* Reads flight 4: the VOLE completes, D and the receiver's outputs are computed. */
extern mpc_status rr22_receiver_trees(rr22_receiver *r, const uint8_t *msg, size_t len);

extern size_t rr22_receiver_columns(const rr22_receiver *r);	/* m */
extern size_t rr22_receiver_chunks(const rr22_receiver *r);
extern size_t rr22_receiver_chunk_bytes(const rr22_receiver *r, size_t chunk);

/* Flight 5, chunk number `chunk`: thread-safe (distinct chunks). */
extern mpc_status rr22_receiver_chunk(rr22_receiver *r, size_t chunk,
									  uint8_t *msg, size_t cap, size_t *len);

/* True once flight 4 was read: outputs and tag matching are available. */
extern bool rr22_receiver_outputs_ready(const rr22_receiver *r);

/* The output of item i (RR22_OUT_BYTES); NULL before outputs are ready. */
extern const uint8_t *rr22_receiver_output(const rr22_receiver *r, size_t i);

/* Batches of flight 6 to expect, and τ. */
extern size_t rr22_receiver_batches(const rr22_receiver *r);
extern size_t rr22_receiver_tag_bytes(const rr22_receiver *r);

/*
 * Reads one TAGS message (any order, each batch once).  Not thread-safe.
 * Item i is a member once rr22_receiver_match(r, i) != SIZE_MAX: the index
 * of the sender's item that matched.
 */
extern mpc_status rr22_receiver_tags(rr22_receiver *r, const uint8_t *msg, size_t len);
extern bool rr22_receiver_done(const rr22_receiver *r);		/* every batch read */
extern size_t rr22_receiver_match(const rr22_receiver *r, size_t i);

/* Bytes this state holds (for the caller's memory accounting). */
extern size_t rr22_receiver_memory(const rr22_receiver *r);

/* -------------------------------------------------------------- sender */

/* The sender of n items (given to rr22_sender_tags later); nthreads as above. */
extern rr22_sender *rr22_sender_new(size_t n, int nthreads, mpc_status *st);
extern void rr22_sender_free(rr22_sender *s);		/* wipes */

/*
 * Reads flight 1 (n_R in 1..max_peer_n, the VOLE's length exactly
 * rr22_columns(n_R)) and writes flight 2.
 */
extern mpc_status rr22_sender_hello(rr22_sender *s, const uint8_t *msg, size_t len,
									size_t max_peer_n,
									uint8_t *out, size_t cap, size_t *out_len);

extern size_t rr22_sender_columns(const rr22_sender *s);	/* m */

/* Reads flight 3 and writes flight 4 (rr22_trees_bytes(m)); the VOLE completes. */
extern mpc_status rr22_sender_cot(rr22_sender *s, const uint8_t *msg, size_t len,
								  uint8_t *out, size_t cap, size_t *out_len);

extern size_t rr22_sender_chunks(const rr22_sender *s);

/* Reads one D message: thread-safe (distinct chunks). */
extern mpc_status rr22_sender_chunk(rr22_sender *s, const uint8_t *msg, size_t len);

extern bool rr22_sender_ready(const rr22_sender *s);	/* every chunk read */

/*
 * F(y) for n items (ys n × 16 bytes, out n × 32 bytes): thread-safe; only
 * once ready.  For psi_fetch: bytes 0..τ of out[i] go out as the tag, bytes
 * 16..31 can key item i's payload (the receiver has them for its members
 * only).
 */
extern mpc_status rr22_sender_eval_batch(const rr22_sender *s, const uint8_t *ys, size_t n,
										 uint8_t *out);

extern size_t rr22_sender_batches(const rr22_sender *s);
extern size_t rr22_sender_tag_bytes(const rr22_sender *s);

/*
 * Flight 6, batch number `batch` of the sender's items ys (n distinct
 * items of 16 bytes, the same n as at rr22_sender_new, in an order that
 * carries no secret): thread-safe.
 */
extern mpc_status rr22_sender_tags(const rr22_sender *s, const uint8_t *ys, size_t batch,
								   uint8_t *msg, size_t cap, size_t *len);

extern size_t rr22_sender_memory(const rr22_sender *s);

/* Δ, for the tests only (test_rr22 scans the wire for it); zero before flight 3. */
extern ot_block rr22_sender_delta(const rr22_sender *s);

#endif
