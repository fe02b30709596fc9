/*
 * fuzz_harness.h — what the pure-C harnesses of the two-party engines share
 * (fuzz_kkrt, fuzz_rr22, fuzz_vole, fuzz_mpc, fuzz_pir): allocation that
 * aborts, the rest of an input as an exact-size copy, the honest steps that
 * must not fail, and the fixed item sets of the PSI harnesses.
 *
 * Construction.  xmalloc never returns NULL (an allocation failure is an
 * abort, which libFuzzer reports).  fuzz_rest_copy puts the message under
 * test in a heap block of exactly its length, so that AddressSanitizer
 * catches a decoder reading one byte past it.  fuzz_must aborts, naming the
 * harness (FUZZ_NAME, defined before including this header where fuzz_must
 * is used) and the step, when a step of the honest run that sets up the
 * state fails: that is a bug, not a finding about the input.
 * fuzz_psi_open splits the input of a PSI harness into the step, the two
 * set sizes and the message, and reseeds the RNG for it.  fuzz_items makes
 * n distinct 16-byte items, i in the first bytes and tag in the rest, so two
 * sets made with the same tag share their first min(n_x, n_y) items
 * (fuzz_psi_sets, the sets of the PSI harnesses).  FUZZ_CHECK_MATCHES aborts
 * when an accepted TAGS batch left a receiver's match pointing outside the
 * sender's set.
 * FUZZ_INITIALIZE(generate) defines the LLVMFuzzerInitialize of a harness
 * whose only set-up is the seeded RNG and its seeds (fuzz_rng.h and
 * fuzz_seed.h included before it is used).
 *
 * Security model: none; test code only, never linked into the extension.
 * Header-only (it includes fuzz_input.h and fuzz_rng.h).
 */
#ifndef PGPRIV_FUZZ_HARNESS_H
#define PGPRIV_FUZZ_HARNESS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_input.h"
#include "fuzz_rng.h"

static inline void *
xmalloc(size_t n)
{
	void	   *p = malloc(n > 0 ? n : 1);

	if (p == NULL)
		abort();
	return p;
}

/* The rest of the input as an exact-size heap copy (caught when read past). */
static inline uint8_t *
fuzz_rest_copy(FuzzInput *in, size_t *len)
{
	const uint8_t *p = fuzz_rest(in, len);
	uint8_t    *c = xmalloc(*len);

	if (*len > 0)
		memcpy(c, p, *len);
	return c;
}

/* n items: item i is i's bytes, then tag to the end of the 16. */
static inline void
fuzz_items(uint8_t *out, size_t n, uint8_t tag)
{
	for (size_t i = 0; i < n; i++)
	{
		memset(out + 16 * i, tag, 16);
		memcpy(out + 16 * i, &i, sizeof(i));
	}
}

/* The receiver's nx and the sender's ny items: the first min(nx, ny) match. */
static inline void
fuzz_psi_sets(uint8_t *xs, size_t nx, uint8_t *ys, size_t ny)
{
	fuzz_items(xs, nx, 0xa1);
	fuzz_items(ys, ny, 0xa1);
}

/* One input of a PSI harness, as fuzz_psi_open splits it. */
typedef struct fuzz_psi_case
{
	uint8_t		op;				/* the step under test */
	size_t		nx;				/* the receiver's set size */
	size_t		ny;				/* the sender's set size */
	uint8_t    *msg;			/* the message, an exact-size copy to free */
	size_t		len;
} fuzz_psi_case;

/*
 * Split a PSI harness's input: the step (the first byte modulo count), the
 * receiver's and the sender's set sizes (1..max each), then the message;
 * and restart the RNG from the step, so that the input replays exactly.
 */
static inline void
fuzz_psi_open(fuzz_psi_case *c, const uint8_t *data, size_t size, int count, size_t max)
{
	FuzzInput	in = {data, size};

	c->op = fuzz_byte(&in) % count;
	c->nx = 1 + fuzz_byte(&in) % max;
	c->ny = 1 + fuzz_byte(&in) % max;
	c->msg = fuzz_rest_copy(&in, &c->len);
	fuzz_rng_seed(c->op);
}

/*
 * After an accepted TAGS batch: receiver r is done, and each of its nx
 * matches (match(r, i), SIZE_MAX for none) indexes the sender's ny items.
 */
#define FUZZ_CHECK_MATCHES(done, match, r, nx, ny) \
	do { \
		if (!done(r)) \
			abort(); \
		for (size_t fuzz_i_ = 0; fuzz_i_ < (nx); fuzz_i_++) \
		{ \
			size_t		fuzz_m_ = match((r), fuzz_i_); \
\
			if (fuzz_m_ != SIZE_MAX && fuzz_m_ >= (ny)) \
				abort(); \
		} \
	} while (0)

/* LLVMFuzzerInitialize for a harness set up by the RNG and its seeds alone. */
#define FUZZ_INITIALIZE(generate) \
	int \
	LLVMFuzzerInitialize(int *argc, char ***argv) \
	{ \
		(void) argc; \
		(void) argv; \
		fuzz_rng_install(); \
		fuzz_seed_generate(generate); \
		return 0; \
	}

#ifdef FUZZ_NAME
/* An honest step that set-up depends on: its failure aborts. */
static inline void
fuzz_must(mpc_status st, const char *what)
{
	if (st != MPC_OK)
	{
		fprintf(stderr, FUZZ_NAME ": honest %s failed: %s\n", what, mpc_status_reason(st));
		abort();
	}
}
#endif

#endif
