/*
 * mpc_asker.c — what the askers of joint_score, mpc_selftest
 * (joint_score.c), joint_woe (joint_woe.c) and joint_train (joint_train.c)
 * do alike besides opening, admitting and closing the run (run/ask.c):
 * their common arguments, the reading of keys_query's result and of the
 * options' column-name arrays.  Declared in mpc_asker.h.  No cryptography
 * here; the security model is that of the callers (docs/joint_score.md,
 * docs/joint_woe.md, docs/joint_train.md).
 */
#include "postgres.h"

#include "access/tupdesc.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "catalog/pgpriv_catalog.h"
#include "peer/call.h"
#include "protocol/mpc/mpc_asker.h"

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

