/*
 * ot.h — oblivious transfer for the two-party engine (docs/architecture.md,
 * protocol 6): Chou–Orlandi base OT on ristretto255 and IKNP OT extension.
 *
 * Pure C over libsodium and OpenSSL: no PostgreSQL calls, so everything here
 * may run on a worker thread.  Each party's half is a sequence of steps that
 * consume and produce byte buffers; the transport (bytea over libpq later, an
 * in-memory harness in the tests) is the caller's business.  Every message
 * starts with the 12-byte frame below and has an exact, checked length; a
 * message that does not parse returns an error status and leaves the state
 * it was given to as it was.
 *
 * Security model: semi-honest, κ = 128.  See docs/mpc-design.md.
 */
#ifndef PGPRIV_CRYPTO_OT_H
#define PGPRIV_CRYPTO_OT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the 2PC engine reads bit matrices as little-endian 64-bit words"
#endif

/* Status shared by the whole engine (ot.c, triples.c, mpc.c). */
typedef enum mpc_status
{
	MPC_OK = 0,
	MPC_BAD_LENGTH,				/* message length is not what its header implies */
	MPC_BAD_HEADER,				/* wrong version, unknown type or non-zero reserved bits */
	MPC_WRONG_TYPE,				/* a well-formed message of another kind */
	MPC_OUT_OF_ORDER,			/* sequence number is not the expected one */
	MPC_BAD_COUNT,				/* count zero, over the limit, or not the agreed one */
	MPC_POINT_INVALID,			/* not a canonical ristretto255 encoding */
	MPC_POINT_IDENTITY,			/* identity (or a point giving the identity) */
	MPC_BAD_STATE,				/* step called out of order on this side */
	MPC_BUFFER_TOO_SMALL,		/* caller's output buffer is too small */
	MPC_NO_MEMORY,
	MPC_CRYPTO_FAILED,			/* an OpenSSL or libsodium call failed */
	MPC_OUT_OF_RANGE			/* a value outside the documented fixed-point bound */
} mpc_status;

/* Human-readable reason for errdetail (never contains secret bytes). */
extern const char *mpc_status_reason(mpc_status st);

/*
 * Message frame: version (1 byte), type (1 byte), reserved (2 bytes, zero),
 * sequence number (uint32 LE), count (uint32 LE).  The sequence number
 * orders the batches of one OT-extension instance: its PRG streams advance
 * with every batch, so a skipped or replayed batch must be refused, not
 * silently produce wrong outputs.
 */
#define MPC_MSG_VERSION		1
#define MPC_MSG_HEADER_BYTES 12

typedef enum mpc_msg_type
{
	MPC_MSG_BASE_A = 1,			/* Chou–Orlandi sender's A */
	MPC_MSG_BASE_B = 2,			/* Chou–Orlandi receiver's B_j */
	MPC_MSG_EXT_U = 3,			/* IKNP receiver's matrix u, generic OT */
	MPC_MSG_EXT_CHOSEN = 4,		/* chosen-message OT: both masked messages */
	MPC_MSG_EXT_COT = 5,		/* correlated OT over Z_2^64: corrections */
	MPC_MSG_TRIPLE_U = 6,		/* Beaver triples: receiver's u */
	MPC_MSG_TRIPLE_TAU = 7,		/* Beaver triples: Gilboa corrections */
	MPC_MSG_AND_U = 8,			/* AND triples: receiver's u */
	MPC_MSG_SHARE = 9,			/* input sharing: the peer's share */
	MPC_MSG_OPEN = 10,			/* arithmetic shares being opened */
	MPC_MSG_MUL = 11,			/* Beaver multiplication: d and e shares */
	MPC_MSG_OPEN_BITS = 12,		/* XOR shares being opened */
	MPC_MSG_SIGN_ROUND = 13,	/* one round of the carry tree */
	MPC_MSG_PRODUCT_U = 14,		/* input products: the receiver's u */
	MPC_MSG_PRODUCT_TAU = 15,	/* input products: the sender's corrections */
	MPC_MSG_GRAM_TAU = 16,		/* cross products (gram.h): the bank's corrections */
	MPC_MSG_FIXED_U = 17,		/* fixed-choice products (fixprod.h): the receiver's u, once */
	MPC_MSG_FIXED_TAU = 18		/* fixed-choice products: one use's corrections */
} mpc_msg_type;

