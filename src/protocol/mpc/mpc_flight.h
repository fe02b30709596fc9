/*
 * mpc_flight.h — the two-party engine (src/crypto/mpc.h, triples.h) driven
 * over libpq: the schedule of steps both parties follow, and each party's
 * work per step.  Used by joint_score.c (joint_score, mpc_selftest and the
 * owner's serving functions); docs/joint_score.md has the picture.
 *
 * A run is a fixed list of steps that both parties derive from the same
 * parameters (mode, rows, features).  The asker carries the steps to the
 * owner in flights (one libpq call each): a flight holds the asker's
 * message for each of a run of consecutive steps, and the owner answers
 * with its messages for them, in order.  Party 0 is the asker, party 1
 * the owner.
 *
 * Triples are made on two lanes (two independent triple sessions), whose
 * batches alternate: while the owner works on one lane's batch, the asker
 * finishes the other lane's previous batch, so both computers work at once.
 * Each step names the latest step whose reply the asker needs before it
 * can prepare its own message (dep); a flight never holds a step whose
 * dependency is in the same or a later flight, nor steps of both lanes.
 *
 * Rows are processed in chunks (at most MPC_CHUNK_PRODUCTS products and
 * MPC_CHUNK_ROWS rows), so memory is bounded and the number of flights grows
 * with rows / chunk, not with rows.
 */
#ifndef PGPRIV_PROTOCOL_MPC_FLIGHT_H
#define PGPRIV_PROTOCOL_MPC_FLIGHT_H

#include "postgres.h"

#include "wire/message.h"

#define MPC_MODE_SCORE		1	/* reveal Σ x·w to the asker */
#define MPC_MODE_FLAG		2	/* reveal only Σ x·w ≥ threshold to the asker */
#define MPC_MODE_SELFTEST	3	/* random inputs, everything opened and checked */

#define MPC_MAX_FEATURES	32	/* MPC_DOT_MAX_TERMS */
#define MPC_CHUNK_PRODUCTS	(1 << 20)	/* products (Beaver triples) per chunk */
#define MPC_CHUNK_ROWS		65536	/* rows per chunk */
#define MPC_BEAVER_BATCH	16384	/* triples per batch: 21 MB of messages each way */
#define MPC_PRODUCT_BATCH	32768	/* input products per batch: 16 + 6 MB of messages */
#define MPC_AND_BATCH		(1 << 20)	/* AND triples per batch: 16 MB each way */
#define MPC_FLIGHT_BYTES	(48 << 20)	/* a flight's asker messages, at most (one step may exceed) */
#define MPC_SELFTEST_MAX	(1 << 24)	/* triples or comparisons one self-test may ask */

typedef enum MpcStepKind
{
	MPC_STEP_SETUP1 = 1,		/* base OTs: both start, owner responds */
	MPC_STEP_SETUP2,			/* base OTs: the asker's response */
	MPC_STEP_CHUNK,				/* start a chunk (self-test; no messages) */
	MPC_STEP_PRODUCT_U,			/* input products: the owner's u */
	MPC_STEP_PRODUCT_TAU,		/* input products: the asker's corrections */
	MPC_STEP_SUM,				/* each party adds up its shares of a chunk's scores */
	MPC_STEP_BEAVER_U,			/* Beaver batch, first flight (both u; owner's τ) */
	MPC_STEP_BEAVER_TAU,		/* Beaver batch, the asker's τ */
	MPC_STEP_AND,				/* AND batch (one flight) */
	MPC_STEP_MUL,				/* self-test: Beaver multiplications of random inputs */
	MPC_STEP_SIGN,				/* one round of the comparison */
	MPC_STEP_REVEAL,			/* the owner's shares of the chunk's results, to the asker */
	MPC_STEP_OPEN_TRIPLES,		/* self-test: the owner's triples and products, opened */
	MPC_STEP_OPEN_SIGN			/* self-test: the owner's inputs and sign bits, opened */
} MpcStepKind;

/* What a step's time and bytes count as (self-test figures, progress). */
typedef enum MpcPart
{
	MPC_PART_SETUP = 0,
	MPC_PART_TRIPLES,
	MPC_PART_MULTIPLY,
	MPC_PART_COMPARE,
	MPC_PART_REVEAL,
	MPC_PART_CHECK,
	MPC_NPARTS
} MpcPart;

typedef struct MpcStep
{
	uint8		kind;			/* MpcStepKind */
	uint8		lane;			/* triple steps: 0 or 1 */
	uint8		round;			/* MPC_STEP_SIGN: 1..MPC_SIGN_ROUNDS */
	uint8		part;			/* MpcPart */
	int32		chunk;
	int32		dep;			/* step the asker must have absorbed first; -1: none */
	uint32		n;				/* triples, AND triples or values in this step */
	uint64		offset;			/* first triple (Beaver) or word (AND) it fills */
} MpcStep;

