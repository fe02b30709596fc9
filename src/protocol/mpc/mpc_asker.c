/*
 * mpc_asker.c — the asker's side of a two-party run around its protocol,
 * as joint_score, mpc_selftest (joint_score.c), joint_woe (joint_woe.c)
 * and joint_train (joint_train.c) all do it: their common arguments, the
 * run's opening (run id, connection, progress, audit watch), its admission
 * by the owner's pgpriv.serve_admit with the run's terms, and its end
 * (pgpriv.serve_receipt's statements exchanged, the asker's audit row).
 * Also the reading of keys_query's result and of the options' column-name
 * arrays that joint_woe and joint_train share.  Declared in mpc_asker.h.
 *
 * Construction: plain sequencing of the catalog, peer and progress calls
 * those functions made each on their own, in the same order, so that one
 * copy says what every run of these capabilities does before and after its
 * messages.  No cryptography here; the security model is that of the
 * callers (docs/joint_score.md, docs/joint_woe.md, docs/joint_train.md):
 * the run id, the keys count and the terms are what the owner admits and
 * both receipts bind.
 */
#include "postgres.h"

#include "access/tupdesc.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "catalog/pgpriv_catalog.h"
#include "catalog/receipt.h"
#include "peer/call.h"
#include "protocol/mpc/mpc_asker.h"
#include "run/progress.h"

void
mpc_asker_args(FunctionCallInfo fcinfo, const char *needs, char **server, char **dataset,
			   char **keys_query)
{
	for (int a = 0; a < 4; a++)
		if (PG_ARGISNULL(a))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s", needs)));
	*server = NameStr(*PG_GETARG_NAME(0));
	*dataset = text_to_cstring(PG_GETARG_TEXT_PP(1));
	*keys_query = text_to_cstring(PG_GETARG_TEXT_PP(2));
}

int
mpc_asker_label_column(TupleDesc td, const char *label, const char *hint)
{
	int			label_col = 0;

	for (int c = 3; c <= td->natts; c++)
		if (!TupleDescAttr(td, c - 1)->attisdropped &&
			strcmp(NameStr(TupleDescAttr(td, c - 1)->attname), label) == 0)
			label_col = c;
	if (label_col == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("keys_query has no column \"%s\" after its key column", label),
				 errhint("%s", hint)));
	return label_col;
}

bool
mpc_asker_name_array(JsonbValue *v, List **names)
{
	JsonbIterator *it;
	JsonbValue	e;
	JsonbIteratorToken tok;

	if (v->type != jbvBinary || !JsonContainerIsArray(v->val.binary.data))
		return false;
	it = JsonbIteratorInit(v->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &e, true)) != WJB_DONE)
	{
		if (tok != WJB_ELEM)
			continue;
		if (e.type != jbvString || e.val.string.len == 0 || e.val.string.len >= NAMEDATALEN)
			return false;
		*names = lappend(*names, pnstrdup(e.val.string.val, e.val.string.len));
	}
	return true;
}

char *
mpc_asker_open(PeerCall *call, AuditWatch *watch, const char *function, const char *capability,
			   const char *server, const char *dataset, int64 keys)
{
	char	   *run = peer_new_run_id();

	peer_call_open(call, server);
	progress_begin(function, server, dataset, keys);
	if (watch != NULL)
	{
		audit_watch_begin(watch, capability, server, dataset, keys, call, 1);
		audit_watch_run(watch, run);
	}
	return run;
}

void
mpc_asker_admit(PeerCall *call, const char *dataset, const char *capability, const char *run,
				int64 keys, bytea *terms)
{
	char		nbuf[32];
	const char *params[4] = {dataset, capability, run, nbuf};

	snprintf(nbuf, sizeof(nbuf), "%lld", (long long) keys);
	PQclear(peer_call_msg(call, "CALL pgpriv.serve_admit($1, $2, $3, $4::pg_catalog.int8, $5)", 4,
						  params, terms));
}

void
mpc_asker_close(PeerCall *call, AuditWatch *watch, const char *server, const char *run,
				const char *capability, const char *dataset, int64 keys_in, int64 keys_out,
				const char *note)
{
	OwnerContext oc;

	receipt_asker_exchange(call, run, capability, dataset, keys_in, keys_out,
						   call->bytes_in, call->bytes_out);
	catalog_enter_owner(&oc);
	audit_append_run("asker", server, capability, dataset, keys_in, keys_out,
					 call->bytes_in, call->bytes_out, "ok", note, run);
	catalog_leave_owner(&oc);
	progress_end();
	if (watch != NULL)
		audit_watch_end(watch);
}
