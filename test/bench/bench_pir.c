/*
 * bench_pir.c — the owner's cost of LWE PIR, no server needed.
 *
 * The answer to one query is one pass over D (rows × cols bytes) with a
 * multiply-add per byte.  Its floor is the cost of reading D at all, so the
 * answer time is reported as a ratio to a plain pass over D measured in the
 * same run with the same number of threads:
 *
 *     ratio = answer time / time to sum D (as 64-bit words, one read of every byte)
 *
 * 1.0 means "as fast as reading the database"; the goal is ≤ 1.3.  On shared
 * or virtual machines memory bandwidth drifts within seconds, so the plain
 * pass and the answer are timed back to back in each of ROUNDS rounds and
 * the median of the per-round ratios is reported.
 *
 * D is filled with 64-byte records (tag ‖ sealed payload) laid out by
 * lwe_pir_layout_for_records.  Also printed: the hint's build time (all
 * cores), query generation and decoding times, and the hint/query/answer
 * sizes.
 *
 * Usage: bench_pir [size-in-MB ...]      (default: 100 1000; 1 MB = 10^6 bytes)
 * A size whose database and hint do not fit in the free memory is skipped.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "crypto/lwe_pir.h"
#include "crypto/parallel.h"

#define RECORD_BYTES	64
#define ROUNDS			7
#define GOAL			1.3

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

static void
die(const char *what, lwe_pir_status st)
{
	fprintf(stderr, "bench_pir: %s: %s\n", what, lwe_pir_status_reason(st));
	exit(1);
}

/* --- the plain pass: sum D as 64-bit words, split like the answer ---------- */

typedef struct plain_pass
{
	const uint8_t *db;
	size_t		bytes;
	size_t		chunk;
	uint64_t	total;			/* kept so the pass is not optimised away */
} plain_pass;

/*
 * Compiled, like the answer kernel, for AVX2 and for the x86-64 baseline,
 * with the one the CPU supports picked at load time, so both sides of the
 * ratio use the same instruction set.
 */
#if defined(__x86_64__) && defined(__GLIBC__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define PASS_CLONES __attribute__((target_clones("avx2", "default")))
#endif
#endif
#ifndef PASS_CLONES
#define PASS_CLONES
#endif

/*
 * total += term summed over k in [0, n): in blocks of `block` terms, each
 * block summed in an acc_t first (a fixed-length inner loop, which GCC -O2
 * vectorises, a few instructions per 32 bytes, far below what memory
 * delivers, so a pass runs at memory speed), then the tail term by term.
 */
#define BLOCKED_SUM(total, n, block, acc_t, k, term) \
	do { \
		size_t		blk_i_ = 0; \
\
		for (; blk_i_ + (block) <= (n); blk_i_ += (block)) \
		{ \
			acc_t		blk_s_ = 0; \
\
			for (size_t k = blk_i_; k < blk_i_ + (block); k++) \
				blk_s_ += (term); \
			(total) += blk_s_; \
		} \
		for (size_t k = blk_i_; k < (n); k++) \
			(total) += (term); \
	} while (0)

/* Sum of nwords 64-bit words. */
PASS_CLONES static uint64_t
sum_words(const uint64_t *restrict w, size_t nwords)
{
	uint64_t	total = 0;

	BLOCKED_SUM(total, nwords, 512, uint64_t, k, w[k]);
	return total;
}

/*
 * Sum of the bytes of four rows read side by side (four memory streams, the
 * access pattern of the answer kernel: one thread gets more bandwidth from
 * several streams than from one).
 */
PASS_CLONES static uint64_t
sum_rows4(const uint8_t *restrict d, size_t stride, size_t len)
{
	const uint8_t *p0 = d;
	const uint8_t *p1 = d + stride;
	const uint8_t *p2 = d + 2 * stride;
	const uint8_t *p3 = d + 3 * stride;
	uint64_t	total = 0;

	BLOCKED_SUM(total, len, 256, uint32_t, k, (uint32_t) p0[k] + p1[k] + p2[k] + p3[k]);
	return total;
}

