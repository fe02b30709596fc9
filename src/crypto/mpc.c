/*
 * mpc.c — the engine's arithmetic on shares (see mpc.h).
 *
 * Shares are uint64_t: Z_2^64 arithmetic is C's unsigned wrap-around.
 * Values travel as little-endian 8-byte words.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/bytes.h"
#include "crypto/mpc.h"

/* ----------------------------------------------------------- fixed point */

mpc_status
mpc_fixed_encode(double v, int64_t *out)
{
	double		scaled;

	if (!isfinite(v))
		return MPC_OUT_OF_RANGE;
	scaled = nearbyint(v * (double) (1 << MPC_FRAC_BITS));
	if (!(fabs(scaled) < (double) MPC_VALUE_BOUND))
		return MPC_OUT_OF_RANGE;
	*out = (int64_t) scaled;
	return MPC_OK;
}

double
mpc_fixed_decode(int64_t v)
{
	return ldexp((double) v, -MPC_FRAC_BITS);
}

double
mpc_fixed_decode_product(int64_t v)
{
	return ldexp((double) v, -2 * MPC_FRAC_BITS);
}

bool
mpc_dot_within_bound(size_t terms, uint64_t max_abs_x, uint64_t max_abs_w,
					 uint64_t max_abs_threshold)
{
	unsigned __int128 limit = (unsigned __int128) 1 << 63;
	unsigned __int128 xw = (unsigned __int128) max_abs_x * max_abs_w;

	if (terms != 0 && xw > limit / terms)
		return false;
	return xw * terms + max_abs_threshold < limit;
}

/* ---------------------------------------------------------- value frames */

static void
put_words(uint8_t *p, const uint64_t *v, size_t n)
{
	memcpy(p, v, n * 8);		/* little-endian host (ot.h) */
}

/* Checks a values-style message: type, seq, count == n, exact length. */
static mpc_status
check_msg(const uint8_t *msg, size_t len, uint8_t type, uint32_t want_seq,
		  size_t n, size_t payload)
{
	uint32_t	seq,
				count;
	mpc_status	st = mpc_msg_get_header(msg, len, type, &seq, &count);

	if (st != MPC_OK)
		return st;
	if (seq != want_seq)
		return MPC_OUT_OF_ORDER;
	if (count != n)
		return MPC_BAD_COUNT;
	if (len != MPC_MSG_HEADER_BYTES + payload)
		return MPC_BAD_LENGTH;
	return MPC_OK;
}

static inline uint64_t
word_at(const uint8_t *p, size_t i)
{
	uint64_t	v;

	memcpy(&v, p + 8 * i, 8);
	return v;
}

size_t
mpc_values_msg_bytes(size_t n)
{
	return MPC_MSG_HEADER_BYTES + 8 * n;
}

mpc_status
mpc_share_input(const uint64_t *values, size_t n, uint64_t *mine,
				uint8_t *msg, size_t cap, size_t *len)
{
	uint8_t    *r = msg + MPC_MSG_HEADER_BYTES;

	if (n == 0 || n > MPC_MAX_BATCH)
		return MPC_BAD_COUNT;
	if (cap < mpc_values_msg_bytes(n))
		return MPC_BUFFER_TOO_SMALL;
	randombytes_buf(r, 8 * n);
	for (size_t i = 0; i < n; i++)
		mine[i] = values[i] - word_at(r, i);
	mpc_msg_put_header(msg, MPC_MSG_SHARE, 0, (uint32_t) n);
	*len = mpc_values_msg_bytes(n);
	return MPC_OK;
}

mpc_status
mpc_share_accept(const uint8_t *msg, size_t len, size_t n, uint64_t *mine)
{
	mpc_status	st;

	if (n == 0 || n > MPC_MAX_BATCH)
		return MPC_BAD_COUNT;
	st = check_msg(msg, len, MPC_MSG_SHARE, 0, n, 8 * n);
	if (st != MPC_OK)
		return st;
	memcpy(mine, msg + MPC_MSG_HEADER_BYTES, 8 * n);
	return MPC_OK;
}

