/*
 * okvs.c — binary 3-hash OKVS with 64 dense columns (see okvs.h).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "crypto/okvs.h"

typedef struct okvs_row
{
	uint32_t	c[3];			/* distinct sparse columns */
	uint64_t	dense;			/* bit d: dense column m' + d */
} okvs_row;

size_t
okvs_sparse_columns(size_t n)
{
	double		b = (double) n * 1.23;
	size_t		m = (size_t) b;

	if ((double) m < b)
		m++;
	return m < 8 ? 8 : m;
}

size_t
okvs_columns(size_t n)
{
	return okvs_sparse_columns(n) + OKVS_DENSE;
}

static inline uint32_t
reduce(uint64_t w, size_t m)
{
	return (uint32_t) (((unsigned __int128) w * m) >> 64);
}

#define ROW_BATCH 256

/* row(k) for count keys: AES_seed(k) ⊕ k and AES_seed(k ⊕ 1) ⊕ k, four words */
static okvs_status
make_rows(const uint8_t seed[16], const uint8_t *keys, size_t count, size_t ms,
		  okvs_row *rows)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	uint8_t		in[2 * ROW_BATCH * 16],
				out[2 * ROW_BATCH * 16];
	okvs_status st = OKVS_OK;

	if (ctx == NULL)
		return OKVS_NO_MEMORY;
	if (EVP_EncryptInit_ex(ctx, EVP_aes_128_ecb(), NULL, seed, NULL) != 1 ||
		EVP_CIPHER_CTX_set_padding(ctx, 0) != 1)
	{
		EVP_CIPHER_CTX_free(ctx);
		return OKVS_CRYPTO_FAILED;
	}
	for (size_t first = 0; first < count && st == OKVS_OK; first += ROW_BATCH)
	{
		size_t		c = count - first < ROW_BATCH ? count - first : ROW_BATCH;
		int			outl = 0;

		for (size_t k = 0; k < c; k++)
		{
			memcpy(in + 32 * k, keys + 16 * (first + k), 16);
			memcpy(in + 32 * k + 16, keys + 16 * (first + k), 16);
			in[32 * k + 16] ^= 1;
		}
		if (EVP_EncryptUpdate(ctx, out, &outl, in, (int) (32 * c)) != 1 ||
			outl != (int) (32 * c))
		{
			st = OKVS_CRYPTO_FAILED;
			break;
		}
		for (size_t k = 0; k < c; k++)
		{
			uint64_t	w[4];
			okvs_row   *r = rows + first + k;
			uint32_t	a,
						b,
						d;

			for (int i = 0; i < 32; i++)
				out[32 * k + i] ^= keys[16 * (first + k) + i % 16];
			memcpy(w, out + 32 * k, 32);
			/* three distinct columns: draw from m', m' − 1, m' − 2 and skip */
			a = reduce(w[0], ms);
			b = reduce(w[1], ms - 1);
			if (b >= a)
				b++;
			d = reduce(w[2], ms - 2);
			{
				uint32_t	lo = a < b ? a : b,
							hi = a < b ? b : a;

				if (d >= lo)
					d++;
				if (d >= hi)
					d++;
			}
			r->c[0] = a;
			r->c[1] = b;
			r->c[2] = d;
			r->dense = w[3];
		}
	}
	EVP_CIPHER_CTX_free(ctx);
	return st;
}

static inline void
xor16(uint8_t *dst, const uint8_t *src)
{
	uint64_t	a[2],
				b[2];

	memcpy(a, dst, 16);
	memcpy(b, src, 16);
	a[0] ^= b[0];
	a[1] ^= b[1];
	memcpy(dst, a, 16);
}

/* v ⊕= the dense part of row r against P's dense columns */
static inline void
xor_dense(uint8_t *v, uint64_t dense, const uint8_t *Pd)
{
	while (dense != 0)
	{
		int			d = __builtin_ctzll(dense);

		xor16(v, Pd + 16 * d);
		dense &= dense - 1;
	}
}

/*
 * The 2-core's h rows over the columns they touch (sparse ones, then the
 * dense ones), Gaussian elimination over GF(2) with 16-byte right-hand
 * sides; writes the solved columns into P (free ones stay zero).
 */
