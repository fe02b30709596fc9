/*
 * test_gram.c — cross products on shares (src/crypto/gram.c), both parties
 * in one process: the shares add up to Σ x·v exactly (mod 2^64) against a
 * plaintext computation, chunks accumulate, every malformed message is
 * refused; and the time and bytes of rows × 16 bureau × 6 bank columns.
 * Output is TAP, for `prove`.
 *
 * Usage: test_gram [rows for the timing, default 4096]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "crypto/gram.h"
#include "crypto/ot.h"

#include "tap.h"
#include "ot_pair.h"

static int64_t
rand_signed(int bits)
{
	uint64_t	r;
	int64_t		half = (int64_t) 1 << (bits - 1);

	randombytes_buf(&r, sizeof(r));
	return (int64_t) (r % (uint64_t) (2 * half - 1)) - (half - 1);
}

typedef struct run
{
	size_t		rows,
				k,
				q;
	int			bits;
	int64_t    *x;
	uint64_t   *v;
	uint64_t   *bank;
	uint64_t   *bureau;
	size_t		bytes;
} run;

/* One chunk between the pair; returns the first failing status. */
static mpc_status
chunk(ot_ext_sender *s, ot_ext_receiver *r, run *u, size_t first, size_t rows)
{
	size_t		n = gram_chunk_ots(rows, u->k, u->bits);
	size_t		cap_u = ot_ext_u_msg_bytes(n);
	size_t		cap_c = gram_corrections_bytes(rows, u->k, u->bits, u->q);
	uint8_t    *mu = xmalloc(cap_u);
	uint8_t    *mc = xmalloc(cap_c);
	ot_block   *keys = xmalloc(n * sizeof(ot_block));
	size_t		lu = 0,
				lc = 0;
	mpc_status	st;

	st = gram_receiver_start(r, rows, u->k, u->bits, u->x + first * u->k, mu, cap_u, &lu, keys);
	if (st == MPC_OK)
		st = gram_sender_respond(s, rows, u->k, u->bits, u->q, u->v + first * u->q, mu, lu, mc, cap_c, &lc,
								 u->bank);
	if (st == MPC_OK)
		st = gram_receiver_finish(r, rows, u->k, u->bits, u->q, u->x + first * u->k, keys, mc, lc, u->bureau);
	u->bytes += lu + lc;
	free(mu);
	free(mc);
	free(keys);
	return st;
}

static void
new_run(run *u, size_t rows, size_t k, size_t q, int bits)
{
	u->rows = rows;
	u->k = k;
	u->q = q;
	u->bits = bits;
	u->x = xmalloc(rows * k * sizeof(int64_t));
	u->v = xmalloc(rows * q * sizeof(uint64_t));
	u->bank = calloc(k * q, sizeof(uint64_t));
	u->bureau = calloc(k * q, sizeof(uint64_t));
	u->bytes = 0;
	for (size_t e = 0; e < rows * k; e++)
		u->x[e] = rand_signed(bits);
	randombytes_buf(u->v, rows * q * sizeof(uint64_t));
}

static int
matches(const run *u)
{
	for (size_t j = 0; j < u->k; j++)
		for (size_t m = 0; m < u->q; m++)
		{
			uint64_t	want = 0;

			for (size_t i = 0; i < u->rows; i++)
				want += (uint64_t) u->x[i * u->k + j] * u->v[i * u->q + m];
			if (u->bank[j * u->q + m] + u->bureau[j * u->q + m] != want)
				return 0;
		}
	return 1;
}

static void
free_run(run *u)
{
	free(u->x);
	free(u->v);
	free(u->bank);
	free(u->bureau);
}

