/*
 * mpc_session.c — each party's work per step of a two-party run, and the
 * asker's side of the flights that carry the steps (see mpc_flight.h; the
 * schedule itself is mpc_schedule.c).
 */
#include "postgres.h"

#include <sodium.h>

#include "miscadmin.h"
#include "portability/instr_time.h"
#include "utils/memutils.h"

#include "crypto/mpc.h"
#include "crypto/triples.h"
#include "protocol/mpc/mpc_flight.h"

/* ----------------------------------------------------------------------
 * A party's session
 * ----------------------------------------------------------------------
 */

typedef struct ChunkState
{
	int			c;				/* -1: none */
	int64		rows;
	uint64		products;
	uint64	   *x,				/* my shares: features (rows × k) or test inputs */
			   *y,				/* self-test: second inputs */
			   *ta,
			   *tb,
			   *tc,
			   *z;				/* my shares of the results (rows) */
	size_t		and_words;
	uint64	   *aa,
			   *ab,
			   *ac;
	uint64	   *bits;			/* my XOR shares of the sign bits */
	mpc_sign   *sign;
	uint8	   *pending;		/* the next sign round's message */
	size_t		pending_len;
	uint8	   *own;			/* the asker's DOT/MUL message, kept for finishing */
	size_t		own_len;
} ChunkState;

struct MpcSession
{
	int			party;
	const MpcPlan *plan;
	MemoryContext cxt;
	const char *sender;
	mpc_triple_party *lane[2];
	uint8	   *setup2[2];		/* asker: its base-OT response, sent next */
	size_t		setup2_len[2];
	uint8	   *tau[2];			/* asker: its τ of the lane's pending batch */
	size_t		tau_len[2];
	size_t		tau_cap[2];
	const int64 *x_all;			/* owner: features, rows × k */
	const int64 *w;				/* asker: weights (k) */
	const int64 *local;			/* asker: its part of each row's score */
	ChunkState	ch;
	int			done;			/* steps processed or absorbed */
	int64	   *scores;
	uint64	   *flags;
	MpcTally	tally;
};

static void
check(MpcSession *s, mpc_status st, const char *what)
{
	if (st == MPC_OK)
		return;
	switch (st)
	{
		case MPC_NO_MEMORY:
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory in the two-party engine (%s)", what)));
			break;
		case MPC_BAD_STATE:
		case MPC_BUFFER_TOO_SMALL:
		case MPC_CRYPTO_FAILED:
		case MPC_OUT_OF_RANGE:
			elog(ERROR, "two-party engine failed at %s: %s", what, mpc_status_reason(st));
			break;
		default:
			wire_malformed(s->sender, psprintf("%s: %s.", what, mpc_status_reason(st)));
	}
}

