/*
 * unit_costs.c — single-core cost of the group operations the protocols
 * are made of, as the baseline their benchmarks divide by: RFC 9497
 * HashToGroup (ristretto255, SHA-512), one variable-base and one fixed-base
 * ristretto255 scalar multiplication, one point addition.  Prints
 * "hash_to_group_us=…", "scalarmult_us=…", "scalarmult_base_us=…" and
 * "add_us=…" (shell assignments), each the median of several rounds.
 *
 * Also the candidates for a faster Diffie–Hellman group (psi_count,
 * docs/psi_count.md): X25519 through libsodium ("x25519_sodium_us") and
 * through OpenSSL's EVP interface as a caller would use it, one key object
 * per peer element ("x25519_openssl_us"), and mapping a hash onto
 * Curve25519 with libsodium's Elligator 2 to Edwards form and the birational
 * map to Montgomery form ("hash_to_curve25519_us").
 *
 * Usage: unit_costs [count]      (default 4000)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
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
	double		xs[ROUNDS];
	double		xo[ROUNDS];
	double		h2c[ROUNDS];
	uint8_t		u[32];
	EVP_PKEY   *own;
	int			r;

	if (n == 0 || sodium_init() < 0)
		return 2;
	oprf_random_scalar(scalar);
	crypto_scalarmult_ristretto255_base(point, scalar);
	crypto_scalarmult_curve25519_base(u, scalar);
	own = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, scalar, 32);
	if (own == NULL)
		return 1;

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

		t0 = now_seconds();
		for (i = 0; i < n; i++)
			if (crypto_scalarmult_curve25519(out, scalar, u) != 0)
				return 1;
		xs[r] = (now_seconds() - t0) / (double) n * 1e6;

		t0 = now_seconds();
		for (i = 0; i < n; i++)
		{
			EVP_PKEY   *peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, u, 32);
			EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(own, NULL);
			size_t		len = sizeof(out);

			if (peer == NULL || ctx == NULL || EVP_PKEY_derive_init(ctx) != 1 ||
				EVP_PKEY_derive_set_peer(ctx, peer) != 1 || EVP_PKEY_derive(ctx, out, &len) != 1)
				return 1;
			EVP_PKEY_CTX_free(ctx);
			EVP_PKEY_free(peer);
		}
		xo[r] = (now_seconds() - t0) / (double) n * 1e6;

		t0 = now_seconds();
		for (i = 0; i < n; i++)
		{
			uint8_t		h[32];
			uint8_t		ed[32];

			crypto_generichash(h, sizeof(h), (const uint8_t *) &i, sizeof(i), NULL, 0);
			if (crypto_core_ed25519_from_uniform(ed, h) != 0 ||
				crypto_sign_ed25519_pk_to_curve25519(out, ed) != 0)
				return 1;
		}
		h2c[r] = (now_seconds() - t0) / (double) n * 1e6;
	}
	EVP_PKEY_free(own);
	qsort(h2g, ROUNDS, sizeof(double), compare_double);
	qsort(sm, ROUNDS, sizeof(double), compare_double);
	qsort(base, ROUNDS, sizeof(double), compare_double);
	qsort(add, ROUNDS, sizeof(double), compare_double);
	qsort(xs, ROUNDS, sizeof(double), compare_double);
	qsort(xo, ROUNDS, sizeof(double), compare_double);
	qsort(h2c, ROUNDS, sizeof(double), compare_double);
	printf("hash_to_group_us=%.2f\nscalarmult_us=%.2f\nscalarmult_base_us=%.2f\nadd_us=%.2f\n",
		   h2g[ROUNDS / 2], sm[ROUNDS / 2], base[ROUNDS / 2], add[ROUNDS / 2]);
	printf("x25519_sodium_us=%.2f\nx25519_openssl_us=%.2f\nhash_to_curve25519_us=%.2f\n",
		   xs[ROUNDS / 2], xo[ROUNDS / 2], h2c[ROUNDS / 2]);
	return 0;
}
