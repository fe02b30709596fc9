/*
 * fuzz_kkrt.c — libFuzzer harness for the OT-extension PSI's messages
 * (src/crypto/kkrt.c, cuckoo.c; pure C, no backend shim).
 *
 * Each input is one message from the other party handed to one step,
 * chosen by the first byte, on state made fresh for the input from a fixed
 * seed (so every input replays exactly); the next two bytes size the sets
 * (1..64 items each, one U chunk and one tag batch):
 *
 *   hello   kkrt_sender_hello: the receiver's first flight
 *   base    kkrt_receiver_base: the sender's base-OT reply, after a real hello
 *   u       kkrt_sender_chunk: a U chunk, after a real hello and base; if
 *           accepted, the sender must be ready and evaluate
 *   tags    kkrt_receiver_tags: a TAGS batch, after a real run up to the
 *           tags; if accepted, every match must index the sender's set
 *
 * Every state is made with real base OTs (448 Chou–Orlandi), tens of
 * milliseconds, so this harness is slow per input; the decoders it reaches
 * are all in the first bytes of each message.
 *
 * Seeds (PGPRIV_FUZZ_GENERATE): the message an honest peer sends at each
 * step.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/kkrt.h"

#define FUZZ_NAME "fuzz_kkrt"
#include "fuzz_harness.h"
#include "fuzz_input.h"
#include "fuzz_rng.h"
#include "fuzz_seed.h"

#define MAX_ITEMS	64

enum
{
	OP_HELLO,
	OP_BASE,
	OP_U,
	OP_TAGS,
	OP_COUNT
};

typedef struct pair
{
	kkrt_receiver *r;
	kkrt_sender *s;
	uint8_t		xs[MAX_ITEMS * 16];
	uint8_t		ys[MAX_ITEMS * 16];
	uint8_t		hello[128];
	size_t		hello_len;
	uint8_t    *base;
	size_t		base_len;
} pair;

/* A fresh pair run honestly up to `upto` (OP_BASE: hello sent; OP_U: base read; OP_TAGS: chunks). */
static void
pair_make(pair *p, size_t nx, size_t ny, int upto)
{
	mpc_status	st;

	memset(p, 0, sizeof(*p));
	fuzz_psi_sets(p->xs, nx, p->ys, ny);
	p->base = xmalloc(kkrt_base_bytes());
	p->r = kkrt_receiver_new(p->xs, nx, &st);
	fuzz_must(st, "receiver_new");
	p->s = kkrt_sender_new(ny, &st);
	fuzz_must(st, "sender_new");
	fuzz_must(kkrt_receiver_hello(p->r, p->hello, sizeof(p->hello), &p->hello_len), "hello");
	if (upto == OP_BASE)
		return;
	fuzz_must(kkrt_sender_hello(p->s, p->hello, p->hello_len, MAX_ITEMS, p->base,
								kkrt_base_bytes(), &p->base_len), "sender_hello");
	fuzz_must(kkrt_receiver_base(p->r, p->base, p->base_len, MAX_ITEMS), "receiver_base");
	if (upto == OP_U)
		return;
	for (size_t k = 0; k < kkrt_receiver_chunks(p->r); k++)
	{
		size_t		cap = kkrt_receiver_chunk_bytes(p->r, k),
					len;
		uint8_t    *u = xmalloc(cap);

		fuzz_must(kkrt_receiver_chunk(p->r, k, u, cap, &len), "receiver_chunk");
		fuzz_must(kkrt_sender_chunk(p->s, u, len), "sender_chunk");
		free(u);
	}
}

static void
pair_free(pair *p)
{
	kkrt_receiver_free(p->r);
	kkrt_sender_free(p->s);
	free(p->base);
}

static void
generate(const char *dir)
{
	pair		p;
	uint8_t		head[3] = {0, 20, 30};
	size_t		cap,
				len;
	uint8_t    *msg;

	fuzz_rng_seed(1);
	pair_make(&p, 20, 30, OP_TAGS);
	head[0] = OP_HELLO;
	fuzz_seed_write(dir, "hello", head, 3, p.hello, p.hello_len);
	head[0] = OP_BASE;
	fuzz_seed_write(dir, "base", head, 3, p.base, p.base_len);
	pair_free(&p);

	fuzz_rng_seed(2);
	pair_make(&p, 20, 30, OP_U);
	cap = kkrt_receiver_chunk_bytes(p.r, 0);
	msg = xmalloc(cap);
	fuzz_must(kkrt_receiver_chunk(p.r, 0, msg, cap, &len), "receiver_chunk");
	head[0] = OP_U;
	fuzz_seed_write(dir, "u", head, 3, msg, len);
	free(msg);
	pair_free(&p);

	fuzz_rng_seed(3);
	pair_make(&p, 20, 30, OP_TAGS);
	cap = kkrt_tags_bytes(30, kkrt_sender_tag_bytes(p.s));
	msg = xmalloc(cap);
	fuzz_must(kkrt_sender_tags(p.s, p.ys, 0, msg, cap, &len), "sender_tags");
	head[0] = OP_TAGS;
	fuzz_seed_write(dir, "tags", head, 3, msg, len);
	free(msg);
	pair_free(&p);
}

FUZZ_INITIALIZE(generate)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_psi_case c;
	pair		p;
	mpc_status	st;

	fuzz_psi_open(&c, data, size, OP_COUNT, MAX_ITEMS);
	switch (c.op)
	{
		case OP_HELLO:
			{
				uint8_t    *out = xmalloc(kkrt_base_bytes());
				size_t		olen = 0;
				kkrt_sender *s = kkrt_sender_new(c.ny, &st);

				st = kkrt_sender_hello(s, c.msg, c.len, MAX_ITEMS, out, kkrt_base_bytes(), &olen);
				if (st == MPC_OK && (olen != kkrt_base_bytes() || kkrt_sender_chunks(s) == 0))
					abort();
				kkrt_sender_free(s);
				free(out);
				break;
			}
		case OP_BASE:
			pair_make(&p, c.nx, c.ny, OP_BASE);
			st = kkrt_receiver_base(p.r, c.msg, c.len, MAX_ITEMS);
			if (st == MPC_OK && kkrt_receiver_chunks(p.r) == 0)
				abort();
			pair_free(&p);
			break;
		case OP_U:
			pair_make(&p, c.nx, c.ny, OP_U);
			st = kkrt_sender_chunk(p.s, c.msg, c.len);
			if (st == MPC_OK)
			{
				uint8_t		ev[KKRT_HASHES * KKRT_OUT_BYTES];

				if (!kkrt_sender_ready(p.s) || kkrt_sender_eval(p.s, p.ys, ev) != MPC_OK)
					abort();
			}
			pair_free(&p);
			break;
		case OP_TAGS:
			pair_make(&p, c.nx, c.ny, OP_TAGS);
			st = kkrt_receiver_tags(p.r, c.msg, c.len);
			if (st == MPC_OK)
				FUZZ_CHECK_MATCHES(kkrt_receiver_done, kkrt_receiver_match, p.r, c.nx, c.ny);
			pair_free(&p);
			break;
	}
	free(c.msg);
	return 0;
}
