/*
 * psi_count.c — intersection size by ECDH, counted by the owner
 * (docs/architecture.md, protocol 2), the owner's half and the asker's half.
 *
 * Per run, the asker picks a secret scalar a and the owner a secret scalar
 * b, both fresh.  The asker sends A = {a·H(x)} for its keys x; the owner
 * keeps b·A (it never sends it back) and sends B = {b·H(y)} for its own
 * distinct keys y, sorted by value; the asker returns T = {a·w : w in B},
 * sorted by value (a random order from the owner's view, which cannot
 * compute a·w); the owner checks T (exactly |B| distinct, valid,
 * non-identity elements) and returns one number, |b·A ∩ T|.
 *
 * So the only thing that depends on both sets is that one number, which
 * the owner computes.  An asker that masks each key with its own secret
 * gains nothing: nothing it receives is a function of its elements.  A
 * modified asker can still choose what T holds, and so which set the count
 * is about (input substitution): one count per run, nothing per key.  The
 * owner learns the count too; docs/psi_count.md says what a modified owner
 * can do.  H is RFC 9497 HashToGroup.
 *
 * The owner keeps a run's state in the serving backend's memory between
 * the asker's calls (the asker's connection is one session); it is wiped when
 * the run ends, a new run starts, or the session ends.  Its size is set by
 * the admitted key count (within pgpriv.max_run_keys) and the owner's own
 * dataset, never by what the asker sends.
 */
#include "postgres.h"

#include <sodium.h>

#include "access/htup_details.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "pgpriv.h"
#include "catalog/pgpriv_catalog.h"
#include "crypto/oprf.h"
#include "peer/call.h"
#include "catalog/receipt.h"
#include "run/ask.h"
#include "run/admission.h"
#include "run/batch.h"
#include "protocol/join/ecdh.h"
#include "protocol/join/join_ask.h"
#include "run/keys.h"
#include "run/progress.h"
#include "run/served_run.h"
#include "wire/message.h"

#define EL 32					/* bytes per ristretto255 element */

PG_FUNCTION_INFO_V1(pgpriv_serve_count_begin);
PG_FUNCTION_INFO_V1(pgpriv_serve_count_push);
PG_FUNCTION_INFO_V1(pgpriv_serve_count_finish);
PG_FUNCTION_INFO_V1(pgpriv_serve_count_pull);
PG_FUNCTION_INFO_V1(pgpriv_serve_count_return);
PG_FUNCTION_INFO_V1(pgpriv_serve_count_result);
PG_FUNCTION_INFO_V1(pgpriv_psi_count);

/* ----------------------------------------------------------------------
 * Owner's half
 * ----------------------------------------------------------------------
 */

typedef struct CountRun
{
	ServedRun	base;			/* run id, dataset, memory, bytes each way */
	EcdhAsked	asked;			/* A = the asker's keys; b·A, sorted, once finished */
	int64		owner_n;
	uint8	   *owner;			/* B = b·H(y) for the distinct dataset keys, sorted */
	int64		returned;		/* elements of T received so far */
	uint8	   *returned_elements;	/* T = a·B, owner_n elements, from the asker */
} CountRun;

/* A protocol violation by the asker: the run ends, nothing more is served. */
static void pg_attribute_noreturn()
count_refuse(const char *detail)
{
	served_run_close();
	wire_malformed("the asker", detail);
}

/*
 * pgpriv.serve_count_begin(dataset, run) → (batch_limit, owner_keys)
 *
 * For a run admitted by serve_admit (permit checked, its keys charged to the
 * budget): opens it with a fresh secret scalar b and masks the dataset's
 * distinct keys.
 */