mpc_status
mpc_open_send(const uint64_t *shares, size_t n, uint8_t *msg, size_t cap, size_t *len)
{
	if (n == 0 || n > MPC_MAX_BATCH)
		return MPC_BAD_COUNT;
	if (cap < mpc_values_msg_bytes(n))
		return MPC_BUFFER_TOO_SMALL;
	mpc_msg_put_header(msg, MPC_MSG_OPEN, 0, (uint32_t) n);
	put_words(msg + MPC_MSG_HEADER_BYTES, shares, n);
	*len = mpc_values_msg_bytes(n);
	return MPC_OK;
}

mpc_status
mpc_open_receive(const uint64_t *shares, size_t n, const uint8_t *peer, size_t peer_len,
				 uint64_t *values)
{
	mpc_status	st;

	if (n == 0 || n > MPC_MAX_BATCH)
		return MPC_BAD_COUNT;
	st = check_msg(peer, peer_len, MPC_MSG_OPEN, 0, n, 8 * n);
	if (st != MPC_OK)
		return st;
	for (size_t i = 0; i < n; i++)
		values[i] = shares[i] + word_at(peer + MPC_MSG_HEADER_BYTES, i);
	return MPC_OK;
}

void
mpc_add_public(int party, uint64_t *shares, size_t n, uint64_t c)
{
	if (party != 0)
		return;
	for (size_t i = 0; i < n; i++)
		shares[i] += c;
}

/* ------------------------------------------------------- truncation */

/*
 * SecureML's local truncation (Mohassel, Zhang, S&P 2017, theorem 1):
 * party 0 keeps ⌊x_0 / 2^t⌋, party 1 keeps −⌊−x_1 / 2^t⌋ (arithmetic
 * shifts of the shares read as signed).  For |x| < 2^l the opened result is
 * ⌊x / 2^t⌋ or ⌊x / 2^t⌋ + 1, except with probability at most 2^(l+1−64)
 * over party 0's share (then it is off by about 2^(64−t)).
 */
void
mpc_trunc_local(int party, uint64_t *shares, size_t n, int t)
{
	if (t <= 0 || t >= 64)
		return;
	for (size_t i = 0; i < n; i++)
	{
		if (party == 0)
			shares[i] = (uint64_t) ((int64_t) shares[i] >> t);
		else
			shares[i] = (uint64_t) 0 - (uint64_t) ((int64_t) ((uint64_t) 0 - shares[i]) >> t);
	}
}

/* Shares times a public constant (both parties), mod 2^64. */
void
mpc_mul_public(uint64_t *shares, size_t n, uint64_t c)
{
	for (size_t i = 0; i < n; i++)
		shares[i] *= c;
}

/* ------------------------------------------------------ Beaver products */

size_t
mpc_mul_msg_bytes(size_t n)
{
	return MPC_MSG_HEADER_BYTES + 16 * n;
}

/* Message payload: d_0..d_{n−1}, then e_0..e_{n−1}. */
mpc_status
mpc_mul_start(const uint64_t *x, const uint64_t *y, size_t n,
			  const uint64_t *ta, const uint64_t *tb,
			  uint8_t *msg, size_t cap, size_t *len)
{
	uint8_t    *d = msg + MPC_MSG_HEADER_BYTES,
			   *e = d + 8 * n;

	if (n == 0 || n > MPC_MAX_BATCH)
		return MPC_BAD_COUNT;
	if (cap < mpc_mul_msg_bytes(n))
		return MPC_BUFFER_TOO_SMALL;
	mpc_msg_put_header(msg, MPC_MSG_MUL, 0, (uint32_t) n);
	for (size_t i = 0; i < n; i++)
	{
		uint64_t	dv = x[i] - ta[i],
					ev = y[i] - tb[i];

		memcpy(d + 8 * i, &dv, 8);
		memcpy(e + 8 * i, &ev, 8);
	}
	*len = mpc_mul_msg_bytes(n);
	return MPC_OK;
}

