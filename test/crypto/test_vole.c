/*
 * test_vole.c — the silent VOLE (crypto/vole.h), both parties in one
 * process: C = B + A·Δ at every position for several lengths (checked with
 * gf128_mul_const and with the portable multiplication), A pseudorandom
 * looking, every message's checks (and the state still working with the
 * correct message afterwards), no secret on the wire, bytes and times at
 * the length of a 2^20-row balanced join.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "crypto/gf128.h"
#include "crypto/vole.h"
#include "tap.h"

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct run
{
	vole_receiver *r;
	vole_sender *s;
	uint8_t    *msg[4];
	size_t		len[4];
	double		t_recv,
				t_send,
				t_step[5];		/* asker hello, owner hello, asker base, owner cot, asker trees */
	mpc_status	st;
} run;

static void
run_free(run *x)
{
	vole_receiver_free(x->r);
	vole_sender_free(x->s);
	for (int i = 0; i < 4; i++)
		free(x->msg[i]);
	memset(x, 0, sizeof(*x));
}

/* One whole run; keeps the four messages. */
static mpc_status
run_vole(run *x, size_t m, int nthreads)
{
	mpc_status	st;
	double		t0;

	memset(x, 0, sizeof(*x));
	x->msg[0] = malloc(vole_hello_bytes());
	x->msg[1] = malloc(vole_base_bytes());
	x->msg[2] = malloc(vole_cot_bytes(m));
	x->msg[3] = malloc(vole_trees_bytes(m));
	t0 = now();
	x->r = vole_receiver_new(m, &st);
	if (x->r == NULL)
		return st;
	vole_receiver_set_threads(x->r, nthreads);
	st = vole_receiver_hello(x->r, x->msg[0], vole_hello_bytes(), &x->len[0]);
	x->t_step[0] = now() - t0;
	x->t_recv += x->t_step[0];
	if (st != MPC_OK)
		return st;
	t0 = now();
	x->s = vole_sender_new(&st);
	if (x->s == NULL)
		return st;
	vole_sender_set_threads(x->s, nthreads);
	st = vole_sender_hello(x->s, x->msg[0], x->len[0], m, x->msg[1], vole_base_bytes(), &x->len[1]);
	x->t_step[1] = now() - t0;
	x->t_send += x->t_step[1];
	if (st != MPC_OK)
		return st;
	t0 = now();
	st = vole_receiver_base(x->r, x->msg[1], x->len[1], x->msg[2], vole_cot_bytes(m), &x->len[2]);
	x->t_step[2] = now() - t0;
	x->t_recv += x->t_step[2];
	if (st != MPC_OK)
		return st;
	t0 = now();
	st = vole_sender_cot(x->s, x->msg[2], x->len[2], x->msg[3], vole_trees_bytes(m), &x->len[3]);
	x->t_step[3] = now() - t0;
	x->t_send += x->t_step[3];
	if (st != MPC_OK)
		return st;
	t0 = now();
	st = vole_receiver_trees(x->r, x->msg[3], x->len[3]);
	x->t_step[4] = now() - t0;
	x->t_recv += x->t_step[4];
	return st;
}

static int
blk_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(ot_block));
}

