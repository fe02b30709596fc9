/*
 * change_check.c — the cheap exact change check of a published dataset (see
 * change_check.h and docs/pir.md, "Fresh by default").
 *
 * Publish installs a statement-level AFTER INSERT/UPDATE/DELETE/TRUNCATE
 * trigger (pgpriv_change, enabled ALWAYS) on every table the dataset's query
 * and its permits' consent queries read; it appends one row to
 * pgpriv.dataset_change in the writer's own transaction.  The owner reads
 * the rows in a snapshot and computes, in that same snapshot, a stamp over
 *
 *   - the analysed, rewritten query tree (views expanded, row security
 *     applied, constants folded): a view redefined, a column renamed or
 *     retyped gives another tree;
 *   - per table: its oid, relfilenode (a rewrite by ALTER TABLE changes it
 *     without firing a trigger) and the xmin of its trigger's pg_trigger row
 *     (a DISABLE and re-ENABLE of the trigger makes a new row version);
 *   - the number of change rows of those tables;
 *   - the settings the text output of column values depends on.
 *
 * A snapshot taken later sees every transaction an earlier one saw, and the
 * change rows are only ever added (compaction moves them into a per-table
 * base count in one transaction), so equal counts in two snapshots mean no
 * change to the tables committed between them; with the rest equal, the
 * query returns the same rows.  Whatever triggers cannot see (a function
 * that is not built-in and immutable, CURRENT_TIMESTAMP, a foreign table,
 * ...) makes the check not exact, and the caller re-reads the rows as
 * before.
 */
#include "postgres.h"

#include <sodium.h>

#include "access/htup_details.h"
#include "access/transam.h"
#include "catalog/catalog.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/plancache.h"
#include "utils/regproc.h"
#include "utils/syscache.h"

#include "catalog/change_check.h"
#include "catalog/dataset.h"

PG_FUNCTION_INFO_V1(pgpriv_change_tables);

/* Settings the ::text of a built-in type's value depends on. */
static const char *const output_settings[] = {
	"DateStyle", "IntervalStyle", "TimeZone", "extra_float_digits",
	"bytea_output", "lc_monetary", "xmloption", "standard_conforming_strings"
};

typedef struct WalkContext
{
	ChangeCheck *cc;
	Oid			bad_funcid;
} WalkContext;

static void
not_exact(ChangeCheck *cc, char *reason)
{
	if (cc->exact)
	{
		cc->exact = false;
		strlcpy(cc->reason, reason, sizeof(cc->reason));
	}
}

/* check_functions_in_node's checker: true for a function triggers cannot follow. */
static bool
function_not_followed(Oid funcid, void *context)
{
	WalkContext *w = context;

	if (funcid >= FirstNormalObjectId || func_volatile(funcid) != PROVOLATILE_IMMUTABLE)
	{
		w->bad_funcid = funcid;
		return true;
	}
	return false;
}

static void
check_function(WalkContext *w, Oid funcid, const char *what)
{
	if (OidIsValid(funcid) && function_not_followed(funcid, w))
		not_exact(w->cc, psprintf("%s %s is not a built-in immutable function", what,
								  format_procedure(funcid)));
}

static void
check_operator(WalkContext *w, Oid opno)
{
	if (OidIsValid(opno))
		check_function(w, get_opcode(opno), "operator function");
}