static okvs_status
solve_core(const okvs_row *rows, const uint8_t *values, const uint32_t *core, size_t h,
		   size_t ms, uint8_t *P)
{
	uint32_t   *cols = malloc(3 * h * sizeof(uint32_t));
	size_t		nc = 0,
				nvar,
				words;
	uint64_t   *mat = NULL;
	uint8_t    *rhs = NULL;
	int64_t    *pivot_col = NULL;
	okvs_status st = OKVS_OK;

	if (cols == NULL)
		return OKVS_NO_MEMORY;
	/* the distinct sparse columns of the core rows, sorted */
	for (size_t i = 0; i < h; i++)
		for (int j = 0; j < 3; j++)
			cols[nc++] = rows[core[i]].c[j];
	for (size_t i = 1; i < nc; i++)
	{
		uint32_t	x = cols[i];
		size_t		j = i;

		while (j > 0 && cols[j - 1] > x)
		{
			cols[j] = cols[j - 1];
			j--;
		}
		cols[j] = x;
	}
	{
		size_t		u = 0;

		for (size_t i = 0; i < nc; i++)
			if (u == 0 || cols[u - 1] != cols[i])
				cols[u++] = cols[i];
		nc = u;
	}
	nvar = nc + OKVS_DENSE;
	words = (nvar + 63) / 64;
	mat = calloc(h * words, sizeof(uint64_t));
	rhs = malloc(h * 16);
	pivot_col = malloc(h * sizeof(int64_t));
	if (mat == NULL || rhs == NULL || pivot_col == NULL)
	{
		st = OKVS_NO_MEMORY;
		goto done;
	}
	for (size_t i = 0; i < h; i++)
	{
		const okvs_row *r = rows + core[i];
		uint64_t   *m = mat + i * words;

		for (int j = 0; j < 3; j++)
		{
			/* binary search for the column's variable number */
			size_t		lo = 0,
						hi = nc;

			while (lo < hi)
			{
				size_t		mid = (lo + hi) / 2;

				if (cols[mid] < r->c[j])
					lo = mid + 1;
				else
					hi = mid;
			}
			m[lo / 64] ^= (uint64_t) 1 << (lo % 64);
		}
		for (int d = 0; d < OKVS_DENSE; d++)
			if ((r->dense >> d) & 1)
				m[(nc + d) / 64] ^= (uint64_t) 1 << ((nc + d) % 64);
		memcpy(rhs + 16 * i, values + 16 * (size_t) core[i], 16);
	}
	/* forward elimination to reduced row-echelon form */
	{
		size_t		rank = 0;

		for (size_t v = 0; v < nvar && rank < h; v++)
		{
			size_t		p = rank;

			while (p < h && !((mat[p * words + v / 64] >> (v % 64)) & 1))
				p++;
			if (p == h)
				continue;
			if (p != rank)
			{
				for (size_t w = 0; w < words; w++)
				{
					uint64_t	t = mat[p * words + w];

					mat[p * words + w] = mat[rank * words + w];
					mat[rank * words + w] = t;
				}
				{
					uint8_t		t[16];

					memcpy(t, rhs + 16 * p, 16);
					memcpy(rhs + 16 * p, rhs + 16 * rank, 16);
					memcpy(rhs + 16 * rank, t, 16);
				}
			}
			for (size_t i = 0; i < h; i++)
				if (i != rank && ((mat[i * words + v / 64] >> (v % 64)) & 1))
				{
					for (size_t w = 0; w < words; w++)
						mat[i * words + w] ^= mat[rank * words + w];
					xor16(rhs + 16 * i, rhs + 16 * rank);
				}
			pivot_col[rank] = (int64_t) v;
			rank++;
		}
		/* a zero row with a non-zero right-hand side: no solution */
		for (size_t i = rank; i < h; i++)
		{
			static const uint8_t zero[16] = {0};

			if (memcmp(rhs + 16 * i, zero, 16) != 0)
			{
				st = OKVS_FAILED;
				goto done;
			}
		}
		/*
		 * Free variables keep their random values in P; in reduced form a
		 * pivot row holds its pivot and free variables only.
		 */
		for (size_t i = 0; i < rank; i++)
		{
			size_t		pv = (size_t) pivot_col[i];
			uint8_t		val[16];

			memcpy(val, rhs + 16 * i, 16);
			for (size_t w = 0; w < words; w++)
			{
				uint64_t	bits = mat[i * words + w];

				while (bits != 0)
				{
					size_t		v = w * 64 + (size_t) __builtin_ctzll(bits);

					bits &= bits - 1;
					if (v != pv)
						xor16(val, P + 16 * (v < nc ? cols[v] : ms + (v - nc)));
				}
			}
			memcpy(P + 16 * (pv < nc ? cols[pv] : ms + (pv - nc)), val, 16);
		}
	}

done:
	free(cols);
	free(mat);
	free(rhs);
	free(pivot_col);
	return st;
}

