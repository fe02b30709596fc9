/*
 * test_lwe_pir.c — the pure-C LWE PIR core and its keyword layout, no
 * server needed.  Prints TAP, so `prove test/crypto/test_lwe_pir` runs it.
 *
 * Build: make test/crypto/test_lwe_pir
 */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/lwe_pir.h"
#include "crypto/parallel.h"
#include "crypto/pir_cuckoo.h"

#include "tap.h"

static void *
xmalloc(size_t size)
{
	void	   *p = malloc(size > 0 ? size : 1);

	if (p == NULL)
	{
		printf("Bail out! out of memory\n");
		exit(2);
	}
	return p;
}

static uint32_t
uniform(uint32_t bound)
{
	return randombytes_uniform(bound);
}

/* column j of D, read directly (the expected decoding) */
static void
column_of(const lwe_pir_layout *layout, const uint8_t *db, uint32_t j, uint8_t *out)
{
	size_t		r;

	for (r = 0; r < layout->rows; r++)
		out[r] = db[r * layout->cols + j];
}

/*
 * The fixture of a PIR test: the layout of a rows × cols shape, a random
 * database and a random seed (in that order, from randombytes), room for
 * the hint (with_hint) and for count queries and count answers.  Returns 0
 * (nothing allocated) when the shape is refused.
 */
typedef struct pir_fixture
{
	lwe_pir_layout layout;
	uint8_t		seed[LWE_PIR_SEED_BYTES];
	uint8_t    *db;
	uint32_t   *hint;			/* NULL without with_hint */
	uint32_t   *queries;
	uint32_t   *answers;
} pir_fixture;

static int
pir_fixture_make(pir_fixture *f, uint32_t rows, uint32_t cols, size_t count, int with_hint)
{
	if (lwe_pir_layout_for_shape(rows, cols, &f->layout) != LWE_PIR_OK)
		return 0;
	f->db = xmalloc(lwe_pir_db_bytes(&f->layout));
	f->hint = with_hint ? xmalloc(lwe_pir_hint_bytes(&f->layout)) : NULL;
	f->queries = xmalloc(count * lwe_pir_query_bytes(&f->layout));
	f->answers = xmalloc(count * lwe_pir_answer_bytes(&f->layout));
	randombytes_buf(f->db, lwe_pir_db_bytes(&f->layout));
	randombytes_buf(f->seed, sizeof(f->seed));
	return 1;
}

static void
pir_fixture_free(pir_fixture *f)
{
	free(f->db);
	free(f->hint);
	free(f->queries);
	free(f->answers);
}

/* ------------------------------------------------------------------------ */

static void
test_sampler(void)
{
	const size_t n = 1000000;
	int32_t    *e = xmalloc(n * sizeof(int32_t));
	double		sum = 0.0;
	double		sumsq = 0.0;
	double		mean;
	double		var;
	int32_t		max_abs = 0;
	size_t		zeros = 0;
	size_t		positive = 0;
	size_t		negative = 0;
	size_t		within_sigma = 0;
	double		expected_zero;
	double		expected_within = 0.0;
	double		norm = 0.0;
	size_t		i;
	int			k;

	ok(lwe_pir_sample_errors(e, n) == LWE_PIR_OK, "sampler draws 10^6 errors");
	for (i = 0; i < n; i++)
	{
		int32_t		a = e[i] < 0 ? -e[i] : e[i];

		sum += e[i];
		sumsq += (double) e[i] * e[i];
		if (a > max_abs)
			max_abs = a;
		zeros += (e[i] == 0);
		positive += (e[i] > 0);
		negative += (e[i] < 0);
		within_sigma += (a <= 11);
	}
	mean = sum / n;
	var = sumsq / n - mean * mean;
	diag("mean %.4f, variance %.3f, max |e| %d, P(0) %.5f", mean, var, max_abs,
		 (double) zeros / n);

	/* std error of the mean: 11/1000; of the variance: 121·sqrt(2/n) ≈ 0.17 */
	ok(fabs(mean) < 0.06, "sampler mean is about 0 (%.4f)", mean);
	ok(fabs(var - 121.0) < 1.0, "sampler variance is about sigma^2 = 121 (%.3f)", var);
	ok(max_abs <= LWE_PIR_ERROR_BOUND, "no error beyond 12 sigma (max %d)", max_abs);

	for (k = -LWE_PIR_ERROR_BOUND; k <= LWE_PIR_ERROR_BOUND; k++)
	{
		norm += exp(-(double) k * k / 242.0);
		if (k >= -11 && k <= 11)
			expected_within += exp(-(double) k * k / 242.0);
	}
	expected_zero = n / norm;
	expected_within /= norm;
	/* binomial std ≈ sqrt(n p) ≈ 190 */
	ok(fabs((double) zeros - expected_zero) < 6.0 * sqrt(expected_zero),
	   "P(e = 0) matches the discrete Gaussian (%zu vs %.0f expected)", zeros,
	   expected_zero);
	ok(fabs((double) positive - (double) negative) < 6.0 * sqrt((double) n),
	   "errors are symmetric (%zu positive, %zu negative)", positive, negative);
	/* P(|e| <= 11) ≈ 0.7044 for the discrete Gaussian; binomial std < 0.0005 */
	ok(fabs((double) within_sigma / n - expected_within) < 0.003,
	   "mass within one sigma as expected (%.4f vs %.4f)", (double) within_sigma / n,
	   expected_within);
	free(e);
}

