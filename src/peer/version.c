/*
 * version.c — peers say which pgpriv and which protocol they run, on every
 * new connection, before the hello (authenticate.c) or anything of a run.
 *
 * A protocol number names everything peers send each other: the serving
 * functions, their arguments and the messages in them.  Two peers
 * interoperate only when they speak the same protocol, whatever their
 * release; otherwise both say so, naming both versions, instead of failing
 * later on a function that does not exist or on a message that does not
 * parse.  Release 0.1.0 (protocol 1) predates this exchange: it has no
 * pgpriv.serve_version, so the asker first reads the peer's extension
 * version from pg_catalog and recognises the releases that cannot answer.
 *
 * SQLSTATE 0A000 (feature_not_supported) for a mismatch, as PostgreSQL's own
 * "unsupported frontend protocol"; an asker sees the owner's refusal of it
 * under that code too, prefixed with the peer's name (connection.c).
 *
 * The owner's half is also a gate: the serving routines an asker starts with
 * (the hello, the admission of a run) refuse a session that has not agreed
 * on the protocol first.  A 0.1.0 asker never calls serve_version, and
 * without the gate would be authenticated and admitted, then fail somewhere
 * inside a run on a message of another shape; with it, it is told why at
 * its first call, under the same 0A000.
 *
 * What a peer says about itself is not authenticated beyond the channel (TLS,
 * docs/security.md): a peer could claim another version, but the only thing
 * it gains is being refused, since nothing is negotiated down.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"

#include "pgpriv.h"
#include "catalog/pgpriv_catalog.h"
#include "peer/connection.h"
#include "peer/version.h"

PG_FUNCTION_INFO_V1(pgpriv_serve_version);

/* This serving session's asker said it speaks PGPRIV_PROTOCOL. */
static bool version_agreed = false;

/* Releases from before the exchange, and the protocol each spoke. */
static const struct
{
	const char *version;
	int			protocol;
}			releases_without_exchange[] =
{
	{"0.1.0", 1},
};

/* A version string as a peer sent it, fit for a message (short, printable). */
static bool
version_text_ok(const char *v)
{
	size_t		n = strlen(v);

	if (n == 0 || n > 32)
		return false;
	for (; *v; v++)
		if (!((*v >= '0' && *v <= '9') || (*v >= 'a' && *v <= 'z') || (*v >= 'A' && *v <= 'Z') ||
			  *v == '.' || *v == '-' || *v == '+' || *v == '_'))
			return false;
	return true;
}

/*
 * pgpriv.serve_version(asker_version text, asker_protocol integer)
 *   → TABLE(version text, protocol integer)
 *
 * Owner's half, callable by any peer login: the asker says what it runs;
 * refused (0A000) unless it speaks this server's protocol; else this
 * server's version and protocol, which the asker checks in turn.
 */
Datum
pgpriv_serve_version(PG_FUNCTION_ARGS)
{
	char	   *asker_version = text_to_cstring(PG_GETARG_TEXT_PP(0));
	int32		asker_protocol = PG_GETARG_INT32(1);
	TupleDesc	tupdesc;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	catalog_restrict_definer();
	if (!version_text_ok(asker_version))
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("malformed message from the asker"),
				 errdetail("Its version is not a version string.")));
	if (asker_protocol != PGPRIV_PROTOCOL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("the asker runs pgpriv %s (protocol %d); this server needs protocol %d",
						asker_version, asker_protocol, PGPRIV_PROTOCOL),
				 errdetail("This server runs pgpriv %s (protocol %d); peers interoperate only when they speak the same protocol.",
						   PGPRIV_VERSION, PGPRIV_PROTOCOL),
				 asker_protocol < PGPRIV_PROTOCOL
				 ? errhint("Upgrade pgpriv on the asker (docs/upgrading.md).")
				 : errhint("Upgrade pgpriv on this server (docs/upgrading.md).")));
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "serve_version must return a composite type");
	version_agreed = true;
	values[0] = CStringGetTextDatum(PGPRIV_VERSION);
	values[1] = Int32GetDatum(PGPRIV_PROTOCOL);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}

