/*
 * kkrt.h — batched OPRF from OT extension and the PSI on top of it
 * (Kolesnikov, Kumaresan, Rosulek, Trieu, "Efficient Batched Oblivious PRF
 * with Applications to Private Set Intersection", CCS 2016: "KKRT16"),
 * the first step of the balanced-join PSI (docs/psi.md, "balanced joins").
 *
 * Both parties' halves, each a state machine that consumes and produces
 * byte buffers; the transport is the caller's.  Pure C over libsodium and
 * OpenSSL: no PostgreSQL calls; the functions marked "thread-safe" may run
 * concurrently on distinct chunks/batches of one state.
 *
 * The construction (semi-honest, κ = 128, λ = 40):
 *   - The receiver R (items X, |X| = n_R) cuckoo-hashes X into m bins
 *     (crypto/cuckoo.h: 3 hashes, no stash); bin j holds x_j (or a random
 *     dummy), placed there through hash index i_j.
 *   - Width-k IKNP with k = KKRT_CODE_BITS = 448 base OTs (KKRT16 prices
 *     one OPRF at about 3.5 OTs, i.e. a 3.5·128 = 448-bit code; a PRC of
 *     that width keeps every pair of the ≤ 2^26 codes in play at Hamming
 *     distance ≥ κ except with negligible probability).  R is the base-OT
 *     sender (Chou–Orlandi, crypto/ot.h), S the base-OT receiver with the
 *     secret choice string s ∈ {0,1}^k.
 *   - The code is a PRF: C(x) = the first 448 bits of
 *     AES_{c0}(x) ‖ AES_{c1}(x) ‖ AES_{c2}(x) ‖ AES_{c3}(x), its keys
 *     derived from the sender's fresh seed and the first flight, so neither
 *     party chooses them alone and R's set is fixed before they exist.
 *   - Columns: t^c = G(k0_c), u^c = t^c ⊕ G(k1_c) ⊕ C(x_·)^c (G =
 *     AES-128-CTR; column c of bins [a, b) is bytes a/8 .. b/8 of its
 *     stream, so chunks are independent).  S: q^c = G(k_{s_c}) ⊕ s_c·u^c,
 *     so row q_j = t_j ⊕ (C(x_j) ∧ s).
 *   - F(k, j, i, x) = BLAKE2b-256(j ‖ i ‖ q_j ⊕ (C(x) ∧ s)), personal
 *     "pgpriv-kkrt-out", for bin j reached through hash index i; R's output
 *     for x_j is BLAKE2b-256(j ‖ i_j ‖ t_j), equal to F(k, j, i_j, x_j).
 *     S evaluates any y at its three bins h_i(y).  The index i is in the
 *     hash so that a y with h_0(y) = h_1(y) still gets unrelated tags.
 *   - PSI: for each of its items y (in the order given, which must not
 *     carry secrets: shuffle it) S sends the first τ bytes of F at h_0(y),
 *     h_1(y), h_2(y); R reports x as a member when tag i of some y equals
 *     its own output's first τ bytes, i = its hash index.  τ =
 *     ⌈(λ + log2 n_R + log2 n_S) / 8⌉ bytes (10 for 2^20 × 2^20): the n_R·n_S
 *     comparisons give a false match with probability ≤ 2^-40.  Bytes 16..31
 *     of an output are never sent: the protocol layer can key a payload
 *     with them (psi_fetch).
 *
 * Flights (every message starts with the 12-byte frame of crypto/ot.h:
 * version 1, type, reserved zero, seq, count; every length is exact):
 *   1 R→S HELLO  count = n_R;   cuckoo seed (16) ‖ base-OT message A
 *   2 S→R BASE   count = n_S;   sender seed (16) ‖ base-OT message B (k·32)
 *   3 R→S U      seq = chunk, count = bins in chunk; k columns of
 *                ⌈count/64⌉·8 bytes (the chunks, in any order, each once)
 *   4 S→R TAGS   seq = batch, count = items in batch; count·3·τ bytes
 * Bytes on the wire: 56·m R→S (+ 60 once), 3·τ·n_S S→R (+ 14 364 once).
 *
 * A message that fails its checks returns an error status and changes
 * nothing; a peer's counts are bounded by the caller's max_peer_n before any
 * allocation.  Not covered: a malicious peer (it can make the other side's
 * output wrong, never read past a buffer); see docs/security.md.
 */
#ifndef PGPRIV_CRYPTO_KKRT_H
#define PGPRIV_CRYPTO_KKRT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/ot.h"			/* mpc_status, the base OT */

#define KKRT_CODE_BITS		448
#define KKRT_CODE_WORDS		(KKRT_CODE_BITS / 64)
#define KKRT_CODE_BYTES		(KKRT_CODE_BITS / 8)
#define KKRT_OUT_BYTES		32
#define KKRT_ITEM_BYTES		16
#define KKRT_HASHES			3
#define KKRT_MAX_N			(1u << 26)
#define KKRT_CHUNK_BINS		8192	/* bins per U message (multiple of 64) */
#define KKRT_TAG_BATCH		16384	/* sender items per TAGS message */
#define KKRT_MAX_CUCKOO_TRIES 4

typedef enum kkrt_msg_type
{
	KKRT_MSG_HELLO = 0x41,
	KKRT_MSG_BASE = 0x42,
	KKRT_MSG_U = 0x43,
	KKRT_MSG_TAGS = 0x44
} kkrt_msg_type;

typedef struct kkrt_receiver kkrt_receiver;
typedef struct kkrt_sender kkrt_sender;

/* τ: bytes of each PSI tag for these set sizes (5..16). */
extern size_t kkrt_tag_bytes(size_t n_r, size_t n_s);

