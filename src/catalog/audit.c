/*
 * audit.c — the switch the append-only audit log's triggers consult.
 *
 * The flag is a superuser-only GUC (pgpriv.audit_maintenance) defined in
 * pgpriv.c.  Reading it through this function guarantees the library is
 * loaded, so a placeholder set by an ordinary role before the library loaded
 * can never count as the owner's explicit maintenance.
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

PG_FUNCTION_INFO_V1(pgpriv_audit_maintenance_allowed);

Datum
pgpriv_audit_maintenance_allowed(PG_FUNCTION_ARGS)
{
	const char *value = GetConfigOption("pgpriv.audit_maintenance", false, false);

	PG_RETURN_BOOL(value != NULL && strcmp(value, "on") == 0 && superuser());
}
