/*
 * test_rr22.c — the RR22 PSI (crypto/rr22.h) over the silent VOLE
 * (crypto/vole.h), both parties in one process, TAP output.
 *
 * Reference results come from a plaintext model computed here (a sorted
 * copy of the sender's set and binary search), never from the code under
 * test.  The OPRF is checked by its defining property: the receiver's
 * output for x equals the sender's F(x) for members and non-members alike,
 * and differs from F of every other item.  The wire is scanned for the
 * secrets: both sets, H1 of the receiver's items (recomputed here from the
 * shares the wire carries, by the formula of rr22.h) and Δ.
 *
 * With RR22_BENCH_LOG=k in the environment the timed run is 2^k × 2^k
 * (default 20); RR22_BENCH_LOG=0 skips it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "crypto/okvs.h"
#include "crypto/parallel.h"
#include "crypto/rr22.h"
#include "tap.h"
#define PSI_ITEMS_DOMAIN 0xa5
#include "psi_pair.h"

/* ------------------------------------------------------ helpers */

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* ------------------------------------------------------ the harness */

/* every message of a run, in order */
typedef struct wire
{
	uint8_t    *hello,
			   *base,
			   *cot,
			   *trees;
	size_t		hlen,
				blen,
				clen,
				tlen;
	uint8_t   **dmsg;
	size_t	   *dlen;
	size_t		nd;
	uint8_t   **tmsg;
	size_t	   *tglen;
	size_t		nt;
} wire;

static void
wire_free(wire *w)
{
	free(w->hello);
	free(w->base);
	free(w->cot);
	free(w->trees);
	for (size_t k = 0; k < w->nd; k++)
		free(w->dmsg[k]);
	for (size_t k = 0; k < w->nt; k++)
		free(w->tmsg[k]);
	free(w->dmsg);
	free(w->dlen);
	free(w->tmsg);
	free(w->tglen);
	memset(w, 0, sizeof(*w));
}

static size_t
wire_bytes(const wire *w, size_t *r_to_s, size_t *s_to_r)
{
	*r_to_s = w->hlen + w->clen;
	*s_to_r = w->blen + w->tlen;
	for (size_t k = 0; k < w->nd; k++)
		*r_to_s += w->dlen[k];
	for (size_t k = 0; k < w->nt; k++)
		*s_to_r += w->tglen[k];
	return *r_to_s + *s_to_r;
}

PSI_PAIR_FLIGHTS(rr22, RR22_TAG_BATCH)

typedef struct timings
{
	double		setup,
				hello,
				base_s,
				base_r,
				cot_s,
				trees_r,
				chunks,
				tags,
				match;
} timings;

/*
 * A whole PSI run; match[i] = rr22_receiver_match.  The messages go to *w
 * (freed by the caller), the states to keep_r/keep_s if given.
 */
static mpc_status
run_psi(const uint8_t *xs, size_t nx, const uint8_t *ys, size_t ny, int threads,
		size_t *match, wire *w, timings *tm, rr22_receiver **keep_r, rr22_sender **keep_s)
{
	mpc_status	st;
	psi_ctx		c = {0};
	double		t0;
	timings		dummy;

	if (tm == NULL)
		tm = &dummy;
	memset(w, 0, sizeof(*w));
	c.ys = ys;
	t0 = now_ms();
	c.r = rr22_receiver_new(xs, nx, threads, &st);
	if (c.r == NULL)
		goto out;
	c.s = rr22_sender_new(ny, threads, &st);
	if (c.s == NULL)
		goto out;
	tm->setup = now_ms() - t0;
	w->hello = malloc(rr22_hello_bytes());
	w->base = malloc(rr22_base_bytes());
	w->cot = malloc(rr22_cot_bytes(rr22_receiver_columns(c.r)));
	w->trees = malloc(rr22_trees_bytes(rr22_receiver_columns(c.r)));
	t0 = now_ms();
	if ((st = rr22_receiver_hello(c.r, w->hello, rr22_hello_bytes(), &w->hlen)) != MPC_OK)
		goto out;
	tm->hello = now_ms() - t0;
	t0 = now_ms();
	if ((st = rr22_sender_hello(c.s, w->hello, w->hlen, nx, w->base, rr22_base_bytes(), &w->blen)) != MPC_OK)
		goto out;
	tm->base_s = now_ms() - t0;
	t0 = now_ms();
	if ((st = rr22_receiver_base(c.r, w->base, w->blen, ny, w->cot,
								 rr22_cot_bytes(rr22_receiver_columns(c.r)), &w->clen)) != MPC_OK)
		goto out;
	tm->base_r = now_ms() - t0;
	t0 = now_ms();
	if ((st = rr22_sender_cot(c.s, w->cot, w->clen, w->trees,
							  rr22_trees_bytes(rr22_sender_columns(c.s)), &w->tlen)) != MPC_OK)
		goto out;
	tm->cot_s = now_ms() - t0;
	t0 = now_ms();
	if ((st = rr22_receiver_trees(c.r, w->trees, w->tlen)) != MPC_OK)
		goto out;
	tm->trees_r = now_ms() - t0;

	w->nd = rr22_receiver_chunks(c.r);
	t0 = now_ms();
	st = psi_flight(&c, false, w->nd, threads, &w->dmsg, &w->dlen);
	tm->chunks = now_ms() - t0;
	if (st != MPC_OK)
		goto out;

	w->nt = rr22_sender_batches(c.s);
	t0 = now_ms();
	st = psi_flight(&c, true, w->nt, threads, &w->tmsg, &w->tglen);
	tm->tags = now_ms() - t0;
	if (st != MPC_OK)
		goto out;
	t0 = now_ms();
	for (size_t b = 0; b < w->nt; b++)
		if ((st = rr22_receiver_tags(c.r, w->tmsg[b], w->tglen[b])) != MPC_OK)
			goto out;
	if (!rr22_receiver_done(c.r))
	{
		st = MPC_BAD_STATE;
		goto out;
	}
	for (size_t i = 0; i < nx; i++)
		match[i] = rr22_receiver_match(c.r, i);
	tm->match = now_ms() - t0;

out:
	psi_keep_or_free(&c, st, keep_r, keep_s);
	return st;
}

