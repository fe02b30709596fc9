/*
 * audit_failure.c — the asker's audit row for a run that failed.
 *
 * A run the asker completes is audited in its own transaction
 * (audit_append, at the end).  A run that fails — the peer lost or
 * refusing, a cancel, a timeout, the backend terminated — aborts that
 * transaction, and a row written there would vanish with it.  So:
 *
 *  - while an asker run is under way, an error context callback of the
 *    asker's own frame (audit_watch_begin/end, the usual stack-allocated
 *    ErrorContextCallback) notes the SQLSTATE of any error raised inside it
 *    and the bytes moved so far, into static storage (no allocation in the
 *    error path);
 *  - when the transaction then aborts (also on the way out of a terminated
 *    backend), a transaction callback starts a dynamic background worker
 *    that writes the row in a transaction of its own, as autonomous-
 *    transaction extensions do, and does not wait for it: the abort path
 *    must not block.  The row arrives within moments of the error.
 *
 * The worker's arguments travel in the worker's registration: the database
 * in bgw_main_arg, the record in bgw_extra (128 bytes), the peer's name in
 * bgw_name; what does not fit there (the run's transcript digest and message
 * count, the login role on the peer, for the asker's signed statement) in a
 * small dynamic shared memory segment made while the run is admitted (never
 * in the abort path), pinned when the worker is started and unpinned by it.
 * It connects as the bootstrap superuser, pins search_path, and calls only
 * pgpriv._audit_append_as, with the analyst as actor.  Nothing secret is in
 * the record: names, counts, a digest and the error's class.
 *
 * Limits: without a free background worker slot (max_worker_processes) the
 * row is lost and a LOG line says so; a backend killed by SIGKILL or a
 * crash runs no callback.
 */
#include "postgres.h"

#include <sodium.h>

#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/snapmgr.h"
#include "utils/timeout.h"

#include "catalog/pgpriv_catalog.h"
#include "catalog/receipt.h"
#include "peer/call.h"
#include "peer/fdw_options.h"

PGDLLEXPORT void pgpriv_audit_worker_main(Datum arg);

#define NAME_BYTES 64

/* What the worker needs, packed into bgw_extra. */
typedef struct FailureRecord
{
	Oid			actor;
	int32		sqlstate;		/* MAKE_SQLSTATE form */
	int64		keys;
	int64		bytes_in;
	int64		bytes_out;
	char		capability[11];	/* the longest is "secure_sum" */
	char		dataset[NAME_BYTES];
	uint8		run[16];		/* the run id's 32 hex digits, as bytes */
	uint8		flags;			/* FAILURE_HAS_RUN, FAILURE_TIMED_OUT */
	dsm_handle	detail;			/* a FailureDetail, or DSM_HANDLE_INVALID */
} FailureRecord;

#define FAILURE_HAS_RUN		0x01
#define FAILURE_TIMED_OUT	0x02

StaticAssertDecl(sizeof(FailureRecord) <= BGW_EXTRALEN, "the failure record must fit bgw_extra");

/*
 * The rest of the asker's statement: a one-peer run's transcript so far;
 * and for a refused run whose statements were exchanged
 * (audit_failure_exchanged), both statements as exchanged.
 */
typedef struct FailureDetail
{
	uint8		transcript[32];
	int64		messages;
	char		asker_role[NAME_BYTES];
	bool		exchanged;
	uint32		own_len;
	uint32		owner_len;
	uint8		own_sig[64];
	uint8		owner_sig[64];
	char		note[256];
	uint8		own[RECEIPT_MAX_BYTES];
	uint8		owner[RECEIPT_MAX_BYTES];
} FailureDetail;

static FailureRecord pending;
static FailureDetail pending_detail;
static bool pending_has_detail = false;
static char pending_peer[NAME_BYTES];
static char run_role[NAME_BYTES];	/* the login role on the peer, of the run watched */
static bool pending_valid = false;
static bool callback_registered = false;

/*
 * The segment the next failure's detail goes into: made (and mapped for the
 * session) outside any error path, handed to the worker on a failure, then
 * made anew.
 */
static dsm_segment *detail_seg = NULL;

static void
copy_name(char *dst, const char *src)
{
	strlcpy(dst, src ? src : "", NAME_BYTES);
}