static void
add_relation(WalkContext *w, RangeTblEntry *rte)
{
	ChangeCheck *cc = w->cc;
	List	   *members;
	ListCell   *lc;
	char	   *name = get_rel_name(rte->relid);

	if (name == NULL)
	{
		not_exact(cc, pstrdup("a relation of the query no longer exists"));
		return;
	}
	switch (rte->relkind)
	{
		case RELKIND_VIEW:
			return;				/* expanded in the tree; its tables are walked */
		case RELKIND_RELATION:
		case RELKIND_PARTITIONED_TABLE:
			break;
		case RELKIND_MATVIEW:
			not_exact(cc, psprintf("materialized view %s (a REFRESH fires no trigger)", name));
			return;
		case RELKIND_FOREIGN_TABLE:
			not_exact(cc, psprintf("foreign table %s", name));
			return;
		case RELKIND_SEQUENCE:
			not_exact(cc, psprintf("sequence %s", name));
			return;
		default:
			not_exact(cc, psprintf("relation %s of kind '%c'", name, rte->relkind));
			return;
	}
	if (rte->tablesample)
	{
		not_exact(cc, psprintf("TABLESAMPLE on %s", name));
		return;
	}
	if (IsCatalogRelationOid(rte->relid) || IsCatalogNamespace(get_rel_namespace(rte->relid)))
	{
		not_exact(cc, psprintf("system catalog %s", name));
		return;
	}

	members = rte->inh ? find_all_inheritors(rte->relid, AccessShareLock, NULL) : list_make1_oid(rte->relid);
	foreach(lc, members)
	{
		Oid			relid = lfirst_oid(lc);
		HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
		Form_pg_class c;

		if (!HeapTupleIsValid(tup))
		{
			not_exact(cc, psprintf("a member of %s no longer exists", name));
			return;
		}
		c = (Form_pg_class) GETSTRUCT(tup);
		if (c->relkind != RELKIND_RELATION && c->relkind != RELKIND_PARTITIONED_TABLE)
			not_exact(cc, psprintf("%s is not an ordinary table (kind '%c')", NameStr(c->relname), c->relkind));
		else if (c->relpersistence != RELPERSISTENCE_PERMANENT)
			not_exact(cc, psprintf("%s is %s", NameStr(c->relname),
								   c->relpersistence == RELPERSISTENCE_UNLOGGED ?
								   "unlogged (a crash empties it without a trigger)" : "temporary"));
		else if (c->relrowsecurity)
			not_exact(cc, psprintf("%s has row-level security (a policy change fires no trigger)",
								   NameStr(c->relname)));
		ReleaseSysCache(tup);
		if (!cc->exact)
			return;
		cc->relids = list_append_unique_oid(cc->relids, relid);
	}
}

static bool
change_walker(Node *node, WalkContext *w)
{
	if (node == NULL || !w->cc->exact)
		return false;
	if (IsA(node, Query))
		return query_tree_walker((Query *) node, change_walker, w,
								 QTW_EXAMINE_RTES_BEFORE | QTW_EXAMINE_SORTGROUP);
	if (IsA(node, RangeTblEntry))
	{
		RangeTblEntry *rte = (RangeTblEntry *) node;

		if (rte->rtekind == RTE_RELATION)
			add_relation(w, rte);
		else if (rte->rtekind == RTE_TABLEFUNC)
			not_exact(w->cc, pstrdup("a table function (XMLTABLE)"));
		else if (rte->rtekind == RTE_NAMEDTUPLESTORE)
			not_exact(w->cc, pstrdup("a transition table"));
		return false;			/* range_table_walker walks its contents */
	}
	if (IsA(node, SortGroupClause))
	{
		SortGroupClause *s = (SortGroupClause *) node;

		check_operator(w, s->eqop);
		check_operator(w, s->sortop);
		return false;
	}
	if (IsA(node, WindowClause))
	{
		WindowClause *wc = (WindowClause *) node;

		check_function(w, wc->startInRangeFunc, "window frame function");
		check_function(w, wc->endInRangeFunc, "window frame function");
		return change_walker(wc->startOffset, w) || change_walker(wc->endOffset, w) ||
			change_walker((Node *) wc->partitionClause, w) ||
			change_walker((Node *) wc->orderClause, w);
	}
	if (IsA(node, CoerceViaIO))
	{
		CoerceViaIO *io = (CoerceViaIO *) node;
		Oid			out;
		Oid			in;
		Oid			ioparam;
		bool		varlena;

		/*
		 * A value's text: built-in output functions depend on nothing but
		 * the settings in the stamp (DateStyle, TimeZone, ...).  Input
		 * functions can read the clock ('now'::timestamptz): only immutable
		 * ones.
		 */
		getTypeOutputInfo(exprType((Node *) io->arg), &out, &varlena);
		getTypeInputInfo(io->resulttype, &in, &ioparam);
		if (out >= FirstNormalObjectId)
			not_exact(w->cc, psprintf("output function %s is not built-in", format_procedure(out)));
		else
			check_function(w, in, "input function");
		return expression_tree_walker(node, change_walker, w);
	}
	if (IsA(node, SQLValueFunction))
	{
		not_exact(w->cc, pstrdup("CURRENT_DATE, CURRENT_USER or a similar value (not a table's data)"));
		return false;
	}
	if (IsA(node, NextValueExpr))
	{
		not_exact(w->cc, pstrdup("a sequence"));
		return false;
	}
	if (IsA(node, CoerceToDomain))
	{
		not_exact(w->cc, pstrdup("a domain (its constraints can change without a trigger)"));
		return false;
	}
	if (IsA(node, XmlExpr))
	{
		not_exact(w->cc, pstrdup("an XML expression"));
		return false;
	}
	if (check_functions_in_node(node, function_not_followed, w))
	{
		not_exact(w->cc, psprintf("function %s is not a built-in immutable function",
								  format_procedure(w->bad_funcid)));
		return false;
	}
	return expression_tree_walker(node, change_walker, w);
}

