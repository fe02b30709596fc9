/*
 * dataset.c — what the catalog needs from C: who is really calling, and what
 * columns a dataset's query yields when run as its publisher.
 *
 * publish() is SECURITY DEFINER so that it can write catalog tables no one
 * else may touch; inside it current_user is the extension owner.  The role
 * that owns the dataset is the *outer* role (the login role, or the one set
 * by SET ROLE), which SECURITY DEFINER does not change.  The dataset query is
 * always run as that role, never as the extension owner.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"

#include "catalog/dataset.h"

PG_FUNCTION_INFO_V1(pgpriv_outer_role);

/*
 * The one statement of a query text given to pgpriv (a dataset, a consent
 * query, keys_query): a SELECT, not SELECT INTO, or 42809 naming what.
 * Returns the statement's own text, without a trailing semicolon.
 */
char *
single_select_text(const char *query, const char *what, const char *hint)
{
	List	   *parsed = pg_parse_query(query);
	RawStmt    *raw = list_length(parsed) == 1 ? linitial_node(RawStmt, parsed) : NULL;

	if (raw == NULL || !IsA(raw->stmt, SelectStmt) ||
		((SelectStmt *) raw->stmt)->intoClause != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("%s must be a single SELECT", what),
				 errhint("%s", hint)));
	if (raw->stmt_len > 0)
		return pnstrdup(query + raw->stmt_location, raw->stmt_len);
	return pstrdup(query + raw->stmt_location);
}
PG_FUNCTION_INFO_V1(pgpriv_describe_query);

/* pgpriv._outer_role() → name of the role the session acts as outside any SECURITY DEFINER function. */
Datum
pgpriv_outer_role(PG_FUNCTION_ARGS)
{
	char	   *rolname = GetUserNameFromId(GetOuterUserId(), false);

	PG_RETURN_DATUM(DirectFunctionCall1(namein, CStringGetDatum(rolname)));
}

void
dataset_enter_role(const char *role, const char *search_path, DatasetRoleContext *ctx)
{
	Oid			roleid = get_role_oid(role, false);
	char	   *path;

	GetUserIdAndSecContext(&ctx->save_userid, &ctx->save_sec_context);

	/*
	 * Restricted operation: the query cannot SET ROLE, create temp objects or
	 * otherwise escape the publisher's rights (as REFRESH MATERIALIZED VIEW
	 * runs a view's query).
	 */
	SetUserIdAndSecContext(roleid,
						   ctx->save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);

	/*
	 * The publisher's search path, with pg_temp forced last so that the
	 * serving session (a peer's login) cannot shadow the publisher's tables
	 * with temporary ones.
	 */
	ctx->guc_nestlevel = NewGUCNestLevel();
	path = psprintf("%s, pg_temp", (search_path && *search_path) ? search_path : "pg_catalog");
	(void) set_config_option("search_path", path,
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
}

void
dataset_leave_role(DatasetRoleContext *ctx)
{
	AtEOXact_GUC(true, ctx->guc_nestlevel);
	SetUserIdAndSecContext(ctx->save_userid, ctx->save_sec_context);
}

/*
 * pgpriv._describe_query(query text, as_role name, search_path text)
 *   → TABLE(column_name name, type_name text)
 *
 * Plans and runs the query with LIMIT 0 as as_role, read-only.  Wrapping it
 * as a subquery keeps it to a single SELECT: SPI_prepare refuses several
 * statements, and a data-modifying WITH is not allowed below top level.
 */
Datum
pgpriv_describe_query(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *query = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *role = NameStr(*PG_GETARG_NAME(1));
	char	   *search_path = PG_ARGISNULL(2) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(2));
	DatasetRoleContext ctx;
	SPIPlanPtr	plan;
	TupleDesc	desc;
	int			i;

	InitMaterializedSRF(fcinfo, 0);

	if (strlen(query) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dataset query is empty")));

	/*
	 * A dataset is one plain SELECT.  Say so clearly here rather than let the
	 * wrapped query below fail with a confusing syntax error.
	 */
	(void) single_select_text(query, "dataset query",
							   "Publish a query such as SELECT key, col1, col2 FROM schema.table.");

	dataset_enter_role(role, search_path, &ctx);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	plan = SPI_prepare(psprintf("SELECT * FROM (%s\n) AS pgpriv_dataset LIMIT 0", query), 0, NULL);
	if (plan == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dataset query could not be prepared: %s",
						SPI_result_code_string(SPI_result)),
				 errhint("The query must be a single SELECT.")));

	if (SPI_execute_plan(plan, NULL, NULL, true, 0) != SPI_OK_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dataset query must be a single SELECT")));

	desc = SPI_tuptable->tupdesc;
	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		Datum		values[2];
		bool		nulls[2] = {false, false};

		if (att->attisdropped)
			continue;
		values[0] = DirectFunctionCall1(namein, CStringGetDatum(NameStr(att->attname)));
		values[1] = CStringGetTextDatum(format_type_be(att->atttypid));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}

	SPI_finish();
	dataset_leave_role(&ctx);

	return (Datum) 0;
}

/*
 * pgpriv._check_consent_query(query text, as_role name, search_path text,
 *                             peer_role name, capability text)
 *
 * A permit's authorised_by query, checked when the permit is made rather
 * than at a peer's first run: one SELECT whose first column is the key,
 * planned and run (reading no row) as the dataset's publisher with its
 * search_path, with $1 (name, the peer role) and $2 (text, the capability).
 */
PG_FUNCTION_INFO_V1(pgpriv_check_consent_query);

Datum
pgpriv_check_consent_query(PG_FUNCTION_ARGS)
{
	char	   *query;
	char	   *role;
	char	   *search_path;
	Oid			argtypes[2] = {NAMEOID, TEXTOID};
	Datum		args[2];
	SPIPlanPtr	plan;
	DatasetRoleContext ctx;
	char	   *stmt;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(3) || PG_ARGISNULL(4))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("authorised_by, the publisher, the peer role and the capability must not be NULL")));
	query = text_to_cstring(PG_GETARG_TEXT_PP(0));
	role = NameStr(*PG_GETARG_NAME(1));
	search_path = PG_ARGISNULL(2) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(2));
	stmt = single_select_text(query, "authorised_by",
							  "For example: SELECT credit_code FROM consent WHERE bank_role = $1 AND valid_until > now()");

	dataset_enter_role(role, search_path, &ctx);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	plan = SPI_prepare(psprintf("SELECT c.pgpriv_consent::pg_catalog.text FROM (%s\n) AS c(pgpriv_consent) LIMIT 0",
								stmt), 2, argtypes);
	if (plan == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("authorised_by could not be prepared: %s", SPI_result_code_string(SPI_result))));
	/* Run it (no row is read): the publisher's privileges are checked now. */
	args[0] = PG_GETARG_DATUM(3);
	args[1] = PG_GETARG_DATUM(4);
	if (SPI_execute_plan(plan, args, NULL, true, 0) != SPI_OK_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("authorised_by must be a single SELECT")));
	SPI_finish();
	dataset_leave_role(&ctx);
	PG_RETURN_TEXT_P(cstring_to_text(stmt));
}
