/*
 * rr22.c — the RR22 PSI over an OKVS and a silent VOLE (see rr22.h for the
 * construction, the flights and the security model).
 *
 * Field elements are ot_block (bit i of the block is the coefficient of X^i,
 * crypto/gf128.h); on the wire and in the OKVS they are the block's 16
 * little-endian bytes, so an OKVS over bytes (crypto/okvs.h) is an OKVS over
 * F, its decoding an XOR, hence GF(2)-linear: Decode(B + D·Δ, y) =
 * Decode(B, y) + Decode(D, y)·Δ.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "crypto/bytes.h"
#include "crypto/gf128.h"
#include "crypto/okvs.h"
#include "crypto/parallel.h"
#include "crypto/psi_stream.h"
#include "crypto/rr22.h"
#include "crypto/vole.h"

#define SHARE_BYTES		16
#define BLOCK_ITEMS		1024	/* items per step of the bulk evaluations */

static const uint8_t personal_seed[16] = "pgpriv-rr22-seed";
static const uint8_t personal_okvs[16] = "pgpriv-rr22-okvs";
static const uint8_t personal_out[16] = "pgpriv-rr22-out";

/* What both parties derive from the run seed. */
typedef struct run_keys
{
	uint8_t		okvs_base[16];	/* the OKVS seed of try t: BLAKE2b(okvs_base, t) */
	uint8_t		h1_key[16];		/* AES key of H1 */
	uint8_t		out_salt[16];	/* BLAKE2b salt of H_o */
} run_keys;

struct rr22_receiver
{
	size_t		n,
				m,
				nchunks;
	int			nthreads;
	int			stage;			/* 0 new, 1 hello sent, 2 COT sent, 3 outputs */
	uint8_t    *items;			/* n × 16 */
	uint8_t		share[SHARE_BYTES];
	run_keys	keys;
	uint8_t		okvs_seed[16];
	vole_receiver *vr;
	ot_block   *D;				/* m: P after flight 3, A + P after flight 4 */
	uint8_t    *out;			/* n × 32 */
	psi_tags	tags;			/* the sender's tags, from the base on */
};

struct rr22_sender
{
	size_t		n,
				n_r,
				m;
	int			nthreads;
	int			stage;			/* 0 new, 1 hello answered, 2 trees sent */
	run_keys	keys;
	uint8_t		okvs_seed[16];
	vole_sender *vs;
	ot_block	delta;
	ot_block   *K;				/* m: B, then B + D·Δ chunk by chunk */
	psi_chunks	chunks;			/* the D chunks read */
	psi_batches tags;
};

/* ---------------------------------------------------------------- frame */

static mpc_status
get_header(const uint8_t *msg, size_t len, uint8_t type, uint32_t *seq, uint32_t *count)
{
	return mpc_msg_get_header_of(msg, len, RR22_MSG_HELLO, RR22_MSG_TAGS, type, seq, count);
}

/* A flight's single message (see mpc_msg_expect_of). */
static mpc_status
expect(const uint8_t *msg, size_t len, uint8_t type, size_t min_count, size_t max_count,
	   size_t bytes, uint32_t *count)
{
	return mpc_msg_expect_of(msg, len, RR22_MSG_HELLO, RR22_MSG_TAGS, type, min_count, max_count,
							 bytes, count);
}

/* The frame of a message of another module's (the VOLE's) exact type. */
static mpc_status
get_inner_header(const uint8_t *msg, size_t len, uint8_t type, uint32_t *seq, uint32_t *count)
{
	return mpc_msg_get_header_of(msg, len, 0, UINT8_MAX, type, seq, count);
}

/* ------------------------------------------------------------- sizes */

size_t
rr22_columns(size_t n_r)
{
	if (n_r == 0 || n_r > RR22_MAX_N)
		return 0;
	return okvs_columns(n_r);
}

