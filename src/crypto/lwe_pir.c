/*
 * lwe_pir.c — single-server PIR over bytes from LWE, SimplePIR-style.
 *
 * Layout of this file: the error sampler, the shape of D, the expansion of A,
 * the byte × word kernel, then the owner's half (hint, answer) and the
 * asker's half (query, decode).  docs/pir-design.md explains the parameters
 * and the correctness bound; lwe_pir.h the conventions.
 *
 * The kernel.  Every owner-side product here is D (bytes) times a vector of
 * uint32 words mod 2^32.  A word c is split into two signed 16-bit digits,
 * c ≡ lo + 2^16·hi (mod 2^32) with lo, hi in [−2^15, 2^15), so that
 *     Σ_j d_j·c_j ≡ Σ_j d_j·lo_j + 2^16 · Σ_j d_j·hi_j   (mod 2^32).
 * Each product d·lo fits easily in 32 bits (|d·lo| < 2^23), so both sums are
 * a 16 × 16 → 32-bit dot product, which GCC's vectoriser turns into pmaddwd
 * (16 multiply-adds per instruction with AVX2) instead of a 32-bit pmulld per
 * 8 bytes; that is what lets one pass over D run at memory speed.  The sums
 * accumulate in uint32, whose wraparound is exactly the reduction mod q.
 * D's centring (d − 128) is not done per byte: (D − 128)·c = D·c − 128·Σc,
 * so one correction per output word suffices.
 *
 * The inner loops have a fixed trip count (KERNEL_BLOCK) so that GCC's -O2
 * "very cheap" vectoriser accepts them, and the kernel is compiled twice
 * (AVX2 and the x86-64 baseline) with the right one chosen when the library
 * is loaded.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "crypto/lwe_pir.h"
#include "crypto/parallel.h"

#if defined(__x86_64__) && defined(__GLIBC__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define KERNEL_CLONES __attribute__((target_clones("avx2", "default")))
#endif
#endif
#ifndef KERNEL_CLONES
#define KERNEL_CLONES
#endif

#define KERNEL_ROWS		4		/* rows of D per pass over a vector */
#define KERNEL_BLOCK	256		/* columns per fixed-length inner loop */
#define HINT_CHUNK		256		/* rows of A held (transposed) at once */
#define QUERY_CHUNK		64		/* rows of A expanded at once for queries (256 KiB) */
#define QUERY_SHARE		256		/* rows of A (and of the queries) handed out at once */
#define DECODE_SHARE	64		/* rows of H handed out at once */
#define A_ROW_BYTES		(LWE_PIR_N * 4)
#define A_BLOCKS_PER_ROW (A_ROW_BYTES / 16) /* AES blocks per row of A */
#define SAMPLE_CHUNK	1024

#define CENTRE			128u

const char *
lwe_pir_status_reason(lwe_pir_status st)
{
	switch (st)
	{
		case LWE_PIR_OK:
			return "no error";
		case LWE_PIR_BAD_SHAPE:
			return "PIR database shape is empty or exceeds the limits (at most 624503 columns for the 2^-40 decoding bound)";
		case LWE_PIR_BAD_COLUMN:
			return "PIR column index is outside the database";
		case LWE_PIR_BAD_ARGUMENT:
			return "PIR argument is missing or has a zero size";
		case LWE_PIR_NO_MEMORY:
			return "out of memory for PIR scratch buffers";
		case LWE_PIR_CIPHER_FAILED:
			return "AES-128-CTR expansion of the PIR matrix failed";
		case LWE_PIR_INIT_FAILED:
			return "PIR initialisation failed (libsodium or the error sampler's table)";
	}
	return "unknown PIR status";
}

/* ------------------------------------------------------------------------ */
/* The error sampler                                                         */
/* ------------------------------------------------------------------------ */

/*
 * Discrete Gaussian over [−T, T], T = 12σ = 132, P(x) ∝ exp(−x²/(2σ²)),
 * sampled by inversion of a cumulative table over |x| with 64-bit
 * probabilities, plus an independent sign bit.
 *
 * The table is built once from exp(): with long double (a 64-bit mantissa
 * on x86-64; 113 bits where long double is quad) each magnitude k gets the
 * integer weight w(k) = round(2^64 · ρ(k) / S), ρ(k) = exp(−k²/(2σ²)),
 * S = ρ(0) + 2·Σ_{k≥1} ρ(k), and the magnitude table uses v(0) = w(0),
 * v(k) = 2·w(k) (both signs).  The v sum to 2^64 up to one rounding per
 * entry; the build checks that (|Σv − 2^64| ≤ T + 1, else it refuses to
 * sample) and puts the residue on v(0), so the table is an exact partition
 * of [0, 2^64).  Magnitudes beyond about 100 get weight 0: their true
 * probability is below 2^-64.
 *
 * Sampling: u uniform in [0, 2^64); |x| = #{k < T : u ≥ C(k)}, where C(k) =
 * v(0) + … + v(k).  The table stores C(k) − 1 (never negative, since
 * v(0) > 0; never past 2^64 − 1, since C(k) ≤ 2^64), and every entry is
 * compared without branches, so the time does not depend on u.  Then
 * P(|x| = k) = v(k)/2^64 and the sign bit halves it between ±k.
 */
#define CDT_SIZE	LWE_PIR_ERROR_BOUND

