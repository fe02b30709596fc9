/*
 * test_kkrt.c — the OT-extension PSI core (crypto/kkrt.h, crypto/cuckoo.h),
 * both parties in one process, TAP output.
 *
 * Reference results come from a plaintext model computed here (a sorted
 * copy of the sender's set and binary search), never from the code under
 * test.  KKRT16 publishes no test vectors, so the OPRF is checked by its
 * defining property: the receiver's output for x equals the sender's own
 * evaluation of x at x's hash index, for members and non-members alike, and
 * differs from the evaluations of every other item.
 *
 * libsodium's randomness is replaced by a seeded ChaCha20 stream, so a run
 * is reproducible: the same seed gives the same transcript, one or two
 * threads alike.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/cuckoo.h"
#include "crypto/kkrt.h"
#include "crypto/parallel.h"
#include "tap.h"
#define PSI_ITEMS_DOMAIN 0x5a
#include "psi_pair.h"
#include "../fuzz/fuzz_rng.h"	/* seeded randomness: reproducible sets */

/* ------------------------------------------------------ the harness */

PSI_PAIR_FLIGHTS(kkrt, KKRT_TAG_BATCH)

/*
 * A whole PSI run; match[i] = the receiver's kkrt_receiver_match.  The
 * transcript's BLAKE2b-256 goes to digest.  Returns the first failing status.
 */
static mpc_status
run_psi(const uint8_t *xs, size_t nx, const uint8_t *ys, size_t ny, int threads,
		size_t *match, uint8_t digest[32], kkrt_receiver **keep_r, kkrt_sender **keep_s)
{
	mpc_status	st;
	psi_ctx		c = {0};
	uint8_t		hello[128];
	uint8_t    *base = malloc(kkrt_base_bytes());
	size_t		hlen,
				blen;
	uint8_t   **umsg = NULL,	/* per chunk */
			  **tmsg = NULL;	/* per batch */
	size_t	   *ulen = NULL,
			   *tlen = NULL;
	crypto_generichash_state h;

	crypto_generichash_init(&h, NULL, 0, 32);
	c.ys = ys;
	c.r = kkrt_receiver_new(xs, nx, &st);
	if (c.r == NULL)
		goto out;
	c.s = kkrt_sender_new(ny, &st);
	if (c.s == NULL)
		goto out;
	if ((st = kkrt_receiver_hello(c.r, hello, sizeof(hello), &hlen)) != MPC_OK ||
		(st = kkrt_sender_hello(c.s, hello, hlen, nx, base, kkrt_base_bytes(), &blen)) != MPC_OK ||
		(st = kkrt_receiver_base(c.r, base, blen, ny)) != MPC_OK)
		goto out;
	crypto_generichash_update(&h, hello, hlen);
	crypto_generichash_update(&h, base, blen);

	st = psi_flight(&c, false, kkrt_receiver_chunks(c.r), threads, &umsg, &ulen);
	if (st != MPC_OK)
		goto out;
	for (size_t k = 0; k < kkrt_receiver_chunks(c.r); k++)
		crypto_generichash_update(&h, umsg[k], ulen[k]);

	st = psi_flight(&c, true, kkrt_sender_batches(c.s), threads, &tmsg, &tlen);
	if (st != MPC_OK)
		goto out;
	for (size_t b = 0; b < kkrt_sender_batches(c.s); b++)
	{
		crypto_generichash_update(&h, tmsg[b], tlen[b]);
		if ((st = kkrt_receiver_tags(c.r, tmsg[b], tlen[b])) != MPC_OK)
			goto out;
	}
	if (!kkrt_receiver_done(c.r))
	{
		st = MPC_BAD_STATE;
		goto out;
	}
	for (size_t i = 0; i < nx; i++)
		match[i] = kkrt_receiver_match(c.r, i);
	crypto_generichash_final(&h, digest, 32);

out:
	if (umsg)
		for (size_t k = 0; k < kkrt_receiver_chunks(c.r); k++)
			free(umsg[k]);
	if (tmsg)
		for (size_t b = 0; b < kkrt_sender_batches(c.s); b++)
			free(tmsg[b]);
	free(umsg);
	free(ulen);
	free(tmsg);
	free(tlen);
	free(base);
	psi_keep_or_free(&c, st, keep_r, keep_s);
	return st;
}