size_t
rr22_tag_bytes(size_t n_r, size_t n_s)
{
	return psi_tag_bytes(n_r, n_s);
}

size_t
rr22_hello_bytes(void)
{
	return MPC_MSG_HEADER_BYTES + SHARE_BYTES + vole_hello_bytes();
}

size_t
rr22_base_bytes(void)
{
	return MPC_MSG_HEADER_BYTES + SHARE_BYTES + vole_base_bytes();
}

size_t
rr22_cot_bytes(size_t m)
{
	return MPC_MSG_HEADER_BYTES + 4 + vole_cot_bytes(m);
}

size_t
rr22_trees_bytes(size_t m)
{
	return MPC_MSG_HEADER_BYTES + vole_trees_bytes(m);
}

size_t
rr22_d_bytes(size_t elems)
{
	return MPC_MSG_HEADER_BYTES + 16 * elems;
}

size_t
rr22_tags_bytes(size_t items, size_t tag_bytes)
{
	return psi_tags_frame_bytes(items, 1, tag_bytes);
}

/* --------------------------------------------------------- primitives */

/* The run's keys from both shares and both set sizes. */
static void
derive_keys(const uint8_t r_share[SHARE_BYTES], const uint8_t s_share[SHARE_BYTES],
			size_t n_r, size_t n_s, run_keys *k)
{
	crypto_generichash_blake2b_state h;
	uint8_t		nn[8];
	uint8_t		out[48];

	crypto_put_u32le(nn, (uint32_t) n_r);
	crypto_put_u32le(nn + 4, (uint32_t) n_s);
	crypto_generichash_blake2b_init_salt_personal(&h, NULL, 0, sizeof(out), NULL, personal_seed);
	crypto_generichash_blake2b_update(&h, r_share, SHARE_BYTES);
	crypto_generichash_blake2b_update(&h, s_share, SHARE_BYTES);
	crypto_generichash_blake2b_update(&h, nn, sizeof(nn));
	crypto_generichash_blake2b_final(&h, out, sizeof(out));
	memcpy(k->okvs_base, out, 16);
	memcpy(k->h1_key, out + 16, 16);
	memcpy(k->out_salt, out + 32, 16);
	sodium_memzero(out, sizeof(out));
}

static void
okvs_seed_of_try(const run_keys *k, uint32_t t, uint8_t seed[16])
{
	uint8_t		tb[4];

	crypto_put_u32le(tb, t);
	crypto_generichash_blake2b_salt_personal(seed, 16, tb, sizeof(tb), k->okvs_base, 16,
											 NULL, personal_okvs);
}

/* H1(x) = AES_k1(x) ⊕ x for n items into h (n × 16 bytes). */
static bool
h1_many(const uint8_t key[16], const uint8_t *x, size_t n, uint8_t *h)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	bool		ok = ctx != NULL;

	for (size_t first = 0; ok && first < n; first += BLOCK_ITEMS)
	{
		size_t		c = n - first < BLOCK_ITEMS ? n - first : BLOCK_ITEMS;
		int			outl = 0;

		if (first == 0)
			ok = EVP_EncryptInit_ex(ctx, EVP_aes_128_ecb(), NULL, key, NULL) == 1 &&
				EVP_CIPHER_CTX_set_padding(ctx, 0) == 1;
		ok = ok && EVP_EncryptUpdate(ctx, h + 16 * first, &outl, x + 16 * first, (int) (16 * c)) == 1 &&
			outl == (int) (16 * c);
		for (size_t i = 16 * first; ok && i < 16 * (first + c); i++)
			h[i] ^= x[i];
	}
	EVP_CIPHER_CTX_free(ctx);
	return ok;
}

