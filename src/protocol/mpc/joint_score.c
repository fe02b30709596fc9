/*
 * joint_score.c — the two-party engine from SQL (docs/architecture.md, protocol 6;
 * docs/joint_score.md): pgpriv.joint_score and pgpriv.mpc_selftest on the
 * asker's side, and the run's terms and feature encoding both sides use
 * (joint_score.h); serve_mpc_begin and serve_mpc_flight, the owner's side,
 * are in joint_score_serve.c.
 *
 * joint_score: the asker holds model weights w (secret) and, per row, its
 * own features; the owner holds its features x for the same keys.  The
 * score Σ w·x over both parties' features is computed on additive shares
 * (mpc_session.c): the owner shares its x, the asker its w of the owner's
 * columns, one Beaver dot product per row gives shares of the owner's part,
 * and the asker adds its own part (which it can compute alone) to its
 * share.  Only the asker learns the result: the score, or with a threshold
 * only whether the score reaches it (the sign of score − threshold, found
 * on shares by the 7-round comparison).  No dealer: every triple is made
 * by the two parties through oblivious transfer.
 *
 * The keys are visible to both parties (a bank that must hide them runs psi
 * first); the owner also learns which of its columns are used and whether
 * a threshold was given, and the asker learns which keys the owner has no
 * usable row for.
 */
#include "postgres.h"

#include <math.h>

#include <sodium.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/tuplestore.h"

#include "pgpriv.h"
#include "catalog/pgpriv_catalog.h"
#include "crypto/mpc.h"
#include "peer/call.h"
#include "catalog/receipt.h"
#include "run/ask.h"
#include "run/admission.h"
#include "protocol/mpc/joint_score.h"
#include "protocol/mpc/mpc_asker.h"
#include "run/keys.h"
#include "protocol/mpc/mpc_flight.h"
#include "protocol/mpc/mpc_terms.h"
#include "run/progress.h"
#include "run/secret_mem.h"
#include "run/served_run.h"
#include "wire/message.h"

PG_FUNCTION_INFO_V1(pgpriv_joint_score);
PG_FUNCTION_INFO_V1(pgpriv_mpc_selftest);

#define TERMS_HEAD_BYTES 12		/* mode, k, 2 reserved, triples, comparisons */

/* ----------------------------------------------------------------------
 * Terms: what a run is, as both parties see it
 * ----------------------------------------------------------------------
 */

static void
terms_add(WireBuilder *b, const MpcTerms *t)
{
	uint8		head[TERMS_HEAD_BYTES] = {0};

	head[0] = (uint8) t->mode;
	head[1] = (uint8) t->k;
	wire_put_u32(head + 4, (uint32) t->triples);
	wire_put_u32(head + 8, (uint32) t->comparisons);
	wire_builder_add(b, head, sizeof(head));
	for (int j = 0; j < t->k; j++)
		wire_builder_add(b, (const uint8 *) t->columns[j], (uint32) strlen(t->columns[j]));
}

/* Read the terms from the start of r (TERMS or BEGIN message). */
void
score_terms_read(WireReader *r, MpcTerms *t)
{
	const uint8 *item;
	uint32		len;

	if (!wire_reader_next(r, &item, &len) || len != TERMS_HEAD_BYTES)
		wire_malformed("the asker", "The two-party terms start with a 12-byte head.");
	t->mode = item[0];
	t->k = item[1];
	t->triples = wire_get_u32(item + 4);
	t->comparisons = wire_get_u32(item + 8);
	if (item[2] != 0 || item[3] != 0)
		wire_malformed("the asker", "Reserved bytes of the two-party terms are not zero.");
	if (t->mode == MPC_MODE_SELFTEST)
	{
		if (t->k != 0 || t->triples > MPC_SELFTEST_MAX || t->comparisons > MPC_SELFTEST_MAX ||
			t->triples + t->comparisons == 0)
			wire_malformed("the asker", "Self-test terms out of range.");
	}
	else if (t->mode == MPC_MODE_SCORE || t->mode == MPC_MODE_FLAG)
	{
		if (t->k < 1 || t->k > MPC_MAX_FEATURES || t->triples != 0 || t->comparisons != 0)
			wire_malformed("the asker", "A joint score uses 1 to 32 of the owner's columns.");
	}
	else
		wire_malformed("the asker", "Unknown two-party mode.");
	t->columns = palloc0(sizeof(char *) * Max(t->k, 1));
	for (int j = 0; j < t->k; j++)
		t->columns[j] = mpc_terms_column(r, t->columns, j,
										 "A column name of the two-party terms is missing or invalid.",
										 "The two-party terms name a column twice.");
}