/* ----------------------------------------------------------- tests */

static void
test_sizes(void)
{
	static const struct
	{
		size_t		nx,
					ny,
					common;
		const char *what;
	}			cases[] = {
		{1, 1, 1, "1 × 1, the one item shared"},
		{1, 1, 0, "1 × 1, nothing shared"},
		{2, 2, 1, "2 × 2, one shared"},
		{1000, 1000, 400, "1000 × 1000, partial overlap"},
		{1000, 1000, 0, "1000 × 1000, empty intersection"},
		{3000, 3000, 3000, "3000 × 3000, the same set"},
		{50, 20000, 50, "50 × 20 000, every receiver item a member"},
		{20000, 50, 50, "20 000 × 50, every sender item a member"},
		{100000, 100000, 37000, "100 000 × 100 000, partial overlap"},
	};

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
	{
		size_t		nx = cases[c].nx,
					ny = cases[c].ny;
		psi_sets	ps;
		size_t		members = 0;
		wire		w;
		mpc_status	st;
		int			bad = -1;

		psi_sets_make(&ps, nx, ny, cases[c].common, 100 + c);
		st = run_psi(ps.xs, nx, ps.ys, ny, c % 2 ? 2 : 1, ps.match, &w, NULL, NULL, NULL);
		if (st == MPC_OK)
			bad = check_against_plain(ps.xs, nx, ps.ys, ny, ps.match, &members);
		ok(st == MPC_OK && bad == 0 && members == cases[c].common,
		   "%s: intersection = the plaintext one (%zu members, %d wrong, %s)",
		   cases[c].what, members, bad, mpc_status_reason(st));
		wire_free(&w);
		psi_sets_free(&ps);
	}
}

