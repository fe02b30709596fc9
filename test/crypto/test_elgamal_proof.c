/*
 * test_elgamal_proof.c — the proof that an ElGamal ciphertext encrypts 0 or
 * 1 (src/crypto/elgamal_proof.c): honest proofs verify, and every forgery
 * the test can build — another plaintext, a moved, replayed or altered
 * proof, a non-canonical scalar, a proof with both branches simulated —
 * does not.  Output is TAP, for `prove`.
 *
 * Usage: test_elgamal_proof
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "crypto/elgamal.h"
#include "crypto/elgamal_proof.h"
#include "crypto/parallel.h"

#include "tap.h"

#define CT ELGAMAL_CIPHERTEXT_BYTES
#define EL ELGAMAL_ELEMENT_BYTES
#define SC ELGAMAL_SCALAR_BYTES
#define PROOF ELGAMAL_BIT_PROOF_BYTES
#define BATCH 2000

static uint8_t sk[SC];
static uint8_t pk[EL];
static const uint8_t ctx[] = "run 1, row 7";

static int64_t
decrypt(const uint8_t ct[CT])
{
	uint8_t		share[EL];
	uint8_t		zero[EL] = {0};
	uint8_t		m[EL];
	uint8_t		g[EL];

	if (elgamal_partial_decrypt(sk, ct, share) != ELGAMAL_OK ||
		elgamal_combine(ct, share, zero, m) != ELGAMAL_OK)
		return -1;
	if (sodium_is_zero(m, EL))
		return 0;
	elgamal_encode_plaintext(1, g);
	return memcmp(m, g, EL) == 0 ? 1 : 2;
}

static int
verifies(const uint8_t *c, size_t clen, const uint8_t ct[CT], const uint8_t proof[PROOF])
{
	return elgamal_bit_verify(pk, c, clen, ct, proof) == ELGAMAL_OK;
}

static double
seconds_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double) (t1.tv_sec - t0->tv_sec) + (double) (t1.tv_nsec - t0->tv_nsec) / 1e9;
}

int
main(void)
{
	uint8_t		ct0[CT];
	uint8_t		ct1[CT];
	uint8_t		pf0[PROOF];
	uint8_t		pf1[PROOF];
	uint8_t		ct[CT];
	uint8_t		pf[PROOF];
	uint8_t		r[SC];
	int			i;
	int			all;

	if (sodium_init() < 0)
	{
		printf("Bail out! sodium_init failed\n");
		return 1;
	}
	elgamal_keygen_share(sk, pk);

	ok(elgamal_bit_encrypt_prove(pk, 0, ctx, sizeof(ctx), ct0, pf0) == ELGAMAL_OK &&
	   elgamal_bit_encrypt_prove(pk, 1, ctx, sizeof(ctx), ct1, pf1) == ELGAMAL_OK, "encrypt and prove 0 and 1");
	ok(decrypt(ct0) == 0 && decrypt(ct1) == 1, "the ciphertexts decrypt to 0 and 1");
	ok(verifies(ctx, sizeof(ctx), ct0, pf0) && verifies(ctx, sizeof(ctx), ct1, pf1), "both proofs verify");
	ok(elgamal_bit_encrypt_prove(pk, 2, ctx, sizeof(ctx), ct, pf) == ELGAMAL_OUT_OF_RANGE,
	   "a plaintext other than 0 or 1 is refused by the prover");

	/* Many honest proofs, both bits: every one verifies. */
	all = 1;
	for (i = 0; i < 200; i++)
	{
		int			b = (int) (randombytes_uniform(2));

		if (elgamal_bit_encrypt_prove(pk, b, ctx, sizeof(ctx), ct, pf) != ELGAMAL_OK ||
			!verifies(ctx, sizeof(ctx), ct, pf) || decrypt(ct) != b)
			all = 0;
	}
	ok(all, "200 random honest proofs verify and decrypt to their bit");

	/* Another plaintext under a proof made for a 0 or a 1. */
	crypto_core_ristretto255_scalar_random(r);
	ok(elgamal_encrypt(pk, 2, r, ct) == ELGAMAL_OK && !verifies(ctx, sizeof(ctx), ct, pf0) &&
	   !verifies(ctx, sizeof(ctx), ct, pf1), "an encryption of 2 with another ciphertext's proof is refused");
	{
		/* Both branches simulated: the prover who knows no opening. */
		uint8_t		fake[PROOF];
		int			found = 0;

		for (i = 0; i < 4; i++)
			crypto_core_ristretto255_scalar_random(fake + i * SC);
		found = verifies(ctx, sizeof(ctx), ct, fake);
		ok(!found, "random scalars as a proof for an encryption of 2 are refused");
	}
	ok(!verifies((const uint8_t *) "run 1, row 8", 13, ct0, pf0), "a proof moved to another context is refused");
	{
		uint8_t		other_sk[SC];
		uint8_t		other_pk[EL];

		elgamal_keygen_share(other_sk, other_pk);
		ok(elgamal_bit_verify(other_pk, ctx, sizeof(ctx), ct0, pf0) == ELGAMAL_BAD_PROOF,
		   "a proof checked under another key is refused");
	}
	ok(!verifies(ctx, sizeof(ctx), ct1, pf0) && !verifies(ctx, sizeof(ctx), ct0, pf1),
	   "a proof moved to another ciphertext is refused");
	{
		uint8_t		rr[SC];
		uint8_t		re[CT];

		crypto_core_ristretto255_scalar_random(rr);
		ok(elgamal_rerandomise(pk, ct1, rr, re) == ELGAMAL_OK && decrypt(re) == 1 &&
		   !verifies(ctx, sizeof(ctx), re, pf1), "a re-randomised ciphertext with the old proof is refused");
	}
	{
		/* Every bit of the proof matters. */
		int			refused = 1;
		int			k;

		for (k = 0; k < PROOF * 8; k += 5)
		{
			memcpy(pf, pf1, PROOF);
			pf[k / 8] ^= (uint8_t) (1 << (k % 8));
			if (verifies(ctx, sizeof(ctx), ct1, pf))
				refused = 0;
		}
		ok(refused, "a proof with any one of %d probed bits flipped is refused", PROOF * 8 / 5 + 1);
	}
	{
		/* e0 + L: the same scalar modulo L, but not its canonical encoding. */
		static const uint8_t order[SC] = {
			0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
			0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10};
		unsigned	carry = 0;

		memcpy(pf, pf1, PROOF);
		for (i = 0; i < SC; i++)
		{
			unsigned	s = (unsigned) pf[i] + order[i] + carry;

			pf[i] = (uint8_t) s;
			carry = s >> 8;
		}
		ok(carry == 0 && !verifies(ctx, sizeof(ctx), ct1, pf),
		   "a non-canonical challenge scalar (e0 + L, the same modulo L) is refused");
	}
	memcpy(ct, ct1, CT);
	memset(ct, 0, EL);
	ok(elgamal_bit_verify(pk, ctx, sizeof(ctx), ct, pf1) == ELGAMAL_IDENTITY, "a ciphertext with an identity half is refused");
	memcpy(ct, ct1, CT);
	ct[CT - 1] |= 0x80;
	ok(elgamal_bit_verify(pk, ctx, sizeof(ctx), ct, pf1) == ELGAMAL_INVALID_ELEMENT,
	   "a ciphertext with a non-canonical encoding is refused");
	memset(pf, 0, PROOF);
	ok(!verifies(ctx, sizeof(ctx), ct1, pf), "an all-zero proof is refused");

	/* Batches on two threads; one bad item is found at its index. */
	{
		uint8_t    *bits = malloc(BATCH);
		uint8_t    *cts = malloc((size_t) BATCH * CT);
		uint8_t    *pfs = malloc((size_t) BATCH * PROOF);
		uint8_t		prefix[] = "run 42";
		elgamal_bit_job job = {0, pk, prefix, sizeof(prefix), bits, cts, pfs, 0};
		size_t		failed = 0;
		struct timespec t0;
		double		prove_s;
		double		verify_s;
		uint8_t		sum[CT] = {0};
		int64_t		expected = 0;
		uint8_t		share[EL];
		uint8_t		zero[EL] = {0};
		uint8_t		m[EL];
		elgamal_dlog d;
		int64_t		v = -1;
		int			st;

		for (i = 0; i < BATCH; i++)
		{
			bits[i] = (uint8_t) randombytes_uniform(2);
			expected += bits[i];
		}
		clock_gettime(CLOCK_MONOTONIC, &t0);
		st = crypto_parallel_for(BATCH, 2, elgamal_bit_prove_range, &job, &failed);
		prove_s = seconds_since(&t0);
		ok(st == 0, "%d items encrypted and proven on 2 threads", BATCH);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		st = crypto_parallel_for(BATCH, 2, elgamal_bit_verify_range, &job, &failed);
		verify_s = seconds_since(&t0);
		ok(st == 0, "%d items verified on 2 threads", BATCH);
		diag("prove %.0f us/item, verify %.0f us/item (2 threads)", prove_s * 1e6 / BATCH, verify_s * 1e6 / BATCH);

		for (i = 0; i < BATCH; i++)
			elgamal_add(sum, cts + (size_t) i * CT, sum);
		elgamal_dlog_init(&d, 16, BATCH, 1);
		ok(elgamal_partial_decrypt(sk, sum, share) == ELGAMAL_OK &&
		   elgamal_combine(sum, share, zero, m) == ELGAMAL_OK &&
		   elgamal_dlog_solve(&d, m, NULL, NULL, &v) == ELGAMAL_OK && v == expected,
		   "the sum of the %d ciphertexts decrypts to the number of ones (%lld)", BATCH, (long long) expected);
		elgamal_dlog_free(&d);

		/* Items swapped: each proof names its position. */
		memcpy(ct, cts + 10 * CT, CT);
		memcpy(cts + 10 * CT, cts + 11 * CT, CT);
		memcpy(cts + 11 * CT, ct, CT);
		memcpy(pf, pfs + 10 * PROOF, PROOF);
		memcpy(pfs + 10 * PROOF, pfs + 11 * PROOF, PROOF);
		memcpy(pfs + 11 * PROOF, pf, PROOF);
		failed = 0;
		st = crypto_parallel_for(BATCH, 2, elgamal_bit_verify_range, &job, &failed);
		ok(st == ELGAMAL_BAD_PROOF && failed == 10, "two items swapped: refused at item 10 (got %zu)", failed);
		free(bits);
		free(cts);
		free(pfs);
	}
	return tap_done();
}
