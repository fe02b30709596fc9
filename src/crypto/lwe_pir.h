/*
 * lwe_pir.h — single-server PIR over bytes from LWE, SimplePIR-style
 * (docs/architecture.md, protocol 4; docs/pir-design.md has the parameters, the
 * correctness bound and the sizes).
 *
 * The owner's database D is a byte matrix of `rows` (ℓ) × `cols` (m), stored
 * row-major; a record lives in one column.  With the public matrix A (m × n,
 * expanded from a seed) the owner publishes the hint H = D·A once; a query
 * for column j is c = A·s + e + Δ·u_j, the answer is a = D·c, and the asker
 * recovers column j from a − H·s.  All arithmetic is mod q = 2^32, i.e.
 * native uint32 wraparound.  D's bytes enter the products centred, as
 * d − 128, which keeps the noise term small (docs/pir-design.md §2).
 *
 * Pure C over libsodium (randomness) and OpenSSL EVP (AES-128-CTR for A): no
 * PostgreSQL calls, so everything here may run on the worker threads of
 * parallel.c.  Scratch memory comes from malloc, never palloc, for the same
 * reason; it is freed before every return.  Outputs are caller-allocated.
 */
#ifndef PGPRIV_CRYPTO_LWE_PIR_H
#define PGPRIV_CRYPTO_LWE_PIR_H

#include <stddef.h>
#include <stdint.h>

/* LWE parameters (issue 4; security source in docs/pir-design.md §1). */
#define LWE_PIR_N			1024	/* secret dimension n */
#define LWE_PIR_LOG_Q		32		/* q = 2^32: uint32 arithmetic */
#define LWE_PIR_P			256		/* plaintext modulus: one byte */
#define LWE_PIR_DELTA		(UINT32_C(1) << 24) /* Δ = q / p */
#define LWE_PIR_SIGMA		11.0	/* error standard deviation */
#define LWE_PIR_ERROR_BOUND 132		/* errors cut off at 12σ */
#define LWE_PIR_SEED_BYTES	16		/* AES-128 key that expands A */

/*
 * Largest number of columns m for which one decoded byte is wrong with
 * probability below 2^-40.  The noise of a decoded entry is Σ_i d_i·e_i over
 * the m columns, |d_i| ≤ 128, e_i σ-subgaussian, so it is subgaussian with
 * parameter 128·σ·√m and P(|noise| ≥ Δ/2) ≤ 2·exp(−(Δ/2)² / (2·128²·σ²·m)).
 * Requiring that to be ≤ 2^-40:
 *     m ≤ 2^46 / (2 · 2^14 · 121 · 41·ln 2) = 2^31 / (121 · 28.41903…)
 *       = 624 503.9…
 * The layout helpers refuse anything wider (docs/pir-design.md §2).
 */
#define LWE_PIR_MAX_COLS	624503

/* Rows are limited only so that sizes stay far from overflow. */
#define LWE_PIR_MAX_ROWS	(UINT32_C(1) << 24)

typedef enum lwe_pir_status
{
	LWE_PIR_OK = 0,
	LWE_PIR_BAD_SHAPE,			/* zero rows/columns, or past the limits */
	LWE_PIR_BAD_COLUMN,			/* a column index ≥ cols */
	LWE_PIR_BAD_ARGUMENT,		/* a null pointer or zero record size */
	LWE_PIR_NO_MEMORY,			/* malloc failed */
	LWE_PIR_CIPHER_FAILED,		/* an OpenSSL EVP call failed */
	LWE_PIR_INIT_FAILED			/* sodium_init or the sampler's table check */
} lwe_pir_status;

/* Human-readable reason, for errdetail (never contains secret bytes). */
extern const char *lwe_pir_status_reason(lwe_pir_status st);

/*
 * The shape of D.  A column holds slots_per_col records of slot_bytes each:
 * slot t of column j is rows t·slot_bytes … (t+1)·slot_bytes − 1 of column
 * j.  rows = slots_per_col · slot_bytes (lwe_pir_layout_for_shape sets
 * slot_bytes = rows and slots_per_col = 1).
 */
typedef struct lwe_pir_layout
{
	uint32_t	rows;			/* ℓ */
	uint32_t	cols;			/* m ≤ LWE_PIR_MAX_COLS */
	uint32_t	slot_bytes;
	uint32_t	slots_per_col;
} lwe_pir_layout;

/*
 * The asker's per-query secret: s and the column asked.  Wipe it with
 * lwe_pir_secret_wipe once decoded.  4 KiB; keep it off small stacks.
 */
typedef struct lwe_pir_secret
{
	uint32_t	s[LWE_PIR_N];
	uint32_t	col;
} lwe_pir_secret;

/*
 * Builds the error sampler's table and initialises libsodium.  Idempotent and
 * thread-safe; every function below that samples calls it, so calling it
 * early (e.g. from _PG_init) only moves the one-off cost.
 */
extern lwe_pir_status lwe_pir_init(void);

/* --- layout -------------------------------------------------------------- */

/* An explicit shape, checked against the limits. */
extern lwe_pir_status lwe_pir_layout_for_shape(uint32_t rows, uint32_t cols,
											   lwe_pir_layout *layout);

/*
 * The shape for n_records records of record_bytes each, packed densely:
 * record i is slot i % slots_per_col of column i / slots_per_col.  Chooses
 * slots_per_col so that rows ≈ cols / 4 (i.e. rows ≈ √(size/4)), which
 * balances the hint (rows × n words) against the query (cols words), and
 * widens the columns instead when cols would pass LWE_PIR_MAX_COLS.
 */
