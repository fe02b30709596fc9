/*
 * elgamal.h — exponential ElGamal on ristretto255 under a joint key, and the
 * bounded discrete logarithm that reads a decrypted sum back (docs/architecture.md
 * protocol 3, psi_sum).
 *
 * Pure C over libsodium: no PostgreSQL calls at all, so the range callbacks
 * may run on the worker threads of parallel.c.  Nothing here formats a
 * secret, a value or a plaintext.
 *
 * A plaintext v (a signed 64-bit integer: a fixed-point value) is the group
 * element v·G, v taken modulo the group order L; a ciphertext under the
 * public key PK is (c1, c2) = (r·G, v·G + r·PK), 64 bytes.  The joint key is
 * PK = PK_owner + PK_asker, so decryption needs both secret shares:
 * v·G = c2 − sk_owner·c1 − sk_asker·c1.  Ciphertexts add component-wise to
 * an encryption of the sum.  The identity element (the encoding of all
 * zero bytes) stands for v = 0 where it can legitimately appear (an empty
 * sum, a decrypted zero); anything received from another party must be a
 * canonical encoding other than the identity.
 */
#ifndef PGPRIV_CRYPTO_ELGAMAL_H
#define PGPRIV_CRYPTO_ELGAMAL_H

#include <stddef.h>
#include <stdint.h>

#define ELGAMAL_SCALAR_BYTES		32
#define ELGAMAL_ELEMENT_BYTES		32
#define ELGAMAL_CIPHERTEXT_BYTES	64

/*
 * A discrete logarithm is searched with at most 2^ELGAMAL_DLOG_MAX_BITS baby
 * steps in memory (16 bytes each, at most 32 MiB), out to a bound the caller
 * gives.
 */
#define ELGAMAL_DLOG_MAX_BITS	21

/*
 * Limbs: a signed 64-bit value v is encrypted as ELGAMAL_LIMBS plaintexts of
 * ELGAMAL_LIMB_BITS bits each, v = Σ limb[k]·2^(16k), the lower limbs in
 * [0, 2^16 − 1] and the top one in [−2^15, 2^15 − 1] (two's complement).
 * Ciphertexts add limb by limb, so the sum of n values has limb sums within
 * n·[0, 2^16 − 1] (the top: n·[−2^15, 2^15 − 1]): a small logarithm each,
 * however large the total, which elgamal_limbs_combine puts back together
 * exactly (|total| <= n·2^63, n < 2^63 / 2^16).
 */
#define ELGAMAL_LIMBS			4
#define ELGAMAL_LIMB_BITS		16

typedef __int128 elgamal_int128;

/* v's limbs, limb 0 the least significant. */
extern void elgamal_limbs_split(int64_t v, int64_t limbs[ELGAMAL_LIMBS]);

/* The range of limb k's sum over n values (n >= 0). */
extern void elgamal_limb_range(int k, int64_t n, int64_t *lo, int64_t *hi);

/* Σ sums[k]·2^(16k), exactly. */
extern elgamal_int128 elgamal_limbs_combine(const int64_t sums[ELGAMAL_LIMBS]);

typedef enum elgamal_status
{
	ELGAMAL_OK = 0,
	ELGAMAL_INVALID_ELEMENT,	/* not a canonical ristretto255 encoding */
	ELGAMAL_IDENTITY,			/* the identity where it may not appear */
	ELGAMAL_OUT_OF_RANGE,		/* the logarithm is not within the bound */
	ELGAMAL_NO_MEMORY,
	ELGAMAL_BAD_PROOF,			/* a proof that does not verify (elgamal_proof.h) */
	ELGAMAL_FOUND				/* internal to the discrete-log search */
} elgamal_status;

/* Human-readable reason, for errdetail. */
extern const char *elgamal_status_reason(elgamal_status st);

/* An element from another party: canonical and not the identity. */
extern elgamal_status elgamal_check_element(const uint8_t e[ELGAMAL_ELEMENT_BYTES]);

/* out = a ± b, where either may be the identity (all zero bytes); both decoded. */
extern elgamal_status elgamal_point_add(const uint8_t a[ELGAMAL_ELEMENT_BYTES],
										const uint8_t b[ELGAMAL_ELEMENT_BYTES],
										uint8_t out[ELGAMAL_ELEMENT_BYTES]);
extern elgamal_status elgamal_point_sub(const uint8_t a[ELGAMAL_ELEMENT_BYTES],
										const uint8_t b[ELGAMAL_ELEMENT_BYTES],
										uint8_t out[ELGAMAL_ELEMENT_BYTES]);

/* Both halves of a ciphertext from another party pass elgamal_check_element. */
extern elgamal_status elgamal_check_ciphertext(const uint8_t ct[ELGAMAL_CIPHERTEXT_BYTES]);

/* A fresh secret share sk (random, non-zero) and its public half sk·G. */
extern void elgamal_keygen_share(uint8_t sk[ELGAMAL_SCALAR_BYTES], uint8_t pk[ELGAMAL_ELEMENT_BYTES]);

/* PK = mine + theirs; theirs is checked; a sum that is the identity is refused. */
extern elgamal_status elgamal_joint_key(const uint8_t mine[ELGAMAL_ELEMENT_BYTES],
										const uint8_t theirs[ELGAMAL_ELEMENT_BYTES],
										uint8_t pk[ELGAMAL_ELEMENT_BYTES]);

/* v modulo the group order, as a little-endian scalar. */
extern void elgamal_scalar_from_int64(int64_t v, uint8_t s[ELGAMAL_SCALAR_BYTES]);

