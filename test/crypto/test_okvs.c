/*
 * test_okvs.c — the binary 3-hash OKVS (crypto/okvs.h), TAP output.
 *
 * Reference results are the encoded values themselves: every key must
 * decode to the value it was given, whatever the 2-core was; other keys
 * must decode to something else.  The 2-core sizes and failures at small
 * sizes are measured and printed.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/okvs.h"
#include "tap.h"

static void
stream(uint8_t *out, size_t n, uint64_t tag)
{
	uint8_t		key[32] = {0};
	uint8_t		nonce[8] = {0};

	memcpy(key, &tag, sizeof(tag));
	crypto_stream_chacha20(out, n, nonce, key);
}

/* encode n random keys with random values; count keys that decode wrong */
static int
roundtrip(size_t n, uint64_t tag, okvs_status *st, size_t *core, int *others_equal)
{
	uint8_t    *keys = malloc(n * 16),
			   *vals = malloc(n * 16),
			   *P = malloc(okvs_columns(n) * 16),
			   *out = malloc(n * 16),
			   *other = malloc(n * 16);
	uint8_t		seed[16];
	int			bad = 0;

	stream(keys, n * 16, tag * 4);
	stream(vals, n * 16, tag * 4 + 1);
	stream(seed, 16, tag * 4 + 2);
	stream(other, n * 16, tag * 4 + 3);
	*st = okvs_encode(seed, keys, vals, n, P, core);
	*others_equal = 0;
	if (*st == OKVS_OK && okvs_decode(seed, n, P, keys, n, out) == OKVS_OK)
	{
		for (size_t i = 0; i < n; i++)
			if (memcmp(out + 16 * i, vals + 16 * i, 16) != 0)
				bad++;
		okvs_decode(seed, n, P, other, n, out);
		for (size_t i = 0; i < n; i++)
			if (memcmp(out + 16 * i, vals + 16 * i, 16) == 0)
				(*others_equal)++;
	}
	else
		bad = -1;
	free(keys);
	free(vals);
	free(P);
	free(out);
	free(other);
	return bad;
}

int
main(void)
{
	size_t		sizes[] = {1, 2, 3, 10, 100, 1000, 1 << 12, 1 << 16, 1 << 18};

	if (sodium_init() < 0)
	{
		printf("Bail out! sodium_init\n");
		return 1;
	}
	ok(okvs_sparse_columns(1 << 20) == (size_t) ((1 << 20) * 1.23) + 1 ||
	   okvs_sparse_columns(1 << 20) == (size_t) ((1 << 20) * 1.23),
	   "2^20 keys: 1.23·n sparse columns (%zu) + %d dense", okvs_sparse_columns(1 << 20), OKVS_DENSE);

	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
	{
		okvs_status st;
		size_t		core = 0;
		int			eq = 0;
		int			bad = roundtrip(sizes[s], 100 + s, &st, &core, &eq);

		ok(st == OKVS_OK && bad == 0 && eq == 0,
		   "n = %zu: every key decodes to its value, no other key does (2-core %zu rows)",
		   sizes[s], core);
	}

	/* 2-core sizes and failures over many small tables */
	{
		int			trials = 3000,
					cores = 0,
					fails = 0,
					wrong = 0;
		size_t		max_core = 0;

		for (int t = 0; t < trials; t++)
		{
			okvs_status st;
			size_t		core = 0;
			int			eq;
			int			bad = roundtrip(256, 10000 + t, &st, &core, &eq);

			if (st != OKVS_OK)
				fails++;
			else if (bad != 0)
				wrong++;
			if (core > 0)
				cores++;
			if (core > max_core)
				max_core = core;
		}
		diag("n = 256, %d tables: %d with a non-empty 2-core (largest %zu rows), %d failures",
			 trials, cores, max_core, fails);
		ok(fails == 0 && wrong == 0, "n = 256: no failure and no wrong decode in %d tables", trials);
		ok(cores > 0, "n = 256: some tables do need the elimination (%d), so it is exercised",
		   cores);
	}

	/* duplicates: the same key twice is solvable only with the same value */
	{
		uint8_t		keys[3 * 16],
					vals[3 * 16],
					seed[16] = {9},
					P[(8 + OKVS_DENSE) * 16],
					out[16];
		size_t		core;

		stream(keys, sizeof(keys), 1);
		stream(vals, sizeof(vals), 2);
		memcpy(keys + 32, keys, 16);
		memcpy(vals + 32, vals, 16);
		ok(okvs_encode(seed, keys, vals, 3, P, &core) == OKVS_OK &&
		   okvs_decode(seed, 3, P, keys, 1, out) == OKVS_OK && memcmp(out, vals, 16) == 0,
		   "a key twice with the same value encodes");
		vals[32] ^= 1;
		ok(okvs_encode(seed, keys, vals, 3, P, &core) == OKVS_FAILED,
		   "a key twice with two values is reported as a failure");
	}

	/* a changed entry changes a decode (the check above can fail) */
	{
		size_t		n = 1000;
		uint8_t    *keys = malloc(n * 16),
				   *vals = malloc(n * 16),
				   *P = malloc(okvs_columns(n) * 16),
				   *out = malloc(n * 16);
		uint8_t		seed[16] = {3};
		size_t		core;
		int			differ = 0;

		stream(keys, n * 16, 7);
		stream(vals, n * 16, 8);
		okvs_encode(seed, keys, vals, n, P, &core);
		P[16 * 5] ^= 1;
		okvs_decode(seed, n, P, keys, n, out);
		for (size_t i = 0; i < n; i++)
			if (memcmp(out + 16 * i, vals + 16 * i, 16) != 0)
				differ++;
		ok(differ > 0, "flipping one bit of P changes %d decodes", differ);
		ok(okvs_encode(seed, keys, vals, 0, P, &core) == OKVS_BAD_ARGUMENT &&
		   okvs_decode(seed, 0, P, keys, 1, out) == OKVS_BAD_ARGUMENT &&
		   okvs_encode(seed, NULL, vals, n, P, &core) == OKVS_BAD_ARGUMENT,
		   "zero or missing inputs are refused");
		free(keys);
		free(vals);
		free(P);
		free(out);
	}
	return tap_done();
}
