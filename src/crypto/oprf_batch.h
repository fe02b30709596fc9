/*
 * oprf_batch.h — the OPRF over many items, as range callbacks for
 * crypto_parallel_for (parallel.h).
 *
 * Pure C like oprf.h: these run on worker threads.  A job describes one
 * batch; each callback computes items [base + begin, base + end) and writes
 * only their output slots, so any split over threads gives the same bytes as
 * a one-thread run.  On failure a callback returns the oprf_status of the
 * lowest failing item in its range and stores that item's index (relative to
 * base) in *failed_index.
 */
#ifndef PGPRIV_CRYPTO_OPRF_BATCH_H
#define PGPRIV_CRYPTO_OPRF_BATCH_H

#include <stddef.h>
#include <stdint.h>

typedef struct oprf_batch_job
{
	size_t		base;			/* index of the current slab's first item */
	const uint8_t *sk;			/* one scalar for every item, or NULL */
	const uint8_t *const *inputs;	/* per-item inputs and their lengths */
	const size_t *input_lens;
	const uint8_t *scalars;		/* one scalar per item (blinds), 32 bytes each, or NULL */
	const uint8_t *elements;	/* per-item elements, 32 bytes each */
	uint8_t    *out;			/* per-item outputs: 32-byte elements or 64-byte outputs */
} oprf_batch_job;

/* out[i] = s·HashToGroup(inputs[i]), s = scalars[i] if given, else sk (RFC 9497 Blind). */
extern int	oprf_batch_blind_range(void *job, size_t begin, size_t end, size_t *failed_index);

/* out[i] = sk·elements[i] (RFC 9497 BlindEvaluate). */
extern int	oprf_batch_evaluate_range(void *job, size_t begin, size_t end, size_t *failed_index);

/* out[i] = Finalize(inputs[i], scalars[i], elements[i]), 64 bytes, one inversion per 128 blinds. */
extern int	oprf_batch_finalize_range(void *job, size_t begin, size_t end, size_t *failed_index);

/* out[i] = Evaluate(sk, inputs[i]), 64 bytes (RFC 9497 unblinded Evaluate). */
extern int	oprf_batch_oprf_range(void *job, size_t begin, size_t end, size_t *failed_index);

#endif
