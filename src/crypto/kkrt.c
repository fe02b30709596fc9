/*
 * kkrt.c — KKRT16 batched OPRF over a 448-wide IKNP extension, and the PSI
 * on top of it (see kkrt.h for the construction and the flights).
 *
 * Bit layout: a 448-bit row is seven little-endian 64-bit words, bit c in
 * word c/64, i.e. byte c/8 bit c%8; column c of a chunk is ⌈bins/64⌉ words,
 * bit j of the column is bin (first + j).  The code rows come out of AES as
 * bytes in that same order, and the sender's choice string s too, so bit c
 * of s is the choice of base OT c.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "crypto/bytes.h"
#include "crypto/cuckoo.h"
#include "crypto/kkrt.h"
#include "crypto/psi_stream.h"

#define HELLO_PAYLOAD	(16 + 12 + 32)	/* seed ‖ base-OT A message */
#define BASE_B_BYTES	(MPC_MSG_HEADER_BYTES + 32 * KKRT_CODE_BITS)

static const uint8_t personal_out[16] = "pgpriv-kkrt-out";
static const uint8_t personal_code[16] = "pgpriv-kkrtcode";

struct kkrt_receiver
{
	size_t		n,
				m;
	int			stage;			/* 0 placed, 1 hello sent, 2 base read */
	uint8_t    *items;			/* n × 16 */
	uint32_t   *bin_item;		/* m */
	uint8_t    *item_hidx;		/* n */
	uint8_t		cuckoo_seed[16];
	uint8_t		dummy_key[16];	/* secret inputs of empty bins */
	ot_base_sender base;
	ot_block	keys0[KKRT_CODE_BITS];
	ot_block	keys1[KKRT_CODE_BITS];
	uint8_t		code_keys[64];
	uint8_t    *out;			/* n × 32 */
	psi_chunks	chunks;			/* the U chunks made */
	psi_tags	tags;			/* the sender's tags, from the base on */
};

struct kkrt_sender
{
	size_t		n,
				n_r,
				m;
	int			stage;			/* 0 new, 1 hello answered */
	uint8_t		s[KKRT_CODE_BYTES];
	ot_block	keys[KKRT_CODE_BITS];
	uint8_t		cuckoo_seed[16];
	uint8_t		code_keys[64];
	uint64_t   *q;				/* m × 7 words */
	psi_chunks	chunks;			/* the U chunks read */
	psi_batches tags;
};

/* ---------------------------------------------------------------- frame */

static mpc_status
get_header(const uint8_t *msg, size_t len, uint8_t type, uint32_t *seq, uint32_t *count)
{
	return mpc_msg_get_header_of(msg, len, KKRT_MSG_HELLO, KKRT_MSG_TAGS, type, seq, count);
}

/* A flight's single message (see mpc_msg_expect_of). */
static mpc_status
expect(const uint8_t *msg, size_t len, uint8_t type, size_t min_count, size_t max_count,
	   size_t bytes, uint32_t *count)
{
	return mpc_msg_expect_of(msg, len, KKRT_MSG_HELLO, KKRT_MSG_TAGS, type, min_count, max_count,
							 bytes, count);
}

/* ------------------------------------------------------------- sizes */

size_t
kkrt_tag_bytes(size_t n_r, size_t n_s)
{
	return psi_tag_bytes(n_r, n_s);
}

size_t
kkrt_hello_bytes(void)
{
	return MPC_MSG_HEADER_BYTES + HELLO_PAYLOAD;
}

size_t
kkrt_base_bytes(void)
{
	return MPC_MSG_HEADER_BYTES + 16 + BASE_B_BYTES;
}

static size_t
col_words(size_t bins)
{
	return (bins + 63) / 64;
}

size_t
kkrt_u_bytes(size_t bins)
{
	return MPC_MSG_HEADER_BYTES + (size_t) KKRT_CODE_BITS * col_words(bins) * 8;
}

size_t
kkrt_tags_bytes(size_t items, size_t tag_bytes)
{
	return psi_tags_frame_bytes(items, KKRT_HASHES, tag_bytes);
}


/* --------------------------------------------------------- primitives */

/*
 * 448 columns (stride `words` words each) ↔ rows of 7 words, for bins
 * [0, 64·words): each 64×64 block goes through ot_transpose64.  The same
 * routine serves both directions (see the header comment of ot_transpose64).
 */
