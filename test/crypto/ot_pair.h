/*
 * ot_pair.h — what the test programs of the two-party engine share
 * (test_mpc, test_gram): allocation that bails out of the TAP run on
 * failure, and an OT-extension sender/receiver pair made through real base
 * OTs, both parties in one process.  Header-only, like tap.h; include it
 * after tap.h.
 */
#ifndef PGPRIV_TEST_OT_PAIR_H
#define PGPRIV_TEST_OT_PAIR_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <sodium.h>

#include "crypto/ot.h"

static void *xmalloc(size_t n) __attribute__((unused));
static void ext_pair(ot_ext_sender **snd, ot_ext_receiver **rcv) __attribute__((unused));

static void *
xmalloc(size_t n)
{
	void	   *p = malloc(n ? n : 1);

	if (p == NULL)
	{
		printf("Bail out! out of memory\n");
		exit(1);
	}
	return p;
}

/* A sender/receiver pair of one extension direction, through base OT. */
static void
ext_pair(ot_ext_sender **snd, ot_ext_receiver **rcv)
{
	ot_base_sender bs;
	uint8_t		s[16];
	uint8_t		ma[64];
	uint8_t    *mb = xmalloc(ot_base_msg_b_bytes(128));
	size_t		la,
				lb;
	ot_block	k0[128],
				k1[128],
				ks[128];

	randombytes_buf(s, sizeof(s));
	if (ot_base_sender_start(&bs, 128, ma, sizeof(ma), &la) != MPC_OK ||
		ot_base_receiver_respond(128, s, ma, la, mb, ot_base_msg_b_bytes(128), &lb, ks) != MPC_OK ||
		ot_base_sender_finish(&bs, mb, lb, k0, k1) != MPC_OK)
	{
		printf("Bail out! base OT failed\n");
		exit(1);
	}
	*snd = ot_ext_sender_new(s, ks);
	*rcv = ot_ext_receiver_new(k0, k1);
	free(mb);
}

#endif
