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

#include <sodium.h>

#include "access/htup_details.h"
#include "access/xact.h"
#include "executor/spi.h"
#include "funcapi.h"
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
#include "catalog/receipt.h"
#include "run/admission.h"
#include "run/capability.h"

PG_FUNCTION_INFO_V1(pgpriv_serve_admit);
PG_FUNCTION_INFO_V1(pgpriv_serve_columns);
PG_FUNCTION_INFO_V1(pgpriv_serve_receipt);

/* One run at a time per serving session: the asker's calls are sequential. */
static Admission admitted;

/*
 * The run this session refused last, until the next admission: the owner's
 * statement of it (signed at the refusal) is what serve_receipt returns for
 * it, once, in exchange for the asker's.
 */
static struct
{
	char		run[64];
	char		dataset[NAMEDATALEN];
	char		capability[NAMEDATALEN];
	int64		keys;
	Transcript	transcript;
	bytea	   *statement;		/* in TopMemoryContext */
	uint8		signature[64];
	bool		receipted;
} refused;

/* The admitted run's binary messages, from its serve_admit on. */
static Transcript transcript;

void
admission_absorb(const char *run, char tag, const bytea *msg)
{
	if (admitted.run[0] != '\0' && !admitted.receipted && strcmp(admitted.run, run) == 0)
		transcript_absorb(&transcript, tag, VARDATA_ANY(msg), VARSIZE_ANY_EXHDR(msg));
}

/*
 * The owner's signed statement of a run (docs/receipts.md), kept in its
 * receipts; returned with its signature.  asker_key, peer_digest and
 * disputed come from the asker's statement, when there is one.
 */
static bytea *
owner_statement(const char *run, const char *dataset, const char *capability, int64 keys_in,
				int64 keys_out, int64 bytes_in, int64 bytes_out, const char *outcome,
				const char *asker_key, const char *peer_digest, const char *disputed,
				uint8 sig[64])
{
	Receipt		r;
	uint8		own_key[32];
	bytea	   *stmt;

	receipt_own_key(own_key);
	memset(&r, 0, sizeof(r));
	receipt_set_text(&r, RF_RUN_ID, run);
	receipt_set_text(&r, RF_SIGNER, "owner");
	receipt_set_text(&r, RF_ASKER_KEY, asker_key);
	receipt_set_hex(&r, RF_OWNER_KEY, own_key);
	receipt_set_text(&r, RF_ASKER_ROLE, session_role_name());
	receipt_set_text(&r, RF_DATASET, dataset);
	receipt_set_text(&r, RF_CAPABILITY, capability);
	receipt_set_int(&r, RF_KEYS_IN, keys_in);
	receipt_set_int(&r, RF_KEYS_OUT, keys_out);
	receipt_set_int(&r, RF_BYTES_IN, bytes_in);
	receipt_set_int(&r, RF_BYTES_OUT, bytes_out);
	receipt_set_int(&r, RF_MESSAGES, transcript.messages);
	receipt_set_hex(&r, RF_TRANSCRIPT, transcript.h);
	receipt_set_text(&r, RF_OUTCOME, outcome);
	receipt_set_now(&r);
	receipt_set_text(&r, RF_PEER_STATEMENT, peer_digest);
	receipt_set_text(&r, RF_DISPUTED, disputed);
	stmt = receipt_encode(&r);
	receipt_sign(stmt, sig);
	receipt_store(run, "owner", true, stmt, sig, NULL);
	return stmt;
}

/* The outcome of the admitted run as the owner signs it. */
static const char *
admitted_outcome(void)
{
	return admitted.completed ? "ok" : "failed: run not completed";
}

/*
 * Run the capability's check of the run's terms in a subtransaction and
 * return its error (copied out into the memory context into), or NULL if the
 * terms are acceptable.  The error becomes the audited outcome, and is raised
 * once that is committed.
 */
