/*
 * pgpriv_catalog.c — datasets, permits, budgets, OPRF keys and audit, for the
 * protocols (see pgpriv_catalog.h).
 */
#include "postgres.h"

#include <sodium.h>

#include "access/htup_details.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/rel.h"
#include "access/genam.h"
#include "access/table.h"

#include "pgpriv.h"
#include "catalog/catalog_spi.h"
#include "catalog/pgpriv_catalog.h"
#include "crypto/oprf.h"

/*
 * The role that owns the pgpriv extension (and so its tables).
 *
 * Every way into the owner's rights comes through here, so this is also
 * where the library refuses a catalog of another version: after a new
 * pgpriv.so is installed and before ALTER EXTENSION pgpriv UPDATE, the
 * functions of the old install script run this library's code, which may
 * mean something else by the same name (a serving function's messages, the
 * tables it expects).  Nothing runs in between; the extension's own scripts
 * (CREATE EXTENSION, ALTER EXTENSION UPDATE) are exempt.
 */
static Oid
extension_owner(void)
{
	Oid			extoid = get_extension_oid("pgpriv", false);
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	Oid			owner;
	Datum		version;
	bool		isnull;
	char	   *installed = NULL;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(extoid));
	scan = systable_beginscan(rel, ExtensionOidIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "pgpriv extension %u not found", extoid);
	owner = ((Form_pg_extension) GETSTRUCT(tup))->extowner;
	version = heap_getattr(tup, Anum_pg_extension_extversion, RelationGetDescr(rel), &isnull);
	if (!isnull)
		installed = text_to_cstring(DatumGetTextPP(version));
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	if (!creating_extension && (installed == NULL || strcmp(installed, PGPRIV_VERSION) != 0))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("pgpriv's catalog in this database is version %s but its library is %s",
						installed ? installed : "(none)", PGPRIV_VERSION),
				 errdetail("The library was replaced and the extension's SQL objects were not updated."),
				 errhint("Run ALTER EXTENSION pgpriv UPDATE in this database (docs/upgrading.md).")));
	return owner;
}

/* search_path inside the owner's rights: only pg_catalog, then pg_temp last. */
#define OWNER_SEARCH_PATH "pg_catalog, pg_temp"

void
catalog_require_current(void)
{
	(void) extension_owner();
}

void
catalog_enter_owner(OwnerContext *ctx)
{
	GetUserIdAndSecContext(&ctx->save_userid, &ctx->save_sec_context);
	SetUserIdAndSecContext(extension_owner(),
						   ctx->save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	ctx->guc_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", OWNER_SEARCH_PATH,
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
}

void
catalog_leave_owner(OwnerContext *ctx)
{
	AtEOXact_GUC(true, ctx->guc_nestlevel);
	SetUserIdAndSecContext(ctx->save_userid, ctx->save_sec_context);
}

void
catalog_restrict_definer(void)
{
	Oid			userid;
	int			sec_context;

	GetUserIdAndSecContext(&userid, &sec_context);
	if (userid != extension_owner())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("pgpriv serving functions must run as the extension owner"),
				 errhint("They are SECURITY DEFINER functions of the extension; do not redefine them.")));
	SetUserIdAndSecContext(userid, sec_context | SECURITY_RESTRICTED_OPERATION);
}

char *
session_role_name(void)
{
	return GetUserNameFromId(GetSessionUserId(), false);
}

/* A text[] (the queries below cast name[] to text[]) as a List of C strings. */
static List *
text_array_to_list(Datum d)
{
	ArrayType  *arr = DatumGetArrayTypeP(d);
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			i;
	List	   *out = NIL;

	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	for (i = 0; i < n; i++)
		if (!nulls[i])
			out = lappend(out, TextDatumGetCString(elems[i]));
	return out;
}

static char *
spi_text(HeapTuple tup, TupleDesc desc, int col)
{
	char	   *v = SPI_getvalue(tup, desc, col);

	return v ? v : pstrdup("");
}

