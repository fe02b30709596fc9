/*
 * batch.c — slab-wise, interruptible, multi-core drivers over crypto/oprf.c.
 */
#include "postgres.h"

#include "miscadmin.h"

#include "pgpriv.h"
#include "crypto/oprf.h"
#include "crypto/oprf_batch.h"
#include "crypto/parallel.h"
#include "peer/connection.h"
#include "run/batch.h"

/* Items per crypto_parallel_for call; interrupts are checked in between. */
#define SLAB 8192

typedef enum FailureBlame
{
	BLAME_LOCAL,				/* our own input was refused: a can't-happen */
	BLAME_SENDER				/* an element from the other party was refused */
} FailureBlame;

int
batch_slabs(size_t n, crypto_range_fn fn, void *job, size_t *job_base, size_t *failed)
{
	int			nthreads = pgpriv_threads_for_batch();
	size_t		start;

	for (start = 0; start < n; start += SLAB)
	{
		int			st;

		CHECK_FOR_INTERRUPTS();
		peer_check_alive();
		*job_base = start;
		*failed = 0;
		st = crypto_parallel_for(Min((size_t) SLAB, n - start), nthreads, fn, job, failed);
		if (st != 0)
		{
			*failed += start;
			return st;
		}
	}
	return 0;
}

static void
run_slabs(size_t n, crypto_range_fn fn, oprf_batch_job *job, FailureBlame blame, const char *sender)
{
	size_t		failed = 0;
	int			st = batch_slabs(n, fn, job, &job->base, &failed);

	if (st == 0)
		return;
	if (blame == BLAME_SENDER)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("malformed message from %s", sender),
				 errdetail("Element %zu: %s.", failed + 1,
						   oprf_status_reason((oprf_status) st))));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("key %zu cannot be used: %s", failed + 1,
					oprf_status_reason((oprf_status) st))));
}

void
batch_blind(const KeySet *keys, const uint8 *scalars, uint8 *out)
{
	oprf_batch_job job = {.inputs = keys->data, .input_lens = keys->lens, .scalars = scalars, .out = out};

	run_slabs(keys->n, oprf_batch_blind_range, &job, BLAME_LOCAL, NULL);
}

void
batch_hash_and_mult(const KeySet *keys, const uint8 scalar[32], uint8 *out)
{
	oprf_batch_job job = {.inputs = keys->data, .input_lens = keys->lens, .sk = scalar, .out = out};

	run_slabs(keys->n, oprf_batch_blind_range, &job, BLAME_LOCAL, NULL);
}

void
batch_mult(size_t n, const uint8 scalar[32], const uint8 *elements, uint8 *out, const char *sender)
{
	oprf_batch_job job = {.sk = scalar, .elements = elements, .out = out};

	run_slabs(n, oprf_batch_evaluate_range, &job, BLAME_SENDER, sender);
}

void
batch_finalize(const KeySet *keys, const uint8 *blinds, const uint8 *evaluated,
			   uint8 *out, const char *sender)
{
	oprf_batch_job job = {.inputs = keys->data, .input_lens = keys->lens, .scalars = blinds,
	.elements = evaluated, .out = out};

	run_slabs(keys->n, oprf_batch_finalize_range, &job, BLAME_SENDER, sender);
}

void
batch_evaluate_unblinded(const KeySet *keys, const uint8 sk[32], uint8 *out)
{
	oprf_batch_job job = {.inputs = keys->data, .input_lens = keys->lens, .sk = sk, .out = out};

	run_slabs(keys->n, oprf_batch_oprf_range, &job, BLAME_LOCAL, NULL);
}

void
batch_random_scalars(size_t n, uint8 *out)
{
	size_t		i;

	for (i = 0; i < n; i++)
	{
		if ((i & 0xffff) == 0)
		{
			CHECK_FOR_INTERRUPTS();
			peer_check_alive();
		}
		oprf_random_scalar(out + i * 32);
	}
}