/* The OPRF property, and the sender's evaluation. */
static void
test_outputs(void)
{
	size_t		nx = 1000,
				ny = 1500;
	uint8_t    *fx = malloc(nx * RR22_OUT_BYTES),
			   *fy = malloc(ny * RR22_OUT_BYTES);
	psi_sets	ps;
	rr22_receiver *r = NULL;
	rr22_sender *s = NULL;
	wire		w;
	mpc_status	st;
	int			eq_bad = 0,
				ne_bad = 0;

	psi_sets_make(&ps, nx, ny, 600, 7);
	st = run_psi(ps.xs, nx, ps.ys, ny, 2, ps.match, &w, NULL, &r, &s);
	ok(st == MPC_OK, "a 1000 × 1500 run completes (%s)", mpc_status_reason(st));
	if (st != MPC_OK)
		goto out;
	ok(rr22_sender_eval_batch(s, ps.xs, nx, fx) == MPC_OK &&
	   rr22_sender_eval_batch(s, ps.ys, ny, fy) == MPC_OK, "the sender evaluates both sets");
	for (size_t i = 0; i < nx; i++)
	{
		const uint8_t *o = rr22_receiver_output(r, i);

		if (o == NULL || memcmp(o, fx + RR22_OUT_BYTES * i, RR22_OUT_BYTES) != 0)
			eq_bad++;
		/* against a few of the other items' values */
		for (size_t j = 0; j < 5; j++)
		{
			size_t		k = (i * 7 + j * 131 + 1) % ny;

			if (o != NULL && memcmp(ps.xs + 16 * i, ps.ys + 16 * k, 16) != 0 &&
				memcmp(o, fy + RR22_OUT_BYTES * k, 16) == 0)
				ne_bad++;
		}
	}
	ok(eq_bad == 0, "receiver output = the sender's F(x), members and non-members alike (%d bad)", eq_bad);
	ok(ne_bad == 0, "outputs differ from other items' F (%d equal)", ne_bad);
	ok(rr22_receiver_output(r, nx) == NULL, "output past n is NULL");
	ok(rr22_sender_eval_batch(s, ps.ys, 0, fy) == MPC_BAD_COUNT, "batch evaluation of nothing refused");
	{
		/* an unmodified run again: fresh randomness gives other outputs */
		rr22_receiver *r2 = NULL;
		rr22_sender *s2 = NULL;
		wire		w2;

		st = run_psi(ps.xs, nx, ps.ys, ny, 1, ps.match, &w2, NULL, &r2, &s2);
		ok(st == MPC_OK && memcmp(rr22_receiver_output(r2, 0), rr22_receiver_output(r, 0),
								  RR22_OUT_BYTES) != 0, "a second run: other outputs");
		rr22_receiver_free(r2);
		rr22_sender_free(s2);
		wire_free(&w2);
	}
out:
	rr22_receiver_free(r);
	rr22_sender_free(s);
	wire_free(&w);
	psi_sets_free(&ps);
	free(fx);
	free(fy);
}

/* ---- the wire carries no secret ---- */

static int
cmp8(const void *a, const void *b)
{
	uint64_t	x = *(const uint64_t *) a,
				y = *(const uint64_t *) b;

	return x < y ? -1 : x > y;
}

typedef struct windows
{
	uint64_t   *v;
	size_t		n,
				cap;
} windows;

static void
windows_add(windows *ws, const uint8_t *msg, size_t len)
{
	for (size_t i = 0; i + 8 <= len; i++)
	{
		if (ws->n == ws->cap)
		{
			ws->cap = ws->cap ? 2 * ws->cap : 1 << 16;
			ws->v = realloc(ws->v, ws->cap * sizeof(uint64_t));
		}
		memcpy(&ws->v[ws->n++], msg + i, 8);
	}
}

/* How many of the count 16-byte secrets have an 8-byte half on the wire. */
static size_t
secrets_on_wire(const windows *ws, const uint8_t *sec, size_t count)
{
	size_t		found = 0;

	for (size_t i = 0; i < count; i++)
		for (int h = 0; h < 2; h++)
		{
			uint64_t	x;

			memcpy(&x, sec + 16 * i + 8 * h, 8);
			if (bsearch(&x, ws->v, ws->n, 8, cmp8) != NULL)
			{
				found++;
				break;
			}
		}
	return found;
}

/* H1 as rr22.h defines it, from the two shares on the wire (an independent model). */
static void
model_h1(const wire *w, size_t nx, size_t ny, const uint8_t *xs, uint8_t *h1)
{
	static const uint8_t personal_seed[16] = "pgpriv-rr22-seed";
	crypto_generichash_blake2b_state h;
	uint8_t		nn[8] = {0};
	uint8_t		out[48];
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int			outl;

	nn[0] = (uint8_t) nx;
	nn[1] = (uint8_t) (nx >> 8);
	nn[2] = (uint8_t) (nx >> 16);
	nn[3] = (uint8_t) (nx >> 24);
	nn[4] = (uint8_t) ny;
	nn[5] = (uint8_t) (ny >> 8);
	nn[6] = (uint8_t) (ny >> 16);
	nn[7] = (uint8_t) (ny >> 24);
	crypto_generichash_blake2b_init_salt_personal(&h, NULL, 0, sizeof(out), NULL, personal_seed);
	crypto_generichash_blake2b_update(&h, w->hello + 12, 16);
	crypto_generichash_blake2b_update(&h, w->base + 12, 16);
	crypto_generichash_blake2b_update(&h, nn, sizeof(nn));
	crypto_generichash_blake2b_final(&h, out, sizeof(out));
	EVP_EncryptInit_ex(ctx, EVP_aes_128_ecb(), NULL, out + 16, NULL);
	EVP_CIPHER_CTX_set_padding(ctx, 0);
	EVP_EncryptUpdate(ctx, h1, &outl, xs, (int) (16 * nx));
	EVP_CIPHER_CTX_free(ctx);
	for (size_t i = 0; i < 16 * nx; i++)
		h1[i] ^= xs[i];
}