/* ----------------------------------------------------------- tests */

static void
test_cuckoo(void)
{
	size_t		n = 1 << 16;
	size_t		m = cuckoo_bins(n);
	uint8_t    *items = malloc(n * 16);
	uint32_t   *idx = malloc(3 * n * sizeof(uint32_t));
	uint32_t   *bin_item = malloc(cuckoo_bins_for(1 << 12, 2.0) > m ?
								  cuckoo_bins_for(1 << 12, 2.0) * 4 : m * 4);
	uint8_t    *hidx = malloc(n);
	uint8_t		seed[16] = {1, 2, 3};
	int			bad = 0;
	size_t		placed = 0;

	ok(cuckoo_bins(1 << 20) == (size_t) ((1 << 20) * 1.48) + 1 ||
	   cuckoo_bins(1 << 20) == (size_t) ((1 << 20) * 1.48),
	   "2^20 items get 1.48·n bins (%zu)", cuckoo_bins(1 << 20));
	ok(cuckoo_bins(1000) == 2000, "small sets get 2·n bins");

	make_items(items, n, 77);
	ok(cuckoo_hash(seed, items, n, m, idx) == CUCKOO_OK, "hashing 2^16 items");
	ok(cuckoo_place(idx, n, m, 42, bin_item, hidx) == CUCKOO_OK, "placing 2^16 items");
	for (size_t b = 0; b < m; b++)
	{
		uint32_t	it = bin_item[b];

		if (it == CUCKOO_EMPTY)
			continue;
		placed++;
		if (it >= n || hidx[it] >= 3 || idx[3 * it + hidx[it]] != b)
			bad++;
	}
	ok(bad == 0 && placed == n, "every item sits once, in the bin of its hash index (%zu placed)",
	   placed);
	ok(cuckoo_hash(seed, items, 0, m, idx) == CUCKOO_BAD_ARGUMENT &&
	   cuckoo_place(idx, n, n - 1, 1, bin_item, hidx) == CUCKOO_BAD_ARGUMENT,
	   "zero items and too few bins are refused");

	/* failure rates at small sizes */
	{
		struct
		{
			size_t		n;
			double		e;
			int			trials;
		}			cases[] = {{1 << 10, 2.0, 2000}, {1 << 10, 1.48, 2000}, {1 << 12, 1.48, 300},
		{1 << 12, 1.02, 50}};
		int			fails[4] = {0};

		for (int c = 0; c < 4; c++)
		{
			size_t		cm = cuckoo_bins_for(cases[c].n, cases[c].e);

			for (int t = 0; t < cases[c].trials; t++)
			{
				uint8_t		sd[16] = {0};
				cuckoo_status cs;

				memcpy(sd, &t, sizeof(t));
				sd[15] = (uint8_t) c;
				cuckoo_hash(sd, items, cases[c].n, cm, idx);
				cs = cuckoo_place(idx, cases[c].n, cm, (uint64_t) t, bin_item, hidx);
				if (cs == CUCKOO_FULL)
					fails[c]++;
			}
			diag("cuckoo n=%zu e=%.2f: %d failures in %d trials", cases[c].n, cases[c].e,
				 fails[c], cases[c].trials);
		}
		ok(fails[0] == 0, "n=2^10, e=2.0: no failure in 2000 trials");
		ok(fails[1] == 0, "n=2^10, e=1.48: no failure in 2000 trials");
		ok(fails[2] == 0, "n=2^12, e=1.48: no failure in 300 trials");
		ok(fails[3] >= 45, "n=2^12, e=1.02 (past the 0.918 load threshold): failures are reported (%d/50)",
		   fails[3]);
	}
	free(items);
	free(idx);
	free(bin_item);
	free(hidx);
}