/* C = B + A·Δ everywhere; portable path on up to `port` positions. */
static void
check_correlation(run *x, size_t m, size_t port)
{
	const ot_block *A = vole_receiver_a(x->r),
			   *C = vole_receiver_c(x->r),
			   *B = vole_sender_b(x->s);
	ot_block	delta = vole_sender_delta(x->s);
	ot_block   *ad;
	size_t		bad = 0,
				bad_port = 0,
				zero = 0,
				dup = 0,
				nd;
	size_t		agree = 0,
				ones = 0,
				bits;

	ok(A != NULL && C != NULL && B != NULL, "m = %zu: outputs available", m);
	if (A == NULL || C == NULL || B == NULL)
		return;
	ad = malloc(m * sizeof(ot_block));
	gf128_mul_const(A, m, delta, ad);
	for (size_t i = 0; i < m; i++)
		bad += (C[i].w[0] != (B[i].w[0] ^ ad[i].w[0])) || (C[i].w[1] != (B[i].w[1] ^ ad[i].w[1]));
	for (size_t i = 0; i < m && i < port; i++)
	{
		ot_block	p = gf128_mul_portable(A[i], delta);

		bad_port += (C[i].w[0] != (B[i].w[0] ^ p.w[0])) || (C[i].w[1] != (B[i].w[1] ^ p.w[1]));
	}
	ok(bad == 0, "m = %zu: C = B + A·Δ at every position (%zu differ)", m, bad);
	ok(bad_port == 0, "m = %zu: the same with the portable multiplication on %zu positions",
	   m, m < port ? m : port);

	for (size_t i = 0; i < m; i++)
		zero += (A[i].w[0] | A[i].w[1]) == 0;
	ok(zero == 0, "m = %zu: no A entry is zero (%zu are; each is with probability 2^-128)", m, zero);
	nd = m < 8192 ? m : 8192;
	memcpy(ad, A, nd * sizeof(ot_block));
	qsort(ad, nd, sizeof(ot_block), blk_cmp);
	for (size_t i = 1; i < nd; i++)
		dup += memcmp(&ad[i], &ad[i - 1], sizeof(ot_block)) == 0;
	ok(dup == 0, "m = %zu: the first %zu A entries are distinct", m, nd);
	free(ad);

	/* bit balance of A, and A's bits against B's: both about 1/2 */
	bits = 128 * (m < 100000 ? m : 100000);
	for (size_t i = 0; i < bits / 128; i++)
		for (int w = 0; w < 2; w++)
		{
			ones += (size_t) __builtin_popcountll(A[i].w[w]);
			agree += (size_t) __builtin_popcountll(~(A[i].w[w] ^ B[i].w[w]));
		}
	if (bits >= 128 * 100)
	{
		/* 7 standard deviations of a fair coin: fails by chance with p < 2^-37 */
		double		sd = 0.5 * sqrt((double) bits);

		ok((double) ones > bits / 2.0 - 7 * sd && (double) ones < bits / 2.0 + 7 * sd,
		   "m = %zu: A's bits are balanced (%zu of %zu ones)", m, ones, bits);
		ok((double) agree > bits / 2.0 - 7 * sd && (double) agree < bits / 2.0 + 7 * sd,
		   "m = %zu: A and B agree on about half their bits (%zu of %zu)", m, agree, bits);
	}
}

/* A copy of msg with one byte changed, or a new length (extra bytes zero). */
static uint8_t *
variant(const uint8_t *msg, size_t len, size_t new_len, long pos, uint8_t val)
{
	uint8_t    *v = calloc(1, new_len + 1);

	memcpy(v, msg, len < new_len ? len : new_len);
	if (pos >= 0)
		v[pos] = val;
	return v;
}

static void
put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t) (v >> (8 * i));
}

typedef struct bad_case
{
	const char *what;
	size_t		len;			/* 0: the same length */
	long		pos;			/* -1: none */
	uint8_t		val;
	int			u32;			/* write val32 at pos instead */
	uint32_t	val32;
} bad_case;

