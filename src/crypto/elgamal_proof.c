/*
 * elgamal_proof.c — the proof that a ciphertext encrypts 0 or 1
 * (elgamal_proof.h has the construction and its properties).
 */
#include <stdbool.h>
#include <string.h>

#include <sodium.h>

#include "crypto/elgamal_proof.h"

#define EL ELGAMAL_ELEMENT_BYTES
#define SC ELGAMAL_SCALAR_BYTES
#define CT ELGAMAL_CIPHERTEXT_BYTES
#define PROOF ELGAMAL_BIT_PROOF_BYTES

static const char domain[] = "pgpriv elgamal bit proof v1";

/* s is the canonical encoding of a scalar (below the group order). */
static int
scalar_is_canonical(const uint8_t s[SC])
{
	uint8_t		wide[crypto_core_ristretto255_NONREDUCEDSCALARBYTES] = {0};
	uint8_t		reduced[SC];

	memcpy(wide, s, SC);
	crypto_core_ristretto255_scalar_reduce(reduced, wide);
	return sodium_memcmp(reduced, s, SC) == 0;
}

/* out = s·P, the identity (all zero bytes) when s = 0 or P is the identity. */
static elgamal_status
mult(const uint8_t s[SC], const uint8_t p[EL], uint8_t out[EL])
{
	if (sodium_is_zero(s, SC) || sodium_is_zero(p, EL))
	{
		memset(out, 0, EL);
		return ELGAMAL_OK;
	}
	/* A valid point of prime order times a non-zero scalar is not the identity. */
	if (crypto_scalarmult_ristretto255(out, s, p) != 0)
		return ELGAMAL_INVALID_ELEMENT;
	return ELGAMAL_OK;
}

/* out = s·G, the identity when s = 0. */
static void
mult_base(const uint8_t s[SC], uint8_t out[EL])
{
	if (sodium_is_zero(s, SC) || crypto_scalarmult_ristretto255_base(out, s) != 0)
		memset(out, 0, EL);
}

/* The generator's encoding, 1·G. */
static void
generator(uint8_t g[EL])
{
	uint8_t		one[SC] = {1};

	mult_base(one, g);
}

/* e = H(domain, context, pk, ct, A0, B0, A1, B1) mod L. */
static void
challenge(const uint8_t pk[EL], const uint8_t *context, size_t context_len, const uint8_t ct[CT],
		  const uint8_t commit[4 * EL], uint8_t e[SC])
{
	crypto_generichash_state h;
	uint8_t		digest[crypto_core_ristretto255_NONREDUCEDSCALARBYTES];
	uint8_t		len[8];
	int			i;

	crypto_generichash_init(&h, NULL, 0, sizeof(digest));
	crypto_generichash_update(&h, (const uint8_t *) domain, sizeof(domain));
	for (i = 0; i < 8; i++)
		len[i] = (uint8_t) ((uint64_t) context_len >> (56 - 8 * i));
	crypto_generichash_update(&h, len, sizeof(len));
	crypto_generichash_update(&h, context, context_len);
	crypto_generichash_update(&h, pk, EL);
	crypto_generichash_update(&h, ct, CT);
	crypto_generichash_update(&h, commit, 4 * EL);
	crypto_generichash_final(&h, digest, sizeof(digest));
	crypto_core_ristretto255_scalar_reduce(e, digest);
}

/*
 * The commitments of branch j from its challenge and response:
 * A = z·G − e·c1, B = z·PK − e·(c2 − j·G).
 */
static elgamal_status
commitments(const uint8_t pk[EL], const uint8_t ct[CT], int j, const uint8_t e[SC], const uint8_t z[SC],
			uint8_t a[EL], uint8_t b[EL])
{
	uint8_t		t[EL];
	uint8_t		u[EL];
	uint8_t		c2j[EL];
	elgamal_status st;

	mult_base(z, t);
	if ((st = mult(e, ct, u)) != ELGAMAL_OK || (st = elgamal_point_sub(t, u, a)) != ELGAMAL_OK)
		return st;
	memcpy(c2j, ct + EL, EL);
	if (j == 1)
	{
		uint8_t		g[EL];

		generator(g);
		if ((st = elgamal_point_sub(ct + EL, g, c2j)) != ELGAMAL_OK)
			return st;
	}
	if ((st = mult(z, pk, t)) != ELGAMAL_OK || (st = mult(e, c2j, u)) != ELGAMAL_OK)
		return st;
	return elgamal_point_sub(t, u, b);
}

static void
random_scalar(uint8_t s[SC])
{
	do
		crypto_core_ristretto255_scalar_random(s);
	while (sodium_is_zero(s, SC));
}

