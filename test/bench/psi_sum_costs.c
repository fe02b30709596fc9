/*
 * psi_sum_costs.c — single-core cost of the group operations psi_sum is
 * made of, as the baseline its benchmark divides by: one variable-base
 * ristretto255 scalar multiplication, one fixed-base multiplication
 * (crypto_scalarmult_ristretto255_base) and one point addition.  Prints
 * "scalarmult_us=…", "scalarmult_base_us=…" and "add_us=…", each the median
 * of several rounds.
 *
 * Usage: psi_sum_costs [count]      (default 2000)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <sodium.h>

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
	size_t		n = argc > 1 ? strtoul(argv[1], NULL, 10) : 2000;
	uint8_t		scalar[32];
	uint8_t		point[32];
	uint8_t		out[32];
	double		var[ROUNDS];
	double		base[ROUNDS];
	double		add[ROUNDS];
	int			r;

	if (n == 0 || sodium_init() < 0)
		return 2;
	crypto_core_ristretto255_scalar_random(scalar);
	if (crypto_scalarmult_ristretto255_base(point, scalar) != 0)
		return 1;
	for (r = 0; r < ROUNDS; r++)
	{
		double		t0 = now_seconds();
		size_t		i;

		for (i = 0; i < n; i++)
			if (crypto_scalarmult_ristretto255(out, scalar, point) != 0)
				return 1;
		var[r] = (now_seconds() - t0) / (double) n * 1e6;
		t0 = now_seconds();
		for (i = 0; i < n; i++)
			if (crypto_scalarmult_ristretto255_base(out, scalar) != 0)
				return 1;
		base[r] = (now_seconds() - t0) / (double) n * 1e6;
		t0 = now_seconds();
		for (i = 0; i < n; i++)
			if (crypto_core_ristretto255_add(out, out, point) != 0)
				return 1;
		add[r] = (now_seconds() - t0) / (double) n * 1e6;
	}
	qsort(var, ROUNDS, sizeof(double), compare_double);
	qsort(base, ROUNDS, sizeof(double), compare_double);
	qsort(add, ROUNDS, sizeof(double), compare_double);
	printf("scalarmult_us=%.2f\nscalarmult_base_us=%.2f\nadd_us=%.2f\n", var[ROUNDS / 2], base[ROUNDS / 2], add[ROUNDS / 2]);
	return 0;
}
