/*
 * call.c — calling a peer's serving functions (see call.h).
 */
#include "postgres.h"

#include <sodium.h>

#include "access/xact.h"
#include "commands/defrem.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/resowner.h"

#include "peer/call.h"
#include "peer/connection.h"

void
peer_call_open(PeerCall *call, const char *server)
{
	call->conn = peer_connection_by_name(server);
	call->peer = pstrdup(server);
	call->bytes_out = 0;
	call->bytes_in = 0;
	transcript_reset(&call->transcript);
	call->admitting = false;
}

/*
 * The result of a call; for a serve_admit that the owner refuses, first the
 * receipt exchange of the refused run (receipt_asker_refused), then the
 * refusal as it came.  The exchange runs in a subtransaction, outside the
 * error context of the run (whose failure record was made by the refusal),
 * and any error of it is discarded: the refusal is what the caller gets.
 * A peer lost, a cancel or a timeout gets no exchange.
 */
static PGresult *
call_result(PeerCall *call)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	PGresult   *volatile res = NULL;
	ErrorData  *edata;

	if (!call->admitting)
		return peer_get_result(call->conn, call->peer);
	call->admitting = false;
	PG_TRY();
	{
		res = peer_get_result(call->conn, call->peer);
	}
	PG_CATCH();
	{
		char		cls0;
		char		cls1;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		cls0 = PGUNSIXBIT(edata->sqlerrcode);
		cls1 = PGUNSIXBIT(edata->sqlerrcode >> 6);
		if (edata->elevel == ERROR && edata->sqlerrcode != ERRCODE_QUERY_CANCELED &&
			!(cls0 == '0' && cls1 == '8') &&
			PQstatus(call->conn) == CONNECTION_OK && PQtransactionStatus(call->conn) == PQTRANS_IDLE)
		{
			ErrorContextCallback *saved_context = error_context_stack;

			FlushErrorState();
			error_context_stack = NULL;
			BeginInternalSubTransaction(NULL);
			MemoryContextSwitchTo(cxt);
			PG_TRY();
			{
				receipt_asker_refused(call, call->admit_run, call->admit_capability,
									  call->admit_dataset, call->admit_keys, edata->sqlerrcode);
				ReleaseCurrentSubTransaction();
			}
			PG_CATCH();
			{
				MemoryContextSwitchTo(cxt);
				FlushErrorState();
				RollbackAndReleaseCurrentSubTransaction();
			}
			PG_END_TRY();
			MemoryContextSwitchTo(cxt);
			CurrentResourceOwner = owner;
			error_context_stack = saved_context;
			ReThrowError(edata);
		}
		PG_RE_THROW();
	}
	PG_END_TRY();
	return res;
}

PGresult *
peer_call_text(PeerCall *call, const char *sql, int nparams, const char *const *params)
{
	peer_call_send_text(call, sql, nparams, params);
	return peer_call_finish_text(call);
}

/* Send text parameters plus an optional binary bytea, without waiting. */
static void
send_with_msg(PeerCall *call, const char *sql, int ntext, const char *const *text_params,
			  const bytea *msg, int result_format)
{
	int			n = ntext + (msg ? 1 : 0);
	const char **values = palloc0(sizeof(char *) * Max(n, 1));
	int		   *lengths = palloc0(sizeof(int) * Max(n, 1));
	int		   *formats = palloc0(sizeof(int) * Max(n, 1));
	Oid		   *types = palloc0(sizeof(Oid) * Max(n, 1));
	int			i;

	/*
	 * A run's transcript starts at its admission, where the owner's starts
	 * (run/admission.c): what came before (the permitted columns) is not
	 * the run's.
	 */
	if (strncmp(sql, "CALL pgpriv.serve_admit(", strlen("CALL pgpriv.serve_admit(")) == 0)
	{
		transcript_reset(&call->transcript);
		call->admitting = ntext >= 4 && text_params[0] && text_params[1] && text_params[2] && text_params[3];
		if (call->admitting)
		{
			call->admit_dataset = pstrdup(text_params[0]);
			call->admit_capability = pstrdup(text_params[1]);
			call->admit_run = pstrdup(text_params[2]);
			call->admit_keys = strtoi64(text_params[3], NULL, 10);
		}
	}
	else
		call->admitting = false;
	for (i = 0; i < ntext; i++)
	{
		values[i] = text_params[i];
		types[i] = 25;			/* text */
		call->bytes_out += text_params[i] ? strlen(text_params[i]) : 0;
	}
	if (msg)
	{
		values[ntext] = VARDATA_ANY(msg);
		lengths[ntext] = VARSIZE_ANY_EXHDR(msg);
		formats[ntext] = 1;
		types[ntext] = 17;		/* bytea */
		call->bytes_out += VARSIZE_ANY_EXHDR(msg);
		transcript_absorb(&call->transcript, TRANSCRIPT_REQUEST, VARDATA_ANY(msg), VARSIZE_ANY_EXHDR(msg));
	}
	peer_send_params(call->conn, call->peer, sql, n, types, values, lengths, formats, result_format);
	pfree(values);
	pfree(lengths);
	pfree(formats);
	pfree(types);
}

static PGresult *
call_with_msg(PeerCall *call, const char *sql, int ntext, const char *const *text_params,
			  const bytea *msg, int result_format)
{
	send_with_msg(call, sql, ntext, text_params, msg, result_format);
	return call_result(call);
}