Datum
pgpriv_serve_count_begin(PG_FUNCTION_ARGS)
{
	char	   *dataset = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *run = text_to_cstring(PG_GETARG_TEXT_PP(1));
	Admission  *admission = admission_require(run, dataset, "psi_count");
	int64		nkeys = admission->keys;
	Dataset		ds;
	Permit		permit;
	CountRun   *count_run;
	MemoryContext cxt;

	catalog_restrict_definer();
	permit_require(dataset, "psi_count", &ds, &permit);
	count_run = served_run_open("psi_count", run, dataset, sizeof(CountRun), NULL);
	cxt = count_run->base.cxt;
	ecdh_asked_init(&count_run->asked, cxt, nkeys);

	/*
	 * The dataset's side does not depend on the asker's keys: mask it now,
	 * while the asker masks its own keys.
	 */
	progress_begin("psi_count", session_role_name(), dataset, nkeys);
	progress_phase("owner: masking the dataset's keys", 0);
	{
		DatasetRows rows;
		MemoryContext old = MemoryContextSwitchTo(cxt);

		dataset_rows_fetch(&ds, NIL, &rows);
		keys_unique(&rows.keys);
		count_run->owner_n = (int64) rows.keys.n;
		count_run->owner = palloc_extended(Max(rows.keys.n, 1) * EL, MCXT_ALLOC_HUGE);
		batch_hash_and_mult(&rows.keys, count_run->asked.b, count_run->owner);
		qsort(count_run->owner, rows.keys.n, EL, ecdh_compare_element);
		/* Room for T, sized by the dataset alone. */
		count_run->returned_elements = palloc_extended(Max(rows.keys.n, 1) * EL, MCXT_ALLOC_HUGE);
		MemoryContextSwitchTo(old);
	}
	progress_end();

	{
		TupleDesc	tupdesc;
		Datum		values[2];
		bool		nulls[2] = {false, false};

		if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
			elog(ERROR, "serve_count_begin must return a composite type");
		values[0] = Int32GetDatum(pgpriv_batch_size);
		values[1] = Int64GetDatum(count_run->owner_n);
		PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
	}
}

/* pgpriv.serve_count_push(run, batch) → keys received so far (A) */
Datum
pgpriv_serve_count_push(PG_FUNCTION_ARGS)
{
	char	   *run = text_to_cstring(PG_GETARG_TEXT_PP(0));
	bytea	   *msg = PG_GETARG_BYTEA_PP(1);
	CountRun   *cr = served_run_get("psi_count", run);

	PG_RETURN_INT64(ecdh_serve_push(&cr->base, &cr->asked, msg));
}

/*
 * pgpriv.serve_count_finish(run) → the number of distinct dataset keys
 *
 * Masks the asker's elements with b and sorts them, on all cores; then b is
 * wiped.  b·A stays with the owner.
 */
Datum
pgpriv_serve_count_finish(PG_FUNCTION_ARGS)
{
	char	   *run = text_to_cstring(PG_GETARG_TEXT_PP(0));
	CountRun   *cr = served_run_get("psi_count", run);

	ecdh_serve_finish(&cr->base, &cr->asked, "psi_count");
	PG_RETURN_INT64(cr->owner_n);
}

/*
 * pgpriv.serve_count_pull(run, part, start, count) → bytea
 *
 * Up to count (at most batch_size) elements of B from position start; part
 * must be 'owner' (the asker's masked keys are never sent back).  B does not
 * depend on the asker's elements, so it may be pulled any time after begin
 * (the asker masks it while the owner masks A).
 */
Datum
pgpriv_serve_count_pull(PG_FUNCTION_ARGS)
{
	char	   *run = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *part = text_to_cstring(PG_GETARG_TEXT_PP(1));
	int64		start = PG_GETARG_INT64(2);
	int32		want = PG_GETARG_INT32(3);
	CountRun   *cr = served_run_get("psi_count", run);
	int64		m;

	catalog_restrict_definer();
	if (strcmp(part, "owner") != 0)
		count_refuse(psprintf("Results of part \"%s\" are not available: the owner counts.", part));
	if (start < 0 || start > cr->owner_n)
		count_refuse(psprintf("Position %lld is outside the %lld elements.",
							  (long long) start, (long long) cr->owner_n));
	ecdh_check_want(want);
	m = Min((int64) want, cr->owner_n - start);
	PG_RETURN_BYTEA_P(ecdh_serve_reply(&cr->base,
									   wire_pack_fixed(WIRE_OWNER_ELEMENTS, cr->owner + start * EL, (uint32) m, EL)));
}