static void
test_oprf(void)
{
	size_t		nx = 1000,
				ny = 1500,
				common = 400;
	psi_sets	ps;
	uint8_t		dg[32];
	kkrt_receiver *r = NULL;
	kkrt_sender *s = NULL;
	mpc_status	st;
	int			eq_bad = 0,
				ne_bad = 0;

	fuzz_rng_seed(1);
	psi_sets_make(&ps, nx, ny, common, 1);
	st = run_psi(ps.xs, nx, ps.ys, ny, 1, ps.match, dg, &r, &s);
	ok(st == MPC_OK, "a 1000 × 1500 run completes (%s)", mpc_status_reason(st));
	if (st != MPC_OK)
		return;
	for (size_t i = 0; i < nx; i++)
	{
		int			hi;
		const uint8_t *o = kkrt_receiver_output(r, i, &hi);
		uint8_t		ev[3 * KKRT_OUT_BYTES];
		uint8_t		other[3 * KKRT_OUT_BYTES];

		if (o == NULL || kkrt_sender_eval(s, ps.xs + 16 * i, ev) != MPC_OK ||
			memcmp(o, ev + hi * KKRT_OUT_BYTES, KKRT_OUT_BYTES) != 0)
			eq_bad++;
		/* the other two evaluations, and every other item's, differ */
		for (int h = 0; h < 3; h++)
			if (h != hi && o != NULL && memcmp(o, ev + h * KKRT_OUT_BYTES, KKRT_OUT_BYTES) == 0)
				ne_bad++;
		if (kkrt_sender_eval(s, ps.xs + 16 * ((i + 1) % nx), other) != MPC_OK)
			ne_bad++;
		else
			for (int h = 0; h < 3; h++)
				if (o != NULL && memcmp(o, other + h * KKRT_OUT_BYTES, KKRT_OUT_BYTES) == 0)
					ne_bad++;
	}
	ok(eq_bad == 0, "receiver output = sender's F(k, x) at x's hash index, for all 1000 x (%d bad)",
	   eq_bad);
	ok(ne_bad == 0, "outputs differ from the other evaluations and other items' (%d equal)", ne_bad);
	{
		const uint8_t *o0 = kkrt_receiver_output(r, 0, NULL);
		uint8_t		zero[KKRT_OUT_BYTES] = {0};

		ok(o0 != NULL && memcmp(o0, zero, KKRT_OUT_BYTES) != 0, "outputs are not zero");
	}
	ok(kkrt_receiver_output(r, nx, NULL) == NULL, "output past n is NULL");
	{
		/* the batch evaluation is the one-item evaluation, item by item */
		uint8_t    *eb = malloc(ny * 3 * KKRT_OUT_BYTES);
		uint8_t		e1[3 * KKRT_OUT_BYTES];
		int			diff = 0;

		ok(kkrt_sender_eval_batch(s, ps.ys, ny, eb) == MPC_OK, "batch evaluation of the sender's set");
		for (size_t j = 0; j < ny; j++)
			if (kkrt_sender_eval(s, ps.ys + 16 * j, e1) != MPC_OK ||
				memcmp(e1, eb + j * 3 * KKRT_OUT_BYTES, sizeof(e1)) != 0)
				diff++;
		ok(diff == 0, "batch evaluation = one-item evaluation for all %zu items", ny);
		ok(kkrt_sender_eval_batch(s, ps.ys, 0, eb) == MPC_BAD_COUNT, "batch evaluation of nothing refused");
		free(eb);
	}
	kkrt_receiver_free(r);
	kkrt_sender_free(s);
	psi_sets_free(&ps);
}

/*
 * A sender item whose bins coincide (h_0(y) = h_1(y), likely in a small
 * table) must still get three unrelated values: equal tags would tell the
 * receiver that y satisfies the collision, a fact about a non-member.
 */
