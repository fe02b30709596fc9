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

#include <sodium.h>

#include "pgpriv.h"
#include "crypto/parallel.h"
#include "protocol/join/psi_ot.h"

PG_MODULE_MAGIC;

int			pgpriv_crypto_threads = 0;
int			pgpriv_batch_size = 65536;
int			pgpriv_max_table_mb = 1024;
int			pgpriv_max_run_keys = 16777216;
int			pgpriv_pir_refresh_seconds = 0;
static bool pgpriv_audit_maintenance = false;

void		_PG_init(void);

static const struct config_enum_entry psi_protocol_options[] = {
	{"auto", PSI_PROTOCOL_AUTO, false},
	{"table", PSI_PROTOCOL_TABLE, false},
	{"ot", PSI_PROTOCOL_OT, false},
	{"kkrt", PSI_PROTOCOL_KKRT, false},
	{"rr22", PSI_PROTOCOL_RR22, false},
	{NULL, 0, false}
};

void
_PG_init(void)
{
	/* Picks libsodium's implementations; randomness then comes from getrandom(). */
	if (sodium_init() < 0)
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("libsodium could not be initialised")));

	/*
	 * Settings that size an owner's work for a peer are the owner's own:
	 * superuser-only, so a peer's login cannot raise them in its serving
	 * session.
	 */
	DefineCustomIntVariable("pgpriv.crypto_threads",
							"Threads used for batch cryptography (0 = one per online core).",
							"Worker threads only run pure crypto; the backend itself is one of them.",
							&pgpriv_crypto_threads,
							0, 0, 256,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("pgpriv.batch_size",
							"Elements per protocol message, sent or accepted.",
							"An owner refuses messages carrying more elements than this; "
							"no buffer is sized by a peer beyond it.",
							&pgpriv_batch_size,
							65536, 16, 4194304,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("pgpriv.max_table_mb",
							"Largest encrypted table an asker downloads from a peer, in megabytes.",
							NULL,
							&pgpriv_max_table_mb,
							1024, 1, 1048576,
							PGC_USERSET,
							GUC_UNIT_MB,
							NULL, NULL, NULL);

	DefineCustomIntVariable("pgpriv.max_run_keys",
							"Most keys one protocol run may carry, on either side.",
							"Bounds the memory a run holds; a peer announcing more is refused.",
							&pgpriv_max_run_keys,
							16777216, 1, INT_MAX,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("pgpriv.pir_refresh_seconds",
							"How long a PIR epoch of a dataset whose change check is 'reread' is served without comparing it with the dataset's rows again.",
							"Datasets checked by triggers are always current and never re-read while unchanged. "
							"For the others, 0 compares on every lookup (always current); more serves lookups without "
							"re-reading the dataset for that long, unless the dataset is republished, "
							"its key rotated or its permitted columns changed.",
							&pgpriv_pir_refresh_seconds,
							0, 0, 86400,
							PGC_SUSET,
							GUC_UNIT_S,
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

	/* The asker's choice: either protocol gives the same result (docs/psi.md). */
	DefineCustomEnumVariable("pgpriv.psi_protocol",
							 "How psi and psi_fetch run: the owner's OPRF table, an OT-extension protocol, or auto.",
							 "ot runs the best OT-extension protocol (rr22; kkrt forces KKRT16); auto runs ot "
							 "for large fresh sets and keeps the table for small sets or when a cached copy of "
							 "the owner's table is much larger than the set.",
							 &pgpriv_psi_protocol,
							 PSI_PROTOCOL_AUTO,
							 psi_protocol_options,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);

	/* The owner's choice: whether it serves psi and psi_fetch over ot at all. */
	DefineCustomBoolVariable("pgpriv.serve_ot",
							 "Whether this server serves psi and psi_fetch over the OT-extension OPRF.",
							 "off serves them over the OPRF table only, whose bound on a modified asker "
							 "is per key rather than per OKVS column (rr22) or cuckoo bin (kkrt) (docs/security.md).",
							 &pgpriv_serve_ot,
							 true,
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