/*
 * pgpriv.serve_count_return(run, batch) → elements of T received so far
 *
 * A batch (WIRE_ASKER_ELEMENTS, at most pgpriv.batch_size) of T = a·B.
 * More than |B| in all, an element that is not a canonical ristretto255
 * encoding or is the identity: 08P01, and the run ends.
 */
Datum
pgpriv_serve_count_return(PG_FUNCTION_ARGS)
{
	char	   *run = text_to_cstring(PG_GETARG_TEXT_PP(0));
	bytea	   *msg = PG_GETARG_BYTEA_PP(1);
	CountRun   *cr = served_run_get("psi_count", run);
	uint32		count = 0;
	const uint8 *volatile items = NULL;
	uint32		i;

	catalog_restrict_definer();
	admission_absorb(run, TRANSCRIPT_REQUEST, msg);
	if (!cr->asked.finished)
		count_refuse("Elements returned before the run's keys were masked.");
	items = wire_unpack_fixed(msg, WIRE_ASKER_ELEMENTS, EL, (uint32) pgpriv_batch_size, &count,
							  "the asker");
	if (cr->returned + count > cr->owner_n)
		count_refuse(psprintf("More than the %lld elements sent.", (long long) cr->owner_n));
	for (i = 0; i < count; i++)
	{
		const uint8 *e = items + (size_t) i * EL;

		if (sodium_is_zero(e, EL))
			count_refuse(psprintf("Element %lld is the identity.", (long long) (cr->returned + i + 1)));
		if (!crypto_core_ristretto255_is_valid_point(e))
			count_refuse(psprintf("Element %lld is not a valid ristretto255 element.",
								  (long long) (cr->returned + i + 1)));
	}
	memcpy(cr->returned_elements + cr->returned * EL, items, (size_t) count * EL);
	cr->returned += count;
	cr->base.bytes_in += VARSIZE_ANY_EXHDR(msg);
	PG_RETURN_INT64(cr->returned);
}

/*
 * pgpriv.serve_count_result(run) → |b·A ∩ T|
 *
 * Once T is complete: checks that its elements are distinct, counts those
 * that are in b·A, writes the run's audit row and ends the run.  The count
 * is given once per run.
 */
Datum
pgpriv_serve_count_result(PG_FUNCTION_ARGS)
{
	char	   *run = text_to_cstring(PG_GETARG_TEXT_PP(0));
	CountRun   *cr = served_run_get("psi_count", run);
	Admission  *admission;
	int64		matched = 0;
	int64		i;

	catalog_restrict_definer();
	if (!cr->asked.finished || cr->returned != cr->owner_n)
		count_refuse(psprintf("%lld of the %lld elements sent were returned.",
							  (long long) cr->returned, (long long) cr->owner_n));
	qsort(cr->returned_elements, (size_t) cr->returned, EL, ecdh_compare_element);
	if (!ecdh_strictly_ascending(cr->returned_elements, (size_t) cr->returned, EL))
		count_refuse("The returned elements are not distinct.");
	for (i = 0; i < cr->returned; i++)
	{
		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		if (bsearch(cr->returned_elements + i * EL, cr->asked.elements, (size_t) cr->asked.received,
					EL, ecdh_compare_element) != NULL)
			matched++;
	}

	/* The run is complete: one audit row with everything that crossed. */
	admission = admission_require(cr->base.run, cr->base.dataset, "psi_count");
	admission_serve(admission, cr->asked.received, cr->base.bytes_in, cr->base.bytes_out);
	admission_complete(admission, matched);
	served_run_close();
	PG_RETURN_INT64(matched);
}

/* ----------------------------------------------------------------------
 * Asker's half
 * ----------------------------------------------------------------------
 */

static const char *const count_pull_sql =
"SELECT pgpriv.serve_count_pull($1, $2, $3::pg_catalog.int8, $4::pg_catalog.int4)";