void
joint_score_admission_check(const char *dataset, const Permit *permit, bytea *terms)
{
	WireReader r;
	MpcTerms	t;

	mpc_terms_open(&r, terms, WIRE_MPC_TERMS, MPC_MAX_FEATURES + 1, NAMEDATALEN,
				   "A two-party run is admitted with its terms.");
	score_terms_read(&r, &t);
	if (r.remaining != 0)
		wire_malformed("the asker", "Bytes after the two-party terms.");
	permit_require_columns(dataset, "mpc", permit, t.columns, t.k);
}

/* ----------------------------------------------------------------------
 * Feature values
 * ----------------------------------------------------------------------
 */

/* Encode a feature for the engine; the errors name the column, never the value. */
int64
score_encode_feature(const char *text, const char *column, const char *whose)
{
	double		v;
	int64_t		enc;

	if (!dataset_value_number(text, &v))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("column \"%s\" of %s holds a value that is not a finite number", column, whose),
				 errhint("joint_score features are numbers or booleans.")));
	if (mpc_fixed_encode(v, &enc) != MPC_OK)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("column \"%s\" of %s holds a value outside the two-party range", column, whose),
				 errdetail("Features and weights must satisfy |x| < 8192 (fixed point with 16 fractional bits)."),
				 errhint("Scale the column in the query that defines it.")));
	return (int64) enc;
}

/* ----------------------------------------------------------------------
 * Asker's half
 * ----------------------------------------------------------------------
 */

typedef struct FlightCall
{
	PeerCall   *call;
	const char *run;
	MpcSession *session;
} FlightCall;

static void
flight_send(void *arg, bytea *flight)
{
	FlightCall *fc = arg;
	const char *params[1] = {fc->run};

	peer_call_send_bytea(fc->call, "SELECT pgpriv.serve_mpc_flight($1, $2)", 1, params, flight);
	pfree(flight);
}

static bytea *
flight_receive(void *arg)
{
	FlightCall *fc = arg;
	bytea	   *reply = peer_call_finish_bytea(fc->call);

	progress_advance(mpc_session_steps_done(fc->session), fc->call->bytes_in, fc->call->bytes_out);
	return reply;
}

/*
 * Admit and begin a two-party run: the owner checks the permit and the
 * terms, reads its features for the keys, and answers which keys it has a
 * usable row for (a bitmap, one bit per key).
 */
static const uint8 *
begin_with_peer(PeerCall *call, const char *server, const char *dataset, const char *run,
				const MpcTerms *t, const KeySet *keys)
{
	WireBuilder tb;
	WireBuilder bb;
	int64		nkeys = keys ? (int64) keys->n : 0;
	const uint8 *usable;
	uint32		count;
	bytea	   *ready;

	wire_builder_init(&tb, WIRE_MPC_TERMS);
	terms_add(&tb, t);
	run_ask_admit(call, dataset, "mpc", run, nkeys, wire_builder_finish(&tb));

	progress_phase("asker: owner reads its features", 0);
	wire_builder_init(&bb, WIRE_MPC_BEGIN);
	terms_add(&bb, t);
	for (int64 i = 0; i < nkeys; i++)
		wire_builder_add(&bb, keys->data[i], (uint32) keys->lens[i]);
	{
		const char *params[2] = {dataset, run};

		ready = peer_call_bytea(call, "SELECT pgpriv.serve_mpc_begin($1, $2, $3)", 2, params,
								wire_builder_finish(&bb));
	}
	usable = wire_unpack_fixed(ready, WIRE_MPC_READY, 1, PG_UINT32_MAX, &count,
							   psprintf("peer \"%s\"", server));
	if ((int64) count != (Max(nkeys, 1) + 7) / 8)
		wire_malformed(psprintf("peer \"%s\"", server),
					   psprintf("%u bytes of usable-key flags for %lld keys.", count, (long long) nkeys));
	return usable;
}

