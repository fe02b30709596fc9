/*
 * test_elgamal.c — exponential ElGamal on ristretto255 under a joint key and
 * its bounded discrete logarithm (src/crypto/elgamal.c), both parties in one
 * process.  Output is TAP, for `prove`.
 *
 * Usage: test_elgamal
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "crypto/elgamal.h"
#include "crypto/parallel.h"

#include "tap.h"

#define CT ELGAMAL_CIPHERTEXT_BYTES
#define EL ELGAMAL_ELEMENT_BYTES
/* The single-ciphertext bound psi_sum used before limbs: 2^42 - 1 units. */
#define FULL_BOUND ((int64_t) ((UINT64_C(1) << 42) - 1))

typedef struct party
{
	uint8_t		sk[ELGAMAL_SCALAR_BYTES];
	uint8_t		pk[EL];
} party;

static party owner;
static party asker;
static uint8_t joint[EL];

static void
random_scalar(uint8_t r[ELGAMAL_SCALAR_BYTES])
{
	do
		crypto_core_ristretto255_scalar_random(r);
	while (sodium_is_zero(r, ELGAMAL_SCALAR_BYTES));
}

static int64_t
rand_in(int64_t lo, int64_t hi)
{
	uint64_t	x;

	randombytes_buf(&x, sizeof(x));
	return lo + (int64_t) (x % (uint64_t) (hi - lo + 1));
}

/* Both partial decryptions, combined, then the logarithm. */
static elgamal_status
joint_decrypt(const uint8_t ct[CT], elgamal_dlog *d, int64_t *v)
{
	uint8_t		so[EL];
	uint8_t		sa[EL];
	uint8_t		m[EL];
	elgamal_status st;

	if ((st = elgamal_partial_decrypt(owner.sk, ct, so)) != ELGAMAL_OK ||
		(st = elgamal_partial_decrypt(asker.sk, ct, sa)) != ELGAMAL_OK ||
		(st = elgamal_combine(ct, so, sa, m)) != ELGAMAL_OK)
		return st;
	return elgamal_dlog_solve(d, m, NULL, NULL, v);
}

static elgamal_status
dlog_of(elgamal_dlog *d, int64_t v, int64_t *out)
{
	uint8_t		m[EL];

	elgamal_encode_plaintext(v, m);
	return elgamal_dlog_solve(d, m, NULL, NULL, out);
}

/* Decimal text of a 128-bit integer, for diagnostics. */
static const char *
i128_text(elgamal_int128 v, char buf[48])
{
	char		tmp[48];
	int			n = 0;
	int			neg = v < 0;
	unsigned __int128 u = neg ? (unsigned __int128) 0 - (unsigned __int128) v : (unsigned __int128) v;
	int			i = 0;

	do
	{
		tmp[n++] = (char) ('0' + (int) (u % 10));
		u /= 10;
	} while (u != 0);
	if (neg)
		buf[i++] = '-';
	while (n > 0)
		buf[i++] = tmp[--n];
	buf[i] = '\0';
	return buf;
}

/*
 * n values, encrypted limb by limb and added limb-wise as psi_sum does, then
 * each limb sum jointly decrypted with a table bounded for n values, and the
 * total put back together.  Returns ELGAMAL_OK and *total, or the first
 * failure; *seconds is the decryption time.
 */
