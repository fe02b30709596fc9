/*
 * bench_oprf.c — throughput of the pure-crypto OPRF layer, no server needed.
 *
 * The cost floor of RFC 9497 OPRF(ristretto255, SHA-512) is its scalar
 * multiplications: BlindEvaluate needs one, a client's Blind plus Finalize
 * needs two (RFC 9497 §3.3.1).  Everything else (expand_message_xmd, the
 * one-way map, the scalar inversion, the Finalize hash) is overhead.  So each
 * operation is reported as
 *
 *     ratio = (scalar multiplications needed × raw time per scalarmult)
 *             / measured time per operation
 *
 * where "raw" is crypto_scalarmult_ristretto255 alone on one core.  The
 * figure does not depend on the machine's speed: 1.0 means "as fast as the
 * bare multiplications on one core", and with T threads the ideal is T.
 *
 * On shared or virtual machines the CPU speed drifts by tens of percent
 * within seconds, so the reference and the operation are measured back to
 * back in ROUNDS rounds (each round times the raw multiplications, then the
 * operation, on the same slice of the data) and the median of the per-round
 * ratios is reported.
 *
 * Usage: bench_oprf [element-count]      (default 20000)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "crypto/oprf.h"
#include "crypto/parallel.h"

#define DEFAULT_COUNT	20000
#define INPUT_BYTES		16		/* a typical short identifier */
#define ROUNDS			10

/* Goal per thread: 0.9 on one core, 1.8 on two, and so on. */
#define GOAL_PER_THREAD 0.9

typedef struct bench_data
{
	size_t		n;
	size_t		base;			/* first item of the current round */
	uint8_t		sk[OPRF_SCALAR_BYTES];
	uint8_t    *inputs;			/* n × INPUT_BYTES */
	const uint8_t **input_ptrs; /* n pointers into inputs */
	size_t	   *input_lens;		/* n × INPUT_BYTES */
	uint8_t    *blinds;			/* n × 32 */
	uint8_t    *blinded;		/* n × 32 */
	uint8_t    *evaluated;		/* n × 32 */
	uint8_t    *outputs;		/* n × 64 */
	uint8_t    *raw_scalars;	/* n × 32, for the raw scalarmult */
	uint8_t    *raw_points;		/* n × 32 */
	uint8_t    *raw_out;		/* n × 32 */
} bench_data;

typedef enum bench_op
{
	OP_EVALUATE,				/* BlindEvaluate: 1 multiplication */
	OP_BLIND_FINALIZE			/* Blind + Finalize: 2 multiplications */
} bench_op;

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

static void *
xmalloc(size_t size)
{
	void	   *p = malloc(size);

	if (p == NULL)
	{
		fprintf(stderr, "bench_oprf: out of memory\n");
		exit(2);
	}
	return p;
}

static void
fail(const char *what, size_t index, int status)
{
	fprintf(stderr, "bench_oprf: %s failed at %zu: %s\n",
			what, index, oprf_status_reason((oprf_status) status));
	exit(1);
}

/* --- per-range callbacks for crypto_parallel_for, relative to d->base --- */

/*
 * fn on elements base + begin .. base + end − 1, one by one; on a failure
 * *failed_index is the index in the range and the status is returned.
 */
static int
range_each(bench_data *d, size_t begin, size_t end, size_t *failed_index,
		   oprf_status (*fn) (bench_data *d, size_t j))
{
	for (size_t i = begin; i < end; i++)
	{
		oprf_status st = fn(d, d->base + i);

		if (st != OPRF_OK)
		{
			*failed_index = i;
			return st;
		}
	}
	return 0;
}

static oprf_status
blind_one(bench_data *d, size_t j)
{
	return oprf_blind(d->input_ptrs[j], d->input_lens[j], d->blinds + j * 32, d->blinded + j * 32);
}

static oprf_status
evaluate_one(bench_data *d, size_t j)
{
	return oprf_blind_evaluate(d->sk, d->blinded + j * 32, d->evaluated + j * 32);
}

static int
range_blind(void *arg, size_t begin, size_t end, size_t *failed_index)
{
	return range_each(arg, begin, end, failed_index, blind_one);
}

static int
range_evaluate(void *arg, size_t begin, size_t end, size_t *failed_index)
{
	return range_each(arg, begin, end, failed_index, evaluate_one);
}

/*
 * Finalize through the batch path, as the SQL batch function does: the
 * blinds of each range are inverted together (Montgomery's trick).
 */
static int
range_finalize(void *arg, size_t begin, size_t end, size_t *failed_index)
{
	bench_data *d = arg;
	size_t		j = d->base + begin;
	size_t		failed = 0;
	oprf_status st;

	st = oprf_finalize_batch(end - begin, d->input_ptrs + j, d->input_lens + j,
							 d->blinds + j * 32, d->evaluated + j * 32,
							 d->outputs + j * 64, &failed);
	if (st != OPRF_OK)
	{
		*failed_index = begin + failed;
		return st;
	}
	return 0;
}

/* Seconds for one crypto_parallel_for pass over [d->base, d->base + count). */
static double
time_pass(bench_data *d, size_t count, int nthreads, crypto_range_fn fn,
		  const char *what)
{
	size_t		failed = 0;
	double		t0 = now_seconds();
	int			st = crypto_parallel_for(count, nthreads, fn, d, &failed);
	double		t1 = now_seconds();

	if (st != 0)
		fail(what, d->base + failed, st);
	return t1 - t0;
}

