/*
 * test_mpc.c — the two-party engine core (ot.c, triples.c, mpc.c) with both
 * parties in one process.
 *
 * This is a test harness: each party's step writes its message into a
 * buffer and the harness hands that buffer to the other party's next step,
 * in memory.  The real transport (bytea over libpq) comes with the
 * PostgreSQL integration.  Output is TAP, for `prove`.
 *
 * Usage: test_mpc
 */
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/fixprod.h"
#include "crypto/mpc.h"
#include "crypto/ot.h"
#include "crypto/triples.h"

#include "tap.h"
#include "ot_pair.h"

static void *
xcalloc_bytes(size_t n)
{
	void	   *p = calloc(1, n);

	if (p == NULL)
	{
		printf("Bail out! out of memory\n");
		exit(1);
	}
	return p;
}

static uint64_t
rand64(void)
{
	uint64_t	v;

	randombytes_buf(&v, sizeof(v));
	return v;
}

/* Uniform in (−bound, bound). */
static int64_t
rand_signed(int64_t bound)
{
	return (int64_t) (rand64() % (2 * (uint64_t) bound - 1) - ((uint64_t) bound - 1));
}

/* ----------------------------------------------------- wire capture */

/* Everything a party sends, when capturing, to search it for its inputs. */
typedef struct wire_log
{
	uint8_t    *buf;
	size_t		len;
	size_t		cap;
} wire_log;

static wire_log captured[2];
static bool capturing;

static void
sent(int party, const uint8_t *msg, size_t len)
{
	wire_log   *w = &captured[party];

	if (!capturing)
		return;
	if (w->len + len > w->cap)
	{
		w->cap = (w->len + len) * 2;
		w->buf = realloc(w->buf, w->cap);
		if (w->buf == NULL)
		{
			printf("Bail out! out of memory\n");
			exit(1);
		}
	}
	memcpy(w->buf + w->len, msg, len);
	w->len += len;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t	x = *(const uint64_t *) a,
				y = *(const uint64_t *) b;

	return x < y ? -1 : x > y;
}

/* How many byte offsets of the log hold one of the values' 8-byte encodings. */
static size_t
count_occurrences(const wire_log *w, const uint64_t *values, size_t n)
{
	uint64_t   *sorted = xmalloc(n * 8);
	size_t		hits = 0;

	memcpy(sorted, values, n * 8);
	qsort(sorted, n, 8, cmp_u64);
	for (size_t i = 0; i + 8 <= w->len; i++)
	{
		uint64_t	v;

		memcpy(&v, w->buf + i, 8);
		if (bsearch(&v, sorted, n, 8, cmp_u64) != NULL)
			hits++;
	}
	free(sorted);
	return hits;
}

/* ------------------------------------------------------ transposition */

static void
test_transpose(void)
{
	uint64_t	a[64],
				b[64];
	bool		good = true;
	size_t		words = 3;
	uint64_t   *cols = xmalloc(128 * words * 8);
	ot_block   *rows = xmalloc(64 * words * sizeof(ot_block));

	randombytes_buf(a, sizeof(a));
	memcpy(b, a, sizeof(a));
	ot_transpose64(b);
	for (int r = 0; r < 64; r++)
		for (int c = 0; c < 64; c++)
			if (((a[r] >> c) & 1) != ((b[c] >> r) & 1))
				good = false;
	ok(good, "64x64 bit transpose matches the naive one");

	randombytes_buf(cols, 128 * words * 8);
	ot_transpose128(cols, words, words, rows);
	good = true;
	for (size_t j = 0; j < 64 * words; j++)
		for (int i = 0; i < 128; i++)
		{
			int			colbit = (cols[i * words + j / 64] >> (j % 64)) & 1;
			int			rowbit = (rows[j].w[i / 64] >> (i % 64)) & 1;

			if (colbit != rowbit)
				good = false;
		}
	ok(good, "128-column transpose (two 64x64 lanes) matches the naive one");
	free(cols);
	free(rows);
}

/* -------------------------------------------------------------- base OT */

static bool
block_eq(const ot_block *a, const ot_block *b)
{
	return a->w[0] == b->w[0] && a->w[1] == b->w[1];
}

static void
test_base_ot(void)
{
	ot_base_sender s;
	uint8_t		choices[16];
	uint8_t		msg_a[64],
				bad_a[64];
	uint8_t    *msg_b = xmalloc(ot_base_msg_b_bytes(128));
	uint8_t    *bad_b = xmalloc(ot_base_msg_b_bytes(128));
	size_t		la,
				lb;
	ot_block	k0[128],
				k1[128],
				kc[128];
	bool		right = true,
				other = true;
	mpc_status	st;

	randombytes_buf(choices, sizeof(choices));
	st = ot_base_sender_start(&s, 128, msg_a, sizeof(msg_a), &la);
	ok(st == MPC_OK && la == 44, "base OT: sender's first message is A (44 bytes)");

	/* malformed A messages */
	memcpy(bad_a, msg_a, la);
	memset(bad_a + MPC_MSG_HEADER_BYTES, 0, 32);
	ok(ot_base_receiver_respond(128, choices, bad_a, la, msg_b, ot_base_msg_b_bytes(128),
								&lb, kc) == MPC_POINT_IDENTITY,
	   "base OT: identity A rejected");
	memset(bad_a + MPC_MSG_HEADER_BYTES, 0xff, 32);
	ok(ot_base_receiver_respond(128, choices, bad_a, la, msg_b, ot_base_msg_b_bytes(128),
								&lb, kc) == MPC_POINT_INVALID,
	   "base OT: non-canonical A rejected");
	ok(ot_base_receiver_respond(128, choices, msg_a, la - 1, msg_b,
								ot_base_msg_b_bytes(128), &lb, kc) == MPC_BAD_LENGTH,
	   "base OT: truncated A message rejected");
	ok(ot_base_receiver_respond(128, choices, msg_a, 5, msg_b,
								ot_base_msg_b_bytes(128), &lb, kc) == MPC_BAD_LENGTH,
	   "base OT: message shorter than a header rejected");
	memcpy(bad_a, msg_a, la);
	bad_a[0] = 9;
	ok(ot_base_receiver_respond(128, choices, bad_a, la, msg_b, ot_base_msg_b_bytes(128),
								&lb, kc) == MPC_BAD_HEADER,
	   "base OT: unknown version rejected");
	memcpy(bad_a, msg_a, la);
	bad_a[1] = MPC_MSG_BASE_B;
	ok(ot_base_receiver_respond(128, choices, bad_a, la, msg_b, ot_base_msg_b_bytes(128),
								&lb, kc) == MPC_WRONG_TYPE,
	   "base OT: message of another type rejected");
	ok(ot_base_receiver_respond(64, choices, msg_a, la, msg_b, ot_base_msg_b_bytes(128),
								&lb, kc) == MPC_BAD_COUNT,
	   "base OT: count other than agreed rejected");

	st = ot_base_receiver_respond(128, choices, msg_a, la, msg_b, ot_base_msg_b_bytes(128),
								  &lb, kc);
	ok(st == MPC_OK && lb == 12 + 128 * 32, "base OT: receiver answers with 128 points");

	/* malformed B messages leave the sender able to finish */
	memcpy(bad_b, msg_b, lb);
	memset(bad_b + MPC_MSG_HEADER_BYTES + 32 * 5, 0, 32);
	ok(ot_base_sender_finish(&s, bad_b, lb, k0, k1) == MPC_POINT_IDENTITY,
	   "base OT: identity B_j rejected");
	memcpy(bad_b, msg_b, lb);
	memcpy(bad_b + MPC_MSG_HEADER_BYTES + 32 * 7, msg_a + MPC_MSG_HEADER_BYTES, 32);
	ok(ot_base_sender_finish(&s, bad_b, lb, k0, k1) == MPC_POINT_IDENTITY,
	   "base OT: B_j = A rejected (B_j - A would be the identity)");
	memcpy(bad_b, msg_b, lb);
	memset(bad_b + MPC_MSG_HEADER_BYTES + 32 * 127, 0xee, 32);
	ok(ot_base_sender_finish(&s, bad_b, lb, k0, k1) == MPC_POINT_INVALID,
	   "base OT: non-canonical B_j rejected");
	ok(ot_base_sender_finish(&s, msg_b, lb - 32, k0, k1) == MPC_BAD_LENGTH,
	   "base OT: truncated B message rejected");

	st = ot_base_sender_finish(&s, msg_b, lb, k0, k1);
	for (int j = 0; j < 128; j++)
	{
		int			c = (choices[j / 8] >> (j % 8)) & 1;

		if (!block_eq(&kc[j], c ? &k1[j] : &k0[j]))
			right = false;
		if (block_eq(&kc[j], c ? &k0[j] : &k1[j]))
			other = false;
	}
	ok(st == MPC_OK && right, "base OT: receiver's 128 keys are the chosen ones");
	ok(other, "base OT: receiver's keys differ from the sender's other keys");
	ok(ot_base_sender_finish(&s, msg_b, lb, k0, k1) == MPC_BAD_STATE,
	   "base OT: second finish refused");
	free(msg_b);
	free(bad_b);
}

