/*
 * admission.c — CALL pgpriv.serve_admit and the run it admits (see
 * admission.h).
 *
 * serve_admit is a procedure, not a SECURITY DEFINER function, because only
 * a procedure called with CALL may commit, and it must: a refusal raises an
 * error, which would otherwise roll back the audit row that records it.  It
 * reaches pgpriv's tables by switching to the extension owner for exactly
 * those reads and writes; every query it runs is schema-qualified.
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "pgpriv.h"
#include "catalog/pgpriv_catalog.h"
#include "peer/version.h"
#include "run/admission.h"
#include "protocol/mpc/joint_score.h"
#include "protocol/join/psi_sum.h"
#include "protocol/sum/secure_sum.h"
#include "protocol/train/joint_woe.h"

PG_FUNCTION_INFO_V1(pgpriv_serve_admit);
PG_FUNCTION_INFO_V1(pgpriv_serve_columns);

/* One run at a time per serving session: the asker's calls are sequential. */
static Admission admitted;

static bool
admissible_capability(const char *capability)
{
	/* secure_sum too: its budget is also the number of keys asked. */
	return strcmp(capability, "psi") == 0 || strcmp(capability, "psi_fetch") == 0 ||
		strcmp(capability, "psi_count") == 0 || strcmp(capability, "secure_sum") == 0 ||
		strcmp(capability, "psi_sum") == 0 || strcmp(capability, "pir") == 0 ||
		strcmp(capability, "mpc") == 0 || strcmp(capability, "train") == 0;
}

/*
 * Run the capability's check of the run's terms in a subtransaction and
 * return its error (copied out into the memory context into), or NULL if the
 * terms are acceptable.  The error becomes the audited outcome, and is raised
 * once that is committed.
 */
static ErrorData *
terms_refusal(const char *dataset, const char *capability, const Permit *permit, bytea *terms,
			  MemoryContext into)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	ErrorData  *volatile edata = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		if (strcmp(capability, "mpc") == 0)
			joint_score_admission_check(dataset, permit, terms);
		else if (strcmp(capability, "train") == 0)
			joint_woe_admission_check(dataset, permit, terms);
		else if (strcmp(capability, "psi_sum") == 0)
			psi_sum_admission_check(dataset, permit);
		else
			secure_sum_admission_check(dataset, permit, terms);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(into);
		edata = CopyErrorData();
		MemoryContextSwitchTo(cxt);
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_END_TRY();
	return edata;
}

/*
 * CALL pgpriv.serve_admit(dataset text, capability text, run text, nkeys bigint,
 *                         terms bytea DEFAULT NULL)
 *
 * terms carries what a capability needs checked before it charges anything
 * (for secure_sum: the value column and the participants).
 */
