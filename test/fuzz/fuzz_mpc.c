/*
 * fuzz_mpc.c — libFuzzer harness for the two-party engine's messages, one
 * step at a time (src/crypto/ot.c, triples.c, mpc.c; pure C, no backend
 * shim).
 *
 * Each input is one message from the other party handed to one step,
 * chosen by the first byte, on state made fresh for the input (so every
 * input replays exactly):
 *
 *   header    mpc_msg_get_header for every message type
 *   base_a    ot_base_receiver_respond: the Chou–Orlandi sender's A
 *   base_b    ot_base_sender_finish: the receiver's B_j, after a real start
 *   ext       an IKNP u matrix into a new extension sender (fixed base-OT
 *             keys): ot_rot_sender, ot_chosen_sender, ot_cot_sender,
 *             ot_ext_sender_extend, with the expected count from the input
 *   finish    ot_chosen_receiver_finish, ot_cot_receiver_finish: the
 *             sender's masked messages and corrections
 *   values    mpc_share_accept, mpc_open_receive, mpc_open_bits_receive,
 *             mpc_mul_finish, mpc_dot_finish: shares and openings
 *   sign      mpc_sign_new, then every round of the comparison from the
 *             input (mpc_sign_next up to the last round, mpc_sign_result)
 *   setup     mpc_triple_setup_start, then mpc_triple_setup_respond and
 *             mpc_triple_setup_finish on the peer's base-OT messages
 *
 * The batch steps of triples.c (Beaver, AND, input products) need a party
 * whose base OTs are done, which costs tens of milliseconds to make; they
 * are reached through whole runs in fuzz_mpc_flight instead.  Counts are
 * kept small (the sizes, not the volume, decide what is read).
 *
 * Seeds (PGPRIV_FUZZ_GENERATE): the messages an honest peer sends each
 * step (base-OT A and B, IKNP u for every kind, chosen and correlated OT
 * replies, shares and openings, comparison rounds, triple setup).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/mpc.h"
#include "crypto/ot.h"
#include "crypto/triples.h"

#include "fuzz_harness.h"
#include "fuzz_input.h"
#include "fuzz_rng.h"
#include "fuzz_seed.h"

#define Max(a, b)	((a) > (b) ? (a) : (b))

#define MAX_BASE	8
#define MAX_OTS		300			/* more than 256 rows: two 64-row words and a tail */
#define MAX_VALUES	200

enum
{
	OP_HEADER,
	OP_BASE_A,
	OP_BASE_B,
	OP_EXT,
	OP_FINISH,
	OP_VALUES,
	OP_SIGN,
	OP_SETUP,
	OP_COUNT
};

static uint8_t ext_s[16];
static ot_block ext_keys[OT_KAPPA];

static void *
xcalloc(size_t n)
{
	void	   *p = calloc(n > 0 ? n : 1, 1);

	if (p == NULL)
		abort();
	return p;
}

static void
seed(const char *dir, const char *name, const uint8_t *head, size_t head_len,
	 const uint8_t *msg, size_t len)
{
	fuzz_seed_write(dir, name, head, head_len, msg, len);
}

