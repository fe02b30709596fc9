/*
 * fuzz_points.c — libFuzzer harness for the group elements and ciphertexts
 * a party receives (src/crypto/oprf.c, oprf_batch.c, elgamal.c; pure C, no
 * backend shim).
 *
 * Elements from the other party reach these functions unchanged (after the
 * wire framing): blinded elements at the owner (psi, psi_fetch, pir, ECDH
 * masking in psi_count/psi_sum), evaluated elements at the asker, ElGamal
 * key shares, encrypted entries, totals and partial decryptions in psi_sum.
 *
 * Input: an operation byte, then its fields (see the cases below).  Every
 * element is copied into a buffer of exactly its size, so that a read past
 * it is caught.  Besides "no crash", the harness checks that the batch
 * callbacks agree with the one-item functions on which item fails first,
 * and that an element the checks accept behaves as one (a ciphertext whose
 * halves pass can be partially decrypted and combined).
 *
 * The proof that a label ciphertext holds 0 or 1 (elgamal_proof.c, the
 * owner's check in joint_woe) is fuzzed under a key whose secret the
 * harness holds: a proof that verifies must be of a ciphertext that
 * decrypts to 0 or 1, so a forgery the fuzzer finds aborts.
 *
 * Seeds (PGPRIV_FUZZ_GENERATE): valid elements and ciphertexts for every
 * operation, a combine whose logarithm is found, a batch with one bad item,
 * honest proofs of 0 and of 1.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/elgamal.h"
#include "crypto/elgamal_proof.h"
#include "crypto/oprf.h"
#include "crypto/oprf_batch.h"

#include "fuzz_input.h"
#include "fuzz_rng.h"
#include "fuzz_seed.h"

#define MAX_BATCH 8

enum
{
	OP_OPRF_CHECK,
	OP_OPRF_EVALUATE,
	OP_OPRF_FINALIZE,
	OP_OPRF_BATCH,
	OP_EG_CHECK,
	OP_EG_JOINT_KEY,
	OP_EG_PARTIAL,
	OP_EG_COMBINE,
	OP_EG_SUM,
	OP_EG_RERANDOMISE,
	OP_EG_BIT_VERIFY,
	OP_COUNT
};

static uint8_t oprf_sk[OPRF_SCALAR_BYTES];
static uint8_t asker_blind[OPRF_SCALAR_BYTES];
static uint8_t eg_sk[ELGAMAL_SCALAR_BYTES];
static uint8_t eg_pk[ELGAMAL_ELEMENT_BYTES];
static uint8_t eg_r[ELGAMAL_SCALAR_BYTES];
static elgamal_dlog dlog;

static void
fail(const char *what)
{
	fprintf(stderr, "fuzz_points: %s\n", what);
	abort();
}

/* An exact-size heap copy of n bytes from the input, or NULL. */
static uint8_t *
take_copy(FuzzInput *in, size_t n)
{
	const uint8_t *p = fuzz_take(in, n);
	uint8_t    *c;

	if (p == NULL)
		return NULL;
	c = malloc(n > 0 ? n : 1);
	if (c == NULL)
		abort();
	memcpy(c, p, n);
	return c;
}

static void
no_interrupts(void *arg)
{
}

static void
seed(const char *dir, const char *name, uint8_t op, const uint8_t *body, size_t len)
{
	fuzz_seed_write(dir, name, &op, 1, body, len);
}