void
change_check_walk(List *query_list, ChangeCheck *cc)
{
	WalkContext w;
	ListCell   *lc;

	cc->exact = true;
	cc->reason[0] = '\0';
	cc->relids = NIL;
	cc->stamp[0] = '\0';
	w.cc = cc;
	w.bad_funcid = InvalidOid;
	foreach(lc, query_list)
		(void) change_walker((Node *) lfirst(lc), &w);
	if (cc->exact && cc->relids == NIL)
		not_exact(cc, pstrdup("the query reads no table"));
}

static int
compare_oid(const ListCell *a, const ListCell *b)
{
	Oid			x = lfirst_oid(a);
	Oid			y = lfirst_oid(b);

	return (x > y) - (x < y);
}

void
change_check_stamp(ChangeCheck *cc, List *query_list)
{
	Datum	   *elems;
	ArrayType  *relids;
	Oid			types[1] = {OIDARRAYOID};
	Datum		args[1];
	crypto_generichash_state st;
	uint8		digest[16];
	char	   *tree;
	int			n = list_length(cc->relids);
	int			i = 0;
	uint64		r;
	ListCell   *lc;

	if (!cc->exact)
		return;
	list_sort(cc->relids, compare_oid);
	elems = palloc(sizeof(Datum) * n);
	foreach(lc, cc->relids)
		elems[i++] = ObjectIdGetDatum(lfirst_oid(lc));
	relids = construct_array(elems, n, OIDOID, sizeof(Oid), true, TYPALIGN_INT);
	args[0] = PointerGetDatum(relids);

	crypto_generichash_init(&st, NULL, 0, sizeof(digest));
	crypto_generichash_update(&st, (const uint8 *) "pgpriv-change-v1", sizeof("pgpriv-change-v1"));
	tree = nodeToString(query_list);
	crypto_generichash_update(&st, (const uint8 *) tree, strlen(tree) + 1);
	for (i = 0; i < (int) lengthof(output_settings); i++)
	{
		const char *v = GetConfigOption(output_settings[i], true, false);

		crypto_generichash_update(&st, (const uint8 *) (v ? v : ""), strlen(v ? v : "") + 1);
	}

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	/*
	 * Read-only: in the caller's snapshot, the one its rows are read in.
	 * The trigger must be pgpriv's, fire after every statement of each of
	 * the four kinds on every column, with no condition, in every session
	 * (ALWAYS, so session_replication_role cannot silence it).
	 */
	if (SPI_execute_with_args("SELECT c.oid, c.relfilenode, t.xmin::pg_catalog.text, "
							  "       (t.tgfoid OPERATOR(pg_catalog.=) 'pgpriv._dataset_changed()'::pg_catalog.regprocedure "
							  "        AND t.tgenabled OPERATOR(pg_catalog.=) 'A' "
							  "        AND t.tgtype OPERATOR(pg_catalog.=) 60 "
							  "        AND t.tgqual IS NULL "
							  "        AND pg_catalog.cardinality(t.tgattr::pg_catalog.int2[]) OPERATOR(pg_catalog.=) 0), "
							  "       c.relname "
							  "  FROM pg_catalog.pg_class AS c "
							  "  LEFT JOIN pg_catalog.pg_trigger AS t "
							  "    ON t.tgrelid OPERATOR(pg_catalog.=) c.oid AND t.tgname OPERATOR(pg_catalog.=) 'pgpriv_change' "
							  " WHERE c.oid OPERATOR(pg_catalog.=) ANY ($1) ORDER BY c.oid",
							  1, types, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the change triggers");
	if (SPI_processed != (uint64) n)
		not_exact(cc, pstrdup("a table of the query no longer exists"));
	for (r = 0; r < SPI_processed && cc->exact; r++)
	{
		HeapTuple	t = SPI_tuptable->vals[r];
		TupleDesc	d = SPI_tuptable->tupdesc;
		bool		isnull;
		bool		ok = DatumGetBool(SPI_getbinval(t, d, 4, &isnull));
		char	   *s;

		if (isnull || !ok)
		{
			not_exact(cc, psprintf("table %s has no enabled pgpriv_change trigger (republish to restore it)",
								   SPI_getvalue(t, d, 5)));
			break;
		}
		s = psprintf("%s|%s|%s|", SPI_getvalue(t, d, 1), SPI_getvalue(t, d, 2), SPI_getvalue(t, d, 3));
		crypto_generichash_update(&st, (const uint8 *) s, strlen(s));
	}
	if (cc->exact)
	{
		char	   *count;

		if (SPI_execute_with_args("SELECT (SELECT pg_catalog.count(*) FROM pgpriv.dataset_change AS x "
								  "         WHERE x.relid OPERATOR(pg_catalog.=) ANY ($1)) "
								  "     OPERATOR(pg_catalog.+) "
								  "       (SELECT coalesce(pg_catalog.sum(b.changes), 0) FROM pgpriv.dataset_change_base AS b "
								  "         WHERE b.relid OPERATOR(pg_catalog.=) ANY ($1))",
								  1, types, args, NULL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "could not count the changes");
		count = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		crypto_generichash_update(&st, (const uint8 *) count, strlen(count) + 1);
		crypto_generichash_final(&st, digest, sizeof(digest));
		sodium_bin2hex(cc->stamp, sizeof(cc->stamp), digest, sizeof(digest));
	}
	SPI_finish();
}

/*
 * Fold the change rows of the check's tables into their base counts when
 * there are more than CHANGE_COMPACT_ROWS of them, so that a table written
 * by many statements does not make every check count more rows.  One
 * transaction deletes the rows it sees and adds exactly as many to the
 * base: in any snapshot either both or neither are visible, and the total
 * the stamp uses is unchanged.  Two owners folding at once cannot count a
 * row twice: the second DELETE skips the rows the first deleted.  Runs as
 * the extension owner (from a serving function).
 */
#define CHANGE_COMPACT_ROWS 1000

void
change_check_compact(const ChangeCheck *cc)
{
	Datum	   *elems;
	Oid			types[1] = {OIDARRAYOID};
	Datum		args[1];
	int			i = 0;
	ListCell   *lc;
	bool		isnull;
	int64		rows;

	if (!cc->exact || cc->relids == NIL)
		return;
	elems = palloc(sizeof(Datum) * list_length(cc->relids));
	foreach(lc, cc->relids)
		elems[i++] = ObjectIdGetDatum(lfirst_oid(lc));
	args[0] = PointerGetDatum(construct_array(elems, i, OIDOID, sizeof(Oid), true, TYPALIGN_INT));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("SELECT pg_catalog.count(*) FROM pgpriv.dataset_change AS x "
							  " WHERE x.relid OPERATOR(pg_catalog.=) ANY ($1)",
							  1, types, args, NULL, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not count the changes");
	rows = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (rows > CHANGE_COMPACT_ROWS &&
		SPI_execute_with_args("WITH moved AS (DELETE FROM pgpriv.dataset_change AS x "
							  "                WHERE x.relid OPERATOR(pg_catalog.=) ANY ($1) RETURNING x.relid) "
							  "INSERT INTO pgpriv.dataset_change_base AS b (relid, changes) "
							  "SELECT m.relid, pg_catalog.count(*) FROM moved AS m GROUP BY m.relid "
							  "ON CONFLICT (relid) DO UPDATE SET changes = b.changes OPERATOR(pg_catalog.+) EXCLUDED.changes",
							  1, types, args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not fold the change rows");
	SPI_finish();
}

/*
 * pgpriv._change_tables(query text, as_role name, search_path text, consent boolean)
 *   → (relids oid[], reason text)
 *
 * The tables a dataset query (or, with consent, a permit's authorised_by
 * query, $1 name and $2 text) reads, analysed as as_role with its
 * search_path, and NULL or why triggers cannot see every change.
 */
Datum
pgpriv_change_tables(PG_FUNCTION_ARGS)
{
	char	   *query;
	char	   *role;
	char	   *search_path;
	bool		consent;
	Oid			argtypes[2] = {NAMEOID, TEXTOID};
	DatasetRoleContext ctx;
	SPIPlanPtr	plan;
	CachedPlanSource *ps;
	ChangeCheck cc;
	TupleDesc	tupdesc;
	Datum		values[2];
	bool		nulls[2] = {false, false};
	Datum	   *elems;
	int			i = 0;
	ListCell   *lc;
	char	   *sql;
	MemoryContext caller = CurrentMemoryContext;
	MemoryContext spi;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the query, the role and consent must not be NULL")));
	query = text_to_cstring(PG_GETARG_TEXT_PP(0));
	role = NameStr(*PG_GETARG_NAME(1));
	search_path = PG_ARGISNULL(2) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(2));
	consent = PG_GETARG_BOOL(3);
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "_change_tables must return a composite type");

	query = single_select_text(query, consent ? "authorised_by" : "dataset query", "");
	sql = consent ? psprintf("SELECT c.x::pg_catalog.text FROM (%s\n) AS c(x)", query)
		: psprintf("SELECT * FROM (%s\n) AS d", query);

	dataset_enter_role(role, search_path, &ctx);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	plan = SPI_prepare(sql, consent ? 2 : 0, argtypes);
	if (plan == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("query could not be prepared: %s", SPI_result_code_string(SPI_result))));
	ps = linitial(SPI_plan_get_plan_sources(plan));
	spi = MemoryContextSwitchTo(caller);
	change_check_walk(ps->query_list, &cc);
	MemoryContextSwitchTo(spi);
	SPI_finish();
	dataset_leave_role(&ctx);

	elems = palloc(sizeof(Datum) * Max(list_length(cc.relids), 1));
	foreach(lc, cc.relids)
		elems[i++] = ObjectIdGetDatum(lfirst_oid(lc));
	values[0] = PointerGetDatum(construct_array(elems, i, OIDOID, sizeof(Oid), true, TYPALIGN_INT));
	if (cc.exact)
		nulls[1] = true;
	else
		values[1] = CStringGetTextDatum(cc.reason);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}