/* z = c + d·b + e·a (+ d·e for party 0) with d = x − a, e = y − b opened. */
static inline uint64_t
beaver_combine(int party, uint64_t d, uint64_t e, uint64_t a, uint64_t b, uint64_t c)
{
	uint64_t	z = c + d * b + e * a;

	return party == 0 ? z + d * e : z;
}

mpc_status
mpc_mul_finish(int party, size_t n,
			   const uint64_t *ta, const uint64_t *tb, const uint64_t *tc,
			   const uint8_t *own, size_t own_len,
			   const uint8_t *peer, size_t peer_len, uint64_t *z)
{
	const uint8_t *od,
			   *pd;
	mpc_status	st;

	if (n == 0 || n > MPC_MAX_BATCH)
		return MPC_BAD_COUNT;
	if ((st = check_msg(own, own_len, MPC_MSG_MUL, 0, n, 16 * n)) != MPC_OK ||
		(st = check_msg(peer, peer_len, MPC_MSG_MUL, 0, n, 16 * n)) != MPC_OK)
		return st;
	od = own + MPC_MSG_HEADER_BYTES;
	pd = peer + MPC_MSG_HEADER_BYTES;
	for (size_t i = 0; i < n; i++)
	{
		uint64_t	d = word_at(od, i) + word_at(pd, i),
					e = word_at(od, n + i) + word_at(pd, n + i);

		z[i] = beaver_combine(party, d, e, ta[i], tb[i], tc[i]);
	}
	return MPC_OK;
}

mpc_status
mpc_dot_start(size_t rows, size_t k, const uint64_t *x, const uint64_t *w,
			  const uint64_t *ta, const uint64_t *tb,
			  uint8_t *msg, size_t cap, size_t *len)
{
	size_t		n;
	uint8_t    *d,
			   *e;

	if (rows == 0 || k == 0 || k > MPC_DOT_MAX_TERMS || rows > MPC_MAX_BATCH / k)
		return MPC_BAD_COUNT;
	n = rows * k;
	if (cap < mpc_mul_msg_bytes(n))
		return MPC_BUFFER_TOO_SMALL;
	d = msg + MPC_MSG_HEADER_BYTES;
	e = d + 8 * n;
	mpc_msg_put_header(msg, MPC_MSG_MUL, 0, (uint32_t) n);
	for (size_t r = 0; r < rows; r++)
		for (size_t j = 0; j < k; j++)
		{
			size_t		i = r * k + j;
			uint64_t	dv = x[i] - ta[i],
						ev = w[j] - tb[i];

			memcpy(d + 8 * i, &dv, 8);
			memcpy(e + 8 * i, &ev, 8);
		}
	*len = mpc_mul_msg_bytes(n);
	return MPC_OK;
}

mpc_status
mpc_dot_finish(int party, size_t rows, size_t k,
			   const uint64_t *ta, const uint64_t *tb, const uint64_t *tc,
			   const uint8_t *own, size_t own_len,
			   const uint8_t *peer, size_t peer_len, uint64_t *z)
{
	size_t		n;
	const uint8_t *od,
			   *pd;
	mpc_status	st;

	if (rows == 0 || k == 0 || k > MPC_DOT_MAX_TERMS || rows > MPC_MAX_BATCH / k)
		return MPC_BAD_COUNT;
	n = rows * k;
	if ((st = check_msg(own, own_len, MPC_MSG_MUL, 0, n, 16 * n)) != MPC_OK ||
		(st = check_msg(peer, peer_len, MPC_MSG_MUL, 0, n, 16 * n)) != MPC_OK)
		return st;
	od = own + MPC_MSG_HEADER_BYTES;
	pd = peer + MPC_MSG_HEADER_BYTES;
	for (size_t r = 0; r < rows; r++)
	{
		uint64_t	sum = 0;

		for (size_t j = 0; j < k; j++)
		{
			size_t		i = r * k + j;
			uint64_t	d = word_at(od, i) + word_at(pd, i),
						e = word_at(od, n + i) + word_at(pd, n + i);

			sum += beaver_combine(party, d, e, ta[i], tb[i], tc[i]);
		}
		z[r] = sum;
	}
	return MPC_OK;
}

