/*
 * unit_costs.c — single-core cost of the group operations the protocols
 * are made of, as the baseline their benchmarks divide by: RFC 9497
 * HashToGroup (ristretto255, SHA-512), one variable-base and one fixed-base
 * ristretto255 scalar multiplication, one point addition.  Prints
 * "hash_to_group_us=…", "scalarmult_us=…", "scalarmult_base_us=…" and
 * "add_us=…" (shell assignments), each the median of several rounds.
 *
 * Usage: unit_costs [count]      (default 4000)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "crypto/oprf.h"

#define ROUNDS 5

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

static int
compare_double(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return (x > y) - (x < y);
}

int
main(int argc, char **argv)
{
	size_t		n = argc > 1 ? strtoul(argv[1], NULL, 10) : 4000;
	uint8_t		scalar[32];
	uint8_t		point[32];
	uint8_t		out[32];
	double		h2g[ROUNDS];
	double		sm[ROUNDS];
	double		base[ROUNDS];
	double		add[ROUNDS];
	int			r;

	if (n == 0 || sodium_init() < 0)
		return 2;
	oprf_random_scalar(scalar);
	crypto_scalarmult_ristretto255_base(point, scalar);

	for (r = 0; r < ROUNDS; r++)
	{
		double		t0 = now_seconds();
		size_t		i;

		for (i = 0; i < n; i++)
		{
			char		input[32];
			int			len = snprintf(input, sizeof(input), "9131%013zuX", i + r * n);

			if (oprf_hash_to_group((const uint8_t *) input, (size_t) len, out) != OPRF_OK)
				return 1;
		}
		h2g[r] = (now_seconds() - t0) / (double) n * 1e6;

		t0 = now_seconds();
		for (i = 0; i < n; i++)
		{
			if (crypto_scalarmult_ristretto255(out, scalar, point) != 0)
				return 1;
		}
		sm[r] = (now_seconds() - t0) / (double) n * 1e6;

		t0 = now_seconds();
		for (i = 0; i < n; i++)
			if (crypto_scalarmult_ristretto255_base(out, scalar) != 0)
				return 1;
		base[r] = (now_seconds() - t0) / (double) n * 1e6;

		t0 = now_seconds();
		for (i = 0; i < n; i++)
			if (crypto_core_ristretto255_add(out, point, point) != 0)
				return 1;
		add[r] = (now_seconds() - t0) / (double) n * 1e6;
	}
	qsort(h2g, ROUNDS, sizeof(double), compare_double);
	qsort(sm, ROUNDS, sizeof(double), compare_double);
	qsort(base, ROUNDS, sizeof(double), compare_double);
	qsort(add, ROUNDS, sizeof(double), compare_double);
	printf("hash_to_group_us=%.2f\nscalarmult_us=%.2f\nscalarmult_base_us=%.2f\nadd_us=%.2f\n",
		   h2g[ROUNDS / 2], sm[ROUNDS / 2], base[ROUNDS / 2], add[ROUNDS / 2]);
	return 0;
}
