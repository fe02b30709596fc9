/*
 * vole.c — silent random VOLE over GF(2^128): regular-noise single-point
 * VOLEs from GGM trees over one IKNP extension, compressed by an
 * expand-accumulate code (see vole.h for the construction, the parameters
 * and their sources, and the flights).
 *
 * Layouts.  The noisy vectors have N = t·2^d entries, block j at
 * [j·2^d, (j+1)·2^d).  The COTs of flight 3 are numbered: block j's base
 * VOLE at j·128 + i (choice bit i of β_j), block j's level ℓ (1..d) at
 * t·128 + j·d + ℓ − 1 (choice ¬α_{j,ℓ}, α_{j,ℓ} = bit d − ℓ of α_j).  The
 * TREES payload is, per block j, d pairs (K^ℓ_0 ⊕ H(q), K^ℓ_1 ⊕ H(q ⊕ Δ))
 * then ψ_j, 16 bytes each, little-endian words as in ot_block.
 *
 * Pure C: no PostgreSQL calls; allocations are plain malloc, every secret
 * buffer is wiped (sodium_memzero) before it is freed.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "crypto/bytes.h"
#include "crypto/gf128.h"
#include "crypto/parallel.h"
#include "crypto/vole.h"

#define BASE_OTS		OT_KAPPA	/* Chou–Orlandi OTs, = the bits of Δ */
#define HELLO_PAYLOAD	(VOLE_SEED_BYTES + MPC_MSG_HEADER_BYTES + 32)
#define BASE_B_BYTES	(MPC_MSG_HEADER_BYTES + 32 * BASE_OTS)
#define HASH_USE		UINT64_C(0x656c6f762d766f6c)	/* tweak "lov-vole" of the level masks */
#define AES_BATCH		512		/* blocks per EVP call */

static const uint8_t personal_code[16] = VOLE_CODE_PERSONAL;

struct vole_receiver
{
	size_t		m,
				t,
				d,
				N,
				ncot;
	int			nthreads;
	int			stage;			/* 0 new, 1 hello sent, 2 cot sent, 3 done */
	uint8_t		share[VOLE_SEED_BYTES];
	uint8_t		code_seed[VOLE_SEED_BYTES];
	ot_base_sender base;
	ot_ext_receiver *ext;
	uint32_t   *alpha;			/* t */
	ot_block   *beta;			/* t */
	ot_block   *z;				/* t: base VOLE, z_j = γ_j + β_j·Δ */
	ot_block   *lkeys;			/* t·d: H(t) of the level COTs */
	ot_block   *a;				/* m */
	ot_block   *c;				/* m */
};

struct vole_sender
{
	size_t		m,
				t,
				d,
				N,
				ncot;
	int			nthreads;
	int			stage;			/* 0 new, 1 hello answered, 2 done */
	ot_block	delta;
	uint8_t		share[VOLE_SEED_BYTES];
	uint8_t		code_seed[VOLE_SEED_BYTES];
	ot_ext_sender *ext;
	ot_block   *b;				/* m */
};

/* ---------------------------------------------------------------- frame */

static mpc_status
get_header(const uint8_t *msg, size_t len, uint8_t type, uint32_t *seq, uint32_t *count)
{
	return mpc_msg_get_header_of(msg, len, VOLE_MSG_HELLO, VOLE_MSG_TREES, type, seq, count);
}

/* A flight's single message (see mpc_msg_expect_of). */
static mpc_status
expect(const uint8_t *msg, size_t len, uint8_t type, size_t min_count, size_t max_count,
	   size_t bytes, uint32_t *count)
{
	return mpc_msg_expect_of(msg, len, VOLE_MSG_HELLO, VOLE_MSG_TREES, type, min_count, max_count,
							 bytes, count);
}

/* ------------------------------------------------------------ parameters */

bool
vole_params(size_t m, size_t *t, size_t *depth, size_t *noise_len)
{
	size_t		per,
				d = 1;

	if (m == 0 || m > VOLE_MAX_M)
		return false;
	per = (VOLE_SCALER * m + VOLE_TREES - 1) / VOLE_TREES;
	while (((size_t) 1 << d) < per)
		d++;
	*t = VOLE_TREES;
	*depth = d;
	*noise_len = (size_t) VOLE_TREES << d;
	return true;
}

static size_t
cot_count(size_t t, size_t d)
{
	return t * (BASE_OTS + d);
}

size_t
vole_hello_bytes(void)
{
	return MPC_MSG_HEADER_BYTES + HELLO_PAYLOAD;
}

size_t
vole_base_bytes(void)
{
	return MPC_MSG_HEADER_BYTES + VOLE_SEED_BYTES + BASE_B_BYTES;
}

size_t
vole_cot_bytes(size_t m)
{
	size_t		t,
				d,
				N;

	if (!vole_params(m, &t, &d, &N))
		return 0;
	return MPC_MSG_HEADER_BYTES + ot_ext_u_msg_bytes(cot_count(t, d));
}

size_t
vole_trees_bytes(size_t m)
{
	size_t		t,
				d,
				N;

	if (!vole_params(m, &t, &d, &N))
		return 0;
	return MPC_MSG_HEADER_BYTES + t * (32 * d + 16);
}

/* ------------------------------------------------------------ helpers */

static inline ot_block
bxor(ot_block a, ot_block b)
{
	a.w[0] ^= b.w[0];
	a.w[1] ^= b.w[1];
	return a;
}

/* a·X, constant time */
static inline ot_block
mulx(ot_block a)
{
	uint64_t	top = a.w[1] >> 63;

	a.w[1] = (a.w[1] << 1) | (a.w[0] >> 63);
	a.w[0] = (a.w[0] << 1) ^ (0x87 & ((uint64_t) 0 - top));
	return a;
}

