/*
 * join_catalog.h — statements on the join's own catalog tables
 * (pgpriv.served_table, served_check and peer_table of the OPRF table,
 * served_pir of the PIR database) whose parameters are text: each side
 * looks its cached rows up by names (dataset, peer role, capability,
 * version, …).  A thin layer over catalog/catalog_spi.h, which it leaves
 * to do the access control and error reporting.
 */
#ifndef PGPRIV_PROTOCOL_JOIN_CATALOG_H
#define PGPRIV_PROTOCOL_JOIN_CATALOG_H

#include "catalog/catalog_spi.h"

/*
 * args[i] = texts[i] as a text datum, for i < n (a NULL text gives a null
 * datum, for which the caller's SPI nulls say 'n'): the leading text
 * parameters of a statement whose others the caller sets itself.
 */
extern void join_catalog_texts(int n, const char *const *texts, Datum *args);

/*
 * Opens cs (catalog_open, as the extension owner with as_owner) and runs
 * sql with $1 .. $n the texts (at most 8; a NULL one is SQL NULL) as
 * catalog_exec does; the caller reads the result and closes cs.  Returns
 * SPI_processed.
 */
extern uint64 join_catalog_exec(CatalogSession *cs, bool as_owner, const char *sql, int n,
								const char *const *texts, bool read_only, long limit, int expect,
								const char *what);

#endif