/* H_o(x, v): BLAKE2b-256 of x ‖ v, the run's salt, personal "pgpriv-rr22-out". */
static void
out_hash(const uint8_t salt[16], const uint8_t x[16], const uint8_t v[16], uint8_t out[RR22_OUT_BYTES])
{
	uint8_t		in[32];

	memcpy(in, x, 16);
	memcpy(in + 16, v, 16);
	crypto_generichash_blake2b_salt_personal(out, RR22_OUT_BYTES, in, sizeof(in), NULL, 0,
											 salt, personal_out);
	sodium_memzero(in, sizeof(in));
}

/* ------------------------------------------------------------ receiver */

rr22_receiver *
rr22_receiver_new(const uint8_t *items, size_t n, int nthreads, mpc_status *st)
{
	rr22_receiver *r;

	if (items == NULL || n == 0 || n > RR22_MAX_N)
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
	r->m = rr22_columns(n);
	r->nchunks = (r->m + RR22_CHUNK_ELEMS - 1) / RR22_CHUNK_ELEMS;
	r->nthreads = nthreads < 1 ? 1 : nthreads;
	r->items = malloc(n * RR22_ITEM_BYTES);
	r->vr = vole_receiver_new(r->m, st);
	if (r->items == NULL || r->vr == NULL)
	{
		if (r->items == NULL)
			*st = MPC_NO_MEMORY;
		rr22_receiver_free(r);
		return NULL;
	}
	vole_receiver_set_threads(r->vr, r->nthreads);
	memcpy(r->items, items, n * RR22_ITEM_BYTES);
	randombytes_buf(r->share, sizeof(r->share));
	*st = MPC_OK;
	return r;
}

void
rr22_receiver_free(rr22_receiver *r)
{
	if (r == NULL)
		return;
	crypto_wipe_free(r->items, r->n * RR22_ITEM_BYTES);
	if (r->vr != NULL)
		vole_receiver_free(r->vr);
	crypto_wipe_free(r->D, r->m * sizeof(ot_block));
	crypto_wipe_free(r->out, r->n * RR22_OUT_BYTES);
	psi_tags_free(&r->tags);
	sodium_memzero(r, sizeof(*r));
	free(r);
}

mpc_status
rr22_receiver_hello(rr22_receiver *r, uint8_t *msg, size_t cap, size_t *len)
{
	size_t		vlen = 0;
	mpc_status	st;

	if (r->stage != 0)
		return MPC_BAD_STATE;
	if (cap < rr22_hello_bytes())
		return MPC_BUFFER_TOO_SMALL;
	st = vole_receiver_hello(r->vr, msg + MPC_MSG_HEADER_BYTES + SHARE_BYTES,
							 cap - MPC_MSG_HEADER_BYTES - SHARE_BYTES, &vlen);
	if (st != MPC_OK)
		return st;
	if (vlen != vole_hello_bytes())
		return MPC_CRYPTO_FAILED;
	mpc_msg_put_header(msg, RR22_MSG_HELLO, 0, (uint32_t) r->n);
	memcpy(msg + MPC_MSG_HEADER_BYTES, r->share, SHARE_BYTES);
	*len = rr22_hello_bytes();
	r->stage = 1;
	return MPC_OK;
}