/* The frame faults every message is tried with (count: the good count). */
static int
frame_cases(bad_case *c, size_t len, uint8_t other_type, uint32_t count)
{
	int			n = 0;

	c[n++] = (bad_case) {"truncated by one byte", len - 1, -1, 0, 0, 0};
	c[n++] = (bad_case) {"extended by one byte", len + 1, -1, 0, 0, 0};
	c[n++] = (bad_case) {"header only", MPC_MSG_HEADER_BYTES, -1, 0, 0, 0};
	c[n++] = (bad_case) {"wrong version", 0, 0, 2, 0, 0};
	c[n++] = (bad_case) {"another VOLE type", 0, 1, other_type, 0, 0};
	c[n++] = (bad_case) {"unknown type", 0, 1, 0x50, 0, 0};
	c[n++] = (bad_case) {"an OT-extension type", 0, 1, 3, 0, 0};
	c[n++] = (bad_case) {"reserved byte 2 set", 0, 2, 1, 0, 0};
	c[n++] = (bad_case) {"reserved byte 3 set", 0, 3, 0x80, 0, 0};
	c[n++] = (bad_case) {"seq 1", 0, 4, 0, 1, 1};
	c[n++] = (bad_case) {"count + 1", 0, 8, 0, 1, count + 1};
	c[n++] = (bad_case) {"count 0", 0, 8, 0, 1, 0};
	return n;
}

static uint8_t *
make_case(const bad_case *c, const uint8_t *msg, size_t len, size_t *out_len)
{
	size_t		nl = c->len ? c->len : len;
	uint8_t    *v = variant(msg, len, nl, c->u32 ? -1 : c->pos, c->val);

	if (c->u32)
		put32(v + c->pos, c->val32);
	*out_len = nl;
	return v;
}