/* The error context callback: runs while the error is being raised. */
static void
audit_watch_callback(void *arg)
{
	AuditWatch *w = (AuditWatch *) arg;
	int			code = geterrcode();
	char		cls0 = PGUNSIXBIT(code);
	char		cls1 = PGUNSIXBIT(code >> 6);

	/* Notices and warnings raised during the run are not failures. */
	if (cls0 == '0' && (cls1 == '0' || cls1 == '1' || cls1 == '2'))
		return;
	pending.actor = GetOuterUserId();
	pending.sqlstate = code;
	pending.keys = w->keys;
	pending.bytes_in = 0;
	pending.bytes_out = 0;
	for (int i = 0; i < w->ncalls; i++)
	{
		pending.bytes_in += w->calls[i].bytes_in;
		pending.bytes_out += w->calls[i].bytes_out;
	}
	strlcpy(pending.capability, w->capability, sizeof(pending.capability));
	copy_name(pending.dataset, w->dataset);
	pending.flags = 0;
	{
		size_t		got = 0;

		if (w->run != NULL && strlen(w->run) == 32 &&
			sodium_hex2bin(pending.run, sizeof(pending.run), w->run, 32, NULL, &got, NULL) == 0 &&
			got == sizeof(pending.run))
			pending.flags |= FAILURE_HAS_RUN;
	}
	copy_name(pending_peer, w->peer);
	/* A run with one peer: its transcript so far goes into the statement. */
	pending_has_detail = w->run != NULL && w->ncalls == 1 && w->calls != NULL && run_role[0] != '\0';
	if (pending_has_detail)
	{
		pending_detail.exchanged = false;
		memcpy(pending_detail.transcript, w->calls[0].transcript.h, sizeof(pending_detail.transcript));
		pending_detail.messages = w->calls[0].transcript.messages;
		memcpy(pending_detail.asker_role, run_role, NAME_BYTES);
	}
	/*
	 * A statement timeout and a cancel are both 57014; the timeout is the
	 * one whose timer has fired (a cancel leaves it armed).
	 */
	if (code == ERRCODE_QUERY_CANCELED && StatementTimeout > 0 &&
		!get_timeout_active(STATEMENT_TIMEOUT))
		pending.flags |= FAILURE_TIMED_OUT;
	pending_valid = true;
}

static void
launch_failure_worker(void)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;

	/*
	 * The detail, into the segment made beforehand: pinned, so that it
	 * outlives this backend's mapping until the worker has read it.
	 */
	pending.detail = DSM_HANDLE_INVALID;
	if (pending_has_detail && detail_seg != NULL)
	{
		memcpy(dsm_segment_address(detail_seg), &pending_detail, sizeof(pending_detail));
		dsm_pin_segment(detail_seg);
		pending.detail = dsm_segment_handle(detail_seg);
		dsm_detach(detail_seg);
		detail_seg = NULL;
	}
	pending_has_detail = false;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	strlcpy(worker.bgw_library_name, "pgpriv", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "pgpriv_audit_worker_main", BGW_MAXLEN);
	strlcpy(worker.bgw_type, "pgpriv audit", BGW_MAXLEN);
	snprintf(worker.bgw_name, BGW_MAXLEN, "%s", pending_peer);
	worker.bgw_main_arg = ObjectIdGetDatum(MyDatabaseId);
	memcpy(worker.bgw_extra, &pending, sizeof(pending));
	worker.bgw_notify_pid = 0;
	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
	{
		if (pending.detail != DSM_HANDLE_INVALID)
			dsm_unpin_segment(pending.detail);
		ereport(LOG,
				(errmsg("pgpriv: could not start a worker to audit a failed %s run with peer \"%s\"",
						pending.capability, pending_peer),
				 errhint("Raise max_worker_processes.")));
	}
}

static void
audit_failure_xact_callback(XactEvent event, void *arg pg_attribute_unused())
{
	if (!pending_valid)
		return;
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
	{
		pending_valid = false;
		launch_failure_worker();
	}
	else if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT)
		pending_valid = false;	/* an error caught and handled inside the run */
}

void
audit_watch_begin(AuditWatch *w, const char *capability, const char *peer, const char *dataset,
				  int64 keys, PeerCall *calls, int ncalls)
{
	if (!callback_registered)
	{
		RegisterXactCallback(audit_failure_xact_callback, NULL);
		callback_registered = true;
	}
	w->capability = capability;
	w->peer = peer;
	w->dataset = dataset;
	w->keys = keys;
	w->calls = calls;
	w->ncalls = ncalls;
	w->run = NULL;
	run_role[0] = '\0';
	w->cb.callback = audit_watch_callback;
	w->cb.arg = w;
	w->cb.previous = error_context_stack;
	error_context_stack = &w->cb;
	pending_valid = false;
}

