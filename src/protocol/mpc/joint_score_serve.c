/*
 * joint_score_serve.c — the owner's half of the two-party engine from SQL
 * (docs/architecture.md, protocol 6; docs/joint_score.md): serve_mpc_begin
 * admits the run's terms and shares the owner's features for the keys
 * asked, serve_mpc_flight answers each flight of the engine (mpc_session.c).
 * The protocol is described at the top of joint_score.c, the asker's half.
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
#include "run/admission.h"
#include "protocol/mpc/joint_score.h"
#include "run/keys.h"
#include "protocol/mpc/mpc_flight.h"
#include "protocol/mpc/mpc_serve.h"
#include "run/progress.h"
#include "run/served_run.h"
#include "wire/message.h"

PG_FUNCTION_INFO_V1(pgpriv_serve_mpc_begin);
PG_FUNCTION_INFO_V1(pgpriv_serve_mpc_flight);

/* ----------------------------------------------------------------------
 * Owner's half
 * ----------------------------------------------------------------------
 */

typedef struct OwnerRun
{
	ServedRun	base;			/* run id, dataset, memory, bytes each way */
	MpcPlan		plan;
	MpcSession *session;
	int64	   *x;				/* features of the usable rows, encoded */
	Size		x_bytes;
	int64		usable;			/* rows the owner had a usable row for */
} OwnerRun;

/* The engine keeps its OT sessions in malloc'd memory: wipe and free them. */
static void
owner_run_wipe(ServedRun *run)
{
	OwnerRun   *or = (OwnerRun *) run;

	mpc_session_free(or->session);
	or->session = NULL;
	if (or->x)
		sodium_memzero(or->x, or->x_bytes);
	mpc_memory_release();
}

/*
 * The owner's features for the asked keys: a bitmap of the keys it has
 * exactly one row for with no NULL in the used columns, and those rows'
 * encoded features in x (usable rows × k, in key order).  Only usable rows
 * take part in the computation; both parties know which they are.
 */