static void
test_messages(void)
{
	const size_t m = 100;
	mpc_status	st;
	vole_receiver *r = vole_receiver_new(m, &st);
	vole_sender *s = vole_sender_new(&st);
	size_t		hl,
				bl,
				cl,
				tl,
				vl,
				cap3 = vole_cot_bytes(m),
				cap4 = vole_trees_bytes(m);
	uint8_t		hello[256],
				base[8192];
	uint8_t    *cot = malloc(cap3),
			   *trees = malloc(cap4);
	bad_case	c[32];
	int			nc,
				refused;
	uint32_t	ncot;

	ok(vole_receiver_new(0, &st) == NULL && st == MPC_BAD_COUNT, "receiver: m = 0 refused");
	ok(vole_receiver_new((size_t) VOLE_MAX_M + 1, &st) == NULL && st == MPC_BAD_COUNT,
	   "receiver: m > VOLE_MAX_M refused");
	ok(vole_cot_bytes(0) == 0 && vole_trees_bytes((size_t) VOLE_MAX_M + 1) == 0,
	   "sizes of out-of-range lengths are 0");
	ok(vole_receiver_base(r, base, vole_base_bytes(), cot, cap3, &cl) == MPC_BAD_STATE &&
	   vole_receiver_trees(r, trees, cap4) == MPC_BAD_STATE &&
	   vole_sender_cot(s, cot, cap3, trees, cap4, &tl) == MPC_BAD_STATE,
	   "steps out of order refused");
	ok(vole_receiver_hello(r, hello, vole_hello_bytes() - 1, &hl) == MPC_BUFFER_TOO_SMALL,
	   "hello: short buffer refused");
	hl = 0;
	st = vole_receiver_hello(r, hello, sizeof(hello), &hl);
	ok(st == MPC_OK && hl == vole_hello_bytes(), "hello made (%zu bytes)", hl);
	ok(vole_receiver_hello(r, hello, sizeof(hello), &hl) == MPC_BAD_STATE, "hello twice refused");

	/* ---- flight 1 at the owner */
	nc = frame_cases(c, hl, VOLE_MSG_BASE, (uint32_t) m);
	c[nc++] = (bad_case) {"m > max_m", 0, 8, 0, 1, (uint32_t) m + 1};
	refused = 0;
	for (int i = 0; i < nc; i++)
	{
		uint8_t    *v = make_case(&c[i], hello, hl, &vl);

		st = vole_sender_hello(s, v, vl, m, base, sizeof(base), &bl);
		refused += st != MPC_OK;
		if (st == MPC_OK)
			diag("hello accepted with %s", c[i].what);
		free(v);
	}
	ok(refused == nc, "owner refuses flight 1 with each of %d frame faults (%d refused)", nc, refused);
	{
		uint8_t    *v = variant(hello, hl, hl, -1, 0);

		put32(v + 8, (uint32_t) VOLE_MAX_M + 1);
		ok(vole_sender_hello(s, v, hl, (size_t) -1, base, sizeof(base), &bl) == MPC_BAD_COUNT,
		   "owner refuses m > VOLE_MAX_M even with a larger max_m");
		memcpy(v, hello, hl);
		memset(v + MPC_MSG_HEADER_BYTES + VOLE_SEED_BYTES + MPC_MSG_HEADER_BYTES, 0, 32);
		ok(vole_sender_hello(s, v, hl, m, base, sizeof(base), &bl) == MPC_POINT_IDENTITY,
		   "owner refuses an identity base-OT point A");
		memset(v + MPC_MSG_HEADER_BYTES + VOLE_SEED_BYTES + MPC_MSG_HEADER_BYTES, 0xff, 32);
		ok(vole_sender_hello(s, v, hl, m, base, sizeof(base), &bl) == MPC_POINT_INVALID,
		   "owner refuses a non-canonical base-OT point A");
		memcpy(v, hello, hl);
		v[MPC_MSG_HEADER_BYTES + VOLE_SEED_BYTES + 1] = 2;
		ok(vole_sender_hello(s, v, hl, m, base, sizeof(base), &bl) != MPC_OK,
		   "owner refuses a base-OT message of another type inside");
		free(v);
	}
	ok(vole_sender_hello(s, hello, hl, m, base, vole_base_bytes() - 1, &bl) == MPC_BUFFER_TOO_SMALL,
	   "owner: short output buffer refused");
	ok(vole_sender_m(s) == 0, "owner: no m before a good flight 1");
	bl = 0;
	st = vole_sender_hello(s, hello, hl, m, base, sizeof(base), &bl);
	ok(st == MPC_OK && bl == vole_base_bytes(), "owner accepts the correct flight 1 afterwards (%zu bytes out)", bl);
	ok(vole_sender_m(s) == m, "owner: m = %zu", vole_sender_m(s));

	/* ---- flight 2 at the asker */
	nc = frame_cases(c, bl, VOLE_MSG_HELLO, (uint32_t) m);
	refused = 0;
	for (int i = 0; i < nc; i++)
	{
		uint8_t    *v = make_case(&c[i], base, bl, &vl);

		st = vole_receiver_base(r, v, vl, cot, cap3, &cl);
		refused += st != MPC_OK;
		if (st == MPC_OK)
			diag("base accepted with %s", c[i].what);
		free(v);
	}
	ok(refused == nc, "asker refuses flight 2 with each of %d frame faults (%d refused)", nc, refused);
	{
		uint8_t    *v = variant(base, bl, bl, -1, 0);
		size_t		p = MPC_MSG_HEADER_BYTES + VOLE_SEED_BYTES + MPC_MSG_HEADER_BYTES + 32 * 77;

		memset(v + p, 0, 32);
		ok(vole_receiver_base(r, v, bl, cot, cap3, &cl) == MPC_POINT_IDENTITY,
		   "asker refuses an identity base-OT point B_77");
		memset(v + p, 0xff, 32);
		ok(vole_receiver_base(r, v, bl, cot, cap3, &cl) == MPC_POINT_INVALID,
		   "asker refuses a non-canonical base-OT point B_77");
		free(v);
	}
	ok(vole_receiver_base(r, base, bl, cot, cap3 - 1, &cl) == MPC_BUFFER_TOO_SMALL,
	   "asker: short output buffer refused");
	cl = 0;
	st = vole_receiver_base(r, base, bl, cot, cap3, &cl);
	ok(st == MPC_OK && cl == cap3, "asker accepts the correct flight 2 afterwards (%zu bytes out)", cl);

	/* ---- flight 3 at the owner */
	memcpy(&ncot, cot + 8, 4);
	nc = frame_cases(c, cl, VOLE_MSG_TREES, ncot);
	c[nc++] = (bad_case) {"inner frame of another type", 0, MPC_MSG_HEADER_BYTES + 1, 4, 0, 0};
	c[nc++] = (bad_case) {"inner frame version 0", 0, MPC_MSG_HEADER_BYTES, 0, 0, 0};
	c[nc++] = (bad_case) {"inner seq 1", 0, MPC_MSG_HEADER_BYTES + 4, 0, 1, 1};
	c[nc++] = (bad_case) {"inner count − 1", 0, MPC_MSG_HEADER_BYTES + 8, 0, 1,
	ncot - 1};
	refused = 0;
	for (int i = 0; i < nc; i++)
	{
		uint8_t    *v = make_case(&c[i], cot, cl, &vl);

		st = vole_sender_cot(s, v, vl, trees, cap4, &tl);
		refused += st != MPC_OK;
		if (st == MPC_OK)
			diag("cot accepted with %s", c[i].what);
		free(v);
	}
	ok(refused == nc, "owner refuses flight 3 with each of %d frame faults (%d refused)", nc, refused);
	ok(vole_sender_cot(s, cot, cl, trees, cap4 - 1, &tl) == MPC_BUFFER_TOO_SMALL,
	   "owner: short output buffer refused");
	ok(vole_sender_b(s) == NULL, "owner: no B before a good flight 3");
	tl = 0;
	st = vole_sender_cot(s, cot, cl, trees, cap4, &tl);
	ok(st == MPC_OK && tl == cap4, "owner accepts the correct flight 3 afterwards (%zu bytes out)", tl);

	/* ---- flight 4 at the asker */
	nc = frame_cases(c, tl, VOLE_MSG_COT, (uint32_t) VOLE_TREES);
	refused = 0;
	for (int i = 0; i < nc; i++)
	{
		uint8_t    *v = make_case(&c[i], trees, tl, &vl);

		st = vole_receiver_trees(r, v, vl);
		refused += st != MPC_OK;
		if (st == MPC_OK)
			diag("trees accepted with %s", c[i].what);
		free(v);
	}
	ok(refused == nc, "asker refuses flight 4 with each of %d frame faults (%d refused)", nc, refused);
	ok(vole_receiver_a(r) == NULL && vole_receiver_c(r) == NULL, "asker: no A, C before a good flight 4");
	ok(vole_receiver_trees(r, trees, tl) == MPC_OK, "asker accepts the correct flight 4 afterwards");
	ok(vole_receiver_trees(r, trees, tl) == MPC_BAD_STATE, "flight 4 twice refused");
	{
		run			x = {0};

		x.r = r;
		x.s = s;
		check_correlation(&x, m, m);
	}
	free(cot);
	free(trees);
	vole_receiver_free(r);
	vole_sender_free(s);
}

