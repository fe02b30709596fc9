/*
 * projection.h — the caller's column definition list as the projection of
 * psi_fetch and pir: the key first, then permitted payload columns by name,
 * in any order or subset, converted to the declared types.
 */
#ifndef PGPRIV_PROTOCOL_PROJECTION_H
#define PGPRIV_PROTOCOL_PROJECTION_H

#include "fmgr.h"
#include "nodes/pg_list.h"

typedef struct Projection
{
	TupleDesc	want;			/* the declared columns */
	int		   *source;			/* per column: payload index, -1 for the key */
	FmgrInfo   *infuncs;
	Oid		   *ioparams;
	Datum	   *values;
	bool	   *nulls;
} Projection;

/*
 * Take the caller's column definition list and set up a materialised
 * result; 42601 with an example when there is none.
 */
extern void projection_begin(FunctionCallInfo fcinfo, const char *function, const char *example,
							 Projection *p);

/*
 * Map the declared columns to the permitted payload columns; 42501 naming a
 * column that is not permitted (checked before any key is spent).
 */
extern void projection_map(Projection *p, List *permitted, const char *capability,
						   const char *dataset, const char *server);

/* Emit one row from the key's text and the row's payload values (NULL = SQL NULL). */
extern void projection_emit(Projection *p, FunctionCallInfo fcinfo, const char *key, char **values);

#endif