extern void mpc_msg_put_header(uint8_t *msg, uint8_t type, uint32_t seq, uint32_t count);

/*
 * Checks version, reserved bits and that the type is `type`; returns the
 * header's sequence number and count.  Does not check the payload length.
 */
extern mpc_status mpc_msg_get_header(const uint8_t *msg, size_t len, uint8_t type,
									 uint32_t *seq, uint32_t *count);

/*
 * The same frame for a protocol with its own message types first..last
 * (kkrt.h, ...): a type outside them is MPC_BAD_HEADER, another of them
 * MPC_WRONG_TYPE.
 */
extern mpc_status mpc_msg_get_header_of(const uint8_t *msg, size_t len, uint8_t first, uint8_t last,
										uint8_t type, uint32_t *seq, uint32_t *count);

/*
 * A flight's single message (sequence 0) of `type` among first..last, in
 * the order every protocol checks it: the frame, then MPC_OUT_OF_ORDER for
 * another sequence number, MPC_BAD_COUNT for a count outside
 * [min_count, max_count], MPC_BAD_LENGTH unless exactly `bytes` long.
 * Returns the header's count.
 */
extern mpc_status mpc_msg_expect_of(const uint8_t *msg, size_t len, uint8_t first, uint8_t last,
									uint8_t type, size_t min_count, size_t max_count,
									size_t bytes, uint32_t *count);

/* 128-bit block; w[0] holds bits 0..63 (bytes 0..7), w[1] bits 64..127. */
typedef struct ot_block
{
	uint64_t	w[2];
} ot_block;

#define OT_KAPPA			128		/* base OTs, columns of the IKNP matrix */
#define OT_BASE_MAX_COUNT	1024
#define OT_EXT_MAX_COUNT	(1u << 24)	/* OTs per extension message (256 MiB of u) */

/* ---------------------------------------------------------------------- */
/* Chou–Orlandi "simplest OT" (Chou, Orlandi, LATINCRYPT 2015), random OT.  */
/* Sender: a, A = a·G.  Receiver with choice c_j: B_j = b_j·G + c_j·A.      */
/* Keys: sender k0_j = H(j, A, B_j, a·B_j), k1_j = H(j, A, B_j, a·(B_j−A)); */
/* receiver k_{c_j} = H(j, A, B_j, b_j·A).  H = BLAKE2b-128 with a label.   */
/* ---------------------------------------------------------------------- */

typedef struct ot_base_sender
{
	uint8_t		a[32];			/* secret scalar */
	uint8_t		A[32];
	uint8_t		aA[32];
	size_t		count;
	int			stage;			/* 0 fresh, 1 A sent, 2 done */
} ot_base_sender;

extern size_t ot_base_msg_a_bytes(void);
extern size_t ot_base_msg_b_bytes(size_t count);

/* Flight 1 (sender → receiver): A. */
extern mpc_status ot_base_sender_start(ot_base_sender *s, size_t count,
									   uint8_t *msg, size_t cap, size_t *len);

/*
 * Flight 2 (receiver → sender): B_j for count choice bits (LSB-first bytes).
 * Rejects an A that is not canonical or is the identity.  keys gets k_{c_j}.
 */
extern mpc_status ot_base_receiver_respond(size_t count, const uint8_t *choices,
										   const uint8_t *msg_a, size_t msg_a_len,
										   uint8_t *msg, size_t cap, size_t *len,
										   ot_block *keys);

/* Sender's keys; rejects invalid B_j, identity B_j and B_j = A. Wipes a. */
extern mpc_status ot_base_sender_finish(ot_base_sender *s,
										const uint8_t *msg_b, size_t msg_b_len,
										ot_block *keys0, ot_block *keys1);

