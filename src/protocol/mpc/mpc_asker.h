/*
 * mpc_asker.h — what the asker's SQL functions of the two-party capabilities
 * (joint_score and mpc_selftest, capability mpc; joint_woe and joint_train,
 * capability train) do alike around their protocol: their arguments and
 * the reading of keys_query's result and of the options' column names.
 * The run's opening, admission with its terms and end are run/ask.h's, as
 * for every capability.  mpc_asker.c; each protocol's own messages stay in
 * its file.
 */
#ifndef PGPRIV_PROTOCOL_MPC_ASKER_H
#define PGPRIV_PROTOCOL_MPC_ASKER_H

#include "postgres.h"

#include "access/tupdesc.h"
#include "fmgr.h"
#include "nodes/pg_list.h"
#include "utils/jsonb.h"

#include "catalog/pgpriv_catalog.h"
#include "peer/call.h"

/*
 * The first four arguments (peer name, dataset, keys_query, and the
 * function's own fourth) must not be NULL: 22023 with needs as its message
 * ("joint_woe needs a peer, a dataset, a keys query and a label column").
 * Sets the first three.
 */
extern void mpc_asker_args(FunctionCallInfo fcinfo, const char *needs, char **server,
						   char **dataset, char **keys_query);

/*
 * keys_query_prepare's select list for the asker's rows: the key cast to
 * text first, then keys_query's own columns (column 2 is its first column
 * again, under the alias; its further columns from column 3 on).
 */
#define MPC_ASKER_SELECT "k.pgpriv_key::pg_catalog.text, k.*"

/*
 * The column of keys_query's result (fetched with the key first, then the
 * query's own columns from column 3 on) named label; 42703 with hint when
 * there is none.
 */
extern int	mpc_asker_label_column(TupleDesc td, const char *label, const char *hint);

/*
 * An option's value v as column names appended to *names: an array of
 * strings of 1 to NAMEDATALEN − 1 bytes (non-element tokens skipped).
 * False, at the first item that is none, if v is anything else.
 */
extern bool mpc_asker_name_array(JsonbValue *v, List **names);

#endif