mpc_status
rr22_receiver_base(rr22_receiver *r, const uint8_t *msg, size_t len, size_t max_peer_n,
				   uint8_t *out, size_t cap, size_t *out_len)
{
	uint32_t	count,
				t;
	mpc_status	st;
	psi_batches batches;
	run_keys	keys;
	uint8_t		seed[16];
	uint8_t    *h1 = NULL;
	ot_block   *P = NULL;
	okvs_status os = OKVS_FAILED;
	size_t		vlen = 0;

	if (r->stage != 1)
		return MPC_BAD_STATE;
	st = expect(msg, len, RR22_MSG_BASE, 1, crypto_min_size(max_peer_n, RR22_MAX_N),
				rr22_base_bytes(), &count);
	if (st != MPC_OK)
		return st;
	if (cap < rr22_cot_bytes(r->m))
		return MPC_BUFFER_TOO_SMALL;

	/* P = Encode({(x, H1(x))}), before the VOLE moves: an error leaves r as it was */
	derive_keys(r->share, msg + MPC_MSG_HEADER_BYTES, r->n, count, &keys);
	h1 = malloc(r->n * 16);
	P = malloc(r->m * sizeof(ot_block));
	if (h1 == NULL || P == NULL)
	{
		st = MPC_NO_MEMORY;
		goto fail;
	}
	if (!h1_many(keys.h1_key, r->items, r->n, h1))
	{
		st = MPC_CRYPTO_FAILED;
		goto fail;
	}
	for (t = 0; t < RR22_OKVS_TRIES; t++)
	{
		okvs_seed_of_try(&keys, t, seed);
		os = okvs_encode(seed, r->items, h1, r->n, (uint8_t *) P, NULL);
		if (os != OKVS_FAILED)
			break;
	}
	if (os != OKVS_OK)
	{
		st = os == OKVS_FAILED ? MPC_OUT_OF_RANGE :
			os == OKVS_NO_MEMORY ? MPC_NO_MEMORY : MPC_CRYPTO_FAILED;
		goto fail;
	}
	st = vole_receiver_base(r->vr, msg + MPC_MSG_HEADER_BYTES + SHARE_BYTES,
							len - MPC_MSG_HEADER_BYTES - SHARE_BYTES,
							out + MPC_MSG_HEADER_BYTES + 4, cap - MPC_MSG_HEADER_BYTES - 4, &vlen);
	if (st != MPC_OK)
		goto fail;
	if (vlen != vole_cot_bytes(r->m))
	{
		st = MPC_CRYPTO_FAILED;
		goto fail;
	}
	mpc_msg_put_header(out, RR22_MSG_COT, 0, (uint32_t) r->m);
	crypto_put_u32le(out + MPC_MSG_HEADER_BYTES, t);
	*out_len = rr22_cot_bytes(r->m);

	crypto_wipe_free(h1, r->n * 16);
	r->keys = keys;
	memcpy(r->okvs_seed, seed, sizeof(seed));
	r->D = P;
	psi_batches_init(&batches, count, RR22_TAG_BATCH, 1, rr22_tag_bytes(r->n, count),
					 RR22_ITEM_BYTES);
	/* the outputs are made at the trees (rr22_receiver_trees) */
	psi_tags_init(&r->tags, &batches, NULL, r->n, RR22_OUT_BYTES, NULL);
	sodium_memzero(&keys, sizeof(keys));
	sodium_memzero(seed, sizeof(seed));
	r->stage = 2;
	return MPC_OK;

fail:
	crypto_wipe_free(h1, r->n * 16);
	crypto_wipe_free(P, r->m * sizeof(ot_block));
	sodium_memzero(&keys, sizeof(keys));
	sodium_memzero(seed, sizeof(seed));
	return st;
}

typedef struct recv_out_job
{
	rr22_receiver *r;
	const uint8_t *C;
} recv_out_job;

/* The receiver's outputs H_o(x, Decode(C, x)) for items [begin, end). */
static int
recv_out_range(void *arg, size_t begin, size_t end, size_t *failed)
{
	recv_out_job *job = arg;
	rr22_receiver *r = job->r;
	uint8_t		v[16 * 256];

	for (size_t first = begin; first < end; first += 256)
	{
		size_t		c = end - first < 256 ? end - first : 256;

		if (okvs_decode(r->okvs_seed, r->n, job->C, r->items + 16 * first, c, v) != OKVS_OK)
		{
			*failed = first;
			sodium_memzero(v, sizeof(v));
			return MPC_CRYPTO_FAILED;
		}
		for (size_t k = 0; k < c; k++)
			out_hash(r->keys.out_salt, r->items + 16 * (first + k), v + 16 * k,
					 r->out + RR22_OUT_BYTES * (first + k));
	}
	sodium_memzero(v, sizeof(v));
	return 0;
}