static int
rows4_range(void *arg, size_t begin, size_t end, size_t *failed_index __attribute__((unused)))
{
	plain_pass *p = arg;
	const size_t row_bytes = p->chunk;
	const size_t rows = p->bytes / row_bytes;
	uint64_t	total = 0;
	size_t		g;

	/* index g = rows 4g … 4g+3 of D; the last group may be short */
	for (g = begin; g < end; g++)
	{
		size_t		row0 = g * 4;
		size_t		r;

		if (row0 + 4 <= rows)
			total += sum_rows4(p->db + row0 * row_bytes, row_bytes, row_bytes);
		else
			for (r = row0; r < rows; r++)
			{
				size_t		j;

				for (j = 0; j < row_bytes; j++)
					total += p->db[r * row_bytes + j];
			}
	}
	__atomic_fetch_add(&p->total, total, __ATOMIC_RELAXED);
	return 0;
}

static int
plain_range(void *arg, size_t begin, size_t end, size_t *failed_index __attribute__((unused)))
{
	plain_pass *p = arg;
	size_t		first = begin * p->chunk;
	size_t		last = end * p->chunk < p->bytes ? end * p->chunk : p->bytes;
	size_t		words = (last - first) / 8;
	uint64_t	total;
	size_t		i;

	/* chunk is a multiple of 8 and malloc's result is 16-byte aligned */
	total = sum_words((const uint64_t *) (p->db + first), words);
	for (i = first + words * 8; i < last; i++)
		total += p->db[i];
	__atomic_fetch_add(&p->total, total, __ATOMIC_RELAXED);
	return 0;
}

/*
 * One plain pass over D, the faster of two ways of reading it: one stream
 * of 64-bit words per thread, and four rows side by side as the answer
 * kernel reads them.  Either reads every byte once and does almost nothing
 * with it.
 */
static double
time_plain_pass(const uint8_t *db, size_t rows, size_t cols, int threads)
{
	plain_pass p;
	double		t0;
	double		t1;
	double		t2;
	volatile uint64_t sink;

	memset(&p, 0, sizeof(p));
	p.db = db;
	p.bytes = rows * cols;
	p.chunk = 1 << 20;
	t0 = now_seconds();
	(void) crypto_parallel_for((p.bytes + p.chunk - 1) / p.chunk, threads, plain_range, &p, NULL);
	t1 = now_seconds();
	p.chunk = cols;
	(void) crypto_parallel_for((rows + 3) / 4, threads, rows4_range, &p, NULL);
	t2 = now_seconds();
	sink = p.total;
	(void) sink;
	return t1 - t0 < t2 - t1 ? t1 - t0 : t2 - t1;
}

static int
compare_double(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return (x > y) - (x < y);
}