/* ------------------------------------------------------------ XOR shares */

size_t
mpc_bits_msg_bytes(size_t n)
{
	return MPC_MSG_HEADER_BYTES + 8 * ((n + 63) / 64);
}

mpc_status
mpc_open_bits_send(const uint64_t *bits, size_t n, uint8_t *msg, size_t cap, size_t *len)
{
	size_t		words = (n + 63) / 64;

	if (n == 0 || n > MPC_MAX_BATCH)
		return MPC_BAD_COUNT;
	if (cap < mpc_bits_msg_bytes(n))
		return MPC_BUFFER_TOO_SMALL;
	mpc_msg_put_header(msg, MPC_MSG_OPEN_BITS, 0, (uint32_t) n);
	put_words(msg + MPC_MSG_HEADER_BYTES, bits, words);
	if (n % 64 != 0)
	{
		uint64_t	last = bits[words - 1] & (((uint64_t) 1 << (n % 64)) - 1);

		memcpy(msg + MPC_MSG_HEADER_BYTES + 8 * (words - 1), &last, 8);
	}
	*len = mpc_bits_msg_bytes(n);
	return MPC_OK;
}

mpc_status
mpc_open_bits_receive(const uint64_t *bits, size_t n, const uint8_t *peer, size_t peer_len,
					  uint64_t *values)
{
	size_t		words = (n + 63) / 64;
	mpc_status	st;

	if (n == 0 || n > MPC_MAX_BATCH)
		return MPC_BAD_COUNT;
	st = check_msg(peer, peer_len, MPC_MSG_OPEN_BITS, 0, n, 8 * words);
	if (st != MPC_OK)
		return st;
	for (size_t w = 0; w < words; w++)
		values[w] = bits[w] ^ word_at(peer + MPC_MSG_HEADER_BYTES, w);
	if (n % 64 != 0)
		values[words - 1] &= ((uint64_t) 1 << (n % 64)) - 1;
	return MPC_OK;
}

/* ------------------------------------------------------------- sign bit */

/*
 * Carry tree.  Level 0 has a node per bit i < 63 with generate g_i =
 * x0_i ∧ x1_i and propagate p_i = x0_i ⊕ x1_i (p is linear: each party's
 * share is its own bit).  Node k of level L+1 merges nodes 2k+1 (high) and
 * 2k (low) of level L:
 *     G = G_hi ⊕ P_hi ∧ G_lo,    P = P_hi ∧ P_lo
 * (⊕ is fine in place of ∨: G_hi and P_hi are never both 1).  An odd node out
 * passes through.  Level sizes 63, 32, 16, 8, 4, 2, 1; the carry into bit 63
 * is G of the single node of level 6.  Node 0 of every level only ever
 * plays "low", so its P is never computed.
 *
 * G of level L needs G of level L−1, so one round per level; P of level L
 * only needs P of level L−1, so it is computed one round ahead, alongside
 * G of level L−1.  Round r (1..7) evaluates G of level r−1 and P of level r:
 * 7 rounds, 181 AND gates per value.
 */
#define SIGN_LEVELS	7			/* levels 0..6 */
#define SIGN_LEAVES	63

static const unsigned level_nodes[SIGN_LEVELS] = {63, 32, 16, 8, 4, 2, 1};

static unsigned
level_base(unsigned level)
{
	unsigned	b = 0;

	for (unsigned l = 0; l < level; l++)
		b += level_nodes[l];
	return b;
}

#define SIGN_NODES	126			/* Σ level_nodes */

typedef struct sign_gate
{
	const uint64_t *u;			/* left input shares (W words) */
	const uint64_t *v;			/* right input shares */
	const uint64_t *post;		/* XORed into the product, or NULL */
	uint64_t   *dst;
} sign_gate;