Datum
pgpriv_serve_admit(PG_FUNCTION_ARGS)
{
	char	   *dataset;
	char	   *capability;
	char	   *run;
	int64		nkeys;
	bytea	   *terms;
	ErrorData  *terms_error = NULL;
	char	   *peer = session_role_name();
	Dataset		ds;
	Permit		permit;
	bool		found = false;
	bool		fits = false;
	bool		too_many;
	bool		no_keys;
	int64		used_before = 0;
	OwnerContext owner;
	const char *outcome;
	MemoryContext call_cxt = CurrentMemoryContext;
	int			i;

	/* An asker of a release without the version exchange stops here. */
	version_require_agreed();

	/* A procedure cannot be STRICT: every argument but terms is required. */
	for (i = 0; i < 4; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("argument %d of pgpriv.serve_admit must not be NULL", i + 1)));
	dataset = text_to_cstring(PG_GETARG_TEXT_PP(0));
	capability = text_to_cstring(PG_GETARG_TEXT_PP(1));
	run = text_to_cstring(PG_GETARG_TEXT_PP(2));
	nkeys = PG_GETARG_INT64(3);
	terms = (PG_NARGS() > 4 && !PG_ARGISNULL(4)) ? PG_GETARG_BYTEA_PP(4) : NULL;
	too_many = nkeys < 0 || nkeys > (int64) pgpriv_max_run_keys;
	/* A run of no keys learns nothing it may have (but a table, a decryption). */
	no_keys = nkeys == 0 && strcmp(capability, "mpc") != 0 && strcmp(capability, "pir") != 0;

	if (fcinfo->context == NULL || !IsA(fcinfo->context, CallContext) ||
		((CallContext *) fcinfo->context)->atomic)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TRANSACTION_TERMINATION),
				 errmsg("pgpriv.serve_admit must be run with CALL outside a transaction block")));
	if (!admissible_capability(capability))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("no run of capability \"%s\" is served this way", capability)));
	if (strlen(run) >= sizeof(admitted.run) || strlen(dataset) >= sizeof(admitted.dataset))
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("malformed message from the asker"),
				 errdetail("Run id or dataset name too long.")));

	if (SPI_connect_ext(SPI_OPT_NONATOMIC) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	catalog_enter_owner(&owner);

	/*
	 * The previous run of this session that never completed (the asker
	 * failed, gave up or sent something refused after its admission) goes
	 * on record now: its transaction could not write it.  Its keys stay
	 * charged.
	 */
	if (admitted.run[0] != '\0' && !admitted.completed && admitted.keys > 0)
		audit_append("owner", peer, admitted.capability, admitted.dataset, admitted.served, -1,
					 admitted.bytes_in, admitted.bytes_out, "failed: run not completed",
					 psprintf("run %s, %lld of %lld admitted keys served", admitted.run,
							  (long long) admitted.served, (long long) admitted.keys));
	memset(&admitted, 0, sizeof(admitted));
	found = permit_lookup(dataset, capability, &ds, &permit);
	/* terms_error outlives SPI_finish, which frees the SPI procedure context */
	if (found && !too_many && !no_keys &&
		(strcmp(capability, "mpc") == 0 || strcmp(capability, "psi_sum") == 0 ||
		 strcmp(capability, "train") == 0 ||
		 (terms != NULL && strcmp(capability, "secure_sum") == 0)))
		terms_error = terms_refusal(dataset, capability, &permit, terms, call_cxt);
	if (found && !too_many && !no_keys && terms_error == NULL)
		fits = budget_try_charge(dataset, capability, nkeys, &permit, &used_before);
	outcome = !found ? "refused: no permit (42501)"
		: too_many ? "refused: more than pgpriv.max_run_keys (54000)"
		: no_keys ? "refused: no keys (22023)"
		: terms_error ? psprintf("refused: %s (%s)", terms_error->message,
								 unpack_sql_state(terms_error->sqlerrcode))
		: !fits ? "refused: over the max_keys budget (54000)"
		: "admitted";
	audit_append("owner", peer, capability, dataset, nkeys, -1, -1, -1, outcome,
				 psprintf("run %s", run));
	catalog_leave_owner(&owner);

	/* The audit row (and the charge) stand whatever happens next. */
	SPI_commit();
	SPI_start_transaction();
	SPI_finish();

	if (!found)
		permit_refusal(dataset, capability);
	if (terms_error)
		ReThrowError(terms_error);
	if (no_keys)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a %s run must ask at least one key", capability)));
	if (too_many)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("a run may ask at most %d keys (pgpriv.max_run_keys), not %lld",
						pgpriv_max_run_keys, (long long) nkeys)));
	if (!fits)
		budget_refusal(dataset, capability, nkeys, used_before, &permit);

	strlcpy(admitted.run, run, sizeof(admitted.run));
	strlcpy(admitted.dataset, dataset, sizeof(admitted.dataset));
	strlcpy(admitted.capability, capability, sizeof(admitted.capability));
	admitted.keys = nkeys;
	PG_RETURN_VOID();
}

Admission *
admission_require(const char *run, const char *dataset, const char *capability)
{
	if (admitted.run[0] == '\0' || admitted.completed ||
		strcmp(admitted.run, run) != 0 || strcmp(admitted.dataset, dataset) != 0 ||
		strcmp(admitted.capability, capability) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("malformed message from the asker"),
				 errdetail("Run %s was not admitted for %s on dataset \"%s\" in this session.",
						   run, capability, dataset),
				 errhint("A run starts with CALL pgpriv.serve_admit(...).")));
	return &admitted;
}

void
admission_serve(Admission *a, int64 n, int64 bytes_in, int64 bytes_out)
{
	if (a->served + n > a->keys)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("malformed message from the asker"),
				 errdetail("More keys than the %lld admitted for run %s.", (long long) a->keys, a->run)));
	a->served += n;
	a->bytes_in += bytes_in;
	a->bytes_out += bytes_out;
}

void
admission_complete(Admission *a, int64 keys_out)
{
	audit_append("owner", session_role_name(), a->capability, a->dataset, a->served, keys_out,
				 a->bytes_in, a->bytes_out, "ok", psprintf("run %s", a->run));
	a->completed = true;
}

/*
 * pgpriv.serve_columns(dataset text, capability text) → text[]
 *
 * The columns the session's login role is permitted for capability on
 * dataset (42501 without a permit): what the asker checks its column
 * definition list against before a run is admitted, so that a mistake in
 * it costs no budget.  Tells the role nothing its permit does not grant.
 */
Datum
pgpriv_serve_columns(PG_FUNCTION_ARGS)
{
	char	   *dataset = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *capability = text_to_cstring(PG_GETARG_TEXT_PP(1));
	Dataset		ds;
	Permit		permit;
	Datum	   *elems;
	int			n = 0;
	ListCell   *lc;

	catalog_restrict_definer();
	if (!admissible_capability(capability))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("no run of capability \"%s\" is served this way", capability)));
	permit_require(dataset, capability, &ds, &permit);
	elems = palloc(sizeof(Datum) * Max(list_length(permit.columns), 1));
	foreach(lc, permit.columns)
		elems[n++] = CStringGetTextDatum((char *) lfirst(lc));
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}