static void
generate(const char *dir)
{
	size_t		cap = 1 << 20;
	uint8_t    *msg = xmalloc(cap);
	uint8_t    *msg2 = xmalloc(cap);
	size_t		len,
				len2;
	ot_base_sender bs;
	ot_block	k0[OT_KAPPA],
				k1[OT_KAPPA];
	uint8_t		choices[64] = {0x5a, 0xc3, 0x01};
	ot_ext_receiver *r;
	ot_ext_sender *s;
	ot_block   *keys = xmalloc(MAX_OTS * sizeof(ot_block));
	uint64_t	values[MAX_VALUES] = {1, 2, 3};
	uint64_t	mine[MAX_VALUES];

	/* Base OT: A for 3 OTs, and the receiver's B for it. */
	memset(&bs, 0, sizeof(bs));
	if (ot_base_sender_start(&bs, 3, msg, cap, &len) != MPC_OK ||
		ot_base_receiver_respond(3, choices, msg, len, msg2, cap, &len2, k0) != MPC_OK)
		abort();
	seed(dir, "base-a", (const uint8_t[]) {OP_BASE_A, 3, 0x5a}, 3, msg, len);
	seed(dir, "base-b", (const uint8_t[]) {OP_BASE_B, 2}, 2, msg2, len2);
	seed(dir, "header", (const uint8_t[]) {OP_HEADER, MPC_MSG_BASE_A}, 2, msg, len);

	/* IKNP: u for 100 random OTs, then the sender's chosen and correlated replies. */
	randombytes_buf(k0, sizeof(k0));
	randombytes_buf(k1, sizeof(k1));
	r = ot_ext_receiver_new(k0, k1);
	s = ot_ext_sender_new(ext_s, ext_keys);
	if (r == NULL || s == NULL ||
		ot_rot_receiver(r, 100, choices, msg, cap, &len, keys) != MPC_OK)
		abort();
	for (uint8_t kind = 0; kind < 4; kind++)
	{
		char		name[32];

		snprintf(name, sizeof(name), "ext-%u", kind);
		seed(dir, name, (const uint8_t[]) {OP_EXT, kind, 100, 0, 0, 0}, 6, msg, len);
	}
	{
		ot_block   *x0 = xmalloc(100 * sizeof(ot_block));
		uint64_t   *delta = xcalloc(100 * 8);
		uint64_t   *x = xmalloc(100 * 8);

		randombytes_buf(x0, 100 * sizeof(ot_block));
		if (ot_chosen_sender(s, msg, len, 100, x0, x0, msg2, cap, &len2) != MPC_OK)
			abort();
		seed(dir, "finish-chosen", (const uint8_t[]) {OP_FINISH, 0, 100, 0, 0, 0}, 6, msg2, len2);
		if (ot_rot_receiver(r, 100, choices, msg, cap, &len, keys) != MPC_OK ||
			ot_cot_sender(s, msg, len, 100, delta, x, msg2, cap, &len2) != MPC_OK)
			abort();
		seed(dir, "finish-cot", (const uint8_t[]) {OP_FINISH, 1, 100, 0, 0, 0}, 6, msg2, len2);
		free(x0);
		free(delta);
		free(x);
	}
	ot_ext_receiver_free(r);
	ot_ext_sender_free(s);

	/* Shares, openings, multiplications of 3 values. */
	if (mpc_share_input(values, 3, mine, msg, cap, &len) != MPC_OK)
		abort();
	for (uint8_t kind = 0; kind < 5; kind++)
	{
		char		name[32];
		uint8_t		k = kind == 4 ? 1 : 0;

		if (kind == 2 && mpc_open_bits_send(values, 3, msg, cap, &len) != MPC_OK)
			abort();
		if (kind >= 3 && mpc_mul_start(values, values, 3, values, values, msg, cap, &len) != MPC_OK)
			abort();
		snprintf(name, sizeof(name), "values-%u", kind);
		seed(dir, name, (const uint8_t[]) {OP_VALUES, kind, 1, 3, 0, 0, 0, k}, 8, msg, len);
	}

	/* The comparison: the other party's seven rounds for 3 values. */
	{
		uint64_t   *t = xcalloc(mpc_sign_and_triples(3) / 64 * 8);
		mpc_sign   *peer = mpc_sign_new(1, 3, values, t, t, t);
		uint8_t		head[3] = {OP_SIGN, 0, 2};
		size_t		off = 0;
		bool		done = false;

		/* Zero triples do: only the messages' format matters here. */
		if (peer == NULL || mpc_sign_start(peer, msg + 2, cap - 2, &len) != MPC_OK)
			abort();
		while (!done)
		{
			msg[off] = (uint8_t) len;
			msg[off + 1] = (uint8_t) (len >> 8);
			off += 2 + len;
			/* Feed it our own message back: any well-formed one moves it on. */
			if (mpc_sign_next(peer, msg + off - len, len, msg + off + 2, cap - off - 2, &len, &done) != MPC_OK)
				break;
		}
		mpc_sign_free(peer);
		free(t);
		seed(dir, "sign", head, 3, msg, off);
	}

	/* Triple setup: a peer's A, then its B for our A. */
	{
		mpc_triple_party *a = mpc_triple_party_new(0);
		mpc_triple_party *b = mpc_triple_party_new(1);
		size_t		la,
					lb;
		uint8_t    *ma = xmalloc(cap);

		if (mpc_triple_setup_start(a, ma, cap, &la) != MPC_OK ||
			mpc_triple_setup_start(b, msg2, cap, &lb) != MPC_OK ||
			mpc_triple_setup_respond(a, msg2, lb, msg + 3 + la, cap - 3 - la, &len) != MPC_OK)
			abort();
		msg[0] = OP_SETUP;
		msg[1] = (uint8_t) la;
		msg[2] = (uint8_t) (la >> 8);
		memcpy(msg + 3, ma, la);
		seed(dir, "setup", msg, 3 + la + len, NULL, 0);
		mpc_triple_party_free(a);
		mpc_triple_party_free(b);
		free(ma);
	}
	free(msg);
	free(msg2);
	free(keys);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_rng_install();
	randombytes_buf(ext_s, sizeof(ext_s));
	randombytes_buf(ext_keys, sizeof(ext_keys));
	fuzz_seed_generate(generate);
	return 0;
}