static ErrorData *
terms_refusal(const char *dataset, const Capability *cap, const Permit *permit, bytea *terms,
			  MemoryContext into)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	ErrorData  *volatile edata = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		cap->check(dataset, permit, terms);
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
	const Capability *cap;
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
	cap = capability_lookup(capability);
	no_keys = nkeys == 0 && cap != NULL && cap->asks_keys;

	if (fcinfo->context == NULL || !IsA(fcinfo->context, CallContext) ||
		((CallContext *) fcinfo->context)->atomic)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TRANSACTION_TERMINATION),
				 errmsg("pgpriv.serve_admit must be run with CALL outside a transaction block")));
	if (cap == NULL)
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
		audit_append_run("owner", peer, admitted.capability, admitted.dataset, admitted.served, -1,
						 admitted.bytes_in, admitted.bytes_out, "failed: run not completed",
						 psprintf("run %s, %lld of %lld admitted keys served", admitted.run,
								  (long long) admitted.served, (long long) admitted.keys),
						 admitted.run);

	/*
	 * A previous run the asker never asked a receipt of (it failed, or it
	 * is modified) gets the owner's own signed statement now.
	 */
	if (admitted.run[0] != '\0' && !admitted.receipted)
	{
		uint8		sig[64];

		(void) owner_statement(admitted.run, admitted.dataset, admitted.capability, admitted.served,
							   admitted.keys_out, admitted.bytes_in, admitted.bytes_out,
							   admitted_outcome(), NULL, NULL, NULL, sig);
	}
	memset(&admitted, 0, sizeof(admitted));
	admitted.keys_out = -1;
	if (refused.statement != NULL)
		pfree(refused.statement);
	memset(&refused, 0, sizeof(refused));
	transcript_reset(&transcript);
	if (terms != NULL)
		transcript_absorb(&transcript, TRANSCRIPT_REQUEST, VARDATA_ANY(terms), VARSIZE_ANY_EXHDR(terms));
	found = permit_lookup(dataset, capability, &ds, &permit);
	/* terms_error outlives SPI_finish, which frees the SPI procedure context */
	if (found && !too_many && !no_keys && cap->check != NULL && (terms != NULL || !cap->check_needs_terms))
		terms_error = terms_refusal(dataset, cap, &permit, terms, call_cxt);
	if (found && !too_many && !no_keys && terms_error == NULL)
		fits = budget_try_charge(dataset, capability, nkeys, &permit, &used_before);
	outcome = !found ? "refused: no permit (42501)"
		: too_many ? "refused: more than pgpriv.max_run_keys (54000)"
		: no_keys ? "refused: no keys (22023)"
		: terms_error ? psprintf("refused: %s (%s)", terms_error->message,
								 unpack_sql_state(terms_error->sqlerrcode))
		: !fits ? "refused: over the max_keys budget (54000)"
		: "admitted";
	audit_append_run("owner", peer, capability, dataset, nkeys, -1, -1, -1, outcome,
					 psprintf("run %s", run), run);
	/*
	 * A refused run ends here: the owner's signed statement of it, kept, and
	 * offered to the asker in exchange for its own (serve_receipt).
	 */
	if (strcmp(outcome, "admitted") != 0)
	{
		bytea	   *stmt = owner_statement(run, dataset, capability, nkeys, -1, -1, -1, outcome,
										   NULL, NULL, NULL, refused.signature);

		refused.statement = MemoryContextAlloc(TopMemoryContext, VARSIZE(stmt));
		memcpy(refused.statement, stmt, VARSIZE(stmt));
		strlcpy(refused.run, run, sizeof(refused.run));
		strlcpy(refused.dataset, dataset, sizeof(refused.dataset));
		strlcpy(refused.capability, capability, sizeof(refused.capability));
		refused.keys = nkeys;
		refused.transcript = transcript;
	}
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
	admission_complete_note(a, keys_out, NULL);
}

void
admission_complete_note(Admission *a, int64 keys_out, const char *note)
{
	audit_append_run("owner", session_role_name(), a->capability, a->dataset, a->served, keys_out,
					 a->bytes_in, a->bytes_out, "ok",
					 note ? psprintf("run %s, %s", a->run, note) : psprintf("run %s", a->run), a->run);
	a->keys_out = keys_out;
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
	if (capability_lookup(capability) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("no run of capability \"%s\" is served this way", capability)));
	permit_require(dataset, capability, &ds, &permit);
	elems = palloc(sizeof(Datum) * Max(list_length(permit.columns), 1));
	foreach(lc, permit.columns)
		elems[n++] = CStringGetTextDatum((char *) lfirst(lc));
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}

static bool
field_is(const Receipt *r, ReceiptField f, const char *want)
{
	return r->v[f] != NULL && want != NULL && strcmp(r->v[f], want) == 0;
}

/*
 * What in the asker's statement does not match the owner's view of the run
 * (NULL if all does): run, signer and signature first, then the owner's key
 * if named, the login role, dataset, capability, keys, transcript and
 * message count, and the outcome (want_outcome exactly, or, with
 * outcome_prefix, any outcome starting with it).
 */
