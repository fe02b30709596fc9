/*
 * projection.c — the column definition list of psi_fetch and pir (see
 * projection.h).
 */
#include "postgres.h"

#include "funcapi.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "run/projection.h"

void
projection_begin(FunctionCallInfo fcinfo, const char *function, const char *example, Projection *p)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) || rsinfo->expectedDesc == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("a column definition list is required for %s", function),
				 errhint("For example: %s.", example)));
	p->want = CreateTupleDescCopy(rsinfo->expectedDesc);
	if (p->want->natts < 1)
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("the column definition list of %s needs the key column first", function)));
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
}

void
projection_map(Projection *p, List *permitted, const char *capability,
			   const char *dataset, const char *server)
{
	int			natts = p->want->natts;
	int			a;

	p->source = palloc(sizeof(int) * natts);
	p->infuncs = palloc(sizeof(FmgrInfo) * natts);
	p->ioparams = palloc(sizeof(Oid) * natts);
	p->values = palloc(sizeof(Datum) * natts);
	p->nulls = palloc(sizeof(bool) * natts);
	for (a = 0; a < natts; a++)
	{
		Form_pg_attribute att = TupleDescAttr(p->want, a);
		Oid			infunc;

		p->source[a] = -1;
		if (a > 0)
		{
			ListCell   *lc;
			int			c = 0;

			foreach(lc, permitted)
			{
				if (strcmp((char *) lfirst(lc), NameStr(att->attname)) == 0)
					p->source[a] = c;
				c++;
			}
			if (p->source[a] < 0)
			{
				StringInfoData names;

				initStringInfo(&names);
				foreach(lc, permitted)
					appendStringInfo(&names, "%s%s", names.len ? ", " : "", (char *) lfirst(lc));
				ereport(ERROR,
						(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
						 errmsg("column \"%s\" of dataset \"%s\" is not permitted for %s at peer \"%s\"",
								NameStr(att->attname), dataset, capability, server),
						 errdetail("Permitted columns: %s.", names.len ? names.data : "none")));
			}
		}
		getTypeInputInfo(att->atttypid, &infunc, &p->ioparams[a]);
		fmgr_info(infunc, &p->infuncs[a]);
	}
}

/* A value that does not convert to its declared type names its column. */
static void
projection_error_callback(void *arg)
{
	Form_pg_attribute att = (Form_pg_attribute) arg;

	errcontext("column \"%s\" (%s) of the column definition list",
			   NameStr(att->attname), format_type_with_typemod(att->atttypid, att->atttypmod));
}

void
projection_emit(Projection *p, FunctionCallInfo fcinfo, const char *key, char **values)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ErrorContextCallback errcb;
	int			a;

	errcb.callback = projection_error_callback;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;
	for (a = 0; a < p->want->natts; a++)
	{
		Form_pg_attribute att = TupleDescAttr(p->want, a);
		char	   *text = p->source[a] < 0 ? (char *) key : values[p->source[a]];

		errcb.arg = att;
		p->nulls[a] = text == NULL;
		p->values[a] = InputFunctionCall(&p->infuncs[a], text, p->ioparams[a], att->atttypmod);
	}
	error_context_stack = errcb.previous;
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, p->values, p->nulls);
}
