/*
 * peer_permits.c — what a peer offers this role, asked of the peer itself.
 *
 * A bank's analyst writes psi_fetch's and pir's column definition list from
 * the bureau's permit; without this they would need a login on the
 * bureau's side to read it.  The peer answers with pgpriv.serve_permits()
 * (its permits for our login role, the permitted columns' types, limits and
 * the keys already asked today).  What it sends is checked as any message
 * from a peer is: a peer running modified code gets 08P01, never a crash,
 * a huge allocation, or text that would turn the column definition list
 * we build into something other than a list of columns.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "peer/call.h"
#include "peer/connection.h"
#include "run/capability.h"
#include "wire/message.h"

PG_FUNCTION_INFO_V1(pgpriv_peer_permits);

/* More permits than any bureau grants one role: a flood, refused. */
#define PEER_PERMITS_MAX 10000
#define PEER_NAME_MAX 63
#define PEER_TYPE_MAX 200

static void
malformed(const char *peer, const char *what)
{
	wire_malformed(psprintf("peer \"%s\"", peer), what);
}

/* A dataset or column name as the owner's catalog allows it. */
static bool
plain_name(const char *s)
{
	size_t		n = strlen(s);

	if (n == 0 || n > PEER_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

/*
 * A type as format_type() writes it: names, digits, spaces, and the
 * punctuation of typmods, arrays, schemas and quoted names — never a
 * semicolon, comment or unbalanced parenthesis.
 */
static bool
plain_type(const char *s)
{
	size_t		n = strlen(s);
	int			depth = 0;
	bool		quoted = false;

	if (n == 0 || n > PEER_TYPE_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (c == '"')
		{
			quoted = !quoted;
			continue;
		}
		if (quoted)
		{
			if (c < 0x20 || c == 0x7f)
				return false;
			continue;
		}
		if (c == '(')
			depth++;
		else if (c == ')')
		{
			if (--depth < 0)
				return false;
		}
		else if (!(isalnum(c) || c == ' ' || c == '_' || c == ',' || c == '.' ||
				   c == '[' || c == ']' || c >= 0x80))
			return false;
	}
	return depth == 0 && !quoted;
}

static bool
parse_count(const char *s, int64 max, int64 *out)
{
	char	   *end;
	long long	v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 0 || v > max)
		return false;
	*out = v;
	return true;
}

/*
 * pgpriv.peer_permits(peer name)
 *   → TABLE(dataset, capability, columns, column_types, max_keys,
 *           min_parties, min_group, keys_used_today, keys_left_today,
 *           column_definition)
 */
Datum
pgpriv_peer_permits(PG_FUNCTION_ARGS)
{
	const char *server = NameStr(*PG_GETARG_NAME(0));
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	PeerCall	call;
	PGresult   *res;
	int			ntuples;

	InitMaterializedSRF(fcinfo, 0);
	peer_call_open(&call, server);
	res = peer_call_text(&call,
						 "SELECT p.dataset, p.capability, p.columns, p.column_types, p.max_keys, "
						 "p.min_parties, p.min_group, p.keys_used_today FROM pgpriv.serve_permits() AS p",
						 0, NULL);
	ntuples = PQntuples(res);
	if (PQnfields(res) != 8)
		malformed(server, "The permit list has the wrong number of columns.");
	if (ntuples > PEER_PERMITS_MAX)
		malformed(server, "The permit list is longer than any peer grants.");

	for (int r = 0; r < ntuples; r++)
	{
		Datum		values[10];
		bool		nulls[10] = {0};
		const char *dataset;
		const char *capability;
		List	   *columns;
		List	   *types;
		int64		limits[4];
		bool		known = false;
		Datum	   *elems;
		int			n;
		ListCell   *lc;
		ListCell   *tc;
		StringInfoData def;

		for (int c = 0; c < 4; c++)
			if (PQgetisnull(res, r, c))
				malformed(server, "A permit has a NULL name or column list.");
		dataset = PQgetvalue(res, r, 0);
		capability = PQgetvalue(res, r, 1);
		if (!plain_name(dataset))
			malformed(server, "A dataset name is not a name.");
		known = capability_lookup(capability) != NULL;
		if (!known)
			malformed(server, "A permit names an unknown capability.");
		columns = peer_parse_text_array(PQgetvalue(res, r, 2), server);
		types = peer_parse_text_array(PQgetvalue(res, r, 3), server);
		if (list_length(columns) != list_length(types))
			malformed(server, "A permit's columns and types differ in number.");
		forboth(lc, columns, tc, types)
		{
			if (!plain_name((char *) lfirst(lc)))
				malformed(server, "A column name is not a name.");
			if (!plain_type((char *) lfirst(tc)))
				malformed(server, "A column type is not a type name.");
		}
		for (int c = 0; c < 4; c++)
		{
			bool		isnull = PQgetisnull(res, r, 4 + c);

			if (c == 3 && isnull)
				malformed(server, "A permit has no count of today's keys.");
			if (isnull)
				limits[c] = -1;
			else if (!parse_count(PQgetvalue(res, r, 4 + c), c == 1 || c == 2 ? PG_INT32_MAX : PG_INT64_MAX,
								  &limits[c]))
				malformed(server, "A permit's limit is not a count.");
		}

		values[0] = CStringGetTextDatum(dataset);
		values[1] = CStringGetTextDatum(capability);
		elems = palloc(sizeof(Datum) * Max(list_length(columns), 1));
		n = 0;
		foreach(lc, columns)
			elems[n++] = CStringGetTextDatum((char *) lfirst(lc));
		values[2] = PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
		n = 0;
		foreach(lc, types)
			elems[n++] = CStringGetTextDatum((char *) lfirst(lc));
		values[3] = PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
		for (int c = 0; c < 3; c++)
		{
			nulls[4 + c] = limits[c] < 0;
			values[4 + c] = c == 0 ? Int64GetDatum(limits[c]) : Int32GetDatum((int32) limits[c]);
		}
		values[7] = Int64GetDatum(limits[3]);
		nulls[8] = limits[0] < 0;	/* no max_keys: no daily limit */
		values[8] = Int64GetDatum(limits[0] > limits[3] ? limits[0] - limits[3] : 0);

		/* What to write after psi_fetch(...) or pir(...) AS. */
		if (capability_lookup(capability)->typed_columns)
		{
			initStringInfo(&def);
			appendStringInfoString(&def, "t(key text");
			forboth(lc, columns, tc, types)
				appendStringInfo(&def, ", %s %s", quote_identifier((char *) lfirst(lc)), (char *) lfirst(tc));
			appendStringInfoChar(&def, ')');
			values[9] = CStringGetTextDatum(def.data);
		}
		else
			nulls[9] = true;

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	PQclear(res);
	return (Datum) 0;
}