/* pgpriv.psi_count(peer name, dataset text, keys_query text) → bigint */
Datum
pgpriv_psi_count(PG_FUNCTION_ARGS)
{
	char	   *server = NameStr(*PG_GETARG_NAME(0));
	char	   *dataset = text_to_cstring(PG_GETARG_TEXT_PP(1));
	char	   *keys_query = text_to_cstring(PG_GETARG_TEXT_PP(2));
	KeySet		keys;
	PeerCall	call;
	AuditWatch	watch;
	char	   *run;
	uint8		a[32];
	uint8	   *blinded;
	volatile int64 matched = 0;
	char	   *sender;

	keys_collect(keys_query, &keys);
	if (keys.n == 0)
		PG_RETURN_INT64(0);		/* nothing to ask: the peer is not called */
	run = run_ask_open(&call, &watch, server, "psi_count", "psi_count", dataset, (int64) keys.n,
					   (int64) keys.n);
	sender = psprintf("peer \"%s\"", server);

	oprf_random_scalar(a);
	blinded = palloc_extended(Max(keys.n, 1) * EL, MCXT_ALLOC_HUGE);
	PG_TRY();
	{
		const char *begin_params[2] = {dataset, run};
		const char *run_params[1] = {run};
		PGresult   *res;
		int64		batch;
		int64		owner_n;
		uint8	   *owner;		/* B = b·H(y), sorted */
		uint8	   *returned;	/* T = a·B, sorted */

		/* The owner admits the run (permit, budget, audit) before anything else. */
		run_ask_admit(&call, dataset, "psi_count", run, (int64) keys.n, NULL);

		/* The owner masks its dataset while the asker masks its keys. */
		res = ecdh_ask_begin(&call, "SELECT batch_limit, owner_keys FROM pgpriv.serve_count_begin($1, $2)",
							 2, begin_params, &keys, a, blinded, "owner masks its dataset");
		if (PQntuples(res) != 1 || PQnfields(res) != 2)
		{
			PQclear(res);
			wire_malformed(sender, "Expected the batch limit and the dataset's key count.");
		}
		ecdh_parse_begin(res, server, &batch, &owner_n);

		ecdh_push(&call, "SELECT pgpriv.serve_count_push($1, $2)", run, WIRE_BLINDED, blinded,
				  (int64) keys.n, batch, "asker: sending masked keys", NULL);
		pfree(blinded);

		progress_phase("asker: receiving the dataset's masked keys", owner_n);
		owner = ecdh_pull_part(&call, count_pull_sql, run, "owner", WIRE_OWNER_ELEMENTS, EL,
							   owner_n, batch, false);

		/*
		 * The owner masks A while the asker computes T = a·B, sorted by
		 * value: the owner cannot tell which is which.
		 */
		peer_call_send_text(&call, "SELECT pgpriv.serve_count_finish($1)", 1, run_params);
		progress_phase("asker: masking the dataset's keys (owner masks the asker's)", owner_n);
		returned = palloc_extended(Max(owner_n, 1) * EL, MCXT_ALLOC_HUGE);
		batch_mult((size_t) owner_n, a, owner, returned, sender);
		sodium_memzero(a, sizeof(a));
		pfree(owner);
		qsort(returned, (size_t) owner_n, EL, ecdh_compare_element);
		progress_phase("asker: owner masks the asker's keys", 0);
		if (ecdh_reply_count(peer_call_finish_text(&call), server) != owner_n)
			wire_malformed(sender, "The dataset's key count changed during the run.");

		ecdh_push(&call, "SELECT pgpriv.serve_count_return($1, $2)", run, WIRE_ASKER_ELEMENTS, returned,
				  owner_n, batch, "asker: returning the dataset's masked keys",
				  "It acknowledged a different number of returned elements.");
		pfree(returned);

		progress_phase("asker: owner counts", 0);
		matched = ecdh_reply_count(peer_call_text(&call, "SELECT pgpriv.serve_count_result($1)", 1, run_params),
								  server);
		if (matched > Min((int64) keys.n, owner_n))
			wire_malformed(sender, psprintf("A count of %lld among %zu keys asked and %lld held.",
											(long long) matched, keys.n, (long long) owner_n));
	}
	PG_FINALLY();
	{
		sodium_memzero(a, sizeof(a));
	}
	PG_END_TRY();

	run_ask_close(&call, &watch, run, "psi_count", dataset, (int64) keys.n, matched,
				  psprintf("run %s", run));
	PG_RETURN_INT64(matched);
}