static void
test_bin_collisions(void)
{
	size_t		nx = 10,
				ny = 2000;		/* 20 bins: about 300 items with two equal bins */
	uint8_t    *ev = malloc(ny * 3 * KKRT_OUT_BYTES);
	psi_sets	ps;
	uint8_t		dg[32];
	kkrt_receiver *r = NULL;
	kkrt_sender *s = NULL;
	mpc_status	st;
	int			equal = 0;
	size_t		members = 0;

	fuzz_rng_seed(21);
	psi_sets_make(&ps, nx, ny, 5, 21);
	st = run_psi(ps.xs, nx, ps.ys, ny, 1, ps.match, dg, &r, &s);
	ok(st == MPC_OK && check_against_plain(ps.xs, nx, ps.ys, ny, ps.match, &members) == 0 && members == 5,
	   "PSI 10 × 2000 (20 bins) is exact");
	if (st == MPC_OK && kkrt_sender_eval_batch(s, ps.ys, ny, ev) == MPC_OK)
		for (size_t j = 0; j < ny; j++)
		{
			const uint8_t *e = ev + j * 3 * KKRT_OUT_BYTES;

			if (memcmp(e, e + KKRT_OUT_BYTES, KKRT_OUT_BYTES) == 0 ||
				memcmp(e, e + 2 * KKRT_OUT_BYTES, KKRT_OUT_BYTES) == 0 ||
				memcmp(e + KKRT_OUT_BYTES, e + 2 * KKRT_OUT_BYTES, KKRT_OUT_BYTES) == 0)
				equal++;
		}
	else
		equal = -1;
	ok(equal == 0, "an item's three evaluations always differ, even where its bins coincide "
	   "(%d items with two equal)", equal);
	kkrt_receiver_free(r);
	kkrt_sender_free(s);
	psi_sets_free(&ps);
	free(ev);
}

static void
test_psi_sizes(void)
{
	struct
	{
		size_t		nx,
					ny,
					common;
		int			threads;
	}			cases[] = {
		{1, 1, 1, 1}, {1, 1, 0, 1}, {1, 100, 1, 1}, {100, 1, 1, 1}, {1000, 3000, 700, 1},
		{3000, 1000, 1000, 2}, {20000, 20000, 0, 2}, {1 << 16, 1 << 16, 1 << 15, 2},
	};

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
	{
		size_t		nx = cases[c].nx,
					ny = cases[c].ny;
		psi_sets	ps;
		uint8_t		dg[32];
		mpc_status	st;
		size_t		members = 0;
		int			bad = -1;

		fuzz_rng_seed(100 + c);
		psi_sets_make(&ps, nx, ny, cases[c].common, 10 + c);
		st = run_psi(ps.xs, nx, ps.ys, ny, cases[c].threads, ps.match, dg, NULL, NULL);
		if (st == MPC_OK)
			bad = check_against_plain(ps.xs, nx, ps.ys, ny, ps.match, &members);
		ok(st == MPC_OK && bad == 0 && members == cases[c].common,
		   "PSI %zu × %zu (%d thread%s) = the plaintext intersection of %zu (%s, %d wrong)",
		   nx, ny, cases[c].threads, cases[c].threads > 1 ? "s" : "", members,
		   mpc_status_reason(st), bad);
		psi_sets_free(&ps);
	}
}

static void
test_determinism(void)
{
	size_t		nx = 5000,
				ny = 7000;
	uint8_t    *xs = malloc(nx * 16),
			   *ys = malloc(ny * 16);
	size_t	   *m1 = malloc(nx * sizeof(size_t)),
			   *m2 = malloc(nx * sizeof(size_t));
	uint8_t		d1[32],
				d2[32],
				d3[32];
	mpc_status	a,
				b,
				c;

	make_sets(xs, nx, ys, ny, 2500, 5);
	fuzz_rng_seed(9);
	a = run_psi(xs, nx, ys, ny, 1, m1, d1, NULL, NULL);
	fuzz_rng_seed(9);
	b = run_psi(xs, nx, ys, ny, 2, m2, d2, NULL, NULL);
	fuzz_rng_seed(10);
	c = run_psi(xs, nx, ys, ny, 1, m2, d3, NULL, NULL);
	ok(a == MPC_OK && b == MPC_OK && memcmp(d1, d2, 32) == 0,
	   "same seed: the same transcript on one thread and on two");
	ok(c == MPC_OK && memcmp(d1, d3, 32) != 0, "another seed: another transcript");
	free(xs);
	free(ys);
	free(m1);
	free(m2);
}

