/*
 * elgamal.c — exponential ElGamal on ristretto255 and its bounded discrete
 * logarithm (see elgamal.h; docs/architecture.md, protocol 3).
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/elgamal.h"
#include "crypto/parallel.h"

#define EL ELGAMAL_ELEMENT_BYTES
#define CT ELGAMAL_CIPHERTEXT_BYTES

/* Baby steps computed per parallel call, giant steps per parallel call. */
#define BABY_SLAB	65536
#define GIANT_SLAB	16384
/* The search starts with 2^DLOG_FIRST_BITS baby steps and doubles. */
#define DLOG_FIRST_BITS 12


const char *
elgamal_status_reason(elgamal_status st)
{
	switch (st)
	{
		case ELGAMAL_OK:
			return "no error";
		case ELGAMAL_INVALID_ELEMENT:
			return "not a canonical ristretto255 element";
		case ELGAMAL_IDENTITY:
			return "the identity element";
		case ELGAMAL_OUT_OF_RANGE:
			return "the sum is outside the range that can be decrypted";
		case ELGAMAL_NO_MEMORY:
			return "out of memory";
		case ELGAMAL_BAD_PROOF:
			return "a proof that does not verify";
		case ELGAMAL_FOUND:
			break;
	}
	return "unknown error";
}

static int
is_identity(const uint8_t e[EL])
{
	return sodium_is_zero(e, EL);
}

elgamal_status
elgamal_check_element(const uint8_t e[EL])
{
	if (is_identity(e))
		return ELGAMAL_IDENTITY;
	/*
	 * libsodium 1.0.18 ignores the top bit, which RFC 9496 Decode refuses:
	 * without this, 0x00…0x80 passes as a non-identity element that is the
	 * identity, and every element has a second encoding.
	 */
	if ((e[EL - 1] & 0x80) != 0 || !crypto_core_ristretto255_is_valid_point(e))
		return ELGAMAL_INVALID_ELEMENT;
	return ELGAMAL_OK;
}

elgamal_status
elgamal_check_ciphertext(const uint8_t ct[CT])
{
	elgamal_status st = elgamal_check_element(ct);

	return st != ELGAMAL_OK ? st : elgamal_check_element(ct + EL);
}

/* a + b, where either may be the identity (all zero bytes). */
elgamal_status
elgamal_point_add(const uint8_t a[EL], const uint8_t b[EL], uint8_t out[EL])
{
	if (is_identity(a))
		memmove(out, b, EL);
	else if (is_identity(b))
		memmove(out, a, EL);
	else if (crypto_core_ristretto255_add(out, a, b) != 0)
		return ELGAMAL_INVALID_ELEMENT;
	return ELGAMAL_OK;
}

/* a − b, where either may be the identity. */
elgamal_status
elgamal_point_sub(const uint8_t a[EL], const uint8_t b[EL], uint8_t out[EL])
{
	if (is_identity(b))
		memmove(out, a, EL);
	else if (is_identity(a))
	{
		uint8_t		minus_one[ELGAMAL_SCALAR_BYTES];

		/* −b = (L − 1)·b: rare (only an empty sum), so a multiplication is fine. */
		elgamal_scalar_from_int64(-1, minus_one);
		if (crypto_scalarmult_ristretto255(out, minus_one, b) != 0)
			return ELGAMAL_INVALID_ELEMENT;
	}
	else if (crypto_core_ristretto255_sub(out, a, b) != 0)
		return ELGAMAL_INVALID_ELEMENT;
	return ELGAMAL_OK;
}

void
elgamal_keygen_share(uint8_t sk[ELGAMAL_SCALAR_BYTES], uint8_t pk[EL])
{
	do
		crypto_core_ristretto255_scalar_random(sk);
	while (sodium_is_zero(sk, ELGAMAL_SCALAR_BYTES) ||
		   crypto_scalarmult_ristretto255_base(pk, sk) != 0);
}

elgamal_status
elgamal_joint_key(const uint8_t mine[EL], const uint8_t theirs[EL], uint8_t pk[EL])
{
	elgamal_status st = elgamal_check_element(theirs);

	if (st != ELGAMAL_OK)
		return st;
	if (crypto_core_ristretto255_add(pk, mine, theirs) != 0)
		return ELGAMAL_INVALID_ELEMENT;
	/* theirs = −mine would give a key whose secret is known: refuse it. */
	return is_identity(pk) ? ELGAMAL_IDENTITY : ELGAMAL_OK;
}