void
audit_watch_run(AuditWatch *w, const char *run)
{
	w->run = run;
	/*
	 * For the failure statement of a run with one peer: the login role there,
	 * and the segment its transcript would go into, both got now, while
	 * catalog lookups and allocations are still safe.
	 */
	run_role[0] = '\0';
	if (w->ncalls == 1 && w->calls != NULL && w->peer != NULL)
	{
		if (detail_seg == NULL)
		{
			detail_seg = dsm_create(sizeof(FailureDetail), DSM_CREATE_NULL_IF_MAXSEGMENTS);
			if (detail_seg != NULL)
				dsm_pin_mapping(detail_seg);
		}
		if (detail_seg != NULL)
			copy_name(run_role, peer_remote_user(w->peer));
	}
}

void
audit_watch_end(AuditWatch *w)
{
	if (error_context_stack == &w->cb)
		error_context_stack = w->cb.previous;
	pending_valid = false;
}

/* The class of failure the asker's row names. */
static void
asker_failure_statement(const FailureRecord *r, const FailureDetail *d, const char *run,
						const char *actor, const char *outcome)
{
	ForeignServer *server = GetForeignServerByName(MyBgworkerEntry->bgw_name, true);
	const char *pinned = server ? peer_server_option(server, "signing_key") : NULL;
	uint8		owner_key[32];
	uint8		own_key[32];
	uint8		sig[64];
	Receipt		s;
	bytea	   *stmt;

	receipt_own_key(own_key);
	memset(&s, 0, sizeof(s));
	receipt_set_text(&s, RF_RUN_ID, run);
	receipt_set_text(&s, RF_SIGNER, "asker");
	receipt_set_hex(&s, RF_ASKER_KEY, own_key);
	receipt_set_hex(&s, RF_OWNER_KEY, pinned && peer_decode_key(pinned, owner_key) ? owner_key : NULL);
	receipt_set_text(&s, RF_ASKER_ROLE, d ? d->asker_role : NULL);
	receipt_set_text(&s, RF_DATASET, r->dataset[0] ? r->dataset : NULL);
	receipt_set_text(&s, RF_CAPABILITY, r->capability);
	receipt_set_int(&s, RF_KEYS_IN, r->keys);
	receipt_set_int(&s, RF_BYTES_IN, r->bytes_in);
	receipt_set_int(&s, RF_BYTES_OUT, r->bytes_out);
	if (d != NULL)
	{
		receipt_set_int(&s, RF_MESSAGES, d->messages);
		receipt_set_hex(&s, RF_TRANSCRIPT, d->transcript);
	}
	receipt_set_text(&s, RF_OUTCOME, outcome);
	receipt_set_now(&s);
	stmt = receipt_encode(&s);
	receipt_sign(stmt, sig);
	receipt_store_as(actor, run, "asker", true, stmt, sig, NULL);
}

const char *
audit_failure_outcome(int sqlstate, bool timed_out, char *buf, size_t len)
{
	char		cls0 = PGUNSIXBIT(sqlstate);
	char		cls1 = PGUNSIXBIT(sqlstate >> 6);
	const char *what;

	if (sqlstate == ERRCODE_QUERY_CANCELED)
		what = timed_out ? "timed out" : "cancelled";
	else if (sqlstate == ERRCODE_ADMIN_SHUTDOWN || sqlstate == ERRCODE_CRASH_SHUTDOWN)
		what = "terminated";
	else if (sqlstate == ERRCODE_PROTOCOL_VIOLATION)
		what = "peer misbehaved";
	else if (cls0 == '0' && cls1 == '8')
		what = "peer lost";
	else if (sqlstate == ERRCODE_INSUFFICIENT_PRIVILEGE ||
			 sqlstate == ERRCODE_PROGRAM_LIMIT_EXCEEDED ||
			 sqlstate == ERRCODE_FEATURE_NOT_SUPPORTED ||
			 sqlstate == ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION ||
			 (cls0 == '2' && cls1 == '8'))
		what = "refused";
	else
		what = "error";
	snprintf(buf, len, "failed: %s (%s)", what, unpack_sql_state(sqlstate));
	return buf;
}

static const char *
failure_outcome(const FailureRecord *r, char *buf, size_t len)
{
	return audit_failure_outcome(r->sqlstate, (r->flags & FAILURE_TIMED_OUT) != 0, buf, len);
}

bool
audit_failure_can_keep(void)
{
	return pending_valid && pending_has_detail && detail_seg != NULL;
}