/* --------------------------------------------------------- OT extension */

static void
test_ext_ot(void)
{
	ot_ext_sender *snd;
	ot_ext_receiver *rcv;
	size_t		n = 1000,
				len,
				len2 = 0;
	uint8_t    *choices = xmalloc((n + 7) / 8);
	uint8_t    *msg = xmalloc(ot_ext_u_msg_bytes(n));
	uint8_t    *old = xmalloc(ot_ext_u_msg_bytes(n));
	uint8_t    *msg2 = xmalloc(ot_chosen_msg_bytes(n));
	ot_block   *keys = xmalloc(n * sizeof(ot_block));
	ot_block   *m0 = xmalloc(n * sizeof(ot_block));
	ot_block   *m1 = xmalloc(n * sizeof(ot_block));
	ot_block   *x0 = xmalloc(n * sizeof(ot_block));
	ot_block   *x1 = xmalloc(n * sizeof(ot_block));
	ot_block   *xr = xmalloc(n * sizeof(ot_block));
	uint64_t   *delta = xmalloc(n * 8),
			   *cx = xmalloc(n * 8),
			   *cy = xmalloc(n * 8);
	bool		right = true,
				other = true,
				distinct = true;
	mpc_status	st;

	ext_pair(&snd, &rcv);
	ok(snd != NULL && rcv != NULL, "IKNP: extension pair set up from 128 base OTs");

	/* random OT */
	randombytes_buf(choices, (n + 7) / 8);
	st = ot_rot_receiver(rcv, n, choices, msg, ot_ext_u_msg_bytes(n), &len, keys);
	ok(st == MPC_OK && len == 12 + 16 * 1024, "IKNP random OT: u is 128 columns of 1024 bits");
	memcpy(old, msg, len);

	/* refused messages leave the sender's state as it was */
	ok(ot_rot_sender(snd, msg, len - 1, n, m0, m1) == MPC_BAD_LENGTH,
	   "IKNP: truncated u refused");
	ok(ot_rot_sender(snd, msg, len, n - 1, m0, m1) == MPC_BAD_COUNT,
	   "IKNP: u for another number of OTs refused");
	msg[1] = MPC_MSG_AND_U;
	ok(ot_rot_sender(snd, msg, len, n, m0, m1) == MPC_WRONG_TYPE,
	   "IKNP: u of another kind refused");
	msg[1] = MPC_MSG_EXT_U;
	msg[4] = 7;
	ok(ot_rot_sender(snd, msg, len, n, m0, m1) == MPC_OUT_OF_ORDER,
	   "IKNP: u with an unexpected sequence number refused");
	msg[4] = 0;
	msg[2] = 1;
	ok(ot_rot_sender(snd, msg, len, n, m0, m1) == MPC_BAD_HEADER,
	   "IKNP: non-zero reserved bits refused");
	msg[2] = 0;

	st = ot_rot_sender(snd, msg, len, n, m0, m1);
	for (size_t j = 0; j < n; j++)
	{
		int			c = (choices[j / 8] >> (j % 8)) & 1;

		if (!block_eq(&keys[j], c ? &m1[j] : &m0[j]))
			right = false;
		if (block_eq(&keys[j], c ? &m0[j] : &m1[j]))
			other = false;
		if (j > 0 && block_eq(&m0[j], &m0[j - 1]))
			distinct = false;
	}
	ok(st == MPC_OK && right, "IKNP random OT: receiver gets m_c for all 1000 OTs");
	ok(other && distinct, "IKNP random OT: receiver's output differs from m_(1-c); keys distinct");
	ok(ot_rot_sender(snd, old, len, n, m0, m1) == MPC_OUT_OF_ORDER,
	   "IKNP: replayed u refused (sequence number)");

	/* chosen-message OT, second batch of the same instance */
	n = 777;
	randombytes_buf(choices, (n + 7) / 8);
	randombytes_buf(x0, n * sizeof(ot_block));
	randombytes_buf(x1, n * sizeof(ot_block));
	st = ot_rot_receiver(rcv, n, choices, msg, ot_ext_u_msg_bytes(n), &len, keys);
	if (st == MPC_OK)
		st = ot_chosen_sender(snd, msg, len, n, x0, x1, msg2, ot_chosen_msg_bytes(n), &len2);
	ok(st == MPC_OK && len2 == 12 + 32 * n, "chosen-message OT: sender masks both messages");
	ok(ot_chosen_receiver_finish(n, choices, keys, msg2, len2 - 16, xr) == MPC_BAD_LENGTH,
	   "chosen-message OT: truncated answer refused");
	st = ot_chosen_receiver_finish(n, choices, keys, msg2, len2, xr);
	right = true;
	other = true;
	for (size_t j = 0; j < n; j++)
	{
		int			c = (choices[j / 8] >> (j % 8)) & 1;
		ot_block	y_other,
					guess;

		if (!block_eq(&xr[j], c ? &x1[j] : &x0[j]))
			right = false;
		/* what the receiver gets by unmasking the other message with its key */
		memcpy(&y_other, msg2 + 12 + 32 * j + (c ? 0 : 16), 16);
		guess.w[0] = y_other.w[0] ^ keys[j].w[0];
		guess.w[1] = y_other.w[1] ^ keys[j].w[1];
		if (block_eq(&guess, c ? &x0[j] : &x1[j]) || block_eq(&xr[j], c ? &x0[j] : &x1[j]))
			other = false;
	}
	ok(st == MPC_OK && right, "chosen-message OT: receiver gets exactly x_c (777 OTs)");
	ok(other, "chosen-message OT: x_(1-c) is not recoverable with the receiver's key");

	/* correlated OT over Z_2^64 */
	n = 500;
	randombytes_buf(choices, (n + 7) / 8);
	randombytes_buf(delta, n * 8);
	st = ot_rot_receiver(rcv, n, choices, msg, ot_ext_u_msg_bytes(n), &len, keys);
	if (st == MPC_OK)
		st = ot_cot_sender(snd, msg, len, n, delta, cx, msg2, ot_cot_msg_bytes(n), &len2);
	if (st == MPC_OK)
		st = ot_cot_receiver_finish(n, choices, keys, msg2, len2, cy);
	right = true;
	for (size_t j = 0; j < n; j++)
	{
		uint64_t	c = (choices[j / 8] >> (j % 8)) & 1;

		if (cy[j] != cx[j] + c * delta[j])
			right = false;
	}
	ok(st == MPC_OK && right, "correlated OT: y = x + c*delta mod 2^64 (500 OTs)");

	ot_ext_sender_free(snd);
	ot_ext_receiver_free(rcv);
	free(choices);
	free(msg);
	free(old);
	free(msg2);
	free(keys);
	free(m0);
	free(m1);
	free(x0);
	free(x1);
	free(xr);
	free(delta);
	free(cx);
	free(cy);
}

/* --------------------------------------------------------------- triples */

static void
bail_if(mpc_status st, const char *what)
{
	if (st != MPC_OK)
	{
		printf("Bail out! %s: %s\n", what, mpc_status_reason(st));
		exit(1);
	}
}

