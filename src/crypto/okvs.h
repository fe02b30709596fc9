/*
 * okvs.h — a binary linear oblivious key-value store over 128-bit values,
 * the data structure of the RR22-class PSI step (docs/psi.md, "balanced
 * joins"; Raghuraman, Rindal, "Blazing Fast PSI from Improved OKVS and
 * Subfield VOLE", CCS 2022, §2–3).  Not used by any protocol yet: the
 * silent VOLE it pairs with is the next piece.
 *
 * Encode({(k_i, v_i)}) gives P ∈ (GF(2)^128)^m with ⟨row(k_i), P⟩ = v_i,
 * where row(k) has weight 3 among the first m' = ⌈e·n⌉ (sparse) columns and
 * a random 64-bit pattern on the last OKVS_DENSE (dense) columns, all
 * coefficients in GF(2), so decoding is an XOR of P's entries.  Encoding
 * peels the 3-uniform hypergraph of the sparse parts (linear time); the rows
 * of its 2-core, if any, are solved by Gaussian elimination over the
 * columns they touch plus the dense ones, then the peeled rows by back
 * substitution.  Columns nothing determines are random (randombytes_buf),
 * so a key not encoded decodes to noise.
 *
 * Parameters: e = 1.23 (w = 3: the 2-core is empty for e above 1.2218,
 * Dembo–Montanari as RR22 §3.2 recalls; RR22's fit gives e ≈ 1.228 for
 * λ = 40 at n = 2^20) and OKVS_DENSE = 64 dense columns, more than RR22's
 * ĝ + λ = 41: a 2-core of h rows fails to solve with probability at most
 * about 2^(h − 64) given its sparse columns, and h is 0 or a few rows almost
 * always (test_okvs measures it).  A failure is reported, never hidden: the
 * caller retries with a fresh seed.  Keys must be distinct.
 *
 * Pure C over OpenSSL and libsodium: no PostgreSQL calls; thread-safe on
 * distinct outputs.
 */
#ifndef PGPRIV_CRYPTO_OKVS_H
#define PGPRIV_CRYPTO_OKVS_H

#include <stddef.h>
#include <stdint.h>

#define OKVS_KEY_BYTES		16
#define OKVS_VALUE_BYTES	16
#define OKVS_DENSE			64
#define OKVS_MAX_N			(1u << 26)
#define OKVS_MAX_CORE		4096	/* 2-core rows the elimination takes on */

typedef enum okvs_status
{
	OKVS_OK = 0,
	OKVS_FAILED,				/* the system had no solution: retry, new seed */
	OKVS_BAD_ARGUMENT,
	OKVS_NO_MEMORY,
	OKVS_CRYPTO_FAILED
} okvs_status;

/* m' (sparse columns) and m (all columns) for n keys. */
extern size_t okvs_sparse_columns(size_t n);
extern size_t okvs_columns(size_t n);

/*
 * P (okvs_columns(n) × 16 bytes) with Decode(P, keys[i]) = values[i].
 * *core gets the 2-core's size (rows solved by elimination), for the tests.
 */
extern okvs_status okvs_encode(const uint8_t seed[16], const uint8_t *keys,
							   const uint8_t *values, size_t n, uint8_t *P, size_t *core);

/* out[j] = Decode(P, keys[j]) for count keys, P made for n keys. */
extern okvs_status okvs_decode(const uint8_t seed[16], size_t n, const uint8_t *P,
							   const uint8_t *keys, size_t count, uint8_t *out);

#endif
