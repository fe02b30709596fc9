/*
 * bench_mpc.c — throughput and traffic of the two-party engine core, no
 * server needed.
 *
 * The two parties run in two threads of this process (one per core on the
 * 2-core machine), each with its own mpc_triple_party, and exchange their
 * messages through an in-memory channel that counts every byte of every
 * message, headers included.  Nothing is shared between them except those
 * messages.  There is no network here: figures are computation plus memory
 * traffic; over libpq each flight adds a round trip and the bytes' transfer
 * time.
 *
 * Reported:
 *   Beaver triples per second and bytes per triple (both directions),
 *   online Beaver multiplications per second and bytes per multiplication,
 *   comparisons (sign bit) per second and bytes per comparison, offline
 *   (AND triples) and online (7 rounds) separately and together.
 *
 * Usage: bench_mpc [triples] [comparisons]   (default 1048576 and 262144)
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "crypto/mpc.h"
#include "crypto/ot.h"
#include "crypto/triples.h"

#define BEAVER_BATCH	32768
#define CMP_BATCH		8192
#define MUL_BATCH		262144

/* Goals of issue 6. */
#define GOAL_TRIPLES_PER_S		100000.0
#define GOAL_BYTES_PER_TRIPLE	2600.0
#define GOAL_CMP_PER_S			30000.0

/* ------------------------------------------------------- channel */

#define RING 8

typedef struct channel
{
	pthread_mutex_t mu;
	pthread_cond_t cv;
	const uint8_t *msg[RING];
	size_t		len[RING];
	unsigned	head,
				tail;
	uint64_t	bytes;			/* every byte ever sent this way */
	uint64_t	messages;
} channel;

static channel chan[2];			/* chan[i]: party i → party 1−i */

/*
 * Sending hands over a pointer: the protocols are lock-step, so a party
 * never rewrites a buffer before the peer has consumed it (the peer's next
 * message, which the party waits for, comes after that).
 */