static void
setup_pair(mpc_triple_party *p[2])
{
	uint8_t		m1[2][64];
	uint8_t    *m2[2];
	size_t		l1[2],
				l2[2];

	for (int i = 0; i < 2; i++)
	{
		p[i] = mpc_triple_party_new(i);
		m2[i] = xmalloc(mpc_triple_setup_msg2_bytes());
		bail_if(p[i] == NULL ? MPC_NO_MEMORY : MPC_OK, "party");
		bail_if(mpc_triple_setup_start(p[i], m1[i], sizeof(m1[i]), &l1[i]), "setup start");
		sent(i, m1[i], l1[i]);
	}
	for (int i = 0; i < 2; i++)
	{
		bail_if(mpc_triple_setup_respond(p[i], m1[1 - i], l1[1 - i], m2[i],
										 mpc_triple_setup_msg2_bytes(), &l2[i]),
				"setup respond");
		sent(i, m2[i], l2[i]);
	}
	for (int i = 0; i < 2; i++)
		bail_if(mpc_triple_setup_finish(p[i], m2[1 - i], l2[1 - i]), "setup finish");
	free(m2[0]);
	free(m2[1]);
}

#define TEST_BEAVER_BATCH 16384

/* n Beaver triples for both parties, in batches. */
static void
make_beaver(mpc_triple_party *p[2], size_t n, uint64_t *a[2], uint64_t *b[2], uint64_t *c[2])
{
	size_t		cap1 = mpc_beaver_msg1_bytes(TEST_BEAVER_BATCH),
				cap2 = mpc_beaver_msg2_bytes(TEST_BEAVER_BATCH);
	uint8_t    *m1[2] = {xmalloc(cap1), xmalloc(cap1)};
	uint8_t    *m2[2] = {xmalloc(cap2), xmalloc(cap2)};
	size_t		l1[2],
				l2[2];
	bool		was = capturing;

	capturing = false;			/* triples do not depend on inputs */
	for (size_t done = 0; done < n;)
	{
		size_t		k = n - done < TEST_BEAVER_BATCH ? n - done : TEST_BEAVER_BATCH;

		for (int i = 0; i < 2; i++)
		{
			bail_if(mpc_beaver_start(p[i], k, m1[i], cap1, &l1[i]), "beaver start");
			sent(i, m1[i], l1[i]);
		}
		for (int i = 0; i < 2; i++)
		{
			bail_if(mpc_beaver_respond(p[i], m1[1 - i], l1[1 - i], m2[i], cap2, &l2[i]),
					"beaver respond");
			sent(i, m2[i], l2[i]);
		}
		for (int i = 0; i < 2; i++)
			bail_if(mpc_beaver_finish(p[i], m2[1 - i], l2[1 - i],
									  a[i] + done, b[i] + done, c[i] + done),
					"beaver finish");
		done += k;
	}
	capturing = was;
	for (int i = 0; i < 2; i++)
	{
		free(m1[i]);
		free(m2[i]);
	}
}

#define TEST_AND_BATCH (1u << 20)

/* n (a multiple of 64) AND triples for both parties. */
static void
make_and(mpc_triple_party *p[2], size_t n, uint64_t *a[2], uint64_t *b[2], uint64_t *c[2])
{
	size_t		cap = mpc_and_msg_bytes(TEST_AND_BATCH);
	uint8_t    *m[2] = {xmalloc(cap), xmalloc(cap)};
	size_t		l[2];
	bool		was = capturing;

	capturing = false;
	for (size_t done = 0; done < n;)
	{
		size_t		k = n - done < TEST_AND_BATCH ? n - done : TEST_AND_BATCH;

		for (int i = 0; i < 2; i++)
		{
			bail_if(mpc_and_start(p[i], k, m[i], cap, &l[i]), "and start");
			sent(i, m[i], l[i]);
		}
		for (int i = 0; i < 2; i++)
			bail_if(mpc_and_finish(p[i], m[1 - i], l[1 - i], a[i] + done / 64,
								   b[i] + done / 64, c[i] + done / 64), "and finish");
		done += k;
	}
	capturing = was;
	free(m[0]);
	free(m[1]);
}

static void
test_triples(mpc_triple_party *p[2])
{
	size_t		n = 100000;
	uint64_t   *a[2],
			   *b[2],
			   *c[2];
	size_t		bad = 0,
				trivial = 0;
	size_t		cap1 = mpc_beaver_msg1_bytes(100),
				cap2 = mpc_beaver_msg2_bytes(100);
	uint8_t    *m1[2] = {xmalloc(cap1), xmalloc(cap1)};
	uint8_t    *m2[2] = {xmalloc(cap2), xmalloc(cap2)};
	uint8_t    *old = xmalloc(cap1);
	size_t		l1[2],
				l2[2];
	uint64_t	ta[2][100],
				tb[2][100],
				tc[2][100];
	bool		good = true;

	for (int i = 0; i < 2; i++)
	{
		a[i] = xmalloc(n * 8);
		b[i] = xmalloc(n * 8);
		c[i] = xmalloc(n * 8);
	}
	make_beaver(p, n, a, b, c);
	for (size_t k = 0; k < n; k++)
	{
		if ((a[0][k] + a[1][k]) * (b[0][k] + b[1][k]) != c[0][k] + c[1][k])
			bad++;
		if (a[0][k] == 0 || b[1][k] == 0 || c[0][k] == 0)
			trivial++;
	}
	ok(bad == 0, "Beaver: 100000 triples satisfy (a0+a1)(b0+b1) = c0+c1 mod 2^64 (%zu bad)", bad);
	ok(trivial == 0, "Beaver: shares look random (no zero shares among 100000)");

	/* malformed and out-of-order messages */
	ok(mpc_beaver_respond(p[0], NULL, 0, m2[0], cap2, &l2[0]) == MPC_BAD_STATE,
	   "Beaver: respond before start refused");
	for (int i = 0; i < 2; i++)
		bail_if(mpc_beaver_start(p[i], 100, m1[i], cap1, &l1[i]), "start");
	memcpy(old, m1[1], l1[1]);
	ok(mpc_beaver_respond(p[0], m1[1], l1[1] - 1, m2[0], cap2, &l2[0]) == MPC_BAD_LENGTH,
	   "Beaver: truncated u refused");
	ok(mpc_beaver_respond(p[0], m1[1], 3, m2[0], cap2, &l2[0]) == MPC_BAD_LENGTH,
	   "Beaver: 3-byte message refused");
	m1[1][1] = MPC_MSG_AND_U;
	ok(mpc_beaver_respond(p[0], m1[1], l1[1], m2[0], cap2, &l2[0]) == MPC_WRONG_TYPE,
	   "Beaver: AND-triple message refused where a Beaver one is due");
	m1[1][1] = MPC_MSG_TRIPLE_U;
	m1[1][8] ^= 0x40;			/* count 100·64 → another count */
	ok(mpc_beaver_respond(p[0], m1[1], l1[1], m2[0], cap2, &l2[0]) == MPC_BAD_COUNT,
	   "Beaver: u for another batch size refused");
	m1[1][8] ^= 0x40;
	for (int i = 0; i < 2; i++)
		bail_if(mpc_beaver_respond(p[i], m1[1 - i], l1[1 - i], m2[i], cap2, &l2[i]),
				"respond after refusals");
	ok(mpc_beaver_finish(p[0], m2[1], l2[1] - 260, ta[0], tb[0], tc[0]) == MPC_BAD_LENGTH,
	   "Beaver: truncated corrections refused");
	m2[1][4] ^= 1;
	ok(mpc_beaver_finish(p[0], m2[1], l2[1], ta[0], tb[0], tc[0]) == MPC_OUT_OF_ORDER,
	   "Beaver: corrections of another batch refused");
	m2[1][4] ^= 1;
	for (int i = 0; i < 2; i++)
		bail_if(mpc_beaver_finish(p[i], m2[1 - i], l2[1 - i], ta[i], tb[i], tc[i]), "finish");
	for (int k = 0; k < 100; k++)
		if ((ta[0][k] + ta[1][k]) * (tb[0][k] + tb[1][k]) != tc[0][k] + tc[1][k])
			good = false;
	ok(good, "Beaver: a batch still completes correctly after refused messages");
	{
		bool		clean = true;

		for (int i = 0; i < 2; i++)
		{
			wire_log	w1 = {m1[i], l1[i], 0},
						w2 = {m2[i], l2[i], 0};

			if (count_occurrences(&w1, ta[i], 100) || count_occurrences(&w1, tb[i], 100) ||
				count_occurrences(&w2, ta[i], 100) || count_occurrences(&w2, tb[i], 100))
				clean = false;
		}
		ok(clean, "Beaver: neither party's triple messages contain its a or b shares");
	}

	/* replay of the previous batch's u */
	for (int i = 0; i < 2; i++)
		bail_if(mpc_beaver_start(p[i], 100, m1[i], cap1, &l1[i]), "start");
	ok(mpc_beaver_respond(p[0], old, l1[1], m2[0], cap2, &l2[0]) == MPC_OUT_OF_ORDER,
	   "Beaver: replayed u of the previous batch refused");
	for (int i = 0; i < 2; i++)
		bail_if(mpc_beaver_respond(p[i], m1[1 - i], l1[1 - i], m2[i], cap2, &l2[i]), "respond");
	for (int i = 0; i < 2; i++)
		bail_if(mpc_beaver_finish(p[i], m2[1 - i], l2[1 - i], ta[i], tb[i], tc[i]), "finish");

	/* AND triples */
	n = 100032;					/* a multiple of 64 */
	for (int i = 0; i < 2; i++)
	{
		free(a[i]);
		free(b[i]);
		free(c[i]);
		a[i] = xmalloc(n / 8);
		b[i] = xmalloc(n / 8);
		c[i] = xmalloc(n / 8);
	}
	make_and(p, n, a, b, c);
	bad = 0;
	{
		size_t		ones_a = 0,
					ones_b = 0;

		for (size_t w = 0; w < n / 64; w++)
		{
			uint64_t	A = a[0][w] ^ a[1][w],
						B = b[0][w] ^ b[1][w],
						C = c[0][w] ^ c[1][w];

			bad += (size_t) __builtin_popcountll((A & B) ^ C);
			ones_a += (size_t) __builtin_popcountll(A);
			ones_b += (size_t) __builtin_popcountll(B);
		}
		ok(bad == 0, "AND triples: 100032 satisfy (a0^a1)&(b0^b1) = c0^c1 (%zu bad)", bad);
		ok(ones_a > n / 2 - n / 50 && ones_a < n / 2 + n / 50 &&
		   ones_b > n / 2 - n / 50 && ones_b < n / 2 + n / 50,
		   "AND triples: a and b are balanced bits (%zu, %zu ones of %zu)", ones_a, ones_b, n);
	}
	{
		size_t		cap = mpc_and_msg_bytes(640);
		uint8_t    *m[2] = {xmalloc(cap), xmalloc(cap)};
		size_t		l[2];

		for (int i = 0; i < 2; i++)
			bail_if(mpc_and_start(p[i], 640, m[i], cap, &l[i]), "and start");
		ok(mpc_and_finish(p[0], m[1], l[1] - 100, a[0], b[0], c[0]) == MPC_BAD_LENGTH,
		   "AND triples: truncated u refused");
		m[1][1] = MPC_MSG_TRIPLE_U;
		ok(mpc_and_finish(p[0], m[1], l[1], a[0], b[0], c[0]) == MPC_WRONG_TYPE,
		   "AND triples: Beaver message refused where an AND one is due");
		m[1][1] = MPC_MSG_AND_U;
		for (int i = 0; i < 2; i++)
			bail_if(mpc_and_finish(p[i], m[1 - i], l[1 - i], a[i], b[i], c[i]), "and finish");
		good = true;
		for (size_t w = 0; w < 10; w++)
			if (((a[0][w] ^ a[1][w]) & (b[0][w] ^ b[1][w])) != (c[0][w] ^ c[1][w]))
				good = false;
		ok(good, "AND triples: batch correct after refused messages");
		free(m[0]);
		free(m[1]);
	}

	for (int i = 0; i < 2; i++)
	{
		free(a[i]);
		free(b[i]);
		free(c[i]);
		free(m1[i]);
		free(m2[i]);
	}
	free(old);
}