static void
test_expand_a(void)
{
	uint8_t		seed1[LWE_PIR_SEED_BYTES];
	uint8_t		seed2[LWE_PIR_SEED_BYTES];
	const uint32_t rows = 40;
	uint32_t   *a1 = xmalloc((size_t) rows * LWE_PIR_N * 4);
	uint32_t   *a2 = xmalloc((size_t) rows * LWE_PIR_N * 4);
	uint32_t   *a3 = xmalloc((size_t) rows * LWE_PIR_N * 4);
	uint32_t   *part = xmalloc((size_t) 7 * LWE_PIR_N * 4);
	size_t		same = 0;
	size_t		i;
	double		mean = 0.0;

	randombytes_buf(seed1, sizeof(seed1));
	memcpy(seed2, seed1, sizeof(seed2));
	seed2[0] ^= 1;
	ok(lwe_pir_expand_a(seed1, 0, rows, a1) == LWE_PIR_OK &&
	   lwe_pir_expand_a(seed1, 0, rows, a2) == LWE_PIR_OK &&
	   memcmp(a1, a2, (size_t) rows * LWE_PIR_N * 4) == 0,
	   "A expansion is deterministic from the seed");
	ok(lwe_pir_expand_a(seed2, 0, rows, a3) == LWE_PIR_OK, "A expands from a second seed");
	for (i = 0; i < (size_t) rows * LWE_PIR_N; i++)
		same += (a1[i] == a3[i]);
	ok(same < 4, "a different seed gives a different A (%zu equal words)", same);
	ok(lwe_pir_expand_a(seed1, 29, 7, part) == LWE_PIR_OK &&
	   memcmp(part, a1 + (size_t) 29 * LWE_PIR_N, (size_t) 7 * LWE_PIR_N * 4) == 0,
	   "rows of A expanded on their own equal the same rows of a full expansion");
	for (i = 0; i < (size_t) rows * LWE_PIR_N; i++)
		mean += a1[i] / 4294967296.0;
	mean /= (double) rows * LWE_PIR_N;
	ok(fabs(mean - 0.5) < 0.01, "A's words look uniform (mean/q = %.4f)", mean);
	free(a1);
	free(a2);
	free(a3);
	free(part);
}

static void
test_layouts(void)
{
	lwe_pir_layout l;
	lwe_pir_status st;

	st = lwe_pir_layout_for_records(1562500, 64, &l);
	ok(st == LWE_PIR_OK &&
	   l.rows == l.slots_per_col * 64u && (uint64_t) l.cols * l.slots_per_col >= 1562500 &&
	   l.rows * 5 > l.cols && l.rows * 3 < l.cols,
	   "100 MB of 64-byte records: rows %u, cols %u (rows about cols/4)", l.rows, l.cols);
	st = lwe_pir_layout_for_records(UINT64_C(2000000000), 64, &l);
	ok(st == LWE_PIR_OK && l.cols <= LWE_PIR_MAX_COLS &&
	   (uint64_t) l.cols * l.slots_per_col >= UINT64_C(2000000000),
	   "128 GB of records stay within the column bound (cols %u, rows %u)", l.cols, l.rows);
	ok(lwe_pir_layout_for_shape(10, LWE_PIR_MAX_COLS + 1, &l) == LWE_PIR_BAD_SHAPE &&
	   lwe_pir_layout_for_shape(10, LWE_PIR_MAX_COLS, &l) == LWE_PIR_OK &&
	   lwe_pir_layout_for_shape(0, 5, &l) == LWE_PIR_BAD_SHAPE,
	   "an explicit shape past the noise bound is refused");
}