/* v·G (one fixed-base multiplication), the identity for v = 0. */
extern void elgamal_encode_plaintext(int64_t v, uint8_t m[ELGAMAL_ELEMENT_BYTES]);

/*
 * ct = (r·G, v·G + r·PK) with r = the given non-zero scalar: two fixed-base
 * multiplications (r·G, v·G) and one variable-base (r·PK).
 */
extern elgamal_status elgamal_encrypt(const uint8_t pk[ELGAMAL_ELEMENT_BYTES], int64_t v,
									  const uint8_t r[ELGAMAL_SCALAR_BYTES],
									  uint8_t ct[ELGAMAL_CIPHERTEXT_BYTES]);

/* out = a + b, component-wise (either may be the all-identity empty sum). */
extern elgamal_status elgamal_add(const uint8_t a[ELGAMAL_CIPHERTEXT_BYTES],
								  const uint8_t b[ELGAMAL_CIPHERTEXT_BYTES],
								  uint8_t out[ELGAMAL_CIPHERTEXT_BYTES]);

/* out = ct + (r·G, r·PK): the same plaintext, unlinkable to ct. */
extern elgamal_status elgamal_rerandomise(const uint8_t pk[ELGAMAL_ELEMENT_BYTES],
										  const uint8_t ct[ELGAMAL_CIPHERTEXT_BYTES],
										  const uint8_t r[ELGAMAL_SCALAR_BYTES],
										  uint8_t out[ELGAMAL_CIPHERTEXT_BYTES]);

/* This party's decryption share sk·c1 (c1 is checked first). */
extern elgamal_status elgamal_partial_decrypt(const uint8_t sk[ELGAMAL_SCALAR_BYTES],
											  const uint8_t ct[ELGAMAL_CIPHERTEXT_BYTES],
											  uint8_t share[ELGAMAL_ELEMENT_BYTES]);

/* m = c2 − share_a − share_b = v·G (the identity if v = 0). */
extern elgamal_status elgamal_combine(const uint8_t ct[ELGAMAL_CIPHERTEXT_BYTES],
									  const uint8_t share_a[ELGAMAL_ELEMENT_BYTES],
									  const uint8_t share_b[ELGAMAL_ELEMENT_BYTES],
									  uint8_t m[ELGAMAL_ELEMENT_BYTES]);

/* ------------------------------------------------------------------------
 * Batches, as range callbacks for crypto_parallel_for (parallel.h)
 * ------------------------------------------------------------------------
 */

/* ct[i] = Enc(PK, values[i]) with fresh randomness, items [base+begin, base+end). */
typedef struct elgamal_encrypt_job
{
	size_t		base;
	const uint8_t *pk;
	const int64_t *values;
	uint8_t    *out;			/* 64 bytes per item */
} elgamal_encrypt_job;

extern int	elgamal_encrypt_range(void *job, size_t begin, size_t end, size_t *failed_index);

/*
 * Check every ciphertext of chunk c (items [c·chunk, min((c+1)·chunk, n)))
 * and add up those whose flag is set into partial[c] (all zero bytes when
 * none is).  A failure reports the chunk; elgamal_check_ciphertext on its
 * items finds the item.
 */
typedef struct elgamal_sum_job
{
	const uint8_t *cts;			/* n × 64 bytes, with the given stride */
	size_t		stride;
	const uint8_t *flags;		/* n bytes, non-zero = add */
	size_t		n;
	size_t		chunk;
	uint8_t    *partial;		/* one 64-byte sum per chunk */
} elgamal_sum_job;

extern int	elgamal_sum_range(void *job, size_t begin, size_t end, size_t *failed_index);

/* ------------------------------------------------------------------------
 * Bounded discrete logarithm: baby-step giant-step
 * ------------------------------------------------------------------------
 *
 * The table maps the encoding of j·G (0 <= j < m) to j by open addressing,
 * 8 bytes a slot (a 32-bit tag of the encoding and j + 1), at most half
 * full; a tag match is confirmed by recomputing j·G, so no false match
 * survives.  The search grows the table by doubling, from 2^12 baby steps up
 * to 2^max_bits, searching |v| < m² with each size before doubling, so a
 * value v costs about 4·sqrt(|v|) group additions however large the bound;
 * at full size it walks giant steps out to the bound.  A group addition
 * costs about 21 µs with libsodium 1.0.18 (decode, add, encode).
 */
typedef struct elgamal_dlog
{
	int			max_bits;
	int64_t		bound;
	int			nthreads;
	uint64_t   *slots;
	size_t		slot_mask;
	int			slot_bits;
	uint64_t	filled;			/* baby steps j < filled are in the table */
	uint8_t    *scratch;		/* encodings of a slab of baby steps */
} elgamal_dlog;

/* Allocate (calloc) for up to 2^max_bits baby steps; ELGAMAL_NO_MEMORY or OK. */
extern elgamal_status elgamal_dlog_init(elgamal_dlog *d, int max_bits, int64_t bound, int nthreads);
extern void elgamal_dlog_free(elgamal_dlog *d);

/*
 * Solve m = v·G for |v| <= bound.  between(arg) is called before every slab
 * of work, in the caller's thread with no worker running (a backend checks
 * for interrupts there; it may longjmp, after which elgamal_dlog_free still
 * frees everything).  ELGAMAL_OUT_OF_RANGE when |v| > bound; m is checked.
 */
extern elgamal_status elgamal_dlog_solve(elgamal_dlog *d, const uint8_t m[ELGAMAL_ELEMENT_BYTES],
										 void (*between) (void *), void *arg, int64_t *v);

#endif