mpc_status
rr22_receiver_trees(rr22_receiver *r, const uint8_t *msg, size_t len)
{
	uint32_t	count;
	mpc_status	st;
	const ot_block *A;
	recv_out_job job;
	size_t		failed = 0;
	int			rc;

	if (r->stage != 2)
		return MPC_BAD_STATE;
	st = expect(msg, len, RR22_MSG_TREES, r->m, r->m, rr22_trees_bytes(r->m), &count);
	if (st != MPC_OK)
		return st;
	if (r->out == NULL && (r->out = crypto_zalloc(r->n * RR22_OUT_BYTES)) == NULL)
		return MPC_NO_MEMORY;
	r->tags.outs = r->out;
	st = vole_receiver_trees(r->vr, msg + MPC_MSG_HEADER_BYTES, len - MPC_MSG_HEADER_BYTES);
	if (st != MPC_OK)
		return st;
	A = vole_receiver_a(r->vr);
	job.r = r;
	job.C = (const uint8_t *) vole_receiver_c(r->vr);
	if (A == NULL || job.C == NULL)
		return MPC_CRYPTO_FAILED;
	rc = crypto_parallel_for(r->n, r->nthreads, recv_out_range, &job, &failed);
	if (rc != 0)
		return (mpc_status) rc;
	/* D = A + P; A and C are no longer needed */
	for (size_t j = 0; j < r->m; j++)
	{
		r->D[j].w[0] ^= A[j].w[0];
		r->D[j].w[1] ^= A[j].w[1];
	}
	vole_receiver_free(r->vr);
	r->vr = NULL;
	crypto_wipe_free(r->items, r->n * RR22_ITEM_BYTES);
	r->items = NULL;
	r->stage = 3;
	return MPC_OK;
}

size_t
rr22_receiver_columns(const rr22_receiver *r)
{
	return r->m;
}

size_t
rr22_receiver_chunks(const rr22_receiver *r)
{
	return r->nchunks;
}

size_t
rr22_receiver_chunk_bytes(const rr22_receiver *r, size_t chunk)
{
	if (chunk >= r->nchunks)
		return 0;
	return rr22_d_bytes(psi_part_items(r->m, RR22_CHUNK_ELEMS, chunk));
}

mpc_status
rr22_receiver_chunk(rr22_receiver *r, size_t chunk, uint8_t *msg, size_t cap, size_t *len)
{
	size_t		cnt;

	if (r->stage != 3)
		return MPC_BAD_STATE;
	if (chunk >= r->nchunks)
		return MPC_BAD_COUNT;
	cnt = psi_part_items(r->m, RR22_CHUNK_ELEMS, chunk);
	if (cap < rr22_d_bytes(cnt))
		return MPC_BUFFER_TOO_SMALL;
	mpc_msg_put_header(msg, RR22_MSG_D, (uint32_t) chunk, (uint32_t) cnt);
	memcpy(msg + MPC_MSG_HEADER_BYTES, r->D + chunk * RR22_CHUNK_ELEMS, 16 * cnt);
	*len = rr22_d_bytes(cnt);
	return MPC_OK;
}

bool
rr22_receiver_outputs_ready(const rr22_receiver *r)
{
	return r->stage == 3;
}

const uint8_t *
rr22_receiver_output(const rr22_receiver *r, size_t i)
{
	if (r->stage != 3 || i >= r->n)
		return NULL;
	return r->out + i * RR22_OUT_BYTES;
}

size_t
rr22_receiver_batches(const rr22_receiver *r)
{
	return r->tags.batches.count;
}

size_t
rr22_receiver_tag_bytes(const rr22_receiver *r)
{
	return r->tags.batches.tag_bytes;
}

mpc_status
rr22_receiver_tags(rr22_receiver *r, const uint8_t *msg, size_t len)
{
	uint32_t	seq,
				count;
	mpc_status	st;

	if (r->stage != 3)
		return MPC_BAD_STATE;
	st = get_header(msg, len, RR22_MSG_TAGS, &seq, &count);
	if (st != MPC_OK)
		return st;
	return psi_tags_take(&r->tags, seq, count, msg, len);
}