static int64
owner_features(const Dataset *ds, const MpcTerms *t, const KeySet *asked, int64 *x, uint8 *usable)
{
	DatasetRows rows;
	List	   *columns = NIL;
	RowIndex	index;
	int64		n_usable = 0;
	char	   *whose = psprintf("dataset \"%s\"", ds->name);

	for (int j = 0; j < t->k; j++)
		columns = lappend(columns, t->columns[j]);
	dataset_rows_fetch(ds, columns, &rows);
	row_index_build(&rows, &index);

	for (size_t r = 0; r < asked->n; r++)
	{
		int64		row = row_index_unique(&index, asked->data[r], asked->lens[r]);
		bool		ok = row >= 0;	/* no row, or several: no single answer */

		for (int j = 0; ok && j < t->k; j++)
			if (rows.values[row * rows.ncolumns + j] == NULL)
				ok = false;
		for (int j = 0; ok && j < t->k; j++)
			x[n_usable * t->k + j] = score_encode_feature(rows.values[row * rows.ncolumns + j],
													t->columns[j], whose);
		if (ok)
		{
			usable[r / 8] |= (uint8) (1 << (r % 8));
			n_usable++;
		}
		if ((r & 8191) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	return n_usable;
}

/*
 * pgpriv.serve_mpc_begin(dataset, run, msg) → bytea
 *
 * For a run admitted by serve_admit with its terms: reads the terms again
 * and the keys, looks up the owner's features, and opens the run's session.
 * The reply says which keys have a usable row.
 */
Datum
pgpriv_serve_mpc_begin(PG_FUNCTION_ARGS)
{
	MpcServeBegin sb;
	WireReader	r;
	MpcTerms	t;
	OwnerRun   *owner_run;
	MemoryContext cxt;
	MemoryContext old;
	int64		rows;
	uint8	   *usable;
	bytea	   *reply;

	mpc_serve_begin(fcinfo, "mpc", NULL, &sb);
	wire_reader_init(&r, sb.msg, WIRE_MPC_BEGIN, (uint32) Min((int64) PG_UINT32_MAX - 64,
														  sb.admission->keys + MPC_MAX_FEATURES + 1),
					 Max(NAMEDATALEN, 1 << 20), "the asker");
	score_terms_read(&r, &t);
	permit_require_columns(sb.dataset, "mpc", &sb.permit, t.columns, t.k);
	if ((int64) r.remaining != sb.admission->keys ||
		(t.mode == MPC_MODE_SELFTEST && r.remaining != 0))
		wire_malformed("the asker", psprintf("%u keys, %lld admitted.", r.remaining,
											 (long long) sb.admission->keys));

	owner_run = served_run_open("mpc", sb.run, sb.dataset, sizeof(OwnerRun), owner_run_wipe);
	mpc_memory_hold();
	cxt = owner_run->base.cxt;
	old = CurrentMemoryContext;
	owner_run->base.bytes_in = VARSIZE_ANY_EXHDR(sb.msg);
	rows = (int64) r.remaining;
	progress_begin(t.mode == MPC_MODE_SELFTEST ? "mpc_selftest" : "joint_score",
				   session_role_name(), sb.dataset, rows);

	usable = palloc0((Max(rows, 1) + 7) / 8);
	if (t.mode != MPC_MODE_SELFTEST)
	{
		KeySet		asked = {0};
		const uint8 *item;
		uint32		len;

		progress_phase("owner: reading features", rows);
		/* Keys travel as UTF-8; they are compared as bytes, as the dataset's are. */
		asked.data = palloc_extended(sizeof(uint8 *) * Max(rows, 1), MCXT_ALLOC_HUGE);
		asked.lens = palloc_extended(sizeof(size_t) * Max(rows, 1), MCXT_ALLOC_HUGE);
		while (wire_reader_next(&r, &item, &len))
		{
			asked.data[asked.n] = item;
			asked.lens[asked.n] = len;
			asked.n++;
		}
		owner_run->x_bytes = sizeof(int64) * Max(rows * t.k, 1);
		owner_run->x = MemoryContextAllocExtended(cxt, owner_run->x_bytes,
												  MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
		owner_run->usable = owner_features(&sb.ds, &t, &asked, owner_run->x, usable);
	}
	reply = wire_pack_fixed(WIRE_MPC_READY, usable, (uint32) ((Max(rows, 1) + 7) / 8), 1);
	owner_run->base.bytes_out = VARSIZE_ANY_EXHDR(reply);

	if (t.mode != MPC_MODE_SELFTEST && owner_run->usable == 0)
	{
		/* No row to compute on: the run ends here, for both parties. */
		return mpc_serve_last_reply(sb.admission, sb.admission->keys, 0, &owner_run->base, sb.run, reply);
	}
	old = MemoryContextSwitchTo(cxt);
	mpc_plan_build(&owner_run->plan, t.mode,
				   t.mode == MPC_MODE_SELFTEST ? t.triples : owner_run->usable, t.k, t.comparisons);
	owner_run->session = mpc_session_new(1, &owner_run->plan, cxt, "the asker");
	MemoryContextSwitchTo(old);
	mpc_session_owner_input(owner_run->session, owner_run->x);
	progress_phase("owner: two-party computation (steps)", owner_run->plan.nsteps);
	return mpc_serve_reply(sb.run, reply);
}

/*
 * pgpriv.serve_mpc_flight(run, msg) → bytea
 *
 * One flight of the open run.  Any error ends the run.  After the last step
 * the run's completion is audited.
 */
Datum
pgpriv_serve_mpc_flight(PG_FUNCTION_ARGS)
{
	char	   *run;
	bytea	   *msg;
	OwnerRun   *owner_run = mpc_serve_step(fcinfo, "mpc", &run, &msg);
	bytea	   *reply;

	reply = mpc_owner_flight(owner_run->session, msg);
	owner_run->base.bytes_in += VARSIZE_ANY_EXHDR(msg);
	owner_run->base.bytes_out += VARSIZE_ANY_EXHDR(reply);
	progress_advance(mpc_session_steps_done(owner_run->session), owner_run->base.bytes_in,
					 owner_run->base.bytes_out);

	if (mpc_session_steps_done(owner_run->session) == owner_run->plan.nsteps)
	{
		Admission  *admission = admission_require(owner_run->base.run, owner_run->base.dataset, "mpc");

		return mpc_serve_last_reply(admission, admission->keys, owner_run->usable, &owner_run->base,
									run, reply);
	}
	return mpc_serve_reply(run, reply);
}