/* ----------------------------------------------------- fixed point bound */

static void
test_fixed_point(void)
{
	int64_t		v;
	uint64_t	maxv = (uint64_t) MPC_VALUE_BOUND - 1;

	ok(mpc_fixed_encode(1.5, &v) == MPC_OK && v == 98304, "fixed point: 1.5 encodes as 1.5*2^16");
	ok(mpc_fixed_encode(-8191.99, &v) == MPC_OK && mpc_fixed_encode(8192.0, &v) == MPC_OUT_OF_RANGE &&
	   mpc_fixed_encode(-8192.0, &v) == MPC_OUT_OF_RANGE && mpc_fixed_encode(NAN, &v) == MPC_OUT_OF_RANGE &&
	   mpc_fixed_encode(INFINITY, &v) == MPC_OUT_OF_RANGE,
	   "fixed point: |x| < 8192 accepted, 8192, NaN and infinity refused");
	ok(mpc_dot_within_bound(20, maxv, maxv, (uint64_t) 1 << 61) &&
	   mpc_dot_within_bound(32, maxv, maxv, 0) &&
	   !mpc_dot_within_bound(33, maxv, maxv, 0) &&
	   !mpc_dot_within_bound(20, maxv, maxv, (uint64_t) 1 << 62),
	   "bound: 20 terms + |T| < 2^61 and 32 terms fit; 33 terms or |T| = 2^62 do not");
}

/* ------------------------------------------------------ online arithmetic */