typedef struct sign_copy
{
	const uint64_t *src;
	uint64_t   *dst;
} sign_copy;

struct mpc_sign
{
	int			party;
	size_t		n;
	size_t		words;			/* W = ceil(n/64) */
	const uint64_t *ta,
			   *tb,
			   *tc;
	uint64_t   *x;				/* 64 × W bit planes of our share */
	uint64_t   *zero;			/* W zero words: the other party's input share */
	uint64_t   *g;				/* SIGN_NODES × W */
	uint64_t   *p;				/* SIGN_NODES × W (level 0 aliases x) */
	uint64_t   *own;			/* our d, e of the current round */
	sign_gate	gates[SIGN_LEVELS + 1][SIGN_LEAVES + 32];
	unsigned	ngates[SIGN_LEVELS + 1];
	sign_copy	copies[SIGN_LEVELS + 1][4];
	unsigned	ncopies[SIGN_LEVELS + 1];
	unsigned	first_gate[SIGN_LEVELS + 2];	/* global gate index per round */
	int			round;			/* round whose message was sent; 0 none */
	bool		done;
};

static uint64_t *
node_g(mpc_sign *st, unsigned level, unsigned k)
{
	return st->g + (size_t) (level_base(level) + k) * st->words;
}

static uint64_t *
node_p(mpc_sign *st, unsigned level, unsigned k)
{
	if (level == 0)
		return st->x + (size_t) k * st->words;
	return st->p + (size_t) (level_base(level) + k) * st->words;
}

static void
sign_schedule(mpc_sign *st)
{
	unsigned	total = 0;

	for (unsigned r = 1; r <= SIGN_LEVELS; r++)
	{
		unsigned	ng = 0,
					nc = 0;

		if (r == 1)
		{
			for (unsigned i = 0; i < SIGN_LEAVES; i++)
			{
				sign_gate  *gt = &st->gates[r][ng++];
				uint64_t   *mine = st->x + (size_t) i * st->words;

				gt->u = st->party == 0 ? mine : st->zero;
				gt->v = st->party == 1 ? mine : st->zero;
				gt->post = NULL;
				gt->dst = node_g(st, 0, i);
			}
		}
		else
		{
			unsigned	L = r - 1;

			for (unsigned k = 0; k < level_nodes[L]; k++)
			{
				if (2 * k + 1 < level_nodes[L - 1])
				{
					sign_gate  *gt = &st->gates[r][ng++];

					gt->u = node_p(st, L - 1, 2 * k + 1);
					gt->v = node_g(st, L - 1, 2 * k);
					gt->post = node_g(st, L - 1, 2 * k + 1);
					gt->dst = node_g(st, L, k);
				}
				else
				{
					st->copies[r][nc].src = node_g(st, L - 1, 2 * k);
					st->copies[r][nc++].dst = node_g(st, L, k);
				}
			}
		}
		if (r < SIGN_LEVELS && level_nodes[r] >= 2)
		{
			for (unsigned k = 1; k < level_nodes[r]; k++)
			{
				if (2 * k + 1 < level_nodes[r - 1])
				{
					sign_gate  *gt = &st->gates[r][ng++];

					gt->u = node_p(st, r - 1, 2 * k + 1);
					gt->v = node_p(st, r - 1, 2 * k);
					gt->post = NULL;
					gt->dst = node_p(st, r, k);
				}
				else
				{
					st->copies[r][nc].src = node_p(st, r - 1, 2 * k);
					st->copies[r][nc++].dst = node_p(st, r, k);
				}
			}
		}
		st->ngates[r] = ng;
		st->ncopies[r] = nc;
		st->first_gate[r] = total;
		total += ng;
	}
	st->first_gate[SIGN_LEVELS + 1] = total;
}