/* Seconds for the raw multiplications over [d->base, d->base + count). */
static double
time_raw(bench_data *d, size_t count)
{
	double		t0 = now_seconds();
	size_t		i;

	for (i = d->base; i < d->base + count; i++)
		if (crypto_scalarmult_ristretto255(d->raw_out + i * 32,
										   d->raw_scalars + i * 32,
										   d->raw_points + i * 32) != 0)
			fail("raw scalarmult", i, OPRF_ELEMENT_IDENTITY);
	return now_seconds() - t0;
}

/* Seconds for the operation itself over the current round's slice. */
static double
time_op(bench_data *d, size_t count, int nthreads, bench_op op)
{
	double		t;

	if (op == OP_EVALUATE)
		return time_pass(d, count, nthreads, range_evaluate, "BlindEvaluate");

	/* the server's BlindEvaluate in between is not the client's cost */
	t = time_pass(d, count, nthreads, range_blind, "Blind");
	time_pass(d, count, nthreads, range_evaluate, "BlindEvaluate");
	t += time_pass(d, count, nthreads, range_finalize, "Finalize");
	return t;
}

static int
compare_doubles(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return (x > y) - (x < y);
}

static double
median(double *v, int n)
{
	qsort(v, n, sizeof(double), compare_doubles);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

static void
run(bench_data *d, const char *name, bench_op op, int nthreads)
{
	double		multiplications = op == OP_EVALUATE ? 1.0 : 2.0;
	size_t		chunk = d->n / ROUNDS;
	double		ratios[ROUNDS];
	double		raw_per_op[ROUNDS];
	double		op_total = 0;
	double		ratio;
	double		goal = GOAL_PER_THREAD * nthreads;
	int			r;

	for (r = 0; r < ROUNDS; r++)
	{
		double		t_raw;
		double		t_op;

		d->base = (size_t) r * chunk;
		t_raw = time_raw(d, chunk) / (double) chunk;
		t_op = time_op(d, chunk, nthreads, op) / (double) chunk;
		ratios[r] = multiplications * t_raw / t_op;
		raw_per_op[r] = t_raw;
		op_total += t_op;
	}
	ratio = median(ratios, ROUNDS);

	printf("%-15s threads=%-2d %8.0f ops/s %8.2f us/op  raw %6.2f us  ratio %.3f (goal >= %.1f) %s\n",
		   name, nthreads, ROUNDS / op_total, op_total / ROUNDS * 1e6,
		   median(raw_per_op, ROUNDS) * 1e6, ratio, goal,
		   ratio >= goal ? "ok" : "SHORT");
}

int
main(int argc, char **argv)
{
	bench_data d;
	size_t		n = DEFAULT_COUNT;
	size_t		i;
	int			cores;
	static const uint8_t seed[32] = {0};
	static const uint8_t info[] = "bench_oprf";

	if (argc > 1)
	{
		char	   *end;
		unsigned long long v = strtoull(argv[1], &end, 10);

		if (*end != '\0' || v < ROUNDS)
		{
			fprintf(stderr, "usage: %s [element-count >= %d]\n", argv[0], ROUNDS);
			return 2;
		}
		n = (size_t) v;
	}
	if (sodium_init() < 0)
	{
		fprintf(stderr, "bench_oprf: sodium_init failed\n");
		return 2;
	}

	memset(&d, 0, sizeof(d));
	d.n = n;
	d.inputs = xmalloc(n * INPUT_BYTES);
	d.input_ptrs = xmalloc(n * sizeof(*d.input_ptrs));
	d.input_lens = xmalloc(n * sizeof(*d.input_lens));
	d.blinds = xmalloc(n * 32);
	d.blinded = xmalloc(n * 32);
	d.evaluated = xmalloc(n * 32);
	d.outputs = xmalloc(n * 64);
	d.raw_scalars = xmalloc(n * 32);
	d.raw_points = xmalloc(n * 32);
	d.raw_out = xmalloc(n * 32);

	if (oprf_derive_key_pair(seed, sizeof(seed), info, sizeof(info) - 1,
							 d.sk, NULL) != OPRF_OK)
		fail("DeriveKeyPair", 0, OPRF_DERIVE_FAILED);
	randombytes_buf(d.inputs, n * INPUT_BYTES);
	for (i = 0; i < n; i++)
	{
		uint8_t		r[32];

		d.input_ptrs[i] = d.inputs + i * INPUT_BYTES;
		d.input_lens[i] = INPUT_BYTES;
		oprf_random_scalar(d.blinds + i * 32);
		oprf_random_scalar(d.raw_scalars + i * 32);
		crypto_core_ristretto255_scalar_random(r);
		if (crypto_scalarmult_ristretto255_base(d.raw_points + i * 32, r) != 0)
			fail("setup", i, OPRF_SCALAR_ZERO);
	}

	cores = crypto_cpu_count();
	printf("bench_oprf: %zu elements, %d online CPU(s), %d-byte inputs, median of %d rounds\n",
		   n, cores, INPUT_BYTES, ROUNDS);
	printf("ratio = multiplications needed x raw scalarmult time / time per operation\n");

	/* Blinded elements for BlindEvaluate; also warms caches and clocks. */
	d.base = 0;
	time_pass(&d, n, cores, range_blind, "Blind");

	run(&d, "BlindEvaluate", OP_EVALUATE, 1);
	run(&d, "Blind+Finalize", OP_BLIND_FINALIZE, 1);
	if (cores > 1)
	{
		run(&d, "BlindEvaluate", OP_EVALUATE, cores);
		run(&d, "Blind+Finalize", OP_BLIND_FINALIZE, cores);
	}

	free(d.inputs);
	free(d.input_ptrs);
	free(d.input_lens);
	free(d.blinds);
	free(d.blinded);
	free(d.evaluated);
	free(d.outputs);
	free(d.raw_scalars);
	free(d.raw_points);
	free(d.raw_out);
	return 0;
}