/*
 * A two-party run with the peer from its admission to its last flight,
 * with the engine's memory held (the caller releases it): returns the
 * run's session, in cxt over plan, or NULL when no row is computed; on an
 * error the session is freed and the memory released.  A joint score
 * (keys not NULL) computes the rows the owner has a usable row for
 * (*usable, one bit per key), with local, the asker's own part of each
 * key's score, moved up to them; the self-test computes t's random
 * products and comparisons.
 */
static MpcSession *
compute_with_peer(PeerCall *call, const char *server, const char *dataset, const char *run,
				  const MpcTerms *t, const KeySet *keys, const int64 *w_owner, int64 *local,
				  MpcPlan *plan, MemoryContext cxt, const uint8 **usable)
{
	MpcSession *volatile session = NULL;

	mpc_memory_hold();
	PG_TRY();
	{
		const uint8 *u = begin_with_peer(call, server, dataset, run, t, keys);
		int64		rows = t->triples;

		/*
		 * Only the rows the owner can answer are computed (both parties know
		 * them); the asker's own part of each moves up accordingly.
		 */
		if (keys != NULL)
		{
			*usable = u;
			rows = 0;
			for (size_t r = 0; r < keys->n; r++)
				if ((u[r / 8] >> (r % 8)) & 1)
					local[rows++] = local[r];
		}
		if (keys == NULL || rows > 0)
		{
			FlightCall	fc = {call, run, NULL};

			mpc_plan_build(plan, t->mode, rows, t->k, t->comparisons);
			session = mpc_session_new(0, plan, cxt, psprintf("peer \"%s\"", server));
			if (keys != NULL)
				mpc_session_asker_input(session, w_owner, local);
			fc.session = session;
			progress_phase("asker: two-party computation (steps)", plan->nsteps);
			mpc_asker_run(session, flight_send, flight_receive, &fc);
		}
	}
	PG_CATCH();
	{
		mpc_session_free(session);
		mpc_memory_release();
		PG_RE_THROW();
	}
	PG_END_TRY();
	return session;
}

typedef struct Weight
{
	char	   *name;
	int64		w;				/* encoded */
	int			local_col;		/* keys_query column (1-based), or 0: the owner's */
} Weight;

static pg_noinline int
parse_weights(Jsonb *jb, Weight **out)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	Weight	   *ws = secret_palloc(sizeof(Weight) * (MPC_MAX_FEATURES + 1));	/* the weights */
	int			n = 0;
	char	   *pending = NULL;

	if (!JB_ROOT_IS_OBJECT(jb))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("weights must be a JSON object of column name to number"),
				 errhint("For example '{\"penalties\": -0.8, \"years_registered\": 0.05}'.")));
	it = JsonbIteratorInit(&jb->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
			pending = pnstrdup(v.val.string.val, v.val.string.len);
		else if (tok == WJB_VALUE)
		{
			double		d;
			int64_t		enc;

			if (v.type != jbvNumeric)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("weight of \"%s\" is not a number", pending)));
			if (n == MPC_MAX_FEATURES)
				ereport(ERROR,
						(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						 errmsg("weights may name at most %d features", MPC_MAX_FEATURES),
						 errdetail("The exact fixed-point bound allows 32 terms per score.")));
			d = DatumGetFloat8(DirectFunctionCall1(numeric_float8,
												   NumericGetDatum(v.val.numeric)));
			if (mpc_fixed_encode(d, &enc) != MPC_OK)
				ereport(ERROR,
						(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
						 errmsg("weight of \"%s\" is outside the two-party range", pending),
						 errdetail("Features and weights must satisfy |x| < 8192 (fixed point with 16 fractional bits).")));
			if (enc == 0 && d != 0)
				ereport(WARNING,
						(errmsg("weight of \"%s\" rounds to zero at the two-party resolution", pending),
						 errdetail("Weights and features are fixed point with 16 fractional bits (steps of 2^-16)."),
						 errhint("Scale the weight and its feature the other way round.")));
			ws[n].name = pending;
			ws[n].w = (int64) enc;
			n++;
		}
	}
	*out = ws;
	return n;
}