/* One database: hint, then queries for a few columns on 1..3 threads. */
static int
round_trip(uint32_t rows, uint32_t cols, int nthreads, int lookups)
{
	pir_fixture f;
	uint8_t    *got;
	uint8_t    *want;
	lwe_pir_secret *secret = xmalloc(sizeof(lwe_pir_secret));
	int			good = 1;
	int			i;

	if (!pir_fixture_make(&f, rows, cols, 1, 1))
		return 0;
	got = xmalloc(rows);
	want = xmalloc(rows);
	/* the extremes of the centring, 0 and 255, in the first column */
	for (i = 0; i < (int) rows; i++)
		f.db[(size_t) i * cols] = (i & 1) ? 255 : 0;

	if (lwe_pir_hint(&f.layout, f.db, f.seed, f.hint, nthreads) != LWE_PIR_OK)
		good = 0;
	for (i = 0; good && i < lookups; i++)
	{
		uint32_t	j = i == 0 ? 0 : i == 1 ? cols - 1 : uniform(cols);

		if (lwe_pir_query(&f.layout, f.seed, j, f.queries, secret, nthreads) != LWE_PIR_OK ||
			lwe_pir_answer(&f.layout, f.db, f.queries, f.answers, nthreads) != LWE_PIR_OK ||
			lwe_pir_decode(&f.layout, f.hint, secret, f.answers, got) != LWE_PIR_OK)
			good = 0;
		column_of(&f.layout, f.db, j, want);
		if (memcmp(got, want, rows) != 0)
			good = 0;
		lwe_pir_secret_wipe(secret);
	}
	pir_fixture_free(&f);
	free(got);
	free(want);
	free(secret);
	return good;
}

static void
test_round_trips(void)
{
	static const uint32_t shapes[][3] = {
		/* rows, cols, threads */
		{1, 1, 1},
		{1, 2, 2},
		{3, 5, 1},
		{4, 256, 2},
		{5, 255, 3},
		{7, 257, 2},
		{13, 1000, 1},
		{64, 513, 2},
		{67, 2049, 3},
		{130, 769, 2},
		{257, 300, 2},
	};
	size_t		i;

	for (i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++)
		ok(round_trip(shapes[i][0], shapes[i][1], (int) shapes[i][2], 6),
		   "hint/query/answer/decode recovers every byte, %u x %u on %u thread(s)",
		   shapes[i][0], shapes[i][1], shapes[i][2]);
}

/*
 * 10^4 random lookups on a 512 × 4096 (2 MB) database, 100 queries per
 * batch, counting every wrong byte; also the largest noise seen.
 */