void
version_require_agreed(void)
{
	if (!version_agreed)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("peer speaks pgpriv 0.1.0 or older (no version exchange); this server runs %s, protocol %d",
						PGPRIV_VERSION, PGPRIV_PROTOCOL),
				 errdetail("An asker calls pgpriv.serve_version before anything else on each connection; releases before 0.2.0 do not."),
				 errhint("Upgrade pgpriv on the asker (docs/upgrading.md).")));
}

static void pg_attribute_noreturn()
protocol_mismatch(const char *peer, const char *version, int protocol)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("server \"%s\" runs pgpriv %s (protocol %d); this one needs protocol %d",
					peer, version, protocol, PGPRIV_PROTOCOL),
			 errdetail("This server runs pgpriv %s (protocol %d); peers interoperate only when they speak the same protocol.",
					   PGPRIV_VERSION, PGPRIV_PROTOCOL),
			 protocol < PGPRIV_PROTOCOL
			 ? errhint("Upgrade pgpriv on the peer: install the new library, then ALTER EXTENSION pgpriv UPDATE in its database (docs/upgrading.md).")
			 : errhint("Upgrade pgpriv on this server (docs/upgrading.md).")));
}

static void pg_attribute_noreturn()
malformed_version(const char *peer, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_PROTOCOL_VIOLATION),
			 errmsg("malformed message from peer \"%s\"", peer),
			 errdetail("%s", detail)));
}

void
peer_check_version(PGconn *conn, const char *peer)
{
	PGresult   *res;
	char	   *installed;
	char	   *version;
	char		protocol_text[16];
	const char *params[2];
	long		protocol;
	char	   *end;
	size_t		i;

	/* Every release answers this, whatever it has of pgpriv. */
	res = peer_exec(conn, peer,
					"SELECT e.extversion FROM pg_catalog.pg_extension AS e "
					" WHERE e.extname OPERATOR(pg_catalog.=) 'pgpriv'", 0, NULL);
	if (PQntuples(res) != 1 || PQnfields(res) != 1 || PQgetisnull(res, 0, 0))
	{
		PQclear(res);
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("server \"%s\" has no pgpriv extension in its database", peer),
				 errhint("Check the server's dbname option, or CREATE EXTENSION pgpriv there.")));
	}
	installed = pstrdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	for (i = 0; i < lengthof(releases_without_exchange); i++)
		if (strcmp(installed, releases_without_exchange[i].version) == 0)
			protocol_mismatch(peer, installed, releases_without_exchange[i].protocol);

	snprintf(protocol_text, sizeof(protocol_text), "%d", PGPRIV_PROTOCOL);
	params[0] = PGPRIV_VERSION;
	params[1] = protocol_text;
	res = peer_exec(conn, peer,
					"SELECT v.version, v.protocol FROM pgpriv.serve_version($1, $2::pg_catalog.int4) AS v",
					2, params);
	if (PQntuples(res) != 1 || PQnfields(res) != 2 || PQgetisnull(res, 0, 0) || PQgetisnull(res, 0, 1))
	{
		PQclear(res);
		malformed_version(peer, "Its answer to the version exchange is malformed.");
	}
	version = pstrdup(PQgetvalue(res, 0, 0));
	errno = 0;
	protocol = strtol(PQgetvalue(res, 0, 1), &end, 10);
	if (errno != 0 || *end != '\0' || end == PQgetvalue(res, 0, 1) || protocol < 0 || protocol > PG_INT32_MAX)
	{
		PQclear(res);
		malformed_version(peer, "Its protocol is not a number.");
	}
	PQclear(res);
	if (!version_text_ok(version))
		malformed_version(peer, "Its version is not a version string.");
	if (protocol != PGPRIV_PROTOCOL)
		protocol_mismatch(peer, version, (int) protocol);
}