static void
test_wire(void)
{
	size_t		nx = 2000,
				ny = 2000;
	uint8_t    *h1 = malloc(nx * 16),
			   *fy = malloc(ny * RR22_OUT_BYTES);
	psi_sets	ps;
	rr22_receiver *r = NULL;
	rr22_sender *s = NULL;
	wire		w;
	windows		ws = {0};
	mpc_status	st;
	size_t		members = 0,
				found_x,
				found_y,
				found_h,
				found_d,
				found_p,
				rs,
				sr;
	ot_block	delta;
	uint8_t    *fykeys = malloc(ny * 16);

	psi_sets_make(&ps, nx, ny, 900, 11);
	st = run_psi(ps.xs, nx, ps.ys, ny, 2, ps.match, &w, NULL, &r, &s);
	ok(st == MPC_OK && check_against_plain(ps.xs, nx, ps.ys, ny, ps.match, &members) == 0 && members == 900,
	   "the scanned run is right (%s)", mpc_status_reason(st));
	if (st != MPC_OK)
		goto out;
	windows_add(&ws, w.hello, w.hlen);
	windows_add(&ws, w.base, w.blen);
	windows_add(&ws, w.cot, w.clen);
	windows_add(&ws, w.trees, w.tlen);
	for (size_t k = 0; k < w.nd; k++)
		windows_add(&ws, w.dmsg[k], w.dlen[k]);
	for (size_t k = 0; k < w.nt; k++)
		windows_add(&ws, w.tmsg[k], w.tglen[k]);
	qsort(ws.v, ws.n, 8, cmp8);
	model_h1(&w, nx, ny, ps.xs, h1);
	delta = rr22_sender_delta(s);
	rr22_sender_eval_batch(s, ps.ys, ny, fy);
	/* bytes 16..31 of F(y): the psi_fetch keys, never sent */
	for (size_t i = 0; i < ny; i++)
		memcpy(fykeys + 16 * i, fy + RR22_OUT_BYTES * i + 16, 16);
	found_x = secrets_on_wire(&ws, ps.xs, nx);
	found_y = secrets_on_wire(&ws, ps.ys, ny);
	found_h = secrets_on_wire(&ws, h1, nx);
	found_d = secrets_on_wire(&ws, (const uint8_t *) &delta, 1);
	found_p = secrets_on_wire(&ws, fykeys, ny);
	wire_bytes(&w, &rs, &sr);
	/* false positives: (windows · secret halves) / 2^64 < 2^-30 */
	ok(found_x == 0 && found_y == 0, "neither set's items on the wire (%zu windows; %zu, %zu found)",
	   ws.n, found_x, found_y);
	ok(found_h == 0, "no H1(x) on the wire (%zu found; H1 recomputed from the shares)", found_h);
	ok(found_d == 0, "Δ is not on the wire");
	ok(found_p == 0, "no bytes 16..31 of any F(y) on the wire (%zu found)", found_p);
	{
		/* the H1 model is right: the sender's F(x) = H_o(x, Decode(K,x) + Δ·H1(x)) is what it is
		 * only if H1 is; check that the model's H1 differs from the items (a trivial sanity) */
		ok(memcmp(h1, ps.xs, 16) != 0, "H1 is not the identity");
	}
out:
	free(ws.v);
	rr22_receiver_free(r);
	rr22_sender_free(s);
	wire_free(&w);
	psi_sets_free(&ps);
	free(h1);
	free(fy);
	free(fykeys);
}

/* ---- malformed messages ---- */

typedef mpc_status (*consume_fn) (void *arg, const uint8_t *msg, size_t len);

/*
 * Every generic corruption of msg (short, long, header-only, bad version,
 * type, reserved, seq, count ±1 / 0 / huge) must be refused; returns a bit
 * mask of the variants that were accepted.
 */