bool
rr22_receiver_done(const rr22_receiver *r)
{
	return psi_tags_done(&r->tags);
}

size_t
rr22_receiver_match(const rr22_receiver *r, size_t i)
{
	return psi_tags_match(&r->tags, i);
}

size_t
rr22_receiver_memory(const rr22_receiver *r)
{
	size_t		b = sizeof(*r);

	if (r->items != NULL)
		b += r->n * RR22_ITEM_BYTES;
	if (r->vr != NULL)
		b += vole_receiver_memory(r->vr);
	if (r->D != NULL)
		b += r->m * sizeof(ot_block);
	if (r->out != NULL)
		b += r->n * RR22_OUT_BYTES;
	return b + psi_tags_memory(&r->tags);
}

/* -------------------------------------------------------------- sender */

rr22_sender *
rr22_sender_new(size_t n, int nthreads, mpc_status *st)
{
	rr22_sender *s;

	if (n == 0 || n > RR22_MAX_N)
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
	s->nthreads = nthreads < 1 ? 1 : nthreads;
	psi_batches_init(&s->tags, n, RR22_TAG_BATCH, 1, 0, RR22_ITEM_BYTES);
	s->vs = vole_sender_new(st);
	if (s->vs == NULL)
	{
		free(s);
		return NULL;
	}
	vole_sender_set_threads(s->vs, s->nthreads);
	*st = MPC_OK;
	return s;
}

void
rr22_sender_free(rr22_sender *s)
{
	if (s == NULL)
		return;
	if (s->vs != NULL)
		vole_sender_free(s->vs);
	crypto_wipe_free(s->K, s->m * sizeof(ot_block));
	psi_chunks_free(&s->chunks);
	sodium_memzero(s, sizeof(*s));
	free(s);
}

mpc_status
rr22_sender_hello(rr22_sender *s, const uint8_t *msg, size_t len, size_t max_peer_n,
				  uint8_t *out, size_t cap, size_t *out_len)
{
	uint32_t	count,
				vseq,
				vcount;
	mpc_status	st;
	size_t		m,
				vlen = 0;
	uint8_t		share[SHARE_BYTES];
	const uint8_t *vmsg = msg + MPC_MSG_HEADER_BYTES + SHARE_BYTES;

	if (s->stage != 0)
		return MPC_BAD_STATE;
	st = expect(msg, len, RR22_MSG_HELLO, 1, crypto_min_size(max_peer_n, RR22_MAX_N),
				rr22_hello_bytes(), &count);
	if (st != MPC_OK)
		return st;
	if (cap < rr22_base_bytes())
		return MPC_BUFFER_TOO_SMALL;
	m = rr22_columns(count);
	/* the VOLE's length is the OKVS's, exactly: checked before the VOLE allocates */
	st = get_inner_header(vmsg, vole_hello_bytes(), VOLE_MSG_HELLO, &vseq, &vcount);
	if (st != MPC_OK)
		return st;
	if (vcount != m)
		return MPC_BAD_COUNT;
	if (psi_chunks_init(&s->chunks, m, RR22_CHUNK_ELEMS, rr22_d_bytes) != MPC_OK)
		return MPC_NO_MEMORY;
	st = vole_sender_hello(s->vs, vmsg, vole_hello_bytes(), m,
						   out + MPC_MSG_HEADER_BYTES + SHARE_BYTES,
						   cap - MPC_MSG_HEADER_BYTES - SHARE_BYTES, &vlen);
	if (st == MPC_OK && (vlen != vole_base_bytes() || vole_sender_m(s->vs) != m))
		st = MPC_CRYPTO_FAILED;
	if (st != MPC_OK)
	{
		psi_chunks_free(&s->chunks);
		return st;
	}
	randombytes_buf(share, sizeof(share));
	derive_keys(msg + MPC_MSG_HEADER_BYTES, share, count, s->n, &s->keys);
	mpc_msg_put_header(out, RR22_MSG_BASE, 0, (uint32_t) s->n);
	memcpy(out + MPC_MSG_HEADER_BYTES, share, SHARE_BYTES);
	*out_len = rr22_base_bytes();
	sodium_memzero(share, sizeof(share));

	s->n_r = count;
	s->m = m;
	s->tags.tag_bytes = rr22_tag_bytes(count, s->n);
	s->stage = 1;
	return MPC_OK;
}