static mpc_status
count_rows(void *arg, size_t first, size_t n, const ot_block *rows)
{
	size_t	   *seen = arg;

	if (first != *seen)
	{
		fprintf(stderr, "fuzz_mpc: rows out of order\n");
		abort();
	}
	*seen += n;
	return MPC_OK;
}

static void
op_ext(FuzzInput *in)
{
	uint8_t		kind = fuzz_byte(in) % 4;
	size_t		count = (fuzz_u32(in) % (MAX_OTS + 1));
	ot_ext_sender *s = ot_ext_sender_new(ext_s, ext_keys);
	size_t		len;
	uint8_t    *msg = fuzz_rest_copy(in, &len);
	ot_block   *m0 = xmalloc(Max(count, 1) * sizeof(ot_block));
	ot_block   *m1 = xmalloc(Max(count, 1) * sizeof(ot_block));
	uint64_t   *delta = xcalloc(Max(count, 1) * 8);
	uint64_t   *x = xmalloc(Max(count, 1) * 8);
	size_t		cap = ot_chosen_msg_bytes(Max(count, 1)) + ot_cot_msg_bytes(Max(count, 1));
	uint8_t    *out = xmalloc(cap);
	size_t		olen;
	uint32_t	seq;

	if (s == NULL)
		abort();
	seq = ot_ext_sender_next_seq(s);
	switch (kind)
	{
		case 0:
			if (ot_rot_sender(s, msg, len, count, m0, m1) != MPC_OK &&
				ot_ext_sender_next_seq(s) != seq)
				goto state_changed;
			break;
		case 1:
			if (ot_chosen_sender(s, msg, len, count, m0, m1, out, cap, &olen) == MPC_OK)
			{
				if (olen > cap)
					goto overflow;
			}
			else if (ot_ext_sender_next_seq(s) != seq)
				goto state_changed;
			break;
		case 2:
			if (ot_cot_sender(s, msg, len, count, delta, x, out, cap, &olen) == MPC_OK)
			{
				if (olen > cap)
					goto overflow;
			}
			else if (ot_ext_sender_next_seq(s) != seq)
				goto state_changed;
			break;
		case 3:
			{
				size_t		got = 0;
				size_t		seen = 0;

				if (ot_ext_sender_extend(s, MPC_MSG_EXT_U, msg, len, count, MAX_OTS, &got,
										 count_rows, &seen) == MPC_OK)
				{
					if (seen != got || got > MAX_OTS || (count != 0 && got != count))
					{
						fprintf(stderr, "fuzz_mpc: extension rows do not match its count\n");
						abort();
					}
				}
				else if (ot_ext_sender_next_seq(s) != seq)
					goto state_changed;
				break;
			}
	}
	ot_ext_sender_free(s);
	free(msg);
	free(m0);
	free(m1);
	free(delta);
	free(x);
	free(out);
	return;
state_changed:
	/* ot.h: a message that fails its checks leaves the state untouched. */
	fprintf(stderr, "fuzz_mpc: a refused message advanced the extension\n");
	abort();
overflow:
	fprintf(stderr, "fuzz_mpc: a message longer than its buffer\n");
	abort();
}