okvs_status
okvs_encode(const uint8_t seed[16], const uint8_t *keys, const uint8_t *values, size_t n,
			uint8_t *P, size_t *core_out)
{
	size_t		ms,
				m;
	okvs_row   *rows = NULL;
	uint32_t   *count = NULL,
			   *xr = NULL,
			   *queue = NULL,
			   *stack = NULL,
			   *pivot = NULL,
			   *core = NULL;
	uint8_t    *peeled = NULL;
	size_t		qh = 0,
				qt = 0,
				sp = 0,
				h = 0;
	okvs_status st;

	if (keys == NULL || values == NULL || P == NULL || n == 0 || n > OKVS_MAX_N)
		return OKVS_BAD_ARGUMENT;
	ms = okvs_sparse_columns(n);
	m = ms + OKVS_DENSE;
	rows = malloc(n * sizeof(okvs_row));
	count = calloc(ms, sizeof(uint32_t));
	xr = calloc(ms, sizeof(uint32_t));
	queue = malloc((ms + 3 * n) * sizeof(uint32_t));
	stack = malloc(n * sizeof(uint32_t));
	pivot = malloc(n * sizeof(uint32_t));
	peeled = calloc(n, 1);
	if (rows == NULL || count == NULL || xr == NULL || queue == NULL || stack == NULL ||
		pivot == NULL || peeled == NULL)
	{
		st = OKVS_NO_MEMORY;
		goto done;
	}
	st = make_rows(seed, keys, n, ms, rows);
	if (st != OKVS_OK)
		goto done;
	/* every column nothing pins is random, so other keys decode to noise */
	randombytes_buf(P, m * 16);

	/* peel: a column in exactly one live row pins that row */
	for (size_t i = 0; i < n; i++)
		for (int j = 0; j < 3; j++)
		{
			count[rows[i].c[j]]++;
			xr[rows[i].c[j]] ^= (uint32_t) i;
		}
	for (size_t c = 0; c < ms; c++)
		if (count[c] == 1)
			queue[qt++] = (uint32_t) c;
	while (qh < qt)
	{
		uint32_t	c = queue[qh++];
		uint32_t	r;

		if (count[c] != 1)
			continue;
		r = xr[c];
		peeled[r] = 1;
		pivot[r] = c;
		stack[sp++] = r;
		for (int j = 0; j < 3; j++)
		{
			uint32_t	c2 = rows[r].c[j];

			count[c2]--;
			xr[c2] ^= r;
			if (count[c2] == 1)
				queue[qt++] = c2;
		}
	}

	/* the 2-core */
	h = n - sp;
	if (core_out != NULL)
		*core_out = h;
	if (h > 0)
	{
		size_t		k = 0;

		if (h > OKVS_MAX_CORE)
		{
			st = OKVS_FAILED;
			goto done;
		}
		core = malloc(h * sizeof(uint32_t));
		if (core == NULL)
		{
			st = OKVS_NO_MEMORY;
			goto done;
		}
		for (size_t i = 0; i < n; i++)
			if (!peeled[i])
				core[k++] = (uint32_t) i;
		st = solve_core(rows, values, core, h, ms, P);
		if (st != OKVS_OK)
			goto done;
	}

	/* back substitution, last peeled first */
	while (sp > 0)
	{
		uint32_t	r = stack[--sp];
		uint8_t		v[16];

		memcpy(v, values + 16 * (size_t) r, 16);
		for (int j = 0; j < 3; j++)
			if (rows[r].c[j] != pivot[r])
				xor16(v, P + 16 * (size_t) rows[r].c[j]);
		xor_dense(v, rows[r].dense, P + 16 * ms);
		memcpy(P + 16 * (size_t) pivot[r], v, 16);
	}
	st = OKVS_OK;

done:
	free(rows);
	free(count);
	free(xr);
	free(queue);
	free(stack);
	free(pivot);
	free(peeled);
	free(core);
	return st;
}

okvs_status
okvs_decode(const uint8_t seed[16], size_t n, const uint8_t *P, const uint8_t *keys,
			size_t count, uint8_t *out)
{
	size_t		ms;
	okvs_row	rows[ROW_BATCH];
	okvs_status st;

	if (P == NULL || keys == NULL || out == NULL || n == 0 || n > OKVS_MAX_N)
		return OKVS_BAD_ARGUMENT;
	ms = okvs_sparse_columns(n);
	for (size_t first = 0; first < count; first += ROW_BATCH)
	{
		size_t		c = count - first < ROW_BATCH ? count - first : ROW_BATCH;

		st = make_rows(seed, keys + 16 * first, c, ms, rows);
		if (st != OKVS_OK)
			return st;
		for (size_t k = 0; k < c; k++)
		{
			uint8_t    *v = out + 16 * (first + k);

			memcpy(v, P + 16 * (size_t) rows[k].c[0], 16);
			xor16(v, P + 16 * (size_t) rows[k].c[1]);
			xor16(v, P + 16 * (size_t) rows[k].c[2]);
			xor_dense(v, rows[k].dense, P + 16 * ms);
		}
	}
	return OKVS_OK;
}