static void
send_msg(int from, const uint8_t *msg, size_t len)
{
	channel    *c = &chan[from];

	pthread_mutex_lock(&c->mu);
	while (c->tail - c->head == RING)
		pthread_cond_wait(&c->cv, &c->mu);
	c->msg[c->tail % RING] = msg;
	c->len[c->tail % RING] = len;
	c->tail++;
	c->bytes += len;
	c->messages++;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

static const uint8_t *
recv_msg(int to, size_t *len)
{
	channel    *c = &chan[1 - to];
	const uint8_t *m;

	pthread_mutex_lock(&c->mu);
	while (c->tail == c->head)
		pthread_cond_wait(&c->cv, &c->mu);
	m = c->msg[c->head % RING];
	*len = c->len[c->head % RING];
	c->head++;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	return m;
}

static uint64_t
bytes_total(void)
{
	uint64_t	b;

	pthread_mutex_lock(&chan[0].mu);
	b = chan[0].bytes;
	pthread_mutex_unlock(&chan[0].mu);
	pthread_mutex_lock(&chan[1].mu);
	b += chan[1].bytes;
	pthread_mutex_unlock(&chan[1].mu);
	return b;
}

/* ------------------------------------------------------- phases */

typedef struct phase
{
	const char *name;
	double		seconds;		/* wall clock */
	uint64_t	bytes;
	double		cpu[2];			/* each party's thread CPU time */
} phase;

enum
{
	PH_SETUP,
	PH_BEAVER,
	PH_MUL,
	PH_AND,
	PH_SIGN,
	PH_COUNT
};

static phase phases[PH_COUNT] = {
	{"base OT setup", 0, 0, {0, 0}},
	{"Beaver triples", 0, 0, {0, 0}},
	{"online multiplications", 0, 0, {0, 0}},
	{"AND triples (comparison offline)", 0, 0, {0, 0}},
	{"comparison rounds (online)", 0, 0, {0, 0}}
};

static pthread_barrier_t barrier;
static size_t n_triples = 1u << 20;
static size_t n_cmp = 1u << 18;
static int	sign_rounds_seen;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double phase_t0;
static uint64_t phase_b0;
static double phase_cpu0[2];

static double
thread_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Both parties meet; party 0 opens or closes the phase's measurement. */
static void
phase_begin(int party)
{
	pthread_barrier_wait(&barrier);
	if (party == 0)
	{
		phase_b0 = bytes_total();
		phase_t0 = now();
	}
	phase_cpu0[party] = thread_cpu();
	pthread_barrier_wait(&barrier);
}

static void
phase_end(int party, int ph)
{
	phases[ph].cpu[party] += thread_cpu() - phase_cpu0[party];
	pthread_barrier_wait(&barrier);
	if (party == 0)
	{
		phases[ph].seconds = now() - phase_t0;
		phases[ph].bytes = bytes_total() - phase_b0;
	}
	pthread_barrier_wait(&barrier);
}

static void
check(mpc_status st, const char *what)
{
	if (st != MPC_OK)
	{
		fprintf(stderr, "bench_mpc: %s: %s\n", what, mpc_status_reason(st));
		exit(1);
	}
}

static void *
xmalloc(size_t n)
{
	void	   *p = malloc(n);

	if (p == NULL)
	{
		fprintf(stderr, "bench_mpc: out of memory\n");
		exit(1);
	}
	return p;
}

/* The whole script of one party. */
static void *
party_main(void *arg)
{
	int			me = (int) (intptr_t) arg;
	mpc_triple_party *p = mpc_triple_party_new(me);
	uint8_t		m1[64];
	uint8_t    *m2 = xmalloc(mpc_triple_setup_msg2_bytes());
	size_t		cap1 = mpc_beaver_msg1_bytes(BEAVER_BATCH),
				cap2 = mpc_beaver_msg2_bytes(BEAVER_BATCH);
	uint8_t    *b1 = xmalloc(cap1),
			   *b2 = xmalloc(cap2);
	uint64_t   *ta = xmalloc(n_triples * 8),
			   *tb = xmalloc(n_triples * 8),
			   *tc = xmalloc(n_triples * 8);
	const uint8_t *peer;
	size_t		len,
				plen;

	if (p == NULL)
		check(MPC_NO_MEMORY, "party");

	/* setup: base OTs both ways */
	phase_begin(me);
	check(mpc_triple_setup_start(p, m1, sizeof(m1), &len), "setup start");
	send_msg(me, m1, len);
	peer = recv_msg(me, &plen);
	check(mpc_triple_setup_respond(p, peer, plen, m2, mpc_triple_setup_msg2_bytes(), &len),
		  "setup respond");
	send_msg(me, m2, len);
	peer = recv_msg(me, &plen);
	check(mpc_triple_setup_finish(p, peer, plen), "setup finish");
	phase_end(me, PH_SETUP);

	/* Beaver triples */
	phase_begin(me);
	for (size_t done = 0; done < n_triples;)
	{
		size_t		k = n_triples - done < BEAVER_BATCH ? n_triples - done : BEAVER_BATCH;

		check(mpc_beaver_start(p, k, b1, cap1, &len), "beaver start");
		send_msg(me, b1, len);
		peer = recv_msg(me, &plen);
		check(mpc_beaver_respond(p, peer, plen, b2, cap2, &len), "beaver respond");
		send_msg(me, b2, len);
		peer = recv_msg(me, &plen);
		check(mpc_beaver_finish(p, peer, plen, ta + done, tb + done, tc + done), "beaver finish");
		done += k;
	}
	phase_end(me, PH_BEAVER);
	free(b1);
	free(b2);

	/* online multiplications over the triples just made */
	{
		uint64_t   *x = xmalloc(n_triples * 8),
				   *y = xmalloc(n_triples * 8),
				   *z = xmalloc(n_triples * 8);
		size_t		cap = mpc_mul_msg_bytes(MUL_BATCH);
		uint8_t    *own = xmalloc(cap);

		randombytes_buf(x, n_triples * 8);
		randombytes_buf(y, n_triples * 8);
		phase_begin(me);
		for (size_t done = 0; done < n_triples;)
		{
			size_t		k = n_triples - done < MUL_BATCH ? n_triples - done : MUL_BATCH;
			size_t		olen;

			check(mpc_mul_start(x + done, y + done, k, ta + done, tb + done, own, cap, &olen),
				  "mul start");
			send_msg(me, own, olen);
			peer = recv_msg(me, &plen);
			check(mpc_mul_finish(me, k, ta + done, tb + done, tc + done, own, olen, peer, plen,
								 z + done), "mul finish");
			/* the peer must be done with our buffer before we reuse it */
			pthread_barrier_wait(&barrier);
			done += k;
		}
		phase_end(me, PH_MUL);
		free(x);
		free(y);
		free(z);
		free(own);
	}
	free(ta);
	free(tb);
	free(tc);

	/* comparisons: AND triples, then the 7 rounds, per batch of CMP_BATCH */
	{
		size_t		nt = mpc_sign_and_triples(CMP_BATCH);
		size_t		acap = mpc_and_msg_bytes(nt);
		uint8_t    *am = xmalloc(acap);
		uint64_t   *aa = xmalloc(nt / 8),
				   *ab = xmalloc(nt / 8),
				   *ac = xmalloc(nt / 8);
		uint64_t   *x = xmalloc(CMP_BATCH * 8);
		uint64_t   *bits = xmalloc(CMP_BATCH / 8);
		double		t_and = 0,
					t_sign = 0;
		uint64_t	by_and = 0,
					by_sign = 0;

		for (size_t done = 0; done < n_cmp; done += CMP_BATCH)
		{
			mpc_sign   *sg;
			uint8_t    *rm[2];
			size_t		scap;
			bool		fin = false;
			int			rounds = 1,
						cur = 0;

			randombytes_buf(x, CMP_BATCH * 8);

			phase_begin(me);
			check(mpc_and_start(p, nt, am, acap, &len), "and start");
			send_msg(me, am, len);
			peer = recv_msg(me, &plen);
			check(mpc_and_finish(p, peer, plen, aa, ab, ac), "and finish");
			phase_end(me, PH_AND);
			t_and += phases[PH_AND].seconds;
			by_and += phases[PH_AND].bytes;

			sg = mpc_sign_new(me, CMP_BATCH, x, aa, ab, ac);
			if (sg == NULL)
				check(MPC_NO_MEMORY, "sign");
			scap = mpc_sign_msg_bytes(sg);
			rm[0] = xmalloc(scap);
			rm[1] = xmalloc(scap);

			phase_begin(me);
			check(mpc_sign_start(sg, rm[0], scap, &len), "sign start");
			send_msg(me, rm[0], len);
			while (!fin)
			{
				peer = recv_msg(me, &plen);
				/* alternate buffers: the peer may still read the previous one */
				cur ^= 1;
				check(mpc_sign_next(sg, peer, plen, rm[cur], scap, &len, &fin), "sign next");
				if (!fin)
				{
					send_msg(me, rm[cur], len);
					rounds++;
				}
			}
			check(mpc_sign_result(sg, bits), "sign result");
			phase_end(me, PH_SIGN);
			t_sign += phases[PH_SIGN].seconds;
			by_sign += phases[PH_SIGN].bytes;
			if (me == 0)
				sign_rounds_seen = rounds;
			mpc_sign_free(sg);
			free(rm[0]);
			free(rm[1]);
		}
		if (me == 0)
		{
			phases[PH_AND].seconds = t_and;
			phases[PH_AND].bytes = by_and;
			phases[PH_SIGN].seconds = t_sign;
			phases[PH_SIGN].bytes = by_sign;
		}
		free(am);
		free(aa);
		free(ab);
		free(ac);
		free(x);
		free(bits);
	}

	mpc_triple_party_free(p);
	free(m2);
	return NULL;
}

int
main(int argc, char **argv)
{
	pthread_t	th[2];
	double		tps,
				bpt,
				cps,
				bpc;

	if (argc > 1)
		n_triples = strtoull(argv[1], NULL, 10);
	if (argc > 2)
		n_cmp = strtoull(argv[2], NULL, 10);
	if (n_triples == 0 || n_cmp == 0)
	{
		fprintf(stderr, "usage: bench_mpc [triples] [comparisons]\n");
		return 2;
	}
	n_cmp = (n_cmp + CMP_BATCH - 1) / CMP_BATCH * CMP_BATCH;
	if (sodium_init() < 0)
		return 1;
	for (int i = 0; i < 2; i++)
	{
		pthread_mutex_init(&chan[i].mu, NULL);
		pthread_cond_init(&chan[i].cv, NULL);
	}
	pthread_barrier_init(&barrier, NULL, 2);
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, party_main, (void *) (intptr_t) i);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);

	printf("bench_mpc: two parties as two threads of one process, messages passed in memory\n");
	printf("           (every byte of every message counted, both directions).\n");
	printf("           Rates are wall clock; [cpu: ...] is the same work divided by the\n");
	printf("           busier party's thread CPU time, i.e. the rate with one dedicated\n");
	printf("           core per party, unaffected by other load on the machine.\n\n");
	printf("%-34s %10.3f s %12.0f bytes\n", phases[PH_SETUP].name,
		   phases[PH_SETUP].seconds, (double) phases[PH_SETUP].bytes);

	tps = n_triples / phases[PH_BEAVER].seconds;