static void
cols_to_rows(const uint64_t *cols, size_t words, uint64_t *rows)
{
	uint64_t	a[64];

	for (size_t w = 0; w < words; w++)
		for (int g = 0; g < KKRT_CODE_WORDS; g++)
		{
			for (int r = 0; r < 64; r++)
				a[r] = cols[(size_t) (g * 64 + r) * words + w];
			ot_transpose64(a);
			for (int c = 0; c < 64; c++)
				rows[(w * 64 + c) * KKRT_CODE_WORDS + g] = a[c];
		}
}

static void
rows_to_cols(const uint64_t *rows, size_t words, uint64_t *cols)
{
	uint64_t	a[64];

	for (size_t w = 0; w < words; w++)
		for (int g = 0; g < KKRT_CODE_WORDS; g++)
		{
			for (int r = 0; r < 64; r++)
				a[r] = rows[(w * 64 + r) * KKRT_CODE_WORDS + g];
			ot_transpose64(a);
			for (int c = 0; c < 64; c++)
				cols[(size_t) (g * 64 + c) * words + w] = a[c];
		}
}

/*
 * Bytes [chunk·KKRT_CHUNK_BINS/8, +nbytes) of the AES-128-CTR stream under
 * key (counter from zero, big-endian): the stream of column c for a chunk.
 */
static bool
prg_at(EVP_CIPHER_CTX *ctx, const ot_block *key, size_t chunk, const uint8_t *zeros,
	   uint8_t *out, size_t nbytes)
{
	uint8_t		iv[16] = {0};
	uint64_t	ctr = (uint64_t) chunk * (KKRT_CHUNK_BINS / 128);
	int			outl = 0;

	for (int b = 0; b < 8; b++)
		iv[15 - b] = (uint8_t) (ctr >> (8 * b));
	/* ctx already has the cipher (prg_ctx_new): only the key and IV change */
	return EVP_EncryptInit_ex(ctx, NULL, NULL, (const unsigned char *) key->w, iv) == 1 &&
		EVP_EncryptUpdate(ctx, out, &outl, zeros, (int) nbytes) == 1 &&
		outl == (int) nbytes;
}

