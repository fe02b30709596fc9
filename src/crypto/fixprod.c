/*
 * fixprod.c — products of a fixed matrix and changing multipliers over one
 * stored OT extension (fixprod.h).
 *
 * Why a module of its own: the engine's Beaver triples and input products
 * (triples.c) pay the IKNP matrix, 16 bytes per OT, on every product.  In
 * training the owner's matrix is the same in every epoch, so its bits (the
 * OT choices) are too: the matrix is extended once and each use hashes the
 * stored rows under a fresh tweak (ot.h's tweakable hash), leaving 8 bytes
 * of correction per OT per use.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/bytes.h"
#include "crypto/fixprod.h"

struct fixprod_receiver
{
	size_t		n,
				k;
	int			bits;
	int32_t    *x;				/* n × k */
	ot_block   *t;				/* n·k·bits rows of the extension */
	size_t		extended;		/* rows of x extended so far */
	ot_base_sender base;
	int			base_stage;		/* 0 none, 1 A sent, 2 ready */
	ot_ext_receiver *ext;
	uint64_t	last_use;
	ot_block   *h;				/* OT_EXT_CHUNK hash scratch */
	uint8_t    *choices;		/* scratch for one slice's choice bits */
	size_t		choices_bytes;
};

struct fixprod_sender
{
	size_t		n,
				k;
	int			bits;
	ot_block   *q;				/* n·k·bits rows of the extension */
	size_t		extended;
	ot_ext_sender *ext;
	uint64_t	last_use;
	ot_block   *h0,
			   *h1;				/* OT_EXT_CHUNK each */
};

static bool
shape_ok(size_t n, size_t k, int bits)
{
	return n > 0 && k > 0 && k <= FIXPROD_MAX_K && bits >= 2 && bits <= FIXPROD_MAX_BITS &&
		n <= SIZE_MAX / (k * (size_t) bits * sizeof(ot_block));
}

/* Weight of bit i: 2^i, the sign bit −2^(bits−1) (mod 2^64). */
static inline uint64_t
bit_weight(int i, int bits)
{
	return i == bits - 1 ? (uint64_t) 0 - ((uint64_t) 1 << i) : (uint64_t) 1 << i;
}

fixprod_receiver *
fixprod_receiver_new(size_t n, size_t k, int bits, const int32_t *x)
{
	fixprod_receiver *fr;
	int32_t		lo,
				hi;

	if (!shape_ok(n, k, bits) || x == NULL)
		return NULL;
	lo = -((int32_t) 1 << (bits - 1));
	hi = ((int32_t) 1 << (bits - 1)) - 1;
	for (size_t e = 0; e < n * k; e++)
		if (x[e] < lo || x[e] > hi)
			return NULL;
	fr = calloc(1, sizeof(*fr));
	if (fr == NULL)
		return NULL;
	fr->n = n;
	fr->k = k;
	fr->bits = bits;
	fr->x = malloc(n * k * sizeof(int32_t));
	fr->t = malloc(n * k * (size_t) bits * sizeof(ot_block));
	fr->h = malloc(OT_EXT_CHUNK * sizeof(ot_block));
	if (fr->x == NULL || fr->t == NULL || fr->h == NULL)
	{
		fixprod_receiver_free(fr);
		return NULL;
	}
	memcpy(fr->x, x, n * k * sizeof(int32_t));
	return fr;
}

fixprod_sender *
fixprod_sender_new(size_t n, size_t k, int bits)
{
	fixprod_sender *fs;

	if (!shape_ok(n, k, bits))
		return NULL;
	fs = calloc(1, sizeof(*fs));
	if (fs == NULL)
		return NULL;
	fs->n = n;
	fs->k = k;
	fs->bits = bits;
	fs->q = malloc(n * k * (size_t) bits * sizeof(ot_block));
	fs->h0 = malloc(OT_EXT_CHUNK * sizeof(ot_block));
	fs->h1 = malloc(OT_EXT_CHUNK * sizeof(ot_block));
	if (fs->q == NULL || fs->h0 == NULL || fs->h1 == NULL)
	{
		fixprod_sender_free(fs);
		return NULL;
	}
	return fs;
}

void
fixprod_receiver_free(fixprod_receiver *fr)
{
	if (fr == NULL)
		return;
	crypto_wipe_free(fr->x, fr->n * fr->k * sizeof(int32_t));
	crypto_wipe_free(fr->t, fr->n * fr->k * (size_t) fr->bits * sizeof(ot_block));
	crypto_wipe_free(fr->h, OT_EXT_CHUNK * sizeof(ot_block));
	crypto_wipe_free(fr->choices, fr->choices_bytes);
	ot_ext_receiver_free(fr->ext);
	ot_base_sender_wipe(&fr->base);
	sodium_memzero(fr, sizeof(*fr));
	free(fr);
}

