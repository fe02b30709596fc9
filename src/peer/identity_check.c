/*
 * identity_check.c — ask a peer for its identity and compare it with the key
 * its server definition pins.
 *
 * The first thing a DBA does after declaring a peer: connect for real, read
 * the peer's pgpriv.identity(), and see that it is the key that was agreed
 * over a second channel.  A mismatch is reported, not raised, so the DBA
 * sees both keys.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "fmgr.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "utils/builtins.h"

#include "peer/connection.h"
#include "peer/fdw_options.h"

PG_FUNCTION_INFO_V1(pgpriv_peer_identity);

/*
 * pgpriv.peer_identity(peer name)
 *   → TABLE(public_key bytea, fingerprint text, matches boolean)
 */
Datum
pgpriv_peer_identity(PG_FUNCTION_ARGS)
{
	const char *peer = NameStr(*PG_GETARG_NAME(0));
	ForeignServer *server = GetForeignServerByName(peer, false);
	PGconn	   *conn = peer_connection_by_name_ext(peer, false);
	PGresult   *res;
	TupleDesc	tupdesc;
	unsigned char got[32];
	unsigned char pinned[32];
	const char *pinned_text = peer_server_option(server, "public_key");
	bytea	   *key;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};
	char	   *fingerprint;
	bool		ok;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "pgpriv.peer_identity must return a composite type");

	res = peer_exec(conn, peer,
					"SELECT pg_catalog.encode(public_key, 'hex'), fingerprint FROM pgpriv.identity()",
					0, NULL);
	ok = PQntuples(res) == 1 && PQnfields(res) == 2 &&
		!PQgetisnull(res, 0, 0) && peer_decode_key(PQgetvalue(res, 0, 0), got);
	fingerprint = ok ? pstrdup(PQgetvalue(res, 0, 1)) : NULL;
	PQclear(res);
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("peer \"%s\" sent a malformed identity", peer)));

	key = (bytea *) palloc(VARHDRSZ + 32);
	SET_VARSIZE(key, VARHDRSZ + 32);
	memcpy(VARDATA(key), got, 32);
	values[0] = PointerGetDatum(key);
	values[1] = CStringGetTextDatum(fingerprint);
	if (pinned_text && peer_decode_key(pinned_text, pinned))
		values[2] = BoolGetDatum(memcmp(pinned, got, 32) == 0);
	else
		nulls[2] = true;		/* no key pinned: nothing to compare with */

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}