static int
u64_cmp(const void *a, const void *b)
{
	uint64_t	x = *(const uint64_t *) a,
				y = *(const uint64_t *) b;

	return x < y ? -1 : x > y;
}

/*
 * No 8-byte window of Δ, of any β_j, or of the asker's packed path bits
 * (¬α_j's bits, the level choices) appears at any offset of any message.
 * By chance: (patterns × offsets) / 2^64, below 2^-30 here.
 */
static void
test_wire(size_t m)
{
	run			x;
	size_t		t,
				d,
				N,
				np = 0,
				hits = 0,
				offsets = 0;
	uint64_t   *pat;
	uint8_t    *path;
	ot_block	delta;

	ok(run_vole(&x, m, 2) == MPC_OK, "m = %zu: a run for the wire scan", m);
	vole_params(m, &t, &d, &N);
	pat = malloc((2 + 2 * t + t * d / 8 + 8) * sizeof(uint64_t));
	path = calloc(1, t * d / 8 + 8);
	delta = vole_sender_delta(x.s);
	pat[np++] = delta.w[0];
	pat[np++] = delta.w[1];
	for (size_t j = 0; j < t; j++)
	{
		uint32_t	a;
		ot_block	b;

		if (!vole_receiver_noise(x.r, j, &a, &b))
			break;
		pat[np++] = b.w[0];
		pat[np++] = b.w[1];
		for (size_t l = 1; l <= d; l++)
		{
			size_t		bit = j * d + l - 1;

			path[bit / 8] |= (uint8_t) ((((a >> (d - l)) & 1) ^ 1) << (bit % 8));
		}
	}
	for (size_t k = 0; k + 8 <= t * d / 8; k++)
		memcpy(&pat[np++], path + k, 8);
	qsort(pat, np, sizeof(uint64_t), u64_cmp);
	for (int i = 0; i < 4; i++)
		for (size_t o = 0; o + 8 <= x.len[i]; o++)
		{
			uint64_t	v;

			memcpy(&v, x.msg[i] + o, 8);
			hits += bsearch(&v, pat, np, sizeof(uint64_t), u64_cmp) != NULL;
			offsets++;
		}
	ok(hits == 0, "m = %zu: none of %zu secret windows (Δ, β_j, the path bits) at any of %zu offsets",
	   m, np, offsets);
	free(pat);
	free(path);
	run_free(&x);
}