size_t
rr22_sender_columns(const rr22_sender *s)
{
	return s->m;
}

mpc_status
rr22_sender_cot(rr22_sender *s, const uint8_t *msg, size_t len,
				uint8_t *out, size_t cap, size_t *out_len)
{
	uint32_t	count,
				t;
	mpc_status	st;
	ot_block   *K;
	const ot_block *B;
	size_t		vlen = 0;

	if (s->stage != 1)
		return MPC_BAD_STATE;
	st = expect(msg, len, RR22_MSG_COT, s->m, s->m, rr22_cot_bytes(s->m), &count);
	if (st != MPC_OK)
		return st;
	t = crypto_get_u32le(msg + MPC_MSG_HEADER_BYTES);
	if (t >= RR22_OKVS_TRIES)
		return MPC_OUT_OF_RANGE;
	if (cap < rr22_trees_bytes(s->m))
		return MPC_BUFFER_TOO_SMALL;
	K = malloc(s->m * sizeof(ot_block));
	if (K == NULL)
		return MPC_NO_MEMORY;
	st = vole_sender_cot(s->vs, msg + MPC_MSG_HEADER_BYTES + 4, len - MPC_MSG_HEADER_BYTES - 4,
						 out + MPC_MSG_HEADER_BYTES, cap - MPC_MSG_HEADER_BYTES, &vlen);
	if (st == MPC_OK && (vlen != vole_trees_bytes(s->m) || (B = vole_sender_b(s->vs)) == NULL))
		st = MPC_CRYPTO_FAILED;
	if (st != MPC_OK)
	{
		free(K);
		return st;
	}
	memcpy(K, B, s->m * sizeof(ot_block));
	s->delta = vole_sender_delta(s->vs);
	vole_sender_free(s->vs);
	s->vs = NULL;
	s->K = K;
	okvs_seed_of_try(&s->keys, t, s->okvs_seed);
	mpc_msg_put_header(out, RR22_MSG_TREES, 0, (uint32_t) s->m);
	*out_len = rr22_trees_bytes(s->m);
	s->stage = 2;
	return MPC_OK;
}

size_t
rr22_sender_chunks(const rr22_sender *s)
{
	return s->chunks.count;
}

mpc_status
rr22_sender_chunk(rr22_sender *s, const uint8_t *msg, size_t len)
{
	uint32_t	seq,
				count;
	mpc_status	st;
	ot_block	d[256];
	const uint8_t *p;
	ot_block   *k;

	if (s->stage != 2)
		return MPC_BAD_STATE;
	st = get_header(msg, len, RR22_MSG_D, &seq, &count);
	if (st != MPC_OK)
		return st;
	st = psi_chunks_accept(&s->chunks, seq, count, len);
	if (st != MPC_OK)
		return st;

	/* K = B + D·Δ over this chunk; D copied to aligned blocks first */
	p = msg + MPC_MSG_HEADER_BYTES;
	k = s->K + (size_t) seq * RR22_CHUNK_ELEMS;
	for (size_t first = 0; first < count; first += 256)
	{
		size_t		c = count - first < 256 ? count - first : 256;

		memcpy(d, p + 16 * first, 16 * c);
		gf128_muladd_const(d, c, s->delta, k + first);
	}
	sodium_memzero(d, sizeof(d));
	return psi_chunks_finish(&s->chunks, seq, MPC_OK);
}