/* round(S / 2^32, 6) as numeric, S a score at scale 2^32. */
static Datum
score_numeric(int64 s)
{
	__int128	v = (__int128) s * 1000000;
	__int128	half = (__int128) 1 << 31;
	__int128	q = v >= 0 ? (v + half) >> 32 : -((-v + half) >> 32);
	int64		iq = (int64) q;
	uint64		mag = iq < 0 ? (uint64) (-(iq + 1)) + 1 : (uint64) iq;
	char		buf[64];

	snprintf(buf, sizeof(buf), "%s%llu.%06llu", iq < 0 ? "-" : "",
			 (unsigned long long) (mag / 1000000), (unsigned long long) (mag % 1000000));
	return DirectFunctionCall3(numeric_in, CStringGetDatum(buf), ObjectIdGetDatum(InvalidOid),
							   Int32GetDatum(-1));
}

/* round(threshold · 2^32) as int64; 22003 when it does not fit. */
static int64
threshold_encode(Numeric threshold)
{
	Datum		scaled = DirectFunctionCall2(numeric_mul, NumericGetDatum(threshold),
											 DirectFunctionCall1(int8_numeric,
																 Int64GetDatum(INT64CONST(4294967296))));
	bool		have_error;
	int64		t = 0;

	if (numeric_is_nan(threshold))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("threshold must be a number, not NaN")));

	scaled = DirectFunctionCall2(numeric_round, scaled, Int32GetDatum(0));
	/* 2^63 − 2^10 is a double just below 2^63: anything under it fits. */
	have_error = !(fabs(DatumGetFloat8(DirectFunctionCall1(numeric_float8, scaled))) <
				   9223372036854774784.0);
	if (!have_error)
		t = DatumGetInt64(DirectFunctionCall1(numeric_int8, scaled));
	if (have_error)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("threshold is too large for an exact comparison")));
	return t;
}

/*
 * pgpriv.joint_score(peer name, dataset text, keys_query text, weights jsonb,
 *                    threshold numeric DEFAULT NULL)
 *   → TABLE(key text, score numeric, flag boolean)
 */