static unsigned
corruptions_refused(const uint8_t *msg, size_t len, consume_fn fn, void *arg, bool check_seq)
{
	uint8_t    *b = malloc(len + 16);
	unsigned	accepted = 0;
	int			v = 0;

#define TRY(setup, blen) do { memcpy(b, msg, len); setup; if (fn(arg, b, (blen)) == MPC_OK) accepted |= 1u << v; v++; } while (0)
	TRY((void) 0, len - 1);
	TRY(b[len] = 0, len + 1);
	TRY((void) 0, MPC_MSG_HEADER_BYTES);
	TRY((void) 0, 5);
	TRY(b[0] = 2, len);
	TRY(b[1] = 0x41, len);		/* a KKRT message */
	TRY(b[1] = 0x70, len);
	TRY(b[1] = (uint8_t) (b[1] == RR22_MSG_HELLO ? RR22_MSG_BASE : RR22_MSG_HELLO), len);
	TRY(b[2] = 1, len);
	TRY(b[3] = 0x80, len);
	if (check_seq)
		TRY(b[4] ^= 1, len);
	else
		v++;
	TRY(b[4] = 0xff; b[5] = 0xff; b[6] = 0xff; b[7] = 0xff, len);
	TRY(b[8] ^= 1, len);
	TRY(b[8] = 0; b[9] = 0; b[10] = 0; b[11] = 0, len);
	TRY(b[8] = 0xff; b[9] = 0xff; b[10] = 0xff; b[11] = 0x7f, len);
#undef TRY
	free(b);
	return accepted;
}

typedef struct mal_ctx
{
	rr22_receiver *r;
	rr22_sender *s;
	size_t		max_peer;
	uint8_t    *out;
	size_t		cap,
				olen;
} mal_ctx;

static mpc_status
c_sender_hello(void *arg, const uint8_t *m, size_t l)
{
	mal_ctx    *c = arg;

	return rr22_sender_hello(c->s, m, l, c->max_peer, c->out, c->cap, &c->olen);
}

static mpc_status
c_receiver_base(void *arg, const uint8_t *m, size_t l)
{
	mal_ctx    *c = arg;

	return rr22_receiver_base(c->r, m, l, c->max_peer, c->out, c->cap, &c->olen);
}

static mpc_status
c_sender_cot(void *arg, const uint8_t *m, size_t l)
{
	mal_ctx    *c = arg;

	return rr22_sender_cot(c->s, m, l, c->out, c->cap, &c->olen);
}

static mpc_status
c_receiver_trees(void *arg, const uint8_t *m, size_t l)
{
	mal_ctx    *c = arg;

	return rr22_receiver_trees(c->r, m, l);
}

static mpc_status
c_sender_chunk(void *arg, const uint8_t *m, size_t l)
{
	mal_ctx    *c = arg;

	return rr22_sender_chunk(c->s, m, l);
}

static mpc_status
c_receiver_tags(void *arg, const uint8_t *m, size_t l)
{
	mal_ctx    *c = arg;

	return rr22_receiver_tags(c->r, m, l);
}