bool
rr22_sender_ready(const rr22_sender *s)
{
	return s->stage == 2 && psi_chunks_complete(&s->chunks);
}

/*
 * F(y) for n items into out (n × 32 bytes), or only the first tag_bytes of
 * each into tags (n × tag_bytes) when out is NULL.
 */
static mpc_status
sender_eval_many(const rr22_sender *s, const uint8_t *ys, size_t n, uint8_t *out, uint8_t *tags)
{
	ot_block   *h = malloc(BLOCK_ITEMS * sizeof(ot_block));
	ot_block   *v = malloc(BLOCK_ITEMS * sizeof(ot_block));
	mpc_status	st = MPC_OK;

	if (h == NULL || v == NULL)
	{
		st = MPC_NO_MEMORY;
		goto done;
	}
	for (size_t first = 0; first < n; first += BLOCK_ITEMS)
	{
		size_t		c = n - first < BLOCK_ITEMS ? n - first : BLOCK_ITEMS;
		const uint8_t *y = ys + 16 * first;

		if (!h1_many(s->keys.h1_key, y, c, (uint8_t *) h) ||
			okvs_decode(s->okvs_seed, s->n_r, (const uint8_t *) s->K, y, c, (uint8_t *) v) != OKVS_OK)
		{
			st = MPC_CRYPTO_FAILED;
			goto done;
		}
		gf128_muladd_const(h, c, s->delta, v);
		for (size_t k = 0; k < c; k++)
		{
			if (out != NULL)
				out_hash(s->keys.out_salt, y + 16 * k, (const uint8_t *) &v[k],
						 out + RR22_OUT_BYTES * (first + k));
			else
			{
				uint8_t		o[RR22_OUT_BYTES];

				out_hash(s->keys.out_salt, y + 16 * k, (const uint8_t *) &v[k], o);
				memcpy(tags + s->tags.tag_bytes * (first + k), o, s->tags.tag_bytes);
				sodium_memzero(o, sizeof(o));
			}
		}
	}

done:
	crypto_wipe_free(h, BLOCK_ITEMS * sizeof(ot_block));
	crypto_wipe_free(v, BLOCK_ITEMS * sizeof(ot_block));
	return st;
}

mpc_status
rr22_sender_eval_batch(const rr22_sender *s, const uint8_t *ys, size_t n, uint8_t *out)
{
	if (!rr22_sender_ready(s))
		return MPC_BAD_STATE;
	if (ys == NULL || out == NULL || n == 0 || n > RR22_MAX_N)
		return MPC_BAD_COUNT;
	return sender_eval_many(s, ys, n, out, NULL);
}

size_t
rr22_sender_batches(const rr22_sender *s)
{
	return s->tags.count;
}

size_t
rr22_sender_tag_bytes(const rr22_sender *s)
{
	return s->tags.tag_bytes;
}

static mpc_status
sender_tags_of(const void *s, const uint8_t *ys, size_t n, uint8_t *tags)
{
	return sender_eval_many(s, ys, n, NULL, tags);
}

mpc_status
rr22_sender_tags(const rr22_sender *s, const uint8_t *ys, size_t batch,
				 uint8_t *msg, size_t cap, size_t *len)
{
	if (!rr22_sender_ready(s))
		return MPC_BAD_STATE;
	return psi_tags_send(&s->tags, RR22_MSG_TAGS, sender_tags_of, s, ys, batch, msg, cap, len);
}

size_t
rr22_sender_memory(const rr22_sender *s)
{
	size_t		b = sizeof(*s) + s->chunks.count;

	if (s->vs != NULL)
		b += vole_sender_memory(s->vs);
	if (s->K != NULL)
		b += s->m * sizeof(ot_block);
	return b;
}

ot_block
rr22_sender_delta(const rr22_sender *s)
{
	return s->delta;
}