typedef struct MpcChunkPlan
{
	int64		first_row;
	int64		rows;			/* rows (score, flag), or items (self-test) */
	uint64		products;		/* Beaver triples the chunk needs */
	uint64		and_triples;	/* AND triples the chunk needs */
	bool		compare;		/* self-test: a comparison chunk */
} MpcChunkPlan;

typedef struct MpcPlan
{
	int			mode;
	int64		rows;			/* score/flag: rows; self-test: triples */
	int			k;				/* the owner's features per row (score/flag) */
	int64		comparisons;	/* self-test */
	int			nchunks;
	MpcChunkPlan *chunks;
	int			nsteps;
	MpcStep    *steps;
} MpcPlan;

/*
 * While a run lasts, keep large blocks on the heap instead of mapping and
 * unmapping them per message (glibc malloc settings of this process).
 */
extern void mpc_memory_hold(void);
extern void mpc_memory_release(void);

/* The schedule for these parameters (palloc'd in the current context). */
extern void mpc_plan_build(MpcPlan *plan, int mode, int64 rows, int k, int64 comparisons);

/* Items the owner answers a step with. */
extern int	mpc_step_reply_items(const MpcStep *step);

typedef struct MpcSession MpcSession;

/* Self-test outcome, per part (asker side). */
typedef struct MpcTally
{
	double		seconds[MPC_NPARTS];
	int64		bytes[MPC_NPARTS];
	int64		triples_bad;	/* opened Beaver triples with c ≠ a·b */
	int64		products_bad;	/* opened online products with z ≠ x·y */
	int64		signs_bad;		/* opened sign bits that are wrong */
	int64		triples_checked;
	int64		products_checked;
	int64		signs_checked;
} MpcTally;

/*
 * A party's session.  sender names the other party in errors.  Memory is
 * taken from cxt (which must outlive the session); the triple sessions use
 * malloc and are wiped and freed by mpc_session_free.
 */
extern MpcSession *mpc_session_new(int party, const MpcPlan *plan, MemoryContext cxt,
								   const char *sender);
extern void mpc_session_free(MpcSession *s);

/* Inputs.  Owner: its encoded features, rows × k (the array is kept). */
extern void mpc_session_owner_input(MpcSession *s, const int64 *x);

/*
 * Asker: its encoded weights of the owner's features (k), and per row the
 * part of the score it computes alone (its own features at scale 2^32, minus
 * the threshold in flag mode).  Both arrays are kept.
 */
extern void mpc_session_asker_input(MpcSession *s, const int64 *w, const int64 *local);

/* Asker: its message for step i, added to the flight being built. */
extern void mpc_asker_prepare(MpcSession *s, int i, WireBuilder *b);

/* Asker: the owner's reply items for step i. */
extern void mpc_asker_absorb(MpcSession *s, int i, const uint8 *const *items,
							 const uint32 *lens, int nitems);

/* Owner: process step i with the asker's message; append its reply items. */
extern void mpc_owner_process(MpcSession *s, int i, const uint8 *msg, uint32 len,
							  WireBuilder *reply);

/*
 * Owner: one flight (WIRE_MPC_FLIGHT) → its reply (WIRE_MPC_REPLY).  A flight
 * that is not the next one, or does not parse, is a protocol violation.
 */
extern bytea *mpc_owner_flight(MpcSession *s, bytea *flight);

/* Steps processed (owner) or absorbed (asker) so far, and the total. */
extern int	mpc_session_steps_done(const MpcSession *s);

/*
 * Asker's results after the run: score mode, the scores (rows, scale 2^32,
 * two's complement); flag mode, packed bits (bit r of word r/64 = flag of
 * row r).
 */
extern const int64 *mpc_session_scores(const MpcSession *s);
extern const uint64 *mpc_session_flags(const MpcSession *s);
extern MpcTally *mpc_session_tally(MpcSession *s);

/*
 * The asker's side of a whole run: the flights, with the owner's replies
 * taken from `call` (a PeerCall; the function is given as a callback so this
 * file does not depend on libpq).  send: start the call with a flight;
 * receive: wait for its reply.
 */
typedef void (*mpc_send_fn) (void *arg, bytea *flight);
typedef bytea *(*mpc_receive_fn) (void *arg);
extern void mpc_asker_run(MpcSession *s, mpc_send_fn send, mpc_receive_fn receive, void *arg);

#endif