extern lwe_pir_status lwe_pir_layout_for_records(uint64_t n_records,
												 uint32_t record_bytes,
												 lwe_pir_layout *layout);

/* Sizes in bytes (a checked layout never overflows size_t on 64-bit). */
extern size_t lwe_pir_db_bytes(const lwe_pir_layout *layout);		/* rows × cols */
extern size_t lwe_pir_hint_bytes(const lwe_pir_layout *layout);	/* rows × n × 4 */
extern size_t lwe_pir_query_bytes(const lwe_pir_layout *layout);	/* cols × 4 */
extern size_t lwe_pir_answer_bytes(const lwe_pir_layout *layout);	/* rows × 4 */

/* Copy a record into / out of slot `slot` of column `col` of D. */
extern lwe_pir_status lwe_pir_db_put_slot(const lwe_pir_layout *layout, uint8_t *db,
										  uint32_t col, uint32_t slot,
										  const uint8_t *record);
extern lwe_pir_status lwe_pir_db_get_slot(const lwe_pir_layout *layout, const uint8_t *db,
										  uint32_t col, uint32_t slot,
										  uint8_t *record);

/* --- the public matrix A -------------------------------------------------- */

/*
 * Rows [row_begin, row_begin + row_count) of A into out (row_count × n
 * words).  A's row j, word k is the little-endian uint32 at byte offset
 * 4·(j·n + k) of the AES-128-CTR keystream under key = seed, counter block
 * starting at 0 (big-endian 128-bit, as OpenSSL increments it), so any row
 * can be expanded on its own.
 */
extern lwe_pir_status lwe_pir_expand_a(const uint8_t seed[LWE_PIR_SEED_BYTES],
									   uint32_t row_begin, uint32_t row_count,
									   uint32_t *out);

/* --- the owner ------------------------------------------------------------ */

/*
 * H = (D − 128)·A mod 2^32, rows × n words, row-major.  Cost rows·cols·n
 * multiply-adds, spread over nthreads (≤ 0: all CPUs) by row blocks.
 */
extern lwe_pir_status lwe_pir_hint(const lwe_pir_layout *layout, const uint8_t *db,
								   const uint8_t seed[LWE_PIR_SEED_BYTES],
								   uint32_t *hint, int nthreads);

/* a = (D − 128)·c mod 2^32: one pass over D.  query: cols words; answer: rows. */
extern lwe_pir_status lwe_pir_answer(const lwe_pir_layout *layout, const uint8_t *db,
									 const uint32_t *query, uint32_t *answer,
									 int nthreads);

/*
 * count queries answered in one pass over D (a keyword lookup sends two per
 * key).  queries: count × cols words, query i at queries + i·cols; answers:
 * count × rows words, answer i at answers + i·rows.  Answer i is exactly
 * lwe_pir_answer of query i.
 */
extern lwe_pir_status lwe_pir_answer_batch(const lwe_pir_layout *layout,
										   const uint8_t *db, size_t count,
										   const uint32_t *queries, uint32_t *answers,
										   int nthreads);

/* --- the asker ------------------------------------------------------------ */

/*
 * count queries for columns cols_asked[0..count) with fresh s and e from
 * randombytes_buf: query i (cols words at queries + i·layout->cols) and its
 * secret secrets[i].  A is expanded once for all count queries, and each
 * row of it is multiplied by the secrets two at a time while in cache.
 */
extern lwe_pir_status lwe_pir_query_batch(const lwe_pir_layout *layout,
										  const uint8_t seed[LWE_PIR_SEED_BYTES],
										  size_t count, const uint32_t *cols_asked,
										  uint32_t *queries, lwe_pir_secret *secrets,
										  int nthreads);

/* One query: lwe_pir_query_batch with count = 1. */
extern lwe_pir_status lwe_pir_query(const lwe_pir_layout *layout,
									const uint8_t seed[LWE_PIR_SEED_BYTES],
									uint32_t col, uint32_t *query,
									lwe_pir_secret *secret, int nthreads);

/*
 * Column secret->col of D (rows bytes) from an answer and the hint: round
 * (a − H·s) / Δ and undo the centring.  Wrong with probability < 2^-40 per
 * byte for an honest answer; a wrong secret or a tampered answer gives bytes
 * unrelated to D (the keyword layer's tag and AEAD catch that).
 */
extern lwe_pir_status lwe_pir_decode(const lwe_pir_layout *layout, const uint32_t *hint,
									 const lwe_pir_secret *secret,
									 const uint32_t *answer, uint8_t *column);

/*
 * count columns decoded in one pass over the hint: column i (rows bytes at
 * columns + i·rows) from answer i (rows words at answers + i·rows) and
 * secrets[i].  Column i is exactly lwe_pir_decode of answer i; a keyword
 * lookup decodes its two answers this way, reading each row of H once.
 * Parallel over rows of H on nthreads (≤ 0: all CPUs).
 */
extern lwe_pir_status lwe_pir_decode_batch(const lwe_pir_layout *layout,
										   const uint32_t *hint, size_t count,
										   const lwe_pir_secret *secrets,
										   const uint32_t *answers, uint8_t *columns,
										   int nthreads);

extern void lwe_pir_secret_wipe(lwe_pir_secret *secret);

/*
 * count error samples from the discrete Gaussian (σ = 11, |e| ≤ 132) into out,
 * with fresh randomness.  Exposed for the tests of the sampler.
 */
extern lwe_pir_status lwe_pir_sample_errors(int32_t *out, size_t count);

#endif