static void
test_malformed(void)
{
	size_t		nx = 40000,
				ny = 20000;		/* two D chunks, two tag batches */
	uint8_t    *xs = malloc(nx * 16),
			   *ys = malloc(ny * 16);
	size_t	   *match = malloc(nx * sizeof(size_t));
	mpc_status	st;
	rr22_receiver *r;
	rr22_sender *s;
	uint8_t		hello[1024];
	size_t		hlen,
				m,
				blen,
				clen,
				tlen,
				members = 0;
	uint8_t    *base,
			   *cot,
			   *trees;
	mal_ctx		c;
	unsigned	acc;
	uint8_t		junk[64] = {0};
	uint8_t   **dm;
	size_t	   *dl;
	uint8_t   **tg;
	size_t	   *tl;
	size_t		nd,
				nt;
	bool		all;

	make_sets(xs, nx, ys, ny, 1234, 21);
	ok(rr22_receiver_new(xs, 0, 1, &st) == NULL && st == MPC_BAD_COUNT &&
	   rr22_receiver_new(xs, (size_t) RR22_MAX_N + 1, 1, &st) == NULL && st == MPC_BAD_COUNT &&
	   rr22_sender_new(0, 1, &st) == NULL && st == MPC_BAD_COUNT,
	   "no set of 0 or more than RR22_MAX_N items");
	ok(rr22_columns(0) == 0 && rr22_columns(1000) == okvs_columns(1000), "m = okvs_columns(n)");
	r = rr22_receiver_new(xs, nx, 2, &st);
	s = rr22_sender_new(ny, 2, &st);
	m = rr22_receiver_columns(r);
	base = malloc(rr22_base_bytes());
	cot = malloc(rr22_cot_bytes(m));
	trees = malloc(rr22_trees_bytes(m));
	ok(rr22_receiver_chunk(r, 0, junk, sizeof(junk), &hlen) == MPC_BAD_STATE &&
	   rr22_receiver_tags(r, junk, sizeof(junk)) == MPC_BAD_STATE &&
	   rr22_receiver_base(r, junk, sizeof(junk), ny, cot, rr22_cot_bytes(m), &clen) == MPC_BAD_STATE,
	   "receiver: steps before hello refused");
	ok(rr22_receiver_hello(r, hello, rr22_hello_bytes() - 1, &hlen) == MPC_BUFFER_TOO_SMALL,
	   "receiver: small hello buffer");
	st = rr22_receiver_hello(r, hello, sizeof(hello), &hlen);
	ok(st == MPC_OK && hlen == rr22_hello_bytes(), "hello (%zu bytes)", hlen);
	ok(rr22_receiver_hello(r, hello, sizeof(hello), &hlen) == MPC_BAD_STATE, "hello twice");

	/* flight 1 at the sender */
	c.r = r;
	c.s = s;
	c.out = base;
	c.cap = rr22_base_bytes();
	c.max_peer = nx;
	ok(rr22_sender_cot(s, junk, sizeof(junk), trees, rr22_trees_bytes(m), &tlen) == MPC_BAD_STATE &&
	   rr22_sender_chunk(s, junk, sizeof(junk)) == MPC_BAD_STATE, "sender: steps before hello refused");
	acc = corruptions_refused(hello, hlen, c_sender_hello, &c, true);
	ok(acc == 0, "sender: corrupted hellos refused (accepted mask %#x)", acc);
	c.max_peer = nx - 1;
	ok(c_sender_hello(&c, hello, hlen) == MPC_BAD_COUNT, "sender: n_R over max_peer_n refused");
	{
		/* the VOLE inside asks for another length than okvs_columns(n_R) */
		uint8_t		h2[1024];

		memcpy(h2, hello, hlen);
		h2[12 + 16 + 8] ^= 1;
		c.max_peer = nx;
		ok(c_sender_hello(&c, h2, hlen) == MPC_BAD_COUNT, "sender: a VOLE length ≠ m refused");
		memcpy(h2, hello, hlen);
		h2[12 + 16 + 1] = 0x41;
		ok(c_sender_hello(&c, h2, hlen) != MPC_OK, "sender: a hello whose inner message is not the VOLE's refused");
	}
	c.cap = rr22_base_bytes() - 1;
	ok(c_sender_hello(&c, hello, hlen) == MPC_BUFFER_TOO_SMALL, "sender: small base buffer");
	c.cap = rr22_base_bytes();
	c.max_peer = nx;
	ok(c_sender_hello(&c, hello, hlen) == MPC_OK && c.olen == rr22_base_bytes() &&
	   rr22_sender_columns(s) == m, "sender: the real hello still works (m = %zu)", m);
	blen = c.olen;
	ok(c_sender_hello(&c, hello, hlen) == MPC_BAD_STATE, "sender: hello twice");

	/* flight 2 at the receiver */
	c.out = cot;
	c.cap = rr22_cot_bytes(m);
	c.max_peer = ny;
	acc = corruptions_refused(base, blen, c_receiver_base, &c, true);
	ok(acc == 0, "receiver: corrupted base messages refused (accepted mask %#x)", acc);
	c.max_peer = ny - 1;
	ok(c_receiver_base(&c, base, blen) == MPC_BAD_COUNT, "receiver: n_S over max_peer_n refused");
	c.max_peer = ny;
	c.cap = rr22_cot_bytes(m) - 1;
	ok(c_receiver_base(&c, base, blen) == MPC_BUFFER_TOO_SMALL, "receiver: small COT buffer");
	c.cap = rr22_cot_bytes(m);
	ok(c_receiver_base(&c, base, blen) == MPC_OK && c.olen == rr22_cot_bytes(m),
	   "receiver: the real base message still works");
	clen = c.olen;
	ok(c_receiver_base(&c, base, blen) == MPC_BAD_STATE, "receiver: base twice");

	/* flight 3 at the sender */
	c.out = trees;
	c.cap = rr22_trees_bytes(m);
	acc = corruptions_refused(cot, clen, c_sender_cot, &c, true);
	ok(acc == 0, "sender: corrupted COT messages refused (accepted mask %#x)", acc);
	{
		uint8_t    *c2 = malloc(clen);

		memcpy(c2, cot, clen);
		c2[12] = RR22_OKVS_TRIES;
		ok(c_sender_cot(&c, c2, clen) == MPC_OUT_OF_RANGE, "sender: an OKVS try past the last refused");
		free(c2);
	}
	ok(c_sender_cot(&c, cot, clen) == MPC_OK && c.olen == rr22_trees_bytes(m),
	   "sender: the real COT message still works");
	tlen = c.olen;
	ok(c_sender_cot(&c, cot, clen) == MPC_BAD_STATE, "sender: COT twice");

	/* flight 4 at the receiver */
	acc = corruptions_refused(trees, tlen, c_receiver_trees, &c, true);
	ok(acc == 0, "receiver: corrupted TREES messages refused (accepted mask %#x)", acc);
	ok(!rr22_receiver_outputs_ready(r) && rr22_receiver_output(r, 0) == NULL, "receiver: no outputs yet");
	ok(c_receiver_trees(&c, trees, tlen) == MPC_OK && rr22_receiver_outputs_ready(r),
	   "receiver: the real TREES message still works");
	ok(c_receiver_trees(&c, trees, tlen) == MPC_BAD_STATE, "receiver: TREES twice");

	/* flight 5 */
	nd = rr22_receiver_chunks(r);
	ok(nd == 2 && rr22_sender_chunks(s) == nd, "both sides agree on %zu D chunks", nd);
	dm = calloc(nd, sizeof(uint8_t *));
	dl = calloc(nd, sizeof(size_t));
	for (size_t k = 0; k < nd; k++)
	{
		dm[k] = malloc(rr22_receiver_chunk_bytes(r, k));
		rr22_receiver_chunk(r, k, dm[k], rr22_receiver_chunk_bytes(r, k), &dl[k]);
	}
	ok(rr22_receiver_chunk(r, nd, dm[0], 1 << 20, &hlen) == MPC_BAD_COUNT &&
	   rr22_receiver_chunk(r, 0, dm[0], rr22_receiver_chunk_bytes(r, 0) - 1, &hlen) == MPC_BUFFER_TOO_SMALL,
	   "receiver: chunk past the last / small chunk buffer refused");
	all = true;
	for (size_t k = 0; k < nd; k++)
	{
		acc = corruptions_refused(dm[k], dl[k], c_sender_chunk, &c, false);
		all = all && acc == 0;
	}
	{
		/* chunk 0's payload under chunk 1's number: wrong count */
		uint8_t    *d2 = malloc(dl[0]);

		memcpy(d2, dm[0], dl[0]);
		d2[4] = 1;
		all = all && c_sender_chunk(&c, d2, dl[0]) != MPC_OK;
		d2[4] = 2;
		all = all && c_sender_chunk(&c, d2, dl[0]) == MPC_OUT_OF_ORDER;
		free(d2);
	}
	ok(all, "sender: corrupted D chunks, a chunk past the last, a count for another chunk refused");
	ok(!rr22_sender_ready(s), "sender: not ready before every chunk");
	{
		size_t		tcap = rr22_tags_bytes(RR22_TAG_BATCH, rr22_sender_tag_bytes(s));
		uint8_t    *t0 = malloc(tcap);

		ok(rr22_sender_tags(s, ys, 0, t0, tcap, &tlen) == MPC_BAD_STATE, "sender: tags before every chunk");
		free(t0);
	}
	all = true;
	for (size_t k = 0; k < nd; k++)
		all = all && c_sender_chunk(&c, dm[nd - 1 - k], dl[nd - 1 - k]) == MPC_OK;
	ok(all && rr22_sender_ready(s), "sender: the real chunks (in reverse order) still work");
	ok(c_sender_chunk(&c, dm[0], dl[0]) == MPC_OUT_OF_ORDER, "sender: a replayed chunk is refused");

	/* flight 6 */
	nt = rr22_sender_batches(s);
	ok(nt == 2 && rr22_receiver_batches(r) == 2, "two tag batches");
	tg = calloc(nt, sizeof(uint8_t *));
	tl = calloc(nt, sizeof(size_t));
	{
		size_t		tcap = rr22_tags_bytes(RR22_TAG_BATCH, rr22_sender_tag_bytes(s));

		for (size_t b = 0; b < nt; b++)
		{
			tg[b] = malloc(tcap);
			st = rr22_sender_tags(s, ys, b, tg[b], tcap, &tl[b]);
		}
		ok(st == MPC_OK && rr22_sender_tags(s, ys, nt, tg[0], tcap, &tlen) == MPC_BAD_COUNT &&
		   rr22_sender_tags(s, ys, 0, tg[0], 100, &tlen) == MPC_BUFFER_TOO_SMALL,
		   "sender: tags made; batch past the last and small buffer refused");
	}
	all = true;
	for (size_t b = 0; b < nt; b++)
		all = all && corruptions_refused(tg[b], tl[b], c_receiver_tags, &c, false) == 0;
	ok(all, "receiver: corrupted tag batches refused");
	ok(!rr22_receiver_done(r), "receiver: not done");
	ok(c_receiver_tags(&c, tg[1], tl[1]) == MPC_OK && !rr22_receiver_done(r) &&
	   c_receiver_tags(&c, tg[1], tl[1]) == MPC_OUT_OF_ORDER &&
	   c_receiver_tags(&c, tg[0], tl[0]) == MPC_OK && rr22_receiver_done(r),
	   "receiver: batches out of order, a replay refused, then done");
	for (size_t i = 0; i < nx; i++)
		match[i] = rr22_receiver_match(r, i);
	all = check_against_plain(xs, nx, ys, ny, match, &members) == 0;
	ok(all && members == 1234,
	   "after every refused message the run's intersection is still the plaintext one (%zu)", members);
	ok(rr22_receiver_memory(r) > nx * RR22_OUT_BYTES && rr22_sender_memory(s) > m * 16,
	   "memory accounting covers the outputs and K (%zu, %zu bytes)",
	   rr22_receiver_memory(r), rr22_sender_memory(s));

	for (size_t k = 0; k < nd; k++)
		free(dm[k]);
	for (size_t b = 0; b < nt; b++)
		free(tg[b]);
	free(dm);
	free(dl);
	free(tg);
	free(tl);
	free(base);
	free(cot);
	free(trees);
	rr22_receiver_free(r);
	rr22_sender_free(s);
	free(xs);
	free(ys);
	free(match);
}

