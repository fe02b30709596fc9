/*
 * pgpriv.c — module entry point: settings (GUCs).
 *
 * Everything else lives in one file per concern: crypto/ (pure primitives),
 * catalog/ (identity, datasets, audit helpers), peer/ (foreign-data wrapper),
 * primitives.c (the SQL face of the OPRF).
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/guc.h"

#include "pgpriv.h"
#include "crypto/parallel.h"

PG_MODULE_MAGIC;

int			pgpriv_crypto_threads = 0;
static bool pgpriv_audit_maintenance = false;

void		_PG_init(void);

void
_PG_init(void)
{
	DefineCustomIntVariable("pgpriv.crypto_threads",
							"Threads used for batch cryptography (0 = one per online core).",
							"Worker threads only run pure crypto; the backend itself is one of them.",
							&pgpriv_crypto_threads,
							0, 0, 256,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);

	/*
	 * Superuser-only switch that the audit table's triggers consult; it is
	 * the "explicit maintenance" that lets the owner prune or repair the
	 * append-only audit log.  Only pgpriv.audit_prune() sets it, locally.
	 */
	DefineCustomBoolVariable("pgpriv.audit_maintenance",
							 "Allows changes to pgpriv's append-only audit log (superuser only).",
							 NULL,
							 &pgpriv_audit_maintenance,
							 false,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	MarkGUCPrefixReserved("pgpriv");
}

int
pgpriv_threads_for_batch(void)
{
	return pgpriv_crypto_threads > 0 ? pgpriv_crypto_threads : crypto_cpu_count();
}
