/*
 * catalog_spi.c — statements on pgpriv's own tables through SPI (see
 * catalog_spi.h).
 */
#include "postgres.h"

#include "executor/spi.h"

#include "catalog/catalog_spi.h"

void
catalog_open(CatalogSession *cs, bool as_owner)
{
	cs->as_owner = as_owner;
	if (as_owner)
		catalog_enter_owner(&cs->owner);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
}

void
catalog_close(CatalogSession *cs)
{
	SPI_finish();
	if (cs->as_owner)
		catalog_leave_owner(&cs->owner);
}

uint64
catalog_exec(const char *sql, int nargs, Oid *types, Datum *args, const char *nulls,
			 bool read_only, long limit, int expect, const char *what)
{
	int			rc = SPI_execute_with_args(sql, nargs, types, args, nulls, read_only, limit);

	if (rc != expect)
		elog(ERROR, "could not %s: %s", what, SPI_result_code_string(rc));
	return SPI_processed;
}

void
catalog_exec_one(const char *sql, int nargs, Oid *types, Datum *args, const char *nulls,
				 bool read_only, int expect, const char *what)
{
	if (catalog_exec(sql, nargs, types, args, nulls, read_only, 1, expect, what) != 1)
		elog(ERROR, "could not %s: %llu rows", what, (unsigned long long) SPI_processed);
}

Datum
catalog_value(uint64 row, int col, bool *isnull)
{
	return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, isnull);
}