static void
test_mul_and_dot(mpc_triple_party *p[2], wire_log *inputs_hits)
{
	size_t		n = 10000;
	uint64_t   *ta[2],
			   *tb[2],
			   *tc[2],
			   *x[2],
			   *y[2],
			   *z[2];
	int64_t    *X = xmalloc(n * 8),
			   *Y = xmalloc(n * 8);
	uint8_t    *msg[2],
			   *sh[2];
	size_t		len[2],
				shl[2];
	size_t		bad = 0;
	mpc_status	st;

	(void) inputs_hits;
	for (int i = 0; i < 2; i++)
	{
		ta[i] = xmalloc(n * 20 * 8);
		tb[i] = xmalloc(n * 20 * 8);
		tc[i] = xmalloc(n * 20 * 8);
		x[i] = xmalloc(n * 20 * 8);
		y[i] = xmalloc(n * 8);
		z[i] = xmalloc(n * 8);
		msg[i] = xmalloc(mpc_mul_msg_bytes(n * 20));
		sh[i] = xmalloc(mpc_values_msg_bytes(n * 20));
	}
	make_beaver(p, n, ta, tb, tc);

	/* party 0 inputs X, party 1 inputs Y; random fixed-point values in bound */
	for (size_t k = 0; k < n; k++)
	{
		X[k] = rand_signed(MPC_VALUE_BOUND);
		Y[k] = rand_signed(MPC_VALUE_BOUND);
	}
	X[0] = MPC_VALUE_BOUND - 1;
	Y[0] = -(MPC_VALUE_BOUND - 1);
	X[1] = 0;
	X[2] = 1;
	Y[2] = -1;
	bail_if(mpc_share_input((uint64_t *) X, n, x[0], sh[0], mpc_values_msg_bytes(n), &shl[0]), "share");
	bail_if(mpc_share_input((uint64_t *) Y, n, y[1], sh[1], mpc_values_msg_bytes(n), &shl[1]), "share");
	sent(0, sh[0], shl[0]);
	sent(1, sh[1], shl[1]);
	bail_if(mpc_share_accept(sh[0], shl[0], n, x[1]), "accept");
	bail_if(mpc_share_accept(sh[1], shl[1], n, y[0]), "accept");
	ok(mpc_share_accept(sh[0], shl[0] - 8, n, x[1]) == MPC_BAD_LENGTH &&
	   mpc_share_accept(sh[0], shl[0], n + 1, x[1]) == MPC_BAD_COUNT,
	   "sharing: truncated share message and wrong count refused");

	for (int i = 0; i < 2; i++)
	{
		bail_if(mpc_mul_start(x[i], y[i], n, ta[i], tb[i], msg[i], mpc_mul_msg_bytes(n), &len[i]),
				"mul start");
		sent(i, msg[i], len[i]);
	}
	ok(mpc_mul_finish(0, n, ta[0], tb[0], tc[0], msg[0], len[0], msg[1], len[1] - 1, z[0]) == MPC_BAD_LENGTH,
	   "Beaver multiplication: truncated d,e message refused");
	for (int i = 0; i < 2; i++)
		bail_if(mpc_mul_finish(i, n, ta[i], tb[i], tc[i], msg[i], len[i], msg[1 - i], len[1 - i], z[i]),
				"mul finish");
	for (size_t k = 0; k < n; k++)
		if ((int64_t) (z[0][k] + z[1][k]) != X[k] * Y[k])
			bad++;
	ok(bad == 0, "Beaver multiplication: 10000 fixed-point products exact at scale 2^32 (%zu bad)", bad);

	/* open to both, reveal to one */
	{
		uint64_t   *out = xmalloc(n * 8);

		bail_if(mpc_open_send(z[1], n, msg[1], mpc_values_msg_bytes(n), &len[1]), "open");
		st = mpc_open_receive(z[0], n, msg[1], len[1], out);
		bad = 0;
		for (size_t k = 0; k < n; k++)
			if ((int64_t) out[k] != X[k] * Y[k])
				bad++;
		ok(st == MPC_OK && bad == 0 &&
		   fabs(mpc_fixed_decode_product((int64_t) out[3]) -
				mpc_fixed_decode(X[3]) * mpc_fixed_decode(Y[3])) < 1e-6,
		   "open: party 0 alone learns the products (party 1 sent its shares)");
		free(out);
	}

	/* linear layer: 2000 applicants × 20 features */
	{
		size_t		rows = 2000,
					k = 20;
		int64_t    *F = xmalloc(rows * k * 8);	/* party 1 (bureau): features */
		int64_t    *W = xmalloc(k * 8);		/* party 0 (bank): weights */
		uint64_t   *w[2] = {xmalloc(k * 8), xmalloc(k * 8)};
		uint64_t   *score = xmalloc(rows * 8);
		size_t		maxdiff_ok = 0;

		make_beaver(p, rows * k, ta, tb, tc);
		for (size_t j = 0; j < rows * k; j++)
			F[j] = rand_signed(MPC_VALUE_BOUND);
		for (size_t j = 0; j < k; j++)
			W[j] = rand_signed(MPC_VALUE_BOUND);
		for (size_t j = 0; j < k; j++)	/* one row at the extreme of the bound */
		{
			F[j] = MPC_VALUE_BOUND - 1;
			W[j] = MPC_VALUE_BOUND - 1;
		}
		bail_if(mpc_share_input((uint64_t *) W, k, w[0], sh[0], mpc_values_msg_bytes(k), &shl[0]), "share");
		bail_if(mpc_share_input((uint64_t *) F, rows * k, x[1], sh[1],
								mpc_values_msg_bytes(rows * k), &shl[1]), "share");
		sent(0, sh[0], shl[0]);
		sent(1, sh[1], shl[1]);
		bail_if(mpc_share_accept(sh[0], shl[0], k, w[1]), "accept");
		bail_if(mpc_share_accept(sh[1], shl[1], rows * k, x[0]), "accept");
		for (int i = 0; i < 2; i++)
		{
			bail_if(mpc_dot_start(rows, k, x[i], w[i], ta[i], tb[i], msg[i],
								  mpc_mul_msg_bytes(rows * k), &len[i]), "dot start");
			sent(i, msg[i], len[i]);
		}
		for (int i = 0; i < 2; i++)
			bail_if(mpc_dot_finish(i, rows, k, ta[i], tb[i], tc[i], msg[i], len[i],
								   msg[1 - i], len[1 - i], z[i]), "dot finish");
		bad = 0;
		for (size_t r = 0; r < rows; r++)
		{
			int64_t		want = 0;
			double		dwant = 0;

			for (size_t j = 0; j < k; j++)
			{
				want += F[r * k + j] * W[j];
				dwant += mpc_fixed_decode(F[r * k + j]) * mpc_fixed_decode(W[j]);
			}
			score[r] = z[0][r] + z[1][r];
			if ((int64_t) score[r] != want)
				bad++;
			if (fabs(mpc_fixed_decode_product((int64_t) score[r]) - dwant) <= 1e-6 * fmax(1.0, fabs(dwant)))
				maxdiff_ok++;
		}
		ok(bad == 0, "dot product: 2000 rows x 20 features equal the plaintext sum exactly at 2^32 (%zu bad)", bad);
		ok((int64_t) score[0] == 20 * (MPC_VALUE_BOUND - 1) * (MPC_VALUE_BOUND - 1) && (int64_t) score[0] > 0,
		   "dot product: the extreme row (20 * (2^29-1)^2) does not wrap");
		ok(maxdiff_ok == rows, "dot product: decoded scores match the double computation");

		/* the flags: score > threshold, via the sign of threshold − score */
		{
			int64_t		T = rand_signed((int64_t) 1 << 61);
			uint64_t   *ata[2],
					   *atb[2],
					   *atc[2];
			size_t		nt = mpc_sign_and_triples(rows);
			uint64_t   *flag = xmalloc(((rows + 63) / 64) * 8);
			uint64_t   *fb[2];
			bool		done[2] = {false, false};
			size_t		cap;
			mpc_sign   *sg[2];

			for (int i = 0; i < 2; i++)
			{
				ata[i] = xmalloc(nt / 8);
				atb[i] = xmalloc(nt / 8);
				atc[i] = xmalloc(nt / 8);
				fb[i] = xmalloc(((rows + 63) / 64) * 8);
			}
			make_and(p, nt, ata, atb, atc);
			for (int i = 0; i < 2; i++)
			{
				/* threshold − score: party 0 adds the public T */
				for (size_t r = 0; r < rows; r++)
					z[i][r] = (uint64_t) 0 - z[i][r];
				mpc_add_public(i, z[i], rows, (uint64_t) T);
				sg[i] = mpc_sign_new(i, rows, z[i], ata[i], atb[i], atc[i]);
			}
			cap = mpc_sign_msg_bytes(sg[0]);
			for (int i = 0; i < 2; i++)
			{
				free(msg[i]);
				msg[i] = xmalloc(cap);
			}
			{
				uint8_t    *nxt[2] = {xmalloc(cap), xmalloc(cap)};

				for (int i = 0; i < 2; i++)
				{
					bail_if(mpc_sign_start(sg[i], msg[i], cap, &len[i]), "sign start");
					sent(i, msg[i], len[i]);
				}
				while (!done[0])
				{
					size_t		nl[2];

					for (int i = 0; i < 2; i++)
					{
						bail_if(mpc_sign_next(sg[i], msg[1 - i], len[1 - i], nxt[i], cap, &nl[i], &done[i]),
								"sign next");
						if (!done[i])
							sent(i, nxt[i], nl[i]);
					}
					for (int i = 0; i < 2; i++)
					{
						memcpy(msg[i], nxt[i], nl[i]);
						len[i] = nl[i];
					}
				}
				free(nxt[0]);
				free(nxt[1]);
			}
			for (int i = 0; i < 2; i++)
				bail_if(mpc_sign_result(sg[i], fb[i]), "sign result");
			/* reveal the flags to party 0 (the bank) only */
			bail_if(mpc_open_bits_send(fb[1], rows, msg[1], cap, &len[1]), "open bits");
			sent(1, msg[1], len[1]);
			st = mpc_open_bits_receive(fb[0], rows, msg[1], len[1], flag);
			bad = 0;
			for (size_t r = 0; r < rows; r++)
			{
				bool		want = (int64_t) score[r] > T;
				bool		got = (flag[r / 64] >> (r % 64)) & 1;

				if (want != got)
					bad++;
			}
			ok(st == MPC_OK && bad == 0,
			   "flags: score > threshold exact for 2000 rows, revealed to the bank only (%zu bad)", bad);
			for (int i = 0; i < 2; i++)
			{
				mpc_sign_free(sg[i]);
				free(ata[i]);
				free(atb[i]);
				free(atc[i]);
				free(fb[i]);
			}
			free(flag);
		}

		/*
		 * No party's messages carry its inputs in the clear.  Inputs are
		 * below 2^29, so an 8-byte window of a message (a length, a header,
		 * packed corrections) now and then equals one by chance: compare
		 * with as many decoys of the same distribution that were never
		 * sent.  A leak puts every input on the wire, thousands of hits.
		 */
		{
			size_t		nd = rows * k + n + k;
			int64_t    *decoy = xmalloc(nd * 8);
			size_t		real0,
						real1,
						fake0,
						fake1;

			for (size_t j = 0; j < nd; j++)
				decoy[j] = rand_signed(MPC_VALUE_BOUND);
			real0 = count_occurrences(&captured[0], (uint64_t *) W, k) +
				count_occurrences(&captured[0], (uint64_t *) X, n);
			fake0 = count_occurrences(&captured[0], (uint64_t *) decoy, k + n);
			real1 = count_occurrences(&captured[1], (uint64_t *) F, rows * k) +
				count_occurrences(&captured[1], (uint64_t *) Y, n);
			fake1 = count_occurrences(&captured[1], (uint64_t *) decoy, rows * k + n);
			ok(real0 <= 2 + 2 * fake0,
			   "wire: party 0's messages (%zu bytes) never contain its weights or inputs (%zu chance matches, %zu of decoys)",
			   captured[0].len, real0, fake0);
			ok(real1 <= 2 + 2 * fake1,
			   "wire: party 1's messages (%zu bytes) never contain its features or inputs (%zu chance matches, %zu of decoys)",
			   captured[1].len, real1, fake1);
			free(decoy);
		}
		{
			/* the check itself finds an input that is sent in the clear */
			wire_log	plain = {(uint8_t *) F, rows * k * 8, 0};

			ok(count_occurrences(&plain, (uint64_t *) F, rows * k) >= rows * k,
			   "wire: the search does find inputs sent in the clear (control)");
		}
		free(F);
		free(W);
		free(w[0]);
		free(w[1]);
		free(score);
	}

	for (int i = 0; i < 2; i++)
	{
		free(ta[i]);
		free(tb[i]);
		free(tc[i]);
		free(x[i]);
		free(y[i]);
		free(z[i]);
		free(msg[i]);
		free(sh[i]);
	}
	free(X);
	free(Y);
}

