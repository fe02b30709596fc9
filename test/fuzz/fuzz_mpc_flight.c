/*
 * fuzz_mpc_flight.c — libFuzzer harness for whole two-party runs as each
 * party receives them (src/protocol/mpc/mpc_schedule.c and mpc_session.c
 * over src/crypto/ot.c, triples.c, mpc.c; the real files, with the backend
 * shim).
 *
 * Input: a role byte, a plan byte, then the other party's messages, each a
 * little-endian uint32 length and that many bytes:
 *
 *   owner  (role bit 0 = 0) serve_mpc_flight: the asker's WIRE_MPC_FLIGHT
 *          messages go to mpc_owner_flight one after the other, and from
 *          there to mpc_owner_process and every step of the engine
 *          (base OTs, input products, Beaver and AND triples, the
 *          comparison rounds, openings).
 *   asker  (role bit 0 = 1) joint_score / mpc_selftest: mpc_asker_run sends
 *          its flights nowhere and takes the owner's WIRE_MPC_REPLY
 *          messages from the input, through absorb_reply and
 *          mpc_asker_absorb to the same steps on the asker's side.  When
 *          the input runs out the harness raises an ERROR, as a lost
 *          connection would.
 *
 * The plan (mode, rows, owner's columns, comparisons) is one of a few small
 * ones (see plans[]), built with mpc_plan_build as both parties do.  All
 * randomness is a fixed stream (fuzz_rng.c), so an input replays exactly.
 *
 * Nothing in a run is authenticated beyond its format (the engine is
 * semi-honest), so the messages of an honest run stay acceptable to a
 * party whose randomness differs: seeds recorded from one honest run take
 * the fuzzer through every step.  They are written by running the harness
 * with PGPRIV_FUZZ_GENERATE=<directory>, which test/fuzz/run.sh does before
 * each run (so the seeds follow the protocol as it changes).
 */
#include "postgres.h"

#include "crypto/mpc.h"
#include "protocol/mpc/mpc_flight.h"
#include "wire/message.h"

#include "fuzz_input.h"
#include "fuzz_rng.h"
#include "fuzz_seed.h"
#include "pg_shim.h"

typedef struct PlanChoice
{
	int			mode;
	int64		rows;			/* self-test: triples */
	int			k;
	int64		comparisons;
} PlanChoice;

static const PlanChoice plans[] = {
	{MPC_MODE_SCORE, 1, 1, 0},
	{MPC_MODE_SCORE, 3, 2, 0},
	{MPC_MODE_FLAG, 2, 1, 0},
	{MPC_MODE_FLAG, 1, 3, 0},
	{MPC_MODE_SELFTEST, 4, 0, 0},
	{MPC_MODE_SELFTEST, 0, 0, 3},
	{MPC_MODE_SELFTEST, 2, 0, 2},
};
#define NPLANS ((int) (sizeof(plans) / sizeof(plans[0])))

/* Inputs of the parties: small encoded values, well within the bound. */
static int64 owner_x[3 * 3];
static int64 asker_w[3];
static int64 asker_local[3];

static void
fill_inputs(void)
{
	for (size_t i = 0; i < lengthof(owner_x); i++)
		owner_x[i] = (int64) (i * 7919 % 4001) - 2000;
	for (size_t i = 0; i < lengthof(asker_w); i++)
		asker_w[i] = (int64) (i + 1) << 14;
	for (size_t i = 0; i < lengthof(asker_local); i++)
		asker_local[i] = ((int64) (i % 5) - 2) * ((int64) 1 << 30);
}

static void
build_plan(MpcPlan *plan, int which)
{
	const PlanChoice *c = &plans[which];

	mpc_plan_build(plan, c->mode, c->rows, c->k, c->comparisons);
}

/* The other party's messages, in order. */
typedef struct Feed
{
	FuzzInput	in;
} Feed;

static bytea *
feed_next(Feed *f)
{
	uint32		len;
	const uint8 *p;

	if (f->in.n < 4)
		return NULL;
	len = fuzz_u32(&f->in);
	if (len > f->in.n)
		len = (uint32) f->in.n;
	p = fuzz_take(&f->in, len);
	return shim_bytea(p, len, false);
}

static void
asker_send(void *arg, bytea *flight)
{
	pfree(flight);
}

static bytea *
asker_receive(void *arg)
{
	bytea	   *reply = feed_next((Feed *) arg);

	if (reply == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("the fuzzer's owner has no more replies")));
	return reply;
}