void
elgamal_scalar_from_int64(int64_t v, uint8_t s[ELGAMAL_SCALAR_BYTES])
{
	uint64_t	mag = v < 0 ? (uint64_t) 0 - (uint64_t) v : (uint64_t) v;
	int			i;

	memset(s, 0, ELGAMAL_SCALAR_BYTES);
	for (i = 0; i < 8; i++)
		s[i] = (uint8_t) (mag >> (8 * i));
	if (v < 0)
		crypto_core_ristretto255_scalar_negate(s, s);
}

void
elgamal_encode_plaintext(int64_t v, uint8_t m[EL])
{
	uint8_t		s[ELGAMAL_SCALAR_BYTES];

	/* |v| < 2^63 < L, so v ≢ 0 mod L unless v = 0: the base multiple exists. */
	elgamal_scalar_from_int64(v, s);
	if (v == 0 || crypto_scalarmult_ristretto255_base(m, s) != 0)
		memset(m, 0, EL);
	sodium_memzero(s, sizeof(s));
}

elgamal_status
elgamal_encrypt(const uint8_t pk[EL], int64_t v, const uint8_t r[ELGAMAL_SCALAR_BYTES], uint8_t ct[CT])
{
	uint8_t		vg[EL];
	uint8_t		rpk[EL];
	elgamal_status st = ELGAMAL_OK;

	if (crypto_scalarmult_ristretto255_base(ct, r) != 0)
		return ELGAMAL_IDENTITY;
	if (crypto_scalarmult_ristretto255(rpk, r, pk) != 0)
		return ELGAMAL_INVALID_ELEMENT;
	elgamal_encode_plaintext(v, vg);
	st = elgamal_point_add(vg, rpk, ct + EL);
	sodium_memzero(vg, sizeof(vg));
	sodium_memzero(rpk, sizeof(rpk));
	return st;
}

elgamal_status
elgamal_add(const uint8_t a[CT], const uint8_t b[CT], uint8_t out[CT])
{
	elgamal_status st = elgamal_point_add(a, b, out);

	return st != ELGAMAL_OK ? st : elgamal_point_add(a + EL, b + EL, out + EL);
}

elgamal_status
elgamal_rerandomise(const uint8_t pk[EL], const uint8_t ct[CT], const uint8_t r[ELGAMAL_SCALAR_BYTES],
					uint8_t out[CT])
{
	uint8_t		mask[CT];
	elgamal_status st;

	if (crypto_scalarmult_ristretto255_base(mask, r) != 0)
		return ELGAMAL_IDENTITY;
	if (crypto_scalarmult_ristretto255(mask + EL, r, pk) != 0)
		return ELGAMAL_INVALID_ELEMENT;
	st = elgamal_add(ct, mask, out);
	sodium_memzero(mask, sizeof(mask));
	return st;
}

elgamal_status
elgamal_partial_decrypt(const uint8_t sk[ELGAMAL_SCALAR_BYTES], const uint8_t ct[CT], uint8_t share[EL])
{
	elgamal_status st = elgamal_check_element(ct);

	if (st != ELGAMAL_OK)
		return st;
	if (crypto_scalarmult_ristretto255(share, sk, ct) != 0)
		return ELGAMAL_IDENTITY;
	return ELGAMAL_OK;
}

elgamal_status
elgamal_combine(const uint8_t ct[CT], const uint8_t share_a[EL], const uint8_t share_b[EL], uint8_t m[EL])
{
	uint8_t		t[EL];
	elgamal_status st = elgamal_point_sub(ct + EL, share_a, t);

	if (st == ELGAMAL_OK)
		st = elgamal_point_sub(t, share_b, m);
	sodium_memzero(t, sizeof(t));
	return st;
}

/* ------------------------------------------------------------------------
 * Batches
 * ------------------------------------------------------------------------
 */

int
elgamal_encrypt_range(void *arg, size_t begin, size_t end, size_t *failed_index)
{
	elgamal_encrypt_job *job = arg;
	uint8_t		r[ELGAMAL_SCALAR_BYTES];
	size_t		i;

	for (i = begin; i < end; i++)
	{
		size_t		j = job->base + i;
		elgamal_status st;

		do
			crypto_core_ristretto255_scalar_random(r);
		while (sodium_is_zero(r, sizeof(r)));
		st = elgamal_encrypt(job->pk, job->values[j], r, job->out + j * CT);
		if (st != ELGAMAL_OK)
		{
			sodium_memzero(r, sizeof(r));
			*failed_index = i;
			return st;
		}
	}
	sodium_memzero(r, sizeof(r));
	return 0;
}