/* ------------------------------------------------------------- sign bit */

static void
test_sign(mpc_triple_party *p[2])
{
	size_t		n = 1000;
	int64_t    *v = xmalloc(n * 8);
	uint64_t   *x[2],
			   *ta[2],
			   *tb[2],
			   *tc[2],
			   *bits[2];
	size_t		nt = mpc_sign_and_triples(n);
	int64_t		big = 20 * (MPC_VALUE_BOUND - 1) * (MPC_VALUE_BOUND - 1);
	mpc_sign   *sg[2];
	uint8_t    *msg[2],
			   *nxt[2],
			   *old;
	size_t		len[2],
				nl[2],
				cap,
				oldlen;
	bool		done[2] = {false, false};
	int			rounds = 1;
	size_t		bad = 0;
	mpc_status	st;
	size_t		k = 0;

	ok(mpc_sign_and_gates() == 181, "sign: 181 AND gates per value");
	v[k++] = 0;
	v[k++] = 1;
	v[k++] = -1;
	v[k++] = 2;
	v[k++] = -2;
	v[k++] = INT64_MAX;
	v[k++] = INT64_MIN;
	v[k++] = INT64_MAX - 1;
	v[k++] = INT64_MIN + 1;
	v[k++] = (int64_t) 1 << 62;
	v[k++] = -((int64_t) 1 << 62);
	v[k++] = big;
	v[k++] = -big;
	v[k++] = big + ((int64_t) 1 << 61);
	v[k++] = -big - ((int64_t) 1 << 61);
	v[k++] = (int64_t) 1 << 32;
	v[k++] = -((int64_t) 1 << 32);
	while (k < n)
	{
		switch (k % 3)
		{
			case 0:
				v[k] = (int64_t) rand64();
				break;
			case 1:
				v[k] = rand_signed(1000);
				break;
			default:
				v[k] = rand_signed(big);
		}
		k++;
	}
	for (int i = 0; i < 2; i++)
	{
		x[i] = xmalloc(n * 8);
		ta[i] = xmalloc(nt / 8);
		tb[i] = xmalloc(nt / 8);
		tc[i] = xmalloc(nt / 8);
		bits[i] = xmalloc(((n + 63) / 64) * 8);
	}
	for (size_t j = 0; j < n; j++)
	{
		x[0][j] = rand64();
		x[1][j] = (uint64_t) v[j] - x[0][j];
	}
	make_and(p, nt, ta, tb, tc);
	for (int i = 0; i < 2; i++)
		sg[i] = mpc_sign_new(i, n, x[i], ta[i], tb[i], tc[i]);
	cap = mpc_sign_msg_bytes(sg[0]);
	for (int i = 0; i < 2; i++)
	{
		msg[i] = xmalloc(cap);
		nxt[i] = xmalloc(cap);
		bail_if(mpc_sign_start(sg[i], msg[i], cap, &len[i]), "sign start");
	}
	old = xmalloc(cap);
	memcpy(old, msg[1], len[1]);
	oldlen = len[1];
	ok(mpc_sign_next(sg[0], msg[1], len[1] - 8, nxt[0], cap, &nl[0], &done[0]) == MPC_BAD_LENGTH,
	   "sign: truncated round message refused");
	while (!done[0])
	{
		for (int i = 0; i < 2; i++)
		{
			st = mpc_sign_next(sg[i], msg[1 - i], len[1 - i], nxt[i], cap, &nl[i], &done[i]);
			bail_if(st, "sign next");
		}
		for (int i = 0; i < 2; i++)
		{
			memcpy(msg[i], nxt[i], nl[i]);
			len[i] = nl[i];
		}
		if (!done[0])
			rounds++;
		if (rounds == 2 && !done[0])
			ok(mpc_sign_next(sg[0], old, oldlen, nxt[0], cap, &nl[0], &done[0]) != MPC_OK,
			   "sign: round-1 message replayed in round 2 refused");
	}
	ok(rounds == MPC_SIGN_ROUNDS && done[1], "sign: %d rounds of AND openings", rounds);
	for (int i = 0; i < 2; i++)
		bail_if(mpc_sign_result(sg[i], bits[i]), "result");
	for (size_t j = 0; j < n; j++)
	{
		int			got = ((bits[0][j / 64] ^ bits[1][j / 64]) >> (j % 64)) & 1;

		if (got != (v[j] < 0))
			bad++;
	}
	ok(bad == 0, "sign: exact for 1000 values incl. 0, +-1, INT64_MIN/MAX, +-20(2^29-1)^2 (%zu bad)", bad);
	ok(mpc_sign_next(sg[0], msg[1], len[1], nxt[0], cap, &nl[0], &done[0]) == MPC_BAD_STATE,
	   "sign: no round after the last");
	for (int i = 0; i < 2; i++)
	{
		mpc_sign_free(sg[i]);
		free(x[i]);
		free(ta[i]);
		free(tb[i]);
		free(tc[i]);
		free(bits[i]);
		free(msg[i]);
		free(nxt[i]);
	}
	free(old);
	free(v);
}

/* --------------------------------------------------- malformed lengths */

/* A length other than len, within [0, len + 64]: short, long, or 0. */
static size_t
other_length(size_t len, unsigned i)
{
	size_t		l;

	if (i < 16)
		return i;				/* nothing, or less than a header */
	do
		l = (size_t) (rand64() % (len + 65));
	while (l == len);
	return l;
}

/*
 * Every kind of message, cut short or padded (the padding read from a
 * larger buffer, so an over-read would show under ASan) or with a header
 * byte changed, is refused with an error status and never crashes.
 */