/* Bytes of each message. */
extern size_t kkrt_hello_bytes(void);
extern size_t kkrt_base_bytes(void);
extern size_t kkrt_u_bytes(size_t bins);		/* a U message of that many bins */
extern size_t kkrt_tags_bytes(size_t items, size_t tag_bytes);

/* ------------------------------------------------------------ receiver */

/*
 * n distinct items of 16 bytes (the caller hashes longer keys to 16 bytes).
 * Cuckoo-hashes them, with a fresh seed per try up to KKRT_MAX_CUCKOO_TRIES.
 * NULL with *st set on failure (MPC_BAD_COUNT, MPC_NO_MEMORY, MPC_CRYPTO_FAILED;
 * MPC_OUT_OF_RANGE if no try placed them: duplicates, or 2^-40 bad luck).
 */
extern kkrt_receiver *kkrt_receiver_new(const uint8_t *items, size_t n, mpc_status *st);
extern void kkrt_receiver_free(kkrt_receiver *r);	/* wipes */

/* Flight 1. */
extern mpc_status kkrt_receiver_hello(kkrt_receiver *r, uint8_t *msg, size_t cap, size_t *len);

/* Reads flight 2; n_S must be in 1..max_peer_n.  Then chunks can be made. */
extern mpc_status kkrt_receiver_base(kkrt_receiver *r, const uint8_t *msg, size_t len,
									 size_t max_peer_n);

extern size_t kkrt_receiver_bins(const kkrt_receiver *r);
extern size_t kkrt_receiver_chunks(const kkrt_receiver *r);
extern size_t kkrt_receiver_chunk_bytes(const kkrt_receiver *r, size_t chunk);

/*
 * Flight 3, chunk number `chunk` (0 .. chunks−1): thread-safe (distinct
 * chunks).  Also computes the receiver's outputs for the items in it.
 */
extern mpc_status kkrt_receiver_chunk(kkrt_receiver *r, size_t chunk,
									  uint8_t *msg, size_t cap, size_t *len);

/* True once every chunk was made: outputs and tag matching are available. */
extern bool kkrt_receiver_outputs_ready(const kkrt_receiver *r);

/*
 * The OPRF output of item i (KKRT_OUT_BYTES) and its hash index (the
 * sender's evaluation number that equals it); NULL before outputs are ready.
 */
extern const uint8_t *kkrt_receiver_output(const kkrt_receiver *r, size_t i, int *hidx);

/* Batches of flight 4 to expect, and τ. */
extern size_t kkrt_receiver_batches(const kkrt_receiver *r);
extern size_t kkrt_receiver_tag_bytes(const kkrt_receiver *r);

/*
 * Reads one TAGS message (any order, each batch once).  Not thread-safe.
 * Item i is a member once kkrt_receiver_match(r, i) != SIZE_MAX: the index
 * of the sender's item that matched.
 */
extern mpc_status kkrt_receiver_tags(kkrt_receiver *r, const uint8_t *msg, size_t len);
extern bool kkrt_receiver_done(const kkrt_receiver *r);		/* every batch read */
extern size_t kkrt_receiver_match(const kkrt_receiver *r, size_t i);

/* Bytes this state holds (for the caller's memory accounting). */
extern size_t kkrt_receiver_memory(const kkrt_receiver *r);

/* -------------------------------------------------------------- sender */

/* The sender of n items (its set is given to kkrt_sender_tags later). */
extern kkrt_sender *kkrt_sender_new(size_t n, mpc_status *st);
extern void kkrt_sender_free(kkrt_sender *s);		/* wipes */

/*
 * Reads flight 1 (n_R in 1..max_peer_n; allocates 56·m bytes for the rows)
 * and writes flight 2.
 */
extern mpc_status kkrt_sender_hello(kkrt_sender *s, const uint8_t *msg, size_t len,
									size_t max_peer_n,
									uint8_t *out, size_t cap, size_t *out_len);

extern size_t kkrt_sender_chunks(const kkrt_sender *s);

/* Reads one U message: thread-safe (distinct chunks). */
extern mpc_status kkrt_sender_chunk(kkrt_sender *s, const uint8_t *msg, size_t len);

extern bool kkrt_sender_ready(const kkrt_sender *s);	/* every chunk read */

/*
 * F(k, h_i(y), y) for i = 0, 1, 2 into out[0..95]: thread-safe; only once
 * ready.
 */
extern mpc_status kkrt_sender_eval(const kkrt_sender *s, const uint8_t y[KKRT_ITEM_BYTES],
								   uint8_t out[KKRT_HASHES * KKRT_OUT_BYTES]);

/*
 * The same for n items at once (ys n × 16 bytes, out n × 96 bytes):
 * thread-safe.  For psi_fetch: bytes 0..τ of out[i] go out as the tag,
 * bytes 16..31 can key item i's payload (the receiver has them for its
 * members only).
 */
extern mpc_status kkrt_sender_eval_batch(const kkrt_sender *s, const uint8_t *ys, size_t n,
										 uint8_t *out);

extern size_t kkrt_sender_batches(const kkrt_sender *s);
extern size_t kkrt_sender_tag_bytes(const kkrt_sender *s);

/*
 * Flight 4, batch number `batch` of the sender's items ys (n distinct items
 * of 16 bytes, the same n as at kkrt_sender_new, in an order that carries
 * no secret: equal items would show as equal tags):
 * thread-safe.
 */
extern mpc_status kkrt_sender_tags(const kkrt_sender *s, const uint8_t *ys, size_t batch,
								   uint8_t *msg, size_t cap, size_t *len);

extern size_t kkrt_sender_memory(const kkrt_sender *s);

#endif