static uint64_t cdt_minus_one[CDT_SIZE];
static lwe_pir_status init_status = LWE_PIR_INIT_FAILED;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void
build_sampler_table(void)
{
	long double rho[CDT_SIZE + 1];
	long double total = 0.0L;
	uint64_t	v[CDT_SIZE + 1];
	uint64_t	sum_hi = 0;		/* Σv as a 128-bit number hi:lo */
	uint64_t	sum_lo = 0;
	uint64_t	cumulative;
	const long double two64 = 18446744073709551616.0L;
	int			k;

	if (sodium_init() < 0)
		return;

	for (k = 0; k <= CDT_SIZE; k++)
	{
		long double x = (long double) k;

		rho[k] = expl(-(x * x) / (2.0L * LWE_PIR_SIGMA * LWE_PIR_SIGMA));
		total += (k == 0) ? rho[k] : 2.0L * rho[k];
	}
	for (k = 0; k <= CDT_SIZE; k++)
	{
		long double w = rintl(two64 * rho[k] / total);

		v[k] = (uint64_t) w;
		if (k > 0)
			v[k] *= 2;			/* ≤ 2^61: no overflow */
		sum_lo += v[k];
		if (sum_lo < v[k])
			sum_hi++;
	}

	/*
	 * Σv should be 2^64 (hi = 1, lo = 0) within one rounding per entry;
	 * anything else means exp() or the arithmetic misbehaved: refuse.
	 */
	if (sum_hi == 1 && sum_lo <= (uint64_t) CDT_SIZE + 1)
		v[0] -= sum_lo;
	else if (sum_hi == 0 && sum_lo >= UINT64_MAX - CDT_SIZE)
		v[0] += (UINT64_MAX - sum_lo) + 1;
	else
		return;
	if (v[0] == 0)
		return;

	cumulative = 0;
	for (k = 0; k < CDT_SIZE; k++)
	{
		cumulative += v[k];		/* < 2^64 while k < T, as v(T) ≥ 0 */
		cdt_minus_one[k] = cumulative - 1;
	}
	init_status = LWE_PIR_OK;
}

lwe_pir_status
lwe_pir_init(void)
{
	if (pthread_once(&init_once, build_sampler_table) != 0)
		return LWE_PIR_INIT_FAILED;
	return init_status;
}

/* 1 if x > y, without a branch (unsigned 64-bit). */
static inline uint64_t
ct_greater(uint64_t x, uint64_t y)
{
	uint64_t	z = y - x;

	return (z ^ ((x ^ y) & (x ^ z))) >> 63;
}

/*
 * out[i] = the sample for (u[i], sign[i]), i < n, as uint32 (two's
 * complement).  The table walk accumulates in 64 bits so that, with its
 * fixed trip count, GCC's -O2 vectoriser runs it four table entries at a
 * time in the AVX2 clone (two in the baseline one).  Still no branch on u,
 * and the same result either way.
 */
KERNEL_CLONES static void
sample_block(const uint64_t *restrict u, const uint8_t *restrict sign,
			 uint32_t *restrict out, size_t n)
{
	size_t		i;

	for (i = 0; i < n; i++)
	{
		uint64_t	magnitude = 0;
		uint32_t	negative = (uint32_t) (sign[i] & 1);
		int			k;

		for (k = 0; k < CDT_SIZE; k++)
			magnitude += ct_greater(u[i], cdt_minus_one[k]);
		/* (m ^ −neg) + neg is m or −m, without a branch */
		out[i] = ((uint32_t) magnitude ^ (0u - negative)) + negative;
	}
}

/* count errors as uint32 (two's complement), fresh randomness. */
static lwe_pir_status
sample_errors_u32(uint32_t *out, size_t count)
{
	uint64_t	u[SAMPLE_CHUNK];
	uint8_t		sign[SAMPLE_CHUNK];
	size_t		done = 0;
	lwe_pir_status st = lwe_pir_init();

	if (st != LWE_PIR_OK)
		return st;
	while (done < count)
	{
		size_t		n = count - done;

		if (n > SAMPLE_CHUNK)
			n = SAMPLE_CHUNK;
		randombytes_buf(u, n * sizeof(uint64_t));
		randombytes_buf(sign, n);
		sample_block(u, sign, out + done, n);
		done += n;
	}
	sodium_memzero(u, sizeof(u));
	sodium_memzero(sign, sizeof(sign));
	return LWE_PIR_OK;
}

lwe_pir_status
lwe_pir_sample_errors(int32_t *out, size_t count)
{
	if (out == NULL && count > 0)
		return LWE_PIR_BAD_ARGUMENT;
	return sample_errors_u32((uint32_t *) out, count);
}

/* ------------------------------------------------------------------------ */
/* Shape of D                                                                */
/* ------------------------------------------------------------------------ */

lwe_pir_status
lwe_pir_layout_for_shape(uint32_t rows, uint32_t cols, lwe_pir_layout *layout)
{
	if (layout == NULL)
		return LWE_PIR_BAD_ARGUMENT;
	if (rows == 0 || cols == 0 || rows > LWE_PIR_MAX_ROWS || cols > LWE_PIR_MAX_COLS)
		return LWE_PIR_BAD_SHAPE;
	layout->rows = rows;
	layout->cols = cols;
	layout->slot_bytes = rows;
	layout->slots_per_col = 1;
	return LWE_PIR_OK;
}

lwe_pir_status
lwe_pir_layout_for_records(uint64_t n_records, uint32_t record_bytes,
						   lwe_pir_layout *layout)
{
	uint64_t	per_col;
	uint64_t	cols;
	uint64_t	rows;

	if (layout == NULL || record_bytes == 0 || n_records == 0)
		return LWE_PIR_BAD_ARGUMENT;

	/*
	 * rows = k·b and cols = N/k with rows ≈ cols/4 give k ≈ √(N / 4b): the
	 * hint (rows·n words) and the query (cols words) then both grow as
	 * √size, the SimplePIR balance with ℓ ≈ m/4.
	 */
	per_col = (uint64_t) llround(sqrt((double) n_records / (4.0 * record_bytes)));
	if (per_col < 1)
		per_col = 1;
	cols = (n_records + per_col - 1) / per_col;
	if (cols > LWE_PIR_MAX_COLS)
	{
		/* Past the noise bound: make columns taller instead of wider. */
		per_col = (n_records + LWE_PIR_MAX_COLS - 1) / LWE_PIR_MAX_COLS;
		cols = (n_records + per_col - 1) / per_col;
	}
	rows = per_col * record_bytes;
	if (rows > LWE_PIR_MAX_ROWS || cols > LWE_PIR_MAX_COLS)
		return LWE_PIR_BAD_SHAPE;

	layout->rows = (uint32_t) rows;
	layout->cols = (uint32_t) cols;
	layout->slot_bytes = record_bytes;
	layout->slots_per_col = (uint32_t) per_col;
	return LWE_PIR_OK;
}