static void
generate(const char *dir)
{
	uint8_t		el[OPRF_ELEMENT_BYTES];
	uint8_t		buf[2 + MAX_BATCH * ELGAMAL_CIPHERTEXT_BYTES + MAX_BATCH];
	uint8_t		ct[ELGAMAL_CIPHERTEXT_BYTES];
	uint8_t		r[ELGAMAL_SCALAR_BYTES];

	if (oprf_blind((const uint8_t *) "key", 3, asker_blind, el) != OPRF_OK)
		abort();
	seed(dir, "oprf-check", OP_OPRF_CHECK, el, sizeof(el));
	seed(dir, "oprf-evaluate", OP_OPRF_EVALUATE, el, sizeof(el));
	memcpy(buf, el, 32);
	memcpy(buf + 32, "key", 3);
	seed(dir, "oprf-finalize", OP_OPRF_FINALIZE, buf, 35);
	buf[0] = 3;
	memcpy(buf + 1, el, 32);
	memcpy(buf + 33, el, 32);
	memset(buf + 65, 0xff, 32);
	seed(dir, "oprf-batch", OP_OPRF_BATCH, buf, 97);

	oprf_random_scalar(r);
	if (elgamal_encrypt(eg_pk, 1234, r, ct) != ELGAMAL_OK)
		abort();
	seed(dir, "eg-check", OP_EG_CHECK, ct, sizeof(ct));
	seed(dir, "eg-joint", OP_EG_JOINT_KEY, ct, 32);
	seed(dir, "eg-partial", OP_EG_PARTIAL, ct, sizeof(ct));
	seed(dir, "eg-rerandomise", OP_EG_RERANDOMISE, ct, sizeof(ct));
	/* With the key eg_pk alone: one partial decryption, the other share the identity. */
	memcpy(buf, ct, 64);
	if (elgamal_partial_decrypt(eg_sk, ct, buf + 64) != ELGAMAL_OK)
		abort();
	memset(buf + 96, 0, 32);
	seed(dir, "eg-combine", OP_EG_COMBINE, buf, 128);
	buf[0] = 3;
	buf[1] = 1;
	for (int i = 0; i < 3; i++)
		memcpy(buf + 2 + 64 * i, ct, 64);
	memset(buf + 2 + 192, 1, 3);
	seed(dir, "eg-sum", OP_EG_SUM, buf, 2 + 192 + 3);
	for (int bit = 0; bit < 2; bit++)
	{
		uint8_t		proof[ELGAMAL_BIT_PROOF_BYTES + ELGAMAL_CIPHERTEXT_BYTES + 8];

		/* ct ‖ proof ‖ context "run 1" */
		if (elgamal_bit_encrypt_prove(eg_pk, bit, (const uint8_t *) "run 1", 5, proof,
									  proof + ELGAMAL_CIPHERTEXT_BYTES) != ELGAMAL_OK)
			abort();
		memcpy(proof + ELGAMAL_CIPHERTEXT_BYTES + ELGAMAL_BIT_PROOF_BYTES, "run 1", 5);
		seed(dir, bit ? "eg-bit-1" : "eg-bit-0", OP_EG_BIT_VERIFY, proof,
			 ELGAMAL_CIPHERTEXT_BYTES + ELGAMAL_BIT_PROOF_BYTES + 5);
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const uint8_t seed[32] = "pgpriv fuzz_points fixed seed..";

	fuzz_rng_install();
	if (oprf_derive_key_pair(seed, sizeof(seed), (const uint8_t *) "fuzz", 4, oprf_sk, NULL) != OPRF_OK)
		abort();
	oprf_random_scalar(asker_blind);
	elgamal_keygen_share(eg_sk, eg_pk);
	oprf_random_scalar(eg_r);
	/* A small search: the harness is after parsing, not after 2^42 bounds. */
	if (elgamal_dlog_init(&dlog, 12, (int64_t) 1 << 16, 1) != ELGAMAL_OK)
		abort();
	fuzz_seed_generate(generate);
	return 0;
}

static void
op_oprf_batch(FuzzInput *in)
{
	size_t		n = fuzz_byte(in) % (MAX_BATCH + 1);
	uint8_t    *elements = take_copy(in, n * OPRF_ELEMENT_BYTES);
	const uint8_t *inputs[MAX_BATCH];
	size_t		lens[MAX_BATCH];
	uint8_t    *blinds;
	uint8_t    *out;
	size_t		failed = 0;
	size_t		first_bad = n;
	oprf_status first_st = OPRF_OK;
	oprf_batch_job job = {0};
	int			st;

	if (elements == NULL)
		return;
	for (size_t i = 0; i < n; i++)
	{
		oprf_status s = oprf_check_element(elements + i * OPRF_ELEMENT_BYTES);

		if (s != OPRF_OK && first_bad == n)
		{
			first_bad = i;
			first_st = s;
		}
		inputs[i] = elements + i * OPRF_ELEMENT_BYTES;
		lens[i] = (size_t) (elements[i * OPRF_ELEMENT_BYTES] % 33);
	}
	blinds = malloc(n * OPRF_SCALAR_BYTES + 1);
	out = malloc(n * OPRF_OUTPUT_BYTES + 1);
	for (size_t i = 0; i < n; i++)
		memcpy(blinds + i * OPRF_SCALAR_BYTES, asker_blind, OPRF_SCALAR_BYTES);

	/* The owner's BlindEvaluate over a batch of blinded elements. */
	job.sk = oprf_sk;
	job.elements = elements;
	job.out = out;
	st = oprf_batch_evaluate_range(&job, 0, n, &failed);
	if ((st != 0) != (first_bad < n) || (st != 0 && (failed != first_bad || st != (int) first_st)))
		fail("oprf_batch_evaluate_range disagrees with oprf_check_element");

	/* The asker's Finalize over a batch of evaluated elements. */
	memset(&job, 0, sizeof(job));
	job.inputs = inputs;
	job.input_lens = lens;
	job.scalars = blinds;
	job.elements = elements;
	job.out = out;
	failed = 0;
	st = oprf_batch_finalize_range(&job, 0, n, &failed);
	if ((st != 0) != (first_bad < n) || (st != 0 && failed != first_bad))
		fail("oprf_batch_finalize_range disagrees with oprf_check_element");
	failed = 0;
	st = oprf_finalize_batch(n, inputs, lens, blinds, elements, out, &failed);
	if ((st != OPRF_OK) != (first_bad < n) || (st != OPRF_OK && failed != first_bad))
		fail("oprf_finalize_batch disagrees with oprf_check_element");
	free(blinds);
	free(out);
	free(elements);
}

static void
op_eg_sum(FuzzInput *in)
{
	size_t		n = fuzz_byte(in) % (MAX_BATCH + 1);
	size_t		chunk = fuzz_byte(in) % 4 + 1;
	size_t		chunks = (n + chunk - 1) / chunk;
	uint8_t    *cts = take_copy(in, n * ELGAMAL_CIPHERTEXT_BYTES);
	uint8_t    *flags = take_copy(in, n);
	uint8_t    *partial;
	uint8_t		sum[ELGAMAL_CIPHERTEXT_BYTES] = {0};
	elgamal_sum_job job;
	size_t		failed = 0;
	int			st;
	bool		any_bad = false;

	if (cts == NULL || flags == NULL)
	{
		free(cts);
		free(flags);
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (elgamal_check_ciphertext(cts + i * ELGAMAL_CIPHERTEXT_BYTES) != ELGAMAL_OK)
			any_bad = true;
	partial = malloc(chunks * ELGAMAL_CIPHERTEXT_BYTES + 1);
	job.cts = cts;
	job.stride = ELGAMAL_CIPHERTEXT_BYTES;
	job.flags = flags;
	job.n = n;
	job.chunk = chunk;
	job.partial = partial;
	st = elgamal_sum_range(&job, 0, chunks, &failed);
	if ((st != 0) != any_bad || (st != 0 && failed >= chunks))
		fail("elgamal_sum_range disagrees with elgamal_check_ciphertext");
	if (st == 0)
		for (size_t c = 0; c < chunks; c++)
			(void) elgamal_add(sum, partial + c * ELGAMAL_CIPHERTEXT_BYTES, sum);
	free(partial);
	free(cts);
	free(flags);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FuzzInput	in = {data, size};
	uint8_t		op = fuzz_byte(&in) % OP_COUNT;
	uint8_t    *a = NULL;
	uint8_t    *b = NULL;
	uint8_t    *c = NULL;
	uint8_t		out[ELGAMAL_CIPHERTEXT_BYTES];
	uint8_t		out64[OPRF_OUTPUT_BYTES];
	size_t		len;
	const uint8_t *p;

	fuzz_rng_seed(size);
	switch (op)
	{
		case OP_OPRF_CHECK:
			if ((a = take_copy(&in, OPRF_ELEMENT_BYTES)) == NULL)
				break;
			/* RFC 9496 Decode refuses the top bit (libsodium 1.0.18 does not). */
			if (oprf_check_element(a) == OPRF_OK && (a[31] & 0x80) != 0)
				fail("oprf_check_element accepted a non-canonical encoding");
			(void) oprf_check_scalar(a);
			break;
		case OP_OPRF_EVALUATE:
			if ((a = take_copy(&in, OPRF_ELEMENT_BYTES)) == NULL)
				break;
			if (oprf_blind_evaluate(oprf_sk, a, out) == OPRF_OK &&
				oprf_check_element(out) != OPRF_OK)
				fail("BlindEvaluate accepted an element and returned an invalid one");
			break;
		case OP_OPRF_FINALIZE:
			if ((a = take_copy(&in, OPRF_ELEMENT_BYTES)) == NULL)
				break;
			p = fuzz_rest(&in, &len);
			b = malloc(len + 1);
			memcpy(b, p, len);
			(void) oprf_finalize(b, len, asker_blind, a, out64);
			break;
		case OP_OPRF_BATCH:
			op_oprf_batch(&in);
			break;
		case OP_EG_CHECK:
			if ((a = take_copy(&in, ELGAMAL_CIPHERTEXT_BYTES)) == NULL)
				break;
			if (elgamal_check_element(a) == ELGAMAL_OK && (a[31] & 0x80) != 0)
				fail("elgamal_check_element accepted a non-canonical encoding");
			if (elgamal_check_ciphertext(a) == ELGAMAL_OK &&
				(elgamal_check_element(a) != ELGAMAL_OK ||
				 elgamal_check_element(a + ELGAMAL_ELEMENT_BYTES) != ELGAMAL_OK))
				fail("a ciphertext passes whose halves do not");
			break;
		case OP_EG_JOINT_KEY:
			if ((a = take_copy(&in, ELGAMAL_ELEMENT_BYTES)) == NULL)
				break;
			if (elgamal_joint_key(eg_pk, a, out) == ELGAMAL_OK &&
				elgamal_check_element(out) != ELGAMAL_OK)
				fail("a joint key was accepted that is not a valid element");
			break;
		case OP_EG_PARTIAL:
			if ((a = take_copy(&in, ELGAMAL_CIPHERTEXT_BYTES)) == NULL)
				break;
			(void) elgamal_partial_decrypt(eg_sk, a, out);
			break;
		case OP_EG_COMBINE:
			{
				int64_t		v;

				if ((a = take_copy(&in, ELGAMAL_CIPHERTEXT_BYTES)) == NULL ||
					(b = take_copy(&in, ELGAMAL_ELEMENT_BYTES)) == NULL ||
					(c = take_copy(&in, ELGAMAL_ELEMENT_BYTES)) == NULL)
					break;
				/* The asker's last steps of psi_sum: combine, then the bounded logarithm. */
				if (elgamal_combine(a, b, c, out) == ELGAMAL_OK &&
					elgamal_dlog_solve(&dlog, out, no_interrupts, NULL, &v) == ELGAMAL_OK &&
					(v > dlog.bound || v < -dlog.bound))
					fail("a logarithm outside the bound");
				break;
			}
		case OP_EG_SUM:
			op_eg_sum(&in);
			break;
		case OP_EG_RERANDOMISE:
			if ((a = take_copy(&in, ELGAMAL_CIPHERTEXT_BYTES)) == NULL)
				break;
			(void) elgamal_rerandomise(eg_pk, a, eg_r, out);
			break;
		case OP_EG_BIT_VERIFY:
			{
				uint8_t		share[ELGAMAL_ELEMENT_BYTES];
				uint8_t		zero[ELGAMAL_ELEMENT_BYTES] = {0};
				uint8_t		one[ELGAMAL_ELEMENT_BYTES];

				if ((a = take_copy(&in, ELGAMAL_CIPHERTEXT_BYTES)) == NULL ||
					(b = take_copy(&in, ELGAMAL_BIT_PROOF_BYTES)) == NULL)
					break;
				p = fuzz_rest(&in, &len);
				c = malloc(len + 1);
				memcpy(c, p, len);
				if (elgamal_bit_verify(eg_pk, c, len, a, b) != ELGAMAL_OK)
					break;
				/* It verified: the plaintext must be 0 or 1. */
				elgamal_encode_plaintext(1, one);
				if (elgamal_partial_decrypt(eg_sk, a, share) != ELGAMAL_OK ||
					elgamal_combine(a, share, zero, out) != ELGAMAL_OK ||
					(!sodium_is_zero(out, ELGAMAL_ELEMENT_BYTES) && memcmp(out, one, ELGAMAL_ELEMENT_BYTES) != 0))
					fail("a proof verified for a ciphertext of neither 0 nor 1");
				break;
			}
	}
	free(a);
	free(b);
	free(c);
	return 0;
}