static void
test_many_lookups(void)
{
	const uint32_t rows = 512;
	const uint32_t cols = 4096;
	const size_t total = 10000;
	const size_t batch = 100;
	pir_fixture f;
	uint32_t   *asked = xmalloc(batch * sizeof(uint32_t));
	lwe_pir_secret *secrets = xmalloc(batch * sizeof(lwe_pir_secret));
	uint8_t    *got = xmalloc(rows);
	uint8_t    *want = xmalloc(rows);
	size_t		wrong_bytes = 0;
	size_t		done;
	int			calls_ok = 1;
	double		max_noise = 0.0;

	(void) pir_fixture_make(&f, rows, cols, batch, 1);
	if (lwe_pir_hint(&f.layout, f.db, f.seed, f.hint, 0) != LWE_PIR_OK)
		calls_ok = 0;

	for (done = 0; calls_ok && done < total; done += batch)
	{
		size_t		q;

		for (q = 0; q < batch; q++)
			asked[q] = uniform(cols);
		if (lwe_pir_query_batch(&f.layout, f.seed, batch, asked, f.queries, secrets, 0) != LWE_PIR_OK ||
			lwe_pir_answer_batch(&f.layout, f.db, batch, f.queries, f.answers, 0) != LWE_PIR_OK)
		{
			calls_ok = 0;
			break;
		}
		for (q = 0; q < batch; q++)
		{
			size_t		r;

			if (lwe_pir_decode(&f.layout, f.hint, &secrets[q], f.answers + q * rows, got) != LWE_PIR_OK)
				calls_ok = 0;
			column_of(&f.layout, f.db, asked[q], want);
			for (r = 0; r < rows; r++)
				wrong_bytes += (got[r] != want[r]);

			/* noise of the first batch: a − H·s − Δ·(d − 128) */
			if (done == 0)
			{
				for (r = 0; r < rows; r++)
				{
					uint32_t	hs = 0;
					int32_t		noise;
					int			k;

					for (k = 0; k < LWE_PIR_N; k++)
						hs += f.hint[r * LWE_PIR_N + k] * secrets[q].s[k];
					noise = (int32_t) (f.answers[q * rows + r] - hs -
									   LWE_PIR_DELTA * (uint32_t) (want[r] - 128));
					if (fabs((double) noise) > max_noise)
						max_noise = fabs((double) noise);
				}
			}
			lwe_pir_secret_wipe(&secrets[q]);
		}
	}
	diag("largest noise in 100 lookups x 512 bytes: %.0f (decoding fails at 2^23 = 8388608;"
		 " predicted std %.0f)", max_noise, 128.0 / sqrt(3.0) * 11.0 * sqrt((double) cols));
	ok(calls_ok && done == total && wrong_bytes == 0,
	   "10^4 random lookups, %zu bytes decoded, %zu wrong", done * rows, wrong_bytes);
	pir_fixture_free(&f);
	free(asked);
	free(secrets);
	free(got);
	free(want);
}

static void
test_batch_equals_single(void)
{
	const uint32_t rows = 37;
	const uint32_t cols = 1283;
	const size_t count = 5;
	pir_fixture f;
	uint32_t   *single = xmalloc(rows * sizeof(uint32_t));
	uint32_t	asked[5];
	lwe_pir_secret *secrets = xmalloc(count * sizeof(lwe_pir_secret));
	int			same = 1;
	size_t		q;

	(void) pir_fixture_make(&f, rows, cols, count, 0);
	for (q = 0; q < count; q++)
		asked[q] = uniform(cols);
	if (lwe_pir_query_batch(&f.layout, f.seed, count, asked, f.queries, secrets, 2) != LWE_PIR_OK ||
		lwe_pir_answer_batch(&f.layout, f.db, count, f.queries, f.answers, 2) != LWE_PIR_OK)
		same = 0;
	for (q = 0; same && q < count; q++)
	{
		if (lwe_pir_answer(&f.layout, f.db, f.queries + q * cols, single, 1) != LWE_PIR_OK ||
			memcmp(single, f.answers + q * rows, rows * sizeof(uint32_t)) != 0)
			same = 0;
		lwe_pir_secret_wipe(&secrets[q]);
	}
	ok(same, "a batch of %zu answers equals the single answers, word for word", count);
	pir_fixture_free(&f);
	free(single);
	free(secrets);
}

/*
 * The batched query and decode against a plain reference, on a shape whose
 * columns are not a multiple of the chunks the work is handed out in and
 * with an odd number of queries (the secrets are paired): every word of
 * c − A·s must be a small error, plus Δ at the asked column; and decoding a
 * batch in one pass over the hint must equal decoding each answer alone.
 */