size_t
lwe_pir_db_bytes(const lwe_pir_layout *layout)
{
	return (size_t) layout->rows * layout->cols;
}

size_t
lwe_pir_hint_bytes(const lwe_pir_layout *layout)
{
	return (size_t) layout->rows * LWE_PIR_N * sizeof(uint32_t);
}

size_t
lwe_pir_query_bytes(const lwe_pir_layout *layout)
{
	return (size_t) layout->cols * sizeof(uint32_t);
}

size_t
lwe_pir_answer_bytes(const lwe_pir_layout *layout)
{
	return (size_t) layout->rows * sizeof(uint32_t);
}

static lwe_pir_status
check_slot(const lwe_pir_layout *layout, const void *db, uint32_t col,
		   uint32_t slot, const void *record)
{
	if (layout == NULL || db == NULL || record == NULL)
		return LWE_PIR_BAD_ARGUMENT;
	if (col >= layout->cols)
		return LWE_PIR_BAD_COLUMN;
	if (slot >= layout->slots_per_col ||
		(uint64_t) layout->slots_per_col * layout->slot_bytes > layout->rows)
		return LWE_PIR_BAD_SHAPE;
	return LWE_PIR_OK;
}

lwe_pir_status
lwe_pir_db_put_slot(const lwe_pir_layout *layout, uint8_t *db, uint32_t col,
					uint32_t slot, const uint8_t *record)
{
	lwe_pir_status st = check_slot(layout, db, col, slot, record);
	size_t		row0;
	size_t		i;

	if (st != LWE_PIR_OK)
		return st;
	row0 = (size_t) slot * layout->slot_bytes;
	for (i = 0; i < layout->slot_bytes; i++)
		db[(row0 + i) * layout->cols + col] = record[i];
	return LWE_PIR_OK;
}

lwe_pir_status
lwe_pir_db_get_slot(const lwe_pir_layout *layout, const uint8_t *db, uint32_t col,
					uint32_t slot, uint8_t *record)
{
	lwe_pir_status st = check_slot(layout, db, col, slot, record);
	size_t		row0;
	size_t		i;

	if (st != LWE_PIR_OK)
		return st;
	row0 = (size_t) slot * layout->slot_bytes;
	for (i = 0; i < layout->slot_bytes; i++)
		record[i] = db[(row0 + i) * layout->cols + col];
	return LWE_PIR_OK;
}

/* ------------------------------------------------------------------------ */
/* The public matrix A                                                       */
/* ------------------------------------------------------------------------ */

/*
 * An AES-128-CTR keystream positioned at row row_begin of A: the counter
 * block of A's row j is j · 256, big-endian.  a_stream_read then hands out
 * consecutive rows, so a worker that walks a range of A in small chunks
 * (to keep each in cache) sets up the cipher once, not once per chunk.
 */
