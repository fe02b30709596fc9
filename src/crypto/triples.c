/*
 * triples.c — Beaver triples by Gilboa multiplication over IKNP correlated
 * OT, AND triples from IKNP random OT (see triples.h).
 *
 * Beaver: c = (a_0 + a_1)(b_0 + b_1) = a_0 b_0 + a_1 b_1 + a_0 b_1 + a_1 b_0.
 * Each cross term a_i·b_j is shared by Gilboa's method (Gilboa, CRYPTO 1999):
 * party j (OT receiver) chooses with the 64 bits of b_j; in OT number k the
 * sender's pair is (x_k, x_k + a_i) and a_i·b_j = Σ_k 2^k (y_k − x_k).  Since
 * OT k is multiplied by 2^k, only its low 64−k bits matter, so the sender's
 * correction τ_k = H(q_k) + a_i − H(q_k ⊕ s) is sent truncated to 64−k bits:
 * 2080 bits (260 bytes) per product instead of 512 bytes.  With the 1024
 * bytes of the IKNP matrix for 64 OTs this is 1284 bytes per direction and
 * 2568 bytes per triple.
 *
 * AND: with random OT the sender's pair (m0, m1) defines a_i := m0 ⊕ m1 and
 * the receiver, choosing b_j, gets m_{b_j} = m0 ⊕ a_i·b_j; so a_i∧b_j is
 * shared as (m0, m_{b_j}) with no second flight.  One random OT per
 * direction, 2 × 16 bytes of u per AND triple.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/bytes.h"
#include "crypto/triples.h"

enum
{
	SETUP_NONE,
	SETUP_STARTED,
	SETUP_RESPONDED,
	SETUP_READY
};

struct mpc_triple_party
{
	int			party;
	int			setup;
	ot_base_sender base;		/* our base-OT sender half (for our ext receiver) */
	ot_ext_sender *snd;			/* we send in the direction a_party · b_peer */
	ot_ext_receiver *rcv;		/* we receive with our b */

	/* the pending Beaver batch */
	size_t		bv_n;			/* 0: none */
	int			bv_responded;
	uint32_t	bv_seq;			/* our receiver batch's sequence number */
	uint64_t   *bv_a,
			   *bv_b,
			   *bv_recv,		/* Σ_k 2^k H(t_k) per product */
			   *bv_send;		/* −Σ_k 2^k H(q_k) per product */

	/* the pending batch of input products (receiver side) */
	size_t		pr_n;
	uint32_t	pr_seq;
	uint64_t   *pr_x,
			   *pr_recv;		/* Σ_k 2^k H(t_k) per product */

	/* the pending AND batch */
	size_t		and_n;
	uint64_t   *and_b,			/* our choices = our b bits */
			   *and_v;			/* our random-OT outputs m_{b} */

	ot_block   *h;				/* 2 × OT_EXT_CHUNK hash scratch */
};

mpc_triple_party *
mpc_triple_party_new(int party)
{
	mpc_triple_party *p;

	if (party != 0 && party != 1)
		return NULL;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	p->party = party;
	p->h = calloc(2 * OT_EXT_CHUNK, sizeof(ot_block));
	if (p->h == NULL)
	{
		free(p);
		return NULL;
	}
	return p;
}

static void
beaver_clear(mpc_triple_party *p)
{
	size_t		n = p->bv_n;

	crypto_wipe_free(p->bv_a, n * 8);
	crypto_wipe_free(p->bv_b, n * 8);
	crypto_wipe_free(p->bv_recv, n * 8);
	crypto_wipe_free(p->bv_send, n * 8);
	p->bv_a = p->bv_b = p->bv_recv = p->bv_send = NULL;
	p->bv_n = 0;
	p->bv_responded = 0;
}

static void
product_clear(mpc_triple_party *p)
{
	crypto_wipe_free(p->pr_x, p->pr_n * 8);
	crypto_wipe_free(p->pr_recv, p->pr_n * 8);
	p->pr_x = p->pr_recv = NULL;
	p->pr_n = 0;
}