static void
op_finish(FuzzInput *in)
{
	uint8_t		kind = fuzz_byte(in) & 1;
	size_t		count = fuzz_u32(in) % (MAX_OTS + 1);
	uint8_t    *choices = xmalloc((count + 7) / 8);
	ot_block   *keys = xmalloc(Max(count, 1) * sizeof(ot_block));
	ot_block   *xs = xmalloc(Max(count, 1) * sizeof(ot_block));
	uint64_t   *y = xmalloc(Max(count, 1) * 8);
	size_t		len;
	uint8_t    *msg;

	randombytes_buf(choices, (count + 7) / 8);
	randombytes_buf(keys, Max(count, 1) * sizeof(ot_block));
	msg = fuzz_rest_copy(in, &len);
	if (kind == 0)
		(void) ot_chosen_receiver_finish(count, choices, keys, msg, len, xs);
	else
		(void) ot_cot_receiver_finish(count, choices, keys, msg, len, y);
	free(choices);
	free(keys);
	free(xs);
	free(y);
	free(msg);
}

static void
op_values(FuzzInput *in)
{
	uint8_t		kind = fuzz_byte(in) % 5;
	int			party = fuzz_byte(in) & 1;
	size_t		n = fuzz_u32(in) % (MAX_VALUES + 1);
	size_t		k = fuzz_byte(in) % (MPC_DOT_MAX_TERMS + 1);
	size_t		words = Max(n * Max(k, 1), 1);
	uint64_t   *mine = xmalloc(words * 8);
	uint64_t   *ta = xmalloc(words * 8);
	uint64_t   *tb = xmalloc(words * 8);
	uint64_t   *tc = xmalloc(words * 8);
	uint64_t   *out = xmalloc(words * 8);
	uint64_t   *w = xmalloc(MPC_DOT_MAX_TERMS * 8);
	uint8_t    *own = xmalloc(mpc_mul_msg_bytes(words));
	size_t		own_len = 0;
	size_t		len;
	uint8_t    *msg;

	randombytes_buf(mine, words * 8);
	randombytes_buf(ta, words * 8);
	randombytes_buf(tb, words * 8);
	randombytes_buf(tc, words * 8);
	randombytes_buf(w, MPC_DOT_MAX_TERMS * 8);
	msg = fuzz_rest_copy(in, &len);
	switch (kind)
	{
		case 0:
			(void) mpc_share_accept(msg, len, n, out);
			break;
		case 1:
			(void) mpc_open_receive(mine, n, msg, len, out);
			break;
		case 2:
			(void) mpc_open_bits_receive(mine, n, msg, len, out);
			break;
		case 3:
			/* Our own message first, as mpc_flight does, then the peer's. */
			if (mpc_mul_start(mine, mine, n, ta, tb, own, mpc_mul_msg_bytes(words), &own_len) == MPC_OK)
				(void) mpc_mul_finish(party, n, ta, tb, tc, own, own_len, msg, len, out);
			break;
		case 4:
			{
				size_t		kk = Max(k, 1);

				if (mpc_dot_start(n, kk, mine, w, ta, tb, own, mpc_mul_msg_bytes(words), &own_len) == MPC_OK)
					(void) mpc_dot_finish(party, n, kk, ta, tb, tc, own, own_len, msg, len, out);
				break;
			}
	}
	free(mine);
	free(ta);
	free(tb);
	free(tc);
	free(out);
	free(w);
	free(own);
	free(msg);
}

static void
op_sign(FuzzInput *in)
{
	int			party = fuzz_byte(in) & 1;
	size_t		n = fuzz_byte(in) % 130 + 1;
	size_t		triples = mpc_sign_and_triples(n);
	size_t		tw = Max(triples / 64, 1);
	uint64_t   *x = xmalloc(n * 8);
	uint64_t   *ta = xmalloc(tw * 8);
	uint64_t   *tb = xmalloc(tw * 8);
	uint64_t   *tc = xmalloc(tw * 8);
	uint64_t   *bits = xmalloc(((n + 63) / 64) * 8);
	mpc_sign   *st;
	uint8_t    *msg;
	size_t		cap,
				len;
	bool		done = false;

	randombytes_buf(x, n * 8);
	randombytes_buf(ta, tw * 8);
	randombytes_buf(tb, tw * 8);
	randombytes_buf(tc, tw * 8);
	st = mpc_sign_new(party, n, x, ta, tb, tc);
	if (st == NULL)
		abort();
	cap = mpc_sign_msg_bytes(st);
	msg = xmalloc(cap);
	if (mpc_sign_start(st, msg, cap, &len) != MPC_OK)
		abort();
	for (int round = 0; round < MPC_SIGN_ROUNDS + 1 && !done; round++)
	{
		size_t		plen;
		const uint8_t *p = fuzz_field(in, &plen);
		uint8_t    *peer;

		if (p == NULL)
			break;
		peer = xmalloc(plen);
		memcpy(peer, p, plen);
		if (mpc_sign_next(st, peer, plen, msg, cap, &len, &done) != MPC_OK)
			round = MPC_SIGN_ROUNDS + 1;
		else if (!done && len > cap)
		{
			fprintf(stderr, "fuzz_mpc: a comparison message longer than its buffer\n");
			abort();
		}
		free(peer);
	}
	(void) mpc_sign_result(st, bits);
	mpc_sign_free(st);
	free(x);
	free(ta);
	free(tb);
	free(tc);
	free(bits);
	free(msg);
}