void
fixprod_sender_free(fixprod_sender *fs)
{
	if (fs == NULL)
		return;
	crypto_wipe_free(fs->q, fs->n * fs->k * (size_t) fs->bits * sizeof(ot_block));
	crypto_wipe_free(fs->h0, OT_EXT_CHUNK * sizeof(ot_block));
	crypto_wipe_free(fs->h1, OT_EXT_CHUNK * sizeof(ot_block));
	ot_ext_sender_free(fs->ext);
	sodium_memzero(fs, sizeof(*fs));
	free(fs);
}

/* ------------------------------------------------------------ base OTs */

size_t
fixprod_base_a_bytes(void)
{
	return ot_base_msg_a_bytes();
}

size_t
fixprod_base_b_bytes(void)
{
	return ot_base_msg_b_bytes(OT_KAPPA);
}

mpc_status
fixprod_receiver_base_start(fixprod_receiver *fr, uint8_t *msg, size_t cap, size_t *len)
{
	mpc_status	st;

	if (fr->base_stage != 0)
		return MPC_BAD_STATE;
	st = ot_base_sender_start(&fr->base, OT_KAPPA, msg, cap, len);
	if (st == MPC_OK)
		fr->base_stage = 1;
	return st;
}

mpc_status
fixprod_sender_base_respond(fixprod_sender *fs, const uint8_t *peer, size_t peer_len,
							uint8_t *msg, size_t cap, size_t *len)
{
	uint8_t		s[OT_KAPPA / 8];
	ot_block	keys[OT_KAPPA];
	mpc_status	st;

	if (fs->ext != NULL)
		return MPC_BAD_STATE;
	randombytes_buf(s, sizeof(s));
	st = ot_base_receiver_respond(OT_KAPPA, s, peer, peer_len, msg, cap, len, keys);
	if (st == MPC_OK && (fs->ext = ot_ext_sender_new(s, keys)) == NULL)
		st = MPC_NO_MEMORY;
	sodium_memzero(s, sizeof(s));
	sodium_memzero(keys, sizeof(keys));
	return st;
}

mpc_status
fixprod_receiver_base_finish(fixprod_receiver *fr, const uint8_t *peer, size_t peer_len)
{
	ot_block	k0[OT_KAPPA];
	ot_block	k1[OT_KAPPA];
	mpc_status	st;

	if (fr->base_stage != 1)
		return MPC_BAD_STATE;
	st = ot_base_sender_finish(&fr->base, peer, peer_len, k0, k1);
	if (st == MPC_OK)
	{
		if ((fr->ext = ot_ext_receiver_new(k0, k1)) == NULL)
			st = MPC_NO_MEMORY;
		else
			fr->base_stage = 2;
	}
	sodium_memzero(k0, sizeof(k0));
	sodium_memzero(k1, sizeof(k1));
	return st;
}

/* ----------------------------------------------------------- extension */

static size_t
slice_ots(size_t nrows, size_t k, int bits)
{
	return nrows * k * (size_t) bits;
}

size_t
fixprod_extend_bytes(const fixprod_receiver *fr, size_t nrows)
{
	return ot_ext_u_msg_bytes(slice_ots(nrows, fr->k, fr->bits));
}

size_t
fixprod_rows_extended_r(const fixprod_receiver *fr)
{
	return fr->extended;
}

size_t
fixprod_rows_extended_s(const fixprod_sender *fs)
{
	return fs->extended;
}

typedef struct store_ctx
{
	ot_block   *dst;
} store_ctx;

static mpc_status
store_rows(void *arg, size_t first, size_t n, const ot_block *rows)
{
	store_ctx  *c = arg;

	memcpy(c->dst + first, rows, n * sizeof(ot_block));
	return MPC_OK;
}