/*
 * A model of the code as vole.c documents it: row i of E holds the seven
 * columns ⌊r_w·N / 2^64⌋ for r_0..r_7 the words of AES_seed(i ‖ c),
 * c = 0..3 (16-byte blocks of two little-endian words), a repeat moving on
 * to the next column mod N; output i = ⊕_w (prefix XOR of vec)[column].
 */
static void
model_compress(const uint8_t seed[VOLE_SEED_BYTES], size_t N, size_t m, const ot_block *vec,
			   ot_block *out)
{
	ot_block   *acc = malloc(N * sizeof(ot_block)),
				s = {{0, 0}};
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();

	EVP_EncryptInit_ex(ctx, EVP_aes_128_ecb(), NULL, seed, NULL);
	EVP_CIPHER_CTX_set_padding(ctx, 0);
	for (size_t i = 0; i < N; i++)
	{
		s.w[0] ^= vec[i].w[0];
		s.w[1] ^= vec[i].w[1];
		acc[i] = s;
	}
	for (size_t i = 0; i < m; i++)
	{
		uint64_t	in[8],
					r[8],
					col[VOLE_EXPANDER_WEIGHT];
		int			outl;
		ot_block	o = {{0, 0}};

		for (int c = 0; c < 4; c++)
		{
			in[2 * c] = i;
			in[2 * c + 1] = (uint64_t) c;
		}
		EVP_EncryptUpdate(ctx, (unsigned char *) r, &outl, (const unsigned char *) in, 64);
		for (int w = 0; w < VOLE_EXPANDER_WEIGHT; w++)
		{
			uint64_t	x = (uint64_t) (((unsigned __int128) r[w] * N) >> 64);

			for (int v = 0; v < w; v++)
				if (col[v] == x)
				{
					x = (x + 1) % N;
					v = -1;		/* check every earlier column again */
				}
			col[w] = x;
			o.w[0] ^= acc[x].w[0];
			o.w[1] ^= acc[x].w[1];
		}
		out[i] = o;
	}
	EVP_CIPHER_CTX_free(ctx);
	free(acc);
}

/*
 * The compression: A equals the dense compression of the asker's noise
 * vector A' (rebuilt here from its noise, with the code seed recomputed
 * from the two shares on the wire), so the asker's sparse path agrees with
 * the dense one; and the compression is linear.
 */