static void
test_malformed(mpc_triple_party *p[2])
{
	ot_base_sender bs;
	uint8_t		s16[16],
				ma[64];
	size_t		la,
				lb,
				lu,
				l;
	uint8_t    *big = xcalloc_bytes(1u << 20);
	uint8_t    *mb = xmalloc(ot_base_msg_b_bytes(128));
	ot_block	k0[128],
				k1[128];
	ot_ext_sender *snd;
	ot_ext_receiver *rcv;
	size_t		n = 300;
	ot_block   *keys = xmalloc(n * sizeof(ot_block)),
			   *m0 = xmalloc(n * sizeof(ot_block)),
			   *m1 = xmalloc(n * sizeof(ot_block));
	uint64_t	vals[64],
				out[64];
	int			refused = 0,
				tried = 0;

	randombytes_buf(s16, sizeof(s16));
	bail_if(ot_base_sender_start(&bs, 128, ma, sizeof(ma), &la), "start");
	bail_if(ot_base_receiver_respond(128, s16, ma, la, mb, ot_base_msg_b_bytes(128), &lb, k0),
			"respond");
	/* base OT A and B */
	for (unsigned i = 0; i < 300; i++)
	{
		memcpy(big, ma, la);
		l = other_length(la, i);
		tried++;
		refused += ot_base_receiver_respond(128, s16, big, l, big + 4096, 8192, &lu, k1) != MPC_OK;
		memcpy(big, mb, lb);
		l = other_length(lb, i);
		tried++;
		refused += ot_base_sender_finish(&bs, big, l, k0, k1) != MPC_OK;
	}
	ok(refused == tried, "malformed: %d wrong-length base OT messages all refused", tried);

	/* header bytes changed */
	refused = tried = 0;
	for (unsigned i = 0; i < 12; i++)
	{
		memcpy(big, mb, lb);
		big[i] ^= (uint8_t) (1u << (rand64() % 8));
		tried++;
		refused += ot_base_sender_finish(&bs, big, lb, k0, k1) != MPC_OK;
	}
	ok(refused == tried, "malformed: a flipped bit in any of the 12 header bytes is refused");

	/* IKNP u */
	ext_pair(&snd, &rcv);
	{
		uint8_t		choices[(300 + 7) / 8];

		randombytes_buf(choices, sizeof(choices));
		bail_if(ot_rot_receiver(rcv, n, choices, big + (1u << 19), 1u << 19, &lu, keys), "rot");
	}
	refused = tried = 0;
	for (unsigned i = 0; i < 300; i++)
	{
		memcpy(big, big + (1u << 19), lu);
		l = other_length(lu, i);
		tried++;
		refused += ot_rot_sender(snd, big, l, n, m0, m1) != MPC_OK;
	}
	memcpy(big, big + (1u << 19), lu);
	ok(refused == tried && ot_rot_sender(snd, big, lu, n, m0, m1) == MPC_OK,
	   "malformed: %d wrong-length u messages refused, the right one then accepted", tried);

	/* online messages */
	refused = tried = 0;
	randombytes_buf(vals, sizeof(vals));
	{
		uint8_t		msg[2048];
		size_t		ml;

		bail_if(mpc_open_send(vals, 64, msg, sizeof(msg), &ml), "open");
		for (unsigned i = 0; i < 200; i++)
		{
			memcpy(big, msg, ml);
			l = other_length(ml, i);
			tried += 3;
			refused += mpc_open_receive(vals, 64, big, l, out) != MPC_OK;
			refused += mpc_share_accept(big, l, 64, out) != MPC_OK;	/* also wrong type */
			refused += mpc_open_bits_receive(vals, 64, big, l, out) != MPC_OK;
		}
		bail_if(mpc_mul_start(vals, vals, 32, vals, vals, msg, sizeof(msg), &ml), "mul");
		for (unsigned i = 0; i < 200; i++)
		{
			memcpy(big, msg, ml);
			l = other_length(ml, i);
			tried++;
			refused += mpc_mul_finish(0, 32, vals, vals, vals, msg, ml, big, l, out) != MPC_OK;
		}
	}
	ok(refused == tried, "malformed: %d wrong-length or wrong-kind online messages refused", tried);

	/* triple messages through the session objects */
	{
		size_t		c1 = mpc_beaver_msg1_bytes(50),
					c2 = mpc_beaver_msg2_bytes(50);
		uint8_t    *u[2] = {xmalloc(c1), xmalloc(c1)},
				   *t[2] = {xmalloc(c2), xmalloc(c2)};
		size_t		ul[2],
					tl[2];
		uint64_t	a[2][50],
					b[2][50],
					c[2][50];
		bool		good = true;

		refused = tried = 0;
		for (int i = 0; i < 2; i++)
			bail_if(mpc_beaver_start(p[i], 50, u[i], c1, &ul[i]), "start");
		for (unsigned i = 0; i < 200; i++)
		{
			memcpy(big, u[1], ul[1]);
			l = other_length(ul[1], i);
			tried++;
			refused += mpc_beaver_respond(p[0], big, l, t[0], c2, &tl[0]) != MPC_OK;
		}
		for (int i = 0; i < 2; i++)
			bail_if(mpc_beaver_respond(p[i], u[1 - i], ul[1 - i], t[i], c2, &tl[i]), "respond");
		for (unsigned i = 0; i < 200; i++)
		{
			memcpy(big, t[1], tl[1]);
			l = other_length(tl[1], i);
			tried++;
			refused += mpc_beaver_finish(p[0], big, l, a[0], b[0], c[0]) != MPC_OK;
		}
		for (int i = 0; i < 2; i++)
			bail_if(mpc_beaver_finish(p[i], t[1 - i], tl[1 - i], a[i], b[i], c[i]), "finish");
		for (int k = 0; k < 50; k++)
			if ((a[0][k] + a[1][k]) * (b[0][k] + b[1][k]) != c[0][k] + c[1][k])
				good = false;
		ok(refused == tried && good,
		   "malformed: %d wrong-length triple messages refused; the session goes on correctly", tried);
		for (int i = 0; i < 2; i++)
		{
			free(u[i]);
			free(t[i]);
		}
	}
	ot_ext_sender_free(snd);
	ot_ext_receiver_free(rcv);
	free(big);
	free(mb);
	free(keys);
	free(m0);
	free(m1);
}

/*
 * Products of inputs: party 1 (receiver) holds x < 2^32, party 0 (sender)
 * holds w; the shares add up to x·w mod 2^64, including the extremes.
 * Then the order and length checks.
 */
static void
test_products(mpc_triple_party *p[2])
{
	const size_t n = 5000;
	uint64_t   *x = xmalloc(n * 8),
			   *w = xmalloc(n * 8),
			   *s0 = xmalloc(n * 8),
			   *s1 = xmalloc(n * 8);
	size_t		cap1 = mpc_product_msg1_bytes(n),
				cap2 = mpc_product_msg2_bytes(n),
				l1,
				l2;
	uint8_t    *m1 = xmalloc(cap1),
			   *m2 = xmalloc(cap2);
	size_t		bad = 0;

	for (size_t i = 0; i < n; i++)
	{
		x[i] = rand64() >> 32;
		w[i] = rand64();
	}
	x[0] = 0;
	x[1] = 0xffffffffu;
	w[2] = 0;
	w[3] = ~(uint64_t) 0;
	ok(mpc_product_msg1_bytes(4) - MPC_MSG_HEADER_BYTES == 4 * 32 * 16 &&
	   mpc_product_msg2_bytes(1) - MPC_MSG_HEADER_BYTES == MPC_PRODUCT_TAU_BYTES,
	   "input product: 32 OTs (512 bytes of u, in batches of 4) and 194 bytes of corrections");
	bail_if(mpc_product_receive_start(p[1], n, x, m1, cap1, &l1), "product start");
	bail_if(mpc_product_send(p[0], m1, l1, n, w, m2, cap2, &l2, s0), "product send");
	bail_if(mpc_product_receive_finish(p[1], m2, l2, s1), "product finish");
	for (size_t i = 0; i < n; i++)
		if (s0[i] + s1[i] != x[i] * w[i])
			bad++;
	ok(bad == 0, "input products: shares add up to x·w for %zu random pairs", n);

	/* a second batch on the same streams still works */
	bail_if(mpc_product_receive_start(p[1], 64, x, m1, cap1, &l1), "product start 2");
	bail_if(mpc_product_send(p[0], m1, l1, 64, w, m2, cap2, &l2, s0), "product send 2");
	ok(mpc_product_receive_finish(p[1], m2, l2 - 1, s1) == MPC_BAD_LENGTH,
	   "input products: a truncated correction message is refused");
	m2[4] ^= 1;
	ok(mpc_product_receive_finish(p[1], m2, l2, s1) == MPC_OUT_OF_ORDER,
	   "input products: corrections of another batch are refused");
	m2[4] ^= 1;
	bail_if(mpc_product_receive_finish(p[1], m2, l2, s1), "product finish 2");
	bad = 0;
	for (size_t i = 0; i < 64; i++)
		if (s0[i] + s1[i] != x[i] * w[i])
			bad++;
	ok(bad == 0, "input products: a second batch is exact too");
	x[7] = (uint64_t) 1 << 32;
	ok(mpc_product_receive_start(p[1], 64, x, m1, cap1, &l1) == MPC_OUT_OF_RANGE,
	   "input products: an input of 33 bits is refused");
	free(x);
	free(w);
	free(s0);
	free(s1);
	free(m1);
	free(m2);
}

/* ------------------------------------------- truncation on shares */

/* An x just under 2^62, where the stated failure shows up (bound unused). */
static int64_t
near_2_62(int64_t bound)
{
	(void) bound;
	return ((int64_t) 1 << 62) - 1 - (int64_t) (rand64() % 1000);
}