extern void ot_base_sender_wipe(ot_base_sender *s);

/* ---------------------------------------------------------------------- */
/* IKNP OT extension (Ishai, Kilian, Nissim, Petrank, CRYPTO 2003), κ=128. */
/* The extension receiver was the base-OT *sender* (it holds both seeds of */
/* each column); the extension sender was the base-OT receiver with the    */
/* secret choice string s.  PRG: AES-128-CTR (OpenSSL EVP) keyed by each   */
/* base key, one stream per column that carries on across batches.         */
/* ---------------------------------------------------------------------- */

typedef struct ot_ext_sender ot_ext_sender;
typedef struct ot_ext_receiver ot_ext_receiver;

/* s: 16 bytes (bit i = choice of base OT i); keys[i] = k_{s_i}. NULL on failure. */
extern ot_ext_sender *ot_ext_sender_new(const uint8_t s[16], const ot_block keys[OT_KAPPA]);
extern ot_ext_receiver *ot_ext_receiver_new(const ot_block keys0[OT_KAPPA],
											const ot_block keys1[OT_KAPPA]);
extern void ot_ext_sender_free(ot_ext_sender *s);	/* wipes */
extern void ot_ext_receiver_free(ot_ext_receiver *r);	/* wipes */

/*
 * Sequence number the next batch will carry; second-flight messages of a
 * batch (corrections, masked messages) repeat the batch's number.
 */
extern uint32_t ot_ext_sender_next_seq(const ot_ext_sender *s);
extern uint32_t ot_ext_receiver_next_seq(const ot_ext_receiver *r);

/* Bytes of an extension message carrying the u matrix for count OTs. */
extern size_t ot_ext_u_msg_bytes(size_t count);

/*
 * Rows of one chunk of the extension: rows[k] is OT number first + k.  The
 * receiver is given t_j, the sender q_j = t_j ⊕ r_j·s.  Return MPC_OK or a
 * status that aborts the extension.
 */
typedef mpc_status (*ot_rows_fn) (void *arg, size_t first, size_t n, const ot_block *rows);

/*
 * Receiver: builds the u message (type msg_type) for count OTs with choice
 * bits `choices` (LSB-first bytes) and hands the rows t_j to fn chunk by
 * chunk.  Advances this receiver's sequence number.
 */
extern mpc_status ot_ext_receiver_extend(ot_ext_receiver *r, uint8_t msg_type,
										 size_t count, const uint8_t *choices,
										 uint8_t *msg, size_t cap, size_t *len,
										 ot_rows_fn fn, void *arg);

/*
 * Sender: reads a u message of type msg_type, checks its frame, sequence
 * number, count (equal to expect_count unless that is 0, and <= max_count)
 * and length, and hands the rows q_j to fn.  *count gets the number of OTs.
 * A message that fails these checks leaves the state untouched.
 */
extern mpc_status ot_ext_sender_extend(ot_ext_sender *s, uint8_t msg_type,
									   const uint8_t *msg, size_t len,
									   size_t expect_count, size_t max_count,
									   size_t *count, ot_rows_fn fn, void *arg);

/*
 * The correlation-robust hash, H(x) = π(σ(x)) ⊕ σ(x) with π = AES-128 under
 * a fixed public key and σ(x_L ‖ x_R) = (x_L ⊕ x_R ‖ x_L) (Guo, Katz, Wang,
 * Yu, "Efficient and Secure Multiparty Computation from Fixed-Key Block
 * Ciphers", IEEE S&P 2020: circular-correlation-robust, hence correlation
 * robust, in the random-permutation model).  Sender: h0 = H(q_j),
 * h1 = H(q_j ⊕ s); receiver: h = H(t_j).  n <= the chunk size handed to fn.
 */
extern mpc_status ot_ext_sender_hash(ot_ext_sender *s, const ot_block *rows, size_t n,
									 ot_block *h0, ot_block *h1);