static void
run_owner(int which, Feed *feed)
{
	MpcPlan		plan;
	MpcSession *volatile s = NULL;

	PG_TRY();
	{
		bytea	   *flight;

		build_plan(&plan, which);
		s = mpc_session_new(1, &plan, CurrentMemoryContext, "the asker");
		mpc_session_owner_input(s, owner_x);
		while (mpc_session_steps_done(s) < plan.nsteps && (flight = feed_next(feed)) != NULL)
			pfree(mpc_owner_flight(s, flight));
	}
	PG_CATCH();
	{
		shim_error_caught();
	}
	PG_END_TRY();
	mpc_session_free(s);
}

static void
run_asker(int which, Feed *feed)
{
	MpcPlan		plan;
	MpcSession *volatile s = NULL;

	PG_TRY();
	{
		build_plan(&plan, which);
		s = mpc_session_new(0, &plan, CurrentMemoryContext, "peer \"fuzz\"");
		mpc_session_asker_input(s, asker_w, asker_local);
		mpc_asker_run(s, asker_send, asker_receive, feed);
		(void) mpc_session_tally(s);
	}
	PG_CATCH();
	{
		shim_error_caught();
	}
	PG_END_TRY();
	mpc_session_free(s);
}

/* ----------------------------------------------------------------------
 * Seeds: honest runs, both parties in this process
 * ----------------------------------------------------------------------
 */

typedef struct Honest
{
	MpcSession *owner;
	StringInfoData flights;		/* role 0 seed: what the owner receives */
	StringInfoData replies;		/* role 1 seed: what the asker receives */
	bytea	   *queue[4];		/* replies not yet received */
	int			head;
	int			tail;
} Honest;

static void
record(StringInfo buf, bytea *msg)
{
	uint32		len = VARSIZE_ANY_EXHDR(msg);
	uint8		lenbuf[4];

	for (int i = 0; i < 4; i++)
		lenbuf[i] = (uint8) (len >> (8 * i));
	appendBinaryStringInfo(buf, (const char *) lenbuf, 4);
	appendBinaryStringInfo(buf, VARDATA_ANY(msg), len);
}

static void
honest_send(void *arg, bytea *flight)
{
	Honest	   *h = arg;
	bytea	   *reply;

	record(&h->flights, flight);
	reply = mpc_owner_flight(h->owner, flight);
	record(&h->replies, reply);
	h->queue[h->tail++ % 4] = reply;
}

static bytea *
honest_receive(void *arg)
{
	Honest	   *h = arg;

	if (h->head == h->tail)
		elog(ERROR, "no reply queued");
	return h->queue[h->head++ % 4];
}

static void
write_seed(const char *dir, int role, int which, StringInfo body)
{
	char		name[64];
	uint8		head[2] = {(uint8) role, (uint8) which};

	snprintf(name, sizeof(name), "%s-plan%d", role ? "asker" : "owner", which);
	fuzz_seed_write(dir, name, head, 2, body->data, body->len);
}

static void
generate(const char *dir)
{
	for (int which = 0; which < NPLANS; which++)
	{
		MpcPlan		owner_plan;
		MpcPlan		asker_plan;
		MpcSession *asker;
		Honest		h = {0};

		fuzz_rng_seed(1);
		PG_TRY();
		{
			build_plan(&owner_plan, which);
			build_plan(&asker_plan, which);
			h.owner = mpc_session_new(1, &owner_plan, CurrentMemoryContext, "the asker");
			mpc_session_owner_input(h.owner, owner_x);
			asker = mpc_session_new(0, &asker_plan, CurrentMemoryContext, "the owner");
			mpc_session_asker_input(asker, asker_w, asker_local);
			initStringInfo(&h.flights);
			initStringInfo(&h.replies);
			mpc_asker_run(asker, honest_send, honest_receive, &h);
			write_seed(dir, 0, which, &h.flights);
			write_seed(dir, 1, which, &h.replies);
			mpc_session_free(asker);
			mpc_session_free(h.owner);
		}
		PG_CATCH();
		{
			fprintf(stderr, "fuzz_mpc_flight: honest run of plan %d failed: %s\n",
					which, shim_last_message());
			exit(1);
		}
		PG_END_TRY();
		shim_reset();
	}
	exit(0);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_rng_install();
	fill_inputs();
	fuzz_seed_generate(generate);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Feed		feed = {{data, size}};
	uint8		role = fuzz_byte(&feed.in);
	int			which = fuzz_byte(&feed.in) % NPLANS;

	fuzz_rng_seed(1);
	if (role & 1)
		run_asker(which, &feed);
	else
		run_owner(which, &feed);
	shim_reset();
	return 0;
}