static void
and_clear(mpc_triple_party *p)
{
	size_t		words = (p->and_n + 63) / 64;

	crypto_wipe_free(p->and_b, words * 8);
	crypto_wipe_free(p->and_v, words * 8);
	p->and_b = p->and_v = NULL;
	p->and_n = 0;
}

void
mpc_triple_party_free(mpc_triple_party *p)
{
	if (p == NULL)
		return;
	beaver_clear(p);
	and_clear(p);
	product_clear(p);
	ot_ext_sender_free(p->snd);
	ot_ext_receiver_free(p->rcv);
	ot_base_sender_wipe(&p->base);
	crypto_wipe_free(p->h, 2 * OT_EXT_CHUNK * sizeof(ot_block));
	sodium_memzero(p, sizeof(*p));
	free(p);
}

/* ------------------------------------------------------------------ setup */

size_t
mpc_triple_setup_msg1_bytes(void)
{
	return ot_base_msg_a_bytes();
}

size_t
mpc_triple_setup_msg2_bytes(void)
{
	return ot_base_msg_b_bytes(OT_KAPPA);
}

mpc_status
mpc_triple_setup_start(mpc_triple_party *p, uint8_t *msg, size_t cap, size_t *len)
{
	mpc_status	st;

	if (p->setup != SETUP_NONE)
		return MPC_BAD_STATE;
	st = ot_base_sender_start(&p->base, OT_KAPPA, msg, cap, len);
	if (st == MPC_OK)
		p->setup = SETUP_STARTED;
	return st;
}

/* We are the base-OT receiver with our secret IKNP string s. */
mpc_status
mpc_triple_setup_respond(mpc_triple_party *p, const uint8_t *peer, size_t peer_len,
						 uint8_t *msg, size_t cap, size_t *len)
{
	uint8_t		s[OT_KAPPA / 8];
	ot_block	keys[OT_KAPPA];
	mpc_status	st;

	if (p->setup != SETUP_STARTED)
		return MPC_BAD_STATE;
	randombytes_buf(s, sizeof(s));
	st = ot_base_receiver_respond(OT_KAPPA, s, peer, peer_len, msg, cap, len, keys);
	if (st == MPC_OK)
	{
		p->snd = ot_ext_sender_new(s, keys);
		if (p->snd == NULL)
			st = MPC_NO_MEMORY;
		else
			p->setup = SETUP_RESPONDED;
	}
	sodium_memzero(s, sizeof(s));
	sodium_memzero(keys, sizeof(keys));
	return st;
}

mpc_status
mpc_triple_setup_finish(mpc_triple_party *p, const uint8_t *peer, size_t peer_len)
{
	ot_block	keys0[OT_KAPPA],
				keys1[OT_KAPPA];
	mpc_status	st;

	if (p->setup != SETUP_RESPONDED)
		return MPC_BAD_STATE;
	st = ot_base_sender_finish(&p->base, peer, peer_len, keys0, keys1);
	if (st == MPC_OK)
	{
		p->rcv = ot_ext_receiver_new(keys0, keys1);
		if (p->rcv == NULL)
			st = MPC_NO_MEMORY;
		else
			p->setup = SETUP_READY;
		ot_base_sender_wipe(&p->base);
	}
	sodium_memzero(keys0, sizeof(keys0));
	sodium_memzero(keys1, sizeof(keys1));
	return st;
}

/* ----------------------------------------------------------------- Beaver */

/* τ_k sits at bit offset Σ_{i<k}(64−i) = 64k − k(k−1)/2 of a product's 2080 bits. */
#define TAU_WORDS 33			/* 2080 bits rounded up to 64-bit words */

static inline unsigned
tau_offset(unsigned k)
{
	return 64 * k - k * (k - 1) / 2;
}