int
main(int argc, char **argv)
{
	ot_ext_sender *s;
	ot_ext_receiver *r;
	run			u;
	size_t		timing_rows = argc > 1 ? (size_t) atol(argv[1]) : 4096;

	if (sodium_init() < 0)
	{
		printf("Bail out! sodium_init failed\n");
		return 1;
	}
	ext_pair(&s, &r);

	new_run(&u, 300, 3, 5, 16);
	ok(chunk(s, r, &u, 0, 300) == MPC_OK && matches(&u), "300 rows x 3 x 5 columns, 16-bit values: shares add up to the products");
	free_run(&u);

	new_run(&u, 1000, 4, 2, 20);
	ok(chunk(s, r, &u, 0, 400) == MPC_OK && chunk(s, r, &u, 400, 600) == MPC_OK && matches(&u),
	   "two chunks accumulate (1000 rows, q = 2, 20-bit values)");
	free_run(&u);

	new_run(&u, 200, 2, 16, 8);
	for (size_t e = 0; e < 200 * 2; e++)
		u.x[e] = (e % 2) ? 127 : -127;	/* the extremes of 8 bits */
	ok(chunk(s, r, &u, 0, 200) == MPC_OK && matches(&u), "q = 16 and values at the extremes of their range");
	free_run(&u);

	/* A value outside its range: refused before anything is sent. */
	new_run(&u, 10, 1, 1, 8);
	u.x[3] = 128;
	ok(chunk(s, r, &u, 0, 10) == MPC_OUT_OF_RANGE, "a bureau value outside 8 bits is refused (MPC_OUT_OF_RANGE)");
	free_run(&u);
	/* The pair is now out of step (the receiver never sent): a fresh pair. */
	ot_ext_sender_free(s);
	ot_ext_receiver_free(r);
	ext_pair(&s, &r);

	/* Malformed corrections: each refused, the shares untouched. */
	{
		size_t		rows = 50, k = 2, q = 3;
		int			bits = 10;
		size_t		n = gram_chunk_ots(rows, k, bits);
		size_t		cap_u = ot_ext_u_msg_bytes(n);
		size_t		cap_c = gram_corrections_bytes(rows, k, bits, q);
		uint8_t    *mu = xmalloc(cap_u);
		uint8_t    *mc = xmalloc(cap_c);
		uint8_t    *bad = xmalloc(cap_c);
		ot_block   *keys = xmalloc(n * sizeof(ot_block));
		size_t		lu, lc;
		uint64_t	acc[6] = {0};
		uint64_t	zero[6] = {0};

		new_run(&u, rows, k, q, bits);
		ok(gram_receiver_start(r, rows, k, bits, u.x, mu, cap_u, &lu, keys) == MPC_OK &&
		   gram_sender_respond(s, rows, k, bits, q, u.v, mu, lu, mc, cap_c, &lc, u.bank) == MPC_OK,
		   "a chunk for the malformed-message checks");
		ok(gram_receiver_finish(r, rows, k, bits, q, u.x, keys, mc, lc - 1, acc) == MPC_BAD_LENGTH, "short corrections: MPC_BAD_LENGTH");
		memcpy(bad, mc, lc);
		bad[1] = MPC_MSG_PRODUCT_TAU;
		ok(gram_receiver_finish(r, rows, k, bits, q, u.x, keys, bad, lc, acc) == MPC_WRONG_TYPE, "another message type: MPC_WRONG_TYPE");
		memcpy(bad, mc, lc);
		bad[8] ^= 1;
		ok(gram_receiver_finish(r, rows, k, bits, q, u.x, keys, bad, lc, acc) == MPC_BAD_COUNT, "another count: MPC_BAD_COUNT");
		memcpy(bad, mc, lc);
		bad[4] ^= 1;
		ok(gram_receiver_finish(r, rows, k, bits, q, u.x, keys, bad, lc, acc) == MPC_OUT_OF_ORDER, "another sequence number: MPC_OUT_OF_ORDER");
		ok(gram_receiver_finish(r, rows, k, bits, q + 1, u.x, keys, mc, lc, acc) == MPC_BAD_COUNT ||
		   gram_receiver_finish(r, rows, k, bits, q + 1, u.x, keys, mc, lc, acc) == MPC_BAD_LENGTH,
		   "corrections for another number of bank columns: refused");
		ok(memcmp(acc, zero, sizeof(acc)) == 0, "the refused messages left the shares untouched");
		ok(gram_receiver_finish(r, rows, k, bits, q, u.x, keys, mc, lc, u.bureau) == MPC_OK && matches(&u),
		   "the genuine message still completes the chunk");
		ok(gram_sender_respond(s, rows, k, bits, q, u.v, mu, lu - 1, mc, cap_c, &lc, acc) != MPC_OK,
		   "the bank refuses a short u message");
		ok(gram_sender_respond(s, rows, k, bits, GRAM_MAX_Q + 1, u.v, mu, lu, mc, cap_c, &lc, acc) == MPC_BAD_COUNT,
		   "more bank columns than GRAM_MAX_Q: MPC_BAD_COUNT");
		free_run(&u);
		free(mu);
		free(mc);
		free(bad);
		free(keys);
	}
	ot_ext_sender_free(s);
	ot_ext_receiver_free(r);
	ext_pair(&s, &r);

	/* Timing: 16 bureau columns of 16 bits, 6 bank columns (4 features, label, 1). */
	{
		struct timespec t0, t1;
		size_t		per = GRAM_MAX_OTS / (16 * 16);
		int			all = 1;
		double		sec;

		new_run(&u, timing_rows, 16, 6, 16);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (size_t first = 0; first < timing_rows; first += per)
			if (chunk(s, r, &u, first, timing_rows - first < per ? timing_rows - first : per) != MPC_OK)
				all = 0;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		sec = (double) (t1.tv_sec - t0.tv_sec) + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9;
		ok(all && matches(&u), "%zu rows x 16 bureau x 6 bank columns in chunks of %zu rows", timing_rows, per);
		diag("%.2f s on one thread per party, %.1f MB (%.0f bytes per row)", sec, (double) u.bytes / 1e6,
			 (double) u.bytes / (double) timing_rows);
		free_run(&u);
	}
	ot_ext_sender_free(s);
	ot_ext_receiver_free(r);
	return tap_done();
}