static void
test_code(size_t m)
{
	run			x;
	size_t		t,
				d,
				N,
				bad = 0,
				badlin = 0;
	uint8_t		seed[VOLE_SEED_BYTES],
				mm[8];
	crypto_generichash_blake2b_state h;
	static const uint8_t personal[16] = VOLE_CODE_PERSONAL;
	ot_block   *e,
			   *u,
			   *v,
			   *w,
			   *out,
			   *ou,
			   *ov;
	const ot_block *A;

	ok(run_vole(&x, m, 2) == MPC_OK, "m = %zu: a run for the code check", m);
	vole_params(m, &t, &d, &N);
	for (int i = 0; i < 8; i++)
		mm[i] = (uint8_t) ((uint64_t) m >> (8 * i));
	crypto_generichash_blake2b_init_salt_personal(&h, NULL, 0, sizeof(seed), NULL, personal);
	crypto_generichash_blake2b_update(&h, x.msg[0] + MPC_MSG_HEADER_BYTES, VOLE_SEED_BYTES);
	crypto_generichash_blake2b_update(&h, x.msg[1] + MPC_MSG_HEADER_BYTES, VOLE_SEED_BYTES);
	crypto_generichash_blake2b_update(&h, mm, sizeof(mm));
	crypto_generichash_blake2b_final(&h, seed, sizeof(seed));

	e = calloc(N, sizeof(ot_block));
	u = malloc(N * sizeof(ot_block));
	v = malloc(N * sizeof(ot_block));
	w = malloc(N * sizeof(ot_block));
	out = malloc(m * sizeof(ot_block));
	ou = malloc(m * sizeof(ot_block));
	ov = malloc(m * sizeof(ot_block));
	for (size_t j = 0; j < t; j++)
	{
		uint32_t	a;
		ot_block	b;

		vole_receiver_noise(x.r, j, &a, &b);
		e[(j << d) + a] = b;
	}
	A = vole_receiver_a(x.r);
	ok(vole_ea_compress(seed, N, m, 1, e, out) == MPC_OK, "m = %zu: dense compression of A' runs", m);
	for (size_t i = 0; i < m; i++)
		bad += memcmp(&out[i], &A[i], sizeof(ot_block)) != 0;
	ok(bad == 0, "m = %zu: A = E·Acc·A' (the sparse path agrees with the dense one; %zu differ)", m, bad);

	randombytes_buf(u, N * sizeof(ot_block));
	randombytes_buf(v, N * sizeof(ot_block));
	for (size_t i = 0; i < N; i++)
	{
		w[i].w[0] = u[i].w[0] ^ v[i].w[0];
		w[i].w[1] = u[i].w[1] ^ v[i].w[1];
	}
	vole_ea_compress(seed, N, m, 2, u, ou);
	vole_ea_compress(seed, N, m, 1, v, ov);
	vole_ea_compress(seed, N, m, 2, w, out);
	for (size_t i = 0; i < m; i++)
		badlin += out[i].w[0] != (ou[i].w[0] ^ ov[i].w[0]) || out[i].w[1] != (ou[i].w[1] ^ ov[i].w[1]);
	ok(badlin == 0, "m = %zu: compression is linear, the same on 1 and 2 threads (%zu differ)", m, badlin);
	randombytes_buf(u, N * sizeof(ot_block));
	memcpy(v, u, N * sizeof(ot_block));
	model_compress(seed, N, m, u, ov);
	vole_ea_compress(seed, N, m, 2, v, ou);
	bad = 0;
	for (size_t i = 0; i < m; i++)
		bad += memcmp(&ou[i], &ov[i], sizeof(ot_block)) != 0;
	ok(bad == 0, "m = %zu: vole_ea_compress = the model of the documented code on a random vector (%zu differ)",
	   m, bad);
	memset(u, 0, N * sizeof(ot_block));
	ok(vole_ea_compress(seed, N, m, 2, u, ou) == MPC_OK && sodium_is_zero((const unsigned char *) ou, m * sizeof(ot_block)),
	   "m = %zu: the compression of zero is zero", m);
	ok(vole_ea_compress(seed, VOLE_EXPANDER_WEIGHT - 1, m, 1, u, ou) == MPC_BAD_COUNT &&
	   vole_ea_compress(seed, N, 0, 1, u, ou) == MPC_BAD_COUNT, "vole_ea_compress refuses N < w and m = 0");
	free(e);
	free(u);
	free(v);
	free(w);
	free(out);
	free(ou);
	free(ov);
	run_free(&x);
}