static void
test_query_and_decode_batch(void)
{
	const uint32_t rows = 70;
	const uint32_t cols = 1283;
	const size_t count = 5;
	pir_fixture f;
	uint32_t   *a = xmalloc((size_t) cols * LWE_PIR_N * sizeof(uint32_t));
	uint8_t    *batch_cols = xmalloc(count * rows);
	uint8_t    *single = xmalloc(rows);
	uint32_t	asked[5];
	lwe_pir_secret *secrets = xmalloc(count * sizeof(lwe_pir_secret));
	int			calls_ok = 1;
	int			shaped = 1;
	int			same = 1;
	size_t		q;

	(void) pir_fixture_make(&f, rows, cols, count, 1);
	for (q = 0; q < count; q++)
		asked[q] = uniform(cols);
	asked[count - 1] = cols - 1;	/* the last row of the last chunk */
	if (lwe_pir_expand_a(f.seed, 0, cols, a) != LWE_PIR_OK ||
		lwe_pir_hint(&f.layout, f.db, f.seed, f.hint, 2) != LWE_PIR_OK ||
		lwe_pir_query_batch(&f.layout, f.seed, count, asked, f.queries, secrets, 2) != LWE_PIR_OK ||
		lwe_pir_answer_batch(&f.layout, f.db, count, f.queries, f.answers, 2) != LWE_PIR_OK ||
		lwe_pir_decode_batch(&f.layout, f.hint, count, secrets, f.answers, batch_cols, 2) != LWE_PIR_OK)
		calls_ok = 0;
	for (q = 0; calls_ok && q < count; q++)
	{
		uint32_t	j;

		for (j = 0; j < cols; j++)
		{
			uint32_t	as = 0;
			int32_t		e;
			int			k;

			for (k = 0; k < LWE_PIR_N; k++)
				as += a[(size_t) j * LWE_PIR_N + k] * secrets[q].s[k];
			e = (int32_t) (f.queries[q * cols + j] - as - (j == asked[q] ? LWE_PIR_DELTA : 0));
			if (e < -LWE_PIR_ERROR_BOUND || e > LWE_PIR_ERROR_BOUND)
				shaped = 0;
		}
		if (lwe_pir_decode(&f.layout, f.hint, &secrets[q], f.answers + q * rows, single) != LWE_PIR_OK ||
			memcmp(single, batch_cols + q * rows, rows) != 0)
			same = 0;
	}
	ok(calls_ok && shaped, "%zu batched queries are A·s + e + Δ·u_col, word for word", count);
	ok(calls_ok && same, "decoding %zu answers in one pass equals decoding each alone", count);
	for (q = 0; q < count; q++)
		lwe_pir_secret_wipe(&secrets[q]);
	pir_fixture_free(&f);
	free(a);
	free(batch_cols);
	free(single);
	free(secrets);
}

/* A wrong secret or a tampered answer must not give the asked column. */
static void
test_wrong_secret_and_tampering(void)
{
	const uint32_t rows = 200;
	const uint32_t cols = 900;
	pir_fixture f;
	uint32_t   *other_query;
	uint32_t   *tampered;
	uint8_t    *got = xmalloc(rows);
	uint8_t    *want = xmalloc(rows);
	lwe_pir_secret *secret = xmalloc(sizeof(lwe_pir_secret));
	lwe_pir_secret *other = xmalloc(sizeof(lwe_pir_secret));
	uint32_t	j = 123;
	size_t		matches;
	size_t		r;

	(void) pir_fixture_make(&f, rows, cols, 1, 1);
	other_query = xmalloc(lwe_pir_query_bytes(&f.layout));
	tampered = xmalloc(lwe_pir_answer_bytes(&f.layout));
	column_of(&f.layout, f.db, j, want);

	(void) lwe_pir_hint(&f.layout, f.db, f.seed, f.hint, 2);
	(void) lwe_pir_query(&f.layout, f.seed, j, f.queries, secret, 2);
	(void) lwe_pir_answer(&f.layout, f.db, f.queries, f.answers, 2);
	(void) lwe_pir_decode(&f.layout, f.hint, secret, f.answers, got);
	ok(memcmp(got, want, rows) == 0, "the honest answer decodes to the column");

	/* a fresh secret for the same column, used on the first query's answer */
	(void) lwe_pir_query(&f.layout, f.seed, j, other_query, other, 2);
	(void) lwe_pir_decode(&f.layout, f.hint, other, f.answers, got);
	for (matches = 0, r = 0; r < rows; r++)
		matches += (got[r] == want[r]);
	ok(matches < rows / 20, "a wrong secret decodes to garbage (%zu of %u bytes match)",
	   matches, rows);

	/* random additive tampering of every answer word */
	for (r = 0; r < rows; r++)
		tampered[r] = f.answers[r] + randombytes_random();
	(void) lwe_pir_decode(&f.layout, f.hint, secret, tampered, got);
	for (matches = 0, r = 0; r < rows; r++)
		matches += (got[r] == want[r]);
	ok(matches < rows / 20, "a tampered answer decodes to garbage (%zu of %u bytes match)",
	   matches, rows);

	/*
	 * A tampered hint corrupts the byte of that row.  Flipping the top bit
	 * of H[5][k] moves H·s by s[k]·2^31, i.e. by q/2 when s[k] is odd: pick
	 * such a k so that the test is deterministic.
	 */
	{
		int			k = 0;

		while (k < LWE_PIR_N - 1 && (secret->s[k] & 1) == 0)
			k++;
		f.hint[5 * LWE_PIR_N + k] ^= 0x80000000u;
	}
	(void) lwe_pir_decode(&f.layout, f.hint, secret, f.answers, got);
	ok(memcmp(got, want, rows) != 0, "a tampered hint does not decode to the column");

	ok(lwe_pir_query(&f.layout, f.seed, cols, f.queries, secret, 1) == LWE_PIR_BAD_COLUMN,
	   "a query for a column past the end is refused");

	lwe_pir_secret_wipe(secret);
	lwe_pir_secret_wipe(other);
	pir_fixture_free(&f);
	free(other_query);
	free(tampered);
	free(got);
	free(want);
	free(secret);
	free(other);
}