Datum
pgpriv_joint_score(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *server;
	char	   *dataset;
	char	   *keys_query;
	KeysQuery	kq;
	Jsonb	   *weights_jb;
	bool		flag_mode = !PG_ARGISNULL(4);
	Weight	   *ws;
	int			nw;
	volatile int nlocal = 0;
	MpcTerms	t = {0};
	int64	   *w_owner;
	KeySet		keys = {0};
	KeyBuilder	kb;
	int64	   *local;
	bool	   *row_ok;
	int64		threshold = 0;
	int64		max_w = 0;
	PeerCall	call;
	AuditWatch	watch;
	char	   *run;
	MpcPlan		plan;
	MpcSession *session;
	const uint8 *usable = NULL;
	volatile int64 scored = 0;
	MemoryContext fn_cxt = CurrentMemoryContext;

	mpc_asker_args(fcinfo, "joint_score needs a peer, a dataset, a keys query and weights",
				   &server, &dataset, &keys_query);
	weights_jb = PG_GETARG_JSONB_P(3);
	nw = parse_weights(weights_jb, &ws);

	InitMaterializedSRF(fcinfo, 0);

	/*
	 * The asker's rows: the key (its first column cast to text, as for the
	 * other capabilities and on the owner's side), then its own features,
	 * keys_query's further columns (from column 3 on: column 2 is the
	 * original first column under the alias).
	 */
	keys_query_prepare(&kq, keys_query, MPC_ASKER_SELECT);
	key_builder_init(&kb, &keys);
	{
		TupleDesc	td;
		uint64		nrows;

		nrows = keys_query_fetch_all(&kq);
		td = SPI_tuptable->tupdesc;
		for (int i = 0; i < nw; i++)
			for (int c = 3; c <= td->natts; c++)
				if (!TupleDescAttr(td, c - 1)->attisdropped &&
					strcmp(NameStr(TupleDescAttr(td, c - 1)->attname), ws[i].name) == 0)
					ws[i].local_col = c;
		MemoryContextSwitchTo(fn_cxt);
		t.columns = palloc0(sizeof(char *) * (nw + 1));
		w_owner = secret_palloc(sizeof(int64) * (nw + 1));
		for (int i = 0; i < nw; i++)
		{
			max_w = Max(max_w, ws[i].w < 0 ? -ws[i].w : ws[i].w);
			if (ws[i].local_col)
				nlocal++;
			else
			{
				w_owner[t.k] = ws[i].w;
				t.columns[t.k++] = ws[i].name;
			}
		}
		if (t.k == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("weights name no column of peer \"%s\"'s dataset \"%s\"", server, dataset),
					 errhint("Names that are not columns of keys_query are the peer's columns; name at least one.")));
		local = secret_palloc(sizeof(int64) * Max(nrows, 1));	/* the asker's part of each score */
		row_ok = palloc_extended(sizeof(bool) * Max(nrows, 1), MCXT_ALLOC_HUGE);
		for (uint64 r = 0; r < nrows; r++)
		{
			HeapTuple	tup = SPI_tuptable->vals[r];
			char	   *key = SPI_getvalue(tup, td, 1);
			int64		sum = 0;
			bool		ok = true;

			if (key == NULL)
				continue;
			for (int i = 0; i < nw; i++)
			{
				char	   *v;

				if (!ws[i].local_col)
					continue;
				v = SPI_getvalue(tup, td, ws[i].local_col);
				if (v == NULL)
				{
					ok = false;
					continue;
				}
				sum += score_encode_feature(v, ws[i].name, "keys_query") * ws[i].w;
			}
			local[keys.n] = sum;
			row_ok[keys.n] = ok;
			key_builder_add(&kb, key);
			if ((r & 8191) == 0)
				CHECK_FOR_INTERRUPTS();
		}
	}
	SPI_finish();
	MemoryContextSwitchTo(fn_cxt);

	if (flag_mode)
	{
		threshold = threshold_encode(PG_GETARG_NUMERIC(4));
		if (!mpc_dot_within_bound((size_t) nw, (uint64) MPC_VALUE_BOUND - 1, (uint64) max_w,
								  (uint64) (threshold < 0 ? -threshold : threshold)))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("threshold is too large for an exact comparison"),
					 errdetail("With %d features and these weights the comparison is exact for |threshold| below %.6g.",
							   nw, ldexp(ldexp(1.0, 63) - (double) nw * (double) (MPC_VALUE_BOUND - 1) * (double) max_w, -32))));
		for (size_t r = 0; r < keys.n; r++)
			local[r] -= threshold;
	}
	if (keys.n == 0)
		return (Datum) 0;		/* nothing to score: no run */

	t.mode = flag_mode ? MPC_MODE_FLAG : MPC_MODE_SCORE;
	run = run_ask_open(&call, &watch, server, "joint_score", "mpc", dataset, (int64) keys.n,
					   (int64) keys.n);
	session = compute_with_peer(&call, server, dataset, run, &t, &keys, w_owner, local, &plan, fn_cxt,
								&usable);
	secret_wipe(w_owner);

	for (size_t r = 0, ci = 0; r < keys.n; r++)
	{
		Datum		values[3];
		bool		nulls[3] = {false, true, true};
		bool		computed = (usable[r / 8] >> (r % 8)) & 1;
		bool		ok = computed && row_ok[r];

		values[0] = CStringGetTextDatum(keys.text[r]);
		if (ok && !flag_mode)
		{
			values[1] = score_numeric(mpc_session_scores(session)[ci]);
			nulls[1] = false;
		}
		else if (ok)
		{
			values[2] = BoolGetDatum((mpc_session_flags(session)[ci / 64] >> (ci % 64)) & 1);
			nulls[2] = false;
		}
		if (ok)
			scored++;
		if (computed)
			ci++;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	mpc_session_free(session);
	mpc_memory_release();
	secret_wipe(local);

	run_ask_close(&call, &watch, run, "mpc", dataset, (int64) keys.n, scored,
				  psprintf("run %s, %s over %d of the peer's and %d own columns", run,
						   flag_mode ? "flags" : "scores", t.k, nlocal));
	return (Datum) 0;
}

