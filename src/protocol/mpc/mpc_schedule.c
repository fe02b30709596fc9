/*
 * mpc_schedule.c — the schedule of a two-party run: the list of steps both
 * parties derive from the same parameters, and the process's malloc
 * settings while a run lasts (see mpc_flight.h).  Each party's work per
 * step is in mpc_session.c.
 */
#include "postgres.h"

#include <malloc.h>

#include "crypto/mpc.h"
#include "crypto/triples.h"
#include "protocol/mpc/mpc_flight.h"

/* ----------------------------------------------------------------------
 * Memory: a run moves tens of megabytes per flight through a few buffers
 * of the same sizes.  glibc would map each such block fresh (and the
 * kernel zero it page by page) and unmap it when freed; during a run the
 * blocks come from the heap instead, which is kept, and handed back when
 * the run ends.  Most of those blocks are libpq's (a PGresult holding a
 * reply) and the executor's (a bytea parameter), not ours, so a pool of our
 * own buffers could not do this; the setting is the process's.  Measured
 * without it (test/bench/joint_score.sh, 50 000 rows): Beaver triples over
 * SQL 16 % slower, the threshold mode 11 % slower.
 * ----------------------------------------------------------------------
 */

void
mpc_memory_hold(void)
{
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	mallopt(M_TRIM_THRESHOLD, 512 << 20);
}

void
mpc_memory_release(void)
{
	mallopt(M_TRIM_THRESHOLD, 128 * 1024);
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	malloc_trim(0);
}

/* ----------------------------------------------------------------------
 * The schedule
 * ----------------------------------------------------------------------
 */

typedef struct PlanBuilder
{
	MpcPlan    *plan;
	int			cap;
	int			lane_next;		/* lane of the next triple batch */
	int			lane_last[2];	/* the lane's last batch step (its dependency) */
	int			pending_tau[2]; /* BEAVER_U still waiting for its BEAVER_TAU; -1 none */
} PlanBuilder;

static int
add_step(PlanBuilder *b, MpcStepKind kind, int lane, int round, MpcPart part, int chunk,
		 int dep, uint32 n, uint64 offset)
{
	MpcPlan    *p = b->plan;
	MpcStep    *st;

	if (p->nsteps == b->cap)
	{
		b->cap *= 2;
		p->steps = repalloc_huge(p->steps, sizeof(MpcStep) * b->cap);
	}
	st = &p->steps[p->nsteps];
	st->kind = (uint8) kind;
	st->lane = (uint8) lane;
	st->round = (uint8) round;
	st->part = (uint8) part;
	st->chunk = chunk;
	st->dep = dep;
	st->n = n;
	st->offset = offset;
	return p->nsteps++;
}

/* The asker's τ of a lane's pending Beaver batch, if any. */
static int
flush_tau(PlanBuilder *b, int lane, int chunk)
{
	int			u = b->pending_tau[lane];
	MpcStep    *st;

	if (u < 0)
		return -1;
	st = &b->plan->steps[u];
	b->pending_tau[lane] = -1;
	return add_step(b, st->kind == MPC_STEP_BEAVER_U ? MPC_STEP_BEAVER_TAU : MPC_STEP_PRODUCT_TAU,
					lane, 0, (MpcPart) st->part, chunk, u, st->n, st->offset);
}

/*
 * Batches of Beaver (and == false) or AND triples for a chunk, alternating
 * lanes; returns the index of the last step the asker absorbs triples in.
 */
typedef enum BatchKind
{
	BATCH_BEAVER,
	BATCH_AND,
	BATCH_PRODUCT
} BatchKind;

static int
add_batches(PlanBuilder *b, BatchKind kind, uint64 total, uint32 batch, MpcPart part, int chunk)
{
	uint64		done = 0;
	int			last = -1;

	while (done < total)
	{
		uint32		n = (uint32) Min((uint64) batch, total - done);
		int			lane = b->lane_next;
		int			i;

		b->lane_next ^= 1;
		flush_tau(b, lane, chunk);
		if (kind == BATCH_AND)
			i = add_step(b, MPC_STEP_AND, lane, 0, part, chunk, b->lane_last[lane], n, done / 64);
		else
		{
			i = add_step(b, kind == BATCH_BEAVER ? MPC_STEP_BEAVER_U : MPC_STEP_PRODUCT_U, lane, 0,
						 part, chunk, b->lane_last[lane], n, done);
			b->pending_tau[lane] = i;
		}
		b->lane_last[lane] = i;
		last = Max(last, i);
		done += n;
	}
	/* The owner finishes every batch before the chunk uses its triples. */
	flush_tau(b, b->lane_next, chunk);
	flush_tau(b, b->lane_next ^ 1, chunk);
	return last;
}

static int
add_sign_rounds(PlanBuilder *b, int chunk, int dep, uint32 n)
{
	int			i = dep;

	for (int r = 1; r <= MPC_SIGN_ROUNDS; r++)
		i = add_step(b, MPC_STEP_SIGN, 0, r, MPC_PART_COMPARE, chunk, i, n, 0);
	return i;
}

static void
add_chunk(MpcPlan *p, int64 first, int64 rows, uint64 products, uint64 and_triples, bool compare)
{
	MpcChunkPlan *c = &p->chunks[p->nchunks++];

	c->first_row = first;
	c->rows = rows;
	c->products = products;
	c->and_triples = and_triples;
	c->compare = compare;
}