size_t
mpc_sign_and_gates(void)
{
	/* leaves, G of levels 1..6, P of levels 1..5 (nodes k ≥ 1 with a pair) */
	size_t		gates = SIGN_LEAVES;

	for (unsigned L = 1; L < SIGN_LEVELS; L++)
		gates += level_nodes[L - 1] / 2;
	for (unsigned L = 1; L < SIGN_LEVELS - 1; L++)
		for (unsigned k = 1; k < level_nodes[L]; k++)
			if (2 * k + 1 < level_nodes[L - 1])
				gates++;
	return gates;
}

size_t
mpc_sign_and_triples(size_t n)
{
	return mpc_sign_and_gates() * 64 * ((n + 63) / 64);
}

void
mpc_sign_free(mpc_sign *st)
{
	size_t		w;

	if (st == NULL)
		return;
	w = st->words;
	crypto_wipe_free(st->x, 64 * w * 8);
	crypto_wipe_free(st->zero, w * 8);
	crypto_wipe_free(st->g, SIGN_NODES * w * 8);
	crypto_wipe_free(st->p, SIGN_NODES * w * 8);
	crypto_wipe_free(st->own, 2 * (SIGN_LEAVES + 32) * w * 8);
	sodium_memzero(st, sizeof(*st));
	free(st);
}

mpc_sign *
mpc_sign_new(int party, size_t n, const uint64_t *x,
			 const uint64_t *ta, const uint64_t *tb, const uint64_t *tc)
{
	mpc_sign   *st;
	size_t		w;

	if ((party != 0 && party != 1) || n == 0 || n > MPC_MAX_BATCH ||
		x == NULL || ta == NULL || tb == NULL || tc == NULL)
		return NULL;
	st = calloc(1, sizeof(*st));
	if (st == NULL)
		return NULL;
	w = (n + 63) / 64;
	st->party = party;
	st->n = n;
	st->words = w;
	st->ta = ta;
	st->tb = tb;
	st->tc = tc;
	st->x = calloc(64 * w, 8);
	st->zero = calloc(w, 8);
	st->g = calloc(SIGN_NODES * w, 8);
	st->p = calloc(SIGN_NODES * w, 8);
	st->own = calloc(2 * (SIGN_LEAVES + 32) * w, 8);
	if (st->x == NULL || st->zero == NULL || st->g == NULL || st->p == NULL ||
		st->own == NULL)
	{
		mpc_sign_free(st);
		return NULL;
	}
	/* bit planes: x[i·W + b] bit t = bit i of value 64b + t */
	for (size_t b = 0; b < w; b++)
	{
		uint64_t	block[64] = {0};
		size_t		lim = n - 64 * b < 64 ? n - 64 * b : 64;

		memcpy(block, x + 64 * b, lim * 8);
		ot_transpose64(block);
		for (unsigned i = 0; i < 64; i++)
			st->x[i * w + b] = block[i];
		sodium_memzero(block, sizeof(block));
	}
	sign_schedule(st);
	return st;
}

static size_t
round_payload(const mpc_sign *st, int r)
{
	return 2 * (size_t) st->ngates[r] * st->words * 8;
}

size_t
mpc_sign_msg_bytes(const mpc_sign *st)
{
	size_t		most = 0;

	for (int r = 1; r <= SIGN_LEVELS; r++)
		if (round_payload(st, r) > most)
			most = round_payload(st, r);
	return MPC_MSG_HEADER_BYTES + most;
}

