/*
 * capability.h — the one list of pgpriv's capabilities and what differs
 * between them where runs are admitted and permits described: whether a run
 * must ask keys, the check of a run's terms before anything is charged, and
 * whether the capability returns typed columns (a column definition list).
 *
 * The SQL side (sql/pgpriv.sql: the permit table's CHECK and
 * pgpriv.permit()'s HINT) lists the same names: a new capability is added in
 * both, and in an upgrade script.
 */
#ifndef PGPRIV_RUN_CAPABILITY_H
#define PGPRIV_RUN_CAPABILITY_H

#include "postgres.h"

#include "catalog/pgpriv_catalog.h"

/* Raises the refusal (with its SQLSTATE) of a run's terms, or returns. */
typedef void (*capability_terms_check) (const char *dataset, const Permit *permit, bytea *terms);

typedef struct Capability
{
	const char *name;
	bool		asks_keys;		/* a run of no keys is refused (all but mpc, pir) */
	capability_terms_check check;	/* NULL: nothing to check at admission */
	bool		check_needs_terms;	/* check only when the asker sent terms */
	bool		typed_columns;	/* returns permitted columns under AS t(...) */
} Capability;

/* The capability of that name, or NULL. */
extern const Capability *capability_lookup(const char *name);

/* The i-th capability (0-based), or NULL past the last. */
extern const Capability *capability_nth(int i);

#endif