static elgamal_status
limb_total(const int64_t *values, int64_t n, int threads, elgamal_int128 *total, double *seconds)
{
	uint8_t		sums[ELGAMAL_LIMBS][CT];
	int64_t		s[ELGAMAL_LIMBS];
	int64_t		lo;
	int64_t		hi;
	elgamal_dlog d;
	elgamal_status st = ELGAMAL_OK;
	struct timespec t0;
	struct timespec t1;
	int64_t		i;
	int			k;

	memset(sums, 0, sizeof(sums));
	for (i = 0; i < n; i++)
	{
		int64_t		limbs[ELGAMAL_LIMBS];

		elgamal_limbs_split(values[i], limbs);
		for (k = 0; k < ELGAMAL_LIMBS; k++)
		{
			uint8_t		r[ELGAMAL_SCALAR_BYTES];
			uint8_t		ct[CT];

			random_scalar(r);
			if (elgamal_encrypt(joint, limbs[k], r, ct) != ELGAMAL_OK ||
				elgamal_add(sums[k], ct, sums[k]) != ELGAMAL_OK)
				return ELGAMAL_INVALID_ELEMENT;
		}
	}
	elgamal_limb_range(0, n, &lo, &hi);
	if (elgamal_dlog_init(&d, ELGAMAL_DLOG_MAX_BITS, hi, threads) != ELGAMAL_OK)
		return ELGAMAL_NO_MEMORY;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (k = 0; k < ELGAMAL_LIMBS && st == ELGAMAL_OK; k++)
	{
		st = joint_decrypt(sums[k], &d, &s[k]);
		elgamal_limb_range(k, n, &lo, &hi);
		if (st == ELGAMAL_OK && (s[k] < lo || s[k] > hi))
			st = ELGAMAL_OUT_OF_RANGE;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	elgamal_dlog_free(&d);
	*seconds = (double) (t1.tv_sec - t0.tv_sec) + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9;
	if (st == ELGAMAL_OK)
		*total = elgamal_limbs_combine(s);
	return st;
}

int
main(void)
{
	elgamal_dlog small;
	elgamal_dlog full;
	int			threads = crypto_cpu_count();
	uint8_t		bad[EL];
	uint8_t		tmp[EL];
	uint8_t		ct[CT];
	uint8_t		ct2[CT];
	uint8_t		sum[CT];
	uint8_t		r[ELGAMAL_SCALAR_BYTES];
	int64_t		v = 0;
	int			i;

	if (sodium_init() < 0)
	{
		printf("Bail out! sodium_init failed\n");
		return 1;
	}

	/* Keys */
	elgamal_keygen_share(owner.sk, owner.pk);
	elgamal_keygen_share(asker.sk, asker.pk);
	ok(elgamal_joint_key(asker.pk, owner.pk, joint) == ELGAMAL_OK, "joint key from two shares");
	{
		uint8_t		other[EL];

		elgamal_joint_key(owner.pk, asker.pk, other);
		ok(memcmp(joint, other, EL) == 0, "the joint key is the same from either side");
	}
	memset(bad, 0, EL);
	ok(elgamal_joint_key(asker.pk, bad, tmp) == ELGAMAL_IDENTITY, "a share that is the identity is refused");
	memset(bad, 0xff, EL);
	ok(elgamal_joint_key(asker.pk, bad, tmp) == ELGAMAL_INVALID_ELEMENT, "a share that is not a point is refused");
	{
		uint8_t		minus[ELGAMAL_SCALAR_BYTES];
		uint8_t		neg[EL];

		elgamal_scalar_from_int64(-1, minus);
		if (crypto_scalarmult_ristretto255(neg, minus, asker.pk) != 0)
			memset(neg, 0, EL);
		ok(elgamal_joint_key(asker.pk, neg, tmp) == ELGAMAL_IDENTITY,
		   "a share that cancels the other (joint key = identity) is refused");
	}

	if (elgamal_dlog_init(&small, 6, 5000, threads) != ELGAMAL_OK ||
		elgamal_dlog_init(&full, ELGAMAL_DLOG_MAX_BITS, FULL_BOUND, threads) != ELGAMAL_OK)
	{
		printf("Bail out! out of memory\n");
		return 1;
	}

	/* Encryption and joint decryption */
	{
		const int64_t samples[] = {0, 1, -1, 12345, -987654, 10000, INT64_C(3000000000)};

		for (i = 0; i < (int) (sizeof(samples) / sizeof(samples[0])); i++)
		{
			random_scalar(r);
			ok(elgamal_encrypt(joint, samples[i], r, ct) == ELGAMAL_OK &&
			   joint_decrypt(ct, &full, &v) == ELGAMAL_OK && v == samples[i],
			   "encrypt then jointly decrypt %lld", (long long) samples[i]);
		}
	}
	{
		uint8_t		so[EL];
		uint8_t		m[EL];

		random_scalar(r);
		elgamal_encrypt(joint, 4242, r, ct);
		elgamal_partial_decrypt(owner.sk, ct, so);
		elgamal_combine(ct, so, so, m);
		ok(dlog_of(&small, 0, &v) == ELGAMAL_OK && elgamal_dlog_solve(&small, m, NULL, NULL, &v) != ELGAMAL_OK,
		   "one party's share used twice does not decrypt");
	}

	/* Homomorphic addition, negative sums, re-randomisation */
	{
		int64_t		total = 0;

		memset(sum, 0, CT);
		for (i = 0; i < 200; i++)
		{
			int64_t		x = rand_in(-5000000, 4000000);

			random_scalar(r);
			elgamal_encrypt(joint, x, r, ct);
			elgamal_add(sum, ct, sum);
			total += x;
		}
		ok(joint_decrypt(sum, &full, &v) == ELGAMAL_OK && v == total,
		   "the sum of 200 ciphertexts decrypts to the sum of the values (%lld)", (long long) total);
		random_scalar(r);
		ok(elgamal_rerandomise(joint, sum, r, ct2) == ELGAMAL_OK &&
		   memcmp(ct2, sum, EL) != 0 && memcmp(ct2 + EL, sum + EL, EL) != 0,
		   "re-randomisation changes both halves");
		ok(joint_decrypt(ct2, &full, &v) == ELGAMAL_OK && v == total, "and keeps the plaintext");
	}
	{
		int64_t		total = 0;

		memset(sum, 0, CT);
		for (i = 0; i < 50; i++)
		{
			int64_t		x = -rand_in(1, 90000000);

			random_scalar(r);
			elgamal_encrypt(joint, x, r, ct);
			elgamal_add(sum, ct, sum);
			total += x;
		}
		ok(joint_decrypt(sum, &full, &v) == ELGAMAL_OK && v == total, "an all-negative sum (%lld)", (long long) total);
	}
	{
		uint8_t		c1[CT];
		uint8_t		c2[CT];

		random_scalar(r);
		elgamal_encrypt(joint, 77, r, c1);
		random_scalar(r);
		elgamal_encrypt(joint, 77, r, c2);
		ok(memcmp(c1, c2, CT) != 0, "the same value encrypts differently each time");
	}
	memset(sum, 0, CT);
	random_scalar(r);
	ok(elgamal_rerandomise(joint, sum, r, ct) == ELGAMAL_OK && elgamal_check_ciphertext(ct) == ELGAMAL_OK,
	   "the empty sum re-randomises to an ordinary-looking ciphertext");
	ok(joint_decrypt(ct, &full, &v) == ELGAMAL_OK && v == 0, "and decrypts to 0");

	/* Checks of what another party sends */
	memset(bad, 0xff, EL);
	memcpy(ct2, ct, CT);
	memcpy(ct2, bad, EL);
	ok(elgamal_check_ciphertext(ct2) == ELGAMAL_INVALID_ELEMENT, "a ciphertext whose c1 is not a point is refused");
	ok(elgamal_partial_decrypt(owner.sk, ct2, tmp) == ELGAMAL_INVALID_ELEMENT,
	   "no partial decryption of an invalid c1");
	memcpy(ct2, ct, CT);
	memset(ct2 + EL, 0, EL);
	ok(elgamal_check_ciphertext(ct2) == ELGAMAL_IDENTITY, "a ciphertext whose c2 is the identity is refused");
	memset(ct2, 0, EL);
	ok(elgamal_partial_decrypt(owner.sk, ct2, tmp) == ELGAMAL_IDENTITY,
	   "no partial decryption of an identity c1 (it would reveal nothing but invites misuse)");

	/* Batches: encryption and flagged sums, as the protocol runs them */
	{
		enum
		{
		N = 1500, CHUNK = 64
		};
		int64_t    *values = malloc(sizeof(int64_t) * N);
		uint8_t    *cts = malloc((size_t) N * CT);
		uint8_t    *flags = malloc(N);
		size_t		nchunks = (N + CHUNK - 1) / CHUNK;
		uint8_t    *partial = malloc(nchunks * CT);
		elgamal_encrypt_job ej = {0, joint, NULL, NULL};
		elgamal_sum_job sj;
		size_t		failed = 0;
		int64_t		want = 0;
		size_t		c;
		int			st;

		for (i = 0; i < N; i++)
		{
			values[i] = rand_in(-100000000, 100000000);
			flags[i] = (uint8_t) (rand_in(0, 2) == 0);
			if (flags[i])
				want += values[i];
		}
		ej.values = values;
		ej.out = cts;
		ok(crypto_parallel_for(N, threads, elgamal_encrypt_range, &ej, &failed) == 0, "batch encryption of %d values", N);
		sj.cts = cts;
		sj.stride = CT;
		sj.flags = flags;
		sj.n = N;
		sj.chunk = CHUNK;
		sj.partial = partial;
		st = crypto_parallel_for(nchunks, threads, elgamal_sum_range, &sj, &failed);
		memset(sum, 0, CT);
		for (c = 0; c < nchunks; c++)
			elgamal_add(sum, partial + c * CT, sum);
		ok(st == 0 && joint_decrypt(sum, &full, &v) == ELGAMAL_OK && v == want,
		   "the flagged ciphertexts of a batch add up to the flagged values");
		memset(cts + 700 * CT + EL, 0xff, EL);
		st = crypto_parallel_for(nchunks, threads, elgamal_sum_range, &sj, &failed);
		ok(st == ELGAMAL_INVALID_ELEMENT && failed == 700 / CHUNK, "an invalid ciphertext in a batch is found (chunk %zu)", failed);
		memset(cts + 3 * CT, 0, EL);
		st = crypto_parallel_for(nchunks, threads, elgamal_sum_range, &sj, &failed);
		ok(st == ELGAMAL_IDENTITY && failed == 0, "an identity c1 in a batch is found first");
		free(values);
		free(cts);
		free(flags);
		free(partial);
	}

	/* Baby-step giant-step at the bounds (a small table: 2^6 steps, |v| <= 5000) */
	{
		const int64_t inside[] = {0, 1, -1, 63, 64, -64, -65, 4095, 4096, -4096, 4999, -4999, 5000, -5000};
		const int64_t outside[] = {5001, -5001, 5063, -5064, 20000, -20000, INT64_C(1) << 40, INT64_MIN + 1, INT64_MAX};
		int			all = 1;

		for (i = 0; i < (int) (sizeof(inside) / sizeof(inside[0])); i++)
			if (dlog_of(&small, inside[i], &v) != ELGAMAL_OK || v != inside[i])
			{
				diag("small table: %lld not found", (long long) inside[i]);
				all = 0;
			}
		ok(all, "small table: every value within the bound, both edges included, is found exactly");
		all = 1;
		for (i = 0; i < (int) (sizeof(outside) / sizeof(outside[0])); i++)
			if (dlog_of(&small, outside[i], &v) != ELGAMAL_OUT_OF_RANGE)
			{
				diag("small table: %lld not refused", (long long) outside[i]);
				all = 0;
			}
		ok(all, "small table: every value beyond the bound is refused, never a wrong answer");
		all = 1;
		for (i = -5000; i <= 5000; i += 37)
			if (dlog_of(&small, i, &v) != ELGAMAL_OK || v != i)
				all = 0;
		ok(all, "small table: a sweep of the whole range");
	}
	{
		elgamal_dlog tiny;

		elgamal_dlog_init(&tiny, 13, 100000000, threads);
		ok(dlog_of(&tiny, 100000000, &v) == ELGAMAL_OK && v == 100000000 &&
		   dlog_of(&tiny, -100000000, &v) == ELGAMAL_OK && v == -100000000 &&
		   dlog_of(&tiny, 100000001, &v) == ELGAMAL_OUT_OF_RANGE &&
		   dlog_of(&tiny, -100000001, &v) == ELGAMAL_OUT_OF_RANGE,
		   "2^13 baby steps, bound 10^8: both edges found, one beyond refused");
		elgamal_dlog_free(&tiny);
	}
	ok(dlog_of(&full, INT64_C(987654321), &v) == ELGAMAL_OK && v == INT64_C(987654321) &&
	   dlog_of(&full, -INT64_C(987654321), &v) == ELGAMAL_OK && v == -INT64_C(987654321),
	   "production table: ±987654321 (98 765.4321 at scale 4)");
	memset(bad, 0xff, EL);
	ok(elgamal_dlog_solve(&full, bad, NULL, NULL, &v) == ELGAMAL_INVALID_ELEMENT, "the logarithm of a non-point is refused");


	/* Limbs: totals far beyond one ciphertext's bound, exactly */
	{
		const int64_t edges[] = {0, 1, -1, 65535, 65536, -65536, -65537, INT64_C(1) << 42,
			(INT64_C(1) << 42) - 1, -(INT64_C(1) << 42), INT64_MAX, INT64_MIN, INT64_MAX - 1, INT64_MIN + 1};
		int			all = 1;
		char		b1[48];
		char		b2[48];

		for (i = 0; i < (int) (sizeof(edges) / sizeof(edges[0])) + 2000; i++)
		{
			int64_t		x = i < (int) (sizeof(edges) / sizeof(edges[0])) ? edges[i] :
				(int64_t) (((uint64_t) rand_in(0, INT64_MAX) << 1) ^ (uint64_t) rand_in(0, 1));
			int64_t		limbs[ELGAMAL_LIMBS];
			int64_t		lo;
			int64_t		hi;
			int			k;

			elgamal_limbs_split(x, limbs);
			for (k = 0; k < ELGAMAL_LIMBS; k++)
			{
				elgamal_limb_range(k, 1, &lo, &hi);
				if (limbs[k] < lo || limbs[k] > hi)
					all = 0;
			}
			if (elgamal_limbs_combine(limbs) != (elgamal_int128) x)
			{
				diag("limbs of %lld do not add back up", (long long) x);
				all = 0;
			}
		}
		ok(all, "limbs: every value splits into in-range limbs that add back up (edges and 2000 random)");

		{
			enum
			{
			N = 300
			};
			int64_t		vals[N];
			elgamal_int128 want = 0;
			elgamal_int128 got = 0;
			double		secs;
			elgamal_status st;

			for (i = 0; i < N; i++)
			{
				vals[i] = INT64_MAX;
				want += vals[i];
			}
			st = limb_total(vals, N, threads, &got, &secs);
			ok(st == ELGAMAL_OK && got == want, "limbs: %d × (2^63 − 1) = %s decrypts exactly (%.2f s)", N,
			   i128_text(want, b1), secs);
			if (got != want)
				diag("got %s", i128_text(got, b2));
			for (i = 0, want = 0; i < N; i++)
			{
				vals[i] = INT64_MIN;
				want += vals[i];
			}
			st = limb_total(vals, N, threads, &got, &secs);
			ok(st == ELGAMAL_OK && got == want, "limbs: %d × −2^63 = %s decrypts exactly (%.2f s)", N,
			   i128_text(want, b1), secs);
			for (i = 0, want = 0; i < N; i++)
			{
				vals[i] = (int64_t) (((uint64_t) rand_in(0, INT64_MAX) << 1) ^ (uint64_t) rand_in(0, 1));
				want += vals[i];
			}
			st = limb_total(vals, N, threads, &got, &secs);
			ok(st == ELGAMAL_OK && got == want, "limbs: %d random 64-bit values, total %s, exactly (%.2f s)", N,
			   i128_text(want, b1), secs);
			for (i = 0, want = 0; i < N; i++)
			{
				vals[i] = rand_in(INT64_C(1) << 42, INT64_C(1) << 50);
				want += vals[i];
			}
			st = limb_total(vals, N, threads, &got, &secs);
			ok(st == ELGAMAL_OK && got == want && want > (elgamal_int128) FULL_BOUND,
			   "limbs: %d values of 2^42..2^50 units, total %s beyond the old 2^42 bound, exactly (%.2f s)", N,
			   i128_text(want, b1), secs);
			vals[0] = 0;
			st = limb_total(vals, 1, threads, &got, &secs);
			ok(st == ELGAMAL_OK && got == 0, "limbs: a total of one zero");
		}
		{
			/* A limb beyond its range for n values (a lying owner): refused, never wrong. */
			uint8_t		c[CT];
			elgamal_dlog d;
			int64_t		lo;
			int64_t		hi;

			elgamal_limb_range(0, 3, &lo, &hi);
			elgamal_dlog_init(&d, ELGAMAL_DLOG_MAX_BITS, hi, threads);
			random_scalar(r);
			elgamal_encrypt(joint, hi, r, c);
			ok(joint_decrypt(c, &d, &v) == ELGAMAL_OK && v == hi, "limbs: a limb sum at its bound for 3 values is found");
			random_scalar(r);
			elgamal_encrypt(joint, hi + 1, r, c);
			ok(joint_decrypt(c, &d, &v) == ELGAMAL_OUT_OF_RANGE, "limbs: one beyond it is refused");
			elgamal_limb_range(ELGAMAL_LIMBS - 1, 3, &lo, &hi);
			random_scalar(r);
			elgamal_encrypt(joint, lo, r, c);
			ok(joint_decrypt(c, &d, &v) == ELGAMAL_OK && v == lo, "limbs: the top limb's lowest sum for 3 values is found");
			elgamal_dlog_free(&d);
		}
	}
	elgamal_dlog_free(&small);
	elgamal_dlog_free(&full);
	sodium_memzero(&owner, sizeof(owner));
	sodium_memzero(&asker, sizeof(asker));
	return tap_done();
}