static inline uint64_t
low_mask(unsigned width)
{
	return width >= 64 ? ~(uint64_t) 0 : (((uint64_t) 1 << width) - 1);
}

/*
 * Gilboa's sender side for one product over `bits` OTs: τ_k = H(q_k) + w −
 * H(q_k ⊕ s) mod 2^(64−k), packed at tau_offset(k) into buf (zeroed by the
 * caller); returns Σ_k 2^k H(q_k), the sender's share being its negation.
 */
static uint64_t
gilboa_corrections(const ot_block *h0, const ot_block *h1, unsigned bits, uint64_t w,
				   uint64_t *buf)
{
	uint64_t	sum = 0;

	for (unsigned k = 0; k < bits; k++)
	{
		unsigned	off = tau_offset(k),
					wd = 64 - k,
					sh = off % 64;
		uint64_t	tau = (h0[k].w[0] + w - h1[k].w[0]) & low_mask(wd);

		sum += h0[k].w[0] << k;
		buf[off / 64] |= tau << sh;
		if (sh + wd > 64)
			buf[off / 64 + 1] |= tau >> (64 - sh);
	}
	return sum;
}

/*
 * Gilboa's receiver side: y (= Σ_k 2^k H(t_k)) plus the corrections of the
 * OTs whose choice bit (bit k of choice) is 1.
 */
static uint64_t
gilboa_apply(const uint64_t *buf, unsigned bits, uint64_t choice, uint64_t y)
{
	for (unsigned k = 0; k < bits; k++)
	{
		unsigned	off = tau_offset(k),
					wd = 64 - k,
					sh = off % 64;
		uint64_t	tau = buf[off / 64] >> sh;
		uint64_t	choose = (uint64_t) 0 - ((choice >> k) & 1);

		if (sh + wd > 64)
			tau |= buf[off / 64 + 1] << (64 - sh);
		y += (tau & choose) << k;
	}
	return y;
}

size_t
mpc_beaver_msg1_bytes(size_t n)
{
	return ot_ext_u_msg_bytes(64 * n);
}

size_t
mpc_beaver_msg2_bytes(size_t n)
{
	return MPC_MSG_HEADER_BYTES + MPC_GILBOA_TAU_BYTES * n;
}

typedef struct gilboa_ctx
{
	mpc_triple_party *p;
	uint8_t    *out;			/* sender: τ payload */
} gilboa_ctx;

/* Receiver: Σ_k 2^k H(t_k) per product; the b-dependent part waits for τ. */
static mpc_status
gilboa_recv_rows(void *arg, size_t first, size_t n, const ot_block *rows)
{
	gilboa_ctx *c = arg;
	mpc_triple_party *p = c->p;
	mpc_status	st = ot_ext_receiver_hash(p->rcv, rows, n, p->h);

	if (st != MPC_OK)
		return st;
	for (size_t j = 0; j < n; j += 64)
	{
		uint64_t	sum = 0;

		for (unsigned k = 0; k < 64; k++)
			sum += p->h[j + k].w[0] << k;
		p->bv_recv[(first + j) / 64] = sum;
	}
	return MPC_OK;
}

/* Sender: x_k = H(q_k), τ_k = x_k + a − H(q_k ⊕ s) mod 2^(64−k). */
static mpc_status
gilboa_send_rows(void *arg, size_t first, size_t n, const ot_block *rows)
{
	gilboa_ctx *c = arg;
	mpc_triple_party *p = c->p;
	ot_block   *h0 = p->h,
			   *h1 = p->h + OT_EXT_CHUNK;
	mpc_status	st = ot_ext_sender_hash(p->snd, rows, n, h0, h1);

	if (st != MPC_OK)
		return st;
	for (size_t j = 0; j < n; j += 64)
	{
		size_t		prod = (first + j) / 64;
		uint64_t	buf[TAU_WORDS] = {0};
		uint64_t	sum = gilboa_corrections(h0 + j, h1 + j, 64, p->bv_a[prod], buf);

		p->bv_send[prod] = (uint64_t) 0 - sum;
		memcpy(c->out + MPC_GILBOA_TAU_BYTES * prod, buf, MPC_GILBOA_TAU_BYTES);
	}
	return MPC_OK;
}