static void *
alloc_zero(MpcSession *s, size_t bytes)
{
	return MemoryContextAllocExtended(s->cxt, Max(bytes, 8), MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
}

static void
wipe_pfree(void *p, size_t bytes)
{
	if (p != NULL)
	{
		sodium_memzero(p, bytes);
		pfree(p);
	}
}

static void
chunk_clear(MpcSession *s)
{
	ChunkState *c = &s->ch;
	size_t		k = (size_t) Max(s->plan->k, 1);
	size_t		xn = s->plan->mode == MPC_MODE_SELFTEST ? (size_t) c->rows : (size_t) c->rows * k;

	if (c->c < 0)
		return;
	wipe_pfree(c->x, xn * 8);
	wipe_pfree(c->y, (size_t) c->rows * 8);
	wipe_pfree(c->ta, c->products * 8);
	wipe_pfree(c->tb, c->products * 8);
	wipe_pfree(c->tc, c->products * 8);
	wipe_pfree(c->z, (size_t) c->rows * 8);
	wipe_pfree(c->aa, c->and_words * 8);
	wipe_pfree(c->ab, c->and_words * 8);
	wipe_pfree(c->ac, c->and_words * 8);
	wipe_pfree(c->bits, ((size_t) c->rows + 63) / 64 * 8);
	mpc_sign_free(c->sign);
	if (c->pending)
		pfree(c->pending);
	if (c->own)
		pfree(c->own);
	memset(c, 0, sizeof(*c));
	c->c = -1;
}

static void
chunk_start(MpcSession *s, int chunk)
{
	const MpcChunkPlan *cp = &s->plan->chunks[chunk];
	ChunkState *c = &s->ch;
	size_t		k = (size_t) Max(s->plan->k, 1);

	chunk_clear(s);
	c->c = chunk;
	c->rows = cp->rows;
	c->products = cp->products;
	c->x = alloc_zero(s, (s->plan->mode == MPC_MODE_SELFTEST ? (size_t) cp->rows : (size_t) cp->rows * k) * 8);
	c->z = alloc_zero(s, (size_t) cp->rows * 8);
	c->bits = alloc_zero(s, ((size_t) cp->rows + 63) / 64 * 8);
	if (cp->products > 0)
	{
		c->ta = alloc_zero(s, cp->products * 8);
		c->tb = alloc_zero(s, cp->products * 8);
		c->tc = alloc_zero(s, cp->products * 8);
	}
	if (cp->and_triples > 0)
	{
		c->and_words = cp->and_triples / 64;
		c->aa = alloc_zero(s, c->and_words * 8);
		c->ab = alloc_zero(s, c->and_words * 8);
		c->ac = alloc_zero(s, c->and_words * 8);
	}
	if (s->plan->mode == MPC_MODE_SELFTEST)
	{
		c->y = alloc_zero(s, (size_t) cp->rows * 8);
		/* Random shared inputs: each party draws its own share. */
		if (cp->compare)
			randombytes_buf(c->z, (size_t) cp->rows * 8);
		else
		{
			randombytes_buf(c->x, (size_t) cp->rows * 8);
			randombytes_buf(c->y, (size_t) cp->rows * 8);
		}
	}
}

MpcSession *
mpc_session_new(int party, const MpcPlan *plan, MemoryContext cxt, const char *sender)
{
	MpcSession *s = MemoryContextAllocZero(cxt, sizeof(MpcSession));

	s->party = party;
	s->plan = plan;
	s->cxt = cxt;
	s->sender = MemoryContextStrdup(cxt, sender);
	s->ch.c = -1;
	for (int l = 0; l < 2; l++)
	{
		s->lane[l] = mpc_triple_party_new(party);
		if (s->lane[l] == NULL)
		{
			mpc_session_free(s);
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory in the two-party engine")));
		}
	}
	if (party == 0 && plan->mode == MPC_MODE_SCORE)
		s->scores = alloc_zero(s, (size_t) plan->rows * 8);
	if (party == 0 && plan->mode == MPC_MODE_FLAG)
		s->flags = alloc_zero(s, ((size_t) plan->rows + 63) / 64 * 8);
	return s;
}

void
mpc_session_free(MpcSession *s)
{
	if (s == NULL)
		return;
	chunk_clear(s);
	for (int l = 0; l < 2; l++)
	{
		mpc_triple_party_free(s->lane[l]);
		s->lane[l] = NULL;
		if (s->setup2[l])
			pfree(s->setup2[l]);
		if (s->tau[l])
			pfree(s->tau[l]);
		s->setup2[l] = s->tau[l] = NULL;
	}
}

void
mpc_session_owner_input(MpcSession *s, const int64 *x)
{
	s->x_all = x;
}

void
mpc_session_asker_input(MpcSession *s, const int64 *w, const int64 *local)
{
	s->w = w;
	s->local = local;
}

const int64 *
mpc_session_scores(const MpcSession *s)
{
	return s->scores;
}

const uint64 *
mpc_session_flags(const MpcSession *s)
{
	return s->flags;
}

MpcTally *
mpc_session_tally(MpcSession *s)
{
	return &s->tally;
}

int
mpc_session_steps_done(const MpcSession *s)
{
	return s->done;
}

static uint8 *
msg_buffer(MpcSession *s, size_t bytes)
{
	return MemoryContextAllocExtended(s->cxt, Max(bytes, 1), MCXT_ALLOC_HUGE);
}

/* The asker's kept correction message of a lane, with room for cap bytes. */
static void
tau_room(MpcSession *s, int lane, size_t cap)
{
	if (s->tau_cap[lane] >= cap)
		return;
	if (s->tau[lane])
		pfree(s->tau[lane]);
	s->tau[lane] = msg_buffer(s, cap);
	s->tau_cap[lane] = cap;
}

/* Self-test: a party's a, b, c, x, y, z of a chunk, back to back (6n words). */
static uint64 *
chunk_opened_values(const ChunkState *c)
{
	size_t		n = (size_t) c->rows;
	uint64	   *v = palloc_extended(6 * n * 8, MCXT_ALLOC_HUGE);
	const uint64 *parts[6] = {c->ta, c->tb, c->tc, c->x, c->y, c->z};

	for (int i = 0; i < 6; i++)
		memcpy(v + i * n, parts[i], n * 8);
	return v;
}

static const MpcStep *
step_at(MpcSession *s, int i)
{
	Assert(i >= 0 && i < s->plan->nsteps);
	return &s->plan->steps[i];
}

/* The chunk a step works on must be the one started. */
static ChunkState *
chunk_of(MpcSession *s, const MpcStep *st)
{
	if (st->chunk != s->ch.c)
		elog(ERROR, "two-party step for chunk %d while chunk %d is open", st->chunk, s->ch.c);
	return &s->ch;
}

/*
 * A chunk's scores on shares: z_r = Σ_j (share of x_rj·w_j).  The owner's
 * choice strings were X + 2^29, so the asker, which knows w, takes
 * 2^29·Σw off its share, and adds its own part of the score (its features,
 * and minus the threshold in flag mode), which it computes alone.
 */
static void
chunk_sum(MpcSession *s, ChunkState *c)
{
	int			k = s->plan->k;
	const MpcChunkPlan *cp = &s->plan->chunks[c->c];
	uint64		offset = 0;

	if (s->party == 0)
		for (int j = 0; j < k; j++)
			offset -= (uint64) MPC_VALUE_BOUND * (uint64) s->w[j];
	for (int64 r = 0; r < c->rows; r++)
	{
		uint64		z = 0;

		for (int j = 0; j < k; j++)
			z += c->x[r * k + j];
		if (s->party == 0)
			z += offset + (uint64) s->local[cp->first_row + r];
		c->z[r] = z;
	}
}

/* Sign round: consume the peer's message, keep ours for the next round. */
static void
sign_advance(MpcSession *s, ChunkState *c, const uint8 *peer, size_t peer_len, int round)
{
	size_t		cap = mpc_sign_msg_bytes(c->sign);
	size_t		len = 0;
	bool		done = false;
	uint8	   *next = msg_buffer(s, cap);

	check(s, mpc_sign_next(c->sign, peer, peer_len, next, cap, &len, &done), "comparison round");
	if (c->pending)
		pfree(c->pending);
	c->pending = NULL;
	c->pending_len = 0;
	if (done != (round == MPC_SIGN_ROUNDS))
		elog(ERROR, "comparison ended after round %d of %d", round, MPC_SIGN_ROUNDS);
	if (done)
	{
		pfree(next);
		check(s, mpc_sign_result(c->sign, c->bits), "comparison result");
	}
	else
	{
		c->pending = next;
		c->pending_len = len;
	}
}

static void
sign_begin(MpcSession *s, ChunkState *c)
{
	size_t		cap;

	c->sign = mpc_sign_new(s->party, (size_t) c->rows, c->z, c->aa, c->ab, c->ac);
	if (c->sign == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory in the two-party engine (comparison)")));
	cap = mpc_sign_msg_bytes(c->sign);
	c->pending = msg_buffer(s, cap);
	check(s, mpc_sign_start(c->sign, c->pending, cap, &c->pending_len), "comparison start");
}

/* ----------------------------------------------------------------------
 * Asker (party 0)
 * ----------------------------------------------------------------------
 */

/* Bytes of the asker's message for a step (an upper bound for SIGN: 0). */
static size_t
asker_bytes(const MpcSession *s pg_attribute_unused(), const MpcStep *st)
{
	switch ((MpcStepKind) st->kind)
	{
		case MPC_STEP_SETUP1:
			return mpc_triple_setup_msg1_bytes();
		case MPC_STEP_SETUP2:
			return mpc_triple_setup_msg2_bytes();
		case MPC_STEP_PRODUCT_TAU:
			return mpc_product_msg2_bytes(st->n);
		case MPC_STEP_BEAVER_U:
			return mpc_beaver_msg1_bytes(st->n);
		case MPC_STEP_BEAVER_TAU:
			return mpc_beaver_msg2_bytes(st->n);
		case MPC_STEP_AND:
			return mpc_and_msg_bytes(st->n);
		case MPC_STEP_MUL:
			return mpc_mul_msg_bytes(st->n);
		default:
			return 0;
	}
}

/* A kept message (τ, base-OT response, sign round) goes into the flight. */
static void
put_kept(WireBuilder *b, uint8 **msg, size_t len, const char *what)
{
	if (*msg == NULL)
		elog(ERROR, "two-party step has no %s to send", what);
	wire_builder_add(b, *msg, (uint32) len);
}

void
mpc_asker_prepare(MpcSession *s, int i, WireBuilder *b)
{
	const MpcStep *st = step_at(s, i);
	mpc_triple_party *lane = s->lane[st->lane];
	ChunkState *c;
	size_t		cap = asker_bytes(s, st);
	size_t		len = 0;
	uint8	   *out;

	switch ((MpcStepKind) st->kind)
	{
		case MPC_STEP_SETUP1:
			out = wire_builder_reserve(b, cap);
			check(s, mpc_triple_setup_start(lane, out, cap, &len), "base OT");
			wire_builder_commit(b, (uint32) len);
			break;
		case MPC_STEP_SETUP2:
			put_kept(b, &s->setup2[st->lane], s->setup2_len[st->lane], "base-OT response");
			break;
		case MPC_STEP_CHUNK:
			chunk_start(s, st->chunk);
			wire_builder_add(b, (const uint8 *) "", 0);
			break;
		case MPC_STEP_PRODUCT_U:
			wire_builder_add(b, (const uint8 *) "", 0);
			break;
		case MPC_STEP_PRODUCT_TAU:
			put_kept(b, &s->tau[st->lane], s->tau_len[st->lane], "product correction");
			break;
		case MPC_STEP_SUM:
			chunk_sum(s, chunk_of(s, st));
			wire_builder_add(b, (const uint8 *) "", 0);
			break;
		case MPC_STEP_BEAVER_U:
			out = wire_builder_reserve(b, cap);
			check(s, mpc_beaver_start(lane, st->n, out, cap, &len), "Beaver triples");
			wire_builder_commit(b, (uint32) len);
			break;
		case MPC_STEP_BEAVER_TAU:
			put_kept(b, &s->tau[st->lane], s->tau_len[st->lane], "Beaver correction");
			break;
		case MPC_STEP_AND:
			out = wire_builder_reserve(b, cap);
			check(s, mpc_and_start(lane, st->n, out, cap, &len), "AND triples");
			wire_builder_commit(b, (uint32) len);
			break;
		case MPC_STEP_MUL:
			c = chunk_of(s, st);
			c->own = msg_buffer(s, cap);
			check(s, mpc_mul_start(c->x, c->y, (size_t) c->rows, c->ta, c->tb, c->own, cap,
								   &c->own_len), "multiplication");
			wire_builder_add(b, c->own, (uint32) c->own_len);
			break;
		case MPC_STEP_SIGN:
			c = chunk_of(s, st);
			if (st->round == 1)
				sign_begin(s, c);
			put_kept(b, &c->pending, c->pending_len, "comparison round");
			break;
		case MPC_STEP_REVEAL:
		case MPC_STEP_OPEN_TRIPLES:
		case MPC_STEP_OPEN_SIGN:
			wire_builder_add(b, (const uint8 *) "", 0);
			break;
	}
}

static void
expect_items(MpcSession *s, const MpcStep *st, int nitems)
{
	if (nitems != mpc_step_reply_items(st))
		wire_malformed(s->sender, psprintf("%d messages for a step that has %d.", nitems,
											 mpc_step_reply_items(st)));
}

static void
absorb_reveal(MpcSession *s, const MpcStep *st pg_attribute_unused(), ChunkState *c, const uint8 *item, uint32 len)
{
	const MpcChunkPlan *cp = &s->plan->chunks[c->c];
	size_t		n = (size_t) c->rows;

	if (s->plan->mode == MPC_MODE_SCORE)
	{
		check(s, mpc_open_receive(c->z, n, item, len, (uint64 *) s->scores + cp->first_row),
			  "scores");
	}
	else
	{
		uint64	   *bits = palloc(((n + 63) / 64) * 8);

		check(s, mpc_open_bits_receive(c->bits, n, item, len, bits), "flags");
		/* The sign bit of Σ − threshold is 1 when the score is below it. */
		for (size_t r = 0; r < n; r++)
		{
			uint64		row = (uint64) cp->first_row + r;

			if (((bits[r / 64] >> (r % 64)) & 1) == 0)
				s->flags[row / 64] |= UINT64CONST(1) << (row % 64);
		}
		pfree(bits);
	}
}

static void
absorb_open_triples(MpcSession *s, ChunkState *c, const uint8 *item, uint32 len)
{
	size_t		n = (size_t) c->rows;
	uint64	   *mine = chunk_opened_values(c);
	uint64	   *v = palloc_extended(6 * n * 8, MCXT_ALLOC_HUGE);
	check(s, mpc_open_receive(mine, 6 * n, item, len, v), "opened triples");
	for (size_t i = 0; i < n; i++)
	{
		if (v[i] * v[n + i] != v[2 * n + i])
			s->tally.triples_bad++;
		if (v[3 * n + i] * v[4 * n + i] != v[5 * n + i])
			s->tally.products_bad++;
	}
	s->tally.triples_checked += n;
	s->tally.products_checked += n;
	pfree(mine);
	pfree(v);
}

static void
absorb_open_sign(MpcSession *s, ChunkState *c, const uint8 *const *items, const uint32 *lens)
{
	size_t		n = (size_t) c->rows;
	uint64	   *v = palloc_extended(n * 8, MCXT_ALLOC_HUGE);
	uint64	   *bits = palloc(((n + 63) / 64) * 8);

	check(s, mpc_open_receive(c->z, n, items[0], lens[0], v), "opened comparison inputs");
	check(s, mpc_open_bits_receive(c->bits, n, items[1], lens[1], bits), "opened comparison bits");
	for (size_t i = 0; i < n; i++)
		if (((bits[i / 64] >> (i % 64)) & 1) != (v[i] >> 63))
			s->tally.signs_bad++;
	s->tally.signs_checked += n;
	pfree(v);
	pfree(bits);
}

void
mpc_asker_absorb(MpcSession *s, int i, const uint8 *const *items, const uint32 *lens, int nitems)
{
	const MpcStep *st = step_at(s, i);
	mpc_triple_party *lane = s->lane[st->lane];
	ChunkState *c;
	size_t		cap;

	expect_items(s, st, nitems);
	switch ((MpcStepKind) st->kind)
	{
		case MPC_STEP_SETUP1:
			cap = mpc_triple_setup_msg2_bytes();
			if (s->setup2[st->lane] == NULL)
				s->setup2[st->lane] = msg_buffer(s, cap);
			check(s, mpc_triple_setup_respond(lane, items[0], lens[0], s->setup2[st->lane], cap,
											  &s->setup2_len[st->lane]), "base OT");
			check(s, mpc_triple_setup_finish(lane, items[1], lens[1]), "base OT");
			break;
		case MPC_STEP_BEAVER_U:
			c = chunk_of(s, st);
			cap = mpc_beaver_msg2_bytes(st->n);
			tau_room(s, st->lane, cap);
			check(s, mpc_beaver_respond(lane, items[0], lens[0], s->tau[st->lane], cap,
										&s->tau_len[st->lane]), "Beaver triples");
			check(s, mpc_beaver_finish(lane, items[1], lens[1], c->ta + st->offset,
									   c->tb + st->offset, c->tc + st->offset), "Beaver triples");
			break;
		case MPC_STEP_AND:
			c = chunk_of(s, st);
			check(s, mpc_and_finish(lane, items[0], lens[0], c->aa + st->offset, c->ab + st->offset,
									c->ac + st->offset), "AND triples");
			break;
		case MPC_STEP_PRODUCT_U:
			{
				uint64	   *w = palloc(sizeof(uint64) * st->n);
				int			k = s->plan->k;

				c = chunk_of(s, st);
				cap = mpc_product_msg2_bytes(st->n);
				tau_room(s, st->lane, cap);
				/* product i of the chunk is row i / k, feature i % k */
				for (uint32 i = 0; i < st->n; i++)
					w[i] = (uint64) s->w[(st->offset + i) % k];
				check(s, mpc_product_send(lane, items[0], lens[0], st->n, w, s->tau[st->lane], cap,
										  &s->tau_len[st->lane], c->x + st->offset),
					  "input products");
				sodium_memzero(w, sizeof(uint64) * st->n);
				pfree(w);
				break;
			}
		case MPC_STEP_MUL:
			c = chunk_of(s, st);
			check(s, mpc_mul_finish(0, (size_t) c->rows, c->ta, c->tb, c->tc, c->own, c->own_len,
									items[0], lens[0], c->z), "multiplication");
			pfree(c->own);
			c->own = NULL;
			break;
		case MPC_STEP_SIGN:
			c = chunk_of(s, st);
			sign_advance(s, c, items[0], lens[0], st->round);
			break;
		case MPC_STEP_REVEAL:
			c = chunk_of(s, st);
			absorb_reveal(s, st, c, items[0], lens[0]);
			break;
		case MPC_STEP_OPEN_TRIPLES:
			absorb_open_triples(s, chunk_of(s, st), items[0], lens[0]);
			break;
		case MPC_STEP_OPEN_SIGN:
			absorb_open_sign(s, chunk_of(s, st), items, lens);
			break;
		default:
			break;
	}
	s->done = i + 1;
}

/* ----------------------------------------------------------------------
 * Owner (party 1)
 * ----------------------------------------------------------------------
 */

/* Bytes of the owner's reply items for a step (0 when unknown: SIGN). */
static size_t
reply_bytes(const MpcSession *s pg_attribute_unused(), const MpcStep *st)
{
	switch ((MpcStepKind) st->kind)
	{
		case MPC_STEP_SETUP1:
			return mpc_triple_setup_msg1_bytes() + mpc_triple_setup_msg2_bytes() + 8;
		case MPC_STEP_BEAVER_U:
			return mpc_beaver_msg1_bytes(st->n) + mpc_beaver_msg2_bytes(st->n) + 8;
		case MPC_STEP_AND:
			return mpc_and_msg_bytes(st->n) + 4;
		case MPC_STEP_PRODUCT_U:
			return mpc_product_msg1_bytes(st->n) + 4;
		case MPC_STEP_MUL:
			return mpc_mul_msg_bytes(st->n) + 4;
		case MPC_STEP_REVEAL:
			return mpc_values_msg_bytes(st->n) + 4;
		case MPC_STEP_OPEN_TRIPLES:
			return mpc_values_msg_bytes(6 * (size_t) st->n) + 4;
		case MPC_STEP_OPEN_SIGN:
			return mpc_values_msg_bytes(st->n) + mpc_bits_msg_bytes(st->n) + 8;
		default:
			return 0;
	}
}

void
mpc_owner_process(MpcSession *s, int i, const uint8 *msg, uint32 len, WireBuilder *reply)
{
	const MpcStep *st = step_at(s, i);
	mpc_triple_party *lane = s->lane[st->lane];
	ChunkState *c;
	uint8	   *out;
	size_t		cap,
				olen;

	/* Steps whose asker message is empty must get an empty one. */
	switch ((MpcStepKind) st->kind)
	{
		case MPC_STEP_CHUNK:
		case MPC_STEP_PRODUCT_U:
		case MPC_STEP_SUM:
		case MPC_STEP_REVEAL:
		case MPC_STEP_OPEN_TRIPLES:
		case MPC_STEP_OPEN_SIGN:
			if (len != 0)
				wire_malformed(s->sender, psprintf("Step %d carries %u unexpected bytes.", i, len));
			break;
		default:
			break;
	}

	/* Each reply item is written in place: reserve, write, commit. */
#define REPLY(capacity, call, what) \
	do { \
		cap = (capacity); \
		out = wire_builder_reserve(reply, cap); \
		check(s, (call), (what)); \
		wire_builder_commit(reply, (uint32) olen); \
	} while (0)

	switch ((MpcStepKind) st->kind)
	{
		case MPC_STEP_SETUP1:
			REPLY(mpc_triple_setup_msg1_bytes(),
				  mpc_triple_setup_start(lane, out, cap, &olen), "base OT");
			REPLY(mpc_triple_setup_msg2_bytes(),
				  mpc_triple_setup_respond(lane, msg, len, out, cap, &olen), "base OT");
			break;
		case MPC_STEP_SETUP2:
			check(s, mpc_triple_setup_finish(lane, msg, len), "base OT");
			break;
		case MPC_STEP_CHUNK:
			chunk_start(s, st->chunk);
			break;
		case MPC_STEP_PRODUCT_U:
			{
				const MpcChunkPlan *cp;
				uint64	   *x = palloc(sizeof(uint64) * st->n);

				c = chunk_of(s, st);
				cp = &s->plan->chunks[c->c];
				/* X + 2^29 ≥ 0 is the choice string; the asker removes 2^29·w. */
				for (uint32 i = 0; i < st->n; i++)
					x[i] = (uint64) (s->x_all[cp->first_row * s->plan->k + st->offset + i] +
									 MPC_VALUE_BOUND);
				REPLY(mpc_product_msg1_bytes(st->n),
					  mpc_product_receive_start(lane, st->n, x, out, cap, &olen), "input products");
				sodium_memzero(x, sizeof(uint64) * st->n);
				pfree(x);
				break;
			}
		case MPC_STEP_PRODUCT_TAU:
			c = chunk_of(s, st);
			check(s, mpc_product_receive_finish(lane, msg, len, c->x + st->offset), "input products");
			break;
		case MPC_STEP_SUM:
			chunk_sum(s, chunk_of(s, st));
			break;
		case MPC_STEP_BEAVER_U:
			chunk_of(s, st);
			REPLY(mpc_beaver_msg1_bytes(st->n),
				  mpc_beaver_start(lane, st->n, out, cap, &olen), "Beaver triples");
			REPLY(mpc_beaver_msg2_bytes(st->n),
				  mpc_beaver_respond(lane, msg, len, out, cap, &olen), "Beaver triples");
			break;
		case MPC_STEP_BEAVER_TAU:
			c = chunk_of(s, st);
			check(s, mpc_beaver_finish(lane, msg, len, c->ta + st->offset, c->tb + st->offset,
									   c->tc + st->offset), "Beaver triples");
			break;
		case MPC_STEP_AND:
			c = chunk_of(s, st);
			REPLY(mpc_and_msg_bytes(st->n),
				  mpc_and_start(lane, st->n, out, cap, &olen), "AND triples");
			check(s, mpc_and_finish(lane, msg, len, c->aa + st->offset, c->ab + st->offset,
									c->ac + st->offset), "AND triples");
			break;
		case MPC_STEP_MUL:
			c = chunk_of(s, st);
			cap = mpc_mul_msg_bytes((size_t) c->rows);
			out = wire_builder_reserve(reply, cap);
			check(s, mpc_mul_start(c->x, c->y, (size_t) c->rows, c->ta, c->tb, out, cap, &olen),
				  "multiplication");
			check(s, mpc_mul_finish(1, (size_t) c->rows, c->ta, c->tb, c->tc, out, olen, msg, len,
									c->z), "multiplication");
			wire_builder_commit(reply, (uint32) olen);
			break;
		case MPC_STEP_SIGN:
			c = chunk_of(s, st);
			if (st->round == 1)
				sign_begin(s, c);
			if (c->pending == NULL)
				elog(ERROR, "comparison round %d has no message", st->round);
			wire_builder_add(reply, c->pending, (uint32) c->pending_len);
			sign_advance(s, c, msg, len, st->round);
			break;
		case MPC_STEP_REVEAL:
			c = chunk_of(s, st);
			if (s->plan->mode == MPC_MODE_SCORE)
				REPLY(mpc_values_msg_bytes((size_t) c->rows),
					  mpc_open_send(c->z, (size_t) c->rows, out, cap, &olen), "scores");
			else
				REPLY(mpc_bits_msg_bytes((size_t) c->rows),
					  mpc_open_bits_send(c->bits, (size_t) c->rows, out, cap, &olen), "flags");
			break;
		case MPC_STEP_OPEN_TRIPLES:
			{
				size_t		n;
				uint64	   *v;

				c = chunk_of(s, st);
				n = (size_t) c->rows;
				v = chunk_opened_values(c);
				REPLY(mpc_values_msg_bytes(6 * n),
					  mpc_open_send(v, 6 * n, out, cap, &olen), "opening triples");
				pfree(v);
				break;
			}
		case MPC_STEP_OPEN_SIGN:
			c = chunk_of(s, st);
			REPLY(mpc_values_msg_bytes((size_t) c->rows),
				  mpc_open_send(c->z, (size_t) c->rows, out, cap, &olen), "opening inputs");
			REPLY(mpc_bits_msg_bytes((size_t) c->rows),
				  mpc_open_bits_send(c->bits, (size_t) c->rows, out, cap, &olen), "opening bits");
			break;
	}
#undef REPLY
	s->done = i + 1;
}

bytea *
mpc_owner_flight(MpcSession *s, bytea *flight)
{
	WireReader r;
	const uint8 *item;
	uint32		len;
	uint32		first,
				count;
	WireBuilder reply;

	wire_reader_init(&r, flight, WIRE_MPC_FLIGHT, (uint32) s->plan->nsteps + 1, PG_UINT32_MAX,
					 s->sender);
	if (!wire_reader_next(&r, &item, &len) || len != 8)
		wire_malformed(s->sender, "A flight starts with its first step and step count.");
	first = wire_get_u32(item);
	count = wire_get_u32(item + 4);
	if (first != (uint32) s->done)
		wire_malformed(s->sender, psprintf("Flight for step %u out of order: step %d is next.",
											 first, s->done));
	if (count == 0 || count > (uint32) (s->plan->nsteps - s->done) || r.remaining != count)
		wire_malformed(s->sender, psprintf("A flight of %u steps with %u messages, %d steps left.",
											 count, r.remaining, s->plan->nsteps - s->done));

	{
		size_t		bytes = 0;

		for (uint32 j = 0; j < count; j++)
			bytes += reply_bytes(s, &s->plan->steps[first + j]);
		wire_builder_init_sized(&reply, WIRE_MPC_REPLY, bytes + 12);
	}
	/* The reply names the flight it answers, so a replayed reply is refused. */
	{
		uint8		head[8];

		wire_put_u32(head, first);
		wire_put_u32(head + 4, count);
		wire_builder_add(&reply, head, 8);
	}
	for (uint32 j = 0; j < count; j++)
	{
		CHECK_FOR_INTERRUPTS();
		wire_reader_next(&r, &item, &len);
		mpc_owner_process(s, (int) (first + j), item, len, &reply);
	}
	return wire_builder_finish(&reply);
}

/* ----------------------------------------------------------------------
 * The asker's side of the flights
 * ----------------------------------------------------------------------
 */

static bool
laned(const MpcStep *st)
{
	switch ((MpcStepKind) st->kind)
	{
		case MPC_STEP_SETUP1:
		case MPC_STEP_SETUP2:
		case MPC_STEP_BEAVER_U:
		case MPC_STEP_BEAVER_TAU:
		case MPC_STEP_PRODUCT_U:
		case MPC_STEP_PRODUCT_TAU:
		case MPC_STEP_AND:
			return true;
		default:
			return false;
	}
}

static void
absorb_reply(MpcSession *s, bytea *reply, int first, int count, instr_time *last)
{
	WireReader r;
	int			expected = 0;
	const uint8 *items[2];
	uint32		lens[2];

	const uint8 *head;
	uint32		head_len;

	for (int i = first; i < first + count; i++)
		expected += mpc_step_reply_items(&s->plan->steps[i]);
	wire_reader_init(&r, reply, WIRE_MPC_REPLY, (uint32) expected + 1, PG_UINT32_MAX, s->sender);
	if (r.remaining != (uint32) expected + 1)
		wire_malformed(s->sender, psprintf("%u messages answer steps that have %d.", r.remaining, expected));
	wire_reader_next(&r, &head, &head_len);
	if (head_len != 8 || wire_get_u32(head) != (uint32) first || wire_get_u32(head + 4) != (uint32) count)
		wire_malformed(s->sender, psprintf("A reply that does not answer flight %d (%d steps).",
											 first, count));
	for (int i = first; i < first + count; i++)
	{
		const MpcStep *st = &s->plan->steps[i];
		int			n = mpc_step_reply_items(st);
		instr_time	now;

		for (int j = 0; j < n; j++)
		{
			wire_reader_next(&r, &items[j], &lens[j]);
			s->tally.bytes[st->part] += lens[j];
		}
		mpc_asker_absorb(s, i, items, lens, n);
		INSTR_TIME_SET_CURRENT(now);
		s->tally.seconds[st->part] += INSTR_TIME_GET_DOUBLE(now) - INSTR_TIME_GET_DOUBLE(*last);
		*last = now;
	}
	pfree(reply);
}

/*
 * The next flight: the steps from s->next whose dependencies are absorbed,
 * of one lane at most and about MPC_FLIGHT_BYTES; NULL if none is ready.
 */
static bytea *
build_flight(MpcSession *s, int *next, int *first, int *count)
{
	const MpcPlan *p = s->plan;
	int			lane = -1;
	size_t		bytes = 0;
	int			stop;
	WireBuilder b;
	uint8		head[8];

	for (stop = *next; stop < p->nsteps; stop++)
	{
		const MpcStep *st = &p->steps[stop];

		if (st->dep >= s->done)
			break;
		if (stop > *next && bytes >= MPC_FLIGHT_BYTES)
			break;
		if (laned(st) && lane >= 0 && st->lane != lane)
			break;
		if (laned(st))
			lane = st->lane;
		bytes += asker_bytes(s, st) + 4;
	}
	if (stop == *next)
		return NULL;
	*first = *next;
	*count = stop - *next;
	wire_put_u32(head, (uint32) *first);
	wire_put_u32(head + 4, (uint32) *count);
	wire_builder_init_sized(&b, WIRE_MPC_FLIGHT, bytes + 12);
	wire_builder_add(&b, head, 8);
	for (; *next < stop; (*next)++)
	{
		int			before = b.buf.len;

		mpc_asker_prepare(s, *next, &b);
		s->tally.bytes[p->steps[*next].part] += b.buf.len - before - 4;
	}
	return wire_builder_finish(&b);
}

void
mpc_asker_run(MpcSession *s, mpc_send_fn send, mpc_receive_fn receive, void *arg)
{
	const MpcPlan *p = s->plan;
	int			next = 0;
	bytea	   *ready = NULL;	/* built, not sent yet */
	int			ready_first = 0;
	int			ready_count = 0;
	bytea	   *pending = NULL; /* received, not absorbed yet */
	int			pending_first = 0;
	int			pending_count = 0;
	instr_time	last;

	INSTR_TIME_SET_CURRENT(last);
	while (s->done < p->nsteps)
	{
		int			sent_first;
		int			sent_count;

		CHECK_FOR_INTERRUPTS();
		if (ready == NULL)
			ready = build_flight(s, &next, &ready_first, &ready_count);
		if (ready == NULL)
		{
			/* Everything left waits for the reply in hand. */
			if (pending == NULL)
				elog(ERROR, "two-party schedule stalled at step %d", next);
			absorb_reply(s, pending, pending_first, pending_count, &last);
			pending = NULL;
			continue;
		}
		send(arg, ready);
		ready = NULL;
		sent_first = ready_first;
		sent_count = ready_count;

		/*
		 * While the owner works on that flight: finish the previous one and
		 * prepare the next (whatever does not need the reply under way).
		 */
		if (pending != NULL)
		{
			absorb_reply(s, pending, pending_first, pending_count, &last);
			pending = NULL;
		}
		if (next < p->nsteps)
			ready = build_flight(s, &next, &ready_first, &ready_count);
		pending = receive(arg);
		pending_first = sent_first;
		pending_count = sent_count;
	}
}