int
elgamal_sum_range(void *arg, size_t begin, size_t end, size_t *failed_index)
{
	elgamal_sum_job *job = arg;
	size_t		c;

	for (c = begin; c < end; c++)
	{
		size_t		lo = c * job->chunk;
		size_t		hi = lo + job->chunk < job->n ? lo + job->chunk : job->n;
		uint8_t    *acc = job->partial + c * CT;
		int			empty = 1;
		size_t		i;

		memset(acc, 0, CT);
		for (i = lo; i < hi; i++)
		{
			const uint8_t *ct = job->cts + i * job->stride;
			elgamal_status st;

			/*
			 * An added half is decoded (so checked) by the addition itself,
			 * except for the top bit, which libsodium 1.0.18 ignores (see
			 * elgamal_check_element).
			 */
			if (!job->flags[i] || empty)
				st = elgamal_check_ciphertext(ct);
			else if (is_identity(ct) || is_identity(ct + EL))
				st = ELGAMAL_IDENTITY;
			else if ((ct[EL - 1] & 0x80) != 0 || (ct[CT - 1] & 0x80) != 0)
				st = ELGAMAL_INVALID_ELEMENT;
			else
				st = elgamal_add(acc, ct, acc);
			if (st == ELGAMAL_OK && job->flags[i] && empty)
			{
				memcpy(acc, ct, CT);
				empty = 0;
			}
			if (st != ELGAMAL_OK)
			{
				*failed_index = c;
				return st;
			}
		}
	}
	return 0;
}

/* ------------------------------------------------------------------------
 * Baby-step giant-step
 * ------------------------------------------------------------------------
 */

static uint64_t
load64(const uint8_t *p)
{
	uint64_t	v;

	memcpy(&v, p, 8);
	return v;
}

/* Slot index bits from the encoding's first 16 bytes, tag from the next 4. */
static uint64_t
slot_hash(const uint8_t e[EL])
{
	uint64_t	x = load64(e) ^ (load64(e + 8) * UINT64_C(0x9E3779B97F4A7C15));

	x ^= x >> 31;
	x *= UINT64_C(0xBF58476D1CE4E5B9);
	x ^= x >> 29;
	return x;
}

static uint32_t
slot_tag(const uint8_t e[EL])
{
	uint32_t	t;

	memcpy(&t, e + 16, 4);
	return t;
}

/* j·G for j >= 0 (the identity for 0). */
static void
base_multiple(uint64_t j, uint8_t out[EL])
{
	uint8_t		s[ELGAMAL_SCALAR_BYTES];

	elgamal_scalar_from_int64((int64_t) j, s);
	if (j == 0 || crypto_scalarmult_ristretto255_base(out, s) != 0)
		memset(out, 0, EL);
}

static void
table_insert(elgamal_dlog *d, uint64_t j, const uint8_t e[EL])
{
	size_t		i = (size_t) slot_hash(e) & d->slot_mask;

	while (d->slots[i] != 0)
		i = (i + 1) & d->slot_mask;
	d->slots[i] = ((uint64_t) slot_tag(e) << 32) | (j + 1);
}

/* The j with j·G = e among the baby steps, confirmed by recomputing j·G. */
static int
table_find(const elgamal_dlog *d, const uint8_t e[EL], uint64_t *j)
{
	size_t		i = (size_t) slot_hash(e) & d->slot_mask;
	uint32_t	tag = slot_tag(e);

	for (;;)
	{
		uint64_t	s = d->slots[i];

		if (s == 0)
			return 0;
		if ((uint32_t) (s >> 32) == tag)
		{
			uint64_t	cand = (s & 0xFFFFFFFFu) - 1;
			uint8_t		check[EL];

			base_multiple(cand, check);
			if (memcmp(check, e, EL) == 0)
			{
				*j = cand;
				return 1;
			}
		}
		i = (i + 1) & d->slot_mask;
	}
}