/* Σ_i X^i·rows[i] over 128 rows (Horner) */
static ot_block
pack_rows(const ot_block *rows)
{
	ot_block	acc = {{0, 0}};

	for (int i = BASE_OTS - 1; i >= 0; i--)
		acc = bxor(mulx(acc), rows[i]);
	return acc;
}

/* AES-128-ECB under key, no padding; NULL on failure */
static EVP_CIPHER_CTX *
aes_new(const uint8_t key[16])
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();

	if (ctx == NULL)
		return NULL;
	if (EVP_EncryptInit_ex(ctx, EVP_aes_128_ecb(), NULL, key, NULL) != 1 ||
		EVP_CIPHER_CTX_set_padding(ctx, 0) != 1)
	{
		EVP_CIPHER_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

static bool
aes_blocks(EVP_CIPHER_CTX *ctx, const ot_block *in, ot_block *out, size_t n)
{
	int			outl = 0;

	if (n == 0)
		return true;
	return n <= INT_MAX / 16 &&
		EVP_EncryptUpdate(ctx, (unsigned char *) out, &outl,
						  (const unsigned char *) in, (int) (16 * n)) == 1 &&
		outl == (int) (16 * n);
}

/* The GGM PRG's two fixed public AES keys: SHA-256 of a label, halves. */
static void
ggm_keys(uint8_t k0[16], uint8_t k1[16])
{
	static const char label[] = "pgpriv vole ggm fixed-key AES v1";
	uint8_t		digest[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(digest, (const unsigned char *) label, sizeof(label) - 1);
	memcpy(k0, digest, 16);
	memcpy(k1, digest + 16, 16);
}

/* The code seed: BLAKE2b-128(asker's share ‖ owner's share ‖ m). */
static void
derive_code_seed(const uint8_t asker[VOLE_SEED_BYTES], const uint8_t owner[VOLE_SEED_BYTES],
				 size_t m, uint8_t out[VOLE_SEED_BYTES])
{
	crypto_generichash_blake2b_state h;
	uint8_t		mm[8];

	for (int i = 0; i < 8; i++)
		mm[i] = (uint8_t) ((uint64_t) m >> (8 * i));
	crypto_generichash_blake2b_init_salt_personal(&h, NULL, 0, VOLE_SEED_BYTES, NULL,
												  personal_code);
	crypto_generichash_blake2b_update(&h, asker, VOLE_SEED_BYTES);
	crypto_generichash_blake2b_update(&h, owner, VOLE_SEED_BYTES);
	crypto_generichash_blake2b_update(&h, mm, sizeof(mm));
	crypto_generichash_blake2b_final(&h, out, VOLE_SEED_BYTES);
	sodium_memzero(&h, sizeof(h));
}

/* ------------------------------------------------------------ GGM trees */

typedef struct ggm_ctx
{
	EVP_CIPHER_CTX *pi0;
	EVP_CIPHER_CTX *pi1;
	ot_block	in[AES_BATCH];
	ot_block	o0[AES_BATCH];
	ot_block	o1[AES_BATCH];
} ggm_ctx;

static void
ggm_ctx_free(ggm_ctx *g)
{
	if (g == NULL)
		return;
	EVP_CIPHER_CTX_free(g->pi0);
	EVP_CIPHER_CTX_free(g->pi1);
	sodium_memzero(g, sizeof(*g));
	free(g);
}

static ggm_ctx *
ggm_ctx_new(void)
{
	uint8_t		k0[16],
				k1[16];
	ggm_ctx    *g = crypto_zalloc(sizeof(*g));

	if (g == NULL)
		return NULL;
	ggm_keys(k0, k1);
	g->pi0 = aes_new(k0);
	g->pi1 = aes_new(k1);
	if (g->pi0 == NULL || g->pi1 == NULL)
	{
		ggm_ctx_free(g);
		return NULL;
	}
	return g;
}

/*
 * Nodes L[0 .. n) → children L[0 .. 2n), child b of node i at 2i + b,
 * G(s) = (π_0(s) ⊕ s, π_1(s) ⊕ s); S0, S1 get the XOR of all left, resp.
 * right children.  In place, in descending batches: the children of a
 * batch land at or above the batch's end, on nodes already expanded.
 */
static bool
ggm_level(ggm_ctx *g, ot_block *L, size_t n, ot_block *S0, ot_block *S1)
{
	ot_block	s0 = {{0, 0}},
				s1 = {{0, 0}};
	size_t		hi = n;

	while (hi > 0)
	{
		size_t		nb = hi < AES_BATCH ? hi : AES_BATCH;
		size_t		lo = hi - nb;

		memcpy(g->in, L + lo, nb * sizeof(ot_block));
		if (!aes_blocks(g->pi0, g->in, g->o0, nb) || !aes_blocks(g->pi1, g->in, g->o1, nb))
			return false;
		for (size_t k = 0; k < nb; k++)
		{
			ot_block	c0 = bxor(g->o0[k], g->in[k]),
						c1 = bxor(g->o1[k], g->in[k]);

			L[2 * (lo + k)] = c0;
			L[2 * (lo + k) + 1] = c1;
			s0 = bxor(s0, c0);
			s1 = bxor(s1, c1);
		}
		hi = lo;
	}
	*S0 = s0;
	*S1 = s1;
	return true;
}

/* --------------------------------------------------- EA compression */

/*
 * The m×N matrix E: row i has VOLE_EXPANDER_WEIGHT distinct columns, from
 * AES_{code seed}(i ‖ c), c = 0..3 (eight 64-bit words, the first seven
 * used), each mapped to [0, N) by the multiply-shift r·N / 2^64 (bias at
 * most N / 2^64); a repeat moves to the next free column.  The code is
 * public: nothing here depends on a secret.
 */
#define ROW_BATCH	(AES_BATCH / 4)

static bool
code_rows(EVP_CIPHER_CTX *ctx, size_t first, size_t n, size_t N, ot_block *in, ot_block *out,
		  uint64_t *idx)
{
	for (size_t k = 0; k < n; k++)
		for (int c = 0; c < 4; c++)
		{
			in[4 * k + c].w[0] = (uint64_t) (first + k);
			in[4 * k + c].w[1] = (uint64_t) c;
		}
	if (!aes_blocks(ctx, in, out, 4 * n))
		return false;
	for (size_t k = 0; k < n; k++)
	{
		const uint64_t *r = out[4 * k].w;
		uint64_t   *row = idx + k * VOLE_EXPANDER_WEIGHT;

		for (int w = 0; w < VOLE_EXPANDER_WEIGHT; w++)
		{
			uint64_t	x = (uint64_t) (((unsigned __int128) r[w] * N) >> 64);
			bool		again = true;

			while (again)
			{
				again = false;
				for (int v = 0; v < w; v++)
					if (row[v] == x)
					{
						x = x + 1 == N ? 0 : x + 1;
						again = true;
						break;
					}
			}
			row[w] = x;
		}
	}
	return true;
}

/* The sparse A': prefix XOR of β over blocks, for acc(A')[x] in O(1). */
typedef struct sparse_noise
{
	const uint32_t *alpha;
	const ot_block *beta;
	const ot_block *prefix;		/* t: β_0 ⊕ … ⊕ β_{j−1} */
	size_t		d;
} sparse_noise;

static inline ot_block
sparse_acc(const sparse_noise *sn, uint64_t x)
{
	size_t		j = (size_t) (x >> sn->d);
	uint64_t	off = x & (((uint64_t) 1 << sn->d) - 1);
	/* α_j <= off, without a branch on α_j */
	uint64_t	mask = (uint64_t) 0 - (((off - (uint64_t) sn->alpha[j]) >> 63) ^ 1);
	ot_block	v = sn->prefix[j];

	v.w[0] ^= sn->beta[j].w[0] & mask;
	v.w[1] ^= sn->beta[j].w[1] & mask;
	return v;
}

typedef struct compress_job
{
	const uint8_t *seed;
	size_t		N;
	ot_block   *vec;			/* the noisy vector (accumulated in place) */
	ot_block   *out;			/* m outputs of vec */
	const sparse_noise *sn;		/* optional: a second, sparse input */
	ot_block   *out_sparse;
	size_t		nslices;
	ot_block   *slice_sum;		/* nslices */
} compress_job;

static size_t
slice_begin(size_t N, size_t k, size_t nslices)
{
	return (size_t) ((unsigned __int128) N * k / nslices);
}

/* pass 1: the XOR of each slice */
static int
acc_sum_range(void *arg, size_t begin, size_t end, size_t *failed)
{
	compress_job *j = arg;

	(void) failed;
	for (size_t k = begin; k < end; k++)
	{
		ot_block	s = {{0, 0}};
		size_t		e = slice_begin(j->N, k + 1, j->nslices);

		for (size_t i = slice_begin(j->N, k, j->nslices); i < e; i++)
			s = bxor(s, j->vec[i]);
		j->slice_sum[k] = s;
	}
	return MPC_OK;
}

/* pass 2: prefix XOR of each slice, starting from the XOR of those before */
static int
acc_prefix_range(void *arg, size_t begin, size_t end, size_t *failed)
{
	compress_job *j = arg;

	(void) failed;
	for (size_t k = begin; k < end; k++)
	{
		ot_block	s = {{0, 0}};
		size_t		e = slice_begin(j->N, k + 1, j->nslices);

		for (size_t q = 0; q < k; q++)
			s = bxor(s, j->slice_sum[q]);
		for (size_t i = slice_begin(j->N, k, j->nslices); i < e; i++)
		{
			s = bxor(s, j->vec[i]);
			j->vec[i] = s;
		}
	}
	return MPC_OK;
}

/* out[i] = ⊕_w acc[E(i, w)] for rows [begin, end) */
static int
expand_range(void *arg, size_t begin, size_t end, size_t *failed)
{
	compress_job *j = arg;
	EVP_CIPHER_CTX *ctx = aes_new(j->seed);
	ot_block   *in = malloc(4 * ROW_BATCH * sizeof(ot_block));
	ot_block   *ob = malloc(4 * ROW_BATCH * sizeof(ot_block));
	uint64_t   *idx = malloc(ROW_BATCH * VOLE_EXPANDER_WEIGHT * sizeof(uint64_t));
	int			st = MPC_OK;

	(void) failed;
	if (ctx == NULL || in == NULL || ob == NULL || idx == NULL)
	{
		st = ctx == NULL ? MPC_CRYPTO_FAILED : MPC_NO_MEMORY;
		goto done;
	}
	for (size_t first = begin; first < end; first += ROW_BATCH)
	{
		size_t		n = end - first < ROW_BATCH ? end - first : ROW_BATCH;

		if (!code_rows(ctx, first, n, j->N, in, ob, idx))
		{
			st = MPC_CRYPTO_FAILED;
			goto done;
		}
		for (size_t k = 0; k < n; k++)
		{
			const uint64_t *row = idx + k * VOLE_EXPANDER_WEIGHT;
			ot_block	s = {{0, 0}};

			for (int w = 0; w < VOLE_EXPANDER_WEIGHT; w++)
				s = bxor(s, j->vec[row[w]]);
			j->out[first + k] = s;
			if (j->sn != NULL)
			{
				ot_block	a = {{0, 0}};

				for (int w = 0; w < VOLE_EXPANDER_WEIGHT; w++)
					a = bxor(a, sparse_acc(j->sn, row[w]));
				j->out_sparse[first + k] = a;
			}
		}
	}
done:
	EVP_CIPHER_CTX_free(ctx);
	crypto_wipe_free(in, 4 * ROW_BATCH * sizeof(ot_block));
	crypto_wipe_free(ob, 4 * ROW_BATCH * sizeof(ot_block));
	free(idx);
	return st;
}

/*
 * out = E·Acc·vec (vec is overwritten with Acc·vec), and, when sn is given,
 * out_sparse = E·Acc·(the sparse vector), both through one pass over E.
 */
static mpc_status
ea_compress(const uint8_t seed[VOLE_SEED_BYTES], size_t N, size_t m, int nthreads,
			ot_block *vec, ot_block *out, const sparse_noise *sn, ot_block *out_sparse)
{
	compress_job j;
	ot_block	sums[64];
	int			st;

	if (nthreads <= 0)
		nthreads = crypto_cpu_count();
	j.seed = seed;
	j.N = N;
	j.vec = vec;
	j.out = out;
	j.sn = sn;
	j.out_sparse = out_sparse;
	j.nslices = nthreads > 64 ? 64 : (size_t) nthreads;
	j.slice_sum = sums;
	st = crypto_parallel_for(j.nslices, nthreads, acc_sum_range, &j, NULL);
	if (st == MPC_OK)
		st = crypto_parallel_for(j.nslices, nthreads, acc_prefix_range, &j, NULL);
	if (st == MPC_OK)
		st = crypto_parallel_for(m, nthreads, expand_range, &j, NULL);
	sodium_memzero(sums, sizeof(sums));
	return (mpc_status) st;
}

mpc_status
vole_ea_compress(const uint8_t seed[VOLE_SEED_BYTES], size_t N, size_t m, int nthreads,
				 ot_block *vec, ot_block *out)
{
	if (seed == NULL || vec == NULL || out == NULL || m == 0 || N < VOLE_EXPANDER_WEIGHT)
		return MPC_BAD_COUNT;
	return ea_compress(seed, N, m, nthreads, vec, out, NULL, NULL);
}

/* ------------------------------------------------------------ receiver */

vole_receiver *
vole_receiver_new(size_t m, mpc_status *st)
{
	vole_receiver *r;

	size_t		t,
				d,
				N;

	if (!vole_params(m, &t, &d, &N))
	{
		*st = MPC_BAD_COUNT;
		return NULL;
	}
	r = crypto_zalloc(sizeof(*r));
	if (r == NULL)
	{
		*st = MPC_NO_MEMORY;
		return NULL;
	}
	r->m = m;
	r->t = t;
	r->d = d;
	r->N = N;
	r->ncot = cot_count(r->t, r->d);
	r->nthreads = crypto_cpu_count();
	*st = MPC_OK;
	return r;
}

void
vole_receiver_set_threads(vole_receiver *r, int nthreads)
{
	r->nthreads = nthreads > 0 ? nthreads : crypto_cpu_count();
}

void
vole_receiver_free(vole_receiver *r)
{
	if (r == NULL)
		return;
	ot_ext_receiver_free(r->ext);
	ot_base_sender_wipe(&r->base);
	crypto_wipe_free(r->alpha, r->t * sizeof(uint32_t));
	crypto_wipe_free(r->beta, r->t * sizeof(ot_block));
	crypto_wipe_free(r->z, r->t * sizeof(ot_block));
	crypto_wipe_free(r->lkeys, r->t * r->d * sizeof(ot_block));
	crypto_wipe_free(r->a, r->m * sizeof(ot_block));
	crypto_wipe_free(r->c, r->m * sizeof(ot_block));
	sodium_memzero(r, sizeof(*r));
	free(r);
}

mpc_status
vole_receiver_hello(vole_receiver *r, uint8_t *msg, size_t cap, size_t *len)
{
	size_t		alen;
	mpc_status	st;

	if (r->stage != 0)
		return MPC_BAD_STATE;
	if (msg == NULL || cap < vole_hello_bytes())
		return MPC_BUFFER_TOO_SMALL;
	randombytes_buf(r->share, sizeof(r->share));
	st = ot_base_sender_start(&r->base, BASE_OTS, msg + MPC_MSG_HEADER_BYTES + VOLE_SEED_BYTES,
							  cap - MPC_MSG_HEADER_BYTES - VOLE_SEED_BYTES, &alen);
	if (st != MPC_OK)
		return st;
	mpc_msg_put_header(msg, VOLE_MSG_HELLO, 0, (uint32_t) r->m);
	memcpy(msg + MPC_MSG_HEADER_BYTES, r->share, VOLE_SEED_BYTES);
	*len = vole_hello_bytes();
	r->stage = 1;
	return MPC_OK;
}

typedef struct rows_sink
{
	ot_block   *rows;
} rows_sink;

static mpc_status
store_rows(void *arg, size_t first, size_t n, const ot_block *rows)
{
	rows_sink  *s = arg;

	memcpy(s->rows + first, rows, n * sizeof(ot_block));
	return MPC_OK;
}

/* choice bit i of the flight-3 COTs */
static inline void
set_bit(uint8_t *bits, size_t i, unsigned v)
{
	bits[i / 8] |= (uint8_t) ((v & 1) << (i % 8));
}

mpc_status
vole_receiver_base(vole_receiver *r, const uint8_t *msg, size_t len,
				   uint8_t *out, size_t cap, size_t *out_len)
{
	uint32_t	count;
	size_t		t = r->t,
				d = r->d,
				ncot = r->ncot,
				ulen = 0;
	ot_block	keys0[BASE_OTS],
				keys1[BASE_OTS];
	uint8_t    *choices = NULL;
	ot_block   *rows = NULL;
	rows_sink	sink;
	mpc_status	st;

	if (r->stage != 1)
		return MPC_BAD_STATE;
	st = expect(msg, len, VOLE_MSG_BASE, r->m, r->m, vole_base_bytes(), &count);
	if (st != MPC_OK)
		return st;
	if (out == NULL || cap < vole_cot_bytes(r->m))
		return MPC_BUFFER_TOO_SMALL;

	r->alpha = crypto_zalloc(t * sizeof(uint32_t));
	r->beta = crypto_zalloc(t * sizeof(ot_block));
	r->z = crypto_zalloc(t * sizeof(ot_block));
	r->lkeys = crypto_zalloc(t * d * sizeof(ot_block));
	choices = crypto_zalloc((ncot + 7) / 8);
	rows = malloc(ncot * sizeof(ot_block));
	if (r->alpha == NULL || r->beta == NULL || r->z == NULL || r->lkeys == NULL ||
		choices == NULL || rows == NULL)
	{
		st = MPC_NO_MEMORY;
		goto fail;
	}

	/* checks the B points first; leaves r->base alone on an error */
	st = ot_base_sender_finish(&r->base, msg + MPC_MSG_HEADER_BYTES + VOLE_SEED_BYTES,
							   BASE_B_BYTES, keys0, keys1);
	if (st != MPC_OK)
		goto fail;
	r->stage = -1;				/* past the base OTs: no retry from here */
	derive_code_seed(r->share, msg + MPC_MSG_HEADER_BYTES, r->m, r->code_seed);
	r->ext = ot_ext_receiver_new(keys0, keys1);
	sodium_memzero(keys0, sizeof(keys0));
	sodium_memzero(keys1, sizeof(keys1));
	if (r->ext == NULL)
	{
		st = MPC_NO_MEMORY;
		goto fail_late;
	}

	/* the noise: β_j ≠ 0 uniform, α_j uniform in [0, 2^d) */
	for (size_t j = 0; j < t; j++)
	{
		do
		{
			randombytes_buf(&r->beta[j], sizeof(ot_block));
		} while ((r->beta[j].w[0] | r->beta[j].w[1]) == 0);
		r->alpha[j] = randombytes_uniform((uint32_t) 1 << d);
		for (size_t i = 0; i < BASE_OTS; i++)
			set_bit(choices, j * BASE_OTS + i, (unsigned) (r->beta[j].w[i / 64] >> (i % 64)));
		for (size_t l = 1; l <= d; l++)
			set_bit(choices, t * BASE_OTS + j * d + l - 1,
					~(unsigned) (r->alpha[j] >> (d - l)));
	}

	sink.rows = rows;
	st = ot_ext_receiver_extend(r->ext, MPC_MSG_EXT_U, ncot, choices,
								out + MPC_MSG_HEADER_BYTES, cap - MPC_MSG_HEADER_BYTES, &ulen,
								store_rows, &sink);
	if (st != MPC_OK)
		goto fail_late;
	mpc_msg_put_header(out, VOLE_MSG_COT, 0, (uint32_t) ncot);
	*out_len = MPC_MSG_HEADER_BYTES + ulen;

	for (size_t j = 0; j < t; j++)
		r->z[j] = pack_rows(rows + j * BASE_OTS);
	for (size_t k = 0; k < t * d; k += OT_EXT_CHUNK)
	{
		size_t		n = t * d - k < OT_EXT_CHUNK ? t * d - k : OT_EXT_CHUNK;

		st = ot_ext_receiver_hash_tweaked(r->ext, rows + t * BASE_OTS + k, n,
										  t * BASE_OTS + k, HASH_USE, r->lkeys + k);
		if (st != MPC_OK)
			goto fail_late;
	}
	crypto_wipe_free(rows, ncot * sizeof(ot_block));
	crypto_wipe_free(choices, (ncot + 7) / 8);
	r->stage = 2;
	return MPC_OK;

fail:
	/* nothing of the protocol state changed: the same step can run again */
	crypto_wipe_free(r->alpha, t * sizeof(uint32_t));
	crypto_wipe_free(r->beta, t * sizeof(ot_block));
	crypto_wipe_free(r->z, t * sizeof(ot_block));
	crypto_wipe_free(r->lkeys, t * d * sizeof(ot_block));
	r->alpha = NULL;
	r->beta = NULL;
	r->z = NULL;
	r->lkeys = NULL;
	crypto_wipe_free(choices, (ncot + 7) / 8);
	free(rows);
	return st;

fail_late:
	/* the base OTs are spent: this receiver cannot go on (stage −1) */
	crypto_wipe_free(choices, (ncot + 7) / 8);
	crypto_wipe_free(rows, ncot * sizeof(ot_block));
	return st;
}

typedef struct recv_trees_job
{
	vole_receiver *r;
	const uint8_t *payload;
	ot_block   *cvec;			/* N */
} recv_trees_job;

static inline ot_block
load_block(const uint8_t *p)
{
	ot_block	b;

	memcpy(&b, p, sizeof(b));
	return b;
}

/* all ones when x == y, else zero, without a branch */
static inline uint64_t
eq_mask(uint64_t x, uint64_t y)
{
	uint64_t	v = x ^ y;

	return ((v | ((uint64_t) 0 - v)) >> 63) - 1;
}

static inline ot_block
bsel(uint64_t mask, ot_block yes, ot_block no)
{
	ot_block	r;

	r.w[0] = no.w[0] ^ (mask & (yes.w[0] ^ no.w[0]));
	r.w[1] = no.w[1] ^ (mask & (yes.w[1] ^ no.w[1]));
	return r;
}

/*
 * The asker's side of blocks [begin, end): every leaf, and C'_j[α_j].
 * The path is secret, so the nodes on it are never addressed by it: each
 * level's fix reads and rewrites every child pair under a mask (about 2N
 * more block operations over all levels, against N·2 AES for the tree).
 */
static int
recv_trees_range(void *arg, size_t begin, size_t end, size_t *failed)
{
	recv_trees_job *jb = arg;
	vole_receiver *r = jb->r;
	size_t		d = r->d;
	ggm_ctx    *g = ggm_ctx_new();

	if (g == NULL)
		return MPC_CRYPTO_FAILED;
	for (size_t j = begin; j < end; j++)
	{
		const uint8_t *p = jb->payload + j * (32 * d + 16);
		ot_block   *L = jb->cvec + (j << d);
		uint64_t	alpha = r->alpha[j];
		uint64_t	path = 0;
		const ot_block zero = {{0, 0}};

		L[0] = L[1] = zero;
		for (size_t l = 1; l <= d; l++)
		{
			size_t		pairs = (size_t) 1 << (l - 1);
			uint64_t	a = (alpha >> (d - l)) & 1;
			uint64_t	amask = (uint64_t) 0 - a;	/* all ones: the sibling is the left child */
			ot_block	k,
						s0 = zero,
						s1 = zero,
						g0 = zero,
						g1 = zero,
						sib,
						pathval = zero;

			/* K^ℓ_{¬α_ℓ} = M_{¬α_ℓ} ⊕ H(t) */
			k = bsel(amask, load_block(p + 32 * (l - 1)), load_block(p + 32 * (l - 1) + 16));
			k = bxor(k, r->lkeys[j * d + l - 1]);
			if (l > 1 && !ggm_level(g, L, pairs, &s0, &s1))
			{
				ggm_ctx_free(g);
				*failed = j;
				return MPC_CRYPTO_FAILED;
			}
			/* the path node's children (garbage: it was a placeholder) */
			for (size_t i = 0; i < pairs; i++)
			{
				uint64_t	mask = eq_mask(i, path);

				g0 = bsel(mask, L[2 * i], g0);
				g1 = bsel(mask, L[2 * i + 1], g1);
			}
			/* sibling = K_b ⊕ (the side-b sum without the garbage child) */
			sib = bxor(k, bxor(bsel(amask, s0, s1), bsel(amask, g0, g1)));
			if (l == d)
			{
				/* C'[α] = ψ ⊕ Σ_{k≠α} v_k ⊕ z */
				ot_block	total = bxor(bxor(s0, s1), bxor(bxor(g0, g1), sib));

				pathval = bxor(bxor(load_block(p + 32 * d), total), r->z[j]);
			}
			for (size_t i = 0; i < pairs; i++)
			{
				uint64_t	mask = eq_mask(i, path);

				L[2 * i] = bsel(mask, bsel(amask, sib, pathval), L[2 * i]);
				L[2 * i + 1] = bsel(mask, bsel(amask, pathval, sib), L[2 * i + 1]);
			}
			path = 2 * path + a;
		}
	}
	ggm_ctx_free(g);
	return MPC_OK;
}

mpc_status
vole_receiver_trees(vole_receiver *r, const uint8_t *msg, size_t len)
{
	uint32_t	count;
	size_t		t = r->t,
				N = r->N,
				m = r->m;
	ot_block   *cvec = NULL,
			   *prefix = NULL,
			   *a = NULL,
			   *c = NULL;
	recv_trees_job jb;
	sparse_noise sn;
	mpc_status	st;

	if (r->stage != 2)
		return MPC_BAD_STATE;
	st = expect(msg, len, VOLE_MSG_TREES, t, t, vole_trees_bytes(m), &count);
	if (st != MPC_OK)
		return st;
	cvec = malloc(N * sizeof(ot_block));
	prefix = malloc(t * sizeof(ot_block));
	a = malloc(m * sizeof(ot_block));
	c = malloc(m * sizeof(ot_block));
	if (cvec == NULL || prefix == NULL || a == NULL || c == NULL)
	{
		st = MPC_NO_MEMORY;
		goto done;
	}
	jb.r = r;
	jb.payload = msg + MPC_MSG_HEADER_BYTES;
	jb.cvec = cvec;
	st = (mpc_status) crypto_parallel_for(t, r->nthreads, recv_trees_range, &jb, NULL);
	if (st != MPC_OK)
		goto done;
	prefix[0].w[0] = prefix[0].w[1] = 0;
	for (size_t j = 1; j < t; j++)
		prefix[j] = bxor(prefix[j - 1], r->beta[j - 1]);
	sn.alpha = r->alpha;
	sn.beta = r->beta;
	sn.prefix = prefix;
	sn.d = r->d;
	st = ea_compress(r->code_seed, N, m, r->nthreads, cvec, c, &sn, a);
	if (st != MPC_OK)
		goto done;
	r->a = a;
	r->c = c;
	a = c = NULL;
	r->stage = 3;
	/* the noise and the base VOLE are no longer needed */
	sodium_memzero(r->z, t * sizeof(ot_block));
	sodium_memzero(r->lkeys, t * r->d * sizeof(ot_block));
done:
	crypto_wipe_free(cvec, N * sizeof(ot_block));
	crypto_wipe_free(prefix, t * sizeof(ot_block));
	crypto_wipe_free(a, m * sizeof(ot_block));
	crypto_wipe_free(c, m * sizeof(ot_block));
	return st;
}

const ot_block *
vole_receiver_a(const vole_receiver *r)
{
	return r->stage == 3 ? r->a : NULL;
}

const ot_block *
vole_receiver_c(const vole_receiver *r)
{
	return r->stage == 3 ? r->c : NULL;
}

size_t
vole_receiver_m(const vole_receiver *r)
{
	return r->m;
}

bool
vole_receiver_noise(const vole_receiver *r, size_t j, uint32_t *alpha, ot_block *beta)
{
	if ((r->stage != 2 && r->stage != 3) || j >= r->t)
		return false;
	*alpha = r->alpha[j];
	*beta = r->beta[j];
	return true;
}

size_t
vole_receiver_memory(const vole_receiver *r)
{
	size_t		n = sizeof(*r);

	if (r->alpha != NULL)
		n += r->t * (sizeof(uint32_t) + 3 * sizeof(ot_block)) + r->t * r->d * sizeof(ot_block);
	if (r->a != NULL)
		n += 2 * r->m * sizeof(ot_block);
	return n;
}

/* -------------------------------------------------------------- sender */

vole_sender *
vole_sender_new(mpc_status *st)
{
	vole_sender *s = crypto_zalloc(sizeof(*s));

	if (s == NULL)
	{
		*st = MPC_NO_MEMORY;
		return NULL;
	}
	do
	{
		randombytes_buf(&s->delta, sizeof(s->delta));
	} while ((s->delta.w[0] | s->delta.w[1]) == 0);
	s->nthreads = crypto_cpu_count();
	*st = MPC_OK;
	return s;
}

void
vole_sender_set_threads(vole_sender *s, int nthreads)
{
	s->nthreads = nthreads > 0 ? nthreads : crypto_cpu_count();
}

void
vole_sender_free(vole_sender *s)
{
	if (s == NULL)
		return;
	ot_ext_sender_free(s->ext);
	crypto_wipe_free(s->b, s->m * sizeof(ot_block));
	sodium_memzero(s, sizeof(*s));
	free(s);
}

mpc_status
vole_sender_hello(vole_sender *s, const uint8_t *msg, size_t len, size_t max_m,
				  uint8_t *out, size_t cap, size_t *out_len)
{
	uint32_t	seq,
				count;
	size_t		blen = 0,
				t,
				d,
				N;
	ot_block	keys[BASE_OTS];
	uint8_t		share[VOLE_SEED_BYTES];
	mpc_status	st;

	if (s->stage != 0)
		return MPC_BAD_STATE;
	st = get_header(msg, len, VOLE_MSG_HELLO, &seq, &count);
	if (st != MPC_OK)
		return st;
	if (seq != 0)
		return MPC_OUT_OF_ORDER;
	if (count > max_m || !vole_params(count, &t, &d, &N))
		return MPC_BAD_COUNT;
	if (len != vole_hello_bytes())
		return MPC_BAD_LENGTH;
	if (out == NULL || cap < vole_base_bytes())
		return MPC_BUFFER_TOO_SMALL;
	/* checks A (canonical, not the identity) before anything */
	st = ot_base_receiver_respond(BASE_OTS, (const uint8_t *) s->delta.w,
								  msg + MPC_MSG_HEADER_BYTES + VOLE_SEED_BYTES,
								  len - MPC_MSG_HEADER_BYTES - VOLE_SEED_BYTES,
								  out + MPC_MSG_HEADER_BYTES + VOLE_SEED_BYTES,
								  cap - MPC_MSG_HEADER_BYTES - VOLE_SEED_BYTES, &blen, keys);
	if (st != MPC_OK)
	{
		sodium_memzero(keys, sizeof(keys));
		return st;
	}
	s->ext = ot_ext_sender_new((const uint8_t *) s->delta.w, keys);
	sodium_memzero(keys, sizeof(keys));
	if (s->ext == NULL)
		return MPC_NO_MEMORY;
	randombytes_buf(share, sizeof(share));
	s->m = count;
	s->t = t;
	s->d = d;
	s->N = N;
	s->ncot = cot_count(t, d);
	memcpy(s->share, share, sizeof(share));
	derive_code_seed(msg + MPC_MSG_HEADER_BYTES, share, count, s->code_seed);
	mpc_msg_put_header(out, VOLE_MSG_BASE, 0, count);
	memcpy(out + MPC_MSG_HEADER_BYTES, share, VOLE_SEED_BYTES);
	*out_len = vole_base_bytes();
	s->stage = 1;
	return MPC_OK;
}

size_t
vole_sender_m(const vole_sender *s)
{
	return s->m;
}

typedef struct send_trees_job
{
	vole_sender *s;
	const ot_block *roots;		/* t */
	const ot_block *gamma;		/* t */
	const ot_block *h0;			/* t·d */
	const ot_block *h1;
	uint8_t    *payload;
	ot_block   *bvec;			/* N */
} send_trees_job;

/* The owner's side of blocks [begin, end): the leaves and the TREES payload. */
static int
send_trees_range(void *arg, size_t begin, size_t end, size_t *failed)
{
	send_trees_job *jb = arg;
	size_t		d = jb->s->d;
	ggm_ctx    *g = ggm_ctx_new();

	if (g == NULL)
		return MPC_CRYPTO_FAILED;
	for (size_t j = begin; j < end; j++)
	{
		uint8_t    *p = jb->payload + j * (32 * d + 16);
		ot_block   *L = jb->bvec + (j << d);
		ot_block	s0 = {{0, 0}},
					s1 = {{0, 0}},
					psi;

		L[0] = jb->roots[j];
		for (size_t l = 1; l <= d; l++)
		{
			ot_block	m0,
						m1;

			if (!ggm_level(g, L, (size_t) 1 << (l - 1), &s0, &s1))
			{
				ggm_ctx_free(g);
				*failed = j;
				return MPC_CRYPTO_FAILED;
			}
			m0 = bxor(s0, jb->h0[j * d + l - 1]);
			m1 = bxor(s1, jb->h1[j * d + l - 1]);
			memcpy(p + 32 * (l - 1), &m0, 16);
			memcpy(p + 32 * (l - 1) + 16, &m1, 16);
		}
		/* the last level's two sums are the sum of the leaves */
		psi = bxor(bxor(s0, s1), jb->gamma[j]);
		memcpy(p + 32 * d, &psi, 16);
	}
	ggm_ctx_free(g);
	return MPC_OK;
}

mpc_status
vole_sender_cot(vole_sender *s, const uint8_t *msg, size_t len,
				uint8_t *out, size_t cap, size_t *out_len)
{
	uint32_t	count;
	size_t		t = s->t,
				d = s->d,
				N = s->N,
				m = s->m,
				ncot = s->ncot,
				got = 0;
	ot_block   *rows = NULL,
			   *bvec = NULL,
			   *b = NULL,
			   *h0 = NULL,
			   *h1 = NULL,
			   *gamma = NULL,
			   *roots = NULL;
	rows_sink	sink;
	send_trees_job jb;
	mpc_status	st;

	if (s->stage != 1)
		return MPC_BAD_STATE;
	st = expect(msg, len, VOLE_MSG_COT, ncot, ncot, vole_cot_bytes(m), &count);
	if (st != MPC_OK)
		return st;
	if (out == NULL || cap < vole_trees_bytes(m))
		return MPC_BUFFER_TOO_SMALL;
	rows = malloc(ncot * sizeof(ot_block));
	bvec = malloc(N * sizeof(ot_block));
	b = malloc(m * sizeof(ot_block));
	h0 = malloc(t * d * sizeof(ot_block));
	h1 = malloc(t * d * sizeof(ot_block));
	gamma = malloc(t * sizeof(ot_block));
	roots = malloc(t * sizeof(ot_block));
	if (rows == NULL || bvec == NULL || b == NULL || h0 == NULL || h1 == NULL ||
		gamma == NULL || roots == NULL)
	{
		st = MPC_NO_MEMORY;
		goto done;
	}
	/* checks the inner frame, its count and length before the PRGs move */
	sink.rows = rows;
	st = ot_ext_sender_extend(s->ext, MPC_MSG_EXT_U, msg + MPC_MSG_HEADER_BYTES,
							  len - MPC_MSG_HEADER_BYTES, ncot, ncot, &got, store_rows, &sink);
	if (st != MPC_OK)
		goto done;
	s->stage = -1;				/* the extension moved on: no retry from here */

	for (size_t j = 0; j < t; j++)
		gamma[j] = pack_rows(rows + j * BASE_OTS);
	for (size_t k = 0; k < t * d; k += OT_EXT_CHUNK)
	{
		size_t		n = t * d - k < OT_EXT_CHUNK ? t * d - k : OT_EXT_CHUNK;

		st = ot_ext_sender_hash_tweaked(s->ext, rows + t * BASE_OTS + k, n, t * BASE_OTS + k,
										HASH_USE, h0 + k, h1 + k);
		if (st != MPC_OK)
			goto done;
	}
	randombytes_buf(roots, t * sizeof(ot_block));
	jb.s = s;
	jb.roots = roots;
	jb.gamma = gamma;
	jb.h0 = h0;
	jb.h1 = h1;
	jb.payload = out + MPC_MSG_HEADER_BYTES;
	jb.bvec = bvec;
	st = (mpc_status) crypto_parallel_for(t, s->nthreads, send_trees_range, &jb, NULL);
	if (st != MPC_OK)
		goto done;
	st = ea_compress(s->code_seed, N, m, s->nthreads, bvec, b, NULL, NULL);
	if (st != MPC_OK)
		goto done;
	mpc_msg_put_header(out, VOLE_MSG_TREES, 0, (uint32_t) t);
	*out_len = vole_trees_bytes(m);
	s->b = b;
	b = NULL;
	s->stage = 2;
done:
	crypto_wipe_free(rows, ncot * sizeof(ot_block));
	crypto_wipe_free(bvec, N * sizeof(ot_block));
	crypto_wipe_free(b, m * sizeof(ot_block));
	crypto_wipe_free(h0, t * d * sizeof(ot_block));
	crypto_wipe_free(h1, t * d * sizeof(ot_block));
	crypto_wipe_free(gamma, t * sizeof(ot_block));
	crypto_wipe_free(roots, t * sizeof(ot_block));
	return st;
}

const ot_block *
vole_sender_b(const vole_sender *s)
{
	return s->stage == 2 ? s->b : NULL;
}

ot_block
vole_sender_delta(const vole_sender *s)
{
	return s->delta;
}

size_t
vole_sender_memory(const vole_sender *s)
{
	return sizeof(*s) + (s->b != NULL ? s->m * sizeof(ot_block) : 0);
}