static int64
spi_int8_or(HeapTuple tup, TupleDesc desc, int col, int64 dflt)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	if (isnull)
		return dflt;
	if (TupleDescAttr(desc, col - 1)->atttypid == INT4OID)
		return DatumGetInt32(d);
	return DatumGetInt64(d);
}

bool
permit_lookup(const char *dataset, const char *capability, Dataset *ds, Permit *permit)
{
	CatalogSession cs;
	char	   *peer = session_role_name();
	Oid			argtypes[3] = {TEXTOID, TEXTOID, TEXTOID};
	Datum		args[3];
	MemoryContext caller = CurrentMemoryContext;
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;

	args[0] = CStringGetTextDatum(dataset);
	args[1] = CStringGetTextDatum(peer);
	args[2] = CStringGetTextDatum(capability);

	catalog_open(&cs, false);
	catalog_exec(
				 "SELECT d.name, d.query, d.key_column::pg_catalog.text, d.columns::pg_catalog.text[], "
				 "       d.owner_role::pg_catalog.text, d.search_path, d.version, "
				 "       p.columns::pg_catalog.text[], p.max_keys, p.min_parties, p.min_group, "
				 "       p.authorised_by "
				 "  FROM pgpriv.dataset AS d JOIN pgpriv.permit AS p ON p.dataset = d.name "
				 " WHERE d.name = $1 AND p.peer_role = $2 AND p.capability = $3",
				 3, argtypes, args, NULL, true, 1, SPI_OK_SELECT, "read pgpriv.permit");

	if (SPI_processed != 1)
	{
		catalog_close(&cs);
		return false;
	}

	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	{
		MemoryContext spi = MemoryContextSwitchTo(caller);

		ds->name = pstrdup(spi_text(tup, desc, 1));
		ds->query = pstrdup(spi_text(tup, desc, 2));
		ds->key_column = pstrdup(spi_text(tup, desc, 3));
		ds->columns = text_array_to_list(SPI_getbinval(tup, desc, 4, &isnull));
		ds->owner_role = pstrdup(spi_text(tup, desc, 5));
		ds->search_path = pstrdup(spi_text(tup, desc, 6));
		ds->version = spi_int8_or(tup, desc, 7, 0);
		permit->columns = text_array_to_list(SPI_getbinval(tup, desc, 8, &isnull));
		permit->max_keys = spi_int8_or(tup, desc, 9, -1);
		permit->min_parties = (int32) spi_int8_or(tup, desc, 10, -1);
		permit->min_group = (int32) spi_int8_or(tup, desc, 11, -1);
		{
			char	   *consent = SPI_getvalue(tup, desc, 12);

			ds->consent_query = consent ? pstrdup(consent) : NULL;
			ds->consent_role = consent ? pstrdup(peer) : NULL;
			ds->consent_capability = consent ? pstrdup(capability) : NULL;
		}
		MemoryContextSwitchTo(spi);
	}
	catalog_close(&cs);
	return true;
}

void
permit_refusal(const char *dataset, const char *capability)
{
	char	   *peer = session_role_name();

	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied: role \"%s\" has no %s permit on dataset \"%s\"",
					peer, capability, dataset),
			 errhint("The owner grants it with pgpriv.permit('%s', '%s', '%s', ...).",
					 dataset, peer, capability)));
}

void
permit_require(const char *dataset, const char *capability, Dataset *ds, Permit *permit)
{
	if (!permit_lookup(dataset, capability, ds, permit))
		permit_refusal(dataset, capability);
}