mpc_status
fixprod_receiver_extend(fixprod_receiver *fr, size_t nrows, uint8_t *msg, size_t cap, size_t *len)
{
	size_t		count;
	size_t		bytes;
	size_t		o = 0;
	store_ctx	c;
	mpc_status	st;

	if (fr->base_stage != 2)
		return MPC_BAD_STATE;
	if (nrows == 0 || nrows > fr->n - fr->extended)
		return MPC_BAD_COUNT;
	count = slice_ots(nrows, fr->k, fr->bits);
	if (count > FIXPROD_MAX_SLICE_OTS)
		return MPC_BAD_COUNT;
	bytes = (count + 7) / 8;
	if (bytes > fr->choices_bytes)
	{
		crypto_wipe_free(fr->choices, fr->choices_bytes);
		fr->choices_bytes = 0;
		if ((fr->choices = malloc(bytes)) == NULL)
			return MPC_NO_MEMORY;
		fr->choices_bytes = bytes;
	}
	memset(fr->choices, 0, bytes);
	for (size_t r = 0; r < nrows; r++)
		for (size_t j = 0; j < fr->k; j++)
		{
			uint32_t	v = (uint32_t) fr->x[(fr->extended + r) * fr->k + j];

			for (int i = 0; i < fr->bits; i++, o++)
				fr->choices[o / 8] |= (uint8_t) (((v >> i) & 1) << (o % 8));
		}
	c.dst = fr->t + slice_ots(fr->extended, fr->k, fr->bits);
	st = ot_ext_receiver_extend(fr->ext, MPC_MSG_FIXED_U, count, fr->choices, msg, cap, len,
								store_rows, &c);
	sodium_memzero(fr->choices, bytes);
	if (st == MPC_OK)
		fr->extended += nrows;
	return st;
}

mpc_status
fixprod_sender_extend(fixprod_sender *fs, size_t nrows, const uint8_t *msg, size_t len)
{
	size_t		count;
	size_t		got = 0;
	store_ctx	c;
	mpc_status	st;

	if (fs->ext == NULL)
		return MPC_BAD_STATE;
	if (nrows == 0 || nrows > fs->n - fs->extended)
		return MPC_BAD_COUNT;
	count = slice_ots(nrows, fs->k, fs->bits);
	if (count > FIXPROD_MAX_SLICE_OTS)
		return MPC_BAD_COUNT;
	c.dst = fs->q + slice_ots(fs->extended, fs->k, fs->bits);
	st = ot_ext_sender_extend(fs->ext, MPC_MSG_FIXED_U, msg, len, count, count, &got, store_rows, &c);
	if (st == MPC_OK)
		fs->extended += nrows;
	return st;
}

/* ---------------------------------------------------------------- uses */

/*
 * OT i of a product is weighted by ±2^i, so only the low 64 − i bits of
 * its correction matter: they travel packed, LSB first, Σ_{i<bits}(64 − i)
 * bits per product (484 instead of 512 for 8 bits).
 */
static size_t
product_bits(int bits)
{
	return (size_t) bits * 64 - (size_t) bits * (bits - 1) / 2;
}

size_t
fixprod_use_bytes(size_t nrows, size_t k, int bits)
{
	return MPC_MSG_HEADER_BYTES + (nrows * k * product_bits(bits) + 7) / 8;
}

/* A little-endian bit stream of fields of 1..64 bits. */
typedef struct bitio
{
	uint8_t    *out;
	const uint8_t *in;
	size_t		pos;			/* bytes */
	unsigned __int128 acc;
	int			n;				/* bits in acc */
} bitio;

static inline void
bits_put(bitio *b, uint64_t v, int width)
{
	if (width < 64)
		v &= ((uint64_t) 1 << width) - 1;
	b->acc |= (unsigned __int128) v << b->n;
	b->n += width;
	while (b->n >= 8)
	{
		b->out[b->pos++] = (uint8_t) b->acc;
		b->acc >>= 8;
		b->n -= 8;
	}
}

static inline void
bits_flush(bitio *b)
{
	if (b->n > 0)
		b->out[b->pos++] = (uint8_t) b->acc;
	b->acc = 0;
	b->n = 0;
}

static inline uint64_t
bits_get(bitio *b, int width)
{
	uint64_t	v;

	while (b->n < width)
	{
		b->acc |= (unsigned __int128) b->in[b->pos++] << b->n;
		b->n += 8;
	}
	v = (uint64_t) b->acc;
	if (width < 64)
		v &= ((uint64_t) 1 << width) - 1;
	b->acc >>= width;
	b->n -= width;
	return v;
}

/* Where OT o of a slice goes: row r, column j, bit i (counters kept in step). */
typedef struct walk
{
	size_t		r,
				j;
	int			i;
} walk;

static inline void
walk_next(walk *w, size_t k, int bits)
{
	if (++w->i == bits)
	{
		w->i = 0;
		if (++w->j == k)
		{
			w->j = 0;
			w->r++;
		}
	}
}

static mpc_status
use_check(uint64_t use, uint64_t last, size_t row0, size_t nrows, size_t extended, size_t k, int bits)
{
	if (use <= last)
		return MPC_OUT_OF_ORDER;
	if (nrows == 0 || row0 > extended || nrows > extended - row0 ||
		slice_ots(nrows, k, bits) > FIXPROD_MAX_SLICE_OTS)
		return MPC_BAD_COUNT;
	return MPC_OK;
}