extern mpc_status ot_ext_receiver_hash(ot_ext_receiver *r, const ot_block *rows, size_t n,
									   ot_block *h);

/*
 * The tweakable hash H(x, i) = π(π(x) ⊕ i) ⊕ π(x) (Guo, Katz, Wang, Yu, S&P
 * 2020, TMMO), tweak i_j = (first + j, use): sender h0 = H(q_j, i_j),
 * h1 = H(q_j ⊕ s, i_j); receiver h = H(t_j, i_j).  A row set stored once is
 * hashed afresh under each `use`, which is how a fixed choice (the bits of
 * a matrix that does not change) serves many products (crypto/fixprod.h).
 */
extern mpc_status ot_ext_sender_hash_tweaked(ot_ext_sender *s, const ot_block *rows, size_t n,
											 uint64_t first, uint64_t use, ot_block *h0, ot_block *h1);
extern mpc_status ot_ext_receiver_hash_tweaked(ot_ext_receiver *r, const ot_block *rows, size_t n,
											   uint64_t first, uint64_t use, ot_block *h);

/* Rows handed to fn come in chunks of at most this many OTs. */
#define OT_EXT_CHUNK	4096

/* ---- Random, chosen-message and correlated OT on top of the extension ---- */

/*
 * Random OT, one flight (receiver → sender): the receiver gets
 * keys[j] = m_{c_j}, the sender m0[j], m1[j].
 */
extern mpc_status ot_rot_receiver(ot_ext_receiver *r, size_t count, const uint8_t *choices,
								  uint8_t *msg, size_t cap, size_t *len, ot_block *keys);
extern mpc_status ot_rot_sender(ot_ext_sender *s, const uint8_t *msg, size_t len,
								size_t count, ot_block *m0, ot_block *m1);

/*
 * Chosen-message OT of 128-bit messages: receiver_step1 = ot_rot_receiver;
 * the sender masks x0, x1 with its random-OT keys (one more flight), and the
 * receiver unmasks the one it chose.
 */
extern size_t ot_chosen_msg_bytes(size_t count);
extern mpc_status ot_chosen_sender(ot_ext_sender *s, const uint8_t *msg_u, size_t len_u,
								   size_t count, const ot_block *x0, const ot_block *x1,
								   uint8_t *msg, size_t cap, size_t *len);
extern mpc_status ot_chosen_receiver_finish(size_t count, const uint8_t *choices,
											const ot_block *keys,
											const uint8_t *msg, size_t len, ot_block *x);

/*
 * Correlated OT over Z_2^64: the sender gives Δ_j and gets x_j; the receiver
 * gets y_j = x_j + c_j·Δ_j (mod 2^64).
 */
extern size_t ot_cot_msg_bytes(size_t count);
extern mpc_status ot_cot_sender(ot_ext_sender *s, const uint8_t *msg_u, size_t len_u,
								size_t count, const uint64_t *delta, uint64_t *x,
								uint8_t *msg, size_t cap, size_t *len);
extern mpc_status ot_cot_receiver_finish(size_t count, const uint8_t *choices,
										 const ot_block *keys,
										 const uint8_t *msg, size_t len, uint64_t *y);

/* ---- Bit-matrix transposition (exposed for the tests and mpc.c) ---- */

/* In place: bit c of a[r] ↔ bit r of a[c], 64×64. */
extern void ot_transpose64(uint64_t a[64]);

/*
 * 128 columns of `words` 64-bit words each (column i starts at
 * cols + i·stride) to 64·words rows of 128 bits: rows[j] bit i = column i
 * bit j.
 */
extern void ot_transpose128(const uint64_t *cols, size_t stride, size_t words, ot_block *rows);

/*
 * An AES-128-ECB context (no padding) keyed by the first 16 bytes of
 * SHA-256(label): the fixed-key permutation of a hash (the tweakable hash
 * here, the Gram pads of gram.c).  NULL if OpenSSL fails.
 */
extern EVP_CIPHER_CTX *ot_label_aes_new(const char *label);

#endif