static double
median(double *v, int n)
{
	qsort(v, n, sizeof(double), compare_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* free physical memory, in bytes (0 if unknown) */
static size_t
free_memory(void)
{
	long		pages = sysconf(_SC_AVPHYS_PAGES);
	long		page = sysconf(_SC_PAGESIZE);

	if (pages <= 0 || page <= 0)
		return 0;
	return (size_t) pages * (size_t) page;
}

static void
bench_size(double megabytes, int ncpu)
{
	lwe_pir_layout layout;
	uint64_t	n_records = (uint64_t) (megabytes * 1e6 / RECORD_BYTES);
	uint8_t		seed[LWE_PIR_SEED_BYTES];
	uint8_t		fill_seed[randombytes_SEEDBYTES];
	uint8_t    *db;
	uint32_t   *hint;
	uint32_t   *queries;
	uint32_t   *answers;
	uint8_t    *column;
	uint8_t    *columns;
	lwe_pir_secret *secrets;
	lwe_pir_status st;
	size_t		db_bytes;
	size_t		need;
	size_t		avail;
	uint32_t	asked[2];
	double		t0;
	double		hint_time;
	double		query1[ROUNDS];
	double		query2[ROUNDS];
	double		decode1[ROUNDS];
	double		decode2[ROUNDS];
	int			round;
	int			correct;
	int			thread_counts[2];
	int			nt;
	int			ti;
	size_t		r;

	if (n_records == 0)
		n_records = 1;
	st = lwe_pir_layout_for_records(n_records, RECORD_BYTES, &layout);
	if (st != LWE_PIR_OK)
		die("layout", st);
	db_bytes = lwe_pir_db_bytes(&layout);
	need = db_bytes + lwe_pir_hint_bytes(&layout) +
		2 * (lwe_pir_query_bytes(&layout) + lwe_pir_answer_bytes(&layout)) +
		((size_t) 64 << 20);	/* scratch, stacks, the rest of the process */
	avail = free_memory();

	printf("\n== D = %.0f MB: %llu records of %d bytes, %u rows x %u columns (%u records per column), %.1f MB\n",
		   megabytes, (unsigned long long) n_records, RECORD_BYTES, layout.rows, layout.cols,
		   layout.slots_per_col, db_bytes / 1e6);
	if (avail != 0 && need > avail)
	{
		printf("skipped: needs %.0f MB, only %.0f MB of memory free\n", need / 1e6, avail / 1e6);
		return;
	}
	printf("sizes: hint %.2f MB (%u x %d words), query %.1f KB, answer %.1f KB\n",
		   lwe_pir_hint_bytes(&layout) / 1e6, layout.rows, LWE_PIR_N,
		   lwe_pir_query_bytes(&layout) / 1e3, lwe_pir_answer_bytes(&layout) / 1e3);

	db = malloc(db_bytes);
	hint = malloc(lwe_pir_hint_bytes(&layout));
	queries = malloc(2 * lwe_pir_query_bytes(&layout));
	answers = malloc(2 * lwe_pir_answer_bytes(&layout));
	column = malloc(layout.rows);
	columns = malloc(2 * (size_t) layout.rows);
	secrets = malloc(2 * sizeof(lwe_pir_secret));
	if (!db || !hint || !queries || !answers || !column || !columns || !secrets)
	{
		printf("skipped: out of memory\n");
		goto out;
	}
	randombytes_buf(fill_seed, sizeof(fill_seed));
	randombytes_buf_deterministic(db, db_bytes, fill_seed);
	randombytes_buf(seed, sizeof(seed));

	t0 = now_seconds();
	st = lwe_pir_hint(&layout, db, seed, hint, ncpu);
	hint_time = now_seconds() - t0;
	if (st != LWE_PIR_OK)
		die("hint", st);
	printf("hint build (%d thread%s): %.2f s  (%.2f G multiply-adds/s)\n", ncpu,
		   ncpu > 1 ? "s" : "", hint_time,
		   (double) layout.rows * layout.cols * LWE_PIR_N / hint_time / 1e9);

	/*
	 * The asker's half of a keyword lookup: two queries from one expansion
	 * of A (lwe_pir_query_batch), against one query alone.
	 */
	asked[0] = randombytes_uniform(layout.cols);
	asked[1] = randombytes_uniform(layout.cols);
	for (round = 0; round < ROUNDS; round++)
	{
		t0 = now_seconds();
		st = lwe_pir_query(&layout, seed, asked[0], queries, &secrets[0], ncpu);
		query1[round] = now_seconds() - t0;
		if (st != LWE_PIR_OK)
			die("query", st);
		lwe_pir_secret_wipe(&secrets[0]);
		t0 = now_seconds();
		st = lwe_pir_query_batch(&layout, seed, 2, asked, queries, secrets, ncpu);
		query2[round] = now_seconds() - t0;
		if (st != LWE_PIR_OK)
			die("query", st);
		if (round + 1 < ROUNDS)
		{
			lwe_pir_secret_wipe(&secrets[0]);
			lwe_pir_secret_wipe(&secrets[1]);
		}
	}

	thread_counts[0] = 1;
	thread_counts[1] = ncpu;
	nt = ncpu > 1 ? 2 : 1;
	for (ti = 0; ti < nt; ti++)
	{
		int			threads = thread_counts[ti];
		double		ratio1[ROUNDS];
		double		ratio2[ROUNDS];
		double		plain[ROUNDS];
		double		one[ROUNDS];
		double		two[ROUNDS];
		double		m1;
		double		m2;

		for (round = 0; round < ROUNDS; round++)
		{
			double		p;

			p = time_plain_pass(db, layout.rows, layout.cols, threads);
			t0 = now_seconds();
			st = lwe_pir_answer(&layout, db, queries, answers, threads);
			one[round] = now_seconds() - t0;
			if (st != LWE_PIR_OK)
				die("answer", st);
			t0 = now_seconds();
			st = lwe_pir_answer_batch(&layout, db, 2, queries, answers, threads);
			two[round] = now_seconds() - t0;
			if (st != LWE_PIR_OK)
				die("answer", st);
			plain[round] = p;
			ratio1[round] = one[round] / p;
			ratio2[round] = two[round] / p;
		}
		m1 = median(ratio1, ROUNDS);
		m2 = median(ratio2, ROUNDS);
		printf("%d thread%s: plain pass %.1f ms (%.1f GB/s); one answer %.1f ms, ratio %.2f %s (goal <= %.1f); "
			   "keyword lookup (2 queries, one pass) %.1f ms, ratio %.2f\n",
			   threads, threads > 1 ? "s" : " ",
			   median(plain, ROUNDS) * 1e3, db_bytes / median(plain, ROUNDS) / 1e9,
			   median(one, ROUNDS) * 1e3, m1, m1 <= GOAL ? "ok" : "MISSED", GOAL,
			   median(two, ROUNDS) * 1e3, m2);
	}

	/*
	 * The answers in `answers` are for both queries (the last batch): one
	 * decode alone (one thread), then both in one pass over the hint.
	 */
	for (round = 0; round < ROUNDS; round++)
	{
		t0 = now_seconds();
		st = lwe_pir_decode(&layout, hint, &secrets[0], answers, column);
		decode1[round] = now_seconds() - t0;
		if (st != LWE_PIR_OK)
			die("decode", st);
		t0 = now_seconds();
		st = lwe_pir_decode_batch(&layout, hint, 2, secrets, answers, columns, ncpu);
		decode2[round] = now_seconds() - t0;
		if (st != LWE_PIR_OK)
			die("decode", st);
	}
	correct = memcmp(column, columns, layout.rows) == 0;
	for (r = 0; r < layout.rows; r++)
		correct &= (columns[r] == db[r * layout.cols + asked[0]]) &
			(columns[layout.rows + r] == db[r * layout.cols + asked[1]]);
	printf("asker (%d thread%s): 2 queries from one expansion of A %.1f ms (one query %.1f ms); "
		   "2 decodes in one pass over the hint %.1f ms (one decode, 1 thread, %.1f ms); decoded columns %s\n",
		   ncpu, ncpu > 1 ? "s" : "", median(query2, ROUNDS) * 1e3, median(query1, ROUNDS) * 1e3,
		   median(decode2, ROUNDS) * 1e3, median(decode1, ROUNDS) * 1e3,
		   correct ? "correct" : "WRONG");
	lwe_pir_secret_wipe(&secrets[0]);
	lwe_pir_secret_wipe(&secrets[1]);

out:
	free(db);
	free(hint);
	free(queries);
	free(answers);
	free(column);
	free(columns);
	free(secrets);
}

int
main(int argc, char **argv)
{
	int			ncpu = crypto_cpu_count();
	int			i;

	if (sodium_init() < 0 || lwe_pir_init() != LWE_PIR_OK)
	{
		fprintf(stderr, "bench_pir: initialisation failed\n");
		return 1;
	}
	printf("LWE PIR owner cost: n = %d, q = 2^32, p = 256, sigma = %.0f; %d CPU%s; median of %d rounds\n",
		   LWE_PIR_N, LWE_PIR_SIGMA, ncpu, ncpu > 1 ? "s" : "", ROUNDS);
	if (argc > 1)
	{
		for (i = 1; i < argc; i++)
		{
			double		mb = atof(argv[i]);

			if (mb <= 0)
			{
				fprintf(stderr, "usage: bench_pir [size-in-MB ...]\n");
				return 2;
			}
			bench_size(mb, ncpu);
		}
	}
	else
	{
		bench_size(100, ncpu);
		bench_size(1000, ncpu);
	}
	return 0;
}
