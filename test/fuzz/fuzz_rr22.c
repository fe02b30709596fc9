/*
 * fuzz_rr22.c — libFuzzer harness for the RR22 PSI's messages
 * (src/crypto/rr22.c over okvs.c and the silent VOLE of vole.c; pure C, no
 * backend shim).
 *
 * Each input is one message from the other party handed to one step,
 * chosen by the first byte, on state made fresh for the input from a fixed
 * seed (so every input replays exactly); the next two bytes size the sets
 * (1..64 items each: one D chunk and one tag batch):
 *
 *   hello   rr22_sender_hello: the receiver's first flight
 *   base    rr22_receiver_base: the sender's reply, after a real hello
 *   cot     rr22_sender_cot: the receiver's VOLE flight, after a real base
 *   trees   rr22_receiver_trees: the sender's VOLE trees, after a real COT
 *   d       rr22_sender_chunk: a D chunk, after real trees; if accepted,
 *           the sender must be ready and evaluate
 *   tags    rr22_receiver_tags: a TAGS batch, after a real run up to the
 *           tags; if accepted, every match must index the sender's set
 *
 * Every state is made with real base OTs (the VOLE's 128 Chou–Orlandi), so
 * this harness is slow per input.
 *
 * Seeds (PGPRIV_FUZZ_GENERATE): the message an honest peer sends at each
 * step.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/rr22.h"

#define FUZZ_NAME "fuzz_rr22"
#include "fuzz_harness.h"
#include "fuzz_input.h"
#include "fuzz_rng.h"
#include "fuzz_seed.h"

#define MAX_ITEMS	64

enum
{
	OP_HELLO,
	OP_BASE,
	OP_COT,
	OP_TREES,
	OP_D,
	OP_TAGS,
	OP_COUNT
};

/* A pair and the honest messages made so far. */
typedef struct pair
{
	rr22_receiver *r;
	rr22_sender *s;
	uint8_t		xs[MAX_ITEMS * 16];
	uint8_t		ys[MAX_ITEMS * 16];
	size_t		m;
	uint8_t    *msg[OP_TAGS];	/* the honest message step op reads, op < OP_TAGS */
	size_t		len[OP_TAGS];
} pair;

/*
 * A fresh pair run honestly up to the step that reads op's message: its
 * message is then in the pair too (the seed), not yet consumed.
 */
static void
pair_make(pair *p, size_t nx, size_t ny, int op)
{
	mpc_status	st;

	memset(p, 0, sizeof(*p));
	fuzz_psi_sets(p->xs, nx, p->ys, ny);
	p->r = rr22_receiver_new(p->xs, nx, 1, &st);
	fuzz_must(st, "receiver_new");
	p->s = rr22_sender_new(ny, 1, &st);
	fuzz_must(st, "sender_new");
	p->m = rr22_receiver_columns(p->r);
	p->msg[OP_HELLO] = xmalloc(rr22_hello_bytes());
	p->msg[OP_BASE] = xmalloc(rr22_base_bytes());
	p->msg[OP_COT] = xmalloc(rr22_cot_bytes(p->m));
	p->msg[OP_TREES] = xmalloc(rr22_trees_bytes(p->m));
	p->msg[OP_D] = xmalloc(rr22_d_bytes(RR22_CHUNK_ELEMS));
	fuzz_must(rr22_receiver_hello(p->r, p->msg[OP_HELLO], rr22_hello_bytes(), &p->len[OP_HELLO]), "hello");
	if (op == OP_HELLO)
		return;
	fuzz_must(rr22_sender_hello(p->s, p->msg[OP_HELLO], p->len[OP_HELLO], MAX_ITEMS, p->msg[OP_BASE],
								rr22_base_bytes(), &p->len[OP_BASE]), "sender_hello");
	if (op == OP_BASE)
		return;
	fuzz_must(rr22_receiver_base(p->r, p->msg[OP_BASE], p->len[OP_BASE], MAX_ITEMS, p->msg[OP_COT],
								 rr22_cot_bytes(p->m), &p->len[OP_COT]), "receiver_base");
	if (op == OP_COT)
		return;
	fuzz_must(rr22_sender_cot(p->s, p->msg[OP_COT], p->len[OP_COT], p->msg[OP_TREES], rr22_trees_bytes(p->m),
							  &p->len[OP_TREES]), "sender_cot");
	if (op == OP_TREES)
		return;
	fuzz_must(rr22_receiver_trees(p->r, p->msg[OP_TREES], p->len[OP_TREES]), "receiver_trees");
	fuzz_must(rr22_receiver_chunk(p->r, 0, p->msg[OP_D], rr22_d_bytes(RR22_CHUNK_ELEMS), &p->len[OP_D]), "receiver_chunk");
	if (op == OP_D)
		return;
	fuzz_must(rr22_sender_chunk(p->s, p->msg[OP_D], p->len[OP_D]), "sender_chunk");
}