void
permit_require_columns(const char *dataset, const char *capability, const Permit *permit,
					   char *const *columns, int k)
{
	for (int j = 0; j < k; j++)
	{
		ListCell   *lc;
		bool		found = false;

		foreach(lc, permit->columns)
			if (strcmp((char *) lfirst(lc), columns[j]) == 0)
				found = true;
		if (!found)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied: role \"%s\" may not use column \"%s\" of dataset \"%s\" for capability \"%s\"",
							session_role_name(), columns[j], dataset, capability),
					 errhint("The owner names the columns in pgpriv.permit('%s', '%s', '%s', '{...}').",
							 dataset, session_role_name(), capability)));
	}
}

/*
 * The budget's day: the UTC date, whatever TimeZone the peer's session set
 * (a peer choosing its time zone would otherwise start a new day early).
 */
#define BUDGET_DAY "pg_catalog.timezone('UTC'::pg_catalog.text, pg_catalog.now())::pg_catalog.date"

bool
budget_try_charge(const char *dataset, const char *capability, int64 n, const Permit *permit,
				  int64 *used_before)
{
	CatalogSession cs;
	Oid			argtypes[4] = {TEXTOID, TEXTOID, TEXTOID, INT8OID};
	Datum		args[4];
	bool		isnull;
	int64		used = 0;

	*used_before = 0;
	if (permit->max_keys < 0 || n == 0)
		return true;

	args[0] = CStringGetTextDatum(dataset);
	args[1] = CStringGetTextDatum(session_role_name());
	args[2] = CStringGetTextDatum(capability);
	args[3] = Int64GetDatum(n);

	catalog_open(&cs, false);

	/*
	 * Make sure today's row exists, then lock it: concurrent runs of the same
	 * peer queue here, so two of them cannot both slip under the limit.
	 */
	if (SPI_execute_with_args("INSERT INTO pgpriv.budget (dataset, peer_role, capability, day, keys) "
							  "VALUES ($1, $2, $3, " BUDGET_DAY ", 0) ON CONFLICT ON CONSTRAINT budget_pkey DO NOTHING",
							  3, argtypes, args, NULL, false, 0) != SPI_OK_INSERT ||
		SPI_execute_with_args("SELECT keys FROM pgpriv.budget WHERE dataset = $1 AND peer_role = $2 "
							  "AND capability = $3 AND day = " BUDGET_DAY " FOR UPDATE",
							  3, argtypes, args, NULL, false, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "could not read pgpriv.budget");
	used = DatumGetInt64(catalog_value(0, 1, &isnull));
	*used_before = used;
	if (used + n > permit->max_keys)
	{
		catalog_close(&cs);
		return false;
	}
	catalog_exec("UPDATE pgpriv.budget SET keys = keys + $4 WHERE dataset = $1 AND peer_role = $2 "
				 "AND capability = $3 AND day = " BUDGET_DAY,
				 4, argtypes, args, NULL, false, 0, SPI_OK_UPDATE, "update pgpriv.budget");
	catalog_close(&cs);
	return true;
}

void
budget_refusal(const char *dataset, const char *capability, int64 n, int64 used_before,
			   const Permit *permit)
{
	ereport(ERROR,
			(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
			 errmsg("budget exceeded: max_keys %lld per day for %s on dataset \"%s\"",
					(long long) permit->max_keys, capability, dataset),
			 errdetail("This request asks %lld keys; %lld were already asked today.",
					   (long long) n, (long long) used_before),
			 errhint("The owner can raise max_keys with pgpriv.permit().")));
}

void
oprf_key_for_peer(const char *dataset, const char *capability, uint8 sk[32], int32 *generation)
{
	CatalogSession cs;
	uint8		stored[32];
	char	   *info;
	oprf_status st;

	Oid			argtypes[2] = {TEXTOID, NAMEOID};
	Datum		args[2];
	bool		isnull;
	bytea	   *k;

	args[0] = CStringGetTextDatum(dataset);
	args[1] = DirectFunctionCall1(namein, CStringGetDatum(session_role_name()));

	catalog_open(&cs, false);
	/* First call makes the key, so its generation is read by a later statement. */
	catalog_exec_one("SELECT pgpriv._oprf_key($1, $2)",
					 2, argtypes, args, NULL, false, SPI_OK_SELECT, "read the OPRF key");
	k = DatumGetByteaPP(catalog_value(0, 1, &isnull));
	if (isnull || VARSIZE_ANY_EXHDR(k) != 32)
		elog(ERROR, "OPRF key of dataset \"%s\" is malformed", dataset);
	memcpy(stored, VARDATA_ANY(k), 32);
	/* the key's copy in SPI memory is wiped before SPI frees it */
	sodium_memzero(VARDATA_ANY(k), 32);

	/*
	 * Each capability gets its own key, derived from the stored one: an
	 * element evaluated under one capability's budget (psi) opens nothing
	 * served under another's (psi_fetch payloads, pir records).
	 */
	info = psprintf("pgpriv capability key v1: %s", capability);
	st = oprf_derive_key_pair(stored, sizeof(stored), (const uint8 *) info, strlen(info), sk, NULL);
	sodium_memzero(stored, sizeof(stored));
	if (st != OPRF_OK)
		elog(ERROR, "could not derive the OPRF key of dataset \"%s\" for %s", dataset, capability);
	if (generation)
	{
		catalog_exec_one("SELECT generation FROM pgpriv.oprf_key WHERE dataset = $1 AND peer_role = $2",
						 2, argtypes, args, NULL, false, SPI_OK_SELECT, "read the OPRF key generation");
		*generation = DatumGetInt32(catalog_value(0, 1, &isnull));
	}
	catalog_close(&cs);
}

void
audit_append(const char *side, const char *peer, const char *capability,
			 const char *dataset, int64 keys_in, int64 keys_out,
			 int64 bytes_in, int64 bytes_out, const char *outcome,
			 const char *detail)
{
	audit_append_run(side, peer, capability, dataset, keys_in, keys_out, bytes_in, bytes_out,
					 outcome, detail, NULL);
}

void
audit_append_run(const char *side, const char *peer, const char *capability,
				 const char *dataset, int64 keys_in, int64 keys_out,
				 int64 bytes_in, int64 bytes_out, const char *outcome,
				 const char *detail, const char *run_id)
{
	CatalogSession cs;
	Oid			argtypes[11] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT8OID, INT8OID,
	INT8OID, INT8OID, TEXTOID, TEXTOID, TEXTOID};
	Datum		args[11];
	char		nulls[12] = "           ";

	args[0] = CStringGetTextDatum(side);
	args[1] = peer ? CStringGetTextDatum(peer) : (Datum) 0;
	nulls[1] = peer ? ' ' : 'n';
	args[2] = CStringGetTextDatum(capability);
	args[3] = dataset ? CStringGetTextDatum(dataset) : (Datum) 0;
	nulls[3] = dataset ? ' ' : 'n';
	args[4] = Int64GetDatum(keys_in);
	nulls[4] = keys_in < 0 ? 'n' : ' ';
	args[5] = Int64GetDatum(keys_out);
	nulls[5] = keys_out < 0 ? 'n' : ' ';
	args[6] = Int64GetDatum(bytes_in);
	nulls[6] = bytes_in < 0 ? 'n' : ' ';
	args[7] = Int64GetDatum(bytes_out);
	nulls[7] = bytes_out < 0 ? 'n' : ' ';
	args[8] = CStringGetTextDatum(outcome);
	args[9] = detail ? CStringGetTextDatum(detail) : (Datum) 0;
	nulls[9] = detail ? ' ' : 'n';
	args[10] = run_id ? CStringGetTextDatum(run_id) : (Datum) 0;
	nulls[10] = run_id ? ' ' : 'n';

	catalog_open(&cs, false);
	catalog_exec("SELECT pgpriv._audit_append($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
				 11, argtypes, args, nulls, false, 1, SPI_OK_SELECT, "append to the audit log");
	catalog_close(&cs);
}
