/*
 * batch.c — slab-wise, interruptible, multi-core drivers over crypto/oprf.c.
 */
#include "postgres.h"

#include "miscadmin.h"

#include "pgpriv.h"
#include "crypto/oprf.h"
#include "crypto/parallel.h"
#include "protocol/batch.h"

/* Items per crypto_parallel_for call; interrupts are checked in between. */
#define SLAB 8192

typedef struct BatchJob
{
	size_t		base;			/* first index of the current slab */
	const KeySet *keys;
	const uint8 *scalar;		/* one scalar for all, or NULL */
	const uint8 *scalars;		/* one scalar per item, or NULL */
	const uint8 *elements;
	uint8	   *out;
} BatchJob;

typedef enum FailureBlame
{
	BLAME_LOCAL,				/* our own input was refused: a can't-happen */
	BLAME_SENDER				/* an element from the other party was refused */
} FailureBlame;

static void
run_slabs(size_t n, crypto_range_fn fn, BatchJob *job, FailureBlame blame, const char *sender)
{
	int			nthreads = pgpriv_threads_for_batch();
	size_t		start;

	for (start = 0; start < n; start += SLAB)
	{
		size_t		failed = 0;
		int			st;

		CHECK_FOR_INTERRUPTS();
		job->base = start;
		st = crypto_parallel_for(Min((size_t) SLAB, n - start), nthreads, fn, job, &failed);
		if (st == 0)
			continue;
		if (blame == BLAME_SENDER)
			ereport(ERROR,
					(errcode(ERRCODE_PROTOCOL_VIOLATION),
					 errmsg("malformed message from %s", sender),
					 errdetail("Element %zu: %s.", start + failed + 1,
							   oprf_status_reason((oprf_status) st))));
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("key %zu cannot be used: %s", start + failed + 1,
						oprf_status_reason((oprf_status) st))));
	}
}

static int
blind_range(void *arg, size_t begin, size_t end, size_t *failed)
{
	BatchJob   *job = arg;
	size_t		i;

	for (i = begin; i < end; i++)
	{
		size_t		j = job->base + i;
		const uint8 *s = job->scalars ? job->scalars + j * 32 : job->scalar;
		oprf_status st = oprf_blind(job->keys->data[j], job->keys->lens[j], s, job->out + j * 32);

		if (st != OPRF_OK)
		{
			*failed = i;
			return st;
		}
	}
	return 0;
}

static int
mult_range(void *arg, size_t begin, size_t end, size_t *failed)
{
	BatchJob   *job = arg;
	size_t		i;

	for (i = begin; i < end; i++)
	{
		size_t		j = job->base + i;
		oprf_status st = oprf_blind_evaluate(job->scalar, job->elements + j * 32, job->out + j * 32);

		if (st != OPRF_OK)
		{
			*failed = i;
			return st;
		}
	}
	return 0;
}

static int
finalize_range(void *arg, size_t begin, size_t end, size_t *failed)
{
	BatchJob   *job = arg;
	size_t		j = job->base + begin;
	size_t		f = 0;
	oprf_status st;

	/* one shared inversion for the whole range (Montgomery's trick) */
	st = oprf_finalize_batch(end - begin, job->keys->data + j, job->keys->lens + j,
							 job->scalars + j * 32, job->elements + j * 32,
							 job->out + j * 64, &f);
	if (st != OPRF_OK)
	{
		*failed = begin + f;
		return st;
	}
	return 0;
}

static int
evaluate_range(void *arg, size_t begin, size_t end, size_t *failed)
{
	BatchJob   *job = arg;
	size_t		i;

	for (i = begin; i < end; i++)
	{
		size_t		j = job->base + i;
		oprf_status st = oprf_evaluate(job->scalar, job->keys->data[j], job->keys->lens[j],
									   job->out + j * 64);

		if (st != OPRF_OK)
		{
			*failed = i;
			return st;
		}
	}
	return 0;
}

void
batch_blind(const KeySet *keys, const uint8 *scalars, uint8 *out)
{
	BatchJob	job = {0, keys, NULL, scalars, NULL, out};

	run_slabs(keys->n, blind_range, &job, BLAME_LOCAL, NULL);
}

void
batch_hash_and_mult(const KeySet *keys, const uint8 scalar[32], uint8 *out)
{
	BatchJob	job = {0, keys, scalar, NULL, NULL, out};

	run_slabs(keys->n, blind_range, &job, BLAME_LOCAL, NULL);
}

void
batch_mult(size_t n, const uint8 scalar[32], const uint8 *elements, uint8 *out, const char *sender)
{
	BatchJob	job = {0, NULL, scalar, NULL, elements, out};

	run_slabs(n, mult_range, &job, BLAME_SENDER, sender);
}

void
batch_finalize(const KeySet *keys, const uint8 *blinds, const uint8 *evaluated,
			   uint8 *out, const char *sender)
{
	BatchJob	job = {0, keys, NULL, blinds, evaluated, out};

	run_slabs(keys->n, finalize_range, &job, BLAME_SENDER, sender);
}

void
batch_evaluate_unblinded(const KeySet *keys, const uint8 sk[32], uint8 *out)
{
	BatchJob	job = {0, keys, sk, NULL, NULL, out};

	run_slabs(keys->n, evaluate_range, &job, BLAME_LOCAL, NULL);
}

void
batch_random_scalars(size_t n, uint8 *out)
{
	size_t		i;

	for (i = 0; i < n; i++)
	{
		if ((i & 0xffff) == 0)
			CHECK_FOR_INTERRUPTS();
		oprf_random_scalar(out + i * 32);
	}
}