/* a receiver item given twice: its two rows agree, the OKVS solves, both copies match */
static void
test_duplicates(void)
{
	uint8_t		xs[4 * 16],
				ys[3 * 16];
	size_t		match[4];
	wire		w;
	mpc_status	st;

	make_items(xs, 4, 99);
	memcpy(xs + 16, xs, 16);
	make_items(ys, 3, 98);
	memcpy(ys + 32, xs, 16);
	st = run_psi(xs, 4, ys, 3, 1, match, &w, NULL, NULL, NULL);
	ok(st == MPC_OK && match[0] == 2 && match[1] == 2 && match[2] == SIZE_MAX && match[3] == SIZE_MAX,
	   "a receiver item given twice: both copies match, nothing else (%s)", mpc_status_reason(st));
	wire_free(&w);
}

static void
bench(int lg)
{
	size_t		n = (size_t) 1 << lg;
	uint8_t    *xs = malloc(n * 16),
			   *ys = malloc(n * 16);
	size_t	   *match = malloc(n * sizeof(size_t));
	size_t		members = 0,
				rs,
				sr,
				total;
	wire		w;
	timings		tm;
	mpc_status	st;
	double		t0 = now_ms(),
				all;

	make_sets(xs, n, ys, n, n / 2, 5);
	st = run_psi(xs, n, ys, n, 2, match, &w, &tm, NULL, NULL);
	all = now_ms() - t0;
	ok(st == MPC_OK && check_against_plain(xs, n, ys, n, match, &members) == 0 && members == n / 2,
	   "2^%d × 2^%d, half matching: intersection = the plaintext one (%s)", lg, lg, mpc_status_reason(st));
	total = wire_bytes(&w, &rs, &sr);
	diag("2^%d × 2^%d, 2 threads per party, parties in turn:", lg, lg);
	diag("  setup %.0f ms, hello %.0f ms, owner base %.0f ms, asker base (H1, OKVS encode, COT) %.0f ms",
		 tm.setup, tm.hello, tm.base_s, tm.base_r);
	diag("  owner COT → trees %.0f ms, asker trees (VOLE, outputs, D) %.0f ms",
		 tm.cot_s, tm.trees_r);
	diag("  D chunks (both) %.0f ms, owner tags %.0f ms, asker matching %.0f ms; total %.0f ms",
		 tm.chunks, tm.tags, tm.match, all);
	diag("  wire: hello %zu, base %zu, COT %zu, trees %zu, D %zu chunks, tags %zu batches",
		 w.hlen, w.blen, w.clen, w.tlen, w.nd, w.nt);
	diag("  wire: asker → owner %.1f MB = %.1f bits/element, owner → asker %.1f MB = %.1f bits/element, "
		 "total %.1f bits/element", rs / 1e6, 8.0 * rs / n, sr / 1e6, 8.0 * sr / n, 8.0 * total / n);
	wire_free(&w);
	free(xs);
	free(ys);
	free(match);
}

int
main(void)
{
	const char *lg = getenv("RR22_BENCH_LOG");

	if (sodium_init() < 0)
		return 1;
	test_sizes();
	test_outputs();
	test_wire();
	test_malformed();
	test_duplicates();
	if (lg == NULL || atoi(lg) > 0)
		bench(lg ? atoi(lg) : 20);
	return tap_done();
}