int
main(void)
{
	static const size_t ms[] = {1, 2, 100, 4097, 100000};
	const size_t n20 = (size_t) 1 << 20;
	/* the RR22 step's OKVS length at n = 2^20: ⌈1.23·n⌉ + 64 columns */
	const size_t mbig = (size_t) ((123 * n20 + 99) / 100) + 64;
	run			x;

	if (sodium_init() < 0)
		return 1;
	diag("GF(2^128) multiplication: %s", gf128_accelerated() ? "PCLMULQDQ" : "portable");

	for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++)
	{
		size_t		t,
					d,
					N;
		bool		regular = true;

		vole_params(ms[i], &t, &d, &N);
		ok(run_vole(&x, ms[i], i % 2 ? 1 : 2) == MPC_OK, "m = %zu: the four flights run (t = %zu, d = %zu, N = %zu)",
		   ms[i], t, d, N);
		for (size_t j = 0; j < t; j++)
		{
			uint32_t	a;
			ot_block	b;

			regular &= vole_receiver_noise(x.r, j, &a, &b) && a < ((uint32_t) 1 << d) &&
				(b.w[0] | b.w[1]) != 0;
		}
		ok(regular && N >= VOLE_SCALER * ms[i] && N == t << d,
		   "m = %zu: regular noise, one nonzero β per block of 2^%zu, N >= 5m", ms[i], d);
		check_correlation(&x, ms[i], 20000);
		run_free(&x);
	}

	test_messages();
	test_wire(4097);
	test_code(1);
	test_code(100000);

	/* the length of a 2^20-row balanced join: bytes and times */
	for (int th = 2; th >= 1; th--)
	{
		size_t		total;
		double		bits;

		ok(run_vole(&x, mbig, th) == MPC_OK, "m = %zu (n = 2^20), %d thread%s: the four flights run",
		   mbig, th, th > 1 ? "s" : "");
		if (th == 2)
		{
			check_correlation(&x, mbig, 20000);
			total = x.len[0] + x.len[1] + x.len[2] + x.len[3];
			bits = 8.0 * total / n20;
			diag("bytes: HELLO %zu, BASE %zu, COT %zu, TREES %zu; total %zu = %.2f bits per element of n = 2^20",
				 x.len[0], x.len[1], x.len[2], x.len[3], total, bits);
			diag("asker → owner %zu bytes, owner → asker %zu bytes", x.len[0] + x.len[2],
				 x.len[1] + x.len[3]);
			ok(bits <= 20.0, "VOLE wire at n = 2^20: %.2f bits per element (goal <= 20)", bits);
			diag("memory: asker state %zu bytes, owner state %zu bytes (outputs included)",
				 vole_receiver_memory(x.r), vole_sender_memory(x.s));
		}
		diag("%d thread%s: asker %.3f s, owner %.3f s (goal: each <= 0.5 s with 2 threads)",
			 th, th > 1 ? "s" : "", x.t_recv, x.t_send);
		diag("  asker: hello %.3f s (base-OT A), base %.3f s (base OTs, u matrix), trees %.3f s (trees, compression)",
			 x.t_step[0], x.t_step[2], x.t_step[4]);
		diag("  owner: hello %.3f s (base-OT B's), cot %.3f s (rows, trees, compression)",
			 x.t_step[1], x.t_step[3]);
		run_free(&x);
	}
	return tap_done();
}