static void
pair_free(pair *p)
{
	rr22_receiver_free(p->r);
	rr22_sender_free(p->s);
	for (int op = 0; op < OP_TAGS; op++)
		free(p->msg[op]);
}

static void
generate(const char *dir)
{
	static const char *const names[OP_COUNT] = {"hello", "base", "cot", "trees", "d", "tags"};

	for (int op = 0; op < OP_COUNT; op++)
	{
		pair		p;
		uint8_t		head[3] = {(uint8_t) op, 20, 30};
		uint8_t    *msg;
		size_t		len = 0;

		fuzz_rng_seed((uint64_t) op);
		pair_make(&p, 21, 31, op);
		if (op == OP_TAGS)
		{
			msg = xmalloc(rr22_tags_bytes(31, rr22_sender_tag_bytes(p.s)));
			fuzz_must(rr22_sender_tags(p.s, p.ys, 0, msg, rr22_tags_bytes(31, rr22_sender_tag_bytes(p.s)),
									   &len), "sender_tags");
			fuzz_seed_write(dir, names[op], head, 3, msg, len);
			free(msg);
		}
		else
			fuzz_seed_write(dir, names[op], head, 3, p.msg[op], p.len[op]);
		pair_free(&p);
	}
}

FUZZ_INITIALIZE(generate)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_psi_case c;
	pair		p;
	mpc_status	st;
	size_t		olen = 0;

	fuzz_psi_open(&c, data, size, OP_COUNT, MAX_ITEMS);
	pair_make(&p, c.nx, c.ny, c.op);
	switch (c.op)
	{
		case OP_HELLO:
			st = rr22_sender_hello(p.s, c.msg, c.len, MAX_ITEMS, p.msg[OP_BASE], rr22_base_bytes(), &olen);
			if (st == MPC_OK && (olen != rr22_base_bytes() || rr22_sender_columns(p.s) == 0 ||
								 rr22_sender_chunks(p.s) == 0))
				abort();
			break;
		case OP_BASE:
			st = rr22_receiver_base(p.r, c.msg, c.len, MAX_ITEMS, p.msg[OP_COT], rr22_cot_bytes(p.m), &olen);
			if (st == MPC_OK && olen != rr22_cot_bytes(p.m))
				abort();
			break;
		case OP_COT:
			st = rr22_sender_cot(p.s, c.msg, c.len, p.msg[OP_TREES], rr22_trees_bytes(p.m), &olen);
			if (st == MPC_OK && olen != rr22_trees_bytes(p.m))
				abort();
			break;
		case OP_TREES:
			st = rr22_receiver_trees(p.r, c.msg, c.len);
			if ((st == MPC_OK) != rr22_receiver_outputs_ready(p.r))
				abort();
			break;
		case OP_D:
			st = rr22_sender_chunk(p.s, c.msg, c.len);
			if (st == MPC_OK)
			{
				uint8_t		ev[RR22_OUT_BYTES];

				if (!rr22_sender_ready(p.s) || rr22_sender_eval_batch(p.s, p.ys, 1, ev) != MPC_OK)
					abort();
			}
			break;
		case OP_TAGS:
			st = rr22_receiver_tags(p.r, c.msg, c.len);
			if (st == MPC_OK)
				FUZZ_CHECK_MATCHES(rr22_receiver_done, rr22_receiver_match, p.r, c.nx, c.ny);
			break;
	}
	pair_free(&p);
	free(c.msg);
	return 0;
}
