/*
 * psi_pair.h — what the two-party PSI test programs share (test_kkrt for
 * KKRT16, test_rr22 for RR22): the item sets, the plaintext model of the
 * intersection, and the drivers of the two parallel flights (the receiver's
 * chunks into the sender, the sender's tag batches), both parties in one
 * process.  Header-only, like tap.h and ot_pair.h.
 *
 * Construction.  Items are 16-byte strings from a ChaCha20 stream keyed by
 * a tag and a per-program domain byte (PSI_ITEMS_DOMAIN, defined before
 * including this header), not from libsodium's randombytes, so making a set
 * does not shift a seeded transcript.  make_sets gives the receiver's xs and
 * the sender's ys `common` shared items, the sender's order rotated so that
 * matches are not aligned; psi_sets_make allocates such sets and the
 * receiver's match array for one run.  The reference intersection is a sorted copy of
 * ys and binary search — an independent computation, never the code under
 * test.
 *
 * PSI_PAIR_FLIGHTS(prefix, batch) defines psi_ctx, psi_flight (one of
 * the two parallel flights, run through crypto_parallel_for) and
 * psi_keep_or_free for a protocol whose API is named prefix_receiver_chunk,
 * prefix_sender_chunk, prefix_sender_tags, ... (kkrt.h and rr22.h share
 * that shape); a flight keeps every message it makes, for the caller to
 * hash, scan or free.
 *
 * Security model: none of its own; test code only (plain malloc, no wiping).
 */
#ifndef PGPRIV_TEST_PSI_PAIR_H
#define PGPRIV_TEST_PSI_PAIR_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#ifndef PSI_ITEMS_DOMAIN
#error "define PSI_ITEMS_DOMAIN (the item stream's domain byte) before including psi_pair.h"
#endif

/* n items of the stream of tag */
static void
make_items(uint8_t *out, size_t n, uint64_t tag)
{
	uint8_t		key[32] = {0};
	uint8_t		nonce[8] = {0};

	memcpy(key, &tag, sizeof(tag));
	key[31] = PSI_ITEMS_DOMAIN;
	crypto_stream_chacha20(out, n * 16, nonce, key);
}

/* xs of nx and ys of ny sharing `common` items (the first of each). */
static void
make_sets(uint8_t *xs, size_t nx, uint8_t *ys, size_t ny, size_t common, uint64_t tag)
{
	make_items(xs, nx, tag * 3 + 1);
	make_items(ys, ny, tag * 3 + 2);
	make_items(xs, common, tag * 3);
	memcpy(ys, xs, common * 16);
	/* shuffle the sender's order by a fixed rotation so matches are not aligned */
	if (ny > 1)
	{
		uint8_t    *tmp = malloc(ny * 16);
		size_t		rot = ny / 3 + 1;

		for (size_t i = 0; i < ny; i++)
			memcpy(tmp + 16 * ((i + rot) % ny), ys + 16 * i, 16);
		memcpy(ys, tmp, ny * 16);
		free(tmp);
	}
}

/* The sets of one run and the receiver's answer: xs, ys and match[nx]. */
typedef struct psi_sets
{
	uint8_t    *xs;
	uint8_t    *ys;
	size_t	   *match;
} psi_sets;

/* make_sets into fresh blocks, with room for the receiver's nx matches */
static void
psi_sets_make(psi_sets *p, size_t nx, size_t ny, size_t common, uint64_t tag)
{
	p->xs = malloc(nx * 16);
	p->ys = malloc(ny * 16);
	p->match = malloc(nx * sizeof(size_t));
	make_sets(p->xs, nx, p->ys, ny, common, tag);
}

static void
psi_sets_free(psi_sets *p)
{
	free(p->xs);
	free(p->ys);
	free(p->match);
}

static int
cmp16(const void *a, const void *b)
{
	return memcmp(a, b, 16);
}

/*
 * The plaintext model: is x in ys, and does match (the receiver's index of
 * x's partner in ys, SIZE_MAX for none) point at it?  Returns how many
 * entries are wrong; *members = the size of the true intersection.
 */
static int
check_against_plain(const uint8_t *xs, size_t nx, const uint8_t *ys, size_t ny,
					const size_t *match, size_t *members)
{
	uint8_t    *sorted = malloc(ny * 16);
	int			bad = 0;

	memcpy(sorted, ys, ny * 16);
	qsort(sorted, ny, 16, cmp16);
	*members = 0;
	for (size_t i = 0; i < nx; i++)
	{
		int			in = bsearch(xs + 16 * i, sorted, ny, 16, cmp16) != NULL;

		if (in)
			(*members)++;
		if (in != (match[i] != SIZE_MAX))
			bad++;
		else if (in && (match[i] >= ny || memcmp(ys + 16 * match[i], xs + 16 * i, 16) != 0))
			bad++;
	}
	free(sorted);
	return bad;
}

/*
 * The two parties of one run and the flight under way: the receiver's
 * chunks into the sender (tags false) or the sender's tag batches (tags
 * true), message i of it into msg[i], its length into len[i].
 * psi_flight_part does messages [begin, end) as crypto_parallel_for wants
 * (on a failure *failed is the index and the status is returned);
 * psi_flight allocates the arrays into *msg and *len (the caller frees them
 * and the messages) and runs the n messages of one flight on threads.
 */
#define PSI_PAIR_FLIGHTS(P, BATCH) \
typedef struct psi_ctx \
{ \
	P##_receiver *r; \
	P##_sender *s; \
	const uint8_t *ys; \
	bool		tags; \
	uint8_t   **msg; \
	size_t	   *len; \
} psi_ctx; \
\
static int \
psi_flight_part(void *arg, size_t begin, size_t end, size_t *failed) \
{ \
	psi_ctx    *c = arg; \
\
	for (size_t i = begin; i < end; i++) \
	{ \
		size_t		cap = c->tags ? P##_tags_bytes(BATCH, P##_sender_tag_bytes(c->s)) \
			: P##_receiver_chunk_bytes(c->r, i); \
		mpc_status	st; \
\
		c->msg[i] = malloc(cap); \
		if (c->tags) \
			st = P##_sender_tags(c->s, c->ys, i, c->msg[i], cap, &c->len[i]); \
		else \
		{ \
			st = P##_receiver_chunk(c->r, i, c->msg[i], cap, &c->len[i]); \
			if (st == MPC_OK) \
				st = P##_sender_chunk(c->s, c->msg[i], c->len[i]); \
		} \
		if (st != MPC_OK) \
		{ \
			*failed = i; \
			return st; \
		} \
	} \
	return 0; \
} \
\
static mpc_status \
psi_flight(psi_ctx *c, bool tags, size_t n, int threads, uint8_t ***msg, size_t **len) \
{ \
	size_t		failed = 0; \
\
	c->tags = tags; \
	c->msg = *msg = calloc(n, sizeof(uint8_t *)); \
	c->len = *len = calloc(n, sizeof(size_t)); \
	return crypto_parallel_for(n, threads, psi_flight_part, c, &failed); \
} \
\
/* hand the states to keep_r/keep_s after a good run, else free them */ \
static void \
psi_keep_or_free(psi_ctx *c, mpc_status st, P##_receiver **keep_r, P##_sender **keep_s) \
{ \
	if (keep_r != NULL && st == MPC_OK) \
		*keep_r = c->r; \
	else \
		P##_receiver_free(c->r); \
	if (keep_s != NULL && st == MPC_OK) \
		*keep_s = c->s; \
	else \
		P##_sender_free(c->s); \
}

#endif