#define BUSIEST(ph) (phases[ph].cpu[0] > phases[ph].cpu[1] ? phases[ph].cpu[0] : phases[ph].cpu[1])
	bpt = (double) phases[PH_BEAVER].bytes / n_triples;
	printf("%-34s %10zu in %.3f s: %9.0f triples/s (goal >= %.0f) %s\n",
		   phases[PH_BEAVER].name, n_triples, phases[PH_BEAVER].seconds, tps,
		   GOAL_TRIPLES_PER_S, tps >= GOAL_TRIPLES_PER_S ? "MET" : "MISSED");
	printf("%-34s %10s [cpu: %.0f triples/s]\n", "", "", n_triples / BUSIEST(PH_BEAVER));
	printf("%-34s %10.1f bytes/triple (goal <= %.0f) %s, 2 flights per batch of %d\n", "",
		   bpt, GOAL_BYTES_PER_TRIPLE, bpt <= GOAL_BYTES_PER_TRIPLE ? "MET" : "MISSED",
		   BEAVER_BATCH);

	printf("%-34s %10zu in %.3f s: %9.0f mult/s, %.1f bytes/mult, 1 flight\n",
		   phases[PH_MUL].name, n_triples, phases[PH_MUL].seconds,
		   n_triples / phases[PH_MUL].seconds, (double) phases[PH_MUL].bytes / n_triples);

	printf("%-34s %10zu in %.3f s: %9.0f cmp/s, %.1f bytes/cmp (%zu AND triples/cmp), 1 flight\n",
		   phases[PH_AND].name, n_cmp, phases[PH_AND].seconds,
		   n_cmp / phases[PH_AND].seconds, (double) phases[PH_AND].bytes / n_cmp,
		   mpc_sign_and_gates());
	printf("%-34s %10zu in %.3f s: %9.0f cmp/s, %.1f bytes/cmp, %d rounds\n",
		   phases[PH_SIGN].name, n_cmp, phases[PH_SIGN].seconds,
		   n_cmp / phases[PH_SIGN].seconds, (double) phases[PH_SIGN].bytes / n_cmp,
		   sign_rounds_seen);
	cps = n_cmp / (phases[PH_AND].seconds + phases[PH_SIGN].seconds);
	bpc = (double) (phases[PH_AND].bytes + phases[PH_SIGN].bytes) / n_cmp;
	printf("%-34s %10s %9.0f cmp/s (goal >= %.0f) %s, %.1f bytes/cmp, %d flights per batch of %d\n",
		   "comparisons, offline + online", "", cps, GOAL_CMP_PER_S,
		   cps >= GOAL_CMP_PER_S ? "MET" : "MISSED", bpc, 1 + sign_rounds_seen, CMP_BATCH);
	printf("%-34s %10s [cpu: %.0f cmp/s]\n", "", "",
		   n_cmp / (BUSIEST(PH_AND) + BUSIEST(PH_SIGN)));
	return 0;
}
