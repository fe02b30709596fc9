/*
 * cuckoo.h — stash-less 3-choice cuckoo hashing of 128-bit items into a
 * table of one item per bin, for the OT-extension PSI (crypto/kkrt.h).
 *
 * The receiver of a KKRT16-style batched OPRF places each of its n items in
 * one of three bins h_0(x), h_1(x), h_2(x) of a table of m bins; the sender
 * evaluates each of its items at all three.  A placement failure is a
 * correctness failure (and, since the receiver then retries with a fresh
 * seed, the seed it finally sends is conditioned on its set by at most the
 * failure probability), so m is chosen for a failure probability of at most
 * 2^-40 (statistical security λ = 40).
 *
 * Parameters and where they come from:
 *   - h = 3 hash functions, no stash, m = ⌈e·n⌉ bins.
 *   - For n > 2^19: e = (145 + λ) / 125 = 1.48 for λ = 40.  This is the
 *     stash-less 3-hash sizing of cryptoTools' CuckooIndex::selectParams, the
 *     library under libOTe's KKRT (an empirical linear fit of λ against e, in
 *     the line of the experiments of Pinkas, Schneider, Tkachenko and Yanai,
 *     "Efficient Circuit-based PSI with Linear Communication", EUROCRYPT
 *     2019).  Numbers read from the literature, no code taken.
 *   - For smaller n the literature's fits are not claimed to hold (failures
 *     are dominated by small dense subgraphs, whose probability falls only
 *     polynomially in n), so we use e = 2.0 below 2^19 — generous, as the
 *     table is small there — and test/crypto/test_kkrt.c measures the
 *     failure rate of this exact code at small sizes (0 failures in 2000
 *     trials at n = 2^10 for e = 2.0 and e = 1.48, 0 in 300 at n = 2^12,
 *     e = 1.48; and 50 in 50 at e = 1.02, past the 3-choice load threshold
 *     of about 0.918, as a check that failures are reported).
 *   - Random-walk insertion with at most CUCKOO_MAX_KICKS evictions per item
 *     (an item evicted from a bin goes to one of its other two bins, chosen
 *     at random).  The bounds above are for the existence of a placement; a
 *     bounded random walk can only do worse, which the tests measure too.
 *
 * The hash functions: with AES-128 keyed by the 16-byte public seed,
 * w = AES(x) ⊕ x and w' = AES(x ⊕ 1) ⊕ x (x ⊕ 1 flips the low bit of byte 0)
 * give four 64-bit words; h_i(x) = ⌊w_i · m / 2^64⌋ for the first three.
 * Items must be distinct (the callers deduplicate).
 *
 * Pure C over OpenSSL: no PostgreSQL calls; every function is thread-safe
 * on distinct outputs.  pir_cuckoo.c is not reused: it is a 2-choice
 * bucketed layout tied to the PIR database shape.
 */
#ifndef PGPRIV_CRYPTO_CUCKOO_H
#define PGPRIV_CRYPTO_CUCKOO_H

#include <stddef.h>
#include <stdint.h>

#define CUCKOO_HASHES		3
#define CUCKOO_MAX_ITEMS	(1u << 26)
#define CUCKOO_MAX_KICKS	1000
#define CUCKOO_EMPTY		UINT32_MAX
#define CUCKOO_STAT_SEC		40

typedef enum cuckoo_status
{
	CUCKOO_OK = 0,
	CUCKOO_FULL,				/* an item found no bin within the kicks */
	CUCKOO_BAD_ARGUMENT,		/* n zero or over CUCKOO_MAX_ITEMS; placing: m < n */
	CUCKOO_NO_MEMORY,
	CUCKOO_CRYPTO_FAILED
} cuckoo_status;

/* The table size for n items: ⌈e·n⌉ with e as above (at least 4 bins). */
extern size_t cuckoo_bins(size_t n);

/* The same for an explicit expansion factor e (tests and benchmarks). */
extern size_t cuckoo_bins_for(size_t n, double e);

/*
 * The three bins of each of n items (n × 16 bytes) in a table of m bins:
 * idx[3·i + k] = h_k(item i).
 */
extern cuckoo_status cuckoo_hash(const uint8_t seed[16], const uint8_t *items, size_t n,
								 size_t m, uint32_t *idx);

/*
 * Places n items with bins idx (from cuckoo_hash) in m bins: bin_item[b] is
 * the item in bin b or CUCKOO_EMPTY; item_hidx[i] is the k with
 * idx[3·i + k] = bin of item i.  walk_seed seeds the walk's (public,
 * non-secret) random choices, so a placement is reproducible.
 */
extern cuckoo_status cuckoo_place(const uint32_t *idx, size_t n, size_t m,
								  uint64_t walk_seed, uint32_t *bin_item,
								  uint8_t *item_hidx);

#endif
