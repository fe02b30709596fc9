/*
 * fuzz_vole.c — libFuzzer harness for the silent VOLE's messages
 * (src/crypto/vole.c over gf128.c and ot.c; pure C, no backend shim).
 *
 * Each input is one message from the other party handed to one step,
 * chosen by the first byte, on state made fresh for the input from a fixed
 * seed (so every input replays exactly); the second byte sizes the VOLE
 * (m = 1..64, so t = 400 trees of depth 1):
 *
 *   hello   vole_sender_hello: the asker's first flight (max_m 64)
 *   base    vole_receiver_base: the owner's base-OT reply, after a real hello
 *   cot     vole_sender_cot: the IKNP u message, after a real hello and
 *           base; if accepted, the owner must have B and a TREES message of
 *           the documented length
 *   trees   vole_receiver_trees: the owner's trees, after a real run up to
 *           them; if accepted, the asker must have A and C
 *
 * The VOLE is semi-honest: a message of the right shape with other bytes
 * is accepted and only makes the outputs wrong, so the checks are on
 * shapes and states, not on C = B + A·Δ.  Every state is made with real
 * base OTs (128 Chou–Orlandi), so this harness is slow per input.
 *
 * Seeds (PGPRIV_FUZZ_GENERATE): the message an honest peer sends at each
 * step.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/vole.h"

#define FUZZ_NAME "fuzz_vole"
#include "fuzz_harness.h"
#include "fuzz_input.h"
#include "fuzz_rng.h"
#include "fuzz_seed.h"

#define MAX_M	64

enum
{
	OP_HELLO,
	OP_BASE,
	OP_COT,
	OP_TREES,
	OP_COUNT
};

typedef struct pair
{
	vole_receiver *r;
	vole_sender *s;
	size_t		m;
	uint8_t    *msg[4];
	size_t		len[4];
} pair;

/* A fresh pair run honestly until the message of step `upto` was made. */
static void
pair_make(pair *p, size_t m, int upto)
{
	mpc_status	st;

	memset(p, 0, sizeof(*p));
	p->m = m;
	p->msg[0] = xmalloc(vole_hello_bytes());
	p->msg[1] = xmalloc(vole_base_bytes());
	p->msg[2] = xmalloc(vole_cot_bytes(m));
	p->msg[3] = xmalloc(vole_trees_bytes(m));
	p->r = vole_receiver_new(m, &st);
	fuzz_must(st, "receiver_new");
	vole_receiver_set_threads(p->r, 1);
	p->s = vole_sender_new(&st);
	fuzz_must(st, "sender_new");
	vole_sender_set_threads(p->s, 1);
	fuzz_must(vole_receiver_hello(p->r, p->msg[0], vole_hello_bytes(), &p->len[0]), "hello");
	if (upto == OP_HELLO)
		return;
	fuzz_must(vole_sender_hello(p->s, p->msg[0], p->len[0], MAX_M, p->msg[1], vole_base_bytes(),
								&p->len[1]), "sender_hello");
	if (upto == OP_BASE)
		return;
	fuzz_must(vole_receiver_base(p->r, p->msg[1], p->len[1], p->msg[2], vole_cot_bytes(m),
								 &p->len[2]), "receiver_base");
	if (upto == OP_COT)
		return;
	fuzz_must(vole_sender_cot(p->s, p->msg[2], p->len[2], p->msg[3], vole_trees_bytes(m),
							  &p->len[3]), "sender_cot");
}

static void
pair_free(pair *p)
{
	vole_receiver_free(p->r);
	vole_sender_free(p->s);
	for (int i = 0; i < 4; i++)
		free(p->msg[i]);
}

static void
generate(const char *dir)
{
	static const char *names[OP_COUNT] = {"hello", "base", "cot", "trees"};
	pair		p;
	uint8_t		head[2] = {0, 20};

	fuzz_rng_seed(1);
	pair_make(&p, 21, OP_TREES);
	for (int op = 0; op < OP_COUNT; op++)
	{
		head[0] = (uint8_t) op;
		fuzz_seed_write(dir, names[op], head, 2, p.msg[op], p.len[op]);
	}
	pair_free(&p);
}

FUZZ_INITIALIZE(generate)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FuzzInput	in = {data, size};
	uint8_t		op = fuzz_byte(&in) % OP_COUNT;
	size_t		m = 1 + fuzz_byte(&in) % MAX_M;
	size_t		len,
				olen = 0;
	uint8_t    *msg = fuzz_rest_copy(&in, &len);
	uint8_t    *out;
	pair		p;
	mpc_status	st;

	fuzz_rng_seed(op);
	switch (op)
	{
		case OP_HELLO:
			{
				vole_sender *s = vole_sender_new(&st);

				out = xmalloc(vole_base_bytes());
				st = vole_sender_hello(s, msg, len, MAX_M, out, vole_base_bytes(), &olen);
				if (st == MPC_OK && (olen != vole_base_bytes() || vole_sender_m(s) == 0 ||
									 vole_sender_m(s) > MAX_M))
					abort();
				if (st != MPC_OK && vole_sender_m(s) != 0)
					abort();
				vole_sender_free(s);
				free(out);
				break;
			}
		case OP_BASE:
			pair_make(&p, m, OP_BASE);
			out = xmalloc(vole_cot_bytes(m));
			st = vole_receiver_base(p.r, msg, len, out, vole_cot_bytes(m), &olen);
			if (st == MPC_OK && olen != vole_cot_bytes(m))
				abort();
			free(out);
			pair_free(&p);
			break;
		case OP_COT:
			pair_make(&p, m, OP_COT);
			out = xmalloc(vole_trees_bytes(m));
			st = vole_sender_cot(p.s, msg, len, out, vole_trees_bytes(m), &olen);
			if (st == MPC_OK && (olen != vole_trees_bytes(m) || vole_sender_b(p.s) == NULL))
				abort();
			if (st != MPC_OK && vole_sender_b(p.s) != NULL)
				abort();
			free(out);
			pair_free(&p);
			break;
		case OP_TREES:
			pair_make(&p, m, OP_TREES);
			st = vole_receiver_trees(p.r, msg, len);
			if (st == MPC_OK && (vole_receiver_a(p.r) == NULL || vole_receiver_c(p.r) == NULL))
				abort();
			if (st != MPC_OK && vole_receiver_a(p.r) != NULL)
				abort();
			pair_free(&p);
			break;
	}
	free(msg);
	return 0;
}