mpc_status
fixprod_sender_use(fixprod_sender *fs, uint64_t use, size_t row0, size_t nrows, fixprod_mode mode,
				   const uint64_t *m, uint8_t *msg, size_t cap, size_t *len, uint64_t *out)
{
	size_t		count = slice_ots(nrows, fs->k, fs->bits);
	size_t		g0 = slice_ots(row0, fs->k, fs->bits);
	walk		w = {0, 0, 0};
	bitio		bw = {msg + MPC_MSG_HEADER_BYTES, NULL, 0, 0, 0};
	mpc_status	st;

	if ((st = use_check(use, fs->last_use, row0, nrows, fs->extended, fs->k, fs->bits)) != MPC_OK)
		return st;
	if (mode != FIXPROD_BY_COLUMN && mode != FIXPROD_BY_ROW)
		return MPC_BAD_STATE;
	if (cap < fixprod_use_bytes(nrows, fs->k, fs->bits))
		return MPC_BUFFER_TOO_SMALL;
	fs->last_use = use;
	mpc_msg_put_header(msg, MPC_MSG_FIXED_TAU, (uint32_t) use, (uint32_t) count);
	for (size_t o0 = 0; o0 < count; o0 += OT_EXT_CHUNK)
	{
		size_t		cn = count - o0 < OT_EXT_CHUNK ? count - o0 : OT_EXT_CHUNK;

		st = ot_ext_sender_hash_tweaked(fs->ext, fs->q + g0 + o0, cn, g0 + o0, use, fs->h0, fs->h1);
		if (st != MPC_OK)
			return st;
		for (size_t c = 0; c < cn; c++)
		{
			uint64_t	x0 = fs->h0[c].w[0];
			uint64_t	mult = mode == FIXPROD_BY_COLUMN ? m[w.j] : m[w.r];

			bits_put(&bw, fs->h1[c].w[0] - x0 - mult, 64 - w.i);
			out[mode == FIXPROD_BY_COLUMN ? w.r : w.j] -= bit_weight(w.i, fs->bits) * x0;
			walk_next(&w, fs->k, fs->bits);
		}
	}
	bits_flush(&bw);
	*len = fixprod_use_bytes(nrows, fs->k, fs->bits);
	return MPC_OK;
}

mpc_status
fixprod_receiver_use(fixprod_receiver *fr, uint64_t use, size_t row0, size_t nrows, fixprod_mode mode,
					 const uint8_t *msg, size_t len, uint64_t *out)
{
	size_t		count = slice_ots(nrows, fr->k, fr->bits);
	size_t		g0 = slice_ots(row0, fr->k, fr->bits);
	walk		w = {0, 0, 0};
	bitio		br = {NULL, msg + MPC_MSG_HEADER_BYTES, 0, 0, 0};
	uint32_t	seq,
				n;
	mpc_status	st;

	if ((st = use_check(use, fr->last_use, row0, nrows, fr->extended, fr->k, fr->bits)) != MPC_OK)
		return st;
	if (mode != FIXPROD_BY_COLUMN && mode != FIXPROD_BY_ROW)
		return MPC_BAD_STATE;
	if ((st = mpc_msg_get_header(msg, len, MPC_MSG_FIXED_TAU, &seq, &n)) != MPC_OK)
		return st;
	if (seq != (uint32_t) use)
		return MPC_OUT_OF_ORDER;
	if (n != count)
		return MPC_BAD_COUNT;
	if (len != fixprod_use_bytes(nrows, fr->k, fr->bits))
		return MPC_BAD_LENGTH;
	fr->last_use = use;
	for (size_t o0 = 0; o0 < count; o0 += OT_EXT_CHUNK)
	{
		size_t		cn = count - o0 < OT_EXT_CHUNK ? count - o0 : OT_EXT_CHUNK;

		st = ot_ext_receiver_hash_tweaked(fr->ext, fr->t + g0 + o0, cn, g0 + o0, use, fr->h);
		if (st != MPC_OK)
			return st;
		for (size_t c = 0; c < cn; c++)
		{
			uint32_t	v = (uint32_t) fr->x[(row0 + w.r) * fr->k + w.j];
			uint64_t	b = (uint64_t) 0 - ((v >> w.i) & 1);
			uint64_t	y = fr->h[c].w[0] - (b & bits_get(&br, 64 - w.i));

			out[mode == FIXPROD_BY_COLUMN ? w.r : w.j] += bit_weight(w.i, fr->bits) * y;
			walk_next(&w, fr->k, fr->bits);
		}
	}
	return MPC_OK;
}