elgamal_status
elgamal_dlog_init(elgamal_dlog *d, int max_bits, int64_t bound, int nthreads)
{
	memset(d, 0, sizeof(*d));
	if (max_bits < 1 || max_bits > 30 || bound < 0)
		return ELGAMAL_OUT_OF_RANGE;
	d->max_bits = max_bits;
	d->bound = bound;
	d->nthreads = nthreads < 1 ? 1 : nthreads;
	d->slot_bits = max_bits + 1;	/* at most half full */
	d->slot_mask = ((size_t) 1 << d->slot_bits) - 1;
	d->slots = calloc((size_t) 1 << d->slot_bits, sizeof(uint64_t));
	d->scratch = malloc((size_t) BABY_SLAB * EL);
	if (d->slots == NULL || d->scratch == NULL)
	{
		elgamal_dlog_free(d);
		return ELGAMAL_NO_MEMORY;
	}
	return ELGAMAL_OK;
}

void
elgamal_dlog_free(elgamal_dlog *d)
{
	free(d->slots);
	free(d->scratch);
	d->slots = NULL;
	d->scratch = NULL;
}

typedef struct baby_job
{
	uint64_t	first;			/* j of the slab's first item */
	uint8_t    *out;
	const uint8_t *g;
} baby_job;

static int
baby_range(void *arg, size_t begin, size_t end, size_t *failed_index)
{
	baby_job   *job = arg;
	uint8_t		p[EL];
	size_t		i;

	base_multiple(job->first + begin, p);
	for (i = begin; i < end; i++)
	{
		memcpy(job->out + i * EL, p, EL);
		if (elgamal_point_add(p, job->g, p) != ELGAMAL_OK)
		{
			*failed_index = i;
			return ELGAMAL_INVALID_ELEMENT;
		}
	}
	return 0;
}

typedef struct giant_job
{
	const elgamal_dlog *d;
	const uint8_t *target;
	const uint8_t *stride;		/* m·G */
	uint64_t	m;
	uint64_t	first;			/* |i| of the slab's first item */
	int			negative;		/* candidates −|i|·m + j instead of |i|·m + j */
	uint64_t	found_j;
} giant_job;

/* Item k: is target ∓ (first + k)·m·G a baby step? */
static int
giant_range(void *arg, size_t begin, size_t end, size_t *failed_index)
{
	giant_job  *job = arg;
	uint8_t		p[EL];
	uint8_t		x[EL];
	size_t		k;
	elgamal_status st;

	base_multiple((job->first + begin) * job->m, x);
	st = job->negative ? elgamal_point_add(job->target, x, p) : elgamal_point_sub(job->target, x, p);
	for (k = begin; st == ELGAMAL_OK && k < end; k++)
	{
		uint64_t	j;

		if (table_find(job->d, p, &j))
		{
			job->found_j = j;
			*failed_index = k;
			return ELGAMAL_FOUND;
		}
		st = job->negative ? elgamal_point_add(p, job->stride, p) : elgamal_point_sub(p, job->stride, p);
	}
	if (st != ELGAMAL_OK)
	{
		*failed_index = k;
		return st;
	}
	return 0;
}

/* Make the baby steps j < m present. */
static elgamal_status
table_extend(elgamal_dlog *d, uint64_t m, void (*between) (void *), void *arg)
{
	uint8_t		g[EL];
	baby_job	job;

	base_multiple(1, g);
	job.g = g;
	job.out = d->scratch;
	while (d->filled < m)
	{
		size_t		n = (size_t) (m - d->filled < BABY_SLAB ? m - d->filled : BABY_SLAB);
		size_t		failed = 0;
		size_t		i;
		int			st;

		if (between)
			between(arg);
		job.first = d->filled;
		st = crypto_parallel_for(n, d->nthreads, baby_range, &job, &failed);
		if (st != 0)
			return (elgamal_status) st;
		for (i = 0; i < n; i++)
			table_insert(d, d->filled + i, d->scratch + i * EL);
		d->filled += n;
	}
	return ELGAMAL_OK;
}

/* Giant steps |i| in [first, last] on one side; ELGAMAL_FOUND sets *v. */
static elgamal_status
giant_walk(elgamal_dlog *d, const uint8_t target[EL], uint64_t m, uint64_t first, uint64_t last,
		   int negative, void (*between) (void *), void *arg, int64_t *v)
{
	uint8_t		stride[EL];
	giant_job	job;
	uint64_t	start;

	base_multiple(m, stride);
	job.d = d;
	job.target = target;
	job.stride = stride;
	job.m = m;
	job.negative = negative;
	for (start = first; start <= last; start += GIANT_SLAB)
	{
		size_t		n = (size_t) (last - start + 1 < GIANT_SLAB ? last - start + 1 : GIANT_SLAB);
		size_t		failed = 0;
		int			st;

		if (between)
			between(arg);
		job.first = start;
		job.found_j = 0;
		st = crypto_parallel_for(n, d->nthreads, giant_range, &job, &failed);
		if (st == ELGAMAL_FOUND)
		{
			int64_t		i = (int64_t) (start + failed);

			*v = negative ? -i * (int64_t) m + (int64_t) job.found_j : i * (int64_t) m + (int64_t) job.found_j;
			return ELGAMAL_FOUND;
		}
		if (st != 0)
			return (elgamal_status) st;
	}
	return ELGAMAL_OK;
}