/* Every incoming buffer: wrong sizes and frames are refused, state unchanged. */
/*
 * The sender's answer to hello with n bytes at off set to v (the copy made
 * in bad), for nx items.
 */
static mpc_status
sender_hello_with(kkrt_sender *s, const uint8_t *hello, size_t hlen, uint8_t *bad,
				  size_t off, size_t n, uint8_t v, size_t nx, uint8_t *base, size_t *blen)
{
	memcpy(bad, hello, hlen);
	memset(bad + off, v, n);
	return kkrt_sender_hello(s, bad, hlen, nx, base, kkrt_base_bytes(), blen);
}

static void
test_malformed(void)
{
	size_t		nx = 9000,		/* three U chunks */
				ny = 20000;		/* two tag batches */
	uint8_t    *xs = malloc(nx * 16),
			   *ys = malloc(ny * 16);
	kkrt_receiver *r;
	kkrt_sender *s;
	mpc_status	st;
	uint8_t		hello[128],
				bad[256];
	uint8_t    *base = malloc(kkrt_base_bytes() + 64);
	uint8_t    *tmp = malloc(kkrt_base_bytes() + 64);
	size_t		hlen,
				blen;
	int			fails = 0;
	size_t		chunks;
	uint8_t   **um;
	size_t	   *ul;
	size_t		tcap;
	uint8_t    *tm[2];
	size_t		tl[2];
	size_t	   *match = malloc(nx * sizeof(size_t));
	size_t		members;

	fuzz_rng_seed(3);
	make_sets(xs, nx, ys, ny, 1234, 3);
	r = kkrt_receiver_new(xs, nx, &st);
	s = kkrt_sender_new(ny, &st);
	ok(kkrt_receiver_new(xs, 0, &st) == NULL && st == MPC_BAD_COUNT &&
	   kkrt_sender_new(0, &st) == NULL && st == MPC_BAD_COUNT &&
	   kkrt_sender_new((size_t) KKRT_MAX_N + 1, &st) == NULL,
	   "empty and oversized sets are refused");
	{
		/* a duplicate set: four copies of one item cannot be placed */
		uint8_t		dup[64] = {0};

		ok(kkrt_receiver_new(dup, 4, &st) == NULL && st == MPC_OUT_OF_RANGE,
		   "four copies of one item: placement failure is reported");
	}
	ok(kkrt_receiver_chunk(r, 0, bad, sizeof(bad), &hlen) == MPC_BAD_STATE,
	   "receiver: a chunk before the base OT is refused");
	ok(kkrt_receiver_tags(r, bad, sizeof(bad)) == MPC_BAD_STATE, "receiver: tags before outputs");
	ok(kkrt_receiver_hello(r, hello, kkrt_hello_bytes() - 1, &hlen) == MPC_BUFFER_TOO_SMALL,
	   "receiver: a too-small hello buffer");
	ok(kkrt_receiver_hello(r, hello, sizeof(hello), &hlen) == MPC_OK, "hello");
	ok(kkrt_receiver_hello(r, hello, sizeof(hello), &hlen) == MPC_BAD_STATE, "hello twice");

	/* HELLO at the sender */
	fails = 0;
	if (kkrt_sender_hello(s, hello, hlen - 1, nx, base, kkrt_base_bytes(), &blen) != MPC_BAD_LENGTH)
		fails |= 1;
	memcpy(bad, hello, hlen);
	bad[hlen] = 0;
	if (kkrt_sender_hello(s, bad, hlen + 1, nx, base, kkrt_base_bytes(), &blen) != MPC_BAD_LENGTH)
		fails |= 2;
	if (kkrt_sender_hello(s, hello, 5, nx, base, kkrt_base_bytes(), &blen) != MPC_BAD_LENGTH)
		fails |= 4;
	if (kkrt_sender_hello(s, NULL, 0, nx, base, kkrt_base_bytes(), &blen) != MPC_BAD_LENGTH)
		fails |= 8;
	if (sender_hello_with(s, hello, hlen, bad, 0, 1, 2, nx, base, &blen) != MPC_BAD_HEADER)
		fails |= 16;
	if (sender_hello_with(s, hello, hlen, bad, 2, 1, 1, nx, base, &blen) != MPC_BAD_HEADER)
		fails |= 32;
	if (sender_hello_with(s, hello, hlen, bad, 1, 1, KKRT_MSG_U, nx, base, &blen) != MPC_WRONG_TYPE)
		fails |= 64;
	if (kkrt_sender_hello(s, hello, hlen, nx - 1, base, kkrt_base_bytes(), &blen) != MPC_BAD_COUNT)
		fails |= 128;
	if (sender_hello_with(s, hello, hlen, bad, 8, 4, 0, nx, base, &blen) != MPC_BAD_COUNT)
		fails |= 256;
	if (sender_hello_with(s, hello, hlen, bad, 4, 1, 1, nx, base, &blen) != MPC_OUT_OF_ORDER)
		fails |= 512;
	/* the base-OT point A: the identity, and a non-canonical encoding */
	if (sender_hello_with(s, hello, hlen, bad, MPC_MSG_HEADER_BYTES + 16 + 12, 32, 0, nx, base, &blen) == MPC_OK)
		fails |= 1024;
	if (sender_hello_with(s, hello, hlen, bad, MPC_MSG_HEADER_BYTES + 16 + 12, 32, 0xff, nx, base, &blen) == MPC_OK)
		fails |= 2048;
	/* the nested base-OT frame's count */
	if (sender_hello_with(s, hello, hlen, bad, MPC_MSG_HEADER_BYTES + 16 + 8, 1,
						  hello[MPC_MSG_HEADER_BYTES + 16 + 8] ^ 1, nx, base, &blen) == MPC_OK)
		fails |= 4096;
	if (kkrt_sender_hello(s, hello, hlen, nx, base, kkrt_base_bytes() - 1, &blen) != MPC_BUFFER_TOO_SMALL)
		fails |= 8192;
	ok(fails == 0, "sender: short, long, empty, bad version/reserved/type/count/seq, identity "
	   "and non-canonical A, bad nested frame, small buffer: all refused (mask %#x)", fails);
	ok(kkrt_sender_chunk(s, hello, hlen) == MPC_BAD_STATE, "sender: a chunk before hello");
	ok(kkrt_sender_hello(s, hello, hlen, nx, base, kkrt_base_bytes(), &blen) == MPC_OK,
	   "sender: the real hello still works after the refusals");

	/* BASE at the receiver */
	fails = 0;
	if (kkrt_receiver_base(r, base, blen - 1, ny) != MPC_BAD_LENGTH)
		fails |= 1;
	memcpy(tmp, base, blen);
	tmp[blen] = 0;
	if (kkrt_receiver_base(r, tmp, blen + 1, ny) != MPC_BAD_LENGTH)
		fails |= 2;
	if (kkrt_receiver_base(r, base, ny - 1, ny) != MPC_BAD_LENGTH)
		fails |= 4;
	if (kkrt_receiver_base(r, base, blen, ny - 1) != MPC_BAD_COUNT)
		fails |= 8;
	memcpy(tmp, base, blen);
	tmp[1] = KKRT_MSG_HELLO;
	if (kkrt_receiver_base(r, tmp, blen, ny) != MPC_WRONG_TYPE)
		fails |= 16;
	memcpy(tmp, base, blen);
	memset(tmp + MPC_MSG_HEADER_BYTES + 16 + 12 + 32 * 5, 0, 32);	/* B_5 = identity */
	if (kkrt_receiver_base(r, tmp, blen, ny) == MPC_OK)
		fails |= 32;
	memcpy(tmp, base, blen);
	memcpy(tmp + MPC_MSG_HEADER_BYTES + 16 + 12, hello + MPC_MSG_HEADER_BYTES + 16 + 12, 32);	/* B_0 = A */
	if (kkrt_receiver_base(r, tmp, blen, ny) == MPC_OK)
		fails |= 64;
	ok(fails == 0, "receiver: short, long, bad count, wrong type, identity B, B = A: all refused (mask %#x)",
	   fails);
	ok(kkrt_receiver_base(r, base, blen, ny) == MPC_OK, "receiver: the real base message still works");
	ok(kkrt_receiver_base(r, base, blen, ny) == MPC_BAD_STATE, "receiver: base twice");

	/* U chunks */
	chunks = kkrt_receiver_chunks(r);
	ok(chunks == kkrt_sender_chunks(s) && chunks >= 1, "both sides agree on %zu chunks", chunks);
	um = calloc(chunks, sizeof(uint8_t *));
	ul = calloc(chunks, sizeof(size_t));
	for (size_t k = 0; k < chunks; k++)
	{
		um[k] = malloc(kkrt_receiver_chunk_bytes(r, k) + 16);
		st = kkrt_receiver_chunk(r, k, um[k], kkrt_receiver_chunk_bytes(r, k), &ul[k]);
		if (st != MPC_OK)
			diag("chunk %zu: %s", k, mpc_status_reason(st));
	}
	ok(kkrt_receiver_chunk(r, 0, um[0], kkrt_receiver_chunk_bytes(r, 0), &ul[0]) == MPC_OUT_OF_ORDER,
	   "receiver: a chunk made twice is refused");
	ok(kkrt_receiver_chunk(r, chunks, um[0], 1 << 20, &hlen) == MPC_BAD_COUNT,
	   "receiver: a chunk past the last");
	fails = 0;
	if (kkrt_sender_chunk(s, um[0], ul[0] - 1) != MPC_BAD_LENGTH)
		fails |= 1;
	um[0][ul[0]] = 0;
	if (kkrt_sender_chunk(s, um[0], ul[0] + 1) != MPC_BAD_LENGTH)
		fails |= 2;
	if (kkrt_sender_chunk(s, um[0], 11) != MPC_BAD_LENGTH)
		fails |= 4;
	memcpy(bad, um[0], 12);
	bad[4] = (uint8_t) chunks;	/* seq = chunks: out of range */
	bad[5] = (uint8_t) (chunks >> 8);
	if (kkrt_sender_chunk(s, bad, 12) != MPC_OUT_OF_ORDER)
		fails |= 8;
	{
		/* the last chunk's message under the first chunk's number: count mismatch */
		uint8_t    *x = malloc(ul[chunks - 1]);

		memcpy(x, um[chunks - 1], ul[chunks - 1]);
		memset(x + 4, 0, 4);
		if (chunks > 1 && kkrt_sender_chunk(s, x, ul[chunks - 1]) != MPC_BAD_COUNT)
			fails |= 16;
		free(x);
	}
	memcpy(bad, um[0], 12);
	bad[1] = KKRT_MSG_TAGS;
	if (kkrt_sender_chunk(s, bad, 12) != MPC_WRONG_TYPE)
		fails |= 32;
	ok(fails == 0, "sender: short, long, header-only, seq out of range, count mismatch, wrong type "
	   "U messages refused (mask %#x)", fails);
	ok(!kkrt_sender_ready(s), "sender: not ready before every chunk");
	tcap = kkrt_tags_bytes(KKRT_TAG_BATCH, kkrt_sender_tag_bytes(s));
	tm[0] = malloc(tcap + 16);
	tm[1] = malloc(tcap + 16);
	ok(kkrt_sender_tags(s, ys, 0, tm[0], tcap, &tl[0]) == MPC_BAD_STATE,
	   "sender: tags before every chunk is refused");
	fails = 0;
	for (size_t k = 0; k < chunks; k++)
		if (kkrt_sender_chunk(s, um[k], ul[k]) != MPC_OK)
			fails++;
	ok(fails == 0 && kkrt_sender_ready(s), "sender: the real chunks still work");
	ok(kkrt_sender_chunk(s, um[0], ul[0]) == MPC_OUT_OF_ORDER, "sender: a replayed chunk is refused");

	/* TAGS */
	ok(kkrt_sender_batches(s) == 2 && kkrt_receiver_batches(r) == 2, "two tag batches");
	ok(kkrt_sender_tags(s, ys, 2, tm[0], tcap, &tl[0]) == MPC_BAD_COUNT, "sender: batch past the last");
	ok(kkrt_sender_tags(s, ys, 0, tm[0], 100, &tl[0]) == MPC_BUFFER_TOO_SMALL, "sender: small tag buffer");
	ok(kkrt_sender_tags(s, ys, 0, tm[0], tcap, &tl[0]) == MPC_OK &&
	   kkrt_sender_tags(s, ys, 1, tm[1], tcap, &tl[1]) == MPC_OK, "sender: both tag batches");
	fails = 0;
	if (kkrt_receiver_tags(r, tm[0], tl[0] - 1) != MPC_BAD_LENGTH)
		fails |= 1;
	tm[0][tl[0]] = 0;
	if (kkrt_receiver_tags(r, tm[0], tl[0] + 1) != MPC_BAD_LENGTH)
		fails |= 2;
	/* batch 1's (shorter) message claiming to be batch 0: count mismatch */
	memcpy(tmp, tm[1], 12);
	memset(tmp + 4, 0, 4);
	if (kkrt_receiver_tags(r, tmp, 12) != MPC_BAD_COUNT)
		fails |= 4;
	memcpy(tmp, tm[1], 12);
	tmp[4] = 2;
	if (kkrt_receiver_tags(r, tmp, 12) != MPC_OUT_OF_ORDER)
		fails |= 8;
	if (kkrt_receiver_tags(r, tm[0], 3) != MPC_BAD_LENGTH)
		fails |= 16;
	memcpy(tmp, tm[0], 12);
	tmp[3] = 9;
	if (kkrt_receiver_tags(r, tmp, 12) != MPC_BAD_HEADER)
		fails |= 32;
	ok(fails == 0, "receiver: short, long, count mismatch, seq out of range, truncated, reserved "
	   "bits: TAGS refused (mask %#x)", fails);
	ok(kkrt_receiver_tags(r, tm[1], tl[1]) == MPC_OK && !kkrt_receiver_done(r) &&
	   kkrt_receiver_tags(r, tm[1], tl[1]) == MPC_OUT_OF_ORDER &&
	   kkrt_receiver_tags(r, tm[0], tl[0]) == MPC_OK && kkrt_receiver_done(r),
	   "receiver: batches in any order, a replayed batch refused, done after both");
	for (size_t i = 0; i < nx; i++)
		match[i] = kkrt_receiver_match(r, i);
	fails = check_against_plain(xs, nx, ys, ny, match, &members);
	ok(fails == 0 && members == 1234,
	   "after all the refused messages the intersection is still exact (%zu)", members);

	for (size_t k = 0; k < chunks; k++)
		free(um[k]);
	free(um);
	free(ul);
	free(tm[0]);
	free(tm[1]);
	kkrt_receiver_free(r);
	kkrt_sender_free(s);
	free(xs);
	free(ys);
	free(base);
	free(tmp);
	free(match);
}

int
main(void)
{
	fuzz_rng_install();			/* aborts if libsodium cannot start */
	test_cuckoo();
	test_oprf();
	test_bin_collisions();
	test_psi_sizes();
	test_determinism();
	test_malformed();
	return tap_done();
}