mpc_status
mpc_beaver_start(mpc_triple_party *p, size_t n, uint8_t *msg, size_t cap, size_t *len)
{
	gilboa_ctx	c = {p, NULL};
	mpc_status	st;

	if (p->setup != SETUP_READY || p->bv_n != 0)
		return MPC_BAD_STATE;
	if (n == 0 || n > MPC_BEAVER_MAX_BATCH)
		return MPC_BAD_COUNT;
	if (cap < mpc_beaver_msg1_bytes(n))
		return MPC_BUFFER_TOO_SMALL;
	p->bv_a = malloc(n * 8);
	p->bv_b = malloc(n * 8);
	p->bv_recv = malloc(n * 8);
	p->bv_send = malloc(n * 8);
	p->bv_n = n;
	if (p->bv_a == NULL || p->bv_b == NULL || p->bv_recv == NULL || p->bv_send == NULL)
	{
		beaver_clear(p);
		return MPC_NO_MEMORY;
	}
	randombytes_buf(p->bv_a, n * 8);
	randombytes_buf(p->bv_b, n * 8);
	p->bv_seq = ot_ext_receiver_next_seq(p->rcv);
	/* choice bit 64k + i is bit i of b_k: the little-endian bytes of b */
	st = ot_ext_receiver_extend(p->rcv, MPC_MSG_TRIPLE_U, 64 * n,
								(const uint8_t *) p->bv_b, msg, cap, len,
								gilboa_recv_rows, &c);
	if (st != MPC_OK)
		beaver_clear(p);
	return st;
}

mpc_status
mpc_beaver_respond(mpc_triple_party *p, const uint8_t *peer, size_t peer_len,
				   uint8_t *msg, size_t cap, size_t *len)
{
	gilboa_ctx	c = {p, msg + MPC_MSG_HEADER_BYTES};
	uint32_t	seq = 0;
	size_t		count;
	mpc_status	st;

	if (p->setup != SETUP_READY || p->bv_n == 0 || p->bv_responded)
		return MPC_BAD_STATE;
	if (cap < mpc_beaver_msg2_bytes(p->bv_n))
		return MPC_BUFFER_TOO_SMALL;
	seq = ot_ext_sender_next_seq(p->snd);
	st = ot_ext_sender_extend(p->snd, MPC_MSG_TRIPLE_U, peer, peer_len,
							  64 * p->bv_n, 64 * p->bv_n, &count,
							  gilboa_send_rows, &c);
	if (st != MPC_OK)
		return st;
	mpc_msg_put_header(msg, MPC_MSG_TRIPLE_TAU, seq, (uint32_t) p->bv_n);
	p->bv_responded = 1;
	*len = mpc_beaver_msg2_bytes(p->bv_n);
	return MPC_OK;
}

mpc_status
mpc_beaver_finish(mpc_triple_party *p, const uint8_t *peer, size_t peer_len,
				  uint64_t *a, uint64_t *b, uint64_t *c)
{
	uint32_t	seq,
				count;
	size_t		n = p->bv_n;
	mpc_status	st;

	if (p->setup != SETUP_READY || n == 0 || !p->bv_responded)
		return MPC_BAD_STATE;
	st = mpc_msg_get_header(peer, peer_len, MPC_MSG_TRIPLE_TAU, &seq, &count);
	if (st != MPC_OK)
		return st;
	if (seq != p->bv_seq)
		return MPC_OUT_OF_ORDER;
	if (count != n)
		return MPC_BAD_COUNT;
	if (peer_len != mpc_beaver_msg2_bytes(n))
		return MPC_BAD_LENGTH;

	for (size_t prod = 0; prod < n; prod++)
	{
		uint64_t	buf[TAU_WORDS] = {0};
		uint64_t	bk = p->bv_b[prod];
		uint64_t	y;

		memcpy(buf, peer + MPC_MSG_HEADER_BYTES + MPC_GILBOA_TAU_BYTES * prod,
			   MPC_GILBOA_TAU_BYTES);
		y = gilboa_apply(buf, 64, bk, p->bv_recv[prod]);
		a[prod] = p->bv_a[prod];
		b[prod] = bk;
		c[prod] = p->bv_a[prod] * bk + p->bv_send[prod] + y;
	}
	beaver_clear(p);
	return MPC_OK;
}