/*
 * n values x = draw(bound), each split into two random shares that are
 * truncated locally by 16 bits: *far counts the results more than one unit
 * from x / 2^16, *off those other than floor(x / 2^16).
 */
static void
trunc_trials(size_t n, int64_t (*draw) (int64_t), int64_t bound, size_t *far, size_t *off)
{
	*far = 0;
	*off = 0;
	for (size_t i = 0; i < n; i++)
	{
		int64_t		x = draw(bound);
		uint64_t	s0 = rand64();
		uint64_t	s1 = (uint64_t) x - s0;
		int64_t		got;
		double		want = ldexp((double) x, -16);

		mpc_trunc_local(0, &s0, 1, 16);
		mpc_trunc_local(1, &s1, 1, 16);
		got = (int64_t) (s0 + s1);
		if (fabs((double) got - want) > 1.0)
			(*far)++;
		if ((double) got != floor(want))
			(*off)++;
	}
}

static void
test_trunc(void)
{
	size_t		n = 100000;
	size_t		bad = 0;
	size_t		off = 0;

	/*
	 * |x| < 2^30, t = 16: every result within one unit of x / 2^16 (the
	 * stated failure, probability 2^(l+1-64) per value, is 2^-33 here:
	 * about 10^-5 that any of the 100 000 fails).
	 */
	trunc_trials(n, rand_signed, (int64_t) 1 << 30, &bad, &off);
	ok(bad == 0, "local truncation of %zu values |x| < 2^30 by 16 bits: all within one unit (%zu off by one)",
	   n, off);

	/*
	 * |x| < 2^44: failure probability 2^-19 per value, so about 0.19 of the
	 * 100 000 are expected far off; more than 4 has probability about 10^-6.
	 */
	trunc_trials(n, rand_signed, (int64_t) 1 << 44, &bad, &off);
	ok(bad <= 4, "local truncation of %zu values |x| < 2^44 by 16 bits: within one unit but for the stated failures (%zu far off, %zu off by one)",
	   n, bad, off);
	/* Values near 2^62: the stated failure (probability ~ 2^(l+1-64)) shows up. */
	trunc_trials(10000, near_2_62, 0, &bad, &off);
	ok(bad > 1500 && bad < 3500, "values just under 2^62: about |x|/2^64 = 1/4 fail, within the stated 2^(l+1-64): %zu of 10000", bad);
}

/* ------------------------------------- fixed-choice products (fixprod.c) */

static void
test_fixprod(void)
{
	size_t		n = 300,
				k = 5;
	int			bits = 8;
	int32_t    *x = xmalloc(n * k * sizeof(int32_t));
	fixprod_receiver *fr;
	fixprod_sender *fs;
	uint8_t    *msg;
	size_t		cap = fixprod_use_bytes(n, k, bits) + ot_ext_u_msg_bytes(n * k * bits) + 4096;
	size_t		len,
				len2;
	uint8_t		b[8192];
	uint64_t	m_col[5];
	uint64_t   *m_row = xmalloc(n * 8);
	uint64_t   *o_s = xcalloc_bytes(n * 8),
			   *o_r = xcalloc_bytes(n * 8);
	bool		good = true;
	mpc_status	st;

	msg = xmalloc(cap);
	for (size_t e = 0; e < n * k; e++)
		x[e] = (int32_t) (rand64() % 256) - 128;
	fr = fixprod_receiver_new(n, k, bits, x);
	fs = fixprod_sender_new(n, k, bits);
	ok(fr != NULL && fs != NULL, "fixprod parties made");
	st = fixprod_receiver_base_start(fr, msg, cap, &len);
	if (st == MPC_OK)
		st = fixprod_sender_base_respond(fs, msg, len, b, sizeof(b), &len2);
	if (st == MPC_OK)
		st = fixprod_receiver_base_finish(fr, b, len2);
	ok(st == MPC_OK, "fixprod base OTs: %s", mpc_status_reason(st));
	/* Extended in two slices of rows. */
	for (size_t row0 = 0; row0 < n && st == MPC_OK; row0 += 200)
	{
		size_t		nr = n - row0 < 200 ? n - row0 : 200;

		st = fixprod_receiver_extend(fr, nr, msg, cap, &len);
		if (st == MPC_OK)
			st = fixprod_sender_extend(fs, nr, msg, len);
	}
	ok(st == MPC_OK && fixprod_rows_extended_s(fs) == n, "fixprod extension in two slices: %s",
	   mpc_status_reason(st));
	for (uint64_t use = 1; use <= 6 && st == MPC_OK; use++)
	{
		fixprod_mode mode = use % 2 ? FIXPROD_BY_COLUMN : FIXPROD_BY_ROW;
		size_t		nout = mode == FIXPROD_BY_COLUMN ? n : k;

		for (size_t j = 0; j < k; j++)
			m_col[j] = rand64();
		for (size_t r = 0; r < n; r++)
			m_row[r] = rand64();
		memset(o_s, 0, n * 8);
		memset(o_r, 0, n * 8);
		st = fixprod_sender_use(fs, use, 0, n, mode, mode == FIXPROD_BY_COLUMN ? m_col : m_row,
								msg, cap, &len, o_s);
		if (st == MPC_OK)
			st = fixprod_receiver_use(fr, use, 0, n, mode, msg, len, o_r);
		for (size_t o = 0; o < nout && st == MPC_OK; o++)
		{
			uint64_t	want = 0;

			if (mode == FIXPROD_BY_COLUMN)
				for (size_t j = 0; j < k; j++)
					want += (uint64_t) (int64_t) x[o * k + j] * m_col[j];
			else
				for (size_t r = 0; r < n; r++)
					want += (uint64_t) (int64_t) x[r * k + o] * m_row[r];
			if (o_s[o] + o_r[o] != want)
				good = false;
		}
	}
	ok(st == MPC_OK && good, "fixprod: six uses (by column and by row) of one extension add up exactly: %s",
	   mpc_status_reason(st));
	/* A slice of rows inside, and a used use number refused. */
	memset(o_s, 0, n * 8);
	memset(o_r, 0, n * 8);
	st = fixprod_sender_use(fs, 7, 100, 50, FIXPROD_BY_COLUMN, m_col, msg, cap, &len, o_s);
	if (st == MPC_OK)
		st = fixprod_receiver_use(fr, 7, 100, 50, FIXPROD_BY_COLUMN, msg, len, o_r);
	good = st == MPC_OK;
	for (size_t r = 0; r < 50 && good; r++)
	{
		uint64_t	want = 0;

		for (size_t j = 0; j < k; j++)
			want += (uint64_t) (int64_t) x[(100 + r) * k + j] * m_col[j];
		good = o_s[r] + o_r[r] == want;
	}
	ok(good, "fixprod: a slice of rows 100..149 adds up");
	ok(fixprod_receiver_use(fr, 7, 100, 50, FIXPROD_BY_COLUMN, msg, len, o_r) == MPC_OUT_OF_ORDER,
	   "fixprod: a use number not above the last is refused");
	st = fixprod_sender_use(fs, 8, 0, 10, FIXPROD_BY_COLUMN, m_col, msg, cap, &len, o_s);
	ok(st == MPC_OK && fixprod_receiver_use(fr, 8, 0, 10, FIXPROD_BY_COLUMN, msg, len - 8, o_r) == MPC_BAD_LENGTH,
	   "fixprod: a short corrections message is refused");
	ok(fixprod_receiver_new(2, 1, 8, (int32_t[]) {128, 0}) == NULL, "fixprod: a value outside its bits is refused");
	fixprod_receiver_free(fr);
	fixprod_sender_free(fs);
	free(x);
	free(m_row);
	free(o_s);
	free(o_r);
	free(msg);
}

int
main(void)
{
	mpc_triple_party *p[2];

	if (sodium_init() < 0)
	{
		printf("Bail out! sodium_init failed\n");
		return 1;
	}
	test_transpose();
	test_base_ot();
	test_ext_ot();
	capturing = true;
	setup_pair(p);
	capturing = false;
	test_triples(p);
	test_products(p);
	test_malformed(p);
	test_fixed_point();
	test_trunc();
	test_fixprod();
	test_sign(p);
	capturing = true;
	test_mul_and_dot(p, NULL);
	capturing = false;
	mpc_triple_party_free(p[0]);
	mpc_triple_party_free(p[1]);
	free(captured[0].buf);
	free(captured[1].buf);
	return tap_done();
}