elgamal_status
elgamal_bit_encrypt_prove(const uint8_t pk[EL], int bit, const uint8_t *context, size_t context_len,
						  uint8_t ct[CT], uint8_t proof[PROOF])
{
	uint8_t		r[SC];
	uint8_t		w[SC];
	uint8_t		e[SC];
	uint8_t		commit[4 * EL];
	uint8_t    *e_j = proof;		/* e0, e1, z0, z1 */
	uint8_t    *z_j = proof + 2 * SC;
	int			b = bit ? 1 : 0;
	int			o = 1 - b;
	elgamal_status st;

	if (bit != 0 && bit != 1)
		return ELGAMAL_OUT_OF_RANGE;
	if ((st = elgamal_check_element(pk)) != ELGAMAL_OK)
		return st;
	random_scalar(r);
	if ((st = elgamal_encrypt(pk, b, r, ct)) != ELGAMAL_OK)
		goto done;

	/* The other branch, simulated: pick its challenge and response. */
	random_scalar(e_j + o * SC);
	random_scalar(z_j + o * SC);
	if ((st = commitments(pk, ct, o, e_j + o * SC, z_j + o * SC,
						  commit + 2 * o * EL, commit + 2 * o * EL + EL)) != ELGAMAL_OK)
		goto done;
	/* The real branch: commit to w, answer e_b = e − e_o with z_b = w + e_b·r. */
	random_scalar(w);
	mult_base(w, commit + 2 * b * EL);
	if ((st = mult(w, pk, commit + 2 * b * EL + EL)) != ELGAMAL_OK)
		goto done;
	challenge(pk, context, context_len, ct, commit, e);
	crypto_core_ristretto255_scalar_sub(e_j + b * SC, e, e_j + o * SC);
	crypto_core_ristretto255_scalar_mul(z_j + b * SC, e_j + b * SC, r);
	crypto_core_ristretto255_scalar_add(z_j + b * SC, z_j + b * SC, w);
	st = ELGAMAL_OK;
done:
	sodium_memzero(r, sizeof(r));
	sodium_memzero(w, sizeof(w));
	return st;
}

elgamal_status
elgamal_bit_verify(const uint8_t pk[EL], const uint8_t *context, size_t context_len,
				   const uint8_t ct[CT], const uint8_t proof[PROOF])
{
	uint8_t		commit[4 * EL];
	uint8_t		e[SC];
	uint8_t		sum[SC];
	elgamal_status st;
	int			j;

	if ((st = elgamal_check_ciphertext(ct)) != ELGAMAL_OK)
		return st;
	for (j = 0; j < 4; j++)
		if (!scalar_is_canonical(proof + j * SC))
			return ELGAMAL_BAD_PROOF;
	for (j = 0; j < 2; j++)
		if (commitments(pk, ct, j, proof + j * SC, proof + (2 + j) * SC,
						commit + 2 * j * EL, commit + 2 * j * EL + EL) != ELGAMAL_OK)
			return ELGAMAL_BAD_PROOF;
	challenge(pk, context, context_len, ct, commit, e);
	crypto_core_ristretto255_scalar_add(sum, proof, proof + SC);
	return sodium_memcmp(sum, e, SC) == 0 ? ELGAMAL_OK : ELGAMAL_BAD_PROOF;
}

/* Item i's context: prefix ‖ (base + i) as 8 bytes big-endian. */
static size_t
item_context(const elgamal_bit_job *job, size_t i, uint8_t out[72])
{
	uint64_t	index = (uint64_t) (job->base + i);
	size_t		n = job->prefix_len > 64 ? 64 : job->prefix_len;
	int			k;

	memcpy(out, job->prefix, n);
	for (k = 0; k < 8; k++)
		out[n + k] = (uint8_t) (index >> (56 - 8 * k));
	return n + 8;
}

/* Items [begin, end) of job: each encrypted and proved (prove), or verified. */
static int
bit_range(elgamal_bit_job *job, bool prove, size_t begin, size_t end, size_t *failed_index)
{
	size_t		ct_stride = job->stride ? job->stride : CT;
	size_t		pf_stride = job->stride ? job->stride : PROOF;
	uint8_t		context[72];

	for (size_t i = begin; i < end; i++)
	{
		size_t		len = item_context(job, i, context);
		uint8_t    *ct = job->cts + i * ct_stride;
		uint8_t    *proof = job->proofs + i * pf_stride;
		elgamal_status st = prove ?
			elgamal_bit_encrypt_prove(job->pk, job->bits[i], context, len, ct, proof) :
			elgamal_bit_verify(job->pk, context, len, ct, proof);

		if (st != ELGAMAL_OK)
		{
			*failed_index = i;
			return st;
		}
	}
	return 0;
}

int
elgamal_bit_prove_range(void *arg, size_t begin, size_t end, size_t *failed_index)
{
	return bit_range(arg, true, begin, end, failed_index);
}

int
elgamal_bit_verify_range(void *arg, size_t begin, size_t end, size_t *failed_index)
{
	return bit_range(arg, false, begin, end, failed_index);
}