/* An AES-128-CTR context for prg_at, the cipher fetched once. */
static EVP_CIPHER_CTX *
prg_ctx_new(void)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();

	if (ctx != NULL &&
		EVP_EncryptInit_ex(ctx, EVP_aes_128_ctr(), NULL, NULL, NULL) != 1)
	{
		EVP_CIPHER_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

typedef struct code_ctx
{
	EVP_CIPHER_CTX *aes[4];
} code_ctx;

static void
code_free(code_ctx *c)
{
	for (int i = 0; i < 4; i++)
		EVP_CIPHER_CTX_free(c->aes[i]);
}

static bool
code_init(code_ctx *c, const uint8_t keys[64])
{
	memset(c, 0, sizeof(*c));
	for (int i = 0; i < 4; i++)
	{
		c->aes[i] = EVP_CIPHER_CTX_new();
		if (c->aes[i] == NULL ||
			EVP_EncryptInit_ex(c->aes[i], EVP_aes_128_ecb(), NULL, keys + 16 * i, NULL) != 1 ||
			EVP_CIPHER_CTX_set_padding(c->aes[i], 0) != 1)
		{
			code_free(c);
			return false;
		}
	}
	return true;
}

/* C(x) for n inputs (n × 16 bytes) into rows (n × 7 words); scratch n × 16 */
static bool
code_rows(code_ctx *c, const uint8_t *x, size_t n, uint64_t *rows, uint8_t *scratch)
{
	for (int i = 0; i < 4; i++)
	{
		int			outl = 0;

		if (EVP_EncryptUpdate(c->aes[i], scratch, &outl, x, (int) (16 * n)) != 1 ||
			outl != (int) (16 * n))
			return false;
		for (size_t k = 0; k < n; k++)
			memcpy((uint8_t *) (rows + k * KKRT_CODE_WORDS) + 16 * i, scratch + 16 * k,
				   i < 3 ? 16 : 8);
	}
	return true;
}

/*
 * BLAKE2b-256(j ‖ i ‖ row), personal "pgpriv-kkrt-out": bin j reached
 * through hash index i.  With i in the hash, an item whose bins coincide
 * still gets three unrelated values, so its tags do not show the collision
 * (a fact about a non-member) to the receiver.
 */
static void
out_hash(uint32_t j, int i, const uint64_t *row, uint8_t out[KKRT_OUT_BYTES])
{
	uint8_t		in[5 + KKRT_CODE_BYTES];

	crypto_put_u32le(in, j);
	in[4] = (uint8_t) i;
	memcpy(in + 5, row, KKRT_CODE_BYTES);
	crypto_generichash_blake2b_salt_personal(out, KKRT_OUT_BYTES, in, sizeof(in),
											 NULL, 0, NULL, personal_out);
}

/* The code keys from the sender's seed and the first flight's contents. */
static void
derive_code_keys(const uint8_t sender_seed[16], const uint8_t cuckoo_seed[16],
				 const uint8_t *base_a, size_t n_r, size_t n_s, uint8_t keys[64])
{
	crypto_generichash_blake2b_state h;
	uint8_t		nn[8];

	crypto_put_u32le(nn, (uint32_t) n_r);
	crypto_put_u32le(nn + 4, (uint32_t) n_s);
	crypto_generichash_blake2b_init_salt_personal(&h, NULL, 0, 64, NULL, personal_code);
	crypto_generichash_blake2b_update(&h, sender_seed, 16);
	crypto_generichash_blake2b_update(&h, cuckoo_seed, 16);
	crypto_generichash_blake2b_update(&h, base_a, 12 + 32);
	crypto_generichash_blake2b_update(&h, nn, sizeof(nn));
	crypto_generichash_blake2b_final(&h, keys, 64);
}

/* ------------------------------------------------------------ receiver */

kkrt_receiver *
kkrt_receiver_new(const uint8_t *items, size_t n, mpc_status *st)
{
	kkrt_receiver *r;
	uint32_t   *idx;
	cuckoo_status cs = CUCKOO_FULL;

	if (items == NULL || n == 0 || n > KKRT_MAX_N)
	{
		*st = MPC_BAD_COUNT;
		return NULL;
	}
	r = crypto_zalloc(sizeof(*r));
	if (r == NULL)
	{
		*st = MPC_NO_MEMORY;
		return NULL;
	}
	r->n = n;
	r->m = cuckoo_bins(n);
	r->items = malloc(n * KKRT_ITEM_BYTES);
	r->bin_item = malloc(r->m * sizeof(uint32_t));
	r->item_hidx = malloc(n);
	r->out = crypto_zalloc(n * KKRT_OUT_BYTES);
	idx = malloc(3 * n * sizeof(uint32_t));
	if (r->items == NULL || r->bin_item == NULL || r->item_hidx == NULL ||
		r->out == NULL || idx == NULL ||
		psi_chunks_init(&r->chunks, r->m, KKRT_CHUNK_BINS, kkrt_u_bytes) != MPC_OK)
	{
		free(idx);
		kkrt_receiver_free(r);
		*st = MPC_NO_MEMORY;
		return NULL;
	}
	memcpy(r->items, items, n * KKRT_ITEM_BYTES);
	randombytes_buf(r->dummy_key, sizeof(r->dummy_key));

	/*
	 * A fresh seed per try; only the one that worked is ever sent, and a
	 * try fails with probability ≤ 2^-40 (cuckoo.h), so the retry shifts
	 * the seed's distribution by at most that much.
	 */
	for (int t = 0; t < KKRT_MAX_CUCKOO_TRIES; t++)
	{
		uint64_t	walk;

		randombytes_buf(r->cuckoo_seed, sizeof(r->cuckoo_seed));
		randombytes_buf(&walk, sizeof(walk));
		cs = cuckoo_hash(r->cuckoo_seed, r->items, n, r->m, idx);
		if (cs != CUCKOO_OK)
			break;
		cs = cuckoo_place(idx, n, r->m, walk, r->bin_item, r->item_hidx);
		if (cs != CUCKOO_FULL)
			break;
	}
	free(idx);
	if (cs != CUCKOO_OK)
	{
		kkrt_receiver_free(r);
		*st = cs == CUCKOO_FULL ? MPC_OUT_OF_RANGE :
			cs == CUCKOO_NO_MEMORY ? MPC_NO_MEMORY : MPC_CRYPTO_FAILED;
		return NULL;
	}
	*st = MPC_OK;
	return r;
}

void
kkrt_receiver_free(kkrt_receiver *r)
{
	if (r == NULL)
		return;
	crypto_wipe_free(r->items, r->n * KKRT_ITEM_BYTES);
	crypto_wipe_free(r->bin_item, r->m * sizeof(uint32_t));
	crypto_wipe_free(r->item_hidx, r->n);
	crypto_wipe_free(r->out, r->n * KKRT_OUT_BYTES);
	psi_chunks_free(&r->chunks);
	psi_tags_free(&r->tags);
	ot_base_sender_wipe(&r->base);
	sodium_memzero(r, sizeof(*r));
	free(r);
}

mpc_status
kkrt_receiver_hello(kkrt_receiver *r, uint8_t *msg, size_t cap, size_t *len)
{
	size_t		alen;
	mpc_status	st;

	if (r->stage != 0)
		return MPC_BAD_STATE;
	if (cap < kkrt_hello_bytes())
		return MPC_BUFFER_TOO_SMALL;
	st = ot_base_sender_start(&r->base, KKRT_CODE_BITS, msg + MPC_MSG_HEADER_BYTES + 16,
							  cap - MPC_MSG_HEADER_BYTES - 16, &alen);
	if (st != MPC_OK)
		return st;
	mpc_msg_put_header(msg, KKRT_MSG_HELLO, 0, (uint32_t) r->n);
	memcpy(msg + MPC_MSG_HEADER_BYTES, r->cuckoo_seed, 16);
	*len = kkrt_hello_bytes();
	r->stage = 1;
	return MPC_OK;
}

mpc_status
kkrt_receiver_base(kkrt_receiver *r, const uint8_t *msg, size_t len, size_t max_peer_n)
{
	uint32_t	count;
	mpc_status	st;
	uint8_t		base_a[12 + 32];
	psi_batches batches;

	if (r->stage != 1)
		return MPC_BAD_STATE;
	st = expect(msg, len, KKRT_MSG_BASE, 1, crypto_min_size(max_peer_n, KKRT_MAX_N),
				kkrt_base_bytes(), &count);
	if (st != MPC_OK)
		return st;
	/* (ot_base_sender_finish checks the B points and leaves r->base alone on error) */
	st = ot_base_sender_finish(&r->base, msg + MPC_MSG_HEADER_BYTES + 16, BASE_B_BYTES,
							   r->keys0, r->keys1);
	if (st != MPC_OK)
		return st;
	mpc_msg_put_header(base_a, MPC_MSG_BASE_A, 0, KKRT_CODE_BITS);
	memcpy(base_a + 12, r->base.A, 32);
	derive_code_keys(msg + MPC_MSG_HEADER_BYTES, r->cuckoo_seed, base_a, r->n, count,
					 r->code_keys);
	psi_batches_init(&batches, count, KKRT_TAG_BATCH, KKRT_HASHES, kkrt_tag_bytes(r->n, count),
					 KKRT_ITEM_BYTES);
	psi_tags_init(&r->tags, &batches, r->out, r->n, KKRT_OUT_BYTES, r->item_hidx);
	r->stage = 2;
	return MPC_OK;
}

size_t
kkrt_receiver_bins(const kkrt_receiver *r)
{
	return r->m;
}

size_t
kkrt_receiver_chunks(const kkrt_receiver *r)
{
	return r->chunks.count;
}

size_t
kkrt_receiver_chunk_bytes(const kkrt_receiver *r, size_t chunk)
{
	if (chunk >= r->chunks.count)
		return 0;
	return kkrt_u_bytes(psi_chunks_items(&r->chunks, chunk));
}

mpc_status
kkrt_receiver_chunk(kkrt_receiver *r, size_t chunk, uint8_t *msg, size_t cap, size_t *len)
{
	size_t		cnt,
				words,
				cb,
				first;
	uint64_t   *code = NULL,
			   *cols = NULL,
			   *rows = NULL;
	uint8_t    *x = NULL,
			   *scratch = NULL,
			   *zeros = NULL,
			   *g = NULL;
	EVP_CIPHER_CTX *ctx = NULL,
			   *dctx = NULL;
	code_ctx	cc;
	bool		have_cc = false;
	mpc_status	st = MPC_OK;

	if (r->stage != 2)
		return MPC_BAD_STATE;
	if (chunk >= r->chunks.count)
		return MPC_BAD_COUNT;
	cnt = psi_chunks_items(&r->chunks, chunk);
	words = col_words(cnt);
	cb = words * 8;
	first = chunk * KKRT_CHUNK_BINS;
	if (cap < kkrt_u_bytes(cnt))
		return MPC_BUFFER_TOO_SMALL;
	if (!psi_chunks_claim(&r->chunks, chunk))
		return MPC_OUT_OF_ORDER;	/* made already, or being made */

	code = malloc(words * 64 * KKRT_CODE_BYTES);
	cols = malloc(words * 64 * KKRT_CODE_BYTES);
	rows = malloc(words * 64 * KKRT_CODE_BYTES);
	x = malloc(words * 64 * 16);
	scratch = malloc(words * 64 * 16);
	zeros = crypto_zalloc(cb);
	g = malloc(cb);
	ctx = prg_ctx_new();
	dctx = EVP_CIPHER_CTX_new();
	if (code == NULL || cols == NULL || rows == NULL || x == NULL || scratch == NULL ||
		zeros == NULL || g == NULL || ctx == NULL || dctx == NULL)
	{
		st = MPC_NO_MEMORY;
		goto done;
	}
	if (!code_init(&cc, r->code_keys))
	{
		st = MPC_CRYPTO_FAILED;
		goto done;
	}
	have_cc = true;

	/* the code rows: C(x_j) for occupied bins, C(AES_dummy(j)) for the rest */
	{
		int			outl = 0;

		memset(x, 0, words * 64 * 16);
		for (size_t k = 0; k < words * 64; k++)
			crypto_put_u32le(x + 16 * k, (uint32_t) (first + k));
		if (EVP_EncryptInit_ex(dctx, EVP_aes_128_ecb(), NULL, r->dummy_key, NULL) != 1 ||
			EVP_CIPHER_CTX_set_padding(dctx, 0) != 1 ||
			EVP_EncryptUpdate(dctx, x, &outl, x, (int) (words * 64 * 16)) != 1)
		{
			st = MPC_CRYPTO_FAILED;
			goto done;
		}
		for (size_t k = 0; k < cnt; k++)
		{
			uint32_t	it = r->bin_item[first + k];

			if (it != CUCKOO_EMPTY)
				memcpy(x + 16 * k, r->items + 16 * (size_t) it, 16);
		}
		if (!code_rows(&cc, x, words * 64, code, scratch))
		{
			st = MPC_CRYPTO_FAILED;
			goto done;
		}
		rows_to_cols(code, words, cols);
	}

	/* u^c = G(k0_c) ⊕ G(k1_c) ⊕ code^c into the message; t^c into code */
	mpc_msg_put_header(msg, KKRT_MSG_U, (uint32_t) chunk, (uint32_t) cnt);
	for (int c = 0; c < KKRT_CODE_BITS; c++)
	{
		uint8_t    *t = (uint8_t *) (code + (size_t) c * words);
		const uint8_t *cc8 = (const uint8_t *) (cols + (size_t) c * words);
		uint8_t    *u = msg + MPC_MSG_HEADER_BYTES + (size_t) c * cb;

		if (!prg_at(ctx, &r->keys0[c], chunk, zeros, t, cb) ||
			!prg_at(ctx, &r->keys1[c], chunk, zeros, g, cb))
		{
			st = MPC_CRYPTO_FAILED;
			goto done;
		}
		for (size_t b = 0; b < cb; b += 8)
		{
			uint64_t	tw,
						gw,
						cw;

			memcpy(&tw, t + b, 8);
			memcpy(&gw, g + b, 8);
			memcpy(&cw, cc8 + b, 8);
			tw ^= gw ^ cw;
			memcpy(u + b, &tw, 8);
		}
	}
	cols_to_rows(code, words, rows);
	for (size_t k = 0; k < cnt; k++)
	{
		uint32_t	it = r->bin_item[first + k];

		if (it != CUCKOO_EMPTY)
			out_hash((uint32_t) (first + k), r->item_hidx[it], rows + k * KKRT_CODE_WORDS,
					 r->out + (size_t) it * KKRT_OUT_BYTES);
	}
	*len = kkrt_u_bytes(cnt);

done:
	if (have_cc)
		code_free(&cc);
	EVP_CIPHER_CTX_free(ctx);
	EVP_CIPHER_CTX_free(dctx);
	crypto_wipe_free(code, words * 64 * KKRT_CODE_BYTES);
	crypto_wipe_free(cols, words * 64 * KKRT_CODE_BYTES);
	crypto_wipe_free(rows, words * 64 * KKRT_CODE_BYTES);
	crypto_wipe_free(x, words * 64 * 16);
	crypto_wipe_free(scratch, words * 64 * 16);
	free(zeros);
	crypto_wipe_free(g, cb);
	return psi_chunks_finish(&r->chunks, chunk, st);
}

bool
kkrt_receiver_outputs_ready(const kkrt_receiver *r)
{
	return r->stage == 2 && psi_chunks_complete(&r->chunks);
}

const uint8_t *
kkrt_receiver_output(const kkrt_receiver *r, size_t i, int *hidx)
{
	if (!kkrt_receiver_outputs_ready(r) || i >= r->n)
		return NULL;
	if (hidx != NULL)
		*hidx = r->item_hidx[i];
	return r->out + i * KKRT_OUT_BYTES;
}

size_t
kkrt_receiver_batches(const kkrt_receiver *r)
{
	return r->tags.batches.count;
}

size_t
kkrt_receiver_tag_bytes(const kkrt_receiver *r)
{
	return r->tags.batches.tag_bytes;
}

mpc_status
kkrt_receiver_tags(kkrt_receiver *r, const uint8_t *msg, size_t len)
{
	uint32_t	seq,
				count;
	mpc_status	st;

	if (!kkrt_receiver_outputs_ready(r))
		return MPC_BAD_STATE;
	st = get_header(msg, len, KKRT_MSG_TAGS, &seq, &count);
	if (st != MPC_OK)
		return st;
	return psi_tags_take(&r->tags, seq, count, msg, len);
}

bool
kkrt_receiver_done(const kkrt_receiver *r)
{
	return psi_tags_done(&r->tags);
}

size_t
kkrt_receiver_match(const kkrt_receiver *r, size_t i)
{
	return psi_tags_match(&r->tags, i);
}

size_t
kkrt_receiver_memory(const kkrt_receiver *r)
{
	return sizeof(*r) + r->n * (KKRT_ITEM_BYTES + 1 + KKRT_OUT_BYTES) +
		r->m * sizeof(uint32_t) + r->chunks.count + psi_tags_memory(&r->tags);
}

/* -------------------------------------------------------------- sender */

kkrt_sender *
kkrt_sender_new(size_t n, mpc_status *st)
{
	kkrt_sender *s;

	if (n == 0 || n > KKRT_MAX_N)
	{
		*st = MPC_BAD_COUNT;
		return NULL;
	}
	s = crypto_zalloc(sizeof(*s));
	if (s == NULL)
	{
		*st = MPC_NO_MEMORY;
		return NULL;
	}
	s->n = n;
	psi_batches_init(&s->tags, n, KKRT_TAG_BATCH, KKRT_HASHES, 0, KKRT_ITEM_BYTES);
	*st = MPC_OK;
	return s;
}

void
kkrt_sender_free(kkrt_sender *s)
{
	if (s == NULL)
		return;
	crypto_wipe_free(s->q, s->m * KKRT_CODE_BYTES);
	psi_chunks_free(&s->chunks);
	sodium_memzero(s, sizeof(*s));
	free(s);
}

mpc_status
kkrt_sender_hello(kkrt_sender *s, const uint8_t *msg, size_t len, size_t max_peer_n,
				  uint8_t *out, size_t cap, size_t *out_len)
{
	uint32_t	count;
	mpc_status	st;
	size_t		m,
				blen;
	uint64_t   *q;
	uint8_t		seed[16];

	if (s->stage != 0)
		return MPC_BAD_STATE;
	st = expect(msg, len, KKRT_MSG_HELLO, 1, crypto_min_size(max_peer_n, KKRT_MAX_N),
				kkrt_hello_bytes(), &count);
	if (st != MPC_OK)
		return st;
	if (cap < kkrt_base_bytes())
		return MPC_BUFFER_TOO_SMALL;

	m = cuckoo_bins(count);
	q = malloc(m * KKRT_CODE_BYTES);
	if (q == NULL || psi_chunks_init(&s->chunks, m, KKRT_CHUNK_BINS, kkrt_u_bytes) != MPC_OK)
	{
		free(q);
		psi_chunks_free(&s->chunks);
		return MPC_NO_MEMORY;
	}
	randombytes_buf(s->s, sizeof(s->s));
	/* checks A (canonical, not the identity) and the base frame */
	st = ot_base_receiver_respond(KKRT_CODE_BITS, s->s,
								  msg + MPC_MSG_HEADER_BYTES + 16, 12 + 32,
								  out + MPC_MSG_HEADER_BYTES + 16,
								  cap - MPC_MSG_HEADER_BYTES - 16, &blen, s->keys);
	if (st != MPC_OK)
	{
		sodium_memzero(s->s, sizeof(s->s));
		sodium_memzero(s->keys, sizeof(s->keys));
		free(q);
		psi_chunks_free(&s->chunks);
		return st;
	}
	randombytes_buf(seed, sizeof(seed));
	memcpy(s->cuckoo_seed, msg + MPC_MSG_HEADER_BYTES, 16);
	derive_code_keys(seed, s->cuckoo_seed, msg + MPC_MSG_HEADER_BYTES + 16,
					 count, s->n, s->code_keys);
	mpc_msg_put_header(out, KKRT_MSG_BASE, 0, (uint32_t) s->n);
	memcpy(out + MPC_MSG_HEADER_BYTES, seed, 16);
	*out_len = kkrt_base_bytes();

	s->n_r = count;
	s->m = m;
	s->q = q;
	s->tags.tag_bytes = kkrt_tag_bytes(count, s->n);
	s->stage = 1;
	return MPC_OK;
}

size_t
kkrt_sender_chunks(const kkrt_sender *s)
{
	return s->chunks.count;
}

mpc_status
kkrt_sender_chunk(kkrt_sender *s, const uint8_t *msg, size_t len)
{
	uint32_t	seq,
				count;
	size_t		words,
				cb,
				first;
	uint64_t   *cols = NULL,
			   *rows = NULL;
	uint8_t    *zeros = NULL;
	EVP_CIPHER_CTX *ctx = NULL;
	mpc_status	st;

	if (s->stage != 1)
		return MPC_BAD_STATE;
	st = get_header(msg, len, KKRT_MSG_U, &seq, &count);
	if (st != MPC_OK)
		return st;
	st = psi_chunks_accept(&s->chunks, seq, count, len);
	if (st != MPC_OK)
		return st;

	words = col_words(count);
	cb = words * 8;
	first = (size_t) seq * KKRT_CHUNK_BINS;
	cols = malloc(words * 64 * KKRT_CODE_BYTES);
	rows = malloc(words * 64 * KKRT_CODE_BYTES);
	zeros = crypto_zalloc(cb);
	ctx = prg_ctx_new();
	if (cols == NULL || rows == NULL || zeros == NULL || ctx == NULL)
	{
		st = MPC_NO_MEMORY;
		goto done;
	}
	/* q^c = G(k_{s_c}) ⊕ (u^c ∧ s_c), without a branch on s_c */
	for (int c = 0; c < KKRT_CODE_BITS; c++)
	{
		uint64_t   *qc = cols + (size_t) c * words;
		const uint8_t *u = msg + MPC_MSG_HEADER_BYTES + (size_t) c * cb;
		uint64_t	mask = (uint64_t) 0 - (uint64_t) ((s->s[c / 8] >> (c % 8)) & 1);

		if (!prg_at(ctx, &s->keys[c], seq, zeros, (uint8_t *) qc, cb))
		{
			st = MPC_CRYPTO_FAILED;
			goto done;
		}
		for (size_t w = 0; w < words; w++)
		{
			uint64_t	uw;

			memcpy(&uw, u + 8 * w, 8);
			qc[w] ^= uw & mask;
		}
	}
	cols_to_rows(cols, words, rows);
	memcpy(s->q + first * KKRT_CODE_WORDS, rows, count * KKRT_CODE_BYTES);

done:
	EVP_CIPHER_CTX_free(ctx);
	crypto_wipe_free(cols, words * 64 * KKRT_CODE_BYTES);
	crypto_wipe_free(rows, words * 64 * KKRT_CODE_BYTES);
	free(zeros);
	return psi_chunks_finish(&s->chunks, seq, st);
}

bool
kkrt_sender_ready(const kkrt_sender *s)
{
	return s->stage == 1 && psi_chunks_complete(&s->chunks);
}

/*
 * F at the three bins of each of n items into out (n × 3 × 32 bytes), or
 * only the first tag_bytes of each into tags (n × 3 × tag_bytes) when out
 * is NULL.
 */
static mpc_status
sender_eval_many(const kkrt_sender *s, const uint8_t *ys, size_t n,
				 uint8_t *out, uint8_t *tags)
{
	uint32_t   *idx = malloc(3 * n * sizeof(uint32_t));
	uint64_t   *code = malloc(n * KKRT_CODE_BYTES);
	uint8_t    *scratch = malloc(n * 16);
	code_ctx	cc;
	mpc_status	st = MPC_OK;
	uint64_t	sw[KKRT_CODE_WORDS];

	memcpy(sw, s->s, sizeof(sw));
	if (idx == NULL || code == NULL || scratch == NULL)
	{
		st = MPC_NO_MEMORY;
		goto done;
	}
	if (cuckoo_hash(s->cuckoo_seed, ys, n, s->m, idx) != CUCKOO_OK)
	{
		st = MPC_CRYPTO_FAILED;
		goto done;
	}
	if (!code_init(&cc, s->code_keys))
	{
		st = MPC_CRYPTO_FAILED;
		goto done;
	}
	if (!code_rows(&cc, ys, n, code, scratch))
		st = MPC_CRYPTO_FAILED;
	code_free(&cc);
	if (st != MPC_OK)
		goto done;
	for (size_t k = 0; k < n; k++)
	{
		uint64_t   *cr = code + k * KKRT_CODE_WORDS;

		/* the rows are 87 MB at 2^20: fetch a few items ahead */
		if (k + 8 < n)
			for (int h = 0; h < KKRT_HASHES; h++)
				__builtin_prefetch(s->q + (size_t) idx[3 * (k + 8) + h] * KKRT_CODE_WORDS);
		for (int w = 0; w < KKRT_CODE_WORDS; w++)
			cr[w] &= sw[w];
		for (int h = 0; h < KKRT_HASHES; h++)
		{
			uint32_t	j = idx[3 * k + h];
			const uint64_t *qj = s->q + (size_t) j * KKRT_CODE_WORDS;
			uint64_t	v[KKRT_CODE_WORDS];
			uint8_t		o[KKRT_OUT_BYTES];

			for (int w = 0; w < KKRT_CODE_WORDS; w++)
				v[w] = qj[w] ^ cr[w];
			if (out != NULL)
				out_hash(j, h, v, out + (3 * k + h) * KKRT_OUT_BYTES);
			else
			{
				out_hash(j, h, v, o);
				memcpy(tags + (3 * k + h) * s->tags.tag_bytes, o, s->tags.tag_bytes);
				sodium_memzero(o, sizeof(o));
			}
			sodium_memzero(v, sizeof(v));
		}
	}

done:
	sodium_memzero(sw, sizeof(sw));
	free(idx);
	crypto_wipe_free(code, n * KKRT_CODE_BYTES);
	crypto_wipe_free(scratch, n * 16);
	return st;
}

mpc_status
kkrt_sender_eval(const kkrt_sender *s, const uint8_t y[KKRT_ITEM_BYTES],
				 uint8_t out[KKRT_HASHES * KKRT_OUT_BYTES])
{
	if (!kkrt_sender_ready(s))
		return MPC_BAD_STATE;
	return sender_eval_many(s, y, 1, out, NULL);
}

mpc_status
kkrt_sender_eval_batch(const kkrt_sender *s, const uint8_t *ys, size_t n, uint8_t *out)
{
	if (!kkrt_sender_ready(s))
		return MPC_BAD_STATE;
	if (ys == NULL || out == NULL || n == 0 || n > KKRT_MAX_N)
		return MPC_BAD_COUNT;
	return sender_eval_many(s, ys, n, out, NULL);
}

size_t
kkrt_sender_batches(const kkrt_sender *s)
{
	return s->tags.count;
}

size_t
kkrt_sender_tag_bytes(const kkrt_sender *s)
{
	return s->tags.tag_bytes;
}

static mpc_status
sender_tags_of(const void *s, const uint8_t *ys, size_t n, uint8_t *tags)
{
	return sender_eval_many(s, ys, n, NULL, tags);
}

mpc_status
kkrt_sender_tags(const kkrt_sender *s, const uint8_t *ys, size_t batch,
				 uint8_t *msg, size_t cap, size_t *len)
{
	if (!kkrt_sender_ready(s))
		return MPC_BAD_STATE;
	return psi_tags_send(&s->tags, KKRT_MSG_TAGS, sender_tags_of, s, ys, batch, msg, cap, len);
}

size_t
kkrt_sender_memory(const kkrt_sender *s)
{
	return sizeof(*s) + s->m * KKRT_CODE_BYTES + s->chunks.count;
}
