/*
 * change_check.h — the cheap exact change check of a published dataset
 * (docs/pir.md, "Fresh by default"): which tables a dataset's query reads,
 * whether triggers can see every change to them, and a stamp that is equal
 * in two snapshots only if the query's rows are.
 */
#ifndef PGPRIV_CATALOG_CHANGE_CHECK_H
#define PGPRIV_CATALOG_CHANGE_CHECK_H

#include "nodes/pg_list.h"

#define CHANGE_STAMP_HEX 33

typedef struct ChangeCheck
{
	bool		exact;			/* triggers see every change (so far) */
	char		reason[256];	/* why not, when !exact */
	List	   *relids;			/* tables read (Oid), inheritance members included */
	char		stamp[CHANGE_STAMP_HEX];	/* when exact, after change_check_stamp */
} ChangeCheck;

/*
 * Walk the analysed and rewritten queries of a dataset (views expanded,
 * row security applied): collect the tables and decide whether the check
 * can be exact.  Not exact: a non-built-in or non-immutable function,
 * CURRENT_* values, sequences, foreign, unlogged or temporary tables,
 * materialized views, system catalogs, row-level security, TABLESAMPLE.
 */
extern void change_check_walk(List *query_list, ChangeCheck *cc);

/*
 * For an exact walk: verify that every table has pgpriv's change trigger,
 * enabled ALWAYS and unaltered, and compute the stamp in the active
 * snapshot (the one the rows are read in).  Runs catalog SQL; the caller
 * acts as the extension owner.  A missing or altered trigger makes the
 * check not exact, with the reason.
 */
extern void change_check_stamp(ChangeCheck *cc, List *query_list);

/* Fold many change rows of an exact check's tables into their base counts. */
extern void change_check_compact(const ChangeCheck *cc);

#endif