static EVP_CIPHER_CTX *
a_stream_open(const uint8_t seed[LWE_PIR_SEED_BYTES], uint32_t row_begin)
{
	EVP_CIPHER_CTX *ctx;
	uint8_t		iv[16];
	uint64_t	block = (uint64_t) row_begin * A_BLOCKS_PER_ROW;
	int			i;

	memset(iv, 0, sizeof(iv));
	for (i = 0; i < 8; i++)
		iv[15 - i] = (uint8_t) (block >> (8 * i));
	ctx = EVP_CIPHER_CTX_new();
	if (ctx == NULL)
		return NULL;
	if (EVP_EncryptInit_ex(ctx, EVP_aes_128_ctr(), NULL, seed, iv) != 1)
	{
		EVP_CIPHER_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* The next row_count rows of A; zeroed on failure. */
static lwe_pir_status
a_stream_read(EVP_CIPHER_CTX *ctx, uint32_t row_count, uint32_t *out)
{
	uint8_t    *bytes = (uint8_t *) out;
	size_t		remaining = (size_t) row_count * A_ROW_BYTES;
	lwe_pir_status st = LWE_PIR_OK;

	/* Keystream = CTR encryption of zeros, in place, in int-sized pieces. */
	memset(out, 0, remaining);
	while (st == LWE_PIR_OK && remaining > 0)
	{
		int			piece = remaining > (1u << 30) ? (1 << 30) : (int) remaining;
		int			outl = 0;

		if (EVP_EncryptUpdate(ctx, bytes, &outl, bytes, piece) != 1 || outl != piece)
			st = LWE_PIR_CIPHER_FAILED;
		bytes += piece;
		remaining -= (size_t) piece;
	}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	if (st == LWE_PIR_OK)
	{
		size_t		w;

		for (w = 0; w < (size_t) row_count * LWE_PIR_N; w++)
			out[w] = __builtin_bswap32(out[w]);
	}
#endif
	if (st != LWE_PIR_OK)
		memset(out, 0, (size_t) row_count * A_ROW_BYTES);
	return st;
}

lwe_pir_status
lwe_pir_expand_a(const uint8_t seed[LWE_PIR_SEED_BYTES], uint32_t row_begin,
				 uint32_t row_count, uint32_t *out)
{
	EVP_CIPHER_CTX *ctx;
	lwe_pir_status st;

	if (seed == NULL || (out == NULL && row_count > 0))
		return LWE_PIR_BAD_ARGUMENT;
	if (row_count == 0)
		return LWE_PIR_OK;

	ctx = a_stream_open(seed, row_begin);
	if (ctx == NULL)
	{
		memset(out, 0, (size_t) row_count * A_ROW_BYTES);
		return LWE_PIR_CIPHER_FAILED;
	}
	st = a_stream_read(ctx, row_count, out);
	if (st == LWE_PIR_OK)
	{
		uint8_t		tail[16];
		int			outl = 0;

		if (EVP_EncryptFinal_ex(ctx, tail, &outl) != 1 || outl != 0)
		{
			st = LWE_PIR_CIPHER_FAILED;
			memset(out, 0, (size_t) row_count * A_ROW_BYTES);
		}
	}
	EVP_CIPHER_CTX_free(ctx);
	return st;
}

/*
 * Work handed out in chunks from a shared counter instead of one fixed
 * slice per thread.  The machine may be shared with other work: a thread
 * that loses its core for a while then takes fewer chunks instead of
 * holding up the whole call, which matters for the latency-bound calls of
 * a lookup (query, answer, decode).  crypto_parallel_for starts one worker
 * per thread; each allocates its scratch (scratch_bytes, if any) once and
 * runs fn over chunks until none is left.
 */
typedef int (*chunk_fn) (void *arg, size_t begin, size_t end, void *scratch,
						 size_t *failed_index);

typedef struct chunked_job
{
	chunk_fn	fn;
	void	   *arg;
	size_t		n;
	size_t		chunk;
	size_t		chunks;
	size_t		scratch_bytes;
	size_t		next;			/* next chunk to hand out; atomic */
} chunked_job;

static int
chunked_worker(void *arg, size_t begin __attribute__((unused)), size_t end __attribute__((unused)), size_t *failed_index)
{
	chunked_job *cj = arg;
	void	   *scratch = NULL;
	int			st = 0;

	if (cj->scratch_bytes > 0)
	{
		scratch = malloc(cj->scratch_bytes);
		if (scratch == NULL)
			return LWE_PIR_NO_MEMORY;
	}
	for (;;)
	{
		size_t		k = __atomic_fetch_add(&cj->next, 1, __ATOMIC_RELAXED);
		size_t		b;

		if (k >= cj->chunks)
			break;
		b = k * cj->chunk;
		st = cj->fn(cj->arg, b, cj->n - b < cj->chunk ? cj->n : b + cj->chunk,
					scratch, failed_index);
		if (st != 0)
		{
			/* the call fails as a whole: stop handing out work */
			__atomic_store_n(&cj->next, cj->chunks, __ATOMIC_RELAXED);
			break;
		}
	}
	free(scratch);
	return st;
}

static int
parallel_chunks(size_t n, size_t chunk, size_t scratch_bytes, int nthreads,
				chunk_fn fn, void *arg)
{
	chunked_job cj;

	if (n == 0)
		return 0;
	cj.fn = fn;
	cj.arg = arg;
	cj.n = n;
	cj.chunk = chunk;
	cj.chunks = (n + chunk - 1) / chunk;
	cj.scratch_bytes = scratch_bytes;
	cj.next = 0;
	if (nthreads <= 0)
		nthreads = crypto_cpu_count();
	if ((size_t) nthreads > cj.chunks)
		nthreads = (int) cj.chunks;
	return crypto_parallel_for((size_t) nthreads, nthreads, chunked_worker, &cj, NULL);
}

/* ------------------------------------------------------------------------ */
/* The kernel                                                                */
/* ------------------------------------------------------------------------ */

/* c ≡ lo + 2^16·hi (mod 2^32) with both digits in int16 range. */
static inline void
split_word(uint32_t c, int16_t *lo, int16_t *hi)
{
	int16_t		l = (int16_t) (c & 0xffff);

	*lo = l;
	*hi = (int16_t) ((c - (uint32_t) (int32_t) l) >> 16);
}

static void
split_vector(const uint32_t *c, size_t len, int16_t *lo, int16_t *hi)
{
	size_t		j;

	for (j = 0; j < len; j++)
		split_word(c[j], &lo[j], &hi[j]);
}

/*
 * out[r] = Σ_{j < len} d[r·stride + j] · (lo[j] + 2^16·hi[j]) mod 2^32 for
 * r < 4.  One pass over the four rows reads lo/hi once for all of them.
 */
KERNEL_CLONES static void
dot_rows4(const uint8_t *restrict d, size_t stride, size_t len,
		  const int16_t *restrict lo, const int16_t *restrict hi,
		  uint32_t *restrict out)
{
	const uint8_t *p0 = d;
	const uint8_t *p1 = d + stride;
	const uint8_t *p2 = d + 2 * stride;
	const uint8_t *p3 = d + 3 * stride;
	uint32_t	l0 = 0,
				l1 = 0,
				l2 = 0,
				l3 = 0,
				h0 = 0,
				h1 = 0,
				h2 = 0,
				h3 = 0;
	size_t		j = 0;

	for (; j + KERNEL_BLOCK <= len; j += KERNEL_BLOCK)
	{
		uint32_t	a0 = 0,
					a1 = 0,
					a2 = 0,
					a3 = 0,
					b0 = 0,
					b1 = 0,
					b2 = 0,
					b3 = 0;
		size_t		k;

		for (k = j; k < j + KERNEL_BLOCK; k++)
		{
			int32_t		x = lo[k];
			int32_t		y = hi[k];

			a0 += (uint32_t) ((int32_t) p0[k] * x);
			b0 += (uint32_t) ((int32_t) p0[k] * y);
			a1 += (uint32_t) ((int32_t) p1[k] * x);
			b1 += (uint32_t) ((int32_t) p1[k] * y);
			a2 += (uint32_t) ((int32_t) p2[k] * x);
			b2 += (uint32_t) ((int32_t) p2[k] * y);
			a3 += (uint32_t) ((int32_t) p3[k] * x);
			b3 += (uint32_t) ((int32_t) p3[k] * y);
		}
		l0 += a0;
		l1 += a1;
		l2 += a2;
		l3 += a3;
		h0 += b0;
		h1 += b1;
		h2 += b2;
		h3 += b3;
	}
	for (; j < len; j++)
	{
		int32_t		x = lo[j];
		int32_t		y = hi[j];

		l0 += (uint32_t) ((int32_t) p0[j] * x);
		h0 += (uint32_t) ((int32_t) p0[j] * y);
		l1 += (uint32_t) ((int32_t) p1[j] * x);
		h1 += (uint32_t) ((int32_t) p1[j] * y);
		l2 += (uint32_t) ((int32_t) p2[j] * x);
		h2 += (uint32_t) ((int32_t) p2[j] * y);
		l3 += (uint32_t) ((int32_t) p3[j] * x);
		h3 += (uint32_t) ((int32_t) p3[j] * y);
	}
	out[0] = l0 + (h0 << 16);
	out[1] = l1 + (h1 << 16);
	out[2] = l2 + (h2 << 16);
	out[3] = l3 + (h3 << 16);
}

/* The same for a single row (the last rows % 4 rows of D). */
KERNEL_CLONES static uint32_t
dot_row1(const uint8_t *restrict d, size_t len,
		 const int16_t *restrict lo, const int16_t *restrict hi)
{
	uint32_t	l = 0,
				h = 0;
	size_t		j = 0;

	for (; j + KERNEL_BLOCK <= len; j += KERNEL_BLOCK)
	{
		uint32_t	a = 0,
					b = 0;
		size_t		k;

		for (k = j; k < j + KERNEL_BLOCK; k++)
		{
			a += (uint32_t) ((int32_t) d[k] * (int32_t) lo[k]);
			b += (uint32_t) ((int32_t) d[k] * (int32_t) hi[k]);
		}
		l += a;
		h += b;
	}
	for (; j < len; j++)
	{
		l += (uint32_t) ((int32_t) d[j] * (int32_t) lo[j]);
		h += (uint32_t) ((int32_t) d[j] * (int32_t) hi[j]);
	}
	return l + (h << 16);
}

/*
 * out[r·out_stride] (+)= Σ_j D[row0 + r][j] · v[j] for rows [row0, row0 +
 * nrows) and columns [col0, col0 + len), v given by its digits.
 */
static void
dot_rows(const lwe_pir_layout *layout, const uint8_t *db, size_t row0, size_t nrows,
		 size_t col0, size_t len, const int16_t *lo, const int16_t *hi,
		 uint32_t *out, size_t out_stride, int accumulate)
{
	const size_t stride = layout->cols;
	size_t		r = 0;

	for (; r + KERNEL_ROWS <= nrows; r += KERNEL_ROWS)
	{
		uint32_t	s[KERNEL_ROWS];
		int			i;

		dot_rows4(db + (row0 + r) * stride + col0, stride, len, lo, hi, s);
		for (i = 0; i < KERNEL_ROWS; i++)
		{
			if (accumulate)
				out[(r + i) * out_stride] += s[i];
			else
				out[(r + i) * out_stride] = s[i];
		}
	}
	for (; r < nrows; r++)
	{
		uint32_t	s = dot_row1(db + (row0 + r) * stride + col0, len, lo, hi);

		if (accumulate)
			out[r * out_stride] += s;
		else
			out[r * out_stride] = s;
	}
}

/* Rows of D handed to one crypto_parallel_for index. */
#define ROW_GROUP		(KERNEL_ROWS * 16)

static size_t
row_groups(const lwe_pir_layout *layout)
{
	return ((size_t) layout->rows + ROW_GROUP - 1) / ROW_GROUP;
}

static void
group_rows(const lwe_pir_layout *layout, size_t begin, size_t end,
		   size_t *row0, size_t *nrows)
{
	size_t		r1 = end * ROW_GROUP;

	*row0 = begin * ROW_GROUP;
	if (r1 > layout->rows)
		r1 = layout->rows;
	*nrows = r1 - *row0;
}

/* ------------------------------------------------------------------------ */
/* The owner: answer                                                         */
/* ------------------------------------------------------------------------ */

typedef struct answer_job
{
	const lwe_pir_layout *layout;
	const uint8_t *db;
	size_t		count;
	const int16_t *lo;			/* count × cols digits */
	const int16_t *hi;
	const uint32_t *correction; /* count: 128 · Σ_j c_j */
	uint32_t   *answers;		/* count × rows */
} answer_job;

static int
answer_range(void *arg, size_t begin, size_t end, void *scratch __attribute__((unused)), size_t *failed_index __attribute__((unused)))
{
	answer_job *job = arg;
	const size_t cols = job->layout->cols;
	const size_t rows = job->layout->rows;
	size_t		row0;
	size_t		nrows;
	size_t		r;

	group_rows(job->layout, begin, end, &row0, &nrows);

	/*
	 * Walk D once, KERNEL_ROWS rows at a time; those rows (4 × cols bytes)
	 * stay in cache while every query of the batch passes over them.
	 */
	for (r = 0; r < nrows; r += KERNEL_ROWS)
	{
		size_t		n = nrows - r < KERNEL_ROWS ? nrows - r : KERNEL_ROWS;
		size_t		q;

		for (q = 0; q < job->count; q++)
		{
			uint32_t   *out = job->answers + q * rows + row0 + r;
			size_t		i;

			dot_rows(job->layout, job->db, row0 + r, n, 0, cols,
					 job->lo + q * cols, job->hi + q * cols, out, 1, 0);
			for (i = 0; i < n; i++)
				out[i] -= job->correction[q];
		}
	}
	return 0;
}

lwe_pir_status
lwe_pir_answer_batch(const lwe_pir_layout *layout, const uint8_t *db, size_t count,
					 const uint32_t *queries, uint32_t *answers, int nthreads)
{
	answer_job	job;
	int16_t    *lo;
	int16_t    *hi;
	uint32_t   *correction;
	size_t		cols;
	size_t		q;

	if (layout == NULL || db == NULL || queries == NULL || answers == NULL)
		return LWE_PIR_BAD_ARGUMENT;
	if (layout->rows == 0 || layout->cols == 0 ||
		layout->rows > LWE_PIR_MAX_ROWS || layout->cols > LWE_PIR_MAX_COLS)
		return LWE_PIR_BAD_SHAPE;
	if (count == 0)
		return LWE_PIR_OK;
	cols = layout->cols;
	if (count > SIZE_MAX / (cols * 2 * sizeof(int16_t)))
		return LWE_PIR_NO_MEMORY;

	lo = malloc(count * cols * sizeof(int16_t));
	hi = malloc(count * cols * sizeof(int16_t));
	correction = malloc(count * sizeof(uint32_t));
	if (lo == NULL || hi == NULL || correction == NULL)
	{
		free(lo);
		free(hi);
		free(correction);
		return LWE_PIR_NO_MEMORY;
	}
	for (q = 0; q < count; q++)
	{
		const uint32_t *c = queries + q * cols;
		uint32_t	sum = 0;
		size_t		j;

		split_vector(c, cols, lo + q * cols, hi + q * cols);
		for (j = 0; j < cols; j++)
			sum += c[j];
		correction[q] = CENTRE * sum;
	}

	job.layout = layout;
	job.db = db;
	job.count = count;
	job.lo = lo;
	job.hi = hi;
	job.correction = correction;
	job.answers = answers;
	(void) parallel_chunks(row_groups(layout), 1, 0, nthreads, answer_range, &job);

	free(lo);
	free(hi);
	free(correction);
	return LWE_PIR_OK;
}

lwe_pir_status
lwe_pir_answer(const lwe_pir_layout *layout, const uint8_t *db,
			   const uint32_t *query, uint32_t *answer, int nthreads)
{
	return lwe_pir_answer_batch(layout, db, 1, query, answer, nthreads);
}

/* ------------------------------------------------------------------------ */
/* The owner: hint                                                           */
/* ------------------------------------------------------------------------ */

typedef struct hint_job
{
	const lwe_pir_layout *layout;
	const uint8_t *db;
	const uint8_t *seed;
	uint32_t   *hint;
} hint_job;

/*
 * H's column k is D times A's column k, so the hint is the answer kernel
 * applied to the n columns of A.  Each worker walks A in chunks of
 * HINT_CHUNK rows (expanding them itself: AES-CTR costs little next to the
 * rows·cols·n multiply-adds), stores the chunk transposed as digits, and
 * multiplies its own rows of D by it, so the chunk (1 MiB) is reused from
 * cache by every row.
 */
static int
hint_range(void *arg, size_t begin, size_t end, size_t *failed_index)
{
	hint_job   *job = arg;
	const lwe_pir_layout *layout = job->layout;
	const size_t cols = layout->cols;
	size_t		row0;
	size_t		nrows;
	uint32_t   *a_rows;
	int16_t    *lo;
	int16_t    *hi;
	uint32_t   *col_sum;
	size_t		j0;
	size_t		r;
	size_t		k;
	int			st = LWE_PIR_OK;

	group_rows(layout, begin, end, &row0, &nrows);
	a_rows = malloc((size_t) HINT_CHUNK * A_ROW_BYTES);
	lo = malloc((size_t) HINT_CHUNK * LWE_PIR_N * sizeof(int16_t));
	hi = malloc((size_t) HINT_CHUNK * LWE_PIR_N * sizeof(int16_t));
	col_sum = calloc(LWE_PIR_N, sizeof(uint32_t));
	if (a_rows == NULL || lo == NULL || hi == NULL || col_sum == NULL)
	{
		st = LWE_PIR_NO_MEMORY;
		goto done;
	}

	memset(job->hint + row0 * LWE_PIR_N, 0, nrows * LWE_PIR_N * sizeof(uint32_t));
	for (j0 = 0; j0 < cols; j0 += HINT_CHUNK)
	{
		size_t		len = cols - j0 < HINT_CHUNK ? cols - j0 : HINT_CHUNK;
		size_t		j;

		st = lwe_pir_expand_a(job->seed, (uint32_t) j0, (uint32_t) len, a_rows);
		if (st != LWE_PIR_OK)
			goto done;
		/* transposed: digits of A[j0 + j][k] at k·len + j */
		for (j = 0; j < len; j++)
		{
			const uint32_t *a = a_rows + j * LWE_PIR_N;

			for (k = 0; k < LWE_PIR_N; k++)
			{
				split_word(a[k], &lo[k * len + j], &hi[k * len + j]);
				col_sum[k] += a[k];
			}
		}
		for (r = 0; r < nrows; r += KERNEL_ROWS)
		{
			size_t		n = nrows - r < KERNEL_ROWS ? nrows - r : KERNEL_ROWS;
			uint32_t   *h = job->hint + (row0 + r) * LWE_PIR_N;

			for (k = 0; k < LWE_PIR_N; k++)
				dot_rows(layout, job->db, row0 + r, n, j0, len,
						 lo + k * len, hi + k * len, h + k, LWE_PIR_N, 1);
		}
	}

	/* (D − 128)·A = D·A − 128 · (column sums of A) in every row */
	for (r = 0; r < nrows; r++)
	{
		uint32_t   *h = job->hint + (row0 + r) * LWE_PIR_N;

		for (k = 0; k < LWE_PIR_N; k++)
			h[k] -= CENTRE * col_sum[k];
	}

done:
	free(a_rows);
	free(lo);
	free(hi);
	free(col_sum);
	if (st != LWE_PIR_OK)
		*failed_index = begin;
	return st;
}

lwe_pir_status
lwe_pir_hint(const lwe_pir_layout *layout, const uint8_t *db,
			 const uint8_t seed[LWE_PIR_SEED_BYTES], uint32_t *hint, int nthreads)
{
	hint_job	job;
	int			st;

	if (layout == NULL || db == NULL || seed == NULL || hint == NULL)
		return LWE_PIR_BAD_ARGUMENT;
	if (layout->rows == 0 || layout->cols == 0 ||
		layout->rows > LWE_PIR_MAX_ROWS || layout->cols > LWE_PIR_MAX_COLS)
		return LWE_PIR_BAD_SHAPE;

	job.layout = layout;
	job.db = db;
	job.seed = seed;
	job.hint = hint;
	st = crypto_parallel_for(row_groups(layout), nthreads, hint_range, &job, NULL);
	return (lwe_pir_status) st;
}

/* ------------------------------------------------------------------------ */
/* The asker: query and decode                                               */
/* ------------------------------------------------------------------------ */

/*
 * out[0] = a·s0 and out[1] = a·s1 mod 2^32 for one row a of A (or of H) and
 * two secrets.  Both products share every load of a.  The fixed trip count
 * lets GCC's -O2 vectoriser use one vpmulld per 8 words per secret in the
 * AVX2 clone; the x86-64 baseline has no 32-bit lane multiply and emulates
 * it with pmuludq and shuffles, about three times slower.
 */
KERNEL_CLONES static void
dot_words2(const uint32_t *restrict a, const uint32_t *restrict s0,
		   const uint32_t *restrict s1, uint32_t *restrict out)
{
	uint32_t	d0 = 0;
	uint32_t	d1 = 0;
	int			k;

	for (k = 0; k < LWE_PIR_N; k++)
	{
		d0 += a[k] * s0[k];
		d1 += a[k] * s1[k];
	}
	out[0] = d0;
	out[1] = d1;
}

/* a·s mod 2^32 for one row and one secret (an odd secret out). */
KERNEL_CLONES static uint32_t
dot_words1(const uint32_t *restrict a, const uint32_t *restrict s)
{
	uint32_t	d = 0;
	int			k;

	for (k = 0; k < LWE_PIR_N; k++)
		d += a[k] * s[k];
	return d;
}

typedef struct query_job
{
	const lwe_pir_layout *layout;
	const uint8_t *seed;
	size_t		count;
	const lwe_pir_secret *secrets;
	uint32_t   *queries;
} query_job;

/*
 * Rows [begin, end) of every query, c_j = e_j + Δ·[j = col] + (A·s)_j, built
 * by the worker that took them.  The worker samples their errors (the
 * randomness and the table walk cost about as much as the products, so they
 * are spread over the workers too), then expands those rows of A a chunk at
 * a time into its scratch, once for all count queries, and multiplies the
 * chunk (in cache) by the secrets a pair at a time, so each row of A is
 * loaded once per pair and each pair of secrets once per chunk.
 */
static int
query_range(void *arg, size_t begin, size_t end, void *scratch, size_t *failed_index)
{
	query_job  *job = arg;
	const size_t cols = job->layout->cols;
	uint32_t   *a_rows = scratch;
	EVP_CIPHER_CTX *ctx;
	size_t		j0;
	size_t		q;
	int			st = LWE_PIR_OK;

	for (q = 0; q < job->count; q++)
	{
		uint32_t   *c = job->queries + q * cols;
		uint32_t	want = job->secrets[q].col;
		size_t		j;

		st = sample_errors_u32(c + begin, end - begin);
		if (st != LWE_PIR_OK)
			return st;
		/* the unit vector, added without a secret-indexed write */
		for (j = begin; j < end; j++)
		{
			uint64_t	diff = (uint64_t) ((uint32_t) j ^ want);
			uint32_t	same = (uint32_t) ((diff - 1) >> 63);

			c[j] += LWE_PIR_DELTA & (0u - same);
		}
	}

	ctx = a_stream_open(job->seed, (uint32_t) begin);
	if (ctx == NULL)
		return LWE_PIR_CIPHER_FAILED;
	for (j0 = begin; j0 < end; j0 += QUERY_CHUNK)
	{
		size_t		len = end - j0 < QUERY_CHUNK ? end - j0 : QUERY_CHUNK;
		size_t		j;

		st = a_stream_read(ctx, (uint32_t) len, a_rows);
		if (st != LWE_PIR_OK)
		{
			*failed_index = j0;
			break;
		}
		for (q = 0; q + 1 < job->count; q += 2)
		{
			uint32_t   *c0 = job->queries + q * cols + j0;
			uint32_t   *c1 = c0 + cols;

			for (j = 0; j < len; j++)
			{
				uint32_t	d[2];

				dot_words2(a_rows + j * LWE_PIR_N, job->secrets[q].s,
						   job->secrets[q + 1].s, d);
				c0[j] += d[0];
				c1[j] += d[1];
			}
		}
		if (q < job->count)
		{
			uint32_t   *c0 = job->queries + q * cols + j0;

			for (j = 0; j < len; j++)
				c0[j] += dot_words1(a_rows + j * LWE_PIR_N, job->secrets[q].s);
		}
	}
	EVP_CIPHER_CTX_free(ctx);
	return st;
}

lwe_pir_status
lwe_pir_query_batch(const lwe_pir_layout *layout,
					const uint8_t seed[LWE_PIR_SEED_BYTES], size_t count,
					const uint32_t *cols_asked, uint32_t *queries,
					lwe_pir_secret *secrets, int nthreads)
{
	query_job	job;
	size_t		q;
	lwe_pir_status st;

	if (layout == NULL || seed == NULL || cols_asked == NULL ||
		queries == NULL || secrets == NULL)
		return LWE_PIR_BAD_ARGUMENT;
	if (layout->rows == 0 || layout->cols == 0 ||
		layout->rows > LWE_PIR_MAX_ROWS || layout->cols > LWE_PIR_MAX_COLS)
		return LWE_PIR_BAD_SHAPE;
	for (q = 0; q < count; q++)
		if (cols_asked[q] >= layout->cols)
			return LWE_PIR_BAD_COLUMN;
	if (count == 0)
		return LWE_PIR_OK;
	st = lwe_pir_init();
	if (st != LWE_PIR_OK)
		return st;

	for (q = 0; q < count; q++)
	{
		randombytes_buf(secrets[q].s, sizeof(secrets[q].s));
		secrets[q].col = cols_asked[q];
	}

	job.layout = layout;
	job.seed = seed;
	job.count = count;
	job.secrets = secrets;
	job.queries = queries;
	st = (lwe_pir_status) parallel_chunks(layout->cols, QUERY_SHARE,
										  (size_t) QUERY_CHUNK * A_ROW_BYTES, nthreads,
										  query_range, &job);
	if (st == LWE_PIR_OK)
		return LWE_PIR_OK;

	/* a half-built query would leak e; secrets are useless without it */
	sodium_memzero(queries, count * layout->cols * sizeof(uint32_t));
	for (q = 0; q < count; q++)
		lwe_pir_secret_wipe(&secrets[q]);
	return st;
}

lwe_pir_status
lwe_pir_query(const lwe_pir_layout *layout, const uint8_t seed[LWE_PIR_SEED_BYTES],
			  uint32_t col, uint32_t *query, lwe_pir_secret *secret, int nthreads)
{
	return lwe_pir_query_batch(layout, seed, 1, &col, query, secret, nthreads);
}

typedef struct decode_job
{
	const lwe_pir_layout *layout;
	const uint32_t *hint;
	size_t		count;
	const lwe_pir_secret *secrets;
	const uint32_t *answers;
	uint8_t    *columns;
} decode_job;

/* v = Δ·(d − 128) + noise for v = a − H·s: round to the nearest multiple of Δ. */
static inline uint8_t
decode_word(uint32_t answer, uint32_t hs)
{
	uint32_t	v = answer - hs;

	return (uint8_t) (((v + (LWE_PIR_DELTA >> 1)) >> 24) + CENTRE);
}

/*
 * Rows [begin, end) of every column.  Each row of H (4 KiB) is read once
 * per pair of secrets, so a keyword lookup's two decodes cost one pass over
 * the hint, not two.
 */
static int
decode_range(void *arg, size_t begin, size_t end, void *scratch __attribute__((unused)), size_t *failed_index __attribute__((unused)))
{
	decode_job *job = arg;
	const size_t rows = job->layout->rows;
	size_t		r;

	for (r = begin; r < end; r++)
	{
		const uint32_t *h = job->hint + r * LWE_PIR_N;
		size_t		q;

		for (q = 0; q + 1 < job->count; q += 2)
		{
			uint32_t	hs[2];

			dot_words2(h, job->secrets[q].s, job->secrets[q + 1].s, hs);
			job->columns[q * rows + r] = decode_word(job->answers[q * rows + r], hs[0]);
			job->columns[(q + 1) * rows + r] =
				decode_word(job->answers[(q + 1) * rows + r], hs[1]);
		}
		if (q < job->count)
			job->columns[q * rows + r] =
				decode_word(job->answers[q * rows + r], dot_words1(h, job->secrets[q].s));
	}
	return 0;
}

lwe_pir_status
lwe_pir_decode_batch(const lwe_pir_layout *layout, const uint32_t *hint, size_t count,
					 const lwe_pir_secret *secrets, const uint32_t *answers,
					 uint8_t *columns, int nthreads)
{
	decode_job	job;
	size_t		q;

	if (layout == NULL || hint == NULL || secrets == NULL || answers == NULL ||
		columns == NULL)
		return LWE_PIR_BAD_ARGUMENT;
	if (layout->rows == 0 || layout->rows > LWE_PIR_MAX_ROWS)
		return LWE_PIR_BAD_SHAPE;
	for (q = 0; q < count; q++)
		if (secrets[q].col >= layout->cols)
			return LWE_PIR_BAD_COLUMN;

	job.layout = layout;
	job.hint = hint;
	job.count = count;
	job.secrets = secrets;
	job.answers = answers;
	job.columns = columns;
	if (count > 0)
		(void) parallel_chunks(layout->rows, DECODE_SHARE, 0, nthreads, decode_range, &job);
	return LWE_PIR_OK;
}

lwe_pir_status
lwe_pir_decode(const lwe_pir_layout *layout, const uint32_t *hint,
			   const lwe_pir_secret *secret, const uint32_t *answer, uint8_t *column)
{
	return lwe_pir_decode_batch(layout, hint, 1, secret, answer, column, 1);
}

void
lwe_pir_secret_wipe(lwe_pir_secret *secret)
{
	if (secret != NULL)
		sodium_memzero(secret, sizeof(*secret));
}