static void
op_setup(FuzzInput *in)
{
	mpc_triple_party *p = mpc_triple_party_new(fuzz_byte(in) & 1);
	size_t		cap = mpc_triple_setup_msg1_bytes() + mpc_triple_setup_msg2_bytes();
	uint8_t    *out = xmalloc(cap);
	size_t		olen;
	size_t		alen,
				blen;
	const uint8_t *a = fuzz_field(in, &alen);
	const uint8_t *b;
	uint8_t    *ca,
			   *cb;

	if (p == NULL)
		abort();
	if (mpc_triple_setup_start(p, out, cap, &olen) != MPC_OK)
		abort();
	b = fuzz_rest(in, &blen);
	ca = xmalloc(alen);
	cb = xmalloc(blen);
	if (alen > 0)
		memcpy(ca, a, alen);
	if (blen > 0)
		memcpy(cb, b, blen);
	if (mpc_triple_setup_respond(p, ca, alen, out, cap, &olen) == MPC_OK)
		(void) mpc_triple_setup_finish(p, cb, blen);
	mpc_triple_party_free(p);
	free(out);
	free(ca);
	free(cb);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FuzzInput	in = {data, size};
	uint8_t		op = fuzz_byte(&in) % OP_COUNT;

	fuzz_rng_seed(size);
	switch (op)
	{
		case OP_HEADER:
			{
				uint8_t		type = fuzz_byte(&in);
				size_t		len;
				uint8_t    *msg = fuzz_rest_copy(&in, &len);
				uint32_t	seq,
							count;

				(void) mpc_msg_get_header(msg, len, type, &seq, &count);
				free(msg);
				break;
			}
		case OP_BASE_A:
			{
				size_t		count = fuzz_byte(&in) % (MAX_BASE + 1);
				uint8_t		choices[(MAX_BASE + 7) / 8];
				size_t		len;
				uint8_t    *msg;
				size_t		cap = ot_base_msg_b_bytes(Max(count, 1));
				uint8_t    *out = xmalloc(cap);
				size_t		olen;
				ot_block	keys[MAX_BASE];

				choices[0] = fuzz_byte(&in);
				msg = fuzz_rest_copy(&in, &len);
				if (ot_base_receiver_respond(count, choices, msg, len, out, cap, &olen, keys) == MPC_OK &&
					olen > cap)
					abort();
				free(msg);
				free(out);
				break;
			}
		case OP_BASE_B:
			{
				ot_base_sender s;
				size_t		count = fuzz_byte(&in) % MAX_BASE + 1;
				uint8_t		a[64];
				size_t		alen;
				size_t		len;
				uint8_t    *msg;
				ot_block	k0[MAX_BASE],
							k1[MAX_BASE];

				memset(&s, 0, sizeof(s));
				if (ot_base_sender_start(&s, count, a, sizeof(a), &alen) != MPC_OK)
					abort();
				msg = fuzz_rest_copy(&in, &len);
				(void) ot_base_sender_finish(&s, msg, len, k0, k1);
				ot_base_sender_wipe(&s);
				free(msg);
				break;
			}
		case OP_EXT:
			op_ext(&in);
			break;
		case OP_FINISH:
			op_finish(&in);
			break;
		case OP_VALUES:
			op_values(&in);
			break;
		case OP_SIGN:
			op_sign(&in);
			break;
		case OP_SETUP:
			op_setup(&in);
			break;
	}
	return 0;
}