/* v rounded to digits decimal places, as numeric (psql-friendly figures). */
static Datum
rounded_numeric(double v, int digits)
{
	return DirectFunctionCall2(numeric_round, DirectFunctionCall1(float8_numeric, Float8GetDatum(v)),
							   Int32GetDatum(digits));
}

/*
 * pgpriv.mpc_selftest(peer name, dataset text, triples integer, comparisons integer)
 *   → TABLE(part text, items bigint, failures bigint, seconds numeric, bytes bigint,
 *           per_second numeric, bytes_per_item numeric)
 *
 * Makes triples and runs multiplications and comparisons with the peer on
 * random inputs, then opens everything and checks it (triples opened are
 * random and never used for data, so this reveals nothing).
 */
Datum
pgpriv_mpc_selftest(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *server = NameStr(*PG_GETARG_NAME(0));
	char	   *dataset = text_to_cstring(PG_GETARG_TEXT_PP(1));
	int32		triples = PG_GETARG_INT32(2);
	int32		comparisons = PG_GETARG_INT32(3);
	MpcTerms	t = {0};
	PeerCall	call;
	char	   *run;
	MpcPlan		plan;
	MpcSession *session;
	MpcTally   *tally;
	struct
	{
		const char *part;
		int64		items;
		int64		failures;
		MpcPart		p;
	}			parts[4];

	if (triples < 0 || comparisons < 0 || triples > MPC_SELFTEST_MAX ||
		comparisons > MPC_SELFTEST_MAX || triples + comparisons == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("triples and comparisons must be between 0 and %d, not both 0", MPC_SELFTEST_MAX)));
	InitMaterializedSRF(fcinfo, 0);
	t.mode = MPC_MODE_SELFTEST;
	t.triples = triples;
	t.comparisons = comparisons;
	run = run_ask_open(&call, NULL, server, "mpc_selftest", "mpc", dataset, 0, 0);
	session = compute_with_peer(&call, server, dataset, run, &t, NULL, NULL, NULL, &plan,
								CurrentMemoryContext, NULL);
	mpc_memory_release();
	tally = mpc_session_tally(session);

	parts[0].part = "setup";
	parts[0].items = 4 * 128;
	parts[0].failures = 0;
	parts[0].p = MPC_PART_SETUP;
	parts[1].part = "beaver_triples";
	parts[1].items = tally->triples_checked;
	parts[1].failures = tally->triples_bad;
	parts[1].p = MPC_PART_TRIPLES;
	parts[2].part = "multiplications";
	parts[2].items = tally->products_checked;
	parts[2].failures = tally->products_bad;
	parts[2].p = MPC_PART_MULTIPLY;
	parts[3].part = "comparisons";
	parts[3].items = tally->signs_checked;
	parts[3].failures = tally->signs_bad;
	parts[3].p = MPC_PART_COMPARE;
	for (int i = 0; i < 4; i++)
	{
		Datum		values[7];
		bool		nulls[7] = {false, false, false, false, false, false, false};
		double		secs = tally->seconds[parts[i].p];

		if (parts[i].items == 0 && i > 0)
			continue;
		values[0] = CStringGetTextDatum(parts[i].part);
		values[1] = Int64GetDatum(parts[i].items);
		values[2] = Int64GetDatum(parts[i].failures);
		values[3] = rounded_numeric(secs, 4);
		values[4] = Int64GetDatum(tally->bytes[parts[i].p]);
		values[5] = rounded_numeric(secs > 0 ? (double) parts[i].items / secs : 0, 0);
		nulls[5] = secs <= 0;
		values[6] = rounded_numeric(parts[i].items > 0 ?
									(double) tally->bytes[parts[i].p] / (double) parts[i].items : 0, 1);
		nulls[6] = parts[i].items == 0;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	mpc_session_free(session);

	run_ask_close(&call, NULL, run, "mpc", dataset, 0, 0,
				  psprintf("run %s, self-test: %d triples, %d comparisons, %lld failures", run,
						   triples, comparisons,
						   (long long) (tally->triples_bad + tally->products_bad + tally->signs_bad)));
	return (Datum) 0;
}
