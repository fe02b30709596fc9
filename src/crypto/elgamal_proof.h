/*
 * elgamal_proof.h — a non-interactive proof that an exponential-ElGamal
 * ciphertext on ristretto255 encrypts 0 or 1, without saying which
 * (joint_woe: the bank's labels, docs/joint_woe.md).
 *
 * The ciphertext is (c1, c2) = (r·G, b·G + r·PK) under the prover's own key
 * PK (crypto/elgamal.h).  The proof is the disjunction of two Chaum–Pedersen
 * proofs of equal discrete logarithms — "(G, PK, c1, c2) is a DH tuple" or
 * "(G, PK, c1, c2 − G) is one" — one of them simulated (Cramer, Damgård and
 * Schoenmakers, CRYPTO '94), made non-interactive by Fiat–Shamir over
 * BLAKE2b-512 reduced modulo the group order.  The hash covers a domain tag,
 * a context the caller gives (the run and the row's position, so a proof
 * cannot be moved to another run or row), the key, the ciphertext and the
 * four commitments.
 *
 * The proof is four canonical scalars, e0 ‖ e1 ‖ z0 ‖ z1 (128 bytes): the
 * verifier recomputes the commitments A_j = z_j·G − e_j·c1 and
 * B_j = z_j·PK − e_j·(c2 − j·G) and checks e0 + e1 = H(…, A0, B0, A1, B1).
 * Soundness: a prover who can answer two different challenges for the same
 * commitments knows r with c2 − j·G = r·PK for some j ∈ {0, 1}, so a
 * ciphertext of any other plaintext passes with probability about 2^-252
 * per attempt (the random-oracle model).  Zero knowledge: the simulated
 * branch is distributed exactly as the real one.
 *
 * Pure C over libsodium, no PostgreSQL calls: the range callback may run on
 * the worker threads of parallel.c.
 */
#ifndef PGPRIV_CRYPTO_ELGAMAL_PROOF_H
#define PGPRIV_CRYPTO_ELGAMAL_PROOF_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/elgamal.h"

#define ELGAMAL_BIT_PROOF_BYTES		(4 * ELGAMAL_SCALAR_BYTES)	/* 128 */

/*
 * Encrypt bit (0 or 1) under pk with fresh randomness and prove it:
 * ct (64 bytes) and proof (128 bytes).  context binds the proof to its use.
 */
extern elgamal_status elgamal_bit_encrypt_prove(const uint8_t pk[ELGAMAL_ELEMENT_BYTES], int bit,
												const uint8_t *context, size_t context_len,
												uint8_t ct[ELGAMAL_CIPHERTEXT_BYTES],
												uint8_t proof[ELGAMAL_BIT_PROOF_BYTES]);

/*
 * ELGAMAL_OK when ct is a valid ciphertext (both halves canonical, not the
 * identity) and proof shows it encrypts 0 or 1 under pk for this context;
 * ELGAMAL_INVALID_ELEMENT / ELGAMAL_IDENTITY for a bad ciphertext,
 * ELGAMAL_BAD_PROOF otherwise (a non-canonical scalar included).
 */
extern elgamal_status elgamal_bit_verify(const uint8_t pk[ELGAMAL_ELEMENT_BYTES],
										 const uint8_t *context, size_t context_len,
										 const uint8_t ct[ELGAMAL_CIPHERTEXT_BYTES],
										 const uint8_t proof[ELGAMAL_BIT_PROOF_BYTES]);

/*
 * Batches, as range callbacks for crypto_parallel_for.  The context of item
 * i is prefix ‖ the 8-byte big-endian index base + i.
 */
typedef struct elgamal_bit_job
{
	size_t		base;
	const uint8_t *pk;
	const uint8_t *prefix;		/* at most 64 bytes */
	size_t		prefix_len;
	const uint8_t *bits;		/* prove: n bits, one per byte */
	uint8_t    *cts;			/* prove: written; verify: read; 64 bytes per item, stride below */
	uint8_t    *proofs;			/* 128 bytes per item, same stride */
	size_t		stride;			/* bytes between items (0 = packed: 64 for cts, 128 for proofs) */
} elgamal_bit_job;

extern int	elgamal_bit_prove_range(void *job, size_t begin, size_t end, size_t *failed_index);
extern int	elgamal_bit_verify_range(void *job, size_t begin, size_t end, size_t *failed_index);

#endif