void
audit_failure_exchanged(const bytea *own, const uint8 own_sig[64], const bytea *owner,
						const uint8 owner_sig[64], const char *note)
{
	if (!audit_failure_can_keep() ||
		VARSIZE_ANY_EXHDR(own) > RECEIPT_MAX_BYTES || VARSIZE_ANY_EXHDR(owner) > RECEIPT_MAX_BYTES)
		return;
	pending_detail.own_len = VARSIZE_ANY_EXHDR(own);
	memcpy(pending_detail.own, VARDATA_ANY(own), pending_detail.own_len);
	memcpy(pending_detail.own_sig, own_sig, 64);
	pending_detail.owner_len = VARSIZE_ANY_EXHDR(owner);
	memcpy(pending_detail.owner, VARDATA_ANY(owner), pending_detail.owner_len);
	memcpy(pending_detail.owner_sig, owner_sig, 64);
	strlcpy(pending_detail.note, note ? note : "", sizeof(pending_detail.note));
	pending_detail.exchanged = true;
}

static bytea *
detail_bytea(const uint8 *data, uint32 len)
{
	bytea	   *b = palloc(VARHDRSZ + len);

	SET_VARSIZE(b, VARHDRSZ + len);
	memcpy(VARDATA(b), data, len);
	return b;
}

void
pgpriv_audit_worker_main(Datum arg)
{
	FailureRecord r;
	char		outcome[64];
	Oid			argtypes[9] = {NAMEOID, TEXTOID, TEXTOID, TEXTOID, INT8OID, INT8OID, INT8OID, TEXTOID, TEXTOID};
	Datum		args[9];
	char		nulls[9] = "         ";
	char	   *actor;
	char		run[33];
	FailureDetail d;
	bool		have_detail = false;
	bool		has_run;

	memcpy(&r, MyBgworkerEntry->bgw_extra, sizeof(r));
	r.capability[sizeof(r.capability) - 1] = '\0';
	r.dataset[NAME_BYTES - 1] = '\0';
	has_run = (r.flags & FAILURE_HAS_RUN) != 0;
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(DatumGetObjectId(arg), BOOTSTRAP_SUPERUSERID, 0);

	/* The detail first: read, then released, whatever follows. */
	if (r.detail != DSM_HANDLE_INVALID)
	{
		dsm_segment *seg = dsm_attach(r.detail);

		if (seg != NULL)
		{
			memcpy(&d, dsm_segment_address(seg), sizeof(d));
			d.asker_role[NAME_BYTES - 1] = '\0';
			have_detail = true;
			dsm_detach(seg);
		}
		dsm_unpin_segment(r.detail);
	}

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "pgpriv: auditing a failed run");

	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_SESSION);
	actor = GetUserNameFromId(r.actor, true);
	args[0] = DirectFunctionCall1(namein, CStringGetDatum(actor ? actor : "?"));
	args[1] = CStringGetTextDatum(MyBgworkerEntry->bgw_name);
	args[2] = CStringGetTextDatum(r.capability);
	args[3] = CStringGetTextDatum(r.dataset);
	args[4] = Int64GetDatum(r.keys);
	args[5] = Int64GetDatum(r.bytes_in);
	args[6] = Int64GetDatum(r.bytes_out);
	args[7] = CStringGetTextDatum(failure_outcome(&r, outcome, sizeof(outcome)));
	if (has_run)
		sodium_bin2hex(run, sizeof(run), r.run, sizeof(r.run));
	args[8] = has_run ? CStringGetTextDatum(run) : (Datum) 0;
	nulls[8] = has_run ? ' ' : 'n';
	if (SPI_execute_with_args("SELECT pgpriv._audit_append_as($1, 'asker'::pg_catalog.text, $2, $3, $4, "
							  "$5, NULL::pg_catalog.int8, $6, $7, $8, NULL::pg_catalog.text, $9)",
							  9, argtypes, args, nulls, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "pgpriv: could not audit a failed run");
	SPI_finish();

	/*
	 * The asker's own signed statement of the failed run (docs/receipts.md):
	 * the record's counts, and for a run with one peer the transcript so far;
	 * no owner statement (the run did not get there).
	 */
	if (has_run && have_detail && d.exchanged &&
		d.own_len <= RECEIPT_MAX_BYTES && d.owner_len <= RECEIPT_MAX_BYTES)
	{
		/* A refused run's two statements, as the asker and the owner exchanged them. */
		d.note[sizeof(d.note) - 1] = '\0';
		receipt_store_as(actor ? actor : "?", run, "asker", true, detail_bytea(d.own, d.own_len),
						 d.own_sig, NULL);
		receipt_store_as(actor ? actor : "?", run, "owner", false, detail_bytea(d.owner, d.owner_len),
						 d.owner_sig, d.note[0] ? d.note : NULL);
	}
	else if (has_run)
		asker_failure_statement(&r, have_detail ? &d : NULL, run, actor ? actor : "?", outcome);

	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
	proc_exit(0);
}