/* ------------------------------------------------------------------------ */
/* Keyword layout                                                            */
/* ------------------------------------------------------------------------ */

#define TAG_BYTES	16
#define SLOT_BYTES	48

static void
test_cuckoo(void)
{
	const size_t n = 20000;
	uint8_t    *outputs = xmalloc(n * PIR_CUCKOO_OPRF_BYTES);
	uint8_t    *records = xmalloc(n * SLOT_BYTES);
	uint8_t    *db = NULL;
	uint8_t    *column = NULL;
	lwe_pir_layout layout;
	pir_cuckoo_status st = PIR_CUCKOO_FULL;
	uint32_t	attempt;
	size_t		found = 0;
	size_t		i;
	size_t		distinct = 0;

	randombytes_buf(outputs, n * PIR_CUCKOO_OPRF_BYTES);
	for (i = 0; i < n; i++)
	{
		/* tag = first 16 bytes of the OPRF output, then the "sealed" payload */
		memcpy(records + i * SLOT_BYTES, outputs + i * PIR_CUCKOO_OPRF_BYTES, TAG_BYTES);
		randombytes_buf(records + i * SLOT_BYTES + TAG_BYTES, SLOT_BYTES - TAG_BYTES);
	}

	for (attempt = 0; attempt < 4 && st == PIR_CUCKOO_FULL; attempt++)
	{
		if (pir_cuckoo_layout(n, SLOT_BYTES, attempt, &layout) != PIR_CUCKOO_OK)
			break;
		free(db);
		db = xmalloc(lwe_pir_db_bytes(&layout));
		st = pir_cuckoo_build(&layout, n, outputs, records, PIR_CUCKOO_MAX_KICKS, db);
	}
	diag("cuckoo layout for %zu records of %d bytes: %u x %u, %u slots per column, load %.3f",
		 n, SLOT_BYTES, layout.rows, layout.cols, layout.slots_per_col,
		 (double) n / ((double) layout.cols * layout.slots_per_col));
	ok(st == PIR_CUCKOO_OK && attempt == 1, "%zu records placed on the first attempt", n);

	column = xmalloc(layout.rows);
	for (i = 0; st == PIR_CUCKOO_OK && i < n; i++)
	{
		uint32_t	cand[2];
		int			hits = 0;
		int			c;

		pir_cuckoo_columns(&layout, outputs + i * PIR_CUCKOO_OPRF_BYTES, cand);
		distinct += (cand[0] != cand[1]);
		for (c = 0; c < 2; c++)
		{
			int			slot;

			column_of(&layout, db, cand[c], column);
			slot = pir_cuckoo_find(&layout, column, records + i * SLOT_BYTES, TAG_BYTES);
			if (slot >= 0 &&
				memcmp(column + (size_t) slot * SLOT_BYTES, records + i * SLOT_BYTES,
					   SLOT_BYTES) == 0)
				hits++;
		}
		found += (hits == 1);
	}
	ok(found == n, "every record is found, exactly once, in one of its two columns (%zu of %zu)",
	   found, n);
	ok(distinct == n, "the two candidate columns always differ");

	/* absent keys: their tags are in neither candidate column */
	{
		size_t		false_hits = 0;

		for (i = 0; i < 1000; i++)
		{
			uint8_t		absent[PIR_CUCKOO_OPRF_BYTES];
			uint32_t	cand[2];
			int			c;

			randombytes_buf(absent, sizeof(absent));
			pir_cuckoo_columns(&layout, absent, cand);
			for (c = 0; c < 2; c++)
			{
				column_of(&layout, db, cand[c], column);
				false_hits += (pir_cuckoo_find(&layout, column, absent, TAG_BYTES) >= 0);
			}
		}
		ok(false_hits == 0, "1000 absent keys find nothing");
	}

	/* the full path: two PIR queries per key, one answer pass for all */
	if (st == PIR_CUCKOO_OK)
	{
		const size_t keys = 8;
		uint8_t		seed[LWE_PIR_SEED_BYTES];
		uint32_t   *hint = xmalloc(lwe_pir_hint_bytes(&layout));
		uint32_t   *queries = xmalloc(2 * keys * lwe_pir_query_bytes(&layout));
		uint32_t   *answers = xmalloc(2 * keys * lwe_pir_answer_bytes(&layout));
		lwe_pir_secret *secrets = xmalloc(2 * keys * sizeof(lwe_pir_secret));
		uint32_t	asked[16];
		size_t		which[8];
		size_t		opened = 0;
		size_t		k;

		randombytes_buf(seed, sizeof(seed));
		(void) lwe_pir_hint(&layout, db, seed, hint, 0);
		for (k = 0; k < keys; k++)
		{
			which[k] = uniform((uint32_t) n);
			pir_cuckoo_columns(&layout, outputs + which[k] * PIR_CUCKOO_OPRF_BYTES,
							   &asked[2 * k]);
		}
		if (lwe_pir_query_batch(&layout, seed, 2 * keys, asked, queries, secrets, 0) == LWE_PIR_OK &&
			lwe_pir_answer_batch(&layout, db, 2 * keys, queries, answers, 0) == LWE_PIR_OK)
		{
			for (k = 0; k < keys; k++)
			{
				int			c;
				int			hits = 0;

				for (c = 0; c < 2; c++)
				{
					int			slot;

					(void) lwe_pir_decode(&layout, hint, &secrets[2 * k + c],
										  answers + (2 * k + c) * layout.rows, column);
					slot = pir_cuckoo_find(&layout, column,
										   records + which[k] * SLOT_BYTES, TAG_BYTES);
					if (slot >= 0 &&
						memcmp(column + (size_t) slot * SLOT_BYTES,
							   records + which[k] * SLOT_BYTES, SLOT_BYTES) == 0)
						hits++;
				}
				opened += (hits == 1);
			}
		}
		for (k = 0; k < 2 * keys; k++)
			lwe_pir_secret_wipe(&secrets[k]);
		ok(opened == keys, "%zu keyword lookups through PIR (2 queries each, one pass) find their records",
		   keys);
		free(hint);
		free(queries);
		free(answers);
		free(secrets);
	}
	else
		ok(0, "keyword lookups through PIR (placement failed)");

	/* a table too small: a clear FULL, and the next attempt's layout fits */
	{
		lwe_pir_layout tiny;
		uint32_t   *slot_of = xmalloc(n * sizeof(uint32_t));

		tiny.cols = 1000;
		tiny.slots_per_col = 20;
		tiny.slot_bytes = SLOT_BYTES;
		tiny.rows = 20 * SLOT_BYTES;
		st = pir_cuckoo_place(&tiny, 19990, outputs, 50, slot_of);
		ok(st == PIR_CUCKOO_FULL, "overfull placement reports PIR_CUCKOO_FULL (%s)",
		   pir_cuckoo_status_reason(st));
		tiny.cols = 500;
		ok(pir_cuckoo_place(&tiny, 10001, outputs, 50, slot_of) == PIR_CUCKOO_BAD_SHAPE,
		   "more records than slots is refused outright");
		free(slot_of);
	}

	free(outputs);
	free(records);
	free(db);
	free(column);
}

int
main(void)
{
	if (sodium_init() < 0 || lwe_pir_init() != LWE_PIR_OK)
	{
		printf("Bail out! initialisation failed\n");
		return 2;
	}
	test_sampler();
	test_expand_a();
	test_layouts();
	test_round_trips();
	test_batch_equals_single();
	test_query_and_decode_batch();
	test_wrong_secret_and_tampering();
	test_many_lookups();
	test_cuckoo();
	return tap_done();
}