/* --------------------------------------------------------- input products */

#define PB MPC_PRODUCT_BITS
#define PTAU_WORDS 25			/* 1552 bits rounded up to 64-bit words */

size_t
mpc_product_msg1_bytes(size_t n)
{
	return ot_ext_u_msg_bytes(PB * n);
}

size_t
mpc_product_msg2_bytes(size_t n)
{
	return MPC_MSG_HEADER_BYTES + MPC_PRODUCT_TAU_BYTES * n;
}

typedef struct product_ctx
{
	mpc_triple_party *p;
	const uint64_t *w;			/* sender: multipliers */
	uint64_t   *share;			/* sender: its shares */
	uint8_t    *out;			/* sender: τ payload */
} product_ctx;

static mpc_status
product_recv_rows(void *arg, size_t first, size_t n, const ot_block *rows)
{
	product_ctx *c = arg;
	mpc_triple_party *p = c->p;
	mpc_status	st = ot_ext_receiver_hash(p->rcv, rows, n, p->h);

	if (st != MPC_OK)
		return st;
	for (size_t j = 0; j < n; j += PB)
	{
		uint64_t	sum = 0;

		for (unsigned k = 0; k < PB; k++)
			sum += p->h[j + k].w[0] << k;
		p->pr_recv[(first + j) / PB] = sum;
	}
	return MPC_OK;
}

/* x_k = H(q_k), τ_k = x_k + w − H(q_k ⊕ s) mod 2^(64−k); share −Σ 2^k x_k. */
static mpc_status
product_send_rows(void *arg, size_t first, size_t n, const ot_block *rows)
{
	product_ctx *c = arg;
	mpc_triple_party *p = c->p;
	ot_block   *h0 = p->h,
			   *h1 = p->h + OT_EXT_CHUNK;
	mpc_status	st = ot_ext_sender_hash(p->snd, rows, n, h0, h1);

	if (st != MPC_OK)
		return st;
	for (size_t j = 0; j < n; j += PB)
	{
		size_t		prod = (first + j) / PB;
		uint64_t	buf[PTAU_WORDS] = {0};
		uint64_t	sum = gilboa_corrections(h0 + j, h1 + j, PB, c->w[prod], buf);

		c->share[prod] = (uint64_t) 0 - sum;
		memcpy(c->out + MPC_PRODUCT_TAU_BYTES * prod, buf, MPC_PRODUCT_TAU_BYTES);
	}
	return MPC_OK;
}

