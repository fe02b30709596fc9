/*
 * catalog_spi.h — statements on pgpriv's own tables through SPI, the one
 * way the C code reads and writes its catalog.
 *
 * A catalog access opens a session (SPI connected; with as_owner, in the
 * extension owner's rights and pinned search_path of catalog_enter_owner),
 * runs statements whose result code must be the one expected (anything
 * else is an internal error naming what failed), reads the rows of the last
 * one, and closes.  An error inside leaves SPI and the owner's rights with
 * the (sub)transaction, as catalog_enter_owner's do.
 */
#ifndef PGPRIV_CATALOG_SPI_H
#define PGPRIV_CATALOG_SPI_H

#include "catalog/pgpriv_catalog.h"

typedef struct CatalogSession
{
	OwnerContext owner;
	bool		as_owner;
} CatalogSession;

extern void catalog_open(CatalogSession *cs, bool as_owner);
extern void catalog_close(CatalogSession *cs);

/*
 * One statement with nargs arguments (nulls as SPI's: NULL, or 'n' per
 * NULL argument); ERROR "could not <what>" unless SPI returns expect.
 * Returns SPI_processed.
 */
extern uint64 catalog_exec(const char *sql, int nargs, Oid *types, Datum *args, const char *nulls,
						   bool read_only, long limit, int expect, const char *what);

/* The same, and ERROR unless it returned exactly one row. */
extern void catalog_exec_one(const char *sql, int nargs, Oid *types, Datum *args, const char *nulls,
							 bool read_only, int expect, const char *what);

/* Column col (from 1) of row row of the last statement's result. */
extern Datum catalog_value(uint64 row, int col, bool *isnull);

#endif