static const char *
asker_statement_dispute(const char *run, const uint8 *sdata, size_t slen, const uint8 *sigdata,
						size_t siglen, Receipt *theirs, bool *parsed, const char *dataset,
						const char *capability, int64 keys, const Transcript *t,
						const char *want_outcome, bool outcome_prefix)
{
	uint8		key[32];
	char		hex[65];
	char		own_hex[65];
	const char *outcome;

	*parsed = receipt_decode(sdata, slen, theirs);
	if (!*parsed)
		return "the asker's statement is malformed";
	if (!field_is(theirs, RF_SIGNER, "asker") || !field_is(theirs, RF_RUN_ID, run))
		return "the asker's statement is not of this run";
	if (siglen != 64 || !receipt_signer_key(theirs, key) ||
		crypto_sign_verify_detached(sigdata, sdata, slen, key) != 0)
		return "the asker's signature does not verify with the key its statement names";
	receipt_own_key(key);
	sodium_bin2hex(own_hex, sizeof(own_hex), key, sizeof(key));
	sodium_bin2hex(hex, sizeof(hex), t->h, sizeof(t->h));
	if (!field_is(theirs, RF_OWNER_KEY, own_hex) && theirs->v[RF_OWNER_KEY] != NULL)
		return "the asker's statement names another owner key";
	if (!field_is(theirs, RF_ASKER_ROLE, session_role_name()))
		return "the asker's statement names another role";
	if (!field_is(theirs, RF_DATASET, dataset) || !field_is(theirs, RF_CAPABILITY, capability))
		return "the asker's statement names another dataset or capability";
	if (!field_is(theirs, RF_KEYS_IN, psprintf("%lld", (long long) keys)))
		return psprintf("the asker's statement counts other keys than the %lld admitted",
						(long long) keys);
	if (!field_is(theirs, RF_TRANSCRIPT, hex) ||
		!field_is(theirs, RF_MESSAGES, psprintf("%lld", (long long) t->messages)))
		return "the asker's transcript digest differs from the owner's";
	outcome = theirs->v[RF_OUTCOME];
	if (outcome_prefix ? (outcome == NULL || strncmp(outcome, want_outcome, strlen(want_outcome)) != 0)
		: !field_is(theirs, RF_OUTCOME, want_outcome))
		return psprintf(outcome_prefix ? "the asker's outcome does not start with \"%s\""
						: "the asker's outcome is not \"%s\"", want_outcome);
	return NULL;
}

/* Keep the asker's statement if it is one of this run, forged or not. */
static void
keep_asker_statement(const char *run, const Receipt *theirs, bool parsed, const uint8 *sdata,
					 size_t slen, const uint8 *sigdata, size_t siglen, const char *disputed)
{
	if (parsed && field_is(theirs, RF_SIGNER, "asker") && field_is(theirs, RF_RUN_ID, run) &&
		siglen == 64)
	{
		bytea	   *copy = palloc(VARHDRSZ + slen);

		SET_VARSIZE(copy, VARHDRSZ + slen);
		memcpy(VARDATA(copy), sdata, slen);
		receipt_store(run, "asker", false, copy, sigdata, disputed);
	}
}

static Datum
statement_row(TupleDesc tupdesc, bytea *stmt, const uint8 sig[64])
{
	bytea	   *sigb = palloc(VARHDRSZ + 64);
	Datum		values[2];
	bool		nulls[2] = {false, false};

	SET_VARSIZE(sigb, VARHDRSZ + 64);
	memcpy(VARDATA(sigb), sig, 64);
	values[0] = PointerGetDatum(stmt);
	values[1] = PointerGetDatum(sigb);
	return HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls));
}

/*
 * serve_receipt for the run refused last in this session: the owner keeps
 * the asker's statement (with what does not match, in words, as its local
 * note) and returns the statement it signed at the refusal.  The asker's
 * outcome must be a failure; its digest covers what the asker sent before
 * the refusal (the terms, if any), as the owner's does.
 */
static Datum
refused_receipt(TupleDesc tupdesc, const char *run, bytea *astmt, bytea *asig)
{
	const uint8 *sdata = (const uint8 *) VARDATA_ANY(astmt);
	size_t		slen = VARSIZE_ANY_EXHDR(astmt);
	const uint8 *sigdata = (const uint8 *) VARDATA_ANY(asig);
	size_t		siglen = VARSIZE_ANY_EXHDR(asig);
	Receipt		theirs;
	bool		parsed;
	const char *disputed;
	bytea	   *stmt;

	disputed = asker_statement_dispute(run, sdata, slen, sigdata, siglen, &theirs, &parsed,
									   refused.dataset, refused.capability, refused.keys,
									   &refused.transcript, "failed:", true);
	keep_asker_statement(run, &theirs, parsed, sdata, slen, sigdata, siglen, disputed);
	refused.receipted = true;
	stmt = palloc(VARSIZE(refused.statement));
	memcpy(stmt, refused.statement, VARSIZE(refused.statement));
	return statement_row(tupdesc, stmt, refused.signature);
}