elgamal_status
elgamal_dlog_solve(elgamal_dlog *d, const uint8_t target[EL], void (*between) (void *), void *arg,
				   int64_t *v)
{
	int64_t		covered = -1;	/* every |v| <= covered has been ruled out */
	int			bits;

	if (!is_identity(target) &&
		((target[EL - 1] & 0x80) != 0 || !crypto_core_ristretto255_is_valid_point(target)))
		return ELGAMAL_INVALID_ELEMENT;
	for (bits = d->max_bits < DLOG_FIRST_BITS ? d->max_bits : DLOG_FIRST_BITS; bits <= d->max_bits; bits++)
	{
		uint64_t	m = UINT64_C(1) << bits;
		int64_t		limit;
		elgamal_status st;
		int64_t		found = 0;

		st = table_extend(d, m, between, arg);
		if (st != ELGAMAL_OK)
			return st;
		/* Balanced while the table may still grow; at full size, out to the bound. */
		limit = bits == d->max_bits || (double) m * (double) m > (double) d->bound
			? d->bound : (int64_t) (m * m - 1);

		/* Positive side: blocks [i·m, i·m + m) not yet wholly ruled out. */
		st = giant_walk(d, target, m, covered < 0 ? 0 : (uint64_t) (covered + 1) / m,
						(uint64_t) limit / m, 0, between, arg, &found);
		/* Negative side: blocks [−i·m, −i·m + m), i >= 1. */
		if (st == ELGAMAL_OK)
			st = giant_walk(d, target, m, covered < 0 ? 1 : (uint64_t) covered / m + 1,
							((uint64_t) limit + m - 1) / m, 1, between, arg, &found);
		if (st == ELGAMAL_FOUND)
		{
			/*
			 * Exact: the true sum has |v| far below L/2, so a match is that sum.
			 * One beyond the bound (in the last block) is refused all the same.
			 */
			if (found > d->bound || found < -d->bound)
				return ELGAMAL_OUT_OF_RANGE;
			*v = found;
			return ELGAMAL_OK;
		}
		if (st != ELGAMAL_OK)
			return st;
		covered = limit;
		if (limit == d->bound)
			break;
	}
	return ELGAMAL_OUT_OF_RANGE;
}

/* ------------------------------------------------------------------------
 * Limbs
 * ------------------------------------------------------------------------
 */

void
elgamal_limbs_split(int64_t v, int64_t limbs[ELGAMAL_LIMBS])
{
	uint64_t	u = (uint64_t) v;	/* two's complement */
	int			k;

	for (k = 0; k < ELGAMAL_LIMBS; k++)
	{
		limbs[k] = (int64_t) ((u >> (k * ELGAMAL_LIMB_BITS)) & ((UINT64_C(1) << ELGAMAL_LIMB_BITS) - 1));
		if (k == ELGAMAL_LIMBS - 1 && limbs[k] >= (INT64_C(1) << (ELGAMAL_LIMB_BITS - 1)))
			limbs[k] -= INT64_C(1) << ELGAMAL_LIMB_BITS;
	}
}

void
elgamal_limb_range(int k, int64_t n, int64_t *lo, int64_t *hi)
{
	if (k == ELGAMAL_LIMBS - 1)
	{
		*lo = -n * (INT64_C(1) << (ELGAMAL_LIMB_BITS - 1));
		*hi = n * ((INT64_C(1) << (ELGAMAL_LIMB_BITS - 1)) - 1);
	}
	else
	{
		*lo = 0;
		*hi = n * ((INT64_C(1) << ELGAMAL_LIMB_BITS) - 1);
	}
}

elgamal_int128
elgamal_limbs_combine(const int64_t sums[ELGAMAL_LIMBS])
{
	elgamal_int128 t = 0;
	int			k;

	for (k = ELGAMAL_LIMBS - 1; k >= 0; k--)
		t = t * ((elgamal_int128) 1 << ELGAMAL_LIMB_BITS) + sums[k];
	return t;
}
