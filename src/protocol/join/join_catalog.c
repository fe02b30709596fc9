/*
 * join_catalog.c — statements on the join's catalog tables with text
 * parameters (see join_catalog.h).
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"

#include "protocol/join/join_catalog.h"

#define JOIN_CATALOG_MAX_TEXTS 8

void
join_catalog_texts(int n, const char *const *texts, Datum *args)
{
	int			i;

	for (i = 0; i < n; i++)
		args[i] = texts[i] ? CStringGetTextDatum(texts[i]) : (Datum) 0;
}

uint64
join_catalog_exec(CatalogSession *cs, bool as_owner, const char *sql, int n, const char *const *texts,
				  bool read_only, long limit, int expect, const char *what)
{
	Oid			types[JOIN_CATALOG_MAX_TEXTS];
	Datum		args[JOIN_CATALOG_MAX_TEXTS];
	char		nulls[JOIN_CATALOG_MAX_TEXTS];
	bool		any_null = false;
	int			i;

	if (n > JOIN_CATALOG_MAX_TEXTS)
		elog(ERROR, "%d catalog parameters, more than %d", n, JOIN_CATALOG_MAX_TEXTS);
	join_catalog_texts(n, texts, args);
	for (i = 0; i < n; i++)
	{
		types[i] = TEXTOID;
		nulls[i] = texts[i] ? ' ' : 'n';
		any_null |= texts[i] == NULL;
	}
	catalog_open(cs, as_owner);
	return catalog_exec(sql, n, types, args, any_null ? nulls : NULL, read_only, limit, expect, what);
}