/*
 * pgpriv.serve_receipt(run text, asker_statement bytea, asker_signature bytea)
 *   → TABLE(owner_statement bytea, owner_signature bytea)
 *
 * The end of the run admitted in this session: the asker's signed
 * statement in, the owner's out (docs/receipts.md).  The owner checks the
 * asker's statement against its own view of the run — the run, its role,
 * the dataset and capability, the keys admitted, the transcript digest and
 * the signature by the key the statement names — and says in its own
 * statement (disputed) what does not match; either way it keeps the
 * asker's statement (if it is one of this run) with its own and answers.
 * Once per run.
 */
Datum
pgpriv_serve_receipt(PG_FUNCTION_ARGS)
{
	char	   *run = text_to_cstring(PG_GETARG_TEXT_PP(0));
	bytea	   *astmt = PG_GETARG_BYTEA_PP(1);
	bytea	   *asig = PG_GETARG_BYTEA_PP(2);
	const uint8 *sdata = (const uint8 *) VARDATA_ANY(astmt);
	size_t		slen = VARSIZE_ANY_EXHDR(astmt);
	size_t		siglen = VARSIZE_ANY_EXHDR(asig);
	Receipt		theirs;
	bool		parsed;
	const char *disputed;
	char		digest[65];
	uint8		sig[64];
	bytea	   *stmt;
	TupleDesc	tupdesc;

	catalog_restrict_definer();
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "serve_receipt must return a composite type");
	if (refused.statement != NULL && !refused.receipted && strcmp(refused.run, run) == 0)
		return refused_receipt(tupdesc, run, astmt, asig);
	if (admitted.run[0] == '\0' || admitted.receipted || strcmp(admitted.run, run) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("malformed message from the asker"),
				 errdetail("Run %s is not the run admitted in this session, or has its receipt already.", run)));

	receipt_digest_hex(sdata, slen, (const uint8 *) VARDATA_ANY(asig), siglen, digest);
	disputed = asker_statement_dispute(run, sdata, slen, (const uint8 *) VARDATA_ANY(asig), siglen,
									   &theirs, &parsed, admitted.dataset, admitted.capability,
									   admitted.keys, &transcript, admitted_outcome(), false);
	keep_asker_statement(run, &theirs, parsed, sdata, slen, (const uint8 *) VARDATA_ANY(asig), siglen,
						 disputed);
	stmt = owner_statement(run, admitted.dataset, admitted.capability, admitted.served,
						   admitted.keys_out, admitted.bytes_in, admitted.bytes_out,
						   admitted_outcome(), parsed ? theirs.v[RF_ASKER_KEY] : NULL,
						   digest, disputed, sig);
	admitted.receipted = true;
	PG_RETURN_DATUM(statement_row(tupdesc, stmt, sig));
}

/*
 * pgpriv._receipt_countersign(asker_statement bytea, asker_signature bytea)
 *   → TABLE(owner_statement bytea, owner_signature bytea)
 *
 * An owner statement that agrees with whatever the asker's says (its run,
 * dataset, capability, counts and digest), signed with this party's key
 * and not kept.  Nothing a modified owner could not produce with its own
 * key anyway; revoked from PUBLIC.  The tests' look-alike peers answer
 * serve_receipt with it, so that a look-alike's well-formed run completes.
 */
PG_FUNCTION_INFO_V1(pgpriv_receipt_countersign);

Datum
pgpriv_receipt_countersign(PG_FUNCTION_ARGS)
{
	bytea	   *astmt = PG_GETARG_BYTEA_PP(0);
	bytea	   *asig = PG_GETARG_BYTEA_PP(1);
	Receipt		theirs;
	Receipt		r;
	char		digest[65];
	uint8		own_key[32];
	uint8		sig[64];
	bytea	   *stmt;
	bytea	   *sigb;
	TupleDesc	tupdesc;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "_receipt_countersign must return a composite type");
	if (!receipt_decode((const uint8 *) VARDATA_ANY(astmt), VARSIZE_ANY_EXHDR(astmt), &theirs))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("not a receipt statement")));
	receipt_digest_hex((const uint8 *) VARDATA_ANY(astmt), VARSIZE_ANY_EXHDR(astmt),
					   (const uint8 *) VARDATA_ANY(asig), VARSIZE_ANY_EXHDR(asig), digest);
	r = theirs;
	receipt_own_key(own_key);
	receipt_set_text(&r, RF_SIGNER, "owner");
	receipt_set_hex(&r, RF_OWNER_KEY, own_key);
	receipt_set_now(&r);
	receipt_set_text(&r, RF_PEER_STATEMENT, digest);
	receipt_set_text(&r, RF_DISPUTED, NULL);
	stmt = receipt_encode(&r);
	receipt_sign(stmt, sig);
	sigb = palloc(VARHDRSZ + 64);
	SET_VARSIZE(sigb, VARHDRSZ + 64);
	memcpy(VARDATA(sigb), sig, 64);
	values[0] = PointerGetDatum(stmt);
	values[1] = PointerGetDatum(sigb);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}