void
mpc_plan_build(MpcPlan *p, int mode, int64 rows, int k, int64 comparisons)
{
	PlanBuilder b;
	int			setup[2];
	int			prev;
	int64		chunk_rows;
	int64		maxchunks;

	memset(p, 0, sizeof(*p));
	p->mode = mode;
	p->rows = rows;
	p->k = k;
	p->comparisons = comparisons;
	b.plan = p;
	b.cap = 64;
	b.lane_next = 0;
	b.pending_tau[0] = b.pending_tau[1] = -1;
	p->steps = palloc(sizeof(MpcStep) * b.cap);

	if (mode == MPC_MODE_SELFTEST)
		chunk_rows = MPC_CHUNK_PRODUCTS / 4;
	else
		chunk_rows = Min((int64) MPC_CHUNK_ROWS, (int64) (MPC_CHUNK_PRODUCTS / Max(k, 1)));
	maxchunks = (rows + chunk_rows - 1) / chunk_rows +
		(comparisons + MPC_CHUNK_ROWS - 1) / MPC_CHUNK_ROWS;
	p->chunks = palloc0(sizeof(MpcChunkPlan) * Max(maxchunks, 1));

	for (int l = 0; l < 2; l++)
		setup[l] = add_step(&b, MPC_STEP_SETUP1, l, 0, MPC_PART_SETUP, -1, -1, 0, 0);
	for (int l = 0; l < 2; l++)
	{
		add_step(&b, MPC_STEP_SETUP2, l, 0, MPC_PART_SETUP, -1, setup[l], 0, 0);
		b.lane_last[l] = setup[l];
	}

	if (mode != MPC_MODE_SELFTEST)
	{
		prev = -1;
		for (int64 first = 0; first < rows; first += chunk_rows)
		{
			int64		n = Min(chunk_rows, rows - first);
			int			c = p->nchunks;
			int			start,
						products,
						sum;

			add_chunk(p, first, n, 0,
					  mode == MPC_MODE_FLAG ? mpc_sign_and_triples((size_t) n) : 0, false);
			start = add_step(&b, MPC_STEP_CHUNK, 0, 0, MPC_PART_MULTIPLY, c, prev, (uint32) n, 0);
			products = add_batches(&b, BATCH_PRODUCT, (uint64) n * k, MPC_PRODUCT_BATCH,
								   MPC_PART_MULTIPLY, c);
			sum = add_step(&b, MPC_STEP_SUM, 0, 0, MPC_PART_MULTIPLY, c, Max(start, products),
						   (uint32) n, 0);
			if (mode == MPC_MODE_FLAG)
			{
				int			ands = add_batches(&b, BATCH_AND, p->chunks[c].and_triples, MPC_AND_BATCH,
											   MPC_PART_COMPARE, c);

				add_sign_rounds(&b, c, Max(sum, ands), (uint32) n);
			}
			prev = add_step(&b, MPC_STEP_REVEAL, 0, 0, MPC_PART_REVEAL, c, -1, (uint32) n, 0);
		}
	}
	else
	{
		/* Each part starts when the previous one is absorbed, so it can be timed. */
		prev = p->nsteps - 1;
		for (int64 first = 0; first < rows; first += chunk_rows)
		{
			int64		n = Min(chunk_rows, rows - first);
			int			c = p->nchunks;
			int			mul;

			add_chunk(p, first, n, (uint64) n, 0, false);
			add_step(&b, MPC_STEP_CHUNK, 0, 0, MPC_PART_TRIPLES, c, prev, (uint32) n, 0);
			add_batches(&b, BATCH_BEAVER, (uint64) n, MPC_BEAVER_BATCH, MPC_PART_TRIPLES, c);
			mul = add_step(&b, MPC_STEP_MUL, 0, 0, MPC_PART_MULTIPLY, c, p->nsteps - 1, (uint32) n, 0);
			prev = add_step(&b, MPC_STEP_OPEN_TRIPLES, 0, 0, MPC_PART_CHECK, c, mul, (uint32) n, 0);
		}
		for (int64 first = 0; first < comparisons; first += MPC_CHUNK_ROWS)
		{
			int64		n = Min((int64) MPC_CHUNK_ROWS, comparisons - first);
			int			c = p->nchunks;
			int			start,
						ands,
						last;

			add_chunk(p, first, n, 0, mpc_sign_and_triples((size_t) n), true);
			start = add_step(&b, MPC_STEP_CHUNK, 0, 0, MPC_PART_COMPARE, c, prev, (uint32) n, 0);
			ands = add_batches(&b, BATCH_AND, p->chunks[c].and_triples, MPC_AND_BATCH, MPC_PART_COMPARE, c);
			last = add_sign_rounds(&b, c, Max(start, ands), (uint32) n);
			prev = add_step(&b, MPC_STEP_OPEN_SIGN, 0, 0, MPC_PART_CHECK, c, last, (uint32) n, 0);
		}
	}
}

int
mpc_step_reply_items(const MpcStep *step)
{
	switch ((MpcStepKind) step->kind)
	{
		case MPC_STEP_SETUP1:
		case MPC_STEP_BEAVER_U:
		case MPC_STEP_OPEN_SIGN:
			return 2;
		case MPC_STEP_PRODUCT_U:
		case MPC_STEP_AND:
		case MPC_STEP_MUL:
		case MPC_STEP_SIGN:
		case MPC_STEP_REVEAL:
		case MPC_STEP_OPEN_TRIPLES:
			return 1;
		default:
			return 0;
	}
}