/* Pass-throughs, then d = u ⊕ a, e = v ⊕ b for every gate of round r. */
static mpc_status
sign_prepare(mpc_sign *st, int r, uint8_t *msg, size_t cap, size_t *len)
{
	size_t		w = st->words;

	if (cap < MPC_MSG_HEADER_BYTES + round_payload(st, r))
		return MPC_BUFFER_TOO_SMALL;
	for (unsigned c = 0; c < st->ncopies[r]; c++)
		memcpy(st->copies[r][c].dst, st->copies[r][c].src, w * 8);
	for (unsigned i = 0; i < st->ngates[r]; i++)
	{
		const sign_gate *gt = &st->gates[r][i];
		size_t		t = (size_t) (st->first_gate[r] + i) * w;
		uint64_t   *d = st->own + 2 * (size_t) i * w,
				   *e = d + w;

		for (size_t b = 0; b < w; b++)
		{
			d[b] = gt->u[b] ^ st->ta[t + b];
			e[b] = gt->v[b] ^ st->tb[t + b];
		}
	}
	mpc_msg_put_header(msg, MPC_MSG_SIGN_ROUND, (uint32_t) r, (uint32_t) st->n);
	memcpy(msg + MPC_MSG_HEADER_BYTES, st->own, round_payload(st, r));
	*len = MPC_MSG_HEADER_BYTES + round_payload(st, r);
	st->round = r;
	return MPC_OK;
}

/* Open d, e of round r and finish its AND gates (Beaver's trick over GF(2)). */
static mpc_status
sign_complete(mpc_sign *st, int r, const uint8_t *peer, size_t peer_len)
{
	size_t		w = st->words;
	const uint8_t *pp = peer + MPC_MSG_HEADER_BYTES;
	uint64_t	both = st->party == 0 ? ~(uint64_t) 0 : 0;
	mpc_status	s = check_msg(peer, peer_len, MPC_MSG_SIGN_ROUND, (uint32_t) r, st->n,
							  round_payload(st, r));

	if (s != MPC_OK)
		return s;
	for (unsigned i = 0; i < st->ngates[r]; i++)
	{
		const sign_gate *gt = &st->gates[r][i];
		size_t		t = (size_t) (st->first_gate[r] + i) * w;
		const uint64_t *d = st->own + 2 * (size_t) i * w,
				   *e = d + w;

		for (size_t b = 0; b < w; b++)
		{
			uint64_t	D = d[b] ^ word_at(pp, 2 * (size_t) i * w + b),
						E = e[b] ^ word_at(pp, (2 * (size_t) i + 1) * w + b);
			uint64_t	z = st->tc[t + b] ^ (D & st->tb[t + b]) ^ (E & st->ta[t + b]) ^
				(D & E & both);

			if (gt->post != NULL)
				z ^= gt->post[b];
			gt->dst[b] = z;
		}
	}
	return MPC_OK;
}

mpc_status
mpc_sign_start(mpc_sign *st, uint8_t *msg, size_t cap, size_t *len)
{
	if (st->round != 0 || st->done)
		return MPC_BAD_STATE;
	return sign_prepare(st, 1, msg, cap, len);
}

mpc_status
mpc_sign_next(mpc_sign *st, const uint8_t *peer, size_t peer_len,
			  uint8_t *msg, size_t cap, size_t *len, bool *done)
{
	mpc_status	s;

	*done = false;
	if (st->round == 0 || st->done)
		return MPC_BAD_STATE;
	/* check the output room first so a refusal leaves the state as it was */
	if (st->round < SIGN_LEVELS &&
		cap < MPC_MSG_HEADER_BYTES + round_payload(st, st->round + 1))
		return MPC_BUFFER_TOO_SMALL;
	s = sign_complete(st, st->round, peer, peer_len);
	if (s != MPC_OK)
		return s;
	if (st->round == SIGN_LEVELS)
	{
		st->done = true;
		*done = true;
		*len = 0;
		return MPC_OK;
	}
	return sign_prepare(st, st->round + 1, msg, cap, len);
}

mpc_status
mpc_sign_result(const mpc_sign *st, uint64_t *bits)
{
	size_t		w = st->words;
	const uint64_t *msb = st->x + 63 * w;
	const uint64_t *carry = st->g + (size_t) level_base(SIGN_LEVELS - 1) * w;

	if (!st->done)
		return MPC_BAD_STATE;
	for (size_t b = 0; b < w; b++)
		bits[b] = msb[b] ^ carry[b];
	if (st->n % 64 != 0)
		bits[w - 1] &= ((uint64_t) 1 << (st->n % 64)) - 1;
	return MPC_OK;
}