mpc_status
mpc_product_receive_start(mpc_triple_party *p, size_t n, const uint64_t *x,
						  uint8_t *msg, size_t cap, size_t *len)
{
	product_ctx c = {p, NULL, NULL, NULL};
	uint8_t    *choices;
	mpc_status	st;

	if (p->setup != SETUP_READY || p->pr_n != 0)
		return MPC_BAD_STATE;
	if (n == 0 || n > MPC_PRODUCT_MAX_BATCH)
		return MPC_BAD_COUNT;
	if (cap < mpc_product_msg1_bytes(n))
		return MPC_BUFFER_TOO_SMALL;
	for (size_t i = 0; i < n; i++)
		if (x[i] >> PB != 0)
			return MPC_OUT_OF_RANGE;
	p->pr_x = malloc(n * 8);
	p->pr_recv = malloc(n * 8);
	p->pr_n = n;
	/* choice bit PB·i + k is bit k of x_i: the low 4 little-endian bytes of x_i */
	choices = malloc(n * (PB / 8));
	if (p->pr_x == NULL || p->pr_recv == NULL || choices == NULL)
	{
		free(choices);
		product_clear(p);
		return MPC_NO_MEMORY;
	}
	memcpy(p->pr_x, x, n * 8);
	for (size_t i = 0; i < n; i++)
		memcpy(choices + (PB / 8) * i, &x[i], PB / 8);
	p->pr_seq = ot_ext_receiver_next_seq(p->rcv);
	st = ot_ext_receiver_extend(p->rcv, MPC_MSG_PRODUCT_U, PB * n, choices, msg, cap, len,
								product_recv_rows, &c);
	crypto_wipe_free(choices, n * (PB / 8));
	if (st != MPC_OK)
		product_clear(p);
	return st;
}

mpc_status
mpc_product_send(mpc_triple_party *p, const uint8_t *peer, size_t peer_len,
				 size_t n, const uint64_t *w,
				 uint8_t *msg, size_t cap, size_t *len, uint64_t *share)
{
	product_ctx c = {p, w, share, msg + MPC_MSG_HEADER_BYTES};
	uint32_t	seq;
	size_t		count;
	mpc_status	st;

	if (p->setup != SETUP_READY)
		return MPC_BAD_STATE;
	if (n == 0 || n > MPC_PRODUCT_MAX_BATCH)
		return MPC_BAD_COUNT;
	if (cap < mpc_product_msg2_bytes(n))
		return MPC_BUFFER_TOO_SMALL;
	seq = ot_ext_sender_next_seq(p->snd);
	st = ot_ext_sender_extend(p->snd, MPC_MSG_PRODUCT_U, peer, peer_len, PB * n, PB * n, &count,
							  product_send_rows, &c);
	if (st != MPC_OK)
		return st;
	mpc_msg_put_header(msg, MPC_MSG_PRODUCT_TAU, seq, (uint32_t) n);
	*len = mpc_product_msg2_bytes(n);
	return MPC_OK;
}

mpc_status
mpc_product_receive_finish(mpc_triple_party *p, const uint8_t *peer, size_t peer_len,
						   uint64_t *share)
{
	uint32_t	seq,
				count;
	size_t		n = p->pr_n;
	mpc_status	st;

	if (p->setup != SETUP_READY || n == 0)
		return MPC_BAD_STATE;
	st = mpc_msg_get_header(peer, peer_len, MPC_MSG_PRODUCT_TAU, &seq, &count);
	if (st != MPC_OK)
		return st;
	if (seq != p->pr_seq)
		return MPC_OUT_OF_ORDER;
	if (count != n)
		return MPC_BAD_COUNT;
	if (peer_len != mpc_product_msg2_bytes(n))
		return MPC_BAD_LENGTH;
	for (size_t prod = 0; prod < n; prod++)
	{
		uint64_t	buf[PTAU_WORDS] = {0};

		memcpy(buf, peer + MPC_MSG_HEADER_BYTES + MPC_PRODUCT_TAU_BYTES * prod,
			   MPC_PRODUCT_TAU_BYTES);
		share[prod] = gilboa_apply(buf, PB, p->pr_x[prod], p->pr_recv[prod]);
	}
	product_clear(p);
	return MPC_OK;
}

/* -------------------------------------------------------------------- AND */

size_t
mpc_and_msg_bytes(size_t n)
{
	return ot_ext_u_msg_bytes(n);
}

typedef struct and_ctx
{
	mpc_triple_party *p;
	uint64_t   *a;				/* sender: m0 ⊕ m1 */
	uint64_t   *m0;				/* sender: m0 (into c, finished later) */
} and_ctx;

