/*
 * oprf_batch.c — the OPRF over many items (see oprf_batch.h).
 */
#include "crypto/oprf.h"
#include "crypto/oprf_batch.h"

int
oprf_batch_blind_range(void *arg, size_t begin, size_t end, size_t *failed_index)
{
	oprf_batch_job *job = arg;
	size_t		i;

	for (i = begin; i < end; i++)
	{
		size_t		j = job->base + i;
		const uint8_t *s = job->scalars ? job->scalars + j * OPRF_SCALAR_BYTES : job->sk;
		oprf_status st = oprf_blind(job->inputs[j], job->input_lens[j], s,
									job->out + j * OPRF_ELEMENT_BYTES);

		if (st != OPRF_OK)
		{
			*failed_index = i;
			return st;
		}
	}
	return 0;
}

int
oprf_batch_evaluate_range(void *arg, size_t begin, size_t end, size_t *failed_index)
{
	oprf_batch_job *job = arg;
	size_t		i;

	for (i = begin; i < end; i++)
	{
		size_t		j = job->base + i;
		oprf_status st = oprf_blind_evaluate(job->sk, job->elements + j * OPRF_ELEMENT_BYTES,
											 job->out + j * OPRF_ELEMENT_BYTES);

		if (st != OPRF_OK)
		{
			*failed_index = i;
			return st;
		}
	}
	return 0;
}

int
oprf_batch_finalize_range(void *arg, size_t begin, size_t end, size_t *failed_index)
{
	oprf_batch_job *job = arg;
	size_t		j = job->base + begin;
	size_t		failed = 0;
	oprf_status st;

	st = oprf_finalize_batch(end - begin, job->inputs + j, job->input_lens + j,
							 job->scalars + j * OPRF_SCALAR_BYTES,
							 job->elements + j * OPRF_ELEMENT_BYTES,
							 job->out + j * OPRF_OUTPUT_BYTES, &failed);
	if (st != OPRF_OK)
	{
		*failed_index = begin + failed;
		return st;
	}
	return 0;
}

int
oprf_batch_oprf_range(void *arg, size_t begin, size_t end, size_t *failed_index)
{
	oprf_batch_job *job = arg;
	size_t		i;

	for (i = begin; i < end; i++)
	{
		size_t		j = job->base + i;
		oprf_status st = oprf_evaluate(job->sk, job->inputs[j], job->input_lens[j],
									   job->out + j * OPRF_OUTPUT_BYTES);

		if (st != OPRF_OK)
		{
			*failed_index = i;
			return st;
		}
	}
	return 0;
}
