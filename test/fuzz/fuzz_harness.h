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
 * fuzz_psi_head reads the step and the two set sizes the PSI harnesses
 * start with.  fuzz_items makes n distinct 16-byte items, i in the first
 * bytes and tag in the rest, so two sets made with the same tag share their
 * first min(n_x, n_y) items.
 *
 * Security model: none; test code only, never linked into the extension.
 * Header-only (it includes fuzz_input.h).
 */
#ifndef PGPRIV_FUZZ_HARNESS_H
#define PGPRIV_FUZZ_HARNESS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_input.h"

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

/*
 * The head of a PSI harness's input: the step (the first byte modulo
 * count), then the receiver's and the sender's set sizes (1..max each).
 */
static inline uint8_t
fuzz_psi_head(FuzzInput *in, int count, size_t max, size_t *nx, size_t *ny)
{
	uint8_t		op = fuzz_byte(in) % count;

	*nx = 1 + fuzz_byte(in) % max;
	*ny = 1 + fuzz_byte(in) % max;
	return op;
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
