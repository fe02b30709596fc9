/*
 * batch.h — batch elliptic-curve work for the protocols, on all cores.
 *
 * These run in the backend thread: they split the work into slabs, hand
 * each slab to crypto_parallel_for (worker threads run only pure crypto) and
 * check for interrupts between slabs.  An element that fails validation is
 * reported as a protocol violation naming the party that sent it.
 */
#ifndef PGPRIV_PROTOCOL_BATCH_H
#define PGPRIV_PROTOCOL_BATCH_H

#include "postgres.h"

#include "crypto/parallel.h"

/* Keys as the OPRF sees them: byte strings (UTF-8 text of each key). */
typedef struct KeySet
{
	size_t		n;
	const uint8 **data;
	size_t	   *lens;
	char	  **text;			/* the keys in the database encoding, for output */
} KeySet;

/*
 * fn over items [0, n) of job in slabs, on pgpriv.crypto_threads threads,
 * interrupts and the peers' connections checked between slabs; *job_base is
 * set to each slab's first item (fn's indices are relative to it).
 * Returns 0, or the status of the first failing item and its index in
 * *failed.
 */
extern int	batch_slabs(size_t n, crypto_range_fn fn, void *job, size_t *job_base,
						size_t *failed);

/* out[i] = scalars[i]·HashToGroup(keys[i]) (RFC 9497 Blind with given blinds). */
extern void batch_blind(const KeySet *keys, const uint8 *scalars, uint8 *out);

/* out[i] = scalar·HashToGroup(keys[i]) (one scalar for all: ECDH masking). */
extern void batch_hash_and_mult(const KeySet *keys, const uint8 scalar[32], uint8 *out);

/* out[i] = scalar·elements[i]; elements come from sender and are validated. */
extern void batch_mult(size_t n, const uint8 scalar[32], const uint8 *elements, uint8 *out,
					   const char *sender);

/* out[i] = RFC 9497 Finalize(keys[i], blinds[i], evaluated[i]), 64 bytes each. */
extern void batch_finalize(const KeySet *keys, const uint8 *blinds, const uint8 *evaluated,
						   uint8 *out, const char *sender);

/* out[i] = RFC 9497 Evaluate(sk, keys[i]), 64 bytes each. */
extern void batch_evaluate_unblinded(const KeySet *keys, const uint8 sk[32], uint8 *out);

/* n fresh random non-zero scalars. */
extern void batch_random_scalars(size_t n, uint8 *out);

#endif