static void
count_text_result(PeerCall *call, PGresult *res)
{
	int			i;

	for (i = 0; i < PQntuples(res); i++)
	{
		int			j;

		for (j = 0; j < PQnfields(res); j++)
			call->bytes_in += PQgetlength(res, i, j);
	}
}

void
peer_call_send_text(PeerCall *call, const char *sql, int nparams, const char *const *params)
{
	send_with_msg(call, sql, nparams, params, NULL, 0);
}

PGresult *
peer_call_finish_text(PeerCall *call)
{
	PGresult   *res = call_result(call);

	count_text_result(call, res);
	return res;
}

void
peer_call_send_bytea(PeerCall *call, const char *sql, int ntext, const char *const *text_params,
					 const bytea *msg)
{
	send_with_msg(call, sql, ntext, text_params, msg, 1);
}

/* The single bytea of a binary result, palloc'd; anything else is a violation. */
static bytea *
result_bytea(PeerCall *call, PGresult *res)
{
	bytea	   *out;
	size_t		len;

	if (PQntuples(res) != 1 || PQnfields(res) != 1 || PQgetisnull(res, 0, 0))
	{
		PQclear(res);
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("malformed message from peer \"%s\"", call->peer),
				 errdetail("Expected one message, got none.")));
	}
	len = PQgetlength(res, 0, 0);
	out = (bytea *) palloc_extended(VARHDRSZ + len, MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM);
	if (out == NULL)
	{
		PQclear(res);
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory for a message of %zu bytes from peer \"%s\"", len, call->peer)));
	}
	SET_VARSIZE(out, VARHDRSZ + len);
	memcpy(VARDATA(out), PQgetvalue(res, 0, 0), len);
	call->bytes_in += len;
	transcript_absorb(&call->transcript, TRANSCRIPT_RESPONSE, VARDATA(out), len);
	PQclear(res);
	return out;
}

bytea *
peer_call_finish_bytea(PeerCall *call)
{
	return result_bytea(call, call_result(call));
}

PGresult *
peer_call_msg(PeerCall *call, const char *sql, int ntext, const char *const *text_params,
			  const bytea *msg)
{
	PGresult   *res = call_with_msg(call, sql, ntext, text_params, msg, 0);

	count_text_result(call, res);
	return res;
}

bytea *
peer_call_bytea(PeerCall *call, const char *sql, int ntext, const char *const *text_params,
				const bytea *msg)
{
	return result_bytea(call, call_with_msg(call, sql, ntext, text_params, msg, 1));
}

char *
peer_remote_user(const char *server)
{
	ForeignServer *fs = GetForeignServerByName(server, false);
	UserMapping *um = GetUserMapping(GetUserId(), fs->serverid);
	ListCell   *lc;

	foreach(lc, um->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (strcmp(def->defname, "user") == 0)
			return pstrdup(defGetString(def));
	}
	/* libpq's default: the local role's name */
	return GetUserNameFromId(GetUserId(), false);
}

char *
peer_new_run_id(void)
{
	unsigned char raw[16];
	char	   *hex = palloc(33);

	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(hex, 33, raw, sizeof(raw));
	return hex;
}

/*
 * array_in on the peer's text: a literal that does not parse is the peer's
 * fault and is reported as such.  (Its own function, so that nothing of the
 * caller lives across the longjmp.)
 */
static Datum
parse_peer_array(const char *lit, const char *peer)
{
	MemoryContext cxt = CurrentMemoryContext;
	volatile Datum d = (Datum) 0;

	PG_TRY();
	{
		d = OidInputFunctionCall(F_ARRAY_IN, (char *) lit, TEXTOID, -1);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		FlushErrorState();
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("malformed message from peer \"%s\"", peer),
				 errdetail("The column list does not parse.")));
	}
	PG_END_TRY();
	return d;
}

List *
peer_parse_text_array(const char *lit, const char *peer)
{
	ArrayType  *arr;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			i;
	List	   *out = NIL;
	size_t		len = strlen(lit);

	/* A one-dimensional text[] literal: check its shape before parsing it. */
	if (len < 2 || lit[0] != '{' || lit[len - 1] != '}')
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("malformed message from peer \"%s\"", peer),
				 errdetail("The column list is malformed.")));
	arr = DatumGetArrayTypeP(parse_peer_array(lit, peer));
	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("malformed message from peer \"%s\"", peer),
				 errdetail("Column list is not one-dimensional.")));
	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	for (i = 0; i < n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_PROTOCOL_VIOLATION),
					 errmsg("malformed message from peer \"%s\"", peer),
					 errdetail("Column list has a NULL.")));
		out = lappend(out, TextDatumGetCString(elems[i]));
	}
	return out;
}

List *
peer_permitted_columns(PeerCall *call, const char *dataset, const char *capability)
{
	const char *params[2] = {dataset, capability};
	PGresult   *res = peer_call_text(call, "SELECT pgpriv.serve_columns($1, $2)", 2, params);
	List	   *columns;

	if (PQntuples(res) != 1 || PQnfields(res) != 1 || PQgetisnull(res, 0, 0))
	{
		PQclear(res);
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("malformed message from peer \"%s\"", call->peer),
				 errdetail("The permitted columns are missing.")));
	}
	columns = peer_parse_text_array(PQgetvalue(res, 0, 0), call->peer);
	PQclear(res);
	return columns;
}