/* Pack bit 0 of h[k].w[0] for rows first..first+n (first is a multiple of 64). */
static void
pack_lsb(const ot_block *h, size_t first, size_t n, uint64_t *out)
{
	for (size_t j = 0; j < n; j += 64)
	{
		uint64_t	word = 0;
		size_t		lim = n - j < 64 ? n - j : 64;

		for (size_t k = 0; k < lim; k++)
			word |= (h[j + k].w[0] & 1) << k;
		out[(first + j) / 64] = word;
	}
}

static mpc_status
and_recv_rows(void *arg, size_t first, size_t n, const ot_block *rows)
{
	and_ctx    *c = arg;
	mpc_status	st = ot_ext_receiver_hash(c->p->rcv, rows, n, c->p->h);

	if (st == MPC_OK)
		pack_lsb(c->p->h, first, n, c->p->and_v);
	return st;
}

static mpc_status
and_send_rows(void *arg, size_t first, size_t n, const ot_block *rows)
{
	and_ctx    *c = arg;
	ot_block   *h0 = c->p->h,
			   *h1 = c->p->h + OT_EXT_CHUNK;
	mpc_status	st = ot_ext_sender_hash(c->p->snd, rows, n, h0, h1);

	if (st != MPC_OK)
		return st;
	pack_lsb(h0, first, n, c->m0);
	pack_lsb(h1, first, n, c->a);
	for (size_t j = 0; j < n; j += 64)
		c->a[(first + j) / 64] ^= c->m0[(first + j) / 64];
	return MPC_OK;
}

mpc_status
mpc_and_start(mpc_triple_party *p, size_t n, uint8_t *msg, size_t cap, size_t *len)
{
	and_ctx		c = {p, NULL, NULL};
	size_t		words = (n + 63) / 64;
	mpc_status	st;

	if (p->setup != SETUP_READY || p->and_n != 0)
		return MPC_BAD_STATE;
	if (n == 0 || n > MPC_AND_MAX_BATCH)
		return MPC_BAD_COUNT;
	if (cap < mpc_and_msg_bytes(n))
		return MPC_BUFFER_TOO_SMALL;
	p->and_b = calloc(words, 8);
	p->and_v = calloc(words, 8);
	p->and_n = n;
	if (p->and_b == NULL || p->and_v == NULL)
	{
		and_clear(p);
		return MPC_NO_MEMORY;
	}
	randombytes_buf(p->and_b, words * 8);
	if (n % 64 != 0)
		p->and_b[words - 1] &= ((uint64_t) 1 << (n % 64)) - 1;
	st = ot_ext_receiver_extend(p->rcv, MPC_MSG_AND_U, n, (const uint8_t *) p->and_b,
								msg, cap, len, and_recv_rows, &c);
	if (st != MPC_OK)
		and_clear(p);
	return st;
}

mpc_status
mpc_and_finish(mpc_triple_party *p, const uint8_t *peer, size_t peer_len,
			   uint64_t *a, uint64_t *b, uint64_t *c)
{
	size_t		n = p->and_n,
				words = (n + 63) / 64,
				count;
	and_ctx		ctx = {p, a, c};
	mpc_status	st;

	if (p->setup != SETUP_READY || n == 0)
		return MPC_BAD_STATE;
	st = ot_ext_sender_extend(p->snd, MPC_MSG_AND_U, peer, peer_len, n, n, &count,
							  and_send_rows, &ctx);
	if (st != MPC_OK)
		return st;
	/* c_i = a_i∧b_i ⊕ (share of a_i∧b_peer = m0) ⊕ (share of a_peer∧b_i = m_b) */
	for (size_t w = 0; w < words; w++)
	{
		uint64_t	mask = (w == words - 1 && n % 64 != 0)
			? ((uint64_t) 1 << (n % 64)) - 1 : ~(uint64_t) 0;

		a[w] &= mask;
		b[w] = p->and_b[w];
		c[w] = ((a[w] & b[w]) ^ c[w] ^ p->and_v[w]) & mask;
	}
	and_clear(p);
	return MPC_OK;
}
